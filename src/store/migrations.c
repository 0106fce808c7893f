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
    {3, "wechat links, their history, authorization attempts, used authorization codes",
     /* The account registered through a WeChat app remembers which one
      * (src/binding/link.c: the mini program rule). */
     "ALTER TABLE accounts ADD COLUMN registered_appid TEXT;"
     "ALTER TABLE accounts ADD COLUMN registered_app_type TEXT;"
     /* One row per link; an app has at most one live (active or revoked)
      * link, whichever account it belongs to. */
     "CREATE TABLE wechat_links ("
     "  id @AUTOID@,"
     "  owner_uin BIGINT NOT NULL,"
     "  authorizer_appid TEXT NOT NULL,"
     "  app_type TEXT NOT NULL,"
     "  state TEXT NOT NULL,"
     "  revoked_reason TEXT,"
     "  nick_name TEXT NOT NULL DEFAULT '',"
     "  principal_name TEXT NOT NULL DEFAULT '',"
     "  head_img TEXT NOT NULL DEFAULT '',"
     "  user_name TEXT NOT NULL DEFAULT '',"
     "  func_ids TEXT NOT NULL DEFAULT '',"
     "  refresh_token_sealed @BLOB@,"
     "  linked_at BIGINT NOT NULL,"
     "  authorized_at BIGINT NOT NULL,"
     "  grant_seq BIGINT NOT NULL DEFAULT 1,"
     "  last_verified_at BIGINT NOT NULL DEFAULT 0,"
     "  revoked_at BIGINT NOT NULL DEFAULT 0,"
     "  unlinked_at BIGINT NOT NULL DEFAULT 0,"
     "  check_after BIGINT NOT NULL DEFAULT 0,"
     "  check_owner TEXT,"
     "  check_until BIGINT NOT NULL DEFAULT 0,"
     "  check_error TEXT,"
     "  updated_at BIGINT NOT NULL"
     ");"
     "CREATE UNIQUE INDEX wechat_links_live ON wechat_links(authorizer_appid)"
     "  WHERE state <> 'unlinked';"
     "CREATE INDEX wechat_links_owner ON wechat_links(owner_uin, id);"
     "CREATE INDEX wechat_links_due ON wechat_links(state, check_after);"
     "CREATE TABLE wechat_link_history ("
     "  id @AUTOID@,"
     "  link_id BIGINT NOT NULL,"
     "  owner_uin BIGINT NOT NULL,"
     "  authorizer_appid TEXT NOT NULL,"
     "  event TEXT NOT NULL,"
     "  detail TEXT,"
     "  actor_uin BIGINT NOT NULL DEFAULT 0,"
     "  at BIGINT NOT NULL"
     ");"
     "CREATE INDEX wechat_link_history_owner ON wechat_link_history(owner_uin, id);"
     /* Authorization attempts (link or scan-to-log-in), by SHA-256 of the
      * random state; bound to a console session, a login-page visitor
      * cookie (both by hash) or a principal. */
     "CREATE TABLE wechat_link_attempts ("
     "  state_hash @BLOB@ PRIMARY KEY,"
     "  purpose TEXT NOT NULL,"
     "  binding TEXT NOT NULL,"
     "  binding_hash @BLOB@,"
     "  owner_uin BIGINT NOT NULL DEFAULT 0,"
     "  uin BIGINT NOT NULL DEFAULT 0,"
     "  principal_kind TEXT NOT NULL DEFAULT 'root',"
     "  app_id BIGINT NOT NULL DEFAULT 0,"
     "  target_appid TEXT NOT NULL DEFAULT '',"
     "  pre_auth_code TEXT NOT NULL,"
     "  created_at BIGINT NOT NULL,"
     "  expires_at BIGINT NOT NULL,"
     "  claim_until BIGINT NOT NULL DEFAULT 0,"
     "  used_at BIGINT NOT NULL DEFAULT 0,"
     "  applied_at BIGINT NOT NULL DEFAULT 0,"
     "  result_uin BIGINT NOT NULL DEFAULT 0,"
     "  result_appid TEXT NOT NULL DEFAULT '',"
     "  result TEXT NOT NULL DEFAULT '',"
     "  last_error TEXT"
     ");"
     "CREATE INDEX wechat_link_attempts_pac ON wechat_link_attempts(pre_auth_code);"
     "CREATE INDEX wechat_link_attempts_expiry ON wechat_link_attempts(expires_at);"
     /* Every authorization code exchanged, by SHA-256, with the attempt it
      * completed: a code is good for one attempt only. */
     "CREATE TABLE wechat_auth_codes ("
     "  code_hash @BLOB@ PRIMARY KEY,"
     "  state_hash @BLOB@,"
     "  authorizer_appid TEXT NOT NULL,"
     "  used_at BIGINT NOT NULL"
     ");"
     "CREATE INDEX wechat_auth_codes_used ON wechat_auth_codes(used_at);"},
    {4, "deploy jobs, their log lines, environments' runtime state (live version, job lease)",
     /* One row per deploy job (src/deploy/job.c, docs/deploy.md); kind is
      * deploy, rollback, restart or stop; times in unix milliseconds. */
     "CREATE TABLE deploys ("
     "  id TEXT PRIMARY KEY,"
     "  owner_uin BIGINT NOT NULL,"
     "  env_id TEXT NOT NULL,"
     "  kind TEXT NOT NULL,"
     "  from_version_n BIGINT NOT NULL DEFAULT 0,"
     "  to_version_n BIGINT NOT NULL DEFAULT 0,"
     "  state TEXT NOT NULL,"
     "  step TEXT NOT NULL DEFAULT '',"
     "  error_code TEXT,"
     "  error_text TEXT,"
     "  cancel_requested BIGINT NOT NULL DEFAULT 0,"
     "  requested_by BIGINT NOT NULL DEFAULT 0,"
     "  created_at BIGINT NOT NULL,"
     "  started_at BIGINT NOT NULL DEFAULT 0,"
     "  finished_at BIGINT NOT NULL DEFAULT 0"
     ");"
     "CREATE INDEX deploys_env ON deploys(env_id, created_at);"
     "CREATE INDEX deploys_state ON deploys(state);"
     "CREATE TABLE deploy_log ("
     "  deploy_id TEXT NOT NULL,"
     "  seq BIGINT NOT NULL,"
     "  at BIGINT NOT NULL,"
     "  level TEXT NOT NULL,"
     "  step TEXT NOT NULL,"
     "  msg TEXT NOT NULL,"
     "  PRIMARY KEY (deploy_id, seq)"
     ");"
     /* The runtime side of an environment: its live version pointer (the
      * spec's alias `live`), what should run, and the one-job lease. */
     "CREATE TABLE env_runtime ("
     "  env_id TEXT PRIMARY KEY,"
     "  owner_uin BIGINT NOT NULL,"
     "  live_version_n BIGINT NOT NULL DEFAULT 0,"
     "  prev_version_n BIGINT NOT NULL DEFAULT 0,"
     "  desired TEXT NOT NULL DEFAULT 'stopped',"
     "  lease_deploy TEXT,"
     "  lease_owner TEXT,"
     "  lease_until BIGINT NOT NULL DEFAULT 0,"
     "  last_deploy TEXT,"
     "  updated_at BIGINT NOT NULL"
     ");"},
    {5, "cam: sub-users and collaborators, groups, custom policies, attachments, generations",
     /* Sub-users and collaborators of an owner (src/cam/directory.c). A
      * sub-user's UIN is 11 digits, a range disjoint from root accounts'
      * 12-digit UINs, and unique among sub-users; a collaborator's UIN is its
      * own root account's. uid is the CAM user ID (Uid). */
     "CREATE TABLE cam_users ("
     "  uid @AUTOID@,"
     "  owner_uin BIGINT NOT NULL,"
     "  uin BIGINT NOT NULL,"
     "  kind TEXT NOT NULL,"
     "  name TEXT NOT NULL,"
     "  remark TEXT NOT NULL DEFAULT '',"
     "  console_login BIGINT NOT NULL DEFAULT 0,"
     "  use_api BIGINT NOT NULL DEFAULT 0,"
     "  password_hash TEXT,"
     "  need_reset_password BIGINT NOT NULL DEFAULT 0,"
     "  phone_num TEXT NOT NULL DEFAULT '',"
     "  country_code TEXT NOT NULL DEFAULT '',"
     "  email TEXT NOT NULL DEFAULT '',"
     "  created_at BIGINT NOT NULL,"
     "  updated_at BIGINT NOT NULL"
     ");"
     "CREATE UNIQUE INDEX cam_users_name ON cam_users(owner_uin, name);"
     "CREATE UNIQUE INDEX cam_users_uin ON cam_users(owner_uin, uin);"
     "CREATE UNIQUE INDEX cam_users_sub_uin ON cam_users(uin) WHERE kind = 'sub_user';"
     "CREATE INDEX cam_users_member ON cam_users(uin, kind);"
     "CREATE TABLE cam_groups ("
     "  group_id @AUTOID@,"
     "  owner_uin BIGINT NOT NULL,"
     "  name TEXT NOT NULL,"
     "  remark TEXT NOT NULL DEFAULT '',"
     "  created_at BIGINT NOT NULL,"
     "  updated_at BIGINT NOT NULL"
     ");"
     "CREATE UNIQUE INDEX cam_groups_name ON cam_groups(owner_uin, name);"
     "CREATE TABLE cam_group_members ("
     "  group_id BIGINT NOT NULL,"
     "  uid BIGINT NOT NULL,"
     "  owner_uin BIGINT NOT NULL,"
     "  added_at BIGINT NOT NULL,"
     "  PRIMARY KEY (group_id, uid)"
     ");"
     "CREATE INDEX cam_group_members_uid ON cam_group_members(uid);"
     /* Custom policies; the API's PolicyId is id + 999 (CAM_PRESET_ID_MAX),
      * one number space with the presets. version counts document changes
      * (the compiled-policy cache is keyed by it). */
     "CREATE TABLE cam_policies ("
     "  id @AUTOID@,"
     "  owner_uin BIGINT NOT NULL,"
     "  name TEXT NOT NULL,"
     "  description TEXT NOT NULL DEFAULT '',"
     "  document TEXT NOT NULL,"
     "  version BIGINT NOT NULL DEFAULT 1,"
     "  created_at BIGINT NOT NULL,"
     "  updated_at BIGINT NOT NULL"
     ");"
     "CREATE UNIQUE INDEX cam_policies_name ON cam_policies(owner_uin, name);"
     /* entity_kind 'user' (entity_id = uid) or 'group' (group_id). */
     "CREATE TABLE cam_attachments ("
     "  owner_uin BIGINT NOT NULL,"
     "  policy_id BIGINT NOT NULL,"
     "  entity_kind TEXT NOT NULL,"
     "  entity_id BIGINT NOT NULL,"
     "  attached_at BIGINT NOT NULL,"
     "  operator_uin BIGINT NOT NULL,"
     "  PRIMARY KEY (entity_kind, entity_id, policy_id)"
     ");"
     "CREATE INDEX cam_attachments_policy ON cam_attachments(owner_uin, policy_id);"
     /* Bumped in the transaction of every CAM change of an owner; every
      * instance compares it with its cached policy sets (src/cam/cache.c). */
     "CREATE TABLE cam_generation ("
     "  owner_uin BIGINT PRIMARY KEY,"
     "  gen BIGINT NOT NULL"
     ");"},
    {6, "environments, provisioning steps, blobs, uploads, immutable versions",
     /* One row per linked app that has environments: the quota counter, so
      * that two concurrent creations conflict on it (docs/environments.md). */
     "CREATE TABLE env_apps ("
     "  owner_uin BIGINT NOT NULL,"
     "  appid TEXT NOT NULL,"
     "  env_count BIGINT NOT NULL DEFAULT 0,"
     "  PRIMARY KEY (owner_uin, appid)"
     ");"
     "CREATE TABLE envs ("
     "  env_id TEXT PRIMARY KEY,"
     "  owner_uin BIGINT NOT NULL,"
     "  appid TEXT NOT NULL,"
     "  name TEXT NOT NULL,"
     "  state TEXT NOT NULL,"
     "  state_seq BIGINT NOT NULL DEFAULT 1,"
     "  client_token TEXT NOT NULL,"
     "  port BIGINT,"
     "  dir TEXT NOT NULL DEFAULT '',"
     "  error_code TEXT NOT NULL DEFAULT '',"
     "  error_message TEXT NOT NULL DEFAULT '',"
     "  version_seq BIGINT NOT NULL DEFAULT 0,"
     "  created_by BIGINT NOT NULL DEFAULT 0,"
     "  created_at BIGINT NOT NULL,"
     "  updated_at BIGINT NOT NULL,"
     "  claim_owner TEXT,"
     "  claim_until BIGINT NOT NULL DEFAULT 0,"
     "  runs BIGINT NOT NULL DEFAULT 0"
     ");"
     "CREATE UNIQUE INDEX envs_token ON envs(owner_uin, client_token);"
     "CREATE UNIQUE INDEX envs_port ON envs(port);"
     "CREATE INDEX envs_app ON envs(appid);"
     "CREATE INDEX envs_owner ON envs(owner_uin, created_at);"
     "CREATE INDEX envs_work ON envs(state, claim_until);"
     "CREATE TABLE env_steps ("
     "  env_id TEXT NOT NULL,"
     "  step TEXT NOT NULL,"
     "  seq BIGINT NOT NULL,"
     "  state TEXT NOT NULL,"
     "  attempts BIGINT NOT NULL DEFAULT 0,"
     "  error TEXT NOT NULL DEFAULT '',"
     "  worker TEXT NOT NULL DEFAULT '',"
     "  updated_at BIGINT NOT NULL,"
     "  PRIMARY KEY (env_id, step)"
     ");"
     "CREATE TABLE blobs ("
     "  sha256 TEXT PRIMARY KEY,"
     "  size BIGINT NOT NULL,"
     "  created_at BIGINT NOT NULL,"
     "  last_used BIGINT NOT NULL"
     ");"
     "CREATE INDEX blobs_last_used ON blobs(last_used);"
     "CREATE TABLE uploads ("
     "  upload_id TEXT PRIMARY KEY,"
     "  env_id TEXT NOT NULL,"
     "  owner_uin BIGINT NOT NULL,"
     "  state TEXT NOT NULL,"
     "  manifest_hash TEXT NOT NULL,"
     "  files BIGINT NOT NULL,"
     "  bytes BIGINT NOT NULL,"
     "  description TEXT NOT NULL DEFAULT '',"
     "  version BIGINT NOT NULL DEFAULT 0,"
     "  created_by BIGINT NOT NULL DEFAULT 0,"
     "  created_at BIGINT NOT NULL,"
     "  expires_at BIGINT NOT NULL"
     ");"
     "CREATE INDEX uploads_env ON uploads(env_id);"
     "CREATE INDEX uploads_expiry ON uploads(expires_at);"
     "CREATE TABLE upload_files ("
     "  upload_id TEXT NOT NULL,"
     "  path TEXT NOT NULL,"
     "  sha256 TEXT NOT NULL,"
     "  size BIGINT NOT NULL,"
     "  mode BIGINT NOT NULL,"
     "  PRIMARY KEY (upload_id, path)"
     ");"
     "CREATE INDEX upload_files_blob ON upload_files(sha256);"
     "CREATE TABLE versions ("
     "  env_id TEXT NOT NULL,"
     "  version BIGINT NOT NULL,"
     "  owner_uin BIGINT NOT NULL,"
     "  upload_id TEXT NOT NULL,"
     "  manifest_hash TEXT NOT NULL,"
     "  files BIGINT NOT NULL,"
     "  bytes BIGINT NOT NULL,"
     "  runtime TEXT NOT NULL,"
     "  entry TEXT NOT NULL,"
     "  description TEXT NOT NULL DEFAULT '',"
     "  created_by BIGINT NOT NULL DEFAULT 0,"
     "  created_at BIGINT NOT NULL,"
     "  PRIMARY KEY (env_id, version)"
     ");"
     "CREATE TABLE version_files ("
     "  env_id TEXT NOT NULL,"
     "  version BIGINT NOT NULL,"
     "  path TEXT NOT NULL,"
     "  sha256 TEXT NOT NULL,"
     "  size BIGINT NOT NULL,"
     "  mode BIGINT NOT NULL,"
     "  PRIMARY KEY (env_id, version, path)"
     ");"
     "CREATE INDEX version_files_blob ON version_files(sha256);"},
    {7, "developer tools: device logins, devices, refresh tokens, temporary credentials,"
        " console sign-in links",
     /* RFC 8628 device authorization requests, by SHA-256 of the device
      * code; the short user code is unique among the rows kept. */
     "CREATE TABLE devtools_device_codes ("
     "  device_hash @BLOB@ PRIMARY KEY,"
     "  user_code TEXT NOT NULL UNIQUE,"
     "  client_id TEXT NOT NULL,"
     "  scope TEXT NOT NULL DEFAULT '',"
     "  source_ip TEXT,"
     "  user_agent TEXT,"
     "  created_at BIGINT NOT NULL,"
     "  expires_at BIGINT NOT NULL,"
     "  poll_interval BIGINT NOT NULL,"
     "  last_poll_ms BIGINT NOT NULL DEFAULT 0,"
     "  status TEXT NOT NULL DEFAULT 'pending',"
     "  owner_uin BIGINT NOT NULL DEFAULT 0,"
     "  uin BIGINT NOT NULL DEFAULT 0,"
     "  principal_kind TEXT NOT NULL DEFAULT 'root',"
     "  app_id BIGINT NOT NULL DEFAULT 0,"
     "  decided_at BIGINT NOT NULL DEFAULT 0,"
     "  device_id TEXT"
     ");"
     "CREATE INDEX devtools_device_codes_expiry ON devtools_device_codes(expires_at);"
     /* A device: one approved login of a tool, the family of its refresh
      * tokens and temporary credentials; revoking it revokes them all. */
     "CREATE TABLE devtools_devices ("
     "  device_id TEXT PRIMARY KEY,"
     "  owner_uin BIGINT NOT NULL,"
     "  uin BIGINT NOT NULL,"
     "  principal_kind TEXT NOT NULL,"
     "  app_id BIGINT NOT NULL,"
     "  client_id TEXT NOT NULL,"
     "  scope TEXT NOT NULL DEFAULT '',"
     "  source_ip TEXT,"
     "  user_agent TEXT,"
     "  created_at BIGINT NOT NULL,"
     "  last_used_at BIGINT NOT NULL,"
     "  revoked_at BIGINT NOT NULL DEFAULT 0,"
     "  revoked_reason TEXT"
     ");"
     "CREATE INDEX devtools_devices_owner ON devtools_devices(owner_uin, uin);"
     "CREATE TABLE devtools_refresh_tokens ("
     "  token_hash @BLOB@ PRIMARY KEY,"
     "  device_id TEXT NOT NULL,"
     "  created_at BIGINT NOT NULL,"
     "  expires_at BIGINT NOT NULL,"
     "  used_at BIGINT NOT NULL DEFAULT 0"
     ");"
     "CREATE INDEX devtools_refresh_tokens_device ON devtools_refresh_tokens(device_id);"
     /* Temporary credentials in the STS form: the TmpSecretKey sealed and
      * bound to its TmpSecretId, the Token by SHA-256. */
     "CREATE TABLE devtools_credentials ("
     "  secret_id TEXT PRIMARY KEY,"
     "  device_id TEXT NOT NULL,"
     "  secret_sealed @BLOB@ NOT NULL,"
     "  token_hash @BLOB@ NOT NULL,"
     "  created_at BIGINT NOT NULL,"
     "  expires_at BIGINT NOT NULL"
     ");"
     "CREATE INDEX devtools_credentials_device ON devtools_credentials(device_id);"
     "CREATE INDEX devtools_credentials_token ON devtools_credentials(token_hash);"
     /* One-time console sign-in links, by SHA-256 of the code. */
     "CREATE TABLE console_links ("
     "  code_hash @BLOB@ PRIMARY KEY,"
     "  owner_uin BIGINT NOT NULL,"
     "  uin BIGINT NOT NULL,"
     "  principal_kind TEXT NOT NULL,"
     "  app_id BIGINT NOT NULL,"
     "  dest TEXT NOT NULL,"
     "  created_at BIGINT NOT NULL,"
     "  expires_at BIGINT NOT NULL,"
     "  used_at BIGINT NOT NULL DEFAULT 0,"
     "  used_ip TEXT"
     ");"
     "CREATE INDEX console_links_expiry ON console_links(expires_at);"},
    {8, "archive uploads: the declared archive of an upload, and when it arrived",
     /* An upload with a row here takes one archive (devenv/upload_archive.h)
      * instead of a file list; the file is <data_dir>/uploads/<id>.archive. */
     "CREATE TABLE archive_uploads ("
     "  upload_id TEXT PRIMARY KEY,"
     "  sha256 TEXT NOT NULL,"
     "  size BIGINT NOT NULL,"
     "  received_at BIGINT NOT NULL DEFAULT 0"
     ");"},
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
