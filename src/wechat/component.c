#include "wechat/component.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/crypto.h"
#include "core/mem.h"
#include "core/timeutil.h"
#include "core/banned.h"

/* Labels of the sealed values (the AAD is label, NUL, component appid[, NUL,
 * authorizer appid]). */
#define AAD_TICKET        "wechat.component_verify_ticket"
#define AAD_TOKEN         "wechat.component_access_token"
#define AAD_REFRESH_TOKEN "wechat.authorizer_refresh_token"

/* Ceiling of the failure note kept in the row (a diag, never a secret). */
#define FAILURE_NOTE_MAX 200

struct wx_component {
    struct app *app;
    struct wx_client *client; /* NULL when disabled */
    char *appid;              /* "" when disabled */
    char *secret;             /* wiped on free */
    const char *disabled;     /* a constant sentence, or NULL */
};

/* --- sealing ------------------------------------------------------------- */

static void make_aad(struct buf *aad, const char *label, const char *appid, const char *sub)
{
    buf_adds(aad, label);
    buf_addch(aad, '\0');
    buf_adds(aad, appid);
    if (sub) {
        buf_addch(aad, '\0');
        buf_adds(aad, sub);
    }
}

static void seal_str(const struct app *app, const char *label, const char *appid, const char *sub,
                     const char *plain, struct buf *out)
{
    struct buf aad = BUF_INIT;
    make_aad(&aad, label, appid, sub);
    crypto_seal(app->keys.seal, aad.data, aad.len, plain, strlen(plain), out);
    buf_release(&aad);
}

/* Opens a sealed string into dst (size bytes with the NUL). */
static int open_str(const struct app *app, const char *label, const char *appid, const char *sub,
                    const void *sealed, size_t len, char *dst, size_t size)
{
    struct buf aad = BUF_INIT, plain = BUF_INIT;
    make_aad(&aad, label, appid, sub);
    int rc = crypto_open(app->keys.seal, aad.data, aad.len, sealed, len, &plain);
    if (rc == BE_OK && (plain.len >= size || plain.len == 0 || strlen(plain.data) != plain.len))
        rc = BE_INVALID_PARAMETER;
    if (rc == BE_OK)
        memcpy(dst, plain.data, plain.len + 1);
    if (plain.cap)
        crypto_wipe(plain.data, plain.cap);
    buf_release(&plain);
    buf_release(&aad);
    return rc;
}

void wx_seal_refresh_token(const struct app *app, const char *authorizer_appid,
                           const char *refresh_token, struct buf *out)
{
    seal_str(app, AAD_REFRESH_TOKEN, app->cfg->wechat_component_appid, authorizer_appid,
             refresh_token, out);
}

int wx_open_refresh_token(const struct app *app, const char *authorizer_appid, const void *sealed,
                          size_t sealed_len, char ret[WX_TOKEN_MAX + 1])
{
    return open_str(app, AAD_REFRESH_TOKEN, app->cfg->wechat_component_appid, authorizer_appid,
                    sealed, sealed_len, ret, WX_TOKEN_MAX + 1);
}

/* --- one statement at a time ------------------------------------------------ */

struct exec_ctx {
    const char *sql;
    const struct store_val *params;
    size_t n;
    int64_t changes;
};

static int exec_fn(struct store_conn *conn, void *arg)
{
    struct exec_ctx *x = arg;
    return store_exec(conn, x->sql, x->params, x->n, &x->changes);
}

/* Runs one statement in autocommit; ret_changes (may be NULL) gets the
 * number of rows it changed. */
static int exec_one(struct store *s, const char *sql, const struct store_val *params, size_t n,
                    int64_t *ret_changes)
{
    struct exec_ctx x = {sql, params, n, 0};
    int rc = store_run(s, exec_fn, &x);
    if (rc == BE_OK && ret_changes)
        *ret_changes = x.changes;
    return rc;
}

/* --- the ticket ------------------------------------------------------------------ */

int wx_component_save_ticket(struct app *app, const char *ticket, int64_t create_time, int64_t now)
{
    const char *appid = app->cfg->wechat_component_appid;
    if (!appid[0])
        return BE_FAILED;
    if (!ticket || !ticket[0] || strnlen(ticket, WX_CODE_MAX + 1) > WX_CODE_MAX)
        return BE_INVALID_PARAMETER_VALUE;
    struct buf sealed = BUF_INIT;
    seal_str(app, AAD_TICKET, appid, NULL, ticket, &sealed);
    /* A new ticket also lifts the pause after a failed refresh: the failure
     * was most likely an expired ticket (61005). */
    int rc = exec_one(
        app->store,
        "INSERT INTO wechat_component (component_appid, ticket_sealed, ticket_time,"
        " ticket_received_at, updated_at) VALUES ($1, $2, $3, $4, $4)"
        " ON CONFLICT (component_appid) DO UPDATE SET"
        " ticket_sealed = excluded.ticket_sealed,"
        " ticket_time = excluded.ticket_time,"
        " ticket_received_at = excluded.ticket_received_at,"
        " refresh_failed_at = 0, updated_at = excluded.updated_at"
        " WHERE wechat_component.ticket_time <= excluded.ticket_time",
        SV_ARGS(SV_TEXT(appid), SV_BLOB(sealed.data, sealed.len), SV_I64(create_time), SV_I64(now)),
        NULL);
    buf_release(&sealed);
    return rc;
}

struct status_ctx {
    const char *appid;
    struct wx_component_status st;
};

static int status_fn(struct store_conn *conn, void *arg)
{
    struct status_ctx *x = arg;
    struct store_result *r = NULL;
    int rc = store_query(conn,
                         "SELECT CASE WHEN ticket_sealed IS NULL THEN 0 ELSE 1 END,"
                         " ticket_time, ticket_received_at,"
                         " CASE WHEN token_sealed IS NULL THEN 0 ELSE 1 END,"
                         " token_expires_at, token_generation"
                         " FROM wechat_component WHERE component_appid = $1",
                         SV_ARGS(SV_TEXT(x->appid)), &r);
    if (rc == BE_OK && store_result_rows(r)) {
        x->st.has_ticket = store_result_i64(r, 0, 0) != 0;
        x->st.ticket_create_time = store_result_i64(r, 0, 1);
        x->st.ticket_received_at = store_result_i64(r, 0, 2);
        x->st.has_token = store_result_i64(r, 0, 3) != 0;
        x->st.token_expires_at = x->st.has_token ? store_result_i64(r, 0, 4) : 0;
        x->st.token_generation = store_result_i64(r, 0, 5);
    }
    store_result_free(r);
    return rc;
}

int wx_component_status(struct app *app, struct wx_component_status *ret)
{
    struct status_ctx x;
    memset(&x, 0, sizeof(x));
    x.appid = app->cfg->wechat_component_appid;
    int rc = x.appid[0] ? store_run(app->store, status_fn, &x) : BE_OK;
    if (rc == BE_OK)
        *ret = x.st;
    return rc;
}

/* --- construction ------------------------------------------------------------------ */

int wx_component_new(struct app *app, const struct wx_client_options *client_opts,
                     struct wx_component **ret_component, struct be_diag *diag)
{
    const struct config *cfg = app->cfg;
    struct wx_client_options o;
    memset(&o, 0, sizeof(o));
    if (client_opts)
        o = *client_opts;
    o.base_url = cfg->wechat_api_base_url;
    if (strlen(cfg->wechat_component_appid) > WX_APPID_MAX)
        return be_fail(diag, BE_INVALID_PARAMETER,
                       "wechat.component_appid is longer than %d characters", WX_APPID_MAX);
    if (strlen(cfg->wechat_component_appsecret) > WX_SECRET_MAX)
        return be_fail(diag, BE_INVALID_PARAMETER,
                       "wechat.component_appsecret is longer than %d characters", WX_SECRET_MAX);
    struct wx_component *c = xcalloc(1, sizeof(*c));
    c->app = app;
    if (!cfg->wechat_component_appid[0])
        c->disabled = "no WeChat component is configured: wechat.component_appid is empty";
    else if (!cfg->wechat_component_appsecret[0])
        c->disabled = "the WeChat component is not usable: wechat.component_appsecret is empty";
    c->appid = xstrdup(c->disabled ? "" : cfg->wechat_component_appid);
    c->secret = xstrdup(c->disabled ? "" : cfg->wechat_component_appsecret);
    int rc = c->disabled ? BE_OK : wx_client_new(&o, &c->client, diag);
    if (rc) {
        wx_component_free(c);
        return rc;
    }
    *ret_component = c;
    return BE_OK;
}

void wx_component_free(struct wx_component *c)
{
    if (!c)
        return;
    wx_client_free(c->client);
    if (c->secret)
        crypto_wipe(c->secret, strlen(c->secret));
    free(c->secret);
    free(c->appid);
    free(c);
}

const char *wx_component_disabled_reason(const struct wx_component *c)
{
    return c->disabled;
}

const char *wx_component_appid(const struct wx_component *c)
{
    return c->appid;
}

/* --- the refresh decision ---------------------------------------------------------- */

enum wx_token_action wx_token_decide(const struct wx_token_state *st, int64_t now,
                                     int64_t stale_generation, int64_t started)
{
    int64_t left = st->expires_at - now;
    bool usable =
        st->has_token && st->generation != stale_generation && left >= WX_COMPONENT_MIN_LEFT;
    if (usable && left > WX_COMPONENT_REFRESH_AHEAD)
        return WX_TOKEN_USE;
    if (st->lease_until > now)
        return usable ? WX_TOKEN_USE : WX_TOKEN_WAIT;
    bool failed = st->failed_at > 0 &&
                  (st->failed_at >= started || now - st->failed_at < WX_COMPONENT_RETRY_AFTER);
    if (!st->has_ticket || failed)
        return usable ? WX_TOKEN_USE : WX_TOKEN_FAIL;
    return WX_TOKEN_REFRESH;
}

/* --- the token row ---------------------------------------------------------------- */

/* The row of this component, opened. */
struct row {
    bool exists;
    struct wx_token_state st;
    char ticket[WX_CODE_MAX + 1];
    char token[WX_TOKEN_MAX + 1];
    long failed_errcode;
    char failed_note[FAILURE_NOTE_MAX + 1];
};

struct read_ctx {
    const struct wx_component *c;
    struct row *row;
};

static void row_fill(const struct wx_component *c, const struct store_result *r, struct row *row)
{
    size_t len;
    const void *blob = store_result_blob(r, 0, 0, &len);
    row->st.has_ticket = blob && open_str(c->app, AAD_TICKET, c->appid, NULL, blob, len,
                                          row->ticket, sizeof(row->ticket)) == BE_OK;
    blob = store_result_blob(r, 0, 1, &len);
    row->st.has_token = blob && open_str(c->app, AAD_TOKEN, c->appid, NULL, blob, len, row->token,
                                         sizeof(row->token)) == BE_OK;
    row->st.expires_at = store_result_i64(r, 0, 2);
    row->st.generation = store_result_i64(r, 0, 3);
    row->st.lease_until = store_result_i64(r, 0, 4);
    row->st.failed_at = store_result_i64(r, 0, 5);
    row->failed_errcode = (long)store_result_i64(r, 0, 6);
    const char *note = store_result_text(r, 0, 7);
    snprintf(row->failed_note, sizeof(row->failed_note), "%s", note ? note : "");
}

static int read_fn(struct store_conn *conn, void *arg)
{
    struct read_ctx *x = arg;
    struct store_result *r = NULL;
    int rc = store_query(conn,
                         "SELECT ticket_sealed, token_sealed, token_expires_at, token_generation,"
                         " refresh_until, refresh_failed_at, refresh_errcode, refresh_error"
                         " FROM wechat_component WHERE component_appid = $1",
                         SV_ARGS(SV_TEXT(x->c->appid)), &r);
    memset(x->row, 0, sizeof(*x->row));
    if (rc == BE_OK && store_result_rows(r)) {
        x->row->exists = true;
        row_fill(x->c, r, x->row);
    }
    store_result_free(r);
    return rc;
}

static int read_row(const struct wx_component *c, struct row *row)
{
    struct read_ctx x = {c, row};
    return store_run(c->app->store, read_fn, &x);
}

/* Takes the refresh lease if the row still has generation gen and nobody
 * holds the lease. */
static int claim(const struct wx_component *c, int64_t gen, int64_t now, const char *owner,
                 bool *ret_won)
{
    int64_t changes = 0;
    int rc = exec_one(c->app->store,
                      "UPDATE wechat_component SET refresh_owner = $1, refresh_until = $2"
                      " WHERE component_appid = $3 AND token_generation = $4"
                      " AND refresh_until <= $5",
                      SV_ARGS(SV_TEXT(owner), SV_I64(now + WX_COMPONENT_REFRESH_LEASE),
                              SV_TEXT(c->appid), SV_I64(gen), SV_I64(now)),
                      &changes);
    if (rc == BE_OK)
        *ret_won = changes == 1;
    return rc;
}

/* Drops the lease and notes the failure, so that waiters report it. */
static void record_failure(const struct wx_component *c, const char *owner, int64_t now,
                           const struct wx_result *res, const struct be_diag *d)
{
    char note[FAILURE_NOTE_MAX + 1];
    snprintf(note, sizeof(note), "%.*s", FAILURE_NOTE_MAX, d->msg);
    /* Best effort: if this fails too, the lease runs out by itself. */
    (void)exec_one(c->app->store,
                   "UPDATE wechat_component SET refresh_owner = NULL, refresh_until = 0,"
                   " refresh_failed_at = $1, refresh_errcode = $2, refresh_error = $3,"
                   " updated_at = $1 WHERE component_appid = $4 AND refresh_owner = $5",
                   SV_ARGS(SV_I64(now), SV_I64(res->errcode), SV_TEXT(note), SV_TEXT(c->appid),
                           SV_TEXT(owner)),
                   NULL);
}

/* Stores a new token under the lease. Losing the lease meanwhile (a refresh
 * slower than WX_COMPONENT_REFRESH_LEASE) is not an error: the token is
 * valid, only another one may be stored. */
static int store_token(const struct wx_component *c, const char *owner, const struct wx_token *t,
                       int64_t now)
{
    struct buf sealed = BUF_INIT;
    seal_str(c->app, AAD_TOKEN, c->appid, NULL, t->value, &sealed);
    int rc =
        exec_one(c->app->store,
                 "UPDATE wechat_component SET token_sealed = $1, token_expires_at = $2,"
                 " token_generation = $3, refresh_owner = NULL, refresh_until = 0,"
                 " refresh_failed_at = 0, refresh_errcode = 0, refresh_error = NULL,"
                 " updated_at = $4 WHERE component_appid = $5 AND refresh_owner = $6",
                 SV_ARGS(SV_BLOB(sealed.data, sealed.len), SV_I64(t->expires_at),
                         SV_I64(t->generation), SV_I64(now), SV_TEXT(c->appid), SV_TEXT(owner)),
                 NULL);
    buf_release(&sealed);
    return rc;
}

/* Under the lease: gets a new token from WeChat with the row's ticket. */
static int refresh(const struct wx_component *c, const struct row *row, const char *owner,
                   struct wx_token *ret, struct wx_result *res, struct be_diag *diag)
{
    struct wx_component_token fresh;
    struct be_diag d = {""};
    int64_t t0 = time_now();
    int rc =
        wx_client_component_token(c->client, c->appid, c->secret, row->ticket, &fresh, res, &d);
    if (rc) {
        record_failure(c, owner, time_now(), res, &d);
        if (diag)
            *diag = d;
        return rc;
    }
    struct wx_token t;
    memcpy(t.value, fresh.access_token, sizeof(t.value));
    /* Counted from before the call, so that the expiry is never late. */
    t.expires_at = t0 + fresh.expires_in;
    t.generation = row->st.generation + 1;
    crypto_wipe(&fresh, sizeof(fresh));
    rc = store_token(c, owner, &t, time_now());
    if (rc == BE_OK)
        *ret = t;
    crypto_wipe(&t, sizeof(t));
    return rc;
}

static int report_failure(const struct wx_component *c, const struct row *row,
                          struct wx_result *res, struct be_diag *diag)
{
    if (!row->st.has_ticket)
        return be_fail(diag, BE_UPSTREAM,
                       "no usable component_verify_ticket for %s yet: WeChat pushes one every "
                       "10 minutes to POST /wechat/events (api_start_push_ticket asks for one)",
                       c->appid);
    res->errcode = row->failed_errcode;
    res->kind = row->failed_errcode ? WX_FAIL_ERRCODE : WX_FAIL_NETWORK;
    return be_fail(diag, row->failed_errcode ? wx_errcode_to_be(row->failed_errcode) : BE_UPSTREAM,
                   "refreshing the component token failed: %s", row->failed_note);
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) == -1)
        ;
}

/* One look at the row: hands out, refreshes, fails, or asks to wait
 * (returns 1). */
static int token_step(struct wx_component *c, struct row *row, int64_t stale_gen, int64_t started,
                      struct wx_token *ret, struct wx_result *res, struct be_diag *diag)
{
    int rc = read_row(c, row);
    if (rc)
        return rc;
    int64_t now = time_now();
    switch (wx_token_decide(&row->st, now, stale_gen, started)) {
    case WX_TOKEN_USE:
        memcpy(ret->value, row->token, sizeof(ret->value));
        ret->expires_at = row->st.expires_at;
        ret->generation = row->st.generation;
        return BE_OK;
    case WX_TOKEN_FAIL:
        return report_failure(c, row, res, diag);
    case WX_TOKEN_REFRESH: {
        char owner[37];
        bool won = false;
        crypto_uuid4(owner);
        rc = claim(c, row->st.generation, now, owner, &won);
        if (rc || won)
            return rc ? rc : refresh(c, row, owner, ret, res, diag);
        break; /* someone else took it: wait for their token */
    }
    case WX_TOKEN_WAIT:
        break;
    }
    if (now - started >= WX_COMPONENT_WAIT_MAX)
        return be_fail(diag, BE_UPSTREAM,
                       "gave up after %d s waiting for another refresh of the component token",
                       WX_COMPONENT_WAIT_MAX);
    sleep_ms(WX_COMPONENT_POLL_MS);
    return 1;
}

int wx_component_token(struct wx_component *c, const struct wx_token *stale, struct wx_token *ret,
                       struct wx_result *res, struct be_diag *diag)
{
    struct wx_result local;
    res = res ? res : &local;
    wx_result_clear(res);
    if (c->disabled)
        return be_fail(diag, BE_FAILED, "%s", c->disabled);
    struct row *row = xmalloc(sizeof(*row));
    int64_t started = time_now();
    int rc;
    while ((rc = token_step(c, row, stale ? stale->generation : -1, started, ret, res, diag)) == 1)
        ;
    crypto_wipe(row, sizeof(*row));
    free(row);
    return rc;
}

/* --- calls with the retry-once rule ------------------------------------------------- */

typedef int (*token_call_fn)(struct wx_component *c, const char *token, void *args,
                             struct wx_result *res, struct be_diag *diag);

static int with_token(struct wx_component *c, token_call_fn fn, void *args, struct wx_result *res,
                      struct be_diag *diag)
{
    struct wx_result local;
    struct wx_token tok, fresh;
    res = res ? res : &local;
    memset(&tok, 0, sizeof(tok));
    memset(&fresh, 0, sizeof(fresh));
    int rc = wx_component_token(c, NULL, &tok, res, diag);
    if (rc)
        goto out;
    rc = fn(c, tok.value, args, res, diag);
    if (rc && res->kind == WX_FAIL_ERRCODE && wx_errcode_is_token_error(res->errcode)) {
        rc = wx_component_token(c, &tok, &fresh, res, diag);
        if (rc == BE_OK) {
            rc = fn(c, fresh.value, args, res, diag);
            res->token_refreshed = true;
        }
    }
out:
    crypto_wipe(&tok, sizeof(tok));
    crypto_wipe(&fresh, sizeof(fresh));
    return rc;
}

static int call_preauthcode(struct wx_component *c, const char *token, void *args,
                            struct wx_result *res, struct be_diag *diag)
{
    return wx_client_create_preauthcode(c->client, token, c->appid, args, res, diag);
}

int wx_component_create_preauthcode(struct wx_component *c, struct wx_preauthcode *ret,
                                    struct wx_result *res, struct be_diag *diag)
{
    return with_token(c, call_preauthcode, ret, res, diag);
}

struct query_auth_args {
    const char *code;
    struct wx_authorization *ret;
};

static int call_query_auth(struct wx_component *c, const char *token, void *args,
                           struct wx_result *res, struct be_diag *diag)
{
    struct query_auth_args *a = args;
    return wx_client_query_auth(c->client, token, c->appid, a->code, a->ret, res, diag);
}

int wx_component_query_auth(struct wx_component *c, const char *authorization_code,
                            struct wx_authorization *ret, struct wx_result *res,
                            struct be_diag *diag)
{
    struct query_auth_args a = {authorization_code, ret};
    return with_token(c, call_query_auth, &a, res, diag);
}

struct authorizer_token_args {
    const char *appid;
    const char *refresh_token;
    struct wx_authorizer_token *ret;
};

static int call_authorizer_token(struct wx_component *c, const char *token, void *args,
                                 struct wx_result *res, struct be_diag *diag)
{
    struct authorizer_token_args *a = args;
    return wx_client_authorizer_token(c->client, token, c->appid, a->appid, a->refresh_token,
                                      a->ret, res, diag);
}

int wx_component_authorizer_token(struct wx_component *c, const char *authorizer_appid,
                                  const char *authorizer_refresh_token,
                                  struct wx_authorizer_token *ret, struct wx_result *res,
                                  struct be_diag *diag)
{
    struct authorizer_token_args a = {authorizer_appid, authorizer_refresh_token, ret};
    return with_token(c, call_authorizer_token, &a, res, diag);
}

struct authorizer_info_args {
    const char *appid;
    struct wx_authorizer_info *ret;
};

static int call_authorizer_info(struct wx_component *c, const char *token, void *args,
                                struct wx_result *res, struct be_diag *diag)
{
    struct authorizer_info_args *a = args;
    return wx_client_get_authorizer_info(c->client, token, c->appid, a->appid, a->ret, res, diag);
}

int wx_component_get_authorizer_info(struct wx_component *c, const char *authorizer_appid,
                                     struct wx_authorizer_info *ret, struct wx_result *res,
                                     struct be_diag *diag)
{
    struct authorizer_info_args a = {authorizer_appid, ret};
    return with_token(c, call_authorizer_info, &a, res, diag);
}

struct authorizer_list_args {
    int64_t offset;
    unsigned count;
    struct wx_authorizer_list *ret;
};

static int call_authorizer_list(struct wx_component *c, const char *token, void *args,
                                struct wx_result *res, struct be_diag *diag)
{
    struct authorizer_list_args *a = args;
    return wx_client_get_authorizer_list(c->client, token, c->appid, a->offset, a->count, a->ret,
                                         res, diag);
}

int wx_component_get_authorizer_list(struct wx_component *c, int64_t offset, unsigned count,
                                     struct wx_authorizer_list *ret, struct wx_result *res,
                                     struct be_diag *diag)
{
    struct authorizer_list_args a = {offset, count, ret};
    return with_token(c, call_authorizer_list, &a, res, diag);
}

int wx_component_start_push_ticket(struct wx_component *c, struct wx_result *res,
                                   struct be_diag *diag)
{
    struct wx_result local;
    res = res ? res : &local;
    wx_result_clear(res);
    if (c->disabled)
        return be_fail(diag, BE_FAILED, "%s", c->disabled);
    return wx_client_start_push_ticket(c->client, c->appid, c->secret, res, diag);
}
