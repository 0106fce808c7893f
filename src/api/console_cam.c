/* The console's access-management endpoints (docs/cam.md "Console"):
 * sub-user login (POST /console/login/subuser), switch developer (GET and
 * POST /console/switch) and the 访问管理 pages (GET /cam/...). The pages
 * themselves work through POST /console/api with the CAM actions, like any
 * other client. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "account/session.h"
#include "api/action.h"
#include "api/web.h"
#include "audit/audit.h"
#include "cam/console.h"
#include "core/parse.h"
#include "core/banned.h"

#define UIN_MAX 999999999999ull

/* The access-management pages, by path. */
static const struct {
    const char *path;
    const char *file;
} cam_pages[] = {
    {"/cam/users", "cam-users.html"},
    {"/cam/groups", "cam-groups.html"},
    {"/cam/policies", "cam-policies.html"},
    {"/cam/keys", "cam-keys.html"},
};

void web_page_cam(struct http_request *req, void *ctx)
{
    struct web *w = ctx;
    const char *path = http_req_path(req);
    for (size_t i = 0; i < sizeof(cam_pages) / sizeof(cam_pages[0]); i++) {
        if (!strcmp(path, cam_pages[i].path)) {
            http_serve_file(req, w->app->cfg->web_dir, cam_pages[i].file);
            return;
        }
    }
    http_respond_text(req, 404, "not found\n");
}

static json_t *parse_object(struct http_request *req, struct be_diag *diag, int *rc)
{
    size_t len;
    const char *body = http_req_body(req, &len);
    json_error_t jerr;
    json_t *v = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!v || !json_is_object(v)) {
        *rc = be_fail(diag, BE_INVALID_PARAMETER, "the request body must be a JSON object%s%s",
                      v ? "" : ": ", v ? "" : jerr.text);
        json_decref(v);
        return NULL;
    }
    *rc = BE_OK;
    return v;
}

/* An account ID given as a JSON number or a decimal string (a form field).
 * allow_zero: 0 is "none" (switching back). */
static int uin_field(json_t *body, const char *field, bool allow_zero, uint64_t *ret,
                     struct be_diag *diag)
{
    json_t *v = json_object_get(body, field);
    uint64_t uin = 0;
    if (!v || json_is_null(v) || (json_is_string(v) && !*json_string_value(v)))
        return be_fail(diag, BE_MISSING_PARAMETER, "%s is required", field);
    if (json_is_integer(v) && json_integer_value(v) >= 0)
        uin = (uint64_t)json_integer_value(v);
    else if (!json_is_string(v) || parse_u64(json_string_value(v), UIN_MAX, &uin))
        return be_fail(diag, BE_INVALID_PARAMETER_VALUE, "%s must be an account ID (digits)",
                       field);
    if (uin > UIN_MAX || (!uin && !allow_zero))
        return be_fail(diag, BE_INVALID_PARAMETER_VALUE, "%s %llu is not an account ID", field,
                       (unsigned long long)uin);
    *ret = uin;
    return BE_OK;
}

void web_console_sub_login(struct http_request *req, void *ctx)
{
    struct web *w = ctx;
    struct be_diag diag = {""};
    struct req_meta meta = web_meta(req);
    struct principal who;
    struct cam_user u;
    struct session s;
    uint64_t owner = 0;
    int64_t retry_after = 0;
    int rc = web_console_check_origin(w, req);
    json_t *body = rc ? NULL : parse_object(req, &diag, &rc);
    if (rc || (rc = uin_field(body, "OwnerUin", false, &owner, &diag)))
        goto fail;
    rc = cam_console_login(
        w->app, &meta, owner, json_string_value(json_object_get(body, "UserName")),
        json_string_value(json_object_get(body, "Password")), &who, &u, &retry_after, &diag);
    if (rc || (rc = web_console_start_session(w, req, &meta, &who, NULL, &s)))
        goto fail;
    web_console_reply_session(w, req, &s, u.name);
    json_decref(body);
    return;
fail:
    if (rc == BE_LOGIN_THROTTLED) {
        char secs[24];
        snprintf(secs, sizeof(secs), "%lld", (long long)retry_after);
        http_resp_header(req, "Retry-After", secs);
    }
    web_reply_error(req, rc, &diag);
    json_decref(body);
}

void web_console_collaborations(struct http_request *req, void *ctx)
{
    struct web *w = ctx;
    struct be_diag diag = {""};
    struct session s;
    struct cam_user *owners = NULL;
    size_t n = 0;
    int rc = web_console_authenticate(w, req, false, &s, NULL, &diag);
    /* A sub-user belongs to one account: it has nothing to switch to. */
    if (rc == BE_OK && s.who.kind != PRINCIPAL_SUB_USER)
        rc = cam_collaborations_of(w->app, s.who.uin, &owners, &n);
    if (rc) {
        web_reply_error(req, rc, &diag);
        return;
    }
    json_t *list = json_array();
    for (size_t i = 0; i < n; i++) {
        if (!owners[i].console_login)
            continue;
        json_t *o = json_object();
        api_set_uin_string(o, "OwnerUin", owners[i].owner_uin);
        json_object_set_new(o, "Name", json_string(owners[i].name));
        json_object_set_new(o, "Current", json_boolean(owners[i].owner_uin == s.who.owner_uin));
        json_array_append_new(list, o);
    }
    free(owners);
    json_t *out = json_object();
    api_set_uin_string(out, "Uin", s.who.uin);
    api_set_uin_string(out, "OwnerUin", s.who.owner_uin);
    json_object_set_new(out, "Accounts", list);
    http_resp_header(req, "Cache-Control", "no-store");
    web_reply_ok(req, out);
}

void web_console_switch(struct http_request *req, void *ctx)
{
    struct web *w = ctx;
    struct be_diag diag = {""};
    struct req_meta meta = web_meta(req);
    struct session cur, next;
    struct principal who;
    struct cam_user u;
    uint64_t target = 0;
    char detail[96];
    json_t *body = NULL;
    int rc = web_console_authenticate(w, req, true, &cur, NULL, &diag);
    if (rc || !(body = parse_object(req, &diag, &rc)) ||
        (rc = uin_field(body, "OwnerUin", true, &target, &diag)))
        goto fail;
    snprintf(detail, sizeof(detail), "from account %llu to account %llu",
             (unsigned long long)cur.who.owner_uin,
             (unsigned long long)(target ? target : cur.who.uin));
    if ((rc = cam_console_switch_target(w->app, &cur.who, target, &who, &u, &diag))) {
        struct audit_entry e = {target, cur.who.uin, "console.switch", "failure", detail};
        audit_record_now(w->app, &meta, &e);
        goto fail;
    }
    struct audit_entry e = {who.owner_uin, who.uin, "console.switch", "success", detail};
    if ((rc = web_console_start_session(w, req, &meta, &who, &e, &next)))
        goto fail;
    web_console_reply_session(w, req, &next, who.kind == PRINCIPAL_ROOT ? "" : u.name);
    json_decref(body);
    return;
fail:
    web_reply_error(req, rc, &diag);
    json_decref(body);
}
