/* CAM 2019-01-16 actions on policies and their attachments to users and
 * groups (spec cam-and-api §3.3, Appendix A/B). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/cam_common.h"
#include "cam/directory.h"
#include "cam/policystore.h"
#include "core/banned.h"

/* Documents up to this many bytes reach the parser, which answers
 * PolicyDocumentLengthOverLimit past its own ceiling; the HTTP body limit
 * bounds it anyway. */
#define DOCUMENT_MAX (1024 * 1024)
#define STR_MAX      1024

static void set_u64(json_t *o, const char *field, uint64_t v)
{
    json_object_set_new(o, field, json_integer((json_int_t)v));
}

static void set_str(json_t *o, const char *field, const char *v)
{
    json_object_set_new(o, field, json_string(v ? v : ""));
}

/* CreateMode: presets were made by "business permission" (1), custom
 * policies from the policy syntax (2). */
static uint64_t create_mode(const struct cam_policy_info *p)
{
    return p->type == CAM_POLICY_PRESET ? 1 : 2;
}

static json_t *strategy_info(const struct cam_policy_info *p)
{
    json_t *o = json_object();
    set_u64(o, "PolicyId", p->id);
    set_str(o, "PolicyName", p->name);
    api_set_time(o, "AddTime", p->created_at);
    set_u64(o, "Type", (uint64_t)p->type);
    set_str(o, "Description", p->description);
    set_u64(o, "CreateMode", create_mode(p));
    set_u64(o, "Attachments", p->attachments);
    set_str(o, "ServiceType", p->service_type);
    set_u64(o, "IsServiceLinkedPolicy", 0);
    json_object_set_new(o, "AttachEntityCount", json_integer((json_int_t)p->attachments));
    api_set_time(o, "UpdateTime", p->updated_at ? p->updated_at : p->created_at);
    json_object_set_new(o, "Tags", json_array());
    return o;
}

static json_t *attach_policy_info(const struct cam_attached *a, uint64_t owner_uin)
{
    json_t *o = json_object();
    set_u64(o, "PolicyId", a->policy.id);
    set_str(o, "PolicyName", a->policy.name);
    api_set_time(o, "AddTime", a->attached_at);
    set_u64(o, "CreateMode", create_mode(&a->policy));
    set_str(o, "PolicyType", a->policy.type == CAM_POLICY_PRESET ? "QCS" : "User");
    set_str(o, "Remark", a->policy.description);
    api_set_uin_string(o, "OperateOwnerUin", owner_uin);
    api_set_uin_string(o, "OperateUin", a->operator_uin);
    set_u64(o, "OperateUinType", 0);
    set_u64(o, "Deactived", 0);
    json_object_set_new(o, "DeactivedDetail", json_array());
    return o;
}

/* ---- resources ---- */

static int res_policy(struct api_call *call, struct buf *out)
{
    uint64_t id = api_u64(call, "PolicyId", 0);
    if (!id && api_str(call, "PolicyName"))
        cam_policystore_find(call->app, call->who->owner_uin, api_str(call, "PolicyName"), &id);
    cam_res_policy(out, call->who->owner_uin, id);
    return BE_OK;
}

static uint64_t first_policy(const struct api_call *call, size_t i)
{
    json_t *v = json_array_get(json_object_get(call->params, "PolicyId"), i);
    return json_is_integer(v) && json_integer_value(v) > 0 ? (uint64_t)json_integer_value(v) : 0;
}

static int res_policies(struct api_call *call, struct buf *out)
{
    cam_res_policy(out, call->who->owner_uin, first_policy(call, 0));
    return BE_OK;
}

static int res_uin_param(struct api_call *call, struct buf *out, const char *param)
{
    cam_res_user(out, call->who->owner_uin, api_u64(call, param, 0));
    return BE_OK;
}

static int res_attach_uin(struct api_call *call, struct buf *out)
{
    return res_uin_param(call, out, "AttachUin");
}

static int res_detach_uin(struct api_call *call, struct buf *out)
{
    return res_uin_param(call, out, "DetachUin");
}

static int res_target_uin(struct api_call *call, struct buf *out)
{
    return res_uin_param(call, out, "TargetUin");
}

static int res_group_param(struct api_call *call, struct buf *out, const char *param)
{
    cam_res_group(out, call->who->owner_uin, api_u64(call, param, 0));
    return BE_OK;
}

static int res_attach_group(struct api_call *call, struct buf *out)
{
    return res_group_param(call, out, "AttachGroupId");
}

static int res_detach_group(struct api_call *call, struct buf *out)
{
    return res_group_param(call, out, "DetachGroupId");
}

static int res_target_group(struct api_call *call, struct buf *out)
{
    return res_group_param(call, out, "TargetGroupId");
}

/* ---- policies ---- */

static int policy_not_found(struct api_call *call, int rc, uint64_t id)
{
    if (rc == BE_POLICY_ID_NOT_FOUND)
        return be_fail(&call->diag, rc, "no policy %llu in this account", (unsigned long long)id);
    return rc;
}

static int create_policy(struct api_call *call)
{
    uint64_t id;
    int rc = cam_policystore_create(call->app, call->meta, call->who, call->who->owner_uin,
                                    api_str(call, "PolicyName"), api_str(call, "PolicyDocument"),
                                    api_str(call, "Description"), &id, &call->diag);
    if (rc == BE_OK)
        set_u64(call->out, "PolicyId", id);
    return rc;
}

static int get_policy(struct api_call *call)
{
    uint64_t id = api_u64(call, "PolicyId", 0);
    struct cam_policy_info p;
    int rc = cam_policystore_get(call->app, call->who->owner_uin, id, &p);
    if (rc)
        return policy_not_found(call, rc, id);
    set_str(call->out, "PolicyName", p.name);
    set_str(call->out, "Description", p.description);
    set_u64(call->out, "Type", (uint64_t)p.type);
    api_set_time(call->out, "AddTime", p.created_at);
    api_set_time(call->out, "UpdateTime", p.updated_at);
    set_str(call->out, "PolicyDocument", p.document);
    json_object_set_new(call->out, "PresetAlias",
                        p.type == CAM_POLICY_PRESET ? json_string(p.description) : json_null());
    set_u64(call->out, "IsServiceLinkedRolePolicy", 0);
    json_object_set_new(call->out, "Tags", json_array());
    cam_policy_info_release(&p);
    return BE_OK;
}

static int list_policies(struct api_call *call)
{
    const char *scope_s = api_str(call, "Scope");
    enum cam_scope scope = CAM_SCOPE_ALL;
    if (scope_s && !strcmp(scope_s, "QCS"))
        scope = CAM_SCOPE_QCS;
    else if (scope_s && !strcmp(scope_s, "Local"))
        scope = CAM_SCOPE_LOCAL;
    else if (scope_s && strcmp(scope_s, "All"))
        return be_fail(&call->diag, BE_SCOPE_ERROR, "Scope must be All, QCS or Local (got %s)",
                       scope_s);
    struct cam_policy_info *list = NULL;
    size_t offset, limit, n = 0, total = 0;
    cam_page(call, &offset, &limit);
    int rc = cam_policystore_list(call->app, call->who->owner_uin, scope, api_str(call, "Keyword"),
                                  offset, limit, &list, &n, &total);
    if (rc)
        return rc;
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, strategy_info(&list[i]));
    set_u64(call->out, "TotalNum", total);
    json_object_set_new(call->out, "List", arr);
    json_object_set_new(call->out, "ServiceTypeList", json_array());
    free(list);
    return BE_OK;
}

static int update_policy(struct api_call *call)
{
    uint64_t id = api_u64(call, "PolicyId", 0);
    const char *name = api_str(call, "PolicyName");
    const char *rename = NULL;
    int rc;
    if (!id && !name)
        return be_fail(&call->diag, BE_MISSING_PARAMETER, "PolicyId or PolicyName is required");
    if (id) {
        rename = name; /* with PolicyId, PolicyName is the new name */
    } else if ((rc = cam_policystore_find(call->app, call->who->owner_uin, name, &id))) {
        return rc == BE_POLICY_ID_NOT_FOUND
                   ? be_fail(&call->diag, rc, "no policy named %s in this account", name)
                   : rc;
    }
    rc = cam_policystore_update(call->app, call->meta, call->who, call->who->owner_uin, id, rename,
                                api_str(call, "Description"), api_str(call, "PolicyDocument"),
                                &call->diag);
    if (rc == BE_OK)
        set_u64(call->out, "PolicyId", id);
    return policy_not_found(call, rc, id);
}

static int delete_policy(struct api_call *call)
{
    json_t *ids = json_object_get(call->params, "PolicyId");
    size_t n = json_array_size(ids);
    uint64_t *list = calloc(n ? n : 1, sizeof(*list));
    int rc = BE_OK;
    if (!list)
        abort();
    for (size_t i = 0; i < n && rc == BE_OK; i++) {
        list[i] = first_policy(call, i);
        if (!list[i]) {
            rc = be_fail(&call->diag, BE_POLICY_ID_ERROR,
                         "PolicyId[%zu] must be a positive integer", i);
        } else if (i > 0) {
            struct buf res = BUF_INIT;
            cam_res_policy(&res, call->who->owner_uin, list[i]);
            rc = cam_check_also(call, "cam:DeletePolicy", res.data);
            buf_release(&res);
        }
    }
    if (rc == BE_OK)
        rc = cam_policystore_delete(call->app, call->meta, call->who, call->who->owner_uin, list, n,
                                    &call->diag);
    free(list);
    return rc;
}

/* ---- attachments ---- */

/* The Uid of the owner's user with this UIN. */
static int uid_of(struct api_call *call, uint64_t uin, uint64_t *ret)
{
    struct cam_user u;
    int rc = cam_user_get_by_uin(call->app, call->who->owner_uin, uin, &u);
    if (rc == BE_USER_NOT_EXIST)
        return be_fail(&call->diag, rc, "no user with uin %llu in this account",
                       (unsigned long long)uin);
    if (rc == BE_OK)
        *ret = u.uid;
    return rc;
}

static int user_attachment(struct api_call *call, const char *uin_param, bool attach)
{
    uint64_t uid;
    int rc = uid_of(call, api_u64(call, uin_param, 0), &uid);
    if (rc)
        return rc;
    return (attach ? cam_attach : cam_detach)(call->app, call->meta, call->who,
                                              call->who->owner_uin, api_u64(call, "PolicyId", 0),
                                              CAM_ENTITY_USER, uid, &call->diag);
}

static int attach_user_policy(struct api_call *call)
{
    return user_attachment(call, "AttachUin", true);
}

static int detach_user_policy(struct api_call *call)
{
    return user_attachment(call, "DetachUin", false);
}

static int attach_group_policy(struct api_call *call)
{
    return cam_attach(call->app, call->meta, call->who, call->who->owner_uin,
                      api_u64(call, "PolicyId", 0), CAM_ENTITY_GROUP,
                      api_u64(call, "AttachGroupId", 0), &call->diag);
}

static int detach_group_policy(struct api_call *call)
{
    return cam_detach(call->app, call->meta, call->who, call->who->owner_uin,
                      api_u64(call, "PolicyId", 0), CAM_ENTITY_GROUP,
                      api_u64(call, "DetachGroupId", 0), &call->diag);
}

/* Lists AttachPolicyInfo of an entity, paged. */
static int list_attached(struct api_call *call, enum cam_entity_kind kind, uint64_t id)
{
    struct cam_attached *items = NULL;
    size_t offset, limit, n = 0;
    cam_page(call, &offset, &limit);
    int rc = cam_attached_list(call->app, call->who->owner_uin, kind, id, 1,
                               api_str(call, "Keyword"), &items, &n);
    if (rc)
        return rc;
    json_t *arr = json_array();
    for (size_t i = offset; i < n && i - offset < limit; i++)
        json_array_append_new(arr, attach_policy_info(&items[i], call->who->owner_uin));
    set_u64(call->out, "TotalNum", n);
    json_object_set_new(call->out, "List", arr);
    free(items);
    return BE_OK;
}

static int list_attached_user_policies(struct api_call *call)
{
    uint64_t uid;
    int rc = uid_of(call, api_u64(call, "TargetUin", 0), &uid);
    return rc ? rc : list_attached(call, CAM_ENTITY_USER, uid);
}

static int list_attached_group_policies(struct api_call *call)
{
    uint64_t id = api_u64(call, "TargetGroupId", 0);
    struct cam_group g;
    int rc = cam_group_get(call->app, call->who->owner_uin, id, &g);
    if (rc == BE_GROUP_NOT_EXIST)
        return be_fail(&call->diag, rc, "no group %llu in this account", (unsigned long long)id);
    return rc ? rc : list_attached(call, CAM_ENTITY_GROUP, id);
}

/* AttachedUserPolicy: one entry per policy, with the groups it comes
 * through. items is ordered by policy id. */
static int list_attached_user_all_policies(struct api_call *call)
{
    uint64_t uid, type = api_u64(call, "StrategyType", 0);
    struct cam_attached *items = NULL;
    size_t offset, limit, n = 0, total = 0;
    int rc = uid_of(call, api_u64(call, "TargetUin", 0), &uid);
    if (rc)
        return rc;
    cam_page(call, &offset, &limit);
    rc = cam_attached_list(call->app, call->who->owner_uin, CAM_ENTITY_USER, uid,
                           (int)api_u64(call, "AttachType", 0), api_str(call, "Keyword"), &items,
                           &n);
    if (rc)
        return rc;
    json_t *arr = json_array();
    for (size_t i = 0; i < n;) {
        size_t j = i;
        bool keep = !type || (uint64_t)items[i].policy.type == type;
        json_t *groups = json_array(), *o = NULL;
        for (; j < n && items[j].policy.id == items[i].policy.id; j++) {
            if (!items[j].group_id)
                continue;
            json_t *g = json_object();
            set_u64(g, "GroupId", items[j].group_id);
            set_str(g, "GroupName", items[j].group_name);
            json_array_append_new(groups, g);
        }
        if (keep && total >= offset && total - offset < limit) {
            char id[24], st[4], cm[4];
            snprintf(id, sizeof(id), "%llu", (unsigned long long)items[i].policy.id);
            snprintf(st, sizeof(st), "%d", (int)items[i].policy.type);
            snprintf(cm, sizeof(cm), "%llu", (unsigned long long)create_mode(&items[i].policy));
            o = json_object();
            set_str(o, "PolicyId", id);
            set_str(o, "PolicyName", items[i].policy.name);
            set_str(o, "Description", items[i].policy.description);
            api_set_time(o, "AddTime", items[i].attached_at);
            set_str(o, "StrategyType", st);
            set_str(o, "CreateMode", cm);
            json_object_set(o, "Groups", groups);
            set_u64(o, "Deactived", 0);
            json_object_set_new(o, "DeactivedDetail", json_array());
            json_array_append_new(arr, o);
        }
        json_decref(groups);
        total += keep;
        i = j;
    }
    json_object_set_new(call->out, "PolicyList", arr);
    set_u64(call->out, "TotalNum", total);
    free(items);
    return BE_OK;
}

/* ---- tables ---- */

#define END                                                                                        \
    {                                                                                              \
        NULL, 0, false, 0, 0                                                                       \
    }

static const struct api_param create_params[] = {
    {"PolicyName", API_STRING, true, 0, STR_MAX},
    {"PolicyDocument", API_STRING, true, 0, DOCUMENT_MAX},
    {"Description", API_STRING, false, 0, DOCUMENT_MAX},
    END,
};

static const struct api_param policy_id_params[] = {
    {"PolicyId", API_UINT64, true, 1, CAM_API_ID_MAX},
    END,
};

static const struct api_param list_params[] = {
    {"Rp", API_UINT64, false, 1, CAM_API_RP_MAX},
    {"Page", API_UINT64, false, 1, CAM_API_PAGE_MAX},
    {"Scope", API_STRING, false, 0, 16},
    {"Keyword", API_STRING, false, 0, CAM_POLICY_NAME_MAX},
    END,
};

static const struct api_param update_params[] = {
    {"PolicyId", API_UINT64, false, 1, CAM_API_ID_MAX},
    {"PolicyName", API_STRING, false, 0, STR_MAX},
    {"Description", API_STRING, false, 0, DOCUMENT_MAX},
    {"PolicyDocument", API_STRING, false, 0, DOCUMENT_MAX},
    END,
};

static const struct api_param delete_params[] = {
    {"PolicyId", API_ARRAY, true, 1, CAM_POLICY_DELETE_MAX},
    END,
};

static const struct api_param attach_user_params[] = {
    {"PolicyId", API_UINT64, true, 1, CAM_API_ID_MAX},
    {"AttachUin", API_UINT64, true, 1, CAM_API_UIN_MAX},
    END,
};

static const struct api_param detach_user_params[] = {
    {"PolicyId", API_UINT64, true, 1, CAM_API_ID_MAX},
    {"DetachUin", API_UINT64, true, 1, CAM_API_UIN_MAX},
    END,
};

static const struct api_param attach_group_params[] = {
    {"PolicyId", API_UINT64, true, 1, CAM_API_ID_MAX},
    {"AttachGroupId", API_UINT64, true, 1, CAM_API_ID_MAX},
    END,
};

static const struct api_param detach_group_params[] = {
    {"PolicyId", API_UINT64, true, 1, CAM_API_ID_MAX},
    {"DetachGroupId", API_UINT64, true, 1, CAM_API_ID_MAX},
    END,
};

static const struct api_param attached_user_params[] = {
    {"TargetUin", API_UINT64, true, 1, CAM_API_UIN_MAX},
    {"Page", API_UINT64, false, 1, CAM_API_PAGE_MAX},
    {"Rp", API_UINT64, false, 1, CAM_API_RP_MAX},
    END,
};

static const struct api_param attached_group_params[] = {
    {"TargetGroupId", API_UINT64, true, 1, CAM_API_ID_MAX},
    {"Page", API_UINT64, false, 1, CAM_API_PAGE_MAX},
    {"Rp", API_UINT64, false, 1, CAM_API_RP_MAX},
    {"Keyword", API_STRING, false, 0, CAM_POLICY_NAME_MAX},
    END,
};

static const struct api_param attached_all_params[] = {
    {"TargetUin", API_UINT64, true, 1, CAM_API_UIN_MAX},
    {"Rp", API_UINT64, true, 1, CAM_API_RP_MAX},
    {"Page", API_UINT64, true, 1, CAM_API_PAGE_MAX},
    {"AttachType", API_UINT64, true, 0, 2},
    {"StrategyType", API_UINT64, false, 0, 2},
    {"Keyword", API_STRING, false, 0, CAM_POLICY_NAME_MAX},
    END,
};

#define CAM(name, params, resource, run)                                                           \
    {                                                                                              \
        "cam", #name, CAM_API_VERSION, params, "cam:" #name, resource, run                         \
    }

const struct api_action api_cam_policy_actions[] = {
    CAM(CreatePolicy, create_params, NULL, create_policy),
    CAM(GetPolicy, policy_id_params, res_policy, get_policy),
    CAM(ListPolicies, list_params, NULL, list_policies),
    CAM(UpdatePolicy, update_params, res_policy, update_policy),
    CAM(DeletePolicy, delete_params, res_policies, delete_policy),
    CAM(AttachUserPolicy, attach_user_params, res_attach_uin, attach_user_policy),
    CAM(DetachUserPolicy, detach_user_params, res_detach_uin, detach_user_policy),
    CAM(ListAttachedUserPolicies, attached_user_params, res_target_uin,
        list_attached_user_policies),
    CAM(AttachGroupPolicy, attach_group_params, res_attach_group, attach_group_policy),
    CAM(DetachGroupPolicy, detach_group_params, res_detach_group, detach_group_policy),
    CAM(ListAttachedGroupPolicies, attached_group_params, res_target_group,
        list_attached_group_policies),
    CAM(ListAttachedUserAllPolicies, attached_all_params, res_target_uin,
        list_attached_user_all_policies),
    {NULL, NULL, NULL, NULL, NULL, NULL, NULL},
};
