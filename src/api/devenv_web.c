/* The blob PUT of uploads (docs/environments.md): a streamed route, so a
 * blob of up to deploy.max_blob_bytes never sits in memory. The request
 * carries no credential but its pre-signed URL (devenv/upload.h); the body
 * goes through the blob store's writer, which checks size and SHA-256
 * before anything becomes visible. Answers use the API envelope with the
 * error's own HTTP status (403 for a bad URL, 409 for a closed upload, 422
 * for a digest or size mismatch), as object stores do, so that plain HTTP
 * clients can tell success from failure. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/action.h"
#include "api/web.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/parse.h"
#include "core/timeutil.h"
#include "devenv/blobstore.h"
#include "devenv/upload.h"
#include "core/banned.h"

#define BLOB_PREFIX "/v1/uploads/"

struct blob_put {
    struct web *web;
    int err;
    struct be_diag diag;
    char upload_id[UPLOAD_ID_LEN + 1];
    char sha256[MANIFEST_SHA256_HEX + 1];
    uint64_t size;
    struct blob_writer *w;
    bool answered;
    uint64_t dropped; /* body bytes dropped after a refusal */
};

/* "/v1/uploads/<id>/blobs/<sha256>" -> its two parts. */
static int parse_path(const char *path, struct blob_put *p)
{
    const char *id = path + strlen(BLOB_PREFIX);
    const char *slash = strchr(id, '/');
    if (!slash || (size_t)(slash - id) != UPLOAD_ID_LEN || strncmp(slash, "/blobs/", 7))
        return BE_UPLOAD_URL_INVALID;
    const char *sha = slash + 7;
    if (!manifest_sha256_valid(sha))
        return BE_UPLOAD_URL_INVALID;
    snprintf(p->upload_id, sizeof(p->upload_id), "%.*s", UPLOAD_ID_LEN, id);
    snprintf(p->sha256, sizeof(p->sha256), "%s", sha);
    for (char *c = p->sha256; *c; c++)
        if (*c >= 'A' && *c <= 'F')
            return BE_UPLOAD_URL_INVALID; /* URLs we make are lowercase */
    return BE_OK;
}

/* Answers p's outcome in the API envelope, once. */
static void put_answer(struct http_request *req, struct blob_put *p)
{
    size_t len;
    char *body;
    if (p->answered)
        return;
    p->answered = true;
    if (p->err) {
        const char *msg = p->diag.msg[0] ? p->diag.msg : NULL;
        log_debug("request %s PUT blob %.12s refused: %s: %s", http_req_id(req), p->sha256,
                  be_err_code(p->err), msg ? msg : be_err_message(p->err));
        body = api_envelope_error(p->err, msg, http_req_id(req), &len);
        http_respond_take(req, (unsigned)be_err_status(p->err), "application/json", body, len);
    } else {
        json_t *out = json_pack("{s:s,s:I}", "Sha256", p->sha256, "Size", (json_int_t)p->size);
        body = api_envelope_success(out, http_req_id(req), &len);
        http_respond_take(req, 200, "application/json", body, len);
    }
}

/* The headers: URL signature, the upload expects this blob, the length. */
static void put_check(struct http_request *req, struct blob_put *p)
{
    struct app *app = p->web->app;
    int64_t now = time_now();
    if (parse_path(http_req_path(req), p)) {
        p->err = be_fail(&p->diag, BE_UPLOAD_URL_INVALID,
                         "expected /v1/uploads/{UploadId}/blobs/{sha256} as CreateUpload made it");
        return;
    }
    p->err = upload_check_url(app, p->upload_id, p->sha256, http_req_arg(req, "Expires"),
                              http_req_arg(req, "Signature"), now, &p->diag);
    if (!p->err)
        p->err = upload_blob_expected(app, p->upload_id, p->sha256, now, &p->size, &p->diag);
    const char *cl = http_req_header(req, "Content-Length");
    uint64_t n;
    if (!p->err && cl && (parse_u64(cl, UINT64_MAX, &n) || n != p->size))
        p->err = be_fail(&p->diag, BE_DIGEST_MISMATCH,
                         "Content-Length %.24s differs from the %llu bytes of the manifest", cl,
                         (unsigned long long)p->size);
    if (!p->err)
        p->err = blob_writer_open(app, p->sha256, p->size, &p->w, &p->diag);
}

/* A piece of the body into the writer. A refusal is answered once the body
 * has been read (clients still sending lose an early answer): the rest is
 * dropped, and a client going on far past any sane size is cut off. */
static size_t put_body(void *ctx, struct http_request *req, const char *data, size_t len)
{
    struct blob_put *p = ctx;
    if (p->err) {
        if ((p->dropped += len) > WEB_STREAM_DROP_MAX)
            http_stream_abort(req);
        return len;
    }
    p->err = blob_writer_write(p->w, data, len, &p->diag);
    if (p->err) {
        blob_writer_abort(p->w);
        p->w = NULL;
    }
    return len;
}

static void put_complete(void *ctx, struct http_request *req)
{
    struct blob_put *p = ctx;
    if (!p->err) {
        p->err = blob_writer_commit(p->w, &p->diag);
        p->w = NULL;
    }
    if (!p->err)
        p->err = upload_blob_stored(p->web->app, p->sha256, p->size, time_now());
    put_answer(req, p);
}

static void put_done(void *ctx)
{
    struct blob_put *p = ctx;
    blob_writer_abort(p->w);
    free(p);
}

static const struct http_stream_ops put_ops = {put_body, put_complete, put_done};

void web_blob_put(struct http_request *req, void *ctx)
{
    struct blob_put *p = xcalloc(1, sizeof(*p));
    p->web = ctx;
    put_check(req, p); /* a refusal is answered at complete, like the others */
    http_stream_begin(req, &put_ops, p);
}

void web_page_envs(struct http_request *req, void *ctx)
{
    struct web *w = ctx;
    http_serve_file(req, w->app->cfg->web_dir, "envs.html");
}
