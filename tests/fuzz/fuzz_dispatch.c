/* Fuzz target: the dispatcher's parameter validation (the static validate()
 * of src/api/dispatch.c, reached by including the .c, as unit tests do),
 * for every action of every table, on parameters read the way the gateway
 * reads them: a JSON body (json_loadb, duplicate keys refused) or a GET
 * query (api_query_to_json). No server, store or CAM: validation is what
 * stands between client input and the action functions.
 *
 * Input: byte 0 picks the action (byte % number of actions), byte 1 the
 * reading (even: JSON body, odd: query string); the rest is the body or
 * query.
 *
 * Checked beyond "no crash, no leak": what validation accepts holds only
 * declared parameters, every required one, each of its declared type and
 * within its bounds (so an action may trust api_str/api_u64). */
#include "api/dispatch.c"

#include "fuzz.h"
#include "api/query.h"

static size_t action_count(void)
{
    size_t n = 0;
    for (size_t t = 0; t < sizeof(action_tables) / sizeof(action_tables[0]); t++)
        for (const struct api_action *a = action_tables[t]; a->name; a++)
            n++;
    return n;
}

static const struct api_action *action_at(size_t i)
{
    for (size_t t = 0; t < sizeof(action_tables) / sizeof(action_tables[0]); t++)
        for (const struct api_action *a = action_tables[t]; a->name; a++)
            if (i-- == 0)
                return a;
    abort();
}

static bool value_ok(const struct api_param *p, json_t *v)
{
    switch (p->type) {
    case API_STRING:
        return json_is_string(v) && json_string_length(v) >= p->min &&
               json_string_length(v) <= p->max;
    case API_UINT64:
        return json_is_integer(v) && json_integer_value(v) >= 0 &&
               (uint64_t)json_integer_value(v) >= p->min &&
               (uint64_t)json_integer_value(v) <= p->max;
    case API_BOOL:
        return json_is_boolean(v);
    case API_ARRAY:
        return json_is_array(v) && json_array_size(v) >= p->min && json_array_size(v) <= p->max;
    case API_OBJECT:
        return json_is_object(v);
    }
    return false;
}

static void check_clean(const struct api_action *a, json_t *clean)
{
    const char *key;
    json_t *v;
    if (!json_is_object(clean))
        abort();
    json_object_foreach(clean, key, v)
    {
        const struct api_param *p = a->params;
        while (p && p->name && strcmp(p->name, key))
            p++;
        if (!p || !p->name || !value_ok(p, v))
            abort(); /* undeclared, mistyped or out of bounds */
    }
    for (const struct api_param *p = a->params; p && p->name; p++)
        if (p->required && !json_object_get(clean, p->name))
            abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    const struct api_action *a = action_at(data[0] % action_count());
    struct fuzz_input in = {data + 2, size - 2};
    size_t len;
    char *text = fuzz_rest_exact(&in, &len);
    json_t *params = NULL, *clean = NULL;
    struct be_diag diag = {""};
    if (data[1] % 2) {
        if (api_query_to_json(text, len, &params, &diag))
            goto out;
    } else {
        json_error_t jerr;
        if (!(params = json_loadb(text ? text : "", len, JSON_REJECT_DUPLICATES, &jerr)))
            goto out;
    }
    if (validate(a, params, &clean, &diag) == BE_OK) {
        check_clean(a, clean);
        json_decref(clean);
    } else if (!diag.msg[0]) {
        abort(); /* a refusal must say why */
    }
out:
    json_decref(params);
    free(text);
    return 0;
}
