#include "api/query.h"

#include <stdbool.h>
#include <string.h>

#include "core/buf.h"
#include "core/parse.h"
#include "core/banned.h"

/* Longest name quoted in a diag message. */
#define SHOWN_MAX 64

/* One dotted segment of a parameter name. */
struct segment {
    const char *p;
    size_t len;
    bool is_index;
    size_t index;
};

struct qstate {
    size_t n_params;           /* pairs in the query: no array can be longer */
    size_t slots;              /* array elements created so far, holes included */
    struct buf name;           /* decoded name of the current pair */
    struct buf value;          /* decoded value of the current pair */
    char shown[SHOWN_MAX + 4]; /* the current name, printable, for messages */
    struct be_diag *diag;
};

/* Copies a name for a message: at most SHOWN_MAX bytes, anything but
 * printable ASCII replaced by '?', "..." when cut short. */
static void show_name(char out[SHOWN_MAX + 4], const char *p, size_t len)
{
    size_t n = len < SHOWN_MAX ? len : SHOWN_MAX;
    for (size_t i = 0; i < n; i++)
        out[i] = p[i] >= 0x20 && p[i] < 0x7f ? p[i] : '?';
    if (n < len) {
        memcpy(out + n, "...", 3);
        n += 3;
    }
    out[n] = '\0';
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Appends src (len bytes, form-urlencoded) decoded to out. Fails on '%' not
 * followed by two hex digits and on a decoded NUL. */
static int form_decode(const char *src, size_t len, struct buf *out)
{
    buf_grow(out, len);
    for (size_t i = 0; i < len; i++) {
        char c = src[i];
        if (c == '+') {
            c = ' ';
        } else if (c == '%') {
            if (len - i < 3)
                return BE_INVALID_PARAMETER;
            int hi = hex_digit(src[i + 1]), lo = hex_digit(src[i + 2]);
            if (hi < 0 || lo < 0)
                return BE_INVALID_PARAMETER;
            c = (char)(hi * 16 + lo);
            i += 2;
        }
        if (c == '\0')
            return BE_INVALID_PARAMETER;
        out->data[out->len++] = c;
    }
    out->data[out->len] = '\0';
    return BE_OK;
}

static size_t count_pairs(const char *q, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        if (q[i] != '&' && (i + 1 == len || q[i + 1] == '&'))
            n++;
    return n;
}

/* ---- Names ---- */

static int parse_index(struct qstate *st, struct segment *s)
{
    uint64_t v;
    int shown_len = (int)(s->len < 24 ? s->len : 24);
    if (s->len > 1 && s->p[0] == '0')
        return be_fail(st->diag, BE_INVALID_PARAMETER, "parameter %s: index %.*s has leading zeros",
                       st->shown, shown_len, s->p);
    if (parse_u64n(s->p, s->len, st->n_params - 1, &v))
        return be_fail(st->diag, BE_INVALID_PARAMETER,
                       "parameter %s: index %.*s is out of range, as arrays run from 0 without "
                       "gaps and there are only %zu parameters",
                       st->shown, shown_len, s->p, st->n_params);
    s->index = (size_t)v;
    return BE_OK;
}

static int check_segment(struct qstate *st, struct segment *s, size_t pos)
{
    bool digits = true;
    if (s->len == 0)
        return be_fail(st->diag, BE_INVALID_PARAMETER, "parameter %s has an empty name segment",
                       st->shown);
    for (size_t i = 0; i < s->len; i++) {
        char c = s->p[i];
        if (c <= 0x20 || c >= 0x7f)
            return be_fail(st->diag, BE_INVALID_PARAMETER,
                           "parameter %s: names are printable ASCII without spaces", st->shown);
        digits = digits && c >= '0' && c <= '9';
    }
    s->is_index = digits;
    if (digits && pos == 0)
        return be_fail(st->diag, BE_INVALID_PARAMETER,
                       "parameter %s: a top-level name cannot be an index", st->shown);
    return digits ? parse_index(st, s) : BE_OK;
}

/* Splits the decoded name on '.' into seg; returns the count or -error. */
static int split_name(struct qstate *st, struct segment seg[API_QUERY_MAX_DEPTH], size_t *ret_n)
{
    const char *p = st->name.data, *end = p + st->name.len;
    size_t n = 0;
    for (;;) {
        const char *dot = memchr(p, '.', (size_t)(end - p));
        const char *stop = dot ? dot : end;
        if (n == API_QUERY_MAX_DEPTH)
            return be_fail(st->diag, BE_INVALID_PARAMETER,
                           "parameter %s is nested deeper than %d levels", st->shown,
                           API_QUERY_MAX_DEPTH);
        seg[n] = (struct segment){.p = p, .len = (size_t)(stop - p)};
        int rc = check_segment(st, &seg[n], n);
        if (rc)
            return rc;
        n++;
        if (!dot)
            break;
        p = dot + 1;
    }
    *ret_n = n;
    return BE_OK;
}

/* ---- Tree ---- */

/* The existing child of node at s, NULL when absent or a hole. */
static json_t *get_child(json_t *node, const struct segment *s)
{
    if (!s->is_index)
        return json_object_getn(node, s->p, s->len);
    json_t *child = json_array_get(node, s->index);
    return json_is_null(child) ? NULL : child;
}

/* Puts v (reference stolen) at s of node, which has no child there. Array
 * holes are filled with null until their own parameter arrives. */
static int put_child(struct qstate *st, json_t *node, const struct segment *s, json_t *v)
{
    if (!s->is_index)
        return json_object_setn_new(node, s->p, s->len, v) ? BE_INTERNAL : BE_OK;
    size_t size = json_array_size(node);
    if (s->index < size)
        return json_array_set_new(node, s->index, v) ? BE_INTERNAL : BE_OK;
    /* A valid query has at most one array element per parameter and level,
     * so more slots than that means a gap; stop before allocating them. */
    st->slots += s->index + 1 - size;
    if (st->slots > st->n_params * API_QUERY_MAX_DEPTH) {
        json_decref(v);
        return be_fail(st->diag, BE_INVALID_PARAMETER,
                       "parameter %s: array indices must run from 0 without gaps", st->shown);
    }
    while (json_array_size(node) < s->index)
        json_array_append_new(node, json_null());
    return json_array_append_new(node, v) ? BE_INTERNAL : BE_OK;
}

static int conflict(struct qstate *st, const struct segment *s)
{
    int prefix = (int)(s->p + s->len - st->name.data);
    if (prefix > SHOWN_MAX)
        prefix = SHOWN_MAX;
    return be_fail(st->diag, BE_INVALID_PARAMETER,
                   "parameter %s conflicts with another parameter over %.*s", st->shown, prefix,
                   st->shown);
}

static int set_value(struct qstate *st, json_t *node, const struct segment *s)
{
    json_t *child = get_child(node, s);
    if (child && json_is_string(child))
        return be_fail(st->diag, BE_INVALID_PARAMETER, "parameter %s is given twice", st->shown);
    if (child)
        return conflict(st, s);
    json_t *v = json_stringn(st->value.data, st->value.len);
    if (!v)
        return be_fail(st->diag, BE_INVALID_PARAMETER, "parameter %s: the value is not UTF-8",
                       st->shown);
    return put_child(st, node, s, v);
}

/* Returns the container at s of node, creating it as an array or an object
 * depending on the next segment. */
static int descend(struct qstate *st, json_t *node, const struct segment *s, bool want_array,
                   json_t **ret)
{
    json_t *child = get_child(node, s);
    if (child) {
        if (want_array ? !json_is_array(child) : !json_is_object(child))
            return conflict(st, s);
        *ret = child;
        return BE_OK;
    }
    child = want_array ? json_array() : json_object();
    int rc = put_child(st, node, s, child);
    if (!rc)
        *ret = child;
    return rc;
}

static int insert(struct qstate *st, json_t *root)
{
    struct segment seg[API_QUERY_MAX_DEPTH];
    size_t n = 0;
    json_t *node = root;
    int rc = split_name(st, seg, &n);
    for (size_t i = 0; !rc && i + 1 < n; i++)
        rc = descend(st, node, &seg[i], seg[i + 1].is_index, &node);
    return rc ? rc : set_value(st, node, &seg[n - 1]);
}

static int add_pair(struct qstate *st, json_t *root, const char *pair, size_t len)
{
    const char *eq = memchr(pair, '=', len);
    size_t name_len = eq ? (size_t)(eq - pair) : len;
    buf_reset(&st->name);
    buf_reset(&st->value);
    show_name(st->shown, pair, name_len);
    if (form_decode(pair, name_len, &st->name))
        return be_fail(st->diag, BE_INVALID_PARAMETER,
                       "parameter %s: bad percent escape or NUL in the name", st->shown);
    show_name(st->shown, st->name.data, st->name.len);
    if (st->name.len == 0)
        return be_fail(st->diag, BE_INVALID_PARAMETER, "a parameter has an empty name");
    if (st->name.len > API_QUERY_MAX_NAME)
        return be_fail(st->diag, BE_INVALID_PARAMETER,
                       "parameter %s: the name is longer than %d bytes", st->shown,
                       API_QUERY_MAX_NAME);
    if (eq && form_decode(eq + 1, len - name_len - 1, &st->value))
        return be_fail(st->diag, BE_INVALID_PARAMETER,
                       "parameter %s: bad percent escape or NUL in the value", st->shown);
    return insert(st, root);
}

/* Reports the first array hole under node; path is node's dotted name. */
static int find_hole(json_t *node, struct buf *path, struct be_diag *diag)
{
    size_t mark = path->len;
    int rc = BE_OK;
    if (json_is_object(node)) {
        const char *key;
        json_t *child;
        json_object_foreach(node, key, child)
        {
            buf_addf(path, "%s%s", mark ? "." : "", key);
            rc = find_hole(child, path, diag);
            path->len = mark;
            path->data[mark] = '\0';
            if (rc)
                break;
        }
    } else if (json_is_array(node)) {
        for (size_t i = 0; !rc && i < json_array_size(node); i++) {
            buf_addf(path, ".%zu", i);
            if (json_is_null(json_array_get(node, i)))
                rc = be_fail(diag, BE_INVALID_PARAMETER,
                             "parameter %s is missing: array indices must run from 0 without "
                             "gaps",
                             path->data);
            else
                rc = find_hole(json_array_get(node, i), path, diag);
            path->len = mark;
            path->data[mark] = '\0';
        }
    }
    return rc;
}

static int parse_pairs(struct qstate *st, json_t *root, const char *query, size_t len)
{
    const char *p = query, *end = query + len;
    for (;;) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *stop = amp ? amp : end;
        if (stop > p) {
            int rc = add_pair(st, root, p, (size_t)(stop - p));
            if (rc)
                return rc;
        }
        if (!amp)
            return BE_OK;
        p = amp + 1;
    }
}

int api_query_to_json(const char *query, size_t len, json_t **ret, struct be_diag *diag)
{
    struct qstate st = {.name = BUF_INIT, .value = BUF_INIT, .diag = diag};
    struct buf path = BUF_INIT;
    json_t *root = NULL;
    int rc = BE_OK;
    if (len > API_QUERY_MAX_LEN)
        return be_fail(diag, BE_BODY_TOO_LARGE, "the query string has %zu bytes, more than %d", len,
                       API_QUERY_MAX_LEN);
    st.n_params = len ? count_pairs(query, len) : 0;
    if (st.n_params > API_QUERY_MAX_PARAMS)
        return be_fail(diag, BE_INVALID_PARAMETER,
                       "the query string has %zu parameters, more than %d", st.n_params,
                       API_QUERY_MAX_PARAMS);
    root = json_object();
    if (!root)
        return BE_INTERNAL;
    if (len && (rc = parse_pairs(&st, root, query, len)))
        goto out;
    if ((rc = find_hole(root, &path, diag)))
        goto out;
    *ret = root;
    root = NULL;
out:
    json_decref(root);
    buf_release(&st.name);
    buf_release(&st.value);
    buf_release(&path);
    return rc;
}
