#include "account/account.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "account/throttle.h"
#include "audit/audit.h"
#include "core/buf.h"
#include "core/crypto.h"
#include "core/log.h"
#include "core/banned.h"

#define ID_ATTEMPTS 16

int account_normalize_email(const char *email, char *out, struct be_diag *diag)
{
    size_t len;
    if (!email)
        return be_fail(diag, BE_MISSING_PARAMETER, "Email is required");
    while (*email == ' ' || *email == '\t')
        email++;
    len = strlen(email);
    while (len && (email[len - 1] == ' ' || email[len - 1] == '\t'))
        len--;
    if (len == 0 || len > ACCOUNT_EMAIL_MAX)
        return be_fail(diag, BE_INVALID_PARAMETER_VALUE,
                       "Email must be 1 to %d characters", ACCOUNT_EMAIL_MAX);
    const char *at = memchr(email, '@', len);
    if (!at || at == email || memchr(at + 1, '@', len - (size_t)(at - email) - 1) ||
        !memchr(at + 1, '.', len - (size_t)(at - email) - 1) || email[len - 1] == '.' ||
        at[1] == '.')
        return be_fail(diag, BE_INVALID_PARAMETER_VALUE, "Email is not a valid address");
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)email[i];
        if (ch <= ' ' || ch == 0x7f || ch == '"' || ch == '<' || ch == '>' || ch == '\\')
            return be_fail(diag, BE_INVALID_PARAMETER_VALUE,
                           "Email contains a character that is not allowed");
        out[i] = (char)tolower(ch);
    }
    out[len] = '\0';
    return BE_OK;
}

/* Counts UTF-8 code points; -1 when s is not valid UTF-8. */
static long utf8_length(const char *s)
{
    long n = 0;
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        int extra = *p < 0x80 ? 0 : (*p & 0xe0) == 0xc0 ? 1 : (*p & 0xf0) == 0xe0 ? 2
                                : (*p & 0xf8) == 0xf0   ? 3
                                                        : -1;
        if (extra < 0 || (extra == 1 && *p < 0xc2))
            return -1;
        p++;
        for (int i = 0; i < extra; i++, p++)
            if ((*p & 0xc0) != 0x80)
                return -1;
        n++;
    }
    return n;
}

int account_check_password(const char *password, const char *email, struct be_diag *diag)
{
    if (!password || !*password)
        return be_fail(diag, BE_MISSING_PARAMETER, "Password is required");
    if (strlen(password) > ACCOUNT_PASSWORD_MAX)
        return be_fail(diag, BE_PASSWORD_RULES, "Password must be at most %d bytes",
                       ACCOUNT_PASSWORD_MAX);
    long chars = utf8_length(password);
    if (chars < 0)
        return be_fail(diag, BE_PASSWORD_RULES, "Password is not valid UTF-8");
    if (chars < ACCOUNT_PASSWORD_MIN)
        return be_fail(diag, BE_PASSWORD_RULES, "Password must be at least %d characters",
                       ACCOUNT_PASSWORD_MIN);
    if (email && !strcasecmp(password, email))
        return be_fail(diag, BE_PASSWORD_RULES, "Password must not be the email address");
    return BE_OK;
}

static void row_to_account(const struct store_result *r, struct account *a)
{
    memset(a, 0, sizeof(*a));
    a->uin = (uint64_t)store_result_i64(r, 0, 0);
    a->app_id = (uint64_t)store_result_i64(r, 0, 1);
    const char *email = store_result_text(r, 0, 2);
    snprintf(a->email, sizeof(a->email), "%s", email ? email : "");
    const char *via = store_result_text(r, 0, 3);
    snprintf(a->registered_via, sizeof(a->registered_via), "%s", via ? via : "email");
    a->created_at = store_result_i64(r, 0, 4);
    const char *appid = store_result_text(r, 0, 5), *type = store_result_text(r, 0, 6);
    snprintf(a->registered_appid, sizeof(a->registered_appid), "%s", appid ? appid : "");
    snprintf(a->registered_app_type, sizeof(a->registered_app_type), "%s", type ? type : "");
}

#define ACCOUNT_COLUMNS                                                                            \
    "uin, app_id, email, registered_via, created_at, registered_appid, registered_app_type"

struct signup_ctx {
    const struct req_meta *meta;
    const char *email;
    const char *hash;
    struct account acct;
};

static int signup_fn(struct store_conn *c, void *arg)
{
    struct signup_ctx *ctx = arg;
    struct store_result *r = NULL;
    int rc = store_query(c, "SELECT 1 FROM accounts WHERE email = $1",
                         SV_ARGS(SV_TEXT(ctx->email)), &r);
    bool taken = rc == BE_OK && store_result_rows(r) > 0;
    store_result_free(r);
    if (rc)
        return rc;
    if (taken)
        return BE_EMAIL_IN_USE;
    for (int attempt = 0; attempt < ID_ATTEMPTS; attempt++) {
        uint64_t uin = crypto_random_range(ACCOUNT_UIN_MIN, ACCOUNT_UIN_MAX);
        uint64_t app_id = crypto_random_range(ACCOUNT_APPID_MIN, ACCOUNT_APPID_MAX);
        /* ON CONFLICT DO NOTHING: an ID collision must not abort the
         * transaction (PostgreSQL would), it just draws again. */
        int64_t changed = 0;
        rc = store_exec(c,
                        "INSERT INTO accounts (uin, app_id, email, password_hash,"
                        " registered_via, created_at) VALUES ($1, $2, $3, $4, 'email', $5)"
                        " ON CONFLICT DO NOTHING",
                        SV_ARGS(SV_I64(uin), SV_I64(app_id), SV_TEXT(ctx->email),
                                SV_TEXT(ctx->hash), SV_I64(ctx->meta->now)),
                        &changed);
        if (rc)
            return rc;
        if (changed == 1) {
            ctx->acct.uin = uin;
            ctx->acct.app_id = app_id;
            snprintf(ctx->acct.email, sizeof(ctx->acct.email), "%s", ctx->email);
            snprintf(ctx->acct.registered_via, sizeof(ctx->acct.registered_via), "email");
            ctx->acct.created_at = ctx->meta->now;
            struct audit_entry e = {uin, uin, "account.signup", "success", NULL};
            return audit_record(c, ctx->meta, &e);
        }
        /* Nothing inserted: the email was taken meanwhile, or an ID collided. */
        rc = store_query(c, "SELECT 1 FROM accounts WHERE email = $1",
                         SV_ARGS(SV_TEXT(ctx->email)), &r);
        taken = rc == BE_OK && store_result_rows(r) > 0;
        store_result_free(r);
        if (rc)
            return rc;
        if (taken)
            return BE_EMAIL_IN_USE;
    }
    log_error("account: no free account ID after %d attempts", ID_ATTEMPTS);
    return BE_INTERNAL;
}

int account_signup(struct app *app, const struct req_meta *meta, const char *email,
                   const char *password, struct account *ret, struct be_diag *diag)
{
    char norm[ACCOUNT_EMAIL_MAX + 1];
    struct buf hash = BUF_INIT;
    int rc = account_normalize_email(email, norm, diag);
    if (rc)
        return rc;
    if ((rc = account_check_password(password, norm, diag)))
        return rc;
    if ((rc = crypto_pwhash_hash(app->pwhash, password, &hash)))
        goto out;
    struct signup_ctx ctx = {.meta = meta, .email = norm, .hash = hash.data};
    rc = store_tx(app->store, signup_fn, &ctx);
    if (rc == BE_EMAIL_IN_USE)
        be_fail(diag, rc, "the email %s is already registered; sign in instead", norm);
    if (rc == BE_OK)
        *ret = ctx.acct;
out:
    buf_release(&hash);
    return rc;
}

struct lookup_ctx {
    const char *email;
    uint64_t uin;
    struct account acct;
    char hash[256];
    bool found;
};

static int lookup_fn(struct store_conn *c, void *arg)
{
    struct lookup_ctx *ctx = arg;
    struct store_result *r = NULL;
    int rc = ctx->email
                 ? store_query(c,
                               "SELECT " ACCOUNT_COLUMNS ", password_hash FROM accounts"
                               " WHERE email = $1",
                               SV_ARGS(SV_TEXT(ctx->email)), &r)
                 : store_query(c,
                               "SELECT " ACCOUNT_COLUMNS ", password_hash FROM accounts"
                               " WHERE uin = $1",
                               SV_ARGS(SV_I64(ctx->uin)), &r);
    if (rc == BE_OK && store_result_rows(r)) {
        row_to_account(r, &ctx->acct);
        const char *h = store_result_text(r, 0, 7);
        snprintf(ctx->hash, sizeof(ctx->hash), "%s", h ? h : "");
        ctx->found = true;
    }
    store_result_free(r);
    return rc;
}

int account_get(struct app *app, uint64_t uin, struct account *ret)
{
    struct lookup_ctx ctx = {.uin = uin};
    int rc = store_run(app->store, lookup_fn, &ctx);
    crypto_wipe(ctx.hash, sizeof(ctx.hash));
    if (rc)
        return rc;
    if (!ctx.found)
        return BE_NOT_FOUND;
    *ret = ctx.acct;
    return BE_OK;
}

static void throttle_rules(const struct config *cfg, struct throttle_rule *acct,
                           struct throttle_rule *ip)
{
    acct->limit = cfg->login_max_failures;
    acct->base_delay = cfg->login_base_delay;
    acct->max_delay = cfg->login_max_delay;
    /* Many people can share one address (an office, a NAT): allow it more. */
    *ip = *acct;
    ip->limit = cfg->login_max_failures * 4;
}

static int login_throttled(struct app *app, const struct req_meta *meta, const char *acct_key,
                           const char *ip_key, int64_t *ret_retry_after, struct be_diag *diag)
{
    int64_t wait_acct = 0, wait_ip = 0;
    int rc = throttle_check(app, acct_key, meta->now, &wait_acct);
    if (rc && rc != BE_LOGIN_THROTTLED)
        return rc;
    int rc_ip = throttle_check(app, ip_key, meta->now, &wait_ip);
    if (rc_ip && rc_ip != BE_LOGIN_THROTTLED)
        return rc_ip;
    if (rc == BE_OK && rc_ip == BE_OK)
        return BE_OK;
    int64_t wait = wait_acct > wait_ip ? wait_acct : wait_ip;
    *ret_retry_after = wait;
    return be_fail(diag, BE_LOGIN_THROTTLED,
                   "too many failed logins; retry in %lld seconds", (long long)wait);
}

int account_login(struct app *app, const struct req_meta *meta, const char *email,
                  const char *password, struct account *ret, int64_t *ret_retry_after,
                  struct be_diag *diag)
{
    char norm[ACCOUNT_EMAIL_MAX + 1];
    struct buf acct_key = BUF_INIT, ip_key = BUF_INIT;
    struct throttle_rule acct_rule, ip_rule;
    struct lookup_ctx ctx = {0};
    int rc = account_normalize_email(email, norm, diag);
    if (rc)
        return rc;
    if (!password || !*password)
        return be_fail(diag, BE_MISSING_PARAMETER, "Password is required");
    if (strlen(password) > ACCOUNT_PASSWORD_MAX)
        return be_fail(diag, BE_LOGIN_FAILED, "wrong email or password");
    throttle_rules(app->cfg, &acct_rule, &ip_rule);
    buf_addf(&acct_key, "acct:%s", norm);
    buf_addf(&ip_key, "ip:%s", meta->source_ip ? meta->source_ip : "none");
    if ((rc = login_throttled(app, meta, acct_key.data, ip_key.data, ret_retry_after, diag)))
        goto out;

    ctx.email = norm;
    if ((rc = store_run(app->store, lookup_fn, &ctx)))
        goto out;
    if (ctx.found && ctx.hash[0]) {
        rc = crypto_pwhash_verify(app->pwhash, ctx.hash, password);
    } else {
        crypto_pwhash_verify_dummy(app->pwhash, password);
        rc = BE_LOGIN_FAILED;
    }
    if (rc == BE_LOGIN_FAILED) {
        throttle_fail(app, acct_key.data, &acct_rule, meta->now);
        throttle_fail(app, ip_key.data, &ip_rule, meta->now);
        struct audit_entry e = {ctx.found ? ctx.acct.uin : 0, ctx.found ? ctx.acct.uin : 0,
                                "account.login", "failure",
                                ctx.found ? "wrong password" : "unknown email"};
        audit_record_now(app, meta, &e);
        be_fail(diag, rc, "wrong email or password");
        goto out;
    }
    if (rc)
        goto out;
    throttle_reset(app, acct_key.data);
    struct audit_entry e = {ctx.acct.uin, ctx.acct.uin, "account.login", "success", "password"};
    if ((rc = audit_record_now(app, meta, &e)))
        goto out;
    *ret = ctx.acct;
out:
    crypto_wipe(ctx.hash, sizeof(ctx.hash));
    buf_release(&acct_key);
    buf_release(&ip_key);
    return rc;
}

int account_create_wechat(struct store_conn *c, const struct req_meta *meta, const char *appid,
                          const char *app_type, struct account *ret)
{
    if (!appid || !*appid || strlen(appid) >= sizeof(ret->registered_appid) || !app_type ||
        (strcmp(app_type, "mp") && strcmp(app_type, "oa")))
        return BE_INVALID_PARAMETER_VALUE;
    for (int attempt = 0; attempt < ID_ATTEMPTS; attempt++) {
        uint64_t uin = crypto_random_range(ACCOUNT_UIN_MIN, ACCOUNT_UIN_MAX);
        uint64_t app_id = crypto_random_range(ACCOUNT_APPID_MIN, ACCOUNT_APPID_MAX);
        int64_t changed = 0;
        /* ON CONFLICT DO NOTHING: an ID collision draws again (see signup). */
        int rc = store_exec(c,
                            "INSERT INTO accounts (uin, app_id, email, password_hash,"
                            " registered_via, registered_appid, registered_app_type, created_at)"
                            " VALUES ($1, $2, NULL, NULL, 'wechat', $3, $4, $5)"
                            " ON CONFLICT DO NOTHING",
                            SV_ARGS(SV_I64(uin), SV_I64(app_id), SV_TEXT(appid),
                                    SV_TEXT(app_type), SV_I64(meta->now)),
                            &changed);
        if (rc)
            return rc;
        if (changed != 1)
            continue;
        struct account a;
        memset(&a, 0, sizeof(a));
        a.uin = uin;
        a.app_id = app_id;
        snprintf(a.registered_via, sizeof(a.registered_via), "wechat");
        snprintf(a.registered_appid, sizeof(a.registered_appid), "%s", appid);
        snprintf(a.registered_app_type, sizeof(a.registered_app_type), "%s", app_type);
        a.created_at = meta->now;
        *ret = a;
        return BE_OK;
    }
    log_error("account: no free account ID after %d attempts", ID_ATTEMPTS);
    return BE_INTERNAL;
}

int account_lock(struct store_conn *c, uint64_t uin, struct account *ret)
{
    struct store_result *r = NULL;
    int64_t changed = 0;
    /* A no-op UPDATE is the portable row lock (SQLite has no FOR UPDATE;
     * its BEGIN IMMEDIATE already serialises writers). */
    int rc = store_exec(c, "UPDATE accounts SET uin = uin WHERE uin = $1", SV_ARGS(SV_I64(uin)),
                        &changed);
    if (rc)
        return rc;
    if (changed != 1)
        return BE_NOT_FOUND;
    rc = store_query(c, "SELECT " ACCOUNT_COLUMNS " FROM accounts WHERE uin = $1",
                     SV_ARGS(SV_I64(uin)), &r);
    if (rc == BE_OK && !store_result_rows(r))
        rc = BE_NOT_FOUND;
    if (rc == BE_OK)
        row_to_account(r, ret);
    store_result_free(r);
    return rc;
}
