/* account/, cam/ and api/dispatch against a real SQLite store. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "account/account.h"
#include "account/session.h"
#include "account/throttle.h"
#include "api/action.h"
#include "cam/accesskey.h"
#include "core/timeutil.h"
#include "testutil.h"

static int setup(void **state)
{
    struct test_app *t = xcalloc(1, sizeof(*t));
    if (test_app_open(t))
        return -1;
    *state = t;
    return 0;
}

static int teardown(void **state)
{
    struct test_app *t = *state;
    test_app_close(t);
    free(t);
    return 0;
}

static struct req_meta meta_at(int64_t now, const char *ip)
{
    struct req_meta m = {"req-1", ip, "unit", now};
    return m;
}

static void test_email_rules(void **state)
{
    (void)state;
    char out[ACCOUNT_EMAIL_MAX + 1];
    struct be_diag d;
    assert_int_equal(account_normalize_email("  Ann@Example.COM ", out, &d), 0);
    assert_string_equal(out, "ann@example.com");
    const char *bad[] = {"", "ann", "@example.com", "ann@", "ann@example", "a@@b.c", "a b@c.d",
                         "ann@example.", "ann@.com", "a<b@c.d"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(account_normalize_email(bad[i], out, &d), BE_INVALID_PARAMETER_VALUE);
    char longer[300];
    memset(longer, 'a', sizeof(longer));
    memcpy(longer + 280, "@example.com", 13);
    assert_int_equal(account_normalize_email(longer, out, &d), BE_INVALID_PARAMETER_VALUE);
    assert_int_equal(account_normalize_email(NULL, out, &d), BE_MISSING_PARAMETER);
}

static void test_password_rules(void **state)
{
    (void)state;
    struct be_diag d;
    assert_int_equal(account_check_password("0123456789", "a@b.c", &d), 0);
    assert_int_equal(account_check_password("012345678", "a@b.c", &d), BE_PASSWORD_RULES);
    /* ten characters of two bytes each count as ten */
    assert_int_equal(account_check_password("密码密码密码密码密码", "a@b.c", &d), 0);
    assert_int_equal(account_check_password("密码密码密码密码密", "a@b.c", &d), BE_PASSWORD_RULES);
    assert_int_equal(account_check_password("Ann@Example.com", "ann@example.com", &d),
                     BE_PASSWORD_RULES);
    assert_int_equal(account_check_password("\xff\xfe invalid utf8", "a@b.c", &d),
                     BE_PASSWORD_RULES);
    assert_int_equal(account_check_password("", "a@b.c", &d), BE_MISSING_PARAMETER);
}

static void test_signup_and_login(void **state)
{
    struct test_app *t = *state;
    struct account a, b, c;
    struct be_diag d = {""};
    int64_t retry = 0;
    struct req_meta m = meta_at(time_now(), "192.0.2.1");
    assert_int_equal(account_signup(&t->app, &m, "ann@example.com", "ann password 1", &a, &d), 0);
    assert_true(a.uin >= ACCOUNT_UIN_MIN && a.uin <= ACCOUNT_UIN_MAX);
    assert_true(a.app_id >= ACCOUNT_APPID_MIN && a.app_id <= ACCOUNT_APPID_MAX);
    assert_int_equal(account_signup(&t->app, &m, "ANN@example.com", "other password", &b, &d),
                     BE_EMAIL_IN_USE);
    assert_int_equal(account_login(&t->app, &m, "Ann@Example.com", "ann password 1", &c, &retry, &d),
                     0);
    assert_true(c.uin == a.uin);
    assert_int_equal(account_login(&t->app, &m, "ann@example.com", "nope nope nope", &c, &retry, &d),
                     BE_LOGIN_FAILED);
    assert_int_equal(account_login(&t->app, &m, "who@example.com", "nope nope nope", &c, &retry, &d),
                     BE_LOGIN_FAILED);
    assert_int_equal(account_get(&t->app, a.uin, &c), 0);
    assert_string_equal(c.email, "ann@example.com");
    assert_int_equal(account_get(&t->app, 123, &c), BE_NOT_FOUND);
}

static void test_throttle(void **state)
{
    struct test_app *t = *state;
    struct account a;
    struct be_diag d = {""};
    int64_t retry = 0, now = time_now();
    struct req_meta m = meta_at(now, "192.0.2.2");
    assert_int_equal(account_signup(&t->app, &m, "tom@example.com", "tom password 1", &a, &d), 0);
    for (int i = 0; i < 5; i++) {
        m = meta_at(now, i % 2 ? "192.0.2.3" : "192.0.2.4");
        assert_int_equal(account_login(&t->app, &m, "tom@example.com", "bad password!", &a, &retry,
                                       &d),
                         BE_LOGIN_FAILED);
    }
    m = meta_at(now, "192.0.2.5");
    assert_int_equal(account_login(&t->app, &m, "tom@example.com", "tom password 1", &a, &retry, &d),
                     BE_LOGIN_THROTTLED);
    assert_int_equal(retry, (int64_t)t->cfg->login_base_delay);
    /* once the back-off has passed, the right password works and clears it */
    m = meta_at(now + retry, "192.0.2.5");
    assert_int_equal(account_login(&t->app, &m, "tom@example.com", "tom password 1", &a, &retry, &d),
                     0);
    struct throttle_rule rule = {5, 2, 900};
    assert_int_equal(throttle_delay(&rule, 4), 0);
    assert_int_equal(throttle_delay(&rule, 5), 2);
    assert_int_equal(throttle_delay(&rule, 7), 8);
    assert_int_equal(throttle_delay(&rule, 20), 900);
    assert_int_equal(throttle_delay(&rule, 500), 900);
}

static void test_sessions(void **state)
{
    struct test_app *t = *state;
    struct account a;
    struct be_diag d = {""};
    int64_t now = time_now();
    struct req_meta m = meta_at(now, "192.0.2.9");
    assert_int_equal(account_signup(&t->app, &m, "sam@example.com", "sam password 1", &a, &d), 0);
    struct principal who = {PRINCIPAL_ROOT, a.uin, a.uin, a.app_id};
    struct buf tok = BUF_INIT, tok2 = BUF_INIT;
    struct session s, got;
    assert_int_equal(session_create(&t->app, &m, &who, NULL, &tok, &s), 0);
    assert_int_equal(tok.len, SESSION_TOKEN_LEN);
    assert_int_equal(session_lookup(&t->app, tok.data, now + 10, &got), 0);
    assert_true(got.who.uin == a.uin && got.who.app_id == a.app_id);
    char csrf[SESSION_CSRF_LEN + 1];
    session_csrf_token(&t->app, &got, csrf);
    assert_true(session_csrf_valid(&t->app, &got, csrf));
    csrf[0] = csrf[0] == 'A' ? 'B' : 'A';
    assert_false(session_csrf_valid(&t->app, &got, csrf));
    assert_false(session_csrf_valid(&t->app, &got, NULL));
    /* rotation: the new session replaces the old token */
    assert_int_equal(session_create(&t->app, &m, &who, tok.data, &tok2, &s), 0);
    assert_int_equal(session_lookup(&t->app, tok.data, now, &got), BE_SESSION_INVALID);
    assert_int_equal(session_lookup(&t->app, tok2.data, now, &got), 0);
    /* idle expiry, then absolute expiry */
    int64_t idle = (int64_t)t->cfg->session_idle_timeout;
    assert_int_equal(session_lookup(&t->app, tok2.data, now + idle, &got), BE_SESSION_INVALID);
    assert_int_equal(session_lookup(&t->app, "short", now, &got), BE_SESSION_INVALID);
    buf_reset(&tok);
    assert_int_equal(session_create(&t->app, &m, &who, NULL, &tok, &s), 0);
    assert_int_equal(session_lookup(&t->app, tok.data, s.expires_at, &got), BE_SESSION_INVALID);
    buf_release(&tok);
    buf_release(&tok2);
}

static void test_access_keys(void **state)
{
    struct test_app *t = *state;
    struct account a;
    struct be_diag d = {""};
    struct req_meta m = meta_at(time_now(), "192.0.2.10");
    assert_int_equal(account_signup(&t->app, &m, "kim@example.com", "kim password 1", &a, &d), 0);
    struct principal who = {PRINCIPAL_ROOT, a.uin, a.uin, a.app_id}, got;
    struct accesskey k1, k2, k3;
    char secret[ACCESSKEY_SECRET_LEN + 1];
    assert_int_equal(accesskey_create(&t->app, &m, &who, a.uin, a.uin, "first", &k1, &d), 0);
    assert_int_equal(accesskey_create(&t->app, &m, &who, a.uin, a.uin, NULL, &k2, &d), 0);
    assert_int_equal(accesskey_create(&t->app, &m, &who, a.uin, a.uin, NULL, &k3, &d),
                     BE_KEY_OVER_LIMIT);
    assert_int_equal(accesskey_create(&t->app, &m, &who, a.uin, a.uin, "bad desc!", &k3, &d),
                     BE_INVALID_PARAMETER);
    assert_int_equal(accesskey_resolve(&t->app, k1.secret_id, &got, secret), 0);
    assert_string_equal(secret, k1.secret_key);
    assert_true(got.uin == a.uin && got.kind == PRINCIPAL_ROOT);
    assert_int_equal(accesskey_set_status(&t->app, &m, &who, a.uin, a.uin, k1.secret_id, false), 0);
    assert_int_equal(accesskey_resolve(&t->app, k1.secret_id, &got, secret), BE_AUTH_SECRET_ID);
    assert_int_equal(accesskey_set_status(&t->app, &m, &who, a.uin + 1, a.uin, k1.secret_id, true),
                     BE_SECRET_NOT_EXIST);
    assert_int_equal(accesskey_delete(&t->app, &m, &who, a.uin, a.uin + 1, k2.secret_id),
                     BE_UIN_NOT_MATCH);
    assert_int_equal(accesskey_delete(&t->app, &m, &who, a.uin, a.uin, k2.secret_id), 0);
    assert_int_equal(accesskey_resolve(&t->app, k2.secret_id, &got, secret), BE_AUTH_SECRET_ID);
    struct accesskey *list;
    size_t n;
    assert_int_equal(accesskey_list(&t->app, a.uin, a.uin, &list, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(list[0].secret_id, k1.secret_id);
    assert_false(list[0].active);
    assert_string_equal(list[0].secret_key, "");
    free(list);
    assert_int_equal(accesskey_resolve(&t->app, "AKIDshort", &got, secret), BE_AUTH_SECRET_ID);
}

static void test_dispatch(void **state)
{
    struct test_app *t = *state;
    struct account a;
    struct be_diag d = {""};
    struct req_meta m = meta_at(time_now(), "192.0.2.11");
    const struct api_action *act;
    json_t *out = NULL;
    assert_int_equal(account_signup(&t->app, &m, "dan@example.com", "dan password 1", &a, &d), 0);
    struct principal root = {PRINCIPAL_ROOT, a.uin, a.uin, a.app_id};
    struct principal sub = {PRINCIPAL_SUB_USER, a.uin + 1, a.uin, a.app_id};
    assert_int_equal(api_find_action("GetUserAppId", "2019-01-16", &act), 0);
    assert_int_equal(api_find_action("GetUserAppId", "2017-01-01", &act), BE_NO_SUCH_VERSION);
    assert_int_equal(api_find_action("Nope", NULL, &act), BE_INVALID_ACTION);
    assert_int_equal(api_find_action("GetUserAppId", NULL, &act), 0);
    assert_int_equal(api_dispatch(&t->app, &root, &m, act, NULL, &out, &d), 0);
    assert_int_equal(json_integer_value(json_object_get(out, "AppId")), (json_int_t)a.app_id);
    json_decref(out);
    /* a sub-user without policies is denied, with the spec's message shape */
    assert_int_equal(api_dispatch(&t->app, &sub, &m, act, NULL, &out, &d), BE_UNAUTHORIZED);
    assert_non_null(strstr(d.msg, "you are not authorized to perform operation (cam:GetUserAppId)"));
    assert_int_equal(api_find_action("UpdateAccessKey", NULL, &act), 0);
    json_t *p = json_pack("{s:s}", "Status", "Active");
    assert_int_equal(api_dispatch(&t->app, &root, &m, act, p, &out, &d), BE_MISSING_PARAMETER);
    assert_non_null(strstr(d.msg, "AccessKeyId"));
    json_decref(p);
    p = json_pack("{s:s,s:s,s:i}", "AccessKeyId", "x", "Status", "Active", "Extra", 1);
    assert_int_equal(api_dispatch(&t->app, &root, &m, act, p, &out, &d), BE_UNKNOWN_PARAMETER);
    json_decref(p);
    p = json_pack("{s:s,s:s,s:s}", "AccessKeyId", "x", "Status", "Active", "TargetUin", "12x");
    assert_int_equal(api_dispatch(&t->app, &root, &m, act, p, &out, &d), BE_INVALID_PARAMETER);
    json_decref(p);
    p = json_pack("{s:i,s:s}", "AccessKeyId", 5, "Status", "Active");
    assert_int_equal(api_dispatch(&t->app, &root, &m, act, p, &out, &d), BE_INVALID_PARAMETER);
    json_decref(p);
    p = json_array();
    assert_int_equal(api_dispatch(&t->app, &root, &m, act, p, &out, &d), BE_INVALID_PARAMETER);
    json_decref(p);
    size_t len;
    char *env = api_envelope_error(BE_AUTH_EXPIRED, NULL, "rid", &len);
    assert_string_equal(env, "{\"Response\":{\"Error\":{\"Code\":\"AuthFailure.SignatureExpire\","
                             "\"Message\":\"the request timestamp is more than 300 seconds away "
                             "from server time\"},\"RequestId\":\"rid\"}}");
    free(env);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_email_rules),
        cmocka_unit_test(test_password_rules),
        cmocka_unit_test_setup_teardown(test_signup_and_login, setup, teardown),
        cmocka_unit_test_setup_teardown(test_throttle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sessions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_access_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dispatch, setup, teardown),
    };
    return cmocka_run_group_tests_name("account", tests, NULL, NULL);
}
