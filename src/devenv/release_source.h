/* The deploy engine's source of releases (deploy/release.h) backed by the
 * environments' immutable versions (devenv/version.h) and the blob store:
 * what `bindery serve` gives its deployer.
 *
 * A release's tree is staged once per manifest under trees_dir/<manifest
 * hash>/ (copied from the blob store with each file's mode, read-only,
 * built in a temporary directory and renamed into place, so concurrent jobs
 * and instances sharing the data directory never see half a tree); the
 * job's MATERIALIZE step then copies the staged tree. Versions never
 * change, so a staged tree never goes stale; trees of deleted versions are
 * left for the operator (docs/deploy.md). */
#ifndef BINDERY_DEVENV_RELEASE_SOURCE_H
#define BINDERY_DEVENV_RELEASE_SOURCE_H

#include "app.h"
#include "deploy/release.h"

/* A source reading app's store. app is kept by reference and must outlive
 * the source; trees_dir is copied (created when missing). Release with
 * devenv_release_source_free(). */
struct deploy_source devenv_release_source(struct app *app, const char *trees_dir);
void devenv_release_source_free(struct deploy_source *src);

#endif
