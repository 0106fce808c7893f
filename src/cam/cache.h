/* The CAM cache: compiled policies and every principal's effective policy
 * set, kept in memory so that a request is decided without parsing anything.
 *
 * Invalidation works across any number of instances sharing one database:
 * every CAM change of an owner account (users, collaborators, groups,
 * memberships, policies, attachments) calls cam_gen_bump() inside its own
 * transaction, which increments the owner's row of cam_generation. A cached
 * set remembers the generation it was built at; cam_cache_acquire() reads the
 * owner's current generation (one primary-key read) and rebuilds the set when
 * they differ. The set is built in one transaction that reads the generation
 * first, so a set is never labelled newer than the data it was built from.
 *
 * Compiled custom policies are cached by (policy id, version): a rebuild only
 * parses the documents that changed since they were last compiled. Presets
 * are compiled once, when the cache is made.
 *
 * All functions are thread-safe. */
#ifndef BINDERY_CAM_CACHE_H
#define BINDERY_CAM_CACHE_H

#include <stdint.h>

#include "app.h"
#include "cam/policy.h"
#include "cam/principal.h"
#include "store/store.h"

/* Principals whose sets are kept; past it the whole map is dropped (and
 * refilled on demand), which bounds memory without an LRU. */
#define CAM_CACHE_MAX_SETS 65536
/* Compiled custom policies kept, bounded the same way. */
#define CAM_CACHE_MAX_POLICIES 65536

struct cam_cache;
/* A principal's effective set, shared by reference. */
struct cam_cached_set;

/* A new, empty cache; never NULL (aborts when out of memory). */
struct cam_cache *cam_cache_new(void);
/* Releases the cache; sets still acquired stay valid until released. NULL is
 * accepted. */
void cam_cache_free(struct cam_cache *cache);

/* Inside the caller's transaction: marks every cached set of owner_uin stale
 * on every instance. Call it first in the transaction: on PostgreSQL the row
 * lock it takes also serialises concurrent CAM changes of one owner, so
 * counts checked against limits afterwards cannot race. */
int cam_gen_bump(struct store_conn *c, uint64_t owner_uin);

/* The effective policy set of who (a sub-user or collaborator acting in
 * who->owner_uin): its direct attachments plus its groups', presets
 * included. A principal that is no longer a user of the owner (deleted
 * sub-user, removed collaborator) gets an empty set, which denies
 * everything. On success *ret holds a reference: pass it to
 * cam_cached_set_policies() and release it with cam_cached_set_release().
 * Errors: the store's (BE_STORE_UNAVAILABLE ...). */
int cam_cache_acquire(struct app *app, const struct principal *who, struct cam_cached_set **ret);
/* The compiled set inside s (never NULL). */
const struct cam_policy_set *cam_cached_set_policies(const struct cam_cached_set *s);
/* Drops one reference. NULL is accepted. */
void cam_cached_set_release(struct cam_cached_set *s);

/* The compiled preset with this id (a borrowed pointer, valid while the
 * cache lives), or NULL when there is no such preset. */
struct cam_policy *cam_cache_preset(struct cam_cache *cache, uint64_t id);

/* Counters for tests and the docs: sets built and policies compiled by this
 * cache since it was made. */
struct cam_cache_stats {
    uint64_t set_builds;
    uint64_t policy_compiles;
};
void cam_cache_stats(struct cam_cache *cache, struct cam_cache_stats *ret);

#endif
