/* The WeChat message encryption scheme ("WXBizMsgCrypt", EncodingAESKey),
 * spec §7: what protects the pushes to the 授权事件接收URL (§6) and encrypted
 * replies. Bindery uses it to open pushes; the emulator uses it to seal them.
 *
 *     struct wx_msgcrypt *mc;
 *     if (wx_msgcrypt_new(token, aes_key, prev_aes_key, component_appid, &mc, &diag))
 *         die(diag.msg);
 *     struct buf xml = BUF_INIT;
 *     enum wx_msgcrypt_key used;
 *     int rc = wx_msgcrypt_open(mc, q_msg_signature, q_timestamp, q_nonce, env.encrypt.data,
 *                               &xml, &used, &diag);
 *     if (rc)
 *         return wx_msgcrypt_err_to_be(rc);
 *
 * Wire format (§7.2, §7.3): ciphertext = AES-256-CBC(key = AESKey, IV =
 * AESKey[0..16), no library padding) of
 *     random[16] || BE32(msg_len) || msg || appid || PKCS#7 pad to 32 bytes
 * carried as standard base64 ("Encrypt"). Signatures (§7.4) are the lowercase
 * hex SHA-1 of the byte-wise sorted strings, concatenated.
 *
 * Errors. Unlike most modules, the run-time functions below return the
 * reference error codes of §7.7 (enum wx_msgcrypt_err: 0 or -400xx), so that
 * logs and tests speak the same language as WeChat's samples. They are far
 * outside the BE_* range; wx_msgcrypt_err_to_be() turns any of them into a
 * BE_* code at the edge. wx_msgcrypt_new() alone returns BE_* codes, since it
 * validates configuration. Functions that take a `struct be_diag *` (NULL
 * allowed) write a message naming the failing check there; messages never
 * contain keys, tokens or decrypted data.
 *
 * A struct wx_msgcrypt is immutable after wx_msgcrypt_new(), so one instance
 * may be shared by any number of threads. Passing NULL for a struct
 * wx_msgcrypt or an output is a programmer error; NULL for a client-supplied
 * string (signature, timestamp, nonce, Encrypt) is treated as "missing" and
 * fails with the code of that step. */
#ifndef BINDERY_WECHAT_MSGCRYPT_H
#define BINDERY_WECHAT_MSGCRYPT_H

#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"
#include "core/err.h"

/* An EncodingAESKey is 43 characters of [A-Za-z0-9] (spec §1, §7.1). */
#define WX_MSGCRYPT_KEY_TEXT_LEN 43
/* The decoded AESKey. */
#define WX_MSGCRYPT_KEY_LEN 32
/* A signature is 40 lowercase hex digits; buffers take one more for the NUL. */
#define WX_MSGCRYPT_SIG_LEN 40
/* Ceiling of a ciphertext, decoded (1 MiB), and of its base64 text. */
#define WX_MSGCRYPT_MAX_CIPHERTEXT   (1024 * 1024)
#define WX_MSGCRYPT_MAX_ENCRYPT_TEXT ((WX_MSGCRYPT_MAX_CIPHERTEXT + 2) / 3 * 4)
/* Ceilings of the configured token and appid. */
#define WX_MSGCRYPT_MAX_TOKEN 128
#define WX_MSGCRYPT_MAX_APPID 64
/* Ceiling of a timestamp or nonce taken from a URL. */
#define WX_MSGCRYPT_MAX_PARAM 64

/* The reference error codes of spec §7.7 (Python ierror.py names). */
enum wx_msgcrypt_err {
    WX_MSGCRYPT_OK = 0,
    WX_MSGCRYPT_ERR_VALIDATE_SIGNATURE = -40001, /* signature missing or wrong */
    WX_MSGCRYPT_ERR_PARSE_XML = -40002,          /* for callers parsing the envelope */
    WX_MSGCRYPT_ERR_COMPUTE_SIGNATURE = -40003,  /* never returned: SHA-1 cannot fail here */
    WX_MSGCRYPT_ERR_ILLEGAL_AES_KEY = -40004,    /* bad EncodingAESKey, or no such key */
    WX_MSGCRYPT_ERR_VALIDATE_APPID = -40005,     /* the appid at the tail is not ours */
    WX_MSGCRYPT_ERR_ENCRYPT_AES = -40006,        /* message too large, or cipher failure */
    WX_MSGCRYPT_ERR_DECRYPT_AES = -40007,        /* ciphertext empty or not whole blocks */
    WX_MSGCRYPT_ERR_ILLEGAL_BUFFER = -40008,     /* bad padding/length, or over the ceiling */
    WX_MSGCRYPT_ERR_ENCODE_BASE64 = -40009,      /* never returned */
    WX_MSGCRYPT_ERR_DECODE_BASE64 = -40010,      /* Encrypt is not canonical base64 */
    WX_MSGCRYPT_ERR_GEN_RETURN_XML = -40011,     /* bad timestamp/nonce/Encrypt for an envelope */
};

/* Maps a wx_msgcrypt_err to a BE_* code: -40001 -> BE_AUTH_SIGNATURE;
 * -40002, -40005, -40007, -40008, -40010 (the client's data is unusable) ->
 * BE_INVALID_PARAMETER_VALUE; -40004 -> BE_INVALID_PARAMETER (configuration);
 * -40003, -40006, -40009, -40011 (our side failed) -> BE_INTERNAL. 0 and BE_*
 * codes pass through unchanged; anything else gives BE_INTERNAL. */
int wx_msgcrypt_err_to_be(int err);

/* The Java/PHP name of a reference code ("ValidateSignatureError", "OK"), or
 * "UnknownError"; for log lines. */
const char *wx_msgcrypt_err_name(int err);

/* Which of the configured keys a message was opened with / is sealed with.
 * Spec §7.8: answer with the key that worked. */
enum wx_msgcrypt_key {
    WX_MSGCRYPT_KEY_CURRENT = 0,
    WX_MSGCRYPT_KEY_PREVIOUS = 1,
};

struct wx_msgcrypt;

/* Decodes an EncodingAESKey into the 32-byte AESKey (spec §7.1): exactly 43
 * characters of [A-Za-z0-9], base64-decoded as if "=" were appended; the two
 * trailing bits of the last character are ignored, as the reference decoders
 * do (the official sample key ends in "G", whose low bits are set). Returns 0
 * and fills ret_key, or WX_MSGCRYPT_ERR_ILLEGAL_AES_KEY (ret_key untouched).
 * The caller should wipe ret_key when done (crypto_wipe). */
int wx_msgcrypt_decode_key(const char *encoding_aes_key,
                           unsigned char ret_key[WX_MSGCRYPT_KEY_LEN]);

/* Creates a message crypter for one party.
 *   token: the message check token (消息校验Token), 1..WX_MSGCRYPT_MAX_TOKEN
 *       visible ASCII characters (0x21..0x7e).
 *   encoding_aes_key: the current EncodingAESKey (see wx_msgcrypt_decode_key).
 *   previous_encoding_aes_key: the key before the last rotation, tried when
 *       the current one fails to open a message; NULL or "" for none.
 *   appid: the appid expected at the tail of every message and written at
 *       the tail of sealed ones (for pushes and replies: the component appid),
 *       1..WX_MSGCRYPT_MAX_APPID characters of [A-Za-z0-9_-].
 * Everything is copied. Returns 0 and sets *ret_mc (free with
 * wx_msgcrypt_free), or BE_INVALID_PARAMETER with diag naming the bad input
 * (for a key: "... (-40004)"). */
int wx_msgcrypt_new(const char *token, const char *encoding_aes_key,
                    const char *previous_encoding_aes_key, const char *appid,
                    struct wx_msgcrypt **ret_mc, struct be_diag *diag);

/* Wipes the keys and the token, and frees mc. NULL is accepted. */
void wx_msgcrypt_free(struct wx_msgcrypt *mc);

/* True when a previous key was configured. */
bool wx_msgcrypt_has_previous(const struct wx_msgcrypt *mc);

/* The configured appid (owned by mc). */
const char *wx_msgcrypt_appid(const struct wx_msgcrypt *mc);

/* Signatures (spec §7.4), written as 40 lowercase hex digits and a NUL.
 * msg_signature covers (token, timestamp, nonce, encrypt); the URL
 * `signature` covers (token, timestamp, nonce). The strings are used as they
 * are; none may be NULL. */
void wx_msgcrypt_sign(const struct wx_msgcrypt *mc, const char *timestamp, const char *nonce,
                      const char *encrypt, char out[WX_MSGCRYPT_SIG_LEN + 1]);
void wx_msgcrypt_sign_url(const struct wx_msgcrypt *mc, const char *timestamp, const char *nonce,
                          char out[WX_MSGCRYPT_SIG_LEN + 1]);

/* Checks a msg_signature (resp. URL signature) in constant time. Returns 0,
 * or WX_MSGCRYPT_ERR_VALIDATE_SIGNATURE when it does not match, when any
 * argument is NULL, when signature is not exactly 40 characters, when
 * timestamp or nonce exceed WX_MSGCRYPT_MAX_PARAM bytes, or when encrypt
 * exceeds WX_MSGCRYPT_MAX_ENCRYPT_TEXT bytes. Timestamp freshness is the
 * caller's business (the reference code does not check it). */
int wx_msgcrypt_verify(const struct wx_msgcrypt *mc, const char *msg_signature,
                       const char *timestamp, const char *nonce, const char *encrypt);
int wx_msgcrypt_verify_url(const struct wx_msgcrypt *mc, const char *signature,
                           const char *timestamp, const char *nonce);

/* Decrypts an Encrypt value (spec §7.5 steps 3-7) and appends the message
 * (msg_len bytes; it may in theory contain NUL bytes) to out; *ret_key tells
 * which key opened it (ret_key may be NULL). Does not check any signature:
 * call wx_msgcrypt_open() for client data. Checks, in order (codes without
 * their WX_MSGCRYPT_ERR_ prefix):
 *   - encrypt longer than WX_MSGCRYPT_MAX_ENCRYPT_TEXT -> ILLEGAL_BUFFER;
 *   - not canonical standard base64 (alphabet A-Za-z0-9+/, length a multiple
 *     of 4, at most two "=" and only at the end) -> DECODE_BASE64;
 *   - decoded length 0 or not a multiple of 16 -> DECRYPT_AES;
 *   - last byte p not in 1..32, p greater than the plaintext, or the last p
 *     bytes not all equal to p (checked in constant time) -> ILLEGAL_BUFFER;
 *   - fewer than 20 bytes left, or the length field larger than what follows
 *     it -> ILLEGAL_BUFFER;
 *   - the tail differs from the configured appid -> VALIDATE_APPID.
 * When the current key fails with DECRYPT_AES, ILLEGAL_BUFFER or
 * VALIDATE_APPID and a previous key is configured, the previous key is tried;
 * if both fail the result is VALIDATE_APPID when either key got that far
 * (the key was right but the message is for another appid), else the current
 * key's error. On failure out is left as it was. Intermediate plaintext is
 * wiped. */
int wx_msgcrypt_decrypt(const struct wx_msgcrypt *mc, const char *encrypt, struct buf *out,
                        enum wx_msgcrypt_key *ret_key, struct be_diag *diag);

/* wx_msgcrypt_verify() of msg_signature, then wx_msgcrypt_decrypt(): what a
 * push handler calls with the URL's msg_signature, timestamp and nonce and
 * the envelope's Encrypt. Same results and ownership as those two. */
int wx_msgcrypt_open(const struct wx_msgcrypt *mc, const char *msg_signature, const char *timestamp,
                     const char *nonce, const char *encrypt, struct buf *out,
                     enum wx_msgcrypt_key *ret_key, struct be_diag *diag);

/* Encrypts msg with the given key (spec §7.6 step 1) and appends the base64
 * text (standard alphabet, "=" padded, one line) to out. The 16 random bytes
 * are 16 characters of [A-Za-z0-9] from the CSPRNG, like the reference
 * code's. Returns 0; WX_MSGCRYPT_ERR_ILLEGAL_AES_KEY when key is PREVIOUS
 * and none is configured; WX_MSGCRYPT_ERR_ENCRYPT_AES when 20 + msg_len +
 * the appid length is not below WX_MSGCRYPT_MAX_CIPHERTEXT. out is untouched
 * on error. */
int wx_msgcrypt_encrypt(const struct wx_msgcrypt *mc, enum wx_msgcrypt_key key, const void *msg,
                        size_t msg_len, struct buf *out);

/* wx_msgcrypt_encrypt() with caller-chosen bytes in place of the 16 random
 * ones (any bytes), for test vectors and reproducible emulator runs only: a
 * fixed prefix makes equal messages encrypt equally. */
int wx_msgcrypt_encrypt_fixed(const struct wx_msgcrypt *mc, enum wx_msgcrypt_key key,
                              const unsigned char random_prefix[16], const void *msg,
                              size_t msg_len, struct buf *out);

/* Builds the pieces of a push to the 授权事件接收URL (spec §6.1, §7.6 step 3)
 * for an Encrypt value made by wx_msgcrypt_encrypt(). Appends to out_query
 *     signature=S&timestamp=T&nonce=N&encrypt_type=aes&msg_signature=M
 * (no leading "?") and to out_body
 *     <xml><AppId><![CDATA[appid]]></AppId><Encrypt><![CDATA[E]]></Encrypt></xml>
 * timestamp must be 1..20 decimal digits, nonce 1..WX_MSGCRYPT_MAX_PARAM
 * characters of [A-Za-z0-9], and encrypt non-empty base64 text of at most
 * WX_MSGCRYPT_MAX_ENCRYPT_TEXT characters, so that nothing needs escaping;
 * otherwise WX_MSGCRYPT_ERR_GEN_RETURN_XML and both outputs are untouched. */
int wx_msgcrypt_build_push(const struct wx_msgcrypt *mc, const char *timestamp, const char *nonce,
                           const char *encrypt, struct buf *out_query, struct buf *out_body);

/* Builds the encrypted reply envelope of spec §7.6 step 4 and appends it to
 * out, one element per line as the reference code writes it:
 *     <xml>
 *     <Encrypt><![CDATA[E]]></Encrypt>
 *     <MsgSignature><![CDATA[M]]></MsgSignature>
 *     <TimeStamp>T</TimeStamp>
 *     <Nonce><![CDATA[N]]></Nonce>
 *     </xml>
 * (no newline after </xml>). Same argument rules and errors as
 * wx_msgcrypt_build_push(). */
int wx_msgcrypt_build_reply(const struct wx_msgcrypt *mc, const char *timestamp, const char *nonce,
                            const char *encrypt, struct buf *out);

#endif
