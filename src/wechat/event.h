/* The XML of pushes to the 授权事件接收URL (spec §6): the outer envelope
 * that carries the ciphertext (§6.1), and the decrypted component events
 * (§6.2). Parsing uses expat with hard bounds; building is for the emulator.
 *
 *     struct wx_event_envelope env;
 *     struct wx_event ev;
 *     wx_event_envelope_init(&env);
 *     if (wx_event_envelope_parse(body, body_len, &env, &diag)) ...       // -40002
 *     ... wx_msgcrypt_open(mc, sig, ts, nonce, env.encrypt.data, &xml, NULL, &diag) ...
 *     if (wx_event_parse(xml.data, xml.len, &ev, &diag)) ...
 *     switch (ev.type) { case WX_INFO_AUTHORIZED: ... }
 *     wx_event_envelope_release(&env);
 *
 * What the parsers accept. A document of at most WX_EVENT_MAX_DOC bytes,
 * read as UTF-8 whatever its XML declaration says, whose root element is
 * <xml>. The fields are the child elements of the root, matched by exact
 * (case-sensitive) name; their text may be plain or CDATA or a mix, and
 * surrounding XML whitespace (space, tab, CR, LF) is trimmed. Unknown
 * elements, attributes, comments and processing instructions are ignored,
 * including known names nested below an unknown element. Rejected:
 *   - anything that is not well-formed XML, a root other than <xml>, or an
 *     empty document: BE_INVALID_PARAMETER;
 *   - a document over WX_EVENT_MAX_DOC bytes: BE_BODY_TOO_LARGE;
 *   - any DOCTYPE (hence any entity or DTD: no XXE, no entity expansion),
 *     and references to undefined entities: BE_INVALID_PARAMETER;
 *   - nesting deeper than WX_EVENT_MAX_DEPTH or more than
 *     WX_EVENT_MAX_ELEMENTS elements: BE_INVALID_PARAMETER;
 *   - a field that appears twice, or that contains an element:
 *     BE_INVALID_PARAMETER;
 *   - a field longer than its ceiling, a string field with a control
 *     character (below 0x20, or 0x7f), a number that is not 1..20 decimal
 *     digits (no sign) worth at most INT64_MAX: BE_INVALID_PARAMETER_VALUE;
 *   - a required field that is absent or empty: BE_MISSING_PARAMETER.
 * diag (NULL allowed) names the element or the position; it never quotes
 * field values. Outputs are written only on success. */
#ifndef BINDERY_WECHAT_EVENT_H
#define BINDERY_WECHAT_EVENT_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/err.h"

/* Ceilings. The string ceilings are in bytes, after trimming. */
#define WX_EVENT_MAX_DOC       (64 * 1024)
#define WX_EVENT_MAX_DEPTH     8 /* <xml> is depth 1, its fields depth 2 */
#define WX_EVENT_MAX_ELEMENTS  256
#define WX_EVENT_APPID_MAX     64  /* AppId, ToUserName, AuthorizerAppid */
#define WX_EVENT_INFO_TYPE_MAX 64  /* InfoType */
#define WX_EVENT_CODE_MAX      511 /* tickets and codes (spec §2: buffers of 512) */

/* --- the outer envelope (spec §6.1) ------------------------------------ */

/* <xml><AppId>…</AppId><Encrypt>…</Encrypt></xml>. Encrypt is required;
 * AppId (component pushes) and ToUserName (authorizer messages, §7.5 step 1)
 * are optional and "" when absent. Encrypt may be up to the document size;
 * its base64 is checked by wx_msgcrypt_decrypt(), not here. */
struct wx_event_envelope {
    char appid[WX_EVENT_APPID_MAX + 1];
    char to_user_name[WX_EVENT_APPID_MAX + 1];
    struct buf encrypt; /* owned; NUL-terminated */
};

/* Makes env empty (encrypt = BUF_INIT); release with
 * wx_event_envelope_release(). */
void wx_event_envelope_init(struct wx_event_envelope *env);
/* Frees what env owns and makes it empty again; safe on an empty env. */
void wx_event_envelope_release(struct wx_event_envelope *env);

/* Parses the POST body of a push (xml, len bytes; need not be
 * NUL-terminated). On success env (which must be empty: initialised or
 * released) receives the fields and the caller releases it; on failure env is
 * untouched. Errors as in the comment at the top; a caller following the
 * reference codes reports any of them as -40002 (ParseXml). */
int wx_event_envelope_parse(const char *xml, size_t len, struct wx_event_envelope *env,
                            struct be_diag *diag);

/* --- the decrypted component events (spec §6.2) ------------------------ */

enum wx_info_type {
    WX_INFO_UNKNOWN = 0, /* another InfoType: answer "success" and ignore it */
    WX_INFO_COMPONENT_VERIFY_TICKET,
    WX_INFO_AUTHORIZED,
    WX_INFO_UPDATEAUTHORIZED,
    WX_INFO_UNAUTHORIZED,
};

/* The InfoType literal of a known type ("authorized"), NULL for
 * WX_INFO_UNKNOWN or a value outside the enum. */
const char *wx_info_type_name(enum wx_info_type type);

/* One event, as a plain value (no ownership). Absent strings are "", absent
 * numbers 0. Which fields wx_event_parse() requires (present and non-empty):
 *   every event:               InfoType
 *   known types:               AppId, CreateTime
 *   component_verify_ticket:   ComponentVerifyTicket
 *   authorized, updateauthorized: AuthorizerAppid, AuthorizationCode
 *       (AuthorizationCodeExpiredTime and PreAuthCode are parsed when present,
 *        but not required: a missing one must not lose an authorization)
 *   unauthorized:              AuthorizerAppid
 * A field that does not belong to the type is still parsed and checked. */
struct wx_event {
    enum wx_info_type type;
    char info_type[WX_EVENT_INFO_TYPE_MAX + 1]; /* as received, also for unknown types */
    char appid[WX_EVENT_APPID_MAX + 1];         /* the component appid */
    int64_t create_time;                        /* unix seconds */
    char component_verify_ticket[WX_EVENT_CODE_MAX + 1];
    char authorizer_appid[WX_EVENT_APPID_MAX + 1];
    char authorization_code[WX_EVENT_CODE_MAX + 1];
    int64_t authorization_code_expired_time; /* absolute unix seconds (spec §6.2) */
    char pre_auth_code[WX_EVENT_CODE_MAX + 1];
};

/* Parses a decrypted event (xml, len bytes; need not be NUL-terminated) into
 * *ret_event, which is overwritten only on success. Errors as in the comment
 * at the top. */
int wx_event_parse(const char *xml, size_t len, struct wx_event *ret_event, struct be_diag *diag);

/* Appends the XML of a known event to out, in the field order and form of
 * the spec's examples (strings in CDATA, numbers bare, no whitespace):
 * AppId, CreateTime, InfoType, then ComponentVerifyTicket, or
 * AuthorizerAppid [, AuthorizationCode, AuthorizationCodeExpiredTime,
 * PreAuthCode]. InfoType is written from ev->type (ev->info_type is ignored).
 * AuthorizationCodeExpiredTime and PreAuthCode are written when non-zero /
 * non-empty; fields that do not belong to the type are ignored. Returns
 * BE_INVALID_PARAMETER for an unknown type, BE_MISSING_PARAMETER for an empty
 * required field, BE_INVALID_PARAMETER_VALUE for a string wx_event_parse()
 * would refuse (over its ceiling, a control character) or could not read
 * back unchanged ("]]>" inside, a leading or trailing space), or for a
 * negative time; diag names the field and out is untouched. So whatever this
 * builds, wx_event_parse() reads back equal. */
int wx_event_build(const struct wx_event *ev, struct buf *out, struct be_diag *diag);

#endif
