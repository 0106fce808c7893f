/* Unit tests of wechat/events against a real SQLite store: pushes built
 * with wechat/msgcrypt as WeChat would send them, every way of getting one
 * wrong, idempotency, and the claim/complete/defer interface. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "audit/audit.h"
#include "core/buf.h"
#include "core/crypto.h"
#include "core/timeutil.h"
#include "wechat/component.h"
#include "wechat/events.h"
#include "wechat/msgcrypt.h"
#include "testutil.h"

#define APPID     "wx0123456789abcdef"
#define TOKEN     "tk_emulator_0001"
#define AES_KEY   "EmulatorKey0123456789abcdefghijklmnopqrstuv"
#define PREV_KEY  "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
#define OTHER_KEY "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR"
#define AUTHZ_A   "wxfedcba9876543210"
#define AUTHZ_B   "wx1111111111111111"

struct etest {
    struct test_app t;
    struct wechat_events *ev;
    struct wx_msgcrypt *wechat; /* plays WeChat: same token, key and appid */
    int64_t now;
};

static void set_str(char **field, const char *value)
{
    free(*field);
    *field = xstrdup(value);
}

static int setup(void **state)
{
    struct etest *x = xcalloc(1, sizeof(*x));
    if (test_app_open(&x->t))
        return -1;
    set_str(&x->t.cfg->wechat_component_appid, APPID);
    set_str(&x->t.cfg->wechat_token, TOKEN);
    set_str(&x->t.cfg->wechat_encoding_aes_key, AES_KEY);
    set_str(&x->t.cfg->wechat_previous_encoding_aes_key, PREV_KEY);
    struct be_diag d = {""};
    if (wechat_events_new(&x->t.app, &x->ev, &d) ||
        wx_msgcrypt_new(TOKEN, AES_KEY, PREV_KEY, APPID, &x->wechat, &d)) {
        fprintf(stderr, "setup: %s\n", d.msg);
        return -1;
    }
    x->now = time_now();
    *state = x;
    return 0;
}

static int teardown(void **state)
{
    struct etest *x = *state;
    wechat_events_free(x->ev);
    wx_msgcrypt_free(x->wechat);
    test_app_close(&x->t);
    free(x);
    return 0;
}

/* --- building pushes ------------------------------------------------------ */

struct test_push {
    char timestamp[24];
    char nonce[16];
    char msg_signature[WX_MSGCRYPT_SIG_LEN + 1];
    struct buf encrypt;
    struct buf body;
    struct wechat_push p;
};

/* Signs encrypt as WeChat would at time ts and wraps it in the envelope with
 * outer_appid. */
static void push_from_encrypt(struct etest *x, struct test_push *tp, const char *encrypt,
                              int64_t ts, const char *outer_appid)
{
    memset(tp, 0, sizeof(*tp));
    buf_init(&tp->encrypt);
    buf_init(&tp->body);
    buf_adds(&tp->encrypt, encrypt);
    snprintf(tp->timestamp, sizeof(tp->timestamp), "%lld", (long long)ts);
    snprintf(tp->nonce, sizeof(tp->nonce), "%u", (unsigned)crypto_random_range(1, 999999999));
    wx_msgcrypt_sign(x->wechat, tp->timestamp, tp->nonce, encrypt, tp->msg_signature);
    buf_addf(&tp->body, "<xml><AppId><![CDATA[%s]]></AppId><Encrypt><![CDATA[%s]]></Encrypt></xml>",
             outer_appid, encrypt);
    tp->p.msg_signature = tp->msg_signature;
    tp->p.timestamp = tp->timestamp;
    tp->p.nonce = tp->nonce;
    tp->p.encrypt_type = "aes";
    tp->p.body = tp->body.data;
    tp->p.body_len = tp->body.len;
}

static void make_push_with(struct etest *x, struct test_push *tp, struct wx_msgcrypt *mc,
                           const char *xml, int64_t ts)
{
    struct buf enc = BUF_INIT;
    assert_int_equal(wx_msgcrypt_encrypt(mc, WX_MSGCRYPT_KEY_CURRENT, xml, strlen(xml), &enc), 0);
    push_from_encrypt(x, tp, enc.data, ts, APPID);
    buf_release(&enc);
}

static void make_push(struct etest *x, struct test_push *tp, const char *xml)
{
    make_push_with(x, tp, x->wechat, xml, x->now);
}

static void push_release(struct test_push *tp)
{
    buf_release(&tp->encrypt);
    buf_release(&tp->body);
}

static void event_xml(struct buf *b, const char *type, const char *authorizer, int64_t t)
{
    buf_reset(b);
    buf_addf(b,
             "<xml><AppId><![CDATA[" APPID "]]></AppId><CreateTime>%lld</CreateTime>"
             "<InfoType><![CDATA[%s]]></InfoType><AuthorizerAppid><![CDATA[%s]]>"
             "</AuthorizerAppid>",
             (long long)t, type, authorizer);
    if (strcmp(type, "unauthorized"))
        buf_addf(b,
                 "<AuthorizationCode><![CDATA[queryauthcode@@@%s-%lld]]></AuthorizationCode>"
                 "<AuthorizationCodeExpiredTime>%lld</AuthorizationCodeExpiredTime>"
                 "<PreAuthCode><![CDATA[preauthcode@@@Emu-0001]]></PreAuthCode>",
                 authorizer, (long long)t, (long long)(t + 3600));
    buf_adds(b, "</xml>");
}

static void ticket_xml(struct buf *b, const char *ticket, int64_t t)
{
    buf_reset(b);
    buf_addf(b,
             "<xml><AppId><![CDATA[" APPID "]]></AppId><CreateTime>%lld</CreateTime>"
             "<InfoType><![CDATA[component_verify_ticket]]></InfoType>"
             "<ComponentVerifyTicket><![CDATA[%s]]></ComponentVerifyTicket></xml>",
             (long long)t, ticket);
}

static struct req_meta meta_at(int64_t now)
{
    struct req_meta m = {"req-1", "203.0.113.9", "unit", now};
    return m;
}

static int receive(struct etest *x, const struct wechat_push *p, enum wechat_push_outcome *out,
                   struct be_diag *d)
{
    struct req_meta m = meta_at(x->now);
    return wechat_events_receive(x->ev, &m, p, out, d);
}

/* --- counting rows ------------------------------------------------------------ */

struct count_ctx {
    const char *sql;
    int64_t n;
};

static int count_fn(struct store_conn *c, void *arg)
{
    struct count_ctx *q = arg;
    struct store_result *r = NULL;
    int rc = store_query(c, q->sql, NULL, 0, &r);
    if (rc == 0)
        q->n = store_result_i64(r, 0, 0);
    store_result_free(r);
    return rc;
}

static int64_t count(struct etest *x, const char *sql)
{
    struct count_ctx q = {sql, -1};
    assert_int_equal(store_run(x->t.app.store, count_fn, &q), 0);
    return q.n;
}

/* Checks that no stored authorization code is readable in the clear. */
static int code_sealed_fn(struct store_conn *c, void *arg)
{
    struct store_result *r = NULL;
    (void)arg;
    int rc = store_query(c, "SELECT auth_code_sealed FROM wechat_events", NULL, 0, &r);
    for (size_t i = 0; rc == 0 && i < store_result_rows(r); i++) {
        size_t len;
        const void *p = store_result_blob(r, i, 0, &len);
        assert_non_null(p);
        assert_null(memmem(p, len, "queryauthcode", 13));
    }
    store_result_free(r);
    return rc;
}

#define EVENTS "SELECT COUNT(*) FROM wechat_events"
#define REFUSALS                                                                                   \
    "SELECT COUNT(*) FROM audit_log WHERE action = 'wechat.push' AND result = 'failure'"

/* --- tests --------------------------------------------------------------------------- */

static void test_configuration(void **state)
{
    struct etest *x = *state;
    struct wechat_events *ev = NULL;
    struct be_diag d = {""};
    assert_null(wechat_events_disabled_reason(x->ev));

    set_str(&x->t.cfg->wechat_token, "");
    assert_int_equal(wechat_events_new(&x->t.app, &ev, &d), 0);
    assert_non_null(strstr(wechat_events_disabled_reason(ev), "wechat.token"));
    struct test_push tp;
    struct buf xml = BUF_INIT;
    ticket_xml(&xml, "ticket@@@1", x->now);
    make_push(x, &tp, xml.data);
    struct req_meta m = meta_at(x->now);
    assert_int_equal(wechat_events_receive(ev, &m, &tp.p, NULL, &d), BE_FAILED);
    wechat_events_free(ev);

    set_str(&x->t.cfg->wechat_component_appid, "");
    assert_int_equal(wechat_events_new(&x->t.app, &ev, &d), 0);
    assert_non_null(strstr(wechat_events_disabled_reason(ev), "wechat.component_appid"));
    wechat_events_free(ev);

    set_str(&x->t.cfg->wechat_component_appid, APPID);
    set_str(&x->t.cfg->wechat_token, TOKEN);
    set_str(&x->t.cfg->wechat_encoding_aes_key, "tooshort");
    assert_int_equal(wechat_events_new(&x->t.app, &ev, &d), BE_INVALID_PARAMETER);
    assert_non_null(strstr(d.msg, "wechat.encoding_aes_key"));
    set_str(&x->t.cfg->wechat_encoding_aes_key, AES_KEY);
    push_release(&tp);
    buf_release(&xml);
}

static void test_ticket(void **state)
{
    struct etest *x = *state;
    struct test_push tp;
    struct buf xml = BUF_INIT;
    enum wechat_push_outcome out;
    struct wx_component_status st;
    ticket_xml(&xml, "ticket@@@EmulatorTicket-0002", x->now - 5);
    make_push(x, &tp, xml.data);
    assert_int_equal(receive(x, &tp.p, &out, NULL), 0);
    assert_int_equal(out, WECHAT_PUSH_TICKET);
    assert_string_equal(wechat_push_outcome_name(out), "ticket");
    assert_int_equal(wx_component_status(&x->t.app, &st), 0);
    assert_true(st.has_ticket);
    assert_int_equal(st.ticket_create_time, x->now - 5);
    /* the replay, and an older ticket: accepted, nothing changes */
    assert_int_equal(receive(x, &tp.p, &out, NULL), 0);
    push_release(&tp);
    ticket_xml(&xml, "ticket@@@EmulatorTicket-0001", x->now - 600);
    make_push(x, &tp, xml.data);
    assert_int_equal(receive(x, &tp.p, &out, NULL), 0);
    assert_int_equal(wx_component_status(&x->t.app, &st), 0);
    assert_int_equal(st.ticket_create_time, x->now - 5);
    assert_int_equal(count(x, EVENTS), 0);
    push_release(&tp);
    buf_release(&xml);
}

static void test_events_idempotent(void **state)
{
    struct etest *x = *state;
    struct test_push tp, again;
    struct buf xml = BUF_INIT;
    enum wechat_push_outcome out;
    event_xml(&xml, "authorized", AUTHZ_A, x->now - 10);
    make_push(x, &tp, xml.data);
    assert_int_equal(receive(x, &tp.p, &out, NULL), 0);
    assert_int_equal(out, WECHAT_PUSH_STORED);
    /* the same push again, and the same event encrypted afresh */
    assert_int_equal(receive(x, &tp.p, &out, NULL), 0);
    assert_int_equal(out, WECHAT_PUSH_DUPLICATE);
    make_push(x, &again, xml.data);
    assert_int_equal(receive(x, &again.p, &out, NULL), 0);
    assert_int_equal(out, WECHAT_PUSH_DUPLICATE);
    assert_int_equal(count(x, EVENTS), 1);
    assert_int_equal(count(x, "SELECT COUNT(*) FROM audit_log WHERE action = 'wechat.push'"
                              " AND result = 'success'"),
                     1);
    /* the code is sealed at rest */
    assert_int_equal(store_run(x->t.app.store, code_sealed_fn, NULL), 0);
    push_release(&again);
    /* other types and other times are new events */
    event_xml(&xml, "updateauthorized", AUTHZ_A, x->now - 10);
    make_push(x, &again, xml.data);
    assert_int_equal(receive(x, &again.p, &out, NULL), 0);
    assert_int_equal(out, WECHAT_PUSH_STORED);
    push_release(&again);
    event_xml(&xml, "unauthorized", AUTHZ_A, x->now - 5);
    make_push(x, &again, xml.data);
    assert_int_equal(receive(x, &again.p, &out, NULL), 0);
    assert_int_equal(out, WECHAT_PUSH_STORED);
    assert_int_equal(count(x, EVENTS), 3);
    /* unknown InfoTypes are answered and ignored */
    push_release(&again);
    make_push(x, &again,
              "<xml><AppId><![CDATA[" APPID "]]></AppId><CreateTime>1700000000</CreateTime>"
              "<InfoType><![CDATA[notify_third_fasteregister]]></InfoType></xml>");
    assert_int_equal(receive(x, &again.p, &out, NULL), 0);
    assert_int_equal(out, WECHAT_PUSH_IGNORED);
    assert_int_equal(count(x, EVENTS), 3);
    assert_int_equal(count(x, REFUSALS), 0);
    push_release(&again);
    push_release(&tp);
    buf_release(&xml);
}

static void test_previous_key(void **state)
{
    struct etest *x = *state;
    struct test_push tp;
    struct buf xml = BUF_INIT, enc = BUF_INIT;
    enum wechat_push_outcome out;
    event_xml(&xml, "authorized", AUTHZ_B, x->now);
    assert_int_equal(
        wx_msgcrypt_encrypt(x->wechat, WX_MSGCRYPT_KEY_PREVIOUS, xml.data, xml.len, &enc), 0);
    push_from_encrypt(x, &tp, enc.data, x->now, APPID);
    assert_int_equal(receive(x, &tp.p, &out, NULL), 0);
    assert_int_equal(out, WECHAT_PUSH_STORED);
    push_release(&tp);
    buf_release(&enc);
    buf_release(&xml);
}

/* Expects p to be refused with err and a diag containing what; nothing is
 * stored and one more refusal is audited. */
static void expect_refused(struct etest *x, const struct wechat_push *p, int err, const char *what)
{
    struct be_diag d = {""};
    int64_t events = count(x, EVENTS), refusals = count(x, REFUSALS);
    struct wx_component_status st;
    int rc = receive(x, p, NULL, &d);
    if (rc != err || !strstr(d.msg, what))
        print_error("got %s \"%s\", want %s \"%s\"\n", be_err_code(rc), d.msg, be_err_code(err),
                    what);
    assert_int_equal(rc, err);
    assert_non_null(strstr(d.msg, what));
    assert_true(be_err_status(rc) >= 400 && be_err_status(rc) < 500);
    assert_int_equal(count(x, EVENTS), events);
    assert_int_equal(count(x, REFUSALS), refusals + 1);
    assert_int_equal(wx_component_status(&x->t.app, &st), 0);
    assert_false(st.has_ticket);
}

/* Encrypts raw plaintext bytes (already padded) with AES_KEY. */
static void encrypt_raw(const unsigned char *plain, size_t len, struct buf *out)
{
    unsigned char key[WX_MSGCRYPT_KEY_LEN];
    unsigned char *cipher = xmalloc(len);
    assert_int_equal(wx_msgcrypt_decode_key(AES_KEY, key), 0);
    assert_int_equal(crypto_aes256_cbc(true, key, key, plain, len, cipher), 0);
    crypto_base64_encode(out, cipher, len);
    free(cipher);
}

/* random16 | len | msg | appid, padded with pad bytes of value padv. */
static void bad_padding_encrypt(const char *msg, unsigned char padv, struct buf *out)
{
    struct buf p = BUF_INIT;
    size_t n = strlen(msg);
    unsigned char be[4] = {(unsigned char)(n >> 24), (unsigned char)(n >> 16),
                           (unsigned char)(n >> 8), (unsigned char)n};
    buf_add(&p, "0123456789abcdef", 16);
    buf_add(&p, be, 4);
    buf_adds(&p, msg);
    buf_adds(&p, APPID);
    size_t pad = 32 - p.len % 32;
    for (size_t i = 0; i < pad; i++)
        buf_addch(&p, (char)padv);
    encrypt_raw((const unsigned char *)p.data, p.len, out);
    buf_release(&p);
}

static void test_bad_pushes(void **state)
{
    struct etest *x = *state;
    struct test_push tp;
    struct buf xml = BUF_INIT, enc = BUF_INIT;
    ticket_xml(&xml, "ticket@@@bad", x->now);

    /* wrong signature */
    make_push(x, &tp, xml.data);
    tp.msg_signature[0] = tp.msg_signature[0] == 'a' ? 'b' : 'a';
    expect_refused(x, &tp.p, BE_AUTH_SIGNATURE, "-40001");
    tp.p.nonce = "1";
    expect_refused(x, &tp.p, BE_AUTH_SIGNATURE, "msg_signature");
    push_release(&tp);

    /* stale and future timestamps (properly signed) */
    make_push_with(x, &tp, x->wechat, xml.data, x->now - WECHAT_EVENTS_MAX_SKEW - 1);
    expect_refused(x, &tp.p, BE_AUTH_EXPIRED, "timestamp");
    push_release(&tp);
    make_push_with(x, &tp, x->wechat, xml.data, x->now + WECHAT_EVENTS_MAX_SKEW + 1);
    expect_refused(x, &tp.p, BE_AUTH_EXPIRED, "timestamp");
    push_release(&tp);

    /* a key we do not have: the tail does not check out */
    struct wx_msgcrypt *other = NULL;
    assert_int_equal(wx_msgcrypt_new(TOKEN, OTHER_KEY, NULL, APPID, &other, NULL), 0);
    make_push_with(x, &tp, other, xml.data, x->now);
    expect_refused(x, &tp.p, BE_INVALID_PARAMETER_VALUE, "cannot decrypt");
    wx_msgcrypt_free(other);
    push_release(&tp);

    /* another component's message (right key, other appid at the tail) */
    assert_int_equal(wx_msgcrypt_new(TOKEN, AES_KEY, NULL, "wx0000000000000000", &other, NULL), 0);
    make_push_with(x, &tp, other, xml.data, x->now);
    expect_refused(x, &tp.p, BE_INVALID_PARAMETER_VALUE, "-40005");
    wx_msgcrypt_free(other);
    push_release(&tp);

    /* truncated ciphertext (re-signed, so that decryption is what fails) */
    assert_int_equal(wx_msgcrypt_encrypt(x->wechat, 0, xml.data, xml.len, &enc), 0);
    enc.data[enc.len - 4] = '\0';
    push_from_encrypt(x, &tp, enc.data, x->now, APPID);
    expect_refused(x, &tp.p, BE_INVALID_PARAMETER_VALUE, "cannot decrypt");
    push_release(&tp);
    buf_reset(&enc);
    assert_int_equal(wx_msgcrypt_encrypt(x->wechat, 0, xml.data, xml.len, &enc), 0);
    enc.data[enc.len - 24] = '\0';
    push_from_encrypt(x, &tp, enc.data, x->now, APPID);
    expect_refused(x, &tp.p, BE_INVALID_PARAMETER_VALUE, "-40007");
    push_release(&tp);

    /* bad padding: zero, over 32, inconsistent */
    const unsigned char pads[] = {0, 33, 0xff};
    for (size_t i = 0; i < sizeof(pads); i++) {
        buf_reset(&enc);
        bad_padding_encrypt(xml.data, pads[i], &enc);
        push_from_encrypt(x, &tp, enc.data, x->now, APPID);
        expect_refused(x, &tp.p, BE_INVALID_PARAMETER_VALUE, "-40008");
        push_release(&tp);
    }

    /* wrong AppId: in the envelope, in the event */
    buf_reset(&enc);
    assert_int_equal(wx_msgcrypt_encrypt(x->wechat, 0, xml.data, xml.len, &enc), 0);
    push_from_encrypt(x, &tp, enc.data, x->now, "wx0000000000000000");
    expect_refused(x, &tp.p, BE_INVALID_PARAMETER_VALUE, "envelope's AppId");
    push_release(&tp);
    make_push(x, &tp,
              "<xml><AppId><![CDATA[wx0000000000000000]]></AppId><CreateTime>1</CreateTime>"
              "<InfoType><![CDATA[component_verify_ticket]]></InfoType>"
              "<ComponentVerifyTicket><![CDATA[t]]></ComponentVerifyTicket></xml>");
    expect_refused(x, &tp.p, BE_INVALID_PARAMETER_VALUE, "event's AppId");
    push_release(&tp);

    /* malformed XML, inside and outside */
    make_push(x, &tp, "<xml><AppId>" APPID "</AppId><InfoType>authorized</Info");
    expect_refused(x, &tp.p, BE_INVALID_PARAMETER, "malformed event");
    push_release(&tp);
    make_push(x, &tp, "<!DOCTYPE xml [<!ENTITY e \"x\">]><xml><InfoType>&e;</InfoType></xml>");
    expect_refused(x, &tp.p, BE_INVALID_PARAMETER, "malformed event");
    push_release(&tp);
    make_push(x, &tp,
              "<xml><AppId><![CDATA[" APPID "]]></AppId><CreateTime>1</CreateTime>"
              "<InfoType><![CDATA[authorized]]></InfoType></xml>");
    expect_refused(x, &tp.p, BE_MISSING_PARAMETER, "malformed event");
    push_release(&tp);
    make_push(x, &tp, xml.data);
    tp.p.body = "<xml><Encrypt>abc</Encrypt>";
    tp.p.body_len = strlen(tp.p.body);
    expect_refused(x, &tp.p, BE_INVALID_PARAMETER, "-40002");
    tp.p.body = "<xml><AppId>x</AppId></xml>";
    tp.p.body_len = strlen(tp.p.body);
    expect_refused(x, &tp.p, BE_MISSING_PARAMETER, "-40002");

    /* size, parameters */
    struct buf big = BUF_INIT;
    for (int i = 0; i < WECHAT_EVENTS_MAX_BODY + 1; i++)
        buf_addch(&big, 'A');
    tp.p.body = big.data;
    tp.p.body_len = big.len;
    expect_refused(x, &tp.p, BE_BODY_TOO_LARGE, "body");
    tp.p.body = tp.body.data;
    tp.p.body_len = tp.body.len;
    tp.p.msg_signature = NULL;
    expect_refused(x, &tp.p, BE_MISSING_PARAMETER, "msg_signature");
    tp.p.msg_signature = tp.msg_signature;
    tp.p.timestamp = "";
    expect_refused(x, &tp.p, BE_MISSING_PARAMETER, "timestamp");
    tp.p.timestamp = tp.timestamp;
    tp.p.encrypt_type = "raw";
    expect_refused(x, &tp.p, BE_INVALID_PARAMETER_VALUE, "encrypt_type");
    tp.p.encrypt_type = NULL;
    struct req_meta m = meta_at(x->now);
    assert_int_equal(wechat_events_receive(x->ev, &m, &tp.p, NULL, NULL), 0);
    buf_release(&big);
    push_release(&tp);
    buf_release(&enc);
    buf_release(&xml);
}

/* --- consuming ------------------------------------------------------------------------- */

/* Authorize, revoke, authorize, revoke, all in one second: four events in
 * order, while a retry of the last revocation is still a duplicate. */
static void test_same_second_sequence(void **state)
{
    struct etest *x = *state;
    struct test_push tp;
    struct buf xml = BUF_INIT;
    enum wechat_push_outcome out;
    int64_t t = x->now - 3;
    const char *types[] = {"authorized", "unauthorized", "authorized", "unauthorized"};
    for (int i = 0; i < 4; i++) {
        event_xml(&xml, types[i], AUTHZ_A, t);
        if (i == 2) /* the second grant carries a new code */
            buf_reset(&xml), buf_addf(&xml,
                     "<xml><AppId><![CDATA[" APPID "]]></AppId><CreateTime>%lld</CreateTime>"
                     "<InfoType><![CDATA[authorized]]></InfoType><AuthorizerAppid><![CDATA["
                     AUTHZ_A "]]></AuthorizerAppid><AuthorizationCode><![CDATA[queryauthcode@@@"
                     "second]]></AuthorizationCode></xml>",
                     (long long)t);
        make_push(x, &tp, xml.data);
        assert_int_equal(receive(x, &tp.p, &out, NULL), 0);
        assert_int_equal(out, WECHAT_PUSH_STORED);
        push_release(&tp);
    }
    /* WeChat retries the last revocation, freshly encrypted */
    event_xml(&xml, "unauthorized", AUTHZ_A, t);
    make_push(x, &tp, xml.data);
    assert_int_equal(receive(x, &tp.p, &out, NULL), 0);
    assert_int_equal(out, WECHAT_PUSH_DUPLICATE);
    push_release(&tp);
    assert_int_equal(count(x, EVENTS), 4);
    buf_release(&xml);
}

static void store_event(struct etest *x, const char *type, const char *authorizer, int64_t t)
{
    struct test_push tp;
    struct buf xml = BUF_INIT;
    enum wechat_push_outcome out;
    event_xml(&xml, type, authorizer, t);
    make_push(x, &tp, xml.data);
    assert_int_equal(receive(x, &tp.p, &out, NULL), 0);
    assert_int_equal(out, WECHAT_PUSH_STORED);
    push_release(&tp);
    buf_release(&xml);
}

struct done_ctx {
    int64_t id;
    const char *owner;
    int64_t now;
};

/* What a consumer does: its own change and "done" in one transaction. */
static int consume_fn(struct store_conn *c, void *arg)
{
    struct done_ctx *d = arg;
    struct audit_entry a = {0, 0, "test.consumed", "success", NULL};
    int rc = audit_record(c, NULL, &a);
    return rc ? rc : wechat_events_complete(c, d->id, d->owner, "linked", d->now);
}

static void test_claims(void **state)
{
    struct etest *x = *state;
    struct wechat_event *evs = xcalloc(10, sizeof(*evs));
    size_t n = 0;
    int64_t t0 = x->now - 100;
    store_event(x, "unauthorized", AUTHZ_A, t0 + 20); /* arrives first, happened later */
    store_event(x, "authorized", AUTHZ_A, t0);
    store_event(x, "authorized", AUTHZ_B, t0 + 10);

    /* bad arguments */
    assert_int_equal(wechat_events_claim(&x->t.app, "", x->now, 60, 10, evs, &n),
                     BE_INVALID_PARAMETER_VALUE);
    assert_int_equal(wechat_events_claim(&x->t.app, "w1", x->now, 60, 0, evs, &n),
                     BE_INVALID_PARAMETER_VALUE);
    assert_int_equal(wechat_events_claim(&x->t.app, "w1", x->now, 0, 10, evs, &n),
                     BE_INVALID_PARAMETER_VALUE);

    /* the oldest event of each app, oldest first */
    assert_int_equal(wechat_events_claim(&x->t.app, "w1", x->now, 60, 10, evs, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(evs[0].type, WX_INFO_AUTHORIZED);
    assert_string_equal(evs[0].authorizer_appid, AUTHZ_A);
    assert_int_equal(evs[0].create_time, t0);
    assert_string_equal(evs[0].pre_auth_code, "preauthcode@@@Emu-0001");
    assert_int_equal(evs[0].authorization_code_expires_at, t0 + 3600);
    assert_int_equal(evs[0].attempts, 1);
    char code[64];
    snprintf(code, sizeof(code), "queryauthcode@@@%s-%lld", AUTHZ_A, (long long)t0);
    assert_string_equal(evs[0].authorization_code, code);
    assert_string_equal(evs[1].authorizer_appid, AUTHZ_B);
    int64_t id_a = evs[0].id, id_b = evs[1].id;

    /* leased: nobody else gets them, nor A's next event */
    assert_int_equal(wechat_events_claim(&x->t.app, "w2", x->now, 60, 10, evs, &n), 0);
    assert_int_equal(n, 0);

    /* done inside the consumer's transaction; a stranger cannot */
    struct done_ctx d = {id_a, "w2", x->now};
    assert_int_equal(store_tx(x->t.app.store, consume_fn, &d), BE_NOT_FOUND);
    d.owner = "w1";
    assert_int_equal(store_tx(x->t.app.store, consume_fn, &d), 0);
    assert_int_equal(store_tx(x->t.app.store, consume_fn, &d), BE_NOT_FOUND);
    /* only the consumer's change that came with "done" committed */
    assert_int_equal(count(x, "SELECT COUNT(*) FROM audit_log WHERE action = 'test.consumed'"), 1);

    /* now A's unauthorized is next */
    assert_int_equal(wechat_events_claim(&x->t.app, "w2", x->now, 60, 10, evs, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(evs[0].type, WX_INFO_UNAUTHORIZED);
    assert_string_equal(evs[0].authorization_code, "");
    int64_t id_a2 = evs[0].id;

    /* a lease that ran out goes to someone else; the first holder loses it */
    assert_int_equal(wechat_events_claim(&x->t.app, "w3", x->now + 61, 60, 10, evs, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(evs[0].id, id_b);
    assert_int_equal(evs[0].attempts, 2);
    assert_int_equal(evs[1].id, id_a2);
    assert_int_equal(wechat_events_complete_now(&x->t.app, id_b, "w1", "late", x->now),
                     BE_NOT_FOUND);

    /* deferred: back later, with the note */
    assert_int_equal(wechat_events_defer(&x->t.app, id_b, "w1", x->now + 300, "nope"),
                     BE_NOT_FOUND);
    assert_int_equal(wechat_events_defer(&x->t.app, id_b, "w3", x->now + 300, "upstream down"), 0);
    assert_int_equal(wechat_events_claim(&x->t.app, "w4", x->now + 100, 60, 10, evs, &n), 0);
    assert_int_equal(n, 0);
    /* at +300 the deferral is over and w3's lease (until +121) too */
    assert_int_equal(wechat_events_claim(&x->t.app, "w4", x->now + 300, 60, 10, evs, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(evs[0].id, id_b);
    assert_int_equal(evs[0].attempts, 3);
    assert_string_equal(evs[0].last_error, "upstream down");
    assert_int_equal(evs[1].id, id_a2);
    assert_int_equal(wechat_events_complete_now(&x->t.app, id_a2, "w3", "unlinked", x->now),
                     BE_NOT_FOUND);
    assert_int_equal(wechat_events_complete_now(&x->t.app, id_b, "w4", "linked", x->now), 0);
    assert_int_equal(wechat_events_complete_now(&x->t.app, id_a2, "w4", "unlinked", x->now), 0);
    assert_int_equal(count(x, "SELECT COUNT(*) FROM wechat_events WHERE state = 'done'"), 3);

    /* a duplicate of a done event stays done */
    struct test_push tp;
    struct buf xml = BUF_INIT;
    enum wechat_push_outcome out;
    event_xml(&xml, "authorized", AUTHZ_A, t0);
    make_push(x, &tp, xml.data);
    assert_int_equal(receive(x, &tp.p, &out, NULL), 0);
    assert_int_equal(out, WECHAT_PUSH_DUPLICATE);
    assert_int_equal(wechat_events_claim(&x->t.app, "w5", x->now + 1000, 60, 10, evs, &n), 0);
    assert_int_equal(n, 0);
    push_release(&tp);
    buf_release(&xml);
    free(evs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_configuration, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ticket, setup, teardown),
        cmocka_unit_test_setup_teardown(test_events_idempotent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_same_second_sequence, setup, teardown),
        cmocka_unit_test_setup_teardown(test_previous_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_pushes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_claims, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
