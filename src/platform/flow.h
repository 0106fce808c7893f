/* The authorization flow behind the emulator's pages (spec §5, §8, §11.2):
 * entering the PC or H5 authorization page, the QR session, the "phone"
 * (scan, pick an app, confirm the permission sets), and the mp console's
 * 停止授权. The HTML lives in platform/web.h; the control API drives the
 * same functions, so a test without a browser does exactly what the pages
 * do.
 *
 * QR session states (spec §5.5): waiting -> scanned -> confirmed |
 * cancelled | expired. A session expires with its pre_auth_code.
 *
 * Confirming (spec §5.3, §8.1, §8.4), in one transaction:
 *   - the session is open, its pre_auth_code unused and unexpired (the code
 *     is consumed here: one authorization per code);
 *   - the WeChat user administers the app, the app is listed for the
 *     session's filters (auth_type, biz_appid; account_status 1), the
 *     component is published or the app is on its test list, the app holds
 *     fewer than 15 other authorizations, and at least one offered
 *     permission set is ticked;
 *   - no authorization, or a revoked one: it becomes active with a new
 *     refresh token and the `authorized` push is queued; an active one with
 *     different sets gets them (and `updateauthorized`); with the same sets
 *     nothing is pushed;
 *   - a new authorization code (3600 s) is issued for the redirect and the
 *     push (the same value), and the redirect URL is
 *     redirect_uri?auth_code=…&expires_in=3600 (& when it has a query).
 * The PC page's poll releases the redirect once the push has had its first
 * attempt (or at once under the redirect_first setting, or when there is no
 * push).
 *
 * Revoking (spec §8.3): the authorization becomes revoked, its refresh
 * token dies (61003 from then on), its authorizer access tokens and unused
 * authorization codes are revoked (40001, 61009), and the `unauthorized`
 * push is queued (recorded but not sent under the suppress setting).
 *
 * Errors: 0; BE_FAILED with err->reason for a refusal the pages show (the
 * control API answers 409 / 404 with the marker); BE_* store errors with
 * reason PL_FLOW_OK. */
#ifndef BINDERY_PLATFORM_FLOW_H
#define BINDERY_PLATFORM_FLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "platform/platform.h"

/* A redirect URL: redirect_uri plus the code and expires_in. */
#define PL_REDIRECT_MAX (PL_URL_MAX + 160)
/* Apps listed on one page. */
#define PL_APPS_MAX 256
/* Components listed on one mp page. */
#define PL_GRANTS_MAX 64
/* WeChat users listed by a picker. */
#define PL_USERS_MAX 256

enum pl_flow_reason {
    PL_FLOW_OK = 0,
    /* the markers of spec §5.2 */
    PL_FLOW_REFERER,
    PL_FLOW_REDIRECT_DOMAIN,
    PL_FLOW_CODE_INVALID,
    PL_FLOW_CODE_USED,
    PL_FLOW_CODE_EXPIRED,
    PL_FLOW_NOT_PUBLISHED,
    /* the emulator's own */
    PL_FLOW_SESSION_INVALID,
    PL_FLOW_SESSION_EXPIRED,
    PL_FLOW_SESSION_CLOSED, /* already confirmed or cancelled */
    PL_FLOW_WXUSER_UNKNOWN,
    PL_FLOW_NOT_ADMIN,
    PL_FLOW_APP_NOT_LISTED,
    PL_FLOW_NO_FUNCS,
    PL_FLOW_TOO_MANY_COMPONENTS,
    PL_FLOW_NOT_AUTHORIZED,
    PL_FLOW_BAD_REQUEST,
};

struct pl_flow_error {
    enum pl_flow_reason reason;
    char detail[512]; /* a sentence for the page (may name domains and appids) */
};

/* The marker of the error page, <meta name="emu-error" content="...">:
 * "referer", "redirect_domain", "pre_auth_code_invalid", … for the spec's
 * reasons, "session_invalid", "not_admin", … for the others; "" for OK. */
const char *pl_flow_marker(enum pl_flow_reason r);
/* A short Chinese title for the error page. */
const char *pl_flow_title(enum pl_flow_reason r);

/* What an authorization page is entered with (query arguments as sent,
 * NULL when absent; referer: the Referer header). */
struct pl_flow_entry {
    const char *component_appid, *pre_auth_code, *redirect_uri, *auth_type, *biz_appid,
        *category_id_list;
    const char *referer;
    bool h5;
};

/* Checks spec §5.2 (Referer / redirect domain, then the pre_auth_code, then
 * "published" for a biz_appid) and opens a QR session; ret_session gets its
 * id. */
int pl_flow_open(struct platform *pl, const struct pl_flow_entry *e,
                 char ret_session[PL_SESSION_ID_LEN + 1], struct pl_flow_error *err);

struct pl_session {
    char id[PL_SESSION_ID_LEN + 1];
    char component[PL_ID_MAX + 1];
    char component_name[PL_NAME_MAX + 1];
    char state[16]; /* waiting, scanned, confirmed, cancelled, expired */
    bool h5;
    char scanned_by[PL_ID_MAX + 1];
    char chosen_appid[PL_ID_MAX + 1];
    char biz_appid[PL_ID_MAX + 1];
    int auth_type;
    char redirect_url[PL_REDIRECT_MAX + 1]; /* "" until confirmed */
    bool released;                          /* the poll may send the browser on */
    int64_t expires_at;
};

/* The session as the poll sees it (state "expired" once past its time).
 * PL_FLOW_SESSION_INVALID for an unknown id. */
int pl_flow_session(struct platform *pl, const char *id, struct pl_session *ret,
                    struct pl_flow_error *err);
/* The id of the newest session opened with pre_auth_code. */
int pl_flow_session_by_code(struct platform *pl, const char *pre_auth_code,
                            char ret_session[PL_SESSION_ID_LEN + 1], struct pl_flow_error *err);

struct pl_app {
    char appid[PL_ID_MAX + 1];
    char kind[3]; /* "mp", "oa" */
    char nick_name[PL_NAME_MAX + 1];
    int64_t account_status;
    bool authorized; /* to the session's component (scan), or to any (mp console) */
};

struct pl_app_list {
    struct pl_app *apps; /* owned; pl_app_list_release */
    size_t n;
};
void pl_app_list_release(struct pl_app_list *l);

/* The phone after scanning session's QR as wxid: marks the session
 * scanned and lists the apps wxid administers that the session's filters
 * allow (PL_FLOW_NOT_ADMIN when biz_appid names an app wxid does not
 * administer). The list may be empty (a non-admin sees no account). */
int pl_flow_scan(struct platform *pl, const char *session, const char *wxid,
                 struct pl_app_list *ret, struct pl_flow_error *err);

struct pl_confirm_info {
    struct pl_app app;
    char component_name[PL_NAME_MAX + 1];
    struct pl_funcs offered; /* what the page shows */
    struct pl_funcs checked; /* ticked at first: all offered, or the current grant */
    bool already;            /* already authorized to this component (§5.3 step 3) */
};

/* The confirm page of appid in session for wxid (the same checks as
 * confirming, short of the permission sets). */
int pl_flow_confirm_info(struct platform *pl, const char *session, const char *wxid,
                         const char *appid, struct pl_confirm_info *ret, struct pl_flow_error *err);

struct pl_confirm_result {
    char auth_code[PL_CODE_MAX + 1];
    char redirect_url[PL_REDIRECT_MAX + 1];
    const char *push; /* "authorized", "updateauthorized" or NULL (static) */
    bool already;
    bool h5;
};

/* Confirms with funcs ticked (NULL: the confirm page's initial ticks). */
int pl_flow_confirm(struct platform *pl, const char *session, const char *wxid, const char *appid,
                    const struct pl_funcs *funcs, struct pl_confirm_result *ret,
                    struct pl_flow_error *err);

/* The admin cancels on the phone: the session becomes cancelled. */
int pl_flow_cancel(struct platform *pl, const char *session, struct pl_flow_error *err);

/* 停止授权 of component by authorizer (spec §8.3). ret_pushed (may be NULL)
 * tells whether an `unauthorized` push will be sent (false when suppressed
 * or the component has no URL). PL_FLOW_NOT_AUTHORIZED when there is no
 * active authorization. */
int pl_flow_revoke(struct platform *pl, const char *component, const char *authorizer,
                   bool *ret_pushed, struct pl_flow_error *err);

/* ---- for the pickers and the mp console ---- */

struct pl_user {
    char wxid[PL_ID_MAX + 1];
    char nickname[PL_NAME_MAX + 1];
};
/* Up to PL_USERS_MAX WeChat users by wxid; *ret is malloc'd (free()). */
int pl_flow_users(struct platform *pl, struct pl_user **ret, size_t *ret_n);
/* The nickname of wxid; PL_FLOW_WXUSER_UNKNOWN when there is none. */
int pl_flow_user(struct platform *pl, const char *wxid, struct pl_user *ret,
                 struct pl_flow_error *err);
/* Every app wxid administers (any status), each marked authorized when it
 * has an active authorization with any component. */
int pl_flow_user_apps(struct platform *pl, const char *wxid, struct pl_app_list *ret);
/* Is wxid an admin of appid? */
int pl_flow_is_admin(struct platform *pl, const char *wxid, const char *appid, bool *ret);

struct pl_grant {
    char component[PL_ID_MAX + 1];
    char component_name[PL_NAME_MAX + 1];
    struct pl_funcs funcs;
    int64_t auth_time;
};
/* The app and the components it has authorized (active), newest first, up
 * to PL_GRANTS_MAX; *ret is malloc'd (free()). */
int pl_flow_grants(struct platform *pl, const char *appid, struct pl_app *ret_app,
                   struct pl_grant **ret, size_t *ret_n, struct pl_flow_error *err);

/* The permission-set name of spec §4.10 for id ("权限集 id" when unknown);
 * out needs 64 bytes. */
void pl_flow_func_name(int id, char out[64]);

#endif
