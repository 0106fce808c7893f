/* Shared by unit tests: a temporary data directory and an app on a fresh
 * SQLite store (or PostgreSQL when BINDERY_TEST_PG_URL is set and the test
 * asks for it). */
#ifndef BINDERY_TESTS_TESTUTIL_H
#define BINDERY_TESTS_TESTUTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app.h"
#include "core/config.h"
#include "core/mem.h"

struct test_app {
    struct app app;
    struct config *cfg;
    char dir[64];
};

static inline void test_rmdir(const char *dir)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", dir);
}

/* Cheap password hashing keeps the tests fast; the production cost is a
 * configuration value like any other. */
static inline int test_app_open(struct test_app *t)
{
    snprintf(t->dir, sizeof(t->dir), "/tmp/bindery-unit-XXXXXX");
    if (!mkdtemp(t->dir))
        return -1;
    t->cfg = config_defaults(CONFIG_SCOPE_ALL);
    free(t->cfg->data_dir);
    t->cfg->data_dir = xstrdup(t->dir);
    free(t->cfg->store);
    char url[128];
    snprintf(url, sizeof(url), "sqlite://%s/bindery.db", t->dir);
    t->cfg->store = xstrdup(url);
    t->cfg->password_memory_kib = 64;
    t->cfg->password_iterations = 1;
    struct be_diag diag = {""};
    int rc = app_open(t->cfg, &t->app, &diag);
    if (rc)
        fprintf(stderr, "app_open: %s\n", diag.msg);
    return rc;
}

static inline void test_app_close(struct test_app *t)
{
    app_close(&t->app);
    config_free(t->cfg);
    test_rmdir(t->dir);
}

#endif
