/*
 * test_chain.c — the hash chain (core/chain.h): a 50-record log verifies;
 * every kind of tampering (changed byte, removed, reordered, inserted,
 * replayed event, foreign county) is HCP_ECHAIN at the right place; known
 * answers computed independently with python3's hashlib; argument checks.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "chain.h"
#include "hex.h"

#define NREC    50
#define REC_MAX 96
#define COUNTY  "630102"

/* A log as a writer stored it: records, positions and hashes. */
typedef struct log {
    size_t count;
    uint64_t seqs[NREC + 1];
    const void *recs[NREC + 1];
    size_t lens[NREC + 1];
    uint8_t hashes[NREC + 1][HCP_HASH_LEN];
    uint8_t data[NREC + 1][REC_MAX];
} log_t;

/* Fill l with NREC records of arbitrary bytes (NULs, high bytes, varied
 * lengths, one empty) appended to a chain for COUNTY. */
static void log_build(log_t *l)
{
    hcp_chain ch;
    memset(l, 0, sizeof(*l));
    assert_int_equal(hcp_chain_init(&ch, COUNTY), HCP_OK);
    for (size_t i = 0; i < NREC; i++) {
        int w = snprintf((char *)l->data[i], REC_MAX, "event %zu \xe6\xb5\x8b\xe8\xaf\x95 %0*zu", i,
                         (int)(i % 40), i * 7919);
        assert_true(w > 0 && w < REC_MAX);
        l->data[i][w] = 0; /* hashed too: records are bytes, not strings */
        l->data[i][w + 1] = (uint8_t)(0xF0 + i % 16);
        l->lens[i] = i == 17 ? 0 : (size_t)w + 2;
        l->recs[i] = l->data[i];
        l->seqs[i] = i + 1;
        assert_int_equal(hcp_chain_append(&ch, l->recs[i], l->lens[i], l->hashes[i]), HCP_OK);
        assert_int_equal(ch.seq, i + 1);
        assert_memory_equal(ch.head, l->hashes[i], HCP_HASH_LEN);
    }
    l->count = NREC;
}

/* Verify l from COUNTY's genesis; returns the code, *bad the index. */
static int log_verify(const log_t *l, const char *county, size_t *bad)
{
    return hcp_chain_verify_all(county, l->count, l->seqs, l->recs, l->lens,
                                (const uint8_t(*)[HCP_HASH_LEN])l->hashes, bad);
}

/* Remove entry i of l, shifting the rest down (record pointers move with
 * their entries, so they keep pointing at their own bytes). */
static void log_remove(log_t *l, size_t i)
{
    for (size_t j = i; j + 1 < l->count; j++) {
        l->seqs[j] = l->seqs[j + 1];
        l->recs[j] = l->recs[j + 1];
        l->lens[j] = l->lens[j + 1];
        memcpy(l->hashes[j], l->hashes[j + 1], HCP_HASH_LEN);
    }
    l->count--;
}

/* Insert an entry at index i of l (shifting the rest up). */
static void log_insert(log_t *l, size_t i, uint64_t seq, const void *rec, size_t n,
                       const uint8_t h[HCP_HASH_LEN])
{
    for (size_t j = l->count; j > i; j--) {
        l->seqs[j] = l->seqs[j - 1];
        l->recs[j] = l->recs[j - 1];
        l->lens[j] = l->lens[j - 1];
        memcpy(l->hashes[j], l->hashes[j - 1], HCP_HASH_LEN);
    }
    l->seqs[i] = seq;
    l->recs[i] = rec;
    l->lens[i] = n;
    memcpy(l->hashes[i], h, HCP_HASH_LEN);
    l->count++;
}

static void test_log_verifies(void **state)
{
    (void)state;
    static log_t l;
    log_build(&l);
    size_t bad = 99;
    assert_int_equal(log_verify(&l, COUNTY, &bad), HCP_OK);
    assert_int_equal(bad, NREC);
    assert_int_equal(log_verify(&l, COUNTY, NULL), HCP_OK);

    /* one at a time, as the gateway does it, ending at the writer's head */
    hcp_chain v;
    assert_int_equal(hcp_chain_init(&v, COUNTY), HCP_OK);
    for (size_t i = 0; i < NREC; i++)
        assert_int_equal(hcp_chain_verify_next(&v, l.seqs[i], l.recs[i], l.lens[i], l.hashes[i]),
                         HCP_OK);
    assert_int_equal(v.seq, NREC);
    assert_memory_equal(v.head, l.hashes[NREC - 1], HCP_HASH_LEN);
    assert_string_equal(v.county, COUNTY);

    /* an empty log verifies too */
    assert_int_equal(hcp_chain_verify_all(COUNTY, 0, NULL, NULL, NULL, NULL, &bad), HCP_OK);
    assert_int_equal(bad, 0);
}

static void test_changed_byte(void **state)
{
    (void)state;
    static log_t l;
    log_build(&l);
    size_t bad = 0;
    l.data[19][3] ^= 0x01; /* record seq 20 */
    assert_int_equal(log_verify(&l, COUNTY, &bad), HCP_ECHAIN);
    assert_int_equal(bad, 19);
    l.data[19][3] ^= 0x01;
    /* a changed length (a byte cut off the end) */
    l.lens[30]--;
    assert_int_equal(log_verify(&l, COUNTY, &bad), HCP_ECHAIN);
    assert_int_equal(bad, 30);
    l.lens[30]++;
    /* a changed stored hash */
    l.hashes[49][31] ^= 0x80;
    assert_int_equal(log_verify(&l, COUNTY, &bad), HCP_ECHAIN);
    assert_int_equal(bad, 49);
}

static void test_removed_event(void **state)
{
    (void)state;
    static log_t l;
    log_build(&l);
    size_t bad = 0;
    log_remove(&l, 10); /* seq 11 gone: a gap */
    assert_int_equal(log_verify(&l, COUNTY, &bad), HCP_ECHAIN);
    assert_int_equal(bad, 10);
    /* renumbering the rest to hide the gap breaks the hashes instead */
    for (size_t i = 10; i < l.count; i++)
        l.seqs[i] = i + 1;
    assert_int_equal(log_verify(&l, COUNTY, &bad), HCP_ECHAIN);
    assert_int_equal(bad, 10);
    /* dropping the last event is not detectable from the log alone: the
     * verifier's acknowledged head is what catches it (docs/chain.md) */
    log_build(&l);
    l.count--;
    assert_int_equal(log_verify(&l, COUNTY, &bad), HCP_OK);
}

static void test_reordered(void **state)
{
    (void)state;
    static log_t l;
    log_build(&l);
    size_t bad = 0;
    /* swap records 6 and 7 (and their hashes), positions kept */
    const void *r = l.recs[5];
    size_t n = l.lens[5];
    uint8_t h[HCP_HASH_LEN];
    memcpy(h, l.hashes[5], HCP_HASH_LEN);
    l.recs[5] = l.recs[6];
    l.lens[5] = l.lens[6];
    memcpy(l.hashes[5], l.hashes[6], HCP_HASH_LEN);
    l.recs[6] = r;
    l.lens[6] = n;
    memcpy(l.hashes[6], h, HCP_HASH_LEN);
    assert_int_equal(log_verify(&l, COUNTY, &bad), HCP_ECHAIN);
    assert_int_equal(bad, 5);
    /* swapping the positions along with them is a gap instead */
    l.seqs[5] = 7;
    l.seqs[6] = 6;
    assert_int_equal(log_verify(&l, COUNTY, &bad), HCP_ECHAIN);
    assert_int_equal(bad, 5);
}

static void test_inserted(void **state)
{
    (void)state;
    static log_t l;
    log_build(&l);
    size_t bad = 0;
    /* a forger who knows the chain makes a valid-looking seq 31 ... */
    static const char fake[] = "forged evaluation";
    uint8_t h[HCP_HASH_LEN];
    assert_int_equal(hcp_chain_hash(l.hashes[29], 31, fake, sizeof(fake) - 1, h), HCP_OK);
    log_insert(&l, 30, 31, fake, sizeof(fake) - 1, h);
    /* ... the forged entry passes, the original seq 31 after it does not */
    assert_int_equal(log_verify(&l, COUNTY, &bad), HCP_ECHAIN);
    assert_int_equal(bad, 31);
    /* renumbering the rest: the original record's hash no longer fits */
    for (size_t i = 31; i < l.count; i++)
        l.seqs[i] = i + 1;
    assert_int_equal(log_verify(&l, COUNTY, &bad), HCP_ECHAIN);
    assert_int_equal(bad, 31);
}

static void test_wrong_county(void **state)
{
    (void)state;
    static log_t l;
    log_build(&l);
    size_t bad = 99;
    assert_int_equal(log_verify(&l, "630103", &bad), HCP_ECHAIN);
    assert_int_equal(bad, 0);
    assert_int_equal(log_verify(&l, "63010", &bad), HCP_EINVAL);
}

static void test_replayed(void **state)
{
    (void)state;
    static log_t l;
    log_build(&l);
    size_t bad = 0;
    /* seq 25 delivered twice (an at-least-once resend kept by mistake) */
    log_insert(&l, 25, l.seqs[24], l.recs[24], l.lens[24], l.hashes[24]);
    assert_int_equal(log_verify(&l, COUNTY, &bad), HCP_ECHAIN);
    assert_int_equal(bad, 25);

    /* verify_next refuses the repeat and does not move */
    hcp_chain v;
    assert_int_equal(hcp_chain_init(&v, COUNTY), HCP_OK);
    for (size_t i = 0; i < 25; i++)
        assert_int_equal(hcp_chain_verify_next(&v, l.seqs[i], l.recs[i], l.lens[i], l.hashes[i]),
                         HCP_OK);
    hcp_chain before = v;
    assert_int_equal(hcp_chain_verify_next(&v, 25, l.recs[24], l.lens[24], l.hashes[24]),
                     HCP_ECHAIN);
    assert_memory_equal(&v, &before, sizeof(v));
    /* nor a wrong hash at the right position */
    assert_int_equal(hcp_chain_verify_next(&v, 26, l.recs[26], l.lens[26], l.hashes[24]),
                     HCP_ECHAIN);
    assert_memory_equal(&v, &before, sizeof(v));
    /* the right one still goes through afterwards */
    assert_int_equal(hcp_chain_verify_next(&v, 26, l.recs[26], l.lens[26], l.hashes[26]), HCP_OK);
    assert_int_equal(v.seq, 26);
}

/*
 * Known answers, computed independently:
 *   python3 -c "import hashlib;print(hashlib.sha256(b'hcp-genesis-v1'+b'630102').hexdigest())"
 *   python3 -c "import hashlib,struct;g=hashlib.sha256(b'hcp-genesis-v1'+b'630102').digest();
 *     r=b'hello, chain';print(hashlib.sha256(b'hcp-event-v1'+g+struct.pack('>QI',1,len(r))+r)
 *     .hexdigest())"
 *   (and hash(2) the same way over h1, seq 2 and r2 below)
 */
static const char kat_genesis[] =
    "ece94ce78f798333eaf6c9b16539a1eea534d8309057729259adda62f70b30d6";
static const char kat_h1[] = "2065cbbc66ed40a7d4bf98acd139243444899ae012f3b7899f152fc9e46cdc5f";
static const char kat_h2[] = "c7a92d6564f3c70895e3d5d0bbc7d5c1648fdc2a76bc1f7698860e74369bdd4a";
static const char kat_genesis_630103[] =
    "6260f3a4d6db243413abe410907276dcd4e15c74066bc95c6ac1aca209cadcfb";

static void test_known_answer(void **state)
{
    (void)state;
    char hex[2 * HCP_HASH_LEN + 1];
    uint8_t h[HCP_HASH_LEN];
    hcp_chain ch;
    assert_int_equal(hcp_chain_init(&ch, "630102"), HCP_OK);
    assert_int_equal(ch.seq, 0);
    hcp_hash_hex(ch.head, hex);
    assert_string_equal(hex, kat_genesis);

    static const char r1[] = "hello, chain";
    assert_int_equal(hcp_chain_append(&ch, r1, sizeof(r1) - 1, h), HCP_OK);
    hcp_hash_hex(h, hex);
    assert_string_equal(hex, kat_h1);

    /* r2 = b'\x82\xa1v\x01\xa1t\xa9evaluation' (a msgpack map) */
    static const uint8_t r2[] = {0x82, 0xa1, 'v', 0x01, 0xa1, 't', 0xa9, 'e', 'v',
                                 'a',  'l',  'u', 'a',  't',  'i', 'o',  'n'};
    assert_int_equal(hcp_chain_append(&ch, r2, sizeof(r2), NULL), HCP_OK);
    hcp_hash_hex(ch.head, hex);
    assert_string_equal(hex, kat_h2);
    assert_int_equal(ch.seq, 2);

    assert_int_equal(hcp_chain_init(&ch, "630103"), HCP_OK);
    hcp_hash_hex(ch.head, hex);
    assert_string_equal(hex, kat_genesis_630103);
}

static void test_resume(void **state)
{
    (void)state;
    static log_t l;
    log_build(&l);
    hcp_chain ch, g;
    assert_int_equal(hcp_chain_resume(&ch, COUNTY, 20, l.hashes[19]), HCP_OK);
    for (size_t i = 20; i < NREC; i++)
        assert_int_equal(hcp_chain_verify_next(&ch, l.seqs[i], l.recs[i], l.lens[i], l.hashes[i]),
                         HCP_OK);
    assert_memory_equal(ch.head, l.hashes[NREC - 1], HCP_HASH_LEN);
    /* resuming at 0 must start from the county's own genesis */
    assert_int_equal(hcp_chain_init(&g, COUNTY), HCP_OK);
    assert_int_equal(hcp_chain_resume(&ch, COUNTY, 0, g.head), HCP_OK);
    assert_int_equal(hcp_chain_resume(&ch, "630103", 0, g.head), HCP_ECHAIN);
    assert_int_equal(hcp_chain_resume(&ch, "6301x2", 3, g.head), HCP_EINVAL);
    assert_int_equal(hcp_chain_resume(&ch, COUNTY, 3, NULL), HCP_EINVAL);
    assert_int_equal(hcp_chain_resume(NULL, COUNTY, 3, g.head), HCP_EINVAL);
}

static void test_bad_arguments(void **state)
{
    (void)state;
    hcp_chain ch;
    uint8_t h[HCP_HASH_LEN] = {0};
    static const char *const bad_counties[] = {"",         "63010",  "6301020", "63010a",
                                               "６３０１", " 63010", "630102 "};
    for (size_t i = 0; i < sizeof(bad_counties) / sizeof(bad_counties[0]); i++)
        assert_int_equal(hcp_chain_init(&ch, bad_counties[i]), HCP_EINVAL);
    assert_int_equal(hcp_chain_init(&ch, NULL), HCP_EINVAL);
    assert_int_equal(hcp_chain_init(NULL, COUNTY), HCP_EINVAL);

    assert_int_equal(hcp_chain_hash(NULL, 1, "x", 1, h), HCP_EINVAL);
    assert_int_equal(hcp_chain_hash(h, 1, "x", 1, NULL), HCP_EINVAL);
    assert_int_equal(hcp_chain_hash(h, 1, NULL, 1, h), HCP_EINVAL);
    assert_int_equal(hcp_chain_hash(h, 0, "x", 1, h), HCP_EINVAL); /* seq counts from 1 */
    assert_int_equal(hcp_chain_hash(h, 1, NULL, 0, h), HCP_OK);    /* empty record */

    assert_int_equal(hcp_chain_init(&ch, COUNTY), HCP_OK);
    assert_int_equal(hcp_chain_append(NULL, "x", 1, NULL), HCP_EINVAL);
    assert_int_equal(hcp_chain_append(&ch, NULL, 1, NULL), HCP_EINVAL);
    assert_int_equal(ch.seq, 0);
    assert_int_equal(hcp_chain_verify_next(&ch, 1, "x", 1, NULL), HCP_EINVAL);
    assert_int_equal(hcp_chain_verify_next(NULL, 1, "x", 1, h), HCP_EINVAL);
    assert_int_equal(hcp_chain_verify_next(&ch, 0, "x", 1, h), HCP_ECHAIN);
    assert_int_equal(hcp_chain_verify_next(&ch, 2, "x", 1, h), HCP_ECHAIN);
    assert_int_equal(hcp_chain_verify_all(COUNTY, 1, NULL, NULL, NULL, NULL, NULL), HCP_EINVAL);

    /* the last position there is cannot be followed */
    assert_int_equal(hcp_chain_resume(&ch, COUNTY, UINT64_MAX, h), HCP_OK);
    assert_int_equal(hcp_chain_append(&ch, "x", 1, NULL), HCP_ERANGE);
    assert_int_equal(hcp_chain_verify_next(&ch, 0, "x", 1, h), HCP_ERANGE);
}

static void test_hex(void **state)
{
    (void)state;
    uint8_t h[HCP_HASH_LEN];
    char hex[2 * HCP_HASH_LEN + 1];
    for (int i = 0; i < HCP_HASH_LEN; i++)
        h[i] = (uint8_t)(i * 0x11 + 0x0F);
    hcp_hash_hex(h, hex);
    /* python3 -c "print(bytes((i*0x11+0x0f)&0xff for i in range(32)).hex())" */
    assert_string_equal(hex, "0f2031425364758697a8b9cadbecfd0e1f30415263748596a7b8c9daebfc0d1e");
    hcp_hash_hex(NULL, hex);
    assert_string_equal(hex, "");
    hcp_hash_hex(h, NULL); /* must not crash */
}

/* The decoder every key, session id and cursor goes through: bounds first. */
static void test_hex_decode(void **state)
{
    (void)state;
    uint8_t b[4] = {0};
    assert_int_equal(hcp_hex_decode("0aFf", 4, b, sizeof(b)), 2);
    assert_int_equal(b[0], 0x0a);
    assert_int_equal(b[1], 0xff);
    assert_int_equal(hcp_hex_decode("", 0, b, sizeof(b)), 0);
    assert_int_equal(hcp_hex_decode("abc", 3, b, sizeof(b)), -1);         /* odd */
    assert_int_equal(hcp_hex_decode("0g", 2, b, sizeof(b)), -1);          /* not a digit */
    assert_int_equal(hcp_hex_decode("0011223344", 10, b, sizeof(b)), -1); /* too long */
    assert_int_equal(hcp_hex_decode(NULL, 2, b, sizeof(b)), -1);
    assert_int_equal(hcp_hex_decode("00", 2, NULL, 1), -1);
    char out[5];
    hcp_hex_encode(b, 2, out);
    assert_string_equal(out, "0aff");
    assert_int_equal(hcp_hex_digit('F'), 15);
    assert_int_equal(hcp_hex_digit(' '), -1);
}

/* hcp_sha256 keeps one digest context per thread: threads hashing at once
 * (and ending, which frees theirs) agree with the answers of one thread,
 * and a refused call in between leaves the next one right. */
#define SHA_INPUTS 8

static uint8_t sha_in[SHA_INPUTS][700];
static uint8_t sha_want[SHA_INPUTS][HCP_HASH_LEN];

static int sha_one(size_t i, uint8_t out[HCP_HASH_LEN])
{
    const void *parts[2] = {sha_in[i], sha_in[i] + 100};
    size_t lens[2] = {100, 80 * i}; /* at most 100 + 560 of the 700 bytes */
    return hcp_sha256(parts, lens, 2, out);
}

static void *sha_worker(void *arg)
{
    (void)arg;
    for (int round = 0; round < 300; round++)
        for (size_t i = 0; i < SHA_INPUTS; i++) {
            uint8_t got[HCP_HASH_LEN];
            if (sha_one(i, got) != HCP_OK || memcmp(got, sha_want[i], HCP_HASH_LEN) != 0)
                return (void *)1;
        }
    return NULL;
}

static void test_sha256_threads(void **state)
{
    (void)state;
    for (size_t i = 0; i < SHA_INPUTS; i++) {
        for (size_t j = 0; j < sizeof(sha_in[i]); j++)
            sha_in[i][j] = (uint8_t)(i * 31 + j * 7);
        assert_int_equal(sha_one(i, sha_want[i]), HCP_OK);
    }
    /* SHA-256("abc") */
    static const char abc_hex[] =
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
    const void *abc[1] = {"abc"};
    size_t abc_len[1] = {3};
    uint8_t got[HCP_HASH_LEN], want[HCP_HASH_LEN];
    assert_int_equal(hcp_hex_decode(abc_hex, 64, want, sizeof(want)), (long)sizeof(want));
    assert_int_equal(hcp_sha256(abc, abc_len, 1, got), HCP_OK);
    assert_memory_equal(got, want, HCP_HASH_LEN);
    for (int wave = 0; wave < 2; wave++) { /* the second wave: new threads, new contexts */
        pthread_t t[4];
        for (int i = 0; i < 4; i++)
            assert_int_equal(pthread_create(&t[i], NULL, sha_worker, NULL), 0);
        for (int i = 0; i < 4; i++) {
            void *rv = (void *)1;
            assert_int_equal(pthread_join(t[i], &rv), 0);
            assert_null(rv);
        }
    }
    const void *bad[1] = {NULL};
    size_t bad_len[1] = {5};
    assert_int_equal(hcp_sha256(bad, bad_len, 1, got), HCP_EINVAL);
    assert_int_equal(hcp_sha256(abc, abc_len, 1, got), HCP_OK);
    assert_memory_equal(got, want, HCP_HASH_LEN);
    assert_null(sha_worker(NULL)); /* and this thread's own context, reused */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_log_verifies),
        cmocka_unit_test(test_changed_byte),
        cmocka_unit_test(test_removed_event),
        cmocka_unit_test(test_reordered),
        cmocka_unit_test(test_inserted),
        cmocka_unit_test(test_wrong_county),
        cmocka_unit_test(test_replayed),
        cmocka_unit_test(test_known_answer),
        cmocka_unit_test(test_resume),
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_hex),
        cmocka_unit_test(test_hex_decode),
        cmocka_unit_test(test_sha256_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
