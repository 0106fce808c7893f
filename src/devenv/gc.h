/* Garbage collection of uploads and blobs (docs/environments.md):
 *
 *   1. open uploads past their expiry become `expired` and their file
 *      lists are dropped (CommitUpload then answers UploadExpired); the
 *      archive files of archive uploads no longer open are removed
 *      (devenv/upload_archive.h);
 *   2. versions beyond the newest deploy.keep_versions of an environment
 *      are deleted, unless live or previous (the deploy engine's
 *      env_runtime) or named by a queued or running deploy;
 *   3. a blob is removed when no version refers to it, no open unexpired
 *      upload lists it, and it was last used (stored, offered to an upload,
 *      committed) more than deploy.blob_grace seconds ago.
 *
 * Both are claimed through the store: the rows are changed in one
 * transaction per batch (FOR UPDATE SKIP LOCKED on PostgreSQL), so with
 * several instances each is collected once; a blob's file is removed only
 * after its row is gone. CreateUpload and CommitUpload touch the rows of
 * the blobs they rely on, so a collection racing with them conflicts on
 * those rows instead of removing a blob in use. */
#ifndef BINDERY_DEVENV_GC_H
#define BINDERY_DEVENV_GC_H

#include <stddef.h>
#include <stdint.h>

#include "app.h"

#define GC_BATCH 200

struct gc_stats {
    size_t uploads; /* uploads expired */
    size_t versions; /* versions deleted by retention */
    size_t blobs;    /* blobs removed */
};

/* One pass at time now (at most GC_BATCH of each); *ret gets the counts. */
int gc_round(struct app *app, int64_t now, struct gc_stats *ret);

#endif
