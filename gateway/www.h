/*
 * www.h — the public page's static files (gateway/www/, docs/page.md),
 * carried in the binary: the build embeds every file of gateway/www and
 * writes their table (gateway/CMakeLists.txt, gen/hcp_www_table.c), and
 * the gateway serves each at GET /NAME, index.html also at GET /. The
 * bytes are static: nothing here allocates or fails.
 */
#ifndef GW_WWW_H
#define GW_WWW_H

#include <stdbool.h>
#include <stddef.h>

#include "hcpd.h"
#include "hcpd_www.h"

/* One embedded file: its name in gateway/www (letters, digits, '.', '-',
 * '_'; no directories) and its bytes (data[*len] is a NUL not served).
 * The daemons' shared type (hcpd_www.h). */
typedef hcpd_www_file gw_www_file;

/* The embedded files in name order (generated at build time). */
extern const gw_www_file gw_www_files[];
extern const size_t gw_www_nfiles;

/* The file path names ("/" is index.html), or NULL when it names none. */
const gw_www_file *gw_www_find(const char *path);
/* Whether path is one of the page's files (a public route). */
bool gw_www_is_route(const char *path);
/* Answer r (GET or HEAD of a route gw_www_is_route accepts) with the file,
 * its content type by extension, Cache-Control: no-cache and a Content-
 * Security-Policy that allows only the gateway's own origin; 404 if the
 * path names no file. */
void gw_www_handle(hcpd_req *r);

#endif
