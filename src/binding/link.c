#include "binding/link.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "account/account.h"
#include "audit/audit.h"
#include "core/buf.h"
#include "core/crypto.h"
#include "core/mem.h"
#include "core/parse.h"
#include "wechat/component.h"
#include "core/banned.h"

#define LINK_COLUMNS                                                                               \
    "id, owner_uin, authorizer_appid, app_type, state, revoked_reason, nick_name,"                 \
    " principal_name, head_img, user_name, func_ids,"                                              \
    " CASE WHEN refresh_token_sealed IS NULL THEN 0 ELSE 1 END, linked_at, authorized_at,"         \
    " grant_seq, last_verified_at, revoked_at, unlinked_at, check_after, check_error, updated_at"

const char *link_state_name(enum link_state state)
{
    static const char *const names[] = {"active", "revoked", "unlinked"};
    return names[state];
}

const char *link_reason_name(enum link_reason reason)
{
    static const char *const names[] = {"", "push", "detected"};
    return names[reason];
}

const char *link_app_type_name(enum link_app_type type)
{
    return type == LINK_APP_MP ? "mp" : "oa";
}

const char *link_purpose_name(enum link_purpose purpose)
{
    return purpose == LINK_PURPOSE_LOGIN ? "login" : "link";
}

const char *link_change_name(enum link_change change)
{
    static const char *const names[] = {"created", "reauthorized", "refreshed"};
    return names[change];
}

/* --- rows ------------------------------------------------------------------ */

static void copy_text(char *dst, size_t size, const char *s)
{
    snprintf(dst, size, "%s", s ? s : "");
}

/* "1,2,3" -> ids; ignores anything malformed (the column is ours). */
static void parse_funcs(const char *s, uint32_t *ids, size_t *ret_n)
{
    size_t n = 0;
    while (s && *s && n < LINK_FUNC_MAX) {
        const char *end = strchr(s, ',');
        size_t len = end ? (size_t)(end - s) : strlen(s);
        uint64_t v;
        if (!parse_u64n(s, len, UINT32_MAX, &v))
            ids[n++] = (uint32_t)v;
        s = end ? end + 1 : NULL;
    }
    *ret_n = n;
}

static void format_funcs(const uint32_t *ids, size_t n, struct buf *out)
{
    for (size_t i = 0; i < n; i++)
        buf_addf(out, "%s%u", i ? "," : "", ids[i]);
}

static enum link_state state_of(const char *s)
{
    if (s && !strcmp(s, "revoked"))
        return LINK_REVOKED;
    if (s && !strcmp(s, "unlinked"))
        return LINK_UNLINKED;
    return LINK_ACTIVE;
}

static enum link_reason reason_of(const char *s)
{
    if (s && !strcmp(s, "push"))
        return LINK_REASON_PUSH;
    if (s && !strcmp(s, "detected"))
        return LINK_REASON_DETECTED;
    return LINK_REASON_NONE;
}

static void row_to_link(const struct store_result *r, size_t i, struct link *l)
{
    memset(l, 0, sizeof(*l));
    l->id = store_result_i64(r, i, 0);
    l->owner_uin = (uint64_t)store_result_i64(r, i, 1);
    copy_text(l->appid, sizeof(l->appid), store_result_text(r, i, 2));
    const char *type = store_result_text(r, i, 3);
    l->app_type = type && !strcmp(type, "mp") ? LINK_APP_MP : LINK_APP_OA;
    l->state = state_of(store_result_text(r, i, 4));
    l->reason = reason_of(store_result_text(r, i, 5));
    copy_text(l->nick_name, sizeof(l->nick_name), store_result_text(r, i, 6));
    copy_text(l->principal_name, sizeof(l->principal_name), store_result_text(r, i, 7));
    copy_text(l->head_img, sizeof(l->head_img), store_result_text(r, i, 8));
    copy_text(l->user_name, sizeof(l->user_name), store_result_text(r, i, 9));
    parse_funcs(store_result_text(r, i, 10), l->func_ids, &l->nfunc);
    l->has_refresh_token = store_result_i64(r, i, 11) != 0;
    l->linked_at = store_result_i64(r, i, 12);
    l->authorized_at = store_result_i64(r, i, 13);
    l->grant_seq = store_result_i64(r, i, 14);
    l->last_verified_at = store_result_i64(r, i, 15);
    l->revoked_at = store_result_i64(r, i, 16);
    l->unlinked_at = store_result_i64(r, i, 17);
    l->check_after = store_result_i64(r, i, 18);
    copy_text(l->check_error, sizeof(l->check_error), store_result_text(r, i, 19));
    l->updated_at = store_result_i64(r, i, 20);
}

/* The live link of appid; *ret_found false when there is none. */
static int load_live(struct store_conn *c, const char *appid, struct link *ret, bool *ret_found)
{
    struct store_result *r = NULL;
    int rc = store_query(c,
                         "SELECT " LINK_COLUMNS " FROM wechat_links"
                         " WHERE authorizer_appid = $1 AND state <> 'unlinked'",
                         SV_ARGS(SV_TEXT(appid)), &r);
    *ret_found = rc == BE_OK && store_result_rows(r) > 0;
    if (*ret_found)
        row_to_link(r, 0, ret);
    store_result_free(r);
    return rc;
}

static int load_by_id(struct store_conn *c, int64_t id, struct link *ret)
{
    struct store_result *r = NULL;
    int rc = store_query(c, "SELECT " LINK_COLUMNS " FROM wechat_links WHERE id = $1",
                         SV_ARGS(SV_I64(id)), &r);
    if (rc == BE_OK && !store_result_rows(r))
        rc = BE_NOT_FOUND;
    if (rc == BE_OK)
        row_to_link(r, 0, ret);
    store_result_free(r);
    return rc;
}

void link_grant_from_wechat(const struct wx_authorization *auth,
                            const struct wx_authorizer_info *info, struct link_grant *ret)
{
    memset(ret, 0, sizeof(*ret));
    copy_text(ret->appid, sizeof(ret->appid), auth->authorizer_appid);
    copy_text(ret->refresh_token, sizeof(ret->refresh_token), auth->authorizer_refresh_token);
    for (size_t i = 0; i < auth->nfunc && ret->nfunc < LINK_FUNC_MAX; i++)
        ret->func_ids[ret->nfunc++] = auth->func_ids[i];
    ret->app_type = LINK_APP_OA;
    if (!info)
        return;
    ret->app_type = info->is_mini_program ? LINK_APP_MP : LINK_APP_OA;
    copy_text(ret->nick_name, sizeof(ret->nick_name), info->nick_name);
    copy_text(ret->principal_name, sizeof(ret->principal_name), info->principal_name);
    copy_text(ret->head_img, sizeof(ret->head_img), info->head_img);
    copy_text(ret->user_name, sizeof(ret->user_name), info->user_name);
}

int64_t link_next_check(const struct config *cfg, int64_t now)
{
    uint64_t interval = cfg->link_check_interval ? cfg->link_check_interval : 3600;
    uint64_t jitter = interval / 10;
    return now + (int64_t)(interval - (jitter ? crypto_random_range(0, jitter) : 0));
}

/* --- history and audit ---------------------------------------------------------- */

static int history(struct store_conn *c, const struct req_meta *meta, const struct link *l,
                   const char *event, const char *detail, uint64_t actor)
{
    return store_exec(c,
                      "INSERT INTO wechat_link_history (link_id, owner_uin, authorizer_appid,"
                      " event, detail, actor_uin, at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                      SV_ARGS(SV_I64(l->id), SV_I64(l->owner_uin), SV_TEXT(l->appid),
                              SV_TEXT(event), SV_TEXT(detail), SV_I64(actor), SV_I64(meta->now)),
                      NULL);
}

static int audit(struct store_conn *c, const struct req_meta *meta, const struct link *l,
                 uint64_t actor, const char *action, const char *how)
{
    char detail[LINK_NOTE_MAX + 1];
    snprintf(detail, sizeof(detail), "%s (%s)%s%s", l->appid, link_app_type_name(l->app_type),
             how && *how ? ", " : "", how ? how : "");
    struct audit_entry e = {l->owner_uin, actor, action, "success", detail};
    return audit_record(c, meta, &e);
}

/* --- applying a grant ------------------------------------------------------- */

static void seal_token(const struct app *app, const struct link_grant *g, struct buf *out)
{
    if (g->refresh_token[0])
        wx_seal_refresh_token(app, g->appid, g->refresh_token, out);
}

static int insert_link(struct store_conn *c, const struct app *app, const struct req_meta *meta,
                       uint64_t owner, const struct link_grant *g, struct link *ret)
{
    struct buf sealed = BUF_INIT, funcs = BUF_INIT;
    struct store_result *r = NULL;
    seal_token(app, g, &sealed);
    format_funcs(g->func_ids, g->nfunc, &funcs);
    int64_t now = meta->now;
    int rc = store_query(
        c,
        "INSERT INTO wechat_links (owner_uin, authorizer_appid, app_type, state, nick_name,"
        " principal_name, head_img, user_name, func_ids, refresh_token_sealed, linked_at,"
        " authorized_at, grant_seq, last_verified_at, check_after, updated_at)"
        " VALUES ($1, $2, $3, 'active', $4, $5, $6, $7, $8, $9, $10, $10, 1, $10, $11, $10)"
        " RETURNING id",
        SV_ARGS(SV_I64(owner), SV_TEXT(g->appid), SV_TEXT(link_app_type_name(g->app_type)),
                SV_TEXT(g->nick_name), SV_TEXT(g->principal_name), SV_TEXT(g->head_img),
                SV_TEXT(g->user_name), SV_TEXT(funcs.data),
                sealed.len ? SV_BLOB(sealed.data, sealed.len) : SV_NULL, SV_I64(now),
                SV_I64(link_next_check(app->cfg, now))),
        &r);
    if (rc == BE_OK && !store_result_rows(r))
        rc = BE_INTERNAL;
    if (rc == BE_OK)
        rc = load_by_id(c, store_result_i64(r, 0, 0), ret);
    store_result_free(r);
    buf_release(&sealed);
    buf_release(&funcs);
    return rc;
}

/* Is the grant's token the one stored (a second application of one grant)? */
static bool same_token(const struct app *app, struct store_conn *c, const struct link *l,
                       const struct link_grant *g)
{
    struct store_result *r = NULL;
    char stored[WX_TOKEN_MAX + 1] = "";
    size_t len = 0;
    bool same = false;
    if (store_query(c, "SELECT refresh_token_sealed FROM wechat_links WHERE id = $1",
                    SV_ARGS(SV_I64(l->id)), &r) == BE_OK) {
        const void *sealed = store_result_blob(r, 0, 0, &len);
        if (sealed && wx_open_refresh_token(app, l->appid, sealed, len, stored) == BE_OK)
            same = crypto_str_equal(stored, g->refresh_token);
    }
    crypto_wipe(stored, sizeof(stored));
    store_result_free(r);
    return same;
}

static bool same_funcs(const struct link *l, const struct link_grant *g)
{
    return l->nfunc == g->nfunc && !memcmp(l->func_ids, g->func_ids, g->nfunc * sizeof(uint32_t));
}

/* The live link l gets the grant: active again, new token, sets, profile. */
static int regrant_row(struct store_conn *c, const struct app *app, const struct req_meta *meta,
                       const struct link *l, const struct link_grant *g, bool changed)
{
    struct buf sealed = BUF_INIT, funcs = BUF_INIT;
    seal_token(app, g, &sealed);
    format_funcs(g->func_ids, g->nfunc, &funcs);
    int64_t now = meta->now, changes = 0;
    int rc = store_exec(
        c,
        "UPDATE wechat_links SET state = 'active', revoked_reason = NULL, app_type = $1,"
        " nick_name = $2, principal_name = $3, head_img = $4, user_name = $5, func_ids = $6,"
        " refresh_token_sealed = $7,"
        " authorized_at = CASE WHEN $8 = 1 THEN $9 ELSE authorized_at END,"
        " grant_seq = grant_seq + $8, last_verified_at = $9, check_after = $10,"
        " check_owner = NULL, check_until = 0, check_error = NULL, updated_at = $9"
        " WHERE id = $11 AND state <> 'unlinked'",
        SV_ARGS(SV_TEXT(link_app_type_name(g->app_type)), SV_TEXT(g->nick_name),
                SV_TEXT(g->principal_name), SV_TEXT(g->head_img), SV_TEXT(g->user_name),
                SV_TEXT(funcs.data), sealed.len ? SV_BLOB(sealed.data, sealed.len) : SV_NULL,
                SV_I64(changed ? 1 : 0), SV_I64(now), SV_I64(link_next_check(app->cfg, now)),
                SV_I64(l->id)),
        &changes);
    if (rc == BE_OK && changes != 1)
        rc = BE_CONFLICT;
    buf_release(&sealed);
    buf_release(&funcs);
    return rc;
}

static const char *audit_action(const struct link_outcome *o, bool login, bool changed)
{
    if (o->registered)
        return "wxlink.register";
    if (o->change == LINK_CHANGE_CREATED)
        return "wxlink.link";
    if (o->change == LINK_CHANGE_REAUTHORIZED)
        return "wxlink.reauthorize";
    if (login)
        return "wxlink.login";
    return changed ? "wxlink.refresh" : NULL;
}

/* The history detail of a grant: how it reached Bindery. */
static const char *grant_detail(const struct link_target *t)
{
    if (t->via && !strcmp(t->via, "push"))
        return "confirmed on WeChat; applied from WeChat's authorization push";
    if (t->via && !strcmp(t->via, "redirect"))
        return "confirmed on WeChat; completed when the browser came back";
    return t->via;
}

/* History and audit of an applied grant. */
static int record(struct store_conn *c, const struct req_meta *meta, const struct link_target *t,
                  const struct link_outcome *o, bool changed)
{
    const struct link *l = &o->link;
    uint64_t actor = t->purpose == LINK_PURPOSE_LINK ? t->actor_uin : o->uin;
    bool login = t->purpose == LINK_PURPOSE_LOGIN && t->record_login;
    int rc = BE_OK;
    if (o->registered)
        rc = history(c, meta, l, "registered", "a new account registered through the app", actor);
    if (!rc && o->change == LINK_CHANGE_CREATED)
        rc = history(c, meta, l, "linked", grant_detail(t), actor);
    if (!rc && o->change == LINK_CHANGE_REAUTHORIZED)
        rc = history(c, meta, l, "reauthorized", grant_detail(t), actor);
    if (!rc && o->change == LINK_CHANGE_REFRESHED && changed)
        rc = history(c, meta, l, "refreshed", "WeChat gave a new token or permission sets", actor);
    if (!rc && login)
        rc = history(c, meta, l, "login", "scan-to-log-in", o->uin);
    const char *action = audit_action(o, login, changed);
    if (!rc && action)
        rc = audit(c, meta, l, actor, action, t->via);
    return rc;
}

static int regrant(struct store_conn *c, const struct app *app, const struct req_meta *meta,
                   const struct link_target *t, const struct link_grant *g, const struct link *cur,
                   struct link_outcome *ret)
{
    bool was_revoked = cur->state == LINK_REVOKED;
    bool changed = was_revoked || !same_funcs(cur, g) || !same_token(app, c, cur, g);
    int rc = regrant_row(c, app, meta, cur, g, changed);
    if (rc)
        return rc;
    memset(ret, 0, sizeof(*ret));
    ret->change = was_revoked ? LINK_CHANGE_REAUTHORIZED : LINK_CHANGE_REFRESHED;
    ret->uin = cur->owner_uin;
    if ((rc = load_by_id(c, cur->id, &ret->link)))
        return rc;
    return record(c, meta, t, ret, changed);
}

static int count_live(struct store_conn *c, uint64_t owner, int64_t *ret)
{
    struct store_result *r = NULL;
    int rc = store_query(c,
                         "SELECT COUNT(*) FROM wechat_links WHERE owner_uin = $1"
                         " AND state <> 'unlinked'",
                         SV_ARGS(SV_I64(owner)), &r);
    if (rc == BE_OK)
        *ret = store_result_i64(r, 0, 0);
    store_result_free(r);
    return rc;
}

/* The seed's rule: an account registered through a mini program cannot link
 * another mini program. The diag is the way around it (seed §4). */
static int mp_rule(const struct app *app, const struct account *a, const struct link_grant *g,
                   struct be_diag *diag)
{
    if (app->cfg->link_allow_mp_registered_second_mp || g->app_type != LINK_APP_MP ||
        strcmp(a->registered_via, "wechat") || strcmp(a->registered_app_type, "mp") ||
        !strcmp(a->registered_appid, g->appid))
        return BE_OK;
    return be_fail(diag, BE_MP_REGISTERED,
                   "account %llu was registered through the mini program %s and cannot link "
                   "another mini program (%s). Instead: on the login page use the WeChat button "
                   "and pick %s to register a new account; copy its account ID; in this account "
                   "open access management and create a user with that account ID as its login "
                   "account (a collaborator), grant it policies; the new account then uses "
                   "switch developer to work here",
                   (unsigned long long)a->uin, a->registered_appid, g->appid, g->appid);
}

static int create_link(struct store_conn *c, const struct app *app, const struct req_meta *meta,
                       const struct link_target *t, const struct link_grant *g,
                       struct link_outcome *ret, struct be_diag *diag)
{
    struct account a;
    int64_t live = 0;
    int rc = account_lock(c, t->owner_uin, &a);
    if (rc == BE_NOT_FOUND)
        return be_fail(diag, rc, "account %llu does not exist", (unsigned long long)t->owner_uin);
    if (rc || (rc = count_live(c, t->owner_uin, &live)))
        return rc;
    if (live >= (int64_t)app->cfg->link_max_per_account)
        return be_fail(diag, BE_LINK_LIMIT,
                       "account %llu already has %lld linked WeChat apps, the most it may have "
                       "(link.max_per_account); unlink one before linking %s",
                       (unsigned long long)t->owner_uin, (long long)live, g->appid);
    if ((rc = mp_rule(app, &a, g, diag)))
        return rc;
    memset(ret, 0, sizeof(*ret));
    ret->change = LINK_CHANGE_CREATED;
    ret->uin = t->owner_uin;
    if ((rc = insert_link(c, app, meta, t->owner_uin, g, &ret->link)))
        return rc;
    return record(c, meta, t, ret, true);
}

static int register_and_link(struct store_conn *c, const struct app *app,
                             const struct req_meta *meta, const struct link_target *t,
                             const struct link_grant *g, struct link_outcome *ret)
{
    struct account a;
    int rc = account_create_wechat(c, meta, g->appid, link_app_type_name(g->app_type), &a);
    if (rc)
        return rc;
    memset(ret, 0, sizeof(*ret));
    ret->change = LINK_CHANGE_CREATED;
    ret->registered = true;
    ret->uin = a.uin;
    if ((rc = insert_link(c, app, meta, a.uin, g, &ret->link)))
        return rc;
    return record(c, meta, t, ret, true);
}

static int elsewhere(const struct link_grant *g, struct be_diag *diag)
{
    return be_fail(diag, BE_APP_LINKED_ELSEWHERE,
                   "the WeChat app %s%s%s%s is linked to another Bindery account. To link it "
                   "here, unlink it in that account first (account center, unlink); to reach "
                   "that account, use the WeChat button on the login page and pick the app",
                   g->appid, g->nick_name[0] ? " (" : "", g->nick_name, g->nick_name[0] ? ")" : "");
}

int link_apply_grant(struct store_conn *c, const struct app *app, const struct req_meta *meta,
                     const struct link_target *t, const struct link_grant *g,
                     struct link_outcome *ret, struct be_diag *diag)
{
    struct link cur;
    bool live = false;
    if (!g->appid[0])
        return be_fail(diag, BE_INVALID_PARAMETER_VALUE, "WeChat named no app in the grant");
    if (t->expected_appid && *t->expected_appid && strcmp(t->expected_appid, g->appid))
        return be_fail(diag, BE_INVALID_PARAMETER_VALUE,
                       "this authorization was for re-authorizing %s, but %s was picked; start "
                       "again and pick %s",
                       t->expected_appid, g->appid, t->expected_appid);
    int rc = load_live(c, g->appid, &cur, &live);
    if (rc)
        return rc;
    if (live) {
        if (t->purpose == LINK_PURPOSE_LINK && cur.owner_uin != t->owner_uin)
            return elsewhere(g, diag);
        rc = regrant(c, app, meta, t, g, &cur, ret);
        if (rc == BE_OK)
            ret->purpose = t->purpose;
        return rc;
    }
    if (t->purpose == LINK_PURPOSE_LINK)
        rc = create_link(c, app, meta, t, g, ret, diag);
    else
        rc = register_and_link(c, app, meta, t, g, ret);
    if (rc == BE_OK)
        ret->purpose = t->purpose;
    return rc;
}

int link_record_login(struct store_conn *c, const struct req_meta *meta, const struct link *l)
{
    int rc = history(c, meta, l, "login", "scan-to-log-in", l->owner_uin);
    if (rc == BE_OK)
        rc = audit(c, meta, l, l->owner_uin, "wxlink.login", "redirect");
    return rc;
}

void link_resource(uint64_t owner_uin, const char *appid, struct buf *out)
{
    buf_addf(out, "qcs::wxlink::uin/%llu:link/%s", (unsigned long long)owner_uin,
             appid && *appid ? appid : "*");
}

/* --- ending a link ----------------------------------------------------------- */

struct unlink_ctx {
    const struct req_meta *meta;
    uint64_t owner, actor;
    const char *appid;
    struct link link;
};

static int unlink_fn(struct store_conn *c, void *arg)
{
    struct unlink_ctx *x = arg;
    struct link cur;
    bool live = false;
    int64_t changes = 0;
    int rc = load_live(c, x->appid, &cur, &live);
    if (rc)
        return rc;
    if (!live || cur.owner_uin != x->owner)
        return BE_LINK_NOT_FOUND;
    rc = store_exec(c,
                    "UPDATE wechat_links SET state = 'unlinked', refresh_token_sealed = NULL,"
                    " unlinked_at = $1, check_owner = NULL, check_until = 0, updated_at = $1"
                    " WHERE id = $2 AND state <> 'unlinked'",
                    SV_ARGS(SV_I64(x->meta->now), SV_I64(cur.id)), &changes);
    if (rc == BE_OK && changes != 1)
        rc = BE_CONFLICT;
    if (rc == BE_OK)
        rc = load_by_id(c, cur.id, &x->link);
    if (rc == BE_OK)
        rc = history(c, x->meta, &x->link, "unlinked",
                     "unlinked in Bindery; WeChat's authorization is unchanged", x->actor);
    if (rc == BE_OK)
        rc = audit(c, x->meta, &x->link, x->actor, "wxlink.unlink", NULL);
    return rc;
}

int link_unlink(struct app *app, const struct req_meta *meta, uint64_t owner_uin,
                uint64_t actor_uin, const char *appid, struct link *ret, struct be_diag *diag)
{
    struct unlink_ctx x = {.meta = meta, .owner = owner_uin, .actor = actor_uin, .appid = appid};
    int rc = store_tx(app->store, unlink_fn, &x);
    if (rc == BE_LINK_NOT_FOUND)
        return be_fail(diag, rc, "account %llu has no link of the WeChat app %s",
                       (unsigned long long)owner_uin, appid);
    if (rc == BE_OK && ret)
        *ret = x.link;
    return rc;
}

int link_revoke(struct store_conn *c, const struct req_meta *meta, const char *appid,
                enum link_reason reason, int64_t grant_seq, const char *detail, struct link *ret)
{
    struct link cur, done;
    bool live = false;
    int64_t changes = 0;
    int rc = load_live(c, appid, &cur, &live);
    if (rc)
        return rc;
    if (!live || cur.state != LINK_ACTIVE || (grant_seq && cur.grant_seq != grant_seq))
        return BE_NOT_FOUND;
    rc = store_exec(c,
                    "UPDATE wechat_links SET state = 'revoked', revoked_reason = $1,"
                    " refresh_token_sealed = NULL, revoked_at = $2, check_owner = NULL,"
                    " check_until = 0, updated_at = $2"
                    " WHERE id = $3 AND state = 'active' AND grant_seq = $4",
                    SV_ARGS(SV_TEXT(link_reason_name(reason)), SV_I64(meta->now), SV_I64(cur.id),
                            SV_I64(cur.grant_seq)),
                    &changes);
    if (rc == BE_OK && changes != 1)
        rc = BE_CONFLICT;
    if (rc == BE_OK)
        rc = load_by_id(c, cur.id, &done);
    if (rc == BE_OK)
        rc = history(c, meta, &done, "revoked", detail, 0);
    if (rc == BE_OK)
        rc = audit(c, meta, &done, 0, "wxlink.revoke",
                   reason == LINK_REASON_PUSH ? "unauthorized push" : detail);
    if (rc == BE_OK && ret)
        *ret = done;
    return rc;
}

struct revoke_ctx {
    const struct req_meta *meta;
    const char *appid;
    enum link_reason reason;
    int64_t grant_seq;
    const char *detail;
    struct link *ret;
};

static int revoke_fn(struct store_conn *c, void *arg)
{
    struct revoke_ctx *x = arg;
    return link_revoke(c, x->meta, x->appid, x->reason, x->grant_seq, x->detail, x->ret);
}

int link_revoke_now(struct app *app, const struct req_meta *meta, const char *appid,
                    enum link_reason reason, int64_t grant_seq, const char *detail,
                    struct link *ret)
{
    struct revoke_ctx x = {meta, appid, reason, grant_seq, detail, ret};
    return store_tx(app->store, revoke_fn, &x);
}

/* --- reading ------------------------------------------------------------------- */

struct get_ctx {
    const char *appid;
    struct link link;
    bool found;
};

static int get_fn(struct store_conn *c, void *arg)
{
    struct get_ctx *x = arg;
    return load_live(c, x->appid, &x->link, &x->found);
}

int link_get_live(struct app *app, const char *appid, struct link *ret)
{
    struct get_ctx x = {.appid = appid};
    int rc = store_run(app->store, get_fn, &x);
    if (rc)
        return rc;
    if (!x.found)
        return BE_NOT_FOUND;
    *ret = x.link;
    return BE_OK;
}

int link_load_live(struct store_conn *c, const char *appid, struct link *ret)
{
    bool found = false;
    int rc = load_live(c, appid, ret, &found);
    return rc ? rc : found ? BE_OK : BE_NOT_FOUND;
}

int link_get_owned(struct app *app, uint64_t owner_uin, const char *appid, struct link *ret)
{
    struct link l;
    int rc = link_get_live(app, appid, &l);
    if (rc == BE_NOT_FOUND || (rc == BE_OK && l.owner_uin != owner_uin))
        return BE_LINK_NOT_FOUND;
    if (rc == BE_OK)
        *ret = l;
    return rc;
}

struct page_ctx {
    uint64_t owner;
    size_t offset, limit;
    struct store_result *rows;
    size_t total;
};

static int count_rows(struct store_conn *c, const char *sql, uint64_t owner, size_t *ret)
{
    struct store_result *r = NULL;
    int rc = store_query(c, sql, SV_ARGS(SV_I64(owner)), &r);
    if (rc == BE_OK)
        *ret = (size_t)store_result_i64(r, 0, 0);
    store_result_free(r);
    return rc;
}

static int list_fn(struct store_conn *c, void *arg)
{
    struct page_ctx *x = arg;
    int rc = count_rows(c, "SELECT COUNT(*) FROM wechat_links WHERE owner_uin = $1", x->owner,
                        &x->total);
    if (rc)
        return rc;
    return store_query(c,
                       "SELECT " LINK_COLUMNS " FROM wechat_links WHERE owner_uin = $1"
                       " ORDER BY CASE WHEN state = 'unlinked' THEN 1 ELSE 0 END, id DESC"
                       " LIMIT $2 OFFSET $3",
                       SV_ARGS(SV_I64(x->owner), SV_I64(x->limit), SV_I64(x->offset)), &x->rows);
}

int link_list(struct app *app, uint64_t owner_uin, size_t offset, size_t limit,
              struct link **ret_links, size_t *ret_n, size_t *ret_total)
{
    if (limit < 1 || limit > LINK_PAGE_MAX || offset > INT64_MAX)
        return BE_INVALID_PARAMETER_VALUE;
    struct page_ctx x = {owner_uin, offset, limit, NULL, 0};
    int rc = store_tx(app->store, list_fn, &x);
    if (rc) {
        store_result_free(x.rows);
        return rc;
    }
    size_t n = store_result_rows(x.rows);
    struct link *links = xcalloc(n ? n : 1, sizeof(*links));
    for (size_t i = 0; i < n; i++)
        row_to_link(x.rows, i, &links[i]);
    store_result_free(x.rows);
    *ret_links = links;
    *ret_n = n;
    *ret_total = x.total;
    return BE_OK;
}

static int history_fn(struct store_conn *c, void *arg)
{
    struct page_ctx *x = arg;
    int rc = count_rows(c, "SELECT COUNT(*) FROM wechat_link_history WHERE owner_uin = $1",
                        x->owner, &x->total);
    if (rc)
        return rc;
    return store_query(c,
                       "SELECT id, authorizer_appid, event, detail, actor_uin, at"
                       " FROM wechat_link_history WHERE owner_uin = $1"
                       " ORDER BY id DESC LIMIT $2 OFFSET $3",
                       SV_ARGS(SV_I64(x->owner), SV_I64(x->limit), SV_I64(x->offset)), &x->rows);
}

int link_history(struct app *app, uint64_t owner_uin, size_t offset, size_t limit,
                 struct link_history_entry **ret_entries, size_t *ret_n, size_t *ret_total)
{
    if (limit < 1 || limit > LINK_PAGE_MAX || offset > INT64_MAX)
        return BE_INVALID_PARAMETER_VALUE;
    struct page_ctx x = {owner_uin, offset, limit, NULL, 0};
    int rc = store_tx(app->store, history_fn, &x);
    if (rc) {
        store_result_free(x.rows);
        return rc;
    }
    size_t n = store_result_rows(x.rows);
    struct link_history_entry *h = xcalloc(n ? n : 1, sizeof(*h));
    for (size_t i = 0; i < n; i++) {
        h[i].id = store_result_i64(x.rows, i, 0);
        copy_text(h[i].appid, sizeof(h[i].appid), store_result_text(x.rows, i, 1));
        copy_text(h[i].event, sizeof(h[i].event), store_result_text(x.rows, i, 2));
        copy_text(h[i].detail, sizeof(h[i].detail), store_result_text(x.rows, i, 3));
        h[i].actor_uin = (uint64_t)store_result_i64(x.rows, i, 4);
        h[i].at = store_result_i64(x.rows, i, 5);
    }
    store_result_free(x.rows);
    *ret_entries = h;
    *ret_n = n;
    *ret_total = x.total;
    return BE_OK;
}

struct token_ctx {
    const struct app *app;
    const struct link *l;
    char *out;
};

static int token_fn(struct store_conn *c, void *arg)
{
    struct token_ctx *x = arg;
    struct store_result *r = NULL;
    size_t len = 0;
    int rc = store_query(c, "SELECT refresh_token_sealed FROM wechat_links WHERE id = $1",
                         SV_ARGS(SV_I64(x->l->id)), &r);
    const void *sealed = rc == BE_OK ? store_result_blob(r, 0, 0, &len) : NULL;
    if (rc == BE_OK)
        rc =
            sealed ? wx_open_refresh_token(x->app, x->l->appid, sealed, len, x->out) : BE_NOT_FOUND;
    store_result_free(r);
    return rc;
}

int link_refresh_token(struct app *app, const struct link *l, char ret[WX_TOKEN_MAX + 1])
{
    struct token_ctx x = {app, l, ret};
    return store_run(app->store, token_fn, &x);
}

/* --- verification and the background check ------------------------------- */

struct verified_ctx {
    const struct app *app;
    int64_t id, seq, now, next;
    const char *token;
    const struct link_grant *profile;
};

static int verified_fn(struct store_conn *c, void *arg)
{
    struct verified_ctx *x = arg;
    struct buf sealed = BUF_INIT;
    struct link cur;
    int64_t changes = 0;
    int rc = load_by_id(c, x->id, &cur);
    if (rc)
        return rc;
    if (x->token && *x->token)
        wx_seal_refresh_token(x->app, cur.appid, x->token, &sealed);
    const struct link_grant *p = x->profile;
    rc = store_exec(
        c,
        "UPDATE wechat_links SET last_verified_at = $1, check_after = $2, check_owner = NULL,"
        " check_until = 0, check_error = NULL,"
        " refresh_token_sealed = COALESCE($3, refresh_token_sealed),"
        " nick_name = COALESCE($4, nick_name), principal_name = COALESCE($5, principal_name),"
        " head_img = COALESCE($6, head_img), user_name = COALESCE($7, user_name)"
        " WHERE id = $8 AND state = 'active' AND grant_seq = $9",
        SV_ARGS(SV_I64(x->now), SV_I64(x->next),
                sealed.len ? SV_BLOB(sealed.data, sealed.len) : SV_NULL,
                p ? SV_TEXT(p->nick_name) : SV_NULL, p ? SV_TEXT(p->principal_name) : SV_NULL,
                p ? SV_TEXT(p->head_img) : SV_NULL, p ? SV_TEXT(p->user_name) : SV_NULL,
                SV_I64(x->id), SV_I64(x->seq)),
        &changes);
    buf_release(&sealed);
    if (rc == BE_OK && changes != 1)
        rc = BE_NOT_FOUND;
    return rc;
}

int link_mark_verified(struct app *app, int64_t id, int64_t grant_seq, int64_t now,
                       int64_t next_check, const char *refresh_token,
                       const struct link_grant *profile)
{
    struct verified_ctx x = {app, id, grant_seq, now, next_check, refresh_token, profile};
    return store_tx(app->store, verified_fn, &x);
}

struct failed_ctx {
    int64_t id;
    const char *owner;
    int64_t next;
    const char *error;
};

static int failed_fn(struct store_conn *c, void *arg)
{
    struct failed_ctx *x = arg;
    int64_t changes = 0;
    int rc = store_exec(
        c,
        "UPDATE wechat_links SET check_error = $1, check_after = $2,"
        " check_owner = NULL, check_until = 0 WHERE id = $3 AND check_owner = $4",
        SV_ARGS(SV_TEXT(x->error), SV_I64(x->next), SV_I64(x->id), SV_TEXT(x->owner)), &changes);
    if (rc == BE_OK && changes != 1)
        rc = BE_NOT_FOUND;
    return rc;
}

int link_check_failed(struct app *app, int64_t id, const char *owner, int64_t next_check,
                      const char *error)
{
    char note[LINK_NOTE_MAX + 1];
    snprintf(note, sizeof(note), "%s", error ? error : "");
    struct failed_ctx x = {id, owner, next_check, note};
    if (!owner || !*owner)
        return BE_INVALID_PARAMETER_VALUE;
    return store_run(app->store, failed_fn, &x);
}

struct claim_ctx {
    const char *owner;
    int64_t now, lease;
    size_t max;
    struct link *out;
    size_t n;
};

static int claim_fn(struct store_conn *c, void *arg)
{
    struct claim_ctx *x = arg;
    struct store_result *r = NULL;
    x->n = 0;
    int rc = store_query(c,
                         "SELECT " LINK_COLUMNS " FROM wechat_links WHERE state = 'active'"
                         " AND check_after <= $1 AND check_until <= $1"
                         " ORDER BY check_after, id LIMIT $2",
                         SV_ARGS(SV_I64(x->now), SV_I64(x->max)), &r);
    for (size_t i = 0; rc == BE_OK && i < store_result_rows(r); i++) {
        int64_t changes = 0;
        rc = store_exec(c,
                        "UPDATE wechat_links SET check_owner = $1, check_until = $2"
                        " WHERE id = $3 AND state = 'active' AND check_until <= $4",
                        SV_ARGS(SV_TEXT(x->owner), SV_I64(x->now + x->lease),
                                SV_I64(store_result_i64(r, i, 0)), SV_I64(x->now)),
                        &changes);
        if (rc == BE_OK && changes == 1)
            row_to_link(r, i, &x->out[x->n++]);
    }
    store_result_free(r);
    return rc;
}

int link_claim_checks(struct app *app, const char *owner, int64_t now, int64_t lease_s, size_t max,
                      struct link *ret_links, size_t *ret_n)
{
    if (!owner || !*owner || strlen(owner) > 64 || lease_s < 1 || max < 1 ||
        max > LINK_CHECK_BATCH_MAX)
        return BE_INVALID_PARAMETER_VALUE;
    struct claim_ctx x = {owner, now, lease_s, max, ret_links, 0};
    int rc = store_tx(app->store, claim_fn, &x);
    if (rc == BE_OK)
        *ret_n = x.n;
    return rc;
}
