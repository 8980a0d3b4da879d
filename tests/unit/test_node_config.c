/* test_node_config.c — hcp-node's settings (node/config.c): flags, the
 * --config file, and every refusal that exits 2 before anything starts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "node.h"

static node_config cfg; /* large (paths): not on the stack */
static char err[1024];
static char conf_path[64];

/* Parse the NULL-terminated flags after argv[0] "hcp-node". */
static int parse(const char *first, ...)
{
    char *argv[32] = {"hcp-node"};
    int argc = 1;
    va_list ap;
    va_start(ap, first);
    for (const char *a = first; a != NULL && argc < 31; a = va_arg(ap, const char *))
        argv[argc++] = (char *)a;
    va_end(ap);
    err[0] = '\0';
    return node_config_parse(&cfg, argc, argv, err, sizeof(err));
}

/* Write text to a new temporary config file (its name in conf_path). */
static void write_conf(const char *text)
{
    snprintf(conf_path, sizeof(conf_path), "/tmp/test_node_config.XXXXXX");
    int fd = mkstemp(conf_path);
    assert_true(fd >= 0);
    size_t n = strlen(text);
    assert_int_equal(write(fd, text, n), (ssize_t)n);
    assert_int_equal(close(fd), 0);
}

/* Remove the file of write_conf. */
static int remove_conf(void **state)
{
    (void)state;
    if (conf_path[0] != '\0')
        (void)unlink(conf_path);
    conf_path[0] = '\0';
    return 0;
}

/* The two required flags and the defaults of everything else. */
static void test_minimal(void **state)
{
    (void)state;
    assert_int_equal(parse("--data", "/tmp/n1", "--county", "630102", NULL), NODE_CFG_OK);
    assert_string_equal(cfg.data, "/tmp/n1");
    assert_string_equal(cfg.county, "630102");
    assert_string_equal(cfg.listen_http, "127.0.0.1:8701");
    assert_string_equal(cfg.gateway, "");
    assert_int_equal(cfg.sweep_seconds, 60);
    assert_int_equal(cfg.map_max_mib, HCPD_MAP_MAX_MIB_DEFAULT);
    assert_false(cfg.insecure);
}

/* Every flag with a value, and --flag=value. */
static void test_all_flags(void **state)
{
    (void)state;
    assert_int_equal(parse("--data", "/tmp/n2", "--county=630121", "--listen-http", "[::1]:9000",
                           "--gateway", "tcp://127.0.0.1:8800", "--insecure", "--sweep-interval",
                           "5", "--map-max-mib", "128", "--api-token-file", "/tmp/tok", NULL),
                     NODE_CFG_OK);
    assert_string_equal(cfg.county, "630121");
    assert_string_equal(cfg.listen_http, "[::1]:9000");
    assert_string_equal(cfg.gateway, "tcp://127.0.0.1:8800");
    assert_true(cfg.insecure);
    assert_int_equal(cfg.sweep_seconds, 5);
    assert_int_equal(cfg.map_max_mib, 128);
    assert_string_equal(cfg.api_token_file, "/tmp/tok");
}

/* TLS to the gateway: the three files, and the server name from the URL. */
static void test_tls_gateway(void **state)
{
    (void)state;
    assert_int_equal(parse("--data", "/tmp/n3", "--county", "630102", "--gateway",
                           "tls+tcp://gw.example.cn:8800", "--tls-cert", "c.pem", "--tls-key",
                           "k.pem", "--tls-ca", "ca.pem", NULL),
                     NODE_CFG_OK);
    assert_string_equal(cfg.tls_server_name, "gw.example.cn");
    /* an IP needs the name given */
    assert_int_equal(parse("--data", "/tmp/n3", "--county", "630102", "--gateway",
                           "tls+tcp://10.0.0.1:8800", "--tls-cert", "c.pem", "--tls-key", "k.pem",
                           "--tls-ca", "ca.pem", NULL),
                     NODE_CFG_ERROR);
    assert_non_null(strstr(err, "--tls-server-name"));
    assert_int_equal(parse("--data", "/tmp/n3", "--county", "630102", "--gateway",
                           "tls+tcp://10.0.0.1:8800", "--tls-cert", "c.pem", "--tls-key", "k.pem",
                           "--tls-ca", "ca.pem", "--tls-server-name", "gw", NULL),
                     NODE_CFG_OK);
    assert_string_equal(cfg.tls_server_name, "gw");
}

static void test_help(void **state)
{
    (void)state;
    assert_int_equal(parse("--help", NULL), NODE_CFG_HELP);
}

/* Bad input: exit 2 with a message, never a half-filled "OK". */
static void test_refused(void **state)
{
    (void)state;
    static const char *const bad[][8] = {
        {"--county", "630102"},                                      /* no --data */
        {"--data", "/tmp/n4"},                                       /* no --county */
        {"--data", "/tmp/n4", "--county", "999999"},                 /* not a division */
        {"--data", "/tmp/n4", "--county", "63010"},                  /* five digits */
        {"--data", "/tmp/n4", "--county", "630102", "--frobnicate"}, /* unknown flag */
        {"--data", "/tmp/n4", "--county", "630102", "--sweep-interval", "0"},
        {"--data", "/tmp/n4", "--county", "630102", "--sweep-interval", "abc"},
        {"--data", "/tmp/n4", "--county", "630102", "--sweep-interval", "86401"},
        {"--data", "/tmp/n4", "--county", "630102", "--map-max-mib", "63"},
        {"--data", "/tmp/n4", "--county", "630102", "--listen-http", "nonsense"},
        {"--data", "/tmp/n4", "--county", "630102", "--gateway", "tcp://127.0.0.1:1"},
        {"--data", "/tmp/n4", "--county", "630102", "--gateway", "http://gw:1"},
        {"--data", "/tmp/n4", "--county", "630102", "--gateway", "tls+tcp://gw:8800"},
        {"--data", "/tmp/n4", "--county", "630102", "--gateway", "tcp://nohost", "--insecure"},
        {"--data", "/tmp/n4", "--county"}, /* a flag without its value */
        {"--data", "/tmp/n4", "--county", "630102", "--config", "/nonexistent/hcp.conf"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char *argv[10] = {"hcp-node"};
        int argc = 1;
        for (int k = 0; k < 8 && bad[i][k] != NULL; k++)
            argv[argc++] = (char *)bad[i][k];
        err[0] = '\0';
        int rc = node_config_parse(&cfg, argc, argv, err, sizeof(err));
        if (rc != NODE_CFG_ERROR)
            fail_msg("case %zu (%s ...) gave %d", i, argv[argc - 1], rc);
        if (err[0] == '\0')
            fail_msg("case %zu: no message", i);
    }
}

/* Arguments the parser refuses to touch. */
static void test_bad_arguments(void **state)
{
    (void)state;
    char *argv[] = {"hcp-node", NULL};
    assert_int_equal(node_config_parse(NULL, 1, argv, err, sizeof(err)), NODE_CFG_ERROR);
    assert_int_equal(node_config_parse(&cfg, 0, argv, err, sizeof(err)), NODE_CFG_ERROR);
    assert_int_equal(node_config_parse(&cfg, 1, argv, NULL, 0), NODE_CFG_ERROR);
}

/* A config file with the same keys; flags win over it. */
static void test_config_file(void **state)
{
    (void)state;
    write_conf("# a comment\n[node]\ndata = /tmp/n5\ncounty = 630102\n"
               "listen-http = \"127.0.0.1:9100\"\nsweep-interval = 30\ninsecure = true\n"
               "gateway = tcp://127.0.0.1:8800\n");
    assert_int_equal(parse("--config", conf_path, NULL), NODE_CFG_OK);
    assert_string_equal(cfg.data, "/tmp/n5");
    assert_string_equal(cfg.listen_http, "127.0.0.1:9100");
    assert_int_equal(cfg.sweep_seconds, 30);
    assert_true(cfg.insecure);
    assert_int_equal(parse("--config", conf_path, "--sweep-interval", "7", "--listen-http",
                           "127.0.0.1:9200", NULL),
                     NODE_CFG_OK);
    assert_int_equal(cfg.sweep_seconds, 7);
    assert_string_equal(cfg.listen_http, "127.0.0.1:9200");
}

/* A file with an unknown key names the file and the line. */
static void test_config_unknown_key(void **state)
{
    (void)state;
    write_conf("[node]\ndata = /tmp/n6\ncounty = 630102\nfrobnicate = 1\n");
    assert_int_equal(parse("--config", conf_path, NULL), NODE_CFG_ERROR);
    assert_non_null(strstr(err, conf_path));
    assert_non_null(strstr(err, "frobnicate"));
}

/* A file whose values are wrong or missing is refused like the flags. */
static void test_config_bad_values(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "[node]\ndata = /tmp/n7\ncounty = 630102\nsweep-interval = 0\n",
        "[node]\ndata = /tmp/n7\ncounty = 630102\nsweep-interval =\n",
        "[node]\ndata = /tmp/n7\ncounty = 111111\n",
        "[node]\ndata = /tmp/n7\n",
        "[gateway]\ndata = /tmp/n7\ncounty = 630102\n",
        "[node]\ndata /tmp/n7\ncounty = 630102\n",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        write_conf(bad[i]);
        int rc = parse("--config", conf_path, NULL);
        (void)remove_conf(NULL);
        if (rc != NODE_CFG_ERROR)
            fail_msg("file %zu gave %d", i, rc);
        if (err[0] == '\0')
            fail_msg("file %zu: no message", i);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_minimal),
        cmocka_unit_test(test_all_flags),
        cmocka_unit_test(test_tls_gateway),
        cmocka_unit_test(test_help),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test_teardown(test_config_file, remove_conf),
        cmocka_unit_test_teardown(test_config_unknown_key, remove_conf),
        cmocka_unit_test(test_config_bad_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
