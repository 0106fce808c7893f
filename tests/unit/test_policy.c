/* Unit tests of cam/policy: every syntax rule with its error code and
 * position, action/resource matching, every condition operator with its
 * modifiers, the decision rules of §2.8, the preset documents, and hostile
 * input (length, nesting, invalid UTF-8, duplicate keys, random mutations).
 *
 * Documents are written with single quotes for readability; q() turns them
 * into JSON. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cam/policy.h"
#include "core/err.h"
#include "core/mem.h"
#include "core/banned.h"

#define OWNER  100000000001ull
#define CALLER 100000000002ull
#define OTHER  100000000009ull
#define APPID  1250000000ull
#define NOW    1767225600 /* 2026-01-01T00:00:00Z */

/* ---- Helpers ---- */

/* A malloc'd copy of s with ' turned into ". */
static char *q(const char *s)
{
    char *out = xstrdup(s);
    for (char *p = out; *p; p++)
        if (*p == '\'')
            *p = '"';
    return out;
}

static struct cam_policy *parse_ok(const char *doc)
{
    char *json = q(doc);
    struct cam_policy *p = NULL;
    struct cam_policy_error err;
    int rc = cam_policy_parse(json, strlen(json), &p, &err);
    if (rc)
        print_message("unexpected error for %s:\n  %s %s (line %d, column %d)\n", json, err.code,
                      err.message, err.line, err.column);
    free(json);
    assert_int_equal(rc, 0);
    return p;
}

/* Parses raw text (no quote conversion) expecting code; returns the error. */
static struct cam_policy_error parse_raw_err(const char *text, size_t len, const char *code)
{
    struct cam_policy *p = NULL;
    struct cam_policy_error err;
    int rc = cam_policy_parse(text, len, &p, &err);
    if (!rc) {
        print_message("expected %s, parsed: %.200s\n", code, text);
        cam_policy_free(p);
    }
    assert_int_equal(rc, BE_INVALID_PARAMETER);
    assert_null(p);
    if (strcmp(err.code, code))
        print_message("for %.200s: %s (%s)\n", text, err.code, err.message);
    assert_string_equal(err.code, code);
    return err;
}

static struct cam_policy_error parse_err(const char *doc, const char *code)
{
    char *json = q(doc);
    struct cam_policy_error err = parse_raw_err(json, strlen(json), code);
    free(json);
    return err;
}

static struct cam_eval_input input(const char *action, const char *resource)
{
    struct cam_eval_input in = {action, resource,        OWNER, CALLER, APPID, {CAM_IP_NONE, {0}},
                                NOW,    CAM_MFA_UNKNOWN, NULL,  0};
    assert_int_equal(cam_ip_parse("10.1.2.3", &in.source_ip), 0);
    return in;
}

/* Decides in against the documents (each attached with owner OWNER and id
 * index + 1). */
static int decide_docs(const char *const *docs, size_t n, const struct cam_eval_input *in,
                       struct cam_decision *ret)
{
    struct cam_policy_attachment att[16];
    struct cam_policy_set *set;
    struct cam_eval_request req;
    struct be_diag diag = {""};
    struct cam_decision d;
    assert_true(n <= 16);
    for (size_t i = 0; i < n; i++)
        att[i] = (struct cam_policy_attachment){parse_ok(docs[i]), i + 1, OWNER};
    assert_int_equal(cam_policy_set_new(att, n, &set, &diag), 0);
    for (size_t i = 0; i < n; i++)
        cam_policy_free(att[i].policy);
    int rc = cam_eval_request_init(&req, in, &diag);
    if (rc)
        print_message("request: %s\n", diag.msg);
    assert_int_equal(rc, 0);
    int result = cam_decide_explain(set, &req, ret ? ret : &d);
    assert_int_equal(cam_decide(set, &req), result);
    cam_policy_set_free(set);
    return result;
}

static int decide1(const char *doc, const char *action, const char *resource)
{
    struct cam_eval_input in = input(action, resource);
    return decide_docs(&doc, 1, &in, NULL);
}

static bool allows(const char *doc, const char *action, const char *resource)
{
    return decide1(doc, action, resource) == CAM_ALLOW;
}

/* A document whose one statement allows everything under condition. */
static char *cond_doc(const char *condition)
{
    char buf[2048];
    snprintf(buf, sizeof(buf),
             "{'version':'2.0','statement':[{'effect':'allow','action':'*','resource':'*',"
             "'condition':%s}]}",
             condition);
    return xstrdup(buf);
}

static bool cond_allows(const char *condition, const struct cam_eval_input *in)
{
    char *doc = cond_doc(condition);
    const char *d = doc;
    int r = decide_docs(&d, 1, in, NULL);
    free(doc);
    return r == CAM_ALLOW;
}

static bool cond_allows_default(const char *condition)
{
    struct cam_eval_input in = input("cvm:RunInstances", "*");
    return cond_allows(condition, &in);
}

#define ALLOW_ALL "{'version':'2.0','statement':[{'effect':'allow','action':'*','resource':'*'}]}"

/* One allow statement with the given action and resource JSON. */
static char *stmt_doc(const char *effect, const char *action, const char *resource)
{
    char buf[2048];
    snprintf(buf, sizeof(buf),
             "{'version':'2.0','statement':[{'effect':'%s','action':%s,'resource':%s}]}", effect,
             action, resource);
    return xstrdup(buf);
}

static bool act_allows(const char *action_json, const char *action)
{
    char *doc = stmt_doc("allow", action_json, "'*'");
    bool r = allows(doc, action, "*");
    free(doc);
    return r;
}

static bool res_allows(const char *resource_json, const char *resource)
{
    char *doc = stmt_doc("allow", "'*'", resource_json);
    bool r = allows(doc, "cvm:RunInstances", resource);
    free(doc);
    return r;
}

/* ---- Syntax: accepted forms ---- */

static void test_minimal_and_forms(void **state)
{
    (void)state;
    struct cam_policy *p = parse_ok(ALLOW_ALL);
    assert_int_equal(cam_policy_statement_count(p), 1);
    assert_ptr_equal(cam_policy_ref(p), p);
    cam_policy_free(p);
    cam_policy_free(p);
    cam_policy_free(NULL);
    /* a single statement object, lists everywhere, case-insensitive effect */
    cam_policy_free(parse_ok("{'version':'2.0','statement':{'effect':'ALLOW','action':"
                             "['cos:GetObject','name/cvm:*'],'resource':['*']}}"));
    /* element order is irrelevant; whitespace everywhere */
    cam_policy_free(parse_ok(" \n{ 'statement' : [ { 'resource':'*' , 'action':'*' ,"
                             "'effect':'Deny' } ] , 'version' : '2.0' }\n "));
    /* escaped slashes as GetPolicy returns them */
    cam_policy_free(parse_ok("{'version':'2.0','statement':[{'effect':'allow','action':"
                             "'name\\/cos:*','resource':'*'}]}"));
    p = parse_ok("{'version':'2.0','statement':["
                 "{'effect':'allow','action':'*','resource':'*'},"
                 "{'effect':'deny','action':'cam:*','resource':'*'}]}");
    assert_int_equal(cam_policy_statement_count(p), 2);
    cam_policy_free(p);
}

static void test_url_encoded(void **state)
{
    (void)state;
    /* encodeURIComponent of a document (spec §2.1 role trust examples) */
    static const char enc[] =
        "%7B%22version%22%3A%222.0%22%2C%22statement%22%3A%5B%7B%22effect%22%3A%22allow%22%2C"
        "%22action%22%3A%22cos%3AGetObject%22%2C%22resource%22%3A%22*%22%7D%5D%7D";
    struct cam_policy *p = NULL;
    struct cam_policy_error err;
    assert_int_equal(cam_policy_parse(enc, strlen(enc), &p, &err), 0);
    cam_policy_free(p);
    /* form encoding: '+' is a space */
    static const char form[] = "%7B+%22version%22:%222.0%22,%22statement%22:%7B%22effect%22:"
                               "%22allow%22,%22action%22:%22*%22,%22resource%22:%22*%22%7D%7D";
    assert_int_equal(cam_policy_parse(form, strlen(form), &p, &err), 0);
    cam_policy_free(p);
    /* decoded once only: a doubly encoded document is not JSON */
    static const char twice[] = "%257B%2522version%2522%7D";
    parse_raw_err(twice, strlen(twice), "InvalidParameter.PolicyDocumentError");
    parse_raw_err("%7B%2", 5, "InvalidParameter.PolicyDocumentError");
    parse_raw_err("%zz", 3, "InvalidParameter.PolicyDocumentError");
    /* decoded bytes must still be UTF-8 */
    parse_raw_err("%7B%22version%22%3A%22%FF%22%7D", 31, "InvalidParameter.PolicyDocumentError");
    /* errors are located in the decoded text */
    static const char bad[] = "%7B%22version%22%3A%223.0%22%7D";
    struct cam_policy_error e = parse_raw_err(bad, strlen(bad), "InvalidParameter.VersionError");
    assert_int_equal(e.line, 1);
    assert_int_equal(e.column, 12);
}

/* ---- Syntax: every rule and its code ---- */

struct bad_case {
    const char *doc;
    const char *code;
};

#define S(x)         "{'version':'2.0','statement':[" x "]}"
#define ST(act, res) S("{'effect':'allow','action':" act ",'resource':" res "}")
#define CO(cond)     S("{'effect':'allow','action':'*','resource':'*','condition':" cond "}")

static const struct bad_case bad_cases[] = {
    /* the document */
    {"", "InvalidParameter.PolicyDocumentError"},
    {"   ", "InvalidParameter.PolicyDocumentError"},
    {"{'version':'2.0','statement':[{'effect':'allow','action':'*','resource':'*'}]",
     "InvalidParameter.PolicyDocumentError"},
    {"{'version':'2.0','statement':[]} x", "InvalidParameter.PolicyDocumentError"},
    {"[1]", "InvalidParameter.PolicyDocumentError"},
    {"'x'", "InvalidParameter.PolicyDocumentError"},
    {"{'version':'2.0','version':'2.0','statement':[]}", "InvalidParameter.PolicyDocumentError"},
    {S("{'effect':'allow','effect':'deny','action':'*','resource':'*'}"),
     "InvalidParameter.PolicyDocumentError"},
    {"{'version':'2.0','statement':[{'effect':'allow','action':'*','resource':'*'}],'Version':1}",
     "InvalidParameter.PolicyDocumentError"},
    {"{'version':'2.0','statement':[],'id':'x'}", "InvalidParameter.PolicyDocumentError"},
    {"{'version':'2.0','statement':[{'effect':'allow','action':'\\u0000','resource':'*'}]}",
     "InvalidParameter.PolicyDocumentError"},
    {"{'version':'2.0','statement':[{'effect':'allow','action':'*','resource':'*',}]}",
     "InvalidParameter.PolicyDocumentError"},
    /* principal */
    {"{'version':'2.0','principal':'*','statement':[]}", "InvalidParameter.PrincipalError"},
    {S("{'effect':'allow','principal':{'qcs':['qcs::cam::uin/1:root']},'action':'*',"
       "'resource':'*'}"),
     "InvalidParameter.PrincipalError"},
    /* version */
    {"{'statement':[{'effect':'allow','action':'*','resource':'*'}]}",
     "InvalidParameter.VersionError"},
    {"{'version':'1.0','statement':[{'effect':'allow','action':'*','resource':'*'}]}",
     "InvalidParameter.VersionError"},
    {"{'version':2.0,'statement':[{'effect':'allow','action':'*','resource':'*'}]}",
     "InvalidParameter.VersionError"},
    {"{'version':'2.0 ','statement':[{'effect':'allow','action':'*','resource':'*'}]}",
     "InvalidParameter.VersionError"},
    {"{'version':null,'statement':[]}", "InvalidParameter.VersionError"},
    /* statement */
    {"{'version':'2.0'}", "InvalidParameter.StatementError"},
    {"{'version':'2.0','statement':[]}", "InvalidParameter.StatementError"},
    {"{'version':'2.0','statement':'allow'}", "InvalidParameter.StatementError"},
    {"{'version':'2.0','statement':null}", "InvalidParameter.StatementError"},
    {S("1"), "InvalidParameter.StatementError"},
    {S("[]"), "InvalidParameter.StatementError"},
    {S("{'effect':'allow','action':'*','resource':'*','sid':'x'}"),
     "InvalidParameter.StatementError"},
    {S("{'Effect':'allow','action':'*','resource':'*'}"), "InvalidParameter.StatementError"},
    {S("{'effect':'allow','action':'*','notresource':'*'}"), "InvalidParameter.StatementError"},
    /* effect */
    {S("{'action':'*','resource':'*'}"), "InvalidParameter.EffectError"},
    {S("{}"), "InvalidParameter.EffectError"},
    {S("{'effect':'permit','action':'*','resource':'*'}"), "InvalidParameter.EffectError"},
    {S("{'effect':'','action':'*','resource':'*'}"), "InvalidParameter.EffectError"},
    {S("{'effect':true,'action':'*','resource':'*'}"), "InvalidParameter.EffectError"},
    {S("{'effect':['allow'],'action':'*','resource':'*'}"), "InvalidParameter.EffectError"},
    /* action */
    {S("{'effect':'allow','resource':'*'}"), "InvalidParameter.ActionMiss"},
    {ST("[]", "'*'"), "InvalidParameter.ActionMiss"},
    {ST("5", "'*'"), "InvalidParameter.ActionError"},
    {ST("null", "'*'"), "InvalidParameter.ActionError"},
    {ST("{'cos':'*'}", "'*'"), "InvalidParameter.ActionError"},
    {ST("['cos:*',1]", "'*'"), "InvalidParameter.ActionError"},
    {ST("''", "'*'"), "InvalidParameter.ActionError"},
    {ST("'cos'", "'*'"), "InvalidParameter.ActionError"},
    {ST("'GetObject'", "'*'"), "InvalidParameter.ActionError"},
    {ST("'permid/cos:GetObject'", "'*'"), "InvalidParameter.ActionError"},
    {ST("'actionName/cos:GetObject'", "'*'"), "InvalidParameter.ActionError"},
    {ST("'name/'", "'*'"), "InvalidParameter.ActionError"},
    {ST("':GetObject'", "'*'"), "InvalidParameter.ActionError"},
    {ST("'cos:'", "'*'"), "InvalidParameter.ActionError"},
    {ST("'c*s:GetObject'", "'*'"), "InvalidParameter.ActionError"},
    {ST("'cos:Get Object'", "'*'"), "InvalidParameter.ActionError"},
    {ST("'cos:Get?'", "'*'"), "InvalidParameter.ActionError"},
    {ST("'cos:Get:Object'", "'*'"), "InvalidParameter.ActionError"},
    {ST("'cos:Get/Object'", "'*'"), "InvalidParameter.ActionError"},
    {ST("'**'", "'*'"), "InvalidParameter.ActionError"},
    /* resource */
    {S("{'effect':'allow','action':'*'}"), "InvalidParameter.ResourceError"},
    {ST("'*'", "[]"), "InvalidParameter.ResourceError"},
    {ST("'*'", "5"), "InvalidParameter.ResourceError"},
    {ST("'*'", "[true]"), "InvalidParameter.ResourceError"},
    {ST("'*'", "''"), "InvalidParameter.ResourceError"},
    {ST("'*'", "'**'"), "InvalidParameter.ResourceError"},
    {ST("'*'", "'qcs::cos'"), "InvalidParameter.ResourceError"},
    {ST("'*'", "'qcs::cvm:gz:uin/1'"), "InvalidParameter.ResourceError"},
    {ST("'*'", "'qcs::c$s:gz::a/b'"), "InvalidParameter.ResourceError"},
    {ST("'*'", "'qcx::cos:gz::a/b'"), "InvalidParameter.ResourceQcsError"},
    {ST("'*'", "'QCS::cos:gz::a/b'"), "InvalidParameter.ResourceQcsError"},
    {ST("'*'", "':::::'"), "InvalidParameter.ResourceQcsError"},
    {ST("'*'", "'qcs:id/0:cvm:gz::instance/x'"), "InvalidParameter.ResourceProjectError"},
    {ST("'*'", "'qcs:*:cvm:gz::instance/x'"), "InvalidParameter.ResourceProjectError"},
    {ST("'*'", "'qcs::cvm:ap guangzhou::instance/x'"), "InvalidParameter.ResourceRegionError"},
    {ST("'*'", "'qcs::cvm:gz/1::instance/x'"), "InvalidParameter.ResourceRegionError"},
    {ST("'*'", "'qcs::cvm::root:instance/x'"), "InvalidParameter.ResourceUinError"},
    {ST("'*'", "'qcs::cvm::uin/abc:instance/x'"), "InvalidParameter.ResourceUinError"},
    {ST("'*'", "'qcs::cvm::uin/:instance/x'"), "InvalidParameter.ResourceUinError"},
    {ST("'*'", "'qcs::cvm::UIN/1:instance/x'"), "InvalidParameter.ResourceUinError"},
    {ST("'*'", "'qcs::cvm::uin/${foo}:instance/x'"), "InvalidParameter.ResourceUinError"},
    {ST("'*'", "'qcs::cvm::uin/${uin:instance/x'"), "InvalidParameter.ResourceUinError"},
    {ST("'*'", "'qcs::cvm::uin/1'"), "InvalidParameter.ResourceError"},
    {ST("'*'", "'qcs::cvm::uin/1:'"), "InvalidParameter.ResourceContentError"},
    {ST("'*'", "'qcs::cvm::uin/1:x/${bogus}'"), "InvalidParameter.ResourceContentError"},
    {ST("'*'", "'qcs::cvm::uin/1:x/${Uin}'"), "InvalidParameter.ResourceContentError"},
    {ST("'*'", "'qcs::cvm::uin/1:x\\ny'"), "InvalidParameter.ResourceContentError"},
    /* condition shape */
    {CO("'x'"), "InvalidParameter.ConditionError"},
    {CO("null"), "InvalidParameter.ConditionError"},
    {CO("[]"), "InvalidParameter.ConditionError"},
    {CO("{}"), "InvalidParameter.ConditionError"},
    {CO("{'string_equal':'x'}"), "InvalidParameter.ConditionError"},
    {CO("{'string_equal':{}}"), "InvalidParameter.ConditionError"},
    {CO("{'string_equal':{'':'x'}}"), "InvalidParameter.ConditionError"},
    {CO("{'string_equal':{'k':[]}}"), "InvalidParameter.ConditionError"},
    {CO("{'string_equal':{'k':[['x']]}}"), "InvalidParameter.ConditionError"},
    {CO("{'string_equal':{'k':['x',null]}}"), "InvalidParameter.ConditionError"},
    {CO("{'string_equal':{'k':null}}"), "InvalidParameter.ConditionError"},
    {CO("{'string_equal':{'k':{}}}"), "InvalidParameter.ConditionError"},
    {CO("{'ip_equal':{'qcs:current_time':'1.2.3.4'}}"), "InvalidParameter.ConditionError"},
    {CO("{'string_equal':{'qcs:ip':'1.2.3.4'}}"), "InvalidParameter.ConditionError"},
    {CO("{'string_like':{'qcs:current_time':'2026*'}}"), "InvalidParameter.ConditionError"},
    {CO("{'date_less_than':{'qcs:mfa':'2026-01-01'}}"), "InvalidParameter.ConditionError"},
    {CO("{'bool_equal':{'qcs:ip':true}}"), "InvalidParameter.ConditionError"},
    /* condition operators */
    {CO("{'string_equals':{'k':'x'}}"), "InvalidParameter.ConditionTypeError"},
    {CO("{'String_Equal':{'k':'x'}}"), "InvalidParameter.ConditionTypeError"},
    {CO("{'StringEquals':{'k':'x'}}"), "InvalidParameter.ConditionTypeError"},
    {CO("{'string_equal_if_exists':{'k':'x'}}"), "InvalidParameter.ConditionTypeError"},
    {CO("{'for_some_value:string_equal':{'k':'x'}}"), "InvalidParameter.ConditionTypeError"},
    {CO("{'for_all_value:':{'k':'x'}}"), "InvalidParameter.ConditionTypeError"},
    {CO("{'_if_exist':{'k':'x'}}"), "InvalidParameter.ConditionTypeError"},
    {CO("{'null_equal_if_exist':{'k':true}}"), "InvalidParameter.ConditionTypeError"},
    {CO("{'for_any_value:null_equal':{'k':true}}"), "InvalidParameter.ConditionTypeError"},
    /* condition values */
    {CO("{'ip_equal':{'qcs:ip':'1.2.3'}}"), "InvalidParameter.ConditionContentError"},
    {CO("{'ip_equal':{'qcs:ip':'10.0.0.0/33'}}"), "InvalidParameter.ConditionContentError"},
    {CO("{'ip_equal':{'qcs:ip':'10.0.0.0/'}}"), "InvalidParameter.ConditionContentError"},
    {CO("{'ip_equal':{'qcs:ip':'10.0.0.0/-1'}}"), "InvalidParameter.ConditionContentError"},
    {CO("{'ip_equal':{'qcs:ip':'2001:db8::/129'}}"), "InvalidParameter.ConditionContentError"},
    {CO("{'ip_equal':{'qcs:ip':'::ffff:0:0/95'}}"), "InvalidParameter.ConditionContentError"},
    {CO("{'ip_equal':{'qcs:ip':' 10.0.0.1'}}"), "InvalidParameter.ConditionContentError"},
    {CO("{'ip_equal':{'qcs:ip':167772161}}"), "InvalidParameter.ConditionContentError"},
    {CO("{'ip_not_equal':{'qcs:ip':['10.0.0.0/8','x']}}"),
     "InvalidParameter.ConditionContentError"},
    {CO("{'date_less_than':{'qcs:current_time':'yesterday'}}"),
     "InvalidParameter.ConditionContentError"},
    {CO("{'date_less_than':{'qcs:current_time':'2026-02-30T00:00:00Z'}}"),
     "InvalidParameter.ConditionContentError"},
    {CO("{'date_less_than':{'qcs:current_time':'2026-01-01T24:00:00Z'}}"),
     "InvalidParameter.ConditionContentError"},
    {CO("{'date_less_than':{'qcs:current_time':'2026-01-01T00:00:00+25:00'}}"),
     "InvalidParameter.ConditionContentError"},
    {CO("{'date_less_than':{'qcs:current_time':'2026-1-1'}}"),
     "InvalidParameter.ConditionContentError"},
    {CO("{'date_less_than':{'qcs:current_time':1.5}}"), "InvalidParameter.ConditionContentError"},
    {CO("{'numeric_equal':{'k':'abc'}}"), "InvalidParameter.ConditionContentError"},
    {CO("{'numeric_equal':{'k':'1.'}}"), "InvalidParameter.ConditionContentError"},
    {CO("{'numeric_equal':{'k':'1e5'}}"), "InvalidParameter.ConditionContentError"},
    {CO("{'numeric_equal':{'k':'12345678901234567890'}}"),
     "InvalidParameter.ConditionContentError"},
    {CO("{'numeric_equal':{'k':true}}"), "InvalidParameter.ConditionContentError"},
    {CO("{'bool_equal':{'mfa':'yes'}}"), "InvalidParameter.ConditionContentError"},
    {CO("{'bool_equal':{'mfa':1}}"), "InvalidParameter.ConditionContentError"},
    {CO("{'null_equal':{'k':[true,false]}}"), "InvalidParameter.ConditionContentError"},
    {CO("{'null_equal':{'k':'maybe'}}"), "InvalidParameter.ConditionContentError"},
    {CO("{'string_equal':{'k':1.5}}"), "InvalidParameter.ConditionContentError"},
    {CO("{'string_like':{'k':'${nope}'}}"), "InvalidParameter.ConditionContentError"},
    {CO("{'string_equal':{'qcs:uin':'${uin'}}"), "InvalidParameter.ConditionContentError"},
};

static void test_bad_documents(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
        struct cam_policy_error e = parse_err(bad_cases[i].doc, bad_cases[i].code);
        /* every error names a place and says something */
        if (e.line < 1 || e.column < 1 || !e.message[0])
            print_message("case %zu: line %d column %d message '%s'\n", i, e.line, e.column,
                          e.message);
        assert_true(e.line >= 1 && e.column >= 1);
        assert_true(strlen(e.message) > 10);
    }
}

static void test_null_arguments(void **state)
{
    (void)state;
    struct cam_policy *p = NULL;
    assert_int_equal(cam_policy_parse(NULL, 0, &p, NULL), BE_INVALID_PARAMETER);
    assert_null(p);
    /* a NULL error pointer is fine */
    assert_int_equal(cam_policy_parse("{}", 2, &p, NULL), BE_INVALID_PARAMETER);
}

/* ---- Positions and messages ---- */

static void expect_at(const char *doc, const char *code, int line, int column, const char *msg)
{
    struct cam_policy_error e = parse_err(doc, code);
    if (e.line != line || e.column != column || !strstr(e.message, msg))
        print_message("%s: got line %d column %d '%s'\n", code, e.line, e.column, e.message);
    assert_int_equal(e.line, line);
    assert_int_equal(e.column, column);
    assert_non_null(strstr(e.message, msg));
}

/* The 1-based column (in characters) of needle in the one-line document doc
 * (single-quoted form), plus skip characters. */
static int col_of(const char *doc, const char *needle, int skip)
{
    const char *at = strstr(doc, needle);
    assert_non_null(at);
    int col = 1;
    for (const char *c = doc; c < at; c++)
        col += ((unsigned char)*c & 0xc0) != 0x80;
    return col + skip;
}

static void test_error_positions(void **state)
{
    (void)state;
    static const char doc[] = "{\n"                                     /* 1 */
                              "  'version': '2.0',\n"                   /* 2 */
                              "  'statement': [\n"                      /* 3 */
                              "    {'effect': 'allow',\n"               /* 4 */
                              "     'action': '*', 'resource': '*'},\n" /* 5 */
                              "    {'effect': 'allow',\n"               /* 6 */
                              "     'action': ['cos:GetObject',\n"      /* 7 */
                              "                'permid/cos:x'],\n"      /* 8 */
                              "     'resource': '*'}\n"                 /* 9 */
                              "  ]\n"
                              "}\n";
    expect_at(doc, "InvalidParameter.ActionError", 8, 17,
              "statement[1].action[1]: unsupported action prefix");

    expect_at("{'version':'2.0','statement':[{'effect':'allow','action':'*','resource':'*',\n"
              "  'Condition':{}}]}",
              "InvalidParameter.StatementError", 2, 3,
              "statement[0]: unknown element \"Condition\"");
    expect_at("{'version':'2.1','statement':[]}", "InvalidParameter.VersionError", 1,
              col_of("{'version':'2.1'", "'2.1'", 0), "version must be \"2.0\", not \"2.1\"");
    expect_at("{'statement':[]}", "InvalidParameter.VersionError", 1, 1, "version is missing");
    /* a single-object statement has no index */
    static const char one[] =
        "{'version':'2.0','statement':{'effect':'maybe','action':'*','resource':'*'}}";
    expect_at(one, "InvalidParameter.EffectError", 1, col_of(one, "'maybe'", 0),
              "statement.effect: effect must be allow");
    /* missing element: the enclosing statement */
    static const char miss[] = "{'version':'2.0','statement':[{'effect':'allow','resource':'*'}]}";
    expect_at(miss, "InvalidParameter.ActionMiss", 1, col_of(miss, "[{", 1),
              "statement[0]: action is missing");
    /* condition key and value */
    static const char ipv[] = CO("{'ip_equal':{'qcs:ip':['10.0.0.0/8', '300.1.1.1']}}");
    expect_at(ipv, "InvalidParameter.ConditionContentError", 1, col_of(ipv, "'300", 0),
              "statement[0].condition.ip_equal.qcs:ip[1]: ip_equal wants an IP address");
    static const char ops[] = CO("{'ip_equals':{'qcs:ip':'1.1.1.1'}}");
    expect_at(ops, "InvalidParameter.ConditionTypeError", 1, col_of(ops, "'ip_equals'", 0),
              "unknown condition operator \"ip_equals\"");
    /* columns count characters, not bytes */
    static const char mb[] = "{'version':'2.0','statement':[{'effect':'allow','action':'*',"
                             "'resource':'*','condition':{'string_equal':{'名字':'值'},"
                             "'bogus':{'k':'v'}}}]}";
    expect_at(mb, "InvalidParameter.ConditionTypeError", 1, col_of(mb, "'bogus'", 0), "\"bogus\"");
    assert_int_equal(col_of(mb, "'bogus'", 0), (int)(strstr(mb, "'bogus'") - mb) + 1 - 6);
    /* escapes in keys are decoded when locating */
    static const char esc[] = "{'version':'2.0','statement':[{'effect':'allow','action':'*',"
                              "'resource':'*','condition':{'string_equal':{'\\u540d':'v'},"
                              "'ip_equal':{'\\u540d':'x'}}}]}";
    expect_at(esc, "InvalidParameter.ConditionContentError", 1, col_of(esc, ":'x'", 1),
              "ip_equal wants");
    /* JSON errors carry jansson's position */
    struct cam_policy_error e =
        parse_err("{'version':'2.0',\n 'version':'2.0'}", "InvalidParameter.PolicyDocumentError");
    assert_int_equal(e.line, 2);
    assert_non_null(strstr(e.message, "duplicate"));
    /* long values are cut in messages */
    char doc2[600];
    char longact[300];
    memset(longact, 'a', sizeof(longact) - 1);
    longact[sizeof(longact) - 1] = '\0';
    snprintf(doc2, sizeof(doc2), ST("'%s'", "'*'"), longact);
    e = parse_err(doc2, "InvalidParameter.ActionError");
    assert_true(strlen(e.message) < sizeof(e.message));
    assert_non_null(strstr(e.message, "...\""));
}

/* ---- Length and hostile input ---- */

/* A valid document of exactly chars characters, padded inside a string
 * condition value with copies of pad (one character, maybe multibyte). */
static char *doc_of_length(size_t chars, const char *pad)
{
    static const char head[] = "{\"version\":\"2.0\",\"statement\":[{\"effect\":\"allow\","
                               "\"action\":\"*\",\"resource\":\"*\",\"condition\":"
                               "{\"string_equal\":{\"k\":\"";
    static const char tail[] = "\"}}}]}";
    size_t fixed = strlen(head) + strlen(tail), plen = strlen(pad);
    assert_true(chars > fixed);
    char *doc = xmalloc(strlen(head) + (chars - fixed) * plen + strlen(tail) + 1);
    char *p = doc;
    memcpy(p, head, strlen(head));
    p += strlen(head);
    for (size_t i = 0; i < chars - fixed; i++, p += plen)
        memcpy(p, pad, plen);
    memcpy(p, tail, strlen(tail) + 1);
    return doc;
}

static void test_length_limit(void **state)
{
    (void)state;
    struct cam_policy *p = NULL;
    struct cam_policy_error e;
    char *doc = doc_of_length(CAM_POLICY_MAX_CHARS, "x");
    assert_int_equal(cam_policy_parse(doc, strlen(doc), &p, &e), 0);
    cam_policy_free(p);
    free(doc);
    doc = doc_of_length(CAM_POLICY_MAX_CHARS + 1, "x");
    e = parse_raw_err(doc, strlen(doc), "InvalidParameter.PolicyDocumentLengthOverLimit");
    assert_int_equal(e.line, 0);
    free(doc);
    /* characters, not bytes: 6144 characters of which most are 3 bytes */
    doc = doc_of_length(CAM_POLICY_MAX_CHARS, "\xe5\x80\xbc");
    assert_true(strlen(doc) > 2 * CAM_POLICY_MAX_CHARS);
    assert_int_equal(cam_policy_parse(doc, strlen(doc), &p, &e), 0);
    cam_policy_free(p);
    free(doc);
    /* one megabyte is refused before anything is looked at */
    size_t big = 1 << 20;
    doc = xmalloc(big);
    memset(doc, '{', big);
    parse_raw_err(doc, big, "InvalidParameter.PolicyDocumentLengthOverLimit");
    memset(doc, '%', big);
    parse_raw_err(doc, big, "InvalidParameter.PolicyDocumentLengthOverLimit");
    free(doc);
    /* the URL form counts after decoding */
    static const char enc_head[] = "%7B%22version%22%3A%222.0%22%2C%22statement%22%3A%5B%7B"
                                   "%22effect%22%3A%22allow%22%2C%22action%22%3A%22*%22%2C"
                                   "%22resource%22%3A%22qcs%3A%3Acos%3A%3A%3Ax%2F";
    static const char enc_tail[] = "%22%7D%5D%7D";
    size_t n = strlen(enc_head) + 3 * 3000 + strlen(enc_tail);
    doc = xmalloc(n + 1);
    memcpy(doc, enc_head, strlen(enc_head));
    for (size_t i = 0; i < 3000; i++)
        memcpy(doc + strlen(enc_head) + 3 * i, "%61", 3);
    memcpy(doc + strlen(enc_head) + 3 * 3000, enc_tail, strlen(enc_tail) + 1);
    assert_int_equal(cam_policy_parse(doc, n, &p, &e), 0); /* 9000 bytes, ~3100 chars */
    cam_policy_free(p);
    free(doc);
}

static void test_hostile_input(void **state)
{
    (void)state;
    struct cam_policy *p = NULL;
    struct cam_policy_error e;
    /* deep nesting inside the length limit */
    char deep[CAM_POLICY_MAX_CHARS + 1];
    memset(deep, '[', 3000);
    memset(deep + 3000, ']', 3000);
    deep[6000] = '\0';
    char *doc = xmalloc(7000);
    snprintf(doc, 7000, "{\"version\":\"2.0\",\"statement\":%.6000s}", deep);
    parse_raw_err(doc, strlen(doc), "InvalidParameter.PolicyDocumentError");
    snprintf(doc, 7000,
             "{\"version\":\"2.0\",\"statement\":[{\"effect\":\"allow\",\"action\":\"*\","
             "\"resource\":\"*\",\"condition\":{\"string_equal\":{\"k\":%.1000s}}}]}",
             deep + 2500);
    /* 500 nested lists as a condition value */
    parse_raw_err(doc, strlen(doc), "InvalidParameter.ConditionError");
    /* a huge action list is fine if it fits */
    size_t at = 0;
    at += (size_t)snprintf(doc + at, 7000 - at,
                           "{\"version\":\"2.0\",\"statement\":"
                           "[{\"effect\":\"allow\",\"resource\":\"*\","
                           "\"action\":[");
    for (int i = 0; i < 1400; i++)
        at += (size_t)snprintf(doc + at, 7000 - at, "%s\"*\"", i ? "," : "");
    snprintf(doc + at, 7000 - at, "]}]}");
    assert_int_equal(cam_policy_parse(doc, strlen(doc), &p, &e), 0);
    cam_policy_free(p);
    /* invalid UTF-8, overlong forms, lone surrogates, NUL bytes */
    static const char *const bad[] = {
        "{\"version\":\"2.0\",\"statement\":[{\"effect\":\"allow\",\"action\":\"\xff\","
        "\"resource\":\"*\"}]}",
        "{\"version\":\"2.0\",\"statement\":[{\"effect\":\"allow\",\"action\":\"\xc0\xaf\","
        "\"resource\":\"*\"}]}",
        "{\"version\":\"2.0\",\"statement\":[{\"effect\":\"allow\",\"action\":\"\xed\xa0\x80\","
        "\"resource\":\"*\"}]}",
        "{\"version\":\"2.0\",\"statement\":[{\"effect\":\"allow\",\"action\":\"\\ud800\","
        "\"resource\":\"*\"}]}",
        "{\"version\":\"2.0\",\"stat\xe9ment\":[]}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        e = parse_raw_err(bad[i], strlen(bad[i]), "InvalidParameter.PolicyDocumentError");
        for (const char *c = e.message; *c; c++) /* messages stay printable ASCII */
            assert_true((unsigned char)*c >= 0x20 && (unsigned char)*c < 0x7f);
    }
    static const char nul[] = "{\"version\":\"2.0\",\0\"statement\":[]}";
    parse_raw_err(nul, sizeof(nul) - 1, "InvalidParameter.PolicyDocumentError");
    free(doc);
}

/* Random mutations of valid documents: nothing may crash or leak (run under
 * ASan), and whatever parses must also evaluate. */
static const char *const seeds[] = {
    ALLOW_ALL,
    "{'version':'2.0','statement':[{'effect':'deny','action':['name/cos:Get*','cvm:*'],"
    "'resource':['qcs::cos:ap-guangzhou:uid/1250000000:bucket-1/*','qcs::cvm::uin/${uin}:x/*'],"
    "'condition':{'ip_not_equal_if_exist':{'qcs:ip':['10.0.0.0/8','2001:db8::/32']},"
    "'date_less_than':{'qcs:current_time':'2030-01-01T00:00:00Z'},"
    "'for_any_value:string_like':{'qcs:request_tag':['env&*','te?m&${uin}']},"
    "'null_equal':{'mfa':false},'numeric_greater_than_equal':{'n':['1.5',-3]}}}]}",
};

static uint64_t rng(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static void mutate(char *buf, size_t *len, size_t cap, uint64_t *seed)
{
    static const char alphabet[] = "{}[]:,\"'\\*?$/0a-_ \n\xff\xc3\xa9%u";
    size_t n = *len, pos = n ? rng(seed) % n : 0;
    switch (rng(seed) % 4) {
    case 0: /* replace */
        if (n)
            buf[pos] = alphabet[rng(seed) % (sizeof(alphabet) - 1)];
        break;
    case 1: /* insert */
        if (n + 1 < cap) {
            memmove(buf + pos + 1, buf + pos, n - pos);
            buf[pos] = alphabet[rng(seed) % (sizeof(alphabet) - 1)];
            n++;
        }
        break;
    case 2: /* delete */
        if (n) {
            memmove(buf + pos, buf + pos + 1, n - pos - 1);
            n--;
        }
        break;
    default: /* truncate */
        n = pos;
    }
    *len = n;
}

static void test_random_mutations(void **state)
{
    (void)state;
    uint64_t seed = 0x9e3779b97f4a7c15u;
    struct cam_eval_input in = input("cos:GetObject", "qcs::cos:ap-guangzhou:uid/1250000000:b/x");
    struct cam_context_value ctx[] = {{"qcs:request_tag", "env&prod"}, {"n", "2"}};
    in.context = ctx;
    in.n_context = 2;
    struct cam_eval_request req;
    assert_int_equal(cam_eval_request_init(&req, &in, NULL), 0);
    int parsed = 0;
    for (int iter = 0; iter < 20000; iter++) {
        char *base = q(seeds[iter % 2]);
        char buf[1024];
        size_t len = strlen(base);
        memcpy(buf, base, len);
        free(base);
        for (int k = 0; k <= iter % 5; k++)
            mutate(buf, &len, sizeof(buf), &seed);
        struct cam_policy *p = NULL;
        struct cam_policy_error e;
        if (cam_policy_parse(buf, len, &p, &e)) {
            assert_non_null(e.code);
            continue;
        }
        parsed++;
        struct cam_policy_attachment att = {p, 1, OWNER};
        struct cam_policy_set *set;
        assert_int_equal(cam_policy_set_new(&att, 1, &set, NULL), 0);
        cam_policy_free(p);
        int r = cam_decide(set, &req);
        assert_true(r == CAM_ALLOW || r == CAM_DENY);
        cam_policy_set_free(set);
    }
    assert_true(parsed > 100);
}

/* ---- Action matching ---- */

static void test_action_matching(void **state)
{
    (void)state;
    assert_true(act_allows("'*'", "cos:GetObject"));
    assert_true(act_allows("'*:*'", "cos:GetObject"));
    assert_true(act_allows("'cos:*'", "cos:GetObject"));
    assert_false(act_allows("'cos:*'", "cvm:RunInstances"));
    assert_true(act_allows("'cos:GetObject'", "cos:GetObject"));
    assert_false(act_allows("'cos:GetObject'", "cos:GetObjectAcl"));
    assert_false(act_allows("'cos:GetObjectAcl'", "cos:GetObject"));
    assert_true(act_allows("'name/cos:GetObject'", "cos:GetObject"));
    assert_true(act_allows("'NAME/cos:GetObject'", "cos:GetObject"));
    /* wildcards anywhere in the name, matching empty runs too */
    assert_true(act_allows("'cos:Get*'", "cos:GetObject"));
    assert_true(act_allows("'cos:Get*'", "cos:Get"));
    assert_false(act_allows("'cos:Get*'", "cos:PutObject"));
    assert_true(act_allows("'cos:*Bucket*'", "cos:PutBucketAcl"));
    assert_true(act_allows("'cos:*Bucket*'", "cos:Bucket"));
    assert_false(act_allows("'cos:*Bucket*'", "cos:PutObject"));
    assert_true(act_allows("'cvm:*Instances'", "cvm:DescribeInstances"));
    assert_false(act_allows("'cvm:*Instances'", "cvm:DescribeInstancesStatus"));
    assert_true(act_allows("'cvm:Describe*Status'", "cvm:DescribeInstancesStatus"));
    assert_true(act_allows("'cvm:D*s*s'", "cvm:DescribeInstancesStatus"));
    assert_false(act_allows("'cvm:D*x*s'", "cvm:DescribeInstancesStatus"));
    assert_true(act_allows("'*:Describe*'", "cvm:DescribeInstances"));
    assert_true(act_allows("'*:Describe*'", "cam:DescribeSafeAuthFlag"));
    assert_false(act_allows("'*:Describe*'", "cam:ListUsers"));
    /* case-insensitive service and name */
    assert_true(act_allows("'COS:getobject'", "cos:GetObject"));
    assert_true(act_allows("'cos:GETOBJECT'", "Cos:getObject"));
    assert_true(act_allows("'cos:get*'", "cos:GetObject"));
    /* lists: any entry */
    assert_true(act_allows("['cvm:*','cos:GetObject']", "cos:GetObject"));
    assert_false(act_allows("['cvm:*','cos:PutObject']", "cos:GetObject"));
    /* dots and dashes in names */
    assert_true(act_allows("'cam:UpdateAccessKey.*'", "cam:UpdateAccessKey.Inactive"));
    assert_true(act_allows("'my-svc:Do_It'", "my-svc:do_it"));
}

static void test_request_validation(void **state)
{
    (void)state;
    struct cam_eval_request req;
    struct be_diag diag = {""};
    static const char *const bad_actions[] = {
        NULL, "", "cos", ":Get", "cos:", "cos:Get*", "name/cos:Get", "cos:Get Object", "c s:Get"};
    for (size_t i = 0; i < sizeof(bad_actions) / sizeof(bad_actions[0]); i++) {
        struct cam_eval_input in = input(bad_actions[i], "*");
        assert_int_equal(cam_eval_request_init(&req, &in, &diag), BE_INVALID_PARAMETER);
    }
    char longact[CAM_ACTION_MAX + 8] = "cam:";
    memset(longact + 4, 'A', CAM_ACTION_MAX);
    longact[CAM_ACTION_MAX + 1] = '\0';
    struct cam_eval_input in = input(longact, "*");
    assert_int_equal(cam_eval_request_init(&req, &in, &diag), BE_INVALID_PARAMETER);
    longact[CAM_ACTION_MAX] = '\0';
    in = input(longact, "*");
    assert_int_equal(cam_eval_request_init(&req, &in, &diag), 0);
    static const char *const bad_res[] = {
        NULL, "", "**", "qcs::cvm", "qcx::cvm:gz:uin/1:x", "qcs::cvm:gz:uin/1:"};
    for (size_t i = 0; i < sizeof(bad_res) / sizeof(bad_res[0]); i++) {
        in = input("cvm:RunInstances", bad_res[i]);
        assert_int_equal(cam_eval_request_init(&req, &in, &diag), BE_INVALID_PARAMETER);
    }
    /* context: too many values, built-in keys, empty keys, NULL values */
    struct cam_context_value many[CAM_CONTEXT_MAX + 1];
    for (size_t i = 0; i < CAM_CONTEXT_MAX + 1; i++)
        many[i] = (struct cam_context_value){"k", "v"};
    in = input("cvm:RunInstances", "*");
    in.context = many;
    in.n_context = CAM_CONTEXT_MAX + 1;
    assert_int_equal(cam_eval_request_init(&req, &in, &diag), BE_INVALID_PARAMETER);
    in.n_context = CAM_CONTEXT_MAX;
    assert_int_equal(cam_eval_request_init(&req, &in, &diag), 0);
    static const struct cam_context_value builtin[] = {{"qcs:ip", "1.2.3.4"}};
    static const struct cam_context_value empty[] = {{"", "x"}};
    static const struct cam_context_value nullv[] = {{"k", NULL}};
    in.n_context = 1;
    in.context = builtin;
    assert_int_equal(cam_eval_request_init(&req, &in, &diag), BE_INVALID_PARAMETER);
    assert_non_null(strstr(diag.msg, "qcs:ip"));
    in.context = empty;
    assert_int_equal(cam_eval_request_init(&req, &in, &diag), BE_INVALID_PARAMETER);
    in.context = nullv;
    assert_int_equal(cam_eval_request_init(&req, &in, &diag), BE_INVALID_PARAMETER);
    /* over-long context values and resources */
    char *big = xmalloc(CAM_RESOURCE_MAX + 64);
    memset(big, 'v', CAM_CONTEXT_VALUE_MAX + 1);
    big[CAM_CONTEXT_VALUE_MAX + 1] = '\0';
    struct cam_context_value longv[] = {{"k", big}};
    in.context = longv;
    assert_int_equal(cam_eval_request_init(&req, &in, &diag), BE_INVALID_PARAMETER);
    big[CAM_CONTEXT_VALUE_MAX] = '\0';
    assert_int_equal(cam_eval_request_init(&req, &in, &diag), 0);
    in = input("cvm:RunInstances", big);
    memcpy(big, "qcs::cvm:gz:uin/1:", 18);
    memset(big + 18, 'x', CAM_RESOURCE_MAX);
    big[CAM_RESOURCE_MAX + 1] = '\0';
    assert_int_equal(cam_eval_request_init(&req, &in, &diag), BE_INVALID_PARAMETER);
    big[CAM_RESOURCE_MAX] = '\0';
    assert_int_equal(cam_eval_request_init(&req, &in, &diag), 0);
    free(big);
}

/* ---- Resource matching ---- */

#define INSTANCE "qcs::cvm:ap-guangzhou:uin/100000000001:instance/ins-abc"

static void test_resource_matching(void **state)
{
    (void)state;
    assert_true(res_allows("'*'", INSTANCE));
    assert_true(res_allows("'*'", "*"));
    assert_true(res_allows("'" INSTANCE "'", INSTANCE));
    assert_false(
        res_allows("'" INSTANCE "'", "qcs::cvm:ap-guangzhou:uin/100000000001:instance/ins-abd"));
    /* empty service and region match any; given ones must match (case-insensitively) */
    assert_true(res_allows("'qcs::::uin/100000000001:instance/ins-abc'", INSTANCE));
    assert_true(res_allows("'qcs::CVM:AP-Guangzhou:uin/100000000001:instance/ins-abc'", INSTANCE));
    assert_false(res_allows("'qcs::cos::uin/100000000001:instance/ins-abc'", INSTANCE));
    assert_false(res_allows("'qcs::cvm:ap-beijing:uin/100000000001:instance/ins-abc'", INSTANCE));
    assert_true(res_allows("'qcs::cvm:ap-*:uin/100000000001:instance/ins-abc'", INSTANCE));
    assert_true(res_allows("'qcs::*:*:uin/100000000001:instance/ins-abc'", INSTANCE));
    /* the last segment: globs, '*' crosses '/' and ':', case-sensitive */
    assert_true(res_allows("'qcs::cvm::uin/100000000001:instance/*'", INSTANCE));
    assert_true(res_allows("'qcs::cvm::uin/100000000001:*'", INSTANCE));
    assert_true(res_allows("'qcs::cvm::uin/100000000001:*/ins-*'", INSTANCE));
    assert_false(res_allows("'qcs::cvm::uin/100000000001:disk/*'", INSTANCE));
    assert_false(res_allows("'qcs::cvm::uin/100000000001:Instance/*'", INSTANCE));
    assert_true(res_allows("'qcs::cos::uid/1250000000:prefix//1250000000/*'",
                           "qcs::cos:sh:uid/1250000000:prefix//1250000000/bucket1/a:b"));
    assert_true(
        res_allows("'qcs::cos::uid/1250000000:b/dir/*'", "qcs::cos:sh:uid/1250000000:b/dir/"));
    assert_false(
        res_allows("'qcs::cos::uid/1250000000:b/dir/*'", "qcs::cos:sh:uid/1250000000:b/dir"));
    /* the request's project segment is ignored */
    assert_true(res_allows("'qcs::cvm::uin/100000000001:instance/*'",
                           "qcs:id/0:cvm:ap-guangzhou:uin/100000000001:instance/ins-hc0ktysk"));
    /* the last segment may hold ':' */
    assert_true(res_allows("'qcs::cmq::uin/100000000001:queue/a:b'",
                           "qcs::cmq:gz:uin/100000000001:queue/a:b"));
    /* a request resource of "*" (operation-level action): only "*" grants */
    assert_false(res_allows("'qcs::cvm::uin/100000000001:*'", "*"));
    assert_false(res_allows("'qcs::::*:*'", "*"));
    assert_true(res_allows("['qcs::cvm::uin/100000000001:*','*']", "*"));
    /* resource-level: a list grants when any entry matches */
    assert_true(res_allows(
        "['qcs::cos::uin/100000000001:x','qcs::cvm::uin/100000000001:instance/*']", INSTANCE));
}

static void test_resource_accounts(void **state)
{
    (void)state;
    /* empty account = the policy owner (OWNER in these tests) */
    assert_true(res_allows("'qcs::cvm:::instance/*'", INSTANCE));
    assert_false(res_allows("'qcs::cvm:::instance/*'",
                            "qcs::cvm:ap-guangzhou:uin/100000000009:instance/ins-abc"));
    /* an empty request account is the request's owner */
    assert_true(res_allows("'qcs::vpc:::pcx/*'", "qcs::vpc:sh::pcx/2341"));
    assert_true(res_allows("'qcs::vpc::uin/100000000001:pcx/*'", "qcs::vpc:sh::pcx/2341"));
    assert_true(res_allows("'qcs::vpc::uin/1000000000*:pcx/*'", "qcs::vpc:sh::pcx/2341"));
    assert_false(res_allows("'qcs::vpc::uin/100000000009:pcx/*'", "qcs::vpc:sh::pcx/2341"));
    /* globs and *; other accounts */
    assert_true(res_allows("'qcs::cvm::uin/*:instance/*'", INSTANCE));
    assert_true(res_allows("'qcs::cvm::*:instance/*'", INSTANCE));
    assert_true(res_allows("'qcs::cvm::uin/1000*01:instance/*'", INSTANCE));
    assert_false(res_allows("'qcs::cvm::uin/1000*09:instance/*'", INSTANCE));
    assert_false(res_allows("'qcs::cvm::uin/100000000009:instance/*'", INSTANCE));
    assert_false(res_allows("'qcs::cvm::uin/10000000000:instance/*'", INSTANCE));
    /* uid/<appid> and uin/<owner> name the same account */
    assert_true(res_allows("'qcs::cos::uid/1250000000:b-1250000000/*'",
                           "qcs::cos:ap-beijing:uin/100000000001:b-1250000000/o"));
    assert_true(res_allows("'qcs::cos::uin/100000000001:b-1250000000/*'",
                           "qcs::cos:ap-beijing:uid/1250000000:b-1250000000/o"));
    assert_true(res_allows("'qcs::cos:::b-1250000000/*'",
                           "qcs::cos:ap-beijing:uid/1250000000:b-1250000000/o"));
    assert_false(
        res_allows("'qcs::cos::uid/1250000001:b/*'", "qcs::cos:ap-beijing:uin/100000000001:b/o"));
    assert_false(
        res_allows("'qcs::cos::uid/1250000000:b/*'", "qcs::cos:ap-beijing:uin/100000000009:b/o"));
    /* without a known AppId the aliases do not apply */
    const char *doc = "{'version':'2.0','statement':[{'effect':'allow','action':'*',"
                      "'resource':'qcs::cos::uid/1250000000:b/*'}]}";
    struct cam_eval_input in = input("cos:GetObject", "qcs::cos:sh:uin/100000000001:b/o");
    in.app_id = 0;
    assert_int_equal(decide_docs(&doc, 1, &in, NULL), CAM_DENY);
    in.resource = "qcs::cos:sh:uid/1250000000:b/o";
    assert_int_equal(decide_docs(&doc, 1, &in, NULL), CAM_ALLOW);
}

static void test_resource_variables(void **state)
{
    (void)state;
    /* the CAM key resource of the spec: qcs::cam::uin/${uin}:uin/${uin} */
    const char *doc = "{'version':'2.0','statement':[{'effect':'allow','action':"
                      "'cam:CreateAccessKey','resource':'qcs::cam::uin/${owner_uin}:uin/${uin}'}]}";
    assert_true(allows(doc, "cam:CreateAccessKey", "qcs::cam::uin/100000000001:uin/100000000002"));
    assert_false(allows(doc, "cam:CreateAccessKey", "qcs::cam::uin/100000000001:uin/100000000009"));
    assert_false(allows(doc, "cam:CreateAccessKey", "qcs::cam::uin/100000000009:uin/100000000002"));
    doc = "{'version':'2.0','statement':[{'effect':'allow','action':'*','resource':"
          "['qcs::cam::uin/${uin}:uin/${uin}','qcs::cos::uid/${app_id}:b-${app_id}/${uin}/*']}]}";
    assert_false(allows(doc, "cam:X", "qcs::cam::uin/100000000001:uin/100000000002"));
    assert_true(
        allows(doc, "cos:GetObject", "qcs::cos:gz:uid/1250000000:b-1250000000/100000000002/a"));
    assert_false(
        allows(doc, "cos:GetObject", "qcs::cos:gz:uid/1250000000:b-1250000000/100000000003/a"));
    /* ${uin} is the caller: for a root caller it equals the owner */
    struct cam_eval_input in = input("cam:X", "qcs::cam::uin/100000000001:uin/100000000001");
    in.caller_uin = OWNER;
    assert_int_equal(decide_docs(&doc, 1, &in, NULL), CAM_ALLOW);
    /* unknown AppId: ${app_id} matches nothing */
    in = input("cos:GetObject", "qcs::cos:gz:uid/1250000000:b-1250000000/100000000002/a");
    in.app_id = 0;
    assert_int_equal(decide_docs(&doc, 1, &in, NULL), CAM_DENY);
    /* a variable inside a glob */
    doc = "{'version':'2.0','statement':[{'effect':'allow','action':'*','resource':"
          "'qcs::cos:::home/*/${uin}/*'}]}";
    assert_true(allows(doc, "cos:Get", "qcs::cos:gz:uin/100000000001:home/x/y/100000000002/z"));
    assert_false(allows(doc, "cos:Get", "qcs::cos:gz:uin/100000000001:home/x/100000000003/z"));
    /* a '$' that is not a variable is literal */
    assert_true(res_allows("'qcs::cos:::a$b/*'", "qcs::cos:gz:uin/100000000001:a$b/c"));
}

/* ---- Conditions ---- */

static void test_cond_string(void **state)
{
    (void)state;
    struct cam_context_value ctx[] = {{"cvm:region", "ap-Guangzhou"}};
    struct cam_eval_input in = input("cvm:RunInstances", "*");
    in.context = ctx;
    in.n_context = 1;
    assert_true(cond_allows("{'string_equal':{'cvm:region':'ap-Guangzhou'}}", &in));
    assert_true(cond_allows("{'string_equal':{'cvm:region':['x','ap-Guangzhou']}}", &in));
    assert_false(cond_allows("{'string_equal':{'cvm:region':'ap-guangzhou'}}", &in));
    assert_false(cond_allows("{'string_equal':{'cvm:region':'ap-*'}}", &in)); /* no globs */
    assert_true(cond_allows("{'string_not_equal':{'cvm:region':['x','y']}}", &in));
    assert_false(cond_allows("{'string_not_equal':{'cvm:region':['x','ap-Guangzhou']}}", &in));
    assert_true(cond_allows("{'string_equal_ignore_case':{'cvm:region':'AP-GUANGZHOU'}}", &in));
    assert_false(cond_allows("{'string_equal_ignore_case':{'cvm:region':'ap-beijing'}}", &in));
    assert_false(
        cond_allows("{'string_not_equal_ignore_case':{'cvm:region':'AP-guangzhou'}}", &in));
    assert_true(cond_allows("{'string_like':{'cvm:region':'ap-*'}}", &in));
    assert_true(cond_allows("{'string_like':{'cvm:region':'ap-?uangzhou'}}", &in));
    assert_true(cond_allows("{'string_like':{'cvm:region':'*'}}", &in));
    assert_false(cond_allows("{'string_like':{'cvm:region':'ap-??uangzhou'}}", &in));
    assert_false(cond_allows("{'string_like':{'cvm:region':'ap-g*'}}", &in)); /* case-sensitive */
    assert_true(cond_allows("{'string_not_like':{'cvm:region':'eu-*'}}", &in));
    assert_false(cond_allows("{'string_not_like':{'cvm:region':['eu-*','ap-*']}}", &in));
    assert_true(cond_allows("{'binary_equal':{'cvm:region':'ap-Guangzhou'}}", &in));
    /* '?' is one character, not one byte */
    ctx[0].value = "值";
    assert_true(cond_allows("{'string_like':{'cvm:region':'?'}}", &in));
    assert_false(cond_allows("{'string_like':{'cvm:region':'?\?'}}", &in));
    /* numbers and booleans used as strings */
    ctx[0].value = "42";
    assert_true(cond_allows("{'string_equal':{'cvm:region':42}}", &in));
    ctx[0].value = "true";
    assert_true(cond_allows("{'string_equal':{'cvm:region':true}}", &in));
    /* built-in numeric keys have a string form; variables in values */
    assert_true(cond_allows("{'string_equal':{'qcs:uin':'100000000002'}}", &in));
    assert_true(
        cond_allows("{'string_equal':{'qcs:uin':'${uin}','qcs:owner_uin':'${owner_uin}'}}", &in));
    assert_false(cond_allows("{'string_equal':{'qcs:uin':'${owner_uin}'}}", &in));
    assert_true(cond_allows("{'string_like':{'qcs:uin':'1000*'}}", &in));
    ctx[0].value = "team-100000000002";
    assert_true(cond_allows("{'string_like':{'cvm:region':'team-${uin}'}}", &in));
}

static void test_cond_numeric(void **state)
{
    (void)state;
    struct cam_context_value ctx[] = {{"cvm_system_disk_size", "50"}};
    struct cam_eval_input in = input("cvm:RunInstances", "*");
    in.context = ctx;
    in.n_context = 1;
    assert_true(cond_allows("{'numeric_equal':{'cvm_system_disk_size':50}}", &in));
    assert_true(cond_allows("{'numeric_equal':{'cvm_system_disk_size':'50.0'}}", &in));
    assert_false(cond_allows("{'numeric_equal':{'cvm_system_disk_size':51}}", &in));
    assert_true(cond_allows("{'numeric_not_equal':{'cvm_system_disk_size':[49,51]}}", &in));
    assert_false(cond_allows("{'numeric_not_equal':{'cvm_system_disk_size':[49,50]}}", &in));
    assert_true(cond_allows("{'numeric_less_than':{'cvm_system_disk_size':50.5}}", &in));
    assert_false(cond_allows("{'numeric_less_than':{'cvm_system_disk_size':50}}", &in));
    assert_true(cond_allows("{'numeric_less_than_equal':{'cvm_system_disk_size':50}}", &in));
    assert_false(cond_allows("{'numeric_greater_than':{'cvm_system_disk_size':50}}", &in));
    assert_true(cond_allows("{'numeric_greater_than':{'cvm_system_disk_size':'-1'}}", &in));
    assert_true(cond_allows("{'numeric_greater_than_equal':{'cvm_system_disk_size':50}}", &in));
    assert_false(
        cond_allows("{'numeric_greater_than_equal':{'cvm_system_disk_size':[51,60]}}", &in));
    /* a context value that is not a number satisfies no comparison */
    ctx[0].value = "big";
    assert_false(cond_allows("{'numeric_less_than':{'cvm_system_disk_size':1000}}", &in));
    assert_true(cond_allows("{'numeric_not_equal':{'cvm_system_disk_size':1000}}", &in));
    /* built-in numeric keys */
    assert_true(cond_allows("{'numeric_equal':{'qcs:uin':100000000002}}", &in));
    assert_true(cond_allows("{'numeric_greater_than':{'qcs:current_time':1767225599}}", &in));
}

static void test_cond_date(void **state)
{
    (void)state;
    /* NOW is 2026-01-01T00:00:00Z */
    assert_true(
        cond_allows_default("{'date_less_than':{'qcs:current_time':'2026-01-01T00:00:01Z'}}"));
    assert_false(
        cond_allows_default("{'date_less_than':{'qcs:current_time':'2026-01-01T00:00:00Z'}}"));
    assert_true(cond_allows_default(
        "{'date_less_than_equal':{'qcs:current_time':'2026-01-01T00:00:00Z'}}"));
    assert_true(
        cond_allows_default("{'date_greater_than':{'qcs:current_time':'2025-12-31T23:59:59Z'}}"));
    assert_false(cond_allows_default("{'date_greater_than':{'qcs:current_time':'2026-01-01'}}"));
    assert_true(
        cond_allows_default("{'date_greater_than_equal':{'qcs:current_time':'2026-01-01'}}"));
    assert_true(cond_allows_default("{'date_equal':{'qcs:current_time':'2026-01-01 00:00:00'}}"));
    assert_true(
        cond_allows_default("{'date_equal':{'qcs:current_time':'2026-01-01t00:00:00.999z'}}"));
    assert_true(
        cond_allows_default("{'date_equal':{'qcs:current_time':'2026-01-01T08:00:00+08:00'}}"));
    assert_true(
        cond_allows_default("{'date_equal':{'qcs:current_time':'2025-12-31T19:00:00-0500'}}"));
    assert_true(cond_allows_default("{'date_equal':{'qcs:current_time':'2026-01-01T00:00'}}"));
    assert_true(cond_allows_default("{'date_equal':{'qcs:current_time':1767225600}}"));
    assert_false(cond_allows_default("{'date_not_equal':{'qcs:current_time':1767225600}}"));
    assert_true(cond_allows_default("{'date_not_equal':{'qcs:current_time':'2024-02-29'}}"));
    /* a window */
    assert_true(
        cond_allows_default("{'date_greater_than':{'qcs:current_time':'2025-06-01T00:00:00Z'},"
                            "'date_less_than':{'qcs:current_time':'2026-06-01T00:00:00Z'}}"));
    assert_false(
        cond_allows_default("{'date_greater_than':{'qcs:current_time':'2026-06-01T00:00:00Z'},"
                            "'date_less_than':{'qcs:current_time':'2027-06-01T00:00:00Z'}}"));
    /* before 1970 */
    assert_true(
        cond_allows_default("{'date_greater_than':{'qcs:current_time':'1969-07-20T20:17:00Z'}}"));
    /* extra keys holding dates */
    struct cam_context_value ctx[] = {{"x:expires", "2030-01-01T00:00:00Z"}};
    struct cam_eval_input in = input("cvm:RunInstances", "*");
    in.context = ctx;
    in.n_context = 1;
    assert_true(cond_allows("{'date_greater_than':{'x:expires':'2029-12-31'}}", &in));
}

static void test_cond_ip(void **state)
{
    (void)state;
    struct cam_eval_input in = input("cos:PutObject", "*");
    /* spec §2.6 example: host bits set in the range are ignored */
    const char *example = "{'ip_equal':{'qcs:ip':['10.217.182.3/24','111.21.33.72/24']}}";
    assert_false(cond_allows(example, &in));
    assert_int_equal(cam_ip_parse("111.21.33.200", &in.source_ip), 0);
    assert_true(cond_allows(example, &in));
    assert_int_equal(cam_ip_parse("10.1.2.3", &in.source_ip), 0);
    assert_true(cond_allows("{'ip_equal':{'qcs:ip':'10.0.0.0/8'}}", &in));
    assert_true(cond_allows("{'ip_equal':{'qcs:ip':'10.1.2.3'}}", &in));
    assert_true(cond_allows("{'ip_equal':{'qcs:ip':'10.1.2.3/32'}}", &in));
    assert_false(cond_allows("{'ip_equal':{'qcs:ip':'10.1.2.4'}}", &in));
    assert_false(cond_allows("{'ip_equal':{'qcs:ip':'10.1.2.0/31'}}", &in));
    assert_true(cond_allows("{'ip_equal':{'qcs:ip':'10.1.2.2/31'}}", &in));
    assert_true(cond_allows("{'ip_equal':{'qcs:ip':'0.0.0.0/0'}}", &in));
    assert_false(cond_allows("{'ip_equal':{'qcs:ip':'::/0'}}", &in)); /* families differ */
    assert_true(cond_allows("{'ip_not_equal':{'qcs:ip':['192.168.0.0/16','172.16.0.0/12']}}", &in));
    assert_false(cond_allows("{'ip_not_equal':{'qcs:ip':['192.168.0.0/16','10.0.0.0/8']}}", &in));
    /* an IPv4-mapped range is the IPv4 range */
    assert_true(cond_allows("{'ip_equal':{'qcs:ip':'::ffff:10.0.0.0/104'}}", &in));
    /* IPv6 */
    assert_int_equal(cam_ip_parse("2001:db8:1234::5", &in.source_ip), 0);
    assert_true(cond_allows("{'ip_equal':{'qcs:ip':'2001:db8::/32'}}", &in));
    assert_true(cond_allows("{'ip_equal':{'qcs:ip':'2001:db8:1234::/48'}}", &in));
    assert_false(cond_allows("{'ip_equal':{'qcs:ip':'2001:db8:1235::/48'}}", &in));
    assert_true(cond_allows("{'ip_equal':{'qcs:ip':'2001:db8:1234::5'}}", &in));
    assert_false(cond_allows("{'ip_equal':{'qcs:ip':'2001:db8:1234::6'}}", &in));
    assert_true(cond_allows("{'ip_equal':{'qcs:ip':'2001:db8:1234::4/127'}}", &in));
    assert_true(cond_allows("{'ip_equal':{'qcs:ip':'2001:db8:1234::/65'}}", &in));
    assert_true(cond_allows("{'ip_equal':{'qcs:ip':'::/0'}}", &in));
    assert_false(cond_allows("{'ip_equal':{'qcs:ip':'0.0.0.0/0'}}", &in));
    assert_false(cond_allows("{'ip_equal':{'qcs:ip':'10.0.0.0/8'}}", &in));
    /* a request from an IPv4-mapped address is the IPv4 address */
    assert_int_equal(cam_ip_parse("::ffff:10.1.2.3", &in.source_ip), 0);
    assert_true(cond_allows("{'ip_equal':{'qcs:ip':'10.1.0.0/16'}}", &in));
    /* unknown source address: the key is absent */
    in.source_ip.family = CAM_IP_NONE;
    assert_false(cond_allows("{'ip_equal':{'qcs:ip':'0.0.0.0/0'}}", &in));
    assert_true(cond_allows("{'ip_equal_if_exist':{'qcs:ip':'10.0.0.0/8'}}", &in));
    assert_true(cond_allows("{'ip_not_equal':{'qcs:ip':'10.0.0.0/8'}}", &in));
    /* cam_ip_parse */
    struct cam_ip ip = {CAM_IP_NONE, {0}};
    assert_int_equal(cam_ip_parse("1.2.3", &ip), BE_INVALID_PARAMETER);
    assert_int_equal(cam_ip_parse("1.2.3.4/8", &ip), BE_INVALID_PARAMETER);
    assert_int_equal(cam_ip_parse(NULL, &ip), BE_INVALID_PARAMETER);
    assert_int_equal(ip.family, CAM_IP_NONE);
    assert_int_equal(cam_ip_parse("192.0.2.1", &ip), 0);
    assert_int_equal(ip.family, CAM_IP_V4);
    assert_int_equal(ip.addr[0], 192);
    assert_int_equal(ip.addr[3], 1);
}

static void test_cond_bool_null(void **state)
{
    (void)state;
    struct cam_eval_input in = input("cam:UpdateUser", "*");
    const char *mfa_true = "{'bool_equal':{'mfa':true}}";
    assert_false(cond_allows(mfa_true, &in)); /* unknown: absent */
    in.mfa = CAM_MFA_NO;
    assert_false(cond_allows(mfa_true, &in));
    assert_true(cond_allows("{'bool_equal':{'qcs:mfa':'false'}}", &in));
    in.mfa = CAM_MFA_YES;
    assert_true(cond_allows(mfa_true, &in));
    assert_true(cond_allows("{'bool_equal':{'qcs:mfa':'TRUE'}}", &in));
    assert_true(cond_allows("{'string_equal':{'mfa':'true'}}", &in));
    /* null_equal: true when absent */
    assert_false(cond_allows("{'null_equal':{'mfa':true}}", &in));
    assert_true(cond_allows("{'null_equal':{'mfa':false}}", &in));
    assert_true(cond_allows("{'null_equal':{'nope':true}}", &in));
    assert_true(cond_allows("{'null_equal':{'nope':'true'}}", &in));
    assert_false(cond_allows("{'null_equal':{'nope':false}}", &in));
    in.mfa = CAM_MFA_UNKNOWN;
    assert_true(cond_allows("{'null_equal':{'qcs:mfa':true}}", &in));
    /* bool_equal on an extra key */
    struct cam_context_value ctx[] = {{"x:flag", "False"}};
    in.context = ctx;
    in.n_context = 1;
    assert_true(cond_allows("{'bool_equal':{'x:flag':false}}", &in));
    ctx[0].value = "0";
    assert_false(cond_allows("{'bool_equal':{'x:flag':false}}", &in));
}

static void test_cond_if_exist_and_missing(void **state)
{
    (void)state;
    struct cam_eval_input in = input("cvm:RunInstances", "*");
    /* missing key: positive operators fail, negated ones hold, _if_exist holds */
    assert_false(cond_allows_default("{'string_equal':{'x:k':'a'}}"));
    assert_true(cond_allows_default("{'string_not_equal':{'x:k':'a'}}"));
    assert_true(cond_allows_default("{'string_equal_if_exist':{'x:k':'a'}}"));
    assert_true(cond_allows_default("{'numeric_less_than_if_exist':{'x:k':1}}"));
    assert_true(cond_allows_default("{'date_less_than_if_exist':{'x:k':'2000-01-01'}}"));
    assert_true(cond_allows_default("{'bool_equal_if_exist':{'x:k':true}}"));
    assert_true(cond_allows_default("{'string_not_like_if_exist':{'x:k':'*'}}"));
    assert_false(cond_allows_default("{'ip_equal':{'x:k':'10.0.0.0/8'}}"));
    /* present key: _if_exist behaves as the operator */
    struct cam_context_value ctx[] = {{"x:k", "b"}};
    in.context = ctx;
    in.n_context = 1;
    assert_false(cond_allows("{'string_equal_if_exist':{'x:k':'a'}}", &in));
    assert_true(cond_allows("{'string_equal_if_exist':{'x:k':'b'}}", &in));
    /* every key under an operator and every operator must hold */
    assert_false(cond_allows("{'string_equal':{'x:k':'b','x:other':'c'}}", &in));
    assert_true(cond_allows("{'string_equal':{'x:k':'b'},'string_like':{'x:k':'?'}}", &in));
    assert_false(cond_allows("{'string_equal':{'x:k':'b'},'string_like':{'x:k':'?\?'}}", &in));
    /* extra keys are case-sensitive */
    assert_false(cond_allows("{'string_equal':{'X:K':'b'}}", &in));
}

static void test_cond_qualifiers(void **state)
{
    (void)state;
    struct cam_context_value ctx[] = {
        {"qcs:request_tag", "env&prod"}, {"other", "z"}, {"qcs:request_tag", "team&a"}};
    struct cam_eval_input in = input("cvm:RunInstances", "*");
    in.context = ctx;
    in.n_context = 3;
    /* for_any_value: one value satisfying is enough */
    assert_true(cond_allows("{'for_any_value:string_equal':{'qcs:request_tag':'env&prod'}}", &in));
    assert_false(cond_allows("{'for_any_value:string_equal':{'qcs:request_tag':'env&dev'}}", &in));
    /* for_all_value: every value must satisfy */
    assert_false(cond_allows("{'for_all_value:string_equal':{'qcs:request_tag':'env&prod'}}", &in));
    assert_true(cond_allows("{'for_all_value:string_equal':{'qcs:request_tag':"
                            "['env&prod','team&a','x']}}",
                            &in));
    assert_true(
        cond_allows("{'for_all_value:string_like':{'qcs:request_tag':['env&*','team&*']}}", &in));
    /* negated operators per value */
    assert_true(
        cond_allows("{'for_any_value:string_not_equal':{'qcs:request_tag':'env&prod'}}", &in));
    assert_false(
        cond_allows("{'for_all_value:string_not_equal':{'qcs:request_tag':'env&prod'}}", &in));
    assert_true(
        cond_allows("{'for_all_value:string_not_equal':{'qcs:request_tag':'env&dev'}}", &in));
    /* without a qualifier a multi-valued key acts as for_any_value, and the
     * negated operators negate the whole */
    assert_true(cond_allows("{'string_equal':{'qcs:request_tag':'team&a'}}", &in));
    assert_false(cond_allows("{'string_not_equal':{'qcs:request_tag':'team&a'}}", &in));
    /* missing key: both qualifiers fail, _if_exist holds */
    assert_false(cond_allows("{'for_all_value:string_equal':{'nope':'x'}}", &in));
    assert_false(cond_allows("{'for_any_value:string_equal':{'nope':'x'}}", &in));
    assert_false(cond_allows("{'for_all_value:string_not_equal':{'nope':'x'}}", &in));
    assert_true(cond_allows("{'for_all_value:string_equal_if_exist':{'nope':'x'}}", &in));
    /* numeric with qualifier */
    struct cam_context_value nums[] = {{"n", "1"}, {"n", "5"}, {"n", "9"}};
    in.context = nums;
    in.n_context = 3;
    assert_true(cond_allows("{'for_all_value:numeric_less_than':{'n':10}}", &in));
    assert_false(cond_allows("{'for_all_value:numeric_less_than':{'n':9}}", &in));
    assert_true(cond_allows("{'for_any_value:numeric_greater_than':{'n':8}}", &in));
}

static void test_computed_keys(void **state)
{
    (void)state;
    static const char *const ro[] = {"cam:ListUsers",  "cvm:DescribeInstances",
                                     "cam:GetUser",    "x:CheckIt",
                                     "x:SearchAll",    "x:BatchGetX",
                                     "x:QueryX",       "x:BatchQueryX",
                                     "x:DownloadX",    "x:ExportX",
                                     "x:ViewX",        "x:InquiryPrice",
                                     "x:InquirePrice", "x:CompareX",
                                     "x:VerifyX",      "x:ValidateX",
                                     "x:listlower"};
    for (size_t i = 0; i < sizeof(ro) / sizeof(ro[0]); i++)
        assert_true(cam_action_is_read_only(ro[i]));
    static const char *const rw[] = {"cam:CreatePolicy",
                                     "cam:AddUser",
                                     "cvm:RunInstances",
                                     "x:UpdateX",
                                     "x:DeleteX",
                                     "ListUsers",
                                     "",
                                     "x:Lis"};
    for (size_t i = 0; i < sizeof(rw) / sizeof(rw[0]); i++)
        assert_false(cam_action_is_read_only(rw[i]));
    assert_false(cam_action_is_read_only(NULL));
    assert_true(cam_action_except_cam_finance("cvm:RunInstances"));
    assert_true(cam_action_except_cam_finance("wxlink:DeleteLink"));
    assert_true(cam_action_except_cam_finance("cam:ListUsers"));
    assert_true(cam_action_except_cam_finance("cam:AddUser"));
    assert_true(cam_action_except_cam_finance("cam:AddUserToGroup"));
    assert_true(cam_action_except_cam_finance("CAM:createaccesskey"));
    assert_false(cam_action_except_cam_finance("cam:CreatePolicy"));
    assert_false(cam_action_except_cam_finance("cam:AttachUserPolicy"));
    assert_false(cam_action_except_cam_finance("cam:DeleteUser"));
    assert_false(cam_action_except_cam_finance("cam:AddUserX"));
    assert_false(cam_action_except_cam_finance("finance:DescribeBill"));
    assert_false(cam_action_except_cam_finance("finance:Pay"));
    assert_false(cam_action_except_cam_finance(NULL));
    /* as condition keys */
    struct cam_eval_input in = input("cam:ListUsers", "*");
    assert_true(cond_allows("{'numeric_equal':{'qcs:read_only_action':1}}", &in));
    assert_true(cond_allows("{'bool_equal':{'qcs:read_only_action':true}}", &in));
    assert_true(cond_allows("{'string_equal':{'qcs:read_only_action':'1'}}", &in));
    in.action = "cam:CreatePolicy";
    assert_true(cond_allows("{'numeric_equal':{'qcs:read_only_action':0}}", &in));
    assert_true(cond_allows("{'numeric_equal':{'qcs:except_cam_finance':0}}", &in));
}

/* ---- Decisions (§2.8) ---- */

static void test_default_deny_and_empty_set(void **state)
{
    (void)state;
    struct cam_policy_set *set;
    struct cam_eval_request req;
    struct cam_eval_input in = input("cam:ListUsers", "*");
    struct cam_decision d;
    assert_int_equal(cam_eval_request_init(&req, &in, NULL), 0);
    assert_int_equal(cam_policy_set_new(NULL, 0, &set, NULL), 0);
    assert_int_equal(cam_policy_set_count(set), 0);
    assert_int_equal(cam_decide(set, &req), CAM_DENY);
    assert_int_equal(cam_decide_explain(set, &req, &d), CAM_DENY);
    assert_false(d.matched);
    cam_policy_set_free(set);
    cam_policy_set_free(NULL);
    assert_int_equal(cam_decide(NULL, &req), CAM_DENY);
    /* nothing matches: implicit deny */
    assert_int_equal(decide1("{'version':'2.0','statement':[{'effect':'allow','action':'cos:*',"
                             "'resource':'*'}]}",
                             "cam:ListUsers", "*"),
                     CAM_DENY);
    /* a set that is too large */
    struct be_diag diag = {""};
    struct cam_policy_attachment att = {NULL, 0, 0};
    assert_int_equal(cam_policy_set_new(&att, CAM_POLICY_SET_MAX + 1, &set, &diag),
                     BE_INVALID_PARAMETER);
}

static void test_explicit_deny_wins(void **state)
{
    (void)state;
    const char *docs[] = {
        ALLOW_ALL,
        "{'version':'2.0','statement':[{'effect':'allow','action':'cos:*','resource':'*'},"
        "{'effect':'deny','action':['cos:Delete*','cos:Put*'],'resource':"
        "'qcs::cos:::bucket/prod/*'}]}",
        "{'version':'2.0','statement':[{'effect':'deny','action':'cam:*','resource':'*',"
        "'condition':{'ip_not_equal':{'qcs:ip':'10.0.0.0/8'}}}]}",
    };
    struct cam_decision d;
    struct cam_eval_input in =
        input("cos:DeleteObject", "qcs::cos:gz:uin/100000000001:bucket/prod/a");
    assert_int_equal(decide_docs(docs, 3, &in, &d), CAM_DENY);
    assert_true(d.matched);
    assert_int_equal(d.attachment, 1);
    assert_int_equal(d.policy_id, 2);
    assert_int_equal(d.statement, 1);
    in.resource = "qcs::cos:gz:uin/100000000001:bucket/dev/a";
    assert_int_equal(decide_docs(docs, 3, &in, &d), CAM_ALLOW);
    assert_int_equal(d.attachment, 0); /* the first applying allow */
    assert_int_equal(d.statement, 0);
    /* the deny under a condition: from inside 10/8 it does not apply */
    in = input("cam:ListUsers", "*");
    assert_int_equal(decide_docs(docs, 3, &in, &d), CAM_ALLOW);
    assert_int_equal(cam_ip_parse("203.0.113.9", &in.source_ip), 0);
    assert_int_equal(decide_docs(docs, 3, &in, &d), CAM_DENY);
    assert_int_equal(d.policy_id, 3);
    /* order does not matter */
    const char *rev[] = {docs[2], docs[1], docs[0]};
    assert_int_equal(decide_docs(rev, 3, &in, &d), CAM_DENY);
    assert_int_equal(d.attachment, 0);
    /* deny inside one policy wins over allow in the same policy */
    assert_int_equal(decide1("{'version':'2.0','statement':[{'effect':'allow','action':'*',"
                             "'resource':'*'},{'effect':'deny','action':'*','resource':'*'}]}",
                             "cvm:RunInstances", "*"),
                     CAM_DENY);
}

static void test_attachment_owners(void **state)
{
    (void)state;
    /* the same document attached by two owners: empty account means each owner */
    struct cam_policy *p = parse_ok("{'version':'2.0','statement':[{'effect':'allow',"
                                    "'action':'*','resource':'qcs::cvm:::instance/*'}]}");
    struct cam_policy_attachment att[] = {{p, 7, OTHER}};
    struct cam_policy_set *set;
    struct cam_eval_request req;
    struct cam_decision d;
    assert_int_equal(cam_policy_set_new(att, 1, &set, NULL), 0);
    struct cam_eval_input in = input("cvm:StartInstances", INSTANCE);
    assert_int_equal(cam_eval_request_init(&req, &in, NULL), 0);
    assert_int_equal(cam_decide(set, &req), CAM_DENY);
    cam_policy_set_free(set);
    struct cam_policy_attachment both[] = {{p, 7, OTHER}, {p, 8, OWNER}};
    assert_int_equal(cam_policy_set_new(both, 2, &set, NULL), 0);
    cam_policy_free(p); /* the set holds its own references */
    assert_int_equal(cam_decide_explain(set, &req, &d), CAM_ALLOW);
    assert_int_equal(d.policy_id, 8);
    assert_int_equal(cam_policy_set_count(set), 2);
    cam_policy_set_free(set);
}

static void test_many_policies(void **state)
{
    (void)state;
    /* 16 attachments x 5 statements; the only grant is in the last one */
    const char *docs[16];
    char bufs[16][512];
    for (int i = 0; i < 16; i++) {
        snprintf(bufs[i], sizeof(bufs[i]),
                 "{'version':'2.0','statement':["
                 "{'effect':'allow','action':'svc%d:Get*','resource':'*'},"
                 "{'effect':'allow','action':['svc%d:List*','svc%d:Describe*'],'resource':'*'},"
                 "{'effect':'deny','action':'svc%d:Delete*','resource':'*'},"
                 "{'effect':'allow','action':'cvm:%s','resource':'qcs::cvm:::instance/*'},"
                 "{'effect':'allow','action':'cos:*','resource':'qcs::cos:::b%d/*',"
                 "'condition':{'ip_equal':{'qcs:ip':'10.0.0.0/8'}}}]}",
                 i, i, i, i, i == 15 ? "Start*" : "Stop*", i);
        docs[i] = bufs[i];
    }
    struct cam_decision d;
    struct cam_eval_input in = input("cvm:StartInstances", INSTANCE);
    assert_int_equal(decide_docs(docs, 16, &in, &d), CAM_ALLOW);
    assert_int_equal(d.attachment, 15);
    assert_int_equal(d.statement, 3);
    in = input("svc7:DeleteThing", "*");
    assert_int_equal(decide_docs(docs, 16, &in, &d), CAM_DENY);
    assert_true(d.matched);
    assert_int_equal(d.attachment, 7);
    in = input("cos:GetObject", "qcs::cos:gz:uin/100000000001:b9/x");
    assert_int_equal(decide_docs(docs, 16, &in, &d), CAM_ALLOW);
    assert_int_equal(d.attachment, 9);
    in.source_ip.family = CAM_IP_NONE;
    assert_int_equal(decide_docs(docs, 16, &in, &d), CAM_DENY);
    assert_false(d.matched);
}

/* ---- Presets ---- */

static int preset_decide(const char *name, const char *action, const char *resource)
{
    const struct cam_preset *p = cam_preset_by_name(name);
    assert_non_null(p);
    /* the documents are stored as JSON already; parse_ok's quote swap is harmless */
    return decide1(p->document, action, resource);
}

static void test_presets_table(void **state)
{
    (void)state;
    size_t n = 0;
    for (const struct cam_preset *p = cam_presets; p->name; p++, n++) {
        struct cam_policy *pol = NULL;
        struct cam_policy_error e;
        assert_int_equal(cam_policy_parse(p->document, strlen(p->document), &pol, &e), 0);
        cam_policy_free(pol);
        assert_true(p->id >= 1 && p->id <= CAM_PRESET_ID_MAX);
        assert_ptr_equal(cam_preset_by_id(p->id), p);
        assert_ptr_equal(cam_preset_by_name(p->name), p);
        assert_non_null(p->description);
        assert_non_null(p->service_type);
        for (const struct cam_preset *o = cam_presets; o < p; o++) {
            assert_true(o->id != p->id);
            assert_true(strcmp(o->name, p->name) != 0);
        }
    }
    assert_true(n >= 9);
    assert_int_equal(cam_preset_by_name("AdministratorAccess")->id, 1);
    assert_null(cam_preset_by_id(0));
    assert_null(cam_preset_by_id(CAM_PRESET_ID_MAX + 1));
    assert_null(cam_preset_by_name("administratoraccess"));
    assert_null(cam_preset_by_name(NULL));
}

static void test_presets_behave(void **state)
{
    (void)state;
    assert_int_equal(preset_decide("AdministratorAccess", "cam:CreatePolicy", "*"), CAM_ALLOW);
    assert_int_equal(preset_decide("AdministratorAccess", "finance:Pay", INSTANCE), CAM_ALLOW);

    static const char *const ro_ok[] = {"cvm:DescribeInstances", "cam:ListUsers", "cam:GetUser",
                                        "wxlink:ListLinks", "deploy:GetDeployment"};
    static const char *const ro_no[] = {
        "cvm:RunInstances",  "cam:CreatePolicy",        "cam:AddUser",
        "wxlink:CreateLink", "deploy:CreateDeployment", "cam:DeleteUser"};
    for (size_t i = 0; i < sizeof(ro_ok) / sizeof(ro_ok[0]); i++)
        assert_int_equal(preset_decide("ReadOnlyAccess", ro_ok[i], "*"), CAM_ALLOW);
    for (size_t i = 0; i < sizeof(ro_no) / sizeof(ro_no[0]); i++)
        assert_int_equal(preset_decide("ReadOnlyAccess", ro_no[i], "*"), CAM_DENY);

    static const char *const rf_ok[] = {
        "cvm:RunInstances",    "wxlink:DeleteLink", "cam:AddUser", "cam:AddUserToGroup",
        "cam:CreateAccessKey", "cam:ListPolicies",  "cam:GetUser", "sts:AssumeRole"};
    static const char *const rf_no[] = {
        "cam:CreatePolicy",      "cam:AttachUserPolicy", "cam:DeleteUser", "cam:DeletePolicy",
        "cam:AttachGroupPolicy", "finance:DescribeBill", "finance:Pay",    "cam:SetMfaFlag"};
    for (size_t i = 0; i < sizeof(rf_ok) / sizeof(rf_ok[0]); i++)
        assert_int_equal(preset_decide("QCloudResourceFullAccess", rf_ok[i], "*"), CAM_ALLOW);
    for (size_t i = 0; i < sizeof(rf_no) / sizeof(rf_no[0]); i++)
        assert_int_equal(preset_decide("QCloudResourceFullAccess", rf_no[i], "*"), CAM_DENY);

    assert_int_equal(preset_decide("QcloudCamFullAccess", "cam:CreatePolicy", "*"), CAM_ALLOW);
    assert_int_equal(preset_decide("QcloudCamFullAccess", "cvm:DescribeInstances", "*"), CAM_DENY);
    assert_int_equal(preset_decide("QcloudCamReadOnlyAccess", "cam:ListUsers", "*"), CAM_ALLOW);
    assert_int_equal(preset_decide("QcloudCamReadOnlyAccess", "cam:AddUser", "*"), CAM_DENY);
    assert_int_equal(preset_decide("QcloudCamReadOnlyAccess", "cvm:DescribeInstances", "*"),
                     CAM_DENY);
    const char *link = "qcs::wxlink::uin/100000000001:link/wx0123456789abcdef";
    assert_int_equal(preset_decide("QcloudBinderyLinkFullAccess", "wxlink:DeleteLink", link),
                     CAM_ALLOW);
    assert_int_equal(preset_decide("QcloudBinderyLinkFullAccess", "deploy:CreateDeployment", "*"),
                     CAM_DENY);
    assert_int_equal(preset_decide("QcloudBinderyLinkReadOnlyAccess", "wxlink:DescribeLinks", "*"),
                     CAM_ALLOW);
    assert_int_equal(preset_decide("QcloudBinderyLinkReadOnlyAccess", "wxlink:DeleteLink", link),
                     CAM_DENY);
    assert_int_equal(preset_decide("QcloudBinderyDeployFullAccess", "deploy:CreateDeployment", "*"),
                     CAM_ALLOW);
    assert_int_equal(
        preset_decide("QcloudBinderyDeployReadOnlyAccess", "deploy:ListDeployments", "*"),
        CAM_ALLOW);
    assert_int_equal(
        preset_decide("QcloudBinderyDeployReadOnlyAccess", "deploy:CreateDeployment", "*"),
        CAM_DENY);
}

/* ---- Threads ---- */

struct thread_arg {
    const struct cam_policy_set *set;
    int mismatches;
};

static void *decide_loop(void *p)
{
    struct thread_arg *a = p;
    static const char *const actions[] = {"cos:GetObject", "cos:DeleteObject", "cam:ListUsers"};
    static const int expected[] = {CAM_ALLOW, CAM_DENY, CAM_DENY};
    for (int i = 0; i < 30000; i++) {
        struct cam_eval_request req;
        struct cam_eval_input in = {actions[i % 3],
                                    "qcs::cos:gz:uin/100000000001:b/x",
                                    OWNER,
                                    CALLER,
                                    APPID,
                                    {CAM_IP_NONE, {0}},
                                    NOW,
                                    CAM_MFA_UNKNOWN,
                                    NULL,
                                    0};
        if (cam_eval_request_init(&req, &in, NULL) || cam_decide(a->set, &req) != expected[i % 3])
            a->mismatches++;
    }
    return NULL;
}

static void test_concurrent_decisions(void **state)
{
    (void)state;
    struct cam_policy *p = parse_ok("{'version':'2.0','statement':[{'effect':'allow','action':"
                                    "'cos:*','resource':'qcs::cos:::b/*'},{'effect':'deny',"
                                    "'action':'cos:Delete*','resource':'*'}]}");
    struct cam_policy_attachment att = {p, 1, OWNER};
    struct cam_policy_set *set;
    assert_int_equal(cam_policy_set_new(&att, 1, &set, NULL), 0);
    pthread_t th[4];
    struct thread_arg args[4];
    for (int i = 0; i < 4; i++) {
        args[i] = (struct thread_arg){set, 0};
        assert_int_equal(pthread_create(&th[i], NULL, decide_loop, &args[i]), 0);
    }
    /* references may be taken and dropped meanwhile */
    for (int i = 0; i < 10000; i++)
        cam_policy_free(cam_policy_ref(p));
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(args[i].mismatches, 0);
    }
    cam_policy_free(p);
    cam_policy_set_free(set);
}

/* Error messages quote client text with every control character (C0, DEL,
 * C1) shown as '?': messages end up in logs and pages. Found by fuzzing. */
static void test_message_controls(void **state)
{
    (void)state;
    const char *doc = "{\"version\":\"2.0\",\"statement\":[{\"effect\":\"allow\","
                      "\"action\":[\"a\x7f\xc2\x85\\u0001:b\"],\"resource\":\"*\"}]}";
    struct cam_policy *p = NULL;
    struct cam_policy_error e;
    assert_int_equal(cam_policy_parse(doc, strlen(doc), &p, &e), BE_INVALID_PARAMETER);
    assert_non_null(strstr(e.message, "\"a???:b\""));
    for (const unsigned char *c = (const unsigned char *)e.message; *c; c++)
        assert_true(*c >= 0x20 && *c != 0x7f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_minimal_and_forms),
        cmocka_unit_test(test_url_encoded),
        cmocka_unit_test(test_bad_documents),
        cmocka_unit_test(test_null_arguments),
        cmocka_unit_test(test_error_positions),
        cmocka_unit_test(test_length_limit),
        cmocka_unit_test(test_hostile_input),
        cmocka_unit_test(test_random_mutations),
        cmocka_unit_test(test_action_matching),
        cmocka_unit_test(test_request_validation),
        cmocka_unit_test(test_resource_matching),
        cmocka_unit_test(test_resource_accounts),
        cmocka_unit_test(test_resource_variables),
        cmocka_unit_test(test_cond_string),
        cmocka_unit_test(test_cond_numeric),
        cmocka_unit_test(test_cond_date),
        cmocka_unit_test(test_cond_ip),
        cmocka_unit_test(test_cond_bool_null),
        cmocka_unit_test(test_cond_if_exist_and_missing),
        cmocka_unit_test(test_cond_qualifiers),
        cmocka_unit_test(test_computed_keys),
        cmocka_unit_test(test_default_deny_and_empty_set),
        cmocka_unit_test(test_explicit_deny_wins),
        cmocka_unit_test(test_attachment_owners),
        cmocka_unit_test(test_many_policies),
        cmocka_unit_test(test_presets_table),
        cmocka_unit_test(test_presets_behave),
        cmocka_unit_test(test_concurrent_decisions),
        cmocka_unit_test(test_message_controls),
    };
    return cmocka_run_group_tests_name("policy", tests, NULL, NULL);
}
