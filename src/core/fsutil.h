/* Small file-system helpers shared by the modules that keep files under the
 * data directory (blob store, deploy trees, runtime logs). */
#ifndef BINDERY_CORE_FSUTIL_H
#define BINDERY_CORE_FSUTIL_H

#include <sys/types.h>

/* mkdir -p: creates path and its missing parents with mode (existing ones
 * are left as they are). 0, or -1 with errno (ENAMETOOLONG past 4095
 * bytes). */
int fs_mkdir_p(const char *path, mode_t mode);

#endif
