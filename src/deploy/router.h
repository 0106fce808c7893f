/* The reverse proxy's route table: environment id -> the port of its live
 * process. A request takes a reference on the target it was routed to and
 * drops it when done, so a switch is atomic (the next request sees the new
 * target, no request sees none) and the old process can be drained: it is
 * stopped only once every request already routed to it has finished.
 * Thread-safe; no HTTP here (api/deploy_proxy.c does the forwarding). */
#ifndef BINDERY_DEPLOY_ROUTER_H
#define BINDERY_DEPLOY_ROUTER_H

#include <stdbool.h>
#include <stdint.h>

#include "core/err.h"

struct router;
struct route_target;

struct router *router_new(void);
/* Frees the table and every target (no request may hold one). */
void router_free(struct router *r);

/* The live target of env_id with a reference taken: BE_NOT_FOUND when the
 * environment has no live process. */
int router_acquire(struct router *r, const char *env_id, struct route_target **ret);
uint16_t route_target_port(const struct route_target *t);
void router_release(struct router *r, struct route_target *t);

/* Makes port the live target of env_id (port 0 removes the route). Returns
 * the previous target (NULL when none), which the caller must pass to
 * router_drain(). */
struct route_target *router_switch(struct router *r, const char *env_id, uint16_t port);
/* Waits up to timeout_ms for the requests holding old to finish, then frees
 * it. true when none was left in flight. NULL is accepted (true). */
bool router_drain(struct router *r, struct route_target *old, unsigned timeout_ms);
/* Is port the live target of env_id? */
bool router_is_live(struct router *r, const char *env_id, uint16_t port);

#endif
