#include "wechat/msgcrypt.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/crypto.h"
#include "core/mem.h"
#include "core/banned.h"

#define RANDOM_LEN           16
#define HEADER_LEN           20 /* random[16] || BE32(msg_len) */
#define IV_LEN               16
#define PAD_BLOCK            32 /* the scheme pads to 32 bytes, not to the AES block */
#define AES_BLOCK            16
#define TIMESTAMP_MAX_DIGITS 20

struct wx_msgcrypt {
    char *token;
    char *appid;
    size_t appid_len;
    unsigned char keys[2][WX_MSGCRYPT_KEY_LEN]; /* indexed by enum wx_msgcrypt_key */
    bool has_previous;
};

/* --- error codes ------------------------------------------------------- */

int wx_msgcrypt_err_to_be(int err)
{
    switch (err) {
    case WX_MSGCRYPT_OK:
        return BE_OK;
    case WX_MSGCRYPT_ERR_VALIDATE_SIGNATURE:
        return BE_AUTH_SIGNATURE;
    case WX_MSGCRYPT_ERR_PARSE_XML:
    case WX_MSGCRYPT_ERR_VALIDATE_APPID:
    case WX_MSGCRYPT_ERR_DECRYPT_AES:
    case WX_MSGCRYPT_ERR_ILLEGAL_BUFFER:
    case WX_MSGCRYPT_ERR_DECODE_BASE64:
        return BE_INVALID_PARAMETER_VALUE;
    case WX_MSGCRYPT_ERR_ILLEGAL_AES_KEY:
        return BE_INVALID_PARAMETER;
    case WX_MSGCRYPT_ERR_COMPUTE_SIGNATURE:
    case WX_MSGCRYPT_ERR_ENCRYPT_AES:
    case WX_MSGCRYPT_ERR_ENCODE_BASE64:
    case WX_MSGCRYPT_ERR_GEN_RETURN_XML:
        return BE_INTERNAL;
    default:
        break;
    }
    if (err > BE__BASE && err < BE__END)
        return err;
    return BE_INTERNAL;
}

const char *wx_msgcrypt_err_name(int err)
{
    switch (err) {
    case WX_MSGCRYPT_OK:
        return "OK";
    case WX_MSGCRYPT_ERR_VALIDATE_SIGNATURE:
        return "ValidateSignatureError";
    case WX_MSGCRYPT_ERR_PARSE_XML:
        return "ParseXmlError";
    case WX_MSGCRYPT_ERR_COMPUTE_SIGNATURE:
        return "ComputeSignatureError";
    case WX_MSGCRYPT_ERR_ILLEGAL_AES_KEY:
        return "IllegalAesKey";
    case WX_MSGCRYPT_ERR_VALIDATE_APPID:
        return "ValidateAppidError";
    case WX_MSGCRYPT_ERR_ENCRYPT_AES:
        return "EncryptAESError";
    case WX_MSGCRYPT_ERR_DECRYPT_AES:
        return "DecryptAESError";
    case WX_MSGCRYPT_ERR_ILLEGAL_BUFFER:
        return "IllegalBuffer";
    case WX_MSGCRYPT_ERR_ENCODE_BASE64:
        return "EncodeBase64Error";
    case WX_MSGCRYPT_ERR_DECODE_BASE64:
        return "DecodeBase64Error";
    case WX_MSGCRYPT_ERR_GEN_RETURN_XML:
        return "GenReturnXmlError";
    default:
        return "UnknownError";
    }
}

/* --- character classes (locale-free) ------------------------------------ */

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_alnum(char c)
{
    return is_digit(c) || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static bool is_b64(char c)
{
    return is_alnum(c) || c == '+' || c == '/';
}

static bool is_appid_char(char c)
{
    return is_alnum(c) || c == '_' || c == '-';
}

/* True when s is min..max characters, each accepted by ok. */
static bool str_all(const char *s, size_t min, size_t max, bool (*ok)(char))
{
    size_t n = 0;
    if (!s)
        return false;
    for (; s[n]; n++) {
        if (n >= max || !ok(s[n]))
            return false;
    }
    return n >= min;
}

static bool is_visible(char c)
{
    return c > 0x20 && c < 0x7f;
}

/* --- keys and construction --------------------------------------------- */

int wx_msgcrypt_decode_key(const char *encoding_aes_key, unsigned char ret_key[WX_MSGCRYPT_KEY_LEN])
{
    struct buf raw = BUF_INIT;
    int rc = WX_MSGCRYPT_ERR_ILLEGAL_AES_KEY;
    if (!str_all(encoding_aes_key, WX_MSGCRYPT_KEY_TEXT_LEN, WX_MSGCRYPT_KEY_TEXT_LEN, is_alnum))
        return rc;
    /* 43 characters carry 258 bits: 32 bytes and two trailing bits, which
     * the core decoder ignores, as Python's and OpenSSL's do. */
    if (crypto_base64_decode(&raw, encoding_aes_key, WX_MSGCRYPT_KEY_TEXT_LEN) ||
        raw.len != WX_MSGCRYPT_KEY_LEN)
        goto out;
    memcpy(ret_key, raw.data, WX_MSGCRYPT_KEY_LEN);
    rc = WX_MSGCRYPT_OK;
out:
    crypto_wipe(raw.data, raw.len);
    buf_release(&raw);
    return rc;
}

static int check_params(const char *token, const char *appid, struct be_diag *diag)
{
    if (!str_all(token, 1, WX_MSGCRYPT_MAX_TOKEN, is_visible))
        return be_fail(diag, BE_INVALID_PARAMETER,
                       "the wechat token must be 1 to %d visible ASCII characters",
                       WX_MSGCRYPT_MAX_TOKEN);
    if (!str_all(appid, 1, WX_MSGCRYPT_MAX_APPID, is_appid_char))
        return be_fail(diag, BE_INVALID_PARAMETER,
                       "the appid must be 1 to %d characters of [A-Za-z0-9_-]",
                       WX_MSGCRYPT_MAX_APPID);
    return BE_OK;
}

int wx_msgcrypt_new(const char *token, const char *encoding_aes_key,
                    const char *previous_encoding_aes_key, const char *appid,
                    struct wx_msgcrypt **ret_mc, struct be_diag *diag)
{
    unsigned char keys[2][WX_MSGCRYPT_KEY_LEN];
    bool has_previous = previous_encoding_aes_key && *previous_encoding_aes_key;
    int rc = check_params(token, appid, diag);
    if (rc)
        goto out;
    rc = BE_INVALID_PARAMETER;
    if (wx_msgcrypt_decode_key(encoding_aes_key, keys[WX_MSGCRYPT_KEY_CURRENT])) {
        be_fail(diag, rc, "the EncodingAESKey must be 43 characters of [A-Za-z0-9] (-40004)");
        goto out;
    }
    if (has_previous &&
        wx_msgcrypt_decode_key(previous_encoding_aes_key, keys[WX_MSGCRYPT_KEY_PREVIOUS])) {
        be_fail(diag, rc,
                "the previous EncodingAESKey must be 43 characters of [A-Za-z0-9] (-40004)");
        goto out;
    }
    struct wx_msgcrypt *mc = xcalloc(1, sizeof(*mc));
    mc->token = xstrdup(token);
    mc->appid = xstrdup(appid);
    mc->appid_len = strlen(appid);
    memcpy(mc->keys, keys, sizeof(keys));
    mc->has_previous = has_previous;
    *ret_mc = mc;
    rc = BE_OK;
out:
    crypto_wipe(keys, sizeof(keys));
    return rc;
}

void wx_msgcrypt_free(struct wx_msgcrypt *mc)
{
    if (!mc)
        return;
    crypto_wipe(mc->keys, sizeof(mc->keys));
    if (mc->token)
        crypto_wipe(mc->token, strlen(mc->token));
    free(mc->token);
    free(mc->appid);
    free(mc);
}

bool wx_msgcrypt_has_previous(const struct wx_msgcrypt *mc)
{
    return mc->has_previous;
}

const char *wx_msgcrypt_appid(const struct wx_msgcrypt *mc)
{
    return mc->appid;
}

/* --- signatures -------------------------------------------------------- */

/* Sorts items byte-wise (strcmp compares as unsigned char) and hashes their
 * concatenation. n is 3 or 4, so an insertion sort is plenty. */
static void sign_sorted(const char **items, size_t n, char out[WX_MSGCRYPT_SIG_LEN + 1])
{
    for (size_t i = 1; i < n; i++) {
        const char *v = items[i];
        size_t j = i;
        for (; j > 0 && strcmp(items[j - 1], v) > 0; j--)
            items[j] = items[j - 1];
        items[j] = v;
    }
    crypto_sha1_hex_concat(items, n, out);
}

void wx_msgcrypt_sign(const struct wx_msgcrypt *mc, const char *timestamp, const char *nonce,
                      const char *encrypt, char out[WX_MSGCRYPT_SIG_LEN + 1])
{
    const char *items[] = {mc->token, timestamp, nonce, encrypt};
    sign_sorted(items, 4, out);
}

void wx_msgcrypt_sign_url(const struct wx_msgcrypt *mc, const char *timestamp, const char *nonce,
                          char out[WX_MSGCRYPT_SIG_LEN + 1])
{
    const char *items[] = {mc->token, timestamp, nonce};
    sign_sorted(items, 3, out);
}

static bool param_ok(const char *s)
{
    return s && strnlen(s, WX_MSGCRYPT_MAX_PARAM + 1) <= WX_MSGCRYPT_MAX_PARAM;
}

static int sig_compare(const char *given, const char expected[WX_MSGCRYPT_SIG_LEN + 1])
{
    if (strnlen(given, WX_MSGCRYPT_SIG_LEN + 1) != WX_MSGCRYPT_SIG_LEN)
        return WX_MSGCRYPT_ERR_VALIDATE_SIGNATURE;
    if (!crypto_equal(given, expected, WX_MSGCRYPT_SIG_LEN))
        return WX_MSGCRYPT_ERR_VALIDATE_SIGNATURE;
    return WX_MSGCRYPT_OK;
}

int wx_msgcrypt_verify(const struct wx_msgcrypt *mc, const char *msg_signature,
                       const char *timestamp, const char *nonce, const char *encrypt)
{
    char expected[WX_MSGCRYPT_SIG_LEN + 1];
    if (!msg_signature || !param_ok(timestamp) || !param_ok(nonce) || !encrypt ||
        strnlen(encrypt, WX_MSGCRYPT_MAX_ENCRYPT_TEXT + 1) > WX_MSGCRYPT_MAX_ENCRYPT_TEXT)
        return WX_MSGCRYPT_ERR_VALIDATE_SIGNATURE;
    wx_msgcrypt_sign(mc, timestamp, nonce, encrypt, expected);
    return sig_compare(msg_signature, expected);
}

int wx_msgcrypt_verify_url(const struct wx_msgcrypt *mc, const char *signature,
                           const char *timestamp, const char *nonce)
{
    char expected[WX_MSGCRYPT_SIG_LEN + 1];
    if (!signature || !param_ok(timestamp) || !param_ok(nonce))
        return WX_MSGCRYPT_ERR_VALIDATE_SIGNATURE;
    wx_msgcrypt_sign_url(mc, timestamp, nonce, expected);
    return sig_compare(signature, expected);
}

/* --- decryption -------------------------------------------------------- */

/* Canonical standard base64: whole quanta, alphabet A-Za-z0-9+/, at most two
 * "=" and only at the end. The core decoder alone would also take the
 * url-safe alphabet and stray padding. */
static bool b64_canonical(const char *s, size_t len)
{
    size_t pad = 0;
    if (len % 4)
        return false;
    while (pad < 2 && pad < len && s[len - 1 - pad] == '=')
        pad++;
    for (size_t i = 0; i < len - pad; i++) {
        if (!is_b64(s[i]))
            return false;
    }
    return true;
}

static int decode_ciphertext(const char *encrypt, struct buf *cipher, struct be_diag *diag)
{
    if (!encrypt)
        return be_fail(diag, WX_MSGCRYPT_ERR_DECODE_BASE64, "Encrypt is missing");
    size_t len = strnlen(encrypt, WX_MSGCRYPT_MAX_ENCRYPT_TEXT + 1);
    if (len > WX_MSGCRYPT_MAX_ENCRYPT_TEXT)
        return be_fail(diag, WX_MSGCRYPT_ERR_ILLEGAL_BUFFER, "Encrypt is longer than %d characters",
                       WX_MSGCRYPT_MAX_ENCRYPT_TEXT);
    if (!b64_canonical(encrypt, len) || crypto_base64_decode(cipher, encrypt, len))
        return be_fail(diag, WX_MSGCRYPT_ERR_DECODE_BASE64, "Encrypt is not valid base64");
    if (cipher->len == 0 || cipher->len % AES_BLOCK)
        return be_fail(diag, WX_MSGCRYPT_ERR_DECRYPT_AES,
                       "the ciphertext is %zu bytes, not a positive multiple of %d", cipher->len,
                       AES_BLOCK);
    return WX_MSGCRYPT_OK;
}

/* Strips the PKCS#7 padding (block 32) from p[0..n), n >= 16, without
 * branching on the plaintext, so that an unsigned caller cannot be used as a
 * padding oracle. */
static int unpad(const unsigned char *p, size_t n, size_t *ret_len)
{
    unsigned pad = p[n - 1];
    unsigned bad = (pad == 0) | (pad > PAD_BLOCK) | (pad > n);
    size_t lim = n < PAD_BLOCK ? n : PAD_BLOCK;
    for (size_t i = 0; i < lim; i++) {
        unsigned in_pad = (unsigned)(i < pad);
        bad |= in_pad & (unsigned)(p[n - 1 - i] != pad);
    }
    if (bad)
        return WX_MSGCRYPT_ERR_ILLEGAL_BUFFER;
    *ret_len = n - pad;
    return WX_MSGCRYPT_OK;
}

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* Checks the layout of an unpadded plaintext p[0..n) and finds the message. */
static int split_plain(const struct wx_msgcrypt *mc, const unsigned char *p, size_t n,
                       size_t *ret_msg_len, struct be_diag *diag)
{
    if (n < HEADER_LEN)
        return be_fail(diag, WX_MSGCRYPT_ERR_ILLEGAL_BUFFER,
                       "the plaintext is %zu bytes, shorter than its %d-byte header", n,
                       HEADER_LEN);
    size_t msg_len = be32(p + RANDOM_LEN);
    if (msg_len > n - HEADER_LEN)
        return be_fail(diag, WX_MSGCRYPT_ERR_ILLEGAL_BUFFER,
                       "the length field %zu exceeds the %zu bytes that follow it", msg_len,
                       n - HEADER_LEN);
    size_t tail_len = n - HEADER_LEN - msg_len;
    if (tail_len != mc->appid_len || memcmp(p + HEADER_LEN + msg_len, mc->appid, tail_len))
        return be_fail(diag, WX_MSGCRYPT_ERR_VALIDATE_APPID,
                       "the appid at the end of the message is not %s", mc->appid);
    *ret_msg_len = msg_len;
    return WX_MSGCRYPT_OK;
}

/* Opens a decoded ciphertext with one key and appends the message to out. */
static int open_with(const struct wx_msgcrypt *mc, enum wx_msgcrypt_key key,
                     const struct buf *cipher, struct buf *out, struct be_diag *diag)
{
    const unsigned char *k = mc->keys[key];
    size_t n = cipher->len, content = 0, msg_len = 0;
    unsigned char *plain = xmalloc(n);
    int rc = crypto_aes256_cbc(false, k, k, cipher->data, n, plain);
    if (rc) {
        rc = be_fail(diag, WX_MSGCRYPT_ERR_DECRYPT_AES, "AES-256-CBC decryption failed");
        goto out;
    }
    rc = unpad(plain, n, &content);
    if (rc) {
        be_fail(diag, rc, "the padding of the plaintext is malformed");
        goto out;
    }
    rc = split_plain(mc, plain, content, &msg_len, diag);
    if (rc)
        goto out;
    buf_add(out, plain + HEADER_LEN, msg_len);
out:
    crypto_wipe(plain, n);
    free(plain);
    return rc;
}

static bool retry_with_previous(int rc)
{
    return rc == WX_MSGCRYPT_ERR_DECRYPT_AES || rc == WX_MSGCRYPT_ERR_ILLEGAL_BUFFER ||
           rc == WX_MSGCRYPT_ERR_VALIDATE_APPID;
}

int wx_msgcrypt_decrypt(const struct wx_msgcrypt *mc, const char *encrypt, struct buf *out,
                        enum wx_msgcrypt_key *ret_key, struct be_diag *diag)
{
    struct buf cipher = BUF_INIT;
    enum wx_msgcrypt_key used = WX_MSGCRYPT_KEY_CURRENT;
    int rc = decode_ciphertext(encrypt, &cipher, diag);
    if (rc)
        goto out;
    rc = open_with(mc, WX_MSGCRYPT_KEY_CURRENT, &cipher, out, diag);
    if (rc && mc->has_previous && retry_with_previous(rc)) {
        struct be_diag prev_diag;
        int prev_rc = open_with(mc, WX_MSGCRYPT_KEY_PREVIOUS, &cipher, out, &prev_diag);
        if (prev_rc == WX_MSGCRYPT_OK || prev_rc == WX_MSGCRYPT_ERR_VALIDATE_APPID) {
            rc = prev_rc;
            used = WX_MSGCRYPT_KEY_PREVIOUS;
            if (rc)
                be_fail(diag, rc, "%s (previous key)", prev_diag.msg);
        }
    }
    if (rc == WX_MSGCRYPT_OK && ret_key)
        *ret_key = used;
out:
    buf_release(&cipher);
    return rc;
}

int wx_msgcrypt_open(const struct wx_msgcrypt *mc, const char *msg_signature, const char *timestamp,
                     const char *nonce, const char *encrypt, struct buf *out,
                     enum wx_msgcrypt_key *ret_key, struct be_diag *diag)
{
    int rc = wx_msgcrypt_verify(mc, msg_signature, timestamp, nonce, encrypt);
    if (rc)
        return be_fail(diag, rc, "msg_signature does not match");
    return wx_msgcrypt_decrypt(mc, encrypt, out, ret_key, diag);
}

/* --- encryption -------------------------------------------------------- */

/* 16 characters of [A-Za-z0-9], unbiased: bytes >= 248 (= 4 * 62) are
 * rejected. */
static void random_alnum(unsigned char out[RANDOM_LEN])
{
    static const char chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    unsigned char r[32];
    size_t i = 0;
    while (i < RANDOM_LEN) {
        crypto_random(r, sizeof(r));
        for (size_t j = 0; j < sizeof(r) && i < RANDOM_LEN; j++) {
            if (r[j] < 248)
                out[i++] = (unsigned char)chars[r[j] % 62];
        }
    }
    crypto_wipe(r, sizeof(r));
}

/* Writes FullStr and its padding into plain (total bytes). */
static void build_plain(const struct wx_msgcrypt *mc, const unsigned char prefix[RANDOM_LEN],
                        const void *msg, size_t msg_len, unsigned char *plain, size_t total)
{
    size_t full = HEADER_LEN + msg_len + mc->appid_len;
    unsigned char pad = (unsigned char)(total - full);
    memcpy(plain, prefix, RANDOM_LEN);
    plain[16] = (unsigned char)(msg_len >> 24);
    plain[17] = (unsigned char)(msg_len >> 16);
    plain[18] = (unsigned char)(msg_len >> 8);
    plain[19] = (unsigned char)msg_len;
    if (msg_len)
        memcpy(plain + HEADER_LEN, msg, msg_len);
    memcpy(plain + HEADER_LEN + msg_len, mc->appid, mc->appid_len);
    memset(plain + full, pad, pad);
}

int wx_msgcrypt_encrypt_fixed(const struct wx_msgcrypt *mc, enum wx_msgcrypt_key key,
                              const unsigned char random_prefix[16], const void *msg,
                              size_t msg_len, struct buf *out)
{
    if ((key != WX_MSGCRYPT_KEY_CURRENT && key != WX_MSGCRYPT_KEY_PREVIOUS) ||
        (key == WX_MSGCRYPT_KEY_PREVIOUS && !mc->has_previous))
        return WX_MSGCRYPT_ERR_ILLEGAL_AES_KEY;
    /* Checked before adding, so the sum cannot wrap. */
    if (msg_len >= WX_MSGCRYPT_MAX_CIPHERTEXT - HEADER_LEN - mc->appid_len)
        return WX_MSGCRYPT_ERR_ENCRYPT_AES;
    size_t full = HEADER_LEN + msg_len + mc->appid_len;
    size_t total = full + (PAD_BLOCK - full % PAD_BLOCK); /* <= 1 MiB: it is a multiple of 32 */
    unsigned char *plain = xmalloc(total);
    unsigned char *cipher = xmalloc(total);
    const unsigned char *k = mc->keys[key];
    build_plain(mc, random_prefix, msg, msg_len, plain, total);
    int rc = crypto_aes256_cbc(true, k, k, plain, total, cipher);
    if (rc) {
        rc = WX_MSGCRYPT_ERR_ENCRYPT_AES;
        goto out;
    }
    crypto_base64_encode(out, cipher, total);
out:
    crypto_wipe(plain, total);
    free(plain);
    free(cipher);
    return rc;
}

int wx_msgcrypt_encrypt(const struct wx_msgcrypt *mc, enum wx_msgcrypt_key key, const void *msg,
                        size_t msg_len, struct buf *out)
{
    unsigned char prefix[RANDOM_LEN];
    random_alnum(prefix);
    return wx_msgcrypt_encrypt_fixed(mc, key, prefix, msg, msg_len, out);
}

/* --- envelopes --------------------------------------------------------- */

static bool envelope_args_ok(const char *timestamp, const char *nonce, const char *encrypt)
{
    if (!str_all(timestamp, 1, TIMESTAMP_MAX_DIGITS, is_digit) ||
        !str_all(nonce, 1, WX_MSGCRYPT_MAX_PARAM, is_alnum) || !encrypt)
        return false;
    size_t len = strnlen(encrypt, WX_MSGCRYPT_MAX_ENCRYPT_TEXT + 1);
    return len > 0 && len <= WX_MSGCRYPT_MAX_ENCRYPT_TEXT && b64_canonical(encrypt, len);
}

int wx_msgcrypt_build_push(const struct wx_msgcrypt *mc, const char *timestamp, const char *nonce,
                           const char *encrypt, struct buf *out_query, struct buf *out_body)
{
    char sig[WX_MSGCRYPT_SIG_LEN + 1], msg_sig[WX_MSGCRYPT_SIG_LEN + 1];
    if (!envelope_args_ok(timestamp, nonce, encrypt))
        return WX_MSGCRYPT_ERR_GEN_RETURN_XML;
    wx_msgcrypt_sign_url(mc, timestamp, nonce, sig);
    wx_msgcrypt_sign(mc, timestamp, nonce, encrypt, msg_sig);
    buf_addf(out_query, "signature=%s&timestamp=%s&nonce=%s&encrypt_type=aes&msg_signature=%s", sig,
             timestamp, nonce, msg_sig);
    buf_adds(out_body, "<xml><AppId><![CDATA[");
    buf_adds(out_body, mc->appid);
    buf_adds(out_body, "]]></AppId><Encrypt><![CDATA[");
    buf_adds(out_body, encrypt);
    buf_adds(out_body, "]]></Encrypt></xml>");
    return WX_MSGCRYPT_OK;
}

int wx_msgcrypt_build_reply(const struct wx_msgcrypt *mc, const char *timestamp, const char *nonce,
                            const char *encrypt, struct buf *out)
{
    char msg_sig[WX_MSGCRYPT_SIG_LEN + 1];
    if (!envelope_args_ok(timestamp, nonce, encrypt))
        return WX_MSGCRYPT_ERR_GEN_RETURN_XML;
    wx_msgcrypt_sign(mc, timestamp, nonce, encrypt, msg_sig);
    buf_adds(out, "<xml>\n<Encrypt><![CDATA[");
    buf_adds(out, encrypt);
    buf_addf(out,
             "]]></Encrypt>\n<MsgSignature><![CDATA[%s]]></MsgSignature>\n"
             "<TimeStamp>%s</TimeStamp>\n<Nonce><![CDATA[%s]]></Nonce>\n</xml>",
             msg_sig, timestamp, nonce);
    return WX_MSGCRYPT_OK;
}
