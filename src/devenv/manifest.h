/* An upload's manifest: the complete file list of one version of an
 * environment, {path, sha256, size, mode} per file. Because it lists the
 * whole tree, a file absent from it is absent from the version (no
 * merge-only uploads). Validation (docs/environments.md, spec devtools
 * §6.4 and §6.12), each rule a clear error naming the file:
 *
 *   - paths are relative UTF-8, '/'-separated, at most MANIFEST_PATH_MAX
 *     bytes, each component at most MANIFEST_COMPONENT_MAX bytes; no leading
 *     or trailing '/', no empty, "." or ".." component, no NUL, control
 *     character, DEL or backslash;
 *   - no duplicate path, and no path that is both a file and a directory
 *     ("a" and "a/b");
 *   - sha256 is 64 hex digits (stored lowercase); size an integer from 0 to
 *     limits.max_file_bytes; mode the permission bits (0..0777), optionally
 *     with the regular-file type bits (0100000): symlinks, devices and
 *     directories are refused;
 *   - at most limits.max_files files and limits.max_total_bytes in all.
 *
 * Errors: BE_MANIFEST_INVALID for a malformed entry, BE_MANIFEST_LIMIT for a
 * limit, with a diag naming the entry (by index and path). Pure functions:
 * no store, no files. */
#ifndef BINDERY_DEVENV_MANIFEST_H
#define BINDERY_DEVENV_MANIFEST_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define MANIFEST_PATH_MAX      1024
#define MANIFEST_COMPONENT_MAX 255
#define MANIFEST_SHA256_HEX    64

struct manifest_file {
    char *path; /* owned by the manifest */
    char sha256[MANIFEST_SHA256_HEX + 1];
    uint64_t size;
    uint32_t mode; /* permission bits only (0..0777) */
};

struct manifest_limits {
    uint64_t max_files;
    uint64_t max_file_bytes;
    uint64_t max_total_bytes;
};

/* Files sorted by path (byte order); hash is the SHA-256 (hex) of the
 * canonical listing "path\0sha256\0size\0mode\n" over the sorted files, so
 * it does not depend on the order the client sent. */
struct manifest {
    struct manifest_file *files;
    size_t n;
    uint64_t bytes;
    char hash[MANIFEST_SHA256_HEX + 1];
};

/* Validates files (a JSON array of {"Path","Sha256","Size","Mode"}; Mode may
 * be absent: 0644) against lim and fills *ret (release with
 * manifest_release). An empty array is valid here (the caller decides). */
int manifest_from_json(const json_t *files, const struct manifest_limits *lim, struct manifest *ret,
                       struct be_diag *diag);
void manifest_release(struct manifest *m);

/* Checks one path (len bytes, may hold a NUL) against the path rules: 0 or
 * BE_MANIFEST_INVALID with a diag saying which rule. */
int manifest_check_path(const char *path, size_t len, struct be_diag *diag);

/* The length (1-4) of the well-formed UTF-8 character at s (len bytes
 * available), or 0 when the bytes there are not one (overlong forms,
 * surrogates and code points past U+10FFFF are not). */
size_t manifest_utf8_char(const char *s, size_t len);

/* true when s is 64 hex digits. */
bool manifest_sha256_valid(const char *s);

/* The file of path, or NULL (binary search; m must come from
 * manifest_from_json). */
const struct manifest_file *manifest_find(const struct manifest *m, const char *path);

#endif
