/* The emulator's HTML pages (web.h): WeChat's two authorization entries,
 * the phone, and the mp console's 第三方授权管理. Every page is built with
 * escaped values; forms POST back here. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/timeutil.h"
#include "platform/flow.h"
#include "platform/form.h"
#include "platform/qr.h"
#include "platform/web.h"
#include "core/banned.h"

#define HTML_TYPE    "text/html; charset=utf-8"
#define PHONE_COOKIE "emu_wxuser"
#define MP_COOKIE    "emu_mp"
#define QR_SCALE     5

const char pl_page_script[] =
    "(function () {\n"
    "  var el = document.querySelector('[data-poll]');\n"
    "  if (!el) return;\n"
    "  var s = el.getAttribute('data-poll');\n"
    "  var texts = {waiting: '请使用微信扫描二维码', scanned: '已扫码，请在手机上确认授权',\n"
    "    confirmed: '授权成功，正在跳转…', cancelled: '已取消授权，请刷新页面重试',\n"
    "    expired: '二维码已过期，请刷新页面'};\n"
    "  function poll() {\n"
    "    fetch('/__emu/qr/status?s=' + encodeURIComponent(s), {cache: 'no-store'})\n"
    "      .then(function (r) { return r.json(); })\n"
    "      .then(function (st) {\n"
    "        el.setAttribute('data-state', st.state || '');\n"
    "        if (texts[st.state]) el.textContent = texts[st.state];\n"
    "        if (st.state === 'confirmed' && st.redirect) {\n"
    "          location.assign(st.redirect);\n"
    "          return;\n"
    "        }\n"
    "        if (st.state === 'cancelled' || st.state === 'expired' || !st.state) return;\n"
    "        setTimeout(poll, 1000);\n"
    "      }, function () { setTimeout(poll, 1000); });\n"
    "  }\n"
    "  poll();\n"
    "})();\n";

const char pl_page_style[] =
    "body{font-family:system-ui,'PingFang SC','Microsoft YaHei',sans-serif;margin:0;"
    "background:#f7f7f7;color:#222}\n"
    ".emu-bar{background:#07c160;color:#fff;padding:8px 16px;font-size:14px}\n"
    "main{max-width:720px;margin:24px auto;background:#fff;padding:24px;border-radius:8px}\n"
    "h1{font-size:20px}\n#qr svg{display:block;margin:16px auto}\n"
    "#qr-link{word-break:break-all;font-size:12px}\n"
    ".apps li,.users li{margin:8px 0}\n.tag{color:#07c160;font-size:12px;margin-left:8px}\n"
    "button{background:#07c160;color:#fff;border:0;border-radius:4px;padding:8px 20px;"
    "font-size:15px;cursor:pointer}\nbutton.secondary{background:#eee;color:#333}\n"
    "table{border-collapse:collapse;width:100%}\ntd,th{border-bottom:1px solid #eee;"
    "padding:8px;text-align:left}\n.error{color:#c00}\n.note{color:#666;font-size:13px}\n";

/* ---- page frame ---- */

static void page_begin(struct buf *b, const char *title, const char *marker)
{
    buf_adds(b, "<!doctype html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\">"
                "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">");
    if (marker && *marker) {
        buf_adds(b, "<meta name=\"emu-error\" content=\"");
        pl_html_escape(b, marker);
        buf_adds(b, "\">");
    }
    buf_adds(b, "<title>");
    pl_html_escape(b, title);
    buf_adds(b, "</title><link rel=\"stylesheet\" href=\"/__emu/assets/emu.css\"></head><body>"
                "<div class=\"emu-bar\">WeChat 平台模拟器（Bindery）</div><main>");
}

static void page_send(struct http_request *req, unsigned status, struct buf *b)
{
    buf_adds(b, "</main></body></html>\n");
    http_resp_header(req, "Cache-Control", "no-store");
    http_resp_header(req, "Content-Security-Policy",
                     "default-src 'self'; img-src 'self' data:; style-src 'self'; "
                     "script-src 'self'; form-action 'self'; frame-ancestors 'none'");
    size_t len;
    char *s = buf_detach(b, &len);
    http_respond_take(req, status, HTML_TYPE, s, len);
}

/* An error page: HTTP 200 with the emu-error marker for a refusal (spec
 * §5.2), 500 for a store failure. */
static void error_page(struct http_request *req, int rc, const struct pl_flow_error *e)
{
    struct buf b = BUF_INIT;
    bool refusal = rc == BE_FAILED && e->reason != PL_FLOW_OK;
    const char *title = refusal ? pl_flow_title(e->reason) : "系统错误";
    page_begin(&b, title, refusal ? pl_flow_marker(e->reason) : "internal");
    buf_adds(&b, "<h1 class=\"error\">");
    pl_html_escape(&b, title);
    buf_adds(&b, "</h1><p id=\"emu-error-detail\">");
    pl_html_escape(&b, refusal ? e->detail : be_err_message(rc));
    buf_adds(&b, "</p>");
    page_send(req, refusal ? 200 : 500, &b);
}

static void bad_request(struct http_request *req, const char *what)
{
    struct pl_flow_error e = {PL_FLOW_BAD_REQUEST, ""};
    snprintf(e.detail, sizeof(e.detail), "%s", what);
    struct buf b = BUF_INIT;
    page_begin(&b, pl_flow_title(e.reason), pl_flow_marker(e.reason));
    buf_adds(&b, "<h1 class=\"error\">请求参数错误</h1><p id=\"emu-error-detail\">");
    pl_html_escape(&b, e.detail);
    buf_adds(&b, "</p>");
    page_send(req, 400, &b);
}

static void set_cookie(struct http_request *req, const char *name, const char *value)
{
    char cookie[PL_ID_MAX + 64];
    snprintf(cookie, sizeof(cookie), "%s=%s; Path=/; HttpOnly; SameSite=Lax", name, value);
    http_resp_header(req, "Set-Cookie", cookie);
}

/* The form of a POST, or a 400 page (false). */
static bool read_form(struct http_request *req, struct pl_form *f)
{
    size_t len = 0;
    const char *body = http_req_body(req, &len);
    if (pl_form_parse(body, len, http_req_arena(req), f)) {
        bad_request(req, "表单无法解析");
        return false;
    }
    return true;
}

/* "http://HOST" of this request (Host header when it is a plain host[:port],
 * else the listen address). */
static void self_base(struct http_request *req, const struct pl_web *w, struct buf *out)
{
    const char *host = http_req_header(req, "Host");
    bool ok = host && *host && strlen(host) <= PL_WEB_HOST_MAX;
    for (const char *p = host; ok && *p; p++)
        ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
             *p == '.' || *p == '-' || *p == ':' || *p == '[' || *p == ']';
    buf_addf(out, "http://%s", ok ? host : w->listen);
}

static const char *kind_label(const char *kind)
{
    return !strcmp(kind, "mp") ? "小程序" : "公众号";
}

static void add_link(struct buf *b, const char *href_prefix, const char *const *kv, size_t n)
{
    buf_adds(b, href_prefix);
    for (size_t i = 0; i + 1 < n; i += 2) {
        buf_addf(b, "%c%s=", i ? '&' : '?', kv[i]);
        pl_url_escape(b, kv[i + 1]);
    }
}

/* ---- index ---- */

void pl_page_index(struct http_request *req, void *ctx)
{
    struct buf b = BUF_INIT;
    (void)ctx;
    page_begin(&b, "WeChat 平台模拟器", NULL);
    buf_adds(&b, "<h1>WeChat 平台模拟器</h1>"
                 "<p>这是 Bindery 的微信开放平台第三方平台模拟器（bindery platform）。</p><ul>"
                 "<li><a href=\"/__emu/mp/login\">登录公众平台（mp.weixin.qq.com）：设置 → "
                 "第三方授权管理</a></li>"
                 "<li><a href=\"/__emu/control/state\">状态（JSON）</a></li></ul>"
                 "<p class=\"note\">授权页由第三方平台的页面打开："
                 "/cgi-bin/componentloginpage。详见 docs/platform.md。</p>");
    page_send(req, 200, &b);
}

/* ---- the authorization entries ---- */

static void login_page(struct http_request *req, const struct pl_web *w, const char *session)
{
    struct pl_session s;
    struct pl_flow_error e;
    struct buf b = BUF_INIT, url = BUF_INIT, svg = BUF_INIT;
    int rc = pl_flow_session(w->pl, session, &s, &e);
    if (rc) {
        error_page(req, rc, &e);
        return;
    }
    self_base(req, w, &url);
    buf_addf(&url, "/__emu/phone/scan?s=%s", session);
    if (pl_qr_svg(url.data, QR_SCALE, &svg, NULL))
        buf_adds(&svg, "<p class=\"error\">二维码生成失败</p>");
    page_begin(&b, "公众平台帐号授权", NULL);
    buf_adds(&b, "<h1>授权给第三方平台「");
    pl_html_escape(&b, s.component_name);
    buf_adds(&b, "」</h1><p>请使用公众平台绑定的管理员个人微信号扫描二维码</p><div id=\"qr\">");
    buf_add(&b, svg.data, svg.len);
    buf_adds(&b, "</div><p><a id=\"qr-link\" href=\"");
    pl_html_escape(&b, url.data);
    buf_adds(&b, "\" target=\"_blank\" rel=\"opener\">");
    pl_html_escape(&b, url.data);
    buf_addf(&b,
             "</a></p><p id=\"qr-status\" data-poll=\"%s\" data-state=\"waiting\">"
             "请使用微信扫描二维码</p><script src=\"/__emu/assets/emu.js\"></script>",
             session);
    page_send(req, 200, &b);
    buf_release(&url);
    buf_release(&svg);
}

static void entry_page(struct http_request *req, struct pl_web *w, bool h5)
{
    char session[PL_SESSION_ID_LEN + 1];
    struct pl_flow_error e;
    struct pl_flow_entry entry = {
        .component_appid = http_req_arg(req, "component_appid"),
        .pre_auth_code = http_req_arg(req, "pre_auth_code"),
        .redirect_uri = http_req_arg(req, "redirect_uri"),
        .auth_type = http_req_arg(req, "auth_type"),
        .biz_appid = http_req_arg(req, "biz_appid"),
        .category_id_list = http_req_arg(req, "category_id_list"),
        .referer = http_req_header(req, "Referer"),
        .h5 = h5,
    };
    int rc = pl_flow_open(w->pl, &entry, session, &e);
    if (rc) {
        error_page(req, rc, &e);
        return;
    }
    if (!h5) {
        login_page(req, w, session);
        return;
    }
    /* In WeChat's browser the user is known: straight to the account list. */
    struct buf to = BUF_INIT;
    const char *wxuser = http_req_cookie(req, PHONE_COOKIE);
    buf_addf(&to, "/__emu/phone/scan?s=%s", session);
    if (wxuser && pl_valid_id(wxuser))
        buf_addf(&to, "&wxuser=%s", wxuser);
    http_redirect(req, to.data);
    buf_release(&to);
}

void pl_page_login(struct http_request *req, void *ctx)
{
    entry_page(req, ctx, false);
}

void pl_page_h5(struct http_request *req, void *ctx)
{
    entry_page(req, ctx, true);
}

/* ---- the phone ---- */

static void user_picker(struct http_request *req, struct pl_web *w, const char *title,
                        const char *path, const char *session)
{
    struct pl_user *users = NULL;
    size_t n = 0;
    struct buf b = BUF_INIT;
    struct pl_flow_error e = {PL_FLOW_OK, ""};
    int rc = pl_flow_users(w->pl, &users, &n);
    if (rc) {
        error_page(req, rc, &e);
        return;
    }
    page_begin(&b, title, NULL);
    buf_adds(&b, "<h1>");
    pl_html_escape(&b, title);
    buf_adds(&b, "</h1><p>选择用哪个微信用户的手机扫码：</p><ul class=\"users\">");
    for (size_t i = 0; i < n; i++) {
        const char *kv[] = {"s", session, "wxuser", users[i].wxid};
        buf_adds(&b, "<li><a class=\"wxuser\" data-wxid=\"");
        pl_html_escape(&b, users[i].wxid);
        buf_adds(&b, "\" href=\"");
        struct buf href = BUF_INIT;
        add_link(&href, path, session ? kv : kv + 2, session ? 4 : 2);
        pl_html_escape(&b, href.data);
        buf_release(&href);
        buf_adds(&b, "\">");
        pl_html_escape(&b, users[i].nickname);
        buf_adds(&b, "（");
        pl_html_escape(&b, users[i].wxid);
        buf_adds(&b, "）</a></li>");
    }
    buf_adds(&b, "</ul>");
    free(users);
    page_send(req, 200, &b);
}

static void app_list(struct buf *b, const char *session, const char *wxuser,
                     const struct pl_app_list *apps)
{
    if (!apps->n) {
        buf_adds(b, "<p id=\"no-apps\">你的微信号不是任何可授权帐号的管理员。</p>");
        return;
    }
    buf_adds(b, "<p>选择要授权的帐号：</p><ul class=\"apps\">");
    for (size_t i = 0; i < apps->n; i++) {
        const struct pl_app *a = &apps->apps[i];
        const char *kv[] = {"s", session, "wxuser", wxuser, "appid", a->appid};
        struct buf href = BUF_INIT;
        add_link(&href, "/__emu/phone/confirm", kv, 6);
        buf_adds(b, "<li><a class=\"app\" data-appid=\"");
        pl_html_escape(b, a->appid);
        buf_adds(b, "\" href=\"");
        pl_html_escape(b, href.data);
        buf_adds(b, "\">");
        pl_html_escape(b, a->nick_name);
        buf_addf(b, "</a> <span class=\"note\">%s · ", kind_label(a->kind));
        pl_html_escape(b, a->appid);
        buf_adds(b, "</span>");
        if (a->authorized)
            buf_adds(b, "<span class=\"tag\">已授权</span>");
        buf_adds(b, "</li>");
        buf_release(&href);
    }
    buf_adds(b, "</ul>");
}

void pl_page_scan(struct http_request *req, void *ctx)
{
    struct pl_web *w = ctx;
    struct pl_session s;
    struct pl_flow_error e;
    struct pl_app_list apps = {NULL, 0};
    const char *session = http_req_arg(req, "s");
    const char *wxuser = http_req_arg(req, "wxuser");
    int rc = pl_flow_session(w->pl, session, &s, &e);
    if (rc) {
        error_page(req, rc, &e);
        return;
    }
    if (strcmp(s.state, "waiting") && strcmp(s.state, "scanned")) {
        struct pl_flow_error closed = {!strcmp(s.state, "expired") ? PL_FLOW_SESSION_EXPIRED
                                                                   : PL_FLOW_SESSION_CLOSED,
                                       "本次授权已结束，请在电脑上重新打开授权页"};
        error_page(req, BE_FAILED, &closed);
        return;
    }
    if (!wxuser && !http_req_arg(req, "pick"))
        wxuser = http_req_cookie(req, PHONE_COOKIE);
    if (!wxuser || !*wxuser) {
        user_picker(req, w, "模拟手机：微信扫一扫", "/__emu/phone/scan", s.id);
        return;
    }
    if ((rc = pl_flow_scan(w->pl, s.id, wxuser, &apps, &e))) {
        error_page(req, rc, &e);
        return;
    }
    struct buf b = BUF_INIT;
    set_cookie(req, PHONE_COOKIE, wxuser);
    page_begin(&b, "公众平台帐号授权", NULL);
    buf_adds(&b, "<h1>授权给「");
    pl_html_escape(&b, s.component_name);
    buf_adds(&b, "」</h1><p class=\"note\">微信用户：<span id=\"wxuser\">");
    pl_html_escape(&b, wxuser);
    buf_adds(&b, "</span></p>");
    app_list(&b, s.id, wxuser, &apps);
    pl_app_list_release(&apps);
    page_send(req, 200, &b);
}

static void funcs_form(struct buf *b, const struct pl_confirm_info *info)
{
    buf_adds(b, "<fieldset><legend>授权的权限集</legend>");
    for (size_t i = 0; i < info->offered.n; i++) {
        char name[64];
        int id = info->offered.id[i];
        pl_flow_func_name(id, name);
        buf_addf(b, "<label><input type=\"checkbox\" name=\"func_id\" value=\"%d\"%s> ", id,
                 pl_funcs_has(&info->checked, id) ? " checked" : "");
        pl_html_escape(b, name);
        buf_addf(b, " <span class=\"note\">(%d)</span></label><br>", id);
    }
    buf_adds(b, "</fieldset>");
}

static void hidden(struct buf *b, const char *name, const char *value)
{
    buf_addf(b, "<input type=\"hidden\" name=\"%s\" value=\"", name);
    pl_html_escape(b, value);
    buf_adds(b, "\">");
}

void pl_page_confirm(struct http_request *req, void *ctx)
{
    struct pl_web *w = ctx;
    struct pl_confirm_info info;
    struct pl_flow_error e;
    const char *session = http_req_arg(req, "s"), *wxuser = http_req_arg(req, "wxuser");
    const char *appid = http_req_arg(req, "appid");
    int rc = pl_flow_confirm_info(w->pl, session, wxuser, appid, &info, &e);
    if (rc) {
        error_page(req, rc, &e);
        return;
    }
    struct buf b = BUF_INIT;
    page_begin(&b, "确认授权", NULL);
    buf_adds(&b, "<h1>授权「");
    pl_html_escape(&b, info.app.nick_name);
    buf_addf(&b, "」（%s）给第三方平台「", kind_label(info.app.kind));
    pl_html_escape(&b, info.component_name);
    buf_adds(&b, "」</h1>");
    if (info.already)
        buf_adds(&b, "<p id=\"already\">该帐号已授权给此第三方平台，可修改授权的权限集。</p>");
    buf_adds(&b, "<form method=\"post\" action=\"/__emu/phone/confirm\">");
    hidden(&b, "s", session);
    hidden(&b, "wxuser", wxuser);
    hidden(&b, "appid", appid);
    funcs_form(&b, &info);
    buf_adds(&b, "<p><button type=\"submit\" id=\"authorize\">授权</button></p></form>"
                 "<form method=\"post\" action=\"/__emu/phone/cancel\">");
    hidden(&b, "s", session);
    buf_adds(&b, "<button type=\"submit\" class=\"secondary\" id=\"cancel\">取消</button></form>");
    page_send(req, 200, &b);
}

static void done_page(struct http_request *req, const struct pl_session *s, const char *text)
{
    struct buf b = BUF_INIT;
    page_begin(&b, text, NULL);
    buf_adds(&b, "<h1 id=\"done\">");
    pl_html_escape(&b, text);
    buf_adds(&b, "</h1>");
    if (s && s->h5 && !strcmp(s->state, "confirmed"))
        buf_addf(&b,
                 "<p id=\"qr-status\" data-poll=\"%s\" data-state=\"confirmed\">"
                 "授权成功，正在跳转…</p><script src=\"/__emu/assets/emu.js\"></script>",
                 s->id);
    else if (s && !strcmp(s->state, "confirmed"))
        buf_adds(&b, "<p>请回到电脑上继续。</p>");
    page_send(req, 200, &b);
}

void pl_page_confirm_post(struct http_request *req, void *ctx)
{
    struct pl_web *w = ctx;
    struct pl_form f;
    struct pl_funcs funcs = {{0}, 0};
    struct pl_confirm_result res;
    struct pl_flow_error e;
    if (!read_form(req, &f))
        return;
    const char *session = pl_form_get(&f, "s", 0);
    for (size_t i = 0; pl_form_get(&f, "func_id", i); i++) {
        int64_t id = 0;
        const char *v = pl_form_get(&f, "func_id", i);
        for (; *v >= '0' && *v <= '9' && id <= PL_FUNC_ID_MAX; v++)
            id = id * 10 + (*v - '0');
        if (*v || pl_funcs_add(&funcs, id)) {
            bad_request(req, "func_id 无效");
            return;
        }
    }
    int rc = pl_flow_confirm(w->pl, session, pl_form_get(&f, "wxuser", 0),
                             pl_form_get(&f, "appid", 0), &funcs, &res, &e);
    if (rc) {
        error_page(req, rc, &e);
        return;
    }
    if (res.h5) {
        struct buf to = BUF_INIT;
        buf_addf(&to, "/__emu/phone/done?s=%s", session);
        http_redirect(req, to.data);
        buf_release(&to);
        return;
    }
    struct pl_session s;
    if (pl_flow_session(w->pl, session, &s, &e)) {
        error_page(req, BE_FAILED, &e);
        return;
    }
    done_page(req, &s, "授权成功");
}

void pl_page_cancel_post(struct http_request *req, void *ctx)
{
    struct pl_web *w = ctx;
    struct pl_form f;
    struct pl_flow_error e;
    if (!read_form(req, &f))
        return;
    int rc = pl_flow_cancel(w->pl, pl_form_get(&f, "s", 0), &e);
    if (rc)
        error_page(req, rc, &e);
    else
        done_page(req, NULL, "已取消授权");
}

void pl_page_done(struct http_request *req, void *ctx)
{
    struct pl_web *w = ctx;
    struct pl_session s;
    struct pl_flow_error e;
    int rc = pl_flow_session(w->pl, http_req_arg(req, "s"), &s, &e);
    if (rc)
        error_page(req, rc, &e);
    else
        done_page(req, &s, !strcmp(s.state, "confirmed") ? "授权成功" : "授权未完成");
}

/* ---- the mp console ---- */

static void mp_apps_page(struct http_request *req, struct pl_web *w, const char *wxuser)
{
    struct pl_user user;
    struct pl_app_list apps = {NULL, 0};
    struct pl_flow_error e;
    int rc = pl_flow_user(w->pl, wxuser, &user, &e);
    if (!rc)
        rc = pl_flow_user_apps(w->pl, wxuser, &apps);
    if (rc) {
        error_page(req, rc, &e);
        return;
    }
    struct buf b = BUF_INIT;
    page_begin(&b, "选择帐号", NULL);
    buf_adds(&b, "<h1>");
    pl_html_escape(&b, user.nickname);
    buf_adds(&b, "，请选择要登录的帐号</h1>");
    if (!apps.n)
        buf_adds(&b, "<p id=\"no-apps\">你的微信号不是任何帐号的管理员。</p>");
    for (size_t i = 0; i < apps.n; i++) {
        buf_adds(&b, "<form method=\"post\" action=\"/__emu/mp/login\">");
        hidden(&b, "wxuser", user.wxid);
        hidden(&b, "appid", apps.apps[i].appid);
        buf_adds(&b, "<button type=\"submit\" class=\"app\" data-appid=\"");
        pl_html_escape(&b, apps.apps[i].appid);
        buf_adds(&b, "\">");
        pl_html_escape(&b, apps.apps[i].nick_name);
        buf_addf(&b, "（%s）</button></form><br>", kind_label(apps.apps[i].kind));
    }
    pl_app_list_release(&apps);
    page_send(req, 200, &b);
}

void pl_page_mp_login(struct http_request *req, void *ctx)
{
    struct pl_web *w = ctx;
    const char *wxuser = http_req_arg(req, "wxuser");
    if (!wxuser || !*wxuser)
        user_picker(req, w, "登录公众平台：微信扫码", "/__emu/mp/login", NULL);
    else
        mp_apps_page(req, w, wxuser);
}

/* The logged-in admin of appid, from the cookie; NULL when not. */
static const char *mp_admin(struct http_request *req, struct pl_web *w, const char *appid)
{
    const char *wxid = http_req_cookie(req, MP_COOKIE);
    bool admin = false;
    if (!wxid || pl_flow_is_admin(w->pl, wxid, appid, &admin) || !admin)
        return NULL;
    return wxid;
}

void pl_page_mp_login_post(struct http_request *req, void *ctx)
{
    struct pl_web *w = ctx;
    struct pl_form f;
    bool admin = false;
    if (!read_form(req, &f))
        return;
    const char *wxuser = pl_form_get(&f, "wxuser", 0), *appid = pl_form_get(&f, "appid", 0);
    int rc = pl_flow_is_admin(w->pl, wxuser, appid, &admin);
    if (rc || !admin) {
        struct pl_flow_error e = {PL_FLOW_NOT_ADMIN, "你不是该帐号的管理员"};
        error_page(req, rc ? rc : BE_FAILED, &e);
        return;
    }
    struct buf to = BUF_INIT;
    set_cookie(req, MP_COOKIE, wxuser);
    buf_adds(&to, "/__emu/mp/thirdparty?appid=");
    pl_url_escape(&to, appid);
    http_redirect(req, to.data);
    buf_release(&to);
}

static void grant_row(struct buf *b, const char *appid, const struct pl_grant *g)
{
    char when[21];
    time_fmt_iso(g->auth_time, when);
    buf_adds(b, "<tr class=\"grant\" data-component=\"");
    pl_html_escape(b, g->component);
    buf_adds(b, "\"><td>");
    pl_html_escape(b, g->component_name);
    buf_adds(b, "<br><span class=\"note\">");
    pl_html_escape(b, g->component);
    buf_adds(b, "</span></td><td>");
    for (size_t i = 0; i < g->funcs.n; i++) {
        char name[64];
        pl_flow_func_name(g->funcs.id[i], name);
        buf_adds(b, i ? "、" : "");
        pl_html_escape(b, name);
    }
    buf_addf(b, "</td><td>%s</td><td><form method=\"post\" action=\"/__emu/mp/thirdparty/revoke\">",
             when);
    hidden(b, "appid", appid);
    hidden(b, "component_appid", g->component);
    buf_adds(b, "<button type=\"submit\" class=\"revoke\">停止授权</button></form></td></tr>");
}

void pl_page_mp_thirdparty(struct http_request *req, void *ctx)
{
    struct pl_web *w = ctx;
    struct pl_app app;
    struct pl_grant *grants = NULL;
    size_t n = 0;
    struct pl_flow_error e;
    const char *appid = http_req_arg(req, "appid");
    if (!mp_admin(req, w, appid)) {
        http_redirect(req, "/__emu/mp/login");
        return;
    }
    int rc = pl_flow_grants(w->pl, appid, &app, &grants, &n, &e);
    if (rc) {
        error_page(req, rc, &e);
        return;
    }
    struct buf b = BUF_INIT;
    page_begin(&b, "第三方授权管理", NULL);
    buf_adds(&b, "<p class=\"note\">设置 → 第三方授权管理</p><h1>");
    pl_html_escape(&b, app.nick_name);
    buf_addf(&b, "（%s）的第三方授权管理</h1>", kind_label(app.kind));
    if (http_req_arg(req, "revoked"))
        buf_adds(&b, "<p id=\"revoked\">已停止授权。</p>");
    if (!n)
        buf_adds(&b, "<p id=\"no-grants\">没有已授权的第三方平台。</p>");
    else
        buf_adds(&b,
                 "<table><tr><th>第三方平台</th><th>权限集</th><th>授权时间</th><th></th></tr>");
    for (size_t i = 0; i < n; i++)
        grant_row(&b, appid, &grants[i]);
    if (n)
        buf_adds(&b, "</table>");
    free(grants);
    page_send(req, 200, &b);
}

void pl_page_mp_revoke(struct http_request *req, void *ctx)
{
    struct pl_web *w = ctx;
    struct pl_form f;
    struct pl_flow_error e;
    if (!read_form(req, &f))
        return;
    const char *appid = pl_form_get(&f, "appid", 0);
    const char *component = pl_form_get(&f, "component_appid", 0);
    if (!mp_admin(req, w, appid)) {
        struct pl_flow_error ne = {PL_FLOW_NOT_ADMIN, "请先以该帐号的管理员登录公众平台"};
        error_page(req, BE_FAILED, &ne);
        return;
    }
    int rc = pl_flow_revoke(w->pl, component, appid, NULL, &e);
    if (rc) {
        error_page(req, rc, &e);
        return;
    }
    struct buf to = BUF_INIT;
    buf_adds(&to, "/__emu/mp/thirdparty?appid=");
    pl_url_escape(&to, appid);
    buf_adds(&to, "&revoked=");
    pl_url_escape(&to, component);
    http_redirect(req, to.data);
    buf_release(&to);
}
