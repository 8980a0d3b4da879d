/*
 * fuzz_codec.c — libFuzzer target for the record decoders (core/codec.c).
 *
 * The input is tried four ways: as an event main record, as a case record,
 * and split at its first byte L into a main record of L bytes and a
 * personal record (the rest), both as an event and as a case (the personal
 * record may hold original free text, docs/codec.md). Whatever decodes must
 * re-encode, the re-encoding must decode again, and re-encoding that must
 * give the same bytes; a main record must hold each free text masked
 * (hcp_text_mask of what the struct holds); any violation abort()s so
 * libFuzzer reports it.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Abort unless two buffers hold the same bytes. */
static void same_bytes(const hcp_buf *a, const hcp_buf *b)
{
    if (a->len != b->len || (a->len > 0 && memcmp(a->data, b->data, a->len) != 0))
        abort();
}

/* Decode a main record (and, when given, its personal record) into ev. */
static int event_load(const hcp_buf *rec, const hcp_buf *pii, hcp_event *ev)
{
    int rc = hcp_event_decode(rec->data, rec->len, ev);
    if (rc == HCP_OK && pii->len > 0)
        rc = hcp_event_decode_pii(pii->data, pii->len, ev);
    return rc;
}

/* The main record holds s as hcp_text_mask writes it (m: the decoded main
 * record's field; in/vf: the struct's personal strings). */
static void masked_as(const char *m, const char *s, const hcp_intake *in, const hcp_contact *vf)
{
    if (s == NULL) {
        if (m != NULL)
            abort();
        return;
    }
    char *want = hcp_text_mask(s, in, vf);
    if (want == NULL || m == NULL || strcmp(want, m) != 0)
        abort();
    free(want);
}

/* ev decoded fine: encode, decode, encode again; abort on any failure. */
static void event_check(const hcp_event *ev)
{
    hcp_buf rec, pii, rec2, pii2;
    hcp_event back;
    hcp_buf_init(&rec, HCP_RECORD_MAX);
    hcp_buf_init(&pii, HCP_RECORD_MAX);
    hcp_buf_init(&rec2, HCP_RECORD_MAX);
    hcp_buf_init(&pii2, HCP_RECORD_MAX);
    if (hcp_event_encode(ev, &rec, &pii, NULL) != HCP_OK)
        abort();
    hcp_event main;
    if (hcp_event_decode(rec.data, rec.len, &main) != HCP_OK)
        abort();
    const char *m[] = {main.in.window, main.in.content, main.note, main.by,
                       main.reason,    main.result,     main.via,  main.text};
    const char *o[] = {ev->in.window, ev->in.content, ev->note, ev->by,
                       ev->reason,    ev->result,     ev->via,  ev->text};
    for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++)
        masked_as(m[i], o[i], &ev->in, &ev->verifier);
    hcp_event_clear(&main);
    if (event_load(&rec, &pii, &back) != HCP_OK)
        abort();
    if (hcp_event_encode(&back, &rec2, &pii2, NULL) != HCP_OK)
        abort();
    same_bytes(&rec, &rec2);
    same_bytes(&pii, &pii2);
    hcp_event_clear(&back);
    hcp_buf_free(&rec);
    hcp_buf_free(&pii);
    hcp_buf_free(&rec2);
    hcp_buf_free(&pii2);
}

/* The same for a case, with a fixed salt. */
static void case_check(const hcp_case *c)
{
    static const uint8_t salt[HCP_SALT_LEN] = {7, 7, 7};
    hcp_buf rec, pii, rec2, pii2;
    hcp_case back;
    hcp_buf_init(&rec, HCP_RECORD_MAX);
    hcp_buf_init(&pii, HCP_RECORD_MAX);
    hcp_buf_init(&rec2, HCP_RECORD_MAX);
    hcp_buf_init(&pii2, HCP_RECORD_MAX);
    if (hcp_case_encode(c, salt, &rec, &pii) != HCP_OK)
        abort();
    int rc = hcp_case_decode(rec.data, rec.len, &back);
    if (rc == HCP_OK && pii.len > 0)
        rc = hcp_case_decode_pii(pii.data, pii.len, &back);
    if (rc != HCP_OK || hcp_case_encode(&back, salt, &rec2, &pii2) != HCP_OK)
        abort();
    same_bytes(&rec, &rec2);
    same_bytes(&pii, &pii2);
    hcp_case_clear(&back);
    hcp_buf_free(&rec);
    hcp_buf_free(&pii);
    hcp_buf_free(&rec2);
    hcp_buf_free(&pii2);
}

/* Split mode: data[0] is the main record's length. */
static void split_check(const uint8_t *data, size_t size)
{
    if (size < 1 || (size_t)data[0] > size - 1)
        return;
    size_t l = data[0];
    hcp_event ev;
    if (hcp_event_decode(data + 1, l, &ev) == HCP_OK && ev.has_pii &&
        hcp_event_decode_pii(data + 1 + l, size - 1 - l, &ev) == HCP_OK)
        event_check(&ev);
    hcp_event_clear(&ev);
    hcp_case c;
    if (hcp_case_decode(data + 1, l, &c) == HCP_OK && c.has_pii &&
        hcp_case_decode_pii(data + 1 + l, size - 1 - l, &c) == HCP_OK)
        case_check(&c);
    hcp_case_clear(&c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    hcp_event ev;
    hcp_case c;
    if (hcp_mp_check(data, size, 32) == HCP_OK && size == 0)
        abort(); /* nothing is not one object */
    if (hcp_event_decode(data, size, &ev) == HCP_OK)
        event_check(&ev);
    hcp_event_clear(&ev);
    if (hcp_case_decode(data, size, &c) == HCP_OK)
        case_check(&c);
    hcp_case_clear(&c);
    split_check(data, size);
    return 0;
}
