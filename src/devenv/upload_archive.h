/* Archive uploads (上传, the zip path) for tools that only make a zip (or a
 * tar, tar.gz) of the tree (docs/environments.md, "Archive uploads"):
 *
 *   CreateArchiveUpload  the client declares the archive's size and SHA-256;
 *                        the server opens an upload (valid
 *                        deploy.upload_ttl seconds, no file list yet) and
 *                        answers one pre-signed PUT URL for it;
 *   PUT                  /v1/archives/{UploadId}?Expires=T&Signature=S, the
 *                        archive, streamed to a temporary file under
 *                        <data_dir>/uploads, size and SHA-256 checked before
 *                        it takes its name <UploadId>.archive;
 *   CommitUpload         (the same action as for a manifest upload)
 *                        unpacks the archive into the blob store
 *                        (devenv/unpack.h: every entry and limit checked),
 *                        records its blobs, then makes version N through
 *                        upload_commit_manifest: one commit path.
 *
 * A failed unpacking makes no version and leaves the upload open (a
 * CommitUpload with another Entry may follow); blobs it stored are
 * recorded and, referenced by nothing, collected by the GC after
 * deploy.blob_grace. upload_archive_gc removes the archive files of
 * uploads that are committed, expired or gone.
 *
 * Errors: those of devenv/upload.h, BE_ARCHIVE_LIMIT (a declared size over
 * deploy.max_version_bytes), BE_INVALID_PARAMETER_VALUE (a malformed
 * Sha256), BE_BLOBS_MISSING (commit before the archive arrived), and the
 * unpacking's (devenv/unpack.h). */
#ifndef BINDERY_DEVENV_UPLOAD_ARCHIVE_H
#define BINDERY_DEVENV_UPLOAD_ARCHIVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "app.h"
#include "cam/principal.h"
#include "core/buf.h"
#include "core/err.h"
#include "devenv/upload.h"

#define UPLOAD_ARCHIVE_PREFIX "/v1/archives/"

struct upload_archive_created {
    char upload_id[UPLOAD_ID_LEN + 1];
    int64_t expires_at;
};

/* CreateArchiveUpload for who's environment env_id (READY; its link is
 * verified with WeChat first, as for CreateUpload): an archive of size
 * bytes (1..deploy.max_version_bytes) whose SHA-256 is sha256 (64 hex
 * digits, any case). Audited. */
int upload_archive_create(struct app *app, const struct req_meta *meta, const struct principal *who,
                          const char *env_id, const char *sha256, uint64_t size,
                          const char *description, struct upload_archive_created *ret,
                          struct be_diag *diag);

/* The archive's pre-signed URL (public_url + path + query), appended to
 * ret_url: signed as the blob URLs are (upload_sign) over its own path. */
void upload_archive_presign(const struct app *app, const char *upload_id, int64_t expires_at,
                            struct buf *ret_url);

/* Checks a PUT's upload id, Expires and Signature at now:
 * BE_UPLOAD_URL_INVALID or BE_UPLOAD_URL_EXPIRED. */
int upload_archive_check_url(const struct app *app, const char *upload_id, const char *expires,
                             const char *signature, int64_t now, struct be_diag *diag);

/* Sets *ret_is when owner_uin's upload upload_id takes an archive (false
 * for a manifest upload and for no upload at all). */
int upload_archive_is(struct app *app, uint64_t owner_uin, const char *upload_id, bool *ret_is);

/* Receiving the archive of an upload: begin (the upload must be open and
 * take an archive), write the body in pieces, then finish (verify, name,
 * record) or abort. finish and abort free w whatever they return. */
struct upload_archive_writer;

int upload_archive_begin(struct app *app, const char *upload_id, int64_t now,
                         struct upload_archive_writer **ret_writer, struct be_diag *diag);
/* The size the upload declared. */
uint64_t upload_archive_expected(const struct upload_archive_writer *w);
/* More bytes than declared: BE_DIGEST_MISMATCH (w stays valid for abort). */
int upload_archive_write(struct upload_archive_writer *w, const void *data, size_t len,
                         struct be_diag *diag);
/* Size and SHA-256 as declared, else BE_DIGEST_MISMATCH and nothing kept. */
int upload_archive_finish(struct upload_archive_writer *w, struct be_diag *diag);
/* NULL is accepted. */
void upload_archive_abort(struct upload_archive_writer *w);

/* CommitUpload of an archive upload (see the top of this file). */
int upload_archive_commit(struct app *app, const struct req_meta *meta, const struct principal *who,
                          const char *upload_id, const char *runtime, const char *entry,
                          const char *description, int64_t *ret_version, struct be_diag *diag);

/* Garbage collection at now: removes the archive files (and rows) of
 * uploads no longer open, at most GC_BATCH; *ret_removed gets the count. */
int upload_archive_gc(struct app *app, int64_t now, size_t *ret_removed);

#endif
