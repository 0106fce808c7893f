/* Helpers shared by the CLI's environment and deploy verbs
 * (cmd/cli_env.c, cmd/cli_deploy.c): option parsing, the default
 * environment, printing.
 *
 *     struct cli_opt opts[] = {{"--env", true}, {"--json", false}, {NULL}};
 *     const char *pos[1];
 *     size_t npos;
 *     int exit_code;
 *     if (cli_opts_parse(argc, argv, "upload", opts, pos, 1, &npos, usage, &exit_code))
 *         return exit_code;                      // --help (0) or bad usage (2)
 *     const char *env = cli_opt(opts, "--env");  // NULL when not given
 */
#ifndef BINDERY_CLI_VERB_H
#define BINDERY_CLI_VERB_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cli/client.h"
#include "core/err.h"

#define CLI_ENV_ID_MAX 63

/* One option: name ("--env"), whether it takes a value; value and seen are
 * filled by cli_opts_parse. The table ends with a NULL name. */
struct cli_opt {
    const char *name;
    bool takes_value;
    const char *value;
    bool seen;
};

/* Parses argv[1..] (argv[0] is the verb): "--name value", "--name=value"
 * and bare flags of opts; up to max_pos positional arguments into pos (a
 * lone "--" ends the options). --help or -h prints usage to stdout and
 * returns -1 with *ret_exit 0; an unknown option, a missing value, an
 * option given twice or too many arguments prints the problem and usage to
 * stderr and returns -1 with *ret_exit 2. 0 when the caller goes on. */
int cli_opts_parse(int argc, char **argv, const char *verb, struct cli_opt *opts, const char **pos,
                   size_t max_pos, size_t *ret_npos, const char *usage, int *ret_exit);

/* The value of an option (NULL when absent) / whether it was given. */
const char *cli_opt(const struct cli_opt *opts, const char *name);
bool cli_opt_seen(const struct cli_opt *opts, const char *name);

/* A decimal option value in 1..max into *ret: BE_INVALID_PARAMETER naming
 * the option otherwise. An absent option leaves *ret alone. */
int cli_opt_u64(const struct cli_opt *opts, const char *name, uint64_t max, uint64_t *ret,
                struct be_diag *diag);

/* Prints "bindery <verb>: <message>" to stderr; returns 1 (the exit code). */
int cli_verb_fail(const char *verb, const struct be_diag *diag);

/* The environment to act on: `given` when not NULL, else the account's only
 * environment. With none or several, BE_INVALID_PARAMETER with a message
 * that lists them (EnvId, app, state) and asks for --env. out gets at most
 * CLI_ENV_ID_MAX characters. */
int cli_pick_env(struct cli_client *c, const char *given, char out[CLI_ENV_ID_MAX + 1],
                 struct be_diag *diag);

/* Pretty JSON (sorted keys, 2-space indent) and a newline on stdout. */
void cli_print_json(json_t *v);

/* A JSON field as text for a table: strings as they are, null as "-",
 * numbers in decimal; into out (size n). */
const char *cli_field(json_t *obj, const char *key, char *out, size_t n);

/* Runs verb(argc, argv) between curl_global_init and cleanup: 1 when libcurl
 * does not start. */
int cli_with_curl(int (*verb)(int, char **), int argc, char **argv);

#endif
