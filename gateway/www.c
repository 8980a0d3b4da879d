/*
 * www.c — serves the public page's embedded files (www.h, docs/page.md).
 * The table comes from the build (gateway/CMakeLists.txt), so a file added
 * to gateway/www is served without a change here.
 */
#include <string.h>

#include "www.h"

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

/* Only the page's own origin: no CDN, no external script, style or font
 * (the page draws its charts itself); inline style attributes of the SVG
 * are not used either. */
#define WWW_CSP                                                                                    \
    "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'self'; "               \
    "form-action 'self'; frame-ancestors 'self'"

/* The content type of name, by its extension. */
static const char *type_of(const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        size_t e = strlen(types[i].ext);
        if (n > e && strcmp(name + n - e, types[i].ext) == 0)
            return types[i].type;
    }
    return "application/octet-stream";
}

const gw_www_file *gw_www_find(const char *path)
{
    if (path == NULL || path[0] != '/')
        return NULL;
    const char *name = path[1] != '\0' ? path + 1 : "index.html";
    for (size_t i = 0; i < gw_www_nfiles; i++)
        if (strcmp(gw_www_files[i].name, name) == 0)
            return &gw_www_files[i];
    return NULL;
}

bool gw_www_is_route(const char *path)
{
    return gw_www_find(path) != NULL;
}

void gw_www_handle(hcpd_req *r)
{
    const gw_www_file *f = gw_www_find(hcpd_req_path(r));
    if (f == NULL) {
        hcpd_req_reply_error(r, 404, "not_found", "no such route");
        return;
    }
    const hcpd_hdr h[] = {{"Cache-Control", "no-cache"},
                          {"X-Content-Type-Options", "nosniff"},
                          {"Content-Security-Policy", WWW_CSP}};
    hcpd_req_reply_hdrs(r, 200, type_of(f->name), f->data, *f->len, h, sizeof(h) / sizeof(h[0]));
}
