#include "devenv/upload_archive.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit/audit.h"
#include "binding/flow.h"
#include "core/crypto.h"
#include "core/fsutil.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/parse.h"
#include "core/timeutil.h"
#include "devenv/env.h"
#include "devenv/gc.h"
#include "devenv/unpack.h"
#include "core/banned.h"

/* --- names ----------------------------------------------------------------------- */

/* An UploadId as upload_make_id makes them: it becomes a file name. */
static bool id_valid(const char *id)
{
    if (!id || strlen(id) != UPLOAD_ID_LEN || strncmp(id, "up-", 3))
        return false;
    for (const char *c = id + 3; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= '2' && *c <= '7')))
            return false;
    return true;
}

static void uploads_dir(const struct app *app, struct buf *out)
{
    buf_addf(out, "%s/uploads", app->cfg->data_dir);
}

static void archive_path(const struct app *app, const char *id, struct buf *out)
{
    uploads_dir(app, out);
    buf_addf(out, "/%s.archive", id);
}

/* --- CreateArchiveUpload ----------------------------------------------------------- */

struct create_ctx {
    struct app *app;
    const struct req_meta *meta;
    const struct principal *who;
    const char *env_id, *description;
    char sha256[MANIFEST_SHA256_HEX + 1];
    uint64_t size;
    struct upload_archive_created *out;
    struct be_diag *diag;
};

static int create_fn(struct store_conn *c, void *arg)
{
    struct create_ctx *x = arg;
    struct env e;
    char id[UPLOAD_ID_LEN + 1], detail[160];
    int64_t now = x->meta->now, expires = now + (int64_t)x->app->cfg->deploy_upload_ttl;
    int rc = env_load(c, x->who->owner_uin, x->env_id, &e);
    if (rc)
        return rc;
    if (e.state != ENV_READY)
        return be_fail(x->diag, BE_ENV_NOT_READY, "environment %s is %s, not READY", x->env_id,
                       env_state_name(e.state));
    upload_make_id(id);
    /* No file list yet: CommitUpload fills it from the archive. */
    rc = store_exec(c,
                    "INSERT INTO uploads (upload_id, env_id, owner_uin, state, manifest_hash,"
                    " files, bytes, description, created_by, created_at, expires_at)"
                    " VALUES ($1, $2, $3, 'open', '', 0, 0, $4, $5, $6, $7)",
                    SV_ARGS(SV_TEXT(id), SV_TEXT(x->env_id), SV_I64(x->who->owner_uin),
                            SV_TEXT(x->description ? x->description : ""), SV_I64(x->who->uin),
                            SV_I64(now), SV_I64(expires)),
                    NULL);
    if (rc == BE_OK)
        rc = store_exec(c,
                        "INSERT INTO archive_uploads (upload_id, sha256, size) VALUES ($1, $2, $3)",
                        SV_ARGS(SV_TEXT(id), SV_TEXT(x->sha256), SV_I64(x->size)), NULL);
    snprintf(detail, sizeof(detail), "%s %s: archive of %llu bytes", x->env_id, id,
             (unsigned long long)x->size);
    struct audit_entry a = {x->who->owner_uin, x->who->uin, "deploy:CreateArchiveUpload", "success",
                            detail};
    if (rc == BE_OK)
        rc = audit_record(c, x->meta, &a);
    if (rc == BE_OK) {
        snprintf(x->out->upload_id, sizeof(x->out->upload_id), "%s", id);
        x->out->expires_at = expires;
    }
    return rc;
}

int upload_archive_create(struct app *app, const struct req_meta *meta, const struct principal *who,
                          const char *env_id, const char *sha256, uint64_t size,
                          const char *description, struct upload_archive_created *ret,
                          struct be_diag *diag)
{
    struct create_ctx x = {app, meta, who, env_id, description, "", size, ret, diag};
    uint64_t max = app->cfg->deploy_max_version_bytes;
    if (!manifest_sha256_valid(sha256))
        return be_fail(diag, BE_INVALID_PARAMETER_VALUE, "Sha256 must be 64 hex digits");
    for (size_t i = 0; i < MANIFEST_SHA256_HEX; i++)
        x.sha256[i] =
            (char)(sha256[i] >= 'A' && sha256[i] <= 'F' ? sha256[i] - 'A' + 'a' : sha256[i]);
    x.sha256[MANIFEST_SHA256_HEX] = '\0';
    if (size == 0)
        return be_fail(diag, BE_INVALID_PARAMETER_VALUE, "Size must be at least 1");
    if (size > max)
        return be_fail(diag, BE_ARCHIVE_LIMIT,
                       "the archive is %llu bytes (at most %llu, deploy.max_version_bytes)",
                       (unsigned long long)size, (unsigned long long)max);
    /* As CreateUpload: the link must still hold on WeChat's side. */
    struct env e;
    int rc = env_get(app, who->owner_uin, env_id, &e);
    if (rc)
        return be_fail(diag, rc, "no environment %.40s in this account", env_id);
    if ((rc = link_flow_verify(app, meta, who->owner_uin, e.appid, NULL, NULL, diag)))
        return rc;
    return store_tx(app->store, create_fn, &x);
}

/* --- the URL ------------------------------------------------------------------------ */

void upload_archive_presign(const struct app *app, const char *upload_id, int64_t expires_at,
                            struct buf *ret_url)
{
    char sig[65];
    struct buf path = BUF_INIT;
    buf_addf(&path, UPLOAD_ARCHIVE_PREFIX "%s", upload_id);
    upload_sign(app, path.data, expires_at, sig);
    const char *base = app->cfg->public_url;
    size_t n = strlen(base);
    while (n && base[n - 1] == '/')
        n--;
    buf_addf(ret_url, "%.*s%s?Expires=%lld&Signature=%s", (int)n, base, path.data,
             (long long)expires_at, sig);
    buf_release(&path);
}

int upload_archive_check_url(const struct app *app, const char *upload_id, const char *expires,
                             const char *signature, int64_t now, struct be_diag *diag)
{
    uint64_t t;
    char want[65];
    if (!id_valid(upload_id) || !expires || parse_u64(expires, INT64_MAX, &t) || !signature ||
        strlen(signature) != 64)
        return be_fail(diag, BE_UPLOAD_URL_INVALID,
                       "the upload URL is malformed: use the Url CreateArchiveUpload returned");
    struct buf path = BUF_INIT;
    buf_addf(&path, UPLOAD_ARCHIVE_PREFIX "%s", upload_id);
    upload_sign(app, path.data, (int64_t)t, want);
    buf_release(&path);
    if (!crypto_str_equal(want, signature))
        return be_fail(diag, BE_UPLOAD_URL_INVALID,
                       "the upload URL's signature does not match this upload");
    if ((int64_t)t < now)
        return be_fail(diag, BE_UPLOAD_URL_EXPIRED,
                       "the upload URL expired; create a new archive upload");
    return BE_OK;
}

struct is_ctx {
    uint64_t owner;
    const char *upload_id;
    bool is;
};

static int is_fn(struct store_conn *c, void *arg)
{
    struct is_ctx *x = arg;
    struct store_result *r = NULL;
    int rc =
        store_query(c,
                    "SELECT 1 FROM archive_uploads a JOIN uploads u"
                    " ON u.upload_id = a.upload_id WHERE a.upload_id = $1 AND u.owner_uin = $2",
                    SV_ARGS(SV_TEXT(x->upload_id), SV_I64(x->owner)), &r);
    if (rc == BE_OK)
        x->is = store_result_rows(r) == 1;
    store_result_free(r);
    return rc;
}

int upload_archive_is(struct app *app, uint64_t owner_uin, const char *upload_id, bool *ret_is)
{
    struct is_ctx x = {owner_uin, upload_id, false};
    int rc = store_run(app->store, is_fn, &x);
    if (rc == BE_OK)
        *ret_is = x.is;
    return rc;
}

/* --- the PUT -------------------------------------------------------------------------- */

struct upload_archive_writer {
    struct app *app;
    char upload_id[UPLOAD_ID_LEN + 1];
    char sha256[MANIFEST_SHA256_HEX + 1];
    uint64_t size, written;
    struct buf tmp;
    int fd;
    struct crypto_sha256_ctx *sha;
};

struct expect_ctx {
    const char *upload_id;
    int64_t now;
    struct upload_archive_writer *w;
    struct be_diag *diag;
};

/* The upload is open and takes an archive: its declared size and digest. */
static int expect_fn(struct store_conn *c, void *arg)
{
    struct expect_ctx *x = arg;
    struct store_result *r = NULL;
    int rc = store_query(c,
                         "SELECT u.state, u.expires_at, u.version, a.sha256, a.size FROM uploads u"
                         " LEFT JOIN archive_uploads a ON a.upload_id = u.upload_id"
                         " WHERE u.upload_id = $1",
                         SV_ARGS(SV_TEXT(x->upload_id)), &r);
    if (rc == BE_OK && store_result_rows(r) == 0)
        rc = be_fail(x->diag, BE_UPLOAD_NOT_FOUND, "no upload %s", x->upload_id);
    if (rc == BE_OK)
        rc = upload_check_state(store_result_text(r, 0, 0), store_result_i64(r, 0, 1), x->now,
                                store_result_i64(r, 0, 2), x->diag);
    if (rc == BE_OK && store_result_is_null(r, 0, 3))
        rc = be_fail(x->diag, BE_UPLOAD_URL_INVALID, "upload %s takes a file list, not an archive",
                     x->upload_id);
    if (rc == BE_OK) {
        snprintf(x->w->sha256, sizeof(x->w->sha256), "%s", store_result_text(r, 0, 3));
        x->w->size = (uint64_t)store_result_i64(r, 0, 4);
    }
    store_result_free(r);
    return rc;
}

static void writer_free(struct upload_archive_writer *w)
{
    if (w->fd >= 0)
        close(w->fd);
    crypto_sha256_free(w->sha);
    buf_release(&w->tmp);
    free(w);
}

int upload_archive_begin(struct app *app, const char *upload_id, int64_t now,
                         struct upload_archive_writer **ret_writer, struct be_diag *diag)
{
    if (!id_valid(upload_id))
        return be_fail(diag, BE_UPLOAD_URL_INVALID, "no upload %.40s", upload_id);
    struct upload_archive_writer *w = xcalloc(1, sizeof(*w));
    struct expect_ctx x = {upload_id, now, w, diag};
    w->app = app;
    w->fd = -1;
    buf_init(&w->tmp);
    snprintf(w->upload_id, sizeof(w->upload_id), "%s", upload_id);
    int rc = store_run(app->store, expect_fn, &x);
    if (rc)
        goto fail;
    uploads_dir(app, &w->tmp);
    if (fs_mkdir_p(w->tmp.data, 0700)) {
        log_error("upload: cannot create %s: %s", w->tmp.data, strerror(errno));
        rc = be_fail(diag, BE_INTERNAL, "cannot store the archive");
        goto fail;
    }
    buf_addf(&w->tmp, "/.tmp-%s-XXXXXX", upload_id);
    if ((w->fd = mkostemp(w->tmp.data, O_CLOEXEC)) < 0) {
        log_error("upload: cannot create %s: %s", w->tmp.data, strerror(errno));
        rc = be_fail(diag, BE_INTERNAL, "cannot store the archive");
        goto fail;
    }
    w->sha = crypto_sha256_new();
    *ret_writer = w;
    return BE_OK;
fail:
    writer_free(w);
    return rc;
}

uint64_t upload_archive_expected(const struct upload_archive_writer *w)
{
    return w->size;
}

int upload_archive_write(struct upload_archive_writer *w, const void *data, size_t len,
                         struct be_diag *diag)
{
    if (len > w->size - w->written)
        return be_fail(diag, BE_DIGEST_MISMATCH,
                       "the archive is longer than the %llu bytes CreateArchiveUpload declared",
                       (unsigned long long)w->size);
    crypto_sha256_update(w->sha, data, len);
    const char *p = data;
    for (size_t left = len; left;) {
        ssize_t n = write(w->fd, p, left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            log_error("upload: cannot write %s: %s", w->tmp.data, strerror(errno));
            return be_fail(diag, BE_INTERNAL, "cannot store the archive");
        }
        p += n;
        left -= (size_t)n;
    }
    w->written += len;
    return BE_OK;
}

static int verify(struct upload_archive_writer *w, struct be_diag *diag)
{
    unsigned char d[CRYPTO_SHA256_LEN], want[CRYPTO_SHA256_LEN];
    if (w->written != w->size)
        return be_fail(diag, BE_DIGEST_MISMATCH,
                       "the archive is %llu bytes, CreateArchiveUpload declared %llu",
                       (unsigned long long)w->written, (unsigned long long)w->size);
    crypto_sha256_final(w->sha, d);
    w->sha = NULL;
    if (crypto_hex_decode(w->sha256, want, sizeof(want)) || memcmp(d, want, sizeof(d)))
        return be_fail(diag, BE_DIGEST_MISMATCH,
                       "the archive's bytes do not have the SHA-256 CreateArchiveUpload declared");
    return BE_OK;
}

struct received_ctx {
    const char *upload_id;
    int64_t now;
};

static int received_fn(struct store_conn *c, void *arg)
{
    struct received_ctx *x = arg;
    return store_exec(c, "UPDATE archive_uploads SET received_at = $1 WHERE upload_id = $2",
                      SV_ARGS(SV_I64(x->now), SV_TEXT(x->upload_id)), NULL);
}

int upload_archive_finish(struct upload_archive_writer *w, struct be_diag *diag)
{
    struct buf final = BUF_INIT;
    int rc = verify(w, diag);
    if (rc)
        goto out;
    /* A verified file takes its name at once (a repeated PUT of the same
     * bytes replaces it with the same bytes). */
    archive_path(w->app, w->upload_id, &final);
    if (fsync(w->fd) || rename(w->tmp.data, final.data)) {
        log_error("upload: cannot store %s: %s", final.data, strerror(errno));
        rc = be_fail(diag, BE_INTERNAL, "cannot store the archive");
        goto out;
    }
    struct received_ctx x = {w->upload_id, time_now()};
    rc = store_tx(w->app->store, received_fn, &x);
out:
    unlink(w->tmp.data); /* gone already after the rename */
    buf_release(&final);
    writer_free(w);
    return rc;
}

void upload_archive_abort(struct upload_archive_writer *w)
{
    if (!w)
        return;
    unlink(w->tmp.data);
    writer_free(w);
}

/* --- CommitUpload -------------------------------------------------------------------- */

struct ready_ctx {
    uint64_t owner;
    const char *upload_id;
    int64_t now;
    struct be_diag *diag;
};

/* Open, unexpired, and its archive arrived. */
static int ready_fn(struct store_conn *c, void *arg)
{
    struct ready_ctx *x = arg;
    struct store_result *r = NULL;
    int rc = store_query(c,
                         "SELECT u.state, u.expires_at, u.version, a.received_at FROM uploads u"
                         " JOIN archive_uploads a ON a.upload_id = u.upload_id"
                         " WHERE u.upload_id = $1 AND u.owner_uin = $2",
                         SV_ARGS(SV_TEXT(x->upload_id), SV_I64(x->owner)), &r);
    if (rc == BE_OK && store_result_rows(r) == 0)
        rc = be_fail(x->diag, BE_UPLOAD_NOT_FOUND, "no upload %.40s in this account", x->upload_id);
    if (rc == BE_OK)
        rc = upload_check_state(store_result_text(r, 0, 0), store_result_i64(r, 0, 1), x->now,
                                store_result_i64(r, 0, 2), x->diag);
    if (rc == BE_OK && store_result_i64(r, 0, 3) == 0)
        rc = be_fail(x->diag, BE_BLOBS_MISSING,
                     "the archive has not been sent: PUT it to the Url CreateArchiveUpload "
                     "returned");
    store_result_free(r);
    return rc;
}

int upload_archive_commit(struct app *app, const struct req_meta *meta, const struct principal *who,
                          const char *upload_id, const char *runtime, const char *entry,
                          const char *description, int64_t *ret_version, struct be_diag *diag)
{
    const struct config *cfg = app->cfg;
    struct manifest_limits lim = {cfg->deploy_max_files, cfg->deploy_max_blob_bytes,
                                  cfg->deploy_max_version_bytes};
    struct ready_ctx x = {who->owner_uin, upload_id, meta->now, diag};
    struct buf path = BUF_INIT;
    struct unpack u;
    int64_t version = 0;
    unpack_init(&u);
    int rc = id_valid(upload_id) ? store_run(app->store, ready_fn, &x) : BE_UPLOAD_NOT_FOUND;
    if (rc)
        goto out;
    archive_path(app, upload_id, &path);
    rc = unpack_archive(app, path.data, &lim, &u, diag);
    /* Recorded even when unpacking failed: unreferenced, they are
     * collected after deploy.blob_grace instead of lingering unseen. */
    int stored = upload_blobs_stored(app, u.blobs, u.nblobs, meta->now);
    if (rc == BE_OK)
        rc = stored;
    if (rc == BE_OK)
        rc = upload_commit_manifest(app, meta, who, upload_id, &u.manifest, runtime, entry,
                                    description, &version, diag);
    if (rc == BE_OK) {
        if (unlink(path.data) && errno != ENOENT)
            log_warn("upload: cannot remove %s: %s", path.data, strerror(errno));
        *ret_version = version;
    }
out:
    unpack_release(&u);
    buf_release(&path);
    return rc;
}

/* --- garbage collection ------------------------------------------------------------ */

struct gc_ctx {
    int64_t now;
    char (*ids)[UPLOAD_ID_LEN + 1];
    size_t n;
};

#define ARCHIVES_DONE                                                                              \
    " FROM archive_uploads a LEFT JOIN uploads u ON u.upload_id = a.upload_id"                     \
    " WHERE u.upload_id IS NULL OR u.state <> 'open' OR u.expires_at < $1"

static int gc_fn(struct store_conn *c, void *arg)
{
    struct gc_ctx *x = arg;
    struct store_result *r = NULL;
    x->n = 0;
    int rc =
        store_query(c,
                    store_conn_dialect(c) == STORE_POSTGRES
                        ? "SELECT a.upload_id" ARCHIVES_DONE " LIMIT $2 FOR UPDATE OF a SKIP LOCKED"
                        : "SELECT a.upload_id" ARCHIVES_DONE " LIMIT $2",
                    SV_ARGS(SV_I64(x->now), SV_I64(GC_BATCH)), &r);
    for (size_t i = 0; rc == BE_OK && i < store_result_rows(r); i++) {
        const char *id = store_result_text(r, i, 0);
        int64_t changes = 0;
        rc = store_exec(c, "DELETE FROM archive_uploads WHERE upload_id = $1", SV_ARGS(SV_TEXT(id)),
                        &changes);
        if (rc == BE_OK && changes == 1 && id_valid(id))
            snprintf(x->ids[x->n++], UPLOAD_ID_LEN + 1, "%s", id);
    }
    store_result_free(r);
    return rc;
}

int upload_archive_gc(struct app *app, int64_t now, size_t *ret_removed)
{
    struct gc_ctx x = {now, xcalloc(GC_BATCH, sizeof(*x.ids)), 0};
    int rc = store_tx(app->store, gc_fn, &x);
    /* The rows are gone (committed): only now the files. */
    for (size_t i = 0; rc == BE_OK && i < x.n; i++) {
        struct buf p = BUF_INIT;
        archive_path(app, x.ids[i], &p);
        if (unlink(p.data) && errno != ENOENT)
            log_warn("upload: cannot remove %s: %s", p.data, strerror(errno));
        buf_release(&p);
    }
    if (rc == BE_OK)
        *ret_removed = x.n;
    free(x.ids);
    return rc;
}
