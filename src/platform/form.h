/* HTML form bodies (application/x-www-form-urlencoded), as the emulator's
 * pages POST them, and the escaping that pages and URLs need. */
#ifndef BINDERY_PLATFORM_FORM_H
#define BINDERY_PLATFORM_FORM_H

#include <stddef.h>

#include "core/arena.h"
#include "core/buf.h"

/* Ceilings of one form. */
#define PL_FORM_MAX_BYTES  (64 * 1024)
#define PL_FORM_MAX_FIELDS 128

struct pl_form {
    size_t n;
    const char *name[PL_FORM_MAX_FIELDS];
    const char *value[PL_FORM_MAX_FIELDS];
};

/* Splits body (len bytes, need not be NUL-terminated) into fields: pairs
 * split on '&' (empty pairs skipped), name and value on the first '=' (a
 * pair without one has the value ""), "%XX" and '+' decoded. The strings
 * are allocated from a. BE_BODY_TOO_LARGE over PL_FORM_MAX_BYTES;
 * BE_INVALID_PARAMETER for more than PL_FORM_MAX_FIELDS fields, a bad
 * escape or a decoded NUL. *ret is written only on success. */
int pl_form_parse(const char *body, size_t len, struct arena *a, struct pl_form *ret);

/* The value of the nth (0-based) field called name, or NULL. */
const char *pl_form_get(const struct pl_form *f, const char *name, size_t nth);

/* Appends s with &, <, >, " and ' escaped, for HTML text and attribute
 * values. NULL appends nothing. */
void pl_html_escape(struct buf *out, const char *s);

/* Appends s percent-encoded for a URL query value (everything but
 * A-Za-z0-9-_.~ is encoded). */
void pl_url_escape(struct buf *out, const char *s);

#endif
