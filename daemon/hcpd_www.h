/*
 * hcpd_www.h — static files carried in a daemon's binary and served at
 * GET /NAME: the gateway's public page and console (gateway/www), the
 * node's console (node/www). The build embeds every file of such a
 * directory and writes their table (hcp_www_table in daemon/CMakeLists.txt,
 * gen/PREFIX_table.c); this serves them. The bytes are static: nothing here
 * allocates or fails. (Not "www.h": the gateway's header has that name and
 * scripts/layers.py wants one file per header name.) Prefix hcpd_www_.
 */
#ifndef HCPD_WWW_H
#define HCPD_WWW_H

#include <stdbool.h>
#include <stddef.h>

#include "hcpd.h"

/* One embedded file: its name in the directory (letters, digits, '.', '-',
 * '_'; no directories) and its bytes (data[*len] is a NUL not served). */
typedef struct hcpd_www_file {
    const char *name;
    const unsigned char *data;
    const size_t *len;
} hcpd_www_file;

/* The file of files[0..n) that path names ("/" is index.html), or NULL
 * when it names none (NULL path, no leading '/', a directory, unknown). */
const hcpd_www_file *hcpd_www_find(const hcpd_www_file *files, size_t n, const char *path);
/* The content type of a file name by its extension (.html, .js, .css,
 * .svg, .json, .txt, .png, .ico; anything else application/octet-stream). */
const char *hcpd_www_type(const char *name);
/* Answer r (GET or HEAD) with f: its content type, Cache-Control:
 * no-cache, X-Content-Type-Options: nosniff and a Content-Security-Policy
 * that allows only the daemon's own origin. f NULL: 404 not_found. */
void hcpd_www_reply(hcpd_req *r, const hcpd_www_file *f);

#endif
