/* The audit log: one row per security-relevant change (sign-up, login
 * success and failure, key created/disabled/deleted, ...). Rows are written
 * inside the transaction of the change they record, so a change and its
 * audit row land together or not at all. */
#ifndef BINDERY_AUDIT_AUDIT_H
#define BINDERY_AUDIT_AUDIT_H

#include <stdint.h>

#include "app.h"
#include "store/store.h"

struct audit_entry {
    uint64_t owner_uin; /* the account the change happened in; 0 if none */
    uint64_t uin;       /* the principal who acted; 0 if unknown */
    const char *action; /* e.g. "account.signup", "cam:CreateAccessKey" */
    const char *result; /* "success" or "failure" */
    const char *detail; /* short, never a secret; may be NULL */
};

/* Appends a row inside the caller's transaction. */
int audit_record(struct store_conn *c, const struct req_meta *meta, const struct audit_entry *e);
/* Appends a row in its own transaction (for events with no other change,
 * such as a failed login). */
int audit_record_now(struct app *app, const struct req_meta *meta, const struct audit_entry *e);

#endif
