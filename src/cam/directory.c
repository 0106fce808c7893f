#include "cam/directory.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "account/account.h"
#include "audit/audit.h"
#include "cam/cache.h"
#include "core/buf.h"
#include "core/crypto.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/banned.h"

#define UIN_ATTEMPTS 16

static const char *kind_name(enum cam_user_kind k)
{
    return k == CAM_USER_SUB ? "sub_user" : "collaborator";
}

/* ---- validation ---- */

static bool name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("+=,.@_-", c));
}

int cam_check_user_name(const char *name, struct be_diag *diag)
{
    size_t len = name ? strlen(name) : 0;
    if (len == 0 || len > CAM_USER_NAME_MAX)
        return be_fail(diag, BE_USER_NAME_ILLEGAL, "Name must be 1 to %d characters",
                       CAM_USER_NAME_MAX);
    for (size_t i = 0; i < len; i++)
        if (!name_char(name[i]))
            return be_fail(diag, BE_USER_NAME_ILLEGAL,
                           "Name may contain only letters, digits and +=,.@_- (got \"%s\")", name);
    return BE_OK;
}

int cam_check_password(const char *pw, struct be_diag *diag)
{
    size_t len = pw ? strlen(pw) : 0;
    bool upper = false, lower = false, digit = false, other = false;
    if (len < CAM_PASSWORD_MIN || len > CAM_PASSWORD_MAX)
        return be_fail(diag, BE_PASSWORD_RULES, "Password must be %d to %d characters",
                       CAM_PASSWORD_MIN, CAM_PASSWORD_MAX);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)pw[i];
        if (c < 0x20 || c == 0x7f)
            return be_fail(diag, BE_PASSWORD_RULES, "Password contains a control character");
        upper |= c >= 'A' && c <= 'Z';
        lower |= c >= 'a' && c <= 'z';
        digit |= c >= '0' && c <= '9';
        other |= !((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'));
    }
    if (!(upper && lower && digit && other))
        return be_fail(diag, BE_PASSWORD_RULES,
                       "Password must contain an upper-case letter, a lower-case letter, a "
                       "digit and another character");
    return BE_OK;
}

/* Bounds a free-text field; NULL passes. */
static int check_text(const char *field, const char *v, size_t max, struct be_diag *diag)
{
    if (!v)
        return BE_OK;
    size_t len = strlen(v);
    if (len > max)
        return be_fail(diag, BE_INVALID_PARAMETER_VALUE, "%s must be at most %zu bytes", field,
                       max);
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f)
            return be_fail(diag, BE_INVALID_PARAMETER_VALUE, "%s contains a control character",
                           field);
    return BE_OK;
}

static int check_input(const struct cam_user_input *in, struct be_diag *diag)
{
    int rc;
    if ((rc = check_text("Remark", in->remark, CAM_REMARK_MAX, diag)) ||
        (rc = check_text("PhoneNum", in->phone_num, CAM_PHONE_MAX, diag)) ||
        (rc = check_text("CountryCode", in->country_code, CAM_COUNTRY_CODE_MAX, diag)) ||
        (rc = check_text("Email", in->email, CAM_EMAIL_MAX, diag)))
        return rc;
    if (in->password && *in->password)
        return cam_check_password(in->password, diag);
    return BE_OK;
}

/* A random password with all four character classes (AddUser's). */
static void generate_password(char out[CAM_GENERATED_PASSWORD_LEN + 1])
{
    static const char *const classes[] = {"ABCDEFGHJKLMNPQRSTUVWXYZ", "abcdefghijkmnopqrstuvwxyz",
                                          "23456789", "!#$%&*+-=?@^_"};
    static const char all[] = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789"
                              "!#$%&*+-=?@^_";
    for (size_t i = 0; i < CAM_GENERATED_PASSWORD_LEN; i++) {
        const char *set = i < 4 ? classes[i] : all;
        out[i] = set[crypto_random_range(0, strlen(set) - 1)];
    }
    /* Shuffle so the classes are not always in front. */
    for (size_t i = CAM_GENERATED_PASSWORD_LEN - 1; i > 0; i--) {
        size_t j = (size_t)crypto_random_range(0, i);
        char t = out[i];
        out[i] = out[j];
        out[j] = t;
    }
    out[CAM_GENERATED_PASSWORD_LEN] = '\0';
}

/* ---- rows ---- */

#define USER_COLS                                                                                  \
    "uid, owner_uin, uin, kind, name, remark, console_login, use_api, need_reset_password,"        \
    " CASE WHEN password_hash IS NULL THEN 0 ELSE 1 END, phone_num, country_code, email,"          \
    " created_at"

static void row_to_user(const struct store_result *r, size_t i, struct cam_user *u)
{
    memset(u, 0, sizeof(*u));
    u->uid = (uint64_t)store_result_i64(r, i, 0);
    u->owner_uin = (uint64_t)store_result_i64(r, i, 1);
    u->uin = (uint64_t)store_result_i64(r, i, 2);
    u->kind = strcmp(store_result_text(r, i, 3), "sub_user") ? CAM_USER_COLLABORATOR : CAM_USER_SUB;
    snprintf(u->name, sizeof(u->name), "%s", store_result_text(r, i, 4));
    snprintf(u->remark, sizeof(u->remark), "%s", store_result_text(r, i, 5));
    u->console_login = store_result_i64(r, i, 6) != 0;
    u->use_api = store_result_i64(r, i, 7) != 0;
    u->need_reset_password = store_result_i64(r, i, 8) != 0;
    u->has_password = store_result_i64(r, i, 9) != 0;
    snprintf(u->phone_num, sizeof(u->phone_num), "%s", store_result_text(r, i, 10));
    snprintf(u->country_code, sizeof(u->country_code), "%s", store_result_text(r, i, 11));
    snprintf(u->email, sizeof(u->email), "%s", store_result_text(r, i, 12));
    u->created_at = store_result_i64(r, i, 13);
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

/* Reads one user by a WHERE clause over (owner $1, value $2). */
static int user_where(struct store_conn *c, const char *where, uint64_t owner_uin,
                      struct store_val v, struct cam_user *ret)
{
    struct store_result *r = NULL;
    char sql[512];
    snprintf(sql, sizeof(sql), "SELECT " USER_COLS " FROM cam_users WHERE owner_uin = $1 AND %s",
             where);
    int rc = store_query(c, sql, SV_ARGS(SV_I64(owner_uin), v), &r);
    if (rc == BE_OK && !store_result_rows(r))
        rc = BE_USER_NOT_EXIST;
    if (rc == BE_OK)
        row_to_user(r, 0, ret);
    store_result_free(r);
    return rc;
}

static void audit_in(struct store_conn *c, const struct req_meta *meta,
                     const struct principal *actor, const char *action, const char *detail, int *rc)
{
    if (*rc)
        return;
    struct audit_entry e = {actor->owner_uin, actor->uin, action, "success", detail};
    *rc = audit_record(c, meta, &e);
}

/* ---- AddUser ---- */

struct add_ctx {
    struct app *app;
    const struct req_meta *meta;
    const struct principal *actor;
    uint64_t owner_uin;
    const struct cam_user_input *in;
    const char *hash;
    struct cam_user user;
    struct accesskey *key;
};

static int users_full(struct store_conn *c, uint64_t owner_uin)
{
    int64_t n = 0;
    int rc = count_of(c, "SELECT COUNT(*) FROM cam_users WHERE owner_uin = $1",
                      SV_ARGS(SV_I64(owner_uin)), &n);
    return rc ? rc : n >= CAM_USERS_MAX ? BE_SUB_USER_FULL : BE_OK;
}

static int name_taken(struct store_conn *c, uint64_t owner_uin, const char *name)
{
    int64_t n = 0;
    int rc = count_of(c, "SELECT COUNT(*) FROM cam_users WHERE owner_uin = $1 AND name = $2",
                      SV_ARGS(SV_I64(owner_uin), SV_TEXT(name)), &n);
    return rc ? rc : n ? BE_SUB_USER_NAME_IN_USE : BE_OK;
}

static int add_fn(struct store_conn *c, void *arg)
{
    struct add_ctx *ctx = arg;
    const struct cam_user_input *in = ctx->in;
    struct store_result *r = NULL;
    int rc;
    if ((rc = cam_gen_bump(c, ctx->owner_uin)) || (rc = users_full(c, ctx->owner_uin)) ||
        (rc = name_taken(c, ctx->owner_uin, in->name)))
        return rc;
    for (int attempt = 0; attempt < UIN_ATTEMPTS; attempt++) {
        uint64_t uin = crypto_random_range(CAM_SUB_UIN_MIN, CAM_SUB_UIN_MAX);
        /* DO NOTHING: a UIN collision draws again instead of aborting. */
        rc = store_query(
            c,
            "INSERT INTO cam_users (owner_uin, uin, kind, name, remark, console_login, use_api,"
            " password_hash, need_reset_password, phone_num, country_code, email, created_at,"
            " updated_at) VALUES ($1, $2, 'sub_user', $3, $4, $5, $6, $7, $8, $9, $10, $11, $12,"
            " $12) ON CONFLICT DO NOTHING RETURNING uid",
            SV_ARGS(SV_I64(ctx->owner_uin), SV_I64(uin), SV_TEXT(in->name),
                    SV_TEXT(in->remark ? in->remark : ""), SV_I64(in->console_login == 1),
                    SV_I64(in->use_api == 1), SV_TEXT(ctx->hash),
                    SV_I64(in->need_reset_password == 1),
                    SV_TEXT(in->phone_num ? in->phone_num : ""),
                    SV_TEXT(in->country_code ? in->country_code : ""),
                    SV_TEXT(in->email ? in->email : ""), SV_I64(ctx->meta->now)),
            &r);
        if (rc)
            return rc;
        bool inserted = store_result_rows(r) > 0;
        uint64_t uid = inserted ? (uint64_t)store_result_i64(r, 0, 0) : 0;
        store_result_free(r);
        r = NULL;
        if (!inserted)
            continue;
        if ((rc = user_where(c, "uid = $2", ctx->owner_uin, SV_I64(uid), &ctx->user)))
            return rc;
        if (in->use_api == 1)
            rc = accesskey_create_in(c, ctx->app, ctx->meta, ctx->actor, ctx->owner_uin, uin,
                                     ctx->key);
        audit_in(c, ctx->meta, ctx->actor, "cam:AddUser", in->name, &rc);
        return rc;
    }
    log_error("cam: no free sub-user UIN after %d attempts", UIN_ATTEMPTS);
    return BE_INTERNAL;
}

static int limit_message(int rc, const char *name, struct be_diag *diag)
{
    if (rc == BE_SUB_USER_NAME_IN_USE)
        return be_fail(diag, rc, "a user named %s already exists in this account", name);
    if (rc == BE_SUB_USER_FULL)
        return be_fail(diag, rc,
                       "this account already has %d users (sub-users and "
                       "collaborators)",
                       CAM_USERS_MAX);
    return rc;
}

int cam_user_add(struct app *app, const struct req_meta *meta, const struct principal *actor,
                 uint64_t owner_uin, const struct cam_user_input *in, struct cam_user *ret,
                 char *ret_password, struct accesskey *ret_key, struct be_diag *diag)
{
    char generated[CAM_GENERATED_PASSWORD_LEN + 1] = "";
    const char *password = in->password && *in->password ? in->password : NULL;
    struct buf hash = BUF_INIT;
    struct accesskey key;
    int rc;
    memset(&key, 0, sizeof(key));
    if ((rc = cam_check_user_name(in->name, diag)) || (rc = check_input(in, diag)))
        return rc;
    if (in->console_login == 1 && !password) {
        generate_password(generated);
        password = generated;
    }
    if (password && (rc = crypto_pwhash_hash(app->pwhash, password, &hash)))
        goto out;
    struct add_ctx ctx = {app, meta, actor, owner_uin, in, password ? hash.data : NULL, {0}, &key};
    rc = limit_message(store_tx(app->store, add_fn, &ctx), in->name, diag);
    if (rc)
        goto out;
    *ret = ctx.user;
    if (ret_password)
        snprintf(ret_password, CAM_GENERATED_PASSWORD_LEN + 1, "%s", generated);
    if (ret_key)
        *ret_key = key;
out:
    crypto_wipe(generated, sizeof(generated));
    crypto_wipe(&key, sizeof(key));
    buf_release(&hash);
    return rc;
}

/* ---- lookups ---- */

struct get_ctx {
    uint64_t owner_uin;
    const char *where;
    struct store_val v;
    struct cam_user user;
};

static int get_fn(struct store_conn *c, void *arg)
{
    struct get_ctx *ctx = arg;
    return user_where(c, ctx->where, ctx->owner_uin, ctx->v, &ctx->user);
}

static int get_by(struct app *app, uint64_t owner_uin, const char *where, struct store_val v,
                  struct cam_user *ret)
{
    struct get_ctx ctx = {owner_uin, where, v, {0}};
    int rc = store_run(app->store, get_fn, &ctx);
    if (rc == BE_OK)
        *ret = ctx.user;
    return rc;
}

int cam_user_get(struct app *app, uint64_t owner_uin, const char *name, struct cam_user *ret)
{
    return get_by(app, owner_uin, "name = $2", SV_TEXT(name), ret);
}

int cam_user_get_by_uin(struct app *app, uint64_t owner_uin, uint64_t uin, struct cam_user *ret)
{
    return get_by(app, owner_uin, "uin = $2", SV_I64(uin), ret);
}

int cam_user_get_by_uid(struct app *app, uint64_t owner_uin, uint64_t uid, struct cam_user *ret)
{
    return get_by(app, owner_uin, "uid = $2", SV_I64(uid), ret);
}

struct list_ctx {
    const char *sql_rows, *sql_count;
    const struct store_val *params; /* the 2 filter values; limit, offset appended */
    size_t nparams;
    size_t offset, limit;
    bool groups_wanted; /* rows are groups, else users */
    struct cam_user *users;
    struct cam_group *groups;
    size_t count, total;
};

static void row_to_group(const struct store_result *r, size_t i, struct cam_group *g);

static int list_fn(struct store_conn *c, void *arg)
{
    struct list_ctx *ctx = arg;
    struct store_result *r = NULL;
    int64_t total = 0;
    free(ctx->users);
    free(ctx->groups);
    ctx->users = NULL;
    ctx->groups = NULL;
    int rc = count_of(c, ctx->sql_count, ctx->params, 2, &total);
    if (rc)
        return rc;
    struct store_val p[4] = {ctx->params[0], ctx->params[1], SV_I64(ctx->limit),
                             SV_I64(ctx->offset)};
    if ((rc = store_query(c, ctx->sql_rows, p, 4, &r)))
        return rc;
    size_t n = store_result_rows(r);
    if (ctx->groups_wanted) {
        ctx->groups = xcalloc(n ? n : 1, sizeof(*ctx->groups));
        for (size_t i = 0; i < n; i++)
            row_to_group(r, i, &ctx->groups[i]);
    } else {
        ctx->users = xcalloc(n ? n : 1, sizeof(*ctx->users));
        for (size_t i = 0; i < n; i++)
            row_to_user(r, i, &ctx->users[i]);
    }
    ctx->count = n;
    ctx->total = (size_t)total;
    store_result_free(r);
    return BE_OK;
}

int cam_user_list(struct app *app, uint64_t owner_uin, enum cam_user_kind kind, size_t offset,
                  size_t limit, struct cam_user **ret, size_t *ret_count, size_t *ret_total)
{
    struct list_ctx ctx = {"SELECT " USER_COLS " FROM cam_users WHERE owner_uin = $1 AND kind = $2"
                           " ORDER BY uid LIMIT $3 OFFSET $4",
                           "SELECT COUNT(*) FROM cam_users WHERE owner_uin = $1 AND kind = $2",
                           SV_ARGS(SV_I64(owner_uin), SV_TEXT(kind_name(kind))),
                           offset,
                           limit,
                           false,
                           NULL,
                           NULL,
                           0,
                           0};
    int rc = store_tx(app->store, list_fn, &ctx);
    if (rc) {
        free(ctx.users);
        return rc;
    }
    *ret = ctx.users;
    *ret_count = ctx.count;
    *ret_total = ctx.total;
    return BE_OK;
}

/* ---- UpdateUser ---- */

struct update_ctx {
    const struct req_meta *meta;
    const struct principal *actor;
    uint64_t owner_uin;
    const struct cam_user_input *in;
    const char *hash;
    struct be_diag *diag;
};

static const char *or_keep(const char *v, const char *current)
{
    return v ? v : current;
}

static int update_fn(struct store_conn *c, void *arg)
{
    struct update_ctx *ctx = arg;
    const struct cam_user_input *in = ctx->in;
    struct cam_user u;
    int rc;
    if ((rc = cam_gen_bump(c, ctx->owner_uin)) ||
        (rc = user_where(c, "name = $2", ctx->owner_uin, SV_TEXT(in->name), &u)))
        return rc;
    if (u.kind == CAM_USER_COLLABORATOR && (ctx->hash || in->need_reset_password >= 0))
        return be_fail(ctx->diag, BE_UNMODIFIABLE,
                       "%s is a collaborator: its password belongs to its own account", in->name);
    bool console = in->console_login >= 0 ? in->console_login == 1 : u.console_login;
    if (u.kind == CAM_USER_SUB && console && !u.has_password && !ctx->hash)
        return be_fail(ctx->diag, BE_PASSWORD_RULES,
                       "Password is required to allow console login for %s", in->name);
    rc = store_exec(
        c,
        "UPDATE cam_users SET remark = $3, console_login = $4, use_api = $5,"
        " need_reset_password = $6, phone_num = $7, country_code = $8, email = $9,"
        " password_hash = COALESCE($10, password_hash), updated_at = $11"
        " WHERE owner_uin = $1 AND uid = $2",
        SV_ARGS(SV_I64(ctx->owner_uin), SV_I64(u.uid), SV_TEXT(or_keep(in->remark, u.remark)),
                SV_I64(console), SV_I64(in->use_api >= 0 ? in->use_api == 1 : u.use_api),
                SV_I64(in->need_reset_password >= 0 ? in->need_reset_password == 1
                                                    : u.need_reset_password),
                SV_TEXT(or_keep(in->phone_num, u.phone_num)),
                SV_TEXT(or_keep(in->country_code, u.country_code)),
                SV_TEXT(or_keep(in->email, u.email)), SV_TEXT(ctx->hash), SV_I64(ctx->meta->now)),
        NULL);
    audit_in(c, ctx->meta, ctx->actor, "cam:UpdateUser", in->name, &rc);
    return rc;
}

int cam_user_update(struct app *app, const struct req_meta *meta, const struct principal *actor,
                    uint64_t owner_uin, const struct cam_user_input *in, struct be_diag *diag)
{
    struct buf hash = BUF_INIT;
    int rc = check_input(in, diag);
    if (rc)
        return rc;
    if (in->password && *in->password &&
        (rc = crypto_pwhash_hash(app->pwhash, in->password, &hash)))
        goto out;
    struct update_ctx ctx = {meta, actor, owner_uin, in, hash.len ? hash.data : NULL, diag};
    rc = store_tx(app->store, update_fn, &ctx);
    if (rc == BE_USER_NOT_EXIST)
        be_fail(diag, rc, "no user named %s in this account", in->name);
out:
    buf_release(&hash);
    return rc;
}

/* ---- DeleteUser / collaborators ---- */

/* Inside a transaction: removes a user and everything hanging from it. */
static int remove_user(struct store_conn *c, const struct cam_user *u)
{
    int rc;
    if ((rc = store_exec(c, "DELETE FROM access_keys WHERE owner_uin = $1 AND uin = $2",
                         SV_ARGS(SV_I64(u->owner_uin), SV_I64(u->uin)), NULL)) ||
        (rc = store_exec(c,
                         "DELETE FROM cam_attachments WHERE owner_uin = $1"
                         " AND entity_kind = 'user' AND entity_id = $2",
                         SV_ARGS(SV_I64(u->owner_uin), SV_I64(u->uid)), NULL)) ||
        (rc = store_exec(c, "DELETE FROM cam_group_members WHERE owner_uin = $1 AND uid = $2",
                         SV_ARGS(SV_I64(u->owner_uin), SV_I64(u->uid)), NULL)))
        return rc;
    return store_exec(c, "DELETE FROM cam_users WHERE owner_uin = $1 AND uid = $2",
                      SV_ARGS(SV_I64(u->owner_uin), SV_I64(u->uid)), NULL);
}

struct delete_ctx {
    const struct req_meta *meta;
    const struct principal *actor;
    uint64_t owner_uin;
    const char *where;
    struct store_val v;
    bool force;
    const char *action;
    int64_t keys;
};

static int delete_fn(struct store_conn *c, void *arg)
{
    struct delete_ctx *ctx = arg;
    struct cam_user u;
    int rc;
    if ((rc = cam_gen_bump(c, ctx->owner_uin)) ||
        (rc = user_where(c, ctx->where, ctx->owner_uin, ctx->v, &u)))
        return rc;
    if ((rc = count_of(c, "SELECT COUNT(*) FROM access_keys WHERE owner_uin = $1 AND uin = $2",
                       SV_ARGS(SV_I64(ctx->owner_uin), SV_I64(u.uin)), &ctx->keys)))
        return rc;
    if (ctx->keys && !ctx->force)
        return BE_HAVE_KEYS;
    rc = remove_user(c, &u);
    audit_in(c, ctx->meta, ctx->actor, ctx->action, u.name, &rc);
    return rc;
}

int cam_user_delete(struct app *app, const struct req_meta *meta, const struct principal *actor,
                    uint64_t owner_uin, const char *name, bool force, struct be_diag *diag)
{
    struct delete_ctx ctx = {meta,          actor, owner_uin,        "name = $2",
                             SV_TEXT(name), force, "cam:DeleteUser", 0};
    int rc = store_tx(app->store, delete_fn, &ctx);
    if (rc == BE_USER_NOT_EXIST)
        return be_fail(diag, rc, "no user named %s in this account", name);
    if (rc == BE_HAVE_KEYS)
        return be_fail(diag, rc, "user %s still has %lld API keys; delete them or pass Force=1",
                       name, (long long)ctx.keys);
    return rc;
}

int cam_collaborator_delete(struct app *app, const struct req_meta *meta,
                            const struct principal *actor, uint64_t owner_uin,
                            uint64_t collaborator_uin, struct be_diag *diag)
{
    struct delete_ctx ctx = {meta,
                             actor,
                             owner_uin,
                             "uin = $2 AND kind = 'collaborator'",
                             SV_I64(collaborator_uin),
                             true,
                             "cam:DeleteCollaborator",
                             0};
    int rc = store_tx(app->store, delete_fn, &ctx);
    if (rc == BE_USER_NOT_EXIST)
        be_fail(diag, rc, "account %llu is not a collaborator of this account",
                (unsigned long long)collaborator_uin);
    return rc;
}

struct collab_ctx {
    const struct req_meta *meta;
    const struct principal *actor;
    uint64_t owner_uin, uin;
    const char *name, *remark;
    struct cam_user user;
};

static int collab_fn(struct store_conn *c, void *arg)
{
    struct collab_ctx *ctx = arg;
    int64_t n = 0;
    struct account acct;
    int rc;
    /* Both generations: the owner's sets change, and the collaborator's row
     * lock serialises its memberships so the limit below cannot race. */
    if ((rc = cam_gen_bump(c, ctx->owner_uin)) || (rc = cam_gen_bump(c, ctx->uin)))
        return rc;
    rc = account_lock(c, ctx->uin, &acct);
    if (rc == BE_NOT_FOUND)
        return BE_PARAM_USER_NOT_EXIST;
    if (rc)
        return rc;
    if ((rc = count_of(c, "SELECT COUNT(*) FROM cam_users WHERE owner_uin = $1 AND uin = $2",
                       SV_ARGS(SV_I64(ctx->owner_uin), SV_I64(ctx->uin)), &n)))
        return rc;
    if (n)
        return BE_COLLABORATOR_EXISTS;
    if ((rc = count_of(c, "SELECT COUNT(*) FROM cam_users WHERE uin = $1 AND kind = 'collaborator'",
                       SV_ARGS(SV_I64(ctx->uin)), &n)))
        return rc;
    if (n >= CAM_COLLABORATIONS_MAX)
        return BE_COLLABORATIONS_FULL;
    if ((rc = users_full(c, ctx->owner_uin)) || (rc = name_taken(c, ctx->owner_uin, ctx->name)))
        return rc;
    rc = store_exec(c,
                    "INSERT INTO cam_users (owner_uin, uin, kind, name, remark, console_login,"
                    " use_api, created_at, updated_at) VALUES ($1, $2, 'collaborator', $3, $4,"
                    " 1, 1, $5, $5)",
                    SV_ARGS(SV_I64(ctx->owner_uin), SV_I64(ctx->uin), SV_TEXT(ctx->name),
                            SV_TEXT(ctx->remark ? ctx->remark : ""), SV_I64(ctx->meta->now)),
                    NULL);
    if (rc == BE_OK)
        rc = user_where(c, "uin = $2", ctx->owner_uin, SV_I64(ctx->uin), &ctx->user);
    char detail[32];
    snprintf(detail, sizeof(detail), "%llu", (unsigned long long)ctx->uin);
    audit_in(c, ctx->meta, ctx->actor, "cam:AddCollaborator", detail, &rc);
    return rc;
}

int cam_collaborator_add(struct app *app, const struct req_meta *meta,
                         const struct principal *actor, uint64_t owner_uin,
                         uint64_t collaborator_uin, const char *name, const char *remark,
                         struct cam_user *ret, struct be_diag *diag)
{
    char fallback[CAM_USER_NAME_MAX + 1];
    int rc;
    if (collaborator_uin == owner_uin)
        return be_fail(diag, BE_PARAM_ERROR, "account %llu cannot be a collaborator of itself",
                       (unsigned long long)owner_uin);
    if (!name || !*name) {
        snprintf(fallback, sizeof(fallback), "collaborator-%llu",
                 (unsigned long long)collaborator_uin);
        name = fallback;
    }
    if ((rc = cam_check_user_name(name, diag)) ||
        (rc = check_text("Remark", remark, CAM_REMARK_MAX, diag)))
        return rc;
    struct collab_ctx ctx = {meta, actor, owner_uin, collaborator_uin, name, remark, {0}};
    rc = store_tx(app->store, collab_fn, &ctx);
    switch (rc) {
    case BE_OK:
        *ret = ctx.user;
        return BE_OK;
    case BE_PARAM_USER_NOT_EXIST:
        return be_fail(diag, rc, "%llu is not the account ID of a root account",
                       (unsigned long long)collaborator_uin);
    case BE_COLLABORATOR_EXISTS:
        return be_fail(diag, rc, "account %llu is already a collaborator of this account",
                       (unsigned long long)collaborator_uin);
    case BE_COLLABORATIONS_FULL:
        return be_fail(diag, rc, "account %llu already collaborates on %d accounts",
                       (unsigned long long)collaborator_uin, CAM_COLLABORATIONS_MAX);
    default:
        return limit_message(rc, name, diag);
    }
}

struct collabs_ctx {
    uint64_t uin;
    struct cam_user *users;
    size_t n;
};

static int collabs_fn(struct store_conn *c, void *arg)
{
    struct collabs_ctx *ctx = arg;
    struct store_result *r = NULL;
    int rc = store_query(c,
                         "SELECT " USER_COLS " FROM cam_users WHERE uin = $1"
                         " AND kind = 'collaborator' ORDER BY owner_uin",
                         SV_ARGS(SV_I64(ctx->uin)), &r);
    if (rc)
        return rc;
    ctx->n = store_result_rows(r);
    ctx->users = xcalloc(ctx->n ? ctx->n : 1, sizeof(*ctx->users));
    for (size_t i = 0; i < ctx->n; i++)
        row_to_user(r, i, &ctx->users[i]);
    store_result_free(r);
    return BE_OK;
}

int cam_collaborations_of(struct app *app, uint64_t uin, struct cam_user **ret, size_t *ret_count)
{
    struct collabs_ctx ctx = {uin, NULL, 0};
    int rc = store_run(app->store, collabs_fn, &ctx);
    if (rc) {
        free(ctx.users);
        return rc;
    }
    *ret = ctx.users;
    *ret_count = ctx.n;
    return BE_OK;
}

/* ---- console login ---- */

struct verify_ctx {
    uint64_t owner_uin;
    const char *name;
    struct cam_user user;
    char hash[256];
    bool found;
};

static int verify_fn(struct store_conn *c, void *arg)
{
    struct verify_ctx *ctx = arg;
    struct store_result *r = NULL;
    int rc = store_query(c,
                         "SELECT " USER_COLS ", password_hash FROM cam_users WHERE owner_uin = $1"
                         " AND name = $2 AND kind = 'sub_user' AND console_login = 1",
                         SV_ARGS(SV_I64(ctx->owner_uin), SV_TEXT(ctx->name)), &r);
    if (rc == BE_OK && store_result_rows(r) && store_result_text(r, 0, 14)) {
        row_to_user(r, 0, &ctx->user);
        snprintf(ctx->hash, sizeof(ctx->hash), "%s", store_result_text(r, 0, 14));
        ctx->found = true;
    }
    store_result_free(r);
    return rc;
}

int cam_user_verify_password(struct app *app, uint64_t owner_uin, const char *name,
                             const char *password, struct cam_user *ret)
{
    struct verify_ctx ctx = {owner_uin, name, {0}, "", false};
    int rc = store_run(app->store, verify_fn, &ctx);
    if (rc)
        return rc;
    if (!ctx.found) {
        crypto_pwhash_verify_dummy(app->pwhash, password);
        return BE_LOGIN_FAILED;
    }
    rc = crypto_pwhash_verify(app->pwhash, ctx.hash, password);
    if (rc == BE_OK)
        *ret = ctx.user;
    return rc;
}

/* ---- groups ---- */

#define GROUP_COLS                                                                                 \
    "group_id, owner_uin, name, remark, created_at,"                                               \
    " (SELECT COUNT(*) FROM cam_group_members m WHERE m.group_id = cam_groups.group_id)"

static void row_to_group(const struct store_result *r, size_t i, struct cam_group *g)
{
    memset(g, 0, sizeof(*g));
    g->group_id = (uint64_t)store_result_i64(r, i, 0);
    g->owner_uin = (uint64_t)store_result_i64(r, i, 1);
    snprintf(g->name, sizeof(g->name), "%s", store_result_text(r, i, 2));
    snprintf(g->remark, sizeof(g->remark), "%s", store_result_text(r, i, 3));
    g->created_at = store_result_i64(r, i, 4);
    g->members = (size_t)store_result_i64(r, i, 5);
}

static int group_read(struct store_conn *c, uint64_t owner_uin, uint64_t group_id,
                      struct cam_group *ret)
{
    struct store_result *r = NULL;
    int rc = store_query(c,
                         "SELECT " GROUP_COLS " FROM cam_groups WHERE owner_uin = $1"
                         " AND group_id = $2",
                         SV_ARGS(SV_I64(owner_uin), SV_I64(group_id)), &r);
    if (rc == BE_OK && !store_result_rows(r))
        rc = BE_GROUP_NOT_EXIST;
    if (rc == BE_OK)
        row_to_group(r, 0, ret);
    store_result_free(r);
    return rc;
}

static int check_group_name(const char *name, struct be_diag *diag)
{
    if (!name || !*name)
        return be_fail(diag, BE_INVALID_PARAMETER_VALUE, "GroupName must not be empty");
    return check_text("GroupName", name, CAM_GROUP_NAME_MAX, diag);
}

struct group_ctx {
    const struct req_meta *meta;
    const struct principal *actor;
    uint64_t owner_uin, group_id;
    const char *name, *remark;
};

static int group_name_taken(struct store_conn *c, uint64_t owner_uin, const char *name,
                            uint64_t except_id)
{
    int64_t n = 0;
    int rc = count_of(c,
                      "SELECT COUNT(*) FROM cam_groups WHERE owner_uin = $1 AND name = $2"
                      " AND group_id <> $3",
                      SV_ARGS(SV_I64(owner_uin), SV_TEXT(name), SV_I64(except_id)), &n);
    return rc ? rc : n ? BE_GROUP_NAME_IN_USE : BE_OK;
}

static int group_create_fn(struct store_conn *c, void *arg)
{
    struct group_ctx *ctx = arg;
    struct store_result *r = NULL;
    int64_t n = 0;
    int rc;
    if ((rc = cam_gen_bump(c, ctx->owner_uin)) ||
        (rc = count_of(c, "SELECT COUNT(*) FROM cam_groups WHERE owner_uin = $1",
                       SV_ARGS(SV_I64(ctx->owner_uin)), &n)))
        return rc;
    if (n >= CAM_GROUPS_MAX)
        return BE_GROUP_FULL;
    if ((rc = group_name_taken(c, ctx->owner_uin, ctx->name, 0)))
        return rc;
    rc = store_query(c,
                     "INSERT INTO cam_groups (owner_uin, name, remark, created_at, updated_at)"
                     " VALUES ($1, $2, $3, $4, $4) RETURNING group_id",
                     SV_ARGS(SV_I64(ctx->owner_uin), SV_TEXT(ctx->name),
                             SV_TEXT(ctx->remark ? ctx->remark : ""), SV_I64(ctx->meta->now)),
                     &r);
    if (rc == BE_OK)
        ctx->group_id = (uint64_t)store_result_i64(r, 0, 0);
    store_result_free(r);
    audit_in(c, ctx->meta, ctx->actor, "cam:CreateGroup", ctx->name, &rc);
    return rc;
}

static int group_error(int rc, const struct group_ctx *ctx, struct be_diag *diag)
{
    switch (rc) {
    case BE_GROUP_FULL:
        return be_fail(diag, rc, "this account already has %d groups", CAM_GROUPS_MAX);
    case BE_GROUP_NAME_IN_USE:
        return be_fail(diag, rc, "a group named %s already exists", ctx->name);
    case BE_GROUP_NOT_EXIST:
        return be_fail(diag, rc, "no group %llu in this account",
                       (unsigned long long)ctx->group_id);
    default:
        return rc;
    }
}

int cam_group_create(struct app *app, const struct req_meta *meta, const struct principal *actor,
                     uint64_t owner_uin, const char *name, const char *remark, uint64_t *ret_id,
                     struct be_diag *diag)
{
    int rc;
    if ((rc = check_group_name(name, diag)) ||
        (rc = check_text("Remark", remark, CAM_REMARK_MAX, diag)))
        return rc;
    struct group_ctx ctx = {meta, actor, owner_uin, 0, name, remark};
    rc = group_error(store_tx(app->store, group_create_fn, &ctx), &ctx, diag);
    if (rc == BE_OK)
        *ret_id = ctx.group_id;
    return rc;
}

struct group_get_ctx {
    uint64_t owner_uin, group_id;
    struct cam_group g;
};

static int group_get_fn(struct store_conn *c, void *arg)
{
    struct group_get_ctx *ctx = arg;
    return group_read(c, ctx->owner_uin, ctx->group_id, &ctx->g);
}

int cam_group_get(struct app *app, uint64_t owner_uin, uint64_t group_id, struct cam_group *ret)
{
    struct group_get_ctx ctx = {owner_uin, group_id, {0}};
    int rc = store_run(app->store, group_get_fn, &ctx);
    if (rc == BE_OK)
        *ret = ctx.g;
    return rc;
}

/* LIKE pattern matching keyword literally (its % _ and \ escaped). */
static char *like_pattern(const char *keyword)
{
    struct buf b = BUF_INIT;
    buf_adds(&b, "%");
    for (const char *p = keyword ? keyword : ""; *p; p++) {
        if (*p == '%' || *p == '_' || *p == '\\')
            buf_adds(&b, "\\");
        buf_add(&b, p, 1);
    }
    buf_adds(&b, "%");
    return buf_detach(&b, NULL);
}

int cam_group_list(struct app *app, uint64_t owner_uin, const char *keyword, size_t offset,
                   size_t limit, struct cam_group **ret, size_t *ret_count, size_t *ret_total)
{
    char *pattern = like_pattern(keyword);
    struct list_ctx ctx = {
        "SELECT " GROUP_COLS " FROM cam_groups WHERE owner_uin = $1 AND name LIKE $2 ESCAPE '\\'"
        " ORDER BY group_id LIMIT $3 OFFSET $4",
        "SELECT COUNT(*) FROM cam_groups WHERE owner_uin = $1 AND name LIKE $2 ESCAPE '\\'",
        SV_ARGS(SV_I64(owner_uin), SV_TEXT(pattern)),
        offset,
        limit,
        true,
        NULL,
        NULL,
        0,
        0};
    int rc = store_tx(app->store, list_fn, &ctx);
    free(pattern);
    if (rc) {
        free(ctx.groups);
        return rc;
    }
    *ret = ctx.groups;
    *ret_count = ctx.count;
    *ret_total = ctx.total;
    return BE_OK;
}

static int group_update_fn(struct store_conn *c, void *arg)
{
    struct group_ctx *ctx = arg;
    struct cam_group g;
    int rc;
    if ((rc = cam_gen_bump(c, ctx->owner_uin)) ||
        (rc = group_read(c, ctx->owner_uin, ctx->group_id, &g)))
        return rc;
    if (ctx->name && (rc = group_name_taken(c, ctx->owner_uin, ctx->name, ctx->group_id)))
        return rc;
    rc = store_exec(c,
                    "UPDATE cam_groups SET name = $3, remark = $4, updated_at = $5"
                    " WHERE owner_uin = $1 AND group_id = $2",
                    SV_ARGS(SV_I64(ctx->owner_uin), SV_I64(ctx->group_id),
                            SV_TEXT(ctx->name ? ctx->name : g.name),
                            SV_TEXT(ctx->remark ? ctx->remark : g.remark), SV_I64(ctx->meta->now)),
                    NULL);
    audit_in(c, ctx->meta, ctx->actor, "cam:UpdateGroup", g.name, &rc);
    return rc;
}

int cam_group_update(struct app *app, const struct req_meta *meta, const struct principal *actor,
                     uint64_t owner_uin, uint64_t group_id, const char *name, const char *remark,
                     struct be_diag *diag)
{
    int rc;
    if ((name && (rc = check_group_name(name, diag))) ||
        (rc = check_text("Remark", remark, CAM_REMARK_MAX, diag)))
        return rc;
    struct group_ctx ctx = {meta, actor, owner_uin, group_id, name, remark};
    return group_error(store_tx(app->store, group_update_fn, &ctx), &ctx, diag);
}

static int group_delete_fn(struct store_conn *c, void *arg)
{
    struct group_ctx *ctx = arg;
    struct cam_group g;
    int rc;
    if ((rc = cam_gen_bump(c, ctx->owner_uin)) ||
        (rc = group_read(c, ctx->owner_uin, ctx->group_id, &g)))
        return rc;
    struct store_val p[] = {SV_I64(ctx->owner_uin), SV_I64(ctx->group_id)};
    if ((rc = store_exec(c,
                         "DELETE FROM cam_attachments WHERE owner_uin = $1"
                         " AND entity_kind = 'group' AND entity_id = $2",
                         p, 2, NULL)) ||
        (rc = store_exec(c, "DELETE FROM cam_group_members WHERE owner_uin = $1 AND group_id = $2",
                         p, 2, NULL)) ||
        (rc = store_exec(c, "DELETE FROM cam_groups WHERE owner_uin = $1 AND group_id = $2", p, 2,
                         NULL)))
        return rc;
    audit_in(c, ctx->meta, ctx->actor, "cam:DeleteGroup", g.name, &rc);
    return rc;
}

int cam_group_delete(struct app *app, const struct req_meta *meta, const struct principal *actor,
                     uint64_t owner_uin, uint64_t group_id, struct be_diag *diag)
{
    struct group_ctx ctx = {meta, actor, owner_uin, group_id, NULL, NULL};
    return group_error(store_tx(app->store, group_delete_fn, &ctx), &ctx, diag);
}

struct member_ctx {
    const struct req_meta *meta;
    const struct principal *actor;
    uint64_t owner_uin;
    const struct cam_membership *m;
    size_t n;
    bool add;
    struct be_diag *diag;
};

static int member_one(struct store_conn *c, struct member_ctx *ctx, const struct cam_membership *m)
{
    struct cam_group g;
    struct cam_user u;
    int64_t n = 0;
    int rc;
    if (!m->uid && !m->uin)
        return be_fail(ctx->diag, BE_UID_UIN_NULL, "each Info entry needs Uid or Uin");
    rc = group_read(c, ctx->owner_uin, m->group_id, &g);
    if (rc == BE_GROUP_NOT_EXIST)
        return be_fail(ctx->diag, BE_PARAM_GROUP_NOT_EXIST, "no group %llu in this account",
                       (unsigned long long)m->group_id);
    if (rc)
        return rc;
    rc = m->uid ? user_where(c, "uid = $2", ctx->owner_uin, SV_I64(m->uid), &u)
                : user_where(c, "uin = $2", ctx->owner_uin, SV_I64(m->uin), &u);
    if (rc == BE_USER_NOT_EXIST)
        return be_fail(ctx->diag, rc, "no user with %s %llu in this account",
                       m->uid ? "Uid" : "Uin", (unsigned long long)(m->uid ? m->uid : m->uin));
    if (rc)
        return rc;
    struct store_val p[] = {SV_I64(m->group_id), SV_I64(u.uid)};
    if (!ctx->add)
        return store_exec(c, "DELETE FROM cam_group_members WHERE group_id = $1 AND uid = $2", p, 2,
                          NULL);
    if ((rc = count_of(c, "SELECT COUNT(*) FROM cam_group_members WHERE group_id = $1 AND uid = $2",
                       p, 2, &n)))
        return rc;
    if (n)
        return BE_OK; /* already a member */
    if (g.members >= CAM_GROUP_MEMBERS_MAX)
        return be_fail(ctx->diag, BE_GROUP_USER_FULL, "group %s already has %d members", g.name,
                       CAM_GROUP_MEMBERS_MAX);
    if ((rc = count_of(c, "SELECT COUNT(*) FROM cam_group_members WHERE uid = $1",
                       SV_ARGS(SV_I64(u.uid)), &n)))
        return rc;
    if (n >= CAM_GROUPS_PER_USER)
        return be_fail(ctx->diag, BE_USER_GROUP_FULL, "user %s is already in %d groups", u.name,
                       CAM_GROUPS_PER_USER);
    return store_exec(
        c,
        "INSERT INTO cam_group_members (group_id, uid, owner_uin, added_at)"
        " VALUES ($1, $2, $3, $4)",
        SV_ARGS(SV_I64(m->group_id), SV_I64(u.uid), SV_I64(ctx->owner_uin), SV_I64(ctx->meta->now)),
        NULL);
}

static int member_fn(struct store_conn *c, void *arg)
{
    struct member_ctx *ctx = arg;
    int rc = cam_gen_bump(c, ctx->owner_uin);
    for (size_t i = 0; rc == BE_OK && i < ctx->n; i++)
        rc = member_one(c, ctx, &ctx->m[i]);
    audit_in(c, ctx->meta, ctx->actor, ctx->add ? "cam:AddUserToGroup" : "cam:RemoveUserFromGroup",
             NULL, &rc);
    return rc;
}

int cam_group_add_members(struct app *app, const struct req_meta *meta,
                          const struct principal *actor, uint64_t owner_uin,
                          const struct cam_membership *m, size_t n, struct be_diag *diag)
{
    struct member_ctx ctx = {meta, actor, owner_uin, m, n, true, diag};
    return store_tx(app->store, member_fn, &ctx);
}

int cam_group_remove_members(struct app *app, const struct req_meta *meta,
                             const struct principal *actor, uint64_t owner_uin,
                             const struct cam_membership *m, size_t n, struct be_diag *diag)
{
    struct member_ctx ctx = {meta, actor, owner_uin, m, n, false, diag};
    return store_tx(app->store, member_fn, &ctx);
}

int cam_group_members(struct app *app, uint64_t owner_uin, uint64_t group_id, size_t offset,
                      size_t limit, struct cam_user **ret, size_t *ret_count, size_t *ret_total)
{
    struct cam_group g;
    int rc = cam_group_get(app, owner_uin, group_id, &g);
    if (rc)
        return rc;
    struct list_ctx ctx = {
        "SELECT " USER_COLS " FROM cam_users WHERE owner_uin = $1 AND uid IN"
        " (SELECT uid FROM cam_group_members WHERE group_id = $2) ORDER BY uid LIMIT $3 OFFSET $4",
        "SELECT COUNT(*) FROM cam_group_members WHERE owner_uin = $1 AND group_id = $2",
        SV_ARGS(SV_I64(owner_uin), SV_I64(group_id)),
        offset,
        limit,
        false,
        NULL,
        NULL,
        0,
        0};
    rc = store_tx(app->store, list_fn, &ctx);
    if (rc) {
        free(ctx.users);
        return rc;
    }
    *ret = ctx.users;
    *ret_count = ctx.count;
    *ret_total = ctx.total;
    return BE_OK;
}

int cam_groups_of_user(struct app *app, uint64_t owner_uin, uint64_t uid, size_t offset,
                       size_t limit, struct cam_group **ret, size_t *ret_count, size_t *ret_total)
{
    struct list_ctx ctx = {
        "SELECT " GROUP_COLS " FROM cam_groups WHERE owner_uin = $1 AND group_id IN"
        " (SELECT group_id FROM cam_group_members WHERE uid = $2)"
        " ORDER BY group_id LIMIT $3 OFFSET $4",
        "SELECT COUNT(*) FROM cam_group_members WHERE owner_uin = $1 AND uid = $2",
        SV_ARGS(SV_I64(owner_uin), SV_I64(uid)),
        offset,
        limit,
        true,
        NULL,
        NULL,
        0,
        0};
    int rc = store_tx(app->store, list_fn, &ctx);
    if (rc) {
        free(ctx.groups);
        return rc;
    }
    *ret = ctx.groups;
    *ret_count = ctx.count;
    *ret_total = ctx.total;
    return BE_OK;
}

/* ---- summary ---- */

struct summary_ctx {
    uint64_t owner_uin;
    struct cam_summary s;
};

static int summary_fn(struct store_conn *c, void *arg)
{
    struct summary_ctx *ctx = arg;
    struct store_result *r = NULL;
    int rc = store_query(c,
                         "SELECT (SELECT COUNT(*) FROM cam_users WHERE owner_uin = $1),"
                         " (SELECT COUNT(*) FROM cam_groups WHERE owner_uin = $1),"
                         " (SELECT COUNT(*) FROM cam_group_members WHERE owner_uin = $1),"
                         " (SELECT COUNT(*) FROM cam_policies WHERE owner_uin = $1)",
                         SV_ARGS(SV_I64(ctx->owner_uin)), &r);
    if (rc == BE_OK) {
        ctx->s.users = (uint64_t)store_result_i64(r, 0, 0);
        ctx->s.groups = (uint64_t)store_result_i64(r, 0, 1);
        ctx->s.members = (uint64_t)store_result_i64(r, 0, 2);
        ctx->s.policies = (uint64_t)store_result_i64(r, 0, 3);
    }
    store_result_free(r);
    return rc;
}

int cam_summary_get(struct app *app, uint64_t owner_uin, struct cam_summary *ret)
{
    struct summary_ctx ctx = {owner_uin, {0, 0, 0, 0}};
    int rc = store_tx(app->store, summary_fn, &ctx);
    if (rc == BE_OK)
        *ret = ctx.s;
    return rc;
}
