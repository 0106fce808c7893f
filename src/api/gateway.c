/* The API 3.0 gateway: POST / (JSON body) and GET / (query), authenticated
 * with TC3-HMAC-SHA256 (spec cam-and-api §4.3), answered with the Response
 * envelope (§4.5): always HTTP 200 and Content-Type application/json. */
#include <string.h>

#include "api/action.h"
#include "api/query.h"
#include "api/tc3.h"
#include "api/web.h"
#include "cam/accesskey.h"
#include "core/crypto.h"
#include "core/timeutil.h"
#include "devtools/device.h"
#include "core/banned.h"

static const char *header_of(void *ctx, const char *name)
{
    return http_req_header(ctx, name);
}

static int verify(struct web *w, struct http_request *req, const struct tc3_authorization *auth,
                  const char *secret, struct be_diag *diag)
{
    size_t len;
    const char *body = http_req_body(req, &len);
    struct tc3_request treq = {
        .method = http_req_method(req),
        .query = http_req_query_raw(req),
        .header = header_of,
        .header_ctx = req,
        .body = body,
        .body_len = len,
        .timestamp = http_req_header(req, "X-TC-Timestamp"),
        .content_sha256 = http_req_header(req, "X-TC-Content-SHA256"),
    };
    int rc = tc3_verify(&treq, auth, secret, time_now(), (int64_t)w->app->cfg->api_clock_skew);
    if (rc == BE_MISSING_PARAMETER)
        return be_fail(diag, rc, "the X-TC-Timestamp header is required");
    if (rc == BE_INVALID_PARAMETER)
        return be_fail(diag, rc, "X-TC-Timestamp must be unix seconds");
    return rc;
}

/* Temporary credentials of a developer tool (devtools/device.h): the
 * signature first, then X-TC-Token and expiry (spec cam-and-api §4.3). */
static int authenticate_tmp(struct web *w, struct http_request *req,
                            const struct tc3_authorization *auth, struct principal *ret,
                            struct be_diag *diag)
{
    struct devcred cred;
    int rc = devcred_resolve(w->app, auth->secret_id, time_now(), &cred);
    if (rc == BE_AUTH_SECRET_ID)
        return be_fail(diag, rc,
                       "temporary SecretId %s is unknown or its device login was revoked; run "
                       "bindery login again",
                       auth->secret_id);
    if (rc)
        return rc;
    rc = verify(w, req, auth, cred.secret_key, diag);
    if (rc == BE_OK && (rc = devcred_check(&cred, http_req_header(req, "X-TC-Token"), time_now())))
        be_fail(diag, rc,
                "X-TC-Token is missing, does not belong to this temporary SecretId, or the "
                "temporary credentials have expired; refresh them");
    if (rc == BE_OK)
        *ret = cred.who;
    crypto_wipe(&cred, sizeof(cred));
    return rc;
}

/* Who signed the request: parse, look up the SecretId, verify. */
static int authenticate(struct web *w, struct http_request *req, struct principal *ret,
                        struct be_diag *diag)
{
    struct tc3_authorization auth;
    char secret[ACCESSKEY_SECRET_LEN + 1];
    const char *authorization = http_req_header(req, "Authorization");
    if (!authorization)
        return be_fail(diag, BE_AUTH_INVALID, "the Authorization header is missing");
    if (tc3_parse_authorization(authorization, &auth))
        return be_fail(diag, BE_AUTH_INVALID,
                       "the Authorization header is not a valid TC3-HMAC-SHA256 authorization");
    if (devcred_is_tmp_id(auth.secret_id))
        return authenticate_tmp(w, req, &auth, ret, diag);
    int rc = accesskey_resolve(w->app, auth.secret_id, ret, secret);
    if (rc == BE_AUTH_SECRET_ID)
        return be_fail(diag, rc, "SecretId %s is unknown, deleted or disabled", auth.secret_id);
    if (rc)
        return rc;
    rc = verify(w, req, &auth, secret, diag);
    crypto_wipe(secret, sizeof(secret));
    return rc;
}

static int read_params(struct http_request *req, json_t **ret, struct be_diag *diag)
{
    size_t len;
    const char *body = http_req_body(req, &len);
    if (!strcmp(http_req_method(req), "GET")) {
        const char *q = http_req_query_raw(req);
        return api_query_to_json(q, strlen(q), ret, diag);
    }
    if (len == 0) {
        *ret = json_object();
        return BE_OK;
    }
    json_error_t jerr;
    json_t *v = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!v)
        return be_fail(diag, BE_INVALID_PARAMETER, "the body is not valid JSON: %s at line %d",
                       jerr.text, jerr.line);
    if (!json_is_object(v)) {
        json_decref(v);
        return be_fail(diag, BE_INVALID_PARAMETER, "the body must be a JSON object");
    }
    *ret = v;
    return BE_OK;
}

/* One API call, dispatched and answered: now, or on an offload thread. */
struct call {
    struct web *w;
    struct principal who;
    bool console;
    unsigned char session_hash[CRYPTO_SHA256_LEN];
    const struct api_action *action;
    json_t *params;
};

static void call_run(struct http_request *req, void *arg)
{
    struct call *c = arg;
    struct be_diag diag = {""};
    struct req_meta meta = web_meta(req);
    json_t *out = NULL;
    int rc = api_dispatch_console(c->w->app, &c->who, &meta, c->console ? c->session_hash : NULL,
                                  c->action, c->params, &out, &diag);
    json_decref(c->params);
    if (rc)
        web_reply_error(req, rc, &diag);
    else
        web_reply_ok(req, out);
}

/* Does the call ask to wait (a long-poll: WaitSeconds > 0)? */
static bool call_waits(const json_t *params)
{
    const json_t *v = json_object_get(params, "WaitSeconds");
    return (json_is_integer(v) && json_integer_value(v) > 0) ||
           (json_is_string(v) && strcmp(json_string_value(v), "0") && *json_string_value(v));
}

void web_dispatch_reply(struct web *w, struct http_request *req, const struct principal *who,
                        const unsigned char *session_hash, const struct api_action *action,
                        json_t *params)
{
    struct call *c = arena_alloc(http_req_arena(req), sizeof(*c));
    memset(c, 0, sizeof(*c));
    c->w = w;
    c->who = *who;
    c->console = session_hash != NULL;
    if (session_hash)
        memcpy(c->session_hash, session_hash, sizeof(c->session_hash));
    c->action = action;
    c->params = params;
    /* A long-poll must not hold an HTTP worker thread (each serves many
     * connections): it runs on the server's offload threads. */
    if (call_waits(params))
        http_defer(req, call_run, c);
    else
        call_run(req, c);
}

void web_gateway(struct http_request *req, void *ctx)
{
    struct web *w = ctx;
    struct be_diag diag = {""};
    struct principal who;
    const struct api_action *action;
    json_t *params = NULL;
    const char *name = http_req_header(req, "X-TC-Action");
    const char *version = http_req_header(req, "X-TC-Version");
    int rc;
    if (!name || !*name) {
        rc = be_fail(&diag, BE_MISSING_PARAMETER, "the X-TC-Action header is required");
        goto fail;
    }
    if (!version || !*version) {
        rc = be_fail(&diag, BE_MISSING_PARAMETER, "the X-TC-Version header is required");
        goto fail;
    }
    if ((rc = authenticate(w, req, &who, &diag)))
        goto fail;
    if ((rc = api_find_action(name, version, &action))) {
        be_fail(&diag, rc,
                rc == BE_NO_SUCH_VERSION ? "action %s does not exist in version %s"
                                         : "unknown action %s (version %s)",
                name, version);
        goto fail;
    }
    if ((rc = read_params(req, &params, &diag)))
        goto fail;
    web_dispatch_reply(w, req, &who, NULL, action, params);
    return;
fail:
    json_decref(params);
    web_reply_error(req, rc, &diag);
}
