/*
 * test_gw_feed_cache.c — the feed's page cache (gateway/feed_cache.h): a
 * page's ETag is a digest of its bytes (or, taken from a buffer, the digest
 * it is given); its gzip form decompresses to them,
 * has an ETag of its own (the page's with -gz), is made once and kept with
 * the page; pages are kept per version and key.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "feed_cache.h"
#include "gz_fixture.h"

/* A page of n bytes of JSON-like text. */
static gw_feed_page *page_of(size_t n, char fill)
{
    static char text[65536];
    assert_true(n <= sizeof(text));
    for (size_t i = 0; i < n; i++)
        text[i] = (char)(i % 97 == 0 ? ',' : fill + (char)(i % 7));
    return gw_feed_page_new(text, n, 1795744980);
}

static void test_etag(void **state)
{
    (void)state;
    gw_feed_page *a = page_of(43000, 'a'), *b = page_of(43000, 'a'), *c = page_of(43000, 'b');
    assert_non_null(a);
    assert_non_null(b);
    assert_non_null(c);
    assert_int_equal(strlen(a->etag), 34); /* "\"" 32 hex "\"" */
    assert_string_equal(a->etag, b->etag); /* the same bytes, the same validator */
    assert_string_not_equal(a->etag, c->etag);
    gw_feed_page_unref(a);
    gw_feed_page_unref(b);
    gw_feed_page_unref(c);
}

/* A page that takes a buffer's bytes: no copy, the ETag of the digest it
 * is given, the buffer left empty; its gzip form as any page's. */
static void test_take(void **state)
{
    (void)state;
    hcp_buf b;
    hcp_buf_init(&b, 1u << 20);
    static const char letters[] = "abcdefghij";
    for (int i = 0; i < 4000; i++)
        assert_int_equal(hcp_buf_append(&b, i % 50 == 0 ? "," : &letters[i % 10], 1), HCP_OK);
    uint8_t tag[32];
    for (int i = 0; i < 32; i++)
        tag[i] = (uint8_t)(0xa0 + i);
    assert_null(gw_feed_page_take(NULL, tag, 0));
    assert_null(gw_feed_page_take(&b, NULL, 0));
    assert_int_equal(b.len, 4000);
    hcp_buf copy;
    hcp_buf_init(&copy, 1u << 20);
    assert_int_equal(hcp_buf_append(&copy, b.data, b.len), HCP_OK);
    gw_feed_page *p = gw_feed_page_take(&b, tag, 1795744980);
    assert_non_null(p);
    assert_null(b.data); /* the page has it now */
    assert_int_equal(b.len, 0);
    assert_int_equal(b.cap, 0);
    assert_int_equal(p->len, 4000);
    assert_memory_equal(p->data, copy.data, 4000);
    assert_string_equal(p->etag, "\"a0a1a2a3a4a5a6a7a8a9aaabacadaeaf\"");
    assert_int_equal(p->lastmod, 1795744980);
    const gw_feed_gz *z = gw_feed_page_gzip(p);
    assert_non_null(z);
    assert_string_equal(z->etag, "\"a0a1a2a3a4a5a6a7a8a9aaabacadaeaf-gz\"");
    hcp_buf back;
    hcp_buf_init(&back, 1u << 20);
    gz_fixture_gunzip(z->data, z->len, &back);
    assert_int_equal(back.len, 4000);
    assert_memory_equal(back.data, copy.data, 4000);
    hcp_buf_free(&back);
    /* an empty buffer is no page */
    assert_null(gw_feed_page_take(&b, tag, 0));
    gw_feed_page_unref(p); /* frees the taken bytes (ASan checks) */
    hcp_buf_free(&copy);
    hcp_buf_free(&b);
}

static void test_gzip_form(void **state)
{
    (void)state;
    gw_feed_page *p = page_of(43000, 'a');
    assert_non_null(p);
    assert_null(gw_feed_page_gz_kept(p));
    const gw_feed_gz *z = gw_feed_page_gzip(p);
    assert_non_null(z);
    assert_ptr_equal(gw_feed_page_gz_kept(p), z);
    assert_ptr_equal(gw_feed_page_gzip(p), z); /* made once */
    assert_true(z->len > 18 && z->len < p->len / 4);
    hcp_buf back;
    hcp_buf_init(&back, 1u << 20);
    gz_fixture_gunzip(z->data, z->len, &back);
    assert_int_equal(back.len, p->len);
    assert_memory_equal(back.data, p->data, p->len);
    hcp_buf_free(&back);
    char want[GW_FEED_ETAG_LEN];
    snprintf(want, sizeof(want), "%.33s-gz\"", p->etag); /* its quote and 32 hex */
    assert_string_equal(z->etag, want);
    /* an empty page has a gzip form too */
    gw_feed_page *e = gw_feed_page_new("", 0, 0);
    assert_non_null(e);
    assert_non_null(gw_feed_page_gzip(e));
    gw_feed_page_unref(e);
    assert_null(gw_feed_page_gzip(NULL));
    assert_null(gw_feed_page_gz_kept(NULL));
    gw_feed_page_unref(p); /* frees the gzip form with it (ASan checks) */
}

static void test_cache(void **state)
{
    (void)state;
    gw_feed_cache *fc;
    assert_int_equal(gw_feed_cache_new(&fc, 100), HCP_OK);
    hcp_time mtime = 0;
    uint64_t v = gw_feed_cache_version(fc, &mtime);
    assert_int_equal(mtime, 100);
    gw_feed_page *p = page_of(1000, 'a');
    assert_non_null(gw_feed_page_gzip(p));
    gw_feed_cache_put(fc, "j|x", v, 0, p);
    gw_feed_page *got = gw_feed_cache_get(fc, "j|x", v, 200);
    assert_ptr_equal(got, p);
    assert_non_null(gw_feed_page_gz_kept(got)); /* the gzip form kept with the page */
    gw_feed_page_unref(got);
    assert_null(gw_feed_cache_get(fc, "j|y", v, 200));
    gw_feed_cache_changed(fc, 300);
    assert_null(gw_feed_cache_get(fc, "j|x", gw_feed_cache_version(fc, NULL), 200));
    gw_feed_page_unref(p);
    gw_feed_cache_free(fc);
}

/* A page read between other pages' puts stays kept, however many pass
 * through the cache (a crawler's deep pages beside the first page); keys
 * put once each are kept as long as their sets have room; a dead
 * version's pages go first; the same key is kept once. */
static void test_cache_sets(void **state)
{
    (void)state;
    gw_feed_cache *fc;
    assert_int_equal(gw_feed_cache_new(&fc, 100), HCP_OK);
    uint64_t v = gw_feed_cache_version(fc, NULL);
    gw_feed_page *hot = page_of(100, 'h');
    gw_feed_cache_put(fc, "j|hot", v, 0, hot);
    char key[32];
    for (int i = 0; i < 5000; i++) {
        gw_feed_page *p = page_of(10, 'c');
        snprintf(key, sizeof(key), "j|page=%d", i);
        gw_feed_cache_put(fc, key, v, 0, p);
        gw_feed_page_unref(p);
        gw_feed_page *got = gw_feed_cache_get(fc, "j|hot", v, 200);
        assert_ptr_equal(got, hot); /* with one slot per key it went at the first collision */
        gw_feed_page_unref(got);
    }
    /* 20 keys (a filter's pages 1..20) put in turn, then all read back:
     * 20 keys in 64 sets of 4 slots fit (in 256 single slots, two or more
     * usually shared one and pushed each other out) */
    gw_feed_cache_changed(fc, 300);
    v = gw_feed_cache_version(fc, NULL);
    for (int round = 0; round < 2; round++)
        for (int i = 1; i <= 20; i++) {
            snprintf(key, sizeof(key), "j|county=630100&page=%d", i);
            gw_feed_page *got = gw_feed_cache_get(fc, key, v, 400);
            if (round == 0) {
                assert_null(got); /* an older version's pages are not served */
                gw_feed_page *p = page_of(10, 'f');
                gw_feed_cache_put(fc, key, v, 0, p);
                gw_feed_page_unref(p);
            } else {
                assert_non_null(got);
                gw_feed_page_unref(got);
            }
        }
    /* the same key put again replaces its page, not another's */
    gw_feed_page *p2 = page_of(10, 'g');
    gw_feed_cache_put(fc, "j|county=630100&page=1", v, 0, p2);
    gw_feed_page *got = gw_feed_cache_get(fc, "j|county=630100&page=1", v, 400);
    assert_ptr_equal(got, p2);
    gw_feed_page_unref(got);
    gw_feed_page_unref(p2);
    for (int i = 2; i <= 20; i++) {
        snprintf(key, sizeof(key), "j|county=630100&page=%d", i);
        got = gw_feed_cache_get(fc, key, v, 400);
        assert_non_null(got);
        gw_feed_page_unref(got);
    }
    assert_null(gw_feed_cache_get(NULL, "j|x", v, 400));
    gw_feed_cache_put(NULL, "j|x", v, 0, hot); /* NULL-safe, no reference taken */
    gw_feed_page_unref(hot);
    gw_feed_cache_free(fc); /* the kept pages' last references (ASan checks) */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_etag),       cmocka_unit_test(test_take),
        cmocka_unit_test(test_gzip_form),  cmocka_unit_test(test_cache),
        cmocka_unit_test(test_cache_sets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
