/* Routes, the component API's HTTP side, the QR poll and the control API
 * (web.h). The pages are in pages.c. */
#include "platform/web.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/log.h"
#include "platform/capi.h"
#include "platform/flow.h"
#include "platform/pusher.h"
#include "core/banned.h"

#define JSON_TYPE "application/json; charset=utf-8"

/* ---- JSON answers ---- */

static void reply_json(struct http_request *req, unsigned status, json_t *body /* stolen */)
{
    char *s = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    if (!s) {
        http_respond_text(req, 500, "cannot build the answer\n");
        return;
    }
    http_resp_header(req, "Cache-Control", "no-store");
    http_respond_take(req, status, JSON_TYPE, s, strlen(s));
}

static void reply_error(struct http_request *req, int err, const char *msg)
{
    log_info("platform: %s %s: %s (request %s)", http_req_method(req), http_req_path(req),
             *msg ? msg : be_err_message(err), http_req_id(req));
    reply_json(req, (unsigned)be_err_status(err),
               json_pack("{s:s,s:s}", "error", *msg ? msg : be_err_message(err), "code",
                         be_err_code(err)));
}

static void reply_flow_error(struct http_request *req, int rc, const struct pl_flow_error *e)
{
    if (e->reason == PL_FLOW_OK) {
        reply_error(req, rc, "");
        return;
    }
    unsigned status = e->reason == PL_FLOW_SESSION_INVALID || e->reason == PL_FLOW_WXUSER_UNKNOWN
                          ? 404
                      : e->reason == PL_FLOW_BAD_REQUEST ? 400
                                                         : 409;
    reply_json(req, status,
               json_pack("{s:s,s:s,s:s}", "error", e->detail, "marker", pl_flow_marker(e->reason),
                         "title", pl_flow_title(e->reason)));
}

/* ---- component API ---- */

static void on_capi(struct http_request *req, void *ctx)
{
    struct pl_web *w = ctx;
    struct buf out = BUF_INIT;
    size_t len = 0;
    const char *body = http_req_body(req, &len);
    struct pl_capi_request r = {
        .path = http_req_path(req),
        .component_access_token = http_req_arg(req, "component_access_token"),
        .access_token = http_req_arg(req, "access_token"),
        .client_ip = http_req_client_ip(req),
        .body = body,
        .body_len = len,
    };
    if (pl_capi_call(w->pl, &r, &out)) {
        http_respond_text(req, 404, "not found\n");
    } else {
        size_t n;
        char *s = buf_detach(&out, &n);
        http_respond_take(req, 200, JSON_TYPE, s, n);
    }
    buf_release(&out);
}

/* ---- the QR poll ---- */

static void on_qr_status(struct http_request *req, void *ctx)
{
    struct pl_web *w = ctx;
    struct pl_session s;
    struct pl_flow_error e;
    int rc = pl_flow_session(w->pl, http_req_arg(req, "s"), &s, &e);
    if (rc) {
        reply_flow_error(req, rc, &e);
        return;
    }
    json_t *o = json_pack("{s:s,s:s}", "session", s.id, "state", s.state);
    if (!strcmp(s.state, "confirmed"))
        json_object_set_new(o, "redirect", s.released ? json_string(s.redirect_url) : json_null());
    reply_json(req, 200, o);
}

/* ---- assets and health ---- */

static void on_script(struct http_request *req, void *ctx)
{
    (void)ctx;
    http_resp_header(req, "Cache-Control", "no-cache");
    http_respond(req, 200, "text/javascript; charset=utf-8", pl_page_script,
                 strlen(pl_page_script));
}

static void on_style(struct http_request *req, void *ctx)
{
    (void)ctx;
    http_resp_header(req, "Cache-Control", "no-cache");
    http_respond(req, 200, "text/css; charset=utf-8", pl_page_style, strlen(pl_page_style));
}

/* Browsers ask for it on every page; there is none. */
static void on_favicon(struct http_request *req, void *ctx)
{
    (void)ctx;
    http_resp_header(req, "Cache-Control", "public, max-age=86400");
    http_respond(req, 204, NULL, "", 0);
}

static void on_healthz(struct http_request *req, void *ctx)
{
    struct pl_web *w = ctx;
    reply_json(req, 200, json_pack("{s:s,s:I}", "status", "ok", "now", (json_int_t)pl_now(w->pl)));
}

/* ---- control API ---- */

/* The body as a JSON object; an empty body is {} when empty_ok. */
static json_t *control_body(struct http_request *req, bool empty_ok)
{
    size_t len = 0;
    json_error_t jerr;
    const char *body = http_req_body(req, &len);
    if (!len && empty_ok)
        return json_object();
    json_t *v = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (v && !json_is_object(v)) {
        json_decref(v);
        v = NULL;
    }
    if (!v)
        reply_error(req, BE_INVALID_PARAMETER, "the body must be a JSON object");
    return v;
}

typedef int (*put_fn)(struct platform *pl, const json_t *obj, struct be_diag *diag);

static void control_put(struct http_request *req, struct pl_web *w, put_fn put)
{
    struct be_diag diag = {""};
    json_t *body = control_body(req, false);
    if (!body)
        return;
    int rc = put(w->pl, body, &diag);
    json_decref(body);
    if (rc)
        reply_error(req, rc, diag.msg);
    else
        reply_json(req, 200, json_pack("{s:b}", "ok", 1));
}

static void on_wxusers(struct http_request *req, void *ctx)
{
    control_put(req, ctx, pl_wxuser_put_json);
}

static void on_authorizers(struct http_request *req, void *ctx)
{
    control_put(req, ctx, pl_authorizer_put_json);
}

static void on_components(struct http_request *req, void *ctx)
{
    control_put(req, ctx, pl_component_put_json);
}

/* Only members of known; then the settings apply. */
static void control_settings(struct http_request *req, struct pl_web *w, const char *const *known,
                             size_t n)
{
    struct be_diag diag = {""};
    json_t *body = control_body(req, false);
    const char *key;
    json_t *v;
    int rc = BE_OK;
    if (!body)
        return;
    json_object_foreach(body, key, v)
    {
        bool ok = !known;
        for (size_t i = 0; known && i < n && !ok; i++)
            ok = !strcmp(key, known[i]);
        if (!ok && !rc)
            rc = be_fail(&diag, BE_UNKNOWN_PARAMETER, "unknown member %s", key);
    }
    if (!rc)
        rc = pl_settings_apply_json(w->pl, body, &diag);
    json_decref(body);
    if (rc) {
        reply_error(req, rc, diag.msg);
        return;
    }
    json_t *state = NULL;
    if (pl_state_json(w->pl, &state)) {
        reply_json(req, 200, json_pack("{s:b}", "ok", 1));
        return;
    }
    reply_json(req, 200,
               json_pack("{s:b,s:O}", "ok", 1, "settings", json_object_get(state, "settings")));
    json_decref(state);
}

static void on_pushes(struct http_request *req, void *ctx)
{
    static const char *const known[] = {"unauthorized", "delay_ms", "order", "retry_ms"};
    control_settings(req, ctx, known, sizeof(known) / sizeof(known[0]));
}

static void on_faults(struct http_request *req, void *ctx)
{
    static const char *const known[] = {"error_rate", "latency_ms", "drop_pushes"};
    control_settings(req, ctx, known, sizeof(known) / sizeof(known[0]));
}

static void on_settings(struct http_request *req, void *ctx)
{
    control_settings(req, ctx, NULL, 0);
}

static void on_clock(struct http_request *req, void *ctx)
{
    struct pl_web *w = ctx;
    json_t *body = control_body(req, false);
    int64_t now = 0;
    if (!body)
        return;
    const json_t *n = json_object_get(body, "advance_seconds");
    int rc = json_is_integer(n) && json_object_size(body) == 1
                 ? pl_clock_advance(w->pl, json_integer_value(n), &now)
                 : BE_INVALID_PARAMETER;
    json_decref(body);
    if (rc) {
        reply_error(req, rc,
                    rc == BE_INVALID_PARAMETER || rc == BE_INVALID_PARAMETER_VALUE
                        ? "expected {\"advance_seconds\": N}, N from 0 to 10 years"
                        : "");
        return;
    }
    struct pl_settings s;
    pl_settings_get(w->pl, &s);
    reply_json(req, 200,
               json_pack("{s:b,s:I,s:I}", "ok", 1, "now", (json_int_t)now, "offset",
                         (json_int_t)s.clock_offset));
}

static void on_push_ticket(struct http_request *req, void *ctx)
{
    struct pl_web *w = ctx;
    json_t *body = control_body(req, true), *tickets = NULL;
    if (!body)
        return;
    const json_t *appid = json_object_get(body, "component_appid");
    int rc = (appid && !json_is_string(appid)) || json_object_size(body) > (appid ? 1u : 0u)
                 ? BE_INVALID_PARAMETER
                 : pl_push_ticket_now(w->pl, json_string_value(appid), &tickets);
    json_decref(body);
    if (rc)
        reply_error(req, rc, rc == BE_NOT_FOUND ? "no such component" : "");
    else
        reply_json(req, 200, json_pack("{s:b,s:o}", "ok", 1, "tickets", tickets));
}

static void on_rotate_key(struct http_request *req, void *ctx)
{
    struct pl_web *w = ctx;
    struct be_diag diag = {""};
    json_t *body = control_body(req, false);
    if (!body)
        return;
    const char *appid = json_string_value(json_object_get(body, "component_appid"));
    const json_t *key = json_object_get(body, "aes_key");
    int rc = !appid || (key && !json_is_string(key))
                 ? be_fail(&diag, BE_MISSING_PARAMETER,
                           "expected {\"component_appid\", "
                           "\"aes_key\"?}")
                 : pl_component_rotate_key(w->pl, appid, json_string_value(key), &diag);
    json_decref(body);
    if (rc)
        reply_error(req, rc, diag.msg);
    else
        reply_json(req, 200, json_pack("{s:b}", "ok", 1));
}

static void on_revoke(struct http_request *req, void *ctx)
{
    struct pl_web *w = ctx;
    struct pl_flow_error e;
    bool pushed = false;
    json_t *body = control_body(req, false);
    if (!body)
        return;
    int rc = pl_flow_revoke(w->pl, json_string_value(json_object_get(body, "component_appid")),
                            json_string_value(json_object_get(body, "appid")), &pushed, &e);
    json_decref(body);
    if (rc)
        reply_flow_error(req, rc, &e);
    else
        reply_json(req, 200, json_pack("{s:b,s:b}", "ok", 1, "pushed", pushed));
}

static void on_state(struct http_request *req, void *ctx)
{
    struct pl_web *w = ctx;
    json_t *state = NULL;
    int rc = pl_state_json(w->pl, &state);
    if (rc)
        reply_error(req, rc, "");
    else
        reply_json(req, 200, state);
}

static void on_calls(struct http_request *req, void *ctx)
{
    struct pl_web *w = ctx;
    json_t *calls = NULL;
    int rc = pl_calls_json(w->pl, &calls);
    if (rc)
        reply_error(req, rc, "");
    else
        reply_json(req, 200, calls);
}

/* ---- the phone, driven by the control API ---- */

static json_t *apps_json(const struct pl_app_list *l)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < l->n; i++)
        json_array_append_new(arr, json_pack("{s:s,s:s,s:s,s:b}", "appid", l->apps[i].appid, "kind",
                                             l->apps[i].kind, "nick_name", l->apps[i].nick_name,
                                             "authorized", l->apps[i].authorized));
    return arr;
}

struct scan_req {
    char session[PL_SESSION_ID_LEN + 1];
    const char *wxid, *appid, *action;
    bool has_funcs;
    struct pl_funcs funcs;
};

/* Reads the scan body; answers and returns false when it is unusable. */
static bool scan_parse(struct http_request *req, struct pl_web *w, const json_t *body,
                       struct scan_req *s)
{
    struct pl_flow_error e;
    const char *session = json_string_value(json_object_get(body, "session"));
    const char *code = json_string_value(json_object_get(body, "pre_auth_code"));
    const json_t *funcs = json_object_get(body, "func_ids");
    s->wxid = json_string_value(json_object_get(body, "wxid"));
    s->appid = json_string_value(json_object_get(body, "appid"));
    s->action = json_string_value(json_object_get(body, "action"));
    s->action = s->action ? s->action : "confirm";
    s->has_funcs = funcs != NULL;
    if (strcmp(s->action, "scan") && strcmp(s->action, "confirm") && strcmp(s->action, "cancel")) {
        reply_error(req, BE_INVALID_PARAMETER_VALUE, "action must be scan, confirm or cancel");
        return false;
    }
    if (funcs && pl_funcs_from_json(funcs, &s->funcs)) {
        reply_error(req, BE_INVALID_PARAMETER_VALUE, "func_ids must be an array of set ids");
        return false;
    }
    if (session && strlen(session) == PL_SESSION_ID_LEN) {
        snprintf(s->session, sizeof(s->session), "%s", session);
        return true;
    }
    if (!session && code && !pl_flow_session_by_code(w->pl, code, s->session, &e))
        return true;
    reply_error(req, BE_NOT_FOUND, "no such session (give \"session\" or \"pre_auth_code\")");
    return false;
}

static json_t *confirm_json(const char *session, const char *appid,
                            const struct pl_confirm_result *r)
{
    return json_pack("{s:s,s:s,s:s,s:s,s:s,s:s?,s:b}", "session", session, "state", "confirmed",
                     "appid", appid, "auth_code", r->auth_code, "redirect_url", r->redirect_url,
                     "push", r->push, "already_authorized", r->already);
}

static void scan_run(struct http_request *req, struct pl_web *w, const struct scan_req *s)
{
    struct pl_flow_error e;
    struct pl_app_list apps = {NULL, 0};
    struct pl_confirm_result res;
    int rc;
    if (!strcmp(s->action, "cancel")) {
        if ((rc = pl_flow_cancel(w->pl, s->session, &e)))
            reply_flow_error(req, rc, &e);
        else
            reply_json(req, 200,
                       json_pack("{s:s,s:s}", "session", s->session, "state", "cancelled"));
        return;
    }
    if ((rc = pl_flow_scan(w->pl, s->session, s->wxid, &apps, &e))) {
        reply_flow_error(req, rc, &e);
        return;
    }
    if (!strcmp(s->action, "scan")) {
        reply_json(req, 200,
                   json_pack("{s:s,s:s,s:o}", "session", s->session, "state", "scanned", "apps",
                             apps_json(&apps)));
    } else if (!s->appid) {
        reply_error(req, BE_MISSING_PARAMETER, "appid is required to confirm");
    } else if ((rc = pl_flow_confirm(w->pl, s->session, s->wxid, s->appid,
                                     s->has_funcs ? &s->funcs : NULL, &res, &e))) {
        reply_flow_error(req, rc, &e);
    } else {
        reply_json(req, 200, confirm_json(s->session, s->appid, &res));
    }
    pl_app_list_release(&apps);
}

static void on_scan(struct http_request *req, void *ctx)
{
    struct pl_web *w = ctx;
    struct scan_req s;
    json_t *body = control_body(req, false);
    memset(&s, 0, sizeof(s));
    if (body && scan_parse(req, w, body, &s))
        scan_run(req, w, &s);
    json_decref(body);
}

/* ---- routes ---- */

static const struct http_route routes[] = {
    {"POST", "/cgi-bin/component/", true, on_capi, "component_api"},
    {"POST", "/cgi-bin/clear_quota", false, on_capi, "clear_quota"},
    {"POST", "/cgi-bin/openapi/quota/get", false, on_capi, "quota_get"},
    {"GET", "/cgi-bin/componentloginpage", false, pl_page_login, "componentloginpage"},
    {"GET", "/wxaopen/safe/bindcomponent", false, pl_page_h5, "bindcomponent"},
    {"GET", "/safe/bindcomponent", false, pl_page_h5, "bindcomponent_legacy"},
    {"GET", "/__emu/qr/status", false, on_qr_status, "qr_status"},
    {"GET", "/__emu/phone/scan", false, pl_page_scan, "phone_scan"},
    {"GET", "/__emu/phone/confirm", false, pl_page_confirm, "phone_confirm"},
    {"POST", "/__emu/phone/confirm", false, pl_page_confirm_post, "phone_confirm_post"},
    {"POST", "/__emu/phone/cancel", false, pl_page_cancel_post, "phone_cancel"},
    {"GET", "/__emu/phone/done", false, pl_page_done, "phone_done"},
    {"GET", "/__emu/mp/login", false, pl_page_mp_login, "mp_login"},
    {"POST", "/__emu/mp/login", false, pl_page_mp_login_post, "mp_login_post"},
    {"GET", "/__emu/mp/thirdparty", false, pl_page_mp_thirdparty, "mp_thirdparty"},
    {"POST", "/__emu/mp/thirdparty/revoke", false, pl_page_mp_revoke, "mp_revoke"},
    {"GET", "/__emu/assets/emu.js", false, on_script, "asset_js"},
    {"GET", "/__emu/assets/emu.css", false, on_style, "asset_css"},
    {"POST", "/__emu/control/wxusers", false, on_wxusers, "control_wxusers"},
    {"POST", "/__emu/control/authorizers", false, on_authorizers, "control_authorizers"},
    {"POST", "/__emu/control/components", false, on_components, "control_components"},
    {"POST", "/__emu/control/rotate-key", false, on_rotate_key, "control_rotate_key"},
    {"POST", "/__emu/control/clock", false, on_clock, "control_clock"},
    {"POST", "/__emu/control/pushes", false, on_pushes, "control_pushes"},
    {"POST", "/__emu/control/push-ticket", false, on_push_ticket, "control_push_ticket"},
    {"POST", "/__emu/control/faults", false, on_faults, "control_faults"},
    {"POST", "/__emu/control/settings", false, on_settings, "control_settings"},
    {"POST", "/__emu/control/scan", false, on_scan, "control_scan"},
    {"POST", "/__emu/control/revoke", false, on_revoke, "control_revoke"},
    {"GET", "/__emu/control/state", false, on_state, "control_state"},
    {"GET", "/__emu/control/calls", false, on_calls, "control_calls"},
    {"GET", "/healthz", false, on_healthz, "healthz"},
    {"GET", "/favicon.ico", false, on_favicon, "favicon"},
    {"GET", "/", false, pl_page_index, "index"},
};

const struct http_route *pl_web_routes(size_t *ret_count)
{
    *ret_count = sizeof(routes) / sizeof(routes[0]);
    return routes;
}
