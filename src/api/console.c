/* The console's own endpoints: sign-up, login, logout, the session, and the
 * console's door to the API actions (session cookie + CSRF header). */
#include <stdio.h>
#include <string.h>

#include "account/account.h"
#include "account/session.h"
#include "api/action.h"
#include "api/web.h"
#include "cam/console.h"
#include "core/log.h"
#include "core/timeutil.h"
#include "core/banned.h"

#define SESSION_COOKIE "bindery_session"

static bool cookie_secure(const struct web *w, struct http_request *req)
{
    const char *mode = w->app->cfg->session_cookie_secure;
    if (!strcmp(mode, "true"))
        return true;
    if (!strcmp(mode, "false"))
        return false;
    return !strncmp(w->app->cfg->public_url, "https:", 6) || http_req_is_tls(req);
}

static void set_session_cookie(const struct web *w, struct http_request *req, const char *token,
                               int64_t max_age)
{
    char cookie[256];
    snprintf(cookie, sizeof(cookie), SESSION_COOKIE "=%s; Path=/; HttpOnly; SameSite=Lax; Max-Age=%lld%s",
             token, (long long)max_age, cookie_secure(w, req) ? "; Secure" : "");
    http_resp_header(req, "Set-Cookie", cookie);
}

/* Same-origin check for state-changing console requests: a JSON content type
 * (which a cross-site form cannot send without a CORS preflight) and, when
 * the browser sends Origin, our own origin. */
static int check_origin(const struct web *w, struct http_request *req)
{
    const char *ct = http_req_header(req, "Content-Type");
    if (!ct || strncmp(ct, "application/json", 16))
        return BE_CSRF;
    const char *origin = http_req_header(req, "Origin");
    if (!origin)
        return BE_OK;
    const char *host = http_req_header(req, "Host");
    char mine[512];
    snprintf(mine, sizeof(mine), "%s", w->app->cfg->public_url);
    size_t n = strlen(mine);
    while (n && mine[n - 1] == '/')
        mine[--n] = '\0';
    if (!strcmp(origin, mine))
        return BE_OK;
    if (host) {
        char http_origin[300], https_origin[300];
        snprintf(http_origin, sizeof(http_origin), "http://%s", host);
        snprintf(https_origin, sizeof(https_origin), "https://%s", host);
        if (!strcmp(origin, http_origin) || !strcmp(origin, https_origin))
            return BE_OK;
    }
    return BE_CSRF;
}

static json_t *parse_body(struct http_request *req, struct be_diag *diag, int *rc)
{
    size_t len;
    const char *body = http_req_body(req, &len);
    json_error_t jerr;
    json_t *v = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!v || !json_is_object(v)) {
        *rc = be_fail(diag, BE_INVALID_PARAMETER, "the request body must be a JSON object%s%s",
                      v ? "" : ": ", v ? "" : jerr.text);
        json_decref(v);
        return NULL;
    }
    *rc = BE_OK;
    return v;
}

/* The session as the console sees it. For a collaborator Email and
 * RegisteredVia are its own account's; UserName is its name in the owner
 * account (a sub-user's name, a collaborator's name there, "" for a root). */
static json_t *session_json(const struct web *w, const struct session *s,
                            const struct account *acct, const char *user_name)
{
    char csrf[SESSION_CSRF_LEN + 1];
    session_csrf_token(w->app, s, csrf);
    json_t *o = json_object();
    api_set_uin_string(o, "Uin", s->who.uin);
    api_set_uin_string(o, "OwnerUin", s->who.owner_uin);
    json_object_set_new(o, "AppId", json_integer((json_int_t)s->who.app_id));
    json_object_set_new(o, "Kind", json_string(principal_kind_name(s->who.kind)));
    json_object_set_new(o, "Email", json_string(acct ? acct->email : ""));
    json_object_set_new(o, "RegisteredVia", json_string(acct ? acct->registered_via : ""));
    json_object_set_new(o, "UserName", json_string(user_name ? user_name : ""));
    json_object_set_new(o, "CsrfToken", json_string(csrf));
    api_set_time(o, "ExpiresAt", s->expires_at);
    return o;
}

/* Signs in acct: a new session (rotating any old one), cookie, reply. */
static void start_session(struct web *w, struct http_request *req, const struct req_meta *meta,
                          const struct account *acct)
{
    struct principal who = {PRINCIPAL_ROOT, acct->uin, acct->uin, acct->app_id};
    struct buf token = BUF_INIT;
    struct session s;
    int rc = session_create(w->app, meta, &who, http_req_cookie(req, SESSION_COOKIE), &token, &s);
    if (rc) {
        web_reply_error(req, rc, NULL);
        goto out;
    }
    set_session_cookie(w, req, token.data, (int64_t)w->app->cfg->session_absolute_timeout);
    http_resp_header(req, "Cache-Control", "no-store");
    web_reply_ok(req, session_json(w, &s, acct, NULL));
out:
    buf_release(&token);
}

static void credentials_endpoint(struct http_request *req, void *ctx, bool signup)
{
    struct web *w = ctx;
    struct be_diag diag = {""};
    struct req_meta meta = web_meta(req);
    struct account acct;
    int64_t retry_after = 0;
    int rc = check_origin(w, req);
    json_t *body = rc ? NULL : parse_body(req, &diag, &rc);
    if (rc)
        goto fail;
    const char *email = json_string_value(json_object_get(body, "Email"));
    const char *password = json_string_value(json_object_get(body, "Password"));
    if (signup)
        rc = account_signup(w->app, &meta, email, password, &acct, &diag);
    else
        rc = account_login(w->app, &meta, email, password, &acct, &retry_after, &diag);
    if (rc)
        goto fail;
    start_session(w, req, &meta, &acct);
    json_decref(body);
    return;
fail:
    if (rc == BE_LOGIN_THROTTLED) {
        char s[24];
        snprintf(s, sizeof(s), "%lld", (long long)retry_after);
        http_resp_header(req, "Retry-After", s);
    }
    web_reply_error(req, rc, &diag);
    json_decref(body);
}

void web_console_signup(struct http_request *req, void *ctx)
{
    credentials_endpoint(req, ctx, true);
}

void web_console_login(struct http_request *req, void *ctx)
{
    credentials_endpoint(req, ctx, false);
}

/* Resolves the session cookie, and for state-changing requests the CSRF
 * header too. A sub-user or collaborator session whose principal may no
 * longer use the console (deleted, console login off, collaboration
 * removed) ends here, at its first request after the change. */
static int authenticate(struct web *w, struct http_request *req, bool state_changing,
                        struct session *ret, struct cam_user *ret_user, struct be_diag *diag)
{
    const char *token = http_req_cookie(req, SESSION_COOKIE);
    int rc = session_lookup(w->app, token, time_now(), ret);
    if (rc)
        return rc;
    if ((rc = cam_console_check(w->app, &ret->who, ret_user, diag))) {
        if (rc == BE_SESSION_INVALID)
            session_destroy(w->app, token);
        return rc;
    }
    if (state_changing) {
        if ((rc = check_origin(w, req)))
            return rc;
        if (!session_csrf_valid(w->app, ret, http_req_header(req, "X-CSRF-Token")))
            return BE_CSRF;
    }
    return BE_OK;
}

void web_console_logout(struct http_request *req, void *ctx)
{
    struct web *w = ctx;
    struct session s;
    struct be_diag diag = {""};
    int rc = authenticate(w, req, true, &s, NULL, &diag);
    if (rc == BE_OK)
        rc = session_destroy(w->app, http_req_cookie(req, SESSION_COOKIE));
    if (rc) {
        web_reply_error(req, rc, &diag);
        return;
    }
    set_session_cookie(w, req, "", 0);
    web_reply_ok(req, json_object());
}

void web_console_session(struct http_request *req, void *ctx)
{
    struct web *w = ctx;
    struct session s;
    struct cam_user u;
    struct be_diag diag = {""};
    int rc = authenticate(w, req, false, &s, &u, &diag);
    if (rc) {
        web_reply_error(req, rc, &diag);
        return;
    }
    web_console_reply_session(w, req, &s, s.who.kind == PRINCIPAL_ROOT ? NULL : u.name);
}

void web_console_api(struct http_request *req, void *ctx)
{
    struct web *w = ctx;
    struct session s;
    struct be_diag diag = {""};
    const struct api_action *action;
    json_t *params = NULL;
    int rc = authenticate(w, req, true, &s, NULL, &diag);
    if (rc)
        goto fail;
    const char *name = http_req_header(req, "X-TC-Action");
    if (!name || !*name) {
        rc = be_fail(&diag, BE_MISSING_PARAMETER, "the X-TC-Action header is required");
        goto fail;
    }
    if ((rc = api_find_action(name, http_req_header(req, "X-TC-Version"), &action)))
        goto fail;
    size_t len;
    http_req_body(req, &len);
    if (len && !(params = parse_body(req, &diag, &rc)))
        goto fail;
    web_dispatch_reply(w, req, &s.who, s.id_hash, action, params);
    return;
fail:
    json_decref(params);
    web_reply_error(req, rc, &diag);
}

/* --- for the other console endpoints (api/link_web.c) --------------------- */

int web_console_check_origin(const struct web *w, struct http_request *req)
{
    return check_origin(w, req);
}

int web_console_session_of(struct web *w, struct http_request *req, struct session *ret)
{
    struct be_diag diag;
    return authenticate(w, req, false, ret, NULL, &diag);
}

int web_console_authenticate(struct web *w, struct http_request *req, bool state_changing,
                             struct session *ret, struct cam_user *ret_user, struct be_diag *diag)
{
    return authenticate(w, req, state_changing, ret, ret_user, diag);
}

int web_console_start_session(struct web *w, struct http_request *req, const struct req_meta *meta,
                              const struct principal *who, const struct audit_entry *rotate_audit,
                              struct session *ret)
{
    const char *old = http_req_cookie(req, SESSION_COOKIE);
    struct buf token = BUF_INIT;
    int rc = rotate_audit ? session_rotate(w->app, meta, who, old, rotate_audit, &token, ret)
                          : session_create(w->app, meta, who, old, &token, ret);
    if (rc == BE_OK) {
        set_session_cookie(w, req, token.data, (int64_t)w->app->cfg->session_absolute_timeout);
        http_resp_header(req, "Cache-Control", "no-store");
    }
    crypto_wipe(token.data, token.len);
    buf_release(&token);
    return rc;
}

void web_console_reply_session(struct web *w, struct http_request *req, const struct session *s,
                               const char *user_name)
{
    struct account acct;
    struct cam_user u;
    struct be_diag diag = {""};
    const struct account *ap = NULL;
    int rc = BE_OK;
    /* A root (switched or not) shows its own account; a sub-user has none. */
    if (s->who.kind != PRINCIPAL_SUB_USER) {
        rc = account_get(w->app, s->who.uin, &acct);
        if (rc == BE_NOT_FOUND)
            rc = BE_SESSION_INVALID;
        ap = &acct;
    }
    if (rc == BE_OK && !user_name && s->who.kind != PRINCIPAL_ROOT &&
        (rc = cam_console_check(w->app, &s->who, &u, &diag)) == BE_OK)
        user_name = u.name;
    if (rc) {
        web_reply_error(req, rc, &diag);
        return;
    }
    http_resp_header(req, "Cache-Control", "no-store");
    web_reply_ok(req, session_json(w, s, ap, user_name));
}

bool web_console_cookie_secure(const struct web *w, struct http_request *req)
{
    return cookie_secure(w, req);
}

int web_console_sign_in(struct web *w, struct http_request *req, const struct req_meta *meta,
                        const struct account *acct, struct session *ret)
{
    struct principal who = {PRINCIPAL_ROOT, acct->uin, acct->uin, acct->app_id};
    struct buf token = BUF_INIT;
    int rc = session_create(w->app, meta, &who, http_req_cookie(req, SESSION_COOKIE), &token, ret);
    if (rc == BE_OK) {
        set_session_cookie(w, req, token.data, (int64_t)w->app->cfg->session_absolute_timeout);
        http_resp_header(req, "Cache-Control", "no-store");
    }
    crypto_wipe(token.data, token.len);
    buf_release(&token);
    return rc;
}

int web_console_sign_in_as(struct web *w, struct http_request *req, const struct req_meta *meta,
                           const struct principal *who, struct session *ret)
{
    struct buf token = BUF_INIT;
    int rc = session_create(w->app, meta, who, http_req_cookie(req, SESSION_COOKIE), &token, ret);
    if (rc == BE_OK) {
        set_session_cookie(w, req, token.data, (int64_t)w->app->cfg->session_absolute_timeout);
        http_resp_header(req, "Cache-Control", "no-store");
    }
    crypto_wipe(token.data, token.len);
    buf_release(&token);
    return rc;
}
