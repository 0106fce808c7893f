/* The HTTP server: libmicrohttpd with epoll and a worker pool, a route
 * table, bounded request bodies, a request id on every response and log
 * line, a JSON access log, Prometheus metrics and graceful shutdown.
 *
 * A handler runs once the whole body has arrived, in a worker thread, and
 * must answer exactly once with one of the http_respond* calls. Everything a
 * handler allocates from http_req_arena() is freed when the request ends.
 *
 * Stream routes (the reverse proxy, docs/http.md "Streamed requests") are
 * the exception: their handler runs as soon as the headers have arrived,
 * the body is handed over piece by piece, the answer may be a streamed
 * body, and the request may wait on a file descriptor without holding a
 * worker thread. */
#ifndef BINDERY_HTTP_HTTP_H
#define BINDERY_HTTP_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/arena.h"
#include "core/buf.h"

struct http_server;
struct http_request;

typedef void (*http_handler_fn)(struct http_request *req, void *ctx);

struct http_route {
    const char *method; /* "GET", "POST", ... or NULL for any method */
    const char *path;   /* exact path, or a prefix when prefix is true */
    bool prefix;
    http_handler_fn fn;
    const char *name; /* label in metrics and the access log */
};

struct http_server_options {
    const char *listen; /* "127.0.0.1:8080" */
    unsigned threads;   /* worker threads; 0 = one per core */
    size_t max_body;    /* larger bodies get 413 */
    unsigned timeout_s; /* idle connection timeout */
    unsigned max_connections;
    bool access_log;
    bool trust_proxy; /* honour X-Forwarded-For / X-Forwarded-Proto */
    /* Stream routes (kept by reference), matched before `routes` when the
     * headers have arrived. Their handler must either answer or call
     * http_stream_begin(); max_body does not apply to them. May be NULL. */
    const struct http_route *stream_routes;
    size_t nstream_routes;
    /* Threads that run deferred handlers (http_defer); 0 = 32. */
    unsigned offload_threads;
};

/* Starts listening; routes (kept by reference, must outlive the server) are
 * matched in order; ctx is passed to every handler. */
int http_server_start(const struct http_server_options *opts, const struct http_route *routes,
                      size_t nroutes, void *ctx, struct http_server **ret_server);
/* Stops accepting, lets in-flight requests finish (up to grace_s seconds),
 * then closes every connection and frees the server. */
void http_server_stop(struct http_server *srv, unsigned grace_s);
/* The port actually bound (useful with port 0). */
uint16_t http_server_port(const struct http_server *srv);
/* Appends the Prometheus text exposition of the server's metrics. */
void http_server_metrics(struct http_server *srv, struct buf *out);

/* ---- request ---- */
const char *http_req_method(const struct http_request *req);
/* The path without the query string, percent-decoded by libmicrohttpd. */
const char *http_req_path(const struct http_request *req);
/* The raw query string as sent (no leading '?'), "" when absent. */
const char *http_req_query_raw(const struct http_request *req);
/* A header value (name case-insensitive) or NULL. */
const char *http_req_header(const struct http_request *req, const char *name);
/* Path and query exactly as the client sent them (not percent-decoded). */
const char *http_req_uri_raw(const struct http_request *req);
/* Calls fn for every request header in the order received (a repeated
 * header is seen once per line). The strings live as long as the request. */
typedef void (*http_header_fn)(void *ctx, const char *name, const char *value);
void http_req_headers(const struct http_request *req, http_header_fn fn, void *ctx);
/* A query argument (decoded) or NULL. */
const char *http_req_arg(const struct http_request *req, const char *name);
/* A cookie value or NULL. */
const char *http_req_cookie(const struct http_request *req, const char *name);
/* The raw body; NUL-terminated for convenience (the NUL is not counted). */
const char *http_req_body(const struct http_request *req, size_t *ret_len);
/* The UUID of this request, also sent as X-Request-Id. */
const char *http_req_id(const struct http_request *req);
/* The client's IP address (the X-Forwarded-For client when trusted). */
const char *http_req_client_ip(const struct http_request *req);
/* true when the client reached us over TLS (X-Forwarded-Proto when trusted). */
bool http_req_is_tls(const struct http_request *req);
struct arena *http_req_arena(struct http_request *req);

/* ---- response ---- */
/* Adds a response header; call before http_respond*. Values are copied. */
void http_resp_header(struct http_request *req, const char *name, const char *value);
void http_respond(struct http_request *req, unsigned status, const char *content_type,
                  const void *body, size_t len);
/* Takes ownership of body (malloc'd). */
void http_respond_take(struct http_request *req, unsigned status, const char *content_type,
                       char *body, size_t len);
void http_respond_text(struct http_request *req, unsigned status, const char *text);
/* 303 See Other to location. */
void http_redirect(struct http_request *req, const char *location);

/* ---- streamed requests (stream routes only) ----
 *
 * A stream route's handler either answers at once (the connection is then
 * closed if a body was on its way) or calls http_stream_begin() with ops
 * that take over the request. The server then calls, always from its own
 * threads and never two at a time for one request:
 *   body(ctx, req, data, len)  for each piece of the body as it arrives; it
 *       returns how many bytes it took. Taking fewer than len pauses the
 *       request (without holding a thread) until it is woken, and the rest
 *       is offered again. It may answer (e.g. 413): the rest is dropped.
 *   complete(ctx, req)  once the body has ended; it answers (any
 *       http_respond*), or returns without an answer after arranging a wake,
 *       and is called again after the wake.
 *   done(ctx)  when the request has ended, however it ended (answered,
 *       client gone, server stopping): the last call; afterwards neither ctx
 *       nor req may be used, in particular not with http_stream_wake().
 * A request is woken by http_stream_wake() (any thread, until done) or by
 * the server when the descriptor given to http_stream_wake_on_fd() is ready
 * or its time-out has passed (the owner checks which). During shutdown, a
 * request that would wait gets 503 (ResourceUnavailable.ShuttingDown), or a
 * streamed body ends with an error. */
struct http_stream_ops {
    size_t (*body)(void *ctx, struct http_request *req, const char *data, size_t len);
    void (*complete)(void *ctx, struct http_request *req);
    void (*done)(void *ctx);
};
void http_stream_begin(struct http_request *req, const struct http_stream_ops *ops, void *ctx);

/* ---- deferred handlers (ordinary routes) ----
 *
 * A handler that may wait a long time (a long-poll) calls http_defer() as
 * its last act instead of answering: fn(req, arg) then runs on one of the
 * server's offload threads while the connection is suspended, so the
 * worker thread goes on serving other connections. fn may use everything
 * of req (headers, body, arena) and answers with any http_respond* call
 * except http_respond_stream(); the answer is sent once fn returns (no
 * answer: 500). At most options.offload_threads run at once; more wait
 * their turn. While the server stops, requests not yet started get 503
 * and running ones finish (bound their waits). */
typedef void (*http_defer_fn)(struct http_request *req, void *arg);
void http_defer(struct http_request *req, http_defer_fn fn, void *arg);
void http_stream_wake(struct http_request *req);
/* Wakes req once fd is readable (writable when `writable`), hung up or in
 * error, or after timeout_ms: one registration per request, replacing the
 * previous one, dropped when it fires or the request ends (the caller keeps
 * fd open until then). Call from the request's callbacks. BE_INTERNAL when
 * the descriptor cannot be watched. */
int http_stream_wake_on_fd(struct http_request *req, int fd, bool writable, unsigned timeout_ms);
/* From body(): closes the connection at once, without an answer (MHD can
 * queue an answer only before the body or after it, so a client that keeps
 * sending past every limit is cut off this way). */
void http_stream_abort(struct http_request *req);

/* A streamed answer: read(ctx, buf, max) fills buf with up to max bytes and
 * returns the count, HTTP_STREAM_AGAIN after arranging a wake (nothing
 * now), HTTP_STREAM_END at the end, HTTP_STREAM_ERROR to abort the
 * connection (the client sees a truncated body). size is the body's length
 * (sent as Content-Length; ending early is an error) or HTTP_SIZE_UNKNOWN
 * (chunked). For HEAD, only the headers are sent and read is not called.
 * ctx must stay valid until the stream route's done(). */
#define HTTP_STREAM_AGAIN ((ssize_t)-1)
#define HTTP_STREAM_END   ((ssize_t)-2)
#define HTTP_STREAM_ERROR ((ssize_t)-3)
#define HTTP_SIZE_UNKNOWN UINT64_MAX
typedef ssize_t (*http_read_fn)(void *ctx, char *buf, size_t max);
void http_respond_stream(struct http_request *req, unsigned status, const char *content_type,
                         uint64_t size, http_read_fn read, void *ctx);

/* Serves a file below root for the request path minus strip_prefix; 404 for
 * anything that is not a plain file there, or that tries to leave root. */
void http_serve_file(struct http_request *req, const char *root, const char *relpath);

#endif
