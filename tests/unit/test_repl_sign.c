/*
 * test_repl_sign.c — county identities and signatures
 * (replication/sign.c). The test makes its own PKI with mbedtls' x509write
 * in a temporary directory: a province CA, an unrelated CA, county
 * certificates (CN=630102, CN=630103), one with CN "gateway", an expired
 * one, and one from the unrelated CA. The CRLs are made by `openssl ca
 * -gencrl` from an index file (mbedtls 2.28 cannot write CRLs).
 *
 * Covered: identity load (mismatched key, missing files refused); auth and
 * batch signatures verify, and fail with HCP_ECRYPTO for a wrong nonce,
 * county, node, seq, hash, signer or a damaged signature; peer refusals
 * "bad_cert" (other CA, garbage), "expired", "not_a_county", "revoked";
 * repl_verifier_reload picking up a new CRL and repl_peer_revoked; several
 * threads verifying while the CRL is reloaded.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecp.h>
#include <mbedtls/entropy.h>
#include <mbedtls/pk.h>
#include <mbedtls/x509_crt.h>
#include <pthread.h>

#include "repl.h"

#define PEM_MAX 4096

static char dir[64];
static mbedtls_entropy_context entropy;
static mbedtls_ctr_drbg_context drbg;

/* dir/name into out[256]. */
static void path(char *out, const char *name)
{
    int n = snprintf(out, 256, "%s/%s", dir, name);
    assert_true(n > 0 && n < 256);
}

/* Write a NUL-terminated string to dir/name. */
static void write_file(const char *name, const char *text)
{
    char p[256];
    path(p, name);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
}

/* A fresh P-256 key written to dir/name; pk is initialised here. */
static void make_key(mbedtls_pk_context *pk, const char *name)
{
    unsigned char pem[PEM_MAX];
    mbedtls_pk_init(pk);
    assert_int_equal(mbedtls_pk_setup(pk, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY)), 0);
    assert_int_equal(mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(*pk),
                                         mbedtls_ctr_drbg_random, &drbg),
                     0);
    assert_int_equal(mbedtls_pk_write_key_pem(pk, pem, sizeof(pem)), 0);
    write_file(name, (const char *)pem);
}

/* What one certificate says. */
struct certspec {
    const char *subject, *issuer;
    mbedtls_pk_context *key, *issuer_key;
    int serial;
    const char *from, *to;
    bool ca;
};

/* Write the certificate s describes to dir/name as PEM. */
static void make_cert(const struct certspec *s, const char *name)
{
    mbedtls_x509write_cert w;
    mbedtls_mpi serial;
    unsigned char pem[PEM_MAX];
    mbedtls_x509write_crt_init(&w);
    mbedtls_mpi_init(&serial);
    assert_int_equal(mbedtls_mpi_lset(&serial, s->serial), 0);
    mbedtls_x509write_crt_set_version(&w, MBEDTLS_X509_CRT_VERSION_3);
    mbedtls_x509write_crt_set_md_alg(&w, MBEDTLS_MD_SHA256);
    mbedtls_x509write_crt_set_subject_key(&w, s->key);
    mbedtls_x509write_crt_set_issuer_key(&w, s->issuer_key);
    assert_int_equal(mbedtls_x509write_crt_set_serial(&w, &serial), 0);
    assert_int_equal(mbedtls_x509write_crt_set_validity(&w, s->from, s->to), 0);
    assert_int_equal(mbedtls_x509write_crt_set_subject_name(&w, s->subject), 0);
    assert_int_equal(mbedtls_x509write_crt_set_issuer_name(&w, s->issuer), 0);
    assert_int_equal(mbedtls_x509write_crt_set_basic_constraints(&w, s->ca ? 1 : 0, -1), 0);
    if (s->ca)
        assert_int_equal(mbedtls_x509write_crt_set_key_usage(&w, MBEDTLS_X509_KU_KEY_CERT_SIGN |
                                                                     MBEDTLS_X509_KU_CRL_SIGN),
                         0);
    assert_int_equal(
        mbedtls_x509write_crt_pem(&w, pem, sizeof(pem), mbedtls_ctr_drbg_random, &drbg), 0);
    write_file(name, (const char *)pem);
    mbedtls_mpi_free(&serial);
    mbedtls_x509write_crt_free(&w);
}

#define CA1   "CN=hcp test province CA,O=hcp"
#define CA2   "CN=someone else CA,O=other"
#define FROM  "20240101000000"
#define UNTIL "20491231235959"

/* The whole test PKI in a fresh temporary directory. */
static int pki_setup(void **state)
{
    (void)state;
    static const char pers[] = "test_repl_sign";
    strcpy(dir, "/tmp/hcp-repl-sign-XXXXXX");
    assert_non_null(mkdtemp(dir));
    mbedtls_entropy_init(&entropy);
    mbedtls_ctr_drbg_init(&drbg);
    assert_int_equal(mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func, &entropy,
                                           (const unsigned char *)pers, sizeof(pers) - 1),
                     0);
    mbedtls_pk_context ca, ca2, k102, k103, kgw, kexp, koth;
    make_key(&ca, "ca.key");
    make_key(&ca2, "ca2.key");
    make_key(&k102, "c102.key");
    make_key(&k103, "c103.key");
    make_key(&kgw, "gw.key");
    make_key(&kexp, "exp.key");
    make_key(&koth, "other.key");
    const struct certspec specs[] = {
        {CA1, CA1, &ca, &ca, 1, FROM, UNTIL, true},
        {CA2, CA2, &ca2, &ca2, 1, FROM, UNTIL, true},
        {"CN=630102,O=hcp", CA1, &k102, &ca, 2, FROM, UNTIL, false},
        {"CN=630103,O=hcp", CA1, &k103, &ca, 3, FROM, UNTIL, false},
        {"CN=gateway,O=hcp", CA1, &kgw, &ca, 4, FROM, UNTIL, false},
        {"CN=630104,O=hcp", CA1, &kexp, &ca, 5, "20200101000000", "20210101000000", false},
        {"CN=630102,O=other", CA2, &koth, &ca2, 2, FROM, UNTIL, false},
    };
    const char *names[] = {"ca.pem", "ca2.pem", "c102.pem", "c103.pem",
                           "gw.pem", "exp.pem", "other.pem"};
    for (size_t i = 0; i < sizeof(specs) / sizeof(specs[0]); i++)
        make_cert(&specs[i], names[i]);
    mbedtls_pk_free(&ca);
    mbedtls_pk_free(&ca2);
    mbedtls_pk_free(&k102);
    mbedtls_pk_free(&k103);
    mbedtls_pk_free(&kgw);
    mbedtls_pk_free(&kexp);
    mbedtls_pk_free(&koth);
    return 0;
}

/* Remove the temporary directory and the DRBG. */
static int pki_teardown(void **state)
{
    (void)state;
    char cmd[320];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    int rc = system(cmd);
    mbedtls_ctr_drbg_free(&drbg);
    mbedtls_entropy_free(&entropy);
    return rc == 0 ? 0 : -1;
}

/* Load the identity dir/cert + dir/key; asserts the result code. */
static repl_identity *identity(const char *cert, const char *key, int want)
{
    char c[256], k[256];
    path(c, cert);
    path(k, key);
    repl_identity *id = NULL;
    assert_int_equal(repl_identity_load(c, k, &id), want);
    return id;
}

/* A verifier on dir/ca.pem and, when crl is not NULL, dir/crl. */
static repl_verifier *verifier(const char *crl)
{
    char c[256], r[256];
    path(c, "ca.pem");
    if (crl != NULL)
        path(r, crl);
    repl_verifier *v = NULL;
    assert_int_equal(repl_verifier_load(c, crl != NULL ? r : NULL, &v), HCP_OK);
    return v;
}

/* Parse dir/name (PEM) into DER and ask repl_peer_new about it. */
static int peer_from_file(repl_verifier *v, const char *name, repl_peer **p, const char **why)
{
    char f[256];
    path(f, name);
    mbedtls_x509_crt crt;
    mbedtls_x509_crt_init(&crt);
    assert_int_equal(mbedtls_x509_crt_parse_file(&crt, f), 0);
    int rc = repl_peer_new(v, crt.raw.p, crt.raw.len, p, why);
    mbedtls_x509_crt_free(&crt);
    return rc;
}

static void test_identity_load(void **state)
{
    (void)state;
    repl_identity *id = identity("c102.pem", "c102.key", HCP_OK);
    assert_string_equal(repl_identity_cn(id), "630102");
    size_t len = 0;
    const uint8_t *der = repl_identity_cert(id, &len);
    assert_non_null(der);
    assert_true(len > 100 && len <= REPL_CERT_MAX);
    assert_int_equal(der[0], 0x30);
    repl_identity_free(id);

    /* The key of another certificate is refused. */
    assert_null(identity("c102.pem", "c103.key", HCP_ECRYPTO));
    /* Missing files, a key where the certificate belongs. */
    assert_null(identity("c102.pem", "nope.key", HCP_EFORMAT));
    assert_null(identity("nope.pem", "c102.key", HCP_EFORMAT));
    assert_null(identity("c102.key", "c102.key", HCP_EFORMAT));
    repl_identity *out = NULL;
    assert_int_equal(repl_identity_load(NULL, "x", &out), HCP_EINVAL);
    assert_int_equal(repl_identity_load("x", "x", NULL), HCP_EINVAL);
    repl_identity_free(NULL);
    assert_null(repl_identity_cn(NULL));
}

static void test_auth(void **state)
{
    (void)state;
    repl_identity *id = identity("c102.pem", "c102.key", HCP_OK);
    repl_verifier *v = verifier(NULL);
    size_t dlen;
    const uint8_t *der = repl_identity_cert(id, &dlen);
    repl_peer *p = NULL;
    const char *why = NULL;
    assert_int_equal(repl_peer_new(v, der, dlen, &p, &why), HCP_OK);
    assert_string_equal(repl_peer_county(p), "630102");
    assert_false(repl_peer_revoked(v, p));

    uint8_t nonce[REPL_NONCE_LEN], sig[REPL_SIG_MAX];
    size_t sl = 0;
    memset(nonce, 0xa5, sizeof(nonce));
    assert_int_equal(repl_sign_auth(id, nonce, "630102", "node-1", sig, &sl), HCP_OK);
    assert_true(sl > 8 && sl <= 72);
    assert_int_equal(repl_peer_verify_auth(p, nonce, "630102", "node-1", sig, sl), HCP_OK);

    uint8_t other[REPL_NONCE_LEN];
    memcpy(other, nonce, sizeof(other));
    other[31] ^= 1;
    assert_int_equal(repl_peer_verify_auth(p, other, "630102", "node-1", sig, sl), HCP_ECRYPTO);
    assert_int_equal(repl_peer_verify_auth(p, nonce, "630103", "node-1", sig, sl), HCP_ECRYPTO);
    assert_int_equal(repl_peer_verify_auth(p, nonce, "630102", "node-2", sig, sl), HCP_ECRYPTO);
    assert_int_equal(repl_peer_verify_auth(p, nonce, "630102", "node-1", sig, sl - 1), HCP_ECRYPTO);
    sig[sl / 2] ^= 0x10;
    assert_int_equal(repl_peer_verify_auth(p, nonce, "630102", "node-1", sig, sl), HCP_ECRYPTO);
    assert_int_equal(repl_peer_verify_auth(p, nonce, "630102", "node-1", NULL, 0), HCP_ECRYPTO);
    assert_int_equal(repl_peer_verify_auth(p, nonce, "6301", "node-1", sig, sl), HCP_ECRYPTO);

    /* Signing again (deterministic ECDSA in Debian's build, or random k)
     * gives a signature that verifies too. */
    uint8_t s1[REPL_SIG_MAX], s2[REPL_SIG_MAX];
    size_t l1, l2;
    assert_int_equal(repl_sign_auth(id, nonce, "630102", "n", s1, &l1), HCP_OK);
    assert_int_equal(repl_sign_auth(id, nonce, "630102", "n", s2, &l2), HCP_OK);
    assert_int_equal(repl_peer_verify_auth(p, nonce, "630102", "n", s1, l1), HCP_OK);
    assert_int_equal(repl_peer_verify_auth(p, nonce, "630102", "n", s2, l2), HCP_OK);

    /* Argument checks. */
    assert_int_equal(repl_sign_auth(id, nonce, "63010x", "n", s1, &l1), HCP_EINVAL);
    assert_int_equal(repl_sign_auth(id, nonce, "630102", "", s1, &l1), HCP_EINVAL);
    assert_int_equal(repl_sign_auth(NULL, nonce, "630102", "n", s1, &l1), HCP_EINVAL);
    assert_int_equal(repl_peer_new(v, der, 0, &p, &why), HCP_EINVAL);
    repl_peer_free(p);
    repl_verifier_free(v);
    repl_identity_free(id);
}

static void test_batch(void **state)
{
    (void)state;
    repl_identity *id = identity("c102.pem", "c102.key", HCP_OK);
    repl_identity *id3 = identity("c103.pem", "c103.key", HCP_OK);
    repl_verifier *v = verifier(NULL);
    repl_peer *p = NULL;
    const char *why;
    assert_int_equal(peer_from_file(v, "c102.pem", &p, &why), HCP_OK);

    uint8_t hash[HCP_HASH_LEN], sig[REPL_SIG_MAX];
    size_t sl;
    for (int i = 0; i < HCP_HASH_LEN; i++)
        hash[i] = (uint8_t)i;
    assert_int_equal(repl_sign_batch(id, "630102", 4096, hash, sig, &sl), HCP_OK);
    assert_int_equal(repl_peer_verify_batch(p, "630102", 4096, hash, sig, sl), HCP_OK);
    assert_int_equal(repl_peer_verify_batch(p, "630102", 4095, hash, sig, sl), HCP_ECRYPTO);
    assert_int_equal(repl_peer_verify_batch(p, "630103", 4096, hash, sig, sl), HCP_ECRYPTO);
    hash[0] ^= 1;
    assert_int_equal(repl_peer_verify_batch(p, "630102", 4096, hash, sig, sl), HCP_ECRYPTO);
    hash[0] ^= 1;
    /* Signed by another county's key. */
    assert_int_equal(repl_sign_batch(id3, "630102", 4096, hash, sig, &sl), HCP_OK);
    assert_int_equal(repl_peer_verify_batch(p, "630102", 4096, hash, sig, sl), HCP_ECRYPTO);
    /* An auth signature is not a batch signature. */
    uint8_t nonce[REPL_NONCE_LEN] = {0};
    assert_int_equal(repl_sign_auth(id, nonce, "630102", "n", sig, &sl), HCP_OK);
    assert_int_equal(repl_peer_verify_batch(p, "630102", 1, hash, sig, sl), HCP_ECRYPTO);
    assert_int_equal(repl_sign_batch(id, "630102", 0, hash, sig, &sl), HCP_EINVAL);
    repl_peer_free(p);
    repl_verifier_free(v);
    repl_identity_free(id3);
    repl_identity_free(id);
}

static void test_peer_refusals(void **state)
{
    (void)state;
    repl_verifier *v = verifier(NULL);
    repl_peer *p = NULL;
    const char *why = NULL;
    assert_int_equal(peer_from_file(v, "other.pem", &p, &why), HCP_EAUTH);
    assert_null(p);
    assert_string_equal(why, "bad_cert");
    assert_int_equal(peer_from_file(v, "exp.pem", &p, &why), HCP_EAUTH);
    assert_string_equal(why, "expired");
    assert_int_equal(peer_from_file(v, "gw.pem", &p, &why), HCP_EAUTH);
    assert_string_equal(why, "not_a_county");
    /* The CA itself is no county either. */
    assert_int_equal(peer_from_file(v, "ca.pem", &p, &why), HCP_EAUTH);
    assert_string_equal(why, "not_a_county");
    static const uint8_t junk[] = {0x30, 0x03, 0x02, 0x01, 0x01};
    assert_int_equal(repl_peer_new(v, junk, sizeof(junk), &p, &why), HCP_EAUTH);
    assert_string_equal(why, "bad_cert");
    assert_int_equal(peer_from_file(v, "c103.pem", &p, &why), HCP_OK);
    assert_string_equal(repl_peer_county(p), "630103");
    repl_peer_free(p);
    repl_verifier_free(v);

    /* The other CA trusts only its own. */
    char c[256];
    path(c, "ca2.pem");
    assert_int_equal(repl_verifier_load(c, NULL, &v), HCP_OK);
    assert_int_equal(peer_from_file(v, "c102.pem", &p, &why), HCP_EAUTH);
    assert_string_equal(why, "bad_cert");
    assert_int_equal(peer_from_file(v, "other.pem", &p, &why), HCP_OK);
    repl_peer_free(p);
    repl_verifier_free(v);

    /* Missing CA or CRL files. */
    char r[256];
    path(r, "missing.crl");
    path(c, "ca.pem");
    assert_int_not_equal(repl_verifier_load(c, r, &v), HCP_OK);
    assert_null(v);
    path(c, "missing.pem");
    assert_int_not_equal(repl_verifier_load(c, NULL, &v), HCP_OK);
    assert_int_equal(repl_verifier_load(NULL, NULL, &v), HCP_EINVAL);
    repl_verifier_free(NULL);
    repl_peer_free(NULL);
}

/* Write dir/index.txt (revoking serial 03 when revoke) and run openssl to
 * make dir/<out> from it. */
static void make_crl(bool revoke, const char *out)
{
    char cfg[1024], cmd[2048];
    snprintf(cfg, sizeof(cfg),
             "[ ca ]\ndefault_ca = d\n[ d ]\ndatabase = %s/index.txt\n"
             "crlnumber = %s/crlnumber\ndefault_md = sha256\ndefault_crl_days = 30\n",
             dir, dir);
    write_file("ca.cnf", cfg);
    write_file("index.txt", revoke ? "R\t491231235959Z\t200101000000Z\t03\tunknown\t"
                                     "/O=hcp/CN=630103\n"
                                   : "");
    write_file("crlnumber", "01\n");
    snprintf(cmd, sizeof(cmd),
             "cd '%s' && openssl ca -batch -gencrl -config ca.cnf -keyfile ca.key -cert ca.pem "
             "-out '%s' >openssl.log 2>&1",
             dir, out);
    assert_int_equal(system(cmd), 0);
}

static void test_revocation_and_reload(void **state)
{
    (void)state;
    make_crl(false, "crl.pem");
    repl_verifier *v = verifier("crl.pem");
    repl_peer *p3 = NULL, *p2 = NULL, *p = NULL;
    const char *why = NULL;
    assert_int_equal(peer_from_file(v, "c103.pem", &p3, &why), HCP_OK);
    assert_int_equal(peer_from_file(v, "c102.pem", &p2, &why), HCP_OK);
    assert_false(repl_peer_revoked(v, p3));
    assert_int_equal(repl_verifier_reload(v), HCP_OK); /* unchanged: nothing to do */

    /* A new CRL revoking 630103 replaces the file; reload picks it up. */
    make_crl(true, "crl.new");
    char a[256], b[256];
    path(a, "crl.new");
    path(b, "crl.pem");
    assert_int_equal(rename(a, b), 0);
    assert_false(repl_peer_revoked(v, p3)); /* not before the reload */
    assert_int_equal(repl_verifier_reload(v), HCP_OK);
    assert_true(repl_peer_revoked(v, p3));
    assert_false(repl_peer_revoked(v, p2));
    assert_int_equal(peer_from_file(v, "c103.pem", &p, &why), HCP_EAUTH);
    assert_string_equal(why, "revoked");
    assert_int_equal(peer_from_file(v, "c102.pem", &p, &why), HCP_OK);
    repl_peer_free(p);

    /* A damaged CRL file: the reload fails and the last CRL stays. */
    write_file("crl.pem", "-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n");
    assert_int_not_equal(repl_verifier_reload(v), HCP_OK);
    assert_true(repl_peer_revoked(v, p3));
    repl_verifier_free(v);

    /* A verifier without a CRL never calls a peer revoked. */
    v = verifier(NULL);
    assert_false(repl_peer_revoked(v, p3));
    assert_int_equal(repl_verifier_reload(v), HCP_OK);
    repl_verifier_free(v);
    repl_peer_free(p3);
    repl_peer_free(p2);
}

/* What a verifying thread works on. */
struct worker {
    repl_verifier *v;
    const uint8_t *der;
    size_t len;
    int failures;
};

/* Verify the same certificate many times; count the failures. */
static void *verify_loop(void *arg)
{
    struct worker *w = arg;
    for (int i = 0; i < 200; i++) {
        repl_peer *p = NULL;
        const char *why;
        if (repl_peer_new(w->v, w->der, w->len, &p, &why) != HCP_OK || repl_peer_revoked(w->v, p))
            w->failures++;
        repl_peer_free(p);
    }
    return NULL;
}

static void test_threads(void **state)
{
    (void)state;
    make_crl(false, "crl.pem");
    repl_verifier *v = verifier("crl.pem");
    repl_identity *id = identity("c102.pem", "c102.key", HCP_OK);
    struct worker w[4];
    pthread_t t[4];
    for (int i = 0; i < 4; i++) {
        w[i] = (struct worker){.v = v};
        w[i].der = repl_identity_cert(id, &w[i].len);
        assert_int_equal(pthread_create(&t[i], NULL, verify_loop, &w[i]), 0);
    }
    for (int i = 0; i < 5; i++) {
        char a[256], b[256];
        make_crl(i % 2 == 0, "crl.new"); /* revokes 630103 only */
        path(a, "crl.new");
        path(b, "crl.pem");
        assert_int_equal(rename(a, b), 0);
        assert_int_equal(repl_verifier_reload(v), HCP_OK);
    }
    for (int i = 0; i < 4; i++) {
        assert_int_equal(pthread_join(t[i], NULL), 0);
        assert_int_equal(w[i].failures, 0);
    }
    repl_identity_free(id);
    repl_verifier_free(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_identity_load),
        cmocka_unit_test(test_auth),
        cmocka_unit_test(test_batch),
        cmocka_unit_test(test_peer_refusals),
        cmocka_unit_test(test_revocation_and_reload),
        cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests(tests, pki_setup, pki_teardown);
}
