#include "api/devenv_archive_web.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/action.h"
#include "api/web.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/parse.h"
#include "core/timeutil.h"
#include "devenv/upload_archive.h"
#include "core/banned.h"

struct archive_put {
    int err;
    struct be_diag diag;
    char upload_id[UPLOAD_ID_LEN + 1];
    uint64_t size;
    struct upload_archive_writer *w;
};

static void *web_archive_put_begin(struct http_request *req, void *ctx)
{
    struct archive_put *p = xcalloc(1, sizeof(*p));
    struct app *app = ((struct web *)ctx)->app;
    int64_t now = time_now();
    const char *id = http_req_path(req) + strlen(UPLOAD_ARCHIVE_PREFIX);
    if (strlen(id) != UPLOAD_ID_LEN) {
        p->err = be_fail(&p->diag, BE_UPLOAD_URL_INVALID,
                         "expected /v1/archives/{UploadId} as CreateArchiveUpload made it");
        return p;
    }
    snprintf(p->upload_id, sizeof(p->upload_id), "%s", id);
    p->err = upload_archive_check_url(app, p->upload_id, http_req_arg(req, "Expires"),
                                      http_req_arg(req, "Signature"), now, &p->diag);
    if (!p->err)
        p->err = upload_archive_begin(app, p->upload_id, now, &p->w, &p->diag);
    if (!p->err)
        p->size = upload_archive_expected(p->w);
    const char *cl = http_req_header(req, "Content-Length");
    uint64_t n;
    if (!p->err && cl && (parse_u64(cl, UINT64_MAX, &n) || n != p->size))
        p->err = be_fail(&p->diag, BE_DIGEST_MISMATCH,
                         "Content-Length %.24s differs from the %llu bytes CreateArchiveUpload "
                         "declared",
                         cl, (unsigned long long)p->size);
    return p;
}

static int web_archive_put_data(void *state, const void *data, size_t len)
{
    struct archive_put *p = state;
    if (p->err)
        return p->err;
    p->err = upload_archive_write(p->w, data, len, &p->diag);
    if (p->err) {
        upload_archive_abort(p->w);
        p->w = NULL;
    }
    return p->err;
}

static void web_archive_put_abort(void *state)
{
    struct archive_put *p = state;
    upload_archive_abort(p->w);
    free(p);
}

static void web_archive_put_end(struct http_request *req, void *ctx, void *state)
{
    struct archive_put *p = state;
    (void)ctx;
    if (!p->err) {
        p->err = upload_archive_finish(p->w, &p->diag);
        p->w = NULL;
    }
    size_t len;
    char *body;
    if (p->err) {
        const char *msg = p->diag.msg[0] ? p->diag.msg : NULL;
        log_debug("request %s PUT archive %s refused: %s: %s", http_req_id(req), p->upload_id,
                  be_err_code(p->err), msg ? msg : be_err_message(p->err));
        body = api_envelope_error(p->err, msg, http_req_id(req), &len);
        http_respond_take(req, (unsigned)be_err_status(p->err), "application/json", body, len);
    } else {
        json_t *out = json_pack("{s:s,s:I}", "UploadId", p->upload_id, "Size", (json_int_t)p->size);
        body = api_envelope_success(out, http_req_id(req), &len);
        http_respond_take(req, 200, "application/json", body, len);
    }
    web_archive_put_abort(p);
}

/* ---- the stream route: begin / data / end / abort on the server's
 * streamed-request calls (http.h) ---- */

struct archive_stream {
    void *ctx, *state;
    bool failed;      /* refused: the rest of the body is read and dropped */
    uint64_t dropped; /* bytes dropped since */
    bool ended;       /* end() has answered and freed state */
};

static size_t archive_body(void *arg, struct http_request *req, const char *data, size_t len)
{
    struct archive_stream *a = arg;
    /* A refusal is answered once the body has been read (clients that are
     * still sending lose an early answer); a client that goes on far past
     * any sane size is cut off. */
    if (!a->failed && web_archive_put_data(a->state, data, len))
        a->failed = true;
    else if (a->failed && (a->dropped += len) > WEB_STREAM_DROP_MAX)
        http_stream_abort(req);
    return len;
}

static void archive_complete(void *arg, struct http_request *req)
{
    struct archive_stream *a = arg;
    if (!a->ended) {
        web_archive_put_end(req, a->ctx, a->state);
        a->ended = true;
    }
}

static void archive_done(void *arg)
{
    struct archive_stream *a = arg;
    if (!a->ended)
        web_archive_put_abort(a->state);
    free(a);
}

static const struct http_stream_ops archive_ops = {archive_body, archive_complete, archive_done};

void web_archive_put(struct http_request *req, void *ctx)
{
    struct archive_stream *a = xcalloc(1, sizeof(*a));
    a->ctx = ctx;
    a->state = web_archive_put_begin(req, ctx);
    a->failed = ((struct archive_put *)a->state)->err != BE_OK;
    http_stream_begin(req, &archive_ops, a);
}
