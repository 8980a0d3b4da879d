/*
 * www.c — serves a daemon's embedded static files (hcpd_www.h): the
 * gateway's public page and console, the node's console. The tables come
 * from the build, so a file added to a www/ directory is served without a
 * change here.
 */
#include <string.h>

#include "hcpd_www.h"

/* Content types by file name extension; anything else is served as bytes. */
static const struct {
    const char *ext;
    const char *type;
} types[] = {
    {".html", "text/html; charset=utf-8"},
    {".js", "text/javascript; charset=utf-8"},
    {".css", "text/css; charset=utf-8"},
    {".svg", "image/svg+xml"},
    {".json", "application/json; charset=utf-8"},
    {".txt", "text/plain; charset=utf-8"},
    {".png", "image/png"},
    {".ico", "image/x-icon"},
};

/* Only the daemon's own origin: no CDN, no external script, style or font
 * (the pages draw their charts themselves); no inline script either. */
#define WWW_CSP                                                                                    \
    "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'self'; "               \
    "form-action 'self'; frame-ancestors 'self'"

/* The content type of name, by its extension. */
const char *hcpd_www_type(const char *name)
{
    size_t n = name != NULL ? strlen(name) : 0;
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        size_t e = strlen(types[i].ext);
        if (n > e && strcmp(name + n - e, types[i].ext) == 0)
            return types[i].type;
    }
    return "application/octet-stream";
}

/* A linear search: a handful of files, looked up once per request. */
const hcpd_www_file *hcpd_www_find(const hcpd_www_file *files, size_t n, const char *path)
{
    if (files == NULL || path == NULL || path[0] != '/')
        return NULL;
    const char *name = path[1] != '\0' ? path + 1 : "index.html";
    for (size_t i = 0; i < n; i++)
        if (strcmp(files[i].name, name) == 0)
            return &files[i];
    return NULL;
}

/* The file's bytes as they are in the binary, with the headers that keep a
 * browser from caching an old console or running anything from elsewhere. */
void hcpd_www_reply(hcpd_req *r, const hcpd_www_file *f)
{
    if (f == NULL) {
        hcpd_req_reply_error(r, 404, "not_found", "no such route");
        return;
    }
    const hcpd_hdr h[] = {{"Cache-Control", "no-cache"},
                          {"X-Content-Type-Options", "nosniff"},
                          {"Content-Security-Policy", WWW_CSP}};
    hcpd_req_reply_hdrs(r, 200, hcpd_www_type(f->name), f->data, *f->len, h,
                        sizeof(h) / sizeof(h[0]));
}
