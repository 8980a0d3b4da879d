/*
 * http.c — the daemons' HTTP/1.1 server: sockets on libuv, request parsing
 * by http_parser (Debian's libhttp-parser). It replaced nng's supplemental
 * HTTP server, which has no idle or read timeouts and no connection cap, so
 * idle TCP connections could take a daemon's HTTP port down (docs/http.md).
 *
 * One server thread runs a libuv loop of its own: it accepts, reads, parses,
 * calls the daemon's handler and writes. Replies may come from any thread:
 * a reply made on another thread is formatted there, queued under a lock and
 * handed over with uv_async_send; one made on the server thread (inside the
 * handler, or our own refusals) goes on a list the server drains when the
 * handler returns. Each connection has one request at a time: while it is
 * with the handler and while its reply is written, the connection is not
 * read, so pipelined requests wait in the socket and are answered in order.
 *
 * Slow work (a feed page rendered from LMDB, a long scan, a commit) must not
 * hold the server thread, or every connection waits behind it, /healthz
 * included: a handler hands it to hcpd_req_offload, which queues the request
 * for a small pool of worker threads (HCP_HTTP_WORKERS, default the CPUs,
 * 2..8). The request stays counted in flight and its connection paused
 * until the worker's reply arrives through the locked queue like any reply
 * from another thread.
 *
 * Limits (docs/http.md "Limits"): an idle keep-alive connection
 * is closed after HCP_HTTP_IDLE_MS (30 s); a request must arrive whole within
 * HCP_HTTP_REQUEST_MS (30 s) of its first byte (408 and close), and a reply
 * must be taken by the client within the same time; at most max_conns
 * connections (HCP_HTTP_MAX_CONNS, 1024): at the cap a new connection evicts
 * the one idle longest, else the one whose headers have been arriving
 * longest (unauthenticated), else it is answered 503 overloaded. The token is
 * checked when the headers are complete, before any body byte is buffered;
 * a public route answers only GET and HEAD and never reads a body. A parse
 * error is answered once (400) and the connection closed.
 *
 * The access log line holds method, path (no query), status, duration and
 * the account — never a body, never a query string.
 */
#include <http_parser.h>
#include <uv.h>

#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "hcp_time.h"
#include "hcpd.h"
#include "hex.h"
#include "json.h"
#include "lock.h"
#include "session.h"

#define HTTP_URI_MAX       4096  /* longest request target accepted (414 beyond) */
#define HTTP_HEAD_MAX      16384 /* bytes of a request's header section (431 beyond) */
#define HTTP_FIELDS_MAX    100   /* header lines of a request (431 beyond) */
#define HTTP_RBUF          8192  /* per-connection read buffer */
#define HTTP_BLANK_MAX     64    /* CR/LF bytes tolerated before a request line */
#define HTTP_AUTH_MAX      512   /* longest Authorization value kept */
#define HTTP_NAME_MAX      32    /* longest header name we look at */
#define HTTP_EXTRA_MAX     16    /* extra response headers of one reply */
#define HTTP_IDLE_MS       30000 /* default idle keep-alive timeout */
#define HTTP_REQUEST_MS    30000 /* default time for a request to arrive (and a reply to leave) */
#define HTTP_MAX_CONNS     1024  /* default cap on open connections */
#define HTTP_OVERFLOW_MAX  64    /* connections being refused 503 at once, beyond the cap */
#define HTTP_LINGER_MS     1000  /* after a closing reply: wait this long for the client's FIN */
#define HTTP_DRAIN_LOG_MS  5000  /* how often stop reports what it waits for */
#define HTTP_WRITE_WAIT_MS 1000  /* how long stop lets the last replies leave */
#define HTTP_WORKERS_MIN   2     /* worker threads by default: the CPUs within MIN..MAX */
#define HTTP_WORKERS_MAX   8
#define HTTP_WORKERS_CAP   64   /* the most HCP_HTTP_WORKERS may ask for */
#define HTTP_GATE_POLL_MS  10   /* how often a held job looks for the test gate */
#define HTTP_COOKIE_MAX    2048 /* longest Cookie value kept (longer: no session) */
#define HTTP_SESSION_BODY  4096 /* the largest body POST /v1/session reads */
#define HTTP_SESSION_PATH  "/v1/session"

enum conn_state {
    C_IDLE,    /* between requests: evictable, idle timer */
    C_READING, /* a request is arriving: request timer */
    C_WAITING, /* its request is with the handler: no timer, not read */
    C_WRITING, /* its reply is being written: request timer, not read */
    C_LINGER,  /* closing: FIN sent, discarding input until EOF or the timer */
};
enum conn_list { L_NONE, L_IDLE, L_HEAD };

typedef struct conn conn;

struct hcpd_http {
    hcpd_http_cfg cfg;       /* copied; cfg.listen and cfg.token point into this struct */
    hcpd_sessions *sessions; /* the console sessions (session.h) */
    char listen[256];
    char token[128];
    int max_conns, idle_ms, request_ms;
    uv_loop_t loop; /* the server thread's */
    uv_thread_t thread;
    bool thread_up;
    bool cookie_secure; /* add "; Secure" to the session cookie */
    uv_tcp_t listener;
    bool listener_open;
    uv_async_t async;
    /* server thread only */
    int nconns;    /* open connections under the cap */
    int noverflow; /* connections being refused beyond it */
    conn *all;     /* every connection (for the final close) */
    /* copies for hcpd_http_conn_stats on other threads (written here only) */
    atomic_int conns_pub;
    atomic_ullong overloaded_pub;
    struct {
        conn *head, *tail;
    } lists[3];                   /* L_IDLE and L_HEAD: eviction candidates, oldest first */
    hcpd_req *ready, *ready_tail; /* replies made on the server thread */
    /* shared with other threads, under mtx */
    pthread_mutex_t mtx;
    pthread_cond_t cond;
    hcpd_req *queue, *queue_tail; /* replies made on other threads */
    int inflight;                 /* requests with the handler, not yet answered */
    bool stopping, quit;
    atomic_int writing; /* replies being written */
    /* the worker pool of hcpd_req_offload: jobs under mtx */
    pthread_cond_t jobs_cond;
    /* queued, not yet taken by a worker: [0] requests with an account, taken
     * first, so a flood of anonymous feed renders cannot starve them; [1]
     * anonymous ones (public routes without a token) */
    hcpd_req *jobs[2], *jobs_tail[2];
    int offloaded;  /* queued or running */
    bool jobs_quit; /* workers end once the queue is empty */
    int nworkers, workers_up;
    uv_thread_t workers[HTTP_WORKERS_CAP];
    char gate[256];          /* HCP_TEST_OFFLOAD_GATE: jobs wait for this file ("" none) */
    char scratch[HTTP_RBUF]; /* where closing connections' input is discarded */
};

struct hcpd_req {
    hcpd_http *h;
    conn *c;        /* server thread only; NULL once the connection is gone */
    hcpd_req *next; /* in h->queue or h->ready */
    /* hcpd_req_offload: what a worker runs, and the link in h->jobs */
    void (*work)(void *arg, hcpd_req *r);
    void *work_arg;
    hcpd_req *job_next;
    uv_write_t wr;
    char *out; /* the formatted response (owned), outlen bytes; NULL: close */
    size_t outlen;
    /* hcpd_req_reply_lent: the body written after out, borrowed until
     * lent_done(lent_ctx) (called once, by req_free) */
    const char *lent;
    size_t lentlen;
    void (*lent_done)(void *ctx);
    void *lent_ctx;
    int status;
    atomic_bool replied;
    bool counted; /* given to the handler: in h->inflight until its reply is taken */
    bool head;    /* HEAD: headers only */
    bool close;   /* Connection: close after the reply */
    bool keep10;  /* HTTP/1.0 keep-alive: say so */
    bool split;   /* url is cut into path and query */
    uint64_t t0;  /* uv_hrtime of the first byte */
    char *body;   /* owned, body_len bytes + NUL */
    size_t body_len, body_cap;
    unsigned roles;
    char method[16];
    char account[HCPD_ACCOUNT_MAX];
    /* authenticated by the session cookie: its id, CSRF token and end */
    bool by_cookie;
    char sid[HCPD_SESSION_HEX];
    char sess_csrf[HCPD_SESSION_HEX];
    int64_t sess_expires;
    char csrf[HCPD_SESSION_HEX + 1]; /* X-CSRF-Token as sent (overlong: dropped) */
    char inm[128];                   /* If-None-Match */
    char ims[64];                    /* If-Modified-Since */
    char ae[256];                    /* Accept-Encoding (overlong: dropped, the plain answer) */
    const char *query;               /* into url, after the path's NUL */
    char url[HTTP_URI_MAX + 2];      /* path NUL query */
    size_t url_len;
};

struct conn {
    uv_tcp_t tcp;
    uv_timer_t timer;
    uv_shutdown_t shut;
    hcpd_http *h;
    http_parser p;
    enum conn_state state;
    enum conn_list list;
    conn *prev, *next;   /* in h->lists[list] */
    conn *aprev, *anext; /* in h->all */
    int handles;         /* of tcp and timer still open */
    bool closing, overflow, reading;
    hcpd_req *r;               /* being read, with the handler, or being written */
    bool in_msg;               /* a request line began */
    bool refused;              /* r was answered at its headers: parser paused */
    bool complete;             /* r arrived whole: parser paused */
    int perr;                  /* our verdict when a callback stops the parser (414, 431, 503) */
    size_t blank;              /* CR/LF bytes before the request line */
    size_t head_bytes;         /* of the header section so far */
    unsigned fields;           /* header lines so far */
    bool in_value;             /* the last header callback was a value */
    char field[HTTP_NAME_MAX]; /* the current header name (truncated: not ours) */
    size_t field_len;
    char *val; /* where the current value goes (NULL: dropped) */
    size_t val_cap, val_len;
    bool auth_seen, auth_bad, expect_continue;
    bool cookie_seen, cookie_bad;
    char auth[HTTP_AUTH_MAX];
    char cookie[HTTP_COOKIE_MAX];
    char expect[32];
    size_t rlen;
    char rbuf[HTTP_RBUF];
};

/* The server a thread runs (NULL off the server threads): replies made on
 * it are taken without a hop through the queue. */
static _Thread_local hcpd_http *tls_server;

static void conn_process(conn *c);
static void conn_close(conn *c);
static void http_drain_ready(hcpd_http *h);

/* ---- responses ---- */

/* The reason phrase of status. */
static const char *http_reason(int status)
{
    static const struct {
        int status;
        const char *reason;
    } tab[] = {
        {100, "Continue"},
        {200, "OK"},
        {201, "Created"},
        {204, "No Content"},
        {304, "Not Modified"},
        {400, "Bad Request"},
        {401, "Unauthorized"},
        {403, "Forbidden"},
        {404, "Not Found"},
        {405, "Method Not Allowed"},
        {408, "Request Timeout"},
        {409, "Conflict"},
        {411, "Length Required"},
        {413, "Payload Too Large"},
        {414, "URI Too Long"},
        {415, "Unsupported Media Type"},
        {422, "Unprocessable Entity"},
        {429, "Too Many Requests"},
        {431, "Request Header Fields Too Large"},
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

/* Whether s may be sent as a header name (an RFC 7230 token). */
static bool http_token_ok(const char *s)
{
    if (s == NULL || *s == '\0') {
        return false;
    }
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        if (c <= 32 || c >= 127 || strchr("\"(),/:;<=>?@[\\]{}", c) != NULL) {
            return false;
        }
    }
    return true;
}

/* Whether s may be sent as a header value: no CR, LF or other control byte
 * (a handler's value can never split the response). */
static bool http_value_ok(const char *s)
{
    if (s == NULL) {
        return false;
    }
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c < 32 && c != '\t') || c == 127) {
            return false;
        }
    }
    return true;
}

/* Appends to a buffer sized beforehand. */
typedef struct obuf {
    char *p;
    size_t len, cap;
} obuf;

static void ob_put(obuf *o, const void *s, size_t n)
{
    if (o->len + n <= o->cap) {
        memcpy(o->p + o->len, s, n);
        o->len += n;
    }
}

static void ob_str(obuf *o, const char *s)
{
    ob_put(o, s, strlen(s));
}

/* Format r's response: status line, the defaults (Content-Type, Cache-Control
 * no-store) with the extra headers replacing those of the same name, framing
 * headers, then the body (none for HEAD, 204, 304). A malloc'd buffer into
 * *out, or false when an extra header is malformed or memory ran out. */
static bool http_format(const hcpd_req *r, int status, const char *ctype, const void *data,
                        size_t len, bool lent, const hcpd_hdr *extra, size_t nextra, char **out,
                        size_t *outlen)
{
    hcpd_hdr hdrs[2 + HTTP_EXTRA_MAX];
    size_t n = 0;
    hdrs[n++] = (hcpd_hdr){"Content-Type", ctype};
    hdrs[n++] = (hcpd_hdr){"Cache-Control", "no-store"};
    if (nextra > HTTP_EXTRA_MAX) {
        return false;
    }
    for (size_t i = 0; i < nextra; i++) {
        const char *nm = extra[i].name;
        if (!http_token_ok(nm) || !http_value_ok(extra[i].value) ||
            strcasecmp(nm, "Content-Length") == 0 || strcasecmp(nm, "Connection") == 0 ||
            strcasecmp(nm, "Transfer-Encoding") == 0) {
            return false;
        }
        size_t j = 0;
        while (j < n && strcasecmp(hdrs[j].name, nm) != 0) {
            j++;
        }
        hdrs[j] = extra[i];
        if (j == n) {
            n++;
        }
    }
    bool bodyless = status == 204 || status == 304 || status < 200;
    bool send_body = !bodyless && !r->head;
    bool append = send_body && !lent; /* a lent body is written after these bytes */
    size_t cap = 128 + (append ? len : 0);
    for (size_t i = 0; i < n; i++) {
        cap += strlen(hdrs[i].name) + strlen(hdrs[i].value) + 4;
    }
    cap += 80; /* Connection, WWW-Authenticate */
    obuf o = {malloc(cap), 0, cap};
    if (o.p == NULL) {
        return false;
    }
    char line[96];
    snprintf(line, sizeof(line), "HTTP/1.1 %d %s\r\n", status, http_reason(status));
    ob_str(&o, line);
    for (size_t i = 0; i < n; i++) {
        ob_str(&o, hdrs[i].name);
        ob_put(&o, ": ", 2);
        ob_str(&o, hdrs[i].value);
        ob_put(&o, "\r\n", 2);
    }
    if (!bodyless) {
        snprintf(line, sizeof(line), "Content-Length: %zu\r\n", len);
        ob_str(&o, line);
    }
    if (r->close) {
        ob_str(&o, "Connection: close\r\n");
    } else if (r->keep10) {
        ob_str(&o, "Connection: keep-alive\r\n");
    }
    if (status == 401) {
        ob_str(&o, "WWW-Authenticate: Bearer realm=\"hcp\"\r\n");
    }
    ob_put(&o, "\r\n", 2);
    if (append && len > 0) {
        ob_put(&o, data, len);
    }
    *out = o.p;
    *outlen = o.len;
    return true;
}

/* Whether this is r's first reply; a second one is a bug, logged and dropped. */
static bool req_first_reply(hcpd_req *r)
{
    if (atomic_exchange(&r->replied, true)) {
        hcpd_log("error", "http.double_reply", "path=%s", r->url);
        return false;
    }
    return true;
}

/* Replies held on this thread between hcpd_reply_hold and hcpd_reply_flush
 * (a committed batch's answers), handed over together. */
static _Thread_local bool tls_hold;
static _Thread_local hcpd_req *tls_held, *tls_held_tail;

/* Append the list first..last (linked by next) to h's queue and wake the
 * server thread once for all of them. */
static void http_queue_post(hcpd_http *h, hcpd_req *first, hcpd_req *last)
{
    last->next = NULL;
    hcp_mutex_lock(&h->mtx);
    if (h->queue_tail != NULL) {
        h->queue_tail->next = first;
    } else {
        h->queue = first;
    }
    h->queue_tail = last;
    hcp_mutex_unlock(&h->mtx);
    (void)uv_async_send(&h->async); /* fails only on a handle not an async one */
}

/* Hand a formatted reply to the server thread: directly when we are on it
 * (taken when the current handler call or refusal returns), held while this
 * thread holds replies, else through the locked queue and the async handle. */
static void req_post(hcpd_req *r)
{
    hcpd_http *h = r->h;
    r->next = NULL;
    if (tls_server == h) {
        if (h->ready_tail != NULL) {
            h->ready_tail->next = r;
        } else {
            h->ready = r;
        }
        h->ready_tail = r;
        return;
    }
    if (tls_hold) {
        if (tls_held_tail != NULL) {
            tls_held_tail->next = r;
        } else {
            tls_held = r;
        }
        tls_held_tail = r;
        return;
    }
    http_queue_post(h, r, r);
}

/* Hold this thread's replies (hcpd.h): a batch's answers wake the server
 * thread once, not once each. */
void hcpd_reply_hold(void)
{
    tls_hold = true;
}

/* Hand the held replies over: each run of replies to the same server under
 * one lock and one wake-up (in the order they were made). */
void hcpd_reply_flush(void)
{
    tls_hold = false;
    hcpd_req *r = tls_held;
    tls_held = tls_held_tail = NULL;
    while (r != NULL) {
        hcpd_req *last = r;
        while (last->next != NULL && last->next->h == r->h) {
            last = last->next;
        }
        hcpd_req *next = last->next;
        http_queue_post(r->h, r, last);
        r = next;
    }
}

/* Reply with bytes and extra headers (hcpd.h). From any thread, once. */
void hcpd_req_reply_hdrs(hcpd_req *r, int status, const char *content_type, const void *data,
                         size_t len, const hcpd_hdr *hdrs, size_t nhdrs)
{
    if (r == NULL || !req_first_reply(r)) {
        return;
    }
    if (status < 100 || status > 599 || content_type == NULL || (data == NULL && len > 0) ||
        (hdrs == NULL && nhdrs > 0) || !http_value_ok(content_type)) {
        status = 500;
        content_type = "text/plain; charset=utf-8";
        data = "bad reply\n";
        len = 10;
        nhdrs = 0;
        r->lent = NULL; /* not sent: given back with the request */
        r->lentlen = 0;
    }
    if (!http_format(r, status, content_type, data, len, r->lent != NULL, hdrs, nhdrs, &r->out,
                     &r->outlen)) {
        static const char bad[] = "{\"error\":\"internal\",\"detail\":\"bad reply\"}";
        status = 500;
        r->lent = NULL; /* not sent: given back with the request */
        r->lentlen = 0;
        if (!http_format(r, status, "application/json; charset=utf-8", bad, sizeof(bad) - 1, false,
                         NULL, 0, &r->out, &r->outlen)) {
            r->out = NULL; /* out of memory: the connection is closed */
        }
    }
    r->status = status;
    req_post(r);
}

void hcpd_req_reply_lent(hcpd_req *r, int status, const char *content_type, const void *data,
                         size_t len, const hcpd_hdr *hdrs, size_t nhdrs, void (*done)(void *ctx),
                         void *ctx)
{
    if (r == NULL || done == NULL || (data == NULL && len > 0) || len > UINT_MAX ||
        atomic_load(&r->replied)) {
        if (done != NULL)
            done(ctx);
        hcpd_req_reply_hdrs(r, 500, "text/plain; charset=utf-8", "bad reply\n", 10, NULL, 0);
        return;
    }
    bool bodyless = status == 204 || status == 304 || status < 200;
    if (!bodyless && !r->head && len > 0) { /* written from data, given back by req_free */
        r->lent = data;
        r->lentlen = len;
        r->lent_done = done;
        r->lent_ctx = ctx;
    } else {
        done(ctx); /* no body goes out: not needed */
    }
    hcpd_req_reply_hdrs(r, status, content_type, data, len, hdrs, nhdrs);
}

/* Reply with bytes of a content type (copied). From any thread, once. */
void hcpd_req_reply_raw(hcpd_req *r, int status, const char *content_type, const void *data,
                        size_t len)
{
    hcpd_req_reply_hdrs(r, status, content_type, data, len, NULL, 0);
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

/* ---- what handlers read ---- */

const char *hcpd_req_method(const hcpd_req *r)
{
    return r ? r->method : "";
}

const char *hcpd_req_path(const hcpd_req *r)
{
    return r ? r->url : "";
}

const char *hcpd_req_account(const hcpd_req *r)
{
    return r ? r->account : "";
}

unsigned hcpd_req_roles(const hcpd_req *r)
{
    return r ? r->roles : 0;
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
    else if (strcasecmp(name, "Accept-Encoding") == 0)
        v = r->ae;
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

/* URL-decode [s, s+n) ('+' is a space, %XX a byte) into buf of len bytes,
 * NUL-terminated. False if malformed, holding a NUL, or too long; with
 * strict, also a control character or invalid UTF-8. */
static bool http_urldecode(const char *s, size_t n, char *buf, size_t len, bool strict)
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
            int hi = hcp_hex_digit(s[i + 1]), lo = hcp_hex_digit(s[i + 2]);
            if (hi < 0 || lo < 0) {
                return false;
            }
            c = hi * 16 + lo;
            i += 2;
        }
        if (c == 0 || o + 1 >= len || (strict && (c < 32 || c == 127))) {
            return false;
        }
        buf[o++] = (char)c;
    }
    buf[o] = '\0';
    return !strict || hcp_utf8_valid(buf, o);
}

/* Find key in r's query: the first value's raw bounds into *v, *vlen (an
 * absent '=' is an empty value); *count is how many times key is given.
 * Keys that do not decode never match. */
static void http_query_find(const hcpd_req *r, const char *key, const char **v, size_t *vlen,
                            int *count)
{
    char name[256];
    const char *p = r->query;
    *count = 0;
    *v = NULL;
    *vlen = 0;
    while (*p != '\0') {
        size_t plen = strcspn(p, "&");
        const char *eq = memchr(p, '=', plen);
        size_t klen = eq ? (size_t)(eq - p) : plen;
        if (http_urldecode(p, klen, name, sizeof(name), false) && strcmp(name, key) == 0) {
            if ((*count)++ == 0) {
                *v = eq ? eq + 1 : "";
                *vlen = eq ? plen - klen - 1 : 0;
            }
        }
        p += plen;
        if (*p == '&') {
            p++;
        }
    }
}

/* Copy query parameter key (URL-decoded) into buf; false when absent,
 * malformed or too long. The first occurrence wins. */
bool hcpd_req_query(const hcpd_req *r, const char *key, char *buf, size_t len)
{
    if (r == NULL || key == NULL || buf == NULL || len == 0) {
        return false;
    }
    const char *v;
    size_t vlen;
    int count;
    http_query_find(r, key, &v, &vlen, &count);
    return count > 0 && http_urldecode(v, vlen, buf, len, false);
}

/* Query parameter key, strictly (hcpd.h): HCPD_Q_ABSENT, _OK or _BAD. */
bool hcpd_req_params_ok(hcpd_req *r, const char *const *keys, size_t len)
{
    if (r == NULL || keys == NULL || len == 0 || len > HTTP_URI_MAX) {
        if (r != NULL)
            hcpd_req_reply_error(r, 500, "internal", "query check misused");
        return false;
    }
    char buf[HTTP_URI_MAX];
    for (size_t i = 0; keys[i] != NULL; i++) {
        if (hcpd_req_query_get(r, keys[i], buf, len) == HCPD_Q_BAD) {
            char detail[160];
            snprintf(detail, sizeof(detail),
                     "%s: malformed (longer than %zu bytes, a bad %%-escape, a control character, "
                     "invalid UTF-8, or given twice)",
                     keys[i], len - 1);
            hcpd_req_reply_error(r, 400, "invalid_parameter", detail);
            return false;
        }
    }
    return true;
}

int hcpd_req_query_get(const hcpd_req *r, const char *key, char *buf, size_t len)
{
    if (buf != NULL && len > 0) {
        buf[0] = '\0';
    }
    if (r == NULL || key == NULL || buf == NULL || len == 0) {
        return HCPD_Q_BAD;
    }
    const char *v;
    size_t vlen;
    int count;
    http_query_find(r, key, &v, &vlen, &count);
    if (count == 0) {
        return HCPD_Q_ABSENT;
    }
    if (count > 1 || !http_urldecode(v, vlen, buf, len, true)) {
        buf[0] = '\0';
        return HCPD_Q_BAD;
    }
    return HCPD_Q_OK;
}

/* ---- admission ---- */

/* Seconds on the monotonic clock: what the session table counts in (a
 * change of the wall clock neither ends nor prolongs a session). */
static int64_t http_mono_s(void)
{
    return (int64_t)(uv_hrtime() / 1000000000u);
}

#define WHY_SESSION "session_expired" /* the reason that answers 401 session_expired */

/* The console session named by the connection's Cookie header, for r: its
 * account, roles and CSRF token are kept in r (docs/consoles.md). */
static bool http_cookie_authorized(conn *c, hcpd_req *r, const char **why)
{
    hcpd_http *h = c->h;
    char sid[HCPD_SESSION_HEX + 1];
    int q = c->cookie_bad ? HCPD_Q_BAD : hcpd_session_cookie(c->cookie, sid, sizeof(sid));
    if (q == HCPD_Q_ABSENT) {
        *why = "missing";
        return false;
    }
    hcpd_session s;
    if (q != HCPD_Q_OK ||
        hcpd_session_find(h->sessions, http_mono_s(), sid, strlen(sid), &s) != HCP_OK) {
        explicit_bzero(sid, sizeof(sid));
        *why = WHY_SESSION;
        return false;
    }
    snprintf(r->account, sizeof(r->account), "%s", s.account);
    r->roles = s.roles;
    r->by_cookie = true;
    memcpy(r->sid, sid, sizeof(r->sid));
    memcpy(r->sess_csrf, s.csrf, sizeof(r->sess_csrf));
    r->sess_expires = s.expires;
    explicit_bzero(sid, sizeof(sid));
    explicit_bzero(&s, sizeof(s));
    return true;
}

/* Check the connection's "Authorization: Bearer TOKEN" for r: the daemon's
 * token is the account "admin" with every role, any other goes to
 * cfg.authenticate. Without an Authorization header, a console session's
 * cookie stands in for it. *why receives the reason on failure. */
static bool http_authorized(conn *c, hcpd_req *r, const char **why)
{
    hcpd_http *h = c->h;
    if (!c->auth_seen) {
        if (c->cookie_seen) {
            return http_cookie_authorized(c, r, why);
        }
        *why = "missing";
        return false;
    }
    if (c->auth_bad) {
        *why = "malformed";
        return false;
    }
    const char *a = c->auth;
    while (*a == ' ' || *a == '\t') {
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
    if (hcpd_session_secret_equal(h->token, a, n)) {
        snprintf(r->account, sizeof(r->account), "admin");
        r->roles = HCPD_ROLE_ALL;
        return true;
    }
    char tok[HTTP_AUTH_MAX];
    memcpy(tok, a, n);
    tok[n] = '\0';
    char name[HCPD_ACCOUNT_MAX] = "";
    unsigned roles = 0;
    bool ok =
        n > 0 && h->cfg.authenticate != NULL && h->cfg.authenticate(h->cfg.arg, tok, name, &roles);
    explicit_bzero(tok, sizeof(tok));
    if (!ok) {
        *why = "wrong_token";
        return false;
    }
    name[sizeof(name) - 1] = '\0';
    snprintf(r->account, sizeof(r->account), "%s", name);
    r->roles = roles;
    return true;
}

/* Refuse r at its headers with status: the body (if any) is never read, so
 * the connection closes after the reply. */
static void http_refuse(conn *c, hcpd_req *r, int status, const char *error, const char *detail)
{
    r->close = true;
    c->refused = true;
    hcpd_req_reply_error(r, status, error, detail);
}

/* Decide on a request whose headers are complete: refuse it (answered,
 * true) or let its body be read. */
static bool http_precheck(conn *c, hcpd_req *r)
{
    hcpd_http *h = c->h;
    http_parser *p = &c->p;
    bool chunked = (p->flags & F_CHUNKED) != 0 || p->uses_transfer_encoding;
    bool has_body = chunked || ((p->flags & F_CONTENTLENGTH) && p->content_length > 0);
    bool get = strcmp(r->method, "GET") == 0 || strcmp(r->method, "HEAD") == 0;
    hcp_mutex_lock(&h->mtx);
    bool stopping = h->stopping;
    hcp_mutex_unlock(&h->mtx);
    const char *why = NULL;
    bool session_route = strcmp(r->url, HTTP_SESSION_PATH) == 0;
    if (stopping) {
        http_refuse(c, r, 503, "unavailable", "the server is shutting down");
    } else if (session_route && strcmp(r->method, "POST") == 0) {
        /* signing in: the body carries the credentials */
        if (chunked) {
            http_refuse(c, r, 411, "length_required", "a body needs a valid Content-Length");
        } else if (has_body && p->content_length > HTTP_SESSION_BODY) {
            http_refuse(c, r, 413, "payload_too_large", "the body exceeds 4096 bytes");
        } else {
            return false;
        }
    } else if (h->cfg.is_public != NULL && h->cfg.is_public(r->method, r->url)) {
        if (!get) {
            static const hcpd_hdr allow = {"Allow", "GET, HEAD"};
            r->close = true;
            c->refused = true;
            json_t *o = json_pack("{s:s, s:s}", "error", "method_not_allowed", "detail",
                                  "this route answers GET and HEAD");
            char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
            json_decref(o);
            hcpd_req_reply_hdrs(r, 405, "application/json; charset=utf-8", text,
                                text ? strlen(text) : 0, &allow, 1);
            free(text);
        } else if (has_body) {
            http_refuse(c, r, 413, "payload_too_large", "a public route takes no body");
        } else {
            if (c->auth_seen && !http_authorized(c, r, &why)) {
                r->account[0] = '\0'; /* a public route does not need it */
                r->roles = 0;
            }
            return false;
        }
    } else if (!http_authorized(c, r, &why)) {
        hcpd_log("warn", "http.unauthorized", "method=%s path=%s reason=%s", r->method, r->url,
                 why);
        if (strcmp(why, WHY_SESSION) == 0 || session_route) {
            http_refuse(c, r, 401, "session_expired", "sign in again");
        } else {
            http_refuse(c, r, 401, "unauthorized", "send Authorization: Bearer <token>");
        }
    } else if (r->by_cookie && !get &&
               !hcpd_session_secret_equal(r->sess_csrf, r->csrf, strlen(r->csrf))) {
        hcpd_log("warn", "http.csrf_failed", "method=%s path=%s account=%s", r->method, r->url,
                 r->account);
        http_refuse(c, r, 403, "csrf_failed", "send the session's X-CSRF-Token header");
    } else if (chunked) {
        http_refuse(c, r, 411, "length_required", "a body needs a valid Content-Length");
    } else if (has_body && p->content_length > HCP_BODY_MAX) {
        http_refuse(c, r, 413, "payload_too_large", "the body exceeds 65536 bytes");
    } else {
        return false;
    }
    return true;
}

/* ---- the parser's callbacks (server thread) ---- */

/* Count header-section bytes; false (and 431) beyond the ceiling. */
static bool head_add(conn *c, size_t n)
{
    c->head_bytes += n;
    if (c->head_bytes > HTTP_HEAD_MAX) {
        c->perr = 431;
        return false;
    }
    return true;
}

static int on_message_begin(http_parser *p)
{
    conn *c = p->data;
    c->in_msg = true;
    c->head_bytes = 0;
    c->fields = 0;
    c->in_value = false;
    c->field_len = 0;
    c->val = NULL;
    c->auth_seen = c->auth_bad = c->expect_continue = false;
    c->cookie_seen = c->cookie_bad = false;
    c->auth[0] = c->expect[0] = c->cookie[0] = '\0';
    if (c->r == NULL) {
        hcpd_req *r = calloc(1, sizeof(*r));
        if (r == NULL) {
            c->perr = 503;
            return 1;
        }
        r->h = c->h;
        r->c = c;
        r->query = "";
        atomic_init(&r->replied, false);
        r->t0 = uv_hrtime();
        c->r = r;
    }
    return 0;
}

static int on_url(http_parser *p, const char *at, size_t n)
{
    conn *c = p->data;
    hcpd_req *r = c->r;
    if (r->url_len + n > HTTP_URI_MAX) {
        c->perr = 414;
        return 1;
    }
    if (!head_add(c, n)) {
        return 1;
    }
    memcpy(r->url + r->url_len, at, n);
    r->url_len += n;
    return 0;
}

/* End the current header value: an overlong one is dropped (an overlong
 * Authorization fails authentication). */
static void value_end(conn *c)
{
    c->val = NULL;
    c->in_value = false;
    c->field_len = 0;
}

static int on_header_field(http_parser *p, const char *at, size_t n)
{
    conn *c = p->data;
    if (!head_add(c, n)) {
        return 1;
    }
    if (c->in_value || c->fields == 0) {
        value_end(c);
        if (++c->fields > HTTP_FIELDS_MAX) {
            c->perr = 431;
            return 1;
        }
    }
    if (c->field_len + n < sizeof(c->field)) {
        memcpy(c->field + c->field_len, at, n);
        c->field_len += n;
    } else {
        c->field_len = sizeof(c->field); /* too long to be one of ours */
    }
    return 0;
}

/* Pick where the value of the header just named goes (NULL: not kept). */
static void value_begin(conn *c)
{
    hcpd_req *r = c->r;
    c->in_value = true;
    c->val = NULL;
    c->val_len = 0;
    if (c->field_len >= sizeof(c->field)) {
        return;
    }
    c->field[c->field_len] = '\0';
    const char *f = c->field;
    if (strcasecmp(f, "Authorization") == 0) {
        if (c->auth_seen) {
            c->auth_bad = true; /* twice: ambiguous */
            return;
        }
        c->auth_seen = true;
        c->val = c->auth;
        c->val_cap = sizeof(c->auth);
    } else if (strcasecmp(f, "Cookie") == 0) {
        if (c->cookie_seen) {
            c->cookie_bad = true; /* one Cookie header in HTTP/1.1 (RFC 6265 5.4) */
            return;
        }
        c->cookie_seen = true;
        c->val = c->cookie;
        c->val_cap = sizeof(c->cookie);
    } else if (strcasecmp(f, "X-CSRF-Token") == 0) {
        c->val = r->csrf;
        c->val_cap = sizeof(r->csrf);
    } else if (strcasecmp(f, "If-None-Match") == 0) {
        c->val = r->inm;
        c->val_cap = sizeof(r->inm);
    } else if (strcasecmp(f, "If-Modified-Since") == 0) {
        c->val = r->ims;
        c->val_cap = sizeof(r->ims);
    } else if (strcasecmp(f, "Accept-Encoding") == 0) {
        c->val = r->ae;
        c->val_cap = sizeof(r->ae);
    } else if (strcasecmp(f, "Expect") == 0) {
        c->val = c->expect;
        c->val_cap = sizeof(c->expect);
    }
    if (c->val != NULL) {
        c->val[0] = '\0';
    }
}

static int on_header_value(http_parser *p, const char *at, size_t n)
{
    conn *c = p->data;
    if (!head_add(c, n)) {
        return 1;
    }
    if (!c->in_value) {
        value_begin(c);
    }
    if (c->val == NULL) {
        return 0;
    }
    if (c->val_len + n >= c->val_cap) {
        c->val[0] = '\0';
        if (c->val == c->auth) {
            c->auth_bad = true;
        } else if (c->val == c->cookie) {
            c->cookie_bad = true;
        }
        c->val = NULL;
        return 0;
    }
    memcpy(c->val + c->val_len, at, n);
    c->val_len += n;
    c->val[c->val_len] = '\0';
    return 0;
}

/* Remove c from its eviction list. */
static void list_del(conn *c)
{
    if (c->list == L_NONE) {
        return;
    }
    hcpd_http *h = c->h;
    if (c->prev != NULL) {
        c->prev->next = c->next;
    } else {
        h->lists[c->list].head = c->next;
    }
    if (c->next != NULL) {
        c->next->prev = c->prev;
    } else {
        h->lists[c->list].tail = c->prev;
    }
    c->prev = c->next = NULL;
    c->list = L_NONE;
}

/* Put c at the young end of eviction list l. */
static void list_add(conn *c, enum conn_list l)
{
    hcpd_http *h = c->h;
    list_del(c);
    c->list = l;
    c->prev = h->lists[l].tail;
    c->next = NULL;
    if (c->prev != NULL) {
        c->prev->next = c;
    } else {
        h->lists[l].head = c;
    }
    h->lists[l].tail = c;
}

static void conn_write_raw(conn *c, const char *s, size_t n);

static int on_headers_complete(http_parser *p)
{
    conn *c = p->data;
    hcpd_req *r = c->r;
    value_end(c);
    snprintf(r->method, sizeof(r->method), "%s", http_method_str((enum http_method)p->method));
    r->url[r->url_len] = '\0';
    char *q = strchr(r->url, '?');
    if (q != NULL) {
        *q = '\0';
        r->query = q + 1;
    }
    r->split = true;
    r->head = p->method == HTTP_HEAD;
    if (http_precheck(c, r)) {
        http_parser_pause(p, 1);
        return 0;
    }
    list_del(c); /* admitted: no longer an unauthenticated eviction candidate */
    if ((p->flags & F_CONTENTLENGTH) && p->content_length > 0) {
        r->body_cap = (size_t)p->content_length;
        if ((r->body = malloc(r->body_cap + 1)) == NULL) {
            http_refuse(c, r, 503, "out_of_memory", "try again");
            http_parser_pause(p, 1);
            return 0;
        }
        if (strcasecmp(c->expect, "100-continue") == 0) {
            static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
            conn_write_raw(c, cont, sizeof(cont) - 1);
        }
    }
    explicit_bzero(c->auth, sizeof(c->auth));
    explicit_bzero(c->cookie, sizeof(c->cookie));
    return 0;
}

static int on_body(http_parser *p, const char *at, size_t n)
{
    conn *c = p->data;
    hcpd_req *r = c->r;
    if (r->body == NULL || r->body_len + n > r->body_cap) {
        c->perr = 400;
        return 1;
    }
    memcpy(r->body + r->body_len, at, n);
    r->body_len += n;
    return 0;
}

static int on_message_complete(http_parser *p)
{
    conn *c = p->data;
    hcpd_req *r = c->r;
    bool keep = http_should_keep_alive(p) != 0;
    r->close = !keep || p->upgrade;
    r->keep10 = keep && p->http_major == 1 && p->http_minor == 0;
    if (r->body != NULL) {
        r->body[r->body_len] = '\0';
    }
    c->complete = true;
    c->in_msg = false;
    c->blank = 0;
    http_parser_pause(p, 1);
    return 0;
}

static const http_parser_settings http_settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

/* ---- connections (server thread) ---- */

/* Free a request and what it owns. */
static void req_free(hcpd_req *r)
{
    if (r == NULL) {
        return;
    }
    free(r->out);
    free(r->body);
    if (r->lent_done != NULL) { /* the lent body: written, or never to be */
        r->lent_done(r->lent_ctx);
        r->lent_done = NULL;
    }
    explicit_bzero(r->sid, sizeof(r->sid));
    explicit_bzero(r->sess_csrf, sizeof(r->sess_csrf));
    free(r);
}

/* Count a request the handler had out and wake hcpd_http_stop at zero. */
static void http_done(hcpd_http *h)
{
    hcp_mutex_lock(&h->mtx);
    if (--h->inflight == 0) {
        hcp_cond_broadcast(&h->cond);
    }
    hcp_mutex_unlock(&h->mtx);
}

static void on_timer(uv_timer_t *t);
static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

/* Give libuv the free end of c's read buffer; a closing connection's input
 * is discarded into the server's scratch buffer (libuv reads into it and
 * calls on_read at once, so one buffer serves every connection). */
static void on_alloc(uv_handle_t *hd, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    conn *c = hd->data;
    if (c->state == C_LINGER) {
        *buf = uv_buf_init(c->h->scratch, sizeof(c->h->scratch));
        return;
    }
    *buf = uv_buf_init(c->rbuf + c->rlen, (unsigned)(sizeof(c->rbuf) - c->rlen));
}

/* Read c or not. */
static void conn_read(conn *c, bool on)
{
    if (on && !c->reading) {
        c->reading = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) == 0;
    } else if (!on && c->reading) {
        (void)uv_read_stop((uv_stream_t *)&c->tcp); /* always 0 */
        c->reading = false;
    }
}

/* Enter state s: its timer, its eviction list, whether c is read. */
static void conn_enter(conn *c, enum conn_state s)
{
    hcpd_http *h = c->h;
    int ms = 0;
    c->state = s;
    switch (s) {
    case C_IDLE:
        list_add(c, L_IDLE);
        ms = h->idle_ms;
        break;
    case C_READING:
        list_add(c, L_HEAD);
        ms = h->request_ms;
        break;
    case C_WAITING:
        list_del(c);
        break;
    case C_WRITING:
        list_del(c);
        ms = h->request_ms; /* a client that does not take its reply */
        break;
    case C_LINGER:
        list_del(c);
        ms = HTTP_LINGER_MS;
        break;
    }
    if (ms > 0) {
        /* fails only for a closing timer, whose connection needs no deadline */
        (void)uv_timer_start(&c->timer, on_timer, (uint64_t)ms, 0);
    } else {
        (void)uv_timer_stop(&c->timer); /* always 0 */
    }
    conn_read(c, s == C_IDLE || s == C_READING || s == C_LINGER);
}

/* libuv closed one of c's handles: free c after the second. A request the
 * handler still has is left for its reply to free. */
static void on_close(uv_handle_t *hd)
{
    conn *c = hd->data;
    if (--c->handles > 0) {
        return;
    }
    hcpd_http *h = c->h;
    if (c->anext != NULL) {
        c->anext->aprev = c->aprev;
    }
    if (c->aprev != NULL) {
        c->aprev->anext = c->anext;
    } else {
        h->all = c->anext;
    }
    hcpd_req *r = c->r;
    if (r != NULL) {
        if (r->counted) {
            r->c = NULL;
        } else {
            req_free(r);
        }
    }
    explicit_bzero(c->auth, sizeof(c->auth));
    explicit_bzero(c->cookie, sizeof(c->cookie));
    free(c);
}

/* Close c now (idempotent): it leaves the cap at once, and is freed once
 * both handles closed. */
static void conn_close(conn *c)
{
    if (c->closing) {
        return;
    }
    c->closing = true;
    list_del(c);
    if (c->overflow) {
        c->h->noverflow--;
    } else {
        c->h->nconns--;
        atomic_store(&c->h->conns_pub, c->h->nconns);
    }
    c->reading = false;
    uv_close((uv_handle_t *)&c->tcp, on_close);
    uv_close((uv_handle_t *)&c->timer, on_close);
}

/* Our FIN went out after a closing reply: discard input until the client's
 * FIN or the linger timer, so the reply is not lost to a reset. */
static void on_shutdown(uv_shutdown_t *s, int status)
{
    conn *c = s->data;
    if (status < 0 || c->closing) {
        conn_close(c);
        return;
    }
    conn_enter(c, C_LINGER);
}

/* Begin the orderly close of c after its last reply. */
static void conn_linger(conn *c)
{
    if (c->closing) {
        return;
    }
    conn_read(c, false);
    list_del(c);
    /* fails only for a closing timer, whose connection needs no deadline */
    (void)uv_timer_start(&c->timer, on_timer, HTTP_LINGER_MS, 0);
    c->state = C_LINGER;
    c->shut.data = c;
    if (uv_shutdown(&c->shut, (uv_stream_t *)&c->tcp, on_shutdown) != 0) {
        conn_close(c);
    }
}

/* Answer c with status and close it: a parse error, a timeout, a limit.
 * The request being read (if any) is the one answered. */
static void conn_fail(conn *c, int status, const char *error, const char *detail)
{
    hcpd_req *r = c->r;
    if (r == NULL) {
        r = calloc(1, sizeof(*r));
        if (r == NULL) {
            conn_close(c);
            return;
        }
        r->h = c->h;
        r->c = c;
        r->query = "";
        atomic_init(&r->replied, false);
        r->t0 = uv_hrtime();
        c->r = r;
    }
    if (r->method[0] == '\0') {
        snprintf(r->method, sizeof(r->method), "-");
    }
    if (!r->split) { /* the headers were not complete: cut the query off for the log */
        r->url[r->url_len <= HTTP_URI_MAX ? r->url_len : HTTP_URI_MAX] = '\0';
        char *q = strchr(r->url, '?');
        if (q != NULL) {
            *q = '\0';
        }
        r->split = true;
    }
    if (status == 414) {
        snprintf(r->url, sizeof(r->url), "(too long)");
    }
    r->close = true;
    c->refused = false;
    c->complete = false;
    hcpd_req_reply_error(r, status, error, detail);
    http_drain_ready(c->h);
}

/* c's timer: the limit of its state ran out. */
static void on_timer(uv_timer_t *t)
{
    conn *c = t->data;
    if (c->state == C_READING) {
        hcpd_log("info", "http.request_timeout", "ms=%d", c->h->request_ms);
        conn_fail(c, 408, "request_timeout", "the request did not arrive in time");
    } else {
        conn_close(c); /* idle, a reply not taken, or lingering */
    }
}

/* A write of ours finished: free what it held; after a reply, close or go
 * on with the next request on c. */
static void on_write(uv_write_t *w, int status)
{
    hcpd_req *r = w->data;
    conn *c = r->c;
    hcpd_http *h = r->h;
    atomic_fetch_sub(&h->writing, 1);
    bool close = r->close || status < 0;
    if (c != NULL && c->r == r) {
        c->r = NULL;
    }
    req_free(r);
    if (c == NULL || c->closing) {
        return;
    }
    if (status < 0) {
        conn_close(c);
    } else if (close) {
        conn_linger(c);
    } else {
        conn_enter(c, c->rlen > 0 ? C_READING : C_IDLE);
        conn_process(c);
    }
}

/* A write that is not a reply (100 Continue): the bytes are static. */
static void on_write_raw(uv_write_t *w, int status)
{
    (void)status;
    free(w);
}

static void conn_write_raw(conn *c, const char *s, size_t n)
{
    uv_write_t *w = malloc(sizeof(*w));
    uv_buf_t b = uv_buf_init((char *)s, (unsigned)n);
    if (w != NULL && uv_write(w, (uv_stream_t *)&c->tcp, &b, 1, on_write_raw) != 0) {
        free(w);
    }
}

/* A reply was made (server thread): log it, count it out, write it. */
static void http_take(hcpd_req *r)
{
    hcpd_http *h = r->h;
    conn *c = r->c;
    double ms = (double)(uv_hrtime() - r->t0) / 1e6;
    hcpd_log(r->status >= 500   ? "warn"
             : r->status >= 400 ? "info"
                                : "debug",
             "http.request", "method=%s path=%s status=%d ms=%.1f account=%s", r->method, r->url,
             r->out ? r->status : 0, ms, r->account[0] ? r->account : "-");
    if (r->counted) {
        r->counted = false;
        http_done(h);
    }
    if (c == NULL || c->closing) {
        if (c != NULL && c->r == r) {
            c->r = NULL;
        }
        req_free(r);
        return;
    }
    if (r->out == NULL) {
        c->r = NULL;
        req_free(r);
        conn_close(c);
        return;
    }
    free(r->body); /* not needed any more */
    r->body = NULL;
    conn_enter(c, C_WRITING);
    r->wr.data = r;
    uv_buf_t b[2] = {uv_buf_init(r->out, (unsigned)r->outlen),
                     uv_buf_init((char *)r->lent, (unsigned)r->lentlen)}; /* <= UINT_MAX */
    atomic_fetch_add(&h->writing, 1);
    if (uv_write(&r->wr, (uv_stream_t *)&c->tcp, b, r->lent != NULL ? 2 : 1, on_write) != 0) {
        atomic_fetch_sub(&h->writing, 1);
        c->r = NULL;
        req_free(r);
        conn_close(c);
    }
}

/* Take the replies made on the server thread. */
static void http_drain_ready(hcpd_http *h)
{
    while (h->ready != NULL) {
        hcpd_req *r = h->ready;
        h->ready = r->next;
        if (h->ready == NULL) {
            h->ready_tail = NULL;
        }
        http_take(r);
    }
}

/* ---- console sessions: POST/GET/DELETE /v1/session (docs/consoles.md) ---- */

/* Whether an account name from a sign-in may be written to the log (the
 * characters account names are made of); others are logged as "-". */
static bool http_name_loggable(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n >= HCPD_ACCOUNT_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '.' || ch == '_' || ch == '-' || ch == '@'))
            return false;
    }
    return true;
}

/* The session object every /v1/session answer carries: account, role
 * names, CSRF token and the end of the session (RFC 3339 +08:00, what the
 * idle and absolute limits leave at this moment). NULL: out of memory. */
static json_t *http_session_json(const char *account, unsigned roles, const char *csrf,
                                 int64_t expires)
{
    static const struct {
        unsigned bit;
        const char *name;
    } names[] = {{HCPD_ROLE_CLERK, "clerk"},
                 {HCPD_ROLE_SUPERVISOR, "supervisor"},
                 {HCPD_ROLE_AUDITOR, "auditor"}};
    json_t *rl = json_array();
    for (size_t i = 0; rl != NULL && i < sizeof(names) / sizeof(names[0]); i++) {
        if ((roles & names[i].bit) != 0 && json_array_append_new(rl, json_string(names[i].name)))
            goto fail;
    }
    char at[HCP_TIME_STRLEN];
    hcp_time wall = (hcp_time)time(NULL) + (expires - http_mono_s());
    if (rl == NULL || hcp_time_format(wall, at, sizeof(at)) != HCP_OK)
        goto fail;
    return json_pack("{s:s, s:o, s:s, s:s}", "account", account, "roles", rl, "csrf", csrf,
                     "expires", at);
fail:
    json_decref(rl);
    return NULL;
}

/* Answer r with o (stolen) and, when cookie is not NULL, Set-Cookie. */
static void http_session_reply(hcpd_http *h, hcpd_req *r, int status, json_t *o,
                               const char *cookie_value, const char *cookie_attrs)
{
    char *text = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (status != 204 && text == NULL) {
        hcpd_req_reply_error(r, 500, "internal", "out of memory");
        return;
    }
    char cookie[256];
    snprintf(cookie, sizeof(cookie),
             HCPD_SESSION_COOKIE "=%s; Path=/; HttpOnly; SameSite=Strict%s%s",
             cookie_value != NULL ? cookie_value : "", cookie_attrs != NULL ? cookie_attrs : "",
             h->cookie_secure ? "; Secure" : "");
    const hcpd_hdr hd = {"Set-Cookie", cookie};
    hcpd_req_reply_hdrs(r, status, "application/json; charset=utf-8", text,
                        text != NULL ? strlen(text) : 0, &hd, cookie_value != NULL ? 1 : 0);
    explicit_bzero(cookie, sizeof(cookie));
    if (text != NULL) {
        explicit_bzero(text, strlen(text));
        free(text);
    }
}

/* POST /v1/session {"account","token"}: the admin token signs in as
 * "admin"; any other token must be the named account's (cfg.authenticate).
 * A new session, its cookie, and the session object. */
static void http_session_open(hcpd_http *h, hcpd_req *r)
{
    json_error_t jerr;
    json_t *b =
        r->body != NULL ? json_loadb(r->body, r->body_len, JSON_REJECT_DUPLICATES, &jerr) : NULL;
    const char *account = NULL, *token = NULL;
    if (!json_is_object(b) ||
        json_unpack(b, "{s:s, s:s !}", "account", &account, "token", &token) != 0 ||
        account[0] == '\0' || strlen(account) >= HCPD_ACCOUNT_MAX || token[0] == '\0' ||
        strlen(token) >= HTTP_AUTH_MAX) {
        json_decref(b);
        hcpd_req_reply_error(r, 400, "invalid_body",
                             "send {\"account\": NAME, \"token\": TOKEN} as JSON");
        return;
    }
    char name[HCPD_ACCOUNT_MAX] = "";
    unsigned roles = 0;
    bool ok;
    if (strcmp(account, "admin") == 0) {
        ok = hcpd_session_secret_equal(h->token, token, strlen(token));
        roles = HCPD_ROLE_ALL;
        snprintf(name, sizeof(name), "admin");
    } else {
        ok = h->cfg.authenticate != NULL && h->cfg.authenticate(h->cfg.arg, token, name, &roles);
        name[sizeof(name) - 1] = '\0';
        ok = ok && strcmp(name, account) == 0;
    }
    const char *logname = http_name_loggable(account) ? account : "-";
    if (!ok) {
        hcpd_log("warn", "session.refused", "account=%s", logname);
        json_decref(b);
        hcpd_req_reply_error(r, 401, "unauthorized", "wrong account or token");
        return;
    }
    char sid[HCPD_SESSION_HEX];
    hcpd_session s;
    int rc = hcpd_session_open(h->sessions, http_mono_s(), name, roles, sid, &s);
    json_decref(b);
    if (rc != HCP_OK) {
        hcpd_req_reply_error(r, 503, "unavailable", "no session could be made");
        return;
    }
    hcpd_log("info", "session.signed_in", "account=%s sessions=%zu", name,
             hcpd_sessions_count(h->sessions));
    http_session_reply(h, r, 200, http_session_json(name, roles, s.csrf, s.expires), sid, NULL);
    explicit_bzero(sid, sizeof(sid));
    explicit_bzero(&s, sizeof(s));
}

/* The routes of /v1/session, answered here for both daemons. GET and
 * DELETE were admitted by the session cookie (DELETE with its CSRF token);
 * a bearer token has no session to show or end. */
static void http_session_route(hcpd_http *h, hcpd_req *r)
{
    if (strcmp(r->method, "POST") == 0) {
        http_session_open(h, r);
    } else if (strcmp(r->method, "GET") == 0 || strcmp(r->method, "HEAD") == 0 ||
               strcmp(r->method, "DELETE") == 0) {
        if (!r->by_cookie) {
            hcpd_req_reply_error(r, 401, "session_expired", "no console session: sign in");
        } else if (r->method[0] == 'D') {
            char account[HCPD_ACCOUNT_MAX] = "";
            if (hcpd_session_close(h->sessions, r->sid, strlen(r->sid), account) == HCP_OK)
                hcpd_log("info", "session.signed_out", "account=%s", account);
            http_session_reply(h, r, 204, NULL, "", "; Max-Age=0");
        } else {
            hcpd_req_reply_json(
                r, 200, http_session_json(r->account, r->roles, r->sess_csrf, r->sess_expires));
        }
    } else {
        static const hcpd_hdr allow = {"Allow", "GET, HEAD, POST, DELETE"};
        static const char text[] = "{\"error\":\"method_not_allowed\",\"detail\":"
                                   "\"this route answers GET, POST and DELETE\"}";
        hcpd_req_reply_hdrs(r, 405, "application/json; charset=utf-8", text, sizeof(text) - 1,
                            &allow, 1);
    }
}

/* Give c's complete request to the handler, unless the server is stopping. */
static void conn_dispatch(conn *c)
{
    hcpd_http *h = c->h;
    hcpd_req *r = c->r;
    conn_enter(c, C_WAITING);
    hcp_mutex_lock(&h->mtx);
    bool stopping = h->stopping;
    if (!stopping) {
        h->inflight++;
        r->counted = true;
    }
    hcp_mutex_unlock(&h->mtx);
    if (stopping) {
        r->close = true;
        hcpd_req_reply_error(r, 503, "unavailable", "the server is shutting down");
    } else if (strcmp(r->url, HTTP_SESSION_PATH) == 0) {
        http_session_route(h, r);
    } else {
        h->cfg.handle(h->cfg.arg, r);
    }
    http_drain_ready(h);
}

/* Parse what c has read: dispatch a complete request, answer a refused or
 * malformed one. Stops at the first request (the next waits for its reply). */
static void conn_process(conn *c)
{
    while (!c->closing && (c->state == C_IDLE || c->state == C_READING) && c->rlen > 0) {
        if (c->state == C_IDLE) {
            conn_enter(c, C_READING); /* the first byte: the request clock starts */
        }
        size_t skip = 0;
        if (!c->in_msg) {
            while (skip < c->rlen && (c->rbuf[skip] == '\r' || c->rbuf[skip] == '\n')) {
                skip++;
            }
            c->blank += skip;
            if (c->blank > HTTP_BLANK_MAX) {
                c->rlen = 0;
                conn_fail(c, 400, "bad_request", "not an HTTP request");
                return;
            }
        }
        size_t n =
            skip + http_parser_execute(&c->p, &http_settings, c->rbuf + skip, c->rlen - skip);
        enum http_errno e = HTTP_PARSER_ERRNO(&c->p);
        if (n > c->rlen) {
            n = c->rlen;
        }
        memmove(c->rbuf, c->rbuf + n, c->rlen - n);
        c->rlen -= n;
        if (e == HPE_PAUSED) {
            http_parser_pause(&c->p, 0);
            if (c->refused) {
                c->refused = false;
                c->rlen = 0; /* the rest (a body) is never read */
                http_drain_ready(c->h);
                return;
            }
            if (c->complete) {
                c->complete = false;
                conn_dispatch(c);
                return;
            }
        } else if (e != HPE_OK) {
            int st = c->perr ? c->perr : 400;
            c->rlen = 0;
            conn_fail(c, st,
                      st == 414   ? "uri_too_long"
                      : st == 431 ? "headers_too_large"
                      : st == 503 ? "out_of_memory"
                                  : "bad_request",
                      st == 414 ? "request target" : http_errno_description(e));
            return;
        } else if (c->rlen > 0 && n == 0) {
            conn_fail(c, 400, "bad_request", "not an HTTP request");
            return;
        }
    }
    if (!c->closing && c->state == C_READING && c->rlen == sizeof(c->rbuf)) {
        conn_fail(c, 431, "headers_too_large", "request too large"); /* cannot happen */
    }
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    (void)buf;
    conn *c = s->data;
    if (nread < 0) {
        conn_close(c); /* EOF or an error: a half-sent request is dropped */
        return;
    }
    if (c->state == C_LINGER) {
        return; /* discarded */
    }
    c->rlen += (size_t)nread;
    conn_process(c);
}

/* Make room under the cap: close the connection idle the longest, else the
 * one whose headers have been arriving the longest. False if none. */
static bool http_evict(hcpd_http *h)
{
    conn *v = h->lists[L_IDLE].head;
    if (v == NULL) {
        v = h->lists[L_HEAD].head;
    }
    if (v == NULL) {
        return false;
    }
    hcpd_log("info", "http.evict", "state=%s conns=%d", v->state == C_IDLE ? "idle" : "reading",
             h->nconns);
    conn_close(v);
    return true;
}

/* A connection arrived: take it under the cap (evicting if need be), or
 * answer it 503 overloaded and close it. */
static void on_connection(uv_stream_t *srv, int status)
{
    hcpd_http *h = srv->data;
    if (status < 0) {
        hcpd_log("warn", "http.accept_failed", "reason=\"%s\"", uv_strerror(status));
        return;
    }
    conn *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        uv_tcp_t *t = malloc(sizeof(*t)); /* accept and drop: nothing else to do */
        if (t != NULL && uv_tcp_init(&h->loop, t) == 0) {
            (void)uv_accept(srv, (uv_stream_t *)t);
            uv_close((uv_handle_t *)t, (uv_close_cb)free);
        } else {
            free(t);
        }
        return;
    }
    c->h = h;
    c->tcp.data = c;
    c->timer.data = c;
    c->p.data = c;
    /* Both always 0: uv_tcp_init makes no socket (AF_UNSPEC; uv_accept
     * brings it), uv_timer_init only links the handle. */
    (void)uv_tcp_init(&h->loop, &c->tcp);
    (void)uv_timer_init(&h->loop, &c->timer);
    c->handles = 2;
    c->anext = h->all;
    if (h->all != NULL) {
        h->all->aprev = c;
    }
    h->all = c;
    http_parser_init(&c->p, HTTP_REQUEST);
    c->p.data = c;
    bool full = h->nconns >= h->max_conns && !http_evict(h);
    c->overflow = full;
    if (full) {
        h->noverflow++;
        atomic_fetch_add(&h->overloaded_pub, 1);
    } else {
        h->nconns++;
        atomic_store(&h->conns_pub, h->nconns);
    }
    if (uv_accept(srv, (uv_stream_t *)&c->tcp) != 0 || (full && h->noverflow > HTTP_OVERFLOW_MAX)) {
        conn_close(c);
        return;
    }
    (void)uv_tcp_nodelay(&c->tcp, 1); /* a latency nicety: the connection works without */
    hcpd_log("debug", "http.accept", "conns=%d overflow=%d", h->nconns, h->noverflow);
    if (full) {
        hcpd_log("warn", "http.overloaded", "conns=%d", h->nconns);
        c->state = C_READING; /* in no eviction list: it holds no slot under the cap */
        conn_fail(c, 503, "overloaded", "too many connections; try again");
        return;
    }
    conn_enter(c, C_IDLE);
}

/* Replies from other threads, and the stop's requests (server thread). */
static void on_async(uv_async_t *a)
{
    hcpd_http *h = a->data;
    hcp_mutex_lock(&h->mtx);
    hcpd_req *q = h->queue;
    h->queue = h->queue_tail = NULL;
    bool stopping = h->stopping, quit = h->quit;
    hcp_mutex_unlock(&h->mtx);
    while (q != NULL) {
        hcpd_req *next = q->next;
        http_take(q);
        q = next;
    }
    if (stopping && h->listener_open) {
        h->listener_open = false;
        uv_close((uv_handle_t *)&h->listener, NULL);
    }
    if (quit) {
        for (conn *c = h->all; c != NULL; c = c->anext) {
            conn_close(c);
        }
        uv_close((uv_handle_t *)&h->async, NULL);
    }
}

/* The server thread: its loop runs until hcpd_http_stop closes every handle. */
static void http_thread(void *arg)
{
    hcpd_http *h = arg;
    tls_server = h;
    (void)uv_run(&h->loop, UV_RUN_DEFAULT); /* returns when stopped; what is left, stop closes */
    tls_server = NULL;
}

/* ---- the worker pool (hcpd_req_offload) ---- */

/* Queue r for a worker (hcpd.h): only from the handler on the server
 * thread, before any reply, once. The request stays in h->inflight (stop
 * waits for it) and its connection stays paused in C_WAITING until the
 * worker's reply is taken. No allocation: the job is linked through r. */
int hcpd_req_offload(hcpd_req *r, void (*work)(void *arg, hcpd_req *r), void *arg)
{
    if (r == NULL || work == NULL) {
        return HCP_EINVAL;
    }
    hcpd_http *h = r->h;
    if (tls_server != h || !r->counted || r->work != NULL || atomic_load(&r->replied) ||
        h->workers_up == 0) {
        return HCP_EINVAL;
    }
    r->work = work;
    r->work_arg = arg;
    r->job_next = NULL;
    int q = r->account[0] != '\0' ? 0 : 1;
    hcp_mutex_lock(&h->mtx);
    if (h->jobs_tail[q] != NULL) {
        h->jobs_tail[q]->job_next = r;
    } else {
        h->jobs[q] = r;
    }
    h->jobs_tail[q] = r;
    h->offloaded++;
    if (h->gate[0] != '\0') { /* tests: the job is provably in flight */
        hcpd_log("info", "http.offload_queued", "path=%s account=%s", r->url,
                 r->account[0] ? r->account : "-");
    }
    hcp_cond_signal(&h->jobs_cond);
    hcp_mutex_unlock(&h->mtx);
    return HCP_OK;
}

/* The test gate (HCP_TEST_OFFLOAD_GATE, docs/http.md): a job waits here
 * until the file exists, so a test can hold offloaded requests in flight
 * for as long as it needs without relying on how long anything takes. */
static void http_gate(hcpd_http *h)
{
    while (h->gate[0] != '\0' && access(h->gate, F_OK) != 0) {
        uv_sleep(HTTP_GATE_POLL_MS);
    }
}

/* A worker thread: run queued jobs, oldest first and those of requests with
 * an account before anonymous ones, until stop ends the pool. A
 * job's work replies (from this thread, through the locked queue); r may be
 * freed as soon as it has, so it is not touched after work returns. */
static void http_worker(void *arg)
{
    hcpd_http *h = arg;
    hcp_mutex_lock(&h->mtx);
    for (;;) {
        while (h->jobs[0] == NULL && h->jobs[1] == NULL && !h->jobs_quit) {
            hcp_cond_wait(&h->jobs_cond, &h->mtx);
        }
        int q = h->jobs[0] != NULL ? 0 : 1;
        hcpd_req *r = h->jobs[q];
        if (r == NULL) {
            break; /* quitting, nothing left */
        }
        h->jobs[q] = r->job_next;
        if (h->jobs[q] == NULL) {
            h->jobs_tail[q] = NULL;
        }
        if (h->gate[0] != '\0') { /* under the lock: the lines are in the order taken */
            hcpd_log("info", "http.offload_held", "path=%s account=%s", r->url,
                     r->account[0] ? r->account : "-");
        }
        hcp_mutex_unlock(&h->mtx);
        http_gate(h);
        r->work(r->work_arg, r);
        hcp_mutex_lock(&h->mtx);
        h->offloaded--;
    }
    hcp_mutex_unlock(&h->mtx);
}

/* End the pool: wake every worker, let them drain the queue, join them. */
static void http_workers_stop(hcpd_http *h)
{
    hcp_mutex_lock(&h->mtx);
    h->jobs_quit = true;
    hcp_cond_broadcast(&h->jobs_cond);
    hcp_mutex_unlock(&h->mtx);
    for (int i = 0; i < h->workers_up; i++) {
        if (uv_thread_join(&h->workers[i]) != 0)
            abort(); /* only for a thread not ours or joined already: a bug */
    }
    h->workers_up = 0;
}

/* ---- start and stop ---- */

/* An integer setting from the environment within lo..hi, else def. */
static int http_env_int(const char *name, int def, int lo, int hi)
{
    const char *s = getenv(name);
    if (s == NULL || *s == '\0') {
        return def;
    }
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < lo || v > hi) {
        hcpd_log("warn", "http.bad_env", "name=%s detail=\"expected %d..%d; ignored\"", name, lo,
                 hi);
        return def;
    }
    return (int)v;
}

/* Log the address actually bound (the port may have been 0). */
static void http_log_addr(hcpd_http *h)
{
    struct sockaddr_storage ss;
    int len = sizeof(ss);
    char ip[64] = "?";
    unsigned port = 0;
    if (uv_tcp_getsockname(&h->listener, (struct sockaddr *)&ss, &len) == 0) {
        if (ss.ss_family == AF_INET6) {
            const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&ss;
            if (uv_ip6_name(a, ip, sizeof(ip)) != 0)
                snprintf(ip, sizeof(ip), "?");
            port = ntohs(a->sin6_port);
            hcpd_log("info", "http.listen", "addr=[%s]:%u max_conns=%d", ip, port, h->max_conns);
            return;
        }
        const struct sockaddr_in *a = (const struct sockaddr_in *)&ss;
        if (uv_ip4_name(a, ip, sizeof(ip)) != 0)
            snprintf(ip, sizeof(ip), "?");
        port = ntohs(a->sin_port);
    }
    hcpd_log("info", "http.listen", "addr=%s:%u max_conns=%d", ip, port, h->max_conns);
}

/* Bind and listen on h->listen with the server's loop (not running yet).
 * 0 or a libuv error code; *why names the step for the log. */
static int http_bind(hcpd_http *h, const char **why)
{
    char host[256];
    long port = 0;
    *why = "address";
    if (!hcpd_conf_hostport(h->listen, host, sizeof(host), &port)) {
        return UV_EINVAL;
    }
    char ports[16];
    snprintf(ports, sizeof(ports), "%ld", port);
    struct addrinfo hints = {0}, *ai = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    *why = "resolve";
    if (getaddrinfo(host, ports, &hints, &ai) != 0 || ai == NULL) {
        return UV_EAI_NONAME;
    }
    int rc = uv_tcp_init(&h->loop, &h->listener);
    if (rc == 0) {
        h->listener.data = h;
        h->listener_open = true;
        *why = "bind";
        rc = uv_tcp_bind(&h->listener, ai->ai_addr, 0);
        if (rc == 0) {
            *why = "listen";
            rc = uv_listen((uv_stream_t *)&h->listener, 511, on_connection);
        }
    }
    freeaddrinfo(ai);
    return rc;
}

/* Close whatever the loop holds and free h (a failed start, or the end of
 * a stop: the thread has returned). */
static void http_free(hcpd_http *h)
{
    if (h->listener_open) {
        h->listener_open = false;
        uv_close((uv_handle_t *)&h->listener, NULL);
    }
    if (!uv_is_closing((uv_handle_t *)&h->async)) {
        uv_close((uv_handle_t *)&h->async, NULL);
    }
    (void)uv_run(&h->loop,
                 UV_RUN_DEFAULT); /* the close callbacks; uv_loop_close reports leftovers */
    if (uv_loop_close(&h->loop) != 0) {
        hcpd_log("error", "http.loop_busy", "detail=\"handles left open at stop\"");
    }
    while (h->queue != NULL) { /* only a reply after the stop (a bug) */
        hcpd_req *r = h->queue;
        h->queue = r->next;
        req_free(r);
    }
    hcp_cond_destroy(&h->jobs_cond);
    hcp_cond_destroy(&h->cond);
    hcp_mutex_destroy(&h->mtx);
    explicit_bzero(h->token, sizeof(h->token));
    hcpd_sessions_free(h->sessions);
    free(h);
}

/* Start serving as cfg says; on success *out is the server (stop it with
 * hcpd_http_stop). cfg is copied; its strings need not outlive the call. */
/* Copy cfg into h and read the settings the environment may override
 * (connection cap, timeouts, workers, the tests' offload gate). */
static void http_configure(hcpd_http *h, const hcpd_http_cfg *cfg)
{
    h->cfg = *cfg;
    memcpy(h->listen, cfg->listen, strlen(cfg->listen) + 1);
    memcpy(h->token, cfg->token, strlen(cfg->token) + 1);
    h->cfg.listen = h->listen;
    h->cfg.token = h->token;
    h->max_conns = http_env_int("HCP_HTTP_MAX_CONNS",
                                cfg->max_conns > 0 ? cfg->max_conns : HTTP_MAX_CONNS, 1, 1000000);
    h->idle_ms = http_env_int("HCP_HTTP_IDLE_MS", HTTP_IDLE_MS, 10, HTTP_IDLE_MS);
    h->request_ms = http_env_int("HCP_HTTP_REQUEST_MS", HTTP_REQUEST_MS, 10, HTTP_REQUEST_MS);
    unsigned ncpu = uv_available_parallelism();
    int nw = ncpu < HTTP_WORKERS_MIN   ? HTTP_WORKERS_MIN
             : ncpu > HTTP_WORKERS_MAX ? HTTP_WORKERS_MAX
                                       : (int)ncpu;
    h->nworkers = http_env_int("HCP_HTTP_WORKERS", nw, 1, HTTP_WORKERS_CAP);
    const char *gate = getenv("HCP_TEST_OFFLOAD_GATE");
    if (gate != NULL && gate[0] != '\0' && strlen(gate) < sizeof(h->gate)) {
        memcpy(h->gate, gate, strlen(gate) + 1);
        hcpd_log("warn", "http.test_gate",
                 "detail=\"offloaded requests wait for a file (tests only)\"");
    } else if (gate != NULL && gate[0] != '\0') {
        hcpd_log("warn", "http.bad_env", "name=HCP_TEST_OFFLOAD_GATE detail=\"too long; ignored\"");
    }
    atomic_init(&h->writing, 0);
    h->cookie_secure = cfg->cookie_secure || http_env_int("HCP_SESSION_SECURE", 0, 0, 1) == 1;
}

/* The server's lock, condition variables, loop and wake-up handle. HCP_OK,
 * or HCP_ENOMEM with none of them left initialised (logged for the loop). */
static int http_sync_init(hcpd_http *h)
{
    if (pthread_mutex_init(&h->mtx, NULL) != 0)
        return HCP_ENOMEM;
    if (pthread_cond_init(&h->cond, NULL) != 0)
        goto no_cond;
    if (pthread_cond_init(&h->jobs_cond, NULL) != 0)
        goto no_jobs_cond;
    int rc = uv_loop_init(&h->loop);
    if (rc != 0)
        goto no_loop;
    if ((rc = uv_async_init(&h->loop, &h->async, on_async)) != 0) {
        (void)uv_loop_close(&h->loop); /* no handle was opened on it: cannot be busy */
        goto no_loop;
    }
    h->async.data = h;
    return HCP_OK;
no_loop:
    hcpd_log("error", "http.start_failed", "reason=\"%s\"", uv_strerror(rc));
    hcp_cond_destroy(&h->jobs_cond);
no_jobs_cond:
    hcp_cond_destroy(&h->cond);
no_cond:
    hcp_mutex_destroy(&h->mtx);
    return HCP_ENOMEM;
}

/* Start the workers, then the server's thread. HCP_OK, or HCP_ENOMEM with
 * the workers that started stopped again (logged); h is then still to be
 * freed with http_free. */
static int http_threads_start(hcpd_http *h)
{
    int rc;
    for (int i = 0; i < h->nworkers; i++) {
        if ((rc = uv_thread_create(&h->workers[i], http_worker, h)) != 0) {
            hcpd_log("error", "http.start_failed", "step=workers reason=\"%s\"", uv_strerror(rc));
            http_workers_stop(h);
            return HCP_ENOMEM;
        }
        h->workers_up++;
    }
    if ((rc = uv_thread_create(&h->thread, http_thread, h)) != 0) {
        hcpd_log("error", "http.start_failed", "reason=\"%s\"", uv_strerror(rc));
        http_workers_stop(h);
        return HCP_ENOMEM;
    }
    h->thread_up = true;
    return HCP_OK;
}

int hcpd_http_start(const hcpd_http_cfg *cfg, hcpd_http **out)
{
    if (cfg == NULL || out == NULL || cfg->listen == NULL || cfg->token == NULL ||
        cfg->token[0] == '\0' || cfg->handle == NULL)
        return HCP_EINVAL;
    if (strlen(cfg->listen) >= sizeof(((hcpd_http *)0)->listen) ||
        strlen(cfg->token) >= sizeof(((hcpd_http *)0)->token))
        return HCP_ERANGE;
    hcpd_http *h = calloc(1, sizeof(*h));
    if (h == NULL)
        return HCP_ENOMEM;
    /* libuv writes with writev(2): a client that reset its connection must
     * cost an EPIPE, not the process (nng used MSG_NOSIGNAL) */
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_IGN;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGPIPE, &sa, NULL);
    http_configure(h, cfg);
    /* HCP_SESSION_IDLE_S shortens the idle limit, for tests (docs/consoles.md) */
    int idle = http_env_int("HCP_SESSION_IDLE_S", HCPD_SESSION_IDLE_S, 1, HCPD_SESSION_IDLE_S);
    if (idle != HCPD_SESSION_IDLE_S)
        hcpd_log("warn", "session.test_idle",
                 "seconds=%d detail=\"console sessions end sooner "
                 "(HCP_SESSION_IDLE_S, tests only)\"",
                 idle);
    if (hcpd_sessions_new(HCPD_SESSION_MAX, idle, HCPD_SESSION_ABSOLUTE_S, &h->sessions) !=
        HCP_OK) {
        free(h);
        return HCP_ENOMEM;
    }
    if (http_sync_init(h) != HCP_OK) {
        hcpd_sessions_free(h->sessions);
        free(h);
        return HCP_ENOMEM;
    }
    const char *why = NULL;
    int rc = http_bind(h, &why);
    if (rc != 0) {
        hcpd_log("error", "http.start_failed", "addr=%s step=%s reason=\"%s\"", cfg->listen, why,
                 uv_strerror(rc));
        http_free(h);
        return rc == UV_EADDRINUSE ? HCP_EBUSY : rc == UV_EINVAL ? HCP_EINVAL : HCP_EIO;
    }
    http_log_addr(h);
    if (http_threads_start(h) != HCP_OK) {
        http_free(h);
        return HCP_ENOMEM;
    }
    *out = h;
    return HCP_OK;
}

/* Milliseconds on the monotonic clock. */
static uint64_t http_now_ms(void)
{
    return uv_hrtime() / 1000000u;
}

/*
 * Stop accepting (the listener closes; new requests on open connections get
 * 503) and wait until every request the handler has was answered, turning
 * cfg.loop meanwhile (UV_RUN_NOWAIT) so writes queued to the writer still
 * commit and reply; let the last replies leave (at most 1 s); then close
 * every connection, end the server thread and free the server. Call on the
 * loop thread with the loop not running.
 */
void hcpd_http_stop(hcpd_http *h)
{
    if (h == NULL) {
        return;
    }
    uint64_t t0 = http_now_ms(), last = t0;
    hcp_mutex_lock(&h->mtx);
    h->stopping = true;
    hcp_mutex_unlock(&h->mtx);
    (void)uv_async_send(&h->async); /* fails only on a handle not an async one */
    hcp_mutex_lock(&h->mtx);
    while (h->inflight > 0) {
        int inflight = h->inflight, offloaded = h->offloaded;
        hcp_mutex_unlock(&h->mtx);
        if (h->cfg.loop != NULL) {
            (void)uv_run(h->cfg.loop, UV_RUN_NOWAIT); /* one turn; its result is no question here */
        }
        if (http_now_ms() - last >= HTTP_DRAIN_LOG_MS) {
            hcpd_log("info", "http.draining", "inflight=%d offloaded=%d", inflight, offloaded);
            last = http_now_ms();
        }
        hcp_mutex_lock(&h->mtx);
        if (h->inflight > 0) {
            struct timespec t;
            clock_gettime(CLOCK_REALTIME, &t);
            t.tv_nsec += 2000000L;
            t.tv_sec += t.tv_nsec / 1000000000L;
            t.tv_nsec %= 1000000000L;
            int w = pthread_cond_timedwait(&h->cond, &h->mtx, &t);
            if (w != 0 && w != ETIMEDOUT)
                abort(); /* EINVAL, EPERM: a bug (lock.h) */
        }
    }
    hcp_mutex_unlock(&h->mtx);
    http_workers_stop(h); /* every job replied: the queue is empty */
    /* the last replies are being written: give them a moment */
    uint64_t w0 = http_now_ms();
    while (atomic_load(&h->writing) > 0 && http_now_ms() - w0 < HTTP_WRITE_WAIT_MS) {
        uv_sleep(2);
    }
    hcp_mutex_lock(&h->mtx);
    h->quit = true;
    hcp_mutex_unlock(&h->mtx);
    (void)uv_async_send(&h->async); /* fails only on a handle not an async one */
    if (uv_thread_join(&h->thread) != 0)
        abort(); /* only for a thread not ours or joined already: a bug */
    h->thread_up = false;
    http_free(h);
    hcpd_log("info", "http.stopped", "ms=%llu", (unsigned long long)(http_now_ms() - t0));
}

/* /metrics shows the connections against their cap: the copies the server
 * thread keeps for other threads, read without its lock. Through the
 * request, not the daemon's pointer to the server: a worker may run before
 * hcpd_http_start has handed that pointer out. */
hcpd_http_conns hcpd_req_conn_stats(const hcpd_req *r)
{
    hcpd_http_conns s = {0, 0, 0};
    hcpd_http *h = r != NULL ? r->h : NULL;
    if (h != NULL) {
        s.open = atomic_load(&h->conns_pub);
        s.max = h->max_conns; /* set before the server thread starts, never after */
        s.overloaded = atomic_load(&h->overloaded_pub);
    }
    return s;
}
