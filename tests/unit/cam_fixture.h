/* The CAM tests' fixture (test_cam_directory.c, test_cam_console.c): two
 * apps ("instances") on one store — SQLite in a temporary directory, or the
 * PostgreSQL database of BINDERY_TEST_PG_URL, whose schema `public` is
 * dropped first — with an owner account, another account and the owner's
 * root principal. Include after testutil.h; set pg_url before the runs. */
#ifndef BINDERY_TESTS_CAM_FIXTURE_H
#define BINDERY_TESTS_CAM_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>

#include "account/account.h"
#include "core/timeutil.h"
#include "testutil.h"

static const char *pg_url; /* NULL: the SQLite run */

struct fx {
    struct test_app t;   /* instance 1 */
    struct app app2;     /* instance 2, same store */
    struct account acct; /* the owner */
    struct account other;
    struct principal root;
    struct req_meta meta;
};

#define assert_rc(expr, want)                                                                      \
    do {                                                                                           \
        int rc_ = (expr), want_ = (want);                                                          \
        if (rc_ != want_)                                                                          \
            fail_msg("%s\n  got  %s\n  want %s", #expr, rc_ ? be_err_code(rc_) : "OK",             \
                     want_ ? be_err_code(want_) : "OK");                                           \
    } while (0)

static inline int drop_fn(struct store_conn *c, void *arg)
{
    (void)arg;
    int rc = store_exec(c, "DROP SCHEMA public CASCADE", NULL, 0, NULL);
    return rc ? rc : store_exec(c, "CREATE SCHEMA public", NULL, 0, NULL);
}

static inline int setup(void **state)
{
    struct fx *f = xcalloc(1, sizeof(*f));
    struct be_diag d = {""};
    snprintf(f->t.dir, sizeof(f->t.dir), "/tmp/bindery-unit-XXXXXX");
    if (!mkdtemp(f->t.dir))
        return -1;
    f->t.cfg = config_defaults(CONFIG_SCOPE_ALL);
    free(f->t.cfg->data_dir);
    f->t.cfg->data_dir = xstrdup(f->t.dir);
    free(f->t.cfg->store);
    char url[600];
    if (pg_url) {
        struct store *s = NULL;
        struct store_options so = {1, 5};
        if (store_open(pg_url, &so, &s) || store_run(s, drop_fn, NULL))
            return -1;
        store_close(s);
        snprintf(url, sizeof(url), "%s", pg_url);
    } else {
        snprintf(url, sizeof(url), "sqlite://%s/bindery.db", f->t.dir);
    }
    f->t.cfg->store = xstrdup(url);
    f->t.cfg->password_memory_kib = 64;
    f->t.cfg->password_iterations = 1;
    if (app_open(f->t.cfg, &f->t.app, &d) || app_open(f->t.cfg, &f->app2, &d)) {
        fprintf(stderr, "app_open: %s\n", d.msg);
        return -1;
    }
    f->meta = (struct req_meta){"req-1", "192.0.2.7", NULL, time_now()};
    if (account_signup(&f->t.app, &f->meta, "owner@example.com", "owner password 1", &f->acct,
                       &d) ||
        account_signup(&f->t.app, &f->meta, "other@example.com", "other password 1", &f->other, &d))
        return -1;
    f->root = (struct principal){PRINCIPAL_ROOT, f->acct.uin, f->acct.uin, f->acct.app_id};
    *state = f;
    return 0;
}

static inline int teardown(void **state)
{
    struct fx *f = *state;
    app_close(&f->app2);
    test_app_close(&f->t);
    free(f);
    return 0;
}

#endif
