/* Bindery's deploy actions (service "bindery", version 2026-11-01;
 * docs/deploy.md): start a deploy, rollback, restart or stop job, read jobs
 * and their logs, cancel, read an environment's runtime log. CAM actions
 * deploy:*, resources qcs::deploy::uin/<owner>:env/<EnvId> — an action that
 * names a job is checked against the job's environment, so a policy limited
 * to one environment covers its jobs too. The work is done by the deployer
 * (deploy/job.h) that `serve` runs; without one the actions say so. */
#include <stdio.h>
#include <string.h>

#include "api/action.h"
#include "binding/flow.h"
#include "deploy/job.h"
#include "devenv/env.h"
#include "core/banned.h"

#define DEPLOY_API_VERSION "2026-11-01"
#define DEPLOY_ID_MAX      31
#define PAGE_MAX           100
#define OFFSET_MAX         1000000
#define LOG_LINES_MAX      1000
/* A long-poll holds the request at most this long (the CLI asks again). */
#define WAIT_SECONDS_MAX 20

static int resource_of_env(struct api_call *call, struct buf *out)
{
    env_resource(call->who->owner_uin, api_str(call, "EnvId"), out);
    return BE_OK;
}

/* The job's environment, when the job is the caller's account's; an
 * unknown job gets the account's every environment, `env/` + "*" (the
 * action then answers not found, after the CAM check, so that probing ids
 * says nothing). */
static int resource_of_deploy(struct api_call *call, struct buf *out)
{
    json_t *job = NULL;
    const char *env = NULL;
    if (deploy_describe(call->app, api_str(call, "DeployId"), call->who->owner_uin, &job) == BE_OK)
        env = json_string_value(json_object_get(job, "EnvId"));
    env_resource(call->who->owner_uin, env, out);
    json_decref(job);
    return BE_OK;
}

static int no_deployer(struct api_call *call)
{
    return be_fail(&call->diag, BE_DEPLOY_UNAVAILABLE,
                   "deploy is not running on this server (`bindery serve` starts it)");
}

/* BE_OK when the call's EnvId belongs to the caller's account; an
 * environment of another account reads as unknown, not as empty. */
static int env_owned(struct api_call *call, struct deployer *d)
{
    uint64_t owner = 0;
    const struct deploy_source *src = deployer_source(d);
    if (src->env_owner(src->ctx, api_str(call, "EnvId"), &owner) || owner != call->who->owner_uin)
        return BE_ENV_NOT_FOUND;
    return BE_OK;
}

/* Submits a job of kind for the call's EnvId and answers its id and state. */
static int submit(struct api_call *call, enum deploy_kind kind, uint64_t version)
{
    int rc;
    /* Running the app uses its link: WeChat confirms the authorization
     * still holds (a revoked one refuses with the re-authorize hint);
     * stopping needs nothing from WeChat. */
    if (kind != DEPLOY_KIND_STOP) {
        struct env e;
        if ((rc = env_get(call->app, call->who->owner_uin, api_str(call, "EnvId"), &e)))
            return rc;
        if ((rc = link_flow_verify(call->app, call->meta, call->who->owner_uin, e.appid, NULL,
                                   NULL, &call->diag)))
            return rc;
    }
    struct deployer *d = call->app->deploy;
    if (!d)
        return no_deployer(call);
    struct deploy_request req = {api_str(call, "EnvId"), kind, version, call->who->owner_uin,
                                 call->who->uin};
    char id[32];
    if ((rc = deployer_submit(d, &req, id, &call->diag)))
        return rc;
    json_t *job = NULL;
    if ((rc = deploy_describe(call->app, id, call->who->owner_uin, &job)))
        return rc;
    json_object_set_new(call->out, "DeployId", json_string(id));
    json_object_set_new(call->out, "Deploy", job);
    return BE_OK;
}

static int create_deploy(struct api_call *call)
{
    return submit(call, DEPLOY_KIND_DEPLOY, api_u64(call, "Version", 0));
}

static int rollback_env(struct api_call *call)
{
    return submit(call, DEPLOY_KIND_ROLLBACK, api_u64(call, "ToVersion", 0));
}

static int restart_env(struct api_call *call)
{
    return submit(call, DEPLOY_KIND_RESTART, 0);
}

static int stop_env(struct api_call *call)
{
    return submit(call, DEPLOY_KIND_STOP, 0);
}

static int cancel_deploy(struct api_call *call)
{
    struct deployer *d = call->app->deploy;
    if (!d)
        return no_deployer(call);
    int rc;
    const char *id = api_str(call, "DeployId");
    if ((rc = deployer_cancel(d, id, call->who->owner_uin, &call->diag)))
        return rc;
    json_t *job = NULL;
    if ((rc = deploy_describe(call->app, id, call->who->owner_uin, &job)))
        return rc;
    json_object_set_new(call->out, "Deploy", job);
    return BE_OK;
}

static int describe_deploy(struct api_call *call)
{
    json_t *job = NULL;
    int rc = deploy_describe(call->app, api_str(call, "DeployId"), call->who->owner_uin, &job);
    if (rc == BE_OK)
        json_object_set_new(call->out, "Deploy", job);
    return rc;
}

static int describe_deploys(struct api_call *call)
{
    struct deployer *d = call->app->deploy;
    if (!d)
        return no_deployer(call);
    int rc;
    if ((rc = env_owned(call, d)))
        return rc;
    json_t *list = NULL;
    uint64_t total = 0;
    rc = deploy_list(call->app, api_str(call, "EnvId"), call->who->owner_uin,
                     api_u64(call, "Offset", 0), api_u64(call, "Limit", 20), &list, &total);
    if (rc)
        return rc;
    json_object_set_new(call->out, "Deploys", list);
    json_object_set_new(call->out, "TotalCount", json_integer((json_int_t)total));
    return BE_OK;
}

static unsigned wait_ms(const struct api_call *call)
{
    return (unsigned)api_u64(call, "WaitSeconds", 0) * 1000u;
}

static int describe_deploy_log(struct api_call *call)
{
    json_t *lines = NULL;
    uint64_t next = 0;
    bool done = false;
    int rc = deploy_log_read(call->app, api_str(call, "DeployId"), call->who->owner_uin,
                             api_u64(call, "Cursor", 0), api_u64(call, "Limit", 200), wait_ms(call),
                             &lines, &next, &done);
    if (rc)
        return rc;
    json_object_set_new(call->out, "Lines", lines);
    json_object_set_new(call->out, "NextCursor", json_integer((json_int_t)next));
    json_object_set_new(call->out, "Finished", json_boolean(done));
    return BE_OK;
}

static int describe_runtime_log(struct api_call *call)
{
    struct deployer *d = call->app->deploy;
    if (!d)
        return no_deployer(call);
    int rc;
    if ((rc = env_owned(call, d)))
        return rc;
    struct runlog *log;
    if ((rc = deployer_runtime_log(d, api_str(call, "EnvId"), &log, &call->diag)))
        return rc;
    struct runlog_page page = {0};
    uint64_t cursor = api_has(call, "Cursor") ? api_u64(call, "Cursor", 0) : runlog_end(log);
    if ((rc = runlog_read(log, cursor, (size_t)api_u64(call, "Limit", 200), wait_ms(call), &page,
                          &call->diag)))
        return rc;
    json_object_set_new(call->out, "Lines", page.lines);
    json_object_set_new(call->out, "NextCursor", json_integer((json_int_t)page.next));
    json_object_set_new(call->out, "Truncated", json_boolean(page.truncated));
    return BE_OK;
}

static int describe_env_runtime(struct api_call *call)
{
    struct deployer *d = call->app->deploy;
    if (!d)
        return no_deployer(call);
    int rc;
    json_t *st = NULL;
    if ((rc = deployer_env_status(d, api_str(call, "EnvId"), call->who->owner_uin, &st)))
        return rc;
    json_object_set_new(call->out, "Runtime", st);
    return BE_OK;
}

#define P_END                                                                                      \
    {                                                                                              \
        NULL, 0, false, 0, 0                                                                       \
    }
#define P_ENV                                                                                      \
    {                                                                                              \
        "EnvId", API_STRING, true, 1, ENV_ID_MAX                                                   \
    }
#define P_DEPLOY                                                                                   \
    {                                                                                              \
        "DeployId", API_STRING, true, 1, DEPLOY_ID_MAX                                             \
    }
#define P_WAIT                                                                                     \
    {                                                                                              \
        "WaitSeconds", API_UINT64, false, 0, WAIT_SECONDS_MAX                                      \
    }

static const struct api_param env_params[] = {P_ENV, P_END};
static const struct api_param deploy_params[] = {P_DEPLOY, P_END};
static const struct api_param create_params[] = {
    P_ENV, {"Version", API_UINT64, false, 1, INT64_MAX}, P_END};
static const struct api_param rollback_params[] = {
    P_ENV, {"ToVersion", API_UINT64, false, 1, INT64_MAX}, P_END};
static const struct api_param list_params[] = {P_ENV,
                                               {"Offset", API_UINT64, false, 0, OFFSET_MAX},
                                               {"Limit", API_UINT64, false, 1, PAGE_MAX},
                                               P_END};
static const struct api_param deploy_log_params[] = {P_DEPLOY,
                                                     {"Cursor", API_UINT64, false, 0, INT64_MAX},
                                                     {"Limit", API_UINT64, false, 1, LOG_LINES_MAX},
                                                     P_WAIT,
                                                     P_END};
static const struct api_param runtime_log_params[] = {
    P_ENV,
    {"Cursor", API_UINT64, false, 0, INT64_MAX},
    {"Limit", API_UINT64, false, 1, LOG_LINES_MAX},
    P_WAIT,
    P_END};

#define ENV_ACTION(name, params, run)                                                              \
    {                                                                                              \
        "bindery", name, DEPLOY_API_VERSION, params, "deploy:" name, resource_of_env, run          \
    }
#define JOB_ACTION(name, params, run)                                                              \
    {                                                                                              \
        "bindery", name, DEPLOY_API_VERSION, params, "deploy:" name, resource_of_deploy, run       \
    }

const struct api_action api_deploy_actions[] = {
    ENV_ACTION("CreateDeploy", create_params, create_deploy),
    ENV_ACTION("RollbackEnvironment", rollback_params, rollback_env),
    ENV_ACTION("RestartEnvironment", env_params, restart_env),
    ENV_ACTION("StopEnvironment", env_params, stop_env),
    ENV_ACTION("DescribeDeploys", list_params, describe_deploys),
    ENV_ACTION("DescribeRuntimeLog", runtime_log_params, describe_runtime_log),
    ENV_ACTION("DescribeEnvironmentRuntime", env_params, describe_env_runtime),
    JOB_ACTION("DescribeDeploy", deploy_params, describe_deploy),
    JOB_ACTION("CancelDeploy", deploy_params, cancel_deploy),
    JOB_ACTION("DescribeDeployLog", deploy_log_params, describe_deploy_log),
    {NULL, NULL, NULL, NULL, NULL, NULL, NULL},
};
