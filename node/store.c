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

#include "accounts.h"
#include "codec.h"
#include "format.h"
#include "lock.h"
#include "be.h"
#include "record.h"

#define TALLY_CODE_MAX 200

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
    if (!rc) { /* directives (docs/directives.md): newer than the rest */
        rc = mdb_dbi_open(txn, "dirs", c, &s->dirs);
        s->has_dirs = rc == MDB_SUCCESS;
        if (rc == MDB_NOTFOUND && s->readonly)
            rc = MDB_SUCCESS;
    }
    if (!rc) { /* Art. 14's register (node/contacts.h): newer still */
        rc = mdb_dbi_open(txn, "contacts", c, &s->contacts);
        s->has_contacts = rc == MDB_SUCCESS;
        if (rc == MDB_NOTFOUND && s->readonly)
            rc = MDB_SUCCESS;
    }
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
        s->acked = hcp_be64_get(v.mv_data);
    if (rc != MDB_SUCCESS && rc != MDB_NOTFOUND)
        return rc;
    MDB_val kd = {4, "dseq"};
    rc = mdb_get(txn, s->meta, &kd, &v);
    if (rc == MDB_SUCCESS && v.mv_size == 8)
        atomic_store(&s->dseq, hcp_be64_get(v.mv_data));
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
    uint64_t seq = hcp_be64_get(p);
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
    if (!mrc) /* before anything is read: a newer store is refused (daemon/format.h) */
        mrc = hcpd_format_check(txn, s->meta, "hcp-node", HCPD_FORMAT_NODE, readonly, NULL, NULL,
                                NULL, err, errlen);
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

int store_status_key_encode(uint8_t status, const char *id, uint8_t *buf, size_t cap, size_t *len)
{
    if (id == NULL || buf == NULL || len == NULL || id[0] == '\0')
        return HCP_EINVAL;
    size_t n = strlen(id);
    if (n + 1 > cap)
        return HCP_ERANGE;
    buf[0] = status;
    memcpy(buf + 1, id, n);
    *len = n + 1;
    return HCP_OK;
}

int store_status_key_decode(const void *key, size_t len, uint8_t *status, char id[HCP_CASE_ID_MAX])
{
    if (key == NULL || status == NULL || id == NULL)
        return HCP_EINVAL;
    const uint8_t *p = key;
    if (len < 2 || memchr(p + 1, '\0', len - 1) != NULL)
        return HCP_EFORMAT;
    if (len - 1 >= HCP_CASE_ID_MAX)
        return HCP_ERANGE;
    *status = p[0];
    memcpy(id, p + 1, len - 1);
    id[len - 1] = '\0';
    return HCP_OK;
}

/* The status index's key of case id under status, in kb. */
static int status_key(MDB_val *k, uint8_t *kb, size_t cap, uint8_t status, const char *id)
{
    size_t len;
    int rc = store_status_key_encode(status, id, kb, cap, &len);
    if (rc == HCP_OK) {
        k->mv_size = len;
        k->mv_data = kb;
    }
    return rc;
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

/* The value is hcp_stored_case_pack's (core/record.h). */
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

/* Encode ev, chain it (advancing ch) and lay it out as stored (record.h). */
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
    hcp_be64_put(kb, ev->seq);
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
    hcp_be64_put(kb, seq);
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
    return store_log_get(c->s, txn, hcp_be64_get(v->mv_data), c->personal, ev, NULL, NULL);
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
    hcp_be64_put(kb, seq);
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
    hcp_be64_put(buf, seq);
    MDB_val k = {5, "acked"}, v = {8, buf};
    return store_err(mdb_put(txn, s->meta, &k, &v, 0));
}

int store_log_wire(node_store *s, MDB_txn *txn, uint64_t seq, uint8_t hash[HCP_HASH_LEN],
                   hcp_buf *rec, hcp_buf *pii)
{
    uint8_t kb[8];
    hcp_be64_put(kb, seq);
    MDB_val k = {8, kb}, v;
    int rc = store_err(mdb_get(txn, s->log, &k, &v));
    if (rc != HCP_OK)
        return rc;
    return hcp_stored_event_unpack(s->sealer, s->county, seq, v.mv_data, v.mv_size, false, hash,
                                   rec, pii, NULL);
}

int store_sync(node_store *s)
{
    return store_err(mdb_env_sync(s->db.env, 1));
}

int store_head_put(node_store *s, MDB_txn *txn, const hcp_chain *ch)
{
    uint8_t buf[8 + HCP_HASH_LEN];
    hcp_be64_put(buf, ch->seq);
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
        *out = c->vlen ? hcp_be64_get(c->val) : 0;
        return HCP_OK;
    }
    int rc = mdb_get(txn, s->counters, &k, &v);
    if (rc == MDB_NOTFOUND)
        return HCP_OK;
    if (rc != MDB_SUCCESS)
        return store_err(rc);
    if (v.mv_size != 8)
        return HCP_EFORMAT;
    *out = hcp_be64_get(v.mv_data);
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
    hcp_be64_put(buf, cur);
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
    hcp_be32_put(kb + 2 + n, (uint32_t)day);
    MDB_val k = {n + 6, kb}, v;
    uint8_t counts[24] = {0};
    store_cached *c;
    int crc = cache_get(s, txn, s->tally, kb, k.mv_size, &c);
    if (crc != HCP_OK)
        return crc;
    if (c != NULL) {
        if (c->vlen == sizeof(counts))
            memcpy(counts, c->val, sizeof(counts));
        hcp_be32_put(counts, hcp_be32_get(counts) + 1);
        hcp_be32_put(counts + 4 * rating, hcp_be32_get(counts + 4 * rating) + 1);
        memcpy(c->val, counts, sizeof(counts));
        c->vlen = sizeof(counts);
        return HCP_OK;
    }
    int rc = mdb_get(txn, s->tally, &k, &v);
    if (rc == MDB_SUCCESS && v.mv_size == sizeof(counts))
        memcpy(counts, v.mv_data, sizeof(counts));
    else if (rc != MDB_NOTFOUND && rc != MDB_SUCCESS)
        return store_err(rc);
    hcp_be32_put(counts, hcp_be32_get(counts) + 1);
    hcp_be32_put(counts + 4 * rating, hcp_be32_get(counts + 4 * rating) + 1);
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

int store_access_log(node_store *s, MDB_txn *txn, hcp_time now, const char *who, const char *what,
                     const char *why)
{
    return hcpd_access_put_why(txn, s->access, now, who, what, why); /* accounts.h's format */
}

/* ---- queries ---- */

/* The statuses of a case that may still run a deadline (before feedback). */
static const uint8_t open_statuses[] = {HCP_ST_RECEIVED, HCP_ST_VERIFYING, HCP_ST_DISPUTED,
                                        HCP_ST_RECTIFYING, HCP_ST_FEEDBACK_PENDING};

/* Append id to the growing array *arr (capacity *cap, *k used). */
static int ids_push(char (**arr)[HCP_CASE_ID_MAX], size_t *cap, size_t *k, const char *id)
{
    if (*k == *cap) {
        size_t ncap = *cap ? *cap * 2 : 64;
        void *p = realloc(*arr, ncap * sizeof(**arr));
        if (p == NULL)
            return HCP_ENOMEM;
        *arr = p;
        *cap = ncap;
    }
    memcpy((*arr)[(*k)++], id, strlen(id) + 1);
    return HCP_OK;
}

/* The ids under one status of the index, appended to *arr. */
static int ids_of_status(MDB_cursor *cur, uint8_t status, char (**arr)[HCP_CASE_ID_MAX],
                         size_t *cap, size_t *k)
{
    MDB_val key = {1, (void *)&status}, v;
    int rc = HCP_OK;
    int mrc = mdb_cursor_get(cur, &key, &v, MDB_SET_RANGE);
    while (rc == HCP_OK && mrc == MDB_SUCCESS && ((const uint8_t *)key.mv_data)[0] == status) {
        uint8_t st;
        char id[HCP_CASE_ID_MAX];
        if (store_status_key_decode(key.mv_data, key.mv_size, &st, id) == HCP_OK)
            rc = ids_push(arr, cap, k, id);
        mrc = mdb_cursor_get(cur, &key, &v, MDB_NEXT);
    }
    if (rc == HCP_OK && mrc != MDB_SUCCESS && mrc != MDB_NOTFOUND)
        rc = store_err(mrc);
    return rc;
}

int store_open_case_ids(node_store *s, MDB_txn *txn, char (**ids)[HCP_CASE_ID_MAX], size_t *count)
{
    if (s == NULL || txn == NULL || ids == NULL || count == NULL)
        return HCP_EINVAL;
    size_t cap = 0, k = 0;
    char(*arr)[HCP_CASE_ID_MAX] = NULL;
    MDB_cursor *cur;
    int rc = store_err(mdb_cursor_open(txn, s->status_idx, &cur));
    if (rc != HCP_OK)
        return rc;
    for (size_t i = 0; rc == HCP_OK && i < sizeof(open_statuses); i++)
        rc = ids_of_status(cur, open_statuses[i], &arr, &cap, &k);
    mdb_cursor_close(cur); /* on every path: a read transaction does not free it */
    if (rc != HCP_OK) {
        free(arr);
        return rc;
    }
    *ids = arr;
    *count = k;
    return HCP_OK;
}

/* Position cur at the first key strictly after prefix|after (prefix: the
 * status byte, or none for the cases table). */
static int seek_after(MDB_cursor *cur, const uint8_t *kb, size_t pre, size_t n, MDB_val *k,
                      MDB_val *v)
{
    k->mv_size = pre + n;
    k->mv_data = (void *)kb;
    if (k->mv_size == 0)
        return mdb_cursor_get(cur, k, v, MDB_FIRST);
    int mrc = mdb_cursor_get(cur, k, v, MDB_SET_RANGE);
    if (mrc == MDB_SUCCESS && n > 0 && k->mv_size == pre + n &&
        memcmp(k->mv_data, kb, pre + n) == 0)
        mrc = mdb_cursor_get(cur, k, v, MDB_NEXT); /* strictly after */
    return mrc;
}

/* The id a key of the scanned table names (with the status prefix or not);
 * false when the key is malformed. */
static bool scanned_id(const MDB_val *k, size_t pre, uint8_t status, char id[HCP_CASE_ID_MAX])
{
    if (pre == 0) {
        if (k->mv_size == 0 || k->mv_size >= HCP_CASE_ID_MAX)
            return false;
        memcpy(id, k->mv_data, k->mv_size);
        id[k->mv_size] = '\0';
        return true;
    }
    uint8_t st;
    return store_status_key_decode(k->mv_data, k->mv_size, &st, id) == HCP_OK && st == status;
}

/* Read case id (without personal data) and hand it to fn. */
static int visit(node_store *s, MDB_txn *txn, const char *id, bool personal, store_case_fn fn,
                 void *arg)
{
    hcp_case c;
    int rc = store_case_get(s, txn, id, personal, &c);
    if (rc == HCP_OK)
        rc = fn(arg, id, &c);
    hcp_case_clear(&c);
    return rc;
}

/* End a scan: close its cursor (on every path: a read transaction does not
 * free it) and turn the visitor's result rc and the cursor's last mrc into
 * the scan's: STORE_STOP is a clean end, MDB_NOTFOUND the end of the data. */
static int scan_end(MDB_cursor *cur, int rc, int mrc)
{
    mdb_cursor_close(cur);
    if (rc == STORE_STOP)
        return HCP_OK;
    if (rc == HCP_OK && mrc != MDB_SUCCESS && mrc != MDB_NOTFOUND)
        rc = store_err(mrc);
    return rc;
}

int store_cases_after(node_store *s, MDB_txn *txn, uint8_t status, const char *after,
                      store_case_fn fn, void *arg)
{
    if (s == NULL || txn == NULL || fn == NULL)
        return HCP_EINVAL;
    uint8_t kb[STORE_STATUS_KEY_MAX];
    size_t pre = status != 0 ? 1 : 0, n = after != NULL ? strlen(after) : 0;
    if (n >= HCP_CASE_ID_MAX)
        return HCP_ERANGE;
    kb[0] = status;
    if (n > 0)
        memcpy(kb + pre, after, n);
    MDB_cursor *cur;
    int rc = store_err(mdb_cursor_open(txn, pre ? s->status_idx : s->cases, &cur));
    if (rc != HCP_OK)
        return rc;
    MDB_val k, v;
    int mrc = seek_after(cur, kb, pre, n, &k, &v);
    while (rc == HCP_OK && mrc == MDB_SUCCESS) {
        char id[HCP_CASE_ID_MAX];
        if (!scanned_id(&k, pre, status, id))
            break; /* another status, or a malformed key: the end */
        rc = visit(s, txn, id, false, fn, arg);
        if (rc == HCP_OK)
            mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    return scan_end(cur, rc, mrc);
}

int store_cases_of_month(node_store *s, MDB_txn *txn, int year, int month, bool personal,
                         store_case_fn fn, void *arg)
{
    if (s == NULL || txn == NULL || fn == NULL || year < 2000 || year > 9999 || month < 1 ||
        month > 12)
        return HCP_EINVAL;
    char prefix[16];
    int plen = snprintf(prefix, sizeof(prefix), "%s-%04d%02d", s->county, year, month);
    if (plen <= 0 || (size_t)plen >= sizeof(prefix))
        return HCP_ERANGE;
    MDB_cursor *cur;
    int rc = store_err(mdb_cursor_open(txn, s->cases, &cur));
    if (rc != HCP_OK)
        return rc;
    MDB_val k = {(size_t)plen, prefix}, v;
    int mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    while (rc == HCP_OK && mrc == MDB_SUCCESS && k.mv_size >= (size_t)plen &&
           memcmp(k.mv_data, prefix, (size_t)plen) == 0) {
        char id[HCP_CASE_ID_MAX];
        size_t len = k.mv_size < sizeof(id) - 1 ? k.mv_size : sizeof(id) - 1;
        memcpy(id, k.mv_data, len);
        id[len] = '\0';
        rc = visit(s, txn, id, personal, fn, arg);
        if (rc == HCP_OK)
            mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    return scan_end(cur, rc, mrc);
}

int store_map_usage(node_store *s, uint64_t *used, uint64_t *size)
{
    if (s == NULL || used == NULL || size == NULL)
        return HCP_EINVAL;
    /* the meta pages are read through the map: never while the writer
     * grows it (hcpd_env_grow), or it reads an unmapped page */
    hcp_rwlock_rdlock(&s->db.resize);
    int mrc = hcpd_env_used(s->db.env, used, size);
    hcp_rwlock_unlock(&s->db.resize);
    return store_err(mrc);
}

/* ---- the subcommands' opens (ops.c) ---- */

int store_county_of(const char *dir, char county[HCP_COUNTY_LEN + 1], char *err, size_t errlen)
{
    hcpd_env e;
    MDB_txn *txn = NULL;
    MDB_dbi meta;
    MDB_val k = {6, "county"}, v;
    if (dir == NULL || county == NULL || err == NULL || errlen == 0)
        return HCP_EINVAL;
    int mrc = hcpd_env_open(&e, dir, STORE_MAP_INITIAL, true, 126);
    if (mrc == MDB_SUCCESS)
        mrc = mdb_txn_begin(e.env, NULL, MDB_RDONLY, &txn);
    if (mrc == MDB_SUCCESS)
        mrc = mdb_dbi_open(txn, "meta", 0, &meta);
    if (mrc == MDB_SUCCESS)
        mrc = mdb_get(txn, meta, &k, &v);
    if (mrc == MDB_SUCCESS && v.mv_size != HCP_COUNTY_LEN)
        mrc = MDB_INVALID;
    if (mrc == MDB_SUCCESS) {
        memcpy(county, v.mv_data, HCP_COUNTY_LEN);
        county[HCP_COUNTY_LEN] = '\0';
    }
    if (txn != NULL)
        mdb_txn_abort(txn);
    hcpd_env_close(&e);
    if (mrc != MDB_SUCCESS)
        snprintf(err, errlen, "%s", mdb_strerror(mrc));
    return store_err(mrc);
}

int store_mark_needs_sync(const char *dir)
{
    hcpd_env e;
    MDB_txn *txn = NULL;
    MDB_dbi meta;
    if (dir == NULL)
        return HCP_EINVAL;
    int mrc = hcpd_env_open(&e, dir, STORE_MAP_INITIAL, false, 126);
    if (mrc == MDB_SUCCESS)
        mrc = mdb_txn_begin(e.env, NULL, 0, &txn);
    if (mrc == MDB_SUCCESS)
        mrc = mdb_dbi_open(txn, "meta", 0, &meta);
    MDB_val k = {10, "needs_sync"}, v = {1, "1"};
    if (mrc == MDB_SUCCESS)
        mrc = mdb_put(txn, meta, &k, &v, 0);
    if (mrc == MDB_SUCCESS)
        mrc = mdb_txn_commit(txn); /* frees txn, whatever it returns */
    else if (txn != NULL)
        mdb_txn_abort(txn);
    hcpd_env_close(&e);
    return store_err(mrc);
}
