#include "binding/worker.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "binding/attempt.h"
#include "binding/flow.h"
#include "binding/link.h"
#include "core/crypto.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/timeutil.h"
#include "wechat/events.h"
#include "core/banned.h"

struct link_worker {
    struct app *app;
    char owner[48];
    pthread_mutex_t lock;
    pthread_cond_t wake;
    bool stop, kicked;
    pthread_t events, checks;
    bool events_started, checks_started;
    /* For /metrics: what this instance's threads did. */
    _Atomic uint64_t events_applied, links_checked, round_failures;
};

/* --- one round of each ------------------------------------------------------- */

int link_worker_events_round(struct app *app, const char *owner, int64_t now, size_t *ret_n)
{
    struct wechat_event evs[LINK_WORKER_EVENT_BATCH];
    size_t n = 0;
    int rc = wechat_events_claim(app, owner, now, LINK_WORKER_EVENT_LEASE, LINK_WORKER_EVENT_BATCH,
                                 evs, &n);
    for (size_t i = 0; rc == BE_OK && i < n; i++) {
        char note[LINK_NOTE_MAX + 1] = "";
        int erc = link_flow_apply_event(app, owner, &evs[i], time_now(), note);
        if (erc)
            log_warn("links: event %lld of %s: %s", (long long)evs[i].id, evs[i].authorizer_appid,
                     be_err_code(erc));
        else
            log_debug("links: event %lld (%s) of %s: %s", (long long)evs[i].id,
                      wx_info_type_name(evs[i].type) ? wx_info_type_name(evs[i].type) : "?",
                      evs[i].authorizer_appid, note);
    }
    crypto_wipe(evs, sizeof(evs));
    if (rc == BE_OK && ret_n)
        *ret_n = n;
    return rc;
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) && errno == EINTR)
        ;
}

int link_worker_checks_round(struct app *app, const char *owner, int64_t now, size_t *ret_n)
{
    struct link due[LINK_WORKER_CHECK_BATCH];
    size_t n = 0, done = 0;
    int rc = link_claim_checks(app, owner, now, LINK_CHECK_LEASE, LINK_WORKER_CHECK_BATCH, due, &n);
    for (size_t i = 0; rc == BE_OK && i < n; i++) {
        if (i)
            sleep_ms(LINK_WORKER_CHECK_GAP_MS);
        rc = link_flow_check(app, owner, &due[i], time_now());
        done++;
    }
    /* Quota spent: give the rest back for later; the caller pauses. */
    for (size_t i = done; rc == BE_RATE_LIMITED && i < n; i++)
        link_check_failed(app, due[i].id, owner, now + LINK_CHECK_QUOTA_PAUSE_S,
                          "WeChat's daily quota is spent; checking again later");
    if (ret_n)
        *ret_n = done;
    return rc;
}

/* --- threads ----------------------------------------------------------------- */

static bool stopping(struct link_worker *w)
{
    pthread_mutex_lock(&w->lock);
    bool stop = w->stop;
    pthread_mutex_unlock(&w->lock);
    return stop;
}

/* Waits until ms pass, a kick (when take_kick), or stop; false on stop. */
static bool wait_for(struct link_worker *w, unsigned ms, bool take_kick)
{
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += ms / 1000;
    until.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&w->lock);
    while (!w->stop && !(take_kick && w->kicked))
        if (pthread_cond_timedwait(&w->wake, &w->lock, &until) == ETIMEDOUT)
            break;
    if (take_kick)
        w->kicked = false;
    bool go_on = !w->stop;
    pthread_mutex_unlock(&w->lock);
    return go_on;
}

static void *events_main(void *arg)
{
    struct link_worker *w = arg;
    for (;;) {
        size_t n = 0;
        int rc = link_worker_events_round(w->app, w->owner, time_now(), &n);
        atomic_fetch_add(&w->events_applied, n);
        if (rc)
            atomic_fetch_add(&w->round_failures, 1);
        if (rc)
            log_warn("links: claiming authorization events failed: %s", be_err_code(rc));
        bool more = rc == BE_OK && n == LINK_WORKER_EVENT_BATCH;
        if (!(more ? !stopping(w) : wait_for(w, LINK_WORKER_EVENT_POLL_MS, true)))
            break;
    }
    return NULL;
}

static unsigned check_tick_ms(const struct config *cfg)
{
    uint64_t s = cfg->link_check_interval / 4;
    s = s < 1 ? 1 : s > 30 ? 30 : s;
    return (unsigned)s * 1000;
}

/* One pass of the checks thread; true when more links may be due now. */
static bool checks_pass(struct link_worker *w, int64_t *paused_until, int64_t *next_purge)
{
    int64_t now = time_now();
    if (now >= *next_purge) {
        int rc = link_attempt_purge(w->app, now);
        if (rc)
            log_warn("links: purging old attempts failed: %s", be_err_code(rc));
        *next_purge = now + LINK_WORKER_PURGE_EVERY;
    }
    if (now < *paused_until)
        return false;
    size_t n = 0;
    int rc = link_worker_checks_round(w->app, w->owner, now, &n);
    atomic_fetch_add(&w->links_checked, n);
    if (rc && rc != BE_RATE_LIMITED)
        atomic_fetch_add(&w->round_failures, 1);
    if (rc == BE_RATE_LIMITED) {
        log_warn("links: WeChat's quota is spent; checks pause for %d s", LINK_CHECK_QUOTA_PAUSE_S);
        *paused_until = now + LINK_CHECK_QUOTA_PAUSE_S;
    } else if (rc) {
        log_warn("links: background checks failed: %s", be_err_code(rc));
    } else if (n) {
        log_debug("links: checked %zu links", n);
    }
    return rc == BE_OK && n == LINK_WORKER_CHECK_BATCH;
}

static void *checks_main(void *arg)
{
    struct link_worker *w = arg;
    int64_t paused_until = 0, next_purge = 0;
    for (;;) {
        bool more = checks_pass(w, &paused_until, &next_purge);
        if (!(more ? !stopping(w) : wait_for(w, check_tick_ms(w->app->cfg), false)))
            break;
    }
    return NULL;
}

int link_worker_start(struct app *app, struct link_worker **ret_worker)
{
    struct link_worker *w = xcalloc(1, sizeof(*w));
    char uuid[37];
    pthread_condattr_t attr;
    w->app = app;
    crypto_uuid4(uuid);
    snprintf(w->owner, sizeof(w->owner), "links-%s", uuid);
    pthread_mutex_init(&w->lock, NULL);
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&w->wake, &attr);
    pthread_condattr_destroy(&attr);
    w->events_started = pthread_create(&w->events, NULL, events_main, w) == 0;
    w->checks_started = w->events_started && pthread_create(&w->checks, NULL, checks_main, w) == 0;
    if (!w->checks_started) {
        link_worker_stop(w);
        return BE_INTERNAL;
    }
    *ret_worker = w;
    return BE_OK;
}

void link_worker_metrics(struct link_worker *w, struct buf *out)
{
    if (!w)
        return;
    buf_addf(
        out,
        "# HELP bindery_link_events_applied_total Authorization events this instance applied.\n"
        "# TYPE bindery_link_events_applied_total counter\n"
        "bindery_link_events_applied_total %llu\n"
        "# HELP bindery_link_checks_total Links this instance checked with WeChat in the "
        "background.\n"
        "# TYPE bindery_link_checks_total counter\n"
        "bindery_link_checks_total %llu\n"
        "# HELP bindery_link_worker_failures_total Background rounds that failed (store or "
        "WeChat errors; see the log).\n"
        "# TYPE bindery_link_worker_failures_total counter\n"
        "bindery_link_worker_failures_total %llu\n",
        (unsigned long long)atomic_load(&w->events_applied),
        (unsigned long long)atomic_load(&w->links_checked),
        (unsigned long long)atomic_load(&w->round_failures));
}

void link_worker_kick(struct link_worker *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->lock);
    w->kicked = true;
    pthread_cond_broadcast(&w->wake);
    pthread_mutex_unlock(&w->lock);
}

void link_worker_stop(struct link_worker *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->lock);
    w->stop = true;
    pthread_cond_broadcast(&w->wake);
    pthread_mutex_unlock(&w->lock);
    if (w->events_started)
        pthread_join(w->events, NULL);
    if (w->checks_started)
        pthread_join(w->checks, NULL);
    pthread_cond_destroy(&w->wake);
    pthread_mutex_destroy(&w->lock);
    free(w);
}
