/* Who may hold a console session, besides a root account in itself: a
 * sub-user signing in with its owner's account ID, its name and its password
 * (spec cam-and-api §1.8), and a root account that has switched into an
 * account it collaborates on (切换开发商, §1.3). The session itself is the
 * account module's (account/session.h); this module decides which principal
 * a session may carry, and whether a session's principal still may.
 *
 * A non-root principal is only as good as its membership: a sub-user that
 * was deleted or lost console login, a collaborator that was removed, ends
 * every console session it holds at the next request (cam_console_check). */
#ifndef BINDERY_CAM_CONSOLE_H
#define BINDERY_CAM_CONSOLE_H

#include <stdint.h>

#include "app.h"
#include "cam/directory.h"
#include "cam/principal.h"
#include "core/err.h"

/* Console login of the sub-user `name` of the account owner_uin. Throttled
 * like root logins, in the store so that every instance shares the
 * counters: per (owner, name) and per client address. Errors:
 * BE_USER_NAME_ILLEGAL (the name breaks the naming rules),
 * BE_MISSING_PARAMETER (no password), BE_LOGIN_FAILED (no such sub-user,
 * console login not allowed, or a wrong password: one answer for all, at the
 * same argon2 cost), BE_LOGIN_THROTTLED with *ret_retry_after seconds. Every
 * attempt is audited ("cam.console_login"). On success *ret_who is the
 * sub-user's principal and *ret_user the user. */
int cam_console_login(struct app *app, const struct req_meta *meta, uint64_t owner_uin,
                      const char *name, const char *password, struct principal *ret_who,
                      struct cam_user *ret_user, int64_t *ret_retry_after, struct be_diag *diag);

/* The principal a session of `cur` becomes by switching developer to
 * owner_uin: 0 or cur's own UIN is back to the root account itself; any
 * other account must have admitted cur's root account as a collaborator
 * with console login. Only a root account (switched or not) can switch: a
 * sub-user gets BE_UNAUTHORIZED. An account that does not have cur as a
 * collaborator (or does not exist) is BE_USER_NOT_EXIST, one answer for
 * both. *ret_user (may be NULL) gets the membership when switching into
 * another account. */
int cam_console_switch_target(struct app *app, const struct principal *cur, uint64_t owner_uin,
                              struct principal *ret_who, struct cam_user *ret_user,
                              struct be_diag *diag);

/* Whether a session's principal may still use the console: always for a
 * root in itself; for a sub-user while it exists with console login; for a
 * collaborator while the owner still has it. BE_SESSION_INVALID (with a
 * diag) when not. *ret_user (may be NULL) gets the user for non-root
 * principals. */
int cam_console_check(struct app *app, const struct principal *who, struct cam_user *ret_user,
                      struct be_diag *diag);

#endif
