#include "cam/principal.h"

#include <string.h>

#include "core/err.h"
#include "core/banned.h"

static const char *const names[] = {"root", "sub_user", "collaborator"};

const char *principal_kind_name(enum principal_kind kind)
{
    return (unsigned)kind < 3 ? names[kind] : "unknown";
}

int principal_kind_parse(const char *name, enum principal_kind *ret)
{
    for (unsigned i = 0; name && i < 3; i++) {
        if (!strcmp(name, names[i])) {
            *ret = (enum principal_kind)i;
            return BE_OK;
        }
    }
    return BE_INVALID_PARAMETER;
}
