/* Unit tests of wechat/msgcrypt: the vectors of spec §7.9, round trips, key
 * rotation and the unhappy paths of §7.5. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/crypto.h"
#include "core/err.h"
#include "wechat/msgcrypt.h"
#include "core/banned.h"

/* --- spec §7.9 --------------------------------------------------------- */

#define TV1_TOKEN   "spamtest"
#define TV1_KEY     "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
#define TV1_APPID   "wx2c2769f8efd9abc2"
#define TV1_TS      "1409735669"
#define TV1_NONCE   "1320562132"
#define TV1_MSG_SIG "5d197aaffba7e9b25a30732f161a50dee96bd5fa"
#define TV1_URL_SIG "16120ec1b8dbb870f510d87ce6bc2463eae6ca1a"
#define TV1_AESKEY  "69b71d79f8218a39259a7a29aabb2dbafc31cb3d35db7e39ebbf3d0010831051"
#define TV1_ENCRYPT                                                                                \
    "hyzAe4OzmOMbd6TvGdIOO6uBmdJoD0Fk53REIHvxYtJlE2B655HuD0m8KUePWB3+LrPXo87wzQ1QLvbeUgmBM4x6F8PG" \
    "HQHFVAFmOD2LdJF9FrXpbUAh0B5GIItb52sn896wVsMSHGuPE328HnRGBcrS7C41IzDWyWNlZkyyXwon8T332jisa+h6" \
    "tEDYsVticbSnyU8dKOIbgU6ux5VTjg3yt+WGzjlpKn6NPhRjpA912xMezR4kw6KWwMrCVKSVCZciVGCgavjIQ6X8tCOp" \
    "3yZbGpy0VxpAe+77TszTfRd5RJSVO/HTnifJpXgCSUdUue1v6h0EIBYYI1BD1DlD+C0CR8e6OewpusjZ4uBl9FyJvnhv" \
    "Ql+q5rv1ixrcpCumEPo5MJSgM9ehVsNPfUM669WuMyVWQLCzpu9GhglF2PE="
#define TV1_MSG                                                                                    \
    "<xml><ToUserName><![CDATA[gh_10f6c3c3ac5a]]></ToUserName>\n"                                  \
    "<FromUserName><![CDATA[oyORnuP8q7ou2gfYjqLzSIWZf0rs]]></FromUserName>\n"                      \
    "<CreateTime>1409735668</CreateTime>\n"                                                        \
    "<MsgType><![CDATA[text]]></MsgType>\n"                                                        \
    "<Content><![CDATA[abcdteT]]></Content>\n"                                                     \
    "<MsgId>6054768590064713728</MsgId>\n"                                                         \
    "</xml>"

#define TV2_TOKEN  "123456"
#define TV2_KEY    "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR"
#define TV2_APPID  "wx49f0ab532d5d035a"
#define TV2_RANDOM "1234567890123456"
#define TV2_TS     "1411525903"
#define TV2_NONCE  "461056294"
#define TV2_MSG                                                                                    \
    "<xml>\n<MsgType><![CDATA[text]]></MsgType>\n<Content><![CDATA[test]]></Content>\n"            \
    "<FromUserName><![CDATA[wx49f0ab532d5d035a]]></FromUserName>\n"                                \
    "<ToUserName><![CDATA[messense]]></ToUserName>\n<AgentID>1</AgentID>\n"                        \
    "<CreateTime>1411525903</CreateTime>\n</xml>"
#define TV2_ENCRYPT                                                                                \
    "9s4gMv99m88kKTh/H8IdkOiMg6bisoy3ypwy9H4hvSPe9nsGaqyw5hhSjdYbcrKk+j3nba4HMOTzHrluLBYqxgNcBqGs" \
    "L8GqxlhZgURnAtObvesEl5nZ+uBE8bviY0LWke8Zy9V/QYKxNV2FqllNXcfmstttyIkMKCCmVbCFM2JTF5wY0nFhHZSj" \
    "PUL2Q1qvSUCUld+/WIXrx0oyKQmpB6o8NRrrNrsDf03oxI1p9FxUgMnwKKZeOA/uu+2IEvEBtb7muXsVbwbgX05UPPJv" \
    "FurDXafG0RQyPR+mf1nDnAtQmmNOuiR5MIkdQ39xn1vWwi1O5oazPoQJz0nTYjxxEE8kv3kFxtAGVRe3ypD3WeK2XeFY" \
    "FMNMpatF9XiKzHo3"
#define TV2_MSG_SIG "407518b7649e86ef23978113f92d27afa9296533"

#define EMU_TOKEN  "tk_emulator_0001"
#define EMU_KEY    "EmulatorKey0123456789abcdefghijklmnopqrstuv"
#define EMU_AESKEY "126ba56ada2b29ecb4d76df8e7aefcf5a6dc75e7e08628e49669e8a6aaecb6eb"
#define EMU_IV     "126ba56ada2b29ecb4d76df8e7aefcf5"
#define EMU_APPID  "wx0123456789abcdef"

#define TV3_MSG                                                                                    \
    "<xml><AppId><![CDATA[wx0123456789abcdef]]></AppId><CreateTime>1700000000</CreateTime>"        \
    "<InfoType><![CDATA[component_verify_ticket]]></InfoType><ComponentVerifyTicket><![CDATA["     \
    "ticket@@@EmulatorTicket-0001]]></ComponentVerifyTicket></xml>"
#define TV3_ENCRYPT                                                                                \
    "oBe9MbUK8QaFAx5OmkiqSfDCkJqUCuQ+PLh/Ocx1hjKcMgbK4RIqjyN9LsR6UY+sZSuWRHjF1cWWmh19Jg2T15fKuYHZ" \
    "2UvHsLVen4IBaSkrBTm7RVA5cVXTEdcLJKHrnkw8BWfsqK3UT5QucQDMTgS235P+3WiQzjB5uyD7OQUjsO748sjUbR6m" \
    "PDIsF2xiIvk/A0ic5Fdt+Z/SHyCPWHwYerPBzJdCtrVYE3T33Gy4TB37n/CgZkBbdZOUR1b+mPXXN2O/sjDnGNgl2J0Z" \
    "/YUyxVGZDIrSTB4YKgBdzkzdmYDm/vPD3xWyyGAgzfbuPuO9OLljuYcLkpApfoIbcPVozyLpAtkqab29cVxiIkZ/HZ4w" \
    "5VYuJxsG17RGcrnZ"

#define TV4_MSG                                                                                    \
    "<xml><AppId><![CDATA[wx0123456789abcdef]]></AppId><CreateTime>1700000600</CreateTime>"        \
    "<InfoType><![CDATA[unauthorized]]></InfoType><AuthorizerAppid><![CDATA[wxfedcba9876543210]]>" \
    "</AuthorizerAppid></xml>"
#define TV4_ENCRYPT                                                                                \
    "CPh4Kl95wC6AU29kFfyh65/E7i+jOzk6wgSr92I0qjNEU3bykUoOU87/wdDgZMQINveVAHWkKgjzLsU/7NSxMETDYxxl" \
    "c//PUpByBTYGEqQrIAbehd2U0VX90Oc6o68r/UfEsk9zfyruJzH5i9GBB26t66XRzRjrcd0paVggQudpMe+RLS8R3BuC" \
    "FeBwU666VcNa2iBiy5lRcFLM41jDAW4EDroklgpwgnqEzPc7CB2W8/JTSo0/KEpkqtHCgcYHPy6Us9KfDLy0G71aMdpB" \
    "JoC6A86broUY97bwl8f8d0Y2XqhiPiae680JkPau+YPr5/0ZKFPKEs1zurhVmUUTcQ=="

#define TV5_MSG                                                                                    \
    "<xml><AppId><![CDATA[wx0123456789abcdef]]></AppId><CreateTime>1700000300</CreateTime>"        \
    "<InfoType><![CDATA[authorized]]></InfoType><AuthorizerAppid><![CDATA[wxfedcba9876543210]]>"   \
    "</AuthorizerAppid><AuthorizationCode><![CDATA[queryauthcode@@@Emuccccccccc]]>"                \
    "</AuthorizationCode><AuthorizationCodeExpiredTime>1700003900</AuthorizationCodeExpiredTime>"  \
    "<PreAuthCode><![CDATA[preauthcode@@@Emu-0001]]></PreAuthCode></xml>"
#define TV5_ENCRYPT                                                                                \
    "zs1p0x02Ba2gqmxoxR/NkePPsareecOVC5BKAf7Si1HLUjWt9HvGoz96MBazO0iaGiv04b5GFJlNaaBFcd7ta3z79uVl" \
    "59+YXj+G5YkE7tQ3SXcFGEjpGoveQA5CslEzwLkwyol54NAkWdYKqUzzAGe4zpUOAyQHIxT6JkLORY5P+JJkXOtdUuGE" \
    "a5yc8LS/4MtOg4r/ZCZVeDLHMT2j3D5+l8TKn0rrRTQdAEz9DwxvTc1gHPYJT3rri7xvU1qf3o1/on/cu2gioD14SWDA" \
    "s7lO7mLpZzGfdGdss+oS5tRNT+b0X3xLtTO6RA8TYpeFYvLctnKfG6LTb02BJW7GANUKk6ZDcL6vJrVJ6a0DyTBSeq3/" \
    "2rytQgeF5ULm05rXkY5GGszOOD3KZA7cavxnGBvIwt2OKAXkTOcXT8UkTCFjR5KxZ1M3XFKGYiDDNyc0XONE5FByg111" \
    "4XX2lk+Q/F2znAwi5Yjx8u8yRBL+At2YxLRjy58nP4jWIny8JbvGEeHaMUapOBzJ3Yi/QwjXsJsRWDJYMVsCDqFxPD2h" \
    "US3KtSiX0/UzBmZ+4vVeOpbD7stsacProjgeiETisiPaCLcB632D5hKokuU2pfnJbeugVPqjjkesuLVBcqdvgL/p"

/* An unrelated valid key, for the wrong-key and rotation tests. */
#define OTHER_KEY "ZYXWVUTSRQPONMLKJIHGFEDCBAzyxwvutsrqponmlkj"

struct emu_vector {
    const char *name;
    const char *random;
    const char *timestamp;
    const char *nonce;
    const char *msg;
    size_t msg_len;
    const char *first20_hex;
    size_t full_len;
    size_t padded_len;
    unsigned pad;
    const char *encrypt;
    const char *msg_signature;
    const char *url_signature;
};

static const struct emu_vector emu_vectors[] = {
    {"TV3", "a1b2c3d4e5f6g7h8", "1700000000", "1234567890", TV3_MSG, 234,
     "61316232633364346535663667376838000000ea", 272, 288, 0x10, TV3_ENCRYPT,
     "fb96fd71ceddefb15aa93099f82aae41fa9c507b", "afca530c1636551eaafadf9975416136a44c7df5"},
    {"TV4", "Q9w8E7r6T5y4U3i2", "1700000600", "987654321", TV4_MSG, 201,
     "51397738453772365435793455336932000000c9", 239, 256, 0x11, TV4_ENCRYPT,
     "cb451585b0ef2116e5391bd85fddea0f0556df72", "7cd1f15046ea6160d2069b46a72ecdd9f96a1b22"},
    {"TV5", "ZxYwVuTsRqPoNmLk", "1700000300", "55555", TV5_MSG, 410,
     "5a785977567554735271506f4e6d4c6b0000019a", 448, 480, 0x20, TV5_ENCRYPT,
     "2c0e44bb210b1893c77a71da641a6dad507d66e5", "a76c00ac00e9369a9472b142ac5bab718af1e584"},
};

/* --- helpers ----------------------------------------------------------- */

static struct wx_msgcrypt *mc_make(const char *token, const char *key, const char *prev,
                                   const char *appid)
{
    struct wx_msgcrypt *mc = NULL;
    struct be_diag diag = {{0}};
    int rc = wx_msgcrypt_new(token, key, prev, appid, &mc, &diag);
    if (rc)
        print_error("wx_msgcrypt_new: %s\n", diag.msg);
    assert_int_equal(rc, BE_OK);
    assert_non_null(mc);
    return mc;
}

static struct wx_msgcrypt *emu_mc(void)
{
    return mc_make(EMU_TOKEN, EMU_KEY, NULL, EMU_APPID);
}

/* Decrypts and checks the result against an expected reference code. */
static void expect_decrypt(const struct wx_msgcrypt *mc, const char *encrypt, int want)
{
    struct buf out = BUF_INIT;
    struct be_diag diag = {{0}};
    buf_adds(&out, "prefix");
    int rc = wx_msgcrypt_decrypt(mc, encrypt, &out, NULL, &diag);
    if (rc != want)
        print_error("decrypt: got %d (%s), want %d; diag: %s\n", rc, wx_msgcrypt_err_name(rc), want,
                    diag.msg);
    assert_int_equal(rc, want);
    if (rc)
        assert_string_equal(out.data, "prefix"); /* untouched on failure */
    buf_release(&out);
}

static void key_bytes(const char *hex, unsigned char key[32])
{
    assert_int_equal(crypto_hex_decode(hex, key, 32), BE_OK);
}

/* Encrypts an arbitrary plaintext (n a multiple of 16) with the emulator key,
 * bypassing the module, to forge malformed messages. */
static void forge(const unsigned char *plain, size_t n, struct buf *out)
{
    unsigned char key[32];
    unsigned char *cipher = malloc(n);
    assert_non_null(cipher);
    key_bytes(EMU_AESKEY, key);
    assert_int_equal(crypto_aes256_cbc(true, key, key, plain, n, cipher), BE_OK);
    crypto_base64_encode(out, cipher, n);
    free(cipher);
}

/* Raw decryption of an Encrypt value with a known key, for layout checks. */
static size_t raw_decrypt(const char *hex_key, const char *encrypt, unsigned char **ret_plain)
{
    unsigned char key[32];
    struct buf cipher = BUF_INIT;
    key_bytes(hex_key, key);
    assert_int_equal(crypto_base64_decode(&cipher, encrypt, strlen(encrypt)), BE_OK);
    unsigned char *plain = malloc(cipher.len);
    assert_non_null(plain);
    assert_int_equal(crypto_aes256_cbc(false, key, key, cipher.data, cipher.len, plain), BE_OK);
    size_t n = cipher.len;
    buf_release(&cipher);
    *ret_plain = plain;
    return n;
}

/* Lays out random || BE32(len_field) || msg || appid, then pad_len bytes of
 * pad_byte, into p (returns the total length). */
static size_t layout(unsigned char *p, uint32_t len_field, const char *msg, const char *appid,
                     size_t pad_len, unsigned char pad_byte)
{
    size_t n = 0, ml = strlen(msg), al = strlen(appid);
    memcpy(p, "0123456789abcdef", 16);
    p[16] = (unsigned char)(len_field >> 24);
    p[17] = (unsigned char)(len_field >> 16);
    p[18] = (unsigned char)(len_field >> 8);
    p[19] = (unsigned char)len_field;
    n = 20;
    memcpy(p + n, msg, ml);
    n += ml;
    memcpy(p + n, appid, al);
    n += al;
    memset(p + n, pad_byte, pad_len);
    return n + pad_len;
}

/* --- the published vectors --------------------------------------------- */

static void test_tv1_official_sample(void **state)
{
    (void)state;
    unsigned char key[32], want[32];
    assert_int_equal(wx_msgcrypt_decode_key(TV1_KEY, key), WX_MSGCRYPT_OK);
    key_bytes(TV1_AESKEY, want);
    assert_memory_equal(key, want, 32);

    struct wx_msgcrypt *mc = mc_make(TV1_TOKEN, TV1_KEY, NULL, TV1_APPID);
    char sig[41];
    wx_msgcrypt_sign(mc, TV1_TS, TV1_NONCE, TV1_ENCRYPT, sig);
    assert_string_equal(sig, TV1_MSG_SIG);
    wx_msgcrypt_sign_url(mc, TV1_TS, TV1_NONCE, sig);
    assert_string_equal(sig, TV1_URL_SIG);
    assert_int_equal(wx_msgcrypt_verify(mc, TV1_MSG_SIG, TV1_TS, TV1_NONCE, TV1_ENCRYPT), 0);
    assert_int_equal(wx_msgcrypt_verify_url(mc, TV1_URL_SIG, TV1_TS, TV1_NONCE), 0);

    struct buf out = BUF_INIT;
    enum wx_msgcrypt_key used = WX_MSGCRYPT_KEY_PREVIOUS;
    assert_int_equal(
        wx_msgcrypt_open(mc, TV1_MSG_SIG, TV1_TS, TV1_NONCE, TV1_ENCRYPT, &out, &used, NULL),
        WX_MSGCRYPT_OK);
    assert_int_equal(used, WX_MSGCRYPT_KEY_CURRENT);
    assert_int_equal(out.len, 280);
    assert_string_equal(out.data, TV1_MSG);
    buf_release(&out);

    /* The derived facts of §7.9: 320 bytes, pad 0x02, the random prefix. */
    unsigned char *plain;
    size_t n = raw_decrypt(TV1_AESKEY, TV1_ENCRYPT, &plain);
    assert_int_equal(n, 320);
    assert_int_equal(plain[n - 1], 0x02);
    assert_memory_equal(plain, "89465c840c5f116f", 16);
    assert_memory_equal(plain + 16, "\x00\x00\x01\x18", 4);
    assert_memory_equal(plain + 20 + 280, TV1_APPID, 18);
    free(plain);
    wx_msgcrypt_free(mc);
}

static void test_tv2_wechatpy_encrypt(void **state)
{
    (void)state;
    struct wx_msgcrypt *mc = mc_make(TV2_TOKEN, TV2_KEY, NULL, TV2_APPID);
    struct buf enc = BUF_INIT, out = BUF_INIT;
    char sig[41];
    assert_int_equal(wx_msgcrypt_encrypt_fixed(mc, WX_MSGCRYPT_KEY_CURRENT,
                                               (const unsigned char *)TV2_RANDOM, TV2_MSG,
                                               strlen(TV2_MSG), &enc),
                     WX_MSGCRYPT_OK);
    assert_string_equal(enc.data, TV2_ENCRYPT);
    wx_msgcrypt_sign(mc, TV2_TS, TV2_NONCE, enc.data, sig);
    assert_string_equal(sig, TV2_MSG_SIG);
    assert_int_equal(
        wx_msgcrypt_open(mc, TV2_MSG_SIG, TV2_TS, TV2_NONCE, TV2_ENCRYPT, &out, NULL, NULL), 0);
    assert_string_equal(out.data, TV2_MSG);
    buf_release(&enc);
    buf_release(&out);
    wx_msgcrypt_free(mc);
}

static void check_emu_vector(const struct wx_msgcrypt *mc, const struct emu_vector *v)
{
    struct buf enc = BUF_INIT, out = BUF_INIT;
    char sig[41], hex[41];
    print_message("%s\n", v->name);
    assert_int_equal(strlen(v->msg), v->msg_len);
    assert_int_equal(wx_msgcrypt_encrypt_fixed(mc, WX_MSGCRYPT_KEY_CURRENT,
                                               (const unsigned char *)v->random, v->msg, v->msg_len,
                                               &enc),
                     WX_MSGCRYPT_OK);
    assert_string_equal(enc.data, v->encrypt);
    wx_msgcrypt_sign(mc, v->timestamp, v->nonce, v->encrypt, sig);
    assert_string_equal(sig, v->msg_signature);
    wx_msgcrypt_sign_url(mc, v->timestamp, v->nonce, sig);
    assert_string_equal(sig, v->url_signature);
    assert_int_equal(wx_msgcrypt_open(mc, v->msg_signature, v->timestamp, v->nonce, v->encrypt,
                                      &out, NULL, NULL),
                     WX_MSGCRYPT_OK);
    assert_int_equal(out.len, v->msg_len);
    assert_string_equal(out.data, v->msg);

    unsigned char *plain;
    size_t n = raw_decrypt(EMU_AESKEY, v->encrypt, &plain);
    assert_int_equal(n, v->padded_len);
    assert_int_equal(n - plain[n - 1], v->full_len);
    assert_int_equal(plain[n - 1], v->pad);
    for (size_t i = 0; i < 20; i++)
        snprintf(hex + 2 * i, 3, "%02x", plain[i]);
    assert_string_equal(hex, v->first20_hex);
    free(plain);
    buf_release(&enc);
    buf_release(&out);
}

static void test_tv3_tv5_emulator_vectors(void **state)
{
    (void)state;
    unsigned char key[32], want[32];
    assert_int_equal(wx_msgcrypt_decode_key(EMU_KEY, key), WX_MSGCRYPT_OK);
    key_bytes(EMU_AESKEY, want);
    assert_memory_equal(key, want, 32);
    assert_int_equal(crypto_hex_decode(EMU_IV, want, 16), BE_OK);
    assert_memory_equal(key, want, 16); /* IV = AESKey[0..16) */

    struct wx_msgcrypt *mc = emu_mc();
    for (size_t i = 0; i < sizeof(emu_vectors) / sizeof(emu_vectors[0]); i++)
        check_emu_vector(mc, &emu_vectors[i]);
    wx_msgcrypt_free(mc);
}

static void test_tv3_complete_push(void **state)
{
    (void)state;
    const struct emu_vector *v = &emu_vectors[0];
    struct wx_msgcrypt *mc = emu_mc();
    struct buf query = BUF_INIT, body = BUF_INIT;
    assert_int_equal(wx_msgcrypt_build_push(mc, v->timestamp, v->nonce, v->encrypt, &query, &body),
                     WX_MSGCRYPT_OK);
    assert_string_equal(query.data, "signature=afca530c1636551eaafadf9975416136a44c7df5"
                                    "&timestamp=1700000000&nonce=1234567890&encrypt_type=aes"
                                    "&msg_signature=fb96fd71ceddefb15aa93099f82aae41fa9c507b");
    assert_string_equal(body.data, "<xml><AppId><![CDATA[wx0123456789abcdef]]></AppId>"
                                   "<Encrypt><![CDATA[" TV3_ENCRYPT "]]></Encrypt></xml>");
    buf_release(&query);
    buf_release(&body);
    wx_msgcrypt_free(mc);
}

/* The negative tests §7.9 asks for. */
static void test_spec_negatives(void **state)
{
    (void)state;
    const struct emu_vector *v = &emu_vectors[0];
    struct wx_msgcrypt *mc = emu_mc();
    char nonce[32];
    snprintf(nonce, sizeof(nonce), "%s", v->nonce);
    nonce[0] = nonce[0] == '1' ? '2' : '1';
    assert_int_equal(wx_msgcrypt_verify(mc, v->msg_signature, v->timestamp, nonce, v->encrypt),
                     WX_MSGCRYPT_ERR_VALIDATE_SIGNATURE);
    struct buf out = BUF_INIT;
    assert_int_equal(
        wx_msgcrypt_open(mc, v->msg_signature, v->timestamp, nonce, v->encrypt, &out, NULL, NULL),
        WX_MSGCRYPT_ERR_VALIDATE_SIGNATURE);
    assert_int_equal(out.len, 0);

    struct wx_msgcrypt *other = mc_make(EMU_TOKEN, EMU_KEY, NULL, "wx0000000000000000");
    expect_decrypt(other, v->encrypt, WX_MSGCRYPT_ERR_VALIDATE_APPID);
    wx_msgcrypt_free(other);

    char truncated[sizeof(TV3_ENCRYPT)];
    snprintf(truncated, sizeof(truncated), "%s", TV3_ENCRYPT);
    truncated[strlen(truncated) - 4] = '\0';
    expect_decrypt(mc, truncated, WX_MSGCRYPT_ERR_DECRYPT_AES);

    unsigned char key[32];
    char key42[] = EMU_KEY;
    key42[42] = '\0';
    assert_int_equal(wx_msgcrypt_decode_key(key42, key), WX_MSGCRYPT_ERR_ILLEGAL_AES_KEY);
    wx_msgcrypt_free(mc);
}

/* --- keys and construction --------------------------------------------- */

static void test_decode_key(void **state)
{
    (void)state;
    unsigned char key[32];
    memset(key, 0xaa, sizeof(key));
    static const char *const bad[] = {
        "",
        "abcdefghijklmnopqrstuvwxyz0123456789ABCDEF",   /* 42 */
        "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGH", /* 44 */
        "abcdefghijklmnopqrstuvwxyz0123456789ABCDEF=",  /* padding */
        "abcdefghijklmnopqrstuvwxyz0123456789ABCDE+G",  /* base64, but not [A-Za-z0-9] */
        "abcdefghijklmnopqrstuvwxyz0123456789ABCDE_G",
        "abcdefghijklmnopqrstuvwxyz0123456789ABCDE G",
        "abcdefghijklmnopqrstuvwxyz0123456789ABCDE\xc3\xa9",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(wx_msgcrypt_decode_key(bad[i], key), WX_MSGCRYPT_ERR_ILLEGAL_AES_KEY);
    assert_int_equal(wx_msgcrypt_decode_key(NULL, key), WX_MSGCRYPT_ERR_ILLEGAL_AES_KEY);
    for (size_t i = 0; i < sizeof(key); i++)
        assert_int_equal(key[i], 0xaa); /* untouched on error */
    /* Trailing bits: "G" (0b000110) and "E" (0b000100) differ only in the two
     * ignored bits, so both give the same key. */
    unsigned char k1[32], k2[32];
    assert_int_equal(wx_msgcrypt_decode_key(TV1_KEY, k1), 0);
    assert_int_equal(wx_msgcrypt_decode_key("abcdefghijklmnopqrstuvwxyz0123456789ABCDEFE", k2), 0);
    assert_memory_equal(k1, k2, 32);
}

static void expect_new_fails(const char *token, const char *key, const char *prev,
                             const char *appid, const char *diag_part)
{
    struct wx_msgcrypt *mc = (struct wx_msgcrypt *)(uintptr_t)0x1;
    struct be_diag diag = {{0}};
    assert_int_equal(wx_msgcrypt_new(token, key, prev, appid, &mc, &diag), BE_INVALID_PARAMETER);
    assert_ptr_equal(mc, (struct wx_msgcrypt *)(uintptr_t)0x1);
    if (!strstr(diag.msg, diag_part))
        print_error("diag \"%s\" lacks \"%s\"\n", diag.msg, diag_part);
    assert_non_null(strstr(diag.msg, diag_part));
}

static void test_new_validation(void **state)
{
    (void)state;
    char long_token[WX_MSGCRYPT_MAX_TOKEN + 2];
    memset(long_token, 't', sizeof(long_token) - 1);
    long_token[sizeof(long_token) - 1] = '\0';
    expect_new_fails("", EMU_KEY, NULL, EMU_APPID, "token");
    expect_new_fails(NULL, EMU_KEY, NULL, EMU_APPID, "token");
    expect_new_fails("a b", EMU_KEY, NULL, EMU_APPID, "token");
    expect_new_fails(long_token, EMU_KEY, NULL, EMU_APPID, "token");
    expect_new_fails(EMU_TOKEN, EMU_KEY, NULL, "", "appid");
    expect_new_fails(EMU_TOKEN, EMU_KEY, NULL, "wx]]>", "appid");
    expect_new_fails(EMU_TOKEN, EMU_KEY, NULL, NULL, "appid");
    expect_new_fails(EMU_TOKEN, "short", NULL, EMU_APPID, "-40004");
    expect_new_fails(EMU_TOKEN, NULL, NULL, EMU_APPID, "-40004");
    expect_new_fails(EMU_TOKEN, EMU_KEY, "short", EMU_APPID, "previous EncodingAESKey");

    long_token[WX_MSGCRYPT_MAX_TOKEN] = '\0';
    struct wx_msgcrypt *mc = mc_make(long_token, EMU_KEY, "", EMU_APPID);
    assert_false(wx_msgcrypt_has_previous(mc));
    assert_string_equal(wx_msgcrypt_appid(mc), EMU_APPID);
    wx_msgcrypt_free(mc);
    mc = mc_make(EMU_TOKEN, EMU_KEY, OTHER_KEY, EMU_APPID);
    assert_true(wx_msgcrypt_has_previous(mc));
    wx_msgcrypt_free(mc);
    wx_msgcrypt_free(NULL);
}

/* --- signatures -------------------------------------------------------- */

static void test_signature_unhappy(void **state)
{
    (void)state;
    const struct emu_vector *v = &emu_vectors[1];
    struct wx_msgcrypt *mc = emu_mc();
    const int bad = WX_MSGCRYPT_ERR_VALIDATE_SIGNATURE;
    char sig[64];

    snprintf(sig, sizeof(sig), "%s", v->msg_signature);
    sig[39] = sig[39] == '0' ? '1' : '0';
    assert_int_equal(wx_msgcrypt_verify(mc, sig, v->timestamp, v->nonce, v->encrypt), bad);
    snprintf(sig, sizeof(sig), "%s", v->msg_signature);
    for (char *p = sig; *p; p++)
        *p = (char)(*p >= 'a' && *p <= 'f' ? *p - 'a' + 'A' : *p);
    assert_int_equal(wx_msgcrypt_verify(mc, sig, v->timestamp, v->nonce, v->encrypt), bad);
    snprintf(sig, sizeof(sig), "%.39s", v->msg_signature);
    assert_int_equal(wx_msgcrypt_verify(mc, sig, v->timestamp, v->nonce, v->encrypt), bad);
    snprintf(sig, sizeof(sig), "%s0", v->msg_signature);
    assert_int_equal(wx_msgcrypt_verify(mc, sig, v->timestamp, v->nonce, v->encrypt), bad);
    assert_int_equal(wx_msgcrypt_verify(mc, "", v->timestamp, v->nonce, v->encrypt), bad);
    /* The URL signature is not the msg_signature. */
    assert_int_equal(wx_msgcrypt_verify(mc, v->url_signature, v->timestamp, v->nonce, v->encrypt),
                     bad);
    assert_int_equal(wx_msgcrypt_verify(mc, NULL, v->timestamp, v->nonce, v->encrypt), bad);
    assert_int_equal(wx_msgcrypt_verify(mc, v->msg_signature, NULL, v->nonce, v->encrypt), bad);
    assert_int_equal(wx_msgcrypt_verify(mc, v->msg_signature, v->timestamp, NULL, v->encrypt), bad);
    assert_int_equal(wx_msgcrypt_verify(mc, v->msg_signature, v->timestamp, v->nonce, NULL), bad);
    /* Other timestamp, other token. */
    assert_int_equal(wx_msgcrypt_verify(mc, v->msg_signature, "1700000601", v->nonce, v->encrypt),
                     bad);
    struct wx_msgcrypt *other = mc_make("tk_emulator_0002", EMU_KEY, NULL, EMU_APPID);
    assert_int_equal(
        wx_msgcrypt_verify(other, v->msg_signature, v->timestamp, v->nonce, v->encrypt), bad);
    assert_int_equal(wx_msgcrypt_verify_url(other, v->url_signature, v->timestamp, v->nonce), bad);
    wx_msgcrypt_free(other);

    char long_param[WX_MSGCRYPT_MAX_PARAM + 2];
    memset(long_param, '1', sizeof(long_param) - 1);
    long_param[sizeof(long_param) - 1] = '\0';
    wx_msgcrypt_sign(mc, long_param, v->nonce, v->encrypt, sig);
    assert_int_equal(wx_msgcrypt_verify(mc, sig, long_param, v->nonce, v->encrypt), bad);
    wx_msgcrypt_sign_url(mc, v->timestamp, long_param, sig);
    assert_int_equal(wx_msgcrypt_verify_url(mc, sig, v->timestamp, long_param), bad);
    assert_int_equal(wx_msgcrypt_verify_url(mc, NULL, v->timestamp, v->nonce), bad);
    assert_int_equal(wx_msgcrypt_verify_url(mc, v->url_signature, v->timestamp, v->nonce), 0);

    /* An Encrypt over the ceiling is refused before hashing. */
    size_t big = WX_MSGCRYPT_MAX_ENCRYPT_TEXT + 4;
    char *huge = malloc(big + 1);
    assert_non_null(huge);
    memset(huge, 'A', big);
    huge[big] = '\0';
    wx_msgcrypt_sign(mc, v->timestamp, v->nonce, huge, sig);
    assert_int_equal(wx_msgcrypt_verify(mc, sig, v->timestamp, v->nonce, huge), bad);
    free(huge);
    wx_msgcrypt_free(mc);
}

/* --- decryption failures ----------------------------------------------- */

static void test_wrong_key(void **state)
{
    (void)state;
    struct wx_msgcrypt *mc = mc_make(EMU_TOKEN, OTHER_KEY, NULL, EMU_APPID);
    for (size_t i = 0; i < sizeof(emu_vectors) / sizeof(emu_vectors[0]); i++)
        expect_decrypt(mc, emu_vectors[i].encrypt, WX_MSGCRYPT_ERR_ILLEGAL_BUFFER);
    expect_decrypt(mc, TV1_ENCRYPT, WX_MSGCRYPT_ERR_ILLEGAL_BUFFER);
    wx_msgcrypt_free(mc);
}

static void test_truncated(void **state)
{
    (void)state;
    struct wx_msgcrypt *mc = emu_mc();
    char t[sizeof(TV4_ENCRYPT)];
    size_t len = strlen(TV4_ENCRYPT);

    snprintf(t, sizeof(t), "%.*s", (int)(len - 1), TV4_ENCRYPT); /* not whole quanta */
    expect_decrypt(mc, t, WX_MSGCRYPT_ERR_DECODE_BASE64);
    snprintf(t, sizeof(t), "%.*s", (int)(len - 4), TV4_ENCRYPT); /* 253 bytes */
    expect_decrypt(mc, t, WX_MSGCRYPT_ERR_DECRYPT_AES);
    expect_decrypt(mc, "", WX_MSGCRYPT_ERR_DECRYPT_AES);
    expect_decrypt(mc, NULL, WX_MSGCRYPT_ERR_DECODE_BASE64);

    /* Whole blocks dropped: re-encode a prefix of the ciphertext. */
    struct buf cipher = BUF_INIT, text = BUF_INIT;
    assert_int_equal(crypto_base64_decode(&cipher, TV4_ENCRYPT, len), 0);
    size_t keep[] = {16, 32, 224, 240};
    for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++) {
        buf_reset(&text);
        crypto_base64_encode(&text, cipher.data, keep[i]);
        expect_decrypt(mc, text.data, WX_MSGCRYPT_ERR_ILLEGAL_BUFFER);
    }
    buf_release(&cipher);
    buf_release(&text);
    wx_msgcrypt_free(mc);
}

static void test_bad_padding(void **state)
{
    (void)state;
    struct wx_msgcrypt *mc = emu_mc();
    unsigned char p[128];
    struct buf enc = BUF_INIT;
    /* 20 + 5 + 18 = 43 bytes of content; 64 - 43 = 21 bytes of padding. */
    size_t n = layout(p, 5, "hello", EMU_APPID, 21, 21);
    assert_int_equal(n, 64);
    forge(p, n, &enc); /* the control: well formed */
    expect_decrypt(mc, enc.data, WX_MSGCRYPT_OK);

    const unsigned char bad_last[] = {0, 33, 64, 0xff};
    for (size_t i = 0; i < sizeof(bad_last); i++) {
        layout(p, 5, "hello", EMU_APPID, 21, 21);
        p[63] = bad_last[i];
        buf_reset(&enc);
        forge(p, n, &enc);
        expect_decrypt(mc, enc.data, WX_MSGCRYPT_ERR_ILLEGAL_BUFFER);
    }
    /* A consistent run of 53 bytes of 53: PKCS#7 for a 32-byte block never
     * pads more than 32. */
    size_t n53 = layout(p, 5, "hello", EMU_APPID, 53, 53);
    assert_int_equal(n53, 96);
    buf_reset(&enc);
    forge(p, n53, &enc);
    expect_decrypt(mc, enc.data, WX_MSGCRYPT_ERR_ILLEGAL_BUFFER);
    /* Inconsistent padding bytes: first, middle and last-but-one. */
    const size_t spoil[] = {43, 50, 62};
    for (size_t i = 0; i < sizeof(spoil) / sizeof(spoil[0]); i++) {
        layout(p, 5, "hello", EMU_APPID, 21, 21);
        p[spoil[i]] = 20;
        buf_reset(&enc);
        forge(p, n, &enc);
        expect_decrypt(mc, enc.data, WX_MSGCRYPT_ERR_ILLEGAL_BUFFER);
    }
    /* Padding that eats the whole plaintext, and padding larger than it. */
    memset(p, 32, 32);
    buf_reset(&enc);
    forge(p, 32, &enc);
    expect_decrypt(mc, enc.data, WX_MSGCRYPT_ERR_ILLEGAL_BUFFER);
    memset(p, 17, 16);
    buf_reset(&enc);
    forge(p, 16, &enc);
    expect_decrypt(mc, enc.data, WX_MSGCRYPT_ERR_ILLEGAL_BUFFER);
    /* A 16-byte multiple that is not a 32-byte multiple is accepted, like
     * the reference code, as long as the padding is consistent. */
    n = layout(p, 5, "hello", EMU_APPID, 5, 5);
    assert_int_equal(n, 48);
    buf_reset(&enc);
    forge(p, n, &enc);
    expect_decrypt(mc, enc.data, WX_MSGCRYPT_OK);
    buf_release(&enc);
    wx_msgcrypt_free(mc);
}

static void test_length_field(void **state)
{
    (void)state;
    struct wx_msgcrypt *mc = emu_mc();
    unsigned char p[128];
    struct buf enc = BUF_INIT;
    /* content = 20 + 5 + 18 = 43; after the header 23 bytes remain. */
    const uint32_t too_big[] = {24, 0x7fffffff, 0xffffffff, 0x80000000};
    for (size_t i = 0; i < sizeof(too_big) / sizeof(too_big[0]); i++) {
        size_t n = layout(p, too_big[i], "hello", EMU_APPID, 21, 21);
        buf_reset(&enc);
        forge(p, n, &enc);
        expect_decrypt(mc, enc.data, WX_MSGCRYPT_ERR_ILLEGAL_BUFFER);
    }
    /* Exactly everything: the appid tail is then empty. */
    size_t n = layout(p, 23, "hello", EMU_APPID, 21, 21);
    buf_reset(&enc);
    forge(p, n, &enc);
    expect_decrypt(mc, enc.data, WX_MSGCRYPT_ERR_VALIDATE_APPID);
    /* One byte too long or short: the tail is not the appid. */
    n = layout(p, 6, "hello", EMU_APPID, 21, 21);
    buf_reset(&enc);
    forge(p, n, &enc);
    expect_decrypt(mc, enc.data, WX_MSGCRYPT_ERR_VALIDATE_APPID);
    n = layout(p, 4, "hello", EMU_APPID, 21, 21);
    buf_reset(&enc);
    forge(p, n, &enc);
    expect_decrypt(mc, enc.data, WX_MSGCRYPT_ERR_VALIDATE_APPID);
    /* Content shorter than the 20-byte header (19 bytes, pad 13). */
    memset(p, 'x', 19);
    memset(p + 19, 13, 13);
    buf_reset(&enc);
    forge(p, 32, &enc);
    expect_decrypt(mc, enc.data, WX_MSGCRYPT_ERR_ILLEGAL_BUFFER);
    /* An empty message is fine. */
    n = layout(p, 0, "", EMU_APPID, 26, 26);
    assert_int_equal(n, 64);
    buf_reset(&enc);
    forge(p, n, &enc);
    expect_decrypt(mc, enc.data, WX_MSGCRYPT_OK);
    buf_release(&enc);
    wx_msgcrypt_free(mc);
}

static void test_wrong_appid(void **state)
{
    (void)state;
    struct wx_msgcrypt *a = emu_mc();
    struct wx_msgcrypt *b = mc_make(EMU_TOKEN, EMU_KEY, NULL, "wx0123456789abcdeF");
    struct wx_msgcrypt *c = mc_make(EMU_TOKEN, EMU_KEY, NULL, "wx0123456789abcde");
    struct wx_msgcrypt *d = mc_make(EMU_TOKEN, EMU_KEY, NULL, "wx0123456789abcdef0");
    struct buf enc = BUF_INIT;
    assert_int_equal(wx_msgcrypt_encrypt(a, WX_MSGCRYPT_KEY_CURRENT, "m", 1, &enc), 0);
    expect_decrypt(a, enc.data, WX_MSGCRYPT_OK);
    expect_decrypt(b, enc.data, WX_MSGCRYPT_ERR_VALIDATE_APPID);
    expect_decrypt(c, enc.data, WX_MSGCRYPT_ERR_VALIDATE_APPID);
    expect_decrypt(d, enc.data, WX_MSGCRYPT_ERR_VALIDATE_APPID);
    buf_release(&enc);
    wx_msgcrypt_free(a);
    wx_msgcrypt_free(b);
    wx_msgcrypt_free(c);
    wx_msgcrypt_free(d);
}

static void test_non_base64(void **state)
{
    (void)state;
    struct wx_msgcrypt *mc = emu_mc();
    static const char *const bad[] = {
        "!!!!",
        "AAAA-AAAAAAAAAAAAAAAAAAAAAAAAAAA", /* url-safe alphabet */
        "AAAA_AAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "AAAAAAAAAAAAAAAAAAAAAA=AAAAAAAAA", /* "=" inside */
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAA===", /* three "=" */
        "========",
        " AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n",
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\xc3\xa9",
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", /* 31: not whole quanta */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        expect_decrypt(mc, bad[i], WX_MSGCRYPT_ERR_DECODE_BASE64);
    /* Canonical base64 of the wrong size reaches the next check. */
    expect_decrypt(mc, "AAAAAAAAAAAAAAAAAAAAAA==", WX_MSGCRYPT_ERR_ILLEGAL_BUFFER);
    expect_decrypt(mc, "AAAAAAAAAAAAAAAAAAAA", WX_MSGCRYPT_ERR_DECRYPT_AES);
    wx_msgcrypt_free(mc);
}

static void test_garbage_1mib(void **state)
{
    (void)state;
    struct wx_msgcrypt *mc = emu_mc();
    size_t n = WX_MSGCRYPT_MAX_CIPHERTEXT;
    unsigned char *junk = malloc(n + 16);
    assert_non_null(junk);
    for (size_t i = 0; i < n + 16; i++)
        junk[i] = (unsigned char)(i * 131 + (i >> 8) * 7 + 3);
    struct buf text = BUF_INIT;
    crypto_base64_encode(&text, junk, n); /* exactly at the ceiling */
    assert_int_equal(text.len, WX_MSGCRYPT_MAX_ENCRYPT_TEXT);
    expect_decrypt(mc, text.data, WX_MSGCRYPT_ERR_ILLEGAL_BUFFER);
    struct buf out = BUF_INIT;
    assert_int_equal(wx_msgcrypt_open(mc, "0000000000000000000000000000000000000000", "1", "2",
                                      text.data, &out, NULL, NULL),
                     WX_MSGCRYPT_ERR_VALIDATE_SIGNATURE);
    buf_reset(&text);
    crypto_base64_encode(&text, junk, n + 16); /* over the ceiling */
    expect_decrypt(mc, text.data, WX_MSGCRYPT_ERR_ILLEGAL_BUFFER);
    /* 1 MiB of text that is not base64 at all. */
    memset(junk, '#', n);
    junk[n - 1] = '\0';
    expect_decrypt(mc, (const char *)junk, WX_MSGCRYPT_ERR_DECODE_BASE64);
    buf_release(&text);
    buf_release(&out);
    free(junk);
    wx_msgcrypt_free(mc);
}

/* --- round trips and rotation ------------------------------------------ */

static void round_trip(const struct wx_msgcrypt *mc, size_t len)
{
    unsigned char *msg = malloc(len + 1);
    assert_non_null(msg);
    for (size_t i = 0; i < len; i++)
        msg[i] = (unsigned char)(i * 7 + len);
    struct buf enc = BUF_INIT, cipher = BUF_INIT, out = BUF_INIT;
    assert_int_equal(wx_msgcrypt_encrypt(mc, WX_MSGCRYPT_KEY_CURRENT, msg, len, &enc), 0);
    assert_int_equal(crypto_base64_decode(&cipher, enc.data, enc.len), 0);
    assert_int_equal(cipher.len % 32, 0);
    assert_true(cipher.len >= 20 + len + strlen(EMU_APPID) + 1);
    assert_true(cipher.len <= 20 + len + strlen(EMU_APPID) + 32);
    assert_int_equal(wx_msgcrypt_decrypt(mc, enc.data, &out, NULL, NULL), 0);
    assert_int_equal(out.len, len);
    if (len)
        assert_memory_equal(out.data, msg, len);
    buf_release(&enc);
    buf_release(&cipher);
    buf_release(&out);
    free(msg);
}

static void test_round_trips(void **state)
{
    (void)state;
    struct wx_msgcrypt *mc = emu_mc();
    for (size_t len = 0; len <= 130; len++)
        round_trip(mc, len);
    round_trip(mc, 64 * 1024);
    /* The largest message: 20 + msg + appid = 1 MiB - 1, padded to 1 MiB. */
    size_t max = WX_MSGCRYPT_MAX_CIPHERTEXT - 20 - strlen(EMU_APPID) - 1;
    round_trip(mc, max);
    struct buf enc = BUF_INIT;
    buf_adds(&enc, "keep");
    char *big = calloc(1, max + 1);
    assert_non_null(big);
    assert_int_equal(wx_msgcrypt_encrypt(mc, WX_MSGCRYPT_KEY_CURRENT, big, max + 1, &enc),
                     WX_MSGCRYPT_ERR_ENCRYPT_AES);
    assert_string_equal(enc.data, "keep");
    free(big);

    /* Fresh randomness each time; the prefix is 16 characters of [A-Za-z0-9]. */
    struct buf enc2 = BUF_INIT;
    buf_reset(&enc);
    assert_int_equal(wx_msgcrypt_encrypt(mc, WX_MSGCRYPT_KEY_CURRENT, "same", 4, &enc), 0);
    assert_int_equal(wx_msgcrypt_encrypt(mc, WX_MSGCRYPT_KEY_CURRENT, "same", 4, &enc2), 0);
    assert_string_not_equal(enc.data, enc2.data);
    unsigned char *plain;
    size_t n = raw_decrypt(EMU_AESKEY, enc.data, &plain);
    assert_int_equal(n, 64);
    for (size_t i = 0; i < 16; i++) {
        char c = (char)plain[i];
        assert_true((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'));
    }
    free(plain);
    buf_release(&enc);
    buf_release(&enc2);
    wx_msgcrypt_free(mc);
}

static void test_previous_key(void **state)
{
    (void)state;
    const struct emu_vector *v = &emu_vectors[2];
    /* Rotated: the emulator key is now the previous one. */
    struct wx_msgcrypt *rotated = mc_make(EMU_TOKEN, OTHER_KEY, EMU_KEY, EMU_APPID);
    struct buf out = BUF_INIT;
    enum wx_msgcrypt_key used = WX_MSGCRYPT_KEY_CURRENT;
    assert_int_equal(wx_msgcrypt_open(rotated, v->msg_signature, v->timestamp, v->nonce, v->encrypt,
                                      &out, &used, NULL),
                     WX_MSGCRYPT_OK);
    assert_int_equal(used, WX_MSGCRYPT_KEY_PREVIOUS);
    assert_string_equal(out.data, v->msg);

    /* Answering with the key that worked. */
    struct buf enc = BUF_INIT;
    struct wx_msgcrypt *old = emu_mc();
    assert_int_equal(wx_msgcrypt_encrypt(rotated, used, "reply", 5, &enc), 0);
    buf_reset(&out);
    assert_int_equal(wx_msgcrypt_decrypt(old, enc.data, &out, &used, NULL), 0);
    assert_int_equal(used, WX_MSGCRYPT_KEY_CURRENT);
    assert_string_equal(out.data, "reply");
    /* New messages under the current key still open with the current key. */
    buf_reset(&enc);
    assert_int_equal(wx_msgcrypt_encrypt(rotated, WX_MSGCRYPT_KEY_CURRENT, "new", 3, &enc), 0);
    buf_reset(&out);
    assert_int_equal(wx_msgcrypt_decrypt(rotated, enc.data, &out, &used, NULL), 0);
    assert_int_equal(used, WX_MSGCRYPT_KEY_CURRENT);
    expect_decrypt(old, enc.data, WX_MSGCRYPT_ERR_ILLEGAL_BUFFER);

    /* No previous key: asking for it is an error, and nothing is retried. */
    buf_reset(&enc);
    buf_adds(&enc, "keep");
    assert_int_equal(wx_msgcrypt_encrypt(old, WX_MSGCRYPT_KEY_PREVIOUS, "x", 1, &enc),
                     WX_MSGCRYPT_ERR_ILLEGAL_AES_KEY);
    assert_string_equal(enc.data, "keep");
    struct wx_msgcrypt *fresh = mc_make(EMU_TOKEN, OTHER_KEY, NULL, EMU_APPID);
    expect_decrypt(fresh, v->encrypt, WX_MSGCRYPT_ERR_ILLEGAL_BUFFER);

    /* Neither key: the current key's error. Previous key right but appid
     * wrong: the appid error wins. */
    struct wx_msgcrypt *neither = mc_make(EMU_TOKEN, OTHER_KEY, TV2_KEY, EMU_APPID);
    expect_decrypt(neither, v->encrypt, WX_MSGCRYPT_ERR_ILLEGAL_BUFFER);
    struct wx_msgcrypt *appid = mc_make(EMU_TOKEN, OTHER_KEY, EMU_KEY, "wx0000000000000000");
    struct be_diag diag = {{0}};
    buf_reset(&out);
    assert_int_equal(wx_msgcrypt_decrypt(appid, v->encrypt, &out, NULL, &diag),
                     WX_MSGCRYPT_ERR_VALIDATE_APPID);
    assert_non_null(strstr(diag.msg, "previous key"));

    buf_release(&out);
    buf_release(&enc);
    wx_msgcrypt_free(rotated);
    wx_msgcrypt_free(old);
    wx_msgcrypt_free(fresh);
    wx_msgcrypt_free(neither);
    wx_msgcrypt_free(appid);
}

/* --- envelopes and errors ---------------------------------------------- */

static void test_build_reply(void **state)
{
    (void)state;
    const struct emu_vector *v = &emu_vectors[1];
    struct wx_msgcrypt *mc = emu_mc();
    struct buf xml = BUF_INIT;
    assert_int_equal(wx_msgcrypt_build_reply(mc, v->timestamp, v->nonce, v->encrypt, &xml), 0);
    assert_string_equal(xml.data,
                        "<xml>\n<Encrypt><![CDATA[" TV4_ENCRYPT "]]></Encrypt>\n"
                        "<MsgSignature><![CDATA[cb451585b0ef2116e5391bd85fddea0f0556df72]]>"
                        "</MsgSignature>\n<TimeStamp>1700000600</TimeStamp>\n"
                        "<Nonce><![CDATA[987654321]]></Nonce>\n</xml>");

    const int bad = WX_MSGCRYPT_ERR_GEN_RETURN_XML;
    struct buf q = BUF_INIT, b = BUF_INIT;
    buf_reset(&xml);
    const char *const ts_bad[] = {"", "17000x", "-1", "123456789012345678901", NULL};
    for (size_t i = 0; i < sizeof(ts_bad) / sizeof(ts_bad[0]); i++) {
        assert_int_equal(wx_msgcrypt_build_reply(mc, ts_bad[i], "n1", v->encrypt, &xml), bad);
        assert_int_equal(wx_msgcrypt_build_push(mc, ts_bad[i], "n1", v->encrypt, &q, &b), bad);
    }
    const char *const nonce_bad[] = {"", "a]]>b", "a&b", "a b", NULL};
    for (size_t i = 0; i < sizeof(nonce_bad) / sizeof(nonce_bad[0]); i++) {
        assert_int_equal(wx_msgcrypt_build_reply(mc, "1", nonce_bad[i], v->encrypt, &xml), bad);
        assert_int_equal(wx_msgcrypt_build_push(mc, "1", nonce_bad[i], v->encrypt, &q, &b), bad);
    }
    const char *const enc_bad[] = {"", "abc]]>", "AAA", "AA-A", NULL};
    for (size_t i = 0; i < sizeof(enc_bad) / sizeof(enc_bad[0]); i++) {
        assert_int_equal(wx_msgcrypt_build_reply(mc, "1", "n", enc_bad[i], &xml), bad);
        assert_int_equal(wx_msgcrypt_build_push(mc, "1", "n", enc_bad[i], &q, &b), bad);
    }
    assert_int_equal(xml.len + q.len + b.len, 0);
    buf_release(&xml);
    wx_msgcrypt_free(mc);
}

static void test_error_codes(void **state)
{
    (void)state;
    assert_int_equal(wx_msgcrypt_err_to_be(0), BE_OK);
    assert_int_equal(wx_msgcrypt_err_to_be(-40001), BE_AUTH_SIGNATURE);
    assert_int_equal(wx_msgcrypt_err_to_be(-40002), BE_INVALID_PARAMETER_VALUE);
    assert_int_equal(wx_msgcrypt_err_to_be(-40003), BE_INTERNAL);
    assert_int_equal(wx_msgcrypt_err_to_be(-40004), BE_INVALID_PARAMETER);
    assert_int_equal(wx_msgcrypt_err_to_be(-40005), BE_INVALID_PARAMETER_VALUE);
    assert_int_equal(wx_msgcrypt_err_to_be(-40006), BE_INTERNAL);
    assert_int_equal(wx_msgcrypt_err_to_be(-40007), BE_INVALID_PARAMETER_VALUE);
    assert_int_equal(wx_msgcrypt_err_to_be(-40008), BE_INVALID_PARAMETER_VALUE);
    assert_int_equal(wx_msgcrypt_err_to_be(-40009), BE_INTERNAL);
    assert_int_equal(wx_msgcrypt_err_to_be(-40010), BE_INVALID_PARAMETER_VALUE);
    assert_int_equal(wx_msgcrypt_err_to_be(-40011), BE_INTERNAL);
    assert_int_equal(wx_msgcrypt_err_to_be(BE_NOT_FOUND), BE_NOT_FOUND);
    assert_int_equal(wx_msgcrypt_err_to_be(-40012), BE_INTERNAL);
    assert_int_equal(wx_msgcrypt_err_to_be(1), BE_INTERNAL);
    assert_string_equal(wx_msgcrypt_err_name(-40001), "ValidateSignatureError");
    assert_string_equal(wx_msgcrypt_err_name(-40008), "IllegalBuffer");
    assert_string_equal(wx_msgcrypt_err_name(0), "OK");
    assert_string_equal(wx_msgcrypt_err_name(-1), "UnknownError");
    for (int e = -40011; e <= -40001; e++)
        assert_string_not_equal(wx_msgcrypt_err_name(e), "UnknownError");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tv1_official_sample),
        cmocka_unit_test(test_tv2_wechatpy_encrypt),
        cmocka_unit_test(test_tv3_tv5_emulator_vectors),
        cmocka_unit_test(test_tv3_complete_push),
        cmocka_unit_test(test_spec_negatives),
        cmocka_unit_test(test_decode_key),
        cmocka_unit_test(test_new_validation),
        cmocka_unit_test(test_signature_unhappy),
        cmocka_unit_test(test_wrong_key),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_bad_padding),
        cmocka_unit_test(test_length_field),
        cmocka_unit_test(test_wrong_appid),
        cmocka_unit_test(test_non_base64),
        cmocka_unit_test(test_garbage_1mib),
        cmocka_unit_test(test_round_trips),
        cmocka_unit_test(test_previous_key),
        cmocka_unit_test(test_build_reply),
        cmocka_unit_test(test_error_codes),
    };
    return cmocka_run_group_tests_name("msgcrypt", tests, NULL, NULL);
}
