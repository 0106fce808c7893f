/* The CLI's saved login: server, device and temporary credentials, in
 * $XDG_CONFIG_HOME/bindery/credentials (or ~/.config/bindery/credentials)
 * as one JSON object. The file is mode 0600 in a 0700 directory and is
 * replaced atomically (temporary file, fsync, rename, fsync of the
 * directory), so a reader sees the old or the new login, never half. */
#ifndef BINDERY_CLI_CREDENTIALS_H
#define BINDERY_CLI_CREDENTIALS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "core/err.h"

#define CLI_SERVER_MAX 512

struct cli_credentials {
    char server[CLI_SERVER_MAX + 1]; /* "http://127.0.0.1:8080", no trailing slash */
    char client_id[65];
    char device_id[64];
    char tmp_secret_id[128];
    char tmp_secret_key[128];
    char token[4097];
    char refresh_token[128];
    int64_t expires_at;         /* unix seconds, of the temporary credentials */
    int64_t refresh_expires_at; /* unix seconds */
    char uin[24];
    char owner_uin[24];
    uint64_t app_id;
    char kind[24];
};

/* The file's path into out (size n): BE_INVALID_PARAMETER when neither
 * XDG_CONFIG_HOME (absolute) nor HOME is set, or the path is too long. */
int cli_credentials_path(char *out, size_t n, struct be_diag *diag);

/* Loads the file: BE_AUTH_TOKEN "not logged in; run bindery login" when it
 * does not exist, BE_INVALID_PARAMETER when it cannot be read or parsed
 * (the message names the path). */
int cli_credentials_load(struct cli_credentials *ret, struct be_diag *diag);

/* Writes the file atomically with mode 0600 (directories made 0700). */
int cli_credentials_save(const struct cli_credentials *c, struct be_diag *diag);

/* Deletes the file; not an error when it is absent. */
int cli_credentials_remove(struct be_diag *diag);

/* Fills c's token fields from a token endpoint answer (RFC 6749 §5.1 plus
 * Credentials{TmpSecretId, TmpSecretKey, Token}); now is the local clock.
 * BE_INVALID_PARAMETER when a field is missing or too long. */
int cli_credentials_from_token_response(struct cli_credentials *c, json_t *resp, int64_t now,
                                        struct be_diag *diag);

/* An exclusive lock (flock) on the credentials' directory lock file, so that
 * two CLI processes never refresh at once (a refresh token works once; the
 * second use would revoke the login). *ret_fd for cli_credentials_unlock. */
int cli_credentials_lock(int *ret_fd, struct be_diag *diag);
void cli_credentials_unlock(int fd);

#endif
