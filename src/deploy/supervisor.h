/* The supervisor: runs apps in sandboxes (deploy/sandbox.h), one process per
 * started version, captures their stdout and stderr line by line into the
 * environment's runtime log (deploy/runlog.h) and an in-memory tail, restarts
 * a crashed app with exponential back-off, and gives up with CRASHLOOP after
 * more than crash_max crashes within crash_window_s.
 *
 * One thread owns every child: it forks them (so PR_SET_PDEATHSIG, which
 * follows the forking thread, ties them to the supervisor's life), reads
 * their pipes and reaps them. supervisor_free() stops all of them: SIGTERM to
 * the app's process tree, SIGKILL after the grace period. Thread-safe. */
#ifndef BINDERY_DEPLOY_SUPERVISOR_H
#define BINDERY_DEPLOY_SUPERVISOR_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/err.h"
#include "deploy/runlog.h"
#include "deploy/sandbox.h"

struct supervisor;
struct sup_proc;

struct supervisor_options {
    enum sandbox_mode mode;
    const char *bwrap; /* copied */
    struct sandbox_limits limits;
    const char *cgroup_dir; /* delegated cgroup v2 parent, or NULL; copied */
    unsigned backoff_ms;    /* first restart delay; doubles up to backoff_max_ms */
    unsigned backoff_max_ms;
    unsigned crash_window_s; /* CRASHLOOP: more than crash_max crashes in this window */
    unsigned crash_max;
    unsigned stop_grace_ms; /* SIGTERM to SIGKILL, for supervisor_free() */
};

int supervisor_new(const struct supervisor_options *opts, struct supervisor **ret,
                   struct be_diag *diag);
/* Stops every process still running, then frees. NULL is accepted. */
void supervisor_free(struct supervisor *s);
enum sandbox_mode supervisor_mode(const struct supervisor *s);

/* What to run. Strings and arrays are copied. */
struct sup_spec {
    const char *env_id;
    uint64_t version;
    const char *release_dir;
    const char *data_dir;
    const char *const *argv; /* as the app sees paths (sandbox_app_root) */
    const char *const *env;  /* "K=V", NULL terminated: the app's whole environment */
    uint16_t port;
    struct runlog *log; /* borrowed: must outlive the process */
};

enum sup_state {
    SUP_RUNNING,   /* a process is running */
    SUP_BACKOFF,   /* crashed; restarts after the back-off */
    SUP_CRASHLOOP, /* crashed too often; not restarted */
    SUP_EXITED,    /* exited and restarting is off (not yet switched live) */
    SUP_STOPPED,   /* stopped on request */
};
const char *sup_state_name(enum sup_state st);

struct sup_status {
    enum sup_state state;
    pid_t pid;
    uint16_t port;
    uint64_t version;
    unsigned restarts;
    int exit_code;      /* of the last exit, -1 when it was a signal */
    int term_signal;    /* of the last exit, 0 when none */
    bool oom_killed;    /* the last exit was the cgroup's OOM killer */
    int64_t started_at; /* unix seconds of the current process */
    char *tail;         /* the last lines of output, malloc'd (caller frees) */
};

/* Starts the process (in the supervisor's thread). Restarting on a crash is
 * off until sup_proc_set_restart(). *ret belongs to the caller: stop it,
 * then free it. */
int supervisor_start(struct supervisor *s, const struct sup_spec *spec, struct sup_proc **ret,
                     struct be_diag *diag);
void sup_proc_set_restart(struct sup_proc *p, bool on);
void sup_proc_status(struct sup_proc *p, struct sup_status *ret);
/* The last max_lines lines of output, malloc'd. */
char *sup_proc_tail(struct sup_proc *p, unsigned max_lines);
/* SIGTERM to the app's process tree, SIGKILL after grace_ms; returns once
 * the process is gone (state STOPPED). Idempotent. */
void sup_proc_stop(struct sup_proc *p, unsigned grace_ms);
/* Frees a process handle, stopping it first (with no grace) if needed. */
void sup_proc_free(struct sup_proc *p);

#endif
