#include "binding/attempt.h"

#include <stdio.h>
#include <string.h>

#include "core/log.h"
#include "core/banned.h"

#define ATTEMPT_COLUMNS                                                                            \
    "state_hash, purpose, binding, binding_hash, owner_uin, uin, principal_kind, app_id,"          \
    " target_appid, pre_auth_code, created_at, expires_at, claim_until, used_at, applied_at,"      \
    " result_uin, result_appid, result"

static const char *binding_name(enum link_binding b)
{
    static const char *const names[] = {"session", "principal", "visitor"};
    return names[b];
}

static enum link_binding binding_of(const char *s)
{
    if (s && !strcmp(s, "principal"))
        return LINK_BIND_PRINCIPAL;
    if (s && !strcmp(s, "visitor"))
        return LINK_BIND_VISITOR;
    return LINK_BIND_SESSION;
}

/* 43 characters of base64url: the shape of our states and cookies. */
static bool token_shaped(const char *s, size_t len)
{
    if (!s || strlen(s) != len)
        return false;
    for (size_t i = 0; i < len; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '-' || ch == '_'))
            return false;
    }
    return true;
}

void link_visitor_new(struct buf *out)
{
    crypto_random_token(out, 32);
}

bool link_visitor_valid(const char *v)
{
    return token_shaped(v, LINK_VISITOR_LEN);
}

static void copy_blob32(unsigned char *dst, const struct store_result *r, size_t col)
{
    size_t len = 0;
    const void *p = store_result_blob(r, 0, col, &len);
    memset(dst, 0, CRYPTO_SHA256_LEN);
    if (p && len == CRYPTO_SHA256_LEN)
        memcpy(dst, p, len);
}

static void row_to_attempt(const struct store_result *r, struct link_attempt *a)
{
    memset(a, 0, sizeof(*a));
    copy_blob32(a->state_hash, r, 0);
    const char *purpose = store_result_text(r, 0, 1);
    a->purpose = purpose && !strcmp(purpose, "login") ? LINK_PURPOSE_LOGIN : LINK_PURPOSE_LINK;
    a->binding = binding_of(store_result_text(r, 0, 2));
    copy_blob32(a->binding_hash, r, 3);
    a->who.owner_uin = (uint64_t)store_result_i64(r, 0, 4);
    a->who.uin = (uint64_t)store_result_i64(r, 0, 5);
    if (principal_kind_parse(store_result_text(r, 0, 6), &a->who.kind))
        a->who.kind = PRINCIPAL_ROOT;
    a->who.app_id = (uint64_t)store_result_i64(r, 0, 7);
    const char *s = store_result_text(r, 0, 8);
    snprintf(a->target_appid, sizeof(a->target_appid), "%s", s ? s : "");
    s = store_result_text(r, 0, 9);
    snprintf(a->pre_auth_code, sizeof(a->pre_auth_code), "%s", s ? s : "");
    a->created_at = store_result_i64(r, 0, 10);
    a->expires_at = store_result_i64(r, 0, 11);
    a->claim_until = store_result_i64(r, 0, 12);
    a->used_at = store_result_i64(r, 0, 13);
    a->applied_at = store_result_i64(r, 0, 14);
    a->result_uin = (uint64_t)store_result_i64(r, 0, 15);
    s = store_result_text(r, 0, 16);
    snprintf(a->result_appid, sizeof(a->result_appid), "%s", s ? s : "");
    s = store_result_text(r, 0, 17);
    if (s && *s) {
        a->has_result = true;
        a->result_registered = strstr(s, "+registered") != NULL;
        a->result_change = !strncmp(s, "reauthorized", 12) ? LINK_CHANGE_REAUTHORIZED
                           : !strncmp(s, "refreshed", 9)   ? LINK_CHANGE_REFRESHED
                                                           : LINK_CHANGE_CREATED;
    }
}

/* "created", "reauthorized+registered" ...: what the result column holds. */
static void result_text(const struct link_outcome *o, char *out, size_t n)
{
    snprintf(out, n, "%s%s", link_change_name(o->change), o->registered ? "+registered" : "");
}

/* --- create ------------------------------------------------------------------ */

static int insert_fn(struct store_conn *c, void *arg)
{
    const struct link_attempt *a = arg;
    bool hashed = a->binding != LINK_BIND_PRINCIPAL;
    return store_exec(
        c,
        "INSERT INTO wechat_link_attempts (state_hash, purpose, binding, binding_hash,"
        " owner_uin, uin, principal_kind, app_id, target_appid, pre_auth_code, created_at,"
        " expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        SV_ARGS(SV_BLOB(a->state_hash, CRYPTO_SHA256_LEN), SV_TEXT(link_purpose_name(a->purpose)),
                SV_TEXT(binding_name(a->binding)),
                hashed ? SV_BLOB(a->binding_hash, CRYPTO_SHA256_LEN) : SV_NULL,
                SV_I64(a->who.owner_uin), SV_I64(a->who.uin),
                SV_TEXT(principal_kind_name(a->who.kind)), SV_I64(a->who.app_id),
                SV_TEXT(a->target_appid), SV_TEXT(a->pre_auth_code), SV_I64(a->created_at),
                SV_I64(a->expires_at)),
        NULL);
}

int link_attempt_create(struct app *app, struct link_attempt *a, int64_t now, struct buf *ret_state)
{
    struct buf state = BUF_INIT;
    crypto_random_token(&state, 32);
    crypto_sha256(state.data, state.len, a->state_hash);
    a->created_at = now;
    a->expires_at = now + (int64_t)app->cfg->link_attempt_ttl;
    a->claim_until = a->used_at = a->applied_at = 0;
    a->result_uin = 0;
    a->result_appid[0] = '\0';
    int rc = store_run(app->store, insert_fn, a);
    if (rc == BE_OK)
        buf_add(ret_state, state.data, state.len);
    crypto_wipe(state.data, state.len);
    buf_release(&state);
    return rc;
}

/* --- look up and claim ------------------------------------------------------ */

struct load_ctx {
    const unsigned char *hash;
    struct link_attempt a;
    bool found;
};

static int load_fn(struct store_conn *c, void *arg)
{
    struct load_ctx *x = arg;
    struct store_result *r = NULL;
    int rc = store_query(c,
                         "SELECT " ATTEMPT_COLUMNS " FROM wechat_link_attempts"
                         " WHERE state_hash = $1",
                         SV_ARGS(SV_BLOB(x->hash, CRYPTO_SHA256_LEN)), &r);
    x->found = rc == BE_OK && store_result_rows(r) > 0;
    if (x->found)
        row_to_attempt(r, &x->a);
    store_result_free(r);
    return rc;
}

static int load(struct app *app, const char *state, struct link_attempt *ret, struct be_diag *diag)
{
    unsigned char hash[CRYPTO_SHA256_LEN];
    if (!token_shaped(state, LINK_ATTEMPT_STATE_LEN))
        return be_fail(diag, BE_ATTEMPT_INVALID,
                       "the authorization state is missing or malformed; start again");
    crypto_sha256(state, LINK_ATTEMPT_STATE_LEN, hash);
    struct load_ctx x = {.hash = hash};
    int rc = store_run(app->store, load_fn, &x);
    if (rc)
        return rc;
    if (!x.found)
        return be_fail(diag, BE_ATTEMPT_INVALID,
                       "this authorization state is unknown to Bindery; start again from the "
                       "account center or the login page");
    *ret = x.a;
    return BE_OK;
}

/* Used, expired or being completed: the diag says which. */
static int usable(const struct link_attempt *a, int64_t now, struct be_diag *diag)
{
    if (a->used_at)
        return be_fail(diag, BE_ATTEMPT_USED,
                       "this authorization was already completed; there is nothing more to do "
                       "(start again for another one)");
    if (now >= a->expires_at)
        return be_fail(diag, BE_ATTEMPT_EXPIRED,
                       "this authorization attempt expired %lld seconds after it started; start "
                       "again",
                       (long long)(a->expires_at - a->created_at));
    if (a->claim_until > now)
        return be_fail(diag, BE_ATTEMPT_USED,
                       "this authorization is being completed by another request; wait a moment "
                       "and reload");
    return BE_OK;
}

int link_attempt_get(struct app *app, const char *state, int64_t now, struct link_attempt *ret,
                     struct be_diag *diag)
{
    struct link_attempt a;
    int rc = load(app, state, &a, diag);
    /* A claim in progress does not matter here: only used or expired do. */
    if (rc == BE_OK && (a.used_at || now >= a.expires_at))
        rc = usable(&a, now, diag);
    if (rc == BE_OK)
        *ret = a;
    return rc;
}

static bool bound(const struct link_attempt *a, const struct link_proof *p)
{
    unsigned char h[CRYPTO_SHA256_LEN];
    switch (a->binding) {
    case LINK_BIND_SESSION:
        return p->session_hash && crypto_equal(p->session_hash, a->binding_hash, sizeof(h));
    case LINK_BIND_PRINCIPAL:
        return p->session_who && p->session_who->uin == a->who.uin &&
               p->session_who->owner_uin == a->who.owner_uin;
    case LINK_BIND_VISITOR:
        if (!link_visitor_valid(p->visitor))
            return false;
        crypto_sha256(p->visitor, LINK_VISITOR_LEN, h);
        return crypto_equal(h, a->binding_hash, sizeof(h));
    }
    return false;
}

struct claim_ctx {
    const struct link_attempt *a;
    int64_t now;
    bool taken;
};

static int claim_fn(struct store_conn *c, void *arg)
{
    struct claim_ctx *x = arg;
    int64_t changes = 0;
    int rc = store_exec(c,
                        "UPDATE wechat_link_attempts SET claim_until = $1 WHERE state_hash = $2"
                        " AND used_at = 0 AND claim_until <= $3 AND expires_at > $3",
                        SV_ARGS(SV_I64(x->now + LINK_ATTEMPT_CLAIM_S),
                                SV_BLOB(x->a->state_hash, CRYPTO_SHA256_LEN), SV_I64(x->now)),
                        &changes);
    x->taken = rc == BE_OK && changes == 1;
    return rc;
}

int link_attempt_claim(struct app *app, const char *state, const struct link_proof *proof,
                       int64_t now, struct link_attempt *ret, struct be_diag *diag)
{
    struct link_attempt a;
    int rc = load(app, state, &a, diag);
    if (rc)
        return rc;
    if (!bound(&a, proof))
        return be_fail(diag, BE_ATTEMPT_INVALID,
                       a.purpose == LINK_PURPOSE_LINK
                           ? "this authorization was started in another console session; sign "
                             "in and start it again from the account center"
                           : "this authorization was started in another browser; start it "
                             "again from the login page");
    if ((rc = usable(&a, now, diag)))
        return rc;
    struct claim_ctx x = {&a, now, false};
    if ((rc = store_run(app->store, claim_fn, &x)))
        return rc;
    if (!x.taken)
        return be_fail(diag, BE_ATTEMPT_USED,
                       "this authorization is being completed by another request");
    a.claim_until = now + LINK_ATTEMPT_CLAIM_S;
    *ret = a;
    return BE_OK;
}

struct release_ctx {
    const struct link_attempt *a;
    const char *error;
};

static int release_fn(struct store_conn *c, void *arg)
{
    struct release_ctx *x = arg;
    return store_exec(c,
                      "UPDATE wechat_link_attempts SET claim_until = 0, last_error = $1"
                      " WHERE state_hash = $2 AND used_at = 0",
                      SV_ARGS(SV_TEXT(x->error), SV_BLOB(x->a->state_hash, CRYPTO_SHA256_LEN)),
                      NULL);
}

int link_attempt_release(struct app *app, const struct link_attempt *a, const char *error)
{
    char note[LINK_NOTE_MAX + 1];
    snprintf(note, sizeof(note), "%s", error ? error : "");
    struct release_ctx x = {a, note};
    return store_run(app->store, release_fn, &x);
}

int link_attempt_finish(struct store_conn *c, const struct link_attempt *a, int64_t now,
                        const struct link_outcome *o)
{
    char result[40];
    int64_t changes = 0;
    result_text(o, result, sizeof(result));
    int rc = store_exec(c,
                        "UPDATE wechat_link_attempts SET used_at = $1, claim_until = 0,"
                        " result_uin = $2, result_appid = $3, result = $4 WHERE state_hash = $5"
                        " AND used_at = 0",
                        SV_ARGS(SV_I64(now), SV_I64(o->uin), SV_TEXT(o->link.appid),
                                SV_TEXT(result), SV_BLOB(a->state_hash, CRYPTO_SHA256_LEN)),
                        &changes);
    if (rc == BE_OK && changes != 1)
        rc = BE_ATTEMPT_USED;
    return rc;
}

int link_attempt_mark_applied(struct store_conn *c, const struct link_attempt *a, int64_t now,
                              const struct link_outcome *o)
{
    char result[40];
    result_text(o, result, sizeof(result));
    return store_exec(c,
                      "UPDATE wechat_link_attempts SET applied_at = $1, result_uin = $2,"
                      " result_appid = $3, result = $4 WHERE state_hash = $5",
                      SV_ARGS(SV_I64(now), SV_I64(o->uin), SV_TEXT(o->link.appid), SV_TEXT(result),
                              SV_BLOB(a->state_hash, CRYPTO_SHA256_LEN)),
                      NULL);
}

int link_attempt_reload(struct store_conn *c, const struct link_attempt *a,
                        struct link_attempt *ret)
{
    struct store_result *r = NULL;
    int rc = store_query(c,
                         "SELECT " ATTEMPT_COLUMNS " FROM wechat_link_attempts"
                         " WHERE state_hash = $1",
                         SV_ARGS(SV_BLOB(a->state_hash, CRYPTO_SHA256_LEN)), &r);
    if (rc == BE_OK && !store_result_rows(r))
        rc = BE_NOT_FOUND;
    if (rc == BE_OK)
        row_to_attempt(r, ret);
    store_result_free(r);
    return rc;
}

int link_attempt_find_by_pre_auth_code(struct store_conn *c, const char *pre_auth_code, int64_t now,
                                       struct link_attempt *ret)
{
    struct store_result *r = NULL;
    if (!pre_auth_code || !*pre_auth_code)
        return BE_NOT_FOUND;
    int rc = store_query(c,
                         "SELECT " ATTEMPT_COLUMNS " FROM wechat_link_attempts"
                         " WHERE pre_auth_code = $1 AND expires_at > $2"
                         " ORDER BY created_at DESC LIMIT 1",
                         SV_ARGS(SV_TEXT(pre_auth_code), SV_I64(now)), &r);
    if (rc == BE_OK && !store_result_rows(r))
        rc = BE_NOT_FOUND;
    if (rc == BE_OK)
        row_to_attempt(r, ret);
    store_result_free(r);
    return rc;
}

int link_attempt_use_code(struct store_conn *c, const struct link_attempt *a, const char *code,
                          const char *appid, int64_t now)
{
    unsigned char hash[CRYPTO_SHA256_LEN];
    struct store_result *r = NULL;
    if (!code || !*code)
        return BE_INVALID_PARAMETER_VALUE;
    crypto_sha256(code, strlen(code), hash);
    int rc = store_query(c, "SELECT state_hash FROM wechat_auth_codes WHERE code_hash = $1",
                         SV_ARGS(SV_BLOB(hash, sizeof(hash))), &r);
    if (rc)
        goto out;
    if (!store_result_rows(r)) {
        rc = store_exec(c,
                        "INSERT INTO wechat_auth_codes (code_hash, state_hash, authorizer_appid,"
                        " used_at) VALUES ($1, $2, $3, $4)",
                        SV_ARGS(SV_BLOB(hash, sizeof(hash)),
                                a ? SV_BLOB(a->state_hash, CRYPTO_SHA256_LEN) : SV_NULL,
                                SV_TEXT(appid), SV_I64(now)),
                        NULL);
        goto out;
    }
    size_t len = 0;
    const void *prev = store_result_blob(r, 0, 0, &len);
    if (!a)
        goto out; /* a push with no attempt: the code served someone already */
    if (!prev) {
        rc = store_exec(
            c, "UPDATE wechat_auth_codes SET state_hash = $1 WHERE code_hash = $2",
            SV_ARGS(SV_BLOB(a->state_hash, CRYPTO_SHA256_LEN), SV_BLOB(hash, sizeof(hash))), NULL);
        goto out;
    }
    if (len != CRYPTO_SHA256_LEN || !crypto_equal(prev, a->state_hash, CRYPTO_SHA256_LEN))
        rc = BE_AUTH_CODE_USED;
out:
    store_result_free(r);
    return rc;
}

static int purge_fn(struct store_conn *c, void *arg)
{
    int64_t before = *(const int64_t *)arg;
    int rc = store_exec(c, "DELETE FROM wechat_link_attempts WHERE expires_at < $1",
                        SV_ARGS(SV_I64(before)), NULL);
    if (rc == BE_OK)
        rc = store_exec(c, "DELETE FROM wechat_auth_codes WHERE used_at < $1",
                        SV_ARGS(SV_I64(before)), NULL);
    return rc;
}

int link_attempt_purge(struct app *app, int64_t now)
{
    int64_t before = now - LINK_ATTEMPT_KEEP_S;
    return store_tx(app->store, purge_fn, &before);
}
