#include "cam/authz.h"

#include "cam/cache.h"
#include "core/banned.h"

static int deny(const struct cam_request *req, const char *request_id, struct be_diag *diag)
{
    return be_fail(diag, BE_UNAUTHORIZED,
                   "[request id:%s]you are not authorized to perform operation (%s)\n"
                   "resource (%s) has no permission\n",
                   request_id ? request_id : "", req->action, req->resource);
}

int cam_authorize(struct app *app, const struct principal *who, const struct cam_request *req,
                  const char *request_id, struct be_diag *diag)
{
    /* Nothing crosses accounts: a principal acts only inside its owner. */
    if (req->resource_owner && req->resource_owner != who->owner_uin)
        return deny(req, request_id, diag);
    /* The root bypass of §2.8: policies are never attached to a root. */
    if (who->kind == PRINCIPAL_ROOT && who->uin == who->owner_uin)
        return BE_OK;
    /* A "root" acting in another account is not a thing: only collaborators
     * act inside an owner, and they are evaluated like sub-users. */
    if (who->kind == PRINCIPAL_ROOT)
        return deny(req, request_id, diag);
    struct cam_eval_input in = {
        .action = req->action,
        .resource = req->resource,
        .owner_uin = who->owner_uin,
        .caller_uin = who->uin,
        .app_id = who->app_id,
        .now = req->now,
        .mfa = CAM_MFA_UNKNOWN,
    };
    /* An address that does not parse leaves qcs:ip absent, as for a call
     * from the command line (docs/cam-policy.md: absent keys). */
    if (req->source_ip)
        cam_ip_parse(req->source_ip, &in.source_ip);
    struct cam_eval_request er;
    struct be_diag ignored;
    if (cam_eval_request_init(&er, &in, &ignored))
        return deny(req, request_id, diag);
    struct cam_cached_set *set = NULL;
    int rc = cam_cache_acquire(app, who, &set);
    if (rc)
        return rc;
    int decision = cam_decide(cam_cached_set_policies(set), &er);
    cam_cached_set_release(set);
    return decision == CAM_ALLOW ? BE_OK : deny(req, request_id, diag);
}
