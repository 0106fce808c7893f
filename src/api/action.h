/* API 3.0 actions: each action declares its service, name, version, input
 * parameters (types, bounds, required), its CAM action and resource, and the
 * function that runs it. One dispatcher serves the TC3-signed API, the
 * console (session + CSRF) and the tools, so no path can skip validation or
 * the CAM check. */
#ifndef BINDERY_API_ACTION_H
#define BINDERY_API_ACTION_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "app.h"
#include "cam/principal.h"
#include "core/buf.h"
#include "core/err.h"

enum api_type { API_STRING, API_UINT64, API_BOOL, API_ARRAY, API_OBJECT };

/* One input parameter. For strings, min/max bound the length in bytes; for
 * numbers, the value; for arrays, the element count. */
struct api_param {
    const char *name;
    enum api_type type;
    bool required;
    uint64_t min, max;
};

/* What an action function gets. params is the validated input (numbers given
 * as strings are already converted); out is the object to fill with the
 * response fields (RequestId is added by the dispatcher). */
struct api_call {
    struct app *app;
    const struct principal *who;
    const struct req_meta *meta;
    const struct api_action *action;
    json_t *params;
    json_t *out;
    struct be_diag diag;
    /* The console session the call came with (its id hash), NULL through
     * the signed API: actions that start browser flows bind them to it. */
    const unsigned char *session_hash;
};

struct api_action {
    const char *service; /* "cam", "sts", "bindery" */
    const char *name;    /* "GetUserAppId" */
    const char *version; /* "2019-01-16" */
    const struct api_param *params; /* terminated by an entry with name NULL */
    const char *cam_action;         /* "cam:GetUserAppId" */
    /* Appends the qcs resource string the call touches; NULL means "*" in
     * the caller's account. May fail (e.g. an unknown TargetUin). */
    int (*resource)(struct api_call *call, struct buf *out);
    int (*run)(struct api_call *call);
};

/* Action tables of each module, NULL-name terminated. */
extern const struct api_action api_cam_actions[];
extern const struct api_action api_link_actions[];
extern const struct api_action api_deploy_actions[];
extern const struct api_action api_cam_user_actions[];
extern const struct api_action api_cam_policy_actions[];
extern const struct api_action api_sts_actions[];
extern const struct api_action api_devenv_actions[];
extern const struct api_action api_devtools_actions[];
extern const struct api_action api_devenv_archive_actions[];

/* Finds an action: BE_INVALID_ACTION when the name is unknown,
 * BE_NO_SUCH_VERSION when it exists in other versions only. A NULL version
 * picks the action's only (or newest) version. */
int api_find_action(const char *name, const char *version, const struct api_action **ret);

/* Every action of every table: [{Service, Action, Version, CamAction,
 * Params: [{Name, Type, Required, Min, Max}]}] (new reference), for
 * `bindery admin actions` and the tests that walk the catalogue. */
json_t *api_actions_describe(void);

/* Validates params (a JSON object, borrowed; may be NULL for "{}") against
 * the action, checks CAM, runs it. On success *ret_out gets the response
 * fields (new reference); on failure diag says why. */
int api_dispatch(struct app *app, const struct principal *who, const struct req_meta *meta,
                 const struct api_action *action, json_t *params, json_t **ret_out,
                 struct be_diag *diag);

/* api_dispatch() for the console's door: the action also learns the
 * session it runs in (session_hash, the session's id hash). */
int api_dispatch_console(struct app *app, const struct principal *who, const struct req_meta *meta,
                         const unsigned char *session_hash, const struct api_action *action,
                         json_t *params, json_t **ret_out, struct be_diag *diag);

/* The response envelope of spec §4.5, as a malloc'd compact JSON string.
 * success steals out. */
char *api_envelope_success(json_t *out, const char *request_id, size_t *ret_len);
char *api_envelope_error(int err, const char *message, const char *request_id, size_t *ret_len);

/* Parameter access for action functions, after validation. */
const char *api_str(const struct api_call *call, const char *name);
/* The value, or def when absent. */
uint64_t api_u64(const struct api_call *call, const char *name, uint64_t def);
bool api_has(const struct api_call *call, const char *name);

/* Formats a CAM timestamp string field into out. */
void api_set_time(json_t *out, const char *field, int64_t t);
/* A UIN as the decimal string some fields require. */
void api_set_uin_string(json_t *out, const char *field, uint64_t uin);

#endif
