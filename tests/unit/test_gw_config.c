/*
 * test_gw_config.c — hcp-gateway's settings (gw_config_parse, gw.h):
 * defaults, every flag, a config file (flags win), --help, and each
 * refusal: a missing --data, bad listen URLs, tcp:// without --insecure,
 * TLS without its files, a bad --listen-http, an out-of-range
 * --map-max-mib, unknown keys and sections, a missing file, a bad
 * --divisions file.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "gw.h"

#define ARGS_MAX 32

/* Parse the NULL-terminated flags (argv[0] added) into cfg; the result,
 * with the message in err. */
static int parse(gw_config *cfg, char *err, size_t errlen, ...)
{
    char *argv[ARGS_MAX] = {"hcp-gateway"};
    int argc = 1;
    va_list ap;
    va_start(ap, errlen);
    for (char *a = va_arg(ap, char *); a != NULL && argc < ARGS_MAX - 1; a = va_arg(ap, char *))
        argv[argc++] = a;
    va_end(ap);
    err[0] = '\0';
    return gw_config_parse(cfg, argc, argv, err, errlen);
}

/* A temporary file holding text; its path in path (64 bytes). */
static void temp_file(char path[64], const char *text)
{
    snprintf(path, 64, "/tmp/hcp-test-gwcfg-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
}

static gw_config cfg; /* large (paths): not on the stack */

static void t_defaults(void **state)
{
    (void)state;
    char err[512];
    assert_int_equal(parse(&cfg, err, sizeof(err), "--data", "/tmp/gw", "--listen",
                           "tcp://127.0.0.1:8700", "--insecure", NULL),
                     HCPD_CONF_OK);
    assert_string_equal(cfg.data, "/tmp/gw");
    assert_string_equal(cfg.listen, "tcp://127.0.0.1:8700");
    assert_string_equal(cfg.listen_http, "0.0.0.0:8080");
    assert_true(cfg.insecure);
    assert_int_equal(cfg.map_max_mib, HCPD_MAP_MAX_MIB_DEFAULT);
    assert_string_equal(cfg.tls_cert, "");
    assert_string_equal(cfg.calendar, "");
}

static void t_every_flag(void **state)
{
    (void)state;
    char err[512];
    assert_int_equal(parse(&cfg, err, sizeof(err), "--data", "/d", "--listen",
                           "tls+tcp://0.0.0.0:9700", "--listen-http", "127.0.0.1:9080",
                           "--tls-cert", "/c.pem", "--tls-key", "/k.pem", "--tls-ca", "/ca.pem",
                           "--tls-crl", "/crl.pem", "--admin-token-file", "/t", "--calendar",
                           "/cal", "--seal-key-file", "/s", "--map-max-mib=64", NULL),
                     HCPD_CONF_OK);
    assert_string_equal(cfg.listen, "tls+tcp://0.0.0.0:9700");
    assert_string_equal(cfg.listen_http, "127.0.0.1:9080");
    assert_string_equal(cfg.tls_cert, "/c.pem");
    assert_string_equal(cfg.tls_key, "/k.pem");
    assert_string_equal(cfg.tls_ca, "/ca.pem");
    assert_string_equal(cfg.tls_crl, "/crl.pem");
    assert_string_equal(cfg.admin_token_file, "/t");
    assert_string_equal(cfg.calendar, "/cal");
    assert_string_equal(cfg.seal_key_file, "/s");
    assert_int_equal(cfg.map_max_mib, 64);
    assert_false(cfg.insecure);
}

static void t_help(void **state)
{
    (void)state;
    char err[512];
    assert_int_equal(parse(&cfg, err, sizeof(err), "--help", NULL), HCPD_CONF_HELP);
}

/* One refusal; the message must mention what. */
static void refused(const char *what, ...)
{
    char *argv[ARGS_MAX] = {"hcp-gateway"};
    int argc = 1;
    va_list ap;
    va_start(ap, what);
    for (char *a = va_arg(ap, char *); a != NULL && argc < ARGS_MAX - 1; a = va_arg(ap, char *))
        argv[argc++] = a;
    va_end(ap);
    char err[512] = "";
    assert_int_equal(gw_config_parse(&cfg, argc, argv, err, sizeof(err)), HCPD_CONF_ERROR);
    if (strstr(err, what) == NULL)
        fail_msg("expected \"%s\" in \"%s\"", what, err);
}

static void t_bad_flags(void **state)
{
    (void)state;
    refused("--data", "--insecure", NULL);
    refused("--listen", "--data", "/d", "--listen", "http://x:1", NULL);
    refused("HOST:PORT", "--data", "/d", "--listen", "tcp://nohost", "--insecure", NULL);
    refused("--insecure", "--data", "/d", "--listen", "tcp://127.0.0.1:1", NULL);
    refused("--tls-cert", "--data", "/d", NULL); /* the default listen is TLS */
    refused("--listen-http", "--data", "/d", "--listen", "tcp://127.0.0.1:1", "--insecure",
            "--listen-http", "8080", NULL);
    refused("map-max-mib", "--data", "/d", "--map-max-mib", "1", NULL);
    refused("bogus", "--data", "/d", "--bogus", "1", NULL);
    refused("--divisions", "--data", "/d", "--divisions", "/nonexistent/divisions.tsv", NULL);
    char err[4];
    char *argv[] = {"hcp-gateway", NULL};
    assert_int_equal(gw_config_parse(NULL, 1, argv, err, sizeof(err)), HCPD_CONF_ERROR);
    assert_int_equal(gw_config_parse(&cfg, 0, argv, err, sizeof(err)), HCPD_CONF_ERROR);
}

static void t_config_file(void **state)
{
    (void)state;
    char path[64], err[512];
    temp_file(path, "# the gateway\n[gateway]\ndata = /from-file\nlisten = tcp://127.0.0.1:8701\n"
                    "insecure = true\nlisten-http = \"127.0.0.1:8081\"\n");
    assert_int_equal(parse(&cfg, err, sizeof(err), "--config", path, NULL), HCPD_CONF_OK);
    assert_string_equal(cfg.data, "/from-file");
    assert_string_equal(cfg.listen, "tcp://127.0.0.1:8701");
    assert_string_equal(cfg.listen_http, "127.0.0.1:8081");
    assert_true(cfg.insecure);
    /* flags win over the file */
    assert_int_equal(parse(&cfg, err, sizeof(err), "--config", path, "--data", "/flag", NULL),
                     HCPD_CONF_OK);
    assert_string_equal(cfg.data, "/flag");
    unlink(path);
}

static void t_config_file_bad(void **state)
{
    (void)state;
    char path[64];
    temp_file(path, "[gateway]\ndata = /d\nnot-a-key = 1\n");
    refused("unknown key", "--config", path, NULL);
    unlink(path);
    temp_file(path, "[node]\ndata = /d\n");
    refused("node", "--config", path, NULL);
    unlink(path);
    temp_file(path, "[gateway]\ndata = /d\nlisten = tcp://127.0.0.1:1\n");
    refused("--insecure", "--config", path, NULL); /* checked like flags */
    unlink(path);
    refused("/nonexistent/gw.conf", "--config", "/nonexistent/gw.conf", NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_defaults),    cmocka_unit_test(t_every_flag),
        cmocka_unit_test(t_help),        cmocka_unit_test(t_bad_flags),
        cmocka_unit_test(t_config_file), cmocka_unit_test(t_config_file_bad),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
