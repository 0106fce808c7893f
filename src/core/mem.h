/* Allocation that cannot fail: running out of memory aborts the process with
 * a message, as git and Redis do. Everything else may assume success. */
#ifndef BINDERY_CORE_MEM_H
#define BINDERY_CORE_MEM_H

#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t count, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* count * size, aborting on overflow. */
size_t xmul(size_t count, size_t size);
/* a + b, aborting on overflow. */
size_t xadd(size_t a, size_t b);

#endif
