/* core/: buffers, arena, parsers, configuration, crypto, keyring. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/config.h"
#include "core/crypto.h"
#include "core/err.h"
#include "core/keyring.h"
#include "core/parse.h"
#include "core/timeutil.h"
#include "testutil.h"

static void test_buf(void **state)
{
    (void)state;
    struct buf b = BUF_INIT;
    assert_string_equal(b.data, "");
    buf_addf(&b, "%d-%s", 42, "x");
    buf_adds(&b, "yz");
    buf_addch(&b, '!');
    assert_string_equal(b.data, "42-xyz!");
    assert_int_equal(b.len, 7);
    for (int i = 0; i < 1000; i++)
        buf_adds(&b, "0123456789");
    assert_int_equal(b.len, 10007);
    buf_reset(&b);
    buf_addhex(&b, "\x01\xab", 2);
    assert_string_equal(b.data, "01ab");
    size_t len;
    char *p = buf_detach(&b, &len);
    assert_int_equal(len, 4);
    assert_string_equal(b.data, "");
    free(p);
    buf_release(&b);
}

static void test_arena(void **state)
{
    (void)state;
    struct arena a = ARENA_INIT;
    char *s = arena_strdup(&a, "hello");
    void *big = arena_alloc(&a, 100000);
    memset(big, 1, 100000);
    int *z = arena_calloc(&a, 10, sizeof(int));
    assert_string_equal(s, "hello");
    for (int i = 0; i < 10; i++)
        assert_int_equal(z[i], 0);
    assert_int_equal((uintptr_t)z % _Alignof(max_align_t), 0);
    arena_release(&a);
    assert_null(a.head);
}

static void test_parse(void **state)
{
    (void)state;
    uint64_t u = 7;
    int64_t i = 7;
    bool b;
    assert_int_equal(parse_u64("18446744073709551615", UINT64_MAX, &u), 0);
    assert_true(u == UINT64_MAX);
    assert_int_equal(parse_u64("18446744073709551616", UINT64_MAX, &u), BE_INVALID_PARAMETER);
    assert_int_equal(parse_u64("12", 11, &u), BE_INVALID_PARAMETER);
    assert_int_equal(parse_u64("", 10, &u), BE_INVALID_PARAMETER);
    assert_int_equal(parse_u64("1 ", 10, &u), BE_INVALID_PARAMETER);
    assert_int_equal(parse_u64("-1", 10, &u), BE_INVALID_PARAMETER);
    assert_int_equal(parse_u64("+1", 10, &u), BE_INVALID_PARAMETER);
    assert_int_equal(parse_i64("-9223372036854775808", INT64_MIN, INT64_MAX, &i), 0);
    assert_true(i == INT64_MIN);
    assert_int_equal(parse_i64("-5", 0, 10, &i), BE_INVALID_PARAMETER);
    assert_int_equal(parse_bool("YES", &b), 0);
    assert_true(b);
    assert_int_equal(parse_bool("off", &b), 0);
    assert_false(b);
    assert_int_equal(parse_bool("maybe", &b), BE_INVALID_PARAMETER);
    char host[64];
    uint16_t port;
    assert_int_equal(parse_host_port("127.0.0.1:8080", host, sizeof(host), &port), 0);
    assert_string_equal(host, "127.0.0.1");
    assert_int_equal(port, 8080);
    assert_int_equal(parse_host_port("[::1]:0", host, sizeof(host), &port), 0);
    assert_string_equal(host, "::1");
    assert_int_equal(port, 0);
    assert_int_equal(parse_host_port("localhost", host, sizeof(host), &port), BE_INVALID_PARAMETER);
    assert_int_equal(parse_host_port(":80", host, sizeof(host), &port), BE_INVALID_PARAMETER);
    assert_int_equal(parse_host_port("h:65536", host, sizeof(host), &port), BE_INVALID_PARAMETER);
}

static void test_errors(void **state)
{
    (void)state;
    assert_string_equal(be_err_code(BE_AUTH_SIGNATURE), "AuthFailure.SignatureFailure");
    assert_int_equal(be_err_status(BE_BODY_TOO_LARGE), 413);
    assert_string_equal(be_err_code(12345), "InternalError");
    assert_string_equal(be_err_code(BE_OK), "InternalError");
    struct be_diag d;
    assert_int_equal(be_fail(&d, BE_MISSING_PARAMETER, "%s is required", "Name"),
                     BE_MISSING_PARAMETER);
    assert_string_equal(d.msg, "Name is required");
    assert_int_equal(be_fail(NULL, BE_FAILED, "x"), BE_FAILED);
}

static void test_config_sources(void **state)
{
    (void)state;
    struct config *cfg;
    char **rest;
    struct be_diag diag = {""};
    char ini[] = "/tmp/bindery-ini-XXXXXX";
    int fd = mkstemp(ini);
    assert_true(fd >= 0);
    const char *text = "listen = 127.0.0.1:9000\n[http]\nmax_body_bytes = 4096\nthreads = 3\n";
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    setenv("BINDERY_HTTP_THREADS", "5", 1);
    char *argv[] = {"serve", "--config", ini, "--http.max-body-bytes=2048", "--trailing", NULL};
    assert_int_equal(config_load(5, argv, CONFIG_SCOPE_ALL, &cfg, &rest, &diag), 0);
    assert_string_equal(cfg->listen, "127.0.0.1:9000");         /* from the file */
    assert_int_equal(cfg->http_threads, 5);                      /* env beats file */
    assert_int_equal(cfg->http_max_body_bytes, 2048);            /* flag beats all */
    assert_string_equal(cfg->public_url, "http://127.0.0.1:9000"); /* derived */
    assert_string_equal(rest[0], "--trailing");
    assert_null(rest[1]);
    free(rest);
    config_free(cfg);

    setenv("BINDERY_HTTP_THREADS", "many", 1);
    char *argv2[] = {"serve", NULL};
    assert_int_equal(config_load(1, argv2, CONFIG_SCOPE_ALL, &cfg, &rest, &diag),
                     BE_INVALID_PARAMETER);
    assert_non_null(strstr(diag.msg, "http.threads"));
    assert_non_null(strstr(diag.msg, "environment BINDERY_HTTP_THREADS"));
    unsetenv("BINDERY_HTTP_THREADS");

    FILE *f = fopen(ini, "w");
    fputs("[http]\nno_such_key = 1\n", f);
    fclose(f);
    char *argv3[] = {"serve", "--config", ini, NULL};
    assert_int_equal(config_load(3, argv3, CONFIG_SCOPE_ALL, &cfg, &rest, &diag),
                     BE_INVALID_PARAMETER);
    assert_non_null(strstr(diag.msg, "http.no_such_key"));
    char *argv4[] = {"serve", "--http.timeout", "0", NULL};
    assert_int_equal(config_load(3, argv4, CONFIG_SCOPE_ALL, &cfg, &rest, &diag),
                     BE_INVALID_PARAMETER);
    assert_non_null(strstr(diag.msg, "flag --http.timeout"));
    unlink(ini);
}

static void test_config_scopes(void **state)
{
    (void)state;
    struct config *cfg;
    char **rest;
    struct be_diag diag = {""};
    char *argv[] = {"x", NULL};
    assert_int_equal(config_load(1, argv, CONFIG_SCOPE_PLATFORM | CONFIG_SCOPE_STORE, &cfg, &rest,
                                 &diag),
                     0);
    assert_string_equal(cfg->listen, "127.0.0.1:8081");
    free(rest);
    config_free(cfg);
    assert_int_equal(config_load(1, argv, CONFIG_SCOPE_SERVE | CONFIG_SCOPE_STORE, &cfg, &rest,
                                 &diag),
                     0);
    assert_string_equal(cfg->listen, "127.0.0.1:8080");
    free(rest);
    config_free(cfg);
    /* a key of another scope is not a flag here */
    char *argv2[] = {"x", "--platform.ticket-interval", "5", NULL};
    assert_int_equal(config_load(3, argv2, CONFIG_SCOPE_SERVE, &cfg, &rest, &diag), 0);
    assert_string_equal(rest[0], "--platform.ticket-interval");
    free(rest);
    config_free(cfg);
}

static void test_seal(void **state)
{
    (void)state;
    unsigned char key[32], other[32];
    struct buf sealed = BUF_INIT, plain = BUF_INIT;
    crypto_random(key, sizeof(key));
    crypto_random(other, sizeof(other));
    crypto_seal(key, "aad", 3, "secret", 6, &sealed);
    assert_int_equal(sealed.len, 6 + CRYPTO_SEAL_OVERHEAD);
    assert_int_equal(crypto_open(key, "aad", 3, sealed.data, sealed.len, &plain), 0);
    assert_string_equal(plain.data, "secret");
    buf_reset(&plain);
    assert_int_equal(crypto_open(other, "aad", 3, sealed.data, sealed.len, &plain),
                     BE_INVALID_PARAMETER);
    assert_int_equal(crypto_open(key, "aaX", 3, sealed.data, sealed.len, &plain),
                     BE_INVALID_PARAMETER);
    sealed.data[sealed.len - 1] ^= 1;
    assert_int_equal(crypto_open(key, "aad", 3, sealed.data, sealed.len, &plain),
                     BE_INVALID_PARAMETER);
    assert_int_equal(crypto_open(key, "aad", 3, sealed.data, 5, &plain), BE_INVALID_PARAMETER);
    assert_int_equal(plain.len, 0);
    buf_release(&sealed);
    buf_release(&plain);
}

static void test_encodings(void **state)
{
    (void)state;
    struct buf b = BUF_INIT;
    crypto_base64_encode(&b, "hello!?", 7);
    assert_string_equal(b.data, "aGVsbG8hPw==");
    buf_reset(&b);
    crypto_base64url_encode(&b, "\xfb\xff", 2);
    assert_string_equal(b.data, "-_8");
    buf_reset(&b);
    assert_int_equal(crypto_base64_decode(&b, "aGVsbG8hPw", 10), 0);
    assert_string_equal(b.data, "hello!?");
    buf_reset(&b);
    assert_int_equal(crypto_base64_decode(&b, "a$==", 4), BE_INVALID_PARAMETER);
    unsigned char out[2];
    assert_int_equal(crypto_hex_decode("0aFf", out, 2), 0);
    assert_int_equal(out[0], 0x0a);
    assert_int_equal(out[1], 0xff);
    assert_int_equal(crypto_hex_decode("0g00", out, 2), BE_INVALID_PARAMETER);
    char hex[65];
    crypto_sha256_hex("abc", 3, hex);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    char uuid[37];
    crypto_uuid4(uuid);
    assert_int_equal(strlen(uuid), 36);
    assert_int_equal(uuid[14], '4');
    for (int i = 0; i < 1000; i++) {
        uint64_t v = crypto_random_range(100, 102);
        assert_true(v >= 100 && v <= 102);
    }
    assert_true(crypto_str_equal("abc", "abc"));
    assert_false(crypto_str_equal("abc", "abd"));
    assert_false(crypto_str_equal("abc", "ab"));
    buf_release(&b);
}

static void test_pwhash(void **state)
{
    (void)state;
    struct crypto_pwhash *h = crypto_pwhash_new(64, 1, 2);
    struct buf enc = BUF_INIT;
    assert_int_equal(crypto_pwhash_hash(h, "correct horse", &enc), 0);
    assert_non_null(strstr(enc.data, "$argon2id$v=19$m=64,t=1,p=1$"));
    assert_int_equal(crypto_pwhash_verify(h, enc.data, "correct horse"), 0);
    assert_int_equal(crypto_pwhash_verify(h, enc.data, "correct horsf"), BE_LOGIN_FAILED);
    assert_int_equal(crypto_pwhash_verify(h, "$argon2id$garbage", "x"), BE_INTERNAL);
    crypto_pwhash_verify_dummy(h, "anything");
    buf_release(&enc);
    crypto_pwhash_free(h);
}

static void test_keyring(void **state)
{
    (void)state;
    char dir[] = "/tmp/bindery-keyring-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char sub[128], path[160];
    snprintf(sub, sizeof(sub), "%s/data", dir);
    struct keyring a, b;
    bool created = false;
    struct be_diag diag = {""};
    assert_int_equal(keyring_load(sub, NULL, &a, &created, &diag), 0);
    assert_true(created);
    snprintf(path, sizeof(path), "%s/master.key", sub);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(keyring_load(sub, NULL, &b, &created, &diag), 0);
    assert_false(created);
    assert_memory_equal(&a, &b, sizeof(a));
    assert_memory_not_equal(a.seal, a.csrf, sizeof(a.seal));
    chmod(path, 0644);
    assert_int_not_equal(keyring_load(sub, NULL, &b, &created, &diag), 0);
    assert_non_null(strstr(diag.msg, "chmod 600"));
    test_rmdir(dir);
}

static void test_time(void **state)
{
    (void)state;
    char cam[20], date[11], iso[21];
    time_fmt_cam(1551113065, cam);
    time_fmt_date(1551113065, date);
    time_fmt_iso(1551113065, iso);
    assert_string_equal(cam, "2019-02-25 16:44:25");
    assert_string_equal(date, "2019-02-25");
    assert_string_equal(iso, "2019-02-25T16:44:25Z");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_buf),       cmocka_unit_test(test_arena),
        cmocka_unit_test(test_parse),     cmocka_unit_test(test_errors),
        cmocka_unit_test(test_config_sources), cmocka_unit_test(test_config_scopes),
        cmocka_unit_test(test_seal),
        cmocka_unit_test(test_encodings), cmocka_unit_test(test_pwhash),
        cmocka_unit_test(test_keyring),   cmocka_unit_test(test_time),
    };
    return cmocka_run_group_tests_name("core", tests, NULL, NULL);
}
