#include "api/web.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/action.h"
#include "api/deploy_proxy.h"
#include "api/devenv_archive_web.h"
#include "binding/worker.h"
#include "deploy/job.h"
#include "core/log.h"
#include "core/timeutil.h"
#include "core/banned.h"

#ifndef BINDERY_VERSION
#define BINDERY_VERSION "dev"
#endif

struct req_meta web_meta(struct http_request *req)
{
    struct req_meta m = {http_req_id(req), http_req_client_ip(req),
                         http_req_header(req, "User-Agent"), time_now()};
    return m;
}

void web_reply_error(struct http_request *req, int err, const struct be_diag *diag)
{
    size_t len;
    const char *msg = diag && diag->msg[0] ? diag->msg : NULL;
    int status = be_err_status(err);
    if (status >= 500)
        log_warn("request %s %s %s failed: %s: %s", http_req_id(req), http_req_method(req),
                 http_req_path(req), be_err_code(err), msg ? msg : be_err_message(err));
    else
        log_debug("request %s %s %s refused: %s: %s", http_req_id(req), http_req_method(req),
                  http_req_path(req), be_err_code(err), msg ? msg : be_err_message(err));
    char *body = api_envelope_error(err, msg, http_req_id(req), &len);
    http_respond_take(req, 200, "application/json", body, len);
}

void web_reply_ok(struct http_request *req, json_t *out)
{
    size_t len;
    char *body = api_envelope_success(out, http_req_id(req), &len);
    http_respond_take(req, 200, "application/json", body, len);
}

static void page(struct http_request *req, void *ctx, const char *file)
{
    struct web *w = ctx;
    http_serve_file(req, w->app->cfg->web_dir, file);
}

/* GET / is the login page for browsers and the GET form of the API for
 * signed requests. */
static void root_get(struct http_request *req, void *ctx)
{
    if (http_req_header(req, "X-TC-Action") || http_req_header(req, "Authorization"))
        web_gateway(req, ctx);
    else
        page(req, ctx, "index.html");
}

static void page_signup(struct http_request *req, void *ctx)
{
    page(req, ctx, "signup.html");
}

static void page_account(struct http_request *req, void *ctx)
{
    page(req, ctx, "account.html");
}

static void static_file(struct http_request *req, void *ctx)
{
    /* "/static/x.js" -> "static/x.js" below web_dir */
    page(req, ctx, http_req_path(req) + 1);
}

static void healthz(struct http_request *req, void *ctx)
{
    struct web *w = ctx;
    char state[64];
    int rc = store_health(w->app->store, state, sizeof(state));
    json_t *o = json_pack("{s:s,s:s,s:s,s:s}", "status", rc ? "unavailable" : "ok", "store", state,
                          "backend", store_backend_name(w->app->store), "version",
                          BINDERY_VERSION);
    /* Whether deployed apps run sandboxed here, and why not. */
    struct deployer *d = w->app->deploy;
    json_object_set_new(o, "sandbox", json_string(d ? deployer_sandbox(d) : "none"));
    if (!d || *deployer_sandbox_reason(d))
        json_object_set_new(o, "sandbox_reason",
                            json_string(d ? deployer_sandbox_reason(d)
                                          : "deploy is off: no deploy source is configured"));
    char *body = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (!body)
        abort();
    http_resp_header(req, "Cache-Control", "no-store");
    http_respond_take(req, rc ? 503 : 200, "application/json", body, strlen(body));
}

static void metrics(struct http_request *req, void *ctx)
{
    struct web *w = ctx;
    struct buf b = BUF_INIT;
    buf_addf(&b, "# HELP bindery_build_info Build information.\n"
                 "# TYPE bindery_build_info gauge\n"
                 "bindery_build_info{version=\"%s\",store=\"%s\"} 1\n",
             BINDERY_VERSION, store_backend_name(w->app->store));
    if (w->http)
        http_server_metrics(w->http, &b);
    link_worker_metrics(w->app->links, &b);
    size_t len;
    char *body = buf_detach(&b, &len);
    http_respond_take(req, 200, "text/plain; version=0.0.4", body, len);
}

static const struct http_route routes[] = {
    {"POST", "/", false, web_gateway, "api"},
    {"GET", "/", false, root_get, "root_get"},
    {"POST", "/console/signup", false, web_console_signup, "console_signup"},
    {"POST", "/console/login", false, web_console_login, "console_login"},
    {"POST", "/console/logout", false, web_console_logout, "console_logout"},
    {"GET", "/console/session", false, web_console_session, "console_session"},
    {"POST", "/console/api", false, web_console_api, "console_api"},
    {"POST", "/wechat/events", false, web_wechat_events, "wechat_events"},
    {"POST", "/console/wechat/login", false, web_link_login_start, "link_login_start"},
    {"GET", "/wechat/authorize/target", false, web_link_target, "link_target"},
    {"GET", "/wechat/authorize", false, web_page_authorize, "page_authorize"},
    {"POST", "/wechat/authorized", false, web_link_authorized, "link_authorized"},
    {"GET", "/wechat/authorized", false, web_page_authorized, "page_authorized"},
    {"GET", "/center", false, web_page_center, "page_center"},
    {"GET", "/signup", false, page_signup, "page_signup"},
    {"GET", "/account", false, page_account, "page_account"},
    {"GET", "/static/", true, static_file, "static"},
    {"GET", "/healthz", false, healthz, "healthz"},
    {"GET", "/metrics", false, metrics, "metrics"},
    {"GET", "/envs", false, web_page_envs, "page_envs"},
    {"POST", "/oauth/device_authorization", false, web_oauth_device_authorization,
     "oauth_device_authorization"},
    {"POST", "/oauth/token", false, web_oauth_token, "oauth_token"},
    {"POST", "/oauth/revoke", false, web_oauth_revoke, "oauth_revoke"},
    {"GET", "/console/signin", false, web_console_signin, "console_signin"},
    {"POST", "/console/signin", false, web_console_signin_confirm, "console_signin_confirm"},
    {"POST", "/console/signin/peek", false, web_console_signin_peek, "console_signin_peek"},
    {"GET", "/console/signin/confirm", false, web_page_signin, "page_signin_confirm"},
    {"GET", "/console/signin/failed", false, web_page_signin, "page_signin_failed"},
    {"GET", "/device", false, web_page_device, "page_device"},
    {"GET", "/devices", false, web_page_device, "page_devices"},
    {"POST", "/console/login/subuser", false, web_console_sub_login, "console_sub_login"},
    {"GET", "/console/switch", false, web_console_collaborations, "console_collaborations"},
    {"POST", "/console/switch", false, web_console_switch, "console_switch"},
    {"GET", "/cam/", true, web_page_cam, "page_cam"},
    {"GET", "/envs/", true, web_page_envs, "page_env"},
};

static const struct http_route stream_routes[] = {
    {"PUT", "/v1/uploads/", true, web_blob_put, "blob_put"},
    {"PUT", "/v1/archives/", true, web_archive_put, "archive_put"},
    {NULL, "/env/", true, web_deploy_proxy, "env_proxy"},
};

const struct http_route *web_stream_routes(size_t *ret_count)
{
    *ret_count = sizeof(stream_routes) / sizeof(stream_routes[0]);
    return stream_routes;
}

const struct http_route *web_routes(size_t *ret_count)
{
    *ret_count = sizeof(routes) / sizeof(routes[0]);
    return routes;
}
