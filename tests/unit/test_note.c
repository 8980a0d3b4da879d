/*
 * test_note.c — signed notes and checkpoints (core/note.h): the example
 * of Go's golang.org/x/mod/sumdb/note (its signer key signs its text into
 * the very bytes Go publishes, and its verifier key opens them), then our
 * own keys: sign and verify a checkpoint, a tampered body, a wrong key, a
 * foreign signature ignored, malformed notes and keys refused; base64.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "note.h"

/* Go's example (golang.org/x/mod/sumdb/note, package documentation). */
static const char go_skey[] =
    "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
static const char go_vkey[] = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
static const char go_text[] = "If you think cryptography is the answer to your problem,\n"
                              "then you don't know what your problem is.\n";
static const char go_note[] =
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
    "\n"
    "\xe2\x80\x94 PeterNeumann "
    "x08go/ZJkuBS9UG/"
    "SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";

static void go_example(void **state)
{
    (void)state;
    hcp_note_signer *s = NULL;
    assert_int_equal(hcp_note_signer_parse(go_skey, strlen(go_skey), &s), HCP_OK);
    char vkey[HCP_NOTE_KEY_MAX];
    assert_int_equal(hcp_note_signer_vkey(s, vkey, sizeof(vkey)), HCP_OK);
    assert_string_equal(vkey, go_vkey);
    hcp_buf out;
    hcp_buf_init(&out, HCP_NOTE_MAX);
    assert_int_equal(hcp_note_sign(s, go_text, strlen(go_text), &out), HCP_OK);
    assert_int_equal(out.len, strlen(go_note));
    assert_memory_equal(out.data, go_note, out.len);
    hcp_buf_free(&out);
    hcp_note_signer_free(s);

    hcp_note_verifier v;
    assert_int_equal(hcp_note_verifier_parse(go_vkey, strlen(go_vkey), &v), HCP_OK);
    size_t blen = 0;
    assert_int_equal(hcp_note_verify(&v, go_note, strlen(go_note), &blen), HCP_OK);
    assert_int_equal(blen, strlen(go_text));
    /* one changed letter of the body */
    char bad[sizeof(go_note)];
    memcpy(bad, go_note, sizeof(go_note));
    bad[3] = 'Y';
    assert_int_equal(hcp_note_verify(&v, bad, strlen(bad), NULL), HCP_ECRYPTO);
    /* the signer key text round-trips */
    uint8_t seed[32];
    char skey[HCP_NOTE_KEY_MAX];
    memset(seed, 7, sizeof(seed));
    assert_int_equal(hcp_note_signer_text("x.example/log", seed, skey, sizeof(skey)), HCP_OK);
    assert_int_equal(hcp_note_signer_parse(skey, strlen(skey), &s), HCP_OK);
    hcp_note_signer_free(s);
}

static void checkpoint_sign_verify(void **state)
{
    (void)state;
    uint8_t seed[32], seed2[32], root[32];
    assert_int_equal(hcp_note_keygen(seed), HCP_OK);
    assert_int_equal(hcp_note_keygen(seed2), HCP_OK);
    memset(root, 0xab, sizeof(root));
    hcp_note_signer *s = NULL, *s2 = NULL, *other = NULL;
    assert_int_equal(hcp_note_signer_new(HCP_LOG_ORIGIN, seed, &s), HCP_OK);
    assert_int_equal(hcp_note_signer_new(HCP_LOG_ORIGIN, seed2, &s2), HCP_OK);
    assert_int_equal(hcp_note_signer_new("witness.example", seed2, &other), HCP_OK);

    char body[256];
    size_t blen = 0;
    assert_int_equal(hcp_checkpoint_body(HCP_LOG_ORIGIN, 1234, root, body, sizeof(body), &blen),
                     HCP_OK);
    assert_int_equal(blen, strlen(body));
    assert_non_null(strstr(body, "hcp.qinghai/log\n1234\n"));
    hcp_buf note;
    hcp_buf_init(&note, HCP_NOTE_MAX);
    assert_int_equal(hcp_note_sign(s, body, blen, &note), HCP_OK);

    char vk[HCP_NOTE_KEY_MAX], vk2[HCP_NOTE_KEY_MAX];
    assert_int_equal(hcp_note_signer_vkey(s, vk, sizeof(vk)), HCP_OK);
    assert_int_equal(hcp_note_signer_vkey(s2, vk2, sizeof(vk2)), HCP_OK);
    hcp_note_verifier v, v2;
    assert_int_equal(hcp_note_verifier_parse(vk, strlen(vk), &v), HCP_OK);
    assert_int_equal(hcp_note_verifier_parse(vk2, strlen(vk2), &v2), HCP_OK);
    size_t got = 0;
    assert_int_equal(hcp_note_verify(&v, (char *)note.data, note.len, &got), HCP_OK);
    assert_int_equal(got, blen);
    char origin[64];
    uint64_t size = 0;
    uint8_t r[32];
    assert_int_equal(hcp_checkpoint_parse((char *)note.data, got, origin, sizeof(origin), &size, r),
                     HCP_OK);
    assert_string_equal(origin, HCP_LOG_ORIGIN);
    assert_int_equal(size, 1234);
    assert_memory_equal(r, root, 32);

    /* a wrong key of the same name: its id differs, so no line is its */
    assert_int_equal(hcp_note_verify(&v2, (char *)note.data, note.len, NULL), HCP_ENOTFOUND);
    /* the same key id with another public key: the signature fails */
    hcp_note_verifier forged = v2;
    forged.key_id = v.key_id;
    assert_int_equal(hcp_note_verify(&forged, (char *)note.data, note.len, NULL), HCP_ECRYPTO);
    /* a tampered body: the size changed */
    hcp_buf bad;
    hcp_buf_init(&bad, HCP_NOTE_MAX);
    assert_int_equal(hcp_buf_append(&bad, note.data, note.len), HCP_OK);
    bad.data[strlen(HCP_LOG_ORIGIN) + 1] = '9';
    assert_int_equal(hcp_note_verify(&v, (char *)bad.data, bad.len, NULL), HCP_ECRYPTO);
    /* a second signature by someone else is ignored; ours still counts */
    hcp_buf two;
    hcp_buf_init(&two, HCP_NOTE_MAX);
    assert_int_equal(hcp_note_sign(other, body, blen, &two), HCP_OK);
    assert_int_equal(hcp_buf_append(&two, note.data + blen + 1, note.len - blen - 1), HCP_OK);
    assert_int_equal(hcp_note_verify(&v, (char *)two.data, two.len, NULL), HCP_OK);
    /* malformed: no signature block, no final newline, a bad signature line */
    assert_int_equal(hcp_note_verify(&v, body, blen, NULL), HCP_EFORMAT);
    assert_int_equal(hcp_note_verify(&v, (char *)note.data, note.len - 1, NULL), HCP_EFORMAT);
    static const char junk[] = "hcp.qinghai/log\n1\nAAAA\n\n- not a signature\n";
    assert_int_equal(hcp_note_verify(&v, junk, strlen(junk), NULL), HCP_EFORMAT);
    /* bodies that are not note texts cannot be signed */
    hcp_buf_reset(&bad);
    assert_int_equal(hcp_note_sign(s, "a\n\nb\n", 5, &bad), HCP_EINVAL);
    assert_int_equal(hcp_note_sign(s, "no newline", 10, &bad), HCP_EINVAL);
    /* keys: a changed key id, a bad name */
    char vbad[HCP_NOTE_KEY_MAX];
    memcpy(vbad, vk, sizeof(vk));
    char *plus = strchr(vbad, '+');
    plus[1] = plus[1] == '0' ? '1' : '0';
    assert_int_equal(hcp_note_verifier_parse(vbad, strlen(vbad), &v2), HCP_EFORMAT);
    hcp_note_signer_free(s2);
    assert_int_equal(hcp_note_signer_new("has space", seed, &s2), HCP_EINVAL);
    assert_null(s2);
    /* checkpoint bodies that are not checkpoints */
    static const char *const not_cp[] = {"o\n01\nAAAA\n", "o\n-1\n\n", "o\n1\nq83vEjRWeJA=\n",
                                         "o\n1\n", "\n1\nAAAA\n"};
    for (size_t i = 0; i < sizeof(not_cp) / sizeof(not_cp[0]); i++)
        assert_int_not_equal(
            hcp_checkpoint_parse(not_cp[i], strlen(not_cp[i]), origin, sizeof(origin), &size, r),
            HCP_OK);
    hcp_buf_free(&two);
    hcp_buf_free(&bad);
    hcp_buf_free(&note);
    hcp_note_signer_free(s);
    hcp_note_signer_free(other);
}

static void base64_strict(void **state)
{
    (void)state;
    static const char *const enc[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg=="};
    static const char *const dec[] = {"", "f", "fo", "foo", "foob"};
    for (size_t i = 0; i < 5; i++) {
        char e[16];
        uint8_t d[16];
        size_t n = 0;
        assert_int_equal(hcp_base64_encode(dec[i], strlen(dec[i]), e, sizeof(e)), HCP_OK);
        assert_string_equal(e, enc[i]);
        assert_int_equal(hcp_base64_decode(enc[i], strlen(enc[i]), d, sizeof(d), &n), HCP_OK);
        assert_int_equal(n, strlen(dec[i]));
        assert_memory_equal(d, dec[i], n);
    }
    uint8_t d[16];
    size_t n;
    static const char *const bad[] = {"Zg=", "Zh==", "Z===", "Zg==Zg==", "Zm9v\n", "Zm=v"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(hcp_base64_decode(bad[i], strlen(bad[i]), d, sizeof(d), &n), HCP_EFORMAT);
    assert_int_equal(hcp_base64_decode("Zm9vYg==", 8, d, 3, &n), HCP_ERANGE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(go_example),
        cmocka_unit_test(checkpoint_sign_verify),
        cmocka_unit_test(base64_strict),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
