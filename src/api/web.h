/* The HTTP face of Bindery: the route table that joins the HTTP server to
 * the API gateway, the console endpoints and the pages. */
#ifndef BINDERY_API_WEB_H
#define BINDERY_API_WEB_H

#include <stdbool.h>
#include <stddef.h>

#include "app.h"
#include <jansson.h>

#include "http/http.h"

struct wechat_events;
struct session;
struct account;
struct principal;
struct api_action;

/* What every handler gets as its ctx. */
struct web {
    struct app *app;
    struct http_server *http;            /* set once the server runs (for /metrics) */
    struct wechat_events *wechat_events; /* NULL: POST /wechat/events answers 503 */
};

/* The routes, in match order. */
const struct http_route *web_routes(size_t *ret_count);
/* The stream routes (http.h "streamed requests"): bodies handed over piece
 * by piece, waits that hold no worker thread: the blob PUT of uploads and
 * the reverse proxy to deployed apps (api/deploy_proxy.h). */
const struct http_route *web_stream_routes(size_t *ret_count);

/* Handlers, one per module. */
void web_gateway(struct http_request *req, void *ctx);        /* POST|GET / (TC3) */
void web_console_signup(struct http_request *req, void *ctx); /* POST /console/signup */
void web_console_login(struct http_request *req, void *ctx);  /* POST /console/login */
void web_console_logout(struct http_request *req, void *ctx); /* POST /console/logout */
void web_console_session(struct http_request *req, void *ctx); /* GET /console/session */
void web_console_api(struct http_request *req, void *ctx);    /* POST /console/api */
void web_wechat_events(struct http_request *req, void *ctx);  /* POST /wechat/events */
/* The link flows' browser endpoints (api/link_web.c, docs/links.md). */
void web_link_login_start(struct http_request *req, void *ctx); /* POST /console/wechat/login */
void web_link_target(struct http_request *req, void *ctx);   /* GET /wechat/authorize/target */
void web_link_authorized(struct http_request *req, void *ctx); /* POST /wechat/authorized */
void web_page_center(struct http_request *req, void *ctx);    /* GET /center */
void web_page_authorize(struct http_request *req, void *ctx); /* GET /wechat/authorize */
void web_page_authorized(struct http_request *req, void *ctx); /* GET /wechat/authorized */
/* The developer tools' endpoints (api/devtools_web.c, docs/devtools.md). */
void web_oauth_device_authorization(struct http_request *req, void *ctx); /* POST */
void web_oauth_token(struct http_request *req, void *ctx);                /* POST /oauth/token */
void web_oauth_revoke(struct http_request *req, void *ctx);               /* POST /oauth/revoke */
void web_console_signin(struct http_request *req, void *ctx);     /* GET /console/signin?c= */
void web_console_signin_confirm(struct http_request *req, void *ctx); /* POST /console/signin */
void web_console_signin_peek(struct http_request *req, void *ctx); /* POST /console/signin/peek */
void web_page_signin(struct http_request *req, void *ctx);  /* GET /console/signin/{confirm,failed} */
void web_page_device(struct http_request *req, void *ctx);  /* GET /device, /devices */

/* Environments and uploads (api/devenv_web.c, docs/environments.md): the
 * streamed blob PUT /v1/uploads/{UploadId}/blobs/{sha256}, and the page. */
void web_blob_put(struct http_request *req, void *ctx);  /* a stream route */
/* Body bytes an upload route reads and drops after refusing, before it
 * cuts the connection instead of answering. */
#define WEB_STREAM_DROP_MAX (64u << 20)
void web_page_envs(struct http_request *req, void *ctx); /* GET /envs */

/* From the console endpoints, for the others: the same-origin check of
 * state-changing requests (JSON content type, our Origin); the session of
 * the cookie (BE_SESSION_INVALID when none); whether cookies get Secure; and
 * signing an account in (a new session, rotating the browser's old one, its
 * cookie set on the response). */
int web_console_check_origin(const struct web *w, struct http_request *req);
int web_console_session_of(struct web *w, struct http_request *req, struct session *ret);
bool web_console_cookie_secure(const struct web *w, struct http_request *req);
int web_console_sign_in(struct web *w, struct http_request *req, const struct req_meta *meta,
                        const struct account *acct, struct session *ret);
/* web_console_sign_in() for any principal (a sub-user, a collaborator in
 * its owner): a new session for who, rotating the browser's old one. */
int web_console_sign_in_as(struct web *w, struct http_request *req, const struct req_meta *meta,
                           const struct principal *who, struct session *ret);

/* For the access-management console endpoints (api/console_cam.c):
 * authenticate() with a diag and, for a sub-user or collaborator, its user;
 * a new session for who with its cookie (rotate_audit non-NULL: the
 * browser's session must exist and is replaced, the audit row written with
 * it — switching developer); the session reply of GET /console/session
 * (user_name NULL: looked up). */
struct cam_user;
struct audit_entry;
int web_console_authenticate(struct web *w, struct http_request *req, bool state_changing,
                             struct session *ret, struct cam_user *ret_user, struct be_diag *diag);
int web_console_start_session(struct web *w, struct http_request *req, const struct req_meta *meta,
                              const struct principal *who, const struct audit_entry *rotate_audit,
                              struct session *ret);
void web_console_reply_session(struct web *w, struct http_request *req, const struct session *s,
                               const char *user_name);
/* Access management (api/console_cam.c, docs/cam.md "Console"). */
void web_console_sub_login(struct http_request *req, void *ctx); /* POST /console/login/subuser */
void web_console_switch(struct http_request *req, void *ctx);    /* POST /console/switch */
void web_console_collaborations(struct http_request *req, void *ctx); /* GET /console/switch */
void web_page_cam(struct http_request *req, void *ctx);               /* GET /cam/... */

/* Answers with the API envelope (HTTP 200, Content-Type application/json). */
void web_reply_error(struct http_request *req, int err, const struct be_diag *diag);
void web_reply_ok(struct http_request *req, json_t *out /* stolen */);
/* Dispatches action (api_dispatch_console; session_hash NULL through the
 * signed API) and answers. A call that asks to wait (WaitSeconds > 0: the
 * long-polls) runs on the server's offload threads (http_defer), so it
 * holds no worker thread. params (may be NULL) is stolen. */
void web_dispatch_reply(struct web *w, struct http_request *req, const struct principal *who,
                        const unsigned char *session_hash, const struct api_action *action,
                        json_t *params);

/* The request's metadata for the domain. */
struct req_meta web_meta(struct http_request *req);

#endif
