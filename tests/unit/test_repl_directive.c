/*
 * test_repl_directive.c — directives in replication/ (docs/directives.md):
 * the province log's records (dirrec.c), the additive frame keys (dseq,
 * dirs, dmore, gcert; frame.c) and the directive signature with the
 * gateway's certificate as a node checks it (sign.c). The PKI is made with
 * the openssl command line in a temporary directory: a province CA with the
 * gateway's pair (CN and DNS gw.test), and another CA with a pair of the
 * same name.
 *
 * Covered: a record round trip and refusals (garbage, altered bytes, bad
 * target or type); frames carrying entries and positions, and a frame of an
 * older peer (no dseq); an entry signed by the gateway verifies, and a
 * forged one does not: altered record, hash or seq, signed by another key;
 * a gateway certificate from another CA, or naming another host, is refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "repl.h"

static char dir[64];

/* Run a shell command in dir; assert it succeeded. */
static void sh(const char *cmd)
{
    char full[1024];
    int n = snprintf(full, sizeof(full), "cd %s && %s >/dev/null 2>&1", dir, cmd);
    assert_true(n > 0 && (size_t)n < sizeof(full));
    assert_int_equal(system(full), 0);
}

/* dir/name into out[256]. */
static void path(char *out, const char *name)
{
    int n = snprintf(out, 256, "%s/%s", dir, name);
    assert_true(n > 0 && n < 256);
}

/* A CA (prefix.crt/.key) and a gateway pair prefix-gw.crt/.key for gw.test. */
static void make_ca(const char *p)
{
    char cmd[900];
    snprintf(cmd, sizeof(cmd),
             "openssl ecparam -name prime256v1 -genkey -noout -out %s.key && "
             "openssl req -x509 -new -key %s.key -subj /CN=%s-ca -days 30 -out %s.crt && "
             "openssl ecparam -name prime256v1 -genkey -noout -out %s-gw.key && "
             "openssl req -new -key %s-gw.key -subj /CN=gw.test -out %s-gw.csr && "
             "printf 'subjectAltName=DNS:gw.test\\nextendedKeyUsage=serverAuth\\n' > ext.cnf && "
             "openssl x509 -req -in %s-gw.csr -CA %s.crt -CAkey %s.key -CAcreateserial "
             "-days 30 -extfile ext.cnf -out %s-gw.crt",
             p, p, p, p, p, p, p, p, p, p, p);
    sh(cmd);
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/hcp-dirtest-XXXXXX");
    if (mkdtemp(dir) == NULL)
        return -1;
    make_ca("prov");
    make_ca("other");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* A record of seq for "all" with a small body into out. */
static void record(uint64_t seq, hcp_buf *out)
{
    static const uint8_t body[] = {0x81, 0xa1, 'k', 0x07}; /* {"k": 7} */
    repl_dir_entry e;
    memset(&e, 0, sizeof(e));
    e.seq = seq;
    e.at = 1790000000;
    snprintf(e.target, sizeof(e.target), "all");
    snprintf(e.type, sizeof(e.type), "spotcheck");
    e.body = body;
    e.body_len = sizeof(body);
    assert_int_equal(repl_dir_encode(&e, out), HCP_OK);
}

static void test_record(void **state)
{
    (void)state;
    hcp_buf b;
    hcp_buf_init(&b, REPL_DIR_REC_MAX);
    record(42, &b);
    repl_dir_entry d;
    assert_int_equal(repl_dir_decode(b.data, b.len, &d), HCP_OK);
    assert_int_equal(d.seq, 42);
    assert_string_equal(d.target, "all");
    assert_string_equal(d.type, "spotcheck");
    assert_int_equal(d.body_len, 4);
    assert_int_equal(d.body[0], 0x81);
    /* garbage, truncation, trailing bytes */
    assert_int_equal(repl_dir_decode(b.data, b.len - 1, &d), HCP_EFORMAT);
    uint8_t junk[3] = {0xc1, 0, 0};
    assert_int_not_equal(repl_dir_decode(junk, sizeof(junk), &d), HCP_OK);
    assert_int_equal(hcp_buf_append(&b, "x", 1), HCP_OK);
    assert_int_equal(repl_dir_decode(b.data, b.len, &d), HCP_EFORMAT);
    /* the encoder's domain */
    repl_dir_entry e;
    memset(&e, 0, sizeof(e));
    e.seq = 1;
    e.at = 1;
    snprintf(e.target, sizeof(e.target), "63010");
    snprintf(e.type, sizeof(e.type), "x");
    e.body = (const uint8_t *)"\x80";
    e.body_len = 1;
    assert_int_equal(repl_dir_encode(&e, &b), HCP_EINVAL);
    snprintf(e.target, sizeof(e.target), "630102");
    snprintf(e.type, sizeof(e.type), "Bad");
    assert_int_equal(repl_dir_encode(&e, &b), HCP_EINVAL);
    assert_true(repl_dir_type_ok("correction"));
    assert_false(repl_dir_type_ok(""));
    assert_false(repl_dir_type_ok("a-b"));
    hcp_buf_free(&b);
}

static void test_frames(void **state)
{
    (void)state;
    hcp_buf rec, out;
    hcp_buf_init(&rec, REPL_DIR_REC_MAX);
    hcp_buf_init(&out, REPL_FRAME_MAX);
    record(3, &rec);
    uint8_t sig[2] = {1, 2}, cert[3] = {9, 9, 9};
    repl_dir dirs[1] = {{rec.data, rec.len, {0}, sig, sizeof(sig)}};
    dirs[0].hash[0] = 0xab;
    repl_frame f;
    memset(&f, 0, sizeof(f));
    f.type = REPL_WELCOME;
    snprintf(f.state, sizeof(f.state), "ok");
    f.dirs = dirs;
    f.ndirs = 1;
    f.dmore = true;
    f.gcert = cert;
    f.gcert_len = sizeof(cert);
    assert_int_equal(repl_encode(&f, &out), HCP_OK);
    repl_frame g;
    assert_int_equal(repl_decode(out.data, out.len, &g), HCP_OK);
    assert_int_equal(g.ndirs, 1);
    assert_true(g.dmore);
    assert_int_equal(g.gcert_len, 3);
    assert_int_equal(g.dirs[0].rec_len, rec.len);
    assert_memory_equal(g.dirs[0].rec, rec.data, rec.len);
    assert_int_equal(g.dirs[0].hash[0], 0xab);
    assert_int_equal(g.dirs[0].sig_len, 2);
    repl_frame_clear(&g);
    /* a ping with a position, one without (an older node) */
    hcp_buf_reset(&out);
    memset(&f, 0, sizeof(f));
    f.type = REPL_PING;
    f.has_dseq = true;
    f.dseq = 0;
    assert_int_equal(repl_encode(&f, &out), HCP_OK);
    assert_int_equal(repl_decode(out.data, out.len, &g), HCP_OK);
    assert_true(g.has_dseq);
    assert_int_equal(g.dseq, 0);
    repl_frame_clear(&g);
    hcp_buf_reset(&out);
    f.has_dseq = false;
    assert_int_equal(repl_encode(&f, &out), HCP_OK);
    assert_int_equal(repl_decode(out.data, out.len, &g), HCP_OK);
    assert_false(g.has_dseq);
    repl_frame_clear(&g);
    /* entries on a frame that does not take them are not written */
    hcp_buf_reset(&out);
    memset(&f, 0, sizeof(f));
    f.type = REPL_FETCH;
    f.seq = 1;
    f.max = 1;
    f.dirs = dirs;
    f.ndirs = 1;
    assert_int_equal(repl_encode(&f, &out), HCP_OK);
    assert_int_equal(repl_decode(out.data, out.len, &g), HCP_OK);
    assert_int_equal(g.ndirs, 0);
    repl_frame_clear(&g);
    hcp_buf_free(&rec);
    hcp_buf_free(&out);
}

/* Load the identity prefix-gw and its certificate as a node checks it. */
static repl_identity *gw_identity(const char *p)
{
    char crt[256], key[256], name[64];
    snprintf(name, sizeof(name), "%s-gw.crt", p);
    path(crt, name);
    snprintf(name, sizeof(name), "%s-gw.key", p);
    path(key, name);
    repl_identity *id = NULL;
    assert_int_equal(repl_identity_load(crt, key, &id), HCP_OK);
    return id;
}

static void test_signatures(void **state)
{
    (void)state;
    char ca[256];
    path(ca, "prov.crt");
    repl_verifier *v = NULL;
    assert_int_equal(repl_verifier_load(ca, NULL, &v), HCP_OK);
    repl_identity *gw = gw_identity("prov"), *other = gw_identity("other");
    size_t der_len, oder_len;
    const uint8_t *der = repl_identity_cert(gw, &der_len);
    const uint8_t *oder = repl_identity_cert(other, &oder_len);
    repl_peer *p = NULL;
    const char *why = NULL;
    assert_int_equal(repl_gateway_new(v, der, der_len, "gw.test", &p, &why), HCP_OK);
    repl_peer *bad = NULL;
    assert_int_equal(repl_gateway_new(v, der, der_len, "evil.test", &bad, &why), HCP_EAUTH);
    assert_string_equal(why, "wrong_name");
    assert_int_equal(repl_gateway_new(v, oder, oder_len, "gw.test", &bad, &why), HCP_EAUTH);
    assert_string_equal(why, "bad_cert");

    hcp_buf rec;
    hcp_buf_init(&rec, REPL_DIR_REC_MAX);
    record(7, &rec);
    uint8_t hash[HCP_HASH_LEN];
    memset(hash, 0x5a, sizeof(hash));
    uint8_t sig[REPL_SIG_MAX], osig[REPL_SIG_MAX];
    size_t sl = sizeof(sig), osl = sizeof(osig);
    assert_int_equal(repl_sign_directive(gw, 7, hash, rec.data, rec.len, sig, &sl), HCP_OK);
    assert_int_equal(repl_peer_verify_directive(p, 7, hash, rec.data, rec.len, sig, sl), HCP_OK);
    /* forged: another seq, another hash, an altered record, a damaged signature */
    assert_int_equal(repl_peer_verify_directive(p, 8, hash, rec.data, rec.len, sig, sl),
                     HCP_ECRYPTO);
    hash[0] ^= 1;
    assert_int_equal(repl_peer_verify_directive(p, 7, hash, rec.data, rec.len, sig, sl),
                     HCP_ECRYPTO);
    hash[0] ^= 1;
    rec.data[rec.len - 1] ^= 1;
    assert_int_equal(repl_peer_verify_directive(p, 7, hash, rec.data, rec.len, sig, sl),
                     HCP_ECRYPTO);
    rec.data[rec.len - 1] ^= 1;
    sig[sl - 1] ^= 1;
    assert_int_equal(repl_peer_verify_directive(p, 7, hash, rec.data, rec.len, sig, sl),
                     HCP_ECRYPTO);
    /* signed by a key the CA does not vouch for as this gateway's */
    assert_int_equal(repl_sign_directive(other, 7, hash, rec.data, rec.len, osig, &osl), HCP_OK);
    assert_int_equal(repl_peer_verify_directive(p, 7, hash, rec.data, rec.len, osig, osl),
                     HCP_ECRYPTO);
    assert_int_equal(repl_sign_directive(gw, 0, hash, rec.data, rec.len, osig, &osl), HCP_EINVAL);
    hcp_buf_free(&rec);
    repl_peer_free(p);
    repl_identity_free(gw);
    repl_identity_free(other);
    repl_verifier_free(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_record),
        cmocka_unit_test(test_frames),
        cmocka_unit_test(test_signatures),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
