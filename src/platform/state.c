/* The state dump (platform.h: pl_state_json). Each list is one query whose
 * columns are turned into JSON members by a small column table. */
#include <stdio.h>
#include <string.h>

#include "core/timeutil.h"
#include "platform/internal.h"
#include "platform/platform.h"
#include "core/banned.h"

/* How a column becomes a member: s text, i integer, n integer or null,
 * b 0/1 as a boolean, l comma-separated text as an array of strings,
 * f comma-separated permission-set ids as an array of integers. */
struct col {
    const char *name;
    char type;
};

static json_t *comma_list(const char *s, bool numbers)
{
    json_t *arr = json_array();
    struct pl_funcs f;
    if (numbers) {
        if (!pl_funcs_parse(s, &f))
            for (size_t i = 0; i < f.n; i++)
                json_array_append_new(arr, json_integer(f.id[i]));
        return arr;
    }
    for (const char *p = s; p && *p;) {
        size_t n = strcspn(p, ",");
        json_array_append_new(arr, json_stringn(p, n));
        p += n + (p[n] ? 1 : 0);
    }
    return arr;
}

static json_t *cell(const struct store_result *r, size_t row, size_t col, char type)
{
    switch (type) {
    case 'i':
        return json_integer(store_result_i64(r, row, col));
    case 'n':
        return store_result_is_null(r, row, col) ? json_null()
                                                 : json_integer(store_result_i64(r, row, col));
    case 'b':
        return json_boolean(store_result_i64(r, row, col) != 0);
    case 'l':
        return comma_list(store_result_text(r, row, col), false);
    case 'f':
        return comma_list(store_result_text(r, row, col), true);
    default: {
        const char *s = store_result_text(r, row, col);
        return s ? json_string(s) : json_null();
    }
    }
}

/* Runs sql and appends one object per row to a new array set as
 * out[member]. */
static int add_list(struct store_conn *c, json_t *out, const char *member, const char *sql,
                    const struct col *cols, size_t ncols)
{
    struct store_result *r = NULL;
    int rc = store_query(c, sql, SV_ARGS(SV_I64(PL_STATE_ROWS)), &r);
    if (rc)
        return rc;
    json_t *arr = json_array();
    for (size_t i = 0; i < store_result_rows(r); i++) {
        json_t *o = json_object();
        for (size_t k = 0; k < ncols; k++)
            json_object_set_new(o, cols[k].name, cell(r, i, k, cols[k].type));
        json_array_append_new(arr, o);
    }
    json_object_set_new(out, member, arr);
    store_result_free(r);
    return BE_OK;
}

#define COLS(...)                                                                                  \
    (const struct col[]){__VA_ARGS__},                                                             \
        sizeof((const struct col[]){__VA_ARGS__}) / sizeof(struct col)

static int add_entities(struct store_conn *c, json_t *out)
{
    int rc =
        add_list(c, out, "wxusers", "SELECT wxid, nickname FROM pl_wxusers ORDER BY wxid LIMIT $1",
                 COLS({"wxid", 's'}, {"nickname", 's'}));
    /* The emulator's store is SQLite, but the SQL stays portable. */
    bool pg = store_conn_dialect(c) == STORE_POSTGRES;
    if (!rc)
        rc = add_list(
            c, out, "authorizers",
            pg ? "SELECT a.appid, a.kind, a.nick_name, a.principal_name, a.user_name, "
                 "a.service_type, a.verify_type, a.account_status, COALESCE((SELECT "
                 "string_agg(wxid, ',' ORDER BY wxid) FROM pl_admins d WHERE d.appid = "
                 "a.appid), '') FROM pl_authorizers a ORDER BY a.appid LIMIT $1"
               : "SELECT a.appid, a.kind, a.nick_name, a.principal_name, a.user_name, "
                 "a.service_type, a.verify_type, a.account_status, COALESCE((SELECT "
                 "group_concat(wxid, ',') FROM (SELECT wxid FROM pl_admins d WHERE d.appid = "
                 "a.appid ORDER BY wxid)), '') FROM pl_authorizers a ORDER BY a.appid LIMIT $1",
            COLS({"appid", 's'}, {"kind", 's'}, {"nick_name", 's'}, {"principal_name", 's'},
                 {"user_name", 's'}, {"service_type", 'i'}, {"verify_type", 'i'},
                 {"account_status", 'i'}, {"admins", 'l'}));
    if (!rc)
        rc = add_list(c, out, "components",
                      "SELECT appid, name, secret, token, aes_key, prev_aes_key, auth_event_url, "
                      "entry_domain, ip_whitelist, published, test_appids, oa_funcs, mp_funcs, "
                      "ticket_pushes, last_ticket_at FROM pl_components ORDER BY appid LIMIT $1",
                      COLS({"component_appid", 's'}, {"name", 's'}, {"secret", 's'}, {"token", 's'},
                           {"aes_key", 's'}, {"prev_aes_key", 's'}, {"auth_event_url", 's'},
                           {"entry_domain", 's'}, {"ip_whitelist", 'l'}, {"published", 'b'},
                           {"test_appids", 'l'}, {"oa_funcs", 'f'}, {"mp_funcs", 'f'},
                           {"ticket_pushes", 'b'}, {"last_ticket_at", 'i'}));
    if (!rc)
        rc = add_list(c, out, "authorizations",
                      "SELECT component, authorizer, state, func_ids, refresh_token, auth_time, "
                      "updated_time, revoked_at FROM pl_authorizations "
                      "ORDER BY updated_time DESC, component, authorizer LIMIT $1",
                      COLS({"component_appid", 's'}, {"authorizer_appid", 's'}, {"state", 's'},
                           {"func_ids", 'f'}, {"refresh_token", 's'}, {"auth_time", 'i'},
                           {"updated_time", 'i'}, {"revoked_at", 'n'}));
    return rc;
}

static int add_credentials(struct store_conn *c, json_t *out)
{
    int rc = add_list(c, out, "tickets",
                      "SELECT component, value, issued_at FROM pl_tickets "
                      "ORDER BY issued_at DESC, value LIMIT $1",
                      COLS({"component_appid", 's'}, {"ticket", 's'}, {"issued_at", 'i'}));
    if (!rc)
        rc = add_list(c, out, "tokens",
                      "SELECT kind, component, authorizer, value, issued_at, expires_at, "
                      "superseded_at, revoked FROM pl_tokens ORDER BY issued_at DESC, value "
                      "LIMIT $1",
                      COLS({"kind", 's'}, {"component_appid", 's'}, {"authorizer_appid", 's'},
                           {"token", 's'}, {"issued_at", 'i'}, {"expires_at", 'i'},
                           {"superseded_at", 'n'}, {"revoked", 'b'}));
    if (!rc)
        rc = add_list(c, out, "pre_auth_codes",
                      "SELECT component, value, issued_at, expires_at, used_at, used_by_session "
                      "FROM pl_preauth_codes ORDER BY issued_at DESC, value LIMIT $1",
                      COLS({"component_appid", 's'}, {"pre_auth_code", 's'}, {"issued_at", 'i'},
                           {"expires_at", 'i'}, {"used_at", 'n'}, {"used_by_session", 's'}));
    if (!rc)
        rc = add_list(c, out, "auth_codes",
                      "SELECT component, authorizer, value, pre_auth_code, issued_at, "
                      "expires_at, uses, revoked FROM pl_auth_codes "
                      "ORDER BY issued_at DESC, value LIMIT $1",
                      COLS({"component_appid", 's'}, {"authorizer_appid", 's'}, {"auth_code", 's'},
                           {"pre_auth_code", 's'}, {"issued_at", 'i'}, {"expires_at", 'i'},
                           {"uses", 'i'}, {"revoked", 'b'}));
    return rc;
}

static int add_activity(struct store_conn *c, json_t *out)
{
    int rc = add_list(c, out, "sessions",
                      "SELECT id, component, entry, state, pre_auth_code, redirect_uri, "
                      "auth_type, biz_appid, scanned_by, chosen_appid, redirect_url, push_job, "
                      "created_at, expires_at FROM pl_sessions "
                      "ORDER BY created_at DESC, id LIMIT $1",
                      COLS({"id", 's'}, {"component_appid", 's'}, {"entry", 's'}, {"state", 's'},
                           {"pre_auth_code", 's'}, {"redirect_uri", 's'}, {"auth_type", 'i'},
                           {"biz_appid", 's'}, {"scanned_by", 's'}, {"chosen_appid", 's'},
                           {"redirect_url", 's'}, {"push_job", 'i'}, {"created_at", 'i'},
                           {"expires_at", 'i'}));
    if (!rc)
        rc = add_list(c, out, "pushes",
                      "SELECT id, component, info_type, authorizer, url, state, attempts, "
                      "max_attempts, created_at, next_at_ms, finished_at_ms, xml "
                      "FROM pl_push_jobs ORDER BY id DESC LIMIT $1",
                      COLS({"id", 'i'}, {"component_appid", 's'}, {"info_type", 's'},
                           {"authorizer_appid", 's'}, {"url", 's'}, {"state", 's'},
                           {"attempts", 'i'}, {"max_attempts", 'i'}, {"create_time", 'i'},
                           {"next_at_ms", 'i'}, {"finished_at_ms", 'n'}, {"xml", 's'}));
    if (!rc)
        rc = add_list(c, out, "deliveries",
                      "SELECT job, attempt, at_ms, http_status, outcome, detail, duration_ms "
                      "FROM pl_push_log ORDER BY id DESC LIMIT $1",
                      COLS({"job", 'i'}, {"attempt", 'i'}, {"at_ms", 'i'}, {"http_status", 'i'},
                           {"outcome", 's'}, {"detail", 's'}, {"duration_ms", 'i'}));
    return rc;
}

/* Per authorizer: the checks counted by capi.h (info and list calls, all
 * components and days). Per component: every API's calls. */
static int add_counters(struct store_conn *c, json_t *out)
{
    struct store_result *r = NULL;
    json_t *auths = json_object_get(out, "authorizers");
    size_t i;
    json_t *a;
    json_array_foreach(auths, i, a)
    {
        json_object_set_new(
            a, "checks",
            json_pack("{s:i,s:i}", "api_get_authorizer_info", 0, "api_get_authorizer_list", 0));
    }
    int rc = store_query(c,
                         "SELECT subject, api, SUM(count) FROM pl_calls WHERE api IN "
                         "('api_get_authorizer_info', 'api_get_authorizer_list') AND subject <> '' "
                         "GROUP BY subject, api",
                         NULL, 0, &r);
    for (size_t row = 0; !rc && row < store_result_rows(r); row++)
        json_array_foreach(auths, i, a)
        {
            if (strcmp(json_string_value(json_object_get(a, "appid")),
                       store_result_text(r, row, 0)))
                continue;
            json_object_set_new(json_object_get(a, "checks"), store_result_text(r, row, 1),
                                json_integer(store_result_i64(r, row, 2)));
        }
    store_result_free(r);
    r = NULL;
    if (!rc)
        rc = store_query(c,
                         "SELECT component, api, SUM(count) FROM pl_calls WHERE subject = '' "
                         "GROUP BY component, api ORDER BY component, api",
                         NULL, 0, &r);
    json_t *calls = json_object();
    for (size_t row = 0; !rc && row < store_result_rows(r); row++) {
        const char *k = store_result_text(r, row, 0);
        if (!json_object_get(calls, k))
            json_object_set_new(calls, k, json_object());
        json_object_set_new(json_object_get(calls, k), store_result_text(r, row, 1),
                            json_integer(store_result_i64(r, row, 2)));
    }
    json_object_set_new(out, "api_calls", calls);
    store_result_free(r);
    return rc;
}

struct state_ctx {
    struct platform *pl;
    json_t *out;
};

static int state_tx(struct store_conn *c, void *arg)
{
    struct state_ctx *x = arg;
    json_object_clear(x->out);
    int rc = add_entities(c, x->out);
    if (!rc)
        rc = add_credentials(c, x->out);
    if (!rc)
        rc = add_activity(c, x->out);
    if (!rc)
        rc = add_counters(c, x->out);
    return rc;
}

static json_t *settings_json(const struct pl_settings *s)
{
    return json_pack("{s:s,s:i,s:i,s:s,s:f,s:i,s:b,s:b,s:b,s:b,s:b,s:{s:i,s:i,s:i}}",
                     "unauthorized", s->suppress_unauthorized ? "suppress" : "deliver", "delay_ms",
                     (int)s->push_delay_ms, "retry_ms", (int)s->retry_ms, "order",
                     s->redirect_first ? "redirect_first" : "push_first", "error_rate",
                     (double)s->error_rate_ppm / PL_ERROR_RATE_PPM_MAX, "latency_ms",
                     (int)s->latency_ms, "drop_pushes", s->drop_pushes, "check_referer",
                     s->check_referer, "quotas", s->quotas, "single_use_codes", s->single_use_codes,
                     "rotate_refresh_on_update", s->rotate_refresh_on_update, "quota_limits",
                     "api_component_token", (int)s->quota_component_token, "api_authorizer_token",
                     (int)s->quota_authorizer_token, "other", (int)s->quota_other);
}

static int calls_tx(struct store_conn *c, void *arg)
{
    json_t *out = arg;
    struct store_result *r = NULL;
    json_object_clear(out);
    int rc = store_query(c,
                         "SELECT api, subject, SUM(count) FROM pl_calls WHERE subject <> '' "
                         "GROUP BY api, subject",
                         NULL, 0, &r);
    for (size_t row = 0; !rc && row < store_result_rows(r); row++) {
        const char *api = store_result_text(r, row, 0);
        if (!json_object_get(out, api))
            json_object_set_new(out, api, json_object());
        json_object_set_new(json_object_get(out, api), store_result_text(r, row, 1),
                            json_integer(store_result_i64(r, row, 2)));
    }
    store_result_free(r);
    return rc;
}

int pl_calls_json(struct platform *pl, json_t **ret)
{
    json_t *out = json_object();
    int rc = store_tx(pl->store, calls_tx, out);
    if (rc) {
        json_decref(out);
        return rc;
    }
    *ret = out;
    return BE_OK;
}

int pl_state_json(struct platform *pl, json_t **ret)
{
    struct pl_settings s;
    struct state_ctx x = {pl, json_object()};
    int rc = store_tx(pl->store, state_tx, &x);
    if (rc) {
        json_decref(x.out);
        return rc;
    }
    pl_settings_get(pl, &s);
    json_object_set_new(x.out, "clock",
                        json_pack("{s:I,s:I,s:I,s:I}", "now", (json_int_t)pl_now(pl), "offset",
                                  (json_int_t)s.clock_offset, "wall", (json_int_t)time_now(),
                                  "ticket_interval", (json_int_t)pl_ticket_interval(pl)));
    json_object_set_new(x.out, "settings", settings_json(&s));
    *ret = x.out;
    return BE_OK;
}
