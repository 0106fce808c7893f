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

/* What every handler gets as its ctx. */
struct web {
    struct app *app;
    struct http_server *http;            /* set once the server runs (for /metrics) */
    struct wechat_events *wechat_events; /* NULL: POST /wechat/events answers 503 */
};

/* The routes, in match order. */
const struct http_route *web_routes(size_t *ret_count);

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

/* The request's metadata for the domain. */
struct req_meta web_meta(struct http_request *req);

#endif
