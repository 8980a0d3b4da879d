/*
 * test_sample.c — the spot-check draw (core/sample.h): the bytes of the
 * seed and the rank, the same inputs giving the same sample, a different
 * beacon a different one, a smaller sample a prefix of a larger one, the
 * sizes per county, the population's leaf rule, and a chi-square test that
 * every case is drawn with the same probability.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sample.h"

/* A population of n cases spread over the given counties in turn. */
static hcp_sample_item *make_items(size_t n, const char *const *counties, size_t nc)
{
    hcp_sample_item *it = calloc(n, sizeof(*it));
    assert_non_null(it);
    for (size_t i = 0; i < n; i++) {
        snprintf(it[i].county, sizeof(it[i].county), "%s", counties[i % nc]);
        snprintf(it[i].id, sizeof(it[i].id), "%s-20261105-%04zu", counties[i % nc], i + 1);
    }
    return it;
}

/* The drawn ids, sorted, joined into one string (for comparisons). */
static char *drawn_ids(const hcp_sample_item *it, size_t n)
{
    char *s = calloc(n * (HCP_CASE_ID_MAX + 2) + 1, 1);
    assert_non_null(s);
    for (size_t i = 0; i < n; i++)
        if (it[i].drawn) {
            strcat(s, it[i].id);
            strcat(s, ",");
        }
    return s;
}

static const char *const counties3[] = {"630102", "630103", "632821"};

/* seed and rank are exactly SHA-256 over the documented bytes. */
static void test_bytes(void **state)
{
    (void)state;
    uint8_t root[32] = {0}, seed[32], want[32], rank[32];
    for (int i = 0; i < 32; i++)
        root[i] = (uint8_t)i;
    assert_int_equal(hcp_sample_seed(root, "beacon", 6, seed), HCP_OK);
    const void *p[2] = {root, "beacon"};
    size_t l[2] = {32, 6};
    assert_int_equal(hcp_sha256(p, l, 2, want), HCP_OK);
    assert_memory_equal(seed, want, 32);
    assert_int_equal(hcp_sample_rank(seed, "630102-20261105-0001", 20, rank), HCP_OK);
    const void *q[2] = {seed, "630102-20261105-0001"};
    size_t m[2] = {32, 20};
    assert_int_equal(hcp_sha256(q, m, 2, want), HCP_OK);
    assert_memory_equal(rank, want, 32);
    /* a known answer: SHA-256 of 32 zero bytes and "x", so another
     * implementation can check itself against this file */
    uint8_t zero[32] = {0};
    assert_int_equal(hcp_sample_seed(zero, "", 0, seed), HCP_OK);
    static const uint8_t sha_zero32[32] = {0x66, 0x68, 0x7a, 0xad, 0xf8, 0x62, 0xbd, 0x77,
                                           0x6c, 0x8f, 0xc1, 0x8b, 0x8e, 0x9f, 0x8e, 0x20,
                                           0x08, 0x97, 0x14, 0x85, 0x6e, 0xe2, 0x33, 0xb3,
                                           0x90, 0x2a, 0x59, 0x1d, 0x0d, 0x5f, 0x29, 0x25};
    assert_memory_equal(seed, sha_zero32, 32);
    assert_int_equal(hcp_sample_seed(root, "\xff", 1, seed), HCP_EUTF8);
}

static void test_rate_and_size(void **state)
{
    (void)state;
    uint32_t ppm = 0;
    assert_int_equal(hcp_sample_rate_ppm(0.07, &ppm), HCP_OK);
    assert_int_equal(ppm, 70000);
    assert_int_equal(hcp_sample_rate_ppm(1.0, &ppm), HCP_OK);
    assert_int_equal(ppm, 1000000);
    assert_int_equal(hcp_sample_rate_ppm(0.0000001, &ppm), HCP_EINVAL);
    assert_int_equal(hcp_sample_rate_ppm(1.5, &ppm), HCP_EINVAL);
    assert_int_equal(hcp_sample_rate_ppm(-0.1, &ppm), HCP_EINVAL);
    /* 7 % of 100 is exactly 7 (a double product would give 7.000000000000001) */
    assert_int_equal(hcp_sample_size(100, 70000, 0), 7);
    assert_int_equal(hcp_sample_size(101, 70000, 0), 8);
    assert_int_equal(hcp_sample_size(10, 50000, 3), 3);
    assert_int_equal(hcp_sample_size(2, 50000, 3), 2);
    assert_int_equal(hcp_sample_size(0, 50000, 3), 0);
    assert_int_equal(hcp_sample_size(1000000, 1000000, 0), 1000000);
}

/* Same inputs, same sample (also when the population comes in another
 * order); another beacon, another sample; sizes per county. */
static void test_same_and_different(void **state)
{
    (void)state;
    uint8_t root[32] = {7}, s1[32], s2[32];
    const char *b1 = "2026-12-01 双色球 03 07 12", *b2 = "2026-12-01 双色球 03 07 13";
    assert_int_equal(hcp_sample_seed(root, b1, strlen(b1), s1), HCP_OK);
    assert_int_equal(hcp_sample_seed(root, b2, strlen(b2), s2), HCP_OK);
    size_t n = 300;
    hcp_sample_item *a = make_items(n, counties3, 3), *b = make_items(n, counties3, 3);
    hcp_sample_item *c = make_items(n, counties3, 3);
    for (size_t i = 0; i < n / 2; i++) { /* b in reverse order */
        hcp_sample_item t = b[i];
        b[i] = b[n - 1 - i];
        b[n - 1 - i] = t;
    }
    assert_int_equal(hcp_sample_draw(s1, a, n, 50000, 2), HCP_OK);
    assert_int_equal(hcp_sample_draw(s1, b, n, 50000, 2), HCP_OK);
    assert_int_equal(hcp_sample_draw(s2, c, n, 50000, 2), HCP_OK);
    char *da = drawn_ids(a, n), *db = drawn_ids(b, n), *dc = drawn_ids(c, n);
    assert_string_equal(da, db);
    assert_string_not_equal(da, dc);
    size_t per[3] = {0};
    for (size_t i = 0; i < n; i++)
        for (int k = 0; k < 3; k++)
            per[k] += a[i].drawn && strcmp(a[i].county, counties3[k]) == 0;
    for (int k = 0; k < 3; k++)
        assert_int_equal(per[k], 5); /* ceil(5 % of 100) */
    free(da);
    free(db);
    free(dc);
    free(a);
    free(b);
    free(c);
}

/* A smaller sample is a prefix of a larger one, by rate and by minimum. */
static void test_prefix(void **state)
{
    (void)state;
    uint8_t root[32] = {1}, seed[32];
    assert_int_equal(hcp_sample_seed(root, "b", 1, seed), HCP_OK);
    size_t n = 600;
    hcp_sample_item *small = make_items(n, counties3, 3), *big = make_items(n, counties3, 3);
    assert_int_equal(hcp_sample_draw(seed, small, n, 10000, 1), HCP_OK);
    assert_int_equal(hcp_sample_draw(seed, big, n, 200000, 1), HCP_OK);
    size_t ns = 0, nb = 0;
    for (size_t i = 0; i < n; i++) { /* both sorted the same way */
        assert_string_equal(small[i].id, big[i].id);
        if (small[i].drawn)
            assert_true(big[i].drawn);
        ns += small[i].drawn;
        nb += big[i].drawn;
    }
    assert_int_equal(ns, 6);
    assert_int_equal(nb, 120);
    free(small);
    free(big);
}

/* Newton's square root: the test states its own bound without libm. */
static double sqrt_n(double x)
{
    double r = x > 1 ? x : 1;
    for (int i = 0; i < 60; i++)
        r = 0.5 * (r + x / r);
    return r;
}

/* Every case is drawn with the same probability: K cases in one county,
 * DRAWS fixed seeds (beacon "seed-<i>"), D drawn each time. Under equal
 * probability each case is drawn DRAWS·D/K times on average; the
 * statistic Σ (O−E)²/E is compared with the 99.99 % quantile of χ² with
 * K−1 degrees of freedom (Wilson–Hilferty, z = 3.719). Drawing without
 * replacement makes the counts negatively correlated, which only makes the
 * statistic smaller (its mean is K(1−D/K) = 15 < K−1 = 19): the bound is
 * conservative. The seeds are fixed, so the test is deterministic. */
static void test_equal_probability(void **state)
{
    (void)state;
    enum { K = 20, D = 5, DRAWS = 4000 };
    static const char *const one[] = {"630102"};
    unsigned counts[K] = {0};
    unsigned pos0[K] = {0}; /* how often each case is the first of the sample */
    uint8_t root[32] = {42};
    for (int s = 0; s < DRAWS; s++) {
        char beacon[32];
        int bl = snprintf(beacon, sizeof(beacon), "seed-%d", s);
        uint8_t seed[32];
        assert_int_equal(hcp_sample_seed(root, beacon, (size_t)bl, seed), HCP_OK);
        hcp_sample_item *it = make_items(K, one, 1);
        assert_int_equal(hcp_sample_draw(seed, it, K, 0, D), HCP_OK);
        for (int i = 0; i < K; i++) {
            int idx = atoi(it[i].id + 16) - 1;
            assert_true(idx >= 0 && idx < K);
            if (it[i].drawn)
                counts[idx]++;
            if (i == 0)
                pos0[idx]++;
        }
        free(it);
    }
    double e = (double)DRAWS * D / K, chi = 0, e0 = (double)DRAWS / K, chi0 = 0;
    for (int i = 0; i < K; i++) {
        chi += ((double)counts[i] - e) * ((double)counts[i] - e) / e;
        chi0 += ((double)pos0[i] - e0) * ((double)pos0[i] - e0) / e0;
    }
    double k = K - 1, z = 3.719, a = 2.0 / (9.0 * k);
    double c = 1 - a + z * sqrt_n(a);
    double bound = k * c * c * c; /* ≈ 51.1 for 19 degrees of freedom */
    print_message("chi-square %.2f (first place %.2f), bound %.2f at p = 1e-4, df %d\n", chi, chi0,
                  bound, K - 1);
    assert_true(bound > 45 && bound < 52);
    assert_true(chi < bound);
    assert_true(chi0 < bound);
}

/* The population's leaf rule: the first closed leaf decides, by its
 * step_datetime's Asia/Shanghai month; open leaves and later closed ones
 * do not; a leaf that is not a case is an error. */
static void test_population(void **state)
{
    (void)state;
    hcp_sample_pop p;
    assert_int_equal(hcp_sample_pop_init(&p, "2026-11", 7), HCP_OK);
    const char *leaves[] = {
        /* open: not yet */
        "{\"service_request_id\":\"630102-20261101-0001\",\"county\":\"630102\",\"status\":"
        "\"open\","
        "\"step_datetime\":\"2026-11-02T10:00:00+08:00\"}",
        /* closed in November */
        "{\"service_request_id\":\"630102-20261101-0001\",\"county\":\"630102\",\"status\":"
        "\"closed\","
        "\"step_datetime\":\"2026-11-20T10:00:00+08:00\"}",
        /* a later closed leaf of the same case: still once */
        "{\"service_request_id\":\"630102-20261101-0001\",\"county\":\"630102\",\"status\":"
        "\"closed\","
        "\"step_datetime\":\"2026-11-21T10:00:00+08:00\"}",
        /* closed 30 Nov 17:00 UTC = 1 Dec 01:00 in Shanghai: December */
        "{\"service_request_id\":\"630103-20261101-0002\",\"county\":\"630103\",\"status\":"
        "\"closed\","
        "\"step_datetime\":\"2026-11-30T17:00:00Z\"}",
        /* closed in October, re-closed in November: October's */
        "{\"service_request_id\":\"630103-20261001-0003\",\"county\":\"630103\",\"status\":"
        "\"closed\","
        "\"step_datetime\":\"2026-10-31T23:00:00+08:00\"}",
        "{\"service_request_id\":\"630103-20261001-0003\",\"county\":\"630103\",\"status\":"
        "\"closed\","
        "\"step_datetime\":\"2026-11-03T09:00:00+08:00\"}",
        /* 1 Nov 00:30 in Shanghai, still 31 Oct in UTC: November */
        "{\"service_request_id\":\"630103-20261101-0004\",\"county\":\"630103\",\"status\":"
        "\"closed\","
        "\"step_datetime\":\"2026-10-31T16:30:00Z\"}",
    };
    for (size_t i = 0; i < sizeof(leaves) / sizeof(*leaves); i++)
        assert_int_equal(hcp_sample_pop_leaf(&p, leaves[i], strlen(leaves[i])), HCP_OK);
    assert_int_equal(p.n, 2);
    assert_string_equal(p.items[0].id, "630102-20261101-0001");
    assert_string_equal(p.items[1].id, "630103-20261101-0004");
    assert_string_equal(p.items[1].county, "630103");
    const char *bad = "{\"county\":\"630102\",\"status\":\"closed\"}";
    assert_int_equal(hcp_sample_pop_leaf(&p, bad, strlen(bad)), HCP_EFORMAT);
    assert_int_equal(hcp_sample_pop_leaf(&p, "[\"closed\"]", 10), HCP_EFORMAT);
    /* a leaf that cannot say closed is passed over unparsed; an escaped
     * "closed" is still read as one */
    assert_int_equal(hcp_sample_pop_leaf(&p, "[1]", 3), HCP_OK);
    const char *open_leaf = "{\"service_request_id\":\"630102-20261101-0009\",\"county\":"
                            "\"630102\",\"status\":\"rectifying\",\"step_datetime\":"
                            "\"2026-11-02T10:00:00+08:00\"}";
    assert_int_equal(hcp_sample_pop_leaf(&p, open_leaf, strlen(open_leaf)), HCP_OK);
    const char *esc = "{\"service_request_id\":\"630102-20261101-0009\",\"county\":"
                      "\"630102\",\"status\":\"\\u0063losed\",\"step_datetime\":"
                      "\"2026-11-02T10:00:00+08:00\"}";
    assert_int_equal(hcp_sample_pop_leaf(&p, esc, strlen(esc)), HCP_OK);
    assert_int_equal(p.n, 3);
    assert_string_equal(p.items[2].id, "630102-20261101-0009");
    hcp_sample_pop_free(&p);
    assert_int_equal(hcp_sample_pop_init(&p, "2026-13", 7), HCP_EINVAL);
    assert_int_equal(hcp_sample_pop_init(&p, "2026-1", 6), HCP_EINVAL);
    hcp_sample_pop_free(&p);
    /* many cases: the seen-set grows */
    assert_int_equal(hcp_sample_pop_init(&p, "2026-11", 7), HCP_OK);
    for (int i = 0; i < 5000; i++) {
        char leaf[256];
        int l = snprintf(leaf, sizeof(leaf),
                         "{\"service_request_id\":\"630102-20261101-%05d\",\"county\":\"630102\","
                         "\"status\":\"closed\",\"step_datetime\":\"2026-11-20T10:00:00+08:00\"}",
                         i % 3000);
        assert_int_equal(hcp_sample_pop_leaf(&p, leaf, (size_t)l), HCP_OK);
    }
    assert_int_equal(p.n, 3000);
    hcp_sample_pop_free(&p);
}

/* Leaves read apart (hcp_sample_leaf_read, as the gateway's second thread
 * does for the second half of the log) and taken in order give the same
 * population as one pass of hcp_sample_pop_leaf: re-closings across the
 * halves, other months and open leaves included. */
static void test_read_then_take(void **state)
{
    (void)state;
    enum { N = 600 };
    static char leaves[N][256];
    for (int i = 0; i < N; i++) {
        int c = (i * 7) % 250; /* cases recur, some across the halves */
        snprintf(leaves[i], sizeof(leaves[i]),
                 "{\"service_request_id\":\"630102-20261101-%04d\",\"county\":\"6301%02d\","
                 "\"status\":\"%s\",\"step_datetime\":\"2026-%02d-1%dT10:00:00+08:00\"}",
                 c, 2 + c % 3, i % 4 == 0 ? "open" : "closed", i % 5 == 0 ? 10 : 11, i % 10);
    }
    hcp_sample_pop one, two;
    assert_int_equal(hcp_sample_pop_init(&one, "2026-11", 7), HCP_OK);
    assert_int_equal(hcp_sample_pop_init(&two, "2026-11", 7), HCP_OK);
    static hcp_sample_leaf read[N];
    for (int i = 0; i < N; i++) {
        assert_int_equal(hcp_sample_pop_leaf(&one, leaves[i], strlen(leaves[i])), HCP_OK);
        if (i >= N / 2)
            assert_int_equal(
                hcp_sample_leaf_read(two.year, two.month, leaves[i], strlen(leaves[i]), &read[i]),
                HCP_OK);
        else
            assert_int_equal(hcp_sample_pop_leaf(&two, leaves[i], strlen(leaves[i])), HCP_OK);
    }
    for (int i = N / 2; i < N; i++)
        assert_int_equal(hcp_sample_pop_take(&two, &read[i]), HCP_OK);
    assert_true(one.n > 50);
    assert_int_equal(one.n, two.n);
    for (size_t i = 0; i < one.n; i++) {
        assert_string_equal(one.items[i].id, two.items[i].id);
        assert_string_equal(one.items[i].county, two.items[i].county);
    }
    hcp_sample_pop_free(&one);
    hcp_sample_pop_free(&two);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bytes),
        cmocka_unit_test(test_rate_and_size),
        cmocka_unit_test(test_same_and_different),
        cmocka_unit_test(test_prefix),
        cmocka_unit_test(test_equal_probability),
        cmocka_unit_test(test_population),
        cmocka_unit_test(test_read_then_take),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
