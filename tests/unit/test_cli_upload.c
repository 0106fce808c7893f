/* Unit tests of cli/upload's tree walk (no server): what goes into the
 * manifest (regular files, sorted, SHA-256, permission bits), what is
 * skipped (.git, .binderyignore patterns), what is refused by name
 * (symbolic links, FIFOs, empty trees), and the option parser of cli/verb. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/upload.h"
#include "cli/verb.h"
#include "core/buf.h"
#include "core/crypto.h"
#include "core/banned.h"

static char root[64];

static void put(const char *rel, const char *content, mode_t mode)
{
    char p[512];
    snprintf(p, sizeof(p), "%s/%s", root, rel);
    for (char *s = strchr(p + strlen(root) + 1, '/'); s; s = strchr(s + 1, '/')) {
        *s = '\0';
        mkdir(p, 0755);
        *s = '/';
    }
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, mode);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, content, strlen(content)), (ssize_t)strlen(content));
    close(fd);
    chmod(p, mode);
}

static int rm_entry(const char *p, const struct stat *st, int type, struct FTW *f)
{
    (void)st, (void)type, (void)f;
    return remove(p);
}

static int setup(void **state)
{
    (void)state;
    snprintf(root, sizeof(root), "/tmp/bindery-cli-upload-XXXXXX");
    assert_non_null(mkdtemp(root));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    nftw(root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}

static void test_scan_regular_files_sorted_hashed(void **state)
{
    (void)state;
    put("server.js", "console.log(1)\n", 0644);
    put("b/z.txt", "z", 0600);
    put("a.txt", "", 0755);
    put("b/a.txt", "same", 0644);
    put("c/d/e.txt", "same", 0644);
    struct cli_tree t;
    struct be_diag diag = {""};
    assert_int_equal(cli_tree_scan(root, &t, &diag), BE_OK);
    assert_int_equal(t.n, 5);
    const char *want[] = {"a.txt", "b/a.txt", "b/z.txt", "c/d/e.txt", "server.js"};
    for (size_t i = 0; i < 5; i++)
        assert_string_equal(t.files[i].path, want[i]);
    char hex[65];
    crypto_sha256_hex("same", 4, hex);
    assert_string_equal(t.files[1].sha256, hex);
    assert_string_equal(t.files[3].sha256, hex);
    crypto_sha256_hex("", 0, hex);
    assert_string_equal(t.files[0].sha256, hex);
    assert_int_equal(t.files[0].mode, 0755);
    assert_int_equal(t.files[2].mode, 0600);
    assert_int_equal(t.bytes, 15 + 1 + 0 + 4 + 4);
    assert_non_null(cli_tree_find(&t, "c/d/e.txt"));
    assert_null(cli_tree_find(&t, "c/d"));
    json_t *m = cli_tree_manifest(&t);
    assert_int_equal(json_array_size(m), 5);
    json_t *f = json_array_get(m, 4);
    assert_string_equal(json_string_value(json_object_get(f, "Path")), "server.js");
    assert_int_equal(json_integer_value(json_object_get(f, "Size")), 15);
    assert_int_equal(json_integer_value(json_object_get(f, "Mode")), 0644);
    json_decref(m);
    cli_tree_release(&t);
}

static void test_scan_ignores_git_and_patterns(void **state)
{
    (void)state;
    put("app.js", "x", 0644);
    put(".git/HEAD", "ref", 0644);
    put("sub/.git/config", "x", 0644);
    put("notes.log", "x", 0644);
    put("deep/a/notes.log", "x", 0644);
    put("build/out.o", "x", 0644);
    put("cfg/build", "a file named build", 0644);
    put("only/here.txt", "x", 0644);
    put("keep/only/here.txt", "x", 0644);
    put(".binderyignore", "# comment\n\n*.log\nbuild/\n/only/here.txt\n", 0644);
    struct cli_tree t;
    struct be_diag diag = {""};
    assert_int_equal(cli_tree_scan(root, &t, &diag), BE_OK);
    const char *want[] = {".binderyignore", "app.js", "cfg/build", "keep/only/here.txt"};
    assert_int_equal(t.n, 4);
    for (size_t i = 0; i < 4; i++)
        assert_string_equal(t.files[i].path, want[i]);
    /* .git twice, two logs, build/, only/here.txt */
    assert_int_equal(t.ignored, 6);
    cli_tree_release(&t);
}

static void test_scan_refuses_by_name(void **state)
{
    (void)state;
    struct cli_tree t;
    struct be_diag diag = {""};
    assert_int_equal(cli_tree_scan(root, &t, &diag), BE_INVALID_PARAMETER);
    assert_non_null(strstr(diag.msg, "has no file to upload"));
    put("app.js", "x", 0644);
    char p[512];
    snprintf(p, sizeof(p), "%s/lib", root);
    mkdir(p, 0755);
    snprintf(p, sizeof(p), "%s/lib/link", root);
    assert_int_equal(symlink("/etc/passwd", p), 0);
    assert_int_equal(cli_tree_scan(root, &t, &diag), BE_INVALID_PARAMETER);
    assert_non_null(strstr(diag.msg, "lib/link is a symbolic link"));
    unlink(p);
    snprintf(p, sizeof(p), "%s/fifo", root);
    assert_int_equal(mkfifo(p, 0644), 0);
    assert_int_equal(cli_tree_scan(root, &t, &diag), BE_INVALID_PARAMETER);
    assert_non_null(strstr(diag.msg, "fifo is a FIFO"));
    put(".binderyignore", "fifo\n", 0644);
    assert_int_equal(cli_tree_scan(root, &t, &diag), BE_OK);
    assert_int_equal(t.n, 2);
    cli_tree_release(&t);
    snprintf(p, sizeof(p), "%s/app.js", root);
    assert_int_equal(cli_tree_scan(p, &t, &diag), BE_INVALID_PARAMETER);
    assert_non_null(strstr(diag.msg, "is not a directory"));
}

static void test_opts_parse(void **state)
{
    (void)state;
    struct cli_opt opts[] = {
        {"--env", true, NULL, false}, {"--json", false, NULL, false}, {NULL, false, NULL, false}};
    const char *pos[1];
    size_t npos = 9;
    int exit_code = -5;
    char *ok[] = {"upload", "dir", "--env=dev-abc", "--json"};
    assert_int_equal(cli_opts_parse(4, ok, "upload", opts, pos, 1, &npos, "u", &exit_code), 0);
    assert_int_equal(npos, 1);
    assert_string_equal(pos[0], "dir");
    assert_string_equal(cli_opt(opts, "--env"), "dev-abc");
    assert_true(cli_opt_seen(opts, "--json"));
    const char *cases[][4] = {
        {"upload", "--env", NULL, NULL},    /* missing value */
        {"upload", "--env", "a", "--env"},  /* twice */
        {"upload", "--nope", NULL, NULL},   /* unknown */
        {"upload", "a", "b", NULL},         /* too many arguments */
        {"upload", "--json=1", NULL, NULL}, /* a flag with a value */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct cli_opt o[] = {{"--env", true, NULL, false},
                              {"--json", false, NULL, false},
                              {NULL, false, NULL, false}};
        int argc = 0;
        while (argc < 4 && cases[i][argc])
            argc++;
        exit_code = -5;
        assert_int_equal(
            cli_opts_parse(argc, (char **)cases[i], "upload", o, pos, 1, &npos, "u", &exit_code),
            -1);
        assert_int_equal(exit_code, 2);
    }
    struct cli_opt o[] = {{"--version", true, NULL, false}, {NULL, false, NULL, false}};
    char *v[] = {"deploy", "--version", "0"};
    struct be_diag diag = {""};
    uint64_t n = 7;
    assert_int_equal(cli_opts_parse(3, v, "deploy", o, pos, 1, &npos, "u", &exit_code), 0);
    assert_int_equal(cli_opt_u64(o, "--version", 100, &n, &diag), BE_INVALID_PARAMETER);
    assert_non_null(strstr(diag.msg, "--version wants a number from 1 to 100"));
    assert_int_equal(n, 7);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_scan_regular_files_sorted_hashed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scan_ignores_git_and_patterns, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scan_refuses_by_name, setup, teardown),
        cmocka_unit_test(test_opts_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
