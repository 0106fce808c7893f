/* Internal to src/platform: the fields of struct platform and the helpers
 * its .c files share (value generation, permission-set lists, call
 * counters, the pusher's wake-up, push and ticket creation inside a
 * transaction). Nothing outside src/platform includes this header; the
 * module's contract is platform.h, capi.h, flow.h, pusher.h, qr.h, form.h
 * and web.h. */
#ifndef BINDERY_PLATFORM_INTERNAL_H
#define BINDERY_PLATFORM_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "platform/platform.h"
#include "store/store.h"
#include "wechat/event.h"

struct platform {
    struct store *store;
    uint64_t ticket_interval;
    int64_t fixed_time; /* 0: the wall clock */
    pthread_mutex_t mu; /* guards settings, woken; never held across store calls */
    /* Serialises settings writers (store write, then publish). Taken before
     * the store's write lock, never while holding mu: transactions call
     * pl_now(), which takes mu, while they hold the store's write lock. */
    pthread_mutex_t settings_writer;
    pthread_cond_t wake;
    bool woken;
    struct pl_settings settings;
};

/* Lengths of the random bodies of generated values (spec §2, emulator
 * rule): base64url characters, and the bytes that make exactly that many. */
#define PL_GEN_TICKET    64  /* ticket@@@ + 86 */
#define PL_GEN_PRE_AUTH  48  /* preauthcode@@@ + 64 */
#define PL_GEN_AUTH_CODE 64  /* queryauthcode@@@ + 86 */
#define PL_GEN_REFRESH   32  /* refreshtoken@@@ + 43 */
#define PL_GEN_ACCESS    102 /* 83_ + 136 */
#define PL_GEN_SESSION   18  /* QR session ids: 24 characters */

/* Appends prefix and the base64url text of nbytes random bytes to out. */
void pl_gen_value(struct buf *out, const char *prefix, size_t nbytes);

/* The quota day of t: days since the epoch in Asia/Shanghai (UTC+8), whose
 * midnight resets the counters (spec §10). */
int64_t pl_day(int64_t t);

/* Adds one call of api by subject ("" for the component itself, else an
 * authorizer appid) on day to the counters of component. */
int pl_count_call(struct store_conn *c, const char *component, const char *api, const char *subject,
                  int64_t day);
/* The calls counted for (component, api, subject) on day. */
int pl_calls_on(struct store_conn *c, const char *component, const char *api, const char *subject,
                int64_t day, int64_t *ret);

/* Runs a query expected to give at most one row; *ret_r is NULL when there
 * was none (then 0 is returned). */
int pl_query_row(struct store_conn *c, const char *sql, const struct store_val *params,
                 size_t nparams, struct store_result **ret_r);

/* Wakes the pusher thread (new work, clock moved, stop). */
void pl_wake(struct platform *pl);
/* Waits up to ms for pl_wake; returns at once if a wake came since the last
 * wait. */
void pl_wait(struct platform *pl, unsigned ms);

/* Queues the push of ev (built with wx_event_build) to component's
 * auth_event_url, to be delivered by the pusher: authorization events get
 * up to 3 attempts, tickets one. suppressed records the job as "suppressed"
 * and never sends it. A component without auth_event_url gets no job and
 * *ret_job = 0. Call inside the transaction that made the change; call
 * pl_wake() after it commits. */
int pl_push_enqueue(struct store_conn *c, struct platform *pl, const char *component,
                    const struct wx_event *ev, bool suppressed, int64_t *ret_job);

/* Issues a new component_verify_ticket for component at now, records it as
 * the component's last ticket and queues its push; ret_ticket (may be NULL)
 * gets the value. Inside a transaction. */
int pl_ticket_issue(struct store_conn *c, struct platform *pl, const char *component, int64_t now,
                    struct buf *ret_ticket);

#endif
