/* The application: everything a request needs, built once in main() and
 * passed down explicitly (no hidden globals). Domain modules take the app
 * and use only its plain parts; nothing here depends on HTTP. */
#ifndef BINDERY_APP_H
#define BINDERY_APP_H

#include <stdint.h>

#include "core/config.h"
#include "core/crypto.h"
#include "core/keyring.h"
#include "store/store.h"

struct wx_component;
struct link_worker;
struct deployer;
struct cam_cache;
struct devenv_worker;
struct deploy_source;

struct app {
    const struct config *cfg;
    struct store *store;
    struct keyring keys;
    struct crypto_pwhash *pwhash;
    /* The WeChat component (wechat/component.h): set by `serve`, NULL in the
     * other commands; owned by whoever set it. */
    struct wx_component *wechat;
    /* The link life cycle's background worker (binding/worker.h): set by
     * `serve` when a component is configured, NULL otherwise; the event
     * receiver wakes it after storing a push. Owned by whoever set it. */
    struct link_worker *links;
    /* CAM's compiled policies and per-principal policy sets (cam/cache.h):
     * built by app_open, released by app_close. */
    struct cam_cache *cam;
    /* The environments' worker and state-change notifier (devenv/worker.h):
     * set by `serve`, NULL otherwise (long-polls then only poll the store).
     * Owned by whoever set it. */
    struct devenv_worker *devenv;
    /* Deploy (deploy/job.h): where releases come from (the environments'
     * versions, devenv/release_source.h) and the deployer that runs them;
     * both set by `serve` (from the deploy.* keys), NULL elsewhere, owned by
     * serve. */
    const struct deploy_source *deploy_source;
    struct deployer *deploy;
};

/* Who is asking and from where: filled by the edge (HTTP, CLI) and passed to
 * the domain for audit rows, throttling and policy conditions. */
struct req_meta {
    const char *request_id; /* may be NULL outside HTTP */
    const char *source_ip;  /* may be NULL outside HTTP */
    const char *user_agent; /* may be NULL */
    int64_t now;            /* unix seconds */
};

/* Opens the store, applies migrations, loads the keyring and builds the
 * password hasher from cfg. On error, diag says why. */
int app_open(const struct config *cfg, struct app *ret_app, struct be_diag *diag);
void app_close(struct app *app);

#endif
