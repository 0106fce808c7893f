#include "cam/console.h"

#include <stdio.h>
#include <string.h>

#include "account/account.h"
#include "account/throttle.h"
#include "audit/audit.h"
#include "core/buf.h"
#include "core/crypto.h"
#include "core/banned.h"

/* The same rules as root logins (account.c): a sub-user is one person's
 * login, an address may be shared by many. */
static void rules(const struct config *cfg, struct throttle_rule *user, struct throttle_rule *ip)
{
    user->limit = cfg->login_max_failures;
    user->base_delay = cfg->login_base_delay;
    user->max_delay = cfg->login_max_delay;
    *ip = *user;
    ip->limit = cfg->login_max_failures * 4;
}

static int throttled(struct app *app, const struct req_meta *meta, const char *user_key,
                     const char *ip_key, int64_t *ret_retry_after, struct be_diag *diag)
{
    int64_t wait_user = 0, wait_ip = 0;
    int rc = throttle_check(app, user_key, meta->now, &wait_user);
    if (rc && rc != BE_LOGIN_THROTTLED)
        return rc;
    int rc_ip = throttle_check(app, ip_key, meta->now, &wait_ip);
    if (rc_ip && rc_ip != BE_LOGIN_THROTTLED)
        return rc_ip;
    if (rc == BE_OK && rc_ip == BE_OK)
        return BE_OK;
    int64_t wait = wait_user > wait_ip ? wait_user : wait_ip;
    *ret_retry_after = wait;
    return be_fail(diag, BE_LOGIN_THROTTLED, "too many failed logins; retry in %lld seconds",
                   (long long)wait);
}

int cam_console_login(struct app *app, const struct req_meta *meta, uint64_t owner_uin,
                      const char *name, const char *password, struct principal *ret_who,
                      struct cam_user *ret_user, int64_t *ret_retry_after, struct be_diag *diag)
{
    struct buf user_key = BUF_INIT, ip_key = BUF_INIT;
    struct throttle_rule user_rule, ip_rule;
    struct cam_user u;
    struct account owner;
    int rc = cam_check_user_name(name, diag);
    if (rc)
        return rc;
    if (!password || !*password)
        return be_fail(diag, BE_MISSING_PARAMETER, "Password is required");
    /* Longer than any sub-user password can be: refuse without hashing. */
    if (strlen(password) > CAM_PASSWORD_MAX)
        return be_fail(diag, BE_LOGIN_FAILED, "wrong account ID, user name or password");
    rules(app->cfg, &user_rule, &ip_rule);
    /* Names are [A-Za-z0-9+=,.@_-], so "/" cannot make two keys collide. */
    buf_addf(&user_key, "sub:%llu/%s", (unsigned long long)owner_uin, name);
    buf_addf(&ip_key, "ip:%s", meta->source_ip ? meta->source_ip : "none");
    if ((rc = throttled(app, meta, user_key.data, ip_key.data, ret_retry_after, diag)))
        goto out;
    rc = cam_user_verify_password(app, owner_uin, name, password, &u);
    /* The owner's AppId goes into the principal; an owner that vanished
     * since is a failed login like any other. */
    if (rc == BE_OK && (rc = account_get(app, owner_uin, &owner)) == BE_NOT_FOUND)
        rc = BE_LOGIN_FAILED;
    if (rc == BE_LOGIN_FAILED) {
        throttle_fail(app, user_key.data, &user_rule, meta->now);
        throttle_fail(app, ip_key.data, &ip_rule, meta->now);
        char detail[CAM_USER_NAME_MAX + 40];
        snprintf(detail, sizeof(detail), "sub-user %s", name);
        struct audit_entry e = {owner_uin, 0, "cam.console_login", "failure", detail};
        audit_record_now(app, meta, &e);
        be_fail(diag, rc, "wrong account ID, user name or password");
        goto out;
    }
    if (rc)
        goto out;
    throttle_reset(app, user_key.data);
    struct audit_entry e = {owner_uin, u.uin, "cam.console_login", "success", "password"};
    if ((rc = audit_record_now(app, meta, &e)))
        goto out;
    ret_who->kind = PRINCIPAL_SUB_USER;
    ret_who->uin = u.uin;
    ret_who->owner_uin = owner_uin;
    ret_who->app_id = owner.app_id;
    *ret_user = u;
out:
    buf_release(&user_key);
    buf_release(&ip_key);
    return rc;
}

int cam_console_switch_target(struct app *app, const struct principal *cur, uint64_t owner_uin,
                              struct principal *ret_who, struct cam_user *ret_user,
                              struct be_diag *diag)
{
    struct account acct;
    struct cam_user u;
    /* Only a person who signed in as a root account has collaborations; a
     * sub-user is a user of one account only. */
    if (cur->kind == PRINCIPAL_SUB_USER)
        return be_fail(diag, BE_UNAUTHORIZED,
                       "a sub-user cannot switch developer; sign in with the account that "
                       "collaborates on account %llu",
                       (unsigned long long)owner_uin);
    uint64_t target = owner_uin ? owner_uin : cur->uin;
    if (target != cur->uin) {
        int rc = cam_user_get_by_uin(app, target, cur->uin, &u);
        if (rc == BE_OK && (u.kind != CAM_USER_COLLABORATOR || !u.console_login))
            rc = BE_USER_NOT_EXIST;
        if (rc == BE_USER_NOT_EXIST)
            return be_fail(diag, rc, "account %llu has not admitted account %llu as a collaborator",
                           (unsigned long long)target, (unsigned long long)cur->uin);
        if (rc)
            return rc;
    }
    int rc = account_get(app, target, &acct);
    if (rc == BE_NOT_FOUND)
        return be_fail(diag, BE_USER_NOT_EXIST, "account %llu does not exist",
                       (unsigned long long)target);
    if (rc)
        return rc;
    ret_who->kind = target == cur->uin ? PRINCIPAL_ROOT : PRINCIPAL_COLLABORATOR;
    ret_who->uin = cur->uin;
    ret_who->owner_uin = target;
    ret_who->app_id = acct.app_id;
    if (ret_user && target != cur->uin)
        *ret_user = u;
    return BE_OK;
}

int cam_console_check(struct app *app, const struct principal *who, struct cam_user *ret_user,
                      struct be_diag *diag)
{
    struct cam_user u;
    if (who->kind == PRINCIPAL_ROOT && who->uin == who->owner_uin)
        return BE_OK;
    if (who->kind == PRINCIPAL_ROOT)
        return be_fail(diag, BE_SESSION_INVALID, "the session is not valid");
    int rc = cam_user_get_by_uin(app, who->owner_uin, who->uin, &u);
    bool kind_ok =
        rc == BE_OK && (who->kind == PRINCIPAL_COLLABORATOR ? u.kind == CAM_USER_COLLABORATOR
                                                            : u.kind == CAM_USER_SUB);
    if (rc == BE_USER_NOT_EXIST || (rc == BE_OK && (!kind_ok || !u.console_login)))
        return be_fail(diag, BE_SESSION_INVALID,
                       who->kind == PRINCIPAL_COLLABORATOR
                           ? "account %llu no longer has you as a collaborator; sign in again"
                           : "this sub-user of account %llu may no longer sign in to the console",
                       (unsigned long long)who->owner_uin);
    if (rc)
        return rc;
    if (ret_user)
        *ret_user = u;
    return BE_OK;
}
