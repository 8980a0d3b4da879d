/* test_division.c — the compiled-in division list: 44 counties in 8
 * prefectures, lookups by code, unknown and malformed codes, and parsing
 * once from several threads at the same time; then a list loaded from a
 * file (--divisions): every malformed file refused with its file:line and
 * the list in use unchanged, a good one replacing it, the row ceiling, and
 * a load while other threads look codes up. The loader tests run last:
 * they replace the process's list. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>
#include <cmocka.h>

#include "division.h"

/* The one county-code syntax check: six ASCII digits, nothing about "00"
 * (the gateway signs with the province's code). */
static void test_county_code_ok(void **state)
{
    (void)state;
    assert_true(hcp_county_code_ok("630102", 6));
    assert_true(hcp_county_code_ok("630000", 6));
    assert_true(hcp_county_code_ok("6301029", 6)); /* only the n bytes count */
    assert_false(hcp_county_code_ok("63010", 5));
    assert_false(hcp_county_code_ok("6301029", 7));
    assert_false(hcp_county_code_ok("63010a", 6));
    assert_false(hcp_county_code_ok("63 102", 6));
    assert_false(hcp_county_code_ok(NULL, 6));
    assert_true(hcp_county_str_ok("630102"));
    assert_false(hcp_county_str_ok("6301020"));
    assert_false(hcp_county_str_ok("63010"));
    assert_false(hcp_county_str_ok(""));
    assert_false(hcp_county_str_ok("/30102"));
    assert_false(hcp_county_str_ok(":30102"));
    assert_false(hcp_county_str_ok(NULL));
}

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

/* ---- loading a file ---- */

#define HEADER "code\tname\tprefecture_code\tprefecture_name\n"

static char tmpdir[64];

/* Write len bytes to DIR/name; the path into path (PATH_LEN bytes). */
#define PATH_LEN 128
static void put(const char *name, const void *data, size_t len, char path[PATH_LEN])
{
    if (tmpdir[0] == '\0') {
        snprintf(tmpdir, sizeof(tmpdir), "/tmp/hcp_test_division_XXXXXX");
        assert_non_null(mkdtemp(tmpdir));
    }
    snprintf(path, PATH_LEN, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

/* Load text as a file: the code, and the message in err. */
static int load_text(const char *name, const char *text, char *err, size_t errlen)
{
    char path[PATH_LEN];
    put(name, text, strlen(text), path);
    return hcp_divisions_load(path, err, errlen);
}

/* The compiled-in list is still the one in use. */
static void still_builtin(void)
{
    size_t n = 0;
    hcp_divisions(&n);
    assert_int_equal(n, 44);
    assert_non_null(hcp_division_find("630102"));
}

/* One malformed file: refused with rc, the message names FILE:LINE (line
 * 0: no line) and holds what; the list in use does not change. */
static void refused(const char *text, int rc, int line, const char *what)
{
    char err[512], want[PATH_LEN + 16];
    assert_int_equal(load_text("bad.tsv", text, err, sizeof(err)), rc);
    if (line > 0)
        snprintf(want, sizeof(want), "%s/bad.tsv:%d: ", tmpdir, line);
    else
        snprintf(want, sizeof(want), "%s/bad.tsv: ", tmpdir);
    if (strncmp(err, want, strlen(want)) != 0 || strstr(err, what) == NULL)
        fail_msg("error \"%s\": expected it to start with \"%s\" and hold \"%s\"", err, want, what);
    still_builtin();
}

/* Every kind of malformed file, and bad arguments. */
static void test_load_refused(void **state)
{
    (void)state;
    char err[512];
    refused("", HCP_EFORMAT, 0, "no header");
    refused("# only a comment\n\n", HCP_EFORMAT, 0, "no header");
    refused(HEADER "# no rows\n", HCP_EFORMAT, 0, "no divisions");
    refused("code\tname\n630102\tx\n", HCP_EFORMAT, 1, "header");
    refused("# c\n\n" HEADER "630102\t城东区\t630100\n", HCP_EFORMAT, 4, "4 tab-separated");
    refused(HEADER "630102\ta\t630100\tb\tc\n", HCP_EFORMAT, 2, "4 tab-separated");
    refused(HEADER "63010a\ta\t630100\tb\n", HCP_EFORMAT, 2, "not six digits");
    refused(HEADER "6301021\ta\t630100\tb\n", HCP_EFORMAT, 2, "not six digits");
    refused(HEADER "630100\ta\t630100\tb\n", HCP_EFORMAT, 2, "ends in 00");
    refused(HEADER "630102\ta\t63010\tb\n", HCP_EFORMAT, 2, "prefecture_code");
    refused(HEADER "630102\ta\t630200\tb\n", HCP_EFORMAT, 2, "expected 630100");
    refused(HEADER "630102\ta\t630101\tb\n", HCP_EFORMAT, 2, "expected 630100");
    refused(HEADER "630102\t\t630100\tb\n", HCP_EFORMAT, 2, "name is empty");
    refused(HEADER "630102\ta\t630100\t\n", HCP_EFORMAT, 2, "prefecture_name is empty");
    refused(HEADER "630102\t\xff\xfe\t630100\tb\n", HCP_EUTF8, 2, "UTF-8");
    refused(HEADER "630102\ta\x1b[0m\t630100\tb\n", HCP_EFORMAT, 2, "control character");
    refused(HEADER "630102\ta\t630100\tb\n630103\tc\t630100\tb\r\n630102\td\t630100\tb\n",
            HCP_EFORMAT, 4, "630102 listed twice (also line 2)");
    char longline[HCP_DIVISIONS_LINE_MAX + 64];
    snprintf(longline, sizeof(longline), HEADER "630102\t%0*d\t630100\tb\n", HCP_DIVISIONS_LINE_MAX,
             0);
    refused(longline, HCP_ERANGE, 2, "longer than");

    /* a NUL byte (strlen cannot carry it) */
    char path[PATH_LEN];
    static const char nul[] = HEADER "630102\ta\0b\t630100\tb\n";
    put("bad.tsv", nul, sizeof(nul) - 1, path);
    assert_int_equal(hcp_divisions_load(path, err, sizeof(err)), HCP_EFORMAT);
    assert_non_null(strstr(err, "bad.tsv:2: holds a NUL byte"));
    still_builtin();

    /* over the size ceiling */
    size_t big = HCP_DIVISIONS_FILE_MAX + 1;
    char *text = malloc(big);
    assert_non_null(text);
    memset(text, '#', big);
    put("bad.tsv", text, big, path);
    free(text);
    assert_int_equal(hcp_divisions_load(path, err, sizeof(err)), HCP_ERANGE);
    assert_non_null(strstr(err, "bad.tsv: larger than"));
    still_builtin();

    /* cannot be read; no path */
    snprintf(path, sizeof(path), "%s/missing.tsv", tmpdir);
    assert_int_equal(hcp_divisions_load(path, err, sizeof(err)), HCP_EIO);
    assert_non_null(strstr(err, "missing.tsv: cannot open"));
    assert_int_equal(hcp_divisions_load(tmpdir, err, sizeof(err)), HCP_EIO); /* a directory */
    assert_int_equal(hcp_divisions_load(NULL, err, sizeof(err)), HCP_EINVAL);
    assert_int_equal(hcp_divisions_load("", NULL, 0), HCP_EINVAL);
    assert_int_equal(load_text("bad.tsv", "", NULL, 0), HCP_EFORMAT); /* err may be NULL */
    still_builtin();
}

/* A rows file of n counties, 99 to a prefecture starting at 100000 (codes
 * never end in 00), malloc'd; its length in *len. */
static char *rows_text(size_t n, size_t *len)
{
    size_t cap = 64 + n * 64, k = 0;
    char *t = malloc(cap);
    assert_non_null(t);
    k += (size_t)snprintf(t, cap, HEADER);
    for (size_t i = 0; i < n; i++) {
        unsigned code = 100000 + 100 * (unsigned)(i / 99) + 1 + (unsigned)(i % 99);
        k += (size_t)snprintf(t + k, cap - k, "%06u\t测试县%06u\t%04u00\t测试州%04u\n", code, code,
                              code / 100, code / 100);
    }
    *len = k;
    return t;
}

/* A good file: comments, blanks and CRLF; it replaces the list in file
 * order; the compiled-in codes are no longer known, but pointers taken
 * from the compiled-in list stay readable. */
static void test_load_ok(void **state)
{
    (void)state;
    const hcp_division *old = hcp_division_find("630102");
    assert_non_null(old);
    char err[512];
    assert_int_equal(load_text("ok.tsv",
                               "# two prefectures\r\n\r\n" HEADER
                               "110105\t朝阳区\t110100\t北京市\r\n"
                               "# a comment between rows\n"
                               "110101\t东城区\t110100\t北京市\n"
                               "120101\t和平区\t120100\t天津市",
                               err, sizeof(err)),
                     HCP_OK);
    assert_string_equal(err, "");
    size_t n = 0;
    const hcp_division *t = hcp_divisions(&n);
    assert_int_equal(n, 3);
    assert_string_equal(t[0].code, "110105");
    assert_string_equal(t[1].code, "110101");
    assert_string_equal(t[2].name, "和平区");
    assert_string_equal(t[2].prefecture_name, "天津市");
    assert_ptr_equal(hcp_division_find("110101"), &t[1]);
    assert_ptr_equal(hcp_division_find("110105"), &t[0]);
    assert_ptr_equal(hcp_division_find("120101"), &t[2]);
    assert_null(hcp_division_find("630102"));
    assert_null(hcp_division_find("110102"));
    assert_true(hcp_prefecture_known("110100"));
    assert_false(hcp_prefecture_known("630100"));
    assert_string_equal(old->name, "城东区"); /* never freed */
}

/* HCP_DIVISIONS_MAX rows load and are all found; one more is refused
 * with the list in use unchanged. */
static void test_load_ceiling(void **state)
{
    (void)state;
    char err[512], path[PATH_LEN];
    size_t len;
    char *text = rows_text(HCP_DIVISIONS_MAX + 1, &len);
    put("over.tsv", text, len, path);
    assert_int_equal(hcp_divisions_load(path, err, sizeof(err)), HCP_ERANGE);
    assert_non_null(strstr(err, "more than"));
    size_t n = 0;
    hcp_divisions(&n);
    assert_int_equal(n, 3); /* test_load_ok's */
    free(text);
    text = rows_text(HCP_DIVISIONS_MAX, &len);
    put("max.tsv", text, len, path);
    free(text);
    assert_int_equal(hcp_divisions_load(path, err, sizeof(err)), HCP_OK);
    const hcp_division *t = hcp_divisions(&n);
    assert_int_equal(n, HCP_DIVISIONS_MAX);
    for (size_t i = 0; i < n; i++)
        assert_ptr_equal(hcp_division_find(t[i].code), &t[i]);
    assert_string_equal(t[0].code, "100001");
    assert_string_equal(t[0].prefecture, "100000");
    assert_null(hcp_division_find("100000"));
    assert_null(hcp_division_find("100100"));
}

/* Readers look codes up while lists are loaded (ThreadSanitizer's case):
 * every answer comes whole from one list or the other. */
static atomic_bool readers_stop;
static void *reader(void *arg)
{
    size_t bad = 0;
    while (!atomic_load(&readers_stop)) {
        size_t n = 0;
        const hcp_division *t = hcp_divisions(&n);
        if ((n != 2 && n != HCP_DIVISIONS_MAX && n != 3) || strlen(t[n - 1].code) != 6)
            bad++;
        const hcp_division *d = hcp_division_find("100001");
        if (d != NULL && strcmp(d->code, "100001") != 0)
            bad++;
    }
    *(size_t *)arg = bad;
    return NULL;
}

static void test_load_while_reading(void **state)
{
    (void)state;
    pthread_t th[4];
    size_t bad[4];
    char err[512];
    atomic_store(&readers_stop, false);
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&th[i], NULL, reader, &bad[i]), 0);
    for (int i = 0; i < 20; i++) {
        const char *text = i % 2 ? HEADER "100001\ta\t100000\tb\n100002\tc\t100000\tb\n"
                                 : HEADER "100001\ta\t100000\tb\n100003\tc\t100000\tb\n"
                                          "100004\td\t100000\tb\n";
        assert_int_equal(load_text(i % 2 ? "r1.tsv" : "r2.tsv", text, err, sizeof(err)), HCP_OK);
    }
    atomic_store(&readers_stop, true);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        assert_int_equal(bad[i], 0);
    }
}

/* Remove the files the loader tests wrote. */
static int cleanup(void **state)
{
    (void)state;
    if (tmpdir[0] == '\0')
        return 0;
    static const char *names[] = {"bad.tsv", "ok.tsv", "over.tsv", "max.tsv", "r1.tsv", "r2.tsv"};
    char path[PATH_LEN];
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", tmpdir, names[i]);
        unlink(path);
    }
    return rmdir(tmpdir) == 0 ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_county_code_ok),
        cmocka_unit_test(test_once_threads),
        cmocka_unit_test(test_list),
        cmocka_unit_test(test_find),
        cmocka_unit_test(test_unknown),
        cmocka_unit_test(test_load_refused), /* the loader tests last: they replace the list */
        cmocka_unit_test(test_load_ok),
        cmocka_unit_test(test_load_ceiling),
        cmocka_unit_test(test_load_while_reading),
    };
    return cmocka_run_group_tests(tests, NULL, cleanup);
}
