/* CAM 2019-01-16 actions: identity and API keys. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/action.h"
#include "cam/accesskey.h"
#include "cam/directory.h"
#include "core/banned.h"

#define CAM_VERSION "2019-01-16"
#define UIN_MAX     9007199254740991ull /* 2^53 - 1: what JSON clients parse exactly */

static int get_user_app_id(struct api_call *call)
{
    api_set_uin_string(call->out, "Uin", call->who->uin);
    api_set_uin_string(call->out, "OwnerUin", call->who->owner_uin);
    json_object_set_new(call->out, "AppId", json_integer((json_int_t)call->who->app_id));
    return BE_OK;
}

static int create_access_key(struct api_call *call);

/* The principal a key action targets: TargetUin, or the caller itself. It
 * must be the owner or a user (sub-user or collaborator) of the caller's
 * account; a key can only be created for a user allowed API access. */
static int key_target(struct api_call *call, uint64_t *ret_uin)
{
    uint64_t target = api_u64(call, "TargetUin", call->who->uin);
    struct cam_user u;
    if (target == call->who->owner_uin && call->who->uin != call->who->owner_uin)
        return be_fail(&call->diag, BE_SUB_UIN,
                       "a sub-account may not manage the keys of the root account %llu",
                       (unsigned long long)target);
    if (target != call->who->owner_uin) {
        int rc = cam_user_get_by_uin(call->app, call->who->owner_uin, target, &u);
        if (rc == BE_USER_NOT_EXIST)
            return be_fail(&call->diag, BE_PARAM_USER_NOT_EXIST,
                           "TargetUin %llu is not a user of account %llu",
                           (unsigned long long)target, (unsigned long long)call->who->owner_uin);
        if (rc)
            return rc;
        if (!u.use_api && call->action->run == create_access_key)
            return be_fail(&call->diag, BE_ACCESSKEY_FAILED,
                           "user %s is not allowed API access (UseApi=0)", u.name);
    }
    *ret_uin = target;
    return BE_OK;
}

static int key_resource(struct api_call *call, struct buf *out)
{
    uint64_t target;
    int rc = key_target(call, &target);
    if (rc)
        return rc;
    buf_addf(out, "qcs::cam::uin/%llu:uin/%llu", (unsigned long long)call->who->owner_uin,
             (unsigned long long)target);
    return BE_OK;
}

static void key_json(json_t *o, const struct accesskey *k)
{
    json_object_set_new(o, "AccessKeyId", json_string(k->secret_id));
    json_object_set_new(o, "Status", json_string(k->active ? "Active" : "Inactive"));
    api_set_time(o, "CreateTime", k->created_at);
    json_object_set_new(o, "Description",
                        k->description[0] ? json_string(k->description) : json_null());
}

static int create_access_key(struct api_call *call)
{
    uint64_t target;
    struct accesskey k;
    int rc = key_target(call, &target);
    if (rc)
        return rc;
    rc = accesskey_create(call->app, call->meta, call->who, call->who->owner_uin, target,
                          api_str(call, "Description"), &k, &call->diag);
    if (rc)
        return rc;
    json_t *o = json_object();
    key_json(o, &k);
    json_object_set_new(o, "SecretAccessKey", json_string(k.secret_key));
    json_object_set_new(call->out, "AccessKey", o);
    return BE_OK;
}

static int list_access_keys(struct api_call *call)
{
    uint64_t target;
    struct accesskey *keys = NULL;
    size_t n = 0;
    int rc = key_target(call, &target);
    if (rc)
        return rc;
    if ((rc = accesskey_list(call->app, call->who->owner_uin, target, &keys, &n)))
        return rc;
    json_t *list = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *o = json_object();
        key_json(o, &keys[i]);
        json_array_append_new(list, o);
    }
    json_object_set_new(call->out, "AccessKeys", list);
    free(keys);
    return BE_OK;
}

static int key_change_error(struct api_call *call, int rc)
{
    if (rc == BE_SECRET_NOT_EXIST)
        return be_fail(&call->diag, rc, "no API key %s in this account",
                       api_str(call, "AccessKeyId"));
    if (rc == BE_UIN_NOT_MATCH)
        return be_fail(&call->diag, rc, "API key %s does not belong to uin %llu",
                       api_str(call, "AccessKeyId"),
                       (unsigned long long)api_u64(call, "TargetUin", call->who->uin));
    return rc;
}

static int update_access_key(struct api_call *call)
{
    uint64_t target;
    const char *status = api_str(call, "Status");
    int rc = key_target(call, &target);
    if (rc)
        return rc;
    if (strcmp(status, "Active") && strcmp(status, "Inactive"))
        return be_fail(&call->diag, BE_INVALID_PARAMETER_VALUE,
                       "Status must be Active or Inactive (got %s)", status);
    rc = accesskey_set_status(call->app, call->meta, call->who, call->who->owner_uin, target,
                              api_str(call, "AccessKeyId"), !strcmp(status, "Active"));
    return key_change_error(call, rc);
}

static int delete_access_key(struct api_call *call)
{
    uint64_t target;
    int rc = key_target(call, &target);
    if (rc)
        return rc;
    rc = accesskey_delete(call->app, call->meta, call->who, call->who->owner_uin, target,
                          api_str(call, "AccessKeyId"));
    return key_change_error(call, rc);
}

static const struct api_param no_params[] = {{NULL, 0, false, 0, 0}};

static const struct api_param create_key_params[] = {
    {"TargetUin", API_UINT64, false, 1, UIN_MAX},
    {"Description", API_STRING, false, 0, ACCESSKEY_DESCRIPTION_MAX},
    {NULL, 0, false, 0, 0},
};

static const struct api_param list_keys_params[] = {
    {"TargetUin", API_UINT64, false, 1, UIN_MAX},
    {NULL, 0, false, 0, 0},
};

static const struct api_param update_key_params[] = {
    {"AccessKeyId", API_STRING, true, 1, 128},
    {"Status", API_STRING, true, 1, 16},
    {"TargetUin", API_UINT64, false, 1, UIN_MAX},
    {NULL, 0, false, 0, 0},
};

static const struct api_param delete_key_params[] = {
    {"AccessKeyId", API_STRING, true, 1, 128},
    {"TargetUin", API_UINT64, false, 1, UIN_MAX},
    {NULL, 0, false, 0, 0},
};

const struct api_action api_cam_actions[] = {
    {"cam", "GetUserAppId", CAM_VERSION, no_params, "cam:GetUserAppId", NULL, get_user_app_id},
    {"cam", "CreateAccessKey", CAM_VERSION, create_key_params, "cam:CreateAccessKey", key_resource,
     create_access_key},
    {"cam", "ListAccessKeys", CAM_VERSION, list_keys_params, "cam:ListAccessKeys", key_resource,
     list_access_keys},
    {"cam", "UpdateAccessKey", CAM_VERSION, update_key_params, "cam:UpdateAccessKey", key_resource,
     update_access_key},
    {"cam", "DeleteAccessKey", CAM_VERSION, delete_key_params, "cam:DeleteAccessKey", key_resource,
     delete_access_key},
    {NULL, NULL, NULL, NULL, NULL, NULL, NULL},
};
