/* Authorization attempts: one per 【关联】, 【重新授权】 or scan-to-log-in,
 * from the moment Bindery asks WeChat for a pre-auth code until the browser
 * comes back from WeChat's page (spec §5, §11.1).
 *
 * An attempt is named by a random state (LINK_ATTEMPT_STATE_LEN base64url
 * characters from 32 random bytes) that travels in the redirect_uri; the
 * store keeps only its SHA-256. It is:
 *   - bound to the browser that started it: to the console session (by the
 *     session's id hash), to the principal (a start through the signed API:
 *     any console session of that principal may complete it), or — for
 *     scan-to-log-in, where there is no session yet — to a visitor cookie
 *     set by the login page (by its SHA-256);
 *   - single use: completing it marks it used, in the transaction that
 *     applies the grant; a replay is refused;
 *   - short-lived: link.attempt_ttl seconds (600 by default);
 *   - claimed while a redirect is being completed (LINK_ATTEMPT_CLAIM_S), so
 *     that two requests with one state cannot both complete it; a failure
 *     on WeChat's side gives the claim back, so reloading the page retries.
 * The pre-auth code is kept too: an `authorized` push names it
 * (PreAuthCode), which is how a push finds its attempt.
 *
 * Every authorization code exchanged is recorded (by SHA-256) with the
 * attempt it completed: a code is good for one attempt only, so a code
 * captured from one flow cannot complete another.
 *
 * Errors: BE_ATTEMPT_INVALID (unknown state, or the browser does not hold
 * the binding), BE_ATTEMPT_EXPIRED, BE_ATTEMPT_USED (completed, or being
 * completed by another request), BE_AUTH_CODE_USED; store errors. */
#ifndef BINDERY_BINDING_ATTEMPT_H
#define BINDERY_BINDING_ATTEMPT_H

#include <stdbool.h>
#include <stdint.h>

#include "app.h"
#include "binding/link.h"
#include "cam/principal.h"
#include "core/buf.h"
#include "core/crypto.h"
#include "store/store.h"
#include "wechat/client.h"

#define LINK_ATTEMPT_STATE_LEN 43
/* The login page's visitor cookie: 32 random bytes, base64url. */
#define LINK_VISITOR_LEN 43
/* Seconds a redirect holds the attempt while it talks to WeChat: more than
 * two component API calls with their retries. */
#define LINK_ATTEMPT_CLAIM_S 90
/* Completed and expired attempts, and recorded codes, are purged after this. */
#define LINK_ATTEMPT_KEEP_S 86400

enum link_binding {
    LINK_BIND_SESSION,   /* the console session that started it */
    LINK_BIND_PRINCIPAL, /* any console session of the principal (signed API) */
    LINK_BIND_VISITOR,   /* the login page's visitor cookie */
};

struct link_attempt {
    unsigned char state_hash[CRYPTO_SHA256_LEN];
    enum link_purpose purpose;
    enum link_binding binding;
    unsigned char binding_hash[CRYPTO_SHA256_LEN]; /* SESSION, VISITOR */
    struct principal who;                          /* LINK: who started it; zero for LOGIN */
    char target_appid[WX_APPID_MAX + 1];           /* re-authorize this app; "" for any */
    char pre_auth_code[WX_CODE_MAX + 1];
    int64_t created_at, expires_at;
    int64_t claim_until; /* a redirect is completing it until then */
    int64_t used_at;     /* completed by the redirect; 0 if not */
    int64_t applied_at;  /* a push applied its grant; 0 if not */
    /* What completing it did (set by link_attempt_finish or _mark_applied). */
    bool has_result;
    enum link_change result_change;
    bool result_registered;
    uint64_t result_uin;
    char result_appid[WX_APPID_MAX + 1];
};

/* Creates an attempt from *a (purpose, binding, binding_hash, who,
 * target_appid, pre_auth_code; the rest is set here: created now, expiring
 * now + link.attempt_ttl). Appends the state to ret_state; *a gets its hash
 * and times. */
int link_attempt_create(struct app *app, struct link_attempt *a, int64_t now,
                        struct buf *ret_state);

/* The attempt of state without any check (for building the authorization
 * URL). BE_ATTEMPT_INVALID when unknown or malformed, BE_ATTEMPT_EXPIRED,
 * BE_ATTEMPT_USED. */
int link_attempt_get(struct app *app, const char *state, int64_t now, struct link_attempt *ret,
                     struct be_diag *diag);

/* What the browser brought back with the redirect. */
struct link_proof {
    const unsigned char *session_hash;   /* its console session's id hash, or NULL */
    const struct principal *session_who; /* that session's principal, or NULL */
    const char *visitor;                 /* the visitor cookie, or NULL */
};

/* Claims the attempt of state for completing it now: it must exist, be
 * bound to what proof holds, be unused and unexpired, and not be claimed by
 * another request. The diag says which check failed in words for the user. */
int link_attempt_claim(struct app *app, const char *state, const struct link_proof *proof,
                       int64_t now, struct link_attempt *ret, struct be_diag *diag);

/* Gives a claimed attempt back (WeChat failed; the user may retry), keeping
 * error (at most LINK_NOTE_MAX bytes, no secrets). */
int link_attempt_release(struct app *app, const struct link_attempt *a, const char *error);

/* Inside the caller's transaction: marks the claimed attempt used, with
 * what applying its grant did. BE_ATTEMPT_USED when it was completed
 * meanwhile (the caller rolls back). */
int link_attempt_finish(struct store_conn *c, const struct link_attempt *a, int64_t now,
                        const struct link_outcome *o);

/* Inside the caller's transaction: records that a push applied the
 * attempt's grant, and what that did; the attempt stays unused until its
 * redirect comes. */
int link_attempt_mark_applied(struct store_conn *c, const struct link_attempt *a, int64_t now,
                              const struct link_outcome *o);

/* Inside the caller's transaction: attempt a as stored now (a push may have
 * applied it meanwhile). BE_NOT_FOUND when it was purged. */
int link_attempt_reload(struct store_conn *c, const struct link_attempt *a,
                        struct link_attempt *ret);

/* Inside the caller's transaction: the attempt opened with pre_auth_code,
 * whether or not it was completed, if it has not expired. BE_NOT_FOUND. */
int link_attempt_find_by_pre_auth_code(struct store_conn *c, const char *pre_auth_code, int64_t now,
                                       struct link_attempt *ret);

/* Inside the caller's transaction: records that code was exchanged for
 * appid on behalf of attempt a (NULL: no attempt, e.g. a push nobody
 * started). BE_AUTH_CODE_USED when the code already served another attempt. */
int link_attempt_use_code(struct store_conn *c, const struct link_attempt *a, const char *code,
                          const char *appid, int64_t now);

/* Deletes attempts that expired, and codes recorded, more than
 * LINK_ATTEMPT_KEEP_S seconds before now. */
int link_attempt_purge(struct app *app, int64_t now);

/* A fresh visitor cookie value (LINK_VISITOR_LEN characters, appended). */
void link_visitor_new(struct buf *out);
/* Is v a well-formed visitor cookie value? */
bool link_visitor_valid(const char *v);

#endif
