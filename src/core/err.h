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
      "the request timestamp is more than 300 seconds away from server time")                      \
    X(AUTH_SECRET_ID, "AuthFailure.SecretIdNotFound", 401,                                         \
      "the SecretId is unknown, deleted or disabled")                                              \
    X(AUTH_TOKEN, "AuthFailure.TokenFailure", 401, "the token is missing, invalid or expired")     \
    X(SESSION_INVALID, "AuthFailure.SessionInvalid", 401,                                          \
      "not signed in, or the session has expired; sign in again")                                  \
    X(CSRF, "AuthFailure.CsrfTokenInvalid", 403, "the X-CSRF-Token header is missing or wrong")    \
    X(UNAUTHORIZED, "AuthFailure.UnauthorizedOperation", 403, "you are not authorized")            \
    X(LOGIN_FAILED, "FailedOperation.LoginFailed", 401, "wrong email or password")                 \
    X(LOGIN_THROTTLED, "RequestLimitExceeded.LoginThrottled", 429,                                 \
      "too many failed logins; retry later")                                                       \
    X(RATE_LIMITED, "RequestLimitExceeded", 429, "too many requests; retry later")                 \
    X(EMAIL_IN_USE, "ResourceInUse.Email", 409, "this email is already registered")                \
    X(PASSWORD_RULES, "InvalidParameter.PasswordViolatedRules", 400,                               \
      "the password violates the password rules")                                                  \
    X(KEY_OVER_LIMIT, "OperationDenied.AccessKeyOverLimit", 400,                                   \
      "this identity already has 2 API keys")                                                      \
    X(SUB_UIN, "OperationDenied.SubUin", 403, "a sub-user may not manage the root account's keys") \
    X(PARAM_USER_NOT_EXIST, "InvalidParameter.UserNotExist", 400, "no such user in this account")  \
    X(UIN_NOT_MATCH, "OperationDenied.UinNotMatch", 400, "the key does not belong to TargetUin")   \
    X(SECRET_NOT_EXIST, "ResourceNotFound.SecretNotExist", 404, "no such API key")                 \
    X(USER_NOT_EXIST, "ResourceNotFound.UserNotExist", 404, "no such user")                        \
    X(LINK_NOT_FOUND, "ResourceNotFound.WechatLink", 404, "no such WeChat link in this account")   \
    X(APP_LINKED_ELSEWHERE, "ResourceInUse.WechatApp", 409,                                        \
      "this WeChat app is linked to another account")                                              \
    X(LINK_LIMIT, "LimitExceeded.WechatLink", 400,                                                 \
      "this account has reached its maximum number of WeChat links")                               \
    X(MP_REGISTERED, "OperationDenied.MiniProgramRegisteredAccount", 403,                          \
      "an account registered through a mini program cannot link another mini program")             \
    X(LINK_REVOKED, "FailedOperation.WechatAuthorizationRevoked", 400,                             \
      "the WeChat app no longer authorizes Bindery; re-authorize it")                              \
    X(ATTEMPT_INVALID, "FailedOperation.AuthorizationStateInvalid", 400,                           \
      "unknown authorization state, or it was started in another browser session")                 \
    X(ATTEMPT_EXPIRED, "FailedOperation.AuthorizationStateExpired", 400,                           \
      "the authorization attempt has expired; start again")                                        \
    X(ATTEMPT_USED, "FailedOperation.AuthorizationStateUsed", 409,                                 \
      "this authorization attempt was already completed")                                          \
    X(AUTH_CODE_USED, "FailedOperation.AuthorizationCodeUsed", 409,                                \
      "this WeChat authorization code was already used")                                           \
    X(NOT_FOUND, "ResourceNotFound", 404, "not found")                                             \
    X(DUPLICATE, "FailedOperation.Duplicate", 409, "already exists")                               \
    X(CONFLICT, "FailedOperation.Conflict", 409, "conflicting concurrent change; retry")           \
    X(FAILED, "FailedOperation", 400, "the operation failed")                                      \
    X(STORE_UNAVAILABLE, "InternalError.StoreUnavailable", 503,                                    \
      "the database is unavailable; retry shortly")                                                \
    X(UPSTREAM, "InternalError.Upstream", 502, "an upstream service failed")                       \
    X(USER_NAME_ILLEGAL, "InvalidParameter.UserNameIllegal", 400, "the user name is not allowed")  \
    X(SUB_USER_NAME_IN_USE, "InvalidParameter.SubUserNameInUse", 409,                              \
      "a user with this name already exists")                                                      \
    X(SUB_USER_FULL, "InvalidParameter.SubUserFull", 400, "this account has too many users")       \
    X(HAVE_KEYS, "OperationDenied.HaveKeys", 400, "the user still has API keys")                   \
    X(UNAUTH_DELETE_API_KEY, "UnauthorizedOperation.DeleteApiKey", 403,                            \
      "you are not authorized to delete the user's API keys")                                      \
    X(ACCESSKEY_FAILED, "FailedOperation.Accesskey", 400, "the API key operation failed")          \
    X(PARAM_ERROR, "InvalidParameter.ParamError", 400, "invalid parameter")                        \
    X(GROUP_NAME_IN_USE, "InvalidParameter.GroupNameInUse", 409, "a group with this name exists")  \
    X(GROUP_FULL, "InvalidParameter.GroupFull", 400, "this account has too many groups")           \
    X(GROUP_NOT_EXIST, "ResourceNotFound.GroupNotExist", 404, "no such group")                     \
    X(PARAM_GROUP_NOT_EXIST, "InvalidParameter.GroupNotExist", 400, "no such group")               \
    X(GROUP_USER_FULL, "InvalidParameter.GroupUserFull", 400, "the group has too many members")    \
    X(USER_GROUP_FULL, "InvalidParameter.UserGroupFull", 400, "the user is in too many groups")    \
    X(UID_UIN_NULL, "InvalidParameter.UserUinAndUinNotAllNull", 400, "give Uid or Uin")            \
    X(COLLABORATOR_EXISTS, "ResourceInUse.Collaborator", 409,                                      \
      "this account is already a collaborator")                                                    \
    X(COLLABORATIONS_FULL, "LimitExceeded.Uin", 400,                                               \
      "this account collaborates on too many accounts")                                            \
    X(POLICY_FULL, "FailedOperation.PolicyFull", 400, "this account has too many policies")        \
    X(POLICY_NAME_IN_USE, "FailedOperation.PolicyNameInUse", 409,                                  \
      "a policy with this name already exists")                                                    \
    X(POLICY_NAME_ERROR, "InvalidParameter.PolicyNameError", 400, "the policy name is invalid")    \
    X(DESCRIPTION_TOO_LONG, "InvalidParameter.DescriptionLengthOverlimit", 400,                    \
      "the description is longer than 300 bytes")                                                  \
    X(POLICY_ID_NOT_FOUND, "ResourceNotFound.PolicyIdNotFound", 404, "no such policy")             \
    X(POLICY_ID_NOT_EXIST, "InvalidParameter.PolicyIdNotExist", 400, "no such policy")             \
    X(POLICY_ID_ERROR, "InvalidParameter.PolicyIdError", 400, "invalid policy id")                 \
    X(ATTACHMENT_FULL, "InvalidParameter.AttachmentFull", 400,                                     \
      "too many policies are attached to this user or group")                                      \
    X(SCOPE_ERROR, "InvalidParameter.ScopeError", 400, "Scope must be All, QCS or Local")          \
    X(OPERATE_POLICIES_OVER_LIMIT, "InvalidParameter.OperatePoliciesOverLimit", 400,               \
      "too many policies in one request")                                                          \
    X(UNMODIFIABLE, "FailedOperation.Unmodifiable", 400, "this entity cannot be changed")          \
    X(POLICY_DOCUMENT_ERROR, "InvalidParameter.PolicyDocumentError", 400,                          \
      "the policy document is malformed")                                                          \
    X(POLICY_DOCUMENT_LENGTH, "InvalidParameter.PolicyDocumentLengthOverLimit", 400,               \
      "the policy document is too long")                                                           \
    X(POLICY_VERSION_ERROR, "InvalidParameter.VersionError", 400, "version must be \"2.0\"")       \
    X(POLICY_STATEMENT_ERROR, "InvalidParameter.StatementError", 400, "invalid statement")         \
    X(POLICY_PRINCIPAL_ERROR, "InvalidParameter.PrincipalError", 400,                              \
      "principal is not allowed here")                                                             \
    X(POLICY_EFFECT_ERROR, "InvalidParameter.EffectError", 400, "effect must be allow or deny")    \
    X(POLICY_ACTION_MISS, "InvalidParameter.ActionMiss", 400, "action is missing")                 \
    X(POLICY_ACTION_ERROR, "InvalidParameter.ActionError", 400, "invalid action")                  \
    X(POLICY_RESOURCE_ERROR, "InvalidParameter.ResourceError", 400, "invalid resource")            \
    X(POLICY_RESOURCE_QCS_ERROR, "InvalidParameter.ResourceQcsError", 400,                         \
      "a resource must start with qcs")                                                            \
    X(POLICY_RESOURCE_PROJECT_ERROR, "InvalidParameter.ResourceProjectError", 400,                 \
      "the project segment of a resource must be empty")                                           \
    X(POLICY_RESOURCE_REGION_ERROR, "InvalidParameter.ResourceRegionError", 400,                   \
      "invalid resource region")                                                                   \
    X(POLICY_RESOURCE_UIN_ERROR, "InvalidParameter.ResourceUinError", 400,                         \
      "invalid resource account")                                                                  \
    X(POLICY_RESOURCE_CONTENT_ERROR, "InvalidParameter.ResourceContentError", 400,                 \
      "invalid resource content")                                                                  \
    X(POLICY_CONDITION_ERROR, "InvalidParameter.ConditionError", 400, "invalid condition")         \
    X(POLICY_CONDITION_TYPE_ERROR, "InvalidParameter.ConditionTypeError", 400,                     \
      "unknown condition operator")                                                                \
    X(POLICY_CONDITION_CONTENT_ERROR, "InvalidParameter.ConditionContentError", 400,               \
      "invalid condition value")                                                                   \
    X(DEPLOY_IN_PROGRESS, "ResourceInUse.Deploy", 409,                                             \
      "another deploy job is running for this environment")                                        \
    X(DEPLOY_NOT_FOUND, "ResourceNotFound.Deploy", 404, "no such deploy job")                      \
    X(DEPLOY_FINISHED, "FailedOperation.DeployFinished", 409, "the deploy job has finished")       \
    X(SANDBOX_UNAVAILABLE, "FailedOperation.SandboxUnavailable", 400,                              \
      "no sandbox is available on this server and unsandboxed runs are not allowed")               \
    X(DEPLOY_UNAVAILABLE, "FailedOperation.DeployUnavailable", 503,                                \
      "deploy is not running on this server")                                                      \
    X(ENV_NOT_FOUND, "ResourceNotFound.Environment", 404, "no such environment in this account")   \
    X(ENV_QUOTA, "LimitExceeded.Environment", 400,                                                 \
      "this app has reached its maximum number of environments")                                   \
    X(ENV_NOT_READY, "FailedOperation.EnvironmentNotReady", 409, "the environment is not READY")   \
    X(ENV_IN_USE, "ResourceInUse.Environment", 409, "a deploy of this environment is running")     \
    X(UPLOAD_NOT_FOUND, "ResourceNotFound.Upload", 404, "no such upload")                          \
    X(UPLOAD_EXPIRED, "FailedOperation.UploadExpired", 409, "the upload has expired; start again") \
    X(UPLOAD_COMMITTED, "FailedOperation.UploadCommitted", 409,                                    \
      "the upload was already committed")                                                          \
    X(BLOBS_MISSING, "FailedOperation.BlobsMissing", 409,                                          \
      "files of the upload have not been sent")                                                    \
    X(MANIFEST_INVALID, "InvalidParameter.Manifest", 422, "the file manifest is invalid")          \
    X(MANIFEST_LIMIT, "LimitExceeded.Manifest", 413, "the file manifest is over a limit")          \
    X(DIGEST_MISMATCH, "InvalidParameter.DigestMismatch", 422,                                     \
      "the bytes sent do not match their SHA-256 or size")                                         \
    X(UPLOAD_URL_INVALID, "AuthFailure.UploadUrlInvalid", 403,                                     \
      "the upload URL is invalid or not for this upload")                                          \
    X(UPLOAD_URL_EXPIRED, "AuthFailure.UploadUrlExpired", 403, "the upload URL has expired")       \
    X(VERSION_NOT_FOUND, "ResourceNotFound.Version", 404, "no such version of this environment")   \
    X(DEVICE_PENDING, "FailedOperation.AuthorizationPending", 400,                                 \
      "the user has not approved this device yet")                                                 \
    X(DEVICE_SLOW_DOWN, "RequestLimitExceeded.SlowDown", 400,                                      \
      "polling too fast; wait 5 more seconds between polls")                                       \
    X(DEVICE_DENIED, "FailedOperation.AccessDenied", 400, "the user denied this device")           \
    X(DEVICE_EXPIRED, "FailedOperation.DeviceCodeExpired", 400,                                    \
      "the device code has expired; start the login again")                                        \
    X(GRANT_INVALID, "FailedOperation.InvalidGrant", 400,                                          \
      "the grant is unknown, used, expired or revoked")                                            \
    X(USER_CODE_INVALID, "InvalidParameterValue.UserCode", 400,                                    \
      "no pending device login has this code, or it has expired")                                  \
    X(USER_CODE_THROTTLED, "RequestLimitExceeded.UserCode", 429,                                   \
      "too many wrong codes; retry later")                                                         \
    X(DEVICE_DECIDED, "FailedOperation.DeviceAlreadyDecided", 409,                                 \
      "this device login was already approved or denied")                                          \
    X(DEVICE_NOT_FOUND, "ResourceNotFound.Device", 404, "no such device in this account")          \
    X(CONSOLE_LINK_INVALID, "FailedOperation.ConsoleLinkInvalid", 400,                             \
      "the console sign-in link is unknown, used or expired; run bindery console again")           \
    X(CONSOLE_PAGE, "InvalidParameterValue.ConsolePage", 400,                                      \
      "the page is not a console page a sign-in link may open")                                    \
    X(CONSOLE_ONLY, "UnsupportedOperation.ConsoleOnly", 400,                                       \
      "this action is only available in the console")                                              \
    X(SHUTTING_DOWN, "ResourceUnavailable.ShuttingDown", 503, "the server is shutting down")       \
    X(ENV_NOT_LIVE, "ResourceUnavailable.Environment", 503, "the environment has no live version") \
    X(APP_FAILED, "FailedOperation.AppFailed", 502, "the environment's app failed to answer")      \
    X(APP_TIMEOUT, "FailedOperation.AppTimeout", 504,                                              \
      "the environment's app did not answer in time")                                              \
    X(ARCHIVE_INVALID, "InvalidParameter.Archive", 422, "the archive is invalid")                  \
    X(ARCHIVE_LIMIT, "LimitExceeded.Archive", 413, "the archive is over a limit")                  \
    X(INTERNAL, "InternalError", 500, "internal error")

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
