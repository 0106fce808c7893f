/* Configuration as a table. Each key has a type, a default, bounds and help
 * text, and lands in one field of `struct config`. Sources, later ones
 * winning: defaults -> the INI file (--config FILE / BINDERY_CONFIG) ->
 * environment (BINDERY_<KEY>, dots and dashes as underscores) -> flags
 * (--key VALUE or --key=VALUE). The result is immutable once loaded. */
#ifndef BINDERY_CORE_CONFIG_H
#define BINDERY_CORE_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "core/err.h"

struct config {
    char *config_file;
    char *data_dir;
    char *master_key_file;
    char *listen;
    char *public_url;
    char *web_dir;
    char *store;
    uint64_t store_pool_size;
    char *log_level;
    bool access_log;

    uint64_t http_threads;
    uint64_t http_max_body_bytes;
    uint64_t http_timeout;
    bool http_trust_proxy;
    uint64_t http_max_connections;

    uint64_t session_idle_timeout;
    uint64_t session_absolute_timeout;
    char *session_cookie_secure; /* "auto", "true", "false" */

    uint64_t password_memory_kib;
    uint64_t password_iterations;
    uint64_t password_max_concurrent;
    uint64_t login_max_failures;
    uint64_t login_base_delay;
    uint64_t login_max_delay;

    uint64_t api_clock_skew;

    char *wechat_api_base_url;
    char *wechat_mp_base_url;
    char *wechat_component_appid;
    char *wechat_component_appsecret;
    char *wechat_token;
    char *wechat_encoding_aes_key;
    char *wechat_previous_encoding_aes_key;
    uint64_t wechat_timeout; /* seconds per component API request */

    uint64_t link_max_per_account;
    bool link_allow_mp_registered_second_mp;
    uint64_t link_check_interval;
    uint64_t link_attempt_ttl;
    uint64_t link_max_login_starts;

    char *platform_fixtures;
    uint64_t platform_ticket_interval;

    uint64_t deploy_env_quota_per_app;
    uint64_t deploy_port_min, deploy_port_max;
    uint64_t deploy_max_blob_bytes;
    uint64_t deploy_max_version_bytes;
    uint64_t deploy_max_files;
    uint64_t deploy_upload_ttl;
    uint64_t deploy_blob_grace;
    uint64_t deploy_gc_interval;
    uint64_t deploy_keep_versions;
    /* Developer tools' login (docs/devtools.md). */
    uint64_t tools_device_code_ttl;
    uint64_t tools_poll_interval;
    uint64_t tools_credential_ttl;
    uint64_t tools_refresh_ttl;
    uint64_t tools_console_link_ttl;
    uint64_t tools_max_code_failures;
    /* Deploy (docs/deploy.md): the sandboxed runtime and the reverse proxy. */
    char *deploy_root_dir; /* "" = DATA_DIR/deploy */
    char *deploy_bwrap;
    bool deploy_allow_unsandboxed;
    char *deploy_cgroup_dir;
    char *deploy_health_path;
    uint64_t deploy_start_timeout_ms;
    uint64_t deploy_health_timeout_ms;
    uint64_t deploy_alive_ms;
    uint64_t deploy_total_timeout_ms;
    uint64_t deploy_drain_grace_ms;
    uint64_t deploy_lease_ms;
    uint64_t deploy_backoff_ms;
    uint64_t deploy_backoff_max_ms;
    uint64_t deploy_crash_window;
    uint64_t deploy_crash_max;
    uint64_t deploy_nofile;
    uint64_t deploy_nproc;
    uint64_t deploy_fsize_bytes;
    uint64_t deploy_memory_bytes;
    uint64_t deploy_pids;
    uint64_t deploy_log_segment_bytes;
    uint64_t deploy_log_segments;
    uint64_t deploy_proxy_max_body_bytes;
    uint64_t deploy_proxy_connect_timeout_ms;
    uint64_t deploy_proxy_idle_timeout_ms;
};

/* Which keys a subcommand accepts: a key is offered when its scope bits
 * intersect the subcommand's. */
enum config_scope {
    CONFIG_SCOPE_STORE = 1 << 0,  /* opens a store: data dir, store URL */
    CONFIG_SCOPE_SERVE = 1 << 1,  /* listens: HTTP, sessions, API */
    CONFIG_SCOPE_WECHAT = 1 << 2, /* talks to WeChat */
    CONFIG_SCOPE_PLATFORM = 1 << 3, /* the WeChat platform emulator */
    CONFIG_SCOPE_ALL = 0xff,
};

/* Loads the configuration for a subcommand from all sources. argv holds the
 * subcommand's flags (argv[0] is the subcommand name); flags that are not
 * configuration keys are returned in ret_rest (argv order kept, NULL
 * terminated, owned by the caller with free(); the strings are argv's).
 * On error, writes a message naming the key and its source into diag and
 * returns BE_INVALID_PARAMETER (the caller exits 2). */
int config_load(int argc, char **argv, unsigned scope, struct config **ret_config,
                char ***ret_rest, struct be_diag *diag);

/* The defaults of scope only (for tests). A key may have a different
 * default in another scope (listen: 8080 for serve, 8081 for platform). */
struct config *config_defaults(unsigned scope);

void config_free(struct config *cfg);

/* Prints every key of scope: flag, environment name, default, help. */
void config_print_help(FILE *out, unsigned scope);

#endif
