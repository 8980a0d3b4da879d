/*
 * version.h — the version of this build, for --version, the start-up log
 * line and /healthz. Worked out at build time (cmake/version.cmake): the
 * Debian build's HCP_VERSION, else `git describe`, else the tarball's
 * VERSION file, else "0.0.0-unknown".
 */
#ifndef HCPD_VERSION_H
#define HCPD_VERSION_H

/* The version string, e.g. "0.16.0-3-g8f36ed8-dirty": static, never NULL. */
const char *hcpd_version(void);

/* Print "PROG VERSION" and a line on the data formats to stdout, the
 * answer to --version of every command of PROG (e.g. "hcp-node"). */
void hcpd_version_print(const char *prog);

#endif
