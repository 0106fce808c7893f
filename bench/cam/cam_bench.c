/* cam_authorize() for a sub-user holding 10 custom policies of 5 statements
 * each, with its set cached: what the CAM check adds to an API request.
 *
 *     cam_bench [STORE_URL]      (default: a temporary SQLite file)
 *
 * Prints ns per call for three things, median (p50) and p99 over batches:
 *   authorize   cam_authorize(): the generation read (one primary-key read
 *               in the store) + request preparation + decision;
 *   decide      cam_decide() on the cached set, request prepared beforehand;
 *   rebuild     the first cam_authorize() after a change of the owner's CAM
 *               data (here a description: the set is rebuilt from the store,
 *               the unchanged documents come compiled from the cache),
 *               measured over 200 changes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "account/account.h"
#include "cam/authz.h"
#include "cam/cache.h"
#include "cam/directory.h"
#include "cam/policystore.h"
#include "core/config.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/timeutil.h"
#include "core/banned.h"

#define POLICIES 10
#define BATCH    64
#define BATCHES  2000

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void report(const char *what, double *v, size_t n)
{
    qsort(v, n, sizeof(*v), cmp);
    printf("%-10s p50 %8.0f ns   p99 %8.0f ns\n", what, v[n / 2], v[n * 99 / 100]);
}

static void die(const char *what, int rc, const struct be_diag *d)
{
    fprintf(stderr, "cam_bench: %s: %s %s\n", what, be_err_code(rc), d ? d->msg : "");
    exit(1);
}

int main(int argc, char **argv)
{
    char dir[] = "/tmp/bindery-cam-bench-XXXXXX";
    struct be_diag d = {""};
    struct app app;
    struct account acct;
    struct cam_user u;
    int rc;
    log_level_current = LOG_WARN;
    if (!mkdtemp(dir))
        return 1;
    struct config *cfg = config_defaults(CONFIG_SCOPE_ALL);
    char url[600];
    snprintf(url, sizeof(url), "%s", argc > 1 ? argv[1] : "");
    if (!url[0])
        snprintf(url, sizeof(url), "sqlite://%s/bindery.db", dir);
    free(cfg->data_dir);
    cfg->data_dir = xstrdup(dir);
    free(cfg->store);
    cfg->store = xstrdup(url);
    cfg->password_memory_kib = 64;
    cfg->password_iterations = 1;
    if ((rc = app_open(cfg, &app, &d)))
        die("app_open", rc, &d);
    struct req_meta meta = {"bench", "127.0.0.1", NULL, time_now()};
    char email[64];
    snprintf(email, sizeof(email), "bench-%ld@example.com", (long)getpid());
    if ((rc = account_signup(&app, &meta, email, "bench password 1", &acct, &d)))
        die("signup", rc, &d);
    struct principal root = {PRINCIPAL_ROOT, acct.uin, acct.uin, acct.app_id};
    struct cam_user_input in = {.name = "bench", .console_login = 0, .use_api = 0,
                                .need_reset_password = -1};
    if ((rc = cam_user_add(&app, &meta, &root, acct.uin, &in, &u, NULL, NULL, &d)))
        die("add user", rc, &d);
    uint64_t ids[POLICIES];
    for (int i = 0; i < POLICIES; i++) {
        char name[16], doc[1024];
        snprintf(name, sizeof(name), "p%d", i);
        snprintf(doc, sizeof(doc),
                 "{\"version\":\"2.0\",\"statement\":["
                 "{\"effect\":\"allow\",\"action\":\"cvm:Describe*\",\"resource\":\"*\"},"
                 "{\"effect\":\"allow\",\"action\":[\"cos:GetObject\",\"cos:PutObject\"],"
                 "\"resource\":\"qcs::cos::uin/%llu:bucket/b%d/*\"},"
                 "{\"effect\":\"deny\",\"action\":\"cam:Delete*\",\"resource\":\"*\"},"
                 "{\"effect\":\"allow\",\"action\":\"cam:List*\",\"resource\":\"*\","
                 "\"condition\":{\"ip_equal\":{\"qcs:ip\":\"127.0.0.0/8\"}}},"
                 "{\"effect\":\"allow\",\"action\":\"wxlink:*\",\"resource\":"
                 "\"qcs::wxlink::uin/%llu:link/wx%d\"}]}",
                 (unsigned long long)acct.uin, i, (unsigned long long)acct.uin, i);
        if ((rc = cam_policystore_create(&app, &meta, &root, acct.uin, name, doc, NULL, &ids[i],
                                         &d)) ||
            (rc = cam_attach(&app, &meta, &root, acct.uin, ids[i], CAM_ENTITY_USER, u.uid, &d)))
            die("policy", rc, &d);
    }
    struct principal who = {PRINCIPAL_SUB_USER, u.uin, acct.uin, acct.app_id};
    struct cam_request req = {"cam:ListUsers", "*", acct.uin, "127.0.0.1", time_now()};
    double *v = xcalloc(BATCHES, sizeof(*v));
    if ((rc = cam_authorize(&app, &who, &req, "r", &d)))
        die("authorize", rc, &d);
    for (int b = 0; b < BATCHES; b++) {
        uint64_t t0 = now_ns();
        for (int i = 0; i < BATCH; i++)
            if (cam_authorize(&app, &who, &req, "r", &d))
                die("authorize", -1, &d);
        v[b] = (double)(now_ns() - t0) / BATCH;
    }
    printf("cam_authorize, %d policies x 5 statements, store %s\n", POLICIES,
           store_backend_name(app.store));
    report("authorize", v, BATCHES);

    struct cam_cached_set *set = NULL;
    struct cam_eval_input ein = {.action = "cam:ListUsers", .resource = "*",
                                 .owner_uin = acct.uin, .caller_uin = u.uin, .now = time_now()};
    struct cam_eval_request er;
    cam_ip_parse("127.0.0.1", &ein.source_ip);
    if ((rc = cam_cache_acquire(&app, &who, &set)) || (rc = cam_eval_request_init(&er, &ein, &d)))
        die("acquire", rc, &d);
    volatile int sink = 0;
    for (int b = 0; b < BATCHES; b++) {
        uint64_t t0 = now_ns();
        for (int i = 0; i < BATCH; i++)
            sink += cam_decide(cam_cached_set_policies(set), &er);
        v[b] = (double)(now_ns() - t0) / BATCH;
    }
    cam_cached_set_release(set);
    report("decide", v, BATCHES);

    int changes = 200;
    for (int c = 0; c < changes; c++) {
        if ((rc = cam_policystore_update(&app, &meta, &root, acct.uin, ids[c % POLICIES], NULL,
                                         c % 2 ? "odd" : "even", NULL, &d)))
            die("update", rc, &d);
        uint64_t t0 = now_ns();
        if (cam_authorize(&app, &who, &req, "r", &d))
            die("authorize after change", -1, &d);
        v[c] = (double)(now_ns() - t0);
    }
    report("rebuild", v, (size_t)changes);
    struct cam_cache_stats st;
    cam_cache_stats(app.cam, &st);
    printf("sets built %llu, policies compiled %llu (sink %d)\n",
           (unsigned long long)st.set_builds, (unsigned long long)st.policy_compiles, sink);
    free(v);
    app_close(&app);
    config_free(cfg);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : 1;
}
