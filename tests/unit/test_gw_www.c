/*
 * test_gw_www.c — the table of the page's embedded files (gateway/www.h):
 * every file is there once, in name order, with a plain name and its
 * bytes NUL-terminated; "/" is index.html; a path that names no file
 * (another directory, a trailing slash, "..", an empty name) is none.
 * That the bytes equal gateway/www and are served is test_page.py's part.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "www.h"

/* The files the page cannot work without. */
static void test_required(void **state)
{
    (void)state;
    static const char *const need[] = {"index.html", "case.html", "app.js",
                                       "case.js",    "common.js", "style.css"};
    for (size_t i = 0; i < sizeof(need) / sizeof(need[0]); i++) {
        char path[64] = "/";
        strcat(path, need[i]);
        const gw_www_file *f = gw_www_find(path);
        assert_non_null(f);
        assert_string_equal(f->name, need[i]);
        assert_true(gw_www_is_route(path));
    }
    assert_ptr_equal(gw_www_find("/"), gw_www_find("/index.html"));
}

/* Names sorted, distinct and plain; bytes present and NUL-terminated. */
static void test_table(void **state)
{
    (void)state;
    assert_true(gw_www_nfiles >= 6);
    for (size_t i = 0; i < gw_www_nfiles; i++) {
        const gw_www_file *f = &gw_www_files[i];
        assert_true(*f->len > 0);
        assert_int_equal(f->data[*f->len], 0);
        assert_int_equal(strspn(f->name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                         "0123456789._-"),
                         strlen(f->name));
        assert_int_not_equal(f->name[0], '.');
        if (i > 0)
            assert_true(strcmp(gw_www_files[i - 1].name, f->name) < 0);
    }
}

/* Paths that name no file. */
static void test_not_files(void **state)
{
    (void)state;
    static const char *const bad[] = {"",
                                      "index.html",
                                      "//index.html",
                                      "/index.html/",
                                      "/feed/index.html",
                                      "/../index.html",
                                      "/INDEX.HTML",
                                      "/index",
                                      "/v1/cases"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_null(gw_www_find(bad[i]));
        assert_false(gw_www_is_route(bad[i]));
    }
    assert_null(gw_www_find(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_required),
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_not_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
