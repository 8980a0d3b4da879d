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
 *   cases BODY DAY N...   as CERT's county, a log the gateway never saw
 *                         (hello at 0, auth): one case_open per number N,
 *                         case id COUNTY-DAY-NNNN, the intake read from
 *                         BODY (a POST /v1/cases JSON body) as a node reads
 *                         it, its personal record beside, chained from the
 *                         county's genesis and sent as one batch signed
 *                         with KEY — a real county log whose case numbers
 *                         may skip (tests/system/test_case_number_gaps.py);
 *                         prints "ack SEQ" or the answer; with
 *                         HCP_RC_BREAK=K the K-th event carries a wrong
 *                         hash, with HCP_RC_GARBLE=K a record that does
 *                         not decode (chained all the same)
 *   zbomb KIND            as CERT's county (hello at 0, auth), one batch
 *                         whose events are a hostile zstd frame
 *                         (tests/system/test_repl_zstd.py): KIND "bomb"
 *                         (64 MiB of zeros, declared honestly), "lie" (the
 *                         same, declared as 1,000 bytes), "nosize" (no
 *                         size in the zstd header, 8 MiB inside), "two" (a
 *                         small frame followed by the bomb), "garbage";
 *                         prints the answer, then pings on the same
 *                         connection and prints "pong" or the answer
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
#include <time.h>
#include <unistd.h>
#include <zstd.h>

#include "chain.h"
#include "codec.h"
#include "json.h"
#include "repl.h"
#include "seal.h"

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

/* hello (head seq) then auth for county signed by id; the last answer in
 * *r (the caller clears it) and nng's result. */
static int login(nng_socket s, repl_identity *id, const char *county, uint64_t seq, repl_frame *r)
{
    repl_frame ch;
    memset(&ch, 0, sizeof(ch));
    int rv = raw_hello(s, county, seq, &ch);
    if (rv != 0 || ch.type != REPL_CHALLENGE) {
        *r = ch;
        return rv;
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
    memset(r, 0, sizeof(*r));
    rv =
        hrc == HCP_OK && repl_encode(&a, &b) == HCP_OK ? exchange(s, b.data, b.len, r) : NNG_EINVAL;
    hcp_buf_free(&b);
    return rv;
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
    repl_frame r;
    int rv = login(s, id, county, seq, &r);
    say(rv, &r);
    repl_frame_clear(&r);
    repl_identity_free(id);
    return 0;
}

#define CASES_MAX 64

/* The case_open records of `cases` mode: one per number in nums, of the
 * intake in body, chained from county's genesis into recs/off/hash, their
 * personal records (plain, as a node sends them over TLS) into piis/poff.
 * 0, or 1 with the reason on stderr. */
static int make_cases(const char *county, const char *body, const char *day, char **nums, size_t n,
                      hcp_buf *recs, size_t *off, hcp_buf *piis, size_t *poff,
                      uint8_t (*hash)[HCP_HASH_LEN])
{
    json_t *obj = NULL;
    hcp_json_err jerr;
    memset(&jerr, 0, sizeof(jerr));
    hcp_intake in;
    memset(&in, 0, sizeof(in));
    hcp_time at = 0;
    hcp_chain ch;
    int rc = hcp_json_load(body, strlen(body), &obj, &jerr);
    if (rc == HCP_OK)
        rc = hcp_json_read_intake(obj, true, &in, &at, &jerr);
    if (rc == HCP_OK)
        rc = hcp_chain_init(&ch, county);
    hcp_time now = (hcp_time)time(NULL);
    /* HCP_RC_BREAK=K: the K-th event's hash is wrong; HCP_RC_GARBLE=K: its
     * record does not decode (msgpack's never-used byte) but is chained */
    const char *bs = getenv("HCP_RC_BREAK"), *gs = getenv("HCP_RC_GARBLE");
    size_t brk = bs != NULL ? (size_t)strtoul(bs, NULL, 10) : 0,
           garble = gs != NULL ? (size_t)strtoul(gs, NULL, 10) : 0;
    for (size_t i = 0; rc == HCP_OK && i < n; i++) {
        hcp_event ev;
        memset(&ev, 0, sizeof(ev));
        ev.type = HCP_EV_CASE_OPEN;
        ev.seq = ch.seq + 1;
        ev.at = at != 0 ? at : now;
        ev.recorded_at = now;
        ev.in = in; /* borrowed */
        memcpy(ev.county, county, sizeof(ev.county));
        snprintf(ev.case_id, sizeof(ev.case_id), "%s-%.8s-%04u", county, day,
                 (unsigned)strtoul(nums[i], NULL, 10));
        off[i] = recs->len;
        poff[i] = piis->len;
        rc = hcp_random(ev.pii_salt, sizeof(ev.pii_salt));
        if (rc == HCP_OK)
            rc = hcp_event_encode(&ev, recs, piis, NULL);
        if (rc == HCP_OK && i + 1 == garble) /* chained, but no record a node writes */
            memset(recs->data + off[i], 0xc1, recs->len - off[i]);
        if (rc == HCP_OK)
            rc = hcp_chain_append(&ch, recs->data + off[i], recs->len - off[i], hash[i]);
        if (rc == HCP_OK && i + 1 == brk) /* the hash sent is not the chain's */
            hash[i][0] ^= 0x5a;
        off[i + 1] = recs->len;
        poff[i + 1] = piis->len;
    }
    hcp_intake_clear(&in);
    json_decref(obj);
    if (rc != HCP_OK)
        fprintf(stderr, "repl_client: cases: %s %s %s\n", hcp_strerror(rc), jerr.field,
                jerr.detail);
    return rc == HCP_OK ? 0 : 1;
}

/* `cases`: log in as cert's county at position 0 and send the case_open
 * records as one signed batch; prints the answer ("ack SEQ"). */
static int do_cases(nng_socket s, const char *cert, const char *key, const char *body,
                    const char *day, char **nums, size_t n)
{
    repl_identity *id = NULL;
    if (n == 0 || n > CASES_MAX || strlen(day) != 8 ||
        repl_identity_load(cert, key, &id) != HCP_OK) {
        fprintf(stderr, "repl_client: cases: bad arguments or identity\n");
        repl_identity_free(id);
        return 1;
    }
    char county[HCP_COUNTY_LEN + 1];
    snprintf(county, sizeof(county), "%s", repl_identity_cn(id));
    hcp_buf recs, piis;
    hcp_buf_init(&recs, REPL_FRAME_MAX / 4);
    hcp_buf_init(&piis, REPL_FRAME_MAX / 4);
    size_t off[CASES_MAX + 1], poff[CASES_MAX + 1];
    uint8_t hash[CASES_MAX][HCP_HASH_LEN];
    int code = make_cases(county, body, day, nums, n, &recs, off, &piis, poff, hash);
    repl_frame r;
    memset(&r, 0, sizeof(r));
    int rv = code == 0 ? login(s, id, county, 0, &r) : 0;
    if (code == 0 && (rv != 0 || r.type != REPL_WELCOME)) {
        say(rv, &r);
        code = -1;
    }
    repl_frame_clear(&r);
    repl_event evs[CASES_MAX];
    memset(evs, 0, sizeof(evs));
    for (size_t i = 0; code == 0 && i < n; i++) {
        evs[i].rec = recs.data + off[i];
        evs[i].rec_len = off[i + 1] - off[i];
        evs[i].pii_len = poff[i + 1] - poff[i];
        evs[i].pii = evs[i].pii_len > 0 ? piis.data + poff[i] : NULL;
        memcpy(evs[i].hash, hash[i], HCP_HASH_LEN);
    }
    uint8_t sig[REPL_SIG_MAX];
    size_t sig_len = sizeof(sig);
    repl_frame bf;
    memset(&bf, 0, sizeof(bf));
    bf.type = REPL_BATCH;
    snprintf(bf.county, sizeof(bf.county), "%s", county);
    bf.seq = 1;
    bf.events = evs;
    bf.nevents = n;
    hcp_buf b;
    hcp_buf_init(&b, REPL_FRAME_MAX);
    if (code == 0 && repl_sign_batch(id, county, n, hash[n - 1], sig, &sig_len) == HCP_OK &&
        (bf.sig = sig, bf.sig_len = sig_len, repl_encode(&bf, &b) == HCP_OK)) {
        rv = exchange(s, b.data, b.len, &r);
        if (rv == 0 && r.type == REPL_ACK)
            printf("ack %llu\n", (unsigned long long)r.seq);
        else
            say(rv, &r);
        repl_frame_clear(&r);
    } else if (code == 0) {
        fprintf(stderr, "repl_client: cases: cannot sign or encode the batch\n");
        code = 1;
    }
    hcp_buf_free(&b);
    hcp_buf_free(&recs);
    hcp_buf_free(&piis);
    repl_identity_free(id);
    return code < 0 ? 0 : code;
}

/* The hostile compressed events of `zbomb` KIND into *z (malloc'd, *zn
 * bytes) and the size to declare; 0, or 1 for an unknown kind. */
static int zbomb_bytes(const char *kind, uint8_t **z, size_t *zn, uint64_t *declare)
{
    size_t big = 64u << 20;
    uint8_t *zeros = calloc(1, big);
    size_t cap = ZSTD_compressBound(big);
    *z = malloc(cap + 64);
    *zn = 0;
    int rc = zeros != NULL && *z != NULL ? 0 : 1;
    if (rc == 0 && strcmp(kind, "garbage") == 0) {
        static const char junk[] = "\x28\xb5\x2f\xfd and then nothing zstd can read";
        memcpy(*z, junk, sizeof(junk) - 1);
        *zn = sizeof(junk) - 1;
        *declare = 4096;
    } else if (rc == 0 && strcmp(kind, "nosize") == 0) {
        ZSTD_CCtx *cc = ZSTD_createCCtx();
        ZSTD_outBuffer out = {*z, cap, 0};
        ZSTD_inBuffer in = {zeros, 8u << 20, 0};
        rc = cc != NULL && !ZSTD_isError(ZSTD_CCtx_setParameter(cc, ZSTD_c_contentSizeFlag, 0)) &&
                     ZSTD_compressStream2(cc, &out, &in, ZSTD_e_end) == 0
                 ? 0
                 : 1;
        ZSTD_freeCCtx(cc);
        *zn = out.pos;
        *declare = 4096;
    } else if (rc == 0 && (strcmp(kind, "bomb") == 0 || strcmp(kind, "lie") == 0 ||
                           strcmp(kind, "two") == 0)) {
        size_t off = 0;
        if (strcmp(kind, "two") == 0) { /* a 1,000-byte frame of zeros first */
            off = ZSTD_compress(*z, 64, zeros, 1000, 1);
            rc = ZSTD_isError(off) ? 1 : 0;
        }
        size_t n = rc == 0 ? ZSTD_compress(*z + off, cap, zeros, big, 1) : 0;
        rc = rc == 0 && !ZSTD_isError(n) ? 0 : 1;
        *zn = off + n;
        *declare = strcmp(kind, "bomb") == 0 ? big : 1000;
    } else
        rc = 1;
    free(zeros);
    return rc;
}

/* `zbomb`: log in as cert's county, send one batch with hostile compressed
 * events (packed here: repl_encode makes only honest ones), print the
 * answer, then ping on the same connection and print the answer. */
static int do_zbomb(nng_socket s, const char *cert, const char *key, const char *kind)
{
    repl_identity *id = NULL;
    uint8_t *z = NULL;
    size_t zn = 0;
    uint64_t declare = 0;
    if (repl_identity_load(cert, key, &id) != HCP_OK || zbomb_bytes(kind, &z, &zn, &declare) != 0) {
        fprintf(stderr, "repl_client: zbomb: bad kind or identity\n");
        repl_identity_free(id);
        free(z);
        return 1;
    }
    const char *county = repl_identity_cn(id);
    repl_frame r;
    memset(&r, 0, sizeof(r));
    int rv = login(s, id, county, 0, &r);
    int code = rv == 0 && r.type == REPL_WELCOME ? 0 : -1;
    if (code != 0)
        say(rv, &r);
    repl_frame_clear(&r);
    if (code == 0) {
        msgpack_sbuffer sb;
        msgpack_packer pk;
        msgpack_sbuffer_init(&sb);
        msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
        msgpack_pack_map(&pk, 6);
        pack_str(&pk, "t");
        msgpack_pack_uint8(&pk, REPL_BATCH);
        pack_str(&pk, "county");
        pack_str(&pk, county);
        pack_str(&pk, "seq");
        msgpack_pack_uint64(&pk, 1);
        pack_str(&pk, "sig");
        msgpack_pack_bin(&pk, 1);
        msgpack_pack_bin_body(&pk, "x", 1);
        pack_str(&pk, "zlen");
        msgpack_pack_uint64(&pk, declare);
        pack_str(&pk, "zev");
        msgpack_pack_bin(&pk, zn);
        msgpack_pack_bin_body(&pk, z, zn);
        rv = exchange(s, sb.data, sb.size, &r);
        msgpack_sbuffer_destroy(&sb);
        say(rv, &r);
        repl_frame_clear(&r);
        static const uint8_t ping[] = {0x81, 0xa1, 't', REPL_PING}; /* {"t": ping} */
        rv = exchange(s, ping, sizeof(ping), &r);
        if (rv == 0 && r.type == REPL_PONG)
            printf("pong\n");
        else
            say(rv, &r);
        repl_frame_clear(&r);
    }
    free(z);
    repl_identity_free(id);
    return code < 0 ? 0 : code;
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
    } else if (strcmp(mode, "cases") == 0 && argc >= 10) {
        code = do_cases(s, cert, key, argv[7], argv[8], argv + 9, (size_t)(argc - 9));
    } else if (strcmp(mode, "zbomb") == 0 && argc == 8) {
        code = do_zbomb(s, cert, key, argv[7]);
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
