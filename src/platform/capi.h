/* The component API of the emulator (spec §3, §4, §9, §10): what
 * https://api.weixin.qq.com answers to a third-party platform. Every call is
 * answered with HTTP 200 and a JSON body, business errors included (§3.4).
 *
 * Endpoints (paths under the emulator's root):
 *   /cgi-bin/component/api_component_token       no token (§4.1)
 *   /cgi-bin/component/api_start_push_ticket     no token (§4.2)
 *   /cgi-bin/component/api_create_preauthcode    component token (§4.3)
 *   /cgi-bin/component/api_query_auth            component token (§4.4)
 *   /cgi-bin/component/api_authorizer_token      component token (§4.5)
 *   /cgi-bin/component/api_get_authorizer_info   component token (§4.6)
 *   /cgi-bin/component/api_get_authorizer_list   component token (§4.7)
 *   /cgi-bin/component/clear_quota               component token (§4.9)
 *   /cgi-bin/component/clear_quota/v2            no token; component secret (§4.9)
 *   /cgi-bin/clear_quota                         authorizer token (§4.9)
 *   /cgi-bin/openapi/quota/get                   component token (§4.9)
 *
 * Rules (the emulator's [E] choices of the spec):
 *   - the token comes from `component_access_token=` or `access_token=` (the
 *     former wins when both are given); absent -> 41001; unknown or revoked
 *     -> 40001; an authorizer token on a component endpoint -> 61014; past
 *     its 7200 s -> 42001; replaced by a newer token more than 300 s ago ->
 *     40001; then the component's IP whitelist, when it has one -> 61004;
 *   - an empty body -> 44002; a body that is not a JSON object, or a
 *     required member missing -> 47001; a component_appid that is not the
 *     token's component -> 40013;
 *   - daily quotas (spec §10; Asia/Shanghai days of the emulator clock) are
 *     counted always and enforced when the setting is on -> 45009;
 *   - faults: latency_ms delays every answer; error_rate answers that share
 *     of calls with -1 "system error" without touching any state.
 * Error bodies are {"errcode":N,"errmsg":"<text> rid: %08x-%08x-%08x"}
 * (61004 inserts " requestIP: <ip>" before " rid:").
 *
 * Every call of api_get_authorizer_info counts one check of the authorizer
 * it names; every call of api_get_authorizer_list counts one check of each
 * authorizer that has (or had) an authorization with the calling component,
 * since the answer tells about each of them. The counters are in the state
 * dump (platform.h: pl_state_json). */
#ifndef BINDERY_PLATFORM_CAPI_H
#define BINDERY_PLATFORM_CAPI_H

#include <stddef.h>

#include "core/buf.h"
#include "platform/platform.h"

struct pl_capi_request {
    const char *path; /* the request path, e.g. "/cgi-bin/component/api_query_auth" */
    const char *component_access_token; /* query argument, NULL when absent */
    const char *access_token;           /* query argument, NULL when absent */
    const char *client_ip;
    const char *body; /* need not be NUL-terminated */
    size_t body_len;
};

/* True when path is one of the endpoints above. */
bool pl_capi_known(const char *path);

/* Answers one call: appends the JSON body to out and returns 0. A store
 * failure is answered -1 "system error", as WeChat does. BE_NOT_FOUND (out
 * untouched) for a path that is not an endpoint. Blocks for the configured
 * latency fault. */
int pl_capi_call(struct platform *pl, const struct pl_capi_request *req, struct buf *out);

#endif
