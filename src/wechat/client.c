#include "wechat/client.h"

#include <curl/curl.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/crypto.h"
#include "core/mem.h"
#include "core/banned.h"

#ifndef BINDERY_VERSION
#define BINDERY_VERSION "dev"
#endif

#define PATH_PREFIX    "/cgi-bin/component/"
#define BACKOFF_CAP_MS 30000u

struct wx_client {
    char *base_url; /* without trailing slashes */
    struct wx_client_options opts;
};

/* --- errcodes ------------------------------------------------------------ */

void wx_result_clear(struct wx_result *res)
{
    memset(res, 0, sizeof(*res));
}

static const struct {
    long code;
    int be;
    const char *text;
} errcodes[] = {
    {-1, BE_UPSTREAM, "system error"},
    {40001, BE_UPSTREAM, "invalid credential"},
    {40013, BE_UPSTREAM, "invalid appid"},
    {40014, BE_UPSTREAM, "invalid access_token"},
    {40097, BE_INVALID_PARAMETER_VALUE, "invalid args"},
    {40125, BE_UPSTREAM, "invalid appsecret"},
    {40170, BE_INVALID_PARAMETER_VALUE, "args count exceed count limit"},
    {41001, BE_UPSTREAM, "access_token missing"},
    {41004, BE_UPSTREAM, "appsecret missing"},
    {42001, BE_UPSTREAM, "access_token expired"},
    {42007, BE_FAILED, "access_token and refresh_token exception; re-authorize"},
    {44002, BE_INTERNAL, "empty post data"},
    {45009, BE_RATE_LIMITED, "reach max api daily quota limit"},
    {45011, BE_RATE_LIMITED, "api minute-quota reach limit"},
    {47001, BE_INTERNAL, "data format error"},
    {48001, BE_FAILED, "api unauthorized"},
    {61003, BE_FAILED, "component is not authorized by this account"},
    {61004, BE_UPSTREAM, "access clientip is not registered"},
    {61005, BE_UPSTREAM, "component ticket is expired"},
    {61006, BE_UPSTREAM, "component ticket is invalid"},
    {61007, BE_FAILED, "api is unauthorized to component"},
    {61009, BE_INVALID_PARAMETER_VALUE, "code is invalid"},
    {61010, BE_INVALID_PARAMETER_VALUE, "code is expired"},
    {61011, BE_UPSTREAM, "invalid component"},
    {61014, BE_UPSTREAM, "must use component token for component api"},
    {61023, BE_FAILED, "refresh_token is invalid"},
    {61024, BE_UPSTREAM, "must use api_component_token for component acct"},
};

#define NERRCODES (sizeof(errcodes) / sizeof(errcodes[0]))

int wx_errcode_to_be(long errcode)
{
    if (errcode == 0)
        return BE_OK;
    for (size_t i = 0; i < NERRCODES; i++) {
        if (errcodes[i].code == errcode)
            return errcodes[i].be;
    }
    return BE_UPSTREAM;
}

const char *wx_errcode_text(long errcode)
{
    if (errcode == 0)
        return "ok";
    for (size_t i = 0; i < NERRCODES; i++) {
        if (errcodes[i].code == errcode)
            return errcodes[i].text;
    }
    return "error";
}

bool wx_errcode_is_token_error(long errcode)
{
    return errcode == 40001 || errcode == 40014 || errcode == 42001;
}

bool wx_errcode_is_revocation_signal(long errcode)
{
    return errcode == 61003 || errcode == 61023;
}

bool wx_client_should_retry(int transport_rc, long status, long errcode)
{
    if (transport_rc)
        return transport_rc == BE_UPSTREAM;
    return status >= 500 || errcode == -1;
}

unsigned wx_client_backoff_ms(unsigned base_ms, unsigned n, uint64_t rnd)
{
    uint64_t d = base_ms ? base_ms : 1;
    for (unsigned i = 1; i < n && d < BACKOFF_CAP_MS; i++)
        d *= 4;
    if (d > BACKOFF_CAP_MS)
        d = BACKOFF_CAP_MS;
    uint64_t lo = d / 2;
    return (unsigned)(lo + rnd % (d - lo + 1));
}

/* --- diagnostics ---------------------------------------------------------- */

/* Records a failure of kind in res and a "<endpoint>: <message>" diag. */
static int failf(struct wx_result *res, struct be_diag *diag, int err, enum wx_fail_kind kind,
                 const char *ep, const char *fmt, ...) __attribute__((format(printf, 6, 7)));

static int failf(struct wx_result *res, struct be_diag *diag, int err, enum wx_fail_kind kind,
                 const char *ep, const char *fmt, ...)
{
    res->kind = kind;
    if (diag) {
        char msg[sizeof(diag->msg)];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        be_fail(diag, err, "%s: %s", ep, msg);
    }
    return err;
}

/* --- the client ------------------------------------------------------------ */

static bool valid_base_url(const char *url, size_t len)
{
    if (len == 0 || len > WX_BASE_URL_MAX)
        return false;
    if (strncmp(url, "http://", 7) && strncmp(url, "https://", 8))
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)url[i];
        if (c <= 0x20 || c >= 0x7f || c == '?' || c == '#')
            return false;
    }
    return true;
}

int wx_client_new(const struct wx_client_options *opts, struct wx_client **ret_client,
                  struct be_diag *diag)
{
    const char *url = opts->base_url ? opts->base_url : "";
    size_t len = strlen(url);
    while (len && url[len - 1] == '/')
        len--;
    if (!valid_base_url(url, len))
        return be_fail(diag, BE_INVALID_PARAMETER,
                       "wechat.api_base_url must be an http:// or https:// URL without query, "
                       "at most %d bytes",
                       WX_BASE_URL_MAX);
    if (opts->max_attempts > WX_CLIENT_ATTEMPTS_LIMIT)
        return be_fail(diag, BE_INVALID_PARAMETER, "max_attempts %u is over %d", opts->max_attempts,
                       WX_CLIENT_ATTEMPTS_LIMIT);
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return be_fail(diag, BE_INTERNAL, "libcurl failed to initialise");
    struct wx_client *cl = xcalloc(1, sizeof(*cl));
    cl->base_url = xstrndup(url, len);
    cl->opts = *opts;
    cl->opts.base_url = cl->base_url;
    if (!cl->opts.connect_timeout_ms)
        cl->opts.connect_timeout_ms = WX_CLIENT_CONNECT_TIMEOUT_MS;
    if (!cl->opts.timeout_ms)
        cl->opts.timeout_ms = WX_CLIENT_TIMEOUT_MS;
    if (!cl->opts.max_attempts)
        cl->opts.max_attempts = WX_CLIENT_MAX_ATTEMPTS;
    if (!cl->opts.backoff_ms)
        cl->opts.backoff_ms = WX_CLIENT_BACKOFF_MS;
    *ret_client = cl;
    return BE_OK;
}

void wx_client_free(struct wx_client *cl)
{
    if (!cl)
        return;
    free(cl->base_url);
    free(cl);
    curl_global_cleanup();
}

/* --- the libcurl transport --------------------------------------------------- */

struct sink {
    struct buf *body;
    size_t max;
    bool over;
};

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    struct sink *s = userdata;
    size_t n = size * nmemb; /* libcurl: size is always 1 */
    if (n > s->max - s->body->len) {
        s->over = true;
        return 0;
    }
    buf_add(s->body, ptr, n);
    return n;
}

static struct curl_slist *request_headers(void)
{
    struct curl_slist *h = NULL, *t;
    static const char *const lines[] = {"Content-Type: application/json; charset=utf-8",
                                        "Accept: application/json", "Expect:"};
    for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
        t = curl_slist_append(h, lines[i]);
        if (!t) {
            curl_slist_free_all(h);
            return NULL;
        }
        h = t;
    }
    return h;
}

static void curl_setup(CURL *h, const char *url, const char *body, size_t len, unsigned connect_ms,
                       unsigned timeout_ms, struct curl_slist *headers, struct sink *sink)
{
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "bindery/" BINDERY_VERSION);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)connect_ms);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, sink);
}

static int curl_transport(void *ctx, const char *url, const char *body, size_t len,
                          unsigned connect_timeout_ms, unsigned timeout_ms, size_t max_body,
                          long *ret_status, struct buf *ret_body, struct be_diag *diag)
{
    (void)ctx;
    struct sink sink = {ret_body, max_body, false};
    int rc = BE_INTERNAL;
    CURL *h = curl_easy_init();
    struct curl_slist *headers = request_headers();
    if (!h || !headers) {
        be_fail(diag, rc, "libcurl could not make a handle");
        goto out;
    }
    curl_setup(h, url, body, len, connect_timeout_ms, timeout_ms, headers, &sink);
    CURLcode code = curl_easy_perform(h);
    if (sink.over) {
        rc = be_fail(diag, BE_BODY_TOO_LARGE, "the answer is over %zu bytes", max_body);
        goto out;
    }
    if (code != CURLE_OK) {
        /* curl_easy_strerror() is generic text; the error buffer could hold
         * the URL, which carries the token. */
        rc = be_fail(diag, BE_UPSTREAM, "network error: %s", curl_easy_strerror(code));
        goto out;
    }
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    *ret_status = status;
    rc = BE_OK;
out:
    curl_slist_free_all(headers);
    if (h)
        curl_easy_cleanup(h);
    return rc;
}

/* --- building requests ---------------------------------------------------------- */

static void wipe_release(struct buf *b)
{
    if (b->cap)
        crypto_wipe(b->data, b->cap);
    buf_release(b);
}

/* Appends s as a JSON string: quotes, backslashes and control characters
 * escaped, everything else (UTF-8 included) as is. */
static void json_add_string(struct buf *b, const char *s)
{
    buf_addch(b, '"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            buf_addch(b, '\\');
            buf_addch(b, (char)c);
        } else if (c < 0x20) {
            buf_addf(b, "\\u%04x", c);
        } else {
            buf_addch(b, (char)c);
        }
    }
    buf_addch(b, '"');
}

/* Appends "key":"value" to an object being built ("{" already there). */
static void json_member(struct buf *b, const char *key, const char *value)
{
    if (b->len > 1)
        buf_addch(b, ',');
    json_add_string(b, key);
    buf_addch(b, ':');
    json_add_string(b, value);
}

static void json_member_int(struct buf *b, const char *key, long long value)
{
    if (b->len > 1)
        buf_addch(b, ',');
    json_add_string(b, key);
    buf_addf(b, ":%lld", value);
}

static bool is_unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

static void url_add_encoded(struct buf *b, const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (is_unreserved(c))
            buf_addch(b, (char)c);
        else
            buf_addf(b, "%%%02X", c);
    }
}

/* One call: endpoint name, optional token, and the JSON body. */
struct call {
    const char *ep;
    const char *token; /* NULL: none (api_component_token, api_start_push_ticket) */
    struct buf body;   /* wiped and released by call_release */
};

static void call_release(struct call *c)
{
    wipe_release(&c->body);
}

static void build_url(const struct wx_client *cl, const struct call *c, struct buf *url)
{
    buf_adds(url, cl->base_url);
    buf_adds(url, PATH_PREFIX);
    buf_adds(url, c->ep);
    if (!c->token)
        return;
    buf_adds(url, cl->opts.token_param == WX_TOKEN_PARAM_ACCESS_TOKEN ? "?access_token="
                                                                      : "?component_access_token=");
    url_add_encoded(url, c->token);
}

/* Checks one caller-supplied string. */
static int check_arg(const char *ep, const char *name, const char *v, size_t max,
                     struct wx_result *res, struct be_diag *diag)
{
    if (!v || !*v)
        return failf(res, diag, BE_MISSING_PARAMETER, WX_FAIL_ARGUMENT, ep, "%s is missing", name);
    size_t n = strnlen(v, max + 1);
    if (n > max)
        return failf(res, diag, BE_INVALID_PARAMETER_VALUE, WX_FAIL_ARGUMENT, ep,
                     "%s is longer than %zu bytes", name, max);
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f)
            return failf(res, diag, BE_INVALID_PARAMETER_VALUE, WX_FAIL_ARGUMENT, ep,
                         "%s contains a control character", name);
    }
    return BE_OK;
}

/* --- reading answers ------------------------------------------------------------- */

static int bad_response(const char *ep, struct wx_result *res, struct be_diag *diag,
                        const char *what, const char *key)
{
    return failf(res, diag, BE_UPSTREAM, WX_FAIL_BAD_RESPONSE, ep, "unexpected answer: %s%s%s",
                 what, key ? " " : "", key ? key : "");
}

/* Looks at errcode/errmsg of a parsed answer. 0 when there is no errcode or
 * it is 0. */
static int check_errcode(const char *ep, json_t *root, struct wx_result *res, struct be_diag *diag)
{
    json_t *ec = json_object_get(root, "errcode");
    if (!ec)
        return BE_OK;
    if (!json_is_integer(ec))
        return bad_response(ep, res, diag, "non-integer", "errcode");
    long code = (long)json_integer_value(ec);
    const char *msg = json_string_value(json_object_get(root, "errmsg"));
    snprintf(res->errmsg, sizeof(res->errmsg), "%s", msg ? msg : "");
    if (code == 0)
        return BE_OK;
    res->errcode = code;
    return failf(res, diag, wx_errcode_to_be(code), WX_FAIL_ERRCODE, ep, "%s (%ld)",
                 wx_errcode_text(code), code);
}

/* Parses a 200 answer into *ret_root and checks its errcode. */
static int parse_answer(const char *ep, const struct buf *body, json_t **ret_root,
                        struct wx_result *res, struct be_diag *diag)
{
    json_error_t jerr;
    json_t *root = json_loadb(body->data, body->len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root || !json_is_object(root)) {
        json_decref(root);
        return bad_response(ep, res, diag, "not a JSON object", NULL);
    }
    int rc = check_errcode(ep, root, res, diag);
    if (rc) {
        json_decref(root);
        return rc;
    }
    *ret_root = root;
    return BE_OK;
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) == -1)
        ;
}

/* One attempt: send, then read the answer. *ret_trc gets the transport's
 * result and *ret_status the HTTP status, for the retry decision. */
static int attempt(struct wx_client *cl, const struct call *c, const char *url, json_t **ret_root,
                   int *ret_trc, long *ret_status, struct wx_result *res, struct be_diag *diag)
{
    struct buf answer = BUF_INIT;
    struct be_diag tdiag = {""};
    long status = 0;
    wx_transport_fn send = cl->opts.transport ? cl->opts.transport : curl_transport;
    int rc =
        send(cl->opts.transport_ctx, url, c->body.data, c->body.len, cl->opts.connect_timeout_ms,
             cl->opts.timeout_ms, WX_CLIENT_MAX_RESPONSE, &status, &answer, &tdiag);
    *ret_trc = rc;
    *ret_status = rc ? 0 : status;
    res->http_status = *ret_status;
    res->errcode = 0;
    res->errmsg[0] = '\0';
    if (rc == BE_BODY_TOO_LARGE)
        rc = bad_response(c->ep, res, diag, "over", "1 MiB");
    else if (rc)
        rc = failf(res, diag, BE_UPSTREAM, WX_FAIL_NETWORK, c->ep, "%s", tdiag.msg);
    else if (status != 200)
        rc = failf(res, diag, BE_UPSTREAM, WX_FAIL_HTTP, c->ep, "HTTP status %ld", status);
    else
        rc = parse_answer(c->ep, &answer, ret_root, res, diag);
    wipe_release(&answer);
    return rc;
}

/* Sends a call with the retry rule of the header; on success *ret_root
 * holds the parsed answer (the caller decrefs it). */
static int perform(struct wx_client *cl, const struct call *c, json_t **ret_root,
                   struct wx_result *res, struct be_diag *diag)
{
    struct buf url = BUF_INIT;
    int rc;
    build_url(cl, c, &url);
    for (unsigned n = 1;; n++) {
        int trc;
        long status;
        res->attempts = n;
        rc = attempt(cl, c, url.data, ret_root, &trc, &status, res, diag);
        if (rc == BE_OK || n >= cl->opts.max_attempts ||
            !wx_client_should_retry(trc, status, res->errcode))
            break;
        sleep_ms(wx_client_backoff_ms(cl->opts.backoff_ms, n, crypto_random_range(0, UINT32_MAX)));
    }
    if (rc == BE_OK)
        res->kind = WX_FAIL_NONE;
    wipe_release(&url);
    return rc;
}

/* --- field extraction ------------------------------------------------------------------ */

enum field_class {
    FIELD_OPAQUE, /* tokens, codes, appids: visible ASCII only */
    FIELD_TEXT,   /* names and URLs: anything but NUL and control characters */
};

struct reader {
    const char *ep;
    struct wx_result *res;
    struct be_diag *diag;
};

static bool text_ok(const char *s, size_t len, enum field_class cls)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f)
            return false;
        if (cls == FIELD_OPAQUE && (c == ' ' || c >= 0x80))
            return false;
    }
    return true;
}

/* Copies obj[key] (a string) into dst (size bytes). Absent or null: "" when
 * optional, an error when required. */
static int get_str(const struct reader *r, json_t *obj, const char *key, bool required,
                   enum field_class cls, char *dst, size_t size)
{
    json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v)) {
        dst[0] = '\0';
        return required ? bad_response(r->ep, r->res, r->diag, "missing", key) : BE_OK;
    }
    if (!json_is_string(v))
        return bad_response(r->ep, r->res, r->diag, "not a string:", key);
    size_t len = json_string_length(v);
    const char *s = json_string_value(v);
    if (len >= size)
        return bad_response(r->ep, r->res, r->diag, "over its ceiling:", key);
    if (!text_ok(s, len, cls) || (required && len == 0))
        return bad_response(r->ep, r->res, r->diag, "malformed", key);
    memcpy(dst, s, len);
    dst[len] = '\0';
    return BE_OK;
}

/* Reads obj[key] as an integer in [min, max]; absent: dflt when optional. */
static int get_int(const struct reader *r, json_t *obj, const char *key, bool required, int64_t min,
                   int64_t max, int64_t dflt, int64_t *ret)
{
    json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v)) {
        if (required)
            return bad_response(r->ep, r->res, r->diag, "missing", key);
        *ret = dflt;
        return BE_OK;
    }
    if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max)
        return bad_response(r->ep, r->res, r->diag, "out of range:", key);
    *ret = (int64_t)json_integer_value(v);
    return BE_OK;
}

/* The "id" of obj[key] = {"id": n}; dflt when absent. */
static int get_id_of(const struct reader *r, json_t *obj, const char *key, int64_t dflt,
                     int64_t *ret)
{
    json_t *o = json_object_get(obj, key);
    if (!o || json_is_null(o)) {
        *ret = dflt;
        return BE_OK;
    }
    if (!json_is_object(o))
        return bad_response(r->ep, r->res, r->diag, "not an object:", key);
    return get_int(r, o, "id", false, INT32_MIN, INT32_MAX, dflt, ret);
}

#define EXPIRES_MAX ((int64_t)1 << 31)

static int read_func_info(const struct reader *r, json_t *arr, struct wx_authorization *a)
{
    size_t i;
    json_t *item;
    a->nfunc = 0;
    if (!arr || json_is_null(arr))
        return BE_OK;
    if (!json_is_array(arr))
        return bad_response(r->ep, r->res, r->diag, "not an array:", "func_info");
    if (json_array_size(arr) > WX_FUNC_MAX)
        return bad_response(r->ep, r->res, r->diag, "over its ceiling:", "func_info");
    json_array_foreach(arr, i, item)
    {
        json_t *cat = json_object_get(item, "funcscope_category");
        int64_t id;
        if (!json_is_object(cat))
            return bad_response(r->ep, r->res, r->diag, "malformed", "func_info");
        if (get_int(r, cat, "id", true, 0, UINT32_MAX, 0, &id))
            return BE_UPSTREAM;
        a->func_ids[a->nfunc++] = (uint32_t)id;
    }
    return BE_OK;
}

/* authorization_info of query_auth (with_access = true) or of
 * get_authorizer_info. */
static int read_authorization(const struct reader *r, json_t *ai, bool with_access,
                              struct wx_authorization *a)
{
    if (!json_is_object(ai))
        return bad_response(r->ep, r->res, r->diag, "missing", "authorization_info");
    const char *appid_key = json_object_get(ai, "authorizer_appid") ? "authorizer_appid" : "appid";
    if (get_str(r, ai, appid_key, true, FIELD_OPAQUE, a->authorizer_appid,
                sizeof(a->authorizer_appid)) ||
        get_str(r, ai, "authorizer_refresh_token", false, FIELD_OPAQUE, a->authorizer_refresh_token,
                sizeof(a->authorizer_refresh_token)))
        return BE_UPSTREAM;
    a->authorizer_access_token[0] = '\0';
    a->expires_in = 0;
    if (with_access && (get_str(r, ai, "authorizer_access_token", false, FIELD_OPAQUE,
                                a->authorizer_access_token, sizeof(a->authorizer_access_token)) ||
                        get_int(r, ai, "expires_in", false, 0, EXPIRES_MAX, 0, &a->expires_in)))
        return BE_UPSTREAM;
    return read_func_info(r, json_object_get(ai, "func_info"), a);
}

/* --- the endpoints ------------------------------------------------------------------ */

/* Starts a call: checks nothing, opens the JSON body with the component
 * appid (every endpoint sends it). */
static void call_init(struct call *c, const char *ep, const char *token, const char *appid)
{
    c->ep = ep;
    c->token = token;
    buf_init(&c->body);
    buf_addch(&c->body, '{');
    json_member(&c->body, "component_appid", appid);
}

static int check_token_and_appid(const char *ep, const char *token, const char *appid,
                                 struct wx_result *res, struct be_diag *diag)
{
    int rc = check_arg(ep, "component_access_token", token, WX_TOKEN_MAX, res, diag);
    return rc ? rc : check_arg(ep, "component_appid", appid, WX_APPID_MAX, res, diag);
}

/* Runs a built call and hands the answer to parse (which may be NULL for
 * action endpoints). */
static int run(struct wx_client *cl, struct call *c,
               int (*parse)(const struct reader *, json_t *, void *), void *out,
               struct wx_result *res, struct be_diag *diag)
{
    json_t *root = NULL;
    buf_addch(&c->body, '}');
    int rc = perform(cl, c, &root, res, diag);
    if (rc == BE_OK && parse) {
        struct reader r = {c->ep, res, diag};
        rc = parse(&r, root, out);
        if (rc == BE_OK)
            res->kind = WX_FAIL_NONE;
    }
    json_decref(root);
    call_release(c);
    return rc;
}

static int parse_component_token(const struct reader *r, json_t *root, void *out)
{
    struct wx_component_token t;
    int rc = get_str(r, root, "component_access_token", true, FIELD_OPAQUE, t.access_token,
                     sizeof(t.access_token));
    if (rc == BE_OK)
        rc = get_int(r, root, "expires_in", true, 1, EXPIRES_MAX, 0, &t.expires_in);
    if (rc == BE_OK)
        memcpy(out, &t, sizeof(t));
    crypto_wipe(&t, sizeof(t));
    return rc;
}

int wx_client_component_token(struct wx_client *cl, const char *component_appid,
                              const char *component_appsecret, const char *ticket,
                              struct wx_component_token *ret, struct wx_result *res,
                              struct be_diag *diag)
{
    static const char ep[] = "api_component_token";
    struct wx_result local;
    struct call c;
    res = res ? res : &local;
    wx_result_clear(res);
    int rc = check_arg(ep, "component_appid", component_appid, WX_APPID_MAX, res, diag);
    if (!rc)
        rc = check_arg(ep, "component_appsecret", component_appsecret, WX_SECRET_MAX, res, diag);
    if (!rc)
        rc = check_arg(ep, "component_verify_ticket", ticket, WX_CODE_MAX, res, diag);
    if (rc)
        return rc;
    call_init(&c, ep, NULL, component_appid);
    json_member(&c.body, "component_appsecret", component_appsecret);
    json_member(&c.body, "component_verify_ticket", ticket);
    return run(cl, &c, parse_component_token, ret, res, diag);
}

int wx_client_start_push_ticket(struct wx_client *cl, const char *component_appid,
                                const char *component_appsecret, struct wx_result *res,
                                struct be_diag *diag)
{
    static const char ep[] = "api_start_push_ticket";
    struct wx_result local;
    struct call c;
    res = res ? res : &local;
    wx_result_clear(res);
    int rc = check_arg(ep, "component_appid", component_appid, WX_APPID_MAX, res, diag);
    if (!rc)
        rc = check_arg(ep, "component_secret", component_appsecret, WX_SECRET_MAX, res, diag);
    if (rc)
        return rc;
    call_init(&c, ep, NULL, component_appid);
    json_member(&c.body, "component_secret", component_appsecret);
    return run(cl, &c, NULL, NULL, res, diag);
}

static int parse_preauthcode(const struct reader *r, json_t *root, void *out)
{
    struct wx_preauthcode p;
    int rc = get_str(r, root, "pre_auth_code", true, FIELD_OPAQUE, p.pre_auth_code,
                     sizeof(p.pre_auth_code));
    if (rc == BE_OK)
        rc = get_int(r, root, "expires_in", true, 1, EXPIRES_MAX, 0, &p.expires_in);
    if (rc == BE_OK)
        memcpy(out, &p, sizeof(p));
    crypto_wipe(&p, sizeof(p));
    return rc;
}

int wx_client_create_preauthcode(struct wx_client *cl, const char *component_token,
                                 const char *component_appid, struct wx_preauthcode *ret,
                                 struct wx_result *res, struct be_diag *diag)
{
    static const char ep[] = "api_create_preauthcode";
    struct wx_result local;
    struct call c;
    res = res ? res : &local;
    wx_result_clear(res);
    int rc = check_token_and_appid(ep, component_token, component_appid, res, diag);
    if (rc)
        return rc;
    call_init(&c, ep, component_token, component_appid);
    return run(cl, &c, parse_preauthcode, ret, res, diag);
}

static int parse_query_auth(const struct reader *r, json_t *root, void *out)
{
    struct wx_authorization *a = xcalloc(1, sizeof(*a));
    int rc = read_authorization(r, json_object_get(root, "authorization_info"), true, a);
    if (rc == BE_OK)
        memcpy(out, a, sizeof(*a));
    crypto_wipe(a, sizeof(*a));
    free(a);
    return rc;
}

int wx_client_query_auth(struct wx_client *cl, const char *component_token,
                         const char *component_appid, const char *authorization_code,
                         struct wx_authorization *ret, struct wx_result *res, struct be_diag *diag)
{
    static const char ep[] = "api_query_auth";
    struct wx_result local;
    struct call c;
    res = res ? res : &local;
    wx_result_clear(res);
    int rc = check_token_and_appid(ep, component_token, component_appid, res, diag);
    if (!rc)
        rc = check_arg(ep, "authorization_code", authorization_code, WX_CODE_MAX, res, diag);
    if (rc)
        return rc;
    call_init(&c, ep, component_token, component_appid);
    json_member(&c.body, "authorization_code", authorization_code);
    return run(cl, &c, parse_query_auth, ret, res, diag);
}

static int parse_authorizer_token(const struct reader *r, json_t *root, void *out)
{
    struct wx_authorizer_token t;
    int rc = get_str(r, root, "authorizer_access_token", true, FIELD_OPAQUE,
                     t.authorizer_access_token, sizeof(t.authorizer_access_token));
    if (rc == BE_OK)
        rc = get_int(r, root, "expires_in", true, 1, EXPIRES_MAX, 0, &t.expires_in);
    if (rc == BE_OK)
        rc = get_str(r, root, "authorizer_refresh_token", false, FIELD_OPAQUE,
                     t.authorizer_refresh_token, sizeof(t.authorizer_refresh_token));
    if (rc == BE_OK)
        memcpy(out, &t, sizeof(t));
    crypto_wipe(&t, sizeof(t));
    return rc;
}

int wx_client_authorizer_token(struct wx_client *cl, const char *component_token,
                               const char *component_appid, const char *authorizer_appid,
                               const char *authorizer_refresh_token,
                               struct wx_authorizer_token *ret, struct wx_result *res,
                               struct be_diag *diag)
{
    static const char ep[] = "api_authorizer_token";
    struct wx_result local;
    struct call c;
    res = res ? res : &local;
    wx_result_clear(res);
    int rc = check_token_and_appid(ep, component_token, component_appid, res, diag);
    if (!rc)
        rc = check_arg(ep, "authorizer_appid", authorizer_appid, WX_APPID_MAX, res, diag);
    if (!rc)
        rc = check_arg(ep, "authorizer_refresh_token", authorizer_refresh_token, WX_TOKEN_MAX, res,
                       diag);
    if (rc)
        return rc;
    call_init(&c, ep, component_token, component_appid);
    json_member(&c.body, "authorizer_appid", authorizer_appid);
    json_member(&c.body, "authorizer_refresh_token", authorizer_refresh_token);
    return run(cl, &c, parse_authorizer_token, ret, res, diag);
}

static int read_info_strings(const struct reader *r, json_t *ai, struct wx_authorizer_info *i)
{
    const struct {
        const char *key;
        char *dst;
        size_t size;
    } fields[] = {
        {"nick_name", i->nick_name, sizeof(i->nick_name)},
        {"head_img", i->head_img, sizeof(i->head_img)},
        {"alias", i->alias, sizeof(i->alias)},
        {"qrcode_url", i->qrcode_url, sizeof(i->qrcode_url)},
        {"principal_name", i->principal_name, sizeof(i->principal_name)},
        {"signature", i->signature, sizeof(i->signature)},
    };
    for (size_t k = 0; k < sizeof(fields) / sizeof(fields[0]); k++) {
        if (get_str(r, ai, fields[k].key, false, FIELD_TEXT, fields[k].dst, fields[k].size))
            return BE_UPSTREAM;
    }
    return get_str(r, ai, "user_name", false, FIELD_OPAQUE, i->user_name, sizeof(i->user_name));
}

static int read_authorizer_info(const struct reader *r, json_t *ai, struct wx_authorizer_info *i)
{
    if (!json_is_object(ai))
        return bad_response(r->ep, r->res, r->diag, "missing", "authorizer_info");
    if (read_info_strings(r, ai, i) ||
        get_id_of(r, ai, "service_type_info", -1, &i->service_type) ||
        get_id_of(r, ai, "verify_type_info", -1, &i->verify_type) ||
        get_int(r, ai, "account_status", false, INT32_MIN, INT32_MAX, -1, &i->account_status) ||
        get_int(r, ai, "register_type", false, INT32_MIN, INT32_MAX, -1, &i->register_type))
        return BE_UPSTREAM;
    json_t *mp = json_object_get(ai, "MiniProgramInfo");
    i->is_mini_program = mp && json_is_object(mp);
    return BE_OK;
}

static int parse_authorizer_info(const struct reader *r, json_t *root, void *out)
{
    struct wx_authorizer_info *i = xcalloc(1, sizeof(*i));
    int rc = read_authorizer_info(r, json_object_get(root, "authorizer_info"), i);
    if (rc == BE_OK)
        rc = read_authorization(r, json_object_get(root, "authorization_info"), false,
                                &i->authorization);
    if (rc == BE_OK)
        memcpy(out, i, sizeof(*i));
    crypto_wipe(i, sizeof(*i));
    free(i);
    return rc;
}

int wx_client_get_authorizer_info(struct wx_client *cl, const char *component_token,
                                  const char *component_appid, const char *authorizer_appid,
                                  struct wx_authorizer_info *ret, struct wx_result *res,
                                  struct be_diag *diag)
{
    static const char ep[] = "api_get_authorizer_info";
    struct wx_result local;
    struct call c;
    res = res ? res : &local;
    wx_result_clear(res);
    int rc = check_token_and_appid(ep, component_token, component_appid, res, diag);
    if (!rc)
        rc = check_arg(ep, "authorizer_appid", authorizer_appid, WX_APPID_MAX, res, diag);
    if (rc)
        return rc;
    call_init(&c, ep, component_token, component_appid);
    json_member(&c.body, "authorizer_appid", authorizer_appid);
    return run(cl, &c, parse_authorizer_info, ret, res, diag);
}

void wx_authorizer_list_release(struct wx_authorizer_list *list)
{
    if (list->items)
        crypto_wipe(list->items, xmul(list->n, sizeof(list->items[0])));
    free(list->items);
    memset(list, 0, sizeof(*list));
}

static int read_list_entry(const struct reader *r, json_t *item, struct wx_authorizer_entry *e)
{
    if (!json_is_object(item))
        return bad_response(r->ep, r->res, r->diag, "malformed", "list");
    if (get_str(r, item, "authorizer_appid", true, FIELD_OPAQUE, e->authorizer_appid,
                sizeof(e->authorizer_appid)) ||
        get_str(r, item, "refresh_token", false, FIELD_OPAQUE, e->refresh_token,
                sizeof(e->refresh_token)) ||
        get_int(r, item, "auth_time", false, 0, INT64_MAX, 0, &e->auth_time))
        return BE_UPSTREAM;
    return BE_OK;
}

static int parse_authorizer_list(const struct reader *r, json_t *root, void *out)
{
    struct wx_authorizer_list list = {0, 0, NULL};
    json_t *arr = json_object_get(root, "list"), *item;
    size_t i;
    int rc = get_int(r, root, "total_count", true, 0, INT64_MAX, 0, &list.total_count);
    if (rc)
        return rc;
    if (arr && !json_is_array(arr))
        return bad_response(r->ep, r->res, r->diag, "not an array:", "list");
    if (json_array_size(arr) > WX_AUTHORIZER_LIST_MAX)
        return bad_response(r->ep, r->res, r->diag, "over its ceiling:", "list");
    if (json_array_size(arr))
        list.items = xcalloc(json_array_size(arr), sizeof(list.items[0]));
    json_array_foreach(arr, i, item)
    {
        if ((rc = read_list_entry(r, item, &list.items[list.n])))
            break;
        list.n++;
    }
    if (rc) {
        wx_authorizer_list_release(&list);
        return rc;
    }
    memcpy(out, &list, sizeof(list));
    return BE_OK;
}

int wx_client_get_authorizer_list(struct wx_client *cl, const char *component_token,
                                  const char *component_appid, int64_t offset, unsigned count,
                                  struct wx_authorizer_list *ret, struct wx_result *res,
                                  struct be_diag *diag)
{
    static const char ep[] = "api_get_authorizer_list";
    struct wx_result local;
    struct call c;
    res = res ? res : &local;
    wx_result_clear(res);
    int rc = check_token_and_appid(ep, component_token, component_appid, res, diag);
    if (rc)
        return rc;
    if (offset < 0 || count < 1 || count > WX_AUTHORIZER_LIST_MAX)
        return failf(res, diag, BE_INVALID_PARAMETER_VALUE, WX_FAIL_ARGUMENT, ep,
                     "offset must be >= 0 and count 1..%d", WX_AUTHORIZER_LIST_MAX);
    call_init(&c, ep, component_token, component_appid);
    json_member_int(&c.body, "offset", (long long)offset);
    json_member_int(&c.body, "count", (long long)count);
    return run(cl, &c, parse_authorizer_list, ret, res, diag);
}
