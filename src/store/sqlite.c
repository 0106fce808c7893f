/* SQLite back end: WAL, foreign keys, busy timeout, and a per-connection
 * cache of prepared statements keyed by their SQL text. */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/log.h"
#include "core/mem.h"
#include "store/backend.h"
#include "core/banned.h"

#define STMT_CACHE_SIZE 256 /* power of two */

struct stmt_entry {
    const char *key; /* the caller's SQL pointer, checked by text below */
    char *sql;       /* our copy of the caller's text */
    sqlite3_stmt *stmt;
};

struct sqlite_conn {
    sqlite3 *db;
    struct stmt_entry cache[STMT_CACHE_SIZE];
};

static int map_error(struct sqlite_conn *c, int rc, const char *what)
{
    switch (rc & 0xff) {
    case SQLITE_CONSTRAINT:
        if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY)
            return BE_DUPLICATE;
        log_error("store: sqlite constraint in %s: %s", what, sqlite3_errmsg(c->db));
        return BE_INVALID_PARAMETER;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return BE_CONFLICT;
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
    case SQLITE_FULL:
    case SQLITE_READONLY:
        log_error("store: sqlite I/O error in %s: %s", what, sqlite3_errmsg(c->db));
        return BE_STORE_UNAVAILABLE;
    default:
        log_error("store: sqlite error %d in %s: %s", rc, what, sqlite3_errmsg(c->db));
        return BE_INTERNAL;
    }
}

static const char *url_path(const char *url)
{
    /* sqlite:///abs/path -> /abs/path ; sqlite://rel/path -> rel/path */
    return url + strlen("sqlite://");
}

static int sq_connect(const char *url, unsigned timeout_s, void **ret_conn, char *err,
                      size_t errn)
{
    struct sqlite_conn *c = xcalloc(1, sizeof(*c));
    const char *path = url_path(url);
    int rc = sqlite3_open_v2(path, &c->db,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                             NULL);
    if (rc != SQLITE_OK) {
        snprintf(err, errn, "%s: %s", path, c->db ? sqlite3_errmsg(c->db) : "out of memory");
        sqlite3_close(c->db);
        free(c);
        return BE_STORE_UNAVAILABLE;
    }
    sqlite3_extended_result_codes(c->db, 1);
    sqlite3_busy_timeout(c->db, (int)(timeout_s * 1000));
    char *msg = NULL;
    /* Switching a new file to WAL needs an exclusive lock, and SQLite answers
     * SQLITE_BUSY at once, without the busy handler, while another process
     * opens the same new file: retry by hand within the timeout. */
    for (unsigned waited_ms = 0;; waited_ms += 10) {
        rc = sqlite3_exec(c->db,
                          "PRAGMA journal_mode=WAL; PRAGMA foreign_keys=ON; "
                          "PRAGMA synchronous=NORMAL;",
                          NULL, NULL, &msg);
        if ((rc & 0xff) != SQLITE_BUSY || waited_ms >= timeout_s * 1000)
            break;
        sqlite3_free(msg);
        msg = NULL;
        sqlite3_sleep(10);
    }
    if (rc != SQLITE_OK) {
        snprintf(err, errn, "%s: %s", path, msg ? msg : "cannot configure");
        sqlite3_free(msg);
        sqlite3_close(c->db);
        free(c);
        return BE_STORE_UNAVAILABLE;
    }
    *ret_conn = c;
    return BE_OK;
}

static void sq_disconnect(void *conn)
{
    struct sqlite_conn *c = conn;
    for (size_t i = 0; i < STMT_CACHE_SIZE; i++) {
        sqlite3_finalize(c->cache[i].stmt);
        free(c->cache[i].sql);
    }
    sqlite3_close(c->db);
    free(c);
}

static size_t hash_ptr(const void *p)
{
    uintptr_t v = (uintptr_t)p;
    v ^= v >> 17;
    v *= 0x9e3779b97f4a7c15ull;
    return (size_t)(v >> 32) & (STMT_CACHE_SIZE - 1);
}

/* Returns a reset statement for sql, prepared once per connection. */
static int prepare(struct sqlite_conn *c, const char *sql, sqlite3_stmt **ret)
{
    size_t h = hash_ptr(sql);
    struct stmt_entry *e = NULL;
    for (size_t k = 0; k < 8; k++) {
        struct stmt_entry *cand = &c->cache[(h + k) & (STMT_CACHE_SIZE - 1)];
        if (cand->key == sql && !strcmp(cand->sql, sql)) {
            sqlite3_reset(cand->stmt);
            sqlite3_clear_bindings(cand->stmt);
            *ret = cand->stmt;
            return BE_OK;
        }
        if (!e && !cand->key)
            e = cand;
    }
    if (!e) { /* neighbourhood full: evict the home slot */
        e = &c->cache[h];
        sqlite3_finalize(e->stmt);
        free(e->sql);
        memset(e, 0, sizeof(*e));
    }
    char *converted = store_sql_to_sqlite(sql);
    sqlite3_stmt *stmt = NULL;
    int rc = sqlite3_prepare_v3(c->db, converted, -1, SQLITE_PREPARE_PERSISTENT, &stmt, NULL);
    free(converted);
    if (rc != SQLITE_OK)
        return map_error(c, rc, "prepare");
    e->key = sql;
    e->sql = xstrdup(sql);
    e->stmt = stmt;
    *ret = stmt;
    return BE_OK;
}

static int bind_all(struct sqlite_conn *c, sqlite3_stmt *stmt, const struct store_val *p,
                    size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int idx = (int)i + 1, rc;
        switch (p[i].type) {
        case STORE_NULL:
            rc = sqlite3_bind_null(stmt, idx);
            break;
        case STORE_I64:
            rc = sqlite3_bind_int64(stmt, idx, p[i].i);
            break;
        case STORE_TEXT:
            rc = sqlite3_bind_text64(stmt, idx, p[i].p, p[i].n, SQLITE_STATIC, SQLITE_UTF8);
            break;
        case STORE_BLOB:
            rc = sqlite3_bind_blob64(stmt, idx, p[i].p ? p[i].p : "", p[i].n, SQLITE_STATIC);
            break;
        default:
            rc = SQLITE_MISUSE;
        }
        if (rc != SQLITE_OK)
            return map_error(c, rc, "bind");
    }
    return BE_OK;
}

static int run(struct sqlite_conn *c, const char *sql, const struct store_val *params, size_t n,
               struct store_result **ret_result, int64_t *ret_changes)
{
    sqlite3_stmt *stmt = NULL;
    struct store_result *r = NULL;
    int rc = prepare(c, sql, &stmt);
    if (rc)
        return rc;
    if ((rc = bind_all(c, stmt, params, n)))
        goto out;
    int ncols = sqlite3_column_count(stmt);
    if (ret_result)
        r = store_result_new((size_t)ncols);
    for (;;) {
        int step = sqlite3_step(stmt);
        if (step == SQLITE_DONE)
            break;
        if (step != SQLITE_ROW) {
            rc = map_error(c, sqlite3_extended_errcode(c->db), "step");
            goto out;
        }
        if (!r)
            continue;
        store_result_add_row(r);
        for (int i = 0; i < ncols; i++) {
            switch (sqlite3_column_type(stmt, i)) {
            case SQLITE_INTEGER:
                store_result_set(r, (size_t)i, STORE_I64, sqlite3_column_int64(stmt, i), NULL, 0);
                break;
            case SQLITE_FLOAT:
                store_result_set(r, (size_t)i, STORE_I64, (int64_t)sqlite3_column_double(stmt, i),
                                 NULL, 0);
                break;
            case SQLITE_TEXT: {
                const unsigned char *t = sqlite3_column_text(stmt, i);
                store_result_set(r, (size_t)i, STORE_TEXT, 0, t,
                                 (size_t)sqlite3_column_bytes(stmt, i));
                break;
            }
            case SQLITE_BLOB: {
                const void *b = sqlite3_column_blob(stmt, i);
                store_result_set(r, (size_t)i, STORE_BLOB, 0, b,
                                 (size_t)sqlite3_column_bytes(stmt, i));
                break;
            }
            default:
                break;
            }
        }
    }
    if (ret_changes)
        *ret_changes = sqlite3_changes64(c->db);
    if (ret_result) {
        *ret_result = r;
        r = NULL;
    }
out:
    store_result_free(r);
    sqlite3_reset(stmt);
    sqlite3_clear_bindings(stmt);
    return rc;
}

static int sq_exec(void *conn, const char *sql, const struct store_val *params, size_t n,
                   int64_t *ret_changes)
{
    return run(conn, sql, params, n, NULL, ret_changes);
}

static int sq_query(void *conn, const char *sql, const struct store_val *params, size_t n,
                    struct store_result **ret_result)
{
    return run(conn, sql, params, n, ret_result, NULL);
}

static int sq_script(void *conn, const char *sql)
{
    struct sqlite_conn *c = conn;
    char *msg = NULL;
    int rc = sqlite3_exec(c->db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK) {
        log_error("store: sqlite script failed: %s", msg ? msg : "?");
        sqlite3_free(msg);
        return map_error(c, rc, "script");
    }
    return BE_OK;
}

static int simple(struct sqlite_conn *c, const char *sql)
{
    int rc = sqlite3_exec(c->db, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? BE_OK : map_error(c, sqlite3_extended_errcode(c->db), sql);
}

static int sq_begin(void *conn)
{
    return simple(conn, "BEGIN IMMEDIATE");
}

static int sq_commit(void *conn)
{
    return simple(conn, "COMMIT");
}

static int sq_rollback(void *conn)
{
    struct sqlite_conn *c = conn;
    if (sqlite3_get_autocommit(c->db))
        return BE_OK;
    return simple(conn, "ROLLBACK");
}

static bool sq_usable(void *conn)
{
    (void)conn;
    return true;
}

static int sq_backup(void *conn, const char *dest_path)
{
    struct sqlite_conn *c = conn;
    sqlite3 *dest = NULL;
    int rc = sqlite3_open(dest_path, &dest);
    if (rc == SQLITE_OK) {
        sqlite3_backup *b = sqlite3_backup_init(dest, "main", c->db, "main");
        if (b) {
            while ((rc = sqlite3_backup_step(b, 256)) == SQLITE_OK ||
                   rc == SQLITE_BUSY || rc == SQLITE_LOCKED)
                sqlite3_sleep(5);
            sqlite3_backup_finish(b);
        }
        rc = sqlite3_errcode(dest);
    }
    if (rc != SQLITE_OK)
        log_error("store: backup to %s failed: %s", dest_path,
                  dest ? sqlite3_errmsg(dest) : "out of memory");
    sqlite3_close(dest);
    return rc == SQLITE_OK ? BE_OK : BE_FAILED;
}

const struct store_backend_ops store_sqlite_ops = {
    .name = "sqlite",
    .dialect = STORE_SQLITE,
    .connect = sq_connect,
    .disconnect = sq_disconnect,
    .exec = sq_exec,
    .query = sq_query,
    .exec_script = sq_script,
    .begin = sq_begin,
    .commit = sq_commit,
    .rollback = sq_rollback,
    .usable = sq_usable,
    .backup = sq_backup,
};
