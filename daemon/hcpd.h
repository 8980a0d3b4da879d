/*
 * hcpd.h — what both daemons (hcp-node, hcp-gateway) share: structured
 * logging, the HTTP server (libuv + http_parser, with bearer tokens,
 * bounded bodies, JSON errors, timeouts and a connection cap:
 * docs/http.md), the start-up plumbing (data directory, lock, token, seal
 * key, calendar, signals) and the flags + INI parser. Prefix hcpd_.
 */
#ifndef HCPD_H
#define HCPD_H

#include <jansson.h>
#include <nng/nng.h>
#include <stddef.h>
#include <uv.h>

#include "calendar.h"
#include "hcp.h"
#include "seal.h"
#include "version.h"

/* One line per event on stderr, never personal data:
 *   2026-11-27T10:03:00.123+08:00 level=info id=http.listen addr=127.0.0.1:8701
 * Levels debug < info < warn < error; HCP_LOG_LEVEL sets the threshold
 * (default info). Thread-safe: one write(2) per line. Under systemd
 * (JOURNAL_STREAM names stderr) each line starts with its syslog priority,
 * "<3>".."<7>", for journald. */
void hcpd_log(const char *level, const char *id, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

typedef struct hcpd_http hcpd_http;
typedef struct hcpd_req hcpd_req;

/* Roles of an account (docs/access.md); the admin account has all. */
#define HCPD_ROLE_CLERK      0x1u
#define HCPD_ROLE_SUPERVISOR 0x2u
#define HCPD_ROLE_AUDITOR    0x4u
#define HCPD_ROLE_ALL        0x7u
#define HCPD_ACCOUNT_MAX     64 /* bytes of an account name, NUL included */

typedef struct hcpd_http_cfg {
    const char *listen; /* HOST:PORT or [V6]:PORT (port 0: any; the bound one is logged) */
    const char *token;  /* bearer token of every non-public route: the account "admin" */
    /* Whether a route is served without a token (NULL: none is). A public
     * route answers only GET and HEAD (others 405) and reads no body. */
    bool (*is_public)(const char *method, const char *path);
    /* Called on the HTTP server's thread for each admitted request (token
     * checked, body read within HCP_BODY_MAX). It must make the request be
     * answered exactly once, now or later from any thread. It should not
     * block: the server's connections wait while it runs; slow work goes
     * to hcpd_req_offload. */
    void (*handle)(void *arg, hcpd_req *r);
    void *arg;
    /* Who holds a bearer token that is not cfg.token: copy the account's
     * name into name (HCPD_ACCOUNT_MAX bytes), set *roles, return true;
     * false means 401. NULL: only cfg.token is accepted. Called on the HTTP
     * server's thread: must be thread-safe and must not block for long.
     * cfg.token itself is the account "admin" with HCPD_ROLE_ALL and is
     * compared in constant time. */
    bool (*authenticate)(void *arg, const char *token, char *name, unsigned *roles);
    uv_loop_t *loop; /* turned (UV_RUN_NOWAIT) while hcpd_http_stop drains */
    /* Open connections at most (0: 1024); the environment variable
     * HCP_HTTP_MAX_CONNS overrides it. At the cap a new connection evicts
     * the one idle longest (else the one whose headers have been arriving
     * longest), else it is answered 503 overloaded. Timeouts:
     * HCP_HTTP_IDLE_MS and HCP_HTTP_REQUEST_MS (30000 each, at most). */
    int max_conns;
    /* Mark the console session cookie Secure (the daemon is reached over
     * TLS, e.g. behind a proxy); the environment variable HCP_SESSION_SECURE=1
     * does the same. Console sessions: docs/consoles.md, daemon/session.h. */
    bool cookie_secure;
} hcpd_http_cfg;

/* Start serving as cfg says (copied): bind, listen, start the server's
 * thread. *out is the server, the caller's until hcpd_http_stop frees it.
 * Returns HCP_OK; HCP_EBUSY when the address is in use (callers tell the
 * operator another process holds the port); HCP_EINVAL for a malformed
 * listen or cfg; HCP_ERANGE for a listen or token too long; HCP_ENOMEM
 * (memory, threads, the loop); HCP_EIO for other socket errors (each
 * logged as http.start_failed with the reason). */
HCP_NODISCARD int hcpd_http_start(const hcpd_http_cfg *cfg, hcpd_http **out);
/* Stop accepting (new requests get 503), wait until every request in
 * flight was answered, then close and free the server. Call on the loop
 * thread with the loop not running; safe on NULL. */
void hcpd_http_stop(hcpd_http *h);

/* The connection figures of the server that received r, for /metrics,
 * from any thread while r is not yet answered: connections open under the
 * cap, the cap, and connections answered 503 overloaded at the cap since
 * the start. Zeros for NULL. */
typedef struct hcpd_http_conns {
    int open, max;
    uint64_t overloaded;
} hcpd_http_conns;
hcpd_http_conns hcpd_req_conn_stats(const hcpd_req *r);

const char *hcpd_req_method(const hcpd_req *r);
/* The path without the query string (not percent-decoded). */
const char *hcpd_req_path(const hcpd_req *r);
/* Copy query parameter key (URL-decoded) into buf; false when absent or too long.
 * Lenient (the first occurrence wins): new code uses hcpd_req_query_get. */
HCP_NODISCARD bool hcpd_req_query(const hcpd_req *r, const char *key, char *buf, size_t len);

/* Query parameter `key` of r, URL-decoded, into buf (len bytes incl. NUL). */
#define HCPD_Q_ABSENT 0 /* not given */
#define HCPD_Q_OK     1 /* given, copied */
/* HCPD_Q_BAD: given but malformed: longer than buf, bad %-escape, NUL or
 * control character, invalid UTF-8, or given more than once (answer 400). */
#define HCPD_Q_BAD (-1)
HCP_NODISCARD int hcpd_req_query_get(const hcpd_req *r, const char *key, char *buf, size_t len);
/* Check every query parameter a route reads (keys, NULL-terminated) with
 * hcpd_req_query_get and a buffer of len bytes: on the first HCPD_Q_BAD,
 * answer 400 {"error":"invalid_parameter","detail":"KEY: malformed ..."}
 * and return false (the caller returns). Then the lenient hcpd_req_query
 * reads the same values: nothing malformed is silently ignored. */
HCP_NODISCARD bool hcpd_req_params_ok(hcpd_req *r, const char *const *keys, size_t len);
/* The authenticated account of r ("" on a public route reached without a token). */
const char *hcpd_req_account(const hcpd_req *r);
/* Its roles (0 when none). */
unsigned hcpd_req_roles(const hcpd_req *r);
/* A request header kept for the handler (If-None-Match, If-Modified-Since,
 * Accept-Encoding),
 * borrowed until the reply; NULL when absent. (X-HCP-User is no longer
 * kept: the access log names the authenticated account.) */
const char *hcpd_req_header(const hcpd_req *r, const char *name);
/* The body (borrowed until the reply; NUL-terminated, len excludes it). */
void hcpd_req_body(const hcpd_req *r, const char **body, size_t *len);
/* Reply exactly once, from any thread. body is stolen: a reference the
 * caller owned, json_decref()ed here whatever happens (NULL answers 500). */
void hcpd_req_reply_json(hcpd_req *r, int status, json_t *body);
/* Reply with {"error": error, "detail": detail}. */
void hcpd_req_reply_error(hcpd_req *r, int status, const char *error, const char *detail);
/* Reply with bytes of a content type (copied). */
void hcpd_req_reply_raw(hcpd_req *r, int status, const char *content_type, const void *data,
                        size_t len);
/* One extra response header: name and value, borrowed for the call. */
typedef struct hcpd_hdr {
    const char *name;
    const char *value;
} hcpd_hdr;
/* As hcpd_req_reply_raw, with nhdrs extra headers (copied) set after the
 * defaults, so one named again replaces it (e.g. Cache-Control). For the
 * public feed's ETag, Last-Modified and 304 Not Modified. */
void hcpd_req_reply_hdrs(hcpd_req *r, int status, const char *content_type, const void *data,
                         size_t len, const hcpd_hdr *hdrs, size_t nhdrs);
/* As hcpd_req_reply_hdrs, but the body is lent, not copied: data[0..len)
 * must stay valid and unchanged until done(ctx) is called, exactly once:
 * on the server thread when the reply has been written or dropped (the
 * connection gone), or before this call returns when no body is sent (204,
 * 304, HEAD) or the call fails (then 500). For answers of megabytes the
 * daemon already holds (the monthly form): no copy, no fresh pages. */
void hcpd_req_reply_lent(hcpd_req *r, int status, const char *content_type, const void *data,
                         size_t len, const hcpd_hdr *hdrs, size_t nhdrs, void (*done)(void *ctx),
                         void *ctx);

/* Batched replies from a thread other than the server's: between
 * hcpd_reply_hold and hcpd_reply_flush the replies this thread makes are
 * kept and then handed to their server thread together, under one lock and
 * with one wake-up, instead of one hand-off each (the node's writer answers
 * a whole committed batch this way). Replies are sent only at the flush;
 * every hold must be followed by a flush on the same thread. Replies made
 * on the server thread itself are not held (they never need a hand-off). */
void hcpd_reply_hold(void);
void hcpd_reply_flush(void);

/* Move slow work (an LMDB scan, a render, a commit) off the server thread,
 * where it would hold every connection, /healthz included: work(arg, r) is
 * run once on one of the server's worker threads (HCP_HTTP_WORKERS, by
 * default the CPUs within 2..8; oldest first, those of requests with an
 * account before anonymous ones) and must
 * reply to r exactly once, as a handler must. Call only from cfg.handle,
 * on the server thread, before replying, at most once per request. r stays
 * in flight (hcpd_http_stop waits for its reply) and its connection stays
 * paused, so pipelined requests keep their order. work must be thread-safe
 * against other handlers and workers; arg is the caller's (work frees it if
 * it must). Returns HCP_OK (queued: the handler returns without replying),
 * or HCP_EINVAL when r or work is NULL, or the call is made off the server
 * thread, twice, or after a reply: then nothing happened and the caller
 * still answers r (e.g. by calling work itself). */
HCP_NODISCARD int hcpd_req_offload(hcpd_req *r, void (*work)(void *arg, hcpd_req *r), void *arg);

/* ---- startup.c: start-up and shutdown plumbing of a daemon. ----
 * prog is the daemon's name in messages ("hcp-node"); each function prints
 * its own error to stderr as "prog: ..." and returns an hcp_err: HCP_OK,
 * HCP_EINVAL for a NULL or empty argument, HCP_ERANGE for a path too long,
 * and the errors each names. main maps any failure to exit status 1, and
 * branches on nothing else. */

#define HCPD_TOKEN_BYTES 32 /* random bytes of a new token (64 hex digits) */
#define HCPD_TOKEN_MIN   16 /* shortest token accepted from a file */

/* Create dir (0700) if missing; it must then be a directory (else HCP_EIO). */
HCP_NODISCARD int hcpd_mkdir(const char *prog, const char *dir);
/* Take dir/file (e.g. "node.lock") exclusively with flock and write our pid
 * into it; *fd (the caller's to close) keeps the lock until closed. Another
 * holder is refused with "another PROG (pid N) is using DIR" and HCP_EBUSY;
 * HCP_EIO when the file cannot be opened or written. */
HCP_NODISCARD int hcpd_lock(const char *prog, const char *dir, const char *file, int *fd);
/* The bearer token into tok (toklen >= 2 * HCPD_TOKEN_BYTES + 2): read from
 * path when path is non-empty; else dir/file, created on first start (32
 * random bytes in hex, mode 0600, O_EXCL, fsynced). A token file readable
 * by group or others, or not one line of >= HCPD_TOKEN_MIN printable
 * characters without spaces, is refused (HCP_EAUTH for the mode,
 * HCP_EFORMAT for the content; HCP_EIO when it cannot be read or made). */
HCP_NODISCARD int hcpd_token(const char *prog, const char *path, const char *dir, const char *file,
                             char *tok, size_t toklen);
/* The sealer of personal data into *out (caller frees with
 * hcp_sealer_free): the key of key_file, or, when key_file is empty, of
 * DIR.keys/seal.key — a directory beside the data directory (made 0700),
 * so that a copy of the data is not also a copy of its key. An older
 * installation's dir/seal.key is moved there once (logged
 * seal.key_moved); both present, or a failed move, is refused with what
 * to do. A new key is made only while dir/store_file (e.g. "data.mdb")
 * does not exist: an existing store's records need their own key.
 * Errors: those of hcp_seal_key_load and hcp_sealer_new (seal.h), HCP_EEXIST
 * (both key files present), HCP_EIO (the move failed). */
HCP_NODISCARD int hcpd_seal(const char *prog, const char *key_file, const char *dir,
                            const char *store_file, hcp_sealer **out);
/* The working-day calendar of path, or the compiled-in one when path is
 * empty, into *out (caller frees with hcp_cal_free). Logs calendar.loaded,
 * and calendar.expiring when this year is its last or unknown. Errors:
 * those of hcp_cal_load / hcp_cal_default (calendar.h). */
HCP_NODISCARD int hcpd_calendar(const char *prog, const char *path, hcp_cal **out);
/* Watch SIGTERM and SIGINT on loop (one set per process): the first logs
 * "<id>.stopping" (id e.g. "node") and stops the loop. Also
 * hcpd_restart_watch. HCP_EIO when libuv refuses a handle. */
HCP_NODISCARD int hcpd_signals(uv_loop_t *loop, const char *id);
/* Close every handle still open on loop, run it until the close callbacks
 * ran, and close it ("<id>.loop_busy" is logged if that fails). NULL-safe. */
void hcpd_loop_close(uv_loop_t *loop, const char *id);

/* ---- conf.c: command-line flags and an INI file with the same keys. ---- */

enum hcpd_conf_kind { HCPD_CONF_STR, HCPD_CONF_BOOL, HCPD_CONF_INT };

/* One setting: its flag name (without "--") and where it lives in the
 * caller's struct. STR: char[size], non-empty; BOOL: bool (a bare --flag is
 * yes); INT: int within min..max, described as `what` in messages. */
typedef struct hcpd_conf_opt {
    const char *name;
    enum hcpd_conf_kind kind;
    size_t off;
    size_t size;
    long min, max;
    const char *what; /* INT: e.g. "seconds"; NULL: "a number" */
} hcpd_conf_opt;

#define HCPD_CONF_STR_OPT(type, n, f)                                                              \
    {                                                                                              \
        n, HCPD_CONF_STR, offsetof(type, f), sizeof(((type *)0)->f), 0, 0, NULL                    \
    }
#define HCPD_CONF_BOOL_OPT(type, n, f)                                                             \
    {                                                                                              \
        n, HCPD_CONF_BOOL, offsetof(type, f), sizeof(bool), 0, 0, NULL                             \
    }
#define HCPD_CONF_INT_OPT(type, n, f, lo, hi, what)                                                \
    {                                                                                              \
        n, HCPD_CONF_INT, offsetof(type, f), sizeof(int), lo, hi, what                             \
    }

#define HCPD_CONF_MAX_OPTS 64 /* options of one table */

/* A daemon's option table. */
typedef struct hcpd_conf {
    const hcpd_conf_opt *opts;
    size_t nopts;        /* at most HCPD_CONF_MAX_OPTS */
    const char *section; /* the only [section] a file may name; NULL: any header is ignored */
} hcpd_conf;

#define HCPD_CONF_OK      0 /* parsed: the caller checks the values */
#define HCPD_CONF_HELP    1 /* --help or -h was given: print the usage, exit 0 */
#define HCPD_CONF_ERROR   2 /* bad input: one-line message in err, exit 2 */
#define HCPD_CONF_VERSION 3 /* --version was given: hcpd_version_print (version.h), exit 0 */

/* Apply argv (argv[0] is the program) to the struct cfg: --name value,
 * --name=value, a bare --bool; then the file of --config FILE, whose
 * `key = value` lines set what no flag set (flags win). '#'/';' lines are
 * comments, values may be double-quoted, an unknown key is
 * "FILE:LINE: unknown key". cfg is not cleared: set defaults before.
 * Returns one of HCPD_CONF_*, which the caller must branch on. */
HCP_NODISCARD int hcpd_conf_parse(const hcpd_conf *c, void *cfg, int argc, char **argv, char *err,
                                  size_t errlen);
/* Split "HOST:PORT" or "[V6]:PORT" into host (hostlen bytes) and *port
 * (0..65535); false if malformed. */
HCP_NODISCARD bool hcpd_conf_hostport(const char *s, char *host, size_t hostlen, long *port);

/* --map-max-mib of both daemons: the ceiling of the LMDB map in MiB. */
#define HCPD_MAP_MAX_MIB         16777216 /* 16 TiB: far below what the kernel can map */
#define HCPD_MAP_MAX_MIB_DEFAULT 1048576  /* 1 TiB */

/* Raise the open-file soft limit to the hard limit (best effort, logged). */
void hcpd_raise_nofile(void);

/* glibc's malloc thresholds for a daemon moving batches (startup.c): freed
 * memory up to HCPD_MALLOC_TRIM at an arena's top is kept for the next
 * batch, blocks up to HCPD_MALLOC_MMAP come from the heap. */
#define HCPD_MALLOC_TRIM (16 * 1024 * 1024)
#define HCPD_MALLOC_MMAP (4 * 1024 * 1024)

/* Set them (best effort, logged; not when GLIBC_TUNABLES sets malloc's). */
void hcpd_malloc_keep(void);

/* A whole text file (at most max bytes) as a NUL-terminated heap string the
 * caller free()s; NULL if it cannot be read or is larger. */
HCP_NODISCARD char *hcpd_read_text(const char *path, size_t max);

/* nng_close(sock), waiting at most secs seconds (on a thread of its own:
 * nng 1.5.2 can deadlock closing a socket). false when it did not finish:
 * the socket and what it owns are abandoned to the process's exit, and
 * hcpd_nng_stuck() turns true (nng_fini would then hang: skip it). */
bool hcpd_nng_close_bounded(nng_socket sock, int secs);
/* fn(arg) on a thread of its own, waiting at most secs seconds; false (and
 * hcpd_nng_stuck() true) when it did not return: fn and arg are abandoned
 * to the process's exit. For calls into nng that can deadlock. */
bool hcpd_nng_bounded(void (*fn)(void *), void *arg, int secs);
bool hcpd_nng_stuck(void);
/* Note that a thread may still be inside nng at exit (nng_fini skipped). */
void hcpd_nng_set_stuck(void);

/* ---- restart.c: restarting in place (same PID) after an orderly stop,
 * when nng is wedged for good (docs/replication.md, "Reconnects") or on
 * SIGHUP. ---- */

/* Watch SIGHUP and restart requests on loop (hcpd_signals calls it).
 * HCP_EINVAL (loop NULL), HCP_EIO (libuv refused a handle). */
HCP_NODISCARD int hcpd_restart_watch(uv_loop_t *loop);
/* Before the loop's handles close: later requests only set the flag. */
void hcpd_restart_disarm(void);
/* Ask for a restart (any thread; the first reason is kept and logged):
 * the loop stops as for SIGTERM and main calls hcpd_restart_exec. */
void hcpd_restart_request(const char *why);
/* A SIGTERM or SIGINT came: exit instead of restarting. */
void hcpd_restart_refuse(void);
bool hcpd_restart_requested(void);
/* Re-execute /proc/self/exe with argv, every descriptor above stderr
 * closed, signals unblocked; a restart within 60 s of the last one waits
 * 5 s first. Returns only if exec failed (logged): then exit non-zero. */
void hcpd_restart_exec(char **argv);
/* Restarts in place since the daemon was started (0 at first). */
long hcpd_restart_count(void);

#endif
