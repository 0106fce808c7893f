/* STS 2018-08-13: GetCallerIdentity (spec cam-and-api §3.4). Long-term keys
 * of every principal answer Type "CAMUser" with Arn
 * qcs::cam:<owner>:uin/<uin>, as the cloud's tccli example shows. */
#include <stdio.h>

#include "api/action.h"
#include "core/banned.h"

#define STS_VERSION "2018-08-13"

static int get_caller_identity(struct api_call *call)
{
    char arn[96];
    snprintf(arn, sizeof(arn), "qcs::cam:%llu:uin/%llu", (unsigned long long)call->who->owner_uin,
             (unsigned long long)call->who->uin);
    json_object_set_new(call->out, "Arn", json_string(arn));
    api_set_uin_string(call->out, "AccountId", call->who->owner_uin);
    api_set_uin_string(call->out, "UserId", call->who->uin);
    api_set_uin_string(call->out, "PrincipalId", call->who->uin);
    json_object_set_new(call->out, "Type", json_string("CAMUser"));
    return BE_OK;
}

static const struct api_param no_params[] = {{NULL, 0, false, 0, 0}};

const struct api_action api_sts_actions[] = {
    {"sts", "GetCallerIdentity", STS_VERSION, no_params, "sts:GetCallerIdentity", NULL,
     get_caller_identity},
    {NULL, NULL, NULL, NULL, NULL, NULL, NULL},
};
