/* The sandbox a deployed app runs in (docs/deploy.md): bubblewrap with new
 * user, PID, IPC, UTS and cgroup namespaces, read-only /usr and the release
 * tree at /app, one writable data directory at /data, a private /tmp, a
 * cleared environment, every capability dropped, a libseccomp filter, and
 * rlimits set before exec. The network namespace is the host's: the app must
 * listen on 127.0.0.1:$PORT, where the reverse proxy reaches it.
 *
 * Mode "none" runs the same command without namespaces (rlimits, the seccomp
 * filter and the cleared environment still apply); the caller decides whether
 * that is allowed (deploy.allow_unsandboxed). */
#ifndef BINDERY_DEPLOY_SANDBOX_H
#define BINDERY_DEPLOY_SANDBOX_H

#include <stdint.h>
#include <sys/types.h>

#include "core/err.h"

enum sandbox_mode { SANDBOX_NONE, SANDBOX_BWRAP };

/* "bwrap" or "none". */
const char *sandbox_mode_name(enum sandbox_mode mode);

struct sandbox_limits {
    uint64_t nofile; /* RLIMIT_NOFILE */
    uint64_t nproc;  /* RLIMIT_NPROC (0 = leave as is) */
    uint64_t fsize;  /* RLIMIT_FSIZE in bytes */
    uint64_t memory; /* cgroup memory.max in bytes (0 = none); needs a cgroup */
    uint64_t pids;   /* cgroup pids.max (0 = none); needs a cgroup */
};

struct sandbox_spec {
    enum sandbox_mode mode;
    const char *bwrap;       /* path of the bwrap binary */
    const char *release_dir; /* host path, bound read-only at /app; may be NULL */
    const char *data_dir;    /* host path, bound writable at /data; may be NULL */
    /* The command; paths as the app sees them (sandbox_app_root() gives the
     * root of the release tree in this mode). NULL terminated. */
    const char *const *argv;
    /* The whole environment, "KEY=VALUE", NULL terminated (nothing of the
     * server's environment is passed on). */
    const char *const *env;
    struct sandbox_limits limits;
    /* A cgroup v2 directory owned by the server (delegated), or NULL: the
     * child is placed in a new sub-group `name` there before it execs. */
    const char *cgroup_parent;
    const char *cgroup_name;
    int stdout_fd, stderr_fd; /* the child's stdout and stderr */
};

/* Where the release tree appears to the app: "/app" in a bwrap sandbox, the
 * host path release_dir otherwise. */
const char *sandbox_app_root(enum sandbox_mode mode, const char *release_dir);
/* Where the data directory appears to the app. */
const char *sandbox_data_root(enum sandbox_mode mode, const char *data_dir);

/* Starts the command. The child gets a new process group, dies with the
 * calling thread's process (PR_SET_PDEATHSIG, bwrap --die-with-parent), and
 * has only stdin (/dev/null), stdout and stderr open. *ret_pid is the
 * child's pid (bwrap itself in bwrap mode: signals to it reach the app, and
 * its exit status is the app's). On error nothing is left running. */
int sandbox_spawn(const struct sandbox_spec *spec, pid_t *ret_pid, struct be_diag *diag);

/* Checks that dir (deploy.cgroup_dir) is a cgroup v2 directory this
 * process may create sub-groups in, with the memory and pids controllers
 * enabled for them (a delegated subtree): BE_OK, or BE_NOT_FOUND with the
 * reason in diag. */
int sandbox_cgroup_check(const char *dir, struct be_diag *diag);

/* Did the cgroup `name` below parent see an OOM kill? false when unknown. */
int sandbox_cgroup_oom_killed(const char *parent, const char *name);
/* Removes the (empty) cgroup; harmless when absent. */
void sandbox_cgroup_remove(const char *parent, const char *name);

/* Runs `true` in a bwrap sandbox with the full profile: SANDBOX_BWRAP when
 * it works, SANDBOX_NONE with the reason in diag otherwise. */
enum sandbox_mode sandbox_selftest(const char *bwrap, struct be_diag *diag);

#endif
