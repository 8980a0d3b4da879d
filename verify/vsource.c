/*
 * vsource.c — reading hcp-verify's source: a URL or a directory of the
 * gateway's published files (vsource.h).
 */
#include "vsource.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#ifdef HCP_HAVE_CURL
#include <curl/curl.h>
#endif

bool vsrc_is_url(const char *s)
{
    return s != NULL && (strncmp(s, "http://", 7) == 0 || strncmp(s, "https://", 8) == 0);
}

#ifdef HCP_HAVE_CURL
/* libcurl's body callback: append to the hcp_buf; a short count (its limit
 * or no memory) makes the transfer fail. */
static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
    return hcp_buf_append(arg, p, size * n) == HCP_OK ? size * n : 0;
}

/* GET loc into out: 200 is HCP_OK, 404 HCP_ENOTFOUND, anything else EIO. */
static int read_url(const char *loc, long timeout_s, hcp_buf *out, char *why, size_t wlen)
{
    CURL *c = curl_easy_init();
    if (c == NULL)
        return HCP_ENOMEM;
    long status = 0;
    (void)curl_easy_setopt(c, CURLOPT_URL, loc);
    (void)curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    (void)curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
    (void)curl_easy_setopt(c, CURLOPT_TIMEOUT, timeout_s);
    (void)curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    CURLcode cc = curl_easy_perform(c);
    if (cc == CURLE_OK)
        (void)curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
    if (cc != CURLE_OK) {
        snprintf(why, wlen, "%.400s: %s", loc, curl_easy_strerror(cc));
        return HCP_EIO;
    }
    if (status == 404)
        return HCP_ENOTFOUND;
    if (status != 200) {
        snprintf(why, wlen, "%.400s: HTTP status %ld", loc, status);
        return HCP_EIO;
    }
    return HCP_OK;
}
#endif

/* Read the file at loc into out. */
static int read_path(const char *loc, hcp_buf *out, char *why, size_t wlen)
{
    FILE *f = fopen(loc, "rb");
    if (f == NULL) {
        int e = errno;
        snprintf(why, wlen, "%.400s: %s", loc, strerror(e));
        return e == ENOENT ? HCP_ENOTFOUND : HCP_EIO;
    }
    char chunk[65536];
    size_t n;
    int rc = HCP_OK;
    while (rc == HCP_OK && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        rc = hcp_buf_append(out, chunk, n);
    if (rc == HCP_OK && ferror(f))
        rc = HCP_EIO;
    fclose(f);
    if (rc != HCP_OK)
        snprintf(why, wlen, "%.400s: cannot read it", loc);
    return rc;
}

int vsrc_read(const char *loc, long timeout_s, hcp_buf *out, char *why, size_t wlen)
{
    if (loc == NULL || out == NULL || why == NULL || wlen == 0 || timeout_s <= 0)
        return HCP_EINVAL;
    hcp_buf_reset(out);
    if (!vsrc_is_url(loc))
        return read_path(loc, out, why, wlen);
#ifdef HCP_HAVE_CURL
    return read_url(loc, timeout_s, out, why, wlen);
#else
    snprintf(why, wlen, "this hcp-verify was built without libcurl: give a directory");
    return HCP_EIO;
#endif
}

int vsrc_key(const char *arg, hcp_note_verifier *v)
{
    if (arg == NULL || v == NULL)
        return HCP_EINVAL;
    char text[HCP_NOTE_KEY_MAX + 2];
    const char *k = arg;
    /* a key's text has a '+'; anything else, or a readable file, is a file */
    FILE *f = strchr(arg, '+') == NULL || access(arg, R_OK) == 0 ? fopen(arg, "r") : NULL;
    if (f != NULL) {
        size_t n = fread(text, 1, sizeof(text) - 1, f);
        fclose(f);
        text[n] = '\0';
        k = text;
    }
    return hcp_note_verifier_parse(k, strlen(k), v) == HCP_OK ? HCP_OK : HCP_EINVAL;
}
