/*
 * config.c — hcp-gateway's settings: command-line flags and an optional INI
 * file (--config FILE) with the same keys, parsed by libhcpd's conf.c from
 * the table below. Flags win over the file. Every value is checked here,
 * once, so the rest of the gateway can trust cfg.
 */
#include <stdio.h>
#include <string.h>

#include "division.h"
#include "gw.h"

#define GW_STR(n, f) HCPD_CONF_STR_OPT(gw_config, n, f)

static const hcpd_conf_opt cfg_opts[] = {
    GW_STR("data", data),
    GW_STR("listen", listen),
    GW_STR("listen-http", listen_http),
    GW_STR("tls-cert", tls_cert),
    GW_STR("tls-key", tls_key),
    GW_STR("tls-ca", tls_ca),
    GW_STR("tls-crl", tls_crl),
    GW_STR("admin-token-file", admin_token_file),
    GW_STR("calendar", calendar),
    GW_STR("divisions", divisions),
    GW_STR("seal-key-file", seal_key_file),
    HCPD_CONF_BOOL_OPT(gw_config, "insecure", insecure),
    HCPD_CONF_INT_OPT(gw_config, "map-max-mib", map_max_mib, 64, HCPD_MAP_MAX_MIB, "MiB"),
};

/* The table, and the only section a config file may name: [gateway]. */
static const hcpd_conf cfg_conf = {cfg_opts, sizeof(cfg_opts) / sizeof(cfg_opts[0]), "gateway"};

/* Print the usage text to stdout (--help). */
void gw_config_usage(void)
{
    fputs("usage: hcp-gateway --data DIR [options]\n"
          "       hcp-gateway user add|list|disable --data DIR [--name NAME] [--role ROLE]\n"
          "\n"
          "options:\n"
          "  --data DIR               the gateway's directory (created 0700 if missing)\n"
          "  --listen URL             replication listener for the county nodes\n"
          "                           (default tls+tcp://0.0.0.0:8700)\n"
          "  --listen-http HOST:PORT  HTTP address of the admin and public routes\n"
          "                           (default 0.0.0.0:8080)\n"
          "  --tls-cert FILE          the gateway's certificate (PEM)\n"
          "  --tls-key FILE           its private key (PEM)\n"
          "  --tls-ca FILE            the province CA (PEM)\n"
          "  --tls-crl FILE           the CA's revocation list (PEM; default none)\n"
          "  --admin-token-file FILE  bearer token of the admin routes (default\n"
          "                           DIR/admin.token, created on first start, mode 0600)\n"
          "  --calendar FILE          working-day calendar (default: compiled in)\n"
          "  --divisions FILE         the county-level divisions, TSV as data/divisions.tsv\n"
          "                           (default: Qinghai's, compiled in); only these counties\n"
          "                           are admitted\n"
          "  --seal-key-file FILE     key sealing personal data (default DIR.keys/seal.key,\n"
          "                           kept apart from the data: back it up separately)\n"
          "  --insecure               allow a tcp:// --listen URL (tests, demo)\n"
          "  --map-max-mib N          ceiling of the store's LMDB map, 64..16777216 MiB\n"
          "                           (default 1048576 = 1 TiB; it also never passes what\n"
          "                           the disk can hold)\n"
          "  --config FILE            INI file with the same keys (flags win)\n"
          "  --help                   this text\n"
          "  --version                the version and the data formats it reads\n",
          stdout);
}

/* Check --listen against --insecure and the TLS files. */
static bool cfg_check_listen(const gw_config *cfg, char *err, size_t errlen)
{
    const char *l = cfg->listen;
    const char *rest;
    bool tls = strncmp(l, "tls+tcp://", 10) == 0;
    if (tls) {
        rest = l + 10;
    } else if (strncmp(l, "tcp://", 6) == 0) {
        rest = l + 6;
    } else {
        snprintf(err, errlen,
                 "--listen %s: expected tls+tcp://HOST:PORT (or tcp:// with --insecure)", l);
        return false;
    }
    char host[256];
    long port;
    if (!hcpd_conf_hostport(rest, host, sizeof(host), &port)) {
        snprintf(err, errlen, "--listen %s: expected HOST:PORT after the scheme", l);
        return false;
    }
    if (!tls && !cfg->insecure) {
        snprintf(err, errlen,
                 "--listen %s: tcp:// is unencrypted; use tls+tcp:// or add --insecure "
                 "(tests and demos only)",
                 l);
        return false;
    }
    if (tls && (!cfg->tls_cert[0] || !cfg->tls_key[0] || !cfg->tls_ca[0])) {
        snprintf(err, errlen, "--listen %s needs --tls-cert, --tls-key and --tls-ca", l);
        return false;
    }
    return true;
}

/* Check the merged settings; message in err on the first problem. */
static bool cfg_check(const gw_config *cfg, char *err, size_t errlen)
{
    if (cfg->data[0] == '\0') {
        snprintf(err, errlen, "--data is required (try --help)");
        return false;
    }
    if (cfg->divisions[0] != '\0') {
        char why[512];
        if (hcp_divisions_load(cfg->divisions, why, sizeof(why)) != HCP_OK) {
            snprintf(err, errlen, "--divisions %s", why);
            return false;
        }
    }
    char host[256];
    long port;
    if (!hcpd_conf_hostport(cfg->listen_http, host, sizeof(host), &port)) {
        snprintf(err, errlen, "--listen-http %s: expected HOST:PORT (e.g. 0.0.0.0:8080)",
                 cfg->listen_http);
        return false;
    }
    return cfg_check_listen(cfg, err, errlen);
}

/* Fill cfg from argv and --config (flags win) and check it. cfg is zeroed
 * first and given the defaults; err receives a one-line message for
 * HCPD_CONF_ERROR. */
int gw_config_parse(gw_config *cfg, int argc, char **argv, char *err, size_t errlen)
{
    if (cfg == NULL || argv == NULL || argc < 1 || err == NULL || errlen == 0) {
        return HCPD_CONF_ERROR;
    }
    memset(cfg, 0, sizeof(*cfg));
    snprintf(cfg->listen, sizeof(cfg->listen), "tls+tcp://0.0.0.0:8700");
    snprintf(cfg->listen_http, sizeof(cfg->listen_http), "0.0.0.0:8080");
    cfg->map_max_mib = HCPD_MAP_MAX_MIB_DEFAULT;
    int rc = hcpd_conf_parse(&cfg_conf, cfg, argc, argv, err, errlen);
    if (rc != HCPD_CONF_OK) {
        return rc;
    }
    return cfg_check(cfg, err, errlen) ? HCPD_CONF_OK : HCPD_CONF_ERROR;
}
