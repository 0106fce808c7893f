#include "core/err.h"

#include <stdarg.h>
#include <stdio.h>

#include "core/banned.h"

struct err_entry {
    const char *code;
    int status;
    const char *message;
};

static const struct err_entry err_table[] = {
#define BE_X_ENTRY(name, code, status, msg) {code, status, msg},
    BE_ERROR_MAP(BE_X_ENTRY)
#undef BE_X_ENTRY
};

static const struct err_entry *err_lookup(int err)
{
    if (err <= BE__BASE || err >= BE__END)
        return &err_table[BE_INTERNAL - BE__BASE - 1];
    return &err_table[err - BE__BASE - 1];
}

const char *be_err_code(int err)
{
    return err_lookup(err)->code;
}

int be_err_status(int err)
{
    return err_lookup(err)->status;
}

const char *be_err_message(int err)
{
    return err_lookup(err)->message;
}

int be_fail(struct be_diag *diag, int err, const char *fmt, ...)
{
    if (diag) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(diag->msg, sizeof(diag->msg), fmt, ap);
        va_end(ap);
    }
    return err;
}
