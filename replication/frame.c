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
 */
#include "repl.h"

#include "codec.h"
#include "division.h"

#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

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
};
#define F_DIR_ANSWER (F_DIRS | F_DMORE)

/* Per type: the fields it must carry and the ones it may carry. */
struct shape {
    unsigned need;
    unsigned may;
};

static const struct shape shapes[REPL_TYPE_COUNT_] = {
    [REPL_HELLO] = {F_V | F_VMIN | F_COUNTY | F_NODE | F_SEQ, F_HASH | F_DSEQ},
    [REPL_CHALLENGE] = {F_V | F_NONCE | F_GW, 0},
    [REPL_AUTH] = {F_COUNTY | F_NODE | F_CERT | F_SIG, F_DSEQ},
    [REPL_WELCOME] = {F_SEQ | F_STATE, F_HASH | F_DIR_ANSWER | F_GCERT},
    [REPL_BATCH] = {F_COUNTY | F_SEQ | F_EVENTS | F_SIG, F_DSEQ},
    [REPL_ACK] = {F_SEQ, F_HASH | F_DIR_ANSWER},
    [REPL_FETCH] = {F_SEQ | F_MAX, 0},
    [REPL_EVENTS] = {F_SEQ | F_EVENTS, 0},
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

/* Pack the value of the one field `bit` of f. */
static int put_value(msgpack_packer *pk, const repl_frame *f, unsigned bit)
{
    switch (bit) {
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
static const char *const keys[] = {"v",    "vmin",   "county", "node", "gw",    "seq",
                                   "hash", "nonce",  "cert",   "sig",  "max",   "state",
                                   "code", "events", "dseq",   "dirs", "dmore", "gcert"};
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
static int put_frame(msgpack_packer *pk, const repl_frame *f, unsigned have)
{
    if (msgpack_pack_map(pk, 1 + popcount(have)) != 0 || put_key(pk, "t") != 0 ||
        msgpack_pack_uint8(pk, f->type) != 0)
        return -1;
    for (unsigned i = 0; i < NKEYS; i++) {
        if (!(have & (1u << i)))
            continue;
        if (put_key(pk, keys[i]) != 0 || put_value(pk, f, 1u << i) != 0)
            return -1;
    }
    return 0;
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
    struct sink s = {out, out->len, HCP_OK};
    msgpack_packer pk;
    msgpack_packer_init(&pk, &s, sink_write);
    if (put_frame(&pk, f, have) != 0) {
        out->len = s.start;
        return s.err != HCP_OK ? s.err : HCP_ENOMEM;
    }
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

/* Read the type's fields from the map; keys it does not use are ignored,
 * a field given twice is malformed. */
static int get_fields(const struct src *in, const msgpack_object *map, repl_frame *f)
{
    const struct shape *s = &shapes[f->type];
    unsigned have = 0;
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object_kv *kv = &map->via.map.ptr[i];
        unsigned bit = key_bit(&kv->key) & (s->need | s->may);
        if (bit == 0)
            continue;
        if (have & bit)
            return HCP_EFORMAT;
        have |= bit;
        int rc = get_value(in, &kv->val, bit, f);
        if (rc != HCP_OK)
            return rc;
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
    memset(f, 0, sizeof(*f));
}
