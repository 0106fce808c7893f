/* Bindery's third-party platform ("component", spec §2-4): the latest
 * component_verify_ticket, the component access token, and the component API
 * calls made with that token.
 *
 * State lives in the store, in one row of `wechat_component` per component
 * appid, so that every worker thread and every Bindery instance sharing the
 * database shares one ticket and one token:
 *   - the ticket, as pushed to POST /wechat/events (wechat/events.h calls
 *     wx_component_save_ticket); an older push never replaces a newer one;
 *   - the token, its expiry and a generation counter (+1 per new token);
 *   - a refresh lease: whoever needs a new token first takes the lease with
 *     one conditional UPDATE (only one caller in all instances wins), calls
 *     api_component_token with the latest ticket, stores the new token and
 *     drops the lease. The others keep using the current token while it is
 *     valid, or wait (polling the row) for the winner's token; if the
 *     winner's call fails, they report its failure rather than repeat it,
 *     and nobody tries again for WX_COMPONENT_RETRY_AFTER seconds.
 * The ticket and the token are sealed at rest with crypto_seal under
 * app->keys.seal, bound to their use and to the component appid.
 *
 * A token is replaced when fewer than WX_COMPONENT_REFRESH_AHEAD seconds are
 * left (WeChat issues 7200 s tokens), and never handed out with fewer than
 * WX_COMPONENT_MIN_LEFT seconds left. When WeChat rejects a token anyway
 * (40001, 40014, 42001), the wx_component_* calls below drop it, get a new
 * one and retry once (spec §3.7); wx_result.token_refreshed tells.
 *
 * Errors: as in wechat/client.h (0 or a BE_* code, the raw WeChat outcome in
 * *res, NULL allowed), plus: BE_FAILED when no component is configured
 * (wx_component_disabled_reason says why); BE_UPSTREAM when no ticket has
 * been received yet, when waiting for another instance's refresh took longer
 * than WX_COMPONENT_WAIT_MAX, or when that refresh failed (res then carries
 * its errcode); store errors as in store/store.h. Diags never contain
 * tokens, tickets or codes.
 *
 * Threads: a struct wx_component is immutable after wx_component_new(); any
 * number of threads may use one. Calls that need a new token can block the
 * calling thread for up to WX_COMPONENT_WAIT_MAX seconds plus one client call
 * (see wechat/client.h for its timeouts). */
#ifndef BINDERY_WECHAT_COMPONENT_H
#define BINDERY_WECHAT_COMPONENT_H

#include <stdbool.h>
#include <stdint.h>

#include "app.h"
#include "core/buf.h"
#include "core/err.h"
#include "wechat/client.h"

/* Seconds of validity left below which a token is replaced. */
#define WX_COMPONENT_REFRESH_AHEAD 600
/* Seconds of validity left below which a token is never used. */
#define WX_COMPONENT_MIN_LEFT 30
/* Seconds a refresher holds the lease; long enough for one client call with
 * its retries (wechat/client.h defaults: about 31 s at worst). A refresher
 * that dies loses the lease after this long and someone else refreshes. */
#define WX_COMPONENT_REFRESH_LEASE 60
/* Seconds a caller waits for someone else's refresh before giving up. */
#define WX_COMPONENT_WAIT_MAX 40
/* Seconds after a failed refresh before the next attempt: until then
 * callers use the current token if it is still valid, or fail at once. */
#define WX_COMPONENT_RETRY_AFTER 30
/* Milliseconds between two looks at the row while waiting. */
#define WX_COMPONENT_POLL_MS 100

struct wx_component;

/* Creates the component of app->cfg (wechat.component_appid,
 * wechat.component_appsecret, wechat.api_base_url). app is kept by
 * reference and must outlive the component. client_opts (NULL: defaults)
 * sets the client's timeouts, retries and transport; its base_url is
 * ignored in favour of the configuration.
 *
 * When wechat.component_appid or wechat.component_appsecret is empty, the
 * component is created disabled: every API call answers BE_FAILED and
 * wx_component_disabled_reason() says which key is missing. Returns
 * BE_INVALID_PARAMETER with a diag naming the key for a value that is set
 * but unusable: an appid or secret over its ceiling, or (for a configured
 * component) a malformed wechat.api_base_url. */
int wx_component_new(struct app *app, const struct wx_client_options *client_opts,
                     struct wx_component **ret_component, struct be_diag *diag);
/* NULL is accepted. */
void wx_component_free(struct wx_component *c);

/* NULL when the component is configured; otherwise a sentence naming the
 * missing configuration key (owned by c). */
const char *wx_component_disabled_reason(const struct wx_component *c);

/* The configured component appid ("" when disabled; owned by c). */
const char *wx_component_appid(const struct wx_component *c);

/* --- the ticket and the token in the store ------------------------------ */

/* Stores a component_verify_ticket pushed at create_time (the push's
 * CreateTime) for app->cfg's component, unless a ticket with a later
 * create_time is already stored (replays and late retries change nothing).
 * ticket: 1..WX_CODE_MAX bytes. BE_FAILED when no component appid is
 * configured. */
int wx_component_save_ticket(struct app *app, const char *ticket, int64_t create_time, int64_t now);

/* What the store holds for app->cfg's component (no secrets). */
struct wx_component_status {
    bool has_ticket;
    int64_t ticket_create_time; /* the push's CreateTime; 0 without a ticket */
    int64_t ticket_received_at;
    bool has_token;
    int64_t token_expires_at; /* unix seconds; 0 without a token */
    int64_t token_generation; /* 0 before the first token */
};

/* Fills *ret; all false/0 when nothing is stored yet or no component is
 * configured. */
int wx_component_status(struct app *app, struct wx_component_status *ret);

/* A component access token as handed out. Wipe it when done. */
struct wx_token {
    char value[WX_TOKEN_MAX + 1];
    int64_t expires_at; /* unix seconds */
    int64_t generation; /* identifies this token in the store */
};

/* Hands out a valid component token, refreshing it as the comment at the
 * top says. stale (NULL allowed) is a token WeChat just rejected: a token of
 * another generation is handed out, refreshing when needed. */
int wx_component_token(struct wx_component *c, const struct wx_token *stale, struct wx_token *ret,
                       struct wx_result *res, struct be_diag *diag);

/* The refresh decision, on what the store row says (exposed for tests and
 * for other token caches that want the same policy). */
struct wx_token_state {
    bool has_ticket;
    bool has_token;
    int64_t expires_at;
    int64_t generation;
    int64_t lease_until; /* a refresh lease is held until then */
    int64_t failed_at;   /* when the last refresh failed; 0 if it did not */
};

enum wx_token_action {
    WX_TOKEN_USE,     /* hand out the stored token */
    WX_TOKEN_REFRESH, /* take the lease and refresh */
    WX_TOKEN_WAIT,    /* someone else is refreshing; look again shortly */
    WX_TOKEN_FAIL,    /* no ticket to refresh with, or the refresh we waited for failed */
};

/* With "usable" meaning: there is a token, its generation is not
 * stale_generation (-1: none) and at least WX_COMPONENT_MIN_LEFT seconds are
 * left; and "refresh blocked" meaning: there is no ticket, or a refresh failed
 * since the caller started (failed_at >= started), or less than
 * WX_COMPONENT_RETRY_AFTER seconds ago:
 *   usable with more than WX_COMPONENT_REFRESH_AHEAD seconds left -> USE;
 *   the lease is held (lease_until > now): usable -> USE, else WAIT;
 *   refresh blocked: usable -> USE, else FAIL;
 *   otherwise -> REFRESH. */
enum wx_token_action wx_token_decide(const struct wx_token_state *st, int64_t now,
                                     int64_t stale_generation, int64_t started);

/* --- component API calls with the cached token ------------------------- */

/* These call the endpoint of the same name in wechat/client.h with the
 * cached token and the configured appid, and follow the retry-once rule. */
int wx_component_create_preauthcode(struct wx_component *c, struct wx_preauthcode *ret,
                                    struct wx_result *res, struct be_diag *diag);
int wx_component_query_auth(struct wx_component *c, const char *authorization_code,
                            struct wx_authorization *ret, struct wx_result *res,
                            struct be_diag *diag);
int wx_component_authorizer_token(struct wx_component *c, const char *authorizer_appid,
                                  const char *authorizer_refresh_token,
                                  struct wx_authorizer_token *ret, struct wx_result *res,
                                  struct be_diag *diag);
int wx_component_get_authorizer_info(struct wx_component *c, const char *authorizer_appid,
                                     struct wx_authorizer_info *ret, struct wx_result *res,
                                     struct be_diag *diag);
/* *ret must be zeroed or released; the caller releases it. */
int wx_component_get_authorizer_list(struct wx_component *c, int64_t offset, unsigned count,
                                     struct wx_authorizer_list *ret, struct wx_result *res,
                                     struct be_diag *diag);
/* Asks WeChat to push a ticket now (no token needed): for a fresh install,
 * or after pushes stopped. */
int wx_component_start_push_ticket(struct wx_component *c, struct wx_result *res,
                                   struct be_diag *diag);

/* --- authorizer refresh tokens at rest ---------------------------------- */

/* Seals an authorizer refresh token for storage (AES-256-GCM under
 * app->keys.seal), bound to app->cfg's component appid and to
 * authorizer_appid, so that a sealed token copied to another authorizer's
 * row does not open. Appends to out. */
void wx_seal_refresh_token(const struct app *app, const char *authorizer_appid,
                           const char *refresh_token, struct buf *out);
/* Opens what wx_seal_refresh_token() made into ret (NUL-terminated).
 * BE_INVALID_PARAMETER when it was tampered with, belongs to another
 * authorizer or component, was sealed under another key, or does not fit. */
int wx_open_refresh_token(const struct app *app, const char *authorizer_appid, const void *sealed,
                          size_t sealed_len, char ret[WX_TOKEN_MAX + 1]);

#endif
