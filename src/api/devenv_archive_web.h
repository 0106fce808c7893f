/* The archive PUT of archive uploads (devenv/upload_archive.h):
 * PUT /v1/archives/{UploadId}?Expires=T&Signature=S, a streamed route (the
 * archive, up to deploy.max_version_bytes, never sits in memory) listed in
 * web_stream_routes. No credential but the pre-signed URL. Answers 200 with
 * {"Response":{"UploadId","Size","RequestId"}}, or the error in the
 * API envelope with its own status: 403 for a bad or expired URL, 404 for
 * no upload, 409 for a committed or expired upload, 422 when the bytes do
 * not match the declared size or SHA-256 (nothing kept). The four
 * functions are the route's begin, data, end and abort (http/http.h). */
#ifndef BINDERY_API_DEVENV_ARCHIVE_WEB_H
#define BINDERY_API_DEVENV_ARCHIVE_WEB_H

#include <stddef.h>

#include "http/http.h"

void *web_archive_put_begin(struct http_request *req, void *ctx);
int web_archive_put_data(void *state, const void *data, size_t len);
void web_archive_put_end(struct http_request *req, void *ctx, void *state);
void web_archive_put_abort(void *state);

#endif
