/* The fixture file loaded at start (platform.h: pl_fixtures_load). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/buf.h"
#include "platform/platform.h"
#include "core/banned.h"

static int read_file(const char *path, struct buf *out, struct be_diag *diag)
{
    FILE *f = fopen(path, "rb");
    char chunk[8192];
    size_t n;
    if (!f)
        return be_fail(diag, BE_INVALID_PARAMETER, "cannot read fixtures %s: %s", path,
                       strerror(errno));
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        if (out->len + n > PL_FIXTURE_MAX_BYTES) {
            fclose(f);
            return be_fail(diag, BE_BODY_TOO_LARGE, "fixtures %s: larger than %d bytes", path,
                           PL_FIXTURE_MAX_BYTES);
        }
        buf_add(out, chunk, n);
    }
    int err = ferror(f);
    fclose(f);
    if (err)
        return be_fail(diag, BE_INVALID_PARAMETER, "cannot read fixtures %s", path);
    return BE_OK;
}

typedef int (*put_fn)(struct platform *pl, const json_t *obj, struct be_diag *diag);

static int load_list(struct platform *pl, const char *path, const json_t *root, const char *name,
                     put_fn put, struct be_diag *diag)
{
    const json_t *list = json_object_get(root, name);
    size_t i;
    const json_t *entry;
    if (!list)
        return BE_OK;
    if (!json_is_array(list))
        return be_fail(diag, BE_INVALID_PARAMETER, "fixtures %s: %s must be an array", path, name);
    json_array_foreach(list, i, entry)
    {
        struct be_diag inner = {""};
        int rc = put(pl, entry, &inner);
        if (rc)
            return be_fail(diag, rc, "fixtures %s: %s[%zu]: %s", path, name, i,
                           *inner.msg ? inner.msg : be_err_message(rc));
    }
    return BE_OK;
}

static int check_top(const char *path, const json_t *root, struct be_diag *diag)
{
    static const char *const known[] = {"comment", "wxusers", "authorizers", "components",
                                        "settings"};
    const char *key;
    const json_t *v;
    if (!json_is_object(root))
        return be_fail(diag, BE_INVALID_PARAMETER, "fixtures %s: expected a JSON object", path);
    json_object_foreach((json_t *)root, key, v)
    {
        bool ok = false;
        for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
            ok = ok || !strcmp(key, known[i]);
        if (!ok)
            return be_fail(diag, BE_UNKNOWN_PARAMETER, "fixtures %s: unknown member %s", path, key);
    }
    return BE_OK;
}

int pl_fixtures_load(struct platform *pl, const char *path, struct be_diag *diag)
{
    struct buf text = BUF_INIT;
    json_t *root = NULL;
    json_error_t jerr;
    int rc = read_file(path, &text, diag);
    if (rc)
        goto out;
    root = json_loadb(text.data, text.len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        rc = be_fail(diag, BE_INVALID_PARAMETER, "fixtures %s: line %d: %s", path, jerr.line,
                     jerr.text);
        goto out;
    }
    if ((rc = check_top(path, root, diag)) ||
        (rc = load_list(pl, path, root, "wxusers", pl_wxuser_put_json, diag)) ||
        (rc = load_list(pl, path, root, "authorizers", pl_authorizer_put_json, diag)) ||
        (rc = load_list(pl, path, root, "components", pl_component_put_json, diag)))
        goto out;
    if (json_object_get(root, "settings")) {
        struct be_diag inner = {""};
        rc = pl_settings_apply_json(pl, json_object_get(root, "settings"), &inner);
        if (rc)
            rc = be_fail(diag, rc, "fixtures %s: settings: %s", path, inner.msg);
    }
out:
    json_decref(root);
    buf_release(&text);
    return rc;
}
