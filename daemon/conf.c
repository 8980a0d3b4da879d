/*
 * conf.c — a daemon's settings from command-line flags and an optional INI
 * file (--config FILE) with the same keys, driven by the daemon's option
 * table. Flags win over the file. Only the syntax and each value's kind and
 * range are checked here; the daemon checks how the values fit together.
 */
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "hcpd.h"

#define CONF_LINE_MAX 8192 /* longest line of a config file */
#define CONF_FILE_MAX (1024 * 1024)

/* The option of c named name (n bytes), or NULL. Borrowed from c's table. */
static const hcpd_conf_opt *conf_find(const hcpd_conf *c, const char *name, size_t n)
{
    for (size_t i = 0; i < c->nopts; i++) {
        if (strlen(c->opts[i].name) == n && memcmp(c->opts[i].name, name, n) == 0) {
            return &c->opts[i];
        }
    }
    return NULL;
}

/* Parse a boolean word (yes/no, true/false, on/off, 1/0) into *out. */
static bool conf_parse_bool(const char *v, bool *out)
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

/* Store the integer v for option o at base; false (message in err) if it
 * is not a decimal number within o->min..o->max. */
static bool conf_set_int(char *base, const hcpd_conf_opt *o, const char *v, char *err,
                         size_t errlen)
{
    char *end = NULL;
    errno = 0;
    long l = strtol(v, &end, 10);
    if (errno != 0 || end == v || *end != '\0' || l < o->min || l > o->max) {
        snprintf(err, errlen, "%s: expected %s %ld..%ld, not \"%s\"", o->name,
                 o->what != NULL ? o->what : "a number", o->min, o->max, v);
        return false;
    }
    int i = (int)l;
    memcpy(base, &i, sizeof(i));
    return true;
}

/* Store value v for option o in cfg; false (message in err) if it does not fit. */
static bool conf_set(void *cfg, const hcpd_conf_opt *o, const char *v, char *err, size_t errlen)
{
    char *base = (char *)cfg + o->off;
    if (o->kind == HCPD_CONF_STR) {
        size_t n = strlen(v);
        if (n == 0 || n >= o->size) {
            snprintf(err, errlen, "%s: value is %s", o->name, n == 0 ? "empty" : "too long");
            return false;
        }
        memcpy(base, v, n + 1);
        return true;
    }
    if (o->kind == HCPD_CONF_BOOL) {
        bool b;
        if (!conf_parse_bool(v, &b)) {
            snprintf(err, errlen, "%s: expected yes or no, not \"%s\"", o->name, v);
            return false;
        }
        memcpy(base, &b, sizeof(b));
        return true;
    }
    return conf_set_int(base, o, v, err, errlen);
}

/* Trim white space at both ends of s in place; returns the new start. */
static char *conf_trim(char *s)
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
static char *conf_unquote(char *v)
{
    size_t n = strlen(v);
    if (n >= 2 && v[0] == '"' && v[n - 1] == '"') {
        v[n - 1] = '\0';
        return v + 1;
    }
    return v;
}

/* A "[name]" line s: accepted when c names no section or this one. */
static bool conf_section(const hcpd_conf *c, const char *s, const char *path, int lineno, char *err,
                         size_t errlen)
{
    size_t n = strlen(s);
    if (c->section == NULL) {
        return true;
    }
    if (n >= 2 && s[n - 1] == ']' && strlen(c->section) == n - 2 &&
        memcmp(s + 1, c->section, n - 2) == 0) {
        return true;
    }
    snprintf(err, errlen, "%s:%d: unknown section %s (only [%s])", path, lineno, s, c->section);
    return false;
}

/* Apply one line of the config file unless a flag already set that key
 * (bit i of flagged for option i). line is modified in place. */
static bool conf_file_line(const hcpd_conf *c, void *cfg, char *line, uint64_t flagged,
                           const char *path, int lineno, char *err, size_t errlen)
{
    char *s = conf_trim(line);
    if (*s == '\0' || *s == '#' || *s == ';') {
        return true;
    }
    if (*s == '[') {
        return conf_section(c, s, path, lineno, err, errlen);
    }
    char *eq = strchr(s, '=');
    if (eq == NULL) {
        snprintf(err, errlen, "%s:%d: expected key = value", path, lineno);
        return false;
    }
    *eq = '\0';
    char *key = conf_trim(s);
    char *val = conf_unquote(conf_trim(eq + 1));
    const hcpd_conf_opt *o = conf_find(c, key, strlen(key));
    if (o == NULL) {
        snprintf(err, errlen, "%s:%d: unknown key \"%s\"", path, lineno, key);
        return false;
    }
    if (flagged & (UINT64_C(1) << (o - c->opts))) {
        return true; /* flags win */
    }
    char msg[512];
    if (!conf_set(cfg, o, val, msg, sizeof(msg))) {
        snprintf(err, errlen, "%s:%d: %s", path, lineno, msg);
        return false;
    }
    return true;
}

/* Read the INI file at path into cfg, skipping keys set by flags. */
static bool conf_load_file(const hcpd_conf *c, void *cfg, const char *path, uint64_t flagged,
                           char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        snprintf(err, errlen, "--config %s: %s", path, strerror(errno));
        return false;
    }
    char line[CONF_LINE_MAX];
    int lineno = 0;
    long total = 0;
    bool ok = true;
    while (ok && fgets(line, sizeof(line), f) != NULL) {
        lineno++;
        size_t n = strlen(line);
        total += (long)n;
        if ((n == sizeof(line) - 1 && line[n - 1] != '\n') || total > CONF_FILE_MAX) {
            snprintf(err, errlen, "%s:%d: line or file too long", path, lineno);
            ok = false;
            break;
        }
        ok = conf_file_line(c, cfg, line, flagged, path, lineno, err, errlen);
    }
    if (ok && ferror(f)) {
        snprintf(err, errlen, "--config %s: read error", path);
        ok = false;
    }
    fclose(f);
    return ok;
}

/* Split "--name=value" / "--name value" at argv[*i]; advances *i past a
 * separate value. *o is NULL for --config; *val is "yes" for a bare bool.
 * *val is borrowed from argv. */
static int conf_flag(const hcpd_conf *c, int argc, char **argv, int *i, const hcpd_conf_opt **o,
                     const char **val, char *err, size_t errlen)
{
    const char *a = argv[*i];
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
        return HCPD_CONF_HELP;
    }
    if (strcmp(a, "--version") == 0) {
        return HCPD_CONF_VERSION;
    }
    if (strncmp(a, "--", 2) != 0) {
        snprintf(err, errlen, "unexpected argument \"%s\" (try --help)", a);
        return HCPD_CONF_ERROR;
    }
    const char *name = a + 2;
    const char *eq = strchr(name, '=');
    size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
    *o = conf_find(c, name, nlen);
    bool is_config = nlen == 6 && strncmp(name, "config", 6) == 0;
    if (*o == NULL && !is_config) {
        snprintf(err, errlen, "unknown flag \"%.*s\" (try --help)", (int)nlen + 2, a);
        return HCPD_CONF_ERROR;
    }
    if (*o != NULL && (*o)->kind == HCPD_CONF_BOOL) {
        *val = eq ? eq + 1 : "yes";
        return HCPD_CONF_OK;
    }
    if (eq != NULL) {
        *val = eq + 1;
    } else if (*i + 1 < argc) {
        *val = argv[++*i];
    } else {
        snprintf(err, errlen, "%s needs a value", a);
        return HCPD_CONF_ERROR;
    }
    return HCPD_CONF_OK;
}

/* Apply the flags of argv to cfg; record them in *flagged and the path of
 * --config in *config (borrowed from argv). */
static int conf_flags(const hcpd_conf *c, void *cfg, int argc, char **argv, uint64_t *flagged,
                      const char **config, char *err, size_t errlen)
{
    for (int i = 1; i < argc; i++) {
        const hcpd_conf_opt *o = NULL;
        const char *val = NULL;
        int rc = conf_flag(c, argc, argv, &i, &o, &val, err, errlen);
        if (rc != HCPD_CONF_OK) {
            return rc;
        }
        if (o == NULL) {
            *config = val;
            continue;
        }
        char msg[512];
        if (!conf_set(cfg, o, val, msg, sizeof(msg))) {
            snprintf(err, errlen, "--%s", msg);
            return HCPD_CONF_ERROR;
        }
        *flagged |= UINT64_C(1) << (o - c->opts);
    }
    return HCPD_CONF_OK;
}

/* Fill cfg from argv, then from --config (flags win). err receives a
 * one-line message for HCPD_CONF_ERROR. */
int hcpd_conf_parse(const hcpd_conf *c, void *cfg, int argc, char **argv, char *err, size_t errlen)
{
    if (err == NULL || errlen == 0) {
        return HCPD_CONF_ERROR;
    }
    err[0] = '\0';
    if (c == NULL || c->opts == NULL || c->nopts > HCPD_CONF_MAX_OPTS || cfg == NULL ||
        argv == NULL || argc < 1) {
        snprintf(err, errlen, "internal error: bad option table");
        return HCPD_CONF_ERROR;
    }
    uint64_t flagged = 0;
    const char *config = NULL;
    int rc = conf_flags(c, cfg, argc, argv, &flagged, &config, err, errlen);
    if (rc != HCPD_CONF_OK) {
        return rc;
    }
    if (config != NULL && !conf_load_file(c, cfg, config, flagged, err, errlen)) {
        return HCPD_CONF_ERROR;
    }
    return HCPD_CONF_OK;
}

/* Split "HOST:PORT" or "[V6]:PORT" into host and port; false if malformed. */
bool hcpd_conf_hostport(const char *s, char *host, size_t hostlen, long *port)
{
    if (s == NULL || host == NULL || hostlen == 0 || port == NULL) {
        return false;
    }
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
