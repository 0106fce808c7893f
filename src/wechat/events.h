/* The domain side of the 授权事件接收URL, POST /wechat/events (spec §6):
 * receiving pushes, and handing the authorization events they carry to the
 * link life cycle, each exactly once across all Bindery instances.
 *
 * Receiving (wechat_events_receive), in this order:
 *   1. the body is at most WECHAT_EVENTS_MAX_BODY bytes;
 *   2. msg_signature, timestamp and nonce are present; encrypt_type, when
 *      present, is "aes" (the URL `signature` is not checked: WeChat's
 *      current page says not to rely on it; msg_signature covers more);
 *   3. the envelope <xml><AppId/><Encrypt/></xml> parses (wechat/event.h);
 *   4. msg_signature verifies (spec §7.4, constant time);
 *   5. the URL timestamp is within WECHAT_EVENTS_MAX_SKEW seconds of our
 *      clock, in either direction: a captured push cannot be replayed later;
 *   6. the envelope's AppId, when present, is the component appid;
 *   7. Encrypt decrypts with the current or the previous EncodingAESKey and
 *      ends with the component appid (spec §7.5, §7.8);
 *   8. the decrypted event parses, and its AppId is the component appid;
 *   9. then by InfoType:
 *      component_verify_ticket: stored as the component's ticket
 *          (wx_component_save_ticket; an older ticket never replaces a newer);
 *      authorized, updateauthorized, unauthorized: stored as a row of
 *          wechat_events (the authorization code sealed at rest), with an
 *          audit row in the same transaction;
 *      anything else: ignored (WeChat requires "success" for unknown types).
 * Only after that does the caller answer "success". Storing is idempotent:
 * a push whose msg_signature was seen, or whose (InfoType, AuthorizerAppid,
 * CreateTime) was seen, changes nothing and is answered "success" again
 * (outcome WECHAT_PUSH_DUPLICATE), so WeChat's retries and replays inside the
 * time window are harmless.
 *
 * A push refused at any step writes an audit row (action "wechat.push",
 * result "failure", the reason as detail) and returns, with a diag naming the
 * failed check and, where there is one, the reference code of spec §7.7:
 *   BE_BODY_TOO_LARGE (413)            over WECHAT_EVENTS_MAX_BODY;
 *   BE_MISSING_PARAMETER (400)         a query parameter or Encrypt missing,
 *                                      an event without a required field;
 *   BE_INVALID_PARAMETER[_VALUE] (400) malformed parameter, XML, base64,
 *                                      padding, length, wrong AppId;
 *   BE_AUTH_SIGNATURE (401)            msg_signature does not verify;
 *   BE_AUTH_EXPIRED (401)              the timestamp is outside the window.
 * Store failures return the store's error (5xx, so WeChat retries) without an
 * audit row. Nothing is stored for a refused push. Diags and audit rows never
 * hold tickets, codes, keys or decrypted text.
 *
 * Consuming (for the link life cycle, src/binding/): events wait in the
 * store as "pending" until a consumer completes them. A consumer claims a
 * batch (wechat_events_claim), which leases each event to it for lease_s
 * seconds; processes each; and marks it done with wechat_events_complete()
 * INSIDE the store_tx that applies its own changes, so that the changes and
 * "done" commit together: if the lease ran out and another consumer took the
 * event, complete() fails, the transaction rolls back, and only one
 * consumer's changes ever commit. A consumer that cannot process an event now
 * gives it back with wechat_events_defer().
 * Ordering: per authorizer, only the oldest pending event (by CreateTime,
 * then arrival) is ever claimable, so the events of one app are applied one
 * at a time, in order; an event that is deferred holds back the later ones
 * of its app. A late retry can still arrive after a newer event of its app
 * was completed: consumers must ignore an event older than the last one
 * they applied for that app (create_time says). */
#ifndef BINDERY_WECHAT_EVENTS_H
#define BINDERY_WECHAT_EVENTS_H

#include <stddef.h>
#include <stdint.h>

#include "app.h"
#include "core/err.h"
#include "store/store.h"
#include "wechat/event.h"

/* Ceiling of a push body: the event parser's document ceiling (64 KiB); a
 * real push is well under 2 KiB. */
#define WECHAT_EVENTS_MAX_BODY WX_EVENT_MAX_DOC
/* The URL timestamp may differ from our clock by at most this many seconds
 * (either direction). WeChat retries within seconds; 10 minutes leaves room
 * for clock skew and slow retries. */
#define WECHAT_EVENTS_MAX_SKEW 600
/* Ceilings of the consumer interface. */
#define WECHAT_EVENTS_CLAIM_MAX 100
#define WECHAT_EVENTS_OWNER_MAX 64
#define WECHAT_EVENTS_NOTE_MAX  200

struct wechat_events;

/* Creates the receiver of app->cfg: the message crypter (wechat.token,
 * wechat.encoding_aes_key, wechat.previous_encoding_aes_key,
 * wechat.component_appid) is built once, here. app is kept by reference
 * and must outlive the receiver.
 *
 * When wechat.component_appid, wechat.token or wechat.encoding_aes_key is
 * empty, the receiver is created disabled (wechat_events_disabled_reason()
 * says which key is missing; the endpoint answers 503). A value that is set
 * but malformed (a key that is not 43 characters of [A-Za-z0-9], a token with
 * spaces) gives BE_INVALID_PARAMETER with a diag naming the key. */
int wechat_events_new(struct app *app, struct wechat_events **ret_events, struct be_diag *diag);
/* NULL is accepted. */
void wechat_events_free(struct wechat_events *ev);

/* NULL when enabled; otherwise a sentence naming the missing configuration
 * key (owned by ev). */
const char *wechat_events_disabled_reason(const struct wechat_events *ev);

/* One push as it arrived: the URL's query parameters (decoded; NULL when
 * absent) and the raw body. */
struct wechat_push {
    const char *msg_signature;
    const char *timestamp;
    const char *nonce;
    const char *encrypt_type;
    const char *body;
    size_t body_len;
};

enum wechat_push_outcome {
    WECHAT_PUSH_TICKET,    /* a component_verify_ticket (stored unless older) */
    WECHAT_PUSH_STORED,    /* an authorization event, stored now */
    WECHAT_PUSH_DUPLICATE, /* an authorization event stored before */
    WECHAT_PUSH_IGNORED,   /* another InfoType */
};

/* "ticket", "stored", "duplicate", "ignored". */
const char *wechat_push_outcome_name(enum wechat_push_outcome outcome);

/* Receives one push as the comment at the top says. meta->now (0: the
 * clock) is the time the timestamp is checked against. On success
 * *ret_outcome (may be NULL) says what happened and the caller answers
 * "success"; BE_FAILED when the receiver is disabled. */
int wechat_events_receive(struct wechat_events *ev, const struct req_meta *meta,
                          const struct wechat_push *push, enum wechat_push_outcome *ret_outcome,
                          struct be_diag *diag);

/* --- consuming authorization events -------------------------------------- */

/* A stored authorization event, as claimed. Wipe it when done: it holds the
 * authorization code. */
struct wechat_event {
    int64_t id;
    enum wx_info_type type; /* AUTHORIZED, UPDATEAUTHORIZED or UNAUTHORIZED */
    char authorizer_appid[WX_EVENT_APPID_MAX + 1];
    int64_t create_time; /* the push's CreateTime */
    /* authorized, updateauthorized: the code for api_query_auth; "" for
     * unauthorized, or when it cannot be opened (sealed under another master
     * key: treat like an expired code) */
    char authorization_code[WX_EVENT_CODE_MAX + 1];
    int64_t authorization_code_expires_at;     /* absolute; 0 when not sent */
    char pre_auth_code[WX_EVENT_CODE_MAX + 1]; /* matches the link that was used; "" if none */
    int64_t received_at;
    int64_t attempts;                            /* claims so far, this one included */
    char last_error[WECHAT_EVENTS_NOTE_MAX + 1]; /* from the last defer, "" if none */
};

/* Claims up to max (1..WECHAT_EVENTS_CLAIM_MAX) claimable events of
 * app->cfg's component for owner (a stable id of the claiming worker, 1..
 * WECHAT_EVENTS_OWNER_MAX bytes, e.g. a UUID made at start) until now +
 * lease_s (lease_s >= 1). Claimable: pending, not leased (or the lease ran
 * out) and not deferred past now, and the oldest pending event of its app.
 * Fills ret_events[0 .. *ret_n), oldest first; *ret_n may be 0.
 * BE_INVALID_PARAMETER_VALUE for bad arguments; store errors. */
int wechat_events_claim(struct app *app, const char *owner, int64_t now, int64_t lease_s,
                        size_t max, struct wechat_event *ret_events, size_t *ret_n);

/* Marks event id done with outcome (a short word or note of at most
 * WECHAT_EVENTS_NOTE_MAX bytes, e.g. "linked", "ignored: stale"), inside the
 * caller's transaction. BE_NOT_FOUND when owner does not hold the claim any
 * more (another consumer took it, or it is done): roll back. */
int wechat_events_complete(struct store_conn *c, int64_t id, const char *owner, const char *outcome,
                           int64_t now);

/* wechat_events_complete() in a transaction of its own. */
int wechat_events_complete_now(struct app *app, int64_t id, const char *owner, const char *outcome,
                               int64_t now);

/* Gives a claimed event back, claimable again from not_before on, with a
 * note of why (at most WECHAT_EVENTS_NOTE_MAX bytes; never a secret).
 * BE_NOT_FOUND when owner does not hold the claim. */
int wechat_events_defer(struct app *app, int64_t id, const char *owner, int64_t not_before,
                        const char *error);

#endif
