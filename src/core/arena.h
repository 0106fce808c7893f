/* A bump allocator with one release point: everything allocated from an
 * arena is freed by arena_release(). Each HTTP request owns one, so a request
 * cannot leak. Not thread-safe; an arena belongs to one request. */
#ifndef BINDERY_CORE_ARENA_H
#define BINDERY_CORE_ARENA_H

#include <stddef.h>

struct arena_chunk;

struct arena {
    struct arena_chunk *head;
};

#define ARENA_INIT {NULL}

/* Returns n bytes aligned for any type; never NULL (aborts on OOM). */
void *arena_alloc(struct arena *a, size_t n);
void *arena_calloc(struct arena *a, size_t count, size_t size);
char *arena_strdup(struct arena *a, const char *s);
char *arena_strndup(struct arena *a, const char *s, size_t n);
/* Frees every allocation of a; a can be used again afterwards. */
void arena_release(struct arena *a);

#endif
