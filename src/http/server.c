#include "http/http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/crypto.h"
#include "core/err.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/parse.h"
#include "core/timeutil.h"
#include "core/banned.h"

#define MAX_FILE_BYTES (8u << 20)
/* Bodies up to this many times the ceiling are read and dropped before the
 * 413 answer; larger ones are answered at once and the connection closed. */
#define DRAIN_FACTOR 16
/* Bytes asked of a streamed response's reader at a time. */
#define STREAM_BLOCK (64u << 10)

/* Status codes counted individually; anything else lands in "other". */
static const unsigned counted_status[] = {200, 204, 301, 302, 303, 304, 400, 401, 403,
                                          404, 405, 409, 413, 429, 500, 502, 503};
#define NSTATUS (sizeof(counted_status) / sizeof(counted_status[0]) + 1)
static const double latency_buckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                         0.1,    0.25,  0.5,    1,     2.5,   5,     10};
#define NBUCKETS (sizeof(latency_buckets) / sizeof(latency_buckets[0]))

struct route_metrics {
    _Atomic uint64_t by_status[NSTATUS];
    _Atomic uint64_t latency[NBUCKETS + 1]; /* non-cumulative; last is +Inf */
    _Atomic uint64_t latency_sum_us;
};

/* Streamed requests wait on file descriptors through one watcher thread:
 * an epoll set of the descriptors they registered (one each at a time),
 * their deadlines, and an eventfd that makes the thread re-read the
 * deadlines. The list of streamed requests lets shutdown wake them all. */
struct watcher {
    pthread_t thread;
    bool running;
    pthread_mutex_t mu; /* guards everything below and every request's w* fields */
    int epfd, evfd;
    bool quit;
    uint64_t next_id;
    uint64_t planned_ns;          /* when the thread will look at deadlines next */
    struct http_request *streams; /* every streamed request, linked by snext/sprev */
};

struct http_server {
    struct MHD_Daemon *daemon;
    const struct http_route *routes;
    size_t nroutes;
    const struct http_route *stream_routes;
    size_t nstream; /* route indexes: routes, then stream routes, then "unmatched" */
    size_t nall;
    void *ctx;
    struct http_server_options opts;
    uint16_t port;
    _Atomic long in_flight;
    atomic_bool stopping; /* streamed requests may no longer wait */
    struct watcher w;
    struct route_metrics *metrics; /* nall + 1 (unmatched) */
    struct offload {
        pthread_mutex_t mu; /* guards everything below */
        pthread_cond_t cv;
        struct http_request *head, *tail; /* deferred requests not started yet */
        pthread_t *threads;
        unsigned n;
        bool quit;
    } off;
};

struct resp_header {
    struct resp_header *next;
    char *name, *value;
};

struct http_request {
    struct http_server *srv;
    struct MHD_Connection *conn;
    struct arena arena;
    char id[37];
    char ip[INET6_ADDRSTRLEN];
    const char *method;
    const char *path;
    const char *raw_query;
    const char *raw_uri; /* path and query as received, not decoded */
    struct buf body;
    bool started, too_large, responded;
    size_t dropped; /* body bytes read and dropped once over the ceiling */
    size_t route;   /* index into routes and stream routes, nall when unmatched */
    unsigned status;
    size_t bytes_in, bytes_out;
    uint64_t start_ns;
    struct resp_header *headers, **headers_tail;

    /* Streamed requests (stream routes) only. */
    bool stream;
    const struct http_stream_ops *ops; /* set by http_stream_begin() */
    void *octx;
    http_read_fn read_fn; /* set by http_respond_stream() */
    void *read_ctx;
    pthread_mutex_t mu;                 /* guards suspended and wake_pending */
    bool suspended;                     /* MHD_suspend_connection() was called, no resume yet */
    bool wake_pending;                  /* a wake arrived while not suspended */
    bool abort;                         /* http_stream_abort(): close without an answer */
    struct http_request *snext, *sprev; /* the watcher's list (under w.mu) */
    bool wactive;                       /* a registration with the watcher (under w.mu) */
    int wfd;
    uint64_t wid, wdeadline_ns;

    /* Deferred handlers (http_defer) only; mu above is theirs too. */
    bool deferred;              /* the handler deferred: fn runs on an offload thread */
    bool offthread;             /* fn is running: answers are kept in stash */
    struct MHD_Response *stash; /* fn's answer, queued by the worker on resume */
    http_defer_fn dfn;
    void *darg;
    struct http_request *dnext; /* the offload queue */
};

/* ---- helpers ---- */

static const char *route_name(const struct http_server *srv, size_t route)
{
    if (route < srv->nroutes)
        return srv->routes[route].name;
    if (route < srv->nall)
        return srv->stream_routes[route - srv->nroutes].name;
    return "unmatched";
}

static size_t status_slot(unsigned status)
{
    for (size_t i = 0; i < NSTATUS - 1; i++)
        if (counted_status[i] == status)
            return i;
    return NSTATUS - 1;
}

static void json_escape(struct buf *b, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; p && *p; p++) {
        if (*p == '"' || *p == '\\')
            buf_addf(b, "\\%c", *p);
        else if (*p < 0x20)
            buf_addf(b, "\\u%04x", *p);
        else
            buf_addch(b, (char)*p);
    }
}

static void fill_client_ip(struct http_request *req)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    snprintf(req->ip, sizeof(req->ip), "unknown");
    if (ci && ci->client_addr) {
        const struct sockaddr *sa = ci->client_addr;
        if (sa->sa_family == AF_INET)
            inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, req->ip,
                      sizeof(req->ip));
        else if (sa->sa_family == AF_INET6)
            inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, req->ip,
                      sizeof(req->ip));
    }
    if (!req->srv->opts.trust_proxy)
        return;
    const char *xff = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, "X-Forwarded-For");
    if (!xff || !*xff)
        return;
    /* The right-most entry is the one our proxy added: the client it saw. */
    const char *last = strrchr(xff, ',');
    last = last ? last + 1 : xff;
    while (*last == ' ')
        last++;
    char tmp[INET6_ADDRSTRLEN];
    unsigned char bin[16];
    if (copy_str(tmp, sizeof(tmp), last) == BE_OK) {
        size_t n = strlen(tmp);
        while (n && tmp[n - 1] == ' ')
            tmp[--n] = '\0';
        if (inet_pton(AF_INET, tmp, bin) == 1 || inet_pton(AF_INET6, tmp, bin) == 1)
            snprintf(req->ip, sizeof(req->ip), "%s", tmp);
    }
}

/* ---- streamed requests (stream routes) ---- */

static void respond_error_json(struct http_request *req, int err);

enum pause_result { PAUSE_RETRY, PAUSE_SUSPENDED, PAUSE_STOPPING };

/* Suspends the connection until http_stream_wake(), unless a wake came in
 * since the last try (retry at once) or the server is stopping. Called from
 * MHD callbacks only, as MHD requires. The per-request mutex makes "check,
 * then suspend" atomic against the waker, so no wake is lost and resume
 * always follows a suspend. */
static enum pause_result stream_pause(struct http_request *req)
{
    enum pause_result r;
    pthread_mutex_lock(&req->mu);
    if (req->wake_pending) {
        req->wake_pending = false;
        r = PAUSE_RETRY;
    } else if (atomic_load(&req->srv->stopping)) {
        r = PAUSE_STOPPING;
    } else {
        req->suspended = true;
        MHD_suspend_connection(req->conn);
        r = PAUSE_SUSPENDED;
    }
    pthread_mutex_unlock(&req->mu);
    return r;
}

void http_stream_wake(struct http_request *req)
{
    pthread_mutex_lock(&req->mu);
    if (req->suspended) {
        req->suspended = false;
        MHD_resume_connection(req->conn);
    } else {
        req->wake_pending = true;
    }
    pthread_mutex_unlock(&req->mu);
}

/* Under w.mu. */
static void watch_clear(struct watcher *w, struct http_request *req)
{
    if (!req->wactive)
        return;
    epoll_ctl(w->epfd, EPOLL_CTL_DEL, req->wfd, NULL);
    req->wactive = false;
    req->wfd = -1;
}

int http_stream_wake_on_fd(struct http_request *req, int fd, bool writable, unsigned timeout_ms)
{
    struct watcher *w = &req->srv->w;
    int rc = BE_OK;
    if (!req->stream)
        return BE_INTERNAL;
    pthread_mutex_lock(&w->mu);
    watch_clear(w, req);
    struct epoll_event ev = {.events = (writable ? EPOLLOUT : EPOLLIN) | EPOLLRDHUP,
                             .data.u64 = req->wid};
    if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, fd, &ev)) {
        rc = BE_INTERNAL;
        goto out;
    }
    req->wactive = true;
    req->wfd = fd;
    req->wdeadline_ns = time_mono_ns() + (uint64_t)timeout_ms * 1000000u;
    if (req->wdeadline_ns < w->planned_ns) {
        uint64_t one = 1;
        if (write(w->evfd, &one, sizeof(one)) < 0)
            rc = BE_INTERNAL;
    }
out:
    pthread_mutex_unlock(&w->mu);
    return rc;
}

/* Under w.mu: the registration fired (ready or timed out). */
static void watch_fire(struct watcher *w, struct http_request *req)
{
    watch_clear(w, req);
    http_stream_wake(req);
}

static void *watcher_run(void *arg)
{
    struct http_server *srv = arg;
    struct watcher *w = &srv->w;
    struct epoll_event evs[64];
    pthread_mutex_lock(&w->mu);
    while (!w->quit) {
        uint64_t now = time_mono_ns(), next = now + 1000000000u;
        for (struct http_request *r = w->streams; r; r = r->snext)
            if (r->wactive && r->wdeadline_ns < next)
                next = r->wdeadline_ns;
        w->planned_ns = next;
        pthread_mutex_unlock(&w->mu);
        int timeout = next > now ? (int)((next - now + 999999) / 1000000) : 0;
        int n = epoll_wait(w->epfd, evs, 64, timeout);
        pthread_mutex_lock(&w->mu);
        for (int i = 0; i < n; i++) {
            if (evs[i].data.u64 == 0) {
                uint64_t v;
                if (read(w->evfd, &v, sizeof(v)) < 0 && errno != EAGAIN)
                    log_error("http: watcher eventfd: %s", strerror(errno));
                continue;
            }
            /* Look the request up: it may have ended since epoll_wait(). */
            for (struct http_request *r = w->streams; r; r = r->snext)
                if (r->wactive && r->wid == evs[i].data.u64) {
                    watch_fire(w, r);
                    break;
                }
        }
        now = time_mono_ns();
        for (struct http_request *r = w->streams; r; r = r->snext)
            if (r->wactive && r->wdeadline_ns <= now)
                watch_fire(w, r);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

static int watcher_start(struct http_server *srv)
{
    struct watcher *w = &srv->w;
    pthread_mutex_init(&w->mu, NULL);
    w->epfd = epoll_create1(EPOLL_CLOEXEC);
    w->evfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    w->next_id = 1; /* 0 is the eventfd */
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 0};
    if (w->epfd < 0 || w->evfd < 0 || epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->evfd, &ev) ||
        pthread_create(&w->thread, NULL, watcher_run, srv))
        return BE_FAILED;
    w->running = true;
    return BE_OK;
}

static void watcher_stop(struct http_server *srv)
{
    struct watcher *w = &srv->w;
    if (w->running) {
        pthread_mutex_lock(&w->mu);
        w->quit = true;
        uint64_t one = 1;
        if (write(w->evfd, &one, sizeof(one)) < 0)
            log_error("http: watcher eventfd: %s", strerror(errno));
        pthread_mutex_unlock(&w->mu);
        pthread_join(w->thread, NULL);
    }
    if (w->epfd > 0)
        close(w->epfd);
    if (w->evfd > 0)
        close(w->evfd);
    pthread_mutex_destroy(&w->mu);
}

/* Wakes every streamed request once stopping is set: none may stay
 * suspended when MHD_stop_daemon() runs. */
static void watcher_wake_all(struct http_server *srv)
{
    struct watcher *w = &srv->w;
    pthread_mutex_lock(&w->mu);
    for (struct http_request *r = w->streams; r; r = r->snext) {
        watch_clear(w, r);
        http_stream_wake(r);
    }
    pthread_mutex_unlock(&w->mu);
}

/* The headers have arrived on a stream route: run its handler now. */
static enum MHD_Result stream_start(struct http_server *srv, struct http_request *req)
{
    struct watcher *w = &srv->w;
    req->stream = true;
    pthread_mutex_init(&req->mu, NULL);
    pthread_mutex_lock(&w->mu);
    req->wid = w->next_id++;
    req->snext = w->streams;
    if (w->streams)
        w->streams->sprev = req;
    w->streams = req;
    pthread_mutex_unlock(&w->mu);
    srv->stream_routes[req->route - srv->nroutes].fn(req, srv->ctx);
    if (!req->responded && !req->ops) {
        log_error("http: stream handler %s neither answered nor began (request %s)",
                  route_name(srv, req->route), req->id);
        respond_error_json(req, BE_INTERNAL);
    }
    return MHD_YES;
}

/* The request ended (answered, client gone, or the daemon closing it). */
static void stream_end(struct http_server *srv, struct http_request *req)
{
    struct watcher *w = &srv->w;
    pthread_mutex_lock(&w->mu);
    watch_clear(w, req);
    if (req->sprev)
        req->sprev->snext = req->snext;
    else
        w->streams = req->snext;
    if (req->snext)
        req->snext->sprev = req->sprev;
    pthread_mutex_unlock(&w->mu);
    if (req->ops && req->ops->done)
        req->ops->done(req->octx);
    pthread_mutex_destroy(&req->mu);
}

static enum MHD_Result stream_request(struct http_request *req, const char *data, size_t *size)
{
    if (*size) {
        while (*size && !req->responded && req->ops) {
            size_t n = req->ops->body(req->octx, req, data, *size);
            if (req->abort)
                return MHD_NO;
            if (n > *size)
                n = *size;
            req->bytes_in += n;
            data += n;
            *size -= n;
            if (!*size || req->responded)
                break;
            enum pause_result p = stream_pause(req);
            if (p == PAUSE_SUSPENDED)
                return MHD_YES; /* MHD offers the rest again once resumed */
            if (p == PAUSE_STOPPING)
                respond_error_json(req, BE_SHUTTING_DOWN);
        }
        /* Answered already (or never begun): the rest is read and dropped. */
        req->bytes_in += *size;
        *size = 0;
        return MHD_YES;
    }
    while (!req->responded) {
        if (req->ops)
            req->ops->complete(req->octx, req);
        if (req->responded)
            break;
        enum pause_result p = stream_pause(req);
        if (p == PAUSE_SUSPENDED)
            break;
        if (p == PAUSE_STOPPING)
            respond_error_json(req, BE_SHUTTING_DOWN);
    }
    return MHD_YES;
}

void http_stream_abort(struct http_request *req)
{
    req->abort = true;
}

void http_stream_begin(struct http_request *req, const struct http_stream_ops *ops, void *ctx)
{
    req->ops = ops;
    req->octx = ctx;
}

struct header_it {
    http_header_fn fn;
    void *ctx;
};

static enum MHD_Result header_iter(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value)
{
    struct header_it *it = cls;
    (void)kind;
    it->fn(it->ctx, key, value ? value : "");
    return MHD_YES;
}

void http_req_headers(const struct http_request *req, http_header_fn fn, void *ctx)
{
    struct header_it it = {fn, ctx};
    MHD_get_connection_values(req->conn, MHD_HEADER_KIND, header_iter, &it);
}

/* ---- libmicrohttpd callbacks ---- */

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
    struct http_server *srv = cls;
    struct http_request *req = xcalloc(1, sizeof(*req));
    req->srv = srv;
    req->conn = conn;
    req->start_ns = time_mono_ns();
    req->route = srv->nall;
    req->headers_tail = &req->headers;
    req->wfd = -1;
    buf_init(&req->body);
    crypto_uuid4(req->id);
    const char *q = uri ? strchr(uri, '?') : NULL;
    req->raw_query = arena_strdup(&req->arena, q ? q + 1 : "");
    req->raw_uri = arena_strdup(&req->arena, uri ? uri : "");
    atomic_fetch_add(&srv->in_flight, 1);
    return req;
}

static void access_log(struct http_request *req, double secs)
{
    struct buf line = BUF_INIT;
    char ts[21];
    time_fmt_iso(time_now(), ts);
    buf_addf(&line, "{\"ts\":\"%s\",\"level\":\"access\",\"request_id\":\"%s\",\"method\":\"", ts,
             req->id);
    json_escape(&line, req->method);
    buf_adds(&line, "\",\"path\":\"");
    json_escape(&line, req->path);
    buf_addf(&line,
             "\",\"route\":\"%s\",\"status\":%u,\"ms\":%.3f,\"ip\":\"%s\","
             "\"bytes_in\":%zu,\"bytes_out\":%zu}",
             route_name(req->srv, req->route), req->status, secs * 1000.0, req->ip, req->bytes_in,
             req->bytes_out);
    log_line(line.data, line.len);
    buf_release(&line);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct http_server *srv = cls;
    struct http_request *req = *con_cls;
    (void)conn;
    (void)toe;
    if (!req)
        return;
    if (req->stream)
        stream_end(srv, req);
    else if (req->deferred)
        pthread_mutex_destroy(&req->mu);
    if (req->stash) /* the client went away before the answer could go */
        MHD_destroy_response(req->stash);
    if (req->started) {
        double secs = (double)(time_mono_ns() - req->start_ns) / 1e9;
        struct route_metrics *m = &srv->metrics[req->route];
        atomic_fetch_add_explicit(&m->by_status[status_slot(req->status)], 1,
                                  memory_order_relaxed);
        size_t b = 0;
        while (b < NBUCKETS && secs > latency_buckets[b])
            b++;
        atomic_fetch_add_explicit(&m->latency[b], 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&m->latency_sum_us, (uint64_t)(secs * 1e6),
                                  memory_order_relaxed);
        if (srv->opts.access_log)
            access_log(req, secs);
    }
    struct resp_header *h = req->headers;
    while (h) {
        struct resp_header *next = h->next;
        free(h->name);
        free(h->value);
        free(h);
        h = next;
    }
    buf_release(&req->body);
    arena_release(&req->arena);
    free(req);
    *con_cls = NULL;
    atomic_fetch_sub(&srv->in_flight, 1);
}

static size_t match_stream_route(const struct http_server *srv, const char *method,
                                 const char *path)
{
    for (size_t i = 0; i < srv->nstream; i++) {
        const struct http_route *r = &srv->stream_routes[i];
        if (r->method && strcmp(r->method, method))
            continue;
        if (r->prefix ? !strncmp(path, r->path, strlen(r->path)) : !strcmp(path, r->path))
            return srv->nroutes + i;
    }
    return srv->nall;
}

static size_t match_route(const struct http_server *srv, const char *method, const char *path)
{
    for (size_t i = 0; i < srv->nroutes; i++) {
        const struct http_route *r = &srv->routes[i];
        if (r->method && strcmp(r->method, method))
            continue;
        if (r->prefix ? !strncmp(path, r->path, strlen(r->path)) : !strcmp(path, r->path))
            return i;
    }
    return srv->nall;
}

static bool path_known(const struct http_server *srv, const char *path)
{
    for (size_t i = 0; i < srv->nroutes; i++) {
        const struct http_route *r = &srv->routes[i];
        if (r->prefix ? !strncmp(path, r->path, strlen(r->path)) : !strcmp(path, r->path))
            return true;
    }
    return false;
}

static void respond_error_json(struct http_request *req, int err)
{
    struct buf b = BUF_INIT;
    buf_addf(&b, "{\"Response\":{\"Error\":{\"Code\":\"%s\",\"Message\":\"%s\"},\"RequestId\":\"%s\"}}",
             be_err_code(err), be_err_message(err), req->id);
    size_t len;
    char *body = buf_detach(&b, &len);
    http_respond_take(req, (unsigned)be_err_status(err), "application/json", body, len);
}

/* ---- deferred handlers ---- */

#define OFFLOAD_THREADS 32

void http_defer(struct http_request *req, http_defer_fn fn, void *arg)
{
    req->deferred = true;
    req->dfn = fn;
    req->darg = arg;
}

/* In the worker: sends fn's answer once there is one, else suspends until
 * the offload thread wakes the connection (stream_pause closes the race
 * between "no answer yet" and the wake). */
static enum MHD_Result defer_wait(struct http_request *req)
{
    for (;;) {
        pthread_mutex_lock(&req->mu);
        struct MHD_Response *resp = req->stash;
        req->stash = NULL;
        pthread_mutex_unlock(&req->mu);
        if (resp) {
            if (MHD_queue_response(req->conn, req->status, resp) != MHD_YES)
                log_error("http: cannot queue response (request %s)", req->id);
            MHD_destroy_response(resp);
            return MHD_YES;
        }
        if (stream_pause(req) != PAUSE_RETRY)
            return MHD_YES; /* suspended; or stopping, when every job has ended */
    }
}

static enum MHD_Result defer_start(struct http_server *srv, struct http_request *req)
{
    struct offload *o = &srv->off;
    pthread_mutex_init(&req->mu, NULL);
    pthread_mutex_lock(&o->mu);
    if (o->tail)
        o->tail->dnext = req;
    else
        o->head = req;
    o->tail = req;
    pthread_cond_signal(&o->cv);
    pthread_mutex_unlock(&o->mu);
    return defer_wait(req);
}

static void *offload_run(void *arg)
{
    struct http_server *srv = arg;
    struct offload *o = &srv->off;
    for (;;) {
        pthread_mutex_lock(&o->mu);
        while (!o->head && !o->quit)
            pthread_cond_wait(&o->cv, &o->mu);
        struct http_request *req = o->head;
        bool quit = o->quit;
        if (req) {
            o->head = req->dnext;
            if (!o->head)
                o->tail = NULL;
        }
        pthread_mutex_unlock(&o->mu);
        if (!req)
            break;
        /* The answer is kept under the request's mutex: the worker reads it
         * there after the wake. */
        pthread_mutex_lock(&req->mu);
        req->offthread = true;
        pthread_mutex_unlock(&req->mu);
        if (quit)
            respond_error_json(req, BE_SHUTTING_DOWN);
        else
            req->dfn(req, req->darg);
        if (!req->responded) {
            log_error("http: deferred handler %s did not respond (request %s)",
                      route_name(srv, req->route), req->id);
            respond_error_json(req, BE_INTERNAL);
        }
        pthread_mutex_lock(&req->mu);
        req->offthread = false;
        pthread_mutex_unlock(&req->mu);
        http_stream_wake(req);
    }
    return NULL;
}

static int offload_start(struct http_server *srv, unsigned n)
{
    struct offload *o = &srv->off;
    pthread_mutex_init(&o->mu, NULL);
    pthread_cond_init(&o->cv, NULL);
    o->threads = xcalloc(n, sizeof(*o->threads));
    for (o->n = 0; o->n < n; o->n++)
        if (pthread_create(&o->threads[o->n], NULL, offload_run, srv))
            return BE_FAILED;
    return BE_OK;
}

/* Answers the deferred requests not started yet with 503, lets the running
 * ones finish, and joins the threads. */
static void offload_stop(struct http_server *srv)
{
    struct offload *o = &srv->off;
    pthread_mutex_lock(&o->mu);
    o->quit = true;
    pthread_cond_broadcast(&o->cv);
    pthread_mutex_unlock(&o->mu);
    for (unsigned i = 0; i < o->n; i++)
        pthread_join(o->threads[i], NULL);
    free(o->threads);
    o->threads = NULL;
    o->n = 0;
    pthread_cond_destroy(&o->cv);
    pthread_mutex_destroy(&o->mu);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    struct http_server *srv = cls;
    struct http_request *req = *con_cls;
    (void)version;
    if (!req)
        return MHD_NO;
    if (!req->started) {
        req->started = true;
        req->method = arena_strdup(&req->arena, method);
        req->path = arena_strdup(&req->arena, url);
        fill_client_ip(req);
        req->route = match_stream_route(srv, req->method, req->path);
        if (req->route != srv->nall)
            return stream_start(srv, req);
        const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
        uint64_t n;
        if (cl && (parse_u64(cl, UINT64_MAX, &n) || n > srv->opts.max_body)) {
            req->too_large = true;
            /* Answering before the body is read makes the server close the
             * connection while the client still sends, and many clients
             * then lose the answer. Read and drop moderate excess; answer
             * at once only when the body is absurdly large. */
            if (!cl || parse_u64(cl, UINT64_MAX, &n) || n > DRAIN_FACTOR * srv->opts.max_body)
                respond_error_json(req, BE_BODY_TOO_LARGE);
        }
        return MHD_YES;
    }
    if (req->stream)
        return stream_request(req, upload_data, upload_data_size);
    if (req->deferred)
        return defer_wait(req);
    if (*upload_data_size) {
        req->bytes_in += *upload_data_size;
        if (!req->too_large && req->body.len + *upload_data_size > srv->opts.max_body) {
            req->too_large = true;
            req->dropped = req->body.len;
            buf_release(&req->body);
        }
        if (req->too_large) {
            req->dropped += *upload_data_size;
            if (req->dropped > DRAIN_FACTOR * srv->opts.max_body && !req->responded)
                respond_error_json(req, BE_BODY_TOO_LARGE);
        } else {
            buf_add(&req->body, upload_data, *upload_data_size);
        }
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (req->responded)
        return MHD_YES;
    if (req->too_large) {
        respond_error_json(req, BE_BODY_TOO_LARGE);
        return MHD_YES;
    }
    req->route = match_route(srv, req->method, req->path);
    if (req->route == srv->nall) {
        if (path_known(srv, req->path))
            respond_error_json(req, BE_UNSUPPORTED_PROTOCOL);
        else
            http_respond_text(req, 404, "not found\n");
        return MHD_YES;
    }
    srv->routes[req->route].fn(req, srv->ctx);
    if (req->deferred && !req->responded)
        return defer_start(srv, req);
    if (!req->responded) {
        log_error("http: handler %s did not respond (request %s)", srv->routes[req->route].name,
                  req->id);
        respond_error_json(req, BE_INTERNAL);
    }
    return MHD_YES;
}

/* ---- server ---- */

int http_server_start(const struct http_server_options *opts, const struct http_route *routes,
                      size_t nroutes, void *ctx, struct http_server **ret_server)
{
    char host[256];
    uint16_t port;
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    if (parse_host_port(opts->listen, host, sizeof(host), &port))
        return BE_INVALID_PARAMETER;
    struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG |
                     MHD_USE_ITC | MHD_ALLOW_SUSPEND_RESUME;
    if (inet_pton(AF_INET, !strcmp(host, "localhost") ? "127.0.0.1" : host, &sin->sin_addr) == 1) {
        sin->sin_family = AF_INET;
        sin->sin_port = htons(port);
    } else if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons(port);
        flags |= MHD_USE_IPv6;
    } else {
        return BE_INVALID_PARAMETER;
    }
    struct http_server *srv = xcalloc(1, sizeof(*srv));
    srv->routes = routes;
    srv->nroutes = nroutes;
    srv->stream_routes = opts->stream_routes;
    srv->nstream = opts->stream_routes ? opts->nstream_routes : 0;
    srv->nall = nroutes + srv->nstream;
    srv->ctx = ctx;
    srv->opts = *opts;
    srv->metrics = xcalloc(srv->nall + 1, sizeof(*srv->metrics));
    srv->w.epfd = srv->w.evfd = -1;
    if (watcher_start(srv) || offload_start(srv, opts->offload_threads ? opts->offload_threads
                                                                        : OFFLOAD_THREADS)) {
        log_error("http: cannot start the stream watcher or offload threads: %s",
                  strerror(errno));
        offload_stop(srv);
        watcher_stop(srv);
        free(srv->metrics);
        free(srv);
        return BE_FAILED;
    }
    unsigned threads = opts->threads;
    if (!threads) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        threads = n > 0 ? (unsigned)n : 1;
    }
    srv->daemon = MHD_start_daemon(
        flags, port, NULL, NULL, on_request, srv, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
        MHD_OPTION_THREAD_POOL_SIZE, threads, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)opts->timeout_s, MHD_OPTION_CONNECTION_LIMIT, opts->max_connections,
        MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024u, MHD_OPTION_URI_LOG_CALLBACK, on_uri, srv,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv, MHD_OPTION_END);
    if (!srv->daemon) {
        log_error("http: cannot listen on %s: %s", opts->listen, strerror(errno));
        offload_stop(srv);
        watcher_stop(srv);
        free(srv->metrics);
        free(srv);
        return BE_FAILED;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_BIND_PORT);
    srv->port = di ? di->port : port;
    *ret_server = srv;
    return BE_OK;
}

uint16_t http_server_port(const struct http_server *srv)
{
    return srv->port;
}

void http_server_stop(struct http_server *srv, unsigned grace_s)
{
    if (!srv)
        return;
    MHD_socket fd = MHD_quiesce_daemon(srv->daemon);
    if (fd != MHD_INVALID_SOCKET)
        close(fd);
    uint64_t deadline = time_mono_ns() + (uint64_t)grace_s * 1000000000u;
    while (atomic_load(&srv->in_flight) > 0 && time_mono_ns() < deadline) {
        struct timespec ts = {0, 10 * 1000000L};
        nanosleep(&ts, NULL);
    }
    /* MHD must not be stopped with suspended connections: wake every
     * streamed request; from now on none waits again (each ends with an
     * error), and MHD_stop_daemon() finishes the resumes still queued. */
    atomic_store(&srv->stopping, true);
    watcher_wake_all(srv);
    offload_stop(srv); /* deferred handlers: the last answers and wakes */
    MHD_stop_daemon(srv->daemon);
    watcher_stop(srv);
    free(srv->metrics);
    free(srv);
}

void http_server_metrics(struct http_server *srv, struct buf *out)
{
    buf_adds(out, "# HELP bindery_http_requests_total HTTP requests by route and status.\n"
                  "# TYPE bindery_http_requests_total counter\n");
    for (size_t r = 0; r <= srv->nall; r++) {
        const char *name = route_name(srv, r);
        for (size_t s = 0; s < NSTATUS; s++) {
            uint64_t v = atomic_load(&srv->metrics[r].by_status[s]);
            if (!v)
                continue;
            if (s < NSTATUS - 1)
                buf_addf(out, "bindery_http_requests_total{route=\"%s\",status=\"%u\"} %llu\n",
                         name, counted_status[s], (unsigned long long)v);
            else
                buf_addf(out, "bindery_http_requests_total{route=\"%s\",status=\"other\"} %llu\n",
                         name, (unsigned long long)v);
        }
    }
    buf_adds(out, "# HELP bindery_http_request_duration_seconds Request latency by route.\n"
                  "# TYPE bindery_http_request_duration_seconds histogram\n");
    for (size_t r = 0; r <= srv->nall; r++) {
        const char *name = route_name(srv, r);
        uint64_t cum = 0;
        for (size_t b = 0; b <= NBUCKETS; b++)
            cum += atomic_load(&srv->metrics[r].latency[b]);
        if (!cum)
            continue;
        cum = 0;
        for (size_t b = 0; b < NBUCKETS; b++) {
            cum += atomic_load(&srv->metrics[r].latency[b]);
            buf_addf(out,
                     "bindery_http_request_duration_seconds_bucket{route=\"%s\",le=\"%g\"} %llu\n",
                     name, latency_buckets[b], (unsigned long long)cum);
        }
        cum += atomic_load(&srv->metrics[r].latency[NBUCKETS]);
        buf_addf(out,
                 "bindery_http_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"} %llu\n"
                 "bindery_http_request_duration_seconds_sum{route=\"%s\"} %.6f\n"
                 "bindery_http_request_duration_seconds_count{route=\"%s\"} %llu\n",
                 name, (unsigned long long)cum, name,
                 (double)atomic_load(&srv->metrics[r].latency_sum_us) / 1e6, name,
                 (unsigned long long)cum);
    }
    buf_addf(out, "# HELP bindery_http_in_flight Requests being processed.\n"
                  "# TYPE bindery_http_in_flight gauge\nbindery_http_in_flight %ld\n",
             atomic_load(&srv->in_flight));
}

/* ---- request accessors ---- */

const char *http_req_method(const struct http_request *req)
{
    return req->method;
}

const char *http_req_path(const struct http_request *req)
{
    return req->path;
}

const char *http_req_query_raw(const struct http_request *req)
{
    return req->raw_query;
}

const char *http_req_uri_raw(const struct http_request *req)
{
    return req->raw_uri;
}

const char *http_req_header(const struct http_request *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

const char *http_req_arg(const struct http_request *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
}

const char *http_req_cookie(const struct http_request *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_COOKIE_KIND, name);
}

const char *http_req_body(const struct http_request *req, size_t *ret_len)
{
    if (ret_len)
        *ret_len = req->body.len;
    return req->body.data;
}

const char *http_req_id(const struct http_request *req)
{
    return req->id;
}

const char *http_req_client_ip(const struct http_request *req)
{
    return req->ip;
}

bool http_req_is_tls(const struct http_request *req)
{
    if (!req->srv->opts.trust_proxy)
        return false;
    const char *p = http_req_header(req, "X-Forwarded-Proto");
    return p && !strcmp(p, "https");
}

struct arena *http_req_arena(struct http_request *req)
{
    return &req->arena;
}

/* ---- responses ---- */

void http_resp_header(struct http_request *req, const char *name, const char *value)
{
    struct resp_header *h = xcalloc(1, sizeof(*h));
    h->name = xstrdup(name);
    h->value = xstrdup(value);
    /* Appended: the order of repeated headers (Set-Cookie, Link, ...) is kept. */
    *req->headers_tail = h;
    req->headers_tail = &h->next;
}

static void queue(struct http_request *req, unsigned status, const char *content_type,
                  struct MHD_Response *resp, size_t len)
{
    if (req->responded) {
        MHD_destroy_response(resp);
        return;
    }
    MHD_add_response_header(resp, "X-Request-Id", req->id);
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    if (content_type)
        MHD_add_response_header(resp, "Content-Type", content_type);
    for (struct resp_header *h = req->headers; h; h = h->next)
        MHD_add_response_header(resp, h->name, h->value);
    req->status = status;
    req->bytes_out = len;
    req->responded = true;
    if (req->offthread) {
        req->stash = resp; /* MHD queues only from its own callbacks */
        return;
    }
    if (MHD_queue_response(req->conn, status, resp) != MHD_YES)
        log_error("http: cannot queue response (request %s)", req->id);
    MHD_destroy_response(resp);
}

void http_respond(struct http_request *req, unsigned status, const char *content_type,
                  const void *body, size_t len)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (!resp)
        abort();
    queue(req, status, content_type, resp, len);
}

void http_respond_take(struct http_request *req, unsigned status, const char *content_type,
                       char *body, size_t len)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    if (!resp)
        abort();
    queue(req, status, content_type, resp, len);
}

static ssize_t stream_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct http_request *req = cls;
    (void)pos;
    for (;;) {
        ssize_t n = req->read_fn(req->read_ctx, buf, max);
        if (n > 0) {
            req->bytes_out += (size_t)n;
            return n;
        }
        if (n == HTTP_STREAM_END)
            return MHD_CONTENT_READER_END_OF_STREAM;
        if (n != HTTP_STREAM_AGAIN || !req->stream)
            return MHD_CONTENT_READER_END_WITH_ERROR;
        enum pause_result p = stream_pause(req);
        if (p == PAUSE_SUSPENDED)
            return 0; /* MHD asks again once resumed */
        if (p == PAUSE_STOPPING)
            return MHD_CONTENT_READER_END_WITH_ERROR;
    }
}

void http_respond_stream(struct http_request *req, unsigned status, const char *content_type,
                         uint64_t size, http_read_fn read_fn, void *ctx)
{
    req->read_fn = read_fn;
    req->read_ctx = ctx;
    struct MHD_Response *resp =
        MHD_create_response_from_callback(size == HTTP_SIZE_UNKNOWN ? MHD_SIZE_UNKNOWN : size,
                                          STREAM_BLOCK, stream_reader, req, NULL);
    if (!resp)
        abort();
    queue(req, status, content_type, resp, 0);
}

void http_respond_text(struct http_request *req, unsigned status, const char *text)
{
    http_respond(req, status, "text/plain; charset=utf-8", text, strlen(text));
}

void http_redirect(struct http_request *req, const char *location)
{
    http_resp_header(req, "Location", location);
    http_respond(req, 303, NULL, "", 0);
}

static const char *content_type_for(const char *path)
{
    static const struct {
        const char *ext, *type;
    } types[] = {
        {".html", "text/html; charset=utf-8"},
        {".js", "text/javascript; charset=utf-8"},
        {".mjs", "text/javascript; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},
        {".svg", "image/svg+xml"},
        {".png", "image/png"},
        {".ico", "image/x-icon"},
        {".json", "application/json"},
        {".txt", "text/plain; charset=utf-8"},
    };
    const char *dot = strrchr(path, '.');
    for (size_t i = 0; dot && i < sizeof(types) / sizeof(types[0]); i++)
        if (!strcmp(dot, types[i].ext))
            return types[i].type;
    return "application/octet-stream";
}

static bool safe_relpath(const char *p)
{
    if (!*p || *p == '/' || strlen(p) > 200)
        return false;
    for (const char *c = p; *c; c++) {
        bool ok = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
                  (*c >= '0' && *c <= '9') || *c == '.' || *c == '/' || *c == '-' || *c == '_';
        if (!ok)
            return false;
    }
    return !strstr(p, "..") && !strstr(p, "//");
}

void http_serve_file(struct http_request *req, const char *root, const char *relpath)
{
    struct buf path = BUF_INIT;
    int fd = -1;
    if (!safe_relpath(relpath))
        goto not_found;
    buf_addf(&path, "%s/%s", root, relpath);
    fd = open(path.data, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_size > MAX_FILE_BYTES)
        goto not_found;
    char *data = xmalloc((size_t)st.st_size + 1);
    size_t got = 0;
    while (got < (size_t)st.st_size) {
        ssize_t r = read(fd, data + got, (size_t)st.st_size - got);
        if (r <= 0) {
            free(data);
            goto not_found;
        }
        got += (size_t)r;
    }
    const char *type = content_type_for(relpath);
    if (!strncmp(type, "text/html", 9)) {
        http_resp_header(req, "Cache-Control", "no-cache");
        http_resp_header(req, "X-Frame-Options", "DENY");
        /* The WeChat authorization page checks the Referer's origin (spec
         * §5.2): send the origin, never the path, across sites. */
        http_resp_header(req, "Referrer-Policy", "strict-origin-when-cross-origin");
        http_resp_header(req, "Content-Security-Policy",
                         "default-src 'self'; img-src 'self' data:; style-src 'self'; "
                         "frame-ancestors 'none'; form-action 'self'");
    } else {
        /* Revalidate every time: a page must never run with a stale script
         * after an upgrade. The files are small. */
        http_resp_header(req, "Cache-Control", "no-cache");
    }
    http_respond_take(req, 200, type, data, got);
    goto out;
not_found:
    http_respond_text(req, 404, "not found\n");
out:
    if (fd >= 0)
        close(fd);
    buf_release(&path);
}
