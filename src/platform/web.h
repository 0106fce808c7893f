/* The HTTP face of `bindery platform` (spec §5.5): the route table that
 * joins the HTTP server (http/http.h) to the component API (capi.h), the
 * authorization pages and the phone and mp console pages (flow.h), and the
 * control API for tests and demos. docs/platform.md lists every route and
 * body.
 *
 * Pages are plain HTML with forms that POST, so a browser can click
 * through them; the control API does the same things in JSON. Nothing here
 * is authenticated beyond what the emulated WeChat does: the emulator is a
 * test double, meant for loopback. */
#ifndef BINDERY_PLATFORM_WEB_H
#define BINDERY_PLATFORM_WEB_H

#include <stddef.h>

#include "http/http.h"
#include "platform/platform.h"

/* Largest request body (component API, forms, control API). */
#define PL_WEB_MAX_BODY (64 * 1024)
/* Longest Host header used to build absolute URLs (the QR's content). */
#define PL_WEB_HOST_MAX 255

/* What every handler gets as its ctx. */
struct pl_web {
    struct platform *pl;
    const char *listen; /* "127.0.0.1:8081": the host of absolute URLs without a usable Host */
};

/* The routes, in match order. */
const struct http_route *pl_web_routes(size_t *ret_count);

/* Page handlers (pages.c). */
void pl_page_index(struct http_request *req, void *ctx);   /* GET / */
void pl_page_login(struct http_request *req, void *ctx);   /* GET /cgi-bin/componentloginpage */
void pl_page_h5(struct http_request *req, void *ctx);      /* GET …/safe/bindcomponent */
void pl_page_scan(struct http_request *req, void *ctx);    /* GET /__emu/phone/scan */
void pl_page_confirm(struct http_request *req, void *ctx); /* GET /__emu/phone/confirm */
void pl_page_confirm_post(struct http_request *req, void *ctx);  /* POST /__emu/phone/confirm */
void pl_page_cancel_post(struct http_request *req, void *ctx);   /* POST /__emu/phone/cancel */
void pl_page_done(struct http_request *req, void *ctx);          /* GET /__emu/phone/done */
void pl_page_mp_login(struct http_request *req, void *ctx);      /* GET /__emu/mp/login */
void pl_page_mp_login_post(struct http_request *req, void *ctx); /* POST /__emu/mp/login */
void pl_page_mp_thirdparty(struct http_request *req, void *ctx); /* GET /__emu/mp/thirdparty */
void pl_page_mp_revoke(struct http_request *req, void *ctx); /* POST /__emu/mp/thirdparty/revoke */

/* The script the PC page and the H5 done page run: polls
 * /__emu/qr/status every second and follows the redirect once released. */
extern const char pl_page_script[];
/* The pages' style sheet. */
extern const char pl_page_style[];

#endif
