/* CreateArchiveUpload: the archive (zip path) way to make a version
 * (devenv/upload_archive.h, docs/environments.md "Archive uploads").
 * CommitUpload is shared with manifest uploads (devenv_actions.c). CAM
 * action deploy:CreateArchiveUpload on qcs::deploy::uin/<owner>:env/<EnvId>,
 * as CreateUpload. */
#include <stdio.h>
#include <string.h>

#include "api/action.h"
#include "devenv/env.h"
#include "devenv/manifest.h"
#include "devenv/upload_archive.h"
#include "core/banned.h"

#define DEVENV_VERSION "2026-11-01"

static int env_resource_of(struct api_call *call, struct buf *out)
{
    env_resource(call->who->owner_uin, api_str(call, "EnvId"), out);
    return BE_OK;
}

static int create_archive_upload(struct api_call *call)
{
    struct upload_archive_created u;
    struct buf url = BUF_INIT;
    const char *env_id = api_str(call, "EnvId");
    int rc = upload_archive_create(call->app, call->meta, call->who, env_id,
                                   api_str(call, "Sha256"), api_u64(call, "Size", 0),
                                   api_str(call, "Description"), &u, &call->diag);
    if (rc == BE_ENV_NOT_FOUND)
        return be_fail(&call->diag, rc, "no environment %.40s in this account", env_id);
    if (rc)
        return rc;
    upload_archive_presign(call->app, u.upload_id, u.expires_at, &url);
    json_object_set_new(call->out, "UploadId", json_string(u.upload_id));
    api_set_time(call->out, "ExpiresAt", u.expires_at);
    json_object_set_new(call->out, "Url", json_string(url.data));
    buf_release(&url);
    return BE_OK;
}

static const struct api_param create_archive_params[] = {
    {"EnvId", API_STRING, true, 1, ENV_ID_MAX},
    {"Size", API_UINT64, true, 1, INT64_MAX},
    {"Sha256", API_STRING, true, MANIFEST_SHA256_HEX, MANIFEST_SHA256_HEX},
    {"Description", API_STRING, false, 0, UPLOAD_DESC_MAX},
    {NULL, 0, false, 0, 0},
};

const struct api_action api_devenv_archive_actions[] = {
    {"bindery", "CreateArchiveUpload", DEVENV_VERSION, create_archive_params,
     "deploy:CreateArchiveUpload", env_resource_of, create_archive_upload},
    {NULL, NULL, NULL, NULL, NULL, NULL, NULL},
};
