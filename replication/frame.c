/*
 * frame.c — the replication frames (docs/replication.md): one msgpack map
 * per message, short string keys, "t" the frame type.
 *
 * Each frame type names the fields it requires and the ones it may carry
 * (a table below); the encoder writes exactly those, in a fixed order, and
 * the decoder reads only those, ignoring every other key (newer peers may
 * add some). Untrusted bytes pass hcp_mp_check before msgpack-c sees them
 * (msgpack-c trusts declared counts: docs/codec.md).
 *
 * Borrowing: msgpack-c's C unpacker (msgpack_unpack_next, src/unpack.c,
 * template_callback_str/bin) never copies str/bin payloads; the objects
 * point into the buffer it was given. The zone only holds the array and
 * map element tables, so it is freed before repl_decode returns and the
 * frame's byte fields point into the caller's buffer. repl_decode checks
 * that each borrowed pointer lies inside that buffer all the same.
 *
 * Compression (docs/replication.md, "Compression"): the events array of a
 * batch or an events answer may travel as "zev", one zstd frame of the
 * same msgpack array, with "zlen" its size. The decoder bounds it before
 * allocating (declared size within REPL_FRAME_MAX and equal to the zstd
 * header's, one frame exactly), decompresses into exactly that many bytes
 * (a frame that would produce more fails inside zstd: the output buffer
 * is the bound), and then reads the array from the frame-owned copy as it
 * reads an uncompressed one. Signatures never see these bytes: a batch's
 * signature is over its last position and hash, and every hash is
 * recomputed from the records the county wrote.
 */
#include "repl.h"

#include "codec.h"
#include "division.h"

#include <msgpack.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#define FRAME_DEPTH 8 /* nesting a frame may have: map, events (dirs), event (entry), extras */

/* The fields of a frame, one bit each. */
enum {
    F_V = 1u << 0,
    F_VMIN = 1u << 1,
    F_COUNTY = 1u << 2,
    F_NODE = 1u << 3,
    F_GW = 1u << 4,
    F_SEQ = 1u << 5,
    F_HASH = 1u << 6,
    F_NONCE = 1u << 7,
    F_CERT = 1u << 8,
    F_SIG = 1u << 9,
    F_MAX = 1u << 10,
    F_STATE = 1u << 11,
    F_CODE = 1u << 12,
    F_EVENTS = 1u << 13,
    /* directives (docs/directives.md): optional everywhere they appear */
    F_DSEQ = 1u << 14,
    F_DIRS = 1u << 15,
    F_DMORE = 1u << 16,
    F_GCERT = 1u << 17,
    /* compression: optional, ignored by older peers */
    F_ZSTD = 1u << 18,
    F_ZLEN = 1u << 19,
    F_ZEV = 1u << 20,
};
#define F_ZEVENTS    (F_ZLEN | F_ZEV)
#define F_DIR_ANSWER (F_DIRS | F_DMORE)

/* Per type: the fields it must carry and the ones it may carry. */
struct shape {
    unsigned need;
    unsigned may;
};

static const struct shape shapes[REPL_TYPE_COUNT_] = {
    [REPL_HELLO] = {F_V | F_VMIN | F_COUNTY | F_NODE | F_SEQ, F_HASH | F_DSEQ | F_ZSTD},
    [REPL_CHALLENGE] = {F_V | F_NONCE | F_GW, F_ZSTD},
    [REPL_AUTH] = {F_COUNTY | F_NODE | F_CERT | F_SIG, F_DSEQ},
    [REPL_WELCOME] = {F_SEQ | F_STATE, F_HASH | F_DIR_ANSWER | F_GCERT | F_ZSTD},
    [REPL_BATCH] = {F_COUNTY | F_SEQ | F_EVENTS | F_SIG, F_DSEQ | F_ZEVENTS},
    [REPL_ACK] = {F_SEQ, F_HASH | F_DIR_ANSWER},
    [REPL_FETCH] = {F_SEQ | F_MAX, 0},
    [REPL_EVENTS] = {F_SEQ | F_EVENTS, F_ZEVENTS},
    [REPL_PING] = {0, F_DSEQ},
    [REPL_PONG] = {F_SEQ, F_DIR_ANSWER},
    [REPL_ERROR] = {F_CODE, F_SEQ},
};

/* ---------------------------------------------------------------------- */
/* Field checks shared by both directions                                  */
/* ---------------------------------------------------------------------- */

/* 1..max bytes of printable ASCII (0x20..0x7e). */
static bool ascii_ok(const char *s, size_t n, size_t max)
{
    if (n == 0 || n > max)
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] < 0x20 || s[i] > 0x7e)
            return false;
    return true;
}

/* A NUL-terminated string field of f, checked like on the wire. */
static bool cstr_ok(const char *s, size_t cap)
{
    size_t n = strnlen(s, cap);
    return n < cap && ascii_ok(s, n, cap - 1);
}

/* One event: a record, and a personal record only if both pointer and
 * length say so. */
static bool event_ok(const repl_event *e)
{
    if (e->rec == NULL || e->rec_len == 0 || e->rec_len > HCP_RECORD_MAX)
        return false;
    if ((e->pii == NULL) != (e->pii_len == 0))
        return false;
    return e->pii_len <= HCP_RECORD_MAX;
}

/* The domain rules of f's fields beyond their wire types (both ways). */
static bool frame_fields_ok(const repl_frame *f, unsigned have)
{
    if ((have & F_V) && f->v == 0)
        return false;
    if ((have & F_VMIN) && (f->vmin == 0 || f->vmin > f->v))
        return false;
    if (f->type == REPL_BATCH && (f->seq == 0 || f->nevents == 0))
        return false;
    if (f->type == REPL_FETCH && (f->seq == 0 || f->max == 0))
        return false;
    /* positions the stores can hold; a batch's last one too */
    if (f->seq > REPL_SEQ_MAX ||
        (f->type == REPL_BATCH && f->nevents - 1 > (uint64_t)REPL_SEQ_MAX - f->seq))
        return false;
    /* A head past 0 has a hash; a head at 0 has none. */
    if ((shapes[f->type].may & F_HASH) && (f->seq >= 1) != ((have & F_HASH) != 0))
        return false;
    if (f->dseq > REPL_SEQ_MAX || f->ndirs > REPL_DIRS_MAX)
        return false;
    return f->nevents <= REPL_BATCH_EVENTS;
}

/* One province log entry: a record, a signature (a one-byte marker on
 * insecure links). */
static bool dir_ok(const repl_dir *d)
{
    return d->rec != NULL && d->rec_len > 0 && d->rec_len <= REPL_DIR_REC_MAX && d->sig != NULL &&
           d->sig_len > 0 && d->sig_len <= REPL_SIG_MAX;
}

/* ---------------------------------------------------------------------- */
/* Encoding                                                                */
/* ---------------------------------------------------------------------- */

/* The packer's sink: appends to out, at most REPL_FRAME_MAX past start. */
struct sink {
    hcp_buf *out;
    size_t start;
    int err;
};

/* msgpack_packer write callback; remembers the first error. */
static int sink_write(void *data, const char *buf, size_t len)
{
    struct sink *s = data;
    if (s->err != HCP_OK)
        return -1;
    if (len > REPL_FRAME_MAX - (s->out->len - s->start))
        s->err = HCP_ERANGE;
    else
        s->err = hcp_buf_append(s->out, buf, len);
    return s->err == HCP_OK ? 0 : -1;
}

/* Pack a short string key. */
static int put_key(msgpack_packer *pk, const char *k)
{
    size_t n = strlen(k);
    if (msgpack_pack_str(pk, n) != 0)
        return -1;
    return msgpack_pack_str_body(pk, k, n);
}

/* Pack a bin value. */
static int put_bin(msgpack_packer *pk, const void *p, size_t n)
{
    if (msgpack_pack_bin(pk, n) != 0)
        return -1;
    return msgpack_pack_bin_body(pk, p, n);
}

/* Pack a string value (NUL-terminated, checked before). */
static int put_str(msgpack_packer *pk, const char *s)
{
    size_t n = strlen(s);
    if (msgpack_pack_str(pk, n) != 0)
        return -1;
    return msgpack_pack_str_body(pk, s, n);
}

/* Pack one event as [rec, hash] or [rec, hash, pii]. */
static int put_event(msgpack_packer *pk, const repl_event *e)
{
    if (msgpack_pack_array(pk, e->pii != NULL ? 3 : 2) != 0 ||
        put_bin(pk, e->rec, e->rec_len) != 0 || put_bin(pk, e->hash, HCP_HASH_LEN) != 0)
        return -1;
    return e->pii != NULL ? put_bin(pk, e->pii, e->pii_len) : 0;
}

/* Pack the events array. */
static int put_events(msgpack_packer *pk, const repl_frame *f)
{
    if (msgpack_pack_array(pk, f->nevents) != 0)
        return -1;
    for (size_t i = 0; i < f->nevents; i++)
        if (put_event(pk, &f->events[i]) != 0)
            return -1;
    return 0;
}

/* Pack the dirs array: [rec, hash, sig] each. */
static int put_dirs(msgpack_packer *pk, const repl_frame *f)
{
    if (msgpack_pack_array(pk, f->ndirs) != 0)
        return -1;
    for (size_t i = 0; i < f->ndirs; i++) {
        const repl_dir *d = &f->dirs[i];
        if (msgpack_pack_array(pk, 3) != 0 || put_bin(pk, d->rec, d->rec_len) != 0 ||
            put_bin(pk, d->hash, HCP_HASH_LEN) != 0 || put_bin(pk, d->sig, d->sig_len) != 0)
            return -1;
    }
    return 0;
}

/* The compressed events of a frame being encoded (zev: owned here). */
struct zpack {
    uint8_t *zev;
    size_t zev_len;
    size_t raw_len;
};

/* Pack the value of the one field `bit` of f (z: its compressed events,
 * for F_ZEV and F_ZLEN). */
static int put_value(msgpack_packer *pk, const repl_frame *f, unsigned bit, const struct zpack *z)
{
    switch (bit) {
    case F_ZSTD:
        return msgpack_pack_uint32(pk, f->zstd);
    case F_ZLEN:
        return msgpack_pack_uint64(pk, z->raw_len);
    case F_ZEV:
        return put_bin(pk, z->zev, z->zev_len);
    case F_V:
        return msgpack_pack_uint32(pk, f->v);
    case F_VMIN:
        return msgpack_pack_uint32(pk, f->vmin);
    case F_COUNTY:
        return put_str(pk, f->county);
    case F_NODE:
        return put_str(pk, f->node);
    case F_GW:
        return put_str(pk, f->gw);
    case F_SEQ:
        return msgpack_pack_uint64(pk, f->seq);
    case F_HASH:
        return put_bin(pk, f->hash, HCP_HASH_LEN);
    case F_NONCE:
        return put_bin(pk, f->nonce, REPL_NONCE_LEN);
    case F_CERT:
        return put_bin(pk, f->cert, f->cert_len);
    case F_SIG:
        return put_bin(pk, f->sig, f->sig_len);
    case F_MAX:
        return msgpack_pack_uint32(pk, f->max);
    case F_STATE:
        return put_str(pk, f->state);
    case F_CODE:
        return put_str(pk, f->code);
    case F_DSEQ:
        return msgpack_pack_uint64(pk, f->dseq);
    case F_DIRS:
        return put_dirs(pk, f);
    case F_DMORE:
        return msgpack_pack_true(pk);
    case F_GCERT:
        return put_bin(pk, f->gcert, f->gcert_len);
    default:
        return put_events(pk, f);
    }
}

/* Wire keys in encoding order, index = bit number. */
static const char *const keys[] = {"v",     "vmin", "county", "node",  "gw",    "seq",  "hash",
                                   "nonce", "cert", "sig",    "max",   "state", "code", "events",
                                   "dseq",  "dirs", "dmore",  "gcert", "zstd",  "zlen", "zev"};
#define NKEYS (sizeof(keys) / sizeof(keys[0]))

/* Whether field `bit` of f is present and well-formed for encoding. */
static bool field_valid(const repl_frame *f, unsigned bit)
{
    switch (bit) {
    case F_COUNTY:
        return hcp_county_str_ok(f->county);
    case F_NODE:
        return cstr_ok(f->node, sizeof(f->node));
    case F_GW:
        return cstr_ok(f->gw, sizeof(f->gw));
    case F_CERT:
        return f->cert != NULL && f->cert_len > 0 && f->cert_len <= REPL_CERT_MAX;
    case F_SIG:
        return f->sig != NULL && f->sig_len > 0 && f->sig_len <= REPL_SIG_MAX;
    case F_STATE:
        return cstr_ok(f->state, sizeof(f->state));
    case F_CODE:
        return cstr_ok(f->code, sizeof(f->code));
    case F_EVENTS:
        if (f->nevents > 0 && f->events == NULL)
            return false;
        for (size_t i = 0; i < f->nevents; i++)
            if (!event_ok(&f->events[i]))
                return false;
        return true;
    case F_DIRS:
        if (f->ndirs == 0 || f->dirs == NULL || f->ndirs > REPL_DIRS_MAX)
            return false;
        for (size_t i = 0; i < f->ndirs; i++)
            if (!dir_ok(&f->dirs[i]))
                return false;
        return true;
    case F_GCERT:
        return f->gcert != NULL && f->gcert_len > 0 && f->gcert_len <= REPL_CERT_MAX;
    default:
        return true;
    }
}

/* The fields f will carry: its type's required ones, the optional hash
 * when has_hash, the optional seq (error) when nonzero. 0 and *ok false
 * when a field is out of its domain. */
static unsigned fields_to_write(const repl_frame *f, bool *ok)
{
    const struct shape *s = &shapes[f->type];
    unsigned have = s->need;
    if ((s->may & F_HASH) && f->has_hash)
        have |= F_HASH;
    if ((s->may & F_SEQ) && f->seq != 0)
        have |= F_SEQ;
    if ((s->may & F_DSEQ) && f->has_dseq)
        have |= F_DSEQ;
    if ((s->may & F_DIRS) && f->ndirs > 0)
        have |= F_DIRS;
    if ((s->may & F_DMORE) && f->dmore)
        have |= F_DMORE;
    if ((s->may & F_GCERT) && f->gcert != NULL)
        have |= F_GCERT;
    if ((s->may & F_ZSTD) && f->zstd != 0)
        have |= F_ZSTD;
    *ok = false;
    for (unsigned i = 0; i < NKEYS; i++)
        if ((have & (1u << i)) && !field_valid(f, 1u << i))
            return 0;
    *ok = frame_fields_ok(f, have);
    return have;
}

/* Count the set bits of x. */
static uint32_t popcount(unsigned x)
{
    uint32_t n = 0;
    for (; x != 0; x &= x - 1)
        n++;
    return n;
}

/* Pack the whole map into pk. */
static int put_frame(msgpack_packer *pk, const repl_frame *f, unsigned have, const struct zpack *z)
{
    if (msgpack_pack_map(pk, 1 + popcount(have)) != 0 || put_key(pk, "t") != 0 ||
        msgpack_pack_uint8(pk, f->type) != 0)
        return -1;
    for (unsigned i = 0; i < NKEYS; i++) {
        if (!(have & (1u << i)))
            continue;
        if (put_key(pk, keys[i]) != 0 || put_value(pk, f, 1u << i, z) != 0)
            return -1;
    }
    return 0;
}

/* What compression did in this process (repl_zstd_stats_get). */
static _Atomic uint64_t z_sent, z_sent_raw, z_sent_wire, z_recv, z_recv_raw, z_recv_wire, z_refused;

/* f's events compressed at f->zlevel into *z when f may carry them so, they
 * are at least REPL_ZSTD_MIN bytes and zstd makes them smaller; z->zev
 * stays NULL otherwise (the events go as they are). An error only when
 * memory or the encoder failed. */
static int zpack_events(const repl_frame *f, struct zpack *z)
{
    memset(z, 0, sizeof(*z));
    if (f->zlevel <= 0 || f->nevents == 0 || !(shapes[f->type].may & F_ZEV))
        return HCP_OK;
    hcp_buf raw;
    hcp_buf_init(&raw, REPL_FRAME_MAX);
    struct sink s = {&raw, 0, HCP_OK};
    msgpack_packer pk;
    msgpack_packer_init(&pk, &s, sink_write);
    int rc = put_events(&pk, f) == 0 ? HCP_OK : s.err != HCP_OK ? s.err : HCP_ENOMEM;
    if (rc != HCP_OK || raw.len < REPL_ZSTD_MIN) {
        hcp_buf_free(&raw);
        return rc == HCP_ERANGE ? HCP_OK : rc; /* too large: the plain encoder says so */
    }
    size_t cap = ZSTD_compressBound(raw.len);
    z->zev = malloc(cap);
    if (z->zev == NULL) {
        hcp_buf_free(&raw);
        return HCP_ENOMEM;
    }
    int level = f->zlevel > ZSTD_maxCLevel() ? ZSTD_maxCLevel() : f->zlevel;
    size_t n = ZSTD_compress(z->zev, cap, raw.data, raw.len, level);
    if (ZSTD_isError(n) || n >= raw.len) {
        free(z->zev); /* not smaller (or zstd failed): send them plain */
        z->zev = NULL;
    } else {
        z->zev_len = n;
        z->raw_len = raw.len;
    }
    hcp_buf_free(&raw);
    return HCP_OK;
}

/* Encode f as one map appended to out (owned by the caller); on error out
 * is left as it was. */
int repl_encode(const repl_frame *f, hcp_buf *out)
{
    if (f == NULL || out == NULL || f->type == REPL_NONE || f->type >= REPL_TYPE_COUNT_)
        return HCP_EINVAL;
    if (f->nevents > REPL_BATCH_EVENTS)
        return HCP_ERANGE;
    bool ok;
    unsigned have = fields_to_write(f, &ok);
    if (!ok)
        return HCP_EINVAL;
    struct zpack z;
    int rc = zpack_events(f, &z);
    if (rc != HCP_OK)
        return rc;
    if (z.zev != NULL)
        have = (have & ~(unsigned)F_EVENTS) | F_ZEVENTS;
    struct sink s = {out, out->len, HCP_OK};
    msgpack_packer pk;
    msgpack_packer_init(&pk, &s, sink_write);
    if (put_frame(&pk, f, have, &z) != 0) {
        out->len = s.start;
        free(z.zev);
        return s.err != HCP_OK ? s.err : HCP_ENOMEM;
    }
    if (z.zev != NULL) {
        atomic_fetch_add(&z_sent, 1);
        atomic_fetch_add(&z_sent_raw, z.raw_len);
        atomic_fetch_add(&z_sent_wire, z.zev_len);
    }
    free(z.zev);
    return HCP_OK;
}

/* ---------------------------------------------------------------------- */
/* Decoding                                                                */
/* ---------------------------------------------------------------------- */

/* What decoding reads from: the input's bounds, for the borrow check. */
struct src {
    const uint8_t *p;
    size_t n;
};

/* Borrow a bin object's bytes: its type, its length in [lo, hi], and its
 * pointer inside the input (msgpack-c references, never copies). */
static int get_bin(const struct src *in, const msgpack_object *o, size_t lo, size_t hi,
                   const uint8_t **p, size_t *n)
{
    if (o->type != MSGPACK_OBJECT_BIN)
        return HCP_EFORMAT;
    size_t len = o->via.bin.size;
    const uint8_t *b = (const uint8_t *)o->via.bin.ptr;
    if (len < lo || len > hi)
        return HCP_ERANGE;
    if (len > 0 && (b < in->p || len > in->n || b > in->p + (in->n - len)))
        return HCP_EFORMAT; /* not borrowed from the input: never expected */
    *p = b;
    *n = len;
    return HCP_OK;
}

/* Copy a bin object of exactly `len` bytes into dst. */
static int get_fixed(const struct src *in, const msgpack_object *o, uint8_t *dst, size_t len)
{
    const uint8_t *p;
    size_t n;
    int rc = get_bin(in, o, len, len, &p, &n);
    if (rc == HCP_OK)
        memcpy(dst, p, len);
    return rc == HCP_ERANGE ? HCP_EFORMAT : rc;
}

/* An unsigned integer object no larger than max. */
static int get_uint(const msgpack_object *o, uint64_t max, uint64_t *v)
{
    if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
        return HCP_EFORMAT;
    if (o->via.u64 > max)
        return HCP_ERANGE;
    *v = o->via.u64;
    return HCP_OK;
}

/* A string object of printable ASCII copied into dst[cap] (NUL-terminated),
 * or, with county set, six digits. */
static int get_str(const msgpack_object *o, char *dst, size_t cap, bool county)
{
    if (o->type != MSGPACK_OBJECT_STR)
        return HCP_EFORMAT;
    const char *s = o->via.str.ptr;
    size_t n = o->via.str.size;
    if (county ? !hcp_county_code_ok(s, n) : !ascii_ok(s, n, cap - 1))
        return HCP_EFORMAT;
    memcpy(dst, s, n);
    dst[n] = '\0';
    return HCP_OK;
}

/* One event [rec, hash] or [rec, hash, pii] into *e. */
static int get_event(const struct src *in, const msgpack_object *o, repl_event *e)
{
    if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size < 2 || o->via.array.size > 3)
        return HCP_EFORMAT;
    const msgpack_object *a = o->via.array.ptr;
    int rc = get_bin(in, &a[0], 1, HCP_RECORD_MAX, &e->rec, &e->rec_len);
    if (rc == HCP_OK)
        rc = get_fixed(in, &a[1], e->hash, HCP_HASH_LEN);
    if (rc == HCP_OK && o->via.array.size == 3)
        rc = get_bin(in, &a[2], 1, HCP_RECORD_MAX, &e->pii, &e->pii_len);
    return rc;
}

/* The events array into f->events (allocated here, owned by f). */
static int get_events(const struct src *in, const msgpack_object *o, repl_frame *f)
{
    if (o->type != MSGPACK_OBJECT_ARRAY)
        return HCP_EFORMAT;
    if (o->via.array.size > REPL_BATCH_EVENTS)
        return HCP_ERANGE;
    if (o->via.array.size == 0)
        return HCP_OK;
    f->events = calloc(o->via.array.size, sizeof(*f->events));
    if (f->events == NULL)
        return HCP_ENOMEM;
    f->nevents = o->via.array.size;
    for (size_t i = 0; i < f->nevents; i++) {
        int rc = get_event(in, &o->via.array.ptr[i], &f->events[i]);
        if (rc != HCP_OK)
            return rc;
    }
    return HCP_OK;
}

/* One entry [rec, hash, sig] into *d. */
static int get_dir(const struct src *in, const msgpack_object *o, repl_dir *d)
{
    if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size != 3)
        return HCP_EFORMAT;
    const msgpack_object *a = o->via.array.ptr;
    int rc = get_bin(in, &a[0], 1, REPL_DIR_REC_MAX, &d->rec, &d->rec_len);
    if (rc == HCP_OK)
        rc = get_fixed(in, &a[1], d->hash, HCP_HASH_LEN);
    if (rc == HCP_OK)
        rc = get_bin(in, &a[2], 1, REPL_SIG_MAX, &d->sig, &d->sig_len);
    return rc;
}

/* The dirs array into f->dirs (allocated here, owned by f). */
static int get_dirs(const struct src *in, const msgpack_object *o, repl_frame *f)
{
    if (o->type != MSGPACK_OBJECT_ARRAY)
        return HCP_EFORMAT;
    if (o->via.array.size > REPL_DIRS_MAX)
        return HCP_ERANGE;
    if (o->via.array.size == 0)
        return HCP_OK;
    f->dirs = calloc(o->via.array.size, sizeof(*f->dirs));
    if (f->dirs == NULL)
        return HCP_ENOMEM;
    f->ndirs = o->via.array.size;
    for (size_t i = 0; i < f->ndirs; i++) {
        int rc = get_dir(in, &o->via.array.ptr[i], &f->dirs[i]);
        if (rc != HCP_OK)
            return rc;
    }
    return HCP_OK;
}

/* The value of field `bit` into f. */
static int get_value(const struct src *in, const msgpack_object *o, unsigned bit, repl_frame *f)
{
    uint64_t u = 0;
    int rc;
    switch (bit) {
    case F_V:
    case F_VMIN:
    case F_MAX:
        rc = get_uint(o, UINT32_MAX, &u);
        *(bit == F_V ? &f->v : bit == F_VMIN ? &f->vmin : &f->max) = (uint32_t)u;
        return rc;
    case F_SEQ:
        return get_uint(o, UINT64_MAX, &f->seq);
    case F_COUNTY:
        return get_str(o, f->county, sizeof(f->county), true);
    case F_NODE:
        return get_str(o, f->node, sizeof(f->node), false);
    case F_GW:
        return get_str(o, f->gw, sizeof(f->gw), false);
    case F_STATE:
        return get_str(o, f->state, sizeof(f->state), false);
    case F_CODE:
        return get_str(o, f->code, sizeof(f->code), false);
    case F_HASH:
        f->has_hash = true;
        return get_fixed(in, o, f->hash, HCP_HASH_LEN);
    case F_NONCE:
        return get_fixed(in, o, f->nonce, REPL_NONCE_LEN);
    case F_CERT:
        return get_bin(in, o, 1, REPL_CERT_MAX, &f->cert, &f->cert_len);
    case F_SIG:
        return get_bin(in, o, 1, REPL_SIG_MAX, &f->sig, &f->sig_len);
    case F_DSEQ:
        f->has_dseq = true;
        return get_uint(o, UINT64_MAX, &f->dseq);
    case F_DIRS:
        return get_dirs(in, o, f);
    case F_DMORE:
        if (o->type != MSGPACK_OBJECT_BOOLEAN)
            return HCP_EFORMAT;
        f->dmore = o->via.boolean;
        return HCP_OK;
    case F_GCERT:
        return get_bin(in, o, 1, REPL_CERT_MAX, &f->gcert, &f->gcert_len);
    case F_ZSTD:
        rc = get_uint(o, UINT32_MAX, &u);
        f->zstd = (uint32_t)u;
        return rc;
    case F_ZLEN:
    case F_ZEV:
        return HCP_OK; /* read by get_zevents once every key is known */
    default:
        return get_events(in, o, f);
    }
}

/* The field bit a key names, 0 for a key we do not know. */
static unsigned key_bit(const msgpack_object *k)
{
    if (k->type != MSGPACK_OBJECT_STR)
        return 0;
    for (unsigned i = 0; i < NKEYS; i++)
        if (strlen(keys[i]) == k->via.str.size &&
            memcmp(keys[i], k->via.str.ptr, k->via.str.size) == 0)
            return 1u << i;
    return 0;
}

/* The type key "t": a small positive integer naming a known frame. */
static int get_type(const msgpack_object *map, uint8_t *type)
{
    bool seen = false;
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object_kv *kv = &map->via.map.ptr[i];
        if (kv->key.type != MSGPACK_OBJECT_STR || kv->key.via.str.size != 1 ||
            kv->key.via.str.ptr[0] != 't')
            continue;
        uint64_t t;
        if (seen || get_uint(&kv->val, UINT8_MAX, &t) != HCP_OK)
            return HCP_EFORMAT;
        if (t == REPL_NONE || t >= REPL_TYPE_COUNT_)
            return HCP_EPROTO;
        *type = (uint8_t)t;
        seen = true;
    }
    return seen ? HCP_OK : HCP_EPROTO;
}

/* Decompress a compressed events array (zev, zlen: the frame's objects)
 * into f->zbuf, bounded before the allocation, and read the events from it
 * (borrowing from f->zbuf). */
static int get_zevents(const struct src *in, const msgpack_object *zev, const msgpack_object *zlen,
                       repl_frame *f, uint64_t *raw)
{
    uint64_t want = 0;
    const uint8_t *z = NULL;
    size_t zn = 0;
    int rc = get_uint(zlen, REPL_FRAME_MAX, &want);
    if (rc == HCP_OK)
        rc = get_bin(in, zev, 1, REPL_FRAME_MAX, &z, &zn);
    if (rc == HCP_OK && want == 0)
        rc = HCP_EFORMAT;
    if (rc != HCP_OK)
        return rc;
    /* the zstd header must state exactly the declared size, and the bytes
     * must be exactly one frame: nothing is allocated for a lie */
    if (ZSTD_getFrameContentSize(z, zn) != want)
        return HCP_EFORMAT;
    size_t fl = ZSTD_findFrameCompressedSize(z, zn);
    if (ZSTD_isError(fl) || fl != zn)
        return HCP_EFORMAT;
    f->zbuf = malloc((size_t)want);
    ZSTD_DCtx *dc = f->zbuf != NULL ? ZSTD_createDCtx() : NULL;
    if (dc == NULL)
        return HCP_ENOMEM;
    /* one-shot into a buffer of the declared size: zstd stops with an
     * error rather than write past it, and allocates no window */
    size_t got = ZSTD_decompressDCtx(dc, f->zbuf, (size_t)want, z, zn);
    ZSTD_freeDCtx(dc);
    if (ZSTD_isError(got) || got != want)
        return HCP_EFORMAT;
    rc = hcp_mp_check(f->zbuf, (size_t)want, 3);
    if (rc != HCP_OK)
        return rc;
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    size_t off = 0;
    msgpack_unpack_return ur = msgpack_unpack_next(&up, (const char *)f->zbuf, (size_t)want, &off);
    if (ur == MSGPACK_UNPACK_NOMEM_ERROR)
        rc = HCP_ENOMEM;
    else if (ur != MSGPACK_UNPACK_SUCCESS || off != want)
        rc = HCP_EFORMAT;
    struct src zin = {f->zbuf, (size_t)want};
    if (rc == HCP_OK)
        rc = get_events(&zin, &up.data, f);
    msgpack_unpacked_destroy(&up);
    if (rc == HCP_OK) {
        f->zwire = zn;
        *raw = want;
    }
    return rc;
}

/* Read the type's fields from the map; keys it does not use are ignored,
 * a field given twice is malformed. */
static int get_fields(const struct src *in, const msgpack_object *map, repl_frame *f)
{
    const struct shape *s = &shapes[f->type];
    unsigned have = 0;
    const msgpack_object *zev = NULL, *zlen = NULL;
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object_kv *kv = &map->via.map.ptr[i];
        unsigned bit = key_bit(&kv->key) & (s->need | s->may);
        if (bit == 0)
            continue;
        if (have & bit)
            return HCP_EFORMAT;
        have |= bit;
        if (bit == F_ZEV)
            zev = &kv->val;
        else if (bit == F_ZLEN)
            zlen = &kv->val;
        int rc = get_value(in, &kv->val, bit, f);
        if (rc != HCP_OK)
            return rc;
    }
    if (have & F_ZEVENTS) { /* compressed events: both keys, and no plain ones */
        if ((have & F_ZEVENTS) != F_ZEVENTS || (have & F_EVENTS) || zev == NULL || zlen == NULL)
            return HCP_EFORMAT;
        uint64_t raw = 0;
        int rc = get_zevents(in, zev, zlen, f, &raw);
        if (rc != HCP_OK) {
            atomic_fetch_add(&z_refused, 1);
            return rc;
        }
        atomic_fetch_add(&z_recv, 1);
        atomic_fetch_add(&z_recv_raw, raw);
        atomic_fetch_add(&z_recv_wire, f->zwire);
        have |= F_EVENTS;
    }
    if ((have & s->need) != s->need || !frame_fields_ok(f, have))
        return HCP_EPROTO;
    return HCP_OK;
}

/* Decode one frame from the caller's untrusted bytes into *f (see repl.h:
 * byte fields borrow from buf, events is owned by f). */
int repl_decode(const void *buf, size_t len, repl_frame *f)
{
    if (f == NULL)
        return HCP_EINVAL;
    memset(f, 0, sizeof(*f));
    if (buf == NULL)
        return HCP_EINVAL;
    if (len > REPL_FRAME_MAX)
        return HCP_ERANGE;
    int rc = hcp_mp_check(buf, len, FRAME_DEPTH);
    if (rc != HCP_OK)
        return rc;
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    size_t off = 0;
    msgpack_unpack_return ur = msgpack_unpack_next(&up, buf, len, &off);
    if (ur == MSGPACK_UNPACK_NOMEM_ERROR)
        rc = HCP_ENOMEM;
    else if (ur != MSGPACK_UNPACK_SUCCESS || off != len || up.data.type != MSGPACK_OBJECT_MAP)
        rc = HCP_EFORMAT;
    if (rc == HCP_OK)
        rc = get_type(&up.data, &f->type);
    struct src in = {buf, len};
    if (rc == HCP_OK)
        rc = get_fields(&in, &up.data, f);
    msgpack_unpacked_destroy(&up);
    return rc;
}

/* Free what f owns (the events array) and zero it; safe on a zeroed frame. */
void repl_frame_clear(repl_frame *f)
{
    if (f == NULL)
        return;
    free(f->events);
    free(f->dirs);
    free(f->zbuf);
    memset(f, 0, sizeof(*f));
}

/* HCP_REPL_ZSTD, read once: see repl.h. */
int repl_zstd_level(void)
{
    static _Atomic int cached = -1;
    int v = atomic_load(&cached);
    if (v >= 0)
        return v;
    const char *e = getenv("HCP_REPL_ZSTD");
    v = REPL_ZSTD_LEVEL;
    if (e != NULL && (strcmp(e, "off") == 0 || strcmp(e, "0") == 0))
        v = 0;
    else if (e != NULL && *e != '\0') {
        char *end = NULL;
        long l = strtol(e, &end, 10);
        if (end != e && *end == '\0' && l >= 1 && l <= 19)
            v = (int)l;
    }
    atomic_store(&cached, v);
    return v;
}

/* A snapshot of the counters (each read atomically). */
void repl_zstd_stats_get(repl_zstd_stats *out)
{
    if (out == NULL)
        return;
    out->sent = atomic_load(&z_sent);
    out->sent_raw = atomic_load(&z_sent_raw);
    out->sent_wire = atomic_load(&z_sent_wire);
    out->recv = atomic_load(&z_recv);
    out->recv_raw = atomic_load(&z_recv_raw);
    out->recv_wire = atomic_load(&z_recv_wire);
    out->refused = atomic_load(&z_refused);
}

/* The counters as Prometheus text under prefix (both daemons' /metrics). */
int repl_zstd_metrics(const char *prefix, hcp_buf *out)
{
    if (prefix == NULL || out == NULL || strlen(prefix) > 64)
        return HCP_EINVAL;
    repl_zstd_stats st;
    repl_zstd_stats_get(&st);
    static const struct {
        const char *name, *help;
    } m[] = {
        {"zstd_level", "The zstd level this process compresses replication events at (0: it does "
                       "not offer compression)."},
        {"zstd_frames_sent_total", "Frames whose events this process sent zstd-compressed."},
        {"zstd_sent_raw_bytes_total", "Size of those events before compression."},
        {"zstd_sent_wire_bytes_total", "Size of those events as sent, compressed."},
        {"zstd_frames_received_total", "Frames whose events arrived zstd-compressed."},
        {"zstd_received_raw_bytes_total", "Size of those events after decompression."},
        {"zstd_received_wire_bytes_total", "Size of those events as received, compressed."},
        {"zstd_refused_total", "Compressed frames refused (a lying size, a bomb, garbage)."},
    };
    const uint64_t v[] = {(uint64_t)repl_zstd_level(),
                          st.sent,
                          st.sent_raw,
                          st.sent_wire,
                          st.recv,
                          st.recv_raw,
                          st.recv_wire,
                          st.refused};
    int rc = HCP_OK;
    for (size_t i = 0; rc == HCP_OK && i < sizeof(m) / sizeof(m[0]); i++) {
        char line[384];
        int n = snprintf(line, sizeof(line), "# HELP %s_%s %s\n# TYPE %s_%s %s\n%s_%s %llu\n",
                         prefix, m[i].name, m[i].help, prefix, m[i].name,
                         i == 0 ? "gauge" : "counter", prefix, m[i].name, (unsigned long long)v[i]);
        rc = n > 0 && (size_t)n < sizeof(line) ? hcp_buf_append(out, line, (size_t)n) : HCP_ERANGE;
    }
    return rc;
}
