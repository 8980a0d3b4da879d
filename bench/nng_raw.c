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
 */
#include <nng/nng.h>
#include <nng/protocol/pair1/pair.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>
#include <nng/supplemental/tls/tls.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "repl.h"
#include <time.h>

#include <jansson.h>

#define RAW_FILE_MAX (1u << 20)
#define RAW_ANSWER   16

/* The command line (argv owns the strings). */
typedef struct raw_args {
    const char *port, *ca, *srv_cert, *srv_key, *cli_cert, *cli_key, *name;
    size_t bytes, msg;
} raw_args;

/* What the receiving thread of one run does and finds. */
typedef struct raw_peer {
    nng_socket sock;
    size_t bytes; /* to receive */
    bool answer;  /* reqrep: answer every message */
    int rv;       /* first nng error, 0 when none */
} raw_peer;

/* Seconds on the monotonic clock. */
static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
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
        if (p->answer) {
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
    raw_peer p = {srv, a->bytes, reqrep, 0};
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

int main(int argc, char **argv)
{
    if (argc < 9 || argc > 10) {
        fprintf(stderr, "usage: bench_nng_raw PORT CA SRV_CERT SRV_KEY CLI_CERT CLI_KEY "
                        "SERVER_NAME BYTES [MSG=65536]\n");
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
    const char *mb = getenv("HCP_BENCH_NNG_MBEDTLS");
    if ((mb == NULL || strcmp(mb, "1") != 0) && repl_tls_engine_use() != HCP_OK) {
        fprintf(stderr, "bench_nng_raw: cannot set up the OpenSSL TLS engine\n");
        return 1;
    }
    double stream_s = 0, reqrep_s = 0;
    if (run(&a, false, &stream_s) != 0 || run(&a, true, &reqrep_s) != 0)
        return 1;
    return print_result(&a, stream_s, reqrep_s) == 0 ? 0 : 1;
}
