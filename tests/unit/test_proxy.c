/* The reverse proxy (api/deploy_proxy.c) through a real listener: the HTTP
 * server with serve's routes and stream routes, a deployer on a temporary
 * app with the directory source, a real Node.js app in the sandbox (bwrap
 * when it works here, otherwise unsandboxed, said at the start), and libcurl
 * as the client. Runs on SQLite, and on PostgreSQL too when
 * BINDERY_TEST_PG_URL is set. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/stat.h>

#include "api/deploy_proxy.h"
#include "api/web.h"
#include "core/buf.h"
#include "core/crypto.h"
#include "core/timeutil.h"
#include "deploy/job.h"
#include "testutil.h"
#include "core/banned.h"

#define OWNER 100000000001ull
#define MIB   (1u << 20)

static char ENV[32];
static const char *pg_url;
static struct test_app t;
static struct deployer *d;
static struct deploy_source src;
static char root[128];
static struct web web;
static struct http_server *srv;
static uint16_t port;

/* The app: one Node.js server with a path per behaviour. */
#define APP(reply)                                                                                 \
    "const http=require('http'),crypto=require('crypto');"                                         \
    "const blk=Buffer.alloc(65536);for(let i=0;i<blk.length;i++)blk[i]=(i*7)&255;"                 \
    "http.createServer((q,s)=>{const u=new URL(q.url,'http://x'),p=u.pathname;"                    \
    "if(p==='/healthz')return s.end('ok');"                                                        \
    "if(p==='/hello')return s.end('" reply "');"                                                   \
    "if(p==='/echo'||p==='/slowread'){const go=()=>{const h=crypto.createHash('sha256');let n=0;"  \
    "q.on('data',c=>{h.update(c);n+=c.length});q.on('end',()=>{"                                   \
    "s.setHeader('content-type','application/json');s.end(JSON.stringify({method:q.method,"        \
    "url:q.url,headers:q.headers,len:n,sha:h.digest('hex')}))})};"                                 \
    "return p==='/slowread'?setTimeout(go,700):go();}"                                             \
    "if(p==='/big'||p==='/bigcl'){const n=+u.searchParams.get('n');let left=n;"                    \
    "if(p==='/bigcl')s.setHeader('content-length',n);"                                             \
    "const pump=()=>{while(left>0){const k=Math.min(left,blk.length);left-=k;"                     \
    "if(!s.write(blk.subarray(0,k)))return s.once('drain',pump);}s.end();};return pump();}"        \
    "if(p==='/slow'){s.write('first\\n');return setTimeout(()=>{s.write('second\\n');"             \
    "setTimeout(()=>s.end('third\\n'),500)},500);}"                                                \
    "if(p==='/hangup')return q.socket.destroy();"                                                  \
    "if(p==='/cut'){s.setHeader('content-length',1000);s.write('x'.repeat(100));"                  \
    "return setTimeout(()=>q.socket.destroy(),100);}"                                              \
    "if(p==='/hang')return;"                                                                       \
    "if(p==='/die')return process.exit(3);"                                                        \
    "if(p==='/hdrs'){s.setHeader('Set-Cookie',['bindery_session=evil; Path=/','app=1; Path=/']);"  \
    "s.setHeader('X-App','yes');s.setHeader('Keep-Alive','timeout=5');"                            \
    "s.setHeader('Connection','close, X-Hop');s.setHeader('X-Hop','1');return s.end('h');}"        \
    "s.statusCode=404;s.end('nope');}).listen(+process.env.PORT,'127.0.0.1');"                     \
    "process.on('SIGTERM',()=>process.exit(0));"

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void make_version(int n, const char *code)
{
    char p[256];
    snprintf(p, sizeof(p), "%s/%s/v%d", root, ENV, n);
    mkdir(p, 0755);
    snprintf(p, sizeof(p), "%s/%s/v%d.json", root, ENV, n);
    write_file(p, "{\"Runtime\":\"nodejs\",\"Entry\":\"app.js\"}");
    snprintf(p, sizeof(p), "%s/%s/v%d/app.js", root, ENV, n);
    write_file(p, code);
}

static void deploy(uint64_t version)
{
    char id[32], state[16];
    struct deploy_request req = {ENV, DEPLOY_KIND_DEPLOY, version, OWNER, OWNER};
    struct be_diag diag = {""};
    if (deployer_submit(d, &req, id, &diag))
        fail_msg("submit: %s", diag.msg);
    assert_int_equal(deployer_wait(d, id, 30000, state), 0);
    assert_string_equal(state, "SUCCEEDED");
}

/* ---- client ---- */

struct resp {
    long status;
    CURLcode rc;
    struct buf body, headers;
    uint64_t first_byte_ns, end_ns;
};

struct upload {
    const unsigned char *data;
    size_t len, off;
};

static size_t on_data(char *p, size_t size, size_t n, void *u)
{
    struct resp *r = u;
    if (!r->first_byte_ns)
        r->first_byte_ns = time_mono_ns();
    buf_add(&r->body, p, size * n);
    return size * n;
}

static size_t on_header(char *p, size_t size, size_t n, void *u)
{
    buf_add(&((struct resp *)u)->headers, p, size * n);
    return size * n;
}

static size_t on_read(char *p, size_t size, size_t n, void *u)
{
    struct upload *up = u;
    size_t k = size * n < up->len - up->off ? size * n : up->len - up->off;
    memcpy(p, up->data + up->off, k);
    up->off += k;
    return k;
}

/* One request through the proxy. body: sent with Content-Length, or
 * chunked when `chunked`. headers: NULL-terminated "Name: value". */
static void request(const char *method, const char *path, const char *const *headers,
                    const void *body, size_t len, bool chunked, struct resp *r)
{
    char url[512];
    snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", (unsigned)port, path);
    memset(r, 0, sizeof(*r));
    buf_init(&r->body);
    buf_init(&r->headers);
    CURL *c = curl_easy_init();
    struct curl_slist *hl = NULL;
    for (size_t i = 0; headers && headers[i]; i++)
        hl = curl_slist_append(hl, headers[i]);
    hl = curl_slist_append(hl, "Expect:");
    struct upload up = {body, len, 0};
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 20000L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
    if (!strcmp(method, "HEAD"))
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    if (body) {
        curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(c, CURLOPT_READDATA, &up);
        if (chunked)
            hl = curl_slist_append(hl, "Transfer-Encoding: chunked");
        else
            curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)len);
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
    r->rc = curl_easy_perform(c);
    r->end_ns = time_mono_ns();
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    curl_slist_free_all(hl);
    curl_easy_cleanup(c);
}

static void resp_release(struct resp *r)
{
    buf_release(&r->body);
    buf_release(&r->headers);
}

static char *env_path(const char *rest)
{
    struct buf b = BUF_INIT;
    buf_addf(&b, "/env/%s%s", ENV, rest);
    return buf_detach(&b, NULL);
}

static bool has_header(const struct resp *r, const char *line)
{
    return r->headers.data && strcasestr(r->headers.data, line);
}

/* ---- setup ---- */

static int setup(void **state)
{
    (void)state;
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
    t.cfg->deploy_proxy_max_body_bytes = 8 * MIB;
    t.cfg->deploy_proxy_idle_timeout_ms = 1500;
    snprintf(root, sizeof(root), "%s/versions", t.dir);
    mkdir(root, 0755);
    char p[256];
    snprintf(p, sizeof(p), "%s/%s", root, ENV);
    mkdir(p, 0755);
    snprintf(p, sizeof(p), "%s/%s/env.json", root, ENV);
    write_file(p, "{\"OwnerUin\":100000000001,\"AppId\":\"wx123\",\"Vars\":{}}");
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
        .health_timeout_ms = 3000,
        .alive_ms = 300,
        .total_timeout_ms = 30000,
        .drain_grace_ms = 3000,
        .lease_ms = 3000,
        .backoff_ms = 50,
        .backoff_max_ms = 200,
        .crash_window_s = 300,
        .crash_max = 5,
        .log_segment_bytes = 1 << 20,
        .log_segments = 3,
    };
    struct be_diag diag = {""};
    if (deployer_new(&t.app, &o, &src, &d, &diag)) {
        fprintf(stderr, "deployer_new: %s\n", diag.msg);
        return -1;
    }
    t.app.deploy = d;
    print_message("sandbox: %s %s\n", deployer_sandbox(d), deployer_sandbox_reason(d));
    web = (struct web){&t.app, NULL, NULL};
    size_t nroutes, nstream;
    const struct http_route *routes = web_routes(&nroutes);
    const struct http_route *sroutes = web_stream_routes(&nstream);
    struct http_server_options ho = {
        .listen = "127.0.0.1:0",
        .threads = 2,
        .max_body = 1 * MIB,
        .timeout_s = 30,
        .max_connections = 256,
        .stream_routes = sroutes,
        .nstream_routes = nstream,
    };
    if (http_server_start(&ho, routes, nroutes, &web, &srv))
        return -1;
    web.http = srv;
    port = http_server_port(srv);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    http_server_stop(srv, 5);
    t.app.deploy = NULL;
    deployer_free(d);
    deploy_source_dir_free(&src);
    test_app_close(&t);
    return 0;
}

/* ---- tests ---- */

static unsigned char *pattern(size_t n)
{
    unsigned char *p = xmalloc(n);
    for (size_t i = 0; i < n; i++)
        p[i] = (unsigned char)(i * 31 + (i >> 13));
    return p;
}

static void sha_hex(const void *data, size_t len, char out[65])
{
    unsigned char md[32];
    crypto_sha256(data, len, md);
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static json_t *json_of(const struct resp *r)
{
    json_t *o = json_loadb(r->body.data ? r->body.data : "", r->body.len, 0, NULL);
    if (!o)
        fail_msg("not JSON (status %ld): %.*s", r->status, (int)r->body.len,
                 r->body.data ? r->body.data : "");
    return o;
}

static const char *hdr(json_t *echo, const char *name)
{
    return json_string_value(json_object_get(json_object_get(echo, "headers"), name));
}

static void no_live_version(void **state)
{
    (void)state;
    struct resp r;
    char *path = env_path("/hello");
    request("GET", path, NULL, NULL, 0, false, &r);
    assert_int_equal(r.status, 503);
    assert_non_null(strstr(r.body.data, "has no live version"));
    assert_non_null(strstr(r.body.data, ENV));
    assert_true(has_header(&r, "content-type: text/html"));
    assert_true(has_header(&r, "retry-after: 5"));
    resp_release(&r);
    const char *json[] = {"Accept: application/json", NULL};
    request("POST", path, json, "abc", 3, false, &r);
    assert_int_equal(r.status, 503);
    json_t *o = json_of(&r);
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(json_object_get(o, "Response"), "Error"), "Code")),
                        "ResourceUnavailable.Environment");
    assert_non_null(
        json_string_value(json_object_get(json_object_get(o, "Response"), "RequestId")));
    json_decref(o);
    resp_release(&r);
    /* Not an environment id at all. */
    request("GET", "/env/bad%20id/x", NULL, NULL, 0, false, &r);
    assert_int_equal(r.status, 404);
    resp_release(&r);
    free(path);
}

static void forwards_requests(void **state)
{
    (void)state;
    make_version(1, APP("one"));
    deploy(1);
    struct resp r;
    char *path = env_path("/hello");
    request("GET", path, NULL, NULL, 0, false, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body.data, "one");
    assert_true(has_header(&r, "x-request-id: "));
    resp_release(&r);
    free(path);

    /* Headers: hop-by-hop and the session cookie stripped, X-Forwarded-*
     * set by the proxy (a client's own are replaced), the rest passed. */
    const char *h[] = {"Cookie: a=1; bindery_session=s3cret; b=2",
                       "Connection: X-Hop-Req",
                       "X-Hop-Req: drop me",
                       "Keep-Alive: timeout=5",
                       "TE: trailers",
                       "Proxy-Authorization: Basic eA==",
                       "X-Forwarded-For: 6.6.6.6",
                       "X-Custom: kept",
                       "Authorization: Bearer app-token",
                       NULL};
    path = env_path("/echo?a=1&b=%20x");
    request("GET", path, h, NULL, 0, false, &r);
    assert_int_equal(r.status, 200);
    json_t *e = json_of(&r);
    assert_string_equal(json_string_value(json_object_get(e, "url")), "/echo?a=1&b=%20x");
    assert_string_equal(hdr(e, "cookie"), "a=1; b=2");
    assert_null(hdr(e, "x-hop-req"));
    assert_null(hdr(e, "keep-alive"));
    assert_null(hdr(e, "te"));
    assert_null(hdr(e, "proxy-authorization"));
    assert_string_equal(hdr(e, "connection"), "close");
    assert_string_equal(hdr(e, "x-forwarded-for"), "127.0.0.1");
    assert_string_equal(hdr(e, "x-forwarded-proto"), "http");
    char want[128];
    snprintf(want, sizeof(want), "127.0.0.1:%u", (unsigned)port);
    assert_string_equal(hdr(e, "x-forwarded-host"), want);
    assert_string_equal(hdr(e, "host"), want);
    snprintf(want, sizeof(want), "/env/%s", ENV);
    assert_string_equal(hdr(e, "x-forwarded-prefix"), want);
    assert_string_equal(hdr(e, "x-custom"), "kept");
    assert_string_equal(hdr(e, "authorization"), "Bearer app-token");
    json_decref(e);
    resp_release(&r);
    free(path);

    /* Only the session cookie: no Cookie header at all. */
    const char *only[] = {"Cookie: bindery_session=s3cret", NULL};
    path = env_path("/echo");
    request("GET", path, only, NULL, 0, false, &r);
    e = json_of(&r);
    assert_null(hdr(e, "cookie"));
    json_decref(e);
    resp_release(&r);

    /* Every method, with and without a body. */
    const char *methods[] = {"POST", "PUT", "PATCH", "DELETE", "OPTIONS"};
    for (size_t i = 0; i < 5; i++) {
        request(methods[i], path, NULL, "payload", 7, false, &r);
        assert_int_equal(r.status, 200);
        e = json_of(&r);
        assert_string_equal(json_string_value(json_object_get(e, "method")), methods[i]);
        assert_int_equal(json_integer_value(json_object_get(e, "len")), 7);
        json_decref(e);
        resp_release(&r);
    }
    free(path);

    /* Response headers: hop-by-hop (also those named by Connection) and a
     * Set-Cookie of the console's session dropped, the rest passed. */
    path = env_path("/hdrs");
    request("GET", path, NULL, NULL, 0, false, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body.data, "h");
    assert_true(has_header(&r, "x-app: yes"));
    assert_true(has_header(&r, "set-cookie: app=1"));
    assert_false(has_header(&r, "bindery_session"));
    assert_false(has_header(&r, "keep-alive"));
    assert_false(has_header(&r, "x-hop"));
    resp_release(&r);
    free(path);

    /* Unknown path: the app's own 404 comes through. */
    path = env_path("/nothing-here");
    request("GET", path, NULL, NULL, 0, false, &r);
    assert_int_equal(r.status, 404);
    assert_string_equal(r.body.data, "nope");
    resp_release(&r);
    free(path);
}

static void large_bodies(void **state)
{
    (void)state;
    make_version(1, APP("one"));
    deploy(1);
    size_t n = 5 * MIB;
    unsigned char *data = pattern(n);
    char sha[65];
    sha_hex(data, n, sha);
    struct resp r;
    const char *paths[] = {"/echo", "/slowread"};
    for (int chunked = 0; chunked < 2; chunked++)
        for (int i = 0; i < 2; i++) {
            char *path = env_path(paths[i]);
            request("POST", path, NULL, data, n, chunked, &r);
            if (r.status != 200)
                fail_msg("%s chunked=%d: %ld %d", paths[i], chunked, r.status, (int)r.rc);
            json_t *e = json_of(&r);
            assert_int_equal(json_integer_value(json_object_get(e, "len")), n);
            assert_string_equal(json_string_value(json_object_get(e, "sha")), sha);
            json_decref(e);
            resp_release(&r);
            free(path);
        }
    free(data);

    /* 5 MiB down, chunked and with a length. */
    const char *down[] = {"/big?n=5242880", "/bigcl?n=5242880"};
    for (int i = 0; i < 2; i++) {
        char *path = env_path(down[i]);
        request("GET", path, NULL, NULL, 0, false, &r);
        assert_int_equal(r.rc, CURLE_OK);
        assert_int_equal(r.status, 200);
        assert_int_equal(r.body.len, 5 * MIB);
        for (size_t k = 0; k < r.body.len; k += 4099)
            if ((unsigned char)r.body.data[k] != (unsigned char)(((k % 65536) * 7) & 255))
                fail_msg("byte %zu differs", k);
        resp_release(&r);
        free(path);
    }

    /* Over deploy.proxy_max_body_bytes (8 MiB here, above the API's 1 MiB):
     * 413, announced or found out while streaming. */
    size_t big = 9 * MIB;
    unsigned char *huge = xcalloc(1, big);
    char *path = env_path("/echo");
    request("POST", path, NULL, huge, big, false, &r);
    assert_int_equal(r.status, 413);
    resp_release(&r);
    request("POST", path, NULL, huge, big, true, &r);
    assert_int_equal(r.status, 413);
    resp_release(&r);
    free(huge);

    /* HEAD: the app's length, no body. */
    free(path);
    path = env_path("/bigcl?n=1000");
    request("HEAD", path, NULL, NULL, 0, false, &r);
    assert_int_equal(r.rc, CURLE_OK);
    assert_int_equal(r.status, 200);
    assert_true(has_header(&r, "content-length: 1000"));
    assert_int_equal(r.body.len, 0);
    resp_release(&r);
    free(path);
}

static void streaming_and_failures(void **state)
{
    (void)state;
    make_version(1, APP("one"));
    deploy(1);
    struct resp r;
    /* Chunks arrive as the app writes them: the first a second before the
     * end. */
    char *path = env_path("/slow");
    uint64_t t0 = time_mono_ns();
    request("GET", path, NULL, NULL, 0, false, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body.data, "first\nsecond\nthird\n");
    print_message("slow stream: first byte after %.0f ms, end after %.0f ms\n",
                  (double)(r.first_byte_ns - t0) / 1e6, (double)(r.end_ns - t0) / 1e6);
    assert_true(r.end_ns - r.first_byte_ns > 800u * 1000000u);
    resp_release(&r);
    free(path);

    /* The app drops the connection before answering: 502. */
    path = env_path("/hangup");
    request("GET", path, NULL, NULL, 0, false, &r);
    assert_int_equal(r.status, 502);
    assert_non_null(strstr(r.body.data, "failed to answer"));
    resp_release(&r);
    free(path);

    /* The app cuts its body short: the client sees a broken transfer, not
     * a complete one. */
    path = env_path("/cut");
    request("GET", path, NULL, NULL, 0, false, &r);
    assert_int_not_equal(r.rc, CURLE_OK);
    assert_true(r.body.len < 1000);
    resp_release(&r);
    free(path);

    /* The app never answers: 504 after deploy.proxy_idle_timeout_ms (1.5 s). */
    path = env_path("/hang");
    t0 = time_mono_ns();
    request("GET", path, NULL, NULL, 0, false, &r);
    assert_int_equal(r.status, 504);
    assert_true(time_mono_ns() - t0 >= 1400u * 1000000u);
    resp_release(&r);
    free(path);

    /* The app dies mid-request: 502; the supervisor restarts it. */
    path = env_path("/die");
    request("GET", path, NULL, NULL, 0, false, &r);
    assert_int_equal(r.status, 502);
    resp_release(&r);
    free(path);
    path = env_path("/hello");
    long st = 0;
    for (int i = 0; i < 100 && st != 200; i++) {
        struct timespec ts = {0, 50 * 1000000L};
        nanosleep(&ts, NULL);
        request("GET", path, NULL, NULL, 0, false, &r);
        st = r.status;
        resp_release(&r);
    }
    assert_int_equal(st, 200);
    free(path);
}

struct hammer {
    atomic_bool stop;
    atomic_long v1, v2, failed;
};

static void *hammer_run(void *arg)
{
    struct hammer *h = arg;
    char *path = env_path("/hello");
    while (!atomic_load(&h->stop)) {
        struct resp r;
        request("GET", path, NULL, NULL, 0, false, &r);
        if (r.status == 200 && !strcmp(r.body.data, "one"))
            atomic_fetch_add(&h->v1, 1);
        else if (r.status == 200 && !strcmp(r.body.data, "two"))
            atomic_fetch_add(&h->v2, 1);
        else
            atomic_fetch_add(&h->failed, 1);
        resp_release(&r);
    }
    free(path);
    return NULL;
}

static void switch_without_failures(void **state)
{
    (void)state;
    make_version(1, APP("one"));
    deploy(1);
    make_version(2, APP("two"));
    struct hammer h = {0};
    pthread_t th[3];
    for (int i = 0; i < 3; i++)
        pthread_create(&th[i], NULL, hammer_run, &h);
    struct timespec ts = {0, 300 * 1000000L};
    nanosleep(&ts, NULL);
    deploy(2);
    nanosleep(&ts, NULL);
    atomic_store(&h.stop, true);
    for (int i = 0; i < 3; i++)
        pthread_join(th[i], NULL);
    print_message("through the proxy during the switch: %ld v1, %ld v2, %ld failed\n",
                  atomic_load(&h.v1), atomic_load(&h.v2), atomic_load(&h.failed));
    assert_int_equal(atomic_load(&h.failed), 0);
    assert_true(atomic_load(&h.v1) > 0 && atomic_load(&h.v2) > 0);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(no_live_version, setup, teardown),
        cmocka_unit_test_setup_teardown(forwards_requests, setup, teardown),
        cmocka_unit_test_setup_teardown(large_bodies, setup, teardown),
        cmocka_unit_test_setup_teardown(streaming_and_failures, setup, teardown),
        cmocka_unit_test_setup_teardown(switch_without_failures, setup, teardown),
    };
    int failed = cmocka_run_group_tests_name("proxy/sqlite", tests, NULL, NULL);
    pg_url = getenv("BINDERY_TEST_PG_URL");
    if (pg_url && *pg_url)
        failed += cmocka_run_group_tests_name("proxy/postgres", tests, NULL, NULL);
    else
        print_message("[  SKIPPED ] proxy/postgres: BINDERY_TEST_PG_URL is not set\n");
    curl_global_cleanup();
    return failed ? 1 : 0;
}
