/* The developer tools' login actions (service "bindery", version
 * 2026-11-01; docs/devtools.md): the console's approval of a device login,
 * the devices list and its revocation, and console sign-in links. CAM
 * actions devtools:*, resources qcs::devtools::uin/<owner>:device/<id>.
 *
 * Approving or denying a device login is a console action only: the
 * principal who approves is the signed-in user, and a tool's own temporary
 * credentials must not approve more tools. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "account/throttle.h"
#include "api/action.h"
#include "devtools/consolelink.h"
#include "devtools/device.h"
#include "core/banned.h"

#define TOOLS_VERSION "2026-11-01"

static int console_only(struct api_call *call)
{
    if (!call->session_hash)
        return be_fail(&call->diag, BE_CONSOLE_ONLY,
                       "%s is only available to a signed-in console user", call->action->name);
    return BE_OK;
}

static int device_resource(struct api_call *call, struct buf *out)
{
    const char *id = api_str(call, "DeviceId");
    buf_addf(out, "qcs::devtools::uin/%llu:device/%s", (unsigned long long)call->who->owner_uin,
             id ? id : "*");
    return BE_OK;
}

/* Root sees every device of its account; anyone else only their own. */
static uint64_t device_scope_uin(const struct api_call *call)
{
    const struct principal *w = call->who;
    return w->kind == PRINCIPAL_ROOT && w->uin == w->owner_uin ? 0 : w->uin;
}

/* ---- Approval ------------------------------------------------------------ */

/* Wrong user codes are counted per address and per console session. */
static void code_keys(const struct api_call *call, char ip_key[96], char sess_key[96])
{
    struct buf hex = BUF_INIT;
    buf_addhex(&hex, call->session_hash, 16);
    snprintf(ip_key, 96, "devcode:ip:%s", call->meta->source_ip ? call->meta->source_ip : "none");
    snprintf(sess_key, 96, "devcode:s:%s", hex.data);
    buf_release(&hex);
}

static int code_allowed(struct api_call *call)
{
    char ip_key[96], sess_key[96];
    int64_t wait = 0, wait2 = 0;
    code_keys(call, ip_key, sess_key);
    int rc = throttle_check(call->app, ip_key, call->meta->now, &wait);
    if (rc == BE_OK || rc == BE_LOGIN_THROTTLED) {
        int rc2 = throttle_check(call->app, sess_key, call->meta->now, &wait2);
        if (rc == BE_OK)
            rc = rc2;
    }
    if (rc != BE_LOGIN_THROTTLED)
        return rc;
    return be_fail(&call->diag, BE_USER_CODE_THROTTLED,
                   "too many wrong codes; retry in %lld seconds",
                   (long long)(wait > wait2 ? wait : wait2));
}

static void code_failed(struct api_call *call)
{
    char ip_key[96], sess_key[96];
    const struct config *cfg = call->app->cfg;
    struct throttle_rule rule = {cfg->tools_max_code_failures, cfg->login_base_delay,
                                 cfg->login_max_delay};
    code_keys(call, ip_key, sess_key);
    throttle_fail(call->app, ip_key, &rule, call->meta->now);
    throttle_fail(call->app, sess_key, &rule, call->meta->now);
}

/* The checks every approval action makes before touching a code. */
static int code_gate(struct api_call *call)
{
    int rc = console_only(call);
    return rc ? rc : code_allowed(call);
}

static json_t *account_json(const struct principal *who)
{
    json_t *o = json_object();
    api_set_uin_string(o, "OwnerUin", who->owner_uin);
    api_set_uin_string(o, "Uin", who->uin);
    json_object_set_new(o, "AppId", json_integer((json_int_t)who->app_id));
    json_object_set_new(o, "Kind", json_string(principal_kind_name(who->kind)));
    return o;
}

static int describe_authorization(struct api_call *call)
{
    struct device_request q;
    char shown[USERCODE_DISPLAY_LEN + 1];
    int rc = code_gate(call);
    if (rc)
        return rc;
    rc = device_describe(call->app, api_str(call, "UserCode"), call->meta->now, &q, &call->diag);
    if (rc == BE_USER_CODE_INVALID)
        code_failed(call);
    if (rc)
        return rc;
    usercode_display(q.user_code, shown);
    json_object_set_new(call->out, "UserCode", json_string(shown));
    json_object_set_new(call->out, "ClientId", json_string(q.client_id));
    json_object_set_new(call->out, "Scope", json_string(q.scope));
    json_object_set_new(call->out, "SourceIp", json_string(q.source_ip));
    json_object_set_new(call->out, "UserAgent", json_string(q.user_agent));
    api_set_time(call->out, "RequestedAt", q.created_at);
    api_set_time(call->out, "ExpiresAt", q.expires_at);
    json_object_set_new(call->out, "Account", account_json(call->who));
    return BE_OK;
}

static int decide(struct api_call *call, bool approve)
{
    int rc = code_gate(call);
    if (rc)
        return rc;
    rc = device_decide(call->app, call->meta, call->who, api_str(call, "UserCode"), approve,
                       &call->diag);
    if (rc == BE_USER_CODE_INVALID)
        code_failed(call);
    if (rc == BE_OK) {
        json_object_set_new(call->out, "Result", json_string(approve ? "Approved" : "Denied"));
        json_object_set_new(call->out, "Account", account_json(call->who));
    }
    return rc;
}

static int approve_authorization(struct api_call *call)
{
    return decide(call, true);
}

static int deny_authorization(struct api_call *call)
{
    return decide(call, false);
}

/* ---- Devices -------------------------------------------------------------- */

static json_t *device_json(const struct device_info *d)
{
    json_t *o = json_object();
    json_object_set_new(o, "DeviceId", json_string(d->device_id));
    json_object_set_new(o, "ClientId", json_string(d->client_id));
    json_object_set_new(o, "Scope", json_string(d->scope));
    json_object_set_new(o, "SourceIp", json_string(d->source_ip));
    json_object_set_new(o, "UserAgent", json_string(d->user_agent));
    api_set_uin_string(o, "Uin", d->who.uin);
    api_set_uin_string(o, "OwnerUin", d->who.owner_uin);
    json_object_set_new(o, "Kind", json_string(principal_kind_name(d->who.kind)));
    api_set_time(o, "CreatedAt", d->created_at);
    api_set_time(o, "LastUsedAt", d->last_used_at);
    json_object_set_new(o, "State", json_string(d->revoked_at ? "Revoked" : "Active"));
    if (d->revoked_at)
        api_set_time(o, "RevokedAt", d->revoked_at);
    else
        json_object_set_new(o, "RevokedAt", json_null());
    json_object_set_new(o, "RevokedReason",
                        d->revoked_at ? json_string(d->revoked_reason) : json_null());
    return o;
}

static int describe_devices(struct api_call *call)
{
    struct device_info *list = NULL;
    size_t n = 0;
    int rc = device_list(call->app, call->who->owner_uin, device_scope_uin(call), &list, &n);
    if (rc)
        return rc;
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, device_json(&list[i]));
    json_object_set_new(call->out, "Devices", arr);
    json_object_set_new(call->out, "TotalCount", json_integer((json_int_t)n));
    free(list);
    return BE_OK;
}

static int revoke_device(struct api_call *call)
{
    const char *id = api_str(call, "DeviceId");
    int rc =
        device_revoke(call->app, call->meta, call->who, device_scope_uin(call), id, &call->diag);
    if (rc == BE_OK)
        json_object_set_new(call->out, "DeviceId", json_string(id));
    return rc;
}

/* ---- Console sign-in links ---------------------------------------------- */

static int create_console_login_url(struct api_call *call)
{
    struct buf code = BUF_INIT, url = BUF_INIT;
    int64_t expires_at = 0;
    const char *page = api_str(call, "Page");
    int rc = console_link_create(call->app, call->meta, call->who, page, &code, &expires_at,
                                 &call->diag);
    if (rc)
        goto out;
    const char *base = call->app->cfg->public_url;
    size_t n = strlen(base);
    while (n && base[n - 1] == '/')
        n--;
    buf_addf(&url, "%.*s/console/signin?c=%s", (int)n, base, code.data);
    json_object_set_new(call->out, "Url", json_string(url.data));
    json_object_set_new(call->out, "Page", json_string(page ? page : CONSOLE_LINK_DEFAULT_PAGE));
    json_object_set_new(call->out, "ExpiresIn",
                        json_integer((json_int_t)(expires_at - call->meta->now)));
    api_set_time(call->out, "ExpiresAt", expires_at);
out:
    crypto_wipe(code.data, code.len);
    crypto_wipe(url.data, url.len);
    buf_release(&code);
    buf_release(&url);
    return rc;
}

static const struct api_param user_code_params[] = {
    {"UserCode", API_STRING, true, 1, USERCODE_INPUT_MAX},
    {NULL, 0, false, 0, 0},
};

static const struct api_param no_params[] = {
    {NULL, 0, false, 0, 0},
};

static const struct api_param device_params[] = {
    {"DeviceId", API_STRING, true, 1, DEVICE_ID_LEN},
    {NULL, 0, false, 0, 0},
};

static const struct api_param console_url_params[] = {
    {"Page", API_STRING, false, 1, CONSOLE_LINK_PAGE_MAX},
    {NULL, 0, false, 0, 0},
};

const struct api_action api_devtools_actions[] = {
    {"bindery", "DescribeDeviceAuthorization", TOOLS_VERSION, user_code_params,
     "devtools:DescribeDeviceAuthorization", NULL, describe_authorization},
    {"bindery", "ApproveDeviceAuthorization", TOOLS_VERSION, user_code_params,
     "devtools:ApproveDeviceAuthorization", NULL, approve_authorization},
    {"bindery", "DenyDeviceAuthorization", TOOLS_VERSION, user_code_params,
     "devtools:DenyDeviceAuthorization", NULL, deny_authorization},
    {"bindery", "DescribeDevices", TOOLS_VERSION, no_params, "devtools:DescribeDevices",
     device_resource, describe_devices},
    {"bindery", "RevokeDevice", TOOLS_VERSION, device_params, "devtools:RevokeDevice",
     device_resource, revoke_device},
    {"bindery", "CreateConsoleLoginUrl", TOOLS_VERSION, console_url_params,
     "devtools:CreateConsoleLoginUrl", NULL, create_console_login_url},
    {NULL, NULL, NULL, NULL, NULL, NULL, NULL},
};
