/*
 * test_repl_frame.c — replication frames (replication/frame.c): round trip
 * of every frame type, a batch of many events with and without personal
 * records (Chinese bytes in the records), the byte fields borrowed from the
 * input buffer, required fields per type, unknown keys ignored, and
 * malformed input refused without a crash: truncation at every offset,
 * wrong types, oversize declared containers, too many events, oversize
 * frames, duplicate keys, unknown types; the encoder's own refusals.
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

#include "codec.h"
#include "repl.h"

static const char zh[] = "西宁市城东区政务服务大厅：投诉窗口态度差，要求整改。";

/* Encode f into a fresh buffer the caller frees; asserts success. */
static hcp_buf enc(const repl_frame *f)
{
    hcp_buf b;
    hcp_buf_init(&b, REPL_FRAME_MAX);
    assert_int_equal(repl_encode(f, &b), HCP_OK);
    return b;
}

/* Encode then decode into *out (cleared by the caller); returns the bytes
 * the frame borrows from (the caller frees). */
static hcp_buf round_trip(const repl_frame *f, repl_frame *out)
{
    hcp_buf b = enc(f);
    assert_int_equal(repl_decode(b.data, b.len, out), HCP_OK);
    assert_int_equal(out->type, f->type);
    return b;
}

/* Fill n bytes with a pattern depending on seed. */
static void fill(uint8_t *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(seed * 31u + i * 7u);
}

static void test_hello_challenge_auth(void **state)
{
    (void)state;
    repl_frame f = {.type = REPL_HELLO, .v = 3, .vmin = 1, .seq = 42, .has_hash = true};
    strcpy(f.county, "630102");
    strcpy(f.node, "n-7f3a9c");
    fill(f.hash, HCP_HASH_LEN, 1);
    repl_frame g;
    hcp_buf b = round_trip(&f, &g);
    assert_int_equal(g.v, 3);
    assert_int_equal(g.vmin, 1);
    assert_string_equal(g.county, "630102");
    assert_string_equal(g.node, "n-7f3a9c");
    assert_int_equal(g.seq, 42);
    assert_true(g.has_hash);
    assert_memory_equal(g.hash, f.hash, HCP_HASH_LEN);
    repl_frame_clear(&g);
    hcp_buf_free(&b);

    /* A fresh node: head 0, no hash. */
    f.seq = 0;
    f.has_hash = false;
    b = round_trip(&f, &g);
    assert_int_equal(g.seq, 0);
    assert_false(g.has_hash);
    repl_frame_clear(&g);
    hcp_buf_free(&b);

    repl_frame c = {.type = REPL_CHALLENGE, .v = 1};
    fill(c.nonce, REPL_NONCE_LEN, 2);
    strcpy(c.gw, "gw-qinghai-1");
    b = round_trip(&c, &g);
    assert_int_equal(g.v, 1);
    assert_memory_equal(g.nonce, c.nonce, REPL_NONCE_LEN);
    assert_string_equal(g.gw, "gw-qinghai-1");
    repl_frame_clear(&g);
    hcp_buf_free(&b);

    uint8_t cert[700], sig[72];
    fill(cert, sizeof(cert), 3);
    fill(sig, sizeof(sig), 4);
    repl_frame a = {.type = REPL_AUTH,
                    .cert = cert,
                    .cert_len = sizeof(cert),
                    .sig = sig,
                    .sig_len = sizeof(sig)};
    strcpy(a.county, "630102");
    strcpy(a.node, "n-7f3a9c");
    b = round_trip(&a, &g);
    assert_string_equal(g.county, "630102");
    assert_string_equal(g.node, "n-7f3a9c");
    assert_int_equal(g.cert_len, sizeof(cert));
    assert_memory_equal(g.cert, cert, sizeof(cert));
    assert_int_equal(g.sig_len, sizeof(sig));
    assert_memory_equal(g.sig, sig, sizeof(sig));
    /* Borrowed from the encoded bytes, not copied. */
    assert_true(g.cert > b.data && g.cert + g.cert_len <= b.data + b.len);
    assert_true(g.sig > b.data && g.sig + g.sig_len <= b.data + b.len);
    repl_frame_clear(&g);
    hcp_buf_free(&b);
}

static void test_small_frames(void **state)
{
    (void)state;
    repl_frame g;
    hcp_buf b;
    repl_frame w = {.type = REPL_WELCOME, .seq = 9, .has_hash = true};
    fill(w.hash, HCP_HASH_LEN, 5);
    strcpy(w.state, "ok");
    b = round_trip(&w, &g);
    assert_int_equal(g.seq, 9);
    assert_string_equal(g.state, "ok");
    assert_memory_equal(g.hash, w.hash, HCP_HASH_LEN);
    repl_frame_clear(&g);
    hcp_buf_free(&b);

    repl_frame w0 = {.type = REPL_WELCOME};
    strcpy(w0.state, "never_seen");
    b = round_trip(&w0, &g);
    assert_string_equal(g.state, "never_seen");
    assert_false(g.has_hash);
    repl_frame_clear(&g);
    hcp_buf_free(&b);

    repl_frame ack = {.type = REPL_ACK, .seq = REPL_SEQ_MAX, .has_hash = true};
    fill(ack.hash, HCP_HASH_LEN, 6);
    b = round_trip(&ack, &g);
    assert_true(g.seq == REPL_SEQ_MAX);
    repl_frame_clear(&g);
    hcp_buf_free(&b);
    /* a position the stores cannot hold is never encoded */
    ack.seq = (uint64_t)REPL_SEQ_MAX + 1;
    hcp_buf_init(&b, REPL_FRAME_MAX);
    assert_int_not_equal(repl_encode(&ack, &b), HCP_OK);
    hcp_buf_free(&b);

    repl_frame fe = {.type = REPL_FETCH, .seq = 100, .max = 500};
    b = round_trip(&fe, &g);
    assert_int_equal(g.seq, 100);
    assert_int_equal(g.max, 500);
    repl_frame_clear(&g);
    hcp_buf_free(&b);

    repl_frame ping = {.type = REPL_PING};
    b = round_trip(&ping, &g);
    assert_int_equal(b.len, 4); /* {"t": 9}: 0x81 0xa1 't' 0x09 */
    repl_frame_clear(&g);
    hcp_buf_free(&b);

    repl_frame pong = {.type = REPL_PONG, .seq = 77};
    b = round_trip(&pong, &g);
    assert_int_equal(g.seq, 77);
    repl_frame_clear(&g);
    hcp_buf_free(&b);

    repl_frame err = {.type = REPL_ERROR, .seq = 12};
    strcpy(err.code, "gap");
    b = round_trip(&err, &g);
    assert_string_equal(g.code, "gap");
    assert_int_equal(g.seq, 12);
    repl_frame_clear(&g);
    hcp_buf_free(&b);

    repl_frame err2 = {.type = REPL_ERROR};
    strcpy(err2.code, "bad_signature");
    b = round_trip(&err2, &g);
    assert_string_equal(g.code, "bad_signature");
    assert_int_equal(g.seq, 0);
    repl_frame_clear(&g);
    hcp_buf_free(&b);

    repl_frame ev = {.type = REPL_EVENTS, .seq = 5};
    b = round_trip(&ev, &g);
    assert_int_equal(g.nevents, 0);
    assert_null(g.events);
    repl_frame_clear(&g);
    hcp_buf_free(&b);
}

/* n events, every third with a personal record; records hold Chinese
 * bytes. The caller frees the events and *store. */
static repl_event *make_events(size_t n, uint8_t **store)
{
    size_t zl = sizeof(zh) - 1, each = zl + 8;
    uint8_t *s = malloc(n * 2 * each);
    repl_event *e = calloc(n, sizeof(*e));
    assert_non_null(s);
    assert_non_null(e);
    for (size_t i = 0; i < n; i++) {
        uint8_t *r = s + i * 2 * each;
        memcpy(r, zh, zl);
        memcpy(r + zl, &i, sizeof(i) < 8 ? sizeof(i) : 8);
        e[i].rec = r;
        e[i].rec_len = each - (i % 5);
        fill(e[i].hash, HCP_HASH_LEN, (unsigned)i);
        if (i % 3 == 0) {
            memcpy(r + each, zh, zl);
            e[i].pii = r + each;
            e[i].pii_len = zl - (i % 2);
        }
    }
    *store = s;
    return e;
}

/* Check the decoded events equal the sent ones and borrow from b. */
static void events_equal(const repl_frame *g, const repl_event *e, size_t n, const hcp_buf *b)
{
    assert_int_equal(g->nevents, n);
    for (size_t i = 0; i < n; i++) {
        const repl_event *d = &g->events[i];
        assert_int_equal(d->rec_len, e[i].rec_len);
        assert_memory_equal(d->rec, e[i].rec, d->rec_len);
        assert_true(d->rec >= b->data && d->rec + d->rec_len <= b->data + b->len);
        assert_memory_equal(d->hash, e[i].hash, HCP_HASH_LEN);
        assert_int_equal(d->pii_len, e[i].pii_len);
        if (e[i].pii == NULL) {
            assert_null(d->pii);
            continue;
        }
        assert_memory_equal(d->pii, e[i].pii, d->pii_len);
        assert_true(d->pii >= b->data && d->pii + d->pii_len <= b->data + b->len);
    }
}

static void test_batch_many_events(void **state)
{
    (void)state;
    uint8_t *store;
    size_t n = REPL_BATCH_EVENTS;
    repl_event *e = make_events(n, &store);
    uint8_t sig[71];
    fill(sig, sizeof(sig), 9);
    repl_frame f = {.type = REPL_BATCH,
                    .seq = 1001,
                    .events = e,
                    .nevents = n,
                    .sig = sig,
                    .sig_len = sizeof(sig)};
    strcpy(f.county, "630102");
    repl_frame g;
    hcp_buf b = round_trip(&f, &g);
    assert_string_equal(g.county, "630102");
    assert_int_equal(g.seq, 1001);
    events_equal(&g, e, n, &b);
    repl_frame_clear(&g);

    /* Decoding from a private copy: pointers follow the copy (ASan catches
     * a use after the copy is freed if they did not). */
    uint8_t *copy = malloc(b.len);
    assert_non_null(copy);
    memcpy(copy, b.data, b.len);
    assert_int_equal(repl_decode(copy, b.len, &g), HCP_OK);
    assert_true(g.events[0].rec >= copy && g.events[0].rec < copy + b.len);
    assert_memory_equal(g.events[n - 1].rec, e[n - 1].rec, e[n - 1].rec_len);
    repl_frame_clear(&g);
    free(copy);
    hcp_buf_free(&b);

    /* The same as an events page, and one too many refused by the encoder. */
    repl_frame p = {.type = REPL_EVENTS, .seq = 9000, .events = e, .nevents = 3};
    b = round_trip(&p, &g);
    events_equal(&g, e, 3, &b);
    repl_frame_clear(&g);
    hcp_buf_free(&b);
    f.nevents = n + 1;
    hcp_buf_init(&b, REPL_FRAME_MAX);
    assert_int_equal(repl_encode(&f, &b), HCP_ERANGE);
    assert_int_equal(b.len, 0);
    hcp_buf_free(&b);
    free(e);
    free(store);
}

/* ---- hand-built frames (msgpack-c's packer into an sbuffer) ---- */

struct raw {
    msgpack_sbuffer sb;
    msgpack_packer pk;
};

static void raw_init(struct raw *r)
{
    msgpack_sbuffer_init(&r->sb);
    msgpack_packer_init(&r->pk, &r->sb, msgpack_sbuffer_write);
}

static void raw_key(struct raw *r, const char *k)
{
    msgpack_pack_str(&r->pk, strlen(k));
    msgpack_pack_str_body(&r->pk, k, strlen(k));
}

static void raw_str(struct raw *r, const char *k, const char *v)
{
    raw_key(r, k);
    raw_key(r, v);
}

static void raw_bin(struct raw *r, const char *k, size_t n)
{
    uint8_t *z = calloc(1, n + 1);
    assert_non_null(z);
    raw_key(r, k);
    msgpack_pack_bin(&r->pk, n);
    msgpack_pack_bin_body(&r->pk, z, n);
    free(z);
}

static void raw_uint(struct raw *r, const char *k, uint64_t v)
{
    raw_key(r, k);
    msgpack_pack_uint64(&r->pk, v);
}

/* Decode r's bytes, clear, free r; returns the decode's result. */
static int raw_decode(struct raw *r)
{
    repl_frame g;
    int rc = repl_decode(r->sb.data, r->sb.size, &g);
    repl_frame_clear(&g);
    msgpack_sbuffer_destroy(&r->sb);
    return rc;
}

/* A batch map with `nkeys` entries: t, county, seq, sig and one event,
 * then the caller adds nkeys - 5 more. */
static void raw_batch_head(struct raw *r, uint32_t nkeys, uint64_t seq)
{
    raw_init(r);
    msgpack_pack_map(&r->pk, nkeys);
    raw_uint(r, "t", REPL_BATCH);
    raw_str(r, "county", "630102");
    raw_uint(r, "seq", seq);
    raw_bin(r, "sig", 70);
    raw_key(r, "events");
    msgpack_pack_array(&r->pk, 1);
    msgpack_pack_array(&r->pk, 2);
    msgpack_pack_bin(&r->pk, 3);
    msgpack_pack_bin_body(&r->pk, "abc", 3);
    msgpack_pack_bin(&r->pk, HCP_HASH_LEN);
    msgpack_pack_bin_body(&r->pk, zh, HCP_HASH_LEN);
}

static void test_unknown_keys_ignored(void **state)
{
    (void)state;
    struct raw r;
    raw_batch_head(&r, 9, 1);
    raw_str(&r, "zz", "from a newer peer");
    raw_key(&r, "nested");
    msgpack_pack_map(&r.pk, 1);
    raw_uint(&r, "x", 1);
    raw_bin(&r, "nonce", 3);     /* a key of another type: ignored here */
    msgpack_pack_int(&r.pk, -5); /* a non-string key */
    msgpack_pack_nil(&r.pk);
    repl_frame g;
    assert_int_equal(repl_decode(r.sb.data, r.sb.size, &g), HCP_OK);
    assert_int_equal(g.type, REPL_BATCH);
    assert_int_equal(g.nevents, 1);
    assert_int_equal(g.events[0].rec_len, 3);
    assert_memory_equal(g.events[0].rec, "abc", 3);
    repl_frame_clear(&g);
    msgpack_sbuffer_destroy(&r.sb);
}

static void test_required_fields(void **state)
{
    (void)state;
    struct raw r;
    /* batch with seq 0 */
    raw_batch_head(&r, 5, 0);
    assert_int_equal(raw_decode(&r), HCP_EPROTO);
    /* batch without events */
    raw_init(&r);
    msgpack_pack_map(&r.pk, 4);
    raw_uint(&r, "t", REPL_BATCH);
    raw_str(&r, "county", "630102");
    raw_uint(&r, "seq", 1);
    raw_bin(&r, "sig", 70);
    assert_int_equal(raw_decode(&r), HCP_EPROTO);
    /* batch with an empty events array */
    raw_init(&r);
    msgpack_pack_map(&r.pk, 5);
    raw_uint(&r, "t", REPL_BATCH);
    raw_str(&r, "county", "630102");
    raw_uint(&r, "seq", 1);
    raw_bin(&r, "sig", 70);
    raw_key(&r, "events");
    msgpack_pack_array(&r.pk, 0);
    assert_int_equal(raw_decode(&r), HCP_EPROTO);
    /* hello without node; hello with vmin > v */
    raw_init(&r);
    msgpack_pack_map(&r.pk, 5);
    raw_uint(&r, "t", REPL_HELLO);
    raw_uint(&r, "v", 1);
    raw_uint(&r, "vmin", 1);
    raw_str(&r, "county", "630102");
    raw_uint(&r, "seq", 0);
    assert_int_equal(raw_decode(&r), HCP_EPROTO);
    raw_init(&r);
    msgpack_pack_map(&r.pk, 6);
    raw_uint(&r, "t", REPL_HELLO);
    raw_uint(&r, "v", 1);
    raw_uint(&r, "vmin", 2);
    raw_str(&r, "county", "630102");
    raw_str(&r, "node", "n1");
    raw_uint(&r, "seq", 0);
    assert_int_equal(raw_decode(&r), HCP_EPROTO);
    /* a hello whose head is past REPL_SEQ_MAX (2^63, 2^64 - 1) */
    for (int i = 0; i < 2; i++) {
        raw_init(&r);
        msgpack_pack_map(&r.pk, 7);
        raw_uint(&r, "t", REPL_HELLO);
        raw_uint(&r, "v", 1);
        raw_uint(&r, "vmin", 1);
        raw_str(&r, "county", "630102");
        raw_str(&r, "node", "n1");
        raw_uint(&r, "seq", i == 0 ? (uint64_t)1 << 63 : UINT64_MAX);
        raw_bin(&r, "hash", HCP_HASH_LEN);
        assert_int_equal(raw_decode(&r), HCP_EPROTO);
    }
    /* a batch whose last position would pass REPL_SEQ_MAX */
    raw_batch_head(&r, 5, REPL_SEQ_MAX);
    assert_int_equal(raw_decode(&r), HCP_OK);
    raw_init(&r);
    msgpack_pack_map(&r.pk, 5);
    raw_uint(&r, "t", REPL_BATCH);
    raw_str(&r, "county", "630102");
    raw_uint(&r, "seq", REPL_SEQ_MAX);
    raw_bin(&r, "sig", 70);
    raw_key(&r, "events");
    msgpack_pack_array(&r.pk, 2);
    for (int i = 0; i < 2; i++) {
        msgpack_pack_array(&r.pk, 2);
        msgpack_pack_bin(&r.pk, 3);
        msgpack_pack_bin_body(&r.pk, "abc", 3);
        msgpack_pack_bin(&r.pk, HCP_HASH_LEN);
        msgpack_pack_bin_body(&r.pk, zh, HCP_HASH_LEN);
    }
    assert_int_equal(raw_decode(&r), HCP_EPROTO);
    /* ack at seq 3 without its hash */
    raw_init(&r);
    msgpack_pack_map(&r.pk, 2);
    raw_uint(&r, "t", REPL_ACK);
    raw_uint(&r, "seq", 3);
    assert_int_equal(raw_decode(&r), HCP_EPROTO);
    /* fetch with max 0; auth without sig; challenge without nonce */
    raw_init(&r);
    msgpack_pack_map(&r.pk, 3);
    raw_uint(&r, "t", REPL_FETCH);
    raw_uint(&r, "seq", 3);
    raw_uint(&r, "max", 0);
    assert_int_equal(raw_decode(&r), HCP_EPROTO);
    raw_init(&r);
    msgpack_pack_map(&r.pk, 4);
    raw_uint(&r, "t", REPL_AUTH);
    raw_str(&r, "county", "630102");
    raw_str(&r, "node", "n1");
    raw_bin(&r, "cert", 300);
    assert_int_equal(raw_decode(&r), HCP_EPROTO);
    raw_init(&r);
    msgpack_pack_map(&r.pk, 3);
    raw_uint(&r, "t", REPL_CHALLENGE);
    raw_uint(&r, "v", 1);
    raw_str(&r, "gw", "gw1");
    assert_int_equal(raw_decode(&r), HCP_EPROTO);
    /* no type; type 0; unknown type */
    raw_init(&r);
    msgpack_pack_map(&r.pk, 1);
    raw_uint(&r, "seq", 3);
    assert_int_equal(raw_decode(&r), HCP_EPROTO);
    raw_init(&r);
    msgpack_pack_map(&r.pk, 1);
    raw_uint(&r, "t", 0);
    assert_int_equal(raw_decode(&r), HCP_EPROTO);
    raw_init(&r);
    msgpack_pack_map(&r.pk, 1);
    raw_uint(&r, "t", REPL_TYPE_COUNT_);
    assert_int_equal(raw_decode(&r), HCP_EPROTO);
}

static void test_wrong_types(void **state)
{
    (void)state;
    struct raw r;
    /* county as an integer, county with a letter, hash of 31 bytes */
    raw_init(&r);
    msgpack_pack_map(&r.pk, 2);
    raw_uint(&r, "t", REPL_AUTH);
    raw_uint(&r, "county", 630102);
    assert_int_equal(raw_decode(&r), HCP_EFORMAT);
    raw_init(&r);
    msgpack_pack_map(&r.pk, 2);
    raw_uint(&r, "t", REPL_AUTH);
    raw_str(&r, "county", "63010x");
    assert_int_equal(raw_decode(&r), HCP_EFORMAT);
    raw_init(&r);
    msgpack_pack_map(&r.pk, 3);
    raw_uint(&r, "t", REPL_ACK);
    raw_uint(&r, "seq", 3);
    raw_bin(&r, "hash", 31);
    assert_int_equal(raw_decode(&r), HCP_EFORMAT);
    /* node with a control byte; node too long; type as a string */
    raw_init(&r);
    msgpack_pack_map(&r.pk, 2);
    raw_uint(&r, "t", REPL_AUTH);
    raw_str(&r, "node", "n\x01");
    assert_int_equal(raw_decode(&r), HCP_EFORMAT);
    raw_init(&r);
    msgpack_pack_map(&r.pk, 2);
    raw_uint(&r, "t", REPL_AUTH);
    raw_str(&r, "node", "0123456789012345678901234567890123");
    assert_int_equal(raw_decode(&r), HCP_EFORMAT);
    raw_init(&r);
    msgpack_pack_map(&r.pk, 1);
    raw_str(&r, "t", "ping");
    assert_int_equal(raw_decode(&r), HCP_EFORMAT);
    /* seq negative; v past 32 bits; the same key twice */
    raw_init(&r);
    msgpack_pack_map(&r.pk, 2);
    raw_uint(&r, "t", REPL_PONG);
    raw_key(&r, "seq");
    msgpack_pack_int(&r.pk, -1);
    assert_int_equal(raw_decode(&r), HCP_EFORMAT);
    raw_init(&r);
    msgpack_pack_map(&r.pk, 2);
    raw_uint(&r, "t", REPL_CHALLENGE);
    raw_uint(&r, "v", 1ull << 32);
    assert_int_equal(raw_decode(&r), HCP_ERANGE);
    raw_init(&r);
    msgpack_pack_map(&r.pk, 3);
    raw_uint(&r, "t", REPL_PONG);
    raw_uint(&r, "seq", 1);
    raw_uint(&r, "seq", 2);
    assert_int_equal(raw_decode(&r), HCP_EFORMAT);
    /* an array, not a map; trailing bytes after the map */
    raw_init(&r);
    msgpack_pack_array(&r.pk, 1);
    msgpack_pack_uint8(&r.pk, REPL_PING);
    assert_int_equal(raw_decode(&r), HCP_EFORMAT);
    raw_init(&r);
    msgpack_pack_map(&r.pk, 1);
    raw_uint(&r, "t", REPL_PING);
    msgpack_pack_nil(&r.pk);
    assert_int_equal(raw_decode(&r), HCP_EFORMAT);
    /* an event of 4 elements; an event's rec as a string; cert and sig
     * past their ceilings */
    raw_batch_head(&r, 6, 1);
    raw_key(&r, "events"); /* duplicate events key */
    msgpack_pack_array(&r.pk, 0);
    assert_int_equal(raw_decode(&r), HCP_EFORMAT);
    raw_init(&r);
    msgpack_pack_map(&r.pk, 2);
    raw_uint(&r, "t", REPL_EVENTS);
    raw_key(&r, "events");
    msgpack_pack_array(&r.pk, 1);
    msgpack_pack_array(&r.pk, 4);
    for (int i = 0; i < 4; i++)
        msgpack_pack_bin(&r.pk, 0);
    assert_int_equal(raw_decode(&r), HCP_EFORMAT);
    raw_init(&r);
    msgpack_pack_map(&r.pk, 2);
    raw_uint(&r, "t", REPL_EVENTS);
    raw_key(&r, "events");
    msgpack_pack_array(&r.pk, 1);
    msgpack_pack_array(&r.pk, 2);
    raw_key(&r, "rec");
    msgpack_pack_bin(&r.pk, HCP_HASH_LEN);
    msgpack_pack_bin_body(&r.pk, zh, HCP_HASH_LEN);
    assert_int_equal(raw_decode(&r), HCP_EFORMAT);
    raw_init(&r);
    msgpack_pack_map(&r.pk, 2);
    raw_uint(&r, "t", REPL_AUTH);
    raw_bin(&r, "cert", REPL_CERT_MAX + 1);
    assert_int_equal(raw_decode(&r), HCP_ERANGE);
    raw_init(&r);
    msgpack_pack_map(&r.pk, 2);
    raw_uint(&r, "t", REPL_AUTH);
    raw_bin(&r, "sig", REPL_SIG_MAX + 1);
    assert_int_equal(raw_decode(&r), HCP_ERANGE);
}

static void test_oversize(void **state)
{
    (void)state;
    repl_frame g;
    /* Declared containers far larger than the input. */
    static const uint8_t arr32[] = {0xdd, 0x7f, 0xff, 0xff, 0xff};
    static const uint8_t map32[] = {0xdf, 0x7f, 0xff, 0xff, 0xff, 0xa1, 't', 0x09};
    static const uint8_t dep[] = {0x29, 0xdd, 0x0a, 0x29, 0x83, 0x29};
    static const uint8_t bin32[] = {0x82, 0xa1, 't',  0x03, 0xa4, 'c',  'e', 'r',
                                    't',  0xc6, 0x7f, 0xff, 0xff, 0xff, 0x00};
    assert_int_not_equal(repl_decode(arr32, sizeof(arr32), &g), HCP_OK);
    repl_frame_clear(&g);
    assert_int_not_equal(repl_decode(map32, sizeof(map32), &g), HCP_OK);
    repl_frame_clear(&g);
    assert_int_not_equal(repl_decode(dep, sizeof(dep), &g), HCP_OK);
    repl_frame_clear(&g);
    assert_int_not_equal(repl_decode(bin32, sizeof(bin32), &g), HCP_OK);
    repl_frame_clear(&g);
    assert_int_not_equal(repl_decode("", 0, &g), HCP_OK);
    repl_frame_clear(&g);

    /* Too many events: REPL_BATCH_EVENTS + 1 minimal ones. */
    struct raw r;
    raw_init(&r);
    msgpack_pack_map(&r.pk, 2);
    raw_uint(&r, "t", REPL_EVENTS);
    raw_key(&r, "events");
    msgpack_pack_array(&r.pk, REPL_BATCH_EVENTS + 1);
    for (int i = 0; i < REPL_BATCH_EVENTS + 1; i++) {
        msgpack_pack_array(&r.pk, 2);
        msgpack_pack_bin(&r.pk, 1);
        msgpack_pack_bin_body(&r.pk, "x", 1);
        msgpack_pack_bin(&r.pk, HCP_HASH_LEN);
        msgpack_pack_bin_body(&r.pk, zh, HCP_HASH_LEN);
    }
    assert_int_equal(raw_decode(&r), HCP_ERANGE);

    /* A record past HCP_RECORD_MAX. */
    raw_init(&r);
    msgpack_pack_map(&r.pk, 2);
    raw_uint(&r, "t", REPL_EVENTS);
    raw_key(&r, "events");
    msgpack_pack_array(&r.pk, 1);
    msgpack_pack_array(&r.pk, 2);
    uint8_t *big = calloc(1, HCP_RECORD_MAX + 1);
    assert_non_null(big);
    msgpack_pack_bin(&r.pk, HCP_RECORD_MAX + 1);
    msgpack_pack_bin_body(&r.pk, big, HCP_RECORD_MAX + 1);
    msgpack_pack_bin(&r.pk, HCP_HASH_LEN);
    msgpack_pack_bin_body(&r.pk, zh, HCP_HASH_LEN);
    assert_int_equal(raw_decode(&r), HCP_ERANGE);

    /* A frame past REPL_FRAME_MAX is refused unread; the encoder refuses
     * to produce one and leaves the output as it was. */
    uint8_t *huge = calloc(1, REPL_FRAME_MAX + 1);
    assert_non_null(huge);
    assert_int_equal(repl_decode(huge, REPL_FRAME_MAX + 1, &g), HCP_ERANGE);
    repl_frame_clear(&g);
    free(huge);
    size_t n = REPL_FRAME_MAX / HCP_RECORD_MAX + 1;
    repl_event *e = calloc(n, sizeof(*e));
    assert_non_null(e);
    for (size_t i = 0; i < n; i++) {
        e[i].rec = big;
        e[i].rec_len = HCP_RECORD_MAX;
    }
    uint8_t sig[8] = {1};
    repl_frame f = {.type = REPL_BATCH,
                    .seq = 1,
                    .events = e,
                    .nevents = n,
                    .sig = sig,
                    .sig_len = sizeof(sig)};
    strcpy(f.county, "630102");
    hcp_buf b;
    hcp_buf_init(&b, 2 * REPL_FRAME_MAX);
    assert_int_equal(hcp_buf_append(&b, "xy", 2), HCP_OK);
    assert_int_equal(repl_encode(&f, &b), HCP_ERANGE);
    assert_int_equal(b.len, 2);
    f.nevents = n - 2;
    assert_int_equal(repl_encode(&f, &b), HCP_OK);
    assert_true(b.len > 2 && b.len - 2 <= REPL_FRAME_MAX);
    assert_int_equal(repl_decode(b.data + 2, b.len - 2, &g), HCP_OK);
    assert_int_equal(g.nevents, n - 2);
    repl_frame_clear(&g);
    hcp_buf_free(&b);
    free(e);
    free(big);
}

static void test_truncated_everywhere(void **state)
{
    (void)state;
    uint8_t *store;
    repl_event *e = make_events(7, &store);
    uint8_t sig[70];
    fill(sig, sizeof(sig), 11);
    repl_frame f = {.type = REPL_BATCH,
                    .seq = 3,
                    .events = e,
                    .nevents = 7,
                    .sig = sig,
                    .sig_len = sizeof(sig)};
    strcpy(f.county, "630103");
    hcp_buf b = enc(&f);
    for (size_t cut = 0; cut < b.len; cut++) {
        /* A private copy of exactly cut bytes: ASan sees any overread. */
        uint8_t *p = malloc(cut + 1);
        assert_non_null(p);
        memcpy(p, b.data, cut);
        repl_frame g;
        assert_int_not_equal(repl_decode(p, cut, &g), HCP_OK);
        repl_frame_clear(&g);
        free(p);
    }
    /* Every single byte flipped: decodes or not, never crashes, and what
     * decodes re-encodes. */
    for (size_t i = 0; i < b.len; i++) {
        uint8_t *p = malloc(b.len);
        assert_non_null(p);
        memcpy(p, b.data, b.len);
        p[i] ^= 0x5a;
        repl_frame g;
        if (repl_decode(p, b.len, &g) == HCP_OK) {
            hcp_buf o = enc(&g);
            hcp_buf_free(&o);
        }
        repl_frame_clear(&g);
        free(p);
    }
    hcp_buf_free(&b);
    free(e);
    free(store);
}

static void test_encode_refusals(void **state)
{
    (void)state;
    hcp_buf b;
    hcp_buf_init(&b, REPL_FRAME_MAX);
    repl_frame f = {.type = REPL_NONE};
    assert_int_equal(repl_encode(&f, &b), HCP_EINVAL);
    f.type = REPL_TYPE_COUNT_;
    assert_int_equal(repl_encode(&f, &b), HCP_EINVAL);
    assert_int_equal(repl_encode(NULL, &b), HCP_EINVAL);
    f.type = REPL_PING;
    assert_int_equal(repl_encode(&f, NULL), HCP_EINVAL);

    repl_frame h = {.type = REPL_HELLO, .v = 1, .vmin = 1};
    strcpy(h.county, "63010");
    strcpy(h.node, "n1");
    assert_int_equal(repl_encode(&h, &b), HCP_EINVAL); /* short county */
    strcpy(h.county, "630102");
    h.node[0] = '\0';
    assert_int_equal(repl_encode(&h, &b), HCP_EINVAL); /* empty node */
    strcpy(h.node, "n1");
    h.seq = 5;
    assert_int_equal(repl_encode(&h, &b), HCP_EINVAL); /* head without hash */
    h.seq = 0;
    h.vmin = 2;
    assert_int_equal(repl_encode(&h, &b), HCP_EINVAL);
    h.vmin = 1;
    assert_int_equal(repl_encode(&h, &b), HCP_OK);

    repl_event ev = {.rec = NULL, .rec_len = 3};
    uint8_t sig[4] = {1, 2, 3, 4};
    repl_frame bt = {
        .type = REPL_BATCH, .seq = 1, .events = &ev, .nevents = 1, .sig = sig, .sig_len = 4};
    strcpy(bt.county, "630102");
    size_t before = b.len;
    assert_int_equal(repl_encode(&bt, &b), HCP_EINVAL); /* rec NULL */
    ev.rec = sig;
    ev.pii = sig; /* pii pointer without a length */
    assert_int_equal(repl_encode(&bt, &b), HCP_EINVAL);
    ev.pii = NULL;
    bt.sig_len = 0;
    assert_int_equal(repl_encode(&bt, &b), HCP_EINVAL);
    bt.sig_len = REPL_SIG_MAX + 1;
    assert_int_equal(repl_encode(&bt, &b), HCP_EINVAL);
    bt.sig_len = 4;
    bt.seq = 0;
    assert_int_equal(repl_encode(&bt, &b), HCP_EINVAL);
    assert_int_equal(b.len, before);
    hcp_buf_free(&b);

    /* decode's own argument checks */
    repl_frame g;
    assert_int_equal(repl_decode(NULL, 3, &g), HCP_EINVAL);
    assert_int_equal(repl_decode("x", 1, NULL), HCP_EINVAL);
    repl_frame_clear(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hello_challenge_auth),
        cmocka_unit_test(test_small_frames),
        cmocka_unit_test(test_batch_many_events),
        cmocka_unit_test(test_unknown_keys_ignored),
        cmocka_unit_test(test_required_fields),
        cmocka_unit_test(test_wrong_types),
        cmocka_unit_test(test_oversize),
        cmocka_unit_test(test_truncated_everywhere),
        cmocka_unit_test(test_encode_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
