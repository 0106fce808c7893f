/* The archive PUT of archive uploads (devenv/upload_archive.h):
 * PUT /v1/archives/{UploadId}?Expires=T&Signature=S, a streamed route (the
 * archive, up to deploy.max_version_bytes, never sits in memory) listed in
 * web_stream_routes. No credential but the pre-signed URL. Answers 200 with
 * {"Response":{"UploadId","Size","RequestId"}}, or the error in the
 * API envelope with its own status: 403 for a bad or expired URL, 404 for
 * no upload, 409 for a committed or expired upload, 422 when the bytes do
 * not match the declared size or SHA-256 (nothing kept). */
#ifndef BINDERY_API_DEVENV_ARCHIVE_WEB_H
#define BINDERY_API_DEVENV_ARCHIVE_WEB_H

#include <stddef.h>

#include "http/http.h"

/* The stream route's handler (ctx: struct web). */
void web_archive_put(struct http_request *req, void *ctx);

#endif
