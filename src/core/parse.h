/* Bounded parsers for numbers and small values from untrusted text. Each
 * returns 0 and writes ret_* on success, BE_INVALID_PARAMETER otherwise
 * (leaving ret_* untouched). The whole string must be consumed. */
#ifndef BINDERY_CORE_PARSE_H
#define BINDERY_CORE_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Decimal digits only (no sign, no spaces), value <= max. */
int parse_u64(const char *s, uint64_t max, uint64_t *ret);
/* Same for a counted string. */
int parse_u64n(const char *s, size_t len, uint64_t max, uint64_t *ret);
/* Optional leading '-', then digits; min <= value <= max. */
int parse_i64(const char *s, int64_t min, int64_t max, int64_t *ret);
/* true/false, yes/no, on/off, 1/0 (case-insensitive). */
int parse_bool(const char *s, bool *ret);
/* "HOST:PORT" or "[V6]:PORT" (port 0 allowed: "any free port"); host copied into ret_host (size host_size). */
int parse_host_port(const char *s, char *ret_host, size_t host_size, uint16_t *ret_port);
/* Copies s into dst (size n) if it fits; BE_INVALID_PARAMETER if not. */
int copy_str(char *dst, size_t n, const char *s);

#endif
