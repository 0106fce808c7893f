/* Fuzz target: the CAM policy parser of cam/policy.h (cam_policy_parse, the
 * whole input as the document text, in a buffer of exactly its size), and
 * cam_decide() of what parses, against a few fixed requests that between
 * them carry every kind of condition key (IPv4 and IPv6 source, MFA, time,
 * uin/owner_uin/app_id variables, multi-valued context, read-only and
 * cam/finance actions, qcs resources with uin/ and uid/).
 *
 * Checked beyond "no crash, no leak":
 *   - a refusal names a static error code and a bounded message that is
 *     valid UTF-8 without control characters, and leaves the output
 *     untouched;
 *   - cam_decide() and cam_decide_explain() agree, and the statement that
 *     explain names exists;
 *   - adding a deny-everything policy denies everything; adding an
 *     allow-everything policy allows unless the document itself denies. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "fuzz.h"
#include "cam/policy.h"
#include "core/err.h"
#include "core/banned.h"

#define OWNER  100000000001ull
#define CALLER 100000000002ull
#define APPID  1250000000ull
#define NOW    1767225600 /* 2026-01-01T00:00:00Z */

static const char deny_all[] = "{\"version\":\"2.0\",\"statement\":[{\"effect\":\"deny\","
                               "\"action\":\"*\",\"resource\":\"*\"}]}";
static const char allow_all[] = "{\"version\":\"2.0\",\"statement\":[{\"effect\":\"allow\","
                                "\"action\":\"*\",\"resource\":\"*\"}]}";

static const struct cam_context_value ctx_tags[] = {
    {"qcs:request_tag", "env&prod"},
    {"qcs:request_tag", "team&100000000002"},
    {"cvm:region", "ap-Guangzhou"},
    {"cvm_system_disk_size", "50"},
    {"n", "2"},
};

struct fixed_request {
    const char *action, *resource, *ip;
    enum cam_mfa mfa;
    const struct cam_context_value *context;
    size_t n_context;
};

static const struct fixed_request requests[] = {
    {"cam:ListUsers", "*", "10.1.2.3", CAM_MFA_UNKNOWN, NULL, 0},
    {"cam:CreateAccessKey", "qcs::cam::uin/100000000001:uin/100000000002", "2001:db8::1",
     CAM_MFA_YES, ctx_tags, 2},
    {"cos:GetObject", "qcs::cos:ap-guangzhou:uid/1250000000:bucket-1250000000/dir/a.txt",
     "::ffff:192.0.2.7", CAM_MFA_NO, ctx_tags, 5},
    {"cvm:RunInstances", "qcs::cvm:ap-guangzhou:uin/100000000001:instance/ins-abc", NULL,
     CAM_MFA_UNKNOWN, ctx_tags + 2, 2},
    {"finance:DescribeBill", "*", "192.168.0.1", CAM_MFA_YES, NULL, 0},
    {"wxlink:CreateLink", "qcs::wxlink::uin/100000000001:link/42", "10.0.0.1", CAM_MFA_NO, ctx_tags,
     1},
};

static void check_error(const struct cam_policy_error *err)
{
    if (!err->code || strncmp(err->code, "InvalidParameter.", 17) != 0)
        abort();
    size_t n = strnlen(err->message, sizeof(err->message));
    if (n == 0 || n == sizeof(err->message))
        abort(); /* empty, or not NUL-terminated */
    /* The message quotes client text: it must stay valid UTF-8 without
     * control characters, since it goes into a JSON envelope. */
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)err->message[i] < 0x20)
            abort();
    json_t *s = json_stringn(err->message, n);
    if (!s)
        abort();
    json_decref(s);
    if (err->line < 0 || err->column < 0 || (err->line == 0) != (err->column == 0))
        abort();
}

static struct cam_policy_set *make_set(struct cam_policy *a, struct cam_policy *b)
{
    struct cam_policy_attachment att[] = {{a, 1000, OWNER}, {b, 1, OWNER}};
    struct cam_policy_set *set = NULL;
    if (cam_policy_set_new(att, b ? 2 : 1, &set, NULL) != BE_OK)
        abort();
    return set;
}

static void check_decisions(struct cam_policy *p)
{
    struct cam_policy *deny = NULL, *allow = NULL;
    if (cam_policy_parse(deny_all, strlen(deny_all), &deny, NULL) ||
        cam_policy_parse(allow_all, strlen(allow_all), &allow, NULL))
        abort();
    struct cam_policy_set *alone = make_set(p, NULL), *with_deny = make_set(p, deny),
                          *with_allow = make_set(p, allow);
    size_t statements = cam_policy_statement_count(p);
    for (size_t i = 0; i < sizeof(requests) / sizeof(requests[0]); i++) {
        const struct fixed_request *r = &requests[i];
        struct cam_eval_input in = {.action = r->action,
                                    .resource = r->resource,
                                    .owner_uin = OWNER,
                                    .caller_uin = CALLER,
                                    .app_id = APPID,
                                    .now = NOW,
                                    .mfa = r->mfa,
                                    .context = r->context,
                                    .n_context = r->n_context};
        if (r->ip && cam_ip_parse(r->ip, &in.source_ip))
            abort();
        struct cam_eval_request req;
        if (cam_eval_request_init(&req, &in, NULL))
            abort();
        struct cam_decision d;
        int result = cam_decide(alone, &req);
        if (cam_decide_explain(alone, &req, &d) != result || d.result != result)
            abort();
        if (d.matched && (d.attachment != 0 || d.policy_id != 1000 || d.statement >= statements))
            abort();
        if (!d.matched && result != CAM_DENY)
            abort();
        if (cam_decide(with_deny, &req) != CAM_DENY)
            abort();
        bool explicit_deny = d.matched && result == CAM_DENY;
        if (cam_decide(with_allow, &req) != (explicit_deny ? CAM_DENY : CAM_ALLOW))
            abort();
    }
    cam_policy_set_free(alone);
    cam_policy_set_free(with_deny);
    cam_policy_set_free(with_allow);
    cam_policy_free(deny);
    cam_policy_free(allow);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_input in = {data, size};
    size_t len;
    char *text = fuzz_rest_exact(&in, &len);
    struct cam_policy *sentinel = (struct cam_policy *)&in, *p = sentinel;
    struct cam_policy_error err;
    memset(&err, 0, sizeof(err));
    if (cam_policy_parse(text, len, &p, &err) != BE_OK) {
        if (p != sentinel)
            abort(); /* written on failure */
        check_error(&err);
    } else {
        if (!p || cam_policy_statement_count(p) == 0)
            abort();
        check_decisions(p);
        cam_policy_free(p);
    }
    free(text);
    return 0;
}
