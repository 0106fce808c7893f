/* CAM 2019-01-16 actions on identities: sub-users, collaborators (with
 * Bindery's own AddCollaborator / DeleteCollaborator), user groups and the
 * account summary. Field names and types follow spec cam-and-api §3 and
 * Appendix A/B; docs/cam.md lists each action's CAM name and resource. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/cam_common.h"
#include "cam/accesskey.h"
#include "cam/directory.h"
#include "core/crypto.h"
#include "core/banned.h"

#define STR_MAX  1024 /* generous: the domain checks the real limits, with their codes */
#define INFO_MAX 50   /* pairs in one AddUserToGroup / RemoveUserFromGroup */

/* ---- JSON ---- */

static void set_u64(json_t *o, const char *field, uint64_t v)
{
    json_object_set_new(o, field, json_integer((json_int_t)v));
}

static void set_str(json_t *o, const char *field, const char *v)
{
    json_object_set_new(o, field, json_string(v ? v : ""));
}

/* SubAccountInfo (ListUsers, ListCollaborators). */
static json_t *sub_account_info(const struct cam_user *u)
{
    json_t *o = json_object();
    set_u64(o, "Uin", u->uin);
    set_str(o, "Name", u->name);
    set_u64(o, "Uid", u->uid);
    set_str(o, "Remark", u->remark);
    set_u64(o, "ConsoleLogin", u->console_login);
    set_str(o, "PhoneNum", u->phone_num);
    set_str(o, "CountryCode", u->country_code);
    set_str(o, "Email", u->email);
    api_set_time(o, "CreateTime", u->created_at);
    set_str(o, "NickName", u->name);
    return o;
}

/* GroupMemberInfo; UserType 1 marks a collaborator, 0 a sub-user. */
static json_t *member_info(const struct cam_user *u)
{
    json_t *o = json_object();
    set_u64(o, "Uid", u->uid);
    set_u64(o, "Uin", u->uin);
    set_str(o, "Name", u->name);
    set_str(o, "PhoneNum", u->phone_num);
    set_str(o, "CountryCode", u->country_code);
    set_u64(o, "PhoneFlag", 0);
    set_str(o, "Email", u->email);
    set_u64(o, "EmailFlag", 0);
    set_u64(o, "UserType", u->kind == CAM_USER_COLLABORATOR ? 1 : 0);
    api_set_time(o, "CreateTime", u->created_at);
    set_u64(o, "IsReceiverOwner", 0);
    set_str(o, "Remark", u->remark);
    return o;
}

static json_t *group_info(const struct cam_group *g)
{
    json_t *o = json_object();
    set_u64(o, "GroupId", g->group_id);
    set_str(o, "GroupName", g->name);
    api_set_time(o, "CreateTime", g->created_at);
    set_str(o, "Remark", g->remark);
    return o;
}

/* ---- resources ---- */

static int res_user_by_name(struct api_call *call, struct buf *out)
{
    cam_res_user(out, call->who->owner_uin, cam_uin_of_name(call, "Name"));
    return BE_OK;
}

static int res_collaborator(struct api_call *call, struct buf *out)
{
    cam_res_user(out, call->who->owner_uin, api_u64(call, "CollaboratorUin", 0));
    return BE_OK;
}

static int res_group(struct api_call *call, struct buf *out)
{
    cam_res_group(out, call->who->owner_uin, api_u64(call, "GroupId", 0));
    return BE_OK;
}

static uint64_t info_group(const struct api_call *call, size_t i)
{
    json_t *e = json_array_get(json_object_get(call->params, "Info"), i);
    json_t *g = json_object_get(e, "GroupId");
    return json_is_integer(g) && json_integer_value(g) > 0 ? (uint64_t)json_integer_value(g) : 0;
}

static int res_info_groups(struct api_call *call, struct buf *out)
{
    cam_res_group(out, call->who->owner_uin, info_group(call, 0));
    return BE_OK;
}

/* The user a ListGroupsForUser names: SubUin, or Uid, or the caller. */
static int for_user_uin(struct api_call *call, uint64_t *ret)
{
    struct cam_user u;
    if (api_has(call, "SubUin")) {
        *ret = api_u64(call, "SubUin", 0);
        return BE_OK;
    }
    if (api_has(call, "Uid")) {
        int rc = cam_user_get_by_uid(call->app, call->who->owner_uin, api_u64(call, "Uid", 0), &u);
        *ret = rc == BE_OK ? u.uin : 0;
        return BE_OK;
    }
    *ret = call->who->uin;
    return BE_OK;
}

static int res_for_user(struct api_call *call, struct buf *out)
{
    uint64_t uin = 0;
    for_user_uin(call, &uin);
    cam_res_user(out, call->who->owner_uin, uin);
    return BE_OK;
}

/* ---- users ---- */

static int flag(const struct api_call *call, const char *name)
{
    return api_has(call, name) ? (int)api_u64(call, name, 0) : -1;
}

static void user_input(const struct api_call *call, struct cam_user_input *in)
{
    in->name = api_str(call, "Name");
    in->remark = api_str(call, "Remark");
    in->password = api_str(call, "Password");
    in->phone_num = api_str(call, "PhoneNum");
    in->country_code = api_str(call, "CountryCode");
    in->email = api_str(call, "Email");
    in->console_login = flag(call, "ConsoleLogin");
    in->use_api = flag(call, "UseApi");
    in->need_reset_password = flag(call, "NeedResetPassword");
}

static int add_user(struct api_call *call)
{
    struct cam_user_input in;
    struct cam_user u;
    struct accesskey key;
    char password[CAM_GENERATED_PASSWORD_LEN + 1] = "";
    user_input(call, &in);
    memset(&key, 0, sizeof(key));
    int rc = cam_user_add(call->app, call->meta, call->who, call->who->owner_uin, &in, &u, password,
                          &key, &call->diag);
    if (rc)
        return rc;
    set_u64(call->out, "Uin", u.uin);
    set_str(call->out, "Name", u.name);
    set_str(call->out, "Password", password);
    set_str(call->out, "SecretId", key.secret_id);
    set_str(call->out, "SecretKey", key.secret_key);
    set_u64(call->out, "Uid", u.uid);
    crypto_wipe(&key, sizeof(key));
    crypto_wipe(password, sizeof(password));
    return BE_OK;
}

static int user_not_found(struct api_call *call, int rc, const char *name)
{
    if (rc == BE_USER_NOT_EXIST)
        return be_fail(&call->diag, rc, "no user named %s in this account", name);
    return rc;
}

static int get_user(struct api_call *call)
{
    struct cam_user u;
    const char *name = api_str(call, "Name");
    int rc = cam_user_get(call->app, call->who->owner_uin, name, &u);
    if (rc)
        return user_not_found(call, rc, name);
    set_u64(call->out, "Uin", u.uin);
    set_str(call->out, "Name", u.name);
    set_u64(call->out, "Uid", u.uid);
    set_str(call->out, "Remark", u.remark);
    set_u64(call->out, "ConsoleLogin", u.console_login);
    set_str(call->out, "PhoneNum", u.phone_num);
    set_str(call->out, "CountryCode", u.country_code);
    set_str(call->out, "Email", u.email);
    set_str(call->out, "RecentlyLoginIP", "");
    set_str(call->out, "RecentlyLoginTime", "");
    return BE_OK;
}

static int list_users(struct api_call *call)
{
    struct cam_user *users = NULL;
    size_t n = 0, total = 0;
    int rc = cam_user_list(call->app, call->who->owner_uin, CAM_USER_SUB, 0, CAM_USERS_MAX, &users,
                           &n, &total);
    if (rc)
        return rc;
    json_t *data = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(data, sub_account_info(&users[i]));
    json_object_set_new(call->out, "Data", data);
    free(users);
    return BE_OK;
}

static int update_user(struct api_call *call)
{
    struct cam_user_input in;
    user_input(call, &in);
    return cam_user_update(call->app, call->meta, call->who, call->who->owner_uin, &in,
                           &call->diag);
}

static int delete_user(struct api_call *call)
{
    const char *name = api_str(call, "Name");
    bool force = api_u64(call, "Force", 0) == 1;
    struct cam_user u;
    int rc = cam_user_get(call->app, call->who->owner_uin, name, &u);
    if (rc)
        return user_not_found(call, rc, name);
    if (force) {
        /* Deleting the keys with the user needs its own permission. */
        struct buf res = BUF_INIT;
        cam_res_user(&res, call->who->owner_uin, u.uin);
        rc = cam_check_also(call, "cam:DeleteApiKey", res.data);
        buf_release(&res);
        if (rc == BE_UNAUTHORIZED)
            return be_fail(&call->diag, BE_UNAUTH_DELETE_API_KEY,
                           "Force=1 deletes the API keys of %s, which needs cam:DeleteApiKey",
                           name);
        if (rc)
            return rc;
    }
    return cam_user_delete(call->app, call->meta, call->who, call->who->owner_uin, name, force,
                           &call->diag);
}

/* ---- collaborators ---- */

static int list_collaborators(struct api_call *call)
{
    struct cam_user *users = NULL;
    size_t n = 0, total = 0;
    int rc = cam_user_list(call->app, call->who->owner_uin, CAM_USER_COLLABORATOR,
                           (size_t)api_u64(call, "Offset", 0), (size_t)api_u64(call, "Limit", 20),
                           &users, &n, &total);
    if (rc)
        return rc;
    json_t *data = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(data, sub_account_info(&users[i]));
    set_u64(call->out, "TotalNum", total);
    json_object_set_new(call->out, "Data", data);
    free(users);
    return BE_OK;
}

static int add_collaborator(struct api_call *call)
{
    struct cam_user u;
    int rc = cam_collaborator_add(call->app, call->meta, call->who, call->who->owner_uin,
                                  api_u64(call, "CollaboratorUin", 0), api_str(call, "Name"),
                                  api_str(call, "Remark"), &u, &call->diag);
    if (rc)
        return rc;
    set_u64(call->out, "Uin", u.uin);
    set_str(call->out, "Name", u.name);
    set_u64(call->out, "Uid", u.uid);
    return BE_OK;
}

static int delete_collaborator(struct api_call *call)
{
    return cam_collaborator_delete(call->app, call->meta, call->who, call->who->owner_uin,
                                   api_u64(call, "CollaboratorUin", 0), &call->diag);
}

/* ---- groups ---- */

static int create_group(struct api_call *call)
{
    uint64_t id;
    int rc =
        cam_group_create(call->app, call->meta, call->who, call->who->owner_uin,
                         api_str(call, "GroupName"), api_str(call, "Remark"), &id, &call->diag);
    if (rc == BE_OK)
        set_u64(call->out, "GroupId", id);
    return rc;
}

static int group_not_found(struct api_call *call, int rc, uint64_t id)
{
    if (rc == BE_GROUP_NOT_EXIST)
        return be_fail(&call->diag, rc, "no group %llu in this account", (unsigned long long)id);
    return rc;
}

static int get_group(struct api_call *call)
{
    uint64_t id = api_u64(call, "GroupId", 0);
    struct cam_group g;
    struct cam_user *users = NULL;
    size_t n = 0, total = 0;
    int rc = cam_group_get(call->app, call->who->owner_uin, id, &g);
    if (rc == BE_OK)
        rc = cam_group_members(call->app, call->who->owner_uin, id, 0, CAM_GROUP_MEMBERS_MAX,
                               &users, &n, &total);
    if (rc)
        return group_not_found(call, rc, id);
    json_t *list = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(list, member_info(&users[i]));
    set_u64(call->out, "GroupId", g.group_id);
    set_str(call->out, "GroupName", g.name);
    set_u64(call->out, "GroupNum", total);
    set_str(call->out, "Remark", g.remark);
    api_set_time(call->out, "CreateTime", g.created_at);
    json_object_set_new(call->out, "UserInfo", list);
    free(users);
    return BE_OK;
}

static int list_groups(struct api_call *call)
{
    struct cam_group *groups = NULL;
    size_t offset, limit, n = 0, total = 0;
    cam_page(call, &offset, &limit);
    int rc = cam_group_list(call->app, call->who->owner_uin, api_str(call, "Keyword"), offset,
                            limit, &groups, &n, &total);
    if (rc)
        return rc;
    json_t *list = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(list, group_info(&groups[i]));
    set_u64(call->out, "TotalNum", total);
    json_object_set_new(call->out, "GroupInfo", list);
    free(groups);
    return BE_OK;
}

static int update_group(struct api_call *call)
{
    return cam_group_update(call->app, call->meta, call->who, call->who->owner_uin,
                            api_u64(call, "GroupId", 0), api_str(call, "GroupName"),
                            api_str(call, "Remark"), &call->diag);
}

static int delete_group(struct api_call *call)
{
    return cam_group_delete(call->app, call->meta, call->who, call->who->owner_uin,
                            api_u64(call, "GroupId", 0), &call->diag);
}

/* Reads Info[] into pairs, checking each element's shape and the CAM
 * permission on each further group. */
static int read_info(struct api_call *call, const char *cam_action, struct cam_membership **ret,
                     size_t *ret_n)
{
    json_t *info = json_object_get(call->params, "Info");
    size_t n = json_array_size(info);
    struct cam_membership *m = calloc(n ? n : 1, sizeof(*m));
    int rc = BE_OK;
    if (!m)
        abort();
    for (size_t i = 0; i < n && rc == BE_OK; i++) {
        json_t *e = json_array_get(info, i), *g, *uid, *uin;
        if (!json_is_object(e) || !json_is_integer(g = json_object_get(e, "GroupId")) ||
            json_integer_value(g) <= 0) {
            rc = be_fail(&call->diag, BE_INVALID_PARAMETER,
                         "Info[%zu] must be an object with a positive integer GroupId", i);
            break;
        }
        uid = json_object_get(e, "Uid");
        uin = json_object_get(e, "Uin");
        if ((uid && !json_is_null(uid) && (!json_is_integer(uid) || json_integer_value(uid) < 0)) ||
            (uin && !json_is_null(uin) && (!json_is_integer(uin) || json_integer_value(uin) < 0))) {
            rc = be_fail(&call->diag, BE_INVALID_PARAMETER,
                         "Info[%zu].Uid and Info[%zu].Uin must be unsigned integers", i, i);
            break;
        }
        m[i].group_id = (uint64_t)json_integer_value(g);
        m[i].uid = json_is_integer(uid) ? (uint64_t)json_integer_value(uid) : 0;
        m[i].uin = json_is_integer(uin) ? (uint64_t)json_integer_value(uin) : 0;
        if (i > 0 && m[i].group_id != m[0].group_id) {
            struct buf res = BUF_INIT;
            cam_res_group(&res, call->who->owner_uin, m[i].group_id);
            rc = cam_check_also(call, cam_action, res.data);
            buf_release(&res);
        }
    }
    if (rc) {
        free(m);
        return rc;
    }
    *ret = m;
    *ret_n = n;
    return BE_OK;
}

static int add_user_to_group(struct api_call *call)
{
    struct cam_membership *m;
    size_t n;
    int rc = read_info(call, "cam:AddUserToGroup", &m, &n);
    if (rc)
        return rc;
    rc = cam_group_add_members(call->app, call->meta, call->who, call->who->owner_uin, m, n,
                               &call->diag);
    free(m);
    return rc;
}

static int remove_user_from_group(struct api_call *call)
{
    struct cam_membership *m;
    size_t n;
    int rc = read_info(call, "cam:RemoveUserFromGroup", &m, &n);
    if (rc)
        return rc;
    rc = cam_group_remove_members(call->app, call->meta, call->who, call->who->owner_uin, m, n,
                                  &call->diag);
    free(m);
    return rc;
}

static int list_users_for_group(struct api_call *call)
{
    uint64_t id = api_u64(call, "GroupId", 0);
    struct cam_user *users = NULL;
    size_t offset, limit, n = 0, total = 0;
    cam_page(call, &offset, &limit);
    int rc =
        cam_group_members(call->app, call->who->owner_uin, id, offset, limit, &users, &n, &total);
    if (rc)
        return group_not_found(call, rc, id);
    json_t *list = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(list, member_info(&users[i]));
    set_u64(call->out, "TotalNum", total);
    json_object_set_new(call->out, "UserInfo", list);
    free(users);
    return BE_OK;
}

static int list_groups_for_user(struct api_call *call)
{
    uint64_t uin;
    struct cam_user u;
    struct cam_group *groups = NULL;
    size_t offset, limit, n = 0, total = 0;
    cam_page(call, &offset, &limit);
    int rc = for_user_uin(call, &uin);
    if (rc == BE_OK)
        rc = cam_user_get_by_uin(call->app, call->who->owner_uin, uin, &u);
    if (rc == BE_USER_NOT_EXIST)
        return be_fail(&call->diag, rc, "no such user in this account");
    if (rc == BE_OK)
        rc = cam_groups_of_user(call->app, call->who->owner_uin, u.uid, offset, limit, &groups, &n,
                                &total);
    if (rc)
        return rc;
    json_t *list = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(list, group_info(&groups[i]));
    set_u64(call->out, "TotalNum", total);
    json_object_set_new(call->out, "GroupInfo", list);
    free(groups);
    return BE_OK;
}

/* ---- summary ---- */

static int get_account_summary(struct api_call *call)
{
    struct cam_summary s;
    int rc = cam_summary_get(call->app, call->who->owner_uin, &s);
    if (rc)
        return rc;
    set_u64(call->out, "Policies", s.policies);
    set_u64(call->out, "Roles", 0);
    set_u64(call->out, "Idps", 0);
    set_u64(call->out, "User", s.users);
    set_u64(call->out, "Group", s.groups);
    set_u64(call->out, "Member", s.members);
    set_u64(call->out, "IdentityProviders", 0);
    return BE_OK;
}

/* ---- tables ---- */

#define END                                                                                        \
    {                                                                                              \
        NULL, 0, false, 0, 0                                                                       \
    }

static const struct api_param no_params[] = {END};

static const struct api_param add_user_params[] = {
    {"Name", API_STRING, true, 0, STR_MAX},      {"Remark", API_STRING, false, 0, STR_MAX},
    {"ConsoleLogin", API_UINT64, false, 0, 1},   {"UseApi", API_UINT64, false, 0, 1},
    {"Password", API_STRING, false, 0, STR_MAX}, {"NeedResetPassword", API_UINT64, false, 0, 1},
    {"PhoneNum", API_STRING, false, 0, STR_MAX}, {"CountryCode", API_STRING, false, 0, STR_MAX},
    {"Email", API_STRING, false, 0, STR_MAX},    END,
};

static const struct api_param name_params[] = {
    {"Name", API_STRING, true, 1, STR_MAX},
    END,
};

static const struct api_param delete_user_params[] = {
    {"Name", API_STRING, true, 1, STR_MAX},
    {"Force", API_UINT64, false, 0, 1},
    END,
};

static const struct api_param collaborators_params[] = {
    {"Limit", API_UINT64, false, 1, CAM_API_RP_MAX},
    {"Offset", API_UINT64, false, 0, CAM_USERS_MAX},
    END,
};

static const struct api_param add_collaborator_params[] = {
    {"CollaboratorUin", API_UINT64, true, 1, CAM_API_UIN_MAX},
    {"Name", API_STRING, false, 0, STR_MAX},
    {"Remark", API_STRING, false, 0, STR_MAX},
    END,
};

static const struct api_param collaborator_params[] = {
    {"CollaboratorUin", API_UINT64, true, 1, CAM_API_UIN_MAX},
    END,
};

static const struct api_param create_group_params[] = {
    {"GroupName", API_STRING, true, 0, STR_MAX},
    {"Remark", API_STRING, false, 0, STR_MAX},
    END,
};

static const struct api_param group_params[] = {
    {"GroupId", API_UINT64, true, 1, CAM_API_ID_MAX},
    END,
};

static const struct api_param update_group_params[] = {
    {"GroupId", API_UINT64, true, 1, CAM_API_ID_MAX},
    {"GroupName", API_STRING, false, 0, STR_MAX},
    {"Remark", API_STRING, false, 0, STR_MAX},
    END,
};

static const struct api_param list_groups_params[] = {
    {"Page", API_UINT64, false, 1, CAM_API_PAGE_MAX},
    {"Rp", API_UINT64, false, 1, CAM_API_RP_MAX},
    {"Keyword", API_STRING, false, 0, CAM_GROUP_NAME_MAX},
    END,
};

static const struct api_param info_params[] = {
    {"Info", API_ARRAY, true, 1, INFO_MAX},
    END,
};

static const struct api_param users_for_group_params[] = {
    {"GroupId", API_UINT64, true, 1, CAM_API_ID_MAX},
    {"Page", API_UINT64, false, 1, CAM_API_PAGE_MAX},
    {"Rp", API_UINT64, false, 1, CAM_API_RP_MAX},
    END,
};

static const struct api_param groups_for_user_params[] = {
    {"Uid", API_UINT64, false, 1, CAM_API_ID_MAX},
    {"Rp", API_UINT64, false, 1, CAM_API_RP_MAX},
    {"Page", API_UINT64, false, 1, CAM_API_PAGE_MAX},
    {"SubUin", API_UINT64, false, 1, CAM_API_UIN_MAX},
    END,
};

#define CAM(name, params, resource, run)                                                           \
    {                                                                                              \
        "cam", #name, CAM_API_VERSION, params, "cam:" #name, resource, run                         \
    }

const struct api_action api_cam_user_actions[] = {
    CAM(AddUser, add_user_params, NULL, add_user),
    CAM(GetUser, name_params, res_user_by_name, get_user),
    CAM(ListUsers, no_params, NULL, list_users),
    CAM(UpdateUser, add_user_params, res_user_by_name, update_user),
    CAM(DeleteUser, delete_user_params, res_user_by_name, delete_user),
    CAM(ListCollaborators, collaborators_params, NULL, list_collaborators),
    CAM(AddCollaborator, add_collaborator_params, res_collaborator, add_collaborator),
    CAM(DeleteCollaborator, collaborator_params, res_collaborator, delete_collaborator),
    CAM(CreateGroup, create_group_params, NULL, create_group),
    CAM(GetGroup, group_params, res_group, get_group),
    CAM(ListGroups, list_groups_params, NULL, list_groups),
    CAM(UpdateGroup, update_group_params, res_group, update_group),
    CAM(DeleteGroup, group_params, res_group, delete_group),
    CAM(AddUserToGroup, info_params, res_info_groups, add_user_to_group),
    CAM(RemoveUserFromGroup, info_params, res_info_groups, remove_user_from_group),
    CAM(ListUsersForGroup, users_for_group_params, res_group, list_users_for_group),
    CAM(ListGroupsForUser, groups_for_user_params, res_for_user, list_groups_for_user),
    CAM(GetAccountSummary, no_params, NULL, get_account_summary),
    {NULL, NULL, NULL, NULL, NULL, NULL, NULL},
};
