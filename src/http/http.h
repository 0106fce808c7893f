/* The HTTP server: libmicrohttpd with epoll and a worker pool, a route
 * table, bounded request bodies, a request id on every response and log
 * line, a JSON access log, Prometheus metrics and graceful shutdown.
 *
 * A handler runs once the whole body has arrived, in a worker thread, and
 * must answer exactly once with one of the http_respond* calls. Everything a
 * handler allocates from http_req_arena() is freed when the request ends. */
#ifndef BINDERY_HTTP_HTTP_H
#define BINDERY_HTTP_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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

/* A route whose request body is streamed to the handler piece by piece
 * instead of being buffered under max_body (large uploads). The body has no
 * server-wide ceiling: the handler bounds it (data refuses what is over).
 *
 *   begin  headers arrived: returns the request's state (never NULL; it
 *          may record an error for end to answer);
 *   data   a piece of the body; non-zero stops the feeding (the rest of the
 *          body is read and dropped, or the connection closed when it is
 *          very large) and end then answers;
 *   end    the body is complete, or feeding stopped: must answer with one
 *          of the http_respond* calls, and frees state;
 *   abort  the request ended before end (the client went away): frees state.
 * All four run in the connection's worker thread. */
struct http_stream_route {
    const char *method;
    const char *prefix; /* path prefix */
    void *(*begin)(struct http_request *req, void *ctx);
    int (*data)(void *state, const void *data, size_t len);
    void (*end)(struct http_request *req, void *ctx, void *state);
    void (*abort)(void *state);
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
    /* Streamed routes (kept by reference), matched before the others. */
    const struct http_stream_route *streams;
    size_t nstreams;
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

/* Serves a file below root for the request path minus strip_prefix; 404 for
 * anything that is not a plain file there, or that tries to leave root. */
void http_serve_file(struct http_request *req, const char *root, const char *relpath);

#endif
