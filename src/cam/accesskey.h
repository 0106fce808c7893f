/* API keys (SecretId / SecretKey). At most ACCESSKEY_MAX_PER_PRINCIPAL per
 * principal (owner, uin). The SecretKey is shown once, at creation, and kept
 * sealed with AES-256-GCM under the keyring's seal key, bound to its
 * SecretId. An Inactive key is refused like an unknown one. */
#ifndef BINDERY_CAM_ACCESSKEY_H
#define BINDERY_CAM_ACCESSKEY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "app.h"
#include "cam/principal.h"
#include "core/buf.h"
#include "core/err.h"

#define ACCESSKEY_MAX_PER_PRINCIPAL 2
#define ACCESSKEY_ID_LEN 36     /* "AKID" + 32 */
#define ACCESSKEY_SECRET_LEN 32
#define ACCESSKEY_DESCRIPTION_MAX 1024

struct accesskey {
    char secret_id[ACCESSKEY_ID_LEN + 1];
    char secret_key[ACCESSKEY_SECRET_LEN + 1]; /* only filled by create and resolve */
    uint64_t owner_uin;
    uint64_t uin;
    bool active;
    int64_t created_at;
    char description[ACCESSKEY_DESCRIPTION_MAX + 1];
};

/* Validates a description: 1-1024 characters of [A-Za-z0-9_+=,.@:/-]. */
int accesskey_check_description(const char *d, struct be_diag *diag);

/* Creates a key for the principal (owner_uin, uin); ret gets the secret.
 * BE_KEY_OVER_LIMIT when it has 2 already. Audited as acted by `actor`. */
int accesskey_create(struct app *app, const struct req_meta *meta, const struct principal *actor,
                     uint64_t owner_uin, uint64_t uin, const char *description,
                     struct accesskey *ret, struct be_diag *diag);
/* accesskey_create() inside the caller's transaction c (AddUser with UseApi),
 * without a description. */
int accesskey_create_in(struct store_conn *c, struct app *app, const struct req_meta *meta,
                        const struct principal *actor, uint64_t owner_uin, uint64_t uin,
                        struct accesskey *ret);
/* Lists the principal's keys (without secrets) into a malloc'd array. */
int accesskey_list(struct app *app, uint64_t owner_uin, uint64_t uin, struct accesskey **ret,
                   size_t *ret_count);
/* Sets Active/Inactive. BE_SECRET_NOT_EXIST when the key is unknown,
 * BE_UIN_NOT_MATCH when it belongs to another principal. */
int accesskey_set_status(struct app *app, const struct req_meta *meta,
                         const struct principal *actor, uint64_t owner_uin, uint64_t uin,
                         const char *secret_id, bool active);
/* Deletes a key; errors as accesskey_set_status. */
int accesskey_delete(struct app *app, const struct req_meta *meta, const struct principal *actor,
                     uint64_t owner_uin, uint64_t uin, const char *secret_id);
/* For request signing: the principal and plain SecretKey of an active key.
 * BE_AUTH_SECRET_ID when unknown, inactive or its account is gone. The kind
 * is ROOT for a root's own key, SUB_USER for a sub-user's key and
 * COLLABORATOR for a key created for a collaborator inside the owner (it
 * acts in the owner account). */
int accesskey_resolve(struct app *app, const char *secret_id, struct principal *ret_who,
                      char ret_secret[ACCESSKEY_SECRET_LEN + 1]);

#endif
