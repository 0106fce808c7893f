/* Why a plain socket and not libcurl for the upstream side: the proxy must
 * forward headers exactly (libcurl adds Accept, Expect and a form
 * Content-Type of its own and picks the body framing), must never block a
 * server thread (the request waits on the socket through the HTTP server's
 * watcher instead, so every step here is non-blocking), and must time out on
 * the app's silence only, not on a slow client. An HTTP/1.1 exchange with
 * `Connection: close` on 127.0.0.1 is little code: write the head and the
 * body, read a head, then a Content-Length, chunked or until-close body. */
#include "api/deploy_proxy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "api/web.h"
#include "core/buf.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/parse.h"
#include "core/timeutil.h"
#include "deploy/job.h"
#include "core/banned.h"

#define PREFIX         "/env/"
#define SESSION_COOKIE "bindery_session" /* api/console.c */
#define MAX_HEAD       (64u << 10)       /* the app's response head */
#define CHUNK_TAKE     (64u << 10)       /* body bytes framed as one upstream chunk */
#define MAX_CHUNK_LINE 1024              /* a chunk-size line of the app's body */
#define DRAIN_FACTOR   2 /* bodies over the ceiling are dropped up to this many times it */

enum framing { F_NONE, F_LENGTH, F_CHUNKED, F_CLOSE };
enum chunk_state { C_SIZE, C_DATA, C_DATA_CRLF, C_TRAILER, C_DONE };
enum io { IO_OK, IO_AGAIN, IO_ERR };

struct pxy {
    struct http_request *req; /* valid until on_done() */
    struct router *router;
    struct route_target *target; /* held until done: the switch drains it */
    char env_id[64];
    int fd;
    bool connecting, chunked_up, sent_last, up_broken, head_done, is_head;
    int early; /* BE_* answered once the body has been read and dropped; 0 = none */
    uint64_t max_body, got;
    unsigned connect_ms, idle_ms;
    uint64_t since_ns; /* last progress with the app (or the connect's start) */
    struct buf out;    /* bytes for the app not yet written, from out_off */
    size_t out_off;
    struct buf in; /* bytes from the app not yet used, from in_off */
    size_t in_off;
    enum framing framing;
    enum chunk_state cstate;
    uint64_t remaining; /* F_LENGTH: body bytes left; F_CHUNKED: of this chunk */
};

/* ---- helpers ---- */

static bool ieq(const char *a, const char *b)
{
    return !strcasecmp(a, b);
}

static bool has_token(const char *list, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = list; p && *p;) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        const char *e = p;
        while (*e && *e != ',' && *e != ' ' && *e != '\t' && *e != ';')
            e++;
        if ((size_t)(e - p) == n && !strncasecmp(p, name, n))
            return true;
        p = strchr(e, ',');
    }
    return false;
}

/* Hop-by-hop headers (RFC 9110 7.6.1) and those the proxy sets itself. */
static bool hop_by_hop(const char *name)
{
    static const char *const names[] = {"Connection",      "Keep-Alive",        "TE",
                                        "Trailer",         "Transfer-Encoding", "Upgrade",
                                        "Proxy-Connection"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (ieq(name, names[i]))
            return true;
    return !strncasecmp(name, "Proxy-", 6);
}

static bool clean_value(const char *s)
{
    return !strpbrk(s, "\r\n");
}

static uint64_t elapsed_ms(const struct pxy *p)
{
    return (time_mono_ns() - p->since_ns) / 1000000u;
}

static void progress(struct pxy *p)
{
    p->since_ns = time_mono_ns();
}

/* Arranges a wake on the app's socket for what is left of the current
 * time-out; false when it has passed. */
static bool wait_app(struct pxy *p, struct http_request *req, bool writable)
{
    unsigned limit = p->connecting ? p->connect_ms : p->idle_ms;
    uint64_t spent = elapsed_ms(p);
    if (spent >= limit)
        return false;
    return http_stream_wake_on_fd(req, p->fd, writable, (unsigned)(limit - spent)) == BE_OK;
}

/* ---- error pages ---- */

static void answer_error(struct pxy *p, struct http_request *req, int err)
{
    unsigned status = (unsigned)be_err_status(err);
    const char *accept = http_req_header(req, "Accept");
    const char *env = p->env_id[0] ? p->env_id : "?";
    struct buf b = BUF_INIT;
    const char *what = err == BE_ENV_NOT_LIVE  ? "has no live version"
                       : err == BE_APP_TIMEOUT ? "did not answer in time"
                       : err == BE_APP_FAILED  ? "failed to answer"
                       : err == BE_NOT_FOUND   ? "is not a valid environment id"
                                               : be_err_message(err);
    if (accept && strstr(accept, "application/json")) {
        buf_addf(&b,
                 "{\"Response\":{\"Error\":{\"Code\":\"%s\",\"Message\":\"environment %s %s\"},"
                 "\"RequestId\":\"%s\"}}",
                 be_err_code(err), env, what, http_req_id(req));
    } else {
        buf_addf(&b,
                 "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>%u</title></head>"
                 "<body><h1>%u</h1><p>Environment <code>%s</code> %s.</p>"
                 "<p>Error code <code>%s</code>, request <code>%s</code>.</p></body></html>\n",
                 status, status, env, what, be_err_code(err), http_req_id(req));
    }
    if (err == BE_ENV_NOT_LIVE)
        http_resp_header(req, "Retry-After", "5");
    http_resp_header(req, "Cache-Control", "no-store");
    size_t len;
    char *body = buf_detach(&b, &len);
    http_respond_take(req, status,
                      accept && strstr(accept, "application/json") ? "application/json"
                                                                   : "text/html; charset=utf-8",
                      body, len);
}

/* ---- the request to the app ---- */

struct head_ctx {
    struct buf *out;
    const char *connection; /* the client's Connection header: more hop-by-hop names */
};

/* The Cookie header minus the console's session cookie ("" when nothing
 * is left). */
static void add_cookie_header(struct buf *out, const char *value)
{
    struct buf kept = BUF_INIT;
    for (const char *p = value; *p;) {
        while (*p == ' ' || *p == ';')
            p++;
        const char *e = strchr(p, ';');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        size_t k = strlen(SESSION_COOKIE);
        bool session = n > k && !strncmp(p, SESSION_COOKIE, k) && (p[k] == '=' || p[k] == ' ');
        if (n && !session) {
            if (kept.len)
                buf_adds(&kept, "; ");
            buf_add(&kept, p, n);
        }
        p += n;
    }
    if (kept.len)
        buf_addf(out, "Cookie: %s\r\n", kept.data);
    buf_release(&kept);
}

static void copy_header(void *ctx, const char *name, const char *value)
{
    struct head_ctx *h = ctx;
    if (hop_by_hop(name) || ieq(name, "Expect") || ieq(name, "Content-Length") ||
        ieq(name, "Forwarded") || !strncasecmp(name, "X-Forwarded-", 12) ||
        (h->connection && has_token(h->connection, name)) || !clean_value(name) ||
        !clean_value(value))
        return;
    if (ieq(name, "Cookie")) {
        add_cookie_header(h->out, value);
        return;
    }
    buf_addf(h->out, "%s: %s\r\n", name, value);
}

static void build_head(struct pxy *p, struct http_request *req, const char *rest)
{
    struct buf *o = &p->out;
    buf_addf(o, "%s %s%s HTTP/1.1\r\n", http_req_method(req), *rest == '/' ? "" : "/", rest);
    struct head_ctx h = {o, http_req_header(req, "Connection")};
    http_req_headers(req, copy_header, &h);
    const char *host = http_req_header(req, "Host");
    buf_addf(o, "X-Forwarded-For: %s\r\n", http_req_client_ip(req));
    buf_addf(o, "X-Forwarded-Proto: %s\r\n", http_req_is_tls(req) ? "https" : "http");
    if (host && clean_value(host))
        buf_addf(o, "X-Forwarded-Host: %s\r\n", host);
    buf_addf(o, "X-Forwarded-Prefix: " PREFIX "%s\r\n", p->env_id);
    const char *cl = http_req_header(req, "Content-Length");
    const char *te = http_req_header(req, "Transfer-Encoding");
    uint64_t n;
    if (cl && !parse_u64(cl, UINT64_MAX, &n)) {
        buf_addf(o, "Content-Length: %llu\r\n", (unsigned long long)n);
    } else if (te) {
        p->chunked_up = true; /* the client's framing is gone: frame it again */
        buf_adds(o, "Transfer-Encoding: chunked\r\n");
    }
    buf_adds(o, "Connection: close\r\n\r\n");
}

static int connect_app(struct pxy *p, uint16_t port)
{
    p->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (p->fd < 0)
        return BE_INTERNAL;
    int one = 1;
    setsockopt(p->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    struct sockaddr_in a = {
        .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    progress(p);
    if (!connect(p->fd, (struct sockaddr *)&a, sizeof(a)))
        return BE_OK;
    if (errno == EINPROGRESS) {
        p->connecting = true;
        return BE_OK;
    }
    return BE_APP_FAILED;
}

/* Writes what is pending in p->out. */
static enum io flush_out(struct pxy *p)
{
    if (p->connecting) {
        struct pollfd pf = {p->fd, POLLOUT, 0};
        if (poll(&pf, 1, 0) == 0)
            return IO_AGAIN;
        int err = 0;
        socklen_t len = sizeof(err);
        if (getsockopt(p->fd, SOL_SOCKET, SO_ERROR, &err, &len) || err)
            return IO_ERR;
        p->connecting = false;
        progress(p);
    }
    while (p->out_off < p->out.len) {
        ssize_t n = send(p->fd, p->out.data + p->out_off, p->out.len - p->out_off,
                         MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            p->out_off += (size_t)n;
            progress(p);
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            return IO_AGAIN;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else {
            return IO_ERR;
        }
    }
    buf_reset(&p->out);
    p->out_off = 0;
    return IO_OK;
}

static size_t on_body(void *ctx, struct http_request *req, const char *data, size_t len)
{
    struct pxy *p = ctx;
    if (p->got + len > p->max_body && !p->early) {
        p->early = BE_BODY_TOO_LARGE; /* answered once the body has been dropped */
        if (p->fd >= 0)
            shutdown(p->fd, SHUT_RDWR); /* the app must not see a cut body as whole */
    }
    if (p->early || p->up_broken) {
        p->got += len;
        if (p->got > DRAIN_FACTOR * p->max_body)
            http_stream_abort(req);
        return len;
    }
    size_t taken = 0;
    enum io io = IO_OK;
    while (taken < len) {
        io = flush_out(p);
        if (io != IO_OK)
            break;
        if (p->chunked_up) {
            size_t n = len - taken < CHUNK_TAKE ? len - taken : CHUNK_TAKE;
            buf_addf(&p->out, "%zx\r\n", n);
            buf_add(&p->out, data + taken, n);
            buf_adds(&p->out, "\r\n");
            taken += n;
            continue;
        }
        ssize_t n = send(p->fd, data + taken, len - taken, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            taken += (size_t)n;
            progress(p);
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            io = IO_AGAIN;
            break;
        } else if (!(n < 0 && errno == EINTR)) {
            io = IO_ERR;
            break;
        }
    }
    if (io == IO_OK && p->out_off < p->out.len)
        io = flush_out(p);
    if (io == IO_ERR) {
        /* The app stopped reading (it may have answered already): drop the
         * rest and see whether an answer comes. */
        p->up_broken = true;
        p->got += len;
        return len;
    }
    p->got += taken;
    if (taken < len && !wait_app(p, req, true)) {
        p->early = p->connecting ? BE_APP_FAILED : BE_APP_TIMEOUT;
        p->got += len - taken;
        return len;
    }
    return taken;
}

/* ---- the app's answer ---- */

static const char *find_crlf(const char *s, size_t len)
{
    for (size_t i = 0; i + 1 < len; i++)
        if (s[i] == '\r' && s[i + 1] == '\n')
            return s + i;
    return NULL;
}

/* Reads from the app into p->in. */
static enum io fill_in(struct pxy *p, bool *ret_eof)
{
    if (p->in_off && p->in_off == p->in.len) {
        buf_reset(&p->in);
        p->in_off = 0;
    }
    buf_grow(&p->in, 16384);
    for (;;) {
        ssize_t n = recv(p->fd, p->in.data + p->in.len, 16384, MSG_DONTWAIT);
        if (n > 0) {
            p->in.len += (size_t)n;
            p->in.data[p->in.len] = '\0';
            progress(p);
            *ret_eof = false;
            return IO_OK;
        }
        if (n == 0) {
            *ret_eof = true;
            return IO_OK;
        }
        if (errno == EINTR)
            continue;
        return errno == EAGAIN || errno == EWOULDBLOCK ? IO_AGAIN : IO_ERR;
    }
}

static bool response_header_kept(const char *name, size_t nlen, const char *connection)
{
    char tmp[128];
    if (nlen == 0 || nlen >= sizeof(tmp))
        return false;
    memcpy(tmp, name, nlen);
    tmp[nlen] = '\0';
    /* Content-Length and the framing are MHD's; X-Request-Id and nosniff
     * are added by the HTTP server to every answer. */
    return !hop_by_hop(tmp) && !ieq(tmp, "Content-Length") && !ieq(tmp, "X-Request-Id") &&
           !ieq(tmp, "X-Content-Type-Options") && !(connection && has_token(connection, tmp));
}

/* An app must not set or clear the console's session cookie: it shares the
 * console's origin. */
static bool sets_session_cookie(const char *name, size_t nlen, const char *value)
{
    return nlen == 10 && !strncasecmp(name, "Set-Cookie", 10) &&
           !strncmp(value, SESSION_COOKIE, strlen(SESSION_COOKIE)) &&
           (value[strlen(SESSION_COOKIE)] == '=' || value[strlen(SESSION_COOKIE)] == ' ');
}

struct resp_head {
    unsigned status;
    bool has_length, chunked, has_te;
    uint64_t length;
    const char *connection;
};

/* Parses the head in [s, s+len) (ends with the blank line). First pass:
 * status and framing; second pass (apply): the headers to the response. */
static int parse_head(char *s, size_t len, struct http_request *req, bool apply,
                      struct resp_head *h)
{
    const char *end = s + len;
    const char *eol = find_crlf(s, len);
    if (!apply) {
        if (!eol || eol - s < 12 || strncmp(s, "HTTP/1.", 7) || s[8] != ' ')
            return BE_APP_FAILED;
        unsigned st = 0;
        for (int i = 9; i < 12; i++) {
            if (s[i] < '0' || s[i] > '9')
                return BE_APP_FAILED;
            st = st * 10 + (unsigned)(s[i] - '0');
        }
        if (st < 100 || st > 599 || (eol - s > 12 && s[12] != ' '))
            return BE_APP_FAILED;
        h->status = st;
    }
    for (const char *line = eol + 2; line < end;) {
        const char *le = find_crlf(line, (size_t)(end - line));
        if (!le || le == line)
            break;
        const char *colon = memchr(line, ':', (size_t)(le - line));
        if (!colon || colon == line || *line == ' ' || *line == '\t')
            return BE_APP_FAILED; /* obsolete line folding or garbage */
        size_t nlen = (size_t)(colon - line);
        const char *v = colon + 1;
        while (v < le && (*v == ' ' || *v == '\t'))
            v++;
        const char *ve = le;
        while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
            ve--;
        char *value = arena_strndup(http_req_arena(req), v, (size_t)(ve - v));
        if (!apply) {
            if (nlen == 14 && !strncasecmp(line, "Content-Length", 14)) {
                uint64_t n;
                if (parse_u64(value, UINT64_MAX, &n) || (h->has_length && n != h->length))
                    return BE_APP_FAILED;
                h->has_length = true;
                h->length = n;
            } else if (nlen == 17 && !strncasecmp(line, "Transfer-Encoding", 17)) {
                h->has_te = true;
                size_t vl = strlen(value);
                h->chunked = vl >= 7 && !strcasecmp(value + vl - 7, "chunked");
            } else if (nlen == 10 && !strncasecmp(line, "Connection", 10)) {
                h->connection = value;
            }
        } else if (response_header_kept(line, nlen, h->connection) &&
                   !sets_session_cookie(line, nlen, value)) {
            char *name = arena_strndup(http_req_arena(req), line, nlen);
            http_resp_header(req, name, value);
        }
        line = le + 2;
    }
    return BE_OK;
}

static ssize_t read_body(void *ctx, char *buf, size_t max);

static void start_answer(struct pxy *p, struct http_request *req, char *head, size_t len,
                         struct resp_head *h)
{
    parse_head(head, len, req, true, h);
    bool no_body = p->is_head || h->status == 204 || h->status == 304;
    if (no_body)
        p->framing = F_NONE;
    else if (h->has_te)
        p->framing = h->chunked ? F_CHUNKED : F_CLOSE;
    else if (h->has_length)
        p->framing = F_LENGTH;
    else
        p->framing = F_CLOSE;
    p->remaining = h->length;
    p->cstate = C_SIZE;
    if (p->framing == F_NONE && !(p->is_head && h->has_length))
        http_respond(req, h->status, NULL, "", 0);
    else
        http_respond_stream(
            req, h->status, NULL,
            p->framing == F_LENGTH || (p->is_head && h->has_length) ? h->length : HTTP_SIZE_UNKNOWN,
            read_body, p);
}

/* Reads the app's head; answers when it is complete. */
static void read_head(struct pxy *p, struct http_request *req)
{
    for (;;) {
        char *s = p->in.data ? p->in.data + p->in_off : NULL;
        size_t avail = p->in.len - p->in_off;
        char *end = s ? memmem(s, avail, "\r\n\r\n", 4) : NULL;
        if (end) {
            size_t hlen = (size_t)(end - s) + 4;
            struct resp_head h = {0};
            if (parse_head(s, hlen, req, false, &h)) {
                answer_error(p, req, BE_APP_FAILED);
                return;
            }
            p->in_off += hlen;
            if (h.status >= 100 && h.status < 200) {
                if (h.status == 101) {
                    answer_error(p, req, BE_APP_FAILED); /* no upgrades: Upgrade is not sent */
                    return;
                }
                continue; /* an interim answer (100, 103): the real one follows */
            }
            p->head_done = true;
            start_answer(p, req, s, hlen, &h);
            return;
        }
        if (avail > MAX_HEAD) {
            answer_error(p, req, BE_APP_FAILED);
            return;
        }
        bool eof = false;
        enum io io = fill_in(p, &eof);
        if (io == IO_ERR || (io == IO_OK && eof)) {
            answer_error(p, req, BE_APP_FAILED);
            return;
        }
        if (io == IO_AGAIN) {
            if (!wait_app(p, req, false))
                answer_error(p, req, BE_APP_TIMEOUT);
            return;
        }
    }
}

static void on_complete(void *ctx, struct http_request *req)
{
    struct pxy *p = ctx;
    if (p->early) {
        answer_error(p, req, p->early);
        return;
    }
    if (!p->up_broken) {
        if (p->chunked_up && !p->sent_last) {
            buf_adds(&p->out, "0\r\n\r\n");
            p->sent_last = true;
        }
        enum io io = flush_out(p);
        if (io == IO_AGAIN) {
            if (!wait_app(p, req, true))
                answer_error(p, req, p->connecting ? BE_APP_FAILED : BE_APP_TIMEOUT);
            return;
        }
        if (io == IO_ERR) {
            if (p->connecting) {
                answer_error(p, req, BE_APP_FAILED);
                return;
            }
            p->up_broken = true;
        }
    }
    read_head(p, req);
}

/* ---- the app's body ---- */

/* Moves up to max bytes of p->in (at most `limit`) to buf. */
static size_t take_in(struct pxy *p, char *buf, size_t max, uint64_t limit)
{
    size_t n = p->in.len - p->in_off;
    if (n > max)
        n = max;
    if (n > limit)
        n = (size_t)limit;
    memcpy(buf, p->in.data + p->in_off, n);
    p->in_off += n;
    return n;
}

/* One step of the chunked decoder over p->in: bytes produced (> 0), 0 to
 * go on, HTTP_STREAM_AGAIN when more input is needed, END or ERROR. */
static ssize_t chunk_step(struct pxy *p, char *buf, size_t max)
{
    char *s = p->in.data ? p->in.data + p->in_off : NULL;
    size_t avail = p->in.len - p->in_off;
    switch (p->cstate) {
    case C_DATA:
        if (!avail)
            return HTTP_STREAM_AGAIN;
        {
            size_t n = take_in(p, buf, max, p->remaining);
            p->remaining -= n;
            if (!p->remaining)
                p->cstate = C_DATA_CRLF;
            return (ssize_t)n;
        }
    case C_DATA_CRLF:
        if (avail < 2)
            return HTTP_STREAM_AGAIN;
        if (s[0] != '\r' || s[1] != '\n')
            return HTTP_STREAM_ERROR;
        p->in_off += 2;
        p->cstate = C_SIZE;
        return 0;
    case C_SIZE:
    case C_TRAILER: {
        const char *eol = s ? find_crlf(s, avail) : NULL;
        if (!eol)
            return avail > MAX_CHUNK_LINE ? HTTP_STREAM_ERROR : HTTP_STREAM_AGAIN;
        size_t llen = (size_t)(eol - s);
        p->in_off += llen + 2;
        if (p->cstate == C_TRAILER) {
            if (!llen)
                p->cstate = C_DONE; /* trailers are dropped */
            return 0;
        }
        uint64_t size = 0;
        size_t i = 0;
        for (; i < llen && i < 16; i++) {
            char c = s[i];
            int d = c >= '0' && c <= '9'   ? c - '0'
                    : c >= 'a' && c <= 'f' ? c - 'a' + 10
                    : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                           : -1;
            if (d < 0)
                break;
            size = size * 16 + (uint64_t)d;
        }
        if (!i || (i < llen && s[i] != ';' && s[i] != ' ' && s[i] != '\t'))
            return HTTP_STREAM_ERROR;
        p->remaining = size;
        p->cstate = size ? C_DATA : C_TRAILER;
        return 0;
    }
    case C_DONE:
        return HTTP_STREAM_END;
    }
    return HTTP_STREAM_ERROR;
}

static ssize_t read_body(void *ctx, char *buf, size_t max)
{
    struct pxy *p = ctx;
    for (;;) {
        size_t avail = p->in.len - p->in_off;
        if (p->framing == F_NONE || (p->framing == F_LENGTH && !p->remaining))
            return HTTP_STREAM_END;
        if (p->framing == F_CHUNKED) {
            ssize_t r = chunk_step(p, buf, max);
            if (r > 0 || r == HTTP_STREAM_END || r == HTTP_STREAM_ERROR)
                return r;
            if (r == 0)
                continue;
        } else if (avail) {
            size_t n = take_in(p, buf, max, p->framing == F_LENGTH ? p->remaining : UINT64_MAX);
            if (p->framing == F_LENGTH)
                p->remaining -= n;
            return (ssize_t)n;
        }
        bool eof = false;
        enum io io = fill_in(p, &eof);
        if (io == IO_ERR)
            return HTTP_STREAM_ERROR;
        if (io == IO_OK && eof)
            return p->framing == F_CLOSE ? HTTP_STREAM_END : HTTP_STREAM_ERROR;
        if (io == IO_AGAIN)
            return wait_app(p, p->req, false) ? HTTP_STREAM_AGAIN : HTTP_STREAM_ERROR;
    }
}

static void on_done(void *ctx)
{
    struct pxy *p = ctx;
    if (p->fd >= 0)
        close(p->fd);
    if (p->target)
        router_release(p->router, p->target);
    buf_release(&p->out);
    buf_release(&p->in);
    free(p);
}

static const struct http_stream_ops proxy_ops = {on_body, on_complete, on_done};

/* "/env/ID/rest?q" -> ID and "/rest?q"; false when ID is not well formed. */
static bool split_uri(const char *raw, char env_id[64], const char **ret_rest)
{
    const char *id = raw + strlen(PREFIX);
    size_t n = strcspn(id, "/?");
    if (!n || n >= 64)
        return false;
    memcpy(env_id, id, n);
    env_id[n] = '\0';
    *ret_rest = id + n;
    return deploy_env_id_valid(env_id);
}

void web_deploy_proxy(struct http_request *req, void *ctx)
{
    struct web *w = ctx;
    const struct config *cfg = w->app->cfg;
    struct pxy *p = xcalloc(1, sizeof(*p));
    p->fd = -1;
    p->req = req;
    p->max_body = cfg->deploy_proxy_max_body_bytes;
    p->connect_ms = (unsigned)cfg->deploy_proxy_connect_timeout_ms;
    p->idle_ms = (unsigned)cfg->deploy_proxy_idle_timeout_ms;
    p->is_head = !strcmp(http_req_method(req), "HEAD");
    buf_init(&p->out);
    buf_init(&p->in);
    http_stream_begin(req, &proxy_ops, p); /* from here on_done frees p */

    const char *rest = NULL;
    const char *cl = http_req_header(req, "Content-Length");
    uint64_t n;
    if (!split_uri(http_req_uri_raw(req), p->env_id, &rest)) {
        p->env_id[0] = '\0';
        p->early = BE_NOT_FOUND;
        return;
    }
    if (cl && !parse_u64(cl, UINT64_MAX, &n) && n > p->max_body) {
        /* Answering before the body makes many clients lose the answer
         * (the server closes while they send): read and drop a moderate
         * excess, answer an absurd one at once. */
        if (n > DRAIN_FACTOR * p->max_body)
            answer_error(p, req, BE_BODY_TOO_LARGE);
        else
            p->early = BE_BODY_TOO_LARGE;
        return;
    }
    if (!w->app->deploy) {
        p->early = BE_ENV_NOT_LIVE;
        return;
    }
    p->router = deployer_router(w->app->deploy);
    if (router_acquire(p->router, p->env_id, &p->target)) {
        p->target = NULL;
        p->early = BE_ENV_NOT_LIVE;
        return;
    }
    int rc = connect_app(p, route_target_port(p->target));
    if (rc) {
        log_warn("request %s: cannot connect to environment %s on port %u: %s", http_req_id(req),
                 p->env_id, (unsigned)route_target_port(p->target), strerror(errno));
        p->early = rc;
        return;
    }
    build_head(p, req, *rest ? rest : "/");
    if (flush_out(p) == IO_ERR)
        p->early = BE_APP_FAILED;
}


