/*
 * plog.c — the province log (plog.h, docs/directives.md).
 */
#include "plog.h"

#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "be.h"
#include "chain.h"
#include "codec.h"
#include "division.h"
#include "json.h"
#include "lock.h"

#define IX_KEY_LEN    (HCP_COUNTY_LEN + 8)
#define ALL_KEY       "000000" /* plog_ix's target for "all": no county has this code */
#define HOOKS_MAX     16
#define PENDING_BYTES (1u << 20)
#define BODY_DEPTH    4
#define LIST_DETAIL   64 /* divisions up to which every county is listed */

/* The delivered positions of one county (memory only). */
typedef struct plog_pos {
    uint64_t dseq; /* the node's position as last stated */
    uint64_t sent; /* the highest seq sent to it */
} plog_pos;

struct gw_plog {
    MDB_dbi plog, ix, dstate;
    pthread_mutex_t mu;
    plog_pos *pos; /* one per division (index in hcp_divisions), under mu */
    size_t npos;
};

/* ---- the hook table ---- */

static struct {
    char type[REPL_DIR_TYPE_MAX + 1];
    gw_plog_apply_fn fn;
    void *arg;
} hooks[HOOKS_MAX];
static size_t nhooks;

/* The hook of type, or NULL. */
static size_t hook_find(const char *type)
{
    for (size_t i = 0; i < nhooks; i++)
        if (strcmp(hooks[i].type, type) == 0)
            return i;
    return HOOKS_MAX;
}

int gw_plog_hook(const char *type, gw_plog_apply_fn fn, void *arg)
{
    if (!repl_dir_type_ok(type) || fn == NULL)
        return HCP_EINVAL;
    size_t i = hook_find(type);
    if (i == HOOKS_MAX) {
        if (nhooks == HOOKS_MAX)
            return HCP_ERANGE;
        i = nhooks++;
    }
    snprintf(hooks[i].type, sizeof(hooks[i].type), "%s", type);
    hooks[i].fn = fn;
    hooks[i].arg = arg;
    return HCP_OK;
}

bool gw_plog_has_hook(const char *type)
{
    return type != NULL && hook_find(type) != HOOKS_MAX;
}

/* ---- the built-in `correction` hook: {case, note} about a case the
 * gateway holds ---- */

/* A msgpack map's string value under key into s and n (borrowed), or false. */
static bool body_str(const msgpack_object *m, const char *key, const char **s, size_t *n)
{
    for (uint32_t i = 0; i < m->via.map.size; i++) {
        const msgpack_object_kv *kv = &m->via.map.ptr[i];
        if (kv->key.type == MSGPACK_OBJECT_STR && kv->key.via.str.size == strlen(key) &&
            memcmp(kv->key.via.str.ptr, key, kv->key.via.str.size) == 0) {
            if (kv->val.type != MSGPACK_OBJECT_STR)
                return false;
            *s = kv->val.via.str.ptr;
            *n = kv->val.via.str.size;
            return true;
        }
    }
    return false;
}

/* The correction's case id out of body into id (HCP_EINVAL when the body
 * is not {case, note} with a case id and a note of 1..HCP_TEXT_MAX bytes). */
static int correction_case(const void *body, size_t len, char id[HCP_CASE_ID_MAX])
{
    if (hcp_mp_check(body, len, BODY_DEPTH + 1) != HCP_OK)
        return HCP_EINVAL;
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    size_t off = 0;
    int rc = HCP_EINVAL;
    const char *c, *note;
    size_t cn, nn;
    char county[HCP_COUNTY_LEN + 1];
    if (msgpack_unpack_next(&up, body, len, &off) == MSGPACK_UNPACK_SUCCESS &&
        up.data.type == MSGPACK_OBJECT_MAP && body_str(&up.data, "case", &c, &cn) &&
        body_str(&up.data, "note", &note, &nn) && cn > 0 && cn < HCP_CASE_ID_MAX && nn > 0 &&
        nn <= HCP_TEXT_MAX && hcp_utf8_valid(note, nn)) {
        memcpy(id, c, cn);
        id[cn] = '\0';
        if (hcp_case_id_parse(id, county, NULL, NULL) == HCP_OK)
            rc = HCP_OK;
    }
    msgpack_unpacked_destroy(&up);
    return rc;
}

/* Accept a correction only about a case the gateway rebuilt. */
static int correction_hook(void *arg, gw_store *s, MDB_txn *txn, uint64_t seq, const char *type,
                           const void *body, size_t len)
{
    (void)arg;
    (void)seq;
    (void)type;
    char id[HCP_CASE_ID_MAX];
    int rc = correction_case(body, len, id);
    if (rc != HCP_OK)
        return rc;
    hcp_case c;
    rc = gws_case_get(s, txn, id, false, &c);
    hcp_case_clear(&c);
    return rc == HCP_ENOTFOUND ? HCP_ERULE : rc;
}

/* ---- open / close ---- */

int gw_plog_open(gw_store *s, MDB_txn *txn)
{
    struct gw_plog *p = calloc(1, sizeof(*p));
    if (p == NULL)
        return HCP_ENOMEM;
    int rc = gws_err(mdb_dbi_open(txn, "plog", MDB_CREATE, &p->plog));
    if (rc == HCP_OK)
        rc = gws_err(mdb_dbi_open(txn, "plog_ix", MDB_CREATE, &p->ix));
    if (rc == HCP_OK)
        rc = gws_err(mdb_dbi_open(txn, "dstate", MDB_CREATE, &p->dstate));
    size_t ndiv = 0;
    (void)hcp_divisions(&ndiv); /* the list in use; never freed */
    p->npos = ndiv;
    if (rc == HCP_OK && (p->pos = calloc(ndiv + 1, sizeof(*p->pos))) == NULL)
        rc = HCP_ENOMEM;
    if (rc == HCP_OK && pthread_mutex_init(&p->mu, NULL) != 0)
        rc = HCP_ENOMEM;
    if (rc == HCP_OK && !gw_plog_has_hook("correction"))
        rc = gw_plog_hook("correction", correction_hook, NULL);
    if (rc != HCP_OK) {
        free(p->pos);
        free(p);
        return rc;
    }
    s->plog = p;
    return HCP_OK;
}

void gw_plog_close(gw_store *s)
{
    if (s == NULL || s->plog == NULL)
        return;
    (void)pthread_mutex_destroy(&s->plog->mu); /* no thread uses the store any more */
    free(s->plog->pos);
    free(s->plog);
    s->plog = NULL;
}

/* ---- append ---- */

/* The last entry's seq and hash (the genesis and 0 for an empty log). */
static int plog_head(struct gw_plog *p, MDB_txn *txn, uint64_t *seq, uint8_t hash[HCP_HASH_LEN])
{
    MDB_cursor *cur;
    int rc = gws_err(mdb_cursor_open(txn, p->plog, &cur));
    if (rc != HCP_OK)
        return rc;
    MDB_val k, v;
    int mrc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
    mdb_cursor_close(cur);
    if (mrc == MDB_NOTFOUND) {
        hcp_chain ch;
        *seq = 0;
        rc = hcp_chain_init(&ch, GW_PLOG_PROVINCE);
        memcpy(hash, ch.head, HCP_HASH_LEN);
        return rc;
    }
    if (mrc != MDB_SUCCESS)
        return gws_err(mrc);
    if (k.mv_size != 8 || v.mv_size <= HCP_HASH_LEN)
        return HCP_EFORMAT;
    *seq = hcp_be64_get(k.mv_data);
    memcpy(hash, v.mv_data, HCP_HASH_LEN);
    return HCP_OK;
}

/* plog_ix's key: target (ALL_KEY for "all") | be64 seq. */
static void ix_key(uint8_t k[IX_KEY_LEN], const char *target, uint64_t seq)
{
    memcpy(k, strcmp(target, "all") == 0 ? ALL_KEY : target, HCP_COUNTY_LEN);
    hcp_be64_put(k + HCP_COUNTY_LEN, seq);
}

int gw_plog_append(gw_store *s, MDB_txn *txn, const char *target, const char *type,
                   const void *body_mp, size_t body_len, uint64_t *seq_out)
{
    if (s == NULL || s->plog == NULL || txn == NULL || target == NULL ||
        (strcmp(target, "all") != 0 && hcp_division_find(target) == NULL) ||
        !repl_dir_type_ok(type) || body_mp == NULL || body_len == 0 || body_len > GW_PLOG_BODY_MAX)
        return HCP_EINVAL;
    struct gw_plog *p = s->plog;
    uint64_t last = 0;
    uint8_t prev[HCP_HASH_LEN], hash[HCP_HASH_LEN];
    int rc = plog_head(p, txn, &last, prev);
    if (rc != HCP_OK)
        return rc;
    size_t h = hook_find(type);
    if (h != HOOKS_MAX &&
        (rc = hooks[h].fn(hooks[h].arg, s, txn, last + 1, type, body_mp, body_len)) != HCP_OK)
        return rc;
    repl_dir_entry e;
    memset(&e, 0, sizeof(e));
    e.seq = last + 1;
    e.at = (hcp_time)time(NULL);
    snprintf(e.target, sizeof(e.target), "%s", target);
    snprintf(e.type, sizeof(e.type), "%s", type);
    e.body = body_mp;
    e.body_len = body_len;
    hcp_buf val;
    hcp_buf_init(&val, REPL_DIR_REC_MAX + HCP_HASH_LEN);
    rc = hcp_buf_append(&val, prev, HCP_HASH_LEN); /* a place for the hash */
    if (rc == HCP_OK)
        rc = repl_dir_encode(&e, &val);
    if (rc == HCP_OK)
        rc = hcp_chain_hash(prev, e.seq, val.data + HCP_HASH_LEN, val.len - HCP_HASH_LEN, hash);
    if (rc == HCP_OK) {
        memcpy(val.data, hash, HCP_HASH_LEN);
        uint8_t kb[8], ib[IX_KEY_LEN];
        hcp_be64_put(kb, e.seq);
        ix_key(ib, target, e.seq);
        MDB_val k = {8, kb}, v = {val.len, val.data}, ik = {sizeof(ib), ib}, iv = {0, ""};
        rc = gws_err(mdb_put(txn, p->plog, &k, &v, MDB_APPEND));
        if (rc == HCP_OK)
            rc = gws_err(mdb_put(txn, p->ix, &ik, &iv, 0));
    }
    hcp_buf_free(&val);
    if (rc == HCP_OK && seq_out != NULL)
        *seq_out = e.seq;
    return rc;
}

/* ---- delivery ---- */

/* Entry seq's stored value (hash | record), borrowed from txn. */
static int plog_get(struct gw_plog *p, MDB_txn *txn, uint64_t seq, MDB_val *v)
{
    uint8_t kb[8];
    hcp_be64_put(kb, seq);
    MDB_val k = {8, kb};
    int rc = gws_err(mdb_get(txn, p->plog, &k, v));
    if (rc == HCP_OK && v->mv_size <= HCP_HASH_LEN)
        rc = HCP_EFORMAT;
    return rc;
}

/* The next seq > after in plog_ix under target key tk, 0 when none. */
static int ix_next(MDB_cursor *cur, const char *tk, uint64_t after, uint64_t *seq)
{
    uint8_t kb[IX_KEY_LEN];
    memcpy(kb, tk, HCP_COUNTY_LEN);
    hcp_be64_put(kb + HCP_COUNTY_LEN, after + 1);
    MDB_val k = {sizeof(kb), kb}, v;
    *seq = 0;
    int mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    if (mrc == MDB_NOTFOUND)
        return HCP_OK;
    if (mrc != MDB_SUCCESS)
        return gws_err(mrc);
    if (k.mv_size == IX_KEY_LEN && memcmp(k.mv_data, tk, HCP_COUNTY_LEN) == 0)
        *seq = hcp_be64_get((const uint8_t *)k.mv_data + HCP_COUNTY_LEN);
    return HCP_OK;
}

int gw_plog_pending(gw_store *s, MDB_txn *txn, const char *county, uint64_t after, hcp_buf *buf,
                    repl_dir dirs[REPL_DIRS_MAX], size_t *n, bool *more)
{
    struct gw_plog *p = s->plog;
    *n = 0;
    *more = false;
    if (p == NULL || !hcp_county_str_ok(county))
        return HCP_EINVAL;
    MDB_cursor *cc, *ca;
    int rc = gws_err(mdb_cursor_open(txn, p->ix, &cc));
    if (rc != HCP_OK)
        return rc;
    if ((rc = gws_err(mdb_cursor_open(txn, p->ix, &ca))) != HCP_OK) {
        mdb_cursor_close(cc);
        return rc;
    }
    size_t offs[REPL_DIRS_MAX][2];
    uint64_t at = after, a = 0, b = 0;
    while (rc == HCP_OK) {
        rc = ix_next(cc, county, at, &a);
        if (rc == HCP_OK)
            rc = ix_next(ca, ALL_KEY, at, &b);
        uint64_t next = a == 0 ? b : b == 0 ? a : a < b ? a : b;
        if (rc != HCP_OK || next == 0)
            break;
        if (*n == REPL_DIRS_MAX || buf->len >= PENDING_BYTES) {
            *more = true;
            break;
        }
        MDB_val v;
        rc = plog_get(p, txn, next, &v);
        if (rc == HCP_OK) {
            memcpy(dirs[*n].hash, v.mv_data, HCP_HASH_LEN);
            offs[*n][0] = buf->len;
            rc = hcp_buf_append(buf, (const uint8_t *)v.mv_data + HCP_HASH_LEN,
                                v.mv_size - HCP_HASH_LEN);
            offs[*n][1] = buf->len;
        }
        if (rc == HCP_OK)
            (*n)++;
        at = next;
    }
    mdb_cursor_close(cc);
    mdb_cursor_close(ca);
    for (size_t i = 0; i < *n; i++) { /* buf no longer moves */
        dirs[i].rec = buf->data + offs[i][0];
        dirs[i].rec_len = offs[i][1] - offs[i][0];
        dirs[i].sig = NULL;
        dirs[i].sig_len = 0;
    }
    return rc;
}

/* The memory slot of county, or NULL. p->mu held or not needed. */
static plog_pos *pos_of(struct gw_plog *p, const char *county)
{
    size_t ndiv = 0;
    const hcp_division *all = hcp_divisions(&ndiv);
    const hcp_division *d = hcp_division_find(county);
    if (d == NULL || d < all || (size_t)(d - all) >= p->npos)
        return NULL;
    return &p->pos[d - all];
}

void gw_plog_delivered(gw_store *s, const char *county, uint64_t dseq, uint64_t sent)
{
    if (s == NULL || s->plog == NULL)
        return;
    struct gw_plog *p = s->plog;
    hcp_mutex_lock(&p->mu);
    plog_pos *q = pos_of(p, county);
    if (q != NULL) {
        if (dseq > q->dseq)
            q->dseq = dseq;
        if (sent > q->sent)
            q->sent = sent;
    }
    hcp_mutex_unlock(&p->mu);
}

/* ---- acknowledgements ---- */

/* dstate's key: county | be64 seq. */
static void state_key(uint8_t k[IX_KEY_LEN], const char *county, uint64_t seq)
{
    memcpy(k, county, HCP_COUNTY_LEN);
    hcp_be64_put(k + HCP_COUNTY_LEN, seq);
}

int gw_plog_ack(gw_store *s, MDB_txn *txn, const char *county, const hcp_event *ev)
{
    if (s == NULL || s->plog == NULL || ev == NULL || ev->type != HCP_EV_DIRECTIVE ||
        ev->directive == 0)
        return HCP_OK; /* not a directive event: nothing to note */
    struct gw_plog *p = s->plog;
    MDB_val v;
    int rc = plog_get(p, txn, ev->directive, &v);
    if (rc == HCP_ENOTFOUND)
        gw_log("warn", "plog.unknown_ack", "county=%s directive=%llu", county,
               (unsigned long long)ev->directive);
    else if (rc != HCP_OK)
        return rc;
    uint8_t val[1 + HCP_SHORT_MAX];
    size_t wl = ev->dir_why != NULL ? strnlen(ev->dir_why, HCP_SHORT_MAX) : 0;
    val[0] = ev->dir_result;
    if (wl > 0)
        memcpy(val + 1, ev->dir_why, wl);
    uint8_t kb[IX_KEY_LEN];
    state_key(kb, county, ev->directive);
    MDB_val k = {sizeof(kb), kb}, sv = {1 + wl, val};
    return gws_err(mdb_put(txn, p->dstate, &k, &sv, 0));
}

/* ---- GET /v1/directives ---- */

static const char *const state_names[] = {"pending", "sent", "applied", "refused"};
enum { ST_PENDING, ST_SENT, ST_APPLIED, ST_REFUSED };

/* The state of (seq, county) and, when refused, why (into why). */
static int county_state(struct gw_plog *p, MDB_txn *txn, const char *county, uint64_t seq,
                        char *why, size_t whylen, int *st)
{
    uint8_t kb[IX_KEY_LEN];
    state_key(kb, county, seq);
    MDB_val k = {sizeof(kb), kb}, v;
    why[0] = '\0';
    int mrc = mdb_get(txn, p->dstate, &k, &v);
    if (mrc == MDB_SUCCESS && v.mv_size >= 1) {
        const uint8_t *b = v.mv_data;
        *st = b[0] == HCP_DR_REFUSED ? ST_REFUSED : ST_APPLIED;
        size_t wl = v.mv_size - 1 < whylen - 1 ? v.mv_size - 1 : whylen - 1;
        memcpy(why, b + 1, wl);
        why[wl] = '\0';
        return HCP_OK;
    }
    if (mrc != MDB_SUCCESS && mrc != MDB_NOTFOUND)
        return gws_err(mrc);
    hcp_mutex_lock(&p->mu);
    plog_pos *q = pos_of(p, county);
    *st = q != NULL && (q->sent >= seq || q->dseq >= seq) ? ST_SENT : ST_PENDING;
    hcp_mutex_unlock(&p->mu);
    return HCP_OK;
}

/* One entry's JSON: its fields, its body, and the per-county states. */
static json_t *entry_json(struct gw_plog *p, MDB_txn *txn, const repl_dir_entry *e,
                          const uint8_t hash[HCP_HASH_LEN], const char *county, int *rc)
{
    char hex[2 * HCP_HASH_LEN + 1];
    hcp_hash_hex(hash, hex);
    size_t ndiv = 0;
    const hcp_division *divs = hcp_divisions(&ndiv);
    json_t *counties = json_array();
    size_t counts[4] = {0, 0, 0, 0};
    bool detail = county[0] != '\0' || ndiv <= LIST_DETAIL;
    bool ok = counties != NULL;
    for (size_t i = 0; ok && *rc == HCP_OK && i < ndiv; i++) {
        const char *c = divs[i].code;
        if (strcmp(e->target, "all") != 0 && strcmp(e->target, c) != 0)
            continue;
        if (county[0] != '\0' && strcmp(county, c) != 0)
            continue;
        char why[HCP_SHORT_MAX + 1];
        int st = ST_PENDING;
        *rc = county_state(p, txn, c, e->seq, why, sizeof(why), &st);
        if (*rc != HCP_OK)
            break;
        counts[st]++;
        if (!detail && st != ST_APPLIED && st != ST_REFUSED)
            continue;
        json_t *o = json_pack("{ss,ss}", "county", c, "state", state_names[st]);
        if (o != NULL && st == ST_REFUSED)
            ok = json_object_set_new(o, "why", json_string(why)) == 0;
        ok = ok && o != NULL && json_array_append_new(counties, o) == 0;
    }
    json_t *body = gw_plog_body_json(e->body, e->body_len);
    json_t *j =
        json_pack("{sI,so,ss,ss,ss,so,s{sI,sI,sI,sI},so}", "seq", (json_int_t)e->seq, "at",
                  hcp_json_time(e->at), "target", e->target, "type", e->type, "hash", hex, "body",
                  body != NULL ? body : json_null(), "counts", "pending", (json_int_t)counts[0],
                  "sent", (json_int_t)counts[1], "applied", (json_int_t)counts[2], "refused",
                  (json_int_t)counts[3], "counties", counties);
    if (!ok || j == NULL) {
        json_decref(j);
        if (*rc == HCP_OK)
            *rc = HCP_ENOMEM;
        return NULL;
    }
    return j;
}

json_t *gw_plog_list_json(gw_store *s, MDB_txn *txn, const char *type, const char *county,
                          size_t limit, uint64_t before, int *rc)
{
    *rc = HCP_OK;
    struct gw_plog *p = s->plog;
    json_t *arr = json_array();
    MDB_cursor *cur = NULL;
    if (arr == NULL || p == NULL) {
        json_decref(arr);
        *rc = HCP_ENOMEM;
        return NULL;
    }
    *rc = gws_err(mdb_cursor_open(txn, p->plog, &cur));
    MDB_val k, v;
    uint8_t kb[8];
    int mrc = MDB_NOTFOUND;
    if (*rc == HCP_OK && before > 1) {
        hcp_be64_put(kb, before);
        k.mv_size = 8;
        k.mv_data = kb;
        mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
        mrc = mrc == MDB_SUCCESS ? mdb_cursor_get(cur, &k, &v, MDB_PREV)
                                 : mdb_cursor_get(cur, &k, &v, MDB_LAST);
    } else if (*rc == HCP_OK && before == 0)
        mrc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
    for (; *rc == HCP_OK && mrc == MDB_SUCCESS && json_array_size(arr) < limit;
         mrc = mdb_cursor_get(cur, &k, &v, MDB_PREV)) {
        repl_dir_entry e;
        if (v.mv_size <= HCP_HASH_LEN || repl_dir_decode((const uint8_t *)v.mv_data + HCP_HASH_LEN,
                                                         v.mv_size - HCP_HASH_LEN, &e) != HCP_OK)
            continue; /* cannot be: appended by gw_plog_append */
        if (type[0] != '\0' && strcmp(type, e.type) != 0)
            continue;
        if (county[0] != '\0' && strcmp(e.target, "all") != 0 && strcmp(e.target, county) != 0)
            continue;
        json_t *j = entry_json(p, txn, &e, v.mv_data, county, rc);
        if (j != NULL && json_array_append_new(arr, j) != 0)
            *rc = HCP_ENOMEM;
    }
    if (*rc == HCP_OK && mrc != MDB_SUCCESS && mrc != MDB_NOTFOUND)
        *rc = gws_err(mrc);
    if (cur != NULL)
        mdb_cursor_close(cur);
    if (*rc != HCP_OK) {
        json_decref(arr);
        return NULL;
    }
    return arr;
}

/* ---- bodies: JSON <-> msgpack ---- */

struct sink {
    hcp_buf *out;
    size_t start;
    int err;
};

static int sink_write(void *data, const char *buf, size_t len)
{
    struct sink *k = data;
    if (k->err == HCP_OK && len > GW_PLOG_BODY_MAX - (k->out->len - k->start))
        k->err = HCP_ERANGE;
    if (k->err == HCP_OK)
        k->err = hcp_buf_append(k->out, buf, len);
    return k->err == HCP_OK ? 0 : -1;
}

/* Whether key is one of skip (NULL-terminated; skip may be NULL). */
static bool skipped(const char *key, const char *const *skip)
{
    for (size_t i = 0; skip != NULL && skip[i] != NULL; i++)
        if (strcmp(key, skip[i]) == 0)
            return true;
    return false;
}

/* Pack one JSON value; HCP_EINVAL for a real or past BODY_DEPTH. */
static int pack_json(msgpack_packer *pk, const json_t *j, int depth, const char *const *skip)
{
    if (depth > BODY_DEPTH)
        return HCP_EINVAL;
    switch (json_typeof(j)) {
    case JSON_STRING:
        return msgpack_pack_str_with_body(pk, json_string_value(j), json_string_length(j)) == 0
                   ? HCP_OK
                   : HCP_ENOMEM;
    case JSON_INTEGER:
        return msgpack_pack_int64(pk, json_integer_value(j)) == 0 ? HCP_OK : HCP_ENOMEM;
    case JSON_TRUE:
        return msgpack_pack_true(pk) == 0 ? HCP_OK : HCP_ENOMEM;
    case JSON_FALSE:
        return msgpack_pack_false(pk) == 0 ? HCP_OK : HCP_ENOMEM;
    case JSON_NULL:
        return msgpack_pack_nil(pk) == 0 ? HCP_OK : HCP_ENOMEM;
    case JSON_ARRAY: {
        if (msgpack_pack_array(pk, json_array_size(j)) != 0)
            return HCP_ENOMEM;
        for (size_t i = 0; i < json_array_size(j); i++) {
            int rc = pack_json(pk, json_array_get(j, i), depth + 1, NULL);
            if (rc != HCP_OK)
                return rc;
        }
        return HCP_OK;
    }
    case JSON_OBJECT: {
        size_t n = 0;
        const char *key;
        const json_t *val;
        json_object_foreach((json_t *)j, key, val) n += !skipped(key, skip);
        if (msgpack_pack_map(pk, n) != 0)
            return HCP_ENOMEM;
        json_object_foreach((json_t *)j, key, val)
        {
            if (skipped(key, skip))
                continue;
            int rc = msgpack_pack_str_with_body(pk, key, strlen(key)) == 0 ? HCP_OK : HCP_ENOMEM;
            if (rc == HCP_OK)
                rc = pack_json(pk, val, depth + 1, NULL);
            if (rc != HCP_OK)
                return rc;
        }
        return HCP_OK;
    }
    default:
        return HCP_EINVAL; /* a real number */
    }
}

int gw_plog_body_from_json(const json_t *obj, const char *const *skip, hcp_buf *out)
{
    if (!json_is_object(obj) || out == NULL)
        return HCP_EINVAL;
    struct sink k = {out, out->len, HCP_OK};
    msgpack_packer pk;
    msgpack_packer_init(&pk, &k, sink_write);
    int rc = pack_json(&pk, obj, 0, skip);
    if (k.err != HCP_OK)
        rc = k.err;
    if (rc != HCP_OK)
        out->len = k.start;
    return rc;
}

/* One msgpack object as JSON (new reference), NULL for what JSON lacks. */
static json_t *obj_json(const msgpack_object *o)
{
    switch (o->type) {
    case MSGPACK_OBJECT_NIL:
        return json_null();
    case MSGPACK_OBJECT_BOOLEAN:
        return json_boolean(o->via.boolean);
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        return o->via.u64 <= INT64_MAX ? json_integer((json_int_t)o->via.u64) : NULL;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        return json_integer((json_int_t)o->via.i64);
    case MSGPACK_OBJECT_STR:
        return json_stringn(o->via.str.ptr, o->via.str.size);
    case MSGPACK_OBJECT_ARRAY: {
        json_t *a = json_array();
        for (uint32_t i = 0; a != NULL && i < o->via.array.size; i++)
            if (json_array_append_new(a, obj_json(&o->via.array.ptr[i])) != 0) {
                json_decref(a);
                a = NULL;
            }
        return a;
    }
    case MSGPACK_OBJECT_MAP: {
        json_t *m = json_object();
        for (uint32_t i = 0; m != NULL && i < o->via.map.size; i++) {
            const msgpack_object_kv *kv = &o->via.map.ptr[i];
            char key[128];
            if (kv->key.type != MSGPACK_OBJECT_STR || kv->key.via.str.size >= sizeof(key)) {
                json_decref(m);
                return NULL;
            }
            memcpy(key, kv->key.via.str.ptr, kv->key.via.str.size);
            key[kv->key.via.str.size] = '\0';
            if (json_object_set_new(m, key, obj_json(&kv->val)) != 0) {
                json_decref(m);
                m = NULL;
            }
        }
        return m;
    }
    default:
        return NULL;
    }
}

json_t *gw_plog_body_json(const void *body, size_t len)
{
    if (body == NULL || hcp_mp_check(body, len, BODY_DEPTH + 2) != HCP_OK)
        return NULL;
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    size_t off = 0;
    json_t *j = NULL;
    if (msgpack_unpack_next(&up, body, len, &off) == MSGPACK_UNPACK_SUCCESS && off == len)
        j = obj_json(&up.data);
    msgpack_unpacked_destroy(&up);
    return j;
}
