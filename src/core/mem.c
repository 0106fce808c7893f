#include "core/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/banned.h"

static void die_oom(size_t n)
{
    fprintf(stderr, "fatal: out of memory allocating %zu bytes\n", n);
    abort();
}

void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        die_oom(n);
    return p;
}

void *xcalloc(size_t count, size_t size)
{
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p)
        die_oom(count * size);
    return p;
}

void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        die_oom(n);
    return q;
}

char *xstrdup(const char *s)
{
    return xstrndup(s, strlen(s));
}

char *xstrndup(const char *s, size_t n)
{
    size_t len = strnlen(s, n);
    char *p = xmalloc(xadd(len, 1));
    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

size_t xmul(size_t count, size_t size)
{
    size_t r;
    if (__builtin_mul_overflow(count, size, &r)) {
        fprintf(stderr, "fatal: size overflow (%zu * %zu)\n", count, size);
        abort();
    }
    return r;
}

size_t xadd(size_t a, size_t b)
{
    size_t r;
    if (__builtin_add_overflow(a, b, &r)) {
        fprintf(stderr, "fatal: size overflow (%zu + %zu)\n", a, b);
        abort();
    }
    return r;
}
