#include "cam/authz.h"

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
    (void)app;
    /* Nothing crosses accounts: a principal acts only inside its owner. */
    if (req->resource_owner && req->resource_owner != who->owner_uin)
        return deny(req, request_id, diag);
    /* The root bypass of §2.8: policies are never attached to a root. */
    if (who->kind == PRINCIPAL_ROOT && who->uin == who->owner_uin)
        return BE_OK;
    /* Sub-users and collaborators hold no policies until the policy engine
     * attaches some; with none attached the default is deny. */
    return deny(req, request_id, diag);
}
