/* The store contract suite: every test runs against SQLite (a fresh file in
 * a temporary directory) and, when BINDERY_TEST_PG_URL is set, again against
 * that PostgreSQL database. The PostgreSQL run drops and recreates the schema
 * `public` before every test, so point it at a throw-away database only
 * (scripts/pg-cluster.sh start DIR makes one). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/err.h"
#include "core/log.h"
#include "store/store.h"
#include "core/banned.h"

#define POOL_SIZE          8
#define COUNTER_THREADS    8
#define COUNTER_INCREMENTS 200
#define MIGRATE_THREADS    4

struct backend {
    const char *name;
    enum store_dialect dialect;
    const char *pg_url; /* PostgreSQL only */
};

struct fixture {
    const struct backend *be;
    char dir[64]; /* SQLite: the temporary directory */
    char url[512];
    struct store *s;
};

/* ---- assertions ---- */

static const char *rc_name(int rc)
{
    return rc == BE_OK ? "OK" : be_err_code(rc);
}

/* Compares store return codes, printing both by name. */
#define assert_rc(expr, want)                                                                      \
    do {                                                                                           \
        int rc_ = (expr), want_ = (want);                                                          \
        if (rc_ != want_)                                                                          \
            fail_msg("%s\n  got  %d (%s)\n  want %d (%s)", #expr, rc_, rc_name(rc_), want_,        \
                     rc_name(want_));                                                              \
    } while (0)

#define assert_i64(actual, want)                                                                   \
    do {                                                                                           \
        int64_t a_ = (actual), w_ = (want);                                                        \
        if (a_ != w_)                                                                              \
            fail_msg("%s\n  got  %" PRId64 "\n  want %" PRId64, #actual, a_, w_);                  \
    } while (0)

/* ---- helpers: one statement on a pooled connection ---- */

struct call {
    const char *sql;
    const struct store_val *params;
    size_t n;
    int64_t changes;
    struct store_result *r;
};

static int call_exec(struct store_conn *c, void *arg)
{
    struct call *k = arg;
    return store_exec(c, k->sql, k->params, k->n, &k->changes);
}

static int call_query(struct store_conn *c, void *arg)
{
    struct call *k = arg;
    return store_query(c, k->sql, k->params, k->n, &k->r);
}

static int exec1(struct store *s, const char *sql, const struct store_val *params, size_t n,
                 int64_t *ret_changes)
{
    struct call k = {sql, params, n, 0, NULL};
    int rc = store_run(s, call_exec, &k);
    if (rc == BE_OK && ret_changes)
        *ret_changes = k.changes;
    return rc;
}

static int query1(struct store *s, const char *sql, const struct store_val *params, size_t n,
                  struct store_result **ret_result)
{
    struct call k = {sql, params, n, 0, NULL};
    int rc = store_run(s, call_query, &k);
    if (rc == BE_OK)
        *ret_result = k.r;
    return rc;
}

/* The single integer a query returns (fails the test on error). */
static int64_t scalar(struct store *s, const char *sql, const struct store_val *params, size_t n)
{
    struct store_result *r = NULL;
    assert_rc(query1(s, sql, params, n, &r), BE_OK);
    assert_int_equal(store_result_rows(r), 1);
    int64_t v = store_result_i64(r, 0, 0);
    store_result_free(r);
    return v;
}

/* The same without parameters. */
static int64_t scalar0(struct store *s, const char *sql)
{
    return scalar(s, sql, NULL, 0);
}

static int insert_account(struct store_conn *c, int64_t uin, const char *email)
{
    return store_exec(c,
                      "INSERT INTO accounts (uin, app_id, email, name, created_at) "
                      "VALUES ($1, $2, $3, $4, $5)",
                      SV_ARGS(SV_I64(uin), SV_I64(uin + 1000000), SV_TEXT(email), SV_TEXT("test"),
                              SV_I64(1700000000)),
                      NULL);
}

static int insert_key(struct store_conn *c, const char *secret_id, int64_t uin)
{
    static const unsigned char sealed[] = {0x00, 0x01, 0x02, 0x00};
    return store_exec(c,
                      "INSERT INTO access_keys (secret_id, owner_uin, uin, secret_sealed, status,"
                      " created_at) VALUES ($1, $2, $2, $3, 'Enabled', $4)",
                      SV_ARGS(SV_TEXT(secret_id), SV_I64(uin), SV_BLOB(sealed, sizeof(sealed)),
                              SV_I64(1700000000)),
                      NULL);
}

/* ---- fixture ---- */

static void remove_dir(const char *path)
{
    DIR *d = opendir(path);
    struct dirent *e;
    char file[512];
    if (!d)
        return;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        snprintf(file, sizeof(file), "%s/%s", path, e->d_name);
        unlink(file);
    }
    closedir(d);
    rmdir(path);
}

static int drop_public(struct store_conn *c, void *arg)
{
    (void)arg;
    int rc = store_exec(c, "DROP SCHEMA IF EXISTS public CASCADE", NULL, 0, NULL);
    if (rc == BE_OK)
        rc = store_exec(c, "CREATE SCHEMA public", NULL, 0, NULL);
    return rc;
}

/* Empties the database: a new SQLite file, or a new PostgreSQL schema. */
static void reset_db(struct fixture *f)
{
    if (f->be->dialect == STORE_SQLITE) {
        static const char *const files[] = {"store.db", "store.db-wal", "store.db-shm"};
        char path[512];
        for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
            snprintf(path, sizeof(path), "%s/%s", f->dir, files[i]);
            unlink(path);
        }
        return;
    }
    struct store *s = NULL;
    struct store_options opts = {1, 5};
    assert_rc(store_open(f->url, &opts, &s), BE_OK);
    assert_rc(store_run(s, drop_public, NULL), BE_OK);
    store_close(s);
}

static int setup(void **state)
{
    const struct backend *be = *state;
    struct fixture *f = calloc(1, sizeof(*f));
    struct store_options opts = {POOL_SIZE, 5};
    int version = -1;
    assert_non_null(f);
    f->be = be;
    if (be->dialect == STORE_SQLITE) {
        snprintf(f->dir, sizeof(f->dir), "/tmp/bindery-test-store-XXXXXX");
        assert_non_null(mkdtemp(f->dir));
        snprintf(f->url, sizeof(f->url), "sqlite://%s/store.db", f->dir);
    } else {
        snprintf(f->url, sizeof(f->url), "%s", be->pg_url);
    }
    reset_db(f);
    assert_rc(store_open(f->url, &opts, &f->s), BE_OK);
    assert_rc(store_migrate(f->s, &version), BE_OK);
    assert_int_equal(version, store_schema_version_latest());
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    store_close(f->s);
    if (f->dir[0])
        remove_dir(f->dir);
    free(f);
    return 0;
}

/* A table of every type, with the dialect's blob type. */
static void create_vals(struct store *s)
{
    assert_rc(exec1(s,
                    store_dialect(s) == STORE_SQLITE
                        ? "CREATE TABLE vals (id BIGINT PRIMARY KEY, i BIGINT, t TEXT, b BLOB)"
                        : "CREATE TABLE vals (id BIGINT PRIMARY KEY, i BIGINT, t TEXT, b BYTEA)",
                    NULL, 0, NULL),
              BE_OK);
}

/* ---- opening and migrating ---- */

static void test_dialect(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(store_dialect(f->s), f->be->dialect);
    assert_string_equal(store_backend_name(f->s), f->be->name);
}

static void test_open_bad_urls(void **state)
{
    (void)state;
    struct store *s = NULL;
    struct store_options opts = {1, 2};
    assert_rc(store_open("", &opts, &s), BE_INVALID_PARAMETER);
    assert_rc(store_open("mysql://localhost/bindery", &opts, &s), BE_INVALID_PARAMETER);
    assert_rc(store_open("sqlite:relative.db", &opts, &s), BE_INVALID_PARAMETER);
    assert_rc(store_open("SQLITE2:///tmp/x.db", &opts, &s), BE_INVALID_PARAMETER);
    assert_rc(store_open("sqlite:///nonexistent-bindery-dir/sub/store.db", &opts, &s),
              BE_STORE_UNAVAILABLE);
    assert_rc(store_open("postgres://[::1/bindery", &opts, &s), BE_INVALID_PARAMETER);
    assert_rc(store_open("postgresql://u@127.0.0.1:5432/db?nosuchoption=1", &opts, &s),
              BE_INVALID_PARAMETER);
    /* Port 1 refuses at once: nothing listens there. */
    assert_rc(store_open("postgres://postgres@127.0.0.1:1/bindery", &opts, &s),
              BE_STORE_UNAVAILABLE);
    assert_null(s); /* never written on failure */
}

static void test_migrate_idempotent(void **state)
{
    struct fixture *f = *state;
    int v1 = -1, v2 = -1;
    assert_rc(store_migrate(f->s, &v1), BE_OK);
    assert_rc(store_migrate(f->s, NULL), BE_OK);
    assert_rc(store_migrate(f->s, &v2), BE_OK);
    assert_int_equal(v1, store_schema_version_latest());
    assert_int_equal(v2, store_schema_version_latest());
    assert_i64(scalar0(f->s, "SELECT MAX(version) FROM schema_migrations"),
               store_schema_version_latest());
    assert_i64(scalar0(f->s, "SELECT COUNT(*) - COUNT(DISTINCT version) FROM schema_migrations"),
               0);
    static const char *const tables[] = {
        "SELECT COUNT(*) FROM accounts",       "SELECT COUNT(*) FROM sessions",
        "SELECT COUNT(*) FROM access_keys",    "SELECT COUNT(*) FROM audit_log",
        "SELECT COUNT(*) FROM login_throttle",
    };
    for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++)
        assert_i64(scalar0(f->s, tables[i]), 0);
}

struct migrate_thread {
    const char *url;
    int rc, version;
};

static void *migrate_main(void *arg)
{
    struct migrate_thread *t = arg;
    struct store *s = NULL;
    struct store_options opts = {2, 10};
    t->rc = store_open(t->url, &opts, &s);
    if (t->rc == BE_OK)
        t->rc = store_migrate(s, &t->version);
    store_close(s);
    return NULL;
}

/* "Safe when several instances start at once." */
static void test_migrate_concurrent(void **state)
{
    struct fixture *f = *state;
    struct migrate_thread t[MIGRATE_THREADS];
    pthread_t tid[MIGRATE_THREADS];
    store_close(f->s);
    f->s = NULL;
    reset_db(f);
    for (int i = 0; i < MIGRATE_THREADS; i++) {
        t[i] = (struct migrate_thread){f->url, -1, -1};
        assert_int_equal(pthread_create(&tid[i], NULL, migrate_main, &t[i]), 0);
    }
    for (int i = 0; i < MIGRATE_THREADS; i++)
        pthread_join(tid[i], NULL);
    for (int i = 0; i < MIGRATE_THREADS; i++) {
        assert_rc(t[i].rc, BE_OK);
        assert_int_equal(t[i].version, store_schema_version_latest());
    }
    struct store_options opts = {POOL_SIZE, 5};
    assert_rc(store_open(f->url, &opts, &f->s), BE_OK);
    assert_i64(scalar0(f->s, "SELECT COUNT(*) - COUNT(DISTINCT version) FROM schema_migrations"),
               0);
}

/* ---- values ---- */

static void test_round_trip_types(void **state)
{
    struct fixture *f = *state;
    static const unsigned char nuls[] = {0x00, 0x01, 0x00, 0xff, 0x00};
    static const char utf8[] = "h\xc3\xa9llo, w\xc3\xb6rld \xe2\x80\x94 \xe6\xbc\xa2\xe5\xad\x97 "
                               "\xf0\x9f\x8e\x89";
    static const char tricky[] = "quote ' and \" and \\ and $1 and ?1 and %s";
    unsigned char all[256];
    for (int i = 0; i < 256; i++)
        all[i] = (unsigned char)i;
    const int64_t big = INT64_C(9007199254740993); /* 2^53 + 1: not a double */
    const char *ins = "INSERT INTO vals (id, i, t, b) VALUES ($1, $2, $3, $4)";

    create_vals(f->s);
    assert_rc(exec1(f->s, ins, SV_ARGS(SV_I64(1), SV_I64(0), SV_TEXT(""), SV_BLOB("", 0)), NULL),
              BE_OK);
    assert_rc(exec1(f->s, ins,
                    SV_ARGS(SV_I64(2), SV_I64(-1), SV_TEXT(utf8), SV_BLOB(nuls, sizeof(nuls))),
                    NULL),
              BE_OK);
    assert_rc(exec1(f->s, ins,
                    SV_ARGS(SV_I64(3), SV_I64(INT64_MIN), SV_TEXT(tricky), SV_BLOB(all, 256)),
                    NULL),
              BE_OK);
    assert_rc(exec1(f->s, ins,
                    SV_ARGS(SV_I64(4), SV_I64(INT64_MAX), SV_TEXTN("abcdef", 3), SV_BLOB(all, 1)),
                    NULL),
              BE_OK);
    assert_rc(exec1(f->s, ins, SV_ARGS(SV_I64(5), SV_NULL, SV_TEXT(NULL), SV_NULL), NULL), BE_OK);
    assert_rc(exec1(f->s, ins, SV_ARGS(SV_I64(6), SV_I64(big), SV_NULL, SV_NULL), NULL), BE_OK);

    struct store_result *r = NULL;
    size_t len = 99;
    assert_rc(query1(f->s, "SELECT id, i, t, b FROM vals ORDER BY id", NULL, 0, &r), BE_OK);
    assert_int_equal(store_result_rows(r), 6);
    assert_int_equal(store_result_cols(r), 4);

    /* Row 1: zero, empty text, empty blob: present, not NULL. */
    assert_false(store_result_is_null(r, 0, 1));
    assert_i64(store_result_i64(r, 0, 1), 0);
    assert_false(store_result_is_null(r, 0, 2));
    assert_string_equal(store_result_text(r, 0, 2), "");
    assert_false(store_result_is_null(r, 0, 3));
    assert_non_null(store_result_blob(r, 0, 3, &len));
    assert_int_equal(len, 0);

    /* Row 2: negative, UTF-8, NUL bytes. */
    assert_i64(store_result_i64(r, 1, 1), -1);
    assert_string_equal(store_result_text(r, 1, 2), utf8);
    const void *b = store_result_blob(r, 1, 3, &len);
    assert_int_equal(len, sizeof(nuls));
    assert_memory_equal(b, nuls, sizeof(nuls));

    /* Row 3: the smallest integer, quotes and placeholders in text, every byte. */
    assert_i64(store_result_i64(r, 2, 1), INT64_MIN);
    assert_string_equal(store_result_text(r, 2, 2), tricky);
    b = store_result_blob(r, 2, 3, &len);
    assert_int_equal(len, 256);
    assert_memory_equal(b, all, 256);

    /* Row 4: the largest integer, a counted string. */
    assert_i64(store_result_i64(r, 3, 1), INT64_MAX);
    assert_string_equal(store_result_text(r, 3, 2), "abc");
    b = store_result_blob(r, 3, 3, &len);
    assert_int_equal(len, 1);
    assert_int_equal(((const unsigned char *)b)[0], 0);

    /* Row 5: NULL everywhere. */
    for (size_t col = 1; col < 4; col++) {
        assert_true(store_result_is_null(r, 4, col));
        assert_i64(store_result_i64(r, 4, col), 0);
        assert_null(store_result_text(r, 4, col));
        len = 99;
        assert_null(store_result_blob(r, 4, col, &len));
        assert_int_equal(len, 0);
    }

    /* Row 6: beyond double precision. */
    assert_i64(store_result_i64(r, 5, 1), big);
    store_result_free(r);

    /* Parameters of every type compare equal to what was stored. */
    assert_i64(scalar(f->s, "SELECT id FROM vals WHERE i = $1", SV_ARGS(SV_I64(INT64_MIN))), 3);
    assert_i64(scalar(f->s, "SELECT id FROM vals WHERE t = $1", SV_ARGS(SV_TEXT(utf8))), 2);
    assert_i64(
        scalar(f->s, "SELECT id FROM vals WHERE b = $1", SV_ARGS(SV_BLOB(nuls, sizeof(nuls)))), 2);
    assert_i64(scalar(f->s, "SELECT COUNT(*) FROM vals WHERE t IS NULL", NULL, 0), 2);
}

static void test_large_values(void **state)
{
    struct fixture *f = *state;
    const size_t n = 1 << 20;
    unsigned char *blob = malloc(n);
    char *text = malloc(n + 1);
    assert_non_null(blob);
    assert_non_null(text);
    for (size_t i = 0; i < n; i++) {
        blob[i] = (unsigned char)(i * 7 + (i >> 8));
        text[i] = (char)('a' + i % 26);
    }
    text[n] = '\0';
    create_vals(f->s);
    assert_rc(exec1(f->s, "INSERT INTO vals (id, t, b) VALUES (1, $1, $2)",
                    SV_ARGS(SV_TEXT(text), SV_BLOB(blob, n)), NULL),
              BE_OK);
    struct store_result *r = NULL;
    size_t len = 0;
    assert_rc(query1(f->s, "SELECT t, b FROM vals WHERE id = 1", NULL, 0, &r), BE_OK);
    assert_int_equal(strlen(store_result_text(r, 0, 0)), n);
    assert_memory_equal(store_result_text(r, 0, 0), text, n);
    const void *b = store_result_blob(r, 0, 1, &len);
    assert_int_equal(len, n);
    assert_memory_equal(b, blob, n);
    store_result_free(r);
    free(blob);
    free(text);
}

/* Booleans and aggregates read as integers on every back end. */
static void test_integer_expressions(void **state)
{
    struct fixture *f = *state;
    create_vals(f->s);
    for (int i = 1; i <= 4; i++)
        assert_rc(exec1(f->s, "INSERT INTO vals (id, i) VALUES ($1, $2)",
                        SV_ARGS(SV_I64(i), SV_I64(INT64_C(1) << 40)), NULL),
                  BE_OK);
    assert_i64(scalar(f->s, "SELECT EXISTS (SELECT 1 FROM vals WHERE id = $1)", SV_ARGS(SV_I64(2))),
               1);
    assert_i64(scalar(f->s, "SELECT EXISTS (SELECT 1 FROM vals WHERE id = $1)", SV_ARGS(SV_I64(9))),
               0);
    assert_i64(scalar(f->s, "SELECT COUNT(*) FROM vals", NULL, 0), 4);
    assert_i64(scalar(f->s, "SELECT SUM(i) FROM vals", NULL, 0), INT64_C(4) << 40);
    assert_i64(scalar(f->s, "SELECT CAST($1 AS BIGINT) * 2", SV_ARGS(SV_I64(-21))), -42);
}

/* ---- statements ---- */

static void test_duplicates(void **state)
{
    struct fixture *f = *state;
    const char *ins =
        "INSERT INTO accounts (uin, app_id, email, created_at) VALUES ($1, $2, $3, 0)";
    assert_rc(exec1(f->s, ins, SV_ARGS(SV_I64(1), SV_I64(11), SV_TEXT("a@example.com")), NULL),
              BE_OK);
    /* primary key */
    assert_rc(exec1(f->s, ins, SV_ARGS(SV_I64(1), SV_I64(12), SV_TEXT("b@example.com")), NULL),
              BE_DUPLICATE);
    /* unique column */
    assert_rc(exec1(f->s, ins, SV_ARGS(SV_I64(2), SV_I64(12), SV_TEXT("a@example.com")), NULL),
              BE_DUPLICATE);
    /* a blob primary key */
    const char *sess = "INSERT INTO sessions (id_hash, uin, owner_uin, created_at, last_seen,"
                       " expires_at) VALUES ($1, 1, 1, 0, 0, 0)";
    assert_rc(exec1(f->s, sess, SV_ARGS(SV_BLOB("\0k\0", 3)), NULL), BE_OK);
    assert_rc(exec1(f->s, sess, SV_ARGS(SV_BLOB("\0k\0", 3)), NULL), BE_DUPLICATE);
    assert_rc(exec1(f->s, sess, SV_ARGS(SV_BLOB("\0k\1", 3)), NULL), BE_OK);
    /* Other constraints are the caller's fault, not duplicates. */
    assert_rc(exec1(f->s, ins, SV_ARGS(SV_I64(3), SV_NULL, SV_TEXT("c@example.com")), NULL),
              BE_INVALID_PARAMETER);
    /* The connections are still good after the errors. */
    assert_rc(exec1(f->s, ins, SV_ARGS(SV_I64(2), SV_I64(12), SV_TEXT("b@example.com")), NULL),
              BE_OK);
    assert_i64(scalar0(f->s, "SELECT COUNT(*) FROM accounts"), 2);
    assert_i64(scalar0(f->s, "SELECT COUNT(*) FROM sessions"), 2);
}

static void test_no_rows(void **state)
{
    struct fixture *f = *state;
    struct store_result *r = NULL;
    int64_t changes = -1;
    assert_rc(
        query1(f->s, "SELECT uin, email FROM accounts WHERE uin = $1", SV_ARGS(SV_I64(42)), &r),
        BE_OK);
    assert_non_null(r);
    assert_int_equal(store_result_rows(r), 0);
    assert_int_equal(store_result_cols(r), 2);
    assert_true(store_result_is_null(r, 0, 0));
    assert_i64(store_result_i64(r, 0, 0), 0);
    assert_null(store_result_text(r, 0, 1));
    store_result_free(r);
    assert_rc(exec1(f->s, "UPDATE accounts SET name = $1 WHERE uin = $2",
                    SV_ARGS(SV_TEXT("x"), SV_I64(42)), &changes),
              BE_OK);
    assert_i64(changes, 0);
    assert_rc(exec1(f->s, "DELETE FROM accounts WHERE uin = $1", SV_ARGS(SV_I64(42)), &changes),
              BE_OK);
    assert_i64(changes, 0);
}

static int insert_three(struct store_conn *c, void *arg)
{
    (void)arg;
    int rc = BE_OK;
    for (int64_t uin = 1; uin <= 3 && rc == BE_OK; uin++)
        rc = insert_account(c, uin, NULL);
    return rc;
}

static void test_changes(void **state)
{
    struct fixture *f = *state;
    int64_t changes = -1;
    assert_rc(store_tx(f->s, insert_three, NULL), BE_OK);
    assert_rc(exec1(f->s, "UPDATE accounts SET name = $1", SV_ARGS(SV_TEXT("renamed")), &changes),
              BE_OK);
    assert_i64(changes, 3);
    assert_rc(exec1(f->s, "DELETE FROM accounts WHERE uin >= $1", SV_ARGS(SV_I64(2)), &changes),
              BE_OK);
    assert_i64(changes, 2);
    assert_rc(exec1(f->s, "INSERT INTO accounts (uin, app_id, created_at) VALUES (9, 9, 0)", NULL,
                    0, &changes),
              BE_OK);
    assert_i64(changes, 1);
}

static void test_returning(void **state)
{
    struct fixture *f = *state;
    const char *ins = "INSERT INTO audit_log (at, action, result) VALUES ($1, $2, 'Success') "
                      "RETURNING id, action";
    struct store_result *r = NULL;
    assert_rc(query1(f->s, ins, SV_ARGS(SV_I64(1), SV_TEXT("Login")), &r), BE_OK);
    assert_int_equal(store_result_rows(r), 1);
    int64_t id1 = store_result_i64(r, 0, 0);
    assert_true(id1 > 0);
    assert_string_equal(store_result_text(r, 0, 1), "Login");
    store_result_free(r);
    assert_rc(query1(f->s, ins, SV_ARGS(SV_I64(2), SV_TEXT("Logout")), &r), BE_OK);
    int64_t id2 = store_result_i64(r, 0, 0);
    store_result_free(r);
    if (id2 <= id1)
        fail_msg("ids do not grow: %" PRId64 " then %" PRId64, id1, id2);

    assert_rc(store_tx(f->s, insert_three, NULL), BE_OK);
    assert_rc(query1(f->s, "UPDATE accounts SET name = $1 WHERE uin = $2 RETURNING uin, name",
                     SV_ARGS(SV_TEXT("new"), SV_I64(2)), &r),
              BE_OK);
    assert_int_equal(store_result_rows(r), 1);
    assert_i64(store_result_i64(r, 0, 0), 2);
    assert_string_equal(store_result_text(r, 0, 1), "new");
    store_result_free(r);
    assert_rc(
        query1(f->s, "DELETE FROM accounts WHERE uin <> $1 RETURNING uin", SV_ARGS(SV_I64(2)), &r),
        BE_OK);
    assert_int_equal(store_result_rows(r), 2);
    store_result_free(r);
}

static void test_upsert(void **state)
{
    struct fixture *f = *state;
    const char *up = "INSERT INTO login_throttle (key, failures, last_failure, blocked_until) "
                     "VALUES ($1, 1, $2, 0) ON CONFLICT (key) DO UPDATE SET "
                     "failures = login_throttle.failures + 1, last_failure = excluded.last_failure "
                     "RETURNING failures, last_failure";
    for (int64_t i = 1; i <= 3; i++) {
        struct store_result *r = NULL;
        assert_rc(query1(f->s, up, SV_ARGS(SV_TEXT("ip:127.0.0.1"), SV_I64(100 * i)), &r), BE_OK);
        assert_int_equal(store_result_rows(r), 1);
        assert_i64(store_result_i64(r, 0, 0), i);
        assert_i64(store_result_i64(r, 0, 1), 100 * i);
        store_result_free(r);
    }
    assert_i64(scalar(f->s, "SELECT failures FROM login_throttle WHERE key = $1",
                      SV_ARGS(SV_TEXT("ip:127.0.0.1"))),
               3);

    const char *nothing = "INSERT INTO login_throttle (key, failures, last_failure, blocked_until)"
                          " VALUES ($1, 7, 0, 0) ON CONFLICT (key) DO NOTHING";
    int64_t changes = -1;
    assert_rc(exec1(f->s, nothing, SV_ARGS(SV_TEXT("ip:127.0.0.1")), &changes), BE_OK);
    assert_i64(changes, 0);
    assert_rc(exec1(f->s, nothing, SV_ARGS(SV_TEXT("ip:::1")), &changes), BE_OK);
    assert_i64(changes, 1);
    assert_i64(scalar0(f->s, "SELECT SUM(failures) FROM login_throttle"), 10);
}

static void test_sql_errors(void **state)
{
    struct fixture *f = *state;
    struct store_result *r = NULL;
    /* These log one error line each, by design. */
    assert_rc(exec1(f->s, "SELEC 1", NULL, 0, NULL), BE_INTERNAL);
    assert_rc(query1(f->s, "SELECT nosuchcolumn FROM accounts", NULL, 0, &r), BE_INTERNAL);
    assert_rc(query1(f->s, "SELECT 1", NULL, 0, &r), BE_OK);
    store_result_free(r);
}

/* Many distinct statements through one connection, more than any cache
 * holds, then the first ones again: evicted statements are prepared anew. */
static void test_statement_cache(void **state)
{
    struct fixture *f = *state;
    struct store *s = NULL;
    struct store_options opts = {1, 5};
    char sql[64];
    assert_rc(store_open(f->url, &opts, &s), BE_OK);
    for (int round = 0; round < 2; round++) {
        for (int k = 0; k < 600; k++) {
            /* Only constants are formatted into the SQL here: the test wants many
             * distinct texts, all in one reused buffer. */
            snprintf(sql, sizeof(sql), "SELECT CAST($1 AS BIGINT) + %d", k);
            assert_i64(scalar(s, sql, SV_ARGS(SV_I64(1000 * round))), 1000 * round + k);
        }
    }
    store_close(s);
}

/* ---- transactions ---- */

struct two_tables {
    int64_t uin;
    const char *secret_id;
    int result; /* what fn returns after both inserts succeed */
};

static int write_two_tables(struct store_conn *c, void *arg)
{
    struct two_tables *t = arg;
    int rc = insert_account(c, t->uin, NULL);
    if (rc == BE_OK) {
        /* Reads inside the transaction see its own writes. */
        struct store_result *r = NULL;
        rc = store_query(c, "SELECT COUNT(*) FROM accounts WHERE uin = $1", SV_ARGS(SV_I64(t->uin)),
                         &r);
        if (rc == BE_OK && store_result_i64(r, 0, 0) != 1)
            rc = BE_INTERNAL;
        store_result_free(r);
    }
    if (rc == BE_OK)
        rc = insert_key(c, t->secret_id, t->uin);
    return rc ? rc : t->result;
}

static void test_tx_commit_and_rollback(void **state)
{
    struct fixture *f = *state;
    const char *acc = "SELECT COUNT(*) FROM accounts WHERE uin = $1";
    const char *key = "SELECT COUNT(*) FROM access_keys WHERE secret_id = $1";

    struct two_tables ok = {1, "AKID-one", BE_OK};
    assert_rc(store_tx(f->s, write_two_tables, &ok), BE_OK);
    assert_i64(scalar(f->s, acc, SV_ARGS(SV_I64(1))), 1);
    assert_i64(scalar(f->s, key, SV_ARGS(SV_TEXT("AKID-one"))), 1);

    /* fn fails after both writes: neither survives. */
    struct two_tables fail = {2, "AKID-two", BE_FAILED};
    assert_rc(store_tx(f->s, write_two_tables, &fail), BE_FAILED);
    assert_i64(scalar(f->s, acc, SV_ARGS(SV_I64(2))), 0);
    assert_i64(scalar(f->s, key, SV_ARGS(SV_TEXT("AKID-two"))), 0);

    /* The second write hits a duplicate: the first is undone too. */
    struct two_tables dup = {3, "AKID-one", BE_OK};
    assert_rc(store_tx(f->s, write_two_tables, &dup), BE_DUPLICATE);
    assert_i64(scalar(f->s, acc, SV_ARGS(SV_I64(3))), 0);
    assert_i64(scalar(f->s, key, SV_ARGS(SV_TEXT("AKID-one"))), 1);
    assert_i64(scalar(f->s, "SELECT owner_uin FROM access_keys WHERE secret_id = $1",
                      SV_ARGS(SV_TEXT("AKID-one"))),
               1);

    /* The same statements, now cached, still work after the rollbacks. */
    struct two_tables again = {4, "AKID-four", BE_OK};
    assert_rc(store_tx(f->s, write_two_tables, &again), BE_OK);
    assert_i64(scalar0(f->s, "SELECT COUNT(*) FROM accounts"), 2);
    assert_i64(scalar0(f->s, "SELECT COUNT(*) FROM access_keys"), 2);
}

struct ignoring {
    int second_rc;
};

/* Ignores a failed statement and carries on: the back end must not report
 * success for work it did not keep. */
static int ignore_error(struct store_conn *c, void *arg)
{
    struct ignoring *t = arg;
    int rc = insert_account(c, 10, "x@example.com");
    if (rc)
        return rc;
    (void)insert_account(c, 10, "x@example.com"); /* duplicate, ignored */
    t->second_rc = insert_account(c, 11, NULL);
    return BE_OK;
}

static void test_tx_ignored_error(void **state)
{
    struct fixture *f = *state;
    struct ignoring t = {-1};
    int rc = store_tx(f->s, ignore_error, &t);
    int64_t n10 = scalar(f->s, "SELECT COUNT(*) FROM accounts WHERE uin = 10", NULL, 0);
    int64_t n11 = scalar(f->s, "SELECT COUNT(*) FROM accounts WHERE uin = 11", NULL, 0);
    if (rc == BE_OK) {
        assert_i64(n10, 1);
        assert_i64(n11, t.second_rc == BE_OK ? 1 : 0);
    } else {
        assert_i64(n10, 0);
        assert_i64(n11, 0);
    }
}

struct flaky {
    int calls;
    int conflicts; /* how many calls return BE_CONFLICT */
    int final_rc;
    const char *action;
};

static int flaky_fn(struct store_conn *c, void *arg)
{
    struct flaky *t = arg;
    char detail[16];
    t->calls++;
    snprintf(detail, sizeof(detail), "%d", t->calls);
    int rc =
        store_exec(c, "INSERT INTO audit_log (at, action, result, detail) VALUES (0, $1, 'x', $2)",
                   SV_ARGS(SV_TEXT(t->action), SV_TEXT(detail)), NULL);
    if (rc)
        return rc;
    return t->calls <= t->conflicts ? BE_CONFLICT : t->final_rc;
}

static void test_tx_retries_conflict(void **state)
{
    struct fixture *f = *state;
    const char *rows = "SELECT COUNT(*) FROM audit_log WHERE action = $1";

    struct flaky twice = {0, 2, BE_OK, "twice"};
    assert_rc(store_tx(f->s, flaky_fn, &twice), BE_OK);
    assert_int_equal(twice.calls, 3);
    assert_i64(scalar(f->s, rows, SV_ARGS(SV_TEXT("twice"))), 1);
    struct store_result *r = NULL;
    assert_rc(query1(f->s, "SELECT detail FROM audit_log WHERE action = 'twice'", NULL, 0, &r),
              BE_OK);
    assert_string_equal(store_result_text(r, 0, 0), "3");
    store_result_free(r);

    /* Always conflicting: store_tx gives up after a bounded number of tries. */
    struct flaky always = {0, 1000000, BE_OK, "always"};
    assert_rc(store_tx(f->s, flaky_fn, &always), BE_CONFLICT);
    assert_in_range(always.calls, 2, 64);
    assert_i64(scalar(f->s, rows, SV_ARGS(SV_TEXT("always"))), 0);

    /* Other errors are not retried. */
    struct flaky failed = {0, 0, BE_FAILED, "failed"};
    assert_rc(store_tx(f->s, flaky_fn, &failed), BE_FAILED);
    assert_int_equal(failed.calls, 1);
    assert_i64(scalar(f->s, rows, SV_ARGS(SV_TEXT("failed"))), 0);
}

static int insert_then_fail(struct store_conn *c, void *arg)
{
    (void)arg;
    int rc = insert_account(c, 77, NULL);
    return rc ? rc : BE_FAILED;
}

/* store_run has no transaction: what fn did stays done. */
static void test_run_autocommits(void **state)
{
    struct fixture *f = *state;
    assert_rc(store_run(f->s, insert_then_fail, NULL), BE_FAILED);
    assert_i64(scalar0(f->s, "SELECT COUNT(*) FROM accounts WHERE uin = 77"), 1);
}

struct counter_thread {
    struct store *s;
    int failures;
    int last_rc;
    int calls;     /* fn calls, retries included */
    int max_tries; /* the most fn calls one increment took */
};

/* A read-then-write increment: only correct if conflicting transactions are
 * serialised or retried. */
static int increment(struct store_conn *c, void *arg)
{
    struct counter_thread *t = arg;
    struct store_result *r = NULL;
    t->calls++;
    int rc = store_query(c, "SELECT n FROM counter WHERE id = 1", NULL, 0, &r);
    if (rc)
        return rc;
    int64_t n = store_result_i64(r, 0, 0);
    store_result_free(r);
    return store_exec(c, "UPDATE counter SET n = $1 WHERE id = 1", SV_ARGS(SV_I64(n + 1)), NULL);
}

static void *counter_main(void *arg)
{
    struct counter_thread *t = arg;
    for (int i = 0; i < COUNTER_INCREMENTS; i++) {
        int before = t->calls;
        int rc = store_tx(t->s, increment, t);
        if (t->calls - before > t->max_tries)
            t->max_tries = t->calls - before;
        if (rc) {
            t->failures++;
            t->last_rc = rc;
        }
    }
    return NULL;
}

static void test_tx_concurrent_writers(void **state)
{
    struct fixture *f = *state;
    struct counter_thread t[COUNTER_THREADS];
    pthread_t tid[COUNTER_THREADS];
    assert_rc(exec1(f->s, "CREATE TABLE counter (id BIGINT PRIMARY KEY, n BIGINT NOT NULL)", NULL,
                    0, NULL),
              BE_OK);
    assert_rc(exec1(f->s, "INSERT INTO counter (id, n) VALUES (1, 0)", NULL, 0, NULL), BE_OK);
    for (int i = 0; i < COUNTER_THREADS; i++) {
        t[i] = (struct counter_thread){f->s, 0, BE_OK, 0, 0};
        assert_int_equal(pthread_create(&tid[i], NULL, counter_main, &t[i]), 0);
    }
    int failures = 0, calls = 0, max_tries = 0, last_rc = BE_OK;
    for (int i = 0; i < COUNTER_THREADS; i++) {
        pthread_join(tid[i], NULL);
        failures += t[i].failures;
        calls += t[i].calls;
        if (t[i].max_tries > max_tries)
            max_tries = t[i].max_tries;
        if (t[i].failures)
            last_rc = t[i].last_rc;
    }
    print_message("    %s: %d increments took %d attempts, at most %d for one\n", f->be->name,
                  COUNTER_THREADS * COUNTER_INCREMENTS, calls, max_tries);
    if (failures)
        fail_msg("%d increments failed, the last with %s", failures, rc_name(last_rc));
    assert_i64(scalar0(f->s, "SELECT n FROM counter WHERE id = 1"),
               COUNTER_THREADS * COUNTER_INCREMENTS);
}

/* ---- health, backup, reconnection ---- */

static void test_health(void **state)
{
    struct fixture *f = *state;
    char st[32] = "";
    char tiny[3] = "";
    assert_rc(store_health(f->s, st, sizeof(st)), BE_OK);
    assert_string_equal(st, "ok");
    assert_rc(store_health(f->s, tiny, sizeof(tiny)), BE_OK);
    assert_string_equal(tiny, "ok");
}

static void test_backup(void **state)
{
    struct fixture *f = *state;
    char path[256], url[300];
    assert_rc(store_tx(f->s, insert_three, NULL), BE_OK);
    if (f->be->dialect != STORE_SQLITE) {
        snprintf(path, sizeof(path), "/tmp/bindery-test-backup-%ld.db", (long)getpid());
        assert_rc(store_backup(f->s, path), BE_FAILED); /* pg_dump's job */
        assert_int_not_equal(access(path, F_OK), 0);
        return;
    }
    snprintf(path, sizeof(path), "%s/backup.db", f->dir);
    snprintf(url, sizeof(url), "sqlite://%s", path);
    assert_rc(store_backup(f->s, path), BE_OK);
    /* The copy is a complete store: its rows, and its schema version. */
    struct store *copy = NULL;
    struct store_options opts = {1, 5};
    int version = -1;
    assert_rc(store_open(url, &opts, &copy), BE_OK);
    assert_i64(scalar0(copy, "SELECT COUNT(*) FROM accounts"), 3);
    assert_i64(scalar0(copy, "SELECT SUM(uin) FROM accounts"), 6);
    assert_rc(store_migrate(copy, &version), BE_OK);
    assert_int_equal(version, store_schema_version_latest());
    store_close(copy);
    /* A backup into a directory that does not exist fails cleanly. */
    assert_rc(store_backup(f->s, "/nonexistent-bindery-dir/backup.db"), BE_FAILED);
}

static int terminate_self(struct store_conn *c, void *arg)
{
    (void)arg;
    return store_exec(c, "SELECT pg_terminate_backend(pg_backend_pid())", NULL, 0, NULL);
}

static int count_accounts(struct store_conn *c, void *arg)
{
    struct store_result *r = NULL;
    int rc = store_query(c, "SELECT COUNT(*) FROM accounts", NULL, 0, &r);
    if (rc == BE_OK)
        *(int64_t *)arg = store_result_i64(r, 0, 0);
    store_result_free(r);
    return rc;
}

/* Ends another session from the server side, as a restart or an operator
 * would, and waits until it is gone. */
static void terminate_backend(struct store *s, int64_t pid)
{
    assert_i64(scalar(s, "SELECT pg_terminate_backend(CAST($1 AS INTEGER))", SV_ARGS(SV_I64(pid))),
               1);
    for (int i = 0; i < 500; i++) { /* up to 5 s */
        if (scalar(s, "SELECT COUNT(*) FROM pg_stat_activity WHERE pid = $1",
                   SV_ARGS(SV_I64(pid))) == 0)
            return;
        nanosleep(&(struct timespec){0, 10 * 1000 * 1000}, NULL);
    }
    fail_msg("backend %" PRId64 " is still there", pid);
}

/* Server-side disconnects: a failing call says so, and the pool reconnects
 * (and prepares its statements again) for the next one. */
static void test_reconnect(void **state)
{
    struct fixture *f = *state;
    const char *pid_sql = "SELECT pg_backend_pid()";
    struct store *s = NULL;
    struct store_options opts = {1, 5};
    struct store_result *r = NULL;
    char st[32];
    int64_t n = -1;
    if (f->be->dialect != STORE_POSTGRES) {
        skip();
        return;
    }
    assert_rc(store_open(f->url, &opts, &s), BE_OK);

    /* Outside a transaction the statement fails: it may have run. */
    int64_t pid1 = scalar(s, pid_sql, NULL, 0);
    terminate_backend(f->s, pid1);
    assert_rc(query1(s, pid_sql, NULL, 0, &r), BE_STORE_UNAVAILABLE);
    int64_t pid2 = scalar(s, pid_sql, NULL, 0);
    if (pid2 == pid1 || pid2 <= 0)
        fail_msg("no new backend: pid %" PRId64 " then %" PRId64, pid1, pid2);
    assert_rc(store_health(s, st, sizeof(st)), BE_OK);
    assert_string_equal(st, "ok");

    /* A transaction that has not started yet reconnects by itself. */
    terminate_backend(f->s, pid2);
    assert_rc(store_tx(s, insert_three, NULL), BE_OK);
    assert_i64(scalar0(s, "SELECT COUNT(*) FROM accounts"), 3);
    int64_t pid3 = scalar(s, pid_sql, NULL, 0);
    if (pid3 == pid2 || pid3 <= 0)
        fail_msg("no new backend: pid %" PRId64 " then %" PRId64, pid2, pid3);

    /* The session dies inside a transaction: that one fails, the next works. */
    assert_rc(store_tx(s, terminate_self, NULL), BE_STORE_UNAVAILABLE);
    assert_rc(store_tx(s, count_accounts, &n), BE_OK);
    assert_i64(n, 3);
    store_close(s);
}

/* ---- main ---- */

#define STORE_TESTS(X)                                                                             \
    X(test_dialect)                                                                                \
    X(test_open_bad_urls)                                                                          \
    X(test_migrate_idempotent)                                                                     \
    X(test_migrate_concurrent)                                                                     \
    X(test_round_trip_types)                                                                       \
    X(test_large_values)                                                                           \
    X(test_integer_expressions)                                                                    \
    X(test_duplicates)                                                                             \
    X(test_no_rows)                                                                                \
    X(test_changes)                                                                                \
    X(test_returning)                                                                              \
    X(test_upsert)                                                                                 \
    X(test_sql_errors)                                                                             \
    X(test_statement_cache)                                                                        \
    X(test_tx_commit_and_rollback)                                                                 \
    X(test_tx_ignored_error)                                                                       \
    X(test_tx_retries_conflict)                                                                    \
    X(test_run_autocommits)                                                                        \
    X(test_tx_concurrent_writers)                                                                  \
    X(test_health)                                                                                 \
    X(test_backup)                                                                                 \
    X(test_reconnect)

int main(void)
{
    static struct backend sqlite_be = {"sqlite", STORE_SQLITE, NULL};
    static struct backend pg_be = {"postgres", STORE_POSTGRES, NULL};
    int failed = 0;

    /* Info lines (applied migrations) on every test are noise; errors that
     * tests provoke on purpose still show. */
    log_level_current = LOG_WARN;

#define SQLITE_TEST(t) cmocka_unit_test_prestate_setup_teardown(t, setup, teardown, &sqlite_be),
    const struct CMUnitTest sqlite_tests[] = {STORE_TESTS(SQLITE_TEST)};
    print_message("store contract suite on sqlite\n");
    failed += cmocka_run_group_tests_name("store/sqlite", sqlite_tests, NULL, NULL);

    pg_be.pg_url = getenv("BINDERY_TEST_PG_URL");
    if (pg_be.pg_url && *pg_be.pg_url) {
#define PG_TEST(t) cmocka_unit_test_prestate_setup_teardown(t, setup, teardown, &pg_be),
        const struct CMUnitTest pg_tests[] = {STORE_TESTS(PG_TEST)};
        print_message("store contract suite on postgres\n");
        failed += cmocka_run_group_tests_name("store/postgres", pg_tests, NULL, NULL);
    } else {
        print_message("[  SKIPPED ] store/postgres: BINDERY_TEST_PG_URL is not set\n");
    }
    return failed ? 1 : 0;
}
