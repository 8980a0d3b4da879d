/*
 * startup.c — the start-up and shutdown plumbing both daemons share: the data
 * directory, its lock, the bearer token, the seal key, the calendar, and the
 * signals that stop the loop. Each step prints its own error to stderr,
 * prefixed with the daemon's name, so main only maps failures to exit 1.
 */
#include <errno.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <stdatomic.h>
#include <nng/nng.h>
#include <pthread.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/resource.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "hcpd.h"
#include "lock.h"

#define STARTUP_PATH_MAX (4096 + 64) /* DIR/name */

/* Whole path DIR/name into buf; false if it does not fit. */
static bool startup_path(char *buf, size_t len, const char *dir, const char *name)
{
    int n = snprintf(buf, len, "%s/%s", dir, name);
    return n > 0 && (size_t)n < len;
}

/* Create dir (0700) if missing; it must then be a directory. */
/* Lift the soft limit on open files to the hard one: a gateway holds one
 * connection per county (2,900 in China), a node its HTTP clients. */
void hcpd_raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= rl.rlim_max)
        return;
    rl.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
        hcpd_log("warn", "daemon.nofile", "detail=\"cannot raise the open-file limit\"");
}

/* Keep freed heap memory instead of handing it back to the kernel at once.
 * Both daemons allocate and free about a batch's worth (1-2 MiB: the
 * message, the decoded events, their strings) per batch, on one thread and
 * free it on another; with glibc's defaults the top of an arena is trimmed
 * (and the pages faulted in and zeroed again by the kernel for the next
 * batch) and 1 MiB buffers are mmap'ed and unmapped each time: 10-12 % of
 * the gateway's CPU during a catch-up. The thresholds make a process keep
 * up to HCPD_MALLOC_TRIM free bytes at an arena's top and serve buffers up
 * to HCPD_MALLOC_MMAP from the heap. GLIBC_TUNABLES naming malloc settings
 * wins (an operator's choice). */
void hcpd_malloc_keep(void)
{
#if defined(__GLIBC__) && defined(M_TRIM_THRESHOLD) && defined(M_MMAP_THRESHOLD)
    const char *t = getenv("GLIBC_TUNABLES");
    if (t != NULL && strstr(t, "malloc.") != NULL)
        return;
    if (mallopt(M_MMAP_THRESHOLD, HCPD_MALLOC_MMAP) != 1 ||
        mallopt(M_TRIM_THRESHOLD, HCPD_MALLOC_TRIM) != 1)
        hcpd_log("warn", "daemon.malloc", "detail=\"cannot set the allocator's thresholds\"");
#endif
}

int hcpd_mkdir(const char *prog, const char *dir)
{
    if (prog == NULL || dir == NULL || dir[0] == '\0') {
        return HCP_EINVAL;
    }
    struct stat st;
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        fprintf(stderr, "%s: cannot create %s: %s\n", prog, dir, strerror(errno));
        return HCP_EIO;
    }
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        fprintf(stderr, "%s: %s is not a directory\n", prog, dir);
        return HCP_EIO;
    }
    return HCP_OK;
}

/* Report who holds the lock of fd (its pid, as written into the file). */
static void startup_lock_busy(const char *prog, const char *dir, int fd)
{
    char pid[32] = "";
    ssize_t r = pread(fd, pid, sizeof(pid) - 1, 0);
    pid[r > 0 ? r : 0] = '\0';
    pid[strcspn(pid, "\n")] = '\0';
    fprintf(stderr, "%s: another %s (pid %s) is using %s\n", prog, prog, pid[0] ? pid : "?", dir);
}

/* Take dir/file exclusively (flock, kept while *fd is open) and write our
 * pid into it; a second daemon on the same dir is refused with the pid. */
int hcpd_lock(const char *prog, const char *dir, const char *file, int *fd)
{
    if (prog == NULL || dir == NULL || file == NULL || fd == NULL) {
        return HCP_EINVAL;
    }
    char path[STARTUP_PATH_MAX];
    if (!startup_path(path, sizeof(path), dir, file)) {
        fprintf(stderr, "%s: --data path too long\n", prog);
        return HCP_ERANGE;
    }
    int f = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (f < 0) {
        fprintf(stderr, "%s: cannot open %s: %s\n", prog, path, strerror(errno));
        return HCP_EIO;
    }
    if (flock(f, LOCK_EX | LOCK_NB) != 0) {
        startup_lock_busy(prog, dir, f);
        close(f);
        return HCP_EBUSY;
    }
    char pid[32];
    int len = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
    if (ftruncate(f, 0) != 0 || pwrite(f, pid, (size_t)len, 0) != len) {
        fprintf(stderr, "%s: cannot write %s: %s\n", prog, path, strerror(errno));
        close(f);
        return HCP_EIO;
    }
    *fd = f;
    return HCP_OK;
}

/* Write the len bytes of buf to a new file at path (mode 0600, O_EXCL) and
 * fsync it and its directory dir; the file is removed again on failure. */
static int startup_write_new(const char *path, const char *dir, const char *buf, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        return errno == EEXIST ? HCP_EEXIST : HCP_EIO;
    }
    bool ok = write(fd, buf, len) == (ssize_t)len && fsync(fd) == 0;
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

/* Make a new token file at path: HCPD_TOKEN_BYTES random bytes in hex
 * plus a newline. The token (without the newline) is copied into tok. */
static int startup_token_create(const char *path, const char *dir, char *tok, size_t toklen)
{
    uint8_t raw[HCPD_TOKEN_BYTES];
    if (toklen < 2 * HCPD_TOKEN_BYTES + 2) {
        return HCP_ERANGE;
    }
    int rc = hcp_random(raw, sizeof(raw));
    if (rc != HCP_OK) {
        return rc;
    }
    for (size_t i = 0; i < sizeof(raw); i++) {
        snprintf(tok + 2 * i, 3, "%02x", raw[i]);
    }
    explicit_bzero(raw, sizeof(raw));
    tok[2 * HCPD_TOKEN_BYTES] = '\n';
    rc = startup_write_new(path, dir, tok, 2 * HCPD_TOKEN_BYTES + 1);
    tok[2 * HCPD_TOKEN_BYTES] = '\0';
    if (rc != HCP_OK) {
        explicit_bzero(tok, toklen);
    }
    return rc;
}

/* Whether tok (n bytes) is printable ASCII without spaces. */
static bool startup_token_printable(const char *tok, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (tok[i] <= 0x20 || tok[i] >= 0x7f) {
            return false;
        }
    }
    return true;
}

/* Read the token of path into tok: one line of printable ASCII without
 * spaces, at least HCPD_TOKEN_MIN long; a file readable by others is refused. */
static int startup_token_read(const char *prog, const char *path, char *tok, size_t toklen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        fprintf(stderr, "%s: cannot read token %s: %s\n", prog, path, strerror(e));
        return e == ENOENT ? HCP_ENOTFOUND : HCP_EIO;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || (st.st_mode & 077) != 0 || !S_ISREG(st.st_mode)) {
        fprintf(stderr,
                "%s: token file %s must be a regular file readable only by its "
                "owner (chmod 600)\n",
                prog, path);
        close(fd);
        return HCP_EAUTH;
    }
    ssize_t r = read(fd, tok, toklen - 1);
    close(fd);
    tok[r > 0 ? r : 0] = '\0';
    size_t n = strcspn(tok, "\r\n");
    tok[n] = '\0';
    if (r <= 0 || (size_t)r >= toklen - 1 || n < HCPD_TOKEN_MIN ||
        !startup_token_printable(tok, n)) {
        fprintf(stderr,
                "%s: token file %s: expected one line of %d..%zu printable "
                "characters without spaces\n",
                prog, path, HCPD_TOKEN_MIN, toklen - 2);
        explicit_bzero(tok, toklen);
        return HCP_EFORMAT;
    }
    return HCP_OK;
}

/* The token: of path when given, else of dir/file (made on first start). */
int hcpd_token(const char *prog, const char *path, const char *dir, const char *file, char *tok,
               size_t toklen)
{
    if (prog == NULL || path == NULL || dir == NULL || file == NULL || tok == NULL ||
        toklen < 2 * HCPD_TOKEN_BYTES + 2) {
        return HCP_EINVAL;
    }
    if (path[0] != '\0') {
        return startup_token_read(prog, path, tok, toklen);
    }
    char def[STARTUP_PATH_MAX];
    if (!startup_path(def, sizeof(def), dir, file)) {
        fprintf(stderr, "%s: --data path too long\n", prog);
        return HCP_ERANGE;
    }
    int rc = startup_token_create(def, dir, tok, toklen);
    if (rc == HCP_OK) {
        hcpd_log("info", "token.created", "path=%s mode=0600", def);
        return HCP_OK;
    }
    if (rc != HCP_EEXIST) {
        fprintf(stderr, "%s: cannot create %s: %s\n", prog, def, hcp_strerror(rc));
        return rc;
    }
    return startup_token_read(prog, def, tok, toklen);
}

/* Explain a failed seal key load of path (store: the store file). */
static void startup_seal_error(const char *prog, int rc, bool fresh, const char *path,
                               const char *store)
{
    if (rc == HCP_ENOTFOUND && !fresh) {
        fprintf(stderr,
                "%s: seal key %s is missing but the store %s exists: copy the store's "
                "seal.key there (from the key backup or escrow) before starting\n",
                prog, path, store);
    } else {
        fprintf(stderr, "%s: seal key %s: %s%s\n", prog, path, hcp_strerror(rc),
                rc == HCP_EAUTH ? " (the file must be mode 0600)" : "");
    }
}

/* The key directory of data directory dir: "DIR.keys" (trailing slashes of
 * dir dropped) into buf; false if it does not fit. */
static bool startup_key_dir(char *buf, size_t len, const char *dir)
{
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/')
        n--;
    int w = snprintf(buf, len, "%.*s.keys", (int)n, dir);
    return w > 0 && (size_t)w < len;
}

/* fsync a directory (after a rename into or out of it); best effort. */
static void startup_sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
}

/*
 * An installation from before the key moved out of the data directory
 * has DIR/seal.key: move it once into the key directory (same file
 * system: an atomic rename) and say so. Refused, with what to do, when
 * both exist or the rename is impossible (another file system).
 */
static int startup_seal_migrate(const char *prog, const char *dir, const char *keydir,
                                const char *path)
{
    char old[STARTUP_PATH_MAX];
    if (!startup_path(old, sizeof(old), dir, "seal.key"))
        return HCP_ERANGE;
    if (access(old, F_OK) != 0)
        return HCP_OK;
    if (access(path, F_OK) == 0) {
        fprintf(stderr,
                "%s: both %s and %s exist: the key belongs in %s; keep the one the store was "
                "sealed with there and remove %s (or name it with --seal-key-file)\n",
                prog, old, path, keydir, old);
        return HCP_EEXIST;
    }
    if (rename(old, path) != 0) {
        fprintf(stderr,
                "%s: cannot move %s to %s (%s): move it yourself (mkdir -m 700 %s && mv %s %s) "
                "or name it with --seal-key-file\n",
                prog, old, path, strerror(errno), keydir, old, path);
        return HCP_EIO;
    }
    startup_sync_dir(keydir);
    startup_sync_dir(dir);
    hcpd_log("warn", "seal.key_moved",
             "from=%s to=%s detail=\"the seal key now lives apart from the data; back it up "
             "separately (docs/storage.md)\"",
             old, path);
    return HCP_OK;
}

/* Load (or, for a new store, make) the seal key and the sealer of it. */
int hcpd_seal(const char *prog, const char *key_file, const char *dir, const char *store_file,
              hcp_sealer **out)
{
    if (prog == NULL || key_file == NULL || dir == NULL || store_file == NULL || out == NULL) {
        return HCP_EINVAL;
    }
    char path[STARTUP_PATH_MAX];
    char store[STARTUP_PATH_MAX];
    char keydir[STARTUP_PATH_MAX] = "";
    bool default_key = key_file[0] == '\0';
    bool fits = !default_key ? snprintf(path, sizeof(path), "%s", key_file) < (int)sizeof(path)
                             : startup_key_dir(keydir, sizeof(keydir), dir) &&
                                   startup_path(path, sizeof(path), keydir, "seal.key");
    if (!fits || !startup_path(store, sizeof(store), dir, store_file)) {
        fprintf(stderr, "%s: seal key or --data path too long\n", prog);
        return HCP_ERANGE;
    }
    int rc;
    if (default_key && ((rc = hcpd_mkdir(prog, keydir)) != HCP_OK ||
                        (rc = startup_seal_migrate(prog, dir, keydir, path)) != HCP_OK))
        return rc;
    /* A new key only for a new store: a store that exists holds records
     * sealed under its own key, which a fresh key could never open. */
    bool fresh = access(store, F_OK) != 0;
    uint8_t key[HCP_SEAL_KEY_LEN];
    rc = hcp_seal_key_load(path, fresh, key);
    if (rc == HCP_OK) {
        rc = hcp_sealer_new(key, out);
    }
    explicit_bzero(key, sizeof(key));
    if (rc != HCP_OK) {
        startup_seal_error(prog, rc, fresh, path, store);
    }
    return rc;
}

/* Warn when the calendar cal does not cover next year (or this one). */
static void startup_calendar_check(const hcp_cal *cal)
{
    int first = 0, last = 0, y = 0, m = 0, d = 0;
    hcp_cal_years(cal, &first, &last);
    hcp_day_to_ymd(hcp_day_of((hcp_time)time(NULL)), &y, &m, &d);
    if (y >= last || y < first) {
        hcpd_log("warn", "calendar.expiring",
                 "year=%d last_known=%d detail=\"install the calendar of %d with --calendar; "
                 "deadlines in unknown years count Monday-Friday and are provisional\"",
                 y, last, y + 1);
    }
}

/* Load the calendar of path (or the compiled-in one); warn when next
 * year's is not installed yet. */
int hcpd_calendar(const char *prog, const char *path, hcp_cal **out)
{
    if (prog == NULL || path == NULL || out == NULL) {
        return HCP_EINVAL;
    }
    char err[256] = "";
    int rc = path[0] ? hcp_cal_load(path, out, err, sizeof(err)) : hcp_cal_default(out);
    if (rc != HCP_OK) {
        fprintf(stderr, "%s: calendar %s: %s %s\n", prog, path[0] ? path : "(compiled in)",
                hcp_strerror(rc), err);
        return rc;
    }
    int first = 0, last = 0;
    hcp_cal_years(*out, &first, &last);
    hcpd_log("info", "calendar.loaded", "source=%s first=%d last=%d",
             path[0] ? path : "compiled-in", first, last);
    startup_calendar_check(*out);
    return HCP_OK;
}

static uv_signal_t sig_term, sig_int;
static char sig_id[64]; /* "<id>.stopping" */

/* SIGTERM/SIGINT: stop the loop; main then shuts everything down in order.
 * The watchers stay on until the handles close, so a second signal during
 * the orderly stop is noted instead of killing the process halfway. */
static void startup_on_signal(uv_signal_t *s, int signum)
{
    static bool stopping;
    const char *name = signum == SIGTERM ? "TERM" : "INT";
    if (stopping) {
        hcpd_log("info", sig_id, "signal=%s detail=\"already stopping\"", name);
        return;
    }
    stopping = true;
    hcpd_restart_refuse(); /* asked to stop: no restart in place */
    hcpd_log("info", sig_id, "signal=%s", name);
    uv_stop(s->loop);
}

/* Watch SIGTERM and SIGINT on loop. */
int hcpd_signals(uv_loop_t *loop, const char *id)
{
    if (loop == NULL || id == NULL) {
        return HCP_EINVAL;
    }
    int n = snprintf(sig_id, sizeof(sig_id), "%s.stopping", id);
    if (n < 0 || (size_t)n >= sizeof(sig_id)) {
        return HCP_ERANGE;
    }
    if (uv_signal_init(loop, &sig_term) != 0 || uv_signal_init(loop, &sig_int) != 0 ||
        uv_signal_start(&sig_term, startup_on_signal, SIGTERM) != 0 ||
        uv_signal_start(&sig_int, startup_on_signal, SIGINT) != 0) {
        return HCP_EIO;
    }
    return hcpd_restart_watch(loop);
}

/* Close any handle still open (uv_walk callback). */
static void startup_close_handle(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h)) {
        uv_close(h, NULL);
    }
}

/* Close every handle of loop, let the close callbacks run, close loop. */
void hcpd_loop_close(uv_loop_t *loop, const char *id)
{
    if (loop == NULL) {
        return;
    }
    hcpd_restart_disarm(); /* its async handle closes below */
    uv_walk(loop, startup_close_handle, NULL);
    /* let every close callback run; what is still active after that is
     * what uv_loop_close reports below */
    (void)uv_run(loop, UV_RUN_DEFAULT);
    if (uv_loop_close(loop) != 0) {
        char busy[64];
        snprintf(busy, sizeof(busy), "%s.loop_busy", id != NULL ? id : "daemon");
        hcpd_log("warn", busy, "detail=\"handles left open\"");
    }
}

char *hcpd_read_text(const char *path, size_t max)
{
    if (path == NULL || max == 0)
        return NULL;
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    char *buf = malloc(max + 1);
    size_t n = buf != NULL ? fread(buf, 1, max, f) : 0;
    bool whole = buf != NULL && n < max && !ferror(f);
    fclose(f);
    if (!whole) {
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    return buf;
}

/* ---- bounded waits on nng ---- */

/* A call into nng on another thread, so a caller can give up waiting: nng
 * 1.5.2 can deadlock closing a socket or stopping a server (upstream issues
 * #1543, #1813; seen here with thousands of dead connections at the
 * gateway, and in both daemons after links cut in the middle of TLS
 * records: nng's reaper stuck). The runner owns its state; abandoned, it
 * leaks only until the process exits. */
typedef struct runner {
    void (*fn)(void *);
    void *arg;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool done, abandoned;
} runner;

static atomic_bool nng_stuck; /* a call was abandoned: nng must not be finalised */

static void runner_free(runner *r)
{
    hcp_cond_destroy(&r->cv);
    hcp_mutex_destroy(&r->mu);
    free(r);
}

static void *runner_main(void *arg)
{
    runner *r = arg;
    r->fn(r->arg);
    hcp_mutex_lock(&r->mu);
    r->done = true;
    bool alone = r->abandoned;
    hcp_cond_signal(&r->cv);
    hcp_mutex_unlock(&r->mu);
    if (alone)
        runner_free(r);
    return NULL;
}

bool hcpd_nng_stuck(void)
{
    return atomic_load(&nng_stuck);
}

void hcpd_nng_set_stuck(void)
{
    atomic_store(&nng_stuck, true);
}

bool hcpd_nng_bounded(void (*fn)(void *), void *arg, int secs)
{
    if (fn == NULL)
        return true;
    runner *r = calloc(1, sizeof(*r));
    pthread_t t;
    if (r == NULL) {
        fn(arg);
        return true;
    }
    r->fn = fn;
    r->arg = arg;
    if (pthread_mutex_init(&r->mu, NULL) != 0) {
        free(r);
        fn(arg);
        return true;
    }
    if (pthread_cond_init(&r->cv, NULL) != 0) {
        hcp_mutex_destroy(&r->mu);
        free(r);
        fn(arg);
        return true;
    }
    if (pthread_create(&t, NULL, runner_main, r) != 0) {
        runner_free(r);
        fn(arg);
        return true;
    }
    (void)pthread_detach(t); /* fails only for a thread not joinable: t is ours and new */
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += secs > 0 ? secs : 1;
    hcp_mutex_lock(&r->mu);
    while (!r->done && pthread_cond_timedwait(&r->cv, &r->mu, &until) == 0)
        ;
    bool done = r->done;
    r->abandoned = !done;
    hcp_mutex_unlock(&r->mu);
    if (done)
        runner_free(r);
    else
        atomic_store(&nng_stuck, true);
    return done;
}

/* nng_close of the socket whose id arg points to (owned by the caller). */
static void close_fn(void *arg)
{
    /* NNG_ECLOSED (closed already) is the only failure, and closed is
     * what the caller wants */
    (void)nng_close(*(nng_socket *)arg);
}

bool hcpd_nng_close_bounded(nng_socket sock, int secs)
{
    nng_socket *copy = malloc(sizeof(*copy));
    if (copy == NULL) {
        (void)nng_close(sock); /* as close_fn */
        return true;
    }
    *copy = sock;
    bool done = hcpd_nng_bounded(close_fn, copy, secs);
    if (done)
        free(copy); /* else the abandoned call still reads it: leaked to the exit */
    return done;
}
