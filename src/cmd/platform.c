/* bindery platform: the WeChat platform emulator (src/platform, docs/platform.md). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/cmd.h"
#include "core/log.h"
#include "core/parse.h"
#include "http/http.h"
#include "platform/platform.h"
#include "platform/pusher.h"
#include "platform/web.h"
#include "core/banned.h"

#define PLATFORM_THREADS         8
#define PLATFORM_TIMEOUT_S       30
#define PLATFORM_MAX_CONNECTIONS 1024
#define SHUTDOWN_GRACE_S         5

static const char usage[] =
    "usage: bindery platform [--config FILE] [--data-dir DIR] [--listen ADDR:PORT]\n"
    "                        [--fixtures FILE] [options]\n\n"
    "Runs the WeChat platform emulator: the component API, the authorization pages,\n"
    "the phone and mp console pages, encrypted event pushes and a control API for\n"
    "tests (docs/platform.md). Its state is DATA_DIR/platform.db. --fixtures FILE\n"
    "(same as --platform.fixtures) loads WeChat users, apps and components at start.\n"
    "SIGTERM or SIGINT stops it.";

/* --fixtures FILE / --fixtures=FILE among the flags the config did not take. */
static int fixtures_flag(char **rest, const char **ret_path)
{
    for (size_t i = 0; rest[i]; i++) {
        if (!strcmp(rest[i], "--fixtures") && rest[i + 1] && rest[i + 1][0] != '-') {
            *ret_path = rest[++i];
        } else if (!strncmp(rest[i], "--fixtures=", 11) && rest[i][11]) {
            *ret_path = rest[i] + 11;
        } else {
            fprintf(stderr, "bindery platform: unknown option '%s' (see --help)\n", rest[i]);
            return 2;
        }
    }
    return 0;
}

static int serve(struct config *cfg, const char *fixtures)
{
    struct platform *pl = NULL;
    struct pl_pusher *pusher = NULL;
    struct http_server *srv = NULL;
    struct be_diag diag = {""};
    char host[256];
    uint16_t port;
    int status = 1;
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);

    struct pl_options po = {.data_dir = cfg->data_dir,
                            .ticket_interval = cfg->platform_ticket_interval};
    if (pl_open(&po, &pl, &diag) || (*fixtures && pl_fixtures_load(pl, fixtures, &diag))) {
        fprintf(stderr, "bindery platform: %s\n", diag.msg);
        status = 2;
        goto out;
    }
    if (pl_pusher_start(pl, &pusher)) {
        fprintf(stderr, "bindery platform: cannot start the pusher\n");
        goto out;
    }
    struct pl_web web = {pl, cfg->listen};
    size_t nroutes;
    const struct http_route *routes = pl_web_routes(&nroutes);
    struct http_server_options opts = {
        .listen = cfg->listen,
        .threads = PLATFORM_THREADS,
        .max_body = PL_WEB_MAX_BODY,
        .timeout_s = PLATFORM_TIMEOUT_S,
        .max_connections = PLATFORM_MAX_CONNECTIONS,
        .access_log = cfg->access_log,
    };
    if (http_server_start(&opts, routes, nroutes, &web, &srv)) {
        fprintf(stderr, "bindery platform: cannot listen on %s\n", cfg->listen);
        goto out;
    }
    parse_host_port(cfg->listen, host, sizeof(host), &port);
    log_info("bindery platform: listening on http://%s:%u (state: %s/platform.db)", host,
             (unsigned)http_server_port(srv), cfg->data_dir);
    int sig = 0;
    sigwait(&stop, &sig);
    log_info("bindery platform: signal %d, stopping", sig);
    http_server_stop(srv, SHUTDOWN_GRACE_S);
    status = 0;
out:
    pl_pusher_stop(pusher);
    pl_close(pl);
    return status;
}

int cmd_platform(int argc, char **argv)
{
    struct config *cfg = NULL;
    char **rest = NULL;
    int status = 1;
    char host[256];
    uint16_t port;
    if (cmd_load_config(argc, argv, CONFIG_SCOPE_PLATFORM | CONFIG_SCOPE_STORE, usage, &cfg, &rest,
                        &status))
        return status;
    const char *fixtures = cfg->platform_fixtures;
    if ((status = fixtures_flag(rest, &fixtures)))
        goto out;
    if (parse_host_port(cfg->listen, host, sizeof(host), &port)) {
        fprintf(stderr, "bindery platform: invalid value '%s' for listen: expected ADDR:PORT\n",
                cfg->listen);
        status = 2;
        goto out;
    }
    status = serve(cfg, fixtures);
out:
    free(rest);
    config_free(cfg);
    return status;
}
