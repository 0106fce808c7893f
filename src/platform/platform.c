/* The emulator's store, settings and clock, and the helpers shared by the
 * rest of src/platform (internal.h). */
#include "platform/platform.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "core/buf.h"
#include "core/crypto.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/timeutil.h"
#include "platform/internal.h"
#include "core/banned.h"

#define PL_STORE_POOL       8
#define SHANGHAI_UTC_OFFSET (8 * 3600)

/* Forward-only schema of the emulator's own file (component "platform").
 * Never edit a shipped migration; add one. */
static const struct store_migration migrations[] = {
    {1, "settings, WeChat users, authorizers",
     "CREATE TABLE pl_settings ("
     "  id BIGINT PRIMARY KEY,"
     "  clock_offset BIGINT NOT NULL DEFAULT 0,"
     "  suppress_unauthorized BIGINT NOT NULL DEFAULT 0,"
     "  push_delay_ms BIGINT NOT NULL DEFAULT 0,"
     "  retry_ms BIGINT NOT NULL DEFAULT 5000,"
     "  redirect_first BIGINT NOT NULL DEFAULT 0,"
     "  error_rate_ppm BIGINT NOT NULL DEFAULT 0,"
     "  latency_ms BIGINT NOT NULL DEFAULT 0,"
     "  drop_pushes BIGINT NOT NULL DEFAULT 0,"
     "  check_referer BIGINT NOT NULL DEFAULT 1,"
     "  quotas BIGINT NOT NULL DEFAULT 0,"
     "  single_use_codes BIGINT NOT NULL DEFAULT 0,"
     "  rotate_refresh BIGINT NOT NULL DEFAULT 0,"
     "  quota_component_token BIGINT NOT NULL DEFAULT 2000,"
     "  quota_authorizer_token BIGINT NOT NULL DEFAULT 2000,"
     "  quota_other BIGINT NOT NULL DEFAULT 10000"
     ");"
     "INSERT INTO pl_settings (id) VALUES (1);"
     "CREATE TABLE pl_wxusers ("
     "  wxid TEXT PRIMARY KEY,"
     "  nickname TEXT NOT NULL,"
     "  created_at BIGINT NOT NULL"
     ");"
     "CREATE TABLE pl_authorizers ("
     "  appid TEXT PRIMARY KEY,"
     "  kind TEXT NOT NULL,"
     "  nick_name TEXT NOT NULL,"
     "  principal_name TEXT NOT NULL,"
     "  user_name TEXT NOT NULL,"
     "  alias TEXT NOT NULL,"
     "  signature TEXT NOT NULL,"
     "  head_img TEXT NOT NULL,"
     "  service_type BIGINT NOT NULL,"
     "  verify_type BIGINT NOT NULL,"
     "  account_status BIGINT NOT NULL,"
     "  created_at BIGINT NOT NULL"
     ");"
     "CREATE TABLE pl_admins ("
     "  appid TEXT NOT NULL,"
     "  wxid TEXT NOT NULL,"
     "  PRIMARY KEY (appid, wxid)"
     ");"},
    {2, "components",
     "CREATE TABLE pl_components ("
     "  appid TEXT PRIMARY KEY,"
     "  name TEXT NOT NULL,"
     "  secret TEXT NOT NULL,"
     "  token TEXT NOT NULL,"
     "  aes_key TEXT NOT NULL,"
     "  prev_aes_key TEXT NOT NULL,"
     "  auth_event_url TEXT NOT NULL,"
     "  entry_domain TEXT NOT NULL,"
     "  ip_whitelist TEXT NOT NULL,"
     "  published BIGINT NOT NULL,"
     "  test_appids TEXT NOT NULL,"
     "  oa_funcs TEXT NOT NULL,"
     "  mp_funcs TEXT NOT NULL,"
     "  ticket_pushes BIGINT NOT NULL,"
     "  last_ticket_at BIGINT NOT NULL DEFAULT 0,"
     "  quota_clears BIGINT NOT NULL DEFAULT 0,"
     "  quota_clears_month BIGINT NOT NULL DEFAULT 0,"
     "  created_at BIGINT NOT NULL"
     ");"},
    {3, "credentials",
     "CREATE TABLE pl_tickets ("
     "  value TEXT PRIMARY KEY,"
     "  component TEXT NOT NULL,"
     "  issued_at BIGINT NOT NULL"
     ");"
     "CREATE TABLE pl_tokens ("
     "  value TEXT PRIMARY KEY,"
     "  kind TEXT NOT NULL,"
     "  component TEXT NOT NULL,"
     "  authorizer TEXT NOT NULL,"
     "  issued_at BIGINT NOT NULL,"
     "  expires_at BIGINT NOT NULL,"
     "  superseded_at BIGINT,"
     "  revoked BIGINT NOT NULL DEFAULT 0"
     ");"
     "CREATE INDEX pl_tokens_subject ON pl_tokens (component, kind, authorizer);"
     "CREATE TABLE pl_preauth_codes ("
     "  value TEXT PRIMARY KEY,"
     "  component TEXT NOT NULL,"
     "  issued_at BIGINT NOT NULL,"
     "  expires_at BIGINT NOT NULL,"
     "  used_at BIGINT,"
     "  used_by_session TEXT"
     ");"
     "CREATE TABLE pl_authorizations ("
     "  component TEXT NOT NULL,"
     "  authorizer TEXT NOT NULL,"
     "  state TEXT NOT NULL,"
     "  func_ids TEXT NOT NULL,"
     "  refresh_token TEXT NOT NULL,"
     "  auth_time BIGINT NOT NULL,"
     "  updated_time BIGINT NOT NULL,"
     "  revoked_at BIGINT,"
     "  PRIMARY KEY (component, authorizer)"
     ");"
     "CREATE TABLE pl_auth_codes ("
     "  value TEXT PRIMARY KEY,"
     "  component TEXT NOT NULL,"
     "  authorizer TEXT NOT NULL,"
     "  pre_auth_code TEXT NOT NULL,"
     "  issued_at BIGINT NOT NULL,"
     "  expires_at BIGINT NOT NULL,"
     "  uses BIGINT NOT NULL DEFAULT 0,"
     "  revoked BIGINT NOT NULL DEFAULT 0"
     ");"},
    {4, "QR sessions, pushes, call counters",
     "CREATE TABLE pl_sessions ("
     "  id TEXT PRIMARY KEY,"
     "  component TEXT NOT NULL,"
     "  pre_auth_code TEXT NOT NULL,"
     "  redirect_uri TEXT NOT NULL,"
     "  auth_type BIGINT NOT NULL,"
     "  biz_appid TEXT NOT NULL,"
     "  category_ids TEXT NOT NULL,"
     "  entry TEXT NOT NULL,"
     "  state TEXT NOT NULL,"
     "  scanned_by TEXT NOT NULL DEFAULT '',"
     "  chosen_appid TEXT NOT NULL DEFAULT '',"
     "  auth_code TEXT NOT NULL DEFAULT '',"
     "  redirect_url TEXT NOT NULL DEFAULT '',"
     "  push_job BIGINT NOT NULL DEFAULT 0,"
     "  created_at BIGINT NOT NULL,"
     "  expires_at BIGINT NOT NULL"
     ");"
     "CREATE TABLE pl_push_jobs ("
     "  id @AUTOID@,"
     "  component TEXT NOT NULL,"
     "  info_type TEXT NOT NULL,"
     "  authorizer TEXT NOT NULL,"
     "  url TEXT NOT NULL,"
     "  xml TEXT NOT NULL,"
     "  state TEXT NOT NULL,"
     "  attempts BIGINT NOT NULL DEFAULT 0,"
     "  max_attempts BIGINT NOT NULL,"
     "  next_at_ms BIGINT NOT NULL,"
     "  created_at BIGINT NOT NULL,"
     "  finished_at_ms BIGINT"
     ");"
     "CREATE INDEX pl_push_jobs_due ON pl_push_jobs (state, next_at_ms);"
     "CREATE TABLE pl_push_log ("
     "  id @AUTOID@,"
     "  job BIGINT NOT NULL,"
     "  attempt BIGINT NOT NULL,"
     "  at_ms BIGINT NOT NULL,"
     "  http_status BIGINT NOT NULL,"
     "  outcome TEXT NOT NULL,"
     "  detail TEXT NOT NULL,"
     "  duration_ms BIGINT NOT NULL"
     ");"
     "CREATE TABLE pl_calls ("
     "  component TEXT NOT NULL,"
     "  api TEXT NOT NULL,"
     "  subject TEXT NOT NULL,"
     "  day BIGINT NOT NULL,"
     "  count BIGINT NOT NULL,"
     "  PRIMARY KEY (component, api, subject, day)"
     ");"},
};

#define NMIGRATIONS (sizeof(migrations) / sizeof(migrations[0]))

/* ---- settings in the store ---- */

#define SETTINGS_COLS                                                                              \
    "clock_offset, suppress_unauthorized, push_delay_ms, retry_ms, redirect_first, "               \
    "error_rate_ppm, latency_ms, drop_pushes, check_referer, quotas, single_use_codes, "           \
    "rotate_refresh, quota_component_token, quota_authorizer_token, quota_other"

static int settings_read(struct store_conn *c, void *arg)
{
    struct pl_settings *s = arg;
    struct store_result *r = NULL;
    int rc = pl_query_row(c, "SELECT " SETTINGS_COLS " FROM pl_settings WHERE id = 1", NULL, 0, &r);
    if (rc)
        return rc;
    if (!r)
        return BE_INTERNAL;
    size_t i = 0;
    s->clock_offset = store_result_i64(r, 0, i++);
    s->suppress_unauthorized = store_result_i64(r, 0, i++) != 0;
    s->push_delay_ms = (uint32_t)store_result_i64(r, 0, i++);
    s->retry_ms = (uint32_t)store_result_i64(r, 0, i++);
    s->redirect_first = store_result_i64(r, 0, i++) != 0;
    s->error_rate_ppm = (uint32_t)store_result_i64(r, 0, i++);
    s->latency_ms = (uint32_t)store_result_i64(r, 0, i++);
    s->drop_pushes = store_result_i64(r, 0, i++) != 0;
    s->check_referer = store_result_i64(r, 0, i++) != 0;
    s->quotas = store_result_i64(r, 0, i++) != 0;
    s->single_use_codes = store_result_i64(r, 0, i++) != 0;
    s->rotate_refresh_on_update = store_result_i64(r, 0, i++) != 0;
    s->quota_component_token = (uint32_t)store_result_i64(r, 0, i++);
    s->quota_authorizer_token = (uint32_t)store_result_i64(r, 0, i++);
    s->quota_other = (uint32_t)store_result_i64(r, 0, i++);
    store_result_free(r);
    return BE_OK;
}

static int settings_write(struct store_conn *c, void *arg)
{
    const struct pl_settings *s = arg;
    return store_exec(
        c,
        "UPDATE pl_settings SET clock_offset = $1, suppress_unauthorized = $2, "
        "push_delay_ms = $3, retry_ms = $4, redirect_first = $5, "
        "error_rate_ppm = $6, latency_ms = $7, drop_pushes = $8, "
        "check_referer = $9, quotas = $10, single_use_codes = $11, "
        "rotate_refresh = $12, quota_component_token = $13, "
        "quota_authorizer_token = $14, quota_other = $15 WHERE id = 1",
        SV_ARGS(SV_I64(s->clock_offset), SV_I64(s->suppress_unauthorized), SV_I64(s->push_delay_ms),
                SV_I64(s->retry_ms), SV_I64(s->redirect_first), SV_I64(s->error_rate_ppm),
                SV_I64(s->latency_ms), SV_I64(s->drop_pushes), SV_I64(s->check_referer),
                SV_I64(s->quotas), SV_I64(s->single_use_codes), SV_I64(s->rotate_refresh_on_update),
                SV_I64(s->quota_component_token), SV_I64(s->quota_authorizer_token),
                SV_I64(s->quota_other)),
        NULL);
}

/* ---- life cycle ---- */

int pl_open(const struct pl_options *opts, struct platform **ret_pl, struct be_diag *diag)
{
    struct buf url = BUF_INIT;
    struct platform *pl = xcalloc(1, sizeof(*pl));
    int rc;
    pthread_mutex_init(&pl->mu, NULL);
    pthread_mutex_init(&pl->settings_writer, NULL);
    pthread_cond_init(&pl->wake, NULL);
    pl->ticket_interval = opts->ticket_interval ? opts->ticket_interval : 600;
    pl->fixed_time = opts->fixed_time;
    if (opts->store_url) {
        buf_adds(&url, opts->store_url);
    } else {
        if (mkdir(opts->data_dir, 0700) && errno != EEXIST) {
            rc = be_fail(diag, BE_INVALID_PARAMETER, "cannot create data directory %s: %s",
                         opts->data_dir, strerror(errno));
            goto fail;
        }
        buf_addf(&url, "sqlite://%s/platform.db", opts->data_dir);
    }
    struct store_options so = {.pool_size = PL_STORE_POOL, .connect_timeout_s = 5};
    if ((rc = store_open(url.data, &so, &pl->store))) {
        rc = be_fail(diag, rc, "cannot open store %s: %s", url.data, be_err_message(rc));
        goto fail;
    }
    int version = 0;
    if ((rc = store_migrate_list(pl->store, "platform", migrations, NMIGRATIONS, &version))) {
        rc = be_fail(diag, rc, "cannot migrate store %s: %s", url.data, be_err_message(rc));
        goto fail;
    }
    if ((rc = store_run(pl->store, settings_read, &pl->settings))) {
        rc = be_fail(diag, rc, "cannot read the settings: %s", be_err_message(rc));
        goto fail;
    }
    log_debug("platform: store %s at schema version %d", url.data, version);
    buf_release(&url);
    *ret_pl = pl;
    return BE_OK;
fail:
    buf_release(&url);
    pl_close(pl);
    return rc;
}

void pl_close(struct platform *pl)
{
    if (!pl)
        return;
    store_close(pl->store);
    pthread_cond_destroy(&pl->wake);
    pthread_mutex_destroy(&pl->mu);
    pthread_mutex_destroy(&pl->settings_writer);
    free(pl);
}

uint64_t pl_ticket_interval(const struct platform *pl)
{
    return pl->ticket_interval;
}

/* ---- clock and settings ---- */

static int64_t pl_settings_offset(struct platform *pl)
{
    pthread_mutex_lock(&pl->mu);
    int64_t off = pl->settings.clock_offset;
    pthread_mutex_unlock(&pl->mu);
    return off;
}

int64_t pl_now(struct platform *pl)
{
    return (pl->fixed_time ? pl->fixed_time : time_now()) + pl_settings_offset(pl);
}

void pl_settings_get(struct platform *pl, struct pl_settings *ret)
{
    pthread_mutex_lock(&pl->mu);
    *ret = pl->settings;
    pthread_mutex_unlock(&pl->mu);
}

/* Stores next (a whole settings row, one transaction) and, once it is
 * there, makes it current. The caller holds settings_writer, so no other
 * writer can come between reading the current settings and publishing. */
static int settings_store(struct platform *pl, const struct pl_settings *next)
{
    int rc = store_tx(pl->store, settings_write, (void *)next);
    if (rc == BE_OK) {
        pthread_mutex_lock(&pl->mu);
        pl->settings = *next;
        pthread_mutex_unlock(&pl->mu);
    }
    return rc;
}

/* Writes s with the current clock offset (the clock only moves through
 * pl_clock_advance). */
static int settings_commit(struct platform *pl, const struct pl_settings *s)
{
    pthread_mutex_lock(&pl->settings_writer);
    struct pl_settings next = *s;
    next.clock_offset = pl_settings_offset(pl);
    int rc = settings_store(pl, &next);
    pthread_mutex_unlock(&pl->settings_writer);
    return rc;
}

int pl_clock_advance(struct platform *pl, int64_t seconds, int64_t *ret_now)
{
    if (seconds < 0 || seconds > PL_CLOCK_ADVANCE_MAX)
        return BE_INVALID_PARAMETER_VALUE;
    pthread_mutex_lock(&pl->settings_writer);
    struct pl_settings s;
    pl_settings_get(pl, &s);
    s.clock_offset += seconds;
    int rc = settings_store(pl, &s);
    pthread_mutex_unlock(&pl->settings_writer);
    if (rc)
        return rc;
    pl_wake(pl);
    if (ret_now)
        *ret_now = pl_now(pl);
    return BE_OK;
}

static int settings_check(const struct pl_settings *s, struct be_diag *diag)
{
    if (s->error_rate_ppm > PL_ERROR_RATE_PPM_MAX)
        return be_fail(diag, BE_INVALID_PARAMETER_VALUE, "error_rate must be from 0 to 1");
    if (s->push_delay_ms > PL_DELAY_MS_MAX)
        return be_fail(diag, BE_INVALID_PARAMETER_VALUE, "delay_ms must be at most %u",
                       PL_DELAY_MS_MAX);
    if (s->retry_ms < PL_RETRY_MS_MIN || s->retry_ms > PL_DELAY_MS_MAX)
        return be_fail(diag, BE_INVALID_PARAMETER_VALUE, "retry_ms must be from %u to %u",
                       PL_RETRY_MS_MIN, PL_DELAY_MS_MAX);
    if (s->latency_ms > PL_LATENCY_MS_MAX)
        return be_fail(diag, BE_INVALID_PARAMETER_VALUE, "latency_ms must be at most %u",
                       PL_LATENCY_MS_MAX);
    if (s->quota_component_token > PL_QUOTA_MAX || s->quota_authorizer_token > PL_QUOTA_MAX ||
        s->quota_other > PL_QUOTA_MAX)
        return be_fail(diag, BE_INVALID_PARAMETER_VALUE, "quota limits must be at most %u",
                       PL_QUOTA_MAX);
    return BE_OK;
}

int pl_settings_set(struct platform *pl, const struct pl_settings *s, struct be_diag *diag)
{
    int rc = settings_check(s, diag);
    if (rc)
        return rc;
    rc = settings_commit(pl, s);
    if (rc == BE_OK)
        pl_wake(pl);
    return rc;
}

/* ---- the pusher's wake-up ---- */

void pl_wake(struct platform *pl)
{
    pthread_mutex_lock(&pl->mu);
    pl->woken = true;
    pthread_cond_signal(&pl->wake);
    pthread_mutex_unlock(&pl->mu);
}

void pl_wait(struct platform *pl, unsigned ms)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += ms / 1000;
    until.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&pl->mu);
    while (!pl->woken) {
        if (pthread_cond_timedwait(&pl->wake, &pl->mu, &until))
            break;
    }
    pl->woken = false;
    pthread_mutex_unlock(&pl->mu);
}

/* ---- shared helpers ---- */

void pl_gen_value(struct buf *out, const char *prefix, size_t nbytes)
{
    buf_adds(out, prefix);
    crypto_random_token(out, nbytes);
}

bool pl_valid_id(const char *s)
{
    size_t n = 0;
    if (!s)
        return false;
    for (; s[n]; n++) {
        char ch = s[n];
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                  (ch >= '0' && ch <= '9') || ch == '_' || ch == '-';
        if (!ok || n >= PL_ID_MAX)
            return false;
    }
    return n > 0;
}

int64_t pl_day(int64_t t)
{
    int64_t local = t + SHANGHAI_UTC_OFFSET;
    return local >= 0 ? local / 86400 : -((-local + 86399) / 86400);
}

int pl_query_row(struct store_conn *c, const char *sql, const struct store_val *params,
                 size_t nparams, struct store_result **ret_r)
{
    struct store_result *r = NULL;
    int rc = store_query(c, sql, params, nparams, &r);
    if (rc)
        return rc;
    if (store_result_rows(r) == 0) {
        store_result_free(r);
        r = NULL;
    }
    *ret_r = r;
    return BE_OK;
}

int pl_count_call(struct store_conn *c, const char *component, const char *api, const char *subject,
                  int64_t day)
{
    return store_exec(c,
                      "INSERT INTO pl_calls (component, api, subject, day, count) "
                      "VALUES ($1, $2, $3, $4, 1) ON CONFLICT (component, api, subject, day) "
                      "DO UPDATE SET count = pl_calls.count + 1",
                      SV_ARGS(SV_TEXT(component), SV_TEXT(api), SV_TEXT(subject), SV_I64(day)),
                      NULL);
}

int pl_calls_on(struct store_conn *c, const char *component, const char *api, const char *subject,
                int64_t day, int64_t *ret)
{
    struct store_result *r = NULL;
    int rc =
        pl_query_row(c,
                     "SELECT count FROM pl_calls WHERE component = $1 AND api = $2 AND "
                     "subject = $3 AND day = $4",
                     SV_ARGS(SV_TEXT(component), SV_TEXT(api), SV_TEXT(subject), SV_I64(day)), &r);
    if (rc)
        return rc;
    *ret = r ? store_result_i64(r, 0, 0) : 0;
    store_result_free(r);
    return BE_OK;
}

/* ---- permission-set lists ---- */

int pl_funcs_add(struct pl_funcs *f, int64_t id)
{
    if (id < 1 || id > PL_FUNC_ID_MAX)
        return BE_INVALID_PARAMETER_VALUE;
    size_t i = 0;
    while (i < f->n && f->id[i] < id)
        i++;
    if (i < f->n && f->id[i] == id)
        return BE_OK;
    if (f->n == PL_FUNCS_MAX)
        return BE_INVALID_PARAMETER_VALUE;
    memmove(&f->id[i + 1], &f->id[i], (f->n - i) * sizeof(f->id[0]));
    f->id[i] = (int)id;
    f->n++;
    return BE_OK;
}

int pl_funcs_parse(const char *s, struct pl_funcs *ret)
{
    struct pl_funcs f = {{0}, 0};
    const char *p = s;
    while (*p) {
        int64_t v = 0;
        size_t digits = 0;
        while (*p >= '0' && *p <= '9' && digits < 5) {
            v = v * 10 + (*p++ - '0');
            digits++;
        }
        if (!digits || (*p && *p != ',') || pl_funcs_add(&f, v))
            return BE_INVALID_PARAMETER_VALUE;
        if (*p == ',' && !*++p)
            return BE_INVALID_PARAMETER_VALUE;
    }
    *ret = f;
    return BE_OK;
}

int pl_funcs_from_json(const json_t *arr, struct pl_funcs *ret)
{
    struct pl_funcs f = {{0}, 0};
    size_t i;
    const json_t *v;
    if (!json_is_array(arr) || json_array_size(arr) > PL_FUNCS_MAX)
        return BE_INVALID_PARAMETER_VALUE;
    json_array_foreach(arr, i, v)
    {
        if (!json_is_integer(v) || pl_funcs_add(&f, json_integer_value(v)))
            return BE_INVALID_PARAMETER_VALUE;
    }
    *ret = f;
    return BE_OK;
}

void pl_funcs_format(const struct pl_funcs *f, struct buf *out)
{
    for (size_t i = 0; i < f->n; i++)
        buf_addf(out, "%s%d", i ? "," : "", f->id[i]);
}

bool pl_funcs_equal(const struct pl_funcs *a, const struct pl_funcs *b)
{
    return a->n == b->n && !memcmp(a->id, b->id, a->n * sizeof(a->id[0]));
}

bool pl_funcs_has(const struct pl_funcs *f, int id)
{
    for (size_t i = 0; i < f->n; i++)
        if (f->id[i] == id)
            return true;
    return false;
}

json_t *pl_funcs_info_json(const struct pl_funcs *f)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < f->n; i++)
        json_array_append_new(arr, json_pack("{s:{s:i}}", "funcscope_category", "id", f->id[i]));
    return arr;
}

/* ---- settings from JSON ---- */

static int json_bool_member(const json_t *obj, const char *name, bool *slot, struct be_diag *diag)
{
    const json_t *v = json_object_get(obj, name);
    if (!v)
        return BE_OK;
    if (!json_is_boolean(v))
        return be_fail(diag, BE_INVALID_PARAMETER_VALUE, "%s must be true or false", name);
    *slot = json_is_true(v);
    return BE_OK;
}

static int json_u32_member(const json_t *obj, const char *name, uint32_t max, uint32_t *slot,
                           struct be_diag *diag)
{
    const json_t *v = json_object_get(obj, name);
    if (!v)
        return BE_OK;
    if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > max)
        return be_fail(diag, BE_INVALID_PARAMETER_VALUE, "%s must be a whole number from 0 to %u",
                       name, max);
    *slot = (uint32_t)json_integer_value(v);
    return BE_OK;
}

/* A member that is one of two words; *slot becomes true for the second. */
static int json_choice_member(const json_t *obj, const char *name, const char *no, const char *yes,
                              bool *slot, struct be_diag *diag)
{
    const json_t *v = json_object_get(obj, name);
    if (!v)
        return BE_OK;
    const char *s = json_string_value(v);
    if (s && !strcmp(s, no))
        *slot = false;
    else if (s && !strcmp(s, yes))
        *slot = true;
    else
        return be_fail(diag, BE_INVALID_PARAMETER_VALUE, "%s must be \"%s\" or \"%s\"", name, no,
                       yes);
    return BE_OK;
}

static int error_rate_member(const json_t *obj, uint32_t *slot, struct be_diag *diag)
{
    const json_t *v = json_object_get(obj, "error_rate");
    if (!v)
        return BE_OK;
    double d = json_number_value(v);
    if (!json_is_number(v) || d < 0 || d > 1)
        return be_fail(diag, BE_INVALID_PARAMETER_VALUE, "error_rate must be a number from 0 to 1");
    *slot = (uint32_t)(d * PL_ERROR_RATE_PPM_MAX + 0.5);
    return BE_OK;
}

static int quota_limits_member(const json_t *obj, struct pl_settings *s, struct be_diag *diag)
{
    const json_t *q = json_object_get(obj, "quota_limits");
    static const char *const known[] = {"api_component_token", "api_authorizer_token", "other"};
    const char *key;
    const json_t *v;
    if (!q)
        return BE_OK;
    if (!json_is_object(q))
        return be_fail(diag, BE_INVALID_PARAMETER_VALUE, "quota_limits must be an object");
    json_object_foreach((json_t *)q, key, v)
    {
        bool ok = false;
        for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
            ok = ok || !strcmp(key, known[i]);
        if (!ok)
            return be_fail(diag, BE_UNKNOWN_PARAMETER, "unknown member quota_limits.%s", key);
    }
    int rc =
        json_u32_member(q, "api_component_token", PL_QUOTA_MAX, &s->quota_component_token, diag);
    if (!rc)
        rc = json_u32_member(q, "api_authorizer_token", PL_QUOTA_MAX, &s->quota_authorizer_token,
                             diag);
    if (!rc)
        rc = json_u32_member(q, "other", PL_QUOTA_MAX, &s->quota_other, diag);
    return rc;
}

static int check_settings_members(const json_t *obj, struct be_diag *diag)
{
    static const char *const known[] = {
        "unauthorized",
        "delay_ms",
        "retry_ms",
        "order",
        "error_rate",
        "latency_ms",
        "drop_pushes",
        "check_referer",
        "quotas",
        "single_use_codes",
        "rotate_refresh_on_update",
        "quota_limits",
    };
    const char *key;
    const json_t *v;
    if (!json_is_object(obj))
        return be_fail(diag, BE_INVALID_PARAMETER, "the body must be a JSON object");
    json_object_foreach((json_t *)obj, key, v)
    {
        bool ok = false;
        for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
            ok = ok || !strcmp(key, known[i]);
        if (!ok)
            return be_fail(diag, BE_UNKNOWN_PARAMETER, "unknown member %s", key);
    }
    return BE_OK;
}

int pl_settings_apply_json(struct platform *pl, const json_t *obj, struct be_diag *diag)
{
    struct pl_settings s;
    int rc = check_settings_members(obj, diag);
    if (rc)
        return rc;
    pl_settings_get(pl, &s);
    if ((rc = json_choice_member(obj, "unauthorized", "deliver", "suppress",
                                 &s.suppress_unauthorized, diag)) ||
        (rc = json_u32_member(obj, "delay_ms", PL_DELAY_MS_MAX, &s.push_delay_ms, diag)) ||
        (rc = json_u32_member(obj, "retry_ms", PL_DELAY_MS_MAX, &s.retry_ms, diag)) ||
        (rc = json_choice_member(obj, "order", "push_first", "redirect_first", &s.redirect_first,
                                 diag)) ||
        (rc = error_rate_member(obj, &s.error_rate_ppm, diag)) ||
        (rc = json_u32_member(obj, "latency_ms", PL_LATENCY_MS_MAX, &s.latency_ms, diag)) ||
        (rc = json_bool_member(obj, "drop_pushes", &s.drop_pushes, diag)) ||
        (rc = json_bool_member(obj, "check_referer", &s.check_referer, diag)) ||
        (rc = json_bool_member(obj, "quotas", &s.quotas, diag)) ||
        (rc = json_bool_member(obj, "single_use_codes", &s.single_use_codes, diag)) ||
        (rc = json_bool_member(obj, "rotate_refresh_on_update", &s.rotate_refresh_on_update,
                               diag)) ||
        (rc = quota_limits_member(obj, &s, diag)))
        return rc;
    return pl_settings_set(pl, &s, diag);
}
