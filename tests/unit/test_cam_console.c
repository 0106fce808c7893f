/* Who may hold a console session (cam/console.h): sub-user login with its
 * throttling, the switch-developer target, the per-request principal check,
 * and session rotation (account/session.h). Runs on SQLite and, when
 * BINDERY_TEST_PG_URL is set, again on that PostgreSQL database (its schema
 * `public` is dropped before each test: point it at a throw-away database). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "account/account.h"
#include "account/session.h"
#include "audit/audit.h"
#include "cam/console.h"
#include "cam/directory.h"
#include "core/log.h"
#include "core/timeutil.h"
#include "testutil.h"
#include "cam_fixture.h"
#include "core/banned.h"

static struct cam_user add_user(struct fx *f, const char *name, const char *password,
                                struct accesskey *ret_key)
{
    struct cam_user_input in = {.name = name,
                                .password = password,
                                .console_login = password ? 1 : 0,
                                .use_api = 0,
                                .need_reset_password = -1};
    struct cam_user u;
    struct accesskey k;
    struct be_diag d = {""};
    assert_rc(cam_user_add(&f->t.app, &f->meta, &f->root, f->acct.uin, &in, &u, NULL, &k, &d),
              BE_OK);
    if (ret_key)
        *ret_key = k;
    return u;
}

/* Counts rows of a table matching uid/uin columns, straight from the store. */
struct count_ctx {
    const char *sql;
    int64_t a, b;
    int64_t n;
};

static int count_fn(struct store_conn *c, void *arg)
{
    struct count_ctx *ctx = arg;
    struct store_result *r = NULL;
    int rc = store_query(c, ctx->sql, SV_ARGS(SV_I64(ctx->a), SV_I64(ctx->b)), &r);
    if (rc == BE_OK)
        ctx->n = store_result_i64(r, 0, 0);
    store_result_free(r);
    return rc;
}

static int64_t count(struct fx *f, const char *sql, int64_t a, int64_t b)
{
    struct count_ctx ctx = {sql, a, b, -1};
    assert_rc(store_run(f->t.app.store, count_fn, &ctx), BE_OK);
    return ctx.n;
}

#define PW "Sub-user-pw1!"

static void test_login(void **state)
{
    struct fx *f = *state;
    struct be_diag d = {""};
    struct principal who;
    struct cam_user u = add_user(f, "dev", PW, NULL), got;
    add_user(f, "apionly", NULL, NULL);
    int64_t wait = 0;
    struct app *app = &f->t.app;
    assert_rc(cam_console_login(app, &f->meta, f->acct.uin, "dev", PW, &who, &got, &wait, &d),
              BE_OK);
    assert_int_equal(who.kind, PRINCIPAL_SUB_USER);
    assert_int_equal(who.uin, u.uin);
    assert_int_equal(who.owner_uin, f->acct.uin);
    assert_int_equal(who.app_id, f->acct.app_id);
    assert_string_equal(got.name, "dev");
    /* One answer for everything that is not a match. */
    assert_rc(
        cam_console_login(app, &f->meta, f->acct.uin, "dev", "Wrong-pw-1!", &who, &got, &wait, &d),
        BE_LOGIN_FAILED);
    assert_rc(cam_console_login(app, &f->meta, f->acct.uin, "apionly", PW, &who, &got, &wait, &d),
              BE_LOGIN_FAILED);
    assert_rc(cam_console_login(app, &f->meta, f->other.uin, "dev", PW, &who, &got, &wait, &d),
              BE_LOGIN_FAILED);
    assert_rc(cam_console_login(app, &f->meta, f->acct.uin, "no such", PW, &who, &got, &wait, &d),
              BE_USER_NAME_ILLEGAL);
    assert_rc(cam_console_login(app, &f->meta, f->acct.uin, NULL, PW, &who, &got, &wait, &d),
              BE_USER_NAME_ILLEGAL);
    assert_rc(cam_console_login(app, &f->meta, f->acct.uin, "dev", "", &who, &got, &wait, &d),
              BE_MISSING_PARAMETER);
    /* Failures of one sub-user block it after login_max_failures, even with
     * the right password, and say for how long. */
    int rc = BE_OK;
    for (int i = 0; i < 10 && rc != BE_LOGIN_THROTTLED; i++)
        rc = cam_console_login(app, &f->meta, f->acct.uin, "dev", "Wrong-pw-1!", &who, &got, &wait,
                               &d);
    assert_rc(rc, BE_LOGIN_THROTTLED);
    wait = 0;
    assert_rc(cam_console_login(app, &f->meta, f->acct.uin, "dev", PW, &who, &got, &wait, &d),
              BE_LOGIN_THROTTLED);
    assert_true(wait > 0);
    assert_true(count(f,
                      "SELECT COUNT(*) FROM audit_log WHERE owner_uin = $1 AND uin = $2"
                      " AND action = 'cam.console_login' AND result = 'success'",
                      (int64_t)f->acct.uin, (int64_t)u.uin) == 1);
}

static void test_switch_and_check(void **state)
{
    struct fx *f = *state;
    struct be_diag d = {""};
    struct app *app = &f->t.app;
    struct cam_user membership, sub = add_user(f, "dev", PW, NULL);
    struct principal me = {PRINCIPAL_ROOT, f->other.uin, f->other.uin, f->other.app_id}, who;
    /* Not (yet) a collaborator of acct; nor of an account that is none. */
    assert_rc(cam_console_switch_target(app, &me, f->acct.uin, &who, NULL, &d), BE_USER_NOT_EXIST);
    assert_rc(cam_console_switch_target(app, &me, 999999999999ull, &who, NULL, &d),
              BE_USER_NOT_EXIST);
    assert_rc(cam_collaborator_add(app, &f->meta, &f->root, f->acct.uin, f->other.uin, NULL, NULL,
                                   &membership, &d),
              BE_OK);
    assert_rc(cam_console_switch_target(app, &me, f->acct.uin, &who, &membership, &d), BE_OK);
    assert_int_equal(who.kind, PRINCIPAL_COLLABORATOR);
    assert_int_equal(who.uin, f->other.uin);
    assert_int_equal(who.owner_uin, f->acct.uin);
    assert_int_equal(who.app_id, f->acct.app_id);
    assert_rc(cam_console_check(app, &who, NULL, &d), BE_OK);
    /* Back: 0 or the own UIN, from the switched principal. */
    struct principal home;
    assert_rc(cam_console_switch_target(app, &who, 0, &home, NULL, &d), BE_OK);
    assert_int_equal(home.kind, PRINCIPAL_ROOT);
    assert_int_equal(home.owner_uin, f->other.uin);
    assert_int_equal(home.app_id, f->other.app_id);
    assert_rc(cam_console_switch_target(app, &who, f->other.uin, &home, NULL, &d), BE_OK);
    assert_int_equal(home.kind, PRINCIPAL_ROOT);
    /* A sub-user cannot switch anywhere. */
    struct principal subp = {PRINCIPAL_SUB_USER, sub.uin, f->acct.uin, f->acct.app_id};
    assert_rc(cam_console_switch_target(app, &subp, 0, &home, NULL, &d), BE_UNAUTHORIZED);
    assert_rc(cam_console_check(app, &subp, NULL, &d), BE_OK);
    /* A principal claiming the wrong kind is not valid. */
    struct principal fake = {PRINCIPAL_COLLABORATOR, sub.uin, f->acct.uin, f->acct.app_id};
    assert_rc(cam_console_check(app, &fake, NULL, &d), BE_SESSION_INVALID);
    struct principal root_elsewhere = {PRINCIPAL_ROOT, f->other.uin, f->acct.uin, 0};
    assert_rc(cam_console_check(app, &root_elsewhere, NULL, &d), BE_SESSION_INVALID);
    /* Removing the collaboration, deleting the sub-user: invalid at once. */
    assert_rc(cam_collaborator_delete(app, &f->meta, &f->root, f->acct.uin, f->other.uin, &d),
              BE_OK);
    assert_rc(cam_console_check(app, &who, NULL, &d), BE_SESSION_INVALID);
    assert_rc(cam_console_switch_target(app, &me, f->acct.uin, &home, NULL, &d), BE_USER_NOT_EXIST);
    assert_rc(cam_user_delete(app, &f->meta, &f->root, f->acct.uin, "dev", true, &d), BE_OK);
    assert_rc(cam_console_check(app, &subp, NULL, &d), BE_SESSION_INVALID);
}

static void test_session_rotate(void **state)
{
    struct fx *f = *state;
    struct app *app = &f->t.app;
    struct buf t1 = BUF_INIT, t2 = BUF_INIT, t3 = BUF_INIT;
    struct session s1, s2, s3, got;
    struct principal collab = {PRINCIPAL_COLLABORATOR, f->other.uin, f->acct.uin, f->acct.app_id};
    struct principal me = {PRINCIPAL_ROOT, f->other.uin, f->other.uin, f->other.app_id};
    struct audit_entry e = {f->acct.uin, f->other.uin, "console.switch", "success", "test"};
    assert_rc(session_rotate(app, &f->meta, &collab, NULL, &e, &t2, &s2), BE_SESSION_INVALID);
    assert_rc(session_create(app, &f->meta, &me, NULL, &t1, &s1), BE_OK);
    assert_rc(session_rotate(app, &f->meta, &collab, t1.data, &e, &t2, &s2), BE_OK);
    assert_rc(session_lookup(app, t1.data, f->meta.now, &got), BE_SESSION_INVALID);
    assert_rc(session_lookup(app, t2.data, f->meta.now, &got), BE_OK);
    assert_int_equal(got.who.kind, PRINCIPAL_COLLABORATOR);
    assert_int_equal(got.who.owner_uin, f->acct.uin);
    assert_int_equal(got.who.app_id, f->acct.app_id);
    /* The old token again (a replay, or the loser of a race): refused, and
     * nothing written, audit row included. */
    assert_rc(session_rotate(app, &f->meta, &collab, t1.data, &e, &t3, &s3), BE_SESSION_INVALID);
    assert_int_equal(t3.len, 0);
    assert_int_equal(count(f,
                           "SELECT COUNT(*) FROM audit_log WHERE owner_uin = $1 AND uin = $2"
                           " AND action = 'console.switch'",
                           (int64_t)f->acct.uin, (int64_t)f->other.uin),
                     1);
    assert_int_equal(count(f, "SELECT COUNT(*) FROM sessions WHERE uin = $1 AND $2 = $2",
                           (int64_t)f->other.uin, 0),
                     1);
    buf_release(&t1);
    buf_release(&t2);
    buf_release(&t3);
}

int main(void)
{
    log_level_current = LOG_WARN;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_login, setup, teardown),
        cmocka_unit_test_setup_teardown(test_switch_and_check, setup, teardown),
        cmocka_unit_test_setup_teardown(test_session_rotate, setup, teardown),
    };
    int failed = cmocka_run_group_tests_name("cam_console/sqlite", tests, NULL, NULL);
    pg_url = getenv("BINDERY_TEST_PG_URL");
    if (pg_url && *pg_url)
        failed += cmocka_run_group_tests_name("cam_console/postgres", tests, NULL, NULL);
    else
        print_message("[  SKIPPED ] cam_console/postgres: BINDERY_TEST_PG_URL is not set\n");
    return failed ? 1 : 0;
}
