#include "core/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "core/err.h"
#include "core/banned.h"

enum log_level log_level_current = LOG_INFO;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

int log_level_parse(const char *s, enum log_level *ret_level)
{
    for (int i = 0; i < 4; i++) {
        if (!strcmp(s, level_names[i])) {
            *ret_level = (enum log_level)i;
            return BE_OK;
        }
    }
    return BE_INVALID_PARAMETER;
}

void log_line(const char *line, unsigned long len)
{
    struct iovec iov[2] = {{(void *)line, len}, {"\n", 1}};
    /* One writev keeps lines from concurrent threads whole. */
    ssize_t r = writev(STDERR_FILENO, iov, 2);
    (void)r;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
    if (level < log_level_current)
        return;
    char line[2048];
    struct tm tm;
    time_t now = time(NULL);
    gmtime_r(&now, &tm);
    size_t n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%SZ ", &tm);
    int k = snprintf(line + n, sizeof(line) - n, "%s ", level_names[level]);
    if (k > 0)
        n += (size_t)k;
    va_list ap;
    va_start(ap, fmt);
    k = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
    va_end(ap);
    if (k > 0)
        n += (size_t)k;
    if (n >= sizeof(line))
        n = sizeof(line) - 1;
    log_line(line, n);
}
