/*
 * sign.c — a county's identity in the replication protocol
 * (docs/replication.md, "Proving the county"): ECDSA P-256 signatures over
 * SHA-256 of fixed byte strings, made with the key of the county's
 * certificate and checked against the province CA and its CRL (OpenSSL 3.0
 * libcrypto: about 50× faster than mbedtls 2.28 at ECDSA, and this runs for
 * every batch and every connection the gateway takes).
 *
 * Threads: a repl_identity is used by one thread at a time: it keeps one
 * signing context, set up once (OpenSSL's own DRBG gives the signatures'
 * randomness). A repl_verifier may be used by many threads at once: its
 * X509_STORE holds only the CA and never changes after repl_verifier_load;
 * the CRLs are a stack of our own, read under a read lock for the whole of
 * a verification, which repl_verifier_reload swaps under the write lock. A
 * repl_peer is immutable after repl_peer_new (each verification makes its
 * own EVP_PKEY_CTX).
 *
 * The refusal reasons are those mbedtls gave, for the same certificates,
 * with one deliberate difference: a CRL file that holds no CRL of the CA
 * (another CA's) now refuses every peer with "bad_cert", as the header
 * promises for a CRL the CA did not sign; mbedtls ignored such a CRL.
 *
 * Every OpenSSL failure leaves its reasons on the thread's error queue; we
 * clear it where we translate the failure into an enum hcp_err.
 */
#include "repl.h"
#include "be.h"
#include "division.h"
#include "lock.h"

#include <openssl/bio.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define CN_MAX 64 /* X.520 ub-common-name */

/* mbedtls' default verification profile asked for keys of at least 2048
 * bits RSA and SHA-2 signatures; OpenSSL's security level 2 (112 bits)
 * asks the same of every certificate in the chain. */
#define AUTH_LEVEL 2

static const char auth_tag[] = "hcp-auth-v1";
static const char batch_tag[] = "hcp-batch-v1";
static const char directive_tag[] = "hcp-directive-v1";

struct repl_identity {
    EVP_PKEY *key;
    EVP_PKEY_CTX *sign; /* key's, set up for ECDSA over a SHA-256 digest */
    uint8_t *der;       /* the certificate */
    size_t der_len;
    char cn[CN_MAX + 1];
};

struct repl_verifier {
    pthread_rwlock_t lock;
    X509_STORE *store;        /* the CA certificates only; immutable after load */
    STACK_OF(X509_CRL) * crl; /* NULL: no revocation list; swapped under lock */
    char *crl_file;           /* NULL: no revocation list */
    struct stat crl_st;
};

struct repl_peer {
    X509 *crt;
    uint8_t *der; /* the bytes the certificate was parsed from */
    size_t der_len;
    char county[HCP_COUNTY_LEN + 1];
};

/* ---------------------------------------------------------------------- */
/* Digests                                                                 */
/* ---------------------------------------------------------------------- */

/* The auth digest: SHA-256("hcp-auth-v1" || nonce || county || node). */
static int digest_auth(const uint8_t *nonce, const char *county, const char *node, uint8_t out[32])
{
    size_t nlen;
    if (nonce == NULL || !hcp_county_str_ok(county) || node == NULL ||
        (nlen = strnlen(node, REPL_ID_MAX + 1)) == 0 || nlen > REPL_ID_MAX)
        return HCP_EINVAL;
    const void *parts[] = {auth_tag, nonce, county, node};
    size_t lens[] = {sizeof(auth_tag) - 1, REPL_NONCE_LEN, HCP_COUNTY_LEN, nlen};
    return hcp_sha256(parts, lens, 4, out);
}

/* The batch digest: SHA-256("hcp-batch-v1" || county || be64(seq) || hash). */
static int digest_batch(const char *county, uint64_t seq, const uint8_t *hash, uint8_t out[32])
{
    if (!hcp_county_str_ok(county) || hash == NULL || seq == 0)
        return HCP_EINVAL;
    uint8_t be[8];
    hcp_be64_put(be, seq);
    const void *parts[] = {batch_tag, county, be, hash};
    size_t lens[] = {sizeof(batch_tag) - 1, HCP_COUNTY_LEN, 8, HCP_HASH_LEN};
    return hcp_sha256(parts, lens, 4, out);
}

/* The directive digest (docs/directives.md):
 * SHA-256("hcp-directive-v1" || be64(seq) || hash || rec). */
static int digest_directive(uint64_t seq, const uint8_t *hash, const uint8_t *rec, size_t rec_len,
                            uint8_t out[32])
{
    if (seq == 0 || hash == NULL || rec == NULL || rec_len == 0)
        return HCP_EINVAL;
    uint8_t be[8];
    hcp_be64_put(be, seq);
    const void *parts[] = {directive_tag, be, hash, rec};
    size_t lens[] = {sizeof(directive_tag) - 1, 8, HCP_HASH_LEN, rec_len};
    return hcp_sha256(parts, lens, 4, out);
}

/* ---------------------------------------------------------------------- */
/* Files: certificates, keys, CRLs                                         */
/* ---------------------------------------------------------------------- */

/* PEM password callback: an encrypted key is refused, never prompted for
 * (OpenSSL's default would read a password from the terminal). */
static int no_password(char *buf, int size, int rwflag, void *u)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    (void)u;
    return -1;
}

/* Whether the PEM reader stopped because no further object starts (the end
 * of the file), rather than on a damaged one. Clears the error queue. */
static bool pem_at_end(void)
{
    unsigned long e = ERR_peek_last_error();
    bool end = ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE;
    ERR_clear_error();
    return end;
}

/* Every certificate of the file at path, as mbedtls_x509_crt_parse_file
 * took them: all its PEM "CERTIFICATE" blocks (other blocks skipped), or
 * else one DER certificate. *out is a new stack the caller frees
 * (sk_X509_pop_free). HCP_EFORMAT for a file missing, damaged or without
 * a certificate; HCP_ENOMEM. */
static int certs_read(const char *path, STACK_OF(X509) * *out)
{
    *out = NULL;
    ERR_clear_error();
    BIO *b = BIO_new_file(path, "rb");
    STACK_OF(X509) *sk = sk_X509_new_null();
    X509 *x = NULL;
    int rc = b == NULL ? HCP_EFORMAT : HCP_ENOMEM;
    if (b == NULL || sk == NULL)
        goto done;
    while ((x = PEM_read_bio_X509(b, NULL, no_password, NULL)) != NULL)
        if (sk_X509_push(sk, x) == 0)
            goto done;
    rc = HCP_EFORMAT;
    if (!pem_at_end())
        goto done;
    if (sk_X509_num(sk) == 0) {
        if (BIO_reset(b) != 0 || (x = d2i_X509_bio(b, NULL)) == NULL)
            goto done;
        rc = HCP_ENOMEM;
        if (sk_X509_push(sk, x) == 0)
            goto done;
    }
    x = NULL;
    *out = sk;
    sk = NULL;
    rc = HCP_OK;
done:
    X509_free(x);
    sk_X509_pop_free(sk, X509_free);
    BIO_free(b);
    ERR_clear_error();
    return rc;
}

/* The private key in the file at path (PEM, else DER; never encrypted)
 * into *out, owned by the caller (EVP_PKEY_free). HCP_EFORMAT. */
static int key_read(const char *path, EVP_PKEY **out)
{
    ERR_clear_error();
    BIO *b = BIO_new_file(path, "rb");
    EVP_PKEY *k = NULL;
    if (b != NULL) {
        k = PEM_read_bio_PrivateKey(b, NULL, no_password, NULL);
        if (k == NULL && BIO_reset(b) == 0)
            k = d2i_PrivateKey_bio(b, NULL);
    }
    BIO_free(b);
    ERR_clear_error();
    *out = k;
    return k != NULL ? HCP_OK : HCP_EFORMAT;
}

/* Every CRL of the file at path (PEM "X509 CRL" blocks, else one DER CRL,
 * as mbedtls_x509_crl_parse_file took them) into a new stack *out (the
 * caller frees it with sk_X509_CRL_pop_free), and the file's stat in *st.
 * HCP_EIO when it cannot be stat'ed; HCP_EFORMAT when it cannot be read,
 * is damaged or holds no CRL; HCP_ENOMEM. */
static int crl_read(const char *path, STACK_OF(X509_CRL) * *out, struct stat *st)
{
    *out = NULL;
    if (stat(path, st) != 0)
        return HCP_EIO;
    ERR_clear_error();
    BIO *b = BIO_new_file(path, "rb");
    STACK_OF(X509_CRL) *sk = sk_X509_CRL_new_null();
    X509_CRL *c = NULL;
    int rc = b == NULL ? HCP_EFORMAT : HCP_ENOMEM;
    if (b == NULL || sk == NULL)
        goto done;
    while ((c = PEM_read_bio_X509_CRL(b, NULL, no_password, NULL)) != NULL)
        if (sk_X509_CRL_push(sk, c) == 0)
            goto done;
    rc = HCP_EFORMAT;
    if (!pem_at_end())
        goto done;
    if (sk_X509_CRL_num(sk) == 0) {
        if (BIO_reset(b) != 0 || (c = d2i_X509_CRL_bio(b, NULL)) == NULL)
            goto done;
        rc = HCP_ENOMEM;
        if (sk_X509_CRL_push(sk, c) == 0)
            goto done;
    }
    c = NULL;
    *out = sk;
    sk = NULL;
    rc = HCP_OK;
done:
    X509_CRL_free(c);
    sk_X509_CRL_pop_free(sk, X509_CRL_free);
    BIO_free(b);
    ERR_clear_error();
    return rc;
}

/* ---------------------------------------------------------------------- */
/* Certificates                                                            */
/* ---------------------------------------------------------------------- */

/* Copy the single subject CN of crt (its raw bytes, as encoded) into
 * cn[CN_MAX + 1]; "" if it has none. False when it has several, or one
 * too long or holding a NUL. */
static bool subject_cn(const X509 *crt, char *cn)
{
    const X509_NAME *name = X509_get_subject_name(crt);
    int seen = 0;
    cn[0] = '\0';
    for (int i = 0; name != NULL && i < X509_NAME_entry_count(name); i++) {
        const X509_NAME_ENTRY *e = X509_NAME_get_entry(name, i);
        if (e == NULL || OBJ_obj2nid(X509_NAME_ENTRY_get_object(e)) != NID_commonName)
            continue;
        const ASN1_STRING *s = X509_NAME_ENTRY_get_data(e);
        int len = s != NULL ? ASN1_STRING_length(s) : -1;
        const unsigned char *d = s != NULL ? ASN1_STRING_get0_data(s) : NULL;
        if (++seen > 1 || len < 0 || len > CN_MAX || (len > 0 && d == NULL) ||
            (len > 0 && memchr(d, 0, (size_t)len) != NULL))
            return false;
        if (len > 0)
            memcpy(cn, d, (size_t)len);
        cn[len] = '\0';
    }
    return true;
}

/* Whether pk is an EC key on P-256 (the only kind the protocol signs with). */
static bool pk_is_p256(const EVP_PKEY *pk)
{
    char name[64];
    size_t len = 0;
    if (pk == NULL || !EVP_PKEY_is_a(pk, "EC"))
        return false;
    if (EVP_PKEY_get_group_name(pk, name, sizeof(name), &len) != 1) {
        ERR_clear_error();
        return false;
    }
    int nid = OBJ_sn2nid(name);
    if (nid == NID_undef)
        nid = EC_curve_nist2nid(name);
    return nid == NID_X9_62_prime256v1;
}

/* Whether key's private half makes its public half (d·G = Q, as
 * mbedtls_pk_check_pair did) and that public half is crt's. */
static bool key_matches(X509 *crt, EVP_PKEY *key)
{
    EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL);
    bool ok = c != NULL && EVP_PKEY_pairwise_check(c) == 1 && X509_check_private_key(crt, key) == 1;
    EVP_PKEY_CTX_free(c);
    ERR_clear_error();
    return ok;
}

/* ---------------------------------------------------------------------- */
/* Identities                                                              */
/* ---------------------------------------------------------------------- */

/* Load cert_file and key_file (PEM or DER paths, read now; the first
 * certificate of the file is the identity's), check the key is the
 * certificate's and P-256; *out is owned by the caller
 * (repl_identity_free). */
int repl_identity_load(const char *cert_file, const char *key_file, repl_identity **out)
{
    if (cert_file == NULL || key_file == NULL || out == NULL)
        return HCP_EINVAL;
    *out = NULL;
    repl_identity *id = calloc(1, sizeof(*id));
    if (id == NULL)
        return HCP_ENOMEM;
    STACK_OF(X509) *certs = NULL;
    X509 *crt = NULL;
    int rc = certs_read(cert_file, &certs);
    if (rc != HCP_OK)
        goto fail;
    crt = sk_X509_value(certs, 0);
    if ((rc = key_read(key_file, &id->key)) != HCP_OK)
        goto fail;
    rc = HCP_EFORMAT;
    if (crt == NULL || !subject_cn(crt, id->cn))
        goto fail;
    rc = HCP_ECRYPTO;
    if (!pk_is_p256(id->key) || !key_matches(crt, id->key))
        goto fail;
    if ((id->sign = EVP_PKEY_CTX_new_from_pkey(NULL, id->key, NULL)) == NULL ||
        EVP_PKEY_sign_init(id->sign) != 1 ||
        EVP_PKEY_CTX_set_signature_md(id->sign, EVP_sha256()) != 1) {
        ERR_clear_error();
        goto fail;
    }
    int n = i2d_X509(crt, &id->der);
    if (n <= 0) {
        ERR_clear_error();
        rc = HCP_ENOMEM;
        goto fail;
    }
    id->der_len = (size_t)n;
    sk_X509_pop_free(certs, X509_free);
    *out = id;
    return HCP_OK;
fail:
    sk_X509_pop_free(certs, X509_free);
    repl_identity_free(id);
    return rc;
}

/* Free id and everything it owns; NULL is fine. */
void repl_identity_free(repl_identity *id)
{
    if (id == NULL)
        return;
    EVP_PKEY_CTX_free(id->sign);
    EVP_PKEY_free(id->key);
    OPENSSL_free(id->der);
    free(id);
}

/* The leaf certificate's DER, borrowed from id for its lifetime. */
const uint8_t *repl_identity_cert(const repl_identity *id, size_t *len)
{
    if (id == NULL || len == NULL)
        return NULL;
    *len = id->der_len;
    return id->der;
}

/* The certificate's subject CN ("" if none), borrowed from id. */
const char *repl_identity_cn(const repl_identity *id)
{
    return id == NULL ? NULL : id->cn;
}

/* Sign a 32-byte digest with id's key into sig (REPL_SIG_MAX bytes): a DER
 * ECDSA signature, as mbedtls_pk_sign made. Uses id's signing context,
 * which stays set up from one signature to the next. */
static int sign_digest(repl_identity *id, const uint8_t dg[32], uint8_t *sig, size_t *sig_len)
{
    size_t n = REPL_SIG_MAX;
    if (EVP_PKEY_sign(id->sign, sig, &n, dg, 32) != 1) {
        ERR_clear_error();
        return HCP_ECRYPTO;
    }
    if (n == 0 || n > REPL_SIG_MAX)
        return HCP_ERANGE;
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
/* Sign a province log entry with the gateway's key (repl.h). */
int repl_sign_directive(repl_identity *id, uint64_t seq, const uint8_t hash[HCP_HASH_LEN],
                        const uint8_t *rec, size_t rec_len, uint8_t *sig, size_t *sig_len)
{
    uint8_t dg[32];
    int rc = id == NULL ? HCP_EINVAL : digest_directive(seq, hash, rec, rec_len, dg);
    return rc == HCP_OK ? sign_digest(id, dg, sig, sig_len) : rc;
}

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

/* Load the CA (PEM path: every certificate in it is trusted, as with
 * mbedtls) and, when crl_file is not NULL, its CRL; *out is owned by the
 * caller (repl_verifier_free). */
int repl_verifier_load(const char *ca_file, const char *crl_file, repl_verifier **out)
{
    if (ca_file == NULL || out == NULL)
        return HCP_EINVAL;
    *out = NULL;
    repl_verifier *v = calloc(1, sizeof(*v));
    if (v == NULL)
        return HCP_ENOMEM;
    if (pthread_rwlock_init(&v->lock, NULL) != 0) {
        free(v);
        return HCP_ENOMEM;
    }
    STACK_OF(X509) *cas = NULL;
    int rc = HCP_ENOMEM;
    if ((v->store = X509_STORE_new()) == NULL)
        goto fail;
    if ((rc = certs_read(ca_file, &cas)) != HCP_OK)
        goto fail;
    rc = HCP_ENOMEM;
    for (int i = 0; i < sk_X509_num(cas); i++)
        if (X509_STORE_add_cert(v->store, sk_X509_value(cas, i)) != 1)
            goto fail;
    if (crl_file != NULL) {
        if ((v->crl_file = hcp_strndup(crl_file, strlen(crl_file))) == NULL)
            goto fail;
        if ((rc = crl_read(crl_file, &v->crl, &v->crl_st)) != HCP_OK)
            goto fail;
    }
    sk_X509_pop_free(cas, X509_free);
    *out = v;
    return HCP_OK;
fail:
    ERR_clear_error();
    sk_X509_pop_free(cas, X509_free);
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
    hcp_rwlock_rdlock(&v->lock);
    bool same = same_file(&st, &v->crl_st);
    hcp_rwlock_unlock(&v->lock);
    if (same)
        return HCP_OK;
    STACK_OF(X509_CRL) *crl = NULL;
    int rc = crl_read(v->crl_file, &crl, &st);
    if (rc != HCP_OK)
        return rc;
    hcp_rwlock_wrlock(&v->lock);
    STACK_OF(X509_CRL) *old = v->crl;
    v->crl = crl;
    v->crl_st = st;
    hcp_rwlock_unlock(&v->lock);
    sk_X509_CRL_pop_free(old, X509_CRL_free);
    return HCP_OK;
}

/* Free v and everything it owns; NULL is fine. No verification may be
 * running on other threads. */
void repl_verifier_free(repl_verifier *v)
{
    if (v == NULL)
        return;
    sk_X509_CRL_pop_free(v->crl, X509_CRL_free);
    X509_STORE_free(v->store);
    hcp_rwlock_destroy(&v->lock);
    free(v->crl_file);
    free(v);
}

/* ---------------------------------------------------------------------- */
/* Peers                                                                   */
/* ---------------------------------------------------------------------- */

/* What X509_verify_cert reported, gathered as mbedtls' flags were. */
enum {
    SAW_OTHER = 1u,
    SAW_EXPIRED = 2u,
    SAW_REVOKED = 4u,
    SAW_CRL_UNTRUSTED = 8u, /* a CRL the CA did not sign revokes nothing */
};

/* X509_verify_cert's callback: note each problem and let the check go on,
 * so every problem is seen (as mbedtls_x509_crt_verify collected all its
 * flags) and the telling reason can be given. The verdict is taken from
 * these notes and the final error together (peer_check_chain), never from
 * the return value alone. The notes are the ctx's app data. */
static int verify_note(int ok, X509_STORE_CTX *ctx)
{
    unsigned *saw = X509_STORE_CTX_get_app_data(ctx);
    if (ok)
        return 1;
    if (saw == NULL)
        return 0;
    switch (X509_STORE_CTX_get_error(ctx)) {
    case X509_V_ERR_CERT_REVOKED:
        *saw |= SAW_REVOKED;
        break;
    case X509_V_ERR_CERT_HAS_EXPIRED:
    case X509_V_ERR_CERT_NOT_YET_VALID:
        *saw |= SAW_EXPIRED;
        break;
    case X509_V_ERR_UNABLE_TO_GET_CRL_ISSUER:
    case X509_V_ERR_CRL_SIGNATURE_FAILURE:
    case X509_V_ERR_UNABLE_TO_DECRYPT_CRL_SIGNATURE:
    case X509_V_ERR_KEYUSAGE_NO_CRL_SIGN:
        *saw |= SAW_CRL_UNTRUSTED | SAW_OTHER;
        break;
    default:
        *saw |= SAW_OTHER;
        break;
    }
    return 1;
}

/* Verify crt against v's CA and (when loaded) its CRL, under the read lock
 * for the CRL's sake. *why: NULL when it verified, else the reason (static):
 * "revoked" before "expired" (the certificate or one above it out of its
 * validity) before "bad_cert" (anything else, an expired or untrusted CRL
 * included). HCP_OK, or HCP_ENOMEM when no check could be made. */
static int peer_check_chain(repl_verifier *v, X509 *crt, const char **why)
{
    *why = "bad_cert";
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    if (ctx == NULL) {
        ERR_clear_error();
        return HCP_ENOMEM;
    }
    unsigned saw = 0;
    int ok = -1, err = X509_V_OK;
    hcp_rwlock_rdlock(&v->lock);
    if (X509_STORE_CTX_init(ctx, v->store, crt, NULL) != 1 ||
        X509_STORE_CTX_set_app_data(ctx, &saw) != 1) {
        hcp_rwlock_unlock(&v->lock);
        X509_STORE_CTX_free(ctx);
        ERR_clear_error();
        return HCP_ENOMEM;
    }
    X509_STORE_CTX_set_verify_cb(ctx, verify_note);
    X509_VERIFY_PARAM *pm = X509_STORE_CTX_get0_param(ctx);
    /* Every certificate of the CA file is a trust anchor, as mbedtls (and
     * so nng's TLS) takes them; the CRL, when there is one, must cover the
     * leaf. */
    unsigned long flags = X509_V_FLAG_PARTIAL_CHAIN;
    if (v->crl != NULL) {
        flags |= X509_V_FLAG_CRL_CHECK;
        X509_STORE_CTX_set0_crls(ctx, v->crl);
    }
    if (X509_VERIFY_PARAM_set_flags(pm, flags) == 1) {
        X509_VERIFY_PARAM_set_auth_level(pm, AUTH_LEVEL);
        ok = X509_verify_cert(ctx);
        err = X509_STORE_CTX_get_error(ctx);
    }
    hcp_rwlock_unlock(&v->lock);
    X509_STORE_CTX_free(ctx);
    ERR_clear_error();
    if (ok == 1 && saw == 0 && err == X509_V_OK)
        *why = NULL;
    else if ((saw & SAW_REVOKED) && !(saw & SAW_CRL_UNTRUSTED))
        *why = "revoked";
    else if (saw & SAW_EXPIRED)
        *why = "expired";
    return HCP_OK;
}

/* What both kinds of peer share: decode the DER certificate (bytes after
 * it are ignored, as mbedtls did), require a P-256 key and a chain to the CA (and the
 * CRL) of v, keep a copy of the DER. *out on HCP_OK; HCP_EAUTH with
 * *reason set (bad_cert, or the chain's why), HCP_ENOMEM, or the chain
 * check's error. The caller checks the identity. */
static int peer_load(repl_verifier *v, const uint8_t *der, size_t len, repl_peer **out,
                     const char **reason)
{
    repl_peer *p = calloc(1, sizeof(*p));
    if (p == NULL)
        return HCP_ENOMEM;
    int rc = HCP_EAUTH;
    const unsigned char *q = der;
    if ((p->crt = d2i_X509(NULL, &q, (long)len)) == NULL || q <= der || q > der + len ||
        !pk_is_p256(X509_get0_pubkey(p->crt))) {
        ERR_clear_error();
        goto fail;
    }
    const char *why = NULL;
    if ((rc = peer_check_chain(v, p->crt, &why)) != HCP_OK)
        goto fail;
    rc = HCP_EAUTH;
    if (why != NULL) {
        *reason = why;
        goto fail;
    }
    p->der_len = (size_t)(q - der);
    rc = HCP_ENOMEM;
    if ((p->der = malloc(p->der_len)) == NULL)
        goto fail;
    memcpy(p->der, der, p->der_len);
    *out = p;
    return HCP_OK;
fail:
    repl_peer_free(p);
    return rc;
}

/* Parse and verify one county's DER certificate (the caller's bytes,
 * copied); *out owned by the caller (repl_peer_free); *reason static on
 * HCP_EAUTH. */
int repl_peer_new(repl_verifier *v, const uint8_t *der, size_t len, repl_peer **out,
                  const char **reason)
{
    if (reason != NULL)
        *reason = "bad_cert";
    if (v == NULL || der == NULL || len == 0 || len > REPL_CERT_MAX || out == NULL ||
        reason == NULL)
        return HCP_EINVAL;
    *out = NULL;
    repl_peer *p;
    int rc = peer_load(v, der, len, &p, reason);
    if (rc != HCP_OK)
        return rc;
    char cn[CN_MAX + 1];
    if (!subject_cn(p->crt, cn) || !hcp_county_str_ok(cn)) {
        *reason = "not_a_county";
        repl_peer_free(p);
        return HCP_EAUTH;
    }
    memcpy(p->county, cn, HCP_COUNTY_LEN + 1);
    *out = p;
    return HCP_OK;
}

/* Free p; NULL is fine. */
void repl_peer_free(repl_peer *p)
{
    if (p == NULL)
        return;
    X509_free(p->crt);
    free(p->der);
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
    *len = p->der_len;
    return p->der;
}

/* Whether any CRL in v issued by p's issuer lists p's serial. False
 * without a CRL. */
bool repl_peer_revoked(repl_verifier *v, const repl_peer *p)
{
    if (v == NULL || p == NULL)
        return false;
    bool revoked = false;
    const X509_NAME *issuer = X509_get_issuer_name(p->crt);
    hcp_rwlock_rdlock(&v->lock);
    for (int i = 0; v->crl != NULL && i < sk_X509_CRL_num(v->crl); i++) {
        X509_CRL *c = sk_X509_CRL_value(v->crl, i);
        X509_REVOKED *r = NULL;
        if (X509_NAME_cmp(X509_CRL_get_issuer(c), issuer) != 0)
            continue;
        /* 1: listed; 2: listed as removeFromCRL (a delta CRL's "no more"). */
        if (X509_CRL_get0_by_cert(c, &r, p->crt) == 1)
            revoked = true;
    }
    hcp_rwlock_unlock(&v->lock);
    return revoked;
}

/* Verify sig (DER ECDSA) over the digest dg with p's key. The peer is
 * shared between threads: each call has its own EVP_PKEY_CTX. */
static int verify_digest(const repl_peer *p, const uint8_t dg[32], const uint8_t *sig,
                         size_t sig_len)
{
    if (sig == NULL || sig_len == 0 || sig_len > REPL_SIG_MAX)
        return HCP_ECRYPTO;
    EVP_PKEY *pk = X509_get0_pubkey(p->crt);
    EVP_PKEY_CTX *c = pk != NULL ? EVP_PKEY_CTX_new_from_pkey(NULL, pk, NULL) : NULL;
    bool ok = c != NULL && EVP_PKEY_verify_init(c) == 1 &&
              EVP_PKEY_CTX_set_signature_md(c, EVP_sha256()) == 1 &&
              EVP_PKEY_verify(c, sig, sig_len, dg, 32) == 1;
    EVP_PKEY_CTX_free(c);
    if (!ok)
        ERR_clear_error();
    return ok ? HCP_OK : HCP_ECRYPTO;
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

/* Parse and verify the gateway's certificate for a node (repl.h): the
 * chain as for a county, then the name the node dialled instead of a
 * county code. */
int repl_gateway_new(repl_verifier *v, const uint8_t *der, size_t len, const char *name,
                     repl_peer **out, const char **reason)
{
    if (reason != NULL)
        *reason = "bad_cert";
    if (v == NULL || der == NULL || len == 0 || len > REPL_CERT_MAX || name == NULL ||
        name[0] == '\0' || out == NULL || reason == NULL)
        return HCP_EINVAL;
    *out = NULL;
    repl_peer *p;
    int rc = peer_load(v, der, len, &p, reason);
    if (rc != HCP_OK)
        return rc;
    /* subjectAltName DNS entries, else the CN (as the TLS client checks it) */
    if (X509_check_host(p->crt, name, strlen(name), 0, NULL) != 1) {
        ERR_clear_error();
        *reason = "wrong_name";
        repl_peer_free(p);
        return HCP_EAUTH;
    }
    *out = p;
    return HCP_OK;
}

/* Check a province log entry's signature made by p's key. */
int repl_peer_verify_directive(const repl_peer *p, uint64_t seq, const uint8_t hash[HCP_HASH_LEN],
                               const uint8_t *rec, size_t rec_len, const uint8_t *sig,
                               size_t sig_len)
{
    uint8_t dg[32];
    if (p == NULL || digest_directive(seq, hash, rec, rec_len, dg) != HCP_OK)
        return HCP_ECRYPTO;
    return verify_digest(p, dg, sig, sig_len);
}
