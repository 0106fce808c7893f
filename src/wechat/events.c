#include "wechat/events.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"
#include "core/crypto.h"
#include "core/mem.h"
#include "core/parse.h"
#include "core/timeutil.h"
#include "wechat/component.h"
#include "wechat/msgcrypt.h"
#include "core/banned.h"

#define AAD_AUTH_CODE "wechat.authorization_code"
#define AUDIT_ACTION  "wechat.push"

struct wechat_events {
    struct app *app;
    struct wx_msgcrypt *mc; /* NULL when disabled */
    const char *disabled;   /* a constant sentence, or NULL */
};

/* --- construction ---------------------------------------------------------- */

static const char *missing_key(const struct config *cfg)
{
    if (!cfg->wechat_component_appid[0])
        return "no WeChat component is configured: wechat.component_appid is empty";
    if (!cfg->wechat_token[0])
        return "the WeChat event receiver is not configured: wechat.token is empty";
    if (!cfg->wechat_encoding_aes_key[0])
        return "the WeChat event receiver is not configured: wechat.encoding_aes_key is empty";
    return NULL;
}

int wechat_events_new(struct app *app, struct wechat_events **ret_events, struct be_diag *diag)
{
    const struct config *cfg = app->cfg;
    struct be_diag d = {""};
    struct wechat_events *ev = xcalloc(1, sizeof(*ev));
    ev->app = app;
    ev->disabled = missing_key(cfg);
    if (!ev->disabled && wx_msgcrypt_new(cfg->wechat_token, cfg->wechat_encoding_aes_key,
                                         cfg->wechat_previous_encoding_aes_key,
                                         cfg->wechat_component_appid, &ev->mc, &d)) {
        free(ev);
        return be_fail(diag, BE_INVALID_PARAMETER,
                       "wechat configuration (wechat.token, wechat.encoding_aes_key, "
                       "wechat.previous_encoding_aes_key, wechat.component_appid): %s",
                       d.msg);
    }
    *ret_events = ev;
    return BE_OK;
}

void wechat_events_free(struct wechat_events *ev)
{
    if (!ev)
        return;
    wx_msgcrypt_free(ev->mc);
    free(ev);
}

const char *wechat_events_disabled_reason(const struct wechat_events *ev)
{
    return ev->disabled;
}

const char *wechat_push_outcome_name(enum wechat_push_outcome outcome)
{
    switch (outcome) {
    case WECHAT_PUSH_TICKET:
        return "ticket";
    case WECHAT_PUSH_STORED:
        return "stored";
    case WECHAT_PUSH_DUPLICATE:
        return "duplicate";
    case WECHAT_PUSH_IGNORED:
        return "ignored";
    }
    return "unknown";
}

/* --- checks before decrypting ------------------------------------------------ */

static int check_params(const struct wechat_push *p, struct be_diag *d)
{
    if (p->body_len > WECHAT_EVENTS_MAX_BODY)
        return be_fail(d, BE_BODY_TOO_LARGE, "the body is over %d bytes", WECHAT_EVENTS_MAX_BODY);
    if (!p->msg_signature || !p->msg_signature[0])
        return be_fail(d, BE_MISSING_PARAMETER, "msg_signature is missing");
    if (!p->timestamp || !p->timestamp[0])
        return be_fail(d, BE_MISSING_PARAMETER, "timestamp is missing");
    if (!p->nonce || !p->nonce[0])
        return be_fail(d, BE_MISSING_PARAMETER, "nonce is missing");
    if (p->encrypt_type && strcmp(p->encrypt_type, "aes"))
        return be_fail(d, BE_INVALID_PARAMETER_VALUE, "encrypt_type must be aes");
    return BE_OK;
}

/* The URL timestamp must be within the window around now. */
static int check_fresh(const char *timestamp, int64_t now, struct be_diag *d)
{
    uint64_t ts;
    if (strlen(timestamp) > 20 || parse_u64(timestamp, INT64_MAX, &ts))
        return be_fail(d, BE_INVALID_PARAMETER_VALUE, "timestamp must be unix seconds");
    int64_t skew = (int64_t)ts - now;
    if (skew > WECHAT_EVENTS_MAX_SKEW || skew < -WECHAT_EVENTS_MAX_SKEW)
        return be_fail(d, BE_AUTH_EXPIRED,
                       "timestamp is %lld s away from server time (at most %d s allowed)",
                       (long long)(skew < 0 ? -skew : skew), WECHAT_EVENTS_MAX_SKEW);
    return BE_OK;
}

/* Steps 3-7: envelope, signature, freshness, outer AppId, decryption. */
static int open_push(const struct wechat_events *ev, const struct wechat_push *p, int64_t now,
                     struct buf *ret_xml, struct be_diag *d)
{
    struct wx_event_envelope env;
    struct be_diag inner = {""};
    wx_event_envelope_init(&env);
    int rc = wx_event_envelope_parse(p->body, p->body_len, &env, &inner);
    if (rc) {
        rc = be_fail(d, rc, "malformed envelope (-40002): %s", inner.msg);
        goto out;
    }
    if (wx_msgcrypt_verify(ev->mc, p->msg_signature, p->timestamp, p->nonce, env.encrypt.data)) {
        rc = be_fail(d, BE_AUTH_SIGNATURE, "msg_signature does not verify (-40001)");
        goto out;
    }
    if ((rc = check_fresh(p->timestamp, now, d)))
        goto out;
    if (env.appid[0] && strcmp(env.appid, wx_msgcrypt_appid(ev->mc))) {
        rc = be_fail(d, BE_INVALID_PARAMETER_VALUE, "the envelope's AppId is not ours");
        goto out;
    }
    rc = wx_msgcrypt_decrypt(ev->mc, env.encrypt.data, ret_xml, NULL, &inner);
    if (rc)
        rc = be_fail(d, wx_msgcrypt_err_to_be(rc), "cannot decrypt: %s (%d): %s",
                     wx_msgcrypt_err_name(rc), rc, inner.msg);
out:
    wx_event_envelope_release(&env);
    return rc;
}

/* Step 8. */
static int parse_event(const struct wechat_events *ev, const struct buf *xml, struct wx_event *e,
                       struct be_diag *d)
{
    struct be_diag inner = {""};
    int rc = wx_event_parse(xml->data, xml->len, e, &inner);
    if (rc)
        return be_fail(d, rc, "malformed event: %s", inner.msg);
    if (e->appid[0] && strcmp(e->appid, wx_msgcrypt_appid(ev->mc)))
        return be_fail(d, BE_INVALID_PARAMETER_VALUE, "the event's AppId is not ours");
    return BE_OK;
}

/* --- storing ----------------------------------------------------------------- */

static void auth_code_aad(struct buf *aad, const char *component_appid,
                          const char *authorizer_appid)
{
    buf_adds(aad, AAD_AUTH_CODE);
    buf_addch(aad, '\0');
    buf_adds(aad, component_appid);
    buf_addch(aad, '\0');
    buf_adds(aad, authorizer_appid);
}

struct persist_ctx {
    const struct wechat_events *ev;
    const struct req_meta *meta;
    const struct wx_event *e;
    const char *msg_signature;
    const struct buf *sealed_code; /* len 0 for unauthorized */
    int64_t now;
    bool inserted;
};

/* What makes two pushes the same event: WeChat's retries repeat it exactly,
 * while a new authorization in the same second carries a new code (hashed,
 * never stored in the clear). An `unauthorized` carries no code: it is keyed
 * by its msg_signature, and is_repeated_unauthorized() decides. */
static void dedupe_key(const struct wx_event *e, const char *msg_signature, char out[65])
{
    struct buf b = BUF_INIT;
    buf_addf(&b, "%s\n%s\n%lld\n%s", e->info_type, e->authorizer_appid,
             (long long)e->create_time,
             e->type == WX_INFO_UNAUTHORIZED ? msg_signature : e->authorization_code);
    crypto_sha256_hex(b.data, b.len, out);
    crypto_wipe(b.data, b.len);
    buf_release(&b);
}

/* An `unauthorized` repeats the last one when the app's latest event is an
 * `unauthorized` of the same second: a retry. Two revocations in one second
 * with an authorization between them are both kept, in order. */
static int is_repeated_unauthorized(struct store_conn *c, const char *component,
                                    const struct wx_event *e, bool *ret)
{
    struct store_result *r = NULL;
    int rc = store_query(c,
                         "SELECT info_type, create_time FROM wechat_events"
                         " WHERE component_appid = $1 AND authorizer_appid = $2"
                         " ORDER BY id DESC LIMIT 1",
                         SV_ARGS(SV_TEXT(component), SV_TEXT(e->authorizer_appid)), &r);
    *ret = rc == BE_OK && store_result_rows(r) &&
           !strcmp(store_result_text(r, 0, 0), "unauthorized") &&
           store_result_i64(r, 0, 1) == e->create_time;
    store_result_free(r);
    return rc;
}

static int persist_fn(struct store_conn *c, void *arg)
{
    struct persist_ctx *x = arg;
    const struct wx_event *e = x->e;
    int64_t changes = 0;
    char dedupe[65];
    x->inserted = false;
    if (e->type == WX_INFO_UNAUTHORIZED) {
        bool repeated = false;
        int rc = is_repeated_unauthorized(c, wx_msgcrypt_appid(x->ev->mc), e, &repeated);
        if (rc || repeated)
            return rc;
    }
    dedupe_key(e, x->msg_signature, dedupe);
    int rc = store_exec(
        c,
        "INSERT INTO wechat_events (component_appid, info_type, authorizer_appid, create_time,"
        " msg_signature, dedupe_key, auth_code_sealed, auth_code_expires_at, pre_auth_code,"
        " received_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING",
        SV_ARGS(SV_TEXT(wx_msgcrypt_appid(x->ev->mc)), SV_TEXT(e->info_type),
                SV_TEXT(e->authorizer_appid), SV_I64(e->create_time), SV_TEXT(x->msg_signature),
                SV_TEXT(dedupe),
                x->sealed_code->len ? SV_BLOB(x->sealed_code->data, x->sealed_code->len) : SV_NULL,
                SV_I64(e->authorization_code_expired_time), SV_TEXT(e->pre_auth_code),
                SV_I64(x->now)),
        &changes);
    if (rc || changes == 0)
        return rc;
    x->inserted = true;
    char detail[WECHAT_EVENTS_NOTE_MAX + 1];
    snprintf(detail, sizeof(detail), "%s %s (CreateTime %lld)", e->info_type, e->authorizer_appid,
             (long long)e->create_time);
    struct audit_entry a = {0, 0, AUDIT_ACTION, "success", detail};
    return audit_record(c, x->meta, &a);
}

static int persist_event(const struct wechat_events *ev, const struct req_meta *meta,
                         const struct wechat_push *p, const struct wx_event *e, int64_t now,
                         enum wechat_push_outcome *ret)
{
    struct buf sealed = BUF_INIT, aad = BUF_INIT;
    if (e->authorization_code[0]) {
        auth_code_aad(&aad, wx_msgcrypt_appid(ev->mc), e->authorizer_appid);
        crypto_seal(ev->app->keys.seal, aad.data, aad.len, e->authorization_code,
                    strlen(e->authorization_code), &sealed);
    }
    struct persist_ctx x = {ev, meta, e, p->msg_signature, &sealed, now, false};
    int rc = store_tx(ev->app->store, persist_fn, &x);
    if (rc == BE_OK)
        *ret = x.inserted ? WECHAT_PUSH_STORED : WECHAT_PUSH_DUPLICATE;
    buf_release(&sealed);
    buf_release(&aad);
    return rc;
}

/* Step 9. */
static int handle_event(const struct wechat_events *ev, const struct req_meta *meta,
                        const struct wechat_push *p, const struct wx_event *e, int64_t now,
                        enum wechat_push_outcome *ret, struct be_diag *d)
{
    int rc;
    switch (e->type) {
    case WX_INFO_COMPONENT_VERIFY_TICKET:
        rc = wx_component_save_ticket(ev->app, e->component_verify_ticket, e->create_time, now);
        if (rc == BE_OK)
            *ret = WECHAT_PUSH_TICKET;
        break;
    case WX_INFO_AUTHORIZED:
    case WX_INFO_UPDATEAUTHORIZED:
    case WX_INFO_UNAUTHORIZED:
        rc = persist_event(ev, meta, p, e, now, ret);
        break;
    default:
        *ret = WECHAT_PUSH_IGNORED;
        return BE_OK;
    }
    if (rc)
        be_fail(d, rc, "cannot store the %s event: %s", e->info_type, be_err_message(rc));
    return rc;
}

/* --- receiving ------------------------------------------------------------------ */

/* The audit row of a refused push; best effort (the refusal stands). */
static void audit_refusal(const struct wechat_events *ev, const struct req_meta *meta,
                          const struct be_diag *d)
{
    char detail[WECHAT_EVENTS_NOTE_MAX + 1];
    snprintf(detail, sizeof(detail), "refused: %.*s", (int)(sizeof(detail) - 10), d->msg);
    struct audit_entry a = {0, 0, AUDIT_ACTION, "failure", detail};
    (void)audit_record_now(ev->app, meta, &a);
}

int wechat_events_receive(struct wechat_events *ev, const struct req_meta *meta,
                          const struct wechat_push *push, enum wechat_push_outcome *ret_outcome,
                          struct be_diag *diag)
{
    struct be_diag d = {""};
    struct buf xml = BUF_INIT;
    struct wx_event *e = xmalloc(sizeof(*e));
    enum wechat_push_outcome outcome = WECHAT_PUSH_IGNORED;
    int64_t now = meta && meta->now ? meta->now : time_now();
    int rc;
    if (ev->disabled) {
        rc = be_fail(&d, BE_FAILED, "%s", ev->disabled);
        goto out;
    }
    rc = check_params(push, &d);
    if (!rc)
        rc = open_push(ev, push, now, &xml, &d);
    if (!rc)
        rc = parse_event(ev, &xml, e, &d);
    if (rc) {
        audit_refusal(ev, meta, &d);
        goto out;
    }
    rc = handle_event(ev, meta, push, e, now, &outcome, &d);
    if (rc == BE_OK && ret_outcome)
        *ret_outcome = outcome;
out:
    if (rc && diag)
        *diag = d;
    if (xml.cap)
        crypto_wipe(xml.data, xml.cap);
    buf_release(&xml);
    crypto_wipe(e, sizeof(*e));
    free(e);
    return rc;
}

/* --- consuming ---------------------------------------------------------------------- */

static bool owner_ok(const char *owner)
{
    return owner && owner[0] &&
           strnlen(owner, WECHAT_EVENTS_OWNER_MAX + 1) <= WECHAT_EVENTS_OWNER_MAX;
}

static bool note_ok(const char *note)
{
    return !note || strnlen(note, WECHAT_EVENTS_NOTE_MAX + 1) <= WECHAT_EVENTS_NOTE_MAX;
}

static enum wx_info_type type_of(const char *info_type)
{
    static const enum wx_info_type types[] = {WX_INFO_AUTHORIZED, WX_INFO_UPDATEAUTHORIZED,
                                              WX_INFO_UNAUTHORIZED};
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        if (info_type && !strcmp(info_type, wx_info_type_name(types[i])))
            return types[i];
    }
    return WX_INFO_UNKNOWN;
}

struct claim_ctx {
    const struct app *app;
    const char *component_appid;
    const char *owner;
    int64_t now, lease_s;
    size_t max;
    struct wechat_event *out;
    size_t n;
};

static void copy_text(char *dst, size_t size, const char *s)
{
    snprintf(dst, size, "%s", s ? s : "");
}

/* Row r of the claim query into e; the code is opened here. */
static void fill_event(const struct claim_ctx *x, const struct store_result *r, size_t i,
                       struct wechat_event *e)
{
    memset(e, 0, sizeof(*e));
    e->id = store_result_i64(r, i, 0);
    e->type = type_of(store_result_text(r, i, 1));
    copy_text(e->authorizer_appid, sizeof(e->authorizer_appid), store_result_text(r, i, 2));
    e->create_time = store_result_i64(r, i, 3);
    size_t len;
    const void *sealed = store_result_blob(r, i, 4, &len);
    if (sealed) {
        struct buf aad = BUF_INIT, plain = BUF_INIT;
        auth_code_aad(&aad, x->component_appid, e->authorizer_appid);
        if (crypto_open(x->app->keys.seal, aad.data, aad.len, sealed, len, &plain) == BE_OK &&
            plain.len < sizeof(e->authorization_code) && strlen(plain.data) == plain.len)
            memcpy(e->authorization_code, plain.data, plain.len + 1);
        if (plain.cap)
            crypto_wipe(plain.data, plain.cap);
        buf_release(&plain);
        buf_release(&aad);
    }
    e->authorization_code_expires_at = store_result_i64(r, i, 5);
    copy_text(e->pre_auth_code, sizeof(e->pre_auth_code), store_result_text(r, i, 6));
    e->received_at = store_result_i64(r, i, 7);
    e->attempts = store_result_i64(r, i, 8) + 1;
    copy_text(e->last_error, sizeof(e->last_error), store_result_text(r, i, 9));
}

/* The oldest pending event of each app, when it is neither leased nor
 * deferred. */
static const char claimable_sql[] =
    "SELECT e.id, e.info_type, e.authorizer_appid, e.create_time, e.auth_code_sealed,"
    " e.auth_code_expires_at, e.pre_auth_code, e.received_at, e.attempts, e.last_error"
    " FROM wechat_events e"
    " WHERE e.component_appid = $1 AND e.state = 'pending' AND e.claim_until <= $2"
    " AND NOT EXISTS (SELECT 1 FROM wechat_events p"
    "  WHERE p.component_appid = e.component_appid AND p.authorizer_appid = e.authorizer_appid"
    "  AND p.state = 'pending' AND (p.create_time < e.create_time"
    "   OR (p.create_time = e.create_time AND p.id < e.id)))"
    " ORDER BY e.create_time, e.id LIMIT $3";

static int take_one(struct store_conn *c, const struct claim_ctx *x, int64_t id, bool *ret_taken)
{
    int64_t changes = 0;
    int rc = store_exec(
        c,
        "UPDATE wechat_events SET claim_owner = $1, claim_until = $2,"
        " attempts = attempts + 1 WHERE id = $3 AND state = 'pending'"
        " AND claim_until <= $4",
        SV_ARGS(SV_TEXT(x->owner), SV_I64(x->now + x->lease_s), SV_I64(id), SV_I64(x->now)),
        &changes);
    if (rc == BE_OK)
        *ret_taken = changes == 1;
    return rc;
}

static int claim_fn(struct store_conn *c, void *arg)
{
    struct claim_ctx *x = arg;
    struct store_result *r = NULL;
    x->n = 0;
    int rc = store_query(c, claimable_sql,
                         SV_ARGS(SV_TEXT(x->component_appid), SV_I64(x->now), SV_I64(x->max)), &r);
    for (size_t i = 0; rc == BE_OK && i < store_result_rows(r); i++) {
        bool taken = false;
        rc = take_one(c, x, store_result_i64(r, i, 0), &taken);
        if (rc == BE_OK && taken)
            fill_event(x, r, i, &x->out[x->n++]);
    }
    store_result_free(r);
    return rc;
}

int wechat_events_claim(struct app *app, const char *owner, int64_t now, int64_t lease_s,
                        size_t max, struct wechat_event *ret_events, size_t *ret_n)
{
    if (!owner_ok(owner) || lease_s < 1 || max < 1 || max > WECHAT_EVENTS_CLAIM_MAX)
        return BE_INVALID_PARAMETER_VALUE;
    struct claim_ctx x = {
        app, app->cfg->wechat_component_appid, owner, now, lease_s, max, ret_events, 0};
    int rc = store_tx(app->store, claim_fn, &x);
    if (rc == BE_OK)
        *ret_n = x.n;
    else
        crypto_wipe(ret_events, xmul(max, sizeof(*ret_events)));
    return rc;
}

int wechat_events_complete(struct store_conn *c, int64_t id, const char *owner, const char *outcome,
                           int64_t now)
{
    int64_t changes = 0;
    if (!owner_ok(owner) || !note_ok(outcome))
        return BE_INVALID_PARAMETER_VALUE;
    int rc =
        store_exec(c,
                   "UPDATE wechat_events SET state = 'done', outcome = $1, done_at = $2,"
                   " claim_until = 0 WHERE id = $3 AND claim_owner = $4 AND state = 'pending'",
                   SV_ARGS(SV_TEXT(outcome), SV_I64(now), SV_I64(id), SV_TEXT(owner)), &changes);
    if (rc == BE_OK && changes != 1)
        rc = BE_NOT_FOUND;
    return rc;
}

struct complete_ctx {
    int64_t id;
    const char *owner;
    const char *outcome;
    int64_t now;
};

static int complete_fn(struct store_conn *c, void *arg)
{
    struct complete_ctx *x = arg;
    return wechat_events_complete(c, x->id, x->owner, x->outcome, x->now);
}

int wechat_events_complete_now(struct app *app, int64_t id, const char *owner, const char *outcome,
                               int64_t now)
{
    struct complete_ctx x = {id, owner, outcome, now};
    return store_tx(app->store, complete_fn, &x);
}

struct defer_ctx {
    int64_t id;
    const char *owner;
    int64_t not_before;
    const char *error;
};

static int defer_fn(struct store_conn *c, void *arg)
{
    struct defer_ctx *x = arg;
    int64_t changes = 0;
    int rc = store_exec(
        c,
        "UPDATE wechat_events SET claim_owner = NULL, claim_until = $1,"
        " last_error = $2 WHERE id = $3 AND claim_owner = $4"
        " AND state = 'pending'",
        SV_ARGS(SV_I64(x->not_before), SV_TEXT(x->error), SV_I64(x->id), SV_TEXT(x->owner)),
        &changes);
    if (rc == BE_OK && changes != 1)
        rc = BE_NOT_FOUND;
    return rc;
}

int wechat_events_defer(struct app *app, int64_t id, const char *owner, int64_t not_before,
                        const char *error)
{
    if (!owner_ok(owner) || !note_ok(error))
        return BE_INVALID_PARAMETER_VALUE;
    struct defer_ctx x = {id, owner, not_before, error};
    return store_tx(app->store, defer_fn, &x);
}
