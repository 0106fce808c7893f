#include "devenv/version.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "core/banned.h"

#define VERSION_COLUMNS                                                                            \
    "env_id, version, runtime, entry, description, upload_id, manifest_hash, created_by,"          \
    " created_at, files, bytes"

static void copy_text(char *dst, size_t n, const char *s)
{
    snprintf(dst, n, "%s", s ? s : "");
}

static void row_to_version(const struct store_result *r, size_t i, struct version_info *v)
{
    memset(v, 0, sizeof(*v));
    copy_text(v->env_id, sizeof(v->env_id), store_result_text(r, i, 0));
    v->number = store_result_i64(r, i, 1);
    copy_text(v->runtime, sizeof(v->runtime), store_result_text(r, i, 2));
    copy_text(v->entry, sizeof(v->entry), store_result_text(r, i, 3));
    copy_text(v->description, sizeof(v->description), store_result_text(r, i, 4));
    copy_text(v->upload_id, sizeof(v->upload_id), store_result_text(r, i, 5));
    copy_text(v->manifest_hash, sizeof(v->manifest_hash), store_result_text(r, i, 6));
    v->created_by = (uint64_t)store_result_i64(r, i, 7);
    v->created_at = store_result_i64(r, i, 8);
    v->nfiles = (size_t)store_result_i64(r, i, 9);
    v->bytes = (uint64_t)store_result_i64(r, i, 10);
}

struct get_ctx {
    uint64_t owner;
    const char *env_id;
    int64_t number;
    struct version_info *out;
    struct be_diag *diag;
};

static int load_files(struct store_conn *c, struct version_info *v)
{
    struct store_result *r = NULL;
    int rc = store_query(c,
                         "SELECT path, sha256, size, mode FROM version_files"
                         " WHERE env_id = $1 AND version = $2 ORDER BY path",
                         SV_ARGS(SV_TEXT(v->env_id), SV_I64(v->number)), &r);
    if (rc == BE_OK) {
        size_t n = store_result_rows(r);
        v->files = xcalloc(n ? n : 1, sizeof(*v->files));
        v->nfiles = n;
        for (size_t i = 0; i < n; i++) {
            struct manifest_file *f = &v->files[i];
            f->path = xstrdup(store_result_text(r, i, 0));
            copy_text(f->sha256, sizeof(f->sha256), store_result_text(r, i, 1));
            f->size = (uint64_t)store_result_i64(r, i, 2);
            f->mode = (uint32_t)store_result_i64(r, i, 3);
        }
    }
    store_result_free(r);
    return rc;
}

static int get_fn(struct store_conn *c, void *arg)
{
    struct get_ctx *x = arg;
    struct env e;
    struct store_result *r = NULL;
    int rc = env_load(c, x->owner, x->env_id, &e);
    if (rc)
        return be_fail(x->diag, rc, "no environment %.40s in this account", x->env_id);
    int64_t n = x->number ? x->number : e.latest_version;
    rc = store_query(c,
                     "SELECT " VERSION_COLUMNS " FROM versions WHERE env_id = $1 AND version = $2",
                     SV_ARGS(SV_TEXT(x->env_id), SV_I64(n)), &r);
    if (rc == BE_OK && store_result_rows(r) == 0)
        rc = n ? be_fail(x->diag, BE_VERSION_NOT_FOUND, "%s has no version %lld", x->env_id,
                         (long long)n)
               : be_fail(x->diag, BE_VERSION_NOT_FOUND, "%s has no version yet", x->env_id);
    if (rc == BE_OK)
        row_to_version(r, 0, x->out);
    store_result_free(r);
    if (rc == BE_OK)
        rc = load_files(c, x->out);
    return rc;
}

int version_get(struct app *app, uint64_t owner_uin, const char *env_id, int64_t number,
                struct version_info *ret, struct be_diag *diag)
{
    struct version_info v;
    memset(&v, 0, sizeof(v));
    struct get_ctx x = {owner_uin, env_id, number, &v, diag};
    /* One transaction: the version row and its files from one snapshot. */
    int rc = store_tx(app->store, get_fn, &x);
    if (rc) {
        version_info_release(&v);
        return rc;
    }
    *ret = v;
    return BE_OK;
}

void version_info_release(struct version_info *v)
{
    if (!v || !v->files)
        return;
    for (size_t i = 0; i < v->nfiles; i++)
        free(v->files[i].path);
    free(v->files);
    v->files = NULL;
}

struct list_ctx {
    uint64_t owner;
    const char *env_id;
    size_t offset, limit;
    struct version_info *out;
    size_t n, total;
};

static int list_fn(struct store_conn *c, void *arg)
{
    struct list_ctx *x = arg;
    struct env e;
    struct store_result *r = NULL;
    int rc = env_load(c, x->owner, x->env_id, &e);
    if (rc == BE_OK)
        rc = store_query(c, "SELECT COUNT(*) FROM versions WHERE env_id = $1",
                         SV_ARGS(SV_TEXT(x->env_id)), &r);
    if (rc == BE_OK)
        x->total = (size_t)store_result_i64(r, 0, 0);
    store_result_free(r);
    r = NULL;
    if (rc == BE_OK)
        rc = store_query(c,
                         "SELECT " VERSION_COLUMNS " FROM versions WHERE env_id = $1"
                         " ORDER BY version DESC LIMIT $2 OFFSET $3",
                         SV_ARGS(SV_TEXT(x->env_id), SV_I64(x->limit), SV_I64(x->offset)), &r);
    if (rc == BE_OK) {
        x->n = store_result_rows(r);
        x->out = xcalloc(x->n ? x->n : 1, sizeof(*x->out));
        for (size_t i = 0; i < x->n; i++)
            row_to_version(r, i, &x->out[i]);
    }
    store_result_free(r);
    return rc;
}

int version_list(struct app *app, uint64_t owner_uin, const char *env_id, size_t offset,
                 size_t limit, struct version_info **ret_versions, size_t *ret_n, size_t *ret_total)
{
    struct list_ctx x = {owner_uin, env_id, offset, limit, NULL, 0, 0};
    if (limit < 1 || limit > VERSION_PAGE_MAX)
        return BE_INVALID_PARAMETER_VALUE;
    int rc = store_tx(app->store, list_fn, &x);
    if (rc) {
        free(x.out);
        return rc;
    }
    *ret_versions = x.out;
    *ret_n = x.n;
    *ret_total = x.total;
    return BE_OK;
}
