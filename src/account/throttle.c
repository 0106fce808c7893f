#include "account/throttle.h"

#include "core/err.h"
#include "core/banned.h"

int64_t throttle_delay(const struct throttle_rule *rule, uint64_t failures)
{
    if (failures < rule->limit)
        return 0;
    uint64_t shift = failures - rule->limit;
    if (shift > 30)
        return (int64_t)rule->max_delay;
    uint64_t d = rule->base_delay << shift;
    return (int64_t)(d > rule->max_delay ? rule->max_delay : d);
}

struct check_ctx {
    const char *key;
    int64_t now;
    int64_t retry_after;
};

static int check_fn(struct store_conn *c, void *arg)
{
    struct check_ctx *ctx = arg;
    struct store_result *r = NULL;
    int rc = store_query(c, "SELECT blocked_until FROM login_throttle WHERE key = $1",
                         SV_ARGS(SV_TEXT(ctx->key)), &r);
    if (rc == BE_OK && store_result_rows(r)) {
        int64_t until = store_result_i64(r, 0, 0);
        if (until > ctx->now) {
            ctx->retry_after = until - ctx->now;
            rc = BE_LOGIN_THROTTLED;
        }
    }
    store_result_free(r);
    return rc;
}

int throttle_check(struct app *app, const char *key, int64_t now, int64_t *ret_retry_after)
{
    struct check_ctx ctx = {key, now, 0};
    int rc = store_run(app->store, check_fn, &ctx);
    if (rc == BE_LOGIN_THROTTLED)
        *ret_retry_after = ctx.retry_after;
    return rc;
}

struct fail_ctx {
    const char *key;
    const struct throttle_rule *rule;
    int64_t now;
};

static int fail_fn(struct store_conn *c, void *arg)
{
    struct fail_ctx *ctx = arg;
    struct store_result *r = NULL;
    uint64_t failures = 0;
    int rc = store_query(c, "SELECT failures, last_failure FROM login_throttle WHERE key = $1",
                         SV_ARGS(SV_TEXT(ctx->key)), &r);
    if (rc)
        goto out;
    if (store_result_rows(r) && ctx->now - store_result_i64(r, 0, 1) < THROTTLE_FORGET_AFTER)
        failures = (uint64_t)store_result_i64(r, 0, 0);
    failures++;
    int64_t until = ctx->now + throttle_delay(ctx->rule, failures);
    rc = store_exec(c,
                    "INSERT INTO login_throttle (key, failures, last_failure, blocked_until)"
                    " VALUES ($1, $2, $3, $4) ON CONFLICT (key) DO UPDATE SET"
                    " failures = excluded.failures, last_failure = excluded.last_failure,"
                    " blocked_until = excluded.blocked_until",
                    SV_ARGS(SV_TEXT(ctx->key), SV_I64(failures), SV_I64(ctx->now), SV_I64(until)),
                    NULL);
out:
    store_result_free(r);
    return rc;
}

int throttle_fail(struct app *app, const char *key, const struct throttle_rule *rule,
                  int64_t now)
{
    struct fail_ctx ctx = {key, rule, now};
    return store_tx(app->store, fail_fn, &ctx);
}

static int reset_fn(struct store_conn *c, void *arg)
{
    return store_exec(c, "DELETE FROM login_throttle WHERE key = $1", SV_ARGS(SV_TEXT(arg)), NULL);
}

int throttle_reset(struct app *app, const char *key)
{
    return store_run(app->store, reset_fn, (void *)key);
}
