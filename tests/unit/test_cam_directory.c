/* CAM storage (users, collaborators, groups, policies, attachments) and the
 * policy-set cache with its cross-instance invalidation. Every test runs on
 * SQLite and, when BINDERY_TEST_PG_URL is set, again on that PostgreSQL
 * database (its schema `public` is dropped before each test: point it at a
 * throw-away database). "Two instances" are two apps on one database. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "account/account.h"
#include "cam/authz.h"
#include "cam/cache.h"
#include "cam/directory.h"
#include "cam/policystore.h"
#include "core/log.h"
#include "core/timeutil.h"
#include "testutil.h"
#include "cam_fixture.h"
#include "core/banned.h"

static struct cam_user add_user(struct fx *f, const char *name, int use_api,
                                struct accesskey *ret_key)
{
    struct cam_user_input in = {
        .name = name, .console_login = 0, .use_api = use_api, .need_reset_password = -1};
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

static void test_users(void **state)
{
    struct fx *f = *state;
    struct be_diag d = {""};
    struct cam_user u = add_user(f, "alice", 0, NULL), got;
    assert_true(u.uin >= CAM_SUB_UIN_MIN && u.uin <= CAM_SUB_UIN_MAX);
    assert_true(u.uid > 0);
    assert_int_equal(u.kind, CAM_USER_SUB);
    struct cam_user_input dup = {
        .name = "alice", .console_login = -1, .use_api = -1, .need_reset_password = -1};
    struct cam_user_input bad = {
        .name = "al ice", .console_login = -1, .use_api = -1, .need_reset_password = -1};
    assert_rc(cam_user_add(&f->t.app, &f->meta, &f->root, f->acct.uin, &dup, &got, NULL, NULL, &d),
              BE_SUB_USER_NAME_IN_USE);
    assert_rc(cam_user_add(&f->t.app, &f->meta, &f->root, f->acct.uin, &bad, &got, NULL, NULL, &d),
              BE_USER_NAME_ILLEGAL);
    /* The same name in another account is another user. */
    struct principal other_root = {PRINCIPAL_ROOT, f->other.uin, f->other.uin, f->other.app_id};
    assert_rc(
        cam_user_add(&f->t.app, &f->meta, &other_root, f->other.uin, &dup, &got, NULL, NULL, &d),
        BE_OK);
    assert_true(got.uin != u.uin);
    assert_rc(cam_user_get(&f->t.app, f->acct.uin, "alice", &got), BE_OK);
    assert_true(got.uid == u.uid);
    assert_rc(cam_user_get(&f->t.app, f->acct.uin, "bob", &got), BE_USER_NOT_EXIST);

    /* Console login: a generated password that verifies, then a chosen one. */
    char pw[CAM_GENERATED_PASSWORD_LEN + 1];
    struct cam_user_input console = {
        .name = "carol", .console_login = 1, .use_api = -1, .need_reset_password = -1};
    assert_rc(
        cam_user_add(&f->t.app, &f->meta, &f->root, f->acct.uin, &console, &got, pw, NULL, &d),
        BE_OK);
    assert_int_equal(strlen(pw), CAM_GENERATED_PASSWORD_LEN);
    assert_rc(cam_check_password(pw, &d), BE_OK);
    assert_rc(cam_user_verify_password(&f->t.app, f->acct.uin, "carol", pw, &got), BE_OK);
    assert_rc(cam_user_verify_password(&f->t.app, f->acct.uin, "carol", "Wrong-passw0rd", &got),
              BE_LOGIN_FAILED);
    assert_rc(cam_user_verify_password(&f->t.app, f->acct.uin, "alice", pw, &got), BE_LOGIN_FAILED);
    struct cam_user_input change = {.name = "carol",
                                    .password = "N3w-password",
                                    .console_login = -1,
                                    .use_api = -1,
                                    .need_reset_password = 1};
    assert_rc(cam_user_update(&f->t.app, &f->meta, &f->root, f->acct.uin, &change, &d), BE_OK);
    assert_rc(cam_user_verify_password(&f->t.app, f->acct.uin, "carol", "N3w-password", &got),
              BE_OK);
    assert_true(got.need_reset_password);
    struct cam_user_input weak = {.name = "carol",
                                  .password = "weakweakweak",
                                  .console_login = -1,
                                  .use_api = -1,
                                  .need_reset_password = -1};
    assert_rc(cam_user_update(&f->t.app, &f->meta, &f->root, f->acct.uin, &weak, &d),
              BE_PASSWORD_RULES);
    /* Console login for alice needs a password first. */
    struct cam_user_input on = {
        .name = "alice", .console_login = 1, .use_api = -1, .need_reset_password = -1};
    assert_rc(cam_user_update(&f->t.app, &f->meta, &f->root, f->acct.uin, &on, &d),
              BE_PASSWORD_RULES);
    assert_true(count(f,
                      "SELECT COUNT(*) FROM audit_log WHERE owner_uin = $1 AND uin = $2"
                      " AND action = 'cam:AddUser'",
                      (int64_t)f->acct.uin, (int64_t)f->acct.uin) == 2);
}

static void test_delete_user_cascades(void **state)
{
    struct fx *f = *state;
    struct be_diag d = {""};
    struct accesskey k;
    struct cam_user u = add_user(f, "doomed", 1, &k);
    uint64_t gid, pid;
    assert_true(strlen(k.secret_id) == ACCESSKEY_ID_LEN);
    assert_rc(cam_group_create(&f->t.app, &f->meta, &f->root, f->acct.uin, "g", NULL, &gid, &d),
              BE_OK);
    struct cam_membership m = {gid, u.uid, 0};
    assert_rc(cam_group_add_members(&f->t.app, &f->meta, &f->root, f->acct.uin, &m, 1, &d), BE_OK);
    assert_rc(cam_policystore_create(&f->t.app, &f->meta, &f->root, f->acct.uin, "P",
                                     "{\"version\":\"2.0\",\"statement\":[{\"effect\":\"allow\","
                                     "\"action\":\"*\",\"resource\":\"*\"}]}",
                                     NULL, &pid, &d),
              BE_OK);
    assert_true(pid > CAM_PRESET_ID_MAX);
    assert_rc(
        cam_attach(&f->t.app, &f->meta, &f->root, f->acct.uin, pid, CAM_ENTITY_USER, u.uid, &d),
        BE_OK);
    assert_rc(cam_user_delete(&f->t.app, &f->meta, &f->root, f->acct.uin, "doomed", false, &d),
              BE_HAVE_KEYS);
    assert_rc(cam_user_delete(&f->t.app, &f->meta, &f->root, f->acct.uin, "doomed", true, &d),
              BE_OK);
    assert_int_equal(count(f, "SELECT COUNT(*) FROM access_keys WHERE owner_uin = $1 AND uin = $2",
                           (int64_t)f->acct.uin, (int64_t)u.uin),
                     0);
    assert_int_equal(count(f,
                           "SELECT COUNT(*) FROM cam_group_members WHERE group_id = $1"
                           " AND uid = $2",
                           (int64_t)gid, (int64_t)u.uid),
                     0);
    assert_int_equal(count(f,
                           "SELECT COUNT(*) FROM cam_attachments WHERE entity_id = $1"
                           " AND policy_id = $2",
                           (int64_t)u.uid, (int64_t)pid),
                     0);
    struct principal who;
    char secret[ACCESSKEY_SECRET_LEN + 1];
    assert_rc(accesskey_resolve(&f->t.app, k.secret_id, &who, secret), BE_AUTH_SECRET_ID);
}

static void test_collaborators(void **state)
{
    struct fx *f = *state;
    struct be_diag d = {""};
    struct cam_user c, sub = add_user(f, "sub", 0, NULL);
    assert_rc(cam_collaborator_add(&f->t.app, &f->meta, &f->root, f->acct.uin, f->acct.uin, NULL,
                                   NULL, &c, &d),
              BE_PARAM_ERROR);
    assert_rc(cam_collaborator_add(&f->t.app, &f->meta, &f->root, f->acct.uin, sub.uin, NULL, NULL,
                                   &c, &d),
              BE_PARAM_USER_NOT_EXIST);
    assert_rc(cam_collaborator_add(&f->t.app, &f->meta, &f->root, f->acct.uin, 100000000000ull,
                                   NULL, NULL, &c, &d),
              BE_PARAM_USER_NOT_EXIST);
    assert_rc(cam_collaborator_add(&f->t.app, &f->meta, &f->root, f->acct.uin, f->other.uin, NULL,
                                   NULL, &c, &d),
              BE_OK);
    assert_true(c.uin == f->other.uin && c.kind == CAM_USER_COLLABORATOR);
    assert_rc(cam_collaborator_add(&f->t.app, &f->meta, &f->root, f->acct.uin, f->other.uin, "x",
                                   NULL, &c, &d),
              BE_COLLABORATOR_EXISTS);
    struct cam_user *list = NULL;
    size_t n = 0;
    assert_rc(cam_collaborations_of(&f->t.app, f->other.uin, &list, &n), BE_OK);
    assert_int_equal(n, 1);
    assert_true(list[0].owner_uin == f->acct.uin);
    free(list);

    /* A key made for the collaborator inside the owner resolves to a
     * collaborator acting in the owner. */
    struct accesskey k;
    struct principal who;
    char secret[ACCESSKEY_SECRET_LEN + 1];
    assert_rc(
        accesskey_create(&f->t.app, &f->meta, &f->root, f->acct.uin, f->other.uin, NULL, &k, &d),
        BE_OK);
    assert_rc(accesskey_resolve(&f->t.app, k.secret_id, &who, secret), BE_OK);
    assert_int_equal(who.kind, PRINCIPAL_COLLABORATOR);
    assert_true(who.uin == f->other.uin && who.owner_uin == f->acct.uin);
    assert_true(who.app_id == f->acct.app_id);
    assert_rc(cam_collaborator_delete(&f->t.app, &f->meta, &f->root, f->acct.uin, f->other.uin, &d),
              BE_OK);
    assert_rc(accesskey_resolve(&f->t.app, k.secret_id, &who, secret), BE_AUTH_SECRET_ID);
    assert_rc(cam_collaborations_of(&f->t.app, f->other.uin, &list, &n), BE_OK);
    assert_int_equal(n, 0);
    free(list);
}

static void test_policies(void **state)
{
    struct fx *f = *state;
    struct be_diag d = {""};
    uint64_t id, id2;
    const char *doc = "{\"version\":\"2.0\",\"statement\":[{\"effect\":\"allow\",\"action\":"
                      "\"cam:List*\",\"resource\":\"*\"}]}";
    assert_rc(
        cam_policystore_create(&f->t.app, &f->meta, &f->root, f->acct.uin, "A", doc, "d", &id, &d),
        BE_OK);
    assert_rc(cam_policystore_create(&f->t.app, &f->meta, &f->root, f->acct.uin, "A", doc, NULL,
                                     &id2, &d),
              BE_POLICY_NAME_IN_USE);
    assert_rc(cam_policystore_create(&f->t.app, &f->meta, &f->root, f->acct.uin, "B",
                                     "{\"version\":\"2.0\",\"statement\":[{\"effect\":\"allow\","
                                     "\"action\":\"nocolon\",\"resource\":\"*\"}]}",
                                     NULL, &id2, &d),
              BE_POLICY_ACTION_ERROR);
    assert_non_null(strstr(d.msg, "line 1 column"));
    assert_rc(cam_policystore_create(&f->t.app, &f->meta, &f->root, f->acct.uin, "B", "[]", NULL,
                                     &id2, &d),
              BE_POLICY_DOCUMENT_ERROR);
    struct cam_policy_info p;
    assert_rc(cam_policystore_get(&f->t.app, f->acct.uin, id, &p), BE_OK);
    assert_string_equal(p.document, doc);
    cam_policy_info_release(&p);
    /* Another account cannot see it. */
    assert_rc(cam_policystore_get(&f->t.app, f->other.uin, id, &p), BE_POLICY_ID_NOT_FOUND);
    assert_rc(
        cam_policystore_update(&f->t.app, &f->meta, &f->root, f->acct.uin, 1, NULL, "x", NULL, &d),
        BE_UNMODIFIABLE);
    struct cam_policy_info *list = NULL;
    size_t n = 0, total = 0;
    assert_rc(cam_policystore_list(&f->t.app, f->acct.uin, CAM_SCOPE_LOCAL, NULL, 0, 20, &list, &n,
                                   &total),
              BE_OK);
    assert_int_equal(total, 1);
    assert_true(list[0].id == id);
    free(list);
    uint64_t ids[] = {id};
    assert_rc(cam_policystore_delete(&f->t.app, &f->meta, &f->root, f->acct.uin, ids, 1, &d),
              BE_OK);
    assert_rc(cam_policystore_delete(&f->t.app, &f->meta, &f->root, f->acct.uin, ids, 1, &d),
              BE_POLICY_ID_NOT_FOUND);
}

static int authorize(struct app *app, const struct principal *who, const char *action)
{
    struct cam_request req = {action, "*", who->owner_uin, "127.0.0.1", time_now()};
    struct be_diag d = {""};
    return cam_authorize(app, who, &req, "r", &d);
}

/* Two instances: a change through one is seen by the other's next decision;
 * nothing is rebuilt or recompiled while nothing changes. */
static void test_cache_invalidation(void **state)
{
    struct fx *f = *state;
    struct be_diag d = {""};
    struct cam_user u = add_user(f, "cached", 0, NULL);
    struct principal who = {PRINCIPAL_SUB_USER, u.uin, f->acct.uin, f->acct.app_id};
    struct cam_cache_stats s0, s1;
    uint64_t pid, gid;
    assert_rc(authorize(&f->app2, &who, "cam:ListUsers"), BE_UNAUTHORIZED);
    cam_cache_stats(f->app2.cam, &s0);
    for (int i = 0; i < 20; i++)
        assert_rc(authorize(&f->app2, &who, "cam:ListUsers"), BE_UNAUTHORIZED);
    cam_cache_stats(f->app2.cam, &s1);
    assert_true(s1.set_builds == s0.set_builds);

    const char *allow = "{\"version\":\"2.0\",\"statement\":[{\"effect\":\"allow\",\"action\":"
                        "\"cam:List*\",\"resource\":\"*\"}]}";
    const char *deny = "{\"version\":\"2.0\",\"statement\":[{\"effect\":\"deny\",\"action\":"
                       "\"cam:ListUsers\",\"resource\":\"*\"}]}";
    assert_rc(cam_policystore_create(&f->t.app, &f->meta, &f->root, f->acct.uin, "L", allow, NULL,
                                     &pid, &d),
              BE_OK);
    assert_rc(
        cam_attach(&f->t.app, &f->meta, &f->root, f->acct.uin, pid, CAM_ENTITY_USER, u.uid, &d),
        BE_OK);
    assert_rc(authorize(&f->app2, &who, "cam:ListUsers"), BE_OK);
    assert_rc(authorize(&f->app2, &who, "cam:GetUser"), BE_UNAUTHORIZED);
    cam_cache_stats(f->app2.cam, &s0);
    assert_true(s0.policy_compiles == 1);

    /* A deny through a group, added on instance 1. */
    assert_rc(cam_group_create(&f->t.app, &f->meta, &f->root, f->acct.uin, "G", NULL, &gid, &d),
              BE_OK);
    uint64_t did;
    assert_rc(cam_policystore_create(&f->t.app, &f->meta, &f->root, f->acct.uin, "D", deny, NULL,
                                     &did, &d),
              BE_OK);
    assert_rc(
        cam_attach(&f->t.app, &f->meta, &f->root, f->acct.uin, did, CAM_ENTITY_GROUP, gid, &d),
        BE_OK);
    assert_rc(authorize(&f->app2, &who, "cam:ListUsers"), BE_OK);
    struct cam_membership m = {gid, 0, u.uin};
    assert_rc(cam_group_add_members(&f->t.app, &f->meta, &f->root, f->acct.uin, &m, 1, &d), BE_OK);
    assert_rc(authorize(&f->app2, &who, "cam:ListUsers"), BE_UNAUTHORIZED);
    assert_rc(authorize(&f->app2, &who, "cam:ListGroups"), BE_OK);
    /* Only the new document was compiled; "L" came from the cache. */
    cam_cache_stats(f->app2.cam, &s1);
    assert_true(s1.policy_compiles == 2);

    /* Updating a document recompiles it once. */
    assert_rc(cam_policystore_update(&f->t.app, &f->meta, &f->root, f->acct.uin, did, NULL, NULL,
                                     allow, &d),
              BE_OK);
    assert_rc(authorize(&f->app2, &who, "cam:ListUsers"), BE_OK);
    cam_cache_stats(f->app2.cam, &s0);
    assert_true(s0.policy_compiles == 3);

    /* Another account's change does not invalidate this one. */
    cam_cache_stats(f->app2.cam, &s0);
    uint64_t gid2;
    struct principal other_root = {PRINCIPAL_ROOT, f->other.uin, f->other.uin, f->other.app_id};
    assert_rc(
        cam_group_create(&f->t.app, &f->meta, &other_root, f->other.uin, "G", NULL, &gid2, &d),
        BE_OK);
    assert_rc(authorize(&f->app2, &who, "cam:ListUsers"), BE_OK);
    cam_cache_stats(f->app2.cam, &s1);
    assert_true(s1.set_builds == s0.set_builds);

    /* Deleting the user: its sessions lose every permission at once. */
    assert_rc(cam_user_delete(&f->t.app, &f->meta, &f->root, f->acct.uin, "cached", false, &d),
              BE_OK);
    assert_rc(authorize(&f->app2, &who, "cam:ListUsers"), BE_UNAUTHORIZED);
    /* A root is never evaluated; a root outside its account is denied. */
    assert_rc(authorize(&f->app2, &f->root, "cam:AnythingAtAll"), BE_OK);
    struct principal stray = {PRINCIPAL_ROOT, f->other.uin, f->acct.uin, 0};
    assert_rc(authorize(&f->app2, &stray, "cam:ListUsers"), BE_UNAUTHORIZED);
}

static void test_group_limits(void **state)
{
    struct fx *f = *state;
    struct be_diag d = {""};
    uint64_t gid;
    struct cam_user u = add_user(f, "member", 0, NULL);
    assert_rc(cam_group_create(&f->t.app, &f->meta, &f->root, f->acct.uin, "dup", NULL, &gid, &d),
              BE_OK);
    assert_rc(cam_group_create(&f->t.app, &f->meta, &f->root, f->acct.uin, "dup", NULL, &gid, &d),
              BE_GROUP_NAME_IN_USE);
    assert_rc(cam_group_create(&f->t.app, &f->meta, &f->root, f->acct.uin, "", NULL, &gid, &d),
              BE_INVALID_PARAMETER_VALUE);
    struct cam_membership bad[] = {{gid, u.uid, 0}, {987654, u.uid, 0}};
    /* All or nothing: the second pair fails, the first is not kept. */
    assert_rc(cam_group_add_members(&f->t.app, &f->meta, &f->root, f->acct.uin, bad, 2, &d),
              BE_PARAM_GROUP_NOT_EXIST);
    assert_int_equal(count(f,
                           "SELECT COUNT(*) FROM cam_group_members WHERE group_id = $1"
                           " AND uid = $2",
                           (int64_t)gid, (int64_t)u.uid),
                     0);
    for (int i = 0; i < CAM_ATTACHMENTS_MAX; i++) {
        char name[16];
        uint64_t pid;
        snprintf(name, sizeof(name), "p%d", i);
        assert_rc(cam_policystore_create(&f->t.app, &f->meta, &f->root, f->acct.uin, name,
                                         "{\"version\":\"2.0\",\"statement\":{\"effect\":"
                                         "\"allow\",\"action\":\"a:b\",\"resource\":\"*\"}}",
                                         NULL, &pid, &d),
                  BE_OK);
        assert_rc(
            cam_attach(&f->t.app, &f->meta, &f->root, f->acct.uin, pid, CAM_ENTITY_GROUP, gid, &d),
            BE_OK);
    }
    assert_rc(cam_attach(&f->t.app, &f->meta, &f->root, f->acct.uin, 1, CAM_ENTITY_GROUP, gid, &d),
              BE_ATTACHMENT_FULL);
    assert_rc(cam_group_delete(&f->t.app, &f->meta, &f->root, f->acct.uin, gid, &d), BE_OK);
    assert_int_equal(count(f,
                           "SELECT COUNT(*) FROM cam_attachments WHERE entity_id = $1"
                           " AND owner_uin = $2",
                           (int64_t)gid, (int64_t)f->acct.uin),
                     0);
}

int main(void)
{
    log_level_current = LOG_WARN;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_users, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delete_user_cascades, setup, teardown),
        cmocka_unit_test_setup_teardown(test_collaborators, setup, teardown),
        cmocka_unit_test_setup_teardown(test_policies, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cache_invalidation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_group_limits, setup, teardown),
    };
    int failed = cmocka_run_group_tests_name("cam/sqlite", tests, NULL, NULL);
    pg_url = getenv("BINDERY_TEST_PG_URL");
    if (pg_url && *pg_url)
        failed += cmocka_run_group_tests_name("cam/postgres", tests, NULL, NULL);
    else
        print_message("[  SKIPPED ] cam/postgres: BINDERY_TEST_PG_URL is not set\n");
    return failed ? 1 : 0;
}
