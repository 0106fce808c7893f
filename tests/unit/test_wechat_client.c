/* Unit tests of wechat/client and wechat/component: errcode mapping, retry
 * decisions, response parsing, the token cache in a real SQLite store, the
 * retry-once rule, the single refresher, and sealing of refresh tokens.
 * HTTP is replaced by a scripted transport (wx_client_options.transport). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>

#include "core/buf.h"
#include "core/crypto.h"
#include "core/timeutil.h"
#include "wechat/client.h"
#include "wechat/component.h"
#include "testutil.h"

#define APPID  "wx0123456789abcdef"
#define SECRET "0123456789abcdef0123456789abcdef"
#define TICKET "ticket@@@EmulatorTicket-0001"
#define TOKEN  "83_Xk2-component-token_0001"

/* --- a scripted transport ------------------------------------------------ */

#define SCRIPT_MAX 16

struct answer {
    int rc; /* 0, BE_UPSTREAM (network), BE_BODY_TOO_LARGE */
    long status;
    const char *body;
};

struct fake {
    pthread_mutex_t lock;
    struct answer script[SCRIPT_MAX];
    size_t nscript, next;
    unsigned calls;
    unsigned token_calls; /* api_component_token requests */
    unsigned delay_ms;    /* before answering api_component_token */
    char last_url[2048];
    char last_body[4096];
    char token_body[4096]; /* body of the last api_component_token */
    int token_seq;         /* numbers the tokens handed out */
};

static void fake_init(struct fake *f)
{
    memset(f, 0, sizeof(*f));
    pthread_mutex_init(&f->lock, NULL);
}

/* Queues an answer; the queue restarts once everything was consumed. */
static void fake_push(struct fake *f, int rc, long status, const char *body)
{
    if (f->next == f->nscript)
        f->next = f->nscript = 0;
    assert_true(f->nscript < SCRIPT_MAX);
    f->script[f->nscript++] = (struct answer){rc, status, body};
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* api_component_token is answered by the fake itself with a fresh token
 * (unless scripted answers are queued); everything else from the script. */
static int fake_send(void *ctx, const char *url, const char *body, size_t len,
                     unsigned connect_timeout_ms, unsigned timeout_ms, size_t max_body,
                     long *ret_status, struct buf *ret_body, struct be_diag *diag)
{
    struct fake *f = ctx;
    (void)connect_timeout_ms;
    (void)timeout_ms;
    (void)max_body;
    bool is_token = strstr(url, "/api_component_token") != NULL;
    if (is_token && f->delay_ms)
        sleep_ms(f->delay_ms);
    pthread_mutex_lock(&f->lock);
    f->calls++;
    snprintf(f->last_url, sizeof(f->last_url), "%s", url);
    snprintf(f->last_body, sizeof(f->last_body), "%.*s", (int)len, body);
    int rc = 0;
    if (is_token) {
        f->token_calls++;
        snprintf(f->token_body, sizeof(f->token_body), "%.*s", (int)len, body);
    }
    if (f->next < f->nscript) {
        struct answer a = f->script[f->next++];
        rc = a.rc;
        *ret_status = a.status;
        if (a.body)
            buf_adds(ret_body, a.body);
        if (rc)
            be_fail(diag, rc, "scripted failure");
    } else if (is_token) {
        *ret_status = 200;
        buf_addf(ret_body, "{\"component_access_token\":\"" TOKEN "-%d\",\"expires_in\":7200}",
                 ++f->token_seq);
    } else {
        *ret_status = 200;
        buf_adds(ret_body, "{\"errcode\":-1,\"errmsg\":\"unscripted\"}");
    }
    pthread_mutex_unlock(&f->lock);
    return rc;
}

static struct wx_client_options fake_opts(struct fake *f)
{
    struct wx_client_options o = {
        .base_url = "http://wechat.test/",
        .backoff_ms = 1,
        .transport = fake_send,
        .transport_ctx = f,
    };
    return o;
}

static struct wx_client *new_client(struct fake *f)
{
    struct wx_client_options o = fake_opts(f);
    struct wx_client *cl = NULL;
    assert_int_equal(wx_client_new(&o, &cl, NULL), 0);
    return cl;
}

/* --- pure functions ------------------------------------------------------------- */

static void test_errcode_mapping(void **state)
{
    (void)state;
    static const struct {
        long code;
        int be;
    } cases[] = {
        {0, BE_OK},
        {-1, BE_UPSTREAM},
        {40001, BE_UPSTREAM},
        {42001, BE_UPSTREAM},
        {40013, BE_UPSTREAM},
        {61004, BE_UPSTREAM},
        {61005, BE_UPSTREAM},
        {45009, BE_RATE_LIMITED},
        {45011, BE_RATE_LIMITED},
        {61009, BE_INVALID_PARAMETER_VALUE},
        {61010, BE_INVALID_PARAMETER_VALUE},
        {40097, BE_INVALID_PARAMETER_VALUE},
        {40170, BE_INVALID_PARAMETER_VALUE},
        {61003, BE_FAILED},
        {61023, BE_FAILED},
        {61007, BE_FAILED},
        {47001, BE_INTERNAL},
        {99999, BE_UPSTREAM},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        if (wx_errcode_to_be(cases[i].code) != cases[i].be)
            print_error("errcode %ld -> %s, want %s\n", cases[i].code,
                        be_err_code(wx_errcode_to_be(cases[i].code)), be_err_code(cases[i].be));
        assert_int_equal(wx_errcode_to_be(cases[i].code), cases[i].be);
    }
    assert_string_equal(wx_errcode_text(61010), "code is expired");
    assert_string_equal(wx_errcode_text(12345), "error");
    assert_true(wx_errcode_is_token_error(40001));
    assert_true(wx_errcode_is_token_error(40014));
    assert_true(wx_errcode_is_token_error(42001));
    assert_false(wx_errcode_is_token_error(41001));
    assert_false(wx_errcode_is_token_error(61003));
    assert_true(wx_errcode_is_revocation_signal(61003));
    assert_true(wx_errcode_is_revocation_signal(61023));
    assert_false(wx_errcode_is_revocation_signal(40001));
}

static void test_retry_decisions(void **state)
{
    (void)state;
    assert_true(wx_client_should_retry(BE_UPSTREAM, 0, 0));
    assert_false(wx_client_should_retry(BE_BODY_TOO_LARGE, 0, 0));
    assert_true(wx_client_should_retry(0, 500, 0));
    assert_true(wx_client_should_retry(0, 503, 0));
    assert_true(wx_client_should_retry(0, 200, -1));
    assert_false(wx_client_should_retry(0, 200, 0));
    assert_false(wx_client_should_retry(0, 404, 0));
    assert_false(wx_client_should_retry(0, 429, 0));
    assert_false(wx_client_should_retry(0, 200, 45009));
    assert_false(wx_client_should_retry(0, 200, 40001));
    for (uint64_t rnd = 0; rnd < 2000; rnd += 7) {
        unsigned a = wx_client_backoff_ms(200, 1, rnd), b = wx_client_backoff_ms(200, 2, rnd);
        unsigned c = wx_client_backoff_ms(200, 20, rnd);
        assert_in_range(a, 100, 200);
        assert_in_range(b, 400, 800);
        assert_in_range(c, 15000, 30000);
    }
    assert_in_range(wx_client_backoff_ms(0, 1, 12345), 0, 1);
}

static void test_token_decide(void **state)
{
    (void)state;
    int64_t now = 1700000000;
    struct wx_token_state fresh = {true, true, now + 7000, 3, 0, 0};
    assert_int_equal(wx_token_decide(&fresh, now, -1, now), WX_TOKEN_USE);
    /* stale generation: a new one is needed */
    assert_int_equal(wx_token_decide(&fresh, now, 3, now), WX_TOKEN_REFRESH);
    assert_int_equal(wx_token_decide(&fresh, now, 2, now), WX_TOKEN_USE);
    /* less than 10 minutes left: refresh, unless someone else is at it */
    struct wx_token_state ahead = {true, true, now + 500, 3, 0, 0};
    assert_int_equal(wx_token_decide(&ahead, now, -1, now), WX_TOKEN_REFRESH);
    ahead.lease_until = now + 30;
    assert_int_equal(wx_token_decide(&ahead, now, -1, now), WX_TOKEN_USE);
    /* nearly expired: never handed out */
    struct wx_token_state dying = {true, true, now + 10, 3, now + 30, 0};
    assert_int_equal(wx_token_decide(&dying, now, -1, now), WX_TOKEN_WAIT);
    dying.lease_until = 0;
    assert_int_equal(wx_token_decide(&dying, now, -1, now), WX_TOKEN_REFRESH);
    /* no token at all */
    struct wx_token_state none = {true, false, 0, 0, 0, 0};
    assert_int_equal(wx_token_decide(&none, now, -1, now), WX_TOKEN_REFRESH);
    none.has_ticket = false;
    assert_int_equal(wx_token_decide(&none, now, -1, now), WX_TOKEN_FAIL);
    /* a failure we waited for, or a recent one: fail, or use what is left */
    struct wx_token_state failed = {true, false, 0, 0, 0, now - 5};
    assert_int_equal(wx_token_decide(&failed, now, -1, now), WX_TOKEN_FAIL);
    assert_int_equal(wx_token_decide(&failed, now, -1, now - 10), WX_TOKEN_FAIL);
    failed.failed_at = now - WX_COMPONENT_RETRY_AFTER - 1;
    assert_int_equal(wx_token_decide(&failed, now, -1, now), WX_TOKEN_REFRESH);
    struct wx_token_state failed_usable = {true, true, now + 300, 3, 0, now - 5};
    assert_int_equal(wx_token_decide(&failed_usable, now, -1, now), WX_TOKEN_USE);
}

/* --- the client against scripted answers ------------------------------------- */

static void test_client_new(void **state)
{
    (void)state;
    const char *bad[] = {NULL,           "",          "ftp://x", "api.weixin.qq.com", "http://a b",
                         "http://x?q=1", "http://x#f"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct wx_client_options o = {.base_url = bad[i]};
        struct wx_client *cl = NULL;
        struct be_diag d = {""};
        assert_int_equal(wx_client_new(&o, &cl, &d), BE_INVALID_PARAMETER);
        assert_non_null(strstr(d.msg, "wechat.api_base_url"));
    }
    struct wx_client_options o = {.base_url = "https://api.weixin.qq.com",
                                  .max_attempts = WX_CLIENT_ATTEMPTS_LIMIT + 1};
    struct wx_client *cl = NULL;
    assert_int_equal(wx_client_new(&o, &cl, NULL), BE_INVALID_PARAMETER);
}

static void test_urls_and_bodies(void **state)
{
    (void)state;
    struct fake f;
    fake_init(&f);
    struct wx_client *cl = new_client(&f);
    struct wx_preauthcode pac;
    struct wx_result res;
    fake_push(&f, 0, 200, "{\"pre_auth_code\":\"preauthcode@@@Hn-1\",\"expires_in\":1800}");
    assert_int_equal(wx_client_create_preauthcode(cl, "83_a@b/c", APPID, &pac, &res, NULL), 0);
    assert_string_equal(f.last_url, "http://wechat.test/cgi-bin/component/api_create_preauthcode"
                                    "?component_access_token=83_a%40b%2Fc");
    assert_string_equal(f.last_body, "{\"component_appid\":\"" APPID "\"}");
    assert_string_equal(pac.pre_auth_code, "preauthcode@@@Hn-1");
    assert_int_equal(pac.expires_in, 1800);
    assert_int_equal(res.kind, WX_FAIL_NONE);
    assert_int_equal(res.attempts, 1);
    assert_int_equal(res.http_status, 200);

    /* no token parameter, and every value escaped */
    struct wx_component_token tok;
    assert_int_equal(wx_client_component_token(cl, APPID, "se\"cr\\et", TICKET, &tok, &res, NULL),
                     0);
    assert_string_equal(f.last_url, "http://wechat.test/cgi-bin/component/api_component_token");
    assert_string_equal(f.last_body,
                        "{\"component_appid\":\"" APPID "\",\"component_appsecret\":"
                        "\"se\\\"cr\\\\et\",\"component_verify_ticket\":\"" TICKET "\"}");
    assert_string_equal(tok.access_token, TOKEN "-1");
    assert_int_equal(tok.expires_in, 7200);

    /* api_start_push_ticket names the secret component_secret */
    fake_push(&f, 0, 200, "{\"errcode\":0,\"errmsg\":\"ok\"}");
    assert_int_equal(wx_client_start_push_ticket(cl, APPID, SECRET, &res, NULL), 0);
    assert_string_equal(f.last_body,
                        "{\"component_appid\":\"" APPID "\",\"component_secret\":\"" SECRET "\"}");
    assert_string_equal(res.errmsg, "ok");
    wx_client_free(cl);

    /* the newer parameter name */
    struct wx_client_options o = fake_opts(&f);
    o.token_param = WX_TOKEN_PARAM_ACCESS_TOKEN;
    o.base_url = "http://wechat.test/emu//";
    assert_int_equal(wx_client_new(&o, &cl, NULL), 0);
    struct wx_authorizer_list list = {0, 0, NULL};
    fake_push(&f, 0, 200, "{\"total_count\":0,\"list\":[]}");
    assert_int_equal(wx_client_get_authorizer_list(cl, "T", APPID, 0, 500, &list, &res, NULL), 0);
    assert_string_equal(f.last_url,
                        "http://wechat.test/emu/cgi-bin/component/api_get_authorizer_list"
                        "?access_token=T");
    assert_string_equal(f.last_body,
                        "{\"component_appid\":\"" APPID "\",\"offset\":0,\"count\":500}");
    wx_authorizer_list_release(&list);
    wx_client_free(cl);
}

#define QUERY_AUTH_OK                                                                              \
    "{\"authorization_info\":{\"authorizer_appid\":\"wxfedcba9876543210\","                        \
    "\"authorizer_access_token\":\"83_Q7\",\"expires_in\":7200,"                                   \
    "\"authorizer_refresh_token\":\"refreshtoken@@@3fK\",\"func_info\":["                          \
    "{\"funcscope_category\":{\"id\":17}},{\"funcscope_category\":{\"id\":18},"                    \
    "\"confirm_info\":{\"need_confirm\":0,\"already_confirm\":0,\"can_confirm\":0}}]}}"

static void test_query_auth(void **state)
{
    (void)state;
    struct fake f;
    fake_init(&f);
    struct wx_client *cl = new_client(&f);
    struct wx_authorization a;
    struct wx_result res;
    fake_push(&f, 0, 200, QUERY_AUTH_OK);
    assert_int_equal(wx_client_query_auth(cl, "T", APPID, "queryauthcode@@@x", &a, &res, NULL), 0);
    assert_string_equal(a.authorizer_appid, "wxfedcba9876543210");
    assert_string_equal(a.authorizer_access_token, "83_Q7");
    assert_string_equal(a.authorizer_refresh_token, "refreshtoken@@@3fK");
    assert_int_equal(a.expires_in, 7200);
    assert_int_equal(a.nfunc, 2);
    assert_int_equal(a.func_ids[0], 17);
    assert_int_equal(a.func_ids[1], 18);
    assert_non_null(strstr(f.last_body, "\"authorization_code\":\"queryauthcode@@@x\""));

    /* errors: WeChat's, then answers that are not what the spec says */
    struct be_diag d = {""};
    fake_push(&f, 0, 200, "{\"errcode\":61010,\"errmsg\":\"code is expired rid: 1-2-3\"}");
    assert_int_equal(wx_client_query_auth(cl, "T", APPID, "c", &a, &res, &d),
                     BE_INVALID_PARAMETER_VALUE);
    assert_int_equal(res.kind, WX_FAIL_ERRCODE);
    assert_int_equal(res.errcode, 61010);
    assert_string_equal(res.errmsg, "code is expired rid: 1-2-3");
    assert_string_equal(d.msg, "api_query_auth: code is expired (61010)");
    const char *bad[] = {
        "[]",
        "not json",
        "{\"authorization_info\":{}}",
        "{\"authorization_info\":{\"authorizer_appid\":17}}",
        "{\"authorization_info\":{\"authorizer_appid\":\"wx1\",\"func_info\":{}}}",
        "{\"authorization_info\":{\"authorizer_appid\":\"wx 1\"}}",
        "{\"authorization_info\":{\"authorizer_appid\":\"wx1\",\"expires_in\":-5}}",
        "{\"errcode\":\"40001\"}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        fake_push(&f, 0, 200, bad[i]);
        int rc = wx_client_query_auth(cl, "T", APPID, "c", &a, &res, NULL);
        if (rc != BE_UPSTREAM || res.kind != WX_FAIL_BAD_RESPONSE)
            print_error("answer %s: rc %d kind %d\n", bad[i], rc, (int)res.kind);
        assert_int_equal(rc, BE_UPSTREAM);
        assert_int_equal(res.kind, WX_FAIL_BAD_RESPONSE);
        assert_int_equal(res.attempts, 1);
    }
    /* a token over its ceiling is refused, not cut */
    struct buf big = BUF_INIT;
    buf_adds(&big, "{\"authorization_info\":{\"authorizer_appid\":\"wx1\","
                   "\"authorizer_refresh_token\":\"");
    for (int i = 0; i < WX_TOKEN_MAX + 1; i++)
        buf_addch(&big, 'r');
    buf_adds(&big, "\"}}");
    fake_push(&f, 0, 200, big.data);
    assert_int_equal(wx_client_query_auth(cl, "T", APPID, "c", &a, &res, &d), BE_UPSTREAM);
    assert_non_null(strstr(d.msg, "authorizer_refresh_token"));
    /* arguments are checked before anything is sent */
    unsigned calls = f.calls;
    assert_int_equal(wx_client_query_auth(cl, NULL, APPID, "c", &a, &res, &d),
                     BE_MISSING_PARAMETER);
    assert_int_equal(wx_client_query_auth(cl, "T", APPID, "", &a, &res, &d), BE_MISSING_PARAMETER);
    assert_int_equal(wx_client_query_auth(cl, "T", APPID, "a\nb", &a, &res, &d),
                     BE_INVALID_PARAMETER_VALUE);
    assert_int_equal(res.kind, WX_FAIL_ARGUMENT);
    assert_int_equal(f.calls, calls);
    buf_release(&big);
    wx_client_free(cl);
}

#define INFO_OA                                                                                    \
    "{\"authorizer_info\":{\"nick_name\":\"Emulator Demo OA\",\"head_img\":"                       \
    "\"http://wx.qlogo.cn/mmopen/emu/0\",\"service_type_info\":{\"id\":2},"                        \
    "\"verify_type_info\":{\"id\":0},\"user_name\":\"gh_0a1b2c3d4e5f\",\"alias\":\"emudemo\","     \
    "\"qrcode_url\":\"http://mmbiz.qpic.cn/emu/qr.jpg\",\"business_info\":{\"open_store\":0},"     \
    "\"idc\":1,\"principal_name\":\"Example Co., Ltd.\",\"signature\":\"\",\"register_type\":0,"   \
    "\"account_status\":1,\"basic_config\":{\"is_phone_configured\":true}},"                       \
    "\"authorization_info\":{\"authorizer_appid\":\"wxfedcba9876543210\","                         \
    "\"authorizer_refresh_token\":\"refreshtoken@@@3fK\",\"func_info\":["                          \
    "{\"funcscope_category\":{\"id\":1}},{\"funcscope_category\":{\"id\":2}}]}}"

#define INFO_MP_OLD                                                                                \
    "{\"authorizer_info\":{\"nick_name\":\"\xe5\xb0\x8f\xe7\xa8\x8b\xe5\xba\x8f\","                \
    "\"service_type_info\":{\"id\":0},\"verify_type_info\":{\"id\":-1},"                           \
    "\"MiniProgramInfo\":{\"network\":{\"RequestDomain\":[]},\"categories\":[],"                   \
    "\"visit_status\":0}},\"authorization_info\":{\"appid\":\"wx1111111111111111\"}}"

static void test_authorizer_info(void **state)
{
    (void)state;
    struct fake f;
    fake_init(&f);
    struct wx_client *cl = new_client(&f);
    struct wx_authorizer_info *i = xcalloc(1, sizeof(*i));
    struct wx_result res;
    fake_push(&f, 0, 200, INFO_OA);
    assert_int_equal(
        wx_client_get_authorizer_info(cl, "T", APPID, "wxfedcba9876543210", i, &res, NULL), 0);
    assert_string_equal(i->nick_name, "Emulator Demo OA");
    assert_string_equal(i->user_name, "gh_0a1b2c3d4e5f");
    assert_string_equal(i->principal_name, "Example Co., Ltd.");
    assert_int_equal(i->service_type, 2);
    assert_int_equal(i->verify_type, 0);
    assert_int_equal(i->account_status, 1);
    assert_false(i->is_mini_program);
    assert_string_equal(i->authorization.authorizer_appid, "wxfedcba9876543210");
    assert_string_equal(i->authorization.authorizer_refresh_token, "refreshtoken@@@3fK");
    assert_string_equal(i->authorization.authorizer_access_token, "");
    assert_int_equal(i->authorization.nfunc, 2);

    fake_push(&f, 0, 200, INFO_MP_OLD);
    assert_int_equal(
        wx_client_get_authorizer_info(cl, "T", APPID, "wx1111111111111111", i, &res, NULL), 0);
    assert_true(i->is_mini_program);
    assert_string_equal(i->nick_name, "\xe5\xb0\x8f\xe7\xa8\x8b\xe5\xba\x8f");
    assert_int_equal(i->verify_type, -1);
    assert_int_equal(i->account_status, -1);
    assert_string_equal(i->authorization.authorizer_appid, "wx1111111111111111");

    /* a revoked authorization: the raw errcode reaches the caller */
    fake_push(&f, 0, 200,
              "{\"errcode\":61003,\"errmsg\":\"component is not authorized by this account "
              "rid: 6565-1-2\"}");
    assert_int_equal(wx_client_get_authorizer_info(cl, "T", APPID, "wx1", i, &res, NULL),
                     BE_FAILED);
    assert_int_equal(res.errcode, 61003);
    assert_true(wx_errcode_is_revocation_signal(res.errcode));
    free(i);
    wx_client_free(cl);
}

static void test_authorizer_token_and_list(void **state)
{
    (void)state;
    struct fake f;
    fake_init(&f);
    struct wx_client *cl = new_client(&f);
    struct wx_authorizer_token t;
    struct wx_result res;
    fake_push(&f, 0, 200,
              "{\"authorizer_access_token\":\"83_Z1\",\"expires_in\":7200,"
              "\"authorizer_refresh_token\":\"refreshtoken@@@3fK\"}");
    assert_int_equal(wx_client_authorizer_token(cl, "T", APPID, "wxfedcba9876543210",
                                                "refreshtoken@@@3fK", &t, &res, NULL),
                     0);
    assert_string_equal(t.authorizer_access_token, "83_Z1");
    assert_string_equal(t.authorizer_refresh_token, "refreshtoken@@@3fK");
    assert_non_null(strstr(f.last_body, "\"authorizer_refresh_token\":\"refreshtoken@@@3fK\""));
    fake_push(&f, 0, 200, "{\"errcode\":61023,\"errmsg\":\"refresh_token is invalid\"}");
    assert_int_equal(wx_client_authorizer_token(cl, "T", APPID, "wx1", "r", &t, &res, NULL),
                     BE_FAILED);
    assert_int_equal(res.errcode, 61023);

    struct wx_authorizer_list list = {0, 0, NULL};
    fake_push(&f, 0, 200,
              "{\"total_count\":2,\"list\":[{\"authorizer_appid\":\"wxfedcba9876543210\","
              "\"refresh_token\":\"refreshtoken@@@3fK\",\"auth_time\":1700000300},"
              "{\"authorizer_appid\":\"wx1111111111111111\",\"refresh_token\":"
              "\"refreshtoken@@@9aB\",\"auth_time\":1690000000}]}");
    assert_int_equal(wx_client_get_authorizer_list(cl, "T", APPID, 0, 100, &list, &res, NULL), 0);
    assert_int_equal(list.total_count, 2);
    assert_int_equal(list.n, 2);
    assert_string_equal(list.items[1].authorizer_appid, "wx1111111111111111");
    assert_string_equal(list.items[1].refresh_token, "refreshtoken@@@9aB");
    assert_int_equal(list.items[0].auth_time, 1700000300);
    wx_authorizer_list_release(&list);
    assert_null(list.items);
    /* count over 500 is refused here; a list over 500 from upstream too */
    unsigned calls = f.calls;
    assert_int_equal(wx_client_get_authorizer_list(cl, "T", APPID, 0, 501, &list, &res, NULL),
                     BE_INVALID_PARAMETER_VALUE);
    assert_int_equal(wx_client_get_authorizer_list(cl, "T", APPID, -1, 5, &list, &res, NULL),
                     BE_INVALID_PARAMETER_VALUE);
    assert_int_equal(f.calls, calls);
    struct buf big = BUF_INIT;
    buf_adds(&big, "{\"total_count\":501,\"list\":[");
    for (int i = 0; i <= WX_AUTHORIZER_LIST_MAX; i++)
        buf_addf(&big, "%s{\"authorizer_appid\":\"wx%d\"}", i ? "," : "", i);
    buf_adds(&big, "]}");
    fake_push(&f, 0, 200, big.data);
    assert_int_equal(wx_client_get_authorizer_list(cl, "T", APPID, 0, 500, &list, &res, NULL),
                     BE_UPSTREAM);
    assert_int_equal(res.kind, WX_FAIL_BAD_RESPONSE);
    assert_null(list.items);
    buf_release(&big);
    wx_client_free(cl);
}

static void test_retries(void **state)
{
    (void)state;
    struct fake f;
    fake_init(&f);
    struct wx_client *cl = new_client(&f);
    struct wx_preauthcode pac;
    struct wx_result res;
    struct be_diag d = {""};
    const char *ok = "{\"pre_auth_code\":\"preauthcode@@@1\",\"expires_in\":1800}";

    /* -1, then a network error, then success: three attempts */
    fake_push(&f, 0, 200, "{\"errcode\":-1,\"errmsg\":\"system error\"}");
    fake_push(&f, BE_UPSTREAM, 0, NULL);
    fake_push(&f, 0, 200, ok);
    assert_int_equal(wx_client_create_preauthcode(cl, "T", APPID, &pac, &res, NULL), 0);
    assert_int_equal(res.attempts, 3);
    assert_int_equal(res.kind, WX_FAIL_NONE);

    /* 5xx three times: the last failure is reported */
    for (int i = 0; i < 3; i++)
        fake_push(&f, 0, 502, "<html>bad gateway</html>");
    assert_int_equal(wx_client_create_preauthcode(cl, "T", APPID, &pac, &res, &d), BE_UPSTREAM);
    assert_int_equal(res.attempts, 3);
    assert_int_equal(res.kind, WX_FAIL_HTTP);
    assert_int_equal(res.http_status, 502);
    assert_string_equal(d.msg, "api_create_preauthcode: HTTP status 502");

    /* not retried: other statuses, business errors, token errors, huge answers */
    struct answer once[] = {{0, 404, "nope"},
                            {0, 200, "{\"errcode\":45009,\"errmsg\":\"quota\"}"},
                            {0, 200, "{\"errcode\":40001,\"errmsg\":\"invalid credential\"}"},
                            {BE_BODY_TOO_LARGE, 0, NULL}};
    for (size_t i = 0; i < sizeof(once) / sizeof(once[0]); i++) {
        fake_push(&f, once[i].rc, once[i].status, once[i].body);
        fake_push(&f, 0, 200, ok);
        assert_int_not_equal(wx_client_create_preauthcode(cl, "T", APPID, &pac, &res, &d), 0);
        assert_int_equal(res.attempts, 1);
        assert_int_equal(wx_client_create_preauthcode(cl, "T", APPID, &pac, &res, &d), 0);
    }
    /* the diag never shows the token */
    fake_push(&f, BE_UPSTREAM, 0, NULL);
    fake_push(&f, BE_UPSTREAM, 0, NULL);
    fake_push(&f, BE_UPSTREAM, 0, NULL);
    assert_int_equal(wx_client_create_preauthcode(cl, "SECRET_TOKEN", APPID, &pac, &res, &d),
                     BE_UPSTREAM);
    assert_int_equal(res.kind, WX_FAIL_NETWORK);
    assert_null(strstr(d.msg, "SECRET_TOKEN"));
    wx_client_free(cl);
}

/* The libcurl transport against a port nobody listens on. */
static void test_curl_network_error(void **state)
{
    (void)state;
    struct wx_client_options o = {.base_url = "http://127.0.0.1:9",
                                  .max_attempts = 2,
                                  .backoff_ms = 1,
                                  .connect_timeout_ms = 2000,
                                  .timeout_ms = 2000};
    struct wx_client *cl = NULL;
    struct wx_preauthcode pac;
    struct wx_result res;
    struct be_diag d = {""};
    assert_int_equal(wx_client_new(&o, &cl, NULL), 0);
    assert_int_equal(wx_client_create_preauthcode(cl, "T0KEN", APPID, &pac, &res, &d), BE_UPSTREAM);
    assert_int_equal(res.kind, WX_FAIL_NETWORK);
    assert_int_equal(res.attempts, 2);
    assert_non_null(strstr(d.msg, "network error"));
    assert_null(strstr(d.msg, "T0KEN"));
    wx_client_free(cl);
}

/* --- the component against a real store ------------------------------------------- */

struct ctest {
    struct test_app t;
    struct fake f;
    struct wx_component *c;
};

static void set_str(char **field, const char *value)
{
    free(*field);
    *field = xstrdup(value);
}

static int setup(void **state)
{
    struct ctest *x = xcalloc(1, sizeof(*x));
    if (test_app_open(&x->t))
        return -1;
    set_str(&x->t.cfg->wechat_component_appid, APPID);
    set_str(&x->t.cfg->wechat_component_appsecret, SECRET);
    fake_init(&x->f);
    struct wx_client_options o = fake_opts(&x->f);
    struct be_diag d = {""};
    if (wx_component_new(&x->t.app, &o, &x->c, &d)) {
        fprintf(stderr, "wx_component_new: %s\n", d.msg);
        return -1;
    }
    *state = x;
    return 0;
}

static int teardown(void **state)
{
    struct ctest *x = *state;
    wx_component_free(x->c);
    test_app_close(&x->t);
    free(x);
    return 0;
}

struct sql_ctx {
    const char *sql;
    int64_t a;
};

static int sql_fn(struct store_conn *c, void *arg)
{
    struct sql_ctx *s = arg;
    return store_exec(c, s->sql, SV_ARGS(SV_I64(s->a)), NULL);
}

/* Runs an UPDATE with one integer parameter. */
static void sql1(struct ctest *x, const char *sql, int64_t a)
{
    struct sql_ctx s = {sql, a};
    assert_int_equal(store_run(x->t.app.store, sql_fn, &s), 0);
}

static void test_component_disabled(void **state)
{
    struct ctest *x = *state;
    set_str(&x->t.cfg->wechat_component_appsecret, "");
    struct wx_component *c = NULL;
    struct wx_token tok;
    struct be_diag d = {""};
    assert_int_equal(wx_component_new(&x->t.app, NULL, &c, NULL), 0);
    assert_non_null(strstr(wx_component_disabled_reason(c), "wechat.component_appsecret"));
    assert_int_equal(wx_component_token(c, NULL, &tok, NULL, &d), BE_FAILED);
    assert_int_equal(wx_component_start_push_ticket(c, NULL, NULL), BE_FAILED);
    wx_component_free(c);
    set_str(&x->t.cfg->wechat_component_appid, "");
    assert_int_equal(wx_component_new(&x->t.app, NULL, &c, NULL), 0);
    assert_non_null(strstr(wx_component_disabled_reason(c), "wechat.component_appid"));
    wx_component_free(c);
    set_str(&x->t.cfg->wechat_component_appid, APPID);
    set_str(&x->t.cfg->wechat_component_appsecret, SECRET);
    assert_null(wx_component_disabled_reason(x->c));
    assert_string_equal(wx_component_appid(x->c), APPID);
}

static void test_ticket_and_token(void **state)
{
    struct ctest *x = *state;
    struct wx_token tok;
    struct wx_result res;
    struct be_diag d = {""};
    struct wx_component_status st;
    int64_t now = time_now();

    /* no ticket yet: nothing to refresh with */
    assert_int_equal(wx_component_token(x->c, NULL, &tok, &res, &d), BE_UPSTREAM);
    assert_non_null(strstr(d.msg, "component_verify_ticket"));
    assert_int_equal(x->f.calls, 0);

    assert_int_equal(wx_component_save_ticket(&x->t.app, TICKET, now - 60, now), 0);
    /* an older ticket does not replace it */
    assert_int_equal(wx_component_save_ticket(&x->t.app, "ticket@@@older", now - 600, now), 0);
    assert_int_equal(wx_component_status(&x->t.app, &st), 0);
    assert_true(st.has_ticket);
    assert_int_equal(st.ticket_create_time, now - 60);
    assert_false(st.has_token);

    assert_int_equal(wx_component_token(x->c, NULL, &tok, &res, &d), 0);
    assert_string_equal(tok.value, TOKEN "-1");
    assert_int_equal(tok.generation, 1);
    assert_in_range(tok.expires_at, now + 7200 - 5, now + 7200 + 5);
    assert_int_equal(x->f.token_calls, 1);
    assert_non_null(strstr(x->f.token_body, "\"component_verify_ticket\":\"" TICKET "\""));
    assert_non_null(strstr(x->f.token_body, "\"component_appsecret\":\"" SECRET "\""));

    /* cached: no new request */
    assert_int_equal(wx_component_token(x->c, NULL, &tok, &res, &d), 0);
    assert_string_equal(tok.value, TOKEN "-1");
    assert_int_equal(x->f.token_calls, 1);
    assert_int_equal(wx_component_status(&x->t.app, &st), 0);
    assert_true(st.has_token);
    assert_int_equal(st.token_generation, 1);

    /* under 10 minutes left: refreshed with the newest ticket */
    assert_int_equal(wx_component_save_ticket(&x->t.app, "ticket@@@newer", now, now), 0);
    sql1(x, "UPDATE wechat_component SET token_expires_at = $1", now + 500);
    assert_int_equal(wx_component_token(x->c, NULL, &tok, &res, &d), 0);
    assert_string_equal(tok.value, TOKEN "-2");
    assert_int_equal(tok.generation, 2);
    assert_int_equal(x->f.token_calls, 2);
    assert_non_null(strstr(x->f.token_body, "ticket@@@newer"));

    /* a stale token: a new one, once */
    struct wx_token stale = tok;
    assert_int_equal(wx_component_token(x->c, &stale, &tok, &res, &d), 0);
    assert_string_equal(tok.value, TOKEN "-3");
    assert_int_equal(x->f.token_calls, 3);
    /* somebody else already replaced the stale one: no request */
    assert_int_equal(wx_component_token(x->c, &stale, &tok, &res, &d), 0);
    assert_string_equal(tok.value, TOKEN "-3");
    assert_int_equal(x->f.token_calls, 3);

    /* another instance holds the lease: the current token is still used */
    sql1(x, "UPDATE wechat_component SET token_expires_at = $1", now + 300);
    sql1(x, "UPDATE wechat_component SET refresh_until = $1", now + 60);
    assert_int_equal(wx_component_token(x->c, NULL, &tok, &res, &d), 0);
    assert_string_equal(tok.value, TOKEN "-3");
    assert_int_equal(x->f.token_calls, 3);
}

static int count_sealed_plaintext(struct store_conn *c, void *arg)
{
    struct store_result *r = NULL;
    int rc =
        store_query(c, "SELECT ticket_sealed, token_sealed FROM wechat_component", NULL, 0, &r);
    assert_int_equal(rc, 0);
    assert_int_equal(store_result_rows(r), 1);
    for (size_t col = 0; col < 2; col++) {
        size_t len;
        const unsigned char *p = store_result_blob(r, 0, col, &len);
        assert_non_null(p);
        for (size_t i = 0; i + 3 <= len; i++)
            *(int *)arg += !memcmp(p + i, "83_", 3) || !memcmp(p + i, "@@@", 3);
    }
    store_result_free(r);
    return 0;
}

static void test_sealed_at_rest(void **state)
{
    struct ctest *x = *state;
    struct wx_token tok;
    int64_t now = time_now();
    assert_int_equal(wx_component_save_ticket(&x->t.app, TICKET, now, now), 0);
    assert_int_equal(wx_component_token(x->c, NULL, &tok, NULL, NULL), 0);
    int hits = 0;
    assert_int_equal(store_run(x->t.app.store, count_sealed_plaintext, &hits), 0);
    assert_int_equal(hits, 0);
}

static void test_refresh_failure(void **state)
{
    struct ctest *x = *state;
    struct wx_token tok;
    struct wx_result res;
    struct be_diag d = {""};
    int64_t now = time_now();
    assert_int_equal(wx_component_save_ticket(&x->t.app, TICKET, now - 50000, now), 0);
    fake_push(&x->f, 0, 200, "{\"errcode\":61005,\"errmsg\":\"component ticket is expired\"}");
    assert_int_equal(wx_component_token(x->c, NULL, &tok, &res, &d), BE_UPSTREAM);
    assert_int_equal(res.errcode, 61005);
    assert_int_equal(x->f.token_calls, 1);
    /* others report the failure instead of repeating it */
    assert_int_equal(wx_component_token(x->c, NULL, &tok, &res, &d), BE_UPSTREAM);
    assert_int_equal(res.errcode, 61005);
    assert_int_equal(res.kind, WX_FAIL_ERRCODE);
    assert_non_null(strstr(d.msg, "component ticket is expired"));
    assert_int_equal(x->f.token_calls, 1);
    /* a new ticket lifts the pause */
    assert_int_equal(wx_component_save_ticket(&x->t.app, "ticket@@@fresh", now, now), 0);
    assert_int_equal(wx_component_token(x->c, NULL, &tok, &res, &d), 0);
    assert_int_equal(x->f.token_calls, 2);
    assert_non_null(strstr(x->f.token_body, "ticket@@@fresh"));
}

static void test_retry_once(void **state)
{
    struct ctest *x = *state;
    struct wx_preauthcode pac;
    struct wx_result res;
    struct be_diag d = {""};
    int64_t now = time_now();
    assert_int_equal(wx_component_save_ticket(&x->t.app, TICKET, now, now), 0);

    /* 42001 -> new token -> retried once -> success */
    fake_push(&x->f, 0, 200, "{\"component_access_token\":\"" TOKEN "-a\",\"expires_in\":7200}");
    fake_push(&x->f, 0, 200, "{\"errcode\":42001,\"errmsg\":\"access_token expired\"}");
    fake_push(&x->f, 0, 200, "{\"component_access_token\":\"" TOKEN "-b\",\"expires_in\":7200}");
    fake_push(&x->f, 0, 200, "{\"pre_auth_code\":\"preauthcode@@@2\",\"expires_in\":1800}");
    assert_int_equal(wx_component_create_preauthcode(x->c, &pac, &res, &d), 0);
    assert_true(res.token_refreshed);
    assert_string_equal(pac.pre_auth_code, "preauthcode@@@2");
    assert_int_equal(x->f.token_calls, 2);
    assert_non_null(strstr(x->f.last_url, "component_access_token=" TOKEN "-b"));

    /* 40001 twice: one retry only, the error is reported */
    fake_push(&x->f, 0, 200, "{\"errcode\":40001,\"errmsg\":\"invalid credential\"}");
    fake_push(&x->f, 0, 200, "{\"component_access_token\":\"" TOKEN "-c\",\"expires_in\":7200}");
    fake_push(&x->f, 0, 200, "{\"errcode\":40001,\"errmsg\":\"invalid credential\"}");
    unsigned calls = x->f.calls;
    assert_int_equal(wx_component_create_preauthcode(x->c, &pac, &res, &d), BE_UPSTREAM);
    assert_int_equal(res.errcode, 40001);
    assert_true(res.token_refreshed);
    assert_int_equal(x->f.calls, calls + 3);

    /* other errors are not retried with a new token */
    fake_push(&x->f, 0, 200, "{\"errcode\":61003,\"errmsg\":\"not authorized\"}");
    struct wx_authorizer_info *info = xcalloc(1, sizeof(*info));
    calls = x->f.calls;
    assert_int_equal(wx_component_get_authorizer_info(x->c, "wx1", info, &res, &d), BE_FAILED);
    assert_int_equal(res.errcode, 61003);
    assert_false(res.token_refreshed);
    assert_int_equal(x->f.calls, calls + 1);
    free(info);

    /* the other wrappers send the cached token and the configured appid */
    struct wx_authorization a;
    fake_push(&x->f, 0, 200, QUERY_AUTH_OK);
    assert_int_equal(wx_component_query_auth(x->c, "queryauthcode@@@1", &a, &res, &d), 0);
    assert_non_null(strstr(x->f.last_url, "/api_query_auth?component_access_token=" TOKEN "-c"));
    assert_non_null(strstr(x->f.last_body, "\"component_appid\":\"" APPID "\""));
    struct wx_authorizer_token at;
    fake_push(&x->f, 0, 200, "{\"authorizer_access_token\":\"83_Z\",\"expires_in\":7200}");
    assert_int_equal(wx_component_authorizer_token(x->c, "wx1", "refreshtoken@@@1", &at, &res, &d),
                     0);
    assert_string_equal(at.authorizer_refresh_token, "");
    struct wx_authorizer_list list = {0, 0, NULL};
    fake_push(&x->f, 0, 200, "{\"total_count\":0}");
    assert_int_equal(wx_component_get_authorizer_list(x->c, 0, 10, &list, &res, &d), 0);
    wx_authorizer_list_release(&list);
    fake_push(&x->f, 0, 200, "{\"errcode\":0,\"errmsg\":\"ok\"}");
    assert_int_equal(wx_component_start_push_ticket(x->c, &res, &d), 0);
    assert_non_null(strstr(x->f.last_body, "\"component_secret\":\"" SECRET "\""));
}

/* Several threads and two components (as two instances would be) need a
 * token at once: exactly one api_component_token call is made. */
struct racer {
    struct wx_component *c;
    struct wx_token tok;
    int rc;
};

static void *race(void *arg)
{
    struct racer *r = arg;
    r->rc = wx_component_token(r->c, NULL, &r->tok, NULL, NULL);
    return NULL;
}

static void test_single_refresher(void **state)
{
    struct ctest *x = *state;
    struct wx_component *other = NULL;
    struct wx_client_options o = fake_opts(&x->f);
    int64_t now = time_now();
    assert_int_equal(wx_component_new(&x->t.app, &o, &other, NULL), 0);
    assert_int_equal(wx_component_save_ticket(&x->t.app, TICKET, now, now), 0);
    x->f.delay_ms = 300;
    enum { N = 8 };
    struct racer r[N];
    pthread_t th[N];
    for (int i = 0; i < N; i++) {
        r[i].c = i % 2 ? other : x->c;
        assert_int_equal(pthread_create(&th[i], NULL, race, &r[i]), 0);
    }
    for (int i = 0; i < N; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < N; i++) {
        assert_int_equal(r[i].rc, 0);
        assert_string_equal(r[i].tok.value, TOKEN "-1");
    }
    assert_int_equal(x->f.token_calls, 1);
    wx_component_free(other);
}

static void test_refresh_token_seal(void **state)
{
    struct ctest *x = *state;
    struct buf sealed = BUF_INIT;
    char out[WX_TOKEN_MAX + 1];
    wx_seal_refresh_token(&x->t.app, "wxfedcba9876543210", "refreshtoken@@@3fK", &sealed);
    assert_int_equal(sealed.len, strlen("refreshtoken@@@3fK") + CRYPTO_SEAL_OVERHEAD);
    assert_null(memmem(sealed.data, sealed.len, "refreshtoken", 12));
    assert_int_equal(
        wx_open_refresh_token(&x->t.app, "wxfedcba9876543210", sealed.data, sealed.len, out), 0);
    assert_string_equal(out, "refreshtoken@@@3fK");
    /* bound to its authorizer */
    assert_int_equal(
        wx_open_refresh_token(&x->t.app, "wx1111111111111111", sealed.data, sealed.len, out),
        BE_INVALID_PARAMETER);
    /* and to the component */
    set_str(&x->t.cfg->wechat_component_appid, "wx9999999999999999");
    assert_int_equal(
        wx_open_refresh_token(&x->t.app, "wxfedcba9876543210", sealed.data, sealed.len, out),
        BE_INVALID_PARAMETER);
    set_str(&x->t.cfg->wechat_component_appid, APPID);
    sealed.data[sealed.len - 1] ^= 1;
    assert_int_equal(
        wx_open_refresh_token(&x->t.app, "wxfedcba9876543210", sealed.data, sealed.len, out),
        BE_INVALID_PARAMETER);
    buf_release(&sealed);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_errcode_mapping),
        cmocka_unit_test(test_retry_decisions),
        cmocka_unit_test(test_token_decide),
        cmocka_unit_test(test_client_new),
        cmocka_unit_test(test_urls_and_bodies),
        cmocka_unit_test(test_query_auth),
        cmocka_unit_test(test_authorizer_info),
        cmocka_unit_test(test_authorizer_token_and_list),
        cmocka_unit_test(test_retries),
        cmocka_unit_test(test_curl_network_error),
        cmocka_unit_test_setup_teardown(test_component_disabled, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ticket_and_token, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sealed_at_rest, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refresh_failure, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retry_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_single_refresher, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refresh_token_seal, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
