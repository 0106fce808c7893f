#include "http/http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

struct http_server {
    struct MHD_Daemon *daemon;
    const struct http_route *routes;
    size_t nroutes;
    void *ctx;
    struct http_server_options opts;
    uint16_t port;
    _Atomic long in_flight;
    struct route_metrics *metrics; /* nroutes + 1 (unmatched) */
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
    struct buf body;
    bool started, too_large, responded;
    size_t dropped; /* body bytes read and dropped once over the ceiling */
    size_t route; /* index into routes, nroutes when unmatched */
    unsigned status;
    size_t bytes_out;
    uint64_t start_ns;
    struct resp_header *headers;
    /* A streamed route: its state until end or abort, and whether it
     * stopped taking the body. */
    const struct http_stream_route *stream;
    void *stream_state;
    bool stream_stopped;
};

/* ---- helpers ---- */

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

/* ---- libmicrohttpd callbacks ---- */

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
    struct http_server *srv = cls;
    struct http_request *req = xcalloc(1, sizeof(*req));
    req->srv = srv;
    req->conn = conn;
    req->start_ns = time_mono_ns();
    req->route = srv->nroutes;
    buf_init(&req->body);
    crypto_uuid4(req->id);
    const char *q = uri ? strchr(uri, '?') : NULL;
    req->raw_query = arena_strdup(&req->arena, q ? q + 1 : "");
    atomic_fetch_add(&srv->in_flight, 1);
    return req;
}

/* Metrics slots: routes, then "unmatched", then the streamed routes. */
static size_t nslots(const struct http_server *srv)
{
    return srv->nroutes + 1 + srv->opts.nstreams;
}

static const char *slot_name(const struct http_server *srv, size_t slot)
{
    if (slot < srv->nroutes)
        return srv->routes[slot].name;
    if (slot > srv->nroutes && slot < nslots(srv))
        return srv->opts.streams[slot - srv->nroutes - 1].name;
    return "unmatched";
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
    buf_addf(&line, "\",\"route\":\"%s\",\"status\":%u,\"ms\":%.3f,\"ip\":\"%s\","
                    "\"bytes_in\":%zu,\"bytes_out\":%zu}",
             slot_name(req->srv, req->route),
             req->status, secs * 1000.0, req->ip, req->body.len, req->bytes_out);
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
    if (req->stream_state)
        req->stream->abort(req->stream_state);
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

static size_t match_route(const struct http_server *srv, const char *method, const char *path)
{
    for (size_t i = 0; i < srv->nroutes; i++) {
        const struct http_route *r = &srv->routes[i];
        if (r->method && strcmp(r->method, method))
            continue;
        if (r->prefix ? !strncmp(path, r->path, strlen(r->path)) : !strcmp(path, r->path))
            return i;
    }
    return srv->nroutes;
}

static void respond_error_json(struct http_request *req, int err);

static const struct http_stream_route *match_stream(const struct http_server *srv,
                                                    const char *method, const char *path,
                                                    size_t *ret_slot)
{
    for (size_t i = 0; i < srv->opts.nstreams; i++) {
        const struct http_stream_route *r = &srv->opts.streams[i];
        if (!strcmp(r->method, method) && !strncmp(path, r->prefix, strlen(r->prefix))) {
            *ret_slot = srv->nroutes + 1 + i;
            return r;
        }
    }
    return NULL;
}

/* A streamed body: feed it, or drop it once the handler stopped; a very
 * large excess is answered at once (the connection then closes). */
static void stream_data(struct http_request *req, const char *data, size_t len)
{
    if (!req->stream_stopped && req->stream_state &&
        req->stream->data(req->stream_state, data, len)) {
        req->stream_stopped = true;
        return;
    }
    if (!req->stream_stopped)
        return;
    req->dropped += len;
    if (req->dropped > DRAIN_FACTOR * req->srv->opts.max_body && req->stream_state) {
        void *state = req->stream_state;
        req->stream_state = NULL;
        req->stream->end(req, req->srv->ctx, state);
    }
}

static void stream_end(struct http_request *req)
{
    void *state = req->stream_state;
    req->stream_state = NULL;
    if (state)
        req->stream->end(req, req->srv->ctx, state);
    if (!req->responded) {
        log_error("http: stream handler %s did not respond (request %s)", req->stream->name,
                  req->id);
        respond_error_json(req, BE_INTERNAL);
    }
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
        size_t slot;
        req->stream = match_stream(srv, req->method, req->path, &slot);
        if (req->stream) {
            req->route = slot;
            req->stream_state = req->stream->begin(req, srv->ctx);
            return MHD_YES;
        }
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
    if (req->stream) {
        if (*upload_data_size)
            stream_data(req, upload_data, *upload_data_size);
        else if (!req->responded)
            stream_end(req);
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (*upload_data_size) {
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
    if (req->route == srv->nroutes) {
        if (path_known(srv, req->path))
            respond_error_json(req, BE_UNSUPPORTED_PROTOCOL);
        else
            http_respond_text(req, 404, "not found\n");
        return MHD_YES;
    }
    srv->routes[req->route].fn(req, srv->ctx);
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
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG | MHD_USE_ITC;
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
    srv->ctx = ctx;
    srv->opts = *opts;
    srv->metrics = xcalloc(nroutes + 1 + opts->nstreams, sizeof(*srv->metrics));
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
    MHD_stop_daemon(srv->daemon);
    free(srv->metrics);
    free(srv);
}

void http_server_metrics(struct http_server *srv, struct buf *out)
{
    buf_adds(out, "# HELP bindery_http_requests_total HTTP requests by route and status.\n"
                  "# TYPE bindery_http_requests_total counter\n");
    for (size_t r = 0; r < nslots(srv); r++) {
        const char *name = slot_name(srv, r);
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
    for (size_t r = 0; r < nslots(srv); r++) {
        const char *name = slot_name(srv, r);
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
    h->next = req->headers;
    req->headers = h;
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
