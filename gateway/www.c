/*
 * www.c — the public page's embedded files (www.h, docs/page.md), served
 * by the daemons' shared static-file server (daemon/www.c, hcpd_www.h).
 * The table comes from the build (gateway/CMakeLists.txt), so a file added
 * to gateway/www is served without a change here.
 */
#include "www.h"

const gw_www_file *gw_www_find(const char *path)
{
    return hcpd_www_find(gw_www_files, gw_www_nfiles, path);
}

bool gw_www_is_route(const char *path)
{
    return gw_www_find(path) != NULL;
}

void gw_www_handle(hcpd_req *r)
{
    hcpd_www_reply(r, gw_www_find(hcpd_req_path(r)));
}
