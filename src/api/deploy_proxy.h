/* The reverse proxy to deployed apps (docs/deploy.md, "Reverse proxy"):
 * `/env/<EnvId>/<rest>` on serve's listener is forwarded to the live
 * process of the environment, found through the deployer's route table
 * (deploy/router.h) with a reference held for the whole request, so a
 * switch drains it. The request line becomes `<METHOD> /<rest> HTTP/1.1`
 * (the `/env/<EnvId>` prefix stripped, sent as X-Forwarded-Prefix); headers
 * are passed on minus hop-by-hop ones and the console's session cookie;
 * bodies stream both ways without a worker thread waiting (http.h,
 * "streamed requests"). No live process: 503; the app fails before its
 * answer: 502; no answer within deploy.proxy_idle_timeout_ms: 504. Error
 * pages are HTML, or the API error envelope for `Accept: application/json`. */
#ifndef BINDERY_API_DEPLOY_PROXY_H
#define BINDERY_API_DEPLOY_PROXY_H

#include <stddef.h>

#include "http/http.h"

/* The handler of `/env/` (any method). */
void web_deploy_proxy(struct http_request *req, void *ctx);

#endif
