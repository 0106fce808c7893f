#include "account/session.h"

#include <stdio.h>
#include <string.h>

#include "audit/audit.h"
#include "core/err.h"
#include "core/banned.h"

static void hash_token(const char *token, unsigned char out[CRYPTO_SHA256_LEN])
{
    crypto_sha256(token, strlen(token), out);
}

struct create_ctx {
    const struct req_meta *meta;
    const struct session *s;
    const unsigned char *old_hash;
    /* session_rotate: the old session must exist, and this row is written
     * with the change. */
    bool require_old;
    const struct audit_entry *audit;
};

static int create_fn(struct store_conn *c, void *arg)
{
    struct create_ctx *ctx = arg;
    const struct session *s = ctx->s;
    int64_t gone = 0;
    int rc;
    if (ctx->old_hash &&
        (rc = store_exec(c, "DELETE FROM sessions WHERE id_hash = $1",
                         SV_ARGS(SV_BLOB(ctx->old_hash, CRYPTO_SHA256_LEN)), &gone)))
        return rc;
    /* Two requests rotating one session: the second finds it gone. */
    if (ctx->require_old && gone != 1)
        return BE_SESSION_INVALID;
    if (ctx->audit && (rc = audit_record(c, ctx->meta, ctx->audit)))
        return rc;
    return store_exec(c,
                      "INSERT INTO sessions (id_hash, uin, owner_uin, kind, created_at,"
                      " last_seen, expires_at, source_ip, user_agent)"
                      " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                      SV_ARGS(SV_BLOB(s->id_hash, CRYPTO_SHA256_LEN), SV_I64(s->who.uin),
                              SV_I64(s->who.owner_uin), SV_TEXT(principal_kind_name(s->who.kind)),
                              SV_I64(s->created_at), SV_I64(s->last_seen),
                              SV_I64(s->expires_at), SV_TEXT(ctx->meta->source_ip),
                              SV_TEXT(ctx->meta->user_agent)),
                      NULL);
}

static int create(struct app *app, const struct req_meta *meta, const struct principal *who,
                  const char *old_token, bool require_old, const struct audit_entry *audit,
                  struct buf *ret_token, struct session *ret)
{
    struct buf token = BUF_INIT;
    struct session s;
    unsigned char old_hash[CRYPTO_SHA256_LEN];
    memset(&s, 0, sizeof(s));
    crypto_random_token(&token, 32);
    hash_token(token.data, s.id_hash);
    s.who = *who;
    s.created_at = meta->now;
    s.last_seen = meta->now;
    s.expires_at = meta->now + (int64_t)app->cfg->session_absolute_timeout;
    if (old_token)
        hash_token(old_token, old_hash);
    struct create_ctx ctx = {meta, &s, old_token ? old_hash : NULL, require_old, audit};
    int rc = store_tx(app->store, create_fn, &ctx);
    if (rc == BE_OK) {
        buf_add(ret_token, token.data, token.len);
        *ret = s;
    }
    crypto_wipe(token.data, token.len);
    buf_release(&token);
    return rc;
}

int session_create(struct app *app, const struct req_meta *meta, const struct principal *who,
                   const char *old_token, struct buf *ret_token, struct session *ret)
{
    return create(app, meta, who, old_token, false, NULL, ret_token, ret);
}

int session_rotate(struct app *app, const struct req_meta *meta, const struct principal *who,
                   const char *old_token, const struct audit_entry *audit, struct buf *ret_token,
                   struct session *ret)
{
    if (!old_token)
        return BE_SESSION_INVALID;
    return create(app, meta, who, old_token, true, audit, ret_token, ret);
}

struct lookup_ctx {
    const unsigned char *hash;
    int64_t now;
    int64_t idle;
    struct session s;
    bool found;
};

static int lookup_fn(struct store_conn *c, void *arg)
{
    struct lookup_ctx *ctx = arg;
    struct store_result *r = NULL;
    int rc = store_query(c,
                         "SELECT s.uin, s.owner_uin, s.kind, s.created_at, s.last_seen,"
                         " s.expires_at, a.app_id FROM sessions s"
                         " JOIN accounts a ON a.uin = s.owner_uin WHERE s.id_hash = $1",
                         SV_ARGS(SV_BLOB(ctx->hash, CRYPTO_SHA256_LEN)), &r);
    if (rc || !store_result_rows(r))
        goto out;
    struct session *s = &ctx->s;
    memcpy(s->id_hash, ctx->hash, CRYPTO_SHA256_LEN);
    s->who.uin = (uint64_t)store_result_i64(r, 0, 0);
    s->who.owner_uin = (uint64_t)store_result_i64(r, 0, 1);
    if (principal_kind_parse(store_result_text(r, 0, 2), &s->who.kind))
        goto out;
    s->created_at = store_result_i64(r, 0, 3);
    s->last_seen = store_result_i64(r, 0, 4);
    s->expires_at = store_result_i64(r, 0, 5);
    s->who.app_id = (uint64_t)store_result_i64(r, 0, 6);
    if (ctx->now >= s->expires_at || ctx->now - s->last_seen >= ctx->idle) {
        rc = store_exec(c, "DELETE FROM sessions WHERE id_hash = $1",
                        SV_ARGS(SV_BLOB(ctx->hash, CRYPTO_SHA256_LEN)), NULL);
        goto out;
    }
    if (ctx->now - s->last_seen >= SESSION_TOUCH_INTERVAL) {
        rc = store_exec(c, "UPDATE sessions SET last_seen = $1 WHERE id_hash = $2",
                        SV_ARGS(SV_I64(ctx->now), SV_BLOB(ctx->hash, CRYPTO_SHA256_LEN)), NULL);
        s->last_seen = ctx->now;
    }
    ctx->found = rc == BE_OK;
out:
    store_result_free(r);
    return rc;
}

int session_lookup(struct app *app, const char *token, int64_t now, struct session *ret)
{
    unsigned char hash[CRYPTO_SHA256_LEN];
    if (!token || strlen(token) != SESSION_TOKEN_LEN)
        return BE_SESSION_INVALID;
    hash_token(token, hash);
    struct lookup_ctx ctx = {.hash = hash, .now = now,
                             .idle = (int64_t)app->cfg->session_idle_timeout};
    int rc = store_run(app->store, lookup_fn, &ctx);
    if (rc)
        return rc;
    if (!ctx.found)
        return BE_SESSION_INVALID;
    *ret = ctx.s;
    return BE_OK;
}

static int destroy_fn(struct store_conn *c, void *arg)
{
    return store_exec(c, "DELETE FROM sessions WHERE id_hash = $1",
                      SV_ARGS(SV_BLOB(arg, CRYPTO_SHA256_LEN)), NULL);
}

int session_destroy(struct app *app, const char *token)
{
    unsigned char hash[CRYPTO_SHA256_LEN];
    if (!token)
        return BE_OK;
    hash_token(token, hash);
    return store_run(app->store, destroy_fn, hash);
}

void session_csrf_token(const struct app *app, const struct session *s,
                        char out[SESSION_CSRF_LEN + 1])
{
    unsigned char mac[CRYPTO_SHA256_LEN];
    struct buf b = BUF_INIT;
    crypto_hmac_sha256(app->keys.csrf, sizeof(app->keys.csrf), s->id_hash, sizeof(s->id_hash),
                       mac);
    crypto_base64url_encode(&b, mac, sizeof(mac));
    snprintf(out, SESSION_CSRF_LEN + 1, "%s", b.data);
    buf_release(&b);
}

bool session_csrf_valid(const struct app *app, const struct session *s, const char *token)
{
    char expected[SESSION_CSRF_LEN + 1];
    if (!token || strlen(token) != SESSION_CSRF_LEN)
        return false;
    session_csrf_token(app, s, expected);
    return crypto_equal(expected, token, SESSION_CSRF_LEN);
}
