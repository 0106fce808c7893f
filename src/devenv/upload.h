/* Uploads (上传) into immutable versions (docs/environments.md):
 *
 *   CreateUpload   the client sends the whole tree's manifest; the server
 *                  stores it under a new UploadId (valid deploy.upload_ttl
 *                  seconds) and answers the blobs it lacks, each with a
 *                  pre-signed PUT URL;
 *   PUT            the client sends only those blobs, raw, to
 *                  /v1/uploads/{UploadId}/blobs/{sha256}?Expires=T&Signature=S
 *                  (no other credential: S = HMAC-SHA256 with the keyring's
 *                  upload key over "PUT\n<path>\n<T>", binding the upload, the
 *                  blob and the expiry); size and SHA-256 are checked while
 *                  streaming;
 *   CommitUpload   every blob present: version N of the environment, N =
 *                  the previous + 1 (no gaps, even with concurrent commits:
 *                  one transaction bumps the environment's counter), with
 *                  the manifest, runtime, entry, description, author, time.
 *
 * Errors: BE_ENV_NOT_FOUND, BE_ENV_NOT_READY, BE_UPLOAD_NOT_FOUND,
 * BE_UPLOAD_EXPIRED, BE_UPLOAD_COMMITTED, BE_BLOBS_MISSING (the diag names
 * the missing paths), BE_MANIFEST_INVALID (the entry is not a file of the
 * upload), BE_UPLOAD_URL_INVALID / BE_UPLOAD_URL_EXPIRED, store errors. */
#ifndef BINDERY_DEVENV_UPLOAD_H
#define BINDERY_DEVENV_UPLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "app.h"
#include "cam/principal.h"
#include "core/buf.h"
#include "core/err.h"
#include "devenv/blobstore.h"
#include "devenv/manifest.h"

#define UPLOAD_ID_LEN    29 /* "up-" + 26 base32 characters */
#define UPLOAD_ENTRY_MAX 512
#define UPLOAD_DESC_MAX  256
/* Paths a BlobsMissing diag names before "and N more". */
#define UPLOAD_MISSING_NAMED 10

struct upload_missing {
    char sha256[MANIFEST_SHA256_HEX + 1];
    uint64_t size;
    char *path; /* one path with these bytes (owned) */
};

struct upload_created {
    char upload_id[UPLOAD_ID_LEN + 1];
    int64_t expires_at;
    struct upload_missing *missing; /* distinct blobs the server lacks */
    size_t nmissing;
    uint64_t missing_bytes;
};

/* CreateUpload for who's environment env_id (must be READY) with the
 * validated manifest m. Audited. Release *ret with upload_created_release. */
int upload_create(struct app *app, const struct req_meta *meta, const struct principal *who,
                  const char *env_id, const struct manifest *m, const char *description,
                  struct upload_created *ret, struct be_diag *diag);
void upload_created_release(struct upload_created *u);

/* The environment of owner_uin's upload upload_id, into env_id
 * (ENV_ID_MAX + 1 bytes): BE_UPLOAD_NOT_FOUND when there is none. For the
 * CAM resource of CommitUpload. */
int upload_env_of(struct app *app, uint64_t owner_uin, const char *upload_id, char *env_id,
                  size_t env_id_size);

/* A new random UploadId ("up-" + 26 base32 characters) into out. */
void upload_make_id(char out[UPLOAD_ID_LEN + 1]);

/* The pre-signed URL of one blob of an upload (public_url + path + query),
 * appended to ret_url. */
void upload_presign(const struct app *app, const char *upload_id, const char *sha256,
                    int64_t expires_at, struct buf *ret_url);

/* Checks a PUT's path parameters and query against its signature at now:
 * BE_UPLOAD_URL_INVALID (malformed, another upload or blob, tampered) or
 * BE_UPLOAD_URL_EXPIRED. */
int upload_check_url(const struct app *app, const char *upload_id, const char *sha256,
                     const char *expires, const char *signature, int64_t now, struct be_diag *diag);

/* The size the open, unexpired upload upload_id expects for blob sha256:
 * BE_UPLOAD_NOT_FOUND, BE_UPLOAD_EXPIRED, BE_UPLOAD_COMMITTED, or
 * BE_UPLOAD_URL_INVALID when the upload does not list that blob. */
int upload_blob_expected(struct app *app, const char *upload_id, const char *sha256, int64_t now,
                         uint64_t *ret_size, struct be_diag *diag);

/* An upload's state (its uploads.state, expires_at and version) at now as an
 * error: BE_OK when open and unexpired, else BE_UPLOAD_COMMITTED or
 * BE_UPLOAD_EXPIRED with a diag. */
int upload_check_state(const char *state, int64_t expires_at, int64_t now, int64_t version,
                       struct be_diag *diag);

/* Records that blob sha256 (size bytes) is stored (after blob_writer_commit). */
int upload_blob_stored(struct app *app, const char *sha256, uint64_t size, int64_t now);
/* The same for n blobs, in one transaction. */
int upload_blobs_stored(struct app *app, const struct blob_ref *blobs, size_t n, int64_t now);

/* The signature (64 hex digits) of a pre-signed "PUT <path>" valid until
 * expires_at: HMAC-SHA256 with the keyring's upload key over
 * "PUT\n<path>\n<expires_at>". Blob URLs and archive URLs both use it. */
void upload_sign(const struct app *app, const char *path, int64_t expires_at, char ret_sig[65]);

/* CommitUpload: version N of the upload's environment. runtime is "nodejs",
 * "python3" or "exec"; entry names a file of the upload (for exec: the first
 * word of the command, "./" allowed). Audited. */
int upload_commit(struct app *app, const struct req_meta *meta, const struct principal *who,
                  const char *upload_id, const char *runtime, const char *entry,
                  const char *description, int64_t *ret_version, struct be_diag *diag);

/* CommitUpload of an upload whose files were not listed at creation (an
 * archive upload, devenv/upload_archive.h): in the commit's transaction, the
 * upload's file list, count, bytes and manifest hash become m's (only while
 * the upload is open), then everything as upload_commit. */
int upload_commit_manifest(struct app *app, const struct req_meta *meta,
                           const struct principal *who, const char *upload_id,
                           const struct manifest *m, const char *runtime, const char *entry,
                           const char *description, int64_t *ret_version, struct be_diag *diag);

#endif
