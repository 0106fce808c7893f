/* Unit tests of api/query: GET query strings to nested JSON (spec 4.1). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/query.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/banned.h"

static void assert_json_n(const char *q, size_t len, const char *expected)
{
    struct be_diag diag = {{0}};
    json_t *got = NULL, *want = json_loads(expected, 0, NULL);
    assert_non_null(want);
    int rc = api_query_to_json(q, len, &got, &diag);
    if (rc)
        print_error("rejected \"%.*s\": %s\n", (int)len, q, diag.msg);
    assert_int_equal(rc, 0);
    if (!json_equal(got, want)) {
        char *s = json_dumps(got, JSON_COMPACT);
        print_error("\"%.*s\"\n  got  %s\n  want %s\n", (int)len, q, s, expected);
        free(s);
    }
    assert_true(json_equal(got, want));
    json_decref(got);
    json_decref(want);
}

static void assert_json(const char *q, const char *expected)
{
    assert_json_n(q, strlen(q), expected);
}

/* Checks that q is refused with err, that the message holds diag_part, and
 * that *ret was not written. */
static void assert_rejected_n(const char *q, size_t len, int err, const char *diag_part)
{
    struct be_diag diag = {{0}};
    json_t *sentinel = (json_t *)&diag, *got = sentinel;
    int rc = api_query_to_json(q, len, &got, &diag);
    if (rc != err || (diag_part && !strstr(diag.msg, diag_part)))
        print_error("\"%.*s\": rc %d, diag \"%s\", expected %d and \"%s\"\n",
                    (int)(len < 200 ? len : 200), q, rc, diag.msg, err, diag_part ? diag_part : "");
    assert_int_equal(rc, err);
    assert_ptr_equal(got, sentinel);
    assert_true(diag.msg[0] != '\0');
    if (diag_part)
        assert_non_null(strstr(diag.msg, diag_part));
}

static void assert_rejected(const char *q, const char *diag_part)
{
    assert_rejected_n(q, strlen(q), BE_INVALID_PARAMETER, diag_part);
}

/* ---- Accepted ---- */

static void test_spec_example(void **state)
{
    (void)state;
    assert_json("Info.0.GroupId=2020&Info.0.Uid=1001408&PolicyId.0=1000&Name=bob",
                "{\"Info\":[{\"GroupId\":\"2020\",\"Uid\":\"1001408\"}],"
                "\"PolicyId\":[\"1000\"],\"Name\":\"bob\"}");
    assert_json("PolicyId.0=1000&PolicyId.1=1001", "{\"PolicyId\":[\"1000\",\"1001\"]}");
}

static void test_empty(void **state)
{
    (void)state;
    assert_json_n(NULL, 0, "{}");
    assert_json("", "{}");
    assert_json("&", "{}");
    assert_json("&&&", "{}");
    assert_json("&Name=bob&&", "{\"Name\":\"bob\"}");
}

static void test_values_are_strings(void **state)
{
    (void)state;
    assert_json("Limit=1&Enabled=true&Ratio=1.5&Neg=-3&Null=null",
                "{\"Limit\":\"1\",\"Enabled\":\"true\",\"Ratio\":\"1.5\",\"Neg\":\"-3\","
                "\"Null\":\"null\"}");
    assert_json("Name=&Flag", "{\"Name\":\"\",\"Flag\":\"\"}");
    assert_json("Doc=a=b==c", "{\"Doc\":\"a=b==c\"}");
}

static void test_decoding(void **state)
{
    (void)state;
    /* '+' is a space (Python and Go); %20 too (Node); %2B is a plus. */
    assert_json("A=hello+world&B=hello%20world&C=1%2B1&D=+%2b+",
                "{\"A\":\"hello world\",\"B\":\"hello world\",\"C\":\"1+1\",\"D\":\" + \"}");
    assert_json("Name=%E4%BD%A0%e5%a5%bd", "{\"Name\":\"\\u4f60\\u597d\"}");
    /* What the Node SDK sent for CreatePolicy (spec 5.3). */
    assert_json(
        "PolicyName=p1&PolicyDocument=%7B%22version%22%3A%222.0%22%2C%22statement%22%3A%5B%5D"
        "%7D&Description=d",
        "{\"PolicyName\":\"p1\",\"PolicyDocument\":\"{\\\"version\\\":\\\"2.0\\\","
        "\\\"statement\\\":[]}\",\"Description\":\"d\"}");
    /* Control characters are fine inside values (policy documents have newlines). */
    assert_json("Doc=a%0Ab%09c", "{\"Doc\":\"a\\nb\\tc\"}");
    /* Names are decoded before they are split, so %2E is a separator. */
    assert_json("A%2EB=1&C%5FD=2", "{\"A\":{\"B\":\"1\"},\"C_D\":\"2\"}");
    /* Raw bytes the HTTP layer passed through unencoded are kept as sent. */
    assert_json("Name=caf\xc3\xa9", "{\"Name\":\"caf\\u00e9\"}");
}

static void test_nesting(void **state)
{
    (void)state;
    assert_json("Filters.0.Name=instance-name&Filters.0.Values.0=a&Filters.0.Values.1=b&"
                "Filters.1.Name=zone&Filters.1.Values.0=c",
                "{\"Filters\":[{\"Name\":\"instance-name\",\"Values\":[\"a\",\"b\"]},"
                "{\"Name\":\"zone\",\"Values\":[\"c\"]}]}");
    assert_json("A.B.C=1&A.B.D=2&A.E=3", "{\"A\":{\"B\":{\"C\":\"1\",\"D\":\"2\"},\"E\":\"3\"}}");
    assert_json("M.0.0=a&M.0.1=b&M.1.0=c", "{\"M\":[[\"a\",\"b\"],[\"c\"]]}");
    /* Exactly API_QUERY_MAX_DEPTH segments. */
    assert_json("A.B.C.D.E.F.G.H=1",
                "{\"A\":{\"B\":{\"C\":{\"D\":{\"E\":{\"F\":{\"G\":{\"H\":\"1\"}}}}}}}}");
    assert_json("A.0.0.0.0.0.0.0=1", "{\"A\":[[[[[[[\"1\"]]]]]]]}");
}

static void test_indices_in_any_order(void **state)
{
    (void)state;
    /* Go's url.Values.Encode sorts names: 0, 1, 10, 2, ... */
    assert_json("X.0=a&X.1=b&X.10=k&X.2=c&X.3=d&X.4=e&X.5=f&X.6=g&X.7=h&X.8=i&X.9=j",
                "{\"X\":[\"a\",\"b\",\"c\",\"d\",\"e\",\"f\",\"g\",\"h\",\"i\",\"j\",\"k\"]}");
    assert_json("X.2=c&X.0=a&X.1=b", "{\"X\":[\"a\",\"b\",\"c\"]}");
    assert_json("I.1.Uid=2&I.0.GroupId=1&I.1.GroupId=3&I.0.Uid=4",
                "{\"I\":[{\"GroupId\":\"1\",\"Uid\":\"4\"},{\"Uid\":\"2\",\"GroupId\":\"3\"}]}");
}

static void test_not_nul_terminated(void **state)
{
    (void)state;
    /* Exactly sized heap copy: ASan reports any read past len. */
    const char text[] = "Name=bob&PolicyId.0=1%41";
    size_t len = sizeof(text) - 1;
    char *q = malloc(len);
    assert_non_null(q);
    memcpy(q, text, len);
    assert_json_n(q, len, "{\"Name\":\"bob\",\"PolicyId\":[\"1A\"]}");
    assert_json_n(q, 8, "{\"Name\":\"bob\"}");
    assert_json_n(q, 4, "{\"Name\":\"\"}");
    assert_rejected_n(q, len - 1, BE_INVALID_PARAMETER, "PolicyId.0"); /* "%4" */
    memcpy(q, "Name=bob&Nam", 12);
    assert_json_n(q, 12, "{\"Name\":\"bob\",\"Nam\":\"\"}");
    free(q);
}

/* ---- Refused ---- */

static void test_conflicts(void **state)
{
    (void)state;
    assert_rejected("A=1&A.0=2", "A.0");
    assert_rejected("A.0=2&A=1", "parameter A ");
    assert_rejected("A.0=1&A.B=2", "A.B");
    assert_rejected("A.B=1&A.0=2", "A.0");
    assert_rejected("A=1&A=2", "parameter A is given twice");
    assert_rejected("A.0=1&A.0=2", "A.0 is given twice");
    assert_rejected("A.0=1&A.0.B=2", "A.0.B");
    assert_rejected("A.0.B=2&A.0=1", "A.0");
    assert_rejected("A.B.C=1&A.B=2", "A.B");
    assert_rejected("A=1&A.B.C=2", "A.B.C");
    /* The same name spelled two ways is still the same name. */
    assert_rejected("Name=a&N%61me=b", "Name is given twice");
}

static void test_gaps(void **state)
{
    (void)state;
    assert_rejected("A.1=x", "index 1 is out of range"); /* one parameter: only index 0 */
    assert_rejected("A.1=x&B=y", "A.0 is missing");
    assert_rejected("A.0=x&A.2=y&B=z", "A.1 is missing");
    assert_rejected("A.0.B.1=x&A.0.C=y", "A.0.B.0 is missing");
    assert_rejected("A.2.B=x&A.0.B=y&A.1=z&C.1=w", "C.0 is missing");
    assert_rejected("M.1.0=a&M.0.1=b", "M.0.0 is missing");
}

static void test_bad_indices(void **state)
{
    (void)state;
    assert_rejected("A.01=x&A.0=y&A.1=z", "leading zeros");
    assert_rejected("A.00=x", "leading zeros");
    assert_rejected("A.99999999999999999999999=x", "out of range");
    assert_rejected("A.18446744073709551616=x", "out of range");
    assert_rejected("A.2=x&B=1", "out of range"); /* two parameters: index below 2 */
    assert_rejected("0=x", "top-level");
    assert_rejected("0.A=x", "top-level");
    /* Not all digits: a member name, not an index. */
    assert_json("A.-1=x&A.1a=y", "{\"A\":{\"-1\":\"x\",\"1a\":\"y\"}}");
}

static void test_bad_names(void **state)
{
    (void)state;
    assert_rejected("=x", "empty name");
    assert_rejected("=", "empty name");
    assert_rejected("A..B=1", "empty name segment");
    assert_rejected(".A=1", "empty name segment");
    assert_rejected("A.=1", "empty name segment");
    assert_rejected("A%20B=1", "printable ASCII");
    assert_rejected("A+B=1", "printable ASCII");
    assert_rejected("A%01=1", "printable ASCII");
    assert_rejected("A%7F=1", "printable ASCII");
    assert_rejected("%C3%A9=1", "printable ASCII");
    assert_rejected("A.B.C.D.E.F.G.H.I=1", "deeper than 8");
    assert_rejected("A.0.0.0.0.0.0.0.0=1", "deeper than 8");
}

static void test_bad_escapes(void **state)
{
    (void)state;
    assert_rejected("A=%", "parameter A: bad percent escape");
    assert_rejected("A=%4", "parameter A: bad percent escape");
    assert_rejected("A=1%", "parameter A: bad percent escape");
    assert_rejected("A=%zz", "parameter A: bad percent escape");
    assert_rejected("A=%G0", "parameter A: bad percent escape");
    assert_rejected("A=%0G", "parameter A: bad percent escape");
    assert_rejected("A=%%41", "parameter A: bad percent escape");
    assert_rejected("A=%00", "parameter A: bad percent escape or NUL");
    assert_rejected("A%00B=1", "parameter A%00B: bad percent escape or NUL in the name");
    assert_rejected("A%=1", "parameter A%: bad percent escape");
    assert_rejected("%=1", "bad percent escape");
    /* Not UTF-8 once decoded. */
    assert_rejected("A=%FF", "parameter A: the value is not UTF-8");
    assert_rejected("A=%C0%AF", "not UTF-8");
    assert_rejected("A=%ED%A0%80", "not UTF-8"); /* a UTF-16 surrogate */
    assert_rejected("A=%E4%BD", "not UTF-8");    /* truncated sequence */
    /* The diag never carries raw control bytes. */
    assert_rejected("A\x01\x1b[31m%=1", "parameter A??[31m%: bad percent escape");
}

static void test_limits(void **state)
{
    (void)state;
    struct buf q = BUF_INIT;
    char name[API_QUERY_MAX_NAME + 2];

    /* Name length: 256 accepted, 257 refused. */
    memset(name, 'N', sizeof(name));
    name[API_QUERY_MAX_NAME] = '\0';
    buf_addf(&q, "%s=1", name);
    {
        json_t *j = NULL;
        assert_int_equal(api_query_to_json(q.data, q.len, &j, NULL), 0);
        assert_string_equal(json_string_value(json_object_get(j, name)), "1");
        json_decref(j);
    }
    name[API_QUERY_MAX_NAME] = 'N';
    name[API_QUERY_MAX_NAME + 1] = '\0';
    buf_reset(&q);
    buf_addf(&q, "%s=1", name);
    assert_rejected(q.data, "longer than 256 bytes");

    /* Parameter count: 1000 accepted, 1001 refused. */
    buf_reset(&q);
    for (int i = 0; i < API_QUERY_MAX_PARAMS; i++)
        buf_addf(&q, "%sL.%d=%d", i ? "&" : "", API_QUERY_MAX_PARAMS - 1 - i, i);
    {
        json_t *j = NULL;
        assert_int_equal(api_query_to_json(q.data, q.len, &j, NULL), 0);
        json_t *l = json_object_get(j, "L");
        assert_int_equal(json_array_size(l), API_QUERY_MAX_PARAMS);
        assert_string_equal(json_string_value(json_array_get(l, 0)), "999");
        assert_string_equal(json_string_value(json_array_get(l, 999)), "0");
        json_decref(j);
    }
    buf_adds(&q, "&X=1");
    assert_rejected(q.data, "1001 parameters, more than 1000");

    /* Length: 32768 accepted, 32769 refused before anything is read. */
    buf_reset(&q);
    buf_adds(&q, "Doc=");
    while (q.len < API_QUERY_MAX_LEN)
        buf_addch(&q, 'x');
    {
        json_t *j = NULL;
        assert_int_equal(api_query_to_json(q.data, q.len, &j, NULL), 0);
        assert_int_equal(json_string_length(json_object_get(j, "Doc")), API_QUERY_MAX_LEN - 4);
        json_decref(j);
    }
    buf_addch(&q, 'x');
    assert_rejected_n(q.data, q.len, BE_BODY_TOO_LARGE, "32769 bytes");
    buf_release(&q);
}

/* Hostile shapes that would make a naive implementation allocate a lot. */
static void test_hostile_sparse_arrays(void **state)
{
    (void)state;
    struct buf q = BUF_INIT;
    /* Each parameter asks for element 999 of its own array: the slot budget
     * stops it after a few, long before a million slots. */
    for (int i = 0; i < API_QUERY_MAX_PARAMS; i++)
        buf_addf(&q, "%sA%d.999=x", i ? "&" : "", i);
    assert_rejected(q.data, "without gaps");
    /* The same inside one array of arrays. */
    buf_reset(&q);
    for (int i = 0; i < API_QUERY_MAX_PARAMS; i++)
        buf_addf(&q, "%sA.%d.999=x", i ? "&" : "", i);
    assert_rejected(q.data, "without gaps");
    /* Deep and wide: every parameter builds an 8-level path. */
    buf_reset(&q);
    for (int i = 0; i < API_QUERY_MAX_PARAMS; i++)
        buf_addf(&q, "%sP%d.a.b.c.d.e.f.g=1", i ? "&" : "", i);
    {
        json_t *j = NULL;
        assert_int_equal(api_query_to_json(q.data, q.len, &j, NULL), 0);
        assert_int_equal(json_object_size(j), API_QUERY_MAX_PARAMS);
        json_decref(j);
    }
    /* Only separators. */
    buf_reset(&q);
    while (q.len < API_QUERY_MAX_LEN)
        buf_addch(&q, '&');
    assert_json_n(q.data, q.len, "{}");
    /* One huge escaped name. */
    buf_reset(&q);
    while (q.len < API_QUERY_MAX_LEN - 3)
        buf_adds(&q, "%41");
    assert_rejected(q.data, "longer than 256 bytes");
    /* Many parameters sharing one long value each (total stays in the limit). */
    buf_reset(&q);
    for (int i = 0; i < 300; i++)
        buf_addf(&q, "%sV.%d=%0100d", i ? "&" : "", i, i);
    {
        json_t *j = NULL;
        assert_int_equal(api_query_to_json(q.data, q.len, &j, NULL), 0);
        assert_int_equal(json_array_size(json_object_get(j, "V")), 300);
        json_decref(j);
    }
    buf_release(&q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spec_example),
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_values_are_strings),
        cmocka_unit_test(test_decoding),
        cmocka_unit_test(test_nesting),
        cmocka_unit_test(test_indices_in_any_order),
        cmocka_unit_test(test_not_nul_terminated),
        cmocka_unit_test(test_conflicts),
        cmocka_unit_test(test_gaps),
        cmocka_unit_test(test_bad_indices),
        cmocka_unit_test(test_bad_names),
        cmocka_unit_test(test_bad_escapes),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_hostile_sparse_arrays),
    };
    return cmocka_run_group_tests_name("query", tests, NULL, NULL);
}
