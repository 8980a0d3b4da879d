/*
 * config.c — hcp-node's settings: command-line flags and an optional INI
 * file (--config FILE) with the same keys, parsed by libhcpd's conf.c from
 * the table below. Flags win over the file. Every value is checked here,
 * once, so the rest of the daemon can trust cfg.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "division.h"
#include "node.h"
#include "rules.h"

#define NODE_STR(n, f) HCPD_CONF_STR_OPT(node_config, n, f)

static const hcpd_conf_opt cfg_opts[] = {
    NODE_STR("data", data),
    NODE_STR("county", county),
    NODE_STR("listen-http", listen_http),
    NODE_STR("gateway", gateway),
    NODE_STR("tls-cert", tls_cert),
    NODE_STR("tls-key", tls_key),
    NODE_STR("tls-ca", tls_ca),
    NODE_STR("tls-server-name", tls_server_name),
    NODE_STR("api-token-file", api_token_file),
    NODE_STR("calendar", calendar),
    NODE_STR("divisions", divisions),
    NODE_STR("seal-key-file", seal_key_file),
    HCPD_CONF_BOOL_OPT(node_config, "insecure", insecure),
    HCPD_CONF_INT_OPT(node_config, "sweep-interval", sweep_seconds, 1, 86400, "seconds"),
    HCPD_CONF_INT_OPT(node_config, "backdate-days", backdate_days, 1, 366, "working days"),
    HCPD_CONF_INT_OPT(node_config, "map-max-mib", map_max_mib, 64, HCPD_MAP_MAX_MIB, "MiB"),
};

/* The table, and the only section a config file may name: [node]. */
static const hcpd_conf cfg_conf = {cfg_opts, sizeof(cfg_opts) / sizeof(cfg_opts[0]), "node"};

/* Print the usage text to stdout (--help). */
void node_config_usage(void)
{
    fputs("usage: hcp-node --data DIR --county CODE [options]\n"
          "       hcp-node backup --data DIR --out FILE\n"
          "       hcp-node verify --data DIR\n"
          "       hcp-node user add|list|disable --data DIR [--name NAME] [--role ROLE]\n"
          "\n"
          "options:\n"
          "  --data DIR              the node's directory (created 0700 if missing)\n"
          "  --county CODE           six-digit GB/T 2260 code of a Qinghai county\n"
          "  --listen-http HOST:PORT HTTP API address (default 127.0.0.1:8701)\n"
          "  --gateway URL           tls+tcp://host:port of hcp-gateway (none: offline)\n"
          "  --tls-cert FILE         this county's certificate (PEM)\n"
          "  --tls-key FILE          its private key (PEM)\n"
          "  --tls-ca FILE           the province CA (PEM)\n"
          "  --tls-server-name NAME  DNS name expected in the gateway's certificate\n"
          "                          (default: the URL's host; required for an IP)\n"
          "  --api-token-file FILE   bearer token of the HTTP API (default DIR/api.token,\n"
          "                          created on first start, mode 0600)\n"
          "  --calendar FILE         working-day calendar (default: compiled in)\n"
          "  --divisions FILE        the county-level divisions, TSV as data/divisions.tsv\n"
          "                          (default: Qinghai's, compiled in); --county must be one\n"
          "  --seal-key-file FILE    key sealing personal data (default DIR.keys/seal.key,\n"
          "                          kept apart from the data: back it up separately)\n"
          "  --sweep-interval SECS   deadline sweep period, 1..86400 (default 60)\n"
          "  --backdate-days N       a step entered more than N working days after the\n"
          "                          date it gives is marked backdated, 1..366 (default 3)\n"
          "  --insecure              allow tcp:// to the gateway (tests, demo)\n"
          "  --map-max-mib N         ceiling of the store's LMDB map, 64..16777216 MiB\n"
          "                          (default 1048576 = 1 TiB; it also never passes what\n"
          "                          the disk can hold)\n"
          "  --config FILE           INI file with the same keys (flags win)\n"
          "  --help                  this text\n"
          "  --version               the version and the data formats it reads\n",
          stdout);
}

/* Whether host is a literal IPv4 or IPv6 address (not a DNS name). */
static bool cfg_is_ip(const char *host)
{
    if (strchr(host, ':') != NULL) {
        return true;
    }
    for (const char *p = host; *p; p++) {
        if (!isdigit((unsigned char)*p) && *p != '.') {
            return false;
        }
    }
    return true;
}

/* Check --gateway against --insecure and the TLS files; fill in the
 * default --tls-server-name from the URL's host. */
static bool cfg_check_gateway(node_config *cfg, char *err, size_t errlen)
{
    const char *g = cfg->gateway;
    const char *rest;
    bool tls;
    if (strncmp(g, "tls+tcp://", 10) == 0) {
        tls = true;
        rest = g + 10;
    } else if (strncmp(g, "tcp://", 6) == 0) {
        tls = false;
        rest = g + 6;
    } else {
        snprintf(err, errlen,
                 "--gateway %s: expected tls+tcp://HOST:PORT (or tcp:// with "
                 "--insecure)",
                 g);
        return false;
    }
    char host[256];
    long port;
    if (!hcpd_conf_hostport(rest, host, sizeof(host), &port) || port == 0) {
        snprintf(err, errlen, "--gateway %s: expected HOST:PORT after the scheme", g);
        return false;
    }
    if (!tls) {
        if (!cfg->insecure) {
            snprintf(err, errlen,
                     "--gateway %s: tcp:// is unencrypted; use tls+tcp:// or "
                     "add --insecure (tests and demos only)",
                     g);
            return false;
        }
        return true;
    }
    if (!cfg->tls_cert[0] || !cfg->tls_key[0] || !cfg->tls_ca[0]) {
        snprintf(err, errlen, "--gateway %s needs --tls-cert, --tls-key and --tls-ca", g);
        return false;
    }
    if (cfg->tls_server_name[0] == '\0') {
        if (cfg_is_ip(host)) {
            snprintf(err, errlen,
                     "--gateway %s holds an IP address: give the DNS name of "
                     "the gateway's certificate with --tls-server-name",
                     g);
            return false;
        }
        snprintf(cfg->tls_server_name, sizeof(cfg->tls_server_name), "%s", host);
    }
    return true;
}

/* Check the merged settings; message in err on the first problem. */
static bool cfg_check(node_config *cfg, char *err, size_t errlen)
{
    if (cfg->data[0] == '\0' || cfg->county[0] == '\0') {
        snprintf(err, errlen, "--data and --county are required (try --help)");
        return false;
    }
    if (cfg->divisions[0] != '\0') {
        char why[512];
        if (hcp_divisions_load(cfg->divisions, why, sizeof(why)) != HCP_OK) {
            snprintf(err, errlen, "--divisions %s", why);
            return false;
        }
    }
    if (strlen(cfg->county) != 6 || hcp_division_find(cfg->county) == NULL) {
        if (cfg->divisions[0] != '\0')
            snprintf(err, errlen, "--county %s: not a county-level division of %s", cfg->county,
                     cfg->divisions);
        else
            snprintf(err, errlen,
                     "--county %s: not a county-level division of Qinghai "
                     "(six-digit GB/T 2260 code, e.g. 630102; another list: --divisions FILE)",
                     cfg->county);
        return false;
    }
    char host[256];
    long port;
    if (!hcpd_conf_hostport(cfg->listen_http, host, sizeof(host), &port)) {
        snprintf(err, errlen, "--listen-http %s: expected HOST:PORT (e.g. 127.0.0.1:8701)",
                 cfg->listen_http);
        return false;
    }
    if (cfg->gateway[0] != '\0' && !cfg_check_gateway(cfg, err, errlen)) {
        return false;
    }
    return true;
}

/* Fill cfg from argv and --config (flags win) and check it. cfg is zeroed
 * first; err receives a one-line message for NODE_CFG_ERROR. */
int node_config_parse(node_config *cfg, int argc, char **argv, char *err, size_t errlen)
{
    if (cfg == NULL || argv == NULL || argc < 1 || err == NULL || errlen == 0) {
        return NODE_CFG_ERROR;
    }
    memset(cfg, 0, sizeof(*cfg));
    snprintf(cfg->listen_http, sizeof(cfg->listen_http), "127.0.0.1:8701");
    cfg->sweep_seconds = 60;
    cfg->backdate_days = HCP_BACKDATE_DAYS;
    cfg->map_max_mib = HCPD_MAP_MAX_MIB_DEFAULT;
    int rc = hcpd_conf_parse(&cfg_conf, cfg, argc, argv, err, errlen);
    if (rc == HCPD_CONF_HELP) {
        return NODE_CFG_HELP;
    }
    if (rc == HCPD_CONF_VERSION) {
        return NODE_CFG_VERSION;
    }
    if (rc != HCPD_CONF_OK) {
        return NODE_CFG_ERROR;
    }
    return cfg_check(cfg, err, errlen) ? NODE_CFG_OK : NODE_CFG_ERROR;
}
