/* One-time console sign-in links (进入控制台, docs/devtools.md): a tool
 * mints a link for its principal; opening it signs the browser in as that
 * principal, in that account, at a console page from an allow-list.
 *
 * The code is 32 random bytes (base64url) and only its SHA-256 is stored,
 * with the principal, the account and the destination. It lives
 * tools.console_link_ttl seconds (60 by default) and is good once: a single
 * UPDATE ... WHERE used_at = 0 AND expires_at > now decides, so two
 * browsers racing with the same link cannot both win, on any instance.
 * Minting and every redemption (good or not) are audited. */
#ifndef BINDERY_DEVTOOLS_CONSOLELINK_H
#define BINDERY_DEVTOOLS_CONSOLELINK_H

#include <stdint.h>

#include "app.h"
#include "cam/principal.h"
#include "core/buf.h"
#include "core/err.h"

#define CONSOLE_LINK_CODE_LEN     43
#define CONSOLE_LINK_PAGE_MAX     128
#define CONSOLE_LINK_DEFAULT_PAGE "/account"

/* Whether page may be a link's destination: a path (never a URL, never
 * "//host", no query, no fragment) of [A-Za-z0-9/_.-] that is one of the
 * console's pages, or below one of its sections (docs/devtools.md lists
 * them). BE_CONSOLE_PAGE with a message naming the page otherwise. */
int console_link_check_page(const char *page, struct be_diag *diag);

/* Mints a link for who, to page (checked; NULL means the default page).
 * The code is appended to ret_code; *ret_expires_at gets its expiry. */
int console_link_create(struct app *app, const struct req_meta *meta, const struct principal *who,
                        const char *page, struct buf *ret_code, int64_t *ret_expires_at,
                        struct be_diag *diag);

/* What a link signs in as. */
struct console_link {
    struct principal who;
    char dest[CONSOLE_LINK_PAGE_MAX + 1];
    int64_t expires_at;
};

/* Reads a live (unused, unexpired) link without using it, for the page that
 * asks before switching principals. BE_CONSOLE_LINK_INVALID otherwise. */
int console_link_peek(struct app *app, const char *code, int64_t now, struct console_link *ret);

/* Uses a link: BE_OK and *ret once; BE_CONSOLE_LINK_INVALID when it is
 * unknown, used or expired, with diag saying which ("unknown", "used" or
 * "expired" as its first word) and what to do. */
int console_link_redeem(struct app *app, const struct req_meta *meta, const char *code,
                        struct console_link *ret, struct be_diag *diag);

#endif
