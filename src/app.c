#include "app.h"

#include <string.h>
#include <unistd.h>

#include "cam/cache.h"
#include "core/log.h"
#include "core/banned.h"

int app_open(const struct config *cfg, struct app *ret_app, struct be_diag *diag)
{
    struct app app;
    memset(&app, 0, sizeof(app));
    app.cfg = cfg;
    int rc = keyring_load(cfg->data_dir, cfg->master_key_file, &app.keys, NULL, diag);
    if (rc)
        return rc;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    if (cores < 1)
        cores = 1;
    unsigned threads = cfg->http_threads ? (unsigned)cfg->http_threads : (unsigned)cores;
    struct store_options so = {
        .pool_size = cfg->store_pool_size ? (unsigned)cfg->store_pool_size : threads + 2,
        .connect_timeout_s = 5,
    };
    rc = store_open(cfg->store, &so, &app.store);
    if (rc) {
        rc = be_fail(diag, rc, "cannot open store %s: %s", cfg->store, be_err_message(rc));
        goto fail;
    }
    int version = 0;
    rc = store_migrate(app.store, &version);
    if (rc) {
        rc = be_fail(diag, rc, "cannot migrate store: %s", be_err_message(rc));
        goto fail;
    }
    log_debug("store: %s at schema version %d", store_backend_name(app.store), version);
    app.pwhash = crypto_pwhash_new((uint32_t)cfg->password_memory_kib,
                                   (uint32_t)cfg->password_iterations,
                                   cfg->password_max_concurrent
                                       ? (uint32_t)cfg->password_max_concurrent
                                       : (uint32_t)cores);
    app.cam = cam_cache_new();
    *ret_app = app;
    return BE_OK;
fail:
    app_close(&app);
    return rc;
}

void app_close(struct app *app)
{
    cam_cache_free(app->cam);
    app->cam = NULL;
    store_close(app->store);
    app->store = NULL;
    crypto_pwhash_free(app->pwhash);
    app->pwhash = NULL;
    keyring_wipe(&app->keys);
}
