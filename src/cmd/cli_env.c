/* The developer CLI's environment and upload verbs (docs/devtools.md "CLI:
 * environments and uploads"):
 *
 *   bindery env create --app APPID [--name NAME]   一键开通, waits for READY
 *   bindery env list [--app APPID]
 *   bindery env show [ENV] [--wait]                 state, versions, process, last deploy, URL
 *   bindery env delete ENV
 *   bindery upload [DIR] [--env ENV] ...            a new version, only new blobs sent
 *   bindery versions [--env ENV]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/client.h"
#include "cli/upload.h"
#include "cli/verb.h"
#include "cmd/cmd.h"
#include "core/buf.h"
#include "core/crypto.h"
#include "core/banned.h"

#define CREATE_ATTEMPTS  3  /* CreateEnvironment tries when the server cannot be reached */
#define WAIT_SECONDS     10 /* one long-poll of DescribeEnvironment */
#define SHOW_WAIT_SLICE  2  /* env show --wait re-reads the runtime this often */
#define VERSIONS_PAGE    100
#define CLIENT_TOKEN_LEN 16 /* random bytes of a generated ClientToken */

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts))
        ;
}

static const char *str(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

/* ---- env create ---------------------------------------------------------- */

static const char create_usage[] =
    "usage: bindery env create --app APPID [--name NAME] [--client-token TOKEN] [--json]\n\n"
    "Creates a backend environment (一键开通) for a linked mini program and waits\n"
    "until it is READY or FAILED, printing each step. NAME: 1-20 of a-z 0-9 -, a\n"
    "letter first (default dev). The request carries an idempotency key (ClientToken,\n"
    "generated unless given): retrying with the same key answers the same\n"
    "environment, and resumes one that FAILED.";

/* Prints the steps whose state changed since `seen` (an object step -> state). */
static void print_steps(json_t *env, json_t *seen)
{
    json_t *steps = json_object_get(env, "Steps"), *s;
    size_t i;
    json_array_foreach(steps, i, s)
    {
        const char *name = str(s, "Step"), *state = str(s, "State");
        const char *before = json_string_value(json_object_get(seen, name));
        if (before && !strcmp(before, state))
            continue;
        json_object_set_new(seen, name, json_string(state));
        if (!strcmp(state, "pending"))
            continue;
        printf("  step %-14s %s%s%s\n", name, state,
               json_is_string(json_object_get(s, "Error")) ? ": " : "", str(s, "Error"));
    }
}

/* Long-polls until the environment leaves PROVISIONING; *ret_env (new ref). */
static int wait_settled(struct cli_client *c, json_t *env, bool quiet, json_t **ret_env,
                        struct be_diag *diag)
{
    json_t *seen = json_object();
    const char *last = "";
    char last_state[32] = "";
    json_incref(env);
    for (;;) {
        if (!quiet) {
            print_steps(env, seen);
            if (strcmp(str(env, "State"), last_state))
                printf("%s\n", str(env, "State"));
            fflush(stdout);
        }
        snprintf(last_state, sizeof(last_state), "%s", str(env, "State"));
        last = last_state;
        if (strcmp(last, "PROVISIONING") && strcmp(last, "DELETING"))
            break;
        json_t *params = json_pack("{s:s,s:I,s:i}", "EnvId", str(env, "EnvId"), "WaitSeq",
                                   json_integer_value(json_object_get(env, "StateSeq")),
                                   "WaitSeconds", WAIT_SECONDS),
               *resp = NULL;
        int rc = cli_call(c, "DescribeEnvironment", params, &resp, diag);
        json_decref(params);
        if (rc) {
            json_decref(seen);
            json_decref(env);
            return rc;
        }
        json_decref(env);
        env = json_incref(json_object_get(resp, "Environment"));
        json_decref(resp);
        if (!env) {
            json_decref(seen);
            return be_fail(diag, BE_UPSTREAM, "DescribeEnvironment answered no environment");
        }
    }
    json_decref(seen);
    *ret_env = env;
    return BE_OK;
}

static int env_create(int argc, char **argv)
{
    struct cli_opt opts[] = {{"--app", true, NULL, false},
                             {"--name", true, NULL, false},
                             {"--client-token", true, NULL, false},
                             {"--json", false, NULL, false},
                             {NULL, false, NULL, false}};
    struct be_diag diag = {""};
    size_t npos;
    int exit_code;
    if (cli_opts_parse(argc, argv, "env create", opts, NULL, 0, &npos, create_usage, &exit_code))
        return exit_code;
    if (!cli_opt(opts, "--app")) {
        fprintf(stderr, "bindery env create: --app APPID is required\n%s\n", create_usage);
        return 2;
    }
    bool json = cli_opt_seen(opts, "--json");
    struct buf token = BUF_INIT;
    if (cli_opt(opts, "--client-token")) {
        buf_adds(&token, cli_opt(opts, "--client-token"));
    } else {
        unsigned char raw[CLIENT_TOKEN_LEN];
        crypto_random(raw, sizeof(raw));
        buf_adds(&token, "cli-");
        buf_addhex(&token, raw, sizeof(raw));
    }
    struct cli_client *c = NULL;
    json_t *params =
               json_pack("{s:s,s:s}", "AppId", cli_opt(opts, "--app"), "ClientToken", token.data),
           *resp = NULL, *env = NULL;
    if (cli_opt(opts, "--name"))
        json_object_set_new(params, "Name", json_string(cli_opt(opts, "--name")));
    int rc = cli_client_open(&c, &diag);
    /* The same ClientToken on every try: a request that reached the server
     * before the connection broke is answered, not created twice. */
    for (int i = 0; rc == BE_OK && i < CREATE_ATTEMPTS; i++) {
        if (i)
            sleep_ms(1000L * i);
        rc = cli_call(c, "CreateEnvironment", params, &resp, &diag);
        if (rc != BE_UPSTREAM)
            break;
        if (i + 1 < CREATE_ATTEMPTS)
            rc = BE_OK;
    }
    if (rc == BE_UPSTREAM)
        fprintf(stderr,
                "bindery env create: retry with the same key: bindery env create --app %s "
                "--client-token %s\n",
                cli_opt(opts, "--app"), token.data);
    if (rc)
        goto out;
    json_t *first = json_object_get(resp, "Environment");
    if (!json)
        printf("Environment %s (app %s)%s:\n", str(resp, "EnvId"), str(first, "AppId"),
               json_is_true(json_object_get(resp, "Created")) ? "" : ", already requested");
    if ((rc = wait_settled(c, first, json, &env, &diag)))
        goto out;
    if (json)
        cli_print_json(env);
    if (!strcmp(str(env, "State"), "READY")) {
        if (!json)
            printf("Ready: upload with  bindery upload DIR --env %s\n", str(env, "EnvId"));
        exit_code = 0;
    } else {
        fprintf(stderr,
                "bindery env create: %s is %s: %s: %s\n(retry with bindery env create --app %s "
                "--client-token %s, which resumes it)\n",
                str(env, "EnvId"), str(env, "State"), str(env, "ErrorCode"),
                str(env, "ErrorMessage"), cli_opt(opts, "--app"), token.data);
        exit_code = 1;
    }
out:
    if (rc)
        exit_code = cli_verb_fail("env create", &diag);
    json_decref(env);
    json_decref(resp);
    json_decref(params);
    buf_release(&token);
    cli_client_close(c);
    return exit_code;
}

/* ---- env list ------------------------------------------------------------- */

static const char list_usage[] = "usage: bindery env list [--app APPID] [--json]\n\n"
                                 "Lists the account's environments (of one app with --app).";

static int env_list(int argc, char **argv)
{
    struct cli_opt opts[] = {
        {"--app", true, NULL, false}, {"--json", false, NULL, false}, {NULL, false, NULL, false}};
    struct be_diag diag = {""};
    size_t npos;
    int exit_code;
    if (cli_opts_parse(argc, argv, "env list", opts, NULL, 0, &npos, list_usage, &exit_code))
        return exit_code;
    struct cli_client *c = NULL;
    json_t *all = json_array();
    int rc = cli_client_open(&c, &diag);
    while (rc == BE_OK) {
        json_t *params = json_pack("{s:I,s:i}", "Offset", (json_int_t)json_array_size(all), "Limit",
                                   VERSIONS_PAGE),
               *resp = NULL;
        if (cli_opt(opts, "--app"))
            json_object_set_new(params, "AppId", json_string(cli_opt(opts, "--app")));
        rc = cli_call(c, "DescribeEnvironments", params, &resp, &diag);
        json_decref(params);
        json_t *page = json_object_get(resp, "Environments");
        json_array_extend(all, page);
        bool more = rc == BE_OK && json_array_size(page) &&
                    (json_int_t)json_array_size(all) <
                        json_integer_value(json_object_get(resp, "TotalCount"));
        json_decref(resp);
        if (!more)
            break;
    }
    if (rc == BE_OK && cli_opt_seen(opts, "--json")) {
        cli_print_json(all);
    } else if (rc == BE_OK && json_array_size(all) == 0) {
        printf("No environment yet: bindery env create --app APPID\n");
    } else if (rc == BE_OK) {
        json_t *e;
        size_t i;
        char latest[24];
        printf("%-28s %-20s %-12s %-13s %-7s %s\n", "ENV", "APP", "NAME", "STATE", "LATEST",
               "CREATED");
        json_array_foreach(all, i, e)
            printf("%-28s %-20s %-12s %-13s %-7s %s\n", str(e, "EnvId"), str(e, "AppId"),
                   str(e, "Name"), str(e, "State"),
                   cli_field(e, "LatestVersion", latest, sizeof(latest)), str(e, "CreatedAt"));
    }
    json_decref(all);
    cli_client_close(c);
    return rc ? cli_verb_fail("env list", &diag) : 0;
}

/* ---- env show ------------------------------------------------------------- */

static const char show_usage[] =
    "usage: bindery env show [ENV] [--wait] [--json]\n\n"
    "Shows an environment: state, latest and live version, the process (state,\n"
    "restarts), the last deploy and the URL its app is served at. ENV defaults to\n"
    "the account's only environment. --wait prints it, then waits for the next\n"
    "change (state, live version, process, deploy) and prints it again.";

struct status {
    json_t *env, *runtime, *last; /* runtime and last may be NULL */
    char runtime_error[256];
};

static void status_release(struct status *s)
{
    json_decref(s->env);
    json_decref(s->runtime);
    json_decref(s->last);
    memset(s, 0, sizeof(*s));
}

static int status_read(struct cli_client *c, const char *env_id, int64_t wait_seq, struct status *s,
                       struct be_diag *diag)
{
    json_t *params = json_pack("{s:s}", "EnvId", env_id), *resp = NULL;
    memset(s, 0, sizeof(*s));
    if (wait_seq >= 0) {
        json_object_set_new(params, "WaitSeq", json_integer(wait_seq));
        json_object_set_new(params, "WaitSeconds", json_integer(SHOW_WAIT_SLICE));
    }
    int rc = cli_call(c, "DescribeEnvironment", params, &resp, diag);
    json_decref(params);
    if (rc)
        return rc;
    s->env = json_incref(json_object_get(resp, "Environment"));
    json_decref(resp);
    /* Deploy facts are optional: a server without a deployer still shows
     * the environment. */
    struct be_diag rdiag = {""};
    params = json_pack("{s:s}", "EnvId", env_id);
    if (cli_call(c, "DescribeEnvironmentRuntime", params, &resp, &rdiag) == BE_OK) {
        s->runtime = json_incref(json_object_get(resp, "Runtime"));
        json_decref(resp);
    } else {
        snprintf(s->runtime_error, sizeof(s->runtime_error), "%.250s", rdiag.msg);
    }
    json_decref(params);
    /* The newest job of any kind and outcome (the runtime's LastDeployId
     * is the one that made the live version). */
    if (s->runtime) {
        params = json_pack("{s:s,s:i}", "EnvId", env_id, "Limit", 1);
        if (cli_call(c, "DescribeDeploys", params, &resp, &rdiag) == BE_OK) {
            json_t *first = json_array_get(json_object_get(resp, "Deploys"), 0);
            s->last = first ? json_incref(first) : NULL;
            json_decref(resp);
        }
        json_decref(params);
    }
    return BE_OK;
}

/* What --wait compares: a change of any of these is "the next change". */
static void status_signature(const struct status *s, struct buf *out)
{
    json_t *rt = s->runtime, *p = json_object_get(rt, "Process");
    char a[64], b[64], d[64], e[64], f[64], g[64], h[64];
    buf_addf(out, "%lld|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s",
             (long long)json_integer_value(json_object_get(s->env, "StateSeq")),
             cli_field(rt, "LiveVersion", a, sizeof(a)), cli_field(rt, "Desired", b, sizeof(b)),
             cli_field(rt, "LastDeployId", d, sizeof(d)),
             cli_field(rt, "ActiveDeployId", e, sizeof(e)), cli_field(p, "State", f, sizeof(f)),
             cli_field(p, "Restarts", g, sizeof(g)), cli_field(p, "Pid", h, sizeof(h)),
             str(s->last, "DeployId"), str(s->last, "State"), str(s->env, "State"));
}

static void print_status(const struct status *s, const char *server)
{
    json_t *e = s->env, *rt = s->runtime, *p = json_object_get(rt, "Process"), *l = s->last;
    char v1[32], v2[32];
    printf("Environment  %s\n", str(e, "EnvId"));
    printf("App          %s\n", str(e, "AppId"));
    printf("Name         %s\n", str(e, "Name"));
    printf("State        %s%s%s%s%s\n", str(e, "State"),
           json_is_string(json_object_get(e, "ErrorCode")) ? " (" : "", str(e, "ErrorCode"),
           json_is_string(json_object_get(e, "ErrorCode")) ? ": " : "",
           json_is_string(json_object_get(e, "ErrorCode")) ? str(e, "ErrorMessage") : "");
    printf("Latest       version %s\n", cli_field(e, "LatestVersion", v1, sizeof(v1)));
    if (!rt) {
        printf("Deploy       unavailable: %s\n", s->runtime_error);
    } else {
        printf("Live         version %s (previous %s), desired %s\n",
               cli_field(rt, "LiveVersion", v1, sizeof(v1)),
               cli_field(rt, "PreviousVersion", v2, sizeof(v2)), str(rt, "Desired"));
        if (json_is_object(p)) {
            char pid[24], port[24], ver[24], restarts[24];
            printf("Process      %s, pid %s, port %s, version %s, %s restarts, since %s\n",
                   str(p, "State"), cli_field(p, "Pid", pid, sizeof(pid)),
                   cli_field(p, "Port", port, sizeof(port)),
                   cli_field(p, "Version", ver, sizeof(ver)),
                   cli_field(p, "Restarts", restarts, sizeof(restarts)), str(p, "StartedAt"));
            if (json_is_string(json_object_get(p, "LastOutput")))
                printf("Last output\n%s\n", str(p, "LastOutput"));
        } else {
            printf("Process      none\n");
        }
        printf("Sandbox      %s\n", str(rt, "Sandbox"));
        if (l) {
            char to[24];
            printf("Last deploy  %s: %s of version %s, %s", str(l, "DeployId"), str(l, "Kind"),
                   cli_field(l, "ToVersion", to, sizeof(to)), str(l, "State"));
            if (json_is_string(json_object_get(l, "ErrorCode")))
                printf(" at %s: %s", str(l, "Step"), str(l, "ErrorCode"));
            printf(" (%s)\n", str(l, "CreatedAt"));
        }
        if (json_is_string(json_object_get(rt, "LastDeployId")))
            printf("Live since   %s\n", str(rt, "LastDeployId"));
        if (json_is_string(json_object_get(rt, "ActiveDeployId")))
            printf("Running      %s\n", str(rt, "ActiveDeployId"));
    }
    printf("URL          %s/env/%s/\n", server, str(e, "EnvId"));
    fflush(stdout);
}

static void show(const struct status *s, const char *server, bool json)
{
    if (!json) {
        print_status(s, server);
        return;
    }
    struct buf url = BUF_INIT;
    buf_addf(&url, "%s/env/%s/", server, str(s->env, "EnvId"));
    json_t *o = json_pack("{s:O,s:O,s:O,s:s}", "Environment", s->env, "Runtime",
                          s->runtime ? s->runtime : json_null(), "LastDeploy",
                          s->last ? s->last : json_null(), "Url", url.data);
    cli_print_json(o);
    fflush(stdout);
    json_decref(o);
    buf_release(&url);
}

static int env_show(int argc, char **argv)
{
    struct cli_opt opts[] = {{"--wait", false, NULL, false},
                             {"--json", false, NULL, false},
                             {"--env", true, NULL, false},
                             {NULL, false, NULL, false}};
    struct be_diag diag = {""};
    const char *pos[1] = {NULL};
    size_t npos;
    int exit_code;
    if (cli_opts_parse(argc, argv, "env show", opts, pos, 1, &npos, show_usage, &exit_code))
        return exit_code;
    struct cli_client *c = NULL;
    struct status s, next;
    char env_id[CLI_ENV_ID_MAX + 1];
    memset(&s, 0, sizeof(s));
    memset(&next, 0, sizeof(next));
    bool json = cli_opt_seen(opts, "--json");
    int rc = cli_client_open(&c, &diag);
    if (rc == BE_OK)
        rc = cli_pick_env(c, npos ? pos[0] : cli_opt(opts, "--env"), env_id, &diag);
    if (rc == BE_OK)
        rc = status_read(c, env_id, -1, &s, &diag);
    if (rc)
        goto out;
    const char *server = cli_client_credentials(c)->server;
    show(&s, server, json);
    if (!cli_opt_seen(opts, "--wait"))
        goto out;
    struct buf before = BUF_INIT, after = BUF_INIT;
    status_signature(&s, &before);
    if (!json)
        fprintf(stderr, "waiting for a change (Ctrl-C ends)...\n");
    for (;;) {
        int64_t seq = json_integer_value(json_object_get(s.env, "StateSeq"));
        if ((rc = status_read(c, env_id, seq, &next, &diag)))
            break;
        buf_reset(&after);
        status_signature(&next, &after);
        status_release(&s);
        s = next;
        memset(&next, 0, sizeof(next));
        if (strcmp(before.data, after.data)) {
            if (!json)
                printf("\n");
            show(&s, server, json);
            break;
        }
    }
    buf_release(&before);
    buf_release(&after);
out:
    status_release(&s);
    status_release(&next);
    cli_client_close(c);
    return rc ? cli_verb_fail("env show", &diag) : 0;
}

/* ---- env delete ------------------------------------------------------------ */

static const char delete_usage[] =
    "usage: bindery env delete ENV\n\n"
    "Deletes an environment: its process stops, its versions and files go (refused\n"
    "while a deploy of it runs).";

static int env_delete(int argc, char **argv)
{
    struct cli_opt opts[] = {{NULL, false, NULL, false}};
    struct be_diag diag = {""};
    const char *pos[1] = {NULL};
    size_t npos;
    int exit_code;
    if (cli_opts_parse(argc, argv, "env delete", opts, pos, 1, &npos, delete_usage, &exit_code))
        return exit_code;
    if (npos != 1) {
        fprintf(stderr, "bindery env delete: which environment?\n%s\n", delete_usage);
        return 2;
    }
    struct cli_client *c = NULL;
    json_t *params = json_pack("{s:s}", "EnvId", pos[0]), *resp = NULL;
    int rc = cli_client_open(&c, &diag);
    if (rc == BE_OK)
        rc = cli_call(c, "DeleteEnvironment", params, &resp, &diag);
    if (rc == BE_OK)
        printf("%s: %s\n", str(resp, "EnvId"), str(resp, "State"));
    json_decref(resp);
    json_decref(params);
    cli_client_close(c);
    return rc ? cli_verb_fail("env delete", &diag) : 0;
}

/* ---- env ------------------------------------------------------------------- */

static const char env_usage[] =
    "usage: bindery env <create|list|show|delete> ...\n\n"
    "  create --app APPID [--name NAME]   create an environment and wait until READY\n"
    "  list [--app APPID]                 list environments\n"
    "  show [ENV] [--wait]                state, versions, process, last deploy, URL\n"
    "  delete ENV                         delete an environment\n\n"
    "'bindery env <verb> --help' describes one.";

static int env_main(int argc, char **argv)
{
    static const struct {
        const char *name;
        int (*run)(int, char **);
    } verbs[] = {
        {"create", env_create}, {"list", env_list}, {"show", env_show}, {"delete", env_delete}};
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        fprintf(argc < 2 ? stderr : stdout, "%s\n", env_usage);
        return argc < 2 ? 2 : 0;
    }
    for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
        if (!strcmp(argv[1], verbs[i].name))
            return verbs[i].run(argc - 1, argv + 1);
    fprintf(stderr, "bindery env: unknown verb '%s'\n%s\n", argv[1], env_usage);
    return 2;
}

/* ---- upload ------------------------------------------------------------------ */

static const char upload_usage[] =
    "usage: bindery upload [DIR] [--env ENV] [--runtime nodejs|python3|exec] [--entry FILE]\n"
    "                      [--message TEXT] [--json]\n\n"
    "Uploads DIR (default .) as the environment's next version. Only regular files\n"
    "are sent (a symbolic link, device, FIFO or socket is an error naming it);\n"
    "directories named .git and what DIR/.binderyignore lists are skipped. Each\n"
    "file's SHA-256 goes to the server, which answers the contents it lacks; only\n"
    "those are sent, a few at a time. Runtime and entry default to the previous\n"
    "version's, else package.json's main / index.js / server.js / app.js / main.js\n"
    "(nodejs) or main.py / app.py / server.py (python3). With exec, the entry is\n"
    "the command line (its first word a file of DIR). ENV defaults to the\n"
    "account's only environment. --json prints the result for scripts.";

static void print_upload(const struct cli_upload_result *r, bool json)
{
    if (json) {
        json_t *o = json_pack(
            "{s:s,s:I,s:s,s:s,s:s,s:s,s:I,s:I,s:I,s:I,s:I,s:I}", "EnvId", r->env_id, "Version",
            (json_int_t)r->version, "UploadId", r->upload_id, "ManifestHash", r->manifest_hash,
            "Runtime", r->runtime, "Entry", r->entry, "FileCount", (json_int_t)r->files,
            "TotalBytes", (json_int_t)r->bytes, "SentBlobs", (json_int_t)r->sent_blobs, "SentBytes",
            (json_int_t)r->sent_bytes, "UnchangedFiles", (json_int_t)r->skipped_files,
            "IgnoredEntries", (json_int_t)r->ignored);
        cli_print_json(o);
        json_decref(o);
        return;
    }
    printf("Version %llu of %s: %zu files, %llu bytes (%s, entry %s).\n",
           (unsigned long long)r->version, r->env_id, r->files, (unsigned long long)r->bytes,
           r->runtime, r->entry);
    printf("Sent %zu new blob%s (%llu bytes); %zu file%s unchanged%s.\n", r->sent_blobs,
           r->sent_blobs == 1 ? "" : "s", (unsigned long long)r->sent_bytes, r->skipped_files,
           r->skipped_files == 1 ? "" : "s", r->ignored ? " (some entries ignored)" : "");
}

/* bindery upload: cli_upload() of DIR into the chosen environment. */
static int upload(int argc, char **argv)
{
    struct cli_opt opts[] = {{"--env", true, NULL, false},   {"--runtime", true, NULL, false},
                             {"--entry", true, NULL, false}, {"--message", true, NULL, false},
                             {"--json", false, NULL, false}, {NULL, false, NULL, false}};
    struct be_diag diag = {""};
    const char *pos[1] = {NULL};
    size_t npos;
    int exit_code;
    if (cli_opts_parse(argc, argv, "upload", opts, pos, 1, &npos, upload_usage, &exit_code))
        return exit_code;
    bool json = cli_opt_seen(opts, "--json");
    struct cli_client *c = NULL;
    char env_id[CLI_ENV_ID_MAX + 1];
    struct cli_upload_result r;
    int rc = cli_client_open(&c, &diag);
    if (rc == BE_OK)
        rc = cli_pick_env(c, cli_opt(opts, "--env"), env_id, &diag);
    if (rc == BE_OK) {
        struct cli_upload_options o = {npos ? pos[0] : ".",        env_id,
                                       cli_opt(opts, "--runtime"), cli_opt(opts, "--entry"),
                                       cli_opt(opts, "--message"), !json && isatty(STDERR_FILENO)};
        rc = cli_upload(c, &o, &r, &diag);
    }
    if (rc == BE_OK)
        print_upload(&r, json);
    cli_client_close(c);
    return rc ? cli_verb_fail("upload", &diag) : 0;
}

/* ---- versions ------------------------------------------------------------------ */

static const char versions_usage[] =
    "usage: bindery versions [--env ENV] [--json]\n\n"
    "Lists the environment's versions, newest first; the live one is marked *.";

static int versions(int argc, char **argv)
{
    struct cli_opt opts[] = {
        {"--env", true, NULL, false}, {"--json", false, NULL, false}, {NULL, false, NULL, false}};
    struct be_diag diag = {""};
    size_t npos;
    int exit_code;
    if (cli_opts_parse(argc, argv, "versions", opts, NULL, 0, &npos, versions_usage, &exit_code))
        return exit_code;
    struct cli_client *c = NULL;
    char env_id[CLI_ENV_ID_MAX + 1];
    json_t *all = json_array();
    int rc = cli_client_open(&c, &diag);
    if (rc == BE_OK)
        rc = cli_pick_env(c, cli_opt(opts, "--env"), env_id, &diag);
    while (rc == BE_OK) {
        json_t *params = json_pack("{s:s,s:I,s:i}", "EnvId", env_id, "Offset",
                                   (json_int_t)json_array_size(all), "Limit", VERSIONS_PAGE),
               *resp = NULL;
        rc = cli_call(c, "DescribeVersions", params, &resp, &diag);
        json_decref(params);
        json_t *page = json_object_get(resp, "Versions");
        json_array_extend(all, page);
        bool more = rc == BE_OK && json_array_size(page) &&
                    (json_int_t)json_array_size(all) <
                        json_integer_value(json_object_get(resp, "TotalCount"));
        json_decref(resp);
        if (!more)
            break;
    }
    json_int_t live = 0;
    if (rc == BE_OK) {
        json_t *params = json_pack("{s:s}", "EnvId", env_id), *resp = NULL;
        struct be_diag ignore = {""};
        if (cli_call(c, "DescribeEnvironmentRuntime", params, &resp, &ignore) == BE_OK)
            live = json_integer_value(
                json_object_get(json_object_get(resp, "Runtime"), "LiveVersion"));
        json_decref(resp);
        json_decref(params);
    }
    if (rc == BE_OK && cli_opt_seen(opts, "--json")) {
        cli_print_json(all);
    } else if (rc == BE_OK && json_array_size(all) == 0) {
        printf("%s has no version yet: bindery upload DIR --env %s\n", env_id, env_id);
    } else if (rc == BE_OK) {
        json_t *v;
        size_t i;
        char files[24], bytes[24];
        printf("  %-7s %-8s %-24s %6s %11s %-20s %s\n", "VERSION", "RUNTIME", "ENTRY", "FILES",
               "BYTES", "CREATED", "DESCRIPTION");
        json_array_foreach(all, i, v)
        {
            json_int_t n = json_integer_value(json_object_get(v, "Version"));
            printf("%c %-7lld %-8s %-24s %6s %11s %-20s %s\n", n == live ? '*' : ' ', (long long)n,
                   str(v, "Runtime"), str(v, "Entry"),
                   cli_field(v, "FileCount", files, sizeof(files)),
                   cli_field(v, "TotalBytes", bytes, sizeof(bytes)), str(v, "CreatedAt"),
                   str(v, "Description"));
        }
    }
    json_decref(all);
    cli_client_close(c);
    return rc ? cli_verb_fail("versions", &diag) : 0;
}

int cmd_env(int argc, char **argv)
{
    return cli_with_curl(env_main, argc, argv);
}

int cmd_upload(int argc, char **argv)
{
    return cli_with_curl(upload, argc, argv);
}

int cmd_versions(int argc, char **argv)
{
    return cli_with_curl(versions, argc, argv);
}
