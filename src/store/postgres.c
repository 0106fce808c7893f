/* PostgreSQL back end on libpq: one PGconn per pooled connection, and a
 * per-connection cache of server-side prepared statements keyed by their SQL
 * text. Parameters go in text format (blobs in binary format); results come
 * back in text format and are typed by column OID (integers and booleans
 * become STORE_I64, bytea STORE_BLOB, the rest STORE_TEXT). Errors are
 * translated by SQLSTATE. A session the server has ended marks its
 * connection unusable, so the pool replaces it; when that is found at BEGIN,
 * before any work, the session is re-established on the spot. */
#include <libpq-fe.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/parse.h"
#include "store/backend.h"
#include "core/banned.h"

#define STMT_CACHE_SIZE 256 /* power of two */
#define STMT_PROBE      8   /* slots searched from a statement's home slot */
#define LOG_SQL_MAX     160 /* bytes of a failing statement quoted in the log */

/* Type OIDs from the server's pg_type.h (stable since forever). */
#define OID_BOOL  16
#define OID_BYTEA 17
#define OID_INT8  20
#define OID_INT2  21
#define OID_INT4  23
#define OID_OID   26

struct pg_stmt {
    char *sql; /* our copy of the text; NULL for a free slot */
    uint64_t hash;
    char name[24];
};

struct pg_conn {
    PGconn *pg;
    /* Set once an error says the session is gone, so usable() replaces it
     * even if libpq has not noticed the closed socket yet. */
    bool broken;
    unsigned next_stmt;
    struct pg_stmt cache[STMT_CACHE_SIZE];
};

/* One parameter as libpq wants it. Text needs a NUL-terminated copy because
 * libpq ignores lengths of text-format parameters. */
struct pg_param {
    char num[24];
    char *owned;
};

/* ---- errors ---- */

/* Copies the first line of a libpq message into dst (size n). */
static void first_line(char *dst, size_t n, const char *msg)
{
    size_t len = msg ? strcspn(msg, "\r\n") : 0;
    snprintf(dst, n, "%.*s", (int)(len < INT_MAX ? len : INT_MAX), msg ? msg : "");
}

static bool state_is(const char *sqlstate, const char *want)
{
    return sqlstate && !strncmp(sqlstate, want, strlen(want));
}

/* Translates a failed result (res may be NULL) into our error, logging
 * anything that is not a routine outcome. Never logs parameter values: data
 * exceptions (class 22) quote the offending value in their message, so only
 * their SQLSTATE is logged, and DETAIL (which quotes rows) never is. */
static int map_error(struct pg_conn *c, const PGresult *res, const char *what, const char *sql)
{
    const char *st = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *primary = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    char msg[256];
    int rc;

    if (state_is(st, "23505"))
        return BE_DUPLICATE;
    if (state_is(st, "40001") || state_is(st, "40P01") || state_is(st, "55P03"))
        return BE_CONFLICT;

    if (!primary)
        primary = PQerrorMessage(c->pg);
    first_line(msg, sizeof(msg),
               state_is(st, "22") ? "(message withheld: it may quote data)" : primary);
    /* A table or type that already exists. Two sessions racing through
     * CREATE TABLE IF NOT EXISTS get this (or 23505 from the catalog's
     * index) rather than the quiet no-op: it is a duplicate like any other.
     * The message names only schema objects, so it is worth a line. */
    if (state_is(st, "42P07") || state_is(st, "42710")) {
        log_warn("store: postgres %s: %s", what, msg);
        return BE_DUPLICATE;
    }
    /* Class 08 is a lost connection; 57P01-57P05 are the server ending the
     * session (shutdown, crash, database dropped, idle timeout). */
    bool lost = PQstatus(c->pg) != CONNECTION_OK || state_is(st, "08") || state_is(st, "57P");
    ExecStatusType est = PQresultStatus(res);
    /* A COPY leaves the protocol in a state we do not drive: the connection
     * must go, though the server is fine. */
    if (lost || est == PGRES_COPY_IN || est == PGRES_COPY_OUT || est == PGRES_COPY_BOTH)
        c->broken = true;
    if (lost || state_is(st, "53")) /* 53: disk full, out of memory, too many connections */
        rc = BE_STORE_UNAVAILABLE;
    else if (state_is(st, "23")) /* other constraints, as the SQLite back end does */
        rc = BE_INVALID_PARAMETER;
    else
        rc = BE_INTERNAL;
    log_error("store: postgres %s failed (SQLSTATE %s): %s [%.*s]", what, st ? st : "none", msg,
              LOG_SQL_MAX, sql ? sql : "");
    return rc;
}

/* Runs one parameterless command (BEGIN, COMMIT, DEALLOCATE ...). */
static int simple(struct pg_conn *c, const char *sql)
{
    PGresult *res = PQexec(c->pg, sql);
    int rc = PQresultStatus(res) == PGRES_COMMAND_OK ? BE_OK : map_error(c, res, "command", sql);
    PQclear(res);
    return rc;
}

/* ---- connections ---- */

/* Forwards server WARNINGs to our log; NOTICEs and below are dropped (the
 * session also asks the server not to send them). */
static void notice_receiver(void *arg, const PGresult *res)
{
    const char *sev = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
    char msg[256];
    (void)arg;
    if (!sev || strcmp(sev, "WARNING"))
        return;
    first_line(msg, sizeof(msg), PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY));
    log_warn("store: postgres warning: %s", msg);
}

/* What every session needs once connected (again). */
static int session_setup(struct pg_conn *c, char *err, size_t errn)
{
    PGresult *res = PQexec(c->pg, "SET client_min_messages = warning");
    bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;
    PQclear(res);
    if (!ok) {
        first_line(err, errn, PQerrorMessage(c->pg));
        return BE_STORE_UNAVAILABLE;
    }
    return BE_OK;
}

static int pg_connect(const char *url, unsigned timeout_s, void **ret_conn, char *err, size_t errn)
{
    char *parse_err = NULL;
    PQconninfoOption *opts = PQconninfoParse(url, &parse_err);
    if (!opts) {
        /* libpq's message quotes the URL, password included: don't repeat it. */
        snprintf(err, errn, "invalid PostgreSQL URL");
        PQfreemem(parse_err);
        return BE_INVALID_PARAMETER;
    }
    PQconninfoFree(opts);

    char timeout[16];
    snprintf(timeout, sizeof(timeout), "%u", timeout_s ? timeout_s : 5);
    /* Later keywords win: the URL may override the timeout and the name, but
     * the client encoding is always UTF-8, which is what our text is. */
    const char *const keys[] = {"connect_timeout", "fallback_application_name", "dbname",
                                "client_encoding", NULL};
    const char *const vals[] = {timeout, "bindery", url, "UTF8", NULL};
    struct pg_conn *c = xcalloc(1, sizeof(*c));
    c->pg = PQconnectdbParams(keys, vals, 1);
    if (!c->pg || PQstatus(c->pg) != CONNECTION_OK) {
        first_line(err, errn, c->pg ? PQerrorMessage(c->pg) : "out of memory");
        goto fail;
    }
    PQsetNoticeReceiver(c->pg, notice_receiver, NULL);
    if (session_setup(c, err, errn))
        goto fail;
    *ret_conn = c;
    return BE_OK;

fail:
    PQfinish(c->pg);
    free(c);
    return BE_STORE_UNAVAILABLE;
}

static void cache_clear(struct pg_conn *c)
{
    for (size_t i = 0; i < STMT_CACHE_SIZE; i++) {
        free(c->cache[i].sql);
        memset(&c->cache[i], 0, sizeof(c->cache[i]));
    }
}

static void pg_disconnect(void *conn)
{
    struct pg_conn *c = conn;
    if (!c)
        return;
    cache_clear(c);
    PQfinish(c->pg);
    free(c);
}

/* Replaces a lost session with a new one to the same server. Its prepared
 * statements died with the old session, so the cache starts again. */
static int reconnect(struct pg_conn *c)
{
    char err[256];
    PQreset(c->pg);
    if (PQstatus(c->pg) != CONNECTION_OK || session_setup(c, err, sizeof(err)))
        return BE_STORE_UNAVAILABLE;
    cache_clear(c);
    c->broken = false;
    log_info("store: postgres connection re-established");
    return BE_OK;
}

static bool pg_usable(void *conn)
{
    struct pg_conn *c = conn;
    /* A connection left inside a transaction is as bad as a broken one. */
    return !c->broken && PQstatus(c->pg) == CONNECTION_OK &&
           PQtransactionStatus(c->pg) == PQTRANS_IDLE;
}

/* ---- prepared statements ---- */

static uint64_t hash_sql(const char *sql)
{
    uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *)sql; *p; p++)
        h = (h ^ *p) * 0x100000001b3ull;
    return h;
}

static void stmt_forget(struct pg_stmt *e)
{
    free(e->sql);
    memset(e, 0, sizeof(*e));
}

/* Frees a slot, releasing its server-side statement. If that fails (the
 * transaction has already failed), the statement lingers on the server
 * until the connection closes, which is harmless: names are never reused. */
static void stmt_evict(struct pg_conn *c, struct pg_stmt *e)
{
    char cmd[48];
    snprintf(cmd, sizeof(cmd), "DEALLOCATE %s", e->name);
    PGresult *res = PQexec(c->pg, cmd);
    PQclear(res);
    stmt_forget(e);
}

/* Finds or prepares the statement for sql; returns its cache slot. */
static int prepare(struct pg_conn *c, const char *sql, struct pg_stmt **ret)
{
    uint64_t h = hash_sql(sql);
    size_t home = (size_t)h & (STMT_CACHE_SIZE - 1);
    struct pg_stmt *e = NULL;
    for (size_t k = 0; k < STMT_PROBE; k++) {
        struct pg_stmt *cand = &c->cache[(home + k) & (STMT_CACHE_SIZE - 1)];
        if (cand->sql && cand->hash == h && !strcmp(cand->sql, sql)) {
            *ret = cand;
            return BE_OK;
        }
        if (!e && !cand->sql)
            e = cand;
    }
    if (!e) { /* neighbourhood full: evict the home slot */
        e = &c->cache[home];
        stmt_evict(c, e);
    }
    snprintf(e->name, sizeof(e->name), "bindery_%u", c->next_stmt++);
    PGresult *res = PQprepare(c->pg, e->name, sql, 0, NULL);
    int rc = PQresultStatus(res) == PGRES_COMMAND_OK ? BE_OK : map_error(c, res, "prepare", sql);
    PQclear(res);
    if (rc)
        return rc;
    e->sql = xstrdup(sql);
    e->hash = h;
    *ret = e;
    return BE_OK;
}

/* ---- statements ---- */

static void params_free(struct pg_param *pp, size_t n)
{
    for (size_t i = 0; pp && i < n; i++)
        free(pp[i].owned);
    free(pp);
}

/* Fills libpq's parameter arrays from ours. */
static int params_build(const struct store_val *p, size_t n, struct pg_param *pp,
                        const char **values, int *lengths, int *formats)
{
    for (size_t i = 0; i < n; i++) {
        values[i] = NULL;
        lengths[i] = 0;
        formats[i] = 0;
        switch (p[i].type) {
        case STORE_NULL:
            break;
        case STORE_I64:
            snprintf(pp[i].num, sizeof(pp[i].num), "%" PRId64, p[i].i);
            values[i] = pp[i].num;
            break;
        case STORE_TEXT:
            /* PostgreSQL text cannot hold NUL; refuse rather than truncate. */
            if (p[i].n && memchr(p[i].p, '\0', p[i].n))
                return BE_INVALID_PARAMETER;
            pp[i].owned = xstrndup(p[i].n ? p[i].p : "", p[i].n);
            values[i] = pp[i].owned;
            break;
        case STORE_BLOB:
            if (p[i].n > INT_MAX)
                return BE_INVALID_PARAMETER;
            values[i] = p[i].p ? p[i].p : "";
            lengths[i] = (int)p[i].n;
            formats[i] = 1;
            break;
        default:
            return BE_INVALID_PARAMETER;
        }
    }
    return BE_OK;
}

/* Copies one non-NULL cell into the last row of r. */
static int cell_set(struct store_result *r, const PGresult *res, int row, int col)
{
    const char *v = PQgetvalue(res, row, col);
    int64_t i = 0;
    switch (PQftype(res, col)) {
    case OID_INT2:
    case OID_INT4:
    case OID_INT8:
    case OID_OID:
        if (parse_i64(v, INT64_MIN, INT64_MAX, &i))
            return BE_INTERNAL;
        store_result_set(r, (size_t)col, STORE_I64, i, NULL, 0);
        return BE_OK;
    case OID_BOOL: /* booleans are 0/1 integers, as in SQLite */
        store_result_set(r, (size_t)col, STORE_I64, v[0] == 't', NULL, 0);
        return BE_OK;
    case OID_BYTEA: {
        size_t len = 0;
        unsigned char *b = PQunescapeBytea((const unsigned char *)v, &len);
        if (!b)
            return BE_INTERNAL;
        store_result_set(r, (size_t)col, STORE_BLOB, 0, b, len);
        PQfreemem(b);
        return BE_OK;
    }
    default:
        store_result_set(r, (size_t)col, STORE_TEXT, 0, v, (size_t)PQgetlength(res, row, col));
        return BE_OK;
    }
}

static int result_build(const PGresult *res, struct store_result **ret_result)
{
    int nrows = PQntuples(res), ncols = PQnfields(res);
    struct store_result *r = store_result_new((size_t)ncols);
    for (int row = 0; row < nrows; row++) {
        store_result_add_row(r);
        for (int col = 0; col < ncols; col++) {
            if (PQgetisnull(res, row, col))
                continue;
            if (cell_set(r, res, row, col)) {
                log_error("store: postgres returned a malformed value in column %d (type %u)", col,
                          (unsigned)PQftype(res, col));
                store_result_free(r);
                return BE_INTERNAL;
            }
        }
    }
    *ret_result = r;
    return BE_OK;
}

static int run(struct pg_conn *c, const char *sql, const struct store_val *params, size_t n,
               struct store_result **ret_result, int64_t *ret_changes)
{
    struct pg_stmt *st;
    struct pg_param *pp = NULL;
    const char **values = NULL;
    int *lengths = NULL, *formats = NULL;
    PGresult *res = NULL;
    int rc;

    if (n > 65535) /* the protocol's limit */
        return BE_INVALID_PARAMETER;
    if ((rc = prepare(c, sql, &st)))
        return rc;
    if (n) {
        pp = xcalloc(n, sizeof(*pp));
        values = xcalloc(n, sizeof(*values));
        lengths = xcalloc(n, sizeof(*lengths));
        formats = xcalloc(n, sizeof(*formats));
        if ((rc = params_build(params, n, pp, values, lengths, formats)))
            goto out;
    }
    res = PQexecPrepared(c->pg, st->name, (int)n, values, lengths, formats, 0);
    switch (PQresultStatus(res)) {
    case PGRES_COMMAND_OK:
    case PGRES_TUPLES_OK:
        break;
    default:
        /* "cached plan must not change result type": the table changed under
         * the statement; forget it so that the next call prepares afresh. */
        if (state_is(PQresultErrorField(res, PG_DIAG_SQLSTATE), "0A000"))
            stmt_forget(st);
        rc = map_error(c, res, "statement", sql);
        goto out;
    }
    if (ret_changes) {
        int64_t changes = 0;
        const char *tuples = PQcmdTuples(res);
        if (*tuples && parse_i64(tuples, 0, INT64_MAX, &changes))
            changes = 0;
        *ret_changes = changes;
    }
    if (ret_result)
        rc = result_build(res, ret_result);
out:
    PQclear(res);
    params_free(pp, n);
    free(values);
    free(lengths);
    free(formats);
    return rc;
}

static int pg_exec(void *conn, const char *sql, const struct store_val *params, size_t n,
                   int64_t *ret_changes)
{
    return run(conn, sql, params, n, NULL, ret_changes);
}

static int pg_query(void *conn, const char *sql, const struct store_val *params, size_t n,
                    struct store_result **ret_result)
{
    return run(conn, sql, params, n, ret_result, NULL);
}

static int pg_script(void *conn, const char *sql)
{
    struct pg_conn *c = conn;
    /* The simple-query protocol runs every statement of the string; the
     * result is the last one's, or the first failure's. */
    PGresult *res = PQexec(c->pg, sql);
    ExecStatusType st = PQresultStatus(res);
    int rc = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK || st == PGRES_EMPTY_QUERY
                 ? BE_OK
                 : map_error(c, res, "script", sql);
    PQclear(res);
    return rc;
}

/* ---- transactions ---- */

static int pg_begin(void *conn)
{
    static const char begin[] = "BEGIN ISOLATION LEVEL REPEATABLE READ";
    struct pg_conn *c = conn;
    int rc = simple(c, begin);
    /* Nothing has happened in the transaction yet, so a session found dead
     * here (the server restarted while the connection sat in the pool) can
     * be replaced and the BEGIN repeated, instead of failing the request. */
    if (rc == BE_STORE_UNAVAILABLE && c->broken && reconnect(c) == BE_OK)
        rc = simple(c, begin);
    return rc;
}

static int pg_commit(void *conn)
{
    struct pg_conn *c = conn;
    /* COMMIT of a failed transaction "succeeds" by rolling back: a caller
     * that ignored a statement's error must not be told its work is saved. */
    if (PQtransactionStatus(c->pg) == PQTRANS_INERROR) {
        log_error("store: postgres commit refused: a statement of the transaction failed");
        return BE_INTERNAL;
    }
    return simple(c, "COMMIT");
}

static int pg_rollback(void *conn)
{
    struct pg_conn *c = conn;
    /* Nothing to do when COMMIT failed (the server has ended the
     * transaction) or the connection is gone. */
    PGTransactionStatusType ts = PQtransactionStatus(c->pg);
    if (ts == PQTRANS_IDLE || ts == PQTRANS_UNKNOWN)
        return BE_OK;
    return simple(c, "ROLLBACK");
}

const struct store_backend_ops store_postgres_ops = {
    .name = "postgres",
    .dialect = STORE_POSTGRES,
    .connect = pg_connect,
    .disconnect = pg_disconnect,
    .exec = pg_exec,
    .query = pg_query,
    .exec_script = pg_script,
    .begin = pg_begin,
    .commit = pg_commit,
    .rollback = pg_rollback,
    .usable = pg_usable,
    .backup = NULL, /* PostgreSQL deployments use pg_dump */
};
