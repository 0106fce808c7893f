#include "api/tc3.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/crypto.h"
#include "core/err.h"
#include "core/mem.h"
#include "core/parse.h"
#include "core/timeutil.h"
#include "core/banned.h"

#define SEEN_CREDENTIAL     1u
#define SEEN_SIGNED_HEADERS 2u
#define SEEN_SIGNATURE      4u
#define SEEN_ALL            (SEEN_CREDENTIAL | SEEN_SIGNED_HEADERS | SEEN_SIGNATURE)

/* Longest X-TC-Timestamp text, as parse_u64() accepts it. */
#define TIMESTAMP_TEXT_MAX 20

/* ---- Small text helpers ---- */

static bool is_blank(char c)
{
    return c == ' ' || c == '\t';
}

static bool is_lower_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

static bool is_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
}

static bool slice_is(const char *p, size_t len, const char *lit)
{
    return strlen(lit) == len && memcmp(p, lit, len) == 0;
}

/* Copies the slice into dst (size n) as a C string; fails if it is empty or
 * does not fit. */
static int slice_copy(char *dst, size_t n, const char *p, size_t len)
{
    if (len == 0 || len >= n)
        return BE_AUTH_INVALID;
    memcpy(dst, p, len);
    dst[len] = '\0';
    return BE_OK;
}

/* Narrows [*begin, *end) to exclude leading and trailing blanks. */
static void trim(const char **begin, const char **end)
{
    while (*begin < *end && is_blank(**begin))
        (*begin)++;
    while (*end > *begin && is_blank((*end)[-1]))
        (*end)--;
}

/* ---- Authorization header ---- */

/* The header's length, or -1 if it is too long or holds a byte that has no
 * business there (controls other than tab, DEL, anything beyond ASCII). */
static long checked_length(const char *header)
{
    size_t len = strnlen(header, TC3_AUTHORIZATION_MAX + 1);
    if (len > TC3_AUTHORIZATION_MAX)
        return -1;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)header[i];
        if ((c < 0x20 && c != '\t') || c >= 0x7f)
            return -1;
    }
    return (long)len;
}

static bool is_date_shape(const char *p, size_t len)
{
    if (len != TC3_DATE_LEN)
        return false;
    for (size_t i = 0; i < len; i++) {
        bool dash = i == 4 || i == 7;
        if (dash ? p[i] != '-' : (p[i] < '0' || p[i] > '9'))
            return false;
    }
    return true;
}

/* Credential=<SecretId>/<date>/<service>/tc3_request */
static int parse_credential(const char *p, size_t len, struct tc3_authorization *a)
{
    const char *part[4];
    size_t part_len[4], n = 0;
    const char *end = p + len, *start = p;
    for (const char *q = p; q <= end; q++) {
        if (q < end && *q != '/')
            continue;
        if (n == 4)
            return BE_AUTH_INVALID;
        part[n] = start;
        part_len[n++] = (size_t)(q - start);
        start = q + 1;
    }
    if (n != 4 || !is_date_shape(part[1], part_len[1]) ||
        !slice_is(part[3], part_len[3], TC3_TERMINATOR))
        return BE_AUTH_INVALID;
    if (slice_copy(a->secret_id, sizeof(a->secret_id), part[0], part_len[0]) ||
        slice_copy(a->date, sizeof(a->date), part[1], part_len[1]) ||
        slice_copy(a->service, sizeof(a->service), part[2], part_len[2]))
        return BE_AUTH_INVALID;
    return BE_OK;
}

static bool has_header_name(const struct tc3_authorization *a, const char *p, size_t len)
{
    for (size_t i = 0; i < a->n_headers; i++)
        if (slice_is(p, len, a->header_names[i]))
            return true;
    return false;
}

static int add_header_name(struct tc3_authorization *a, const char *p, size_t len)
{
    if (len == 0 || len > TC3_HEADER_NAME_MAX || a->n_headers == TC3_SIGNED_HEADERS_MAX ||
        has_header_name(a, p, len))
        return BE_AUTH_INVALID;
    for (size_t i = 0; i < len; i++)
        if (!is_name_char(p[i]))
            return BE_AUTH_INVALID;
    memcpy(a->header_names[a->n_headers], p, len);
    a->header_names[a->n_headers][len] = '\0';
    a->n_headers++;
    return BE_OK;
}

/* SignedHeaders=<name>;<name>... */
static int parse_signed_headers(const char *p, size_t len, struct tc3_authorization *a)
{
    const char *end = p + len, *start = p;
    if (slice_copy(a->signed_headers, sizeof(a->signed_headers), p, len))
        return BE_AUTH_INVALID;
    for (const char *q = p; q <= end; q++) {
        if (q < end && *q != ';')
            continue;
        if (add_header_name(a, start, (size_t)(q - start)))
            return BE_AUTH_INVALID;
        start = q + 1;
    }
    if (!has_header_name(a, "content-type", 12) || !has_header_name(a, "host", 4))
        return BE_AUTH_INVALID;
    return BE_OK;
}

static int parse_signature(const char *p, size_t len, struct tc3_authorization *a)
{
    if (len != TC3_HEX_LEN)
        return BE_AUTH_INVALID;
    for (size_t i = 0; i < len; i++)
        if (!is_lower_hex(p[i]))
            return BE_AUTH_INVALID;
    return slice_copy(a->signature, sizeof(a->signature), p, len);
}

static int parse_item(const char *key, size_t key_len, const char *val, size_t val_len,
                      struct tc3_authorization *a, unsigned *seen)
{
    unsigned bit;
    int rc;
    if (slice_is(key, key_len, "Credential")) {
        bit = SEEN_CREDENTIAL;
        rc = parse_credential(val, val_len, a);
    } else if (slice_is(key, key_len, "SignedHeaders")) {
        bit = SEEN_SIGNED_HEADERS;
        rc = parse_signed_headers(val, val_len, a);
    } else if (slice_is(key, key_len, "Signature")) {
        bit = SEEN_SIGNATURE;
        rc = parse_signature(val, val_len, a);
    } else {
        return BE_AUTH_INVALID;
    }
    if (rc || (*seen & bit))
        return BE_AUTH_INVALID;
    *seen |= bit;
    return BE_OK;
}

/* Parses "Key=Value" items separated by commas (blanks allowed around them)
 * from p to end, which has no leading or trailing blanks. */
static int parse_items(const char *p, const char *end, struct tc3_authorization *a)
{
    unsigned seen = 0;
    for (;;) {
        const char *key = p, *val;
        while (p < end && *p != '=' && *p != ',' && !is_blank(*p))
            p++;
        if (p == end || *p != '=')
            return BE_AUTH_INVALID;
        val = ++p;
        while (p < end && *p != ',' && !is_blank(*p))
            p++;
        if (p == val || parse_item(key, (size_t)(val - 1 - key), val, (size_t)(p - val), a, &seen))
            return BE_AUTH_INVALID;
        while (p < end && is_blank(*p))
            p++;
        if (p == end)
            break;
        if (*p++ != ',')
            return BE_AUTH_INVALID;
        while (p < end && is_blank(*p))
            p++;
    }
    return seen == SEEN_ALL ? BE_OK : BE_AUTH_INVALID;
}

int tc3_parse_authorization(const char *header, struct tc3_authorization *ret)
{
    struct tc3_authorization a = {0};
    const char *p, *end, *alg;
    long len;
    if (!header || (len = checked_length(header)) < 0)
        return BE_AUTH_INVALID;
    p = header;
    end = header + len;
    trim(&p, &end);
    alg = p;
    while (p < end && !is_blank(*p))
        p++;
    if (!slice_is(alg, (size_t)(p - alg), TC3_ALGORITHM) || p == end)
        return BE_AUTH_INVALID;
    while (is_blank(*p))
        p++;
    if (parse_items(p, end, &a))
        return BE_AUTH_INVALID;
    *ret = a;
    return BE_OK;
}

/* ---- Signing steps ---- */

void tc3_payload_hash(const void *body, size_t len, const char *content_sha256,
                      char ret[TC3_HEX_LEN + 1])
{
    if (content_sha256 && strcmp(content_sha256, TC3_UNSIGNED_PAYLOAD) == 0)
        crypto_sha256_hex(TC3_UNSIGNED_PAYLOAD, strlen(TC3_UNSIGNED_PAYLOAD), ret);
    else
        crypto_sha256_hex(len ? body : "", len, ret);
}

/* Appends value trimmed of blanks and, if lowercase, ASCII-lower-cased. */
static void add_header_value(struct buf *out, const char *value, bool lowercase)
{
    const char *begin = value, *end = value + strlen(value);
    trim(&begin, &end);
    size_t len = (size_t)(end - begin);
    buf_grow(out, len);
    char *dst = out->data + out->len;
    for (size_t i = 0; i < len; i++) {
        char c = begin[i];
        dst[i] = lowercase && c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
    }
    out->len += len;
    out->data[out->len] = '\0';
}

static void add_header_names(struct buf *out, const struct tc3_header *headers, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (i)
            buf_addch(out, ';');
        buf_adds(out, headers[i].name);
    }
}

void tc3_canonical_request(const char *method, const char *query, const struct tc3_header *headers,
                           size_t n_headers, bool lowercase_values, const char *payload_hash,
                           struct buf *out)
{
    buf_adds(out, method);
    buf_add(out, "\n/\n", 3);
    buf_adds(out, query ? query : "");
    buf_addch(out, '\n');
    for (size_t i = 0; i < n_headers; i++) {
        buf_adds(out, headers[i].name);
        buf_addch(out, ':');
        add_header_value(out, headers[i].value, lowercase_values);
        buf_addch(out, '\n');
    }
    buf_addch(out, '\n');
    add_header_names(out, headers, n_headers);
    buf_addch(out, '\n');
    buf_adds(out, payload_hash);
}

size_t tc3_string_to_sign(const char *timestamp, const char *date, const char *service,
                          const void *canonical, size_t canonical_len,
                          char out[TC3_STRING_TO_SIGN_MAX])
{
    char hex[TC3_HEX_LEN + 1];
    assert(strlen(timestamp) <= TIMESTAMP_TEXT_MAX && strlen(date) == TC3_DATE_LEN &&
           strlen(service) <= TC3_SERVICE_MAX);
    crypto_sha256_hex(canonical_len ? canonical : "", canonical_len, hex);
    int n = snprintf(out, TC3_STRING_TO_SIGN_MAX, "%s\n%s\n%s/%s/%s\n%s", TC3_ALGORITHM, timestamp,
                     date, service, TC3_TERMINATOR, hex);
    assert(n > 0 && n < TC3_STRING_TO_SIGN_MAX);
    return (size_t)n;
}

void tc3_derive_keys(const char *secret_key, const char *date, const char *service,
                     struct tc3_keys *ret)
{
    unsigned char small[3 + 128], *key = small;
    size_t secret_len = strlen(secret_key), key_len = xadd(secret_len, 3);
    if (key_len > sizeof(small))
        key = xmalloc(key_len);
    memcpy(key, "TC3", 3);
    memcpy(key + 3, secret_key, secret_len);
    crypto_hmac_sha256(key, key_len, date, strlen(date), ret->k_date);
    crypto_wipe(key, key_len);
    if (key != small)
        free(key);
    crypto_hmac_sha256(ret->k_date, sizeof(ret->k_date), service, strlen(service), ret->k_service);
    crypto_hmac_sha256(ret->k_service, sizeof(ret->k_service), TC3_TERMINATOR,
                       strlen(TC3_TERMINATOR), ret->k_signing);
}

void tc3_signature(const unsigned char k_signing[32], const char *string_to_sign, size_t len,
                   char ret[TC3_HEX_LEN + 1])
{
    static const char digits[] = "0123456789abcdef";
    unsigned char mac[CRYPTO_SHA256_LEN];
    crypto_hmac_sha256(k_signing, 32, string_to_sign, len, mac);
    for (size_t i = 0; i < sizeof(mac); i++) {
        ret[2 * i] = digits[mac[i] >> 4];
        ret[2 * i + 1] = digits[mac[i] & 15];
    }
    ret[TC3_HEX_LEN] = '\0';
}

/* ---- Client side ---- */

/* Fills h with content-type, host and the extra headers sorted by name;
 * returns how many. */
static size_t sorted_headers(const struct tc3_sign_input *in,
                             struct tc3_header h[TC3_SIGNED_HEADERS_MAX])
{
    size_t n = 0;
    assert(in->n_extra_headers <= TC3_SIGNED_HEADERS_MAX - 2);
    h[n++] = (struct tc3_header){"content-type", in->content_type};
    h[n++] = (struct tc3_header){"host", in->host};
    for (size_t i = 0; i < in->n_extra_headers; i++)
        h[n++] = in->extra_headers[i];
    for (size_t i = 1; i < n; i++) {
        struct tc3_header cur = h[i];
        size_t j = i;
        for (; j > 0 && strcmp(h[j - 1].name, cur.name) > 0; j--)
            h[j] = h[j - 1];
        h[j] = cur;
    }
    for (size_t i = 1; i < n; i++)
        assert(strcmp(h[i - 1].name, h[i].name) != 0);
    return n;
}

void tc3_sign(const struct tc3_sign_input *in, struct buf *out)
{
    struct tc3_header h[TC3_SIGNED_HEADERS_MAX];
    struct buf canon = BUF_INIT;
    struct tc3_keys keys;
    char ts[TIMESTAMP_TEXT_MAX + 1], date[TC3_DATE_LEN + 1], payload[TC3_HEX_LEN + 1];
    char sts[TC3_STRING_TO_SIGN_MAX], sig[TC3_HEX_LEN + 1];

    assert(in->timestamp >= 0 && in->timestamp <= TC3_TIMESTAMP_MAX);
    size_t n = sorted_headers(in, h);
    snprintf(ts, sizeof(ts), "%" PRId64, in->timestamp);
    time_fmt_date(in->timestamp, date);
    tc3_payload_hash(in->body, in->body_len, in->unsigned_payload ? TC3_UNSIGNED_PAYLOAD : NULL,
                     payload);
    tc3_canonical_request(in->method, in->query, h, n, true, payload, &canon);
    size_t sts_len = tc3_string_to_sign(ts, date, in->service, canon.data, canon.len, sts);
    tc3_derive_keys(in->secret_key, date, in->service, &keys);
    tc3_signature(keys.k_signing, sts, sts_len, sig);
    crypto_wipe(&keys, sizeof(keys));
    buf_release(&canon);

    buf_addf(out, "%s Credential=%s/%s/%s/%s, SignedHeaders=", TC3_ALGORITHM, in->secret_id, date,
             in->service, TC3_TERMINATOR);
    add_header_names(out, h, n);
    buf_addf(out, ", Signature=%s", sig);
}

/* ---- Server side ---- */

static int check_timestamp(const char *text, const char *scope_date, int64_t now, int64_t max_skew)
{
    uint64_t ts;
    int64_t diff;
    char date[TC3_DATE_LEN + 1];
    if (!text)
        return BE_MISSING_PARAMETER;
    if (parse_u64(text, TC3_TIMESTAMP_MAX, &ts))
        return BE_INVALID_PARAMETER;
    if (__builtin_sub_overflow(now, (int64_t)ts, &diff) || diff > max_skew || diff < -max_skew)
        return BE_AUTH_EXPIRED;
    time_fmt_date((int64_t)ts, date);
    if (strcmp(date, scope_date) != 0)
        return BE_AUTH_SIGNATURE;
    return BE_OK;
}

/* Everything that stays the same across the verification attempts. */
struct verify_ctx {
    const struct tc3_request *req;
    const struct tc3_authorization *auth;
    struct tc3_header headers[TC3_SIGNED_HEADERS_MAX];
    size_t host; /* index of "host" in headers */
    const char *host_received;
    char host_stripped[TC3_HOST_MAX + 1];
    bool has_port;  /* host_stripped differs from the Host received */
    bool has_upper; /* some signed value has upper case */
    char payload_hash[TC3_HEX_LEN + 1];
    struct tc3_keys keys;
    struct buf canon; /* scratch, reused by every attempt */
};

static bool has_upper(const char *s)
{
    for (; *s; s++)
        if (*s >= 'A' && *s <= 'Z')
            return true;
    return false;
}

/* Writes Host without ":port" into ctx->host_stripped when there is a port:
 * "127.0.0.1:18081" -> "127.0.0.1", "[::1]:8080" -> "[::1]"; a bare IPv6
 * address is left alone. */
static void strip_port(struct verify_ctx *ctx)
{
    const char *begin = ctx->host_received, *end = begin + strlen(begin), *p;
    trim(&begin, &end);
    for (p = end; p > begin && p[-1] >= '0' && p[-1] <= '9'; p--)
        ;
    if (p == end || p - begin < 2 || p[-1] != ':')
        return;
    size_t len = (size_t)(p - 1 - begin);
    bool bracketed = begin[0] == '[' && begin[len - 1] == ']';
    if ((!bracketed && memchr(begin, ':', len)) || len > TC3_HOST_MAX)
        return;
    memcpy(ctx->host_stripped, begin, len);
    ctx->host_stripped[len] = '\0';
    ctx->has_port = true;
}

static void collect_headers(struct verify_ctx *ctx)
{
    const struct tc3_authorization *auth = ctx->auth;
    for (size_t i = 0; i < auth->n_headers; i++) {
        const char *name = auth->header_names[i];
        const char *value = ctx->req->header(ctx->req->header_ctx, name);
        ctx->headers[i] = (struct tc3_header){name, value ? value : ""};
        ctx->has_upper |= has_upper(ctx->headers[i].value);
        if (strcmp(name, "host") == 0)
            ctx->host = i;
    }
    ctx->host_received = ctx->headers[ctx->host].value;
    strip_port(ctx);
}

static bool signature_matches(struct verify_ctx *ctx, bool stripped, bool lowercase)
{
    char sts[TC3_STRING_TO_SIGN_MAX], sig[TC3_HEX_LEN + 1];
    const struct tc3_request *req = ctx->req;
    const struct tc3_authorization *auth = ctx->auth;
    ctx->headers[ctx->host].value = stripped ? ctx->host_stripped : ctx->host_received;
    buf_reset(&ctx->canon);
    tc3_canonical_request(req->method, req->query, ctx->headers, auth->n_headers, lowercase,
                          ctx->payload_hash, &ctx->canon);
    size_t len = tc3_string_to_sign(req->timestamp, auth->date, auth->service, ctx->canon.data,
                                    ctx->canon.len, sts);
    tc3_signature(ctx->keys.k_signing, sts, len, sig);
    return crypto_equal(sig, auth->signature, TC3_HEX_LEN);
}

int tc3_verify(const struct tc3_request *req, const struct tc3_authorization *auth,
               const char *secret_key, int64_t now, int64_t max_skew)
{
    static const struct {
        bool stripped, lowercase;
    } forms[] = {{false, true}, {true, true}, {false, false}, {true, false}};
    struct verify_ctx ctx = {.req = req, .auth = auth, .canon = BUF_INIT};
    int rc = check_timestamp(req->timestamp, auth->date, now, max_skew);
    if (rc)
        return rc;
    collect_headers(&ctx);
    tc3_payload_hash(req->body, req->body_len, req->content_sha256, ctx.payload_hash);
    tc3_derive_keys(secret_key, auth->date, auth->service, &ctx.keys);
    rc = BE_AUTH_SIGNATURE;
    for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
        if ((forms[i].stripped && !ctx.has_port) || (!forms[i].lowercase && !ctx.has_upper))
            continue;
        if (signature_matches(&ctx, forms[i].stripped, forms[i].lowercase)) {
            rc = BE_OK;
            break;
        }
    }
    crypto_wipe(&ctx.keys, sizeof(ctx.keys));
    buf_release(&ctx.canon);
    return rc;
}
