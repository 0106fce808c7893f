/* Inside the devenv module only: what env.c (the records and the actions)
 * and provision.c (the steps, compensation and teardown) share. */
#ifndef BINDERY_DEVENV_PROVISION_H
#define BINDERY_DEVENV_PROVISION_H

#include "devenv/env.h"

/* The columns env_row() reads, in its order. */
#define ENV_COLUMNS                                                                                \
    "env_id, owner_uin, appid, name, state, state_seq, COALESCE(port, 0), dir, error_code,"        \
    " error_message, version_seq, created_by, created_at, updated_at"

/* Fills *e from row i of a query of ENV_COLUMNS. */
void env_row(const struct store_result *r, size_t i, struct env *e);

/* Tears down the DELETING env e claimed by owner: removes its directory
 * tree, then deletes its rows (steps, uploads, versions, the env; the app's
 * quota counter goes down) in one transaction, and notifies. */
int env_teardown(struct app *app, const char *owner, const struct env *e);

/* <data_dir>/envs/<env_id>, appended to out. */
void env_dir_of(const struct app *app, const char *env_id, struct buf *out);

#endif
