/*
 * repl_client.c — a hostile (or merely odd) replication peer for
 * tests/system/test_repl_hostile.py. It speaks the node protocol of
 * docs/replication.md over nng's tls+tcp:// with a given certificate, and
 * lets the test do what a real node never does: say hello for another
 * county or with a made-up head, send thousands of hellos with invented
 * county codes, or connect and then say nothing.
 *
 * Usage: repl_client URL CA CERT KEY SERVER_NAME MODE [ARGS]
 *   hello COUNTY SEQ      one hello (SEQ may be anything up to 2^64-1: the
 *                         frame is packed with msgpack-c directly); prints
 *                         the answer ("challenge", "error CODE", "none")
 *   auth COUNTY SEQ       hello then auth with CERT/KEY; prints the answer
 *   invent N [FROM]       N hellos with invented county codes (the FROM-th
 *                         on) on one connection; prints "challenges=K"
 *   silent MS             connect, send nothing; prints "closed" when the
 *                         gateway closes the connection within MS, else "open"
 *   hello_wait MS         hello (for CERT's county), no auth, then as silent
 * Exit status: 0 ran (the answer is on stdout), 1 could not run, 2 usage.
 */
#include <msgpack.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <nng/supplemental/tls/tls.h>
#include <nng/supplemental/util/platform.h>

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "repl.h"

static atomic_int pipes_up, pipes_down;

/* Count the connection's pipes coming and going (silent modes). */
static void on_pipe(nng_pipe p, nng_pipe_ev ev, void *arg)
{
    (void)p;
    (void)arg;
    atomic_fetch_add(ev == NNG_PIPE_EV_ADD_POST ? &pipes_up : &pipes_down, 1);
}

/* The whole of a small PEM file, or NULL. */
static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    char *buf = calloc(1, 1 << 20);
    size_t n = buf != NULL ? fread(buf, 1, (1 << 20) - 1, f) : 0;
    fclose(f);
    if (buf != NULL)
        buf[n] = '\0';
    return buf;
}

/* A req socket dialing url with mutual TLS; reconnects slowed down so a
 * closed connection stays closed while the test looks. */
static int dial(nng_socket *s, const char *url, const char *ca, const char *cert, const char *key,
                const char *name)
{
    nng_dialer d;
    nng_tls_config *tls = NULL;
    char *cap = slurp(ca), *crt = slurp(cert), *k = slurp(key);
    int rv = cap && crt && k ? nng_req0_open(s) : NNG_ENOENT;
    if (rv == 0)
        rv = nng_pipe_notify(*s, NNG_PIPE_EV_ADD_POST, on_pipe, NULL);
    if (rv == 0)
        rv = nng_pipe_notify(*s, NNG_PIPE_EV_REM_POST, on_pipe, NULL);
    if (rv == 0)
        rv = nng_socket_set_ms(*s, NNG_OPT_RECVTIMEO, 10000);
    if (rv == 0)
        rv = nng_socket_set_ms(*s, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
    if (rv == 0)
        rv = nng_socket_set_ms(*s, NNG_OPT_RECONNMINT, 60000);
    if (rv == 0)
        rv = nng_socket_set_ms(*s, NNG_OPT_RECONNMAXT, 60000);
    if (rv == 0)
        rv = nng_dialer_create(&d, *s, url);
    if (rv == 0)
        rv = nng_tls_config_alloc(&tls, NNG_TLS_MODE_CLIENT);
    if (rv == 0)
        rv = nng_tls_config_own_cert(tls, crt, k, NULL);
    if (rv == 0)
        rv = nng_tls_config_ca_chain(tls, cap, NULL);
    if (rv == 0)
        rv = nng_tls_config_server_name(tls, name);
    if (rv == 0)
        rv = nng_tls_config_auth_mode(tls, NNG_TLS_AUTH_MODE_REQUIRED);
    if (rv == 0)
        rv = nng_dialer_set_ptr(d, NNG_OPT_TLS_CONFIG, tls);
    if (rv == 0)
        rv = nng_dialer_start(d, 0); /* blocks until connected (or fails) */
    if (tls != NULL)
        nng_tls_config_free(tls);
    free(cap);
    free(crt);
    free(k);
    if (rv != 0)
        fprintf(stderr, "repl_client: dial %s: %s\n", url, nng_strerror(rv));
    return rv;
}

/* Send bytes, receive the answer decoded into *r. */
static int exchange(nng_socket s, const void *buf, size_t len, repl_frame *r)
{
    nng_msg *m = NULL;
    int rv = nng_msg_alloc(&m, 0);
    if (rv == 0)
        rv = nng_msg_append(m, buf, len);
    if (rv == 0)
        rv = nng_sendmsg(s, m, 0);
    if (rv != 0) {
        nng_msg_free(m);
        return rv;
    }
    if ((rv = nng_recvmsg(s, &m, 0)) != 0)
        return rv;
    rv = repl_decode(nng_msg_body(m), nng_msg_len(m), r) == HCP_OK ? 0 : NNG_EPROTO;
    nng_msg_free(m);
    return rv;
}

static void pack_str(msgpack_packer *pk, const char *s)
{
    msgpack_pack_str(pk, strlen(s));
    msgpack_pack_str_body(pk, s, strlen(s));
}

/* A hello packed here (not by repl_encode, which refuses heads past
 * REPL_SEQ_MAX): county, node "hostile", head seq with a zero hash. */
static int raw_hello(nng_socket s, const char *county, uint64_t seq, repl_frame *r)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, seq >= 1 ? 7 : 6);
    pack_str(&pk, "t");
    msgpack_pack_uint8(&pk, REPL_HELLO);
    pack_str(&pk, "v");
    msgpack_pack_uint8(&pk, REPL_VERSION);
    pack_str(&pk, "vmin");
    msgpack_pack_uint8(&pk, REPL_VERSION_MIN);
    pack_str(&pk, "county");
    pack_str(&pk, county);
    pack_str(&pk, "node");
    pack_str(&pk, "hostile");
    pack_str(&pk, "seq");
    msgpack_pack_uint64(&pk, seq);
    if (seq >= 1) {
        static const uint8_t zero[HCP_HASH_LEN];
        pack_str(&pk, "hash");
        msgpack_pack_bin(&pk, HCP_HASH_LEN);
        msgpack_pack_bin_body(&pk, zero, HCP_HASH_LEN);
    }
    int rv = exchange(s, sb.data, sb.size, r);
    msgpack_sbuffer_destroy(&sb);
    return rv;
}

/* Print an answer: its type, and an error's code. */
static void say(int rv, const repl_frame *r)
{
    if (rv != 0)
        printf("none %s\n", nng_strerror(rv));
    else if (r->type == REPL_ERROR)
        printf("error %s\n", r->code);
    else if (r->type == REPL_CHALLENGE)
        printf("challenge\n");
    else if (r->type == REPL_WELCOME)
        printf("welcome %llu\n", (unsigned long long)r->seq);
    else
        printf("type %u\n", r->type);
}

/* hello then auth, signed with the identity of cert/key. */
static int do_auth(nng_socket s, const char *cert, const char *key, const char *county,
                   uint64_t seq)
{
    repl_identity *id = NULL;
    if (repl_identity_load(cert, key, &id) != HCP_OK) {
        fprintf(stderr, "repl_client: cannot load %s / %s\n", cert, key);
        return 1;
    }
    repl_frame ch;
    memset(&ch, 0, sizeof(ch));
    int rv = raw_hello(s, county, seq, &ch);
    if (rv != 0 || ch.type != REPL_CHALLENGE) {
        say(rv, &ch);
        repl_frame_clear(&ch);
        repl_identity_free(id);
        return 0;
    }
    repl_frame a;
    memset(&a, 0, sizeof(a));
    a.type = REPL_AUTH;
    snprintf(a.county, sizeof(a.county), "%s", county);
    snprintf(a.node, sizeof(a.node), "hostile");
    uint8_t sig[REPL_SIG_MAX];
    size_t sig_len = 0;
    a.cert = repl_identity_cert(id, &a.cert_len);
    a.sig = sig;
    int hrc = repl_sign_auth(id, ch.nonce, a.county, a.node, sig, &sig_len);
    a.sig_len = sig_len;
    repl_frame_clear(&ch);
    hcp_buf b;
    hcp_buf_init(&b, REPL_FRAME_MAX);
    repl_frame r;
    memset(&r, 0, sizeof(r));
    if (hrc == HCP_OK && repl_encode(&a, &b) == HCP_OK) {
        rv = exchange(s, b.data, b.len, &r);
        say(rv, &r);
    } else
        printf("none cannot sign\n");
    repl_frame_clear(&r);
    hcp_buf_free(&b);
    repl_identity_free(id);
    return 0;
}

/* Wait up to ms for the gateway to close the connection. */
static void wait_closed(int ms)
{
    printf("connected\n"); /* the test waits for this line */
    fflush(stdout);
    for (int t = 0; t < ms && atomic_load(&pipes_down) == 0; t += 20)
        nng_msleep(20);
    printf(atomic_load(&pipes_down) > 0 ? "closed\n" : "open\n");
}

int main(int argc, char **argv)
{
    if (argc < 8) {
        fprintf(stderr, "usage: repl_client URL CA CERT KEY SERVER_NAME MODE ARGS\n");
        return 2;
    }
    const char *url = argv[1], *ca = argv[2], *cert = argv[3], *key = argv[4], *name = argv[5],
               *mode = argv[6];
    if (repl_tls_engine_use() != HCP_OK)
        return 1;
    nng_socket s;
    if (dial(&s, url, ca, cert, key, name) != 0)
        return 1;
    int code = 0;
    repl_frame r;
    memset(&r, 0, sizeof(r));
    if (strcmp(mode, "hello") == 0 && argc == 9) {
        say(raw_hello(s, argv[7], strtoull(argv[8], NULL, 10), &r), &r);
    } else if (strcmp(mode, "auth") == 0 && argc == 9) {
        code = do_auth(s, cert, key, argv[7], strtoull(argv[8], NULL, 10));
    } else if (strcmp(mode, "invent") == 0) {
        long n = strtol(argv[7], NULL, 10), ok = 0, from = argc > 8 ? strtol(argv[8], NULL, 10) : 0;
        for (long i = from; i < from + n; i++) {
            char county[8];
            snprintf(county, sizeof(county), "%06ld", 100000 + (i * 7919) % 900000);
            repl_frame_clear(&r);
            memset(&r, 0, sizeof(r));
            int rv = raw_hello(s, county, (uint64_t)(i + 1), &r);
            if (rv != 0) {
                fprintf(stderr, "repl_client: hello %ld: %s\n", i, nng_strerror(rv));
                break;
            }
            ok += r.type == REPL_CHALLENGE;
        }
        printf("challenges=%ld\n", ok);
    } else if (strcmp(mode, "silent") == 0) {
        wait_closed(atoi(argv[7]));
    } else if (strcmp(mode, "hello_wait") == 0) {
        repl_identity *id = NULL;
        if (repl_identity_load(cert, key, &id) == HCP_OK) {
            int rv = raw_hello(s, repl_identity_cn(id), 0, &r);
            repl_identity_free(id);
            say(rv, &r);
            wait_closed(atoi(argv[7]));
        } else
            code = 1;
    } else {
        fprintf(stderr, "repl_client: unknown mode %s\n", mode);
        code = 2;
    }
    repl_frame_clear(&r);
    fflush(stdout);
    nng_close(s);
    /* nng's reaper threads may still be freeing the TLS config while exit
     * handlers would tear OpenSSL down (a race ThreadSanitizer reports), and
     * nng_fini leaves OpenSSL objects unreachable (LeakSanitizer): a test
     * tool that has said everything leaves at once */
    fflush(NULL);
    _exit(code);
}
