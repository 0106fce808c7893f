/* The developer CLI's deploy verbs (docs/devtools.md "CLI: deploy, rollback,
 * logs"):
 *
 *   bindery deploy [DIR] [--env ENV] [--version N] [--no-upload]   upload + deploy, log streamed
 *   bindery deploy cancel [--env ENV | DEPLOY_ID]
 *   bindery rollback [--env ENV] [--to N]
 *   bindery restart [--env ENV]
 *   bindery stop [--env ENV]
 *   bindery logs [--env ENV] [--follow] [--tail N]
 *
 * A job's verb submits it, then reads its deploy log with a cursor and a
 * long-poll until it ends, and exits 0 only when it SUCCEEDED. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/client.h"
#include "cli/upload.h"
#include "cli/verb.h"
#include "cmd/cmd.h"
#include "core/buf.h"
#include "core/mem.h"
#include "core/banned.h"

#define LOG_WAIT_SECONDS     10   /* one long-poll of a deploy log */
#define RUNTIME_WAIT_SECONDS 20   /* one long-poll of the runtime log (--follow) */
#define LOG_PAGE             1000 /* lines per read */
#define TAIL_MAX             100000u

static const char *str(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

/* The time of day of an API time ("2026-11-25 08:11:09", or ISO 8601
 * "2026-11-25T08:11:09Z") for the streamed log: "08:11:09". */
static void clock_of(const char *when, char out[16])
{
    const char *t = strpbrk(when, "T ");
    snprintf(out, 16, "%.8s", t ? t + 1 : when);
}

static void print_log_line(json_t *l)
{
    char at[16];
    const char *msg = str(l, "Message");
    clock_of(str(l, "Time"), at);
    printf("%s %-11s ", at, str(l, "Step"));
    /* Multi-line messages (an app's last output) are indented under it. */
    for (const char *p = msg; *p;) {
        size_t len = strcspn(p, "\n");
        printf("%s%.*s\n", p == msg ? "" : "                     ", (int)len, p);
        p += len;
        if (*p == '\n')
            p++;
    }
    if (!*msg)
        printf("\n");
}

/* Reads the job's log from the start until the job ends, printing it when
 * asked; *ret_job = the final Deploy (new reference). */
static int follow_job(struct cli_client *c, const char *id, bool print, json_t **ret_job,
                      struct be_diag *diag)
{
    json_int_t cursor = 0;
    int rc;
    for (;;) {
        json_t *params = json_pack("{s:s,s:I,s:i,s:i}", "DeployId", id, "Cursor", cursor,
                                   "WaitSeconds", LOG_WAIT_SECONDS, "Limit", LOG_PAGE),
               *resp = NULL;
        rc = cli_call(c, "DescribeDeployLog", params, &resp, diag);
        json_decref(params);
        if (rc)
            return rc;
        json_t *l;
        size_t i;
        if (print)
            json_array_foreach(json_object_get(resp, "Lines"), i, l) print_log_line(l);
        fflush(stdout);
        cursor = json_integer_value(json_object_get(resp, "NextCursor"));
        bool finished = json_is_true(json_object_get(resp, "Finished"));
        json_decref(resp);
        if (finished)
            break;
    }
    json_t *params = json_pack("{s:s}", "DeployId", id), *resp = NULL;
    rc = cli_call(c, "DescribeDeploy", params, &resp, diag);
    json_decref(params);
    if (rc == BE_OK) {
        *ret_job = json_incref(json_object_get(resp, "Deploy"));
        if (!*ret_job)
            rc = be_fail(diag, BE_UPSTREAM, "DescribeDeploy answered no deploy");
    }
    json_decref(resp);
    return rc;
}

/* The summary after a job; 0 when it succeeded, 1 otherwise. */
static int report_job(struct cli_client *c, const char *verb, json_t *job)
{
    const char *server = cli_client_credentials(c)->server, *state = str(job, "State");
    const char *env = str(job, "EnvId"), *kind = str(job, "Kind");
    json_int_t to = json_integer_value(json_object_get(job, "ToVersion"));
    json_int_t from = json_integer_value(json_object_get(job, "FromVersion"));
    if (!strcmp(state, "SUCCEEDED")) {
        if (!strcmp(kind, "stop"))
            printf("Stopped %s (%s).\n", env, str(job, "DeployId"));
        else
            printf("Version %lld of %s is live (%s %s): %s/env/%s/\n", (long long)to, env, kind,
                   str(job, "DeployId"), server, env);
        return 0;
    }
    fprintf(stderr, "bindery %s: %s %s %s at step %s: %s\n%s\n", verb, kind, str(job, "DeployId"),
            state, str(job, "Step"), str(job, "ErrorCode"), str(job, "ErrorMessage"));
    if (from > 0 && strcmp(kind, "stop"))
        fprintf(stderr, "Version %lld still serves: %s/env/%s/\n", (long long)from, server, env);
    return 1;
}

/* Submits action for env with params (stolen) and follows the job. */
static int run_job(struct cli_client *c, const char *verb, const char *action, json_t *params)
{
    struct be_diag diag = {""};
    json_t *resp = NULL, *job = NULL;
    int rc = cli_call(c, action, params, &resp, &diag);
    json_decref(params);
    if (rc) {
        json_decref(resp);
        return cli_verb_fail(verb, &diag);
    }
    const char *id = str(resp, "DeployId");
    json_t *d = json_object_get(resp, "Deploy");
    json_int_t to = json_integer_value(json_object_get(d, "ToVersion"));
    printf("%s %s of %s", str(d, "Kind"), id, str(d, "EnvId"));
    if (to > 0)
        printf(" to version %lld", (long long)to);
    printf(" (Ctrl-C stops watching; the job goes on):\n");
    fflush(stdout);
    rc = follow_job(c, id, true, &job, &diag);
    json_decref(resp);
    int exit_code = rc ? cli_verb_fail(verb, &diag) : report_job(c, verb, job);
    json_decref(job);
    return exit_code;
}

/* Opens the client and picks the environment of --env (or the only one). */
static int open_env(const char *verb, const struct cli_opt *opts, struct cli_client **ret,
                    char env_id[CLI_ENV_ID_MAX + 1])
{
    struct be_diag diag = {""};
    struct cli_client *c = NULL;
    int rc = cli_client_open(&c, &diag);
    if (rc == BE_OK)
        rc = cli_pick_env(c, cli_opt(opts, "--env"), env_id, &diag);
    if (rc) {
        cli_client_close(c);
        return cli_verb_fail(verb, &diag);
    }
    *ret = c;
    return 0;
}

/* ---- deploy cancel ---------------------------------------------------------- */

static const char cancel_usage[] =
    "usage: bindery deploy cancel [--env ENV | DEPLOY_ID]\n\n"
    "Cancels the running job of the environment (or the job named): it ends\n"
    "CANCELED before it switches, and the previous version keeps serving.";

static int deploy_cancel(int argc, char **argv)
{
    struct cli_opt opts[] = {{"--env", true, NULL, false}, {NULL, false, NULL, false}};
    struct be_diag diag = {""};
    const char *pos[1] = {NULL};
    size_t npos;
    int exit_code;
    if (cli_opts_parse(argc, argv, "deploy cancel", opts, pos, 1, &npos, cancel_usage, &exit_code))
        return exit_code;
    if (npos && cli_opt(opts, "--env")) {
        fprintf(stderr, "bindery deploy cancel: give --env or a deploy id, not both\n%s\n",
                cancel_usage);
        return 2;
    }
    struct cli_client *c = NULL;
    char env_id[CLI_ENV_ID_MAX + 1], id[64] = "";
    json_t *resp = NULL, *job = NULL, *params;
    int rc = BE_OK;
    if (npos) {
        if ((rc = cli_client_open(&c, &diag)))
            goto out;
        snprintf(id, sizeof(id), "%s", pos[0]);
    } else {
        if ((exit_code = open_env("deploy cancel", opts, &c, env_id)))
            return exit_code;
        params = json_pack("{s:s}", "EnvId", env_id);
        rc = cli_call(c, "DescribeEnvironmentRuntime", params, &resp, &diag);
        json_decref(params);
        const char *active =
            json_string_value(json_object_get(json_object_get(resp, "Runtime"), "ActiveDeployId"));
        if (rc == BE_OK && !active)
            rc = be_fail(&diag, BE_INVALID_PARAMETER, "no deploy is running in %s", env_id);
        if (rc)
            goto out;
        snprintf(id, sizeof(id), "%s", active);
        json_decref(resp);
        resp = NULL;
    }
    params = json_pack("{s:s}", "DeployId", id);
    rc = cli_call(c, "CancelDeploy", params, &resp, &diag);
    json_decref(params);
    if (rc == BE_OK)
        rc = follow_job(c, id, false, &job, &diag);
    if (rc)
        goto out;
    if (!strcmp(str(job, "State"), "CANCELED")) {
        printf("Canceled %s at step %s; version %lld still serves.\n", id, str(job, "Step"),
               (long long)json_integer_value(json_object_get(job, "FromVersion")));
        exit_code = 0;
    } else {
        fprintf(stderr, "bindery deploy cancel: %s ended %s before the cancel took effect\n", id,
                str(job, "State"));
        exit_code = 1;
    }
out:
    if (rc)
        exit_code = cli_verb_fail("deploy cancel", &diag);
    json_decref(resp);
    json_decref(job);
    cli_client_close(c);
    return exit_code;
}

/* ---- deploy ----------------------------------------------------------------- */

static const char deploy_usage[] =
    "usage: bindery deploy [DIR] [--env ENV] [--version N] [--no-upload]\n"
    "                      [--runtime R] [--entry FILE] [--message TEXT]\n"
    "       bindery deploy cancel [--env ENV | DEPLOY_ID]\n\n"
    "Uploads DIR (default .) as a new version (as bindery upload does) and deploys\n"
    "it: VALIDATE, MATERIALIZE, START, HEALTHCHECK, SWITCH, DRAIN, streamed as they\n"
    "happen. --version N deploys an existing version, --no-upload the newest one.\n"
    "Exits 1 when the deploy fails, with the step, the code (ENTRY_NOT_FOUND,\n"
    "START_CRASHED, HEALTHCHECK_TIMEOUT, ...) and the app's last output; the\n"
    "previous version then still serves. ENV defaults to the account's only\n"
    "environment. (A directory named cancel: write ./cancel.)";

static int deploy(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "cancel"))
        return deploy_cancel(argc - 1, argv + 1);
    struct cli_opt opts[] = {{"--env", true, NULL, false},        {"--version", true, NULL, false},
                             {"--no-upload", false, NULL, false}, {"--runtime", true, NULL, false},
                             {"--entry", true, NULL, false},      {"--message", true, NULL, false},
                             {NULL, false, NULL, false}};
    struct be_diag diag = {""};
    const char *pos[1] = {NULL};
    size_t npos;
    int exit_code;
    uint64_t version = 0;
    if (cli_opts_parse(argc, argv, "deploy", opts, pos, 1, &npos, deploy_usage, &exit_code))
        return exit_code;
    if (cli_opt_u64(opts, "--version", INT64_MAX, &version, &diag))
        return fprintf(stderr, "bindery deploy: %s\n", diag.msg), 2;
    bool upload = !version && !cli_opt_seen(opts, "--no-upload");
    if (!upload && (npos || cli_opt(opts, "--runtime") || cli_opt(opts, "--entry") ||
                    cli_opt(opts, "--message"))) {
        fprintf(stderr, "bindery deploy: DIR, --runtime, --entry and --message are for an upload; "
                        "not with --version or --no-upload\n");
        return 2;
    }
    struct cli_client *c = NULL;
    char env_id[CLI_ENV_ID_MAX + 1];
    if ((exit_code = open_env("deploy", opts, &c, env_id)))
        return exit_code;
    if (upload) {
        struct cli_upload_options o = {npos ? pos[0] : ".",        env_id,
                                       cli_opt(opts, "--runtime"), cli_opt(opts, "--entry"),
                                       cli_opt(opts, "--message"), isatty(STDERR_FILENO)};
        struct cli_upload_result r;
        if (cli_upload(c, &o, &r, &diag)) {
            cli_client_close(c);
            return cli_verb_fail("deploy", &diag);
        }
        printf("Uploaded version %llu (%zu files; %zu new blobs, %llu bytes sent).\n",
               (unsigned long long)r.version, r.files, r.sent_blobs,
               (unsigned long long)r.sent_bytes);
        version = r.version;
    }
    json_t *params = json_pack("{s:s}", "EnvId", env_id);
    if (version)
        json_object_set_new(params, "Version", json_integer((json_int_t)version));
    exit_code = run_job(c, "deploy", "CreateDeploy", params);
    cli_client_close(c);
    return exit_code;
}

/* ---- rollback, restart, stop --------------------------------------------------- */

static const char rollback_usage[] =
    "usage: bindery rollback [--env ENV] [--to N]\n\n"
    "Deploys an earlier version again (default: the one live before the current\n"
    "one), as a new deploy recorded in the history; streamed like bindery deploy.";
static const char restart_usage[] =
    "usage: bindery restart [--env ENV]\n\n"
    "Starts a new process of the live version and switches to it without downtime.";
static const char stop_usage[] =
    "usage: bindery stop [--env ENV]\n\n"
    "Stops the environment's app: the proxy answers 503 until the next deploy.";

static int simple_job(int argc, char **argv, const char *verb, const char *action,
                      const char *usage)
{
    bool rollback = !strcmp(verb, "rollback");
    struct cli_opt opts[] = {
        {"--env", true, NULL, false},
        {rollback ? "--to" : NULL, true, NULL, false}, /* ends the table otherwise */
        {NULL, false, NULL, false}};
    struct be_diag diag = {""};
    size_t npos;
    int exit_code;
    uint64_t to = 0;
    if (cli_opts_parse(argc, argv, verb, opts, NULL, 0, &npos, usage, &exit_code))
        return exit_code;
    if (rollback && cli_opt_u64(opts, "--to", INT64_MAX, &to, &diag))
        return fprintf(stderr, "bindery %s: %s\n", verb, diag.msg), 2;
    struct cli_client *c = NULL;
    char env_id[CLI_ENV_ID_MAX + 1];
    if ((exit_code = open_env(verb, opts, &c, env_id)))
        return exit_code;
    json_t *params = json_pack("{s:s}", "EnvId", env_id);
    if (to)
        json_object_set_new(params, "ToVersion", json_integer((json_int_t)to));
    exit_code = run_job(c, verb, action, params);
    cli_client_close(c);
    return exit_code;
}

static int rollback(int argc, char **argv)
{
    return simple_job(argc, argv, "rollback", "RollbackEnvironment", rollback_usage);
}

static int restart(int argc, char **argv)
{
    return simple_job(argc, argv, "restart", "RestartEnvironment", restart_usage);
}

static int stop(int argc, char **argv)
{
    return simple_job(argc, argv, "stop", "StopEnvironment", stop_usage);
}

/* ---- logs ----------------------------------------------------------------------- */

static const char logs_usage[] =
    "usage: bindery logs [--env ENV] [--follow] [--tail N]\n\n"
    "Prints the app's runtime log (stdout and stderr with timestamps, process id\n"
    "and version) kept by the server; --tail N only the last N lines; --follow\n"
    "then waits for new lines until Ctrl-C.";

/* Keeps the last n lines (a ring) when tail > 0, else prints at once. */
struct tail {
    char **ring;
    size_t n, next, count;
};

static void tail_put(struct tail *t, const char *line)
{
    if (!t->n) {
        printf("%s\n", line);
        return;
    }
    free(t->ring[t->next]);
    t->ring[t->next] = xstrdup(line);
    t->next = (t->next + 1) % t->n;
    if (t->count < t->n)
        t->count++;
}

static void tail_flush(struct tail *t)
{
    for (size_t i = 0; i < t->count; i++) {
        size_t k = (t->next + t->n - t->count + i) % t->n;
        printf("%s\n", t->ring[k]);
        free(t->ring[k]);
        t->ring[k] = NULL;
    }
    t->count = 0;
    t->n = 0; /* from now on lines print as they come */
    free(t->ring);
    t->ring = NULL;
}

static int read_runtime(struct cli_client *c, const char *env_id, json_int_t *cursor, int wait,
                        struct tail *t, size_t *ret_got, struct be_diag *diag)
{
    json_t *params = json_pack("{s:s,s:I,s:i,s:i}", "EnvId", env_id, "Cursor", *cursor, "Limit",
                               LOG_PAGE, "WaitSeconds", wait),
           *resp = NULL;
    int rc = cli_call(c, "DescribeRuntimeLog", params, &resp, diag);
    json_decref(params);
    if (rc)
        return rc;
    json_t *lines = json_object_get(resp, "Lines"), *l;
    size_t i;
    if (*cursor == 0 && json_is_true(json_object_get(resp, "Truncated")))
        fprintf(stderr, "(older lines were rotated away)\n");
    json_array_foreach(lines, i, l) tail_put(t, json_string_value(l) ? json_string_value(l) : "");
    fflush(stdout);
    *cursor = json_integer_value(json_object_get(resp, "NextCursor"));
    *ret_got = json_array_size(lines);
    json_decref(resp);
    return BE_OK;
}

static int logs(int argc, char **argv)
{
    struct cli_opt opts[] = {{"--env", true, NULL, false},
                             {"--follow", false, NULL, false},
                             {"--tail", true, NULL, false},
                             {NULL, false, NULL, false}};
    struct be_diag diag = {""};
    size_t npos, got = 0;
    int exit_code;
    uint64_t n = 0;
    if (cli_opts_parse(argc, argv, "logs", opts, NULL, 0, &npos, logs_usage, &exit_code))
        return exit_code;
    if (cli_opt_u64(opts, "--tail", TAIL_MAX, &n, &diag))
        return fprintf(stderr, "bindery logs: %s\n", diag.msg), 2;
    struct cli_client *c = NULL;
    char env_id[CLI_ENV_ID_MAX + 1];
    if ((exit_code = open_env("logs", opts, &c, env_id)))
        return exit_code;
    struct tail t = {n ? xcalloc(n, sizeof(char *)) : NULL, n, 0, 0};
    json_int_t cursor = 0;
    int rc;
    /* Catch up from the oldest line kept, then (--follow) wait for more. */
    do
        rc = read_runtime(c, env_id, &cursor, 0, &t, &got, &diag);
    while (rc == BE_OK && got > 0);
    if (t.n)
        tail_flush(&t);
    while (rc == BE_OK && cli_opt_seen(opts, "--follow"))
        rc = read_runtime(c, env_id, &cursor, RUNTIME_WAIT_SECONDS, &t, &got, &diag);
    cli_client_close(c);
    return rc ? cli_verb_fail("logs", &diag) : 0;
}

int cmd_deploy(int argc, char **argv)
{
    return cli_with_curl(deploy, argc, argv);
}

int cmd_rollback(int argc, char **argv)
{
    return cli_with_curl(rollback, argc, argv);
}

int cmd_restart(int argc, char **argv)
{
    return cli_with_curl(restart, argc, argv);
}

int cmd_stop(int argc, char **argv)
{
    return cli_with_curl(stop, argc, argv);
}

int cmd_logs(int argc, char **argv)
{
    return cli_with_curl(logs, argc, argv);
}
