/*
 * directive.c — province → county directives at the node (directive.h,
 * docs/directives.md).
 *
 * db `dirs`: key be64 seq → state (1: applied, 2: refused) | be64 applied
 * at | hash (32) | why length (1) | why | the entry's record (absent for
 * an entry known only from its event, after a restore).
 */
#include "directive.h"

#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "be.h"
#include "codec.h"
#include "json.h"
#include "rules.h"
#include "nodespot.h"
#include "writer.h"

#define HANDLERS_MAX 16
#define WHY_MAX      64
#define DIR_HDR      (1 + 8 + HCP_HASH_LEN + 1)

static struct {
    char type[REPL_DIR_TYPE_MAX + 1];
    node_directive_fn fn;
    void *arg;
    node_directive_after_fn after;
    void *after_arg;
    node_directive_restore_fn restore;
    void *restore_arg;
} handlers[HANDLERS_MAX];
static size_t nhandlers;

/* The entry a restore left owed (directive.h): meta "dirowed" as
 * committed, for the sync thread and the writer's refusals. */
static _Atomic uint64_t owed;
#define OWED_KEY "dirowed"

/* The handler slot of type, or HANDLERS_MAX. */
static size_t handler_find(const char *type)
{
    for (size_t i = 0; i < nhandlers; i++)
        if (strcmp(handlers[i].type, type) == 0)
            return i;
    return HANDLERS_MAX;
}

int node_directive_register(const char *type, node_directive_fn fn, void *arg)
{
    if (!repl_dir_type_ok(type) || fn == NULL || strcmp(type, "correction") == 0)
        return HCP_EINVAL;
    size_t i = handler_find(type);
    if (i == HANDLERS_MAX) {
        if (nhandlers == HANDLERS_MAX)
            return HCP_ERANGE;
        i = nhandlers++;
    }
    snprintf(handlers[i].type, sizeof(handlers[i].type), "%s", type);
    handlers[i].fn = fn;
    handlers[i].arg = arg;
    return HCP_OK;
}

int node_directive_on_commit(const char *type, node_directive_after_fn fn, void *arg)
{
    if (type == NULL || fn == NULL)
        return HCP_EINVAL;
    size_t i = handler_find(type);
    if (i == HANDLERS_MAX)
        return HCP_ENOTFOUND;
    handlers[i].after = fn;
    handlers[i].after_arg = arg;
    return HCP_OK;
}

int node_directive_on_restore(const char *type, node_directive_restore_fn fn, void *arg)
{
    if (type == NULL || fn == NULL)
        return HCP_EINVAL;
    size_t i = handler_find(type);
    if (i == HANDLERS_MAX)
        return HCP_ENOTFOUND;
    handlers[i].restore = fn;
    handlers[i].restore_arg = arg;
    return HCP_OK;
}

uint64_t node_directive_owed(void)
{
    return atomic_load(&owed);
}

/* ---- batches ---- */

node_dir_batch *node_directive_batch(const repl_dir *dirs, size_t n)
{
    node_dir_batch *b = calloc(1, sizeof(*b) + n * sizeof(b->e[0]));
    if (b == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        b->e[i].rec = malloc(dirs[i].rec_len);
        if (b->e[i].rec == NULL) {
            b->n = i;
            node_directive_batch_free(b);
            return NULL;
        }
        memcpy(b->e[i].rec, dirs[i].rec, dirs[i].rec_len);
        b->e[i].rec_len = dirs[i].rec_len;
        memcpy(b->e[i].hash, dirs[i].hash, HCP_HASH_LEN);
    }
    b->n = n;
    return b;
}

void node_directive_batch_free(node_dir_batch *b)
{
    if (b == NULL)
        return;
    for (size_t i = 0; i < b->n; i++)
        free(b->e[i].rec);
    free(b);
}

/* ---- the position and the dirs db ---- */

/* The position as this transaction sees it (meta "dseq"). */
static int dseq_get(node_store *s, MDB_txn *txn, uint64_t *v)
{
    MDB_val k = {4, "dseq"}, d;
    int mrc = mdb_get(txn, s->meta, &k, &d);
    *v = mrc == MDB_SUCCESS && d.mv_size == 8 ? hcp_be64_get(d.mv_data) : 0;
    return mrc == MDB_SUCCESS || mrc == MDB_NOTFOUND ? HCP_OK : store_err(mrc);
}

static int dseq_put(node_store *s, MDB_txn *txn, uint64_t v)
{
    uint8_t b[8];
    hcp_be64_put(b, v);
    MDB_val k = {4, "dseq"}, d = {8, b};
    return store_err(mdb_put(txn, s->meta, &k, &d, 0));
}

/* The owed entry as this transaction sees it (0: none). */
static int owed_get(node_store *s, MDB_txn *txn, uint64_t *v)
{
    MDB_val k = {strlen(OWED_KEY), OWED_KEY}, d;
    int mrc = mdb_get(txn, s->meta, &k, &d);
    *v = mrc == MDB_SUCCESS && d.mv_size == 8 ? hcp_be64_get(d.mv_data) : 0;
    return mrc == MDB_SUCCESS || mrc == MDB_NOTFOUND ? HCP_OK : store_err(mrc);
}

/* Set the owed entry (0: none owed, the key deleted). */
static int owed_put(node_store *s, MDB_txn *txn, uint64_t v)
{
    MDB_val k = {strlen(OWED_KEY), OWED_KEY};
    if (v == 0) {
        int mrc = mdb_del(txn, s->meta, &k, NULL);
        return mrc == MDB_NOTFOUND ? HCP_OK : store_err(mrc);
    }
    uint8_t b[8];
    hcp_be64_put(b, v);
    MDB_val d = {8, b};
    return store_err(mdb_put(txn, s->meta, &k, &d, 0));
}

/* The position to state: the committed one, or one below the owed entry so
 * that the gateway sends it again. */
static uint64_t stated(uint64_t dseq, uint64_t ow)
{
    return ow != 0 && dseq >= ow ? ow - 1 : dseq;
}

int node_directive_resume(node_store *s)
{
    if (s == NULL || !s->has_dirs)
        return HCP_OK;
    MDB_txn *txn;
    uint64_t ow = 0;
    int rc = store_read_begin(s, &txn);
    if (rc == HCP_OK) {
        rc = owed_get(s, txn, &ow);
        store_read_end(s, txn);
    }
    if (rc == HCP_OK && ow != 0) {
        atomic_store(&owed, ow);
        atomic_store(&s->dseq, stated(atomic_load(&s->dseq), ow));
        node_log("warn", "directive.owed",
                 "seq=%llu detail=\"restored without this entry's body: asked again from the "
                 "gateway; no new records until it is back\"",
                 (unsigned long long)ow);
    }
    return rc;
}

/* Keep entry seq's state (rec may be NULL: known from its event only). */
static int dirs_put(node_store *s, MDB_txn *txn, uint64_t seq, uint8_t state, hcp_time at,
                    const uint8_t hash[HCP_HASH_LEN], const char *why, const uint8_t *rec,
                    size_t rec_len)
{
    size_t wl = why != NULL ? strnlen(why, WHY_MAX) : 0;
    hcp_buf v;
    hcp_buf_init(&v, DIR_HDR + WHY_MAX + REPL_DIR_REC_MAX);
    uint8_t hdr[DIR_HDR];
    hdr[0] = state;
    hcp_be64_put(hdr + 1, (uint64_t)at);
    memcpy(hdr + 9, hash, HCP_HASH_LEN);
    hdr[9 + HCP_HASH_LEN] = (uint8_t)wl;
    int rc = hcp_buf_append(&v, hdr, sizeof(hdr));
    if (rc == HCP_OK && wl > 0)
        rc = hcp_buf_append(&v, why, wl);
    if (rc == HCP_OK && rec != NULL)
        rc = hcp_buf_append(&v, rec, rec_len);
    uint8_t kb[8];
    hcp_be64_put(kb, seq);
    MDB_val k = {8, kb}, d = {v.len, v.data};
    if (rc == HCP_OK)
        rc = store_err(mdb_put(txn, s->dirs, &k, &d, 0));
    hcp_buf_free(&v);
    return rc;
}

/* ---- the built-in `correction`: {case, note} ---- */

/* The string value of key in msgpack map body into a new string (NULL
 * when absent or not a string of 1..max valid UTF-8 bytes). */
static char *body_str(const void *body, size_t len, const char *key, size_t max)
{
    if (hcp_mp_check(body, len, 8) != HCP_OK)
        return NULL;
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    size_t off = 0;
    char *out = NULL;
    if (msgpack_unpack_next(&up, body, len, &off) == MSGPACK_UNPACK_SUCCESS &&
        up.data.type == MSGPACK_OBJECT_MAP) {
        for (uint32_t i = 0; i < up.data.via.map.size; i++) {
            const msgpack_object_kv *kv = &up.data.via.map.ptr[i];
            if (kv->key.type != MSGPACK_OBJECT_STR || kv->key.via.str.size != strlen(key) ||
                memcmp(kv->key.via.str.ptr, key, kv->key.via.str.size) != 0)
                continue;
            size_t n = kv->val.via.str.size;
            if (kv->val.type == MSGPACK_OBJECT_STR && n > 0 && n <= max &&
                hcp_utf8_valid(kv->val.via.str.ptr, n) && (out = malloc(n + 1)) != NULL) {
                memcpy(out, kv->val.via.str.ptr, n);
                out[n] = '\0';
            }
            break;
        }
    }
    msgpack_unpacked_destroy(&up);
    return out;
}

/* ---- applying ---- */

/* The state an entry takes: why is "" when it applies. Runs the handler
 * (a registered type) or prepares the correction (ev gets its case and
 * note, old and c the case before and after). Store errors only. */
static int decide(node *n, MDB_txn *txn, const repl_dir_entry *d, hcp_event *ev, hcp_case *old,
                  hcp_case *c, bool *has_case, char *why, size_t whylen)
{
    why[0] = '\0';
    *has_case = false;
    if (strcmp(d->target, "all") != 0 && strcmp(d->target, n->cfg.county) != 0) {
        snprintf(why, whylen, "wrong_target");
        return HCP_OK;
    }
    if (strcmp(d->type, "correction") == 0) {
        char *id = body_str(d->body, d->body_len, "case", HCP_CASE_ID_MAX - 1);
        ev->note = body_str(d->body, d->body_len, "note", HCP_TEXT_MAX);
        int rc = id != NULL && ev->note != NULL ? HCP_OK : HCP_EINVAL;
        if (rc == HCP_OK) {
            snprintf(ev->case_id, sizeof(ev->case_id), "%s", id);
            rc = store_case_get(n->store, txn, id, true, old);
        }
        free(id);
        if (rc == HCP_OK && (rc = hcp_case_copy(c, old)) == HCP_OK)
            *has_case = true;
        if (rc == HCP_EINVAL || rc == HCP_ENOTFOUND) {
            snprintf(why, whylen, rc == HCP_EINVAL ? "malformed_body" : "case_not_found");
            ev->case_id[0] = '\0';
            return HCP_OK;
        }
        return rc;
    }
    if (node_spot_is_type(d->type)) /* notes on their case, like a correction: nodespot.c */
        return node_spot_decide(n, txn, d, ev, old, c, has_case, why, whylen);
    size_t h = handler_find(d->type);
    if (h == HANDLERS_MAX) {
        snprintf(why, whylen, "unknown_type");
        return HCP_OK;
    }
    int rc =
        handlers[h].fn(handlers[h].arg, n->store, txn, d->seq, d->body, d->body_len, why, whylen);
    if (rc == HCP_ERULE || rc == HCP_EINVAL) {
        if (why[0] == '\0')
            snprintf(why, whylen, "refused");
        return HCP_OK;
    }
    why[0] = '\0';
    return rc;
}

/* Apply one entry (seq > the position): decide, append the directive
 * event (the correction also through the rules onto its case), keep the
 * entry and move the position. */
static int apply_one(node *n, MDB_txn *txn, hcp_chain *ch, const node_dir_in *in,
                     const repl_dir_entry *d, hcp_time now)
{
    hcp_event ev;
    hcp_case old, c;
    memset(&ev, 0, sizeof(ev));
    memset(&old, 0, sizeof(old));
    memset(&c, 0, sizeof(c));
    char why[WHY_MAX], hex[2 * HCP_HASH_LEN + 1];
    bool has_case;
    int rc = decide(n, txn, d, &ev, &old, &c, &has_case, why, sizeof(why));
    hcp_hash_hex(in->hash, hex);
    ev.type = HCP_EV_DIRECTIVE;
    ev.at = now;
    ev.recorded_at = now;
    memcpy(ev.county, n->cfg.county, sizeof(ev.county));
    ev.directive = d->seq;
    ev.dir_type = strdup(d->type);
    ev.dir_hash = strdup(hex);
    ev.dir_result = why[0] == '\0' ? HCP_DR_APPLIED : HCP_DR_REFUSED;
    if (rc == HCP_OK && why[0] != '\0') {
        ev.dir_why = strdup(why);
        free(ev.note);
        ev.note = NULL;
        ev.case_id[0] = '\0';
    }
    if (rc == HCP_OK &&
        (ev.dir_type == NULL || ev.dir_hash == NULL || (why[0] != '\0' && ev.dir_why == NULL)))
        rc = HCP_ENOMEM;
    hcp_refusal rw = {0};
    if (rc == HCP_OK && has_case && why[0] == '\0') {
        ev.seq = ch->seq + 1;
        rc = hcp_rules_apply(&c, &ev, n->cal, now, &rw);
    }
    if (rc == HCP_OK)
        rc = store_log_append(n->store, txn, ch, &ev);
    if (rc == HCP_OK && has_case && why[0] == '\0')
        rc = store_case_put(n->store, txn, &old, &c);
    if (rc == HCP_OK)
        rc = dirs_put(n->store, txn, d->seq, ev.dir_result, now, in->hash, why, in->rec,
                      in->rec_len);
    if (rc == HCP_OK)
        rc = dseq_put(n->store, txn, d->seq);
    if (rc == HCP_OK)
        node_log("info", "directive.applied", "seq=%llu type=%s result=%s why=%s",
                 (unsigned long long)d->seq, d->type, hcp_dir_result_names[ev.dir_result],
                 why[0] ? why : "-");
    hcp_event_clear(&ev);
    hcp_case_clear(&old);
    hcp_case_clear(&c);
    return rc;
}

/* The owed entry came again (node_directive_on_restore): run its type's
 * restore function; the debt is dropped in the same transaction, also when
 * the entry cannot be restored (said in the log). Store errors only. */
static int restore_one(node *n, MDB_txn *txn, const node_dir_in *in, const repl_dir_entry *d)
{
    size_t h = handler_find(d->type);
    int rc = HCP_EINVAL;
    if (h != HANDLERS_MAX && handlers[h].restore != NULL)
        rc = handlers[h].restore(handlers[h].restore_arg, n->store, txn, d->seq, d->body,
                                 d->body_len);
    if (rc != HCP_OK && rc != HCP_ERULE && rc != HCP_EINVAL)
        return rc;
    char hex[2 * HCP_HASH_LEN + 1];
    hcp_hash_hex(in->hash, hex);
    node_log(rc == HCP_OK ? "info" : "warn", "directive.restored",
             "seq=%llu type=%s hash=%s result=%s", (unsigned long long)d->seq, d->type, hex,
             rc == HCP_OK ? "restored" : "cannot_restore");
    return owed_put(n->store, txn, 0);
}

int node_directive_apply(node *n, MDB_txn *txn, hcp_chain *ch, node_write *w)
{
    node_dir_batch *b = w->dirs;
    if (b == NULL || !n->store->has_dirs)
        return HCP_OK;
    uint64_t dseq, ow = 0;
    int rc = dseq_get(n->store, txn, &dseq);
    if (rc == HCP_OK)
        rc = owed_get(n->store, txn, &ow);
    b->first_new = 0;
    b->restored = 0;
    for (size_t i = 0; rc == HCP_OK && i < b->n; i++) {
        repl_dir_entry d;
        if (repl_dir_decode(b->e[i].rec, b->e[i].rec_len, &d) != HCP_OK) {
            node_log("warn", "directive.malformed", "index=%zu", i);
            continue; /* signed but unreadable: a gateway bug; later ones still apply */
        }
        if (d.seq <= dseq && d.seq == ow && ow != 0) {
            rc = restore_one(n, txn, &b->e[i], &d);
            if (rc == HCP_OK)
                b->restored = ow;
            ow = 0;
            continue;
        }
        if (d.seq <= dseq)
            continue; /* exactly once: applied (or refused) before */
        rc = apply_one(n, txn, ch, &b->e[i], &d, w->now);
        if (rc == HCP_OK) {
            if (b->first_new == 0)
                b->first_new = d.seq;
            dseq = d.seq;
        }
    }
    b->applied_upto = dseq;
    return rc;
}

void node_directive_committed(node *n, const node_write *w)
{
    const node_dir_batch *b = w->dirs;
    if (b == NULL)
        return;
    if (b->restored != 0 && b->restored == atomic_load(&owed))
        atomic_store(&owed, 0);
    uint64_t pos = stated(b->applied_upto, atomic_load(&owed));
    if (pos > atomic_load(&n->store->dseq))
        atomic_store(&n->store->dseq, pos);
    if (b->first_new == 0 && b->restored == 0)
        return;
    for (size_t i = 0; i < b->n; i++) {
        repl_dir_entry d;
        if (repl_dir_decode(b->e[i].rec, b->e[i].rec_len, &d) != HCP_OK ||
            ((b->first_new == 0 || d.seq < b->first_new || d.seq > b->applied_upto) &&
             d.seq != b->restored))
            continue;
        size_t h = handler_find(d.type);
        if (h != HANDLERS_MAX && handlers[h].after != NULL)
            handlers[h].after(handlers[h].after_arg, d.seq);
    }
}

int node_directive_derive(node *n, MDB_txn *txn, const hcp_event *ev)
{
    if (ev->type != HCP_EV_DIRECTIVE || ev->directive == 0 || !n->store->has_dirs)
        return HCP_OK;
    uint64_t dseq;
    int rc = dseq_get(n->store, txn, &dseq);
    uint8_t hash[HCP_HASH_LEN] = {0};
    if (ev->dir_hash != NULL && strlen(ev->dir_hash) == 2 * HCP_HASH_LEN)
        for (size_t i = 0; i < HCP_HASH_LEN; i++) {
            unsigned v = 0;
            if (sscanf(ev->dir_hash + 2 * i, "%2x", &v) == 1)
                hash[i] = (uint8_t)v;
        }
    if (rc == HCP_OK)
        rc = dirs_put(n->store, txn, ev->directive, ev->dir_result, ev->recorded_at, hash,
                      ev->dir_why, NULL, 0);
    if (rc == HCP_OK && ev->directive > dseq)
        rc = dseq_put(n->store, txn, ev->directive);
    /* an applied entry whose effect the event does not carry: owed again */
    size_t h = ev->dir_type != NULL ? handler_find(ev->dir_type) : HANDLERS_MAX;
    uint64_t ow = 0;
    if (rc == HCP_OK)
        rc = owed_get(n->store, txn, &ow);
    if (rc == HCP_OK && ev->dir_result == HCP_DR_APPLIED && h != HANDLERS_MAX &&
        handlers[h].restore != NULL && ev->directive > ow) {
        ow = ev->directive;
        rc = owed_put(n->store, txn, ow);
    }
    if (rc == HCP_OK) { /* a restore: nothing runs meanwhile (its commit is not awaited) */
        atomic_store(&owed, ow);
        atomic_store(&n->store->dseq, stated(dseq > ev->directive ? dseq : ev->directive, ow));
    }
    return rc;
}

/* Entry seq's stored value, borrowed from txn. */
static int dirs_get(node_store *s, MDB_txn *txn, uint64_t seq, MDB_val *v)
{
    uint8_t kb[8];
    hcp_be64_put(kb, seq);
    MDB_val k = {8, kb};
    int rc = store_err(mdb_get(txn, s->dirs, &k, v));
    if (rc == HCP_OK && v->mv_size < DIR_HDR)
        rc = HCP_EFORMAT;
    return rc;
}

bool node_directive_answer_refused(node *n, MDB_txn *txn, node_write *w, int *rc)
{
    *rc = HCP_OK;
    if (w->step.type != HCP_EV_CORRECTION_ANSWER)
        return false;
    MDB_val v;
    int grc = n->store->has_dirs ? dirs_get(n->store, txn, w->step.directive, &v) : HCP_ENOTFOUND;
    if (grc != HCP_OK && grc != HCP_ENOTFOUND && grc != HCP_EFORMAT) {
        *rc = grc;
        return true;
    }
    bool ok = false;
    if (grc == HCP_OK && ((const uint8_t *)v.mv_data)[0] == HCP_DR_APPLIED) {
        const uint8_t *p = v.mv_data;
        size_t off = DIR_HDR + p[DIR_HDR - 1];
        repl_dir_entry d;
        if (off < v.mv_size && repl_dir_decode(p + off, v.mv_size - off, &d) == HCP_OK &&
            strcmp(d.type, "correction") == 0) {
            char *id = body_str(d.body, d.body_len, "case", HCP_CASE_ID_MAX - 1);
            ok = id != NULL && strcmp(id, w->id) == 0;
            free(id);
        } else if (off == v.mv_size) {
            ok = true; /* known from its event only (a restore): the case checks itself */
        }
    }
    if (!ok) {
        json_decref(w->reply);
        w->status = 409;
        w->reply = hcp_json_error("no_such_correction",
                                  "the directive is not a correction of this case applied here");
    }
    return !ok;
}

/* ---- GET /v1/directives ---- */

/* One stored entry as JSON (new reference; NULL on failure). */
static json_t *entry_json(uint64_t seq, const uint8_t *p, size_t len)
{
    char hex[2 * HCP_HASH_LEN + 1], why[WHY_MAX + 1];
    hcp_hash_hex(p + 9, hex);
    size_t wl = p[DIR_HDR - 1];
    if (DIR_HDR + wl > len)
        wl = 0;
    memcpy(why, p + DIR_HDR, wl);
    why[wl] = '\0';
    json_t *o = json_pack("{sI,ss,ss,so}", "seq", (json_int_t)seq, "state",
                          p[0] == HCP_DR_APPLIED ? "applied" : "refused", "hash", hex, "applied_at",
                          hcp_json_time((hcp_time)hcp_be64_get(p + 1)));
    bool ok = o != NULL;
    if (ok && wl > 0)
        ok = json_object_set_new(o, "why", json_string(why)) == 0;
    repl_dir_entry d;
    size_t off = DIR_HDR + wl;
    if (ok && off < len && repl_dir_decode(p + off, len - off, &d) == HCP_OK) {
        ok = json_object_set_new(o, "type", json_string(d.type)) == 0 &&
             json_object_set_new(o, "target", json_string(d.target)) == 0 &&
             json_object_set_new(o, "at", hcp_json_time(d.at)) == 0;
        if (ok && strcmp(d.type, "correction") == 0) {
            char *c = body_str(d.body, d.body_len, "case", HCP_CASE_ID_MAX - 1);
            char *note = body_str(d.body, d.body_len, "note", HCP_TEXT_MAX);
            ok = json_object_set_new(o, "case", c ? json_string(c) : json_null()) == 0 &&
                 json_object_set_new(o, "note", note ? json_string(note) : json_null()) == 0;
            free(c);
            free(note);
        }
    }
    if (!ok) {
        json_decref(o);
        return NULL;
    }
    return o;
}

void node_directive_route(node *n, node_req *r)
{
    if (!hcpd_acct_require(r, HCPD_ROLE_SUPERVISOR, "supervisor"))
        return;
    if (strcmp(node_req_method(r), "GET") != 0 && strcmp(node_req_method(r), "HEAD") != 0) {
        node_req_reply_error(r, 405, "method_not_allowed", "this route does not take that method");
        return;
    }
    json_t *arr = json_array();
    MDB_txn *txn;
    int rc = arr != NULL ? store_read_begin(n->store, &txn) : HCP_ENOMEM;
    if (rc == HCP_OK) {
        MDB_cursor *cur = NULL;
        if (n->store->has_dirs)
            rc = store_err(mdb_cursor_open(txn, n->store->dirs, &cur));
        MDB_val k, v;
        int mrc = cur != NULL ? mdb_cursor_get(cur, &k, &v, MDB_FIRST) : MDB_NOTFOUND;
        for (; rc == HCP_OK && mrc == MDB_SUCCESS; mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
            if (k.mv_size != 8 || v.mv_size < DIR_HDR)
                continue;
            if (json_array_append_new(
                    arr, entry_json(hcp_be64_get(k.mv_data), v.mv_data, v.mv_size)) != 0)
                rc = HCP_ENOMEM;
        }
        if (cur != NULL)
            mdb_cursor_close(cur);
        store_read_end(n->store, txn);
    }
    if (rc != HCP_OK) {
        json_decref(arr);
        node_req_reply_error(r, 500, "storage_error", hcp_strerror(rc));
        return;
    }
    node_req_reply_json(
        r, 200,
        json_pack("{sI,so}", "dseq", (json_int_t)atomic_load(&n->store->dseq), "directives", arr));
}
