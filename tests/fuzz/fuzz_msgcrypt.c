/* Fuzz target: the WeChat message crypto of wechat/msgcrypt.h with a fixed
 * configuration (the emulator's token, EncodingAESKey and component appid,
 * and a previous key), the way the push receiver uses it: signature check,
 * base64, AES-CBC, padding, length field and appid tail, then the event XML
 * of what decrypted (wechat/event.h).
 *
 * The first byte picks the mode (byte % 4) and the key (byte / 4 % 2:
 * current or previous); readable seeds use '0'..'3' (current key) and
 * '4'..'7' (previous key). The rest is lines (tests/fuzz/fuzz.h):
 *   0 open     msg_signature, timestamp, nonce, Encrypt (rest):
 *              wx_msgcrypt_open() and wx_msgcrypt_verify_url() as received;
 *   1 signed   timestamp, nonce, Encrypt (rest): the harness signs, so
 *              every input reaches the decryption behind the signature;
 *   2 plain    the rest is the plaintext itself (random[16] || BE32 length
 *              || message || appid || padding), zero-filled to whole blocks,
 *              which the harness encrypts with the chosen key: the fuzzer
 *              steers the checks that follow AES-CBC;
 *   3 seal     the rest is a message: encrypt, build the push, parse its
 *              envelope, open it; it must come back unchanged.
 * Checked beyond "no crash, no leak": what decrypts is the message the
 * plaintext's length field frames (mode 2), and sealing round-trips (mode
 * 3) with the key it was sealed with. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "fuzz.h"
#include "core/buf.h"
#include "core/err.h"
#include "wechat/event.h"
#include "wechat/msgcrypt.h"
#include "core/banned.h"

#define TOKEN    "tk_emulator_0001"
#define KEY      "EmulatorKey0123456789abcdefghijklmnopqrstuv"
#define PREV_KEY "ZYXWVUTSRQPONMLKJIHGFEDCBAzyxwvutsrqponmlkj"
#define APPID    "wx0123456789abcdef"

/* Hands a decrypted message to the event parser, as the receiver does. */
static void parse_event(const struct buf *xml)
{
    struct wx_event ev;
    wx_event_parse(xml->data, xml->len, &ev, NULL);
}

static void mode_open(const struct wx_msgcrypt *mc, struct fuzz_input *in)
{
    char *sig = fuzz_field(in), *ts = fuzz_field(in), *nonce = fuzz_field(in);
    size_t len;
    char *encrypt = fuzz_rest(in, &len);
    struct buf out = BUF_INIT;
    enum wx_msgcrypt_key used;
    if (wx_msgcrypt_open(mc, sig, ts, nonce, encrypt, &out, &used, NULL) == WX_MSGCRYPT_OK)
        parse_event(&out);
    wx_msgcrypt_verify_url(mc, sig, ts, nonce);
    buf_release(&out);
    free(sig);
    free(ts);
    free(nonce);
    free(encrypt);
}

static void mode_signed(const struct wx_msgcrypt *mc, struct fuzz_input *in)
{
    char *ts = fuzz_field(in), *nonce = fuzz_field(in);
    size_t len;
    char *encrypt = fuzz_rest(in, &len);
    char sig[WX_MSGCRYPT_SIG_LEN + 1];
    struct buf out = BUF_INIT;
    enum wx_msgcrypt_key used;
    wx_msgcrypt_sign(mc, ts, nonce, encrypt, sig);
    int rc = wx_msgcrypt_open(mc, sig, ts, nonce, encrypt, &out, &used, NULL);
    if (rc == WX_MSGCRYPT_ERR_VALIDATE_SIGNATURE && strlen(ts) <= WX_MSGCRYPT_MAX_PARAM &&
        strlen(nonce) <= WX_MSGCRYPT_MAX_PARAM && len <= WX_MSGCRYPT_MAX_ENCRYPT_TEXT &&
        strlen(encrypt) == len)
        abort(); /* refused its own signature */
    if (rc == WX_MSGCRYPT_OK)
        parse_event(&out);
    buf_release(&out);
    free(ts);
    free(nonce);
    free(encrypt);
}

/* AES-256-CBC without padding, IV = key[0..16), as the scheme does. */
static void aes_encrypt(const unsigned char key[WX_MSGCRYPT_KEY_LEN], const unsigned char *in,
                        size_t len, unsigned char *out)
{
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int n = 0, fin = 0;
    if (!ctx || !EVP_EncryptInit_ex(ctx, EVP_aes_256_cbc(), NULL, key, key) ||
        !EVP_CIPHER_CTX_set_padding(ctx, 0) || !EVP_EncryptUpdate(ctx, out, &n, in, (int)len) ||
        !EVP_EncryptFinal_ex(ctx, out + n, &fin) || (size_t)(n + fin) != len)
        abort();
    EVP_CIPHER_CTX_free(ctx);
}

static void mode_plain(const struct wx_msgcrypt *mc, enum wx_msgcrypt_key key,
                       struct fuzz_input *in)
{
    unsigned char aes_key[WX_MSGCRYPT_KEY_LEN];
    size_t len = in->len + (16 - in->len % 16) % 16;
    if (len == 0 || len > 64 * 1024)
        return;
    if (wx_msgcrypt_decode_key(key == WX_MSGCRYPT_KEY_CURRENT ? KEY : PREV_KEY, aes_key))
        abort();
    unsigned char *plain = xcalloc(1, len), *cipher = xmalloc(len);
    memcpy(plain, in->data, in->len);
    aes_encrypt(aes_key, plain, len, cipher);
    char *b64 = xmalloc(len / 3 * 4 + 8);
    EVP_EncodeBlock((unsigned char *)b64, cipher, (int)len);

    struct buf out = BUF_INIT;
    enum wx_msgcrypt_key used;
    if (wx_msgcrypt_decrypt(mc, b64, &out, &used, NULL) == WX_MSGCRYPT_OK) {
        /* The message is the bytes the length field frames after the
         * 16 random bytes. */
        size_t msg_len =
            (size_t)plain[16] << 24 | (size_t)plain[17] << 16 | (size_t)plain[18] << 8 | plain[19];
        if (used != key || out.len != msg_len || memcmp(out.data, plain + 20, msg_len) != 0)
            abort();
        parse_event(&out);
    }
    buf_release(&out);
    free(b64);
    free(cipher);
    free(plain);
}

static void mode_seal(const struct wx_msgcrypt *mc, enum wx_msgcrypt_key key, struct fuzz_input *in)
{
    struct buf encrypt = BUF_INIT, query = BUF_INIT, body = BUF_INIT, out = BUF_INIT;
    struct wx_event_envelope env;
    enum wx_msgcrypt_key used;
    char sig[WX_MSGCRYPT_SIG_LEN + 1];
    wx_event_envelope_init(&env);
    if (wx_msgcrypt_encrypt(mc, key, in->data, in->len, &encrypt) != WX_MSGCRYPT_OK)
        goto out; /* too large */
    if (wx_msgcrypt_build_push(mc, "1700000000", "nonce0123", encrypt.data, &query, &body) ||
        wx_event_envelope_parse(body.data, body.len, &env, NULL) ||
        strcmp(env.encrypt.data, encrypt.data) != 0 || strcmp(env.appid, APPID) != 0)
        abort();
    wx_msgcrypt_sign(mc, "1700000000", "nonce0123", env.encrypt.data, sig);
    if (!strstr(query.data, sig))
        abort(); /* the push carries another msg_signature */
    if (wx_msgcrypt_open(mc, sig, "1700000000", "nonce0123", env.encrypt.data, &out, &used, NULL) !=
            WX_MSGCRYPT_OK ||
        used != key || out.len != in->len || (in->len && memcmp(out.data, in->data, in->len)))
        abort();
out:
    wx_event_envelope_release(&env);
    buf_release(&encrypt);
    buf_release(&query);
    buf_release(&body);
    buf_release(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct wx_msgcrypt *mc = NULL;
    if (size == 0)
        return 0;
    if (wx_msgcrypt_new(TOKEN, KEY, PREV_KEY, APPID, &mc, NULL))
        abort();
    struct fuzz_input in = {data + 1, size - 1};
    enum wx_msgcrypt_key key =
        (data[0] / 4) % 2 ? WX_MSGCRYPT_KEY_PREVIOUS : WX_MSGCRYPT_KEY_CURRENT;
    switch (data[0] % 4) {
    case 0:
        mode_open(mc, &in);
        break;
    case 1:
        mode_signed(mc, &in);
        break;
    case 2:
        mode_plain(mc, key, &in);
        break;
    default:
        mode_seal(mc, key, &in);
        break;
    }
    wx_msgcrypt_free(mc);
    return 0;
}
