/* Fuzz target: the TC3-HMAC-SHA256 Authorization header and the request
 * verification of api/tc3.h, as the gateway drives them (src/api/gateway.c).
 *
 * Input: lines (tests/fuzz/fuzz.h), in this order
 *     now             server clock, unix seconds (not a number: 1700000000)
 *     authorization   the Authorization header value
 *     method          "POST", "GET", ...
 *     query           the raw query string
 *     host            Host header
 *     content-type    Content-Type header
 *     x-tc-action     X-TC-Action header
 *     timestamp       X-TC-Timestamp ("" = absent)
 *     content-sha256  X-TC-Content-SHA256 ("" = absent)
 *     body            the rest of the input
 * The SecretKey is looked up from the SecretId in a fixed table (the keys of
 * the spec's vectors), as accesskey_resolve() would.
 *
 * Checked beyond "no crash, no leak":
 *   - a request that verifies does not verify under another key, nor
 *     (unless its payload is unsigned) with one more byte of body;
 *   - an empty authorization line asks the harness to sign the request
 *     itself with tc3_sign(): what the signer produces must verify. */
#include <stdbool.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "api/tc3.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/parse.h"
#include "core/banned.h"

#define DEFAULT_NOW 1700000000
#define MAX_SKEW    300
#define DEFAULT_ID  "AKIDFUZZ00000000000000000000000000000"
#define DEFAULT_KEY "FuzzSecretKey0000000000000000000"
#define OTHER_KEY   "AnotherSecretKey0000000000000000"

/* SecretId -> SecretKey of the seed vectors (tests/unit/test_tc3.c). */
static const char *secret_key_of(const char *secret_id)
{
    static const struct {
        const char *id, *key;
    } keys[] = {
        {"AKID********************************", "********************************"},
        {"AKIDTESTSECRETID0000000000000000", "TESTSECRETKEY0000000000000000000"},
        {"AKIDEXAMPLE0000000000000000000000000", "TestSecretKeyForLocalOnly0000000"},
    };
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        if (strcmp(keys[i].id, secret_id) == 0)
            return keys[i].key;
    return DEFAULT_KEY;
}

struct request {
    char *host, *content_type, *action;
};

static const char *header_of(void *ctx, const char *name)
{
    const struct request *r = ctx;
    if (strcmp(name, "host") == 0)
        return r->host;
    if (strcmp(name, "content-type") == 0)
        return r->content_type;
    if (strcmp(name, "x-tc-action") == 0)
        return r->action;
    return NULL;
}

/* Properties of a request that verified with key. */
static void check_verified(const struct tc3_request *req, const struct tc3_authorization *auth,
                           const char *key, int64_t now)
{
    if (strcmp(key, OTHER_KEY) != 0 && tc3_verify(req, auth, OTHER_KEY, now, MAX_SKEW) == BE_OK)
        abort(); /* verified under two keys */
    if (req->content_sha256 && strcmp(req->content_sha256, TC3_UNSIGNED_PAYLOAD) == 0)
        return;
    char *longer = xmalloc(req->body_len + 1);
    if (req->body_len)
        memcpy(longer, req->body, req->body_len);
    longer[req->body_len] = 'x';
    struct tc3_request altered = *req;
    altered.body = longer;
    altered.body_len = req->body_len + 1;
    int rc = tc3_verify(&altered, auth, key, now, MAX_SKEW);
    free(longer);
    if (rc == BE_OK)
        abort(); /* the body is not covered by the signature */
}

/* Signs req with tc3_sign() and checks that the result verifies. Skips
 * inputs outside tc3_sign()'s documented limits. */
static void check_sign_roundtrip(const struct tc3_request *req, struct request *r)
{
    uint64_t ts;
    char ts_text[24];
    if (parse_u64(req->timestamp, TC3_TIMESTAMP_MAX, &ts))
        return;
    /* The client sends the decimal it signed ("0850000000" would be signed
     * as "850000000"). */
    snprintf(ts_text, sizeof(ts_text), "%" PRIu64, ts);
    struct tc3_request sent = *req;
    sent.timestamp = ts_text;
    struct tc3_header extra = {"x-tc-action", r->action};
    struct tc3_sign_input in = {
        .method = req->method,
        .host = r->host,
        .query = req->query,
        .content_type = r->content_type,
        .extra_headers = r->action[0] ? &extra : NULL,
        .n_extra_headers = r->action[0] ? 1 : 0,
        .body = req->body,
        .body_len = req->body_len,
        .unsigned_payload =
            req->content_sha256 && strcmp(req->content_sha256, TC3_UNSIGNED_PAYLOAD) == 0,
        .secret_id = DEFAULT_ID,
        .secret_key = DEFAULT_KEY,
        .service = "cam",
        .timestamp = (int64_t)ts,
    };
    struct buf header = BUF_INIT;
    struct tc3_authorization auth;
    tc3_sign(&in, &header);
    /* The signer writes what the parser reads back, whatever the request. */
    if (tc3_parse_authorization(header.data, &auth) != BE_OK)
        abort();
    if (tc3_verify(&sent, &auth, DEFAULT_KEY, (int64_t)ts, MAX_SKEW) != BE_OK)
        abort();
    buf_release(&header);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_input in = {data, size};
    char *now_text = fuzz_field(&in);
    char *authorization = fuzz_field(&in);
    char *method = fuzz_field(&in);
    char *query = fuzz_field(&in);
    struct request r = {.host = fuzz_field(&in)};
    r.content_type = fuzz_field(&in);
    r.action = fuzz_field(&in);
    char *timestamp = fuzz_field(&in);
    char *content_sha256 = fuzz_field(&in);
    size_t body_len;
    char *body = fuzz_rest_exact(&in, &body_len);

    int64_t now;
    if (parse_i64(now_text, INT64_MIN, INT64_MAX, &now))
        now = DEFAULT_NOW;
    struct tc3_request req = {
        .method = method,
        .query = query,
        .header = header_of,
        .header_ctx = &r,
        .body = body,
        .body_len = body_len,
        .timestamp = timestamp[0] ? timestamp : NULL,
        .content_sha256 = content_sha256[0] ? content_sha256 : NULL,
    };
    struct tc3_authorization auth;
    if (!authorization[0]) {
        if (req.timestamp)
            check_sign_roundtrip(&req, &r);
    } else if (tc3_parse_authorization(authorization, &auth) == BE_OK) {
        const char *key = secret_key_of(auth.secret_id);
        if (tc3_verify(&req, &auth, key, now, MAX_SKEW) == BE_OK)
            check_verified(&req, &auth, key, now);
    }

    free(now_text);
    free(authorization);
    free(method);
    free(query);
    free(r.host);
    free(r.content_type);
    free(r.action);
    free(timestamp);
    free(content_sha256);
    free(body);
    return 0;
}
