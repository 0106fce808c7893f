/* binding/link and binding/attempt against a real SQLite store: states,
 * the one-live-link-per-app rule, the limit per account, the mini program
 * rule and its switch, unlink, revoke with grant sequence numbers, history
 * and audit rows in the same transaction, sealed tokens, claims of
 * background checks, and authorization attempts (binding, single use,
 * expiry, claims, codes). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "account/account.h"
#include "binding/attempt.h"
#include "binding/link.h"
#include "core/buf.h"
#include "core/crypto.h"
#include "core/timeutil.h"
#include "wechat/component.h"
#include "testutil.h"

#define COMPONENT "wx0123456789abcdef"
#define MP1       "wxa000000000000001"
#define MP2       "wxb000000000000001"
#define OA1       "wxc000000000000001"

struct ltest {
    struct test_app t;
};

static void set_str(char **field, const char *value)
{
    free(*field);
    *field = xstrdup(value);
}

static int setup(void **state)
{
    struct ltest *x = xcalloc(1, sizeof(*x));
    if (test_app_open(&x->t))
        return -1;
    set_str(&x->t.cfg->wechat_component_appid, COMPONENT);
    *state = x;
    return 0;
}

static int teardown(void **state)
{
    struct ltest *x = *state;
    test_app_close(&x->t);
    free(x);
    return 0;
}

static struct req_meta meta_at(int64_t now)
{
    struct req_meta m = {"req-link", "192.0.2.9", "unit", now};
    return m;
}

static struct link_grant grant(const char *appid, enum link_app_type type, const char *token)
{
    struct link_grant g;
    memset(&g, 0, sizeof(g));
    snprintf(g.appid, sizeof(g.appid), "%s", appid);
    snprintf(g.refresh_token, sizeof(g.refresh_token), "%s", token);
    g.app_type = type;
    g.func_ids[0] = type == LINK_APP_MP ? 17 : 1;
    g.func_ids[1] = type == LINK_APP_MP ? 18 : 2;
    g.nfunc = 2;
    snprintf(g.nick_name, sizeof(g.nick_name), "nick of %s", appid);
    snprintf(g.principal_name, sizeof(g.principal_name), "个人");
    snprintf(g.head_img, sizeof(g.head_img), "http://wx.qlogo.cn/%s", appid);
    snprintf(g.user_name, sizeof(g.user_name), "gh_000000000001");
    return g;
}

/* --- applying grants in a transaction -------------------------------------- */

struct apply_ctx {
    const struct app *app;
    const struct req_meta *meta;
    const struct link_target *t;
    const struct link_grant *g;
    struct link_outcome out;
    struct be_diag diag;
};

static int apply_fn(struct store_conn *c, void *arg)
{
    struct apply_ctx *x = arg;
    return link_apply_grant(c, x->app, x->meta, x->t, x->g, &x->out, &x->diag);
}

static int apply(struct ltest *x, const struct link_target *t, const struct link_grant *g,
                 int64_t now, struct link_outcome *ret, struct be_diag *diag)
{
    struct req_meta m = meta_at(now);
    struct apply_ctx a = {&x->t.app, &m, t, g, {0}, {""}};
    int rc = store_tx(x->t.app.store, apply_fn, &a);
    if (ret)
        *ret = a.out;
    if (diag)
        *diag = a.diag;
    return rc;
}

static int link_to(struct ltest *x, uint64_t owner, const struct link_grant *g, int64_t now,
                   struct link_outcome *ret, struct be_diag *diag)
{
    struct link_target t = {LINK_PURPOSE_LINK, owner, owner, NULL, false, "redirect"};
    return apply(x, &t, g, now, ret, diag);
}

static int login_with(struct ltest *x, const struct link_grant *g, int64_t now,
                      struct link_outcome *ret)
{
    struct link_target t = {LINK_PURPOSE_LOGIN, 0, 0, NULL, true, "redirect"};
    return apply(x, &t, g, now, ret, NULL);
}

static uint64_t new_account(struct ltest *x, const char *email)
{
    struct account a;
    struct be_diag d = {""};
    struct req_meta m = meta_at(time_now());
    assert_int_equal(account_signup(&x->t.app, &m, email, "a fine password 1", &a, &d), 0);
    return a.uin;
}

/* COUNT(*) of a query with one text parameter. */
struct count_ctx {
    const char *sql;
    const char *arg;
    int64_t n;
};

static int count_fn(struct store_conn *c, void *arg)
{
    struct count_ctx *x = arg;
    struct store_result *r = NULL;
    int rc = store_query(c, x->sql, SV_ARGS(SV_TEXT(x->arg)), &r);
    if (rc == BE_OK)
        x->n = store_result_i64(r, 0, 0);
    store_result_free(r);
    return rc;
}

static int64_t count(struct ltest *x, const char *sql, const char *arg)
{
    struct count_ctx c = {sql, arg, -1};
    assert_int_equal(store_run(x->t.app.store, count_fn, &c), 0);
    return c.n;
}

struct count2_ctx {
    const char *a, *b;
    int64_t n;
};

static int history_count_fn(struct store_conn *c, void *arg)
{
    struct count2_ctx *x = arg;
    struct store_result *r = NULL;
    int rc = store_query(c,
                         "SELECT COUNT(*) FROM wechat_link_history WHERE authorizer_appid = $1"
                         " AND event = $2",
                         SV_ARGS(SV_TEXT(x->a), SV_TEXT(x->b)), &r);
    if (rc == BE_OK)
        x->n = store_result_i64(r, 0, 0);
    store_result_free(r);
    return rc;
}

static int64_t history_count(struct ltest *x, const char *appid, const char *event)
{
    struct count2_ctx c = {appid, event, -1};
    assert_int_equal(store_run(x->t.app.store, history_count_fn, &c), 0);
    return c.n;
}

static int64_t audit_count(struct ltest *x, const char *action)
{
    return count(x, "SELECT COUNT(*) FROM audit_log WHERE action = $1", action);
}

static void test_link_and_relink(void **state)
{
    struct ltest *x = *state;
    int64_t now = time_now();
    uint64_t a = new_account(x, "a@example.com");
    struct link_grant g = grant(MP1, LINK_APP_MP, "refreshtoken@@@first");
    struct link_outcome o;
    struct be_diag d = {""};

    assert_int_equal(link_to(x, a, &g, now, &o, &d), 0);
    assert_int_equal(o.change, LINK_CHANGE_CREATED);
    assert_false(o.registered);
    assert_true(o.uin == a);
    assert_int_equal(o.link.state, LINK_ACTIVE);
    assert_int_equal(o.link.app_type, LINK_APP_MP);
    assert_string_equal(o.link.nick_name, "nick of " MP1);
    assert_int_equal(o.link.nfunc, 2);
    assert_int_equal(o.link.func_ids[1], 18);
    assert_true(o.link.has_refresh_token);
    assert_int_equal(o.link.grant_seq, 1);
    assert_int_equal(o.link.linked_at, now);
    assert_int_equal(o.link.last_verified_at, now);
    assert_true(o.link.check_after > now);
    assert_int_equal(history_count(x, MP1, "linked"), 1);
    assert_int_equal(audit_count(x, "wxlink.link"), 1);

    /* the token is sealed at rest and opens again */
    assert_int_equal(count(x,
                           "SELECT COUNT(*) FROM wechat_links WHERE"
                           " CAST(refresh_token_sealed AS TEXT) LIKE $1",
                           "%refreshtoken%"),
                     0);
    char tok[WX_TOKEN_MAX + 1];
    assert_int_equal(link_refresh_token(&x->t.app, &o.link, tok), 0);
    assert_string_equal(tok, "refreshtoken@@@first");

    /* the same grant again (a push after the redirect): one link, no noise */
    assert_int_equal(link_to(x, a, &g, now + 1, &o, &d), 0);
    assert_int_equal(o.change, LINK_CHANGE_REFRESHED);
    assert_int_equal(o.link.grant_seq, 1);
    assert_int_equal(count(x, "SELECT COUNT(*) FROM wechat_links WHERE authorizer_appid = $1", MP1),
                     1);
    assert_int_equal(history_count(x, MP1, "refreshed"), 0);
    assert_int_equal(audit_count(x, "wxlink.refresh"), 0);

    /* new permission sets: a new grant */
    g.func_ids[2] = 19;
    g.nfunc = 3;
    assert_int_equal(link_to(x, a, &g, now + 2, &o, &d), 0);
    assert_int_equal(o.change, LINK_CHANGE_REFRESHED);
    assert_int_equal(o.link.grant_seq, 2);
    assert_int_equal(o.link.authorized_at, now + 2);
    assert_int_equal(history_count(x, MP1, "refreshed"), 1);

    /* the app in another account: refused, nothing written */
    uint64_t b = new_account(x, "b@example.com");
    assert_int_equal(link_to(x, b, &g, now + 3, &o, &d), BE_APP_LINKED_ELSEWHERE);
    assert_non_null(strstr(d.msg, MP1));
    assert_non_null(strstr(d.msg, "unlink"));
    assert_int_equal(count(x, "SELECT COUNT(*) FROM wechat_links WHERE authorizer_appid = $1", MP1),
                     1);

    /* re-authorizing one app refuses another */
    struct link_target t = {LINK_PURPOSE_LINK, a, a, OA1, false, "redirect"};
    assert_int_equal(apply(x, &t, &g, now, &o, &d), BE_INVALID_PARAMETER_VALUE);
    assert_non_null(strstr(d.msg, OA1));

    /* an unknown account */
    struct link_grant oa = grant(OA1, LINK_APP_OA, "refreshtoken@@@oa");
    assert_int_equal(link_to(x, 123456789012ull, &oa, now, &o, &d), BE_NOT_FOUND);
}

static void test_limit(void **state)
{
    struct ltest *x = *state;
    int64_t now = time_now();
    x->t.cfg->link_max_per_account = 2;
    uint64_t a = new_account(x, "limit@example.com");
    struct link_outcome o;
    struct be_diag d = {""};
    struct link_grant g1 = grant("wx0000000000000a01", LINK_APP_OA, "r1");
    struct link_grant g2 = grant("wx0000000000000a02", LINK_APP_OA, "r2");
    struct link_grant g3 = grant("wx0000000000000a03", LINK_APP_OA, "r3");
    assert_int_equal(link_to(x, a, &g1, now, &o, &d), 0);
    assert_int_equal(link_to(x, a, &g2, now, &o, &d), 0);
    assert_int_equal(link_to(x, a, &g3, now, &o, &d), BE_LINK_LIMIT);
    assert_non_null(strstr(d.msg, "link.max_per_account"));
    /* a revoked link still counts; an unlinked one does not */
    assert_int_equal(link_revoke_now(&x->t.app, &(struct req_meta){0, 0, 0, now}, g1.appid,
                                     LINK_REASON_PUSH, 0, NULL, NULL),
                     0);
    assert_int_equal(link_to(x, a, &g3, now, &o, &d), BE_LINK_LIMIT);
    struct req_meta m = meta_at(now);
    assert_int_equal(link_unlink(&x->t.app, &m, a, a, g1.appid, NULL, &d), 0);
    assert_int_equal(link_to(x, a, &g3, now, &o, &d), 0);
    x->t.cfg->link_max_per_account = 10;
}

static void test_login_registers_and_mp_rule(void **state)
{
    struct ltest *x = *state;
    int64_t now = time_now();
    struct link_outcome o, o2;
    struct be_diag d = {""};
    struct link_grant mp1 = grant(MP1, LINK_APP_MP, "refreshtoken@@@mp1");
    struct link_grant mp2 = grant(MP2, LINK_APP_MP, "refreshtoken@@@mp2");
    struct link_grant oa = grant(OA1, LINK_APP_OA, "refreshtoken@@@oa");

    /* scan-to-log-in with an unknown app registers an account through it */
    assert_int_equal(login_with(x, &mp1, now, &o), 0);
    assert_true(o.registered);
    assert_int_equal(o.change, LINK_CHANGE_CREATED);
    struct account acct;
    assert_int_equal(account_get(&x->t.app, o.uin, &acct), 0);
    assert_string_equal(acct.registered_via, "wechat");
    assert_string_equal(acct.registered_appid, MP1);
    assert_string_equal(acct.registered_app_type, "mp");
    assert_string_equal(acct.email, "");
    assert_int_equal(count(x,
                           "SELECT COUNT(*) FROM accounts WHERE registered_appid = $1"
                           " AND email IS NULL AND password_hash IS NULL",
                           MP1),
                     1);
    assert_int_equal(history_count(x, MP1, "registered"), 1);
    assert_int_equal(history_count(x, MP1, "login"), 1);
    assert_int_equal(audit_count(x, "wxlink.register"), 1);

    /* the same app again: the same account, no new one */
    assert_int_equal(login_with(x, &mp1, now + 1, &o2), 0);
    assert_false(o2.registered);
    assert_true(o2.uin == o.uin);
    assert_int_equal(history_count(x, MP1, "login"), 2);
    assert_int_equal(audit_count(x, "wxlink.login"), 1);

    /* the seed's rule: no second mini program, with the way around it */
    assert_int_equal(link_to(x, o.uin, &mp2, now, &o2, &d), BE_MP_REGISTERED);
    assert_non_null(strstr(d.msg, MP1));
    assert_non_null(strstr(d.msg, MP2));
    assert_non_null(strstr(d.msg, "collaborator"));
    assert_non_null(strstr(d.msg, "switch developer"));
    assert_int_equal(count(x, "SELECT COUNT(*) FROM wechat_links WHERE authorizer_appid = $1", MP2),
                     0);
    /* an official account is fine */
    assert_int_equal(link_to(x, o.uin, &oa, now, &o2, &d), 0);
    /* the switch lifts the rule */
    x->t.cfg->link_allow_mp_registered_second_mp = true;
    assert_int_equal(link_to(x, o.uin, &mp2, now, &o2, &d), 0);
    x->t.cfg->link_allow_mp_registered_second_mp = false;

    /* an account registered with email may link several mini programs */
    uint64_t e = new_account(x, "mp@example.com");
    struct link_grant mp3 = grant("wxd000000000000001", LINK_APP_MP, "r3");
    struct link_grant mp4 = grant("wxd000000000000002", LINK_APP_MP, "r4");
    assert_int_equal(link_to(x, e, &mp3, now, &o2, &d), 0);
    assert_int_equal(link_to(x, e, &mp4, now, &o2, &d), 0);

    /* unlinked, its own mini program may come back */
    struct req_meta m = meta_at(now);
    assert_int_equal(link_unlink(&x->t.app, &m, o.uin, o.uin, MP1, NULL, &d), 0);
    assert_int_equal(link_to(x, o.uin, &mp1, now, &o2, &d), 0);
    assert_int_equal(o2.change, LINK_CHANGE_CREATED);
}

static void test_unlink_and_revoke(void **state)
{
    struct ltest *x = *state;
    int64_t now = time_now();
    uint64_t a = new_account(x, "u@example.com");
    struct link_outcome o;
    struct be_diag d = {""};
    struct link l;
    struct link_grant g = grant(OA1, LINK_APP_OA, "refreshtoken@@@one");
    struct req_meta m = meta_at(now);
    assert_int_equal(link_to(x, a, &g, now, &o, &d), 0);

    /* revoke: only the grant the signal saw */
    assert_int_equal(
        link_revoke_now(&x->t.app, &m, OA1, LINK_REASON_PUSH, o.link.grant_seq + 1, NULL, &l),
        BE_NOT_FOUND);
    assert_int_equal(link_revoke_now(&x->t.app, &m, OA1, LINK_REASON_PUSH, o.link.grant_seq,
                                     "unauthorized push", &l),
                     0);
    assert_int_equal(l.state, LINK_REVOKED);
    assert_int_equal(l.reason, LINK_REASON_PUSH);
    assert_false(l.has_refresh_token);
    assert_int_equal(l.revoked_at, now);
    char tok[WX_TOKEN_MAX + 1];
    assert_int_equal(link_refresh_token(&x->t.app, &l, tok), BE_NOT_FOUND);
    assert_int_equal(history_count(x, OA1, "revoked"), 1);
    assert_int_equal(audit_count(x, "wxlink.revoke"), 1);
    /* a second signal finds nothing to revoke */
    assert_int_equal(link_revoke_now(&x->t.app, &m, OA1, LINK_REASON_DETECTED, 0, NULL, NULL),
                     BE_NOT_FOUND);

    /* scan-to-log-in re-authorizes it, for the same account */
    g = grant(OA1, LINK_APP_OA, "refreshtoken@@@two");
    assert_int_equal(login_with(x, &g, now + 5, &o), 0);
    assert_false(o.registered);
    assert_true(o.uin == a);
    assert_int_equal(o.change, LINK_CHANGE_REAUTHORIZED);
    assert_int_equal(o.link.state, LINK_ACTIVE);
    assert_int_equal(o.link.reason, LINK_REASON_NONE);
    assert_int_equal(o.link.grant_seq, 2);
    assert_int_equal(link_refresh_token(&x->t.app, &o.link, tok), 0);
    assert_string_equal(tok, "refreshtoken@@@two");
    assert_int_equal(history_count(x, OA1, "reauthorized"), 1);

    /* unlink: from its owner only */
    uint64_t b = new_account(x, "other@example.com");
    assert_int_equal(link_unlink(&x->t.app, &m, b, b, OA1, NULL, &d), BE_LINK_NOT_FOUND);
    assert_int_equal(link_unlink(&x->t.app, &m, a, a, OA1, &l, &d), 0);
    assert_int_equal(l.state, LINK_UNLINKED);
    assert_false(l.has_refresh_token);
    assert_int_equal(l.unlinked_at, now);
    assert_int_equal(link_unlink(&x->t.app, &m, a, a, OA1, NULL, &d), BE_LINK_NOT_FOUND);
    assert_int_equal(link_get_live(&x->t.app, OA1, &l), BE_NOT_FOUND);
    assert_int_equal(audit_count(x, "wxlink.unlink"), 1);

    /* scan-to-log-in no longer reaches the account: a new one */
    assert_int_equal(login_with(x, &g, now + 6, &o), 0);
    assert_true(o.registered);
    assert_true(o.uin != a);

    /* history, newest first; listing shows live links first */
    struct link_history_entry *h = NULL;
    size_t n = 0, total = 0;
    assert_int_equal(link_history(&x->t.app, a, 0, 10, &h, &n, &total), 0);
    assert_int_equal(total, 5); /* linked, revoked, reauthorized, login, unlinked */
    assert_string_equal(h[0].event, "unlinked");
    assert_string_equal(h[n - 1].event, "linked");
    free(h);
    struct link *ls = NULL;
    assert_int_equal(link_list(&x->t.app, a, 0, 10, &ls, &n, &total), 0);
    assert_int_equal(n, 1);
    assert_int_equal(ls[0].state, LINK_UNLINKED);
    free(ls);
    assert_int_equal(link_list(&x->t.app, a, 0, 0, &ls, &n, &total), BE_INVALID_PARAMETER_VALUE);
}

/* The schema itself refuses a second live link of an app. */
static int second_live_fn(struct store_conn *c, void *arg)
{
    (void)arg;
    return store_exec(c,
                      "INSERT INTO wechat_links (owner_uin, authorizer_appid, app_type, state,"
                      " linked_at, authorized_at, updated_at) VALUES (1, $1, 'oa', 'revoked', 0,"
                      " 0, 0)",
                      SV_ARGS(SV_TEXT(OA1)), NULL);
}

static void test_unique_live(void **state)
{
    struct ltest *x = *state;
    uint64_t a = new_account(x, "uq@example.com");
    struct link_outcome o;
    struct link_grant g = grant(OA1, LINK_APP_OA, "r");
    assert_int_equal(link_to(x, a, &g, time_now(), &o, NULL), 0);
    assert_int_equal(store_tx(x->t.app.store, second_live_fn, NULL), BE_DUPLICATE);
    struct req_meta m = meta_at(time_now());
    assert_int_equal(link_unlink(&x->t.app, &m, a, a, OA1, NULL, NULL), 0);
    assert_int_equal(store_tx(x->t.app.store, second_live_fn, NULL), 0);
}

static void test_check_claims(void **state)
{
    struct ltest *x = *state;
    int64_t now = time_now();
    uint64_t a = new_account(x, "ck@example.com");
    struct link_outcome o;
    x->t.cfg->link_check_interval = 100;
    for (int i = 0; i < 4; i++) {
        char appid[32];
        snprintf(appid, sizeof(appid), "wx00000000000c%04d", i);
        struct link_grant g = grant(appid, LINK_APP_OA, "r");
        assert_int_equal(link_to(x, a, &g, now, &o, NULL), 0);
        assert_in_range(o.link.check_after, now + 90, now + 100);
    }
    struct link got[8];
    size_t n1 = 0, n2 = 0;
    assert_int_equal(link_claim_checks(&x->t.app, "w1", now, 60, 8, got, &n1), 0);
    assert_int_equal(n1, 0); /* none due yet */
    int64_t later = now + 101;
    assert_int_equal(link_claim_checks(&x->t.app, "w1", later, 60, 3, got, &n1), 0);
    assert_int_equal(n1, 3);
    assert_int_equal(link_claim_checks(&x->t.app, "w2", later, 60, 8, got + 3, &n2), 0);
    assert_int_equal(n2, 1);
    for (size_t i = 0; i < 4; i++)
        for (size_t j = i + 1; j < 4; j++)
            assert_true(got[i].id != got[j].id);
    /* nothing left to claim until a lease runs out */
    size_t n3 = 0;
    assert_int_equal(link_claim_checks(&x->t.app, "w3", later, 60, 8, got + 4, &n3), 0);
    assert_int_equal(n3, 0);
    /* a failed check keeps the error and is due again later */
    assert_int_equal(link_check_failed(&x->t.app, got[0].id, "w2", later + 30, "WeChat timeout"),
                     BE_NOT_FOUND);
    assert_int_equal(link_check_failed(&x->t.app, got[0].id, "w1", later + 30, "WeChat timeout"),
                     0);
    struct link l;
    assert_int_equal(link_get_live(&x->t.app, got[0].appid, &l), 0);
    assert_string_equal(l.check_error, "WeChat timeout");
    assert_int_equal(l.check_after, later + 30);
    /* verified: error cleared, next check, profile refreshed; an old grant is refused */
    struct link_grant p = grant(got[1].appid, LINK_APP_OA, "");
    snprintf(p.nick_name, sizeof(p.nick_name), "renamed");
    assert_int_equal(link_mark_verified(&x->t.app, got[1].id, got[1].grant_seq + 1, later,
                                        later + 100, NULL, &p),
                     BE_NOT_FOUND);
    assert_int_equal(link_mark_verified(&x->t.app, got[1].id, got[1].grant_seq, later, later + 100,
                                        "refreshtoken@@@new", &p),
                     0);
    assert_int_equal(link_get_live(&x->t.app, got[1].appid, &l), 0);
    assert_string_equal(l.nick_name, "renamed");
    assert_int_equal(l.last_verified_at, later);
    assert_int_equal(l.check_after, later + 100);
    char tok[WX_TOKEN_MAX + 1];
    assert_int_equal(link_refresh_token(&x->t.app, &l, tok), 0);
    assert_string_equal(tok, "refreshtoken@@@new");
    /* the leases run out: claimable again (not the verified one, due later) */
    assert_int_equal(link_claim_checks(&x->t.app, "w3", later + 61, 60, 8, got + 4, &n3), 0);
    assert_int_equal(n3, 3);
    /* revoked links are not checked */
    struct req_meta m = meta_at(later);
    assert_int_equal(
        link_revoke_now(&x->t.app, &m, got[2].appid, LINK_REASON_DETECTED, 0, "61003", NULL), 0);
    assert_int_equal(link_claim_checks(&x->t.app, "w4", later + 200, 60, 8, got, &n3), 0);
    assert_int_equal(n3, 3);
    assert_int_equal(link_claim_checks(&x->t.app, "", later, 60, 8, got, &n3),
                     BE_INVALID_PARAMETER_VALUE);
    x->t.cfg->link_check_interval = 3600;
}

/* --- attempts ---------------------------------------------------------------- */

static struct link_attempt link_attempt_for(uint64_t uin, const unsigned char *session_hash,
                                            const char *pac)
{
    struct link_attempt a;
    memset(&a, 0, sizeof(a));
    a.purpose = LINK_PURPOSE_LINK;
    a.binding = LINK_BIND_SESSION;
    memcpy(a.binding_hash, session_hash, CRYPTO_SHA256_LEN);
    a.who = (struct principal){PRINCIPAL_ROOT, uin, uin, 1300000000};
    snprintf(a.pre_auth_code, sizeof(a.pre_auth_code), "%s", pac);
    return a;
}

struct attempt_tx {
    struct link_attempt *a;
    const char *text;
    int64_t now;
    uint64_t uin;
};

static int finish_fn(struct store_conn *c, void *arg)
{
    struct attempt_tx *x = arg;
    struct link_outcome o;
    memset(&o, 0, sizeof(o));
    o.change = LINK_CHANGE_REAUTHORIZED;
    o.registered = true;
    o.uin = x->uin;
    snprintf(o.link.appid, sizeof(o.link.appid), MP1);
    return link_attempt_finish(c, x->a, x->now, &o);
}

static int finish(struct ltest *x, struct link_attempt *a, int64_t now, uint64_t uin)
{
    struct attempt_tx t = {a, NULL, now, uin};
    return store_tx(x->t.app.store, finish_fn, &t);
}

static int find_pac_fn(struct store_conn *c, void *arg)
{
    struct attempt_tx *x = arg;
    return link_attempt_find_by_pre_auth_code(c, x->text, x->now, x->a);
}

static int find_pac(struct ltest *x, const char *pac, int64_t now, struct link_attempt *ret)
{
    struct attempt_tx t = {ret, pac, now, 0};
    return store_tx(x->t.app.store, find_pac_fn, &t);
}

static int use_code_fn(struct store_conn *c, void *arg)
{
    struct attempt_tx *x = arg;
    return link_attempt_use_code(c, x->a, x->text, MP1, x->now);
}

static int use_code(struct ltest *x, struct link_attempt *a, const char *code, int64_t now)
{
    struct attempt_tx t = {a, code, now, 0};
    return store_tx(x->t.app.store, use_code_fn, &t);
}

static void test_attempts(void **state)
{
    struct ltest *x = *state;
    int64_t now = time_now();
    unsigned char sess[CRYPTO_SHA256_LEN], other[CRYPTO_SHA256_LEN];
    crypto_sha256("session-1", 9, sess);
    crypto_sha256("session-2", 9, other);
    struct link_attempt a = link_attempt_for(111111111111ull, sess, "preauthcode@@@one"), got;
    struct buf st = BUF_INIT;
    struct be_diag d = {""};
    assert_int_equal(link_attempt_create(&x->t.app, &a, now, &st), 0);
    assert_int_equal(st.len, LINK_ATTEMPT_STATE_LEN);
    assert_int_equal(a.expires_at, now + 600);
    /* only the hash is stored */
    assert_int_equal(count(x,
                           "SELECT COUNT(*) FROM wechat_link_attempts WHERE"
                           " CAST(state_hash AS TEXT) = $1",
                           st.data),
                     0);

    struct link_proof wrong = {other, NULL, NULL}, right = {sess, NULL, NULL};
    assert_int_equal(link_attempt_claim(&x->t.app, "short", &right, now, &got, &d),
                     BE_ATTEMPT_INVALID);
    char unknown[LINK_ATTEMPT_STATE_LEN + 1];
    memset(unknown, 'A', LINK_ATTEMPT_STATE_LEN);
    unknown[LINK_ATTEMPT_STATE_LEN] = '\0';
    assert_int_equal(link_attempt_claim(&x->t.app, unknown, &right, now, &got, &d),
                     BE_ATTEMPT_INVALID);
    assert_non_null(strstr(d.msg, "unknown"));
    assert_int_equal(link_attempt_claim(&x->t.app, st.data, &wrong, now, &got, &d),
                     BE_ATTEMPT_INVALID);
    assert_non_null(strstr(d.msg, "another console session"));
    struct link_proof none = {NULL, NULL, NULL};
    assert_int_equal(link_attempt_claim(&x->t.app, st.data, &none, now, &got, &d),
                     BE_ATTEMPT_INVALID);

    /* claimed once; a concurrent request is refused; released, claimable again */
    assert_int_equal(link_attempt_claim(&x->t.app, st.data, &right, now, &got, &d), 0);
    assert_string_equal(got.pre_auth_code, "preauthcode@@@one");
    assert_true(got.who.uin == 111111111111ull);
    assert_int_equal(link_attempt_claim(&x->t.app, st.data, &right, now, &got, &d),
                     BE_ATTEMPT_USED);
    assert_non_null(strstr(d.msg, "another request"));
    assert_int_equal(link_attempt_release(&x->t.app, &got, "WeChat timed out"), 0);
    assert_int_equal(link_attempt_claim(&x->t.app, st.data, &right, now, &got, &d), 0);

    /* finished: a replay is refused, from this browser or another */
    assert_int_equal(finish(x, &got, now, 444444444444ull), 0);
    assert_int_equal(finish(x, &got, now, 444444444444ull), BE_ATTEMPT_USED);
    assert_int_equal(link_attempt_claim(&x->t.app, st.data, &right, now, &got, &d),
                     BE_ATTEMPT_USED);
    assert_non_null(strstr(d.msg, "already completed"));
    assert_int_equal(link_attempt_claim(&x->t.app, st.data, &wrong, now, &got, &d),
                     BE_ATTEMPT_INVALID);
    assert_int_equal(link_attempt_get(&x->t.app, st.data, now, &got, &d), BE_ATTEMPT_USED);
    buf_release(&st);

    /* expiry */
    struct link_attempt b = link_attempt_for(111111111111ull, sess, "preauthcode@@@two");
    assert_int_equal(link_attempt_create(&x->t.app, &b, now, &st), 0);
    assert_int_equal(link_attempt_get(&x->t.app, st.data, now + 599, &got, &d), 0);
    assert_int_equal(link_attempt_claim(&x->t.app, st.data, &right, now + 600, &got, &d),
                     BE_ATTEMPT_EXPIRED);
    assert_int_equal(link_attempt_get(&x->t.app, st.data, now + 600, &got, &d), BE_ATTEMPT_EXPIRED);
    buf_release(&st);

    /* bound to a principal (started through the signed API) */
    struct link_attempt c = link_attempt_for(222222222222ull, sess, "preauthcode@@@three");
    c.binding = LINK_BIND_PRINCIPAL;
    assert_int_equal(link_attempt_create(&x->t.app, &c, now, &st), 0);
    struct principal me = {PRINCIPAL_ROOT, 222222222222ull, 222222222222ull, 1},
                     them = {PRINCIPAL_ROOT, 333333333333ull, 333333333333ull, 1};
    struct link_proof p_them = {other, &them, NULL}, p_me = {other, &me, NULL};
    assert_int_equal(link_attempt_claim(&x->t.app, st.data, &p_them, now, &got, &d),
                     BE_ATTEMPT_INVALID);
    assert_int_equal(link_attempt_claim(&x->t.app, st.data, &p_me, now, &got, &d), 0);
    buf_release(&st);

    /* bound to the login page's visitor cookie */
    struct buf visitor = BUF_INIT, visitor2 = BUF_INIT;
    link_visitor_new(&visitor);
    link_visitor_new(&visitor2);
    assert_true(link_visitor_valid(visitor.data));
    assert_false(link_visitor_valid("not a cookie"));
    struct link_attempt v;
    memset(&v, 0, sizeof(v));
    v.purpose = LINK_PURPOSE_LOGIN;
    v.binding = LINK_BIND_VISITOR;
    crypto_sha256(visitor.data, visitor.len, v.binding_hash);
    snprintf(v.pre_auth_code, sizeof(v.pre_auth_code), "preauthcode@@@login");
    assert_int_equal(link_attempt_create(&x->t.app, &v, now, &st), 0);
    struct link_proof p_v2 = {sess, NULL, visitor2.data}, p_v = {NULL, NULL, visitor.data};
    assert_int_equal(link_attempt_claim(&x->t.app, st.data, &p_v2, now, &got, &d),
                     BE_ATTEMPT_INVALID);
    assert_non_null(strstr(d.msg, "another browser"));
    assert_int_equal(link_attempt_claim(&x->t.app, st.data, &p_v, now, &got, &d), 0);
    assert_int_equal(got.purpose, LINK_PURPOSE_LOGIN);
    buf_release(&st);
    buf_release(&visitor);
    buf_release(&visitor2);

    /* found by the pre-auth code a push names, used or not, until it expires */
    assert_int_equal(find_pac(x, "preauthcode@@@one", now, &got), 0);
    assert_true(got.used_at != 0);
    assert_true(got.has_result);
    assert_int_equal(got.result_change, LINK_CHANGE_REAUTHORIZED);
    assert_true(got.result_registered);
    assert_true(got.result_uin == 444444444444ull);
    assert_string_equal(got.result_appid, MP1);
    assert_int_equal(find_pac(x, "preauthcode@@@login", now, &got), 0);
    assert_int_equal(got.used_at, 0);
    assert_int_equal(find_pac(x, "preauthcode@@@two", now + 600, &got), BE_NOT_FOUND);
    assert_int_equal(find_pac(x, "preauthcode@@@nope", now, &got), BE_NOT_FOUND);

    /* a code serves one attempt: again for it is fine, for another refused */
    struct link_attempt first, second;
    assert_int_equal(find_pac(x, "preauthcode@@@one", now, &first), 0);
    assert_int_equal(find_pac(x, "preauthcode@@@login", now, &second), 0);
    assert_int_equal(use_code(x, &first, "queryauthcode@@@A", now), 0);
    assert_int_equal(use_code(x, &first, "queryauthcode@@@A", now), 0);
    assert_int_equal(use_code(x, &second, "queryauthcode@@@A", now), BE_AUTH_CODE_USED);
    /* recorded by a push with no attempt: the first attempt takes it */
    assert_int_equal(use_code(x, NULL, "queryauthcode@@@B", now), 0);
    assert_int_equal(use_code(x, &second, "queryauthcode@@@B", now), 0);
    assert_int_equal(use_code(x, &first, "queryauthcode@@@B", now), BE_AUTH_CODE_USED);

    /* purge: a day after expiry */
    assert_int_equal(link_attempt_purge(&x->t.app, now + 600 + LINK_ATTEMPT_KEEP_S - 1), 0);
    assert_int_equal(
        count(x, "SELECT COUNT(*) FROM wechat_link_attempts WHERE purpose = $1", "link"), 3);
    assert_int_equal(link_attempt_purge(&x->t.app, now + 601 + LINK_ATTEMPT_KEEP_S), 0);
    assert_int_equal(
        count(x, "SELECT COUNT(*) FROM wechat_link_attempts WHERE purpose = $1", "link"), 0);
    assert_int_equal(count(x,
                           "SELECT COUNT(*) FROM wechat_auth_codes WHERE authorizer_appid"
                           " = $1",
                           MP1),
                     0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_link_and_relink, setup, teardown),
        cmocka_unit_test_setup_teardown(test_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_login_registers_and_mp_rule, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unlink_and_revoke, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unique_live, setup, teardown),
        cmocka_unit_test_setup_teardown(test_check_claims, setup, teardown),
        cmocka_unit_test_setup_teardown(test_attempts, setup, teardown),
    };
    return cmocka_run_group_tests_name("link", tests, NULL, NULL);
}
