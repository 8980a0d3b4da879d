/*
 * version.c — what --version prints (version.h); the string itself is
 * generated at build time (gen/hcp_version.c, cmake/version.cmake).
 */
#include <stdio.h>

#include "format.h"
#include "version.h"

/* "PROG VERSION", then the store formats this build reads and writes, so
 * an operator can tell before an upgrade or a downgrade what it will do. */
void hcpd_version_print(const char *prog)
{
    printf("%s %s\ndata formats: node store %u, gateway store %u\n", prog ? prog : "hcp",
           hcpd_version(), HCPD_FORMAT_NODE, HCPD_FORMAT_GATEWAY);
}
