#include <stdio.h>
#include <stdlib.h>

#include "app.h"
#include "cmd/cmd.h"
#include "core/banned.h"

static const char migrate_usage[] =
    "usage: bindery migrate [--config FILE] [--data-dir DIR] [--store URL]\n\n"
    "Applies every database migration not yet applied, then exits.";

static const char backup_usage[] =
    "usage: bindery backup [--config FILE] [--data-dir DIR] [--store URL] DEST_FILE\n\n"
    "Writes a consistent copy of the SQLite store to DEST_FILE while the server\n"
    "runs. For PostgreSQL use pg_dump (see docs/operations.md).";

int cmd_migrate(int argc, char **argv)
{
    struct config *cfg = NULL;
    char **rest = NULL;
    int status = 1;
    struct app app;
    struct be_diag diag = {""};
    if (cmd_load_config(argc, argv, CONFIG_SCOPE_STORE, migrate_usage, &cfg, &rest, &status))
        return status;
    if (rest[0]) {
        fprintf(stderr, "bindery migrate: unknown option '%s' (see --help)\n", rest[0]);
        status = 2;
    } else if (app_open(cfg, &app, &diag)) {
        fprintf(stderr, "bindery migrate: %s\n", diag.msg);
    } else {
        printf("schema version %d (%s)\n", store_schema_version_latest(),
               store_backend_name(app.store));
        app_close(&app);
        status = 0;
    }
    free(rest);
    config_free(cfg);
    return status;
}

int cmd_backup(int argc, char **argv)
{
    struct config *cfg = NULL;
    char **rest = NULL;
    int status = 1;
    struct app app;
    struct be_diag diag = {""};
    if (cmd_load_config(argc, argv, CONFIG_SCOPE_STORE, backup_usage, &cfg, &rest, &status))
        return status;
    if (!rest[0] || rest[1] || rest[0][0] == '-') {
        fprintf(stderr, "%s\n", backup_usage);
        status = 2;
    } else if (app_open(cfg, &app, &diag)) {
        fprintf(stderr, "bindery backup: %s\n", diag.msg);
    } else {
        if (store_dialect(app.store) != STORE_SQLITE)
            fprintf(stderr, "bindery backup: the store is PostgreSQL; use pg_dump\n");
        else if (store_backup(app.store, rest[0]) == BE_OK)
            status = 0;
        else
            fprintf(stderr, "bindery backup: backup to %s failed\n", rest[0]);
        app_close(&app);
    }
    free(rest);
    config_free(cfg);
    return status;
}
