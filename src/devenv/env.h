/* Backend environments (一键开通) of a linked WeChat app: the records, the
 * provisioning state machine and deletion (docs/environments.md).
 *
 *     CreateEnvironment ──▶ PROVISIONING ──steps done──▶ READY
 *                               │   ▲                       │
 *                   step failed │   │ retry (same           │ DeleteEnvironment
 *          (compensated in      ▼   │ ClientToken)          ▼
 *           reverse)          FAILED ───────────────▶ DELETING ──teardown──▶ (gone)
 *
 * Provisioning runs in the background (devenv/worker.h), claimed through the
 * store so that with several instances each environment is provisioned by
 * one at a time. Its steps, in order, each idempotent and recorded in
 * env_steps (state pending|running|done|failed|compensated, attempts,
 * error):
 *
 *   create_dirs    <data_dir>/envs/<EnvId>/{data,releases,logs} (0700)
 *   allocate_port  the lowest free port of deploy.port_min..port_max
 *                  (unique in the store)
 *   write_config   <dir>/runtime.json (0444): EnvId, AppId, Port, dirs
 *   mark_ready     state READY
 *
 * A failed step compensates the steps done before it in reverse (remove the
 * config, free the port, remove the directories) and leaves the env FAILED
 * with the step's error; CreateEnvironment with the same ClientToken resumes
 * it. Every state change bumps state_seq, which DescribeEnvironment's
 * long-poll waits on.
 *
 * Errors: BE_ENV_NOT_FOUND (no such env in the owner's account),
 * BE_ENV_QUOTA, BE_ENV_IN_USE, the link errors of binding/flow.h
 * (BE_LINK_NOT_FOUND, BE_LINK_REVOKED with the re-authorize hint,
 * BE_UPSTREAM), store errors. */
#ifndef BINDERY_DEVENV_ENV_H
#define BINDERY_DEVENV_ENV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "app.h"
#include "cam/principal.h"
#include "core/buf.h"
#include "core/err.h"
#include "store/store.h"
#include "wechat/client.h"

#define ENV_NAME_MAX     20
#define ENV_ID_MAX       (ENV_NAME_MAX + 7)
#define ENV_TOKEN_MAX    64
#define ENV_ERROR_MAX    256
#define ENV_PAGE_MAX     100
#define ENV_STEPS        4
#define ENV_DEFAULT_NAME "dev"
/* Seconds a worker holds its claim on an environment. */
#define ENV_CLAIM_LEASE 120

enum env_state { ENV_PROVISIONING, ENV_READY, ENV_FAILED, ENV_DELETING };

/* "PROVISIONING", "READY", "FAILED", "DELETING". */
const char *env_state_name(enum env_state state);

struct env {
    char env_id[ENV_ID_MAX + 1];
    uint64_t owner_uin;
    char appid[WX_APPID_MAX + 1];
    char name[ENV_NAME_MAX + 1];
    enum env_state state;
    int64_t state_seq;
    int64_t port;  /* 0 until allocated */
    char dir[512]; /* "" until created */
    char error_code[64];
    char error_message[ENV_ERROR_MAX + 1];
    int64_t latest_version; /* 0: no version yet */
    uint64_t created_by;
    int64_t created_at, updated_at;
};

struct env_step {
    char step[24];
    char state[16];
    int64_t attempts;
    char error[ENV_ERROR_MAX + 1];
    int64_t updated_at;
};

/* Names of the steps, in order. */
extern const char *const env_step_names[ENV_STEPS];

/* Is name a valid environment name: 1..ENV_NAME_MAX of [a-z0-9-], starting
 * with a letter, not ending with '-'? */
bool env_name_valid(const char *name);

/* The CAM resource qcs::deploy::uin/<owner>:env/<env_id> ("*" for any). */
void env_resource(uint64_t owner_uin, const char *env_id, struct buf *out);
/* qcs::deploy::uin/<owner>:app/<appid>. */
void env_app_resource(uint64_t owner_uin, const char *appid, struct buf *out);

/* 一键开通: for who's account and its linked app appid, checked with WeChat
 * (link_flow_verify: a revoked link refuses with BE_LINK_REVOKED), creates
 * an environment named name (NULL: ENV_DEFAULT_NAME) in PROVISIONING,
 * within deploy.env_quota_per_app, and wakes the worker. client_token
 * (1..ENV_TOKEN_MAX bytes; NULL: a random one) makes it idempotent: the
 * same token answers the same environment (BE_INVALID_PARAMETER_VALUE if it
 * names another app), and resumes it when it FAILED. Audited.
 * *ret_created tells whether a new environment was made. */
int env_create(struct app *app, const struct req_meta *meta, const struct principal *who,
               const char *appid, const char *name, const char *client_token, struct env *ret,
               bool *ret_created, struct be_diag *diag);

/* The environment env_id of owner_uin. */
int env_get(struct app *app, uint64_t owner_uin, const char *env_id, struct env *ret);
/* The same inside the caller's transaction. */
int env_load(struct store_conn *c, uint64_t owner_uin, const char *env_id, struct env *ret);

/* owner_uin's environments (appid NULL: of every app), oldest first, from
 * offset, at most limit (1..ENV_PAGE_MAX). *ret_envs is malloc'd. */
int env_list(struct app *app, uint64_t owner_uin, const char *appid, size_t offset, size_t limit,
             struct env **ret_envs, size_t *ret_n, size_t *ret_total);

/* The recorded steps of env_id, in order (ENV_STEPS entries). */
int env_steps(struct app *app, const char *env_id, struct env_step ret[ENV_STEPS], size_t *ret_n);

/* Long-poll: returns the environment as soon as its state_seq exceeds
 * after_seq, or after wait_ms at most (then as it is). Woken in-process by
 * the worker's notifications and polls the store every 250 ms for changes
 * made by other instances. BE_ENV_NOT_FOUND when it is (or becomes) gone. */
int env_wait(struct app *app, uint64_t owner_uin, const char *env_id, int64_t after_seq,
             unsigned wait_ms, struct env *ret);

/* DeleteEnvironment: refuses while a deploy of it runs (BE_ENV_IN_USE, when
 * the deploys table exists), sets DELETING and, when no worker holds the
 * env, tears it down at once (directories removed, port freed, its rows,
 * uploads and versions deleted; the blobs are left to garbage collection);
 * otherwise the worker finishes it. *ret_gone tells which. Audited. */
int env_delete(struct app *app, const struct req_meta *meta, uint64_t owner_uin, uint64_t actor_uin,
               const char *env_id, bool *ret_gone, struct be_diag *diag);

/* --- the worker's side ------------------------------------------------------ */

/* Claims up to max environments in PROVISIONING or DELETING that no live
 * claim holds, for owner until now + lease_s (FOR UPDATE SKIP LOCKED on
 * PostgreSQL; SQLite's writer lock serialises the claim). ret holds max. */
int env_claim_work(struct app *app, const char *owner, int64_t now, int64_t lease_s, size_t max,
                   struct env *ret, size_t *ret_n);

/* Runs the provisioning steps of the claimed env (or the teardown of a
 * DELETING one) for owner; the env ends READY, FAILED (compensated) or
 * gone. BE_OK unless the store failed. */
int env_process(struct app *app, const char *owner, const struct env *e);

#endif
