/*
 * config.c — hcp-node's settings: command-line flags and an optional INI
 * file (--config FILE) with the same keys. Flags win over the file. Every
 * value is checked here, once, so the rest of the daemon can trust cfg.
 */
#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "division.h"
#include "node.h"

#define CFG_LINE_MAX 8192 /* longest line of a config file */
#define CFG_FILE_MAX (1024 * 1024)

enum cfg_kind { CFG_STR, CFG_BOOL, CFG_INT };

/* One setting: its flag name (without "--"), where it lives in node_config. */
typedef struct cfg_opt {
    const char *name;
    enum cfg_kind kind;
    size_t off;
    size_t size; /* buffer size for CFG_STR */
} cfg_opt;

#define STR_OPT(n, f)                                                                              \
    {                                                                                              \
        n, CFG_STR, offsetof(node_config, f), sizeof(((node_config *)0)->f)                        \
    }

static const cfg_opt cfg_opts[] = {
    STR_OPT("data", data),
    STR_OPT("county", county),
    STR_OPT("listen-http", listen_http),
    STR_OPT("gateway", gateway),
    STR_OPT("tls-cert", tls_cert),
    STR_OPT("tls-key", tls_key),
    STR_OPT("tls-ca", tls_ca),
    STR_OPT("tls-server-name", tls_server_name),
    STR_OPT("api-token-file", api_token_file),
    STR_OPT("calendar", calendar),
    STR_OPT("seal-key-file", seal_key_file),
    {"insecure", CFG_BOOL, offsetof(node_config, insecure), 0},
    {"sweep-interval", CFG_INT, offsetof(node_config, sweep_seconds), 0},
};
#define CFG_NOPTS (sizeof(cfg_opts) / sizeof(cfg_opts[0]))

/* Print the usage text to stdout (--help). */
void node_config_usage(void)
{
    fputs("usage: hcp-node --data DIR --county CODE [options]\n"
          "       hcp-node backup --data DIR --out FILE\n"
          "       hcp-node verify --data DIR\n"
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
          "  --seal-key-file FILE    key sealing personal data (default DIR/seal.key)\n"
          "  --sweep-interval SECS   deadline sweep period, 1..86400 (default 60)\n"
          "  --insecure              allow tcp:// to the gateway (tests, demo)\n"
          "  --config FILE           INI file with the same keys (flags win)\n"
          "  --help                  this text\n",
          stdout);
}

/* The option named name (n bytes), or NULL. Borrowed from the static table. */
static const cfg_opt *cfg_find(const char *name, size_t n)
{
    for (size_t i = 0; i < CFG_NOPTS; i++) {
        if (strlen(cfg_opts[i].name) == n && memcmp(cfg_opts[i].name, name, n) == 0) {
            return &cfg_opts[i];
        }
    }
    return NULL;
}

/* Parse a boolean word of the config file into *out. */
static bool cfg_parse_bool(const char *v, bool *out)
{
    static const char *yes[] = {"yes", "true", "on", "1"};
    static const char *no[] = {"no", "false", "off", "0"};
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(v, yes[i]) == 0) {
            *out = true;
            return true;
        }
        if (strcasecmp(v, no[i]) == 0) {
            *out = false;
            return true;
        }
    }
    return false;
}

/* Store value v for option o in cfg; false (message in err) if it does not fit. */
static bool cfg_set(node_config *cfg, const cfg_opt *o, const char *v, char *err, size_t errlen)
{
    char *base = (char *)cfg + o->off;
    if (o->kind == CFG_STR) {
        size_t n = strlen(v);
        if (n == 0 || n >= o->size) {
            snprintf(err, errlen, "%s: value is %s", o->name, n == 0 ? "empty" : "too long");
            return false;
        }
        memcpy(base, v, n + 1);
        return true;
    }
    if (o->kind == CFG_BOOL) {
        bool b;
        if (!cfg_parse_bool(v, &b)) {
            snprintf(err, errlen, "%s: expected yes or no, not \"%s\"", o->name, v);
            return false;
        }
        memcpy(base, &b, sizeof(b));
        return true;
    }
    char *end = NULL;
    errno = 0;
    long l = strtol(v, &end, 10);
    if (errno != 0 || end == v || *end != '\0' || l < 1 || l > 86400) {
        snprintf(err, errlen, "%s: expected seconds 1..86400, not \"%s\"", o->name, v);
        return false;
    }
    int i = (int)l;
    memcpy(base, &i, sizeof(i));
    return true;
}

/* Trim white space at both ends of s in place; returns the new start. */
static char *cfg_trim(char *s)
{
    while (isspace((unsigned char)*s)) {
        s++;
    }
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1])) {
        s[--n] = '\0';
    }
    return s;
}

/* Strip one pair of matching double quotes around v, in place. */
static char *cfg_unquote(char *v)
{
    size_t n = strlen(v);
    if (n >= 2 && v[0] == '"' && v[n - 1] == '"') {
        v[n - 1] = '\0';
        return v + 1;
    }
    return v;
}

/* Apply one line of the config file unless a flag already set that key
 * (bit i of flagged). */
static bool cfg_file_line(node_config *cfg, char *line, unsigned flagged, const char *path,
                          int lineno, char *err, size_t errlen)
{
    char *s = cfg_trim(line);
    if (*s == '\0' || *s == '#' || *s == ';') {
        return true;
    }
    if (*s == '[') {
        if (strcmp(s, "[node]") == 0) {
            return true;
        }
        snprintf(err, errlen, "%s:%d: unknown section %s (only [node])", path, lineno, s);
        return false;
    }
    char *eq = strchr(s, '=');
    if (eq == NULL) {
        snprintf(err, errlen, "%s:%d: expected key = value", path, lineno);
        return false;
    }
    *eq = '\0';
    char *key = cfg_trim(s);
    char *val = cfg_unquote(cfg_trim(eq + 1));
    const cfg_opt *o = cfg_find(key, strlen(key));
    if (o == NULL) {
        snprintf(err, errlen, "%s:%d: unknown key \"%s\"", path, lineno, key);
        return false;
    }
    if (flagged & (1u << (o - cfg_opts))) {
        return true; /* flags win */
    }
    char msg[512];
    if (!cfg_set(cfg, o, val, msg, sizeof(msg))) {
        snprintf(err, errlen, "%s:%d: %s", path, lineno, msg);
        return false;
    }
    return true;
}

/* Read the INI file at path into cfg, skipping keys set by flags. */
static bool cfg_load_file(node_config *cfg, const char *path, unsigned flagged, char *err,
                          size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        snprintf(err, errlen, "--config %s: %s", path, strerror(errno));
        return false;
    }
    char line[CFG_LINE_MAX];
    int lineno = 0;
    long total = 0;
    bool ok = true;
    while (ok && fgets(line, sizeof(line), f) != NULL) {
        lineno++;
        size_t n = strlen(line);
        total += (long)n;
        if ((n == sizeof(line) - 1 && line[n - 1] != '\n') || total > CFG_FILE_MAX) {
            snprintf(err, errlen, "%s:%d: line or file too long", path, lineno);
            ok = false;
            break;
        }
        ok = cfg_file_line(cfg, line, flagged, path, lineno, err, errlen);
    }
    if (ok && ferror(f)) {
        snprintf(err, errlen, "--config %s: read error", path);
        ok = false;
    }
    fclose(f);
    return ok;
}

/* Split "--name=value" / "--name value" at argv[*i]; advances *i past a
 * separate value. *o is NULL for --config; *val is NULL for --insecure. */
static int cfg_flag(int argc, char **argv, int *i, const cfg_opt **o, const char **val, char *err,
                    size_t errlen)
{
    const char *a = argv[*i];
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
        return NODE_CFG_HELP;
    }
    if (strncmp(a, "--", 2) != 0) {
        snprintf(err, errlen, "unexpected argument \"%s\" (try --help)", a);
        return NODE_CFG_ERROR;
    }
    const char *name = a + 2;
    const char *eq = strchr(name, '=');
    size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
    *o = cfg_find(name, nlen);
    bool is_config = nlen == 6 && strncmp(name, "config", 6) == 0;
    if (*o == NULL && !is_config) {
        snprintf(err, errlen, "unknown flag \"%.*s\" (try --help)", (int)nlen + 2, a);
        return NODE_CFG_ERROR;
    }
    if (*o != NULL && (*o)->kind == CFG_BOOL) {
        *val = eq ? eq + 1 : "yes";
        return NODE_CFG_OK;
    }
    if (eq != NULL) {
        *val = eq + 1;
    } else if (*i + 1 < argc) {
        *val = argv[++*i];
    } else {
        snprintf(err, errlen, "%s needs a value", a);
        return NODE_CFG_ERROR;
    }
    return NODE_CFG_OK;
}

/* Apply the flags of argv to cfg; record them in *flagged and the path of
 * --config in *config (borrowed from argv). */
static int cfg_flags(node_config *cfg, int argc, char **argv, unsigned *flagged,
                     const char **config, char *err, size_t errlen)
{
    for (int i = 1; i < argc; i++) {
        const cfg_opt *o = NULL;
        const char *val = NULL;
        int rc = cfg_flag(argc, argv, &i, &o, &val, err, errlen);
        if (rc != NODE_CFG_OK) {
            return rc;
        }
        if (o == NULL) {
            *config = val;
            continue;
        }
        char msg[512];
        if (!cfg_set(cfg, o, val, msg, sizeof(msg))) {
            snprintf(err, errlen, "--%s", msg);
            return NODE_CFG_ERROR;
        }
        *flagged |= 1u << (o - cfg_opts);
    }
    return NODE_CFG_OK;
}

/* Split "HOST:PORT" or "[V6]:PORT" into host and port; false if malformed. */
static bool cfg_hostport(const char *s, char *host, size_t hostlen, long *port)
{
    const char *colon;
    const char *h = s;
    size_t hl;
    if (*s == '[') {
        const char *rb = strchr(s, ']');
        if (rb == NULL || rb[1] != ':') {
            return false;
        }
        h = s + 1;
        hl = (size_t)(rb - h);
        colon = rb + 1;
    } else {
        colon = strrchr(s, ':');
        if (colon == NULL || memchr(s, ':', (size_t)(colon - s)) != NULL) {
            return false; /* an IPv6 address needs brackets */
        }
        hl = (size_t)(colon - s);
    }
    if (hl == 0 || hl >= hostlen) {
        return false;
    }
    memcpy(host, h, hl);
    host[hl] = '\0';
    char *end = NULL;
    errno = 0;
    *port = strtol(colon + 1, &end, 10);
    return errno == 0 && end != colon + 1 && *end == '\0' && *port >= 0 && *port <= 65535;
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
    if (!cfg_hostport(rest, host, sizeof(host), &port) || port == 0) {
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
    if (strlen(cfg->county) != 6 || hcp_division_find(cfg->county) == NULL) {
        snprintf(err, errlen,
                 "--county %s: not a county-level division of Qinghai "
                 "(six-digit GB/T 2260 code, e.g. 630102)",
                 cfg->county);
        return false;
    }
    char host[256];
    long port;
    if (!cfg_hostport(cfg->listen_http, host, sizeof(host), &port)) {
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
    err[0] = '\0';
    unsigned flagged = 0;
    const char *config = NULL;
    int rc = cfg_flags(cfg, argc, argv, &flagged, &config, err, errlen);
    if (rc != NODE_CFG_OK) {
        return rc;
    }
    if (config != NULL && !cfg_load_file(cfg, config, flagged, err, errlen)) {
        return NODE_CFG_ERROR;
    }
    return cfg_check(cfg, err, errlen) ? NODE_CFG_OK : NODE_CFG_ERROR;
}
