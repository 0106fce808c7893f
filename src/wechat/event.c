#include "wechat/event.h"

#include <expat.h>
#include <inttypes.h>
#include <stdbool.h>
#include <string.h>

#include "core/parse.h"
#include "core/banned.h"

/* Whitespace allowed around a value before the ceiling applies, so that a
 * pretty-printed field is not refused while a huge one is cut off early. */
#define WS_SLACK          64
#define NUMBER_MAX_DIGITS 20

/* --- a bounded extractor of the root's child elements ------------------- */

struct xfield {
    const char *name;
    size_t max; /* bytes after trimming */
    bool seen;
    struct buf text;
};

struct xparse {
    XML_Parser parser;
    struct xfield *fields;
    size_t nfields;
    struct xfield *cur; /* the field whose text is being collected */
    unsigned depth;
    unsigned elements;
    int err;
    struct be_diag *diag;
};

/* Records the first failure and stops expat. Handlers return at once once
 * err is set, since expat may still deliver a few callbacks. */
static void xstop(struct xparse *x, int err)
{
    x->err = err;
    XML_StopParser(x->parser, XML_FALSE);
}

static struct xfield *xfield_find(struct xparse *x, const char *name)
{
    for (size_t i = 0; i < x->nfields; i++) {
        if (!strcmp(x->fields[i].name, name))
            return &x->fields[i];
    }
    return NULL;
}

static bool is_xml_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Trims the collected text in place and applies the field's ceiling. */
static int xfield_finish(struct xfield *f, struct be_diag *diag)
{
    struct buf *b = &f->text;
    size_t start = 0, end = b->len;
    while (start < end && is_xml_space(b->data[start]))
        start++;
    while (end > start && is_xml_space(b->data[end - 1]))
        end--;
    if (end - start > f->max)
        return be_fail(diag, BE_INVALID_PARAMETER_VALUE, "%s is longer than %zu bytes", f->name,
                       f->max);
    if (b->cap) {
        memmove(b->data, b->data + start, end - start);
        b->len = end - start;
        b->data[b->len] = '\0';
    }
    return BE_OK;
}

static void XMLCALL on_start(void *ud, const XML_Char *name, const XML_Char **atts)
{
    struct xparse *x = ud;
    (void)atts;
    if (x->err)
        return;
    if (++x->elements > WX_EVENT_MAX_ELEMENTS) {
        xstop(x, be_fail(x->diag, BE_INVALID_PARAMETER, "the XML has more than %d elements",
                         WX_EVENT_MAX_ELEMENTS));
        return;
    }
    if (++x->depth > WX_EVENT_MAX_DEPTH) {
        xstop(x, be_fail(x->diag, BE_INVALID_PARAMETER, "the XML is nested deeper than %d levels",
                         WX_EVENT_MAX_DEPTH));
        return;
    }
    if (x->depth == 1) {
        if (strcmp(name, "xml"))
            xstop(x, be_fail(x->diag, BE_INVALID_PARAMETER, "the root element must be <xml>"));
        return;
    }
    if (x->cur) {
        xstop(x, be_fail(x->diag, BE_INVALID_PARAMETER, "%s must contain text only", x->cur->name));
        return;
    }
    struct xfield *f = x->depth == 2 ? xfield_find(x, name) : NULL;
    if (!f)
        return;
    if (f->seen) {
        xstop(x, be_fail(x->diag, BE_INVALID_PARAMETER, "duplicate element %s", f->name));
        return;
    }
    f->seen = true;
    x->cur = f;
}

static void XMLCALL on_end(void *ud, const XML_Char *name)
{
    struct xparse *x = ud;
    (void)name;
    if (x->err)
        return;
    if (x->cur && x->depth == 2) {
        int rc = xfield_finish(x->cur, x->diag);
        x->cur = NULL;
        if (rc) {
            xstop(x, rc);
            return;
        }
    }
    x->depth--;
}

static void XMLCALL on_text(void *ud, const XML_Char *s, int len)
{
    struct xparse *x = ud;
    if (x->err || !x->cur || len <= 0)
        return;
    if ((size_t)len > x->cur->max + WS_SLACK - x->cur->text.len) {
        xstop(x, be_fail(x->diag, BE_INVALID_PARAMETER_VALUE, "%s is longer than %zu bytes",
                         x->cur->name, x->cur->max));
        return;
    }
    buf_add(&x->cur->text, s, (size_t)len);
}

/* A DOCTYPE is the only way to declare entities, so refusing it outright
 * rules out external entities (XXE) and entity expansion bombs. */
static void XMLCALL on_doctype(void *ud, const XML_Char *name, const XML_Char *sysid,
                               const XML_Char *pubid, int has_internal_subset)
{
    struct xparse *x = ud;
    (void)name, (void)sysid, (void)pubid, (void)has_internal_subset;
    if (!x->err)
        xstop(x, be_fail(x->diag, BE_INVALID_PARAMETER, "a DOCTYPE is not allowed"));
}

static void XMLCALL on_entity_decl(void *ud, const XML_Char *name, int is_param,
                                   const XML_Char *value, int value_len, const XML_Char *base,
                                   const XML_Char *sysid, const XML_Char *pubid,
                                   const XML_Char *notation)
{
    struct xparse *x = ud;
    (void)name, (void)is_param, (void)value, (void)value_len, (void)base, (void)sysid;
    (void)pubid, (void)notation;
    if (!x->err)
        xstop(x, be_fail(x->diag, BE_INVALID_PARAMETER, "entity declarations are not allowed"));
}

static XML_Parser xparser_new(struct xparse *x)
{
    /* The encoding given here overrides the document's declaration. */
    XML_Parser p = XML_ParserCreate("UTF-8");
    if (!p)
        return NULL;
    XML_SetUserData(p, x);
    XML_SetElementHandler(p, on_start, on_end);
    XML_SetCharacterDataHandler(p, on_text);
    XML_SetStartDoctypeDeclHandler(p, on_doctype);
    XML_SetEntityDeclHandler(p, on_entity_decl);
    XML_SetParamEntityParsing(p, XML_PARAM_ENTITY_PARSING_NEVER);
    return p;
}

/* Runs the parser over xml and leaves the trimmed text of each field in
 * fields[i].text (the caller releases them with xfields_release). */
static int xml_extract(const char *xml, size_t len, struct xfield *fields, size_t nfields,
                       struct be_diag *diag)
{
    struct xparse x = {.fields = fields, .nfields = nfields, .diag = diag};
    if (len > WX_EVENT_MAX_DOC)
        return be_fail(diag, BE_BODY_TOO_LARGE, "the XML is larger than %d bytes",
                       WX_EVENT_MAX_DOC);
    if (len == 0 || !xml)
        return be_fail(diag, BE_INVALID_PARAMETER, "the XML is empty");
    x.parser = xparser_new(&x);
    if (!x.parser)
        return be_fail(diag, BE_INTERNAL, "cannot create an XML parser");
    enum XML_Status st = XML_Parse(x.parser, xml, (int)len, XML_TRUE);
    int rc = x.err;
    if (!rc && st != XML_STATUS_OK)
        rc = be_fail(diag, BE_INVALID_PARAMETER, "malformed XML at line %lu, column %lu: %s",
                     (unsigned long)XML_GetCurrentLineNumber(x.parser),
                     (unsigned long)XML_GetCurrentColumnNumber(x.parser),
                     XML_ErrorString(XML_GetErrorCode(x.parser)));
    XML_ParserFree(x.parser);
    return rc;
}

static void xfields_release(struct xfield *fields, size_t n)
{
    for (size_t i = 0; i < n; i++)
        buf_release(&fields[i].text);
}

/* --- field conversion -------------------------------------------------- */

static bool has_control(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f)
            return true;
    }
    return false;
}

static int require(const struct xfield *f, struct be_diag *diag)
{
    if (!f->seen || f->text.len == 0)
        return be_fail(diag, BE_MISSING_PARAMETER, "missing element %s", f->name);
    return BE_OK;
}

/* Copies a string field into dst (size > f->max, guaranteed by the tables). */
static int take_str(const struct xfield *f, char *dst, size_t size, struct be_diag *diag)
{
    if (f->text.len >= size)
        return be_fail(diag, BE_INVALID_PARAMETER_VALUE, "%s is too long", f->name);
    if (has_control(f->text.data, f->text.len))
        return be_fail(diag, BE_INVALID_PARAMETER_VALUE, "%s contains a control character",
                       f->name);
    memcpy(dst, f->text.data, f->text.len);
    dst[f->text.len] = '\0';
    return BE_OK;
}

static int take_time(const struct xfield *f, int64_t *ret, struct be_diag *diag)
{
    uint64_t v;
    if (!f->seen || f->text.len == 0)
        return BE_OK;
    if (parse_u64n(f->text.data, f->text.len, INT64_MAX, &v))
        return be_fail(diag, BE_INVALID_PARAMETER_VALUE, "%s must be a non-negative decimal number",
                       f->name);
    *ret = (int64_t)v;
    return BE_OK;
}

/* --- the envelope ------------------------------------------------------ */

enum { E_APPID, E_TO_USER, E_ENCRYPT, E__COUNT };

void wx_event_envelope_init(struct wx_event_envelope *env)
{
    env->appid[0] = '\0';
    env->to_user_name[0] = '\0';
    buf_init(&env->encrypt);
}

void wx_event_envelope_release(struct wx_event_envelope *env)
{
    buf_release(&env->encrypt);
    wx_event_envelope_init(env);
}

static int envelope_take(struct xfield *f, struct wx_event_envelope *env, struct be_diag *diag)
{
    struct wx_event_envelope tmp;
    memset(&tmp, 0, sizeof(tmp));
    int rc = require(&f[E_ENCRYPT], diag);
    if (!rc)
        rc = take_str(&f[E_APPID], tmp.appid, sizeof(tmp.appid), diag);
    if (!rc)
        rc = take_str(&f[E_TO_USER], tmp.to_user_name, sizeof(tmp.to_user_name), diag);
    if (!rc && has_control(f[E_ENCRYPT].text.data, f[E_ENCRYPT].text.len))
        rc = be_fail(diag, BE_INVALID_PARAMETER_VALUE, "Encrypt contains a control character");
    if (rc)
        return rc;
    memcpy(env->appid, tmp.appid, sizeof(env->appid));
    memcpy(env->to_user_name, tmp.to_user_name, sizeof(env->to_user_name));
    env->encrypt = f[E_ENCRYPT].text; /* ownership moves to env */
    buf_init(&f[E_ENCRYPT].text);
    return BE_OK;
}

int wx_event_envelope_parse(const char *xml, size_t len, struct wx_event_envelope *env,
                            struct be_diag *diag)
{
    struct xfield f[E__COUNT] = {
        [E_APPID] = {"AppId", WX_EVENT_APPID_MAX, false, BUF_INIT},
        [E_TO_USER] = {"ToUserName", WX_EVENT_APPID_MAX, false, BUF_INIT},
        [E_ENCRYPT] = {"Encrypt", WX_EVENT_MAX_DOC, false, BUF_INIT},
    };
    int rc = xml_extract(xml, len, f, E__COUNT, diag);
    if (!rc)
        rc = envelope_take(f, env, diag);
    xfields_release(f, E__COUNT);
    return rc;
}

/* --- the events -------------------------------------------------------- */

enum {
    F_APPID,
    F_CREATE_TIME,
    F_INFO_TYPE,
    F_TICKET,
    F_AUTHORIZER_APPID,
    F_AUTH_CODE,
    F_AUTH_CODE_EXPIRED,
    F_PRE_AUTH_CODE,
    F__COUNT
};

static const char *const info_type_names[] = {
    [WX_INFO_COMPONENT_VERIFY_TICKET] = "component_verify_ticket",
    [WX_INFO_AUTHORIZED] = "authorized",
    [WX_INFO_UPDATEAUTHORIZED] = "updateauthorized",
    [WX_INFO_UNAUTHORIZED] = "unauthorized",
};

const char *wx_info_type_name(enum wx_info_type type)
{
    if (type <= WX_INFO_UNKNOWN || type > WX_INFO_UNAUTHORIZED)
        return NULL;
    return info_type_names[type];
}

static enum wx_info_type info_type_of(const char *s)
{
    for (int t = WX_INFO_COMPONENT_VERIFY_TICKET; t <= WX_INFO_UNAUTHORIZED; t++) {
        if (!strcmp(s, info_type_names[t]))
            return (enum wx_info_type)t;
    }
    return WX_INFO_UNKNOWN;
}

/* The fields each known type requires, besides InfoType, AppId, CreateTime;
 * terminated by -1. */
static const int *required_of(enum wx_info_type type)
{
    static const int ticket[] = {F_TICKET, -1};
    static const int auth[] = {F_AUTHORIZER_APPID, F_AUTH_CODE, -1};
    static const int unauth[] = {F_AUTHORIZER_APPID, -1};
    static const int none[] = {-1};
    switch (type) {
    case WX_INFO_COMPONENT_VERIFY_TICKET:
        return ticket;
    case WX_INFO_AUTHORIZED:
    case WX_INFO_UPDATEAUTHORIZED:
        return auth;
    case WX_INFO_UNAUTHORIZED:
        return unauth;
    default:
        return none;
    }
}

static int event_check_required(const struct xfield *f, enum wx_info_type type,
                                struct be_diag *diag)
{
    int rc = BE_OK;
    if (type != WX_INFO_UNKNOWN) {
        rc = require(&f[F_APPID], diag);
        if (!rc)
            rc = require(&f[F_CREATE_TIME], diag);
    }
    for (const int *r = required_of(type); !rc && *r >= 0; r++)
        rc = require(&f[*r], diag);
    return rc;
}

static int event_take_strings(const struct xfield *f, struct wx_event *ev, struct be_diag *diag)
{
    struct {
        int field;
        char *dst;
        size_t size;
    } map[] = {
        {F_APPID, ev->appid, sizeof(ev->appid)},
        {F_TICKET, ev->component_verify_ticket, sizeof(ev->component_verify_ticket)},
        {F_AUTHORIZER_APPID, ev->authorizer_appid, sizeof(ev->authorizer_appid)},
        {F_AUTH_CODE, ev->authorization_code, sizeof(ev->authorization_code)},
        {F_PRE_AUTH_CODE, ev->pre_auth_code, sizeof(ev->pre_auth_code)},
    };
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
        int rc = take_str(&f[map[i].field], map[i].dst, map[i].size, diag);
        if (rc)
            return rc;
    }
    return BE_OK;
}

static int event_take(const struct xfield *f, struct wx_event *ev, struct be_diag *diag)
{
    int rc = require(&f[F_INFO_TYPE], diag);
    if (!rc)
        rc = take_str(&f[F_INFO_TYPE], ev->info_type, sizeof(ev->info_type), diag);
    if (rc)
        return rc;
    ev->type = info_type_of(ev->info_type);
    rc = event_check_required(f, ev->type, diag);
    if (!rc)
        rc = event_take_strings(f, ev, diag);
    if (!rc)
        rc = take_time(&f[F_CREATE_TIME], &ev->create_time, diag);
    if (!rc)
        rc = take_time(&f[F_AUTH_CODE_EXPIRED], &ev->authorization_code_expired_time, diag);
    return rc;
}

int wx_event_parse(const char *xml, size_t len, struct wx_event *ret_event, struct be_diag *diag)
{
    struct xfield f[F__COUNT] = {
        [F_APPID] = {"AppId", WX_EVENT_APPID_MAX, false, BUF_INIT},
        [F_CREATE_TIME] = {"CreateTime", NUMBER_MAX_DIGITS, false, BUF_INIT},
        [F_INFO_TYPE] = {"InfoType", WX_EVENT_INFO_TYPE_MAX, false, BUF_INIT},
        [F_TICKET] = {"ComponentVerifyTicket", WX_EVENT_CODE_MAX, false, BUF_INIT},
        [F_AUTHORIZER_APPID] = {"AuthorizerAppid", WX_EVENT_APPID_MAX, false, BUF_INIT},
        [F_AUTH_CODE] = {"AuthorizationCode", WX_EVENT_CODE_MAX, false, BUF_INIT},
        [F_AUTH_CODE_EXPIRED] = {"AuthorizationCodeExpiredTime", NUMBER_MAX_DIGITS, false,
                                 BUF_INIT},
        [F_PRE_AUTH_CODE] = {"PreAuthCode", WX_EVENT_CODE_MAX, false, BUF_INIT},
    };
    struct wx_event ev;
    memset(&ev, 0, sizeof(ev));
    int rc = xml_extract(xml, len, f, F__COUNT, diag);
    if (!rc)
        rc = event_take(f, &ev, diag);
    if (!rc)
        *ret_event = ev;
    xfields_release(f, F__COUNT);
    return rc;
}

/* --- building ---------------------------------------------------------- */

/* Checks a string the way wx_event_parse() would read it back. */
static int check_build_str(const char *name, const char *v, size_t size, bool required,
                           struct be_diag *diag)
{
    size_t n = strnlen(v, size);
    if (n == size)
        return be_fail(diag, BE_INVALID_PARAMETER_VALUE, "%s is longer than %zu bytes", name,
                       size - 1);
    if (required && n == 0)
        return be_fail(diag, BE_MISSING_PARAMETER, "%s is empty", name);
    if (has_control(v, n) || strstr(v, "]]>") || (n && (v[0] == ' ' || v[n - 1] == ' ')))
        return be_fail(diag, BE_INVALID_PARAMETER_VALUE,
                       "%s contains a control character, \"]]>\" or surrounding spaces", name);
    return BE_OK;
}

static int build_check(const struct wx_event *ev, struct be_diag *diag)
{
    bool ticket = ev->type == WX_INFO_COMPONENT_VERIFY_TICKET;
    bool auth = ev->type == WX_INFO_AUTHORIZED || ev->type == WX_INFO_UPDATEAUTHORIZED;
    int rc = check_build_str("AppId", ev->appid, sizeof(ev->appid), true, diag);
    if (!rc && ev->create_time < 0)
        rc = be_fail(diag, BE_INVALID_PARAMETER_VALUE, "CreateTime is negative");
    if (!rc && ticket)
        rc = check_build_str("ComponentVerifyTicket", ev->component_verify_ticket,
                             sizeof(ev->component_verify_ticket), true, diag);
    if (!rc && !ticket)
        rc = check_build_str("AuthorizerAppid", ev->authorizer_appid, sizeof(ev->authorizer_appid),
                             true, diag);
    if (!rc && auth)
        rc = check_build_str("AuthorizationCode", ev->authorization_code,
                             sizeof(ev->authorization_code), true, diag);
    if (!rc && auth)
        rc = check_build_str("PreAuthCode", ev->pre_auth_code, sizeof(ev->pre_auth_code), false,
                             diag);
    if (!rc && auth && ev->authorization_code_expired_time < 0)
        rc = be_fail(diag, BE_INVALID_PARAMETER_VALUE, "AuthorizationCodeExpiredTime is negative");
    return rc;
}

static void add_str(struct buf *b, const char *name, const char *v)
{
    buf_addf(b, "<%s><![CDATA[%s]]></%s>", name, v, name);
}

static void add_num(struct buf *b, const char *name, int64_t v)
{
    buf_addf(b, "<%s>%" PRId64 "</%s>", name, v, name);
}

int wx_event_build(const struct wx_event *ev, struct buf *out, struct be_diag *diag)
{
    const char *type = wx_info_type_name(ev->type);
    if (!type)
        return be_fail(diag, BE_INVALID_PARAMETER, "cannot build an event of unknown type %d",
                       (int)ev->type);
    int rc = build_check(ev, diag);
    if (rc)
        return rc;
    buf_adds(out, "<xml>");
    add_str(out, "AppId", ev->appid);
    add_num(out, "CreateTime", ev->create_time);
    add_str(out, "InfoType", type);
    if (ev->type == WX_INFO_COMPONENT_VERIFY_TICKET) {
        add_str(out, "ComponentVerifyTicket", ev->component_verify_ticket);
    } else {
        add_str(out, "AuthorizerAppid", ev->authorizer_appid);
    }
    if (ev->type == WX_INFO_AUTHORIZED || ev->type == WX_INFO_UPDATEAUTHORIZED) {
        add_str(out, "AuthorizationCode", ev->authorization_code);
        if (ev->authorization_code_expired_time)
            add_num(out, "AuthorizationCodeExpiredTime", ev->authorization_code_expired_time);
        if (ev->pre_auth_code[0])
            add_str(out, "PreAuthCode", ev->pre_auth_code);
    }
    buf_adds(out, "</xml>");
    return BE_OK;
}
