/* WeChat users, authorizers and components from JSON (platform.h). */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "core/buf.h"
#include "core/crypto.h"
#include "platform/internal.h"
#include "platform/platform.h"
#include "wechat/msgcrypt.h"
#include "core/banned.h"

#define KNOWN(...)                                                                                 \
    (const char *const[]){__VA_ARGS__},                                                            \
        sizeof((const char *const[]){__VA_ARGS__}) / sizeof(const char *)

/* ---- member checks ---- */

static int check_members(const json_t *obj, const char *const *known, size_t n,
                         struct be_diag *diag)
{
    const char *key;
    const json_t *v;
    if (!json_is_object(obj))
        return be_fail(diag, BE_INVALID_PARAMETER, "expected a JSON object");
    json_object_foreach((json_t *)obj, key, v)
    {
        bool ok = false;
        for (size_t i = 0; i < n && !ok; i++)
            ok = !strcmp(key, known[i]);
        if (!ok)
            return be_fail(diag, BE_UNKNOWN_PARAMETER, "unknown member %s", key);
    }
    return BE_OK;
}

static bool no_control_chars(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return false;
    return true;
}

static bool visible_ascii(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x21 || *p > 0x7e)
            return false;
    return true;
}

static bool alnum_only(const char *s)
{
    for (const char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')))
            return false;
    return true;
}

static bool http_url(const char *s)
{
    if (strncmp(s, "http://", 7) && strncmp(s, "https://", 8))
        return false;
    return visible_ascii(s) && !strchr(s, '"') && !strchr(s, '<') && !strchr(s, '>');
}

static bool domain_chars(const char *s)
{
    for (const char *p = s; *p; p++) {
        bool ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                  (*p >= '0' && *p <= '9') || *p == '.' || *p == '-' || *p == ':' || *p == '[' ||
                  *p == ']';
        if (!ok)
            return false;
    }
    return *s != '\0';
}

static bool gh_name(const char *s)
{
    return !strncmp(s, "gh_", 3) && pl_valid_id(s);
}

static bool id_or_empty(const char *s)
{
    return !*s || pl_valid_id(s);
}

static bool url_or_empty(const char *s)
{
    return !*s || http_url(s);
}

/* A string member: absent leaves *ret as it was; present must be a string
 * of min..max bytes without control characters that valid (may be NULL)
 * accepts. */
static int str_member(const json_t *obj, const char *name, size_t min, size_t max,
                      bool (*valid)(const char *), const char **ret, struct be_diag *diag)
{
    const json_t *v = json_object_get(obj, name);
    if (!v)
        return BE_OK;
    const char *s = json_string_value(v);
    if (!s)
        return be_fail(diag, BE_INVALID_PARAMETER_VALUE, "%s must be a string", name);
    size_t len = json_string_length(v);
    if (len < min || len > max)
        return be_fail(diag, BE_INVALID_PARAMETER_VALUE, "%s must be %zu to %zu bytes long", name,
                       min, max);
    if (!no_control_chars(s) || (valid && !valid(s)))
        return be_fail(diag, BE_INVALID_PARAMETER_VALUE, "invalid value for %s", name);
    *ret = s;
    return BE_OK;
}

static int int_member(const json_t *obj, const char *name, int64_t min, int64_t max, int64_t *ret,
                      struct be_diag *diag)
{
    const json_t *v = json_object_get(obj, name);
    if (!v)
        return BE_OK;
    if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max)
        return be_fail(diag, BE_INVALID_PARAMETER_VALUE,
                       "%s must be a whole number from %lld to "
                       "%lld",
                       name, (long long)min, (long long)max);
    *ret = json_integer_value(v);
    return BE_OK;
}

static int bool_member(const json_t *obj, const char *name, int64_t *ret, struct be_diag *diag)
{
    const json_t *v = json_object_get(obj, name);
    if (!v)
        return BE_OK;
    if (!json_is_boolean(v))
        return be_fail(diag, BE_INVALID_PARAMETER_VALUE, "%s must be true or false", name);
    *ret = json_is_true(v);
    return BE_OK;
}

static int require(const json_t *obj, const char *const *names, size_t n, struct be_diag *diag)
{
    for (size_t i = 0; i < n; i++)
        if (!json_object_get(obj, names[i]))
            return be_fail(diag, BE_MISSING_PARAMETER, "missing member %s", names[i]);
    return BE_OK;
}

static int appid_taken(struct store_conn *c, const char *sql, const char *appid, bool *ret)
{
    struct store_result *r = NULL;
    int rc = pl_query_row(c, sql, SV_ARGS(SV_TEXT(appid)), &r);
    if (rc)
        return rc;
    *ret = r != NULL;
    store_result_free(r);
    return BE_OK;
}

/* ---- WeChat users ---- */

struct put_ctx {
    struct platform *pl;
    const json_t *obj;
    struct be_diag *diag;
};

static int wxuser_put_tx(struct store_conn *c, void *arg)
{
    struct put_ctx *x = arg;
    const char *wxid = NULL, *nickname = NULL;
    int rc;
    if ((rc = check_members(x->obj, KNOWN("wxid", "nickname"), x->diag)) ||
        (rc = require(x->obj, KNOWN("wxid", "nickname"), x->diag)) ||
        (rc = str_member(x->obj, "wxid", 1, PL_ID_MAX, pl_valid_id, &wxid, x->diag)) ||
        (rc = str_member(x->obj, "nickname", 1, PL_NAME_MAX, NULL, &nickname, x->diag)))
        return rc;
    return store_exec(c,
                      "INSERT INTO pl_wxusers (wxid, nickname, created_at) VALUES ($1, $2, $3) "
                      "ON CONFLICT (wxid) DO UPDATE SET nickname = excluded.nickname",
                      SV_ARGS(SV_TEXT(wxid), SV_TEXT(nickname), SV_I64(pl_now(x->pl))), NULL);
}

int pl_wxuser_put_json(struct platform *pl, const json_t *obj, struct be_diag *diag)
{
    struct put_ctx x = {pl, obj, diag};
    return store_tx(pl->store, wxuser_put_tx, &x);
}

/* ---- authorizers ---- */

struct authorizer_row {
    const char *appid, *kind, *nick_name, *principal_name, *user_name, *alias, *signature,
        *head_img;
    int64_t service_type, verify_type, account_status;
    char gh[16];
};

static void authorizer_defaults(struct authorizer_row *a, const char *appid)
{
    unsigned char h[CRYPTO_SHA256_LEN];
    struct buf hex = BUF_INIT;
    crypto_sha256(appid, strlen(appid), h);
    buf_addhex(&hex, h, 6);
    snprintf(a->gh, sizeof(a->gh), "gh_%s", hex.data);
    buf_release(&hex);
    a->appid = appid;
    a->kind = a->nick_name = a->principal_name = NULL;
    a->user_name = a->gh;
    a->alias = a->signature = "";
    a->head_img = NULL;
    a->service_type = -1; /* by kind, below */
    a->verify_type = 0;
    a->account_status = 1;
}

static void authorizer_from_row(struct authorizer_row *a, const struct store_result *r)
{
    size_t i = 0;
    a->kind = store_result_text(r, 0, i++);
    a->nick_name = store_result_text(r, 0, i++);
    a->principal_name = store_result_text(r, 0, i++);
    a->user_name = store_result_text(r, 0, i++);
    a->alias = store_result_text(r, 0, i++);
    a->signature = store_result_text(r, 0, i++);
    a->head_img = store_result_text(r, 0, i++);
    a->service_type = store_result_i64(r, 0, i++);
    a->verify_type = store_result_i64(r, 0, i++);
    a->account_status = store_result_i64(r, 0, i++);
}

static bool kind_valid(const char *s)
{
    return !strcmp(s, "mp") || !strcmp(s, "oa");
}

static int authorizer_overlay(const json_t *obj, struct authorizer_row *a, struct be_diag *diag)
{
    int rc;
    if ((rc = str_member(obj, "kind", 2, 2, kind_valid, &a->kind, diag)) ||
        (rc = str_member(obj, "nick_name", 1, PL_NAME_MAX, NULL, &a->nick_name, diag)) ||
        (rc = str_member(obj, "principal_name", 1, PL_NAME_MAX, NULL, &a->principal_name, diag)) ||
        (rc = str_member(obj, "user_name", 4, PL_ID_MAX, gh_name, &a->user_name, diag)) ||
        (rc = str_member(obj, "alias", 0, PL_ID_MAX, id_or_empty, &a->alias, diag)) ||
        (rc = str_member(obj, "signature", 0, PL_TEXT_MAX, NULL, &a->signature, diag)) ||
        (rc = str_member(obj, "head_img", 0, PL_TEXT_MAX, url_or_empty, &a->head_img, diag)) ||
        (rc = int_member(obj, "service_type", 0, 100, &a->service_type, diag)) ||
        (rc = int_member(obj, "verify_type", -1, 10, &a->verify_type, diag)) ||
        (rc = int_member(obj, "account_status", 1, 19, &a->account_status, diag)))
        return rc;
    if (a->account_status != 1 && a->account_status != 14 && a->account_status != 16 &&
        a->account_status != 18 && a->account_status != 19)
        return be_fail(diag, BE_INVALID_PARAMETER_VALUE,
                       "account_status must be 1, 14, 16, 18 or 19");
    if (a->service_type < 0)
        a->service_type = !strcmp(a->kind, "mp") ? 0 : 2;
    return BE_OK;
}

static int admins_replace(struct store_conn *c, const char *appid, const json_t *admins,
                          struct be_diag *diag)
{
    size_t i;
    const json_t *v;
    if (!json_is_array(admins) || json_array_size(admins) > PL_ADMINS_MAX)
        return be_fail(diag, BE_INVALID_PARAMETER_VALUE,
                       "admins must be an array of at most %d wxids", PL_ADMINS_MAX);
    int rc = store_exec(c, "DELETE FROM pl_admins WHERE appid = $1", SV_ARGS(SV_TEXT(appid)), NULL);
    json_array_foreach(admins, i, v)
    {
        const char *wxid = json_string_value(v);
        bool known = false;
        if (rc)
            return rc;
        if (!pl_valid_id(wxid))
            return be_fail(diag, BE_INVALID_PARAMETER_VALUE, "admins[%zu] is not a wxid", i);
        if ((rc = appid_taken(c, "SELECT 1 FROM pl_wxusers WHERE wxid = $1", wxid, &known)))
            return rc;
        if (!known)
            return be_fail(diag, BE_NOT_FOUND, "admins[%zu]: no WeChat user %s", i, wxid);
        rc = store_exec(c,
                        "INSERT INTO pl_admins (appid, wxid) VALUES ($1, $2) "
                        "ON CONFLICT (appid, wxid) DO NOTHING",
                        SV_ARGS(SV_TEXT(appid), SV_TEXT(wxid)), NULL);
    }
    return rc;
}

static int authorizer_write(struct store_conn *c, const struct authorizer_row *a, int64_t now)
{
    char head[PL_TEXT_MAX + 64];
    const char *head_img = a->head_img;
    if (!head_img) {
        snprintf(head, sizeof(head), "http://wx.qlogo.cn/mmopen/emu/%s/0", a->appid);
        head_img = head;
    }
    return store_exec(
        c,
        "INSERT INTO pl_authorizers (appid, kind, nick_name, principal_name, user_name, alias, "
        "signature, head_img, service_type, verify_type, account_status, created_at) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT (appid) DO UPDATE "
        "SET kind = excluded.kind, nick_name = excluded.nick_name, "
        "principal_name = excluded.principal_name, user_name = excluded.user_name, "
        "alias = excluded.alias, signature = excluded.signature, head_img = excluded.head_img, "
        "service_type = excluded.service_type, verify_type = excluded.verify_type, "
        "account_status = excluded.account_status",
        SV_ARGS(SV_TEXT(a->appid), SV_TEXT(a->kind), SV_TEXT(a->nick_name),
                SV_TEXT(a->principal_name), SV_TEXT(a->user_name), SV_TEXT(a->alias),
                SV_TEXT(a->signature), SV_TEXT(head_img), SV_I64(a->service_type),
                SV_I64(a->verify_type), SV_I64(a->account_status), SV_I64(now)),
        NULL);
}

static int authorizer_put_tx(struct store_conn *c, void *arg)
{
    struct put_ctx *x = arg;
    struct authorizer_row a;
    struct store_result *r = NULL;
    const char *appid = NULL;
    bool is_component = false;
    int rc;
    if ((rc = check_members(x->obj,
                            KNOWN("appid", "kind", "nick_name", "principal_name", "admins",
                                  "user_name", "alias", "signature", "head_img", "service_type",
                                  "verify_type", "account_status"),
                            x->diag)) ||
        (rc = require(x->obj, KNOWN("appid"), x->diag)) ||
        (rc = str_member(x->obj, "appid", 1, PL_ID_MAX, pl_valid_id, &appid, x->diag)))
        return rc;
    if ((rc = appid_taken(c, "SELECT 1 FROM pl_components WHERE appid = $1", appid, &is_component)))
        return rc;
    if (is_component)
        return be_fail(x->diag, BE_DUPLICATE, "appid %s is a component", appid);
    authorizer_defaults(&a, appid);
    rc = pl_query_row(c,
                      "SELECT kind, nick_name, principal_name, user_name, alias, signature, "
                      "head_img, service_type, verify_type, account_status "
                      "FROM pl_authorizers WHERE appid = $1",
                      SV_ARGS(SV_TEXT(appid)), &r);
    if (rc)
        return rc;
    if (r)
        authorizer_from_row(&a, r);
    else
        rc = require(x->obj, KNOWN("kind", "nick_name", "principal_name", "admins"), x->diag);
    if (!rc)
        rc = authorizer_overlay(x->obj, &a, x->diag);
    if (!rc)
        rc = authorizer_write(c, &a, pl_now(x->pl));
    if (!rc && json_object_get(x->obj, "admins"))
        rc = admins_replace(c, appid, json_object_get(x->obj, "admins"), x->diag);
    store_result_free(r);
    return rc;
}

int pl_authorizer_put_json(struct platform *pl, const json_t *obj, struct be_diag *diag)
{
    struct put_ctx x = {pl, obj, diag};
    return store_tx(pl->store, authorizer_put_tx, &x);
}

/* ---- components ---- */

struct component_row {
    const char *appid, *name, *secret, *token, *aes_key, *prev_aes_key, *auth_event_url,
        *entry_domain;
    int64_t published, ticket_pushes;
    struct buf ips, test_appids, oa_funcs, mp_funcs, domain;
};

static bool token_valid(const char *s)
{
    return alnum_only(s);
}

static bool aes_key_valid(const char *s)
{
    unsigned char key[WX_MSGCRYPT_KEY_LEN];
    bool ok = wx_msgcrypt_decode_key(s, key) == 0;
    crypto_wipe(key, sizeof(key));
    return ok;
}

static bool event_url_valid(const char *s)
{
    return url_or_empty(s);
}

static int ips_member(const json_t *obj, struct buf *out, struct be_diag *diag)
{
    const json_t *arr = json_object_get(obj, "ip_whitelist");
    size_t i;
    const json_t *v;
    if (!arr)
        return BE_OK;
    if (!json_is_array(arr) || json_array_size(arr) > PL_IPS_MAX)
        return be_fail(diag, BE_INVALID_PARAMETER_VALUE,
                       "ip_whitelist must be an array of at most %d addresses", PL_IPS_MAX);
    buf_reset(out);
    json_array_foreach(arr, i, v)
    {
        const char *ip = json_string_value(v);
        unsigned char bin[16];
        if (!ip || (inet_pton(AF_INET, ip, bin) != 1 && inet_pton(AF_INET6, ip, bin) != 1))
            return be_fail(diag, BE_INVALID_PARAMETER_VALUE,
                           "ip_whitelist[%zu] is not an IP "
                           "address",
                           i);
        buf_addf(out, "%s%s", i ? "," : "", ip);
    }
    return BE_OK;
}

static int appids_member(const json_t *obj, struct buf *out, struct be_diag *diag)
{
    const json_t *arr = json_object_get(obj, "test_appids");
    size_t i;
    const json_t *v;
    if (!arr)
        return BE_OK;
    if (!json_is_array(arr) || json_array_size(arr) > PL_TEST_APPIDS_MAX)
        return be_fail(diag, BE_INVALID_PARAMETER_VALUE,
                       "test_appids must be an array of at most %d appids", PL_TEST_APPIDS_MAX);
    buf_reset(out);
    json_array_foreach(arr, i, v)
    {
        if (!pl_valid_id(json_string_value(v)))
            return be_fail(diag, BE_INVALID_PARAMETER_VALUE, "test_appids[%zu] is not an appid", i);
        buf_addf(out, "%s%s", i ? "," : "", json_string_value(v));
    }
    return BE_OK;
}

static int funcs_member(const json_t *obj, const char *name, struct buf *out, struct be_diag *diag)
{
    const json_t *arr = json_object_get(obj, name);
    struct pl_funcs f;
    if (!arr)
        return BE_OK;
    if (pl_funcs_from_json(arr, &f) || !f.n)
        return be_fail(diag, BE_INVALID_PARAMETER_VALUE,
                       "%s must be a non-empty array of permission-set ids (1 to %d)", name,
                       PL_FUNC_ID_MAX);
    buf_reset(out);
    pl_funcs_format(&f, out);
    return BE_OK;
}

static void component_init(struct component_row *k, const char *appid)
{
    memset(k, 0, sizeof(*k));
    k->appid = k->name = appid;
    k->prev_aes_key = "";
    k->published = 1;
    k->ticket_pushes = 1;
    buf_init(&k->ips);
    buf_init(&k->test_appids);
    buf_init(&k->oa_funcs);
    buf_init(&k->mp_funcs);
    buf_init(&k->domain);
    buf_adds(&k->oa_funcs, PL_DEFAULT_OA_FUNCS);
    buf_adds(&k->mp_funcs, PL_DEFAULT_MP_FUNCS);
}

static void component_release(struct component_row *k)
{
    buf_release(&k->ips);
    buf_release(&k->test_appids);
    buf_release(&k->oa_funcs);
    buf_release(&k->mp_funcs);
    buf_release(&k->domain);
}

static void component_from_row(struct component_row *k, const struct store_result *r)
{
    size_t i = 0;
    k->name = store_result_text(r, 0, i++);
    k->secret = store_result_text(r, 0, i++);
    k->token = store_result_text(r, 0, i++);
    k->aes_key = store_result_text(r, 0, i++);
    k->prev_aes_key = store_result_text(r, 0, i++);
    k->auth_event_url = store_result_text(r, 0, i++);
    k->entry_domain = store_result_text(r, 0, i++);
    buf_adds(&k->ips, store_result_text(r, 0, i++));
    k->published = store_result_i64(r, 0, i++);
    buf_adds(&k->test_appids, store_result_text(r, 0, i++));
    buf_reset(&k->oa_funcs);
    buf_adds(&k->oa_funcs, store_result_text(r, 0, i++));
    buf_reset(&k->mp_funcs);
    buf_adds(&k->mp_funcs, store_result_text(r, 0, i++));
    k->ticket_pushes = store_result_i64(r, 0, i++);
}

static int component_overlay(const json_t *obj, struct component_row *k, struct be_diag *diag)
{
    const char *old_key = k->aes_key;
    int rc;
    if ((rc = str_member(obj, "name", 1, PL_NAME_MAX, NULL, &k->name, diag)) ||
        (rc = str_member(obj, "secret", 1, PL_SECRET_MAX, visible_ascii, &k->secret, diag)) ||
        (rc = str_member(obj, "token", PL_TOKEN_MIN, PL_TOKEN_MAX, token_valid, &k->token, diag)) ||
        (rc = str_member(obj, "aes_key", WX_MSGCRYPT_KEY_TEXT_LEN, WX_MSGCRYPT_KEY_TEXT_LEN,
                         aes_key_valid, &k->aes_key, diag)) ||
        (rc = str_member(obj, "auth_event_url", 0, PL_URL_MAX, event_url_valid, &k->auth_event_url,
                         diag)) ||
        (rc = str_member(obj, "entry_domain", 1, PL_DOMAIN_MAX, domain_chars, &k->entry_domain,
                         diag)) ||
        (rc = ips_member(obj, &k->ips, diag)) || (rc = appids_member(obj, &k->test_appids, diag)) ||
        (rc = funcs_member(obj, "oa_funcs", &k->oa_funcs, diag)) ||
        (rc = funcs_member(obj, "mp_funcs", &k->mp_funcs, diag)) ||
        (rc = bool_member(obj, "published", &k->published, diag)) ||
        (rc = bool_member(obj, "ticket_pushes", &k->ticket_pushes, diag)))
        return rc;
    /* A new key keeps the old one as the previous key (spec §7.8). */
    if (old_key && strcmp(old_key, k->aes_key))
        k->prev_aes_key = old_key;
    buf_reset(&k->domain);
    for (const char *p = k->entry_domain; *p; p++)
        buf_addch(&k->domain, (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p));
    return BE_OK;
}

static int component_write(struct store_conn *c, const struct component_row *k, int64_t now)
{
    return store_exec(
        c,
        "INSERT INTO pl_components (appid, name, secret, token, aes_key, prev_aes_key, "
        "auth_event_url, entry_domain, ip_whitelist, published, test_appids, oa_funcs, mp_funcs, "
        "ticket_pushes, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, "
        "$13, $14, $15) ON CONFLICT (appid) DO UPDATE SET name = excluded.name, "
        "secret = excluded.secret, token = excluded.token, aes_key = excluded.aes_key, "
        "prev_aes_key = excluded.prev_aes_key, auth_event_url = excluded.auth_event_url, "
        "entry_domain = excluded.entry_domain, ip_whitelist = excluded.ip_whitelist, "
        "published = excluded.published, test_appids = excluded.test_appids, "
        "oa_funcs = excluded.oa_funcs, mp_funcs = excluded.mp_funcs, "
        "ticket_pushes = excluded.ticket_pushes",
        SV_ARGS(SV_TEXT(k->appid), SV_TEXT(k->name), SV_TEXT(k->secret), SV_TEXT(k->token),
                SV_TEXT(k->aes_key), SV_TEXT(k->prev_aes_key), SV_TEXT(k->auth_event_url),
                SV_TEXT(k->domain.data), SV_TEXT(k->ips.data), SV_I64(k->published),
                SV_TEXT(k->test_appids.data), SV_TEXT(k->oa_funcs.data), SV_TEXT(k->mp_funcs.data),
                SV_I64(k->ticket_pushes), SV_I64(now)),
        NULL);
}

#define COMPONENT_COLS                                                                             \
    "name, secret, token, aes_key, prev_aes_key, auth_event_url, entry_domain, ip_whitelist, "     \
    "published, test_appids, oa_funcs, mp_funcs, ticket_pushes"

static int component_put_tx(struct store_conn *c, void *arg)
{
    struct put_ctx *x = arg;
    struct component_row k;
    struct store_result *r = NULL;
    const char *appid = NULL;
    bool is_authorizer = false;
    int rc;
    if ((rc = check_members(x->obj,
                            KNOWN("component_appid", "secret", "token", "aes_key", "auth_event_url",
                                  "entry_domain", "name", "ip_whitelist", "published",
                                  "test_appids", "oa_funcs", "mp_funcs", "ticket_pushes"),
                            x->diag)) ||
        (rc = require(x->obj, KNOWN("component_appid"), x->diag)) ||
        (rc = str_member(x->obj, "component_appid", 1, PL_ID_MAX, pl_valid_id, &appid, x->diag)))
        return rc;
    if ((rc = appid_taken(c, "SELECT 1 FROM pl_authorizers WHERE appid = $1", appid,
                          &is_authorizer)))
        return rc;
    if (is_authorizer)
        return be_fail(x->diag, BE_DUPLICATE, "appid %s is an authorizer", appid);
    component_init(&k, appid);
    rc = pl_query_row(c, "SELECT " COMPONENT_COLS " FROM pl_components WHERE appid = $1",
                      SV_ARGS(SV_TEXT(appid)), &r);
    if (!rc && r)
        component_from_row(&k, r);
    else if (!rc)
        rc = require(x->obj, KNOWN("secret", "token", "aes_key", "auth_event_url", "entry_domain"),
                     x->diag);
    if (!rc)
        rc = component_overlay(x->obj, &k, x->diag);
    if (!rc)
        rc = component_write(c, &k, pl_now(x->pl));
    component_release(&k);
    store_result_free(r);
    return rc;
}

int pl_component_put_json(struct platform *pl, const json_t *obj, struct be_diag *diag)
{
    struct put_ctx x = {pl, obj, diag};
    int rc = store_tx(pl->store, component_put_tx, &x);
    if (rc == BE_OK)
        pl_wake(pl);
    return rc;
}

/* ---- key rotation ---- */

struct rotate_ctx {
    const char *appid;
    const char *key;
    struct be_diag *diag;
};

static int rotate_tx(struct store_conn *c, void *arg)
{
    struct rotate_ctx *x = arg;
    int64_t changed = 0;
    int rc = store_exec(c,
                        "UPDATE pl_components SET prev_aes_key = aes_key, aes_key = $2 "
                        "WHERE appid = $1",
                        SV_ARGS(SV_TEXT(x->appid), SV_TEXT(x->key)), &changed);
    if (!rc && !changed)
        rc = be_fail(x->diag, BE_NOT_FOUND, "no component %s", x->appid);
    return rc;
}

/* 43 random characters of [A-Za-z0-9] (the decoder ignores the two
 * trailing bits of the last one, spec §7.1). */
static void random_aes_key(char out[WX_MSGCRYPT_KEY_TEXT_LEN + 1])
{
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    for (size_t i = 0; i < WX_MSGCRYPT_KEY_TEXT_LEN; i++)
        out[i] = alphabet[crypto_random_range(0, sizeof(alphabet) - 2)];
    out[WX_MSGCRYPT_KEY_TEXT_LEN] = '\0';
}

int pl_component_rotate_key(struct platform *pl, const char *component_appid, const char *new_key,
                            struct be_diag *diag)
{
    char generated[WX_MSGCRYPT_KEY_TEXT_LEN + 1];
    if (!pl_valid_id(component_appid))
        return be_fail(diag, BE_INVALID_PARAMETER_VALUE, "invalid component_appid");
    if (!new_key) {
        random_aes_key(generated);
        new_key = generated;
    }
    if (!aes_key_valid(new_key))
        return be_fail(diag, BE_INVALID_PARAMETER_VALUE,
                       "aes_key must be 43 characters of [A-Za-z0-9]");
    struct rotate_ctx x = {component_appid, new_key, diag};
    return store_tx(pl->store, rotate_tx, &x);
}
