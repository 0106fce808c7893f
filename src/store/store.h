/* The store: a pool of connections to one database, behind a table of
 * back-end operations (SQLite, PostgreSQL). Domain code never sees the back
 * end: it runs parameterised SQL written once, with $1, $2 ... placeholders,
 * inside store_tx() (a transaction, retried on serialisation conflicts) or
 * store_run() (autocommit).
 *
 * SQL must be portable between SQLite >= 3.35 and PostgreSQL >= 13:
 * INSERT ... ON CONFLICT, RETURNING, BIGINT, TEXT; blobs through SV_BLOB;
 * booleans as 0/1 integers; times as unix seconds. Where a statement must
 * differ, branch on store_dialect().
 *
 * Errors: BE_DUPLICATE (unique constraint), BE_NOT_FOUND (left to callers:
 * a query with no row is not an error), BE_CONFLICT (serialisation failure
 * or lock timeout; store_tx retries these), BE_STORE_UNAVAILABLE (connection
 * lost or database down), BE_INTERNAL (anything else, with a log line). */
#ifndef BINDERY_STORE_STORE_H
#define BINDERY_STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct store;
struct store_conn;
struct store_result;

enum store_dialect { STORE_SQLITE, STORE_POSTGRES };

enum store_type { STORE_NULL, STORE_I64, STORE_TEXT, STORE_BLOB };

/* A parameter or a result cell. Text is NUL-terminated in results; in
 * parameters n is its length. */
struct store_val {
    enum store_type type;
    int64_t i;
    const void *p;
    size_t n;
};

#define SV_NULL ((struct store_val){STORE_NULL, 0, NULL, 0})
#define SV_I64(x) ((struct store_val){STORE_I64, (int64_t)(x), NULL, 0})
/* A NULL string becomes SQL NULL. */
static inline struct store_val store_val_text(const char *s)
{
    struct store_val v = {s ? STORE_TEXT : STORE_NULL, 0, s, s ? strlen(s) : 0};
    return v;
}
#define SV_TEXT(s) store_val_text(s)
#define SV_TEXTN(s, len) ((struct store_val){STORE_TEXT, 0, (s), (len)})
#define SV_BLOB(ptr, len) ((struct store_val){STORE_BLOB, 0, (ptr), (len)})
#define SV_ARGS(...) (const struct store_val[]){__VA_ARGS__}, \
    sizeof((const struct store_val[]){__VA_ARGS__}) / sizeof(struct store_val)

struct store_options {
    unsigned pool_size;    /* connections; at least 1 */
    unsigned connect_timeout_s;
};

/* Opens a store from a URL: "sqlite:///abs/path.db", "sqlite://rel/path.db",
 * "postgres://..." or "postgresql://...". Connections are made lazily, but
 * one is made and checked before returning. */
int store_open(const char *url, const struct store_options *opts, struct store **ret_store);
void store_close(struct store *s);
enum store_dialect store_dialect(const struct store *s);
/* "sqlite" or "postgres". */
const char *store_backend_name(const struct store *s);

/* One forward-only schema change. In sql, @BLOB@ and @AUTOID@ stand for the
 * dialect's blob type and auto-increment primary key. */
struct store_migration {
    int version;
    const char *name;
    const char *sql;
};

/* Applies every migration of list (sorted by version) not yet recorded for
 * `component` ("bindery", "platform") in the schema_migrations table, in order, each in its own transaction; safe
 * when several instances start at once. ret_version (may be NULL) gets the
 * schema version reached. */
int store_migrate_list(struct store *s, const char *component, const struct store_migration *list,
                       size_t n, int *ret_version);
/* Bindery's own schema (src/store/migrations.c). */
int store_migrate(struct store *s, int *ret_version);
/* The highest migration this build knows. */
int store_schema_version_latest(void);

typedef int (*store_fn)(struct store_conn *c, void *arg);

/* Runs fn inside one transaction on a pooled connection: commits when fn
 * returns 0, rolls back otherwise. A BE_CONFLICT from fn or from the commit
 * re-runs fn (a bounded number of times), so fn must have no effects
 * outside the database. Returns fn's result or the commit's error. */
int store_tx(struct store *s, store_fn fn, void *arg);
/* Runs fn on a pooled connection without a transaction (each statement
 * commits by itself): for reads and single-statement writes. */
int store_run(struct store *s, store_fn fn, void *arg);

/* Executes one statement; ret_changes (may be NULL) gets the rows changed. */
int store_exec(struct store_conn *c, const char *sql, const struct store_val *params,
               size_t nparams, int64_t *ret_changes);
/* Executes one query; the result is owned by the caller (store_result_free).
 * Statements are prepared once per connection and cached by their text. */
int store_query(struct store_conn *c, const char *sql, const struct store_val *params,
                size_t nparams, struct store_result **ret_result);
enum store_dialect store_conn_dialect(const struct store_conn *c);
/* The store a connection belongs to. */
struct store *store_conn_store(const struct store_conn *c);

size_t store_result_rows(const struct store_result *r);
size_t store_result_cols(const struct store_result *r);
bool store_result_is_null(const struct store_result *r, size_t row, size_t col);
/* 0 for NULL; text cells are parsed as integers. */
int64_t store_result_i64(const struct store_result *r, size_t row, size_t col);
/* NULL for SQL NULL; valid until store_result_free. */
const char *store_result_text(const struct store_result *r, size_t row, size_t col);
const void *store_result_blob(const struct store_result *r, size_t row, size_t col,
                              size_t *ret_len);
void store_result_free(struct store_result *r);

/* Is the database reachable? Fills a short state ("ok", or why not). */
int store_health(struct store *s, char *ret_state, size_t state_size);

/* Online backup of the whole store into a file (SQLite only; PostgreSQL
 * deployments use pg_dump). */
int store_backup(struct store *s, const char *dest_path);

#endif
