#include "devenv/blobstore.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/crypto.h"
#include "core/log.h"
#include "core/mem.h"
#include "devenv/manifest.h"
#include "core/fsutil.h"
#include "core/banned.h"

struct blob_writer {
    char hex[MANIFEST_SHA256_HEX + 1];
    uint64_t size, written;
    struct buf dir, tmp, final;
    int fd;
    struct crypto_sha256_ctx *sha;
    /* Unnamed (blob_writer_open_unnamed): hex, dir and final are empty
     * until the commit names the blob; data_dir is where it goes. */
    bool unnamed;
    struct buf data_dir;
};

static bool lower_hex(const char *s)
{
    if (!manifest_sha256_valid(s))
        return false;
    for (; *s; s++)
        if (*s >= 'A' && *s <= 'F')
            return false;
    return true;
}

static void add_dir(const struct app *app, const char *hex, struct buf *out)
{
    buf_addf(out, "%s/objects/sha256/%.2s/%.2s", app->cfg->data_dir, hex, hex + 2);
}

int blobstore_path(const struct app *app, const char *sha256_hex, struct buf *ret)
{
    if (!lower_hex(sha256_hex))
        return BE_INVALID_PARAMETER_VALUE;
    add_dir(app, sha256_hex, ret);
    buf_addf(ret, "/%s", sha256_hex);
    return BE_OK;
}

bool blobstore_has(const struct app *app, const char *sha256_hex, uint64_t size)
{
    struct buf p = BUF_INIT;
    struct stat st;
    bool ok = blobstore_path(app, sha256_hex, &p) == BE_OK && stat(p.data, &st) == 0 &&
              S_ISREG(st.st_mode) && (uint64_t)st.st_size == size;
    buf_release(&p);
    return ok;
}

int blobstore_remove(const struct app *app, const char *sha256_hex)
{
    struct buf p = BUF_INIT;
    int rc = blobstore_path(app, sha256_hex, &p);
    if (rc == BE_OK && unlink(p.data) && errno != ENOENT) {
        log_error("blobstore: cannot remove %s: %s", p.data, strerror(errno));
        rc = BE_INTERNAL;
    }
    buf_release(&p);
    return rc;
}

/* mkdir -p of the blob's directory (data_dir exists: the keyring made it). */
static int make_dirs(const char *path)
{
    return fs_mkdir_p(path, 0700) ? BE_INTERNAL : BE_OK;
}

static int fsync_dir(const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int r = fsync(fd);
    close(fd);
    return r;
}

static void writer_free(struct blob_writer *w)
{
    if (w->fd >= 0)
        close(w->fd);
    crypto_sha256_free(w->sha);
    buf_release(&w->dir);
    buf_release(&w->tmp);
    buf_release(&w->final);
    buf_release(&w->data_dir);
    free(w);
}

int blob_writer_open(const struct app *app, const char *sha256_hex, uint64_t size,
                     struct blob_writer **ret_writer, struct be_diag *diag)
{
    if (!lower_hex(sha256_hex))
        return be_fail(diag, BE_INVALID_PARAMETER_VALUE,
                       "a blob is named by 64 lowercase hex digits");
    struct blob_writer *w = xcalloc(1, sizeof(*w));
    w->fd = -1;
    w->size = size;
    snprintf(w->hex, sizeof(w->hex), "%s", sha256_hex);
    buf_init(&w->dir);
    buf_init(&w->tmp);
    buf_init(&w->final);
    buf_init(&w->data_dir);
    add_dir(app, sha256_hex, &w->dir);
    buf_addf(&w->final, "%s/%s", w->dir.data, sha256_hex);
    buf_addf(&w->tmp, "%s/.tmp-%s-XXXXXX", w->dir.data, sha256_hex);
    if (make_dirs(w->dir.data) || (w->fd = mkostemp(w->tmp.data, O_CLOEXEC)) < 0) {
        log_error("blobstore: cannot create a temporary file in %s: %s", w->dir.data,
                  strerror(errno));
        writer_free(w);
        return be_fail(diag, BE_INTERNAL, "cannot store the blob");
    }
    w->sha = crypto_sha256_new();
    *ret_writer = w;
    return BE_OK;
}

int blob_writer_open_unnamed(const struct app *app, uint64_t max_size,
                             struct blob_writer **ret_writer, struct be_diag *diag)
{
    struct blob_writer *w = xcalloc(1, sizeof(*w));
    w->fd = -1;
    w->size = max_size;
    w->unnamed = true;
    buf_init(&w->dir);
    buf_init(&w->tmp);
    buf_init(&w->final);
    buf_init(&w->data_dir);
    buf_adds(&w->data_dir, app->cfg->data_dir);
    /* Same file system as the blobs: the commit link()s it into place. */
    buf_addf(&w->dir, "%s/objects/tmp", app->cfg->data_dir);
    buf_addf(&w->tmp, "%s/.tmp-unnamed-XXXXXX", w->dir.data);
    if (make_dirs(w->dir.data) || (w->fd = mkostemp(w->tmp.data, O_CLOEXEC)) < 0) {
        log_error("blobstore: cannot create a temporary file in %s: %s", w->dir.data,
                  strerror(errno));
        writer_free(w);
        return be_fail(diag, BE_INTERNAL, "cannot store the blob");
    }
    w->sha = crypto_sha256_new();
    *ret_writer = w;
    return BE_OK;
}

int blob_writer_write(struct blob_writer *w, const void *data, size_t len, struct be_diag *diag)
{
    if (len > w->size - w->written && w->unnamed)
        return be_fail(diag, BE_DIGEST_MISMATCH, "a file is longer than %llu bytes",
                       (unsigned long long)w->size);
    if (len > w->size - w->written)
        return be_fail(diag, BE_DIGEST_MISMATCH,
                       "blob %.12s… is longer than the %llu bytes of the manifest", w->hex,
                       (unsigned long long)w->size);
    crypto_sha256_update(w->sha, data, len);
    const char *p = data;
    size_t left = len;
    while (left) {
        ssize_t n = write(w->fd, p, left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            log_error("blobstore: cannot write %s: %s", w->tmp.data, strerror(errno));
            return be_fail(diag, BE_INTERNAL, "cannot store the blob");
        }
        p += n;
        left -= (size_t)n;
    }
    w->written += len;
    return BE_OK;
}

uint64_t blob_writer_written(const struct blob_writer *w)
{
    return w->written;
}

/* Verifies what was written: size, then digest. */
static int verify(struct blob_writer *w, struct be_diag *diag)
{
    unsigned char d[CRYPTO_SHA256_LEN], want[CRYPTO_SHA256_LEN];
    if (w->written != w->size)
        return be_fail(diag, BE_DIGEST_MISMATCH,
                       "blob %.12s… got %llu bytes, the manifest says %llu", w->hex,
                       (unsigned long long)w->written, (unsigned long long)w->size);
    crypto_sha256_final(w->sha, d);
    w->sha = NULL;
    if (crypto_hex_decode(w->hex, want, sizeof(want)) || memcmp(d, want, sizeof(d)))
        return be_fail(diag, BE_DIGEST_MISMATCH,
                       "the bytes sent for blob %.12s… have another SHA-256", w->hex);
    return BE_OK;
}

/* Makes the verified temporary file the blob w->final (kept open until
 * here); the caller removes the temporary name and frees w. */
static int publish(struct blob_writer *w, struct be_diag *diag)
{
    int rc = BE_OK;
    if (fchmod(w->fd, 0444) || fsync(w->fd)) {
        log_error("blobstore: cannot sync %s: %s", w->tmp.data, strerror(errno));
        rc = be_fail(diag, BE_INTERNAL, "cannot store the blob");
        goto out;
    }
    close(w->fd);
    w->fd = -1;
    /* link() never replaces: a blob another writer published first stays.
     * Only a damaged one (wrong size: a disk fault) is replaced. */
    struct stat st;
    int lr = link(w->tmp.data, w->final.data);
    if (lr && errno == EEXIST && (stat(w->final.data, &st) || (uint64_t)st.st_size != w->size))
        lr = rename(w->tmp.data, w->final.data);
    else if (lr && errno == EEXIST)
        lr = 0;
    if (lr) {
        log_error("blobstore: cannot publish %s: %s", w->final.data, strerror(errno));
        rc = be_fail(diag, BE_INTERNAL, "cannot store the blob");
        goto out;
    }
    if (fsync_dir(w->dir.data))
        log_warn("blobstore: cannot sync directory %s: %s", w->dir.data, strerror(errno));
out:
    return rc;
}

int blob_writer_commit(struct blob_writer *w, struct be_diag *diag)
{
    int rc = w->unnamed ? be_fail(diag, BE_INTERNAL, "an unnamed blob is committed by name")
                        : verify(w, diag);
    if (rc == BE_OK)
        rc = publish(w, diag);
    unlink(w->tmp.data);
    writer_free(w);
    return rc;
}

/* Names an unnamed writer's blob by the digest of what was written. */
static void name_unnamed(struct blob_writer *w)
{
    unsigned char d[CRYPTO_SHA256_LEN];
    struct buf hex = BUF_INIT;
    crypto_sha256_final(w->sha, d);
    w->sha = NULL;
    buf_addhex(&hex, d, sizeof(d));
    snprintf(w->hex, sizeof(w->hex), "%s", hex.data);
    buf_release(&hex);
    w->size = w->written;
    buf_reset(&w->dir);
    buf_addf(&w->dir, "%s/objects/sha256/%.2s/%.2s", w->data_dir.data, w->hex, w->hex + 2);
    buf_addf(&w->final, "%s/%s", w->dir.data, w->hex);
}

int blob_writer_commit_unnamed(struct blob_writer *w, char ret_sha256[65], struct be_diag *diag)
{
    int rc = BE_OK;
    if (!w->unnamed) {
        rc = be_fail(diag, BE_INTERNAL, "a named blob is committed unnamed");
        goto out;
    }
    name_unnamed(w);
    if (make_dirs(w->dir.data)) {
        log_error("blobstore: cannot create %s: %s", w->dir.data, strerror(errno));
        rc = be_fail(diag, BE_INTERNAL, "cannot store the blob");
        goto out;
    }
    /* Already stored (an unchanged file): nothing to sync or link. */
    struct stat st;
    if (stat(w->final.data, &st) == 0 && S_ISREG(st.st_mode) && (uint64_t)st.st_size == w->size)
        memcpy(ret_sha256, w->hex, MANIFEST_SHA256_HEX + 1);
    else if ((rc = publish(w, diag)) == BE_OK)
        memcpy(ret_sha256, w->hex, MANIFEST_SHA256_HEX + 1);
out:
    unlink(w->tmp.data);
    writer_free(w);
    return rc;
}

void blob_writer_abort(struct blob_writer *w)
{
    if (!w)
        return;
    unlink(w->tmp.data);
    writer_free(w);
}
