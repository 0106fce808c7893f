#include "cli/credentials.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/crypto.h"
#include "core/banned.h"

#define FILE_MAX 65536

static int config_dir(char *out, size_t n, struct be_diag *diag)
{
    const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
    int len;
    if (xdg && xdg[0] == '/')
        len = snprintf(out, n, "%s/bindery", xdg);
    else if (home && *home)
        len = snprintf(out, n, "%s/.config/bindery", home);
    else
        return be_fail(diag, BE_INVALID_PARAMETER,
                       "neither XDG_CONFIG_HOME nor HOME is set: nowhere to keep credentials");
    if (len < 0 || (size_t)len >= n)
        return be_fail(diag, BE_INVALID_PARAMETER, "the configuration directory path is too long");
    return BE_OK;
}

int cli_credentials_path(char *out, size_t n, struct be_diag *diag)
{
    char dir[4096];
    int rc = config_dir(dir, sizeof(dir), diag);
    if (rc)
        return rc;
    int len = snprintf(out, n, "%s/credentials", dir);
    if (len < 0 || (size_t)len >= n)
        return be_fail(diag, BE_INVALID_PARAMETER, "the credentials path is too long");
    return BE_OK;
}

/* mkdir -p with mode 0700 for what it creates. */
static int make_dirs(const char *dir, struct be_diag *diag)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s", dir);
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(path, 0700) && errno != EEXIST)
            return be_fail(diag, BE_INVALID_PARAMETER, "cannot create %s: %s", path,
                           strerror(errno));
        *p = '/';
    }
    if (mkdir(path, 0700) && errno != EEXIST)
        return be_fail(diag, BE_INVALID_PARAMETER, "cannot create %s: %s", path, strerror(errno));
    return BE_OK;
}

static int get_str(json_t *o, const char *name, char *out, size_t n, bool required)
{
    json_t *v = json_object_get(o, name);
    if (!v || json_is_null(v)) {
        out[0] = '\0';
        return required ? BE_INVALID_PARAMETER : BE_OK;
    }
    if (!json_is_string(v) || json_string_length(v) >= n)
        return BE_INVALID_PARAMETER;
    snprintf(out, n, "%s", json_string_value(v));
    return BE_OK;
}

static int64_t get_i64(json_t *o, const char *name)
{
    json_t *v = json_object_get(o, name);
    return json_is_integer(v) ? (int64_t)json_integer_value(v) : 0;
}

#define GET(o, f, req) get_str(o, #f, c->f, sizeof(c->f), req)

static int from_json(json_t *o, struct cli_credentials *c)
{
    memset(c, 0, sizeof(*c));
    if (GET(o, server, true) || GET(o, client_id, true) || GET(o, device_id, false) ||
        GET(o, tmp_secret_id, true) || GET(o, tmp_secret_key, true) || GET(o, token, true) ||
        GET(o, refresh_token, true) || GET(o, uin, false) || GET(o, owner_uin, false) ||
        GET(o, kind, false))
        return BE_INVALID_PARAMETER;
    c->expires_at = get_i64(o, "expires_at");
    c->refresh_expires_at = get_i64(o, "refresh_expires_at");
    c->app_id = (uint64_t)get_i64(o, "app_id");
    return BE_OK;
}

int cli_credentials_load(struct cli_credentials *ret, struct be_diag *diag)
{
    char path[4200];
    json_error_t jerr;
    struct cli_credentials c;
    int rc = cli_credentials_path(path, sizeof(path), diag);
    if (rc)
        return rc;
    if (access(path, F_OK) && errno == ENOENT)
        return be_fail(diag, BE_AUTH_TOKEN, "not logged in; run bindery login");
    json_t *o = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    if (!o)
        return be_fail(diag, BE_INVALID_PARAMETER, "cannot read %s: %s", path, jerr.text);
    rc = from_json(o, &c);
    json_decref(o);
    if (rc)
        return be_fail(diag, rc, "%s is not a Bindery credentials file; run bindery login", path);
    *ret = c;
    crypto_wipe(&c, sizeof(c));
    return BE_OK;
}

static json_t *to_json(const struct cli_credentials *c)
{
    return json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:I,s:I,s:s,s:s,s:I,s:s}", "server", c->server,
                     "client_id", c->client_id, "device_id", c->device_id, "tmp_secret_id",
                     c->tmp_secret_id, "tmp_secret_key", c->tmp_secret_key, "token", c->token,
                     "refresh_token", c->refresh_token, "expires_at", (json_int_t)c->expires_at,
                     "refresh_expires_at", (json_int_t)c->refresh_expires_at, "uin", c->uin,
                     "owner_uin", c->owner_uin, "app_id", (json_int_t)c->app_id, "kind", c->kind);
}

static int write_all(int fd, const char *data, size_t len)
{
    while (len) {
        ssize_t w = write(fd, data, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        data += w;
        len -= (size_t)w;
    }
    return 0;
}

int cli_credentials_save(const struct cli_credentials *c, struct be_diag *diag)
{
    char dir[4096], path[4200], tmp[4200];
    int rc = config_dir(dir, sizeof(dir), diag), fd = -1, dfd = -1;
    if (rc || (rc = make_dirs(dir, diag)))
        return rc;
    snprintf(path, sizeof(path), "%s/credentials", dir);
    snprintf(tmp, sizeof(tmp), "%s/.credentials.XXXXXX", dir);
    json_t *o = to_json(c);
    char *text = o ? json_dumps(o, JSON_INDENT(2)) : NULL;
    json_decref(o);
    if (!text)
        return be_fail(diag, BE_INVALID_PARAMETER, "the server's answer holds unusable text");
    /* mkstemp creates the file 0600, so the secrets are never readable by
     * others, not even for a moment. */
    if ((fd = mkstemp(tmp)) < 0) {
        rc = be_fail(diag, BE_INVALID_PARAMETER, "cannot create a file in %s: %s", dir,
                     strerror(errno));
        goto out;
    }
    if (fchmod(fd, 0600) || write_all(fd, text, strlen(text)) || write_all(fd, "\n", 1) ||
        fsync(fd) || close(fd)) {
        fd = -1;
        rc = be_fail(diag, BE_INVALID_PARAMETER, "cannot write %s: %s", tmp, strerror(errno));
        unlink(tmp);
        goto out;
    }
    fd = -1;
    if (rename(tmp, path)) {
        rc = be_fail(diag, BE_INVALID_PARAMETER, "cannot replace %s: %s", path, strerror(errno));
        unlink(tmp);
        goto out;
    }
    if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0)
        fsync(dfd);
out:
    if (fd >= 0)
        close(fd);
    if (dfd >= 0)
        close(dfd);
    crypto_wipe(text, strlen(text));
    free(text);
    return rc;
}

int cli_credentials_remove(struct be_diag *diag)
{
    char path[4200];
    int rc = cli_credentials_path(path, sizeof(path), diag);
    if (rc)
        return rc;
    if (unlink(path) && errno != ENOENT)
        return be_fail(diag, BE_INVALID_PARAMETER, "cannot delete %s: %s", path, strerror(errno));
    return BE_OK;
}

int cli_credentials_from_token_response(struct cli_credentials *c, json_t *resp, int64_t now,
                                        struct be_diag *diag)
{
    json_t *cred = json_object_get(resp, "Credentials");
    json_t *exp = json_object_get(resp, "expires_in");
    json_t *rexp = json_object_get(resp, "refresh_token_expires_in");
    if (get_str(cred, "TmpSecretId", c->tmp_secret_id, sizeof(c->tmp_secret_id), true) ||
        get_str(cred, "TmpSecretKey", c->tmp_secret_key, sizeof(c->tmp_secret_key), true) ||
        get_str(cred, "Token", c->token, sizeof(c->token), true) ||
        get_str(resp, "refresh_token", c->refresh_token, sizeof(c->refresh_token), true) ||
        get_str(resp, "device_id", c->device_id, sizeof(c->device_id), false) ||
        get_str(resp, "Uin", c->uin, sizeof(c->uin), false) ||
        get_str(resp, "OwnerUin", c->owner_uin, sizeof(c->owner_uin), false) ||
        get_str(resp, "Kind", c->kind, sizeof(c->kind), false) || !json_is_integer(exp))
        return be_fail(diag, BE_INVALID_PARAMETER,
                       "the token endpoint's answer lacks the temporary credentials");
    c->expires_at = now + (int64_t)json_integer_value(exp);
    c->refresh_expires_at = json_is_integer(rexp) ? now + (int64_t)json_integer_value(rexp) : 0;
    c->app_id = (uint64_t)get_i64(resp, "AppId");
    return BE_OK;
}

int cli_credentials_lock(int *ret_fd, struct be_diag *diag)
{
    char dir[4096], path[4200];
    int rc = config_dir(dir, sizeof(dir), diag);
    if (rc || (rc = make_dirs(dir, diag)))
        return rc;
    snprintf(path, sizeof(path), "%s/credentials.lock", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0 || flock(fd, LOCK_EX)) {
        if (fd >= 0)
            close(fd);
        return be_fail(diag, BE_INVALID_PARAMETER, "cannot lock %s: %s", path, strerror(errno));
    }
    *ret_fd = fd;
    return BE_OK;
}

void cli_credentials_unlock(int fd)
{
    if (fd >= 0)
        close(fd);
}
