/* Logging: one line per event on stderr. Plain lines for humans
 * ("2026-11-25T10:00:00Z info store: migrated to 3"), and JSON lines for the
 * access log. The level is the one global besides constants. Never log
 * secrets, tokens, passwords or codes. */
#ifndef BINDERY_CORE_LOG_H
#define BINDERY_CORE_LOG_H

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

extern enum log_level log_level_current;

/* Parses "debug", "info", "warn", "error"; returns 0 or BE_INVALID_PARAMETER. */
int log_level_parse(const char *s, enum log_level *ret_level);

void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Writes one already-formatted line (no newline needed) atomically. */
void log_line(const char *line, unsigned long len);

#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)

#endif
