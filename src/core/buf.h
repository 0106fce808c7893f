/* A growable byte buffer that is always NUL-terminated (after git's strbuf).
 *
 *     struct buf b = BUF_INIT;
 *     buf_addf(&b, "%d users", n);
 *     use(b.data, b.len);
 *     buf_release(&b);
 *
 * `data` is never NULL after any buf_add*; BUF_INIT's data points at a static
 * empty string, so an untouched buffer can be read as "". */
#ifndef BINDERY_CORE_BUF_H
#define BINDERY_CORE_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct buf {
    char *data;
    size_t len;
    size_t cap; /* 0 while data points at the static empty string */
};

extern char buf__empty[];
#define BUF_INIT {buf__empty, 0, 0}

void buf_init(struct buf *b);
/* Frees the memory and resets b to BUF_INIT. */
void buf_release(struct buf *b);
/* Hands the (malloc'd, NUL-terminated) contents to the caller; b is reset. */
char *buf_detach(struct buf *b, size_t *ret_len);
/* Makes room for at least extra more bytes. */
void buf_grow(struct buf *b, size_t extra);
void buf_add(struct buf *b, const void *data, size_t len);
void buf_adds(struct buf *b, const char *s);
void buf_addch(struct buf *b, char c);
void buf_addf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_vaddf(struct buf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
void buf_reset(struct buf *b);
/* Lowercase hex of data. */
void buf_addhex(struct buf *b, const void *data, size_t len);

#endif
