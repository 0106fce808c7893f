/* Forward-only numbered migrations, one source for both back ends. The few
 * dialect differences are tokens replaced at apply time:
 *   @BLOB@    BLOB / BYTEA
 *   @AUTOID@  INTEGER PRIMARY KEY AUTOINCREMENT / BIGSERIAL PRIMARY KEY
 * Never edit a migration that has shipped; add a new one. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/log.h"
#include "core/timeutil.h"
#include "store/backend.h"
#include "store/store.h"
#include "core/banned.h"

static const struct store_migration migrations[] = {
    {1, "accounts, sessions, access keys, audit, login throttle",
     "CREATE TABLE accounts ("
     "  uin BIGINT PRIMARY KEY,"
     "  app_id BIGINT NOT NULL UNIQUE,"
     "  email TEXT UNIQUE,"
     "  password_hash TEXT,"
     "  name TEXT NOT NULL DEFAULT '',"
     "  registered_via TEXT NOT NULL DEFAULT 'email',"
     "  created_at BIGINT NOT NULL"
     ");"
     "CREATE TABLE sessions ("
     "  id_hash @BLOB@ PRIMARY KEY,"
     "  uin BIGINT NOT NULL,"
     "  owner_uin BIGINT NOT NULL,"
     "  kind TEXT NOT NULL DEFAULT 'root',"
     "  created_at BIGINT NOT NULL,"
     "  last_seen BIGINT NOT NULL,"
     "  expires_at BIGINT NOT NULL,"
     "  source_ip TEXT,"
     "  user_agent TEXT"
     ");"
     "CREATE INDEX sessions_uin ON sessions(uin);"
     "CREATE TABLE access_keys ("
     "  secret_id TEXT PRIMARY KEY,"
     "  owner_uin BIGINT NOT NULL,"
     "  uin BIGINT NOT NULL,"
     "  secret_sealed @BLOB@ NOT NULL,"
     "  status TEXT NOT NULL,"
     "  description TEXT,"
     "  created_at BIGINT NOT NULL"
     ");"
     "CREATE INDEX access_keys_principal ON access_keys(owner_uin, uin);"
     "CREATE TABLE audit_log ("
     "  id @AUTOID@,"
     "  at BIGINT NOT NULL,"
     "  owner_uin BIGINT,"
     "  uin BIGINT,"
     "  action TEXT NOT NULL,"
     "  result TEXT NOT NULL,"
     "  detail TEXT,"
     "  request_id TEXT,"
     "  source_ip TEXT"
     ");"
     "CREATE INDEX audit_log_owner ON audit_log(owner_uin, at);"
     "CREATE TABLE login_throttle ("
     "  key TEXT PRIMARY KEY,"
     "  failures BIGINT NOT NULL,"
     "  last_failure BIGINT NOT NULL,"
     "  blocked_until BIGINT NOT NULL"
     ");"},
    {2, "wechat component state (ticket, token, refresh lease) and authorization events",
     /* One row per component appid; secrets sealed (src/wechat/component.c). */
     "CREATE TABLE wechat_component ("
     "  component_appid TEXT PRIMARY KEY,"
     "  ticket_sealed @BLOB@,"
     "  ticket_time BIGINT NOT NULL DEFAULT 0,"
     "  ticket_received_at BIGINT NOT NULL DEFAULT 0,"
     "  token_sealed @BLOB@,"
     "  token_expires_at BIGINT NOT NULL DEFAULT 0,"
     "  token_generation BIGINT NOT NULL DEFAULT 0,"
     "  refresh_owner TEXT,"
     "  refresh_until BIGINT NOT NULL DEFAULT 0,"
     "  refresh_failed_at BIGINT NOT NULL DEFAULT 0,"
     "  refresh_errcode BIGINT NOT NULL DEFAULT 0,"
     "  refresh_error TEXT,"
     "  updated_at BIGINT NOT NULL"
     ");"
     /* authorized / updateauthorized / unauthorized pushes, consumed through
      * claims (src/wechat/events.c). Either key stops a replay. */
     "CREATE TABLE wechat_events ("
     "  id @AUTOID@,"
     "  component_appid TEXT NOT NULL,"
     "  info_type TEXT NOT NULL,"
     "  authorizer_appid TEXT NOT NULL,"
     "  create_time BIGINT NOT NULL,"
     "  msg_signature TEXT NOT NULL,"
     "  dedupe_key TEXT NOT NULL,"
     "  auth_code_sealed @BLOB@,"
     "  auth_code_expires_at BIGINT NOT NULL DEFAULT 0,"
     "  pre_auth_code TEXT NOT NULL DEFAULT '',"
     "  received_at BIGINT NOT NULL,"
     "  state TEXT NOT NULL DEFAULT 'pending',"
     "  claim_owner TEXT,"
     "  claim_until BIGINT NOT NULL DEFAULT 0,"
     "  attempts BIGINT NOT NULL DEFAULT 0,"
     "  last_error TEXT,"
     "  outcome TEXT,"
     "  done_at BIGINT"
     ");"
     /* WeChat's retries repeat the same event; a new authorization in the
      * same second carries a new code, so the code is part of the key. */
     "CREATE UNIQUE INDEX wechat_events_push ON wechat_events(component_appid, dedupe_key);"
     "CREATE UNIQUE INDEX wechat_events_signature ON wechat_events(msg_signature);"
     "CREATE INDEX wechat_events_queue"
     "  ON wechat_events(component_appid, state, authorizer_appid, create_time);"},
};

#define NMIGRATIONS (sizeof(migrations) / sizeof(migrations[0]))

int store_schema_version_latest(void)
{
    return migrations[NMIGRATIONS - 1].version;
}

int store_migrate(struct store *s, int *ret_version)
{
    return store_migrate_list(s, "bindery", migrations, NMIGRATIONS, ret_version);
}

static char *render(const char *sql, enum store_dialect d)
{
    static const struct {
        const char *token, *sqlite, *pg;
    } tokens[] = {
        {"@BLOB@", "BLOB", "BYTEA"},
        {"@AUTOID@", "INTEGER PRIMARY KEY AUTOINCREMENT", "BIGSERIAL PRIMARY KEY"},
    };
    struct buf b = BUF_INIT;
    for (const char *p = sql; *p;) {
        size_t i;
        for (i = 0; i < sizeof(tokens) / sizeof(tokens[0]); i++) {
            size_t tl = strlen(tokens[i].token);
            if (!strncmp(p, tokens[i].token, tl)) {
                buf_adds(&b, d == STORE_SQLITE ? tokens[i].sqlite : tokens[i].pg);
                p += tl;
                break;
            }
        }
        if (i == sizeof(tokens) / sizeof(tokens[0]))
            buf_addch(&b, *p++);
    }
    return buf_detach(&b, NULL);
}

struct apply_ctx {
    const char *component;
    const struct store_migration *m;
    bool applied;
    int version;
};

static int current_version(struct store_conn *c, const char *component, int *ret)
{
    struct store_result *r = NULL;
    int rc = store_query(c,
                         "SELECT COALESCE(MAX(version), 0) FROM schema_migrations"
                         " WHERE component = $1",
                         SV_ARGS(SV_TEXT(component)), &r);
    if (rc == BE_OK)
        *ret = (int)store_result_i64(r, 0, 0);
    store_result_free(r);
    return rc;
}

static int apply_one(struct store_conn *c, void *arg)
{
    struct apply_ctx *ctx = arg;
    int version, rc;
    ctx->applied = false;
    if (store_conn_dialect(c) == STORE_POSTGRES) {
        /* Serialises instances that start together; released at commit. Not
         * an advisory lock taken with SELECT: under REPEATABLE READ that
         * SELECT fixes the snapshot before the wait, so the version read next
         * would miss the migration the other instance just committed. LOCK
         * TABLE takes no snapshot. */
        rc = store_exec(c, "LOCK TABLE schema_migrations IN SHARE ROW EXCLUSIVE MODE", NULL, 0,
                        NULL);
        if (rc)
            return rc;
    }
    if ((rc = current_version(c, ctx->component, &version)))
        return rc;
    if (version >= ctx->m->version)
        return BE_OK;
    char *sql = render(ctx->m->sql, store_conn_dialect(c));
    rc = store_exec_script(c, sql);
    free(sql);
    if (rc)
        return rc;
    rc = store_exec(c,
                    "INSERT INTO schema_migrations (component, version, name, applied_at)"
                    " VALUES ($1, $2, $3, $4)",
                    SV_ARGS(SV_TEXT(ctx->component), SV_I64(ctx->m->version),
                            SV_TEXT(ctx->m->name), SV_I64(time_now())),
                    NULL);
    if (rc == BE_OK)
        ctx->applied = true;
    return rc;
}

static int create_table(struct store_conn *c, void *arg)
{
    (void)arg;
    return store_exec(c,
                      "CREATE TABLE IF NOT EXISTS schema_migrations ("
                      " component TEXT NOT NULL, version BIGINT NOT NULL, name TEXT NOT NULL,"
                      " applied_at BIGINT NOT NULL, PRIMARY KEY (component, version))",
                      NULL, 0, NULL);
}

static int read_version(struct store_conn *c, void *arg)
{
    struct apply_ctx *ctx = arg;
    return current_version(c, ctx->component, &ctx->version);
}

int store_migrate_list(struct store *s, const char *component, const struct store_migration *list,
                       size_t n, int *ret_version)
{
    int rc = store_run(s, create_table, NULL);
    /* Two instances creating the table at once: one loses with a duplicate. */
    if (rc == BE_DUPLICATE)
        rc = BE_OK;
    if (rc)
        return rc;
    for (size_t i = 0; i < n; i++) {
        struct apply_ctx ctx = {component, &list[i], false, 0};
        if ((rc = store_tx(s, apply_one, &ctx))) {
            log_error("store: %s migration %d (%s) failed: %s", component, list[i].version,
                      list[i].name, be_err_code(rc));
            return rc;
        }
        if (ctx.applied)
            log_info("store: applied %s migration %d: %s", component, list[i].version,
                     list[i].name);
    }
    struct apply_ctx ctx = {component, NULL, false, 0};
    rc = store_run(s, read_version, &ctx);
    if (rc == BE_OK && ret_version)
        *ret_version = ctx.version;
    return rc;
}
