/* The bench's server: serve's HTTP routes and the /env/ proxy with a
 * deployer (directory source) running one trivial Node.js app, deployed at
 * start. Prints "PROXY <url>" and "DIRECT <url>" and runs until SIGTERM.
 *   proxy_serve WORKDIR */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "api/deploy_proxy.h"
#include "api/web.h"
#include "app.h"
#include "core/config.h"
#include "core/mem.h"
#include "deploy/job.h"
#include "deploy/settings.h"

static void put(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f || fputs(text, f) < 0 || fclose(f))
        exit(1);
}

int main(int argc, char **argv)
{
    if (argc != 2)
        return 2;
    char p[512];
    const char *dir = argv[1];
    snprintf(p, sizeof(p), "%s/versions/bench", dir);
    mkdir(dir, 0755);
    snprintf(p, sizeof(p), "%s/versions", dir);
    mkdir(p, 0755);
    snprintf(p, sizeof(p), "%s/versions/bench", dir);
    mkdir(p, 0755);
    snprintf(p, sizeof(p), "%s/versions/bench/v1", dir);
    mkdir(p, 0755);
    snprintf(p, sizeof(p), "%s/versions/bench/env.json", dir);
    put(p, "{\"OwnerUin\":1,\"AppId\":\"wxbench\",\"Vars\":{}}");
    snprintf(p, sizeof(p), "%s/versions/bench/v1.json", dir);
    put(p, "{\"Runtime\":\"nodejs\",\"Entry\":\"app.js\"}");
    snprintf(p, sizeof(p), "%s/versions/bench/v1/app.js", dir);
    put(p, "require('http').createServer((q,s)=>s.end('hello'))"
           ".listen(+process.env.PORT,'127.0.0.1');process.on('SIGTERM',()=>process.exit(0));");

    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);

    struct config *cfg = config_defaults(CONFIG_SCOPE_ALL);
    free(cfg->data_dir);
    cfg->data_dir = xstrdup(dir);
    free(cfg->store);
    snprintf(p, sizeof(p), "sqlite://%s/bindery.db", dir);
    cfg->store = xstrdup(p);
    cfg->access_log = false;
    cfg->deploy_allow_unsandboxed = true;
    struct app app;
    struct be_diag diag = {""};
    struct deploy_settings ds;
    struct deployer *d = NULL;
    if (app_open(cfg, &app, &diag) || deploy_settings_init(cfg, &ds, &diag)) {
        fprintf(stderr, "%s\n", diag.msg);
        return 1;
    }
    snprintf(p, sizeof(p), "%s/versions", dir);
    struct deploy_source src = deploy_source_dir(p);
    if (deployer_new(&app, &ds.opts, &src, &d, &diag)) {
        fprintf(stderr, "%s\n", diag.msg);
        return 1;
    }
    app.deploy = d;
    char id[32], state[16];
    struct deploy_request req = {"bench", DEPLOY_KIND_DEPLOY, 1, 1, 1};
    if (deployer_submit(d, &req, id, &diag) || deployer_wait(d, id, 60000, state) ||
        strcmp(state, "SUCCEEDED")) {
        fprintf(stderr, "deploy failed: %s %s\n", diag.msg, state);
        return 1;
    }
    struct route_target *tg;
    router_acquire(deployer_router(d), "bench", &tg);
    unsigned app_port = route_target_port(tg);
    router_release(deployer_router(d), tg);

    struct web web = {&app, NULL, NULL};
    size_t nr, ns;
    const struct http_route *routes = web_routes(&nr);
    const struct http_route *sroutes = web_stream_routes(&ns);
    struct http_server_options ho = {.listen = "127.0.0.1:0",
                                     .threads = 0,
                                     .max_body = 1 << 20,
                                     .timeout_s = 30,
                                     .max_connections = 4096,
                                     .stream_routes = sroutes,
                                     .nstream_routes = ns};
    struct http_server *srv;
    if (http_server_start(&ho, routes, nr, &web, &srv))
        return 1;
    printf("SANDBOX %s\nPROXY http://127.0.0.1:%u/env/bench/\nDIRECT http://127.0.0.1:%u/\n",
           deployer_sandbox(d), (unsigned)http_server_port(srv), app_port);
    fflush(stdout);
    int sig;
    sigwait(&stop, &sig);
    http_server_stop(srv, 2);
    app.deploy = NULL;
    deployer_free(d);
    deploy_source_dir_free(&src);
    deploy_settings_release(&ds);
    app_close(&app);
    config_free(cfg);
    return 0;
}
