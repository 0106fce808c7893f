/* The CAM directory of an owner account: its sub-users (子用户), its
 * collaborators (协作者: other root accounts admitted into it) and its user
 * groups with their members. Spec cam-and-api §1.
 *
 * Identities. Sub-users and collaborators are both "users" of the owner, in
 * one name space (names unique per owner) with a CAM user ID (Uid) each. A
 * sub-user gets its own UIN: 11 digits, drawn at random, unique among
 * sub-users and, being shorter than root accounts' 12-digit UINs, never equal
 * to an account's. A collaborator's UIN is its own root account's.
 *
 * Every change runs in one transaction that also bumps the owner's CAM
 * generation (cam/cache.h) and writes an audit row, and enforces the limits
 * of §1.10 below. Deleting a user removes its group memberships, its policy
 * attachments and its API keys in that same transaction. */
#ifndef BINDERY_CAM_DIRECTORY_H
#define BINDERY_CAM_DIRECTORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "app.h"
#include "cam/accesskey.h"
#include "cam/principal.h"
#include "core/err.h"

/* Limits (spec §1.10). */
#define CAM_USERS_MAX          1000 /* sub-users + collaborators per owner */
#define CAM_GROUPS_MAX         300  /* groups per owner */
#define CAM_GROUPS_PER_USER    10
#define CAM_GROUP_MEMBERS_MAX  100
#define CAM_COLLABORATIONS_MAX 10 /* owners one account collaborates with */

#define CAM_SUB_UIN_MIN 10000000000ull
#define CAM_SUB_UIN_MAX 99999999999ull

/* Field sizes (bytes, without the NUL). */
#define CAM_USER_NAME_MAX          64 /* letters, digits and +=,.@_- */
#define CAM_GROUP_NAME_MAX         64 /* any UTF-8 without control characters */
#define CAM_REMARK_MAX             255
#define CAM_PHONE_MAX              32
#define CAM_COUNTRY_CODE_MAX       8
#define CAM_EMAIL_MAX              254
#define CAM_PASSWORD_MIN           8 /* with upper, lower, digit and another character */
#define CAM_PASSWORD_MAX           128
#define CAM_GENERATED_PASSWORD_LEN 32

enum cam_user_kind { CAM_USER_SUB, CAM_USER_COLLABORATOR };

struct cam_user {
    uint64_t uid;
    uint64_t owner_uin;
    uint64_t uin;
    enum cam_user_kind kind;
    char name[CAM_USER_NAME_MAX + 1];
    char remark[CAM_REMARK_MAX + 1];
    bool console_login;
    bool use_api; /* may hold API keys */
    bool need_reset_password;
    bool has_password;
    char phone_num[CAM_PHONE_MAX + 1];
    char country_code[CAM_COUNTRY_CODE_MAX + 1];
    char email[CAM_EMAIL_MAX + 1];
    int64_t created_at;
};

/* What AddUser / UpdateUser give. NULL strings and negative flags are "not
 * given" (UpdateUser leaves the field as it is; AddUser uses "" / 0). */
struct cam_user_input {
    const char *name;
    const char *remark;
    const char *password;
    const char *phone_num;
    const char *country_code;
    const char *email;
    int console_login;
    int use_api;
    int need_reset_password;
};

/* Name rules: 1..CAM_USER_NAME_MAX of [A-Za-z0-9+=,.@_-].
 * BE_USER_NAME_ILLEGAL with a diag naming the value. */
int cam_check_user_name(const char *name, struct be_diag *diag);
/* Sub-user password rules: CAM_PASSWORD_MIN..CAM_PASSWORD_MAX bytes with an
 * upper-case letter, a lower-case letter, a digit and one other character.
 * BE_PASSWORD_RULES with a diag. */
int cam_check_password(const char *password, struct be_diag *diag);

/* Creates a sub-user of owner_uin. With console login and no password, a
 * random CAM_GENERATED_PASSWORD_LEN-character password is generated and
 * written to ret_password (size CAM_GENERATED_PASSWORD_LEN + 1; "" when none
 * was generated). With in->use_api, an API key is created for the user in the
 * same transaction and written to *ret_key (ret_key->secret_id is "" when no
 * key was made). Errors: BE_USER_NAME_ILLEGAL, BE_PASSWORD_RULES,
 * BE_SUB_USER_NAME_IN_USE, BE_SUB_USER_FULL, BE_INVALID_PARAMETER_VALUE. */
int cam_user_add(struct app *app, const struct req_meta *meta, const struct principal *actor,
                 uint64_t owner_uin, const struct cam_user_input *in, struct cam_user *ret,
                 char *ret_password, struct accesskey *ret_key, struct be_diag *diag);

/* Lookups. BE_USER_NOT_EXIST when the owner has no such user. by_uin finds
 * sub-users and collaborators alike. */
int cam_user_get(struct app *app, uint64_t owner_uin, const char *name, struct cam_user *ret);
int cam_user_get_by_uin(struct app *app, uint64_t owner_uin, uint64_t uin, struct cam_user *ret);
int cam_user_get_by_uid(struct app *app, uint64_t owner_uin, uint64_t uid, struct cam_user *ret);

/* Users of one kind, by creation, into a malloc'd array (free()); total is
 * the count of all of them. */
int cam_user_list(struct app *app, uint64_t owner_uin, enum cam_user_kind kind, size_t offset,
                  size_t limit, struct cam_user **ret, size_t *ret_count, size_t *ret_total);

/* Changes a sub-user found by in->name. Setting a password or enabling
 * console login without one ever set needs in->password. Errors:
 * BE_USER_NOT_EXIST, BE_PASSWORD_RULES, BE_UNMODIFIABLE (a collaborator:
 * its password is its own account's), BE_INVALID_PARAMETER_VALUE. */
int cam_user_update(struct app *app, const struct req_meta *meta, const struct principal *actor,
                    uint64_t owner_uin, const struct cam_user_input *in, struct be_diag *diag);

/* Deletes a sub-user or collaborator by name, with its memberships,
 * attachments and (when force) its API keys. BE_HAVE_KEYS when it has keys
 * and force is false; BE_USER_NOT_EXIST. */
int cam_user_delete(struct app *app, const struct req_meta *meta, const struct principal *actor,
                    uint64_t owner_uin, const char *name, bool force, struct be_diag *diag);

/* Console login of a sub-user (for the console's login page): checks the
 * password of the sub-user `name` of owner_uin in constant time per user
 * (a dummy hash when there is no such user or it may not log in).
 * BE_LOGIN_FAILED for any mismatch; *ret on success. */
int cam_user_verify_password(struct app *app, uint64_t owner_uin, const char *name,
                             const char *password, struct cam_user *ret);

/* Admits the root account collaborator_uin into owner_uin as a collaborator
 * named name (NULL: "collaborator-<uin>"), console login on, API keys
 * allowed. Errors: BE_PARAM_USER_NOT_EXIST (no such root account, e.g. a
 * sub-user's UIN), BE_PARAM_ERROR (the owner itself), BE_COLLABORATOR_EXISTS,
 * BE_SUB_USER_NAME_IN_USE, BE_SUB_USER_FULL, BE_COLLABORATIONS_FULL. */
int cam_collaborator_add(struct app *app, const struct req_meta *meta,
                         const struct principal *actor, uint64_t owner_uin,
                         uint64_t collaborator_uin, const char *name, const char *remark,
                         struct cam_user *ret, struct be_diag *diag);
/* Removes a collaborator (and its memberships, attachments and its keys in
 * the owner). Its sessions switched into the owner lose every permission at
 * once: their principal is no longer a user of the owner. BE_USER_NOT_EXIST. */
int cam_collaborator_delete(struct app *app, const struct req_meta *meta,
                            const struct principal *actor, uint64_t owner_uin,
                            uint64_t collaborator_uin, struct be_diag *diag);

/* The accounts root account `uin` collaborates on (for 切换开发商): one
 * struct cam_user per membership, owner_uin naming the account, in a
 * malloc'd array (free()). */
int cam_collaborations_of(struct app *app, uint64_t uin, struct cam_user **ret, size_t *ret_count);

/* ---- Groups ---- */

struct cam_group {
    uint64_t group_id;
    uint64_t owner_uin;
    char name[CAM_GROUP_NAME_MAX + 1];
    char remark[CAM_REMARK_MAX + 1];
    int64_t created_at;
    size_t members;
};

/* Errors: BE_INVALID_PARAMETER_VALUE (name), BE_GROUP_NAME_IN_USE,
 * BE_GROUP_FULL. */
int cam_group_create(struct app *app, const struct req_meta *meta, const struct principal *actor,
                     uint64_t owner_uin, const char *name, const char *remark, uint64_t *ret_id,
                     struct be_diag *diag);
/* BE_GROUP_NOT_EXIST. */
int cam_group_get(struct app *app, uint64_t owner_uin, uint64_t group_id, struct cam_group *ret);
/* Groups whose name contains keyword (NULL: all), by id; malloc'd array. */
int cam_group_list(struct app *app, uint64_t owner_uin, const char *keyword, size_t offset,
                   size_t limit, struct cam_group **ret, size_t *ret_count, size_t *ret_total);
/* NULL name / remark: unchanged. BE_GROUP_NOT_EXIST, BE_GROUP_NAME_IN_USE. */
int cam_group_update(struct app *app, const struct req_meta *meta, const struct principal *actor,
                     uint64_t owner_uin, uint64_t group_id, const char *name, const char *remark,
                     struct be_diag *diag);
/* Deletes a group, its memberships and its attachments. BE_GROUP_NOT_EXIST. */
int cam_group_delete(struct app *app, const struct req_meta *meta, const struct principal *actor,
                     uint64_t owner_uin, uint64_t group_id, struct be_diag *diag);

/* One (group, user) pair of AddUserToGroup / RemoveUserFromGroup; the user
 * by uid or (when uid is 0) by uin. */
struct cam_membership {
    uint64_t group_id;
    uint64_t uid;
    uint64_t uin;
};

/* Adds every pair in one transaction (all or nothing); adding an existing
 * member is not an error. Errors: BE_UID_UIN_NULL, BE_PARAM_GROUP_NOT_EXIST,
 * BE_USER_NOT_EXIST, BE_GROUP_USER_FULL, BE_USER_GROUP_FULL. */
int cam_group_add_members(struct app *app, const struct req_meta *meta,
                          const struct principal *actor, uint64_t owner_uin,
                          const struct cam_membership *m, size_t n, struct be_diag *diag);
/* Removes every pair (absent pairs are ignored); errors as above. */
int cam_group_remove_members(struct app *app, const struct req_meta *meta,
                             const struct principal *actor, uint64_t owner_uin,
                             const struct cam_membership *m, size_t n, struct be_diag *diag);
/* Members of a group, by uid; malloc'd array. BE_GROUP_NOT_EXIST. */
int cam_group_members(struct app *app, uint64_t owner_uin, uint64_t group_id, size_t offset,
                      size_t limit, struct cam_user **ret, size_t *ret_count, size_t *ret_total);
/* Groups of a user (by uid), by id; malloc'd array. */
int cam_groups_of_user(struct app *app, uint64_t owner_uin, uint64_t uid, size_t offset,
                       size_t limit, struct cam_group **ret, size_t *ret_count, size_t *ret_total);

/* ---- Summary ---- */

struct cam_summary {
    uint64_t users; /* sub-users and collaborators */
    uint64_t groups;
    uint64_t members;  /* group memberships */
    uint64_t policies; /* custom policies */
};
int cam_summary_get(struct app *app, uint64_t owner_uin, struct cam_summary *ret);

#endif
