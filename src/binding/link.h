/* The link (关联) between a WeChat app — an Official Account or a Mini
 * Program, named by its authorizer_appid — and a Bindery account: the
 * records, their states and every change to them. This module is the store
 * side only; binding/flow.h talks to WeChat and calls it.
 *
 * States:
 *
 *     (none) ──grant──▶ active ──WeChat ended it (push / detected)──▶ revoked
 *                        │  ▲                                          │
 *                        │  └────────────── grant (重新授权) ◀──────────┘
 *                        └──解绑 (from Bindery)──▶ unlinked ◀──解绑──────┘
 *
 *   active    WeChat's authorization stands; the link serves scan-to-log-in;
 *   revoked   WeChat ended the authorization (停止授权): reason "push" (the
 *             unauthorized event said so) or "detected" (a call answered
 *             61003/61023, or the background check did); the refresh token
 *             is wiped; scan-to-log-in with the app re-authorizes it;
 *   unlinked  ended from Bindery (解绑); the refresh token is wiped and the
 *             row stays only as history. WeChat's side keeps its
 *             authorization (spec §8.2); a later grant of the app is a new
 *             link.
 *
 * Invariants (enforced by the schema and by the transactions here):
 *   - an app has at most one live (active or revoked) link, whichever
 *     account holds it (a unique index on authorizer_appid where the state is
 *     not unlinked);
 *   - an account holds at most link.max_per_account live links;
 *   - an account registered through a mini program cannot link another mini
 *     program unless link.allow_mp_registered_second_mp is on (the seed's
 *     rule; the collaborator route is the way around it);
 *   - every change is one transaction, with one audit row and one or more
 *     history rows written in it; refresh tokens are sealed at rest
 *     (wx_seal_refresh_token: bound to the component and the app).
 *
 * Functions taking a struct store_conn run inside the caller's transaction
 * (store_tx); the others run their own. Errors: the BE_* codes named below,
 * store errors as in store/store.h. Diags name the app and say what to do;
 * they never hold a token. */
#ifndef BINDERY_BINDING_LINK_H
#define BINDERY_BINDING_LINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "app.h"
#include "core/buf.h"
#include "core/err.h"
#include "store/store.h"
#include "wechat/client.h"

/* Permission-set ids kept per link (WeChat grants a few dozen at most). */
#define LINK_FUNC_MAX 64
/* Ceilings of one page of ListLinks / ListLinkHistory. */
#define LINK_PAGE_MAX 200
#define LINK_NOTE_MAX 200
/* Seconds a background check holds its claim on a link. */
#define LINK_CHECK_LEASE 120
/* Longest claim of background checks in one call. */
#define LINK_CHECK_BATCH_MAX 100

enum link_state { LINK_ACTIVE, LINK_REVOKED, LINK_UNLINKED };
enum link_reason { LINK_REASON_NONE, LINK_REASON_PUSH, LINK_REASON_DETECTED };
enum link_app_type { LINK_APP_OA, LINK_APP_MP };

/* "active", "revoked", "unlinked". */
const char *link_state_name(enum link_state state);
/* "", "push", "detected". */
const char *link_reason_name(enum link_reason reason);
/* "oa", "mp" (the words stored in the accounts and links tables). */
const char *link_app_type_name(enum link_app_type type);

/* A link as stored. Times are unix seconds, 0 when not (yet) applicable. */
struct link {
    int64_t id;
    uint64_t owner_uin;
    char appid[WX_APPID_MAX + 1];
    enum link_app_type app_type;
    enum link_state state;
    enum link_reason reason; /* LINK_REASON_NONE unless revoked */
    char nick_name[WX_TEXT_MAX + 1];
    char principal_name[WX_TEXT_MAX + 1];
    char head_img[WX_URL_MAX + 1];
    char user_name[WX_APPID_MAX + 1];
    uint32_t func_ids[LINK_FUNC_MAX];
    size_t nfunc;
    bool has_refresh_token;
    int64_t linked_at;        /* the link was made */
    int64_t authorized_at;    /* the latest grant (link or re-authorization) */
    int64_t grant_seq;        /* +1 at every grant: names the grant a signal ends */
    int64_t last_verified_at; /* WeChat last confirmed the authorization */
    int64_t revoked_at;
    int64_t unlinked_at;
    int64_t check_after;                 /* the background check is due then (active links) */
    char check_error[LINK_NOTE_MAX + 1]; /* why the last check failed, "" if it did not */
    int64_t updated_at;
};

/* What WeChat said about one authorization: api_query_auth (the app, the
 * refresh token, the permission sets granted) plus api_get_authorizer_info
 * (the profile). Holds a secret: wipe it when done. */
struct link_grant {
    char appid[WX_APPID_MAX + 1];
    char refresh_token[WX_TOKEN_MAX + 1]; /* "" when WeChat gave none */
    uint32_t func_ids[LINK_FUNC_MAX];
    size_t nfunc;
    enum link_app_type app_type;
    char nick_name[WX_TEXT_MAX + 1];
    char principal_name[WX_TEXT_MAX + 1];
    char head_img[WX_URL_MAX + 1];
    char user_name[WX_APPID_MAX + 1];
};

/* Fills *ret from the two answers (info may be NULL: profile left empty, type
 * official account). Permission sets beyond LINK_FUNC_MAX are dropped. */
void link_grant_from_wechat(const struct wx_authorization *auth,
                            const struct wx_authorizer_info *info, struct link_grant *ret);

/* --- applying a grant ------------------------------------------------------ */

enum link_purpose {
    LINK_PURPOSE_LINK,  /* 关联 / 重新授权 from an account */
    LINK_PURPOSE_LOGIN, /* scan-to-log-in: the app decides the account */
};

/* "link", "login". */
const char *link_purpose_name(enum link_purpose purpose);

/* Who a grant is for and how it arrived. */
struct link_target {
    enum link_purpose purpose;
    uint64_t owner_uin;         /* LINK: the account to link the app to */
    uint64_t actor_uin;         /* LINK: the principal acting (history, audit); 0 if none */
    const char *expected_appid; /* re-authorize one app: the grant must be for it; NULL: any */
    bool record_login;          /* LOGIN: a session follows; write the login history row */
    const char *via;            /* "redirect", "push": noted in history and audit */
};

enum link_change {
    LINK_CHANGE_CREATED,      /* a new link */
    LINK_CHANGE_REAUTHORIZED, /* a revoked link became active again */
    LINK_CHANGE_REFRESHED,    /* an active link got the new token, sets and profile */
};

/* "created", "reauthorized", "refreshed". */
const char *link_change_name(enum link_change change);

struct link_outcome {
    enum link_purpose purpose; /* the target's */
    enum link_change change;
    bool registered; /* LOGIN: a new account was registered through the app */
    uint64_t uin;    /* the account the link belongs to (LOGIN: log into it) */
    struct link link;
};

/* Applies a grant inside the caller's transaction, idempotently (the same
 * grant applied twice — a push and a redirect of one authorization — leaves
 * one link):
 *
 *   LINK to account A:
 *     app has a live link of A     -> refreshed, or re-authorized if revoked;
 *     app has a live link of B     -> BE_APP_LINKED_ELSEWHERE (the diag says
 *                                     how to reach or free it);
 *     no live link                 -> created, after the account's limit
 *                                     (BE_LINK_LIMIT) and the mini program
 *                                     rule (BE_MP_REGISTERED, with the
 *                                     collaborator route in the diag);
 *   LOGIN:
 *     app has a live link of A     -> refreshed / re-authorized, uin = A;
 *     no live link                 -> a new account registered through the
 *                                     app (account_create_wechat) and linked.
 *
 * expected_appid set and the grant is for another app: BE_INVALID_PARAMETER_VALUE.
 * An unknown account A: BE_NOT_FOUND. Two transactions racing to create the
 * same app's link: one fails with BE_DUPLICATE (the unique index); re-running
 * it finds the other's link. Writes the history rows and one audit row. */
int link_apply_grant(struct store_conn *c, const struct app *app, const struct req_meta *meta,
                     const struct link_target *t, const struct link_grant *g,
                     struct link_outcome *ret, struct be_diag *diag);

/* Inside the caller's transaction: a scan-to-log-in through the live link l
 * into its account (history and audit), for a grant applied earlier (by the
 * push that came before the redirect). */
int link_record_login(struct store_conn *c, const struct req_meta *meta, const struct link *l);

/* The CAM resource of owner's link of appid ("*" for any app):
 * qcs::wxlink::uin/<owner>:link/<appid>, appended to out. */
void link_resource(uint64_t owner_uin, const char *appid, struct buf *out);

/* --- ending a link --------------------------------------------------------- */

/* 解绑: the live link of appid held by owner_uin becomes unlinked and its
 * token is wiped. BE_LINK_NOT_FOUND when owner_uin has no live link of
 * appid. *ret (may be NULL) gets the link as it is now. */
int link_unlink(struct app *app, const struct req_meta *meta, uint64_t owner_uin,
                uint64_t actor_uin, const char *appid, struct link *ret, struct be_diag *diag);

/* WeChat ended the authorization: the active link of appid becomes revoked
 * with reason (PUSH or DETECTED), its token wiped, inside the caller's
 * transaction. A signal ends the grant the caller saw before asking WeChat:
 * grant_seq is that link's grant_seq (0: whatever grant is current), and when
 * the app was granted again meanwhile (a re-authorization that raced with the
 * check) nothing changes. detail (may be NULL, at most LINK_NOTE_MAX bytes)
 * goes to history and audit. *ret (may be NULL) gets the revoked link.
 * BE_NOT_FOUND when there is no active link of appid, or it is another grant
 * than grant_seq. */
int link_revoke(struct store_conn *c, const struct req_meta *meta, const char *appid,
                enum link_reason reason, int64_t grant_seq, const char *detail, struct link *ret);
/* link_revoke() in a transaction of its own. */
int link_revoke_now(struct app *app, const struct req_meta *meta, const char *appid,
                    enum link_reason reason, int64_t grant_seq, const char *detail,
                    struct link *ret);

/* --- reading ----------------------------------------------------------------- */

/* The live link of appid (any account). BE_NOT_FOUND when none. */
int link_get_live(struct app *app, const char *appid, struct link *ret);
/* The same inside the caller's transaction. */
int link_load_live(struct store_conn *c, const char *appid, struct link *ret);
/* The live link of appid if owner_uin holds it; BE_LINK_NOT_FOUND otherwise. */
int link_get_owned(struct app *app, uint64_t owner_uin, const char *appid, struct link *ret);

/* The links of owner_uin (live first, then unlinked; newest first), from
 * offset, at most limit (1..LINK_PAGE_MAX). *ret_links is malloc'd (free()),
 * *ret_total counts them all. */
int link_list(struct app *app, uint64_t owner_uin, size_t offset, size_t limit,
              struct link **ret_links, size_t *ret_n, size_t *ret_total);

/* One row of an account's link history. */
struct link_history_entry {
    int64_t id;
    char appid[WX_APPID_MAX + 1];
    char event[16]; /* linked, reauthorized, refreshed, registered, login, unlinked, revoked */
    char detail[LINK_NOTE_MAX + 1];
    uint64_t actor_uin; /* 0 when WeChat or Bindery itself acted */
    int64_t at;
};

/* The history of owner_uin's links, newest first; as link_list. */
int link_history(struct app *app, uint64_t owner_uin, size_t offset, size_t limit,
                 struct link_history_entry **ret_entries, size_t *ret_n, size_t *ret_total);

/* Opens the sealed refresh token of l into ret. BE_NOT_FOUND when the link
 * has none (revoked, unlinked, or WeChat gave none). */
int link_refresh_token(struct app *app, const struct link *l, char ret[WX_TOKEN_MAX + 1]);

/* --- verification and the background check ------------------------------- */

/* WeChat confirmed grant grant_seq of the active link id at `now`: last
 * verified, the next check at next_check, any check claim released, the check
 * error cleared. refresh_token (may be NULL or "") replaces the stored one;
 * profile (may be NULL) refreshes nick name, principal, avatar and original
 * ID. BE_NOT_FOUND when the link is no longer active or was granted again
 * meanwhile. Not audited: nothing the owner did or should know changed. */
int link_mark_verified(struct app *app, int64_t id, int64_t grant_seq, int64_t now,
                       int64_t next_check, const char *refresh_token,
                       const struct link_grant *profile);

/* A check could not reach a verdict (WeChat unreachable, quota): the error
 * (at most LINK_NOTE_MAX bytes, no secrets) is kept, owner's claim released
 * and the next check set to next_check. BE_NOT_FOUND when owner does not
 * hold the claim any more. */
int link_check_failed(struct app *app, int64_t id, const char *owner, int64_t next_check,
                      const char *error);

/* Claims up to max (1..LINK_CHECK_BATCH_MAX) active links whose check is due
 * (check_after <= now) and not claimed, for owner (1..64 bytes, stable per
 * worker) until now + lease_s, oldest due first. Claims go through the store,
 * so several instances never check one link at once. ret_links holds max
 * entries; *ret_n may be 0. */
int link_claim_checks(struct app *app, const char *owner, int64_t now, int64_t lease_s, size_t max,
                      struct link *ret_links, size_t *ret_n);

/* When the next background check of a link verified at now is due:
 * now + link.check_interval, minus up to a tenth of it at random, so that
 * links made together spread out. */
int64_t link_next_check(const struct config *cfg, int64_t now);

#endif
