/* Environments (一键开通), uploads (上传) and versions: service "bindery",
 * version 2026-11-01 (docs/environments.md). CAM actions deploy:*,
 * resources qcs::deploy::uin/<owner>:env/<EnvId> (:app/<AppId> for
 * CreateEnvironment). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/action.h"
#include "devenv/env.h"
#include "devenv/manifest.h"
#include "devenv/upload.h"
#include "devenv/upload_archive.h"
#include "devenv/version.h"
#include "core/banned.h"

#define DEVENV_VERSION   "2026-11-01"
#define OFFSET_MAX       1000000
#define WAIT_SECONDS_MAX 20
#define FILES_MAX        1000000

/* --- resources ------------------------------------------------------------------ */

static int app_resource(struct api_call *call, struct buf *out)
{
    env_app_resource(call->who->owner_uin, api_str(call, "AppId"), out);
    return BE_OK;
}

static int env_resource_of(struct api_call *call, struct buf *out)
{
    env_resource(call->who->owner_uin, api_str(call, "EnvId"), out);
    return BE_OK;
}

/* The environment of the upload; an unknown upload is "any environment"
 * for CAM, and the action then says it does not exist. */
static int upload_resource(struct api_call *call, struct buf *out)
{
    char env_id[ENV_ID_MAX + 1] = "";
    if (upload_env_of(call->app, call->who->owner_uin, api_str(call, "UploadId"), env_id,
                      sizeof(env_id)))
        env_id[0] = '\0';
    env_resource(call->who->owner_uin, env_id, out);
    return BE_OK;
}

/* --- rendering ------------------------------------------------------------------ */

static void set_text_or_null(json_t *o, const char *field, const char *s)
{
    json_object_set_new(o, field, s && *s ? json_string(s) : json_null());
}

static json_t *env_json(const struct env *e)
{
    json_t *o = json_object();
    json_object_set_new(o, "EnvId", json_string(e->env_id));
    json_object_set_new(o, "AppId", json_string(e->appid));
    json_object_set_new(o, "Name", json_string(e->name));
    json_object_set_new(o, "State", json_string(env_state_name(e->state)));
    json_object_set_new(o, "StateSeq", json_integer((json_int_t)e->state_seq));
    json_object_set_new(o, "Port", e->port ? json_integer((json_int_t)e->port) : json_null());
    json_object_set_new(o, "LatestVersion",
                        e->latest_version ? json_integer((json_int_t)e->latest_version)
                                          : json_null());
    set_text_or_null(o, "ErrorCode", e->error_code);
    set_text_or_null(o, "ErrorMessage", e->error_message);
    api_set_uin_string(o, "CreatedBy", e->created_by);
    api_set_time(o, "CreatedAt", e->created_at);
    api_set_time(o, "UpdatedAt", e->updated_at);
    return o;
}

static int add_steps(struct api_call *call, json_t *env, const char *env_id)
{
    struct env_step steps[ENV_STEPS];
    size_t n = 0;
    int rc = env_steps(call->app, env_id, steps, &n);
    if (rc)
        return rc;
    json_t *list = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *s = json_object();
        json_object_set_new(s, "Step", json_string(steps[i].step));
        json_object_set_new(s, "State", json_string(steps[i].state));
        json_object_set_new(s, "Attempts", json_integer((json_int_t)steps[i].attempts));
        set_text_or_null(s, "Error", steps[i].error);
        api_set_time(s, "UpdatedAt", steps[i].updated_at);
        json_array_append_new(list, s);
    }
    json_object_set_new(env, "Steps", list);
    return BE_OK;
}

static json_t *version_json(const struct version_info *v)
{
    json_t *o = json_object();
    json_object_set_new(o, "EnvId", json_string(v->env_id));
    json_object_set_new(o, "Version", json_integer((json_int_t)v->number));
    json_object_set_new(o, "Runtime", json_string(v->runtime));
    json_object_set_new(o, "Entry", json_string(v->entry));
    json_object_set_new(o, "Description", json_string(v->description));
    json_object_set_new(o, "UploadId", json_string(v->upload_id));
    json_object_set_new(o, "ManifestHash", json_string(v->manifest_hash));
    json_object_set_new(o, "FileCount", json_integer((json_int_t)v->nfiles));
    json_object_set_new(o, "TotalBytes", json_integer((json_int_t)v->bytes));
    api_set_uin_string(o, "CreatedBy", v->created_by);
    api_set_time(o, "CreatedAt", v->created_at);
    if (v->files) {
        json_t *files = json_array();
        for (size_t i = 0; i < v->nfiles; i++)
            json_array_append_new(files, json_pack("{s:s,s:s,s:I,s:i}", "Path", v->files[i].path,
                                                   "Sha256", v->files[i].sha256, "Size",
                                                   (json_int_t)v->files[i].size, "Mode",
                                                   (int)v->files[i].mode));
        json_object_set_new(o, "Files", files);
    }
    return o;
}

/* --- environments --------------------------------------------------------------- */

static int create_environment(struct api_call *call)
{
    struct env e;
    bool created = false;
    int rc =
        env_create(call->app, call->meta, call->who, api_str(call, "AppId"), api_str(call, "Name"),
                   api_str(call, "ClientToken"), &e, &created, &call->diag);
    if (rc)
        return rc;
    json_object_set_new(call->out, "EnvId", json_string(e.env_id));
    json_object_set_new(call->out, "Created", json_boolean(created));
    json_object_set_new(call->out, "Environment", env_json(&e));
    return BE_OK;
}

static int describe_environments(struct api_call *call)
{
    struct env *envs = NULL;
    size_t n = 0, total = 0;
    int rc = env_list(call->app, call->who->owner_uin, api_str(call, "AppId"),
                      (size_t)api_u64(call, "Offset", 0), (size_t)api_u64(call, "Limit", 20), &envs,
                      &n, &total);
    if (rc)
        return rc;
    json_t *list = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(list, env_json(&envs[i]));
    json_object_set_new(call->out, "Environments", list);
    json_object_set_new(call->out, "TotalCount", json_integer((json_int_t)total));
    free(envs);
    return BE_OK;
}

static int describe_environment(struct api_call *call)
{
    struct env e;
    const char *id = api_str(call, "EnvId");
    int rc;
    if (api_has(call, "WaitSeq")) {
        unsigned secs = (unsigned)api_u64(call, "WaitSeconds", 10);
        rc = env_wait(call->app, call->who->owner_uin, id, (int64_t)api_u64(call, "WaitSeq", 0),
                      secs * 1000u, &e);
    } else {
        rc = env_get(call->app, call->who->owner_uin, id, &e);
    }
    if (rc)
        return be_fail(&call->diag, rc, "no environment %.40s in this account", id);
    json_t *o = env_json(&e);
    json_object_set_new(call->out, "Environment", o);
    return add_steps(call, o, e.env_id);
}

static int delete_environment(struct api_call *call)
{
    bool gone = false;
    const char *id = api_str(call, "EnvId");
    int rc = env_delete(call->app, call->meta, call->who->owner_uin, call->who->uin, id, &gone,
                        &call->diag);
    if (rc == BE_ENV_NOT_FOUND)
        return be_fail(&call->diag, rc, "no environment %.40s in this account", id);
    if (rc)
        return rc;
    json_object_set_new(call->out, "EnvId", json_string(id));
    json_object_set_new(call->out, "State", json_string(gone ? "DELETED" : "DELETING"));
    return BE_OK;
}

/* --- uploads and versions ------------------------------------------------------- */

static int create_upload(struct api_call *call)
{
    const struct config *cfg = call->app->cfg;
    struct manifest_limits lim = {cfg->deploy_max_files, cfg->deploy_max_blob_bytes,
                                  cfg->deploy_max_version_bytes};
    struct manifest m = {NULL, 0, 0, ""};
    struct upload_created u;
    memset(&u, 0, sizeof(u));
    int rc = manifest_from_json(json_object_get(call->params, "Files"), &lim, &m, &call->diag);
    if (rc == BE_OK && m.n == 0)
        rc = be_fail(&call->diag, BE_MANIFEST_INVALID, "Files lists no file");
    if (rc == BE_OK)
        rc = upload_create(call->app, call->meta, call->who, api_str(call, "EnvId"), &m,
                           api_str(call, "Description"), &u, &call->diag);
    if (rc == BE_ENV_NOT_FOUND)
        rc = be_fail(&call->diag, rc, "no environment %.40s in this account",
                     api_str(call, "EnvId"));
    if (rc)
        goto out;
    json_t *missing = json_array();
    for (size_t i = 0; i < u.nmissing; i++) {
        struct buf url = BUF_INIT;
        upload_presign(call->app, u.upload_id, u.missing[i].sha256, u.expires_at, &url);
        json_array_append_new(missing, json_pack("{s:s,s:I,s:s,s:s}", "Sha256", u.missing[i].sha256,
                                                 "Size", (json_int_t)u.missing[i].size, "Path",
                                                 u.missing[i].path, "Url", url.data));
        buf_release(&url);
    }
    json_object_set_new(call->out, "UploadId", json_string(u.upload_id));
    api_set_time(call->out, "ExpiresAt", u.expires_at);
    json_object_set_new(call->out, "ManifestHash", json_string(m.hash));
    json_object_set_new(call->out, "FileCount", json_integer((json_int_t)m.n));
    json_object_set_new(call->out, "TotalBytes", json_integer((json_int_t)m.bytes));
    json_object_set_new(call->out, "MissingBlobs", missing);
    json_object_set_new(call->out, "MissingBytes", json_integer((json_int_t)u.missing_bytes));
out:
    upload_created_release(&u);
    manifest_release(&m);
    return rc;
}

static int commit_upload(struct api_call *call)
{
    const char *runtime = api_str(call, "Runtime");
    int64_t version = 0;
    if (strcmp(runtime, "nodejs") && strcmp(runtime, "python3") && strcmp(runtime, "exec"))
        return be_fail(&call->diag, BE_INVALID_PARAMETER_VALUE,
                       "Runtime %.40s: one of nodejs, python3, exec", runtime);
    /* An archive upload is unpacked first, then takes the same commit. */
    bool archive = false;
    int rc =
        upload_archive_is(call->app, call->who->owner_uin, api_str(call, "UploadId"), &archive);
    if (rc == BE_OK)
        rc = (archive ? upload_archive_commit : upload_commit)(
            call->app, call->meta, call->who, api_str(call, "UploadId"), runtime,
            api_str(call, "Entry"), api_str(call, "Description"), &version, &call->diag);
    char env_id[ENV_ID_MAX + 1];
    if (rc == BE_OK)
        rc = upload_env_of(call->app, call->who->owner_uin, api_str(call, "UploadId"), env_id,
                           sizeof(env_id));
    if (rc)
        return rc;
    json_object_set_new(call->out, "EnvId", json_string(env_id));
    json_object_set_new(call->out, "Version", json_integer((json_int_t)version));
    return BE_OK;
}

static int describe_versions(struct api_call *call)
{
    struct version_info *vs = NULL;
    size_t n = 0, total = 0;
    const char *id = api_str(call, "EnvId");
    int rc = version_list(call->app, call->who->owner_uin, id, (size_t)api_u64(call, "Offset", 0),
                          (size_t)api_u64(call, "Limit", 20), &vs, &n, &total);
    if (rc == BE_ENV_NOT_FOUND)
        return be_fail(&call->diag, rc, "no environment %.40s in this account", id);
    if (rc)
        return rc;
    json_t *list = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(list, version_json(&vs[i]));
    json_object_set_new(call->out, "Versions", list);
    json_object_set_new(call->out, "TotalCount", json_integer((json_int_t)total));
    free(vs);
    return BE_OK;
}

static int describe_version(struct api_call *call)
{
    struct version_info v;
    int rc = version_get(call->app, call->who->owner_uin, api_str(call, "EnvId"),
                         (int64_t)api_u64(call, "Version", 0), &v, &call->diag);
    if (rc)
        return rc;
    json_object_set_new(call->out, "Version", version_json(&v));
    version_info_release(&v);
    return BE_OK;
}

/* --- the table ------------------------------------------------------------------ */

static const struct api_param create_env_params[] = {
    {"AppId", API_STRING, true, 1, WX_APPID_MAX},
    {"Name", API_STRING, false, 1, ENV_NAME_MAX},
    {"ClientToken", API_STRING, false, 1, ENV_TOKEN_MAX},
    {NULL, 0, false, 0, 0},
};

static const struct api_param list_env_params[] = {
    {"AppId", API_STRING, false, 1, WX_APPID_MAX},
    {"Offset", API_UINT64, false, 0, OFFSET_MAX},
    {"Limit", API_UINT64, false, 1, ENV_PAGE_MAX},
    {NULL, 0, false, 0, 0},
};

static const struct api_param describe_env_params[] = {
    {"EnvId", API_STRING, true, 1, ENV_ID_MAX},
    {"WaitSeq", API_UINT64, false, 0, INT64_MAX},
    {"WaitSeconds", API_UINT64, false, 0, WAIT_SECONDS_MAX},
    {NULL, 0, false, 0, 0},
};

static const struct api_param env_params[] = {
    {"EnvId", API_STRING, true, 1, ENV_ID_MAX},
    {NULL, 0, false, 0, 0},
};

static const struct api_param create_upload_params[] = {
    {"EnvId", API_STRING, true, 1, ENV_ID_MAX},
    {"Files", API_ARRAY, true, 0, FILES_MAX},
    {"Description", API_STRING, false, 0, UPLOAD_DESC_MAX},
    {NULL, 0, false, 0, 0},
};

static const struct api_param commit_params[] = {
    {"UploadId", API_STRING, true, 1, UPLOAD_ID_LEN},
    {"Runtime", API_STRING, true, 1, 16},
    {"Entry", API_STRING, true, 1, UPLOAD_ENTRY_MAX},
    {"Description", API_STRING, false, 0, UPLOAD_DESC_MAX},
    {NULL, 0, false, 0, 0},
};

static const struct api_param list_version_params[] = {
    {"EnvId", API_STRING, true, 1, ENV_ID_MAX},
    {"Offset", API_UINT64, false, 0, OFFSET_MAX},
    {"Limit", API_UINT64, false, 1, VERSION_PAGE_MAX},
    {NULL, 0, false, 0, 0},
};

static const struct api_param version_params[] = {
    {"EnvId", API_STRING, true, 1, ENV_ID_MAX},
    {"Version", API_UINT64, false, 0, INT64_MAX},
    {NULL, 0, false, 0, 0},
};

const struct api_action api_devenv_actions[] = {
    {"bindery", "CreateEnvironment", DEVENV_VERSION, create_env_params, "deploy:CreateEnvironment",
     app_resource, create_environment},
    {"bindery", "DescribeEnvironments", DEVENV_VERSION, list_env_params,
     "deploy:DescribeEnvironments", NULL, describe_environments},
    {"bindery", "DescribeEnvironment", DEVENV_VERSION, describe_env_params,
     "deploy:DescribeEnvironment", env_resource_of, describe_environment},
    {"bindery", "DeleteEnvironment", DEVENV_VERSION, env_params, "deploy:DeleteEnvironment",
     env_resource_of, delete_environment},
    {"bindery", "CreateUpload", DEVENV_VERSION, create_upload_params, "deploy:CreateUpload",
     env_resource_of, create_upload},
    {"bindery", "CommitUpload", DEVENV_VERSION, commit_params, "deploy:CommitUpload",
     upload_resource, commit_upload},
    {"bindery", "DescribeVersions", DEVENV_VERSION, list_version_params, "deploy:DescribeVersions",
     env_resource_of, describe_versions},
    {"bindery", "DescribeVersion", DEVENV_VERSION, version_params, "deploy:DescribeVersion",
     env_resource_of, describe_version},
    {NULL, NULL, NULL, NULL, NULL, NULL, NULL},
};
