/* Unit tests of the WeChat platform emulator's state machine (src/platform):
 * the component API's checks and error codes, single-use and expiring
 * credentials under the controllable clock, the authorization flow and its
 * Referer/domain rule, revocation effects, pushes and their log, faults,
 * quotas, counters, and the small helpers (QR SVG, forms). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/log.h"
#include "platform/capi.h"
#include "platform/flow.h"
#include "platform/form.h"
#include "platform/platform.h"
#include "platform/pusher.h"
#include "platform/qr.h"
#include "core/banned.h"

#define C_APPID  "wx0123456789abcdef"
#define C_SECRET "0123456789abcdef0123456789abcdef"
#define MP_APPID "wxfedcba9876543210"
#define OA_APPID "wx1111111111111111"
#define REFERER  "https://cloud.example.com/console/link"
#define REDIRECT "https://cloud.example.com/wechat/callback?attempt=a1"

struct fx {
    char dir[64];
    struct platform *pl;
};

/* ---- helpers ---- */

static void put(struct platform *pl, int (*fn)(struct platform *, const json_t *, struct be_diag *),
                const char *json)
{
    struct be_diag diag = {""};
    json_error_t jerr;
    json_t *v = json_loads(json, 0, &jerr);
    if (!v)
        fail_msg("bad test JSON: %s", jerr.text);
    int rc = fn(pl, v, &diag);
    if (rc)
        fail_msg("put %s: %s (%s)", json, diag.msg, be_err_code(rc));
    json_decref(v);
}

static void component_with_url(struct platform *pl, const char *url)
{
    char json[1024];
    snprintf(json, sizeof(json),
             "{\"component_appid\":\"" C_APPID "\",\"secret\":\"" C_SECRET "\","
             "\"token\":\"tkEmulator0001\",\"aes_key\":"
             "\"EmulatorKey0123456789abcdefghijklmnopqrstuv\",\"auth_event_url\":\"%s\","
             "\"entry_domain\":\"cloud.example.com\",\"name\":\"Test Cloud\"}",
             url);
    put(pl, pl_component_put_json, json);
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    struct be_diag diag = {""};
    snprintf(f->dir, sizeof(f->dir), "/tmp/bindery-unit-pl-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    /* A fixed clock, so that expiries can be tested to the second. */
    struct pl_options o = {.data_dir = f->dir, .ticket_interval = 600, .fixed_time = 1700000000};
    if (pl_open(&o, &f->pl, &diag)) {
        fprintf(stderr, "pl_open: %s\n", diag.msg);
        return -1;
    }
    put(f->pl, pl_wxuser_put_json, "{\"wxid\":\"alice\",\"nickname\":\"Alice\"}");
    put(f->pl, pl_wxuser_put_json, "{\"wxid\":\"bob\",\"nickname\":\"Bob\"}");
    put(f->pl, pl_authorizer_put_json,
        "{\"appid\":\"" MP_APPID "\",\"kind\":\"mp\",\"nick_name\":\"Mini\","
        "\"principal_name\":\"个人\",\"admins\":[\"alice\"]}");
    put(f->pl, pl_authorizer_put_json,
        "{\"appid\":\"" OA_APPID "\",\"kind\":\"oa\",\"nick_name\":\"Official\","
        "\"principal_name\":\"Example Co., Ltd.\",\"admins\":[\"alice\",\"bob\"]}");
    component_with_url(f->pl, "");
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    char cmd[128];
    pl_close(f->pl);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", f->dir);
    free(f);
    return 0;
}

/* Calls the component API; the answer must be JSON. */
static json_t *api2(struct platform *pl, const char *path, const char *ctoken, const char *token,
                    const char *body)
{
    struct pl_capi_request r = {path, ctoken, token, "127.0.0.1", body, body ? strlen(body) : 0};
    struct buf out = BUF_INIT;
    json_error_t jerr;
    assert_int_equal(pl_capi_call(pl, &r, &out), 0);
    json_t *v = json_loads(out.data, 0, &jerr);
    if (!v)
        fail_msg("not JSON: %s", out.data);
    buf_release(&out);
    return v;
}

static json_t *api(struct platform *pl, const char *name, const char *token, const char *body)
{
    char path[128];
    snprintf(path, sizeof(path), "/cgi-bin/component/%s", name);
    return api2(pl, path, token, NULL, body);
}

static int errcode(const json_t *v)
{
    return (int)json_integer_value(json_object_get(v, "errcode"));
}

static void expect_errcode(json_t *v, int want)
{
    int got = errcode(v);
    if (got != want) {
        char *s = json_dumps(v, 0);
        print_error("answer: %s\n", s);
        free(s);
    }
    assert_int_equal(got, want);
    if (want) {
        const char *msg = json_string_value(json_object_get(v, "errmsg"));
        assert_non_null(msg);
        assert_non_null(strstr(msg, " rid: "));
    }
    json_decref(v);
}

static void new_ticket(struct platform *pl, struct buf *out)
{
    json_t *arr = NULL;
    assert_int_equal(pl_push_ticket_now(pl, C_APPID, &arr), 0);
    assert_int_equal(json_array_size(arr), 1);
    buf_adds(out, json_string_value(json_object_get(json_array_get(arr, 0), "ticket")));
    json_decref(arr);
}

static void token_body(char *body, size_t size, const char *appid, const char *secret,
                       const char *ticket)
{
    snprintf(body, size,
             "{\"component_appid\":\"%s\",\"component_appsecret\":\"%s\","
             "\"component_verify_ticket\":\"%s\"}",
             appid, secret, ticket);
}

static void component_token(struct platform *pl, struct buf *out)
{
    struct buf ticket = BUF_INIT;
    char body[1024];
    new_ticket(pl, &ticket);
    token_body(body, sizeof(body), C_APPID, C_SECRET, ticket.data);
    json_t *v = api(pl, "api_component_token", NULL, body);
    assert_int_equal(errcode(v), 0);
    const char *t = json_string_value(json_object_get(v, "component_access_token"));
    assert_non_null(t);
    assert_int_equal(strncmp(t, "83_", 3), 0);
    assert_int_equal(strlen(t), 3 + 136);
    assert_int_equal(json_integer_value(json_object_get(v, "expires_in")), 7200);
    buf_adds(out, t);
    json_decref(v);
    buf_release(&ticket);
}

static void pre_auth_code(struct platform *pl, const char *token, struct buf *out)
{
    json_t *v = api(pl, "api_create_preauthcode", token, "{\"component_appid\":\"" C_APPID "\"}");
    assert_int_equal(errcode(v), 0);
    const char *code = json_string_value(json_object_get(v, "pre_auth_code"));
    assert_non_null(code);
    assert_int_equal(strncmp(code, "preauthcode@@@", 14), 0);
    assert_int_equal(strlen(code), 14 + 64);
    assert_int_equal(json_integer_value(json_object_get(v, "expires_in")), 1800);
    buf_adds(out, code);
    json_decref(v);
}

static int open_page(struct platform *pl, const char *code, const char *referer,
                     const char *redirect, const char *auth_type, const char *biz,
                     char session[PL_SESSION_ID_LEN + 1], struct pl_flow_error *err)
{
    struct pl_flow_entry e = {C_APPID, code, redirect, auth_type, biz, NULL, referer, false};
    return pl_flow_open(pl, &e, session, err);
}

static void expect_refusal(int rc, const struct pl_flow_error *err, enum pl_flow_reason want)
{
    if (rc != BE_FAILED || err->reason != want)
        print_error("rc %d, reason %s (%s), want %s\n", rc, pl_flow_marker(err->reason),
                    err->detail, pl_flow_marker(want));
    assert_int_equal(rc, BE_FAILED);
    assert_string_equal(pl_flow_marker(err->reason), pl_flow_marker(want));
}

/* The whole PC flow for appid as wxid; auth_code gets the code. */
static void authorize(struct platform *pl, const char *token, const char *wxid, const char *appid,
                      const struct pl_funcs *funcs, struct pl_confirm_result *ret)
{
    struct buf code = BUF_INIT;
    char session[PL_SESSION_ID_LEN + 1];
    struct pl_flow_error err;
    struct pl_app_list apps = {NULL, 0};
    pre_auth_code(pl, token, &code);
    assert_int_equal(open_page(pl, code.data, REFERER, REDIRECT, NULL, NULL, session, &err), 0);
    assert_int_equal(pl_flow_scan(pl, session, wxid, &apps, &err), 0);
    pl_app_list_release(&apps);
    int rc = pl_flow_confirm(pl, session, wxid, appid, funcs, ret, &err);
    if (rc)
        fail_msg("confirm: %s %s", pl_flow_marker(err.reason), err.detail);
    buf_release(&code);
}

static json_t *query_auth(struct platform *pl, const char *token, const char *code)
{
    char body[1024];
    snprintf(body, sizeof(body),
             "{\"component_appid\":\"" C_APPID "\",\"authorization_code\":\"%s\"}", code);
    return api(pl, "api_query_auth", token, body);
}

static json_t *authorizer_info(struct platform *pl, const char *token, const char *appid)
{
    char body[256];
    snprintf(body, sizeof(body),
             "{\"component_appid\":\"" C_APPID "\",\"authorizer_appid\":\"%s\"}", appid);
    return api(pl, "api_get_authorizer_info", token, body);
}

static json_t *state_of(struct platform *pl)
{
    json_t *s = NULL;
    assert_int_equal(pl_state_json(pl, &s), 0);
    return s;
}

/* The push jobs of the state dump with info_type, newest first. */
static size_t count_pushes(struct platform *pl, const char *info_type, const char *state_name)
{
    json_t *s = state_of(pl);
    size_t i, n = 0;
    json_t *p;
    json_array_foreach(json_object_get(s, "pushes"), i, p)
    {
        if (!strcmp(json_string_value(json_object_get(p, "info_type")), info_type) &&
            (!state_name || !strcmp(json_string_value(json_object_get(p, "state")), state_name)))
            n++;
    }
    json_decref(s);
    return n;
}

static void advance(struct platform *pl, int64_t seconds)
{
    assert_int_equal(pl_clock_advance(pl, seconds, NULL), 0);
}

/* ---- component token (§4.1) ---- */

static void test_component_token_checks(void **state)
{
    struct fx *f = *state;
    struct buf ticket = BUF_INIT;
    char body[1024];
    new_ticket(f->pl, &ticket);
    assert_int_equal(strncmp(ticket.data, "ticket@@@", 9), 0);
    assert_int_equal(strlen(ticket.data), 9 + 86);

    expect_errcode(api(f->pl, "api_component_token", NULL, NULL), 44002);
    expect_errcode(api(f->pl, "api_component_token", NULL, "not json"), 47001);
    expect_errcode(api(f->pl, "api_component_token", NULL, "[1]"), 47001);
    token_body(body, sizeof(body), "wx9999999999999999", C_SECRET, ticket.data);
    expect_errcode(api(f->pl, "api_component_token", NULL, body), 40013);
    token_body(body, sizeof(body), MP_APPID, C_SECRET, ticket.data);
    expect_errcode(api(f->pl, "api_component_token", NULL, body), 61011);
    token_body(body, sizeof(body), C_APPID, "", ticket.data);
    expect_errcode(api(f->pl, "api_component_token", NULL, body), 41004);
    token_body(body, sizeof(body), C_APPID, "wrong", ticket.data);
    expect_errcode(api(f->pl, "api_component_token", NULL, body), 40125);
    token_body(body, sizeof(body), C_APPID, C_SECRET, "ticket@@@never-issued");
    expect_errcode(api(f->pl, "api_component_token", NULL, body), 61006);
    token_body(body, sizeof(body), C_APPID, C_SECRET, ticket.data);
    expect_errcode(api(f->pl, "api_component_token", NULL, body), 0);

    /* Tickets live 12 h: 43200 s still works, one more second does not. */
    advance(f->pl, 43200);
    expect_errcode(api(f->pl, "api_component_token", NULL, body), 0);
    advance(f->pl, 1);
    expect_errcode(api(f->pl, "api_component_token", NULL, body), 61005);
    buf_release(&ticket);
}

static void test_start_push_ticket(void **state)
{
    struct fx *f = *state;
    expect_errcode(api(f->pl, "api_start_push_ticket", NULL,
                       "{\"component_appid\":\"" C_APPID "\",\"component_secret\":\"x\"}"),
                   40125);
    json_t *v = api(f->pl, "api_start_push_ticket", NULL,
                    "{\"component_appid\":\"" C_APPID "\",\"component_secret\":\"" C_SECRET "\"}");
    assert_int_equal(errcode(v), 0);
    assert_string_equal(json_string_value(json_object_get(v, "errmsg")), "ok");
    json_decref(v);
    json_t *s = state_of(f->pl);
    assert_int_equal(json_array_size(json_object_get(s, "tickets")), 1);
    json_decref(s);
}

/* ---- the token rules (§3) ---- */

static void test_token_rules(void **state)
{
    struct fx *f = *state;
    struct buf t1 = BUF_INIT, t2 = BUF_INIT;
    const char *body = "{\"component_appid\":\"" C_APPID "\"}";
    component_token(f->pl, &t1);

    expect_errcode(api(f->pl, "api_create_preauthcode", NULL, body), 41001);
    expect_errcode(api(f->pl, "api_create_preauthcode", "83_nosuchtoken", body), 40001);
    expect_errcode(api(f->pl, "api_create_preauthcode", t1.data, ""), 44002);
    expect_errcode(api(f->pl, "api_create_preauthcode", t1.data, "{}"), 47001);
    expect_errcode(api(f->pl, "api_create_preauthcode", t1.data,
                       "{\"component_appid\":\"wx9999999999999999\"}"),
                   40013);
    /* Both parameter names; component_access_token wins when both are given. */
    expect_errcode(api2(f->pl, "/cgi-bin/component/api_create_preauthcode", NULL, t1.data, body),
                   0);
    expect_errcode(
        api2(f->pl, "/cgi-bin/component/api_create_preauthcode", t1.data, "83_bad", body), 0);
    expect_errcode(
        api2(f->pl, "/cgi-bin/component/api_create_preauthcode", "83_bad", t1.data, body), 40001);

    /* A newer token leaves the old one 300 s of grace. */
    component_token(f->pl, &t2);
    advance(f->pl, 300);
    expect_errcode(api(f->pl, "api_create_preauthcode", t1.data, body), 0);
    advance(f->pl, 1);
    expect_errcode(api(f->pl, "api_create_preauthcode", t1.data, body), 40001);
    expect_errcode(api(f->pl, "api_create_preauthcode", t2.data, body), 0);

    /* 7200 s after issue: expired. */
    advance(f->pl, 7200 - 301 - 1);
    expect_errcode(api(f->pl, "api_create_preauthcode", t2.data, body), 0);
    advance(f->pl, 1);
    expect_errcode(api(f->pl, "api_create_preauthcode", t2.data, body), 42001);
    buf_release(&t1);
    buf_release(&t2);
}

/* ---- pre_auth_code and the pages (§5.2) ---- */

static void test_pre_auth_code_single_use(void **state)
{
    struct fx *f = *state;
    struct buf token = BUF_INIT, code = BUF_INIT;
    char s1[PL_SESSION_ID_LEN + 1], s2[PL_SESSION_ID_LEN + 1], s3[PL_SESSION_ID_LEN + 1];
    struct pl_flow_error err;
    struct pl_confirm_result res;
    struct pl_app_list apps = {NULL, 0};
    component_token(f->pl, &token);
    pre_auth_code(f->pl, token.data, &code);
    /* Two pages opened with one code: the first confirmation consumes it. */
    assert_int_equal(open_page(f->pl, code.data, REFERER, REDIRECT, NULL, NULL, s1, &err), 0);
    assert_int_equal(open_page(f->pl, code.data, REFERER, REDIRECT, NULL, NULL, s2, &err), 0);
    assert_int_equal(pl_flow_scan(f->pl, s1, "alice", &apps, &err), 0);
    assert_int_equal(apps.n, 2);
    pl_app_list_release(&apps);
    assert_int_equal(pl_flow_confirm(f->pl, s1, "alice", MP_APPID, NULL, &res, &err), 0);
    assert_string_equal(res.push, "authorized");
    expect_refusal(pl_flow_scan(f->pl, s2, "alice", &apps, &err), &err, PL_FLOW_CODE_USED);
    expect_refusal(open_page(f->pl, code.data, REFERER, REDIRECT, NULL, NULL, s3, &err), &err,
                   PL_FLOW_CODE_USED);
    /* The confirmed session is closed. */
    expect_refusal(pl_flow_confirm(f->pl, s1, "alice", MP_APPID, NULL, &res, &err), &err,
                   PL_FLOW_SESSION_CLOSED);
    buf_release(&token);
    buf_release(&code);
}

static void test_pre_auth_code_expiry(void **state)
{
    struct fx *f = *state;
    struct buf token = BUF_INIT, code = BUF_INIT;
    char s1[PL_SESSION_ID_LEN + 1], s2[PL_SESSION_ID_LEN + 1];
    struct pl_flow_error err;
    struct pl_session s;
    component_token(f->pl, &token);
    pre_auth_code(f->pl, token.data, &code);
    assert_int_equal(open_page(f->pl, code.data, REFERER, REDIRECT, NULL, NULL, s1, &err), 0);
    assert_int_equal(pl_flow_session(f->pl, s1, &s, &err), 0);
    assert_string_equal(s.state, "waiting");
    advance(f->pl, 1800);
    expect_refusal(open_page(f->pl, code.data, REFERER, REDIRECT, NULL, NULL, s2, &err), &err,
                   PL_FLOW_CODE_EXPIRED);
    assert_int_equal(pl_flow_session(f->pl, s1, &s, &err), 0);
    assert_string_equal(s.state, "expired");
    expect_refusal(open_page(f->pl, "preauthcode@@@nope", REFERER, REDIRECT, NULL, NULL, s2, &err),
                   &err, PL_FLOW_CODE_INVALID);
    buf_release(&token);
    buf_release(&code);
}

static void test_referer_and_domain(void **state)
{
    struct fx *f = *state;
    struct buf token = BUF_INIT, code = BUF_INIT;
    char s[PL_SESSION_ID_LEN + 1];
    struct pl_flow_error err;
    component_token(f->pl, &token);
    pre_auth_code(f->pl, token.data, &code);
    expect_refusal(open_page(f->pl, code.data, NULL, REDIRECT, NULL, NULL, s, &err), &err,
                   PL_FLOW_REFERER);
    assert_non_null(strstr(err.detail, "空"));
    expect_refusal(
        open_page(f->pl, code.data, "https://evil.example.com/x", REDIRECT, NULL, NULL, s, &err),
        &err, PL_FLOW_REFERER);
    assert_non_null(strstr(err.detail, "evil.example.com"));
    expect_refusal(open_page(f->pl, code.data, "https://cloud.example.com.evil.com/", REDIRECT,
                             NULL, NULL, s, &err),
                   &err, PL_FLOW_REFERER);
    expect_refusal(
        open_page(f->pl, code.data, REFERER, "https://other.example.com/cb", NULL, NULL, s, &err),
        &err, PL_FLOW_REDIRECT_DOMAIN);
    expect_refusal(open_page(f->pl, code.data, REFERER, NULL, NULL, NULL, s, &err), &err,
                   PL_FLOW_REDIRECT_DOMAIN);
    /* A domain without a port matches any port of that host. */
    assert_int_equal(open_page(f->pl, code.data, "http://CLOUD.example.com:8443/a",
                               "http://cloud.example.com:8443/cb", NULL, NULL, s, &err),
                     0);
    /* The Referer check can be switched off; the redirect domain cannot. */
    json_t *off = json_pack("{s:b}", "check_referer", 0);
    assert_int_equal(pl_settings_apply_json(f->pl, off, NULL), 0);
    json_decref(off);
    assert_int_equal(open_page(f->pl, code.data, NULL, REDIRECT, NULL, NULL, s, &err), 0);
    buf_release(&token);
    buf_release(&code);
}

static void test_filters(void **state)
{
    struct fx *f = *state;
    struct buf token = BUF_INIT, code = BUF_INIT;
    char s[PL_SESSION_ID_LEN + 1];
    struct pl_flow_error err;
    struct pl_app_list apps = {NULL, 0};
    struct pl_confirm_result res;
    component_token(f->pl, &token);
    pre_auth_code(f->pl, token.data, &code);
    /* auth_type 1: official accounts only. */
    assert_int_equal(open_page(f->pl, code.data, REFERER, REDIRECT, "1", NULL, s, &err), 0);
    assert_int_equal(pl_flow_scan(f->pl, s, "alice", &apps, &err), 0);
    assert_int_equal(apps.n, 1);
    assert_string_equal(apps.apps[0].appid, OA_APPID);
    pl_app_list_release(&apps);
    expect_refusal(pl_flow_confirm(f->pl, s, "alice", MP_APPID, NULL, &res, &err), &err,
                   PL_FLOW_APP_NOT_LISTED);
    /* biz_appid: only its admins. */
    assert_int_equal(open_page(f->pl, code.data, REFERER, REDIRECT, NULL, MP_APPID, s, &err), 0);
    expect_refusal(pl_flow_scan(f->pl, s, "bob", &apps, &err), &err, PL_FLOW_NOT_ADMIN);
    assert_int_equal(pl_flow_scan(f->pl, s, "alice", &apps, &err), 0);
    assert_int_equal(apps.n, 1);
    assert_string_equal(apps.apps[0].appid, MP_APPID);
    pl_app_list_release(&apps);
    /* A non-admin of anything sees an empty list; an unknown user is refused. */
    put(f->pl, pl_wxuser_put_json, "{\"wxid\":\"carol\",\"nickname\":\"Carol\"}");
    assert_int_equal(open_page(f->pl, code.data, REFERER, REDIRECT, NULL, NULL, s, &err), 0);
    assert_int_equal(pl_flow_scan(f->pl, s, "carol", &apps, &err), 0);
    assert_int_equal(apps.n, 0);
    pl_app_list_release(&apps);
    expect_refusal(pl_flow_scan(f->pl, s, "nobody", &apps, &err), &err, PL_FLOW_WXUSER_UNKNOWN);
    expect_refusal(pl_flow_confirm(f->pl, s, "bob", MP_APPID, NULL, &res, &err), &err,
                   PL_FLOW_NOT_ADMIN);
    /* An unpublished component: only its test list. */
    put(f->pl, pl_component_put_json,
        "{\"component_appid\":\"" C_APPID "\",\"published\":false,\"test_appids\":[\"" OA_APPID
        "\"]}");
    expect_refusal(pl_flow_confirm(f->pl, s, "alice", MP_APPID, NULL, &res, &err), &err,
                   PL_FLOW_NOT_PUBLISHED);
    assert_int_equal(pl_flow_confirm(f->pl, s, "alice", OA_APPID, NULL, &res, &err), 0);
    buf_release(&token);
    buf_release(&code);
}

/* ---- authorization codes (§4.4) ---- */

static void test_auth_code_rules(void **state)
{
    struct fx *f = *state;
    struct buf token = BUF_INIT;
    struct pl_confirm_result res;
    component_token(f->pl, &token);
    authorize(f->pl, token.data, "alice", MP_APPID, NULL, &res);
    assert_int_equal(strncmp(res.auth_code, "queryauthcode@@@", 16), 0);
    assert_int_equal(strlen(res.auth_code), 16 + 86);
    char want[1024];
    snprintf(want, sizeof(want), REDIRECT "&auth_code=%s&expires_in=3600", res.auth_code);
    assert_string_equal(res.redirect_url, want);

    json_t *v = query_auth(f->pl, token.data, res.auth_code);
    json_t *ai = json_object_get(v, "authorization_info");
    assert_string_equal(json_string_value(json_object_get(ai, "authorizer_appid")), MP_APPID);
    assert_int_equal(json_integer_value(json_object_get(ai, "expires_in")), 7200);
    const char *refresh = json_string_value(json_object_get(ai, "authorizer_refresh_token"));
    assert_int_equal(strncmp(refresh, "refreshtoken@@@", 15), 0);
    assert_int_equal(strlen(refresh), 15 + 43);
    json_t *fi = json_object_get(ai, "func_info");
    assert_int_equal(json_array_size(fi), 3); /* the MP default grant 17, 18, 19 */
    assert_int_equal(json_integer_value(json_object_get(
                         json_object_get(json_array_get(fi, 0), "funcscope_category"), "id")),
                     17);
    json_decref(v);

    /* Reusable within its life by default; single use under the switch. */
    expect_errcode(query_auth(f->pl, token.data, res.auth_code), 0);
    json_t *on = json_pack("{s:b}", "single_use_codes", 1);
    assert_int_equal(pl_settings_apply_json(f->pl, on, NULL), 0);
    json_decref(on);
    expect_errcode(query_auth(f->pl, token.data, res.auth_code), 61009);

    expect_errcode(query_auth(f->pl, token.data, "queryauthcode@@@unknown"), 61009);
    expect_errcode(
        api(f->pl, "api_query_auth", token.data, "{\"component_appid\":\"" C_APPID "\"}"), 40097);
    buf_release(&token);
}

static void test_auth_code_expiry(void **state)
{
    struct fx *f = *state;
    struct buf token = BUF_INIT;
    struct pl_confirm_result res;
    component_token(f->pl, &token);
    authorize(f->pl, token.data, "alice", OA_APPID, NULL, &res);
    advance(f->pl, 3599);
    expect_errcode(query_auth(f->pl, token.data, res.auth_code), 0);
    advance(f->pl, 1);
    expect_errcode(query_auth(f->pl, token.data, res.auth_code), 61010);
    buf_release(&token);
}

/* ---- authorizer token, info, list (§4.5-4.7) ---- */

static void test_authorizer_calls(void **state)
{
    struct fx *f = *state;
    struct buf token = BUF_INIT;
    struct pl_confirm_result res;
    char body[1024];
    component_token(f->pl, &token);
    authorize(f->pl, token.data, "alice", MP_APPID, NULL, &res);
    json_t *q = query_auth(f->pl, token.data, res.auth_code);
    const char *refresh = json_string_value(
        json_object_get(json_object_get(q, "authorization_info"), "authorizer_refresh_token"));

    snprintf(body, sizeof(body),
             "{\"component_appid\":\"" C_APPID "\",\"authorizer_appid\":\"" MP_APPID "\","
             "\"authorizer_refresh_token\":\"%s\"}",
             refresh);
    json_t *v = api(f->pl, "api_authorizer_token", token.data, body);
    assert_int_equal(errcode(v), 0);
    assert_string_equal(json_string_value(json_object_get(v, "authorizer_refresh_token")), refresh);
    const char *atoken = json_string_value(json_object_get(v, "authorizer_access_token"));
    /* An authorizer token is not a component token. */
    expect_errcode(
        api(f->pl, "api_create_preauthcode", atoken, "{\"component_appid\":\"" C_APPID "\"}"),
        61014);
    json_decref(v);
    expect_errcode(api(f->pl, "api_authorizer_token", token.data,
                       "{\"component_appid\":\"" C_APPID "\",\"authorizer_appid\":\"" MP_APPID
                       "\",\"authorizer_refresh_token\":\"refreshtoken@@@wrong\"}"),
                   61023);
    expect_errcode(api(f->pl, "api_authorizer_token", token.data,
                       "{\"component_appid\":\"" C_APPID "\",\"authorizer_appid\":\"" OA_APPID
                       "\",\"authorizer_refresh_token\":\"x\"}"),
                   61003);

    v = authorizer_info(f->pl, token.data, MP_APPID);
    json_t *info = json_object_get(v, "authorizer_info");
    assert_string_equal(json_string_value(json_object_get(info, "nick_name")), "Mini");
    assert_non_null(json_object_get(info, "MiniProgramInfo"));
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(info, "service_type_info"), "id")), 0);
    assert_string_equal(json_string_value(json_object_get(json_object_get(v, "authorization_info"),
                                                          "authorizer_appid")),
                        MP_APPID);
    assert_null(json_object_get(v, "errcode"));
    json_decref(v);
    expect_errcode(authorizer_info(f->pl, token.data, OA_APPID), 61003);

    v = api(f->pl, "api_get_authorizer_list", token.data,
            "{\"component_appid\":\"" C_APPID "\",\"offset\":0,\"count\":100}");
    assert_int_equal(json_integer_value(json_object_get(v, "total_count")), 1);
    json_t *item = json_array_get(json_object_get(v, "list"), 0);
    assert_string_equal(json_string_value(json_object_get(item, "authorizer_appid")), MP_APPID);
    assert_string_equal(json_string_value(json_object_get(item, "refresh_token")), refresh);
    json_decref(v);
    expect_errcode(api(f->pl, "api_get_authorizer_list", token.data,
                       "{\"component_appid\":\"" C_APPID "\",\"offset\":0,\"count\":501}"),
                   40170);

    /* Checks counted per authorizer: two info calls (one refused) and one list. */
    json_t *s = state_of(f->pl);
    size_t i;
    json_t *a;
    json_array_foreach(json_object_get(s, "authorizers"), i, a)
    {
        json_t *checks = json_object_get(a, "checks");
        const char *appid = json_string_value(json_object_get(a, "appid"));
        bool mp = !strcmp(appid, MP_APPID);
        assert_int_equal(json_integer_value(json_object_get(checks, "api_get_authorizer_info")), 1);
        assert_int_equal(json_integer_value(json_object_get(checks, "api_get_authorizer_list")),
                         mp ? 1 : 0);
    }
    json_decref(s);
    json_decref(q);
    buf_release(&token);
}

/* ---- revocation (§8.3) and re-authorization (§8.4) ---- */

static void test_revocation_effects(void **state)
{
    struct fx *f = *state;
    struct buf token = BUF_INIT;
    struct pl_confirm_result res, res2;
    struct pl_flow_error err;
    char body[1024];
    bool pushed = true;
    component_with_url(f->pl, "http://127.0.0.1:9/events");
    component_token(f->pl, &token);
    authorize(f->pl, token.data, "alice", MP_APPID, NULL, &res);
    json_t *q = query_auth(f->pl, token.data, res.auth_code);
    json_t *ai = json_object_get(q, "authorization_info");
    const char *refresh = json_string_value(json_object_get(ai, "authorizer_refresh_token"));
    const char *atoken = json_string_value(json_object_get(ai, "authorizer_access_token"));
    assert_int_equal(count_pushes(f->pl, "authorized", NULL), 1);

    assert_int_equal(pl_flow_revoke(f->pl, C_APPID, MP_APPID, &pushed, &err), 0);
    assert_true(pushed);
    expect_refusal(pl_flow_revoke(f->pl, C_APPID, MP_APPID, &pushed, &err), &err,
                   PL_FLOW_NOT_AUTHORIZED);
    assert_int_equal(count_pushes(f->pl, "unauthorized", "pending"), 1);
    expect_errcode(authorizer_info(f->pl, token.data, MP_APPID), 61003);
    snprintf(body, sizeof(body),
             "{\"component_appid\":\"" C_APPID "\",\"authorizer_appid\":\"" MP_APPID "\","
             "\"authorizer_refresh_token\":\"%s\"}",
             refresh);
    expect_errcode(api(f->pl, "api_authorizer_token", token.data, body), 61003);
    expect_errcode(query_auth(f->pl, token.data, res.auth_code), 61009);
    json_t *v = api(f->pl, "api_get_authorizer_list", token.data,
                    "{\"component_appid\":\"" C_APPID "\",\"offset\":0,\"count\":10}");
    assert_int_equal(json_integer_value(json_object_get(v, "total_count")), 0);
    json_decref(v);
    /* The authorizer's access token died with it. */
    expect_errcode(
        api2(f->pl, "/cgi-bin/clear_quota", NULL, atoken, "{\"appid\":\"" MP_APPID "\"}"), 40001);

    /* Re-authorization: same app, a new refresh token, an `authorized` push. */
    authorize(f->pl, token.data, "alice", MP_APPID, NULL, &res2);
    assert_string_equal(res2.push, "authorized");
    assert_false(res2.already);
    json_t *q2 = query_auth(f->pl, token.data, res2.auth_code);
    const char *refresh2 = json_string_value(
        json_object_get(json_object_get(q2, "authorization_info"), "authorizer_refresh_token"));
    assert_string_not_equal(refresh, refresh2);
    expect_errcode(api(f->pl, "api_authorizer_token", token.data, body), 61023);
    assert_int_equal(count_pushes(f->pl, "authorized", NULL), 2);

    /* With the push suppressed: recorded, never sent; the API still says 61003. */
    json_t *sup = json_pack("{s:s}", "unauthorized", "suppress");
    assert_int_equal(pl_settings_apply_json(f->pl, sup, NULL), 0);
    json_decref(sup);
    assert_int_equal(pl_flow_revoke(f->pl, C_APPID, MP_APPID, &pushed, &err), 0);
    assert_false(pushed);
    assert_int_equal(count_pushes(f->pl, "unauthorized", "suppressed"), 1);
    expect_errcode(authorizer_info(f->pl, token.data, MP_APPID), 61003);
    json_decref(q);
    json_decref(q2);
    buf_release(&token);
}

static void test_update_authorization(void **state)
{
    struct fx *f = *state;
    struct buf token = BUF_INIT;
    struct pl_confirm_result res;
    struct pl_funcs two = {{0}, 0};
    component_with_url(f->pl, "http://127.0.0.1:9/events");
    component_token(f->pl, &token);
    authorize(f->pl, token.data, "alice", OA_APPID, NULL, &res);
    assert_string_equal(res.push, "authorized");
    /* Scanning again with the same sets: already authorized, no push. */
    authorize(f->pl, token.data, "bob", OA_APPID, NULL, &res);
    assert_true(res.already);
    assert_null(res.push);
    /* Unticking sets: updateauthorized, and the refresh token is kept. */
    pl_funcs_add(&two, 1);
    pl_funcs_add(&two, 2);
    authorize(f->pl, token.data, "alice", OA_APPID, &two, &res);
    assert_string_equal(res.push, "updateauthorized");
    assert_int_equal(count_pushes(f->pl, "updateauthorized", NULL), 1);
    json_t *v = query_auth(f->pl, token.data, res.auth_code);
    assert_int_equal(
        json_array_size(json_object_get(json_object_get(v, "authorization_info"), "func_info")), 2);
    json_decref(v);
    /* A set that was not offered, or none at all, is refused. */
    struct pl_funcs bad = {{0}, 0}, none = {{0}, 0};
    struct buf code = BUF_INIT;
    char s[PL_SESSION_ID_LEN + 1];
    struct pl_flow_error err;
    struct pl_app_list apps = {NULL, 0};
    pl_funcs_add(&bad, 99);
    pre_auth_code(f->pl, token.data, &code);
    assert_int_equal(open_page(f->pl, code.data, REFERER, REDIRECT, NULL, NULL, s, &err), 0);
    assert_int_equal(pl_flow_scan(f->pl, s, "alice", &apps, &err), 0);
    pl_app_list_release(&apps);
    expect_refusal(pl_flow_confirm(f->pl, s, "alice", OA_APPID, &bad, &res, &err), &err,
                   PL_FLOW_NO_FUNCS);
    expect_refusal(pl_flow_confirm(f->pl, s, "alice", OA_APPID, &none, &res, &err), &err,
                   PL_FLOW_NO_FUNCS);
    buf_release(&code);
    buf_release(&token);
}

/* ---- pushes (§6) ---- */

static void test_push_delivery_log(void **state)
{
    struct fx *f = *state;
    struct buf token = BUF_INIT;
    struct pl_confirm_result res;
    struct pl_flow_error err;
    struct pl_session s;
    /* Port 9 (discard) is closed on loopback: every attempt fails at once. */
    component_with_url(f->pl, "http://127.0.0.1:9/events");
    json_t *fast = json_pack("{s:i}", "retry_ms", 10);
    assert_int_equal(pl_settings_apply_json(f->pl, fast, NULL), 0);
    json_decref(fast);
    component_token(f->pl, &token);
    authorize(f->pl, token.data, "alice", MP_APPID, NULL, &res);
    /* The redirect waits for the first attempt of the push. */
    json_t *st = state_of(f->pl);
    const char *sid = json_string_value(
        json_object_get(json_array_get(json_object_get(st, "sessions"), 0), "id"));
    assert_int_equal(pl_flow_session(f->pl, sid, &s, &err), 0);
    assert_string_equal(s.state, "confirmed");
    assert_false(s.released);
    for (int i = 0; i < 100 && count_pushes(f->pl, "authorized", "failed") == 0; i++) {
        assert_int_equal(pl_pusher_round(f->pl, NULL), 0);
        usleep(20000);
    }
    assert_int_equal(count_pushes(f->pl, "authorized", "failed"), 1);
    assert_int_equal(pl_flow_session(f->pl, sid, &s, &err), 0);
    assert_true(s.released);
    json_decref(st);
    /* Three attempts in the log; the ticket pushes got one each. */
    st = state_of(f->pl);
    size_t i, auth_attempts = 0;
    json_t *d;
    json_array_foreach(json_object_get(st, "deliveries"), i, d)
    {
        assert_string_equal(json_string_value(json_object_get(d, "outcome")), "error");
        auth_attempts++;
    }
    assert_true(auth_attempts >= 3);
    json_decref(st);

    /* drop_pushes: the job is dropped, not sent. */
    json_t *drop = json_pack("{s:b}", "drop_pushes", 1);
    assert_int_equal(pl_settings_apply_json(f->pl, drop, NULL), 0);
    json_decref(drop);
    assert_int_equal(pl_flow_revoke(f->pl, C_APPID, MP_APPID, NULL, &err), 0);
    assert_int_equal(pl_pusher_round(f->pl, NULL), 0);
    assert_int_equal(count_pushes(f->pl, "unauthorized", "dropped"), 1);
    buf_release(&token);
}

static void test_ticket_schedule(void **state)
{
    struct fx *f = *state;
    component_with_url(f->pl, "http://127.0.0.1:9/events");
    /* A new component gets its first ticket on the next round, the next one
     * ticket_interval later, and one (not 72) after a 12 h jump. */
    assert_int_equal(pl_pusher_round(f->pl, NULL), 0);
    assert_int_equal(count_pushes(f->pl, "component_verify_ticket", NULL), 1);
    assert_int_equal(pl_pusher_round(f->pl, NULL), 0);
    assert_int_equal(count_pushes(f->pl, "component_verify_ticket", NULL), 1);
    advance(f->pl, 600);
    assert_int_equal(pl_pusher_round(f->pl, NULL), 0);
    assert_int_equal(count_pushes(f->pl, "component_verify_ticket", NULL), 2);
    advance(f->pl, 43200);
    assert_int_equal(pl_pusher_round(f->pl, NULL), 0);
    assert_int_equal(count_pushes(f->pl, "component_verify_ticket", NULL), 3);
    /* Tickets are tried once. */
    json_t *s = state_of(f->pl);
    assert_int_equal(json_integer_value(json_object_get(
                         json_array_get(json_object_get(s, "pushes"), 0), "max_attempts")),
                     1);
    json_decref(s);
}

/* ---- faults, quotas, IP whitelist ---- */

static void test_faults(void **state)
{
    struct fx *f = *state;
    struct buf token = BUF_INIT;
    const char *body = "{\"component_appid\":\"" C_APPID "\"}";
    component_token(f->pl, &token);
    json_t *all = json_pack("{s:f}", "error_rate", 1.0);
    assert_int_equal(pl_settings_apply_json(f->pl, all, NULL), 0);
    json_decref(all);
    expect_errcode(api(f->pl, "api_create_preauthcode", token.data, body), -1);
    json_t *none = json_pack("{s:f}", "error_rate", 0.0);
    assert_int_equal(pl_settings_apply_json(f->pl, none, NULL), 0);
    json_decref(none);
    expect_errcode(api(f->pl, "api_create_preauthcode", token.data, body), 0);
    /* Out-of-range settings change nothing. */
    json_t *bad = json_pack("{s:f,s:i}", "error_rate", 1.5, "latency_ms", 5);
    assert_int_equal(pl_settings_apply_json(f->pl, bad, NULL), BE_INVALID_PARAMETER_VALUE);
    json_decref(bad);
    struct pl_settings s;
    pl_settings_get(f->pl, &s);
    assert_int_equal(s.latency_ms, 0);
    buf_release(&token);
}

static void test_quotas_and_whitelist(void **state)
{
    struct fx *f = *state;
    struct buf token = BUF_INIT;
    const char *body = "{\"component_appid\":\"" C_APPID "\"}";
    component_token(f->pl, &token);
    json_t *q = json_pack("{s:b,s:{s:i}}", "quotas", 1, "quota_limits", "other", 2);
    assert_int_equal(pl_settings_apply_json(f->pl, q, NULL), 0);
    json_decref(q);
    expect_errcode(api(f->pl, "api_create_preauthcode", token.data, body), 0);
    expect_errcode(api(f->pl, "api_create_preauthcode", token.data, body), 0);
    expect_errcode(api(f->pl, "api_create_preauthcode", token.data, body), 45009);
    json_t *v = api2(f->pl, "/cgi-bin/openapi/quota/get", NULL, token.data,
                     "{\"cgi_path\":\"/cgi-bin/component/api_create_preauthcode\"}");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(v, "quota"), "used")), 2);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(v, "quota"), "remain")), 0);
    json_decref(v);
    expect_errcode(api(f->pl, "clear_quota", token.data, body), 0);
    expect_errcode(api(f->pl, "api_create_preauthcode", token.data, body), 0);
    /* A new quota day (Asia/Shanghai) resets the counters. */
    expect_errcode(api(f->pl, "api_create_preauthcode", token.data, body), 0);
    expect_errcode(api(f->pl, "api_create_preauthcode", token.data, body), 45009);
    advance(f->pl, 86400);
    buf_reset(&token);
    component_token(f->pl, &token);
    expect_errcode(api(f->pl, "api_create_preauthcode", token.data, body), 0);

    put(f->pl, pl_component_put_json,
        "{\"component_appid\":\"" C_APPID "\",\"ip_whitelist\":[\"10.0.0.1\"]}");
    v = api(f->pl, "api_create_preauthcode", token.data, body);
    assert_non_null(
        strstr(json_string_value(json_object_get(v, "errmsg")), "requestIP: 127.0.0.1 rid: "));
    expect_errcode(v, 61004);
    put(f->pl, pl_component_put_json,
        "{\"component_appid\":\"" C_APPID "\",\"ip_whitelist\":[\"10.0.0.1\",\"127.0.0.1\"]}");
    expect_errcode(api(f->pl, "api_create_preauthcode", token.data, body), 0);
    buf_release(&token);
}

/* ---- entities, fixtures and the clock ---- */

static void test_entity_validation(void **state)
{
    struct fx *f = *state;
    struct be_diag diag = {""};
    const struct {
        int (*fn)(struct platform *, const json_t *, struct be_diag *);
        const char *json;
        int err;
        const char *diag_part;
    } cases[] = {
        {pl_wxuser_put_json, "{\"wxid\":\"a b\",\"nickname\":\"x\"}", BE_INVALID_PARAMETER_VALUE,
         "wxid"},
        {pl_wxuser_put_json, "{\"wxid\":\"ab\"}", BE_MISSING_PARAMETER, "nickname"},
        {pl_wxuser_put_json, "{\"wxid\":\"ab\",\"nickname\":\"x\",\"age\":3}", BE_UNKNOWN_PARAMETER,
         "age"},
        {pl_authorizer_put_json,
         "{\"appid\":\"wx2\",\"kind\":\"xx\",\"nick_name\":\"n\",\"principal_name\":\"p\","
         "\"admins\":[]}",
         BE_INVALID_PARAMETER_VALUE, "kind"},
        {pl_authorizer_put_json,
         "{\"appid\":\"wx2\",\"kind\":\"oa\",\"nick_name\":\"n\",\"principal_name\":\"p\","
         "\"admins\":[\"ghost\"]}",
         BE_NOT_FOUND, "ghost"},
        {pl_authorizer_put_json,
         "{\"appid\":\"" C_APPID "\",\"kind\":\"oa\",\"nick_name\":\"n\",\"principal_name\":\"p\","
         "\"admins\":[]}",
         BE_DUPLICATE, "component"},
        {pl_component_put_json,
         "{\"component_appid\":\"wx3\",\"secret\":\"s\",\"token\":\"t!\",\"aes_key\":\"k\","
         "\"auth_event_url\":\"\",\"entry_domain\":\"d\"}",
         BE_INVALID_PARAMETER_VALUE, "token"},
        {pl_component_put_json,
         "{\"component_appid\":\"wx3\",\"secret\":\"s\",\"token\":\"tok\",\"aes_key\":"
         "\"tooshort\",\"auth_event_url\":\"\",\"entry_domain\":\"d\"}",
         BE_INVALID_PARAMETER_VALUE, "aes_key"},
        {pl_component_put_json,
         "{\"component_appid\":\"wx3\",\"secret\":\"s\",\"token\":\"tok\",\"aes_key\":"
         "\"EmulatorKey0123456789abcdefghijklmnopqrstuv\",\"auth_event_url\":\"ftp://x\","
         "\"entry_domain\":\"d\"}",
         BE_INVALID_PARAMETER_VALUE, "auth_event_url"},
        {pl_component_put_json, "{\"component_appid\":\"wx3\"}", BE_MISSING_PARAMETER, "secret"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *v = json_loads(cases[i].json, 0, NULL);
        assert_non_null(v);
        diag.msg[0] = '\0';
        int rc = cases[i].fn(f->pl, v, &diag);
        if (rc != cases[i].err || !strstr(diag.msg, cases[i].diag_part))
            print_error("case %zu: rc %d (%s) diag '%s'\n", i, rc, be_err_code(rc), diag.msg);
        assert_int_equal(rc, cases[i].err);
        assert_non_null(strstr(diag.msg, cases[i].diag_part));
        json_decref(v);
    }
    /* Key rotation keeps the old key as the previous one. */
    assert_int_equal(pl_component_rotate_key(f->pl, C_APPID, NULL, NULL), 0);
    json_t *s = state_of(f->pl);
    json_t *k = json_array_get(json_object_get(s, "components"), 0);
    assert_string_equal(json_string_value(json_object_get(k, "prev_aes_key")),
                        "EmulatorKey0123456789abcdefghijklmnopqrstuv");
    assert_int_equal(strlen(json_string_value(json_object_get(k, "aes_key"))), 43);
    json_decref(s);
}

static void test_fixtures_and_clock(void **state)
{
    struct fx *f = *state;
    struct be_diag diag = {""};
    char path[128];
    assert_int_equal(pl_fixtures_load(f->pl, "../../fixtures/platform.json", &diag) == 0 ||
                         pl_fixtures_load(f->pl, "fixtures/platform.json", &diag) == 0,
                     1);
    json_t *s = state_of(f->pl);
    assert_true(json_array_size(json_object_get(s, "wxusers")) >= 4);
    json_decref(s);
    /* A bad entry names its list and index. */
    snprintf(path, sizeof(path), "%s/bad.json", f->dir);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs("{\"wxusers\":[{\"wxid\":\"ok\",\"nickname\":\"ok\"},{\"wxid\":\"\","
          "\"nickname\":\"x\"}]}",
          fp);
    fclose(fp);
    assert_int_equal(pl_fixtures_load(f->pl, path, &diag), BE_INVALID_PARAMETER_VALUE);
    assert_non_null(strstr(diag.msg, "wxusers[1]"));

    int64_t before = pl_now(f->pl), after = 0;
    assert_int_equal(pl_clock_advance(f->pl, 7200, &after), 0);
    assert_true(after >= before + 7200 && after <= before + 7201);
    assert_int_equal(pl_clock_advance(f->pl, -1, NULL), BE_INVALID_PARAMETER_VALUE);
    /* The clock survives a restart. */
    struct pl_options o = {.data_dir = f->dir, .fixed_time = 1700000000};
    pl_close(f->pl);
    assert_int_equal(pl_open(&o, &f->pl, NULL), 0);
    assert_true(pl_now(f->pl) >= before + 7200);
}

/* ---- helpers: QR, forms, permission sets ---- */

static void test_qr_svg(void **state)
{
    struct buf svg = BUF_INIT;
    int width = 0;
    char big[PL_QR_MAX_TEXT + 2];
    (void)state;
    assert_int_equal(pl_qr_svg("http://127.0.0.1:8081/__emu/phone/scan?s=abc", 4, &svg, &width), 0);
    assert_true(width >= 21 && (width - 17) % 4 == 0); /* a QR version's width */
    char want[64];
    snprintf(want, sizeof(want), "viewBox=\"0 0 %d %d\"", width + 8, width + 8);
    assert_non_null(strstr(svg.data, want));
    /* The three finder patterns: a 7-module dark run starts the first row. */
    assert_non_null(strstr(svg.data, "M4 4h7v1h-7z"));
    buf_release(&svg);
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_int_equal(pl_qr_svg(big, 4, &svg, NULL), BE_INVALID_PARAMETER_VALUE);
    assert_int_equal(pl_qr_svg("", 4, &svg, NULL), BE_INVALID_PARAMETER_VALUE);
    assert_int_equal(svg.len, 0);
}

static void test_form(void **state)
{
    struct arena a = ARENA_INIT;
    struct pl_form f;
    const char *body = "s=abc&func_id=1&func_id=17&name=a+b%2Bc&empty&&x=%E4%BD%A0";
    (void)state;
    assert_int_equal(pl_form_parse(body, strlen(body), &a, &f), 0);
    assert_string_equal(pl_form_get(&f, "s", 0), "abc");
    assert_string_equal(pl_form_get(&f, "func_id", 1), "17");
    assert_null(pl_form_get(&f, "func_id", 2));
    assert_string_equal(pl_form_get(&f, "name", 0), "a b+c");
    assert_string_equal(pl_form_get(&f, "empty", 0), "");
    assert_string_equal(pl_form_get(&f, "x", 0), "你");
    assert_int_equal(pl_form_parse("a=%4", 4, &a, &f), BE_INVALID_PARAMETER);
    assert_int_equal(pl_form_parse("a=%zz", 5, &a, &f), BE_INVALID_PARAMETER);
    assert_int_equal(pl_form_parse("a=%00", 5, &a, &f), BE_INVALID_PARAMETER);
    struct buf b = BUF_INIT;
    pl_html_escape(&b, "<a href=\"x\">'&'</a>");
    assert_string_equal(b.data, "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
    buf_reset(&b);
    pl_url_escape(&b, "queryauthcode@@@a-b_c");
    assert_string_equal(b.data, "queryauthcode%40%40%40a-b_c");
    buf_release(&b);
    arena_release(&a);
}

static void test_funcs(void **state)
{
    struct pl_funcs f;
    struct buf b = BUF_INIT;
    (void)state;
    assert_int_equal(pl_funcs_parse("18,17,18,1", &f), 0);
    pl_funcs_format(&f, &b);
    assert_string_equal(b.data, "1,17,18");
    assert_int_equal(pl_funcs_parse("", &f), 0);
    assert_int_equal(f.n, 0);
    assert_int_equal(pl_funcs_parse("1,", &f), BE_INVALID_PARAMETER_VALUE);
    assert_int_equal(pl_funcs_parse("0", &f), BE_INVALID_PARAMETER_VALUE);
    assert_int_equal(pl_funcs_parse("1001", &f), BE_INVALID_PARAMETER_VALUE);
    assert_int_equal(pl_funcs_parse("a", &f), BE_INVALID_PARAMETER_VALUE);
    buf_release(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_component_token_checks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_start_push_ticket, setup, teardown),
        cmocka_unit_test_setup_teardown(test_token_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pre_auth_code_single_use, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pre_auth_code_expiry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_referer_and_domain, setup, teardown),
        cmocka_unit_test_setup_teardown(test_filters, setup, teardown),
        cmocka_unit_test_setup_teardown(test_auth_code_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(test_auth_code_expiry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_authorizer_calls, setup, teardown),
        cmocka_unit_test_setup_teardown(test_revocation_effects, setup, teardown),
        cmocka_unit_test_setup_teardown(test_update_authorization, setup, teardown),
        cmocka_unit_test_setup_teardown(test_push_delivery_log, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ticket_schedule, setup, teardown),
        cmocka_unit_test_setup_teardown(test_faults, setup, teardown),
        cmocka_unit_test_setup_teardown(test_quotas_and_whitelist, setup, teardown),
        cmocka_unit_test_setup_teardown(test_entity_validation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fixtures_and_clock, setup, teardown),
        cmocka_unit_test(test_qr_svg),
        cmocka_unit_test(test_form),
        cmocka_unit_test(test_funcs),
    };
    log_level_current = LOG_WARN; /* no migration chatter */
    return cmocka_run_group_tests(tests, NULL, NULL);
}
