/* POST /wechat/events, the 授权事件接收URL (spec §6). Everything but HTTP is
 * in wechat/events.h: this handler passes the query and the body on, and
 * answers the plain text "success" once the push is stored, or a 4xx/5xx
 * with a one-line reason. The X-Bindery-Push header says what became of an
 * accepted push (ticket, stored, duplicate, ignored); WeChat ignores it. */
#include <string.h>

#include "api/web.h"
#include "binding/worker.h"
#include "core/banned.h"
#include "core/buf.h"
#include "core/log.h"
#include "wechat/events.h"

static const char success[] = "success";

static void respond_line(struct http_request *req, unsigned status,
                         const char *text) {
  struct buf b = BUF_INIT;
  size_t len;
  buf_addf(&b, "%s\n", text);
  char *body = buf_detach(&b, &len);
  http_respond_take(req, status, "text/plain; charset=utf-8", body, len);
}

/* Log once, at the edge: every refusal is worth a line (the audit log has a
 * row too). */
static void refuse(struct http_request *req, int rc,
                   const struct be_diag *diag) {
  const char *why = diag->msg[0] ? diag->msg : be_err_message(rc);
  log_warn("request %s POST /wechat/events %s: %s: %s", http_req_id(req),
           be_err_status(rc) >= 500 ? "failed" : "refused", be_err_code(rc),
           why);
  respond_line(req, (unsigned)be_err_status(rc), why);
}

void web_wechat_events(struct http_request *req, void *ctx) {
  struct web *w = ctx;
  struct wechat_events *ev = w->wechat_events;
  const char *off = ev ? wechat_events_disabled_reason(ev)
                       : "the WeChat event receiver is not running";
  if (off) {
    log_warn("request %s POST /wechat/events: 503: %s", http_req_id(req), off);
    respond_line(req, 503, off);
    return;
  }
  struct req_meta meta = web_meta(req);
  struct be_diag diag = {""};
  struct wechat_push push = {
      .msg_signature = http_req_arg(req, "msg_signature"),
      .timestamp = http_req_arg(req, "timestamp"),
      .nonce = http_req_arg(req, "nonce"),
      .encrypt_type = http_req_arg(req, "encrypt_type"),
  };
  enum wechat_push_outcome outcome = WECHAT_PUSH_IGNORED;
  push.body = http_req_body(req, &push.body_len);
  int rc = wechat_events_receive(ev, &meta, &push, &outcome, &diag);
  if (rc) {
    refuse(req, rc, &diag);
    return;
  }
  /* Apply it now rather than at the link worker's next look. */
  if (outcome == WECHAT_PUSH_STORED)
    link_worker_kick(w->app->links);
  http_resp_header(req, "X-Bindery-Push", wechat_push_outcome_name(outcome));
  http_respond(req, 200, "text/plain; charset=utf-8", success,
               sizeof(success) - 1);
}
