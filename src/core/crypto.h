/* Every cryptographic primitive Bindery uses, on OpenSSL's EVP interfaces and
 * libargon2. No other module includes OpenSSL headers for crypto. Functions
 * return 0 or a negative BE_* code unless stated otherwise. */
#ifndef BINDERY_CORE_CRYPTO_H
#define BINDERY_CORE_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

#define CRYPTO_SHA256_LEN 32
#define CRYPTO_KEY_LEN 32 /* AES-256 and HMAC keys */

/* Fills buf with n bytes from the CSPRNG; aborts if the CSPRNG fails, since
 * nothing secure can continue without it. */
void crypto_random(void *buf, size_t n);
/* Uniform random integer in [lo, hi] (inclusive), no modulo bias. */
uint64_t crypto_random_range(uint64_t lo, uint64_t hi);
/* Random UUID v4 in its 36-character text form. */
void crypto_uuid4(char out[37]);
/* Random token of nbytes bytes, base64url without padding, appended to out. */
void crypto_random_token(struct buf *out, size_t nbytes);

void crypto_sha256(const void *data, size_t len, unsigned char out[CRYPTO_SHA256_LEN]);
void crypto_hmac_sha256(const void *key, size_t key_len, const void *data, size_t len,
                        unsigned char out[CRYPTO_SHA256_LEN]);
/* Lowercase hex SHA-256 of data: 64 characters + NUL. */
void crypto_sha256_hex(const void *data, size_t len, char out[65]);

/* Streaming SHA-256, for data that arrives in pieces (uploaded blobs).
 * _new never fails (aborts on OOM); _final writes the digest and frees the
 * context; _free releases an unfinished one (NULL accepted). */
struct crypto_sha256_ctx;
struct crypto_sha256_ctx *crypto_sha256_new(void);
void crypto_sha256_update(struct crypto_sha256_ctx *ctx, const void *data, size_t len);
void crypto_sha256_final(struct crypto_sha256_ctx *ctx, unsigned char out[CRYPTO_SHA256_LEN]);
void crypto_sha256_free(struct crypto_sha256_ctx *ctx);

/* Constant-time equality of two equal-length byte strings. */
bool crypto_equal(const void *a, const void *b, size_t len);
/* Constant-time equality of two NUL-terminated strings (length leaks only). */
bool crypto_str_equal(const char *a, const char *b);
/* Wipes memory so that the compiler cannot elide it. */
void crypto_wipe(void *p, size_t n);

/* HKDF-SHA256(ikm, salt = none, info) -> out (out_len bytes). */
void crypto_hkdf(const void *ikm, size_t ikm_len, const char *info, void *out, size_t out_len);

/* Standard base64 with padding. */
void crypto_base64_encode(struct buf *out, const void *data, size_t len);
/* Decodes standard base64 (padding optional); BE_INVALID_PARAMETER on bad input. */
int crypto_base64_decode(struct buf *out, const char *text, size_t len);
/* base64url without padding. */
void crypto_base64url_encode(struct buf *out, const void *data, size_t len);
/* Hex to bytes; BE_INVALID_PARAMETER unless exactly 2*out_len hex digits. */
int crypto_hex_decode(const char *hex, void *out, size_t out_len);

/* AES-256-GCM sealing of secrets at rest. The sealed form is
 * version(1) | nonce(12) | ciphertext | tag(16); aad binds it to its use
 * (e.g. the row it belongs to) and may be NULL. */
#define CRYPTO_SEAL_OVERHEAD (1 + 12 + 16)
void crypto_seal(const unsigned char key[CRYPTO_KEY_LEN], const void *aad, size_t aad_len,
                 const void *plain, size_t plain_len, struct buf *out);
/* BE_INVALID_PARAMETER when the data was tampered with or the key is wrong. */
int crypto_open(const unsigned char key[CRYPTO_KEY_LEN], const void *aad, size_t aad_len,
                const void *sealed, size_t sealed_len, struct buf *out);

/* Raw AES-256-CBC without padding (the caller pads), for the WeChat message
 * scheme. len must be a multiple of 16. */
int crypto_aes256_cbc(bool encrypt, const unsigned char key[32], const unsigned char iv[16],
                      const void *in, size_t len, void *out);
/* SHA-1 of the concatenation of n strings, as lowercase hex (41 bytes). */
void crypto_sha1_hex_concat(const char *const *parts, size_t n, char out[41]);

/* Password hashing with argon2id. The hasher bounds how many hashes run at
 * once, so memory stays bounded (each takes m_kib KiB). */
struct crypto_pwhash;
struct crypto_pwhash *crypto_pwhash_new(uint32_t m_kib, uint32_t t_cost, uint32_t max_concurrent);
void crypto_pwhash_free(struct crypto_pwhash *h);
/* Writes the encoded hash ("$argon2id$v=19$m=...") into out. */
int crypto_pwhash_hash(struct crypto_pwhash *h, const char *password, struct buf *out);
/* 0 when password matches encoded, BE_LOGIN_FAILED when not, another error on
 * a malformed encoded hash. */
int crypto_pwhash_verify(struct crypto_pwhash *h, const char *encoded, const char *password);
/* Costs what a verify costs, for logins with an unknown name, so that timing
 * does not reveal which names exist. */
void crypto_pwhash_verify_dummy(struct crypto_pwhash *h, const char *password);

#endif
