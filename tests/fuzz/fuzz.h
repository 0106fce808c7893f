/* Shared by the fuzz targets of tests/fuzz (docs/testing.md): the libFuzzer
 * entry point, and a splitter for inputs made of several fields.
 *
 * Several targets read their input as lines: fields separated by '\n', the
 * last field being the rest of the input (it may hold anything, newlines
 * included). A missing field is "" (the input ran out). This keeps seed
 * files readable and lets the fuzzer mutate each field independently. */
#ifndef BINDERY_TESTS_FUZZ_H
#define BINDERY_TESTS_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"

/* Called once per input; returns 0 (libFuzzer's contract). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fuzz_input {
    const uint8_t *data;
    size_t len;
};

/* The next field, up to the next '\n' (not included) or the end, as a new
 * NUL-terminated string the caller frees. A NUL byte inside the field ends
 * the string early, as it would in an HTTP header. */
static inline char *fuzz_field(struct fuzz_input *in)
{
    const uint8_t *nl = in->len ? memchr(in->data, '\n', in->len) : NULL;
    size_t n = nl ? (size_t)(nl - in->data) : in->len;
    char *s = xmalloc(n + 1);
    if (n)
        memcpy(s, in->data, n);
    s[n] = '\0';
    in->data += nl ? n + 1 : n;
    in->len -= nl ? n + 1 : n;
    return s;
}

/* The rest of the input, as a new buffer of exactly *ret_len bytes plus a
 * NUL (not counted) the caller frees. */
static inline char *fuzz_rest(struct fuzz_input *in, size_t *ret_len)
{
    char *s = xmalloc(in->len + 1);
    if (in->len)
        memcpy(s, in->data, in->len);
    s[in->len] = '\0';
    *ret_len = in->len;
    in->data += in->len;
    in->len = 0;
    return s;
}

/* The rest of the input in a buffer of exactly its size (no NUL), so that
 * ASan catches a read past the end; NULL when empty. The caller frees. */
static inline char *fuzz_rest_exact(struct fuzz_input *in, size_t *ret_len)
{
    char *s = NULL;
    if (in->len) {
        s = xmalloc(in->len);
        memcpy(s, in->data, in->len);
    }
    *ret_len = in->len;
    in->data += in->len;
    in->len = 0;
    return s;
}

#endif
