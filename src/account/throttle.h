/* Login throttling, kept in the store so that every instance sees the same
 * counters. A key ("acct:<email>", "ip:<address>") may fail `limit` times;
 * each further failure blocks it for base_delay * 2^(failures - limit)
 * seconds, capped at max_delay. Failures older than an hour of quiet are
 * forgotten. */
#ifndef BINDERY_ACCOUNT_THROTTLE_H
#define BINDERY_ACCOUNT_THROTTLE_H

#include <stdint.h>

#include "app.h"

#define THROTTLE_FORGET_AFTER 3600

struct throttle_rule {
    uint64_t limit;
    uint64_t base_delay;
    uint64_t max_delay;
};

/* BE_OK when key may try now; BE_LOGIN_THROTTLED with *ret_retry_after
 * (seconds) when it must wait. */
int throttle_check(struct app *app, const char *key, int64_t now, int64_t *ret_retry_after);
/* Counts a failure for key. */
int throttle_fail(struct app *app, const char *key, const struct throttle_rule *rule,
                  int64_t now);
/* Forgets key's failures (after a success). */
int throttle_reset(struct app *app, const char *key);
/* The delay after `failures` failures under rule (0 while under the limit). */
int64_t throttle_delay(const struct throttle_rule *rule, uint64_t failures);

#endif
