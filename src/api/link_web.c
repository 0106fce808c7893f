/* The browser side of the link flows (docs/links.md):
 *
 *   POST /console/wechat/login      the login page's 【微信公众号】: starts a
 *                                   scan-to-log-in attempt bound to a visitor
 *                                   cookie; answers the entry page's URL
 *   GET  /wechat/authorize?state=   Bindery's entry page (web/authorize.html),
 *                                   which opens WeChat's page from our origin
 *   GET  /wechat/authorize/target   the WeChat URL for that page (JSON)
 *   GET  /wechat/authorized?...     where WeChat sends the browser back
 *                                   (web/authorized.html), which posts:
 *   POST /wechat/authorized         {State, AuthCode}: completes the attempt;
 *                                   for scan-to-log-in, signs the browser in
 *   GET  /center                    账号中心 (web/center.html)
 *
 * Completing is a POST from our own page, not work done on the GET: the
 * state-changing request then has the same-origin checks as every console
 * POST (JSON content type, Origin), and nothing happens on a prefetch. */
#include <stdio.h>
#include <string.h>

#include "account/account.h"
#include "account/session.h"
#include "account/throttle.h"
#include "api/action.h"
#include "api/web.h"
#include "binding/attempt.h"
#include "binding/flow.h"
#include "core/crypto.h"
#include "core/timeutil.h"
#include "core/banned.h"

#define VISITOR_COOKIE "bindery_wxlogin"
/* The visitor cookie outlives one attempt, so that several tabs share it. */
#define VISITOR_MAX_AGE 3600
/* Ceiling of a state parameter we look at; ours are LINK_ATTEMPT_STATE_LEN. */
#define STATE_PARAM_MAX 128

static void page(struct http_request *req, void *ctx, const char *file)
{
    struct web *w = ctx;
    http_serve_file(req, w->app->cfg->web_dir, file);
}

void web_page_center(struct http_request *req, void *ctx)
{
    page(req, ctx, "center.html");
}

void web_page_authorize(struct http_request *req, void *ctx)
{
    page(req, ctx, "authorize.html");
}

void web_page_authorized(struct http_request *req, void *ctx)
{
    page(req, ctx, "authorized.html");
}

static void set_visitor_cookie(const struct web *w, struct http_request *req, const char *value)
{
    char cookie[160];
    snprintf(cookie, sizeof(cookie),
             VISITOR_COOKIE "=%s; Path=/; HttpOnly; SameSite=Lax; Max-Age=%d%s", value,
             VISITOR_MAX_AGE, web_console_cookie_secure(w, req) ? "; Secure" : "");
    http_resp_header(req, "Set-Cookie", cookie);
}

/* Each scan-to-log-in start costs a WeChat pre-auth code (WeChat's daily
 * quota): starts are counted per client address, in the store. */
static void starts_key(const struct req_meta *meta, char *out, size_t n)
{
    snprintf(out, n, "wxlogin:%s", meta->source_ip ? meta->source_ip : "none");
}

static int starts_allowed(struct web *w, struct http_request *req, const struct req_meta *meta,
                          struct be_diag *diag)
{
    char key[96], wait_s[24];
    int64_t wait = 0;
    starts_key(meta, key, sizeof(key));
    int rc = throttle_check(w->app, key, meta->now, &wait);
    if (rc != BE_LOGIN_THROTTLED)
        return rc;
    snprintf(wait_s, sizeof(wait_s), "%lld", (long long)wait);
    http_resp_header(req, "Retry-After", wait_s);
    return be_fail(diag, rc,
                   "too many WeChat sign-ins were started from this address; retry in %lld "
                   "seconds",
                   (long long)wait);
}

static void count_start(struct web *w, const struct req_meta *meta)
{
    char key[96];
    const struct config *cfg = w->app->cfg;
    struct throttle_rule rule = {cfg->link_max_login_starts, cfg->login_base_delay,
                                 cfg->login_max_delay};
    starts_key(meta, key, sizeof(key));
    throttle_fail(w->app, key, &rule, meta->now);
}

void web_link_login_start(struct http_request *req, void *ctx)
{
    struct web *w = ctx;
    struct req_meta meta = web_meta(req);
    struct be_diag diag = {""};
    struct buf visitor = BUF_INIT;
    struct link_started st;
    memset(&st, 0, sizeof(st));
    int rc = web_console_check_origin(w, req);
    if (rc || (rc = starts_allowed(w, req, &meta, &diag)))
        goto fail;
    const char *have = http_req_cookie(req, VISITOR_COOKIE);
    if (link_visitor_valid(have))
        buf_adds(&visitor, have);
    else
        link_visitor_new(&visitor);
    struct link_start s = {LINK_PURPOSE_LOGIN, NULL, NULL, visitor.data, NULL};
    if ((rc = link_flow_start(w->app, &meta, &s, &st, &diag)))
        goto fail;
    count_start(w, &meta);
    set_visitor_cookie(w, req, visitor.data);
    http_resp_header(req, "Cache-Control", "no-store");
    json_t *out = json_object();
    json_object_set_new(out, "AuthorizationUrl", json_string(st.entry_url.data));
    api_set_time(out, "ExpiresAt", st.expires_at);
    web_reply_ok(req, out);
    goto out;
fail:
    web_reply_error(req, rc, &diag);
out:
    crypto_wipe(st.state, sizeof(st.state));
    buf_release(&st.entry_url);
    buf_release(&visitor);
}

void web_link_target(struct http_request *req, void *ctx)
{
    struct web *w = ctx;
    struct be_diag diag = {""};
    struct buf url = BUF_INIT;
    const char *state = http_req_arg(req, "state");
    int rc = state && strlen(state) <= STATE_PARAM_MAX
                 ? link_flow_target(w->app, state, time_now(), &url, &diag)
                 : be_fail(&diag, BE_ATTEMPT_INVALID,
                           "the authorization state is missing or malformed; start again");
    http_resp_header(req, "Cache-Control", "no-store");
    if (rc)
        web_reply_error(req, rc, &diag);
    else
        web_reply_ok(req, json_pack("{s:s}", "Url", url.data));
    buf_release(&url);
}

/* A string member of the body, 1..max bytes; the diag names it. */
static int body_str(json_t *body, const char *name, size_t max, const char **ret,
                    struct be_diag *diag)
{
    json_t *v = json_object_get(body, name);
    if (!v || json_is_null(v))
        return be_fail(diag, BE_MISSING_PARAMETER, "%s is required", name);
    if (!json_is_string(v))
        return be_fail(diag, BE_INVALID_PARAMETER, "%s must be a string", name);
    if (json_string_length(v) < 1 || json_string_length(v) > max)
        return be_fail(diag, BE_INVALID_PARAMETER_VALUE, "%s must be 1 to %zu characters long",
                       name, max);
    *ret = json_string_value(v);
    return BE_OK;
}

static json_t *parse_object(struct http_request *req, int *rc, struct be_diag *diag)
{
    size_t len;
    const char *body = http_req_body(req, &len);
    json_error_t jerr;
    json_t *v = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!v || !json_is_object(v)) {
        *rc = be_fail(diag, BE_INVALID_PARAMETER, "the request body must be a JSON object");
        json_decref(v);
        return NULL;
    }
    *rc = BE_OK;
    return v;
}

static json_t *outcome_json(const struct link_outcome *o, bool signed_in)
{
    json_t *out = json_object();
    const struct link *l = &o->link;
    json_object_set_new(out, "Purpose", json_string(link_purpose_name(o->purpose)));
    json_object_set_new(out, "Result",
                        json_string(o->change == LINK_CHANGE_CREATED        ? "Linked"
                                    : o->change == LINK_CHANGE_REAUTHORIZED ? "Reauthorized"
                                                                            : "Refreshed"));
    json_object_set_new(out, "Registered", json_boolean(o->registered));
    json_object_set_new(out, "SignedIn", json_boolean(signed_in));
    api_set_uin_string(out, "Uin", o->uin);
    json_object_set_new(out, "AuthorizerAppId", json_string(l->appid));
    json_object_set_new(out, "NickName", json_string(l->nick_name));
    json_object_set_new(
        out, "AppType",
        json_string(l->app_type == LINK_APP_MP ? "MiniProgram" : "OfficialAccount"));
    json_object_set_new(out, "Next",
                        json_string(o->purpose == LINK_PURPOSE_LOGIN ? "/account" : "/center"));
    return out;
}

void web_link_authorized(struct http_request *req, void *ctx)
{
    struct web *w = ctx;
    struct req_meta meta = web_meta(req);
    struct be_diag diag = {""};
    struct session s, fresh;
    struct link_outcome o;
    struct account acct;
    const char *state = NULL, *code = NULL;
    json_t *body = NULL;
    int rc = web_console_check_origin(w, req);
    if (rc || !(body = parse_object(req, &rc, &diag)))
        goto fail;
    if ((rc = body_str(body, "State", STATE_PARAM_MAX, &state, &diag)) ||
        (rc = body_str(body, "AuthCode", WX_CODE_MAX, &code, &diag)))
        goto fail;
    bool has_session = web_console_session_of(w, req, &s) == BE_OK;
    struct link_proof proof = {has_session ? s.id_hash : NULL, has_session ? &s.who : NULL,
                               http_req_cookie(req, VISITOR_COOKIE)};
    if ((rc = link_flow_complete(w->app, &meta, state, code, &proof, &o, &diag)))
        goto fail;
    bool signed_in = false;
    if (o.purpose == LINK_PURPOSE_LOGIN) {
        if ((rc = account_get(w->app, o.uin, &acct)) ||
            (rc = web_console_sign_in(w, req, &meta, &acct, &fresh)))
            goto fail;
        signed_in = true;
        char key[96];
        starts_key(&meta, key, sizeof(key));
        throttle_reset(w->app, key);
    }
    http_resp_header(req, "Cache-Control", "no-store");
    web_reply_ok(req, outcome_json(&o, signed_in));
    json_decref(body);
    return;
fail:
    web_reply_error(req, rc, &diag);
    json_decref(body);
}
