#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/deploy_proxy.h"
#include "api/web.h"
#include "app.h"
#include "binding/worker.h"
#include "devenv/release_source.h"
#include "devenv/worker.h"
#include "cmd/cmd.h"
#include "core/buf.h"
#include "core/log.h"
#include "core/parse.h"
#include "deploy/settings.h"
#include "wechat/component.h"
#include "wechat/events.h"
#include "core/banned.h"

#define SHUTDOWN_GRACE_S 10

static const char usage[] =
    "usage: bindery serve [--config FILE] [--data-dir DIR] [--listen ADDR:PORT] [options]\n\n"
    "Runs the HTTP server: the web console, the API 3.0 gateway (POST / with\n"
    "TC3-HMAC-SHA256), /healthz and /metrics. SIGTERM or SIGINT stops it after\n"
    "in-flight requests finish.";

int cmd_serve(int argc, char **argv)
{
    struct config *cfg = NULL;
    char **rest = NULL;
    int status = 1;
    struct app app;
    struct be_diag diag = {""};
    struct http_server *srv = NULL;
    struct wx_component *wechat = NULL;
    struct wechat_events *wechat_events = NULL;
    struct link_worker *links = NULL;
    struct devenv_worker *envs = NULL;
    struct deployer *deploy = NULL;
    struct deploy_settings ds = {0};
    struct deploy_source versions = {0};
    struct buf trees = BUF_INIT;
    char host[256];
    uint16_t port;
    if (cmd_load_config(argc, argv, CONFIG_SCOPE_ALL, usage, &cfg, &rest, &status))
        return status;
    if (rest[0]) {
        fprintf(stderr, "bindery serve: unknown option '%s' (see --help)\n", rest[0]);
        status = 2;
        goto out_cfg;
    }
    if (parse_host_port(cfg->listen, host, sizeof(host), &port)) {
        fprintf(stderr, "bindery serve: invalid value '%s' for listen: expected ADDR:PORT\n",
                cfg->listen);
        status = 2;
        goto out_cfg;
    }

    /* Signals go to sigwait below, not to the server's threads. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (app_open(cfg, &app, &diag)) {
        fprintf(stderr, "bindery serve: %s\n", diag.msg);
        goto out_cfg;
    }
    struct wx_client_options wx_opts = {.timeout_ms = (unsigned)cfg->wechat_timeout * 1000};
    if (wx_component_new(&app, &wx_opts, &wechat, &diag) ||
        wechat_events_new(&app, &wechat_events, &diag)) {
        fprintf(stderr, "bindery serve: %s\n", diag.msg);
        status = 2;
        goto out_wechat;
    }
    app.wechat = wechat;
    if (wechat_events_disabled_reason(wechat_events))
        log_info("bindery serve: POST /wechat/events answers 503: %s",
                 wechat_events_disabled_reason(wechat_events));
    if (!wx_component_disabled_reason(wechat) && link_worker_start(&app, &links)) {
        fprintf(stderr, "bindery serve: cannot start the link worker\n");
        goto out_wechat;
    }
    app.links = links;
    if (devenv_worker_start(&app, &envs)) {
        fprintf(stderr, "bindery serve: cannot start the environments worker\n");
        goto out_wechat;
    }
    app.devenv = envs;
    if (deploy_settings_init(cfg, &ds, &diag)) {
        fprintf(stderr, "bindery serve: %s\n", diag.msg);
        status = 2;
        goto out_wechat;
    }
    /* The deployer runs the environments' versions (devenv/release_source.h),
     * staged under the deploy root. */
    buf_addf(&trees, "%s/trees", ds.opts.root_dir);
    versions = devenv_release_source(&app, trees.data);
    app.deploy_source = &versions;
    if (deployer_new(&app, &ds.opts, app.deploy_source, &deploy, &diag)) {
        fprintf(stderr, "bindery serve: deploy: %s\n", diag.msg);
        goto out_wechat;
    }
    app.deploy = deploy;
    log_info("bindery serve: deploy root %s, sandbox %s%s%s", ds.opts.root_dir,
             deployer_sandbox(deploy), *deployer_sandbox_reason(deploy) ? ": " : "",
             deployer_sandbox_reason(deploy));
    struct web web = {&app, NULL, wechat_events};
    size_t nroutes, nstream;
    const struct http_route *routes = web_routes(&nroutes);
    const struct http_route *stream_routes = web_stream_routes(&nstream);
    struct http_server_options opts = {
        .listen = cfg->listen,
        .threads = (unsigned)cfg->http_threads,
        .max_body = (size_t)cfg->http_max_body_bytes,
        .timeout_s = (unsigned)cfg->http_timeout,
        .max_connections = (unsigned)cfg->http_max_connections,
        .access_log = cfg->access_log,
        .trust_proxy = cfg->http_trust_proxy,
        .stream_routes = stream_routes,
        .nstream_routes = nstream,
    };
    if (http_server_start(&opts, routes, nroutes, &web, &srv)) {
        fprintf(stderr, "bindery serve: cannot listen on %s\n", cfg->listen);
        goto out_wechat;
    }
    web.http = srv;
    log_info("bindery serve: listening on http://%s:%u (store: %s)", host,
             (unsigned)http_server_port(srv), store_backend_name(app.store));

    int sig = 0;
    sigwait(&stop, &sig);
    log_info("bindery serve: signal %d, finishing in-flight requests", sig);
    http_server_stop(srv, SHUTDOWN_GRACE_S);
    log_info("bindery serve: stopped");
    status = 0;
out_wechat:
    /* After the listener: no request holds a route any more. Running jobs
     * are canceled and every app process is stopped. */
    app.deploy = NULL;
    deployer_free(deploy);
    deploy_settings_release(&ds);
    devenv_worker_stop(envs);
    app.devenv = NULL;
    devenv_release_source_free(&versions);
    app.deploy_source = NULL;
    buf_release(&trees);
    link_worker_stop(links);
    app.links = NULL;
    app.wechat = NULL;
    wechat_events_free(wechat_events);
    wx_component_free(wechat);
    app_close(&app);
out_cfg:
    free(rest);
    config_free(cfg);
    return status;
}
