#include "deploy/supervisor.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/parse.h"
#include "core/timeutil.h"
#include "core/banned.h"

#define TAIL_LINES  50
#define MAX_LINE    8192
#define MAX_CRASHES 64
#define POLL_MS     50
#define MAX_TREE    1024

struct stream {
    int fd;
    struct buf partial;
    const char *name;
};

struct sup_proc {
    struct sup_proc *next;
    struct supervisor *s;
    char *env_id, *release_dir, *data_dir;
    char **argv, **env;
    uint64_t version;
    uint16_t port;
    struct runlog *log;
    char cgroup_name[96];

    /* Under s->mu. */
    enum sup_state state;
    pid_t pid;
    bool spawn_requested, spawn_done, restart, stopping;
    int spawn_rc;
    struct be_diag spawn_diag;
    struct stream out, err;
    unsigned restarts, consecutive;
    int exit_code, term_signal;
    bool oom_killed;
    int64_t started_at;
    uint64_t restart_at_ns;
    int64_t crashes[MAX_CRASHES]; /* ring of crash times (unix seconds) */
    unsigned ncrash;
    char *tail[TAIL_LINES];
    unsigned tail_next;
};

struct supervisor {
    struct supervisor_options opts;
    char *bwrap, *cgroup_dir;
    pthread_mutex_t mu;
    pthread_cond_t changed;
    pthread_t thread;
    int wake[2];
    bool quit;
    struct sup_proc *procs;
    unsigned cgroup_seq;
};

const char *sup_state_name(enum sup_state st)
{
    static const char *const names[] = {"RUNNING", "BACKOFF", "CRASHLOOP", "EXITED", "STOPPED"};
    return names[st];
}

static char **copy_strv(const char *const *v)
{
    size_t n = 0;
    while (v && v[n])
        n++;
    char **c = xcalloc(n + 1, sizeof(*c));
    for (size_t i = 0; i < n; i++)
        c[i] = xstrdup(v[i]);
    return c;
}

static void free_strv(char **v)
{
    for (size_t i = 0; v && v[i]; i++)
        free(v[i]);
    free(v);
}

static void wake(struct supervisor *s)
{
    char c = 'w';
    if (write(s->wake[1], &c, 1) < 0 && errno != EAGAIN)
        log_warn("deploy: cannot wake the supervisor: %s", strerror(errno));
}

/* ---- output ---- */

static void tail_add(struct sup_proc *p, const char *line, size_t len)
{
    free(p->tail[p->tail_next]);
    p->tail[p->tail_next] = xstrndup(line, len);
    p->tail_next = (p->tail_next + 1) % TAIL_LINES;
}

static void emit(struct sup_proc *p, const char *stream, const char *line, size_t len)
{
    tail_add(p, line, len);
    if (p->log)
        runlog_append(p->log, stream, (int)p->pid, p->version, line, len);
}

/* Reads what the pipe has and emits whole lines; at EOF (or when
 * final) emits the rest and closes. Under mu. */
static void drain(struct sup_proc *p, struct stream *st, bool final)
{
    char chunk[4096];
    while (st->fd >= 0) {
        ssize_t n = read(st->fd, chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR)
            continue;
        if (n > 0) {
            buf_add(&st->partial, chunk, (size_t)n);
            size_t start = 0;
            for (size_t i = 0; i < st->partial.len; i++) {
                if (st->partial.data[i] == '\n' || i - start >= MAX_LINE) {
                    emit(p, st->name, st->partial.data + start, i - start);
                    start = i + 1;
                }
            }
            memmove(st->partial.data, st->partial.data + start, st->partial.len - start);
            st->partial.len -= start;
            continue;
        }
        if (n == 0 || final || errno != EAGAIN) {
            if (st->partial.len)
                emit(p, st->name, st->partial.data, st->partial.len);
            buf_reset(&st->partial);
            close(st->fd);
            st->fd = -1;
        }
        break;
    }
}

/* ---- process tree ---- */

/* Sends sig to every descendant of root (found through /proc), deepest
 * last-found first. The bwrap process itself is left alone: killing it
 * would SIGKILL the app before it could shut down. */
static void signal_descendants(pid_t root, int sig)
{
    pid_t pids[MAX_TREE], ppids[MAX_TREE];
    size_t n = 0;
    DIR *d = opendir("/proc");
    struct dirent *e;
    while (d && (e = readdir(d)) && n < MAX_TREE) {
        uint64_t pid;
        if (parse_u64(e->d_name, INT32_MAX, &pid))
            continue;
        char path[64], text[512];
        snprintf(path, sizeof(path), "/proc/%llu/stat", (unsigned long long)pid);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            continue;
        ssize_t r = read(fd, text, sizeof(text) - 1);
        close(fd);
        if (r <= 0)
            continue;
        text[r] = '\0';
        /* "pid (comm) S ppid ...": comm may hold spaces and parentheses. */
        const char *rp = strrchr(text, ')');
        int64_t ppid;
        char *sp;
        if (!rp || rp[1] != ' ' || !rp[2] || rp[3] != ' ')
            continue;
        sp = strchr(rp + 4, ' ');
        if (!sp)
            continue;
        *sp = '\0';
        if (parse_i64(rp + 4, 0, INT32_MAX, &ppid))
            continue;
        pids[n] = (pid_t)pid;
        ppids[n] = (pid_t)ppid;
        n++;
    }
    if (d)
        closedir(d);
    pid_t tree[MAX_TREE];
    size_t nt = 0;
    tree[nt++] = root;
    for (size_t i = 0; i < nt; i++)
        for (size_t j = 0; j < n && nt < MAX_TREE; j++)
            if (ppids[j] == tree[i])
                tree[nt++] = pids[j];
    for (size_t i = nt; i-- > 1;)
        kill(tree[i], sig);
}

static void signal_app(struct supervisor *s, pid_t pid, int sig)
{
    if (pid <= 0)
        return;
    if (s->opts.mode == SANDBOX_BWRAP && sig != SIGKILL)
        signal_descendants(pid, sig);
    else
        kill(-pid, sig); /* the child leads its own process group */
    if (sig == SIGKILL)
        kill(pid, SIGKILL);
}

/* ---- spawning and reaping (supervisor thread, under mu) ---- */

static int spawn(struct supervisor *s, struct sup_proc *p, struct be_diag *diag)
{
    int out[2] = {-1, -1}, err[2] = {-1, -1};
    if (pipe2(out, O_CLOEXEC) || pipe2(err, O_CLOEXEC)) {
        int rc = be_fail(diag, BE_INTERNAL, "pipe: %s", strerror(errno));
        for (int i = 0; i < 2; i++) {
            if (out[i] >= 0)
                close(out[i]);
            if (err[i] >= 0)
                close(err[i]);
        }
        return rc;
    }
    fcntl(out[0], F_SETFL, O_NONBLOCK);
    fcntl(err[0], F_SETFL, O_NONBLOCK);
    if (s->cgroup_dir)
        snprintf(p->cgroup_name, sizeof(p->cgroup_name), "app-%.40s-%u", p->env_id,
                 ++s->cgroup_seq);
    struct sandbox_spec spec = {
        .mode = s->opts.mode,
        .bwrap = s->bwrap,
        .release_dir = p->release_dir,
        .data_dir = p->data_dir,
        .argv = (const char *const *)p->argv,
        .env = (const char *const *)p->env,
        .limits = s->opts.limits,
        .cgroup_parent = s->cgroup_dir,
        .cgroup_name = s->cgroup_dir ? p->cgroup_name : NULL,
        .stdout_fd = out[1],
        .stderr_fd = err[1],
    };
    pid_t pid;
    int rc = sandbox_spawn(&spec, &pid, diag);
    close(out[1]);
    close(err[1]);
    if (rc) {
        close(out[0]);
        close(err[0]);
        return rc;
    }
    p->pid = pid;
    p->out.fd = out[0];
    p->err.fd = err[0];
    p->state = SUP_RUNNING;
    p->started_at = time_now();
    p->oom_killed = false;
    return BE_OK;
}

static unsigned crashes_in_window(struct sup_proc *p, int64_t now)
{
    unsigned n = 0;
    for (unsigned i = 0; i < p->ncrash && i < MAX_CRASHES; i++)
        if (now - p->crashes[i] < (int64_t)p->s->opts.crash_window_s)
            n++;
    return n;
}

static void exited(struct supervisor *s, struct sup_proc *p, int status)
{
    drain(p, &p->out, true);
    drain(p, &p->err, true);
    p->exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    p->term_signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    if (s->cgroup_dir) {
        p->oom_killed = sandbox_cgroup_oom_killed(s->cgroup_dir, p->cgroup_name);
        sandbox_cgroup_remove(s->cgroup_dir, p->cgroup_name);
    }
    char msg[160];
    if (p->term_signal)
        snprintf(msg, sizeof(msg), "process exited on signal %d%s", p->term_signal,
                 p->oom_killed ? " (out of memory)" : "");
    else
        snprintf(msg, sizeof(msg), "process exited with code %d", p->exit_code);
    emit(p, "supervisor", msg, strlen(msg));
    p->pid = 0;
    if (p->stopping) {
        p->state = SUP_STOPPED;
        return;
    }
    if (!p->restart) {
        p->state = SUP_EXITED;
        return;
    }
    int64_t now = time_now();
    p->crashes[p->ncrash++ % MAX_CRASHES] = now;
    if (crashes_in_window(p, now) > s->opts.crash_max) {
        p->state = SUP_CRASHLOOP;
        snprintf(msg, sizeof(msg), "CRASHLOOP: more than %u crashes in %u s; not restarting",
                 s->opts.crash_max, s->opts.crash_window_s);
        emit(p, "supervisor", msg, strlen(msg));
        return;
    }
    uint64_t delay = s->opts.backoff_ms;
    for (unsigned i = 0; i < p->consecutive && delay < s->opts.backoff_max_ms; i++)
        delay *= 2;
    if (delay > s->opts.backoff_max_ms)
        delay = s->opts.backoff_max_ms;
    p->consecutive++;
    p->state = SUP_BACKOFF;
    p->restart_at_ns = time_mono_ns() + delay * 1000000u;
}

static void tick(struct supervisor *s)
{
    uint64_t now = time_mono_ns();
    for (struct sup_proc *p = s->procs; p; p = p->next) {
        drain(p, &p->out, false);
        drain(p, &p->err, false);
        if (p->spawn_requested) {
            p->spawn_requested = false;
            p->spawn_rc = spawn(s, p, &p->spawn_diag);
            p->spawn_done = true;
        }
        int status;
        if (p->pid > 0 && waitpid(p->pid, &status, WNOHANG) == p->pid)
            exited(s, p, status);
        if (p->state == SUP_BACKOFF && !p->stopping && now >= p->restart_at_ns) {
            struct be_diag diag = {""};
            if (spawn(s, p, &diag)) {
                emit(p, "supervisor", diag.msg, strlen(diag.msg));
                p->state = SUP_CRASHLOOP;
            } else {
                p->restarts++;
            }
        }
        /* A process that ran for a while has recovered: back-off restarts. */
        if (p->state == SUP_RUNNING && p->consecutive &&
            time_now() - p->started_at > (int64_t)s->opts.backoff_max_ms / 1000 + 10)
            p->consecutive = 0;
    }
}

static void *run(void *arg)
{
    struct supervisor *s = arg;
    struct pollfd fds[257];
    for (;;) {
        size_t n = 0;
        pthread_mutex_lock(&s->mu);
        if (s->quit) {
            pthread_mutex_unlock(&s->mu);
            break;
        }
        fds[n++] = (struct pollfd){s->wake[0], POLLIN, 0};
        for (struct sup_proc *p = s->procs; p && n + 2 < 257; p = p->next) {
            if (p->out.fd >= 0)
                fds[n++] = (struct pollfd){p->out.fd, POLLIN, 0};
            if (p->err.fd >= 0)
                fds[n++] = (struct pollfd){p->err.fd, POLLIN, 0};
        }
        pthread_mutex_unlock(&s->mu);
        poll(fds, n, POLL_MS);
        char junk[64];
        while (read(s->wake[0], junk, sizeof(junk)) > 0)
            ;
        pthread_mutex_lock(&s->mu);
        tick(s);
        pthread_cond_broadcast(&s->changed);
        pthread_mutex_unlock(&s->mu);
    }
    return NULL;
}

/* ---- public ---- */

int supervisor_new(const struct supervisor_options *opts, struct supervisor **ret,
                   struct be_diag *diag)
{
    struct supervisor *s = xcalloc(1, sizeof(*s));
    s->opts = *opts;
    s->bwrap = xstrdup(opts->bwrap ? opts->bwrap : "/usr/bin/bwrap");
    s->cgroup_dir = opts->cgroup_dir && *opts->cgroup_dir ? xstrdup(opts->cgroup_dir) : NULL;
    s->opts.bwrap = s->bwrap;
    s->opts.cgroup_dir = s->cgroup_dir;
    if (!s->opts.backoff_ms)
        s->opts.backoff_ms = 1000;
    if (s->opts.backoff_max_ms < s->opts.backoff_ms)
        s->opts.backoff_max_ms = s->opts.backoff_ms;
    if (!s->opts.crash_window_s)
        s->opts.crash_window_s = 300;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->changed, NULL);
    if (pipe2(s->wake, O_CLOEXEC | O_NONBLOCK)) {
        int rc = be_fail(diag, BE_INTERNAL, "pipe: %s", strerror(errno));
        free(s->bwrap);
        free(s->cgroup_dir);
        free(s);
        return rc;
    }
    if (pthread_create(&s->thread, NULL, run, s)) {
        close(s->wake[0]);
        close(s->wake[1]);
        free(s->bwrap);
        free(s->cgroup_dir);
        free(s);
        return be_fail(diag, BE_INTERNAL, "cannot start the supervisor thread");
    }
    *ret = s;
    return BE_OK;
}

enum sandbox_mode supervisor_mode(const struct supervisor *s)
{
    return s->opts.mode;
}

/* Waits (under mu) until the process is gone or the deadline passes. */
static bool wait_gone(struct sup_proc *p, uint64_t deadline_ns)
{
    while (p->pid > 0 && time_mono_ns() < deadline_ns) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 20 * 1000000L;
        ts.tv_sec += ts.tv_nsec / 1000000000L;
        ts.tv_nsec %= 1000000000L;
        pthread_cond_timedwait(&p->s->changed, &p->s->mu, &ts);
    }
    return p->pid <= 0;
}

static void stop_locked(struct sup_proc *p, unsigned grace_ms)
{
    struct supervisor *s = p->s;
    p->stopping = true;
    if (p->pid > 0) {
        signal_app(s, p->pid, SIGTERM);
        wake(s);
        if (!wait_gone(p, time_mono_ns() + (uint64_t)grace_ms * 1000000u)) {
            signal_app(s, p->pid, SIGKILL);
            wait_gone(p, time_mono_ns() + 10ull * 1000000000u);
        }
    }
    if (p->pid <= 0)
        p->state = SUP_STOPPED;
}

void supervisor_free(struct supervisor *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->mu);
    for (struct sup_proc *p = s->procs; p; p = p->next)
        if (p->pid > 0) {
            p->stopping = true;
            signal_app(s, p->pid, SIGTERM);
        }
    for (struct sup_proc *p = s->procs; p; p = p->next)
        stop_locked(p, s->opts.stop_grace_ms);
    /* Handles still held by callers are detached from the supervisor. */
    for (struct sup_proc *p = s->procs; p; p = p->next)
        p->s = NULL;
    s->procs = NULL;
    s->quit = true;
    pthread_mutex_unlock(&s->mu);
    wake(s);
    pthread_join(s->thread, NULL);
    close(s->wake[0]);
    close(s->wake[1]);
    pthread_cond_destroy(&s->changed);
    pthread_mutex_destroy(&s->mu);
    free(s->bwrap);
    free(s->cgroup_dir);
    free(s);
}

int supervisor_start(struct supervisor *s, const struct sup_spec *spec, struct sup_proc **ret,
                     struct be_diag *diag)
{
    struct sup_proc *p = xcalloc(1, sizeof(*p));
    p->s = s;
    p->env_id = xstrdup(spec->env_id);
    p->release_dir = spec->release_dir ? xstrdup(spec->release_dir) : NULL;
    p->data_dir = spec->data_dir ? xstrdup(spec->data_dir) : NULL;
    p->argv = copy_strv(spec->argv);
    p->env = copy_strv(spec->env);
    p->version = spec->version;
    p->port = spec->port;
    p->log = spec->log;
    p->out = (struct stream){-1, BUF_INIT, "stdout"};
    p->err = (struct stream){-1, BUF_INIT, "stderr"};
    p->state = SUP_EXITED;
    p->spawn_requested = true;
    pthread_mutex_lock(&s->mu);
    p->next = s->procs;
    s->procs = p;
    wake(s);
    while (!p->spawn_done)
        pthread_cond_wait(&s->changed, &s->mu);
    int rc = p->spawn_rc;
    if (rc)
        be_fail(diag, rc, "%s", p->spawn_diag.msg);
    pthread_mutex_unlock(&s->mu);
    if (rc) {
        sup_proc_free(p);
        return rc;
    }
    *ret = p;
    return BE_OK;
}

/* Locks the supervisor of p; false when it is gone (handle detached). */
static bool lock(struct sup_proc *p)
{
    if (!p->s)
        return false;
    pthread_mutex_lock(&p->s->mu);
    return true;
}

void sup_proc_set_restart(struct sup_proc *p, bool on)
{
    if (!lock(p))
        return;
    p->restart = on;
    if (on && p->state == SUP_EXITED && !p->stopping) {
        /* It died before it was made live: treat it as a crash now. */
        p->state = SUP_BACKOFF;
        p->restart_at_ns = time_mono_ns();
        wake(p->s);
    }
    pthread_mutex_unlock(&p->s->mu);
}

static char *tail_locked(struct sup_proc *p, unsigned max_lines)
{
    struct buf b = BUF_INIT;
    if (max_lines > TAIL_LINES)
        max_lines = TAIL_LINES;
    for (unsigned i = TAIL_LINES - max_lines; i < TAIL_LINES; i++) {
        const char *l = p->tail[(p->tail_next + i) % TAIL_LINES];
        if (l)
            buf_addf(&b, "%s\n", l);
    }
    return buf_detach(&b, NULL);
}

char *sup_proc_tail(struct sup_proc *p, unsigned max_lines)
{
    struct supervisor *s = p->s;
    if (s)
        pthread_mutex_lock(&s->mu);
    char *t = tail_locked(p, max_lines);
    if (s)
        pthread_mutex_unlock(&s->mu);
    return t;
}

void sup_proc_status(struct sup_proc *p, struct sup_status *ret)
{
    struct supervisor *s = p->s;
    if (s)
        pthread_mutex_lock(&s->mu);
    ret->state = p->state;
    ret->pid = p->pid;
    ret->port = p->port;
    ret->version = p->version;
    ret->restarts = p->restarts;
    ret->exit_code = p->exit_code;
    ret->term_signal = p->term_signal;
    ret->oom_killed = p->oom_killed;
    ret->started_at = p->started_at;
    ret->tail = tail_locked(p, TAIL_LINES);
    if (s)
        pthread_mutex_unlock(&s->mu);
}

void sup_proc_stop(struct sup_proc *p, unsigned grace_ms)
{
    if (!lock(p))
        return;
    stop_locked(p, grace_ms);
    pthread_mutex_unlock(&p->s->mu);
}

void sup_proc_free(struct sup_proc *p)
{
    if (!p)
        return;
    struct supervisor *s = p->s;
    if (s) {
        pthread_mutex_lock(&s->mu);
        stop_locked(p, 0);
        for (struct sup_proc **pp = &s->procs; *pp; pp = &(*pp)->next)
            if (*pp == p) {
                *pp = p->next;
                break;
            }
        pthread_mutex_unlock(&s->mu);
    }
    if (p->out.fd >= 0)
        close(p->out.fd);
    if (p->err.fd >= 0)
        close(p->err.fd);
    buf_release(&p->out.partial);
    buf_release(&p->err.partial);
    for (unsigned i = 0; i < TAIL_LINES; i++)
        free(p->tail[i]);
    free(p->env_id);
    free(p->release_dir);
    free(p->data_dir);
    free_strv(p->argv);
    free_strv(p->env);
    free(p);
}
