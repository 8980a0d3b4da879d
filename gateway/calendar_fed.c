/*
 * calendar_fed.c — the federation calendar at the gateway (gwcalendar.h,
 * docs/calendar.md "The federation calendar"): the version in force in the
 * store's meta, the province log's hook, the start-up check against the
 * seed, the writer's and the timer's check for a version another process
 * published, and `hcp-gateway calendar show|publish`.
 */
#include "gwcalendar.h"
#include "plog.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "be.h"
#include "record.h"
#include "rules.h"
#include "stats.h"

#define WATCH_MS 1000

int gw_calendar_stored(gw_store *s, MDB_txn *txn, hcp_calver *out)
{
    if (s == NULL || txn == NULL || out == NULL)
        return HCP_EINVAL;
    MDB_val k = {strlen(HCP_CALVER_KEY), (void *)HCP_CALVER_KEY}, v;
    int rc = gws_err(mdb_get(txn, s->meta, &k, &v));
    if (rc != HCP_OK)
        return rc;
    return hcp_calver_decode(v.mv_data, v.mv_size, out);
}

/* The stored version alone (0 when none is stored). */
static int stored_version(gw_store *s, MDB_txn *txn, uint32_t *version)
{
    MDB_val k = {strlen(GW_CALVER_VKEY), (void *)GW_CALVER_VKEY}, v;
    int mrc = mdb_get(txn, s->meta, &k, &v);
    *version = 0;
    if (mrc == MDB_NOTFOUND)
        return HCP_OK;
    if (mrc != MDB_SUCCESS)
        return gws_err(mrc);
    if (v.mv_size != 4)
        return HCP_EFORMAT;
    const uint8_t *p = v.mv_data;
    *version = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
    return HCP_OK;
}

/* Store {version, tsv} and the version key. */
static int calendar_put(gw_store *s, MDB_txn *txn, uint32_t version, const char *tsv, size_t len)
{
    hcp_buf b;
    hcp_buf_init(&b, HCP_CALVER_ENCMAX);
    int rc = hcp_calver_encode(version, tsv, len, &b);
    if (rc == HCP_OK) {
        MDB_val k = {strlen(HCP_CALVER_KEY), (void *)HCP_CALVER_KEY}, v = {b.len, b.data};
        rc = gws_err(mdb_put(txn, s->meta, &k, &v, 0));
    }
    if (rc == HCP_OK) {
        uint8_t vb[4] = {(uint8_t)(version >> 24), (uint8_t)(version >> 16),
                         (uint8_t)(version >> 8), (uint8_t)version};
        MDB_val k = {strlen(GW_CALVER_VKEY), (void *)GW_CALVER_VKEY}, v = {sizeof(vb), vb};
        rc = gws_err(mdb_put(txn, s->meta, &k, &v, 0));
    }
    hcp_buf_free(&b);
    return rc;
}

/* The ids of the cases to visit (every case with all, else the open
 * ones), collected first so the writes below do not move a cursor. */
typedef struct id_list {
    char (*ids)[HCP_CASE_ID_MAX];
    size_t n, cap;
} id_list;

static int ids_add(id_list *l, const char *id, size_t len)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 256;
        void *p = realloc(l->ids, cap * sizeof(*l->ids));
        if (p == NULL)
            return HCP_ENOMEM;
        l->ids = p;
        l->cap = cap;
    }
    memcpy(l->ids[l->n], id, len);
    l->ids[l->n++][len] = '\0';
    return HCP_OK;
}

static int collect(gw_store *s, MDB_txn *txn, bool all, id_list *l)
{
    MDB_cursor *cur;
    int rc = gws_err(mdb_cursor_open(txn, s->cases, &cur));
    if (rc != HCP_OK)
        return rc;
    MDB_val k, v;
    int mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    for (; rc == HCP_OK && mrc == MDB_SUCCESS; mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        char id[HCP_CASE_ID_MAX];
        if (!gws_case_key_id(&k, id))
            continue;
        hcp_case c;
        bool want = all;
        if (!want &&
            hcp_stored_case_unpack(s->sealer, id, v.mv_data, v.mv_size, false, &c) == HCP_OK)
            want = hcp_case_deadlines_open(&c);
        if (!all)
            hcp_case_clear(&c);
        if (want)
            rc = ids_add(l, id, k.mv_size);
    }
    mdb_cursor_close(cur);
    if (rc == HCP_OK && mrc != MDB_NOTFOUND)
        rc = gws_err(mrc);
    return rc;
}

#define RECOUNT_PROGRESS_S 5 /* calendar.recount_progress at most this often */

/* Recount one case (if open) and rewrite what changed. */
static int recount_one(gw_store *s, MDB_txn *txn, const char *id, const hcp_cal *cal, hcp_time now,
                       bool all_feed, gw_calendar_recount *r)
{
    hcp_case c;
    int rc = gws_case_get(s, txn, id, true, &c);
    bool changed = false, open = rc == HCP_OK && hcp_case_deadlines_open(&c);
    hcp_case before = c; /* its scalars, for the figures (stats.h); pointers shared, not freed */
    if (open)
        rc = hcp_calver_recount(&c, cal, &changed);
    if (rc == HCP_OK && changed)
        rc = gws_case_put(s, txn, &c);
    if (rc == HCP_OK && changed) /* moved deadlines move the figures' deadline facts */
        rc = gw_stats_case(s, txn, &before, &c);
    if (rc == HCP_OK && (changed || all_feed)) { /* same key: last_at does not move */
        rc = gws_feed_update(s, txn, c.last_at, &c, now);
        r->feed += rc == HCP_OK;
    }
    if (rc == HCP_OK && open) {
        r->open++;
        r->changed += changed;
        r->provisional += hcp_case_provisional(&c);
    }
    hcp_case_clear(&c);
    return rc;
}

int gw_calendar_recount_all(gw_store *s, MDB_txn *txn, const hcp_cal *cal, hcp_time now,
                            bool all_feed, gw_calendar_recount *r)
{
    gw_calendar_recount local = {0};
    if (s == NULL || txn == NULL || cal == NULL)
        return HCP_EINVAL;
    id_list l = {0};
    int rc = collect(s, txn, all_feed, &l);
    /* a store's first start with a calendar rewrites every feed entry: about
     * a minute a million cases, before the gateway answers; say how far */
    time_t said = time(NULL);
    for (size_t i = 0; rc == HCP_OK && i < l.n; i++) {
        rc = recount_one(s, txn, l.ids[i], cal, now, all_feed, &local);
        time_t t = (i & 1023) == 1023 ? time(NULL) : said;
        if (t - said >= RECOUNT_PROGRESS_S) {
            said = t;
            gw_log("info", "calendar.recount_progress", "done=%zu of=%zu", i + 1, l.n);
        }
    }
    free(l.ids);
    if (rc == HCP_OK && r != NULL)
        *r = local;
    return rc;
}

/* Say what a recount did. */
static void recount_log(uint32_t version, const gw_calendar_recount *r)
{
    gw_log(r->provisional > 0 ? "warn" : "info", "calendar.recount",
           "version=%u open=%zu recounted=%zu still_provisional=%zu feed=%zu detail=\"%s\"",
           version, r->open, r->changed, r->provisional, r->feed,
           r->provisional > 0 ? "deadlines past the calendar's years stay provisional until the "
                                "next year's calendar is published"
                              : "open deadlines counted with this calendar");
}

/* g->cal becomes cal (owned from now on). */
static void swap_in(gw *g, hcp_cal *cal)
{
    hcp_cal_free(g->cal);
    g->cal = cal;
}

/* Version 0 (HCP_CALSTART_SEED): store the seed and recount; commit.
 * *seed passes to g->cal when stored; have: a seed was stored before. */
static int start_seed(gw *g, MDB_txn *txn, hcp_cal **seed, const char *text, size_t len, bool have)
{
    gw_store *s = g->store;
    gw_calendar_recount r = {0};
    int rc = calendar_put(s, txn, 0, text, len);
    if (rc == HCP_OK) /* a store without one predates the feed's deadline fields too */
        rc = gw_calendar_recount_all(s, txn, *seed, (hcp_time)time(NULL), !have, &r);
    if (rc == HCP_OK)
        rc = gws_err(mdb_txn_commit(txn));
    else
        mdb_txn_abort(txn);
    if (rc != HCP_OK)
        return rc;
    if (have || r.changed > 0)
        recount_log(0, &r);
    swap_in(g, *seed);
    *seed = NULL;
    return HCP_OK;
}

/* Decide with the store's calendar (hcp_calver_start, shared with the
 * node) and act: keep, store the seed, or put the published version in
 * force (a --calendar that counts differently is refused). Takes txn. */
static int start_decide(gw *g, gw_calendar *gc, MDB_txn *txn, hcp_cal **seed, const char *text,
                        size_t len, char *err, size_t errlen)
{
    hcp_calver cur;
    int have = gw_calendar_stored(g->store, txn, &cur);
    if (have != HCP_OK && have != HCP_ENOTFOUND) {
        mdb_txn_abort(txn);
        snprintf(err, errlen, "the stored calendar cannot be read: %s", hcp_strerror(have));
        return have;
    }
    enum hcp_calver_start d = HCP_CALSTART_KEEP;
    hcp_cal *fed = NULL;
    char perr[128] = "";
    uint32_t version = have == HCP_OK ? cur.version : 0;
    int rc = hcp_calver_start(have == HCP_OK ? &cur : NULL, *seed, g->cfg.calendar[0] != '\0', &d,
                              &fed, perr, sizeof(perr));
    if (rc == HCP_OK && d == HCP_CALSTART_SEED) {
        rc = start_seed(g, txn, seed, text, len, have == HCP_OK);
        if (rc != HCP_OK)
            snprintf(err, errlen, "cannot store the calendar: %s", hcp_strerror(rc));
        return rc;
    }
    mdb_txn_abort(txn); /* cur borrowed from it: not used below */
    if (rc == HCP_EVERSION)
        snprintf(err, errlen,
                 "--calendar %s differs from the federation calendar version %u published in "
                 "%s; publish a new calendar with `hcp-gateway calendar publish --data %s FILE`, "
                 "and start without --calendar (version %u is used) or with the same file",
                 g->cfg.calendar, version, g->cfg.data, g->cfg.data, version);
    else if (rc != HCP_OK)
        snprintf(err, errlen, "the stored federation calendar (version %u) does not parse: %s",
                 version, perr);
    if (rc != HCP_OK || d != HCP_CALSTART_FEDERATION)
        return rc;
    gc->version = version;
    swap_in(g, fed);
    int first = 0, last = 0;
    hcp_cal_years(fed, &first, &last);
    gw_log("info", "calendar.federation", "version=%u first=%d last=%d", version, first, last);
    return HCP_OK;
}

int gw_calendar_start(gw *g, gw_calendar **out, char *err, size_t errlen)
{
    if (g == NULL || g->store == NULL || out == NULL || err == NULL || errlen == 0)
        return HCP_EINVAL;
    err[0] = '\0';
    gw_calendar *gc = calloc(1, sizeof(*gc));
    char *text = NULL, perr[128] = "";
    size_t len = 0;
    hcp_cal *seed = NULL;
    int rc = gc == NULL ? HCP_ENOMEM
                        : hcp_calver_seed(g->cfg.calendar, &text, &len, &seed, perr, sizeof(perr));
    if (rc != HCP_OK) {
        snprintf(err, errlen, "calendar %s: %s %s",
                 g->cfg.calendar[0] ? g->cfg.calendar : "(compiled in)", hcp_strerror(rc), perr);
        free(gc);
        return rc;
    }
    gc->g = g;
    MDB_txn *txn = NULL;
    rc = gws_err(mdb_txn_begin(g->store->db.env, NULL, 0, &txn));
    if (rc == HCP_OK)
        rc = start_decide(g, gc, txn, &seed, text, len, err, errlen);
    else
        snprintf(err, errlen, "cannot begin a transaction: %s", hcp_strerror(rc));
    hcp_cal_free(seed);
    free(text);
    if (rc != HCP_OK) {
        free(gc);
        return rc;
    }
    *out = gc;
    return HCP_OK;
}

void gw_calendar_free(gw_calendar *gc)
{
    if (gc == NULL)
        return;
    hcp_cal_free(gc->pending);
    free(gc);
}

int gw_calendar_apply(void *arg, gw_store *s, MDB_txn *txn, uint64_t seq, const char *type,
                      const void *body_mp, size_t body_len)
{
    gw_calendar *gc = arg;
    if (gc == NULL || s == NULL || txn == NULL || body_mp == NULL ||
        (type != NULL && strcmp(type, "calendar") != 0))
        return HCP_EINVAL;
    gc->why[0] = '\0';
    hcp_calver v;
    if (hcp_calver_decode(body_mp, body_len, &v) != HCP_OK) {
        snprintf(gc->why, sizeof(gc->why), "bad_body: want {version, tsv}");
        return HCP_ERULE;
    }
    uint32_t in_force = 0;
    int rc = stored_version(s, txn, &in_force);
    if (rc != HCP_OK)
        return rc;
    if (v.version <= in_force) {
        snprintf(gc->why, sizeof(gc->why), "stale_version: version %u is not newer than %u",
                 v.version, in_force);
        return HCP_ERULE;
    }
    hcp_cal *cal = NULL;
    char perr[128] = "";
    rc = hcp_cal_parse(v.tsv, v.tsv_len, &cal, perr, sizeof(perr));
    if (rc == HCP_ENOMEM)
        return rc;
    if (rc != HCP_OK) {
        snprintf(gc->why, sizeof(gc->why), "bad_calendar: %s", perr[0] ? perr : hcp_strerror(rc));
        return HCP_ERULE;
    }
    gw_calendar_recount r = {0};
    rc = calendar_put(s, txn, v.version, v.tsv, v.tsv_len);
    if (rc == HCP_OK)
        rc = gw_calendar_recount_all(s, txn, cal, (hcp_time)time(NULL), false, &r);
    if (rc != HCP_OK) {
        hcp_cal_free(cal);
        return rc;
    }
    hcp_cal_free(gc->pending);
    gc->pending = cal;
    gc->pending_version = v.version;
    gc->pending_seq = seq;
    recount_log(v.version, &r);
    return HCP_OK;
}

void gw_calendar_after(void *arg, uint64_t seq)
{
    gw_calendar *gc = arg;
    if (gc == NULL || gc->pending == NULL || gc->pending_seq != seq)
        return;
    if (gc->g != NULL)
        swap_in(gc->g, gc->pending);
    else
        hcp_cal_free(gc->pending);
    gc->pending = NULL;
    gc->version = gc->pending_version;
    gw_log("info", "calendar.applied", "version=%u seq=%llu", gc->version, (unsigned long long)seq);
}

/* Load the stored version into g->cal when it is not the one in memory. */
static int follow(gw_calendar *gc, MDB_txn *txn, bool *moved)
{
    uint32_t v = 0;
    *moved = false;
    int rc = stored_version(gc->g->store, txn, &v);
    if (rc != HCP_OK || v == gc->version)
        return rc;
    hcp_calver cv;
    hcp_cal *cal = NULL;
    rc = gw_calendar_stored(gc->g->store, txn, &cv);
    if (rc == HCP_OK && (rc = hcp_cal_parse(cv.tsv, cv.tsv_len, &cal, NULL, 0)) == HCP_OK) {
        swap_in(gc->g, cal);
        gc->version = cv.version;
        *moved = true;
        gw_log("info", "calendar.followed", "version=%u detail=\"published by another process\"",
               cv.version);
        return HCP_OK;
    }
    gw_log("error", "calendar.unreadable", "version=%u reason=\"%s\"", v, hcp_strerror(rc));
    gc->version = v; /* said once; the calendar in memory stays */
    return rc == HCP_ENOMEM ? rc : HCP_OK;
}

int gw_calendar_sync(gw_calendar *gc, MDB_txn *txn)
{
    if (gc == NULL || gc->g == NULL || txn == NULL)
        return HCP_OK;
    bool moved = false;
    int rc = follow(gc, txn, &moved);
    if (rc == HCP_OK && moved)
        gc->g->store->feed_dirty = true; /* the publisher changed entries: drop rendered pages */
    return rc;
}

/* Once a second: a read transaction, and the feed told if the version moved. */
static void on_watch(uv_timer_t *t)
{
    gw_calendar *gc = t->data;
    MDB_txn *txn;
    if (gws_read_begin(gc->g->store, &txn) != HCP_OK)
        return; /* tried again at the next tick */
    bool moved = false;
    (void)follow(gc, txn, &moved); /* logged there; the writer checks again */
    gws_read_end(gc->g->store, txn);
    if (moved)
        gws_feed_changed(gc->g->store, (hcp_time)time(NULL));
}

int gw_calendar_watch_start(gw_calendar *gc)
{
    if (gc == NULL || gc->g == NULL || gc->g->loop == NULL)
        return HCP_EINVAL;
    gc->watch.data = gc;
    if (uv_timer_init(gc->g->loop, &gc->watch) != 0)
        return HCP_EIO;
    gc->watching = true;
    if (uv_timer_start(&gc->watch, on_watch, WATCH_MS, WATCH_MS) != 0) {
        gw_log("warn", "calendar.watch_off", "detail=\"a publish shows at the next batch\"");
        return HCP_EIO;
    }
    return HCP_OK;
}

static void on_watch_closed(uv_handle_t *h)
{
    (void)h;
}

void gw_calendar_watch_stop(gw_calendar *gc)
{
    if (gc == NULL || !gc->watching)
        return;
    (void)uv_timer_stop(&gc->watch); /* always 0 (libuv) */
    uv_close((uv_handle_t *)&gc->watch, on_watch_closed);
    gc->watching = false;
}

/* ---- hcp-gateway calendar show|publish ---- */

#define CAL_USAGE                                                                                  \
    "usage: hcp-gateway calendar show --data DIR\n"                                                \
    "       hcp-gateway calendar publish --data DIR [--seal-key-file F] FILE\n"                    \
    "  show: the federation calendar in force (version, years, days)\n"                            \
    "  publish: check FILE (docs/calendar.md), store it as the next version, recount\n"            \
    "           every open case's deadlines and print the new version\n"

typedef struct cal_args {
    const char *data, *seal_key, *file;
} cal_args;

/* Parse the flags after the verb; 0, or 2 after printing the usage. */
static int cal_parse(int argc, char **argv, cal_args *a, bool publish)
{
    static const struct option opts[] = {{"data", required_argument, NULL, 'd'},
                                         {"seal-key-file", required_argument, NULL, 'k'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    memset(a, 0, sizeof(*a));
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'd')
            a->data = optarg;
        else if (c == 'k')
            a->seal_key = optarg;
        else if (c == 'h') {
            fputs(CAL_USAGE, stdout);
            exit(0);
        } else
            break;
    }
    if (publish && optind == argc - 1)
        a->file = argv[optind++];
    if (c != -1 || optind != argc || a->data == NULL || (publish && a->file == NULL) ||
        (!publish && a->seal_key != NULL)) {
        fputs(CAL_USAGE, stderr);
        return 2;
    }
    return 0;
}

/* Open the store in a->data beside a running gateway (LMDB allows it). */
static int cal_open(gw *g, const cal_args *a, bool seal)
{
    if (snprintf(g->cfg.data, sizeof(g->cfg.data), "%s", a->data) >= (int)sizeof(g->cfg.data))
        return HCP_ERANGE;
    int rc = HCP_OK;
    if (seal)
        rc = hcpd_seal("hcp-gateway", a->seal_key ? a->seal_key : "", a->data, "data.mdb",
                       &g->sealer);
    if (rc == HCP_OK && (rc = gw_store_open(g)) != HCP_OK)
        fprintf(stderr, "hcp-gateway calendar: cannot open the store in %s: %s\n", a->data,
                hcp_strerror(rc));
    return rc;
}

static void cal_close(gw *g)
{
    gw_store_close(g);
    hcp_sealer_free(g->sealer);
    g->sealer = NULL;
}

static int cal_show(gw *g, const cal_args *a)
{
    int rc = cal_open(g, a, false);
    MDB_txn *txn;
    if (rc == HCP_OK && (rc = gws_read_begin(g->store, &txn)) == HCP_OK) {
        hcp_calver v;
        hcp_cal *cal = NULL;
        rc = gw_calendar_stored(g->store, txn, &v);
        if (rc == HCP_OK)
            rc = hcp_cal_parse(v.tsv, v.tsv_len, &cal, NULL, 0);
        int first = 0, last = 0;
        hcp_cal_years(cal, &first, &last);
        if (rc == HCP_OK)
            printf("version\t%u\nyears\t%d-%d\ndays\t%zu\nsource\t%s\n", v.version, first, last,
                   hcp_cal_days(cal), v.version == 0 ? "seed" : "published");
        else if (rc == HCP_ENOTFOUND)
            printf("version\t0\nsource\tnone stored (the seed is stored at the next start)\n");
        hcp_cal_free(cal);
        gws_read_end(g->store, txn);
        if (rc == HCP_ENOTFOUND)
            rc = HCP_OK;
    }
    cal_close(g);
    if (rc != HCP_OK)
        fprintf(stderr, "hcp-gateway calendar show: %s\n", hcp_strerror(rc));
    return rc == HCP_OK ? 0 : 1;
}

/* The next version in one write transaction: FILE must count differently
 * from the calendar in force. The entry goes into the province log
 * (docs/directives.md), whose hook for "calendar" applies it in the same
 * transaction; the running gateway delivers it to every county. */
static int cal_publish_txn(gw *g, gw_calendar *gc, const char *text, size_t len, const hcp_cal *cal,
                           uint32_t *version, uint64_t *seq)
{
    MDB_txn *txn;
    hcp_calver cur;
    hcp_buf body;
    hcp_buf_init(&body, HCP_CALVER_ENCMAX);
    int rc = gws_err(mdb_txn_begin(g->store->db.env, NULL, 0, &txn));
    if (rc != HCP_OK)
        return rc;
    int have = gw_calendar_stored(g->store, txn, &cur);
    hcp_cal *old = NULL;
    if (have == HCP_OK && cur.version >= 1 && /* a seed may become version 1 as it is */
        hcp_cal_parse(cur.tsv, cur.tsv_len, &old, NULL, 0) == HCP_OK && hcp_cal_same(old, cal)) {
        snprintf(gc->why, sizeof(gc->why), "unchanged: the file counts every day as version %u",
                 cur.version);
        rc = HCP_ERULE;
    } else if (have != HCP_OK && have != HCP_ENOTFOUND)
        rc = have;
    hcp_cal_free(old);
    *version = (have == HCP_OK ? cur.version : 0) + 1;
    if (rc == HCP_OK)
        rc = hcp_calver_encode(*version, text, len, &body);
    /* appended to the province log for every county; the hook applies it
     * here in the same txn (recount), and the running gateway sends it on */
    if (rc == HCP_OK)
        rc = gw_plog_hook("calendar", gw_calendar_apply, gc);
    if (rc == HCP_OK)
        rc = gw_plog_append(g->store, txn, "all", "calendar", body.data, body.len, seq);
    if (rc == HCP_OK)
        rc = gws_err(mdb_txn_commit(txn));
    else
        mdb_txn_abort(txn);
    hcp_buf_free(&body);
    return rc;
}

static int cal_publish(gw *g, const cal_args *a)
{
    char *text = NULL, err[256] = "";
    size_t len = 0;
    hcp_cal *cal = NULL;
    int rc = hcp_calver_seed(a->file, &text, &len, &cal, err, sizeof(err));
    if (rc != HCP_OK) {
        fprintf(stderr, "hcp-gateway calendar publish: %s: %s %s\n", a->file, hcp_strerror(rc),
                err);
        return 1;
    }
    gw_calendar gc = {0};
    uint32_t version = 0;
    uint64_t seq = 0;
    rc = cal_open(g, a, true);
    if (rc == HCP_OK)
        rc = cal_publish_txn(g, &gc, text, len, cal, &version, &seq);
    if (rc == HCP_OK) {
        gw_calendar_after(&gc, seq);
        printf("%u\n", version);
    } else if (g->store != NULL)
        fprintf(stderr, "hcp-gateway calendar publish: %s\n",
                gc.why[0] ? gc.why : hcp_strerror(rc));
    hcp_cal_free(gc.pending);
    cal_close(g);
    hcp_cal_free(cal);
    free(text);
    return rc == HCP_OK ? 0 : 1;
}

int gw_cmd_calendar(int argc, char **argv)
{
    bool help = argc >= 2 && strcmp(argv[1], "--help") == 0;
    bool show = argc >= 2 && strcmp(argv[1], "show") == 0;
    bool publish = argc >= 2 && strcmp(argv[1], "publish") == 0;
    if (!show && !publish) {
        fputs(CAL_USAGE, help ? stdout : stderr);
        return help ? 0 : 2;
    }
    cal_args a;
    int rc = cal_parse(argc - 1, argv + 1, &a, publish);
    if (rc != 0)
        return rc;
    static gw g; /* large (paths): not on the stack */
    g.lock_fd = -1;
    return show ? cal_show(&g, &a) : cal_publish(&g, &a);
}
