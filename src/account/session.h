/* Console sessions. The browser holds a random 256-bit token (43 base64url
 * characters); the store holds only its SHA-256, so a database leak gives no
 * usable session. A session ends after idle_timeout without use or
 * absolute_timeout after sign-in, whichever comes first. Each session has a
 * CSRF token derived from it with the keyring's CSRF key. */
#ifndef BINDERY_ACCOUNT_SESSION_H
#define BINDERY_ACCOUNT_SESSION_H

#include <stdbool.h>
#include <stdint.h>

#include "app.h"
#include "cam/principal.h"
#include "core/buf.h"
#include "core/crypto.h"

#define SESSION_TOKEN_LEN 43
#define SESSION_CSRF_LEN 43
/* last_seen is written at most this often, not on every request. */
#define SESSION_TOUCH_INTERVAL 60

struct session {
    unsigned char id_hash[CRYPTO_SHA256_LEN];
    struct principal who;
    int64_t created_at;
    int64_t last_seen;
    int64_t expires_at;
};

/* Starts a session for who; the token for the cookie goes to ret_token
 * (appended). If old_token names an existing session, that one ends (the
 * id is rotated at every sign-in). */
int session_create(struct app *app, const struct req_meta *meta, const struct principal *who,
                   const char *old_token, struct buf *ret_token, struct session *ret);
/* Replaces the session of old_token with a new one for who (switching
 * developer changes a session's principal: a new token, the old one ended),
 * writing audit (may be NULL) in the same transaction. BE_SESSION_INVALID
 * when old_token names no session, so that of two requests racing with one
 * token only one gets a session. */
struct audit_entry;
int session_rotate(struct app *app, const struct req_meta *meta, const struct principal *who,
                   const char *old_token, const struct audit_entry *audit, struct buf *ret_token,
                   struct session *ret);
/* Resolves a cookie token. BE_SESSION_INVALID when unknown or expired. */
int session_lookup(struct app *app, const char *token, int64_t now, struct session *ret);
/* Ends the session of token (no error if there is none). */
int session_destroy(struct app *app, const char *token);
/* The session's CSRF token (SESSION_CSRF_LEN chars + NUL). */
void session_csrf_token(const struct app *app, const struct session *s,
                        char out[SESSION_CSRF_LEN + 1]);
/* Constant-time check of a client-sent CSRF token. */
bool session_csrf_valid(const struct app *app, const struct session *s, const char *token);

#endif
