/* The environments' background work, one thread per `bindery serve`:
 *
 *   - provisioning and teardown: claims environments in PROVISIONING or
 *     DELETING through the store (env_claim_work) and runs them
 *     (env_process). CreateEnvironment and DeleteEnvironment wake it with
 *     devenv_worker_kick(); it also looks every DEVENV_WORKER_POLL_MS, which
 *     picks up work that another instance stored or abandoned (an expired
 *     claim);
 *   - garbage collection every deploy.gc_interval seconds (devenv/gc.h).
 *
 * It is also the in-process notifier of state changes: whoever changes an
 * environment calls devenv_notify(), which bumps a generation counter and
 * wakes every long-poll (env_wait) at once; waiters on other instances see
 * the change through their own short poll of the store. Failures are logged
 * here, one line each. */
#ifndef BINDERY_DEVENV_WORKER_H
#define BINDERY_DEVENV_WORKER_H

#include <stddef.h>
#include <stdint.h>

#include "app.h"

#define DEVENV_WORKER_POLL_MS 1000
#define DEVENV_WORKER_BATCH   8

struct devenv_worker;

/* Starts the thread for app (kept by reference; must outlive the worker). */
int devenv_worker_start(struct app *app, struct devenv_worker **ret_worker);
/* Finishes the environment in hand, stops the thread and frees w (NULL
 * accepted). */
void devenv_worker_stop(struct devenv_worker *w);

/* app->devenv's worker: new work is waiting (also notifies). NULL-safe. */
void devenv_kick(struct app *app);
/* An environment changed state in this process: wake the long-polls. */
void devenv_notify(struct app *app);
/* The notification generation, and a wait (at most ms) until it moves past
 * gen. Without a worker (app->devenv NULL) the wait just sleeps ms. */
uint64_t devenv_generation(struct app *app);
void devenv_wait_change(struct app *app, uint64_t gen, unsigned ms);

/* One round of provisioning work in the calling thread (tests, tools):
 * ret_n (may be NULL) gets the environments processed. */
int devenv_worker_round(struct app *app, const char *owner, int64_t now, size_t *ret_n);

#endif
