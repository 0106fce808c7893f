#include "api/cam_common.h"

#include "cam/authz.h"
#include "cam/directory.h"
#include "core/banned.h"

void cam_res_user(struct buf *out, uint64_t owner_uin, uint64_t uin)
{
    if (uin)
        buf_addf(out, "qcs::cam::uin/%llu:uin/%llu", (unsigned long long)owner_uin,
                 (unsigned long long)uin);
    else
        buf_addf(out, "qcs::cam::uin/%llu:uin/*", (unsigned long long)owner_uin);
}

void cam_res_group(struct buf *out, uint64_t owner_uin, uint64_t group_id)
{
    buf_addf(out, "qcs::cam::uin/%llu:groupid/%llu", (unsigned long long)owner_uin,
             (unsigned long long)group_id);
}

void cam_res_policy(struct buf *out, uint64_t owner_uin, uint64_t policy_id)
{
    buf_addf(out, "qcs::cam::uin/%llu:policyid/%llu", (unsigned long long)owner_uin,
             (unsigned long long)policy_id);
}

int cam_check_also(struct api_call *call, const char *cam_action, const char *resource)
{
    struct cam_request req = {cam_action, resource, call->who->owner_uin, call->meta->source_ip,
                              call->meta->now};
    return cam_authorize(call->app, call->who, &req, call->meta->request_id, &call->diag);
}

void cam_page(const struct api_call *call, size_t *ret_offset, size_t *ret_limit)
{
    uint64_t page = api_u64(call, "Page", 1), rp = api_u64(call, "Rp", 20);
    *ret_offset = (size_t)((page - 1) * rp);
    *ret_limit = (size_t)rp;
}

uint64_t cam_uin_of_name(struct api_call *call, const char *param)
{
    struct cam_user u;
    const char *name = api_str(call, param);
    if (name && cam_user_get(call->app, call->who->owner_uin, name, &u) == BE_OK)
        return u.uin;
    return 0;
}
