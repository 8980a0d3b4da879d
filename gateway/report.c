/*
 * report.c — the register's aggregate and the monthly form per prefecture
 * at the gateway (report.h, docs/reports.md).
 */
#include "report.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "be.h"
#include "codec.h"
#include "division.h"
#include "json.h"
#include "monthly.h"
#include "record.h"
#include "gwwriter.h"
#include "seal.h"

#define RP_KEY_LEN (6 + HCP_COUNTY_LEN + 8) /* "YYYYMM" | county | be64 seq */
/* Ceiling of a form row: its cells hold a few fields of one case (two texts
 * of at most HCP_TEXT_MAX, short names), well under one record, and the
 * encodings of those that need them at most six times as long (\u00XX for
 * a control character): a row never reaches it, so it never fails a case
 * write. */
#define RP_ROW_MAX (8 * HCP_RECORD_MAX)

/*
 * A kept row (value of `rp_form`): the layout (HCPD_MONTHLY_ROW_LAYOUT, one
 * byte), be32 the length of the public part, the public part (plain), then
 * the personal part sealed (hcpd_monthly_render). The associated data of
 * the seal is "rp:", the case id and everything before the sealed part, so
 * a row moved to another case does not unseal and its public part cannot
 * be altered or swapped unseen. A row without personal parts still has its
 * (empty) sealed part: every row is authenticated.
 */
#define RP_HEAD 5

/* The associated data of the row of case id whose value begins with
 * head[0..n) (its layout, length and public part) into aad (emptied). */
static int row_aad(hcp_buf *aad, const char *id, const void *head, size_t n)
{
    hcp_buf_reset(aad);
    int rc = hcp_buf_append(aad, "rp:", 3);
    if (rc == HCP_OK)
        rc = hcp_buf_append(aad, id, strnlen(id, HCP_CASE_ID_MAX - 1));
    return rc == HCP_OK ? hcp_buf_append(aad, head, n) : rc;
}

/* The key in `rp_ver` (its other keys are prefecture | "YYYYMM", 12 bytes)
 * that holds the layout of the kept rows. */
static const char layout_key[] = "layout";

/* The form's state in memory: its switches and the cache of rendered forms
 * (report.h). One entry: a prefecture-month in one format at one version
 * of its rows; for XLSX the whole workbook, so also its header lines. */
#define RP_CACHE_SLOTS 16
#define RP_CACHE_MB    256                  /* default bound of the cache (HCP_GW_FORM_CACHE_MB) */
#define RP_VER_KEY     (HCP_COUNTY_LEN + 6) /* prefecture | "YYYYMM" */

typedef struct rp_entry {
    bool used;
    uint8_t vkey[RP_VER_KEY];
    hcpd_mformat f;
    uint64_t ver;
    char *xkey; /* XLSX: the header lines it was written with; NULL otherwise */
    bool gz;    /* data: the rows deflated (hcpd_gz_part), crc and raw theirs */
    uint32_t crc;
    uint64_t raw;
    uint8_t *data;
    size_t len, rows;
    uint64_t tick; /* last use */
} rp_entry;

/* When a case's row is written (HCP_GW_FORM_ROWS, report.h). */
typedef enum rp_mode {
    RP_AUTO,  /* the first RP_SYNC_MAX of a transaction at once, the rest behind it */
    RP_SYNC,  /* every row in the transaction that writes its case */
    RP_DEFER, /* every row behind it (tests) */
} rp_mode;

#define RP_SYNC_MAX       32  /* auto: rows written at once per transaction (a live batch's) */
#define RP_DRAIN_ROWS     512 /* rows per drain transaction */
#define RP_DRAIN_MS       100 /* the drain's tick */
#define RP_DRAIN_SLICE    40  /* ms of one tick the drain may take at most */
#define RP_DRAIN_STARVE_S 10  /* s the writer may keep the drain waiting */

struct gw_rp {
    bool rows_off; /* HCP_GW_FORM_ROWS=off: no rows kept */
    rp_mode mode;
    size_t txn_id, txn_rows; /* the write transaction last seen, rows written at once in it */
    /* the drain (loop thread): its timer, and the writer's busy time at its last tick */
    gw *g;
    uv_timer_t drain;
    bool drain_on, drain_failed;
    uint64_t last_busy, last_tick;
    uint64_t starved_at; /* since when the writer kept the drain waiting (0: not) */
    uint64_t drained;    /* rows the drain wrote since the backlog began */
    /* whether rows may wait: set by a mark (under the write lock), cleared
     * by a drain transaction that found none, so idle ticks start none */
    atomic_bool marked;
    size_t cap; /* bytes the cache may hold; 0: no cache */
    pthread_mutex_t mu;
    size_t total;
    uint64_t tick;
    rp_entry e[RP_CACHE_SLOTS];
    hcp_buf spare; /* an answer's buffer kept for the next download (its pages already mapped) */
    /* a case write's buffers, kept from one to the next: used only under
     * the store's write transaction, which LMDB gives one thread at a time */
    hcpd_mscratch *render;
    hcp_buf val, prv, aad;
};

/* The rp_ver key of the rows of case id: its county's prefecture and the
 * month of receipt the id carries (county-YYYYMMDD-...); false for an id
 * of no known county (no form reads its row). */
static bool ver_key_of(const char *id, uint8_t k[RP_VER_KEY])
{
    if (strnlen(id, HCP_COUNTY_LEN + 9) < HCP_COUNTY_LEN + 9 || id[HCP_COUNTY_LEN] != '-')
        return false;
    char county[HCP_COUNTY_LEN + 1];
    memcpy(county, id, HCP_COUNTY_LEN);
    county[HCP_COUNTY_LEN] = '\0';
    const hcp_division *d = hcp_division_find(county);
    if (d == NULL)
        return false;
    memcpy(k, d->prefecture, HCP_COUNTY_LEN);
    memcpy(k + HCP_COUNTY_LEN, id + HCP_COUNTY_LEN + 1, 6);
    return true;
}

/* The rp_ver key of prefecture pref, year-month. */
static void ver_key(uint8_t k[RP_VER_KEY], const char *pref, int y, int m)
{
    char ym[16];
    snprintf(ym, sizeof(ym), "%04d%02d", y % 10000, m % 100);
    memcpy(k, pref, HCP_COUNTY_LEN);
    memcpy(k + HCP_COUNTY_LEN, ym, 6);
}

/* The version stored under key k in txn (0 when none). */
static int ver_get(gw_store *s, MDB_txn *txn, const uint8_t k[RP_VER_KEY], uint64_t *ver)
{
    MDB_val key = {RP_VER_KEY, (void *)k}, v;
    int mrc = mdb_get(txn, s->rp_ver, &key, &v);
    *ver = 0;
    if (mrc == MDB_NOTFOUND)
        return HCP_OK;
    if (mrc != MDB_SUCCESS)
        return gws_err(mrc);
    if (v.mv_size != 8)
        return HCP_EFORMAT;
    *ver = hcp_be64_get(v.mv_data);
    return HCP_OK;
}

/* Raise the version of case id's prefecture-month: its row changed in txn. */
static int ver_bump(gw_store *s, MDB_txn *txn, const char *id)
{
    uint8_t kb[RP_VER_KEY], vb[8];
    if (!ver_key_of(id, kb))
        return HCP_OK;
    uint64_t ver;
    int rc = ver_get(s, txn, kb, &ver);
    if (rc == HCP_EFORMAT) { /* unreadable: counted again from 0 */
        ver = 0;
        rc = HCP_OK;
    }
    if (rc != HCP_OK)
        return rc;
    hcp_be64_put(vb, ver + 1);
    MDB_val k = {RP_VER_KEY, kb}, v = {sizeof(vb), vb};
    return gws_err(mdb_put(txn, s->rp_ver, &k, &v, 0));
}

int gw_report_version(gw_store *s, MDB_txn *txn, const char *pref, int year, int month,
                      uint64_t *ver)
{
    if (s == NULL || txn == NULL || pref == NULL || ver == NULL || strlen(pref) != HCP_COUNTY_LEN)
        return HCP_EINVAL;
    uint8_t kb[RP_VER_KEY];
    ver_key(kb, pref, year, month);
    return ver_get(s, txn, kb, ver);
}

/* b empty with ceiling max: made anew, or when kept, its allocation kept. */
static void buf_ready(hcp_buf *b, size_t max, bool kept)
{
    if (!kept) {
        hcp_buf_init(b, max);
        return;
    }
    b->len = 0;
    b->max = max;
}

/* Write case c's row (render, seal, put) in txn, replacing the one it had. */
static int row_write(gw_store *s, MDB_txn *txn, const hcp_case *c)
{
    hcp_buf own[3], *val = &own[0], *prv = &own[1], *aad = &own[2];
    hcpd_mscratch *mine = NULL, **scratch = &mine;
    if (s->rp != NULL) { /* the kept buffers: no allocation per case once grown */
        val = &s->rp->val;
        prv = &s->rp->prv;
        aad = &s->rp->aad;
        scratch = &s->rp->render;
    }
    buf_ready(val, RP_ROW_MAX + HCP_SEAL_OVERHEAD, s->rp != NULL);
    buf_ready(prv, RP_ROW_MAX, s->rp != NULL);
    buf_ready(aad, RP_ROW_MAX + 3 + HCP_CASE_ID_MAX, s->rp != NULL);
    uint8_t head[RP_HEAD] = {HCPD_MONTHLY_ROW_LAYOUT, 0, 0, 0, 0};
    int rc = hcp_buf_append(val, head, sizeof(head));
    if (rc == HCP_OK)
        rc = hcpd_monthly_render_with(scratch, c, true, val, prv);
    if (rc == HCP_OK && val->len - RP_HEAD > UINT32_MAX)
        rc = HCP_ERANGE;
    if (rc == HCP_OK) {
        hcp_be32_put(val->data + 1, (uint32_t)(val->len - RP_HEAD));
        rc = row_aad(aad, c->id, val->data, val->len);
    }
    if (rc == HCP_OK) /* only the personal part is encrypted; the rest is authenticated */
        rc = hcp_seal(s->sealer, aad->data, aad->len, prv->data, prv->len, val);
    if (rc == HCP_OK) {
        MDB_val k = {strlen(c->id), (void *)c->id}, v = {val->len, val->data};
        rc = gws_err(mdb_put(txn, s->rp_form, &k, &v, 0));
    }
    if (prv->data != NULL) /* personal data: not left in memory, kept or freed */
        memset(prv->data, 0, prv->len);
    if (aad->data != NULL) /* its plain part: public, but no reason to keep it */
        aad->len = 0;
    if (s->rp == NULL) {
        hcp_buf_free(val);
        hcp_buf_free(prv);
        hcp_buf_free(aad);
        hcpd_mscratch_free(mine);
    }
    return rc;
}

/* Whether the row of the case written now in txn waits for the drain:
 * RP_AUTO counts the rows written at once in each write transaction
 * (mdb_txn_id tells them apart; a transaction redone after an abort keeps
 * counting, which only defers more). */
static bool row_defers(struct gw_rp *rp, MDB_txn *txn)
{
    if (rp == NULL || rp->mode == RP_SYNC)
        return false;
    if (rp->mode == RP_DEFER)
        return true;
    size_t id = mdb_txn_id(txn);
    if (id != rp->txn_id) {
        rp->txn_id = id;
        rp->txn_rows = 0;
    }
    return ++rp->txn_rows > RP_SYNC_MAX;
}

int gw_report_case(gw_store *s, MDB_txn *txn, const hcp_case *c)
{
    if (s == NULL || txn == NULL || c == NULL || c->id[0] == '\0')
        return HCP_EINVAL;
    if (s->rp != NULL && s->rp->rows_off)
        return HCP_OK;
    MDB_val k = {strlen(c->id), (void *)c->id}, none = {0, (void *)""};
    int rc;
    if (row_defers(s->rp, txn)) { /* marked: the drain writes it, a download renders it */
        atomic_store(&s->rp->marked, true);
        rc = gws_err(mdb_put(txn, s->rp_dirty, &k, &none, 0));
    } else {
        rc = row_write(s, txn, c);
        if (rc == HCP_OK) { /* no longer waiting, if it was */
            rc = gws_err(mdb_del(txn, s->rp_dirty, &k, NULL));
            if (rc == HCP_ENOTFOUND)
                rc = HCP_OK;
        }
    }
    if (rc == HCP_OK) /* a form kept of its month is now older than its rows */
        rc = ver_bump(s, txn, c->id);
    return rc;
}

/* The layout of the rows kept in txn (0: none recorded, rows of layout 1
 * or none). */
static int layout_get(gw_store *s, MDB_txn *txn, int *layout)
{
    MDB_val k = {sizeof(layout_key) - 1, (void *)layout_key}, v;
    int mrc = mdb_get(txn, s->rp_ver, &k, &v);
    *layout = 0;
    if (mrc == MDB_NOTFOUND)
        return HCP_OK;
    if (mrc != MDB_SUCCESS)
        return gws_err(mrc);
    if (v.mv_size == 1)
        *layout = *(const uint8_t *)v.mv_data;
    return HCP_OK;
}

/* Record in txn that the kept rows are of this build's layout. */
static int layout_put(gw_store *s, MDB_txn *txn)
{
    uint8_t l = HCPD_MONTHLY_ROW_LAYOUT;
    MDB_val k = {sizeof(layout_key) - 1, (void *)layout_key}, v = {1, &l};
    return gws_err(mdb_put(txn, s->rp_ver, &k, &v, 0));
}

/* A store whose cases came before the form's rows, or whose rows are of
 * another layout (an older version): the row of every case, once, at
 * start-up in txn, and the layout recorded. */
static int rows_rebuild(gw_store *s, MDB_txn *txn)
{
    MDB_stat rst, cst;
    int layout = 0;
    int rc = gws_err(mdb_stat(txn, s->rp_form, &rst));
    if (rc == HCP_OK)
        rc = gws_err(mdb_stat(txn, s->cases, &cst));
    if (rc == HCP_OK)
        rc = layout_get(s, txn, &layout);
    MDB_stat dst;
    if (rc == HCP_OK)
        rc = gws_err(mdb_stat(txn, s->rp_dirty, &dst));
    /* rows of this layout: with the cases still waiting in rp_dirty they
     * cover every case; neither of them while there are cases: made here */
    if (rc != HCP_OK || (layout == HCPD_MONTHLY_ROW_LAYOUT &&
                         (rst.ms_entries > 0 || dst.ms_entries > 0 || cst.ms_entries == 0)))
        return rc;
    if ((rc = gws_err(mdb_drop(txn, s->rp_dirty, 0))) != HCP_OK) /* all made below */
        return rc;
    if (rst.ms_entries > 0) { /* rows of another layout (a layout is never mixed): all again */
        gw_log("info", "report.rows_layout", "from=%d to=%d rows=%zu", layout,
               HCPD_MONTHLY_ROW_LAYOUT, (size_t)rst.ms_entries);
        rc = gws_err(mdb_drop(txn, s->rp_form, 0));
    }
    if (rc != HCP_OK || cst.ms_entries == 0)
        return rc == HCP_OK ? layout_put(s, txn) : rc;
    MDB_cursor *cur;
    if ((rc = gws_err(mdb_cursor_open(txn, s->cases, &cur))) != HCP_OK)
        return rc;
    MDB_val k, v;
    int mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    size_t n = 0, skipped = 0;
    for (; rc == HCP_OK && mrc == MDB_SUCCESS; mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        char id[HCP_CASE_ID_MAX];
        if (!gws_case_key_id(&k, id))
            continue;
        hcp_case c;
        rc = hcp_stored_case_unpack(s->sealer, id, v.mv_data, v.mv_size, true, &c);
        if (rc == HCP_OK)
            rc = row_write(s, txn, &c);
        else if (rc == HCP_ECRYPTO || rc == HCP_EFORMAT) { /* unreadable: left out, said */
            skipped++;
            rc = HCP_OK;
        }
        hcp_case_clear(&c);
        n++;
    }
    mdb_cursor_close(cur);
    if (rc == HCP_OK && mrc != MDB_NOTFOUND)
        rc = gws_err(mrc);
    if (rc == HCP_OK)
        rc = layout_put(s, txn);
    gw_log(rc == HCP_OK ? "info" : "error", "report.rows_rebuilt", "cases=%zu skipped=%zu rc=%d", n,
           skipped, rc);
    return rc;
}

/* The form's state from the environment: HCP_GW_FORM_ROWS, HCP_GW_FORM_CACHE_MB. */
static int rp_new(gw_store *s)
{
    struct gw_rp *rp = calloc(1, sizeof(*rp));
    if (rp == NULL)
        return HCP_ENOMEM;
    atomic_init(&rp->marked, false);
    if (pthread_mutex_init(&rp->mu, NULL) != 0) {
        free(rp);
        return HCP_ENOMEM;
    }
    const char *off = getenv("HCP_GW_FORM_ROWS"), *mb = getenv("HCP_GW_FORM_CACHE_MB");
    rp->rows_off = off != NULL && strcmp(off, "off") == 0;
    rp->mode = RP_AUTO;
    if (off != NULL && strcmp(off, "sync") == 0)
        rp->mode = RP_SYNC;
    else if (off != NULL && strcmp(off, "deferred") == 0)
        rp->mode = RP_DEFER;
    else if (off != NULL && off[0] != '\0' && strcmp(off, "auto") != 0 && !rp->rows_off)
        gw_log("warn", "report.rows_mode",
               "value=\"%.16s\" detail=\"not off, auto, sync or "
               "deferred: auto\"",
               off);
    unsigned long n = RP_CACHE_MB;
    if (mb != NULL && mb[0] != '\0') {
        char *end;
        n = strtoul(mb, &end, 10);
        if (*end != '\0' || n > (1ul << 20))
            n = RP_CACHE_MB; /* malformed: the default, said */
        gw_log("info", "report.cache", "mb=%lu", n);
    }
    rp->cap = (size_t)n << 20;
    s->rp = rp;
    return HCP_OK;
}

int gw_report_open(gw_store *s, MDB_txn *txn)
{
    int rc = s->rp == NULL ? rp_new(s) : HCP_OK;
    if (rc == HCP_OK)
        rc = gws_err(mdb_dbi_open(txn, "rp_contacts", MDB_CREATE, &s->rp_contacts));
    if (rc == HCP_OK)
        rc = gws_err(mdb_dbi_open(txn, "rp_form", MDB_CREATE, &s->rp_form));
    if (rc == HCP_OK)
        rc = gws_err(mdb_dbi_open(txn, "rp_ver", MDB_CREATE, &s->rp_ver));
    if (rc == HCP_OK)
        rc = gws_err(mdb_dbi_open(txn, "rp_dirty", MDB_CREATE, &s->rp_dirty));
    if (rc == HCP_OK && s->rp->rows_off) { /* emptied: the next start with rows rebuilds them */
        rc = gws_err(mdb_drop(txn, s->rp_form, 0));
        if (rc == HCP_OK)
            rc = gws_err(mdb_drop(txn, s->rp_ver, 0));
        if (rc == HCP_OK)
            rc = gws_err(mdb_drop(txn, s->rp_dirty, 0));
        gw_log("warn", "report.rows_off", "the monthly form is off (HCP_GW_FORM_ROWS=off)");
    } else if (rc == HCP_OK) {
        rc = rows_rebuild(s, txn);
    }
    return rc;
}

/* Forget entry e (held under the lock). */
static void entry_drop(struct gw_rp *rp, rp_entry *e)
{
    rp->total -= e->len;
    free(e->data);
    free(e->xkey);
    memset(e, 0, sizeof(*e));
}

void gw_report_close(gw_store *s)
{
    if (s == NULL || s->rp == NULL)
        return;
    for (int i = 0; i < RP_CACHE_SLOTS; i++)
        if (s->rp->e[i].used)
            entry_drop(s->rp, &s->rp->e[i]);
    hcp_buf_free(&s->rp->spare);
    hcp_buf_free(&s->rp->val);
    hcp_buf_free(&s->rp->prv);
    hcp_buf_free(&s->rp->aad);
    hcpd_mscratch_free(s->rp->render);
    (void)pthread_mutex_destroy(&s->rp->mu); /* no thread uses the store any more */
    free(s->rp);
    s->rp = NULL;
}

/* The index key of contact seq of county made at `at`. */
static void rp_key(uint8_t k[RP_KEY_LEN], hcp_time at, const char *county, uint64_t seq)
{
    int y, m, d;
    hcp_day_to_ymd(hcp_day_of(at), &y, &m, &d);
    char ym[16];
    snprintf(ym, sizeof(ym), "%04d%02d", y % 10000, m);
    memcpy(k, ym, 6);
    memcpy(k + 6, county, HCP_COUNTY_LEN);
    hcp_be64_put(k + 6 + HCP_COUNTY_LEN, seq);
}

int gw_report_contact(gw_store *s, MDB_txn *txn, const char *county, const hcp_event *ev)
{
    if (s == NULL || txn == NULL || county == NULL || ev == NULL || ev->type != HCP_EV_CONTACT)
        return HCP_EINVAL;
    hcp_time at = ev->at;
    uint64_t seq = ev->seq;
    if (ev->contact_ref != 0) { /* a later link: the entry it names */
        hcp_event old;
        int rc = gws_log_get(s, txn, county, ev->contact_ref, false, NULL, NULL, NULL, &old);
        bool ok = rc == HCP_OK && old.type == HCP_EV_CONTACT && old.contact_ref == 0;
        at = old.at;
        hcp_event_clear(&old);
        if (rc != HCP_OK && rc != HCP_ENOTFOUND && rc != HCP_EFORMAT)
            return rc;
        if (!ok) {
            gw_log("warn", "report.link_unknown", "county=%s seq=%llu ref=%llu", county,
                   (unsigned long long)ev->seq, (unsigned long long)ev->contact_ref);
            return HCP_OK;
        }
        seq = ev->contact_ref;
    }
    uint8_t kb[RP_KEY_LEN];
    rp_key(kb, at, county, seq);
    MDB_val k = {RP_KEY_LEN, kb}, v = {strlen(ev->linked_case), (void *)ev->linked_case};
    return gws_err(mdb_put(txn, s->rp_contacts, &k, &v, 0));
}

/* ---- the drain: rows written behind the transactions that deferred them ---- */

/* One transaction of the drain: its bounds in, its outcome out. */
typedef struct drain_job {
    gw_store *s;
    size_t max, done, skipped;
    bool more;
} drain_job;

/* Up to j->max waiting rows written in txn and unmarked (a redo after the
 * map grew starts over: j's outcome is reset). */
static int drain_txn(void *arg, MDB_txn *txn)
{
    drain_job *j = arg;
    j->done = j->skipped = 0;
    j->more = false;
    MDB_cursor *cur;
    int rc = gws_err(mdb_cursor_open(txn, j->s->rp_dirty, &cur));
    if (rc != HCP_OK)
        return rc;
    while (rc == HCP_OK) {
        MDB_val k, v;
        int mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); /* the first left: each is deleted */
        if (mrc != MDB_SUCCESS) {
            rc = mrc == MDB_NOTFOUND ? HCP_OK : gws_err(mrc);
            if (mrc == MDB_NOTFOUND && j->s->rp != NULL) /* none left: idle ticks skip */
                atomic_store(&j->s->rp->marked, false);
            break;
        }
        if (j->done == j->max) {
            j->more = true;
            break;
        }
        char id[HCP_CASE_ID_MAX];
        if (k.mv_size > 0 && k.mv_size < sizeof(id)) {
            memcpy(id, k.mv_data, k.mv_size);
            id[k.mv_size] = '\0';
            hcp_case c;
            rc = gws_case_get(j->s, txn, id, true, &c);
            if (rc == HCP_OK)
                rc = row_write(j->s, txn, &c);
            else if (rc == HCP_ENOTFOUND || rc == HCP_ECRYPTO || rc == HCP_EFORMAT) {
                j->skipped++; /* no case, or unreadable: no row, as rows_rebuild does */
                rc = HCP_OK;
            }
            hcp_case_clear(&c);
        }
        if (rc == HCP_OK)
            rc = gws_err(mdb_cursor_del(cur, 0));
        j->done++;
    }
    mdb_cursor_close(cur);
    return rc;
}

/* The outcome of a drain transaction committed (or not): said, counted. */
static int drain_end(const drain_job *j, int rc, size_t *done, bool *more)
{
    if (rc == HCP_OK && j->skipped > 0)
        gw_log("warn", "report.rows_skipped", "cases=%zu detail=\"not stored or unreadable\"",
               j->skipped);
    *done = rc == HCP_OK ? j->done : 0;
    *more = rc == HCP_OK && j->more;
    return rc;
}

int gw_report_drain(gw_store *s, size_t max, size_t *done, bool *more)
{
    if (s == NULL || done == NULL || more == NULL || max == 0)
        return HCP_EINVAL;
    *done = 0;
    *more = false;
    if (s->rp != NULL && s->rp->rows_off)
        return HCP_OK;
    MDB_txn *txn;
    int rc = gws_err(mdb_txn_begin(s->db.env, NULL, 0, &txn));
    if (rc != HCP_OK)
        return rc;
    drain_job j = {.s = s, .max = max};
    rc = drain_txn(&j, txn);
    if (rc == HCP_OK)
        rc = gws_err(mdb_txn_commit(txn));
    else
        mdb_txn_abort(txn);
    return drain_end(&j, rc, done, more);
}

/* Every RP_DRAIN_MS, while rows wait: when the writer was busy less than
 * half the time since the last tick (not catching up), write waiting rows
 * for at most RP_DRAIN_SLICE ms if it was idle, a quarter of that if not.
 * A writer busy for longer than RP_DRAIN_STARVE_S (a long catch-up, or a
 * live load that keeps it over half busy) still gives the drain a tenth
 * of the slice each tick, so rows never wait without end. */
static void on_drain_tick(uv_timer_t *t)
{
    struct gw_rp *rp = t->data;
    gw *g = rp->g;
    uint64_t now = uv_hrtime(), busy = gw_writer_busy_ns(g);
    uint64_t span = now - rp->last_tick, load = busy - rp->last_busy;
    rp->last_tick = now;
    rp->last_busy = busy;
    if (!atomic_load(&rp->marked))
        return;
    uint64_t slice = (uint64_t)RP_DRAIN_SLICE * 1000000u / (load * 100 > span ? 4 : 1);
    if (load * 2 > span) { /* a catch-up: the rows wait for it (downloads render them) */
        if (rp->starved_at == 0)
            rp->starved_at = now;
        if (now - rp->starved_at < (uint64_t)RP_DRAIN_STARVE_S * 1000000000u)
            return;
        slice = (uint64_t)RP_DRAIN_SLICE * 100000u;
    } else {
        rp->starved_at = 0;
    }
    size_t done = 0;
    bool more = true;
    int rc = HCP_OK;
    while (more && rc == HCP_OK && uv_hrtime() - now < slice) {
        drain_job j = {.s = g->store, .max = RP_DRAIN_ROWS};
        rc = drain_end(&j, gw_writer_exec(g, drain_txn, &j), &done, &more);
        rp->drained += done;
    }
    if (rc != HCP_OK && !rp->drain_failed) /* said once; tried again every tick */
        gw_log("error", "report.drain_failed", "err=\"%s\"", hcp_strerror(rc));
    rp->drain_failed = rc != HCP_OK;
    if (rc == HCP_OK && !more && rp->drained > 0) { /* the backlog is done: said once */
        gw_log("info", "report.rows_drained", "rows=%llu", (unsigned long long)rp->drained);
        rp->drained = 0;
    }
}

int gw_report_pending(gw_store *s, MDB_txn *txn, uint64_t *n)
{
    if (s == NULL || txn == NULL || n == NULL)
        return HCP_EINVAL;
    MDB_stat st;
    int rc = gws_err(mdb_stat(txn, s->rp_dirty, &st));
    *n = rc == HCP_OK ? (uint64_t)st.ms_entries : 0;
    return rc;
}

int gw_report_start(gw *g)
{
    if (g == NULL || g->store == NULL || g->store->rp == NULL || g->loop == NULL)
        return HCP_EINVAL;
    struct gw_rp *rp = g->store->rp;
    if (rp->rows_off || rp->drain_on)
        return HCP_OK;
    rp->g = g;
    atomic_store(&rp->marked, true); /* the store may hold marks: the first tick looks */
    rp->last_tick = uv_hrtime();
    rp->last_busy = gw_writer_busy_ns(g);
    if (uv_timer_init(g->loop, &rp->drain) != 0)
        return HCP_EIO;
    rp->drain.data = rp;
    rp->drain_on = true;
    if (uv_timer_start(&rp->drain, on_drain_tick, RP_DRAIN_MS, RP_DRAIN_MS) != 0) {
        gw_report_stop(g);
        return HCP_EIO;
    }
    return HCP_OK;
}

void gw_report_stop(gw *g)
{
    if (g == NULL || g->store == NULL || g->store->rp == NULL || !g->store->rp->drain_on)
        return;
    struct gw_rp *rp = g->store->rp;
    (void)uv_timer_stop(&rp->drain); /* always 0 (libuv) */
    uv_close((uv_handle_t *)&rp->drain, NULL);
    rp->drain_on = false;
}

/* ---- the routes ---- */

/* "YYYY-MM" of a required `month` parameter; answered 400 when not. */
static bool month_param(hcpd_req *r, int *y, int *m)
{
    char buf[16];
    if (hcpd_req_query_get(r, "month", buf, sizeof(buf)) != HCPD_Q_OK ||
        !hcpd_monthly_month_parse(buf, y, m)) {
        hcpd_req_reply_error(r, 400, "invalid_query", "month: expected YYYY-MM");
        return false;
    }
    return true;
}

/* An optional six-digit code parameter into code ("" absent); must satisfy
 * known. Answered 400 when not. */
static bool code_param(hcpd_req *r, const char *key, bool (*known)(const char *), char *code)
{
    char buf[16];
    int q = hcpd_req_query_get(r, key, buf, sizeof(buf));
    code[0] = '\0';
    if (q == HCPD_Q_ABSENT)
        return true;
    if (q != HCPD_Q_OK || !hcp_county_str_ok(buf) || !known(buf)) {
        char detail[64];
        snprintf(detail, sizeof(detail), "%s: not a known division code", key);
        hcpd_req_reply_error(r, 400, "invalid_query", detail);
        return false;
    }
    memcpy(code, buf, HCP_COUNTY_LEN + 1);
    return true;
}

static bool county_known(const char *code)
{
    return hcp_division_find(code) != NULL;
}

static bool prefecture_known(const char *code)
{
    return hcp_prefecture_known(code);
}

/* Answer a failed read. */
static void reply_read_err(hcpd_req *r, int rc)
{
    if (rc == HCP_EFULL || rc == HCP_ENOSPC)
        hcpd_req_reply_error(r, 503, "storage_full", "the access log cannot be written now");
    else if (rc == HCP_EBUSY || rc == HCP_ENOMEM)
        hcpd_req_reply_error(r, 503, "overloaded", "try again");
    else
        hcpd_req_reply_error(r, 500, "storage_error", hcp_strerror(rc));
}

/* The counties of the register being aggregated. */
typedef struct agg {
    const char *county; /* one county, or NULL */
    const char *pref;   /* one prefecture, or NULL */
    json_t *entries;
    json_t *counties; /* code -> {total, linked, by_channel} */
} agg;

/* Count one entry of county with channel ch (linked or not) into a. */
static int agg_count(agg *a, const char *county, int ch, bool linked)
{
    json_t *c = json_object_get(a->counties, county);
    if (c == NULL) {
        const hcp_division *d = hcp_division_find(county);
        c = json_pack("{ss,so,sI,sI,s{}}", "county", county, "name",
                      d != NULL ? json_string(d->name) : json_null(), "total", (json_int_t)0,
                      "linked", (json_int_t)0, "by_channel");
        if (c == NULL || json_object_set_new(a->counties, county, c) != 0)
            return HCP_ENOMEM;
    }
    json_t *by = json_object_get(c, "by_channel");
    const char *name = ch > 0 && ch < HCP_CH_COUNT_ ? hcp_channel_names[ch] : "unknown";
    json_int_t n = json_integer_value(json_object_get(by, name));
    bool ok =
        json_object_set_new(by, name, json_integer(n + 1)) == 0 &&
        json_object_set_new(
            c, "total", json_integer(json_integer_value(json_object_get(c, "total")) + 1)) == 0 &&
        json_object_set_new(
            c, "linked",
            json_integer(json_integer_value(json_object_get(c, "linked")) + (linked ? 1 : 0))) == 0;
    return ok ? HCP_OK : HCP_ENOMEM;
}

/* Scan the month's register entries (no personal data) into a. */
static int agg_scan(gw *g, MDB_txn *txn, int y, int m, agg *a)
{
    char ym[16];
    snprintf(ym, sizeof(ym), "%04d%02d", y, m);
    MDB_cursor *cur;
    int rc = gws_err(mdb_cursor_open(txn, g->store->rp_contacts, &cur));
    if (rc != HCP_OK)
        return rc;
    uint8_t start[6 + HCP_COUNTY_LEN];
    memcpy(start, ym, 6);
    memcpy(start + 6, a->county != NULL ? a->county : "", a->county != NULL ? HCP_COUNTY_LEN : 0);
    MDB_val k = {a->county != NULL ? sizeof(start) : 6, start}, v;
    int mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    while (rc == HCP_OK && mrc == MDB_SUCCESS && k.mv_size == RP_KEY_LEN &&
           memcmp(k.mv_data, start, 6) == 0) {
        const uint8_t *kp = k.mv_data;
        char county[HCP_COUNTY_LEN + 1], linked[HCP_CASE_ID_MAX];
        memcpy(county, kp + 6, HCP_COUNTY_LEN);
        county[HCP_COUNTY_LEN] = '\0';
        if (a->county != NULL && strcmp(county, a->county) != 0)
            break;
        const hcp_division *d = hcp_division_find(county);
        if (a->pref == NULL || (d != NULL && strcmp(d->prefecture, a->pref) == 0)) {
            uint64_t seq = hcp_be64_get(kp + 6 + HCP_COUNTY_LEN);
            size_t len = v.mv_size < sizeof(linked) - 1 ? v.mv_size : sizeof(linked) - 1;
            memcpy(linked, v.mv_data, len);
            linked[len] = '\0';
            hcp_event ev;
            rc = gws_log_get(g->store, txn, county, seq, false, NULL, NULL, NULL, &ev);
            if (rc == HCP_OK) {
                json_t *e =
                    json_pack("{ss,sI,so,ss,so,so}", "county", county, "contact", (json_int_t)seq,
                              "at", hcp_json_time(ev.at), "channel",
                              ev.contact_channel > 0 && ev.contact_channel < HCP_CH_COUNT_
                                  ? hcp_channel_names[ev.contact_channel]
                                  : "unknown",
                              "summary", ev.summary != NULL ? json_string(ev.summary) : json_null(),
                              "case", linked[0] ? json_string(linked) : json_null());
                if (e == NULL || json_array_append_new(a->entries, e) != 0)
                    rc = HCP_ENOMEM;
                if (rc == HCP_OK)
                    rc = agg_count(a, county, ev.contact_channel, linked[0] != '\0');
            }
            hcp_event_clear(&ev);
        }
        if (rc == HCP_OK)
            mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    if (rc == HCP_OK && mrc != MDB_SUCCESS && mrc != MDB_NOTFOUND)
        rc = gws_err(mrc);
    return rc;
}

/* GET /v1/contacts?month=&county=|prefecture= : the register aggregated per
 * county and channel, and its entries, without personal data. */
static void get_contacts(gw *g, hcpd_req *r)
{
    static const char *const keys[] = {"month", "county", "prefecture", NULL};
    char county[HCP_COUNTY_LEN + 1], pref[HCP_COUNTY_LEN + 1];
    int y, m;
    if (!hcpd_acct_require(r, HCPD_ROLE_SUPERVISOR, "supervisor") ||
        !hcpd_req_params_ok(r, keys, 16) || !month_param(r, &y, &m) ||
        !code_param(r, "county", county_known, county) ||
        !code_param(r, "prefecture", prefecture_known, pref))
        return;
    agg a = {.county = county[0] ? county : NULL,
             .pref = pref[0] ? pref : NULL,
             .entries = json_array(),
             .counties = json_object()};
    MDB_txn *txn;
    int rc = a.entries != NULL && a.counties != NULL ? gws_read_begin(g->store, &txn) : HCP_ENOMEM;
    if (rc == HCP_OK) {
        rc = agg_scan(g, txn, y, m, &a);
        gws_read_end(g->store, txn);
    }
    json_t *arr = rc == HCP_OK ? json_array() : NULL;
    json_int_t total = 0, linked = 0;
    const char *key;
    json_t *c;
    json_object_foreach(a.counties, key, c)
    {
        total += json_integer_value(json_object_get(c, "total"));
        linked += json_integer_value(json_object_get(c, "linked"));
        if (arr != NULL && json_array_append(arr, c) != 0)
            rc = HCP_ENOMEM;
    }
    if (rc == HCP_OK && arr == NULL)
        rc = HCP_ENOMEM;
    json_decref(a.counties);
    if (rc != HCP_OK) {
        json_decref(arr);
        json_decref(a.entries);
        reply_read_err(r, rc);
        return;
    }
    char mon[8];
    snprintf(mon, sizeof(mon), "%04d-%02d", y, m);
    hcpd_req_reply_json(r, 200,
                        json_pack("{ss,so,so,sI,sI,so,so}", "month", mon, "county",
                                  county[0] ? json_string(county) : json_null(), "prefecture",
                                  pref[0] ? json_string(pref) : json_null(), "total", total,
                                  "linked", linked, "counties", arr, "contacts", a.entries));
}

/* Add the kept row v of case id to the form: its public part as stored,
 * its personal part unsealed into plain (scratch, wiped after), aad the
 * scratch for the associated data. HCP_EFORMAT for a row of another layout,
 * HCP_ECRYPTO for one that does not authenticate. */
static int form_row(gw_store *s, const char *id, const MDB_val *v, hcpd_monthly *f, hcp_buf *plain,
                    hcp_buf *aad)
{
    const uint8_t *p = v->mv_data;
    if (v->mv_size < RP_HEAD || p[0] != HCPD_MONTHLY_ROW_LAYOUT)
        return HCP_EFORMAT;
    uint32_t publen = hcp_be32_get(p + 1);
    if (publen > v->mv_size - RP_HEAD)
        return HCP_EFORMAT;
    size_t head = RP_HEAD + (size_t)publen;
    int rc = row_aad(aad, id, p, head);
    hcp_buf_reset(plain);
    if (rc == HCP_OK)
        rc = hcp_unseal(s->sealer, aad->data, aad->len, p + head, v->mv_size - head, plain);
    if (rc == HCP_OK)
        rc = hcpd_monthly_add_rendered(f, id, p + RP_HEAD, publen, plain->data, plain->len);
    if (plain->data != NULL)
        memset(plain->data, 0, plain->len);
    return rc;
}

/* A cursor over the keys of one county-month in one of the form's
 * databases (rp_form, rp_dirty): on while it is at a key of the prefix. */
typedef struct rp_scan {
    MDB_cursor *cur;
    MDB_val k, v;
    bool on;
} rp_scan;

/* Move sc (op: MDB_SET_RANGE from the prefix, or MDB_NEXT) and say whether
 * it is still in prefix[0..plen). */
static int scan_step(rp_scan *sc, const char *prefix, size_t plen, MDB_cursor_op op)
{
    if (op == MDB_SET_RANGE) {
        sc->k.mv_size = plen;
        sc->k.mv_data = (void *)prefix;
    }
    int mrc = mdb_cursor_get(sc->cur, &sc->k, &sc->v, op);
    sc->on = mrc == MDB_SUCCESS && sc->k.mv_size >= plen && sc->k.mv_size < HCP_CASE_ID_MAX &&
             memcmp(sc->k.mv_data, prefix, plen) == 0;
    return mrc == MDB_SUCCESS || mrc == MDB_NOTFOUND ? HCP_OK : gws_err(mrc);
}

/* LMDB's order of keys without a comparator of their own (mdb_cmp_memn):
 * bytes, then length. */
static int key_cmp(const MDB_val *a, const MDB_val *b)
{
    size_t n = a->mv_size < b->mv_size ? a->mv_size : b->mv_size;
    int c = memcmp(a->mv_data, b->mv_data, n);
    if (c != 0)
        return c;
    return a->mv_size < b->mv_size ? -1 : a->mv_size > b->mv_size ? 1 : 0;
}

/* The row of case id rendered from the case itself (its row waits in
 * rp_dirty: missing or older); a case not (or no longer) stored has none. */
static int form_fresh_row(gw_store *s, MDB_txn *txn, const char *id, hcpd_monthly *f)
{
    hcp_case c;
    int rc = gws_case_get(s, txn, id, true, &c);
    if (rc == HCP_OK)
        rc = hcpd_monthly_add(f, &c);
    hcp_case_clear(&c);
    return rc == HCP_ENOTFOUND ? HCP_OK : rc;
}

/* Add the rows of county's cases received in y-m to the form: a prefix scan
 * of the rows kept beside the cases (gw_report_case), the personal part of
 * each unsealed, merged in key order with the scan of the cases whose row
 * waits for the drain (rp_dirty), each of those rendered from its case. */
static int form_county(gw_store *s, MDB_txn *txn, const char *county, hcpd_monthly *f,
                       hcp_buf *plain, hcp_buf *aad)
{
    char prefix[24];
    int n = snprintf(prefix, sizeof(prefix), "%s-%04d%02d", county, f->year, f->month);
    if (n <= 0 || (size_t)n >= sizeof(prefix))
        return HCP_ERANGE;
    size_t plen = (size_t)n;
    rp_scan row = {0}, dirty = {0};
    int rc = gws_err(mdb_cursor_open(txn, s->rp_form, &row.cur));
    if (rc == HCP_OK)
        rc = gws_err(mdb_cursor_open(txn, s->rp_dirty, &dirty.cur));
    if (rc == HCP_OK)
        rc = scan_step(&row, prefix, plen, MDB_SET_RANGE);
    if (rc == HCP_OK)
        rc = scan_step(&dirty, prefix, plen, MDB_SET_RANGE);
    while (rc == HCP_OK && (row.on || dirty.on)) {
        int c = !row.on ? 1 : !dirty.on ? -1 : key_cmp(&row.k, &dirty.k);
        const MDB_val *k = c < 0 ? &row.k : &dirty.k;
        char id[HCP_CASE_ID_MAX];
        memcpy(id, k->mv_data, k->mv_size); /* < HCP_CASE_ID_MAX: scan_step */
        id[k->mv_size] = '\0';
        if (c < 0) {
            rc = form_row(s, id, &row.v, f, plain, aad);
        } else {
            rc = form_fresh_row(s, txn, id, f);
            if (rc == HCP_OK && c == 0) /* its kept row is older: passed over */
                rc = scan_step(&row, prefix, plen, MDB_NEXT);
        }
        if (rc == HCP_OK)
            rc = scan_step(c < 0 ? &row : &dirty, prefix, plen, MDB_NEXT);
    }
    if (row.cur != NULL)
        mdb_cursor_close(row.cur);
    if (dirty.cur != NULL)
        mdb_cursor_close(dirty.cur);
    return rc;
}

/* Every row of the form's prefecture and month, county by county in code
 * order (the divisions' order). */
static int form_scan(gw_store *s, MDB_txn *txn, hcpd_monthly *form)
{
    size_t ndiv = 0;
    const hcp_division *divs = hcp_divisions(&ndiv);
    hcp_buf plain, aad;
    hcp_buf_init(&plain, RP_ROW_MAX);
    hcp_buf_init(&aad, RP_ROW_MAX + 3 + HCP_CASE_ID_MAX);
    int rc = HCP_OK;
    for (size_t i = 0; rc == HCP_OK && i < ndiv; i++)
        if (strcmp(divs[i].prefecture, form->region_code) == 0)
            rc = form_county(s, txn, divs[i].code, form, &plain, &aad);
    hcp_buf_free(&plain);
    hcp_buf_free(&aad);
    return rc;
}

/* Make room for n more bytes in b at once (a form's size is known before
 * it is copied: one allocation instead of a doubling series). */
static int buf_reserve(hcp_buf *b, size_t n)
{
    if (n > b->max || b->len > b->max - n)
        return HCP_ERANGE;
    if (b->len + n <= b->cap)
        return HCP_OK;
    uint8_t *d = realloc(b->data, b->len + n);
    if (d == NULL)
        return HCP_ENOMEM;
    b->data = d;
    b->cap = b->len + n;
    return HCP_OK;
}

/* The whole form in format f around the kept bytes part[0..len): the rows
 * (JSON, CSV) wrapped in form's header and footer, or the workbook. */
static int form_wrap(const hcpd_monthly *form, hcpd_mformat f, const void *part, size_t len,
                     hcp_buf *out)
{
    int rc = buf_reserve(out, len + 8192); /* + the header and footer lines */
    if (rc != HCP_OK)
        return rc;
    if (f == HCPD_MF_JSON)
        return hcpd_monthly_json_wrap(form, part, len, out);
    if (f == HCPD_MF_CSV)
        return hcpd_monthly_csv_wrap(form, part, len, out);
    return hcp_buf_append(out, part, len);
}

/* The header lines a workbook was written with (its cache key beside the
 * version): a new string, NULL when out of memory. */
static char *xlsx_key(const hcpd_monthly *form)
{
    size_t n = strlen(form->filled_on) + strlen(form->filler) + strlen(form->filler_phone) +
               strlen(form->region) + 8;
    char *k = malloc(n);
    if (k != NULL)
        snprintf(k, n, "%s\x1f%s\x1f%s\x1f%s", form->filled_on, form->filler, form->filler_phone,
                 form->region);
    return k;
}

/* Whether entry e is the form of vkey in f with header key xkey, deflated
 * or not (gz). */
static bool entry_is(const rp_entry *e, const uint8_t *vkey, hcpd_mformat f, const char *xkey,
                     bool gz)
{
    return e->used && e->f == f && e->gz == gz && memcmp(e->vkey, vkey, RP_VER_KEY) == 0 &&
           (xkey == NULL) == (e->xkey == NULL) && (xkey == NULL || strcmp(xkey, e->xkey) == 0);
}

/* The form from the cache into out when it holds vkey/f/xkey/gz at version
 * ver: *hit, *rows. The copy is made under the lock (the entry may be
 * replaced as soon as it is released). */
static int cache_get(struct gw_rp *rp, const uint8_t *vkey, hcpd_mformat f, uint64_t ver,
                     const char *xkey, bool gz, const hcpd_monthly *form, hcp_buf *out,
                     size_t *rows, bool *hit)
{
    *hit = false;
    if (rp == NULL || rp->cap == 0)
        return HCP_OK;
    if (pthread_mutex_lock(&rp->mu) != 0)
        return HCP_OK; /* not fatal: read the rows */
    int rc = HCP_OK;
    for (int i = 0; i < RP_CACHE_SLOTS; i++) {
        rp_entry *e = &rp->e[i];
        if (!entry_is(e, vkey, f, xkey, gz) || e->ver != ver)
            continue;
        size_t start = out->len;
        if (gz) {
            hcpd_gz part = {e->data, e->len, e->crc, e->raw};
            rc = hcpd_monthly_gzip_wrap(form, f, &part, out);
        } else
            rc = form_wrap(form, f, e->data, e->len, out);
        if (rc == HCP_OK) {
            *hit = true;
            *rows = e->rows;
            e->tick = ++rp->tick;
        } else {
            out->len = start;
        }
        break;
    }
    (void)pthread_mutex_unlock(&rp->mu); /* locked above by this thread */
    return rc;
}

/* Keep data[0..len) (taken: freed here if not kept) and xkey (taken) as
 * the form of vkey/f at version ver with `rows` rows; gz: data is the rows
 * deflated (crc, raw theirs). Older versions of it go, then the least
 * recently used entries until it fits. */
static void cache_put(struct gw_rp *rp, const uint8_t *vkey, hcpd_mformat f, uint64_t ver,
                      char *xkey, const hcpd_gz *gz, uint8_t *data, size_t len, size_t rows)
{
    if (rp == NULL || rp->cap == 0 || len > rp->cap || pthread_mutex_lock(&rp->mu) != 0) {
        free(xkey);
        free(data);
        return;
    }
    bool newer = false;
    for (int i = 0; i < RP_CACHE_SLOTS; i++) {
        rp_entry *e = &rp->e[i];
        if (e->used && e->f == f && memcmp(e->vkey, vkey, RP_VER_KEY) == 0) {
            if (e->ver > ver)
                newer = true; /* another download read a later version */
            else if (e->ver < ver || entry_is(e, vkey, f, xkey, gz != NULL))
                entry_drop(rp, e);
        }
    }
    rp_entry *slot = NULL;
    while (!newer) {
        rp_entry *lru = NULL;
        slot = NULL;
        for (int i = 0; i < RP_CACHE_SLOTS; i++) {
            rp_entry *e = &rp->e[i];
            if (!e->used && slot == NULL)
                slot = e;
            if (e->used && (lru == NULL || e->tick < lru->tick))
                lru = e;
        }
        if (slot != NULL && rp->total + len <= rp->cap)
            break;
        if (lru == NULL) { /* nothing left to evict (cannot happen: len <= cap) */
            slot = NULL;
            break;
        }
        entry_drop(rp, lru);
    }
    if (slot != NULL && !newer) {
        memcpy(slot->vkey, vkey, RP_VER_KEY);
        slot->used = true;
        slot->f = f;
        slot->ver = ver;
        slot->xkey = xkey;
        slot->gz = gz != NULL;
        slot->crc = gz != NULL ? gz->crc : 0;
        slot->raw = gz != NULL ? gz->raw : 0;
        slot->data = data;
        slot->len = len;
        slot->rows = rows;
        slot->tick = ++rp->tick;
        rp->total += len;
        xkey = NULL;
        data = NULL;
    }
    (void)pthread_mutex_unlock(&rp->mu); /* locked above by this thread */
    free(xkey);
    free(data);
}

int gw_report_form(gw_store *s, MDB_txn *txn, hcpd_monthly *form, hcpd_mformat f, bool gz,
                   hcp_buf *out, size_t *rows, bool *cached)
{
    if (s == NULL || txn == NULL || form == NULL || out == NULL || rows == NULL || cached == NULL ||
        form->n != 0 || strlen(form->region_code) != HCP_COUNTY_LEN || f < HCPD_MF_JSON ||
        f > HCPD_MF_XLSX || (gz && f == HCPD_MF_XLSX))
        return HCP_EINVAL;
    *rows = 0;
    *cached = false;
    uint8_t vkey[RP_VER_KEY];
    ver_key(vkey, form->region_code, form->year, form->month);
    uint64_t ver;
    int rc = ver_get(s, txn, vkey, &ver);
    char *xkey = NULL;
    if (rc == HCP_OK && f == HCPD_MF_XLSX && (xkey = xlsx_key(form)) == NULL)
        rc = HCP_ENOMEM;
    if (rc == HCP_OK)
        rc = cache_get(s->rp, vkey, f, ver, xkey, gz, form, out, rows, cached);
    if (rc != HCP_OK || *cached) {
        free(xkey);
        return rc;
    }
    rc = form_scan(s, txn, form); /* not kept (or of an older version): the rows */
    hcp_buf part;
    hcp_buf_init(&part, out->max);
    hcpd_gz zpart = {NULL, 0, 0, 0};
    if (rc == HCP_OK && form->n > 0) {
        if (f == HCPD_MF_JSON)
            rc = hcpd_monthly_json_rows(form, &part);
        else if (f == HCPD_MF_CSV)
            rc = hcpd_monthly_csv_rows(form, &part);
        else
            rc = hcpd_monthly_xlsx(form, &part);
        if (rc == HCP_OK && gz) /* deflated once, kept so: later downloads send it as it is */
            rc = hcpd_gz_part(part.data, part.len, &zpart);
        size_t start = out->len;
        if (rc == HCP_OK)
            rc = gz ? hcpd_monthly_gzip_wrap(form, f, &zpart, out)
                    : form_wrap(form, f, part.data, part.len, out);
        if (rc == HCP_OK) {
            *rows = form->n;
            if (gz) {
                cache_put(s->rp, vkey, f, ver, NULL, &zpart, zpart.data, zpart.len, form->n);
                zpart.data = NULL; /* taken */
            }
            cache_put(s->rp, vkey, f, ver, xkey, NULL, part.data, part.len, form->n);
            xkey = NULL;
            part.data = NULL; /* taken */
            part.len = part.cap = 0;
        } else {
            out->len = start;
        }
    }
    hcpd_gz_free(&zpart);
    hcp_buf_free(&part);
    free(xkey);
    return rc;
}

/* Write the access-log entry of r's account reading the prefecture's form
 * of y-m, committed before the reply (as GET /v1/cases/ID does, api.c). */
static int form_logged(gw *g, hcpd_req *r, const char *pref, int y, int m)
{
    if (pthread_rwlock_rdlock(&g->store->db.resize) != 0) /* EAGAIN: too many readers */
        return HCP_EBUSY;
    MDB_txn *txn;
    int rc = gws_err(mdb_txn_begin(g->store->db.env, NULL, 0, &txn));
    if (rc == HCP_OK) {
        char what[48];
        snprintf(what, sizeof(what), "monthly:%s:%04d-%02d", pref, y, m);
        rc = hcpd_access_put(txn, g->acct.access, (hcp_time)time(NULL), hcpd_req_account(r), what);
        if (rc == HCP_OK)
            rc = gws_err(mdb_txn_commit(txn)); /* durability point of the log entry */
        else
            mdb_txn_abort(txn);
    }
    (void)pthread_rwlock_unlock(&g->store->db.resize); /* held by this thread: cannot fail */
    return rc;
}

/* The prefecture's name: that of any of its divisions. */
static const char *prefecture_name(const char *pref)
{
    size_t ndiv = 0;
    const hcp_division *divs = hcp_divisions(&ndiv);
    for (size_t i = 0; i < ndiv; i++)
        if (strcmp(divs[i].prefecture, pref) == 0 && divs[i].prefecture_name != NULL)
            return divs[i].prefecture_name;
    return pref;
}

#define FORM_MAX  (512u << 20) /* bytes of one form (34,103 rows are 23 MB of JSON) */
#define SPARE_MAX (64u << 20)  /* the largest answer buffer kept for the next download */

/* An answer's buffer: the one the last download left (so the next one
 * writes into pages already mapped instead of having tens of megabytes of
 * fresh pages zeroed by the kernel), or a new one. */
static void buf_take(struct gw_rp *rp, hcp_buf *out)
{
    hcp_buf_init(out, FORM_MAX);
    if (rp == NULL || rp->cap == 0 || pthread_mutex_lock(&rp->mu) != 0)
        return;
    if (rp->spare.data != NULL) {
        *out = rp->spare;
        out->len = 0;
        hcp_buf_init(&rp->spare, FORM_MAX);
    }
    (void)pthread_mutex_unlock(&rp->mu); /* locked above by this thread */
}

/* Give the answer's buffer back: kept when none is and it is not too big
 * (its bytes are wiped first: they held personal data), freed otherwise. */
static void buf_give(struct gw_rp *rp, hcp_buf *out)
{
    if (rp != NULL && rp->cap != 0 && out->cap <= SPARE_MAX && out->data != NULL &&
        pthread_mutex_lock(&rp->mu) == 0) {
        bool kept = rp->spare.data == NULL;
        if (kept) {
            memset(out->data, 0, out->len);
            rp->spare = *out;
            rp->spare.len = 0;
        }
        (void)pthread_mutex_unlock(&rp->mu); /* locked above by this thread */
        if (kept)
            return;
    }
    hcp_buf_free(out);
}

/* An answer's buffer lent to the HTTP layer (hcpd_req_reply_lent) until
 * the form is written out, then given back (wiped) for the next download. */
typedef struct rp_lent {
    struct gw_rp *rp;
    hcp_buf buf;
} rp_lent;

static void lent_done(void *ctx)
{
    rp_lent *l = ctx;
    buf_give(l->rp, &l->buf);
    free(l);
}

/* GET /v1/reports/monthly?month=&prefecture=&format=&phone= : the form read
 * in one snapshot (rows or the cache at their version), then the read
 * logged and committed, then the answer. A month without cases read
 * nothing personal and logs nothing. */
static void get_monthly(gw *g, hcpd_req *r)
{
    static const char *const keys[] = {"month", "prefecture", "format", "phone", NULL};
    char pref[HCP_COUNTY_LEN + 1], fmt[16] = "", phone[64] = "";
    int y, m;
    hcpd_mformat f;
    if (!hcpd_acct_require(r, HCPD_ROLE_SUPERVISOR, "supervisor") ||
        !hcpd_req_params_ok(r, keys, 64) || !month_param(r, &y, &m) ||
        !code_param(r, "prefecture", prefecture_known, pref))
        return;
    if (pref[0] == '\0') {
        hcpd_req_reply_error(r, 400, "invalid_query", "prefecture: required (e.g. 630100)");
        return;
    }
    if (hcpd_req_query_get(r, "format", fmt, sizeof(fmt)) == HCPD_Q_BAD ||
        !hcpd_monthly_format_parse(fmt, &f)) {
        hcpd_req_reply_error(r, 400, "invalid_query", "format: expected json, csv or xlsx");
        return;
    }
    if (hcpd_req_query_get(r, "phone", phone, sizeof(phone)) == HCPD_Q_BAD ||
        !hcpd_monthly_phone_ok(phone)) {
        hcpd_req_reply_error(r, 400, "invalid_query", "phone: digits, spaces, + - ( ) only");
        return;
    }
    if (g->store->rp != NULL && g->store->rp->rows_off) {
        hcpd_req_reply_error(r, 503, "form_off", "the gateway runs with HCP_GW_FORM_ROWS=off");
        return;
    }
    /* JSON and CSV gzipped for a client that accepts it (XLSX is a zip already) */
    bool gz = f != HCPD_MF_XLSX && hcpd_accepts_gzip(hcpd_req_header(r, "Accept-Encoding"));
    hcpd_monthly form;
    hcp_buf out;
    buf_take(g->store->rp, &out);
    size_t rows = 0;
    bool cached = false;
    rp_lent *lent = NULL;
    int rc = hcpd_monthly_init(&form, y, m, pref, prefecture_name(pref), (hcp_time)time(NULL),
                               hcpd_req_account(r), phone, true);
    MDB_txn *txn = NULL;
    if (rc == HCP_OK)
        rc = gws_read_begin(g->store, &txn);
    if (rc == HCP_OK) {
        rc = gw_report_form(g->store, txn, &form, f, gz, &out, &rows, &cached);
        gws_read_end(g->store, txn);
    }
    if (rc == HCP_OK && rows > 0)
        rc = form_logged(g, r, pref, y, m);
    char stem[64];
    snprintf(stem, sizeof(stem), "hcp-monthly-%s-%04d-%02d", pref, y, m);
    if (rc == HCP_ERANGE || rc == HCP_EIO || rc == HCP_ECRYPTO)
        hcpd_req_reply_error(r, 500, "form_failed", hcp_strerror(rc));
    else if (rc != HCP_OK)
        reply_read_err(r, rc);
    else if (rows == 0) /* 无差评、投诉无须填报 */
        hcpd_req_reply_raw(r, 204, "text/plain; charset=utf-8", "", 0);
    else if ((lent = malloc(sizeof(*lent))) != NULL) { /* the bytes go out as they are */
        lent->rp = g->store->rp;
        lent->buf = out;
        hcpd_monthly_reply_lent(r, f, stem, lent->buf.data, lent->buf.len, gz, lent_done, lent);
        hcpd_monthly_free(&form);
        return;
    } else
        hcpd_monthly_reply_body(r, f, stem, out.data, out.len, gz);
    buf_give(g->store->rp, &out);
    hcpd_monthly_free(&form);
}

bool gw_report_is_route(const char *path)
{
    return strcmp(path, "/v1/reports/monthly") == 0 || strcmp(path, "/v1/contacts") == 0;
}

void gw_report_route(void *arg, hcpd_req *r)
{
    gw *g = arg;
    const char *m = hcpd_req_method(r), *p = hcpd_req_path(r);
    if (strcmp(m, "GET") != 0 && strcmp(m, "HEAD") != 0)
        hcpd_req_reply_error(r, 405, "method_not_allowed", "this route does not take that method");
    else if (strcmp(p, "/v1/contacts") == 0)
        get_contacts(g, r);
    else
        get_monthly(g, r);
}
