/* devtools/: user codes (pure), and against a real store — SQLite always,
 * PostgreSQL too when BINDERY_TEST_PG_URL is set (its schema `public` is
 * dropped and recreated before every test, so point it at a throw-away
 * database) — the device flow (pending, slow_down, approval, single use,
 * denial, expiry), refresh-token rotation with reuse detection revoking the
 * whole device, temporary credentials (token, expiry, revocation), the
 * devices list, and console sign-in links (allow-list, single use, expiry,
 * a race between two redemptions). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <sys/stat.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "account/account.h"
#include "cli/client.h"
#include "cli/credentials.h"
#include "cli/qr.h"
#include "core/buf.h"
#include "core/crypto.h"
#include "core/timeutil.h"
#include "devtools/consolelink.h"
#include "devtools/device.h"
#include "devtools/usercode.h"
#include "testutil.h"

#define assert_rc(expr, want)                                                                      \
    do {                                                                                           \
        int rc_ = (expr);                                                                          \
        if (rc_ != (want))                                                                         \
            fail_msg("%s: got %s (%d), want %s", #expr, be_err_code(rc_), rc_, be_err_code(want)); \
    } while (0)

#define CLIENT "bindery-cli"
#define T0     1900000000

/* ---- user codes ----------------------------------------------------------- */

static void test_usercode_generate(void **state)
{
    (void)state;
    int seen[26] = {0};
    char code[USERCODE_LEN + 1], again[USERCODE_LEN + 1];
    for (int i = 0; i < 2000; i++) {
        usercode_generate(code);
        assert_int_equal(strlen(code), USERCODE_LEN);
        for (int j = 0; j < USERCODE_LEN; j++) {
            assert_non_null(strchr(USERCODE_ALPHABET, code[j]));
            seen[code[j] - 'A']++;
        }
        assert_rc(usercode_normalize(code, again), BE_OK);
        assert_string_equal(code, again);
    }
    /* Every letter of the alphabet shows up, and no vowel ever does. */
    for (const char *p = USERCODE_ALPHABET; *p; p++)
        assert_true(seen[*p - 'A'] > 0);
    for (const char *p = "AEIOUY"; *p; p++)
        assert_int_equal(seen[*p - 'A'], 0);
    assert_int_equal(strlen(USERCODE_ALPHABET), 20);
}

static void test_usercode_normalize(void **state)
{
    (void)state;
    char out[USERCODE_LEN + 1] = "untouched";
    char shown[USERCODE_DISPLAY_LEN + 1];
    assert_rc(usercode_normalize("BCDF-GHJK", out), BE_OK);
    assert_string_equal(out, "BCDFGHJK");
    assert_rc(usercode_normalize("bcdf ghjk", out), BE_OK);
    assert_string_equal(out, "BCDFGHJK");
    assert_rc(usercode_normalize("  b-c-d-f-g-h-j-k\t", out), BE_OK);
    assert_string_equal(out, "BCDFGHJK");
    usercode_display(out, shown);
    assert_string_equal(shown, "BCDF-GHJK");
    memcpy(out, "untouche", 9);
    static const char *const bad[] = {
        "",
        "BCDF-GHJ",
        "BCDF-GHJKL",
        "BCDA-GHJK", /* vowel */
        "BCDF_GHJK",
        "BCDF-GHJ1",
        "BCDF-GHJ\xc3\x89",                  /* non-ASCII */
        "BCDF-GHJK-----------------------X", /* too long */
        "BCDFGHJKBCDFGHJK",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_rc(usercode_normalize(bad[i], out), BE_INVALID_PARAMETER_VALUE);
        assert_string_equal(out, "untouche");
    }
    assert_rc(usercode_normalize(NULL, out), BE_INVALID_PARAMETER_VALUE);
}

/* ---- the CLI's pieces ---------------------------------------------------- */

static void test_cli_form_and_qr(void **state)
{
    (void)state;
    struct buf f = BUF_INIT, q = BUF_INIT;
    cli_form_add(&f, "grant_type", "urn:ietf:params:oauth:grant-type:device_code");
    cli_form_add(&f, "x y", "a+b&c=d/é~._-");
    assert_string_equal(f.data, "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code"
                                "&x%20y=a%2Bb%26c%3Dd%2F%C3%A9~._-");
    assert_rc(cli_qr_render("http://127.0.0.1:8080/device?user_code=BCDF-GHJK", &q), BE_OK);
    /* Square: every line has as many columns as there are two-row lines
     * times two (give or take the odd last row). */
    size_t lines = 0;
    for (size_t i = 0; i < q.len; i++)
        lines += q.data[i] == '\n';
    assert_true(lines >= 12 && lines <= 40);
    assert_non_null(strstr(q.data, "\u2588"));
    buf_release(&f);
    buf_release(&q);
}

static void test_cli_credentials_file(void **state)
{
    (void)state;
    char dir[64], path[256];
    struct cli_credentials c, back;
    struct be_diag diag = {""};
    struct stat st;
    snprintf(dir, sizeof(dir), "/tmp/bindery-cli-XXXXXX");
    assert_non_null(mkdtemp(dir));
    setenv("XDG_CONFIG_HOME", dir, 1);
    assert_rc(cli_credentials_load(&back, &diag), BE_AUTH_TOKEN);
    assert_non_null(strstr(diag.msg, "run bindery login"));
    memset(&c, 0, sizeof(c));
    snprintf(c.server, sizeof(c.server), "http://127.0.0.1:9");
    snprintf(c.client_id, sizeof(c.client_id), "bindery-cli");
    snprintf(c.tmp_secret_id, sizeof(c.tmp_secret_id), "AKIDxyz");
    snprintf(c.tmp_secret_key, sizeof(c.tmp_secret_key), "key");
    snprintf(c.token, sizeof(c.token), "tok");
    snprintf(c.refresh_token, sizeof(c.refresh_token), "ref");
    c.expires_at = 1900000000;
    assert_rc(cli_credentials_save(&c, NULL), BE_OK);
    assert_rc(cli_credentials_path(path, sizeof(path), NULL), BE_OK);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_rc(cli_credentials_load(&back, NULL), BE_OK);
    assert_string_equal(back.refresh_token, "ref");
    assert_int_equal(back.expires_at, 1900000000);
    /* A file that is not ours is refused with its path named. */
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("{\"server\": 1}", f);
    fclose(f);
    assert_rc(cli_credentials_load(&back, &diag), BE_INVALID_PARAMETER);
    assert_non_null(strstr(diag.msg, path));
    assert_rc(cli_credentials_remove(NULL), BE_OK);
    assert_rc(cli_credentials_remove(NULL), BE_OK);
    unsetenv("XDG_CONFIG_HOME");
    test_rmdir(dir);
}

/* ---- store fixture ------------------------------------------------------ */

struct backend {
    const char *pg_url; /* NULL: SQLite */
};

struct dtest {
    struct test_app t;
    struct account acct;
    struct principal who;
};

static int drop_public(struct store_conn *c, void *arg)
{
    (void)arg;
    int rc = store_exec(c, "DROP SCHEMA IF EXISTS public CASCADE", NULL, 0, NULL);
    return rc ? rc : store_exec(c, "CREATE SCHEMA public", NULL, 0, NULL);
}

static int setup(void **state)
{
    const struct backend *be = *state;
    struct dtest *x = xcalloc(1, sizeof(*x));
    struct be_diag diag = {""};
    snprintf(x->t.dir, sizeof(x->t.dir), "/tmp/bindery-unit-XXXXXX");
    if (!mkdtemp(x->t.dir))
        return -1;
    x->t.cfg = config_defaults(CONFIG_SCOPE_ALL);
    free(x->t.cfg->data_dir);
    x->t.cfg->data_dir = xstrdup(x->t.dir);
    free(x->t.cfg->store);
    if (be->pg_url) {
        struct store *s;
        struct store_options opts = {2, 5};
        if (store_open(be->pg_url, &opts, &s) || store_run(s, drop_public, NULL))
            return -1;
        store_close(s);
        x->t.cfg->store = xstrdup(be->pg_url);
    } else {
        char url[128];
        snprintf(url, sizeof(url), "sqlite://%s/bindery.db", x->t.dir);
        x->t.cfg->store = xstrdup(url);
    }
    x->t.cfg->password_memory_kib = 64;
    x->t.cfg->password_iterations = 1;
    x->t.cfg->tools_poll_interval = 5;
    if (app_open(x->t.cfg, &x->t.app, &diag)) {
        fprintf(stderr, "app_open: %s\n", diag.msg);
        return -1;
    }
    struct req_meta m = {"req", "192.0.2.1", "unit", T0};
    if (account_signup(&x->t.app, &m, "dev@example.com", "a long password 1", &x->acct, &diag))
        return -1;
    x->who = (struct principal){PRINCIPAL_ROOT, x->acct.uin, x->acct.uin, x->acct.app_id};
    *state = x;
    return 0;
}

static int teardown(void **state)
{
    struct dtest *x = *state;
    test_app_close(&x->t);
    free(x);
    return 0;
}

static struct req_meta at(int64_t now)
{
    struct req_meta m = {"req-dev", "192.0.2.7", "bindery-cli/test", now};
    return m;
}

struct count_q {
    const char *sql;
    int64_t n;
};

static int count_fn(struct store_conn *c, void *arg)
{
    struct count_q *q = arg;
    struct store_result *r = NULL;
    int rc = store_query(c, q->sql, NULL, 0, &r);
    if (rc == BE_OK)
        q->n = store_result_i64(r, 0, 0);
    store_result_free(r);
    return rc;
}

/* The single number a query answers (a COUNT). */
static int64_t count(struct dtest *x, const char *sql)
{
    struct count_q q = {sql, -1};
    assert_rc(store_run(x->t.app.store, count_fn, &q), BE_OK);
    return q.n;
}

/* A device login approved by x->who, exchanged for tokens at now. */
static void login(struct dtest *x, int64_t now, struct device_tokens *ret)
{
    struct device_authorization da;
    struct req_meta m = at(now);
    assert_rc(device_authorize(&x->t.app, &m, CLIENT, "bindery", &da, NULL), BE_OK);
    assert_rc(device_decide(&x->t.app, &m, &x->who, da.user_code, true, NULL), BE_OK);
    assert_rc(device_poll(&x->t.app, &m, CLIENT, da.device_code, ret, NULL, NULL), BE_OK);
}

/* ---- device flow ------------------------------------------------------- */

static void test_device_flow(void **state)
{
    struct dtest *x = *state;
    struct app *app = &x->t.app;
    struct device_authorization da;
    struct device_request q;
    struct device_tokens tok;
    struct be_diag diag = {""};
    int64_t interval = 0;
    struct req_meta m = at(T0);
    assert_rc(device_authorize(app, &m, "bad client id!", NULL, &da, &diag),
              BE_INVALID_PARAMETER_VALUE);
    assert_rc(device_authorize(app, &m, CLIENT, "bindery", &da, NULL), BE_OK);
    assert_int_equal(strlen(da.device_code), DEVICE_CODE_LEN);
    assert_int_equal(da.expires_in, 600);
    assert_int_equal(da.interval, 5);
    /* The device code is stored hashed only. */
    assert_int_equal(count(x, "SELECT COUNT(*) FROM devtools_device_codes"), 1);

    /* First poll: pending. Polling again at once: slow_down, +5 s. */
    assert_rc(device_poll(app, &m, CLIENT, da.device_code, &tok, &interval, NULL),
              BE_DEVICE_PENDING);
    m.now = T0 + 2;
    assert_rc(device_poll(app, &m, CLIENT, da.device_code, &tok, &interval, NULL),
              BE_DEVICE_SLOW_DOWN);
    assert_int_equal(interval, 10);
    /* 5 s later is still too fast now: the interval is 10. */
    m.now = T0 + 7;
    assert_rc(device_poll(app, &m, CLIENT, da.device_code, &tok, &interval, NULL),
              BE_DEVICE_SLOW_DOWN);
    assert_int_equal(interval, 15);
    m.now = T0 + 22;
    assert_rc(device_poll(app, &m, CLIENT, da.device_code, &tok, &interval, NULL),
              BE_DEVICE_PENDING);

    /* The console: typed in lower case with a blank, the code is found. */
    char typed[16];
    snprintf(typed, sizeof(typed), "%.4s %.4s", da.user_code, da.user_code + 4);
    for (char *p = typed; *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    assert_rc(device_describe(app, typed, m.now, &q, NULL), BE_OK);
    assert_string_equal(q.client_id, CLIENT);
    assert_string_equal(q.scope, "bindery");
    assert_string_equal(q.source_ip, "192.0.2.7");
    assert_rc(device_describe(app, "BCDF-GHJK", m.now, &q, &diag), BE_USER_CODE_INVALID);
    assert_rc(device_decide(app, &m, &x->who, typed, true, NULL), BE_OK);
    assert_rc(device_decide(app, &m, &x->who, typed, false, NULL), BE_DEVICE_DECIDED);

    /* Another client with the same device code gets nothing. */
    m.now = T0 + 40;
    assert_rc(device_poll(app, &m, "other-tool", da.device_code, &tok, NULL, NULL),
              BE_GRANT_INVALID);
    assert_rc(device_poll(app, &m, CLIENT, da.device_code, &tok, NULL, NULL), BE_OK);
    assert_int_equal(tok.who.uin, x->acct.uin);
    assert_int_equal(tok.who.owner_uin, x->acct.uin);
    assert_int_equal(tok.expires_at, m.now + 7200);
    assert_int_equal(tok.refresh_expires_at, m.now + 30 * 86400);
    assert_int_equal(strlen(tok.tmp_secret_id), DEVCRED_ID_LEN);
    assert_true(devcred_is_tmp_id(tok.tmp_secret_id));
    /* Single use: the second exchange fails. */
    m.now = T0 + 60;
    assert_rc(device_poll(app, &m, CLIENT, da.device_code, &tok, NULL, NULL), BE_GRANT_INVALID);
    assert_int_equal(count(x, "SELECT COUNT(*) FROM devtools_devices"), 1);
    assert_int_equal(
        count(x, "SELECT COUNT(*) FROM audit_log WHERE action = 'devtools:CreateDevice'"), 1);
}

static void test_device_denied_and_expired(void **state)
{
    struct dtest *x = *state;
    struct app *app = &x->t.app;
    struct device_authorization a, b;
    struct device_tokens tok;
    struct req_meta m = at(T0);
    assert_rc(device_authorize(app, &m, CLIENT, NULL, &a, NULL), BE_OK);
    assert_rc(device_authorize(app, &m, CLIENT, NULL, &b, NULL), BE_OK);
    assert_string_not_equal(a.user_code, b.user_code);
    assert_rc(device_decide(app, &m, &x->who, a.user_code, false, NULL), BE_OK);
    m.now = T0 + 10;
    assert_rc(device_poll(app, &m, CLIENT, a.device_code, &tok, NULL, NULL), BE_DEVICE_DENIED);
    assert_rc(device_poll(app, &m, CLIENT, a.device_code, &tok, NULL, NULL), BE_DEVICE_DENIED);
    /* b expires unapproved; approving it late is refused too. */
    m.now = T0 + 600;
    assert_rc(device_poll(app, &m, CLIENT, b.device_code, &tok, NULL, NULL), BE_DEVICE_EXPIRED);
    assert_rc(device_decide(app, &m, &x->who, b.user_code, true, NULL), BE_USER_CODE_INVALID);
    /* Unknown and malformed device codes. */
    assert_rc(device_poll(app, &m, CLIENT, "short", &tok, NULL, NULL), BE_GRANT_INVALID);
    char other[DEVICE_CODE_LEN + 1];
    memset(other, 'A', DEVICE_CODE_LEN);
    other[DEVICE_CODE_LEN] = '\0';
    assert_rc(device_poll(app, &m, CLIENT, other, &tok, NULL, NULL), BE_GRANT_INVALID);
    assert_int_equal(count(x, "SELECT COUNT(*) FROM devtools_devices"), 0);
}

/* ---- refresh rotation and reuse detection ------------------------------------ */

static void test_refresh_rotation_and_reuse(void **state)
{
    struct dtest *x = *state;
    struct app *app = &x->t.app;
    struct device_tokens t1, t2, t3;
    struct devcred cred;
    struct be_diag diag = {""};
    login(x, T0, &t1);
    struct req_meta m = at(T0 + 100);
    assert_rc(device_refresh(app, &m, CLIENT, t1.refresh_token, &t2, NULL), BE_OK);
    assert_string_not_equal(t1.refresh_token, t2.refresh_token);
    assert_string_not_equal(t1.tmp_secret_id, t2.tmp_secret_id);
    assert_string_equal(t1.device_id, t2.device_id);
    assert_rc(device_refresh(app, &m, "other-tool", t2.refresh_token, &t3, NULL), BE_GRANT_INVALID);
    assert_rc(devcred_resolve(app, t2.tmp_secret_id, m.now, &cred), BE_OK);
    assert_string_equal(cred.secret_key, t2.tmp_secret_key);
    /* t1's refresh token again: reuse, the whole device ends. */
    m.now = T0 + 200;
    assert_rc(device_refresh(app, &m, CLIENT, t1.refresh_token, &t3, &diag), BE_GRANT_INVALID);
    assert_non_null(strstr(diag.msg, "already used"));
    assert_rc(device_refresh(app, &m, CLIENT, t2.refresh_token, &t3, &diag), BE_GRANT_INVALID);
    assert_non_null(strstr(diag.msg, "revoked"));
    assert_rc(devcred_resolve(app, t2.tmp_secret_id, m.now, &cred), BE_AUTH_SECRET_ID);
    assert_rc(devcred_resolve(app, t1.tmp_secret_id, m.now, &cred), BE_AUTH_SECRET_ID);
    assert_int_equal(count(x, "SELECT COUNT(*) FROM devtools_credentials"), 0);
    assert_int_equal(count(x, "SELECT COUNT(*) FROM devtools_devices WHERE revoked_reason ="
                              " 'refresh_token_reused'"),
                     1);
    assert_int_equal(
        count(x, "SELECT COUNT(*) FROM audit_log WHERE action = 'devtools:RefreshTokenReused'"), 1);
}

static void test_refresh_expiry(void **state)
{
    struct dtest *x = *state;
    struct device_tokens t1, t2;
    login(x, T0, &t1);
    struct req_meta m = at(T0 + 30 * 86400);
    assert_rc(device_refresh(&x->t.app, &m, CLIENT, t1.refresh_token, &t2, NULL), BE_GRANT_INVALID);
    /* An expired refresh token is not a reuse: the device lives on. */
    assert_int_equal(count(x, "SELECT COUNT(*) FROM devtools_devices WHERE revoked_at = 0"), 1);
}

struct race {
    struct app *app;
    const char *refresh;
    int rc;
};

static void *race_refresh(void *arg)
{
    struct race *r = arg;
    struct device_tokens t;
    struct req_meta m = at(T0 + 50);
    r->rc = device_refresh(r->app, &m, CLIENT, r->refresh, &t, NULL);
    return NULL;
}

/* Two uses of one refresh token at once: at most one wins, and the other
 * counts as reuse (revoking the device), whichever order the store picks. */
static void test_refresh_race(void **state)
{
    struct dtest *x = *state;
    struct device_tokens t1;
    login(x, T0, &t1);
    struct race a = {&x->t.app, t1.refresh_token, -1}, b = a;
    pthread_t ta, tb;
    pthread_create(&ta, NULL, race_refresh, &a);
    pthread_create(&tb, NULL, race_refresh, &b);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    assert_true((a.rc == BE_OK) + (b.rc == BE_OK) <= 1);
    assert_true(a.rc == BE_GRANT_INVALID || b.rc == BE_GRANT_INVALID);
    assert_int_equal(count(x, "SELECT COUNT(*) FROM devtools_devices WHERE revoked_at = 0"), 0);
}

/* ---- temporary credentials --------------------------------------------------- */

static void test_devcred(void **state)
{
    struct dtest *x = *state;
    struct app *app = &x->t.app;
    struct device_tokens t;
    struct devcred cred;
    login(x, T0, &t);
    assert_rc(devcred_resolve(app, t.tmp_secret_id, T0 + 1, &cred), BE_OK);
    assert_int_equal(cred.who.uin, x->acct.uin);
    assert_int_equal(cred.who.kind, PRINCIPAL_ROOT);
    assert_rc(devcred_check(&cred, t.token, T0 + 1), BE_OK);
    assert_rc(devcred_check(&cred, NULL, T0 + 1), BE_AUTH_TOKEN);
    assert_rc(devcred_check(&cred, "", T0 + 1), BE_AUTH_TOKEN);
    char wrong[DEVCRED_TOKEN_LEN + 1];
    memcpy(wrong, t.token, sizeof(wrong));
    wrong[0] = wrong[0] == 'A' ? 'B' : 'A';
    assert_rc(devcred_check(&cred, wrong, T0 + 1), BE_AUTH_TOKEN);
    assert_rc(devcred_check(&cred, t.token, t.expires_at), BE_AUTH_TOKEN);
    /* Unknown ids, API-key-shaped ids. */
    char unknown[DEVCRED_ID_LEN + 1];
    memcpy(unknown, t.tmp_secret_id, sizeof(unknown));
    unknown[10] = unknown[10] == 'x' ? 'y' : 'x';
    assert_rc(devcred_resolve(app, unknown, T0, &cred), BE_AUTH_SECRET_ID);
    assert_false(devcred_is_tmp_id("AKID0123456789012345678901234567890A"));
    /* The secret is stored sealed, never in the clear. */
    assert_int_equal(count(x, "SELECT COUNT(*) FROM devtools_credentials"), 1);
    /* Revocation by the devices list kills it at once. */
    struct device_info *list = NULL;
    size_t n = 0;
    assert_rc(device_list(app, x->acct.uin, 0, &list, &n), BE_OK);
    assert_int_equal(n, 1);
    assert_string_equal(list[0].device_id, t.device_id);
    assert_int_equal(list[0].revoked_at, 0);
    free(list);
    struct principal stranger = {PRINCIPAL_ROOT, 42, 42, 42};
    struct req_meta m = at(T0 + 5);
    assert_rc(device_revoke(app, &m, &stranger, 0, t.device_id, NULL), BE_DEVICE_NOT_FOUND);
    assert_rc(device_revoke(app, &m, &x->who, 0, t.device_id, NULL), BE_OK);
    assert_rc(devcred_resolve(app, t.tmp_secret_id, T0 + 6, &cred), BE_AUTH_SECRET_ID);
    struct device_tokens t2;
    assert_rc(device_refresh(app, &m, CLIENT, t.refresh_token, &t2, NULL), BE_GRANT_INVALID);
    assert_rc(device_list(app, x->acct.uin, 0, &list, &n), BE_OK);
    assert_string_equal(list[0].revoked_reason, "revoked");
    free(list);
}

static void test_revoke_by_token(void **state)
{
    struct dtest *x = *state;
    struct device_tokens a, b;
    struct devcred cred;
    login(x, T0, &a);
    login(x, T0, &b);
    struct req_meta m = at(T0 + 1);
    assert_rc(device_revoke_token(&x->t.app, &m, "not a token"), BE_OK);
    assert_rc(device_revoke_token(&x->t.app, &m, a.refresh_token), BE_OK);
    assert_rc(devcred_resolve(&x->t.app, a.tmp_secret_id, T0 + 2, &cred), BE_AUTH_SECRET_ID);
    /* Only a's device: b lives on, until its Token is revoked. */
    assert_rc(devcred_resolve(&x->t.app, b.tmp_secret_id, T0 + 2, &cred), BE_OK);
    assert_rc(device_revoke_token(&x->t.app, &m, b.token), BE_OK);
    assert_rc(devcred_resolve(&x->t.app, b.tmp_secret_id, T0 + 2, &cred), BE_AUTH_SECRET_ID);
}

/* ---- console sign-in links ------------------------------------------------- */

static void test_console_link_pages(void **state)
{
    (void)state;
    static const char *const good[] = {"/account", "/center", "/devices", "/envs", "/envs/env-1"};
    static const char *const bad[] = {
        "",         "account",          "//evil.example",
        "/\\evil",  "/account?x=1",     "/account#x",
        "/envs/",   "/envs/../account", "https://evil.example/account",
        "/unknown", "/account/x"};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        assert_rc(console_link_check_page(good[i], NULL), BE_OK);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (console_link_check_page(bad[i], NULL) != BE_CONSOLE_PAGE)
            fail_msg("page \"%s\" was accepted", bad[i]);
}

static void test_console_link(void **state)
{
    struct dtest *x = *state;
    struct app *app = &x->t.app;
    struct buf code = BUF_INIT, code2 = BUF_INIT;
    struct console_link l;
    struct be_diag diag = {""};
    int64_t exp = 0;
    struct req_meta m = at(T0);
    assert_rc(console_link_create(app, &m, &x->who, "//evil", &code, &exp, NULL), BE_CONSOLE_PAGE);
    assert_rc(console_link_create(app, &m, &x->who, "/center", &code, &exp, NULL), BE_OK);
    assert_int_equal(code.len, CONSOLE_LINK_CODE_LEN);
    assert_int_equal(exp, T0 + 60);
    assert_rc(console_link_peek(app, code.data, T0 + 1, &l), BE_OK);
    assert_string_equal(l.dest, "/center");
    m.now = T0 + 59;
    assert_rc(console_link_redeem(app, &m, code.data, &l, NULL), BE_OK);
    assert_int_equal(l.who.uin, x->acct.uin);
    assert_string_equal(l.dest, "/center");
    assert_rc(console_link_redeem(app, &m, code.data, &l, &diag), BE_CONSOLE_LINK_INVALID);
    assert_true(!strncmp(diag.msg, "used", 4));
    assert_rc(console_link_peek(app, code.data, T0 + 59, &l), BE_CONSOLE_LINK_INVALID);
    /* Expiry: at 60 s the link is dead. */
    m.now = T0;
    assert_rc(console_link_create(app, &m, &x->who, NULL, &code2, &exp, NULL), BE_OK);
    m.now = T0 + 60;
    assert_rc(console_link_redeem(app, &m, code2.data, &l, &diag), BE_CONSOLE_LINK_INVALID);
    assert_true(!strncmp(diag.msg, "expired", 7));
    assert_rc(console_link_redeem(app, &m, "nope", &l, &diag), BE_CONSOLE_LINK_INVALID);
    assert_true(!strncmp(diag.msg, "unknown", 7));
    assert_int_equal(
        count(x, "SELECT COUNT(*) FROM audit_log WHERE action = 'devtools:ConsoleSignIn'"), 4);
    assert_int_equal(count(x, "SELECT COUNT(*) FROM audit_log WHERE action ="
                              " 'devtools:CreateConsoleLoginUrl'"),
                     2);
    assert_int_equal(count(x, "SELECT COUNT(*) FROM audit_log WHERE action ="
                              " 'devtools:ConsoleSignIn' AND result = 'success'"),
                     1);
    buf_release(&code);
    buf_release(&code2);
}

struct link_race {
    struct app *app;
    const char *code;
    int rc;
};

static void *race_redeem(void *arg)
{
    struct link_race *r = arg;
    struct console_link l;
    struct req_meta m = at(T0 + 1);
    r->rc = console_link_redeem(r->app, &m, r->code, &l, NULL);
    return NULL;
}

static void test_console_link_race(void **state)
{
    struct dtest *x = *state;
    struct buf code = BUF_INIT;
    int64_t exp;
    struct req_meta m = at(T0);
    assert_rc(console_link_create(&x->t.app, &m, &x->who, NULL, &code, &exp, NULL), BE_OK);
    struct link_race r[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        r[i] = (struct link_race){&x->t.app, code.data, -1};
        pthread_create(&th[i], NULL, race_redeem, &r[i]);
    }
    int wins = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        wins += r[i].rc == BE_OK;
        assert_true(r[i].rc == BE_OK || r[i].rc == BE_CONSOLE_LINK_INVALID);
    }
    assert_int_equal(wins, 1);
    buf_release(&code);
}

#define STORE_TESTS(X)                                                                             \
    X(test_device_flow)                                                                            \
    X(test_device_denied_and_expired)                                                              \
    X(test_refresh_rotation_and_reuse)                                                             \
    X(test_refresh_expiry)                                                                         \
    X(test_refresh_race)                                                                           \
    X(test_devcred)                                                                                \
    X(test_revoke_by_token)                                                                        \
    X(test_console_link)                                                                           \
    X(test_console_link_race)

int main(void)
{
    static struct backend sqlite_be = {NULL}, pg_be = {NULL};
    const struct CMUnitTest pure[] = {
        cmocka_unit_test(test_usercode_generate),    cmocka_unit_test(test_usercode_normalize),
        cmocka_unit_test(test_console_link_pages),   cmocka_unit_test(test_cli_form_and_qr),
        cmocka_unit_test(test_cli_credentials_file),
    };
    int failed = cmocka_run_group_tests_name("devtools/pure", pure, NULL, NULL);
#define SQLITE_TEST(t) cmocka_unit_test_prestate_setup_teardown(t, setup, teardown, &sqlite_be),
    const struct CMUnitTest sqlite_tests[] = {STORE_TESTS(SQLITE_TEST)};
    failed += cmocka_run_group_tests_name("devtools/sqlite", sqlite_tests, NULL, NULL);
    pg_be.pg_url = getenv("BINDERY_TEST_PG_URL");
    if (pg_be.pg_url && *pg_be.pg_url) {
#define PG_TEST(t) cmocka_unit_test_prestate_setup_teardown(t, setup, teardown, &pg_be),
        const struct CMUnitTest pg_tests[] = {STORE_TESTS(PG_TEST)};
        failed += cmocka_run_group_tests_name("devtools/postgres", pg_tests, NULL, NULL);
    } else {
        print_message("[  SKIPPED ] devtools/postgres: BINDERY_TEST_PG_URL is not set\n");
    }
    return failed ? 1 : 0;
}
