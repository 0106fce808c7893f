/* The developer CLI's login verbs (docs/devtools.md):
 *
 *   bindery login [--server URL]   RFC 8628 device flow, credentials saved
 *   bindery logout                 revokes the device, deletes the file
 *   bindery whoami [--json]        who the saved login acts as
 *   bindery console [--page PATH]  a one-time console sign-in link, opened
 *                                  with xdg-open when there is a display
 */
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "cli/client.h"
#include "cli/qr.h"
#include "cmd/cmd.h"
#include "core/crypto.h"
#include "core/timeutil.h"
#include "core/banned.h"

extern char **environ;

#define LOGIN_SCOPE       "bindery"
#define POLL_MAX_INTERVAL 300

static const char *flag(int argc, char **argv, const char *name)
{
    for (int i = 1; i + 1 < argc; i++)
        if (!strcmp(argv[i], name))
            return argv[i + 1];
    return NULL;
}

static bool has(int argc, char **argv, const char *name)
{
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], name))
            return true;
    return false;
}

/* Only the flags a verb knows, each with its value when it takes one. */
static int check_flags(int argc, char **argv, const char *const *with_value,
                       const char *const *bare, const char *usage)
{
    for (int i = 1; i < argc; i++) {
        bool ok = false;
        for (const char *const *f = with_value; *f && !ok; f++)
            if (!strcmp(argv[i], *f) && i + 1 < argc) {
                ok = true;
                i++;
            }
        for (const char *const *f = bare; *f && !ok; f++)
            ok = !strcmp(argv[i], *f);
        if (!ok) {
            fprintf(stderr, "bindery %s: unexpected argument '%s'\n%s\n", argv[0], argv[i], usage);
            return 2;
        }
    }
    return 0;
}

static int fail(const char *verb, const struct be_diag *diag)
{
    fprintf(stderr, "bindery %s: %s\n", verb, diag->msg[0] ? diag->msg : "failed");
    return 1;
}

/* ---- login -------------------------------------------------------------- */

static const char login_usage[] =
    "usage: bindery login [--server URL] [--no-qr]\n\n"
    "Signs this computer in to a Bindery server with the device flow (RFC 8628):\n"
    "open the URL shown (or scan the QR code), sign in to the console, check\n"
    "the code and approve. The temporary credentials are saved to\n"
    "$XDG_CONFIG_HOME/bindery/credentials (~/.config/bindery/credentials), mode 0600.\n"
    "The server defaults to $BINDERY_SERVER, the last login's, or " CLI_DEFAULT_SERVER ".";

static void server_of(int argc, char **argv, char *out, size_t n)
{
    struct cli_credentials old;
    const char *s = flag(argc, argv, "--server");
    if (!s)
        s = getenv("BINDERY_SERVER");
    if (!s && cli_credentials_load(&old, NULL) == BE_OK)
        snprintf(out, n, "%s", old.server);
    else
        snprintf(out, n, "%s", s && *s ? s : CLI_DEFAULT_SERVER);
    size_t len = strlen(out);
    while (len && out[len - 1] == '/')
        out[--len] = '\0';
}

static void show_prompt(json_t *da, bool qr)
{
    const char *uri = json_string_value(json_object_get(da, "verification_uri"));
    const char *complete = json_string_value(json_object_get(da, "verification_uri_complete"));
    const char *code = json_string_value(json_object_get(da, "user_code"));
    struct buf q = BUF_INIT;
    printf("To sign in, open %s\nand enter the code: %s\n", uri ? uri : "?", code ? code : "?");
    if (qr && complete && cli_qr_render(complete, &q) == BE_OK)
        printf("\nOr scan this QR code (it opens %s):\n%s", complete, q.data);
    printf("\nWaiting for approval in the console...\n");
    fflush(stdout);
    buf_release(&q);
}

static void sleep_s(int64_t s)
{
    struct timespec ts = {(time_t)s, 0};
    while (nanosleep(&ts, &ts))
        ;
}

/* Polls until the user decides or the code expires (RFC 8628 §3.5). */
static int poll_tokens(const char *server, const char *device_code, int64_t interval,
                       int64_t expires_in, struct cli_credentials *cred, struct be_diag *diag)
{
    int64_t deadline = time_now() + expires_in;
    for (;;) {
        struct buf form = BUF_INIT;
        json_t *resp = NULL;
        long status = 0;
        sleep_s(interval);
        cli_form_add(&form, "grant_type", "urn:ietf:params:oauth:grant-type:device_code");
        cli_form_add(&form, "device_code", device_code);
        cli_form_add(&form, "client_id", CLI_CLIENT_ID);
        int rc = cli_oauth_post(server, "/oauth/token", form.data, &status, &resp, diag);
        buf_release(&form);
        if (rc && time_now() < deadline) {
            fprintf(stderr, "bindery login: %s; retrying\n", diag->msg);
            continue; /* a network blip is not the end of a login */
        }
        if (rc)
            return rc;
        if (status == 200) {
            rc = cli_credentials_from_token_response(cred, resp, time_now(), diag);
            json_decref(resp);
            return rc;
        }
        const char *err = json_string_value(json_object_get(resp, "error"));
        err = err ? err : "";
        if (!strcmp(err, "slow_down")) {
            json_t *next = json_object_get(resp, "interval");
            interval = json_is_integer(next) ? (int64_t)json_integer_value(next) : interval + 5;
            if (interval > POLL_MAX_INTERVAL)
                interval = POLL_MAX_INTERVAL;
        } else if (strcmp(err, "authorization_pending")) {
            rc = be_fail(diag, !strcmp(err, "access_denied") ? BE_DEVICE_DENIED : BE_DEVICE_EXPIRED,
                         "%s",
                         !strcmp(err, "access_denied") ? "the login was denied in the console"
                         : !strcmp(err, "expired_token")
                             ? "the code expired before it was approved; run bindery login again"
                             : "the server refused the login; run bindery login again");
            json_decref(resp);
            return rc;
        }
        json_decref(resp);
    }
}

/* Best effort: the previous login's device is revoked on the server. */
static void revoke_replaced(const struct cli_credentials *old, const char *new_device)
{
    struct buf form = BUF_INIT;
    json_t *resp = NULL;
    long status = 0;
    if (!strcmp(old->device_id, new_device))
        return;
    cli_form_add(&form, "token", old->refresh_token);
    cli_form_add(&form, "token_type_hint", "refresh_token");
    if (cli_oauth_post(old->server, "/oauth/revoke", form.data, &status, &resp, NULL) == BE_OK &&
        status == 200)
        printf("The previous login (device %s) was revoked.\n", old->device_id);
    json_decref(resp);
    crypto_wipe(form.data, form.len);
    buf_release(&form);
}

static int login(int argc, char **argv)
{
    static const char *const with_value[] = {"--server", NULL}, *const bare[] = {"--no-qr", NULL};
    char server[CLI_SERVER_MAX + 1];
    struct be_diag diag = {""};
    struct buf form = BUF_INIT;
    struct cli_credentials cred;
    json_t *da = NULL;
    long status = 0;
    int rc = check_flags(argc, argv, with_value, bare, login_usage), exit_code = 1;
    if (rc)
        return rc;
    memset(&cred, 0, sizeof(cred));
    server_of(argc, argv, server, sizeof(server));
    /* A login this one replaces is revoked once the new one is saved. */
    struct cli_credentials old;
    bool had_old = cli_credentials_load(&old, NULL) == BE_OK && !strcmp(old.server, server);
    cli_form_add(&form, "client_id", CLI_CLIENT_ID);
    cli_form_add(&form, "scope", LOGIN_SCOPE);
    rc = cli_oauth_post(server, "/oauth/device_authorization", form.data, &status, &da, &diag);
    if (rc == BE_OK && status != 200)
        rc = be_fail(&diag, BE_UPSTREAM, "%s did not start a device login (HTTP %ld: %s)", server,
                     status, da ? json_string_value(json_object_get(da, "error_description")) : "");
    const char *device_code = json_string_value(json_object_get(da, "device_code"));
    json_t *iv = json_object_get(da, "interval"), *ex = json_object_get(da, "expires_in");
    if (rc == BE_OK && (!device_code || !json_is_integer(ex)))
        rc = be_fail(&diag, BE_UPSTREAM, "%s answered without a device code", server);
    if (rc)
        goto out;
    show_prompt(da, !has(argc, argv, "--no-qr"));
    snprintf(cred.server, sizeof(cred.server), "%s", server);
    snprintf(cred.client_id, sizeof(cred.client_id), "%s", CLI_CLIENT_ID);
    if ((rc = poll_tokens(server, device_code, json_is_integer(iv) ? json_integer_value(iv) : 5,
                          json_integer_value(ex), &cred, &diag)) ||
        (rc = cli_credentials_save(&cred, &diag)))
        goto out;
    printf("Logged in to %s as uin %s in account %s (device %s).\n", server, cred.uin,
           cred.owner_uin, cred.device_id);
    if (had_old)
        revoke_replaced(&old, cred.device_id);
    exit_code = 0;
out:
    if (exit_code)
        fail("login", &diag);
    crypto_wipe(&cred, sizeof(cred));
    crypto_wipe(&old, sizeof(old));
    json_decref(da);
    buf_release(&form);
    return exit_code;
}

/* ---- logout ------------------------------------------------------------- */

static int logout(int argc, char **argv)
{
    static const char *const none[] = {NULL};
    struct be_diag diag = {""};
    struct cli_credentials cred;
    struct buf form = BUF_INIT;
    json_t *resp = NULL;
    long status = 0;
    int rc = check_flags(argc, argv, none, none, "usage: bindery logout");
    if (rc)
        return rc;
    if ((rc = cli_credentials_load(&cred, &diag))) {
        if (rc != BE_AUTH_TOKEN)
            return fail("logout", &diag);
        printf("Not logged in.\n");
        return 0;
    }
    cli_form_add(&form, "token", cred.refresh_token);
    cli_form_add(&form, "token_type_hint", "refresh_token");
    rc = cli_oauth_post(cred.server, "/oauth/revoke", form.data, &status, &resp, &diag);
    if (rc == BE_OK && status != 200)
        rc = be_fail(&diag, BE_UPSTREAM, "%s refused to revoke the login (HTTP %ld)", cred.server,
                     status);
    /* The file goes even when the server cannot be reached: this computer
     * forgets the login; the console's devices list can still revoke it. */
    int rm = cli_credentials_remove(&diag);
    if (rc == BE_OK && rm == BE_OK)
        printf("Logged out of %s (device %s revoked).\n", cred.server, cred.device_id);
    else
        fprintf(stderr, "bindery logout: %s%s\n", diag.msg,
                rm == BE_OK ? " (the saved credentials were deleted; revoke the device in the "
                              "console's devices list)"
                            : "");
    crypto_wipe(&cred, sizeof(cred));
    crypto_wipe(form.data, form.len);
    buf_release(&form);
    json_decref(resp);
    return rc == BE_OK && rm == BE_OK ? 0 : 1;
}

/* ---- whoami ------------------------------------------------------------- */

static int whoami(int argc, char **argv)
{
    static const char *const none[] = {NULL}, *const bare[] = {"--json", NULL};
    struct be_diag diag = {""};
    struct cli_client *c = NULL;
    json_t *resp = NULL;
    int rc = check_flags(argc, argv, none, bare, "usage: bindery whoami [--json]");
    if (rc)
        return rc;
    if ((rc = cli_client_open(&c, &diag)))
        return fail("whoami", &diag);
    /* CAM's GetUserAppId (Uin, OwnerUin, AppId), and STS's
     * GetCallerIdentity (Arn, Type, ...) added when the server has it. */
    rc = cli_call_service(c, "cam", "2019-01-16", "GetUserAppId", NULL, &resp, &diag);
    if (rc) {
        cli_client_close(c);
        return fail("whoami", &diag);
    }
    json_t *identity = NULL;
    struct be_diag ignored;
    if (cli_call_service(c, "sts", "2018-08-13", "GetCallerIdentity", NULL, &identity,
                         &ignored) == BE_OK)
        json_object_update_missing(resp, identity);
    json_decref(identity);
    const struct cli_credentials *cred = cli_client_credentials(c);
    json_object_set_new(resp, "Server", json_string(cred->server));
    json_object_set_new(resp, "DeviceId", json_string(cred->device_id));
    if (has(argc, argv, "--json")) {
        char *s = json_dumps(resp, JSON_INDENT(2) | JSON_SORT_KEYS);
        printf("%s\n", s ? s : "{}");
        free(s);
    } else {
        const char *key;
        json_t *v;
        json_object_foreach(resp, key, v)
        {
            char *s = json_is_string(v) ? NULL : json_dumps(v, JSON_ENCODE_ANY);
            printf("%-12s %s\n", key, s ? s : json_string_value(v));
            free(s);
        }
    }
    json_decref(resp);
    cli_client_close(c);
    return 0;
}

/* ---- console ------------------------------------------------------------ */

static bool open_browser(const char *url)
{
    const char *display = getenv("DISPLAY"), *wayland = getenv("WAYLAND_DISPLAY");
    if (!(display && *display) && !(wayland && *wayland))
        return false;
    pid_t pid;
    char *const args[] = {"xdg-open", (char *)url, NULL};
    int st = 0;
    if (posix_spawnp(&pid, "xdg-open", NULL, NULL, args, environ))
        return false;
    return waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

static int console(int argc, char **argv)
{
    static const char *const with_value[] = {"--page", NULL}, *const bare[] = {"--print", NULL};
    struct be_diag diag = {""};
    struct cli_client *c = NULL;
    json_t *resp = NULL, *params = json_object();
    int rc =
        check_flags(argc, argv, with_value, bare, "usage: bindery console [--page PATH] [--print]");
    if (rc) {
        json_decref(params);
        return rc;
    }
    const char *page = flag(argc, argv, "--page");
    if (page)
        json_object_set_new(params, "Page", json_string(page));
    if ((rc = cli_client_open(&c, &diag)) ||
        (rc = cli_call(c, "CreateConsoleLoginUrl", params, &resp, &diag))) {
        json_decref(params);
        cli_client_close(c);
        return fail("console", &diag);
    }
    const char *url = json_string_value(json_object_get(resp, "Url"));
    json_int_t ttl = json_integer_value(json_object_get(resp, "ExpiresIn"));
    if (!has(argc, argv, "--print") && url && open_browser(url))
        printf("Opened the console in your browser (the link works once, within %lld s).\n",
               (long long)ttl);
    else
        printf("Open this link within %lld seconds (it works once):\n%s\n", (long long)ttl,
               url ? url : "?");
    json_decref(resp);
    json_decref(params);
    cli_client_close(c);
    return 0;
}

static int with_curl(int (*verb)(int, char **), int argc, char **argv)
{
    if (curl_global_init(CURL_GLOBAL_DEFAULT)) {
        fprintf(stderr, "bindery %s: libcurl did not start\n", argv[0]);
        return 1;
    }
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("%s\n", !strcmp(argv[0], "login") ? login_usage : "see docs/devtools.md");
            curl_global_cleanup();
            return 0;
        }
    int rc = verb(argc, argv);
    curl_global_cleanup();
    return rc;
}

int cmd_login(int argc, char **argv)
{
    return with_curl(login, argc, argv);
}

int cmd_logout(int argc, char **argv)
{
    return with_curl(logout, argc, argv);
}

int cmd_whoami(int argc, char **argv)
{
    return with_curl(whoami, argc, argv);
}

int cmd_console(int argc, char **argv)
{
    return with_curl(console, argc, argv);
}
