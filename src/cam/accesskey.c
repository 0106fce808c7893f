#include "cam/accesskey.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"
#include "core/crypto.h"
#include "core/mem.h"
#include "core/banned.h"

static const char alnum[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

static void random_alnum(char *out, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = alnum[crypto_random_range(0, sizeof(alnum) - 2)];
    out[n] = '\0';
}

int accesskey_check_description(const char *d, struct be_diag *diag)
{
    size_t len = strlen(d);
    if (len == 0 || len > ACCESSKEY_DESCRIPTION_MAX)
        return be_fail(diag, BE_INVALID_PARAMETER, "Description must be 1 to %d characters",
                       ACCESSKEY_DESCRIPTION_MAX);
    for (size_t i = 0; i < len; i++) {
        char c = d[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  strchr("_+=,.@:/-", c);
        if (!ok)
            return be_fail(diag, BE_INVALID_PARAMETER,
                           "Description may contain only letters, digits and _+=,.@:/-");
    }
    return BE_OK;
}

static void principal_of(const struct principal *actor, struct audit_entry *e)
{
    e->owner_uin = actor->owner_uin;
    e->uin = actor->uin;
}

struct create_ctx {
    const struct req_meta *meta;
    const struct principal *actor;
    struct accesskey *key;
    const struct buf *sealed;
};

static int create_fn(struct store_conn *c, void *arg)
{
    struct create_ctx *ctx = arg;
    struct accesskey *k = ctx->key;
    struct store_result *r = NULL;
    int rc = store_query(c, "SELECT COUNT(*) FROM access_keys WHERE owner_uin = $1 AND uin = $2",
                         SV_ARGS(SV_I64(k->owner_uin), SV_I64(k->uin)), &r);
    int64_t count = store_result_i64(r, 0, 0);
    store_result_free(r);
    if (rc)
        return rc;
    if (count >= ACCESSKEY_MAX_PER_PRINCIPAL)
        return BE_KEY_OVER_LIMIT;
    rc = store_exec(c,
                    "INSERT INTO access_keys (secret_id, owner_uin, uin, secret_sealed, status,"
                    " description, created_at) VALUES ($1, $2, $3, $4, 'Active', $5, $6)",
                    SV_ARGS(SV_TEXT(k->secret_id), SV_I64(k->owner_uin), SV_I64(k->uin),
                            SV_BLOB(ctx->sealed->data, ctx->sealed->len),
                            k->description[0] ? SV_TEXT(k->description) : SV_NULL,
                            SV_I64(k->created_at)),
                    NULL);
    if (rc)
        return rc;
    struct audit_entry e = {0, 0, "cam:CreateAccessKey", "success", k->secret_id};
    principal_of(ctx->actor, &e);
    return audit_record(c, ctx->meta, &e);
}

/* Draws the pair and seals the secret; k->description already set. */
static void key_prepare(struct app *app, const struct req_meta *meta, uint64_t owner_uin,
                        uint64_t uin, struct accesskey *k, struct buf *sealed)
{
    memcpy(k->secret_id, "AKID", 4);
    random_alnum(k->secret_id + 4, ACCESSKEY_ID_LEN - 4);
    random_alnum(k->secret_key, ACCESSKEY_SECRET_LEN);
    k->owner_uin = owner_uin;
    k->uin = uin;
    k->active = true;
    k->created_at = meta->now;
    crypto_seal(app->keys.seal, k->secret_id, ACCESSKEY_ID_LEN, k->secret_key, ACCESSKEY_SECRET_LEN,
                sealed);
}

int accesskey_create(struct app *app, const struct req_meta *meta, const struct principal *actor,
                     uint64_t owner_uin, uint64_t uin, const char *description,
                     struct accesskey *ret, struct be_diag *diag)
{
    struct accesskey k;
    struct buf sealed = BUF_INIT;
    int rc;
    memset(&k, 0, sizeof(k));
    if (description && *description) {
        if ((rc = accesskey_check_description(description, diag)))
            return rc;
        snprintf(k.description, sizeof(k.description), "%s", description);
    }
    key_prepare(app, meta, owner_uin, uin, &k, &sealed);
    struct create_ctx ctx = {meta, actor, &k, &sealed};
    rc = store_tx(app->store, create_fn, &ctx);
    if (rc == BE_KEY_OVER_LIMIT)
        be_fail(diag, rc, "uin %llu already has %d API keys; delete one first",
                (unsigned long long)uin, ACCESSKEY_MAX_PER_PRINCIPAL);
    if (rc == BE_OK)
        *ret = k;
    crypto_wipe(&k, sizeof(k));
    buf_release(&sealed);
    return rc;
}

int accesskey_create_in(struct store_conn *c, struct app *app, const struct req_meta *meta,
                        const struct principal *actor, uint64_t owner_uin, uint64_t uin,
                        struct accesskey *ret)
{
    struct accesskey k;
    struct buf sealed = BUF_INIT;
    memset(&k, 0, sizeof(k));
    key_prepare(app, meta, owner_uin, uin, &k, &sealed);
    struct create_ctx ctx = {meta, actor, &k, &sealed};
    int rc = create_fn(c, &ctx);
    if (rc == BE_OK)
        *ret = k;
    crypto_wipe(&k, sizeof(k));
    buf_release(&sealed);
    return rc;
}

struct list_ctx {
    uint64_t owner_uin, uin;
    struct accesskey *keys;
    size_t count;
};

static int list_fn(struct store_conn *c, void *arg)
{
    struct list_ctx *ctx = arg;
    struct store_result *r = NULL;
    int rc = store_query(c,
                         "SELECT secret_id, status, description, created_at FROM access_keys"
                         " WHERE owner_uin = $1 AND uin = $2 ORDER BY created_at, secret_id",
                         SV_ARGS(SV_I64(ctx->owner_uin), SV_I64(ctx->uin)), &r);
    if (rc)
        return rc;
    size_t n = store_result_rows(r);
    ctx->keys = xcalloc(n ? n : 1, sizeof(*ctx->keys));
    for (size_t i = 0; i < n; i++) {
        struct accesskey *k = &ctx->keys[i];
        const char *d = store_result_text(r, i, 2);
        snprintf(k->secret_id, sizeof(k->secret_id), "%s", store_result_text(r, i, 0));
        k->active = !strcmp(store_result_text(r, i, 1), "Active");
        snprintf(k->description, sizeof(k->description), "%s", d ? d : "");
        k->created_at = store_result_i64(r, i, 3);
        k->owner_uin = ctx->owner_uin;
        k->uin = ctx->uin;
    }
    ctx->count = n;
    store_result_free(r);
    return BE_OK;
}

int accesskey_list(struct app *app, uint64_t owner_uin, uint64_t uin, struct accesskey **ret,
                   size_t *ret_count)
{
    struct list_ctx ctx = {owner_uin, uin, NULL, 0};
    int rc = store_run(app->store, list_fn, &ctx);
    if (rc) {
        free(ctx.keys);
        return rc;
    }
    *ret = ctx.keys;
    *ret_count = ctx.count;
    return BE_OK;
}

struct change_ctx {
    const struct req_meta *meta;
    const struct principal *actor;
    uint64_t owner_uin, uin;
    const char *secret_id;
    int op; /* 0 deactivate, 1 activate, 2 delete */
};

static int change_fn(struct store_conn *c, void *arg)
{
    struct change_ctx *ctx = arg;
    struct store_result *r = NULL;
    int rc = store_query(c, "SELECT owner_uin, uin FROM access_keys WHERE secret_id = $1",
                         SV_ARGS(SV_TEXT(ctx->secret_id)), &r);
    if (rc)
        goto out;
    if (!store_result_rows(r) || (uint64_t)store_result_i64(r, 0, 0) != ctx->owner_uin) {
        rc = BE_SECRET_NOT_EXIST;
        goto out;
    }
    if ((uint64_t)store_result_i64(r, 0, 1) != ctx->uin) {
        rc = BE_UIN_NOT_MATCH;
        goto out;
    }
    if (ctx->op == 2)
        rc = store_exec(c, "DELETE FROM access_keys WHERE secret_id = $1",
                        SV_ARGS(SV_TEXT(ctx->secret_id)), NULL);
    else
        rc = store_exec(c, "UPDATE access_keys SET status = $1 WHERE secret_id = $2",
                        SV_ARGS(SV_TEXT(ctx->op ? "Active" : "Inactive"), SV_TEXT(ctx->secret_id)),
                        NULL);
    if (rc)
        goto out;
    static const char *const actions[] = {"cam:UpdateAccessKey.Inactive",
                                          "cam:UpdateAccessKey.Active", "cam:DeleteAccessKey"};
    struct audit_entry e = {0, 0, actions[ctx->op], "success", ctx->secret_id};
    principal_of(ctx->actor, &e);
    rc = audit_record(c, ctx->meta, &e);
out:
    store_result_free(r);
    return rc;
}

int accesskey_set_status(struct app *app, const struct req_meta *meta,
                         const struct principal *actor, uint64_t owner_uin, uint64_t uin,
                         const char *secret_id, bool active)
{
    struct change_ctx ctx = {meta, actor, owner_uin, uin, secret_id, active ? 1 : 0};
    return store_tx(app->store, change_fn, &ctx);
}

int accesskey_delete(struct app *app, const struct req_meta *meta, const struct principal *actor,
                     uint64_t owner_uin, uint64_t uin, const char *secret_id)
{
    struct change_ctx ctx = {meta, actor, owner_uin, uin, secret_id, 2};
    return store_tx(app->store, change_fn, &ctx);
}

struct resolve_ctx {
    const char *secret_id;
    struct principal who;
    struct buf sealed;
    bool found;
};

static int resolve_fn(struct store_conn *c, void *arg)
{
    struct resolve_ctx *ctx = arg;
    struct store_result *r = NULL;
    size_t len;
    int rc = store_query(c,
                         "SELECT k.owner_uin, k.uin, k.secret_sealed, a.app_id, u.kind"
                         " FROM access_keys k JOIN accounts a ON a.uin = k.owner_uin"
                         " LEFT JOIN cam_users u ON u.owner_uin = k.owner_uin AND u.uin = k.uin"
                         " WHERE k.secret_id = $1 AND k.status = 'Active'",
                         SV_ARGS(SV_TEXT(ctx->secret_id)), &r);
    if (rc == BE_OK && store_result_rows(r)) {
        const char *kind = store_result_text(r, 0, 4);
        ctx->who.owner_uin = (uint64_t)store_result_i64(r, 0, 0);
        ctx->who.uin = (uint64_t)store_result_i64(r, 0, 1);
        ctx->who.app_id = (uint64_t)store_result_i64(r, 0, 3);
        const void *p = store_result_blob(r, 0, 2, &len);
        buf_add(&ctx->sealed, p, len);
        /* A root's own key, or a key of a user of the owner: a sub-user, or
         * a collaborator acting inside the owner. A key whose user is gone
         * (cannot happen: deleting a user deletes its keys) is refused. */
        if (ctx->who.uin == ctx->who.owner_uin) {
            ctx->who.kind = PRINCIPAL_ROOT;
            ctx->found = true;
        } else if (kind && principal_kind_parse(kind, &ctx->who.kind) == BE_OK) {
            ctx->found = true;
        }
    }
    store_result_free(r);
    return rc;
}

int accesskey_resolve(struct app *app, const char *secret_id, struct principal *ret_who,
                      char ret_secret[ACCESSKEY_SECRET_LEN + 1])
{
    struct resolve_ctx ctx = {.secret_id = secret_id};
    struct buf plain = BUF_INIT;
    buf_init(&ctx.sealed);
    if (strlen(secret_id) != ACCESSKEY_ID_LEN)
        return BE_AUTH_SECRET_ID;
    int rc = store_run(app->store, resolve_fn, &ctx);
    if (rc)
        goto out;
    if (!ctx.found) {
        rc = BE_AUTH_SECRET_ID;
        goto out;
    }
    rc = crypto_open(app->keys.seal, secret_id, ACCESSKEY_ID_LEN, ctx.sealed.data, ctx.sealed.len,
                     &plain);
    if (rc || plain.len != ACCESSKEY_SECRET_LEN) {
        rc = BE_AUTH_SECRET_ID; /* sealed under another master key: unusable */
        goto out;
    }
    memcpy(ret_secret, plain.data, ACCESSKEY_SECRET_LEN);
    ret_secret[ACCESSKEY_SECRET_LEN] = '\0';
    *ret_who = ctx.who;
out:
    crypto_wipe(plain.data, plain.len);
    buf_release(&plain);
    buf_release(&ctx.sealed);
    return rc;
}
