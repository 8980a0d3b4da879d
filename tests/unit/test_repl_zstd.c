/*
 * test_repl_zstd.c — compressed batches (replication/frame.c, docs/
 * replication.md "Compression"): the events of a batch and of an events
 * answer round-trip compressed; small or incompressible events go plain;
 * the "zstd" offer round-trips in hello, challenge and welcome and is 0
 * when absent (an older peer); and hostile compressed frames are refused
 * before or without allocating past the limits: a declared size over
 * REPL_FRAME_MAX, a size that differs from the zstd header's, a frame
 * without a stated size, two frames (one hiding a bomb), garbage, a
 * compressed array that is not events, both forms at once, a lone key;
 * truncation at every offset. The counters repl_zstd_stats reports.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <msgpack.h>
#include <zstd.h>

#include "codec.h"
#include "repl.h"

#define NEV 200

static const char zh[] =
    "西宁市城东区政务服务大厅：投诉窗口态度差，要求整改。办理营业执照等了三天。";

/* Records of about 600 bytes, alike as real events are (keys, units,
 * text), different in their counters. */
static uint8_t recs[NEV][640];
static size_t rec_len[NEV];
static repl_event evs[NEV];

/* Fill evs[0..n) with such records (every third one with a personal record). */
static void make_events(size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int k = snprintf((char *)recs[i], sizeof(recs[i]),
                         "{\"unit\":\"U%zu\",\"item\":\"营业执照\",\"rating\":%zu,\"t\":\"%s%s%s "
                         "第%zu号\",\"at\":\"2026-12-03T22:%02zu:00+08:00\"}",
                         i % 7, 3 + i % 3, zh, zh, zh, i * 7919, i % 60);
        rec_len[i] = (size_t)k;
        memset(&evs[i], 0, sizeof(evs[i]));
        evs[i].rec = recs[i];
        evs[i].rec_len = rec_len[i];
        for (size_t j = 0; j < HCP_HASH_LEN; j++)
            evs[i].hash[j] = (uint8_t)(i * 13 + j);
        if (i % 3 == 0) {
            evs[i].pii = (const uint8_t *)"张三 13800000000";
            evs[i].pii_len = strlen("张三 13800000000");
        }
    }
}

/* A batch of n events, compressed at level when it pays. */
static repl_frame batch(size_t n, int level)
{
    static const uint8_t sig[1] = {0};
    repl_frame f = {.type = REPL_BATCH, .seq = 100, .events = evs, .nevents = n};
    strcpy(f.county, "630102");
    f.sig = sig;
    f.sig_len = 1;
    f.zlevel = level;
    return f;
}

/* Whether the msgpack map in b has the string key k. */
static bool has_key(const hcp_buf *b, const char *k)
{
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    size_t off = 0;
    bool found = false;
    if (msgpack_unpack_next(&up, (const char *)b->data, b->len, &off) == MSGPACK_UNPACK_SUCCESS &&
        up.data.type == MSGPACK_OBJECT_MAP)
        for (uint32_t i = 0; i < up.data.via.map.size; i++) {
            const msgpack_object *o = &up.data.via.map.ptr[i].key;
            if (o->type == MSGPACK_OBJECT_STR && o->via.str.size == strlen(k) &&
                memcmp(o->via.str.ptr, k, o->via.str.size) == 0)
                found = true;
        }
    msgpack_unpacked_destroy(&up);
    return found;
}

static void test_batch_round_trip(void **state)
{
    (void)state;
    make_events(NEV);
    repl_zstd_stats before, after;
    repl_zstd_stats_get(&before);
    repl_frame f = batch(NEV, REPL_ZSTD_LEVEL);
    hcp_buf b;
    hcp_buf_init(&b, REPL_FRAME_MAX);
    assert_int_equal(repl_encode(&f, &b), HCP_OK);
    assert_true(has_key(&b, "zev"));
    assert_true(has_key(&b, "zlen"));
    assert_false(has_key(&b, "events"));
    hcp_buf plain;
    hcp_buf_init(&plain, REPL_FRAME_MAX);
    f.zlevel = 0;
    assert_int_equal(repl_encode(&f, &plain), HCP_OK);
    assert_true(has_key(&plain, "events"));
    assert_true(b.len * 3 < plain.len); /* alike records compress well */

    repl_frame g;
    assert_int_equal(repl_decode(b.data, b.len, &g), HCP_OK);
    assert_int_equal(g.type, REPL_BATCH);
    assert_int_equal(g.nevents, NEV);
    assert_non_null(g.zbuf);
    assert_true(g.zwire > 0 && g.zwire < b.len);
    for (size_t i = 0; i < NEV; i++) {
        assert_int_equal(g.events[i].rec_len, rec_len[i]);
        assert_memory_equal(g.events[i].rec, recs[i], rec_len[i]);
        assert_memory_equal(g.events[i].hash, evs[i].hash, HCP_HASH_LEN);
        assert_int_equal(g.events[i].pii_len, evs[i].pii_len);
        /* borrowed from the frame's own decompressed copy */
        assert_true(g.events[i].rec >= g.zbuf);
    }
    repl_frame_clear(&g);
    repl_zstd_stats_get(&after);
    assert_int_equal(after.sent, before.sent + 1);
    assert_int_equal(after.recv, before.recv + 1);
    assert_true(after.sent_raw - before.sent_raw > after.sent_wire - before.sent_wire);
    assert_int_equal(after.recv_raw - before.recv_raw, after.sent_raw - before.sent_raw);

    /* the same frame decoded by the plain path gives the same events */
    assert_int_equal(repl_decode(plain.data, plain.len, &g), HCP_OK);
    assert_null(g.zbuf);
    assert_int_equal(g.zwire, 0);
    repl_frame_clear(&g);
    hcp_buf_free(&plain);
    hcp_buf_free(&b);

    /* an events answer (fetch) compresses the same way */
    repl_frame e = {.type = REPL_EVENTS, .seq = 5000, .events = evs, .nevents = NEV, .zlevel = 1};
    hcp_buf_init(&b, REPL_FRAME_MAX);
    assert_int_equal(repl_encode(&e, &b), HCP_OK);
    assert_true(has_key(&b, "zev"));
    assert_int_equal(repl_decode(b.data, b.len, &g), HCP_OK);
    assert_int_equal(g.nevents, NEV);
    assert_memory_equal(g.events[NEV - 1].rec, recs[NEV - 1], rec_len[NEV - 1]);
    repl_frame_clear(&g);
    hcp_buf_free(&b);
}

static void test_small_and_incompressible_go_plain(void **state)
{
    (void)state;
    make_events(1);
    repl_frame f = batch(1, REPL_ZSTD_LEVEL); /* one live event: under REPL_ZSTD_MIN */
    hcp_buf b;
    hcp_buf_init(&b, REPL_FRAME_MAX);
    assert_int_equal(repl_encode(&f, &b), HCP_OK);
    assert_true(has_key(&b, "events"));
    assert_false(has_key(&b, "zev"));
    hcp_buf_free(&b);

    /* random bytes do not get smaller: sent as they are */
    static uint8_t rnd[8][600];
    uint32_t x = 2463534242u;
    for (size_t i = 0; i < 8; i++) {
        for (size_t j = 0; j < sizeof(rnd[i]); j++) {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            rnd[i][j] = (uint8_t)x;
        }
        evs[i].rec = rnd[i];
        evs[i].rec_len = sizeof(rnd[i]) - HCP_HASH_LEN;
        memcpy(evs[i].hash, rnd[i] + evs[i].rec_len, HCP_HASH_LEN);
        evs[i].pii = NULL;
        evs[i].pii_len = 0;
    }
    f = batch(8, 19);
    hcp_buf_init(&b, REPL_FRAME_MAX);
    assert_int_equal(repl_encode(&f, &b), HCP_OK);
    assert_false(has_key(&b, "zev"));
    repl_frame g;
    assert_int_equal(repl_decode(b.data, b.len, &g), HCP_OK);
    assert_int_equal(g.nevents, 8);
    repl_frame_clear(&g);
    hcp_buf_free(&b);

    /* frames that carry no events are never touched by zlevel */
    repl_frame p = {.type = REPL_PING, .zlevel = 3};
    hcp_buf_init(&b, REPL_FRAME_MAX);
    assert_int_equal(repl_encode(&p, &b), HCP_OK);
    hcp_buf_free(&b);
}

static void test_offer_keys(void **state)
{
    (void)state;
    static const uint8_t types[] = {REPL_HELLO, REPL_CHALLENGE, REPL_WELCOME};
    for (size_t t = 0; t < sizeof(types); t++) {
        for (uint32_t z = 0; z <= 1; z++) {
            repl_frame f = {.type = types[t], .v = 1, .vmin = 1, .zstd = z};
            strcpy(f.county, "630102");
            strcpy(f.node, "n-1");
            strcpy(f.gw, "gw");
            strcpy(f.state, "ok");
            hcp_buf b;
            hcp_buf_init(&b, REPL_FRAME_MAX);
            assert_int_equal(repl_encode(&f, &b), HCP_OK);
            assert_int_equal(has_key(&b, "zstd"), z == 1);
            repl_frame g;
            assert_int_equal(repl_decode(b.data, b.len, &g), HCP_OK);
            assert_int_equal(g.zstd, z); /* absent: 0, an older peer */
            repl_frame_clear(&g);
            hcp_buf_free(&b);
        }
    }
    /* other frames neither carry nor read it */
    repl_frame f = {.type = REPL_ACK, .seq = 0, .zstd = 1};
    hcp_buf b;
    hcp_buf_init(&b, REPL_FRAME_MAX);
    assert_int_equal(repl_encode(&f, &b), HCP_OK);
    assert_false(has_key(&b, "zstd"));
    hcp_buf_free(&b);
}

/* ---- hostile frames, packed by hand ---- */

/* A batch map with the given compressed bytes (zev, n; NULL: no key) and
 * declared size (zlen; < 0: no key), plus plain events when with_events. */
static hcp_buf hostile(const void *zev, size_t n, long long zlen, bool with_events)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    uint32_t keys = 4 + (zev != NULL) + (zlen >= 0) + with_events;
    msgpack_pack_map(&pk, keys);
    msgpack_pack_str_with_body(&pk, "t", 1);
    msgpack_pack_uint8(&pk, REPL_BATCH);
    msgpack_pack_str_with_body(&pk, "county", 6);
    msgpack_pack_str_with_body(&pk, "630102", 6);
    msgpack_pack_str_with_body(&pk, "seq", 3);
    msgpack_pack_uint64(&pk, 1);
    msgpack_pack_str_with_body(&pk, "sig", 3);
    msgpack_pack_bin_with_body(&pk, "x", 1);
    if (zlen >= 0) {
        msgpack_pack_str_with_body(&pk, "zlen", 4);
        msgpack_pack_uint64(&pk, (uint64_t)zlen);
    }
    if (zev != NULL) {
        msgpack_pack_str_with_body(&pk, "zev", 3);
        msgpack_pack_bin_with_body(&pk, zev, n);
    }
    if (with_events) {
        uint8_t h[HCP_HASH_LEN] = {0};
        msgpack_pack_str_with_body(&pk, "events", 6);
        msgpack_pack_array(&pk, 1);
        msgpack_pack_array(&pk, 2);
        msgpack_pack_bin_with_body(&pk, "r", 1);
        msgpack_pack_bin_with_body(&pk, h, sizeof(h));
    }
    hcp_buf b;
    hcp_buf_init(&b, REPL_FRAME_MAX);
    assert_int_equal(hcp_buf_append(&b, sb.data, sb.size), HCP_OK);
    msgpack_sbuffer_destroy(&sb);
    return b;
}

/* repl_decode of b must fail with rc (any error when rc is 0), without
 * leaking (repl_frame_clear after it, as callers do). */
static void refused(hcp_buf *b, int rc)
{
    repl_frame g;
    int got = repl_decode(b->data, b->len, &g);
    if (rc != 0)
        assert_int_equal(got, rc);
    else
        assert_int_not_equal(got, HCP_OK);
    repl_frame_clear(&g);
    hcp_buf_free(b);
}

/* A valid compressed events array of n events (caller frees *z). */
static size_t zevents(size_t n, uint8_t **z, size_t *raw)
{
    make_events(n);
    repl_frame f = batch(n, 0); /* its events array, packed as frame.c packs it */
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, n);
    for (size_t i = 0; i < n; i++) {
        msgpack_pack_array(&pk, 2);
        msgpack_pack_bin_with_body(&pk, f.events[i].rec, f.events[i].rec_len);
        msgpack_pack_bin_with_body(&pk, f.events[i].hash, HCP_HASH_LEN);
    }
    size_t cap = ZSTD_compressBound(sb.size);
    *z = malloc(cap);
    assert_non_null(*z);
    size_t zn = ZSTD_compress(*z, cap, sb.data, sb.size, 3);
    assert_false(ZSTD_isError(zn));
    *raw = sb.size;
    msgpack_sbuffer_destroy(&sb);
    return zn;
}

static void test_hostile_sizes(void **state)
{
    (void)state;
    uint8_t *z;
    size_t raw, zn = zevents(20, &z, &raw);
    /* the hand-made frame is accepted as it is: the cases below differ by one thing */
    hcp_buf b = hostile(z, zn, (long long)raw, false);
    repl_frame g;
    assert_int_equal(repl_decode(b.data, b.len, &g), HCP_OK);
    assert_int_equal(g.nevents, 20);
    repl_frame_clear(&g);
    hcp_buf_free(&b);

    repl_zstd_stats before, after;
    repl_zstd_stats_get(&before);
    b = hostile(z, zn, (long long)REPL_FRAME_MAX + 1, false); /* over the limit: refused unread */
    refused(&b, HCP_ERANGE);
    b = hostile(z, zn, (long long)raw - 1, false); /* a lie, smaller than the header says */
    refused(&b, HCP_EFORMAT);
    b = hostile(z, zn, (long long)raw + 1, false); /* a lie, larger */
    refused(&b, HCP_EFORMAT);
    b = hostile(z, zn, 0, false);
    refused(&b, 0);
    b = hostile(z, zn, -1, false); /* zev without zlen */
    refused(&b, HCP_EFORMAT);
    b = hostile(NULL, 0, (long long)raw, false); /* zlen without zev */
    refused(&b, HCP_EFORMAT);
    b = hostile(z, zn, (long long)raw, true); /* both forms */
    refused(&b, HCP_EFORMAT);
    repl_zstd_stats_get(&after);
    assert_true(after.refused >= before.refused + 4);

    /* truncated compressed bytes, at every length: refused, never a crash */
    for (size_t cut = 1; cut < zn; cut++) {
        b = hostile(z, cut, (long long)raw, false);
        refused(&b, 0);
    }
    free(z);
}

static void test_hostile_bombs(void **state)
{
    (void)state;
    /* 64 MiB of zeros compress to a few KiB: header states 64 MiB */
    size_t big = 64u << 20;
    uint8_t *zeros = calloc(1, big);
    assert_non_null(zeros);
    size_t cap = ZSTD_compressBound(big);
    uint8_t *z = malloc(cap);
    assert_non_null(z);
    size_t zn = ZSTD_compress(z, cap, zeros, big, 1);
    assert_false(ZSTD_isError(zn));
    assert_true(zn < 64 * 1024);
    hcp_buf b = hostile(z, zn, (long long)big, false); /* honest about its size: over the limit */
    refused(&b, HCP_ERANGE);
    b = hostile(z, zn, 1000, false); /* lying about it */
    refused(&b, HCP_EFORMAT);
    free(z);

    /* no size in the header (streaming compression), a small declared one */
    ZSTD_CCtx *cc = ZSTD_createCCtx();
    assert_non_null(cc);
    assert_false(ZSTD_isError(ZSTD_CCtx_setParameter(cc, ZSTD_c_contentSizeFlag, 0)));
    z = malloc(cap);
    assert_non_null(z);
    ZSTD_outBuffer out = {z, cap, 0};
    ZSTD_inBuffer in = {zeros, 8u << 20, 0};
    size_t left = ZSTD_compressStream2(cc, &out, &in, ZSTD_e_end);
    assert_int_equal(left, 0);
    ZSTD_freeCCtx(cc);
    assert_true(ZSTD_getFrameContentSize(z, out.pos) == ZSTD_CONTENTSIZE_UNKNOWN);
    b = hostile(z, out.pos, 4096, false);
    refused(&b, HCP_EFORMAT);

    /* an honest small frame followed by a bomb: one frame exactly, or nothing */
    uint8_t *z2;
    size_t raw, zn2 = zevents(5, &z2, &raw);
    uint8_t *two = malloc(zn2 + out.pos);
    assert_non_null(two);
    memcpy(two, z2, zn2);
    memcpy(two + zn2, z, out.pos);
    b = hostile(two, zn2 + out.pos, (long long)raw, false);
    refused(&b, HCP_EFORMAT);
    free(two);
    free(z2);
    free(z);

    /* garbage, and a valid zstd frame of something that is not events */
    static const uint8_t junk[] = "\x28\xb5\x2f\xfd not zstd at all, only its magic";
    b = hostile(junk, sizeof(junk) - 1, 100, false);
    refused(&b, HCP_EFORMAT);
    size_t tn = ZSTD_compress(zeros + 1, cap - 1, "hello world, hello world", 24, 3);
    assert_false(ZSTD_isError(tn));
    b = hostile(zeros + 1, tn, 24, false);
    refused(&b, 0);
    free(zeros);
}

static void test_metrics_text(void **state)
{
    (void)state;
    hcp_buf b;
    hcp_buf_init(&b, 1u << 16);
    assert_int_equal(repl_zstd_metrics("hcp_node_sync", &b), HCP_OK);
    assert_int_equal(hcp_buf_append(&b, "", 1), HCP_OK);
    const char *t = (const char *)b.data;
    assert_non_null(strstr(t, "# TYPE hcp_node_sync_zstd_level gauge\n"));
    assert_non_null(strstr(t, "hcp_node_sync_zstd_frames_sent_total "));
    assert_non_null(strstr(t, "hcp_node_sync_zstd_refused_total "));
    hcp_buf_free(&b);
    assert_int_equal(repl_zstd_metrics(NULL, &b), HCP_EINVAL);
    /* HCP_REPL_ZSTD unset in the test's environment: the default level */
    assert_int_equal(repl_zstd_level(), REPL_ZSTD_LEVEL);
}

int main(void)
{
    (void)unsetenv("HCP_REPL_ZSTD");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_batch_round_trip),
        cmocka_unit_test(test_small_and_incompressible_go_plain),
        cmocka_unit_test(test_offer_keys),
        cmocka_unit_test(test_hostile_sizes),
        cmocka_unit_test(test_hostile_bombs),
        cmocka_unit_test(test_metrics_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
