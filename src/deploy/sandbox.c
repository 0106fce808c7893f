#include "deploy/sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/mem.h"
#include "core/timeutil.h"
#include "core/banned.h"

/* The fd number the seccomp program has in the child (bwrap --seccomp). */
#define SECCOMP_FD 3
#define MAX_ARGS   96

const char *sandbox_mode_name(enum sandbox_mode mode)
{
    return mode == SANDBOX_BWRAP ? "bwrap" : "none";
}

const char *sandbox_app_root(enum sandbox_mode mode, const char *release_dir)
{
    return mode == SANDBOX_BWRAP ? "/app" : release_dir;
}

const char *sandbox_data_root(enum sandbox_mode mode, const char *data_dir)
{
    return mode == SANDBOX_BWRAP ? "/data" : data_dir;
}

/* ---- seccomp ---- */

/* Syscalls an app never needs and an escape often does: they fail with
 * EPERM. Names unknown to this libseccomp are skipped. */
static const char *const denied_syscalls[] = {
    "ptrace",
    "mount",
    "umount2",
    "pivot_root",
    "swapon",
    "swapoff",
    "reboot",
    "kexec_load",
    "kexec_file_load",
    "init_module",
    "finit_module",
    "delete_module",
    "bpf",
    "perf_event_open",
    "keyctl",
    "add_key",
    "request_key",
    "unshare",
    "setns",
    "userfaultfd",
    "open_by_handle_at",
    "process_vm_writev",
    "process_vm_readv",
    "acct",
    "quotactl",
    "settimeofday",
    "clock_settime",
    "fsopen",
    "fsmount",
    "move_mount",
    "open_tree",
    "name_to_handle_at",
    "iopl",
    "ioperm",
    "lookup_dcookie",
    "vhangup",
};

static const unsigned long namespace_flags[] = {CLONE_NEWNS,    CLONE_NEWUSER, CLONE_NEWPID,
                                                CLONE_NEWNET,   CLONE_NEWIPC,  CLONE_NEWUTS,
                                                CLONE_NEWCGROUP};

/* Builds the filter and exports it as BPF into a sealed memfd. */
static int seccomp_memfd(int *ret_fd, struct be_diag *diag)
{
    int fd = -1, rc = BE_INTERNAL;
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
    if (!ctx)
        return be_fail(diag, BE_INTERNAL, "seccomp_init failed");
    for (size_t i = 0; i < sizeof(denied_syscalls) / sizeof(denied_syscalls[0]); i++) {
        int nr = seccomp_syscall_resolve_name(denied_syscalls[i]);
        if (nr == __NR_SCMP_ERROR)
            continue;
        if (seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), nr, 0)) {
            be_fail(diag, BE_INTERNAL, "seccomp rule for %s failed", denied_syscalls[i]);
            goto out;
        }
    }
    /* clone() may not create namespaces; clone3() keeps its flags in memory
     * a filter cannot read, so it fails with ENOSYS and libc falls back to
     * clone(). */
    for (size_t i = 0; i < sizeof(namespace_flags) / sizeof(namespace_flags[0]); i++) {
        if (seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1,
                             SCMP_A0(SCMP_CMP_MASKED_EQ, namespace_flags[i], namespace_flags[i]))) {
            be_fail(diag, BE_INTERNAL, "seccomp rule for clone failed");
            goto out;
        }
    }
    int clone3 = seccomp_syscall_resolve_name("clone3");
    if (clone3 != __NR_SCMP_ERROR && seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), clone3, 0)) {
        be_fail(diag, BE_INTERNAL, "seccomp rule for clone3 failed");
        goto out;
    }
    fd = memfd_create("bindery-seccomp", MFD_CLOEXEC);
    if (fd < 0 || seccomp_export_bpf(ctx, fd) || lseek(fd, 0, SEEK_SET) != 0) {
        be_fail(diag, BE_INTERNAL, "cannot export the seccomp filter: %s", strerror(errno));
        goto out;
    }
    *ret_fd = fd;
    fd = -1;
    rc = BE_OK;
out:
    if (fd >= 0)
        close(fd);
    seccomp_release(ctx);
    return rc;
}

/* The exported program, read back for mode "none", which installs it itself
 * (prctl needs the program in memory; the child may not allocate). */
static int seccomp_load_program(int fd, struct sock_fprog *ret, struct be_diag *diag)
{
    struct stat st;
    if (fstat(fd, &st) || st.st_size <= 0 || st.st_size % (off_t)sizeof(struct sock_filter))
        return be_fail(diag, BE_INTERNAL, "bad seccomp program size");
    struct sock_filter *prog = xmalloc((size_t)st.st_size);
    if (pread(fd, prog, (size_t)st.st_size, 0) != st.st_size) {
        free(prog);
        return be_fail(diag, BE_INTERNAL, "cannot read the seccomp program");
    }
    ret->len = (unsigned short)(st.st_size / (off_t)sizeof(struct sock_filter));
    ret->filter = prog;
    return BE_OK;
}

/* ---- argv ---- */

struct args {
    const char *v[MAX_ARGS];
    size_t n;
};

static void add(struct args *a, const char *s)
{
    if (a->n + 1 < MAX_ARGS)
        a->v[a->n++] = s;
}

static void add3(struct args *a, const char *x, const char *y, const char *z)
{
    add(a, x);
    add(a, y);
    if (z)
        add(a, z);
}

/* The bwrap command line of spec; strings borrowed from spec and literals. */
static int bwrap_args(const struct sandbox_spec *spec, struct args *a, struct be_diag *diag)
{
    add(a, spec->bwrap);
    add(a, "--unshare-user");
    add(a, "--unshare-pid");
    add(a, "--unshare-ipc");
    add(a, "--unshare-uts");
    add(a, "--unshare-cgroup-try");
    add3(a, "--hostname", "app", NULL);
    add(a, "--die-with-parent");
    add(a, "--new-session");
    add3(a, "--cap-drop", "ALL", NULL);
    add3(a, "--uid", "65534", NULL);
    add3(a, "--gid", "65534", NULL);
    add3(a, "--ro-bind", "/usr", "/usr");
    /* Debian's merged /usr: recreate the top-level links. */
    add3(a, "--symlink", "usr/bin", "/bin");
    add3(a, "--symlink", "usr/sbin", "/sbin");
    add3(a, "--symlink", "usr/lib", "/lib");
    add3(a, "--symlink", "usr/lib64", "/lib64");
    add3(a, "--ro-bind-try", "/etc/ssl", "/etc/ssl");
    add3(a, "--ro-bind-try", "/etc/ca-certificates", "/etc/ca-certificates");
    add3(a, "--ro-bind-try", "/etc/resolv.conf", "/etc/resolv.conf");
    add3(a, "--ro-bind-try", "/etc/hosts", "/etc/hosts");
    add3(a, "--ro-bind-try", "/etc/localtime", "/etc/localtime");
    add3(a, "--ro-bind-try", "/etc/nsswitch.conf", "/etc/nsswitch.conf");
    add3(a, "--proc", "/proc", NULL);
    add3(a, "--dev", "/dev", NULL);
    add3(a, "--tmpfs", "/tmp", NULL);
    if (spec->release_dir)
        add3(a, "--ro-bind", spec->release_dir, "/app");
    if (spec->data_dir)
        add3(a, "--bind", spec->data_dir, "/data");
    add3(a, "--chdir", spec->release_dir ? "/app" : "/", NULL);
    add3(a, "--seccomp", "3", NULL);
    add(a, "--");
    for (size_t i = 0; spec->argv[i]; i++)
        add(a, spec->argv[i]);
    if (a->n + 1 >= MAX_ARGS)
        return be_fail(diag, BE_INVALID_PARAMETER, "the sandboxed command has too many arguments");
    a->v[a->n] = NULL;
    return BE_OK;
}

/* ---- cgroups ---- */

static int write_file(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    size_t len = strlen(text);
    ssize_t w = write(fd, text, len);
    close(fd);
    return w == (ssize_t)len ? 0 : -1;
}

static bool file_has_word(const char *path, const char *word)
{
    char text[512] = "";
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    ssize_t n = read(fd, text, sizeof(text) - 1);
    close(fd);
    if (n <= 0)
        return false;
    text[n] = '\0';
    size_t wl = strlen(word);
    for (const char *p = text; (p = strstr(p, word)); p += wl)
        if ((p == text || p[-1] == ' ') && (p[wl] == ' ' || p[wl] == '\n' || !p[wl]))
            return true;
    return false;
}

int sandbox_cgroup_check(const char *dir, struct be_diag *diag)
{
    struct buf p = BUF_INIT;
    int rc = BE_OK;
    if (!dir || !*dir) {
        rc = be_fail(diag, BE_NOT_FOUND, "deploy.cgroup_dir is not set");
        goto out;
    }
    buf_addf(&p, "%s/cgroup.subtree_control", dir);
    if (access(p.data, W_OK)) {
        rc = be_fail(diag, BE_NOT_FOUND, "%s is not a writable cgroup v2 directory", dir);
        goto out;
    }
    if (!file_has_word(p.data, "memory") || !file_has_word(p.data, "pids"))
        rc = be_fail(diag, BE_NOT_FOUND,
                     "%s does not enable the memory and pids controllers for its sub-groups", dir);
out:
    buf_release(&p);
    return rc;
}

/* Creates parent/name with the limits and moves pid into it. */
static int cgroup_place(const struct sandbox_spec *spec, pid_t pid, struct be_diag *diag)
{
    struct buf dir = BUF_INIT, f = BUF_INIT;
    char num[32];
    int rc = BE_OK;
    buf_addf(&dir, "%s/%s", spec->cgroup_parent, spec->cgroup_name);
    if (mkdir(dir.data, 0755) && errno != EEXIST) {
        rc = be_fail(diag, BE_INTERNAL, "cannot create cgroup %s: %s", dir.data, strerror(errno));
        goto out;
    }
    if (spec->limits.memory) {
        buf_addf(&f, "%s/memory.max", dir.data);
        snprintf(num, sizeof(num), "%llu", (unsigned long long)spec->limits.memory);
        write_file(f.data, num);
        buf_reset(&f);
        buf_addf(&f, "%s/memory.swap.max", dir.data);
        write_file(f.data, "0");
        buf_reset(&f);
    }
    if (spec->limits.pids) {
        buf_addf(&f, "%s/pids.max", dir.data);
        snprintf(num, sizeof(num), "%llu", (unsigned long long)spec->limits.pids);
        write_file(f.data, num);
        buf_reset(&f);
    }
    buf_addf(&f, "%s/cgroup.procs", dir.data);
    snprintf(num, sizeof(num), "%d", (int)pid);
    if (write_file(f.data, num))
        rc = be_fail(diag, BE_INTERNAL, "cannot move the app into cgroup %s: %s", dir.data,
                     strerror(errno));
out:
    buf_release(&dir);
    buf_release(&f);
    return rc;
}

int sandbox_cgroup_oom_killed(const char *parent, const char *name)
{
    if (!parent || !name)
        return 0;
    struct buf p = BUF_INIT;
    buf_addf(&p, "%s/%s/memory.events", parent, name);
    char text[1024] = "";
    int fd = open(p.data, O_RDONLY | O_CLOEXEC);
    buf_release(&p);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, text, sizeof(text) - 1);
    close(fd);
    if (n <= 0)
        return 0;
    text[n] = '\0';
    const char *k = strstr(text, "oom_kill ");
    return k && k[9] != '0';
}

void sandbox_cgroup_remove(const char *parent, const char *name)
{
    if (!parent || !name)
        return;
    struct buf p = BUF_INIT;
    buf_addf(&p, "%s/%s", parent, name);
    rmdir(p.data);
    buf_release(&p);
}

/* ---- spawn ---- */

static void set_limit(int resource, uint64_t value)
{
    if (!value)
        return;
    struct rlimit rl = {(rlim_t)value, (rlim_t)value};
    setrlimit(resource, &rl);
}

/* The child between fork and exec: async-signal-safe calls only. Reports a
 * failure as an errno on err_fd and exits. */
static void child(const struct sandbox_spec *spec, const char *const *argv, pid_t parent,
                  int null_fd, int seccomp_fd, const struct sock_fprog *prog, int go_fd, int err_fd)
{
    int e = 0;
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    for (int s = 1; s < NSIG; s++)
        if (s != SIGKILL && s != SIGSTOP)
            signal(s, SIG_DFL);
    setsid();
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) || getppid() != parent)
        _exit(127);
    if (go_fd >= 0) {
        char c;
        if (read(go_fd, &c, 1) != 1)
            _exit(127);
    }
    /* Move everything above the target numbers first, so that no dup2
     * below overwrites a descriptor still to be moved. */
    int fds[5] = {null_fd, spec->stdout_fd, spec->stderr_fd, seccomp_fd, err_fd};
    for (int i = 0; i < 5; i++)
        if ((fds[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 10)) < 0)
            goto fail;
    err_fd = fds[4];
    for (int i = 0; i < 5; i++)
        if (dup2(fds[i], i) < 0)
            goto fail;
    /* dup2 clears FD_CLOEXEC: fd 4 must close on exec again. */
    if (fcntl(4, F_SETFD, FD_CLOEXEC))
        goto fail;
    err_fd = 4;
    /* Nothing of the server's descriptors reaches the app. */
    syscall(SYS_close_range, 5, ~0u, 0);
    set_limit(RLIMIT_NOFILE, spec->limits.nofile);
    set_limit(RLIMIT_NPROC, spec->limits.nproc);
    set_limit(RLIMIT_FSIZE, spec->limits.fsize);
    struct rlimit nocore = {0, 0};
    setrlimit(RLIMIT_CORE, &nocore);
    if (spec->mode == SANDBOX_BWRAP) {
        execve(spec->bwrap, (char *const *)argv, (char *const *)spec->env);
        goto fail;
    }
    close(SECCOMP_FD);
    if (spec->release_dir && chdir(spec->release_dir))
        goto fail;
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, prog))
        goto fail;
    execve(argv[0], (char *const *)argv, (char *const *)spec->env);
fail:
    e = errno;
    if (write(err_fd, &e, sizeof(e)) < 0)
        _exit(127);
    _exit(127);
}

int sandbox_spawn(const struct sandbox_spec *spec, pid_t *ret_pid, struct be_diag *diag)
{
    int rc, seccomp_fd = -1, null_fd = -1, errp[2] = {-1, -1}, gop[2] = {-1, -1};
    struct sock_fprog prog = {0, NULL};
    struct args a = {{0}, 0};
    const char *const *argv = spec->argv;
    pid_t pid = -1;
    if (!spec->argv || !spec->argv[0])
        return be_fail(diag, BE_INVALID_PARAMETER, "no command to run");
    if ((rc = seccomp_memfd(&seccomp_fd, diag)))
        return rc;
    if (spec->mode == SANDBOX_BWRAP) {
        if ((rc = bwrap_args(spec, &a, diag)))
            goto out;
        argv = a.v;
    } else if ((rc = seccomp_load_program(seccomp_fd, &prog, diag))) {
        goto out;
    }
    bool cgroup = spec->cgroup_parent && spec->cgroup_name;
    null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (null_fd < 0 || pipe2(errp, O_CLOEXEC) || (cgroup && pipe2(gop, O_CLOEXEC))) {
        rc = be_fail(diag, BE_INTERNAL, "cannot prepare the child: %s", strerror(errno));
        goto out;
    }
    pid_t parent = getpid();
    pid = fork();
    if (pid < 0) {
        rc = be_fail(diag, BE_INTERNAL, "fork failed: %s", strerror(errno));
        goto out;
    }
    if (pid == 0)
        child(spec, argv, parent, null_fd, seccomp_fd, &prog, gop[0], errp[1]);
    close(errp[1]);
    errp[1] = -1;
    if (cgroup) {
        rc = cgroup_place(spec, pid, diag);
        if (rc || write(gop[1], "g", 1) != 1) {
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
            rc = rc ? rc : be_fail(diag, BE_INTERNAL, "cannot release the child");
            goto out;
        }
    }
    int e = 0;
    ssize_t n;
    do
        n = read(errp[0], &e, sizeof(e));
    while (n < 0 && errno == EINTR);
    if (n > 0) {
        waitpid(pid, NULL, 0);
        rc = be_fail(diag, BE_FAILED, "cannot start %s: %s", argv[0], strerror(e));
        goto out;
    }
    *ret_pid = pid;
    rc = BE_OK;
out:
    for (int i = 0; i < 2; i++) {
        if (errp[i] >= 0)
            close(errp[i]);
        if (gop[i] >= 0)
            close(gop[i]);
    }
    if (null_fd >= 0)
        close(null_fd);
    if (seccomp_fd >= 0)
        close(seccomp_fd);
    free(prog.filter);
    return rc;
}

enum sandbox_mode sandbox_selftest(const char *bwrap, struct be_diag *diag)
{
    static const char *const argv[] = {"/usr/bin/true", NULL};
    static const char *const env[] = {"PATH=/usr/bin:/bin", NULL};
    if (!bwrap || access(bwrap, X_OK)) {
        be_fail(diag, BE_NOT_FOUND, "%s is not installed (Debian package bubblewrap)",
                bwrap ? bwrap : "bwrap");
        return SANDBOX_NONE;
    }
    int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (devnull < 0) {
        be_fail(diag, BE_INTERNAL, "cannot open /dev/null");
        return SANDBOX_NONE;
    }
    struct sandbox_spec spec = {.mode = SANDBOX_BWRAP,
                                .bwrap = bwrap,
                                .argv = argv,
                                .env = env,
                                .limits = {.nofile = 64},
                                .stdout_fd = devnull,
                                .stderr_fd = devnull};
    pid_t pid;
    int rc = sandbox_spawn(&spec, &pid, diag);
    close(devnull);
    if (rc)
        return SANDBOX_NONE;
    int status = 0;
    uint64_t deadline = time_mono_ns() + 5000000000ull;
    pid_t w;
    while ((w = waitpid(pid, &status, WNOHANG)) == 0 && time_mono_ns() < deadline) {
        struct timespec ts = {0, 5000000};
        nanosleep(&ts, NULL);
    }
    if (w == 0) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        be_fail(diag, BE_FAILED, "bwrap did not finish `true` within 5 s");
        return SANDBOX_NONE;
    }
    if (w < 0 || !WIFEXITED(status) || WEXITSTATUS(status)) {
        be_fail(diag, BE_FAILED,
                "bwrap cannot build the sandbox here (exit %d): the kernel or the container "
                "refuses user namespaces",
                WIFEXITED(status) ? WEXITSTATUS(status) : -1);
        return SANDBOX_NONE;
    }
    return SANDBOX_BWRAP;
}
