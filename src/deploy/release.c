#include "deploy/release.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/mem.h"
#include "core/parse.h"
#include "core/banned.h"

#define MAX_VARS  256
#define MAX_DEPTH 32

static const char *const runtime_names[] = {"nodejs", "python3", "exec"};

const char *deploy_runtime_name(enum deploy_runtime rt)
{
    return runtime_names[rt];
}

int deploy_runtime_parse(const char *name, enum deploy_runtime *ret)
{
    for (size_t i = 0; i < sizeof(runtime_names) / sizeof(runtime_names[0]); i++)
        if (name && !strcmp(name, runtime_names[i])) {
            *ret = (enum deploy_runtime)i;
            return BE_OK;
        }
    return BE_INVALID_PARAMETER_VALUE;
}

void deploy_release_clear(struct deploy_release *rel)
{
    for (size_t i = 0; rel->vars && rel->vars[i]; i++)
        free(rel->vars[i]);
    free(rel->vars);
    free(rel->where);
    rel->vars = NULL;
    rel->where = NULL;
}

bool deploy_env_id_valid(const char *id)
{
    size_t n = id ? strlen(id) : 0;
    if (n < 1 || n > 63)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = id[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_'))
            return false;
    }
    return true;
}

/* ---- the directory source ---- */

static json_t *load_json(const char *root, const char *env_id, const char *name)
{
    struct buf p = BUF_INIT;
    buf_addf(&p, "%s/%s/%s", root, env_id, name);
    json_t *j = json_load_file(p.data, JSON_REJECT_DUPLICATES, NULL);
    buf_release(&p);
    if (j && !json_is_object(j)) {
        json_decref(j);
        j = NULL;
    }
    return j;
}

static int dir_env_owner(void *ctx, const char *env_id, uint64_t *ret)
{
    if (!deploy_env_id_valid(env_id))
        return BE_ENV_NOT_FOUND;
    json_t *env = load_json(ctx, env_id, "env.json");
    json_t *o = env ? json_object_get(env, "OwnerUin") : NULL;
    int rc = BE_ENV_NOT_FOUND;
    if (json_is_integer(o) && json_integer_value(o) > 0) {
        *ret = (uint64_t)json_integer_value(o);
        rc = BE_OK;
    }
    json_decref(env);
    return rc;
}

bool deploy_dir_has_file(const struct deploy_release *rel, const char *relpath)
{
    if (!*relpath || relpath[0] == '/' || strstr(relpath, ".."))
        return false;
    struct buf p = BUF_INIT;
    buf_addf(&p, "%s/%s", rel->where, relpath);
    struct stat st;
    bool ok = !lstat(p.data, &st) && S_ISREG(st.st_mode);
    buf_release(&p);
    return ok;
}

static int copy_file(int sfd, int dfd, const char *name, mode_t mode)
{
    int in = openat(sfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    int out = in < 0 ? -1 : openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode & 0555);
    int rc = in < 0 || out < 0 ? -1 : 0;
    char chunk[65536];
    ssize_t n;
    while (!rc && (n = read(in, chunk, sizeof(chunk))) != 0)
        if (n < 0 || write(out, chunk, (size_t)n) != n)
            rc = -1;
    if (in >= 0)
        close(in);
    if (out >= 0)
        close(out);
    return rc;
}

/* Copies regular files and directories; anything else is refused. */
static int copy_tree(int sfd, int dfd, unsigned depth, struct be_diag *diag)
{
    if (depth > MAX_DEPTH)
        return be_fail(diag, BE_FAILED, "the tree is nested more than %d levels", MAX_DEPTH);
    int dup_fd = dup(sfd);
    DIR *d = dup_fd < 0 ? NULL : fdopendir(dup_fd);
    if (!d) {
        if (dup_fd >= 0)
            close(dup_fd);
        return be_fail(diag, BE_INTERNAL, "cannot read the release tree: %s", strerror(errno));
    }
    int rc = BE_OK;
    struct dirent *e;
    while (!rc && (e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        struct stat st;
        if (fstatat(sfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW)) {
            rc = be_fail(diag, BE_INTERNAL, "cannot stat %s", e->d_name);
        } else if (S_ISREG(st.st_mode)) {
            if (copy_file(sfd, dfd, e->d_name, st.st_mode))
                rc = be_fail(diag, BE_INTERNAL, "cannot copy %s: %s", e->d_name, strerror(errno));
        } else if (S_ISDIR(st.st_mode)) {
            int s2 = -1, d2 = -1;
            if (mkdirat(dfd, e->d_name, 0755) ||
                (s2 = openat(sfd, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) <
                    0 ||
                (d2 = openat(dfd, e->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
                rc = be_fail(diag, BE_INTERNAL, "cannot copy directory %s", e->d_name);
            else
                rc = copy_tree(s2, d2, depth + 1, diag);
            if (s2 >= 0)
                close(s2);
            if (d2 >= 0)
                close(d2);
        } else {
            rc = be_fail(diag, BE_FAILED, "%s is not a regular file or directory", e->d_name);
        }
    }
    closedir(d);
    return rc;
}

int deploy_dir_materialize(const struct deploy_release *rel, const char *dir, struct be_diag *diag)
{
    int sfd = open(rel->where, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int rc = sfd < 0 || dfd < 0
                 ? be_fail(diag, BE_INTERNAL, "cannot open %s or %s", rel->where, dir)
                 : copy_tree(sfd, dfd, 0, diag);
    if (sfd >= 0)
        close(sfd);
    if (dfd >= 0)
        close(dfd);
    return rc;
}

/* The newest N with ROOT/<env>/v<N>.json. */
static uint64_t newest_version(const char *root, const char *env_id)
{
    struct buf p = BUF_INIT;
    buf_addf(&p, "%s/%s", root, env_id);
    DIR *d = opendir(p.data);
    buf_release(&p);
    uint64_t best = 0;
    struct dirent *e;
    while (d && (e = readdir(d))) {
        size_t n = strlen(e->d_name);
        uint64_t v;
        if (n > 6 && e->d_name[0] == 'v' && !strcmp(e->d_name + n - 5, ".json") &&
            !parse_u64n(e->d_name + 1, n - 6, 1000000000, &v) && v > best)
            best = v;
    }
    if (d)
        closedir(d);
    return best;
}

static int dir_release_get(void *ctx, const char *env_id, uint64_t version,
                           struct deploy_release *ret, struct be_diag *diag)
{
    const char *root = ctx;
    uint64_t owner;
    if (dir_env_owner(ctx, env_id, &owner))
        return be_fail(diag, BE_ENV_NOT_FOUND, "no environment %s", env_id);
    if (!version && !(version = newest_version(root, env_id)))
        return be_fail(diag, BE_VERSION_NOT_FOUND, "environment %s has no version yet", env_id);
    char name[48];
    snprintf(name, sizeof(name), "v%llu.json", (unsigned long long)version);
    json_t *env = load_json(root, env_id, "env.json"), *v = load_json(root, env_id, name);
    int rc = BE_OK;
    struct deploy_release rel;
    memset(&rel, 0, sizeof(rel));
    if (!v) {
        rc = be_fail(diag, BE_VERSION_NOT_FOUND, "environment %s has no version %llu", env_id,
                     (unsigned long long)version);
        goto out;
    }
    const char *rt = json_string_value(json_object_get(v, "Runtime"));
    const char *entry = json_string_value(json_object_get(v, "Entry"));
    const char *app = json_string_value(json_object_get(env, "AppId"));
    if (deploy_runtime_parse(rt, &rel.runtime) || !entry ||
        copy_str(rel.entry, sizeof(rel.entry), entry) ||
        copy_str(rel.app_id, sizeof(rel.app_id), app ? app : "") ||
        copy_str(rel.env_id, sizeof(rel.env_id), env_id)) {
        rc = be_fail(diag, BE_FAILED, "version %llu of %s has a bad runtime or entry",
                     (unsigned long long)version, env_id);
        goto out;
    }
    rel.owner_uin = owner;
    rel.version = version;
    rel.vars = xcalloc(MAX_VARS + 1, sizeof(char *));
    const char *k;
    json_t *val;
    size_t nv = 0;
    json_object_foreach(json_object_get(env, "Vars"), k, val)
    {
        if (nv < MAX_VARS && json_is_string(val)) {
            struct buf kv = BUF_INIT;
            buf_addf(&kv, "%s=%s", k, json_string_value(val));
            rel.vars[nv++] = buf_detach(&kv, NULL);
        }
    }
    struct buf where = BUF_INIT;
    buf_addf(&where, "%s/%s/v%llu", root, env_id, (unsigned long long)version);
    rel.where = buf_detach(&where, NULL);
    rel.has_file = deploy_dir_has_file;
    rel.materialize = deploy_dir_materialize;
    *ret = rel;
out:
    json_decref(env);
    json_decref(v);
    return rc;
}

struct deploy_source deploy_source_dir(const char *root)
{
    struct deploy_source s = {dir_release_get, dir_env_owner, xstrdup(root)};
    return s;
}

void deploy_source_dir_free(struct deploy_source *src)
{
    free(src->ctx);
    src->ctx = NULL;
}
