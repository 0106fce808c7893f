#include "devenv/worker.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "core/crypto.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/timeutil.h"
#include "devenv/env.h"
#include "devenv/gc.h"
#include "core/banned.h"

struct devenv_worker {
    struct app *app;
    char owner[48];
    pthread_mutex_t lock;
    pthread_cond_t wake;    /* the thread: work or stop */
    pthread_cond_t changed; /* the long-polls: generation moved */
    uint64_t generation;
    bool stop, kicked, started;
    pthread_t thread;
};

static void deadline_in(unsigned ms, struct timespec *ts)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

void devenv_kick(struct app *app)
{
    struct devenv_worker *w = app->devenv;
    if (!w)
        return;
    pthread_mutex_lock(&w->lock);
    w->kicked = true;
    pthread_cond_broadcast(&w->wake);
    pthread_mutex_unlock(&w->lock);
}

void devenv_notify(struct app *app)
{
    struct devenv_worker *w = app->devenv;
    if (!w)
        return;
    pthread_mutex_lock(&w->lock);
    w->generation++;
    pthread_cond_broadcast(&w->changed);
    pthread_mutex_unlock(&w->lock);
}

uint64_t devenv_generation(struct app *app)
{
    struct devenv_worker *w = app->devenv;
    if (!w)
        return 0;
    pthread_mutex_lock(&w->lock);
    uint64_t g = w->generation;
    pthread_mutex_unlock(&w->lock);
    return g;
}

void devenv_wait_change(struct app *app, uint64_t gen, unsigned ms)
{
    struct devenv_worker *w = app->devenv;
    struct timespec until;
    if (!w) {
        struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
        while (nanosleep(&ts, &ts) && errno == EINTR)
            ;
        return;
    }
    deadline_in(ms, &until);
    pthread_mutex_lock(&w->lock);
    while (!w->stop && w->generation == gen)
        if (pthread_cond_timedwait(&w->changed, &w->lock, &until) == ETIMEDOUT)
            break;
    pthread_mutex_unlock(&w->lock);
}

int devenv_worker_round(struct app *app, const char *owner, int64_t now, size_t *ret_n)
{
    struct env work[DEVENV_WORKER_BATCH];
    size_t n = 0;
    int rc = env_claim_work(app, owner, now, ENV_CLAIM_LEASE, DEVENV_WORKER_BATCH, work, &n);
    for (size_t i = 0; rc == BE_OK && i < n; i++) {
        int erc = env_process(app, owner, &work[i]);
        if (erc)
            log_warn("environments: %s: %s", work[i].env_id, be_err_code(erc));
    }
    if (rc == BE_OK && ret_n)
        *ret_n = n;
    return rc;
}

/* Waits until ms pass, a kick, or stop; false on stop. */
static bool wait_for(struct devenv_worker *w, unsigned ms)
{
    struct timespec until;
    deadline_in(ms, &until);
    pthread_mutex_lock(&w->lock);
    while (!w->stop && !w->kicked)
        if (pthread_cond_timedwait(&w->wake, &w->lock, &until) == ETIMEDOUT)
            break;
    w->kicked = false;
    bool go_on = !w->stop;
    pthread_mutex_unlock(&w->lock);
    return go_on;
}

static void *worker_main(void *arg)
{
    struct devenv_worker *w = arg;
    int64_t every = (int64_t)w->app->cfg->deploy_gc_interval;
    int64_t next_gc = time_now() + every;
    for (;;) {
        size_t n = 0;
        int rc = devenv_worker_round(w->app, w->owner, time_now(), &n);
        if (rc)
            log_warn("environments: claiming work failed: %s", be_err_code(rc));
        if (time_now() >= next_gc) {
            struct gc_stats st;
            if ((rc = gc_round(w->app, time_now(), &st)))
                log_warn("environments: garbage collection failed: %s", be_err_code(rc));
            else if (st.uploads || st.versions || st.blobs)
                log_info("environments: expired %zu uploads, deleted %zu old versions, removed "
                         "%zu blobs",
                         st.uploads, st.versions, st.blobs);
            next_gc = time_now() + every;
        }
        if (!(n == DEVENV_WORKER_BATCH ? true : wait_for(w, DEVENV_WORKER_POLL_MS)))
            break;
        pthread_mutex_lock(&w->lock);
        bool stop = w->stop;
        pthread_mutex_unlock(&w->lock);
        if (stop)
            break;
    }
    return NULL;
}

int devenv_worker_start(struct app *app, struct devenv_worker **ret_worker)
{
    struct devenv_worker *w = xcalloc(1, sizeof(*w));
    char uuid[37];
    pthread_condattr_t attr;
    w->app = app;
    crypto_uuid4(uuid);
    snprintf(w->owner, sizeof(w->owner), "envs-%s", uuid);
    pthread_mutex_init(&w->lock, NULL);
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&w->wake, &attr);
    pthread_cond_init(&w->changed, &attr);
    pthread_condattr_destroy(&attr);
    w->started = pthread_create(&w->thread, NULL, worker_main, w) == 0;
    if (!w->started) {
        devenv_worker_stop(w);
        return BE_INTERNAL;
    }
    *ret_worker = w;
    return BE_OK;
}

void devenv_worker_stop(struct devenv_worker *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->lock);
    w->stop = true;
    pthread_cond_broadcast(&w->wake);
    pthread_cond_broadcast(&w->changed);
    pthread_mutex_unlock(&w->lock);
    if (w->started)
        pthread_join(w->thread, NULL);
    pthread_cond_destroy(&w->wake);
    pthread_cond_destroy(&w->changed);
    pthread_mutex_destroy(&w->lock);
    free(w);
}
