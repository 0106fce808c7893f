#include "store/store.h"

#include <errno.h>
#include <stdio.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/err.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/parse.h"
#include "store/backend.h"
#include "core/banned.h"

/* Under REPEATABLE READ, 8 threads doing read-then-write on one row needed
 * up to 12 attempts for a single transaction (tests/unit/test_store.c); 8
 * attempts lost about one write in a thousand. */
#define TX_MAX_ATTEMPTS 32

struct store_conn {
    struct store *store;
    void *backend; /* NULL until connected */
    bool in_use;
};

struct store {
    const struct store_backend_ops *ops;
    char *url;
    unsigned timeout_s;
    size_t nconns;
    struct store_conn *conns;
    pthread_mutex_t lock;
    pthread_cond_t released;
    /* SQLite has one writer at a time per file. Queueing this process's
     * write transactions here, instead of in SQLite's busy handler (which
     * sleeps up to 100 ms between tries), keeps write latency low. */
    pthread_mutex_t write_lock;
};

/* ---- results ---- */

struct store_cell {
    enum store_type type;
    int64_t i;
    char *p; /* text (NUL-terminated) or blob bytes */
    size_t n;
};

struct store_result {
    size_t ncols, nrows, cap;
    struct store_cell *cells;
};

struct store_result *store_result_new(size_t ncols)
{
    struct store_result *r = xcalloc(1, sizeof(*r));
    r->ncols = ncols;
    return r;
}

void store_result_add_row(struct store_result *r)
{
    if (r->nrows == r->cap) {
        r->cap = r->cap ? xmul(r->cap, 2) : 8;
        r->cells = xrealloc(r->cells, xmul(xmul(r->cap, r->ncols ? r->ncols : 1),
                                           sizeof(struct store_cell)));
    }
    memset(&r->cells[r->nrows * r->ncols], 0, r->ncols * sizeof(struct store_cell));
    r->nrows++;
}

void store_result_set(struct store_result *r, size_t col, enum store_type type, int64_t i,
                      const void *p, size_t n)
{
    struct store_cell *c = &r->cells[(r->nrows - 1) * r->ncols + col];
    c->type = type;
    c->i = i;
    if (type == STORE_TEXT || type == STORE_BLOB) {
        c->p = xmalloc(xadd(n, 1));
        if (n)
            memcpy(c->p, p, n);
        c->p[n] = '\0';
        c->n = n;
    }
}

static const struct store_cell *cell(const struct store_result *r, size_t row, size_t col)
{
    if (!r || row >= r->nrows || col >= r->ncols)
        return NULL;
    return &r->cells[row * r->ncols + col];
}

size_t store_result_rows(const struct store_result *r)
{
    return r ? r->nrows : 0;
}

size_t store_result_cols(const struct store_result *r)
{
    return r ? r->ncols : 0;
}

bool store_result_is_null(const struct store_result *r, size_t row, size_t col)
{
    const struct store_cell *c = cell(r, row, col);
    return !c || c->type == STORE_NULL;
}

int64_t store_result_i64(const struct store_result *r, size_t row, size_t col)
{
    const struct store_cell *c = cell(r, row, col);
    int64_t v = 0;
    if (!c)
        return 0;
    if (c->type == STORE_I64)
        return c->i;
    if (c->type == STORE_TEXT && !parse_i64(c->p, INT64_MIN, INT64_MAX, &v))
        return v;
    return 0;
}

const char *store_result_text(const struct store_result *r, size_t row, size_t col)
{
    const struct store_cell *c = cell(r, row, col);
    if (!c || c->type == STORE_NULL)
        return NULL;
    return c->type == STORE_I64 ? NULL : c->p;
}

const void *store_result_blob(const struct store_result *r, size_t row, size_t col,
                              size_t *ret_len)
{
    const struct store_cell *c = cell(r, row, col);
    if (!c || (c->type != STORE_BLOB && c->type != STORE_TEXT)) {
        *ret_len = 0;
        return NULL;
    }
    *ret_len = c->n;
    return c->p;
}

void store_result_free(struct store_result *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->nrows * r->ncols; i++)
        free(r->cells[i].p);
    free(r->cells);
    free(r);
}

/* ---- pool ---- */

static const struct store_backend_ops *backend_for(const char *url)
{
    if (!strncmp(url, "sqlite://", 9))
        return &store_sqlite_ops;
    if (!strncmp(url, "postgres://", 11) || !strncmp(url, "postgresql://", 13))
        return &store_postgres_ops;
    return NULL;
}

static int conn_acquire(struct store *s, struct store_conn **ret)
{
    struct store_conn *c = NULL;
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += 30;
    pthread_mutex_lock(&s->lock);
    for (;;) {
        for (size_t i = 0; i < s->nconns; i++) {
            if (!s->conns[i].in_use) {
                c = &s->conns[i];
                break;
            }
        }
        if (c)
            break;
        if (pthread_cond_timedwait(&s->released, &s->lock, &deadline) == ETIMEDOUT) {
            pthread_mutex_unlock(&s->lock);
            log_error("store: no free connection within 30 s");
            return BE_STORE_UNAVAILABLE;
        }
    }
    c->in_use = true;
    pthread_mutex_unlock(&s->lock);

    if (c->backend && !s->ops->usable(c->backend)) {
        s->ops->disconnect(c->backend);
        c->backend = NULL;
    }
    if (!c->backend) {
        char err[256] = "";
        int rc = s->ops->connect(s->url, s->timeout_s, &c->backend, err, sizeof(err));
        if (rc) {
            log_error("store: cannot connect to %s database: %s", s->ops->name, err);
            c->backend = NULL;
            pthread_mutex_lock(&s->lock);
            c->in_use = false;
            pthread_cond_signal(&s->released);
            pthread_mutex_unlock(&s->lock);
            return rc;
        }
    }
    *ret = c;
    return BE_OK;
}

static void conn_release(struct store *s, struct store_conn *c)
{
    pthread_mutex_lock(&s->lock);
    c->in_use = false;
    pthread_cond_signal(&s->released);
    pthread_mutex_unlock(&s->lock);
}

int store_open(const char *url, const struct store_options *opts, struct store **ret_store)
{
    const struct store_backend_ops *ops = backend_for(url);
    struct store_conn *c;
    if (!ops)
        return BE_INVALID_PARAMETER;
    struct store *s = xcalloc(1, sizeof(*s));
    s->ops = ops;
    s->url = xstrdup(url);
    s->timeout_s = opts && opts->connect_timeout_s ? opts->connect_timeout_s : 5;
    s->nconns = opts && opts->pool_size ? opts->pool_size : 4;
    s->conns = xcalloc(s->nconns, sizeof(*s->conns));
    for (size_t i = 0; i < s->nconns; i++)
        s->conns[i].store = s;
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->released, NULL);
    pthread_mutex_init(&s->write_lock, NULL);
    int rc = conn_acquire(s, &c);
    if (rc) {
        store_close(s);
        return rc;
    }
    conn_release(s, c);
    *ret_store = s;
    return BE_OK;
}

void store_close(struct store *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->nconns; i++)
        if (s->conns[i].backend)
            s->ops->disconnect(s->conns[i].backend);
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->released);
    pthread_mutex_destroy(&s->write_lock);
    free(s->conns);
    free(s->url);
    free(s);
}

enum store_dialect store_dialect(const struct store *s)
{
    return s->ops->dialect;
}

const char *store_backend_name(const struct store *s)
{
    return s->ops->name;
}

enum store_dialect store_conn_dialect(const struct store_conn *c)
{
    return c->store->ops->dialect;
}

struct store *store_conn_store(const struct store_conn *c)
{
    return c->store;
}

int store_exec(struct store_conn *c, const char *sql, const struct store_val *params,
               size_t nparams, int64_t *ret_changes)
{
    return c->store->ops->exec(c->backend, sql, params, nparams, ret_changes);
}

int store_query(struct store_conn *c, const char *sql, const struct store_val *params,
                size_t nparams, struct store_result **ret_result)
{
    return c->store->ops->query(c->backend, sql, params, nparams, ret_result);
}

int store_exec_script(struct store_conn *c, const char *sql)
{
    return c->store->ops->exec_script(c->backend, sql);
}

int store_run(struct store *s, store_fn fn, void *arg)
{
    struct store_conn *c;
    int rc = conn_acquire(s, &c);
    if (rc)
        return rc;
    rc = fn(c, arg);
    conn_release(s, c);
    return rc;
}

static void backoff(int attempt)
{
    /* 1, 2, 4 ... ms plus jitter, so that racing writers spread out. */
    long ms = (1L << (attempt < 6 ? attempt : 6)) + (long)(rand() % 5);
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

int store_tx(struct store *s, store_fn fn, void *arg)
{
    struct store_conn *c;
    int rc = conn_acquire(s, &c);
    if (rc)
        return rc;
    bool serialise = s->ops->dialect == STORE_SQLITE;
    for (int attempt = 0;; attempt++) {
        if (serialise)
            pthread_mutex_lock(&s->write_lock);
        rc = s->ops->begin(c->backend);
        if (rc == BE_OK) {
            rc = fn(c, arg);
            if (rc == BE_OK)
                rc = s->ops->commit(c->backend);
            if (rc != BE_OK)
                s->ops->rollback(c->backend);
        }
        if (serialise)
            pthread_mutex_unlock(&s->write_lock);
        if (rc != BE_CONFLICT || attempt + 1 >= TX_MAX_ATTEMPTS)
            break;
        backoff(attempt);
    }
    conn_release(s, c);
    return rc;
}

int store_health(struct store *s, char *ret_state, size_t state_size)
{
    struct store_conn *c;
    struct store_result *r = NULL;
    int rc = conn_acquire(s, &c);
    if (rc == BE_OK) {
        rc = store_query(c, "SELECT 1", NULL, 0, &r);
        store_result_free(r);
        conn_release(s, c);
    }
    snprintf(ret_state, state_size, "%s", rc == BE_OK ? "ok" : "unavailable");
    return rc;
}

int store_backup(struct store *s, const char *dest_path)
{
    struct store_conn *c;
    if (!s->ops->backup)
        return BE_FAILED;
    int rc = conn_acquire(s, &c);
    if (rc)
        return rc;
    rc = s->ops->backup(c->backend, dest_path);
    conn_release(s, c);
    return rc;
}

char *store_sql_to_sqlite(const char *sql)
{
    size_t len = strlen(sql);
    char *out = xmalloc(xadd(len, 1));
    char quote = 0;
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        char ch = sql[i];
        if (quote) {
            if (ch == quote)
                quote = 0;
        } else if (ch == '\'' || ch == '"') {
            quote = ch;
        } else if (ch == '$' && sql[i + 1] >= '0' && sql[i + 1] <= '9') {
            ch = '?';
        }
        out[o++] = ch;
    }
    out[o] = '\0';
    return out;
}
