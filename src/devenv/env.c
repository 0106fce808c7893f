#include "devenv/env.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"
#include "binding/flow.h"
#include "core/crypto.h"
#include "core/mem.h"
#include "core/timeutil.h"
#include "devenv/provision.h"
#include "devenv/worker.h"
#include "core/banned.h"

const char *const env_step_names[ENV_STEPS] = {"create_dirs", "allocate_port", "write_config",
                                               "mark_ready"};

const char *env_state_name(enum env_state state)
{
    static const char *const names[] = {"PROVISIONING", "READY", "FAILED", "DELETING"};
    return names[state];
}

static enum env_state state_of(const char *s)
{
    for (int i = ENV_PROVISIONING; i <= ENV_DELETING; i++)
        if (s && !strcmp(s, env_state_name((enum env_state)i)))
            return (enum env_state)i;
    return ENV_FAILED;
}

static void copy_text(char *dst, size_t n, const char *s)
{
    snprintf(dst, n, "%s", s ? s : "");
}

void env_row(const struct store_result *r, size_t i, struct env *e)
{
    memset(e, 0, sizeof(*e));
    copy_text(e->env_id, sizeof(e->env_id), store_result_text(r, i, 0));
    e->owner_uin = (uint64_t)store_result_i64(r, i, 1);
    copy_text(e->appid, sizeof(e->appid), store_result_text(r, i, 2));
    copy_text(e->name, sizeof(e->name), store_result_text(r, i, 3));
    e->state = state_of(store_result_text(r, i, 4));
    e->state_seq = store_result_i64(r, i, 5);
    e->port = store_result_i64(r, i, 6);
    copy_text(e->dir, sizeof(e->dir), store_result_text(r, i, 7));
    copy_text(e->error_code, sizeof(e->error_code), store_result_text(r, i, 8));
    copy_text(e->error_message, sizeof(e->error_message), store_result_text(r, i, 9));
    e->latest_version = store_result_i64(r, i, 10);
    e->created_by = (uint64_t)store_result_i64(r, i, 11);
    e->created_at = store_result_i64(r, i, 12);
    e->updated_at = store_result_i64(r, i, 13);
}

bool env_name_valid(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    if (n < 1 || n > ENV_NAME_MAX || name[0] < 'a' || name[0] > 'z' || name[n - 1] == '-')
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((name[i] >= 'a' && name[i] <= 'z') || (name[i] >= '0' && name[i] <= '9') ||
              name[i] == '-'))
            return false;
    return true;
}

void env_resource(uint64_t owner_uin, const char *env_id, struct buf *out)
{
    buf_addf(out, "qcs::deploy::uin/%llu:env/%s", (unsigned long long)owner_uin,
             env_id && *env_id ? env_id : "*");
}

void env_app_resource(uint64_t owner_uin, const char *appid, struct buf *out)
{
    buf_addf(out, "qcs::deploy::uin/%llu:app/%s", (unsigned long long)owner_uin,
             appid && *appid ? appid : "*");
}

/* <name>-<6 base32 characters> */
static void make_env_id(const char *name, char out[ENV_ID_MAX + 1])
{
    static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz234567";
    unsigned char r[6];
    char suffix[7];
    crypto_random(r, sizeof(r));
    for (size_t i = 0; i < 6; i++)
        suffix[i] = alphabet[r[i] & 31];
    suffix[6] = '\0';
    snprintf(out, ENV_ID_MAX + 1, "%s-%s", name, suffix);
}

/* --- reading ------------------------------------------------------------------ */

int env_load(struct store_conn *c, uint64_t owner_uin, const char *env_id, struct env *ret)
{
    struct store_result *r = NULL;
    int rc = store_query(c, "SELECT " ENV_COLUMNS " FROM envs WHERE env_id = $1 AND owner_uin = $2",
                         SV_ARGS(SV_TEXT(env_id), SV_I64(owner_uin)), &r);
    if (rc == BE_OK && store_result_rows(r) == 0)
        rc = BE_ENV_NOT_FOUND;
    if (rc == BE_OK)
        env_row(r, 0, ret);
    store_result_free(r);
    return rc;
}

struct get_ctx {
    uint64_t owner;
    const char *env_id;
    struct env *out;
};

static int get_fn(struct store_conn *c, void *arg)
{
    struct get_ctx *x = arg;
    return env_load(c, x->owner, x->env_id, x->out);
}

int env_get(struct app *app, uint64_t owner_uin, const char *env_id, struct env *ret)
{
    struct get_ctx x = {owner_uin, env_id, ret};
    return store_run(app->store, get_fn, &x);
}

struct list_ctx {
    uint64_t owner;
    const char *appid;
    size_t offset, limit;
    struct env *envs;
    size_t n, total;
};

static int list_fn(struct store_conn *c, void *arg)
{
    struct list_ctx *x = arg;
    struct store_result *r = NULL;
    const char *app = x->appid ? x->appid : "";
    int rc = store_query(c,
                         "SELECT COUNT(*) FROM envs WHERE owner_uin = $1"
                         " AND ($2 = '' OR appid = $2)",
                         SV_ARGS(SV_I64(x->owner), SV_TEXT(app)), &r);
    if (rc == BE_OK)
        x->total = (size_t)store_result_i64(r, 0, 0);
    store_result_free(r);
    r = NULL;
    if (rc == BE_OK)
        rc = store_query(
            c,
            "SELECT " ENV_COLUMNS " FROM envs WHERE owner_uin = $1"
            " AND ($2 = '' OR appid = $2) ORDER BY created_at, env_id"
            " LIMIT $3 OFFSET $4",
            SV_ARGS(SV_I64(x->owner), SV_TEXT(app), SV_I64(x->limit), SV_I64(x->offset)), &r);
    if (rc == BE_OK) {
        x->n = store_result_rows(r);
        x->envs = xcalloc(x->n ? x->n : 1, sizeof(*x->envs));
        for (size_t i = 0; i < x->n; i++)
            env_row(r, i, &x->envs[i]);
    }
    store_result_free(r);
    return rc;
}

int env_list(struct app *app, uint64_t owner_uin, const char *appid, size_t offset, size_t limit,
             struct env **ret_envs, size_t *ret_n, size_t *ret_total)
{
    struct list_ctx x = {owner_uin, appid, offset, limit, NULL, 0, 0};
    if (limit < 1 || limit > ENV_PAGE_MAX)
        return BE_INVALID_PARAMETER_VALUE;
    int rc = store_run(app->store, list_fn, &x);
    if (rc) {
        free(x.envs);
        return rc;
    }
    *ret_envs = x.envs;
    *ret_n = x.n;
    *ret_total = x.total;
    return BE_OK;
}

struct steps_ctx {
    const char *env_id;
    struct env_step *out;
    size_t n;
};

static int steps_fn(struct store_conn *c, void *arg)
{
    struct steps_ctx *x = arg;
    struct store_result *r = NULL;
    int rc = store_query(c,
                         "SELECT step, state, attempts, error, updated_at FROM env_steps"
                         " WHERE env_id = $1 ORDER BY seq",
                         SV_ARGS(SV_TEXT(x->env_id)), &r);
    for (size_t i = 0; rc == BE_OK && i < store_result_rows(r) && i < ENV_STEPS; i++) {
        struct env_step *s = &x->out[x->n++];
        copy_text(s->step, sizeof(s->step), store_result_text(r, i, 0));
        copy_text(s->state, sizeof(s->state), store_result_text(r, i, 1));
        s->attempts = store_result_i64(r, i, 2);
        copy_text(s->error, sizeof(s->error), store_result_text(r, i, 3));
        s->updated_at = store_result_i64(r, i, 4);
    }
    store_result_free(r);
    return rc;
}

int env_steps(struct app *app, const char *env_id, struct env_step ret[ENV_STEPS], size_t *ret_n)
{
    struct steps_ctx x = {env_id, ret, 0};
    int rc = store_run(app->store, steps_fn, &x);
    if (rc == BE_OK)
        *ret_n = x.n;
    return rc;
}

int env_wait(struct app *app, uint64_t owner_uin, const char *env_id, int64_t after_seq,
             unsigned wait_ms, struct env *ret)
{
    uint64_t deadline = time_mono_ns() + (uint64_t)wait_ms * 1000000u;
    for (;;) {
        uint64_t gen = devenv_generation(app);
        int rc = env_get(app, owner_uin, env_id, ret);
        if (rc || ret->state_seq > after_seq)
            return rc;
        uint64_t now = time_mono_ns();
        if (now >= deadline)
            return BE_OK;
        uint64_t left_ms = (deadline - now) / 1000000u;
        devenv_wait_change(app, gen, left_ms < 250 ? (unsigned)left_ms + 1 : 250);
    }
}

/* --- creating --------------------------------------------------------------- */

struct create_ctx {
    const struct app *app;
    const struct req_meta *meta;
    const struct principal *who;
    const char *appid, *name, *token;
    struct env *out;
    bool created, resumed;
    struct be_diag *diag;
};

static int insert_steps(struct store_conn *c, const char *env_id, int64_t now)
{
    int rc = BE_OK;
    for (size_t i = 0; rc == BE_OK && i < ENV_STEPS; i++)
        rc = store_exec(
            c,
            "INSERT INTO env_steps (env_id, step, seq, state, updated_at)"
            " VALUES ($1, $2, $3, 'pending', $4)",
            SV_ARGS(SV_TEXT(env_id), SV_TEXT(env_step_names[i]), SV_I64(i + 1), SV_I64(now)), NULL);
    return rc;
}

static int audit_env(struct store_conn *c, const struct req_meta *meta, uint64_t owner,
                     uint64_t actor, const char *action, const char *env_id, const char *what)
{
    char detail[160];
    snprintf(detail, sizeof(detail), "%s %s", env_id, what);
    struct audit_entry e = {owner, actor, action, "success", detail};
    return audit_record(c, meta, &e);
}

/* The same ClientToken again: the same env, resumed if it FAILED. */
static int replay(struct store_conn *c, struct create_ctx *x, const struct store_result *r)
{
    env_row(r, 0, x->out);
    if (strcmp(x->out->appid, x->appid))
        return be_fail(x->diag, BE_INVALID_PARAMETER_VALUE,
                       "ClientToken %s was used for an environment of another app (%s)", x->token,
                       x->out->appid);
    if (x->out->state != ENV_FAILED)
        return BE_OK;
    int rc = store_exec(c,
                        "UPDATE envs SET state = 'PROVISIONING', state_seq = state_seq + 1,"
                        " error_code = '', error_message = '', claim_owner = NULL,"
                        " claim_until = 0, updated_at = $1 WHERE env_id = $2 AND state = 'FAILED'",
                        SV_ARGS(SV_I64(x->meta->now), SV_TEXT(x->out->env_id)), NULL);
    if (rc == BE_OK)
        rc = store_exec(c,
                        "UPDATE env_steps SET state = 'pending', error = '', updated_at = $1"
                        " WHERE env_id = $2 AND state <> 'done'",
                        SV_ARGS(SV_I64(x->meta->now), SV_TEXT(x->out->env_id)), NULL);
    if (rc == BE_OK)
        rc = audit_env(c, x->meta, x->who->owner_uin, x->who->uin, "deploy:CreateEnvironment",
                       x->out->env_id, "resumed");
    if (rc == BE_OK) {
        x->resumed = true;
        rc = env_load(c, x->who->owner_uin, x->out->env_id, x->out);
    }
    return rc;
}

/* One more environment of the app, within the quota. The counter row makes
 * two concurrent creations conflict (one is retried and sees the other). */
static int take_quota(struct store_conn *c, struct create_ctx *x)
{
    int64_t changes = 0;
    uint64_t quota = x->app->cfg->deploy_env_quota_per_app;
    int rc = store_exec(c,
                        "INSERT INTO env_apps (owner_uin, appid, env_count) VALUES ($1, $2, 0)"
                        " ON CONFLICT (owner_uin, appid) DO NOTHING",
                        SV_ARGS(SV_I64(x->who->owner_uin), SV_TEXT(x->appid)), NULL);
    if (rc == BE_OK)
        rc = store_exec(c,
                        "UPDATE env_apps SET env_count = env_count + 1 WHERE owner_uin = $1"
                        " AND appid = $2 AND env_count < $3",
                        SV_ARGS(SV_I64(x->who->owner_uin), SV_TEXT(x->appid), SV_I64(quota)),
                        &changes);
    if (rc == BE_OK && changes != 1)
        rc = be_fail(x->diag, BE_ENV_QUOTA,
                     "app %s already has %llu environments (deploy.env_quota_per_app); delete one "
                     "first",
                     x->appid, (unsigned long long)quota);
    return rc;
}

static int create_fn(struct store_conn *c, void *arg)
{
    struct create_ctx *x = arg;
    struct store_result *r = NULL;
    int64_t now = x->meta->now;
    x->created = x->resumed = false;
    int rc = store_query(c,
                         "SELECT " ENV_COLUMNS " FROM envs WHERE owner_uin = $1"
                         " AND client_token = $2",
                         SV_ARGS(SV_I64(x->who->owner_uin), SV_TEXT(x->token)), &r);
    if (rc == BE_OK && store_result_rows(r)) {
        rc = replay(c, x, r);
        store_result_free(r);
        return rc;
    }
    store_result_free(r);
    if (rc || (rc = take_quota(c, x)))
        return rc;
    char env_id[ENV_ID_MAX + 1];
    make_env_id(x->name, env_id);
    rc = store_exec(c,
                    "INSERT INTO envs (env_id, owner_uin, appid, name, state, state_seq,"
                    " client_token, created_by, created_at, updated_at)"
                    " VALUES ($1, $2, $3, $4, 'PROVISIONING', 1, $5, $6, $7, $7)",
                    SV_ARGS(SV_TEXT(env_id), SV_I64(x->who->owner_uin), SV_TEXT(x->appid),
                            SV_TEXT(x->name), SV_TEXT(x->token), SV_I64(x->who->uin), SV_I64(now)),
                    NULL);
    /* The same token racing (or an EnvId collision): run again and see it. */
    if (rc == BE_DUPLICATE)
        return BE_CONFLICT;
    if (rc == BE_OK)
        rc = insert_steps(c, env_id, now);
    if (rc == BE_OK)
        rc = audit_env(c, x->meta, x->who->owner_uin, x->who->uin, "deploy:CreateEnvironment",
                       env_id, x->appid);
    if (rc == BE_OK)
        rc = env_load(c, x->who->owner_uin, env_id, x->out);
    if (rc == BE_OK)
        x->created = true;
    return rc;
}

int env_create(struct app *app, const struct req_meta *meta, const struct principal *who,
               const char *appid, const char *name, const char *client_token, struct env *ret,
               bool *ret_created, struct be_diag *diag)
{
    char token[ENV_TOKEN_MAX + 1];
    if (!name)
        name = ENV_DEFAULT_NAME;
    if (!env_name_valid(name))
        return be_fail(diag, BE_INVALID_PARAMETER_VALUE,
                       "Name %.40s: 1 to %d lowercase letters, digits and '-', starting with a "
                       "letter",
                       name, ENV_NAME_MAX);
    if (client_token)
        snprintf(token, sizeof(token), "%s", client_token);
    else
        crypto_uuid4(token);
    /* A use of the link: WeChat confirms the authorization still holds
     * (a revoked one refuses with the re-authorize hint). */
    int rc = link_flow_verify(app, meta, who->owner_uin, appid, NULL, NULL, diag);
    if (rc)
        return rc;
    struct env e;
    struct create_ctx x = {app, meta, who, appid, name, token, &e, false, false, diag};
    rc = store_tx(app->store, create_fn, &x);
    if (rc)
        return rc;
    if (x.created || x.resumed) {
        devenv_kick(app);
        devenv_notify(app);
    }
    *ret = e;
    if (ret_created)
        *ret_created = x.created;
    return BE_OK;
}

/* --- deleting ------------------------------------------------------------------- */

struct delete_ctx {
    const struct req_meta *meta;
    uint64_t owner, actor;
    const char *env_id, *claimer;
    struct env env;
    bool claimed;
    struct be_diag *diag;
};

/* Is a deploy of env_id queued or running? Only when the deploy component's
 * table exists (it is optional in this build). */
static int deploy_running(struct store_conn *c, const char *env_id, bool *ret)
{
    struct store_result *r = NULL;
    *ret = false;
    int rc = store_query(c,
                         store_conn_dialect(c) == STORE_POSTGRES
                             ? "SELECT COUNT(*) FROM pg_tables WHERE tablename = 'deploys'"
                             : "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table'"
                               " AND name = 'deploys'",
                         NULL, 0, &r);
    bool exists = rc == BE_OK && store_result_i64(r, 0, 0) > 0;
    store_result_free(r);
    r = NULL;
    if (rc || !exists)
        return rc;
    rc = store_query(c,
                     "SELECT COUNT(*) FROM deploys WHERE env_id = $1"
                     " AND state IN ('QUEUED', 'RUNNING')",
                     SV_ARGS(SV_TEXT(env_id)), &r);
    if (rc == BE_OK)
        *ret = store_result_i64(r, 0, 0) > 0;
    store_result_free(r);
    return rc;
}

static int delete_fn(struct store_conn *c, void *arg)
{
    struct delete_ctx *x = arg;
    bool busy = false;
    int64_t changes = 0;
    x->claimed = false;
    int rc = env_load(c, x->owner, x->env_id, &x->env);
    if (rc == BE_OK && x->env.state == ENV_DELETING)
        return BE_OK; /* already on its way out; the worker finishes it */
    if (rc == BE_OK)
        rc = deploy_running(c, x->env_id, &busy);
    if (rc == BE_OK && busy)
        return be_fail(x->diag, BE_ENV_IN_USE,
                       "a deploy of %s is running; cancel it or wait for it to finish", x->env_id);
    if (rc == BE_OK)
        rc = store_exec(c,
                        "UPDATE envs SET state = 'DELETING', state_seq = state_seq + 1,"
                        " updated_at = $1 WHERE env_id = $2",
                        SV_ARGS(SV_I64(x->meta->now), SV_TEXT(x->env_id)), NULL);
    /* Nobody works on it: this request tears it down itself. */
    if (rc == BE_OK)
        rc = store_exec(c,
                        "UPDATE envs SET claim_owner = $1, claim_until = $2"
                        " WHERE env_id = $3 AND claim_until <= $4",
                        SV_ARGS(SV_TEXT(x->claimer), SV_I64(x->meta->now + ENV_CLAIM_LEASE),
                                SV_TEXT(x->env_id), SV_I64(x->meta->now)),
                        &changes);
    if (rc == BE_OK)
        rc = audit_env(c, x->meta, x->owner, x->actor, "deploy:DeleteEnvironment", x->env_id,
                       env_state_name(x->env.state));
    if (rc == BE_OK) {
        x->claimed = changes == 1;
        rc = env_load(c, x->owner, x->env_id, &x->env);
    }
    return rc;
}

int env_delete(struct app *app, const struct req_meta *meta, uint64_t owner_uin, uint64_t actor_uin,
               const char *env_id, bool *ret_gone, struct be_diag *diag)
{
    char claimer[48] = "delete-";
    crypto_uuid4(claimer + 7);
    struct delete_ctx x = {.meta = meta,
                           .owner = owner_uin,
                           .actor = actor_uin,
                           .env_id = env_id,
                           .claimer = claimer,
                           .diag = diag};
    int rc = store_tx(app->store, delete_fn, &x);
    if (rc)
        return rc;
    devenv_notify(app);
    bool gone = false;
    if (x.claimed) {
        rc = env_teardown(app, claimer, &x.env);
        gone = rc == BE_OK;
        if (rc) /* the worker finishes it once the claim expires */
            rc = BE_OK;
    } else {
        devenv_kick(app);
    }
    if (ret_gone)
        *ret_gone = gone;
    return rc;
}
