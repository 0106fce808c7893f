/* Provisioning steps, their compensation, and teardown (devenv/env.h). */
#include "devenv/provision.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"
#include "core/mem.h"
#include "core/timeutil.h"
#include "devenv/worker.h"
#include "core/banned.h"

/* One run of one environment's steps. */
struct run {
    struct app *app;
    const char *owner;
    struct env env;
    char error[ENV_ERROR_MAX + 1]; /* why the step failed */
};

void env_dir_of(const struct app *app, const char *env_id, struct buf *out)
{
    buf_addf(out, "%s/envs/%s", app->cfg->data_dir, env_id);
}

/* The step failed: what (a short phrase), and the object (a path, a range). */
static int step_fail(struct run *r, const char *what, const char *arg)
{
    snprintf(r->error, sizeof(r->error), "%s %.200s", what, arg);
    return BE_FAILED;
}

/* --- file helpers --------------------------------------------------------------- */

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    if (remove(path) && errno != ENOENT)
        log_warn("environments: cannot remove %s: %s", path, strerror(errno));
    return 0;
}

/* rm -rf path, never following symbolic links. */
static void remove_tree(const char *path)
{
    struct stat st;
    if (lstat(path, &st))
        return;
    nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static bool mkdir_ok(const char *path)
{
    return mkdir(path, 0700) == 0 || errno == EEXIST;
}

/* Writes data to path atomically (temporary file, fsync, rename). */
static int write_file_atomic(const char *path, const char *data, size_t len, mode_t mode)
{
    struct buf tmp = BUF_INIT;
    buf_addf(&tmp, "%s.tmp", path);
    int fd = open(tmp.data, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    int rc = fd < 0 ? -1 : 0;
    for (size_t off = 0; rc == 0 && off < len;) {
        ssize_t n = write(fd, data + off, len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            rc = -1;
        else
            off += (size_t)n;
    }
    if (rc == 0 && (fchmod(fd, mode) || fsync(fd)))
        rc = -1;
    if (fd >= 0 && close(fd))
        rc = -1;
    if (rc == 0 && rename(tmp.data, path))
        rc = -1;
    if (rc)
        unlink(tmp.data);
    buf_release(&tmp);
    return rc;
}

/* --- the steps -------------------------------------------------------------------- */

static int set_dir_fn(struct store_conn *c, void *arg)
{
    struct run *r = arg;
    return store_exec(c, "UPDATE envs SET dir = $1 WHERE env_id = $2",
                      SV_ARGS(SV_TEXT(r->env.dir), SV_TEXT(r->env.env_id)), NULL);
}

static int create_dirs(struct run *r)
{
    static const char *const subs[] = {"data", "releases", "logs"};
    struct buf dir = BUF_INIT, sub = BUF_INIT;
    int rc = BE_OK;
    buf_addf(&dir, "%s/envs", r->app->cfg->data_dir);
    if (!mkdir_ok(dir.data))
        rc = step_fail(r, "cannot create", dir.data);
    buf_reset(&dir);
    env_dir_of(r->app, r->env.env_id, &dir);
    if (rc == BE_OK && !mkdir_ok(dir.data))
        rc = step_fail(r, "cannot create", dir.data);
    for (size_t i = 0; rc == BE_OK && i < sizeof(subs) / sizeof(subs[0]); i++) {
        buf_reset(&sub);
        buf_addf(&sub, "%s/%s", dir.data, subs[i]);
        if (!mkdir_ok(sub.data))
            rc = step_fail(r, "cannot create", sub.data);
    }
    if (rc == BE_OK) {
        snprintf(r->env.dir, sizeof(r->env.dir), "%s", dir.data);
        rc = store_run(r->app->store, set_dir_fn, r);
    }
    buf_release(&dir);
    buf_release(&sub);
    return rc;
}

static int remove_dirs(struct run *r)
{
    struct buf dir = BUF_INIT;
    env_dir_of(r->app, r->env.env_id, &dir);
    remove_tree(dir.data);
    buf_release(&dir);
    r->env.dir[0] = '\0';
    return store_run(r->app->store, set_dir_fn, r);
}

struct port_ctx {
    struct run *r;
    int64_t lo, hi, port;
};

static int port_fn(struct store_conn *c, void *arg)
{
    struct port_ctx *x = arg;
    struct store_result *res = NULL;
    int64_t changes = 0, next = x->lo;
    x->port = 0;
    int rc = store_query(c,
                         "SELECT port FROM envs WHERE port IS NOT NULL AND port >= $1"
                         " AND port <= $2 ORDER BY port",
                         SV_ARGS(SV_I64(x->lo), SV_I64(x->hi)), &res);
    for (size_t i = 0; rc == BE_OK && i < store_result_rows(res); i++) {
        if (store_result_i64(res, i, 0) != next)
            break;
        next++;
    }
    store_result_free(res);
    if (rc || next > x->hi)
        return rc;
    rc = store_exec(c,
                    "UPDATE envs SET port = $1 WHERE env_id = $2 AND claim_owner = $3"
                    " AND port IS NULL",
                    SV_ARGS(SV_I64(next), SV_TEXT(x->r->env.env_id), SV_TEXT(x->r->owner)),
                    &changes);
    /* Another environment took that port meanwhile: look again. */
    if (rc == BE_DUPLICATE)
        return BE_CONFLICT;
    if (rc == BE_OK && changes == 1)
        x->port = next;
    return rc;
}

static int allocate_port(struct run *r)
{
    if (r->env.port)
        return BE_OK;
    const struct config *cfg = r->app->cfg;
    struct port_ctx x = {r, (int64_t)cfg->deploy_port_min, (int64_t)cfg->deploy_port_max, 0};
    int rc = store_tx(r->app->store, port_fn, &x);
    if (rc)
        return rc;
    if (!x.port) {
        char range[48];
        snprintf(range, sizeof(range), "%lld-%lld", (long long)x.lo, (long long)x.hi);
        return step_fail(r, "no free port in deploy.port_min..port_max:", range);
    }
    r->env.port = x.port;
    return BE_OK;
}

static int free_port_fn(struct store_conn *c, void *arg)
{
    struct run *r = arg;
    return store_exec(c, "UPDATE envs SET port = NULL WHERE env_id = $1",
                      SV_ARGS(SV_TEXT(r->env.env_id)), NULL);
}

static int free_port(struct run *r)
{
    r->env.port = 0;
    return store_run(r->app->store, free_port_fn, r);
}

static int write_config(struct run *r)
{
    struct buf path = BUF_INIT;
    int rc = BE_OK;
    json_t *o = json_pack("{s:s,s:s,s:s,s:I,s:s,s:s,s:s}", "EnvId", r->env.env_id, "AppId",
                          r->env.appid, "Name", r->env.name, "Port", (json_int_t)r->env.port, "Dir",
                          r->env.dir, "DataDir", "data", "LogDir", "logs");
    char *text = json_dumps(o, JSON_INDENT(2) | JSON_SORT_KEYS);
    json_decref(o);
    if (!text)
        abort();
    buf_addf(&path, "%s/runtime.json", r->env.dir);
    if (!r->env.dir[0] || write_file_atomic(path.data, text, strlen(text), 0444))
        rc = step_fail(r, "cannot write", path.data);
    free(text);
    buf_release(&path);
    return rc;
}

static int remove_config(struct run *r)
{
    struct buf path = BUF_INIT;
    env_dir_of(r->app, r->env.env_id, &path);
    buf_adds(&path, "/runtime.json");
    unlink(path.data);
    buf_release(&path);
    return BE_OK;
}

static int mark_ready_fn(struct store_conn *c, void *arg)
{
    struct run *r = arg;
    int64_t changes = 0, now = time_now();
    int rc = store_exec(c,
                        "UPDATE envs SET state = 'READY', state_seq = state_seq + 1,"
                        " claim_owner = NULL, claim_until = 0, updated_at = $1"
                        " WHERE env_id = $2 AND state = 'PROVISIONING' AND claim_owner = $3",
                        SV_ARGS(SV_I64(now), SV_TEXT(r->env.env_id), SV_TEXT(r->owner)), &changes);
    if (rc == BE_OK && changes != 1)
        rc = BE_NOT_FOUND; /* deleted meanwhile, or the claim was lost */
    /* The claim ends here, so the step is recorded done in this transaction. */
    if (rc == BE_OK)
        rc = store_exec(c,
                        "UPDATE env_steps SET state = 'done', updated_at = $1"
                        " WHERE env_id = $2 AND step = 'mark_ready'",
                        SV_ARGS(SV_I64(now), SV_TEXT(r->env.env_id)), NULL);
    return rc;
}

static int mark_ready(struct run *r)
{
    return store_tx(r->app->store, mark_ready_fn, r);
}

static int no_undo(struct run *r)
{
    (void)r;
    return BE_OK;
}

static const struct {
    int (*run)(struct run *r);
    int (*undo)(struct run *r);
} steps[ENV_STEPS] = {
    {create_dirs, remove_dirs},
    {allocate_port, free_port},
    {write_config, remove_config},
    {mark_ready, no_undo},
};

/* --- recording the steps ---------------------------------------------------------- */

struct step_ctx {
    const struct run *r;
    const char *step, *state, *error;
    int64_t attempt;
    char cur[16]; /* out: the state before */
};

static int step_fn(struct store_conn *c, void *arg)
{
    struct step_ctx *x = arg;
    struct store_result *res = NULL;
    int64_t changes = 0;
    int rc = store_query(c,
                         "SELECT s.state FROM env_steps s JOIN envs e ON e.env_id = s.env_id"
                         " WHERE s.env_id = $1 AND s.step = $2 AND e.claim_owner = $3",
                         SV_ARGS(SV_TEXT(x->r->env.env_id), SV_TEXT(x->step), SV_TEXT(x->r->owner)),
                         &res);
    if (rc == BE_OK && store_result_rows(res) == 0)
        rc = BE_NOT_FOUND; /* the claim is lost */
    if (rc == BE_OK)
        snprintf(x->cur, sizeof(x->cur), "%s", store_result_text(res, 0, 0));
    store_result_free(res);
    if (rc == BE_OK && x->state)
        rc = store_exec(c,
                        "UPDATE env_steps SET state = $1, error = $2, attempts = attempts + $3,"
                        " worker = $4, updated_at = $5 WHERE env_id = $6 AND step = $7",
                        SV_ARGS(SV_TEXT(x->state), SV_TEXT(x->error ? x->error : ""),
                                SV_I64(x->attempt), SV_TEXT(x->r->owner), SV_I64(time_now()),
                                SV_TEXT(x->r->env.env_id), SV_TEXT(x->step)),
                        &changes);
    return rc;
}

/* Records step i's new state (NULL: only reads it into ret_cur). */
static int record(struct run *r, size_t i, const char *state, const char *error, bool attempt,
                  char ret_cur[16])
{
    struct step_ctx x = {r, env_step_names[i], state, error, attempt ? 1 : 0, ""};
    int rc = store_tx(r->app->store, step_fn, &x);
    if (rc == BE_OK && ret_cur)
        snprintf(ret_cur, 16, "%s", x.cur);
    return rc;
}

static int fail_env_fn(struct store_conn *c, void *arg)
{
    struct run *r = arg;
    return store_exec(
        c,
        "UPDATE envs SET state = 'FAILED', state_seq = state_seq + 1,"
        " error_code = 'FailedOperation.ProvisioningFailed', error_message = $1,"
        " claim_owner = NULL, claim_until = 0, updated_at = $2"
        " WHERE env_id = $3 AND state = 'PROVISIONING' AND claim_owner = $4",
        SV_ARGS(SV_TEXT(r->error), SV_I64(time_now()), SV_TEXT(r->env.env_id), SV_TEXT(r->owner)),
        NULL);
}

/* Step failed at index failed: undo the steps before it, newest first. */
static int compensate(struct run *r, size_t failed)
{
    char step_error[ENV_ERROR_MAX + 1];
    snprintf(step_error, sizeof(step_error), "%s", r->error);
    int rc = record(r, failed, "failed", step_error, false, NULL);
    for (size_t i = failed; rc == BE_OK && i-- > 0;) {
        if ((rc = steps[i].undo(r)) == BE_OK)
            rc = record(r, i, "compensated", "", false, NULL);
    }
    snprintf(r->error, sizeof(r->error), "%s: %.200s", env_step_names[failed], step_error);
    if (rc == BE_OK)
        rc = store_tx(r->app->store, fail_env_fn, r);
    log_info("environments: %s FAILED at %s: %s", r->env.env_id, env_step_names[failed],
             step_error);
    return rc;
}

static int release_fn(struct store_conn *c, void *arg)
{
    struct run *r = arg;
    return store_exec(c,
                      "UPDATE envs SET claim_owner = NULL, claim_until = 0"
                      " WHERE env_id = $1 AND claim_owner = $2",
                      SV_ARGS(SV_TEXT(r->env.env_id), SV_TEXT(r->owner)), NULL);
}

static int provision(struct run *r)
{
    int rc = BE_OK;
    for (size_t i = 0; rc == BE_OK && i < ENV_STEPS; i++) {
        char cur[16] = "";
        if ((rc = record(r, i, NULL, NULL, false, cur)) || !strcmp(cur, "done"))
            continue;
        if ((rc = record(r, i, "running", "", true, NULL)))
            break;
        rc = steps[i].run(r);
        if (rc == BE_FAILED)
            return compensate(r, i);
        if (rc == BE_OK && i + 1 < ENV_STEPS)
            rc = record(r, i, "done", "", false, NULL);
    }
    if (rc == BE_OK) {
        log_info("environments: %s READY (port %lld)", r->env.env_id, (long long)r->env.port);
    } else {
        store_run(r->app->store, release_fn, r);
    }
    return rc == BE_NOT_FOUND ? BE_OK : rc;
}

/* --- teardown --------------------------------------------------------------------- */

static int teardown_fn(struct store_conn *c, void *arg)
{
    struct run *r = arg;
    static const char *const deletes[] = {
        "DELETE FROM version_files WHERE env_id = $1",
        "DELETE FROM versions WHERE env_id = $1",
        "DELETE FROM upload_files WHERE upload_id IN"
        " (SELECT upload_id FROM uploads WHERE env_id = $1)",
        "DELETE FROM uploads WHERE env_id = $1",
        "DELETE FROM env_steps WHERE env_id = $1",
    };
    int64_t changes = 0;
    int rc = store_exec(c,
                        "DELETE FROM envs WHERE env_id = $1 AND state = 'DELETING'"
                        " AND claim_owner = $2",
                        SV_ARGS(SV_TEXT(r->env.env_id), SV_TEXT(r->owner)), &changes);
    if (rc == BE_OK && changes != 1)
        return BE_NOT_FOUND;
    for (size_t i = 0; rc == BE_OK && i < sizeof(deletes) / sizeof(deletes[0]); i++)
        rc = store_exec(c, deletes[i], SV_ARGS(SV_TEXT(r->env.env_id)), NULL);
    if (rc == BE_OK)
        rc = store_exec(c,
                        "UPDATE env_apps SET env_count = env_count - 1 WHERE owner_uin = $1"
                        " AND appid = $2 AND env_count > 0",
                        SV_ARGS(SV_I64(r->env.owner_uin), SV_TEXT(r->env.appid)), NULL);
    return rc;
}

int env_teardown(struct app *app, const char *owner, const struct env *e)
{
    struct run r = {app, owner, *e, ""};
    struct buf dir = BUF_INIT;
    env_dir_of(app, e->env_id, &dir);
    remove_tree(dir.data);
    buf_release(&dir);
    int rc = store_tx(app->store, teardown_fn, &r);
    if (rc == BE_OK) {
        log_info("environments: %s deleted", e->env_id);
        devenv_notify(app);
    }
    return rc;
}

/* --- claiming --------------------------------------------------------------------- */

struct claim_ctx {
    const char *owner;
    int64_t now, lease;
    size_t max;
    struct env *out;
    size_t n;
};

static int claim_fn(struct store_conn *c, void *arg)
{
    struct claim_ctx *x = arg;
    struct store_result *r = NULL;
    x->n = 0;
    int rc = store_query(c,
                         store_conn_dialect(c) == STORE_POSTGRES
                             ? "SELECT " ENV_COLUMNS " FROM envs WHERE state IN"
                               " ('PROVISIONING', 'DELETING') AND claim_until <= $1"
                               " ORDER BY updated_at, env_id LIMIT $2 FOR UPDATE SKIP LOCKED"
                             : "SELECT " ENV_COLUMNS " FROM envs WHERE state IN"
                               " ('PROVISIONING', 'DELETING') AND claim_until <= $1"
                               " ORDER BY updated_at, env_id LIMIT $2",
                         SV_ARGS(SV_I64(x->now), SV_I64(x->max)), &r);
    for (size_t i = 0; rc == BE_OK && i < store_result_rows(r); i++) {
        int64_t changes = 0;
        rc = store_exec(c,
                        "UPDATE envs SET claim_owner = $1, claim_until = $2, runs = runs + 1"
                        " WHERE env_id = $3 AND claim_until <= $4",
                        SV_ARGS(SV_TEXT(x->owner), SV_I64(x->now + x->lease),
                                SV_TEXT(store_result_text(r, i, 0)), SV_I64(x->now)),
                        &changes);
        if (rc == BE_OK && changes == 1)
            env_row(r, i, &x->out[x->n++]);
    }
    store_result_free(r);
    return rc;
}

int env_claim_work(struct app *app, const char *owner, int64_t now, int64_t lease_s, size_t max,
                   struct env *ret, size_t *ret_n)
{
    if (!owner || !*owner || strlen(owner) > 64 || lease_s < 1 || max < 1)
        return BE_INVALID_PARAMETER_VALUE;
    struct claim_ctx x = {owner, now, lease_s, max, ret, 0};
    int rc = store_tx(app->store, claim_fn, &x);
    if (rc == BE_OK)
        *ret_n = x.n;
    return rc;
}

int env_process(struct app *app, const char *owner, const struct env *e)
{
    if (e->state == ENV_DELETING) {
        int rc = env_teardown(app, owner, e);
        return rc == BE_NOT_FOUND ? BE_OK : rc;
    }
    struct run r = {app, owner, *e, ""};
    int rc = provision(&r);
    devenv_notify(app);
    return rc;
}
