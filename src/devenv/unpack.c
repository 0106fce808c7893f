#include "devenv/unpack.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/log.h"
#include "core/mem.h"
#include "devenv/blobstore.h"
#include "core/banned.h"

/* Bytes read from the archive file, and from an entry, per call. */
#define UNPACK_CHUNK (64 * 1024)

struct walk {
    const struct app *app;
    const struct manifest_limits *lim;
    struct archive *a;
    struct unpack *u;
    json_t *files; /* [{Path, Sha256, Size, Mode}] for manifest_from_json */
    char **dirs;   /* directory paths, to refuse one that is also a file */
    size_t ndirs;
    uint64_t nfiles, nentries, total;
    unsigned char *chunk;
};

void unpack_init(struct unpack *u)
{
    memset(u, 0, sizeof(*u));
}

void unpack_release(struct unpack *u)
{
    if (!u)
        return;
    manifest_release(&u->manifest);
    free(u->blobs);
    u->blobs = NULL;
    u->nblobs = 0;
}

/* Zip central-directory headers ("PK\1\2") anywhere in the file. libarchive
 * reads a zip by its central directory (the only place that holds the
 * entries' Unix modes) and allocates an entry for each header before
 * returning the first one, so a tiny archive of empty headers could make it
 * allocate gigabytes: this bounds that count before libarchive starts. A
 * header can only be where its signature is; other bytes that happen to
 * match (a stored zip inside the zip) only make the bound stricter. */
static int count_cd_headers(int fd, uint64_t max, uint64_t *ret_n)
{
    static const unsigned char sig[4] = {'P', 'K', 1, 2};
    unsigned char buf[UNPACK_CHUNK + 3];
    size_t keep = 0;
    uint64_t n = 0;
    for (;;) {
        ssize_t got = read(fd, buf + keep, UNPACK_CHUNK);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            return -1;
        if (got == 0)
            break;
        size_t len = keep + (size_t)got;
        for (size_t i = 0; i + 4 <= len && n <= max; i++)
            n += !memcmp(buf + i, sig, 4);
        keep = len < 3 ? len : 3; /* a signature across two reads */
        memmove(buf, buf + len - keep, keep);
    }
    *ret_n = n;
    return 0;
}

/* Refuses a zip whose central directory has more headers than entries
 * allowed (see count_cd_headers); a gzip stream is never read as a zip. */
static int check_zip_directory(const char *path, uint64_t max_entries, struct be_diag *diag)
{
    unsigned char magic[2] = {0, 0};
    uint64_t n = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC), rc = BE_OK;
    if (fd < 0 || (read(fd, magic, 2) == 2 && magic[0] == 0x1f && magic[1] == 0x8b))
        goto out; /* open errors are reported by libarchive's open */
    if (lseek(fd, 0, SEEK_SET) || count_cd_headers(fd, max_entries, &n)) {
        log_error("unpack: cannot read %s: %s", path, strerror(errno));
        rc = be_fail(diag, BE_INTERNAL, "cannot read the archive");
    } else if (n > max_entries) {
        rc = be_fail(diag, BE_ARCHIVE_LIMIT,
                     "the archive holds more than %llu entries (files and directories)",
                     (unsigned long long)max_entries);
    }
out:
    if (fd >= 0)
        close(fd);
    return rc;
}

/* Rewrites diag->msg as printable UTF-8: entry names are raw bytes, and an
 * API message must be valid UTF-8 (a control character or a byte that is
 * not UTF-8 becomes \xNN). */
static void sanitize(struct be_diag *diag)
{
    struct buf out = BUF_INIT;
    const char *s = diag->msg;
    size_t len = strlen(s);
    for (size_t i = 0, n; i < len; i += n) {
        n = manifest_utf8_char(s + i, len - i);
        unsigned char c = (unsigned char)s[i];
        if (n == 0 || c < 0x20 || c == 0x7f) {
            buf_addf(&out, "\\x%02x", c);
            n = 1;
        } else {
            buf_add(&out, s + i, n);
        }
    }
    /* Cut at a character boundary if the escapes made it longer. */
    size_t keep = out.len;
    if (keep >= sizeof(diag->msg)) {
        keep = sizeof(diag->msg) - 1;
        while (keep && ((unsigned char)out.data[keep] & 0xc0) == 0x80)
            keep--;
    }
    memcpy(diag->msg, out.data, keep);
    diag->msg[keep] = '\0';
    buf_release(&out);
}

static const char *type_name(mode_t t)
{
    switch (t) {
    case AE_IFLNK:
        return "a symbolic link";
    case AE_IFCHR:
        return "a character device";
    case AE_IFBLK:
        return "a block device";
    case AE_IFIFO:
        return "a FIFO";
    case AE_IFSOCK:
        return "a socket";
    default:
        return "not a regular file or directory";
    }
}

/* Only regular files and directories. */
static int check_type(struct archive_entry *e, const char *name, struct be_diag *diag)
{
    const char *target = archive_entry_hardlink(e);
    if (target)
        return be_fail(diag, BE_ARCHIVE_INVALID,
                       "archive entry %.200s is a hard link (to %.200s): only regular files and "
                       "directories are accepted",
                       name, target);
    mode_t t = archive_entry_filetype(e);
    target = archive_entry_symlink(e);
    if (target || t == AE_IFLNK)
        return be_fail(diag, BE_ARCHIVE_INVALID,
                       "archive entry %.200s is a symbolic link (to %.200s): only regular files "
                       "and directories are accepted",
                       name, target ? target : "?");
    if (t != AE_IFREG && t != AE_IFDIR)
        return be_fail(diag, BE_ARCHIVE_INVALID,
                       "archive entry %.200s is %s: only regular files and directories are "
                       "accepted",
                       name, type_name(t));
    return BE_OK;
}

/* Records a blob of the archive (for the caller's rows, see unpack.h). */
static void add_blob(struct unpack *u, const char *hex, uint64_t size)
{
    u->blobs = xrealloc(u->blobs, (u->nblobs + 1) * sizeof(*u->blobs));
    memcpy(u->blobs[u->nblobs].sha256, hex, MANIFEST_SHA256_HEX + 1);
    u->blobs[u->nblobs].size = size;
    u->nblobs++;
}

/* Streams the entry's data into w, counting the limits on what arrives. */
static int copy_data(struct walk *x, const char *name, struct blob_writer *w, uint64_t *ret_size,
                     struct be_diag *diag)
{
    const struct manifest_limits *lim = x->lim;
    uint64_t size = 0;
    for (;;) {
        la_ssize_t n = archive_read_data(x->a, x->chunk, UNPACK_CHUNK);
        if (n < 0)
            return be_fail(diag, BE_ARCHIVE_INVALID, "archive entry %.200s cannot be read: %.200s",
                           name, archive_error_string(x->a));
        if (n == 0)
            break;
        size += (uint64_t)n;
        x->total += (uint64_t)n;
        if (size > lim->max_file_bytes)
            return be_fail(diag, BE_ARCHIVE_LIMIT,
                           "archive entry %.200s expands to more than %llu bytes "
                           "(deploy.max_blob_bytes)",
                           name, (unsigned long long)lim->max_file_bytes);
        if (x->total > lim->max_total_bytes)
            return be_fail(diag, BE_ARCHIVE_LIMIT,
                           "the archive's files expand to more than %llu bytes "
                           "(deploy.max_version_bytes)",
                           (unsigned long long)lim->max_total_bytes);
        int rc = blob_writer_write(w, x->chunk, (size_t)n, diag);
        if (rc)
            return rc;
    }
    *ret_size = size;
    return BE_OK;
}

/* One regular file: stored as a blob, listed for the manifest. */
static int add_file(struct walk *x, struct archive_entry *e, const char *name, const char *path,
                    size_t len, struct be_diag *diag)
{
    const struct manifest_limits *lim = x->lim;
    struct blob_writer *w = NULL;
    char hex[MANIFEST_SHA256_HEX + 1];
    uint64_t size = 0;
    if (++x->nfiles > lim->max_files)
        return be_fail(diag, BE_ARCHIVE_LIMIT,
                       "the archive holds more than %llu files "
                       "(deploy.max_files)",
                       (unsigned long long)lim->max_files);
    /* A declared size over the limit is refused at once; a smaller one is
     * not trusted (copy_data counts). */
    if (archive_entry_size_is_set(e) && archive_entry_size(e) > 0 &&
        (uint64_t)archive_entry_size(e) > lim->max_file_bytes)
        return be_fail(diag, BE_ARCHIVE_LIMIT,
                       "archive entry %.200s is %lld bytes (at most %llu, deploy.max_blob_bytes)",
                       name, (long long)archive_entry_size(e),
                       (unsigned long long)lim->max_file_bytes);
    int rc = blob_writer_open_unnamed(x->app, lim->max_file_bytes, &w, diag);
    if (rc == BE_OK && (rc = copy_data(x, name, w, &size, diag)) != BE_OK)
        blob_writer_abort(w);
    if (rc == BE_OK)
        rc = blob_writer_commit_unnamed(w, hex, diag);
    if (rc)
        return rc;
    add_blob(x->u, hex, size);
    int mode = (archive_entry_perm(e) & 0111) ? 0755 : 0644;
    json_t *f = json_pack("{s:s%,s:s,s:I,s:i}", "Path", path, len, "Sha256", hex, "Size",
                          (json_int_t)size, "Mode", mode);
    if (!f) /* path passed manifest_check_path: valid UTF-8 */
        return be_fail(diag, BE_INTERNAL, "cannot list archive entry %.200s", name);
    json_array_append_new(x->files, f);
    return BE_OK;
}

/* One entry: type, name, then the file or directory. */
static int add_entry(struct walk *x, struct archive_entry *e, struct be_diag *diag)
{
    const char *name = archive_entry_pathname(e);
    if (!name || !*name)
        return be_fail(diag, BE_ARCHIVE_INVALID, "archive entry %llu has no name",
                       (unsigned long long)x->nentries + 1);
    if (++x->nentries > 2 * x->lim->max_files)
        return be_fail(diag, BE_ARCHIVE_LIMIT,
                       "the archive holds more than %llu entries (files and directories)",
                       (unsigned long long)(2 * x->lim->max_files));
    int rc = check_type(e, name, diag);
    if (rc)
        return rc;
    bool dir = archive_entry_filetype(e) == AE_IFDIR;
    const char *path = name;
    while (!strncmp(path, "./", 2))
        path += 2;
    size_t len = strlen(path);
    if (dir && len && path[len - 1] == '/')
        len--;
    if (dir && len == 0)
        return BE_OK; /* "./": the root itself */
    struct be_diag pd = {""};
    if (manifest_check_path(path, len, &pd))
        return be_fail(diag, BE_ARCHIVE_INVALID, "archive entry %.200s: %s", name, pd.msg);
    if (!dir)
        return add_file(x, e, name, path, len, diag);
    /* A directory has no data to read; one that claims some is not skipped
     * through (a bomb could hide there). */
    if (archive_entry_size_is_set(e) && archive_entry_size(e) > 0)
        return be_fail(diag, BE_ARCHIVE_INVALID, "archive entry %.200s is a directory with data",
                       name);
    x->dirs = xrealloc(x->dirs, (x->ndirs + 1) * sizeof(*x->dirs));
    x->dirs[x->ndirs++] = xstrndup(path, len);
    return BE_OK;
}

/* A directory entry that is also a file (or under one): "a" and "a/". */
static int check_dirs(const struct walk *x, const struct manifest *m, struct be_diag *diag)
{
    for (size_t i = 0; i < x->ndirs; i++) {
        char *d = x->dirs[i];
        for (char *s = d;; s++) {
            if (*s != '/' && *s)
                continue;
            char c = *s;
            *s = '\0';
            bool clash = manifest_find(m, d) != NULL;
            if (clash)
                be_fail(diag, BE_ARCHIVE_INVALID, "%.200s is both a file and a directory", d);
            *s = c;
            if (clash)
                return BE_ARCHIVE_INVALID;
            if (!c)
                break;
        }
    }
    return BE_OK;
}

/* After the last entry: the manifest (duplicates, file/directory clashes,
 * limits: the same rules as a manifest upload). */
static int finish(struct walk *x, struct be_diag *diag)
{
    struct be_diag md = {""};
    int rc = manifest_from_json(x->files, x->lim, &x->u->manifest, &md);
    if (rc == BE_MANIFEST_INVALID || rc == BE_MANIFEST_LIMIT)
        return be_fail(diag, rc == BE_MANIFEST_LIMIT ? BE_ARCHIVE_LIMIT : BE_ARCHIVE_INVALID,
                       "archive: %s", md.msg);
    if (rc)
        return be_fail(diag, rc, "%s", md.msg);
    if (x->u->manifest.n == 0)
        rc = be_fail(diag, BE_ARCHIVE_INVALID, "the archive holds no file");
    if (rc == BE_OK)
        rc = check_dirs(x, &x->u->manifest, diag);
    if (rc)
        manifest_release(&x->u->manifest);
    return rc;
}

static int walk_entries(struct walk *x, struct be_diag *diag)
{
    struct archive_entry *e;
    for (;;) {
        int r = archive_read_next_header(x->a, &e);
        if (r == ARCHIVE_EOF)
            return finish(x, diag);
        /* A warning is an entry libarchive could not fully decode (a name
         * in no known charset, a damaged header): refused, not guessed. */
        if (r == ARCHIVE_WARN)
            return be_fail(diag, BE_ARCHIVE_INVALID, "archive entry %llu cannot be decoded: %.200s",
                           (unsigned long long)x->nentries + 1, archive_error_string(x->a));
        if (r != ARCHIVE_OK && x->nentries == 0)
            return be_fail(diag, BE_ARCHIVE_INVALID,
                           "the archive is not a zip, tar or tar.gz: %.200s",
                           archive_error_string(x->a));
        if (r != ARCHIVE_OK)
            return be_fail(diag, BE_ARCHIVE_INVALID,
                           "the archive is damaged after entry %llu: %.200s",
                           (unsigned long long)x->nentries, archive_error_string(x->a));
        int rc = add_entry(x, e, diag);
        if (rc)
            return rc;
    }
}

static struct archive *reader_new(void)
{
    struct archive *a = archive_read_new();
    if (!a)
        return NULL;
    /* Exactly these formats and this one filter: nothing else is bid on. */
    if (archive_read_support_format_zip(a) != ARCHIVE_OK ||
        archive_read_support_format_tar(a) != ARCHIVE_OK ||
        archive_read_support_filter_gzip(a) != ARCHIVE_OK) {
        archive_read_free(a);
        return NULL;
    }
    return a;
}

int unpack_archive(const struct app *app, const char *path, const struct manifest_limits *lim,
                   struct unpack *u, struct be_diag *diag)
{
    struct walk x = {app, lim, NULL, u, json_array(), NULL, 0, 0, 0, 0, xmalloc(UNPACK_CHUNK)};
    int rc = BE_OK;
    /* Entry names are UTF-8 (zip's flag, pax): libarchive converts them to
     * the thread's locale, so this thread reads in C.UTF-8 for the pass. */
    locale_t utf8 = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
    locale_t old = utf8 ? uselocale(utf8) : (locale_t)0;
    if (!utf8)
        log_warn("unpack: no C.UTF-8 locale: non-ASCII entry names will be refused");
    if ((rc = check_zip_directory(path, 2 * lim->max_files, diag)))
        goto out;
    if (!(x.a = reader_new())) {
        rc = be_fail(diag, BE_INTERNAL, "cannot start libarchive");
        goto out;
    }
    if (archive_read_open_filename(x.a, path, UNPACK_CHUNK) != ARCHIVE_OK) {
        rc = be_fail(diag, BE_ARCHIVE_INVALID, "the archive is not a zip, tar or tar.gz: %.200s",
                     archive_error_string(x.a));
        goto out;
    }
    rc = walk_entries(&x, diag);
out:
    if (rc)
        sanitize(diag);
    if (x.a)
        archive_read_free(x.a);
    if (utf8) {
        uselocale(old);
        freelocale(utf8);
    }
    for (size_t i = 0; i < x.ndirs; i++)
        free(x.dirs[i]);
    free(x.dirs);
    free(x.chunk);
    json_decref(x.files);
    return rc;
}
