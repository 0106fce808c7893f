#include "devtools/consolelink.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "audit/audit.h"
#include "core/crypto.h"
#include "store/store.h"
#include "core/banned.h"

/* Console pages a link may open: exactly these, or below them when marked
 * as a section ("/envs/ENV"). Others add their pages here. */
static const struct {
    const char *path;
    bool section;
} allowed_pages[] = {
    {"/account", false},   {"/center", false},     {"/devices", false},      {"/envs", true},
    {"/cam/users", false}, {"/cam/groups", false}, {"/cam/policies", false}, {"/cam/keys", false},
};

static bool safe_path_chars(const char *p)
{
    for (; *p; p++) {
        char c = *p;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '/' || c == '_' || c == '.' || c == '-';
        if (!ok)
            return false;
    }
    return true;
}

int console_link_check_page(const char *page, struct be_diag *diag)
{
    size_t len = strlen(page);
    if (len == 0 || len > CONSOLE_LINK_PAGE_MAX || page[0] != '/' || page[1] == '/' ||
        !safe_path_chars(page) || strstr(page, "..") || strstr(page, "//"))
        goto refuse;
    for (size_t i = 0; i < sizeof(allowed_pages) / sizeof(allowed_pages[0]); i++) {
        const char *a = allowed_pages[i].path;
        size_t n = strlen(a);
        if (!strcmp(page, a))
            return BE_OK;
        if (allowed_pages[i].section && !strncmp(page, a, n) && page[n] == '/' && page[n + 1])
            return BE_OK;
    }
refuse:
    return be_fail(diag, BE_CONSOLE_PAGE,
                   "Page \"%.128s\" is not a console page a sign-in link may open; use a path "
                   "such as /account, /center or /devices",
                   page);
}

struct create_ctx {
    const struct req_meta *meta;
    const struct principal *who;
    const char *page;
    unsigned char hash[CRYPTO_SHA256_LEN];
    int64_t expires_at;
};

static int create_fn(struct store_conn *c, void *arg)
{
    struct create_ctx *ctx = arg;
    const struct principal *who = ctx->who;
    const int64_t now = ctx->meta->now;
    int rc = store_exec(c, "DELETE FROM console_links WHERE expires_at < $1",
                        SV_ARGS(SV_I64(now - 86400)), NULL);
    if (rc)
        return rc;
    rc = store_exec(c,
                    "INSERT INTO console_links (code_hash, owner_uin, uin, principal_kind, app_id,"
                    " dest, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                    SV_ARGS(SV_BLOB(ctx->hash, CRYPTO_SHA256_LEN), SV_I64(who->owner_uin),
                            SV_I64(who->uin), SV_TEXT(principal_kind_name(who->kind)),
                            SV_I64(who->app_id), SV_TEXT(ctx->page), SV_I64(now),
                            SV_I64(ctx->expires_at)),
                    NULL);
    if (rc)
        return rc;
    struct audit_entry e = {who->owner_uin, who->uin, "devtools:CreateConsoleLoginUrl", "success",
                            ctx->page};
    return audit_record(c, ctx->meta, &e);
}

int console_link_create(struct app *app, const struct req_meta *meta, const struct principal *who,
                        const char *page, struct buf *ret_code, int64_t *ret_expires_at,
                        struct be_diag *diag)
{
    struct buf code = BUF_INIT;
    if (!page)
        page = CONSOLE_LINK_DEFAULT_PAGE;
    int rc = console_link_check_page(page, diag);
    if (rc)
        return rc;
    struct create_ctx ctx = {
        meta, who, page, {0}, meta->now + (int64_t)app->cfg->tools_console_link_ttl};
    crypto_random_token(&code, 32);
    crypto_sha256(code.data, code.len, ctx.hash);
    if ((rc = store_tx(app->store, create_fn, &ctx)) == BE_OK) {
        buf_add(ret_code, code.data, code.len);
        *ret_expires_at = ctx.expires_at;
    }
    crypto_wipe(code.data, code.len);
    buf_release(&code);
    return rc;
}

static void link_of(const struct store_result *r, struct console_link *ret)
{
    memset(ret, 0, sizeof(*ret));
    ret->who.owner_uin = (uint64_t)store_result_i64(r, 0, 0);
    ret->who.uin = (uint64_t)store_result_i64(r, 0, 1);
    if (principal_kind_parse(store_result_text(r, 0, 2), &ret->who.kind))
        ret->who.kind = PRINCIPAL_SUB_USER;
    ret->who.app_id = (uint64_t)store_result_i64(r, 0, 3);
    snprintf(ret->dest, sizeof(ret->dest), "%s", store_result_text(r, 0, 4));
    ret->expires_at = store_result_i64(r, 0, 5);
}

static bool code_shape_ok(const char *code)
{
    return code && strlen(code) == CONSOLE_LINK_CODE_LEN;
}

struct peek_ctx {
    unsigned char hash[CRYPTO_SHA256_LEN];
    int64_t now;
    struct console_link *link;
    bool found;
};

static int peek_fn(struct store_conn *c, void *arg)
{
    struct peek_ctx *ctx = arg;
    struct store_result *r = NULL;
    int rc = store_query(c,
                         "SELECT owner_uin, uin, principal_kind, app_id, dest, expires_at"
                         " FROM console_links WHERE code_hash = $1 AND used_at = 0"
                         " AND expires_at > $2",
                         SV_ARGS(SV_BLOB(ctx->hash, CRYPTO_SHA256_LEN), SV_I64(ctx->now)), &r);
    if (rc == BE_OK && store_result_rows(r)) {
        link_of(r, ctx->link);
        ctx->found = true;
    }
    store_result_free(r);
    return rc;
}

int console_link_peek(struct app *app, const char *code, int64_t now, struct console_link *ret)
{
    struct console_link l;
    struct peek_ctx ctx = {{0}, now, &l, false};
    if (!code_shape_ok(code))
        return BE_CONSOLE_LINK_INVALID;
    crypto_sha256(code, strlen(code), ctx.hash);
    int rc = store_run(app->store, peek_fn, &ctx);
    if (rc)
        return rc;
    if (!ctx.found)
        return BE_CONSOLE_LINK_INVALID;
    *ret = l;
    return BE_OK;
}

struct redeem_ctx {
    const struct req_meta *meta;
    unsigned char hash[CRYPTO_SHA256_LEN];
    struct console_link *link;
    const char *why; /* NULL on success */
};

/* Why a link did not work, for the page and the audit row. */
static int failure_reason(struct store_conn *c, struct redeem_ctx *ctx, uint64_t *ret_owner,
                          uint64_t *ret_uin)
{
    struct store_result *r = NULL;
    int rc =
        store_query(c, "SELECT used_at, owner_uin, uin FROM console_links WHERE code_hash = $1",
                    SV_ARGS(SV_BLOB(ctx->hash, CRYPTO_SHA256_LEN)), &r);
    if (rc == BE_OK) {
        if (!store_result_rows(r)) {
            ctx->why = "unknown";
        } else {
            ctx->why = store_result_i64(r, 0, 0) ? "used" : "expired";
            *ret_owner = (uint64_t)store_result_i64(r, 0, 1);
            *ret_uin = (uint64_t)store_result_i64(r, 0, 2);
        }
    }
    store_result_free(r);
    return rc;
}

static int redeem_fn(struct store_conn *c, void *arg)
{
    struct redeem_ctx *ctx = arg;
    struct store_result *r = NULL;
    uint64_t owner = 0, uin = 0;
    ctx->why = NULL;
    int rc = store_query(c,
                         "UPDATE console_links SET used_at = $1, used_ip = $2"
                         " WHERE code_hash = $3 AND used_at = 0 AND expires_at > $1"
                         " RETURNING owner_uin, uin, principal_kind, app_id, dest, expires_at",
                         SV_ARGS(SV_I64(ctx->meta->now), SV_TEXT(ctx->meta->source_ip),
                                 SV_BLOB(ctx->hash, CRYPTO_SHA256_LEN)),
                         &r);
    if (rc)
        goto out;
    if (store_result_rows(r) == 1) {
        link_of(r, ctx->link);
        owner = ctx->link->who.owner_uin;
        uin = ctx->link->who.uin;
    } else if ((rc = failure_reason(c, ctx, &owner, &uin))) {
        goto out;
    }
    struct audit_entry e = {owner, uin, "devtools:ConsoleSignIn", ctx->why ? "failure" : "success",
                            ctx->why ? ctx->why : ctx->link->dest};
    rc = audit_record(c, ctx->meta, &e);
out:
    store_result_free(r);
    return rc;
}

int console_link_redeem(struct app *app, const struct req_meta *meta, const char *code,
                        struct console_link *ret, struct be_diag *diag)
{
    struct console_link l;
    struct redeem_ctx ctx = {meta, {0}, &l, NULL};
    if (!code_shape_ok(code)) {
        struct audit_entry e = {0, 0, "devtools:ConsoleSignIn", "failure", "unknown"};
        audit_record_now(app, meta, &e);
        return be_fail(diag, BE_CONSOLE_LINK_INVALID,
                       "unknown sign-in link; run bindery console again for a new one");
    }
    crypto_sha256(code, strlen(code), ctx.hash);
    int rc = store_tx(app->store, redeem_fn, &ctx);
    if (rc)
        return rc;
    if (ctx.why)
        return be_fail(diag, BE_CONSOLE_LINK_INVALID,
                       "%s sign-in link: a link works once, within %llu seconds; run bindery "
                       "console again for a new one",
                       ctx.why, (unsigned long long)app->cfg->tools_console_link_ttl);
    *ret = l;
    return BE_OK;
}
