/* The deployer's options from the configuration (the deploy.* keys,
 * docs/configuration.md): what `bindery serve` passes to deployer_new(). */
#ifndef BINDERY_DEPLOY_SETTINGS_H
#define BINDERY_DEPLOY_SETTINGS_H

#include "core/config.h"
#include "deploy/job.h"

struct deploy_settings {
    struct deployer_options opts; /* its strings point into cfg or into the fields below */
    char *root_dir;               /* owned */
    char *bwrap;                  /* owned: the absolute path */
};

/* Fills *ret from cfg (which must outlive it): root_dir defaults to
 * DATA_DIR/deploy, and a bwrap name without a slash is looked up in PATH
 * (not found: kept as given, so the sandbox self-test reports it). The
 * health path must be empty or start with '/': BE_INVALID_PARAMETER with
 * the key named in diag otherwise. Release with deploy_settings_release(). */
int deploy_settings_init(const struct config *cfg, struct deploy_settings *ret,
                         struct be_diag *diag);
void deploy_settings_release(struct deploy_settings *s);

#endif
