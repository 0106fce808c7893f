#include "cli/verb.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/parse.h"
#include "core/banned.h"

#define ENV_LIST_PAGE 100
#define ENV_LIST_SHOW 20 /* environments named in the "which one?" error */

static struct cli_opt *find_opt(struct cli_opt *opts, const char *arg, size_t len)
{
    for (struct cli_opt *o = opts; o->name; o++)
        if (strlen(o->name) == len && !strncmp(o->name, arg, len))
            return o;
    return NULL;
}

static int usage_error(const char *verb, const char *usage, int *ret_exit, const char *what,
                       const char *arg)
{
    fprintf(stderr, "bindery %s: %s '%s'\n%s\n", verb, what, arg, usage);
    *ret_exit = 2;
    return -1;
}

int cli_opts_parse(int argc, char **argv, const char *verb, struct cli_opt *opts, const char **pos,
                   size_t max_pos, size_t *ret_npos, const char *usage, int *ret_exit)
{
    size_t npos = 0;
    bool only_pos = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!only_pos && (!strcmp(a, "--help") || !strcmp(a, "-h"))) {
            printf("%s\n", usage);
            *ret_exit = 0;
            return -1;
        }
        if (!only_pos && !strcmp(a, "--")) {
            only_pos = true;
            continue;
        }
        if (only_pos || a[0] != '-' || !a[1]) {
            if (npos == max_pos)
                return usage_error(verb, usage, ret_exit, "unexpected argument", a);
            pos[npos++] = a;
            continue;
        }
        const char *eq = strchr(a, '=');
        struct cli_opt *o = find_opt(opts, a, eq ? (size_t)(eq - a) : strlen(a));
        if (!o)
            return usage_error(verb, usage, ret_exit, "unknown option", a);
        if (o->seen)
            return usage_error(verb, usage, ret_exit, "option given twice:", o->name);
        o->seen = true;
        if (!o->takes_value) {
            if (eq)
                return usage_error(verb, usage, ret_exit, "option takes no value:", o->name);
            continue;
        }
        if (eq)
            o->value = eq + 1;
        else if (i + 1 < argc)
            o->value = argv[++i];
        else
            return usage_error(verb, usage, ret_exit, "missing value after", o->name);
    }
    *ret_npos = npos;
    return 0;
}

const char *cli_opt(const struct cli_opt *opts, const char *name)
{
    for (const struct cli_opt *o = opts; o->name; o++)
        if (!strcmp(o->name, name))
            return o->value;
    return NULL;
}

bool cli_opt_seen(const struct cli_opt *opts, const char *name)
{
    for (const struct cli_opt *o = opts; o->name; o++)
        if (!strcmp(o->name, name))
            return o->seen;
    return false;
}

int cli_opt_u64(const struct cli_opt *opts, const char *name, uint64_t max, uint64_t *ret,
                struct be_diag *diag)
{
    const char *v = cli_opt(opts, name);
    uint64_t n;
    if (!v)
        return BE_OK;
    if (parse_u64(v, max, &n) || n == 0)
        return be_fail(diag, BE_INVALID_PARAMETER, "%s wants a number from 1 to %llu, not '%.40s'",
                       name, (unsigned long long)max, v);
    *ret = n;
    return BE_OK;
}

int cli_verb_fail(const char *verb, const struct be_diag *diag)
{
    fprintf(stderr, "bindery %s: %s\n", verb, diag && diag->msg[0] ? diag->msg : "failed");
    return 1;
}

/* Every environment of the account (pages of ENV_LIST_PAGE). */
static int list_all(struct cli_client *c, json_t **ret, struct be_diag *diag)
{
    json_t *all = json_array();
    for (;;) {
        json_t *params = json_pack("{s:I,s:i}", "Offset", (json_int_t)json_array_size(all), "Limit",
                                   ENV_LIST_PAGE),
               *resp = NULL;
        int rc = cli_call(c, "DescribeEnvironments", params, &resp, diag);
        json_decref(params);
        if (rc) {
            json_decref(all);
            return rc;
        }
        json_t *page = json_object_get(resp, "Environments");
        json_int_t total = json_integer_value(json_object_get(resp, "TotalCount"));
        json_array_extend(all, page);
        bool more = json_array_size(page) > 0 && (json_int_t)json_array_size(all) < total;
        json_decref(resp);
        if (!more)
            break;
    }
    *ret = all;
    return BE_OK;
}

int cli_pick_env(struct cli_client *c, const char *given, char out[CLI_ENV_ID_MAX + 1],
                 struct be_diag *diag)
{
    if (given) {
        if (!*given || copy_str(out, CLI_ENV_ID_MAX + 1, given))
            return be_fail(diag, BE_INVALID_PARAMETER, "--env '%.80s' is not an environment id",
                           given);
        return BE_OK;
    }
    json_t *all = NULL;
    int rc = list_all(c, &all, diag);
    if (rc)
        return rc;
    size_t n = json_array_size(all);
    if (n == 1) {
        const char *id = json_string_value(json_object_get(json_array_get(all, 0), "EnvId"));
        rc = copy_str(out, CLI_ENV_ID_MAX + 1, id ? id : "")
                 ? be_fail(diag, BE_UPSTREAM, "the server listed a malformed environment")
                 : BE_OK;
        json_decref(all);
        return rc;
    }
    struct buf msg = BUF_INIT;
    if (n == 0)
        buf_adds(&msg, "this account has no environment; create one with bindery env create "
                       "--app APPID");
    else
        buf_addf(&msg, "this account has %zu environments; choose one with --env:", n);
    for (size_t i = 0; i < n && i < ENV_LIST_SHOW; i++) {
        json_t *e = json_array_get(all, i);
        buf_addf(&msg, "\n  %s (app %s, %s)", json_string_value(json_object_get(e, "EnvId")),
                 json_string_value(json_object_get(e, "AppId")),
                 json_string_value(json_object_get(e, "State")));
    }
    if (n > ENV_LIST_SHOW)
        buf_addf(&msg, "\n  ... and %zu more (bindery env list)", n - ENV_LIST_SHOW);
    rc = be_fail(diag, BE_INVALID_PARAMETER, "%s", msg.data);
    buf_release(&msg);
    json_decref(all);
    return rc;
}

void cli_print_json(json_t *v)
{
    char *s = json_dumps(v, JSON_INDENT(2) | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    printf("%s\n", s ? s : "null");
    free(s);
}

const char *cli_field(json_t *obj, const char *key, char *out, size_t n)
{
    json_t *v = json_object_get(obj, key);
    if (json_is_string(v))
        snprintf(out, n, "%s", json_string_value(v));
    else if (json_is_integer(v))
        snprintf(out, n, "%lld", (long long)json_integer_value(v));
    else if (json_is_true(v) || json_is_false(v))
        snprintf(out, n, "%s", json_is_true(v) ? "true" : "false");
    else
        snprintf(out, n, "-");
    return out;
}

int cli_with_curl(int (*verb)(int, char **), int argc, char **argv)
{
    if (curl_global_init(CURL_GLOBAL_DEFAULT)) {
        fprintf(stderr, "bindery %s: libcurl did not start\n", argv[0]);
        return 1;
    }
    int rc = verb(argc, argv);
    curl_global_cleanup();
    return rc;
}
