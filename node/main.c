/*
 * main.c — hcp-node, the county daemon: parse the settings, take the data
 * directory (one node per DIR), load the token, the seal key and the
 * calendar, open the store, then run the libuv loop (signals, the writer)
 * beside nng's HTTP server until SIGTERM or SIGINT.
 *
 * Exit status: 0 after a clean stop or --help, 2 for bad flags or config,
 * 1 when start-up fails (directory locked, unreadable key, store, port).
 */
#include <nng/nng.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "node.h"

#define TOKEN_BYTES 32 /* random bytes of a new API token (64 hex digits) */
#define TOKEN_MIN   16 /* shortest token accepted from a file */

/* Whole path DIR/name into buf; false if it does not fit. */
static bool main_path(char *buf, size_t len, const char *dir, const char *name)
{
    int n = snprintf(buf, len, "%s/%s", dir, name);
    return n > 0 && (size_t)n < len;
}

/* Create DIR (0700) if missing; it must then be a directory. */
static int main_mkdir(const char *dir)
{
    struct stat st;
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        fprintf(stderr, "hcp-node: cannot create %s: %s\n", dir, strerror(errno));
        return HCP_EIO;
    }
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        fprintf(stderr, "hcp-node: %s is not a directory\n", dir);
        return HCP_EIO;
    }
    return HCP_OK;
}

/* Take DIR/node.lock exclusively (flock, kept until exit) and write our pid
 * into it; a second node on the same DIR is refused with the holder's pid. */
static int main_lock(node *n)
{
    char path[NODE_PATH_MAX + 16];
    if (!main_path(path, sizeof(path), n->cfg.data, "node.lock")) {
        fprintf(stderr, "hcp-node: --data path too long\n");
        return HCP_ERANGE;
    }
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        fprintf(stderr, "hcp-node: cannot open %s: %s\n", path, strerror(errno));
        return HCP_EIO;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        char pid[32] = "";
        ssize_t r = pread(fd, pid, sizeof(pid) - 1, 0);
        pid[r > 0 ? r : 0] = '\0';
        pid[strcspn(pid, "\n")] = '\0';
        fprintf(stderr, "hcp-node: another hcp-node (pid %s) is using %s\n", pid[0] ? pid : "?",
                n->cfg.data);
        close(fd);
        return HCP_EBUSY;
    }
    char pid[32];
    int len = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)len, 0) != len) {
        fprintf(stderr, "hcp-node: cannot write %s: %s\n", path, strerror(errno));
        close(fd);
        return HCP_EIO;
    }
    n->lock_fd = fd;
    return HCP_OK;
}

/* Make a new token file at path: 32 random bytes in hex, mode 0600, O_EXCL,
 * fsynced (and its directory). The token is copied into tok. */
static int main_token_create(const char *path, const char *dir, char *tok, size_t toklen)
{
    uint8_t raw[TOKEN_BYTES];
    int rc = hcp_random(raw, sizeof(raw));
    if (rc != HCP_OK || toklen < 2 * TOKEN_BYTES + 2) {
        return rc != HCP_OK ? rc : HCP_ERANGE;
    }
    for (size_t i = 0; i < sizeof(raw); i++) {
        snprintf(tok + 2 * i, 3, "%02x", raw[i]);
    }
    explicit_bzero(raw, sizeof(raw));
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        return errno == EEXIST ? HCP_EEXIST : HCP_EIO;
    }
    tok[2 * TOKEN_BYTES] = '\n';
    bool ok = write(fd, tok, 2 * TOKEN_BYTES + 1) == 2 * TOKEN_BYTES + 1 && fsync(fd) == 0;
    tok[2 * TOKEN_BYTES] = '\0';
    ok = (close(fd) == 0) && ok;
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        ok = fsync(dfd) == 0 && ok;
        close(dfd);
    }
    if (!ok) {
        unlink(path);
        return HCP_EIO;
    }
    return HCP_OK;
}

/* Read the token of path into tok: one line of printable ASCII without
 * spaces, at least TOKEN_MIN long; a file readable by others is refused. */
static int main_token_read(const char *path, char *tok, size_t toklen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        fprintf(stderr, "hcp-node: cannot read token %s: %s\n", path, strerror(errno));
        return errno == ENOENT ? HCP_ENOTFOUND : HCP_EIO;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || (st.st_mode & 077) != 0 || !S_ISREG(st.st_mode)) {
        fprintf(stderr,
                "hcp-node: token file %s must be a regular file readable only by its "
                "owner (chmod 600)\n",
                path);
        close(fd);
        return HCP_EAUTH;
    }
    ssize_t r = read(fd, tok, toklen - 1);
    close(fd);
    tok[r > 0 ? r : 0] = '\0';
    size_t n = strcspn(tok, "\r\n");
    tok[n] = '\0';
    bool ok = r > 0 && (size_t)r < toklen - 1 && n >= TOKEN_MIN;
    for (size_t i = 0; ok && i < n; i++) {
        ok = tok[i] > 0x20 && tok[i] < 0x7f;
    }
    if (!ok) {
        fprintf(stderr,
                "hcp-node: token file %s: expected one line of %d..%zu printable "
                "characters without spaces\n",
                path, TOKEN_MIN, toklen - 2);
        explicit_bzero(tok, toklen);
        return HCP_EFORMAT;
    }
    return HCP_OK;
}

/* The API token: --api-token-file, else DIR/api.token (made on first start). */
static int main_token(node *n)
{
    if (n->cfg.api_token_file[0] != '\0') {
        return main_token_read(n->cfg.api_token_file, n->token, sizeof(n->token));
    }
    char path[NODE_PATH_MAX + 16];
    if (!main_path(path, sizeof(path), n->cfg.data, "api.token")) {
        return HCP_ERANGE;
    }
    int rc = main_token_create(path, n->cfg.data, n->token, sizeof(n->token));
    if (rc == HCP_OK) {
        node_log("info", "token.created", "path=%s mode=0600", path);
        return HCP_OK;
    }
    if (rc != HCP_EEXIST) {
        fprintf(stderr, "hcp-node: cannot create %s: %s\n", path, hcp_strerror(rc));
        return rc;
    }
    return main_token_read(path, n->token, sizeof(n->token));
}

/* Load (or make) the seal key and the sealer for personal data. */
static int main_seal(node *n)
{
    char path[NODE_PATH_MAX + 16];
    if (n->cfg.seal_key_file[0] != '\0') {
        snprintf(path, sizeof(path), "%s", n->cfg.seal_key_file);
    } else if (!main_path(path, sizeof(path), n->cfg.data, "seal.key")) {
        return HCP_ERANGE;
    }
    /* A new key only for a new store: a store that exists holds records
     * sealed under its own key, which a fresh key could never open. */
    char store[NODE_PATH_MAX + 16];
    if (!main_path(store, sizeof(store), n->cfg.data, "data.mdb")) {
        return HCP_ERANGE;
    }
    bool fresh = access(store, F_OK) != 0;
    uint8_t key[HCP_SEAL_KEY_LEN];
    int rc = hcp_seal_key_load(path, fresh, key);
    if (rc == HCP_OK) {
        rc = hcp_sealer_new(key, &n->sealer);
    }
    explicit_bzero(key, sizeof(key));
    if (rc == HCP_ENOTFOUND && !fresh) {
        fprintf(stderr,
                "hcp-node: seal key %s is missing but the store %s exists: copy the store's "
                "seal.key (from the old directory or the key escrow) before starting\n",
                path, store);
    } else if (rc != HCP_OK) {
        fprintf(stderr, "hcp-node: seal key %s: %s%s\n", path, hcp_strerror(rc),
                rc == HCP_EAUTH ? " (the file must be mode 0600)" : "");
    }
    return rc;
}

/* Load the calendar; warn when next year's is not installed yet. */
static int main_calendar(node *n)
{
    char err[256] = "";
    int rc = n->cfg.calendar[0] ? hcp_cal_load(n->cfg.calendar, &n->cal, err, sizeof(err))
                                : hcp_cal_default(&n->cal);
    if (rc != HCP_OK) {
        fprintf(stderr, "hcp-node: calendar %s: %s %s\n",
                n->cfg.calendar[0] ? n->cfg.calendar : "(compiled in)", hcp_strerror(rc), err);
        return rc;
    }
    int first = 0, last = 0, y = 0, m = 0, d = 0;
    hcp_cal_years(n->cal, &first, &last);
    hcp_day_to_ymd(hcp_day_of((hcp_time)time(NULL)), &y, &m, &d);
    node_log("info", "calendar.loaded", "source=%s first=%d last=%d",
             n->cfg.calendar[0] ? n->cfg.calendar : "compiled-in", first, last);
    if (y >= last || y < first) {
        node_log("warn", "calendar.expiring",
                 "year=%d last_known=%d detail=\"install the calendar of %d with --calendar; "
                 "deadlines in unknown years count Monday-Friday and are provisional\"",
                 y, last, y + 1);
    }
    return HCP_OK;
}

static uv_signal_t sig_term, sig_int;

/* SIGTERM/SIGINT: stop the loop; main then shuts everything down in order. */
static void main_on_signal(uv_signal_t *s, int signum)
{
    node_log("info", "node.stopping", "signal=%s", signum == SIGTERM ? "TERM" : "INT");
    uv_signal_stop(&sig_term);
    uv_signal_stop(&sig_int);
    uv_stop(s->loop);
}

/* Close any handle still open (uv_walk callback). */
static void main_close_handle(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h)) {
        uv_close(h, NULL);
    }
}

/* Watch SIGTERM and SIGINT on the loop. */
static int main_signals(uv_loop_t *loop)
{
    if (uv_signal_init(loop, &sig_term) != 0 || uv_signal_init(loop, &sig_int) != 0 ||
        uv_signal_start(&sig_term, main_on_signal, SIGTERM) != 0 ||
        uv_signal_start(&sig_int, main_on_signal, SIGINT) != 0) {
        return HCP_EIO;
    }
    return HCP_OK;
}

/* The steps before serving, in order; each one prints its own error. */
static int main_prepare(node *n)
{
    int rc;
    if ((rc = main_mkdir(n->cfg.data)) != HCP_OK || (rc = main_lock(n)) != HCP_OK ||
        (rc = main_token(n)) != HCP_OK || (rc = main_seal(n)) != HCP_OK ||
        (rc = main_calendar(n)) != HCP_OK) {
        return rc;
    }
    if ((rc = node_store_open(n)) != HCP_OK) {
        fprintf(stderr, "hcp-node: cannot open the store in %s: %s\n", n->cfg.data,
                hcp_strerror(rc));
    }
    return rc;
}

/* Run the loop until a signal, then stop: HTTP (drain in-flight requests),
 * the writer (commit what is queued), the loop's handles. */
static int main_serve(node *n)
{
    int rc;
    if ((rc = main_signals(n->loop)) != HCP_OK) {
        fprintf(stderr, "hcp-node: cannot watch signals\n");
        return rc;
    }
    if ((rc = node_writer_start(n)) != HCP_OK) {
        fprintf(stderr, "hcp-node: cannot start the writer: %s\n", hcp_strerror(rc));
        return rc;
    }
    if ((rc = node_http_start(n)) != HCP_OK) {
        fprintf(stderr, "hcp-node: cannot listen on %s: %s\n", n->cfg.listen_http,
                hcp_strerror(rc));
        node_writer_stop(n);
        return rc;
    }
    node_log("info", "node.ready", "county=%s http=%s gateway=%s", n->cfg.county,
             n->cfg.listen_http, n->cfg.gateway[0] ? n->cfg.gateway : "none");
    uv_run(n->loop, UV_RUN_DEFAULT);
    node_http_stop(n);   /* new requests get 503; in-flight ones are answered */
    node_writer_stop(n); /* everything queued is committed before we go */
    return HCP_OK;
}

/* Free what main_prepare made (safe on a half-built node). */
static void main_teardown(node *n)
{
    if (n->loop != NULL) {
        uv_walk(n->loop, main_close_handle, NULL);
        uv_run(n->loop, UV_RUN_DEFAULT); /* let every close callback run */
        if (uv_loop_close(n->loop) != 0) {
            node_log("warn", "node.loop_busy", "detail=\"handles left open\"");
        }
    }
    node_writer_free(n); /* its handles were closed above */
    if (n->store != NULL) {
        node_store_close(n);
    }
    hcp_sealer_free(n->sealer);
    hcp_cal_free(n->cal);
    explicit_bzero(n->token, sizeof(n->token));
    if (n->lock_fd >= 0) {
        close(n->lock_fd); /* releases the flock */
    }
}

/* hcp-node [backup|verify] ...: see node_config_usage. */
int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "backup") == 0) {
        return node_cmd_backup(argc - 1, argv + 1);
    }
    if (argc >= 2 && strcmp(argv[1], "verify") == 0) {
        return node_cmd_verify(argc - 1, argv + 1);
    }
    static node n; /* large (paths): not on the stack */
    char err[1024];
    int rc = node_config_parse(&n.cfg, argc, argv, err, sizeof(err));
    if (rc == NODE_CFG_HELP) {
        node_config_usage();
        return 0;
    }
    if (rc != NODE_CFG_OK) {
        fprintf(stderr, "hcp-node: %s\n", err);
        return 2;
    }
    n.lock_fd = -1;
    static uv_loop_t loop;
    rc = main_prepare(&n);
    if (rc == HCP_OK && uv_loop_init(&loop) != 0) {
        fprintf(stderr, "hcp-node: cannot create the event loop\n");
        rc = HCP_EIO;
    } else if (rc == HCP_OK) {
        n.loop = &loop;
        rc = main_serve(&n);
    }
    main_teardown(&n);
    nng_fini();
    node_log("info", "node.exit", "status=%d", rc == HCP_OK ? 0 : 1);
    return rc == HCP_OK ? 0 : 1;
}
