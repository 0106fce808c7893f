/* bindery: the account center server and its tools, one binary. */
#include <stdio.h>
#include <string.h>

#include "cmd/cmd.h"
#include "core/banned.h"

#ifndef BINDERY_VERSION
#define BINDERY_VERSION "dev"
#endif

struct subcommand {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *help;
};

static const struct subcommand subcommands[] = {
    {"serve", cmd_serve, "run the HTTP server (console, API 3.0, WeChat events)"},
    {"migrate", cmd_migrate, "apply database migrations and exit"},
    {"backup", cmd_backup, "write an online backup of the SQLite store to a file"},
    {"admin", cmd_admin, "operator commands: create-account, create-access-key"},
    {"platform", cmd_platform, "run the WeChat platform emulator (component API, pages, pushes)"},
    {"login", cmd_login, "sign this computer in to a Bindery server (device flow)"},
    {"logout", cmd_logout, "revoke this computer's login and delete its credentials"},
    {"whoami", cmd_whoami, "show who the saved login acts as"},
    {"console", cmd_console, "open the web console without a password (one-time link)"},
    {"env", cmd_env, "create, list, show or delete backend environments"},
    {"upload", cmd_upload, "upload a directory as an environment's next version"},
    {"versions", cmd_versions, "list an environment's versions"},
    {"deploy", cmd_deploy, "upload and deploy (or deploy a version; cancel a deploy)"},
    {"rollback", cmd_rollback, "deploy the previous (or a given) version again"},
    {"restart", cmd_restart, "restart the live version without downtime"},
    {"stop", cmd_stop, "stop an environment's app"},
    {"logs", cmd_logs, "print (and follow) an environment's runtime log"},
};

static void usage(FILE *out)
{
    fprintf(out, "usage: bindery <command> [options]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]); i++)
        fprintf(out, "  %-10s %s\n", subcommands[i].name, subcommands[i].help);
    fprintf(out, "\n'bindery <command> --help' describes a command and its options.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("bindery %s\n", BINDERY_VERSION);
        return 0;
    }
    for (size_t i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]); i++)
        if (!strcmp(argv[1], subcommands[i].name))
            return subcommands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "bindery: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
