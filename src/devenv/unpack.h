/* Unpacking an archive upload (zip, tar, tar.gz) into the blob store, in one
 * streaming pass with libarchive (docs/environments.md, "Archive uploads").
 *
 * Every entry is checked before its bytes are stored:
 *
 *   - only regular files and directories: symbolic links, hard links,
 *     character and block devices, FIFOs and sockets are refused;
 *   - its name goes through the manifest's path rules
 *     (manifest_check_path: relative UTF-8, no "." or ".." component, no
 *     control character or backslash, length limits), after dropping a
 *     leading "./" (what `tar -C dir .` writes) and, for a directory, one
 *     trailing "/"; a name that fails is refused, which covers zip-slip;
 *   - the limits are counted on the bytes actually read, never on the
 *     sizes the headers declare: a file stops being read as soon as it
 *     passes limits.max_file_bytes, the archive as soon as its files pass
 *     limits.max_total_bytes or hold more than limits.max_files files (or
 *     twice that many entries with the directories), so a compression bomb
 *     costs at most the limits.
 *
 * Each file is hashed while it is written as a blob (blob_writer unnamed);
 * the manifest is then built from the files (mode 0755 when the entry has
 * any execute bit, else 0644) and validated by manifest_from_json, which
 * refuses duplicates and a path that is both a file and a directory. Empty
 * directories are not part of a version.
 *
 * Errors: BE_ARCHIVE_INVALID (not a zip, tar or tar.gz, corrupt or
 * encrypted data, a refused entry or name), BE_ARCHIVE_LIMIT (a limit),
 * BE_INTERNAL (the blob store); the diag names the entry, escaped so that
 * it is printable UTF-8. */
#ifndef BINDERY_DEVENV_UNPACK_H
#define BINDERY_DEVENV_UNPACK_H

#include <stddef.h>
#include <stdint.h>

#include "app.h"
#include "core/err.h"
#include "devenv/blobstore.h"
#include "devenv/manifest.h"

/* The state of one unpacking: init, unpack_archive, release. */
struct unpack {
    /* The archive's files, validated: filled when unpack_archive succeeds. */
    struct manifest manifest;
    /* Every blob stored (or found already stored) for the archive's files,
     * also when unpack_archive fails part way: the caller records them so
     * that garbage collection can find the ones nothing refers to. */
    struct blob_ref *blobs;
    size_t nblobs;
};

void unpack_init(struct unpack *u);
void unpack_release(struct unpack *u);

/* Reads the archive at path (zip, tar or gzip-compressed tar) against lim,
 * storing its files as blobs; on success u->manifest lists them. */
int unpack_archive(const struct app *app, const char *path, const struct manifest_limits *lim,
                   struct unpack *u, struct be_diag *diag);

#endif
