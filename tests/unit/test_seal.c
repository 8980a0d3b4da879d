/*
 * test_seal.c — AES-256-GCM sealing and the key file (core/seal.h): round
 * trips (Chinese text, empty), every alteration refused (aad, nonce,
 * ciphertext, tag, format byte, wrong key), truncation, random nonces, no
 * plaintext in the output; key files created 0600, read back, refused when
 * group/other-accessible or malformed; many threads sealing at once; the
 * bytes unchanged since the cipher moved from mbedtls to OpenSSL (a blob of
 * either opens with the other, and a NIST GCM vector).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mbedtls/gcm.h>

#include "seal.h"

#define BUF_MAX (1u << 20)

static const char zh[] = "张三，电话 13800000000，投诉西宁市城东区政务服务大厅窗口态度差。";
static const char aad[] = "630102-20261127-0042/pii";

/* A sealer with a fixed test key; the caller frees it. */
static hcp_sealer *sealer_fixed(uint8_t fill)
{
    uint8_t key[HCP_SEAL_KEY_LEN];
    memset(key, fill, sizeof(key));
    hcp_sealer *s = NULL;
    assert_int_equal(hcp_sealer_new(key, &s), HCP_OK);
    assert_non_null(s);
    return s;
}

/* Seal pt with aad into a new buffer the caller frees. */
static hcp_buf seal_text(hcp_sealer *s, const void *pt, size_t n)
{
    hcp_buf b;
    hcp_buf_init(&b, BUF_MAX);
    assert_int_equal(hcp_seal(s, aad, sizeof(aad) - 1, pt, n, &b), HCP_OK);
    assert_int_equal(b.len, n + HCP_SEAL_OVERHEAD);
    assert_int_equal(b.data[0], 0x01);
    return b;
}

/* Whether needle occurs anywhere in hay. */
static bool contains(const uint8_t *hay, size_t n, const void *needle, size_t m)
{
    for (size_t i = 0; m <= n && i <= n - m; i++)
        if (memcmp(hay + i, needle, m) == 0)
            return true;
    return false;
}

static void test_round_trip(void **state)
{
    (void)state;
    hcp_sealer *s = sealer_fixed(0x42);
    hcp_buf b = seal_text(s, zh, sizeof(zh) - 1);
    hcp_buf pt;
    hcp_buf_init(&pt, BUF_MAX);
    assert_int_equal(hcp_unseal(s, aad, sizeof(aad) - 1, b.data, b.len, &pt), HCP_OK);
    assert_int_equal(pt.len, sizeof(zh) - 1);
    assert_memory_equal(pt.data, zh, pt.len);
    /* unseal appends */
    assert_int_equal(hcp_unseal(s, aad, sizeof(aad) - 1, b.data, b.len, &pt), HCP_OK);
    assert_int_equal(pt.len, 2 * (sizeof(zh) - 1));
    /* no aad at all is a valid binding too */
    hcp_buf b2;
    hcp_buf_init(&b2, BUF_MAX);
    assert_int_equal(hcp_seal(s, NULL, 0, zh, sizeof(zh) - 1, &b2), HCP_OK);
    hcp_buf_reset(&pt);
    assert_int_equal(hcp_unseal(s, NULL, 0, b2.data, b2.len, &pt), HCP_OK);
    assert_memory_equal(pt.data, zh, sizeof(zh) - 1);
    assert_int_equal(hcp_unseal(s, aad, sizeof(aad) - 1, b2.data, b2.len, &pt), HCP_ECRYPTO);
    hcp_buf_free(&b2);
    hcp_buf_free(&pt);
    hcp_buf_free(&b);
    hcp_sealer_free(s);
}

static void test_empty(void **state)
{
    (void)state;
    hcp_sealer *s = sealer_fixed(0x01);
    hcp_buf b = seal_text(s, NULL, 0);
    assert_int_equal(b.len, HCP_SEAL_OVERHEAD);
    hcp_buf pt;
    hcp_buf_init(&pt, BUF_MAX);
    assert_int_equal(hcp_unseal(s, aad, sizeof(aad) - 1, b.data, b.len, &pt), HCP_OK);
    assert_int_equal(pt.len, 0);
    b.data[b.len - 1] ^= 1; /* even an empty plaintext is authenticated */
    assert_int_equal(hcp_unseal(s, aad, sizeof(aad) - 1, b.data, b.len, &pt), HCP_ECRYPTO);
    hcp_buf_free(&pt);
    hcp_buf_free(&b);
    hcp_sealer_free(s);
}

static void test_wrong_aad_and_key(void **state)
{
    (void)state;
    hcp_sealer *s = sealer_fixed(0x42), *other = sealer_fixed(0x43);
    hcp_buf b = seal_text(s, zh, sizeof(zh) - 1);
    hcp_buf pt;
    hcp_buf_init(&pt, BUF_MAX);
    static const char moved[] = "630102-20261127-0043/pii"; /* another case */
    assert_int_equal(hcp_unseal(s, moved, sizeof(moved) - 1, b.data, b.len, &pt), HCP_ECRYPTO);
    assert_int_equal(hcp_unseal(s, aad, sizeof(aad) - 2, b.data, b.len, &pt), HCP_ECRYPTO);
    assert_int_equal(hcp_unseal(other, aad, sizeof(aad) - 1, b.data, b.len, &pt), HCP_ECRYPTO);
    assert_int_equal(pt.len, 0); /* nothing appended on failure */
    hcp_buf_free(&pt);
    hcp_buf_free(&b);
    hcp_sealer_free(other);
    hcp_sealer_free(s);
}

static void test_flipped_bytes(void **state)
{
    (void)state;
    hcp_sealer *s = sealer_fixed(0x42);
    hcp_buf b = seal_text(s, zh, sizeof(zh) - 1);
    hcp_buf pt;
    hcp_buf_init(&pt, BUF_MAX);
    /* every byte after the format byte: nonce 1..12, ciphertext, tag */
    for (size_t i = 1; i < b.len; i++) {
        b.data[i] ^= 0x20;
        assert_int_equal(hcp_unseal(s, aad, sizeof(aad) - 1, b.data, b.len, &pt), HCP_ECRYPTO);
        b.data[i] ^= 0x20;
    }
    assert_int_equal(pt.len, 0);
    /* an unknown format byte */
    b.data[0] = 0x02;
    assert_int_equal(hcp_unseal(s, aad, sizeof(aad) - 1, b.data, b.len, &pt), HCP_EFORMAT);
    b.data[0] = 0x01;
    assert_int_equal(hcp_unseal(s, aad, sizeof(aad) - 1, b.data, b.len, &pt), HCP_OK);
    hcp_buf_free(&pt);
    hcp_buf_free(&b);
    hcp_sealer_free(s);
}

static void test_truncated(void **state)
{
    (void)state;
    hcp_sealer *s = sealer_fixed(0x42);
    hcp_buf b = seal_text(s, zh, sizeof(zh) - 1);
    hcp_buf pt;
    hcp_buf_init(&pt, BUF_MAX);
    for (size_t n = 0; n < HCP_SEAL_OVERHEAD; n++)
        assert_int_equal(hcp_unseal(s, aad, sizeof(aad) - 1, b.data, n, &pt), HCP_EFORMAT);
    /* long enough to parse but cut: the tag no longer matches */
    assert_int_equal(hcp_unseal(s, aad, sizeof(aad) - 1, b.data, b.len - 1, &pt), HCP_ECRYPTO);
    assert_int_equal(pt.len, 0);
    hcp_buf_free(&pt);
    hcp_buf_free(&b);
    hcp_sealer_free(s);
}

static void test_nonce_random_and_opaque(void **state)
{
    (void)state;
    hcp_sealer *s = sealer_fixed(0x42);
    hcp_buf a = seal_text(s, zh, sizeof(zh) - 1);
    hcp_buf b = seal_text(s, zh, sizeof(zh) - 1);
    assert_memory_not_equal(a.data + 1, b.data + 1, 12); /* nonces */
    assert_memory_not_equal(a.data + 13, b.data + 13, sizeof(zh) - 1);
    /* neither the whole text nor a recognisable piece of it shows */
    assert_false(contains(a.data, a.len, zh, sizeof(zh) - 1));
    assert_false(contains(a.data, a.len, "13800000000", 11));
    assert_false(contains(a.data, a.len, "张三", strlen("张三")));
    hcp_buf_free(&a);
    hcp_buf_free(&b);
    hcp_sealer_free(s);
}

static void test_out_ceiling(void **state)
{
    (void)state;
    hcp_sealer *s = sealer_fixed(0x42);
    hcp_buf small;
    hcp_buf_init(&small, HCP_SEAL_OVERHEAD + 3);
    assert_int_equal(hcp_seal(s, NULL, 0, zh, sizeof(zh) - 1, &small), HCP_ERANGE);
    assert_int_equal(small.len, 0);
    assert_int_equal(hcp_seal(s, NULL, 0, "abc", 3, &small), HCP_OK);
    hcp_buf pt;
    hcp_buf_init(&pt, 2);
    assert_int_equal(hcp_unseal(s, NULL, 0, small.data, small.len, &pt), HCP_ERANGE);
    assert_int_equal(pt.len, 0);
    hcp_buf_free(&pt);
    hcp_buf_free(&small);
    hcp_sealer_free(s);
}

static void test_bad_arguments(void **state)
{
    (void)state;
    hcp_sealer *s = sealer_fixed(0x42);
    hcp_buf b;
    hcp_buf_init(&b, BUF_MAX);
    uint8_t key[HCP_SEAL_KEY_LEN] = {0};
    hcp_sealer *t = NULL;
    assert_int_equal(hcp_sealer_new(NULL, &t), HCP_EINVAL);
    assert_int_equal(hcp_sealer_new(key, NULL), HCP_EINVAL);
    assert_int_equal(hcp_seal(NULL, NULL, 0, "a", 1, &b), HCP_EINVAL);
    assert_int_equal(hcp_seal(s, NULL, 1, "a", 1, &b), HCP_EINVAL);
    assert_int_equal(hcp_seal(s, NULL, 0, NULL, 1, &b), HCP_EINVAL);
    assert_int_equal(hcp_seal(s, NULL, 0, "a", 1, NULL), HCP_EINVAL);
    assert_int_equal(hcp_unseal(s, NULL, 0, NULL, 40, &b), HCP_EINVAL);
    assert_int_equal(hcp_unseal(NULL, NULL, 0, "x", 1, &b), HCP_EINVAL);
    assert_int_equal(hcp_random(NULL, 1), HCP_EINVAL);
    assert_int_equal(hcp_random(NULL, 0), HCP_OK);
    uint8_t r1[64] = {0}, r2[64] = {0};
    assert_int_equal(hcp_random(r1, sizeof(r1)), HCP_OK);
    assert_int_equal(hcp_random(r2, sizeof(r2)), HCP_OK);
    assert_memory_not_equal(r1, r2, sizeof(r1));
    hcp_sealer_free(NULL);
    hcp_buf_free(&b);
    hcp_sealer_free(s);
}

/* ---- key files, in a fresh mkdtemp directory ---- */

typedef struct tmpdir {
    char dir[64];
    char path[128];
} tmpdir;

static int dir_setup(void **state)
{
    tmpdir *t = calloc(1, sizeof(*t));
    if (t == NULL)
        return -1;
    snprintf(t->dir, sizeof(t->dir), "/tmp/hcp-seal-XXXXXX");
    if (mkdtemp(t->dir) == NULL) {
        free(t);
        return -1;
    }
    snprintf(t->path, sizeof(t->path), "%s/pii.key", t->dir);
    *state = t;
    return 0;
}

static int dir_teardown(void **state)
{
    tmpdir *t = *state;
    unlink(t->path);
    rmdir(t->dir);
    free(t);
    return 0;
}

/* Write exactly text (n bytes) to path with mode. */
static void write_file(const char *path, const char *text, size_t n, mode_t mode)
{
    unlink(path);
    int fd = open(path, O_CREAT | O_EXCL | O_WRONLY, 0600);
    assert_true(fd >= 0);
    assert_int_equal(fchmod(fd, mode), 0);
    assert_int_equal(write(fd, text, n), (ssize_t)n);
    assert_int_equal(close(fd), 0);
}

static void test_key_create_and_reload(void **state)
{
    tmpdir *t = *state;
    uint8_t k1[HCP_SEAL_KEY_LEN], k2[HCP_SEAL_KEY_LEN];
    assert_int_equal(hcp_seal_key_load(t->path, false, k1), HCP_ENOTFOUND);
    assert_int_equal(hcp_seal_key_load(t->path, true, k1), HCP_OK);
    struct stat st;
    assert_int_equal(stat(t->path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    assert_int_equal(st.st_size, 65); /* 64 hex digits and a newline */
    assert_int_equal(hcp_seal_key_load(t->path, true, k2), HCP_OK);
    assert_memory_equal(k1, k2, sizeof(k1));
    assert_int_equal(hcp_seal_key_load(t->path, false, k2), HCP_OK);
    assert_memory_equal(k1, k2, sizeof(k1));

    /* the key works: sealed with one load, opened with the other */
    hcp_sealer *a = NULL, *b = NULL;
    assert_int_equal(hcp_sealer_new(k1, &a), HCP_OK);
    assert_int_equal(hcp_sealer_new(k2, &b), HCP_OK);
    hcp_buf c = seal_text(a, zh, sizeof(zh) - 1), pt;
    hcp_buf_init(&pt, BUF_MAX);
    assert_int_equal(hcp_unseal(b, aad, sizeof(aad) - 1, c.data, c.len, &pt), HCP_OK);
    assert_memory_equal(pt.data, zh, sizeof(zh) - 1);
    hcp_buf_free(&pt);
    hcp_buf_free(&c);
    hcp_sealer_free(a);
    hcp_sealer_free(b);
}

static void test_key_known_value(void **state)
{
    tmpdir *t = *state;
    static const char text[] = "000102030405060708090a0b0c0d0e0f"
                               "101112131415161718191A1B1C1D1E1F";
    uint8_t k[HCP_SEAL_KEY_LEN];
    write_file(t->path, text, 64, 0600); /* no newline is fine too */
    assert_int_equal(hcp_seal_key_load(t->path, false, k), HCP_OK);
    for (int i = 0; i < HCP_SEAL_KEY_LEN; i++)
        assert_int_equal(k[i], i);
    write_file(t->path, text, 64, 0400); /* read-only for the owner */
    assert_int_equal(hcp_seal_key_load(t->path, false, k), HCP_OK);
}

static void test_key_permissions(void **state)
{
    tmpdir *t = *state;
    static const char text[] = "000102030405060708090a0b0c0d0e0f"
                               "101112131415161718191a1b1c1d1e1f\n";
    uint8_t k[HCP_SEAL_KEY_LEN];
    static const mode_t refused[] = {0644, 0640, 0604, 0660, 0602, 0620, 0601, 0610, 0666};
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        write_file(t->path, text, sizeof(text) - 1, refused[i]);
        assert_int_equal(hcp_seal_key_load(t->path, false, k), HCP_EAUTH);
        assert_int_equal(hcp_seal_key_load(t->path, true, k), HCP_EAUTH); /* never replaced */
    }
    /* a directory where the key should be */
    unlink(t->path);
    assert_int_equal(mkdir(t->path, 0700), 0);
    assert_int_not_equal(hcp_seal_key_load(t->path, true, k), HCP_OK);
    assert_int_equal(rmdir(t->path), 0);
}

static void test_key_malformed(void **state)
{
    tmpdir *t = *state;
    static const char *const bad[] = {
        "",
        "\n",
        "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1",   /* 63 */
        "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f0", /* 65 */
        "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n\n",
        "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\r\n",
        "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1g\n",
        " 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
        "0x0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n",
    };
    uint8_t k[HCP_SEAL_KEY_LEN];
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        write_file(t->path, bad[i], strlen(bad[i]), 0600);
        assert_int_equal(hcp_seal_key_load(t->path, true, k), HCP_EFORMAT);
    }
    assert_int_equal(hcp_seal_key_load(NULL, true, k), HCP_EINVAL);
    assert_int_equal(hcp_seal_key_load("", true, k), HCP_EINVAL);
    assert_int_equal(hcp_seal_key_load(t->path, true, NULL), HCP_EINVAL);
}

/* ---- concurrency ---- */

#define NTHREADS 8
#define NROUNDS  200

/* Seal and unseal NROUNDS times with the shared sealer; 0 when all good. */
static void *worker(void *arg)
{
    hcp_sealer *s = arg;
    hcp_buf c, pt;
    hcp_buf_init(&c, BUF_MAX);
    hcp_buf_init(&pt, BUF_MAX);
    intptr_t bad = 0;
    for (int i = 0; i < NROUNDS && bad == 0; i++) {
        hcp_buf_reset(&c);
        hcp_buf_reset(&pt);
        if (hcp_seal(s, aad, sizeof(aad) - 1, zh, sizeof(zh) - 1, &c) != HCP_OK ||
            hcp_unseal(s, aad, sizeof(aad) - 1, c.data, c.len, &pt) != HCP_OK ||
            pt.len != sizeof(zh) - 1 || memcmp(pt.data, zh, pt.len) != 0)
            bad = 1;
    }
    hcp_buf_free(&c);
    hcp_buf_free(&pt);
    return (void *)bad;
}

static void test_threads(void **state)
{
    (void)state;
    hcp_sealer *s = sealer_fixed(0x77);
    pthread_t th[NTHREADS];
    for (int i = 0; i < NTHREADS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, worker, s), 0);
    for (int i = 0; i < NTHREADS; i++) {
        void *r = NULL;
        assert_int_equal(pthread_join(th[i], &r), 0);
        assert_null(r);
    }
    hcp_sealer_free(s);
}

/* Stores sealed by earlier versions (mbedtls' GCM) open, and what is
 * sealed now opens with mbedtls: 0x01 || nonce (12) || ciphertext || tag. */
static void test_same_bytes_as_mbedtls(void **state)
{
    (void)state;
    uint8_t key[HCP_SEAL_KEY_LEN];
    memset(key, 0x5a, sizeof(key));
    hcp_sealer *s = sealer_fixed(0x5a);
    size_t n = strlen(zh);
    mbedtls_gcm_context g;
    mbedtls_gcm_init(&g);
    assert_int_equal(mbedtls_gcm_setkey(&g, MBEDTLS_CIPHER_ID_AES, key, 256), 0);
    /* old -> new */
    uint8_t blob[1 + 12 + sizeof(zh) + 16];
    blob[0] = 0x01;
    for (int i = 0; i < 12; i++)
        blob[1 + i] = (uint8_t)(i * 7 + 3);
    assert_int_equal(mbedtls_gcm_crypt_and_tag(&g, MBEDTLS_GCM_ENCRYPT, n, blob + 1, 12,
                                               (const uint8_t *)aad, strlen(aad),
                                               (const uint8_t *)zh, blob + 13, 16, blob + 13 + n),
                     0);
    hcp_buf out;
    hcp_buf_init(&out, BUF_MAX);
    assert_int_equal(hcp_unseal(s, aad, strlen(aad), blob, n + HCP_SEAL_OVERHEAD, &out), HCP_OK);
    assert_int_equal(out.len, n);
    assert_memory_equal(out.data, zh, n);
    /* new -> old */
    hcp_buf_reset(&out);
    assert_int_equal(hcp_seal(s, aad, strlen(aad), zh, n, &out), HCP_OK);
    assert_int_equal(out.len, n + HCP_SEAL_OVERHEAD);
    uint8_t pt[sizeof(zh)];
    const uint8_t *b = out.data;
    assert_int_equal(mbedtls_gcm_auth_decrypt(&g, n, b + 1, 12, (const uint8_t *)aad, strlen(aad),
                                              b + 13 + n, 16, b + 13, pt),
                     0);
    assert_memory_equal(pt, zh, n);
    mbedtls_gcm_free(&g);
    hcp_buf_free(&out);
    hcp_sealer_free(s);
}

/* A published AES-256-GCM vector (McGrew and Viega's test case 16: 96-bit
 * nonce, 20 bytes of associated data, 60 of plaintext), framed as a blob
 * and opened. */
static void test_nist_vector(void **state)
{
    (void)state;
    static const uint8_t key[32] = {0xfe, 0xff, 0xe9, 0x92, 0x86, 0x65, 0x73, 0x1c,
                                    0x6d, 0x6a, 0x8f, 0x94, 0x67, 0x30, 0x83, 0x08,
                                    0xfe, 0xff, 0xe9, 0x92, 0x86, 0x65, 0x73, 0x1c,
                                    0x6d, 0x6a, 0x8f, 0x94, 0x67, 0x30, 0x83, 0x08};
    static const uint8_t iv[12] = {0xca, 0xfe, 0xba, 0xbe, 0xfa, 0xce,
                                   0xdb, 0xad, 0xde, 0xca, 0xf8, 0x88};
    static const uint8_t pt[60] = {
        0xd9, 0x31, 0x32, 0x25, 0xf8, 0x84, 0x06, 0xe5, 0xa5, 0x59, 0x09, 0xc5, 0xaf, 0xf5, 0x26,
        0x9a, 0x86, 0xa7, 0xa9, 0x53, 0x15, 0x34, 0xf7, 0xda, 0x2e, 0x4c, 0x30, 0x3d, 0x8a, 0x31,
        0x8a, 0x72, 0x1c, 0x3c, 0x0c, 0x95, 0x95, 0x68, 0x09, 0x53, 0x2f, 0xcf, 0x0e, 0x24, 0x49,
        0xa6, 0xb5, 0x25, 0xb1, 0x6a, 0xed, 0xf5, 0xaa, 0x0d, 0xe6, 0x57, 0xba, 0x63, 0x7b, 0x39};
    static const uint8_t aad16[20] = {0xfe, 0xed, 0xfa, 0xce, 0xde, 0xad, 0xbe, 0xef, 0xfe, 0xed,
                                      0xfa, 0xce, 0xde, 0xad, 0xbe, 0xef, 0xab, 0xad, 0xda, 0xd2};
    static const uint8_t ct[60] = {
        0x52, 0x2d, 0xc1, 0xf0, 0x99, 0x56, 0x7d, 0x07, 0xf4, 0x7f, 0x37, 0xa3, 0x2a, 0x84, 0x42,
        0x7d, 0x64, 0x3a, 0x8c, 0xdc, 0xbf, 0xe5, 0xc0, 0xc9, 0x75, 0x98, 0xa2, 0xbd, 0x25, 0x55,
        0xd1, 0xaa, 0x8c, 0xb0, 0x8e, 0x48, 0x59, 0x0d, 0xbb, 0x3d, 0xa7, 0xb0, 0x8b, 0x10, 0x56,
        0x82, 0x88, 0x38, 0xc5, 0xf6, 0x1e, 0x63, 0x93, 0xba, 0x7a, 0x0a, 0xbc, 0xc9, 0xf6, 0x62};
    static const uint8_t tag[16] = {0x76, 0xfc, 0x6e, 0xce, 0x0f, 0x4e, 0x17, 0x68,
                                    0xcd, 0xdf, 0x88, 0x53, 0xbb, 0x2d, 0x55, 0x1b};
    uint8_t blob[1 + 12 + 60 + 16];
    blob[0] = 0x01;
    memcpy(blob + 1, iv, 12);
    memcpy(blob + 13, ct, 60);
    memcpy(blob + 73, tag, 16);
    hcp_sealer *s = NULL;
    assert_int_equal(hcp_sealer_new(key, &s), HCP_OK);
    hcp_buf out;
    hcp_buf_init(&out, BUF_MAX);
    assert_int_equal(hcp_unseal(s, aad16, sizeof(aad16), blob, sizeof(blob), &out), HCP_OK);
    assert_int_equal(out.len, sizeof(pt));
    assert_memory_equal(out.data, pt, sizeof(pt));
    hcp_buf_free(&out);
    hcp_sealer_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_wrong_aad_and_key),
        cmocka_unit_test(test_flipped_bytes),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_nonce_random_and_opaque),
        cmocka_unit_test(test_out_ceiling),
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test_setup_teardown(test_key_create_and_reload, dir_setup, dir_teardown),
        cmocka_unit_test_setup_teardown(test_key_known_value, dir_setup, dir_teardown),
        cmocka_unit_test_setup_teardown(test_key_permissions, dir_setup, dir_teardown),
        cmocka_unit_test_setup_teardown(test_key_malformed, dir_setup, dir_teardown),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_same_bytes_as_mbedtls),
        cmocka_unit_test(test_nist_vector),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
