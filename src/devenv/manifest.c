#include "devenv/manifest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/crypto.h"
#include "core/mem.h"
#include "core/banned.h"

#define MODE_TYPE_MASK 0170000u
#define MODE_REGULAR   0100000u

size_t manifest_utf8_char(const char *str, size_t len)
{
    const unsigned char *s = (const unsigned char *)str;
    if (len == 0)
        return 0;
    unsigned char c = s[0];
    size_t n = c < 0x80             ? 0
               : (c & 0xe0) == 0xc0 ? 1
               : (c & 0xf0) == 0xe0 ? 2
               : (c & 0xf8) == 0xf0 ? 3
                                    : 9;
    if (n == 9 || len - 1 < n)
        return 0;
    uint32_t cp = n == 0 ? c : n == 1 ? c & 0x1fu : n == 2 ? c & 0x0fu : c & 0x07u;
    for (size_t k = 1; k <= n; k++) {
        if ((s[k] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[k] & 0x3fu);
    }
    static const uint32_t min[] = {0, 0x80, 0x800, 0x10000};
    if (cp < min[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0; /* overlong, surrogate, out of range */
    return n + 1;
}

/* JSON strings are always UTF-8; archive entry names are raw bytes, so the
 * rule is checked here for both. */
static bool utf8_valid(const char *s, size_t len)
{
    for (size_t i = 0, n; i < len; i += n)
        if (!(n = manifest_utf8_char(s + i, len - i)))
            return false;
    return true;
}

int manifest_check_path(const char *path, size_t len, struct be_diag *diag)
{
    if (len == 0)
        return be_fail(diag, BE_MANIFEST_INVALID, "a path is empty");
    if (len > MANIFEST_PATH_MAX)
        return be_fail(diag, BE_MANIFEST_INVALID, "a path is %zu bytes long (at most %d)", len,
                       MANIFEST_PATH_MAX);
    if (memchr(path, '\0', len))
        return be_fail(diag, BE_MANIFEST_INVALID, "a path contains a NUL byte");
    if (!utf8_valid(path, len))
        return be_fail(diag, BE_MANIFEST_INVALID, "path %.200s is not valid UTF-8", path);
    if (path[0] == '/')
        return be_fail(diag, BE_MANIFEST_INVALID, "absolute path %.200s: paths are relative", path);
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        unsigned char ch = i < len ? (unsigned char)path[i] : '/';
        if (ch < 0x20 || ch == 0x7f)
            return be_fail(diag, BE_MANIFEST_INVALID, "path %.200s contains a control character",
                           path);
        if (ch == '\\')
            return be_fail(diag, BE_MANIFEST_INVALID,
                           "path %.200s contains a backslash: use '/' between directories", path);
        if (ch != '/')
            continue;
        size_t clen = i - start;
        const char *comp = path + start;
        if (clen == 0)
            return be_fail(diag, BE_MANIFEST_INVALID, "path %.200s has an empty component", path);
        if (clen > MANIFEST_COMPONENT_MAX)
            return be_fail(diag, BE_MANIFEST_INVALID,
                           "path %.200s has a component longer than %d bytes", path,
                           MANIFEST_COMPONENT_MAX);
        if ((clen == 1 && comp[0] == '.') || (clen == 2 && comp[0] == '.' && comp[1] == '.'))
            return be_fail(diag, BE_MANIFEST_INVALID,
                           "path %.200s has a '.' or '..' component: paths are normalized", path);
        start = i + 1;
    }
    return BE_OK;
}

bool manifest_sha256_valid(const char *s)
{
    size_t i = 0;
    for (; s && s[i]; i++) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
            return false;
    }
    return s && i == MANIFEST_SHA256_HEX;
}

static int cmp_file(const void *a, const void *b)
{
    return strcmp(((const struct manifest_file *)a)->path, ((const struct manifest_file *)b)->path);
}

const struct manifest_file *manifest_find(const struct manifest *m, const char *path)
{
    struct manifest_file key = {.path = (char *)path};
    return m->n ? bsearch(&key, m->files, m->n, sizeof(key), cmp_file) : NULL;
}

static int entry_u64(json_t *e, const char *field, uint64_t *ret)
{
    json_t *v = json_object_get(e, field);
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return BE_MANIFEST_INVALID;
    *ret = (uint64_t)json_integer_value(v);
    return BE_OK;
}

/* One entry into f (path copied); i is its index for the diag. */
static int parse_entry(size_t i, json_t *e, const struct manifest_limits *lim,
                       struct manifest_file *f, struct be_diag *diag)
{
    static const char *const known[] = {"Path", "Sha256", "Size", "Mode"};
    const char *key;
    json_t *v;
    if (!json_is_object(e))
        return be_fail(diag, BE_MANIFEST_INVALID, "Files[%zu] must be an object", i);
    json_object_foreach(e, key, v)
    {
        bool ok = false;
        for (size_t k = 0; k < sizeof(known) / sizeof(known[0]); k++)
            ok = ok || !strcmp(key, known[k]);
        if (!ok)
            return be_fail(diag, BE_MANIFEST_INVALID, "Files[%zu].%.40s is not a field", i, key);
    }
    json_t *path = json_object_get(e, "Path");
    if (!json_is_string(path))
        return be_fail(diag, BE_MANIFEST_INVALID, "Files[%zu].Path must be a string", i);
    struct be_diag pd = {""};
    int rc = manifest_check_path(json_string_value(path), json_string_length(path), &pd);
    if (rc)
        return be_fail(diag, rc, "Files[%zu]: %s", i, pd.msg);
    const char *p = json_string_value(path);
    const char *sha = json_string_value(json_object_get(e, "Sha256"));
    if (!manifest_sha256_valid(sha))
        return be_fail(diag, BE_MANIFEST_INVALID,
                       "Files[%zu] (%.200s): Sha256 must be 64 hex digits", i, p);
    if (entry_u64(e, "Size", &f->size))
        return be_fail(diag, BE_MANIFEST_INVALID,
                       "Files[%zu] (%.200s): Size must be a non-negative integer", i, p);
    if (f->size > lim->max_file_bytes)
        return be_fail(diag, BE_MANIFEST_LIMIT, "Files[%zu] (%.200s) is %llu bytes (at most %llu)",
                       i, p, (unsigned long long)f->size, (unsigned long long)lim->max_file_bytes);
    uint64_t mode = 0644;
    if (json_object_get(e, "Mode") && entry_u64(e, "Mode", &mode))
        return be_fail(diag, BE_MANIFEST_INVALID, "Files[%zu] (%.200s): Mode must be an integer", i,
                       p);
    if (mode > 0177777u || ((mode & MODE_TYPE_MASK) && (mode & MODE_TYPE_MASK) != MODE_REGULAR) ||
        (mode & 07000u))
        return be_fail(diag, BE_MANIFEST_INVALID,
                       "Files[%zu] (%.200s): Mode %llo is not a regular file's (no symlinks, "
                       "devices, directories or set-id bits)",
                       i, p, (unsigned long long)mode);
    for (size_t k = 0; k < MANIFEST_SHA256_HEX; k++)
        f->sha256[k] = (char)(sha[k] >= 'A' && sha[k] <= 'F' ? sha[k] - 'A' + 'a' : sha[k]);
    f->sha256[MANIFEST_SHA256_HEX] = '\0';
    f->mode = (uint32_t)(mode & 0777u);
    f->path = xstrdup(p);
    return BE_OK;
}

/* After sorting: duplicates, and paths that are a file and a directory. */
static int check_tree(const struct manifest *m, struct be_diag *diag)
{
    for (size_t i = 0; i < m->n; i++) {
        const char *p = m->files[i].path;
        if (i && !strcmp(p, m->files[i - 1].path))
            return be_fail(diag, BE_MANIFEST_INVALID, "path %.200s is listed twice", p);
        char prefix[MANIFEST_PATH_MAX + 1];
        for (const char *s = strchr(p, '/'); s; s = strchr(s + 1, '/')) {
            snprintf(prefix, sizeof(prefix), "%.*s", (int)(s - p), p);
            if (manifest_find(m, prefix))
                return be_fail(diag, BE_MANIFEST_INVALID,
                               "%.200s is both a file and the directory of %.200s", prefix, p);
        }
    }
    return BE_OK;
}

static void hash_listing(struct manifest *m)
{
    struct crypto_sha256_ctx *h = crypto_sha256_new();
    unsigned char d[CRYPTO_SHA256_LEN];
    char line[96];
    for (size_t i = 0; i < m->n; i++) {
        const struct manifest_file *f = &m->files[i];
        crypto_sha256_update(h, f->path, strlen(f->path) + 1);
        int len = snprintf(line, sizeof(line), "%s%c%llu%c%o\n", f->sha256, '\0',
                           (unsigned long long)f->size, '\0', (unsigned)f->mode);
        crypto_sha256_update(h, line, (size_t)len);
    }
    crypto_sha256_final(h, d);
    struct buf hex = BUF_INIT;
    buf_addhex(&hex, d, sizeof(d));
    snprintf(m->hash, sizeof(m->hash), "%s", hex.data);
    buf_release(&hex);
}

int manifest_from_json(const json_t *files, const struct manifest_limits *lim, struct manifest *ret,
                       struct be_diag *diag)
{
    struct manifest m = {NULL, 0, 0, ""};
    int rc = BE_OK;
    if (!json_is_array(files))
        return be_fail(diag, BE_MANIFEST_INVALID, "Files must be an array");
    size_t n = json_array_size(files);
    if (n > lim->max_files)
        return be_fail(diag, BE_MANIFEST_LIMIT, "the manifest lists %zu files (at most %llu)", n,
                       (unsigned long long)lim->max_files);
    m.files = xcalloc(n ? n : 1, sizeof(*m.files));
    for (size_t i = 0; i < n; i++) {
        if ((rc = parse_entry(i, json_array_get(files, i), lim, &m.files[i], diag)))
            goto fail;
        m.n++;
        m.bytes += m.files[i].size; /* each <= max_file_bytes (config: <= 2^34) */
        if (m.bytes > lim->max_total_bytes) {
            rc = be_fail(diag, BE_MANIFEST_LIMIT, "the files add up to more than %llu bytes",
                         (unsigned long long)lim->max_total_bytes);
            goto fail;
        }
    }
    qsort(m.files, m.n, sizeof(*m.files), cmp_file);
    if ((rc = check_tree(&m, diag)))
        goto fail;
    hash_listing(&m);
    *ret = m;
    return BE_OK;
fail:
    manifest_release(&m);
    return rc;
}

void manifest_release(struct manifest *m)
{
    for (size_t i = 0; m && i < m->n; i++)
        free(m->files[i].path);
    if (m)
        free(m->files);
    if (m) {
        m->files = NULL;
        m->n = 0;
    }
}
