/* A principal: who is making a request, in which account. */
#ifndef BINDERY_CAM_PRINCIPAL_H
#define BINDERY_CAM_PRINCIPAL_H

#include <stdint.h>

enum principal_kind {
    PRINCIPAL_ROOT,         /* a root account acting in itself (Uin == OwnerUin) */
    PRINCIPAL_SUB_USER,     /* a sub-user of OwnerUin */
    PRINCIPAL_COLLABORATOR, /* another root account acting inside OwnerUin */
};

struct principal {
    enum principal_kind kind;
    uint64_t uin;       /* the caller's own UIN */
    uint64_t owner_uin; /* the account whose resources it acts on */
    uint64_t app_id;    /* the owner's AppId */
};

/* "root", "sub_user", "collaborator" (stored in sessions). */
const char *principal_kind_name(enum principal_kind kind);
/* 0 and *ret on a known name, BE_INVALID_PARAMETER otherwise. */
int principal_kind_parse(const char *name, enum principal_kind *ret);

#endif
