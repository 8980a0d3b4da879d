/*
 * tls_engine.c — nng's TLS done by OpenSSL 3.0's libssl instead of the
 * mbedtls 2.28 engine built into Debian's nng 1.5.2 (docs/replication.md,
 * "Transport and pattern").
 *
 * Why: profiling the catch-up showed the TLS record layer as the largest
 * cost on both sides (mbedtls' portable ChaCha20-Poly1305: 57 % of the
 * node's CPU, 32 % of the gateway's). Measured on this machine, 16 KiB
 * records: mbedtls ChaCha20-Poly1305 ~210 MB/s and AES-128-GCM ~140 MB/s;
 * OpenSSL AES-128-GCM ~2,400 MB/s (AES-NI, PCLMUL). nng 1.5.2 takes a TLS
 * "engine" (nng/supplemental/tls/engine.h); this is one, over libssl. The
 * protocol above it and every certificate check are unchanged.
 *
 * What it does, as nng's own engine did: TLS 1.2 (1.3 only if a caller
 * asks for it), ECDHE with AEAD ciphers only (AES-128-GCM first, the
 * server's preference), client mode verifies the server by default and
 * checks the server name (DNS names and the CN, never IP entries, as
 * mbedtls did); server mode asks for a client certificate only when told
 * (NNG_TLS_AUTH_MODE_REQUIRED). The CA chain and the CRLs are PEM text;
 * with a CRL every leaf is checked against its issuer's CRL (missing or
 * expired: refused, fail closed). Certificate purposes are OpenSSL's SSL
 * defaults: a server certificate needs serverAuth, a client one clientAuth.
 * No session tickets, no session cache, no renegotiation.
 *
 * Limits on the server side (repl_tls_server_setup, the gateway): a
 * handshake must finish within a deadline counted from the connection's
 * start (how many may be open at once is the gateway's reaper's business:
 * daemon/reaper.h), and the CRL file is re-read when
 * it changed (one stat per new connection), so a certificate revoked after
 * start is refused at its next handshake without a restart.
 *
 * I/O: nng owns the TCP stream and buffers it (16 KiB each way); a BIO of
 * our own hands OpenSSL's records to nng_tls_engine_send and takes them from
 * nng_tls_engine_recv, turning NNG_EAGAIN into OpenSSL's "retry". nng calls
 * the engine with the connection's lock held, one thread at a time.
 */
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <pthread.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>

#include <nng/nng.h>
#include <nng/supplemental/tls/engine.h>
#include <nng/supplemental/tls/tls.h>
#include <nng/supplemental/util/platform.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include "repl.h"

#include "lock.h"

#define TLS_CIPHERS                                                                                \
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"                                 \
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-AES128-GCM-SHA256:"                                   \
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-CHACHA20-POLY1305"
#define TLS_NAME_MAX 256

struct nng_tls_engine_config {
    SSL_CTX *ctx;
    nng_tls_mode mode;
    char server_name[TLS_NAME_MAX]; /* "" = none: no name check */
    /* server side, with a CRL file to follow (repl_tls_server_setup) */
    pthread_mutex_t mu;
    bool mu_ok;
    char *ca_pem;         /* the CA chain as configured (owned) */
    X509_STORE *store;    /* rebuilt when the CRL file changed; NULL: the ctx's own */
    struct stat crl_seen; /* the CRL file as last loaded */
    bool crl_seen_ok;
};

struct nng_tls_engine_conn {
    SSL *ssl;
    nng_time deadline; /* server: the handshake must be done by then (0: none) */
};

/* Server-side limits, set once before the listener starts. */
static struct {
    char crl_file[4096]; /* "" = do not follow a CRL file */
    int handshake_ms;    /* 0 = no deadline */
} server_limits;

static BIO_METHOD *bio_method; /* made once by repl_tls_engine_use */

/* ---- the BIO between OpenSSL and nng's buffered TCP stream ---- */

static int bio_write(BIO *b, const char *buf, int len)
{
    size_t n = len > 0 ? (size_t)len : 0;
    BIO_clear_retry_flags(b);
    int rv = nng_tls_engine_send(BIO_get_data(b), (const uint8_t *)buf, &n);
    if (rv == 0)
        return (int)n;
    if (rv == NNG_EAGAIN)
        BIO_set_retry_write(b);
    return -1;
}

static int bio_read(BIO *b, char *buf, int len)
{
    size_t n = len > 0 ? (size_t)len : 0;
    BIO_clear_retry_flags(b);
    int rv = nng_tls_engine_recv(BIO_get_data(b), (uint8_t *)buf, &n);
    if (rv == 0)
        return (int)n;
    if (rv == NNG_EAGAIN) {
        BIO_set_retry_read(b);
        return -1;
    }
    return 0; /* closed: end of stream */
}

static long bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    (void)b;
    (void)num;
    (void)ptr;
    return cmd == BIO_CTRL_FLUSH ? 1 : 0; /* nng sends as soon as it has bytes */
}

static int bio_create(BIO *b)
{
    BIO_set_init(b, 1);
    return 1;
}

/* ---- failed handshakes, remembered for the daemons' messages ---- */

typedef struct fail_rec {
    uint64_t count;
    nng_time at;
    char why[REPL_TLS_WHY_MAX];
} fail_rec;

static fail_rec fails[2]; /* [0] client side, [1] server side */
static pthread_mutex_t fails_mu = PTHREAD_MUTEX_INITIALIZER;

/* Note why a handshake failed: the certificate check's verdict, else
 * OpenSSL's reason (e.g. "tlsv1 alert unknown ca", "wrong version number"). */
static void note_failure(SSL *ssl)
{
    long v = SSL_get_verify_result(ssl);
    unsigned long e = ERR_peek_last_error();
    const char *r = e != 0 ? ERR_reason_error_string(e) : NULL;
    fail_rec *f = &fails[SSL_is_server(ssl) ? 1 : 0];
    hcp_mutex_lock(&fails_mu);
    f->count++;
    f->at = nng_clock();
    if (v != X509_V_OK)
        snprintf(f->why, sizeof(f->why), "certificate verify failed: %s",
                 X509_verify_cert_error_string(v));
    else
        snprintf(f->why, sizeof(f->why), "%s", r != NULL ? r : "connection closed");
    hcp_mutex_unlock(&fails_mu);
}

/* Note a handshake the server side gave up itself (deadline, cap). */
static void note_reason(const char *why)
{
    hcp_mutex_lock(&fails_mu);
    fails[1].count++;
    fails[1].at = nng_clock();
    snprintf(fails[1].why, sizeof(fails[1].why), "%s", why);
    hcp_mutex_unlock(&fails_mu);
}

/* ---- the CRL, followed on the server side ---- */

/* Every certificate and CRL of pem into st (defined below). */
static int store_pem(X509_STORE *st, const char *pem, int *ncerts, int *ncrls);

/* The CRL file's text (at most 4 MiB), or NULL. */
static char *read_small(const char *path, struct stat *st)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    char *buf = NULL;
    if (fstat(fileno(f), st) == 0 && st->st_size >= 0 && st->st_size <= (4 << 20)) {
        size_t n = (size_t)st->st_size;
        buf = malloc(n + 1);
        if (buf != NULL && fread(buf, 1, n, f) != n) {
            free(buf);
            buf = NULL;
        }
        if (buf != NULL)
            buf[n] = '\0';
    }
    fclose(f);
    return buf;
}

static bool same_file(const struct stat *a, const struct stat *b)
{
    return a->st_ino == b->st_ino && a->st_size == b->st_size &&
           a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

/* Re-read the CRL file if it changed since it was last loaded: a new
 * verification store (the CA chain as configured plus the file's CRLs)
 * replaces the old one for connections made from now on. A file that
 * cannot be read or parsed keeps the previous store (fail safe: the old
 * CRL stays in force, and an expired one already refuses everything).
 * The store for a new connection, held (caller frees), or NULL. */
static X509_STORE *crl_current(nng_tls_engine_config *cfg)
{
    if (!cfg->mu_ok || cfg->ca_pem == NULL || server_limits.crl_file[0] == '\0')
        return NULL;
    struct stat now;
    bool changed = stat(server_limits.crl_file, &now) == 0;
    hcp_mutex_lock(&cfg->mu);
    changed = changed && !(cfg->crl_seen_ok && same_file(&now, &cfg->crl_seen));
    if (changed) {
        struct stat st;
        char *crl = read_small(server_limits.crl_file, &st);
        X509_STORE *ns = crl != NULL ? X509_STORE_new() : NULL;
        int ncerts = 0, ncrls = 0;
        bool ok = ns != NULL && store_pem(ns, cfg->ca_pem, &ncerts, &ncrls) == 0 &&
                  store_pem(ns, crl, &ncerts, &ncrls) == 0 && ncerts > 0 && ncrls > 0 &&
                  X509_STORE_set_flags(ns, X509_V_FLAG_CRL_CHECK) == 1;
        if (ok) {
            X509_STORE_free(cfg->store);
            cfg->store = ns;
            ns = NULL;
        }
        /* remember the file either way: a broken file is not re-parsed per
         * connection, a later change of it is */
        cfg->crl_seen = crl != NULL ? st : now;
        cfg->crl_seen_ok = true;
        X509_STORE_free(ns);
        free(crl);
        ERR_clear_error();
    }
    X509_STORE *cur = cfg->store;
    if (cur != NULL && X509_STORE_up_ref(cur) != 1)
        cur = NULL;
    hcp_mutex_unlock(&cfg->mu);
    return cur;
}

/* ---- connections ---- */

/* An OpenSSL failure of ssl's last call as an nng error; clears the
 * thread's error queue (OpenSSL keeps one per thread, nng's threads run
 * other code too). A failed handshake is noted. */
static int ssl_fail(SSL *ssl, int ret, bool handshake)
{
    int e = SSL_get_error(ssl, ret), rv;
    if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE && handshake)
        note_failure(ssl);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
        rv = NNG_EAGAIN;
    else if (e == SSL_ERROR_ZERO_RETURN || e == SSL_ERROR_SYSCALL)
        rv = NNG_ECLOSED;
    else if (SSL_get_verify_result(ssl) != X509_V_OK)
        rv = NNG_EPEERAUTH;
    else
        rv = NNG_ECRYPTO;
    ERR_clear_error();
    return rv;
}

static int conn_init(nng_tls_engine_conn *ec, void *tls, nng_tls_engine_config *cfg)
{
    ec->ssl = SSL_new(cfg->ctx);
    BIO *b = ec->ssl != NULL ? BIO_new(bio_method) : NULL;
    if (b == NULL) {
        ERR_clear_error();
        return NNG_ENOMEM;
    }
    BIO_set_data(b, tls);
    SSL_set_bio(ec->ssl, b, b); /* ssl owns b */
    if (cfg->mode == NNG_TLS_MODE_SERVER) {
        SSL_set_accept_state(ec->ssl);
        X509_STORE *st = crl_current(cfg);
        if (st != NULL) {
            int ok = SSL_set1_verify_cert_store(ec->ssl, st);
            X509_STORE_free(st); /* ssl holds its own reference */
            if (ok != 1) {
                ERR_clear_error();
                return NNG_ENOMEM;
            }
        }
        if (server_limits.handshake_ms > 0)
            ec->deadline = nng_clock() + (nng_time)server_limits.handshake_ms;
        return 0;
    }
    SSL_set_connect_state(ec->ssl);
    if (cfg->server_name[0] != '\0' && (SSL_set_tlsext_host_name(ec->ssl, cfg->server_name) != 1 ||
                                        SSL_set1_host(ec->ssl, cfg->server_name) != 1)) {
        ERR_clear_error();
        return NNG_ENOMEM;
    }
    return 0;
}

static void conn_fini(nng_tls_engine_conn *ec)
{
    SSL_free(ec->ssl); /* NULL-safe; frees the BIO */
    ec->ssl = NULL;
}

static void conn_close(nng_tls_engine_conn *ec)
{
    if (ec->ssl != NULL && SSL_is_init_finished(ec->ssl))
        (void)SSL_shutdown(ec->ssl); /* a close_notify, if it fits; nng closes TCP */
    ERR_clear_error();
}

/* Server side, before any handshake work (nng drives the handshake
 * through handshake, send and recv alike): one past its deadline fails
 * now. 0 to go on. */
static int conn_limits(nng_tls_engine_conn *ec)
{
    if (ec->deadline != 0 && !SSL_is_init_finished(ec->ssl) && nng_clock() > ec->deadline) {
        note_reason("handshake not finished in time");
        return NNG_ETIMEDOUT;
    }
    return 0;
}

/* A handshake step, within the server's limits. */
static int conn_handshake(nng_tls_engine_conn *ec)
{
    int lim = conn_limits(ec);
    if (lim != 0)
        return lim;
    ERR_clear_error();
    int r = SSL_do_handshake(ec->ssl);
    return r == 1 ? 0 : ssl_fail(ec->ssl, r, true);
}

static int conn_recv(nng_tls_engine_conn *ec, uint8_t *buf, size_t *szp)
{
    int lim = conn_limits(ec);
    if (lim != 0)
        return lim;
    ERR_clear_error();
    int r = SSL_read(ec->ssl, buf, *szp > INT_MAX ? INT_MAX : (int)*szp);
    if (r > 0) {
        *szp = (size_t)r;
        return 0;
    }
    return ssl_fail(ec->ssl, r, false);
}

static int conn_send(nng_tls_engine_conn *ec, const uint8_t *buf, size_t *szp)
{
    int lim = conn_limits(ec);
    if (lim != 0)
        return lim;
    ERR_clear_error();
    int r = SSL_write(ec->ssl, buf, *szp > INT_MAX ? INT_MAX : (int)*szp);
    if (r > 0) {
        *szp = (size_t)r;
        return 0;
    }
    return ssl_fail(ec->ssl, r, false);
}

static bool conn_verified(nng_tls_engine_conn *ec)
{
    return SSL_get0_peer_certificate(ec->ssl) != NULL &&
           SSL_get_verify_result(ec->ssl) == X509_V_OK;
}

/* ---- configurations ---- */

static void config_fini(nng_tls_engine_config *cfg)
{
    SSL_CTX_free(cfg->ctx); /* NULL-safe */
    cfg->ctx = NULL;
    X509_STORE_free(cfg->store);
    cfg->store = NULL;
    free(cfg->ca_pem);
    cfg->ca_pem = NULL;
    if (cfg->mu_ok)
        hcp_mutex_destroy(&cfg->mu);
    cfg->mu_ok = false;
}

static int config_init(nng_tls_engine_config *cfg, nng_tls_mode mode)
{
    cfg->mode = mode;
    cfg->mu_ok = pthread_mutex_init(&cfg->mu, NULL) == 0;
    cfg->ctx = SSL_CTX_new(mode == NNG_TLS_MODE_SERVER ? TLS_server_method() : TLS_client_method());
    if (cfg->ctx == NULL) {
        ERR_clear_error();
        return NNG_ENOMEM;
    }
    SSL_CTX *c = cfg->ctx;
    int ok = SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION) == 1 &&
             SSL_CTX_set_max_proto_version(c, TLS1_2_VERSION) == 1 &&
             SSL_CTX_set_cipher_list(c, TLS_CIPHERS) == 1;
    SSL_CTX_set_options(c, SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_TICKET |
                               SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
    SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_OFF);
    /* nng may retry a write from another buffer position, and takes
     * partial writes: one record at a time */
    SSL_CTX_set_mode(c, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_CTX_set_verify(c, mode == NNG_TLS_MODE_SERVER ? SSL_VERIFY_NONE : SSL_VERIFY_PEER, NULL);
    if (!ok) {
        config_fini(cfg);
        ERR_clear_error();
        return NNG_ECRYPTO;
    }
    return 0;
}

static int config_server(nng_tls_engine_config *cfg, const char *name)
{
    size_t n = name != NULL ? strlen(name) : 0;
    if (n >= sizeof(cfg->server_name))
        return NNG_EINVAL;
    memcpy(cfg->server_name, name != NULL ? name : "", n + 1);
    return 0;
}

static int config_auth(nng_tls_engine_config *cfg, nng_tls_auth_mode mode)
{
    int v;
    switch (mode) {
    case NNG_TLS_AUTH_MODE_NONE:
        v = SSL_VERIFY_NONE;
        break;
    case NNG_TLS_AUTH_MODE_OPTIONAL: /* a server checks a certificate if one is shown */
        v = cfg->mode == NNG_TLS_MODE_SERVER ? SSL_VERIFY_PEER : SSL_VERIFY_NONE;
        break;
    case NNG_TLS_AUTH_MODE_REQUIRED:
        v = SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
        break;
    default:
        return NNG_EINVAL;
    }
    SSL_CTX_set_verify(cfg->ctx, v, NULL);
    return 0;
}

/* Every certificate and CRL of the PEM text into the verification store;
 * *ncerts and *ncrls count them. */
static int store_pem(X509_STORE *st, const char *pem, int *ncerts, int *ncrls)
{
    BIO *b = BIO_new_mem_buf(pem, -1);
    STACK_OF(X509_INFO) *infos = b != NULL ? PEM_X509_INFO_read_bio(b, NULL, NULL, NULL) : NULL;
    int rv = infos != NULL ? 0 : NNG_ECRYPTO;
    for (int i = 0; rv == 0 && i < sk_X509_INFO_num(infos); i++) {
        X509_INFO *xi = sk_X509_INFO_value(infos, i);
        if (xi->x509 != NULL && X509_STORE_add_cert(st, xi->x509) != 1)
            rv = NNG_ECRYPTO;
        if (xi->crl != NULL && X509_STORE_add_crl(st, xi->crl) != 1)
            rv = NNG_ECRYPTO;
        *ncerts += xi->x509 != NULL;
        *ncrls += xi->crl != NULL;
    }
    sk_X509_INFO_pop_free(infos, X509_INFO_free);
    BIO_free(b);
    ERR_clear_error();
    return rv;
}

static int config_ca_chain(nng_tls_engine_config *cfg, const char *certs, const char *crl)
{
    if (certs == NULL)
        return NNG_EINVAL;
    X509_STORE *st = SSL_CTX_get_cert_store(cfg->ctx);
    int ncerts = 0, ncrls = 0;
    int rv = store_pem(st, certs, &ncerts, &ncrls);
    if (rv == 0 && crl != NULL && crl != certs)
        rv = store_pem(st, crl, &ncerts, &ncrls);
    if (rv == 0 && ncerts == 0)
        rv = NNG_ECRYPTO; /* no CA at all: nothing would verify */
    if (rv == 0 && ncrls > 0 && X509_STORE_set_flags(st, X509_V_FLAG_CRL_CHECK) != 1)
        rv = NNG_ECRYPTO;
    if (rv == 0 && cfg->mode == NNG_TLS_MODE_SERVER && cfg->mu_ok) {
        /* kept to rebuild the store when the CRL file changes */
        size_t n = strlen(certs);
        char *copy = malloc(n + 1);
        if (copy == NULL)
            rv = NNG_ENOMEM;
        else {
            memcpy(copy, certs, n + 1);
            hcp_mutex_lock(&cfg->mu);
            free(cfg->ca_pem);
            cfg->ca_pem = copy;
            /* the CRL given now is the one in force: the file is compared
             * against it from the first connection on */
            cfg->crl_seen_ok = crl != NULL && server_limits.crl_file[0] != '\0' &&
                               stat(server_limits.crl_file, &cfg->crl_seen) == 0;
            hcp_mutex_unlock(&cfg->mu);
        }
    }
    ERR_clear_error();
    return rv;
}

static int config_own_cert(nng_tls_engine_config *cfg, const char *cert, const char *key,
                           const char *pass)
{
    if (cert == NULL || key == NULL)
        return NNG_EINVAL;
    BIO *cb = BIO_new_mem_buf(cert, -1), *kb = BIO_new_mem_buf(key, -1);
    X509 *leaf = cb != NULL ? PEM_read_bio_X509(cb, NULL, NULL, NULL) : NULL;
    EVP_PKEY *pk = kb != NULL ? PEM_read_bio_PrivateKey(kb, NULL, NULL, (void *)pass) : NULL;
    int rv = leaf != NULL && pk != NULL && SSL_CTX_use_certificate(cfg->ctx, leaf) == 1 &&
                     SSL_CTX_use_PrivateKey(cfg->ctx, pk) == 1 &&
                     SSL_CTX_check_private_key(cfg->ctx) == 1
                 ? 0
                 : NNG_ECRYPTO;
    X509 *extra; /* the rest of the file: the chain to present */
    while (rv == 0 && (extra = PEM_read_bio_X509(cb, NULL, NULL, NULL)) != NULL)
        if (SSL_CTX_add0_chain_cert(cfg->ctx, extra) != 1) {
            X509_free(extra);
            rv = NNG_ECRYPTO;
        }
    X509_free(leaf);
    EVP_PKEY_free(pk);
    BIO_free(cb);
    BIO_free(kb);
    ERR_clear_error(); /* the chain loop ends on "no start line" */
    return rv;
}

static int config_version(nng_tls_engine_config *cfg, nng_tls_version lo, nng_tls_version hi)
{
    if (lo > hi || hi < NNG_TLS_1_2 || hi > NNG_TLS_1_3)
        return NNG_ENOTSUP;
    if (lo < NNG_TLS_1_2)
        lo = NNG_TLS_1_2; /* nothing older */
    /* nng's values are the protocol's: 0x0303 = TLS1_2_VERSION, as OpenSSL */
    if (SSL_CTX_set_min_proto_version(cfg->ctx, (int)lo) != 1 ||
        SSL_CTX_set_max_proto_version(cfg->ctx, (int)hi) != 1) {
        ERR_clear_error();
        return NNG_ENOTSUP;
    }
    return 0;
}

static nng_tls_engine_conn_ops conn_ops = {
    .size = sizeof(nng_tls_engine_conn),
    .init = conn_init,
    .fini = conn_fini,
    .close = conn_close,
    .handshake = conn_handshake,
    .recv = conn_recv,
    .send = conn_send,
    .verified = conn_verified,
};

static nng_tls_engine_config_ops config_ops = {
    .size = sizeof(nng_tls_engine_config),
    .init = config_init,
    .fini = config_fini,
    .server = config_server,
    .auth = config_auth,
    .ca_chain = config_ca_chain,
    .own_cert = config_own_cert,
    .version = config_version,
};

static nng_tls_engine engine = {
    .version = NNG_TLS_ENGINE_VERSION,
    .config_ops = &config_ops,
    .conn_ops = &conn_ops,
    .name = "openssl",
    .description = "OpenSSL libssl (hcp replication/tls_engine.c)",
    .fips_mode = false,
};

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int once_rv;

static void engine_register(void)
{
    /* nng's first initialisation installs its own engine: let it happen
     * now (any call that initialises nng will do), then replace it */
    (void)nng_tls_engine_name();
    const char *want = getenv("HCP_TLS_ENGINE");
    if (want != NULL && strcmp(want, "nng") == 0) {
        once_rv = HCP_OK; /* keep nng's own (mbedtls): for comparison and diagnosis */
        return;
    }
    bio_method = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "hcp-nng");
    if (bio_method == NULL || BIO_meth_set_write(bio_method, bio_write) != 1 ||
        BIO_meth_set_read(bio_method, bio_read) != 1 ||
        BIO_meth_set_ctrl(bio_method, bio_ctrl) != 1 ||
        BIO_meth_set_create(bio_method, bio_create) != 1) {
        once_rv = HCP_ENOMEM;
        return;
    }
    once_rv = nng_tls_engine_register(&engine) == 0 ? HCP_OK : HCP_ECRYPTO;
}

int repl_tls_engine_use(void)
{
    if (pthread_once(&once, engine_register) != 0)
        return HCP_EIO;
    return once_rv;
}

uint64_t repl_tls_failures(bool server, uint64_t *age_ms, char *why, size_t len)
{
    hcp_mutex_lock(&fails_mu);
    fail_rec f = fails[server ? 1 : 0];
    hcp_mutex_unlock(&fails_mu);
    if (age_ms != NULL)
        *age_ms = f.count > 0 ? (uint64_t)(nng_clock() - f.at) : 0;
    if (why != NULL && len > 0)
        snprintf(why, len, "%s", f.count > 0 ? f.why : "");
    return f.count;
}

const char *repl_tls_engine_version(void)
{
    return strcmp(nng_tls_engine_name(), engine.name) == 0 ? OpenSSL_version(OPENSSL_VERSION)
                                                           : nng_tls_engine_description();
}

int repl_tls_server_setup(const char *crl_file, int handshake_ms)
{
    size_t n = crl_file != NULL ? strlen(crl_file) : 0;
    if (n >= sizeof(server_limits.crl_file) || handshake_ms < 0)
        return HCP_EINVAL;
    memcpy(server_limits.crl_file, crl_file != NULL ? crl_file : "", n + 1);
    server_limits.handshake_ms = handshake_ms;
    return HCP_OK;
}
