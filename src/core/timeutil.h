/* Time: unix seconds and milliseconds, and the text forms the API uses. All
 * times are UTC. */
#ifndef BINDERY_CORE_TIMEUTIL_H
#define BINDERY_CORE_TIMEUTIL_H

#include <stdint.h>

/* Wall clock, unix seconds / milliseconds. */
int64_t time_now(void);
int64_t time_now_ms(void);
/* Monotonic clock in nanoseconds, for measuring durations. */
uint64_t time_mono_ns(void);

/* "YYYY-MM-DD hh:mm:ss" (the CAM payload form), UTC. out needs 20 bytes. */
void time_fmt_cam(int64_t t, char out[20]);
/* "YYYY-MM-DD" of t in UTC (TC3 credential scope date). out needs 11 bytes. */
void time_fmt_date(int64_t t, char out[11]);
/* ISO-8601 "YYYY-MM-DDThh:mm:ssZ". out needs 21 bytes. */
void time_fmt_iso(int64_t t, char out[21]);

#endif
