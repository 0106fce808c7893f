/* CAM policy language 2.0 (spec cam-and-api §2): parse and validate a policy
 * document, compile it once into an immutable `struct cam_policy`, and decide
 * requests against the policies a principal holds (§2.8).
 *
 *     struct cam_policy *p;
 *     struct cam_policy_error perr;
 *     if (cam_policy_parse(text, len, &p, &perr))
 *         return show(perr.code, perr.message, perr.line, perr.column);
 *
 *     struct cam_policy_attachment att[] = {{p, policy_id, owner_uin}};
 *     struct cam_policy_set *set;
 *     cam_policy_set_new(att, 1, &set, NULL);   // takes its own reference
 *     cam_policy_free(p);
 *
 *     struct cam_eval_request req;              // once per request, on the stack
 *     struct cam_eval_input in = {.action = "cam:ListUsers", .resource = "*",
 *                                 .owner_uin = owner, .caller_uin = uin, .now = time_now()};
 *     if (cam_eval_request_init(&req, &in, &diag)) ...
 *     if (cam_decide(set, &req) == CAM_ALLOW) ...
 *     cam_policy_set_free(set);
 *
 * Compiled policies and sets are immutable: any number of threads may decide
 * against them at once. cam_decide() neither allocates nor parses text; every
 * string of a document (actions, resources, IP ranges, dates, numbers) is
 * converted once, at parse time, and every request string once, by
 * cam_eval_request_init().
 *
 * The root bypass ("a root account may do everything in its own account") and
 * the cross-account check are not here: they belong to cam/authz.c, which
 * calls cam_decide() only for sub-users and collaborators. docs/cam-policy.md
 * describes the language as implemented, including the choices the spec
 * leaves open. */
#ifndef BINDERY_CAM_POLICY_H
#define BINDERY_CAM_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

/* ---- Ceilings ---- */

/* Characters (UTF-8 code points) of a policy document, after URL-decoding
 * (spec §1.10: 6144; the grammar page's 4096 is not applied). */
#define CAM_POLICY_MAX_CHARS 6144
/* Bytes of the text handed to cam_policy_parse(), checked before anything
 * else: a URL-encoded document of CAM_POLICY_MAX_CHARS four-byte characters
 * ("%F0%9F%98%80") fits, a megabyte does not. */
#define CAM_POLICY_MAX_INPUT_BYTES (CAM_POLICY_MAX_CHARS * 12)
/* Bytes of a request's action ("service:ActionName"); longer policy actions
 * are rejected since they could never match. */
#define CAM_ACTION_MAX 128
/* Bytes of a request's resource string. */
#define CAM_RESOURCE_MAX 4096
/* Bytes of a condition key ("qcs:ip", "qcs:tag/env"). */
#define CAM_CONDITION_KEY_MAX 128
/* Extra context values one request may carry (cam_eval_input.context), and
 * the bytes of each. */
#define CAM_CONTEXT_MAX       16
#define CAM_CONTEXT_VALUE_MAX 1024
/* Attachments in one policy set: 200 direct + 10 groups x 200, rounded up. */
#define CAM_POLICY_SET_MAX 4096

/* ---- Parsing ---- */

/* Why a document was refused. code is one of the spec's error codes (§3.5):
 *
 *   InvalidParameter.PolicyDocumentLengthOverLimit  over the ceilings above
 *   InvalidParameter.PolicyDocumentError   not JSON (syntax, duplicate key,
 *                                          invalid UTF-8, NUL), bad URL
 *                                          encoding, not an object, an
 *                                          unknown top-level element
 *   InvalidParameter.VersionError          version missing or not "2.0"
 *   InvalidParameter.StatementError        statement missing, empty, not an
 *                                          object or array of objects, or
 *                                          with an unknown element
 *   InvalidParameter.PrincipalError        a principal in an identity policy
 *   InvalidParameter.EffectError           effect missing or not allow/deny
 *   InvalidParameter.ActionMiss            action missing or an empty list
 *   InvalidParameter.ActionError           a malformed action
 *   InvalidParameter.ResourceError         resource missing, empty, not six
 *                                          segments, or a malformed service
 *                                          segment
 *   InvalidParameter.ResourceQcsError      first segment is not "qcs"
 *   InvalidParameter.ResourceProjectError  project segment not empty
 *   InvalidParameter.ResourceRegionError   a malformed region segment
 *   InvalidParameter.ResourceUinError      a malformed account segment
 *   InvalidParameter.ResourceContentError  empty or malformed last segment
 *                                          or an unknown ${variable} in it
 *   InvalidParameter.ConditionError        condition block, key or value
 *                                          list malformed; an operator that
 *                                          cannot apply to a built-in key
 *   InvalidParameter.ConditionTypeError    unknown operator name
 *   InvalidParameter.ConditionContentError a value the operator cannot use
 *                                          (bad IP, date, number, bool)
 *
 * message is lower case and names the element and the offending value
 * ("statement[1].action[0]: unsupported action prefix in \"permid/cos:x\"");
 * it quotes client text, so escape it before showing it in HTML.
 * line and column (both 1-based; column counts characters) locate the
 * offending element in the JSON text as parsed, that is after URL-decoding;
 * both are 0 when the error is about the whole document (its length). */
struct cam_policy_error {
    const char *code; /* static string */
    char message[256];
    int line;
    int column;
};

struct cam_policy;

/* Parses, validates and compiles a policy document of syntax 2.0 (len bytes
 * of text, no NUL needed). The text is JSON (duplicate keys refused) or, if it
 * does not start with '{' after leading whitespace, the URL-encoded form of
 * it, decoded once (spec §2.1). Identity and session policies only: a
 * `principal` element is refused.
 *
 * On success *ret gets a new policy with one reference (release it with
 * cam_policy_free()) and 0 is returned. On failure returns
 * BE_INVALID_PARAMETER, fills *err (which may be NULL) and leaves *ret
 * untouched. */
int cam_policy_parse(const char *text, size_t len, struct cam_policy **ret,
                     struct cam_policy_error *err);

/* Adds a reference to p (thread-safe) and returns p. */
struct cam_policy *cam_policy_ref(struct cam_policy *p);
/* Drops one reference (thread-safe); the last one frees. NULL is accepted. */
void cam_policy_free(struct cam_policy *p);
/* Number of statements of p, in document order (the indexes of
 * struct cam_decision.statement). */
size_t cam_policy_statement_count(const struct cam_policy *p);

/* ---- Policy sets ---- */

/* One policy a principal holds. owner_uin is the account that owns the
 * policy; an empty account segment in its resources means `uin/<owner_uin>`
 * (§2.4). For a preset policy pass the principal's own owner UIN. policy_id
 * is carried through to struct cam_decision only. */
struct cam_policy_attachment {
    struct cam_policy *policy;
    uint64_t policy_id;
    uint64_t owner_uin;
};

struct cam_policy_set;

/* Builds the immutable set of a principal's effective policies: its own
 * attachments and its groups' (the union; duplicates are harmless). The set
 * takes a reference to each policy; items is not kept. An empty set (n == 0)
 * denies everything. Returns 0 and *ret, or BE_INVALID_PARAMETER (with diag)
 * when n exceeds CAM_POLICY_SET_MAX. */
int cam_policy_set_new(const struct cam_policy_attachment *items, size_t n,
                       struct cam_policy_set **ret, struct be_diag *diag);
/* Releases the set and its references. NULL is accepted. */
void cam_policy_set_free(struct cam_policy_set *set);
/* Number of attachments of set. */
size_t cam_policy_set_count(const struct cam_policy_set *set);

/* ---- Requests ---- */

enum cam_ip_family { CAM_IP_NONE = 0, CAM_IP_V4 = 4, CAM_IP_V6 = 6 };

/* A source address in binary: addr[0..3] for IPv4, addr[0..15] for IPv6,
 * network byte order. An IPv4-mapped IPv6 address (::ffff:a.b.c.d) is treated
 * as the IPv4 address it maps. */
struct cam_ip {
    enum cam_ip_family family; /* CAM_IP_NONE: unknown (qcs:ip is absent) */
    uint8_t addr[16];
};

/* Parses "192.0.2.1" or "2001:db8::1" (no prefix, no port, no zone) into
 * *ret: 0, or BE_INVALID_PARAMETER leaving *ret untouched. */
int cam_ip_parse(const char *text, struct cam_ip *ret);

/* Whether the request was made with multi-factor authentication (the `mfa`
 * and `qcs:mfa` keys); UNKNOWN leaves both keys absent. */
enum cam_mfa { CAM_MFA_UNKNOWN = 0, CAM_MFA_NO, CAM_MFA_YES };

/* An extra condition key of the request ("cvm:region", "qcs:request_tag").
 * Several entries with the same key make a multi-valued key (for the
 * for_any_value: / for_all_value: qualifiers). */
struct cam_context_value {
    const char *key;
    const char *value;
};

/* What the caller knows about one request. Strings are borrowed: action is
 * copied, but resource and the context strings must outlive the prepared
 * request. */
struct cam_eval_input {
    const char *action;      /* "cam:CreateAccessKey": service:Name, no wildcard */
    const char *resource;    /* "*" (operation-level action) or a six-segment qcs string */
    uint64_t owner_uin;      /* the account the request acts in (qcs:owner_uin, ${owner_uin}) */
    uint64_t caller_uin;     /* the caller's own UIN (qcs:uin, ${uin}) */
    uint64_t app_id;         /* the owner's AppId (${app_id}, uid/ resources); 0 if unknown */
    struct cam_ip source_ip; /* qcs:ip */
    int64_t now;             /* unix seconds (qcs:current_time) */
    enum cam_mfa mfa;
    const struct cam_context_value *context; /* may be NULL when n_context is 0 */
    size_t n_context;                        /* at most CAM_CONTEXT_MAX */
};

/* A request prepared for evaluation: the action split and case-folded, the
 * resource split into its segments, the context typed, the computed keys
 * qcs:read_only_action and qcs:except_cam_finance (§2.7) derived from the
 * action. Opaque; lives on the caller's stack; no release needed. */
#define CAM_EVAL_REQUEST_SIZE 2560
struct cam_eval_request {
    _Alignas(8) unsigned char opaque[CAM_EVAL_REQUEST_SIZE];
};

/* Prepares *req from *in. Returns 0, or BE_INVALID_PARAMETER with diag naming
 * the field: an action that is not service:Name or longer than
 * CAM_ACTION_MAX, a resource that is neither "*" nor a qcs string of six
 * segments or longer than CAM_RESOURCE_MAX, more than CAM_CONTEXT_MAX context
 * values or one longer than CAM_CONTEXT_VALUE_MAX, a context key that is
 * empty, longer than CAM_CONDITION_KEY_MAX or one of the built-in keys
 * (qcs:ip, qcs:current_time, qcs:uin, qcs:owner_uin, qcs:mfa, mfa,
 * qcs:read_only_action, qcs:except_cam_finance), which come from the typed
 * fields only. */
int cam_eval_request_init(struct cam_eval_request *req, const struct cam_eval_input *in,
                          struct be_diag *diag);

/* ---- Decisions ---- */

#define CAM_DENY  0
#define CAM_ALLOW 1

/* The decision of §2.8 over every statement of every policy of set: a
 * statement applies when its action, resource and condition all match; if
 * any applying statement denies, CAM_DENY; else if any allows, CAM_ALLOW;
 * else CAM_DENY. A NULL set denies. Never allocates; safe from any number
 * of threads. */
int cam_decide(const struct cam_policy_set *set, const struct cam_eval_request *req);

/* Which statement decided. */
struct cam_decision {
    int result;        /* CAM_ALLOW or CAM_DENY */
    bool matched;      /* false: implicit deny, no statement applied */
    size_t attachment; /* index into the set's attachments (when matched) */
    uint64_t policy_id;
    size_t statement; /* 0-based, in document order (when matched) */
};

/* cam_decide() that also says which statement decided: the first applying
 * deny statement, or else the first applying allow statement, in attachment
 * then document order. Returns ret->result. */
int cam_decide_explain(const struct cam_policy_set *set, const struct cam_eval_request *req,
                       struct cam_decision *ret);

/* ---- Computed context keys (§2.7) ---- */

/* qcs:read_only_action: whether the action's name (after "service:") starts
 * with Check, List, Describe, Search, Get, BatchGet, Query, BatchQuery,
 * Download, Export, View, Inquiry, Inquire, Compare, Verify or Validate
 * (ASCII case-insensitive). action is "service:Name". */
bool cam_action_is_read_only(const char *action);
/* qcs:except_cam_finance: false for every finance: action and for cam:
 * actions outside the subset QCloudResourceFullAccess keeps (read-only cam
 * actions, sub-user attributes, sub-user keys, group membership; the list is
 * in docs/cam-policy.md); true for every other action. */
bool cam_action_except_cam_finance(const char *action);

/* ---- Preset policies (§2.7) ---- */

/* Preset policy ids are 1..CAM_PRESET_ID_MAX; custom policy ids must be
 * allocated above it (the ids share one number space). */
#define CAM_PRESET_ID_MAX 999

struct cam_preset {
    uint64_t id;
    const char *name;         /* "AdministratorAccess" */
    const char *service_type; /* "" for the cross-service ones, else "cam", "wxlink", "deploy" */
    const char *description;
    const char *document; /* stored verbatim; always parses */
};

/* Every preset, in id order, terminated by an entry whose name is NULL. */
extern const struct cam_preset cam_presets[];

/* The preset with this id or name (exact, case-sensitive), or NULL. */
const struct cam_preset *cam_preset_by_id(uint64_t id);
const struct cam_preset *cam_preset_by_name(const char *name);

#endif
