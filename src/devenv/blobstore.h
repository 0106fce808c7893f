/* The content-addressed blob store: every file of every version, once, on
 * disk under its SHA-256:
 *
 *     <data_dir>/objects/sha256/ab/cd/<64 hex digits>     (mode 0444)
 *
 * A blob is written to a temporary file in its final directory
 * (".tmp-<hex>-XXXXXX") while its SHA-256 is computed, checked against the
 * expected size and digest, fsynced, then linked to its final name (an
 * existing blob is never replaced: a concurrent writer of the same bytes
 * simply finds it there), and the directory is fsynced. A reader therefore
 * sees a complete, verified blob or none; a blob is never modified, only
 * removed by garbage collection (devenv/gc.h) once nothing refers to it.
 *
 * The store's `blobs` table records which blobs exist (with their last use)
 * for the garbage collector; these functions touch the files only. Errors:
 * BE_INVALID_PARAMETER_VALUE for a name that is not 64 lowercase hex digits,
 * BE_DIGEST_MISMATCH when the bytes do not match (nothing is kept),
 * BE_INTERNAL for a file system failure (logged once here, with the path). */
#ifndef BINDERY_DEVENV_BLOBSTORE_H
#define BINDERY_DEVENV_BLOBSTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "app.h"
#include "core/buf.h"
#include "core/err.h"

/* A blob by name and size (a plain value). */
struct blob_ref {
    char sha256[65]; /* 64 lowercase hex digits */
    uint64_t size;
};

/* Appends the path of blob sha256_hex (64 lowercase hex digits) to ret. */
int blobstore_path(const struct app *app, const char *sha256_hex, struct buf *ret);

/* true when the blob is stored with exactly size bytes. */
bool blobstore_has(const struct app *app, const char *sha256_hex, uint64_t size);

/* Removes a blob's file (garbage collection); a blob already gone is not an
 * error. */
int blobstore_remove(const struct app *app, const char *sha256_hex);

/* Writing one blob: open, write the bytes in pieces, then commit (verify
 * and publish) or abort. Every path frees the writer exactly once: commit
 * and abort both free it, whatever they return. */
struct blob_writer;

/* Starts a blob of exactly size bytes named sha256_hex. */
int blob_writer_open(const struct app *app, const char *sha256_hex, uint64_t size,
                     struct blob_writer **ret_writer, struct be_diag *diag);
/* Appends len bytes. More bytes than announced: BE_DIGEST_MISMATCH (the
 * writer stays valid for abort). */
int blob_writer_write(struct blob_writer *w, const void *data, size_t len, struct be_diag *diag);
/* Verifies size and SHA-256, then publishes the blob; frees w. */
int blob_writer_commit(struct blob_writer *w, struct be_diag *diag);
/* Drops the temporary file; frees w. NULL is accepted. */
void blob_writer_abort(struct blob_writer *w);

/* Writing a blob whose digest is not known in advance (a file coming out of
 * an archive): the bytes go to a temporary file under
 * <data_dir>/objects/tmp while hashed, at most max_size of them (more is
 * BE_DIGEST_MISMATCH, as above); blob_writer_commit_unnamed then publishes
 * them under their SHA-256 exactly as blob_writer_commit does (an existing
 * blob is kept, the new copy dropped). Abort with blob_writer_abort. */
int blob_writer_open_unnamed(const struct app *app, uint64_t max_size,
                             struct blob_writer **ret_writer, struct be_diag *diag);
/* Publishes an unnamed blob; writes its SHA-256 (64 lowercase hex digits)
 * to ret_sha256 on success; frees w. Only for unnamed writers. */
int blob_writer_commit_unnamed(struct blob_writer *w, char ret_sha256[65], struct be_diag *diag);

/* Bytes written so far. */
uint64_t blob_writer_written(const struct blob_writer *w);

#endif
