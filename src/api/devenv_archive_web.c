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

void *web_archive_put_begin(struct http_request *req, void *ctx)
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

int web_archive_put_data(void *state, const void *data, size_t len)
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

void web_archive_put_abort(void *state)
{
    struct archive_put *p = state;
    upload_archive_abort(p->w);
    free(p);
}

void web_archive_put_end(struct http_request *req, void *ctx, void *state)
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
