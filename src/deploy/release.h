/* What a deploy job runs: a release (one immutable version of an
 * environment) and the source that finds releases and environments. The
 * deploy code sees only this interface; the envs component's versions and
 * blob store plug in as one more source (docs/deploy.md, "Plugging in
 * versions"). deploy_source_dir() is the source used until then, and by the
 * tests: versions laid out as directories on disk. */
#ifndef BINDERY_DEPLOY_RELEASE_H
#define BINDERY_DEPLOY_RELEASE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/err.h"

enum deploy_runtime { DEPLOY_RT_NODEJS, DEPLOY_RT_PYTHON3, DEPLOY_RT_EXEC };

/* "nodejs", "python3", "exec". */
const char *deploy_runtime_name(enum deploy_runtime rt);
/* BE_INVALID_PARAMETER_VALUE for anything else. */
int deploy_runtime_parse(const char *name, enum deploy_runtime *ret);

struct deploy_release {
    char env_id[64];
    char app_id[64];
    uint64_t owner_uin;
    uint64_t version;
    enum deploy_runtime runtime;
    char entry[256]; /* relative path of the entry file in the tree */
    char **vars;     /* the environment's variables, "KEY=VALUE", NULL terminated; owned */
    /* Does the tree hold a regular file at relpath? */
    bool (*has_file)(const struct deploy_release *rel, const char *relpath);
    /* Writes the whole tree into dir (an empty directory). */
    int (*materialize)(const struct deploy_release *rel, const char *dir, struct be_diag *diag);
    char *where; /* the source's own locator (for the directory source: the tree's path); owned */
};

/* Releases what a release owns (vars, where). */
void deploy_release_clear(struct deploy_release *rel);

struct deploy_source {
    /* Fills *ret with version `version` of env_id (0: the newest).
     * BE_ENV_NOT_FOUND / BE_VERSION_NOT_FOUND when absent. */
    int (*release_get)(void *ctx, const char *env_id, uint64_t version, struct deploy_release *ret,
                       struct be_diag *diag);
    /* The account that owns env_id: BE_ENV_NOT_FOUND when unknown. */
    int (*env_owner)(void *ctx, const char *env_id, uint64_t *ret_owner_uin);
    void *ctx;
};

/* A source reading ROOT/<EnvId>/env.json ({"OwnerUin": N, "AppId": "...",
 * "Vars": {"K": "V"}}), ROOT/<EnvId>/v<N>.json ({"Runtime": "nodejs",
 * "Entry": "app.js"}) and the tree ROOT/<EnvId>/v<N>/. root is copied; free
 * with deploy_source_dir_free(). */
struct deploy_source deploy_source_dir(const char *root);
void deploy_source_dir_free(struct deploy_source *src);

/* has_file and materialize for a release whose tree is a directory on disk
 * at rel->where (regular files and directories only): what the directory
 * source uses, and any source that stages its trees on disk. */
bool deploy_dir_has_file(const struct deploy_release *rel, const char *relpath);
int deploy_dir_materialize(const struct deploy_release *rel, const char *dir, struct be_diag *diag);

/* Is an EnvId well formed (1-63 of [A-Za-z0-9_-])? */
bool deploy_env_id_valid(const char *env_id);

#endif
