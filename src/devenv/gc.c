#include "devenv/gc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/mem.h"
#include "devenv/blobstore.h"
#include "devenv/manifest.h"
#include "devenv/upload_archive.h"
#include "core/banned.h"

struct gc_ctx {
    int64_t now, cutoff, keep;
    size_t n;
    char (*hex)[MANIFEST_SHA256_HEX + 1]; /* blobs: the rows deleted */
};

static int uploads_fn(struct store_conn *c, void *arg)
{
    struct gc_ctx *x = arg;
    struct store_result *r = NULL;
    x->n = 0;
    int rc = store_query(c,
                         store_conn_dialect(c) == STORE_POSTGRES
                             ? "SELECT upload_id FROM uploads WHERE state = 'open'"
                               " AND expires_at < $1 ORDER BY expires_at LIMIT $2"
                               " FOR UPDATE SKIP LOCKED"
                             : "SELECT upload_id FROM uploads WHERE state = 'open'"
                               " AND expires_at < $1 ORDER BY expires_at LIMIT $2",
                         SV_ARGS(SV_I64(x->now), SV_I64(GC_BATCH)), &r);
    for (size_t i = 0; rc == BE_OK && i < store_result_rows(r); i++) {
        const char *id = store_result_text(r, i, 0);
        int64_t changes = 0;
        rc = store_exec(c,
                        "UPDATE uploads SET state = 'expired' WHERE upload_id = $1"
                        " AND state = 'open'",
                        SV_ARGS(SV_TEXT(id)), &changes);
        if (rc == BE_OK && changes == 1) {
            rc = store_exec(c, "DELETE FROM upload_files WHERE upload_id = $1",
                            SV_ARGS(SV_TEXT(id)), NULL);
            x->n++;
        }
    }
    store_result_free(r);
    return rc;
}

/* A version past retention: keep newer ones exist, and nothing runs or is
 * about to run it. */
#define PAST_RETENTION                                                                             \
    " FROM versions v WHERE (SELECT COUNT(*) FROM versions w WHERE w.env_id = v.env_id"            \
    " AND w.version > v.version) >= $1"                                                            \
    " AND NOT EXISTS (SELECT 1 FROM env_runtime r WHERE r.env_id = v.env_id"                       \
    " AND (r.live_version_n = v.version OR r.prev_version_n = v.version))"                         \
    " AND NOT EXISTS (SELECT 1 FROM deploys d WHERE d.env_id = v.env_id"                           \
    " AND d.state IN ('QUEUED', 'RUNNING')"                                                        \
    " AND (d.to_version_n = v.version OR d.from_version_n = v.version))"

static int versions_fn(struct store_conn *c, void *arg)
{
    struct gc_ctx *x = arg;
    struct store_result *r = NULL;
    x->n = 0;
    int rc = store_query(c,
                         store_conn_dialect(c) == STORE_POSTGRES
                             ? "SELECT v.env_id, v.version" PAST_RETENTION
                               " ORDER BY v.env_id, v.version LIMIT $2 FOR UPDATE OF v SKIP LOCKED"
                             : "SELECT v.env_id, v.version" PAST_RETENTION
                               " ORDER BY v.env_id, v.version LIMIT $2",
                         SV_ARGS(SV_I64(x->keep), SV_I64(GC_BATCH)), &r);
    for (size_t i = 0; rc == BE_OK && i < store_result_rows(r); i++) {
        const char *env = store_result_text(r, i, 0);
        int64_t version = store_result_i64(r, i, 1), changes = 0;
        rc = store_exec(c, "DELETE FROM versions WHERE env_id = $1 AND version = $2",
                        SV_ARGS(SV_TEXT(env), SV_I64(version)), &changes);
        if (rc == BE_OK && changes == 1) {
            rc = store_exec(c, "DELETE FROM version_files WHERE env_id = $1 AND version = $2",
                            SV_ARGS(SV_TEXT(env), SV_I64(version)), NULL);
            x->n++;
        }
    }
    store_result_free(r);
    return rc;
}

#define UNREFERENCED                                                                               \
    " FROM blobs b WHERE b.last_used < $1"                                                         \
    " AND NOT EXISTS (SELECT 1 FROM version_files v WHERE v.sha256 = b.sha256)"                    \
    " AND NOT EXISTS (SELECT 1 FROM upload_files f JOIN uploads u ON u.upload_id = f.upload_id"    \
    " WHERE f.sha256 = b.sha256 AND u.state = 'open' AND u.expires_at >= $2)"

static int blobs_fn(struct store_conn *c, void *arg)
{
    struct gc_ctx *x = arg;
    struct store_result *r = NULL;
    x->n = 0;
    int rc = store_query(c,
                         store_conn_dialect(c) == STORE_POSTGRES
                             ? "SELECT b.sha256" UNREFERENCED " LIMIT $3 FOR UPDATE SKIP LOCKED"
                             : "SELECT b.sha256" UNREFERENCED " LIMIT $3",
                         SV_ARGS(SV_I64(x->cutoff), SV_I64(x->now), SV_I64(GC_BATCH)), &r);
    for (size_t i = 0; rc == BE_OK && i < store_result_rows(r); i++) {
        const char *hex = store_result_text(r, i, 0);
        int64_t changes = 0;
        rc = store_exec(c, "DELETE FROM blobs WHERE sha256 = $1 AND last_used < $2",
                        SV_ARGS(SV_TEXT(hex), SV_I64(x->cutoff)), &changes);
        if (rc == BE_OK && changes == 1 && manifest_sha256_valid(hex))
            snprintf(x->hex[x->n++], MANIFEST_SHA256_HEX + 1, "%s", hex);
    }
    store_result_free(r);
    return rc;
}

int gc_round(struct app *app, int64_t now, struct gc_stats *ret)
{
    struct gc_ctx x = {now, now - (int64_t)app->cfg->deploy_blob_grace,
                       (int64_t)app->cfg->deploy_keep_versions, 0, NULL};
    memset(ret, 0, sizeof(*ret));
    int rc = store_tx(app->store, uploads_fn, &x);
    if (rc)
        return rc;
    ret->uploads = x.n;
    /* Archive files of uploads no longer open (committed, just expired). */
    size_t archives = 0;
    if ((rc = upload_archive_gc(app, now, &archives)))
        return rc;
    /* Versions before blobs: a blob only the deleted versions used goes in
     * this same round once its grace has passed. */
    if ((rc = store_tx(app->store, versions_fn, &x)))
        return rc;
    ret->versions = x.n;
    x.hex = xcalloc(GC_BATCH, sizeof(*x.hex));
    rc = store_tx(app->store, blobs_fn, &x);
    /* The rows are gone (committed): only now the files. */
    for (size_t i = 0; rc == BE_OK && i < x.n; i++)
        blobstore_remove(app, x.hex[i]);
    if (rc == BE_OK)
        ret->blobs = x.n;
    free(x.hex);
    return rc;
}
