#include "cli/client.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "api/tc3.h"
#include "core/crypto.h"
#include "core/mem.h"
#include "core/timeutil.h"
#include "core/banned.h"

/* Temporary credentials are refreshed this long before they expire, so a
 * request never leaves with credentials that die on the way. */
#define REFRESH_MARGIN 60
#define HTTP_TIMEOUT   120L

#ifndef BINDERY_VERSION
#define BINDERY_VERSION "dev"
#endif
#define CLI_VERSION_STRING BINDERY_VERSION

struct cli_client {
    struct cli_credentials cred;
    CURL *curl;
};

/* ---- HTTP ------------------------------------------------------------------ */

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
    struct buf *b = arg;
    size_t len = size * n;
    if (b->len + len > CLI_RESPONSE_MAX)
        return 0; /* aborts the transfer */
    buf_add(b, data, len);
    return len;
}

/* One request; *ret_status and the body in *body. */
static int perform(CURL *curl, const char *url, struct curl_slist *headers, const char *body,
                   long *ret_status, struct buf *out, struct be_diag *diag)
{
    curl_easy_reset(curl);
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, out);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, HTTP_TIMEOUT);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_USERAGENT, "bindery-cli/" CLI_VERSION_STRING);
    CURLcode cc = curl_easy_perform(curl);
    if (cc != CURLE_OK)
        return be_fail(diag, BE_UPSTREAM, "cannot reach %s: %s", url, curl_easy_strerror(cc));
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, ret_status);
    return BE_OK;
}

void cli_form_add(struct buf *form, const char *name, const char *value)
{
    const char *parts[2] = {name, value};
    if (form->len)
        buf_addch(form, '&');
    for (int i = 0; i < 2; i++) {
        for (const unsigned char *p = (const unsigned char *)parts[i]; *p; p++) {
            if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                strchr("-._~", *p))
                buf_addch(form, (char)*p);
            else
                buf_addf(form, "%%%02X", *p);
        }
        if (i == 0)
            buf_addch(form, '=');
    }
}

int cli_oauth_post(const char *server, const char *path, const char *form, long *ret_status,
                   json_t **ret_json, struct be_diag *diag)
{
    struct buf url = BUF_INIT, body = BUF_INIT;
    struct curl_slist *h =
        curl_slist_append(NULL, "Content-Type: application/x-www-form-urlencoded");
    h = curl_slist_append(h, "Accept: application/json");
    CURL *curl = curl_easy_init();
    buf_addf(&url, "%s%s", server, path);
    int rc = curl ? perform(curl, url.data, h, form, ret_status, &body, diag)
                  : be_fail(diag, BE_INTERNAL, "libcurl did not start");
    if (rc == BE_OK)
        *ret_json = json_loadb(body.data ? body.data : "", body.len, 0, NULL);
    if (curl)
        curl_easy_cleanup(curl);
    curl_slist_free_all(h);
    crypto_wipe(body.data, body.len);
    buf_release(&body);
    buf_release(&url);
    return rc;
}

/* ---- Refresh ---------------------------------------------------------------- */

static int refresh_once(struct cli_credentials *cred, struct be_diag *diag)
{
    struct buf form = BUF_INIT;
    json_t *resp = NULL;
    long status = 0;
    cli_form_add(&form, "grant_type", "refresh_token");
    cli_form_add(&form, "refresh_token", cred->refresh_token);
    cli_form_add(&form, "client_id", cred->client_id);
    int rc = cli_oauth_post(cred->server, "/oauth/token", form.data, &status, &resp, diag);
    if (rc)
        goto out;
    if (status != 200) {
        const char *err = json_string_value(json_object_get(resp, "error"));
        const char *desc = json_string_value(json_object_get(resp, "error_description"));
        rc =
            be_fail(diag, BE_AUTH_TOKEN, "your login on %s ended (%s%s%s); run bindery login again",
                    cred->server, err ? err : "error", desc ? ": " : "", desc ? desc : "");
        goto out;
    }
    struct cli_credentials next = *cred;
    if ((rc = cli_credentials_from_token_response(&next, resp, time_now(), diag)) ||
        (rc = cli_credentials_save(&next, diag)))
        goto out;
    *cred = next;
    crypto_wipe(&next, sizeof(next));
out:
    json_decref(resp);
    crypto_wipe(form.data, form.len);
    buf_release(&form);
    return rc;
}

int cli_refresh(struct cli_credentials *cred, struct be_diag *diag)
{
    struct cli_credentials saved;
    int fd = -1;
    int rc = cli_credentials_lock(&fd, diag);
    if (rc)
        return rc;
    /* Another process may have refreshed while we waited for the lock: its
     * refresh token replaced ours, which must then never be sent again. */
    if (cli_credentials_load(&saved, NULL) == BE_OK &&
        strcmp(saved.refresh_token, cred->refresh_token) && !strcmp(saved.server, cred->server)) {
        *cred = saved;
        rc = saved.expires_at - REFRESH_MARGIN > time_now() ? BE_OK : refresh_once(cred, diag);
    } else {
        rc = refresh_once(cred, diag);
    }
    crypto_wipe(&saved, sizeof(saved));
    cli_credentials_unlock(fd);
    return rc;
}

/* ---- Signed calls ------------------------------------------------------------- */

int cli_client_open(struct cli_client **ret, struct be_diag *diag)
{
    struct cli_client *c = xcalloc(1, sizeof(*c));
    int rc = cli_credentials_load(&c->cred, diag);
    if (rc == BE_OK && !(c->curl = curl_easy_init()))
        rc = be_fail(diag, BE_INTERNAL, "libcurl did not start");
    if (rc) {
        cli_client_close(c);
        return rc;
    }
    *ret = c;
    return BE_OK;
}

void cli_client_close(struct cli_client *c)
{
    if (!c)
        return;
    if (c->curl)
        curl_easy_cleanup(c->curl);
    crypto_wipe(&c->cred, sizeof(c->cred));
    free(c);
}

const struct cli_credentials *cli_client_credentials(const struct cli_client *c)
{
    return &c->cred;
}

/* "http://host:port/x" -> "host:port" (what curl sends as Host). */
static int authority_of(const char *url, char *out, size_t n)
{
    const char *p = strstr(url, "://");
    if (!p)
        return BE_INVALID_PARAMETER;
    p += 3;
    size_t len = strcspn(p, "/?#");
    if (len == 0 || len >= n || len > TC3_HOST_MAX)
        return BE_INVALID_PARAMETER;
    memcpy(out, p, len);
    out[len] = '\0';
    return BE_OK;
}

static void add_header(struct curl_slist **h, const char *name, const char *value)
{
    struct buf b = BUF_INIT;
    buf_addf(&b, "%s: %s", name, value);
    *h = curl_slist_append(*h, b.data);
    crypto_wipe(b.data, b.len);
    buf_release(&b);
}

/* The BE_* code of an API error code, BE_FAILED when unknown here. */
static int code_of(const char *code)
{
    for (int e = BE__BASE + 1; e < BE__END; e++)
        if (!strcmp(be_err_code(e), code))
            return e;
    return BE_FAILED;
}

/* One signed POST; *ret_response the Response object. */
static int send_signed(struct cli_client *c, const char *service, const char *version,
                       const char *action, const char *body, json_t **ret_response,
                       struct be_diag *diag)
{
    char host[TC3_HOST_MAX + 1], ts[24];
    struct buf auth = BUF_INIT, out = BUF_INIT, url = BUF_INIT;
    struct curl_slist *h = NULL;
    long status = 0;
    json_t *doc = NULL;
    int64_t now = time_now();
    if (authority_of(c->cred.server, host, sizeof(host)))
        return be_fail(diag, BE_INVALID_PARAMETER, "server URL %s is not http(s)://host[:port]",
                       c->cred.server);
    snprintf(ts, sizeof(ts), "%lld", (long long)now);
    struct tc3_sign_input in = {
        .method = "POST",
        .host = host,
        .content_type = "application/json",
        .body = body,
        .body_len = strlen(body),
        .secret_id = c->cred.tmp_secret_id,
        .secret_key = c->cred.tmp_secret_key,
        .service = service,
        .timestamp = now,
    };
    tc3_sign(&in, &auth);
    add_header(&h, "Host", host);
    add_header(&h, "Content-Type", "application/json");
    add_header(&h, "Authorization", auth.data);
    add_header(&h, "X-TC-Action", action);
    add_header(&h, "X-TC-Version", version);
    add_header(&h, "X-TC-Timestamp", ts);
    add_header(&h, "X-TC-Token", c->cred.token);
    add_header(&h, "X-TC-RequestClient", "bindery-cli");
    buf_addf(&url, "%s/", c->cred.server);
    int rc = perform(c->curl, url.data, h, body, &status, &out, diag);
    if (rc)
        goto out;
    doc = json_loadb(out.data ? out.data : "", out.len, 0, NULL);
    json_t *resp = json_object_get(doc, "Response");
    if (status != 200 || !json_is_object(resp)) {
        rc = be_fail(diag, BE_UPSTREAM, "%s answered HTTP %ld without an API response",
                     c->cred.server, status);
        goto out;
    }
    *ret_response = json_incref(resp);
out:
    json_decref(doc);
    curl_slist_free_all(h);
    buf_release(&auth);
    buf_release(&out);
    buf_release(&url);
    return rc;
}

static bool needs_refresh(const char *code)
{
    return !strcmp(code, "AuthFailure.TokenFailure") ||
           !strcmp(code, "AuthFailure.SecretIdNotFound");
}

int cli_call_service(struct cli_client *c, const char *service, const char *version,
                     const char *action, json_t *params, json_t **ret_response,
                     struct be_diag *diag)
{
    json_t *resp = NULL, *empty = params ? NULL : json_object();
    char *body = json_dumps(params ? params : empty, JSON_COMPACT);
    bool refreshed = false;
    int rc = BE_OK;
    json_decref(empty);
    if (!body)
        return be_fail(diag, BE_INVALID_PARAMETER, "the parameters are not valid JSON");
    if (c->cred.expires_at - REFRESH_MARGIN <= time_now()) {
        if ((rc = cli_refresh(&c->cred, diag)))
            goto out;
        refreshed = true;
    }
    for (;;) {
        if ((rc = send_signed(c, service, version, action, body, &resp, diag)))
            goto out;
        json_t *err = json_object_get(resp, "Error");
        if (!err)
            break;
        const char *code = json_string_value(json_object_get(err, "Code"));
        const char *msg = json_string_value(json_object_get(err, "Message"));
        code = code ? code : "InternalError";
        if (!refreshed && needs_refresh(code)) {
            json_decref(resp);
            resp = NULL;
            if ((rc = cli_refresh(&c->cred, diag)))
                goto out;
            refreshed = true;
            continue;
        }
        rc = be_fail(diag, code_of(code), "%s: %s", code, msg ? msg : "");
        goto out;
    }
    json_object_del(resp, "RequestId");
    *ret_response = resp;
    resp = NULL;
out:
    json_decref(resp);
    free(body);
    return rc;
}

int cli_call(struct cli_client *c, const char *action, json_t *params, json_t **ret_response,
             struct be_diag *diag)
{
    return cli_call_service(c, CLI_SERVICE, CLI_VERSION, action, params, ret_response, diag);
}

int cli_put_file(struct cli_client *c, const char *url, const char *path, struct be_diag *diag)
{
    struct stat st;
    struct buf out = BUF_INIT;
    long status = 0;
    FILE *f = fopen(path, "rb");
    if (!f || fstat(fileno(f), &st)) {
        int e = errno;
        if (f)
            fclose(f);
        return be_fail(diag, BE_INVALID_PARAMETER, "cannot read %s: %s", path, strerror(e));
    }
    curl_easy_reset(c->curl);
    curl_easy_setopt(c->curl, CURLOPT_URL, url);
    curl_easy_setopt(c->curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c->curl, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(c->curl, CURLOPT_READDATA, f);
    curl_easy_setopt(c->curl, CURLOPT_INFILESIZE_LARGE, (curl_off_t)st.st_size);
    curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, &out);
    curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
    CURLcode cc = curl_easy_perform(c->curl);
    int rc = BE_OK;
    if (cc != CURLE_OK)
        rc = be_fail(diag, BE_UPSTREAM, "upload of %s failed: %s", path, curl_easy_strerror(cc));
    else if (curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &status), status / 100 != 2)
        rc = be_fail(diag, BE_FAILED, "upload of %s was refused with HTTP %ld: %.200s", path,
                     status, out.data ? out.data : "");
    fclose(f);
    buf_release(&out);
    return rc;
}
