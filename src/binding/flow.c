#include "binding/flow.h"

#include <stdio.h>
#include <string.h>

#include "cam/authz.h"
#include "core/crypto.h"
#include "core/log.h"
#include "wechat/component.h"
#include "core/banned.h"

/* A grant that two transactions raced to create is applied again once. */
#define DUPLICATE_RETRIES 2

/* --- helpers ------------------------------------------------------------------ */

static int component(struct app *app, struct wx_component **ret, struct be_diag *diag)
{
    const char *off = app->wechat ? wx_component_disabled_reason(app->wechat)
                                  : "WeChat linking is not available in this process";
    if (off)
        return be_fail(diag, BE_FAILED, "%s", off);
    *ret = app->wechat;
    return BE_OK;
}

/* Appends s percent-encoded for a query value (all but A-Za-z0-9-_.~). */
static void url_escape(struct buf *out, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            *p == '-' || *p == '_' || *p == '.' || *p == '~') {
            buf_addch(out, (char)*p);
        } else {
            buf_addch(out, '%');
            buf_addch(out, hex[*p >> 4]);
            buf_addch(out, hex[*p & 15]);
        }
    }
}

/* A configured URL without its trailing slashes. */
static void add_base(struct buf *out, const char *url)
{
    size_t n = strlen(url);
    while (n && url[n - 1] == '/')
        n--;
    buf_add(out, url, n);
}

static bool appid_ok(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n < 1 || n > WX_APPID_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
              (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
            return false;
    return true;
}

static int code_ok(const char *code, struct be_diag *diag)
{
    if (!code || !*code)
        return be_fail(diag, BE_MISSING_PARAMETER, "auth_code is missing from the redirect");
    if (strlen(code) > WX_CODE_MAX)
        return be_fail(diag, BE_INVALID_PARAMETER_VALUE, "auth_code is longer than %d bytes",
                       WX_CODE_MAX);
    for (const char *p = code; *p; p++)
        if (*p < 0x21 || *p > 0x7e)
            return be_fail(diag, BE_INVALID_PARAMETER_VALUE,
                           "auth_code contains a character that is not allowed");
    return BE_OK;
}

/* May who create (or re-authorize) the link of appid? wxlink:CreateLink. */
static int may_link(struct app *app, const struct req_meta *meta, const struct principal *who,
                    const char *appid, struct be_diag *diag)
{
    struct buf res = BUF_INIT;
    link_resource(who->owner_uin, appid, &res);
    struct cam_request req = {"wxlink:CreateLink", res.data, who->owner_uin, meta->source_ip,
                              meta->now};
    int rc = cam_authorize(app, who, &req, meta->request_id, diag);
    buf_release(&res);
    return rc;
}

/* Explains a failed WeChat call in words for the user; rc is kept. */
static int wechat_failed(int rc, const char *what, const struct be_diag *inner,
                         struct be_diag *diag)
{
    if (rc == BE_INVALID_PARAMETER_VALUE)
        return be_fail(diag, rc,
                       "WeChat refused the authorization code (%s): it expired or is not valid "
                       "any more; start again",
                       inner->msg);
    if (rc == BE_UPSTREAM || rc == BE_RATE_LIMITED || rc == BE_INTERNAL)
        return be_fail(diag, rc,
                       "WeChat did not complete %s (%s); nothing was changed, reload this page "
                       "to try again",
                       what, inner->msg[0] ? inner->msg : be_err_message(rc));
    return be_fail(diag, rc, "WeChat refused %s: %s", what, inner->msg);
}

/* api_query_auth then api_get_authorizer_info: the grant. */
static int exchange(struct wx_component *wc, const char *code, struct link_grant *g,
                    struct wx_result *res, struct be_diag *diag)
{
    struct wx_authorization auth;
    struct wx_authorizer_info info;
    struct be_diag inner = {""};
    int rc = wx_component_query_auth(wc, code, &auth, res, &inner);
    if (rc) {
        wechat_failed(rc, "the authorization", &inner, diag);
        goto out;
    }
    if ((rc = wx_component_get_authorizer_info(wc, auth.authorizer_appid, &info, res, &inner))) {
        wechat_failed(rc, "the app's profile", &inner, diag);
        goto out;
    }
    link_grant_from_wechat(&auth, &info, g);
out:
    crypto_wipe(&auth, sizeof(auth));
    crypto_wipe(&info, sizeof(info));
    return rc;
}

/* --- start ------------------------------------------------------------------- */

static int bind_attempt(struct app *app, const struct link_start *s, struct link_attempt *a,
                        struct be_diag *diag)
{
    a->purpose = s->purpose;
    if (s->purpose == LINK_PURPOSE_LOGIN) {
        if (!link_visitor_valid(s->visitor))
            return be_fail(diag, BE_INVALID_PARAMETER_VALUE, "the visitor cookie is malformed");
        a->binding = LINK_BIND_VISITOR;
        crypto_sha256(s->visitor, LINK_VISITOR_LEN, a->binding_hash);
        return BE_OK;
    }
    if (!s->who)
        return be_fail(diag, BE_INVALID_PARAMETER, "linking needs a signed-in principal");
    a->who = *s->who;
    a->binding = s->session_hash ? LINK_BIND_SESSION : LINK_BIND_PRINCIPAL;
    if (s->session_hash)
        memcpy(a->binding_hash, s->session_hash, CRYPTO_SHA256_LEN);
    if (!s->target_appid || !*s->target_appid)
        return BE_OK;
    if (!appid_ok(s->target_appid))
        return be_fail(diag, BE_INVALID_PARAMETER_VALUE,
                       "AuthorizerAppId must be 1 to %d letters, digits or underscores",
                       WX_APPID_MAX);
    struct link l;
    if (link_get_owned(app, s->who->owner_uin, s->target_appid, &l))
        return be_fail(diag, BE_LINK_NOT_FOUND,
                       "account %llu has no link of the WeChat app %s to re-authorize",
                       (unsigned long long)s->who->owner_uin, s->target_appid);
    snprintf(a->target_appid, sizeof(a->target_appid), "%s", s->target_appid);
    return BE_OK;
}

int link_flow_start(struct app *app, const struct req_meta *meta, const struct link_start *s,
                    struct link_started *ret, struct be_diag *diag)
{
    struct wx_component *wc = NULL;
    struct link_attempt a;
    struct wx_preauthcode pac;
    struct be_diag inner = {""};
    struct buf state = BUF_INIT;
    memset(&a, 0, sizeof(a));
    memset(&pac, 0, sizeof(pac));
    int rc = component(app, &wc, diag);
    if (rc || (rc = bind_attempt(app, s, &a, diag)))
        return rc;
    if ((rc = wx_component_create_preauthcode(wc, &pac, NULL, &inner))) {
        be_fail(diag, rc, "WeChat did not give a pre-auth code (%s); try again shortly", inner.msg);
        goto out;
    }
    snprintf(a.pre_auth_code, sizeof(a.pre_auth_code), "%s", pac.pre_auth_code);
    if ((rc = link_attempt_create(app, &a, meta->now, &state)))
        goto out;
    snprintf(ret->state, sizeof(ret->state), "%s", state.data);
    add_base(&ret->entry_url, app->cfg->public_url);
    buf_addf(&ret->entry_url, "/wechat/authorize?state=%s", state.data);
    ret->expires_at = a.expires_at;
out:
    crypto_wipe(&pac, sizeof(pac));
    buf_release(&state);
    return rc;
}

int link_flow_target(struct app *app, const char *state, int64_t now, struct buf *ret_url,
                     struct be_diag *diag)
{
    struct link_attempt a;
    struct buf redirect = BUF_INIT;
    int rc = link_attempt_get(app, state, now, &a, diag);
    if (rc)
        return rc;
    add_base(&redirect, app->cfg->public_url);
    buf_addf(&redirect, "/wechat/authorized?state=%s", state);
    add_base(ret_url, app->cfg->wechat_mp_base_url);
    buf_adds(ret_url, "/cgi-bin/componentloginpage?component_appid=");
    url_escape(ret_url, app->cfg->wechat_component_appid);
    buf_adds(ret_url, "&pre_auth_code=");
    url_escape(ret_url, a.pre_auth_code);
    buf_adds(ret_url, "&redirect_uri=");
    url_escape(ret_url, redirect.data);
    buf_adds(ret_url, "&auth_type=3");
    if (a.target_appid[0]) {
        buf_adds(ret_url, "&biz_appid=");
        url_escape(ret_url, a.target_appid);
    }
    buf_release(&redirect);
    return BE_OK;
}

/* --- complete ------------------------------------------------------------- */

static struct link_target target_of(const struct link_attempt *a, bool record_login,
                                    const char *via)
{
    struct link_target t = {a->purpose,      a->who.owner_uin, a->who.uin,
                            a->target_appid, record_login,     via};
    return t;
}

struct commit_ctx {
    struct app *app;
    const struct req_meta *meta;
    const struct link_attempt *a;
    const char *code;
    const struct link_grant *g;
    struct link_outcome out;
    struct be_diag diag;
};

/* The redirect's transaction: code recorded, grant applied, attempt used. */
static int commit_fn(struct store_conn *c, void *arg)
{
    struct commit_ctx *x = arg;
    struct link_target t = target_of(x->a, x->a->purpose == LINK_PURPOSE_LOGIN, "redirect");
    int rc = link_attempt_use_code(c, x->a, x->code, x->g->appid, x->meta->now);
    if (rc == BE_AUTH_CODE_USED)
        return be_fail(&x->diag, rc,
                       "this WeChat authorization code already completed another authorization; "
                       "start again");
    if (rc || (rc = link_apply_grant(c, x->app, x->meta, &t, x->g, &x->out, &x->diag)))
        return rc;
    /* The push of this authorization was applied while WeChat was being
     * asked: what the attempt did is what the push did. */
    struct link_attempt now;
    if ((rc = link_attempt_reload(c, x->a, &now)))
        return rc;
    if (x->out.change == LINK_CHANGE_REFRESHED && now.applied_at && now.has_result &&
        !strcmp(now.result_appid, x->out.link.appid)) {
        x->out.change = now.result_change;
        x->out.registered = now.result_registered;
    }
    return link_attempt_finish(c, x->a, x->meta->now, &x->out);
}

/* The push applied this attempt's grant already: the redirect only records
 * the code, the login, and uses the attempt. */
static int applied_fn(struct store_conn *c, void *arg)
{
    struct commit_ctx *x = arg;
    const struct link_attempt *a = x->a;
    int rc = link_load_live(c, a->result_appid, &x->out.link);
    if (rc)
        return rc;
    if (x->out.link.owner_uin != a->result_uin)
        return BE_NOT_FOUND; /* unlinked meanwhile: complete it afresh */
    x->out.purpose = a->purpose;
    x->out.change = a->result_change;
    x->out.registered = a->result_registered;
    x->out.uin = a->result_uin;
    rc = link_attempt_use_code(c, a, x->code, a->result_appid, x->meta->now);
    if (rc == BE_AUTH_CODE_USED)
        return be_fail(&x->diag, rc,
                       "this WeChat authorization code already completed another authorization; "
                       "start again");
    if (rc == BE_OK && a->purpose == LINK_PURPOSE_LOGIN)
        rc = link_record_login(c, x->meta, &x->out.link);
    if (rc == BE_OK)
        rc = link_attempt_finish(c, a, x->meta->now, &x->out);
    return rc;
}

static int run_commit(struct commit_ctx *x, store_fn fn, struct be_diag *diag)
{
    int rc = BE_DUPLICATE;
    for (int i = 0; rc == BE_DUPLICATE && i < DUPLICATE_RETRIES; i++) {
        x->diag.msg[0] = '\0';
        rc = store_tx(x->app->store, fn, x);
    }
    if (rc && x->diag.msg[0])
        *diag = x->diag;
    return rc;
}

static int complete_claimed(struct app *app, const struct req_meta *meta,
                            const struct link_attempt *a, const char *code,
                            struct link_outcome *ret, struct be_diag *diag)
{
    struct wx_component *wc = NULL;
    struct link_grant g;
    struct wx_result res;
    struct commit_ctx x = {app, meta, a, code, NULL, {0}, {""}};
    int rc = component(app, &wc, diag);
    if (rc)
        return rc;
    if (a->applied_at && a->has_result && a->result_appid[0]) {
        rc = run_commit(&x, applied_fn, diag);
        if (rc != BE_NOT_FOUND)
            goto out;
    }
    memset(&g, 0, sizeof(g));
    if ((rc = exchange(wc, code, &g, &res, diag)))
        goto wipe;
    if (a->purpose == LINK_PURPOSE_LINK && (rc = may_link(app, meta, &a->who, g.appid, diag)))
        goto wipe;
    x.g = &g;
    rc = run_commit(&x, commit_fn, diag);
wipe:
    crypto_wipe(&g, sizeof(g));
out:
    if (rc == BE_OK)
        *ret = x.out;
    return rc;
}

int link_flow_complete(struct app *app, const struct req_meta *meta, const char *state,
                       const char *auth_code, const struct link_proof *proof,
                       struct link_outcome *ret, struct be_diag *diag)
{
    struct link_attempt a;
    int rc = code_ok(auth_code, diag);
    if (rc || (rc = link_attempt_claim(app, state, proof, meta->now, &a, diag)))
        return rc;
    rc = complete_claimed(app, meta, &a, auth_code, ret, diag);
    if (rc)
        link_attempt_release(app, &a, diag && diag->msg[0] ? diag->msg : be_err_code(rc));
    return rc;
}

/* --- pushes ----------------------------------------------------------------- */

static struct req_meta worker_meta(int64_t now)
{
    struct req_meta m = {"link-worker", NULL, NULL, now};
    return m;
}

static void set_note(char *note, const char *fmt_text)
{
    if (note)
        snprintf(note, LINK_NOTE_MAX + 1, "%s", fmt_text);
}

/* Completes ev with note in a transaction of its own. */
static int done(struct app *app, const char *owner, const struct wechat_event *ev, int64_t now,
                const char *note, char *ret_note)
{
    set_note(ret_note, note);
    int rc = wechat_events_complete_now(app, ev->id, owner, note, now);
    return rc == BE_NOT_FOUND ? BE_OK : rc; /* another worker took it over */
}

/* WeChat could not be asked: later, or never again after too many tries. */
static int retry_later(struct app *app, const char *owner, const struct wechat_event *ev,
                       int64_t now, const struct be_diag *why, char *ret_note)
{
    char note[LINK_NOTE_MAX + 1];
    if (ev->attempts >= LINK_EVENT_MAX_ATTEMPTS) {
        snprintf(note, sizeof(note), "gave up: %.*s", LINK_NOTE_MAX - 9, why->msg);
        return done(app, owner, ev, now, note, ret_note);
    }
    snprintf(note, sizeof(note), "%.*s", LINK_NOTE_MAX, why->msg);
    set_note(ret_note, note);
    int rc = wechat_events_defer(app, ev->id, owner, now + LINK_EVENT_RETRY_S, note);
    return rc == BE_NOT_FOUND ? BE_OK : rc;
}

struct revoke_push_ctx {
    const struct req_meta *meta;
    const struct wechat_event *ev;
    const char *owner;
    int64_t seq;
    char note[LINK_NOTE_MAX + 1];
};

static int revoke_push_fn(struct store_conn *c, void *arg)
{
    struct revoke_push_ctx *x = arg;
    int rc = link_revoke(c, x->meta, x->ev->authorizer_appid, LINK_REASON_PUSH, x->seq,
                         "stopped on WeChat; WeChat's unauthorized push said so", NULL);
    snprintf(x->note, sizeof(x->note), "%s",
             rc == BE_NOT_FOUND ? "ignored: the link changed meanwhile" : "revoked");
    if (rc && rc != BE_NOT_FOUND)
        return rc;
    return wechat_events_complete(c, x->ev->id, x->owner, x->note, x->meta->now);
}

/* unauthorized: confirmed with WeChat (a stale push after a re-authorization
 * must not end the new grant), then revoked. A failed confirmation trusts
 * the push: it is signed by WeChat. */
static int apply_unauthorized(struct app *app, struct wx_component *wc, const char *owner,
                              const struct wechat_event *ev, int64_t now, char *ret_note)
{
    struct link l;
    struct wx_authorizer_info info;
    struct wx_result res;
    struct be_diag inner = {""};
    int rc = link_get_live(app, ev->authorizer_appid, &l);
    if (rc == BE_NOT_FOUND || (rc == BE_OK && l.state != LINK_ACTIVE))
        return done(app, owner, ev, now, "ignored: no active link of the app", ret_note);
    if (rc)
        return rc;
    rc = wx_component_get_authorizer_info(wc, ev->authorizer_appid, &info, &res, &inner);
    crypto_wipe(&info.authorization, sizeof(info.authorization));
    if (rc == BE_OK) {
        struct link_grant p;
        link_grant_from_wechat(&info.authorization, &info, &p);
        link_mark_verified(app, l.id, l.grant_seq, now, link_next_check(app->cfg, now), NULL, &p);
        return done(app, owner, ev, now, "ignored: WeChat says the app is still authorized",
                    ret_note);
    }
    struct req_meta m = worker_meta(now);
    struct revoke_push_ctx x = {&m, ev, owner, l.grant_seq, ""};
    rc = store_tx(app->store, revoke_push_fn, &x);
    set_note(ret_note, x.note);
    return rc == BE_NOT_FOUND ? BE_OK : rc;
}

struct push_ctx {
    struct app *app;
    const struct req_meta *meta;
    const struct wechat_event *ev;
    const char *owner;
    const struct link_attempt *a; /* NULL: the live link's own refresh */
    const struct link *live;
    const struct link_grant *g;
    struct link_outcome out;
    struct be_diag diag;
};

static int push_fn(struct store_conn *c, void *arg)
{
    struct push_ctx *x = arg;
    struct link_target t;
    if (x->a)
        t = target_of(x->a, false, "push");
    else
        t = (struct link_target){
            LINK_PURPOSE_LINK, x->live->owner_uin, 0, x->live->appid, false, "push"};
    int rc = link_attempt_use_code(c, x->a, x->ev->authorization_code, x->g->appid, x->meta->now);
    if (rc == BE_OK)
        rc = link_apply_grant(c, x->app, x->meta, &t, x->g, &x->out, &x->diag);
    if (rc == BE_OK && x->a)
        rc = link_attempt_mark_applied(c, x->a, x->meta->now, &x->out);
    if (rc == BE_OK)
        rc = wechat_events_complete(c, x->ev->id, x->owner, link_change_name(x->out.change),
                                    x->meta->now);
    return rc;
}

struct find_ctx {
    const char *pac;
    int64_t now;
    struct link_attempt a;
    bool found;
};

static int find_fn(struct store_conn *c, void *arg)
{
    struct find_ctx *x = arg;
    int rc = link_attempt_find_by_pre_auth_code(c, x->pac, x->now, &x->a);
    x->found = rc == BE_OK;
    return rc == BE_NOT_FOUND ? BE_OK : rc;
}

/* Applies an exchanged grant for the attempt or the live link. */
static int apply_push_grant(struct app *app, const char *owner, const struct wechat_event *ev,
                            int64_t now, const struct link_attempt *a, const struct link *live,
                            const struct link_grant *g, char *ret_note)
{
    struct req_meta m = worker_meta(now);
    struct push_ctx x = {app, &m, ev, owner, a, live, g, {0}, {""}};
    char note[LINK_NOTE_MAX + 1];
    if (a && a->purpose == LINK_PURPOSE_LINK && may_link(app, &m, &a->who, g->appid, &x.diag))
        goto refused;
    int rc = BE_DUPLICATE;
    for (int i = 0; rc == BE_DUPLICATE && i < DUPLICATE_RETRIES; i++)
        rc = store_tx(app->store, push_fn, &x);
    if (rc == BE_OK) {
        set_note(ret_note, link_change_name(x.out.change));
        return BE_OK;
    }
    if (rc == BE_NOT_FOUND && !x.diag.msg[0])
        return BE_OK; /* the claim was lost: another worker has it */
    if (rc == BE_STORE_UNAVAILABLE || rc == BE_CONFLICT || rc == BE_INTERNAL)
        return rc;
    if (!x.diag.msg[0])
        be_fail(&x.diag, rc, "%s", be_err_message(rc));
refused:
    snprintf(note, sizeof(note), "refused: %.*s", LINK_NOTE_MAX - 9, x.diag.msg);
    return done(app, owner, ev, now, note, ret_note);
}

/* authorized / updateauthorized: the attempt the push names (by its
 * PreAuthCode), or the app's live link; nothing else is linked by a push. */
static int apply_authorized(struct app *app, struct wx_component *wc, const char *owner,
                            const struct wechat_event *ev, int64_t now, char *ret_note)
{
    struct find_ctx f;
    memset(&f, 0, sizeof(f));
    f.pac = ev->pre_auth_code;
    f.now = now;
    struct link live;
    struct link_grant g;
    struct wx_result res;
    struct be_diag why = {""};
    bool has_live = false;
    if (!ev->authorization_code[0])
        return done(app, owner, ev, now, "ignored: no usable authorization code", ret_note);
    int rc = f.pac[0] ? store_run(app->store, find_fn, &f) : BE_OK;
    if (rc == BE_OK) {
        rc = link_get_live(app, ev->authorizer_appid, &live);
        has_live = rc == BE_OK;
        rc = rc == BE_NOT_FOUND ? BE_OK : rc;
    }
    if (rc)
        return rc;
    if (!f.found && !has_live)
        return done(app, owner, ev, now, "ignored: no attempt and no link of the app", ret_note);
    memset(&g, 0, sizeof(g));
    rc = exchange(wc, ev->authorization_code, &g, &res, &why);
    if (rc == BE_INVALID_PARAMETER_VALUE || rc == BE_FAILED)
        rc = done(app, owner, ev, now, "ignored: WeChat refused the code", ret_note);
    else if (rc)
        rc = retry_later(app, owner, ev, now, &why, ret_note);
    else if (strcmp(g.appid, ev->authorizer_appid))
        rc = done(app, owner, ev, now, "ignored: the code names another app", ret_note);
    else
        rc = apply_push_grant(app, owner, ev, now, f.found ? &f.a : NULL, has_live ? &live : NULL,
                              &g, ret_note);
    crypto_wipe(&g, sizeof(g));
    return rc;
}

int link_flow_apply_event(struct app *app, const char *owner, const struct wechat_event *ev,
                          int64_t now, char *ret_note)
{
    struct wx_component *wc = NULL;
    struct be_diag why = {""};
    if (component(app, &wc, &why))
        return retry_later(app, owner, ev, now, &why, ret_note);
    switch (ev->type) {
    case WX_INFO_UNAUTHORIZED:
        return apply_unauthorized(app, wc, owner, ev, now, ret_note);
    case WX_INFO_AUTHORIZED:
    case WX_INFO_UPDATEAUTHORIZED:
        return apply_authorized(app, wc, owner, ev, now, ret_note);
    default:
        return done(app, owner, ev, now, "ignored: not an authorization event", ret_note);
    }
}

/* --- using a link ---------------------------------------------------------- */

static int revoked_error(const struct link *l, struct be_diag *diag)
{
    return be_fail(diag, BE_LINK_REVOKED,
                   "WeChat ended Bindery's authorization of %s (%s, %s); re-authorize it from "
                   "the account center, or scan with the app on the login page",
                   l->appid, link_reason_name(l->reason),
                   l->reason == LINK_REASON_PUSH ? "WeChat said so" : "found when it was used");
}

/* The verification call: a token refresh, or the profile without a token. */
static int verify_call(struct app *app, struct wx_component *wc, const struct link *l,
                       struct wx_authorizer_token *at, struct link_grant *profile,
                       struct wx_result *res, struct be_diag *inner)
{
    char tok[WX_TOKEN_MAX + 1];
    int rc = link_refresh_token(app, l, tok);
    if (rc == BE_OK) {
        rc = wx_component_authorizer_token(wc, l->appid, tok, at, res, inner);
        crypto_wipe(tok, sizeof(tok));
        return rc;
    }
    if (rc != BE_NOT_FOUND)
        return rc;
    struct wx_authorizer_info info;
    rc = wx_component_get_authorizer_info(wc, l->appid, &info, res, inner);
    if (rc == BE_OK)
        link_grant_from_wechat(&info.authorization, &info, profile);
    crypto_wipe(&info, sizeof(info));
    return rc;
}

int link_flow_verify(struct app *app, const struct req_meta *meta, uint64_t owner_uin,
                     const char *appid, struct link *ret, struct wx_authorizer_token *ret_token,
                     struct be_diag *diag)
{
    struct wx_component *wc = NULL;
    struct link l;
    struct wx_authorizer_token at;
    struct link_grant profile;
    struct wx_result res;
    struct be_diag inner = {""};
    int rc = component(app, &wc, diag);
    if (rc)
        return rc;
    if ((rc = link_get_owned(app, owner_uin, appid, &l)))
        return be_fail(diag, rc, "account %llu has no link of the WeChat app %s",
                       (unsigned long long)owner_uin, appid);
    if (l.state == LINK_REVOKED)
        return revoked_error(&l, diag);
    memset(&at, 0, sizeof(at));
    memset(&profile, 0, sizeof(profile));
    wx_result_clear(&res);
    rc = verify_call(app, wc, &l, &at, &profile, &res, &inner);
    if (rc == BE_OK) {
        rc = link_mark_verified(app, l.id, l.grant_seq, meta->now,
                                link_next_check(app->cfg, meta->now), at.authorizer_refresh_token,
                                profile.appid[0] ? &profile : NULL);
        if (rc == BE_NOT_FOUND) /* revoked or granted again meanwhile: report as it is */
            rc = BE_OK;
    } else if (wx_errcode_is_revocation_signal(res.errcode)) {
        char detail[LINK_NOTE_MAX + 1];
        snprintf(detail, sizeof(detail),
                 "stopped on WeChat; detected when the link was used (WeChat answered %ld)",
                 res.errcode);
        rc = link_revoke_now(app, meta, appid, LINK_REASON_DETECTED, l.grant_seq, detail, &l);
        if (rc == BE_OK || rc == BE_NOT_FOUND)
            rc = be_fail(diag, BE_LINK_REVOKED,
                         "WeChat answered %ld (%s): Bindery's authorization of %s has ended "
                         "(stopped on WeChat's side). The link is now revoked; re-authorize it "
                         "from the account center, or scan with the app on the login page",
                         res.errcode, wx_errcode_text(res.errcode), appid);
    } else {
        be_fail(diag, rc, "could not check the link of %s with WeChat: %s", appid, inner.msg);
    }
    if (rc == BE_OK && ret_token)
        *ret_token = at;
    crypto_wipe(&at, sizeof(at));
    if (rc == BE_OK && ret)
        rc = link_get_owned(app, owner_uin, appid, ret);
    return rc;
}

/* --- the background check ---------------------------------------------------- */

int link_flow_check(struct app *app, const char *owner, const struct link *l, int64_t now)
{
    struct wx_component *wc = NULL;
    struct wx_authorizer_info info;
    struct wx_result res;
    struct be_diag inner = {""};
    int rc = component(app, &wc, &inner);
    if (rc)
        return rc;
    wx_result_clear(&res);
    rc = wx_component_get_authorizer_info(wc, l->appid, &info, &res, &inner);
    if (rc == BE_OK) {
        struct link_grant p;
        link_grant_from_wechat(&info.authorization, &info, &p);
        crypto_wipe(&info, sizeof(info));
        rc = link_mark_verified(app, l->id, l->grant_seq, now, link_next_check(app->cfg, now), NULL,
                                &p);
        crypto_wipe(&p, sizeof(p));
        return rc == BE_NOT_FOUND ? BE_OK : rc;
    }
    if (wx_errcode_is_revocation_signal(res.errcode)) {
        char detail[LINK_NOTE_MAX + 1];
        struct req_meta m = worker_meta(now);
        snprintf(detail, sizeof(detail),
                 "stopped on WeChat; detected by the background check (WeChat answered %ld)",
                 res.errcode);
        rc = link_revoke_now(app, &m, l->appid, LINK_REASON_DETECTED, l->grant_seq, detail, NULL);
        return rc == BE_NOT_FOUND ? BE_OK : rc;
    }
    int64_t interval = (int64_t)app->cfg->link_check_interval;
    int64_t next = rc == BE_RATE_LIMITED           ? now + LINK_CHECK_QUOTA_PAUSE_S
                   : interval < LINK_CHECK_RETRY_S ? now + interval
                                                   : now + LINK_CHECK_RETRY_S;
    int frc = link_check_failed(app, l->id, owner, next, inner.msg);
    if (frc && frc != BE_NOT_FOUND)
        return frc;
    return rc == BE_RATE_LIMITED ? BE_RATE_LIMITED : BE_OK;
}
