#include "core/parse.h"

#include <string.h>
#include <strings.h>

#include "core/err.h"
#include "core/banned.h"

int parse_u64n(const char *s, size_t len, uint64_t max, uint64_t *ret)
{
    uint64_t v = 0;
    if (!s || len == 0 || len > 20)
        return BE_INVALID_PARAMETER;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return BE_INVALID_PARAMETER;
        if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, (uint64_t)(s[i] - '0'), &v))
            return BE_INVALID_PARAMETER;
    }
    if (v > max)
        return BE_INVALID_PARAMETER;
    *ret = v;
    return BE_OK;
}

int parse_u64(const char *s, uint64_t max, uint64_t *ret)
{
    if (!s)
        return BE_INVALID_PARAMETER;
    return parse_u64n(s, strlen(s), max, ret);
}

int parse_i64(const char *s, int64_t min, int64_t max, int64_t *ret)
{
    uint64_t mag;
    bool neg = s && s[0] == '-';
    if (!s || parse_u64(s + neg, (uint64_t)INT64_MAX + neg, &mag))
        return BE_INVALID_PARAMETER;
    int64_t v = neg ? (int64_t)(0 - mag) : (int64_t)mag;
    if (v < min || v > max)
        return BE_INVALID_PARAMETER;
    *ret = v;
    return BE_OK;
}

int parse_bool(const char *s, bool *ret)
{
    static const char *const yes[] = {"true", "yes", "on", "1"};
    static const char *const no[] = {"false", "no", "off", "0"};
    if (!s)
        return BE_INVALID_PARAMETER;
    for (int i = 0; i < 4; i++) {
        if (!strcasecmp(s, yes[i])) {
            *ret = true;
            return BE_OK;
        }
        if (!strcasecmp(s, no[i])) {
            *ret = false;
            return BE_OK;
        }
    }
    return BE_INVALID_PARAMETER;
}

int parse_host_port(const char *s, char *ret_host, size_t host_size, uint16_t *ret_port)
{
    const char *colon, *host = s;
    size_t host_len;
    uint64_t port;
    if (!s || !*s)
        return BE_INVALID_PARAMETER;
    if (s[0] == '[') {
        const char *end = strchr(s, ']');
        if (!end || end[1] != ':')
            return BE_INVALID_PARAMETER;
        host = s + 1;
        host_len = (size_t)(end - host);
        colon = end + 1;
    } else {
        colon = strrchr(s, ':');
        if (!colon)
            return BE_INVALID_PARAMETER;
        host_len = (size_t)(colon - s);
    }
    if (host_len == 0 || host_len >= host_size || parse_u64(colon + 1, 65535, &port))
        return BE_INVALID_PARAMETER;
    memcpy(ret_host, host, host_len);
    ret_host[host_len] = '\0';
    *ret_port = (uint16_t)port;
    return BE_OK;
}

int copy_str(char *dst, size_t n, const char *s)
{
    size_t len = strlen(s);
    if (len >= n)
        return BE_INVALID_PARAMETER;
    memcpy(dst, s, len + 1);
    return BE_OK;
}
