/* Immutable versions of an environment, as CommitUpload made them
 * (devenv/upload.h): the provider the deploy engine reads a version's files
 * from. A version never changes once committed; its files are blobs of the
 * content-addressed store (devenv/blobstore.h), so
 *
 *     struct version_info v;
 *     if (version_get(app, owner_uin, env_id, 0, &v, diag) == BE_OK) {
 *         for (size_t i = 0; i < v.nfiles; i++) {
 *             struct buf p = BUF_INIT;
 *             blobstore_path(app, v.files[i].sha256, &p);   // read-only, 0444
 *             ... materialize v.files[i].path (v.files[i].mode) from p.data ...
 *             buf_release(&p);
 *         }
 *         version_info_release(&v);
 *     }
 *
 * materializes version N (hard links from the store work: same file
 * system; never write through them). Errors: BE_ENV_NOT_FOUND (no such
 * environment in owner's account), BE_VERSION_NOT_FOUND, store errors. */
#ifndef BINDERY_DEVENV_VERSION_H
#define BINDERY_DEVENV_VERSION_H

#include <stddef.h>
#include <stdint.h>

#include "app.h"
#include "core/err.h"
#include "devenv/env.h"
#include "devenv/manifest.h"
#include "devenv/upload.h"

#define VERSION_PAGE_MAX 100

struct version_info {
    char env_id[ENV_ID_MAX + 1];
    int64_t number;   /* 1, 2, 3 ... per environment */
    char runtime[16]; /* "nodejs", "python3", "exec" */
    char entry[UPLOAD_ENTRY_MAX + 1];
    char description[UPLOAD_DESC_MAX + 1];
    char upload_id[UPLOAD_ID_LEN + 1];
    char manifest_hash[MANIFEST_SHA256_HEX + 1];
    uint64_t created_by; /* the principal who committed it */
    int64_t created_at;
    size_t nfiles;
    uint64_t bytes;
    /* Sorted by path; NULL in version_list's entries. Owned (release). */
    struct manifest_file *files;
};

/* Version number of owner_uin's environment env_id (number 0: the newest),
 * with its files. Release *ret with version_info_release. */
int version_get(struct app *app, uint64_t owner_uin, const char *env_id, int64_t number,
                struct version_info *ret, struct be_diag *diag);
void version_info_release(struct version_info *v);

/* The versions of env_id, newest first, from offset, at most limit
 * (1..VERSION_PAGE_MAX), without their files. *ret_versions is malloc'd. */
int version_list(struct app *app, uint64_t owner_uin, const char *env_id, size_t offset,
                 size_t limit, struct version_info **ret_versions, size_t *ret_n,
                 size_t *ret_total);

#endif
