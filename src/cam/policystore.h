/* Policies of CAM as stored: the presets (cam_presets[], ids 1..999, visible
 * to every account, never changed) and each owner's custom policies (ids
 * above CAM_PRESET_ID_MAX, one number space), and their attachments to the
 * owner's users (sub-users and collaborators, by Uid) and groups.
 *
 * A custom policy's document is validated with cam_policy_parse() before it
 * is stored, and stored verbatim. Every change runs in one transaction with
 * the owner's CAM generation bump (cam/cache.h) and an audit row; deleting a
 * policy removes its attachments in the same transaction. */
#ifndef BINDERY_CAM_POLICYSTORE_H
#define BINDERY_CAM_POLICYSTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "app.h"
#include "cam/policy.h"
#include "cam/principal.h"
#include "core/err.h"

#define CAM_CUSTOM_POLICIES_MAX    1500 /* per owner (spec §1.10) */
#define CAM_ATTACHMENTS_MAX        200  /* policies attached directly to one user or group */
#define CAM_POLICY_NAME_MAX        128  /* letters, digits and +=,.@_- */
#define CAM_POLICY_DESCRIPTION_MAX 300  /* bytes */
#define CAM_POLICY_DELETE_MAX      100  /* ids in one DeletePolicy */

enum cam_policy_type { CAM_POLICY_CUSTOM = 1, CAM_POLICY_PRESET = 2 };

struct cam_policy_info {
    uint64_t id;
    uint64_t owner_uin; /* 0 for a preset */
    enum cam_policy_type type;
    char name[CAM_POLICY_NAME_MAX + 1];
    char description[CAM_POLICY_DESCRIPTION_MAX + 1];
    char service_type[32];
    char *document; /* malloc'd by cam_policystore_get only, else NULL */
    int64_t created_at, updated_at;
    uint64_t attachments; /* entities of the owner it is attached to */
};

/* Frees info->document. */
void cam_policy_info_release(struct cam_policy_info *info);

/* 1..CAM_POLICY_NAME_MAX of [A-Za-z0-9+=,.@_-]; BE_POLICY_NAME_ERROR. */
int cam_policy_check_name(const char *name, struct be_diag *diag);
/* Parses a document; on a refusal returns the BE_* error of the parser's
 * spec code (InvalidParameter.ActionError → BE_POLICY_ACTION_ERROR ...) with
 * the message and line/column in diag. */
int cam_policy_validate(const char *document, struct be_diag *diag);

/* Creates a custom policy. Errors: BE_POLICY_NAME_ERROR,
 * BE_DESCRIPTION_TOO_LONG, the document's (cam_policy_validate),
 * BE_POLICY_NAME_IN_USE, BE_POLICY_FULL. */
int cam_policystore_create(struct app *app, const struct req_meta *meta,
                           const struct principal *actor, uint64_t owner_uin, const char *name,
                           const char *document, const char *description, uint64_t *ret_id,
                           struct be_diag *diag);
/* A preset, or a custom policy of owner_uin, with its document (release
 * with cam_policy_info_release). BE_POLICY_ID_NOT_FOUND. */
int cam_policystore_get(struct app *app, uint64_t owner_uin, uint64_t id,
                        struct cam_policy_info *ret);
/* The id of the policy named name (a custom policy of the owner, else a
 * preset). BE_POLICY_ID_NOT_FOUND. */
int cam_policystore_find(struct app *app, uint64_t owner_uin, const char *name, uint64_t *ret_id);
/* Changes a custom policy; NULL fields stay. A new document is validated
 * and bumps the policy's version. Errors: BE_POLICY_ID_NOT_FOUND,
 * BE_UNMODIFIABLE (a preset), and those of create. */
int cam_policystore_update(struct app *app, const struct req_meta *meta,
                           const struct principal *actor, uint64_t owner_uin, uint64_t id,
                           const char *name, const char *description, const char *document,
                           struct be_diag *diag);
/* Deletes custom policies and their attachments, all or none.
 * BE_POLICY_ID_NOT_FOUND (an unknown id), BE_UNMODIFIABLE (a preset),
 * BE_OPERATE_POLICIES_OVER_LIMIT. */
int cam_policystore_delete(struct app *app, const struct req_meta *meta,
                           const struct principal *actor, uint64_t owner_uin, const uint64_t *ids,
                           size_t n, struct be_diag *diag);

enum cam_scope { CAM_SCOPE_ALL, CAM_SCOPE_QCS, CAM_SCOPE_LOCAL };

/* Presets (in id order) then the owner's custom policies (in id order),
 * those whose name contains keyword (NULL: all, case-insensitive), paged.
 * malloc'd array (documents not loaded). */
int cam_policystore_list(struct app *app, uint64_t owner_uin, enum cam_scope scope,
                         const char *keyword, size_t offset, size_t limit,
                         struct cam_policy_info **ret, size_t *ret_count, size_t *ret_total);

/* ---- attachments ---- */

enum cam_entity_kind { CAM_ENTITY_USER, CAM_ENTITY_GROUP };

/* Attaches policy_id to a user (entity_id = Uid) or group of owner_uin;
 * attaching again is not an error. Errors: BE_POLICY_ID_NOT_EXIST,
 * BE_USER_NOT_EXIST, BE_GROUP_NOT_EXIST, BE_ATTACHMENT_FULL. */
int cam_attach(struct app *app, const struct req_meta *meta, const struct principal *actor,
               uint64_t owner_uin, uint64_t policy_id, enum cam_entity_kind kind,
               uint64_t entity_id, struct be_diag *diag);
/* Detaches (not attached: no error). Errors as cam_attach. */
int cam_detach(struct app *app, const struct req_meta *meta, const struct principal *actor,
               uint64_t owner_uin, uint64_t policy_id, enum cam_entity_kind kind,
               uint64_t entity_id, struct be_diag *diag);

/* One attachment as listed: the policy, and the group it comes through
 * (group_id 0: attached directly). */
struct cam_attached {
    struct cam_policy_info policy;
    uint64_t group_id;
    char group_name[65];
    int64_t attached_at;
    uint64_t operator_uin;
};

/* The policies attached to an entity. For a user, `via` selects 0 = direct
 * and through its groups, 1 = direct only, 2 = through groups only (groups
 * ignore it). Ordered by policy id then group; keyword filters policy names
 * (NULL: all). malloc'd array. */
int cam_attached_list(struct app *app, uint64_t owner_uin, enum cam_entity_kind kind,
                      uint64_t entity_id, int via, const char *keyword, struct cam_attached **ret,
                      size_t *ret_count);

#endif
