/* Root accounts: sign-up and login with email + password, and lookups.
 *
 * An account has a 12-digit account ID (账号 ID, the UIN), drawn at random
 * from [100000000000, 999999999999] so that IDs say nothing about how many
 * accounts exist, and a 10-digit AppId drawn the same way. Passwords are
 * hashed with argon2id. */
#ifndef BINDERY_ACCOUNT_ACCOUNT_H
#define BINDERY_ACCOUNT_ACCOUNT_H

#include <stdint.h>

#include "app.h"
#include "core/err.h"
#include "store/store.h"

#define ACCOUNT_EMAIL_MAX 254
#define ACCOUNT_PASSWORD_MIN 10   /* characters */
#define ACCOUNT_PASSWORD_MAX 1024 /* bytes: bounds hashing work */
#define ACCOUNT_UIN_MIN 100000000000ull
#define ACCOUNT_UIN_MAX 999999999999ull
#define ACCOUNT_APPID_MIN 1250000000ull
#define ACCOUNT_APPID_MAX 1999999999ull

struct account {
    uint64_t uin;
    uint64_t app_id;
    char email[ACCOUNT_EMAIL_MAX + 1]; /* "" for accounts registered through WeChat */
    char registered_via[16];           /* "email", "wechat" */
    /* For registered_via "wechat": the WeChat app the account was registered
     * through and its type ("mp" mini program, "oa" official account);
     * "" otherwise. */
    char registered_appid[65];
    char registered_app_type[8];
    int64_t created_at;
};

/* Normalises (trims, lower-cases) and validates an email address into out
 * (size ACCOUNT_EMAIL_MAX + 1). BE_INVALID_PARAMETER_VALUE with a diag. */
int account_normalize_email(const char *email, char *out, struct be_diag *diag);
/* Checks the password rules (length >= 10 characters, <= 1024 bytes, valid
 * UTF-8, not the email). BE_PASSWORD_RULES with a diag. */
int account_check_password(const char *password, const char *email, struct be_diag *diag);

/* Creates an account and records the sign-up in the audit log.
 * BE_EMAIL_IN_USE when the email is taken. */
int account_signup(struct app *app, const struct req_meta *meta, const char *email,
                   const char *password, struct account *ret, struct be_diag *diag);
/* Checks email + password, with throttling per IP and per account.
 * BE_LOGIN_FAILED for a wrong email or password (the same answer either way),
 * BE_LOGIN_THROTTLED with the wait in diag and *ret_retry_after. Records
 * success and failure in the audit log. */
int account_login(struct app *app, const struct req_meta *meta, const char *email,
                  const char *password, struct account *ret, int64_t *ret_retry_after,
                  struct be_diag *diag);

/* BE_NOT_FOUND when no such account. */
int account_get(struct app *app, uint64_t uin, struct account *ret);

/* Inside the caller's transaction: creates an account registered through
 * the WeChat app appid (1..64 bytes) of app_type ("mp" or "oa"), with no
 * email and no password: it is reached by scanning with WeChat only. The
 * audit row is the caller's (it records the whole change). */
int account_create_wechat(struct store_conn *c, const struct req_meta *meta, const char *appid,
                          const char *app_type, struct account *ret);

/* Inside the caller's transaction: reads the account and takes a write lock
 * on its row, so that concurrent transactions that count something per
 * account (its WeChat links) serialise: one of them waits, or fails with
 * BE_CONFLICT and is re-run by store_tx. BE_NOT_FOUND when no such account. */
int account_lock(struct store_conn *c, uint64_t uin, struct account *ret);

#endif
