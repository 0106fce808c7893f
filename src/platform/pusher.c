/* The push queue and its delivery thread (pusher.h). */
#include "platform/pusher.h"

#include <curl/curl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/crypto.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/timeutil.h"
#include "platform/internal.h"
#include "wechat/msgcrypt.h"
#include "core/banned.h"

#define AUTH_EVENT_ATTEMPTS 3
#define TICKET_ATTEMPTS     1
#define DETAIL_MAX          200

struct pl_pusher {
    struct platform *pl;
    pthread_t thread;
    atomic_bool stop;
};

/* ---- queueing (inside the caller's transaction) ---- */

int pl_push_enqueue(struct store_conn *c, struct platform *pl, const char *component,
                    const struct wx_event *ev, bool suppressed, int64_t *ret_job)
{
    struct store_result *r = NULL;
    struct buf xml = BUF_INIT;
    struct be_diag diag = {""};
    struct pl_settings s;
    pl_settings_get(pl, &s);
    int rc = pl_query_row(c, "SELECT auth_event_url FROM pl_components WHERE appid = $1",
                          SV_ARGS(SV_TEXT(component)), &r);
    if (rc || !r || !*store_result_text(r, 0, 0)) {
        store_result_free(r);
        *ret_job = 0;
        return rc;
    }
    if ((rc = wx_event_build(ev, &xml, &diag))) {
        log_error("platform: cannot build a %s event: %s", wx_info_type_name(ev->type), diag.msg);
        goto out;
    }
    struct store_result *id = NULL;
    rc = store_query(
        c,
        "INSERT INTO pl_push_jobs (component, info_type, authorizer, url, xml, state, "
        "max_attempts, next_at_ms, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, "
        "$8, $9) RETURNING id",
        SV_ARGS(SV_TEXT(component), SV_TEXT(wx_info_type_name(ev->type)),
                SV_TEXT(ev->authorizer_appid), SV_TEXT(store_result_text(r, 0, 0)),
                SV_TEXT(xml.data), SV_TEXT(suppressed ? "suppressed" : "pending"),
                SV_I64(ev->type == WX_INFO_COMPONENT_VERIFY_TICKET ? TICKET_ATTEMPTS
                                                                   : AUTH_EVENT_ATTEMPTS),
                SV_I64(time_now_ms() + s.push_delay_ms), SV_I64(ev->create_time)),
        &id);
    if (!rc)
        *ret_job = store_result_i64(id, 0, 0);
    store_result_free(id);
out:
    store_result_free(r);
    buf_release(&xml);
    return rc;
}

int pl_ticket_issue(struct store_conn *c, struct platform *pl, const char *component, int64_t now,
                    struct buf *ret_ticket)
{
    struct wx_event ev;
    struct buf ticket = BUF_INIT;
    int64_t job = 0;
    memset(&ev, 0, sizeof(ev));
    pl_gen_value(&ticket, "ticket@@@", PL_GEN_TICKET);
    int rc =
        store_exec(c, "INSERT INTO pl_tickets (value, component, issued_at) VALUES ($1, $2, $3)",
                   SV_ARGS(SV_TEXT(ticket.data), SV_TEXT(component), SV_I64(now)), NULL);
    if (!rc)
        rc = store_exec(c, "UPDATE pl_components SET last_ticket_at = $2 WHERE appid = $1",
                        SV_ARGS(SV_TEXT(component), SV_I64(now)), NULL);
    ev.type = WX_INFO_COMPONENT_VERIFY_TICKET;
    snprintf(ev.appid, sizeof(ev.appid), "%s", component);
    ev.create_time = now;
    snprintf(ev.component_verify_ticket, sizeof(ev.component_verify_ticket), "%s", ticket.data);
    if (!rc)
        rc = pl_push_enqueue(c, pl, component, &ev, false, &job);
    if (!rc && ret_ticket)
        buf_adds(ret_ticket, ticket.data);
    buf_release(&ticket);
    return rc;
}

/* ---- tickets due ---- */

struct ticket_ctx {
    struct platform *pl;
    const char *component; /* NULL: every component due (or every one, when force) */
    bool force;
    json_t *issued; /* array of {"component_appid", "ticket"} */
};

static int tickets_tx(struct store_conn *c, void *arg)
{
    struct ticket_ctx *x = arg;
    struct store_result *r = NULL;
    int64_t now = pl_now(x->pl);
    int rc;
    json_array_clear(x->issued);
    if (x->component)
        rc = store_query(c, "SELECT appid FROM pl_components WHERE appid = $1",
                         SV_ARGS(SV_TEXT(x->component)), &r);
    else
        rc = store_query(c,
                         "SELECT appid FROM pl_components WHERE ticket_pushes = 1 AND "
                         "($2 = 1 OR last_ticket_at + $1 <= $3) ORDER BY appid",
                         SV_ARGS(SV_I64(pl_ticket_interval(x->pl)), SV_I64(x->force), SV_I64(now)),
                         &r);
    if (!rc && x->component && !store_result_rows(r))
        rc = BE_NOT_FOUND;
    for (size_t i = 0; !rc && i < store_result_rows(r); i++) {
        struct buf ticket = BUF_INIT;
        rc = pl_ticket_issue(c, x->pl, store_result_text(r, i, 0), now, &ticket);
        if (!rc)
            json_array_append_new(x->issued,
                                  json_pack("{s:s,s:s}", "component_appid",
                                            store_result_text(r, i, 0), "ticket", ticket.data));
        buf_release(&ticket);
    }
    store_result_free(r);
    return rc;
}

int pl_push_ticket_now(struct platform *pl, const char *component_appid, json_t **ret_tickets)
{
    struct ticket_ctx x = {pl, component_appid, true, json_array()};
    int rc = store_tx(pl->store, tickets_tx, &x);
    if (rc == BE_OK) {
        pl_wake(pl);
        if (ret_tickets) {
            *ret_tickets = x.issued;
            x.issued = NULL;
        }
    }
    json_decref(x.issued);
    return rc;
}

/* ---- delivery ---- */

struct job {
    int64_t id;
    char component[PL_ID_MAX + 1];
    char info_type[WX_EVENT_INFO_TYPE_MAX + 1];
    struct buf url, xml;
    int64_t attempts, max_attempts;
};

struct reply {
    struct buf body;
    bool overflow;
};

static size_t on_reply(char *data, size_t size, size_t n, void *arg)
{
    struct reply *r = arg;
    size_t len = size * n;
    if (r->body.len + len > PL_PUSH_MAX_REPLY)
        r->overflow = true;
    else
        buf_add(&r->body, data, len);
    return len;
}

static bool is_success(const struct reply *r)
{
    const char *p = r->body.data;
    size_t n = r->body.len;
    while (n && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')) {
        p++;
        n--;
    }
    while (n && (p[n - 1] == ' ' || p[n - 1] == '\t' || p[n - 1] == '\r' || p[n - 1] == '\n'))
        n--;
    return !r->overflow && n == 7 && !memcmp(p, "success", 7);
}

/* POSTs once; *ret_status gets the HTTP status (0 without an answer). */
static bool post(const char *url, const struct buf *body, long *ret_status, struct buf *detail)
{
    struct reply reply = {BUF_INIT, false};
    struct curl_slist *headers = curl_slist_append(NULL, "Content-Type: text/xml; charset=utf-8");
    CURL *h = curl_easy_init();
    bool ok = false;
    *ret_status = 0;
    if (!h || !headers) {
        buf_adds(detail, "cannot create a curl handle");
        goto out;
    }
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body->data);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body->len);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)PL_PUSH_TIMEOUT_MS);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)PL_PUSH_TIMEOUT_MS);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_reply);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &reply);
    CURLcode cc = curl_easy_perform(h);
    if (cc != CURLE_OK) {
        buf_addf(detail, "%s", curl_easy_strerror(cc));
        goto out;
    }
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, ret_status);
    ok = *ret_status == 200 && is_success(&reply);
    if (!ok)
        buf_addf(detail, "HTTP %ld, answer of %zu%s bytes is not \"success\"", *ret_status,
                 reply.body.len, reply.overflow ? "+" : "");
out:
    curl_easy_cleanup(h);
    curl_slist_free_all(headers);
    buf_release(&reply.body);
    return ok;
}

struct keys_ctx {
    const char *component;
    struct buf token, aes_key;
    bool found;
};

static int load_component_keys(struct store_conn *c, void *arg)
{
    struct keys_ctx *k = arg;
    struct store_result *r = NULL;
    int rc = pl_query_row(c, "SELECT token, aes_key FROM pl_components WHERE appid = $1",
                          SV_ARGS(SV_TEXT(k->component)), &r);
    buf_reset(&k->token);
    buf_reset(&k->aes_key);
    k->found = r != NULL;
    if (r) {
        buf_adds(&k->token, store_result_text(r, 0, 0));
        buf_adds(&k->aes_key, store_result_text(r, 0, 1));
    }
    store_result_free(r);
    return rc;
}

/* Seals the job's XML with the component's current key into a URL and a
 * body. */
static int seal(struct platform *pl, const struct job *j, struct buf *url, struct buf *body,
                struct be_diag *diag)
{
    struct keys_ctx k = {j->component, BUF_INIT, BUF_INIT, false};
    struct wx_msgcrypt *mc = NULL;
    struct buf enc = BUF_INIT, query = BUF_INIT;
    char ts[24], nonce[16];
    int rc = store_run(pl->store, load_component_keys, &k);
    if (!rc && !k.found)
        rc = be_fail(diag, BE_NOT_FOUND, "the component is gone");
    if (!rc)
        rc = wx_msgcrypt_new(k.token.data, k.aes_key.data, NULL, j->component, &mc, diag);
    if (!rc &&
        (rc = wx_msgcrypt_encrypt(mc, WX_MSGCRYPT_KEY_CURRENT, j->xml.data, j->xml.len, &enc)))
        rc = be_fail(diag, wx_msgcrypt_err_to_be(rc), "cannot encrypt (%s)",
                     wx_msgcrypt_err_name(rc));
    snprintf(ts, sizeof(ts), "%lld", (long long)time_now());
    snprintf(nonce, sizeof(nonce), "%llu",
             (unsigned long long)crypto_random_range(1000000000ull, 9999999999ull));
    if (!rc && (rc = wx_msgcrypt_build_push(mc, ts, nonce, enc.data, &query, body)))
        rc = be_fail(diag, wx_msgcrypt_err_to_be(rc), "cannot build the push (%s)",
                     wx_msgcrypt_err_name(rc));
    if (!rc)
        buf_addf(url, "%s%c%s", j->url.data, strchr(j->url.data, '?') ? '&' : '?', query.data);
    wx_msgcrypt_free(mc);
    crypto_wipe(k.aes_key.data, k.aes_key.len);
    buf_release(&k.token);
    buf_release(&k.aes_key);
    buf_release(&enc);
    buf_release(&query);
    return rc;
}

struct outcome_ctx {
    const struct job *j;
    const char *outcome; /* delivered, error, dropped */
    long status;
    const char *detail;
    int64_t at_ms, duration_ms, retry_ms;
};

static int record_tx(struct store_conn *c, void *arg)
{
    struct outcome_ctx *o = arg;
    int64_t attempt = o->j->attempts + 1;
    bool final = strcmp(o->outcome, "error") || attempt >= o->j->max_attempts;
    const char *state = !strcmp(o->outcome, "delivered") ? "delivered"
                        : !strcmp(o->outcome, "dropped") ? "dropped"
                        : final                          ? "failed"
                                                         : "pending";
    int64_t next = o->at_ms + o->retry_ms * (attempt >= 2 ? 2 : 1);
    int rc = store_exec(c,
                        "UPDATE pl_push_jobs SET attempts = $2, state = $3, next_at_ms = $4, "
                        "finished_at_ms = $5 WHERE id = $1",
                        SV_ARGS(SV_I64(o->j->id), SV_I64(attempt), SV_TEXT(state), SV_I64(next),
                                final ? SV_I64(o->at_ms + o->duration_ms) : SV_NULL),
                        NULL);
    if (!rc)
        rc = store_exec(c,
                        "INSERT INTO pl_push_log (job, attempt, at_ms, http_status, outcome, "
                        "detail, duration_ms) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                        SV_ARGS(SV_I64(o->j->id), SV_I64(attempt), SV_I64(o->at_ms),
                                SV_I64(o->status), SV_TEXT(o->outcome), SV_TEXT(o->detail),
                                SV_I64(o->duration_ms)),
                        NULL);
    return rc;
}

static int deliver(struct platform *pl, const struct job *j)
{
    struct pl_settings s;
    struct buf url = BUF_INIT, body = BUF_INIT, detail = BUF_INIT;
    struct be_diag diag = {""};
    struct outcome_ctx o = {j, "error", 0, "", time_now_ms(), 0, 0};
    pl_settings_get(pl, &s);
    o.retry_ms = s.retry_ms;
    uint64_t t0 = time_mono_ns();
    if (s.drop_pushes) {
        o.outcome = "dropped";
        buf_adds(&detail, "dropped by the drop_pushes fault");
    } else if (seal(pl, j, &url, &body, &diag)) {
        buf_adds(&detail, diag.msg);
    } else if (post(url.data, &body, &o.status, &detail)) {
        o.outcome = "delivered";
    }
    o.duration_ms = (int64_t)((time_mono_ns() - t0) / 1000000u);
    if (detail.len > DETAIL_MAX)
        detail.data[DETAIL_MAX] = '\0';
    o.detail = detail.data;
    log_debug("platform: push %s #%lld attempt %lld to component %s: %s", j->info_type,
              (long long)j->id, (long long)j->attempts + 1, j->component, o.outcome);
    int rc = store_tx(pl->store, record_tx, &o);
    buf_release(&url);
    buf_release(&body);
    buf_release(&detail);
    return rc;
}

/* ---- rounds ---- */

struct due_ctx {
    struct job jobs[PL_PUSHER_BATCH];
    size_t n;
};

static int due_jobs(struct store_conn *c, void *arg)
{
    struct due_ctx *d = arg;
    struct store_result *r = NULL;
    int rc = store_query(c,
                         "SELECT id, component, info_type, url, xml, attempts, max_attempts "
                         "FROM pl_push_jobs WHERE state = 'pending' AND next_at_ms <= $1 "
                         "ORDER BY next_at_ms, id LIMIT $2",
                         SV_ARGS(SV_I64(time_now_ms()), SV_I64(PL_PUSHER_BATCH)), &r);
    for (size_t i = 0; !rc && i < store_result_rows(r) && d->n < PL_PUSHER_BATCH; i++) {
        struct job *j = &d->jobs[d->n++];
        j->id = store_result_i64(r, i, 0);
        snprintf(j->component, sizeof(j->component), "%s", store_result_text(r, i, 1));
        snprintf(j->info_type, sizeof(j->info_type), "%s", store_result_text(r, i, 2));
        buf_init(&j->url);
        buf_init(&j->xml);
        buf_adds(&j->url, store_result_text(r, i, 3));
        buf_adds(&j->xml, store_result_text(r, i, 4));
        j->attempts = store_result_i64(r, i, 5);
        j->max_attempts = store_result_i64(r, i, 6);
    }
    store_result_free(r);
    return rc;
}

int pl_pusher_round(struct platform *pl, int *ret_attempts)
{
    struct ticket_ctx t = {pl, NULL, false, json_array()};
    struct due_ctx d;
    int rc = store_tx(pl->store, tickets_tx, &t);
    json_decref(t.issued);
    d.n = 0;
    if (!rc)
        rc = store_run(pl->store, due_jobs, &d);
    for (size_t i = 0; i < d.n; i++) {
        if (!rc)
            rc = deliver(pl, &d.jobs[i]);
        buf_release(&d.jobs[i].url);
        buf_release(&d.jobs[i].xml);
    }
    if (!rc && ret_attempts)
        *ret_attempts = (int)d.n;
    return rc;
}

static void *pusher_main(void *arg)
{
    struct pl_pusher *p = arg;
    while (!atomic_load(&p->stop)) {
        int attempts = 0;
        int rc = pl_pusher_round(p->pl, &attempts);
        if (rc)
            log_error("platform: pusher round failed: %s", be_err_code(rc));
        /* A full batch may mean more is due: go again at once. */
        if (rc || attempts < PL_PUSHER_BATCH)
            pl_wait(p->pl, PL_PUSHER_IDLE_MS);
    }
    return NULL;
}

int pl_pusher_start(struct platform *pl, struct pl_pusher **ret_pusher)
{
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return BE_INTERNAL;
    struct pl_pusher *p = xcalloc(1, sizeof(*p));
    p->pl = pl;
    atomic_init(&p->stop, false);
    if (pthread_create(&p->thread, NULL, pusher_main, p)) {
        free(p);
        curl_global_cleanup();
        return BE_INTERNAL;
    }
    *ret_pusher = p;
    return BE_OK;
}

void pl_pusher_stop(struct pl_pusher *p)
{
    if (!p)
        return;
    atomic_store(&p->stop, true);
    pl_wake(p->pl);
    pthread_join(p->thread, NULL);
    free(p);
    curl_global_cleanup();
}
