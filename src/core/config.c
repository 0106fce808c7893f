#include "core/config.h"

#include <ctype.h>
#include <ini.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/mem.h"
#include "core/parse.h"
#include "core/banned.h"

enum config_type { T_STRING, T_U64, T_BOOL };

struct config_key {
    const char *name;
    enum config_type type;
    const char *def;
    uint64_t min, max; /* for T_U64 */
    size_t offset;
    unsigned scope;
    const char *help;
};

#define F(field)   offsetof(struct config, field)
#define S_STORE    CONFIG_SCOPE_STORE
#define S_SERVE    CONFIG_SCOPE_SERVE
#define S_WECHAT   CONFIG_SCOPE_WECHAT
#define S_PLATFORM CONFIG_SCOPE_PLATFORM

static const struct config_key keys[] = {
    {"data_dir", T_STRING, "./var", 0, 0, F(data_dir), S_STORE,
     "directory for the SQLite database, the master key and other state"},
    {"master_key_file", T_STRING, "", 0, 0, F(master_key_file), S_STORE,
     "file holding the master key (default: DATA_DIR/master.key); instances sharing a "
     "database must share it"},
    {"store", T_STRING, "", 0, 0, F(store), S_STORE,
     "store URL: sqlite:///path/to/file.db or postgres://user@host/db (default: "
     "sqlite in the data directory)"},
    {"store.pool_size", T_U64, "0", 0, 256, F(store_pool_size), S_STORE,
     "database connections (0 = HTTP threads + 2)"},
    {"log.level", T_STRING, "info", 0, 0, F(log_level), S_STORE, "debug, info, warn or error"},
    {"log.access", T_BOOL, "true", 0, 0, F(access_log), S_SERVE | S_PLATFORM,
     "write one JSON line per request to stderr"},
    {"listen", T_STRING, "127.0.0.1:8080", 0, 0, F(listen), S_SERVE,
     "address and port to listen on"},
    {"listen", T_STRING, "127.0.0.1:8081", 0, 0, F(listen), S_PLATFORM,
     "address and port the emulator listens on"},
    {"public_url", T_STRING, "", 0, 0, F(public_url), S_SERVE,
     "URL users reach this server at (default: http://LISTEN)"},
    {"web_dir", T_STRING, "web", 0, 0, F(web_dir), S_SERVE,
     "directory of the console's pages, scripts and styles"},
    {"http.threads", T_U64, "0", 0, 256, F(http_threads), S_SERVE,
     "worker threads (0 = one per core)"},
    {"http.max_body_bytes", T_U64, "1048576", 1024, 1ull << 30, F(http_max_body_bytes), S_SERVE,
     "largest request body accepted; larger bodies get 413"},
    {"http.timeout", T_U64, "30", 1, 3600, F(http_timeout), S_SERVE,
     "seconds an idle connection is kept"},
    {"http.trust_proxy", T_BOOL, "false", 0, 0, F(http_trust_proxy), S_SERVE,
     "trust X-Forwarded-For / X-Forwarded-Proto from a reverse proxy"},
    {"http.max_connections", T_U64, "4096", 16, 65536, F(http_max_connections), S_SERVE,
     "concurrent connections accepted"},
    {"session.idle_timeout", T_U64, "7200", 1, 30 * 86400, F(session_idle_timeout), S_SERVE,
     "seconds of inactivity after which a console session ends"},
    {"session.absolute_timeout", T_U64, "43200", 1, 90 * 86400, F(session_absolute_timeout),
     S_SERVE, "seconds after sign-in after which a console session ends"},
    {"session.cookie_secure", T_STRING, "auto", 0, 0, F(session_cookie_secure), S_SERVE,
     "mark cookies Secure: auto (when public_url is https or behind TLS), true, false"},
    {"password.memory_kib", T_U64, "19456", 64, 4u << 20, F(password_memory_kib), S_STORE,
     "argon2id memory cost in KiB"},
    {"password.iterations", T_U64, "2", 1, 64, F(password_iterations), S_STORE,
     "argon2id time cost"},
    {"password.max_concurrent", T_U64, "0", 0, 256, F(password_max_concurrent), S_STORE,
     "password hashes computed at once (0 = one per core)"},
    {"login.max_failures", T_U64, "5", 1, 1000, F(login_max_failures), S_SERVE,
     "failed logins (per IP and per account) before back-off starts"},
    {"login.base_delay", T_U64, "2", 1, 3600, F(login_base_delay), S_SERVE,
     "seconds of the first back-off; doubles with each further failure"},
    {"login.max_delay", T_U64, "900", 1, 86400, F(login_max_delay), S_SERVE,
     "longest back-off in seconds"},
    {"api.clock_skew", T_U64, "300", 1, 86400, F(api_clock_skew), S_SERVE,
     "seconds X-TC-Timestamp may differ from server time"},
    {"wechat.api_base_url", T_STRING, "https://api.weixin.qq.com", 0, 0, F(wechat_api_base_url),
     S_WECHAT, "base URL of the WeChat component API"},
    {"wechat.mp_base_url", T_STRING, "https://mp.weixin.qq.com", 0, 0, F(wechat_mp_base_url),
     S_WECHAT, "base URL of the WeChat authorization pages"},
    {"wechat.component_appid", T_STRING, "", 0, 0, F(wechat_component_appid), S_WECHAT,
     "AppId of Bindery's third-party platform (component)"},
    {"wechat.component_appsecret", T_STRING, "", 0, 0, F(wechat_component_appsecret), S_WECHAT,
     "AppSecret of the component"},
    {"wechat.token", T_STRING, "", 0, 0, F(wechat_token), S_WECHAT,
     "message verification token of the component"},
    {"wechat.encoding_aes_key", T_STRING, "", 0, 0, F(wechat_encoding_aes_key), S_WECHAT,
     "43-character EncodingAESKey of the component"},
    {"wechat.previous_encoding_aes_key", T_STRING, "", 0, 0, F(wechat_previous_encoding_aes_key),
     S_WECHAT, "the previous EncodingAESKey, still accepted during a key rotation"},
    {"wechat.timeout", T_U64, "10", 1, 120, F(wechat_timeout), S_WECHAT,
     "seconds one component API request may take (each of up to 3 attempts)"},
    {"link.max_per_account", T_U64, "10", 1, 1000, F(link_max_per_account), S_SERVE | S_STORE,
     "WeChat apps one account may link at a time"},
    {"link.allow_mp_registered_second_mp", T_BOOL, "false", 0, 0,
     F(link_allow_mp_registered_second_mp), S_SERVE | S_STORE,
     "let an account registered through a mini program link another mini program"},
    {"link.check_interval", T_U64, "3600", 1, 30 * 86400, F(link_check_interval), S_SERVE | S_STORE,
     "seconds between background checks of each active link with WeChat (jittered)"},
    {"link.attempt_ttl", T_U64, "600", 1, 3600, F(link_attempt_ttl), S_SERVE | S_STORE,
     "seconds an authorization attempt (link or scan-to-log-in) stays valid"},
    {"link.max_login_starts", T_U64, "60", 1, 1000000, F(link_max_login_starts), S_SERVE,
     "scan-to-log-in starts per client address before back-off (a completed sign-in resets it)"},
    {"platform.fixtures", T_STRING, "", 0, 0, F(platform_fixtures), S_PLATFORM,
     "JSON file of WeChat users, apps and components loaded at start"},
    {"platform.ticket_interval", T_U64, "600", 1, 86400, F(platform_ticket_interval), S_PLATFORM,
     "seconds between component_verify_ticket pushes"},
    {"deploy.env_quota_per_app", T_U64, "2", 1, 1000, F(deploy_env_quota_per_app),
     S_SERVE | S_STORE, "environments one linked app may have"},
    {"deploy.port_min", T_U64, "20000", 1024, 65535, F(deploy_port_min), S_SERVE | S_STORE,
     "lowest port given to an environment"},
    {"deploy.port_max", T_U64, "29999", 1024, 65535, F(deploy_port_max), S_SERVE | S_STORE,
     "highest port given to an environment"},
    {"deploy.max_blob_bytes", T_U64, "104857600", 1, 1ull << 34, F(deploy_max_blob_bytes),
     S_SERVE | S_STORE, "largest file of an upload (and largest blob PUT body), bytes"},
    {"deploy.max_version_bytes", T_U64, "524288000", 1, 1ull << 40, F(deploy_max_version_bytes),
     S_SERVE | S_STORE, "largest total size of the files of one version, bytes"},
    {"deploy.max_files", T_U64, "20000", 1, 1000000, F(deploy_max_files), S_SERVE | S_STORE,
     "most files in one version"},
    {"deploy.upload_ttl", T_U64, "3600", 10, 7 * 86400, F(deploy_upload_ttl), S_SERVE | S_STORE,
     "seconds an upload (and its pre-signed URLs) stays valid"},
    {"deploy.blob_grace", T_U64, "86400", 0, 30 * 86400, F(deploy_blob_grace), S_SERVE | S_STORE,
     "seconds an unreferenced blob is kept before garbage collection"},
    {"deploy.keep_versions", T_U64, "20", 1, 100000, F(deploy_keep_versions), S_SERVE | S_STORE,
     "versions kept per environment (older ones are deleted unless live, previous or being "
     "deployed)"},
    {"deploy.gc_interval", T_U64, "60", 1, 86400, F(deploy_gc_interval), S_SERVE,
     "seconds between garbage collection passes over expired uploads and unreferenced blobs"},
    {"tools.device_code_ttl", T_U64, "600", 1, 3600, F(tools_device_code_ttl), S_SERVE,
     "seconds a device login (bindery login) waits for approval"},
    {"tools.poll_interval", T_U64, "5", 1, 60, F(tools_poll_interval), S_SERVE,
     "seconds a tool waits between polls of the token endpoint"},
    {"tools.credential_ttl", T_U64, "7200", 1, 43200, F(tools_credential_ttl), S_SERVE,
     "seconds a tool's temporary credentials (TmpSecretId/TmpSecretKey/Token) last"},
    {"tools.refresh_ttl", T_U64, "2592000", 1, 365 * 86400, F(tools_refresh_ttl), S_SERVE,
     "seconds a tool's refresh token lasts (each use gives a new one)"},
    {"tools.console_link_ttl", T_U64, "60", 1, 600, F(tools_console_link_ttl), S_SERVE,
     "seconds a console sign-in link (bindery console) stays valid"},
    {"tools.max_code_failures", T_U64, "10", 1, 1000, F(tools_max_code_failures), S_SERVE,
     "wrong device user codes per address and per session before back-off starts"},
    {"deploy.root_dir", T_STRING, "", 0, 0, F(deploy_root_dir), S_SERVE,
     "directory of deployed releases, data directories and runtime logs (default: "
     "DATA_DIR/deploy)"},
    {"deploy.bwrap", T_STRING, "bwrap", 0, 0, F(deploy_bwrap), S_SERVE,
     "the bubblewrap binary apps are sandboxed with (looked up in PATH)"},
    {"deploy.allow_unsandboxed", T_BOOL, "false", 0, 0, F(deploy_allow_unsandboxed), S_SERVE,
     "run apps without a sandbox when the bubblewrap self-test fails (development only)"},
    {"deploy.cgroup_dir", T_STRING, "", 0, 0, F(deploy_cgroup_dir), S_SERVE,
     "a delegated cgroup v2 directory for memory and pids limits (\"\" = rlimits only)"},
    {"deploy.health_path", T_STRING, "/healthz", 0, 0, F(deploy_health_path), S_SERVE,
     "path a new process must answer 2xx on before the switch (\"\" = alive and listening)"},
    {"deploy.start_timeout_ms", T_U64, "10000", 100, 600000, F(deploy_start_timeout_ms), S_SERVE,
     "milliseconds a new process has to listen on its port (START)"},
    {"deploy.health_timeout_ms", T_U64, "30000", 100, 600000, F(deploy_health_timeout_ms),
     S_SERVE, "milliseconds a new process has to answer the health path (HEALTHCHECK)"},
    {"deploy.alive_ms", T_U64, "1000", 0, 600000, F(deploy_alive_ms), S_SERVE,
     "with an empty health path: milliseconds the process must stay alive and listening"},
    {"deploy.total_timeout_ms", T_U64, "120000", 1000, 3600000, F(deploy_total_timeout_ms),
     S_SERVE, "milliseconds a whole deploy job may take"},
    {"deploy.drain_grace_ms", T_U64, "10000", 0, 600000, F(deploy_drain_grace_ms), S_SERVE,
     "milliseconds requests already on the old process may take, then SIGTERM, then as long "
     "again before SIGKILL"},
    {"deploy.lease_ms", T_U64, "15000", 1000, 600000, F(deploy_lease_ms), S_SERVE,
     "a job's lease on its environment; another instance takes over after it expires"},
    {"deploy.backoff_ms", T_U64, "500", 10, 600000, F(deploy_backoff_ms), S_SERVE,
     "first delay before a crashed app is restarted (doubles each time)"},
    {"deploy.backoff_max_ms", T_U64, "30000", 10, 3600000, F(deploy_backoff_max_ms), S_SERVE,
     "longest delay before a crashed app is restarted"},
    {"deploy.crash_window", T_U64, "300", 1, 86400, F(deploy_crash_window), S_SERVE,
     "seconds over which crashes are counted for CRASHLOOP"},
    {"deploy.crash_max", T_U64, "5", 1, 1000, F(deploy_crash_max), S_SERVE,
     "crashes within deploy.crash_window after which an app is left stopped (CRASHLOOP)"},
    {"deploy.nofile", T_U64, "1024", 16, 1048576, F(deploy_nofile), S_SERVE,
     "open files per app process (RLIMIT_NOFILE)"},
    {"deploy.nproc", T_U64, "0", 0, 1048576, F(deploy_nproc), S_SERVE,
     "RLIMIT_NPROC of app processes (per host user; 0 = unchanged; prefer deploy.pids)"},
    {"deploy.fsize_bytes", T_U64, "1073741824", 4096, 1ull << 42, F(deploy_fsize_bytes), S_SERVE,
     "largest file an app may write (RLIMIT_FSIZE)"},
    {"deploy.memory_bytes", T_U64, "536870912", 0, 1ull << 42, F(deploy_memory_bytes), S_SERVE,
     "memory of one app (cgroup memory.max; needs deploy.cgroup_dir; 0 = none)"},
    {"deploy.pids", T_U64, "256", 0, 1048576, F(deploy_pids), S_SERVE,
     "processes and threads of one app (cgroup pids.max; needs deploy.cgroup_dir; 0 = none)"},
    {"deploy.log_segment_bytes", T_U64, "8388608", 4096, 1ull << 32, F(deploy_log_segment_bytes),
     S_SERVE, "size at which an environment's runtime log starts a new segment"},
    {"deploy.log_segments", T_U64, "4", 1, 1000, F(deploy_log_segments), S_SERVE,
     "runtime log segments kept per environment"},
    {"deploy.proxy_max_body_bytes", T_U64, "67108864", 1024, 1ull << 40,
     F(deploy_proxy_max_body_bytes), S_SERVE,
     "largest request body forwarded to an app through /env/ID/; larger bodies get 413"},
    {"deploy.proxy_connect_timeout_ms", T_U64, "3000", 10, 600000,
     F(deploy_proxy_connect_timeout_ms), S_SERVE,
     "milliseconds the proxy waits to connect to an app's process"},
    {"deploy.proxy_idle_timeout_ms", T_U64, "60000", 100, 3600000, F(deploy_proxy_idle_timeout_ms),
     S_SERVE,
     "milliseconds the proxy waits for an app that neither reads nor writes (then 504, or a "
     "cut-off body)"},
};

#define NKEYS (sizeof(keys) / sizeof(keys[0]))

static const struct config_key *find_key(const char *name, size_t len, unsigned scope)
{
    for (size_t i = 0; i < NKEYS; i++) {
        const char *k = keys[i].name;
        if (!(keys[i].scope & scope) || strlen(k) != len)
            continue;
        size_t j = 0;
        for (; j < len; j++) {
            char a = k[j], b = name[j];
            if (b == '-')
                b = '_';
            if (a != b)
                break;
        }
        if (j == len)
            return &keys[i];
    }
    return NULL;
}

static int set_value(struct config *cfg, const struct config_key *k, const char *value,
                     const char *source, struct be_diag *diag)
{
    char *base = (char *)cfg;
    switch (k->type) {
    case T_STRING: {
        char **slot = (char **)(base + k->offset);
        free(*slot);
        *slot = xstrdup(value);
        return BE_OK;
    }
    case T_U64: {
        uint64_t v;
        if (parse_u64(value, UINT64_MAX, &v) || v < k->min || v > k->max)
            return be_fail(diag, BE_INVALID_PARAMETER,
                           "invalid value '%s' for %s (from %s): expected a whole number from "
                           "%llu to %llu",
                           value, k->name, source, (unsigned long long)k->min,
                           (unsigned long long)k->max);
        *(uint64_t *)(base + k->offset) = v;
        return BE_OK;
    }
    case T_BOOL: {
        bool v;
        if (parse_bool(value, &v))
            return be_fail(diag, BE_INVALID_PARAMETER,
                           "invalid value '%s' for %s (from %s): expected true or false", value,
                           k->name, source);
        *(bool *)(base + k->offset) = v;
        return BE_OK;
    }
    }
    return BE_INTERNAL;
}

static void env_name(const struct config_key *k, char *out, size_t n)
{
    size_t o = 0;
    const char *prefix = "BINDERY_";
    for (const char *p = prefix; *p && o + 1 < n; p++)
        out[o++] = *p;
    for (const char *p = k->name; *p && o + 1 < n; p++)
        out[o++] = (*p == '.' || *p == '-') ? '_' : (char)toupper((unsigned char)*p);
    out[o] = '\0';
}

struct ini_state {
    struct config *cfg;
    unsigned scope;
    const char *path;
    struct be_diag *diag;
    int rc;
};

static int on_ini_entry(void *user, const char *section, const char *name, const char *value)
{
    struct ini_state *st = user;
    struct buf key = BUF_INIT;
    char source[600];
    if (st->rc)
        return 0;
    if (section && *section)
        buf_addf(&key, "%s.", section);
    buf_adds(&key, name);
    const struct config_key *k = find_key(key.data, key.len, st->scope);
    if (!k)
        k = find_key(key.data, key.len, CONFIG_SCOPE_ALL);
    snprintf(source, sizeof(source), "%s", st->path);
    if (!k)
        st->rc =
            be_fail(st->diag, BE_INVALID_PARAMETER, "unknown key '%s' in %s", key.data, st->path);
    else
        st->rc = set_value(st->cfg, k, value, source, st->diag);
    buf_release(&key);
    return st->rc == 0;
}

struct config *config_defaults(unsigned scope)
{
    struct config *cfg = xcalloc(1, sizeof(*cfg));
    /* Every field gets a value; then the scope's own defaults win for keys
     * that several scopes share with different defaults. */
    for (size_t i = 0; i < NKEYS; i++)
        if (set_value(cfg, &keys[i], keys[i].def, "defaults", NULL))
            abort(); /* a default outside its own bounds is a programming error */
    for (size_t i = 0; i < NKEYS; i++)
        if ((keys[i].scope & scope) &&
            find_key(keys[i].name, strlen(keys[i].name), scope) == &keys[i])
            set_value(cfg, &keys[i], keys[i].def, "defaults", NULL);
    return cfg;
}

/* Finishes derived defaults once every source has been read. */
static void config_finish(struct config *cfg)
{
    if (!*cfg->store) {
        free(cfg->store);
        struct buf b = BUF_INIT;
        buf_addf(&b, "sqlite://%s/bindery.db", cfg->data_dir);
        cfg->store = buf_detach(&b, NULL);
    }
    if (!*cfg->public_url) {
        free(cfg->public_url);
        struct buf b = BUF_INIT;
        buf_addf(&b, "http://%s", cfg->listen);
        cfg->public_url = buf_detach(&b, NULL);
    }
}

int config_load(int argc, char **argv, unsigned scope, struct config **ret_config, char ***ret_rest,
                struct be_diag *diag)
{
    struct config *cfg = config_defaults(scope);
    char **rest = xcalloc((size_t)argc + 1, sizeof(char *));
    size_t nrest = 0;
    int rc = BE_OK;
    const char *file = getenv("BINDERY_CONFIG");

    /* The config file is named first, so that flags and environment win. */
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--config") && i + 1 < argc)
            file = argv[i + 1];
        else if (!strncmp(argv[i], "--config=", 9))
            file = argv[i] + 9;
    }
    if (file && *file) {
        struct ini_state st = {cfg, scope, file, diag, 0};
        int r = ini_parse(file, on_ini_entry, &st);
        if (st.rc) {
            rc = st.rc;
            goto fail;
        }
        if (r < 0) {
            rc = be_fail(diag, BE_INVALID_PARAMETER, "cannot read config file %s", file);
            goto fail;
        }
        if (r > 0) {
            rc = be_fail(diag, BE_INVALID_PARAMETER, "syntax error in %s at line %d", file, r);
            goto fail;
        }
        cfg->config_file = xstrdup(file);
    }

    for (size_t i = 0; i < NKEYS; i++) {
        char name[96], source[128];
        if (!(keys[i].scope & scope) ||
            find_key(keys[i].name, strlen(keys[i].name), scope) != &keys[i])
            continue;
        env_name(&keys[i], name, sizeof(name));
        const char *v = getenv(name);
        if (!v)
            continue;
        snprintf(source, sizeof(source), "environment %s", name);
        if ((rc = set_value(cfg, &keys[i], v, source, diag)))
            goto fail;
    }

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, "--", 2) || !a[2]) {
            rest[nrest++] = argv[i];
            continue;
        }
        const char *name = a + 2, *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        if (len == 6 && !strncmp(name, "config", 6)) {
            if (!eq)
                i++;
            continue;
        }
        const struct config_key *k = find_key(name, len, scope);
        if (!k) {
            rest[nrest++] = argv[i];
            continue;
        }
        const char *value = eq ? eq + 1 : NULL;
        if (!value) {
            if (k->type == T_BOOL && (i + 1 >= argc || !strncmp(argv[i + 1], "--", 2)))
                value = "true";
            else if (i + 1 < argc)
                value = argv[++i];
            else {
                rc = be_fail(diag, BE_INVALID_PARAMETER, "flag --%.*s needs a value", (int)len,
                             name);
                goto fail;
            }
        }
        char source[128];
        snprintf(source, sizeof(source), "flag --%.*s", (int)len, name);
        if ((rc = set_value(cfg, k, value, source, diag)))
            goto fail;
    }
    config_finish(cfg);
    *ret_config = cfg;
    *ret_rest = rest;
    return BE_OK;
fail:
    free(rest);
    config_free(cfg);
    return rc;
}

void config_free(struct config *cfg)
{
    if (!cfg)
        return;
    for (size_t i = 0; i < NKEYS; i++) {
        if (keys[i].type != T_STRING)
            continue;
        char **slot = (char **)((char *)cfg + keys[i].offset);
        free(*slot); /* keys that share a field (per-scope defaults) free it once */
        *slot = NULL;
    }
    free(cfg->config_file);
    free(cfg);
}

void config_print_help(FILE *out, unsigned scope)
{
    fprintf(out, "Configuration (flag / environment / INI key, default):\n"
                 "  --config FILE  (BINDERY_CONFIG)  INI file read before the environment\n");
    for (size_t i = 0; i < NKEYS; i++) {
        char env[96], flag[96];
        if (!(keys[i].scope & scope) ||
            find_key(keys[i].name, strlen(keys[i].name), scope) != &keys[i])
            continue;
        env_name(&keys[i], env, sizeof(env));
        snprintf(flag, sizeof(flag), "%s", keys[i].name);
        for (char *p = flag; *p; p++)
            if (*p == '_')
                *p = '-';
        fprintf(out, "  --%s  (%s)  default: %s\n      %s\n", flag, env,
                *keys[i].def ? keys[i].def : "\"\"", keys[i].help);
    }
}
