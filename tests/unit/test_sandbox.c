/* The sandbox (src/deploy/sandbox.c) with real child processes: what the
 * app can see and do. Every test runs a shell script inside bwrap; when
 * bwrap cannot build a sandbox on this machine the tests are skipped with
 * the reason printed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/buf.h"
#include "deploy/runlog.h"
#include "deploy/sandbox.h"
#include "core/banned.h"

#define BWRAP "/usr/bin/bwrap"

static char dir[64], release[96], data[96], secret[96];
static enum sandbox_mode mode;
static struct be_diag why;

/* Runs script with /bin/sh in the sandbox; returns its exit code and
 * stdout+stderr in out. */
static int run(enum sandbox_mode m, const char *script, struct buf *out)
{
    static const char *const env[] = {"PATH=/usr/bin:/bin", "PORT=1234", NULL};
    const char *argv[] = {"/bin/sh", "-c", script, NULL};
    char path[128];
    snprintf(path, sizeof(path), "%s/out.txt", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    struct sandbox_spec spec = {.mode = m,
                                .bwrap = BWRAP,
                                .release_dir = release,
                                .data_dir = data,
                                .argv = argv,
                                .env = env,
                                .limits = {.nofile = 64, .fsize = 1 << 20},
                                .stdout_fd = fd,
                                .stderr_fd = fd};
    pid_t pid;
    struct be_diag diag = {""};
    int rc = sandbox_spawn(&spec, &pid, &diag);
    if (rc)
        fail_msg("spawn: %s", diag.msg);
    int status = 0;
    waitpid(pid, &status, 0);
    char text[4096];
    ssize_t n = pread(fd, text, sizeof(text) - 1, 0);
    close(fd);
    buf_reset(out);
    if (n > 0)
        buf_add(out, text, (size_t)n);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static int setup(void **state)
{
    (void)state;
    if (mode != SANDBOX_BWRAP) {
        print_message("[  SKIPPED ] bwrap cannot run here: %s\n", why.msg);
        skip();
    }
    return 0;
}

static void cannot_read_host_files(void **state)
{
    (void)state;
    struct buf out = BUF_INIT;
    char script[256];
    /* The secret exists on the host (the test wrote it) but not in the
     * sandbox; /root and /home are not bound either. */
    snprintf(script, sizeof(script),
             "cat %s; test -e /root/. && echo ROOT; test -e /home && echo HOME; echo done", secret);
    int rc = run(SANDBOX_BWRAP, script, &out);
    assert_int_equal(rc, 0);
    assert_null(strstr(out.data, "host-secret"));
    assert_null(strstr(out.data, "ROOT"));
    assert_non_null(strstr(out.data, "done"));
    /* Control: the same command outside the sandbox reads it. */
    rc = run(SANDBOX_NONE, script, &out);
    assert_non_null(strstr(out.data, "host-secret"));
    buf_release(&out);
}

static void app_is_read_only_data_is_writable(void **state)
{
    (void)state;
    struct buf out = BUF_INIT;
    int rc = run(SANDBOX_BWRAP,
                 "cat /app/app.txt; echo x > /app/new.txt && echo APPWRITE; "
                 "echo kept > /data/f.txt && echo DATAWRITE; echo t > /tmp/t && echo TMPWRITE",
                 &out);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(out.data, "release-file"));
    assert_null(strstr(out.data, "APPWRITE"));
    assert_non_null(strstr(out.data, "DATAWRITE"));
    assert_non_null(strstr(out.data, "TMPWRITE"));
    char path[160];
    snprintf(path, sizeof(path), "%s/new.txt", release);
    assert_int_not_equal(access(path, F_OK), 0);
    snprintf(path, sizeof(path), "%s/f.txt", data);
    assert_int_equal(access(path, F_OK), 0);
    buf_release(&out);
}

static void sees_only_its_own_processes(void **state)
{
    (void)state;
    struct buf out = BUF_INIT;
    int rc = run(SANDBOX_BWRAP, "ls /proc | grep -c '^[0-9]'", &out);
    assert_int_equal(rc, 0);
    /* bwrap's init, sh, ls, grep: a handful, never the host's. */
    long n = strtol(out.data, NULL, 10);
    print_message("processes visible in the sandbox: %ld\n", n);
    assert_true(n >= 1 && n <= 6);
    buf_release(&out);
}

static void limits_and_filter_apply(void **state)
{
    (void)state;
    struct buf out = BUF_INIT;
    int rc = run(SANDBOX_BWRAP,
                 "echo nofile=$(ulimit -n); echo core=$(ulimit -c); "
                 "unshare -U true 2>/dev/null && echo UNSHARED; "
                 "head -c 2000000 /dev/zero > /tmp/big 2>/dev/null; echo size=$(wc -c < /tmp/big); "
                 "env | sort | tr '\\n' ' '",
                 &out);
    (void)rc;
    print_message("%s\n", out.data);
    assert_non_null(strstr(out.data, "nofile=64"));
    assert_non_null(strstr(out.data, "core=0"));
    assert_null(strstr(out.data, "UNSHARED"));
    /* RLIMIT_FSIZE (1 MiB) stops the write. */
    assert_non_null(strstr(out.data, "size=1048576"));
    /* The server's environment does not leak in. */
    assert_non_null(strstr(out.data, "PORT=1234"));
    assert_null(strstr(out.data, "HOME=/root"));
    buf_release(&out);
}

static void selftest_reports_missing_bwrap(void **state)
{
    (void)state;
    struct be_diag d = {""};
    assert_int_equal(sandbox_selftest("/nonexistent/bwrap", &d), SANDBOX_NONE);
    assert_non_null(strstr(d.msg, "not installed"));
}

static void runlog_cursor_rotation_and_wait(void **state)
{
    (void)state;
    char logdir[128];
    snprintf(logdir, sizeof(logdir), "%s/logs", dir);
    struct runlog *log;
    struct runlog_options o = {2048, 3};
    assert_int_equal(runlog_open(logdir, &o, &log, NULL), 0);
    for (int i = 0; i < 10; i++) {
        char line[64];
        int n = snprintf(line, sizeof(line), "line %d", i);
        runlog_append(log, "stdout", 7, 1, line, (size_t)n);
    }
    struct runlog_page p;
    assert_int_equal(runlog_read(log, 0, 4, 0, &p, NULL), 0);
    assert_int_equal(json_array_size(p.lines), 4);
    assert_non_null(
        strstr(json_string_value(json_array_get(p.lines, 3)), "stdout pid=7 v=1 line 3"));
    uint64_t cur = p.next;
    json_decref(p.lines);
    assert_int_equal(runlog_read(log, cur, 100, 0, &p, NULL), 0);
    assert_int_equal(json_array_size(p.lines), 6);
    assert_non_null(strstr(json_string_value(json_array_get(p.lines, 0)), "line 4"));
    cur = p.next;
    json_decref(p.lines);
    /* Nothing new: the wait times out empty. */
    assert_int_equal(runlog_read(log, cur, 100, 100, &p, NULL), 0);
    assert_int_equal(json_array_size(p.lines), 0);
    json_decref(p.lines);
    /* Beyond the end is an error. */
    struct be_diag d = {""};
    assert_int_equal(runlog_read(log, cur + 1, 10, 0, &p, &d), BE_INVALID_PARAMETER_VALUE);
    /* Rotation: 200 more lines (~ 9 KB) leave 3 segments; an old cursor
     * says it lost lines. */
    for (int i = 0; i < 200; i++)
        runlog_append(log, "stderr", 7, 2, "xxxxxxxxxxxxxxxxxxxx", 20);
    assert_int_equal(runlog_read(log, 0, 5, 0, &p, NULL), 0);
    assert_true(p.truncated);
    assert_int_equal(json_array_size(p.lines), 5);
    json_decref(p.lines);
    uint64_t end = runlog_end(log);
    runlog_free(log);
    /* Reopened: the end is found again. */
    assert_int_equal(runlog_open(logdir, &o, &log, NULL), 0);
    assert_int_equal(runlog_end(log), end);
    runlog_free(log);
}

int main(void)
{
    snprintf(dir, sizeof(dir), "/tmp/bindery-sandbox-XXXXXX");
    if (!mkdtemp(dir))
        return 1;
    snprintf(release, sizeof(release), "%s/release", dir);
    snprintf(data, sizeof(data), "%s/data", dir);
    snprintf(secret, sizeof(secret), "%s/secret.txt", dir);
    mkdir(release, 0755);
    mkdir(data, 0755);
    FILE *f = fopen(secret, "w");
    fputs("host-secret\n", f);
    fclose(f);
    char p[160];
    snprintf(p, sizeof(p), "%s/app.txt", release);
    f = fopen(p, "w");
    fputs("release-file\n", f);
    fclose(f);
    mode = sandbox_selftest(BWRAP, &why);
    print_message("sandbox self-test: %s %s\n", sandbox_mode_name(mode), why.msg);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(cannot_read_host_files, setup),
        cmocka_unit_test_setup(app_is_read_only_data_is_writable, setup),
        cmocka_unit_test_setup(sees_only_its_own_processes, setup),
        cmocka_unit_test_setup(limits_and_filter_apply, setup),
        cmocka_unit_test(selftest_reports_missing_bwrap),
        cmocka_unit_test(runlog_cursor_rotation_and_wait),
    };
    int failed = cmocka_run_group_tests_name("sandbox", tests, NULL, NULL);
    char cmd[96];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd))
        failed++;
    return failed ? 1 : 0;
}
