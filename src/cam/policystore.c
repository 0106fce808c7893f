#include "cam/policystore.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "audit/audit.h"
#include "cam/cache.h"
#include "core/mem.h"
#include "core/banned.h"

/* The API's PolicyId of a custom policy is its row id + this. */
#define ID_BASE CAM_PRESET_ID_MAX

void cam_policy_info_release(struct cam_policy_info *info)
{
    if (!info)
        return;
    free(info->document);
    info->document = NULL;
}

int cam_policy_check_name(const char *name, struct be_diag *diag)
{
    size_t len = name ? strlen(name) : 0;
    if (len == 0 || len > CAM_POLICY_NAME_MAX)
        return be_fail(diag, BE_POLICY_NAME_ERROR, "PolicyName must be 1 to %d characters",
                       CAM_POLICY_NAME_MAX);
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              strchr("+=,.@_-", c)))
            return be_fail(diag, BE_POLICY_NAME_ERROR,
                           "PolicyName may contain only letters, digits and +=,.@_- (got \"%s\")",
                           name);
    }
    return BE_OK;
}

/* The BE_* error whose API code is code (the parser's spec codes are all in
 * the table); BE_POLICY_DOCUMENT_ERROR if none. */
static int error_of_code(const char *code)
{
    for (int e = BE__BASE + 1; e < BE__END; e++)
        if (!strcmp(be_err_code(e), code))
            return e;
    return BE_POLICY_DOCUMENT_ERROR;
}

int cam_policy_validate(const char *document, struct be_diag *diag)
{
    struct cam_policy *p = NULL;
    struct cam_policy_error perr;
    if (cam_policy_parse(document, strlen(document), &p, &perr) == BE_OK) {
        cam_policy_free(p);
        return BE_OK;
    }
    if (perr.line)
        return be_fail(diag, error_of_code(perr.code), "PolicyDocument line %d column %d: %s",
                       perr.line, perr.column, perr.message);
    return be_fail(diag, error_of_code(perr.code), "PolicyDocument: %s", perr.message);
}

static int check_description(const char *d, struct be_diag *diag)
{
    if (d && strlen(d) > CAM_POLICY_DESCRIPTION_MAX)
        return be_fail(diag, BE_DESCRIPTION_TOO_LONG, "Description must be at most %d bytes",
                       CAM_POLICY_DESCRIPTION_MAX);
    return BE_OK;
}

static void preset_info(const struct cam_preset *p, struct cam_policy_info *ret)
{
    memset(ret, 0, sizeof(*ret));
    ret->id = p->id;
    ret->type = CAM_POLICY_PRESET;
    snprintf(ret->name, sizeof(ret->name), "%s", p->name);
    snprintf(ret->description, sizeof(ret->description), "%s", p->description);
    snprintf(ret->service_type, sizeof(ret->service_type), "%s", p->service_type);
}

#define POLICY_COLS                                                                                \
    "p.id, p.owner_uin, p.name, p.description, p.created_at, p.updated_at,"                        \
    " (SELECT COUNT(*) FROM cam_attachments a WHERE a.owner_uin = p.owner_uin"                     \
    " AND a.policy_id = p.id + 999)"

static void row_to_info(const struct store_result *r, size_t i, struct cam_policy_info *ret)
{
    memset(ret, 0, sizeof(*ret));
    ret->id = (uint64_t)store_result_i64(r, i, 0) + ID_BASE;
    ret->owner_uin = (uint64_t)store_result_i64(r, i, 1);
    ret->type = CAM_POLICY_CUSTOM;
    snprintf(ret->name, sizeof(ret->name), "%s", store_result_text(r, i, 2));
    snprintf(ret->description, sizeof(ret->description), "%s", store_result_text(r, i, 3));
    ret->created_at = store_result_i64(r, i, 4);
    ret->updated_at = store_result_i64(r, i, 5);
    ret->attachments = (uint64_t)store_result_i64(r, i, 6);
}

static int count_of(struct store_conn *c, const char *sql, const struct store_val *p, size_t n,
                    int64_t *ret)
{
    struct store_result *r = NULL;
    int rc = store_query(c, sql, p, n, &r);
    if (rc == BE_OK)
        *ret = store_result_i64(r, 0, 0);
    store_result_free(r);
    return rc;
}

static int audit_in(struct store_conn *c, const struct req_meta *meta,
                    const struct principal *actor, const char *action, const char *detail)
{
    struct audit_entry e = {actor->owner_uin, actor->uin, action, "success", detail};
    return audit_record(c, meta, &e);
}

/* ---- create / update / delete ---- */

struct write_ctx {
    const struct req_meta *meta;
    const struct principal *actor;
    uint64_t owner_uin, id;
    const char *name, *document, *description;
};

static int name_in_use(struct store_conn *c, uint64_t owner_uin, const char *name,
                       int64_t except_row)
{
    int64_t n = 0;
    if (cam_preset_by_name(name))
        return BE_POLICY_NAME_IN_USE;
    int rc = count_of(c,
                      "SELECT COUNT(*) FROM cam_policies WHERE owner_uin = $1 AND name = $2"
                      " AND id <> $3",
                      SV_ARGS(SV_I64(owner_uin), SV_TEXT(name), SV_I64(except_row)), &n);
    return rc ? rc : n ? BE_POLICY_NAME_IN_USE : BE_OK;
}

static int create_fn(struct store_conn *c, void *arg)
{
    struct write_ctx *ctx = arg;
    struct store_result *r = NULL;
    int64_t n = 0;
    int rc;
    if ((rc = cam_gen_bump(c, ctx->owner_uin)) ||
        (rc = count_of(c, "SELECT COUNT(*) FROM cam_policies WHERE owner_uin = $1",
                       SV_ARGS(SV_I64(ctx->owner_uin)), &n)))
        return rc;
    if (n >= CAM_CUSTOM_POLICIES_MAX)
        return BE_POLICY_FULL;
    if ((rc = name_in_use(c, ctx->owner_uin, ctx->name, 0)))
        return rc;
    rc = store_query(c,
                     "INSERT INTO cam_policies (owner_uin, name, description, document,"
                     " created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5) RETURNING id",
                     SV_ARGS(SV_I64(ctx->owner_uin), SV_TEXT(ctx->name),
                             SV_TEXT(ctx->description ? ctx->description : ""),
                             SV_TEXT(ctx->document), SV_I64(ctx->meta->now)),
                     &r);
    if (rc == BE_OK)
        ctx->id = (uint64_t)store_result_i64(r, 0, 0) + ID_BASE;
    store_result_free(r);
    return rc ? rc : audit_in(c, ctx->meta, ctx->actor, "cam:CreatePolicy", ctx->name);
}

static int write_error(int rc, const struct write_ctx *ctx, struct be_diag *diag)
{
    switch (rc) {
    case BE_POLICY_FULL:
        return be_fail(diag, rc, "this account already has %d custom policies",
                       CAM_CUSTOM_POLICIES_MAX);
    case BE_POLICY_NAME_IN_USE:
        return be_fail(diag, rc, "a policy named %s already exists", ctx->name);
    case BE_POLICY_ID_NOT_FOUND:
        return be_fail(diag, rc, "no policy %llu in this account", (unsigned long long)ctx->id);
    case BE_UNMODIFIABLE:
        return be_fail(diag, rc, "policy %llu is a preset policy and cannot be changed",
                       (unsigned long long)ctx->id);
    default:
        return rc;
    }
}

int cam_policystore_create(struct app *app, const struct req_meta *meta,
                           const struct principal *actor, uint64_t owner_uin, const char *name,
                           const char *document, const char *description, uint64_t *ret_id,
                           struct be_diag *diag)
{
    int rc;
    if ((rc = cam_policy_check_name(name, diag)) || (rc = check_description(description, diag)) ||
        (rc = cam_policy_validate(document, diag)))
        return rc;
    struct write_ctx ctx = {meta, actor, owner_uin, 0, name, document, description};
    rc = write_error(store_tx(app->store, create_fn, &ctx), &ctx, diag);
    if (rc == BE_OK)
        *ret_id = ctx.id;
    return rc;
}

/* Inside a transaction: the row of custom policy id of the owner (its
 * current name into ret_name), BE_UNMODIFIABLE for a preset,
 * BE_POLICY_ID_NOT_FOUND otherwise. */
static int custom_row(struct store_conn *c, uint64_t owner_uin, uint64_t id, char *ret_name,
                      size_t name_size)
{
    if (id <= ID_BASE)
        return cam_preset_by_id(id) ? BE_UNMODIFIABLE : BE_POLICY_ID_NOT_FOUND;
    struct store_result *r = NULL;
    int rc = store_query(c, "SELECT name FROM cam_policies WHERE id = $1 AND owner_uin = $2",
                         SV_ARGS(SV_I64(id - ID_BASE), SV_I64(owner_uin)), &r);
    if (rc == BE_OK && !store_result_rows(r))
        rc = BE_POLICY_ID_NOT_FOUND;
    if (rc == BE_OK && ret_name)
        snprintf(ret_name, name_size, "%s", store_result_text(r, 0, 0));
    store_result_free(r);
    return rc;
}

static int update_fn(struct store_conn *c, void *arg)
{
    struct write_ctx *ctx = arg;
    char name[CAM_POLICY_NAME_MAX + 1];
    int rc;
    if ((rc = cam_gen_bump(c, ctx->owner_uin)) ||
        (rc = custom_row(c, ctx->owner_uin, ctx->id, name, sizeof(name))))
        return rc;
    if (ctx->name && (rc = name_in_use(c, ctx->owner_uin, ctx->name, (int64_t)(ctx->id - ID_BASE))))
        return rc;
    rc = store_exec(c,
                    "UPDATE cam_policies SET name = COALESCE($3, name),"
                    " description = COALESCE($4, description), document = COALESCE($5, document),"
                    " version = version + $6, updated_at = $7 WHERE id = $1 AND owner_uin = $2",
                    SV_ARGS(SV_I64(ctx->id - ID_BASE), SV_I64(ctx->owner_uin), SV_TEXT(ctx->name),
                            SV_TEXT(ctx->description), SV_TEXT(ctx->document),
                            SV_I64(ctx->document ? 1 : 0), SV_I64(ctx->meta->now)),
                    NULL);
    return rc ? rc : audit_in(c, ctx->meta, ctx->actor, "cam:UpdatePolicy", name);
}

int cam_policystore_update(struct app *app, const struct req_meta *meta,
                           const struct principal *actor, uint64_t owner_uin, uint64_t id,
                           const char *name, const char *description, const char *document,
                           struct be_diag *diag)
{
    int rc;
    if ((name && (rc = cam_policy_check_name(name, diag))) ||
        (rc = check_description(description, diag)) ||
        (document && (rc = cam_policy_validate(document, diag))))
        return rc;
    struct write_ctx ctx = {meta, actor, owner_uin, id, name, document, description};
    return write_error(store_tx(app->store, update_fn, &ctx), &ctx, diag);
}

struct delete_ctx {
    const struct req_meta *meta;
    const struct principal *actor;
    uint64_t owner_uin;
    const uint64_t *ids;
    size_t n;
    uint64_t failed_id;
};

static int delete_fn(struct store_conn *c, void *arg)
{
    struct delete_ctx *ctx = arg;
    char name[CAM_POLICY_NAME_MAX + 1];
    int rc = cam_gen_bump(c, ctx->owner_uin);
    for (size_t i = 0; rc == BE_OK && i < ctx->n; i++) {
        uint64_t id = ctx->ids[i];
        ctx->failed_id = id;
        if ((rc = custom_row(c, ctx->owner_uin, id, name, sizeof(name))))
            break;
        struct store_val p[] = {SV_I64(ctx->owner_uin), SV_I64(id)};
        if ((rc = store_exec(c,
                             "DELETE FROM cam_attachments WHERE owner_uin = $1 AND policy_id = $2",
                             p, 2, NULL)))
            break;
        rc = store_exec(c, "DELETE FROM cam_policies WHERE owner_uin = $1 AND id = $2",
                        SV_ARGS(SV_I64(ctx->owner_uin), SV_I64(id - ID_BASE)), NULL);
        if (rc == BE_OK)
            rc = audit_in(c, ctx->meta, ctx->actor, "cam:DeletePolicy", name);
    }
    return rc;
}

int cam_policystore_delete(struct app *app, const struct req_meta *meta,
                           const struct principal *actor, uint64_t owner_uin, const uint64_t *ids,
                           size_t n, struct be_diag *diag)
{
    if (n == 0 || n > CAM_POLICY_DELETE_MAX)
        return be_fail(diag, BE_OPERATE_POLICIES_OVER_LIMIT, "PolicyId must list 1 to %d policies",
                       CAM_POLICY_DELETE_MAX);
    struct delete_ctx ctx = {meta, actor, owner_uin, ids, n, 0};
    int rc = store_tx(app->store, delete_fn, &ctx);
    struct write_ctx w = {meta, actor, owner_uin, ctx.failed_id, NULL, NULL, NULL};
    return write_error(rc, &w, diag);
}

/* ---- reads ---- */

struct get_ctx {
    uint64_t owner_uin, id;
    const char *name;
    struct cam_policy_info info;
};

static int get_fn(struct store_conn *c, void *arg)
{
    struct get_ctx *ctx = arg;
    struct store_result *r = NULL;
    int rc = ctx->name
                 ? store_query(c,
                               "SELECT " POLICY_COLS ", p.document FROM cam_policies p"
                               " WHERE p.name = $1 AND p.owner_uin = $2",
                               SV_ARGS(SV_TEXT(ctx->name), SV_I64(ctx->owner_uin)), &r)
                 : store_query(c,
                               "SELECT " POLICY_COLS ", p.document FROM cam_policies p"
                               " WHERE p.id = $1 AND p.owner_uin = $2",
                               SV_ARGS(SV_I64(ctx->id - ID_BASE), SV_I64(ctx->owner_uin)), &r);
    if (rc == BE_OK && !store_result_rows(r))
        rc = BE_POLICY_ID_NOT_FOUND;
    if (rc == BE_OK) {
        free(ctx->info.document);
        row_to_info(r, 0, &ctx->info);
        ctx->info.document = xstrdup(store_result_text(r, 0, 7));
    }
    store_result_free(r);
    return rc;
}

int cam_policystore_get(struct app *app, uint64_t owner_uin, uint64_t id,
                        struct cam_policy_info *ret)
{
    if (id <= ID_BASE) {
        const struct cam_preset *p = cam_preset_by_id(id);
        if (!p)
            return BE_POLICY_ID_NOT_FOUND;
        preset_info(p, ret);
        ret->document = xstrdup(p->document);
        return BE_OK;
    }
    struct get_ctx ctx = {owner_uin, id, NULL, {0}};
    int rc = store_run(app->store, get_fn, &ctx);
    if (rc) {
        cam_policy_info_release(&ctx.info);
        return rc;
    }
    *ret = ctx.info;
    return BE_OK;
}

int cam_policystore_find(struct app *app, uint64_t owner_uin, const char *name, uint64_t *ret_id)
{
    struct get_ctx ctx = {owner_uin, 0, name, {0}};
    int rc = store_run(app->store, get_fn, &ctx);
    cam_policy_info_release(&ctx.info);
    if (rc == BE_OK) {
        *ret_id = ctx.info.id;
        return BE_OK;
    }
    const struct cam_preset *p = rc == BE_POLICY_ID_NOT_FOUND ? cam_preset_by_name(name) : NULL;
    if (p)
        *ret_id = p->id;
    return p ? BE_OK : rc;
}

static bool name_matches(const char *name, const char *keyword)
{
    return !keyword || !*keyword || strcasestr(name, keyword);
}

struct list_ctx {
    uint64_t owner_uin;
    const char *keyword;
    struct cam_policy_info *items;
    size_t n;
};

static int list_fn(struct store_conn *c, void *arg)
{
    struct list_ctx *ctx = arg;
    struct store_result *r = NULL;
    free(ctx->items);
    ctx->items = NULL;
    ctx->n = 0;
    int rc = store_query(c,
                         "SELECT " POLICY_COLS " FROM cam_policies p WHERE p.owner_uin = $1"
                         " ORDER BY p.id",
                         SV_ARGS(SV_I64(ctx->owner_uin)), &r);
    if (rc)
        return rc;
    size_t rows = store_result_rows(r);
    ctx->items = xcalloc(rows ? rows : 1, sizeof(*ctx->items));
    for (size_t i = 0; i < rows; i++) {
        struct cam_policy_info info;
        row_to_info(r, i, &info);
        if (name_matches(info.name, ctx->keyword))
            ctx->items[ctx->n++] = info;
    }
    store_result_free(r);
    return BE_OK;
}

/* How many entities of the owner each preset is attached to. */
struct preset_counts_ctx {
    uint64_t owner_uin;
    uint64_t counts[CAM_PRESET_ID_MAX + 1];
};

static int preset_counts_fn(struct store_conn *c, void *arg)
{
    struct preset_counts_ctx *ctx = arg;
    struct store_result *r = NULL;
    memset(ctx->counts, 0, sizeof(ctx->counts));
    int rc = store_query(c,
                         "SELECT policy_id, COUNT(*) FROM cam_attachments WHERE owner_uin = $1"
                         " AND policy_id <= $2 GROUP BY policy_id",
                         SV_ARGS(SV_I64(ctx->owner_uin), SV_I64(ID_BASE)), &r);
    for (size_t i = 0; rc == BE_OK && i < store_result_rows(r); i++) {
        uint64_t id = (uint64_t)store_result_i64(r, i, 0);
        if (id <= ID_BASE)
            ctx->counts[id] = (uint64_t)store_result_i64(r, i, 1);
    }
    store_result_free(r);
    return rc;
}

int cam_policystore_list(struct app *app, uint64_t owner_uin, enum cam_scope scope,
                         const char *keyword, size_t offset, size_t limit,
                         struct cam_policy_info **ret, size_t *ret_count, size_t *ret_total)
{
    struct list_ctx custom = {owner_uin, keyword, NULL, 0};
    struct preset_counts_ctx *pc = xcalloc(1, sizeof(*pc));
    int rc = BE_OK;
    pc->owner_uin = owner_uin;
    if (scope != CAM_SCOPE_QCS && (rc = store_run(app->store, list_fn, &custom)))
        goto out;
    if (scope != CAM_SCOPE_LOCAL && (rc = store_run(app->store, preset_counts_fn, pc)))
        goto out;
    size_t npresets = 0;
    for (const struct cam_preset *p = cam_presets; p->name; p++)
        npresets++;
    size_t total = custom.n + (scope == CAM_SCOPE_LOCAL ? 0 : npresets);
    struct cam_policy_info *all = xcalloc(total ? total : 1, sizeof(*all));
    size_t n = 0;
    for (const struct cam_preset *p = cam_presets; scope != CAM_SCOPE_LOCAL && p->name; p++) {
        if (!name_matches(p->name, keyword))
            continue;
        preset_info(p, &all[n]);
        all[n++].attachments = pc->counts[p->id];
    }
    for (size_t i = 0; i < custom.n; i++)
        all[n++] = custom.items[i];
    size_t first = offset < n ? offset : n;
    size_t count = n - first < limit ? n - first : limit;
    memmove(all, all + first, count * sizeof(*all));
    *ret = all;
    *ret_count = count;
    *ret_total = n;
out:
    free(custom.items);
    free(pc);
    return rc;
}

/* ---- attachments ---- */

struct attach_ctx {
    const struct req_meta *meta;
    const struct principal *actor;
    uint64_t owner_uin, policy_id;
    enum cam_entity_kind kind;
    uint64_t entity_id;
    bool attach;
};

static const char *entity_name(enum cam_entity_kind k)
{
    return k == CAM_ENTITY_USER ? "user" : "group";
}

static int attach_fn(struct store_conn *c, void *arg)
{
    struct attach_ctx *ctx = arg;
    int64_t n = 0;
    int rc;
    if ((rc = cam_gen_bump(c, ctx->owner_uin)))
        return rc;
    rc = custom_row(c, ctx->owner_uin, ctx->policy_id, NULL, 0);
    if (rc == BE_POLICY_ID_NOT_FOUND)
        return BE_POLICY_ID_NOT_EXIST;
    if (rc && rc != BE_UNMODIFIABLE) /* BE_UNMODIFIABLE: a preset, which is fine here */
        return rc;
    rc = count_of(c,
                  ctx->kind == CAM_ENTITY_USER
                      ? "SELECT COUNT(*) FROM cam_users WHERE owner_uin = $1 AND uid = $2"
                      : "SELECT COUNT(*) FROM cam_groups WHERE owner_uin = $1 AND group_id = $2",
                  SV_ARGS(SV_I64(ctx->owner_uin), SV_I64(ctx->entity_id)), &n);
    if (rc)
        return rc;
    if (!n)
        return ctx->kind == CAM_ENTITY_USER ? BE_USER_NOT_EXIST : BE_GROUP_NOT_EXIST;
    struct store_val key[] = {SV_TEXT(entity_name(ctx->kind)), SV_I64(ctx->entity_id),
                              SV_I64(ctx->policy_id)};
    if (!ctx->attach) {
        rc = store_exec(c,
                        "DELETE FROM cam_attachments WHERE entity_kind = $1 AND entity_id = $2"
                        " AND policy_id = $3",
                        key, 3, NULL);
        return rc ? rc
                  : audit_in(c, ctx->meta, ctx->actor,
                             ctx->kind == CAM_ENTITY_USER ? "cam:DetachUserPolicy"
                                                          : "cam:DetachGroupPolicy",
                             NULL);
    }
    if ((rc = count_of(c,
                       "SELECT COUNT(*) FROM cam_attachments WHERE entity_kind = $1"
                       " AND entity_id = $2 AND policy_id = $3",
                       key, 3, &n)))
        return rc;
    if (n)
        return BE_OK;
    if ((rc = count_of(c,
                       "SELECT COUNT(*) FROM cam_attachments WHERE entity_kind = $1"
                       " AND entity_id = $2",
                       key, 2, &n)))
        return rc;
    if (n >= CAM_ATTACHMENTS_MAX)
        return BE_ATTACHMENT_FULL;
    rc = store_exec(c,
                    "INSERT INTO cam_attachments (owner_uin, policy_id, entity_kind, entity_id,"
                    " attached_at, operator_uin) VALUES ($1, $2, $3, $4, $5, $6)",
                    SV_ARGS(SV_I64(ctx->owner_uin), SV_I64(ctx->policy_id),
                            SV_TEXT(entity_name(ctx->kind)), SV_I64(ctx->entity_id),
                            SV_I64(ctx->meta->now), SV_I64(ctx->actor->uin)),
                    NULL);
    return rc ? rc
              : audit_in(c, ctx->meta, ctx->actor,
                         ctx->kind == CAM_ENTITY_USER ? "cam:AttachUserPolicy"
                                                      : "cam:AttachGroupPolicy",
                         NULL);
}

static int attach_run(struct app *app, struct attach_ctx *ctx, struct be_diag *diag)
{
    int rc = store_tx(app->store, attach_fn, ctx);
    switch (rc) {
    case BE_POLICY_ID_NOT_EXIST:
        return be_fail(diag, rc, "no policy %llu in this account",
                       (unsigned long long)ctx->policy_id);
    case BE_ATTACHMENT_FULL:
        return be_fail(diag, rc, "this %s already has %d policies attached", entity_name(ctx->kind),
                       CAM_ATTACHMENTS_MAX);
    case BE_GROUP_NOT_EXIST:
        return be_fail(diag, rc, "no group %llu in this account",
                       (unsigned long long)ctx->entity_id);
    default:
        return rc;
    }
}

int cam_attach(struct app *app, const struct req_meta *meta, const struct principal *actor,
               uint64_t owner_uin, uint64_t policy_id, enum cam_entity_kind kind,
               uint64_t entity_id, struct be_diag *diag)
{
    struct attach_ctx ctx = {meta, actor, owner_uin, policy_id, kind, entity_id, true};
    return attach_run(app, &ctx, diag);
}

int cam_detach(struct app *app, const struct req_meta *meta, const struct principal *actor,
               uint64_t owner_uin, uint64_t policy_id, enum cam_entity_kind kind,
               uint64_t entity_id, struct be_diag *diag)
{
    struct attach_ctx ctx = {meta, actor, owner_uin, policy_id, kind, entity_id, false};
    return attach_run(app, &ctx, diag);
}

struct attached_ctx {
    uint64_t owner_uin;
    enum cam_entity_kind kind;
    uint64_t entity_id;
    int via;
    const char *keyword;
    struct cam_attached *items;
    size_t n;
};

static int attached_fn(struct store_conn *c, void *arg)
{
    struct attached_ctx *ctx = arg;
    struct store_result *r = NULL;
    free(ctx->items);
    ctx->items = NULL;
    ctx->n = 0;
    /* Direct rows have group_id 0; rows through a group name it. */
    int rc = store_query(
        c,
        "SELECT a.policy_id, 0, '', a.attached_at, a.operator_uin, p.name, p.description,"
        " p.created_at, p.updated_at FROM cam_attachments a"
        " LEFT JOIN cam_policies p ON p.id = a.policy_id - $4 AND p.owner_uin = a.owner_uin"
        " WHERE a.owner_uin = $1 AND a.entity_kind = $2 AND a.entity_id = $3 AND $5 <> 2"
        " UNION ALL"
        " SELECT a.policy_id, g.group_id, g.name, a.attached_at, a.operator_uin, p.name,"
        " p.description, p.created_at, p.updated_at FROM cam_attachments a"
        " JOIN cam_groups g ON g.group_id = a.entity_id AND g.owner_uin = a.owner_uin"
        " JOIN cam_group_members m ON m.group_id = g.group_id"
        " LEFT JOIN cam_policies p ON p.id = a.policy_id - $4 AND p.owner_uin = a.owner_uin"
        " WHERE a.owner_uin = $1 AND a.entity_kind = 'group' AND $2 = 'user'"
        " AND m.uid = $3 AND $5 <> 1"
        " ORDER BY 1, 2",
        SV_ARGS(SV_I64(ctx->owner_uin), SV_TEXT(entity_name(ctx->kind)), SV_I64(ctx->entity_id),
                SV_I64(ID_BASE), SV_I64(ctx->via)),
        &r);
    if (rc)
        return rc;
    size_t rows = store_result_rows(r);
    ctx->items = xcalloc(rows ? rows : 1, sizeof(*ctx->items));
    for (size_t i = 0; i < rows; i++) {
        struct cam_attached *a = &ctx->items[ctx->n];
        uint64_t id = (uint64_t)store_result_i64(r, i, 0);
        memset(a, 0, sizeof(*a));
        if (id <= ID_BASE) {
            const struct cam_preset *p = cam_preset_by_id(id);
            if (!p)
                continue;
            preset_info(p, &a->policy);
        } else {
            if (store_result_is_null(r, i, 5))
                continue;
            a->policy.id = id;
            a->policy.owner_uin = ctx->owner_uin;
            a->policy.type = CAM_POLICY_CUSTOM;
            snprintf(a->policy.name, sizeof(a->policy.name), "%s", store_result_text(r, i, 5));
            snprintf(a->policy.description, sizeof(a->policy.description), "%s",
                     store_result_text(r, i, 6));
            a->policy.created_at = store_result_i64(r, i, 7);
            a->policy.updated_at = store_result_i64(r, i, 8);
        }
        if (!name_matches(a->policy.name, ctx->keyword))
            continue;
        a->group_id = (uint64_t)store_result_i64(r, i, 1);
        snprintf(a->group_name, sizeof(a->group_name), "%s", store_result_text(r, i, 2));
        a->attached_at = store_result_i64(r, i, 3);
        a->operator_uin = (uint64_t)store_result_i64(r, i, 4);
        ctx->n++;
    }
    store_result_free(r);
    return BE_OK;
}

int cam_attached_list(struct app *app, uint64_t owner_uin, enum cam_entity_kind kind,
                      uint64_t entity_id, int via, const char *keyword, struct cam_attached **ret,
                      size_t *ret_count)
{
    struct attached_ctx ctx = {owner_uin, kind, entity_id, via, keyword, NULL, 0};
    int rc = store_tx(app->store, attached_fn, &ctx);
    if (rc) {
        free(ctx.items);
        return rc;
    }
    *ret = ctx.items;
    *ret_count = ctx.n;
    return BE_OK;
}
