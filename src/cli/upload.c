#include "cli/upload.h"

#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/crypto.h"
#include "core/mem.h"
#include "core/parse.h"
#include "core/banned.h"

#define HASH_CHUNK       (64u * 1024u)
#define PUT_ANSWER_MAX   4096u /* bytes of a PUT's answer kept for the error message */
#define PUT_PARALLEL_MAX 16u
#define PACKAGE_JSON_MAX (1u << 20)

/* ---- ignore list ----------------------------------------------------------- */

struct ignore {
    char **pat;
    size_t n;
};

static void ignore_release(struct ignore *ig)
{
    for (size_t i = 0; i < ig->n; i++)
        free(ig->pat[i]);
    free(ig->pat);
}

/* Reads <root>/.binderyignore when present; a missing file is no error. */
static int ignore_load(const char *root, struct ignore *ig, struct be_diag *diag)
{
    struct buf p = BUF_INIT;
    buf_addf(&p, "%s/%s", root, CLI_UPLOAD_IGNORE_FILE);
    FILE *f = fopen(p.data, "r");
    char line[1100];
    int rc = BE_OK;
    if (!f) {
        if (errno != ENOENT)
            rc = be_fail(diag, BE_INVALID_PARAMETER, "cannot read %s: %s", p.data, strerror(errno));
        buf_release(&p);
        return rc;
    }
    while (fgets(line, sizeof(line), f)) {
        size_t len = strcspn(line, "\r\n");
        line[len] = '\0';
        while (len && (line[len - 1] == ' ' || line[len - 1] == '\t'))
            line[--len] = '\0';
        const char *s = line;
        while (*s == ' ' || *s == '\t')
            s++;
        if (!*s || *s == '#')
            continue;
        if (ig->n >= CLI_UPLOAD_IGNORE_MAX) {
            rc = be_fail(diag, BE_INVALID_PARAMETER, "%s has more than %u patterns", p.data,
                         CLI_UPLOAD_IGNORE_MAX);
            break;
        }
        ig->pat = xrealloc(ig->pat, xmul(ig->n + 1, sizeof(*ig->pat)));
        ig->pat[ig->n++] = xstrdup(*s == '/' ? s + 1 : s);
    }
    fclose(f);
    buf_release(&p);
    return rc;
}

/* rel is the entry's path from the root, name its last component. */
static bool ignored(const struct ignore *ig, const char *rel, const char *name, bool is_dir)
{
    if (is_dir && !strcmp(name, ".git"))
        return true;
    for (size_t i = 0; i < ig->n; i++) {
        char pat[1100];
        size_t len = strlen(ig->pat[i]);
        bool dir_only = len && ig->pat[i][len - 1] == '/';
        if (dir_only && !is_dir)
            continue;
        snprintf(pat, sizeof(pat), "%.*s", (int)(dir_only ? len - 1 : len), ig->pat[i]);
        if (!pat[0])
            continue;
        bool match =
            strchr(pat, '/') ? fnmatch(pat, rel, FNM_PATHNAME) == 0 : fnmatch(pat, name, 0) == 0;
        if (match)
            return true;
    }
    return false;
}

/* ---- walk ---------------------------------------------------------------- */

struct walk {
    struct cli_tree *t;
    struct ignore ig;
    size_t cap;
};

/* SHA-256 of an open regular file of st's size; fails when the size moved. */
static int hash_file(int fd, const char *rel, uint64_t size, char out[65], struct be_diag *diag)
{
    struct crypto_sha256_ctx *h = crypto_sha256_new();
    unsigned char *chunk = xmalloc(HASH_CHUNK), md[CRYPTO_SHA256_LEN];
    uint64_t total = 0;
    int rc = BE_OK;
    for (;;) {
        ssize_t got = read(fd, chunk, HASH_CHUNK);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            rc = be_fail(diag, BE_INVALID_PARAMETER, "cannot read %s: %s", rel, strerror(errno));
            break;
        }
        if (got == 0)
            break;
        crypto_sha256_update(h, chunk, (size_t)got);
        total += (uint64_t)got;
    }
    crypto_sha256_final(h, md); /* frees h */
    free(chunk);
    if (rc == BE_OK && total != size)
        rc = be_fail(diag, BE_INVALID_PARAMETER, "%s changed while it was read; try again", rel);
    if (rc == BE_OK) {
        struct buf hex = BUF_INIT;
        buf_addhex(&hex, md, sizeof(md));
        snprintf(out, 65, "%s", hex.data);
        buf_release(&hex);
    }
    return rc;
}

static int add_file(struct walk *w, const char *full, const char *rel, struct be_diag *diag)
{
    struct cli_tree *t = w->t;
    if (t->n >= CLI_UPLOAD_MAX_FILES)
        return be_fail(diag, BE_INVALID_PARAMETER, "%s has more than %u files", t->root,
                       CLI_UPLOAD_MAX_FILES);
    int fd = open(full, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    struct stat st;
    if (fd < 0 || fstat(fd, &st)) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        return be_fail(diag, BE_INVALID_PARAMETER, "cannot read %s: %s", rel, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return be_fail(diag, BE_INVALID_PARAMETER, "%s was replaced while it was read; try again",
                       rel);
    }
    if (t->n == w->cap) {
        w->cap = w->cap ? w->cap * 2 : 64;
        t->files = xrealloc(t->files, xmul(w->cap, sizeof(*t->files)));
    }
    struct cli_file *f = &t->files[t->n];
    memset(f, 0, sizeof(*f));
    int rc = hash_file(fd, rel, (uint64_t)st.st_size, f->sha256, diag);
    close(fd);
    if (rc)
        return rc;
    f->path = xstrdup(rel);
    f->size = (uint64_t)st.st_size;
    f->mode = (unsigned)(st.st_mode & 0777);
    t->bytes += f->size;
    t->n++;
    return BE_OK;
}

static const char *kind_of(mode_t m)
{
    return S_ISLNK(m)    ? "a symbolic link"
           : S_ISCHR(m)  ? "a character device"
           : S_ISBLK(m)  ? "a block device"
           : S_ISFIFO(m) ? "a FIFO"
           : S_ISSOCK(m) ? "a socket"
                         : "not a regular file";
}

static int walk_dir(struct walk *w, const char *full, const char *rel, unsigned depth,
                    struct be_diag *diag)
{
    if (depth > CLI_UPLOAD_MAX_DEPTH)
        return be_fail(diag, BE_INVALID_PARAMETER, "%s is nested more than %u directories deep",
                       rel, CLI_UPLOAD_MAX_DEPTH);
    DIR *d = opendir(full);
    if (!d)
        return be_fail(diag, BE_INVALID_PARAMETER, "cannot read directory %s: %s",
                       *rel ? rel : full, strerror(errno));
    int rc = BE_OK;
    struct dirent *de;
    while (rc == BE_OK && (errno = 0, de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        struct buf cf = BUF_INIT, cr = BUF_INIT;
        struct stat st;
        buf_addf(&cf, "%s/%s", full, de->d_name);
        buf_addf(&cr, "%s%s%s", rel, *rel ? "/" : "", de->d_name);
        if (lstat(cf.data, &st))
            rc =
                be_fail(diag, BE_INVALID_PARAMETER, "cannot read %s: %s", cr.data, strerror(errno));
        else if (ignored(&w->ig, cr.data, de->d_name, S_ISDIR(st.st_mode)))
            w->t->ignored++;
        else if (S_ISDIR(st.st_mode))
            rc = walk_dir(w, cf.data, cr.data, depth + 1, diag);
        else if (S_ISREG(st.st_mode))
            rc = add_file(w, cf.data, cr.data, diag);
        else
            rc = be_fail(diag, BE_INVALID_PARAMETER,
                         "%s is %s: only regular files are uploaded (remove it or list it in "
                         "%s)",
                         cr.data, kind_of(st.st_mode), CLI_UPLOAD_IGNORE_FILE);
        buf_release(&cf);
        buf_release(&cr);
    }
    if (rc == BE_OK && errno)
        rc = be_fail(diag, BE_INVALID_PARAMETER, "cannot read directory %s: %s", *rel ? rel : full,
                     strerror(errno));
    closedir(d);
    return rc;
}

static int by_path(const void *a, const void *b)
{
    return strcmp(((const struct cli_file *)a)->path, ((const struct cli_file *)b)->path);
}

void cli_tree_release(struct cli_tree *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->n; i++)
        free(t->files[i].path);
    free(t->files);
    free(t->root);
    memset(t, 0, sizeof(*t));
}

int cli_tree_scan(const char *dir, struct cli_tree *ret, struct be_diag *diag)
{
    struct cli_tree t = {xstrdup(dir), NULL, 0, 0, 0};
    struct walk w = {&t, {NULL, 0}, 0};
    struct stat st;
    size_t len = strlen(t.root);
    while (len > 1 && t.root[len - 1] == '/')
        t.root[--len] = '\0';
    int rc = BE_OK;
    if (stat(t.root, &st) || !S_ISDIR(st.st_mode))
        rc = be_fail(diag, BE_INVALID_PARAMETER, "%s is not a directory", dir);
    if (rc == BE_OK)
        rc = ignore_load(t.root, &w.ig, diag);
    if (rc == BE_OK)
        rc = walk_dir(&w, t.root, "", 0, diag);
    if (rc == BE_OK && t.n == 0)
        rc = be_fail(diag, BE_INVALID_PARAMETER, "%s has no file to upload", dir);
    ignore_release(&w.ig);
    if (rc) {
        cli_tree_release(&t);
        return rc;
    }
    qsort(t.files, t.n, sizeof(*t.files), by_path);
    *ret = t;
    return BE_OK;
}

json_t *cli_tree_manifest(const struct cli_tree *t)
{
    json_t *files = json_array();
    for (size_t i = 0; i < t->n; i++)
        json_array_append_new(files,
                              json_pack("{s:s,s:s,s:I,s:i}", "Path", t->files[i].path, "Sha256",
                                        t->files[i].sha256, "Size", (json_int_t)t->files[i].size,
                                        "Mode", (int)t->files[i].mode));
    return files;
}

const struct cli_file *cli_tree_find(const struct cli_tree *t, const char *path)
{
    struct cli_file key = {(char *)path, "", 0, 0};
    return t->n ? bsearch(&key, t->files, t->n, sizeof(*t->files), by_path) : NULL;
}

/* ---- parallel PUTs ---------------------------------------------------------- */

struct put {
    CURL *curl;
    FILE *f;
    struct buf answer;
    const struct cli_blob_put *blob;
};

static size_t keep_answer(char *data, size_t size, size_t n, void *arg)
{
    struct buf *b = arg;
    size_t len = size * n;
    if (b->len < PUT_ANSWER_MAX)
        buf_add(b, data, len < PUT_ANSWER_MAX - b->len ? len : PUT_ANSWER_MAX - b->len);
    return len;
}

static int put_start(CURLM *m, struct put *p, const struct cli_blob_put *blob,
                     struct curl_slist *headers, struct be_diag *diag)
{
    memset(p, 0, sizeof(*p));
    p->blob = blob;
    if (!(p->f = fopen(blob->file, "rb")))
        return be_fail(diag, BE_INVALID_PARAMETER, "cannot read %s: %s", blob->file,
                       strerror(errno));
    if (!(p->curl = curl_easy_init())) {
        fclose(p->f);
        return be_fail(diag, BE_INTERNAL, "libcurl did not start");
    }
    curl_easy_setopt(p->curl, CURLOPT_URL, blob->url);
    curl_easy_setopt(p->curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(p->curl, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(p->curl, CURLOPT_READDATA, p->f);
    curl_easy_setopt(p->curl, CURLOPT_INFILESIZE_LARGE, (curl_off_t)blob->size);
    curl_easy_setopt(p->curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(p->curl, CURLOPT_WRITEFUNCTION, keep_answer);
    curl_easy_setopt(p->curl, CURLOPT_WRITEDATA, &p->answer);
    curl_easy_setopt(p->curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(p->curl, CURLOPT_USERAGENT, "bindery-cli");
    curl_easy_setopt(p->curl, CURLOPT_PRIVATE, p);
    /* A stalled server ends the PUT instead of hanging the CLI. */
    curl_easy_setopt(p->curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(p->curl, CURLOPT_LOW_SPEED_TIME, 60L);
    curl_multi_add_handle(m, p->curl);
    return BE_OK;
}

static void put_end(CURLM *m, struct put *p)
{
    if (p->curl) {
        curl_multi_remove_handle(m, p->curl);
        curl_easy_cleanup(p->curl);
    }
    if (p->f)
        fclose(p->f);
    buf_release(&p->answer);
    memset(p, 0, sizeof(*p));
}

/* The server's message from an error envelope, else the raw answer. */
static int put_result(struct put *p, CURLcode cc, struct be_diag *diag)
{
    long status = 0;
    if (cc != CURLE_OK)
        return be_fail(diag, BE_UPSTREAM, "upload of %s failed: %s", p->blob->file,
                       curl_easy_strerror(cc));
    curl_easy_getinfo(p->curl, CURLINFO_RESPONSE_CODE, &status);
    if (status / 100 == 2)
        return BE_OK;
    json_t *doc = json_loadb(p->answer.data ? p->answer.data : "", p->answer.len, 0, NULL);
    json_t *err = json_object_get(json_object_get(doc, "Response"), "Error");
    const char *code = json_string_value(json_object_get(err, "Code"));
    const char *msg = json_string_value(json_object_get(err, "Message"));
    int rc;
    if (code)
        rc = be_fail(diag, BE_FAILED, "upload of %s was refused (HTTP %ld): %s: %s", p->blob->file,
                     status, code, msg ? msg : "");
    else
        rc = be_fail(diag, BE_FAILED, "upload of %s was refused with HTTP %ld: %.200s",
                     p->blob->file, status, p->answer.data ? p->answer.data : "");
    json_decref(doc);
    return rc;
}

int cli_put_blobs(const struct cli_blob_put *puts, size_t n, unsigned parallel,
                  cli_put_progress_fn progress, void *arg, struct be_diag *diag)
{
    if (parallel < 1)
        parallel = 1;
    if (parallel > PUT_PARALLEL_MAX)
        parallel = PUT_PARALLEL_MAX;
    CURLM *m = curl_multi_init();
    if (!m)
        return be_fail(diag, BE_INTERNAL, "libcurl did not start");
    /* The pre-signed URL is the only credential; "Expect:" off saves a round
     * trip per blob (the server checks Content-Length before reading). */
    struct curl_slist *headers = curl_slist_append(NULL, "Expect:");
    headers = curl_slist_append(headers, "Content-Type: application/octet-stream");
    struct put slots[PUT_PARALLEL_MAX];
    memset(slots, 0, sizeof(slots));
    size_t next = 0, done = 0, running = 0;
    uint64_t bytes = 0;
    int rc = BE_OK;
    for (;;) {
        for (unsigned i = 0; i < parallel && rc == BE_OK && next < n; i++)
            if (!slots[i].curl) {
                if ((rc = put_start(m, &slots[i], &puts[next], headers, diag)) == BE_OK)
                    running++;
                next++;
            }
        if (running == 0)
            break;
        int still = 0;
        curl_multi_perform(m, &still);
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(m, &left))) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            struct put *p = NULL;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&p);
            struct be_diag mine = {""};
            int prc = put_result(p, msg->data.result, &mine);
            if (prc == BE_OK) {
                done++;
                bytes += p->blob->size;
                if (progress)
                    progress(arg, done, bytes);
            } else if (rc == BE_OK) {
                rc = prc;
                if (diag)
                    *diag = mine;
            }
            put_end(m, p);
            running--;
        }
        if (running && still)
            curl_multi_poll(m, NULL, 0, 1000, NULL);
    }
    for (unsigned i = 0; i < PUT_PARALLEL_MAX; i++)
        put_end(m, &slots[i]);
    curl_slist_free_all(headers);
    curl_multi_cleanup(m);
    return rc;
}

/* ---- runtime and entry --------------------------------------------------------- */

/* package.json's "main" when it names a file of the tree. */
static const char *package_main(const struct cli_tree *t, struct buf *scratch)
{
    const struct cli_file *pj = cli_tree_find(t, "package.json");
    if (!pj || pj->size > PACKAGE_JSON_MAX)
        return NULL;
    buf_reset(scratch);
    buf_addf(scratch, "%s/package.json", t->root);
    json_t *doc = json_load_file(scratch->data, 0, NULL);
    const char *main = json_string_value(json_object_get(doc, "main"));
    const char *found = NULL;
    if (main) {
        buf_reset(scratch);
        buf_adds(scratch, main[0] == '.' && main[1] == '/' ? main + 2 : main);
        const struct cli_file *f = cli_tree_find(t, scratch->data);
        found = f ? f->path : NULL;
    }
    json_decref(doc);
    return found;
}

static const char *first_present(const struct cli_tree *t, const char *const *names)
{
    for (; *names; names++)
        if (cli_tree_find(t, *names))
            return *names;
    return NULL;
}

static const char *const node_entries[] = {"index.js", "server.js", "app.js", "main.js", NULL};
static const char *const python_entries[] = {"main.py", "app.py", "server.py", NULL};

/* Fills runtime/entry from the tree for what is still empty. */
static int guess_runtime(const struct cli_tree *t, char *runtime, char *entry, struct be_diag *diag)
{
    struct buf scratch = BUF_INIT;
    const char *e = NULL;
    if (!runtime[0] || !strcmp(runtime, "nodejs")) {
        e = package_main(t, &scratch);
        if (!e)
            e = first_present(t, node_entries);
        if (e && !runtime[0])
            snprintf(runtime, CLI_UPLOAD_RUNTIME_MAX + 1, "nodejs");
    }
    if (!e && (!runtime[0] || !strcmp(runtime, "python3"))) {
        e = first_present(t, python_entries);
        if (e && !runtime[0])
            snprintf(runtime, CLI_UPLOAD_RUNTIME_MAX + 1, "python3");
    }
    if (e && !entry[0])
        snprintf(entry, CLI_UPLOAD_ENTRY_MAX + 1, "%s", e);
    buf_release(&scratch);
    if (!runtime[0] || !entry[0])
        return be_fail(diag, BE_INVALID_PARAMETER,
                       "cannot tell how to run %s: pass --runtime (nodejs, python3 or exec) and "
                       "--entry FILE",
                       t->root);
    return BE_OK;
}

/* The newest version's runtime and entry (nothing when there is none). */
static void previous_runtime(struct cli_client *c, const char *env_id, char *runtime, char *entry)
{
    json_t *params = json_pack("{s:s}", "EnvId", env_id), *resp = NULL;
    struct be_diag ignore = {""};
    if (cli_call(c, "DescribeVersion", params, &resp, &ignore) == BE_OK) {
        json_t *v = json_object_get(resp, "Version");
        const char *r = json_string_value(json_object_get(v, "Runtime"));
        const char *e = json_string_value(json_object_get(v, "Entry"));
        if (r && e && (!runtime[0] || !strcmp(runtime, r))) {
            snprintf(runtime, CLI_UPLOAD_RUNTIME_MAX + 1, "%s", r);
            if (!entry[0])
                snprintf(entry, CLI_UPLOAD_ENTRY_MAX + 1, "%s", e);
        }
    }
    json_decref(resp);
    json_decref(params);
}

/* ---- the upload ---------------------------------------------------------------- */

struct progress {
    bool on;
    size_t total_blobs, skipped, files;
    uint64_t total_bytes;
};

static void show_progress(void *arg, size_t done, uint64_t bytes)
{
    struct progress *p = arg;
    if (!p->on)
        return;
    fprintf(stderr, "\rsending %zu/%zu new blobs, %.1f/%.1f MB; %zu of %zu files unchanged ", done,
            p->total_blobs, (double)bytes / 1e6, (double)p->total_bytes / 1e6, p->skipped,
            p->files);
    fflush(stderr);
}

/* The PUT list of CreateUpload's MissingBlobs; paths are the tree's. */
static int plan_puts(const struct cli_tree *t, json_t *missing, struct cli_blob_put **ret,
                     char ***ret_files, struct be_diag *diag)
{
    size_t n = json_array_size(missing);
    struct cli_blob_put *puts = xcalloc(n ? n : 1, sizeof(*puts));
    char **files = xcalloc(n ? n : 1, sizeof(*files));
    for (size_t i = 0; i < n; i++) {
        json_t *b = json_array_get(missing, i);
        const char *path = json_string_value(json_object_get(b, "Path"));
        const char *url = json_string_value(json_object_get(b, "Url"));
        const struct cli_file *f = path ? cli_tree_find(t, path) : NULL;
        if (!f || !url) {
            for (size_t j = 0; j < i; j++)
                free(files[j]);
            free(files);
            free(puts);
            return be_fail(diag, BE_UPSTREAM, "the server asked for a blob of %s, not in %s",
                           path ? path : "(no path)", t->root);
        }
        struct buf full = BUF_INIT;
        buf_addf(&full, "%s/%s", t->root, f->path);
        files[i] = buf_detach(&full, NULL);
        puts[i] = (struct cli_blob_put){url, files[i], f->size};
    }
    *ret = puts;
    *ret_files = files;
    return BE_OK;
}

static int by_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Files whose content the server already has (identical files share a blob:
 * a file counts as sent when its blob is among the missing ones). */
static size_t count_skipped(const struct cli_tree *t, json_t *missing)
{
    size_t n = json_array_size(missing), sent = 0;
    const char **shas = xcalloc(n ? n : 1, sizeof(*shas));
    for (size_t j = 0; j < n; j++) {
        const char *s = json_string_value(json_object_get(json_array_get(missing, j), "Sha256"));
        shas[j] = s ? s : "";
    }
    qsort(shas, n, sizeof(*shas), by_str);
    for (size_t i = 0; i < t->n; i++) {
        const char *key = t->files[i].sha256;
        sent += n && bsearch(&key, shas, n, sizeof(*shas), by_str) != NULL;
    }
    free(shas);
    return t->n - sent;
}

static int send_and_commit(struct cli_client *c, const struct cli_upload_options *o,
                           const struct cli_tree *t, json_t *created, struct cli_upload_result *r,
                           struct be_diag *diag)
{
    json_t *missing = json_object_get(created, "MissingBlobs");
    const char *upload_id = json_string_value(json_object_get(created, "UploadId"));
    const char *hash = json_string_value(json_object_get(created, "ManifestHash"));
    if (!upload_id || !json_is_array(missing))
        return be_fail(diag, BE_UPSTREAM, "CreateUpload answered without UploadId/MissingBlobs");
    snprintf(r->upload_id, sizeof(r->upload_id), "%s", upload_id);
    snprintf(r->manifest_hash, sizeof(r->manifest_hash), "%s", hash ? hash : "");
    struct cli_blob_put *puts = NULL;
    char **files = NULL;
    size_t n = json_array_size(missing);
    struct progress pr = {o->progress, n, 0, t->n, 0};
    int rc = plan_puts(t, missing, &puts, &files, diag);
    if (rc)
        return rc;
    for (size_t i = 0; i < n; i++)
        pr.total_bytes += puts[i].size;
    pr.skipped = r->skipped_files = count_skipped(t, missing);
    show_progress(&pr, 0, 0);
    rc = cli_put_blobs(puts, n, CLI_UPLOAD_PARALLEL, show_progress, &pr, diag);
    if (pr.on)
        fputc('\n', stderr);
    r->sent_blobs = rc ? 0 : n;
    r->sent_bytes = rc ? 0 : pr.total_bytes;
    for (size_t i = 0; i < n; i++)
        free(files[i]);
    free(files);
    free(puts);
    if (rc)
        return rc;
    json_t *params = json_pack("{s:s,s:s,s:s}", "UploadId", upload_id, "Runtime", r->runtime,
                               "Entry", r->entry),
           *resp = NULL;
    if (o->description)
        json_object_set_new(params, "Description", json_string(o->description));
    rc = cli_call(c, "CommitUpload", params, &resp, diag);
    json_t *v = json_object_get(resp, "Version");
    if (rc == BE_OK && !json_is_integer(v))
        rc = be_fail(diag, BE_UPSTREAM, "CommitUpload answered without a version");
    if (rc == BE_OK)
        r->version = (uint64_t)json_integer_value(v);
    json_decref(resp);
    json_decref(params);
    return rc;
}

int cli_upload(struct cli_client *c, const struct cli_upload_options *o,
               struct cli_upload_result *ret, struct be_diag *diag)
{
    struct cli_upload_result r;
    struct cli_tree t;
    memset(&r, 0, sizeof(r));
    if (copy_str(r.env_id, sizeof(r.env_id), o->env_id) ||
        copy_str(r.runtime, sizeof(r.runtime), o->runtime ? o->runtime : "") ||
        copy_str(r.entry, sizeof(r.entry), o->entry ? o->entry : ""))
        return be_fail(diag, BE_INVALID_PARAMETER, "the environment, runtime or entry is too long");
    int rc = cli_tree_scan(o->dir, &t, diag);
    if (rc)
        return rc;
    if (!r.runtime[0] || !r.entry[0])
        previous_runtime(c, o->env_id, r.runtime, r.entry);
    if ((!r.runtime[0] || !r.entry[0]) && (rc = guess_runtime(&t, r.runtime, r.entry, diag)))
        goto out;
    r.files = t.n;
    r.bytes = t.bytes;
    r.ignored = t.ignored;
    json_t *params = json_pack("{s:s,s:o}", "EnvId", o->env_id, "Files", cli_tree_manifest(&t));
    json_t *created = NULL;
    if (o->description)
        json_object_set_new(params, "Description", json_string(o->description));
    rc = cli_call(c, "CreateUpload", params, &created, diag);
    json_decref(params);
    if (rc == BE_OK)
        rc = send_and_commit(c, o, &t, created, &r, diag);
    json_decref(created);
    if (rc == BE_OK)
        *ret = r;
out:
    cli_tree_release(&t);
    return rc;
}
