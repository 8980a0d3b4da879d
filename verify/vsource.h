/*
 * vsource.h — where hcp-verify reads from: a gateway's public URL (through
 * libcurl, when built with it) or a directory of published files, and the
 * verifier key given on its command line. Shared by the log's commands
 * (hcp-verify.c) and `spotcheck` (spotcheck.c).
 */
#ifndef HCP_VSOURCE_H
#define HCP_VSOURCE_H

#include <stdbool.h>
#include <stddef.h>

#include "hcp.h"
#include "note.h"

/* Whether s is an http:// or https:// URL (else a file path). */
bool vsrc_is_url(const char *s);

/* Read loc (a URL or a file path) into out (reset first), waiting at most
 * timeout_s seconds for a URL. HCP_OK; HCP_ENOTFOUND (HTTP 404, no such
 * file); HCP_EIO (unreachable, another status, a read error, or a URL in a
 * build without libcurl); HCP_ENOMEM; an error of hcp_buf_append (out's
 * limit). On failure why (wlen bytes) says which. */
HCP_NODISCARD int vsrc_read(const char *loc, long timeout_s, hcp_buf *out, char *why, size_t wlen);

/* The verifier key from arg: the key's text ("name+hexid+base64") or a file
 * holding it. HCP_OK, or HCP_EINVAL when it is not a verifier key. */
HCP_NODISCARD int vsrc_key(const char *arg, hcp_note_verifier *v);

#endif
