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
#include "api/devenv_archive_web.h"
#include "api/web.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/parse.h"
#include "core/timeutil.h"
#include "devenv/blobstore.h"
#include "devenv/upload.h"
#include "devenv/upload_archive.h"
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

static void *put_begin(struct http_request *req, void *ctx)
{
    struct blob_put *p = xcalloc(1, sizeof(*p));
    struct app *app = ((struct web *)ctx)->app;
    int64_t now = time_now();
    p->web = ctx;
    if (parse_path(http_req_path(req), p)) {
        p->err = be_fail(&p->diag, BE_UPLOAD_URL_INVALID,
                         "expected /v1/uploads/{UploadId}/blobs/{sha256} as CreateUpload made it");
        return p;
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
    return p;
}

static int put_data(void *state, const void *data, size_t len)
{
    struct blob_put *p = state;
    if (p->err)
        return p->err;
    p->err = blob_writer_write(p->w, data, len, &p->diag);
    if (p->err) {
        blob_writer_abort(p->w);
        p->w = NULL;
    }
    return p->err;
}

static void put_free(void *state)
{
    struct blob_put *p = state;
    blob_writer_abort(p->w);
    free(p);
}

static void put_end(struct http_request *req, void *ctx, void *state)
{
    struct blob_put *p = state;
    struct app *app = ((struct web *)ctx)->app;
    if (!p->err) {
        p->err = blob_writer_commit(p->w, &p->diag);
        p->w = NULL;
    }
    if (!p->err)
        p->err = upload_blob_stored(app, p->sha256, p->size, time_now());
    size_t len;
    char *body;
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
    put_free(p);
}

static const struct http_stream_route stream_routes[] = {
    {"PUT", BLOB_PREFIX, put_begin, put_data, put_end, put_free, "blob_put"},
    {"PUT", UPLOAD_ARCHIVE_PREFIX, web_archive_put_begin, web_archive_put_data, web_archive_put_end,
     web_archive_put_abort, "archive_put"},
};

const struct http_stream_route *web_stream_routes(size_t *ret_count)
{
    *ret_count = sizeof(stream_routes) / sizeof(stream_routes[0]);
    return stream_routes;
}

void web_page_envs(struct http_request *req, void *ctx)
{
    struct web *w = ctx;
    http_serve_file(req, w->app->cfg->web_dir, "envs.html");
}
