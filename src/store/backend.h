/* The contract between store.c and its back ends (sqlite.c, postgres.c).
 * Not for domain code. A back-end connection is used by one thread at a
 * time; store.c's pool guarantees that. */
#ifndef BINDERY_STORE_BACKEND_H
#define BINDERY_STORE_BACKEND_H

#include "store/store.h"

struct store_backend_ops {
    const char *name;
    enum store_dialect dialect;
    /* Connects; on failure returns BE_STORE_UNAVAILABLE (or BE_INVALID_PARAMETER for a bad
     * URL) and writes a reason into err (size errn). */
    int (*connect)(const char *url, unsigned timeout_s, void **ret_conn, char *err, size_t errn);
    void (*disconnect)(void *conn);
    int (*exec)(void *conn, const char *sql, const struct store_val *params, size_t n,
                int64_t *ret_changes);
    int (*query)(void *conn, const char *sql, const struct store_val *params, size_t n,
                 struct store_result **ret_result);
    /* Runs a script of several statements without parameters (migrations). */
    int (*exec_script)(void *conn, const char *sql);
    /* Starts a write transaction (SQLite: BEGIN IMMEDIATE; PostgreSQL: BEGIN ISOLATION
     * LEVEL REPEATABLE READ). */
    int (*begin)(void *conn);
    int (*commit)(void *conn);
    int (*rollback)(void *conn);
    /* false once the connection is known to be broken, so the pool replaces it. */
    bool (*usable)(void *conn);
    /* Optional: online backup to a file. */
    int (*backup)(void *conn, const char *dest_path);
};

extern const struct store_backend_ops store_sqlite_ops;
extern const struct store_backend_ops store_postgres_ops;

/* Result building, for back ends. */
struct store_result *store_result_new(size_t ncols);
/* Appends an empty row; cells default to NULL. */
void store_result_add_row(struct store_result *r);
/* Sets a cell of the last row, copying the bytes (text gets a NUL). */
void store_result_set(struct store_result *r, size_t col, enum store_type type, int64_t i,
                      const void *p, size_t n);

/* Runs a parameterless multi-statement script on c (migrations). */
int store_exec_script(struct store_conn *c, const char *sql);

/* Rewrites $N placeholders into ?N for SQLite (outside quotes). The result is
 * malloc'd. */
char *store_sql_to_sqlite(const char *sql);

#endif
