/* Bindery's own actions for WeChat links (service "bindery", version
 * 2026-11-01; docs/links.md): start a link (关联) or a re-authorization
 * (重新授权), list links and their history, unlink (解绑), verify. CAM
 * actions wxlink:*, resources qcs::wxlink::uin/<owner>:link/<appid>. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/action.h"
#include "binding/flow.h"
#include "binding/link.h"
#include "core/banned.h"

#define LINK_VERSION "2026-11-01"
#define OFFSET_MAX   1000000

static const char *appid_param(const struct api_call *call)
{
    return api_str(call, "AuthorizerAppId");
}

/* The app the call names, or every app ("*"). */
static int link_resource_of(struct api_call *call, struct buf *out)
{
    link_resource(call->who->owner_uin, appid_param(call), out);
    return BE_OK;
}

static void set_time_or_null(json_t *o, const char *field, int64_t t)
{
    if (t)
        api_set_time(o, field, t);
    else
        json_object_set_new(o, field, json_null());
}

static json_t *link_json(const struct link *l)
{
    json_t *o = json_object(), *funcs = json_array();
    for (size_t i = 0; i < l->nfunc; i++)
        json_array_append_new(funcs, json_integer(l->func_ids[i]));
    json_object_set_new(o, "AuthorizerAppId", json_string(l->appid));
    json_object_set_new(
        o, "AppType", json_string(l->app_type == LINK_APP_MP ? "MiniProgram" : "OfficialAccount"));
    json_object_set_new(o, "NickName", json_string(l->nick_name));
    json_object_set_new(o, "PrincipalName", json_string(l->principal_name));
    json_object_set_new(o, "HeadImg", json_string(l->head_img));
    json_object_set_new(o, "UserName", json_string(l->user_name));
    json_object_set_new(o, "FuncIds", funcs);
    json_object_set_new(o, "State", json_string(link_state_name(l->state)));
    json_object_set_new(o, "RevokedReason",
                        l->reason ? json_string(link_reason_name(l->reason)) : json_null());
    set_time_or_null(o, "LinkedAt", l->linked_at);
    set_time_or_null(o, "AuthorizedAt", l->authorized_at);
    set_time_or_null(o, "LastVerifiedAt", l->last_verified_at);
    set_time_or_null(o, "RevokedAt", l->state == LINK_REVOKED ? l->revoked_at : 0);
    set_time_or_null(o, "UnlinkedAt", l->unlinked_at);
    set_time_or_null(o, "NextCheckAt", l->state == LINK_ACTIVE ? l->check_after : 0);
    json_object_set_new(o, "LastCheckError",
                        l->check_error[0] ? json_string(l->check_error) : json_null());
    return o;
}

static int create_link(struct api_call *call)
{
    struct link_started st;
    memset(&st, 0, sizeof(st));
    struct link_start s = {LINK_PURPOSE_LINK, call->who, call->session_hash, NULL,
                           appid_param(call)};
    int rc = link_flow_start(call->app, call->meta, &s, &st, &call->diag);
    if (rc == BE_OK) {
        json_object_set_new(call->out, "AuthorizationUrl", json_string(st.entry_url.data));
        api_set_time(call->out, "ExpiresAt", st.expires_at);
    }
    buf_release(&st.entry_url);
    crypto_wipe(st.state, sizeof(st.state));
    return rc;
}

static size_t page_limit(const struct api_call *call)
{
    return (size_t)api_u64(call, "Limit", 100);
}

static int list_links(struct api_call *call)
{
    struct link *links = NULL;
    size_t n = 0, total = 0;
    int rc = link_list(call->app, call->who->owner_uin, (size_t)api_u64(call, "Offset", 0),
                       page_limit(call), &links, &n, &total);
    if (rc)
        return rc;
    json_t *list = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(list, link_json(&links[i]));
    json_object_set_new(call->out, "Links", list);
    json_object_set_new(call->out, "TotalCount", json_integer((json_int_t)total));
    free(links);
    return BE_OK;
}

static int list_history(struct api_call *call)
{
    struct link_history_entry *h = NULL;
    size_t n = 0, total = 0;
    int rc = link_history(call->app, call->who->owner_uin, (size_t)api_u64(call, "Offset", 0),
                          page_limit(call), &h, &n, &total);
    if (rc)
        return rc;
    json_t *list = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *o = json_object();
        json_object_set_new(o, "AuthorizerAppId", json_string(h[i].appid));
        json_object_set_new(o, "Event", json_string(h[i].event));
        json_object_set_new(o, "Detail", json_string(h[i].detail));
        if (h[i].actor_uin)
            api_set_uin_string(o, "ActorUin", h[i].actor_uin);
        else
            json_object_set_new(o, "ActorUin", json_null());
        api_set_time(o, "Time", h[i].at);
        json_array_append_new(list, o);
    }
    json_object_set_new(call->out, "Events", list);
    json_object_set_new(call->out, "TotalCount", json_integer((json_int_t)total));
    free(h);
    return BE_OK;
}

static int delete_link(struct api_call *call)
{
    struct link l;
    int rc = link_unlink(call->app, call->meta, call->who->owner_uin, call->who->uin,
                         appid_param(call), &l, &call->diag);
    if (rc == BE_OK)
        json_object_set_new(call->out, "Link", link_json(&l));
    return rc;
}

static int verify_link(struct api_call *call)
{
    struct link l;
    int rc = link_flow_verify(call->app, call->meta, call->who->owner_uin, appid_param(call), &l,
                              NULL, &call->diag);
    if (rc == BE_OK)
        json_object_set_new(call->out, "Link", link_json(&l));
    return rc;
}

static const struct api_param create_params[] = {
    {"AuthorizerAppId", API_STRING, false, 1, WX_APPID_MAX},
    {NULL, 0, false, 0, 0},
};

static const struct api_param page_params[] = {
    {"Offset", API_UINT64, false, 0, OFFSET_MAX},
    {"Limit", API_UINT64, false, 1, LINK_PAGE_MAX},
    {NULL, 0, false, 0, 0},
};

static const struct api_param app_params[] = {
    {"AuthorizerAppId", API_STRING, true, 1, WX_APPID_MAX},
    {NULL, 0, false, 0, 0},
};

const struct api_action api_link_actions[] = {
    {"bindery", "CreateLink", LINK_VERSION, create_params, "wxlink:CreateLink", link_resource_of,
     create_link},
    {"bindery", "ListLinks", LINK_VERSION, page_params, "wxlink:ListLinks", link_resource_of,
     list_links},
    {"bindery", "ListLinkHistory", LINK_VERSION, page_params, "wxlink:ListLinkHistory",
     link_resource_of, list_history},
    {"bindery", "DeleteLink", LINK_VERSION, app_params, "wxlink:DeleteLink", link_resource_of,
     delete_link},
    {"bindery", "VerifyLink", LINK_VERSION, app_params, "wxlink:VerifyLink", link_resource_of,
     verify_link},
    {NULL, NULL, NULL, NULL, NULL, NULL, NULL},
};
