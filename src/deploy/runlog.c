#include "deploy/runlog.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/parse.h"
#include "core/timeutil.h"
#include "core/banned.h"

#define MAX_TEXT     8192
#define MAX_SEGMENTS 64
#define READ_CHUNK   65536

struct runlog {
    pthread_mutex_t mu;
    pthread_cond_t grew;
    char *dir;
    struct runlog_options opts;
    uint64_t bases[MAX_SEGMENTS]; /* sorted; the last is the current segment */
    size_t nseg;
    uint64_t cur_size;
    int fd; /* current segment, append-only */
    bool write_failed, closing;
};

static void seg_path(const struct runlog *log, uint64_t base, struct buf *out)
{
    buf_reset(out);
    buf_addf(out, "%s/runtime.%020llu.log", log->dir, (unsigned long long)base);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int open_current(struct runlog *log, struct be_diag *diag)
{
    struct buf p = BUF_INIT;
    seg_path(log, log->bases[log->nseg - 1], &p);
    log->fd = open(p.data, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    int rc = BE_OK;
    struct stat st;
    if (log->fd < 0 || fstat(log->fd, &st))
        rc = be_fail(diag, BE_INTERNAL, "cannot open %s: %s", p.data, strerror(errno));
    else
        log->cur_size = (uint64_t)st.st_size;
    buf_release(&p);
    return rc;
}

/* Finds the segments already in dir. */
static void scan(struct runlog *log)
{
    DIR *d = opendir(log->dir);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        uint64_t base;
        size_t n = strlen(e->d_name);
        if (n != 8 + 20 + 4 || strncmp(e->d_name, "runtime.", 8) || strcmp(e->d_name + 28, ".log"))
            continue;
        if (parse_u64n(e->d_name + 8, 20, UINT64_MAX, &base) || log->nseg == MAX_SEGMENTS)
            continue;
        log->bases[log->nseg++] = base;
    }
    if (d)
        closedir(d);
    qsort(log->bases, log->nseg, sizeof(log->bases[0]), cmp_u64);
}

int runlog_open(const char *dir, const struct runlog_options *opts, struct runlog **ret,
                struct be_diag *diag)
{
    if (mkdir(dir, 0750) && errno != EEXIST)
        return be_fail(diag, BE_INTERNAL, "cannot create %s: %s", dir, strerror(errno));
    struct runlog *log = xcalloc(1, sizeof(*log));
    pthread_mutex_init(&log->mu, NULL);
    pthread_cond_init(&log->grew, NULL);
    log->dir = xstrdup(dir);
    log->opts = *opts;
    if (log->opts.keep < 1)
        log->opts.keep = 1;
    if (log->opts.keep > MAX_SEGMENTS - 1)
        log->opts.keep = MAX_SEGMENTS - 1;
    if (log->opts.segment_bytes < 1024)
        log->opts.segment_bytes = 1024;
    log->fd = -1;
    scan(log);
    if (!log->nseg)
        log->bases[log->nseg++] = 0;
    int rc = open_current(log, diag);
    if (rc) {
        runlog_free(log);
        return rc;
    }
    *ret = log;
    return BE_OK;
}

void runlog_free(struct runlog *log)
{
    if (!log)
        return;
    pthread_mutex_lock(&log->mu);
    log->closing = true;
    pthread_cond_broadcast(&log->grew);
    pthread_mutex_unlock(&log->mu);
    if (log->fd >= 0)
        close(log->fd);
    pthread_cond_destroy(&log->grew);
    pthread_mutex_destroy(&log->mu);
    free(log->dir);
    free(log);
}

/* Starts a new segment and drops the oldest beyond `keep`. Under mu. */
static void rotate(struct runlog *log)
{
    struct buf p = BUF_INIT;
    uint64_t next = log->bases[log->nseg - 1] + log->cur_size;
    close(log->fd);
    log->fd = -1;
    while (log->nseg >= log->opts.keep) {
        seg_path(log, log->bases[0], &p);
        unlink(p.data);
        memmove(log->bases, log->bases + 1, (log->nseg - 1) * sizeof(log->bases[0]));
        log->nseg--;
    }
    log->bases[log->nseg++] = next;
    if (open_current(log, NULL)) {
        log->write_failed = true;
        log_warn("deploy: cannot rotate the runtime log in %s", log->dir);
    }
    buf_release(&p);
}

void runlog_append(struct runlog *log, const char *stream, int pid, uint64_t version,
                   const char *text, size_t len)
{
    struct buf line = BUF_INIT;
    int64_t ms = time_now_ms();
    char ts[21];
    time_fmt_iso(ms / 1000, ts);
    ts[19] = '\0'; /* drop the Z: milliseconds come first */
    buf_addf(&line, "%s.%03dZ %s pid=%d v=%llu ", ts, (int)(ms % 1000), stream, pid,
             (unsigned long long)version);
    bool cut = len > MAX_TEXT;
    if (cut)
        len = MAX_TEXT;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        buf_addch(&line, c < 0x20 && c != '\t' ? ' ' : (char)c);
    }
    if (cut)
        buf_adds(&line, " [line cut at 8 KiB]");
    buf_addch(&line, '\n');
    pthread_mutex_lock(&log->mu);
    if (log->fd >= 0 && write(log->fd, line.data, line.len) == (ssize_t)line.len) {
        log->cur_size += line.len;
        if (log->cur_size >= log->opts.segment_bytes)
            rotate(log);
        pthread_cond_broadcast(&log->grew);
    } else if (!log->write_failed) {
        log->write_failed = true;
        log_warn("deploy: cannot write the runtime log in %s: %s", log->dir, strerror(errno));
    }
    pthread_mutex_unlock(&log->mu);
    buf_release(&line);
}

uint64_t runlog_end(struct runlog *log)
{
    pthread_mutex_lock(&log->mu);
    uint64_t end = log->bases[log->nseg - 1] + log->cur_size;
    pthread_mutex_unlock(&log->mu);
    return end;
}

/* Reads whole records from one segment starting at off (relative). */
static size_t read_segment(const struct runlog *log, uint64_t base, uint64_t off, uint64_t limit,
                           size_t max_lines, json_t *lines)
{
    struct buf p = BUF_INIT;
    seg_path(log, base, &p);
    int fd = open(p.data, O_RDONLY | O_CLOEXEC);
    buf_release(&p);
    if (fd < 0)
        return 0;
    size_t consumed = 0;
    char *chunk = xmalloc(READ_CHUNK);
    struct buf pending = BUF_INIT;
    while (json_array_size(lines) < max_lines && off + consumed + pending.len < limit) {
        uint64_t want = limit - off - consumed - pending.len;
        ssize_t n = pread(fd, chunk, want < READ_CHUNK ? (size_t)want : READ_CHUNK,
                          (off_t)(off + consumed + pending.len));
        if (n <= 0)
            break;
        buf_add(&pending, chunk, (size_t)n);
        size_t start = 0;
        for (size_t i = 0; i < pending.len && json_array_size(lines) < max_lines; i++) {
            if (pending.data[i] != '\n')
                continue;
            json_array_append_new(lines, json_stringn_nocheck(pending.data + start, i - start));
            start = i + 1;
        }
        consumed += start;
        memmove(pending.data, pending.data + start, pending.len - start);
        pending.len -= start;
        if (start == 0 && pending.len > 2 * MAX_TEXT)
            break; /* not a record: refuse to run away */
    }
    free(chunk);
    buf_release(&pending);
    close(fd);
    return consumed;
}

int runlog_read(struct runlog *log, uint64_t cursor, size_t max_lines, unsigned wait_ms,
                struct runlog_page *ret, struct be_diag *diag)
{
    uint64_t deadline = time_mono_ns() + (uint64_t)wait_ms * 1000000u;
    json_t *lines = json_array();
    bool truncated = false;
    pthread_mutex_lock(&log->mu);
    uint64_t end = log->bases[log->nseg - 1] + log->cur_size;
    if (cursor > end) {
        pthread_mutex_unlock(&log->mu);
        json_decref(lines);
        return be_fail(diag, BE_INVALID_PARAMETER_VALUE,
                       "Cursor %llu is beyond the end of the log (%llu)",
                       (unsigned long long)cursor, (unsigned long long)end);
    }
    while (cursor == end && !log->closing && time_mono_ns() < deadline) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        uint64_t left = deadline - time_mono_ns();
        if (left > 200000000u)
            left = 200000000u;
        ts.tv_nsec += (long)left;
        ts.tv_sec += ts.tv_nsec / 1000000000L;
        ts.tv_nsec %= 1000000000L;
        pthread_cond_timedwait(&log->grew, &log->mu, &ts);
        end = log->bases[log->nseg - 1] + log->cur_size;
    }
    if (cursor < log->bases[0]) {
        truncated = true;
        cursor = log->bases[0];
    }
    uint64_t bases[MAX_SEGMENTS];
    size_t nseg = log->nseg;
    memcpy(bases, log->bases, nseg * sizeof(bases[0]));
    pthread_mutex_unlock(&log->mu);
    /* Segments other than the last are complete; the last is read up to the
     * end seen under the lock, so a record being written is not cut. */
    for (size_t i = 0; i < nseg && json_array_size(lines) < max_lines; i++) {
        uint64_t seg_end = i + 1 < nseg ? bases[i + 1] : end;
        if (cursor >= seg_end || cursor < bases[i])
            continue;
        size_t got =
            read_segment(log, bases[i], cursor - bases[i], seg_end - bases[i], max_lines, lines);
        cursor += got;
        if (cursor < seg_end)
            break;
    }
    ret->lines = lines;
    ret->next = cursor;
    ret->truncated = truncated;
    return BE_OK;
}
