/* Operator commands that talk to the store directly (they work while the
 * server runs): create an account, create an API key. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "account/account.h"
#include "api/action.h"
#include "app.h"
#include "cam/accesskey.h"
#include "cmd/cmd.h"
#include "core/crypto.h"
#include "core/parse.h"
#include "core/timeutil.h"
#include "core/banned.h"

static const char usage[] =
    "usage: bindery admin <command> [--config FILE] [--data-dir DIR] [--store URL]\n\n"
    "commands:\n"
    "  create-account --email EMAIL --password-stdin\n"
    "      creates a root account; reads the password from standard input;\n"
    "      prints the account ID (账号 ID)\n"
    "  create-access-key --account ID [--description TEXT]\n"
    "      creates an API key for the account's root; prints\n"
    "      {\"SecretId\": ..., \"SecretKey\": ...} as JSON\n"
    "  actions\n"
    "      prints the API's actions as JSON: service, name, version, CAM action\n"
    "      and parameters (docs/api.md)";

/* Finds "--name VALUE" in rest; NULL if absent. */
static const char *flag(char **rest, const char *name)
{
    for (size_t i = 0; rest[i]; i++)
        if (!strcmp(rest[i], name) && rest[i + 1])
            return rest[i + 1];
    return NULL;
}

static bool has_flag(char **rest, const char *name)
{
    for (size_t i = 0; rest[i]; i++)
        if (!strcmp(rest[i], name))
            return true;
    return false;
}

static int read_password(char *out, size_t n)
{
    if (!fgets(out, (int)n, stdin))
        return -1;
    size_t len = strlen(out);
    if (len == n - 1 && out[len - 1] != '\n')
        return -1; /* longer than we accept */
    while (len && (out[len - 1] == '\n' || out[len - 1] == '\r'))
        out[--len] = '\0';
    return 0;
}

static int create_account(struct app *app, char **rest)
{
    char password[ACCOUNT_PASSWORD_MAX + 2];
    struct be_diag diag = {""};
    struct account acct;
    struct req_meta meta = {NULL, "admin-cli", "bindery admin", time_now()};
    const char *email = flag(rest, "--email");
    if (!email || !has_flag(rest, "--password-stdin")) {
        fprintf(stderr, "%s\n", usage);
        return 2;
    }
    if (read_password(password, sizeof(password))) {
        fprintf(stderr, "bindery admin: cannot read a password (at most %d bytes) from stdin\n",
                ACCOUNT_PASSWORD_MAX);
        return 2;
    }
    int rc = account_signup(app, &meta, email, password, &acct, &diag);
    crypto_wipe(password, sizeof(password));
    if (rc) {
        fprintf(stderr, "bindery admin: %s: %s\n", be_err_code(rc),
                diag.msg[0] ? diag.msg : be_err_message(rc));
        return 1;
    }
    printf("%llu\n", (unsigned long long)acct.uin);
    return 0;
}

static int create_access_key(struct app *app, char **rest)
{
    struct be_diag diag = {""};
    struct account acct;
    struct accesskey key;
    struct req_meta meta = {NULL, "admin-cli", "bindery admin", time_now()};
    uint64_t uin;
    const char *id = flag(rest, "--account");
    if (!id || parse_u64(id, ACCOUNT_UIN_MAX, &uin)) {
        fprintf(stderr, "%s\n", usage);
        return 2;
    }
    int rc = account_get(app, uin, &acct);
    if (rc) {
        fprintf(stderr, "bindery admin: no account %s\n", id);
        return 1;
    }
    struct principal who = {PRINCIPAL_ROOT, uin, uin, acct.app_id};
    rc = accesskey_create(app, &meta, &who, uin, uin, flag(rest, "--description"), &key, &diag);
    if (rc) {
        fprintf(stderr, "bindery admin: %s: %s\n", be_err_code(rc),
                diag.msg[0] ? diag.msg : be_err_message(rc));
        return 1;
    }
    printf("{\"SecretId\": \"%s\", \"SecretKey\": \"%s\"}\n", key.secret_id, key.secret_key);
    crypto_wipe(&key, sizeof(key));
    return 0;
}

int cmd_admin(int argc, char **argv)
{
    struct config *cfg = NULL;
    char **rest = NULL;
    int status = 1;
    struct app app;
    struct be_diag diag = {""};
    if (cmd_load_config(argc, argv, CONFIG_SCOPE_STORE | CONFIG_SCOPE_SERVE, usage, &cfg, &rest,
                        &status))
        return status;
    const char *sub = rest[0];
    if (sub && !strcmp(sub, "actions")) { /* needs no store */
        json_t *list = api_actions_describe();
        char *text = json_dumps(list, JSON_INDENT(2));
        json_decref(list);
        status = !text || puts(text) == EOF;
        free(text);
        goto out;
    }
    if (!sub || (strcmp(sub, "create-account") && strcmp(sub, "create-access-key"))) {
        fprintf(stderr, "%s\n", usage);
        status = 2;
        goto out;
    }
    if (app_open(cfg, &app, &diag)) {
        fprintf(stderr, "bindery admin: %s\n", diag.msg);
        goto out;
    }
    status = !strcmp(sub, "create-account") ? create_account(&app, rest + 1)
                                            : create_access_key(&app, rest + 1);
    app_close(&app);
out:
    free(rest);
    config_free(cfg);
    return status;
}
