/* TC3-HMAC-SHA256, the request signature of Tencent Cloud API 3.0
 * (spec: cam-and-api.md 4.2-4.4). Pure functions: no I/O, no database, no
 * globals, no allocation on the verifying side beyond one scratch buffer.
 *
 * Server side, per API request:
 *
 *     struct tc3_authorization auth;
 *     int rc = tc3_parse_authorization(authorization_header, &auth);
 *     if (rc) return rc;                           // AuthFailure.InvalidAuthorization
 *     ... look up auth.secret_id -> secret key ... // AuthFailure.SecretIdNotFound
 *     rc = tc3_verify(&req, &auth, secret_key, time_now(), 300);
 *
 * Client side (Bindery's CLI, tests): tc3_sign().
 *
 * The intermediate steps (payload hash, canonical request, string to sign,
 * key chain, signature) are exposed so that each can be checked against the
 * published vectors on its own. */
#ifndef BINDERY_API_TC3_H
#define BINDERY_API_TC3_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

#define TC3_ALGORITHM        "TC3-HMAC-SHA256"
#define TC3_TERMINATOR       "tc3_request"
#define TC3_UNSIGNED_PAYLOAD "UNSIGNED-PAYLOAD"

/* Ceilings on what a client may put in an Authorization header. */
#define TC3_AUTHORIZATION_MAX  2048 /* whole header value, bytes */
#define TC3_SECRET_ID_MAX      128
#define TC3_SERVICE_MAX        64
#define TC3_SIGNED_HEADERS_MAX 16 /* names in SignedHeaders */
#define TC3_HEADER_NAME_MAX    64
#define TC3_DATE_LEN           10           /* YYYY-MM-DD */
#define TC3_HEX_LEN            64           /* hex SHA-256 / signature */
#define TC3_HOST_MAX           255          /* longest Host value for which the port is stripped */
#define TC3_TIMESTAMP_MAX      253402300799 /* 9999-12-31T23:59:59Z */
#define TC3_STRING_TO_SIGN_MAX 256

/* A parsed Authorization header. Plain value, no pointers: it can be copied
 * and lives on the stack. Every string is NUL-terminated. */
struct tc3_authorization {
    char secret_id[TC3_SECRET_ID_MAX + 1];
    char date[TC3_DATE_LEN + 1];       /* scope date, shape-checked only */
    char service[TC3_SERVICE_MAX + 1]; /* scope service, e.g. "cam" or "127" */
    /* SignedHeaders exactly as sent ("content-type;host"), and split. */
    char signed_headers[TC3_SIGNED_HEADERS_MAX * (TC3_HEADER_NAME_MAX + 1)];
    char header_names[TC3_SIGNED_HEADERS_MAX][TC3_HEADER_NAME_MAX + 1];
    size_t n_headers;
    char signature[TC3_HEX_LEN + 1]; /* 64 lowercase hex digits */
};

/* Parses an Authorization header value of the form
 *
 *     TC3-HMAC-SHA256 Credential=<SecretId>/<YYYY-MM-DD>/<service>/tc3_request,
 *         SignedHeaders=<h1>;<h2>..., Signature=<64 hex>
 *
 * Tolerated: leading and trailing blanks, one or more blanks after the
 * algorithm, blanks around the commas, the three items in any order.
 * Rejected with BE_AUTH_INVALID (header NULL or otherwise):
 *   - any algorithm other than TC3-HMAC-SHA256, including the SDKs' "SKIP";
 *   - a header longer than TC3_AUTHORIZATION_MAX, or holding a control
 *     character (tab excepted) or a byte outside printable ASCII;
 *   - a missing, empty, repeated or unknown item, an empty item between
 *     commas, a trailing comma;
 *   - a Credential that is not exactly four '/'-separated parts, a SecretId
 *     longer than TC3_SECRET_ID_MAX, a date not shaped YYYY-MM-DD, a service
 *     longer than TC3_SERVICE_MAX, a last part other than "tc3_request";
 *   - SignedHeaders with more than TC3_SIGNED_HEADERS_MAX names, an empty or
 *     repeated name, a name longer than TC3_HEADER_NAME_MAX or with anything
 *     but [a-z0-9._-] (names are lowercase by definition), or without both
 *     "content-type" and "host";
 *   - a Signature that is not exactly 64 lowercase hex digits.
 * On success fills *ret and returns 0; *ret is untouched on failure. */
int tc3_parse_authorization(const char *header, struct tc3_authorization *ret);

/* What the HTTP layer knows about a request. Nothing is copied; every pointer
 * must stay valid during tc3_verify(). */
struct tc3_request {
    const char *method; /* "POST" or "GET", as received */
    /* The raw query string exactly as received (still percent-encoded),
     * without the '?'; NULL or "" when there is none. SDKs send one only
     * with GET. */
    const char *query;
    /* Returns the value of the request header named lowercase_name (e.g.
     * "content-type", "host", "x-tc-action"), NULL when absent. A signed
     * header that is absent is signed as an empty value. */
    const char *(*header)(void *ctx, const char *lowercase_name);
    void *header_ctx;
    const void *body; /* raw body bytes, never re-serialised; NULL if body_len 0 */
    size_t body_len;
    const char *timestamp;      /* X-TC-Timestamp text, NULL when absent */
    const char *content_sha256; /* X-TC-Content-SHA256 value, NULL when absent */
};

/* Verifies the signature of req against auth (from tc3_parse_authorization)
 * and the SecretKey that auth.secret_id maps to. now is the server clock in
 * unix seconds; max_skew (>= 0) the allowed clock difference, 300 for API 3.0.
 *
 * Steps, in order (spec 4.3):
 *   1. req->timestamp must be decimal seconds <= TC3_TIMESTAMP_MAX (at most
 *      20 digits): BE_MISSING_PARAMETER when NULL, BE_INVALID_PARAMETER
 *      otherwise. Both concern X-TC-Timestamp and nothing else.
 *   2. |now - timestamp| > max_skew: BE_AUTH_EXPIRED.
 *   3. auth->date must be the UTC date of the timestamp: BE_AUTH_SIGNATURE.
 *   4. The payload hash is computed once: SHA-256 of the body, or of the text
 *      "UNSIGNED-PAYLOAD" when X-TC-Content-SHA256 says so. Beware that such
 *      a request does not authenticate its body (the SDKs' unsignedPayload
 *      option); the caller may refuse it by policy before calling.
 *   5. The key chain uses the service from the scope, whatever it is.
 *   6. The signature is recomputed, and compared in constant time, for up
 *      to four canonical forms of the signed headers, each tried only when it
 *      differs from the ones before: values lower-cased with Host as
 *      received; lower-cased with Host's ":port" removed (the Node SDK signs
 *      the host name alone); then both again with values not lower-cased
 *      (no SDK lower-cases, so a mixed-case Content-Type or Host only
 *      verifies this way). No match: BE_AUTH_SIGNATURE.
 * Returns 0 when the signature is good. The caller still checks the SecretId's
 * status, X-TC-Token for temporary keys, and CAM authorisation. */
int tc3_verify(const struct tc3_request *req, const struct tc3_authorization *auth,
               const char *secret_key, int64_t now, int64_t max_skew);

/* One signed header of tc3_sign(). name must be lowercase. */
struct tc3_header {
    const char *name;
    const char *value;
};

/* Everything the client side signs. */
struct tc3_sign_input {
    const char *method;       /* "POST" or "GET" */
    const char *host;         /* the Host value to sign, e.g. "cam.tencentcloudapi.com" */
    const char *query;        /* raw, already percent-encoded query; NULL or "" for none */
    const char *content_type; /* e.g. "application/json" */
    /* Headers signed besides content-type and host (e.g. x-tc-action),
     * lowercase names, at most TC3_SIGNED_HEADERS_MAX - 2, neither of those
     * two; any order. */
    const struct tc3_header *extra_headers;
    size_t n_extra_headers;
    const void *body;
    size_t body_len;
    bool unsigned_payload; /* sign "UNSIGNED-PAYLOAD" instead of the body */
    const char *secret_id;
    const char *secret_key;
    const char *service; /* scope service, at most TC3_SERVICE_MAX bytes */
    int64_t timestamp;   /* unix seconds, 0..TC3_TIMESTAMP_MAX; also X-TC-Timestamp */
};

/* Appends the Authorization header value for in to out, signing the header
 * values trimmed and lower-cased as the documentation prescribes, with the
 * signed headers sorted by name. The caller sends the same Host,
 * Content-Type, extra headers, body, X-TC-Timestamp (the decimal timestamp)
 * and, with unsigned_payload, "X-TC-Content-SHA256: UNSIGNED-PAYLOAD".
 * Arguments outside the limits above are programmer errors (asserted). */
void tc3_sign(const struct tc3_sign_input *in, struct buf *out);

/* ---- Intermediate steps, exposed for tests (spec 4.2) ---- */

/* Step 1, HashedRequestPayload: lowercase hex SHA-256 of body, or of the text
 * "UNSIGNED-PAYLOAD" when content_sha256 (the X-TC-Content-SHA256 value, may
 * be NULL) is exactly that text. */
void tc3_payload_hash(const void *body, size_t len, const char *content_sha256,
                      char ret[TC3_HEX_LEN + 1]);

/* Steps 2-4: appends the CanonicalRequest to out:
 *     method \n / \n query \n (name:value\n)... \n name;name... \n payload_hash
 * headers are emitted in the order given (the order of SignedHeaders, which
 * the signer sorts); each value is trimmed of blanks and, when
 * lowercase_values, ASCII-lower-cased. query NULL means "". */
void tc3_canonical_request(const char *method, const char *query, const struct tc3_header *headers,
                           size_t n_headers, bool lowercase_values, const char *payload_hash,
                           struct buf *out);

/* Steps 5-7: writes the StringToSign
 *     TC3-HMAC-SHA256 \n timestamp \n date/service/tc3_request \n hex(SHA-256(canonical))
 * into out (NUL-terminated) and returns its length. Requires strlen(timestamp)
 * <= 20, strlen(date) == TC3_DATE_LEN and strlen(service) <= TC3_SERVICE_MAX
 * (asserted), which keeps it within TC3_STRING_TO_SIGN_MAX. */
size_t tc3_string_to_sign(const char *timestamp, const char *date, const char *service,
                          const void *canonical, size_t canonical_len,
                          char out[TC3_STRING_TO_SIGN_MAX]);

/* Step 8: the key chain kDate = HMAC("TC3" + secret_key, date),
 * kService = HMAC(kDate, service), kSigning = HMAC(kService, "tc3_request").
 * These are secrets: wipe *ret with crypto_wipe() after use. */
struct tc3_keys {
    unsigned char k_date[32];
    unsigned char k_service[32];
    unsigned char k_signing[32];
};
void tc3_derive_keys(const char *secret_key, const char *date, const char *service,
                     struct tc3_keys *ret);

/* Step 9: lowercase hex HMAC-SHA256(k_signing, string_to_sign). */
void tc3_signature(const unsigned char k_signing[32], const char *string_to_sign, size_t len,
                   char ret[TC3_HEX_LEN + 1]);

#endif
