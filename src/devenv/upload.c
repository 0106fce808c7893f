#include "devenv/upload.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"
#include "core/crypto.h"
#include "core/mem.h"
#include "core/parse.h"
#include "devenv/blobstore.h"
#include "devenv/env.h"
#include "binding/flow.h"
#include "core/banned.h"

/* Rows per multi-row INSERT of an upload's files. */
#define INSERT_BATCH 50

void upload_make_id(char out[UPLOAD_ID_LEN + 1])
{
    static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz234567";
    unsigned char r[26];
    crypto_random(r, sizeof(r));
    memcpy(out, "up-", 3);
    for (size_t i = 0; i < 26; i++)
        out[3 + i] = alphabet[r[i] & 31];
    out[UPLOAD_ID_LEN] = '\0';
}

static int audit_upload(struct store_conn *c, const struct req_meta *meta,
                        const struct principal *who, const char *action, const char *detail)
{
    struct audit_entry e = {who->owner_uin, who->uin, action, "success", detail};
    return audit_record(c, meta, &e);
}

/* --- signing ------------------------------------------------------------------- */

void upload_sign(const struct app *app, const char *path, int64_t expires_at, char ret_sig[65])
{
    unsigned char mac[CRYPTO_SHA256_LEN];
    struct buf msg = BUF_INIT, hex = BUF_INIT;
    buf_addf(&msg, "PUT\n%s\n%lld", path, (long long)expires_at);
    crypto_hmac_sha256(app->keys.upload, sizeof(app->keys.upload), msg.data, msg.len, mac);
    buf_addhex(&hex, mac, sizeof(mac));
    snprintf(ret_sig, 65, "%s", hex.data);
    buf_release(&msg);
    buf_release(&hex);
}

static void sign(const struct app *app, const char *upload_id, const char *sha256,
                 int64_t expires_at, char out[65])
{
    struct buf path = BUF_INIT;
    buf_addf(&path, "/v1/uploads/%s/blobs/%s", upload_id, sha256);
    upload_sign(app, path.data, expires_at, out);
    buf_release(&path);
}

void upload_presign(const struct app *app, const char *upload_id, const char *sha256,
                    int64_t expires_at, struct buf *ret_url)
{
    char sig[65];
    sign(app, upload_id, sha256, expires_at, sig);
    const char *base = app->cfg->public_url;
    size_t n = strlen(base);
    while (n && base[n - 1] == '/')
        n--;
    buf_addf(ret_url, "%.*s/v1/uploads/%s/blobs/%s?Expires=%lld&Signature=%s", (int)n, base,
             upload_id, sha256, (long long)expires_at, sig);
}

int upload_check_url(const struct app *app, const char *upload_id, const char *sha256,
                     const char *expires, const char *signature, int64_t now, struct be_diag *diag)
{
    uint64_t t;
    char want[65];
    if (!upload_id || strlen(upload_id) != UPLOAD_ID_LEN || !sha256 ||
        !manifest_sha256_valid(sha256) || !expires || parse_u64(expires, INT64_MAX, &t) ||
        !signature || strlen(signature) != 64)
        return be_fail(diag, BE_UPLOAD_URL_INVALID,
                       "the upload URL is malformed: use the URL CreateUpload returned");
    sign(app, upload_id, sha256, (int64_t)t, want);
    if (!crypto_str_equal(want, signature))
        return be_fail(diag, BE_UPLOAD_URL_INVALID,
                       "the upload URL's signature does not match this upload and blob");
    if ((int64_t)t < now)
        return be_fail(diag, BE_UPLOAD_URL_EXPIRED,
                       "the upload URL expired; create a new upload to get fresh URLs");
    return BE_OK;
}

/* --- CreateUpload ----------------------------------------------------------------- */

struct create_ctx {
    struct app *app;
    const struct req_meta *meta;
    const struct principal *who;
    const char *env_id, *description;
    const struct manifest *m;
    struct upload_created *out;
    struct be_diag *diag;
};

static int insert_files(struct store_conn *c, const char *id, const struct manifest *m)
{
    struct store_val vals[INSERT_BATCH * 5];
    struct buf sql = BUF_INIT;
    int rc = BE_OK;
    size_t i = 0;
    for (; rc == BE_OK && i < m->n;) {
        size_t k = m->n - i >= INSERT_BATCH ? INSERT_BATCH : 1;
        buf_reset(&sql);
        buf_adds(&sql, "INSERT INTO upload_files (upload_id, path, sha256, size, mode) VALUES ");
        for (size_t j = 0; j < k; j++) {
            const struct manifest_file *f = &m->files[i + j];
            buf_addf(&sql, "%s($%zu, $%zu, $%zu, $%zu, $%zu)", j ? ", " : "", j * 5 + 1, j * 5 + 2,
                     j * 5 + 3, j * 5 + 4, j * 5 + 5);
            vals[j * 5] = SV_TEXT(id);
            vals[j * 5 + 1] = SV_TEXT(f->path);
            vals[j * 5 + 2] = SV_TEXT(f->sha256);
            vals[j * 5 + 3] = SV_I64(f->size);
            vals[j * 5 + 4] = SV_I64(f->mode);
        }
        rc = store_exec(c, sql.data, vals, k * 5, NULL);
        i += k;
    }
    buf_release(&sql);
    return rc;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The distinct blobs of m that are not stored (no row, or no file). */
static int find_missing(struct store_conn *c, struct create_ctx *x, const char *id)
{
    struct store_result *r = NULL;
    const struct manifest *m = x->m;
    int rc = store_query(c,
                         "SELECT DISTINCT f.sha256 FROM upload_files f JOIN blobs b"
                         " ON b.sha256 = f.sha256 WHERE f.upload_id = $1",
                         SV_ARGS(SV_TEXT(id)), &r);
    if (rc)
        return rc;
    size_t np = store_result_rows(r);
    const char **present = xcalloc(np ? np : 1, sizeof(*present));
    for (size_t i = 0; i < np; i++)
        present[i] = store_result_text(r, i, 0);
    qsort(present, np, sizeof(*present), cmp_str);
    const char **seen = xcalloc(m->n ? m->n : 1, sizeof(*seen));
    size_t nseen = 0;
    x->out->missing = xcalloc(m->n ? m->n : 1, sizeof(*x->out->missing));
    for (size_t i = 0; i < m->n; i++) {
        const struct manifest_file *f = &m->files[i];
        const char *key = f->sha256;
        bool dup = false;
        for (size_t j = 0; j < nseen && !dup; j++) /* small: distinct missing so far */
            dup = !strcmp(seen[j], key);
        if (dup)
            continue;
        bool stored = bsearch(&key, present, np, sizeof(*present), cmp_str) &&
                      blobstore_has(x->app, key, f->size);
        if (stored)
            continue;
        seen[nseen++] = key;
        struct upload_missing *u = &x->out->missing[x->out->nmissing++];
        snprintf(u->sha256, sizeof(u->sha256), "%s", key);
        u->size = f->size;
        u->path = xstrdup(f->path);
        x->out->missing_bytes += f->size;
    }
    free(seen);
    free(present);
    store_result_free(r);
    return BE_OK;
}

static int create_fn(struct store_conn *c, void *arg)
{
    struct create_ctx *x = arg;
    struct env e;
    char id[UPLOAD_ID_LEN + 1], detail[160];
    int64_t now = x->meta->now;
    upload_created_release(x->out); /* a retried transaction starts again */
    int rc = env_load(c, x->who->owner_uin, x->env_id, &e);
    if (rc)
        return rc;
    if (e.state != ENV_READY)
        return be_fail(x->diag, BE_ENV_NOT_READY, "environment %s is %s, not READY", x->env_id,
                       env_state_name(e.state));
    upload_make_id(id);
    x->out->expires_at = now + (int64_t)x->app->cfg->deploy_upload_ttl;
    rc = store_exec(c,
                    "INSERT INTO uploads (upload_id, env_id, owner_uin, state, manifest_hash,"
                    " files, bytes, description, created_by, created_at, expires_at)"
                    " VALUES ($1, $2, $3, 'open', $4, $5, $6, $7, $8, $9, $10)",
                    SV_ARGS(SV_TEXT(id), SV_TEXT(x->env_id), SV_I64(x->who->owner_uin),
                            SV_TEXT(x->m->hash), SV_I64(x->m->n), SV_I64(x->m->bytes),
                            SV_TEXT(x->description ? x->description : ""), SV_I64(x->who->uin),
                            SV_I64(now), SV_I64(x->out->expires_at)),
                    NULL);
    if (rc == BE_OK)
        rc = insert_files(c, id, x->m);
    /* Touch the blobs this upload relies on: the GC leaves them alone (and
     * a collection racing with this transaction conflicts on their rows). */
    if (rc == BE_OK)
        rc = store_exec(c,
                        "UPDATE blobs SET last_used = $1 WHERE sha256 IN"
                        " (SELECT sha256 FROM upload_files WHERE upload_id = $2)",
                        SV_ARGS(SV_I64(now), SV_TEXT(id)), NULL);
    if (rc == BE_OK)
        rc = find_missing(c, x, id);
    snprintf(detail, sizeof(detail), "%s %s: %zu files, %zu missing", x->env_id, id, x->m->n,
             x->out->nmissing);
    if (rc == BE_OK)
        rc = audit_upload(c, x->meta, x->who, "deploy:CreateUpload", detail);
    if (rc == BE_OK)
        snprintf(x->out->upload_id, sizeof(x->out->upload_id), "%s", id);
    return rc;
}

int upload_create(struct app *app, const struct req_meta *meta, const struct principal *who,
                  const char *env_id, const struct manifest *m, const char *description,
                  struct upload_created *ret, struct be_diag *diag)
{
    memset(ret, 0, sizeof(*ret));
    /* An upload uses the environment's link: WeChat confirms the app's
     * authorization still holds (a revoked one refuses with the
     * re-authorize hint), as 一键开通 does. */
    struct env e;
    int rc = env_get(app, who->owner_uin, env_id, &e);
    if (rc)
        return be_fail(diag, rc, "no environment %.40s in this account", env_id);
    if ((rc = link_flow_verify(app, meta, who->owner_uin, e.appid, NULL, NULL, diag)))
        return rc;
    struct create_ctx x = {app, meta, who, env_id, description, m, ret, diag};
    rc = store_tx(app->store, create_fn, &x);
    if (rc)
        upload_created_release(ret);
    return rc;
}

void upload_created_release(struct upload_created *u)
{
    for (size_t i = 0; u && i < u->nmissing; i++)
        free(u->missing[i].path);
    if (!u)
        return;
    free(u->missing);
    u->missing = NULL;
    u->nmissing = 0;
    u->missing_bytes = 0;
}

/* --- the blob PUT ------------------------------------------------------------------ */

struct blob_ctx {
    const char *upload_id, *sha256;
    int64_t now;
    uint64_t size;
    struct be_diag *diag;
};

int upload_check_state(const char *state, int64_t expires_at, int64_t now, int64_t version,
                       struct be_diag *diag)
{
    if (!strcmp(state, "committed"))
        return be_fail(diag, BE_UPLOAD_COMMITTED, "the upload was committed as version %lld",
                       (long long)version);
    if (strcmp(state, "open") || expires_at < now)
        return be_fail(diag, BE_UPLOAD_EXPIRED, "the upload has expired; create a new upload");
    return BE_OK;
}

static int blob_fn(struct store_conn *c, void *arg)
{
    struct blob_ctx *x = arg;
    struct store_result *r = NULL;
    int rc = store_query(c,
                         "SELECT u.state, u.expires_at, u.version, (SELECT MAX(f.size) FROM"
                         " upload_files f WHERE f.upload_id = u.upload_id AND f.sha256 = $1)"
                         " FROM uploads u WHERE u.upload_id = $2",
                         SV_ARGS(SV_TEXT(x->sha256), SV_TEXT(x->upload_id)), &r);
    if (rc == BE_OK && store_result_rows(r) == 0)
        rc = be_fail(x->diag, BE_UPLOAD_NOT_FOUND, "no upload %s", x->upload_id);
    if (rc == BE_OK)
        rc = upload_check_state(store_result_text(r, 0, 0), store_result_i64(r, 0, 1), x->now,
                                store_result_i64(r, 0, 2), x->diag);
    if (rc == BE_OK && store_result_is_null(r, 0, 3))
        rc = be_fail(x->diag, BE_UPLOAD_URL_INVALID, "upload %s lists no blob %.12s…", x->upload_id,
                     x->sha256);
    if (rc == BE_OK)
        x->size = (uint64_t)store_result_i64(r, 0, 3);
    store_result_free(r);
    return rc;
}

int upload_blob_expected(struct app *app, const char *upload_id, const char *sha256, int64_t now,
                         uint64_t *ret_size, struct be_diag *diag)
{
    struct blob_ctx x = {upload_id, sha256, now, 0, diag};
    int rc = store_run(app->store, blob_fn, &x);
    if (rc == BE_OK)
        *ret_size = x.size;
    return rc;
}

struct stored_ctx {
    const struct blob_ref *blobs;
    size_t n;
    int64_t now;
};

static int stored_fn(struct store_conn *c, void *arg)
{
    struct stored_ctx *x = arg;
    int rc = BE_OK;
    for (size_t i = 0; rc == BE_OK && i < x->n; i++)
        rc = store_exec(
            c,
            "INSERT INTO blobs (sha256, size, created_at, last_used)"
            " VALUES ($1, $2, $3, $3) ON CONFLICT (sha256)"
            " DO UPDATE SET last_used = excluded.last_used",
            SV_ARGS(SV_TEXT(x->blobs[i].sha256), SV_I64(x->blobs[i].size), SV_I64(x->now)), NULL);
    return rc;
}

int upload_blobs_stored(struct app *app, const struct blob_ref *blobs, size_t n, int64_t now)
{
    struct stored_ctx x = {blobs, n, now};
    return n ? store_tx(app->store, stored_fn, &x) : BE_OK;
}

int upload_blob_stored(struct app *app, const char *sha256, uint64_t size, int64_t now)
{
    struct blob_ref b = {"", size};
    snprintf(b.sha256, sizeof(b.sha256), "%s", sha256);
    return upload_blobs_stored(app, &b, 1, now);
}

/* --- CommitUpload ----------------------------------------------------------------- */

struct commit_ctx {
    struct app *app;
    const struct req_meta *meta;
    const struct principal *who;
    const char *upload_id, *runtime, *entry, *description;
    const struct manifest *files; /* upload_commit_manifest: the files to list */
    int64_t version;
    struct be_diag *diag;
};

/* The file the entry names: the entry itself (nodejs, python3) or the
 * first word of the command (exec), without a leading "./". */
static void entry_file(const char *runtime, const char *entry, char out[UPLOAD_ENTRY_MAX + 1])
{
    size_t n = strlen(entry);
    if (!strcmp(runtime, "exec"))
        n = strcspn(entry, " \t");
    snprintf(out, UPLOAD_ENTRY_MAX + 1, "%.*s", (int)n, entry);
    if (!strncmp(out, "./", 2))
        memmove(out, out + 2, strlen(out + 2) + 1);
}

static int check_entry(struct store_conn *c, struct commit_ctx *x)
{
    char file[UPLOAD_ENTRY_MAX + 1];
    struct store_result *r = NULL;
    entry_file(x->runtime, x->entry, file);
    int rc = store_query(c, "SELECT COUNT(*) FROM upload_files WHERE upload_id = $1 AND path = $2",
                         SV_ARGS(SV_TEXT(x->upload_id), SV_TEXT(file)), &r);
    if (rc == BE_OK && store_result_i64(r, 0, 0) != 1)
        rc = be_fail(x->diag, BE_MANIFEST_INVALID,
                     "Entry %.200s: %.200s is not a file of the upload", x->entry, file);
    store_result_free(r);
    return rc;
}

/* Every blob of the upload stored (row and file); else BE_BLOBS_MISSING
 * naming the paths. */
static int check_blobs(struct store_conn *c, struct commit_ctx *x)
{
    struct store_result *r = NULL;
    struct buf names = BUF_INIT;
    size_t missing = 0;
    int rc = store_query(c,
                         "SELECT f.path, f.sha256, f.size, b.sha256 FROM upload_files f"
                         " LEFT JOIN blobs b ON b.sha256 = f.sha256 WHERE f.upload_id = $1"
                         " ORDER BY f.path",
                         SV_ARGS(SV_TEXT(x->upload_id)), &r);
    for (size_t i = 0; rc == BE_OK && i < store_result_rows(r); i++) {
        if (!store_result_is_null(r, i, 3) &&
            blobstore_has(x->app, store_result_text(r, i, 1), (uint64_t)store_result_i64(r, i, 2)))
            continue;
        if (missing++ < UPLOAD_MISSING_NAMED)
            buf_addf(&names, "%s%.200s", missing > 1 ? ", " : "", store_result_text(r, i, 0));
    }
    if (rc == BE_OK && missing > UPLOAD_MISSING_NAMED)
        buf_addf(&names, " and %zu more", missing - UPLOAD_MISSING_NAMED);
    if (rc == BE_OK && missing)
        rc = be_fail(x->diag, BE_BLOBS_MISSING, "%zu files of the upload have not been sent: %s",
                     missing, names.data);
    store_result_free(r);
    buf_release(&names);
    return rc;
}

static int load_upload(struct store_conn *c, struct commit_ctx *x, char *env_id, size_t env_size,
                       char *desc, size_t desc_size)
{
    struct store_result *r = NULL;
    int rc = store_query(c,
                         "SELECT env_id, state, expires_at, version, description FROM uploads"
                         " WHERE upload_id = $1 AND owner_uin = $2",
                         SV_ARGS(SV_TEXT(x->upload_id), SV_I64(x->who->owner_uin)), &r);
    if (rc == BE_OK && store_result_rows(r) == 0)
        rc = be_fail(x->diag, BE_UPLOAD_NOT_FOUND, "no upload %.40s in this account", x->upload_id);
    if (rc == BE_OK)
        rc = upload_check_state(store_result_text(r, 0, 1), store_result_i64(r, 0, 2), x->meta->now,
                                store_result_i64(r, 0, 3), x->diag);
    if (rc == BE_OK) {
        snprintf(env_id, env_size, "%s", store_result_text(r, 0, 0));
        snprintf(desc, desc_size, "%s", store_result_text(r, 0, 4));
    }
    store_result_free(r);
    return rc;
}

static int next_version(struct store_conn *c, struct commit_ctx *x, const char *env_id)
{
    struct store_result *r = NULL;
    int rc = store_query(c,
                         "UPDATE envs SET version_seq = version_seq + 1, updated_at = $1"
                         " WHERE env_id = $2 RETURNING version_seq",
                         SV_ARGS(SV_I64(x->meta->now), SV_TEXT(env_id)), &r);
    if (rc == BE_OK && store_result_rows(r) != 1)
        rc = BE_ENV_NOT_FOUND;
    if (rc == BE_OK)
        x->version = store_result_i64(r, 0, 0);
    store_result_free(r);
    return rc;
}

/* upload_commit_manifest: the upload's files become x->files. The UPDATE
 * comes first so that concurrent commits of one upload serialise on its
 * row; when it changes nothing (not open), load_upload says why. */
static int set_files(struct store_conn *c, struct commit_ctx *x)
{
    int64_t changes = 0;
    const struct manifest *m = x->files;
    int rc = store_exec(c,
                        "UPDATE uploads SET manifest_hash = $1, files = $2, bytes = $3"
                        " WHERE upload_id = $4 AND owner_uin = $5 AND state = 'open'",
                        SV_ARGS(SV_TEXT(m->hash), SV_I64(m->n), SV_I64(m->bytes),
                                SV_TEXT(x->upload_id), SV_I64(x->who->owner_uin)),
                        &changes);
    if (rc == BE_OK && changes == 1)
        rc = store_exec(c, "DELETE FROM upload_files WHERE upload_id = $1",
                        SV_ARGS(SV_TEXT(x->upload_id)), NULL);
    if (rc == BE_OK && changes == 1)
        rc = insert_files(c, x->upload_id, m);
    return rc;
}

static int commit_fn(struct store_conn *c, void *arg)
{
    struct commit_ctx *x = arg;
    char env_id[ENV_ID_MAX + 1], desc[UPLOAD_DESC_MAX + 1], detail[160];
    struct env e;
    int64_t now = x->meta->now;
    int rc = x->files ? set_files(c, x) : BE_OK;
    if (rc == BE_OK)
        rc = load_upload(c, x, env_id, sizeof(env_id), desc, sizeof(desc));
    if (rc == BE_OK)
        rc = env_load(c, x->who->owner_uin, env_id, &e);
    if (rc == BE_OK && e.state != ENV_READY)
        rc = be_fail(x->diag, BE_ENV_NOT_READY, "environment %s is %s, not READY", env_id,
                     env_state_name(e.state));
    if (rc == BE_OK)
        rc = check_entry(c, x);
    if (rc == BE_OK) /* touch: see create_fn */
        rc = store_exec(c,
                        "UPDATE blobs SET last_used = $1 WHERE sha256 IN"
                        " (SELECT sha256 FROM upload_files WHERE upload_id = $2)",
                        SV_ARGS(SV_I64(now), SV_TEXT(x->upload_id)), NULL);
    if (rc == BE_OK)
        rc = check_blobs(c, x);
    if (rc == BE_OK)
        rc = next_version(c, x, env_id);
    if (rc == BE_OK)
        rc = store_exec(
            c,
            "INSERT INTO versions (env_id, version, owner_uin, upload_id, manifest_hash, files,"
            " bytes, runtime, entry, description, created_by, created_at)"
            " SELECT env_id, CAST($1 AS BIGINT), owner_uin, upload_id, manifest_hash, files,"
            " bytes, CAST($2 AS TEXT), CAST($3 AS TEXT), CAST($4 AS TEXT), CAST($5 AS BIGINT),"
            " CAST($6 AS BIGINT) FROM uploads WHERE upload_id = $7",
            SV_ARGS(SV_I64(x->version), SV_TEXT(x->runtime), SV_TEXT(x->entry),
                    SV_TEXT(x->description ? x->description : desc), SV_I64(x->who->uin),
                    SV_I64(now), SV_TEXT(x->upload_id)),
            NULL);
    if (rc == BE_OK)
        rc = store_exec(c,
                        "INSERT INTO version_files (env_id, version, path, sha256, size, mode)"
                        " SELECT CAST($1 AS TEXT), CAST($2 AS BIGINT), path, sha256, size, mode"
                        " FROM upload_files"
                        " WHERE upload_id = $3",
                        SV_ARGS(SV_TEXT(env_id), SV_I64(x->version), SV_TEXT(x->upload_id)), NULL);
    if (rc == BE_OK)
        rc = store_exec(c,
                        "UPDATE uploads SET state = 'committed', version = $1 WHERE upload_id = $2",
                        SV_ARGS(SV_I64(x->version), SV_TEXT(x->upload_id)), NULL);
    snprintf(detail, sizeof(detail), "%s version %lld from %s", env_id, (long long)x->version,
             x->upload_id);
    if (rc == BE_OK)
        rc = audit_upload(c, x->meta, x->who, "deploy:CommitUpload", detail);
    return rc;
}

int upload_commit(struct app *app, const struct req_meta *meta, const struct principal *who,
                  const char *upload_id, const char *runtime, const char *entry,
                  const char *description, int64_t *ret_version, struct be_diag *diag)
{
    struct commit_ctx x = {app, meta, who, upload_id, runtime, entry, description, NULL, 0, diag};
    int rc = store_tx(app->store, commit_fn, &x);
    if (rc == BE_OK)
        *ret_version = x.version;
    return rc;
}

int upload_commit_manifest(struct app *app, const struct req_meta *meta,
                           const struct principal *who, const char *upload_id,
                           const struct manifest *m, const char *runtime, const char *entry,
                           const char *description, int64_t *ret_version, struct be_diag *diag)
{
    struct commit_ctx x = {app, meta, who, upload_id, runtime, entry, description, m, 0, diag};
    int rc = store_tx(app->store, commit_fn, &x);
    if (rc == BE_OK)
        *ret_version = x.version;
    return rc;
}

struct env_of_ctx {
    uint64_t owner;
    const char *upload_id;
    char *out;
    size_t size;
};

static int env_of_fn(struct store_conn *c, void *arg)
{
    struct env_of_ctx *x = arg;
    struct store_result *r = NULL;
    int rc = store_query(c, "SELECT env_id FROM uploads WHERE upload_id = $1 AND owner_uin = $2",
                         SV_ARGS(SV_TEXT(x->upload_id), SV_I64(x->owner)), &r);
    if (rc == BE_OK && store_result_rows(r) == 0)
        rc = BE_UPLOAD_NOT_FOUND;
    if (rc == BE_OK)
        snprintf(x->out, x->size, "%s", store_result_text(r, 0, 0));
    store_result_free(r);
    return rc;
}

int upload_env_of(struct app *app, uint64_t owner_uin, const char *upload_id, char *env_id,
                  size_t env_id_size)
{
    struct env_of_ctx x = {owner_uin, upload_id, env_id, env_id_size};
    return store_run(app->store, env_of_fn, &x);
}
