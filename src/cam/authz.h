/* The CAM decision: may a principal perform an action on a resource?
 * Every action of Bindery, console and API alike, passes through here before
 * it runs (the API dispatcher calls it with the action's declared CAM name
 * and resource). Evaluation follows spec cam-and-api §2.8: a root account is
 * allowed everything in its own account; everyone else is denied unless a
 * policy attached to them allows the action, and an explicit deny wins. */
#ifndef BINDERY_CAM_AUTHZ_H
#define BINDERY_CAM_AUTHZ_H

#include <stdint.h>

#include "app.h"
#include "cam/principal.h"
#include "core/err.h"

struct cam_request {
    const char *action;     /* "cam:CreateAccessKey" */
    const char *resource;   /* "qcs::cam::uin/1:uin/2" or "*" */
    uint64_t resource_owner; /* the account the resource belongs to */
    const char *source_ip;  /* may be NULL */
    int64_t now;
};

/* BE_OK to allow; BE_UNAUTHORIZED with the spec's message shape in diag to
 * deny. request_id is used in the message and may be NULL. */
int cam_authorize(struct app *app, const struct principal *who, const struct cam_request *req,
                  const char *request_id, struct be_diag *diag);

#endif
