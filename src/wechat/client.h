/* The component API client (spec §3-4): one function per endpoint of the
 * WeChat Open Platform third-party platform, over HTTP(S) with libcurl.
 *
 *     struct wx_client_options o = {.base_url = cfg->wechat_api_base_url};
 *     struct wx_client *cl;
 *     if (wx_client_new(&o, &cl, &diag)) ...
 *     struct wx_preauthcode pac;
 *     struct wx_result res;
 *     int rc = wx_client_create_preauthcode(cl, token, appid, &pac, &res, &diag);
 *     if (rc && res.errcode == 61004) ...   // branch on WeChat's own code
 *
 * This layer is stateless: every call that needs a component access token
 * takes it as an argument. Caching the token in the store, refreshing it
 * ahead of expiry and the retry-once rule of §3.7 are wechat/component.h's
 * business; most callers use that module, not this one.
 *
 * Errors. Every call returns 0 or a BE_* code, and fills *res (NULL allowed)
 * with what WeChat said, success or not, so that callers can branch on the
 * raw errcode (61003/61023: the authorization is gone, §8.3):
 *   - the answer carried a non-zero errcode: wx_errcode_to_be(errcode);
 *   - no HTTP answer (connection, DNS, TLS, timeout): BE_UPSTREAM,
 *     res->kind = WX_FAIL_NETWORK;
 *   - HTTP status other than 200: BE_UPSTREAM, WX_FAIL_HTTP;
 *   - a 200 whose body is not the JSON the spec describes (not JSON, a
 *     required field missing or of the wrong type, a value over its
 *     ceiling, over WX_CLIENT_MAX_RESPONSE bytes): BE_UPSTREAM,
 *     WX_FAIL_BAD_RESPONSE;
 *   - a caller-supplied argument that is NULL, empty or over its ceiling:
 *     BE_INVALID_PARAMETER_VALUE (BE_MISSING_PARAMETER when NULL/empty),
 *     WX_FAIL_ARGUMENT, and nothing is sent.
 * diag (NULL allowed) gets one line naming the endpoint and the failure
 * ("api_query_auth: code is invalid (61009)"); it never contains a token,
 * a secret, a code or a ticket.
 *
 * Retries. Transient failures are retried within one call: network errors,
 * HTTP 5xx and errcode -1, at most max_attempts times in all, with
 * exponential back-off (backoff_ms, then x4 each time, each delay drawn in
 * [d/2, d]). Nothing else is retried here. Retrying is safe for every
 * endpoint: the ones that create something (a token, a pre-auth code) only
 * make an unused extra; api_query_auth may fail with 61009 on a retry when
 * the platform makes codes single-use and the first answer was lost.
 *
 * Secrets. Tokens, the app secret, tickets, codes and refresh tokens are
 * never logged; the buffers this module builds around them (URL, request
 * and response bodies) are wiped before they are freed. The JSON parser's
 * own copies are freed without wiping. Output structs that hold a token
 * should be wiped by the caller (crypto_wipe(&x, sizeof(x))).
 *
 * Threads. A struct wx_client is immutable after wx_client_new(); any number
 * of threads may call through one at once (one curl handle per request,
 * CURLOPT_NOSIGNAL). */
#ifndef BINDERY_WECHAT_CLIENT_H
#define BINDERY_WECHAT_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/err.h"

/* Ceilings of values read from or sent to WeChat, in bytes without the NUL.
 * Spec §2 advises 512-byte buffers for every credential. */
#define WX_TOKEN_MAX           511  /* access tokens, refresh tokens */
#define WX_CODE_MAX            511  /* tickets, pre-auth codes, authorization codes */
#define WX_SECRET_MAX          128  /* the component app secret */
#define WX_APPID_MAX           64   /* appids, original IDs (gh_...) */
#define WX_TEXT_MAX            255  /* names */
#define WX_LONG_TEXT_MAX       1023 /* the account description */
#define WX_URL_MAX             2047 /* avatar and QR URLs */
#define WX_ERRMSG_MAX          255
#define WX_FUNC_MAX            256 /* permission sets in one func_info */
#define WX_CLIENT_MAX_RESPONSE (1024 * 1024)
#define WX_BASE_URL_MAX        1024
/* api_get_authorizer_list: `count` is at most 500 (spec §4.7). */
#define WX_AUTHORIZER_LIST_MAX 500

/* Defaults of struct wx_client_options (used for zero fields). */
#define WX_CLIENT_CONNECT_TIMEOUT_MS 5000
#define WX_CLIENT_TIMEOUT_MS         10000 /* one attempt, connect included */
#define WX_CLIENT_MAX_ATTEMPTS       3
#define WX_CLIENT_BACKOFF_MS         200
/* Ceiling of max_attempts. */
#define WX_CLIENT_ATTEMPTS_LIMIT 10

/* --- what WeChat said -------------------------------------------------- */

enum wx_fail_kind {
    WX_FAIL_NONE = 0,     /* success */
    WX_FAIL_ARGUMENT,     /* refused before sending */
    WX_FAIL_NETWORK,      /* no HTTP answer */
    WX_FAIL_HTTP,         /* an HTTP status other than 200 */
    WX_FAIL_BAD_RESPONSE, /* a 200 that is not what the spec describes */
    WX_FAIL_ERRCODE,      /* a 200 with a non-zero errcode */
};

/* The outcome of one call, filled on success and on failure. */
struct wx_result {
    enum wx_fail_kind kind;
    long errcode;                   /* WeChat's errcode; 0 unless kind is WX_FAIL_ERRCODE */
    char errmsg[WX_ERRMSG_MAX + 1]; /* WeChat's errmsg (with its rid), "" if none */
    long http_status;               /* of the last attempt; 0 when none answered */
    unsigned attempts;              /* HTTP requests sent for this call */
    bool token_refreshed;           /* set by wx_component_*: retried after a token error */
};

/* Resets *res to "nothing happened yet". */
void wx_result_clear(struct wx_result *res);

/* The BE_* code for a WeChat errcode (spec §9):
 *   0                                   -> BE_OK
 *   45009, 45011 (quotas)               -> BE_RATE_LIMITED
 *   61009, 61010 (bad or expired code), 40097, 40170 (bad arguments)
 *                                       -> BE_INVALID_PARAMETER_VALUE
 *   61003, 61023 (authorization gone, refresh token dead), 61007, 48001
 *   (permission not granted), 42007 (re-authorization needed)
 *                                       -> BE_FAILED
 *   47001, 44002 (we sent a bad body)   -> BE_INTERNAL
 *   anything else: -1, token errors (40001, 40014, 42001, 41001),
 *   component configuration (40013, 61011, 41004, 40125, 61004, 61014,
 *   61024), ticket (61005, 61006), unknown codes
 *                                       -> BE_UPSTREAM */
int wx_errcode_to_be(long errcode);

/* A short English description of a known errcode ("code is expired"), or
 * "error" for an unknown one. Never NULL. */
const char *wx_errcode_text(long errcode);

/* 40001, 40014, 42001: the component token is invalid or expired; drop it,
 * fetch a new one and retry once (spec §3.7). */
bool wx_errcode_is_token_error(long errcode);

/* 61003, 61023: the authorizer is no longer authorized to the component or
 * its refresh token is dead (spec §8.3); the link life cycle should check the
 * authorization (api_get_authorizer_info / _list). */
bool wx_errcode_is_revocation_signal(long errcode);

/* Whether an attempt that ended like this is retried (network error, HTTP
 * 5xx, errcode -1). transport_rc is the transport's return value, status the
 * HTTP status, errcode the body's errcode (0 when none). */
bool wx_client_should_retry(int transport_rc, long status, long errcode);

/* The back-off before attempt n + 1 after attempt n (n >= 1) failed, for a
 * first back-off of base_ms: a value in [d/2, d] with d = base_ms * 4^(n-1),
 * capped at 30 s; rnd (any value) picks the point in the range. */
unsigned wx_client_backoff_ms(unsigned base_ms, unsigned n, uint64_t rnd);

/* --- the client -------------------------------------------------------- */

/* Which query parameter carries the component token (spec §3.2). WeChat
 * accepts both; the older name is what most SDKs send. */
enum wx_token_param {
    WX_TOKEN_PARAM_COMPONENT_ACCESS_TOKEN = 0, /* ?component_access_token=T */
    WX_TOKEN_PARAM_ACCESS_TOKEN,               /* ?access_token=T */
};

/* The HTTP transport: sends one POST of body (len bytes, JSON) to url and
 * appends at most max_body bytes of the answer to ret_body. Returns 0 with
 * *ret_status set when an HTTP answer arrived (whatever its status);
 * BE_UPSTREAM when none did (retried); BE_BODY_TOO_LARGE when the answer
 * exceeded max_body (not retried). diag gets the reason, never the URL (it
 * holds the token). The default is libcurl; tests and benchmarks plug in
 * their own. Called from any thread. */
typedef int (*wx_transport_fn)(void *ctx, const char *url, const char *body, size_t len,
                               unsigned connect_timeout_ms, unsigned timeout_ms, size_t max_body,
                               long *ret_status, struct buf *ret_body, struct be_diag *diag);

struct wx_client_options {
    /* "https://api.weixin.qq.com", or the emulator's URL; http or https, at
     * most WX_BASE_URL_MAX bytes; trailing slashes are ignored. Required. */
    const char *base_url;
    enum wx_token_param token_param;
    unsigned connect_timeout_ms; /* 0: WX_CLIENT_CONNECT_TIMEOUT_MS */
    unsigned timeout_ms;         /* 0: WX_CLIENT_TIMEOUT_MS */
    unsigned max_attempts;       /* 0: WX_CLIENT_MAX_ATTEMPTS; at most WX_CLIENT_ATTEMPTS_LIMIT */
    unsigned backoff_ms;         /* 0: WX_CLIENT_BACKOFF_MS */
    wx_transport_fn transport;   /* NULL: libcurl */
    void *transport_ctx;
};

struct wx_client;

/* Creates a client (options are copied). BE_INVALID_PARAMETER with a diag
 * for a missing or malformed base URL or max_attempts over the limit.
 * Initialises libcurl's global state (thread-safe with libcurl >= 7.84). */
int wx_client_new(const struct wx_client_options *opts, struct wx_client **ret_client,
                  struct be_diag *diag);
/* NULL is accepted. */
void wx_client_free(struct wx_client *cl);

/* --- the endpoints (spec §4) ------------------------------------------- */

/* api_component_token (§4.1). */
struct wx_component_token {
    char access_token[WX_TOKEN_MAX + 1];
    int64_t expires_in; /* seconds, 1..2^31 */
};

/* api_create_preauthcode (§4.3). */
struct wx_preauthcode {
    char pre_auth_code[WX_CODE_MAX + 1];
    int64_t expires_in;
};

/* authorization_info of api_query_auth (§4.4) and api_get_authorizer_info
 * (§4.6). The tokens are "" when WeChat sent none (an authorizer without API
 * permission; get_authorizer_info never sends an access token). func_ids are
 * the permission sets actually granted, in the order received. */
struct wx_authorization {
    char authorizer_appid[WX_APPID_MAX + 1];
    char authorizer_access_token[WX_TOKEN_MAX + 1];
    int64_t expires_in; /* of the access token; 0 when there is none */
    char authorizer_refresh_token[WX_TOKEN_MAX + 1];
    uint32_t func_ids[WX_FUNC_MAX];
    size_t nfunc;
};

/* api_authorizer_token (§4.5). Store the refresh token that comes back,
 * even when it did not change. */
struct wx_authorizer_token {
    char authorizer_access_token[WX_TOKEN_MAX + 1];
    int64_t expires_in;
    char authorizer_refresh_token[WX_TOKEN_MAX + 1]; /* "" when WeChat sent none */
};

/* api_get_authorizer_info (§4.6): the fields Bindery uses. Strings are ""
 * and numbers -1 when absent (the ids can be 0). */
struct wx_authorizer_info {
    char nick_name[WX_TEXT_MAX + 1];
    char head_img[WX_URL_MAX + 1];
    int64_t service_type;             /* service_type_info.id */
    int64_t verify_type;              /* verify_type_info.id (-1 is also "not verified") */
    char user_name[WX_APPID_MAX + 1]; /* original ID, gh_... */
    char alias[WX_TEXT_MAX + 1];
    char qrcode_url[WX_URL_MAX + 1];
    char principal_name[WX_TEXT_MAX + 1];
    char signature[WX_LONG_TEXT_MAX + 1];
    bool is_mini_program;   /* MiniProgramInfo present */
    int64_t account_status; /* 1 normal, 14 cancelled, 16 banned, 18 warned, 19 frozen */
    int64_t register_type;
    /* authorization_info; the appid is also read from the old name "appid" */
    struct wx_authorization authorization;
};

/* One entry of api_get_authorizer_list (§4.7). */
struct wx_authorizer_entry {
    char authorizer_appid[WX_APPID_MAX + 1];
    char refresh_token[WX_TOKEN_MAX + 1]; /* "" when absent */
    int64_t auth_time;
};

/* A page of api_get_authorizer_list; items is owned by the list. */
struct wx_authorizer_list {
    int64_t total_count;
    size_t n;
    struct wx_authorizer_entry *items;
};

/* Wipes the refresh tokens, frees the items and empties the list; safe on a
 * zeroed or already released list. */
void wx_authorizer_list_release(struct wx_authorizer_list *list);

/* POST /cgi-bin/component/api_component_token with the appid, the secret
 * and a ticket; no token parameter. */
int wx_client_component_token(struct wx_client *cl, const char *component_appid,
                              const char *component_appsecret, const char *ticket,
                              struct wx_component_token *ret, struct wx_result *res,
                              struct be_diag *diag);

/* POST /cgi-bin/component/api_start_push_ticket (note: the body field is
 * "component_secret"); asks WeChat to push a ticket now. */
int wx_client_start_push_ticket(struct wx_client *cl, const char *component_appid,
                                const char *component_appsecret, struct wx_result *res,
                                struct be_diag *diag);

/* POST /cgi-bin/component/api_create_preauthcode?TOKEN. */
int wx_client_create_preauthcode(struct wx_client *cl, const char *component_token,
                                 const char *component_appid, struct wx_preauthcode *ret,
                                 struct wx_result *res, struct be_diag *diag);

/* POST /cgi-bin/component/api_query_auth?TOKEN: exchanges an authorization
 * code (the redirect's auth_code or a push's AuthorizationCode). */
int wx_client_query_auth(struct wx_client *cl, const char *component_token,
                         const char *component_appid, const char *authorization_code,
                         struct wx_authorization *ret, struct wx_result *res, struct be_diag *diag);

/* POST /cgi-bin/component/api_authorizer_token?TOKEN. 61003/61023 when the
 * authorization is gone (wx_errcode_is_revocation_signal). */
int wx_client_authorizer_token(struct wx_client *cl, const char *component_token,
                               const char *component_appid, const char *authorizer_appid,
                               const char *authorizer_refresh_token,
                               struct wx_authorizer_token *ret, struct wx_result *res,
                               struct be_diag *diag);

/* POST /cgi-bin/component/api_get_authorizer_info?TOKEN. 61003 when the
 * authorizer is not (or no longer) authorized. */
int wx_client_get_authorizer_info(struct wx_client *cl, const char *component_token,
                                  const char *component_appid, const char *authorizer_appid,
                                  struct wx_authorizer_info *ret, struct wx_result *res,
                                  struct be_diag *diag);

/* POST /cgi-bin/component/api_get_authorizer_list?TOKEN for one page
 * (count 1..WX_AUTHORIZER_LIST_MAX, offset >= 0). On success *ret (which
 * must be zeroed or released) receives the page; the caller releases it. */
int wx_client_get_authorizer_list(struct wx_client *cl, const char *component_token,
                                  const char *component_appid, int64_t offset, unsigned count,
                                  struct wx_authorizer_list *ret, struct wx_result *res,
                                  struct be_diag *diag);

#endif
