/* Form bodies and escaping (form.h). */
#include "platform/form.h"

#include <stdbool.h>
#include <string.h>

#include "core/err.h"
#include "core/banned.h"

static int hexval(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* Decodes s[0..n) into a new arena string; NULL on a bad escape or NUL. */
static const char *decode(const char *s, size_t n, struct arena *a)
{
    char *out = arena_alloc(a, n + 1);
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (ch == '+') {
            ch = ' ';
        } else if (ch == '%') {
            if (n - i < 3)
                return NULL;
            int hi = hexval(s[i + 1]), lo = hexval(s[i + 2]);
            if (hi < 0 || lo < 0)
                return NULL;
            ch = (char)(hi * 16 + lo);
            i += 2;
        }
        if (ch == '\0')
            return NULL;
        out[o++] = ch;
    }
    out[o] = '\0';
    return out;
}

int pl_form_parse(const char *body, size_t len, struct arena *a, struct pl_form *ret)
{
    struct pl_form f;
    f.n = 0;
    if (len > PL_FORM_MAX_BYTES)
        return BE_BODY_TOO_LARGE;
    size_t i = 0;
    while (i < len) {
        const char *amp = memchr(body + i, '&', len - i);
        size_t end = amp ? (size_t)(amp - body) : len;
        if (end > i) {
            const char *eq = memchr(body + i, '=', end - i);
            size_t name_end = eq ? (size_t)(eq - body) : end;
            if (f.n == PL_FORM_MAX_FIELDS)
                return BE_INVALID_PARAMETER;
            f.name[f.n] = decode(body + i, name_end - i, a);
            f.value[f.n] = eq ? decode(eq + 1, end - name_end - 1, a) : "";
            if (!f.name[f.n] || !f.value[f.n])
                return BE_INVALID_PARAMETER;
            f.n++;
        }
        i = end + 1;
    }
    *ret = f;
    return BE_OK;
}

const char *pl_form_get(const struct pl_form *f, const char *name, size_t nth)
{
    for (size_t i = 0; i < f->n; i++)
        if (!strcmp(f->name[i], name) && nth-- == 0)
            return f->value[i];
    return NULL;
}

void pl_html_escape(struct buf *out, const char *s)
{
    for (const char *p = s; p && *p; p++) {
        switch (*p) {
        case '&':
            buf_adds(out, "&amp;");
            break;
        case '<':
            buf_adds(out, "&lt;");
            break;
        case '>':
            buf_adds(out, "&gt;");
            break;
        case '"':
            buf_adds(out, "&quot;");
            break;
        case '\'':
            buf_adds(out, "&#39;");
            break;
        default:
            buf_addch(out, *p);
        }
    }
}

void pl_url_escape(struct buf *out, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; p && *p; p++) {
        bool plain = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                     (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' || *p == '.' || *p == '~';
        if (plain)
            buf_addch(out, (char)*p);
        else
            buf_addf(out, "%%%02X", *p);
    }
}
