/* Manifest validation, the content-addressed blob store and archive
 * unpacking (devenv/manifest.h, devenv/blobstore.h, devenv/unpack.h). */
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "core/crypto.h"
#include "core/timeutil.h"
#include "devenv/blobstore.h"
#include "devenv/gc.h"
#include "devenv/manifest.h"
#include "devenv/release_source.h"
#include "devenv/unpack.h"
#include "testutil.h"

static const struct manifest_limits lim = {100, 1000, 2500};

static json_t *entry(const char *path, size_t path_len, const char *sha, json_int_t size)
{
    return json_pack("{s:s%,s:s,s:I,s:i}", "Path", path, path_len, "Sha256", sha, "Size", size,
                     "Mode", 0644);
}

#define SHA_X "2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881"

/* Validates a one-entry manifest; returns the error (0 when accepted). */
static int one(const char *path, size_t len, const char *sha, json_int_t size, char *msg)
{
    json_t *a = json_array();
    json_array_append_new(a, entry(path, len, sha, size));
    struct manifest m;
    struct be_diag d = {""};
    int rc = manifest_from_json(a, &lim, &m, &d);
    if (rc == BE_OK)
        manifest_release(&m);
    if (msg)
        snprintf(msg, 512, "%s", d.msg);
    json_decref(a);
    return rc;
}

#define P(s) s, sizeof(s) - 1

static void test_paths(void **state)
{
    (void)state;
    char msg[512];
    assert_int_equal(one(P("app.js"), SHA_X, 1, NULL), BE_OK);
    assert_int_equal(one(P("a/b/c.js"), SHA_X, 1, NULL), BE_OK);
    assert_int_equal(one(P("目录/文件.js"), SHA_X, 1, NULL), BE_OK);
    assert_int_equal(one(P(".env"), SHA_X, 1, NULL), BE_OK);
    assert_int_equal(one(P("../x"), SHA_X, 1, msg), BE_MANIFEST_INVALID);
    assert_non_null(strstr(msg, "Files[0]"));
    assert_int_equal(one(P("a/../x"), SHA_X, 1, NULL), BE_MANIFEST_INVALID);
    assert_int_equal(one(P("a/./x"), SHA_X, 1, NULL), BE_MANIFEST_INVALID);
    assert_int_equal(one(P("a/.."), SHA_X, 1, NULL), BE_MANIFEST_INVALID);
    assert_int_equal(one(P("/etc/passwd"), SHA_X, 1, msg), BE_MANIFEST_INVALID);
    assert_non_null(strstr(msg, "absolute"));
    assert_int_equal(one(P("a\0b"), SHA_X, 1, msg), BE_MANIFEST_INVALID);
    assert_non_null(strstr(msg, "NUL"));
    assert_int_equal(one(P("a\x01"), SHA_X, 1, NULL), BE_MANIFEST_INVALID);
    assert_int_equal(one(P("a\x7f"), SHA_X, 1, NULL), BE_MANIFEST_INVALID);
    assert_int_equal(one(P("a\\b"), SHA_X, 1, NULL), BE_MANIFEST_INVALID);
    assert_int_equal(one(P("a//b"), SHA_X, 1, NULL), BE_MANIFEST_INVALID);
    assert_int_equal(one(P("a/"), SHA_X, 1, NULL), BE_MANIFEST_INVALID);
    assert_int_equal(one(P(""), SHA_X, 1, NULL), BE_MANIFEST_INVALID);
    char longp[MANIFEST_PATH_MAX + 2];
    memset(longp, 'a', sizeof(longp));
    for (size_t i = 100; i < MANIFEST_PATH_MAX; i += 100)
        longp[i] = '/';
    assert_int_equal(one(longp, MANIFEST_PATH_MAX, SHA_X, 1, NULL), BE_OK);
    assert_int_equal(one(longp, MANIFEST_PATH_MAX + 1, SHA_X, 1, NULL), BE_MANIFEST_INVALID);
    char comp[MANIFEST_COMPONENT_MAX + 2];
    memset(comp, 'c', sizeof(comp));
    assert_int_equal(one(comp, MANIFEST_COMPONENT_MAX, SHA_X, 1, NULL), BE_OK);
    assert_int_equal(one(comp, MANIFEST_COMPONENT_MAX + 1, SHA_X, 1, NULL), BE_MANIFEST_INVALID);
}

static void test_fields_and_limits(void **state)
{
    (void)state;
    assert_int_equal(one(P("a"), "zz", 1, NULL), BE_MANIFEST_INVALID);
    assert_int_equal(one(P("a"), SHA_X "0", 1, NULL), BE_MANIFEST_INVALID);
    assert_int_equal(one(P("a"), SHA_X, -1, NULL), BE_MANIFEST_INVALID);
    assert_int_equal(one(P("a"), SHA_X, 1000, NULL), BE_OK);
    assert_int_equal(one(P("a"), SHA_X, 1001, NULL), BE_MANIFEST_LIMIT);

    struct manifest m;
    json_t *a = json_array();
    for (int i = 0; i < 3; i++) {
        char p[16];
        snprintf(p, sizeof(p), "f%d", i);
        json_array_append_new(a, entry(p, strlen(p), SHA_X, 900));
    }
    assert_int_equal(manifest_from_json(a, &lim, &m, NULL), BE_MANIFEST_LIMIT); /* 2700 > 2500 */
    json_decref(a);

    a = json_array();
    for (int i = 0; i < 101; i++) {
        char p[16];
        snprintf(p, sizeof(p), "f%d", i);
        json_array_append_new(a, entry(p, strlen(p), SHA_X, 1));
    }
    assert_int_equal(manifest_from_json(a, &lim, &m, NULL), BE_MANIFEST_LIMIT);
    json_decref(a);

    /* modes: symlink, device, directory, set-id refused; regular bits accepted */
    const json_int_t bad[] = {0120777, 0020644, 0040755, 04755, 02755, 0200000};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        a = json_pack("[{s:s,s:s,s:i,s:I}]", "Path", "x", "Sha256", SHA_X, "Size", 1, "Mode",
                      bad[i]);
        assert_int_equal(manifest_from_json(a, &lim, &m, NULL), BE_MANIFEST_INVALID);
        json_decref(a);
    }
    a = json_pack("[{s:s,s:s,s:i,s:I}]", "Path", "x", "Sha256", SHA_X, "Size", 1, "Mode",
                  (json_int_t)0100755);
    assert_int_equal(manifest_from_json(a, &lim, &m, NULL), BE_OK);
    assert_int_equal(m.files[0].mode, 0755);
    manifest_release(&m);
    json_decref(a);
    a = json_pack("[{s:s,s:s,s:i,s:i}]", "Path", "x", "Sha256", SHA_X, "Size", 1, "Other", 1);
    assert_int_equal(manifest_from_json(a, &lim, &m, NULL), BE_MANIFEST_INVALID);
    json_decref(a);
}

static void test_duplicates_and_hash(void **state)
{
    (void)state;
    struct manifest m1, m2, m3;
    struct be_diag d = {""};
    json_t *dup = json_pack("[{s:s,s:s,s:i},{s:s,s:s,s:i}]", "Path", "x", "Sha256", SHA_X, "Size",
                            1, "Path", "x", "Sha256", SHA_X, "Size", 1);
    assert_int_equal(manifest_from_json(dup, &lim, &m1, &d), BE_MANIFEST_INVALID);
    assert_non_null(strstr(d.msg, "twice"));
    json_decref(dup);
    json_t *dirfile = json_pack("[{s:s,s:s,s:i},{s:s,s:s,s:i},{s:s,s:s,s:i}]", "Path", "a/b",
                                "Sha256", SHA_X, "Size", 1, "Path", "a-b", "Sha256", SHA_X, "Size",
                                1, "Path", "a", "Sha256", SHA_X, "Size", 1);
    assert_int_equal(manifest_from_json(dirfile, &lim, &m1, &d), BE_MANIFEST_INVALID);
    assert_non_null(strstr(d.msg, "both a file and the directory"));
    json_decref(dirfile);

    /* the canonical hash does not depend on order, and changes with content */
    json_t *a = json_pack("[{s:s,s:s,s:i},{s:s,s:s,s:i}]", "Path", "b", "Sha256", SHA_X, "Size", 1,
                          "Path", "a", "Sha256", SHA_X, "Size", 2);
    json_t *b = json_pack("[{s:s,s:s,s:i},{s:s,s:s,s:i}]", "Path", "a", "Sha256", SHA_X, "Size", 2,
                          "Path", "b", "Sha256", SHA_X, "Size", 1);
    json_t *c = json_pack("[{s:s,s:s,s:i},{s:s,s:s,s:i}]", "Path", "a", "Sha256", SHA_X, "Size", 3,
                          "Path", "b", "Sha256", SHA_X, "Size", 1);
    assert_int_equal(manifest_from_json(a, &lim, &m1, NULL), BE_OK);
    assert_int_equal(manifest_from_json(b, &lim, &m2, NULL), BE_OK);
    assert_int_equal(manifest_from_json(c, &lim, &m3, NULL), BE_OK);
    assert_string_equal(m1.hash, m2.hash);
    assert_string_not_equal(m1.hash, m3.hash);
    assert_string_equal(m1.files[0].path, "a");
    assert_non_null(manifest_find(&m1, "b"));
    assert_null(manifest_find(&m1, "c"));
    assert_int_equal(m1.bytes, 3);
    manifest_release(&m1);
    manifest_release(&m2);
    manifest_release(&m3);
    json_decref(a);
    json_decref(b);
    json_decref(c);
}

/* --- blob store ---------------------------------------------------------------- */

static int setup(void **state)
{
    struct test_app *t = xcalloc(1, sizeof(*t));
    if (test_app_open(t)) {
        free(t);
        return -1;
    }
    *state = t;
    return 0;
}

static int teardown(void **state)
{
    struct test_app *t = *state;
    test_app_close(t);
    free(t);
    return 0;
}

static void hex_of(const char *data, size_t len, char out[65])
{
    crypto_sha256_hex(data, len, out);
}

/* Files in the blob's directory other than the blob: leftovers. */
static size_t temp_files(const struct app *app, const char *hex)
{
    struct buf p = BUF_INIT;
    blobstore_path(app, hex, &p);
    *strrchr(p.data, '/') = '\0';
    DIR *d = opendir(p.data);
    size_t n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (!strncmp(e->d_name, ".tmp-", 5))
            n++;
    if (d)
        closedir(d);
    buf_release(&p);
    return n;
}

static void test_blob_roundtrip(void **state)
{
    struct test_app *t = *state;
    const char *data = "hello, blob";
    char hex[65];
    hex_of(data, strlen(data), hex);
    struct blob_writer *w;
    assert_int_equal(blob_writer_open(&t->app, hex, strlen(data), &w, NULL), BE_OK);
    assert_int_equal(blob_writer_write(w, data, 5, NULL), BE_OK);
    /* a partial write is never visible under the blob's name */
    assert_false(blobstore_has(&t->app, hex, strlen(data)));
    assert_int_equal(blob_writer_write(w, data + 5, strlen(data) - 5, NULL), BE_OK);
    assert_false(blobstore_has(&t->app, hex, strlen(data)));
    assert_int_equal(blob_writer_commit(w, NULL), BE_OK);
    assert_true(blobstore_has(&t->app, hex, strlen(data)));
    assert_false(blobstore_has(&t->app, hex, strlen(data) + 1));
    struct buf p = BUF_INIT;
    assert_int_equal(blobstore_path(&t->app, hex, &p), BE_OK);
    char want[256];
    snprintf(want, sizeof(want), "%s/objects/sha256/%.2s/%.2s/%s", t->dir, hex, hex + 2, hex);
    assert_string_equal(p.data, want);
    struct stat st;
    assert_int_equal(stat(p.data, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0444);
    buf_release(&p);
    assert_int_equal(temp_files(&t->app, hex), 0);
    assert_int_equal(blobstore_remove(&t->app, hex), BE_OK);
    assert_false(blobstore_has(&t->app, hex, strlen(data)));
    assert_int_equal(blobstore_remove(&t->app, hex), BE_OK);
    assert_int_equal(blobstore_path(&t->app, "ABC", &p), BE_INVALID_PARAMETER_VALUE);
    buf_release(&p);
}

static void test_blob_mismatch(void **state)
{
    struct test_app *t = *state;
    const char *data = "the right bytes";
    char hex[65];
    hex_of(data, strlen(data), hex);
    struct blob_writer *w;
    struct be_diag d = {""};
    /* same length, other bytes */
    assert_int_equal(blob_writer_open(&t->app, hex, strlen(data), &w, NULL), BE_OK);
    assert_int_equal(blob_writer_write(w, "the wrong bytes", 15, NULL), BE_OK);
    assert_int_equal(blob_writer_commit(w, &d), BE_DIGEST_MISMATCH);
    assert_non_null(strstr(d.msg, "SHA-256"));
    assert_false(blobstore_has(&t->app, hex, strlen(data)));
    /* too long: refused at the write */
    assert_int_equal(blob_writer_open(&t->app, hex, strlen(data), &w, NULL), BE_OK);
    assert_int_equal(blob_writer_write(w, data, strlen(data), NULL), BE_OK);
    assert_int_equal(blob_writer_write(w, "x", 1, NULL), BE_DIGEST_MISMATCH);
    blob_writer_abort(w);
    /* too short */
    assert_int_equal(blob_writer_open(&t->app, hex, strlen(data), &w, NULL), BE_OK);
    assert_int_equal(blob_writer_write(w, data, 3, NULL), BE_OK);
    assert_int_equal(blob_writer_commit(w, NULL), BE_DIGEST_MISMATCH);
    assert_false(blobstore_has(&t->app, hex, strlen(data)));
    assert_int_equal(temp_files(&t->app, hex), 0);
}

struct racer {
    const struct app *app;
    const char *hex, *data;
    size_t len;
    int rc;
};

static void *race(void *arg)
{
    struct racer *r = arg;
    struct blob_writer *w;
    r->rc = blob_writer_open(r->app, r->hex, r->len, &w, NULL);
    for (size_t off = 0; r->rc == BE_OK && off < r->len; off += 4096)
        r->rc =
            blob_writer_write(w, r->data + off, r->len - off < 4096 ? r->len - off : 4096, NULL);
    if (r->rc == BE_OK)
        r->rc = blob_writer_commit(w, NULL);
    return NULL;
}

static void test_blob_concurrent_writers(void **state)
{
    struct test_app *t = *state;
    size_t len = 1 << 20;
    char *data = xmalloc(len);
    for (size_t i = 0; i < len; i++)
        data[i] = (char)(i * 31 + 7);
    char hex[65];
    hex_of(data, len, hex);
    enum { N = 8 };
    pthread_t th[N];
    struct racer r[N];
    for (int i = 0; i < N; i++) {
        r[i] = (struct racer){&t->app, hex, data, len, -1};
        assert_int_equal(pthread_create(&th[i], NULL, race, &r[i]), 0);
    }
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(r[i].rc, BE_OK);
    }
    assert_true(blobstore_has(&t->app, hex, len));
    assert_int_equal(temp_files(&t->app, hex), 0);
    /* the published bytes are the right ones */
    struct buf p = BUF_INIT;
    blobstore_path(&t->app, hex, &p);
    FILE *f = fopen(p.data, "rb");
    assert_non_null(f);
    char *back = xmalloc(len);
    assert_int_equal(fread(back, 1, len, f), len);
    fclose(f);
    assert_memory_equal(back, data, len);
    free(back);
    free(data);
    buf_release(&p);
}

static void test_gc_empty(void **state)
{
    struct test_app *t = *state;
    struct gc_stats st;
    assert_int_equal(gc_round(&t->app, 1000, &st), BE_OK);
    assert_int_equal(st.uploads, 0);
    assert_int_equal(st.blobs, 0);
}

/* Stores data as a blob; its hex in out. */
static void put_blob(struct app *app, const char *data, char out[65])
{
    struct blob_writer *w;
    hex_of(data, strlen(data), out);
    assert_int_equal(blob_writer_open(app, out, strlen(data), &w, NULL), BE_OK);
    assert_int_equal(blob_writer_write(w, data, strlen(data), NULL), BE_OK);
    assert_int_equal(blob_writer_commit(w, NULL), BE_OK);
}

/* Runs the ';'-separated statements of arg (no ';' inside them). */
static int exec_sql(struct store_conn *c, void *arg)
{
    char *copy = xstrdup(arg), *save = NULL;
    int rc = BE_OK;
    for (char *stmt = strtok_r(copy, ";", &save); stmt && rc == BE_OK;
         stmt = strtok_r(NULL, ";", &save))
        rc = store_exec(c, stmt, NULL, 0, NULL);
    free(copy);
    return rc;
}

static void read_file(const char *path, char *out, size_t size)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    size_t n = fread(out, 1, size - 1, f);
    out[n] = '\0';
    fclose(f);
}

/* The deploy engine's view of a committed version: the release names the
 * env's app and owner, its tree has the version's files with their modes
 * (read-only), and another account's or an unknown env is not found. */
static void test_release_source(void **state)
{
    struct test_app *t = *state;
    char app_js[65], lib_js[65], sql[2048];
    put_blob(&t->app, "console.log('v1')\n", app_js);
    put_blob(&t->app, "#!/bin/sh\necho lib\n", lib_js);
    snprintf(sql, sizeof(sql),
             "INSERT INTO envs (env_id, owner_uin, appid, name, state, client_token, created_at,"
             " updated_at, version_seq) VALUES ('dev-abc123', 100000000001, 'wxa1', 'dev', "
             "'READY', 't', 1, 1,"
             " 1);"
             "INSERT INTO versions (env_id, version, owner_uin, upload_id, manifest_hash, files,"
             " bytes, runtime, entry, created_at) VALUES ('dev-abc123', 1, 100000000001, 'u1',"
             " '%s', 2, 37, 'nodejs', 'app.js', 1);"
             "INSERT INTO version_files VALUES ('dev-abc123', 1, 'app.js', '%s', 18, 420),"
             " ('dev-abc123', 1, 'bin/lib.sh', '%s', 19, 493);",
             app_js /* any 64 hex digits name the manifest here */, app_js, lib_js);
    assert_int_equal(store_tx(t->app.store, exec_sql, sql), BE_OK);

    struct buf trees = BUF_INIT;
    buf_addf(&trees, "%s/deploy/trees", t->dir);
    struct deploy_source src = devenv_release_source(&t->app, trees.data);
    uint64_t owner = 0;
    assert_int_equal(src.env_owner(src.ctx, "dev-abc123", &owner), BE_OK);
    assert_int_equal(owner, 100000000001ull);
    assert_int_equal(src.env_owner(src.ctx, "dev-nope00", &owner), BE_ENV_NOT_FOUND);

    struct deploy_release rel;
    struct be_diag diag = {0};
    assert_int_equal(src.release_get(src.ctx, "dev-abc123", 2, &rel, &diag), BE_VERSION_NOT_FOUND);
    int rc = src.release_get(src.ctx, "dev-abc123", 0, &rel, &diag);
    if (rc)
        print_error("release_get: %s: %s\n", be_err_code(rc), diag.msg);
    assert_int_equal(rc, BE_OK);
    assert_string_equal(rel.app_id, "wxa1");
    assert_int_equal(rel.version, 1);
    assert_int_equal(rel.runtime, DEPLOY_RT_NODEJS);
    assert_string_equal(rel.entry, "app.js");
    assert_true(rel.has_file(&rel, "app.js"));
    assert_true(rel.has_file(&rel, "bin/lib.sh"));
    assert_false(rel.has_file(&rel, "missing.js"));
    assert_false(rel.has_file(&rel, "../app.js"));

    struct buf out = BUF_INIT, f = BUF_INIT;
    buf_addf(&out, "%s/release-out", t->dir);
    assert_int_equal(mkdir(out.data, 0755), 0);
    assert_int_equal(rel.materialize(&rel, out.data, &diag), BE_OK);
    char text[128];
    buf_addf(&f, "%s/bin/lib.sh", out.data);
    read_file(f.data, text, sizeof(text));
    assert_string_equal(text, "#!/bin/sh\necho lib\n");
    struct stat st;
    assert_int_equal(stat(f.data, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0555);
    buf_reset(&f);
    buf_addf(&f, "%s/app.js", out.data);
    assert_int_equal(stat(f.data, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0444);

    /* a second release of the same manifest reuses the staged tree */
    struct deploy_release again;
    assert_int_equal(src.release_get(src.ctx, "dev-abc123", 1, &again, &diag), BE_OK);
    assert_string_equal(again.where, rel.where);
    deploy_release_clear(&again);
    deploy_release_clear(&rel);
    devenv_release_source_free(&src);
    buf_release(&out);
    buf_release(&f);
    buf_release(&trees);
}

struct count_ctx {
    const char *sql;
    int64_t n;
};

static int count_fn(struct store_conn *c, void *arg)
{
    struct count_ctx *x = arg;
    struct store_result *r = NULL;
    int rc = store_query(c, x->sql, NULL, 0, &r);
    if (rc == BE_OK)
        x->n = store_result_i64(r, 0, 0);
    store_result_free(r);
    return rc;
}

static int64_t count_rows(struct test_app *t, const char *sql)
{
    struct count_ctx x = {sql, -1};
    assert_int_equal(store_run(t->app.store, count_fn, &x), BE_OK);
    return x.n;
}

/* Retention: the newest deploy.keep_versions versions stay, and so do the
 * live and previous ones and any a running deploy names; the rest go with
 * their file lists. */
static void test_version_retention(void **state)
{
    struct test_app *t = *state;
    t->cfg->deploy_keep_versions = 2;
    char sql[512];
    for (int v = 1; v <= 6; v++) {
        snprintf(sql, sizeof(sql),
                 "INSERT INTO versions (env_id, version, owner_uin, upload_id, manifest_hash,"
                 " files, bytes, runtime, entry, created_at) VALUES ('dev-ret001', %d, 1, 'u',"
                 " 'h', 1, 1, 'nodejs', 'app.js', 1);"
                 "INSERT INTO version_files VALUES ('dev-ret001', %d, 'app.js', 'h', 1, 420)",
                 v, v);
        assert_int_equal(store_tx(t->app.store, exec_sql, sql), BE_OK);
    }
    assert_int_equal(
        store_tx(t->app.store, exec_sql,
                 "INSERT INTO env_runtime (env_id, owner_uin, live_version_n, prev_version_n,"
                 " updated_at) VALUES ('dev-ret001', 1, 2, 1, 1);"
                 "INSERT INTO deploys (id, owner_uin, env_id, kind, from_version_n, to_version_n,"
                 " state, created_at) VALUES ('dep-1', 1, 'dev-ret001', 'deploy', 2, 3, 'RUNNING',"
                 " 1)"),
        BE_OK);
    struct gc_stats st;
    assert_int_equal(gc_round(&t->app, time_now(), &st), BE_OK);
    /* 5 and 6 are the newest two, 2 live, 1 previous, 3 being deployed: 4 goes */
    assert_int_equal(st.versions, 1);
    assert_int_equal(count_rows(t, "SELECT COUNT(*) FROM versions WHERE version = 4"), 0);
    assert_int_equal(count_rows(t, "SELECT COUNT(*) FROM version_files WHERE version = 4"), 0);
    assert_int_equal(count_rows(t, "SELECT COUNT(*) FROM versions"), 5);
    /* the deploy ends: 3 is no longer protected */
    assert_int_equal(store_tx(t->app.store, exec_sql,
                              "UPDATE deploys SET state = 'SUCCEEDED' WHERE id = 'dep-1'"),
                     BE_OK);
    assert_int_equal(gc_round(&t->app, time_now(), &st), BE_OK);
    assert_int_equal(st.versions, 1);
    assert_int_equal(count_rows(t, "SELECT COUNT(*) FROM versions"), 4);
    assert_int_equal(gc_round(&t->app, time_now(), &st), BE_OK);
    assert_int_equal(st.versions, 0);
}

/* --- archive unpacking (devenv/unpack.h) ----------------------------------------- */

/* One archive entry for make_archive: type AE_IFREG/AE_IFDIR/AE_IFLNK/...;
 * link is a symlink target, or with hard set a hard link target. */
struct ent {
    const char *path;
    unsigned type, perm;
    const char *data;
    size_t len; /* of data; with data NULL, that many zero bytes */
    const char *link;
    bool hard;
};

enum fmt { ZIP, TAR, TGZ };

/* Writes entries to file with libarchive's writer. */
static void make_archive(const char *file, enum fmt f, const struct ent *e, size_t n)
{
    struct archive *a = archive_write_new();
    if (f == ZIP)
        assert_int_equal(archive_write_set_format_zip(a), ARCHIVE_OK);
    else
        assert_int_equal(archive_write_set_format_pax_restricted(a), ARCHIVE_OK);
    if (f == TGZ)
        assert_int_equal(archive_write_add_filter_gzip(a), ARCHIVE_OK);
    assert_int_equal(archive_write_open_filename(a, file), ARCHIVE_OK);
    char *zeros = xcalloc(1, 65536);
    for (size_t i = 0; i < n; i++) {
        struct archive_entry *ae = archive_entry_new();
        archive_entry_set_pathname(ae, e[i].path);
        archive_entry_set_filetype(ae, e[i].type);
        archive_entry_set_perm(ae, e[i].perm);
        if (e[i].link && e[i].hard)
            archive_entry_set_hardlink(ae, e[i].link);
        else if (e[i].link)
            archive_entry_set_symlink(ae, e[i].link);
        if (e[i].type == AE_IFCHR)
            archive_entry_set_rdev(ae, 0x0101);
        size_t len = e[i].type == AE_IFREG && !e[i].hard ? e[i].len : 0;
        archive_entry_set_size(ae, (la_int64_t)len);
        int r = archive_write_header(a, ae); /* WARN: a name kept as raw bytes */
        if (r != ARCHIVE_OK && r != ARCHIVE_WARN)
            fail_msg("%s: %s", e[i].path, archive_error_string(a));
        for (size_t off = 0; off < len;) {
            size_t k = len - off < 65536 ? len - off : 65536;
            assert_int_equal(archive_write_data(a, e[i].data ? e[i].data + off : zeros, k),
                             (la_ssize_t)k);
            off += k;
        }
        archive_entry_free(ae);
    }
    free(zeros);
    assert_int_equal(archive_write_close(a), ARCHIVE_OK);
    archive_write_free(a);
}

#define FILE_(p, d)                                                                                \
    {                                                                                              \
        p, AE_IFREG, 0644, d, sizeof(d) - 1, NULL, false                                           \
    }
#define DIR_(p)                                                                                    \
    {                                                                                              \
        p, AE_IFDIR, 0755, NULL, 0, NULL, false                                                    \
    }

/* Unpacks e as format f against lim: the error (0 when accepted), its
 * message into msg, the manifest into *ret (released by the caller when
 * accepted; ret may be NULL). */
static int unpack_ents(struct test_app *t, enum fmt f, const struct ent *e, size_t n,
                       const struct manifest_limits *l, char msg[512], struct unpack *ret)
{
    char file[128];
    snprintf(file, sizeof(file), "%s/test.archive", t->dir);
    make_archive(file, f, e, n);
    struct unpack u;
    struct be_diag d = {""};
    unpack_init(&u);
    int rc = unpack_archive(&t->app, file, l, &u, &d);
    snprintf(msg, 512, "%s", d.msg);
    if (rc == BE_OK)
        assert_int_equal(u.nblobs, u.manifest.n);
    if (ret)
        *ret = u;
    else
        unpack_release(&u);
    return rc;
}

static void test_unpack_good(void **state)
{
    struct test_app *t = *state;
    char msg[512], hex[65];
    for (enum fmt f = ZIP; f <= TGZ; f++) {
        struct ent e[] = {
            DIR_("./"),
            DIR_("./lib/"),
            {"./app.js", AE_IFREG, 0700, "console.log(1)\n", 15, NULL, false},
            FILE_("./lib/a.js", "same"),
            FILE_("lib/b.js", "same"),
            FILE_("目录/文件.txt", "utf-8 name"),
            FILE_("empty", ""),
        };
        struct unpack u;
        assert_int_equal(unpack_ents(t, f, e, 7, &lim, msg, &u), BE_OK);
        struct manifest *m = &u.manifest;
        assert_int_equal(m->n, 5);
        assert_string_equal(m->files[0].path, "app.js");
        assert_int_equal(m->files[0].mode, 0755);
        assert_int_equal(m->files[0].size, 15);
        hex_of("console.log(1)\n", 15, hex);
        assert_string_equal(m->files[0].sha256, hex);
        assert_true(blobstore_has(&t->app, hex, 15));
        assert_string_equal(m->files[1].path, "empty");
        assert_int_equal(m->files[1].size, 0);
        assert_string_equal(m->files[2].path, "lib/a.js");
        assert_int_equal(m->files[2].mode, 0644);
        assert_string_equal(m->files[2].sha256, m->files[3].sha256);
        assert_string_equal(m->files[4].path, "目录/文件.txt");
        assert_int_equal(m->bytes, 15 + 4 + 4 + 10);
        unpack_release(&u);
    }
    /* no temporary file left behind */
    char tmp[128];
    snprintf(tmp, sizeof(tmp), "%s/objects/tmp", t->dir);
    DIR *d = opendir(tmp);
    assert_non_null(d);
    struct dirent *de;
    size_t left = 0;
    while ((de = readdir(d)))
        left += de->d_name[0] != '.' || !strncmp(de->d_name, ".tmp-", 5);
    closedir(d);
    assert_int_equal(left, 0);
}

/* One hostile case: its format, entries, the error and a word of its
 * message. */
struct hostile {
    enum fmt f;
    struct ent e[4];
    size_t n;
    int err;
    const char *says;
};

static void test_unpack_hostile(void **state)
{
    struct test_app *t = *state;
    char msg[512];
    static const struct hostile cases[] = {
        {ZIP, {FILE_("../evil", "x")}, 1, BE_ARCHIVE_INVALID, "'..'"},
        {TAR, {FILE_("a/../../evil", "x")}, 1, BE_ARCHIVE_INVALID, "'..'"},
        {ZIP, {FILE_("/etc/passwd", "x")}, 1, BE_ARCHIVE_INVALID, "absolute"},
        {TAR, {FILE_("/abs", "x")}, 1, BE_ARCHIVE_INVALID, "absolute"},
        {ZIP, {FILE_("a\x01z", "x")}, 1, BE_ARCHIVE_INVALID, "control"},
        {TAR, {FILE_("a\\b", "x")}, 1, BE_ARCHIVE_INVALID, "backslash"},
        {TAR, {FILE_("caf\xe9", "x")}, 1, BE_ARCHIVE_INVALID, "UTF-8"},
        {ZIP,
         {{"link", AE_IFLNK, 0777, NULL, 0, "/etc/passwd", false}},
         1,
         BE_ARCHIVE_INVALID,
         "symbolic link"},
        {TAR,
         {{"link", AE_IFLNK, 0777, NULL, 0, "../../x", false}},
         1,
         BE_ARCHIVE_INVALID,
         "symbolic link"},
        {TAR,
         {FILE_("a", "x"), {"b", AE_IFREG, 0644, NULL, 0, "a", true}},
         2,
         BE_ARCHIVE_INVALID,
         "hard link"},
        {TAR,
         {{"dev", AE_IFCHR, 0644, NULL, 0, NULL, false}},
         1,
         BE_ARCHIVE_INVALID,
         "character device"},
        {TAR, {{"fifo", AE_IFIFO, 0644, NULL, 0, NULL, false}}, 1, BE_ARCHIVE_INVALID, "FIFO"},
        {ZIP, {FILE_("x", "1"), FILE_("x", "2")}, 2, BE_ARCHIVE_INVALID, "twice"},
        {TAR, {FILE_("a", "1"), FILE_("a/b", "2")}, 2, BE_ARCHIVE_INVALID, "both a file"},
        {TAR, {FILE_("a", "1"), DIR_("a/")}, 2, BE_ARCHIVE_INVALID, "both a file"},
        {TAR, {FILE_("a", "1"), DIR_("a/b/")}, 2, BE_ARCHIVE_INVALID, "both a file"},
        {ZIP, {DIR_("only/")}, 1, BE_ARCHIVE_INVALID, "no file"},
        /* a file that expands past the per-file limit (1000) */
        {ZIP,
         {{"big", AE_IFREG, 0644, NULL, 1001, NULL, false}},
         1,
         BE_ARCHIVE_LIMIT,
         "max_blob_bytes"},
        {TGZ,
         {{"big", AE_IFREG, 0644, NULL, 5000, NULL, false}},
         1,
         BE_ARCHIVE_LIMIT,
         "max_blob_bytes"},
        /* files that add up past the total (2500) */
        {ZIP,
         {{"a", AE_IFREG, 0644, NULL, 900, NULL, false},
          {"b", AE_IFREG, 0644, NULL, 900, NULL, false},
          {"c", AE_IFREG, 0644, NULL, 900, NULL, false}},
         3,
         BE_ARCHIVE_LIMIT,
         "max_version_bytes"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int rc = unpack_ents(t, cases[i].f, cases[i].e, cases[i].n, &lim, msg, NULL);
        if (rc != cases[i].err || !strstr(msg, cases[i].says))
            fail_msg("case %zu: %d (%s), want %d with \"%s\"", i, rc, msg, cases[i].err,
                     cases[i].says);
    }
}

static void test_unpack_limits_and_garbage(void **state)
{
    struct test_app *t = *state;
    char msg[512];
    /* more files than max_files (3 here), counted as they come */
    const struct manifest_limits three = {3, 1000, 2500};
    struct ent four[] = {FILE_("a", "1"), FILE_("b", "2"), FILE_("c", "3"), FILE_("d", "4")};
    assert_int_equal(unpack_ents(t, TAR, four, 4, &three, msg, NULL), BE_ARCHIVE_LIMIT);
    assert_non_null(strstr(msg, "more than 3 files"));
    assert_int_equal(unpack_ents(t, TAR, four, 3, &three, msg, NULL), BE_OK);
    /* directories count too, up to twice max_files entries */
    struct ent dirs[] = {DIR_("d1/"), DIR_("d2/"), DIR_("d3/"), DIR_("d4/")};
    const struct manifest_limits one = {1, 1000, 2500};
    assert_int_equal(unpack_ents(t, TAR, dirs, 4, &one, msg, NULL), BE_ARCHIVE_LIMIT);
    assert_non_null(strstr(msg, "entries"));
    /* a zip's central directory is bounded before libarchive reads it */
    assert_int_equal(unpack_ents(t, ZIP, four, 4, &one, msg, NULL), BE_ARCHIVE_LIMIT);
    assert_non_null(strstr(msg, "more than 2 entries"));
    /* a compression bomb: 64 MiB of zeros is a few KiB of zip; reading stops
     * at the limit */
    struct ent bomb[] = {{"bomb", AE_IFREG, 0644, NULL, 64u << 20, NULL, false}};
    char file[128];
    snprintf(file, sizeof(file), "%s/test.archive", t->dir);
    make_archive(file, ZIP, bomb, 1);
    struct stat st;
    assert_int_equal(stat(file, &st), 0);
    assert_true(st.st_size < 1 << 20);
    const struct manifest_limits big = {10, 100u << 20, 1u << 20};
    struct unpack u;
    struct be_diag d = {""};
    unpack_init(&u);
    assert_int_equal(unpack_archive(&t->app, file, &big, &u, &d), BE_ARCHIVE_LIMIT);
    assert_non_null(strstr(d.msg, "max_version_bytes"));
    assert_int_equal(u.nblobs, 0);
    unpack_release(&u);
    /* not an archive at all, and a truncated one */
    FILE *fp = fopen(file, "w");
    assert_non_null(fp);
    fputs("this is not an archive, just some text that goes on for a while\n", fp);
    fclose(fp);
    unpack_init(&u);
    assert_int_equal(unpack_archive(&t->app, file, &lim, &u, &d), BE_ARCHIVE_INVALID);
    assert_non_null(strstr(d.msg, "not a zip, tar or tar.gz"));
    unpack_release(&u);
    struct ent good[] = {{"a", AE_IFREG, 0644, NULL, 900, NULL, false}};
    make_archive(file, TGZ, good, 1);
    assert_int_equal(stat(file, &st), 0);
    assert_int_equal(truncate(file, st.st_size / 2), 0);
    unpack_init(&u);
    assert_int_not_equal(unpack_archive(&t->app, file, &lim, &u, &d), BE_OK);
    unpack_release(&u);
    /* the blobs of a failed unpacking are listed (for the GC to find) */
    struct ent dup[] = {FILE_("x", "first"), FILE_("y", "second"), FILE_("x", "third")};
    make_archive(file, ZIP, dup, 3);
    unpack_init(&u);
    assert_int_equal(unpack_archive(&t->app, file, &lim, &u, &d), BE_ARCHIVE_INVALID);
    assert_int_equal(u.nblobs, 3);
    assert_int_equal(u.manifest.n, 0);
    unpack_release(&u);
}

/* The unnamed blob writer: named at commit by its bytes; an existing blob
 * is kept; more than the ceiling is refused. */
static void test_blob_unnamed(void **state)
{
    struct test_app *t = *state;
    char hex[65], want[65];
    struct blob_writer *w;
    hex_of("abc", 3, want);
    assert_int_equal(blob_writer_open_unnamed(&t->app, 3, &w, NULL), BE_OK);
    assert_int_equal(blob_writer_write(w, "abc", 3, NULL), BE_OK);
    assert_int_equal(blob_writer_write(w, "d", 1, NULL), BE_DIGEST_MISMATCH);
    assert_int_equal(blob_writer_commit_unnamed(w, hex, NULL), BE_OK);
    assert_string_equal(hex, want);
    assert_true(blobstore_has(&t->app, want, 3));
    assert_int_equal(blob_writer_open_unnamed(&t->app, 10, &w, NULL), BE_OK);
    assert_int_equal(blob_writer_write(w, "abc", 3, NULL), BE_OK);
    assert_int_equal(blob_writer_commit_unnamed(w, hex, NULL), BE_OK);
    assert_string_equal(hex, want);
    assert_int_equal(blob_writer_open_unnamed(&t->app, 10, &w, NULL), BE_OK);
    assert_int_equal(blob_writer_commit(w, NULL), BE_INTERNAL);
    assert_int_equal(temp_files(&t->app, want), 0);
}

/* The UTF-8 rule of manifest paths (archive names are raw bytes). */
static void test_utf8(void **state)
{
    (void)state;
    assert_int_equal(manifest_utf8_char("a", 1), 1);
    assert_int_equal(manifest_utf8_char("\xc3\xa9", 2), 2);
    assert_int_equal(manifest_utf8_char("\xe7\x9b\xae", 3), 3);
    assert_int_equal(manifest_utf8_char("\xf0\x9f\x98\x80", 4), 4);
    assert_int_equal(manifest_utf8_char("\xc3", 1), 0);             /* truncated */
    assert_int_equal(manifest_utf8_char("\xc0\xaf", 2), 0);         /* overlong '/' */
    assert_int_equal(manifest_utf8_char("\xed\xa0\x80", 3), 0);     /* surrogate */
    assert_int_equal(manifest_utf8_char("\xf4\x90\x80\x80", 4), 0); /* > U+10FFFF */
    assert_int_equal(manifest_utf8_char("\xff", 1), 0);
    assert_int_equal(manifest_check_path("caf\xe9", 4, NULL), BE_MANIFEST_INVALID);
    assert_int_equal(manifest_check_path("a\xc0\xaf..", 5, NULL), BE_MANIFEST_INVALID);
    assert_int_equal(manifest_check_path("café", strlen("café"), NULL), BE_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_paths),
        cmocka_unit_test(test_fields_and_limits),
        cmocka_unit_test(test_duplicates_and_hash),
        cmocka_unit_test_setup_teardown(test_blob_roundtrip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_blob_mismatch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_blob_concurrent_writers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gc_empty, setup, teardown),
        cmocka_unit_test_setup_teardown(test_release_source, setup, teardown),
        cmocka_unit_test_setup_teardown(test_version_retention, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unpack_good, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unpack_hostile, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unpack_limits_and_garbage, setup, teardown),
        cmocka_unit_test_setup_teardown(test_blob_unnamed, setup, teardown),
        cmocka_unit_test(test_utf8),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
