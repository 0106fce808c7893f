/* Unit tests of wechat/event: the examples of spec §6, the builder, and
 * hostile XML (DOCTYPE, entities, nesting, sizes, duplicates). */
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
#include "core/err.h"
#include "wechat/event.h"
#include "core/banned.h"

/* Spec §6.2 examples, which are also the messages of TV3, TV5 and TV4. */
#define EX_TICKET                                                                                  \
    "<xml><AppId><![CDATA[wx0123456789abcdef]]></AppId><CreateTime>1700000000</CreateTime>"        \
    "<InfoType><![CDATA[component_verify_ticket]]></InfoType><ComponentVerifyTicket><![CDATA["     \
    "ticket@@@EmulatorTicket-0001]]></ComponentVerifyTicket></xml>"
#define EX_AUTHORIZED_(type)                                                                       \
    "<xml><AppId><![CDATA[wx0123456789abcdef]]></AppId><CreateTime>1700000300</CreateTime>"        \
    "<InfoType><![CDATA[" type "]]></InfoType><AuthorizerAppid><![CDATA[wxfedcba9876543210]]>"     \
    "</AuthorizerAppid><AuthorizationCode><![CDATA[queryauthcode@@@Emuccccccccc]]>"                \
    "</AuthorizationCode><AuthorizationCodeExpiredTime>1700003900</AuthorizationCodeExpiredTime>"  \
    "<PreAuthCode><![CDATA[preauthcode@@@Emu-0001]]></PreAuthCode></xml>"
#define EX_AUTHORIZED       EX_AUTHORIZED_("authorized")
#define EX_UPDATEAUTHORIZED EX_AUTHORIZED_("updateauthorized")
#define EX_UNAUTHORIZED                                                                            \
    "<xml><AppId><![CDATA[wx0123456789abcdef]]></AppId><CreateTime>1700000600</CreateTime>"        \
    "<InfoType><![CDATA[unauthorized]]></InfoType><AuthorizerAppid><![CDATA[wxfedcba9876543210]]>" \
    "</AuthorizerAppid></xml>"

/* The start of TV3's Encrypt is enough for the envelope parser. */
#define ENC                                                                                        \
    "oBe9MbUK8QaFAx5OmkiqSfDCkJqUCuQ+PLh/Ocx1hjKcMgbK4RIqjyN9LsR6UY+sZSuWRHjF1cWWmh19Jg2T15=="

/* --- helpers ----------------------------------------------------------- */

static int parse_event(const char *xml, struct wx_event *ev, struct be_diag *diag)
{
    return wx_event_parse(xml, strlen(xml), ev, diag);
}

/* Parses xml, expecting err, and checks that the output was not written. */
static void expect_event_err(const char *xml, size_t len, int err, const char *diag_part)
{
    struct wx_event ev;
    struct be_diag diag = {{0}};
    memset(&ev, 0x5a, sizeof(ev));
    int rc = wx_event_parse(xml, len, &ev, &diag);
    if (rc != err)
        print_error("got %d (%s), want %d; diag: %s\n", rc, be_err_code(rc), err, diag.msg);
    assert_int_equal(rc, err);
    assert_int_equal(((unsigned char *)&ev)[0], 0x5a);
    assert_int_equal(((unsigned char *)&ev)[sizeof(ev) - 1], 0x5a);
    if (diag_part && !strstr(diag.msg, diag_part))
        print_error("diag \"%s\" lacks \"%s\"\n", diag.msg, diag_part);
    if (diag_part)
        assert_non_null(strstr(diag.msg, diag_part));
}

static void expect_err(const char *xml, int err, const char *diag_part)
{
    expect_event_err(xml, strlen(xml), err, diag_part);
}

static void expect_env_err(const char *xml, size_t len, int err, const char *diag_part)
{
    struct wx_event_envelope env;
    struct be_diag diag = {{0}};
    wx_event_envelope_init(&env);
    int rc = wx_event_envelope_parse(xml, len, &env, &diag);
    if (rc != err)
        print_error("got %d (%s), want %d; diag: %s\n", rc, be_err_code(rc), err, diag.msg);
    assert_int_equal(rc, err);
    assert_int_equal(env.encrypt.len, 0);
    assert_int_equal(env.encrypt.cap, 0);
    assert_string_equal(env.appid, "");
    if (diag_part)
        assert_non_null(strstr(diag.msg, diag_part));
}

/* A string of n copies of unit (caller frees). */
static char *repeat(const char *unit, size_t n)
{
    struct buf b = BUF_INIT;
    for (size_t i = 0; i < n; i++)
        buf_adds(&b, unit);
    return buf_detach(&b, NULL);
}

/* --- the envelope ------------------------------------------------------ */

static void test_envelope_spec(void **state)
{
    (void)state;
    static const char body[] =
        "<xml><AppId><![CDATA[wx0123456789abcdef]]></AppId><Encrypt><![CDATA[" ENC
        "]]></Encrypt></xml>";
    struct wx_event_envelope env;
    wx_event_envelope_init(&env);
    assert_int_equal(wx_event_envelope_parse(body, strlen(body), &env, NULL), BE_OK);
    assert_string_equal(env.appid, "wx0123456789abcdef");
    assert_string_equal(env.to_user_name, "");
    assert_string_equal(env.encrypt.data, ENC);
    wx_event_envelope_release(&env);
    assert_int_equal(env.encrypt.len, 0);
    wx_event_envelope_release(&env); /* twice is fine */
}

static void test_envelope_variants(void **state)
{
    (void)state;
    /* Whitespace between elements, a declaration, a comment, a plain-text
     * Encrypt split by a comment, ToUserName, unknown and nested elements,
     * attributes. Not NUL-terminated: the length is passed. */
    static const char body[] =
        "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>\r\n"
        "<xml a=\"b\">\n  <!-- push -->\n  <ToUserName><![CDATA[gh_10f6c3c3ac5a]]></ToUserName>\n"
        "  <Encrypt>\n    oBe9MbUK8QaFAx5OmkiqSfDCkJqUCuQ+PLh/<!-- x -->Ocx1hjKcMgbK4RIqjyN9LsR6UY+"
        "sZSuWRHjF1cWWmh19Jg2T15==\n  </Encrypt>\n"
        "  <Extra><AppId>nested is ignored</AppId><Encrypt>too</Encrypt></Extra>\n"
        "  <AppId>wx0123456789abcdef</AppId>\n</xml>\n<!-- trailing -->";
    struct wx_event_envelope env;
    wx_event_envelope_init(&env);
    assert_int_equal(wx_event_envelope_parse(body, sizeof(body) - 1, &env, NULL), BE_OK);
    assert_string_equal(env.appid, "wx0123456789abcdef");
    assert_string_equal(env.to_user_name, "gh_10f6c3c3ac5a");
    assert_string_equal(env.encrypt.data, ENC);
    wx_event_envelope_release(&env);
}

static void test_envelope_unhappy(void **state)
{
    (void)state;
    const char *s;
    s = "<xml><AppId>wx0123456789abcdef</AppId></xml>";
    expect_env_err(s, strlen(s), BE_MISSING_PARAMETER, "Encrypt");
    s = "<xml><Encrypt></Encrypt></xml>";
    expect_env_err(s, strlen(s), BE_MISSING_PARAMETER, "Encrypt");
    s = "<xml><Encrypt>  \n </Encrypt></xml>";
    expect_env_err(s, strlen(s), BE_MISSING_PARAMETER, "Encrypt");
    s = "<xml><Encrypt>QUFB</Encrypt><Encrypt>QkJC</Encrypt></xml>";
    expect_env_err(s, strlen(s), BE_INVALID_PARAMETER, "duplicate element Encrypt");
    s = "<xml><Encrypt>QUFB</Encrypt><AppId>a</AppId><AppId>a</AppId></xml>";
    expect_env_err(s, strlen(s), BE_INVALID_PARAMETER, "duplicate element AppId");
    s = "<xml><Encrypt>QU<b/>FB</Encrypt></xml>";
    expect_env_err(s, strlen(s), BE_INVALID_PARAMETER, "Encrypt must contain text only");
    s = "<xml><Encrypt>QUFB&#127;</Encrypt></xml>";
    expect_env_err(s, strlen(s), BE_INVALID_PARAMETER_VALUE, "control");
    s = "<xml><Encrypt>QUFB</Encrypt><AppId>"
        "wx0123456789abcdefwx0123456789abcdefwx0123456789abcdefwx0123456789abcdef</AppId></xml>";
    expect_env_err(s, strlen(s), BE_INVALID_PARAMETER_VALUE, "AppId is longer than 64");
    s = "<xml><Encrypt>QUFB</Encrypt>";
    expect_env_err(s, strlen(s), BE_INVALID_PARAMETER, "malformed XML");
    s = "<Envelope><Encrypt>QUFB</Encrypt></Envelope>";
    expect_env_err(s, strlen(s), BE_INVALID_PARAMETER, "root element");
    expect_env_err("", 0, BE_INVALID_PARAMETER, "empty");
    expect_env_err(NULL, 0, BE_INVALID_PARAMETER, "empty");

    /* The largest Encrypt that fits, and a document one byte over. */
    const char *head = "<xml><Encrypt>", *tail = "</Encrypt></xml>";
    size_t fill = WX_EVENT_MAX_DOC - strlen(head) - strlen(tail);
    struct buf b = BUF_INIT;
    buf_adds(&b, head);
    for (size_t i = 0; i < fill; i++)
        buf_addch(&b, 'A');
    buf_adds(&b, tail);
    assert_int_equal(b.len, WX_EVENT_MAX_DOC);
    struct wx_event_envelope env;
    wx_event_envelope_init(&env);
    assert_int_equal(wx_event_envelope_parse(b.data, b.len, &env, NULL), BE_OK);
    assert_int_equal(env.encrypt.len, fill);
    wx_event_envelope_release(&env);
    buf_reset(&b);
    buf_adds(&b, head);
    for (size_t i = 0; i <= fill; i++)
        buf_addch(&b, 'A');
    buf_adds(&b, tail);
    expect_env_err(b.data, b.len, BE_BODY_TOO_LARGE, "larger than");
    buf_release(&b);
}

/* --- the events -------------------------------------------------------- */

static void test_ticket(void **state)
{
    (void)state;
    struct wx_event ev;
    assert_int_equal(parse_event(EX_TICKET, &ev, NULL), BE_OK);
    assert_int_equal(ev.type, WX_INFO_COMPONENT_VERIFY_TICKET);
    assert_string_equal(ev.info_type, "component_verify_ticket");
    assert_string_equal(ev.appid, "wx0123456789abcdef");
    assert_int_equal(ev.create_time, 1700000000);
    assert_string_equal(ev.component_verify_ticket, "ticket@@@EmulatorTicket-0001");
    assert_string_equal(ev.authorizer_appid, "");
    assert_string_equal(ev.authorization_code, "");
    assert_int_equal(ev.authorization_code_expired_time, 0);
    assert_string_equal(ev.pre_auth_code, "");
}

static void check_authorized(const char *xml, enum wx_info_type type, const char *name)
{
    struct wx_event ev;
    assert_int_equal(parse_event(xml, &ev, NULL), BE_OK);
    assert_int_equal(ev.type, type);
    assert_string_equal(ev.info_type, name);
    assert_string_equal(ev.appid, "wx0123456789abcdef");
    assert_int_equal(ev.create_time, 1700000300);
    assert_string_equal(ev.authorizer_appid, "wxfedcba9876543210");
    assert_string_equal(ev.authorization_code, "queryauthcode@@@Emuccccccccc");
    assert_int_equal(ev.authorization_code_expired_time, 1700003900);
    assert_string_equal(ev.pre_auth_code, "preauthcode@@@Emu-0001");
    assert_string_equal(ev.component_verify_ticket, "");
}

static void test_authorized(void **state)
{
    (void)state;
    check_authorized(EX_AUTHORIZED, WX_INFO_AUTHORIZED, "authorized");
    check_authorized(EX_UPDATEAUTHORIZED, WX_INFO_UPDATEAUTHORIZED, "updateauthorized");
}

static void test_unauthorized(void **state)
{
    (void)state;
    struct wx_event ev;
    assert_int_equal(parse_event(EX_UNAUTHORIZED, &ev, NULL), BE_OK);
    assert_int_equal(ev.type, WX_INFO_UNAUTHORIZED);
    assert_int_equal(ev.create_time, 1700000600);
    assert_string_equal(ev.authorizer_appid, "wxfedcba9876543210");
    assert_string_equal(ev.authorization_code, "");
}

static void test_lenient_forms(void **state)
{
    (void)state;
    /* Numbers in CDATA, strings bare, whitespace and newlines, leading zeros,
     * predefined entities and character references, a mixed CDATA/text value,
     * unknown elements. */
    static const char xml[] =
        "<xml>\n"
        "  <AppId> wx0123456789abcdef </AppId>\n"
        "  <CreateTime><![CDATA[ 01700000000 ]]></CreateTime>\n"
        "  <InfoType>\n    component_verify_ticket\n  </InfoType>\n"
        "  <Unknown><Deep><Deeper>x</Deeper></Deep></Unknown>\n"
        "  <ComponentVerifyTicket>ticket@@@a&amp;b&#x41;<![CDATA[<c>]]></ComponentVerifyTicket>\n"
        "</xml>";
    struct wx_event ev;
    assert_int_equal(parse_event(xml, &ev, NULL), BE_OK);
    assert_string_equal(ev.appid, "wx0123456789abcdef");
    assert_int_equal(ev.create_time, 1700000000);
    assert_int_equal(ev.type, WX_INFO_COMPONENT_VERIFY_TICKET);
    assert_string_equal(ev.component_verify_ticket, "ticket@@@a&bA<c>");
}

static void test_unknown_info_type(void **state)
{
    (void)state;
    /* Another feature's push on the same URL (spec §6.2): no AppId or
     * CreateTime is required; nested elements are ignored. */
    static const char xml[] =
        "<xml><AppId><![CDATA[wx0123456789abcdef]]></AppId><CreateTime>1700000000</CreateTime>"
        "<InfoType><![CDATA[notify_third_fasteregister]]></InfoType><appid>wxabc</appid>"
        "<status>0</status><auth_code>xyz</auth_code><msg>OK</msg><info><name>n</name>"
        "<code>c</code><legal_persona_wechat>w</legal_persona_wechat></info></xml>";
    struct wx_event ev;
    assert_int_equal(parse_event(xml, &ev, NULL), BE_OK);
    assert_int_equal(ev.type, WX_INFO_UNKNOWN);
    assert_string_equal(ev.info_type, "notify_third_fasteregister");
    assert_int_equal(parse_event("<xml><InfoType>other</InfoType></xml>", &ev, NULL), BE_OK);
    assert_int_equal(ev.type, WX_INFO_UNKNOWN);
    assert_string_equal(ev.appid, "");
    /* InfoType names are case-sensitive. */
    assert_int_equal(parse_event("<xml><InfoType>Authorized</InfoType></xml>", &ev, NULL), BE_OK);
    assert_int_equal(ev.type, WX_INFO_UNKNOWN);
}

static void test_missing_fields(void **state)
{
    (void)state;
    /* TV1's plaintext is a message, not an event. */
    expect_err("<xml><ToUserName><![CDATA[gh_10f6c3c3ac5a]]></ToUserName>\n<CreateTime>1409735668"
               "</CreateTime>\n<MsgType><![CDATA[text]]></MsgType>\n</xml>",
               BE_MISSING_PARAMETER, "InfoType");
    expect_err("<xml><InfoType></InfoType></xml>", BE_MISSING_PARAMETER, "InfoType");
    expect_err("<xml><CreateTime>1</CreateTime><InfoType>component_verify_ticket</InfoType>"
               "<ComponentVerifyTicket>t</ComponentVerifyTicket></xml>",
               BE_MISSING_PARAMETER, "AppId");
    expect_err("<xml><AppId>a</AppId><InfoType>unauthorized</InfoType>"
               "<AuthorizerAppid>b</AuthorizerAppid></xml>",
               BE_MISSING_PARAMETER, "CreateTime");
    expect_err("<xml><AppId>a</AppId><CreateTime>1</CreateTime><InfoType>component_verify_ticket"
               "</InfoType></xml>",
               BE_MISSING_PARAMETER, "ComponentVerifyTicket");
    expect_err("<xml><AppId>a</AppId><CreateTime>1</CreateTime><InfoType>component_verify_ticket"
               "</InfoType><ComponentVerifyTicket><![CDATA[]]></ComponentVerifyTicket></xml>",
               BE_MISSING_PARAMETER, "ComponentVerifyTicket");
    expect_err("<xml><AppId>a</AppId><CreateTime>1</CreateTime><InfoType>authorized</InfoType>"
               "<AuthorizerAppid>b</AuthorizerAppid></xml>",
               BE_MISSING_PARAMETER, "AuthorizationCode");
    expect_err("<xml><AppId>a</AppId><CreateTime>1</CreateTime><InfoType>updateauthorized"
               "</InfoType><AuthorizationCode>c</AuthorizationCode></xml>",
               BE_MISSING_PARAMETER, "AuthorizerAppid");
    expect_err("<xml><AppId>a</AppId><CreateTime>1</CreateTime><InfoType>unauthorized</InfoType>"
               "</xml>",
               BE_MISSING_PARAMETER, "AuthorizerAppid");
    /* The optional ones may be absent. */
    struct wx_event ev;
    assert_int_equal(parse_event("<xml><AppId>a</AppId><CreateTime>1</CreateTime><InfoType>"
                                 "authorized</InfoType><AuthorizerAppid>b</AuthorizerAppid>"
                                 "<AuthorizationCode>c</AuthorizationCode></xml>",
                                 &ev, NULL),
                     BE_OK);
    assert_int_equal(ev.authorization_code_expired_time, 0);
    assert_string_equal(ev.pre_auth_code, "");
}

static void test_bad_values(void **state)
{
    (void)state;
    const int v = BE_INVALID_PARAMETER_VALUE;
    expect_err("<xml><InfoType>x</InfoType><CreateTime>-1</CreateTime></xml>", v, "CreateTime");
    expect_err("<xml><InfoType>x</InfoType><CreateTime>12a</CreateTime></xml>", v, "CreateTime");
    expect_err("<xml><InfoType>x</InfoType><CreateTime>1 2</CreateTime></xml>", v, "CreateTime");
    expect_err("<xml><InfoType>x</InfoType><CreateTime>+1</CreateTime></xml>", v, "CreateTime");
    expect_err("<xml><InfoType>x</InfoType><CreateTime>9223372036854775808</CreateTime></xml>", v,
               "CreateTime");
    expect_err("<xml><InfoType>x</InfoType><CreateTime>123456789012345678901</CreateTime></xml>", v,
               "CreateTime is longer");
    expect_err("<xml><InfoType>x</InfoType><AuthorizationCodeExpiredTime>1e9"
               "</AuthorizationCodeExpiredTime></xml>",
               v, "AuthorizationCodeExpiredTime");
    expect_err("<xml><InfoType>x</InfoType><AppId>a&#9;b</AppId></xml>", v, "control");
    expect_err("<xml><InfoType>x</InfoType><AppId>a\nb</AppId></xml>", v, "control");
    expect_err("<xml><InfoType>x&#x7f;</InfoType></xml>", v, "control");
    struct wx_event ev;
    assert_int_equal(
        parse_event("<xml><InfoType>x</InfoType><CreateTime>9223372036854775807</CreateTime></xml>",
                    &ev, NULL),
        BE_OK);
    assert_int_equal(ev.create_time, INT64_MAX);
    /* The document is read as UTF-8 whatever it declares. */
    assert_int_equal(parse_event("<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><xml><InfoType>"
                                 "\xe6\x8e\x88</InfoType></xml>",
                                 &ev, NULL),
                     BE_OK);
    assert_string_equal(ev.info_type, "\xe6\x8e\x88");
    expect_err("<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><xml><InfoType>\xe9</InfoType>"
               "</xml>",
               BE_INVALID_PARAMETER, "malformed XML");
    /* UTF-8 text is fine. */
    assert_int_equal(
        parse_event("<xml><InfoType>\xe6\x8e\x88\xe6\x9d\x83</InfoType></xml>", &ev, NULL), BE_OK);
    assert_string_equal(ev.info_type, "\xe6\x8e\x88\xe6\x9d\x83");
}

static void test_oversized_fields(void **state)
{
    (void)state;
    struct wx_event ev;
    char *t511 = repeat("t", WX_EVENT_CODE_MAX), *t512 = repeat("t", WX_EVENT_CODE_MAX + 1);
    char *a64 = repeat("a", WX_EVENT_APPID_MAX), *a65 = repeat("a", WX_EVENT_APPID_MAX + 1);
    char *big = repeat("t", 10000);
    struct buf x = BUF_INIT;
    buf_addf(&x,
             "<xml><InfoType>x</InfoType><ComponentVerifyTicket>\n  %s\n  "
             "</ComponentVerifyTicket><AppId>%s</AppId></xml>",
             t511, a64);
    assert_int_equal(parse_event(x.data, &ev, NULL), BE_OK);
    assert_int_equal(strlen(ev.component_verify_ticket), WX_EVENT_CODE_MAX);
    assert_int_equal(strlen(ev.appid), WX_EVENT_APPID_MAX);
    buf_reset(&x);
    buf_addf(&x,
             "<xml><InfoType>x</InfoType><ComponentVerifyTicket>%s</ComponentVerifyTicket>"
             "</xml>",
             t512);
    expect_err(x.data, BE_INVALID_PARAMETER_VALUE, "ComponentVerifyTicket is longer than 511");
    buf_reset(&x);
    buf_addf(&x, "<xml><InfoType>x</InfoType><PreAuthCode>%s</PreAuthCode></xml>", big);
    expect_err(x.data, BE_INVALID_PARAMETER_VALUE, "PreAuthCode is longer than 511");
    buf_reset(&x);
    buf_addf(&x, "<xml><InfoType>x</InfoType><AuthorizerAppid>%s</AuthorizerAppid></xml>", a65);
    expect_err(x.data, BE_INVALID_PARAMETER_VALUE, "AuthorizerAppid is longer than 64");
    buf_reset(&x);
    buf_addf(&x, "<xml><InfoType>%s</InfoType></xml>", a65);
    expect_err(x.data, BE_INVALID_PARAMETER_VALUE, "InfoType is longer than 64");
    /* Large text in an unknown element is not collected. */
    buf_reset(&x);
    buf_addf(&x, "<xml><InfoType>x</InfoType><Blob>%s</Blob></xml>", big);
    assert_int_equal(parse_event(x.data, &ev, NULL), BE_OK);
    /* The document ceiling. */
    char *huge = repeat("<!-- ---------------------------------------------------------- -->",
                        WX_EVENT_MAX_DOC / 64);
    buf_reset(&x);
    buf_addf(&x, "<xml><InfoType>x</InfoType>%s</xml>", huge);
    assert_true(x.len > WX_EVENT_MAX_DOC);
    expect_err(x.data, BE_BODY_TOO_LARGE, "larger than 65536");
    free(t511), free(t512), free(a64), free(a65), free(big), free(huge);
    buf_release(&x);
}

static void test_duplicates(void **state)
{
    (void)state;
    static const char *const names[] = {
        "AppId",
        "CreateTime",
        "InfoType",
        "ComponentVerifyTicket",
        "AuthorizerAppid",
        "AuthorizationCode",
        "AuthorizationCodeExpiredTime",
        "PreAuthCode",
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        char xml[256], want[64];
        snprintf(xml, sizeof(xml), "<xml><InfoType>x</InfoType><%s>1</%s><%s>1</%s></xml>",
                 names[i], names[i], names[i], names[i]);
        if (i == 2)
            snprintf(xml, sizeof(xml), "<xml><InfoType>x</InfoType><InfoType>x</InfoType></xml>");
        snprintf(want, sizeof(want), "duplicate element %s", names[i]);
        expect_err(xml, BE_INVALID_PARAMETER, want);
    }
    /* An empty element still counts. */
    expect_err("<xml><InfoType>x</InfoType><AppId/><AppId>a</AppId></xml>", BE_INVALID_PARAMETER,
               "duplicate element AppId");
    /* Duplicates of unknown elements, or known names below them, are fine. */
    struct wx_event ev;
    assert_int_equal(parse_event("<xml><InfoType>x</InfoType><Z>1</Z><Z>2</Z><Z><AppId>1</AppId>"
                                 "</Z><Z><AppId>2</AppId></Z></xml>",
                                 &ev, NULL),
                     BE_OK);
    assert_string_equal(ev.appid, "");
}

static void test_malformed(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "<xml>",
        "<xml><InfoType>x</InfoType>",
        "<xml><InfoType>x</xml>",
        "<xml><InfoType>x</InfoType></xml><xml></xml>",
        "<xml><InfoType>x</InfoType></xml>trailing",
        "not xml at all",
        "<xml><InfoType>x</InfoType><a b='1' b='2'/></xml>",
        "<xml><InfoType>x</infotype></xml>",
        "<xml><InfoType><![CDATA[x]></InfoType></xml>",
        "<xml><InfoType>x&#1;</InfoType></xml>",
        "<xml><InfoType>x&#0;</InfoType></xml>",
        "<xml><InfoType>a < b</InfoType></xml>",
        "<xml><InfoType>a & b</InfoType></xml>",
        "<xml><InfoType>\xff\xfe</InfoType></xml>",
        "<xml><InfoType>\xc3(</InfoType></xml>",
        "<xml><InfoType>x</InfoType><1bad/></xml>",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        print_message("case %zu\n", i);
        expect_err(bad[i], BE_INVALID_PARAMETER, "malformed XML");
    }
    static const char nul[] = "<xml><InfoType>x\0y</InfoType></xml>";
    expect_event_err(nul, sizeof(nul) - 1, BE_INVALID_PARAMETER, "malformed XML");
    expect_event_err("", 0, BE_INVALID_PARAMETER, "empty");
    expect_err("   ", BE_INVALID_PARAMETER, "malformed XML");
    expect_err("<event><InfoType>x</InfoType></event>", BE_INVALID_PARAMETER, "root element");
    expect_err("<XML><InfoType>x</InfoType></XML>", BE_INVALID_PARAMETER, "root element");
    expect_err("<xml><InfoType>x<b>y</b></InfoType></xml>", BE_INVALID_PARAMETER,
               "InfoType must contain text only");
}

static void test_doctype_and_entities(void **state)
{
    (void)state;
    static const char *const bad[] = {
        /* billion laughs */
        "<?xml version=\"1.0\"?><!DOCTYPE xml [<!ENTITY a \"aaaaaaaaaa\">"
        "<!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\"><!ENTITY c "
        "\"&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;\">"
        "<!ENTITY d \"&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;\"><!ENTITY e "
        "\"&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;\">"
        "]><xml><InfoType>&e;</InfoType></xml>",
        /* XXE */
        "<!DOCTYPE xml [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>"
        "<xml><InfoType>&xxe;</InfoType></xml>",
        /* external DTD */
        "<!DOCTYPE xml SYSTEM \"http://127.0.0.1:1/evil.dtd\"><xml><InfoType>x</InfoType></xml>",
        /* parameter entities */
        "<!DOCTYPE xml [<!ENTITY % p SYSTEM \"file:///etc/passwd\"> %p;]>"
        "<xml><InfoType>x</InfoType></xml>",
        /* a harmless-looking DOCTYPE is refused all the same */
        "<!DOCTYPE xml><xml><InfoType>x</InfoType></xml>",
        "<!DOCTYPE xml [<!ELEMENT xml ANY>]><xml><InfoType>x</InfoType></xml>",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        print_message("case %zu\n", i);
        expect_err(bad[i], BE_INVALID_PARAMETER, "DOCTYPE");
        expect_env_err(bad[i], strlen(bad[i]), BE_INVALID_PARAMETER, "DOCTYPE");
    }
    /* Without a DTD an entity reference is undefined. */
    expect_err("<xml><InfoType>&xxe;</InfoType></xml>", BE_INVALID_PARAMETER, "malformed XML");
    expect_err("<xml><InfoType>x</InfoType><a>&e;</a></xml>", BE_INVALID_PARAMETER,
               "malformed XML");
}

static void test_nesting_and_counts(void **state)
{
    (void)state;
    struct wx_event ev;
    /* Depth 8 (xml > a > b > ... ) is fine; 9 is not; 100000 fails fast. */
    char *open8 = repeat("<a>", WX_EVENT_MAX_DEPTH - 1),
         *close8 = repeat("</a>", WX_EVENT_MAX_DEPTH - 1);
    char *open9 = repeat("<a>", WX_EVENT_MAX_DEPTH), *close9 = repeat("</a>", WX_EVENT_MAX_DEPTH);
    struct buf x = BUF_INIT;
    buf_addf(&x, "<xml><InfoType>x</InfoType>%s%s</xml>", open8, close8);
    assert_int_equal(parse_event(x.data, &ev, NULL), BE_OK);
    buf_reset(&x);
    buf_addf(&x, "<xml><InfoType>x</InfoType>%s%s</xml>", open9, close9);
    expect_err(x.data, BE_INVALID_PARAMETER, "nested deeper than 8");
    char *deep = repeat("<a>", 10000);
    buf_reset(&x);
    buf_addf(&x, "<xml>%s", deep);
    expect_err(x.data, BE_INVALID_PARAMETER, "nested deeper than 8");

    /* 256 elements in all (the root and 255) pass; 257 do not. */
    char *many = repeat("<z/>", WX_EVENT_MAX_ELEMENTS - 2);
    buf_reset(&x);
    buf_addf(&x, "<xml><InfoType>x</InfoType>%s</xml>", many);
    assert_int_equal(parse_event(x.data, &ev, NULL), BE_OK);
    buf_reset(&x);
    buf_addf(&x, "<xml><InfoType>x</InfoType>%s<z/></xml>", many);
    expect_err(x.data, BE_INVALID_PARAMETER, "more than 256 elements");
    free(open8), free(close8), free(open9), free(close9), free(deep), free(many);
    buf_release(&x);
}

/* --- building ---------------------------------------------------------- */

static void build_expect(const struct wx_event *ev, const char *want)
{
    struct buf out = BUF_INIT;
    struct be_diag diag = {{0}};
    int rc = wx_event_build(ev, &out, &diag);
    if (rc)
        print_error("build: %s\n", diag.msg);
    assert_int_equal(rc, BE_OK);
    assert_string_equal(out.data, want);
    struct wx_event back;
    assert_int_equal(wx_event_parse(out.data, out.len, &back, NULL), BE_OK);
    assert_int_equal(back.type, ev->type);
    assert_string_equal(back.appid, ev->appid);
    assert_int_equal(back.create_time, ev->create_time);
    buf_release(&out);
}

static void test_build_spec_examples(void **state)
{
    (void)state;
    struct wx_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.type = WX_INFO_COMPONENT_VERIFY_TICKET;
    snprintf(ev.info_type, sizeof(ev.info_type), "ignored");
    snprintf(ev.appid, sizeof(ev.appid), "wx0123456789abcdef");
    ev.create_time = 1700000000;
    snprintf(ev.component_verify_ticket, sizeof(ev.component_verify_ticket),
             "ticket@@@EmulatorTicket-0001");
    build_expect(&ev, EX_TICKET);

    memset(&ev, 0, sizeof(ev));
    ev.type = WX_INFO_AUTHORIZED;
    snprintf(ev.appid, sizeof(ev.appid), "wx0123456789abcdef");
    ev.create_time = 1700000300;
    snprintf(ev.authorizer_appid, sizeof(ev.authorizer_appid), "wxfedcba9876543210");
    snprintf(ev.authorization_code, sizeof(ev.authorization_code), "queryauthcode@@@Emuccccccccc");
    ev.authorization_code_expired_time = 1700003900;
    snprintf(ev.pre_auth_code, sizeof(ev.pre_auth_code), "preauthcode@@@Emu-0001");
    snprintf(ev.component_verify_ticket, sizeof(ev.component_verify_ticket), "not written");
    build_expect(&ev, EX_AUTHORIZED);
    ev.type = WX_INFO_UPDATEAUTHORIZED;
    build_expect(&ev, EX_UPDATEAUTHORIZED);

    ev.type = WX_INFO_UNAUTHORIZED;
    ev.create_time = 1700000600;
    build_expect(&ev, EX_UNAUTHORIZED);

    /* Optional fields left out when empty. */
    ev.type = WX_INFO_AUTHORIZED;
    ev.authorization_code_expired_time = 0;
    ev.pre_auth_code[0] = '\0';
    build_expect(&ev, "<xml><AppId><![CDATA[wx0123456789abcdef]]></AppId><CreateTime>1700000600"
                      "</CreateTime><InfoType><![CDATA[authorized]]></InfoType><AuthorizerAppid>"
                      "<![CDATA[wxfedcba9876543210]]></AuthorizerAppid><AuthorizationCode><![CDATA["
                      "queryauthcode@@@Emuccccccccc]]></AuthorizationCode></xml>");
}

static void round_trip(const struct wx_event *ev)
{
    struct buf out = BUF_INIT;
    struct wx_event back;
    assert_int_equal(wx_event_build(ev, &out, NULL), BE_OK);
    assert_int_equal(wx_event_parse(out.data, out.len, &back, NULL), BE_OK);
    assert_int_equal(back.type, ev->type);
    assert_string_equal(back.info_type, wx_info_type_name(ev->type));
    assert_string_equal(back.appid, ev->appid);
    assert_int_equal(back.create_time, ev->create_time);
    assert_string_equal(back.authorizer_appid, ev->authorizer_appid);
    assert_string_equal(back.authorization_code, ev->authorization_code);
    assert_int_equal(back.authorization_code_expired_time, ev->authorization_code_expired_time);
    assert_string_equal(back.pre_auth_code, ev->pre_auth_code);
    buf_release(&out);
}

static void test_build_round_trip(void **state)
{
    (void)state;
    struct wx_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.type = WX_INFO_UPDATEAUTHORIZED;
    snprintf(ev.appid, sizeof(ev.appid), "wx0123456789abcdef");
    ev.create_time = INT64_MAX;
    snprintf(ev.authorizer_appid, sizeof(ev.authorizer_appid), "wxfedcba9876543210");
    memset(ev.authorization_code, 'q', WX_EVENT_CODE_MAX); /* at the ceiling */
    snprintf(ev.pre_auth_code, sizeof(ev.pre_auth_code), "pre<&>'\"]]x]>");
    ev.authorization_code_expired_time = 1;
    round_trip(&ev);
}

static void expect_build_err(const struct wx_event *ev, int err, const char *diag_part)
{
    struct buf out = BUF_INIT;
    struct be_diag diag = {{0}};
    buf_adds(&out, "keep");
    assert_int_equal(wx_event_build(ev, &out, &diag), err);
    assert_string_equal(out.data, "keep");
    if (!strstr(diag.msg, diag_part))
        print_error("diag \"%s\" lacks \"%s\"\n", diag.msg, diag_part);
    assert_non_null(strstr(diag.msg, diag_part));
    buf_release(&out);
}

static void test_build_unhappy(void **state)
{
    (void)state;
    struct wx_event ok, ev;
    memset(&ok, 0, sizeof(ok));
    ok.type = WX_INFO_AUTHORIZED;
    snprintf(ok.appid, sizeof(ok.appid), "wx0123456789abcdef");
    ok.create_time = 1;
    snprintf(ok.authorizer_appid, sizeof(ok.authorizer_appid), "wxfedcba9876543210");
    snprintf(ok.authorization_code, sizeof(ok.authorization_code), "code");

    ev = ok;
    ev.type = WX_INFO_UNKNOWN;
    expect_build_err(&ev, BE_INVALID_PARAMETER, "unknown type");
    ev.type = (enum wx_info_type)42;
    expect_build_err(&ev, BE_INVALID_PARAMETER, "unknown type");
    ev = ok;
    ev.appid[0] = '\0';
    expect_build_err(&ev, BE_MISSING_PARAMETER, "AppId");
    ev = ok;
    ev.authorization_code[0] = '\0';
    expect_build_err(&ev, BE_MISSING_PARAMETER, "AuthorizationCode");
    ev = ok;
    ev.type = WX_INFO_COMPONENT_VERIFY_TICKET;
    expect_build_err(&ev, BE_MISSING_PARAMETER, "ComponentVerifyTicket");
    ev = ok;
    snprintf(ev.authorization_code, sizeof(ev.authorization_code), "a]]>b");
    expect_build_err(&ev, BE_INVALID_PARAMETER_VALUE, "AuthorizationCode");
    ev = ok;
    snprintf(ev.pre_auth_code, sizeof(ev.pre_auth_code), "a\tb");
    expect_build_err(&ev, BE_INVALID_PARAMETER_VALUE, "PreAuthCode");
    ev = ok;
    snprintf(ev.authorizer_appid, sizeof(ev.authorizer_appid), " wx");
    expect_build_err(&ev, BE_INVALID_PARAMETER_VALUE, "AuthorizerAppid");
    ev = ok;
    memset(ev.appid, 'a', sizeof(ev.appid)); /* not terminated */
    expect_build_err(&ev, BE_INVALID_PARAMETER_VALUE, "AppId is longer than 64");
    ev = ok;
    ev.create_time = -1;
    expect_build_err(&ev, BE_INVALID_PARAMETER_VALUE, "CreateTime");
    ev = ok;
    ev.authorization_code_expired_time = -5;
    expect_build_err(&ev, BE_INVALID_PARAMETER_VALUE, "AuthorizationCodeExpiredTime");
}

static void test_info_type_names(void **state)
{
    (void)state;
    assert_string_equal(wx_info_type_name(WX_INFO_COMPONENT_VERIFY_TICKET),
                        "component_verify_ticket");
    assert_string_equal(wx_info_type_name(WX_INFO_AUTHORIZED), "authorized");
    assert_string_equal(wx_info_type_name(WX_INFO_UPDATEAUTHORIZED), "updateauthorized");
    assert_string_equal(wx_info_type_name(WX_INFO_UNAUTHORIZED), "unauthorized");
    assert_null(wx_info_type_name(WX_INFO_UNKNOWN));
    assert_null(wx_info_type_name((enum wx_info_type)99));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_envelope_spec),      cmocka_unit_test(test_envelope_variants),
        cmocka_unit_test(test_envelope_unhappy),   cmocka_unit_test(test_ticket),
        cmocka_unit_test(test_authorized),         cmocka_unit_test(test_unauthorized),
        cmocka_unit_test(test_lenient_forms),      cmocka_unit_test(test_unknown_info_type),
        cmocka_unit_test(test_missing_fields),     cmocka_unit_test(test_bad_values),
        cmocka_unit_test(test_oversized_fields),   cmocka_unit_test(test_duplicates),
        cmocka_unit_test(test_malformed),          cmocka_unit_test(test_doctype_and_entities),
        cmocka_unit_test(test_nesting_and_counts), cmocka_unit_test(test_build_spec_examples),
        cmocka_unit_test(test_build_round_trip),   cmocka_unit_test(test_build_unhappy),
        cmocka_unit_test(test_info_type_names),
    };
    return cmocka_run_group_tests_name("event", tests, NULL, NULL);
}
