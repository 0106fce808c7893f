/* The CLI's side of an upload (docs/devtools.md "Upload", docs/environments.md
 * "Uploads"): walk a directory into a manifest (regular files only, SHA-256
 * of each), ask the server which blobs it lacks (CreateUpload), PUT only
 * those to their pre-signed URLs a few at a time (libcurl multi, files
 * streamed from disk), and commit the version (CommitUpload).
 *
 *     struct cli_upload_options o = {.dir = ".", .env_id = "dev-abc123"};
 *     struct cli_upload_result r;
 *     if (cli_upload(client, &o, &r, &diag)) ...    // diag names the file or the API error
 *     printf("version %llu\n", (unsigned long long)r.version);
 *
 * Not thread-safe; one upload at a time per client. */
#ifndef BINDERY_CLI_UPLOAD_H
#define BINDERY_CLI_UPLOAD_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cli/client.h"
#include "core/err.h"

#define CLI_UPLOAD_MAX_FILES   200000u /* a walk past this many files stops with an error */
#define CLI_UPLOAD_MAX_DEPTH   64u     /* directory nesting */
#define CLI_UPLOAD_PARALLEL    4u      /* blob PUTs in flight at once */
#define CLI_UPLOAD_IGNORE_FILE ".binderyignore"
#define CLI_UPLOAD_IGNORE_MAX  1000u /* patterns read from it */
#define CLI_UPLOAD_RUNTIME_MAX 16u
#define CLI_UPLOAD_ENTRY_MAX   1024u

struct cli_file {
    char *path;      /* relative to the tree's root, '/'-separated (owned) */
    char sha256[65]; /* lower-case hex */
    uint64_t size;
    unsigned mode; /* permission bits (0777 mask) */
};

struct cli_tree {
    char *root;             /* the directory walked (owned) */
    struct cli_file *files; /* sorted by path (bytewise) */
    size_t n;
    uint64_t bytes; /* sum of the sizes */
    size_t ignored; /* entries left out by .git or .binderyignore */
};

/* Walks dir without following symbolic links: every regular file goes into
 * the tree with its SHA-256. A directory named `.git` (anywhere) and
 * whatever `.binderyignore` at the root lists are skipped (one pattern per
 * line, `#` comments; a pattern without '/' matches any file or directory
 * name, one with '/' matches the path from the root (fnmatch, FNM_PATHNAME);
 * a trailing '/' matches directories only). Anything else that is not a
 * regular file or directory (symbolic link, device, FIFO, socket) is an
 * error naming it (BE_INVALID_PARAMETER), as are an unreadable entry, a
 * file that changes size while it is hashed, more than CLI_UPLOAD_MAX_FILES
 * files, nesting deeper than CLI_UPLOAD_MAX_DEPTH and an empty tree. On
 * success *ret is filled (release with cli_tree_release); on error it is
 * left untouched. */
int cli_tree_scan(const char *dir, struct cli_tree *ret, struct be_diag *diag);

void cli_tree_release(struct cli_tree *t);

/* The tree as CreateUpload's Files: [{Path, Sha256, Size, Mode}] (new
 * reference). */
json_t *cli_tree_manifest(const struct cli_tree *t);

/* The file at a relative path, or NULL (binary search; borrowed). */
const struct cli_file *cli_tree_find(const struct cli_tree *t, const char *path);

/* One blob to send: the pre-signed URL and the local file holding its
 * bytes (both borrowed). */
struct cli_blob_put {
    const char *url;
    const char *file;
    uint64_t size;
};

/* Called after each finished PUT with the totals so far. */
typedef void (*cli_put_progress_fn)(void *arg, size_t done, uint64_t bytes_done);

/* PUTs the n blobs, at most `parallel` at once (1..16), each file streamed
 * from disk with its Content-Length. Stops starting new ones at the first
 * failure and returns it (BE_UPSTREAM when the server cannot be reached,
 * BE_FAILED with the HTTP status and the server's message otherwise,
 * BE_INVALID_PARAMETER when a file cannot be opened); diag names the file.
 * progress may be NULL. */
int cli_put_blobs(const struct cli_blob_put *puts, size_t n, unsigned parallel,
                  cli_put_progress_fn progress, void *arg, struct be_diag *diag);

struct cli_upload_options {
    const char *dir;         /* the tree to upload */
    const char *env_id;      /* the environment */
    const char *runtime;     /* nodejs | python3 | exec; NULL: see cli_upload */
    const char *entry;       /* NULL: see cli_upload */
    const char *description; /* NULL: none */
    bool progress;           /* a progress line on stderr (for a terminal) */
};

struct cli_upload_result {
    char env_id[64];
    uint64_t version;
    char upload_id[64];
    char manifest_hash[65];
    char runtime[CLI_UPLOAD_RUNTIME_MAX + 1];
    char entry[CLI_UPLOAD_ENTRY_MAX + 1];
    size_t files;      /* in the version */
    uint64_t bytes;    /* of the version */
    size_t sent_blobs; /* blobs PUT (distinct contents the server lacked) */
    uint64_t sent_bytes;
    size_t skipped_files; /* files whose content the server already had */
    size_t ignored;       /* entries skipped by .git / .binderyignore */
};

/* Scans o->dir, CreateUpload, PUTs the missing blobs, CommitUpload. The
 * runtime and entry, when not given, are the newest version's of the
 * environment (when the runtime matches), else guessed from the tree:
 * nodejs for package.json's "main" or index.js, server.js, app.js,
 * main.js; python3 for main.py, app.py, server.py (BE_INVALID_PARAMETER
 * "pass --runtime and --entry" when nothing fits). *ret is written on
 * success only. API errors come back as cli_call reports them. */
int cli_upload(struct cli_client *c, const struct cli_upload_options *o,
               struct cli_upload_result *ret, struct be_diag *diag);

#endif
