/*
 * dirrec.c — the province log's records (docs/directives.md), written by
 * the gateway (gateway/plog.c) and read by both ends (the node applies
 * them, node/directive.c). One msgpack map, keys in a fixed order so one
 * entry has one encoding (the chain hashes the bytes):
 *   {v: 1, s: seq, at: time, tg: target, ty: type, b: bin(body)}
 * The body is a msgpack map of the type's fields, kept as bytes so a
 * reader that does not know the type still hashes and stores it as is.
 */
#include "repl.h"

#include "codec.h"
#include "division.h"

#include <msgpack.h>
#include <string.h>

#define DIR_VERSION 1
#define DIR_DEPTH   8 /* the record's own nesting; the body is bin */

bool repl_dir_type_ok(const char *s)
{
    if (s == NULL)
        return false;
    size_t n = strnlen(s, REPL_DIR_TYPE_MAX + 1);
    if (n == 0 || n > REPL_DIR_TYPE_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || s[i] == '_'))
            return false;
    return true;
}

/* "all" or six digits. */
static bool target_ok(const char *s, size_t n)
{
    return (n == 3 && memcmp(s, "all", 3) == 0) || hcp_county_code_ok(s, n);
}

/* The packer's sink: append to an hcp_buf, remembering the first error. */
struct sink {
    hcp_buf *out;
    int err;
};

static int sink_write(void *data, const char *buf, size_t len)
{
    struct sink *k = data;
    if (k->err == HCP_OK)
        k->err = hcp_buf_append(k->out, buf, len);
    return k->err == HCP_OK ? 0 : -1;
}

/* A short string (key or value). */
static int put_str(msgpack_packer *pk, const char *s, size_t n)
{
    return msgpack_pack_str(pk, n) != 0 ? -1 : msgpack_pack_str_body(pk, s, n);
}

int repl_dir_encode(const repl_dir_entry *e, hcp_buf *out)
{
    if (e == NULL || out == NULL || e->seq == 0 || e->seq > REPL_SEQ_MAX || e->at <= 0 ||
        !target_ok(e->target, strnlen(e->target, sizeof(e->target))) ||
        !repl_dir_type_ok(e->type) || e->body == NULL || e->body_len == 0 ||
        e->body_len > REPL_DIR_BODY_MAX)
        return HCP_EINVAL;
    size_t start = out->len;
    struct sink k = {out, HCP_OK};
    msgpack_packer pk;
    msgpack_packer_init(&pk, &k, sink_write);
    bool ok = msgpack_pack_map(&pk, 6) == 0 && put_str(&pk, "v", 1) == 0 &&
              msgpack_pack_uint8(&pk, DIR_VERSION) == 0 && put_str(&pk, "s", 1) == 0 &&
              msgpack_pack_uint64(&pk, e->seq) == 0 && put_str(&pk, "at", 2) == 0 &&
              msgpack_pack_int64(&pk, e->at) == 0 && put_str(&pk, "tg", 2) == 0 &&
              put_str(&pk, e->target, strlen(e->target)) == 0 && put_str(&pk, "ty", 2) == 0 &&
              put_str(&pk, e->type, strlen(e->type)) == 0 && put_str(&pk, "b", 1) == 0 &&
              msgpack_pack_bin(&pk, e->body_len) == 0 &&
              msgpack_pack_bin_body(&pk, e->body, e->body_len) == 0;
    if (!ok) {
        out->len = start;
        return k.err != HCP_OK ? k.err : HCP_ENOMEM;
    }
    return HCP_OK;
}

/* Whether key object k is the string s. */
static bool key_is(const msgpack_object *k, const char *s)
{
    size_t n = strlen(s);
    return k->type == MSGPACK_OBJECT_STR && k->via.str.size == n &&
           memcmp(k->via.str.ptr, s, n) == 0;
}

/* The six known pairs, in order, into *e; rec/len bound the borrow. */
static int dec_pairs(const msgpack_object *m, const uint8_t *rec, size_t len, repl_dir_entry *e)
{
    static const char *const want[] = {"v", "s", "at", "tg", "ty", "b"};
    if (m->type != MSGPACK_OBJECT_MAP || m->via.map.size < 6)
        return HCP_EFORMAT;
    const msgpack_object_kv *kv = m->via.map.ptr;
    for (size_t i = 0; i < 6; i++)
        if (!key_is(&kv[i].key, want[i]))
            return HCP_EFORMAT;
    const msgpack_object *v = &kv[0].val, *s = &kv[1].val, *at = &kv[2].val, *tg = &kv[3].val,
                         *ty = &kv[4].val, *b = &kv[5].val;
    if (v->type != MSGPACK_OBJECT_POSITIVE_INTEGER || v->via.u64 != DIR_VERSION ||
        s->type != MSGPACK_OBJECT_POSITIVE_INTEGER || s->via.u64 == 0 ||
        s->via.u64 > REPL_SEQ_MAX || at->type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
        at->via.u64 > INT64_MAX || at->via.u64 == 0 || tg->type != MSGPACK_OBJECT_STR ||
        !target_ok(tg->via.str.ptr, tg->via.str.size) || ty->type != MSGPACK_OBJECT_STR ||
        ty->via.str.size == 0 || ty->via.str.size > REPL_DIR_TYPE_MAX ||
        b->type != MSGPACK_OBJECT_BIN || b->via.bin.size == 0 ||
        b->via.bin.size > REPL_DIR_BODY_MAX)
        return HCP_EFORMAT;
    const uint8_t *bp = (const uint8_t *)b->via.bin.ptr;
    if (bp < rec || b->via.bin.size > len || bp > rec + (len - b->via.bin.size))
        return HCP_EFORMAT; /* not borrowed from the record: never expected */
    e->seq = s->via.u64;
    e->at = (hcp_time)at->via.u64;
    memcpy(e->target, tg->via.str.ptr, tg->via.str.size);
    e->target[tg->via.str.size] = '\0';
    memcpy(e->type, ty->via.str.ptr, ty->via.str.size);
    e->type[ty->via.str.size] = '\0';
    if (!repl_dir_type_ok(e->type))
        return HCP_EFORMAT;
    e->body = bp;
    e->body_len = b->via.bin.size;
    /* the body must be one msgpack map itself */
    bool is_map = (bp[0] & 0xf0) == 0x80 || bp[0] == 0xde || bp[0] == 0xdf;
    if (!is_map || hcp_mp_check(bp, e->body_len, DIR_DEPTH) != HCP_OK)
        return HCP_EFORMAT;
    return HCP_OK;
}

int repl_dir_decode(const void *rec, size_t len, repl_dir_entry *e)
{
    if (e == NULL)
        return HCP_EINVAL;
    memset(e, 0, sizeof(*e));
    if (rec == NULL || len == 0 || len > REPL_DIR_REC_MAX)
        return HCP_EFORMAT;
    int rc = hcp_mp_check(rec, len, DIR_DEPTH);
    if (rc != HCP_OK)
        return rc == HCP_ENOMEM ? rc : HCP_EFORMAT;
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    size_t off = 0;
    msgpack_unpack_return ur = msgpack_unpack_next(&up, rec, len, &off);
    if (ur == MSGPACK_UNPACK_NOMEM_ERROR)
        rc = HCP_ENOMEM;
    else if (ur != MSGPACK_UNPACK_SUCCESS || off != len)
        rc = HCP_EFORMAT;
    else
        rc = dec_pairs(&up.data, rec, len, e);
    msgpack_unpacked_destroy(&up);
    if (rc != HCP_OK)
        memset(e, 0, sizeof(*e));
    return rc;
}
