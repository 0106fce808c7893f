#include "devenv/release_source.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/crypto.h"
#include "core/fsutil.h"
#include "core/mem.h"
#include "devenv/blobstore.h"
#include "devenv/version.h"
#include "store/store.h"
#include "core/banned.h"

struct source_ctx {
    struct app *app;
    char *trees_dir;
};

/* ---- the environment ---- */

struct env_row {
    const char *env_id;
    bool found;
    uint64_t owner_uin;
    char appid[64];
};

static int env_row_fn(struct store_conn *c, void *arg)
{
    struct env_row *x = arg;
    struct store_result *r = NULL;
    int rc = store_query(c,
                         "SELECT owner_uin, appid FROM envs WHERE env_id = $1"
                         " AND state <> 'DELETING'",
                         SV_ARGS(SV_TEXT(x->env_id)), &r);
    if (rc == BE_OK && store_result_rows(r)) {
        x->found = true;
        x->owner_uin = (uint64_t)store_result_i64(r, 0, 0);
        snprintf(x->appid, sizeof(x->appid), "%s", store_result_text(r, 0, 1));
    }
    store_result_free(r);
    return rc;
}

static int env_lookup(struct source_ctx *ctx, const char *env_id, struct env_row *ret)
{
    memset(ret, 0, sizeof(*ret));
    ret->env_id = env_id;
    int rc = store_run(ctx->app->store, env_row_fn, ret);
    if (rc == BE_OK && !ret->found)
        rc = BE_ENV_NOT_FOUND;
    return rc;
}

static int src_env_owner(void *arg, const char *env_id, uint64_t *ret_owner_uin)
{
    struct env_row row;
    int rc = env_lookup(arg, env_id, &row);
    if (rc == BE_OK)
        *ret_owner_uin = row.owner_uin;
    return rc;
}

/* ---- staging a version's tree ---- */

/* Copies the blob of f to dir/f->path with f's mode (read-only: the write
 * bits are dropped), creating parent directories. */
static int stage_file(struct source_ctx *ctx, const char *dir, const struct manifest_file *f,
                      struct be_diag *diag)
{
    struct buf src = BUF_INIT, dst = BUF_INIT;
    int in = -1, out = -1, rc = BE_OK;
    if ((rc = blobstore_path(ctx->app, f->sha256, &src))) {
        rc = be_fail(diag, rc, "the blob of %s is unknown", f->path);
        goto out;
    }
    buf_addf(&dst, "%s/%s", dir, f->path);
    char *slash = strrchr(dst.data, '/');
    *slash = '\0';
    if (fs_mkdir_p(dst.data, 0755)) {
        rc = be_fail(diag, BE_INTERNAL, "cannot create %s: %s", dst.data, strerror(errno));
        goto out;
    }
    *slash = '/';
    in = open(src.data, O_RDONLY | O_CLOEXEC);
    out = in < 0 ? -1
                 : open(dst.data, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
                        (mode_t)((f->mode & 0555) | 0444));
    if (in < 0 || out < 0) {
        rc = be_fail(diag, BE_INTERNAL, "cannot copy %s: %s", f->path, strerror(errno));
        goto out;
    }
    char chunk[65536];
    uint64_t copied = 0;
    for (;;) {
        ssize_t n = read(in, chunk, sizeof(chunk));
        if (n == 0)
            break;
        if (n < 0 || write(out, chunk, (size_t)n) != n) {
            rc = be_fail(diag, BE_INTERNAL, "cannot copy %s: %s", f->path, strerror(errno));
            goto out;
        }
        copied += (uint64_t)n;
    }
    /* The store checked the hash when the blob came in; a size that differs
     * now means the store was tampered with or damaged. */
    if (copied != f->size)
        rc = be_fail(diag, BE_INTERNAL, "the blob of %s has %llu bytes, the version says %llu",
                     f->path, (unsigned long long)copied, (unsigned long long)f->size);
out:
    if (in >= 0)
        close(in);
    if (out >= 0 && close(out) && rc == BE_OK)
        rc = be_fail(diag, BE_INTERNAL, "cannot write %s: %s", f->path, strerror(errno));
    buf_release(&src);
    buf_release(&dst);
    return rc;
}

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    return type == FTW_DP ? rmdir(path) : unlink(path);
}

/* rm -rf of a staging directory (FTW_PHYS: links are removed, never
 * followed). */
static void remove_tree(const char *dir)
{
    nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* The staged tree of v: trees_dir/<manifest hash>, made when missing. */
static int stage_tree(struct source_ctx *ctx, const struct version_info *v, struct buf *ret_dir,
                      struct be_diag *diag)
{
    buf_addf(ret_dir, "%s/%s", ctx->trees_dir, v->manifest_hash);
    struct stat st;
    if (!stat(ret_dir->data, &st) && S_ISDIR(st.st_mode))
        return BE_OK;
    char rnd[17];
    unsigned char bytes[8];
    crypto_random(bytes, sizeof(bytes));
    for (size_t i = 0; i < sizeof(bytes); i++)
        snprintf(rnd + 2 * i, 3, "%02x", bytes[i]);
    struct buf tmp = BUF_INIT;
    buf_addf(&tmp, "%s/.tmp-%s", ctx->trees_dir, rnd);
    int rc = fs_mkdir_p(tmp.data, 0755)
                 ? be_fail(diag, BE_INTERNAL, "cannot create %s: %s", tmp.data, strerror(errno))
                 : BE_OK;
    for (size_t i = 0; rc == BE_OK && i < v->nfiles; i++)
        rc = stage_file(ctx, tmp.data, &v->files[i], diag);
    /* Another job may have staged the same tree meanwhile: its copy is as
     * good as ours (same manifest), so losing the race is not an error. */
    if (rc == BE_OK && rename(tmp.data, ret_dir->data) && errno != EEXIST && errno != ENOTEMPTY)
        rc = be_fail(diag, BE_INTERNAL, "cannot stage %s: %s", ret_dir->data, strerror(errno));
    if (rc != BE_OK || !stat(tmp.data, &st))
        remove_tree(tmp.data);
    buf_release(&tmp);
    return rc;
}

static int src_release_get(void *arg, const char *env_id, uint64_t version,
                           struct deploy_release *ret, struct be_diag *diag)
{
    struct source_ctx *ctx = arg;
    struct env_row row;
    struct version_info v;
    memset(&v, 0, sizeof(v));
    int rc = env_lookup(ctx, env_id, &row);
    if (rc)
        return be_fail(diag, rc, "no environment %s", env_id);
    if ((rc = version_get(ctx->app, row.owner_uin, env_id, (int64_t)version, &v, diag)))
        return rc;
    struct deploy_release rel;
    memset(&rel, 0, sizeof(rel));
    struct buf dir = BUF_INIT;
    if (deploy_runtime_parse(v.runtime, &rel.runtime) ||
        snprintf(rel.entry, sizeof(rel.entry), "%s", v.entry) >= (int)sizeof(rel.entry)) {
        rc = be_fail(diag, BE_FAILED, "version %lld of %s has a bad runtime or entry",
                     (long long)v.number, env_id);
        goto out;
    }
    if ((rc = stage_tree(ctx, &v, &dir, diag)))
        goto out;
    snprintf(rel.env_id, sizeof(rel.env_id), "%s", env_id);
    snprintf(rel.app_id, sizeof(rel.app_id), "%s", row.appid);
    rel.owner_uin = row.owner_uin;
    rel.version = (uint64_t)v.number;
    /* Environments have no variables of their own yet: an empty list. */
    rel.vars = xcalloc(1, sizeof(char *));
    rel.where = buf_detach(&dir, NULL);
    rel.has_file = deploy_dir_has_file;
    rel.materialize = deploy_dir_materialize;
    *ret = rel;
out:
    buf_release(&dir);
    version_info_release(&v);
    return rc;
}

struct deploy_source devenv_release_source(struct app *app, const char *trees_dir)
{
    struct source_ctx *ctx = xcalloc(1, sizeof(*ctx));
    ctx->app = app;
    ctx->trees_dir = xstrdup(trees_dir);
    fs_mkdir_p(trees_dir, 0750); /* a failure shows at the first release */
    struct deploy_source s = {src_release_get, src_env_owner, ctx};
    return s;
}

void devenv_release_source_free(struct deploy_source *src)
{
    struct source_ctx *ctx = src->ctx;
    if (ctx) {
        free(ctx->trees_dir);
        free(ctx);
    }
    src->ctx = NULL;
}
