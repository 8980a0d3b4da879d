/*
 * fleet.c — many county nodes in one process, for issue #4's benchmark (d):
 * 2,900 connected nodes, one per county-level division, each replicating
 * (docs/bench.md, "Fleet").
 *
 *   bench_fleet --ca-cert CA.crt --ca-key CA.key --url tls+tcp://HOST:PORT
 *               --server-name NAME [-n N] [--base CODE] [--events K]
 *               [--interval S] [--ping S] [--rate R] [--window W]
 *               [--timeout S] [--duration S] [--trickle R]
 *
 * N identities (default 2,900) are made in memory with mbedtls: a P-256 key
 * and a certificate with CN = the i-th six-digit code from base on (default
 * 100000) that does not end in "00" (such a code is a prefecture's, never a
 * county's: the gateway's --divisions list cannot hold it), so 100001 ..
 * 100099, 100101 ..; signed by the CA key. bench/fleet.py writes the same
 * codes into the gateway's --divisions file. Each node then has its own nng req socket, its own
 * TLS configuration (own certificate, the CA, the server name, peer
 * authentication required) and dials the gateway; R new dialers a second
 * (default 500), and at most W (default 64) dialed and not yet welcomed. Each runs the node's side
 * of the protocol (docs/replication.md) as a small state machine on nng's aio threads: hello,
 * challenge, signed auth, welcome; a signed batch of K evaluations (default 3) chained from the
 * county's genesis at once, another every ~S seconds (--interval, default 10, ±10 % jitter); a ping
 * every --ping seconds (default 5). Failures count by kind and the session restarts after 1–2 s
 * (nng redials by itself).
 *
 * Directives (docs/directives.md "Delivery"): each node states its directive position (`dseq`, in
 * memory) with hello, auth, batch and ping; takes the entries a welcome or pong carries after it,
 * checks the welcome's gateway certificate against the CA and --server-name (repl_gateway_new, as
 * a node does; verified once per distinct certificate and shared) and each entry's signature with
 * it (repl_peer_verify_directive), and acknowledges them as a node does: one `directive` event per
 * entry in its log (result applied: the simulator has no cases, so every entry addressed to it
 * applies; wrong_target otherwise), sent at once as a batch; its position moves when the events
 * are chained. An entry that does not verify is counted and moves nothing.
 *
 * Trickle (--trickle R, events a second per node; docs/bench.md "Growth"): instead of K events
 * every ~S seconds, each node makes one evaluation every 1/R seconds from a random phase (its
 * "commit": the event is chained when due) and sends it at once as a batch of its own — or, when
 * the batch before is still unacknowledged, together with the others due meanwhile as soon as the
 * acknowledgement comes, as a node's sync does. After "tstart" every event's latency, from when it
 * was due until the gateway's acknowledgement covering it came back, goes into one histogram
 * (log-linear buckets, ≤ 1.6 % wide); "tstop" prints it as the "trickle" line (count, p50/p90/p99/
 * p99.9, max, mean, in ms) and stops recording. One process times every county on one monotonic
 * clock: the gateway, not N node processes sharing the cores, is what the figure measures.
 *
 * Standard output: one JSON object a line: "identities", "dialing",
 * "connected" (every node authenticated and acknowledged), "advanced"
 * (after a "mark" command, every node had a batch made after the mark
 * acknowledged), "dapplied" (after a "dwatch" command, every node took a
 * directive and had its acknowledgement acknowledged: the monotonic times
 * per node), "trickle" (after "tstop"), "summary" (at the end). Standard input takes
 * commands, one a line: "mark", "dwatch", "tstart", "tstop", "stop". End of input, "stop" or
 * --duration (default 300 s) ends the run. RLIMIT_NOFILE is raised to its hard limit first. Exit
 * status: 0 after a run (the figures tell how it went), 1 when the run could not be set up, 2 for
 * bad arguments.
 */
#include <errno.h>
#include <stdatomic.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecp.h>
#include <mbedtls/entropy.h>
#include <mbedtls/pk.h>
#include <mbedtls/x509_crt.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <nng/supplemental/tls/tls.h>

#include "chain.h"
#include "codec.h"
#include "repl.h"
#include "seal.h"

#define FL_PEM_MAX     4096
#define FL_EVENTS_MAX  64
#define FL_BATCH_MAX   (64u << 10) /* bytes of records in one batch */
#define FL_KINDS       32
#define FL_KIND_LEN    48
#define FL_PHRASE      "办理很快，工作人员态度很好。" /* 42 bytes */
#define FL_BACKOFF_MS  1000
#define FL_TICK_MS     250
#define FL_PATH_MAX    512
#define FL_SERVER_NAME 256
#define FL_HSUB        32   /* histogram: sub-buckets per power of two (≤ 1/32 = 3 % wide) */
#define FL_HBUCKETS    1024 /* histogram buckets: exact below 64 µs, log-linear above */

enum fl_state { ST_NEW, ST_HELLO, ST_AUTH, ST_BATCH, ST_PING, ST_IDLE, ST_BACKOFF, ST_LOST };

/* Settings from the command line. */
typedef struct fl_opts {
    const char *ca_cert, *ca_key, *url, *server_name;
    size_t n;
    unsigned base;
    size_t events;
    double interval, ping, rate, timeout, duration;
    double trickle; /* events a second per node (0: batches of K every ~interval) */
    size_t window;
} fl_opts;

/* The trickle's latency histogram in microseconds (any thread; relaxed
 * atomics: the figures are read after "tstop"). */
typedef struct fl_hist {
    atomic_bool on;
    atomic_ulong count, sum_us, max_us;
    atomic_ulong b[FL_HBUCKETS];
} fl_hist;

/* Errors by kind: a small table of names and counts (under mu). */
typedef struct fl_errors {
    pthread_mutex_t mu;
    size_t n;
    char kind[FL_KINDS][FL_KIND_LEN];
    unsigned long count[FL_KINDS];
} fl_errors;

struct fleet;

/* One county node: its identity, socket, chain and the batch in flight.
 * Owned by the fleet's array; everything below mu is guarded by it. */
typedef struct fl_node {
    struct fleet *f;
    size_t idx;
    char county[HCP_COUNTY_LEN + 1];
    char node_id[REPL_ID_MAX + 1];
    repl_identity *id;
    nng_socket sock;
    bool sock_open;
    nng_dialer dialer;
    nng_tls_config *tls;
    nng_ctx ctx;
    nng_aio *aio;   /* request/answer */
    nng_aio *sleep; /* idle and backoff waits */
    pthread_mutex_t mu;
    int state;
    bool sending, stopping, authed;
    hcp_chain chain;  /* the head of the events made so far */
    uint64_t acked;   /* the gateway's applied position, as last told */
    bool pending;     /* a batch made and not yet acknowledged */
    uint64_t b_first; /* its first seq */
    size_t b_n;       /* its events */
    hcp_buf b_buf;    /* its records back to back */
    size_t b_off[FL_EVENTS_MAX + 1];
    uint8_t b_hash[FL_EVENTS_MAX][HCP_HASH_LEN];
    uint8_t b_sig[REPL_SIG_MAX];
    size_t b_siglen;
    uint64_t mark_seq; /* chain.seq when "mark" came; UINT64_MAX: no mark */
    /* directives: the position (entries whose event is chained), the entries
     * taken and not yet in a batch, the highest one in the pending batch */
    uint64_t dseq, b_dmax;
    size_t dq_n;
    struct fl_dir {
        uint64_t seq;
        char type[REPL_DIR_TYPE_MAX + 1];
        char hash[2 * HCP_HASH_LEN + 1];
        char why[16];
    } dq[FL_EVENTS_MAX];
    bool dmore;
    const repl_peer *gw; /* the gateway's key for this session (the fleet's cache) */
    bool dwatch;         /* "dwatch": time the next entry taken and its ack */
    uint64_t dw_seq;     /* that entry's seq (0: none yet) */
    double t_drecv, t_dack;
    unsigned long dirs_taken, dirs_bad;
    double next_batch, next_ping;
    double t_due;                /* trickle: when the next event is due (0: not yet set) */
    double b_due[FL_EVENTS_MAX]; /* trickle: when each event of the pending batch was due */
    double t_auth, t_ack;        /* first welcome, first ack (0: not yet) */
    unsigned long batches, pings, auths;
} fl_node;

/* The whole run (main owns it). */
typedef struct fleet {
    fl_opts o;
    fl_node *nodes;
    fl_errors err;
    double t_dial;          /* when the first dialer started */
    atomic_size_t n_authed; /* nodes welcomed at least once (paces the dialing) */
    fl_hist hist;           /* the trickle's latencies */
    char content[1024];
    repl_verifier *ver;    /* the CA, for the gateway's certificate */
    pthread_mutex_t gw_mu; /* the verified gateway certificates (DER) and their keys */
    size_t n_gw;
    struct {
        uint8_t *der;
        size_t len;
        repl_peer *peer;
    } gwc[4];
} fleet;

/* ---- small helpers ---- */

/* Seconds on the monotonic clock. */
static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A uniform random number in [0, 1) (jitter only; not for keys). */
static double jitter(void)
{
    uint32_t r = 0;
    if (hcp_random(&r, sizeof(r)) != HCP_OK)
        return 0.5;
    return (double)r / 4294967296.0;
}

/* Count one error of kind (copied; the table keeps the first FL_KINDS
 * kinds, the rest count as "other"). Any thread. */
static void err_count(fl_errors *e, const char *kind)
{
    pthread_mutex_lock(&e->mu);
    size_t i = 0;
    while (i < e->n && strcmp(e->kind[i], kind) != 0)
        i++;
    if (i == e->n && e->n < FL_KINDS)
        snprintf(e->kind[e->n++], FL_KIND_LEN, "%s", kind);
    else if (i == e->n)
        i = FL_KINDS - 1;
    e->count[i]++;
    pthread_mutex_unlock(&e->mu);
}

/* Print one JSON object as a line on stdout and free it (obj is stolen). */
static void emit(json_t *obj)
{
    char *s = obj != NULL ? json_dumps(obj, JSON_COMPACT) : NULL;
    if (s != NULL) {
        printf("%s\n", s);
        fflush(stdout);
    }
    free(s);
    json_decref(obj);
}

/* Raise RLIMIT_NOFILE's soft limit to the hard one; the limit now in force. */
static long raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return -1;
    rl.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0 && getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return -1;
    return (long)rl.rlim_cur;
}

/* Read a whole (small) text file; caller frees. NULL on error. */
static char *read_text(const char *path)
{
    FILE *fp = fopen(path, "rb");
    if (fp == NULL)
        return NULL;
    char *buf = calloc(1, FL_PEM_MAX * 4);
    size_t n = buf ? fread(buf, 1, FL_PEM_MAX * 4 - 1, fp) : 0;
    fclose(fp);
    if (buf != NULL && n == 0) {
        free(buf);
        buf = NULL;
    }
    return buf;
}

/* Write len bytes to path (0600); 0 or -1. */
static int write_file(const char *path, const char *data, size_t len)
{
    FILE *fp = fopen(path, "wb");
    if (fp == NULL)
        return -1;
    int rc = fwrite(data, 1, len, fp) == len ? 0 : -1;
    if (fclose(fp) != 0)
        rc = -1;
    return rc;
}

/* ---- identities (mbedtls) ---- */

/* The CA, its key and a DRBG for making identities (main thread only). */
typedef struct fl_ca {
    mbedtls_x509_crt crt;
    mbedtls_pk_context key;
    mbedtls_entropy_context entropy;
    mbedtls_ctr_drbg_context drbg;
    char issuer[256];
    char not_before[16], not_after[16];
    uint64_t serial_base;
} fl_ca;

/* "YYYYMMDDhhmmss" (UTC) of now + days. */
static void x509_time(char out[16], int days)
{
    time_t t = time(NULL) + (time_t)days * 86400;
    struct tm tm;
    gmtime_r(&t, &tm);
    if (strftime(out, 16, "%Y%m%d%H%M%S", &tm) == 0)
        out[0] = '\0';
}

/* Load the CA certificate and key; seed the DRBG. 0 or -1 (said on stderr). */
static int ca_load(fl_ca *ca, const char *cert, const char *key)
{
    mbedtls_x509_crt_init(&ca->crt);
    mbedtls_pk_init(&ca->key);
    mbedtls_entropy_init(&ca->entropy);
    mbedtls_ctr_drbg_init(&ca->drbg);
    static const char pers[] = "hcp-bench-fleet";
    if (mbedtls_ctr_drbg_seed(&ca->drbg, mbedtls_entropy_func, &ca->entropy,
                              (const unsigned char *)pers, sizeof(pers) - 1) != 0 ||
        mbedtls_x509_crt_parse_file(&ca->crt, cert) != 0 ||
        mbedtls_pk_parse_keyfile(&ca->key, key, NULL) != 0 ||
        mbedtls_x509_dn_gets(ca->issuer, sizeof(ca->issuer), &ca->crt.subject) < 0 ||
        hcp_random(&ca->serial_base, sizeof(ca->serial_base)) != HCP_OK) {
        fprintf(stderr, "bench_fleet: cannot load the CA (%s, %s)\n", cert, key);
        return -1;
    }
    ca->serial_base = (ca->serial_base >> 16) | ((uint64_t)1 << 60);
    x509_time(ca->not_before, -1);
    x509_time(ca->not_after, 30);
    return 0;
}

static void ca_free(fl_ca *ca)
{
    mbedtls_x509_crt_free(&ca->crt);
    mbedtls_pk_free(&ca->key);
    mbedtls_ctr_drbg_free(&ca->drbg);
    mbedtls_entropy_free(&ca->entropy);
}

/* Fill a certificate writer for county cn, key `key`, serial number i. */
static int crt_setup(fl_ca *ca, mbedtls_x509write_cert *w, mbedtls_pk_context *key,
                     mbedtls_mpi *serial, const char *cn, size_t i)
{
    char subject[32];
    snprintf(subject, sizeof(subject), "CN=%s", cn);
    mbedtls_x509write_crt_set_version(w, MBEDTLS_X509_CRT_VERSION_3);
    mbedtls_x509write_crt_set_md_alg(w, MBEDTLS_MD_SHA256);
    mbedtls_x509write_crt_set_subject_key(w, key);
    mbedtls_x509write_crt_set_issuer_key(w, &ca->key);
    int rc = mbedtls_mpi_lset(serial, 0);
    if (rc == 0)
        rc = mbedtls_mpi_add_int(serial, serial, (mbedtls_mpi_sint)(i + 1));
    if (rc == 0) {
        mbedtls_mpi base;
        mbedtls_mpi_init(&base);
        uint8_t be[8];
        for (int k = 0; k < 8; k++)
            be[k] = (uint8_t)(ca->serial_base >> (56 - 8 * k));
        rc = mbedtls_mpi_read_binary(&base, be, sizeof(be));
        if (rc == 0)
            rc = mbedtls_mpi_add_mpi(serial, serial, &base);
        mbedtls_mpi_free(&base);
    }
    if (rc == 0)
        rc = mbedtls_x509write_crt_set_serial(w, serial);
    if (rc == 0)
        rc = mbedtls_x509write_crt_set_subject_name(w, subject);
    if (rc == 0)
        rc = mbedtls_x509write_crt_set_issuer_name(w, ca->issuer);
    if (rc == 0)
        rc = mbedtls_x509write_crt_set_validity(w, ca->not_before, ca->not_after);
    if (rc == 0)
        rc = mbedtls_x509write_crt_set_basic_constraints(w, 0, -1);
    if (rc == 0)
        rc = mbedtls_x509write_crt_set_key_usage(w, MBEDTLS_X509_KU_DIGITAL_SIGNATURE);
    if (rc == 0)
        rc = mbedtls_x509write_crt_set_subject_key_identifier(w);
    if (rc == 0)
        rc = mbedtls_x509write_crt_set_authority_key_identifier(w);
    return rc;
}

/* Make a P-256 key and a CA-signed certificate for cn, as PEM into
 * cert_pem and key_pem (FL_PEM_MAX bytes each). 0 or an mbedtls error. */
static int make_identity(fl_ca *ca, const char *cn, size_t i, char *cert_pem, char *key_pem)
{
    mbedtls_pk_context key;
    mbedtls_x509write_cert w;
    mbedtls_mpi serial;
    mbedtls_pk_init(&key);
    mbedtls_x509write_crt_init(&w);
    mbedtls_mpi_init(&serial);
    int rc = mbedtls_pk_setup(&key, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY));
    if (rc == 0)
        rc = mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(key),
                                 mbedtls_ctr_drbg_random, &ca->drbg);
    if (rc == 0)
        rc = mbedtls_pk_write_key_pem(&key, (unsigned char *)key_pem, FL_PEM_MAX);
    if (rc == 0)
        rc = crt_setup(ca, &w, &key, &serial, cn, i);
    if (rc == 0)
        rc = mbedtls_x509write_crt_pem(&w, (unsigned char *)cert_pem, FL_PEM_MAX,
                                       mbedtls_ctr_drbg_random, &ca->drbg);
    mbedtls_mpi_free(&serial);
    mbedtls_x509write_crt_free(&w);
    mbedtls_pk_free(&key);
    return rc;
}

/*
 * Give node nd its identity: key and certificate made here, loaded as a
 * repl_identity (which reads files: written to dir, removed at once) and a
 * TLS configuration with ca_pem pinned. 0 or -1.
 */
static int node_identity(fleet *f, fl_ca *ca, fl_node *nd, const char *dir, const char *ca_pem)
{
    char cert[FL_PEM_MAX], key[FL_PEM_MAX], cpath[FL_PATH_MAX], kpath[FL_PATH_MAX];
    int rc = make_identity(ca, nd->county, nd->idx, cert, key);
    if (rc != 0) {
        fprintf(stderr, "bench_fleet: identity %s: mbedtls -0x%04x\n", nd->county, -rc);
        return -1;
    }
    snprintf(cpath, sizeof(cpath), "%s/%s.crt", dir, nd->county);
    snprintf(kpath, sizeof(kpath), "%s/%s.key", dir, nd->county);
    rc = write_file(cpath, cert, strlen(cert)) == 0 && write_file(kpath, key, strlen(key)) == 0
             ? repl_identity_load(cpath, kpath, &nd->id)
             : HCP_EIO;
    unlink(cpath);
    unlink(kpath);
    if (rc != HCP_OK) {
        fprintf(stderr, "bench_fleet: identity %s: %s\n", nd->county, hcp_strerror(rc));
        return -1;
    }
    int rv = nng_tls_config_alloc(&nd->tls, NNG_TLS_MODE_CLIENT);
    if (rv == 0)
        rv = nng_tls_config_own_cert(nd->tls, cert, key, NULL);
    if (rv == 0)
        rv = nng_tls_config_ca_chain(nd->tls, ca_pem, NULL);
    if (rv == 0)
        rv = nng_tls_config_server_name(nd->tls, f->o.server_name);
    if (rv == 0)
        rv = nng_tls_config_auth_mode(nd->tls, NNG_TLS_AUTH_MODE_REQUIRED);
    if (rv != 0) {
        fprintf(stderr, "bench_fleet: TLS config %s: %s\n", nd->county, nng_strerror(rv));
        return -1;
    }
    return 0;
}

/* ---- the node's protocol ---- */

static void node_fail(fl_node *nd, const char *kind);

/* Encode and send frame fr, then wait for the answer. mu held. */
static void send_frame(fl_node *nd, const repl_frame *fr)
{
    nng_msg *m;
    if (repl_encode_msg(fr, &m) != HCP_OK) {
        node_fail(nd, "encode");
        return;
    }
    nd->sending = true;
    nng_aio_set_msg(nd->aio, m);
    nng_aio_set_timeout(nd->aio, (nng_duration)(nd->f->o.timeout * 1000));
    nng_ctx_send(nd->ctx, nd->aio);
}

/* Sleep ms, then on_sleep continues according to the state. mu held. */
static void node_sleep(fl_node *nd, int state, double secs)
{
    nd->state = state;
    nng_sleep_aio((nng_duration)(secs > 0 ? secs * 1000 : 0), nd->sleep);
}

/* Count kind, drop the session and say hello again after 1–2 s. mu held. */
static void node_fail(fl_node *nd, const char *kind)
{
    err_count(&nd->f->err, kind);
    node_sleep(nd, ST_BACKOFF, (FL_BACKOFF_MS + FL_BACKOFF_MS * jitter()) / 1000.0);
}

/* A node that cannot go on (its history and the gateway's disagree). */
static void node_lost(fl_node *nd, const char *kind)
{
    err_count(&nd->f->err, kind);
    nd->state = ST_LOST;
}

static void send_hello(fl_node *nd)
{
    repl_frame fr;
    memset(&fr, 0, sizeof(fr));
    fr.type = REPL_HELLO;
    fr.v = REPL_VERSION;
    fr.vmin = REPL_VERSION_MIN;
    memcpy(fr.county, nd->county, sizeof(fr.county));
    memcpy(fr.node, nd->node_id, sizeof(fr.node));
    fr.seq = nd->chain.seq;
    fr.has_hash = fr.seq > 0;
    memcpy(fr.hash, nd->chain.head, HCP_HASH_LEN);
    fr.has_dseq = true;
    fr.dseq = nd->dseq;
    nd->state = ST_HELLO;
    send_frame(nd, &fr);
}

static void send_auth(fl_node *nd, const repl_frame *challenge)
{
    repl_frame fr;
    memset(&fr, 0, sizeof(fr));
    fr.type = REPL_AUTH;
    memcpy(fr.county, nd->county, sizeof(fr.county));
    memcpy(fr.node, nd->node_id, sizeof(fr.node));
    uint8_t sig[REPL_SIG_MAX];
    size_t siglen = sizeof(sig);
    fr.cert = repl_identity_cert(nd->id, &fr.cert_len);
    if (repl_sign_auth(nd->id, challenge->nonce, nd->county, nd->node_id, sig, &siglen) != HCP_OK) {
        node_fail(nd, "sign_auth");
        return;
    }
    fr.sig = sig;
    fr.sig_len = siglen;
    fr.has_dseq = true;
    fr.dseq = nd->dseq;
    nd->state = ST_AUTH;
    send_frame(nd, &fr);
}

/* Fill ev (zeroed) as evaluation seq of nd; ev borrows static strings. */
static void make_event(fl_node *nd, hcp_event *ev, uint64_t seq, hcp_time now)
{
    static char unit_code[] = "U1", unit_name[] = "城东区政务服务中心";
    static char item_code[] = "S1", item_name[] = "营业执照";
    memcpy(ev->county, nd->county, sizeof(ev->county));
    ev->seq = seq;
    ev->type = HCP_EV_EVALUATION;
    ev->at = now;
    ev->recorded_at = now;
    ev->evaluation_no = seq;
    ev->in.kind = HCP_KIND_NONE;
    ev->in.channel = HCP_CH_WEB;
    ev->in.rating = (uint8_t)(3 + seq % 3);
    ev->in.unit.code = unit_code;
    ev->in.unit.name = unit_name;
    ev->in.service_item.code = item_code;
    ev->in.service_item.name = item_name;
    ev->in.content = nd->f->content;
}

/* Fill ev (zeroed) as the `directive` event acknowledging entry d, as a
 * node's directive.c makes it; ev borrows d's strings. */
static void make_dir_event(fl_node *nd, hcp_event *ev, uint64_t seq, hcp_time now, struct fl_dir *d)
{
    memcpy(ev->county, nd->county, sizeof(ev->county));
    ev->seq = seq;
    ev->type = HCP_EV_DIRECTIVE;
    ev->at = now;
    ev->recorded_at = now;
    ev->directive = d->seq;
    ev->dir_type = d->type;
    ev->dir_hash = d->hash;
    ev->dir_result = d->why[0] == '\0' ? HCP_DR_APPLIED : HCP_DR_REFUSED;
    ev->dir_why = d->why[0] == '\0' ? NULL : d->why;
}

/* Make the next batch: the `directive` events of the entries taken (when
 * any wait; the position moves to the last), else evals evaluations; encoded,
 * chained on from the head and the last one's position signed. mu held.
 * HCP_OK or an error. */
static int make_batch(fl_node *nd, size_t evals)
{
    hcp_buf pii;
    hcp_buf_init(&pii, HCP_RECORD_MAX);
    hcp_buf_reset(&nd->b_buf);
    nd->b_first = nd->chain.seq + 1;
    nd->b_n = 0;
    nd->b_dmax = 0;
    int rc = HCP_OK;
    hcp_time now = (hcp_time)time(NULL);
    size_t count = nd->dq_n > 0 ? nd->dq_n : evals;
    for (size_t k = 0; k < count && rc == HCP_OK; k++) {
        hcp_event ev;
        memset(&ev, 0, sizeof(ev));
        if (nd->dq_n > 0)
            make_dir_event(nd, &ev, nd->chain.seq + 1, now, &nd->dq[k]);
        else
            make_event(nd, &ev, nd->chain.seq + 1, now);
        size_t start = nd->b_buf.len;
        hcp_buf_reset(&pii);
        rc = hcp_event_encode(&ev, &nd->b_buf, &pii, NULL);
        if (rc == HCP_OK)
            rc = hcp_chain_append(&nd->chain, nd->b_buf.data + start, nd->b_buf.len - start,
                                  nd->b_hash[k]);
        nd->b_off[k] = start;
        nd->b_off[k + 1] = nd->b_buf.len;
        nd->b_n += rc == HCP_OK;
    }
    hcp_buf_free(&pii);
    if (rc == HCP_OK && nd->dq_n > 0) { /* chained: the position moves (a node's commit) */
        nd->dseq = nd->b_dmax = nd->dq[nd->dq_n - 1].seq;
        nd->dq_n = 0;
    }
    nd->b_siglen = sizeof(nd->b_sig);
    if (rc == HCP_OK)
        rc = repl_sign_batch(nd->id, nd->county, nd->chain.seq, nd->b_hash[nd->b_n - 1], nd->b_sig,
                             &nd->b_siglen);
    nd->pending = rc == HCP_OK;
    return rc;
}

/* Send the batch made before (again after a lost session). mu held. */
static void send_batch(fl_node *nd)
{
    repl_event evs[FL_EVENTS_MAX];
    memset(evs, 0, sizeof(evs));
    for (size_t k = 0; k < nd->b_n; k++) {
        evs[k].rec = nd->b_buf.data + nd->b_off[k];
        evs[k].rec_len = nd->b_off[k + 1] - nd->b_off[k];
        memcpy(evs[k].hash, nd->b_hash[k], HCP_HASH_LEN);
    }
    repl_frame fr;
    memset(&fr, 0, sizeof(fr));
    fr.type = REPL_BATCH;
    memcpy(fr.county, nd->county, sizeof(fr.county));
    fr.seq = nd->b_first;
    fr.events = evs;
    fr.nevents = nd->b_n;
    fr.sig = nd->b_sig;
    fr.sig_len = nd->b_siglen;
    fr.has_dseq = true;
    fr.dseq = nd->dseq;
    nd->state = ST_BATCH;
    send_frame(nd, &fr);
}

/* Trickle: the events due by now (at most FL_EVENTS_MAX) made into a
 * batch, each one's due time kept for its latency; true when one was made.
 * mu held. */
static bool trickle_batch(fl_node *nd, double now, bool *failed)
{
    double gap = 1.0 / nd->f->o.trickle;
    if (nd->t_due == 0)
        nd->t_due = now + gap * jitter(); /* a random phase */
    if (now < nd->t_due)
        return false;
    size_t due = (size_t)((now - nd->t_due) / gap) + 1;
    if (due > FL_EVENTS_MAX)
        due = FL_EVENTS_MAX;
    if (make_batch(nd, due) != HCP_OK) {
        *failed = true;
        return false;
    }
    for (size_t k = 0; k < FL_EVENTS_MAX; k++)
        nd->b_due[k] = k < due ? nd->t_due + (double)k * gap : 0;
    nd->t_due += (double)due * gap;
    return true;
}

/* Record the latency of each trickle event of the batch just acknowledged
 * (while "tstart" is in force). mu held. */
static void trickle_acked(fl_node *nd)
{
    fl_hist *h = &nd->f->hist;
    double now = now_s();
    for (size_t k = 0; k < nd->b_n && k < FL_EVENTS_MAX; k++) {
        if (nd->b_due[k] == 0)
            continue;
        double us = (now - nd->b_due[k]) * 1e6;
        nd->b_due[k] = 0;
        if (!atomic_load_explicit(&h->on, memory_order_relaxed))
            continue;
        unsigned long v = us > 0 ? (unsigned long)us : 0;
        size_t i = v;
        if (v >= 2 * FL_HSUB) { /* log-linear: FL_HSUB sub-buckets per power of two */
            unsigned msb = 63u - (unsigned)__builtin_clzl(v), shift = msb - 5u;
            i = 2 * FL_HSUB + (size_t)(msb - 6u) * FL_HSUB + (size_t)((v >> shift) - FL_HSUB);
        }
        if (i >= FL_HBUCKETS)
            i = FL_HBUCKETS - 1;
        atomic_fetch_add_explicit(&h->b[i], 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&h->count, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&h->sum_us, v, memory_order_relaxed);
        unsigned long m = atomic_load_explicit(&h->max_us, memory_order_relaxed);
        while (v > m && !atomic_compare_exchange_weak(&h->max_us, &m, v)) {
        }
    }
}

/* Send what is due — the pending batch, a new one, a ping — or wait for
 * the next. mu held. */
static void next_step(fl_node *nd)
{
    double now = now_s();
    bool trickle = nd->f->o.trickle > 0;
    if (!nd->pending && nd->dq_n > 0) {
        if (make_batch(nd, 0) != HCP_OK) {
            node_lost(nd, "make_batch");
            return;
        }
        memset(nd->b_due, 0, sizeof(nd->b_due));
    } else if (!nd->pending && trickle) {
        bool failed = false;
        if (!trickle_batch(nd, now, &failed) && failed) {
            node_lost(nd, "make_batch");
            return;
        }
    } else if (!nd->pending && now >= nd->next_batch) {
        if (make_batch(nd, nd->f->o.events) != HCP_OK) {
            node_lost(nd, "make_batch");
            return;
        }
        nd->next_batch = now + nd->f->o.interval * (0.9 + 0.2 * jitter());
    }
    if (nd->pending) {
        send_batch(nd);
        return;
    }
    if (now >= nd->next_ping || nd->dmore) {
        nd->dmore = false;
        nd->next_ping = now + nd->f->o.ping;
        repl_frame fr = {.type = REPL_PING, .has_dseq = true, .dseq = nd->dseq};
        nd->state = ST_PING;
        send_frame(nd, &fr);
        return;
    }
    double t_batch = trickle ? nd->t_due : nd->next_batch;
    double t = t_batch < nd->next_ping ? t_batch : nd->next_ping;
    node_sleep(nd, ST_IDLE, t - now);
}

/* The gateway's key from a welcome's certificate, checked as a node checks
 * it (CA, validity, P-256, the server name); the fleet keeps each distinct
 * certificate verified once. NULL when absent or not vouched for. */
static const repl_peer *gateway_peer(fleet *f, const uint8_t *der, size_t len)
{
    if (der == NULL || len == 0)
        return NULL;
    const repl_peer *out = NULL;
    pthread_mutex_lock(&f->gw_mu);
    for (size_t i = 0; out == NULL && i < f->n_gw; i++)
        if (f->gwc[i].len == len && memcmp(f->gwc[i].der, der, len) == 0)
            out = f->gwc[i].peer;
    if (out == NULL && f->n_gw < sizeof(f->gwc) / sizeof(f->gwc[0])) {
        repl_peer *p = NULL;
        const char *why = NULL;
        uint8_t *copy = malloc(len);
        if (copy != NULL &&
            repl_gateway_new(f->ver, der, len, f->o.server_name, &p, &why) == HCP_OK) {
            memcpy(copy, der, len);
            f->gwc[f->n_gw].der = copy;
            f->gwc[f->n_gw].len = len;
            f->gwc[f->n_gw++].peer = p;
            out = p;
        } else {
            free(copy);
            err_count(&f->err, why != NULL ? why : "gcert_nomem");
        }
    }
    pthread_mutex_unlock(&f->gw_mu);
    return out;
}

/* A welcome: the gateway's key for this session (none without a valid
 * certificate: every entry is then refused, as at a node). mu held. */
static void take_gcert(fl_node *nd, const repl_frame *r)
{
    nd->gw = gateway_peer(nd->f, r->gcert, r->gcert_len);
}

/* Entries in a welcome or pong after the position, each verified with the
 * gateway's key, queued for their `directive` events (the next batch); the
 * first that does not verify stops the rest and moves nothing. None while
 * a batch or entries already wait: the position stated next brings them
 * again. mu held. */
static void take_dirs(fl_node *nd, const repl_frame *r)
{
    if (r->ndirs == 0)
        return;
    if (nd->pending || nd->dq_n > 0) {
        nd->dmore = true;
        return;
    }
    uint64_t last = nd->dseq;
    for (size_t i = 0; i < r->ndirs && nd->dq_n < FL_EVENTS_MAX; i++) {
        const repl_dir *d = &r->dirs[i];
        repl_dir_entry e;
        if (repl_dir_decode(d->rec, d->rec_len, &e) != HCP_OK) {
            err_count(&nd->f->err, "dir_malformed");
            break;
        }
        if (e.seq <= last)
            continue;
        if (nd->gw == NULL || repl_peer_verify_directive(nd->gw, e.seq, d->hash, d->rec, d->rec_len,
                                                         d->sig, d->sig_len) != HCP_OK) {
            nd->dirs_bad++;
            err_count(&nd->f->err, "dir_bad_signature");
            break;
        }
        struct fl_dir *q = &nd->dq[nd->dq_n++];
        q->seq = e.seq;
        snprintf(q->type, sizeof(q->type), "%s", e.type);
        hcp_hash_hex(d->hash, q->hash);
        q->why[0] = '\0';
        if (strcmp(e.target, "all") != 0 && strcmp(e.target, nd->county) != 0)
            snprintf(q->why, sizeof(q->why), "wrong_target");
        last = e.seq;
        nd->dirs_taken++;
        if (nd->dwatch && nd->dw_seq == 0) {
            nd->dw_seq = e.seq;
            nd->t_drecv = now_s();
        }
    }
    nd->dmore = r->dmore;
}

/* The pending batch was acknowledged (or found applied): if it carried the
 * watched entry's event, note when. mu held. */
static void dir_acked(fl_node *nd)
{
    if (nd->dwatch && nd->dw_seq != 0 && nd->t_dack == 0 && nd->b_dmax >= nd->dw_seq)
        nd->t_dack = now_s();
}

/* The gateway told its applied position for this county (welcome). mu held. */
static void on_welcome(fl_node *nd, const repl_frame *r)
{
    if (strcmp(r->state, "ok") != 0 && strcmp(r->state, "never_seen") != 0) {
        char kind[FL_KIND_LEN];
        snprintf(kind, sizeof(kind), "welcome_%s", r->state);
        node_fail(nd, kind);
        return;
    }
    nd->auths++;
    if (!nd->authed) {
        nd->authed = true;
        nd->t_auth = now_s();
        atomic_fetch_add(&nd->f->n_authed, 1);
    }
    uint64_t last = nd->b_first + nd->b_n - 1;
    if (nd->pending && r->seq >= last) { /* applied before the session was lost */
        nd->pending = false;
        nd->batches++;
    }
    nd->acked = r->seq;
    if (nd->acked != (nd->pending ? nd->b_first - 1 : nd->chain.seq)) {
        node_lost(nd, "position_mismatch");
        return;
    }
    if (!nd->pending) /* an ack lost with the session: the entries it acknowledged are in */
        dir_acked(nd);
    take_gcert(nd, r);
    take_dirs(nd, r);
    next_step(nd);
}

/* The batch in flight was acknowledged. mu held. */
static void on_ack(fl_node *nd, const repl_frame *r)
{
    uint64_t last = nd->b_first + nd->b_n - 1;
    if (r->seq < last) {
        node_lost(nd, "short_ack");
        return;
    }
    nd->pending = false;
    nd->acked = r->seq;
    nd->batches++;
    if (nd->t_ack == 0)
        nd->t_ack = now_s();
    trickle_acked(nd);
    dir_acked(nd);
    next_step(nd);
}

/* An answer to the request of the current state. mu held. */
static void on_answer(fl_node *nd, const repl_frame *r)
{
    if (r->type == REPL_ERROR) {
        char kind[FL_KIND_LEN];
        snprintf(kind, sizeof(kind), "gw_%s", r->code);
        node_fail(nd, kind);
    } else if (nd->state == ST_HELLO && r->type == REPL_CHALLENGE)
        send_auth(nd, r);
    else if (nd->state == ST_AUTH && r->type == REPL_WELCOME)
        on_welcome(nd, r);
    else if (nd->state == ST_BATCH && r->type == REPL_ACK)
        on_ack(nd, r);
    else if (nd->state == ST_PING && r->type == REPL_PONG) {
        nd->pings++;
        take_dirs(nd, r);
        next_step(nd);
    } else
        node_fail(nd, "unexpected_answer");
}

/* The request aio completed: a send (then receive) or an answer. */
static void on_io(void *arg)
{
    fl_node *nd = arg;
    int rv = nng_aio_result(nd->aio);
    pthread_mutex_lock(&nd->mu);
    if (nd->sending) {
        nd->sending = false;
        if (rv != 0) {
            nng_msg_free(nng_aio_get_msg(nd->aio));
            if (!nd->stopping)
                node_fail(nd, nng_strerror(rv));
        } else if (!nd->stopping) {
            nng_aio_set_timeout(nd->aio, (nng_duration)(nd->f->o.timeout * 1000));
            nng_ctx_recv(nd->ctx, nd->aio);
        }
    } else if (rv != 0) {
        if (!nd->stopping)
            node_fail(nd, rv == NNG_ETIMEDOUT   ? "timeout"
                          : rv == NNG_ECANCELED ? "connection_lost"
                                                : nng_strerror(rv));
    } else {
        nng_msg *m = nng_aio_get_msg(nd->aio);
        repl_frame r;
        if (nd->stopping)
            memset(&r, 0, sizeof(r));
        else if (repl_decode(nng_msg_body(m), nng_msg_len(m), &r) == HCP_OK)
            on_answer(nd, &r);
        else
            node_fail(nd, "malformed_answer");
        repl_frame_clear(&r);
        nng_msg_free(m);
    }
    pthread_mutex_unlock(&nd->mu);
}

/* The sleep aio completed: backoff over (hello again) or idle over. */
static void on_sleep(void *arg)
{
    fl_node *nd = arg;
    pthread_mutex_lock(&nd->mu);
    if (!nd->stopping && nd->state == ST_BACKOFF)
        send_hello(nd);
    else if (!nd->stopping && nd->state == ST_IDLE)
        next_step(nd);
    pthread_mutex_unlock(&nd->mu);
}

/* A connection went away: abandon the request in flight now. */
static void on_pipe(nng_pipe p, nng_pipe_ev ev, void *arg)
{
    (void)p;
    fl_node *nd = arg;
    if (ev != NNG_PIPE_EV_REM_POST)
        return;
    pthread_mutex_lock(&nd->mu);
    if (!nd->stopping && nd->aio != NULL)
        nng_aio_cancel(nd->aio);
    pthread_mutex_unlock(&nd->mu);
}

/* Open nd's socket and dialer and say hello. 0 or -1 (counted). */
static int node_start(fl_node *nd)
{
    const fl_opts *o = &nd->f->o;
    int rv = nng_aio_alloc(&nd->aio, on_io, nd);
    if (rv == 0)
        rv = nng_aio_alloc(&nd->sleep, on_sleep, nd);
    if (rv == 0 && (rv = nng_req0_open(&nd->sock)) == 0)
        nd->sock_open = true;
    if (rv == 0)
        rv = nng_socket_set_ms(nd->sock, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
    if (rv == 0)
        rv = nng_socket_set_ms(nd->sock, NNG_OPT_RECONNMINT, 200);
    if (rv == 0)
        rv = nng_socket_set_ms(nd->sock, NNG_OPT_RECONNMAXT, 5000);
    if (rv == 0)
        rv = nng_pipe_notify(nd->sock, NNG_PIPE_EV_REM_POST, on_pipe, nd);
    if (rv == 0)
        rv = nng_dialer_create(&nd->dialer, nd->sock, o->url);
    if (rv == 0)
        rv = nng_dialer_set_ptr(nd->dialer, NNG_OPT_TLS_CONFIG, nd->tls);
    if (rv == 0)
        rv = nng_ctx_open(&nd->ctx, nd->sock);
    if (rv == 0)
        rv = nng_dialer_start(nd->dialer, NNG_FLAG_NONBLOCK);
    if (rv != 0) {
        char kind[FL_KIND_LEN];
        snprintf(kind, sizeof(kind), "open: %s", nng_strerror(rv));
        err_count(&nd->f->err, kind);
        return -1;
    }
    pthread_mutex_lock(&nd->mu);
    send_hello(nd);
    pthread_mutex_unlock(&nd->mu);
    return 0;
}

/* Stop nd's aios, close its socket, free everything it owns. */
static void node_free(fl_node *nd)
{
    pthread_mutex_lock(&nd->mu);
    nd->stopping = true;
    pthread_mutex_unlock(&nd->mu);
    if (nd->sleep != NULL)
        nng_aio_stop(nd->sleep);
    if (nd->aio != NULL)
        nng_aio_stop(nd->aio);
    if (nd->sock_open)
        nng_close(nd->sock);
    nng_aio_free(nd->aio);
    nng_aio_free(nd->sleep);
    if (nd->tls != NULL)
        nng_tls_config_free(nd->tls);
    repl_identity_free(nd->id);
    hcp_buf_free(&nd->b_buf);
    pthread_mutex_destroy(&nd->mu);
}

/* ---- the run ---- */

/* Counts over the fleet, taken under each node's lock. */
typedef struct fl_stats {
    size_t authed, acked, lost, advanced, dwatched;
    unsigned long batches, pings, auths, dirs_taken, dirs_bad;
    uint64_t events;
    double t_auth_all, t_ack_all; /* latest first welcome/ack; 0 when not all */
} fl_stats;

static void stats_take(fleet *f, fl_stats *s)
{
    memset(s, 0, sizeof(*s));
    for (size_t i = 0; i < f->o.n; i++) {
        fl_node *nd = &f->nodes[i];
        pthread_mutex_lock(&nd->mu);
        s->authed += nd->authed;
        s->acked += nd->t_ack > 0;
        s->lost += nd->state == ST_LOST;
        s->advanced += nd->mark_seq != UINT64_MAX && nd->acked > nd->mark_seq;
        s->batches += nd->batches;
        s->pings += nd->pings;
        s->auths += nd->auths;
        s->events += nd->acked;
        s->dwatched += nd->dwatch && nd->t_dack > 0;
        s->dirs_taken += nd->dirs_taken;
        s->dirs_bad += nd->dirs_bad;
        if (nd->t_auth > s->t_auth_all)
            s->t_auth_all = nd->t_auth;
        if (nd->t_ack > s->t_ack_all)
            s->t_ack_all = nd->t_ack;
        pthread_mutex_unlock(&nd->mu);
    }
    if (s->authed < f->o.n)
        s->t_auth_all = 0;
    if (s->acked < f->o.n)
        s->t_ack_all = 0;
}

/* Remember every node's head now: "advanced" needs a batch made later. */
static void mark_all(fleet *f)
{
    for (size_t i = 0; i < f->o.n; i++) {
        pthread_mutex_lock(&f->nodes[i].mu);
        f->nodes[i].mark_seq = f->nodes[i].chain.seq;
        pthread_mutex_unlock(&f->nodes[i].mu);
    }
}

/* "dwatch": every node times the next entry it takes and the
 * acknowledgement of its event. */
static void dwatch_all(fleet *f)
{
    for (size_t i = 0; i < f->o.n; i++) {
        fl_node *nd = &f->nodes[i];
        pthread_mutex_lock(&nd->mu);
        nd->dwatch = true;
        nd->dw_seq = 0;
        nd->t_drecv = nd->t_dack = 0;
        pthread_mutex_unlock(&nd->mu);
    }
}

/* The "dapplied" line: per node the monotonic second it took the watched
 * entry and when its event was acknowledged (the clock bench scripts read
 * as time.monotonic()), and the entry's seq; the watch ends. */
static json_t *dwatch_json(fleet *f)
{
    json_t *recv = json_array(), *ack = json_array();
    uint64_t lo = UINT64_MAX, hi = 0;
    for (size_t i = 0; i < f->o.n; i++) {
        fl_node *nd = &f->nodes[i];
        pthread_mutex_lock(&nd->mu);
        if (recv != NULL && ack != NULL) {
            (void)json_array_append_new(recv, json_real(nd->t_drecv));
            (void)json_array_append_new(ack, json_real(nd->t_dack));
        }
        lo = nd->dw_seq < lo ? nd->dw_seq : lo;
        hi = nd->dw_seq > hi ? nd->dw_seq : hi;
        nd->dwatch = false;
        pthread_mutex_unlock(&nd->mu);
    }
    return json_pack("{ss,sf,sI,sI,so,so}", "event", "dapplied", "now", now_s(), "seq_min",
                     (json_int_t)lo, "seq_max", (json_int_t)hi, "recv", recv, "ack", ack);
}

/* The middle of histogram bucket i, in microseconds (see trickle_acked). */
static double hist_mid_us(size_t i)
{
    if (i < 2 * FL_HSUB)
        return (double)i + 0.5;
    size_t j = i - 2 * FL_HSUB;
    unsigned shift = (unsigned)(j / FL_HSUB) + 1u;
    double lo = (double)((FL_HSUB + j % FL_HSUB) << shift);
    return lo + (double)(1u << shift) / 2;
}

/* "tstart": forget what the histogram holds and record from now on. */
static void trickle_start(fleet *f)
{
    fl_hist *h = &f->hist;
    atomic_store(&h->on, false);
    for (size_t i = 0; i < FL_HBUCKETS; i++)
        atomic_store(&h->b[i], 0);
    atomic_store(&h->count, 0);
    atomic_store(&h->sum_us, 0);
    atomic_store(&h->max_us, 0);
    atomic_store(&h->on, true);
}

/* "tstop": stop recording; the "trickle" line with the quantiles (the
 * middle of the bucket holding each, in ms), the max and the mean. */
static json_t *trickle_json(fleet *f, double since)
{
    fl_hist *h = &f->hist;
    atomic_store(&h->on, false);
    static const double qs[] = {0.5, 0.9, 0.99, 0.999};
    static const char *names[] = {"p50_ms", "p90_ms", "p99_ms", "p999_ms"};
    unsigned long n = atomic_load(&h->count), seen = 0;
    json_t *j = json_pack("{ss,sf,sf,sI,sf,sf}", "event", "trickle", "seconds", now_s() - since,
                          "rate_per_node", f->o.trickle, "events", (json_int_t)n, "max_ms",
                          (double)atomic_load(&h->max_us) / 1e3, "mean_ms",
                          n > 0 ? (double)atomic_load(&h->sum_us) / (double)n / 1e3 : 0.0);
    size_t q = 0;
    for (size_t i = 0; j != NULL && i < FL_HBUCKETS && q < 4 && n > 0; i++) {
        seen += atomic_load(&h->b[i]);
        while (q < 4 && (double)seen >= qs[q] * (double)n)
            json_object_set_new(j, names[q++], json_real(hist_mid_us(i) / 1e3));
    }
    return j;
}

/* This process's VmHWM and VmRSS in KiB (0 when unknown). */
static void self_mem(long *hwm, long *rss)
{
    *hwm = *rss = 0;
    FILE *fp = fopen("/proc/self/status", "r");
    char line[256];
    while (fp != NULL && fgets(line, sizeof(line), fp) != NULL) {
        if (strncmp(line, "VmHWM:", 6) == 0)
            *hwm = strtol(line + 6, NULL, 10);
        else if (strncmp(line, "VmRSS:", 6) == 0)
            *rss = strtol(line + 6, NULL, 10);
    }
    if (fp != NULL)
        fclose(fp);
}

/* A progress or result line with the fleet's counts. */
static json_t *stats_json(fleet *f, const char *event, const fl_stats *s)
{
    long hwm, rss;
    self_mem(&hwm, &rss);
    return json_pack("{ss,sf,sI,sI,sI,sI,sI,sI,sI,sI,sI}", "event", event, "seconds",
                     now_s() - f->t_dial, "nodes", (json_int_t)f->o.n, "authenticated",
                     (json_int_t)s->authed, "acked_nodes", (json_int_t)s->acked, "lost",
                     (json_int_t)s->lost, "batches_acked", (json_int_t)s->batches, "pings",
                     (json_int_t)s->pings, "auths", (json_int_t)s->auths, "events_applied",
                     (json_int_t)s->events, "fleet_VmHWM_kib", (json_int_t)hwm);
}

/* The errors table as a JSON object. */
static json_t *errors_json(fl_errors *e)
{
    json_t *o = json_object();
    pthread_mutex_lock(&e->mu);
    for (size_t i = 0; o != NULL && i < e->n; i++)
        json_object_set_new(o, e->kind[i], json_integer((json_int_t)e->count[i]));
    pthread_mutex_unlock(&e->mu);
    return o;
}

/* Read a command from stdin if one is there within ms. 1 mark, 2 stop
 * (also end of input), 3 dwatch, 4 tstart, 5 tstop, 0 nothing. */
static int read_command(int ms, bool *eof)
{
    if (*eof) {
        poll(NULL, 0, ms);
        return 0;
    }
    struct pollfd p = {.fd = 0, .events = POLLIN};
    if (poll(&p, 1, ms) <= 0)
        return 0;
    char line[64];
    ssize_t n = read(0, line, sizeof(line) - 1);
    if (n <= 0) {
        *eof = true;
        return 2;
    }
    line[n] = '\0';
    if (strstr(line, "tstart") != NULL)
        return 4;
    if (strstr(line, "tstop") != NULL) /* before "stop", which it contains */
        return 5;
    if (strstr(line, "stop") != NULL)
        return 2;
    if (strstr(line, "dwatch") != NULL)
        return 3;
    return strstr(line, "mark") != NULL ? 1 : 0;
}

/*
 * Dial the nodes, at most R a second and at most W dialed but not yet
 * welcomed: nng's TLS transport gives a connection 10 s to finish its
 * handshake, so a burst beyond what the gateway can handshake in 10 s
 * would time out and be redialed over and over.
 */
static void dial_all(fleet *f)
{
    f->t_dial = now_s();
    emit(json_pack("{ss,sI,sf,sI}", "event", "dialing", "nodes", (json_int_t)f->o.n, "rate",
                   f->o.rate, "window", (json_int_t)f->o.window));
    for (size_t i = 0; i < f->o.n; i++) {
        double due = f->t_dial + (double)i / f->o.rate;
        double wait = due - now_s();
        if (wait > 0)
            usleep((useconds_t)(wait * 1e6));
        while (i - atomic_load(&f->n_authed) >= f->o.window && now_s() - f->t_dial < f->o.duration)
            usleep(2000);
        (void)node_start(&f->nodes[i]);
    }
}

/* Watch the fleet until stop: print "connected" and "advanced" once each. */
static void watch(fleet *f)
{
    bool eof = false, said_connected = false, marked = false, said_advanced = false;
    bool dwatching = false;
    double end = f->t_dial + f->o.duration, last_progress = now_s(), t_tstart = 0;
    fl_stats s;
    while (now_s() < end) {
        int cmd = read_command(FL_TICK_MS, &eof);
        if (cmd == 2)
            break;
        if (cmd == 1) {
            mark_all(f);
            marked = true;
            emit(json_pack("{ss,sf}", "event", "marked", "seconds", now_s() - f->t_dial));
        }
        if (cmd == 3) {
            dwatch_all(f);
            dwatching = true;
            emit(json_pack("{ss,sf}", "event", "dwatching", "now", now_s()));
        }
        if (cmd == 4) {
            trickle_start(f);
            t_tstart = now_s();
            emit(json_pack("{ss,sf}", "event", "tstarted", "now", t_tstart));
        }
        if (cmd == 5)
            emit(trickle_json(f, t_tstart));
        stats_take(f, &s);
        if (!said_connected && s.acked == f->o.n) {
            said_connected = true;
            json_t *j = stats_json(f, "connected", &s);
            json_object_set_new(j, "auth_all_s", json_real(s.t_auth_all - f->t_dial));
            json_object_set_new(j, "ack_all_s", json_real(s.t_ack_all - f->t_dial));
            emit(j);
        }
        if (marked && !said_advanced && s.advanced == f->o.n) {
            said_advanced = true;
            emit(stats_json(f, "advanced", &s));
        }
        if (dwatching && s.dwatched == f->o.n) {
            dwatching = false;
            emit(dwatch_json(f));
        }
        if (now_s() - last_progress >= 5) {
            last_progress = now_s();
            json_t *j = stats_json(f, "progress", &s);
            json_object_set_new(j, "errors", errors_json(&f->err));
            char *line = json_dumps(j, JSON_COMPACT);
            if (line != NULL)
                fprintf(stderr, "bench_fleet: %s\n", line);
            free(line);
            json_decref(j);
        }
    }
}

/* The final line: counts, times, errors. */
static void summary(fleet *f, double ident_s, long nofile)
{
    fl_stats s;
    stats_take(f, &s);
    json_t *j = stats_json(f, "summary", &s);
    json_object_set_new(j, "advanced_nodes", json_integer((json_int_t)s.advanced));
    json_object_set_new(j, "auth_all_s",
                        s.t_auth_all > 0 ? json_real(s.t_auth_all - f->t_dial) : json_null());
    json_object_set_new(j, "ack_all_s",
                        s.t_ack_all > 0 ? json_real(s.t_ack_all - f->t_dial) : json_null());
    json_object_set_new(j, "identities_s", json_real(ident_s));
    json_object_set_new(j, "rlimit_nofile", json_integer(nofile));
    json_object_set_new(j, "events_per_batch", json_integer((json_int_t)f->o.events));
    json_object_set_new(j, "interval_s", json_real(f->o.interval));
    json_object_set_new(j, "ping_s", json_real(f->o.ping));
    json_object_set_new(j, "trickle_per_node", json_real(f->o.trickle));
    json_object_set_new(j, "directives_taken", json_integer((json_int_t)s.dirs_taken));
    json_object_set_new(j, "directives_bad_signature", json_integer((json_int_t)s.dirs_bad));
    json_object_set_new(j, "errors", errors_json(&f->err));
    emit(j);
}

/* The county code after code (or code itself when from_here): the next
 * number not ending in "00", which only prefectures and provinces use. */
static unsigned county_code(unsigned code, bool from_here)
{
    if (!from_here)
        code++;
    return code % 100 == 0 ? code + 1 : code;
}

/* Make every node's identity and TLS config. 0 or -1. */
static int make_nodes(fleet *f, fl_ca *ca, const char *ca_pem)
{
    char dir[] = "/tmp/hcp-fleet-XXXXXX";
    if (mkdtemp(dir) == NULL) {
        fprintf(stderr, "bench_fleet: mkdtemp: %s\n", strerror(errno));
        return -1;
    }
    int rc = 0;
    unsigned code = county_code(f->o.base, true);
    for (size_t i = 0; i < f->o.n && rc == 0; i++, code = county_code(code, false)) {
        fl_node *nd = &f->nodes[i];
        nd->f = f;
        nd->idx = i;
        nd->mark_seq = UINT64_MAX;
        pthread_mutex_init(&nd->mu, NULL);
        hcp_buf_init(&nd->b_buf, FL_BATCH_MAX);
        snprintf(nd->county, sizeof(nd->county), "%06u", code);
        snprintf(nd->node_id, sizeof(nd->node_id), "fleet-%s", nd->county);
        rc = hcp_chain_init(&nd->chain, nd->county) == HCP_OK ? 0 : -1;
        if (rc == 0)
            rc = node_identity(f, ca, nd, dir, ca_pem);
    }
    rmdir(dir);
    return rc;
}

/* ---- arguments ---- */

static int usage(void)
{
    fprintf(stderr, "usage: bench_fleet --ca-cert F --ca-key F --url tls+tcp://HOST:PORT "
                    "--server-name NAME [-n N] [--base CODE] [--events K] [--interval S] "
                    "[--ping S] [--rate R] [--window W] [--timeout S] [--duration S] "
                    "[--trickle R]\n");
    return 2;
}

/* A positive number argument; -1 when s is not one. */
static double num_arg(const char *s)
{
    char *end = NULL;
    errno = 0;
    double v = s ? strtod(s, &end) : 0;
    return errno == 0 && end != s && *end == '\0' && v > 0 ? v : -1;
}

/* Parse argv into o (defaults first). 0 or -1. */
static int parse_args(int argc, char **argv, fl_opts *o)
{
    *o = (fl_opts){.n = 2900,
                   .base = 100000,
                   .events = 3,
                   .interval = 10,
                   .ping = 5,
                   .rate = 500,
                   .timeout = 30,
                   .window = 64,
                   .duration = 300};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        double x = num_arg(v);
        if (v == NULL)
            return -1;
        i++;
        if (strcmp(a, "--ca-cert") == 0)
            o->ca_cert = v;
        else if (strcmp(a, "--ca-key") == 0)
            o->ca_key = v;
        else if (strcmp(a, "--url") == 0)
            o->url = v;
        else if (strcmp(a, "--server-name") == 0)
            o->server_name = v;
        else if (strcmp(a, "-n") == 0 && x >= 1 && x <= 899999)
            o->n = (size_t)x;
        else if (strcmp(a, "--base") == 0 && x >= 100000 && x <= 999999)
            o->base = (unsigned)x;
        else if (strcmp(a, "--events") == 0 && x >= 1 && x <= FL_EVENTS_MAX)
            o->events = (size_t)x;
        else if (strcmp(a, "--interval") == 0 && x > 0)
            o->interval = x;
        else if (strcmp(a, "--ping") == 0 && x > 0)
            o->ping = x;
        else if (strcmp(a, "--rate") == 0 && x > 0)
            o->rate = x;
        else if (strcmp(a, "--window") == 0 && x >= 1)
            o->window = (size_t)x;
        else if (strcmp(a, "--timeout") == 0 && x > 0)
            o->timeout = x;
        else if (strcmp(a, "--duration") == 0 && x > 0)
            o->duration = x;
        else if (strcmp(a, "--trickle") == 0 && x > 0 && x <= 1000)
            o->trickle = x;
        else
            return -1;
    }
    if (o->ca_cert == NULL || o->ca_key == NULL || o->url == NULL || o->server_name == NULL ||
        strlen(o->server_name) >= FL_SERVER_NAME)
        return -1;
    unsigned last = county_code(o->base, true); /* the n-th code must stay six digits */
    for (size_t i = 1; i < o->n && last <= 999999; i++)
        last = county_code(last, false);
    return last <= 999999 ? 0 : -1;
}

int main(int argc, char **argv)
{
    fleet f;
    memset(&f, 0, sizeof(f));
    if (parse_args(argc, argv, &f.o) != 0)
        return usage();
    if (repl_tls_engine_use() != HCP_OK) { /* the daemons' TLS */
        fprintf(stderr, "bench_fleet: cannot set up the OpenSSL TLS engine\n");
        return 1;
    }
    long nofile = raise_nofile();
    pthread_mutex_init(&f.err.mu, NULL);
    pthread_mutex_init(&f.gw_mu, NULL);
    if (repl_verifier_load(f.o.ca_cert, NULL, &f.ver) != HCP_OK) {
        fprintf(stderr, "bench_fleet: cannot load the CA for the gateway's certificate (%s)\n",
                f.o.ca_cert);
        return 1;
    }
    for (size_t k = 0; k < 2; k++)
        strcat(f.content, FL_PHRASE);
    strcat(f.content, " (bench_fleet)");
    fl_ca ca;
    char *ca_pem = read_text(f.o.ca_cert);
    f.nodes = calloc(f.o.n, sizeof(*f.nodes));
    double t0 = now_s();
    int rc = ca_pem != NULL && f.nodes != NULL ? ca_load(&ca, f.o.ca_cert, f.o.ca_key) : -1;
    if (rc == 0)
        rc = make_nodes(&f, &ca, ca_pem);
    double ident_s = now_s() - t0;
    if (rc == 0) {
        emit(json_pack("{ss,sI,sf,sI}", "event", "identities", "nodes", (json_int_t)f.o.n,
                       "seconds", ident_s, "rlimit_nofile", (json_int_t)nofile));
        dial_all(&f);
        watch(&f);
        summary(&f, ident_s, nofile);
    } else
        fprintf(stderr, "bench_fleet: set-up failed\n");
    for (size_t i = 0; f.nodes != NULL && i < f.o.n; i++)
        if (f.nodes[i].f != NULL)
            node_free(&f.nodes[i]);
    if (ca_pem != NULL && f.nodes != NULL)
        ca_free(&ca);
    free(f.nodes);
    free(ca_pem);
    for (size_t i = 0; i < f.n_gw; i++) {
        free(f.gwc[i].der);
        repl_peer_free(f.gwc[i].peer);
    }
    repl_verifier_free(f.ver);
    pthread_mutex_destroy(&f.gw_mu);
    pthread_mutex_destroy(&f.err.mu);
    return rc == 0 ? 0 : 1;
}
