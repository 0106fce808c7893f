/* Decrypt+verify throughput of one core: what POST /wechat/events does to a
 * push before it touches the store (spec §7.5), in a loop on one thread:
 *   parse the envelope (expat) -> verify msg_signature (SHA-1) -> decrypt
 *   (base64, AES-256-CBC, padding, length, appid) -> parse the event (expat)
 * and, for comparison, verify+decrypt alone. The push is an `authorized`
 * event as the emulator builds it (wx_event_build, wx_msgcrypt_encrypt,
 * wx_msgcrypt_build_push), about 1 KiB on the wire.
 *
 *     crypt_bench [SECONDS]      (default 3 per measurement)
 *
 * Built by bench/wechat/run.sh against build/release/libbindery.a. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/parse.h"
#include "core/timeutil.h"
#include "wechat/event.h"
#include "wechat/msgcrypt.h"
#include "core/banned.h"

#define APPID   "wx0000000000000001"
#define TOKEN   "binderyEmulatorToken"
#define AES_KEY "BinderyLocalEmulatorKey0123456789abcdefghij"

struct push {
    char timestamp[24];
    char nonce[16];
    char msg_signature[WX_MSGCRYPT_SIG_LEN + 1];
    struct buf body;
};

static void die(const char *what, const char *msg)
{
    fprintf(stderr, "crypt_bench: %s: %s\n", what, msg);
    exit(1);
}

static void build_push(const struct wx_msgcrypt *mc, struct push *p)
{
    struct wx_event ev = {.type = WX_INFO_AUTHORIZED, .create_time = time_now()};
    struct buf xml = BUF_INIT, enc = BUF_INIT, query = BUF_INIT;
    struct be_diag d = {""};
    snprintf(ev.appid, sizeof(ev.appid), "%s", APPID);
    snprintf(ev.authorizer_appid, sizeof(ev.authorizer_appid), "wxa000000000000001");
    snprintf(ev.authorization_code, sizeof(ev.authorization_code), "queryauthcode@@@%s",
             "Aq0Xr4kT9mZ2bLw7cNf1hVd6sPy3jGe8uRo5iKa0xMt2nWq4zBv7lCg9Hs1Jd6Fp3Ye8UkQ");
    ev.authorization_code_expired_time = ev.create_time + 3600;
    snprintf(ev.pre_auth_code, sizeof(ev.pre_auth_code), "preauthcode@@@%s",
             "Pz7Lq2Wm9Xc4Vb1Nt6Ry3Ku8Ji5Oh0Ga7Sd2Fe9Dw4Qa1Zx6Cv3Bn8Mk5Lj0Hg7Tf");
    if (wx_event_build(&ev, &xml, &d))
        die("wx_event_build", d.msg);
    if (wx_msgcrypt_encrypt(mc, WX_MSGCRYPT_KEY_CURRENT, xml.data, xml.len, &enc))
        die("wx_msgcrypt_encrypt", "failed");
    snprintf(p->timestamp, sizeof(p->timestamp), "%" PRId64, time_now());
    snprintf(p->nonce, sizeof(p->nonce), "1234567890");
    wx_msgcrypt_sign(mc, p->timestamp, p->nonce, enc.data, p->msg_signature);
    buf_init(&p->body);
    if (wx_msgcrypt_build_push(mc, p->timestamp, p->nonce, enc.data, &query, &p->body))
        die("wx_msgcrypt_build_push", "failed");
    buf_release(&xml);
    buf_release(&enc);
    buf_release(&query);
}

/* Everything the receiver does before the store; 0 on success. */
static int receive(const struct wx_msgcrypt *mc, const struct push *p, struct buf *xml)
{
    struct wx_event_envelope env;
    struct wx_event ev;
    wx_event_envelope_init(&env);
    buf_reset(xml);
    int rc = wx_event_envelope_parse(p->body.data, p->body.len, &env, NULL);
    if (!rc)
        rc = wx_msgcrypt_open(mc, p->msg_signature, p->timestamp, p->nonce, env.encrypt.data, xml,
                              NULL, NULL);
    if (!rc)
        rc = wx_event_parse(xml->data, xml->len, &ev, NULL);
    if (!rc && ev.type != WX_INFO_AUTHORIZED)
        rc = -1;
    wx_event_envelope_release(&env);
    return rc;
}

/* verify + decrypt of the Encrypt value alone. */
static int open_only(const struct wx_msgcrypt *mc, const struct push *p, const char *encrypt,
                     struct buf *xml)
{
    buf_reset(xml);
    return wx_msgcrypt_open(mc, p->msg_signature, p->timestamp, p->nonce, encrypt, xml, NULL, NULL);
}

static void report(const char *what, uint64_t n, uint64_t ns)
{
    double s = (double)ns / 1e9;
    printf("%-44s %9.0f /s per core  (%.2f us each, %" PRIu64 " in %.2f s)\n", what, (double)n / s,
           s * 1e6 / (double)n, n, s);
}

int main(int argc, char **argv)
{
    uint64_t seconds = 3;
    struct wx_msgcrypt *mc = NULL;
    struct be_diag d = {""};
    struct push p;
    struct buf xml = BUF_INIT;
    struct wx_event_envelope env;
    if (argc > 1 && parse_u64(argv[1], 600, &seconds))
        die("SECONDS", "expected 1..600");
    if (!seconds)
        seconds = 1;
    if (wx_msgcrypt_new(TOKEN, AES_KEY, NULL, APPID, &mc, &d))
        die("wx_msgcrypt_new", d.msg);
    build_push(mc, &p);
    wx_event_envelope_init(&env);
    if (wx_event_envelope_parse(p.body.data, p.body.len, &env, NULL) || receive(mc, &p, &xml))
        die("self-check", "the push does not open");
    printf("push: %zu bytes of body, %zu of Encrypt, %zu of event XML\n", p.body.len,
           env.encrypt.len, xml.len);

    uint64_t budget = seconds * 1000000000u, n = 0, t0 = time_mono_ns(), t;
    do {
        for (int i = 0; i < 256; i++, n++)
            if (receive(mc, &p, &xml))
                die("receive", "failed");
    } while ((t = time_mono_ns() - t0) < budget);
    report("envelope + verify + decrypt + event parse", n, t);

    n = 0;
    t0 = time_mono_ns();
    do {
        for (int i = 0; i < 256; i++, n++)
            if (open_only(mc, &p, env.encrypt.data, &xml))
                die("open", "failed");
    } while ((t = time_mono_ns() - t0) < budget);
    report("verify + decrypt (wx_msgcrypt_open)", n, t);

    wx_event_envelope_release(&env);
    buf_release(&xml);
    buf_release(&p.body);
    wx_msgcrypt_free(mc);
    return 0;
}
