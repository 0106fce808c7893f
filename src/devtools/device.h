/* Login for developer tools (docs/devtools.md): the RFC 8628 device
 * authorization grant, the devices it creates, their rotating refresh tokens
 * and their temporary credentials in the cloud's STS form.
 *
 *   device_authorize()  a tool asks: device code (secret, stored hashed) and
 *                       user code (shown to the user)
 *   device_describe()   the console shows the pending request to a user
 *   device_decide()     the signed-in user approves (for themself, in the
 *                       account of their session) or denies
 *   device_poll()       the tool polls: pending / slow down / denied /
 *                       expired, or, once, the tokens of a new device
 *   device_refresh()    a refresh token, used once, gives new tokens; a
 *                       second use of the same refresh token revokes the
 *                       whole device (reuse detection)
 *   device_revoke*()    revoking a device kills its refresh tokens and its
 *                       temporary credentials at once
 *   devcred_resolve()   the API gateway's view of a TmpSecretId
 *
 * Everything lives in the store, so every instance sharing it sees the same
 * state; each multi-row change is one transaction with its audit row. */
#ifndef BINDERY_DEVTOOLS_DEVICE_H
#define BINDERY_DEVTOOLS_DEVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "app.h"
#include "cam/principal.h"
#include "core/crypto.h"
#include "core/err.h"
#include "devtools/usercode.h"

#define DEVICE_CLIENT_ID_MAX  64  /* [A-Za-z0-9._-]{1,64} */
#define DEVICE_SCOPE_MAX      256 /* printable ASCII */
#define DEVICE_CODE_LEN       43  /* 32 random bytes, base64url */
#define DEVICE_ID_LEN         20  /* "dev-" + 16 lowercase letters/digits */
#define DEVICE_REFRESH_LEN    43  /* 32 random bytes, base64url */
#define DEVICE_SLOW_DOWN_STEP 5   /* seconds added to the interval (RFC 8628 §3.5) */
#define DEVICE_LIST_MAX       100 /* devices answered by one list */
/* Temporary credentials. The TmpSecretId is longer than an API key's
 * SecretId (ACCESSKEY_ID_LEN), which tells the gateway where to look. */
#define DEVCRED_ID_LEN    48   /* "AKID" + 44 letters/digits */
#define DEVCRED_KEY_LEN   40   /* letters/digits */
#define DEVCRED_TOKEN_LEN 43   /* 32 random bytes, base64url; also the access_token */
#define DEVCRED_TOKEN_MAX 4096 /* longest X-TC-Token looked at (STS's own bound) */

/* What device_authorize() gives the tool. */
struct device_authorization {
    char device_code[DEVICE_CODE_LEN + 1];
    char user_code[USERCODE_LEN + 1]; /* stored form; display with usercode_display() */
    int64_t expires_in;               /* seconds */
    int64_t interval;                 /* seconds between polls */
};

/* Validates a client_id: 1-64 characters of [A-Za-z0-9._-]. */
int device_check_client_id(const char *client_id, struct be_diag *diag);
/* Validates a scope: at most 256 printable ASCII characters (may be empty). */
int device_check_scope(const char *scope, struct be_diag *diag);

/* Starts a device login for client_id (checked) with scope (checked; NULL
 * is ""), remembering meta's address and user agent for the approval page.
 * Lifetime and interval come from tools.device_code_ttl and
 * tools.poll_interval. Also forgets device codes expired for over an hour. */
int device_authorize(struct app *app, const struct req_meta *meta, const char *client_id,
                     const char *scope, struct device_authorization *ret, struct be_diag *diag);

/* A pending request as the approval page shows it. */
struct device_request {
    char user_code[USERCODE_LEN + 1];
    char client_id[DEVICE_CLIENT_ID_MAX + 1];
    char scope[DEVICE_SCOPE_MAX + 1];
    char source_ip[64];
    char user_agent[256];
    int64_t created_at;
    int64_t expires_at;
};

/* Finds the pending, unexpired request of a user code as typed (normalised
 * here). BE_USER_CODE_INVALID when the text is not a code or no pending,
 * unexpired request has it; BE_DEVICE_DECIDED when it was already approved
 * or denied. The caller throttles wrong codes. */
int device_describe(struct app *app, const char *user_code, int64_t now, struct device_request *ret,
                    struct be_diag *diag);

/* Approves (the device will act as `who`, in who->owner_uin) or denies the
 * pending request of user_code. Errors as device_describe(). Audited as
 * devtools:ApproveDevice / devtools:DenyDevice. */
int device_decide(struct app *app, const struct req_meta *meta, const struct principal *who,
                  const char *user_code, bool approve, struct be_diag *diag);

/* What the tool gets once approved, and at every refresh. Secrets: wipe
 * with crypto_wipe() after use. */
struct device_tokens {
    char device_id[DEVICE_ID_LEN + 1];
    char tmp_secret_id[DEVCRED_ID_LEN + 1];
    char tmp_secret_key[DEVCRED_KEY_LEN + 1];
    char token[DEVCRED_TOKEN_LEN + 1];
    char refresh_token[DEVICE_REFRESH_LEN + 1];
    int64_t expires_at;         /* of the temporary credentials */
    int64_t refresh_expires_at; /* of the refresh token */
    char scope[DEVICE_SCOPE_MAX + 1];
    struct principal who;
};

/* One poll of the token endpoint with a device code (RFC 8628 §3.4-3.5):
 *   BE_DEVICE_PENDING    not decided yet;
 *   BE_DEVICE_SLOW_DOWN  polled sooner than the interval after the last
 *                        poll; the interval grows by DEVICE_SLOW_DOWN_STEP
 *                        (*ret_interval gets the new one, may be NULL);
 *   BE_DEVICE_DENIED     the user denied;
 *   BE_DEVICE_EXPIRED    the device code has expired;
 *   BE_GRANT_INVALID     unknown code, another client_id, or the tokens
 *                        were already handed out (a code is good once);
 *   BE_OK                approved: a new device and its first tokens in
 *                        *ret, audited as devtools:CreateDevice.
 * The poll's bookkeeping (last poll, interval) is stored in every case. */
int device_poll(struct app *app, const struct req_meta *meta, const char *client_id,
                const char *device_code, struct device_tokens *ret, int64_t *ret_interval,
                struct be_diag *diag);

/* Uses a refresh token once: new temporary credentials and a new refresh
 * token in *ret. BE_GRANT_INVALID when it is unknown, expired, issued to
 * another client_id, its device is revoked, or it was already used — and in
 * that last case the whole device is revoked (reason refresh_token_reused),
 * since either the tool or a thief holds a copy. */
int device_refresh(struct app *app, const struct req_meta *meta, const char *client_id,
                   const char *refresh_token, struct device_tokens *ret, struct be_diag *diag);

/* RFC 7009: revokes the device of a refresh token or of a Token (access
 * token). Unknown tokens are not an error (the RFC says answer 200). */
int device_revoke_token(struct app *app, const struct req_meta *meta, const char *token);

/* A device as the devices list shows it. */
struct device_info {
    char device_id[DEVICE_ID_LEN + 1];
    char client_id[DEVICE_CLIENT_ID_MAX + 1];
    char scope[DEVICE_SCOPE_MAX + 1];
    char source_ip[64];
    char user_agent[256];
    struct principal who;
    int64_t created_at;
    int64_t last_used_at;
    int64_t revoked_at;      /* 0 while live */
    char revoked_reason[32]; /* "revoked", "refresh_token_reused", "logout" */
};

/* The devices of account owner_uin, newest first, at most DEVICE_LIST_MAX;
 * only uin's own when uin is not 0. *ret is malloc'd (free()). */
int device_list(struct app *app, uint64_t owner_uin, uint64_t uin, struct device_info **ret,
                size_t *ret_count);

/* Revokes device_id of account owner_uin (and of uin when not 0):
 * BE_DEVICE_NOT_FOUND when it is not one of those. Revoking a revoked
 * device succeeds. Audited as devtools:RevokeDevice, acted by actor. */
int device_revoke(struct app *app, const struct req_meta *meta, const struct principal *actor,
                  uint64_t uin, const char *device_id, struct be_diag *diag);

/* ---- For the API gateway ------------------------------------------------ */

/* Whether secret_id has the shape of a TmpSecretId. */
bool devcred_is_tmp_id(const char *secret_id);

/* A live temporary credential, for verifying one request. */
struct devcred {
    struct principal who;
    char device_id[DEVICE_ID_LEN + 1];
    char secret_key[DEVCRED_KEY_LEN + 1]; /* secret: wipe after use */
    unsigned char token_hash[CRYPTO_SHA256_LEN];
    int64_t expires_at;
};

/* Looks up a TmpSecretId: BE_AUTH_SECRET_ID when unknown, its device is
 * revoked, or it was sealed under another master key. Expiry is checked by
 * devcred_check(), after the signature. Notes the device's use (at most
 * once a minute). */
int devcred_resolve(struct app *app, const char *secret_id, int64_t now, struct devcred *ret);

/* The X-TC-Token check of a signed request: BE_AUTH_TOKEN when token is
 * missing, does not match the credential (constant time), or the credential
 * has expired at now. */
int devcred_check(const struct devcred *cred, const char *token, int64_t now);

#endif
