/*
 * hcpd.h — what both daemons (hcp-node, hcp-gateway) share: structured
 * logging and the HTTP server (nng's, with bearer tokens, bounded bodies
 * and JSON errors). Prefix hcpd_.
 */
#ifndef HCPD_H
#define HCPD_H

#include <jansson.h>
#include <uv.h>

#include "hcp.h"

/* One line per event on stderr, never personal data:
 *   2026-11-27T10:03:00.123+08:00 level=info id=http.listen addr=127.0.0.1:8701
 * Levels debug < info < warn < error; HCP_LOG_LEVEL sets the threshold
 * (default info). Thread-safe: one write(2) per line. */
void hcpd_log(const char *level, const char *id, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

typedef struct hcpd_http hcpd_http;
typedef struct hcpd_req hcpd_req;

typedef struct hcpd_http_cfg {
    const char *listen; /* HOST:PORT (port 0: any; the bound one is logged) */
    const char *token;  /* bearer token of every non-public route */
    /* Whether a route is served without the token (NULL: none is). */
    bool (*is_public)(const char *method, const char *path);
    /* Called on one of nng's threads for each admitted request (token
     * checked, body read within HCP_BODY_MAX). It must make the request be
     * answered exactly once, now or later from any thread. */
    void (*handle)(void *arg, hcpd_req *r);
    void *arg;
    uv_loop_t *loop; /* turned (UV_RUN_NOWAIT) while hcpd_http_stop drains */
} hcpd_http_cfg;

/* Start serving as cfg says (copied). *out is the server. */
int hcpd_http_start(const hcpd_http_cfg *cfg, hcpd_http **out);
/* Stop accepting (new requests get 503), wait until every request in
 * flight was answered, then close and free the server. Call on the loop
 * thread with the loop not running; safe on NULL. */
void hcpd_http_stop(hcpd_http *h);

const char *hcpd_req_method(const hcpd_req *r);
/* The path without the query string (not percent-decoded). */
const char *hcpd_req_path(const hcpd_req *r);
/* Copy query parameter key (URL-decoded) into buf; false when absent or too long. */
bool hcpd_req_query(const hcpd_req *r, const char *key, char *buf, size_t len);
/* A request header kept for the handler (X-HCP-User, If-None-Match,
 * If-Modified-Since), borrowed until the reply; NULL when absent. */
const char *hcpd_req_header(const hcpd_req *r, const char *name);
/* The body (borrowed until the reply; NUL-terminated, len excludes it). */
void hcpd_req_body(const hcpd_req *r, const char **body, size_t *len);
/* Reply exactly once, from any thread. body is stolen (decref'd). */
void hcpd_req_reply_json(hcpd_req *r, int status, json_t *body);
/* Reply with {"error": error, "detail": detail}. */
void hcpd_req_reply_error(hcpd_req *r, int status, const char *error, const char *detail);
/* Reply with bytes of a content type (copied). */
void hcpd_req_reply_raw(hcpd_req *r, int status, const char *content_type, const void *data,
                        size_t len);

#endif
