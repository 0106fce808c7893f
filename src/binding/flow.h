/* The link's flows with WeChat (spec §5, §8, §11): starting an
 * authorization, completing it when the browser comes back, applying the
 * authorization pushes, using a link (and noticing that WeChat ended it),
 * and the background check. The records are binding/link.h's and
 * binding/attempt.h's; WeChat is reached through app->wechat
 * (wechat/component.h).
 *
 *   start     attempt + fresh pre-auth code -> Bindery's entry page
 *             {public_url}/wechat/authorize?state=S, which opens WeChat's
 *             page from Bindery's own origin (the Referer rule, spec §5.2)
 *   target    the WeChat URL for the entry page: componentloginpage with
 *             redirect_uri = {public_url}/wechat/authorized?state=S
 *   complete  the redirect: attempt claimed (binding, single use, expiry),
 *             api_query_auth, api_get_authorizer_info, then one transaction:
 *             the code recorded, the grant applied, the attempt used
 *   event     authorized/updateauthorized: matched to an attempt by
 *             PreAuthCode (or to the app's live link), the code exchanged,
 *             the grant applied — so the push and the redirect may come in
 *             either order, or the push not at all, and one link results;
 *             unauthorized: confirmed with api_get_authorizer_info, then the
 *             link is revoked (reason push)
 *   verify    a use of the link: api_authorizer_token with the stored
 *             refresh token; 61003/61023 revoke it (reason detected)
 *   check     the background check: api_get_authorizer_info; 61003 revokes
 *             it (reason detected)
 *
 * A grant that two transactions race to create (a push and a redirect) is
 * re-applied once after BE_DUPLICATE: the second sees the first's link.
 * Errors: as binding/link.h and binding/attempt.h; BE_FAILED when no WeChat
 * component is configured; BE_UPSTREAM when WeChat does not answer (the diag
 * says nothing was changed and the attempt can be retried by reloading);
 * BE_INVALID_PARAMETER_VALUE when WeChat refuses the code (61009, 61010). */
#ifndef BINDERY_BINDING_FLOW_H
#define BINDERY_BINDING_FLOW_H

#include <stdint.h>

#include "app.h"
#include "binding/attempt.h"
#include "binding/link.h"
#include "cam/principal.h"
#include "core/buf.h"
#include "wechat/events.h"

/* Seconds before a push whose processing failed on WeChat's side is tried
 * again, and the claims after which it is given up. */
#define LINK_EVENT_RETRY_S      5
#define LINK_EVENT_MAX_ATTEMPTS 10
/* Seconds before a background check that failed is tried again (at most
 * link.check_interval), and after WeChat said "quota" (45009). */
#define LINK_CHECK_RETRY_S       300
#define LINK_CHECK_QUOTA_PAUSE_S 600

/* How an authorization starts. */
struct link_start {
    enum link_purpose purpose;
    const struct principal *who;       /* LINK: who links (its owner gets the app) */
    const unsigned char *session_hash; /* LINK from the console: bind to it; NULL: to who */
    const char *visitor;               /* LOGIN: the visitor cookie (link_visitor_valid) */
    const char *target_appid;          /* LINK: re-authorize this live link; NULL: any app */
};

struct link_started {
    char state[LINK_ATTEMPT_STATE_LEN + 1];
    struct buf entry_url; /* Bindery's entry page; buf_release() it */
    int64_t expires_at;
};

/* Starts an attempt: checks target_appid is a live link of who's account
 * (BE_LINK_NOT_FOUND), asks WeChat for a pre-auth code, stores the attempt.
 * *ret must be zeroed; on success the caller releases ret->entry_url. */
int link_flow_start(struct app *app, const struct req_meta *meta, const struct link_start *s,
                    struct link_started *ret, struct be_diag *diag);

/* The URL of WeChat's authorization page for the attempt of state (used or
 * expired: the attempt's error), appended to ret_url. */
int link_flow_target(struct app *app, const char *state, int64_t now, struct buf *ret_url,
                     struct be_diag *diag);

/* Completes the attempt of state with the redirect's auth_code (1..
 * WX_CODE_MAX printable bytes), proof being what the browser brought. For a
 * LINK attempt, CAM is asked again whether its principal may create the link
 * of the app WeChat named (wxlink:CreateLink on link/<appid>). On success
 * *ret says what happened; for LOGIN the caller signs the browser into
 * ret->uin. On a refusal the attempt is given back with the error, so that
 * reloading the page retries. */
int link_flow_complete(struct app *app, const struct req_meta *meta, const char *state,
                       const char *auth_code, const struct link_proof *proof,
                       struct link_outcome *ret, struct be_diag *diag);

/* Applies one claimed authorization event for owner (the claimer) and
 * completes it, or defers it when WeChat could not be asked (given up after
 * LINK_EVENT_MAX_ATTEMPTS). ret_note (may be NULL, LINK_NOTE_MAX + 1 bytes)
 * gets the outcome recorded ("linked", "revoked", "ignored: ..."). Returns
 * BE_OK when the event was completed or deferred; a store error otherwise. */
int link_flow_apply_event(struct app *app, const char *owner, const struct wechat_event *ev,
                          int64_t now, char *ret_note);

/* Uses owner's link of appid: refreshes an authorizer access token with the
 * stored refresh token (api_authorizer_token; api_get_authorizer_info when
 * WeChat gave no refresh token) and records the verification. WeChat saying
 * the authorization is gone (61003, 61023) revokes the link (reason
 * detected) and returns BE_LINK_REVOKED with a diag that says so and what to
 * do; so does a link already revoked. ret (may be NULL) gets the link as it
 * is now; ret_token (may be NULL) the access token (wipe it). */
int link_flow_verify(struct app *app, const struct req_meta *meta, uint64_t owner_uin,
                     const char *appid, struct link *ret, struct wx_authorizer_token *ret_token,
                     struct be_diag *diag);

/* The background check of the claimed link l (claimed by owner): verified,
 * revoked (reason detected), or failed and due again later.
 * BE_RATE_LIMITED when WeChat said its quota is spent (the caller stops
 * checking for LINK_CHECK_QUOTA_PAUSE_S); BE_OK otherwise, unless the store
 * failed. */
int link_flow_check(struct app *app, const char *owner, const struct link *l, int64_t now);

#endif
