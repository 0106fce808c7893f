#include "core/crypto.h"

#include <argon2.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/mem.h"
#include "core/banned.h"

void crypto_random(void *buf, size_t n)
{
    if (n && RAND_bytes(buf, (int)n) != 1) {
        fprintf(stderr, "fatal: the random number generator failed\n");
        abort();
    }
}

uint64_t crypto_random_range(uint64_t lo, uint64_t hi)
{
    uint64_t span = hi - lo + 1, v;
    if (span == 0) { /* the full 64-bit range */
        crypto_random(&v, sizeof(v));
        return v;
    }
    uint64_t limit = UINT64_MAX - (UINT64_MAX % span);
    do {
        crypto_random(&v, sizeof(v));
    } while (v >= limit);
    return lo + v % span;
}

void crypto_uuid4(char out[37])
{
    unsigned char b[16];
    crypto_random(b, sizeof(b));
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    snprintf(out, 37,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
             b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
             b[15]);
}

void crypto_random_token(struct buf *out, size_t nbytes)
{
    unsigned char tmp[128];
    if (nbytes > sizeof(tmp))
        nbytes = sizeof(tmp);
    crypto_random(tmp, nbytes);
    crypto_base64url_encode(out, tmp, nbytes);
    crypto_wipe(tmp, nbytes);
}

/* Algorithm handles fetched once: OpenSSL 3 looks an algorithm up by name on
 * every implicit fetch, which doubles the cost of a short HMAC. They are
 * immutable after the first use, like constants. */
static EVP_MD *sha256_md;
static EVP_MAC *hmac_mac;
static pthread_once_t algorithms_once = PTHREAD_ONCE_INIT;

static void fetch_algorithms(void)
{
    sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
    hmac_mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    if (!sha256_md || !hmac_mac)
        abort();
}

void crypto_sha256(const void *data, size_t len, unsigned char out[CRYPTO_SHA256_LEN])
{
    unsigned int n = 0;
    pthread_once(&algorithms_once, fetch_algorithms);
    if (EVP_Digest(data, len, out, &n, sha256_md, NULL) != 1)
        abort();
}

struct crypto_sha256_ctx {
    EVP_MD_CTX *md;
};

struct crypto_sha256_ctx *crypto_sha256_new(void)
{
    struct crypto_sha256_ctx *ctx = xcalloc(1, sizeof(*ctx));
    pthread_once(&algorithms_once, fetch_algorithms);
    ctx->md = EVP_MD_CTX_new();
    if (!ctx->md || EVP_DigestInit_ex(ctx->md, sha256_md, NULL) != 1)
        abort();
    return ctx;
}

void crypto_sha256_update(struct crypto_sha256_ctx *ctx, const void *data, size_t len)
{
    if (len && EVP_DigestUpdate(ctx->md, data, len) != 1)
        abort();
}

void crypto_sha256_final(struct crypto_sha256_ctx *ctx, unsigned char out[CRYPTO_SHA256_LEN])
{
    unsigned int n = 0;
    if (EVP_DigestFinal_ex(ctx->md, out, &n) != 1)
        abort();
    crypto_sha256_free(ctx);
}

void crypto_sha256_free(struct crypto_sha256_ctx *ctx)
{
    if (!ctx)
        return;
    EVP_MD_CTX_free(ctx->md);
    free(ctx);
}

void crypto_sha256_hex(const void *data, size_t len, char out[65])
{
    static const char digits[] = "0123456789abcdef";
    unsigned char d[CRYPTO_SHA256_LEN];
    crypto_sha256(data, len, d);
    for (int i = 0; i < CRYPTO_SHA256_LEN; i++) {
        out[2 * i] = digits[d[i] >> 4];
        out[2 * i + 1] = digits[d[i] & 15];
    }
    out[64] = '\0';
}

void crypto_hmac_sha256(const void *key, size_t key_len, const void *data, size_t len,
                        unsigned char out[CRYPTO_SHA256_LEN])
{
    size_t n = CRYPTO_SHA256_LEN;
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string("digest", "SHA256", 0),
                           OSSL_PARAM_construct_end()};
    pthread_once(&algorithms_once, fetch_algorithms);
    EVP_MAC_CTX *ctx = EVP_MAC_CTX_new(hmac_mac);
    if (!ctx || EVP_MAC_init(ctx, key, key_len, params) != 1 || EVP_MAC_update(ctx, data, len) != 1 ||
        EVP_MAC_final(ctx, out, &n, CRYPTO_SHA256_LEN) != 1)
        abort();
    EVP_MAC_CTX_free(ctx);
}

bool crypto_equal(const void *a, const void *b, size_t len)
{
    return CRYPTO_memcmp(a, b, len) == 0;
}

bool crypto_str_equal(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    return la == lb && CRYPTO_memcmp(a, b, la) == 0;
}

void crypto_wipe(void *p, size_t n)
{
    OPENSSL_cleanse(p, n);
}

void crypto_hkdf(const void *ikm, size_t ikm_len, const char *info, void *out, size_t out_len)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, NULL);
    size_t n = out_len;
    if (!ctx || EVP_PKEY_derive_init(ctx) <= 0 ||
        EVP_PKEY_CTX_set_hkdf_md(ctx, EVP_sha256()) <= 0 ||
        EVP_PKEY_CTX_set1_hkdf_key(ctx, ikm, (int)ikm_len) <= 0 ||
        EVP_PKEY_CTX_add1_hkdf_info(ctx, (const unsigned char *)info, (int)strlen(info)) <= 0 ||
        EVP_PKEY_derive(ctx, out, &n) <= 0 || n != out_len)
        abort();
    EVP_PKEY_CTX_free(ctx);
}

void crypto_base64_encode(struct buf *out, const void *data, size_t len)
{
    size_t need = xadd(xmul((len + 2) / 3, 4), 1);
    buf_grow(out, need);
    int n = EVP_EncodeBlock((unsigned char *)out->data + out->len, data, (int)len);
    out->len += (size_t)n;
    out->data[out->len] = '\0';
}

void crypto_base64url_encode(struct buf *out, const void *data, size_t len)
{
    size_t start = out->len;
    crypto_base64_encode(out, data, len);
    size_t w = start;
    for (size_t i = start; i < out->len; i++) {
        char c = out->data[i];
        if (c == '=')
            continue;
        out->data[w++] = c == '+' ? '-' : c == '/' ? '_' : c;
    }
    out->len = w;
    out->data[w] = '\0';
}

static int b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+' || c == '-')
        return 62;
    if (c == '/' || c == '_')
        return 63;
    return -1;
}

int crypto_base64_decode(struct buf *out, const char *text, size_t len)
{
    uint32_t acc = 0;
    int bits = 0;
    while (len && text[len - 1] == '=')
        len--;
    if (len % 4 == 1)
        return BE_INVALID_PARAMETER;
    buf_grow(out, len / 4 * 3 + 3);
    for (size_t i = 0; i < len; i++) {
        int v = b64_value((unsigned char)text[i]);
        if (v < 0)
            return BE_INVALID_PARAMETER;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out->data[out->len++] = (char)((acc >> bits) & 0xff);
        }
    }
    out->data[out->len] = '\0';
    return BE_OK;
}

int crypto_hex_decode(const char *hex, void *out, size_t out_len)
{
    unsigned char *o = out;
    if (strlen(hex) != out_len * 2)
        return BE_INVALID_PARAMETER;
    for (size_t i = 0; i < out_len; i++) {
        int v = 0;
        for (int k = 0; k < 2; k++) {
            char c = hex[2 * i + (size_t)k];
            int d = c >= '0' && c <= '9'   ? c - '0'
                    : c >= 'a' && c <= 'f' ? c - 'a' + 10
                    : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                           : -1;
            if (d < 0)
                return BE_INVALID_PARAMETER;
            v = v * 16 + d;
        }
        o[i] = (unsigned char)v;
    }
    return BE_OK;
}

#define SEAL_VERSION 1
#define SEAL_NONCE 12
#define SEAL_TAG 16

void crypto_seal(const unsigned char key[CRYPTO_KEY_LEN], const void *aad, size_t aad_len,
                 const void *plain, size_t plain_len, struct buf *out)
{
    unsigned char nonce[SEAL_NONCE];
    int n = 0;
    crypto_random(nonce, sizeof(nonce));
    buf_grow(out, xadd(plain_len, CRYPTO_SEAL_OVERHEAD));
    unsigned char *p = (unsigned char *)out->data + out->len;
    p[0] = SEAL_VERSION;
    memcpy(p + 1, nonce, SEAL_NONCE);
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    if (!ctx || EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, nonce) != 1 ||
        (aad_len && EVP_EncryptUpdate(ctx, NULL, &n, aad, (int)aad_len) != 1) ||
        EVP_EncryptUpdate(ctx, p + 1 + SEAL_NONCE, &n, plain, (int)plain_len) != 1 ||
        EVP_EncryptFinal_ex(ctx, p + 1 + SEAL_NONCE + n, &n) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, SEAL_TAG, p + 1 + SEAL_NONCE + plain_len) !=
            1)
        abort();
    EVP_CIPHER_CTX_free(ctx);
    out->len += plain_len + CRYPTO_SEAL_OVERHEAD;
    out->data[out->len] = '\0';
}

int crypto_open(const unsigned char key[CRYPTO_KEY_LEN], const void *aad, size_t aad_len,
                const void *sealed, size_t sealed_len, struct buf *out)
{
    const unsigned char *p = sealed;
    int n = 0, rc = BE_INVALID_PARAMETER;
    if (sealed_len < CRYPTO_SEAL_OVERHEAD || p[0] != SEAL_VERSION)
        return BE_INVALID_PARAMETER;
    size_t clen = sealed_len - CRYPTO_SEAL_OVERHEAD;
    size_t start = out->len;
    buf_grow(out, clen);
    unsigned char *dst = (unsigned char *)out->data + start;
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    if (!ctx)
        abort();
    if (EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, p + 1) != 1 ||
        (aad_len && EVP_DecryptUpdate(ctx, NULL, &n, aad, (int)aad_len) != 1) ||
        EVP_DecryptUpdate(ctx, dst, &n, p + 1 + SEAL_NONCE, (int)clen) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, SEAL_TAG,
                            (void *)(p + 1 + SEAL_NONCE + clen)) != 1 ||
        EVP_DecryptFinal_ex(ctx, dst + n, &n) != 1) {
        crypto_wipe(dst, clen);
        goto out;
    }
    out->len = start + clen;
    out->data[out->len] = '\0';
    rc = BE_OK;
out:
    EVP_CIPHER_CTX_free(ctx);
    return rc;
}

int crypto_aes256_cbc(bool encrypt, const unsigned char key[32], const unsigned char iv[16],
                      const void *in, size_t len, void *out)
{
    int n = 0, rc = BE_INVALID_PARAMETER;
    if (len % 16)
        return BE_INVALID_PARAMETER;
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    if (!ctx)
        abort();
    if (EVP_CipherInit_ex(ctx, EVP_aes_256_cbc(), NULL, key, iv, encrypt) != 1 ||
        EVP_CIPHER_CTX_set_padding(ctx, 0) != 1 ||
        EVP_CipherUpdate(ctx, out, &n, in, (int)len) != 1 ||
        EVP_CipherFinal_ex(ctx, (unsigned char *)out + n, &n) != 1)
        goto out;
    rc = BE_OK;
out:
    EVP_CIPHER_CTX_free(ctx);
    return rc;
}

void crypto_sha1_hex_concat(const char *const *parts, size_t n, char out[41])
{
    static const char digits[] = "0123456789abcdef";
    unsigned char d[20];
    unsigned int dlen = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx || EVP_DigestInit_ex(ctx, EVP_sha1(), NULL) != 1)
        abort();
    for (size_t i = 0; i < n; i++)
        EVP_DigestUpdate(ctx, parts[i], strlen(parts[i]));
    if (EVP_DigestFinal_ex(ctx, d, &dlen) != 1)
        abort();
    EVP_MD_CTX_free(ctx);
    for (int i = 0; i < 20; i++) {
        out[2 * i] = digits[d[i] >> 4];
        out[2 * i + 1] = digits[d[i] & 15];
    }
    out[40] = '\0';
}

struct crypto_pwhash {
    uint32_t m_kib;
    uint32_t t_cost;
    uint32_t max_concurrent;
    uint32_t running;
    char dummy[160]; /* a hash of a random password, made on first use */
    pthread_mutex_t lock;
    pthread_cond_t free_slot;
};

struct crypto_pwhash *crypto_pwhash_new(uint32_t m_kib, uint32_t t_cost, uint32_t max_concurrent)
{
    struct crypto_pwhash *h = xcalloc(1, sizeof(*h));
    h->m_kib = m_kib;
    h->t_cost = t_cost;
    h->max_concurrent = max_concurrent ? max_concurrent : 1;
    pthread_mutex_init(&h->lock, NULL);
    pthread_cond_init(&h->free_slot, NULL);
    return h;
}

void crypto_pwhash_free(struct crypto_pwhash *h)
{
    if (!h)
        return;
    pthread_mutex_destroy(&h->lock);
    pthread_cond_destroy(&h->free_slot);
    free(h);
}

static void slot_take(struct crypto_pwhash *h)
{
    pthread_mutex_lock(&h->lock);
    while (h->running >= h->max_concurrent)
        pthread_cond_wait(&h->free_slot, &h->lock);
    h->running++;
    pthread_mutex_unlock(&h->lock);
}

static void slot_give(struct crypto_pwhash *h)
{
    pthread_mutex_lock(&h->lock);
    h->running--;
    pthread_cond_signal(&h->free_slot);
    pthread_mutex_unlock(&h->lock);
}

int crypto_pwhash_hash(struct crypto_pwhash *h, const char *password, struct buf *out)
{
    unsigned char salt[16];
    char encoded[256];
    crypto_random(salt, sizeof(salt));
    slot_take(h);
    int rc = argon2id_hash_encoded(h->t_cost, h->m_kib, 1, password, strlen(password), salt,
                                   sizeof(salt), 32, encoded, sizeof(encoded));
    slot_give(h);
    if (rc != ARGON2_OK)
        return BE_INTERNAL;
    buf_adds(out, encoded);
    return BE_OK;
}

int crypto_pwhash_verify(struct crypto_pwhash *h, const char *encoded, const char *password)
{
    slot_take(h);
    int rc = argon2id_verify(encoded, password, strlen(password));
    slot_give(h);
    if (rc == ARGON2_OK)
        return BE_OK;
    if (rc == ARGON2_VERIFY_MISMATCH)
        return BE_LOGIN_FAILED;
    return BE_INTERNAL;
}

void crypto_pwhash_verify_dummy(struct crypto_pwhash *h, const char *password)
{
    char random_password[33];
    struct buf hash = BUF_INIT;
    pthread_mutex_lock(&h->lock);
    bool have = h->dummy[0] != '\0';
    pthread_mutex_unlock(&h->lock);
    if (!have) {
        unsigned char raw[16];
        crypto_random(raw, sizeof(raw));
        for (int i = 0; i < 16; i++)
            snprintf(random_password + 2 * i, 3, "%02x", raw[i]);
        if (crypto_pwhash_hash(h, random_password, &hash) == BE_OK) {
            pthread_mutex_lock(&h->lock);
            snprintf(h->dummy, sizeof(h->dummy), "%s", hash.data);
            pthread_mutex_unlock(&h->lock);
        }
        buf_release(&hash);
    }
    char copy[160];
    pthread_mutex_lock(&h->lock);
    snprintf(copy, sizeof(copy), "%s", h->dummy);
    pthread_mutex_unlock(&h->lock);
    (void)crypto_pwhash_verify(h, copy, password);
}
