/* Interoperability of Bindery's WeChat side with the emulator, in one
 * process over real HTTP on loopback: the emulator (src/platform: its store,
 * its pusher thread, its HTTP server) and Bindery (POST /wechat/events of
 * api/web.h, wechat/events.h, wechat/component.h, wechat/client.h) each on
 * a port of their own, nothing shared but HTTP. The test drives the
 * emulator through its control API and pages (as a browser and a phone
 * would), and Bindery through its component client.
 *
 * The issue's acceptance chain: ticket push received and stored -> component
 * token -> pre-auth code -> authorization page (with the right Referer) ->
 * phone confirm -> redirect with auth_code -> api_query_auth ->
 * api_get_authorizer_info -> 停止授权 on the mp page -> `unauthorized`
 * received and stored; with the push suppressed, 61003. Then expiry and
 * single use under the emulator clock, and the error-rate fault.
 *
 * The tests share one world (group setup) and run in order: each one
 * starts from the state the previous one left. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ctype.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>

#include "api/web.h"
#include "core/buf.h"
#include "core/crypto.h"
#include "core/log.h"
#include "core/timeutil.h"
#include "http/http.h"
#include "platform/platform.h"
#include "platform/pusher.h"
#include "platform/web.h"
#include "wechat/client.h"
#include "wechat/component.h"
#include "wechat/events.h"
#include "testutil.h"
#include "core/banned.h"

#define COMPONENT "wxinteropcomp00001"
#define SECRET    "6a1f0c9e2b7d4e3f8a5c1b0d9e7f2a43"
#define TOKEN     "interopToken"
#define AES_KEY   "InteropTestKey0123456789abcdefghijklmnopqrs"
#define WXID      "wxid_interop"
#define APP_MP    "wxinteropmp0000001"
#define APP_OA    "wxinteropoa0000001"
#define MP_NAME   "互通测试小程序"
#define OWNER     "interop-test"

/* Bounded waits: pushes and the pusher's rounds take milliseconds on
 * loopback; the ceiling only matters when something is broken. */
#define WAIT_MAX_MS  10000
#define POLL_MS      20
#define HTTP_TIMEOUT 10L

struct world {
    struct test_app t;
    struct wechat_events *events;
    struct web web;
    struct http_server *bindery_srv;
    char bindery[64]; /* http://127.0.0.1:PORT */
    char entry_domain[32];

    char pl_dir[64];
    char pl_listen[32];
    struct platform *pl;
    struct pl_pusher *pusher;
    struct pl_web pl_web;
    struct http_server *pl_srv;
    char emu[64];

    struct wx_component *c;
    struct wx_client *cl;
};

/* --- small helpers -------------------------------------------------------- */

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static uint64_t deadline(void)
{
    return time_mono_ns() + (uint64_t)WAIT_MAX_MS * 1000000u;
}

static void set_str(char **field, const char *value)
{
    free(*field);
    *field = xstrdup(value);
}

static void url_escape(struct buf *b, const char *s)
{
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (isalnum(ch) || ch == '-' || ch == '.' || ch == '_' || ch == '~')
            buf_addch(b, (char)ch);
        else
            buf_addf(b, "%%%02X", ch);
    }
}

static int hexval(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* The decoded value of query argument name in url into out ("" if none). */
static void query_arg(const char *url, const char *name, char *out, size_t size)
{
    size_t n = strlen(name), o = 0;
    const char *q = strchr(url, '?');
    out[0] = '\0';
    for (const char *p = q; p && *p; p = strchr(p + 1, '&')) {
        if (strncmp(p + 1, name, n) || p[1 + n] != '=')
            continue;
        for (const char *v = p + 2 + n; *v && *v != '&' && *v != '#' && o + 1 < size; v++) {
            if (*v == '%' && hexval(v[1]) >= 0 && hexval(v[2]) >= 0) {
                out[o++] = (char)(hexval(v[1]) * 16 + hexval(v[2]));
                v += 2;
            } else {
                out[o++] = *v == '+' ? ' ' : *v;
            }
        }
        out[o] = '\0';
        return;
    }
}

/* The text after `prefix` in html up to the next '"' into out ("" if none). */
static void html_attr(const char *html, const char *prefix, char *out, size_t size)
{
    const char *p = html ? strstr(html, prefix) : NULL;
    out[0] = '\0';
    if (!p)
        return;
    p += strlen(prefix);
    size_t n = strcspn(p, "\"");
    snprintf(out, size, "%.*s", (int)(n < size ? n : size - 1), p);
}

/* --- HTTP with libcurl ------------------------------------------------------ */

struct answer {
    long status;
    struct buf body;
    char location[2048];
    char cookie[256]; /* the first Set-Cookie, name=value */
};

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
    buf_add(&((struct answer *)arg)->body, data, size * n);
    return size * n;
}

/* Keeps the value of header name (case-insensitive), trimmed, up to the
 * first ';' when cut is set. */
static void header_value(const char *line, size_t len, const char *name, bool cut, char *out,
                         size_t size)
{
    size_t n = strlen(name);
    if (len <= n || strncasecmp(line, name, n) || line[n] != ':')
        return;
    const char *v = line + n + 1;
    size_t vl = len - n - 1;
    while (vl && (*v == ' ' || *v == '\t'))
        v++, vl--;
    while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == ' '))
        vl--;
    if (cut) {
        const char *semi = memchr(v, ';', vl);
        if (semi)
            vl = (size_t)(semi - v);
    }
    snprintf(out, size, "%.*s", (int)(vl < size ? vl : size - 1), v);
}

static size_t on_header(char *data, size_t size, size_t n, void *arg)
{
    struct answer *a = arg;
    header_value(data, size * n, "Location", false, a->location, sizeof(a->location));
    if (!a->cookie[0])
        header_value(data, size * n, "Set-Cookie", true, a->cookie, sizeof(a->cookie));
    return size * n;
}

/* One request; redirects are not followed. body NULL: GET. The answer's
 * body is NUL-terminated; release it with answer_release. */
static void http_call(const char *url, const char *content_type, const char *body,
                      const char *referer, const char *cookie, struct answer *ret)
{
    CURL *h = curl_easy_init();
    struct curl_slist *headers = NULL;
    char ct[128];
    memset(ret, 0, sizeof(*ret));
    buf_init(&ret->body);
    assert_non_null(h);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, HTTP_TIMEOUT);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, ret);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, ret);
    if (body) {
        snprintf(ct, sizeof(ct), "Content-Type: %s", content_type);
        headers = curl_slist_append(headers, ct);
        curl_easy_setopt(h, CURLOPT_POST, 1L);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
    }
    if (referer)
        curl_easy_setopt(h, CURLOPT_REFERER, referer);
    if (cookie)
        curl_easy_setopt(h, CURLOPT_COOKIE, cookie);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    CURLcode cc = curl_easy_perform(h);
    if (cc != CURLE_OK)
        print_error("%s: %s\n", url, curl_easy_strerror(cc));
    assert_int_equal(cc, CURLE_OK);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &ret->status);
    curl_slist_free_all(headers);
    curl_easy_cleanup(h);
    buf_addch(&ret->body, '\0');
    ret->body.len--;
}

static void answer_release(struct answer *a)
{
    buf_release(&a->body);
}

/* --- the emulator's control API --------------------------------------------- */

/* POSTs body (a new reference, stolen) to the control API path; the answer
 * must be 200. Returns it parsed (a new reference). */
static json_t *control(struct world *w, const char *path, json_t *body)
{
    char url[256];
    struct answer a;
    json_error_t jerr;
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    snprintf(url, sizeof(url), "%s/__emu/control/%s", w->emu, path);
    http_call(url, "application/json", text, NULL, NULL, &a);
    free(text);
    if (a.status != 200)
        print_error("control %s: HTTP %ld: %s\n", path, a.status, a.body.data);
    assert_int_equal(a.status, 200);
    json_t *v = json_loads(a.body.data, 0, &jerr);
    assert_non_null(v);
    answer_release(&a);
    return v;
}

static void control_ok(struct world *w, const char *path, json_t *body)
{
    json_decref(control(w, path, body));
}

static json_t *emu_state(struct world *w)
{
    char url[256];
    struct answer a;
    json_error_t jerr;
    snprintf(url, sizeof(url), "%s/__emu/control/state", w->emu);
    http_call(url, NULL, NULL, NULL, NULL, &a);
    assert_int_equal(a.status, 200);
    json_t *v = json_loads(a.body.data, 0, &jerr);
    assert_non_null(v);
    answer_release(&a);
    return v;
}

/* Component access tokens the emulator has issued to COMPONENT. */
static size_t emu_component_tokens(struct world *w)
{
    json_t *st = emu_state(w), *t;
    size_t i, n = 0;
    json_array_foreach(json_object_get(st, "tokens"), i, t)
    {
        if (!strcmp(json_string_value(json_object_get(t, "kind")), "component") &&
            !strcmp(json_string_value(json_object_get(t, "component_appid")), COMPONENT))
            n++;
    }
    json_decref(st);
    return n;
}

/* Waits until the newest push job of info_type (for authorizer appid, ""
 * for tickets) is in state want; returns its id. */
static json_int_t wait_push_job(struct world *w, const char *info_type, const char *appid,
                                const char *want)
{
    uint64_t end = deadline();
    char last[32] = "none";
    for (;;) {
        json_t *st = emu_state(w), *p;
        size_t i;
        json_int_t id = 0;
        json_array_foreach(json_object_get(st, "pushes"), i, p)
        {
            const char *a = json_string_value(json_object_get(p, "authorizer_appid"));
            if (strcmp(json_string_value(json_object_get(p, "info_type")), info_type) ||
                strcmp(a ? a : "", appid))
                continue;
            snprintf(last, sizeof(last), "%s", json_string_value(json_object_get(p, "state")));
            if (!strcmp(last, want))
                id = json_integer_value(json_object_get(p, "id"));
            break; /* newest first */
        }
        json_decref(st);
        if (id)
            return id;
        if (time_mono_ns() > end) {
            print_error("push %s of '%s': state %s, want %s\n", info_type, appid, last, want);
            fail();
        }
        sleep_ms(POLL_MS);
    }
}

/* Prints the emulator's push jobs and delivery log, for a failure. */
static void dump_pushes(struct world *w)
{
    json_t *st = emu_state(w), *v;
    size_t i;
    json_array_foreach(json_object_get(st, "pushes"), i, v)
    {
        const char *a = json_string_value(json_object_get(v, "authorizer_appid"));
        fprintf(stderr, "push %lld: %s %s %s create_time %lld\n",
                (long long)json_integer_value(json_object_get(v, "id")),
                json_string_value(json_object_get(v, "info_type")), a ? a : "",
                json_string_value(json_object_get(v, "state")),
                (long long)json_integer_value(json_object_get(v, "create_time")));
    }
    json_array_foreach(json_object_get(st, "deliveries"), i, v)
    {
        fprintf(stderr, "delivery of %lld (attempt %lld): HTTP %lld %s %s\n",
                (long long)json_integer_value(json_object_get(v, "job")),
                (long long)json_integer_value(json_object_get(v, "attempt")),
                (long long)json_integer_value(json_object_get(v, "http_status")),
                json_string_value(json_object_get(v, "outcome")),
                json_string_value(json_object_get(v, "detail")));
    }
    json_decref(st);
}

/* --- Bindery's side --------------------------------------------------------- */

/* Waits until Bindery has stored an authorization event of type for appid,
 * claims it, completes it and returns it. Any other event claimed on the
 * way is a failure: the flow of these tests makes each event expected. */
static void wait_event(struct world *w, enum wx_info_type type, const char *appid,
                       struct wechat_event *ret)
{
    uint64_t end = deadline();
    for (;;) {
        struct wechat_event evs[8];
        size_t n = 0;
        bool found = false;
        assert_int_equal(wechat_events_claim(&w->t.app, OWNER, time_now(), 60, 8, evs, &n), 0);
        for (size_t i = 0; i < n; i++) {
            if (evs[i].type != type || strcmp(evs[i].authorizer_appid, appid)) {
                print_error("unexpected event %s of %s\n", wx_info_type_name(evs[i].type),
                            evs[i].authorizer_appid);
                fail();
            }
            assert_int_equal(
                wechat_events_complete_now(&w->t.app, evs[i].id, OWNER, "interop", time_now()), 0);
            *ret = evs[i];
            found = true;
        }
        crypto_wipe(evs, sizeof(evs));
        if (found)
            return;
        if (time_mono_ns() > end) {
            print_error("no %s event for %s stored by Bindery\n", wx_info_type_name(type), appid);
            dump_pushes(w);
            fail();
        }
        sleep_ms(POLL_MS);
    }
}

/* No authorization event is waiting in Bindery's store. */
static void assert_no_event(struct world *w)
{
    struct wechat_event evs[8];
    size_t n = 0;
    assert_int_equal(wechat_events_claim(&w->t.app, OWNER, time_now(), 60, 8, evs, &n), 0);
    for (size_t i = 0; i < n; i++)
        print_error("unexpected event %s of %s\n", wx_info_type_name(evs[i].type),
                    evs[i].authorizer_appid);
    assert_int_equal(n, 0);
}

/* --- the authorization flow, as a browser and a phone do it ------------------ */

static void redirect_uri(struct world *w, char *out, size_t size)
{
    snprintf(out, size, "%s/wechat/authorized?link=42", w->bindery);
}

/* GETs the PC authorization page for pre_auth_code with Referer (NULL:
 * none); returns the emu-error marker ("" for none) and the QR session. */
static void login_page(struct world *w, const char *pre_auth_code, const char *referer,
                       char marker[64], char session[PL_SESSION_ID_LEN + 1], char *qr_link,
                       size_t qr_size)
{
    struct buf url = BUF_INIT;
    struct answer a;
    char redirect[128];
    redirect_uri(w, redirect, sizeof(redirect));
    buf_addf(&url, "%s/cgi-bin/componentloginpage?component_appid=%s&pre_auth_code=", w->emu,
             COMPONENT);
    url_escape(&url, pre_auth_code);
    buf_adds(&url, "&redirect_uri=");
    url_escape(&url, redirect);
    buf_adds(&url, "&auth_type=3");
    http_call(url.data, NULL, NULL, referer, NULL, &a);
    assert_int_equal(a.status, 200);
    html_attr(a.body.data, "<meta name=\"emu-error\" content=\"", marker, 64);
    html_attr(a.body.data, "data-poll=\"", session, PL_SESSION_ID_LEN + 1);
    if (qr_link)
        html_attr(a.body.data, "id=\"qr-link\" href=\"", qr_link, qr_size);
    answer_release(&a);
    buf_release(&url);
}

struct authorized {
    char pre_auth_code[WX_CODE_MAX + 1];
    char auth_code[WX_CODE_MAX + 1];
};

/* The whole link: pre-auth code from Bindery's client, the PC page with the
 * Referer of Bindery's page, scan + confirm on the phone as WXID, the poll
 * until the redirect is released, and the redirect's auth_code. Checks
 * each step; the `authorized` (or `updateauthorized`) push's event is then
 * waiting in Bindery's store. */
static void authorize(struct world *w, const char *appid, struct authorized *ret)
{
    struct wx_preauthcode pac;
    struct wx_result res;
    struct be_diag d = {""};
    char marker[64], session[PL_SESSION_ID_LEN + 1], link[512], referer[128], redirect[128];

    int rc = wx_component_create_preauthcode(w->c, &pac, &res, &d);
    if (rc)
        print_error("create_preauthcode: %s\n", d.msg);
    assert_int_equal(rc, 0);
    assert_int_equal(pac.expires_in, 1800);
    assert_non_null(strstr(pac.pre_auth_code, "preauthcode@@@"));
    snprintf(ret->pre_auth_code, sizeof(ret->pre_auth_code), "%s", pac.pre_auth_code);

    snprintf(referer, sizeof(referer), "%s/console/apps/link", w->bindery);
    login_page(w, pac.pre_auth_code, referer, marker, session, link, sizeof(link));
    assert_string_equal(marker, "");
    assert_int_equal(strlen(session), PL_SESSION_ID_LEN);
    assert_non_null(strstr(link, "/__emu/phone/scan?s="));
    assert_non_null(strstr(link, session));

    json_t *r = control(
        w, "scan", json_pack("{s:s,s:s,s:s}", "session", session, "wxid", WXID, "appid", appid));
    assert_string_equal(json_string_value(json_object_get(r, "state")), "confirmed");
    const char *code = json_string_value(json_object_get(r, "auth_code"));
    assert_non_null(code);
    assert_non_null(strstr(code, "queryauthcode@@@"));
    snprintf(ret->auth_code, sizeof(ret->auth_code), "%s", code);
    json_decref(r);

    /* the PC page's poll: the redirect is released once the push had its
     * first attempt */
    char url[256], got[WX_CODE_MAX + 1], expires[16];
    snprintf(url, sizeof(url), "%s/__emu/qr/status?s=%s", w->emu, session);
    redirect_uri(w, redirect, sizeof(redirect));
    uint64_t end = deadline();
    for (;;) {
        struct answer a;
        json_error_t jerr;
        http_call(url, NULL, NULL, NULL, NULL, &a);
        assert_int_equal(a.status, 200);
        json_t *st = json_loads(a.body.data, 0, &jerr);
        answer_release(&a);
        assert_non_null(st);
        const char *to = json_string_value(json_object_get(st, "redirect"));
        if (to) {
            assert_string_equal(json_string_value(json_object_get(st, "state")), "confirmed");
            assert_memory_equal(to, redirect, strlen(redirect));
            query_arg(to, "auth_code", got, sizeof(got));
            query_arg(to, "expires_in", expires, sizeof(expires));
            query_arg(to, "link", marker, sizeof(marker));
            json_decref(st);
            break;
        }
        json_decref(st);
        assert_true(time_mono_ns() < end);
        sleep_ms(POLL_MS);
    }
    assert_string_equal(got, ret->auth_code);
    assert_string_equal(expires, "3600");
    assert_string_equal(marker, "42"); /* redirect_uri's own query kept */
}

/* 设置 → 第三方授权管理 → 【停止授权】 on the mp console, as WXID. */
static void stop_authorization(struct world *w, const char *appid)
{
    struct answer a;
    struct buf body = BUF_INIT;
    char url[2200], cookie[256], data_component[64];

    snprintf(url, sizeof(url), "%s/__emu/mp/login", w->emu);
    buf_addf(&body, "wxuser=%s&appid=%s", WXID, appid);
    http_call(url, "application/x-www-form-urlencoded", body.data, NULL, NULL, &a);
    assert_int_equal(a.status, 303);
    assert_non_null(strstr(a.cookie, "emu_mp="));
    snprintf(cookie, sizeof(cookie), "%s", a.cookie);
    snprintf(url, sizeof(url), "%s%s", w->emu, a.location);
    answer_release(&a);

    http_call(url, NULL, NULL, NULL, cookie, &a);
    assert_int_equal(a.status, 200);
    html_attr(a.body.data, "<tr class=\"grant\" data-component=\"", data_component,
              sizeof(data_component));
    assert_string_equal(data_component, COMPONENT);
    assert_non_null(strstr(a.body.data, "停止授权"));
    answer_release(&a);

    buf_reset(&body);
    buf_addf(&body, "appid=%s&component_appid=%s", appid, COMPONENT);
    snprintf(url, sizeof(url), "%s/__emu/mp/thirdparty/revoke", w->emu);
    http_call(url, "application/x-www-form-urlencoded", body.data, NULL, cookie, &a);
    assert_int_equal(a.status, 303);
    assert_non_null(strstr(a.location, "revoked=" COMPONENT));
    answer_release(&a);
    buf_release(&body);
}

/* --- the world ---------------------------------------------------------------- */

static int start_bindery(struct world *w)
{
    struct be_diag d = {""};
    if (test_app_open(&w->t))
        return -1;
    struct config *cfg = w->t.cfg;
    set_str(&cfg->wechat_component_appid, COMPONENT);
    set_str(&cfg->wechat_component_appsecret, SECRET);
    set_str(&cfg->wechat_token, TOKEN);
    set_str(&cfg->wechat_encoding_aes_key, AES_KEY);
    if (wechat_events_new(&w->t.app, &w->events, &d)) {
        fprintf(stderr, "wechat_events_new: %s\n", d.msg);
        return -1;
    }
    w->web = (struct web){&w->t.app, NULL, w->events};
    size_t nroutes;
    const struct http_route *routes = web_routes(&nroutes);
    struct http_server_options o = {
        .listen = "127.0.0.1:0",
        .threads = 4,
        .max_body = (size_t)cfg->http_max_body_bytes,
        .timeout_s = (unsigned)cfg->http_timeout,
        .max_connections = (unsigned)cfg->http_max_connections,
    };
    if (http_server_start(&o, routes, nroutes, &w->web, &w->bindery_srv))
        return -1;
    w->web.http = w->bindery_srv;
    unsigned port = http_server_port(w->bindery_srv);
    snprintf(w->bindery, sizeof(w->bindery), "http://127.0.0.1:%u", port);
    snprintf(w->entry_domain, sizeof(w->entry_domain), "127.0.0.1:%u", port);
    return 0;
}

static int start_emulator(struct world *w)
{
    struct be_diag d = {""};
    snprintf(w->pl_dir, sizeof(w->pl_dir), "/tmp/bindery-interop-XXXXXX");
    if (!mkdtemp(w->pl_dir))
        return -1;
    struct pl_options po = {.data_dir = w->pl_dir, .ticket_interval = 600};
    if (pl_open(&po, &w->pl, &d)) {
        fprintf(stderr, "pl_open: %s\n", d.msg);
        return -1;
    }
    if (pl_pusher_start(w->pl, &w->pusher))
        return -1;
    snprintf(w->pl_listen, sizeof(w->pl_listen), "127.0.0.1:0");
    w->pl_web = (struct pl_web){w->pl, w->pl_listen};
    size_t nroutes;
    const struct http_route *routes = pl_web_routes(&nroutes);
    struct http_server_options o = {
        .listen = w->pl_listen,
        .threads = 4,
        .max_body = PL_WEB_MAX_BODY,
        .timeout_s = 30,
        .max_connections = 256,
    };
    if (http_server_start(&o, routes, nroutes, &w->pl_web, &w->pl_srv))
        return -1;
    unsigned port = http_server_port(w->pl_srv);
    snprintf(w->pl_listen, sizeof(w->pl_listen), "127.0.0.1:%u", port);
    snprintf(w->emu, sizeof(w->emu), "http://127.0.0.1:%u", port);
    return 0;
}

/* Bindery's component client, pointed at the emulator. Short back-off keeps
 * the fault test fast; the rule (3 attempts, x4) is the production one. */
static int start_client(struct world *w)
{
    struct be_diag d = {""};
    set_str(&w->t.cfg->wechat_api_base_url, w->emu);
    set_str(&w->t.cfg->wechat_mp_base_url, w->emu);
    struct wx_client_options o = {.base_url = w->emu, .backoff_ms = 10};
    if (wx_component_new(&w->t.app, &o, &w->c, &d) || wx_client_new(&o, &w->cl, &d)) {
        fprintf(stderr, "component: %s\n", d.msg);
        return -1;
    }
    w->t.app.wechat = w->c;
    return 0;
}

/* The emulator's world: a WeChat user administering a mini program and an
 * official account, and Bindery's component, with its push URL on Bindery's
 * port and its entry domain Bindery's host. Ticket pushes are left to the
 * test (ticket_pushes false), so that every ticket is one the test asked
 * for. */
static void register_component(struct world *w)
{
    char events_url[128];
    snprintf(events_url, sizeof(events_url), "%s/wechat/events", w->bindery);
    control_ok(w, "wxusers", json_pack("{s:s,s:s}", "wxid", WXID, "nickname", "互通"));
    control_ok(w, "authorizers",
               json_pack("{s:s,s:s,s:s,s:s,s:[s]}", "appid", APP_MP, "kind", "mp", "nick_name",
                         MP_NAME, "principal_name", "互通测试有限公司", "admins", WXID));
    control_ok(w, "authorizers",
               json_pack("{s:s,s:s,s:s,s:s,s:[s]}", "appid", APP_OA, "kind", "oa", "nick_name",
                         "互通测试公众号", "principal_name", "互通测试有限公司", "admins", WXID));
    control_ok(w, "components",
               json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:b}", "component_appid", COMPONENT,
                         "secret", SECRET, "token", TOKEN, "aes_key", AES_KEY, "auth_event_url",
                         events_url, "entry_domain", w->entry_domain, "name", "Bindery (interop)",
                         "ticket_pushes", 0));
}

static int group_setup(void **state)
{
    struct world *w = xcalloc(1, sizeof(*w));
    *state = w;
    signal(SIGPIPE, SIG_IGN);
    log_level_current = LOG_WARN;
    if (start_bindery(w) || start_emulator(w) || start_client(w))
        return -1;
    register_component(w);
    return 0;
}

static int group_teardown(void **state)
{
    struct world *w = *state;
    if (!w)
        return 0;
    /* The emulator's pusher first: it may be in the middle of a push to
     * Bindery. */
    pl_pusher_stop(w->pusher);
    if (w->pl_srv)
        http_server_stop(w->pl_srv, 1);
    if (w->bindery_srv)
        http_server_stop(w->bindery_srv, 1);
    w->t.app.wechat = NULL;
    wx_client_free(w->cl);
    wx_component_free(w->c);
    wechat_events_free(w->events);
    pl_close(w->pl);
    if (w->pl_dir[0])
        test_rmdir(w->pl_dir);
    if (w->t.cfg)
        test_app_close(&w->t);
    free(w);
    return 0;
}

/* --- the tests ------------------------------------------------------------------ */

/* component_verify_ticket pushed by the emulator, received and stored by
 * Bindery; then the component token is obtained with it, and cached. */
static void test_ticket_and_token(void **state)
{
    struct world *w = *state;
    struct wx_component_status st;
    struct wx_token tok, again;
    struct wx_result res;
    struct be_diag d = {""};

    assert_int_equal(wx_component_status(&w->t.app, &st), 0);
    assert_false(st.has_ticket);
    /* no ticket yet: the client cannot get a token and says why */
    assert_int_equal(wx_component_token(w->c, NULL, &tok, &res, &d), BE_UPSTREAM);
    assert_non_null(strstr(d.msg, "component_verify_ticket"));
    assert_int_equal(emu_component_tokens(w), 0);

    json_t *r = control(w, "push-ticket", json_pack("{s:s}", "component_appid", COMPONENT));
    const char *ticket = json_string_value(
        json_object_get(json_array_get(json_object_get(r, "tickets"), 0), "ticket"));
    assert_non_null(ticket);
    assert_non_null(strstr(ticket, "ticket@@@"));
    json_decref(r);

    uint64_t end = deadline();
    while (!(wx_component_status(&w->t.app, &st) == 0 && st.has_ticket)) {
        assert_true(time_mono_ns() < end);
        sleep_ms(POLL_MS);
    }
    assert_in_range(st.ticket_create_time, time_now() - 60, time_now() + 60);
    /* the emulator saw "success" for it */
    json_int_t first_job = wait_push_job(w, "component_verify_ticket", "", "delivered");

    d.msg[0] = '\0';
    int rc = wx_component_token(w->c, NULL, &tok, &res, &d);
    if (rc)
        print_error("wx_component_token: %s (%ld)\n", d.msg, res.errcode);
    assert_int_equal(rc, 0);
    assert_memory_equal(tok.value, "83_", 3);
    assert_int_equal(tok.generation, 1);
    assert_in_range(tok.expires_at, time_now() + 7200 - 60, time_now() + 7200);
    assert_int_equal(emu_component_tokens(w), 1);

    /* cached: the same token, no second api_component_token */
    assert_int_equal(wx_component_token(w->c, NULL, &again, &res, &d), 0);
    assert_string_equal(again.value, tok.value);
    assert_int_equal(emu_component_tokens(w), 1);

    /* WeChat accepts the token under its other parameter name (§3.2) */
    struct wx_client_options o = {.base_url = w->emu, .token_param = WX_TOKEN_PARAM_ACCESS_TOKEN};
    struct wx_client *cl = NULL;
    struct wx_preauthcode pac;
    assert_int_equal(wx_client_new(&o, &cl, &d), 0);
    assert_int_equal(wx_client_create_preauthcode(cl, tok.value, COMPONENT, &pac, &res, &d), 0);
    assert_non_null(strstr(pac.pre_auth_code, "preauthcode@@@"));
    wx_client_free(cl);

    /* api_start_push_ticket: WeChat pushes a new ticket at once, and Bindery
     * takes it (the emulator counts the push delivered only on "success") */
    assert_int_equal(wx_component_start_push_ticket(w->c, &res, &d), 0);
    assert_int_equal(res.errcode, 0);
    assert_true(wait_push_job(w, "component_verify_ticket", "", "delivered") > first_job);
    crypto_wipe(&tok, sizeof(tok));
    crypto_wipe(&again, sizeof(again));
}

/* The acceptance chain, link to 停止授权, with the pushes delivered. */
static void test_authorization_chain(void **state)
{
    struct world *w = *state;
    struct authorized az;
    struct wechat_event ev;
    struct wx_result res;
    struct be_diag d = {""};
    char marker[64], session[PL_SESSION_ID_LEN + 1];

    /* the Referer rule (§5.2): a page opened from elsewhere is refused */
    struct wx_preauthcode pac;
    assert_int_equal(wx_component_create_preauthcode(w->c, &pac, &res, &d), 0);
    login_page(w, pac.pre_auth_code, "http://evil.example/", marker, session, NULL, 0);
    assert_string_equal(marker, "referer");
    assert_string_equal(session, "");
    login_page(w, pac.pre_auth_code, NULL, marker, session, NULL, 0);
    assert_string_equal(marker, "referer");

    authorize(w, APP_MP, &az);

    /* the `authorized` push reached Bindery's store with the same code */
    wait_event(w, WX_INFO_AUTHORIZED, APP_MP, &ev);
    assert_string_equal(ev.authorization_code, az.auth_code);
    assert_string_equal(ev.pre_auth_code, az.pre_auth_code);
    assert_in_range(ev.authorization_code_expires_at, time_now() + 3600 - 60, time_now() + 3600);
    crypto_wipe(&ev, sizeof(ev));
    wait_push_job(w, "authorized", APP_MP, "delivered");

    /* api_query_auth: the app and its tokens */
    struct wx_authorization auth;
    int rc = wx_component_query_auth(w->c, az.auth_code, &auth, &res, &d);
    if (rc)
        print_error("query_auth: %s\n", d.msg);
    assert_int_equal(rc, 0);
    assert_string_equal(auth.authorizer_appid, APP_MP);
    assert_memory_equal(auth.authorizer_access_token, "83_", 3);
    assert_int_equal(auth.expires_in, 7200);
    assert_memory_equal(auth.authorizer_refresh_token, "refreshtoken@@@", 15);
    assert_int_equal(auth.nfunc, 3); /* the mini program defaults: 17, 18, 19 */
    assert_int_equal(auth.func_ids[0], 17);
    assert_false(res.token_refreshed);

    /* the refresh token works */
    struct wx_authorizer_token at;
    assert_int_equal(
        wx_component_authorizer_token(w->c, APP_MP, auth.authorizer_refresh_token, &at, &res, &d),
        0);
    assert_memory_equal(at.authorizer_access_token, "83_", 3);
    assert_string_equal(at.authorizer_refresh_token, auth.authorizer_refresh_token);

    /* api_get_authorizer_info and the list */
    struct wx_authorizer_info info;
    assert_int_equal(wx_component_get_authorizer_info(w->c, APP_MP, &info, &res, &d), 0);
    assert_string_equal(info.nick_name, MP_NAME);
    assert_string_equal(info.principal_name, "互通测试有限公司");
    assert_true(info.is_mini_program);
    assert_string_equal(info.authorization.authorizer_appid, APP_MP);
    assert_int_equal(info.authorization.nfunc, 3);
    struct wx_authorizer_list list = {0};
    assert_int_equal(wx_component_get_authorizer_list(w->c, 0, 100, &list, &res, &d), 0);
    assert_int_equal(list.total_count, 1);
    assert_int_equal(list.n, 1);
    assert_string_equal(list.items[0].authorizer_appid, APP_MP);
    wx_authorizer_list_release(&list);

    /* 停止授权 on the mp page: `unauthorized` reaches Bindery's store */
    stop_authorization(w, APP_MP);
    wait_event(w, WX_INFO_UNAUTHORIZED, APP_MP, &ev);
    assert_string_equal(ev.authorization_code, "");
    wait_push_job(w, "unauthorized", APP_MP, "delivered");

    /* and the authorization is gone */
    rc = wx_component_get_authorizer_info(w->c, APP_MP, &info, &res, &d);
    assert_int_equal(rc, BE_FAILED);
    assert_int_equal(res.errcode, 61003);
    rc = wx_component_authorizer_token(w->c, APP_MP, auth.authorizer_refresh_token, &at, &res, &d);
    assert_int_equal(rc, BE_FAILED);
    assert_int_equal(res.errcode, 61003);
    assert_true(wx_errcode_is_revocation_signal(res.errcode));
    crypto_wipe(&auth, sizeof(auth));
    crypto_wipe(&at, sizeof(at));
    crypto_wipe(&az, sizeof(az));
}

/* The seed's "the cloud is not told": with `unauthorized` suppressed,
 * Bindery gets nothing, and api_get_authorizer_info answers 61003. Also the
 * single-use switch for authorization codes. */
static void test_suppressed_unauthorized(void **state)
{
    struct world *w = *state;
    struct authorized az;
    struct wechat_event ev;
    struct wx_result res;
    struct be_diag d = {""};
    struct wx_authorization auth;
    struct wx_authorizer_info info;

    control_ok(w, "pushes", json_pack("{s:s}", "unauthorized", "suppress"));
    control_ok(w, "settings", json_pack("{s:b}", "single_use_codes", 1));
    authorize(w, APP_OA, &az);
    wait_event(w, WX_INFO_AUTHORIZED, APP_OA, &ev);
    assert_string_equal(ev.authorization_code, az.auth_code);
    crypto_wipe(&ev, sizeof(ev));

    assert_int_equal(wx_component_query_auth(w->c, az.auth_code, &auth, &res, &d), 0);
    assert_string_equal(auth.authorizer_appid, APP_OA);
    assert_int_equal(auth.nfunc, 7); /* the official account defaults */
    /* single use: the second exchange is refused */
    assert_int_equal(wx_component_query_auth(w->c, az.auth_code, &auth, &res, &d),
                     BE_INVALID_PARAMETER_VALUE);
    assert_int_equal(res.errcode, 61009);
    control_ok(w, "settings", json_pack("{s:b}", "single_use_codes", 0));

    assert_int_equal(wx_component_get_authorizer_info(w->c, APP_OA, &info, &res, &d), 0);
    assert_false(info.is_mini_program);

    stop_authorization(w, APP_OA);
    wait_push_job(w, "unauthorized", APP_OA, "suppressed");

    int rc = wx_component_get_authorizer_info(w->c, APP_OA, &info, &res, &d);
    assert_int_equal(rc, BE_FAILED);
    assert_int_equal(res.kind, WX_FAIL_ERRCODE);
    assert_int_equal(res.errcode, 61003);
    assert_true(wx_errcode_is_revocation_signal(res.errcode));
    assert_non_null(strstr(d.msg, "61003"));
    /* a suppressed push is never sent: nothing waits in Bindery */
    assert_no_event(w);
    control_ok(w, "pushes", json_pack("{s:s}", "unauthorized", "deliver"));
    crypto_wipe(&auth, sizeof(auth));
    crypto_wipe(&az, sizeof(az));
}

/* Expiry and single use under the emulator clock: a used pre-auth code, an
 * expired one, an expired authorization code, and an expired component
 * token that the client replaces by itself (§3.7). */
static void test_expiry(void **state)
{
    struct world *w = *state;
    struct authorized az;
    struct wechat_event ev;
    struct wx_result res;
    struct be_diag d = {""};
    struct wx_authorization auth;
    struct wx_authorizer_info info;
    struct wx_preauthcode pac;
    char marker[64], session[PL_SESSION_ID_LEN + 1], referer[128];
    snprintf(referer, sizeof(referer), "%s/console/apps/link", w->bindery);

    /* authorizing again after 停止授权: `authorized` again. One second of
     * the emulator clock first, so that this push's CreateTime differs from
     * the first `authorized` of the app: Bindery takes (InfoType, app,
     * CreateTime) for a duplicate (see test_reauthorization_same_second). */
    control_ok(w, "clock", json_pack("{s:i}", "advance_seconds", 1));
    authorize(w, APP_MP, &az);
    wait_event(w, WX_INFO_AUTHORIZED, APP_MP, &ev);
    crypto_wipe(&ev, sizeof(ev));

    /* the pre-auth code was consumed by the confirmation */
    login_page(w, az.pre_auth_code, referer, marker, session, NULL, 0);
    assert_string_equal(marker, "pre_auth_code_used");
    assert_string_equal(session, "");

    /* an unused pre-auth code expires after 1800 s */
    assert_int_equal(wx_component_create_preauthcode(w->c, &pac, &res, &d), 0);
    login_page(w, pac.pre_auth_code, referer, marker, session, NULL, 0);
    assert_string_equal(marker, ""); /* valid now */
    control_ok(w, "clock", json_pack("{s:i}", "advance_seconds", 1801));
    login_page(w, pac.pre_auth_code, referer, marker, session, NULL, 0);
    assert_string_equal(marker, "pre_auth_code_expired");

    /* the authorization code still works at 1801 s (reusable within its
     * life by default), and not after 3600 s */
    assert_int_equal(wx_component_query_auth(w->c, az.auth_code, &auth, &res, &d), 0);
    assert_string_equal(auth.authorizer_appid, APP_MP);
    control_ok(w, "clock", json_pack("{s:i}", "advance_seconds", 1800));
    assert_int_equal(wx_component_query_auth(w->c, az.auth_code, &auth, &res, &d),
                     BE_INVALID_PARAMETER_VALUE);
    assert_int_equal(res.errcode, 61010);
    assert_false(res.token_refreshed);

    /* the component token: 7200 s of the emulator clock. Bindery's cache
     * (on its own clock) still holds it; WeChat answers 42001 */
    struct wx_token old, now_tok;
    assert_int_equal(wx_component_token(w->c, NULL, &old, &res, &d), 0);
    size_t tokens = emu_component_tokens(w);
    control_ok(w, "clock", json_pack("{s:i}", "advance_seconds", 3600));
    int rc = wx_client_get_authorizer_info(w->cl, old.value, COMPONENT, APP_MP, &info, &res, &d);
    assert_int_equal(rc, BE_UPSTREAM);
    assert_int_equal(res.errcode, 42001);
    assert_true(wx_errcode_is_token_error(res.errcode));

    /* the component recovers by itself: new token, retried once */
    rc = wx_component_get_authorizer_info(w->c, APP_MP, &info, &res, &d);
    if (rc)
        print_error("after 42001: %s (%ld)\n", d.msg, res.errcode);
    assert_int_equal(rc, 0);
    assert_true(res.token_refreshed);
    assert_string_equal(info.authorization.authorizer_appid, APP_MP);
    assert_int_equal(emu_component_tokens(w), tokens + 1);
    assert_int_equal(wx_component_token(w->c, NULL, &now_tok, &res, &d), 0);
    assert_int_equal(now_tok.generation, old.generation + 1);
    assert_string_not_equal(now_tok.value, old.value);

    /* and the next call uses the new token without another refresh */
    assert_int_equal(wx_component_get_authorizer_info(w->c, APP_MP, &info, &res, &d), 0);
    assert_false(res.token_refreshed);
    assert_int_equal(res.attempts, 1);
    assert_int_equal(emu_component_tokens(w), tokens + 1);
    crypto_wipe(&old, sizeof(old));
    crypto_wipe(&now_tok, sizeof(now_tok));
    crypto_wipe(&auth, sizeof(auth));
    crypto_wipe(&az, sizeof(az));
}

/* error_rate 0.3: every call either succeeds within its 3 attempts or fails
 * cleanly with BE_UPSTREAM and WeChat's -1. */
static void test_error_rate(void **state)
{
    struct world *w = *state;
    struct wx_result res;
    struct be_diag d = {""};
    unsigned ok = 0, failed = 0, retried = 0;
    enum { CALLS = 40 };

    control_ok(w, "faults", json_pack("{s:f}", "error_rate", 0.3));
    for (unsigned i = 0; i < CALLS; i++) {
        struct wx_preauthcode pac;
        struct wx_authorizer_info info;
        int rc = i % 2 ? wx_component_create_preauthcode(w->c, &pac, &res, &d)
                       : wx_component_get_authorizer_info(w->c, APP_MP, &info, &res, &d);
        assert_in_range(res.attempts, 1, WX_CLIENT_MAX_ATTEMPTS);
        assert_false(res.token_refreshed);
        if (res.attempts > 1)
            retried++;
        if (rc == 0) {
            ok++;
            assert_int_equal(res.kind, WX_FAIL_NONE);
            continue;
        }
        failed++;
        if (rc != BE_UPSTREAM)
            print_error("call %u: %s (%ld) %s\n", i, be_err_code(rc), res.errcode, d.msg);
        assert_int_equal(rc, BE_UPSTREAM);
        assert_int_equal(res.kind, WX_FAIL_ERRCODE);
        assert_int_equal(res.errcode, -1);
        assert_int_equal(res.attempts, WX_CLIENT_MAX_ATTEMPTS);
    }
    control_ok(w, "faults", json_pack("{s:f}", "error_rate", 0.0));
    print_message("error_rate 0.3: %u of %u calls succeeded, %u needed retries, %u failed\n", ok,
                  CALLS, retried, failed);
    /* P(a call fails) = 0.3^3 = 2.7%; P(no call retried) = 0.7^40 < 1e-6 */
    assert_true(ok >= CALLS / 2);
    assert_true(retried > 0);
    /* calm again: the next call succeeds first time */
    struct wx_preauthcode pac;
    assert_int_equal(wx_component_create_preauthcode(w->c, &pac, &res, &d), 0);
    assert_int_equal(res.attempts, 1);
}

/* Authorize, 停止授权, authorize again, all within one second (CreateTime
 * has one-second resolution). The second `authorized` carries a new
 * AuthorizationCode: it is a new event, not a retry of the first, and must
 * be stored. */
static void test_reauthorization_same_second(void **state)
{
    struct world *w = *state;
    struct authorized first, second;
    struct wechat_event ev;
    /* start just after a second boundary, so that the three steps share
     * the emulator's second */
    /* The three steps usually fit in one second; on a loaded machine a
     * round may cross one, so try a few rounds. Every round must deliver
     * both authorizations; at least one must do it within one second. */
    bool same_second = false;
    for (int round = 0; round < 5 && !same_second; round++) {
        uint64_t end = deadline();
        while (time_now_ms() % 1000 > 50) {
            assert_true(time_mono_ns() < end);
            sleep_ms(5);
        }
        authorize(w, APP_OA, &first);
        stop_authorization(w, APP_OA);
        authorize(w, APP_OA, &second);
        json_int_t job = wait_push_job(w, "authorized", APP_OA, "delivered");
        json_t *st = emu_state(w), *p;
        size_t i;
        json_int_t t_first = 0, t_second = 0;
        json_array_foreach(json_object_get(st, "pushes"), i, p)
        {
            const char *xml = json_string_value(json_object_get(p, "xml"));
            if (xml && strstr(xml, first.auth_code))
                t_first = json_integer_value(json_object_get(p, "create_time"));
            if (json_integer_value(json_object_get(p, "id")) == job)
                t_second = json_integer_value(json_object_get(p, "create_time"));
        }
        json_decref(st);
        same_second = t_first == t_second;
        wait_event(w, WX_INFO_AUTHORIZED, APP_OA, &ev);
        assert_string_equal(ev.authorization_code, first.auth_code);
        wait_event(w, WX_INFO_UNAUTHORIZED, APP_OA, &ev);
        wait_event(w, WX_INFO_AUTHORIZED, APP_OA, &ev);
        assert_string_equal(ev.authorization_code, second.auth_code);
        if (round < 4 && !same_second) /* start the next round revoked */
            stop_authorization(w, APP_OA), wait_event(w, WX_INFO_UNAUTHORIZED, APP_OA, &ev);
    }
    /* On a loaded machine no round may fit in one second; the same-second
     * case itself is covered deterministically by test_wechat_events. */
    if (!same_second) {
        print_message("no round fitted in one second; the sequence was still delivered\n");
        skip();
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ticket_and_token),
        cmocka_unit_test(test_authorization_chain),
        cmocka_unit_test(test_suppressed_unauthorized),
        cmocka_unit_test(test_expiry),
        cmocka_unit_test(test_error_rate),
        cmocka_unit_test(test_reauthorization_same_second),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
