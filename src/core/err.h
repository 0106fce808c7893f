/* Error codes: one table gives every error its API code, HTTP status and
 * default message. Functions return 0 (BE_OK) on success and one of the
 * negative BE_* values on failure. */
#ifndef BINDERY_CORE_ERR_H
#define BINDERY_CORE_ERR_H

#include <stddef.h>

/* X(name, api code, http status, default message) */
#define BE_ERROR_MAP(X)                                                                            \
    X(INVALID_PARAMETER, "InvalidParameter", 400, "invalid parameter")                             \
    X(INVALID_PARAMETER_VALUE, "InvalidParameterValue", 400, "invalid parameter value")            \
    X(MISSING_PARAMETER, "MissingParameter", 400, "missing parameter")                             \
    X(UNKNOWN_PARAMETER, "UnknownParameter", 400, "unknown parameter")                             \
    X(INVALID_ACTION, "InvalidAction", 400, "unknown action")                                      \
    X(NO_SUCH_VERSION, "NoSuchVersion", 400, "unknown version for this action")                    \
    X(UNSUPPORTED_PROTOCOL, "UnsupportedProtocol", 405, "only GET and POST are allowed")           \
    X(BODY_TOO_LARGE, "RequestSizeLimitExceeded", 413, "request body is too large")                \
    X(AUTH_INVALID, "AuthFailure.InvalidAuthorization", 401,                                       \
      "the Authorization header is missing or malformed")                                          \
    X(AUTH_SIGNATURE, "AuthFailure.SignatureFailure", 401,                                         \
      "The provided credentials could not be validated. Please check your signature is correct.")  \
    X(AUTH_EXPIRED, "AuthFailure.SignatureExpire", 401,                                            \
      "the request timestamp is more than 300 seconds away from server time")                     \
    X(AUTH_SECRET_ID, "AuthFailure.SecretIdNotFound", 401,                                         \
      "the SecretId is unknown, deleted or disabled")                                              \
    X(AUTH_TOKEN, "AuthFailure.TokenFailure", 401, "the token is missing, invalid or expired")      \
    X(SESSION_INVALID, "AuthFailure.SessionInvalid", 401,                                          \
      "not signed in, or the session has expired; sign in again")                                  \
    X(CSRF, "AuthFailure.CsrfTokenInvalid", 403, "the X-CSRF-Token header is missing or wrong")    \
    X(UNAUTHORIZED, "AuthFailure.UnauthorizedOperation", 403, "you are not authorized")            \
    X(LOGIN_FAILED, "FailedOperation.LoginFailed", 401, "wrong email or password")                 \
    X(LOGIN_THROTTLED, "RequestLimitExceeded.LoginThrottled", 429,                                 \
      "too many failed logins; retry later")                                                       \
    X(RATE_LIMITED, "RequestLimitExceeded", 429, "too many requests; retry later")                 \
    X(EMAIL_IN_USE, "ResourceInUse.Email", 409, "this email is already registered")               \
    X(PASSWORD_RULES, "InvalidParameter.PasswordViolatedRules", 400,                               \
      "the password violates the password rules")                                                 \
    X(KEY_OVER_LIMIT, "OperationDenied.AccessKeyOverLimit", 400,                                   \
      "this identity already has 2 API keys")                                                      \
    X(SUB_UIN, "OperationDenied.SubUin", 403, "a sub-user may not manage the root account's keys") \
    X(PARAM_USER_NOT_EXIST, "InvalidParameter.UserNotExist", 400, "no such user in this account") \
    X(UIN_NOT_MATCH, "OperationDenied.UinNotMatch", 400, "the key does not belong to TargetUin")  \
    X(SECRET_NOT_EXIST, "ResourceNotFound.SecretNotExist", 404, "no such API key")                 \
    X(USER_NOT_EXIST, "ResourceNotFound.UserNotExist", 404, "no such user")                       \
    X(LINK_NOT_FOUND, "ResourceNotFound.WechatLink", 404, "no such WeChat link in this account")   \
    X(APP_LINKED_ELSEWHERE, "ResourceInUse.WechatApp", 409,                                        \
      "this WeChat app is linked to another account")                                              \
    X(LINK_LIMIT, "LimitExceeded.WechatLink", 400,                                                 \
      "this account has reached its maximum number of WeChat links")                              \
    X(MP_REGISTERED, "OperationDenied.MiniProgramRegisteredAccount", 403,                          \
      "an account registered through a mini program cannot link another mini program")            \
    X(LINK_REVOKED, "FailedOperation.WechatAuthorizationRevoked", 400,                             \
      "the WeChat app no longer authorizes Bindery; re-authorize it")                             \
    X(ATTEMPT_INVALID, "FailedOperation.AuthorizationStateInvalid", 400,                           \
      "unknown authorization state, or it was started in another browser session")                \
    X(ATTEMPT_EXPIRED, "FailedOperation.AuthorizationStateExpired", 400,                           \
      "the authorization attempt has expired; start again")                                       \
    X(ATTEMPT_USED, "FailedOperation.AuthorizationStateUsed", 409,                                 \
      "this authorization attempt was already completed")                                         \
    X(AUTH_CODE_USED, "FailedOperation.AuthorizationCodeUsed", 409,                                \
      "this WeChat authorization code was already used")                                          \
    X(NOT_FOUND, "ResourceNotFound", 404, "not found")                                             \
    X(DUPLICATE, "FailedOperation.Duplicate", 409, "already exists")                              \
    X(CONFLICT, "FailedOperation.Conflict", 409, "conflicting concurrent change; retry")          \
    X(FAILED, "FailedOperation", 400, "the operation failed")                                      \
    X(STORE_UNAVAILABLE, "InternalError.StoreUnavailable", 503,                                    \
      "the database is unavailable; retry shortly")                                                \
    X(UPSTREAM, "InternalError.Upstream", 502, "an upstream service failed")                       \
    X(INTERNAL, "InternalError", 500, "internal error")                                            \
    X(DEPLOY_IN_PROGRESS, "ResourceInUse.Deploy", 409,                                             \
      "another deploy job is running for this environment")                                       \
    X(DEPLOY_NOT_FOUND, "ResourceNotFound.Deploy", 404, "no such deploy job")                      \
    X(DEPLOY_FINISHED, "FailedOperation.DeployFinished", 409, "the deploy job has finished")      \
    X(ENV_NOT_FOUND, "ResourceNotFound.Environment", 404, "no such environment")                  \
    X(VERSION_NOT_FOUND, "ResourceNotFound.Version", 404, "no such version of the environment")   \
    X(SANDBOX_UNAVAILABLE, "FailedOperation.SandboxUnavailable", 400,                              \
      "no sandbox is available on this server and unsandboxed runs are not allowed")            \
    X(SHUTTING_DOWN, "ResourceUnavailable.ShuttingDown", 503, "the server is shutting down")       \
    X(ENV_NOT_LIVE, "ResourceUnavailable.Environment", 503,                                        \
      "the environment has no live version")                                                       \
    X(APP_FAILED, "FailedOperation.AppFailed", 502,                                                \
      "the environment's app failed to answer")                                                    \
    X(APP_TIMEOUT, "FailedOperation.AppTimeout", 504, "the environment's app did not answer in time")

enum be_error {
    BE_OK = 0,
    BE__BASE = -1000,
#define BE_X_ENUM(name, code, status, msg) BE_##name,
    BE_ERROR_MAP(BE_X_ENUM)
#undef BE_X_ENUM
        BE__END
};

/* The API error code ("InvalidParameter") of err; "InternalError" for values
 * outside the table. */
const char *be_err_code(int err);

/* The HTTP status that goes with err when it is not wrapped in an API
 * envelope (the API itself always answers 200). */
int be_err_status(int err);

/* The default, human readable message of err. */
const char *be_err_message(int err);

/* A detail message that goes with an error to its caller (which field was
 * wrong, when to retry). Functions that take a `struct be_diag *` may leave it
 * untouched; NULL is accepted wherever a diag is. */
struct be_diag {
    char msg[512];
};

/* Formats a detail message into diag (truncated to its size), returns err so
 * that `return be_fail(diag, BE_X, "...")` reads naturally. */
int be_fail(struct be_diag *diag, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
