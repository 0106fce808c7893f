#include "core/timeutil.h"

#include <time.h>

#include "core/banned.h"

int64_t time_now(void)
{
    return (int64_t)time(NULL);
}

int64_t time_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

uint64_t time_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static struct tm utc(int64_t t)
{
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    return tm;
}

void time_fmt_cam(int64_t t, char out[20])
{
    struct tm tm = utc(t);
    if (!strftime(out, 20, "%Y-%m-%d %H:%M:%S", &tm))
        out[0] = '\0';
}

void time_fmt_date(int64_t t, char out[11])
{
    struct tm tm = utc(t);
    if (!strftime(out, 11, "%Y-%m-%d", &tm))
        out[0] = '\0';
}

void time_fmt_iso(int64_t t, char out[21])
{
    struct tm tm = utc(t);
    if (!strftime(out, 21, "%Y-%m-%dT%H:%M:%SZ", &tm))
        out[0] = '\0';
}
