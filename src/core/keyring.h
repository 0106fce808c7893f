/* The master key and the keys derived from it. The master key is 32 random
 * bytes kept hex-encoded in DATA_DIR/master.key (mode 0600), generated on
 * first start. Every other key is derived with HKDF and a fixed label, so
 * the master key itself is never used directly. */
#ifndef BINDERY_CORE_KEYRING_H
#define BINDERY_CORE_KEYRING_H

#include "core/crypto.h"
#include "core/err.h"

struct keyring {
    unsigned char seal[CRYPTO_KEY_LEN];  /* AES-256-GCM for secrets at rest */
    unsigned char csrf[CRYPTO_KEY_LEN];  /* HMAC for CSRF tokens */
    unsigned char token[CRYPTO_KEY_LEN]; /* HMAC for other server-made tokens */
    unsigned char upload[CRYPTO_KEY_LEN]; /* HMAC for pre-signed blob upload URLs */
};

/* Loads key_file (NULL or "": DATA_DIR/master.key), creating the data
 * directory (0700) and the key (0600) when missing. Several instances on one
 * database must load the same key file. Refuses a key file readable by group or others.
 * ret_created (may be NULL) tells whether a new key was made. */
int keyring_load(const char *data_dir, const char *key_file, struct keyring *ret, bool *ret_created,
                 struct be_diag *diag);
/* Derives the keys from raw master bytes (tests). */
void keyring_derive(const unsigned char master[CRYPTO_KEY_LEN], struct keyring *ret);
void keyring_wipe(struct keyring *k);

#endif
