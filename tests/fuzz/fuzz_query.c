/* Fuzz target: the GET query parser of api/query.h (api_query_to_json), fed
 * the whole input as the raw query string, in a buffer of exactly its size
 * (the parser takes a length, not a NUL).
 *
 * Checked beyond "no crash, no leak": what the parser accepts is an object
 * whose leaves are strings, and flattening that object back into a query
 * (every byte percent-encoded) parses to the same object. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "fuzz.h"
#include "api/query.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/banned.h"

static void add_encoded(struct buf *out, const char *s, size_t len)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        char e[3] = {'%', hex[c >> 4], hex[c & 15]};
        buf_add(out, e, 3);
    }
}

static void truncate_to(struct buf *b, size_t len)
{
    if (b->cap) { /* else b is the empty BUF_INIT and len is 0 */
        b->len = len;
        b->data[len] = '\0';
    }
}

/* Appends name=value pairs for v under the dotted name prefix; aborts on a
 * leaf that is not a string. */
static void flatten(json_t *v, struct buf *prefix, struct buf *out)
{
    size_t mark = prefix->len;
    if (json_is_string(v)) {
        if (out->len)
            buf_addch(out, '&');
        /* The prefix is already encoded, with literal dots between segments. */
        buf_add(out, prefix->data, prefix->len);
        buf_addch(out, '=');
        add_encoded(out, json_string_value(v), json_string_length(v));
    } else if (json_is_object(v)) {
        const char *key;
        json_t *member;
        json_object_foreach(v, key, member)
        {
            if (prefix->len)
                buf_addch(prefix, '.');
            add_encoded(prefix, key, strlen(key));
            flatten(member, prefix, out);
            truncate_to(prefix, mark);
        }
    } else if (json_is_array(v) && json_array_size(v) > 0) {
        size_t i;
        json_t *item;
        json_array_foreach(v, i, item)
        {
            buf_addf(prefix, ".%zu", i);
            flatten(item, prefix, out);
            truncate_to(prefix, mark);
        }
    } else {
        abort(); /* the parser makes strings, non-empty arrays and objects only */
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_input in = {data, size};
    size_t len;
    char *query = fuzz_rest_exact(&in, &len);
    struct be_diag diag = {""};
    json_t *got = NULL, *again = NULL;
    if (api_query_to_json(query, len, &got, &diag) != BE_OK)
        goto out;
    if (!json_is_object(got))
        abort();
    struct buf prefix = BUF_INIT, flat = BUF_INIT;
    flatten(got, &prefix, &flat);
    if (flat.len <= API_QUERY_MAX_LEN) {
        if (api_query_to_json(flat.data, flat.len, &again, &diag) != BE_OK)
            abort(); /* refused its own output */
        if (!json_equal(got, again))
            abort();
    }
    buf_release(&prefix);
    buf_release(&flat);
out:
    json_decref(got);
    json_decref(again);
    free(query);
    return 0;
}
