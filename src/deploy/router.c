#include "deploy/router.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/mem.h"
#include "core/timeutil.h"
#include "core/banned.h"

struct route_target {
    uint16_t port;
    unsigned refs;
    bool retired;   /* no longer the live target; freed by router_drain */
    bool abandoned; /* router_drain gave up: the last release frees it */
};

struct route {
    struct route *next;
    char *env_id;
    struct route_target *live;
};

struct router {
    pthread_mutex_t mu;
    pthread_cond_t released;
    struct route *routes;
};

struct router *router_new(void)
{
    struct router *r = xcalloc(1, sizeof(*r));
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->released, NULL);
    return r;
}

void router_free(struct router *r)
{
    if (!r)
        return;
    struct route *e = r->routes;
    while (e) {
        struct route *next = e->next;
        free(e->live);
        free(e->env_id);
        free(e);
        e = next;
    }
    pthread_cond_destroy(&r->released);
    pthread_mutex_destroy(&r->mu);
    free(r);
}

static struct route *find(struct router *r, const char *env_id)
{
    for (struct route *e = r->routes; e; e = e->next)
        if (!strcmp(e->env_id, env_id))
            return e;
    return NULL;
}

int router_acquire(struct router *r, const char *env_id, struct route_target **ret)
{
    pthread_mutex_lock(&r->mu);
    struct route *e = find(r, env_id);
    int rc = BE_NOT_FOUND;
    if (e && e->live) {
        e->live->refs++;
        *ret = e->live;
        rc = BE_OK;
    }
    pthread_mutex_unlock(&r->mu);
    return rc;
}

uint16_t route_target_port(const struct route_target *t)
{
    return t->port;
}

void router_release(struct router *r, struct route_target *t)
{
    pthread_mutex_lock(&r->mu);
    t->refs--;
    bool free_it = !t->refs && t->abandoned;
    if (!t->refs && t->retired)
        pthread_cond_broadcast(&r->released);
    pthread_mutex_unlock(&r->mu);
    if (free_it)
        free(t);
}

struct route_target *router_switch(struct router *r, const char *env_id, uint16_t port)
{
    pthread_mutex_lock(&r->mu);
    struct route *e = find(r, env_id);
    if (!e) {
        e = xcalloc(1, sizeof(*e));
        e->env_id = xstrdup(env_id);
        e->next = r->routes;
        r->routes = e;
    }
    struct route_target *old = e->live, *t = NULL;
    if (port) {
        t = xcalloc(1, sizeof(*t));
        t->port = port;
    }
    e->live = t;
    if (old)
        old->retired = true;
    pthread_mutex_unlock(&r->mu);
    return old;
}

bool router_drain(struct router *r, struct route_target *old, unsigned timeout_ms)
{
    if (!old)
        return true;
    uint64_t deadline = time_mono_ns() + (uint64_t)timeout_ms * 1000000u;
    pthread_mutex_lock(&r->mu);
    while (old->refs && time_mono_ns() < deadline) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 20 * 1000000L;
        ts.tv_sec += ts.tv_nsec / 1000000000L;
        ts.tv_nsec %= 1000000000L;
        pthread_cond_timedwait(&r->released, &r->mu, &ts);
    }
    bool idle = !old->refs;
    /* A request still holds it after the time-out: its last release frees
     * it. */
    if (idle)
        free(old);
    else
        old->abandoned = true;
    pthread_mutex_unlock(&r->mu);
    return idle;
}

bool router_is_live(struct router *r, const char *env_id, uint16_t port)
{
    pthread_mutex_lock(&r->mu);
    struct route *e = find(r, env_id);
    bool live = e && e->live && e->live->port == port;
    pthread_mutex_unlock(&r->mu);
    return live;
}
