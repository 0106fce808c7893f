/* The WeChat platform emulator's state (spec wechat-platform.md §12): WeChat
 * users, authorizers (Official Accounts and Mini Programs) and their admins,
 * components (third-party platforms), the settings that tests switch, and one
 * controllable clock. This is the domain of `bindery platform`; the component
 * API (platform/capi.h), the authorization pages' logic (platform/flow.h) and
 * the pushes (platform/pusher.h) build on it; nothing here knows HTTP.
 *
 *     struct platform *pl;
 *     struct pl_options o = {.data_dir = "./var", .ticket_interval = 600};
 *     if (pl_open(&o, &pl, &diag)) die(diag.msg);
 *     pl_component_put_json(pl, obj, &diag);     // from fixtures or the control API
 *     ... pl_now(pl) ...
 *     pl_close(pl);
 *
 * State lives in the emulator's own SQLite file (DATA_DIR/platform.db, schema
 * component "platform" of store_migrate_list), never in Bindery's store, so a
 * restart keeps users, authorizations, codes and the clock.
 *
 * The clock. Every expiry (tickets, tokens, codes, QR sessions), every
 * CreateTime and every quota day is read from pl_now(): the wall clock plus
 * an offset that only grows (pl_clock_advance). Transport times are not: the
 * URL `timestamp` of a push and retry delays use the wall clock, because the
 * receiver checks that timestamp against its own clock.
 *
 * Errors: 0 or a negative BE_* code; diag (NULL allowed) names the offending
 * field. Validation failures are BE_MISSING_PARAMETER, BE_INVALID_PARAMETER
 * or BE_INVALID_PARAMETER_VALUE; an unknown entity referenced by another is
 * BE_NOT_FOUND; store failures as in store/store.h.
 *
 * Threads: a struct platform may be used by any number of threads at once;
 * every change runs in one store transaction. */
#ifndef BINDERY_PLATFORM_PLATFORM_H
#define BINDERY_PLATFORM_PLATFORM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "core/buf.h"
#include "core/err.h"
#include "store/store.h"

/* Ceilings of values clients (tests, fixtures, browsers) hand the emulator,
 * in bytes without the NUL. */
#define PL_ID_MAX                        64 /* appids, wxids */
#define PL_NAME_MAX                      128 /* nicknames, nick_name, principal_name, component name */
#define PL_TEXT_MAX                      512  /* signature, alias, head_img */
#define PL_URL_MAX                       2048 /* auth_event_url, redirect_uri */
#define PL_DOMAIN_MAX                    255  /* entry_domain (host or host:port) */
#define PL_CODE_MAX                      511 /* tokens, tickets, codes (spec §2: 512-byte buffers) */
#define PL_SECRET_MAX                    128 /* component secret */
#define PL_TOKEN_MIN                     3   /* message check token, spec §1: 3..32 */
#define PL_TOKEN_MAX                     32
#define PL_FUNCS_MAX                     64   /* permission-set ids in one list */
#define PL_FUNC_ID_MAX                   1000 /* largest permission-set id */
#define PL_ADMINS_MAX                    64   /* admins of one authorizer */
#define PL_IPS_MAX                       32   /* entries of an IP whitelist */
#define PL_TEST_APPIDS_MAX               64   /* entries of a component's test list */
#define PL_MAX_COMPONENTS_PER_AUTHORIZER 15   /* spec §5.3 */
#define PL_LIST_MAX                      500  /* api_get_authorizer_list count (spec §4.7) */
#define PL_CLOCK_ADVANCE_MAX             (10LL * 366 * 86400)

/* Lifetimes of spec §2 and §10, in seconds of pl_now(). */
#define PL_TICKET_TTL        43200
#define PL_TOKEN_TTL         7200
#define PL_TOKEN_GRACE       300 /* an old token stays valid this long after a newer one */
#define PL_PRE_AUTH_CODE_TTL 1800
#define PL_AUTH_CODE_TTL     3600

/* Permission sets granted by default (spec §4.10). */
#define PL_DEFAULT_OA_FUNCS "1,2,3,4,7,11,15"
#define PL_DEFAULT_MP_FUNCS "17,18,19"

/* The switches tests and demos turn (control API); persisted in the store. */
struct pl_settings {
    int64_t clock_offset;            /* seconds added to the wall clock */
    bool suppress_unauthorized;      /* record `unauthorized` pushes but never send them */
    uint32_t push_delay_ms;          /* every push waits this long before its first attempt */
    uint32_t retry_ms;               /* first retry of an authorization push; the second waits 2x */
    bool redirect_first;             /* release the PC redirect before the push is attempted */
    uint32_t error_rate_ppm;         /* fault: this share (per million) of API calls answer -1 */
    uint32_t latency_ms;             /* fault: every API call is answered this much later */
    bool drop_pushes;                /* fault: pushes are dropped instead of sent */
    bool check_referer;              /* spec §5.2 rule 1 */
    bool quotas;                     /* enforce the daily quotas of spec §10 (45009) */
    bool single_use_codes;           /* an authorization code works once (61009 after) */
    bool rotate_refresh_on_update;   /* a new refresh token on update authorization */
    uint32_t quota_component_token;  /* api_component_token calls per day and component */
    uint32_t quota_authorizer_token; /* api_authorizer_token calls per day and authorizer */
    uint32_t quota_other;            /* other component API calls per day and component */
};

/* Bounds of the settings. */
#define PL_ERROR_RATE_PPM_MAX 1000000u
#define PL_DELAY_MS_MAX       600000u
#define PL_LATENCY_MS_MAX     60000u
#define PL_RETRY_MS_MIN       10u
#define PL_QUOTA_MAX          100000000u

/* A QR session id (24 base64url characters). */
#define PL_SESSION_ID_LEN 24

/* A sorted list of distinct permission-set ids. */
struct pl_funcs {
    int id[PL_FUNCS_MAX];
    size_t n;
};
/* Parses "1,2,3" (as stored); BE_INVALID_PARAMETER_VALUE for anything else
 * (an id outside 1..PL_FUNC_ID_MAX, more than PL_FUNCS_MAX ids). Duplicates
 * are merged. "" is the empty list. */
int pl_funcs_parse(const char *s, struct pl_funcs *ret);
/* Parses a JSON array of ids with the same rules. */
int pl_funcs_from_json(const json_t *arr, struct pl_funcs *ret);
/* Adds id, keeping the list sorted and distinct; BE_INVALID_PARAMETER_VALUE
 * when out of range or full. */
int pl_funcs_add(struct pl_funcs *f, int64_t id);
void pl_funcs_format(const struct pl_funcs *f, struct buf *out);
bool pl_funcs_equal(const struct pl_funcs *a, const struct pl_funcs *b);
bool pl_funcs_has(const struct pl_funcs *f, int id);
/* A JSON array of {"funcscope_category": {"id": n}} (spec §4.4). New reference. */
json_t *pl_funcs_info_json(const struct pl_funcs *f);

/* An appid or wxid: 1..PL_ID_MAX characters of [A-Za-z0-9_-]. NULL is not. */
bool pl_valid_id(const char *s);

struct platform;

struct pl_options {
    const char *data_dir;     /* the store is sqlite://DATA_DIR/platform.db */
    const char *store_url;    /* overrides data_dir's file when non-NULL (tests) */
    uint64_t ticket_interval; /* seconds between component_verify_ticket pushes; 0 = 600 */
    int64_t fixed_time;       /* tests: the clock starts here and moves only when advanced;
                                 0 = the wall clock */
};

/* Opens (creating and migrating) the emulator's store and loads the
 * settings. On error diag says why. */
int pl_open(const struct pl_options *opts, struct platform **ret_pl, struct be_diag *diag);
/* NULL is accepted. Stop the pusher (platform/pusher.h) first. */
void pl_close(struct platform *pl);

/* The emulator clock: wall clock (or the fixed time of the options) + the
 * settings' offset, unix seconds. */
int64_t pl_now(struct platform *pl);
/* Moves the clock forward by 0..PL_CLOCK_ADVANCE_MAX seconds (never back:
 * tickets and CreateTimes must not go backwards) and wakes the pusher, whose
 * next ticket may now be due. ret_now (may be NULL) gets the new time. */
int pl_clock_advance(struct platform *pl, int64_t seconds, int64_t *ret_now);

/* A copy of the current settings. */
void pl_settings_get(struct platform *pl, struct pl_settings *ret);
/* Replaces the settings (clock_offset is kept: use pl_clock_advance), after
 * checking the bounds above; persisted before returning. */
int pl_settings_set(struct platform *pl, const struct pl_settings *s, struct be_diag *diag);

/* The seconds between ticket pushes. */
uint64_t pl_ticket_interval(const struct platform *pl);

/* --- entities, from JSON (control API bodies and fixture entries) -------
 * Each creates the entity or replaces the fields given (an upsert); fields
 * that are absent keep their value, or take the default on creation. Unknown
 * members are refused (BE_UNKNOWN_PARAMETER naming them), so that a typo in a
 * fixture is not silently ignored. */

/* {"wxid": "[A-Za-z0-9_-]{1,64}", "nickname": "..."} */
int pl_wxuser_put_json(struct platform *pl, const json_t *obj, struct be_diag *diag);

/* {"appid", "kind": "mp"|"oa", "nick_name", "principal_name",
 *  "admins": ["wxid", ...]} and optionally "user_name" (gh_ + 12 hex; default
 * derived from the appid), "alias", "signature", "head_img",
 * "service_type" (default 0 for mp, 2 for oa), "verify_type" (default 0),
 * "account_status" (1 normal, 14, 16, 18, 19; only 1 is listed on the
 * phone). Every admin must be a known WeChat user (BE_NOT_FOUND). "admins"
 * replaces the admin list. */
int pl_authorizer_put_json(struct platform *pl, const json_t *obj, struct be_diag *diag);

/* {"component_appid", "secret", "token", "aes_key", "auth_event_url",
 *  "entry_domain"} and optionally "name", "ip_whitelist": ["a.b.c.d", ...]
 * (empty = no check), "published" (default true), "test_appids": [...],
 * "oa_funcs", "mp_funcs": [ids] (default grants, spec §4.10),
 * "ticket_pushes" (default true). The aes_key must be a valid EncodingAESKey
 * (43 chars); changing it keeps the old one as the previous key. The appid
 * may not be an authorizer's. Registration does not push a ticket by itself:
 * the pusher pushes the first one on its next round. */
int pl_component_put_json(struct platform *pl, const json_t *obj, struct be_diag *diag);

/* Key rotation (spec §7.8): the current EncodingAESKey becomes the previous
 * one and new_key (NULL: a random one) the current; pushes use the new key
 * from now on. BE_NOT_FOUND for an unknown component. */
int pl_component_rotate_key(struct platform *pl, const char *component_appid, const char *new_key,
                            struct be_diag *diag);

/* Everything, for debugging (GET /__emu/control/state): clock, settings,
 * users, authorizers with their per-API check counters, components (with
 * their secrets: it is an emulator), authorizations, credentials, QR
 * sessions, push jobs and the delivery log. Lists of credentials, sessions
 * and pushes hold the newest PL_STATE_ROWS rows. *ret is a new reference. */
#define PL_STATE_ROWS 500
int pl_state_json(struct platform *pl, json_t **ret);

/* Every per-authorizer call counter, without the state's row limit
 * (GET /__emu/control/calls): {"<api>": {"<authorizer appid>": n, ...}, ...}
 * summed over components and days. *ret is a new reference. */
int pl_calls_json(struct platform *pl, json_t **ret);

/* Loads a fixture file: {"wxusers": [...], "authorizers": [...],
 * "components": [...], "settings": {...}} (each list optional; entries as
 * for the put functions above; settings as for POST /__emu/control/settings),
 * at most PL_FIXTURE_MAX_BYTES. diag names the file, the list and the index
 * of a bad entry. */
#define PL_FIXTURE_MAX_BYTES (1024 * 1024)
int pl_fixtures_load(struct platform *pl, const char *path, struct be_diag *diag);

/* Applies a settings object (the body of the control API's settings,
 * pushes and faults endpoints: any subset of the members below) on top of
 * the current settings:
 *   "unauthorized": "deliver"|"suppress", "delay_ms", "retry_ms",
 *   "order": "push_first"|"redirect_first",
 *   "error_rate": 0..1, "latency_ms", "drop_pushes",
 *   "check_referer", "quotas", "single_use_codes", "rotate_refresh_on_update",
 *   "quota_limits": {"api_component_token", "api_authorizer_token", "other"}.
 * Nothing changes when a member is invalid. */
int pl_settings_apply_json(struct platform *pl, const json_t *obj, struct be_diag *diag);

#endif
