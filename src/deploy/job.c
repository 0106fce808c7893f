#include "deploy/job.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/crypto.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/parse.h"
#include "core/timeutil.h"
#include "core/fsutil.h"
#include "core/banned.h"

#define TAIL_IN_ERROR 20
#define PROBE_MS      50

struct env_rt {
    struct env_rt *next;
    char env_id[64];
    struct sup_proc *live;
    char *live_dir; /* the live process's release directory */
    struct runlog *log;
};

struct job {
    struct job *next;
    struct deployer *d;
    char id[32];
    char env_id[64];
    enum deploy_kind kind;
    uint64_t version, owner_uin;
    pthread_t thread;
    bool finished;
    uint64_t seq;
    uint64_t deadline_ns, next_beat_ns;
    const char *step;
    const char *err_code;
    struct buf err_text;
};

struct deployer {
    struct app *app;
    struct deployer_options opts;
    char *root, *bwrap, *cgroup_dir, *health_path;
    struct deploy_source src;
    enum sandbox_mode mode;
    char sandbox_reason[sizeof(((struct be_diag *)0)->msg)];
    char instance[40];
    struct supervisor *sup;
    struct router *router;
    pthread_mutex_t mu;
    pthread_cond_t changed;
    struct env_rt *envs;
    struct job *jobs;
    bool closing;
    pthread_t janitor;
    bool janitor_started;
};

const char *deploy_kind_name(enum deploy_kind k)
{
    static const char *const names[] = {"deploy", "rollback", "restart", "stop"};
    return names[k];
}

/* ---- store helpers ---- */

struct q {
    const char *sql;
    const struct store_val *p;
    size_t n;
    struct store_result *r;
    int64_t changes;
};

static int q_exec(struct store_conn *c, void *arg)
{
    struct q *q = arg;
    return store_exec(c, q->sql, q->p, q->n, &q->changes);
}

static int q_query(struct store_conn *c, void *arg)
{
    struct q *q = arg;
    return store_query(c, q->sql, q->p, q->n, &q->r);
}

static int db_exec(struct app *app, const char *sql, const struct store_val *p, size_t n,
                   int64_t *ret_changes)
{
    struct q q = {sql, p, n, NULL, 0};
    int rc = store_run(app->store, q_exec, &q);
    if (!rc && ret_changes)
        *ret_changes = q.changes;
    return rc;
}

static int db_query(struct app *app, const char *sql, const struct store_val *p, size_t n,
                    struct store_result **ret)
{
    struct q q = {sql, p, n, NULL, 0};
    int rc = store_run(app->store, q_query, &q);
    if (!rc)
        *ret = q.r;
    return rc;
}

static int64_t now_ms(void)
{
    return time_now_ms();
}

/* ---- per-environment state (under d->mu) ---- */

static struct env_rt *env_get(struct deployer *d, const char *env_id)
{
    for (struct env_rt *e = d->envs; e; e = e->next)
        if (!strcmp(e->env_id, env_id))
            return e;
    struct env_rt *e = xcalloc(1, sizeof(*e));
    snprintf(e->env_id, sizeof(e->env_id), "%s", env_id);
    e->next = d->envs;
    d->envs = e;
    return e;
}

static void env_dir(const struct deployer *d, const char *env_id, const char *sub, struct buf *out)
{
    buf_reset(out);
    buf_addf(out, "%s/envs/%s%s%s", d->root, env_id, sub ? "/" : "", sub ? sub : "");
}

static int mkdir_p(const char *path)
{
    return fs_mkdir_p(path, 0750);
}

int deployer_runtime_log(struct deployer *d, const char *env_id, struct runlog **ret,
                         struct be_diag *diag)
{
    int rc = BE_OK;
    struct buf dir = BUF_INIT;
    pthread_mutex_lock(&d->mu);
    struct env_rt *e = env_get(d, env_id);
    if (!e->log) {
        env_dir(d, env_id, "logs", &dir);
        struct runlog_options o = {d->opts.log_segment_bytes, d->opts.log_segments};
        if (mkdir_p(dir.data))
            rc = be_fail(diag, BE_INTERNAL, "cannot create %s: %s", dir.data, strerror(errno));
        else
            rc = runlog_open(dir.data, &o, &e->log, diag);
    }
    if (!rc)
        *ret = e->log;
    pthread_mutex_unlock(&d->mu);
    buf_release(&dir);
    return rc;
}

/* ---- the job's log and checks ---- */

static void jlog(struct job *j, const char *level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void jlog(struct job *j, const char *level, const char *fmt, ...)
{
    struct buf msg = BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    buf_vaddf(&msg, fmt, ap);
    va_end(ap);
    if (j->id[0]) {
        j->seq++;
        db_exec(j->d->app,
                "INSERT INTO deploy_log (deploy_id, seq, at, level, step, msg)"
                " VALUES ($1, $2, $3, $4, $5, $6)",
                SV_ARGS(SV_TEXT(j->id), SV_I64(j->seq), SV_I64(now_ms()), SV_TEXT(level),
                        SV_TEXT(j->step ? j->step : ""), SV_TEXT(msg.data)),
                NULL);
    } else {
        log_info("deploy: %s: %s", j->env_id, msg.data);
    }
    buf_release(&msg);
}

static void set_step(struct job *j, const char *step)
{
    j->step = step;
    if (j->id[0])
        db_exec(j->d->app, "UPDATE deploys SET step = $2 WHERE id = $1",
                SV_ARGS(SV_TEXT(j->id), SV_TEXT(step)), NULL);
    jlog(j, "info", "step %s", step);
}

static int fail(struct job *j, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(struct job *j, const char *code, const char *fmt, ...)
{
    if (j->err_code)
        return -1;
    j->err_code = code;
    va_list ap;
    va_start(ap, fmt);
    buf_vaddf(&j->err_text, fmt, ap);
    va_end(ap);
    return -1;
}

/* Renews the lease and reads a cancel request, at most every lease_ms / 3;
 * enforces the total time-out. -1 (with the job's error set) to stop. */
static int check(struct job *j)
{
    struct deployer *d = j->d;
    if (j->err_code)
        return -1;
    uint64_t now = time_mono_ns();
    if (now > j->deadline_ns)
        return fail(j, "DEPLOY_TIMEOUT", "the job took longer than %u ms (at step %s)",
                    d->opts.total_timeout_ms, j->step);
    if (!j->id[0] || now < j->next_beat_ns)
        return 0;
    j->next_beat_ns = now + (uint64_t)d->opts.lease_ms * 1000000u / 3;
    int64_t changes = 0;
    if (db_exec(d->app,
                "UPDATE env_runtime SET lease_until = $3 WHERE env_id = $1 AND lease_deploy = $2",
                SV_ARGS(SV_TEXT(j->env_id), SV_TEXT(j->id), SV_I64(now_ms() + d->opts.lease_ms)),
                &changes) == BE_OK &&
        changes == 0)
        return fail(j, "LEASE_LOST", "the job's lease on %s was taken over", j->env_id);
    struct store_result *r = NULL;
    if (db_query(d->app, "SELECT cancel_requested FROM deploys WHERE id = $1",
                 SV_ARGS(SV_TEXT(j->id)), &r) == BE_OK) {
        bool cancel = store_result_rows(r) && store_result_i64(r, 0, 0);
        store_result_free(r);
        if (cancel)
            return fail(j, "CANCELED", "canceled at step %s", j->step);
    }
    if (d->closing)
        return fail(j, "SERVER_STOPPING", "the server is shutting down");
    return 0;
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* ---- probing the app ---- */

static uint16_t free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    uint16_t port = 0;
    if (fd >= 0 && !bind(fd, (struct sockaddr *)&a, sizeof(a)) &&
        !getsockname(fd, (struct sockaddr *)&a, &len))
        port = ntohs(a.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

static bool listening(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {
        .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bool ok = fd >= 0 && !connect(fd, (struct sockaddr *)&a, sizeof(a));
    if (fd >= 0)
        close(fd);
    return ok;
}

static size_t discard(char *p, size_t size, size_t n, void *u)
{
    (void)p;
    (void)u;
    return size * n;
}

/* GET path answered 2xx? *ret_status gets the status (0: no answer). */
static bool healthy(uint16_t port, const char *path, long *ret_status)
{
    char url[512];
    snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", (unsigned)port, path);
    CURL *c = curl_easy_init();
    if (!c)
        return false;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 1000L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http");
    long status = 0;
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
    *ret_status = status;
    return status >= 200 && status < 300;
}

/* The process died during START or HEALTHCHECK: say how, with its output. */
static int died(struct job *j, struct sup_proc *p)
{
    struct sup_status st;
    sup_proc_status(p, &st);
    char *tail = sup_proc_tail(p, TAIL_IN_ERROR);
    if (st.oom_killed)
        fail(j, "OOM_KILLED", "the app was killed for using too much memory; last output:\n%s",
             tail);
    else if (st.term_signal)
        fail(j, "START_CRASHED", "the app was killed by signal %d; last output:\n%s",
             st.term_signal, tail);
    else
        fail(j, "START_CRASHED", "the app exited with code %d; last output:\n%s", st.exit_code,
             tail);
    free(tail);
    free(st.tail);
    return -1;
}

static bool gone(struct sup_proc *p)
{
    struct sup_status st;
    sup_proc_status(p, &st);
    free(st.tail);
    return st.state != SUP_RUNNING;
}

/* ---- starting a release ---- */

struct started {
    struct sup_proc *proc;
    char *dir;
    uint16_t port;
};

static void started_discard(struct started *s)
{
    if (s->proc) {
        sup_proc_stop(s->proc, 0);
        sup_proc_free(s->proc);
    }
    if (s->dir) {
        struct buf cmd = BUF_INIT;
        /* The tree was written by us below root: remove it. */
        buf_addf(&cmd, "rm -rf -- '%s'", s->dir);
        if (system(cmd.data) != 0)
            log_warn("deploy: cannot remove %s", s->dir);
        buf_release(&cmd);
        free(s->dir);
    }
    memset(s, 0, sizeof(*s));
}

static bool safe_entry(const char *e)
{
    if (!*e || e[0] == '/' || strlen(e) > 255)
        return false;
    for (const char *p = e; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == '\\')
            return false;
    return !strstr(e, "..");
}

/* The entry's file: the entry itself for nodejs and python3; for exec, its
 * first word (the rest are the program's arguments, split at spaces, no
 * quoting, as CommitUpload checks it), without a leading "./". */
static void entry_file(const struct deploy_release *rel, char out[256])
{
    size_t n = rel->runtime == DEPLOY_RT_EXEC ? strcspn(rel->entry, " \t") : strlen(rel->entry);
    const char *e = rel->entry;
    if (n >= 2 && !strncmp(e, "./", 2))
        e += 2, n -= 2;
    snprintf(out, 256, "%.*s", (int)n, e);
}

#define EXEC_ARGS_MAX 32

static int validate(struct job *j, const struct deploy_release *rel)
{
    char file[256];
    entry_file(rel, file);
    if (!safe_entry(file) || !rel->has_file(rel, file))
        return fail(j, "ENTRY_NOT_FOUND", "version %llu has no file %s (its entry)",
                    (unsigned long long)rel->version, file);
    static const char *const bins[] = {"/usr/bin/node", "/usr/bin/python3", NULL};
    const char *bin = bins[rel->runtime];
    if (bin && access(bin, X_OK))
        return fail(j, "RUNTIME_MISSING", "runtime %s needs %s, which this server lacks",
                    deploy_runtime_name(rel->runtime), bin);
    jlog(j, "info", "version %llu: runtime %s, entry %s", (unsigned long long)rel->version,
         deploy_runtime_name(rel->runtime), rel->entry);
    return 0;
}

static int materialize(struct job *j, const struct deploy_release *rel, struct started *s)
{
    struct buf dir = BUF_INIT;
    char sub[96];
    char rnd[9];
    unsigned char b[4];
    crypto_random(b, sizeof(b));
    snprintf(rnd, sizeof(rnd), "%02x%02x%02x%02x", b[0], b[1], b[2], b[3]);
    snprintf(sub, sizeof(sub), "releases/%llu-%s", (unsigned long long)rel->version, rnd);
    env_dir(j->d, j->env_id, sub, &dir);
    struct be_diag diag = {""};
    int rc = 0;
    if (mkdir_p(dir.data)) {
        rc = fail(j, "MATERIALIZE_FAILED", "cannot create %s: %s", dir.data, strerror(errno));
        buf_release(&dir);
        return rc;
    }
    s->dir = buf_detach(&dir, NULL);
    if (rel->materialize(rel, s->dir, &diag))
        return fail(j, "MATERIALIZE_FAILED", "cannot write the version's tree: %s", diag.msg);
    jlog(j, "info", "tree written to %s", s->dir);
    return 0;
}

static bool reserved_var(const char *kv)
{
    static const char *const names[] = {
        "PORT=", "HOST=", "ENV_ID=", "APPID=", "PATH=", "HOME=", "LD_PRELOAD=", "LD_LIBRARY_PATH="};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (!strncmp(kv, names[i], strlen(names[i])))
            return true;
    return false;
}

static int start(struct job *j, const struct deploy_release *rel, struct started *s)
{
    struct deployer *d = j->d;
    struct runlog *log;
    struct be_diag diag = {""};
    if (deployer_runtime_log(d, j->env_id, &log, &diag))
        return fail(j, "START_FAILED", "%s", diag.msg);
    struct buf datadir = BUF_INIT, entry = BUF_INIT;
    env_dir(d, j->env_id, "data", &datadir);
    if (mkdir_p(datadir.data)) {
        buf_release(&datadir);
        return fail(j, "START_FAILED", "cannot create the data directory");
    }
    char file[256], args[256];
    entry_file(rel, file);
    buf_addf(&entry, "%s/%s", sandbox_app_root(d->mode, s->dir), file);
    const char *argv[EXEC_ARGS_MAX + 2] = {NULL};
    if (rel->runtime == DEPLOY_RT_NODEJS) {
        argv[0] = "/usr/bin/node", argv[1] = entry.data;
    } else if (rel->runtime == DEPLOY_RT_PYTHON3) {
        argv[0] = "/usr/bin/python3", argv[1] = entry.data;
    } else {
        argv[0] = entry.data;
        snprintf(args, sizeof(args), "%s", rel->entry + strcspn(rel->entry, " \t"));
        char *save = NULL;
        size_t n = 1;
        for (char *w = strtok_r(args, " \t", &save); w && n <= EXEC_ARGS_MAX;
             w = strtok_r(NULL, " \t", &save))
            argv[n++] = w;
    }
    s->port = free_port();
    char port[32], envid[96], appid[96], home[1100];
    snprintf(port, sizeof(port), "PORT=%u", (unsigned)s->port);
    snprintf(envid, sizeof(envid), "ENV_ID=%s", j->env_id);
    snprintf(appid, sizeof(appid), "APPID=%s", rel->app_id);
    snprintf(home, sizeof(home), "HOME=%s", d->mode == SANDBOX_BWRAP ? "/tmp" : datadir.data);
    size_t nv = 0;
    while (rel->vars && rel->vars[nv])
        nv++;
    const char **env = xcalloc(nv + 9, sizeof(char *));
    size_t k = 0;
    for (size_t i = 0; i < nv; i++)
        if (!reserved_var(rel->vars[i]))
            env[k++] = rel->vars[i];
    env[k++] = "PATH=/usr/local/bin:/usr/bin:/bin";
    env[k++] = home;
    env[k++] = "HOST=127.0.0.1";
    env[k++] = port;
    env[k++] = envid;
    env[k++] = appid;
    env[k++] = "NODE_ENV=production";
    struct sup_spec spec = {j->env_id, rel->version, s->dir, datadir.data, argv, env, s->port, log};
    int rc = 0;
    if (!s->port)
        rc = fail(j, "START_FAILED", "no free port");
    else if (supervisor_start(d->sup, &spec, &s->proc, &diag))
        rc = fail(j, "START_FAILED", "cannot start the app: %s", diag.msg);
    else
        jlog(j, "info", "process started on port %u (sandbox: %s)", (unsigned)s->port,
             sandbox_mode_name(d->mode));
    free(env);
    buf_release(&datadir);
    buf_release(&entry);
    if (rc)
        return rc;
    uint64_t until = time_mono_ns() + (uint64_t)d->opts.start_timeout_ms * 1000000u;
    while (!listening(s->port)) {
        if (gone(s->proc))
            return died(j, s->proc);
        if (check(j))
            return -1;
        if (time_mono_ns() > until)
            return fail(j, "START_TIMEOUT", "the app did not listen on $PORT within %u ms",
                        d->opts.start_timeout_ms);
        sleep_ms(PROBE_MS);
    }
    jlog(j, "info", "listening on 127.0.0.1:%u", (unsigned)s->port);
    return 0;
}

static int healthcheck(struct job *j, struct started *s)
{
    struct deployer *d = j->d;
    uint64_t t0 = time_mono_ns();
    uint64_t until = t0 + (uint64_t)d->opts.health_timeout_ms * 1000000u;
    long status = 0;
    for (;;) {
        if (gone(s->proc))
            return died(j, s->proc);
        if (check(j))
            return -1;
        if (!d->health_path[0]) {
            if (time_mono_ns() - t0 >= (uint64_t)d->opts.alive_ms * 1000000u &&
                listening(s->port)) {
                jlog(j, "info", "alive and listening for %u ms", d->opts.alive_ms);
                return 0;
            }
        } else if (healthy(s->port, d->health_path, &status)) {
            jlog(j, "info", "GET %s answered %ld", d->health_path, status);
            return 0;
        }
        if (time_mono_ns() > until) {
            char *tail = sup_proc_tail(s->proc, TAIL_IN_ERROR);
            fail(j, "HEALTHCHECK_TIMEOUT",
                 "GET %s did not answer 2xx within %u ms (last status %ld); last output:\n%s",
                 d->health_path[0] ? d->health_path : "(listening)", d->opts.health_timeout_ms,
                 status, tail);
            free(tail);
            return -1;
        }
        sleep_ms(PROBE_MS * 2);
    }
}

/* Makes s the live process of the environment; returns the old one. */
static void switch_live(struct job *j, struct started *s, struct started *ret_old)
{
    struct deployer *d = j->d;
    pthread_mutex_lock(&d->mu);
    struct env_rt *e = env_get(d, j->env_id);
    ret_old->proc = e->live;
    ret_old->dir = e->live_dir;
    e->live = s->proc;
    e->live_dir = s->dir;
    struct route_target *old = router_switch(d->router, j->env_id, s->port);
    pthread_mutex_unlock(&d->mu);
    sup_proc_set_restart(s->proc, true);
    memset(s, 0, sizeof(*s));
    /* Requests already routed to the old process finish before it stops. */
    if (!router_drain(d->router, old, d->opts.drain_grace_ms))
        jlog(j, "warn", "requests to the old process still in flight after %u ms",
             d->opts.drain_grace_ms);
}

/* ---- job bodies ---- */

static int live_versions(struct app *app, const char *env_id, uint64_t *ret_live,
                         uint64_t *ret_prev)
{
    struct store_result *r = NULL;
    int rc =
        db_query(app, "SELECT live_version_n, prev_version_n FROM env_runtime WHERE env_id = $1",
                 SV_ARGS(SV_TEXT(env_id)), &r);
    if (rc)
        return rc;
    *ret_live = store_result_rows(r) ? (uint64_t)store_result_i64(r, 0, 0) : 0;
    *ret_prev = store_result_rows(r) ? (uint64_t)store_result_i64(r, 0, 1) : 0;
    store_result_free(r);
    return BE_OK;
}

static int run_stop(struct job *j)
{
    struct deployer *d = j->d;
    set_step(j, "STOP");
    struct started old = {0};
    pthread_mutex_lock(&d->mu);
    struct env_rt *e = env_get(d, j->env_id);
    old.proc = e->live;
    old.dir = e->live_dir;
    e->live = NULL;
    e->live_dir = NULL;
    struct route_target *t = router_switch(d->router, j->env_id, 0);
    pthread_mutex_unlock(&d->mu);
    db_exec(d->app, "UPDATE env_runtime SET desired = 'stopped', updated_at = $2 WHERE env_id = $1",
            SV_ARGS(SV_TEXT(j->env_id), SV_I64(now_ms())), NULL);
    router_drain(d->router, t, d->opts.drain_grace_ms);
    if (old.proc)
        sup_proc_stop(old.proc, d->opts.drain_grace_ms);
    started_discard(&old);
    jlog(j, "info", "stopped; the environment answers 503 until the next deploy or restart");
    return 0;
}

static int run_deploy(struct job *j)
{
    struct deployer *d = j->d;
    struct deploy_release rel;
    struct started s = {0}, old = {0};
    struct be_diag diag = {""};
    int rc = -1;
    memset(&rel, 0, sizeof(rel));
    set_step(j, "VALIDATE");
    uint64_t live = 0, prev = 0, want = j->version;
    live_versions(d->app, j->env_id, &live, &prev);
    if (j->kind == DEPLOY_KIND_ROLLBACK && !want && !(want = prev)) {
        fail(j, "NO_PREVIOUS_VERSION", "there is no previous version to roll back to");
        goto out;
    }
    if (j->kind == DEPLOY_KIND_RESTART && !(want = live)) {
        fail(j, "NO_LIVE_VERSION", "the environment has no live version to restart");
        goto out;
    }
    if (d->src.release_get(d->src.ctx, j->env_id, want, &rel, &diag)) {
        fail(j, "VERSION_NOT_FOUND", "%s", diag.msg);
        goto out;
    }
    if (j->id[0])
        db_exec(d->app, "UPDATE deploys SET from_version_n = $2, to_version_n = $3 WHERE id = $1",
                SV_ARGS(SV_TEXT(j->id), SV_I64(live), SV_I64(rel.version)), NULL);
    if (validate(j, &rel) || check(j))
        goto out;
    set_step(j, "MATERIALIZE");
    if (materialize(j, &rel, &s) || check(j))
        goto out;
    set_step(j, "START");
    if (start(j, &rel, &s))
        goto out;
    set_step(j, "HEALTHCHECK");
    if (healthcheck(j, &s))
        goto out;
    set_step(j, "SWITCH");
    if (check(j))
        goto out;
    /* The live pointer moves only while this job still holds the lease. */
    int64_t changes = 0;
    const char *sql = j->id[0]
                          ? "UPDATE env_runtime SET live_version_n = $2,"
                            " prev_version_n = CASE WHEN live_version_n <> $2 THEN live_version_n"
                            " ELSE prev_version_n END, desired = 'running', last_deploy = $3,"
                            " updated_at = $4 WHERE env_id = $1 AND lease_deploy = $3"
                          : "UPDATE env_runtime SET updated_at = $4 WHERE env_id = $1 AND $2 >= 0"
                            " AND $3 = ''";
    if (db_exec(d->app, sql,
                SV_ARGS(SV_TEXT(j->env_id), SV_I64(rel.version), SV_TEXT(j->id), SV_I64(now_ms())),
                &changes) ||
        (j->id[0] && changes != 1)) {
        fail(j, "LEASE_LOST", "the job lost its lease before SWITCH");
        goto out;
    }
    switch_live(j, &s, &old);
    jlog(j, "info", "version %llu is live", (unsigned long long)rel.version);
    set_step(j, "DRAIN");
    if (old.proc) {
        sup_proc_stop(old.proc, d->opts.drain_grace_ms);
        jlog(j, "info", "old process stopped");
    }
    started_discard(&old);
    rc = 0;
out:
    if (rc) {
        started_discard(&s);
        if (live && j->kind != DEPLOY_KIND_STOP && j->id[0])
            jlog(j, "info", "version %llu keeps serving", (unsigned long long)live);
    }
    deploy_release_clear(&rel);
    return rc;
}

static void finish(struct job *j, int rc)
{
    struct deployer *d = j->d;
    const char *state = rc == 0                            ? "SUCCEEDED"
                        : !strcmp(j->err_code, "CANCELED") ? "CANCELED"
                                                           : "FAILED";
    if (rc)
        jlog(j, "error", "%s at step %s: %s", j->err_code, j->step, j->err_text.data);
    jlog(j, "info", "job %s", state);
    db_exec(d->app,
            "UPDATE deploys SET state = $2, error_code = $3, error_text = $4, finished_at = $5"
            " WHERE id = $1",
            SV_ARGS(SV_TEXT(j->id), SV_TEXT(state), SV_TEXT(rc ? j->err_code : NULL),
                    SV_TEXT(rc ? j->err_text.data : NULL), SV_I64(now_ms())),
            NULL);
    db_exec(d->app,
            "UPDATE env_runtime SET lease_deploy = NULL, lease_owner = NULL, lease_until = 0,"
            " updated_at = $3 WHERE env_id = $1 AND lease_deploy = $2",
            SV_ARGS(SV_TEXT(j->env_id), SV_TEXT(j->id), SV_I64(now_ms())), NULL);
}

static void *job_thread(void *arg)
{
    struct job *j = arg;
    struct deployer *d = j->d;
    db_exec(d->app, "UPDATE deploys SET state = 'RUNNING', started_at = $2 WHERE id = $1",
            SV_ARGS(SV_TEXT(j->id), SV_I64(now_ms())), NULL);
    jlog(j, "info", "%s job for %s started", deploy_kind_name(j->kind), j->env_id);
    int rc = j->kind == DEPLOY_KIND_STOP ? run_stop(j) : run_deploy(j);
    finish(j, rc);
    pthread_mutex_lock(&d->mu);
    j->finished = true;
    pthread_cond_broadcast(&d->changed);
    pthread_mutex_unlock(&d->mu);
    return NULL;
}

/* ---- submit, cancel ---- */

struct submit_ctx {
    const struct deploy_request *req;
    const char *id, *instance;
    int64_t now, lease_until;
    char active[32];
};

static int submit_tx(struct store_conn *c, void *arg)
{
    struct submit_ctx *x = arg;
    const struct deploy_request *req = x->req;
    struct store_result *r = NULL;
    int64_t changes = 0;
    int rc =
        store_exec(c,
                   "INSERT INTO env_runtime (env_id, owner_uin, updated_at) VALUES ($1, $2, $3)"
                   " ON CONFLICT (env_id) DO NOTHING",
                   SV_ARGS(SV_TEXT(req->env_id), SV_I64(req->owner_uin), SV_I64(x->now)), NULL);
    if (rc)
        return rc;
    rc = store_query(c, "SELECT lease_deploy, lease_until FROM env_runtime WHERE env_id = $1",
                     SV_ARGS(SV_TEXT(req->env_id)), &r);
    if (rc)
        return rc;
    const char *held = store_result_rows(r) ? store_result_text(r, 0, 0) : NULL;
    int64_t until = store_result_rows(r) ? store_result_i64(r, 0, 1) : 0;
    if (held && until >= x->now) {
        copy_str(x->active, sizeof(x->active), held);
        store_result_free(r);
        return BE_DEPLOY_IN_PROGRESS;
    }
    if (held) /* a dead server's job: take its lease over */
        rc = store_exec(c,
                        "UPDATE deploys SET state = 'FAILED', error_code = 'SERVER_LOST',"
                        " error_text = 'the server running this job stopped', finished_at = $2"
                        " WHERE id = $1 AND state IN ('QUEUED', 'RUNNING')",
                        SV_ARGS(SV_TEXT(held), SV_I64(x->now)), NULL);
    store_result_free(r);
    if (rc)
        return rc;
    rc = store_exec(c,
                    "UPDATE env_runtime SET lease_deploy = $2, lease_owner = $3, lease_until = $4,"
                    " updated_at = $5 WHERE env_id = $1 AND (lease_deploy IS NULL OR"
                    " lease_until < $5)",
                    SV_ARGS(SV_TEXT(req->env_id), SV_TEXT(x->id), SV_TEXT(x->instance),
                            SV_I64(x->lease_until), SV_I64(x->now)),
                    &changes);
    if (rc)
        return rc;
    if (changes != 1)
        return BE_CONFLICT;
    return store_exec(c,
                      "INSERT INTO deploys (id, owner_uin, env_id, kind, state, requested_by,"
                      " created_at, to_version_n) VALUES ($1, $2, $3, $4, 'QUEUED', $5, $6, $7)",
                      SV_ARGS(SV_TEXT(x->id), SV_I64(req->owner_uin), SV_TEXT(req->env_id),
                              SV_TEXT(deploy_kind_name(req->kind)), SV_I64(req->requested_by),
                              SV_I64(x->now), SV_I64(req->version)),
                      NULL);
}

int deployer_submit(struct deployer *d, const struct deploy_request *req, char ret_id[32],
                    struct be_diag *diag)
{
    uint64_t owner = 0;
    if (!deploy_env_id_valid(req->env_id) || d->src.env_owner(d->src.ctx, req->env_id, &owner) ||
        owner != req->owner_uin)
        return be_fail(diag, BE_ENV_NOT_FOUND, "no environment %s in this account", req->env_id);
    if (d->mode == SANDBOX_NONE && !d->opts.allow_unsandboxed && req->kind != DEPLOY_KIND_STOP)
        return be_fail(diag, BE_SANDBOX_UNAVAILABLE,
                       "the sandbox is unavailable (%s) and deploy.allow_unsandboxed is false",
                       d->sandbox_reason);
    unsigned char rnd[8];
    crypto_random(rnd, sizeof(rnd));
    char id[32];
    snprintf(id, sizeof(id), "dep-%02x%02x%02x%02x%02x%02x%02x%02x", rnd[0], rnd[1], rnd[2], rnd[3],
             rnd[4], rnd[5], rnd[6], rnd[7]);
    struct submit_ctx x = {req, id, d->instance, now_ms(), now_ms() + d->opts.lease_ms, ""};
    int rc = store_tx(d->app->store, submit_tx, &x);
    if (rc == BE_DEPLOY_IN_PROGRESS || rc == BE_CONFLICT || rc == BE_DUPLICATE)
        return be_fail(diag, BE_DEPLOY_IN_PROGRESS,
                       "deploy %s is running for environment %s; wait for it or cancel it",
                       x.active[0] ? x.active : "(another)", req->env_id);
    if (rc)
        return be_fail(diag, rc, "cannot record the deploy: %s", be_err_message(rc));
    struct job *j = xcalloc(1, sizeof(*j));
    j->d = d;
    snprintf(j->id, sizeof(j->id), "%s", id);
    snprintf(j->env_id, sizeof(j->env_id), "%s", req->env_id);
    j->kind = req->kind;
    j->version = req->version;
    j->owner_uin = req->owner_uin;
    j->step = "";
    buf_init(&j->err_text);
    j->deadline_ns = time_mono_ns() + (uint64_t)d->opts.total_timeout_ms * 1000000u;
    pthread_mutex_lock(&d->mu);
    j->next = d->jobs;
    d->jobs = j;
    if (pthread_create(&j->thread, NULL, job_thread, j)) {
        d->jobs = j->next;
        pthread_mutex_unlock(&d->mu);
        free(j);
        return be_fail(diag, BE_INTERNAL, "cannot start the job thread");
    }
    pthread_mutex_unlock(&d->mu);
    memcpy(ret_id, id, strlen(id) + 1);
    return BE_OK;
}

int deployer_cancel(struct deployer *d, const char *id, uint64_t owner_uin, struct be_diag *diag)
{
    struct store_result *r = NULL;
    int rc = db_query(d->app, "SELECT state FROM deploys WHERE id = $1 AND owner_uin = $2",
                      SV_ARGS(SV_TEXT(id), SV_I64(owner_uin)), &r);
    if (rc)
        return rc;
    if (!store_result_rows(r)) {
        store_result_free(r);
        return be_fail(diag, BE_DEPLOY_NOT_FOUND, "no deploy %s in this account", id);
    }
    bool running = !strcmp(store_result_text(r, 0, 0), "RUNNING") ||
                   !strcmp(store_result_text(r, 0, 0), "QUEUED");
    char state[16];
    copy_str(state, sizeof(state), store_result_text(r, 0, 0));
    store_result_free(r);
    if (!running)
        return be_fail(diag, BE_DEPLOY_FINISHED, "deploy %s has finished (%s)", id, state);
    return db_exec(d->app, "UPDATE deploys SET cancel_requested = 1 WHERE id = $1",
                   SV_ARGS(SV_TEXT(id)), NULL);
}

int deployer_wait(struct deployer *d, const char *id, unsigned timeout_ms, char ret_state[16])
{
    uint64_t until = time_mono_ns() + (uint64_t)timeout_ms * 1000000u;
    for (;;) {
        struct store_result *r = NULL;
        int rc =
            db_query(d->app, "SELECT state FROM deploys WHERE id = $1", SV_ARGS(SV_TEXT(id)), &r);
        if (rc)
            return rc;
        if (!store_result_rows(r)) {
            store_result_free(r);
            return BE_DEPLOY_NOT_FOUND;
        }
        copy_str(ret_state, 16, store_result_text(r, 0, 0));
        store_result_free(r);
        if (strcmp(ret_state, "RUNNING") && strcmp(ret_state, "QUEUED"))
            return BE_OK;
        if (time_mono_ns() > until)
            return BE_OK;
        sleep_ms(20);
    }
}

/* ---- reads ---- */

/* Times in the API's format ("2006-01-02 15:04:05", as every Bindery and
 * CAM action answers), null when not yet. */
static void set_ms_time(json_t *o, const char *field, int64_t ms)
{
    char ts[20];
    if (!ms) {
        json_object_set_new(o, field, json_null());
        return;
    }
    time_fmt_cam(ms / 1000, ts);
    json_object_set_new(o, field, json_string(ts));
}

static json_t *text_or_null(const struct store_result *r, size_t row, size_t col)
{
    const char *t = store_result_text(r, row, col);
    return t ? json_string(t) : json_null();
}

#define DEPLOY_COLS                                                                                \
    "id, env_id, kind, state, step, from_version_n, to_version_n, error_code, error_text,"         \
    " created_at, started_at, finished_at"

static json_t *deploy_row(const struct store_result *r, size_t i)
{
    json_t *o = json_object();
    json_object_set_new(o, "DeployId", text_or_null(r, i, 0));
    json_object_set_new(o, "EnvId", text_or_null(r, i, 1));
    json_object_set_new(o, "Kind", text_or_null(r, i, 2));
    json_object_set_new(o, "State", text_or_null(r, i, 3));
    json_object_set_new(o, "Step", text_or_null(r, i, 4));
    json_object_set_new(o, "FromVersion", json_integer(store_result_i64(r, i, 5)));
    json_object_set_new(o, "ToVersion", json_integer(store_result_i64(r, i, 6)));
    json_object_set_new(o, "ErrorCode", text_or_null(r, i, 7));
    json_object_set_new(o, "ErrorMessage", text_or_null(r, i, 8));
    set_ms_time(o, "CreatedAt", store_result_i64(r, i, 9));
    set_ms_time(o, "StartedAt", store_result_i64(r, i, 10));
    set_ms_time(o, "FinishedAt", store_result_i64(r, i, 11));
    return o;
}

int deploy_describe(struct app *app, const char *id, uint64_t owner_uin, json_t **ret)
{
    struct store_result *r = NULL;
    int rc = db_query(app, "SELECT " DEPLOY_COLS " FROM deploys WHERE id = $1 AND owner_uin = $2",
                      SV_ARGS(SV_TEXT(id), SV_I64(owner_uin)), &r);
    if (rc)
        return rc;
    if (store_result_rows(r))
        *ret = deploy_row(r, 0);
    else
        rc = BE_DEPLOY_NOT_FOUND;
    store_result_free(r);
    return rc;
}

int deploy_list(struct app *app, const char *env_id, uint64_t owner_uin, uint64_t offset,
                uint64_t limit, json_t **ret_list, uint64_t *ret_total)
{
    struct store_result *r = NULL;
    int rc = db_query(app, "SELECT COUNT(*) FROM deploys WHERE env_id = $1 AND owner_uin = $2",
                      SV_ARGS(SV_TEXT(env_id), SV_I64(owner_uin)), &r);
    if (rc)
        return rc;
    uint64_t total = (uint64_t)store_result_i64(r, 0, 0);
    store_result_free(r);
    rc = db_query(app,
                  "SELECT " DEPLOY_COLS " FROM deploys WHERE env_id = $1 AND owner_uin = $2"
                  " ORDER BY created_at DESC, id DESC LIMIT $3 OFFSET $4",
                  SV_ARGS(SV_TEXT(env_id), SV_I64(owner_uin), SV_I64(limit), SV_I64(offset)), &r);
    if (rc)
        return rc;
    json_t *list = json_array();
    for (size_t i = 0; i < store_result_rows(r); i++)
        json_array_append_new(list, deploy_row(r, i));
    store_result_free(r);
    *ret_list = list;
    *ret_total = total;
    return BE_OK;
}

int deploy_log_read(struct app *app, const char *id, uint64_t owner_uin, uint64_t after,
                    uint64_t limit, unsigned wait_ms, json_t **ret_lines, uint64_t *ret_next,
                    bool *ret_done)
{
    uint64_t until = time_mono_ns() + (uint64_t)wait_ms * 1000000u;
    for (;;) {
        struct store_result *r = NULL;
        int rc = db_query(app, "SELECT state FROM deploys WHERE id = $1 AND owner_uin = $2",
                          SV_ARGS(SV_TEXT(id), SV_I64(owner_uin)), &r);
        if (rc)
            return rc;
        if (!store_result_rows(r)) {
            store_result_free(r);
            return BE_DEPLOY_NOT_FOUND;
        }
        bool done = strcmp(store_result_text(r, 0, 0), "RUNNING") &&
                    strcmp(store_result_text(r, 0, 0), "QUEUED");
        store_result_free(r);
        rc = db_query(app,
                      "SELECT seq, at, level, step, msg FROM deploy_log WHERE deploy_id = $1"
                      " AND seq > $2 ORDER BY seq LIMIT $3",
                      SV_ARGS(SV_TEXT(id), SV_I64(after), SV_I64(limit)), &r);
        if (rc)
            return rc;
        size_t n = store_result_rows(r);
        if (n || done || time_mono_ns() >= until) {
            json_t *lines = json_array();
            uint64_t next = after;
            for (size_t i = 0; i < n; i++) {
                json_t *o = json_object();
                next = (uint64_t)store_result_i64(r, i, 0);
                json_object_set_new(o, "Seq", json_integer((json_int_t)next));
                set_ms_time(o, "Time", store_result_i64(r, i, 1));
                json_object_set_new(o, "Level", text_or_null(r, i, 2));
                json_object_set_new(o, "Step", text_or_null(r, i, 3));
                json_object_set_new(o, "Message", text_or_null(r, i, 4));
                json_array_append_new(lines, o);
            }
            store_result_free(r);
            *ret_lines = lines;
            *ret_next = next;
            *ret_done = done && n < limit;
            return BE_OK;
        }
        store_result_free(r);
        sleep_ms(100);
    }
}

int deployer_env_status(struct deployer *d, const char *env_id, uint64_t owner_uin, json_t **ret)
{
    uint64_t owner = 0;
    if (d->src.env_owner(d->src.ctx, env_id, &owner) || owner != owner_uin)
        return BE_ENV_NOT_FOUND;
    struct store_result *r = NULL;
    int rc = db_query(d->app,
                      "SELECT live_version_n, prev_version_n, desired, last_deploy, lease_deploy,"
                      " lease_until FROM env_runtime WHERE env_id = $1",
                      SV_ARGS(SV_TEXT(env_id)), &r);
    if (rc)
        return rc;
    json_t *o = json_object();
    bool row = store_result_rows(r) > 0;
    json_object_set_new(o, "EnvId", json_string(env_id));
    json_object_set_new(o, "LiveVersion", json_integer(row ? store_result_i64(r, 0, 0) : 0));
    json_object_set_new(o, "PreviousVersion", json_integer(row ? store_result_i64(r, 0, 1) : 0));
    json_object_set_new(o, "Desired", json_string(row ? store_result_text(r, 0, 2) : "stopped"));
    json_object_set_new(o, "LastDeployId", row ? text_or_null(r, 0, 3) : json_null());
    bool active = row && store_result_i64(r, 0, 5) >= now_ms();
    json_object_set_new(o, "ActiveDeployId", active ? text_or_null(r, 0, 4) : json_null());
    json_object_set_new(o, "Sandbox", json_string(sandbox_mode_name(d->mode)));
    store_result_free(r);
    json_t *proc = json_null();
    pthread_mutex_lock(&d->mu);
    struct env_rt *e = env_get(d, env_id);
    if (e->live) {
        struct sup_status st;
        sup_proc_status(e->live, &st);
        proc = json_object();
        json_object_set_new(proc, "State", json_string(sup_state_name(st.state)));
        json_object_set_new(proc, "Pid", json_integer(st.pid));
        json_object_set_new(proc, "Port", json_integer(st.port));
        json_object_set_new(proc, "Version", json_integer((json_int_t)st.version));
        json_object_set_new(proc, "Restarts", json_integer(st.restarts));
        json_object_set_new(proc, "ExitCode", json_integer(st.exit_code));
        json_object_set_new(proc, "Signal", json_integer(st.term_signal));
        set_ms_time(proc, "StartedAt", st.started_at * 1000);
        if (st.state == SUP_CRASHLOOP)
            json_object_set_new(proc, "LastOutput", json_string(st.tail));
        free(st.tail);
    }
    pthread_mutex_unlock(&d->mu);
    json_object_set_new(o, "Process", proc);
    *ret = o;
    return BE_OK;
}

/* ---- recovery ---- */

/* Jobs whose lease expired belong to a dead server: mark them failed. */
static void expire_leases(struct deployer *d)
{
    int64_t now = now_ms();
    db_exec(d->app,
            "UPDATE deploys SET state = 'FAILED', error_code = 'SERVER_LOST',"
            " error_text = 'the server running this job stopped', finished_at = $1"
            " WHERE state IN ('QUEUED', 'RUNNING') AND id IN (SELECT lease_deploy FROM"
            " env_runtime WHERE lease_deploy IS NOT NULL AND lease_until < $1)",
            SV_ARGS(SV_I64(now)), NULL);
    db_exec(d->app,
            "UPDATE env_runtime SET lease_deploy = NULL, lease_owner = NULL, lease_until = 0"
            " WHERE lease_deploy IS NOT NULL AND lease_until < $1",
            SV_ARGS(SV_I64(now)), NULL);
}

/* Starts the live version of every environment that should run. */
static void restart_live(struct deployer *d)
{
    struct store_result *r = NULL;
    if (db_query(d->app,
                 "SELECT env_id, live_version_n FROM env_runtime WHERE desired = 'running'"
                 " AND live_version_n > 0",
                 NULL, 0, &r))
        return;
    for (size_t i = 0; i < store_result_rows(r) && !d->closing; i++) {
        struct job j;
        memset(&j, 0, sizeof(j));
        j.d = d;
        snprintf(j.env_id, sizeof(j.env_id), "%s", store_result_text(r, i, 0));
        j.kind = DEPLOY_KIND_RESTART;
        j.step = "RECOVER";
        buf_init(&j.err_text);
        j.deadline_ns = time_mono_ns() + (uint64_t)d->opts.total_timeout_ms * 1000000u;
        if (d->mode == SANDBOX_NONE && !d->opts.allow_unsandboxed)
            log_warn("deploy: %s: not restarted: no sandbox", j.env_id);
        else if (run_deploy(&j))
            log_warn("deploy: %s: live version not restarted: %s: %s", j.env_id, j.err_code,
                     j.err_text.data);
        else
            log_info("deploy: %s: live version %lld started again", j.env_id,
                     (long long)store_result_i64(r, i, 1));
        buf_release(&j.err_text);
    }
    store_result_free(r);
}

static void *janitor(void *arg)
{
    struct deployer *d = arg;
    expire_leases(d);
    restart_live(d);
    pthread_mutex_lock(&d->mu);
    while (!d->closing) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 1;
        pthread_cond_timedwait(&d->changed, &d->mu, &ts);
        if (d->closing)
            break;
        pthread_mutex_unlock(&d->mu);
        expire_leases(d);
        pthread_mutex_lock(&d->mu);
        /* Reap finished jobs. */
        for (struct job **pp = &d->jobs; *pp;) {
            struct job *j = *pp;
            if (!j->finished) {
                pp = &j->next;
                continue;
            }
            *pp = j->next;
            pthread_join(j->thread, NULL);
            buf_release(&j->err_text);
            free(j);
        }
    }
    pthread_mutex_unlock(&d->mu);
    return NULL;
}

/* ---- life cycle ---- */

int deployer_new(struct app *app, const struct deployer_options *opts,
                 const struct deploy_source *src, struct deployer **ret, struct be_diag *diag)
{
    struct deployer *d = xcalloc(1, sizeof(*d));
    d->app = app;
    d->opts = *opts;
    d->root = xstrdup(opts->root_dir);
    d->bwrap = xstrdup(opts->bwrap && *opts->bwrap ? opts->bwrap : "/usr/bin/bwrap");
    d->health_path = xstrdup(opts->health_path ? opts->health_path : "");
    d->src = *src;
    pthread_mutex_init(&d->mu, NULL);
    pthread_cond_init(&d->changed, NULL);
    crypto_uuid4(d->instance);
    struct be_diag why = {""};
    d->mode = sandbox_selftest(d->bwrap, &why);
    snprintf(d->sandbox_reason, sizeof(d->sandbox_reason), "%s", why.msg);
    if (opts->cgroup_dir && *opts->cgroup_dir) {
        struct be_diag cg = {""};
        if (sandbox_cgroup_check(opts->cgroup_dir, &cg))
            log_warn("deploy: cgroup limits off: %s", cg.msg);
        else
            d->cgroup_dir = xstrdup(opts->cgroup_dir);
    }
    struct supervisor_options so = {
        .mode = d->mode,
        .bwrap = d->bwrap,
        .limits = opts->limits,
        .cgroup_dir = d->cgroup_dir,
        .backoff_ms = opts->backoff_ms,
        .backoff_max_ms = opts->backoff_max_ms,
        .crash_window_s = opts->crash_window_s,
        .crash_max = opts->crash_max,
        .stop_grace_ms = opts->drain_grace_ms,
    };
    d->router = router_new();
    int rc = mkdir_p(d->root) ? be_fail(diag, BE_INTERNAL, "cannot create %s", d->root)
                              : supervisor_new(&so, &d->sup, diag);
    if (!rc && pthread_create(&d->janitor, NULL, janitor, d))
        rc = be_fail(diag, BE_INTERNAL, "cannot start the deploy janitor");
    if (rc) {
        deployer_free(d);
        return rc;
    }
    d->janitor_started = true;
    *ret = d;
    return BE_OK;
}

void deployer_free(struct deployer *d)
{
    if (!d)
        return;
    pthread_mutex_lock(&d->mu);
    d->closing = true;
    pthread_cond_broadcast(&d->changed);
    pthread_mutex_unlock(&d->mu);
    if (d->janitor_started)
        pthread_join(d->janitor, NULL);
    /* Jobs see `closing` at their next check and finish. */
    for (struct job *j = d->jobs, *next; j; j = next) {
        next = j->next;
        pthread_join(j->thread, NULL);
        buf_release(&j->err_text);
        free(j);
    }
    supervisor_free(d->sup);
    for (struct env_rt *e = d->envs, *next; e; e = next) {
        next = e->next;
        sup_proc_free(e->live);
        free(e->live_dir);
        runlog_free(e->log);
        free(e);
    }
    router_free(d->router);
    pthread_cond_destroy(&d->changed);
    pthread_mutex_destroy(&d->mu);
    free(d->root);
    free(d->bwrap);
    free(d->cgroup_dir);
    free(d->health_path);
    free(d);
}

const char *deployer_sandbox(const struct deployer *d)
{
    return sandbox_mode_name(d->mode);
}

const char *deployer_sandbox_reason(const struct deployer *d)
{
    return d->sandbox_reason;
}

struct router *deployer_router(struct deployer *d)
{
    return d->router;
}

const struct deploy_source *deployer_source(const struct deployer *d)
{
    return &d->src;
}
