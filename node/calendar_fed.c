/*
 * calendar_fed.c — the federation calendar at the county node
 * (calendar_fed.h, docs/calendar.md "The federation calendar"): the
 * version in force kept in the store's meta, the `calendar` directive's
 * handler (apply in the directive's transaction, swap after its commit),
 * the start-up check against the seed, and `hcp-node calendar`.
 */
#include "calendar_fed.h"

#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rules.h"

int node_calendar_stored(node_store *s, MDB_txn *txn, hcp_calver *out)
{
    if (s == NULL || txn == NULL || out == NULL)
        return HCP_EINVAL;
    MDB_val k = {strlen(HCP_CALVER_KEY), (void *)HCP_CALVER_KEY}, v;
    int rc = store_err(mdb_get(txn, s->meta, &k, &v));
    if (rc != HCP_OK)
        return rc;
    return hcp_calver_decode(v.mv_data, v.mv_size, out);
}

/* Store {version, tsv} as the calendar in force. */
static int calendar_put(node_store *s, MDB_txn *txn, uint32_t version, const char *tsv, size_t len)
{
    hcp_buf b;
    hcp_buf_init(&b, HCP_CALVER_ENCMAX);
    int rc = hcp_calver_encode(version, tsv, len, &b);
    if (rc == HCP_OK) {
        MDB_val k = {strlen(HCP_CALVER_KEY), (void *)HCP_CALVER_KEY}, v = {b.len, b.data};
        rc = store_err(mdb_put(txn, s->meta, &k, &v, 0));
    }
    hcp_buf_free(&b);
    return rc;
}

/* Recount one open case; counts into *r. */
static int recount_one(node_store *s, MDB_txn *txn, const char *id, const hcp_cal *cal,
                       node_calendar_recount *r)
{
    hcp_case old, c;
    memset(&c, 0, sizeof(c));
    bool changed = false;
    int rc = store_case_get(s, txn, id, true, &old);
    if (rc == HCP_OK)
        rc = hcp_case_copy(&c, &old);
    if (rc == HCP_OK)
        rc = hcp_calver_recount(&c, cal, &changed);
    if (rc == HCP_OK && changed)
        rc = store_case_put(s, txn, &old, &c);
    if (rc == HCP_OK) {
        r->open++;
        r->changed += changed;
        r->provisional += hcp_case_provisional(&c);
    }
    hcp_case_clear(&old);
    hcp_case_clear(&c);
    return rc;
}

int node_calendar_recount_all(node_store *s, MDB_txn *txn, const hcp_cal *cal,
                              node_calendar_recount *r)
{
    node_calendar_recount local = {0};
    if (s == NULL || txn == NULL || cal == NULL)
        return HCP_EINVAL;
    char(*ids)[HCP_CASE_ID_MAX] = NULL;
    size_t count = 0;
    int rc = store_open_case_ids(s, txn, &ids, &count);
    for (size_t i = 0; rc == HCP_OK && i < count; i++)
        rc = recount_one(s, txn, ids[i], cal, &local);
    free(ids);
    if (rc == HCP_OK && r != NULL)
        *r = local;
    return rc;
}

/* Say what a recount did: a warning while deadlines stay provisional. */
static void recount_log(uint32_t version, const node_calendar_recount *r)
{
    node_log(r->provisional > 0 ? "warn" : "info", "calendar.recount",
             "version=%u open=%zu recounted=%zu still_provisional=%zu detail=\"%s\"", version,
             r->open, r->changed, r->provisional,
             r->provisional > 0 ? "deadlines past the calendar's years stay provisional until the "
                                  "province publishes the next year's calendar"
                                : "open deadlines counted with this calendar");
}

/* Replace n->cal by cal (owned from now on). */
static void swap_in(node *n, hcp_cal *cal)
{
    hcp_cal_free(n->cal);
    n->cal = cal;
}

/* Version 0 (HCP_CALSTART_SEED): store the seed and recount every open
 * case; commit. *seed passes to n->cal when stored; have: a seed was
 * stored before (said in the log). */
static int start_seed(node *n, MDB_txn *txn, hcp_cal **seed, const char *text, size_t len,
                      bool have)
{
    node_store *s = n->store;
    node_calendar_recount r = {0};
    int rc = calendar_put(s, txn, 0, text, len);
    if (rc == HCP_OK)
        rc = node_calendar_recount_all(s, txn, *seed, &r);
    if (rc == HCP_OK)
        rc = store_cache_flush(s, txn);
    if (rc == HCP_OK)
        rc = store_err(mdb_txn_commit(txn));
    else
        mdb_txn_abort(txn);
    if (rc != HCP_OK)
        return rc;
    if (have || r.changed > 0)
        recount_log(0, &r);
    swap_in(n, *seed);
    *seed = NULL;
    return HCP_OK;
}

/* Decide with the store's calendar (hcp_calver_start, shared with the
 * gateway) and act: keep, store the seed, or put the province's version
 * in force. Takes txn (committed or aborted). err says what went wrong. */
static int start_decide(node *n, node_calendar *nc, MDB_txn *txn, hcp_cal **seed, const char *text,
                        size_t len, char *err, size_t errlen)
{
    hcp_calver cur;
    int have = node_calendar_stored(n->store, txn, &cur);
    if (have != HCP_OK && have != HCP_ENOTFOUND) {
        mdb_txn_abort(txn);
        snprintf(err, errlen, "the stored calendar cannot be read: %s", hcp_strerror(have));
        return have;
    }
    enum hcp_calver_start d = HCP_CALSTART_KEEP;
    hcp_cal *fed = NULL;
    char perr[128] = "";
    uint32_t version = have == HCP_OK ? cur.version : 0;
    int rc = hcp_calver_start(have == HCP_OK ? &cur : NULL, *seed, n->cfg.calendar[0] != '\0', &d,
                              &fed, perr, sizeof(perr));
    if (rc == HCP_OK && d == HCP_CALSTART_SEED) {
        rc = start_seed(n, txn, seed, text, len, have == HCP_OK);
        if (rc != HCP_OK)
            snprintf(err, errlen, "cannot store the calendar: %s", hcp_strerror(rc));
        return rc;
    }
    mdb_txn_abort(txn); /* cur borrowed from it: not used below */
    if (rc == HCP_EVERSION)
        snprintf(err, errlen,
                 "--calendar %s differs from the federation calendar version %u this node "
                 "applied (stored in %s); a node never runs ahead of the province's calendar: "
                 "start without --calendar (version %u is used) or with the same file",
                 n->cfg.calendar, version, n->cfg.data, version);
    else if (rc != HCP_OK)
        snprintf(err, errlen, "the stored federation calendar (version %u) does not parse: %s",
                 version, perr);
    if (rc != HCP_OK || d != HCP_CALSTART_FEDERATION)
        return rc;
    nc->version = version;
    swap_in(n, fed);
    int first = 0, last = 0;
    hcp_cal_years(fed, &first, &last);
    node_log("info", "calendar.federation", "version=%u first=%d last=%d detail=\"%s\"", version,
             first, last, "the province's calendar stored in the node is in force");
    return HCP_OK;
}

int node_calendar_start(node *n, node_calendar **out, char *err, size_t errlen)
{
    if (n == NULL || n->store == NULL || out == NULL || err == NULL || errlen == 0)
        return HCP_EINVAL;
    err[0] = '\0';
    node_calendar *nc = calloc(1, sizeof(*nc));
    char *text = NULL;
    size_t len = 0;
    hcp_cal *seed = NULL;
    char perr[128] = "";
    int rc = nc == NULL ? HCP_ENOMEM
                        : hcp_calver_seed(n->cfg.calendar, &text, &len, &seed, perr, sizeof(perr));
    if (rc != HCP_OK) {
        snprintf(err, errlen, "calendar %s: %s %s",
                 n->cfg.calendar[0] ? n->cfg.calendar : "(compiled in)", hcp_strerror(rc), perr);
        free(nc);
        return rc;
    }
    nc->n = n;
    MDB_txn *txn = NULL;
    rc = store_write_begin(n->store, &txn);
    if (rc == HCP_OK)
        rc = start_decide(n, nc, txn, &seed, text, len, err, errlen);
    else
        snprintf(err, errlen, "cannot begin a transaction: %s", hcp_strerror(rc));
    store_cache_drop(n->store);
    hcp_cal_free(seed);
    free(text);
    if (rc != HCP_OK) {
        free(nc);
        return rc;
    }
    *out = nc;
    return HCP_OK;
}

void node_calendar_free(node_calendar *nc)
{
    if (nc == NULL)
        return;
    hcp_cal_free(nc->pending);
    free(nc);
}

/* Refuse: why gets "code: detail", HCP_ERULE. */
__attribute__((format(printf, 4, 5))) static int refuse(char *why, size_t why_len, const char *code,
                                                        const char *fmt, ...)
{
    if (why != NULL && why_len > 0) {
        int w = snprintf(why, why_len, "%s: ", code);
        if (w > 0 && (size_t)w < why_len) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(why + w, why_len - (size_t)w, fmt, ap);
            va_end(ap);
        }
    }
    return HCP_ERULE;
}

/* The version stored in txn (0 when none or unreadable) or a store error. */
static int in_force_version(node_store *s, MDB_txn *txn, uint32_t *version)
{
    hcp_calver cur;
    int rc = node_calendar_stored(s, txn, &cur);
    *version = rc == HCP_OK ? cur.version : 0;
    return rc == HCP_OK || rc == HCP_ENOTFOUND || rc == HCP_EFORMAT ? HCP_OK : rc;
}

/* Parse v, store it as the calendar in force and recount every open case
 * in txn; the parsed calendar waits in nc for node_calendar_after(seq).
 * HCP_ERULE (why says) for a TSV that does not parse, or a store error. */
static int take(node_calendar *nc, node_store *s, MDB_txn *txn, uint64_t seq, const hcp_calver *cv,
                char *why, size_t why_len)
{
    const hcp_calver v = *cv;
    hcp_cal *cal = NULL;
    char perr[128] = "";
    int rc = hcp_cal_parse(v.tsv, v.tsv_len, &cal, perr, sizeof(perr));
    if (rc == HCP_ENOMEM)
        return rc;
    if (rc != HCP_OK)
        return refuse(why, why_len, "bad_calendar", "%s", perr[0] ? perr : hcp_strerror(rc));
    node_calendar_recount r = {0};
    rc = calendar_put(s, txn, v.version, v.tsv, v.tsv_len);
    if (rc == HCP_OK)
        rc = node_calendar_recount_all(s, txn, cal, &r);
    if (rc != HCP_OK) {
        hcp_cal_free(cal);
        return rc;
    }
    hcp_cal_free(nc->pending); /* an earlier attempt of a redone transaction */
    nc->pending = cal;
    nc->pending_version = v.version;
    nc->pending_seq = seq;
    recount_log(v.version, &r);
    return HCP_OK;
}

int node_calendar_apply(void *arg, node_store *s, MDB_txn *txn, uint64_t seq, const void *body_mp,
                        size_t body_len, char *why, size_t why_len)
{
    node_calendar *nc = arg;
    if (nc == NULL || s == NULL || txn == NULL || body_mp == NULL)
        return HCP_EINVAL;
    hcp_calver v;
    if (hcp_calver_decode(body_mp, body_len, &v) != HCP_OK)
        return refuse(why, why_len, "bad_body", "want {version, tsv}");
    uint32_t in_force = 0;
    int rc = in_force_version(s, txn, &in_force);
    if (rc != HCP_OK)
        return rc; /* the store's error: abort, do not refuse */
    if (v.version <= in_force)
        return refuse(why, why_len, "stale_version", "version %u is not newer than %u in force",
                      v.version, in_force);
    return take(nc, s, txn, seq, &v, why, why_len);
}

int node_calendar_restore(void *arg, node_store *s, MDB_txn *txn, uint64_t seq, const void *body_mp,
                          size_t body_len)
{
    node_calendar *nc = arg;
    if (nc == NULL || s == NULL || txn == NULL || body_mp == NULL)
        return HCP_EINVAL;
    hcp_calver v;
    char why[128] = "";
    if (hcp_calver_decode(body_mp, body_len, &v) != HCP_OK)
        return HCP_EINVAL;
    uint32_t in_force = 0;
    int rc = in_force_version(s, txn, &in_force);
    if (rc != HCP_OK || v.version <= in_force)
        return rc; /* a store error; or this version (or a later one) is here already */
    rc = take(nc, s, txn, seq, &v, why, sizeof(why));
    if (rc == HCP_ERULE)
        node_log("warn", "calendar.restore_refused", "seq=%llu why=\"%s\"", (unsigned long long)seq,
                 why);
    return rc;
}

void node_calendar_after(void *arg, uint64_t seq)
{
    node_calendar *nc = arg;
    if (nc == NULL || nc->pending == NULL || nc->pending_seq != seq)
        return;
    if (nc->n != NULL)
        swap_in(nc->n, nc->pending);
    else
        hcp_cal_free(nc->pending);
    nc->version = nc->pending_version;
    nc->pending = NULL;
    int first = 0, last = 0;
    if (nc->n != NULL)
        hcp_cal_years(nc->n->cal, &first, &last);
    node_log("info", "calendar.applied", "version=%u seq=%llu first=%d last=%d", nc->version,
             (unsigned long long)seq, first, last);
}

/* ---- hcp-node calendar show ---- */

#define CAL_USAGE                                                                                  \
    "usage: hcp-node calendar show --data DIR\n"                                                   \
    "  show: the federation calendar stored in DIR (version, years, days). A new\n"                \
    "  version comes only from the province, as a `calendar` directive\n"                          \
    "  (docs/directives.md): there is no local way to change it.\n"

typedef struct cal_args {
    const char *data;
} cal_args;

/* Parse the flags after the verb; 0, or 2 after printing the usage. */
static int cal_parse(int argc, char **argv, cal_args *a)
{
    static const struct option opts[] = {{"data", required_argument, NULL, 'd'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    memset(a, 0, sizeof(*a));
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'd')
            a->data = optarg;
        else if (c == 'h') {
            fputs(CAL_USAGE, stdout);
            exit(0);
        } else
            break;
    }
    bool ok = c == -1 && optind == argc && a->data != NULL;
    if (!ok) {
        fputs(CAL_USAGE, stderr);
        return 2;
    }
    return 0;
}

/* Print the stored calendar of the store in a->data. */
static int cal_show(const cal_args *a)
{
    char county[HCP_COUNTY_LEN + 1], err[256];
    node_store s;
    memset(&s, 0, sizeof(s));
    int rc = store_county_of(a->data, county, err, sizeof(err));
    if (rc == HCP_OK)
        rc = store_open(&s, a->data, county, true, NULL, err, sizeof(err));
    if (rc != HCP_OK) {
        fprintf(stderr, "hcp-node calendar: %s\n", err);
        return 1;
    }
    MDB_txn *txn;
    hcp_calver v;
    hcp_cal *cal = NULL;
    rc = store_read_begin(&s, &txn);
    if (rc == HCP_OK) {
        rc = node_calendar_stored(&s, txn, &v);
        if (rc == HCP_OK)
            rc = hcp_cal_parse(v.tsv, v.tsv_len, &cal, NULL, 0);
        int first = 0, last = 0;
        hcp_cal_years(cal, &first, &last);
        if (rc == HCP_OK)
            printf("version\t%u\nyears\t%d-%d\ndays\t%zu\nsource\t%s\n", v.version, first, last,
                   hcp_cal_days(cal), v.version == 0 ? "seed" : "province");
        else if (rc == HCP_ENOTFOUND)
            printf("version\t0\nsource\tnone stored (the seed is stored at the next start)\n");
        store_read_end(&s, txn);
    }
    hcp_cal_free(cal);
    store_close(&s);
    if (rc != HCP_OK && rc != HCP_ENOTFOUND) {
        fprintf(stderr, "hcp-node calendar: %s\n", hcp_strerror(rc));
        return 1;
    }
    return 0;
}

int node_cmd_calendar(int argc, char **argv)
{
    cal_args a;
    bool show = argc >= 2 && strcmp(argv[1], "show") == 0;
    if (!show) {
        fputs(CAL_USAGE, argc >= 2 && strcmp(argv[1], "--help") == 0 ? stdout : stderr);
        return argc >= 2 && strcmp(argv[1], "--help") == 0 ? 0 : 2;
    }
    int rc = cal_parse(argc - 1, argv + 1, &a);
    if (rc != 0)
        return rc;
    return cal_show(&a);
}
