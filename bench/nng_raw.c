/*
 * nng_raw.c — the raw nng transfer rate over mutual TLS, the transport
 * ceiling the replication catch-up figure is compared with (docs/bench.md,
 * "Replication", baseline R1).
 *
 *   bench_nng_raw PORT CA SRV_CERT SRV_KEY CLI_CERT CLI_KEY SERVER_NAME BYTES [MSG]
 *
 * Two sockets in one process over tls+tcp://127.0.0.1:PORT, TLS set up as
 * the daemons do it (own certificate, CA pinned, client certificate
 * required, server name checked), certificates from hcp-certs. Two runs,
 * each moving BYTES in messages of MSG bytes (default 65,536):
 *   stream — pair1: one thread sends back to back, another receives; the
 *            most nng + TLS + TCP can carry (no waiting for answers);
 *   reqrep — req/rep with one request in flight and a 16-byte answer, the
 *            pattern hcp-node's sync uses (one batch in flight): transfer
 *            plus one loopback round trip per message.
 * TLS is the daemons' (OpenSSL through replication/tls_engine.c);
 * HCP_BENCH_NNG_MBEDTLS=1 keeps nng's built-in mbedtls engine instead, for
 * comparison. Prints one JSON object: bytes, msg_bytes, engine, and per run
 * seconds and MB/s (MB = 10^6 bytes).
 *
 *   bench_nng_raw live PORT CA SRV_CERT SRV_KEY CLI_CERT CLI_KEY SERVER_NAME
 *                 COUNT RATE FILE
 *
 * The floor under a live event's latency (docs/bench.md, "Peers", "The
 * floor under the live path"): COUNT requests of LIVE_MSG bytes (a batch of
 * one evaluation), RATE a second on the monotonic clock, each timed from its
 * send to its answer, in five series:
 *   rtt        — req/rep over mutual TLS, answered at once;
 *   flush1     — no network: one 4 KiB page written into FILE's allocated
 *                blocks and fdatasync'd (one durable write on this disk);
 *   flush2     — flush1, then a 128-byte write through an O_DSYNC
 *                descriptor (LMDB's commit: data pages, then the meta page);
 *   rtt_flush1 — rtt, the server doing flush1 before it answers (the least
 *                any acknowledgement after a durable write over nng costs);
 *   rtt_flush2 — rtt, the server doing flush2 first.
 * Prints one JSON object with p50/p90/p99/max in ms per series, and the
 * CPU the process (both sides, nng's threads) spent per request.
 */
#include <nng/nng.h>
#include <nng/protocol/pair1/pair.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>
#include <nng/supplemental/tls/tls.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "repl.h"
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#define RAW_FILE_MAX (1u << 20)
#define RAW_ANSWER   16
#define LIVE_MSG     768  /* a replication batch holding one evaluation */
#define LIVE_PAGE    4096 /* one page, as a commit of one event writes */
#define LIVE_RING    1024 /* data pages written in turn (4 MiB, allocated first) */
#define LIVE_META    128  /* LMDB's meta page write */
#define LIVE_MAX     100000

/* live: the file the server makes durable writes to (after two meta pages,
 * LIVE_RING data pages, written once before the series so the blocks
 * exist, as LMDB's pages and PostgreSQL's WAL segments do). */
typedef struct raw_disk {
    int fd;       /* ordinary descriptor: data page + fdatasync */
    int dsync_fd; /* O_DSYNC descriptor: the meta write */
    size_t next;  /* data pages written so far */
    uint8_t page[LIVE_PAGE];
} raw_disk;

/* The command line (argv owns the strings). */
typedef struct raw_args {
    const char *port, *ca, *srv_cert, *srv_key, *cli_cert, *cli_key, *name;
    size_t bytes, msg;
} raw_args;

/* What the receiving thread of one run does and finds. */
typedef struct raw_peer {
    nng_socket sock;
    size_t bytes;   /* to receive */
    bool answer;    /* reqrep: answer every message */
    int rv;         /* first nng error, 0 when none */
    raw_disk *disk; /* live: made durable before answering, or NULL */
    int flushes;    /* live: 1 or 2 (see disk_commit) */
} raw_peer;

/* Seconds on the monotonic clock. */
static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CPU seconds this process has spent (user + system, all threads). */
static double cpu_s(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return 0;
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/* Parse a positive size argument; 0 when s is not one. */
static size_t parse_count(const char *s)
{
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v == 0 || s[0] == '-')
        return 0;
    return (size_t)v;
}

/* A whole PEM file (at most 1 MiB) as a NUL-terminated string the caller
 * frees, or NULL. */
static char *read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    char *buf = malloc(RAW_FILE_MAX + 1);
    size_t n = buf != NULL ? fread(buf, 1, RAW_FILE_MAX, f) : 0;
    int whole = buf != NULL && n < RAW_FILE_MAX && !ferror(f);
    fclose(f);
    if (!whole) {
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    return buf;
}

/* A TLS config (the caller frees it): own certificate and key, the CA,
 * peers' certificates required; name is checked in the server's
 * certificate when not NULL (client side). */
static int tls_config(nng_tls_mode mode, const char *cert_file, const char *key_file,
                      const char *ca, const char *name, nng_tls_config **out)
{
    char *cert = read_text(cert_file), *key = read_text(key_file);
    nng_tls_config *cfg = NULL;
    int rv = cert && key ? nng_tls_config_alloc(&cfg, mode) : NNG_ENOENT;
    if (rv == 0)
        rv = nng_tls_config_own_cert(cfg, cert, key, NULL);
    if (rv == 0)
        rv = nng_tls_config_ca_file(cfg, ca);
    if (rv == 0 && name != NULL)
        rv = nng_tls_config_server_name(cfg, name);
    if (rv == 0)
        rv = nng_tls_config_auth_mode(cfg, NNG_TLS_AUTH_MODE_REQUIRED);
    free(cert);
    free(key);
    if (rv != 0 && cfg != NULL)
        nng_tls_config_free(cfg);
    *out = rv == 0 ? cfg : NULL;
    return rv;
}

/* Listen on srv and dial from cli with mutual TLS; blocks until connected. */
static int connect_pair(const raw_args *a, nng_socket srv, nng_socket cli)
{
    char url[128];
    snprintf(url, sizeof(url), "tls+tcp://127.0.0.1:%s", a->port);
    nng_tls_config *st = NULL, *ct = NULL;
    nng_listener l;
    nng_dialer d;
    int rv = tls_config(NNG_TLS_MODE_SERVER, a->srv_cert, a->srv_key, a->ca, NULL, &st);
    if (rv == 0)
        rv = tls_config(NNG_TLS_MODE_CLIENT, a->cli_cert, a->cli_key, a->ca, a->name, &ct);
    if (rv == 0)
        rv = nng_listener_create(&l, srv, url);
    if (rv == 0)
        rv = nng_listener_set_ptr(l, NNG_OPT_TLS_CONFIG, st);
    if (rv == 0)
        rv = nng_listener_start(l, 0);
    if (rv == 0)
        rv = nng_dialer_create(&d, cli, url);
    if (rv == 0)
        rv = nng_dialer_set_ptr(d, NNG_OPT_TLS_CONFIG, ct);
    if (rv == 0)
        rv = nng_dialer_start(d, 0); /* blocking: the handshake is done */
    if (st != NULL)
        nng_tls_config_free(st); /* the listener and dialer hold references */
    if (ct != NULL)
        nng_tls_config_free(ct);
    return rv;
}

/* One durable commit of msg on d: a data page written and fdatasync'd, and
 * with flushes == 2 a meta write through the O_DSYNC descriptor after it.
 * 0, or an nng error code. */
static int disk_commit(raw_disk *d, int flushes, const void *msg, size_t n)
{
    memcpy(d->page, msg, n < LIVE_PAGE ? n : LIVE_PAGE);
    off_t off = (off_t)(2 + d->next++ % LIVE_RING) * LIVE_PAGE;
    if (pwrite(d->fd, d->page, LIVE_PAGE, off) != LIVE_PAGE || fdatasync(d->fd) != 0)
        return NNG_ESYSERR + errno;
    if (flushes > 1 &&
        pwrite(d->dsync_fd, d->page, LIVE_META, (off_t)(d->next % 2) * LIVE_PAGE) != LIVE_META)
        return NNG_ESYSERR + errno;
    return 0;
}

/* Receiving thread: take p->bytes, answering each message when asked. */
static void *receiver(void *arg)
{
    raw_peer *p = arg;
    size_t got = 0;
    while (got < p->bytes && p->rv == 0) {
        nng_msg *m = NULL;
        p->rv = nng_recvmsg(p->sock, &m, 0);
        if (p->rv != 0)
            break;
        got += nng_msg_len(m);
        if (p->disk != NULL)
            p->rv = disk_commit(p->disk, p->flushes, nng_msg_body(m), nng_msg_len(m));
        if (p->rv == 0 && p->answer) {
            nng_msg_clear(m);
            p->rv = nng_msg_append(m, "ack-ack-ack-ack!", RAW_ANSWER);
            if (p->rv == 0)
                p->rv = nng_sendmsg(p->sock, m, 0);
            if (p->rv != 0)
                nng_msg_free(m);
        } else
            nng_msg_free(m);
    }
    return NULL;
}

/* Send a->bytes from cli in a->msg messages (waiting for each answer
 * when reqrep) while a thread receives on srv; *secs is the wall time. */
static int transfer(const raw_args *a, nng_socket srv, nng_socket cli, bool reqrep, double *secs)
{
    raw_peer p = {srv, a->bytes, reqrep, 0, NULL, 0};
    pthread_t th;
    if (pthread_create(&th, NULL, receiver, &p) != 0)
        return NNG_ENOMEM;
    uint8_t *chunk = calloc(1, a->msg);
    int rv = chunk != NULL ? 0 : NNG_ENOMEM;
    double t0 = now_s();
    for (size_t sent = 0; sent < a->bytes && rv == 0;) {
        size_t n = a->bytes - sent < a->msg ? a->bytes - sent : a->msg;
        chunk[0] = (uint8_t)sent; /* not all zero pages every time */
        rv = nng_send(cli, chunk, n, 0);
        sent += n;
        if (rv == 0 && reqrep) {
            nng_msg *m = NULL;
            rv = nng_recvmsg(cli, &m, 0);
            if (rv == 0)
                nng_msg_free(m);
        }
    }
    if (rv != 0)
        nng_close(srv); /* wake the receiver */
    pthread_join(th, NULL);
    *secs = now_s() - t0;
    free(chunk);
    return rv != 0 ? rv : p.rv;
}

/* One run: open the sockets of the pattern, connect, transfer, close. */
static int run(const raw_args *a, bool reqrep, double *secs)
{
    nng_socket srv = NNG_SOCKET_INITIALIZER, cli = NNG_SOCKET_INITIALIZER;
    int rv = reqrep ? nng_rep0_open(&srv) : nng_pair1_open(&srv);
    if (rv == 0)
        rv = reqrep ? nng_req0_open(&cli) : nng_pair1_open(&cli);
    if (rv == 0)
        rv = nng_socket_set_size(srv, NNG_OPT_RECVMAXSZ, a->msg + 1024);
    if (rv == 0 && reqrep)
        rv = nng_socket_set_ms(cli, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
    if (rv == 0)
        rv = connect_pair(a, srv, cli);
    if (rv == 0)
        rv = transfer(a, srv, cli, reqrep, secs);
    if (rv != 0)
        fprintf(stderr, "bench_nng_raw: %s: %s\n", reqrep ? "reqrep" : "stream", nng_strerror(rv));
    nng_close(cli);
    nng_close(srv);
    return rv;
}

/* Print both runs as one JSON object on stdout (jansson). */
static int print_result(const raw_args *a, double stream_s, double reqrep_s)
{
    double mb = (double)a->bytes / 1e6;
    json_t *j =
        json_pack("{sI,sI,ss,s{sf,sf},s{sf,sf}}", "bytes", (json_int_t)a->bytes, "msg_bytes",
                  (json_int_t)a->msg, "engine", nng_tls_engine_name(), "stream", "seconds",
                  stream_s, "mb_per_s", stream_s > 0 ? mb / stream_s : 0.0, "reqrep", "seconds",
                  reqrep_s, "mb_per_s", reqrep_s > 0 ? mb / reqrep_s : 0.0);
    if (j == NULL)
        return -1;
    int rc = json_dumpf(j, stdout, JSON_COMPACT);
    json_decref(j);
    if (rc != 0 || fputc('\n', stdout) == EOF)
        return -1;
    return 0;
}

/* Sleep until t, seconds on the monotonic clock. */
static void sleep_until(double t)
{
    struct timespec ts = {(time_t)t, (long)((t - (double)(time_t)t) * 1e9)};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
        ;
}

/* live: the command line. */
typedef struct live_args {
    raw_args net;
    size_t count;
    double rate;
} live_args;

/* One live series: l->count requests paced at l->rate a second, ms[i] the
 * i-th one's time from send to answer, *cpu_us the process's CPU per request
 * once connected. Over nng when net (the server committing to d first when
 * flushes > 0), else d's commits alone. */
static int live_series(const live_args *l, raw_disk *d, bool net, int flushes, double *ms,
                       double *cpu_us)
{
    nng_socket srv = NNG_SOCKET_INITIALIZER, cli = NNG_SOCKET_INITIALIZER;
    raw_peer p = {srv, l->count * LIVE_MSG, true, 0, flushes > 0 ? d : NULL, flushes};
    pthread_t th;
    bool started = false;
    uint8_t msg[LIVE_MSG] = {0};
    int rv = 0;
    if (net) {
        rv = nng_rep0_open(&srv);
        if (rv == 0)
            rv = nng_req0_open(&cli);
        if (rv == 0)
            rv = nng_socket_set_ms(cli, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
        if (rv == 0) /* a server that failed must not leave the client waiting */
            rv = nng_socket_set_ms(cli, NNG_OPT_RECVTIMEO, 10000);
        if (rv == 0)
            rv = connect_pair(&l->net, srv, cli);
        p.sock = srv;
        if (rv == 0 && pthread_create(&th, NULL, receiver, &p) != 0)
            rv = NNG_ENOMEM;
        started = rv == 0;
    }
    double t0 = now_s() + 0.05, c0 = cpu_s();
    for (size_t i = 0; i < l->count && rv == 0; i++) {
        sleep_until(t0 + (double)i / l->rate);
        msg[0] = (uint8_t)i;
        double s = now_s();
        if (net) {
            nng_msg *m = NULL;
            rv = nng_send(cli, msg, sizeof(msg), 0);
            if (rv == 0)
                rv = nng_recvmsg(cli, &m, 0);
            if (rv == 0)
                nng_msg_free(m);
        } else
            rv = disk_commit(d, flushes, msg, sizeof(msg));
        ms[i] = (now_s() - s) * 1e3;
    }
    *cpu_us = (cpu_s() - c0) * 1e6 / (double)l->count;
    if (net) {
        nng_close(cli);
        nng_close(srv); /* wakes the receiver when it still waits */
    }
    if (started)
        pthread_join(th, NULL);
    return rv != 0 ? rv : p.rv;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The q-quantile (nearest rank) of n sorted values. */
static double rank(const double *v, size_t n, double q)
{
    return v[(size_t)(q * (double)(n - 1) + 0.5)];
}

/* p50/p90/p99/max of the n times in ms (sorted in place) and the CPU
 * microseconds per request, or NULL. */
static json_t *live_quantiles(double *ms, size_t n, double cpu_us)
{
    qsort(ms, n, sizeof(*ms), cmp_double);
    return json_pack("{sf,sf,sf,sf,sf}", "p50_ms", rank(ms, n, 0.50), "p90_ms", rank(ms, n, 0.90),
                     "p99_ms", rank(ms, n, 0.99), "max_ms", ms[n - 1], "cpu_us", cpu_us);
}

/* live: make d's file, its blocks allocated and durable (pages 0 and 1
 * for the meta writes, LIVE_RING data pages after them). */
static int live_disk(raw_disk *d, const char *path)
{
    d->fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    d->dsync_fd = d->fd >= 0 ? open(path, O_WRONLY | O_DSYNC | O_CLOEXEC) : -1;
    if (d->dsync_fd < 0)
        return -1;
    for (size_t i = 0; i < 2 + LIVE_RING; i++)
        if (pwrite(d->fd, d->page, LIVE_PAGE, (off_t)(i * LIVE_PAGE)) != LIVE_PAGE)
            return -1;
    return fsync(d->fd);
}

static int live_main(int argc, char **argv)
{
    if (argc != 12) {
        fprintf(stderr, "usage: bench_nng_raw live PORT CA SRV_CERT SRV_KEY CLI_CERT CLI_KEY "
                        "SERVER_NAME COUNT RATE FILE\n");
        return 2;
    }
    live_args l = {{argv[2], argv[3], argv[4], argv[5], argv[6], argv[7], argv[8], 0, LIVE_MSG},
                   parse_count(argv[9]),
                   (double)parse_count(argv[10])};
    if (parse_count(l.net.port) == 0 || l.count == 0 || l.count > LIVE_MAX || l.rate <= 0 ||
        l.rate > 10000) {
        fprintf(stderr,
                "bench_nng_raw: live: PORT, COUNT (at most %d) and RATE (at most "
                "10000 a second) must be positive integers\n",
                LIVE_MAX);
        return 2;
    }
    static const struct {
        const char *name;
        bool net;
        int flushes;
    } series[] = {{"rtt", true, 0},
                  {"flush1", false, 1},
                  {"flush2", false, 2},
                  {"rtt_flush1", true, 1},
                  {"rtt_flush2", true, 2}};
    raw_disk *d = calloc(1, sizeof(*d));
    double *ms = calloc(l.count, sizeof(*ms));
    json_t *out =
        json_pack("{sI,sI,sI,ss,s{}}", "count", (json_int_t)l.count, "rate", (json_int_t)l.rate,
                  "msg_bytes", (json_int_t)LIVE_MSG, "engine", nng_tls_engine_name(), "series");
    int rc = d != NULL && ms != NULL && out != NULL ? 0 : 1;
    if (d != NULL)
        d->fd = d->dsync_fd = -1;
    if (rc == 0 && live_disk(d, argv[11]) != 0) {
        fprintf(stderr, "bench_nng_raw: live: %s: %s\n", argv[11], strerror(errno));
        rc = 1;
    }
    for (size_t i = 0; rc == 0 && i < sizeof(series) / sizeof(series[0]); i++) {
        double cpu_us = 0;
        int rv = live_series(&l, d, series[i].net, series[i].flushes, ms, &cpu_us);
        json_t *q = rv == 0 ? live_quantiles(ms, l.count, cpu_us) : NULL;
        if (q == NULL || json_object_set_new(json_object_get(out, "series"), series[i].name, q)) {
            fprintf(stderr, "bench_nng_raw: live: %s: %s\n", series[i].name,
                    rv != 0 ? nng_strerror(rv) : "out of memory");
            rc = 1;
        }
    }
    if (rc == 0 && (json_dumpf(out, stdout, JSON_COMPACT) != 0 || fputc('\n', stdout) == EOF))
        rc = 1;
    if (d != NULL && d->fd >= 0) {
        close(d->fd);
        unlink(argv[11]);
    }
    if (d != NULL && d->dsync_fd >= 0)
        close(d->dsync_fd);
    json_decref(out);
    free(ms);
    free(d);
    return rc;
}

int main(int argc, char **argv)
{
    const char *mb = getenv("HCP_BENCH_NNG_MBEDTLS");
    if ((mb == NULL || strcmp(mb, "1") != 0) && repl_tls_engine_use() != HCP_OK) {
        fprintf(stderr, "bench_nng_raw: cannot set up the OpenSSL TLS engine\n");
        return 1;
    }
    if (argc > 1 && strcmp(argv[1], "live") == 0)
        return live_main(argc, argv);
    if (argc < 9 || argc > 10) {
        fprintf(stderr, "usage: bench_nng_raw PORT CA SRV_CERT SRV_KEY CLI_CERT CLI_KEY "
                        "SERVER_NAME BYTES [MSG=65536]\n"
                        "       bench_nng_raw live PORT CA SRV_CERT SRV_KEY CLI_CERT CLI_KEY "
                        "SERVER_NAME COUNT RATE FILE\n");
        return 2;
    }
    raw_args a = {argv[1], argv[2], argv[3], argv[4], argv[5], argv[6], argv[7], 0, 65536};
    a.bytes = parse_count(argv[8]);
    if (argc > 9)
        a.msg = parse_count(argv[9]);
    if (a.bytes == 0 || a.msg == 0 || parse_count(a.port) == 0) {
        fprintf(stderr, "bench_nng_raw: PORT, BYTES and MSG must be positive integers\n");
        return 2;
    }
    double stream_s = 0, reqrep_s = 0;
    if (run(&a, false, &stream_s) != 0 || run(&a, true, &reqrep_s) != 0)
        return 1;
    return print_result(&a, stream_s, reqrep_s) == 0 ? 0 : 1;
}
