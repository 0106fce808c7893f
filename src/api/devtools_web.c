/* The developer tools' HTTP endpoints (docs/devtools.md):
 *
 *   POST /oauth/device_authorization  RFC 8628 §3.1-3.2 (form-encoded)
 *   POST /oauth/token                 RFC 8628 §3.4-3.5 and RFC 6749 §6
 *                                     (refresh), answers in RFC 6749 §5.1
 *                                     / §5.2 JSON with Cache-Control:
 *                                     no-store
 *   POST /oauth/revoke                RFC 7009 (bindery logout)
 *   GET  /console/signin?c=CODE       a console sign-in link: signs the
 *                                     browser in and redirects, or asks
 *                                     first when the browser is signed in
 *                                     as someone else
 *   POST /console/signin/peek         {Code}: whom a link signs in as
 *   POST /console/signin              {Code}: the "continue" of that page
 *   GET  /device, /devices            the approval page and devices list
 *   GET  /console/signin/{confirm,failed}  the link's pages
 *
 * The OAuth endpoints are not API 3.0: their errors are RFC 6749's
 * {"error", "error_description"} with HTTP 400 (401 for invalid_client). */
#include <stdio.h>
#include <string.h>

#include "account/session.h"
#include "account/throttle.h"
#include "api/action.h"
#include "api/query.h"
#include "api/web.h"
#include "core/crypto.h"
#include "core/timeutil.h"
#include "devtools/consolelink.h"
#include "devtools/device.h"
#include "core/banned.h"

#define GRANT_DEVICE_CODE "urn:ietf:params:oauth:grant-type:device_code"
#define GRANT_REFRESH     "refresh_token"
#define OAUTH_FORM_MAX    8192 /* bytes of a token request body */

/* ---- OAuth plumbing ------------------------------------------------------ */

static void oauth_reply(struct http_request *req, unsigned status, json_t *body /* stolen */)
{
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    http_resp_header(req, "Cache-Control", "no-store");
    http_resp_header(req, "Pragma", "no-cache");
    http_respond_take(req, status, "application/json", text, strlen(text));
}

/* RFC 6749 §5.2 names for our errors. */
static const char *oauth_error_name(int err, unsigned *ret_status)
{
    *ret_status = 400;
    switch (err) {
    case BE_DEVICE_PENDING:
        return "authorization_pending";
    case BE_DEVICE_SLOW_DOWN:
        return "slow_down";
    case BE_DEVICE_DENIED:
        return "access_denied";
    case BE_DEVICE_EXPIRED:
        return "expired_token";
    case BE_GRANT_INVALID:
        return "invalid_grant";
    case BE_INVALID_PARAMETER:
    case BE_INVALID_PARAMETER_VALUE:
    case BE_MISSING_PARAMETER:
    case BE_UNKNOWN_PARAMETER:
    case BE_BODY_TOO_LARGE:
        return "invalid_request";
    case BE_UNSUPPORTED_PROTOCOL:
        return "unsupported_grant_type";
    case BE_RATE_LIMITED:
        *ret_status = 429;
        return "slow_down";
    case BE_STORE_UNAVAILABLE:
        *ret_status = 503;
        return "temporarily_unavailable";
    default:
        *ret_status = 500;
        return "server_error";
    }
}

static void oauth_error(struct http_request *req, int err, const struct be_diag *diag,
                        int64_t interval)
{
    unsigned status;
    const char *name = oauth_error_name(err, &status);
    json_t *o = json_pack("{s:s,s:s}", "error", name, "error_description",
                          diag && diag->msg[0] ? diag->msg : be_err_message(err));
    if (!o)
        o = json_pack("{s:s}", "error", name);
    if (interval > 0)
        json_object_set_new(o, "interval", json_integer((json_int_t)interval));
    oauth_reply(req, status, o);
}

/* The form-encoded body as an object of strings (RFC 6749 §3.2: no
 * parameter twice). */
static int read_form(struct http_request *req, json_t **ret, struct be_diag *diag)
{
    const char *ct = http_req_header(req, "Content-Type");
    size_t len;
    const char *body = http_req_body(req, &len);
    if (!ct || strncmp(ct, "application/x-www-form-urlencoded", 33))
        return be_fail(diag, BE_INVALID_PARAMETER,
                       "the body must be application/x-www-form-urlencoded");
    if (len > OAUTH_FORM_MAX)
        return be_fail(diag, BE_BODY_TOO_LARGE, "the body is larger than %d bytes", OAUTH_FORM_MAX);
    json_t *form = NULL;
    int rc = api_query_to_json(body, len, &form, diag);
    if (rc)
        return rc == BE_BODY_TOO_LARGE ? rc : BE_INVALID_PARAMETER;
    const char *key;
    json_t *v;
    json_object_foreach(form, key, v)
    {
        if (!json_is_string(v)) {
            json_decref(form);
            return be_fail(diag, BE_INVALID_PARAMETER, "%s must be a plain value", key);
        }
    }
    *ret = form;
    return BE_OK;
}

static const char *form_str(json_t *form, const char *name)
{
    return json_string_value(json_object_get(form, name));
}

static void base_url(const struct web *w, struct buf *out)
{
    const char *base = w->app->cfg->public_url;
    size_t n = strlen(base);
    while (n && base[n - 1] == '/')
        n--;
    buf_add(out, base, n);
}

/* ---- Device authorization ------------------------------------------------ */

/* Device logins started per client address, counted in the store like
 * login failures: a burst beyond DEVICE_STARTS_FREE backs off. */
#define DEVICE_STARTS_FREE 100

static int starts_allowed(struct web *w, struct http_request *req, const struct req_meta *meta,
                          struct be_diag *diag)
{
    char key[96], wait_s[24];
    int64_t wait = 0;
    const struct config *cfg = w->app->cfg;
    struct throttle_rule rule = {DEVICE_STARTS_FREE, cfg->login_base_delay, cfg->login_max_delay};
    snprintf(key, sizeof(key), "devauth:%s", meta->source_ip ? meta->source_ip : "none");
    int rc = throttle_check(w->app, key, meta->now, &wait);
    if (rc == BE_OK)
        return throttle_fail(w->app, key, &rule, meta->now);
    if (rc != BE_LOGIN_THROTTLED)
        return rc;
    snprintf(wait_s, sizeof(wait_s), "%lld", (long long)wait);
    http_resp_header(req, "Retry-After", wait_s);
    return be_fail(diag, BE_RATE_LIMITED,
                   "too many device logins were started from this address; retry in %lld "
                   "seconds",
                   (long long)wait);
}

void web_oauth_device_authorization(struct http_request *req, void *ctx)
{
    struct web *w = ctx;
    struct be_diag diag = {""};
    struct req_meta meta = web_meta(req);
    struct device_authorization da;
    struct buf uri = BUF_INIT, complete = BUF_INIT;
    char shown[USERCODE_DISPLAY_LEN + 1];
    json_t *form = NULL;
    int rc = read_form(req, &form, &diag);
    if (rc || (rc = starts_allowed(w, req, &meta, &diag)) ||
        (rc = device_authorize(w->app, &meta, form_str(form, "client_id"), form_str(form, "scope"),
                               &da, &diag))) {
        oauth_error(req, rc, &diag, 0);
        goto out;
    }
    usercode_display(da.user_code, shown);
    base_url(w, &uri);
    buf_adds(&uri, "/device");
    buf_addf(&complete, "%s?user_code=%s", uri.data, shown);
    json_t *o =
        json_pack("{s:s,s:s,s:s,s:s,s:I,s:I}", "device_code", da.device_code, "user_code", shown,
                  "verification_uri", uri.data, "verification_uri_complete", complete.data,
                  "expires_in", (json_int_t)da.expires_in, "interval", (json_int_t)da.interval);
    oauth_reply(req, 200, o);
out:
    crypto_wipe(&da, sizeof(da));
    buf_release(&uri);
    buf_release(&complete);
    json_decref(form);
}

/* ---- Token endpoint ------------------------------------------------------ */

/* RFC 6749 §5.1 plus the STS trio the tool signs API calls with. */
static json_t *tokens_json(const struct device_tokens *t, int64_t now)
{
    char iso[21], uin[24], owner[24];
    time_fmt_iso(t->expires_at, iso);
    snprintf(uin, sizeof(uin), "%llu", (unsigned long long)t->who.uin);
    snprintf(owner, sizeof(owner), "%llu", (unsigned long long)t->who.owner_uin);
    return json_pack("{s:s,s:s,s:I,s:s,s:I,s:s,s:s,s:{s:s,s:s,s:s},s:I,s:s,s:s,s:s,s:I,s:s}",
                     "access_token", t->token, "token_type", "TC3-HMAC-SHA256", "expires_in",
                     (json_int_t)(t->expires_at - now), "refresh_token", t->refresh_token,
                     "refresh_token_expires_in", (json_int_t)(t->refresh_expires_at - now), "scope",
                     t->scope, "device_id", t->device_id, "Credentials", "TmpSecretId",
                     t->tmp_secret_id, "TmpSecretKey", t->tmp_secret_key, "Token", t->token,
                     "ExpiredTime", (json_int_t)t->expires_at, "Expiration", iso, "Uin", uin,
                     "OwnerUin", owner, "AppId", (json_int_t)t->who.app_id, "Kind",
                     principal_kind_name(t->who.kind));
}

void web_oauth_token(struct http_request *req, void *ctx)
{
    struct web *w = ctx;
    struct be_diag diag = {""};
    struct req_meta meta = web_meta(req);
    struct device_tokens t;
    int64_t interval = 0;
    json_t *form = NULL;
    memset(&t, 0, sizeof(t));
    int rc = read_form(req, &form, &diag);
    if (rc)
        goto fail;
    const char *grant = form_str(form, "grant_type");
    const char *client_id = form_str(form, "client_id");
    if (!grant) {
        rc = be_fail(&diag, BE_MISSING_PARAMETER, "grant_type is required");
        goto fail;
    }
    if (!strcmp(grant, GRANT_DEVICE_CODE)) {
        const char *code = form_str(form, "device_code");
        if (!code) {
            rc = be_fail(&diag, BE_MISSING_PARAMETER, "device_code is required");
            goto fail;
        }
        rc = device_poll(w->app, &meta, client_id, code, &t, &interval, &diag);
    } else if (!strcmp(grant, GRANT_REFRESH)) {
        const char *refresh = form_str(form, "refresh_token");
        if (!refresh) {
            rc = be_fail(&diag, BE_MISSING_PARAMETER, "refresh_token is required");
            goto fail;
        }
        rc = device_refresh(w->app, &meta, client_id, refresh, &t, &diag);
    } else {
        rc = be_fail(&diag, BE_UNSUPPORTED_PROTOCOL, "grant_type %.80s is not supported", grant);
    }
    if (rc)
        goto fail;
    oauth_reply(req, 200, tokens_json(&t, meta.now));
    goto out;
fail:
    oauth_error(req, rc, &diag, rc == BE_DEVICE_SLOW_DOWN ? interval : 0);
out:
    crypto_wipe(&t, sizeof(t));
    json_decref(form);
}

void web_oauth_revoke(struct http_request *req, void *ctx)
{
    struct web *w = ctx;
    struct be_diag diag = {""};
    struct req_meta meta = web_meta(req);
    json_t *form = NULL;
    int rc = read_form(req, &form, &diag);
    if (rc == BE_OK && !form_str(form, "token"))
        rc = be_fail(&diag, BE_MISSING_PARAMETER, "token is required");
    if (rc == BE_OK)
        rc = device_revoke_token(w->app, &meta, form_str(form, "token"));
    if (rc)
        oauth_error(req, rc, &diag, 0);
    else
        oauth_reply(req, 200, json_object());
    json_decref(form);
}

/* ---- Console sign-in links ----------------------------------------------- */

static void no_trace_headers(struct http_request *req)
{
    http_resp_header(req, "Cache-Control", "no-store");
    http_resp_header(req, "Referrer-Policy", "no-referrer");
}

static bool same_principal(const struct principal *a, const struct principal *b)
{
    return a->uin == b->uin && a->owner_uin == b->owner_uin && a->kind == b->kind;
}

static void signin_failed(struct http_request *req, const struct be_diag *diag)
{
    /* The first word of the diag says why (consolelink.h). */
    const char *why = !strncmp(diag->msg, "used", 4)      ? "used"
                      : !strncmp(diag->msg, "expired", 7) ? "expired"
                                                          : "unknown";
    char location[64];
    snprintf(location, sizeof(location), "/console/signin/failed?reason=%s", why);
    http_redirect(req, location);
}

void web_console_signin(struct http_request *req, void *ctx)
{
    struct web *w = ctx;
    struct be_diag diag = {""};
    struct req_meta meta = web_meta(req);
    struct console_link link;
    struct session current, fresh;
    const char *code = http_req_arg(req, "c");
    no_trace_headers(req);
    /* Signed in as someone else: ask first, without using the link. The
     * code travels in the fragment, which never reaches a server or a
     * Referer. */
    if (console_link_peek(w->app, code, meta.now, &link) == BE_OK &&
        web_console_session_of(w, req, &current) == BE_OK &&
        !same_principal(&current.who, &link.who)) {
        struct buf location = BUF_INIT;
        buf_addf(&location, "/console/signin/confirm#c=%s", code);
        http_redirect(req, location.data);
        crypto_wipe(location.data, location.len);
        buf_release(&location);
        return;
    }
    int rc = console_link_redeem(w->app, &meta, code, &link, &diag);
    if (rc == BE_CONSOLE_LINK_INVALID) {
        signin_failed(req, &diag);
        return;
    }
    if (rc || (rc = web_console_sign_in_as(w, req, &meta, &link.who, &fresh))) {
        web_reply_error(req, rc, &diag);
        return;
    }
    http_redirect(req, link.dest);
}

static const char *body_code(struct http_request *req, json_t **ret_body)
{
    size_t len;
    const char *text = http_req_body(req, &len);
    json_t *body = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
    *ret_body = body;
    return json_string_value(json_object_get(body, "Code"));
}

void web_console_signin_peek(struct http_request *req, void *ctx)
{
    struct web *w = ctx;
    struct console_link link;
    json_t *body = NULL;
    int rc = web_console_check_origin(w, req);
    const char *code = rc ? NULL : body_code(req, &body);
    if (rc == BE_OK)
        rc = console_link_peek(w->app, code, time_now(), &link);
    no_trace_headers(req);
    if (rc) {
        struct be_diag diag = {""};
        if (rc == BE_CONSOLE_LINK_INVALID)
            be_fail(&diag, rc,
                    "this sign-in link is unknown, used or expired; run bindery "
                    "console again for a new one");
        web_reply_error(req, rc, &diag);
    } else {
        json_t *o = json_object();
        api_set_uin_string(o, "Uin", link.who.uin);
        api_set_uin_string(o, "OwnerUin", link.who.owner_uin);
        json_object_set_new(o, "Kind", json_string(principal_kind_name(link.who.kind)));
        json_object_set_new(o, "Page", json_string(link.dest));
        api_set_time(o, "ExpiresAt", link.expires_at);
        web_reply_ok(req, o);
    }
    json_decref(body);
}

void web_console_signin_confirm(struct http_request *req, void *ctx)
{
    struct web *w = ctx;
    struct be_diag diag = {""};
    struct req_meta meta = web_meta(req);
    struct console_link link;
    struct session fresh;
    json_t *body = NULL;
    int rc = web_console_check_origin(w, req);
    const char *code = rc ? NULL : body_code(req, &body);
    if (rc == BE_OK)
        rc = console_link_redeem(w->app, &meta, code, &link, &diag);
    if (rc == BE_OK)
        rc = web_console_sign_in_as(w, req, &meta, &link.who, &fresh);
    no_trace_headers(req);
    if (rc)
        web_reply_error(req, rc, &diag);
    else
        web_reply_ok(req, json_pack("{s:s}", "Next", link.dest));
    json_decref(body);
}

/* ---- Pages ---------------------------------------------------------------- */

void web_page_signin(struct http_request *req, void *ctx)
{
    struct web *w = ctx;
    http_serve_file(req, w->app->cfg->web_dir, "signin.html");
}

void web_page_device(struct http_request *req, void *ctx)
{
    struct web *w = ctx;
    http_serve_file(req, w->app->cfg->web_dir, "device.html");
}
