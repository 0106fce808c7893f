/* The link life cycle's background work, two threads per `bindery serve`:
 *
 *   events  claims pending authorization events (wechat_events_claim) and
 *           applies them (link_flow_apply_event). The receiver wakes it with
 *           link_worker_kick() right after storing a push, so an
 *           `unauthorized` push revokes the link within milliseconds; it
 *           also looks every LINK_WORKER_EVENT_POLL_MS, which picks up pushes
 *           that another instance stored, and deferred events.
 *   checks  every tick (link.check_interval / 4, between 1 and 30 s) claims
 *           the active links whose check is due (link_claim_checks: through
 *           the store, so several instances never check one link at once)
 *           and checks each with WeChat (link_flow_check), at most
 *           LINK_WORKER_CHECK_BATCH per round and LINK_WORKER_CHECK_GAP_MS
 *           apart, to stay well inside WeChat's quotas; a quota answer
 *           (45009) pauses checking for LINK_CHECK_QUOTA_PAUSE_S. Once an
 *           hour it also purges old authorization attempts.
 *
 * Each worker has its own owner id (a random UUID) for its claims; a worker
 * that dies leaves its claims to expire, and another takes over. Failures
 * are logged here (one line each), never with a secret. */
#ifndef BINDERY_BINDING_WORKER_H
#define BINDERY_BINDING_WORKER_H

#include <stddef.h>
#include <stdint.h>

#include "app.h"
#include "core/buf.h"

#define LINK_WORKER_EVENT_POLL_MS 1000
#define LINK_WORKER_EVENT_BATCH   16
#define LINK_WORKER_EVENT_LEASE   60
#define LINK_WORKER_CHECK_BATCH   20
#define LINK_WORKER_CHECK_GAP_MS  20
#define LINK_WORKER_PURGE_EVERY   3600

struct link_worker;

/* Starts both threads for app (kept by reference; app->wechat must be set
 * and must outlive the worker). */
int link_worker_start(struct app *app, struct link_worker **ret_worker);
/* Wakes the events thread now. Any thread; NULL is accepted. */
void link_worker_kick(struct link_worker *w);
/* Appends this worker's counters (events applied, links checked, failed
 * rounds) in the Prometheus text format. NULL appends nothing. */
void link_worker_metrics(struct link_worker *w, struct buf *out);
/* Stops both threads (finishing the event or check in hand) and frees w.
 * NULL is accepted. */
void link_worker_stop(struct link_worker *w);

/* One round of each in the calling thread, for tests and tools: ret_n (may
 * be NULL) gets the events applied / links checked. */
int link_worker_events_round(struct app *app, const char *owner, int64_t now, size_t *ret_n);
int link_worker_checks_round(struct app *app, const char *owner, int64_t now, size_t *ret_n);

#endif
