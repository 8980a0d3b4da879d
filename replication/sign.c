/*
 * sign.c — a county's identity in the replication protocol
 * (docs/replication.md, "Proving the county"): ECDSA P-256 signatures over
 * SHA-256 of fixed byte strings, made with the key of the county's
 * certificate and checked against the province CA and its CRL (mbedtls 2.28).
 *
 * Threads: a repl_identity holds its own ctr_drbg and is used by one thread
 * at a time. A repl_verifier may be used by many threads at once: the CA and
 * CRL are read under a read lock, repl_verifier_reload swaps the CRL under
 * the write lock. A repl_peer is immutable after repl_peer_new.
 */
#include "repl.h"

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecp.h>
#include <mbedtls/entropy.h>
#include <mbedtls/oid.h>
#include <mbedtls/pk.h>
#include <mbedtls/sha256.h>
#include <mbedtls/x509_crl.h>
#include <mbedtls/x509_crt.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define CN_MAX 64 /* X.520 ub-common-name */

static const char auth_tag[] = "hcp-auth-v1";
static const char batch_tag[] = "hcp-batch-v1";

struct repl_identity {
    mbedtls_x509_crt crt;
    mbedtls_pk_context key;
    mbedtls_entropy_context entropy;
    mbedtls_ctr_drbg_context drbg;
    char cn[CN_MAX + 1];
};

struct repl_verifier {
    pthread_rwlock_t lock;
    mbedtls_x509_crt ca;
    mbedtls_x509_crl crl; /* meaningful when has_crl */
    bool has_crl;
    char *crl_file; /* NULL: no revocation list */
    struct stat crl_st;
};

struct repl_peer {
    mbedtls_x509_crt crt;
    char county[HCP_COUNTY_LEN + 1];
};

/* ---------------------------------------------------------------------- */
/* Digests                                                                 */
/* ---------------------------------------------------------------------- */

/* SHA-256 of the concatenation of n parts into out. */
static int digest(const void *const *parts, const size_t *lens, int n, uint8_t out[32])
{
    mbedtls_sha256_context c;
    mbedtls_sha256_init(&c);
    int rc = mbedtls_sha256_starts_ret(&c, 0);
    for (int i = 0; rc == 0 && i < n; i++)
        rc = mbedtls_sha256_update_ret(&c, parts[i], lens[i]);
    if (rc == 0)
        rc = mbedtls_sha256_finish_ret(&c, out);
    mbedtls_sha256_free(&c);
    return rc == 0 ? HCP_OK : HCP_ECRYPTO;
}

/* Six ASCII digits, NUL-terminated. */
static bool county_ok(const char *s)
{
    if (s == NULL || strnlen(s, HCP_COUNTY_LEN + 1) != HCP_COUNTY_LEN)
        return false;
    for (int i = 0; i < HCP_COUNTY_LEN; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

/* The auth digest: SHA-256("hcp-auth-v1" || nonce || county || node). */
static int digest_auth(const uint8_t *nonce, const char *county, const char *node, uint8_t out[32])
{
    size_t nlen;
    if (nonce == NULL || !county_ok(county) || node == NULL ||
        (nlen = strnlen(node, REPL_ID_MAX + 1)) == 0 || nlen > REPL_ID_MAX)
        return HCP_EINVAL;
    const void *parts[] = {auth_tag, nonce, county, node};
    size_t lens[] = {sizeof(auth_tag) - 1, REPL_NONCE_LEN, HCP_COUNTY_LEN, nlen};
    return digest(parts, lens, 4, out);
}

/* The batch digest: SHA-256("hcp-batch-v1" || county || be64(seq) || hash). */
static int digest_batch(const char *county, uint64_t seq, const uint8_t *hash, uint8_t out[32])
{
    if (!county_ok(county) || hash == NULL || seq == 0)
        return HCP_EINVAL;
    uint8_t be[8];
    for (int i = 0; i < 8; i++)
        be[i] = (uint8_t)(seq >> (56 - 8 * i));
    const void *parts[] = {batch_tag, county, be, hash};
    size_t lens[] = {sizeof(batch_tag) - 1, HCP_COUNTY_LEN, 8, HCP_HASH_LEN};
    return digest(parts, lens, 4, out);
}

/* ---------------------------------------------------------------------- */
/* Certificates                                                            */
/* ---------------------------------------------------------------------- */

/* Copy the single subject CN of crt into cn[CN_MAX + 1]; "" if it has none.
 * False when it has several, or one too long or holding a NUL. */
static bool subject_cn(const mbedtls_x509_crt *crt, char *cn)
{
    int seen = 0;
    cn[0] = '\0';
    for (const mbedtls_x509_name *n = &crt->subject; n != NULL; n = n->next) {
        if (n->oid.p == NULL || MBEDTLS_OID_CMP(MBEDTLS_OID_AT_CN, &n->oid) != 0)
            continue;
        if (++seen > 1 || n->val.len > CN_MAX || memchr(n->val.p, 0, n->val.len) != NULL)
            return false;
        memcpy(cn, n->val.p, n->val.len);
        cn[n->val.len] = '\0';
    }
    return true;
}

/* Whether pk is an EC key on P-256 (the only kind the protocol signs with). */
static bool pk_is_p256(const mbedtls_pk_context *pk)
{
    if (!mbedtls_pk_can_do(pk, MBEDTLS_PK_ECDSA))
        return false;
    const mbedtls_ecp_keypair *ec = mbedtls_pk_ec(*pk);
    return ec != NULL && ec->grp.id == MBEDTLS_ECP_DP_SECP256R1;
}

/* ---------------------------------------------------------------------- */
/* Identities                                                              */
/* ---------------------------------------------------------------------- */

/* Load cert_file and key_file (PEM paths, read now), check the key is the
 * certificate's and P-256, seed a DRBG; *out is owned by the caller
 * (repl_identity_free). */
int repl_identity_load(const char *cert_file, const char *key_file, repl_identity **out)
{
    static const char pers[] = "hcp-repl-identity";
    if (cert_file == NULL || key_file == NULL || out == NULL)
        return HCP_EINVAL;
    *out = NULL;
    repl_identity *id = calloc(1, sizeof(*id));
    if (id == NULL)
        return HCP_ENOMEM;
    mbedtls_x509_crt_init(&id->crt);
    mbedtls_pk_init(&id->key);
    mbedtls_entropy_init(&id->entropy);
    mbedtls_ctr_drbg_init(&id->drbg);
    int rc = HCP_EFORMAT;
    if (mbedtls_x509_crt_parse_file(&id->crt, cert_file) != 0 ||
        mbedtls_pk_parse_keyfile(&id->key, key_file, NULL) != 0 || !subject_cn(&id->crt, id->cn))
        goto fail;
    rc = HCP_ECRYPTO;
    if (!pk_is_p256(&id->key) || mbedtls_pk_check_pair(&id->crt.pk, &id->key) != 0)
        goto fail;
    if (mbedtls_ctr_drbg_seed(&id->drbg, mbedtls_entropy_func, &id->entropy,
                              (const unsigned char *)pers, sizeof(pers) - 1) != 0)
        goto fail;
    *out = id;
    return HCP_OK;
fail:
    repl_identity_free(id);
    return rc;
}

/* Free id and everything it owns; NULL is fine. */
void repl_identity_free(repl_identity *id)
{
    if (id == NULL)
        return;
    mbedtls_ctr_drbg_free(&id->drbg);
    mbedtls_entropy_free(&id->entropy);
    mbedtls_pk_free(&id->key);
    mbedtls_x509_crt_free(&id->crt);
    free(id);
}

/* The leaf certificate's DER, borrowed from id for its lifetime. */
const uint8_t *repl_identity_cert(const repl_identity *id, size_t *len)
{
    if (id == NULL || len == NULL)
        return NULL;
    *len = id->crt.raw.len;
    return id->crt.raw.p;
}

/* The certificate's subject CN ("" if none), borrowed from id. */
const char *repl_identity_cn(const repl_identity *id)
{
    return id == NULL ? NULL : id->cn;
}

/* Sign a 32-byte digest with id's key into sig (REPL_SIG_MAX bytes). */
static int sign_digest(repl_identity *id, const uint8_t dg[32], uint8_t *sig, size_t *sig_len)
{
    uint8_t tmp[MBEDTLS_PK_SIGNATURE_MAX_SIZE];
    size_t n = 0;
    if (mbedtls_pk_sign(&id->key, MBEDTLS_MD_SHA256, dg, 32, tmp, &n, mbedtls_ctr_drbg_random,
                        &id->drbg) != 0)
        return HCP_ECRYPTO;
    if (n == 0 || n > REPL_SIG_MAX)
        return HCP_ERANGE;
    memcpy(sig, tmp, n);
    *sig_len = n;
    return HCP_OK;
}

/* Sign the auth statement (repl.h); sig is the caller's, REPL_SIG_MAX. */
int repl_sign_auth(repl_identity *id, const uint8_t nonce[REPL_NONCE_LEN], const char *county,
                   const char *node, uint8_t *sig, size_t *sig_len)
{
    uint8_t dg[32];
    if (id == NULL || sig == NULL || sig_len == NULL)
        return HCP_EINVAL;
    int rc = digest_auth(nonce, county, node, dg);
    return rc != HCP_OK ? rc : sign_digest(id, dg, sig, sig_len);
}

/* Sign a batch checkpoint (repl.h); sig is the caller's, REPL_SIG_MAX. */
int repl_sign_batch(repl_identity *id, const char *county, uint64_t last_seq,
                    const uint8_t hash[HCP_HASH_LEN], uint8_t *sig, size_t *sig_len)
{
    uint8_t dg[32];
    if (id == NULL || sig == NULL || sig_len == NULL)
        return HCP_EINVAL;
    int rc = digest_batch(county, last_seq, hash, dg);
    return rc != HCP_OK ? rc : sign_digest(id, dg, sig, sig_len);
}

/* ---------------------------------------------------------------------- */
/* The verifier: CA and CRL                                                */
/* ---------------------------------------------------------------------- */

/* Whether two stats describe the same file contents as far as we can tell. */
static bool same_file(const struct stat *a, const struct stat *b)
{
    return a->st_ino == b->st_ino && a->st_dev == b->st_dev && a->st_size == b->st_size &&
           a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

/* Parse the CRL file into *crl (initialised here; freed by the caller on
 * success) and record its stat in *st. */
static int crl_read(const char *path, mbedtls_x509_crl *crl, struct stat *st)
{
    mbedtls_x509_crl_init(crl);
    if (stat(path, st) != 0)
        return HCP_EIO;
    if (mbedtls_x509_crl_parse_file(crl, path) != 0) {
        mbedtls_x509_crl_free(crl);
        return HCP_EFORMAT;
    }
    return HCP_OK;
}

/* Load the CA (PEM path) and, when crl_file is not NULL, its CRL; *out is
 * owned by the caller (repl_verifier_free). */
int repl_verifier_load(const char *ca_file, const char *crl_file, repl_verifier **out)
{
    if (ca_file == NULL || out == NULL)
        return HCP_EINVAL;
    *out = NULL;
    repl_verifier *v = calloc(1, sizeof(*v));
    if (v == NULL)
        return HCP_ENOMEM;
    mbedtls_x509_crt_init(&v->ca);
    if (pthread_rwlock_init(&v->lock, NULL) != 0) {
        free(v);
        return HCP_ENOMEM;
    }
    int rc = HCP_EFORMAT;
    if (mbedtls_x509_crt_parse_file(&v->ca, ca_file) != 0)
        goto fail;
    if (crl_file != NULL) {
        rc = HCP_ENOMEM;
        if ((v->crl_file = hcp_strndup(crl_file, strlen(crl_file))) == NULL)
            goto fail;
        if ((rc = crl_read(crl_file, &v->crl, &v->crl_st)) != HCP_OK)
            goto fail;
        v->has_crl = true;
    }
    *out = v;
    return HCP_OK;
fail:
    repl_verifier_free(v);
    return rc;
}

/* Re-read the CRL when its file changed (inode, size or mtime). On any
 * error the CRL loaded before stays in force. */
int repl_verifier_reload(repl_verifier *v)
{
    if (v == NULL)
        return HCP_EINVAL;
    if (v->crl_file == NULL)
        return HCP_OK;
    struct stat st;
    if (stat(v->crl_file, &st) != 0)
        return HCP_EIO;
    pthread_rwlock_rdlock(&v->lock);
    bool same = same_file(&st, &v->crl_st);
    pthread_rwlock_unlock(&v->lock);
    if (same)
        return HCP_OK;
    mbedtls_x509_crl crl;
    int rc = crl_read(v->crl_file, &crl, &st);
    if (rc != HCP_OK)
        return rc;
    pthread_rwlock_wrlock(&v->lock);
    mbedtls_x509_crl old = v->crl;
    v->crl = crl;
    v->crl_st = st;
    pthread_rwlock_unlock(&v->lock);
    mbedtls_x509_crl_free(&old);
    return HCP_OK;
}

/* Free v and everything it owns; NULL is fine. No verification may be
 * running on other threads. */
void repl_verifier_free(repl_verifier *v)
{
    if (v == NULL)
        return;
    if (v->has_crl)
        mbedtls_x509_crl_free(&v->crl);
    mbedtls_x509_crt_free(&v->ca);
    pthread_rwlock_destroy(&v->lock);
    free(v->crl_file);
    free(v);
}

/* ---------------------------------------------------------------------- */
/* Peers                                                                   */
/* ---------------------------------------------------------------------- */

/* The reason for verification flags: revoked, out of validity, or other. */
static const char *flags_reason(uint32_t flags)
{
    if (flags & MBEDTLS_X509_BADCERT_REVOKED)
        return "revoked";
    if (flags & (MBEDTLS_X509_BADCERT_EXPIRED | MBEDTLS_X509_BADCERT_FUTURE))
        return "expired";
    return "bad_cert";
}

/* Verify crt against v's CA and CRL under the read lock; NULL or a reason. */
static const char *peer_check_chain(repl_verifier *v, mbedtls_x509_crt *crt)
{
    uint32_t flags = 0;
    pthread_rwlock_rdlock(&v->lock);
    int rc =
        mbedtls_x509_crt_verify(crt, &v->ca, v->has_crl ? &v->crl : NULL, NULL, &flags, NULL, NULL);
    pthread_rwlock_unlock(&v->lock);
    if (rc == 0)
        return NULL;
    return flags != 0 ? flags_reason(flags) : "bad_cert";
}

/* Parse and verify one DER certificate (the caller's bytes, copied); *out
 * owned by the caller (repl_peer_free); *reason static on HCP_EAUTH. */
int repl_peer_new(repl_verifier *v, const uint8_t *der, size_t len, repl_peer **out,
                  const char **reason)
{
    if (reason != NULL)
        *reason = "bad_cert";
    if (v == NULL || der == NULL || len == 0 || len > REPL_CERT_MAX || out == NULL ||
        reason == NULL)
        return HCP_EINVAL;
    *out = NULL;
    repl_peer *p = calloc(1, sizeof(*p));
    if (p == NULL)
        return HCP_ENOMEM;
    mbedtls_x509_crt_init(&p->crt);
    char cn[CN_MAX + 1];
    if (mbedtls_x509_crt_parse_der(&p->crt, der, len) != 0 || p->crt.next != NULL ||
        !pk_is_p256(&p->crt.pk))
        goto fail;
    const char *why = peer_check_chain(v, &p->crt);
    if (why != NULL) {
        *reason = why;
        goto fail;
    }
    if (!subject_cn(&p->crt, cn) || !county_ok(cn)) {
        *reason = "not_a_county";
        goto fail;
    }
    memcpy(p->county, cn, HCP_COUNTY_LEN + 1);
    *out = p;
    return HCP_OK;
fail:
    repl_peer_free(p);
    return HCP_EAUTH;
}

/* Free p; NULL is fine. */
void repl_peer_free(repl_peer *p)
{
    if (p == NULL)
        return;
    mbedtls_x509_crt_free(&p->crt);
    free(p);
}

/* The county (subject CN) of p, borrowed from p. */
const char *repl_peer_county(const repl_peer *p)
{
    return p == NULL ? NULL : p->county;
}

/* The peer's certificate as DER, borrowed from p. */
const uint8_t *repl_peer_cert(const repl_peer *p, size_t *len)
{
    if (p == NULL || len == NULL)
        return NULL;
    *len = p->crt.raw.len;
    return p->crt.raw.p;
}

/* Whether any CRL in v issued by p's issuer lists p's serial (revocation
 * date past). False without a CRL. */
bool repl_peer_revoked(repl_verifier *v, const repl_peer *p)
{
    if (v == NULL || p == NULL)
        return false;
    bool revoked = false;
    pthread_rwlock_rdlock(&v->lock);
    for (const mbedtls_x509_crl *c = v->has_crl ? &v->crl : NULL; c != NULL; c = c->next) {
        if (c->version == 0 || c->issuer_raw.len != p->crt.issuer_raw.len ||
            memcmp(c->issuer_raw.p, p->crt.issuer_raw.p, c->issuer_raw.len) != 0)
            continue;
        if (mbedtls_x509_crt_is_revoked(&p->crt, c) != 0)
            revoked = true;
    }
    pthread_rwlock_unlock(&v->lock);
    return revoked;
}

/* Verify sig over the digest dg with p's key. */
static int verify_digest(const repl_peer *p, const uint8_t dg[32], const uint8_t *sig,
                         size_t sig_len)
{
    if (sig == NULL || sig_len == 0 || sig_len > REPL_SIG_MAX)
        return HCP_ECRYPTO;
    /* mbedtls_pk_verify takes a non-const context but does not change it. */
    mbedtls_pk_context *pk = (mbedtls_pk_context *)&p->crt.pk;
    return mbedtls_pk_verify(pk, MBEDTLS_MD_SHA256, dg, 32, sig, sig_len) == 0 ? HCP_OK
                                                                               : HCP_ECRYPTO;
}

/* Check an auth signature made by p's key; HCP_OK or HCP_ECRYPTO (also for
 * arguments out of their domain: nothing verified). */
int repl_peer_verify_auth(const repl_peer *p, const uint8_t nonce[REPL_NONCE_LEN],
                          const char *county, const char *node, const uint8_t *sig, size_t sig_len)
{
    uint8_t dg[32];
    if (p == NULL || digest_auth(nonce, county, node, dg) != HCP_OK)
        return HCP_ECRYPTO;
    return verify_digest(p, dg, sig, sig_len);
}

/* Check a batch signature made by p's key; HCP_OK or HCP_ECRYPTO. */
int repl_peer_verify_batch(const repl_peer *p, const char *county, uint64_t last_seq,
                           const uint8_t hash[HCP_HASH_LEN], const uint8_t *sig, size_t sig_len)
{
    uint8_t dg[32];
    if (p == NULL || digest_batch(county, last_seq, hash, dg) != HCP_OK)
        return HCP_ECRYPTO;
    return verify_digest(p, dg, sig, sig_len);
}
