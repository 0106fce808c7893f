/* Subcommands of the bindery binary. Each takes the subcommand's argv
 * (argv[0] is its name) and returns the process exit status: 0 success,
 * 1 failure, 2 bad usage or configuration. */
#ifndef BINDERY_CMD_CMD_H
#define BINDERY_CMD_CMD_H

#include "core/config.h"

int cmd_serve(int argc, char **argv);
int cmd_migrate(int argc, char **argv);
int cmd_backup(int argc, char **argv);
int cmd_admin(int argc, char **argv);
int cmd_platform(int argc, char **argv);
/* The developer CLI's login verbs (cmd/cli_login.c). */
int cmd_login(int argc, char **argv);
int cmd_logout(int argc, char **argv);
int cmd_whoami(int argc, char **argv);
int cmd_console(int argc, char **argv);
/* Environment, upload and deploy verbs (cmd/cli_env.c, cmd/cli_deploy.c). */
int cmd_env(int argc, char **argv);
int cmd_upload(int argc, char **argv);
int cmd_versions(int argc, char **argv);
int cmd_deploy(int argc, char **argv);
int cmd_rollback(int argc, char **argv);
int cmd_restart(int argc, char **argv);
int cmd_stop(int argc, char **argv);
int cmd_logs(int argc, char **argv);

/* Shared: loads the configuration for scope, printing errors and --help.
 * Returns 0 and the config, or the exit status to use (ret_exit). */
int cmd_load_config(int argc, char **argv, unsigned scope, const char *usage,
                    struct config **ret_cfg, char ***ret_rest, int *ret_exit);

#endif
