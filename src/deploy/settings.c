#include "deploy/settings.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/mem.h"
#include "core/banned.h"

/* execve() needs a path: resolve a bare name the way a shell would. */
static char *resolve_in_path(const char *name)
{
    const char *path = getenv("PATH");
    if (strchr(name, '/') || !path)
        return xstrdup(name);
    struct buf b = BUF_INIT;
    for (const char *p = path; *p;) {
        const char *end = strchr(p, ':');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        buf_reset(&b);
        buf_add(&b, n ? p : ".", n ? n : 1);
        buf_addf(&b, "/%s", name);
        if (!access(b.data, X_OK))
            return buf_detach(&b, NULL);
        p += n + (end ? 1 : 0);
    }
    buf_release(&b);
    return xstrdup(name);
}

int deploy_settings_init(const struct config *cfg, struct deploy_settings *ret,
                         struct be_diag *diag)
{
    const char *hp = cfg->deploy_health_path;
    if (*hp && (*hp != '/' || strpbrk(hp, " \r\n")))
        return be_fail(diag, BE_INVALID_PARAMETER,
                       "invalid value '%s' for deploy.health_path: expected \"\" or a path "
                       "starting with /",
                       hp);
    struct deploy_settings s;
    memset(&s, 0, sizeof(s));
    if (*cfg->deploy_root_dir) {
        s.root_dir = xstrdup(cfg->deploy_root_dir);
    } else {
        struct buf b = BUF_INIT;
        buf_addf(&b, "%s/deploy", cfg->data_dir);
        s.root_dir = buf_detach(&b, NULL);
    }
    s.bwrap = resolve_in_path(*cfg->deploy_bwrap ? cfg->deploy_bwrap : "bwrap");
    s.opts = (struct deployer_options){
        .root_dir = s.root_dir,
        .bwrap = s.bwrap,
        .allow_unsandboxed = cfg->deploy_allow_unsandboxed,
        .cgroup_dir = cfg->deploy_cgroup_dir,
        .limits = {.nofile = cfg->deploy_nofile,
                   .nproc = cfg->deploy_nproc,
                   .fsize = cfg->deploy_fsize_bytes,
                   .memory = cfg->deploy_memory_bytes,
                   .pids = cfg->deploy_pids},
        .health_path = hp,
        .start_timeout_ms = (unsigned)cfg->deploy_start_timeout_ms,
        .health_timeout_ms = (unsigned)cfg->deploy_health_timeout_ms,
        .alive_ms = (unsigned)cfg->deploy_alive_ms,
        .total_timeout_ms = (unsigned)cfg->deploy_total_timeout_ms,
        .drain_grace_ms = (unsigned)cfg->deploy_drain_grace_ms,
        .lease_ms = (unsigned)cfg->deploy_lease_ms,
        .backoff_ms = (unsigned)cfg->deploy_backoff_ms,
        .backoff_max_ms = (unsigned)cfg->deploy_backoff_max_ms,
        .crash_window_s = (unsigned)cfg->deploy_crash_window,
        .crash_max = (unsigned)cfg->deploy_crash_max,
        .log_segment_bytes = cfg->deploy_log_segment_bytes,
        .log_segments = (unsigned)cfg->deploy_log_segments,
    };
    *ret = s;
    return BE_OK;
}

void deploy_settings_release(struct deploy_settings *s)
{
    if (!s)
        return;
    free(s->root_dir);
    free(s->bwrap);
    s->root_dir = s->bwrap = NULL;
}
