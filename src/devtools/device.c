#include "devtools/device.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"
#include "core/buf.h"
#include "core/mem.h"
#include "core/timeutil.h"
#include "store/store.h"
#include "core/banned.h"

/* Device codes are kept this long after expiry, so that a late poll hears
 * expired_token rather than invalid_grant. */
#define DEVICE_CODE_KEEP 3600
/* last_used_at of a device is written at most this often. */
#define DEVICE_TOUCH_INTERVAL 60
/* Attempts at a user code that is not in use yet. */
#define USERCODE_TRIES 8

static const char alnum[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
static const char lower_alnum[] = "abcdefghijklmnopqrstuvwxyz0123456789";

static void random_from(const char *set, size_t set_len, char *out, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = set[crypto_random_range(0, set_len - 1)];
    out[n] = '\0';
}

static void hash_text(const char *s, unsigned char out[CRYPTO_SHA256_LEN])
{
    crypto_sha256(s, strlen(s), out);
}

static void copy_cell(char *dst, size_t n, const struct store_result *r, size_t row, size_t col)
{
    const char *s = store_result_text(r, row, col);
    snprintf(dst, n, "%s", s ? s : "");
}

static void principal_cells(const struct store_result *r, size_t row, size_t col,
                            struct principal *ret)
{
    ret->owner_uin = (uint64_t)store_result_i64(r, row, col);
    ret->uin = (uint64_t)store_result_i64(r, row, col + 1);
    const char *kind = store_result_text(r, row, col + 2);
    if (!kind || principal_kind_parse(kind, &ret->kind))
        ret->kind = PRINCIPAL_SUB_USER; /* never more than was stored */
    ret->app_id = (uint64_t)store_result_i64(r, row, col + 3);
}

int device_check_client_id(const char *client_id, struct be_diag *diag)
{
    size_t len = client_id ? strlen(client_id) : 0;
    if (!client_id)
        return be_fail(diag, BE_MISSING_PARAMETER, "client_id is required");
    if (len == 0 || len > DEVICE_CLIENT_ID_MAX)
        return be_fail(diag, BE_INVALID_PARAMETER_VALUE, "client_id must be 1 to %d characters",
                       DEVICE_CLIENT_ID_MAX);
    for (const char *p = client_id; *p; p++) {
        char c = *p;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == '-';
        if (!ok)
            return be_fail(diag, BE_INVALID_PARAMETER_VALUE,
                           "client_id may contain only letters, digits and ._-");
    }
    return BE_OK;
}

int device_check_scope(const char *scope, struct be_diag *diag)
{
    if (!scope)
        return BE_OK;
    if (strlen(scope) > DEVICE_SCOPE_MAX)
        return be_fail(diag, BE_INVALID_PARAMETER_VALUE, "scope must be at most %d characters",
                       DEVICE_SCOPE_MAX);
    for (const char *p = scope; *p; p++)
        if (*p < 0x20 || *p > 0x7e)
            return be_fail(diag, BE_INVALID_PARAMETER_VALUE,
                           "scope may contain only printable ASCII characters");
    return BE_OK;
}

/* ---- Device authorization request -------------------------------------- */

struct authorize_ctx {
    const struct req_meta *meta;
    const char *client_id, *scope;
    int64_t ttl, interval;
    unsigned char hash[CRYPTO_SHA256_LEN];
    char user_code[USERCODE_LEN + 1];
};

static int authorize_fn(struct store_conn *c, void *arg)
{
    struct authorize_ctx *ctx = arg;
    const struct req_meta *m = ctx->meta;
    int rc = store_exec(c, "DELETE FROM devtools_device_codes WHERE expires_at < $1",
                        SV_ARGS(SV_I64(m->now - DEVICE_CODE_KEEP)), NULL);
    if (rc)
        return rc;
    return store_exec(c,
                      "INSERT INTO devtools_device_codes (device_hash, user_code, client_id, scope,"
                      " source_ip, user_agent, created_at, expires_at, poll_interval)"
                      " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                      SV_ARGS(SV_BLOB(ctx->hash, CRYPTO_SHA256_LEN), SV_TEXT(ctx->user_code),
                              SV_TEXT(ctx->client_id), SV_TEXT(ctx->scope), SV_TEXT(m->source_ip),
                              SV_TEXT(m->user_agent), SV_I64(m->now), SV_I64(m->now + ctx->ttl),
                              SV_I64(ctx->interval)),
                      NULL);
}

int device_authorize(struct app *app, const struct req_meta *meta, const char *client_id,
                     const char *scope, struct device_authorization *ret, struct be_diag *diag)
{
    struct buf code = BUF_INIT;
    int rc;
    if ((rc = device_check_client_id(client_id, diag)) || (rc = device_check_scope(scope, diag)))
        return rc;
    struct authorize_ctx ctx = {meta,
                                client_id,
                                scope ? scope : "",
                                (int64_t)app->cfg->tools_device_code_ttl,
                                (int64_t)app->cfg->tools_poll_interval,
                                {0},
                                {0}};
    crypto_random_token(&code, 32);
    hash_text(code.data, ctx.hash);
    /* A user code already held by a kept row is drawn again. */
    for (int i = 0; i < USERCODE_TRIES; i++) {
        usercode_generate(ctx.user_code);
        if ((rc = store_tx(app->store, authorize_fn, &ctx)) != BE_DUPLICATE)
            break;
    }
    if (rc == BE_OK) {
        snprintf(ret->device_code, sizeof(ret->device_code), "%s", code.data);
        memcpy(ret->user_code, ctx.user_code, sizeof(ret->user_code));
        ret->expires_in = ctx.ttl;
        ret->interval = ctx.interval;
    }
    crypto_wipe(code.data, code.len);
    buf_release(&code);
    return rc;
}

/* ---- The approval page's side ------------------------------------------- */

#define REQUEST_COLUMNS "client_id, scope, source_ip, user_agent, created_at, expires_at, status"

static int check_request(const struct store_result *r, int64_t now, struct be_diag *diag)
{
    if (!store_result_rows(r) || store_result_i64(r, 0, 5) <= now)
        return be_fail(diag, BE_USER_CODE_INVALID,
                       "no pending device login has this code, or it has expired; check the "
                       "code the tool shows, or start the login in the tool again");
    if (strcmp(store_result_text(r, 0, 6), "pending"))
        return be_fail(diag, BE_DEVICE_DECIDED, "this device login was already %s",
                       !strcmp(store_result_text(r, 0, 6), "denied") ? "denied" : "approved");
    return BE_OK;
}

struct describe_ctx {
    const char *user_code;
    int64_t now;
    struct device_request *req;
    struct be_diag *diag;
};

static int describe_fn(struct store_conn *c, void *arg)
{
    struct describe_ctx *ctx = arg;
    struct store_result *r = NULL;
    int rc = store_query(c,
                         "SELECT " REQUEST_COLUMNS " FROM devtools_device_codes"
                         " WHERE user_code = $1",
                         SV_ARGS(SV_TEXT(ctx->user_code)), &r);
    if (rc == BE_OK)
        rc = check_request(r, ctx->now, ctx->diag);
    if (rc == BE_OK) {
        struct device_request *q = ctx->req;
        memset(q, 0, sizeof(*q));
        snprintf(q->user_code, sizeof(q->user_code), "%s", ctx->user_code);
        copy_cell(q->client_id, sizeof(q->client_id), r, 0, 0);
        copy_cell(q->scope, sizeof(q->scope), r, 0, 1);
        copy_cell(q->source_ip, sizeof(q->source_ip), r, 0, 2);
        copy_cell(q->user_agent, sizeof(q->user_agent), r, 0, 3);
        q->created_at = store_result_i64(r, 0, 4);
        q->expires_at = store_result_i64(r, 0, 5);
    }
    store_result_free(r);
    return rc;
}

static int normalize_code(const char *typed, char out[USERCODE_LEN + 1], struct be_diag *diag)
{
    if (usercode_normalize(typed, out))
        return be_fail(diag, BE_USER_CODE_INVALID,
                       "a user code is 8 letters, shown as XXXX-XXXX (got \"%.32s\")",
                       typed ? typed : "");
    return BE_OK;
}

int device_describe(struct app *app, const char *user_code, int64_t now, struct device_request *ret,
                    struct be_diag *diag)
{
    char code[USERCODE_LEN + 1];
    struct device_request q;
    int rc = normalize_code(user_code, code, diag);
    if (rc)
        return rc;
    struct describe_ctx ctx = {code, now, &q, diag};
    if ((rc = store_run(app->store, describe_fn, &ctx)) == BE_OK)
        *ret = q;
    return rc;
}

struct decide_ctx {
    const struct req_meta *meta;
    const struct principal *who;
    const char *user_code;
    bool approve;
    struct be_diag *diag;
};

static int decide_fn(struct store_conn *c, void *arg)
{
    struct decide_ctx *ctx = arg;
    const struct principal *who = ctx->who;
    struct store_result *r = NULL;
    int64_t changed = 0;
    char detail[160];
    int rc = store_query(c,
                         "SELECT " REQUEST_COLUMNS " FROM devtools_device_codes"
                         " WHERE user_code = $1",
                         SV_ARGS(SV_TEXT(ctx->user_code)), &r);
    if (rc || (rc = check_request(r, ctx->meta->now, ctx->diag)))
        goto out;
    snprintf(detail, sizeof(detail), "client_id=%s", store_result_text(r, 0, 0));
    rc = store_exec(c,
                    "UPDATE devtools_device_codes SET status = $1, owner_uin = $2, uin = $3,"
                    " principal_kind = $4, app_id = $5, decided_at = $6"
                    " WHERE user_code = $7 AND status = 'pending'",
                    SV_ARGS(SV_TEXT(ctx->approve ? "approved" : "denied"), SV_I64(who->owner_uin),
                            SV_I64(who->uin), SV_TEXT(principal_kind_name(who->kind)),
                            SV_I64(who->app_id), SV_I64(ctx->meta->now), SV_TEXT(ctx->user_code)),
                    &changed);
    if (rc)
        goto out;
    if (changed != 1) {
        rc = be_fail(ctx->diag, BE_DEVICE_DECIDED, "this device login was already decided");
        goto out;
    }
    struct audit_entry e = {who->owner_uin, who->uin,
                            ctx->approve ? "devtools:ApproveDevice" : "devtools:DenyDevice",
                            "success", detail};
    rc = audit_record(c, ctx->meta, &e);
out:
    store_result_free(r);
    return rc;
}

int device_decide(struct app *app, const struct req_meta *meta, const struct principal *who,
                  const char *user_code, bool approve, struct be_diag *diag)
{
    char code[USERCODE_LEN + 1];
    int rc = normalize_code(user_code, code, diag);
    if (rc)
        return rc;
    struct decide_ctx ctx = {meta, who, code, approve, diag};
    return store_tx(app->store, decide_fn, &ctx);
}

/* ---- Tokens ------------------------------------------------------------- */

/* Mints temporary credentials and a refresh token for device_id, inside the
 * caller's transaction. */
static int issue_tokens(struct store_conn *c, const struct app *app, const char *device_id,
                        int64_t now, struct device_tokens *t)
{
    struct buf token = BUF_INIT, refresh = BUF_INIT, sealed = BUF_INIT;
    unsigned char token_hash[CRYPTO_SHA256_LEN], refresh_hash[CRYPTO_SHA256_LEN];
    memcpy(t->tmp_secret_id, "AKID", 4);
    random_from(alnum, sizeof(alnum) - 1, t->tmp_secret_id + 4, DEVCRED_ID_LEN - 4);
    random_from(alnum, sizeof(alnum) - 1, t->tmp_secret_key, DEVCRED_KEY_LEN);
    crypto_random_token(&token, 32);
    crypto_random_token(&refresh, 32);
    snprintf(t->token, sizeof(t->token), "%s", token.data);
    snprintf(t->refresh_token, sizeof(t->refresh_token), "%s", refresh.data);
    snprintf(t->device_id, sizeof(t->device_id), "%s", device_id);
    hash_text(t->token, token_hash);
    hash_text(t->refresh_token, refresh_hash);
    t->expires_at = now + (int64_t)app->cfg->tools_credential_ttl;
    t->refresh_expires_at = now + (int64_t)app->cfg->tools_refresh_ttl;
    crypto_seal(app->keys.seal, t->tmp_secret_id, DEVCRED_ID_LEN, t->tmp_secret_key,
                DEVCRED_KEY_LEN, &sealed);
    /* The device's dead rows go as it gets new ones. A used refresh token is
     * kept until it expires: until then, showing it again is a reuse. */
    int rc =
        store_exec(c, "DELETE FROM devtools_credentials WHERE device_id = $1 AND expires_at <= $2",
                   SV_ARGS(SV_TEXT(device_id), SV_I64(now)), NULL);
    if (rc == BE_OK)
        rc = store_exec(c,
                        "DELETE FROM devtools_refresh_tokens WHERE device_id = $1"
                        " AND expires_at <= $2",
                        SV_ARGS(SV_TEXT(device_id), SV_I64(now)), NULL);
    if (rc == BE_OK)
        rc = store_exec(
            c,
            "INSERT INTO devtools_credentials (secret_id, device_id, secret_sealed,"
            " token_hash, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)",
            SV_ARGS(SV_TEXT(t->tmp_secret_id), SV_TEXT(device_id), SV_BLOB(sealed.data, sealed.len),
                    SV_BLOB(token_hash, CRYPTO_SHA256_LEN), SV_I64(now), SV_I64(t->expires_at)),
            NULL);
    if (rc == BE_OK)
        rc = store_exec(c,
                        "INSERT INTO devtools_refresh_tokens (token_hash, device_id, created_at,"
                        " expires_at) VALUES ($1, $2, $3, $4)",
                        SV_ARGS(SV_BLOB(refresh_hash, CRYPTO_SHA256_LEN), SV_TEXT(device_id),
                                SV_I64(now), SV_I64(t->refresh_expires_at)),
                        NULL);
    crypto_wipe(token.data, token.len);
    crypto_wipe(refresh.data, refresh.len);
    buf_release(&token);
    buf_release(&refresh);
    buf_release(&sealed);
    return rc;
}

/* Ends a device inside the caller's transaction: it is marked revoked (which
 * every refresh and every credential lookup checks) and its temporary
 * credentials are deleted. */
static int revoke_in_tx(struct store_conn *c, const char *device_id, const char *reason,
                        int64_t now)
{
    int rc = store_exec(c,
                        "UPDATE devtools_devices SET revoked_at = $1, revoked_reason = $2"
                        " WHERE device_id = $3 AND revoked_at = 0",
                        SV_ARGS(SV_I64(now), SV_TEXT(reason), SV_TEXT(device_id)), NULL);
    if (rc == BE_OK)
        rc = store_exec(c, "DELETE FROM devtools_credentials WHERE device_id = $1",
                        SV_ARGS(SV_TEXT(device_id)), NULL);
    return rc;
}

struct poll_ctx {
    const struct app *app;
    const struct req_meta *meta;
    const char *client_id;
    unsigned char hash[CRYPTO_SHA256_LEN];
    struct device_tokens *tokens;
    int outcome; /* a refusal that still commits the poll's bookkeeping */
    int64_t interval;
    /* The poll's time in milliseconds: "too fast" is measured finer than
     * whole seconds, or two polls a few milliseconds apart across a second
     * boundary would pass for one interval apart. */
    int64_t now_ms;
};

/* The request's time (meta->now, seconds) in milliseconds: the wall clock's
 * milliseconds when meta->now is the current second, whole seconds for a
 * given time (tests, tools). */
static int64_t poll_ms(int64_t now_s)
{
    int64_t wall = time_now_ms();
    return wall / 1000 == now_s ? wall : now_s * 1000;
}

/* The approved request becomes a device with its first tokens. */
static int poll_approved(struct store_conn *c, struct poll_ctx *ctx, const struct store_result *r)
{
    const struct req_meta *m = ctx->meta;
    struct device_tokens *t = ctx->tokens;
    char device_id[DEVICE_ID_LEN + 1], detail[160];
    int64_t changed = 0;
    memcpy(device_id, "dev-", 4);
    random_from(lower_alnum, sizeof(lower_alnum) - 1, device_id + 4, DEVICE_ID_LEN - 4);
    int rc = store_exec(
        c,
        "UPDATE devtools_device_codes SET status = 'used', device_id = $1,"
        " last_poll_ms = $2 WHERE device_hash = $3 AND status = 'approved'",
        SV_ARGS(SV_TEXT(device_id), SV_I64(ctx->now_ms), SV_BLOB(ctx->hash, CRYPTO_SHA256_LEN)),
        &changed);
    if (rc)
        return rc;
    if (changed != 1)
        return BE_GRANT_INVALID;
    memset(t, 0, sizeof(*t));
    principal_cells(r, 0, 6, &t->who);
    copy_cell(t->scope, sizeof(t->scope), r, 0, 11);
    rc = store_exec(c,
                    "INSERT INTO devtools_devices (device_id, owner_uin, uin, principal_kind,"
                    " app_id, client_id, scope, source_ip, user_agent, created_at, last_used_at)"
                    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10)",
                    SV_ARGS(SV_TEXT(device_id), SV_I64(t->who.owner_uin), SV_I64(t->who.uin),
                            SV_TEXT(principal_kind_name(t->who.kind)), SV_I64(t->who.app_id),
                            SV_TEXT(ctx->client_id), SV_TEXT(t->scope),
                            SV_TEXT(store_result_text(r, 0, 12)),
                            SV_TEXT(store_result_text(r, 0, 13)), SV_I64(m->now)),
                    NULL);
    if (rc || (rc = issue_tokens(c, ctx->app, device_id, m->now, t)))
        return rc;
    snprintf(detail, sizeof(detail), "%s client_id=%s", device_id, ctx->client_id);
    struct audit_entry e = {t->who.owner_uin, t->who.uin, "devtools:CreateDevice", "success",
                            detail};
    return audit_record(c, m, &e);
}

static int poll_fn(struct store_conn *c, void *arg)
{
    struct poll_ctx *ctx = arg;
    const int64_t now = ctx->meta->now;
    struct store_result *r = NULL;
    ctx->outcome = BE_OK;
    int rc = store_query(c,
                         "SELECT client_id, status, expires_at, poll_interval, last_poll_ms, 0,"
                         " owner_uin, uin, principal_kind, app_id, 0, scope, source_ip,"
                         " user_agent FROM devtools_device_codes WHERE device_hash = $1",
                         SV_ARGS(SV_BLOB(ctx->hash, CRYPTO_SHA256_LEN)), &r);
    if (rc)
        goto out;
    if (!store_result_rows(r) || strcmp(store_result_text(r, 0, 0), ctx->client_id) ||
        !strcmp(store_result_text(r, 0, 1), "used")) {
        rc = BE_GRANT_INVALID;
        goto out;
    }
    const char *status = store_result_text(r, 0, 1);
    int64_t interval = store_result_i64(r, 0, 3), last = store_result_i64(r, 0, 4);
    ctx->interval = interval;
    if (now >= store_result_i64(r, 0, 2)) {
        rc = BE_DEVICE_EXPIRED;
        goto out;
    }
    if (!strcmp(status, "denied")) {
        rc = BE_DEVICE_DENIED;
        goto out;
    }
    if (last && ctx->now_ms - last < interval * 1000) {
        ctx->interval = interval + DEVICE_SLOW_DOWN_STEP;
        ctx->outcome = BE_DEVICE_SLOW_DOWN;
    } else if (!strcmp(status, "approved")) {
        rc = poll_approved(c, ctx, r);
        goto out;
    } else {
        ctx->outcome = BE_DEVICE_PENDING;
    }
    rc = store_exec(
        c,
        "UPDATE devtools_device_codes SET last_poll_ms = $1, poll_interval = $2"
        " WHERE device_hash = $3",
        SV_ARGS(SV_I64(ctx->now_ms), SV_I64(ctx->interval), SV_BLOB(ctx->hash, CRYPTO_SHA256_LEN)),
        NULL);
out:
    store_result_free(r);
    return rc;
}

int device_poll(struct app *app, const struct req_meta *meta, const char *client_id,
                const char *device_code, struct device_tokens *ret, int64_t *ret_interval,
                struct be_diag *diag)
{
    struct device_tokens t;
    int rc = device_check_client_id(client_id, diag);
    if (rc)
        return rc;
    if (!device_code || strlen(device_code) != DEVICE_CODE_LEN)
        return be_fail(diag, BE_GRANT_INVALID, "unknown device_code");
    struct poll_ctx ctx = {app, meta, client_id, {0}, &t, BE_OK, 0, poll_ms(meta->now)};
    hash_text(device_code, ctx.hash);
    rc = store_tx(app->store, poll_fn, &ctx);
    if (rc == BE_OK)
        rc = ctx.outcome;
    if (rc == BE_OK)
        *ret = t;
    else if (rc == BE_DEVICE_SLOW_DOWN && ret_interval)
        *ret_interval = ctx.interval;
    if (rc == BE_GRANT_INVALID)
        be_fail(diag, rc,
                "unknown device_code, issued to another client, or already exchanged for "
                "tokens; run the login again");
    crypto_wipe(&t, sizeof(t));
    return rc;
}

struct refresh_ctx {
    const struct app *app;
    const struct req_meta *meta;
    const char *client_id;
    unsigned char hash[CRYPTO_SHA256_LEN];
    struct device_tokens *tokens;
    int outcome;
    struct be_diag *diag;
};

/* A refresh token presented a second time: the device ends, in a
 * transaction that commits although the refresh fails. */
static int refresh_reused(struct store_conn *c, struct refresh_ctx *ctx, const char *device_id,
                          const struct principal *who)
{
    int rc = revoke_in_tx(c, device_id, "refresh_token_reused", ctx->meta->now);
    if (rc)
        return rc;
    struct audit_entry e = {who->owner_uin, who->uin, "devtools:RefreshTokenReused", "failure",
                            device_id};
    ctx->outcome = be_fail(ctx->diag, BE_GRANT_INVALID,
                           "this refresh token was already used, so device %s was revoked; "
                           "run bindery login again",
                           device_id);
    return audit_record(c, ctx->meta, &e);
}

static int refresh_fn(struct store_conn *c, void *arg)
{
    struct refresh_ctx *ctx = arg;
    const int64_t now = ctx->meta->now;
    struct store_result *r = NULL;
    struct principal who;
    int64_t changed = 0;
    char device_id[DEVICE_ID_LEN + 1];
    ctx->outcome = BE_OK;
    int rc = store_query(c,
                         "SELECT t.device_id, t.expires_at, t.used_at, d.revoked_at, d.client_id,"
                         " 0, d.owner_uin, d.uin, d.principal_kind, d.app_id, 0, d.scope"
                         " FROM devtools_refresh_tokens t"
                         " JOIN devtools_devices d ON d.device_id = t.device_id"
                         " WHERE t.token_hash = $1",
                         SV_ARGS(SV_BLOB(ctx->hash, CRYPTO_SHA256_LEN)), &r);
    if (rc)
        goto out;
    if (!store_result_rows(r) || strcmp(store_result_text(r, 0, 4), ctx->client_id)) {
        rc = be_fail(ctx->diag, BE_GRANT_INVALID, "unknown refresh token; run bindery login");
        goto out;
    }
    copy_cell(device_id, sizeof(device_id), r, 0, 0);
    principal_cells(r, 0, 6, &who);
    if (store_result_i64(r, 0, 3)) {
        rc = be_fail(ctx->diag, BE_GRANT_INVALID, "device %s was revoked; run bindery login again",
                     device_id);
        goto out;
    }
    if (store_result_i64(r, 0, 2)) {
        rc = refresh_reused(c, ctx, device_id, &who);
        goto out;
    }
    if (store_result_i64(r, 0, 1) <= now) {
        rc = be_fail(ctx->diag, BE_GRANT_INVALID,
                     "the refresh token has expired; run bindery login again");
        goto out;
    }
    /* One statement decides which of two concurrent uses wins; the loser is
     * a reuse like any other. */
    rc = store_exec(c,
                    "UPDATE devtools_refresh_tokens SET used_at = $1"
                    " WHERE token_hash = $2 AND used_at = 0",
                    SV_ARGS(SV_I64(now), SV_BLOB(ctx->hash, CRYPTO_SHA256_LEN)), &changed);
    if (rc)
        goto out;
    if (changed != 1) {
        rc = refresh_reused(c, ctx, device_id, &who);
        goto out;
    }
    memset(ctx->tokens, 0, sizeof(*ctx->tokens));
    ctx->tokens->who = who;
    copy_cell(ctx->tokens->scope, sizeof(ctx->tokens->scope), r, 0, 11);
    if ((rc = issue_tokens(c, ctx->app, device_id, now, ctx->tokens)))
        goto out;
    rc = store_exec(c, "UPDATE devtools_devices SET last_used_at = $1 WHERE device_id = $2",
                    SV_ARGS(SV_I64(now), SV_TEXT(device_id)), NULL);
out:
    store_result_free(r);
    return rc;
}

int device_refresh(struct app *app, const struct req_meta *meta, const char *client_id,
                   const char *refresh_token, struct device_tokens *ret, struct be_diag *diag)
{
    struct device_tokens t;
    int rc = device_check_client_id(client_id, diag);
    if (rc)
        return rc;
    if (!refresh_token || strlen(refresh_token) != DEVICE_REFRESH_LEN)
        return be_fail(diag, BE_GRANT_INVALID, "unknown refresh token; run bindery login");
    struct refresh_ctx ctx = {app, meta, client_id, {0}, &t, BE_OK, diag};
    hash_text(refresh_token, ctx.hash);
    rc = store_tx(app->store, refresh_fn, &ctx);
    if (rc == BE_OK)
        rc = ctx.outcome;
    if (rc == BE_OK)
        *ret = t;
    crypto_wipe(&t, sizeof(t));
    return rc;
}

struct revoke_token_ctx {
    const struct req_meta *meta;
    unsigned char hash[CRYPTO_SHA256_LEN];
};

static int revoke_token_fn(struct store_conn *c, void *arg)
{
    struct revoke_token_ctx *ctx = arg;
    struct store_result *r = NULL;
    int rc = store_query(c,
                         "SELECT d.device_id, d.owner_uin, d.uin FROM devtools_devices d"
                         " WHERE d.device_id IN (SELECT device_id FROM devtools_refresh_tokens"
                         " WHERE token_hash = $1 UNION SELECT device_id FROM devtools_credentials"
                         " WHERE token_hash = $1) AND d.revoked_at = 0",
                         SV_ARGS(SV_BLOB(ctx->hash, CRYPTO_SHA256_LEN)), &r);
    if (rc || !store_result_rows(r))
        goto out;
    const char *device_id = store_result_text(r, 0, 0);
    if ((rc = revoke_in_tx(c, device_id, "logout", ctx->meta->now)))
        goto out;
    struct audit_entry e = {(uint64_t)store_result_i64(r, 0, 1),
                            (uint64_t)store_result_i64(r, 0, 2), "devtools:Logout", "success",
                            device_id};
    rc = audit_record(c, ctx->meta, &e);
out:
    store_result_free(r);
    return rc;
}

int device_revoke_token(struct app *app, const struct req_meta *meta, const char *token)
{
    if (!token || !*token || strlen(token) > DEVCRED_TOKEN_MAX)
        return BE_OK;
    struct revoke_token_ctx ctx = {meta, {0}};
    hash_text(token, ctx.hash);
    return store_tx(app->store, revoke_token_fn, &ctx);
}

/* ---- Devices ------------------------------------------------------------ */

struct list_ctx {
    uint64_t owner_uin, uin;
    struct device_info *list;
    size_t count;
};

#define DEVICE_COLUMNS                                                                             \
    "device_id, client_id, scope, source_ip, user_agent, owner_uin, uin, principal_kind, app_id,"  \
    " created_at, last_used_at, revoked_at, revoked_reason"

static int list_fn(struct store_conn *c, void *arg)
{
    struct list_ctx *ctx = arg;
    struct store_result *r = NULL;
    int rc = ctx->uin ? store_query(c,
                                    "SELECT " DEVICE_COLUMNS " FROM devtools_devices"
                                    " WHERE owner_uin = $1 AND uin = $2"
                                    " ORDER BY created_at DESC, device_id LIMIT 100",
                                    SV_ARGS(SV_I64(ctx->owner_uin), SV_I64(ctx->uin)), &r)
                      : store_query(c,
                                    "SELECT " DEVICE_COLUMNS " FROM devtools_devices"
                                    " WHERE owner_uin = $1"
                                    " ORDER BY created_at DESC, device_id LIMIT 100",
                                    SV_ARGS(SV_I64(ctx->owner_uin)), &r);
    if (rc)
        return rc;
    size_t n = store_result_rows(r);
    ctx->list = xcalloc(n ? n : 1, sizeof(*ctx->list));
    for (size_t i = 0; i < n; i++) {
        struct device_info *d = &ctx->list[i];
        copy_cell(d->device_id, sizeof(d->device_id), r, i, 0);
        copy_cell(d->client_id, sizeof(d->client_id), r, i, 1);
        copy_cell(d->scope, sizeof(d->scope), r, i, 2);
        copy_cell(d->source_ip, sizeof(d->source_ip), r, i, 3);
        copy_cell(d->user_agent, sizeof(d->user_agent), r, i, 4);
        principal_cells(r, i, 5, &d->who);
        d->created_at = store_result_i64(r, i, 9);
        d->last_used_at = store_result_i64(r, i, 10);
        d->revoked_at = store_result_i64(r, i, 11);
        copy_cell(d->revoked_reason, sizeof(d->revoked_reason), r, i, 12);
    }
    ctx->count = n;
    store_result_free(r);
    return BE_OK;
}

int device_list(struct app *app, uint64_t owner_uin, uint64_t uin, struct device_info **ret,
                size_t *ret_count)
{
    struct list_ctx ctx = {owner_uin, uin, NULL, 0};
    int rc = store_run(app->store, list_fn, &ctx);
    if (rc) {
        free(ctx.list);
        return rc;
    }
    *ret = ctx.list;
    *ret_count = ctx.count;
    return BE_OK;
}

struct revoke_ctx {
    const struct req_meta *meta;
    const struct principal *actor;
    uint64_t uin;
    const char *device_id;
};

static int revoke_fn(struct store_conn *c, void *arg)
{
    struct revoke_ctx *ctx = arg;
    struct store_result *r = NULL;
    int rc = store_query(c, "SELECT owner_uin, uin FROM devtools_devices WHERE device_id = $1",
                         SV_ARGS(SV_TEXT(ctx->device_id)), &r);
    if (rc)
        goto out;
    if (!store_result_rows(r) || (uint64_t)store_result_i64(r, 0, 0) != ctx->actor->owner_uin ||
        (ctx->uin && (uint64_t)store_result_i64(r, 0, 1) != ctx->uin)) {
        rc = BE_DEVICE_NOT_FOUND;
        goto out;
    }
    if ((rc = revoke_in_tx(c, ctx->device_id, "revoked", ctx->meta->now)))
        goto out;
    struct audit_entry e = {ctx->actor->owner_uin, ctx->actor->uin, "devtools:RevokeDevice",
                            "success", ctx->device_id};
    rc = audit_record(c, ctx->meta, &e);
out:
    store_result_free(r);
    return rc;
}

int device_revoke(struct app *app, const struct req_meta *meta, const struct principal *actor,
                  uint64_t uin, const char *device_id, struct be_diag *diag)
{
    struct revoke_ctx ctx = {meta, actor, uin, device_id};
    int rc = store_tx(app->store, revoke_fn, &ctx);
    if (rc == BE_DEVICE_NOT_FOUND)
        be_fail(diag, rc, "no device %s in account %llu", device_id,
                (unsigned long long)actor->owner_uin);
    return rc;
}

/* ---- The gateway's side ------------------------------------------------- */

bool devcred_is_tmp_id(const char *secret_id)
{
    return secret_id && strlen(secret_id) == DEVCRED_ID_LEN && !strncmp(secret_id, "AKID", 4);
}

struct resolve_ctx {
    const char *secret_id;
    int64_t now;
    struct devcred *cred;
    struct buf sealed;
    bool found;
};

static int resolve_fn(struct store_conn *c, void *arg)
{
    struct resolve_ctx *ctx = arg;
    struct store_result *r = NULL;
    size_t len;
    int rc = store_query(c,
                         "SELECT c.secret_sealed, c.token_hash, c.expires_at, d.device_id,"
                         " d.last_used_at, 0, d.owner_uin, d.uin, d.principal_kind, d.app_id"
                         " FROM devtools_credentials c"
                         " JOIN devtools_devices d ON d.device_id = c.device_id"
                         " JOIN accounts a ON a.uin = d.owner_uin"
                         " WHERE c.secret_id = $1 AND d.revoked_at = 0",
                         SV_ARGS(SV_TEXT(ctx->secret_id)), &r);
    if (rc || !store_result_rows(r))
        goto out;
    const void *p = store_result_blob(r, 0, 0, &len);
    buf_add(&ctx->sealed, p, len);
    p = store_result_blob(r, 0, 1, &len);
    if (len != CRYPTO_SHA256_LEN)
        goto out;
    memcpy(ctx->cred->token_hash, p, CRYPTO_SHA256_LEN);
    ctx->cred->expires_at = store_result_i64(r, 0, 2);
    copy_cell(ctx->cred->device_id, sizeof(ctx->cred->device_id), r, 0, 3);
    principal_cells(r, 0, 6, &ctx->cred->who);
    ctx->found = true;
    if (ctx->now - store_result_i64(r, 0, 4) >= DEVICE_TOUCH_INTERVAL)
        rc = store_exec(c, "UPDATE devtools_devices SET last_used_at = $1 WHERE device_id = $2",
                        SV_ARGS(SV_I64(ctx->now), SV_TEXT(ctx->cred->device_id)), NULL);
out:
    store_result_free(r);
    return rc;
}

int devcred_resolve(struct app *app, const char *secret_id, int64_t now, struct devcred *ret)
{
    struct devcred cred;
    struct buf plain = BUF_INIT;
    memset(&cred, 0, sizeof(cred));
    struct resolve_ctx ctx = {secret_id, now, &cred, BUF_INIT, false};
    if (!devcred_is_tmp_id(secret_id))
        return BE_AUTH_SECRET_ID;
    int rc = store_run(app->store, resolve_fn, &ctx);
    if (rc)
        goto out;
    if (!ctx.found ||
        crypto_open(app->keys.seal, secret_id, DEVCRED_ID_LEN, ctx.sealed.data, ctx.sealed.len,
                    &plain) ||
        plain.len != DEVCRED_KEY_LEN) {
        rc = BE_AUTH_SECRET_ID;
        goto out;
    }
    memcpy(cred.secret_key, plain.data, DEVCRED_KEY_LEN);
    cred.secret_key[DEVCRED_KEY_LEN] = '\0';
    *ret = cred;
out:
    crypto_wipe(&cred, sizeof(cred));
    crypto_wipe(plain.data, plain.len);
    buf_release(&plain);
    buf_release(&ctx.sealed);
    return rc;
}

int devcred_check(const struct devcred *cred, const char *token, int64_t now)
{
    unsigned char h[CRYPTO_SHA256_LEN];
    if (!token || !*token || strlen(token) > DEVCRED_TOKEN_MAX)
        return BE_AUTH_TOKEN;
    hash_text(token, h);
    if (!crypto_equal(h, cred->token_hash, CRYPTO_SHA256_LEN))
        return BE_AUTH_TOKEN;
    if (cred->expires_at <= now)
        return BE_AUTH_TOKEN;
    return BE_OK;
}
