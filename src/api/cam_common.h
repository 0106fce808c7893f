/* Helpers shared by the CAM action tables (cam_user_actions.c,
 * cam_policy_actions.c, sts_actions.c): CAM resource strings of spec §2.4,
 * a second CAM check for actions that touch several resources, paging. */
#ifndef BINDERY_API_CAM_COMMON_H
#define BINDERY_API_CAM_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include "api/action.h"
#include "core/buf.h"

#define CAM_API_VERSION  "2019-01-16"
#define CAM_API_UIN_MAX  9007199254740991ull /* 2^53 - 1: exact in every JSON client */
#define CAM_API_ID_MAX   9007199254740991ull
#define CAM_API_RP_MAX   200
#define CAM_API_PAGE_MAX 10000

/* qcs::cam::uin/<owner>:uin/<uin> (uin 0: "uin/" and a star, a user that does not
 * exist: only a policy on every user can reach the not-found answer). */
void cam_res_user(struct buf *out, uint64_t owner_uin, uint64_t uin);
/* qcs::cam::uin/<owner>:groupid/<id> */
void cam_res_group(struct buf *out, uint64_t owner_uin, uint64_t group_id);
/* qcs::cam::uin/<owner>:policyid/<id> */
void cam_res_policy(struct buf *out, uint64_t owner_uin, uint64_t policy_id);

/* The CAM check of one more (action, resource) inside a running action, for
 * batch actions (each group of AddUserToGroup, each policy of DeletePolicy)
 * and side effects that need their own permission. BE_OK or
 * BE_UNAUTHORIZED with the spec's message in call->diag. */
int cam_check_also(struct api_call *call, const char *cam_action, const char *resource);

/* Page / Rp (1-based page, page size; defaults 1 and 20) as offset, limit. */
void cam_page(const struct api_call *call, size_t *ret_offset, size_t *ret_limit);

/* The UIN of the owner's user named by the string parameter `param`
 * (0 when there is none). */
uint64_t cam_uin_of_name(struct api_call *call, const char *param);

#endif
