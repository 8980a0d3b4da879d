/*
 * store.c — hcp-node's LMDB layout (docs/storage.md): the hash-chained log,
 * cases with their indexes, counters, Art. 11 tallies and the access log.
 */
#include "store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "codec.h"
#include "stored.h"
#include "accounts.h"
#include "node.h"

#define TALLY_CODE_MAX 200

#define be64_put hcpd_be64_put
#define be64_get hcpd_be64_get

static void be32_put(uint8_t *p, uint32_t v)
{
    for (int i = 3; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

static uint32_t be32_get(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* ---- open / close ---- */

static int open_dbis(node_store *s, MDB_txn *txn)
{
    unsigned c = s->readonly ? 0 : MDB_CREATE;
    int rc = mdb_dbi_open(txn, "meta", c, &s->meta);
    if (!rc)
        rc = mdb_dbi_open(txn, "log", c, &s->log);
    if (!rc)
        rc = mdb_dbi_open(txn, "cases", c, &s->cases);
    if (!rc)
        rc = mdb_dbi_open(txn, "case_ev", c | MDB_DUPSORT | MDB_DUPFIXED, &s->case_ev);
    if (!rc)
        rc = mdb_dbi_open(txn, "counters", c, &s->counters);
    if (!rc)
        rc = mdb_dbi_open(txn, "tally", c, &s->tally);
    if (!rc)
        rc = mdb_dbi_open(txn, "status_idx", c, &s->status_idx);
    if (!rc)
        rc = mdb_dbi_open(txn, "access", c, &s->access);
    return rc;
}

/* The store belongs to one county: record it on creation, check it after. */
static int check_county(node_store *s, MDB_txn *txn, char *err, size_t errlen)
{
    MDB_val k = {6, "county"}, v;
    int rc = mdb_get(txn, s->meta, &k, &v);
    if (rc == MDB_NOTFOUND && !s->readonly) {
        v.mv_size = HCP_COUNTY_LEN;
        v.mv_data = s->county;
        s->created = true;
        return mdb_put(txn, s->meta, &k, &v, 0);
    }
    if (rc != MDB_SUCCESS)
        return rc;
    if (v.mv_size != HCP_COUNTY_LEN || memcmp(v.mv_data, s->county, HCP_COUNTY_LEN) != 0) {
        snprintf(err, errlen, "the store belongs to county %.*s, not %s",
                 (int)(v.mv_size > 6 ? 6 : v.mv_size), (const char *)v.mv_data, s->county);
        return MDB_INVALID;
    }
    return MDB_SUCCESS;
}

/* The node id (made on first open) and the acknowledged position. */
static int load_ids(node_store *s, MDB_txn *txn)
{
    MDB_val k = {7, "node_id"}, v;
    int rc = mdb_get(txn, s->meta, &k, &v);
    if (rc == MDB_NOTFOUND && !s->readonly) {
        uint8_t r[8];
        if (hcp_random(r, sizeof(r)) != HCP_OK)
            return EIO;
        for (int i = 0; i < 8; i++)
            snprintf(s->node_id + 2 * i, 3, "%02x", r[i]);
        v.mv_size = 16;
        v.mv_data = s->node_id;
        rc = mdb_put(txn, s->meta, &k, &v, 0);
    } else if (rc == MDB_SUCCESS) {
        size_t n = v.mv_size < 16 ? v.mv_size : 16;
        memcpy(s->node_id, v.mv_data, n);
        s->node_id[n] = '\0';
    } else if (rc == MDB_NOTFOUND)
        rc = MDB_SUCCESS; /* read-only and never made: no id */
    if (rc != MDB_SUCCESS)
        return rc;
    MDB_val ka = {5, "acked"};
    rc = mdb_get(txn, s->meta, &ka, &v);
    if (rc == MDB_SUCCESS && v.mv_size == 8)
        s->acked = be64_get(v.mv_data);
    if (rc != MDB_SUCCESS && rc != MDB_NOTFOUND)
        return rc;
    MDB_val kn = {10, "needs_sync"};
    rc = mdb_get(txn, s->meta, &kn, &v);
    atomic_store(&s->needs_sync, rc == MDB_SUCCESS && v.mv_size == 1 && *(char *)v.mv_data == '1');
    return rc == MDB_NOTFOUND || rc == MDB_SUCCESS ? MDB_SUCCESS : rc;
}

/* Resume the chain from meta "head" and check it against the last entry. */
static int load_head(node_store *s, MDB_txn *txn, char *err, size_t errlen)
{
    int rc = hcp_chain_init(&s->chain, s->county);
    if (rc != HCP_OK)
        return rc;
    MDB_val k = {4, "head"}, v;
    int mrc = mdb_get(txn, s->meta, &k, &v);
    if (mrc == MDB_NOTFOUND)
        return HCP_OK; /* a new store */
    if (mrc != MDB_SUCCESS)
        return store_err(mrc);
    if (v.mv_size != 8 + HCP_HASH_LEN) {
        snprintf(err, errlen, "the stored log head is malformed");
        return HCP_EFORMAT;
    }
    const uint8_t *p = v.mv_data;
    uint64_t seq = be64_get(p);
    uint8_t hash[HCP_HASH_LEN];
    if (seq > 0) {
        hcp_event ev;
        memset(&ev, 0, sizeof(ev));
        rc = store_log_get(s, txn, seq, false, &ev, hash, NULL);
        hcp_event_clear(&ev);
        if (rc != HCP_OK || memcmp(hash, p + 8, HCP_HASH_LEN) != 0) {
            snprintf(err, errlen, "the log head %llu does not match the log",
                     (unsigned long long)seq);
            return HCP_ECHAIN;
        }
    }
    rc = hcp_chain_resume(&s->chain, s->county, seq, p + 8);
    if (rc == HCP_OK)
        atomic_store(&s->head_seq, s->chain.seq);
    return rc;
}

int store_open(node_store *s, const char *dir, const char *county, bool readonly,
               hcp_sealer *sealer, char *err, size_t errlen)
{
    if (s == NULL || dir == NULL || county == NULL || strlen(county) != HCP_COUNTY_LEN)
        return HCP_EINVAL;
    memset(s, 0, sizeof(*s));
    s->readonly = readonly;
    s->sealer = sealer;
    memcpy(s->county, county, HCP_COUNTY_LEN + 1);
    err[0] = '\0';

    MDB_txn *txn = NULL;
    int mrc = hcpd_env_open(&s->db, dir, STORE_MAP_INITIAL, readonly, 256);
    if (!mrc)
        mrc = mdb_txn_begin(s->db.env, NULL, readonly ? MDB_RDONLY : 0, &txn);
    if (!mrc)
        mrc = open_dbis(s, txn);
    if (!mrc)
        mrc = check_county(s, txn, err, errlen);
    if (!mrc)
        mrc = load_ids(s, txn);
    int rc = store_err(mrc);
    if (rc == HCP_OK)
        rc = load_head(s, txn, err, errlen);
    if (rc == HCP_OK && txn != NULL)
        rc = store_err(mdb_txn_commit(txn)); /* the dbi handles persist */
    else if (txn != NULL)
        mdb_txn_abort(txn);
    if (rc != HCP_OK) {
        if (err[0] == '\0')
            snprintf(err, errlen, "%s", mrc ? mdb_strerror(mrc) : hcp_strerror(rc));
        store_close(s);
    }
    return rc;
}

void store_close(node_store *s)
{
    if (s != NULL)
        hcpd_env_close(&s->db);
}

int store_write_begin(node_store *s, MDB_txn **txn)
{
    int rc = store_err(mdb_txn_begin(s->db.env, NULL, 0, txn));
    atomic_store_explicit(&s->cache_txn, rc == HCP_OK ? *txn : NULL, memory_order_relaxed);
    s->ncached = 0;
    return rc;
}

void store_cache_start(node_store *s, MDB_txn *txn)
{
    atomic_store_explicit(&s->cache_txn, txn, memory_order_relaxed);
    s->ncached = 0;
}

void store_cache_drop(node_store *s)
{
    atomic_store_explicit(&s->cache_txn, NULL, memory_order_relaxed);
    s->ncached = 0;
}

int store_cache_flush(node_store *s, MDB_txn *txn)
{
    int rc = HCP_OK;
    for (size_t i = 0; i < s->ncached && rc == HCP_OK; i++) {
        store_cached *c = &s->cache[i];
        MDB_val k = {c->klen, c->key}, v = {c->vlen, c->val};
        rc = store_err(mdb_put(txn, c->dbi, &k, &v, 0));
    }
    s->ncached = 0;
    return rc;
}

/* Read a small value through the cache: *out points at the cached copy,
 * loaded from the store on first use (vlen 0 = absent). NULL if the cache
 * does not serve this transaction (then the caller goes to LMDB itself). */
static int cache_get(node_store *s, MDB_txn *txn, MDB_dbi dbi, const void *key, size_t klen,
                     store_cached **out)
{
    *out = NULL;
    if (txn != atomic_load_explicit(&s->cache_txn, memory_order_relaxed) ||
        klen > sizeof(s->cache[0].key))
        return HCP_OK;
    for (size_t i = 0; i < s->ncached; i++) {
        store_cached *c = &s->cache[i];
        if (c->dbi == dbi && c->klen == klen && memcmp(c->key, key, klen) == 0) {
            *out = c;
            return HCP_OK;
        }
    }
    if (s->ncached == STORE_CACHE_MAX) {
        int rc = store_cache_flush(s, txn);
        if (rc != HCP_OK)
            return rc;
    }
    store_cached *c = &s->cache[s->ncached];
    MDB_val k = {klen, (void *)key}, v;
    int mrc = mdb_get(txn, dbi, &k, &v);
    if (mrc != MDB_SUCCESS && mrc != MDB_NOTFOUND)
        return store_err(mrc);
    if (mrc == MDB_SUCCESS && v.mv_size > sizeof(c->val))
        return HCP_EFORMAT;
    c->dbi = dbi;
    c->klen = (uint16_t)klen;
    memcpy(c->key, key, klen);
    c->vlen = mrc == MDB_SUCCESS ? (uint8_t)v.mv_size : 0;
    if (c->vlen > 0)
        memcpy(c->val, v.mv_data, c->vlen);
    s->ncached++;
    *out = c;
    return HCP_OK;
}

/* ---- cases ---- */

static int status_key(MDB_val *k, uint8_t *buf, size_t cap, uint8_t status, const char *id)
{
    size_t n = strlen(id);
    if (n + 1 > cap)
        return HCP_ERANGE;
    buf[0] = status;
    memcpy(buf + 1, id, n);
    k->mv_size = n + 1;
    k->mv_data = buf;
    return HCP_OK;
}

static int status_index(node_store *s, MDB_txn *txn, const hcp_case *old, const hcp_case *c)
{
    uint8_t kb[HCP_CASE_ID_MAX + 1];
    MDB_val k, v = {0, ""};
    char key[16];
    int rc;
    if (old != NULL && old->status == c->status)
        return HCP_OK;
    if (old != NULL) {
        if ((rc = status_key(&k, kb, sizeof(kb), old->status, old->id)) != HCP_OK)
            return rc;
        int mrc = mdb_del(txn, s->status_idx, &k, NULL);
        if (mrc != MDB_SUCCESS && mrc != MDB_NOTFOUND)
            return store_err(mrc);
        snprintf(key, sizeof(key), "st:%u", old->status);
        if ((rc = store_counter_add(s, txn, key, -1, NULL)) != HCP_OK)
            return rc;
    }
    if ((rc = status_key(&k, kb, sizeof(kb), c->status, c->id)) != HCP_OK)
        return rc;
    if ((rc = store_err(mdb_put(txn, s->status_idx, &k, &v, 0))) != HCP_OK)
        return rc;
    snprintf(key, sizeof(key), "st:%u", c->status);
    return store_counter_add(s, txn, key, 1, NULL);
}

/* The value is hcp_stored_case_pack's (core/stored.h). */
int store_case_put(node_store *s, MDB_txn *txn, const hcp_case *old, const hcp_case *c)
{
    hcp_buf val;
    hcp_buf_init(&val, 2 * HCP_RECORD_MAX);
    int rc = hcp_stored_case_pack(s->sealer, c, &val);
    if (rc == HCP_OK) {
        MDB_val k = {strlen(c->id), (void *)c->id}, v = {val.len, val.data};
        rc = store_err(mdb_put(txn, s->cases, &k, &v, 0));
    }
    if (rc == HCP_OK)
        rc = status_index(s, txn, old, c);
    hcp_buf_free(&val);
    return rc;
}

int store_case_get(node_store *s, MDB_txn *txn, const char *id, bool personal, hcp_case *c)
{
    if (s == NULL || txn == NULL || id == NULL || c == NULL)
        return HCP_EINVAL;
    memset(c, 0, sizeof(*c));
    MDB_val k = {strlen(id), (void *)id}, v;
    int rc = store_err(mdb_get(txn, s->cases, &k, &v));
    if (rc != HCP_OK)
        return rc;
    return hcp_stored_case_unpack(s->sealer, id, v.mv_data, v.mv_size, personal, c);
}

/* ---- the log ---- */

/* Encode ev, chain it (advancing ch) and lay it out as stored (stored.h). */
static int log_value(node_store *s, hcp_chain *ch, hcp_event *ev, hcp_buf *val)
{
    hcp_buf rec, pii;
    hcp_buf_init(&rec, HCP_RECORD_MAX);
    hcp_buf_init(&pii, HCP_RECORD_MAX);
    uint8_t hash[HCP_HASH_LEN];
    /* A salt for every event: whether it has a personal record depends on
     * masking its free text too (hcp_event_has_personal), and drawing 16
     * random bytes costs less than masking twice. Unused without one. */
    int rc = hcp_random(ev->pii_salt, sizeof(ev->pii_salt));
    if (rc == HCP_OK)
        rc = hcp_event_encode(ev, &rec, &pii, NULL);
    if (rc == HCP_OK)
        rc = hcp_chain_append(ch, rec.data, rec.len, hash);
    if (rc == HCP_OK)
        rc = hcp_stored_event_pack(s->sealer, s->county, ev->seq, hash, rec.data, rec.len, pii.data,
                                   pii.len, val);
    hcp_buf_free(&rec);
    hcp_buf_free(&pii);
    return rc;
}

int store_log_append(node_store *s, MDB_txn *txn, hcp_chain *ch, hcp_event *ev)
{
    if (s == NULL || txn == NULL || ch == NULL || ev == NULL)
        return HCP_EINVAL;
    ev->seq = ch->seq + 1;
    memcpy(ev->county, s->county, sizeof(ev->county));
    hcp_buf val;
    hcp_buf_init(&val, 2 * HCP_RECORD_MAX);
    int rc = log_value(s, ch, ev, &val);
    uint8_t kb[8];
    be64_put(kb, ev->seq);
    MDB_val k = {8, kb}, v = {val.len, val.data};
    if (rc == HCP_OK)
        rc = store_err(mdb_put(txn, s->log, &k, &v, MDB_APPEND));
    if (rc == HCP_OK && ev->case_id[0] != '\0') {
        MDB_val ck = {strlen(ev->case_id), ev->case_id};
        rc = store_err(mdb_put(txn, s->case_ev, &ck, &k, 0));
    }
    hcp_buf_free(&val);
    return rc;
}

int store_log_get(node_store *s, MDB_txn *txn, uint64_t seq, bool personal, hcp_event *ev,
                  uint8_t hash[HCP_HASH_LEN], hcp_buf *rec)
{
    if (s == NULL || txn == NULL || seq == 0)
        return HCP_EINVAL;
    if (ev != NULL)
        memset(ev, 0, sizeof(*ev));
    uint8_t kb[8];
    be64_put(kb, seq);
    MDB_val k = {8, kb}, v;
    int rc = store_err(mdb_get(txn, s->log, &k, &v));
    if (rc != HCP_OK)
        return rc;
    return hcp_stored_event_unpack(s->sealer, s->county, seq, v.mv_data, v.mv_size, personal, hash,
                                   rec, NULL, ev);
}

void store_events_free(hcp_event *evs, size_t n)
{
    hcpd_events_free(evs, n);
}

typedef struct load_ctx {
    node_store *s;
    bool personal;
} load_ctx;

/* case_ev values are be64 log positions. */
static int load_logged(void *arg, MDB_txn *txn, const MDB_val *v, hcp_event *ev)
{
    const load_ctx *c = arg;
    if (v->mv_size != 8)
        return HCP_EFORMAT;
    return store_log_get(c->s, txn, be64_get(v->mv_data), c->personal, ev, NULL, NULL);
}

int store_case_events(node_store *s, MDB_txn *txn, const char *id, bool personal, hcp_event **evs,
                      size_t *n)
{
    load_ctx c = {s, personal};
    return hcpd_dup_events(txn, s->case_ev, id, load_logged, &c, evs, n);
}

int store_needs_sync_put(node_store *s, MDB_txn *txn, bool on)
{
    MDB_val k = {10, "needs_sync"}, v = {1, on ? "1" : "0"};
    return store_err(mdb_put(txn, s->meta, &k, &v, 0));
}

int store_log_put_remote(node_store *s, MDB_txn *txn, hcp_chain *ch, uint64_t seq,
                         const uint8_t hash[HCP_HASH_LEN], const void *rec, size_t rec_len,
                         const void *pii, size_t pii_len, hcp_event *ev)
{
    if (seq != ch->seq + 1)
        return HCP_ECHAIN;
    int rc = hcp_chain_verify_next(ch, seq, rec, rec_len, hash);
    if (rc == HCP_OK)
        rc = hcp_event_decode(rec, rec_len, ev);
    if (rc == HCP_OK && pii_len > 0)
        rc = hcp_event_decode_pii(pii, pii_len, ev);
    if (rc == HCP_OK && (ev->seq != seq || strcmp(ev->county, s->county) != 0))
        rc = HCP_ECHAIN;
    hcp_buf val;
    hcp_buf_init(&val, 2 * HCP_RECORD_MAX);
    if (rc == HCP_OK)
        rc = hcp_stored_event_pack(s->sealer, s->county, seq, hash, rec, rec_len, pii, pii_len,
                                   &val);
    uint8_t kb[8];
    be64_put(kb, seq);
    MDB_val k = {8, kb}, v = {val.len, val.data};
    if (rc == HCP_OK)
        rc = store_err(mdb_put(txn, s->log, &k, &v, MDB_APPEND));
    if (rc == HCP_OK && ev->case_id[0] != '\0') {
        MDB_val ck = {strlen(ev->case_id), ev->case_id};
        rc = store_err(mdb_put(txn, s->case_ev, &ck, &k, 0));
    }
    hcp_buf_free(&val);
    return rc;
}

int store_acked_put(node_store *s, MDB_txn *txn, uint64_t seq)
{
    uint8_t buf[8];
    be64_put(buf, seq);
    MDB_val k = {5, "acked"}, v = {8, buf};
    return store_err(mdb_put(txn, s->meta, &k, &v, 0));
}

int store_log_wire(node_store *s, MDB_txn *txn, uint64_t seq, uint8_t hash[HCP_HASH_LEN],
                   hcp_buf *rec, hcp_buf *pii)
{
    uint8_t kb[8];
    be64_put(kb, seq);
    MDB_val k = {8, kb}, v;
    int rc = store_err(mdb_get(txn, s->log, &k, &v));
    if (rc != HCP_OK)
        return rc;
    return hcp_stored_event_unpack(s->sealer, s->county, seq, v.mv_data, v.mv_size, false, hash,
                                   rec, pii, NULL);
}

int store_head_put(node_store *s, MDB_txn *txn, const hcp_chain *ch)
{
    uint8_t buf[8 + HCP_HASH_LEN];
    be64_put(buf, ch->seq);
    memcpy(buf + 8, ch->head, HCP_HASH_LEN);
    MDB_val k = {4, "head"}, v = {sizeof(buf), buf};
    return store_err(mdb_put(txn, s->meta, &k, &v, 0));
}

/* ---- counters, tallies, access log ---- */

int store_counter_get(node_store *s, MDB_txn *txn, const char *key, uint64_t *out)
{
    MDB_val k = {strlen(key), (void *)key}, v;
    store_cached *c;
    *out = 0;
    int crc = cache_get(s, txn, s->counters, key, k.mv_size, &c);
    if (crc != HCP_OK)
        return crc;
    if (c != NULL) {
        if (c->vlen != 0 && c->vlen != 8)
            return HCP_EFORMAT;
        *out = c->vlen ? be64_get(c->val) : 0;
        return HCP_OK;
    }
    int rc = mdb_get(txn, s->counters, &k, &v);
    if (rc == MDB_NOTFOUND)
        return HCP_OK;
    if (rc != MDB_SUCCESS)
        return store_err(rc);
    if (v.mv_size != 8)
        return HCP_EFORMAT;
    *out = be64_get(v.mv_data);
    return HCP_OK;
}

int store_counter_add(node_store *s, MDB_txn *txn, const char *key, int64_t delta, uint64_t *out)
{
    uint64_t cur;
    int rc = store_counter_get(s, txn, key, &cur);
    if (rc != HCP_OK)
        return rc;
    if (delta < 0 && cur < (uint64_t)-delta)
        return HCP_ERANGE;
    cur += (uint64_t)delta;
    uint8_t buf[8];
    be64_put(buf, cur);
    MDB_val k = {strlen(key), (void *)key}, v = {8, buf};
    store_cached *c;
    if ((rc = cache_get(s, txn, s->counters, key, k.mv_size, &c)) != HCP_OK)
        return rc;
    if (c != NULL) {
        memcpy(c->val, buf, 8);
        c->vlen = 8;
    } else
        rc = store_err(mdb_put(txn, s->counters, &k, &v, 0));
    if (rc == HCP_OK && out != NULL)
        *out = cur;
    return rc;
}

/* key = kind | code (at most TALLY_CODE_MAX bytes) | 0 | be32 day;
 * value = be32 counts[6]: [0] all ratings, [r] rating r */
static int tally_one(node_store *s, MDB_txn *txn, char kind, const char *code, hcp_day day,
                     int rating)
{
    if (code == NULL || code[0] == '\0')
        return HCP_OK;
    uint8_t kb[2 + TALLY_CODE_MAX + 4];
    size_t n = strlen(code);
    if (n > TALLY_CODE_MAX)
        n = TALLY_CODE_MAX;
    kb[0] = (uint8_t)kind;
    memcpy(kb + 1, code, n);
    kb[1 + n] = 0;
    be32_put(kb + 2 + n, (uint32_t)day);
    MDB_val k = {n + 6, kb}, v;
    uint8_t counts[24] = {0};
    store_cached *c;
    int crc = cache_get(s, txn, s->tally, kb, k.mv_size, &c);
    if (crc != HCP_OK)
        return crc;
    if (c != NULL) {
        if (c->vlen == sizeof(counts))
            memcpy(counts, c->val, sizeof(counts));
        be32_put(counts, be32_get(counts) + 1);
        be32_put(counts + 4 * rating, be32_get(counts + 4 * rating) + 1);
        memcpy(c->val, counts, sizeof(counts));
        c->vlen = sizeof(counts);
        return HCP_OK;
    }
    int rc = mdb_get(txn, s->tally, &k, &v);
    if (rc == MDB_SUCCESS && v.mv_size == sizeof(counts))
        memcpy(counts, v.mv_data, sizeof(counts));
    else if (rc != MDB_NOTFOUND && rc != MDB_SUCCESS)
        return store_err(rc);
    be32_put(counts, be32_get(counts) + 1);
    be32_put(counts + 4 * rating, be32_get(counts + 4 * rating) + 1);
    v.mv_size = sizeof(counts);
    v.mv_data = counts;
    return store_err(mdb_put(txn, s->tally, &k, &v, 0));
}

int store_tally_add(node_store *s, MDB_txn *txn, const hcp_intake *in, hcp_day day)
{
    if (in->rating < 1 || in->rating > 5)
        return HCP_EINVAL;
    int rc = tally_one(s, txn, 'U', in->unit.code, day, in->rating);
    if (rc == HCP_OK)
        rc = tally_one(s, txn, 'S', in->staff.id, day, in->rating);
    return rc;
}

int store_access_log(node_store *s, MDB_txn *txn, hcp_time now, const char *who, const char *what)
{
    return hcpd_access_put(txn, s->access, now, who, what); /* daemon/accounts.h's format */
}

/* ---- node.h's view ---- */

int node_store_open(node *n)
{
    node_store *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return HCP_ENOMEM;
    char err[256];
    int rc = store_open(s, n->cfg.data, n->cfg.county, false, n->sealer, err, sizeof(err));
    if (rc != HCP_OK) {
        node_log("error", "store.open_failed", "dir=%s reason=\"%s\"", n->cfg.data, err);
        free(s);
        return rc;
    }
    char hex[2 * HCP_HASH_LEN + 1];
    hcp_hash_hex(s->chain.head, hex);
    node_log("info", "store.open", "dir=%s head=%llu hash=%s mapsize=%zu", n->cfg.data,
             (unsigned long long)s->chain.seq, hex, s->db.mapsize);
    n->store = s;
    if ((rc = hcpd_acct_open(&n->acct, &s->db)) != HCP_OK) { /* accounts, access log */
        node_log("error", "store.accounts_failed", "dir=%s reason=\"%s\"", n->cfg.data,
                 hcp_strerror(rc));
        return rc;
    }
    if (s->created && n->cfg.gateway[0] != '\0') {
        /* a new store beside a gateway: the county may have history there
         * (a replaced disk); fetch it before handing out any number */
        MDB_txn *txn;
        rc = store_write_begin(s, &txn);
        if (rc == HCP_OK && (rc = store_needs_sync_put(s, txn, true)) == HCP_OK)
            rc = store_err(mdb_txn_commit(txn));
        else if (rc == HCP_OK)
            mdb_txn_abort(txn);
        store_cache_drop(s);
        atomic_store(&s->needs_sync, rc == HCP_OK);
        if (rc != HCP_OK)
            return rc;
    }
    if (atomic_load(&s->needs_sync))
        node_log(n->cfg.gateway[0] ? "info" : "warn", "store.needs_sync", "detail=\"%s\"",
                 n->cfg.gateway[0]
                     ? "writes wait until the county's history is fetched from the gateway"
                     : "a restored copy running offline: writes made now fork the county's "
                       "history from the province's");
    return HCP_OK;
}

void node_store_close(node *n)
{
    if (n->store == NULL)
        return;
    store_close(n->store);
    free(n->store);
    n->store = NULL;
}
