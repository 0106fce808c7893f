/* The developer CLI's client of a Bindery server (docs/devtools.md): API 3.0
 * actions signed with TC3-HMAC-SHA256 by the temporary credentials of
 * `bindery login` (cli/credentials.h), refreshed transparently, over
 * libcurl. One client per process; not thread-safe.
 *
 *     struct cli_client *c;
 *     if (cli_client_open(&c, &diag)) ...            // "not logged in; run bindery login"
 *     rc = cli_call(c, "DescribeDevices", NULL, &resp, &diag);
 *     cli_client_close(c);
 */
#ifndef BINDERY_CLI_CLIENT_H
#define BINDERY_CLI_CLIENT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "cli/credentials.h"
#include "core/buf.h"
#include "core/err.h"

#define CLI_SERVICE        "bindery"
#define CLI_VERSION        "2026-11-01"
#define CLI_DEFAULT_SERVER "http://127.0.0.1:8080"
#define CLI_CLIENT_ID      "bindery-cli"
#define CLI_RESPONSE_MAX   (16u << 20) /* bytes of one answer */

struct cli_client; /* server URL + credentials from ~/.config/bindery/credentials */

/* Loads the saved login: BE_AUTH_TOKEN "not logged in; run bindery login"
 * when there is none. */
int cli_client_open(struct cli_client **ret, struct be_diag *diag);

/* TC3-signed POST of one action (service bindery, version 2026-11-01);
 * refreshes the temporary credentials when they expire or the server
 * answers AuthFailure.TokenFailure / SecretIdNotFound. *ret_response = the
 * "Response" object minus RequestId (new reference). An API error: its BE_*
 * code (BE_FAILED for codes this build does not know) and "Code: Message"
 * in diag. A login that ended (refresh token revoked, reused or expired):
 * BE_AUTH_TOKEN with "... run bindery login again". params may be NULL. */
int cli_call(struct cli_client *c, const char *action, json_t *params, json_t **ret_response,
             struct be_diag *diag);

/* cli_call() for an action of another service and version (e.g. "cam",
 * "2019-01-16", "GetUserAppId"). */
int cli_call_service(struct cli_client *c, const char *service, const char *version,
                     const char *action, json_t *params, json_t **ret_response,
                     struct be_diag *diag);

/* Raw upload of a file's bytes to a pre-signed URL the server returned
 * (PUT, streamed). BE_FAILED with the HTTP status when it is not 2xx. */
int cli_put_file(struct cli_client *c, const char *url, const char *path, struct be_diag *diag);

/* The login the client uses (borrowed, valid until close). */
const struct cli_credentials *cli_client_credentials(const struct cli_client *c);

void cli_client_close(struct cli_client *c);

/* ---- For bindery login / logout --------------------------------------- */

/* Appends name=value to a form body, percent-encoding both (RFC 3986
 * unreserved characters kept), with '&' between pairs. */
void cli_form_add(struct buf *form, const char *name, const char *value);

/* POSTs an application/x-www-form-urlencoded body to server + path (the
 * OAuth endpoints). *ret_status gets the HTTP status and *ret_json the
 * parsed JSON answer (new reference; NULL when the body is not JSON).
 * BE_UPSTREAM with a message when the server cannot be reached. */
int cli_oauth_post(const char *server, const char *path, const char *form, long *ret_status,
                   json_t **ret_json, struct be_diag *diag);

/* Uses the refresh token of *cred once (under the credentials lock, after
 * re-reading the file in case another process refreshed first) and saves
 * the new credentials into *cred and the file. BE_AUTH_TOKEN with "run
 * bindery login again" when the server refuses it. */
int cli_refresh(struct cli_credentials *cred, struct be_diag *diag);

#endif
