/* Deploy jobs (docs/deploy.md): one job per environment at a time, held by
 * a lease in the store; steps VALIDATE -> MATERIALIZE -> START -> HEALTHCHECK
 * -> SWITCH -> DRAIN, each logged (table deploy_log); a failure before
 * SWITCH leaves the old version serving and names the step and a stable code
 * (ENTRY_NOT_FOUND, START_CRASHED, START_TIMEOUT, HEALTHCHECK_TIMEOUT,
 * OOM_KILLED, CANCELED, DEPLOY_TIMEOUT, ...) with the app's last output.
 * Rollback, restart and stop are jobs too.
 *
 * The deployer owns the supervisor (the processes), the router (the proxy's
 * route table) and the runtime logs of this server. Jobs run in their own
 * threads; their state lives in the store, so any instance can read it and
 * cancel a job (the job sees the request at its next check). */
#ifndef BINDERY_DEPLOY_JOB_H
#define BINDERY_DEPLOY_JOB_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "app.h"
#include "deploy/release.h"
#include "deploy/router.h"
#include "deploy/runlog.h"
#include "deploy/sandbox.h"
#include "deploy/supervisor.h"

struct deployer;

struct deployer_options {
    const char *root_dir;   /* releases, data dirs, runtime logs below it */
    const char *bwrap;      /* the bwrap binary */
    bool allow_unsandboxed; /* run apps without a sandbox when bwrap fails */
    const char *cgroup_dir; /* delegated cgroup v2 parent, "" for none */
    struct sandbox_limits limits;
    const char *health_path;    /* "/healthz"; "" = alive and listening */
    unsigned start_timeout_ms;  /* START: until the app listens */
    unsigned health_timeout_ms; /* HEALTHCHECK: until the path answers 2xx */
    unsigned alive_ms;          /* "" health path: listening for this long */
    unsigned total_timeout_ms;  /* the whole job */
    unsigned drain_grace_ms;    /* DRAIN: in-flight requests, then SIGTERM -> SIGKILL */
    unsigned lease_ms;          /* the job's lease; renewed every lease_ms / 3 */
    unsigned backoff_ms, backoff_max_ms, crash_window_s, crash_max; /* supervisor */
    uint64_t log_segment_bytes;                                     /* runtime log rotation */
    unsigned log_segments;
};

/* Self-tests the sandbox, recovers from a previous server's death (jobs
 * whose lease expired are marked FAILED with SERVER_LOST; environments that
 * should run get their live version started again) and is ready for jobs.
 * src is copied (its ctx stays the caller's). The app must outlive it. */
int deployer_new(struct app *app, const struct deployer_options *opts,
                 const struct deploy_source *src, struct deployer **ret, struct be_diag *diag);
/* Cancels running jobs, waits for them, stops every process. NULL ok. */
void deployer_free(struct deployer *d);

/* "bwrap" or "none", and why not bwrap (empty when bwrap). */
const char *deployer_sandbox(const struct deployer *d);
const char *deployer_sandbox_reason(const struct deployer *d);
struct router *deployer_router(struct deployer *d);
const struct deploy_source *deployer_source(const struct deployer *d);

enum deploy_kind {
    DEPLOY_KIND_DEPLOY,
    DEPLOY_KIND_ROLLBACK,
    DEPLOY_KIND_RESTART,
    DEPLOY_KIND_STOP
};
const char *deploy_kind_name(enum deploy_kind k);

struct deploy_request {
    const char *env_id;
    enum deploy_kind kind;
    uint64_t version;      /* deploy: 0 = newest; rollback: 0 = the previous live one */
    uint64_t owner_uin;    /* the account the caller acts in: must own env_id */
    uint64_t requested_by; /* the principal's uin (0 = the server itself) */
};

/* Starts a job: BE_DEPLOY_IN_PROGRESS (diag names the running job) when the
 * environment has one, BE_ENV_NOT_FOUND when the caller's account does not
 * own it, BE_SANDBOX_UNAVAILABLE when apps may not run here. ret_id gets
 * the job's id ("dep-" and 16 hex digits). */
int deployer_submit(struct deployer *d, const struct deploy_request *req, char ret_id[32],
                    struct be_diag *diag);
/* Asks the job to stop at its next check (before SWITCH; later it finishes).
 * BE_DEPLOY_NOT_FOUND, BE_DEPLOY_FINISHED. */
int deployer_cancel(struct deployer *d, const char *id, uint64_t owner_uin, struct be_diag *diag);

/* A job as the API shows it (new reference): DeployId, EnvId, Kind, State,
 * Step, FromVersion, ToVersion, ErrorCode, ErrorMessage, CreatedAt,
 * StartedAt, FinishedAt. BE_DEPLOY_NOT_FOUND unless owner_uin owns it. */
int deploy_describe(struct app *app, const char *id, uint64_t owner_uin, json_t **ret);
/* The jobs of env_id, newest first (offset/limit), and their total count. */
int deploy_list(struct app *app, const char *env_id, uint64_t owner_uin, uint64_t offset,
                uint64_t limit, json_t **ret_list, uint64_t *ret_total);
/* Log lines of a job after sequence number `after` (up to limit), waiting up
 * to wait_ms for new ones while the job runs. ret_lines: [{Seq, Time,
 * Level, Step, Message}]; *ret_next: the cursor to pass next; *ret_done:
 * the job has finished. */
int deploy_log_read(struct app *app, const char *id, uint64_t owner_uin, uint64_t after,
                    uint64_t limit, unsigned wait_ms, json_t **ret_lines, uint64_t *ret_next,
                    bool *ret_done);
/* Waits up to timeout_ms for the job to finish; *ret_state gets its state
 * ("SUCCEEDED", "FAILED", "CANCELED", or the running one). */
int deployer_wait(struct deployer *d, const char *id, unsigned timeout_ms, char ret_state[16]);

/* The runtime log of env_id on this server (created on first use). */
int deployer_runtime_log(struct deployer *d, const char *env_id, struct runlog **ret,
                         struct be_diag *diag);
/* The environment's runtime state (new reference): EnvId, LiveVersion,
 * PreviousVersion, Desired, Process {State, Pid, Port, Restarts, ExitCode,
 * Signal, StartedAt, Version} or null, Sandbox, LastDeployId, ActiveDeployId. */
int deployer_env_status(struct deployer *d, const char *env_id, uint64_t owner_uin, json_t **ret);

#endif
