#include "cam/cache.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/mem.h"
#include "core/banned.h"

#define BUCKETS 4096

struct cam_cached_set {
    atomic_uint refs;
    uint64_t gen;
    struct cam_policy_set *set;
};

struct set_entry {
    uint64_t owner_uin, uin;
    enum principal_kind kind;
    struct cam_cached_set *s;
    struct set_entry *next;
};

struct policy_entry {
    uint64_t policy_id;
    int64_t version;
    struct cam_policy *policy;
    struct policy_entry *next;
};

struct cam_cache {
    pthread_mutex_t lock;
    struct set_entry *sets[BUCKETS];
    size_t nsets;
    struct policy_entry *policies[BUCKETS];
    size_t npolicies;
    struct cam_policy *presets[CAM_PRESET_ID_MAX + 1];
    struct cam_cache_stats stats;
};

static size_t bucket_of(uint64_t a, uint64_t b)
{
    uint64_t h = a * 0x9e3779b97f4a7c15ull ^ (b + 0x632be59bd9b4e019ull) * 0xbf58476d1ce4e5b9ull;
    return (size_t)(h >> 52) % BUCKETS;
}

static struct cam_cached_set *cached_set_new(uint64_t gen, struct cam_policy_set *set)
{
    struct cam_cached_set *s = xcalloc(1, sizeof(*s));
    atomic_init(&s->refs, 1);
    s->gen = gen;
    s->set = set;
    return s;
}

void cam_cached_set_release(struct cam_cached_set *s)
{
    if (!s || atomic_fetch_sub(&s->refs, 1) != 1)
        return;
    cam_policy_set_free(s->set);
    free(s);
}

const struct cam_policy_set *cam_cached_set_policies(const struct cam_cached_set *s)
{
    return s->set;
}

struct cam_cache *cam_cache_new(void)
{
    struct cam_cache *c = xcalloc(1, sizeof(*c));
    pthread_mutex_init(&c->lock, NULL);
    for (const struct cam_preset *p = cam_presets; p->name; p++) {
        struct cam_policy_error perr;
        if (p->id > CAM_PRESET_ID_MAX ||
            cam_policy_parse(p->document, strlen(p->document), &c->presets[p->id], &perr))
            abort(); /* presets are constants that always parse (test_policy checks) */
    }
    return c;
}

static void drop_sets(struct cam_cache *c)
{
    for (size_t i = 0; i < BUCKETS; i++) {
        while (c->sets[i]) {
            struct set_entry *e = c->sets[i];
            c->sets[i] = e->next;
            cam_cached_set_release(e->s);
            free(e);
        }
    }
    c->nsets = 0;
}

static void drop_policies(struct cam_cache *c)
{
    for (size_t i = 0; i < BUCKETS; i++) {
        while (c->policies[i]) {
            struct policy_entry *e = c->policies[i];
            c->policies[i] = e->next;
            cam_policy_free(e->policy);
            free(e);
        }
    }
    c->npolicies = 0;
}

void cam_cache_free(struct cam_cache *c)
{
    if (!c)
        return;
    drop_sets(c);
    drop_policies(c);
    for (size_t i = 0; i <= CAM_PRESET_ID_MAX; i++)
        cam_policy_free(c->presets[i]);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

struct cam_policy *cam_cache_preset(struct cam_cache *c, uint64_t id)
{
    return id <= CAM_PRESET_ID_MAX ? c->presets[id] : NULL;
}

void cam_cache_stats(struct cam_cache *c, struct cam_cache_stats *ret)
{
    pthread_mutex_lock(&c->lock);
    *ret = c->stats;
    pthread_mutex_unlock(&c->lock);
}

int cam_gen_bump(struct store_conn *c, uint64_t owner_uin)
{
    return store_exec(c,
                      "INSERT INTO cam_generation (owner_uin, gen) VALUES ($1, 1)"
                      " ON CONFLICT (owner_uin) DO UPDATE SET gen = cam_generation.gen + 1",
                      SV_ARGS(SV_I64(owner_uin)), NULL);
}

static int read_gen(struct store_conn *c, uint64_t owner_uin, uint64_t *ret)
{
    struct store_result *r = NULL;
    int rc = store_query(c, "SELECT gen FROM cam_generation WHERE owner_uin = $1",
                         SV_ARGS(SV_I64(owner_uin)), &r);
    if (rc == BE_OK)
        *ret = store_result_rows(r) ? (uint64_t)store_result_i64(r, 0, 0) : 0;
    store_result_free(r);
    return rc;
}

struct gen_ctx {
    uint64_t owner_uin, gen;
};

static int gen_fn(struct store_conn *c, void *arg)
{
    struct gen_ctx *ctx = arg;
    return read_gen(c, ctx->owner_uin, &ctx->gen);
}

/* One attached policy as read from the store. */
struct loaded {
    uint64_t policy_id;
    int64_t version;
    char *document; /* NULL for presets */
};

struct load_ctx {
    const struct principal *who;
    uint64_t gen;
    struct loaded *items;
    size_t n;
};

static void load_reset(struct load_ctx *ctx)
{
    for (size_t i = 0; i < ctx->n; i++)
        free(ctx->items[i].document);
    free(ctx->items);
    ctx->items = NULL;
    ctx->n = 0;
}

static int load_fn(struct store_conn *c, void *arg)
{
    struct load_ctx *ctx = arg;
    struct store_result *r = NULL;
    uint64_t owner = ctx->who->owner_uin;
    load_reset(ctx);
    int rc = read_gen(c, owner, &ctx->gen);
    if (rc)
        return rc;
    rc = store_query(
        c, "SELECT uid FROM cam_users WHERE owner_uin = $1 AND uin = $2 AND kind = $3",
        SV_ARGS(SV_I64(owner), SV_I64(ctx->who->uin), SV_TEXT(principal_kind_name(ctx->who->kind))),
        &r);
    if (rc || !store_result_rows(r))
        goto out; /* not (or no longer) a user of the owner: nothing attached */
    int64_t uid = store_result_i64(r, 0, 0);
    store_result_free(r);
    r = NULL;
    rc = store_query(c,
                     "SELECT a.policy_id, p.version, p.document FROM cam_attachments a"
                     " LEFT JOIN cam_policies p ON p.id = a.policy_id - $3 AND p.owner_uin = $1"
                     " WHERE a.owner_uin = $1 AND ((a.entity_kind = 'user' AND a.entity_id = $2)"
                     " OR (a.entity_kind = 'group' AND a.entity_id IN"
                     " (SELECT group_id FROM cam_group_members WHERE uid = $2)))"
                     " ORDER BY a.policy_id",
                     SV_ARGS(SV_I64(owner), SV_I64(uid), SV_I64(CAM_PRESET_ID_MAX)), &r);
    if (rc)
        goto out;
    size_t rows = store_result_rows(r);
    ctx->items = xcalloc(rows ? rows : 1, sizeof(*ctx->items));
    for (size_t i = 0; i < rows; i++) {
        uint64_t id = (uint64_t)store_result_i64(r, i, 0);
        const char *doc = store_result_text(r, i, 2);
        if (id > CAM_PRESET_ID_MAX && !doc)
            continue; /* a custom policy deleted meanwhile */
        struct loaded *l = &ctx->items[ctx->n++];
        l->policy_id = id;
        l->version = store_result_i64(r, i, 1);
        l->document = doc ? xstrdup(doc) : NULL;
    }
out:
    store_result_free(r);
    return rc;
}

/* A compiled custom policy (new reference), parsing it only when this
 * (id, version) has not been compiled before. NULL if it does not parse. */
static struct cam_policy *compiled(struct cam_cache *c, const struct loaded *l)
{
    size_t b = bucket_of(l->policy_id, 0);
    struct cam_policy *p = NULL;
    pthread_mutex_lock(&c->lock);
    for (struct policy_entry *e = c->policies[b]; e; e = e->next)
        if (e->policy_id == l->policy_id && e->version == l->version)
            p = cam_policy_ref(e->policy);
    pthread_mutex_unlock(&c->lock);
    if (p)
        return p;
    struct cam_policy_error perr;
    if (cam_policy_parse(l->document, strlen(l->document), &p, &perr)) {
        /* Documents are validated before they are stored. */
        log_error("cam: stored policy %llu does not parse: %s", (unsigned long long)l->policy_id,
                  perr.message);
        return NULL;
    }
    pthread_mutex_lock(&c->lock);
    c->stats.policy_compiles++;
    if (c->npolicies >= CAM_CACHE_MAX_POLICIES)
        drop_policies(c);
    struct policy_entry **pp = &c->policies[b];
    while (*pp && (*pp)->policy_id != l->policy_id)
        pp = &(*pp)->next;
    if (*pp) { /* an older version: replace it */
        cam_policy_free((*pp)->policy);
        (*pp)->version = l->version;
        (*pp)->policy = cam_policy_ref(p);
    } else {
        struct policy_entry *e = xcalloc(1, sizeof(*e));
        e->policy_id = l->policy_id;
        e->version = l->version;
        e->policy = cam_policy_ref(p);
        e->next = c->policies[b];
        c->policies[b] = e;
        c->npolicies++;
    }
    pthread_mutex_unlock(&c->lock);
    return p;
}

static int build(struct app *app, const struct principal *who, struct cam_cached_set **ret)
{
    struct cam_cache *c = app->cam;
    struct load_ctx ctx = {.who = who};
    int rc = store_tx(app->store, load_fn, &ctx);
    if (rc) {
        load_reset(&ctx);
        return rc;
    }
    struct cam_policy_attachment *att = xcalloc(ctx.n ? ctx.n : 1, sizeof(*att));
    size_t n = 0;
    for (size_t i = 0; i < ctx.n; i++) {
        const struct loaded *l = &ctx.items[i];
        struct cam_policy *p = l->document ? compiled(c, l) : cam_cache_preset(c, l->policy_id);
        if (p && !l->document)
            cam_policy_ref(p);
        if (p)
            att[n++] = (struct cam_policy_attachment){p, l->policy_id, who->owner_uin};
    }
    struct cam_policy_set *set = NULL;
    rc = cam_policy_set_new(att, n, &set, NULL);
    for (size_t i = 0; i < n; i++)
        cam_policy_free(att[i].policy);
    free(att);
    load_reset(&ctx);
    if (rc)
        return rc;
    *ret = cached_set_new(ctx.gen, set);
    return BE_OK;
}

int cam_cache_acquire(struct app *app, const struct principal *who, struct cam_cached_set **ret)
{
    struct cam_cache *c = app->cam;
    struct gen_ctx g = {who->owner_uin, 0};
    int rc = store_run(app->store, gen_fn, &g);
    if (rc)
        return rc;
    size_t b = bucket_of(who->owner_uin, who->uin);
    struct cam_cached_set *s = NULL;
    pthread_mutex_lock(&c->lock);
    for (struct set_entry *e = c->sets[b]; e; e = e->next) {
        if (e->owner_uin == who->owner_uin && e->uin == who->uin && e->kind == who->kind &&
            e->s->gen == g.gen) {
            s = e->s;
            atomic_fetch_add(&s->refs, 1);
            break;
        }
    }
    pthread_mutex_unlock(&c->lock);
    if (s) {
        *ret = s;
        return BE_OK;
    }
    if ((rc = build(app, who, &s)))
        return rc;
    pthread_mutex_lock(&c->lock);
    c->stats.set_builds++;
    struct set_entry **pp = &c->sets[b];
    while (*pp && !((*pp)->owner_uin == who->owner_uin && (*pp)->uin == who->uin &&
                    (*pp)->kind == who->kind))
        pp = &(*pp)->next;
    if (*pp) {
        /* Keep the newer of the two (another thread may have built one). */
        if ((*pp)->s->gen <= s->gen) {
            cam_cached_set_release((*pp)->s);
            atomic_fetch_add(&s->refs, 1);
            (*pp)->s = s;
        }
    } else {
        if (c->nsets >= CAM_CACHE_MAX_SETS) {
            drop_sets(c);
            pp = &c->sets[b];
        }
        struct set_entry *e = xcalloc(1, sizeof(*e));
        e->owner_uin = who->owner_uin;
        e->uin = who->uin;
        e->kind = who->kind;
        atomic_fetch_add(&s->refs, 1);
        e->s = s;
        e->next = c->sets[b];
        c->sets[b] = e;
        c->nsets++;
    }
    pthread_mutex_unlock(&c->lock);
    *ret = s;
    return BE_OK;
}
