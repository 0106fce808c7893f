#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/action.h"
#include "cam/authz.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/parse.h"
#include "core/timeutil.h"
#include "core/banned.h"

static const struct api_action *const action_tables[] = {
    api_cam_actions,    api_cam_user_actions,       api_cam_policy_actions,
    api_sts_actions,    api_link_actions,           api_devtools_actions,
    api_devenv_actions, api_devenv_archive_actions, api_deploy_actions};

int api_find_action(const char *name, const char *version, const struct api_action **ret)
{
    bool name_found = false;
    for (size_t t = 0; t < sizeof(action_tables) / sizeof(action_tables[0]); t++) {
        for (const struct api_action *a = action_tables[t]; a->name; a++) {
            if (strcmp(a->name, name))
                continue;
            name_found = true;
            if (!version || !strcmp(a->version, version)) {
                *ret = a;
                return BE_OK;
            }
        }
    }
    return name_found ? BE_NO_SUCH_VERSION : BE_INVALID_ACTION;
}

json_t *api_actions_describe(void)
{
    static const char *const types[] = {"string", "uint64", "bool", "array", "object"};
    json_t *list = json_array();
    for (size_t t = 0; t < sizeof(action_tables) / sizeof(action_tables[0]); t++) {
        for (const struct api_action *a = action_tables[t]; a->name; a++) {
            json_t *params = json_array();
            for (const struct api_param *p = a->params; p && p->name; p++)
                json_array_append_new(
                    params,
                    json_pack("{s:s,s:s,s:b,s:I,s:I}", "Name", p->name, "Type", types[p->type],
                              "Required", p->required, "Min", (json_int_t)p->min, "Max",
                              (json_int_t)(p->max > INT64_MAX ? INT64_MAX : p->max)));
            json_array_append_new(list, json_pack("{s:s,s:s,s:s,s:s,s:o}", "Service", a->service,
                                                  "Action", a->name, "Version", a->version,
                                                  "CamAction", a->cam_action, "Params", params));
        }
    }
    return list;
}

static const char *type_name(enum api_type t)
{
    static const char *const names[] = {"a string", "an unsigned integer", "a boolean", "an array",
                                        "an object"};
    return names[t];
}

/* Checks one value and returns the (possibly converted) value to keep. */
static int check_value(const struct api_param *p, json_t *v, json_t **ret, struct be_diag *diag)
{
    switch (p->type) {
    case API_STRING: {
        if (!json_is_string(v))
            break;
        size_t len = json_string_length(v);
        if (len < p->min || len > p->max)
            return be_fail(diag, BE_INVALID_PARAMETER_VALUE,
                           "%s must be %llu to %llu characters long (got %zu)", p->name,
                           (unsigned long long)p->min, (unsigned long long)p->max, len);
        *ret = json_incref(v);
        return BE_OK;
    }
    case API_UINT64: {
        uint64_t u;
        if (json_is_integer(v) && json_integer_value(v) >= 0)
            u = (uint64_t)json_integer_value(v);
        else if (!json_is_string(v) || parse_u64(json_string_value(v), INT64_MAX, &u))
            break;
        if (u < p->min || u > p->max)
            return be_fail(diag, BE_INVALID_PARAMETER_VALUE,
                           "%s must be from %llu to %llu (got %llu)", p->name,
                           (unsigned long long)p->min, (unsigned long long)p->max,
                           (unsigned long long)u);
        *ret = json_integer((json_int_t)u);
        return BE_OK;
    }
    case API_BOOL: {
        bool b;
        if (json_is_boolean(v))
            b = json_is_true(v);
        else if (json_is_integer(v) && (json_integer_value(v) == 0 || json_integer_value(v) == 1))
            b = json_integer_value(v) == 1;
        else if (!json_is_string(v) || parse_bool(json_string_value(v), &b))
            break;
        *ret = json_boolean(b);
        return BE_OK;
    }
    case API_ARRAY:
        if (!json_is_array(v))
            break;
        if (json_array_size(v) < p->min || json_array_size(v) > p->max)
            return be_fail(diag, BE_INVALID_PARAMETER_VALUE, "%s must have %llu to %llu elements",
                           p->name, (unsigned long long)p->min, (unsigned long long)p->max);
        *ret = json_incref(v);
        return BE_OK;
    case API_OBJECT:
        if (!json_is_object(v))
            break;
        *ret = json_incref(v);
        return BE_OK;
    }
    return be_fail(diag, BE_INVALID_PARAMETER, "%s must be %s", p->name, type_name(p->type));
}

/* Builds the validated copy of params: every declared parameter checked,
 * undeclared ones refused. */
static int validate(const struct api_action *a, json_t *params, json_t **ret, struct be_diag *diag)
{
    json_t *clean = json_object();
    const char *key;
    json_t *v;
    int rc = BE_OK;
    if (params && !json_is_object(params)) {
        rc = be_fail(diag, BE_INVALID_PARAMETER, "the request body must be a JSON object");
        goto fail;
    }
    json_object_foreach(params, key, v)
    {
        const struct api_param *p = a->params;
        while (p && p->name && strcmp(p->name, key))
            p++;
        if (!p || !p->name) {
            rc = be_fail(diag, BE_UNKNOWN_PARAMETER, "%s is not a parameter of %s (version %s)",
                         key, a->name, a->version);
            goto fail;
        }
    }
    for (const struct api_param *p = a->params; p && p->name; p++) {
        json_t *in = params ? json_object_get(params, p->name) : NULL, *out = NULL;
        if (!in || json_is_null(in)) {
            if (p->required) {
                rc = be_fail(diag, BE_MISSING_PARAMETER, "%s is required", p->name);
                goto fail;
            }
            continue;
        }
        if ((rc = check_value(p, in, &out, diag)))
            goto fail;
        json_object_set_new(clean, p->name, out);
    }
    *ret = clean;
    return BE_OK;
fail:
    json_decref(clean);
    return rc;
}

int api_dispatch(struct app *app, const struct principal *who, const struct req_meta *meta,
                 const struct api_action *action, json_t *params, json_t **ret_out,
                 struct be_diag *diag)
{
    return api_dispatch_console(app, who, meta, NULL, action, params, ret_out, diag);
}

int api_dispatch_console(struct app *app, const struct principal *who, const struct req_meta *meta,
                         const unsigned char *session_hash, const struct api_action *action,
                         json_t *params, json_t **ret_out, struct be_diag *diag)
{
    struct api_call call = {
        .app = app, .who = who, .meta = meta, .action = action, .session_hash = session_hash};
    struct buf resource = BUF_INIT;
    int rc = validate(action, params, &call.params, diag);
    if (rc)
        return rc;
    call.out = json_object();
    if (action->resource) {
        if ((rc = action->resource(&call, &resource)))
            goto out;
    } else {
        buf_adds(&resource, "*");
    }
    struct cam_request creq = {action->cam_action, resource.data, who->owner_uin, meta->source_ip,
                               meta->now};
    if ((rc = cam_authorize(app, who, &creq, meta->request_id, diag)))
        goto out;
    rc = action->run(&call);
out:
    if (rc && call.diag.msg[0] && diag)
        *diag = call.diag;
    if (rc == BE_OK)
        *ret_out = json_incref(call.out);
    json_decref(call.out);
    json_decref(call.params);
    buf_release(&resource);
    return rc;
}

char *api_envelope_success(json_t *out, const char *request_id, size_t *ret_len)
{
    json_object_set_new(out, "RequestId", json_string(request_id ? request_id : ""));
    json_t *env = json_pack("{s:o}", "Response", out);
    char *s = json_dumps(env, JSON_COMPACT);
    json_decref(env);
    if (!s)
        abort();
    *ret_len = strlen(s);
    return s;
}

char *api_envelope_error(int err, const char *message, const char *request_id, size_t *ret_len)
{
    json_t *env = json_pack("{s:{s:{s:s,s:s},s:s}}", "Response", "Error", "Code", be_err_code(err),
                            "Message", message && *message ? message : be_err_message(err),
                            "RequestId", request_id ? request_id : "");
    if (!env) /* a message that is not valid UTF-8 */
        env = json_pack("{s:{s:{s:s,s:s},s:s}}", "Response", "Error", "Code", be_err_code(err),
                        "Message", be_err_message(err), "RequestId", request_id ? request_id : "");
    char *s = json_dumps(env, JSON_COMPACT);
    json_decref(env);
    if (!s)
        abort();
    *ret_len = strlen(s);
    return s;
}

const char *api_str(const struct api_call *call, const char *name)
{
    return json_string_value(json_object_get(call->params, name));
}

uint64_t api_u64(const struct api_call *call, const char *name, uint64_t def)
{
    json_t *v = json_object_get(call->params, name);
    return json_is_integer(v) ? (uint64_t)json_integer_value(v) : def;
}

bool api_has(const struct api_call *call, const char *name)
{
    return json_object_get(call->params, name) != NULL;
}

void api_set_time(json_t *out, const char *field, int64_t t)
{
    char s[20];
    time_fmt_cam(t, s);
    json_object_set_new(out, field, json_string(s));
}

void api_set_uin_string(json_t *out, const char *field, uint64_t uin)
{
    char s[24];
    snprintf(s, sizeof(s), "%llu", (unsigned long long)uin);
    json_object_set_new(out, field, json_string(s));
}
