/* Deploy jobs end to end in one process (src/deploy/job.c): real Node.js
 * apps in the sandbox (bwrap when it works here, otherwise unsandboxed with
 * deploy.allow_unsandboxed, said at the start), the route table under load,
 * and every failure code leaving the old version serving. Runs on SQLite,
 * and on PostgreSQL too when BINDERY_TEST_PG_URL is set. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/stat.h>

#include "core/buf.h"
#include "core/crypto.h"
#include "deploy/job.h"
#include "testutil.h"
#include "core/banned.h"

#define OWNER 100000000001ull
static char ENV[32];
static const char *pg_url;

static struct test_app t;
static struct deployer *d;
static struct deploy_source src;
static char root[128];

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* Version n: an app answering `reply` (Node.js), with extra code run at start. */
static void make_version(int n, const char *entry, const char *code)
{
    char p[256];
    snprintf(p, sizeof(p), "%s/%s/v%d", root, ENV, n);
    mkdir(p, 0755);
    snprintf(p, sizeof(p), "%s/%s/v%d.json", root, ENV, n);
    char meta[256];
    snprintf(meta, sizeof(meta), "{\"Runtime\":\"nodejs\",\"Entry\":\"%s\"}", entry);
    write_file(p, meta);
    if (code) {
        snprintf(p, sizeof(p), "%s/%s/v%d/app.js", root, ENV, n);
        write_file(p, code);
    }
}

#define SERVE(reply, extra)                                                                        \
    "const http=require('http');" extra                                                            \
    "http.createServer((q,s)=>{s.end(q.url==='/healthz'?'ok':'" reply "')})"                       \
    ".listen(+process.env.PORT,'127.0.0.1');"                                                      \
    "process.on('SIGTERM',()=>process.exit(0));"

static char *get(uint16_t port, const char *path, long *ret_status);

static size_t collect(char *p, size_t size, size_t n, void *u)
{
    buf_add(u, p, size * n);
    return size * n;
}

static char *get(uint16_t port, const char *path, long *ret_status)
{
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", (unsigned)port, path);
    struct buf b = BUF_INIT;
    CURL *c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 3000L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    long status = 0;
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
    *ret_status = status;
    return buf_detach(&b, NULL);
}

/* What the proxy does: route, forward, release. */
static char *via_route(long *ret_status)
{
    struct route_target *tg;
    if (router_acquire(deployer_router(d), ENV, &tg)) {
        *ret_status = 503;
        return xstrdup("");
    }
    char *body = get(route_target_port(tg), "/", ret_status);
    router_release(deployer_router(d), tg);
    return body;
}

static void expect_serving(const char *reply)
{
    long st;
    char *b = via_route(&st);
    assert_int_equal(st, 200);
    assert_string_equal(b, reply);
    free(b);
}

static void deploy(enum deploy_kind kind, uint64_t version, const char *want_state,
                   const char *want_code)
{
    char id[32], state[16];
    struct deploy_request req = {ENV, kind, version, OWNER, OWNER};
    struct be_diag diag = {""};
    int rc = deployer_submit(d, &req, id, &diag);
    if (rc)
        fail_msg("submit: %s", diag.msg);
    assert_int_equal(deployer_wait(d, id, 30000, state), 0);
    json_t *o = NULL;
    assert_int_equal(deploy_describe(&t.app, id, OWNER, &o), 0);
    const char *code = json_string_value(json_object_get(o, "ErrorCode"));
    if (strcmp(state, want_state) || (want_code && (!code || strcmp(code, want_code))))
        fail_msg("deploy of v%llu: %s %s: %s", (unsigned long long)version, state, code ? code : "",
                 json_string_value(json_object_get(o, "ErrorMessage")));
    json_decref(o);
}

static int setup(void **state)
{
    (void)state;
    /* A fresh environment id per test: a PostgreSQL database keeps rows
     * of earlier runs. */
    snprintf(ENV, sizeof(ENV), "env-%08x", (unsigned)crypto_random_range(0, UINT32_MAX));
    if (pg_url) {
        snprintf(t.dir, sizeof(t.dir), "/tmp/bindery-unit-XXXXXX");
        if (!mkdtemp(t.dir))
            return -1;
        t.cfg = config_defaults(CONFIG_SCOPE_ALL);
        free(t.cfg->data_dir);
        t.cfg->data_dir = xstrdup(t.dir);
        free(t.cfg->store);
        t.cfg->store = xstrdup(pg_url);
        struct be_diag pd = {""};
        if (app_open(t.cfg, &t.app, &pd))
            return -1;
    } else if (test_app_open(&t)) {
        return -1;
    }
    snprintf(root, sizeof(root), "%s/versions", t.dir);
    mkdir(root, 0755);
    char p[256];
    snprintf(p, sizeof(p), "%s/%s", root, ENV);
    mkdir(p, 0755);
    snprintf(p, sizeof(p), "%s/%s/env.json", root, ENV);
    write_file(p, "{\"OwnerUin\":100000000001,\"AppId\":\"wx123\",\"Vars\":{\"GREETING\":\"hi\"}}");
    src = deploy_source_dir(root);
    char rt[128];
    snprintf(rt, sizeof(rt), "%s/deploy", t.dir);
    struct deployer_options o = {
        .root_dir = rt,
        .bwrap = "/usr/bin/bwrap",
        .allow_unsandboxed = true,
        .limits = {.nofile = 1024, .fsize = 64 << 20},
        .health_path = "/healthz",
        .start_timeout_ms = 5000,
        .health_timeout_ms = 1500,
        .alive_ms = 300,
        .total_timeout_ms = 30000,
        .drain_grace_ms = 2000,
        .lease_ms = 3000,
        .backoff_ms = 50,
        .backoff_max_ms = 200,
        .crash_window_s = 300,
        .crash_max = 3,
        .log_segment_bytes = 1 << 20,
        .log_segments = 3,
    };
    struct be_diag diag = {""};
    if (deployer_new(&t.app, &o, &src, &d, &diag)) {
        fprintf(stderr, "deployer_new: %s\n", diag.msg);
        return -1;
    }
    print_message("sandbox: %s %s\n", deployer_sandbox(d), deployer_sandbox_reason(d));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    deployer_free(d);
    deploy_source_dir_free(&src);
    test_app_close(&t);
    return 0;
}

struct hammer {
    atomic_bool stop;
    atomic_long ok, failed, v1, v2;
};

static void *hammer_run(void *arg)
{
    struct hammer *h = arg;
    while (!atomic_load(&h->stop)) {
        long st;
        char *b = via_route(&st);
        if (st == 200 && !strcmp(b, "one"))
            atomic_fetch_add(&h->v1, 1);
        else if (st == 200 && !strcmp(b, "two"))
            atomic_fetch_add(&h->v2, 1);
        else
            atomic_fetch_add(&h->failed, 1);
        free(b);
    }
    return NULL;
}

static void deploy_switch_rollback_and_failures(void **state)
{
    (void)state;
    long st;
    char *b = via_route(&st);
    assert_int_equal(st, 503); /* nothing live yet */
    free(b);
    make_version(1, "app.js", SERVE("one", ""));
    deploy(DEPLOY_KIND_DEPLOY, 0, "SUCCEEDED", NULL);
    expect_serving("one");

    /* v2 while two clients hammer the route: no failed request. */
    make_version(2, "app.js", SERVE("two", ""));
    struct hammer h = {0};
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&th[i], NULL, hammer_run, &h);
    deploy(DEPLOY_KIND_DEPLOY, 0, "SUCCEEDED", NULL);
    struct timespec ts = {0, 200 * 1000000L};
    nanosleep(&ts, NULL);
    atomic_store(&h.stop, true);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    print_message("during the switch: %ld v1, %ld v2, %ld failed\n", atomic_load(&h.v1),
                  atomic_load(&h.v2), atomic_load(&h.failed));
    assert_int_equal(atomic_load(&h.failed), 0);
    assert_true(atomic_load(&h.v1) > 0 && atomic_load(&h.v2) > 0);
    expect_serving("two");

    /* Failures, each leaving v2 serving. */
    make_version(3, "missing.js", NULL);
    deploy(DEPLOY_KIND_DEPLOY, 3, "FAILED", "ENTRY_NOT_FOUND");
    expect_serving("two");
    make_version(4, "app.js",
                 "console.log('booting v4'); console.error('fatal: no config'); process.exit(3);");
    deploy(DEPLOY_KIND_DEPLOY, 4, "FAILED", "START_CRASHED");
    expect_serving("two");
    make_version(5, "app.js",
                 "require('http').createServer((q,s)=>{s.statusCode=500;s.end('no')})"
                 ".listen(+process.env.PORT,'127.0.0.1');");
    deploy(DEPLOY_KIND_DEPLOY, 5, "FAILED", "HEALTHCHECK_TIMEOUT");
    expect_serving("two");

    /* The crashed start's output is in the error. */
    json_t *list = NULL;
    uint64_t total = 0;
    assert_int_equal(deploy_list(&t.app, ENV, OWNER, 0, 10, &list, &total), 0);
    assert_int_equal(total, 5);
    const char *msg = json_string_value(json_object_get(json_array_get(list, 1), "ErrorMessage"));
    assert_non_null(strstr(msg, "exited with code 3"));
    assert_non_null(strstr(msg, "fatal: no config"));
    json_decref(list);

    /* Rollback goes to the previous live version, as a new deploy. */
    deploy(DEPLOY_KIND_ROLLBACK, 0, "SUCCEEDED", NULL);
    expect_serving("one");
    /* Restart keeps the version; stop answers 503. */
    deploy(DEPLOY_KIND_RESTART, 0, "SUCCEEDED", NULL);
    expect_serving("one");
    deploy(DEPLOY_KIND_STOP, 0, "SUCCEEDED", NULL);
    b = via_route(&st);
    assert_int_equal(st, 503);
    free(b);
    /* Another account does not see the environment. */
    char id[32];
    struct deploy_request other = {ENV, DEPLOY_KIND_DEPLOY, 0, OWNER + 1, OWNER + 1};
    assert_int_equal(deployer_submit(d, &other, id, NULL), BE_ENV_NOT_FOUND);
}

static void conflict_and_cancel(void **state)
{
    (void)state;
    make_version(1, "app.js", SERVE("one", ""));
    deploy(DEPLOY_KIND_DEPLOY, 1, "SUCCEEDED", NULL);
    /* v2 takes 3 s to listen: time for a second request and a cancel. */
    make_version(2, "app.js", "setTimeout(()=>{" SERVE("two", "") "},3000);");
    char id[32], id2[32], st[16];
    struct deploy_request req = {ENV, DEPLOY_KIND_DEPLOY, 2, OWNER, OWNER};
    struct be_diag diag = {""};
    assert_int_equal(deployer_submit(d, &req, id, &diag), 0);
    assert_int_equal(deployer_submit(d, &req, id2, &diag), BE_DEPLOY_IN_PROGRESS);
    assert_non_null(strstr(diag.msg, id));
    struct timespec ts = {0, 500 * 1000000L};
    nanosleep(&ts, NULL);
    assert_int_equal(deployer_cancel(d, id, OWNER + 1, NULL), BE_DEPLOY_NOT_FOUND);
    assert_int_equal(deployer_cancel(d, id, OWNER, NULL), 0);
    assert_int_equal(deployer_wait(d, id, 10000, st), 0);
    assert_string_equal(st, "CANCELED");
    expect_serving("one");
    assert_int_equal(deployer_cancel(d, id, OWNER, NULL), BE_DEPLOY_FINISHED);
    /* The log tells the story, with a cursor. */
    json_t *lines = NULL;
    uint64_t next = 0;
    bool done = false;
    assert_int_equal(deploy_log_read(&t.app, id, OWNER, 0, 100, 0, &lines, &next, &done), 0);
    assert_true(done);
    assert_true(json_array_size(lines) >= 4);
    json_t *last = json_array_get(lines, json_array_size(lines) - 1);
    assert_string_equal(json_string_value(json_object_get(last, "Message")), "job CANCELED");
    json_decref(lines);
    assert_int_equal(deploy_log_read(&t.app, id, OWNER, next, 100, 200, &lines, &next, &done), 0);
    assert_int_equal(json_array_size(lines), 0);
    json_decref(lines);
}

static void crash_loop(void **state)
{
    (void)state;
    /* Healthy at first, then exits every 300 ms. */
    make_version(1, "app.js",
                 SERVE("one", "setTimeout(()=>{console.log('dying');process.exit(1)},300);"));
    deploy(DEPLOY_KIND_DEPLOY, 1, "SUCCEEDED", NULL);
    json_t *o = NULL;
    const char *pst = "";
    for (int i = 0; i < 100; i++) {
        json_decref(o);
        assert_int_equal(deployer_env_status(d, ENV, OWNER, &o), 0);
        pst = json_string_value(json_object_get(json_object_get(o, "Process"), "State"));
        if (pst && !strcmp(pst, "CRASHLOOP"))
            break;
        struct timespec ts = {0, 100 * 1000000L};
        nanosleep(&ts, NULL);
    }
    assert_string_equal(pst, "CRASHLOOP");
    json_t *p = json_object_get(o, "Process");
    assert_true(json_integer_value(json_object_get(p, "Restarts")) >= 3);
    assert_non_null(strstr(json_string_value(json_object_get(p, "LastOutput")), "dying"));
    json_decref(o);
    /* The runtime log has the app's lines. */
    struct runlog *log;
    assert_int_equal(deployer_runtime_log(d, ENV, &log, NULL), 0);
    struct runlog_page pg;
    assert_int_equal(runlog_read(log, 0, 1000, 0, &pg, NULL), 0);
    bool seen = false;
    for (size_t i = 0; i < json_array_size(pg.lines); i++)
        seen |= strstr(json_string_value(json_array_get(pg.lines, i)), "stdout") &&
                strstr(json_string_value(json_array_get(pg.lines, i)), "dying");
    assert_true(seen);
    json_decref(pg.lines);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(deploy_switch_rollback_and_failures, setup, teardown),
        cmocka_unit_test_setup_teardown(conflict_and_cancel, setup, teardown),
        cmocka_unit_test_setup_teardown(crash_loop, setup, teardown),
    };
    int failed = cmocka_run_group_tests_name("deploy_job/sqlite", tests, NULL, NULL);
    pg_url = getenv("BINDERY_TEST_PG_URL");
    if (pg_url && *pg_url)
        failed += cmocka_run_group_tests_name("deploy_job/postgres", tests, NULL, NULL);
    else
        print_message("[  SKIPPED ] deploy_job/postgres: BINDERY_TEST_PG_URL is not set\n");
    curl_global_cleanup();
    return failed ? 1 : 0;
}
