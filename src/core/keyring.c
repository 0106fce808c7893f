#include "core/keyring.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/banned.h"

void keyring_derive(const unsigned char master[CRYPTO_KEY_LEN], struct keyring *ret)
{
    crypto_hkdf(master, CRYPTO_KEY_LEN, "bindery seal v1", ret->seal, sizeof(ret->seal));
    crypto_hkdf(master, CRYPTO_KEY_LEN, "bindery csrf v1", ret->csrf, sizeof(ret->csrf));
    crypto_hkdf(master, CRYPTO_KEY_LEN, "bindery token v1", ret->token, sizeof(ret->token));
    crypto_hkdf(master, CRYPTO_KEY_LEN, "bindery upload url v1", ret->upload, sizeof(ret->upload));
}

void keyring_wipe(struct keyring *k)
{
    crypto_wipe(k, sizeof(*k));
}

static int create_key(const char *path, unsigned char master[CRYPTO_KEY_LEN],
                      struct be_diag *diag)
{
    struct buf hex = BUF_INIT;
    crypto_random(master, CRYPTO_KEY_LEN);
    buf_addhex(&hex, master, CRYPTO_KEY_LEN);
    buf_addch(&hex, '\n');
    /* O_EXCL: two processes starting at once must not both write a key. */
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    int rc = BE_OK;
    if (fd < 0) {
        rc = errno == EEXIST ? BE_CONFLICT
                             : be_fail(diag, BE_FAILED, "cannot create %s: %s", path,
                                       strerror(errno));
        goto out;
    }
    if (write(fd, hex.data, hex.len) != (ssize_t)hex.len || fsync(fd)) {
        rc = be_fail(diag, BE_FAILED, "cannot write %s: %s", path, strerror(errno));
        unlink(path);
    }
    close(fd);
out:
    crypto_wipe(hex.data, hex.len);
    buf_release(&hex);
    return rc;
}

static int read_key(const char *path, unsigned char master[CRYPTO_KEY_LEN], struct be_diag *diag)
{
    char text[128];
    struct stat st;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return be_fail(diag, BE_FAILED, "cannot open %s: %s", path, strerror(errno));
    if (fstat(fd, &st) || (st.st_mode & 077)) {
        close(fd);
        return be_fail(diag, BE_FAILED,
                       "%s must be readable by its owner only (chmod 600 %s)", path, path);
    }
    ssize_t n = read(fd, text, sizeof(text) - 1);
    close(fd);
    if (n < 0)
        return be_fail(diag, BE_FAILED, "cannot read %s", path);
    text[n] = '\0';
    while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == '\r' || text[n - 1] == ' '))
        text[--n] = '\0';
    int rc = crypto_hex_decode(text, master, CRYPTO_KEY_LEN);
    crypto_wipe(text, sizeof(text));
    if (rc)
        return be_fail(diag, BE_FAILED, "%s does not hold 64 hex digits", path);
    return BE_OK;
}

int keyring_load(const char *data_dir, const char *key_file, struct keyring *ret, bool *ret_created,
                 struct be_diag *diag)
{
    unsigned char master[CRYPTO_KEY_LEN];
    struct buf path = BUF_INIT;
    bool created = false;
    int rc;
    if (mkdir(data_dir, 0700) && errno != EEXIST) {
        rc = be_fail(diag, BE_FAILED, "cannot create data directory %s: %s", data_dir,
                     strerror(errno));
        goto out;
    }
    if (key_file && *key_file)
        buf_adds(&path, key_file);
    else
        buf_addf(&path, "%s/master.key", data_dir);
    if (access(path.data, F_OK) != 0) {
        rc = create_key(path.data, master, diag);
        if (rc == BE_OK)
            created = true;
        else if (rc != BE_CONFLICT)
            goto out;
    }
    if (!created && (rc = read_key(path.data, master, diag)))
        goto out;
    keyring_derive(master, ret);
    if (ret_created)
        *ret_created = created;
    rc = BE_OK;
out:
    crypto_wipe(master, sizeof(master));
    buf_release(&path);
    return rc;
}
