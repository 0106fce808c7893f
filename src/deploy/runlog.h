/* An environment's runtime log: the app's stdout and stderr, one line per
 * record ("2026-11-01T10:00:00.123Z stdout pid=42 v=3 text"), in size-rotated
 * segment files runtime.<offset>.log of one directory. A cursor is a byte
 * offset counted from the first line ever written, so it stays valid across
 * rotations and server restarts; readers resume where they stopped and learn
 * when lines they had not read were rotated away. Thread-safe. */
#ifndef BINDERY_DEPLOY_RUNLOG_H
#define BINDERY_DEPLOY_RUNLOG_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

struct runlog;

struct runlog_options {
    uint64_t segment_bytes; /* a segment is closed once it reaches this size */
    unsigned keep;          /* segments kept, the current one included (>= 1) */
};

/* Opens (creating dir if needed) the log in dir and finds where it ends. */
int runlog_open(const char *dir, const struct runlog_options *opts, struct runlog **ret,
                struct be_diag *diag);
/* Wakes every waiting reader and frees the log. NULL is accepted. */
void runlog_free(struct runlog *log);

/* Appends one record; newlines and control characters in text become
 * spaces, text longer than 8 KiB is cut (and says so). Never fails: a write
 * error is counted and logged once. */
void runlog_append(struct runlog *log, const char *stream, int pid, uint64_t version,
                   const char *text, size_t len);

/* Where the log ends now (the cursor of the next record). */
uint64_t runlog_end(struct runlog *log);

struct runlog_page {
    json_t *lines;  /* array of strings, one per record, newline removed */
    uint64_t next;  /* the cursor to read on from */
    bool truncated; /* records between the cursor and the oldest kept were rotated away */
};

/* Reads up to max_lines records from cursor. When there are none yet, waits
 * up to wait_ms for new ones (0: do not wait). A cursor beyond the end is
 * BE_INVALID_PARAMETER_VALUE. ret->lines is a new reference. */
int runlog_read(struct runlog *log, uint64_t cursor, size_t max_lines, unsigned wait_ms,
                struct runlog_page *ret, struct be_diag *diag);

#endif
