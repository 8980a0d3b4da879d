/* test_division.c — the compiled-in division list: 44 counties in 8
 * prefectures, lookups by code, unknown and malformed codes, and parsing
 * once from several threads at the same time. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <pthread.h>
#include <cmocka.h>

#include "division.h"

/* First touch from several threads: everyone sees the same full table. */
static void *touch(void *arg)
{
    size_t n = 0;
    const hcp_division *t = hcp_divisions(&n);
    *(size_t *)arg = (n == 44 && t != NULL && strcmp(t[0].code, "630102") == 0) ? 1 : 0;
    return NULL;
}

/* Run before any other test so the parse really races. */
static void test_once_threads(void **state)
{
    (void)state;
    pthread_t th[8];
    size_t ok[8] = {0};
    for (int i = 0; i < 8; i++)
        assert_int_equal(pthread_create(&th[i], NULL, touch, &ok[i]), 0);
    for (int i = 0; i < 8; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        assert_int_equal(ok[i], 1);
    }
}

/* 44 entries, in file order, each well formed and unique. */
static void test_list(void **state)
{
    (void)state;
    size_t n = 0;
    const hcp_division *t = hcp_divisions(&n);
    assert_int_equal(n, 44);
    assert_string_equal(t[0].code, "630102");
    assert_string_equal(t[43].prefecture, "632800");
    size_t prefectures = 0;
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(strlen(t[i].code), 6);
        assert_int_equal(memcmp(t[i].code, t[i].prefecture, 4), 0);
        assert_true(strlen(t[i].name) > 0);
        assert_true(hcp_utf8_valid(t[i].name, strlen(t[i].name)));
        assert_ptr_equal(hcp_division_find(t[i].code), &t[i]);
        assert_true(hcp_prefecture_known(t[i].prefecture));
        if (i == 0 || strcmp(t[i].prefecture, t[i - 1].prefecture) != 0)
            prefectures++;
    }
    assert_int_equal(prefectures, 8);
    assert_non_null(hcp_divisions(NULL));
}

/* 630102 is 城东区 of 西宁市 (630100). */
static void test_find(void **state)
{
    (void)state;
    const hcp_division *d = hcp_division_find("630102");
    assert_non_null(d);
    assert_string_equal(d->name, "城东区");
    assert_string_equal(d->prefecture, "630100");
    assert_string_equal(d->prefecture_name, "西宁市");
    d = hcp_division_find("632723");
    assert_non_null(d);
    assert_string_equal(d->prefecture, "632700");
}

/* Unknown, malformed and NULL codes; prefectures are not counties. */
static void test_unknown(void **state)
{
    (void)state;
    assert_null(hcp_division_find("630101"));
    assert_null(hcp_division_find("632857")); /* 大柴旦: not in GB/T 2260 */
    assert_null(hcp_division_find("630100"));
    assert_null(hcp_division_find("630000"));
    assert_null(hcp_division_find("6301020"));
    assert_null(hcp_division_find("63010"));
    assert_null(hcp_division_find(""));
    assert_null(hcp_division_find(NULL));
    assert_true(hcp_prefecture_known("630100"));
    assert_true(hcp_prefecture_known("632800"));
    assert_false(hcp_prefecture_known("630000"));
    assert_false(hcp_prefecture_known("630102"));
    assert_false(hcp_prefecture_known("632900"));
    assert_false(hcp_prefecture_known("6301000"));
    assert_false(hcp_prefecture_known(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_once_threads),
        cmocka_unit_test(test_list),
        cmocka_unit_test(test_find),
        cmocka_unit_test(test_unknown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
