#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/cmd.h"
#include "core/log.h"
#include "core/banned.h"

int cmd_load_config(int argc, char **argv, unsigned scope, const char *usage,
                    struct config **ret_cfg, char ***ret_rest, int *ret_exit)
{
    struct be_diag diag = {""};
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("%s\n", usage);
            config_print_help(stdout, scope);
            *ret_exit = 0;
            return -1;
        }
    }
    if (config_load(argc, argv, scope, ret_cfg, ret_rest, &diag)) {
        fprintf(stderr, "bindery %s: %s\n", argv[0], diag.msg);
        *ret_exit = 2;
        return -1;
    }
    enum log_level level;
    if (log_level_parse((*ret_cfg)->log_level, &level)) {
        fprintf(stderr, "bindery %s: invalid value '%s' for log.level: expected debug, info, "
                        "warn or error\n", argv[0], (*ret_cfg)->log_level);
        config_free(*ret_cfg);
        free(*ret_rest);
        *ret_exit = 2;
        return -1;
    }
    log_level_current = level;
    return 0;
}
