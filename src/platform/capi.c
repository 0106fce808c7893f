/* The component API (capi.h). Each endpoint runs in one store transaction:
 * the common part resolves the token and the component, the endpoint checks
 * its body in the order of the spec and answers. */
#include "platform/capi.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/crypto.h"
#include "core/log.h"
#include "core/timeutil.h"
#include "platform/internal.h"
#include "core/banned.h"

#define QUOTA_CLEARS_PER_MONTH 10

/* errmsg base texts (spec §9). */
static const struct {
    int code;
    const char *text;
} errmsgs[] = {
    {-1, "system error"},
    {40001, "invalid credential, access_token is invalid or not latest"},
    {40013, "invalid appid"},
    {40097, "invalid args"},
    {40125, "invalid appsecret"},
    {40170, "args count exceed count limit"},
    {41001, "access_token missing"},
    {41004, "appsecret missing"},
    {42001, "access_token expired"},
    {44002, "empty post data"},
    {45009, "reach max api daily quota limit"},
    {47001, "data format error"},
    {48006, "forbid to clear quota because of reaching the limit"},
    {61003, "component is not authorized by this account"},
    {61004, "access clientip is not registered"},
    {61005, "component ticket is expired"},
    {61006, "component ticket is invalid"},
    {61009, "code is invalid"},
    {61010, "code is expired"},
    {61011, "invalid component"},
    {61014, "must use component token for component api"},
    {61023, "refresh_token is invalid"},
};

enum token_need { NO_TOKEN, COMPONENT_TOKEN, AUTHORIZER_TOKEN };

struct call;
typedef int (*endpoint_fn)(struct call *x, struct store_conn *c);

struct endpoint {
    const char *path;
    const char *api; /* name in the counters */
    enum token_need token;
    endpoint_fn fn;
};

struct call {
    struct platform *pl;
    const struct pl_capi_request *req;
    const struct endpoint *ep;
    json_t *body; /* the parsed object, NULL when not one */
    int64_t now;
    struct pl_settings s;
    char component[PL_ID_MAX + 1];  /* resolved from the token or the body */
    char authorizer[PL_ID_MAX + 1]; /* of an authorizer token */
    /* the answer: */
    int errcode;
    json_t *result;
    bool wake;
};

/* ---- answers ---- */

static int fail(struct call *x, int errcode)
{
    x->errcode = errcode;
    return BE_OK; /* a business error still commits the counters */
}

static void render_error(const struct call *x, int errcode, struct buf *out)
{
    const char *text = "system error";
    for (size_t i = 0; i < sizeof(errmsgs) / sizeof(errmsgs[0]); i++)
        if (errmsgs[i].code == errcode)
            text = errmsgs[i].text;
    uint32_t rid[3];
    crypto_random(rid, sizeof(rid));
    json_t *o = json_object();
    struct buf msg = BUF_INIT;
    buf_adds(&msg, text);
    if (errcode == 61004)
        buf_addf(&msg, " requestIP: %s", x->req->client_ip ? x->req->client_ip : "");
    buf_addf(&msg, " rid: %08x-%08x-%08x", rid[0], rid[1], rid[2]);
    json_object_set_new(o, "errcode", json_integer(errcode));
    json_object_set_new(o, "errmsg", json_string(msg.data));
    char *s = json_dumps(o, JSON_COMPACT);
    buf_adds(out, s);
    free(s);
    json_decref(o);
    buf_release(&msg);
}

static void render_result(json_t *result, struct buf *out)
{
    char *s = json_dumps(result, JSON_COMPACT);
    buf_adds(out, s);
    free(s);
}

static json_t *ok_result(void)
{
    return json_pack("{s:i,s:s}", "errcode", 0, "errmsg", "ok");
}

/* ---- body members ---- */

/* A string member: NULL when absent or not a string. */
static const char *member_str(const struct call *x, const char *name)
{
    return json_string_value(json_object_get(x->body, name));
}

/* Fits in a PL_CODE_MAX buffer. */
static bool fits(const char *s)
{
    return s && strlen(s) <= PL_CODE_MAX;
}

/* ---- lookups ---- */

static int component_exists(struct store_conn *c, const char *appid, bool *ret)
{
    struct store_result *r = NULL;
    int rc = pl_query_row(c, "SELECT 1 FROM pl_components WHERE appid = $1",
                          SV_ARGS(SV_TEXT(appid)), &r);
    *ret = r != NULL;
    store_result_free(r);
    return rc;
}

/* Is the client allowed by component's whitelist (an empty one allows all)? */
static int ip_allowed(struct store_conn *c, const char *component, const char *ip, bool *ret)
{
    struct store_result *r = NULL;
    int rc = pl_query_row(c, "SELECT ip_whitelist FROM pl_components WHERE appid = $1",
                          SV_ARGS(SV_TEXT(component)), &r);
    if (rc)
        return rc;
    *ret = true;
    if (r && *store_result_text(r, 0, 0)) {
        const char *list = store_result_text(r, 0, 0);
        size_t iplen = ip ? strlen(ip) : 0;
        *ret = false;
        for (const char *p = list; *p;) {
            const char *end = strchr(p, ',');
            size_t n = end ? (size_t)(end - p) : strlen(p);
            if (iplen && n == iplen && !memcmp(p, ip, n))
                *ret = true;
            p += n + (end ? 1 : 0);
        }
    }
    store_result_free(r);
    return BE_OK;
}

/* 40013 / 61011 for an appid that is not a component; 0 otherwise. */
static int component_errcode(struct store_conn *c, const char *appid, int *ret)
{
    struct store_result *r = NULL;
    bool is_component = false;
    int rc = component_exists(c, appid, &is_component);
    if (rc || is_component) {
        *ret = 0;
        return rc;
    }
    rc = pl_query_row(c, "SELECT 1 FROM pl_authorizers WHERE appid = $1", SV_ARGS(SV_TEXT(appid)),
                      &r);
    *ret = r ? 61011 : 40013;
    store_result_free(r);
    return rc;
}

/* Compares a secret in constant time. */
static int secret_matches(struct store_conn *c, const char *component, const char *secret,
                          bool *ret)
{
    struct store_result *r = NULL;
    int rc = pl_query_row(c, "SELECT secret FROM pl_components WHERE appid = $1",
                          SV_ARGS(SV_TEXT(component)), &r);
    *ret = !rc && r && crypto_str_equal(store_result_text(r, 0, 0), secret);
    store_result_free(r);
    return rc;
}

/* ---- quotas ---- */

/* The daily limit of api under the settings s (spec §10). */
static uint32_t quota_limit(const struct pl_settings *s, const char *api)
{
    if (!strcmp(api, "api_component_token"))
        return s->quota_component_token;
    if (!strcmp(api, "api_authorizer_token"))
        return s->quota_authorizer_token;
    return s->quota_other;
}

/* Counts this call against (component, api, subject) today; sets 45009 and
 * *ret_over when the quota is enforced and exhausted. */
static int quota_take(struct call *x, struct store_conn *c, const char *subject, bool *ret_over)
{
    int64_t used = 0, day = pl_day(x->now);
    int rc = pl_calls_on(c, x->component, x->ep->api, subject, day, &used);
    *ret_over = false;
    if (rc)
        return rc;
    if (x->s.quotas && used >= (int64_t)quota_limit(&x->s, x->ep->api)) {
        *ret_over = true;
        return fail(x, 45009);
    }
    return pl_count_call(c, x->component, x->ep->api, subject, day);
}

/* ---- tokens ---- */

/* Issues a token of kind for (component, authorizer); earlier ones of the
 * same subject start their grace period now. */
static int token_issue(struct call *x, struct store_conn *c, const char *kind,
                       const char *authorizer, struct buf *ret_value)
{
    int rc = store_exec(
        c,
        "UPDATE pl_tokens SET superseded_at = $4 WHERE component = $1 AND "
        "kind = $2 AND authorizer = $3 AND superseded_at IS NULL",
        SV_ARGS(SV_TEXT(x->component), SV_TEXT(kind), SV_TEXT(authorizer), SV_I64(x->now)), NULL);
    if (rc)
        return rc;
    pl_gen_value(ret_value, "83_", PL_GEN_ACCESS);
    return store_exec(c,
                      "INSERT INTO pl_tokens (value, kind, component, authorizer, issued_at, "
                      "expires_at) VALUES ($1, $2, $3, $4, $5, $6)",
                      SV_ARGS(SV_TEXT(ret_value->data), SV_TEXT(kind), SV_TEXT(x->component),
                              SV_TEXT(authorizer), SV_I64(x->now), SV_I64(x->now + PL_TOKEN_TTL)),
                      NULL);
}

/* The token checks of capi.h, in order. Sets x->component (and
 * x->authorizer for an authorizer token) or an errcode. */
static int token_check(struct call *x, struct store_conn *c)
{
    const char *token = x->req->component_access_token;
    struct store_result *r = NULL;
    bool allowed = true;
    if (!token || !*token)
        token = x->req->access_token;
    if (!token || !*token)
        return fail(x, 41001);
    if (!fits(token))
        return fail(x, 40001);
    int rc = pl_query_row(c,
                          "SELECT kind, component, authorizer, expires_at, superseded_at, revoked "
                          "FROM pl_tokens WHERE value = $1",
                          SV_ARGS(SV_TEXT(token)), &r);
    if (rc || !r)
        return rc ? rc : fail(x, 40001);
    bool is_component = !strcmp(store_result_text(r, 0, 0), "component");
    snprintf(x->component, sizeof(x->component), "%s", store_result_text(r, 0, 1));
    snprintf(x->authorizer, sizeof(x->authorizer), "%s", store_result_text(r, 0, 2));
    int64_t expires_at = store_result_i64(r, 0, 3);
    bool superseded =
        !store_result_is_null(r, 0, 4) && x->now > store_result_i64(r, 0, 4) + PL_TOKEN_GRACE;
    bool revoked = store_result_i64(r, 0, 5) != 0;
    store_result_free(r);
    if ((rc = ip_allowed(c, x->component, x->req->client_ip, &allowed)))
        return rc;
    if (!allowed)
        return fail(x, 61004);
    if (x->ep->token == COMPONENT_TOKEN && !is_component)
        return fail(x, 61014);
    if (x->ep->token == AUTHORIZER_TOKEN && is_component)
        return fail(x, 40001);
    if (revoked)
        return fail(x, 40001);
    if (x->now >= expires_at)
        return fail(x, 42001);
    return superseded ? fail(x, 40001) : BE_OK;
}

/* The body checks shared by token endpoints: 44002, 47001, and a
 * component_appid (when need_appid) that is the token's (40013). */
static int body_check(struct call *x, bool need_appid)
{
    if (!x->req->body_len)
        return fail(x, 44002);
    if (!x->body)
        return fail(x, 47001);
    if (!need_appid)
        return BE_OK;
    const char *appid = member_str(x, "component_appid");
    if (!appid)
        return fail(x, 47001);
    return strcmp(appid, x->component) ? fail(x, 40013) : BE_OK;
}

/* ---- §4.1 api_component_token ---- */

/* The checks of component endpoints without a token, in the order of §4.1:
 * IP, JSON, appid, secret (member secret_name). */
static int appid_secret_check(struct call *x, struct store_conn *c, const char *secret_name)
{
    const char *appid = x->body ? member_str(x, "component_appid") : NULL;
    bool allowed = true, exists = false, good = false;
    int errcode = 0, rc;
    if (pl_valid_id(appid)) {
        if ((rc = component_exists(c, appid, &exists)))
            return rc;
        if (exists && (rc = ip_allowed(c, appid, x->req->client_ip, &allowed)))
            return rc;
        if (!allowed)
            return fail(x, 61004);
    }
    if (!x->req->body_len)
        return fail(x, 44002);
    if (!x->body || !appid)
        return fail(x, 47001);
    if (!pl_valid_id(appid))
        return fail(x, 40013);
    if ((rc = component_errcode(c, appid, &errcode)) || errcode)
        return rc ? rc : fail(x, errcode);
    snprintf(x->component, sizeof(x->component), "%s", appid);
    const char *secret = member_str(x, secret_name);
    if (!secret || !*secret)
        return fail(x, 41004);
    if ((rc = secret_matches(c, appid, secret, &good)))
        return rc;
    return good ? BE_OK : fail(x, 40125);
}

static int ticket_check(struct call *x, struct store_conn *c)
{
    const char *ticket = member_str(x, "component_verify_ticket");
    struct store_result *r = NULL;
    if (!ticket)
        return fail(x, 47001);
    if (!fits(ticket))
        return fail(x, 61006);
    int rc = pl_query_row(c, "SELECT issued_at FROM pl_tickets WHERE value = $1 AND component = $2",
                          SV_ARGS(SV_TEXT(ticket), SV_TEXT(x->component)), &r);
    if (rc || !r)
        return rc ? rc : fail(x, 61006);
    int64_t issued_at = store_result_i64(r, 0, 0);
    store_result_free(r);
    return x->now - issued_at > PL_TICKET_TTL ? fail(x, 61005) : BE_OK;
}

static int ep_component_token(struct call *x, struct store_conn *c)
{
    struct buf token = BUF_INIT;
    bool over = false;
    int rc = appid_secret_check(x, c, "component_appsecret");
    if (rc || x->errcode)
        return rc;
    if ((rc = ticket_check(x, c)) || x->errcode)
        return rc;
    if ((rc = quota_take(x, c, "", &over)) || over)
        return rc;
    if ((rc = token_issue(x, c, "component", "", &token)) == BE_OK)
        x->result = json_pack("{s:s,s:i}", "component_access_token", token.data, "expires_in",
                              PL_TOKEN_TTL);
    crypto_wipe(token.data, token.len);
    buf_release(&token);
    return rc;
}

/* ---- §4.2 api_start_push_ticket ---- */

static int ep_start_push_ticket(struct call *x, struct store_conn *c)
{
    bool over = false;
    int rc = appid_secret_check(x, c, "component_secret");
    if (rc || x->errcode)
        return rc;
    if ((rc = quota_take(x, c, "", &over)) || over)
        return rc;
    rc = store_exec(c, "UPDATE pl_components SET ticket_pushes = 1 WHERE appid = $1",
                    SV_ARGS(SV_TEXT(x->component)), NULL);
    if (!rc)
        rc = pl_ticket_issue(c, x->pl, x->component, x->now, NULL);
    if (!rc) {
        x->wake = true;
        x->result = ok_result();
    }
    return rc;
}

/* ---- §4.3 api_create_preauthcode ---- */

static int ep_create_preauthcode(struct call *x, struct store_conn *c)
{
    struct buf code = BUF_INIT;
    bool over = false;
    int rc = body_check(x, true);
    if (rc || x->errcode)
        return rc;
    if ((rc = quota_take(x, c, "", &over)) || over)
        return rc;
    pl_gen_value(&code, "preauthcode@@@", PL_GEN_PRE_AUTH);
    rc = store_exec(c,
                    "INSERT INTO pl_preauth_codes (value, component, issued_at, expires_at) "
                    "VALUES ($1, $2, $3, $4)",
                    SV_ARGS(SV_TEXT(code.data), SV_TEXT(x->component), SV_I64(x->now),
                            SV_I64(x->now + PL_PRE_AUTH_CODE_TTL)),
                    NULL);
    if (!rc)
        x->result =
            json_pack("{s:s,s:i}", "pre_auth_code", code.data, "expires_in", PL_PRE_AUTH_CODE_TTL);
    buf_release(&code);
    return rc;
}

/* ---- authorizations ---- */

struct authz {
    bool active;
    char refresh_token[PL_CODE_MAX + 1];
    struct pl_funcs funcs;
    int64_t auth_time;
};

/* Reads the authorization of (x->component, authorizer); *ret_found false
 * when there is none. */
static int authz_get(struct call *x, struct store_conn *c, const char *authorizer,
                     struct authz *ret, bool *ret_found)
{
    struct store_result *r = NULL;
    int rc = pl_query_row(c,
                          "SELECT state, refresh_token, func_ids, auth_time FROM pl_authorizations "
                          "WHERE component = $1 AND authorizer = $2",
                          SV_ARGS(SV_TEXT(x->component), SV_TEXT(authorizer)), &r);
    *ret_found = false;
    if (rc || !r)
        return rc;
    memset(ret, 0, sizeof(*ret));
    ret->active = !strcmp(store_result_text(r, 0, 0), "active");
    snprintf(ret->refresh_token, sizeof(ret->refresh_token), "%s", store_result_text(r, 0, 1));
    if (pl_funcs_parse(store_result_text(r, 0, 2), &ret->funcs))
        ret->funcs.n = 0;
    ret->auth_time = store_result_i64(r, 0, 3);
    *ret_found = true;
    store_result_free(r);
    return BE_OK;
}

/* ---- §4.4 api_query_auth ---- */

/* Finds the code's authorizer, or sets 61009 / 61010. */
static int auth_code_check(struct call *x, struct store_conn *c, const char *code,
                           char authorizer[PL_ID_MAX + 1])
{
    struct store_result *r = NULL;
    int rc = pl_query_row(c,
                          "SELECT authorizer, expires_at, uses, revoked FROM pl_auth_codes "
                          "WHERE value = $1 AND component = $2",
                          SV_ARGS(SV_TEXT(code), SV_TEXT(x->component)), &r);
    if (rc || !r)
        return rc ? rc : fail(x, 61009);
    snprintf(authorizer, PL_ID_MAX + 1, "%s", store_result_text(r, 0, 0));
    int64_t expires_at = store_result_i64(r, 0, 1), uses = store_result_i64(r, 0, 2);
    bool revoked = store_result_i64(r, 0, 3) != 0;
    store_result_free(r);
    if (revoked || (x->s.single_use_codes && uses > 0))
        return fail(x, 61009);
    if (x->now >= expires_at)
        return fail(x, 61010);
    return store_exec(c, "UPDATE pl_auth_codes SET uses = uses + 1 WHERE value = $1",
                      SV_ARGS(SV_TEXT(code)), NULL);
}

static int ep_query_auth(struct call *x, struct store_conn *c)
{
    char authorizer[PL_ID_MAX + 1];
    struct authz a;
    struct buf token = BUF_INIT;
    bool found = false, over = false;
    int rc = body_check(x, true);
    if (rc || x->errcode)
        return rc;
    const char *code = member_str(x, "authorization_code");
    if (!code || !*code || !fits(code))
        return fail(x, 40097);
    if ((rc = quota_take(x, c, "", &over)) || over)
        return rc;
    if ((rc = auth_code_check(x, c, code, authorizer)) || x->errcode)
        return rc;
    if ((rc = authz_get(x, c, authorizer, &a, &found)))
        return rc;
    if (!found || !a.active)
        return fail(x, 61009);
    if ((rc = token_issue(x, c, "authorizer", authorizer, &token)) == BE_OK)
        x->result = json_pack("{s:{s:s,s:s,s:i,s:s,s:o}}", "authorization_info", "authorizer_appid",
                              authorizer, "authorizer_access_token", token.data, "expires_in",
                              PL_TOKEN_TTL, "authorizer_refresh_token", a.refresh_token,
                              "func_info", pl_funcs_info_json(&a.funcs));
    crypto_wipe(token.data, token.len);
    buf_release(&token);
    crypto_wipe(&a, sizeof(a));
    return rc;
}

/* ---- §4.5 api_authorizer_token ---- */

static int ep_authorizer_token(struct call *x, struct store_conn *c)
{
    struct authz a;
    struct buf token = BUF_INIT;
    bool found = false, over = false;
    int rc = body_check(x, true);
    if (rc || x->errcode)
        return rc;
    const char *authorizer = member_str(x, "authorizer_appid");
    const char *refresh = member_str(x, "authorizer_refresh_token");
    if (!authorizer)
        return fail(x, 47001);
    if (!pl_valid_id(authorizer))
        return fail(x, 61003);
    if ((rc = authz_get(x, c, authorizer, &a, &found)))
        return rc;
    if (!found || !a.active)
        return fail(x, 61003);
    if (!refresh || !*refresh || !crypto_str_equal(refresh, a.refresh_token)) {
        crypto_wipe(&a, sizeof(a));
        return fail(x, 61023);
    }
    if ((rc = quota_take(x, c, authorizer, &over)) || over)
        goto out;
    if ((rc = token_issue(x, c, "authorizer", authorizer, &token)) == BE_OK)
        x->result = json_pack("{s:s,s:i,s:s}", "authorizer_access_token", token.data, "expires_in",
                              PL_TOKEN_TTL, "authorizer_refresh_token", a.refresh_token);
out:
    crypto_wipe(token.data, token.len);
    buf_release(&token);
    crypto_wipe(&a, sizeof(a));
    return rc;
}

/* ---- §4.6 api_get_authorizer_info ---- */

static json_t *mini_program_info(void)
{
    return json_pack("{s:{s:[],s:[],s:[],s:[],s:[],s:[]},s:[{s:s,s:s}],s:i}", "network",
                     "RequestDomain", "WsRequestDomain", "UploadDomain", "DownloadDomain",
                     "UDPDomain", "TCPDomain", "categories", "first", "工具", "second", "效率",
                     "visit_status", 0);
}

static json_t *authorizer_info_json(const struct store_result *r)
{
    bool mp = !strcmp(store_result_text(r, 0, 0), "mp");
    json_t *o = json_pack(
        "{s:s,s:s,s:{s:I},s:{s:I},s:s,s:s,s:s,s:{s:i,s:i,s:i,s:i,s:i},s:i,s:s,s:s,s:i,s:I,"
        "s:{s:b,s:b}}",
        "nick_name", store_result_text(r, 0, 1), "head_img", store_result_text(r, 0, 7),
        "service_type_info", "id", (json_int_t)store_result_i64(r, 0, 8), "verify_type_info", "id",
        (json_int_t)store_result_i64(r, 0, 9), "user_name", store_result_text(r, 0, 3), "alias",
        store_result_text(r, 0, 4), "qrcode_url", "http://mmbiz.qpic.cn/emu/qr.jpg",
        "business_info", "open_store", 0, "open_scan", 0, "open_pay", 0, "open_card", 0,
        "open_shake", 0, "idc", 1, "principal_name", store_result_text(r, 0, 2), "signature",
        store_result_text(r, 0, 5), "register_type", 0, "account_status",
        (json_int_t)store_result_i64(r, 0, 10), "basic_config", "is_phone_configured", 1,
        "is_email_configured", 1);
    if (mp && o)
        json_object_set_new(o, "MiniProgramInfo", mini_program_info());
    return o;
}

static int ep_get_authorizer_info(struct call *x, struct store_conn *c)
{
    struct authz a;
    struct store_result *r = NULL;
    bool found = false, over = false;
    int rc = body_check(x, true);
    if (rc || x->errcode)
        return rc;
    const char *authorizer = member_str(x, "authorizer_appid");
    if (!authorizer)
        return fail(x, 47001);
    if (!pl_valid_id(authorizer))
        return fail(x, 61003);
    if ((rc = quota_take(x, c, "", &over)) || over)
        return rc;
    if ((rc = pl_count_call(c, x->component, x->ep->api, authorizer, pl_day(x->now))) ||
        (rc = authz_get(x, c, authorizer, &a, &found)))
        return rc;
    if (!found || !a.active)
        return fail(x, 61003);
    rc = pl_query_row(c,
                      "SELECT kind, nick_name, principal_name, user_name, alias, signature, "
                      "appid, head_img, service_type, verify_type, account_status "
                      "FROM pl_authorizers WHERE appid = $1",
                      SV_ARGS(SV_TEXT(authorizer)), &r);
    if (!rc && !r)
        rc = fail(x, 61003);
    else if (!rc)
        x->result = json_pack("{s:o,s:{s:s,s:s,s:o}}", "authorizer_info", authorizer_info_json(r),
                              "authorization_info", "authorizer_appid", authorizer,
                              "authorizer_refresh_token", a.refresh_token, "func_info",
                              pl_funcs_info_json(&a.funcs));
    store_result_free(r);
    crypto_wipe(&a, sizeof(a));
    return rc;
}

/* ---- §4.7 api_get_authorizer_list ---- */

static int count_list_checks(struct call *x, struct store_conn *c)
{
    struct store_result *r = NULL;
    int rc = store_query(c, "SELECT authorizer FROM pl_authorizations WHERE component = $1",
                         SV_ARGS(SV_TEXT(x->component)), &r);
    for (size_t i = 0; !rc && i < store_result_rows(r); i++)
        rc = pl_count_call(c, x->component, x->ep->api, store_result_text(r, i, 0), pl_day(x->now));
    store_result_free(r);
    return rc;
}

static json_t *list_page(struct store_result *r)
{
    json_t *list = json_array();
    for (size_t i = 0; i < store_result_rows(r); i++)
        json_array_append_new(list, json_pack("{s:s,s:s,s:I}", "authorizer_appid",
                                              store_result_text(r, i, 0), "refresh_token",
                                              store_result_text(r, i, 1), "auth_time",
                                              (json_int_t)store_result_i64(r, i, 2)));
    return list;
}

static int ep_get_authorizer_list(struct call *x, struct store_conn *c)
{
    struct store_result *r = NULL, *total = NULL;
    bool over = false;
    int rc = body_check(x, true);
    if (rc || x->errcode)
        return rc;
    const json_t *off = json_object_get(x->body, "offset"),
                 *cnt = json_object_get(x->body, "count");
    if (!json_is_integer(off) || !json_is_integer(cnt))
        return fail(x, 47001);
    if (json_integer_value(cnt) > PL_LIST_MAX)
        return fail(x, 40170);
    if (json_integer_value(off) < 0 || json_integer_value(cnt) < 0)
        return fail(x, 40097);
    if ((rc = quota_take(x, c, "", &over)) || over || (rc = count_list_checks(x, c)))
        return rc;
    rc = store_query(c,
                     "SELECT authorizer, refresh_token, auth_time FROM pl_authorizations "
                     "WHERE component = $1 AND state = 'active' "
                     "ORDER BY auth_time DESC, authorizer ASC LIMIT $2 OFFSET $3",
                     SV_ARGS(SV_TEXT(x->component), SV_I64(json_integer_value(cnt)),
                             SV_I64(json_integer_value(off))),
                     &r);
    if (!rc)
        rc = store_query(c,
                         "SELECT COUNT(*) FROM pl_authorizations WHERE component = $1 AND "
                         "state = 'active'",
                         SV_ARGS(SV_TEXT(x->component)), &total);
    if (!rc)
        x->result = json_pack("{s:I,s:o}", "total_count", (json_int_t)store_result_i64(total, 0, 0),
                              "list", list_page(r));
    store_result_free(r);
    store_result_free(total);
    return rc;
}

/* ---- §4.9 quotas ---- */

/* The month of t in Asia/Shanghai, as year * 12 + month. */
static int64_t month_of(int64_t t)
{
    time_t local = (time_t)(t + 8 * 3600);
    struct tm tm;
    if (!gmtime_r(&local, &tm))
        return 0;
    return (int64_t)(tm.tm_year + 1900) * 12 + tm.tm_mon;
}

/* Clears today's counters of subject ("" = the component's own), at most
 * QUOTA_CLEARS_PER_MONTH times a month per component (48006). */
static int quota_clear(struct call *x, struct store_conn *c, const char *subject)
{
    struct store_result *r = NULL;
    int64_t month = month_of(x->now);
    int rc = pl_query_row(c,
                          "SELECT quota_clears, quota_clears_month FROM pl_components "
                          "WHERE appid = $1",
                          SV_ARGS(SV_TEXT(x->component)), &r);
    if (rc || !r)
        return rc ? rc : fail(x, 40013);
    int64_t clears = store_result_i64(r, 0, 1) == month ? store_result_i64(r, 0, 0) : 0;
    store_result_free(r);
    if (clears >= QUOTA_CLEARS_PER_MONTH)
        return fail(x, 48006);
    rc = store_exec(c,
                    "UPDATE pl_components SET quota_clears = $2, quota_clears_month = $3 "
                    "WHERE appid = $1",
                    SV_ARGS(SV_TEXT(x->component), SV_I64(clears + 1), SV_I64(month)), NULL);
    if (!rc)
        rc = store_exec(
            c, "DELETE FROM pl_calls WHERE component = $1 AND subject = $2 AND day = $3",
            SV_ARGS(SV_TEXT(x->component), SV_TEXT(subject), SV_I64(pl_day(x->now))), NULL);
    if (!rc)
        x->result = ok_result();
    return rc;
}

static int ep_clear_quota(struct call *x, struct store_conn *c)
{
    int rc = body_check(x, true);
    return rc || x->errcode ? rc : quota_clear(x, c, "");
}

static int ep_clear_quota_v2(struct call *x, struct store_conn *c)
{
    struct store_result *r = NULL;
    int rc = appid_secret_check(x, c, "appsecret");
    if (rc || x->errcode)
        return rc;
    const char *target = member_str(x, "appid");
    if (!target)
        return fail(x, 47001);
    if (!strcmp(target, x->component))
        return quota_clear(x, c, "");
    if (!pl_valid_id(target))
        return fail(x, 40013);
    rc = pl_query_row(c, "SELECT 1 FROM pl_authorizers WHERE appid = $1", SV_ARGS(SV_TEXT(target)),
                      &r);
    bool known = r != NULL;
    store_result_free(r);
    if (rc || !known)
        return rc ? rc : fail(x, 40013);
    return quota_clear(x, c, target);
}

static int ep_authorizer_clear_quota(struct call *x, struct store_conn *c)
{
    int rc = body_check(x, false);
    if (rc || x->errcode)
        return rc;
    const char *appid = member_str(x, "appid");
    if (!appid)
        return fail(x, 47001);
    return strcmp(appid, x->authorizer) ? fail(x, 40013) : quota_clear(x, c, x->authorizer);
}

static int ep_quota_get(struct call *x, struct store_conn *c)
{
    static const char prefix[] = "/cgi-bin/component/";
    int rc = body_check(x, false);
    if (rc || x->errcode)
        return rc;
    const char *path = member_str(x, "cgi_path");
    if (!path)
        return fail(x, 47001);
    if (strncmp(path, prefix, sizeof(prefix) - 1) || !pl_valid_id(path + sizeof(prefix) - 1))
        return fail(x, 40097);
    const char *api = path + sizeof(prefix) - 1;
    int64_t used = 0;
    if ((rc = pl_calls_on(c, x->component, api, "", pl_day(x->now), &used)))
        return rc;
    int64_t limit = quota_limit(&x->s, api);
    x->result = json_pack("{s:i,s:s,s:{s:I,s:I,s:I}}", "errcode", 0, "errmsg", "ok", "quota",
                          "daily_limit", (json_int_t)limit, "used", (json_int_t)used, "remain",
                          (json_int_t)(used < limit ? limit - used : 0));
    return BE_OK;
}

/* ---- dispatch ---- */

static const struct endpoint endpoints[] = {
    {"/cgi-bin/component/api_component_token", "api_component_token", NO_TOKEN, ep_component_token},
    {"/cgi-bin/component/api_start_push_ticket", "api_start_push_ticket", NO_TOKEN,
     ep_start_push_ticket},
    {"/cgi-bin/component/api_create_preauthcode", "api_create_preauthcode", COMPONENT_TOKEN,
     ep_create_preauthcode},
    {"/cgi-bin/component/api_query_auth", "api_query_auth", COMPONENT_TOKEN, ep_query_auth},
    {"/cgi-bin/component/api_authorizer_token", "api_authorizer_token", COMPONENT_TOKEN,
     ep_authorizer_token},
    {"/cgi-bin/component/api_get_authorizer_info", "api_get_authorizer_info", COMPONENT_TOKEN,
     ep_get_authorizer_info},
    {"/cgi-bin/component/api_get_authorizer_list", "api_get_authorizer_list", COMPONENT_TOKEN,
     ep_get_authorizer_list},
    {"/cgi-bin/component/clear_quota", "clear_quota", COMPONENT_TOKEN, ep_clear_quota},
    {"/cgi-bin/component/clear_quota/v2", "clear_quota_v2", NO_TOKEN, ep_clear_quota_v2},
    {"/cgi-bin/clear_quota", "authorizer_clear_quota", AUTHORIZER_TOKEN, ep_authorizer_clear_quota},
    {"/cgi-bin/openapi/quota/get", "quota_get", COMPONENT_TOKEN, ep_quota_get},
};

#define NENDPOINTS (sizeof(endpoints) / sizeof(endpoints[0]))

static const struct endpoint *find_endpoint(const char *path)
{
    for (size_t i = 0; path && i < NENDPOINTS; i++)
        if (!strcmp(endpoints[i].path, path))
            return &endpoints[i];
    return NULL;
}

bool pl_capi_known(const char *path)
{
    return find_endpoint(path) != NULL;
}

static int call_tx(struct store_conn *c, void *arg)
{
    struct call *x = arg;
    /* store_tx may run this again after a conflict: start clean. */
    json_decref(x->result);
    x->result = NULL;
    x->errcode = 0;
    x->wake = false;
    x->component[0] = x->authorizer[0] = '\0';
    if (x->ep->token != NO_TOKEN) {
        int rc = token_check(x, c);
        if (rc || x->errcode)
            return rc;
    }
    return x->ep->fn(x, c);
}

static void sleep_ms(uint32_t ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

int pl_capi_call(struct platform *pl, const struct pl_capi_request *req, struct buf *out)
{
    struct call x;
    json_error_t jerr;
    memset(&x, 0, sizeof(x));
    x.ep = find_endpoint(req->path);
    if (!x.ep)
        return BE_NOT_FOUND;
    x.pl = pl;
    x.req = req;
    pl_settings_get(pl, &x.s);
    x.now = pl_now(pl);
    if (x.s.latency_ms)
        sleep_ms(x.s.latency_ms);
    if (x.s.error_rate_ppm &&
        crypto_random_range(0, PL_ERROR_RATE_PPM_MAX - 1) < x.s.error_rate_ppm) {
        render_error(&x, -1, out);
        return BE_OK;
    }
    if (req->body_len) {
        x.body = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &jerr);
        if (x.body && !json_is_object(x.body)) {
            json_decref(x.body);
            x.body = NULL;
        }
    }
    int rc = store_tx(pl->store, call_tx, &x);
    if (rc) {
        log_error("platform: %s: store failure: %s", x.ep->api, be_err_code(rc));
        render_error(&x, -1, out);
    } else if (x.errcode) {
        render_error(&x, x.errcode, out);
    } else if (!x.result) {
        log_error("platform: %s: cannot build the answer", x.ep->api);
        render_error(&x, -1, out);
    } else {
        render_result(x.result, out);
    }
    if (!rc && x.wake)
        pl_wake(pl);
    json_decref(x.result);
    json_decref(x.body);
    return BE_OK;
}
