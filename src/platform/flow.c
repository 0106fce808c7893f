/* The authorization flow (flow.h). */
#include "platform/flow.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/crypto.h"
#include "core/mem.h"
#include "platform/internal.h"
#include "core/banned.h"

static const struct {
    const char *marker, *title;
} reasons[] = {
    [PL_FLOW_OK] = {"", ""},
    [PL_FLOW_REFERER] = {"referer", "请从第三方平台的授权发起页进入"},
    [PL_FLOW_REDIRECT_DOMAIN] = {"redirect_domain", "回调地址的域名与设置的域名不一致"},
    [PL_FLOW_CODE_INVALID] = {"pre_auth_code_invalid", "授权链接无效"},
    [PL_FLOW_CODE_USED] = {"pre_auth_code_used", "授权链接已被使用"},
    [PL_FLOW_CODE_EXPIRED] = {"pre_auth_code_expired", "授权链接已过期"},
    [PL_FLOW_NOT_PUBLISHED] = {"not_published", "该第三方平台尚未全网发布"},
    [PL_FLOW_SESSION_INVALID] = {"session_invalid", "二维码无效"},
    [PL_FLOW_SESSION_EXPIRED] = {"session_expired", "二维码已过期"},
    [PL_FLOW_SESSION_CLOSED] = {"session_closed", "本次授权已结束"},
    [PL_FLOW_WXUSER_UNKNOWN] = {"wxuser_unknown", "未知的微信用户"},
    [PL_FLOW_NOT_ADMIN] = {"not_admin", "你不是该帐号的管理员"},
    [PL_FLOW_APP_NOT_LISTED] = {"app_not_listed", "该帐号不能授权给此第三方平台"},
    [PL_FLOW_NO_FUNCS] = {"no_funcs", "请至少选择一个权限集"},
    [PL_FLOW_TOO_MANY_COMPONENTS] = {"too_many_components", "该帐号授权的第三方平台已达上限"},
    [PL_FLOW_NOT_AUTHORIZED] = {"not_authorized", "该帐号未授权给此第三方平台"},
    [PL_FLOW_BAD_REQUEST] = {"bad_request", "请求参数错误"},
};

const char *pl_flow_marker(enum pl_flow_reason r)
{
    return (size_t)r < sizeof(reasons) / sizeof(reasons[0]) ? reasons[r].marker : "";
}

const char *pl_flow_title(enum pl_flow_reason r)
{
    return (size_t)r < sizeof(reasons) / sizeof(reasons[0]) ? reasons[r].title : "";
}

static int refuse(struct pl_flow_error *err, enum pl_flow_reason r, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int refuse(struct pl_flow_error *err, enum pl_flow_reason r, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        err->reason = r;
        vsnprintf(err->detail, sizeof(err->detail), fmt, ap);
        va_end(ap);
    }
    return BE_FAILED;
}

static void err_clear(struct pl_flow_error *err)
{
    if (err) {
        err->reason = PL_FLOW_OK;
        err->detail[0] = '\0';
    }
}

/* ---- domains (spec §5.2) ---- */

/* The authority (host[:port], lower case) of an http(s) URL into out;
 * false when url is not one or it does not fit. */
static bool url_authority(const char *url, char *out, size_t size)
{
    const char *p;
    if (!url)
        return false;
    if (!strncmp(url, "http://", 7))
        p = url + 7;
    else if (!strncmp(url, "https://", 8))
        p = url + 8;
    else
        return false;
    size_t n = strcspn(p, "/?#");
    if (!n || n >= size || memchr(p, '@', n))
        return false;
    for (size_t i = 0; i < n; i++)
        out[i] = (char)(p[i] >= 'A' && p[i] <= 'Z' ? p[i] - 'A' + 'a' : p[i]);
    out[n] = '\0';
    return true;
}

/* Does an authority match the configured domain? A domain without a port
 * matches any port of that host. */
static bool domain_matches(const char *authority, const char *domain)
{
    if (!strcmp(authority, domain))
        return true;
    const char *bracket = strrchr(domain, ']');
    const char *colon = strrchr(bracket ? bracket : domain, ':');
    if (colon)
        return false;
    size_t n = strlen(domain);
    return !strncmp(authority, domain, n) && authority[n] == ':';
}

/* ---- session rows ---- */

struct srow {
    char id[PL_SESSION_ID_LEN + 1];
    char component[PL_ID_MAX + 1];
    char pre_auth_code[PL_CODE_MAX + 1];
    struct buf redirect_uri;
    int auth_type;
    char biz_appid[PL_ID_MAX + 1];
    struct pl_funcs categories;
    bool h5;
    char state[16];
    char scanned_by[PL_ID_MAX + 1];
    char chosen_appid[PL_ID_MAX + 1];
    struct buf redirect_url;
    int64_t push_job, expires_at;
};

static void srow_release(struct srow *s)
{
    buf_release(&s->redirect_uri);
    buf_release(&s->redirect_url);
}

static int session_load(struct store_conn *c, const char *id, struct srow *s, bool *ret_found)
{
    struct store_result *r = NULL;
    memset(s, 0, sizeof(*s));
    buf_init(&s->redirect_uri);
    buf_init(&s->redirect_url);
    *ret_found = false;
    if (!id || strlen(id) != PL_SESSION_ID_LEN)
        return BE_OK;
    int rc = pl_query_row(c,
                          "SELECT id, component, pre_auth_code, redirect_uri, auth_type, "
                          "biz_appid, category_ids, entry, state, scanned_by, chosen_appid, "
                          "redirect_url, push_job, expires_at FROM pl_sessions WHERE id = $1",
                          SV_ARGS(SV_TEXT(id)), &r);
    if (rc || !r)
        return rc;
    snprintf(s->id, sizeof(s->id), "%s", store_result_text(r, 0, 0));
    snprintf(s->component, sizeof(s->component), "%s", store_result_text(r, 0, 1));
    snprintf(s->pre_auth_code, sizeof(s->pre_auth_code), "%s", store_result_text(r, 0, 2));
    buf_adds(&s->redirect_uri, store_result_text(r, 0, 3));
    s->auth_type = (int)store_result_i64(r, 0, 4);
    snprintf(s->biz_appid, sizeof(s->biz_appid), "%s", store_result_text(r, 0, 5));
    if (pl_funcs_parse(store_result_text(r, 0, 6), &s->categories))
        s->categories.n = 0;
    s->h5 = !strcmp(store_result_text(r, 0, 7), "h5");
    snprintf(s->state, sizeof(s->state), "%s", store_result_text(r, 0, 8));
    snprintf(s->scanned_by, sizeof(s->scanned_by), "%s", store_result_text(r, 0, 9));
    snprintf(s->chosen_appid, sizeof(s->chosen_appid), "%s", store_result_text(r, 0, 10));
    buf_adds(&s->redirect_url, store_result_text(r, 0, 11));
    s->push_job = store_result_i64(r, 0, 12);
    s->expires_at = store_result_i64(r, 0, 13);
    store_result_free(r);
    *ret_found = true;
    return BE_OK;
}

/* The state a reader sees: waiting/scanned sessions past their time are
 * expired. */
static const char *effective_state(const struct srow *s, int64_t now)
{
    bool open = !strcmp(s->state, "waiting") || !strcmp(s->state, "scanned");
    return open && now >= s->expires_at ? "expired" : s->state;
}

/* ---- pre_auth_code ---- */

static int pre_auth_code_check(struct store_conn *c, const char *component, const char *code,
                               int64_t now, int64_t *ret_expires_at, struct pl_flow_error *err)
{
    struct store_result *r = NULL;
    if (!code || !*code || strlen(code) > PL_CODE_MAX)
        return refuse(err, PL_FLOW_CODE_INVALID, "pre_auth_code 缺失或无效");
    int rc = pl_query_row(c,
                          "SELECT expires_at, used_at FROM pl_preauth_codes WHERE value = $1 AND "
                          "component = $2",
                          SV_ARGS(SV_TEXT(code), SV_TEXT(component)), &r);
    if (rc)
        return rc;
    if (!r)
        return refuse(err, PL_FLOW_CODE_INVALID, "pre_auth_code 不属于第三方平台 %s", component);
    int64_t expires_at = store_result_i64(r, 0, 0);
    bool used = !store_result_is_null(r, 0, 1);
    store_result_free(r);
    if (used)
        return refuse(err, PL_FLOW_CODE_USED, "pre_auth_code 只能使用一次");
    if (now >= expires_at)
        return refuse(err, PL_FLOW_CODE_EXPIRED, "pre_auth_code 已过期");
    if (ret_expires_at)
        *ret_expires_at = expires_at;
    return BE_OK;
}

/* ---- components ---- */

struct comp {
    char name[PL_NAME_MAX + 1];
    char entry_domain[PL_DOMAIN_MAX + 1];
    bool published;
    struct buf test_appids;
    struct pl_funcs oa_funcs, mp_funcs;
};

static int comp_load(struct store_conn *c, const char *appid, struct comp *k, bool *ret_found)
{
    struct store_result *r = NULL;
    memset(k, 0, sizeof(*k));
    buf_init(&k->test_appids);
    int rc = pl_query_row(c,
                          "SELECT name, entry_domain, published, test_appids, oa_funcs, mp_funcs "
                          "FROM pl_components WHERE appid = $1",
                          SV_ARGS(SV_TEXT(appid)), &r);
    *ret_found = r != NULL;
    if (rc || !r)
        return rc;
    snprintf(k->name, sizeof(k->name), "%s", store_result_text(r, 0, 0));
    snprintf(k->entry_domain, sizeof(k->entry_domain), "%s", store_result_text(r, 0, 1));
    k->published = store_result_i64(r, 0, 2) != 0;
    buf_adds(&k->test_appids, store_result_text(r, 0, 3));
    if (pl_funcs_parse(store_result_text(r, 0, 4), &k->oa_funcs))
        k->oa_funcs.n = 0;
    if (pl_funcs_parse(store_result_text(r, 0, 5), &k->mp_funcs))
        k->mp_funcs.n = 0;
    store_result_free(r);
    return BE_OK;
}

static bool comp_allows(const struct comp *k, const char *appid)
{
    if (k->published)
        return true;
    size_t n = strlen(appid);
    for (const char *p = k->test_appids.data; *p;) {
        size_t len = strcspn(p, ",");
        if (len == n && !memcmp(p, appid, n))
            return true;
        p += len + (p[len] ? 1 : 0);
    }
    return false;
}

/* ---- opening a page ---- */

static int parse_auth_type(const char *s)
{
    if (!s || s[0] < '1' || s[0] > '8' || s[1])
        return 0;
    return s[0] - '0';
}

/* "17|18" (spec §5.1); anything unusable means "every set". */
static void parse_categories(const char *s, struct pl_funcs *ret)
{
    struct buf b = BUF_INIT;
    ret->n = 0;
    if (!s || strlen(s) > 4 * PL_FUNCS_MAX)
        return;
    for (const char *p = s; *p; p++)
        buf_addch(&b, *p == '|' ? ',' : *p);
    if (pl_funcs_parse(b.data, ret))
        ret->n = 0;
    buf_release(&b);
}

struct open_ctx {
    struct platform *pl;
    const struct pl_flow_entry *e;
    char *ret_session;
    struct pl_flow_error *err;
};

static int open_checks(struct open_ctx *x, const struct comp *k, const struct pl_settings *s)
{
    const struct pl_flow_entry *e = x->e;
    char authority[PL_DOMAIN_MAX + 1];
    if (s->check_referer && (!url_authority(e->referer, authority, sizeof(authority)) ||
                             !domain_matches(authority, k->entry_domain)))
        return refuse(x->err, PL_FLOW_REFERER,
                      "登录授权的发起页域名和授权回调域名必须与第三方平台设置的域名一致。"
                      "设置的域名：%s；发起页域名：%s",
                      k->entry_domain,
                      url_authority(e->referer, authority, sizeof(authority)) ? authority : "空");
    if (!e->redirect_uri || strlen(e->redirect_uri) > PL_URL_MAX ||
        !url_authority(e->redirect_uri, authority, sizeof(authority)) ||
        !domain_matches(authority, k->entry_domain))
        return refuse(x->err, PL_FLOW_REDIRECT_DOMAIN,
                      "授权回调地址的域名必须是第三方平台设置的域名 %s", k->entry_domain);
    return BE_OK;
}

static int open_tx(struct store_conn *c, void *arg)
{
    struct open_ctx *x = arg;
    const struct pl_flow_entry *e = x->e;
    struct comp k;
    struct pl_settings s;
    struct pl_funcs cats;
    struct buf id = BUF_INIT, cat_text = BUF_INIT;
    int64_t now = pl_now(x->pl), expires_at = 0;
    bool found = false;
    pl_settings_get(x->pl, &s);
    err_clear(x->err);
    if (!pl_valid_id(e->component_appid))
        return refuse(x->err, PL_FLOW_CODE_INVALID, "component_appid 缺失或无效");
    int rc = comp_load(c, e->component_appid, &k, &found);
    if (!rc && !found)
        rc = refuse(x->err, PL_FLOW_CODE_INVALID, "第三方平台 %s 不存在", e->component_appid);
    if (!rc)
        rc = open_checks(x, &k, &s);
    if (!rc)
        rc = pre_auth_code_check(c, e->component_appid, e->pre_auth_code, now, &expires_at, x->err);
    if (!rc && e->biz_appid && *e->biz_appid && !pl_valid_id(e->biz_appid))
        rc = refuse(x->err, PL_FLOW_BAD_REQUEST, "biz_appid 无效");
    if (!rc && e->biz_appid && *e->biz_appid && !comp_allows(&k, e->biz_appid))
        rc = refuse(x->err, PL_FLOW_NOT_PUBLISHED, "第三方平台尚未全网发布，%s 不在授权测试列表中",
                    e->biz_appid);
    if (rc)
        goto out;
    parse_categories(e->category_id_list, &cats);
    pl_funcs_format(&cats, &cat_text);
    pl_gen_value(&id, "", PL_GEN_SESSION);
    rc =
        store_exec(c,
                   "INSERT INTO pl_sessions (id, component, pre_auth_code, redirect_uri, "
                   "auth_type, biz_appid, category_ids, entry, state, created_at, expires_at) "
                   "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'waiting', $9, $10)",
                   SV_ARGS(SV_TEXT(id.data), SV_TEXT(e->component_appid), SV_TEXT(e->pre_auth_code),
                           SV_TEXT(e->redirect_uri), SV_I64(parse_auth_type(e->auth_type)),
                           SV_TEXT(e->biz_appid ? e->biz_appid : ""), SV_TEXT(cat_text.data),
                           SV_TEXT(e->h5 ? "h5" : "pc"), SV_I64(now), SV_I64(expires_at)),
                   NULL);
    if (!rc)
        snprintf(x->ret_session, PL_SESSION_ID_LEN + 1, "%s", id.data);
out:
    buf_release(&k.test_appids);
    buf_release(&id);
    buf_release(&cat_text);
    return rc;
}

int pl_flow_open(struct platform *pl, const struct pl_flow_entry *e,
                 char ret_session[PL_SESSION_ID_LEN + 1], struct pl_flow_error *err)
{
    char id[PL_SESSION_ID_LEN + 1];
    struct open_ctx x = {pl, e, id, err};
    int rc = store_tx(pl->store, open_tx, &x);
    if (rc == BE_OK)
        snprintf(ret_session, PL_SESSION_ID_LEN + 1, "%s", id);
    return rc;
}

/* ---- reading a session ---- */

struct session_ctx {
    struct platform *pl;
    const char *id;
    struct pl_session *ret;
    struct pl_flow_error *err;
};

static int job_released(struct store_conn *c, int64_t job, bool *ret)
{
    struct store_result *r = NULL;
    int rc = pl_query_row(c, "SELECT state, attempts FROM pl_push_jobs WHERE id = $1",
                          SV_ARGS(SV_I64(job)), &r);
    *ret = !r || strcmp(store_result_text(r, 0, 0), "pending") || store_result_i64(r, 0, 1) > 0;
    store_result_free(r);
    return rc;
}

static int session_tx(struct store_conn *c, void *arg)
{
    struct session_ctx *x = arg;
    struct srow s;
    struct comp k;
    struct pl_settings set;
    bool found = false, released = false;
    err_clear(x->err);
    int rc = session_load(c, x->id, &s, &found);
    if (!rc && !found)
        rc = refuse(x->err, PL_FLOW_SESSION_INVALID, "没有这个二维码");
    if (!rc)
        rc = comp_load(c, s.component, &k, &found);
    pl_settings_get(x->pl, &set);
    if (!rc && !strcmp(s.state, "confirmed")) {
        released = set.redirect_first || !s.push_job;
        if (!released)
            rc = job_released(c, s.push_job, &released);
    }
    if (!rc) {
        struct pl_session *o = x->ret;
        memset(o, 0, sizeof(*o));
        snprintf(o->id, sizeof(o->id), "%s", s.id);
        snprintf(o->component, sizeof(o->component), "%s", s.component);
        snprintf(o->component_name, sizeof(o->component_name), "%s", k.name);
        snprintf(o->state, sizeof(o->state), "%s", effective_state(&s, pl_now(x->pl)));
        o->h5 = s.h5;
        snprintf(o->scanned_by, sizeof(o->scanned_by), "%s", s.scanned_by);
        snprintf(o->chosen_appid, sizeof(o->chosen_appid), "%s", s.chosen_appid);
        snprintf(o->biz_appid, sizeof(o->biz_appid), "%s", s.biz_appid);
        o->auth_type = s.auth_type;
        snprintf(o->redirect_url, sizeof(o->redirect_url), "%s", s.redirect_url.data);
        o->released = released;
        o->expires_at = s.expires_at;
    }
    buf_release(&k.test_appids);
    srow_release(&s);
    return rc;
}

int pl_flow_session(struct platform *pl, const char *id, struct pl_session *ret,
                    struct pl_flow_error *err)
{
    struct pl_session tmp;
    struct session_ctx x = {pl, id, &tmp, err};
    int rc = store_run(pl->store, session_tx, &x);
    if (rc == BE_OK)
        *ret = tmp;
    return rc;
}

struct by_code_ctx {
    const char *code;
    char id[PL_SESSION_ID_LEN + 1];
    bool found;
};

static int by_code_tx(struct store_conn *c, void *arg)
{
    struct by_code_ctx *x = arg;
    struct store_result *r = NULL;
    int rc = pl_query_row(c,
                          "SELECT id FROM pl_sessions WHERE pre_auth_code = $1 "
                          "ORDER BY created_at DESC, id LIMIT 1",
                          SV_ARGS(SV_TEXT(x->code)), &r);
    x->found = r != NULL;
    if (r)
        snprintf(x->id, sizeof(x->id), "%s", store_result_text(r, 0, 0));
    store_result_free(r);
    return rc;
}

int pl_flow_session_by_code(struct platform *pl, const char *pre_auth_code,
                            char ret_session[PL_SESSION_ID_LEN + 1], struct pl_flow_error *err)
{
    struct by_code_ctx x = {pre_auth_code, "", false};
    err_clear(err);
    if (!pre_auth_code || strlen(pre_auth_code) > PL_CODE_MAX)
        return refuse(err, PL_FLOW_SESSION_INVALID, "pre_auth_code 无效");
    int rc = store_run(pl->store, by_code_tx, &x);
    if (!rc && !x.found)
        return refuse(err, PL_FLOW_SESSION_INVALID, "没有用这个 pre_auth_code 打开的授权页");
    if (!rc)
        snprintf(ret_session, PL_SESSION_ID_LEN + 1, "%s", x.id);
    return rc;
}

/* ---- the phone ---- */

void pl_app_list_release(struct pl_app_list *l)
{
    free(l->apps);
    l->apps = NULL;
    l->n = 0;
}

/* Does the session's filter (biz_appid wins over auth_type, spec §5.1) list
 * an app? */
static bool filter_lists(const struct srow *s, const char *appid, const char *kind)
{
    if (*s->biz_appid)
        return !strcmp(s->biz_appid, appid);
    switch (s->auth_type) {
    case 0:
    case 3:
    case 6:
        return true;
    case 1:
        return !strcmp(kind, "oa");
    case 2:
        return !strcmp(kind, "mp");
    default: /* 推客, Channels, 带货助手 accounts are not emulated */
        return false;
    }
}

static int user_exists(struct store_conn *c, const char *wxid, bool *ret)
{
    struct store_result *r = NULL;
    int rc = BE_OK;
    *ret = false;
    if (!pl_valid_id(wxid))
        return BE_OK;
    rc = pl_query_row(c, "SELECT 1 FROM pl_wxusers WHERE wxid = $1", SV_ARGS(SV_TEXT(wxid)), &r);
    *ret = r != NULL;
    store_result_free(r);
    return rc;
}

static int admin_of(struct store_conn *c, const char *wxid, const char *appid, bool *ret)
{
    struct store_result *r = NULL;
    int rc = pl_query_row(c, "SELECT 1 FROM pl_admins WHERE wxid = $1 AND appid = $2",
                          SV_ARGS(SV_TEXT(wxid), SV_TEXT(appid)), &r);
    *ret = r != NULL;
    store_result_free(r);
    return rc;
}

/* The session is open, its code still usable, the user known and, for a
 * biz_appid, its admin. */
static int scan_checks(struct store_conn *c, struct platform *pl, const struct srow *s,
                       const char *wxid, struct pl_flow_error *err)
{
    int64_t now = pl_now(pl);
    const char *state = effective_state(s, now);
    bool known = false, admin = false;
    if (!strcmp(state, "expired"))
        return refuse(err, PL_FLOW_SESSION_EXPIRED, "二维码已过期，请在电脑上刷新授权页");
    if (strcmp(state, "waiting") && strcmp(state, "scanned"))
        return refuse(err, PL_FLOW_SESSION_CLOSED, "本次授权已%s",
                      !strcmp(state, "confirmed") ? "完成" : "取消");
    int rc = pre_auth_code_check(c, s->component, s->pre_auth_code, now, NULL, err);
    if (!rc)
        rc = user_exists(c, wxid, &known);
    if (!rc && !known)
        rc = refuse(err, PL_FLOW_WXUSER_UNKNOWN, "没有微信用户 %s", pl_valid_id(wxid) ? wxid : "");
    if (!rc && *s->biz_appid)
        rc = admin_of(c, wxid, s->biz_appid, &admin);
    if (!rc && *s->biz_appid && !admin)
        rc = refuse(err, PL_FLOW_NOT_ADMIN, "此授权仅限帐号 %s 的管理员完成", s->biz_appid);
    return rc;
}

static int list_apps(struct store_conn *c, const struct srow *s, const char *wxid,
                     struct pl_app_list *ret)
{
    struct store_result *r = NULL;
    int rc = store_query(c,
                         "SELECT a.appid, a.kind, a.nick_name, a.account_status, "
                         "(SELECT COUNT(*) FROM pl_authorizations z WHERE z.authorizer = a.appid "
                         "AND z.component = $2 AND z.state = 'active') "
                         "FROM pl_admins d JOIN pl_authorizers a ON a.appid = d.appid "
                         "WHERE d.wxid = $1 AND a.account_status = 1 ORDER BY a.kind, a.appid "
                         "LIMIT $3",
                         SV_ARGS(SV_TEXT(wxid), SV_TEXT(s->component), SV_I64(PL_APPS_MAX)), &r);
    if (rc)
        return rc;
    ret->apps = xcalloc(store_result_rows(r) + 1, sizeof(*ret->apps));
    ret->n = 0;
    for (size_t i = 0; i < store_result_rows(r); i++) {
        if (!filter_lists(s, store_result_text(r, i, 0), store_result_text(r, i, 1)))
            continue;
        struct pl_app *a = &ret->apps[ret->n++];
        snprintf(a->appid, sizeof(a->appid), "%s", store_result_text(r, i, 0));
        snprintf(a->kind, sizeof(a->kind), "%s", store_result_text(r, i, 1));
        snprintf(a->nick_name, sizeof(a->nick_name), "%s", store_result_text(r, i, 2));
        a->account_status = store_result_i64(r, i, 3);
        a->authorized = store_result_i64(r, i, 4) > 0;
    }
    store_result_free(r);
    return BE_OK;
}

struct scan_ctx {
    struct platform *pl;
    const char *session, *wxid;
    struct pl_app_list list;
    struct pl_flow_error *err;
};

static int scan_tx(struct store_conn *c, void *arg)
{
    struct scan_ctx *x = arg;
    struct srow s;
    bool found = false;
    pl_app_list_release(&x->list);
    err_clear(x->err);
    int rc = session_load(c, x->session, &s, &found);
    if (!rc && !found)
        rc = refuse(x->err, PL_FLOW_SESSION_INVALID, "没有这个二维码");
    if (!rc)
        rc = scan_checks(c, x->pl, &s, x->wxid, x->err);
    if (!rc)
        rc =
            store_exec(c, "UPDATE pl_sessions SET state = 'scanned', scanned_by = $2 WHERE id = $1",
                       SV_ARGS(SV_TEXT(s.id), SV_TEXT(x->wxid)), NULL);
    if (!rc)
        rc = list_apps(c, &s, x->wxid, &x->list);
    srow_release(&s);
    return rc;
}

int pl_flow_scan(struct platform *pl, const char *session, const char *wxid,
                 struct pl_app_list *ret, struct pl_flow_error *err)
{
    struct scan_ctx x = {pl, session, wxid, {NULL, 0}, err};
    int rc = store_tx(pl->store, scan_tx, &x);
    if (rc == BE_OK)
        *ret = x.list;
    else
        pl_app_list_release(&x.list);
    return rc;
}

/* ---- confirming ---- */

struct current {
    bool active;
    struct pl_funcs funcs;
};

static int current_grant(struct store_conn *c, const char *component, const char *appid,
                         struct current *ret)
{
    struct store_result *r = NULL;
    int rc = pl_query_row(c,
                          "SELECT func_ids FROM pl_authorizations WHERE component = $1 AND "
                          "authorizer = $2 AND state = 'active'",
                          SV_ARGS(SV_TEXT(component), SV_TEXT(appid)), &r);
    ret->active = r != NULL;
    ret->funcs.n = 0;
    if (r && pl_funcs_parse(store_result_text(r, 0, 0), &ret->funcs))
        ret->funcs.n = 0;
    store_result_free(r);
    return rc;
}

/* Every check of confirming short of the permission sets; fills info. */
static int pick_checks(struct store_conn *c, struct platform *pl, const struct srow *s,
                       const char *wxid, const char *appid, struct pl_confirm_info *info,
                       struct pl_flow_error *err)
{
    struct pl_app_list apps = {NULL, 0};
    struct comp k;
    struct current cur;
    bool found = false, admin = false;
    memset(info, 0, sizeof(*info));
    buf_init(&k.test_appids);
    int rc = scan_checks(c, pl, s, wxid, err);
    if (!rc && !pl_valid_id(appid))
        rc = refuse(err, PL_FLOW_BAD_REQUEST, "appid 无效");
    if (!rc)
        rc = admin_of(c, wxid, appid, &admin);
    if (!rc && !admin)
        rc = refuse(err, PL_FLOW_NOT_ADMIN, "你不是帐号 %s 的管理员", appid);
    if (!rc)
        rc = list_apps(c, s, wxid, &apps);
    for (size_t i = 0; !rc && i < apps.n && !found; i++)
        if (!strcmp(apps.apps[i].appid, appid)) {
            info->app = apps.apps[i];
            found = true;
        }
    if (!rc && !found)
        rc = refuse(err, PL_FLOW_APP_NOT_LISTED, "帐号 %s 不在本次授权可选的帐号中", appid);
    if (!rc)
        rc = comp_load(c, s->component, &k, &found);
    if (!rc && !comp_allows(&k, appid))
        rc = refuse(err, PL_FLOW_NOT_PUBLISHED, "第三方平台尚未全网发布，%s 不在授权测试列表中",
                    appid);
    if (!rc)
        rc = current_grant(c, s->component, appid, &cur);
    if (!rc) {
        snprintf(info->component_name, sizeof(info->component_name), "%s", k.name);
        info->offered = s->categories.n                 ? s->categories
                        : !strcmp(info->app.kind, "mp") ? k.mp_funcs
                                                        : k.oa_funcs;
        info->already = cur.active;
        info->checked = cur.active ? cur.funcs : info->offered;
        for (size_t i = 0; cur.active && i < cur.funcs.n; i++)
            pl_funcs_add(&info->offered, cur.funcs.id[i]);
    }
    buf_release(&k.test_appids);
    pl_app_list_release(&apps);
    return rc;
}

struct confirm_ctx {
    struct platform *pl;
    const char *session, *wxid, *appid;
    const struct pl_funcs *funcs;
    struct pl_confirm_info info;
    struct pl_confirm_result res;
    int64_t job;
    struct pl_flow_error *err;
};

static int confirm_info_tx(struct store_conn *c, void *arg)
{
    struct confirm_ctx *x = arg;
    struct srow s;
    bool found = false;
    err_clear(x->err);
    int rc = session_load(c, x->session, &s, &found);
    if (!rc && !found)
        rc = refuse(x->err, PL_FLOW_SESSION_INVALID, "没有这个二维码");
    if (!rc)
        rc = pick_checks(c, x->pl, &s, x->wxid, x->appid, &x->info, x->err);
    srow_release(&s);
    return rc;
}

int pl_flow_confirm_info(struct platform *pl, const char *session, const char *wxid,
                         const char *appid, struct pl_confirm_info *ret, struct pl_flow_error *err)
{
    struct confirm_ctx x;
    memset(&x, 0, sizeof(x));
    x.pl = pl;
    x.session = session;
    x.wxid = wxid;
    x.appid = appid;
    x.err = err;
    int rc = store_run(pl->store, confirm_info_tx, &x);
    if (rc == BE_OK)
        *ret = x.info;
    return rc;
}

static int funcs_check(const struct pl_confirm_info *info, const struct pl_funcs *ticked,
                       struct pl_flow_error *err)
{
    if (!ticked->n)
        return refuse(err, PL_FLOW_NO_FUNCS, "请至少选择一个权限集");
    for (size_t i = 0; i < ticked->n; i++)
        if (!pl_funcs_has(&info->offered, ticked->id[i]))
            return refuse(err, PL_FLOW_NO_FUNCS, "权限集 %d 不在本次授权的范围内", ticked->id[i]);
    return BE_OK;
}

static int other_components(struct store_conn *c, const char *component, const char *appid,
                            int64_t *ret)
{
    struct store_result *r = NULL;
    int rc = pl_query_row(c,
                          "SELECT COUNT(*) FROM pl_authorizations WHERE authorizer = $1 AND "
                          "component <> $2 AND state = 'active'",
                          SV_ARGS(SV_TEXT(appid), SV_TEXT(component)), &r);
    *ret = r ? store_result_i64(r, 0, 0) : 0;
    store_result_free(r);
    return rc;
}

/* Creates, re-activates or updates the authorization; *ret_push is the
 * event to send (0 for none). */
static int apply_grant(struct confirm_ctx *x, struct store_conn *c, const struct srow *s,
                       const struct pl_funcs *ticked, int64_t now, enum wx_info_type *ret_push)
{
    struct buf funcs = BUF_INIT, refresh = BUF_INIT;
    struct pl_settings set;
    int64_t others = 0;
    int rc = BE_OK;
    pl_settings_get(x->pl, &set);
    pl_funcs_format(ticked, &funcs);
    pl_gen_value(&refresh, "refreshtoken@@@", PL_GEN_REFRESH);
    *ret_push = WX_INFO_UNKNOWN;
    if (!x->info.already) {
        if ((rc = other_components(c, s->component, x->appid, &others)))
            goto out;
        if (others >= PL_MAX_COMPONENTS_PER_AUTHORIZER) {
            rc = refuse(x->err, PL_FLOW_TOO_MANY_COMPONENTS, "帐号 %s 已授权给 %d 个第三方平台",
                        x->appid, PL_MAX_COMPONENTS_PER_AUTHORIZER);
            goto out;
        }
        rc = store_exec(c,
                        "INSERT INTO pl_authorizations (component, authorizer, state, func_ids, "
                        "refresh_token, auth_time, updated_time) VALUES ($1, $2, 'active', $3, "
                        "$4, $5, $5) ON CONFLICT (component, authorizer) DO UPDATE SET "
                        "state = 'active', func_ids = excluded.func_ids, refresh_token = "
                        "excluded.refresh_token, auth_time = excluded.auth_time, updated_time = "
                        "excluded.updated_time, revoked_at = NULL",
                        SV_ARGS(SV_TEXT(s->component), SV_TEXT(x->appid), SV_TEXT(funcs.data),
                                SV_TEXT(refresh.data), SV_I64(now)),
                        NULL);
        *ret_push = WX_INFO_AUTHORIZED;
    } else if (!pl_funcs_equal(ticked, &x->info.checked)) {
        rc = store_exec(c,
                        "UPDATE pl_authorizations SET func_ids = $3, updated_time = $4, "
                        "refresh_token = CASE WHEN $5 = 1 THEN $6 ELSE refresh_token END "
                        "WHERE component = $1 AND authorizer = $2",
                        SV_ARGS(SV_TEXT(s->component), SV_TEXT(x->appid), SV_TEXT(funcs.data),
                                SV_I64(now), SV_I64(set.rotate_refresh_on_update),
                                SV_TEXT(refresh.data)),
                        NULL);
        *ret_push = WX_INFO_UPDATEAUTHORIZED;
    }
out:
    crypto_wipe(refresh.data, refresh.len);
    buf_release(&refresh);
    buf_release(&funcs);
    return rc;
}

/* redirect_uri with auth_code and expires_in added to its query (before
 * any fragment). */
static void build_redirect(const char *uri, const char *code, struct buf *out)
{
    size_t base = strcspn(uri, "#");
    buf_add(out, uri, base);
    buf_addf(out, "%cauth_code=%s&expires_in=%d", memchr(uri, '?', base) ? '&' : '?', code,
             PL_AUTH_CODE_TTL);
    buf_adds(out, uri + base);
}

static int issue_code(struct confirm_ctx *x, struct store_conn *c, const struct srow *s,
                      int64_t now, enum wx_info_type push)
{
    struct buf code = BUF_INIT, redirect = BUF_INIT;
    struct wx_event ev;
    pl_gen_value(&code, "queryauthcode@@@", PL_GEN_AUTH_CODE);
    int rc =
        store_exec(c,
                   "INSERT INTO pl_auth_codes (value, component, authorizer, pre_auth_code, "
                   "issued_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)",
                   SV_ARGS(SV_TEXT(code.data), SV_TEXT(s->component), SV_TEXT(x->appid),
                           SV_TEXT(s->pre_auth_code), SV_I64(now), SV_I64(now + PL_AUTH_CODE_TTL)),
                   NULL);
    memset(&ev, 0, sizeof(ev));
    ev.type = push;
    snprintf(ev.appid, sizeof(ev.appid), "%s", s->component);
    ev.create_time = now;
    snprintf(ev.authorizer_appid, sizeof(ev.authorizer_appid), "%s", x->appid);
    snprintf(ev.authorization_code, sizeof(ev.authorization_code), "%s", code.data);
    ev.authorization_code_expired_time = now + PL_AUTH_CODE_TTL;
    snprintf(ev.pre_auth_code, sizeof(ev.pre_auth_code), "%s", s->pre_auth_code);
    x->job = 0;
    if (!rc && push != WX_INFO_UNKNOWN)
        rc = pl_push_enqueue(c, x->pl, s->component, &ev, false, &x->job);
    build_redirect(s->redirect_uri.data, code.data, &redirect);
    snprintf(x->res.auth_code, sizeof(x->res.auth_code), "%s", code.data);
    snprintf(x->res.redirect_url, sizeof(x->res.redirect_url), "%s", redirect.data);
    buf_release(&code);
    buf_release(&redirect);
    return rc;
}

static int confirm_tx(struct store_conn *c, void *arg)
{
    struct confirm_ctx *x = arg;
    struct srow s;
    enum wx_info_type push = WX_INFO_UNKNOWN;
    int64_t now = pl_now(x->pl);
    bool found = false;
    memset(&x->res, 0, sizeof(x->res));
    int rc = confirm_info_tx(c, x);
    const struct pl_funcs *ticked = x->funcs ? x->funcs : &x->info.checked;
    if (!rc)
        rc = funcs_check(&x->info, ticked, x->err);
    if (!rc)
        rc = session_load(c, x->session, &s, &found);
    else
        memset(&s, 0, sizeof(s));
    if (!rc)
        rc = apply_grant(x, c, &s, ticked, now, &push);
    if (!rc)
        rc = issue_code(x, c, &s, now, push);
    if (!rc)
        rc = store_exec(c,
                        "UPDATE pl_preauth_codes SET used_at = $2, used_by_session = $3 "
                        "WHERE value = $1",
                        SV_ARGS(SV_TEXT(s.pre_auth_code), SV_I64(now), SV_TEXT(s.id)), NULL);
    if (!rc)
        rc = store_exec(c,
                        "UPDATE pl_sessions SET state = 'confirmed', scanned_by = $2, "
                        "chosen_appid = $3, auth_code = $4, redirect_url = $5, push_job = $6 "
                        "WHERE id = $1",
                        SV_ARGS(SV_TEXT(s.id), SV_TEXT(x->wxid), SV_TEXT(x->appid),
                                SV_TEXT(x->res.auth_code), SV_TEXT(x->res.redirect_url),
                                SV_I64(x->job)),
                        NULL);
    x->res.push = push == WX_INFO_UNKNOWN ? NULL : wx_info_type_name(push);
    x->res.already = x->info.already;
    x->res.h5 = s.h5;
    if (found)
        srow_release(&s);
    return rc;
}

int pl_flow_confirm(struct platform *pl, const char *session, const char *wxid, const char *appid,
                    const struct pl_funcs *funcs, struct pl_confirm_result *ret,
                    struct pl_flow_error *err)
{
    struct confirm_ctx x;
    memset(&x, 0, sizeof(x));
    x.pl = pl;
    x.session = session;
    x.wxid = wxid;
    x.appid = appid;
    x.funcs = funcs;
    x.err = err;
    int rc = store_tx(pl->store, confirm_tx, &x);
    if (rc == BE_OK) {
        *ret = x.res;
        pl_wake(pl);
    }
    crypto_wipe(&x.res, sizeof(x.res));
    return rc;
}

/* ---- cancelling ---- */

struct cancel_ctx {
    struct platform *pl;
    const char *session;
    struct pl_flow_error *err;
};

static int cancel_tx(struct store_conn *c, void *arg)
{
    struct cancel_ctx *x = arg;
    struct srow s;
    bool found = false;
    err_clear(x->err);
    int rc = session_load(c, x->session, &s, &found);
    if (!rc && !found)
        rc = refuse(x->err, PL_FLOW_SESSION_INVALID, "没有这个二维码");
    const char *state = rc ? "" : effective_state(&s, pl_now(x->pl));
    if (!rc && strcmp(state, "waiting") && strcmp(state, "scanned"))
        rc = refuse(x->err,
                    !strcmp(state, "expired") ? PL_FLOW_SESSION_EXPIRED : PL_FLOW_SESSION_CLOSED,
                    "本次授权已结束");
    if (!rc)
        rc = store_exec(c, "UPDATE pl_sessions SET state = 'cancelled' WHERE id = $1",
                        SV_ARGS(SV_TEXT(s.id)), NULL);
    srow_release(&s);
    return rc;
}

int pl_flow_cancel(struct platform *pl, const char *session, struct pl_flow_error *err)
{
    struct cancel_ctx x = {pl, session, err};
    return store_tx(pl->store, cancel_tx, &x);
}

/* ---- revoking (§8.3) ---- */

struct revoke_ctx {
    struct platform *pl;
    const char *component, *authorizer;
    bool pushed;
    struct pl_flow_error *err;
};

static int revoke_tx(struct store_conn *c, void *arg)
{
    struct revoke_ctx *x = arg;
    struct pl_settings set;
    struct wx_event ev;
    int64_t now = pl_now(x->pl), changed = 0, job = 0;
    pl_settings_get(x->pl, &set);
    err_clear(x->err);
    x->pushed = false;
    if (!pl_valid_id(x->component) || !pl_valid_id(x->authorizer))
        return refuse(x->err, PL_FLOW_BAD_REQUEST, "appid 无效");
    int rc =
        store_exec(c,
                   "UPDATE pl_authorizations SET state = 'revoked', refresh_token = '', "
                   "revoked_at = $3, updated_time = $3 WHERE component = $1 AND "
                   "authorizer = $2 AND state = 'active'",
                   SV_ARGS(SV_TEXT(x->component), SV_TEXT(x->authorizer), SV_I64(now)), &changed);
    if (!rc && !changed)
        return refuse(x->err, PL_FLOW_NOT_AUTHORIZED, "帐号 %s 未授权给第三方平台 %s",
                      x->authorizer, x->component);
    if (!rc)
        rc = store_exec(c,
                        "UPDATE pl_tokens SET revoked = 1 WHERE kind = 'authorizer' AND "
                        "component = $1 AND authorizer = $2",
                        SV_ARGS(SV_TEXT(x->component), SV_TEXT(x->authorizer)), NULL);
    if (!rc)
        rc = store_exec(c,
                        "UPDATE pl_auth_codes SET revoked = 1 WHERE component = $1 AND "
                        "authorizer = $2",
                        SV_ARGS(SV_TEXT(x->component), SV_TEXT(x->authorizer)), NULL);
    memset(&ev, 0, sizeof(ev));
    ev.type = WX_INFO_UNAUTHORIZED;
    snprintf(ev.appid, sizeof(ev.appid), "%s", x->component);
    ev.create_time = now;
    snprintf(ev.authorizer_appid, sizeof(ev.authorizer_appid), "%s", x->authorizer);
    if (!rc)
        rc = pl_push_enqueue(c, x->pl, x->component, &ev, set.suppress_unauthorized, &job);
    x->pushed = job && !set.suppress_unauthorized;
    return rc;
}

int pl_flow_revoke(struct platform *pl, const char *component, const char *authorizer,
                   bool *ret_pushed, struct pl_flow_error *err)
{
    struct revoke_ctx x = {pl, component, authorizer, false, err};
    int rc = store_tx(pl->store, revoke_tx, &x);
    if (rc == BE_OK) {
        pl_wake(pl);
        if (ret_pushed)
            *ret_pushed = x.pushed;
    }
    return rc;
}

/* ---- pickers and the mp console ---- */

struct users_ctx {
    struct pl_user *users;
    size_t n;
};

static int users_tx(struct store_conn *c, void *arg)
{
    struct users_ctx *x = arg;
    struct store_result *r = NULL;
    int rc = store_query(c, "SELECT wxid, nickname FROM pl_wxusers ORDER BY wxid LIMIT $1",
                         SV_ARGS(SV_I64(PL_USERS_MAX)), &r);
    if (rc)
        return rc;
    free(x->users);
    x->users = xcalloc(store_result_rows(r) + 1, sizeof(*x->users));
    x->n = store_result_rows(r);
    for (size_t i = 0; i < x->n; i++) {
        snprintf(x->users[i].wxid, sizeof(x->users[i].wxid), "%s", store_result_text(r, i, 0));
        snprintf(x->users[i].nickname, sizeof(x->users[i].nickname), "%s",
                 store_result_text(r, i, 1));
    }
    store_result_free(r);
    return BE_OK;
}

int pl_flow_users(struct platform *pl, struct pl_user **ret, size_t *ret_n)
{
    struct users_ctx x = {NULL, 0};
    int rc = store_run(pl->store, users_tx, &x);
    if (rc) {
        free(x.users);
        return rc;
    }
    *ret = x.users;
    *ret_n = x.n;
    return BE_OK;
}

struct user_ctx {
    const char *wxid;
    struct pl_user user;
    bool found;
};

static int user_tx(struct store_conn *c, void *arg)
{
    struct user_ctx *x = arg;
    struct store_result *r = NULL;
    int rc = pl_query_row(c, "SELECT wxid, nickname FROM pl_wxusers WHERE wxid = $1",
                          SV_ARGS(SV_TEXT(x->wxid)), &r);
    x->found = r != NULL;
    if (r) {
        snprintf(x->user.wxid, sizeof(x->user.wxid), "%s", store_result_text(r, 0, 0));
        snprintf(x->user.nickname, sizeof(x->user.nickname), "%s", store_result_text(r, 0, 1));
    }
    store_result_free(r);
    return rc;
}

int pl_flow_user(struct platform *pl, const char *wxid, struct pl_user *ret,
                 struct pl_flow_error *err)
{
    struct user_ctx x = {wxid, {"", ""}, false};
    err_clear(err);
    if (!pl_valid_id(wxid))
        return refuse(err, PL_FLOW_WXUSER_UNKNOWN, "没有这个微信用户");
    int rc = store_run(pl->store, user_tx, &x);
    if (!rc && !x.found)
        return refuse(err, PL_FLOW_WXUSER_UNKNOWN, "没有微信用户 %s", wxid);
    if (!rc)
        *ret = x.user;
    return rc;
}

struct user_apps_ctx {
    const char *wxid;
    struct pl_app_list list;
};

static int user_apps_tx(struct store_conn *c, void *arg)
{
    struct user_apps_ctx *x = arg;
    struct store_result *r = NULL;
    int rc = store_query(c,
                         "SELECT a.appid, a.kind, a.nick_name, a.account_status, "
                         "(SELECT COUNT(*) FROM pl_authorizations z WHERE z.authorizer = a.appid "
                         "AND z.state = 'active') "
                         "FROM pl_admins d JOIN pl_authorizers a ON a.appid = d.appid "
                         "WHERE d.wxid = $1 ORDER BY a.kind, a.appid LIMIT $2",
                         SV_ARGS(SV_TEXT(x->wxid), SV_I64(PL_APPS_MAX)), &r);
    if (rc)
        return rc;
    pl_app_list_release(&x->list);
    x->list.apps = xcalloc(store_result_rows(r) + 1, sizeof(*x->list.apps));
    x->list.n = store_result_rows(r);
    for (size_t i = 0; i < x->list.n; i++) {
        struct pl_app *a = &x->list.apps[i];
        snprintf(a->appid, sizeof(a->appid), "%s", store_result_text(r, i, 0));
        snprintf(a->kind, sizeof(a->kind), "%s", store_result_text(r, i, 1));
        snprintf(a->nick_name, sizeof(a->nick_name), "%s", store_result_text(r, i, 2));
        a->account_status = store_result_i64(r, i, 3);
        a->authorized = store_result_i64(r, i, 4) > 0;
    }
    store_result_free(r);
    return BE_OK;
}

int pl_flow_user_apps(struct platform *pl, const char *wxid, struct pl_app_list *ret)
{
    struct user_apps_ctx x = {wxid, {NULL, 0}};
    int rc = store_run(pl->store, user_apps_tx, &x);
    if (rc)
        pl_app_list_release(&x.list);
    else
        *ret = x.list;
    return rc;
}

struct admin_ctx {
    const char *wxid, *appid;
    bool admin;
};

static int admin_tx(struct store_conn *c, void *arg)
{
    struct admin_ctx *x = arg;
    return admin_of(c, x->wxid, x->appid, &x->admin);
}

int pl_flow_is_admin(struct platform *pl, const char *wxid, const char *appid, bool *ret)
{
    struct admin_ctx x = {wxid, appid, false};
    if (!pl_valid_id(wxid) || !pl_valid_id(appid)) {
        *ret = false;
        return BE_OK;
    }
    int rc = store_run(pl->store, admin_tx, &x);
    if (!rc)
        *ret = x.admin;
    return rc;
}

struct grants_ctx {
    const char *appid;
    struct pl_app app;
    bool found;
    struct pl_grant *grants;
    size_t n;
};

static int grants_tx(struct store_conn *c, void *arg)
{
    struct grants_ctx *x = arg;
    struct store_result *r = NULL;
    int rc = pl_query_row(c,
                          "SELECT appid, kind, nick_name, account_status FROM pl_authorizers "
                          "WHERE appid = $1",
                          SV_ARGS(SV_TEXT(x->appid)), &r);
    x->found = r != NULL;
    if (rc || !r)
        return rc;
    snprintf(x->app.appid, sizeof(x->app.appid), "%s", store_result_text(r, 0, 0));
    snprintf(x->app.kind, sizeof(x->app.kind), "%s", store_result_text(r, 0, 1));
    snprintf(x->app.nick_name, sizeof(x->app.nick_name), "%s", store_result_text(r, 0, 2));
    x->app.account_status = store_result_i64(r, 0, 3);
    store_result_free(r);
    rc = store_query(c,
                     "SELECT z.component, k.name, z.func_ids, z.auth_time FROM pl_authorizations z "
                     "JOIN pl_components k ON k.appid = z.component WHERE z.authorizer = $1 AND "
                     "z.state = 'active' ORDER BY z.auth_time DESC, z.component LIMIT $2",
                     SV_ARGS(SV_TEXT(x->appid), SV_I64(PL_GRANTS_MAX)), &r);
    if (rc)
        return rc;
    free(x->grants);
    x->grants = xcalloc(store_result_rows(r) + 1, sizeof(*x->grants));
    x->n = store_result_rows(r);
    for (size_t i = 0; i < x->n; i++) {
        struct pl_grant *g = &x->grants[i];
        snprintf(g->component, sizeof(g->component), "%s", store_result_text(r, i, 0));
        snprintf(g->component_name, sizeof(g->component_name), "%s", store_result_text(r, i, 1));
        if (pl_funcs_parse(store_result_text(r, i, 2), &g->funcs))
            g->funcs.n = 0;
        g->auth_time = store_result_i64(r, i, 3);
    }
    x->app.authorized = x->n > 0;
    store_result_free(r);
    return BE_OK;
}

int pl_flow_grants(struct platform *pl, const char *appid, struct pl_app *ret_app,
                   struct pl_grant **ret, size_t *ret_n, struct pl_flow_error *err)
{
    struct grants_ctx x;
    memset(&x, 0, sizeof(x));
    x.appid = appid;
    err_clear(err);
    if (!pl_valid_id(appid))
        return refuse(err, PL_FLOW_BAD_REQUEST, "appid 无效");
    int rc = store_run(pl->store, grants_tx, &x);
    if (!rc && !x.found)
        rc = refuse(err, PL_FLOW_BAD_REQUEST, "没有帐号 %s", appid);
    if (rc) {
        free(x.grants);
        return rc;
    }
    *ret_app = x.app;
    *ret = x.grants;
    *ret_n = x.n;
    return BE_OK;
}

/* ---- permission-set names (spec §4.10) ---- */

void pl_flow_func_name(int id, char out[64])
{
    static const struct {
        int id;
        const char *name;
    } names[] = {
        {1, "消息管理"},
        {2, "用户管理"},
        {3, "帐号服务"},
        {4, "网页服务"},
        {5, "微信小店"},
        {6, "多客服"},
        {7, "群发与通知"},
        {8, "卡券"},
        {9, "扫一扫"},
        {10, "微信连WIFI"},
        {11, "素材管理"},
        {12, "摇一摇周边"},
        {13, "微信门店"},
        {15, "自定义菜单"},
        {16, "认证状态"},
        {17, "小程序帐号管理"},
        {18, "小程序开发管理与数据分析"},
        {19, "小程序客服消息"},
        {20, "小程序登录"},
        {21, "小程序数据分析"},
        {22, "城市服务"},
        {23, "广告管理"},
        {24, "开放平台帐号管理"},
        {25, "开放平台帐号管理（小程序）"},
        {26, "微信电子发票"},
        {41, "搜一搜"},
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (names[i].id == id) {
            snprintf(out, 64, "%s", names[i].name);
            return;
        }
    snprintf(out, 64, "权限集 %d", id);
}
