#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/web.h"
#include "app.h"
#include "binding/worker.h"
#include "devenv/worker.h"
#include "cmd/cmd.h"
#include "core/log.h"
#include "core/parse.h"
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
    struct web web = {&app, NULL, wechat_events};
    size_t nroutes;
    const struct http_route *routes = web_routes(&nroutes);
    struct http_server_options opts = {
        .listen = cfg->listen,
        .threads = (unsigned)cfg->http_threads,
        .max_body = (size_t)cfg->http_max_body_bytes,
        .timeout_s = (unsigned)cfg->http_timeout,
        .max_connections = (unsigned)cfg->http_max_connections,
        .access_log = cfg->access_log,
        .trust_proxy = cfg->http_trust_proxy,
    };
    opts.streams = web_stream_routes(&opts.nstreams);
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
    devenv_worker_stop(envs);
    app.devenv = NULL;
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
