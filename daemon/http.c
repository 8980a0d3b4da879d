/*
 * http.c — hcp-node's HTTP server on nng 1.5.2's supplemental HTTP server.
 *
 * One tree handler on "/" sees every request (any method), so every answer,
 * also 404, is JSON. For each request a hcpd_req is made on nng's thread;
 * the bearer token is checked before the body is read (an unauthenticated
 * client costs no allocation), the body is read by us with a ceiling
 * (HCP_BODY_MAX: 413 beyond it; nng itself would answer 400), then the
 * request goes to node_api_handle. Replies complete nng's aio and may come
 * from any thread. The access log line holds method, path (no query),
 * status and duration — never a body, never a query string.
 *
 * Shutdown: hcpd_http_stop makes new requests answer 503, waits until every
 * request in flight was answered, then stops and releases nng's server. The
 * hcpd_http itself is the handler's data and freed by nng (its dtor) once no
 * handler call can touch it any more.
 */
#include <nng/nng.h>
#include <nng/supplemental/http/http.h>
#include <nng/supplemental/util/platform.h>

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "json.h"
#include "hcpd.h"

#define HTTP_URI_MAX      4096  /* longest request target accepted (414 beyond) */
#define HTTP_BODY_TIMEOUT 30000 /* ms to receive a body (slow clients) */
#define HTTP_DRAIN_LOG_MS 5000  /* how often stop reports what it waits for */
#define HTTP_GRACE_MS     100   /* let the last replies leave before closing */

struct hcpd_http {
    hcpd_http_cfg cfg; /* copied; cfg.listen and cfg.token point into this struct */
    char listen[256];
    nng_http_server *server; /* held until hcpd_http_stop */
    pthread_mutex_t mtx;
    pthread_cond_t cond;
    int inflight; /* requests made but not yet answered */
    bool stopping;
    char token[128];
    /* Body readers are reused: allocating and reaping an nng aio per
     * request costs more than the rest of a small request's HTTP path. */
    pthread_mutex_t pool_mu;
    struct rxholder *pool;
};

/* A reusable body-read aio; its callback argument is the holder. */
typedef struct rxholder {
    struct rxholder *next;
    nng_aio *aio;
    hcpd_req *r; /* the request reading with it now */
} rxholder;

/* Set while a body-read callback runs on this thread: a holder must not go
 * back to the pool from inside its own callback. */
static _Thread_local bool in_body_cb;

struct hcpd_req {
    hcpd_http *h;        /* borrowed; alive while this request is in flight */
    nng_aio *aio;        /* nng's handler aio: completed by our reply */
    nng_http_conn *conn; /* borrowed from nng for the body read */
    rxholder *rx;        /* ours, for the body; back to the pool with the request */
    uint8_t *body;       /* owned, body_len bytes (+1 NUL) */
    size_t body_len;
    struct timespec start;
    atomic_bool replied;
    bool close; /* an unread body is left on the connection: close it */
    char method[16];
    char path[HTTP_URI_MAX];
    char query[HTTP_URI_MAX];
    /* the headers handlers may ask for ("" when absent or too long) */
    bool counted;                   /* in h->inflight (admitted before the stop began) */
    char account[HCPD_ACCOUNT_MAX]; /* who the bearer token proved ("" on a public route) */
    unsigned roles;
    char inm[128]; /* If-None-Match */
    char ims[64];  /* If-Modified-Since */
};

/* Milliseconds elapsed since *t0 (monotonic clock). */
static double http_ms_since(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) * 1e3 + (double)(t.tv_nsec - t0->tv_nsec) / 1e6;
}

/* The handler's data destructor: nng calls it once the handler is gone and
 * no call of it is running. Frees h (owned by the handler). */
static void rx_pool_free(hcpd_http *h);
static atomic_int http_live; /* servers whose handler nng has not freed yet */

static void http_free(void *arg)
{
    hcpd_http *h = arg;
    if (h == NULL) {
        return;
    }
    rx_pool_free(h);
    pthread_cond_destroy(&h->cond);
    pthread_mutex_destroy(&h->mtx);
    pthread_mutex_destroy(&h->pool_mu);
    explicit_bzero(h->token, sizeof(h->token));
    free(h);
}

/* The destructor nng calls: h was counted live when the handler took it. */
static void http_dtor(void *arg)
{
    atomic_fetch_sub(&http_live, 1);
    http_free(arg);
}

/* Free a request and what it owns; the aio of nng is not ours. Safe to call
 * from the body aio's own callback (the aio is reaped, not freed). */
static void req_free(hcpd_req *r)
{
    rxholder *x = r->rx;
    if (x != NULL && in_body_cb) {
        nng_aio_reap(x->aio); /* inside its own callback: not reusable yet */
        free(x);
    } else if (x != NULL) {
        hcpd_http *h = r->h;
        x->r = NULL;
        pthread_mutex_lock(&h->pool_mu);
        x->next = h->pool;
        h->pool = x;
        pthread_mutex_unlock(&h->pool_mu);
    }
    free(r->body);
    free(r);
}

/* Count a request out and wake hcpd_http_stop if it was the last one. */
static void http_done(hcpd_http *h)
{
    pthread_mutex_lock(&h->mtx);
    h->inflight--;
    if (h->inflight == 0) {
        pthread_cond_broadcast(&h->cond);
    }
    pthread_mutex_unlock(&h->mtx);
}

/* The reason phrase of status (nng 1.5.2 lacks some, e.g. 413, 422). */
static const char *http_reason(int status)
{
    static const struct {
        int status;
        const char *reason;
    } tab[] = {
        {200, "OK"},
        {201, "Created"},
        {204, "No Content"},
        {304, "Not Modified"},
        {400, "Bad Request"},
        {401, "Unauthorized"},
        {403, "Forbidden"},
        {404, "Not Found"},
        {405, "Method Not Allowed"},
        {409, "Conflict"},
        {411, "Length Required"},
        {413, "Payload Too Large"},
        {414, "URI Too Long"},
        {415, "Unsupported Media Type"},
        {422, "Unprocessable Entity"},
        {429, "Too Many Requests"},
        {500, "Internal Server Error"},
        {503, "Service Unavailable"},
        {507, "Insufficient Storage"},
    };
    for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++) {
        if (tab[i].status == status) {
            return tab[i].reason;
        }
    }
    return status < 400 ? "OK" : status < 500 ? "Client Error" : "Server Error";
}

/* Build nng's response for r: status, content type, copied data, and the
 * headers the request needs. NULL on allocation failure. */
static nng_http_res *http_res_new(hcpd_req *r, int status, const char *ctype, const void *data,
                                  size_t len)
{
    nng_http_res *res = NULL;
    if (nng_http_res_alloc(&res) != 0) {
        return NULL;
    }
    if (nng_http_res_set_status(res, (uint16_t)status) != 0 ||
        nng_http_res_set_reason(res, http_reason(status)) != 0 ||
        nng_http_res_set_header(res, "Content-Type", ctype) != 0 ||
        nng_http_res_set_header(res, "Cache-Control", "no-store") != 0 ||
        (len > 0 && nng_http_res_copy_data(res, data, len) != 0) ||
        (len == 0 && status != 304 && nng_http_res_set_header(res, "Content-Length", "0") != 0) ||
        (r->close && nng_http_res_set_header(res, "Connection", "close") != 0) ||
        (status == 401 &&
         nng_http_res_set_header(res, "WWW-Authenticate", "Bearer realm=\"hcp-node\"") != 0)) {
        nng_http_res_free(res);
        return NULL;
    }
    return res;
}

/* Complete r with a response (or a hard close when res is NULL), log it,
 * and free r. The in-flight count drops before the aio completes; h stays
 * alive anyway, being the handler's data, until nng is done with the call. */
static void http_complete(hcpd_req *r, nng_http_res *res, int status)
{
    hcpd_http *h = r->h;
    nng_aio *aio = r->aio;
    hcpd_log(status >= 500   ? "warn"
             : status >= 400 ? "info"
                             : "debug",
             "http.request", "method=%s path=%s status=%d ms=%.1f", r->method, r->path,
             res ? status : 0, http_ms_since(&r->start));
    bool counted = r->counted;
    req_free(r);
    if (counted)
        http_done(h);
    if (res == NULL) {
        nng_aio_finish(aio, NNG_ENOMEM); /* nng closes the connection */
        return;
    }
    nng_aio_set_output(aio, 0, res);
    nng_aio_finish(aio, 0);
}

/* Whether this is r's first reply; a second one is a bug, logged and dropped. */
static bool req_first_reply(hcpd_req *r)
{
    if (atomic_exchange(&r->replied, true)) {
        hcpd_log("error", "http.double_reply", "path=%s", r->path);
        return false;
    }
    return true;
}

/* Reply with bytes of a content type (copied). From any thread, once. */
void hcpd_req_reply_raw(hcpd_req *r, int status, const char *content_type, const void *data,
                        size_t len)
{
    if (r == NULL || !req_first_reply(r)) {
        return;
    }
    if (status < 100 || status > 599 || content_type == NULL || (data == NULL && len > 0)) {
        status = 500;
        content_type = "text/plain; charset=utf-8";
        data = "bad reply\n";
        len = 10;
    }
    http_complete(r, http_res_new(r, status, content_type, data, len), status);
}

/* Reply with bytes and extra headers (hcpd.h). From any thread, once. */
void hcpd_req_reply_hdrs(hcpd_req *r, int status, const char *content_type, const void *data,
                         size_t len, const hcpd_hdr *hdrs, size_t nhdrs)
{
    if (r == NULL || hdrs == NULL || nhdrs == 0 || status < 100 || status > 599 ||
        content_type == NULL || (data == NULL && len > 0)) {
        hcpd_req_reply_raw(r, status, content_type, data, len);
        return;
    }
    if (!req_first_reply(r)) {
        return;
    }
    nng_http_res *res = http_res_new(r, status, content_type, data, len);
    for (size_t i = 0; res != NULL && i < nhdrs; i++) {
        if (hdrs[i].name == NULL || hdrs[i].value == NULL ||
            nng_http_res_set_header(res, hdrs[i].name, hdrs[i].value) != 0) {
            nng_http_res_free(res);
            res = NULL;
        }
    }
    http_complete(r, res, status);
}

/* Reply with body as compact JSON; body (a new reference) is stolen. */
void hcpd_req_reply_json(hcpd_req *r, int status, json_t *body)
{
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (r == NULL) {
        free(text);
        return;
    }
    if (text == NULL) {
        static const char oom[] = "{\"error\":\"internal\",\"detail\":\"out of memory\"}";
        hcpd_req_reply_raw(r, 500, "application/json; charset=utf-8", oom, sizeof(oom) - 1);
        return;
    }
    hcpd_req_reply_raw(r, status, "application/json; charset=utf-8", text, strlen(text));
    free(text);
}

/* Reply with {"error": error, "detail": detail}. */
void hcpd_req_reply_error(hcpd_req *r, int status, const char *error, const char *detail)
{
    json_t *o =
        json_pack("{s:s, s:s}", "error", error ? error : "error", "detail", detail ? detail : "");
    if (o == NULL) { /* detail was not UTF-8: drop it rather than fail */
        o = json_pack("{s:s, s:s}", "error", "error", "detail", "");
    }
    hcpd_req_reply_json(r, status, o);
}

const char *hcpd_req_method(const hcpd_req *r)
{
    return r ? r->method : "";
}

const char *hcpd_req_path(const hcpd_req *r)
{
    return r ? r->path : "";
}

/* Only the headers handlers ask for are kept (hcpd.h). */
const char *hcpd_req_header(const hcpd_req *r, const char *name)
{
    if (r == NULL || name == NULL)
        return NULL;
    const char *v = NULL;
    if (strcasecmp(name, "If-None-Match") == 0)
        v = r->inm;
    else if (strcasecmp(name, "If-Modified-Since") == 0)
        v = r->ims;
    return v != NULL && v[0] != '\0' ? v : NULL;
}

/* The request body (owned by r, borrowed until the reply); NUL-terminated
 * for convenience, *len excludes the NUL. */
void hcpd_req_body(const hcpd_req *r, const char **body, size_t *len)
{
    if (body != NULL) {
        *body = (r && r->body) ? (const char *)r->body : "";
    }
    if (len != NULL) {
        *len = r ? r->body_len : 0;
    }
}

/* Value of a hex digit, or -1. */
static int http_hex(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/* URL-decode [s, s+n) ('+' is a space, %XX a byte) into buf of len bytes,
 * NUL-terminated. False if malformed, holding a NUL, or too long. */
static bool http_urldecode(const char *s, size_t n, char *buf, size_t len)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)s[i];
        if (c == '+') {
            c = ' ';
        } else if (c == '%') {
            if (i + 2 >= n) {
                return false;
            }
            int hi = http_hex(s[i + 1]), lo = http_hex(s[i + 2]);
            if (hi < 0 || lo < 0) {
                return false;
            }
            c = hi * 16 + lo;
            i += 2;
        }
        if (c == 0 || o + 1 >= len) {
            return false;
        }
        buf[o++] = (char)c;
    }
    buf[o] = '\0';
    return true;
}

/* Copy query parameter key (URL-decoded) into buf; false when absent,
 * malformed or too long. The first occurrence wins. */
bool hcpd_req_query(const hcpd_req *r, const char *key, char *buf, size_t len)
{
    if (r == NULL || key == NULL || buf == NULL || len == 0) {
        return false;
    }
    char name[256];
    const char *p = r->query;
    while (*p != '\0') {
        size_t plen = strcspn(p, "&");
        const char *eq = memchr(p, '=', plen);
        size_t klen = eq ? (size_t)(eq - p) : plen;
        if (http_urldecode(p, klen, name, sizeof(name)) && strcmp(name, key) == 0) {
            return eq ? http_urldecode(eq + 1, plen - klen - 1, buf, len)
                      : http_urldecode("", 0, buf, len);
        }
        p += plen;
        if (*p == '&') {
            p++;
        }
    }
    return false;
}

const char *hcpd_req_account(const hcpd_req *r)
{
    return r != NULL ? r->account : "";
}

unsigned hcpd_req_roles(const hcpd_req *r)
{
    return r != NULL ? r->roles : 0;
}

/* Whether buf (NUL-terminated) is valid UTF-8 without control characters. */
static bool http_query_text_ok(const char *buf)
{
    size_t n = strlen(buf);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)buf[i] < 0x20 || buf[i] == 0x7f)
            return false;
    return hcp_utf8_valid(buf, n);
}

/* Query parameter key of r (hcpd.h): HCPD_Q_ABSENT, HCPD_Q_OK or
 * HCPD_Q_BAD (malformed, too long, or given twice). */
int hcpd_req_query_get(const hcpd_req *r, const char *key, char *buf, size_t len)
{
    if (r == NULL || key == NULL || buf == NULL || len == 0)
        return HCPD_Q_BAD;
    buf[0] = '\0';
    int found = HCPD_Q_ABSENT;
    char name[256];
    const char *p = r->query;
    while (*p != '\0') {
        size_t plen = strcspn(p, "&");
        const char *eq = memchr(p, '=', plen);
        size_t klen = eq ? (size_t)(eq - p) : plen;
        if (http_urldecode(p, klen, name, sizeof(name)) && strcmp(name, key) == 0) {
            if (found != HCPD_Q_ABSENT)
                return HCPD_Q_BAD; /* twice: which one would be meant? */
            bool ok = eq ? http_urldecode(eq + 1, plen - klen - 1, buf, len)
                         : http_urldecode("", 0, buf, len);
            if (!ok || !http_query_text_ok(buf))
                return HCPD_Q_BAD;
            found = HCPD_Q_OK;
        }
        p += plen;
        if (*p == '&')
            p++;
    }
    return found;
}

/* Compare the presented token with ours in time independent of where they
 * differ (only our token's length shows). */
static bool http_token_equal(const char *want, const char *got, size_t gotlen)
{
    size_t wlen = strlen(want);
    volatile unsigned char diff = (unsigned char)(wlen != gotlen || wlen == 0);
    for (size_t i = 0; i < wlen; i++) {
        unsigned char g = i < gotlen ? (unsigned char)got[i] : 0;
        diff |= (unsigned char)want[i] ^ g;
    }
    return diff == 0;
}

/* Check "Authorization: Bearer TOKEN" and set r's account and roles: our
 * token is the account "admin" (every role); any other goes to the
 * daemon's authenticate hook. *why receives the reason on failure. */
static bool http_authorized(hcpd_http *h, hcpd_req *r, nng_http_req *req, const char **why)
{
    const char *a = nng_http_req_get_header(req, "Authorization");
    if (a == NULL) {
        *why = "missing";
        return false;
    }
    while (*a == ' ') {
        a++;
    }
    if (strncasecmp(a, "Bearer ", 7) != 0) {
        *why = "not_bearer";
        return false;
    }
    a += 7;
    while (*a == ' ') {
        a++;
    }
    size_t n = strlen(a);
    while (n > 0 && (a[n - 1] == ' ' || a[n - 1] == '\t')) {
        n--;
    }
    if (http_token_equal(h->token, a, n)) {
        snprintf(r->account, sizeof(r->account), "admin");
        r->roles = HCPD_ROLE_ALL;
        return true;
    }
    char tok[256];
    if (h->cfg.authenticate != NULL && n > 0 && n < sizeof(tok)) {
        memcpy(tok, a, n);
        tok[n] = '\0';
        char name[HCPD_ACCOUNT_MAX] = "";
        unsigned roles = 0;
        bool ok = h->cfg.authenticate(h->cfg.arg, tok, name, &roles);
        explicit_bzero(tok, sizeof(tok));
        if (ok && name[0] != '\0' && memchr(name, '\0', sizeof(name)) != NULL) {
            memcpy(r->account, name, sizeof(name));
            r->roles = roles & HCPD_ROLE_ALL;
            return true;
        }
    }
    *why = "wrong_token";
    return false;
}

/* Hand a complete request to the daemon's handler. */
static void http_dispatch(hcpd_req *r)
{
    hcpd_http *h = r->h;
    h->cfg.handle(h->cfg.arg, r);
}

/* The body has arrived (or the read failed: the connection is dropped). */
static void http_body_done(void *arg)
{
    rxholder *x = arg;
    hcpd_req *r = x->r;
    int rv = nng_aio_result(x->aio);
    in_body_cb = true;
    if (rv != 0) {
        hcpd_log("warn", "http.body_failed", "method=%s path=%s reason=\"%s\"", r->method, r->path,
                 nng_strerror(rv));
        if (req_first_reply(r)) {
            http_complete(r, NULL, 0);
        }
    } else {
        r->body[r->body_len] = '\0';
        http_dispatch(r);
    }
    in_body_cb = false;
}

/* A body reader from the pool, or a new one. */
static rxholder *rx_get(hcpd_http *h)
{
    pthread_mutex_lock(&h->pool_mu);
    rxholder *x = h->pool;
    if (x != NULL)
        h->pool = x->next;
    pthread_mutex_unlock(&h->pool_mu);
    if (x != NULL)
        return x;
    x = calloc(1, sizeof(*x));
    if (x != NULL && nng_aio_alloc(&x->aio, http_body_done, x) != 0) {
        free(x);
        x = NULL;
    }
    return x;
}

/* Free the pooled readers (no request is in flight any more). */
static void rx_pool_free(hcpd_http *h)
{
    pthread_mutex_lock(&h->pool_mu);
    rxholder *x = h->pool;
    h->pool = NULL;
    pthread_mutex_unlock(&h->pool_mu);
    while (x != NULL) {
        rxholder *next = x->next;
        nng_aio_free(x->aio);
        free(x);
        x = next;
    }
}

/* Parse the Content-Length of req into *len; 0 or an HTTP status to refuse
 * with. Bodies are only framed by Content-Length (no chunked uploads). */
static int http_body_length(nng_http_req *req, size_t *len)
{
    *len = 0;
    if (nng_http_req_get_header(req, "Transfer-Encoding") != NULL) {
        return 411;
    }
    const char *cl = nng_http_req_get_header(req, "Content-Length");
    if (cl == NULL) {
        return 0;
    }
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(cl, &end, 10);
    if (errno != 0 || end == cl || *end != '\0' || cl[0] == '-') {
        return 400;
    }
    if (v > HCP_BODY_MAX) {
        return 413;
    }
    *len = (size_t)v;
    return 0;
}

/* Start reading r's body of len bytes; false (r still ours) on failure. */
static bool http_read_body(hcpd_req *r, size_t len)
{
    nng_iov iov;
    if ((r->body = malloc(len + 1)) == NULL || (r->rx = rx_get(r->h)) == NULL) {
        return false;
    }
    r->rx->r = r;
    r->body_len = len;
    iov.iov_buf = r->body;
    iov.iov_len = len;
    if (nng_aio_set_iov(r->rx->aio, 1, &iov) != 0) {
        return false;
    }
    nng_aio_set_timeout(r->rx->aio, HTTP_BODY_TIMEOUT);
    nng_http_conn_read_all(r->conn, r->rx->aio);
    return true;
}

/* Keep a header value if it fits (else leave dst empty). */
static void http_keep(char *dst, size_t len, const char *v)
{
    if (v != NULL && strlen(v) < len)
        memcpy(dst, v, strlen(v) + 1);
}

/* Copy method, path and query of req into r; 0 or an HTTP status. */
static int http_req_target(hcpd_req *r, nng_http_req *req)
{
    const char *m = nng_http_req_get_method(req);
    const char *uri = nng_http_req_get_uri(req);
    if (m == NULL || uri == NULL || strlen(m) >= sizeof(r->method)) {
        snprintf(r->method, sizeof(r->method), "?");
        return 400;
    }
    snprintf(r->method, sizeof(r->method), "%s", m);
    size_t plen = strcspn(uri, "?");
    if (plen >= sizeof(r->path) || strlen(uri) - plen >= sizeof(r->query)) {
        snprintf(r->path, sizeof(r->path), "(too long)");
        return 414;
    }
    memcpy(r->path, uri, plen);
    r->path[plen] = '\0';
    snprintf(r->query, sizeof(r->query), "%s", uri[plen] == '?' ? uri + plen + 1 : "");
    http_keep(r->inm, sizeof(r->inm), nng_http_req_get_header(req, "If-None-Match"));
    http_keep(r->ims, sizeof(r->ims), nng_http_req_get_header(req, "If-Modified-Since"));
    return 0;
}

/* Refuse r with status before its body was read: the body (if any) is left
 * on the wire, so the connection closes after the reply. */
static void http_refuse(hcpd_req *r, int status, const char *error, const char *detail)
{
    r->close = true;
    hcpd_req_reply_error(r, status, error, detail);
}

/* Checks that need only the headers: stopping, target, token, length.
 * True when r was refused (and answered). */
static bool http_precheck(hcpd_http *h, hcpd_req *r, nng_http_req *req, bool stopping, size_t *len)
{
    const char *why = NULL;
    int st;
    if ((st = http_req_target(r, req)) != 0) {
        http_refuse(r, st, st == 414 ? "uri_too_long" : "bad_request", "request target");
    } else if (stopping) {
        http_refuse(r, 503, "unavailable", "the server is shutting down");
    } else if (!(h->cfg.is_public != NULL && h->cfg.is_public(r->method, r->path)) &&
               !http_authorized(h, r, req, &why)) {
        hcpd_log("warn", "http.unauthorized", "method=%s path=%s reason=%s", r->method, r->path,
                 why);
        http_refuse(r, 401, "unauthorized", "send Authorization: Bearer <token>");
    } else if ((st = http_body_length(req, len)) != 0) {
        http_refuse(r, st,
                    st == 413   ? "payload_too_large"
                    : st == 411 ? "length_required"
                                : "bad_request",
                    st == 413 ? "the body exceeds 65536 bytes"
                              : "a body needs a valid Content-Length");
    } else {
        return false;
    }
    return true;
}

/* nng's handler callback, on one of nng's threads: one call per request. */
static void http_handle(nng_aio *aio)
{
    nng_http_req *req = nng_aio_get_input(aio, 0);
    nng_http_handler *hd = nng_aio_get_input(aio, 1);
    hcpd_http *h = nng_http_handler_get_data(hd);
    hcpd_req *r = calloc(1, sizeof(*r));
    if (r == NULL) {
        nng_aio_finish(aio, NNG_ENOMEM);
        return;
    }
    r->h = h;
    r->aio = aio;
    r->conn = nng_aio_get_input(aio, 2);
    atomic_init(&r->replied, false);
    clock_gettime(CLOCK_MONOTONIC, &r->start);
    pthread_mutex_lock(&h->mtx);
    bool stopping = h->stopping;
    r->counted = !stopping; /* arrivals during the stop are refused at once: no wait */
    if (r->counted)
        h->inflight++;
    pthread_mutex_unlock(&h->mtx);
    size_t len = 0;
    if (http_precheck(h, r, req, stopping, &len)) {
        return;
    }
    if (len == 0) {
        http_dispatch(r);
    } else if (!http_read_body(r, len)) {
        http_refuse(r, 500, "internal", "out of memory");
    }
}

/* Allocate the catch-all handler with h as its data (owned by it from here). */
static int http_handler_new(hcpd_http *h, nng_http_handler **out)
{
    nng_http_handler *hd = NULL;
    int rv = nng_http_handler_alloc(&hd, "/", http_handle);
    if (rv != 0) {
        return rv;
    }
    if ((rv = nng_http_handler_set_method(hd, NULL)) != 0 ||
        (rv = nng_http_handler_set_tree(hd)) != 0 ||
        (rv = nng_http_handler_collect_body(hd, false, 0)) != 0 ||
        (rv = nng_http_handler_set_data(hd, h, http_dtor)) != 0) {
        nng_http_handler_free(hd);
        return rv;
    }
    atomic_fetch_add(&http_live, 1);
    *out = hd;
    return 0;
}

/* Hold a server for "http://" + listen_http, add the handler and start it.
 * Takes hd (and with it h, its data): on failure both are freed. */
static int http_server_up(hcpd_http *h, const char *listen, nng_http_handler *hd)
{
    char url[300];
    nng_url *u = NULL;
    snprintf(url, sizeof(url), "http://%s", listen);
    int rv = nng_url_parse(&u, url);
    if (rv == 0) {
        rv = nng_http_server_hold(&h->server, u);
        nng_url_free(u);
    }
    if (rv != 0) {
        nng_http_handler_free(hd);
        return rv;
    }
    if ((rv = nng_http_server_add_handler(h->server, hd)) != 0) {
        nng_http_server_release(h->server);
        nng_http_handler_free(hd);
        return rv;
    }
    if ((rv = nng_http_server_start(h->server)) != 0) {
        nng_http_server_release(h->server); /* frees the handler and h with it */
        return rv;
    }
    return 0;
}

/* Log the address actually bound (the port may have been 0). */
static void http_log_addr(hcpd_http *h, const char *listen)
{
    nng_sockaddr sa;
    char host[256];
    if (nng_http_server_get_addr(h->server, &sa) == 0 && sa.s_family == NNG_AF_INET) {
        const uint8_t *a = (const uint8_t *)&sa.s_in.sa_addr;
        unsigned port = ((unsigned)((const uint8_t *)&sa.s_in.sa_port)[0] << 8) |
                        ((const uint8_t *)&sa.s_in.sa_port)[1];
        snprintf(host, sizeof(host), "%u.%u.%u.%u:%u", a[0], a[1], a[2], a[3], port);
    } else {
        snprintf(host, sizeof(host), "%s", listen);
    }
    hcpd_log("info", "http.listen", "addr=%s", host);
}

/* Start serving as cfg says; on success *out is the server (stop it with
 * hcpd_http_stop). cfg is copied; its strings need not outlive the call. */
int hcpd_http_start(const hcpd_http_cfg *cfg, hcpd_http **out)
{
    if (cfg == NULL || out == NULL || cfg->listen == NULL || cfg->token == NULL ||
        cfg->token[0] == '\0' || cfg->handle == NULL)
        return HCP_EINVAL;
    hcpd_http *h = calloc(1, sizeof(*h));
    if (h == NULL)
        return HCP_ENOMEM;
    h->cfg = *cfg;
    if (strlen(cfg->listen) >= sizeof(h->listen) || strlen(cfg->token) >= sizeof(h->token)) {
        free(h);
        return HCP_ERANGE;
    }
    memcpy(h->listen, cfg->listen, strlen(cfg->listen) + 1);
    memcpy(h->token, cfg->token, strlen(cfg->token) + 1);
    h->cfg.listen = h->listen;
    h->cfg.token = h->token;
    if (pthread_mutex_init(&h->mtx, NULL) != 0) {
        free(h);
        return HCP_ENOMEM;
    }
    pthread_mutex_init(&h->pool_mu, NULL);
    if (pthread_cond_init(&h->cond, NULL) != 0) {
        pthread_mutex_destroy(&h->mtx);
        free(h);
        return HCP_ENOMEM;
    }
    nng_http_handler *hd = NULL;
    int rv = http_handler_new(h, &hd);
    if (rv != 0) {
        http_free(h);
        hcpd_log("error", "http.start_failed", "reason=\"%s\"", nng_strerror(rv));
        return HCP_ENOMEM;
    }
    if ((rv = http_server_up(h, cfg->listen, hd)) != 0) { /* h is gone */
        hcpd_log("error", "http.start_failed", "addr=%s reason=\"%s\"", cfg->listen,
                 nng_strerror(rv));
        return HCP_EIO;
    }
    http_log_addr(h, cfg->listen);
    *out = h;
    return HCP_OK;
}

/* Wait up to ms for the in-flight count to reach zero; h->mtx held. */
static void http_wait(hcpd_http *h, int ms)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    t.tv_nsec += (long)ms * 1000000L;
    t.tv_sec += t.tv_nsec / 1000000000L;
    t.tv_nsec %= 1000000000L;
    if (h->inflight > 0) {
        pthread_cond_timedwait(&h->cond, &h->mtx, &t);
    }
}

/*
 * Stop accepting requests (new ones get 503) and wait until every request
 * in flight was answered; then stop and release nng's server. Call it on the
 * loop thread after uv_run returned: while waiting it turns the loop
 * (UV_RUN_NOWAIT), so writes queued to the writer still commit and reply.
 */
/* Stop and release an nng HTTP server (arg); for hcpd_nng_bounded. */
static void http_server_end(void *arg)
{
    nng_http_server *srv = arg;
    nng_http_server_stop(srv);
    nng_http_server_release(srv); /* frees the handler, then h (http_free) */
}

void hcpd_http_stop(hcpd_http *h)
{
    if (h == NULL) {
        return;
    }
    struct timespec t0, last;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    last = t0;
    pthread_mutex_lock(&h->mtx);
    h->stopping = true;
    while (h->inflight > 0) {
        pthread_mutex_unlock(&h->mtx);
        if (h->cfg.loop != NULL) {
            uv_run(h->cfg.loop, UV_RUN_NOWAIT);
        }
        if (http_ms_since(&last) >= HTTP_DRAIN_LOG_MS) {
            hcpd_log("info", "http.draining", "inflight=%d", h->inflight);
            clock_gettime(CLOCK_MONOTONIC, &last);
        }
        pthread_mutex_lock(&h->mtx);
        http_wait(h, 2);
    }
    pthread_mutex_unlock(&h->mtx);
    nng_msleep(HTTP_GRACE_MS); /* the last replies are still being written */
    if (!hcpd_nng_bounded(http_server_end, h->server, 3)) {
        hcpd_log("error", "http.stop_stuck",
                 "detail=\"nng did not stop the HTTP server within 3 s; going on\"");
        return;
    }
    /* nng frees the handler on its reaper thread: wait (boundedly) so that
     * nothing of the server outlives the daemon's teardown */
    for (int i = 0; i < 200 && atomic_load(&http_live) > 0; i++)
        nng_msleep(5); /* at most 1 s (see tests/lsan.supp) */
    if (atomic_load(&http_live) > 0)
        hcpd_log("warn", "http.stop_slow", "detail=\"nng has not released the server yet\"");
    hcpd_log("info", "http.stopped", "ms=%.0f", http_ms_since(&t0));
}
