/*
 * reaper.c — shuts down accepted connections that never became a pipe
 * (reaper.h says why nng 1.5.2 needs this).
 */
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "hcpd.h"
#include "lock.h"
#include "reaper.h"

#define REAPER_EVERY_MS 1000 /* one scan a second (less when limit_ms is short) */
#define REAPER_MIN_MS   100
#define REAPER_PEERS0   1024       /* first size of the pipes' snapshot */
#define REAPER_MAXN     (1u << 20) /* more descriptors than any process here holds */
#define REAPER_QUIET_MS 1000       /* beyond the cap, only peers silent this long are shed */

/* A connection without a pipe, as last seen. */
typedef struct tracked {
    int fd;
    hcpd_peer peer;
    uint64_t since; /* monotonic ms when first seen */
    uint32_t quiet; /* ms since the peer last sent data (TCP_INFO), or since accept */
    bool shut;      /* shut down by this pass */
} tracked;

struct hcpd_reaper {
    uint16_t port;
    int limit_ms;
    size_t max;
    hcpd_peers_fn peers;
    void *arg;
    char what[32];
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cond; /* CLOCK_MONOTONIC */
    bool stop;           /* mu */
    atomic_uint_fast64_t reaped;
    /* the reaper thread's own state */
    tracked *old, *cur;
    size_t nold, ncur, capo, capc; /* counts and capacities of old and cur */
    hcpd_peer *snap;
    size_t capp;
};

static uint64_t mono_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000u + (uint64_t)t.tv_nsec / 1000000u;
}

bool hcpd_peer_from_sockaddr(const struct sockaddr *sa, hcpd_peer *p)
{
    if (sa == NULL || p == NULL)
        return false;
    memset(p, 0, sizeof(*p));
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        p->family = AF_INET;
        p->port = ntohs(in->sin_port);
        memcpy(p->addr, &in->sin_addr, 4);
        return true;
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        p->family = AF_INET6;
        p->port = ntohs(in6->sin6_port);
        memcpy(p->addr, &in6->sin6_addr, 16);
        return true;
    }
    return false;
}

static int peer_cmp(const void *a, const void *b)
{
    return memcmp(a, b, sizeof(hcpd_peer));
}

static int tracked_fd_cmp(const void *a, const void *b)
{
    const tracked *x = a, *y = b;
    return (x->fd > y->fd) - (x->fd < y->fd);
}

/* The quietest first: those whose peer has sent nothing for longest. */
static int tracked_quiet_cmp(const void *a, const void *b)
{
    const tracked *x = a, *y = b;
    return (x->quiet < y->quiet) - (x->quiet > y->quiet);
}

/* How long the peer of fd has kept us waiting, in ms: the time since it
 * last sent data (or since accept, when it never did) when it is the
 * peer's turn — we sent at least as recently as we received — and 0 when it
 * is ours (it spoke last: we owe it work, however slow we are) or unknown. */
static uint32_t quiet_ms(int fd)
{
    struct tcp_info ti;
    socklen_t tl = sizeof(ti);
    memset(&ti, 0, sizeof(ti));
    if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &tl) != 0)
        return 0;
    return ti.tcpi_last_data_sent <= ti.tcpi_last_data_recv ? ti.tcpi_last_data_recv : 0;
}

/* Whether fd is a connected TCP socket accepted on our port; its peer
 * into *peer. Listening sockets and other ports are not ours. */
static bool accepted_here(const hcpd_reaper *r, int fd, hcpd_peer *peer)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    hcpd_peer local;
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) != 0 ||
        !hcpd_peer_from_sockaddr((struct sockaddr *)&ss, &local) || local.port != r->port)
        return false;
    int v = 0;
    socklen_t vl = sizeof(v);
    if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &v, &vl) != 0 || v != 0)
        return false;
    vl = sizeof(v);
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &v, &vl) != 0 || v != SOCK_STREAM)
        return false;
    sl = sizeof(ss);
    return getpeername(fd, (struct sockaddr *)&ss, &sl) == 0 &&
           hcpd_peer_from_sockaddr((struct sockaddr *)&ss, peer);
}

/* Grow an array to hold at least want elements (within REAPER_MAXN). */
static bool reserve(void **p, size_t *cap, size_t want, size_t elem)
{
    if (want <= *cap)
        return true;
    if (want > REAPER_MAXN)
        return false;
    size_t n = *cap > 0 ? *cap : 64;
    while (n < want)
        n *= 2;
    void *q = realloc(*p, n * elem);
    if (q == NULL)
        return false;
    *p = q;
    *cap = n;
    return true;
}

/* The peers of every live pipe, sorted; count into *n. */
static bool snapshot_peers(hcpd_reaper *r, size_t *n)
{
    if (!reserve((void **)&r->snap, &r->capp, REAPER_PEERS0, sizeof(hcpd_peer)))
        return false;
    for (;;) {
        size_t got = r->peers(r->arg, r->snap, r->capp);
        if (got < r->capp) {
            if (got > 1)
                qsort(r->snap, got, sizeof(hcpd_peer), peer_cmp);
            *n = got;
            return true;
        }
        if (!reserve((void **)&r->snap, &r->capp, r->capp * 2, sizeof(hcpd_peer)))
            return false;
    }
}

/* One look at the descriptors: r->cur becomes the connections without a
 * pipe, each with the time it was first seen. */
static bool reaper_scan_fds(hcpd_reaper *r, uint64_t now)
{
    size_t npeers = 0;
    if (!snapshot_peers(r, &npeers))
        return false;
    DIR *d = opendir("/proc/self/fd");
    if (d == NULL)
        return false;
    int self = dirfd(d);
    r->ncur = 0;
    struct dirent *e;
    bool ok = true;
    while (ok && (e = readdir(d)) != NULL) {
        char *end;
        long fd = strtol(e->d_name, &end, 10);
        if (*end != '\0' || end == e->d_name || fd < 0 || fd > INT32_MAX || fd == self)
            continue;
        struct stat st;
        hcpd_peer peer;
        if (fstat((int)fd, &st) != 0 || !S_ISSOCK(st.st_mode) || !accepted_here(r, (int)fd, &peer))
            continue;
        if (npeers > 0 && bsearch(&peer, r->snap, npeers, sizeof(hcpd_peer), peer_cmp) != NULL)
            continue; /* a pipe: the daemon's own deadlines apply */
        if (!reserve((void **)&r->cur, &r->capc, r->ncur + 1, sizeof(tracked))) {
            ok = false;
            break;
        }
        tracked t = {.fd = (int)fd, .peer = peer, .since = now, .quiet = quiet_ms((int)fd)};
        const tracked *was =
            r->nold > 0 ? bsearch(&t, r->old, r->nold, sizeof(tracked), tracked_fd_cmp) : NULL;
        if (was != NULL && memcmp(&was->peer, &peer, sizeof(peer)) == 0)
            t.since = was->since;
        r->cur[r->ncur++] = t;
    }
    closedir(d);
    return ok;
}

/* Shut t down if its descriptor still is the connection we saw. */
static bool shut_one(const hcpd_reaper *r, tracked *t)
{
    hcpd_peer again;
    t->shut = accepted_here(r, t->fd, &again) && memcmp(&again, &t->peer, sizeof(again)) == 0 &&
              shutdown(t->fd, SHUT_RDWR) == 0;
    return t->shut;
}

/* Shut down every connection older than the limit; then, while more than
 * max remain, the quietest of those that have kept us waiting for
 * REAPER_QUIET_MS. A peer in the middle of its handshake answers at once,
 * and one that spoke last waits for us, so a legitimate surge (every
 * county redialling a restarted gateway, slower than usual to serve) is
 * never shed for its size: only a peer's silence is. */
static size_t reaper_shut_late(hcpd_reaper *r, uint64_t now)
{
    size_t shut = 0;
    for (size_t i = 0; i < r->ncur; i++) {
        tracked *t = &r->cur[i];
        t->shut = false;
        if (now - t->since >= (uint64_t)r->limit_ms && shut_one(r, t))
            shut++;
    }
    if (r->ncur - shut <= r->max)
        return shut;
    if (r->ncur > 1)
        qsort(r->cur, r->ncur, sizeof(tracked), tracked_quiet_cmp);
    size_t left = r->ncur - shut;
    for (size_t i = 0; i < r->ncur && left > r->max; i++) {
        tracked *t = &r->cur[i];
        if (t->shut)
            continue;
        if (t->quiet < REAPER_QUIET_MS)
            break; /* sorted: every one after is busier */
        if (shut_one(r, t)) {
            shut++;
            left--;
        }
    }
    return shut;
}

static void *reaper_main(void *arg)
{
    hcpd_reaper *r = arg;
    int every = r->limit_ms / 2 < REAPER_EVERY_MS ? r->limit_ms / 2 : REAPER_EVERY_MS;
    if (every < REAPER_MIN_MS)
        every = REAPER_MIN_MS;
    bool warned = false;
    hcp_mutex_lock(&r->mu);
    while (!r->stop) {
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_sec += every / 1000;
        until.tv_nsec += (long)(every % 1000) * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        while (!r->stop && pthread_cond_timedwait(&r->cond, &r->mu, &until) != ETIMEDOUT) {
        }
        if (r->stop)
            break;
        hcp_mutex_unlock(&r->mu);
        uint64_t now = mono_ms();
        if (reaper_scan_fds(r, now)) {
            size_t shut = reaper_shut_late(r, now);
            uint64_t total = atomic_fetch_add(&r->reaped, shut) + shut;
            if (shut > 0)
                hcpd_log("info", "repl.reaped",
                         "listener=%s closed=%zu total=%llu limit_ms=%d detail=\"connections "
                         "that sent no complete handshake in time\"",
                         r->what, shut, (unsigned long long)total, r->limit_ms);
            /* this scan's list, by descriptor, is the next one's memory */
            if (r->ncur > 1)
                qsort(r->cur, r->ncur, sizeof(tracked), tracked_fd_cmp);
            tracked *tmp = r->old;
            size_t cap = r->capo;
            r->old = r->cur;
            r->capo = r->capc;
            r->nold = r->ncur;
            r->cur = tmp;
            r->capc = cap;
            r->ncur = 0;
            warned = false;
        } else if (!warned) {
            hcpd_log("warn", "repl.reaper_failed", "listener=%s detail=\"cannot scan descriptors\"",
                     r->what);
            warned = true;
        }
        hcp_mutex_lock(&r->mu);
    }
    hcp_mutex_unlock(&r->mu);
    return NULL;
}

/* The reaper's mutex and its condition variable on CLOCK_MONOTONIC (the
 * scans wait on it with a relative deadline). HCP_OK, or HCP_ENOMEM when
 * the system refused one (nothing is left initialised then). */
static int reaper_sync_init(hcpd_reaper *r)
{
    pthread_condattr_t ca;
    if (pthread_condattr_init(&ca) != 0)
        return HCP_ENOMEM;
    int rc = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    if (rc == 0)
        rc = pthread_mutex_init(&r->mu, NULL);
    if (rc == 0 && (rc = pthread_cond_init(&r->cond, &ca)) != 0)
        hcp_mutex_destroy(&r->mu);
    (void)pthread_condattr_destroy(&ca); /* cannot fail on an initialised attr */
    return rc == 0 ? HCP_OK : HCP_ENOMEM;
}

int hcpd_reaper_start(uint16_t port, int limit_ms, size_t max, hcpd_peers_fn peers, void *arg,
                      const char *what, hcpd_reaper **out)
{
    if (out == NULL)
        return HCP_EINVAL;
    *out = NULL;
    if (port == 0 || limit_ms <= 0 || max == 0 || peers == NULL || what == NULL)
        return HCP_EINVAL;
    hcpd_reaper *r = calloc(1, sizeof(*r));
    if (r == NULL)
        return HCP_ENOMEM;
    r->port = port;
    r->limit_ms = limit_ms;
    r->max = max;
    r->peers = peers;
    r->arg = arg;
    snprintf(r->what, sizeof(r->what), "%s", what);
    int rc = reaper_sync_init(r);
    if (rc != HCP_OK) {
        free(r);
        return rc;
    }
    if (pthread_create(&r->thread, NULL, reaper_main, r) != 0) {
        hcp_cond_destroy(&r->cond);
        hcp_mutex_destroy(&r->mu);
        free(r);
        return HCP_EIO;
    }
    *out = r;
    return HCP_OK;
}

void hcpd_reaper_stop(hcpd_reaper *r)
{
    if (r == NULL)
        return;
    hcp_mutex_lock(&r->mu);
    r->stop = true;
    hcp_cond_signal(&r->cond);
    hcp_mutex_unlock(&r->mu);
    if (pthread_join(r->thread, NULL) != 0)
        abort(); /* only for a thread not ours or joined already: a bug */
    hcp_cond_destroy(&r->cond);
    hcp_mutex_destroy(&r->mu);
    free(r->old);
    free(r->cur);
    free(r->snap);
    free(r);
}

uint64_t hcpd_reaper_count(const hcpd_reaper *r)
{
    return r != NULL ? atomic_load(&((hcpd_reaper *)r)->reaped) : 0;
}
