/*
 * publish.c — `hcp-gateway publish`: the gateway's public files as a
 * static directory (publish.h, docs/transparency.md "Publishing").
 *
 * Layout under OUTDIR (docs/transparency.md lists it with the nginx
 * configuration that serves the query forms from it):
 *   index.html, ...                 every file of gateway/www/
 *   log/checkpoint, log/key         the signed tree head, the verifier key
 *   log/tile/<L>/<N>[.p/<W>]        hash tiles, log/tile/entries/... bundles
 *   feed/requests.json              the first page (50 newest updates)
 *   feed/pages/<S>/<P>.json         page P of size S (50 or 200), up to
 *                                   and with the first short page
 *   feed/county/<code>/pages/<S>/<P>.json   the same for a county or a
 *                                   prefecture (its counties)
 *   feed/case/<id>.json             ?service_request_id=<id>
 *   feed/empty.json                 [] (a scope without entries)
 *   feed/atom.xml, feed/services.json
 *   feed/stats.json                 the public figures over all dates
 *
 * One read transaction is the snapshot of everything: the checkpoint signs
 * the tree the feed's entries are in.
 */
#define _GNU_SOURCE /* strndup in older glibc headers */
#include "publish.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "be.h"
#include "chain.h"
#include "division.h"
#include "env.h"
#include "feed_entry.h"
#include "feed_query.h"
#include "format.h"
#include "gwfeed.h"
#include "gwstore.h"
#include "merkle.h"
#include "note.h"
#include "spot.h"
#include "stats.h"
#include "tlog.h"

#define PROG         "hcp-gateway publish"
#define PUB_PATH_MAX 4096
#define PAGE_SMALL   GW_FEED_PAGE_DEFAULT /* the feed's default page size */
#define PAGE_LARGE   GW_FEED_PAGE_MAX     /* the largest, for walkers (hcp-verify feed) */
#define SCOPES_MAX   (1 + 2 * HCP_DIVISIONS_MAX)
#define BODY_MAX     (64u << 20)

static const char usage[] =
    "usage: hcp-gateway publish --data DIR --out OUTDIR [--divisions FILE] [--quiet]\n"
    "  Write the gateway's public files (the page, the feed, the Atom feed, the\n"
    "  service list and the transparency log's tiles, key and checkpoint) under\n"
    "  OUTDIR, for a web server or CDN to serve unchanged. Runs beside a running\n"
    "  gateway (the store is read, never written); run it again to update:\n"
    "  only what changed is written, a full tile never again, and the\n"
    "  checkpoint last. --divisions: the gateway's list, when it runs with one\n"
    "  (the counties of each prefecture's pages). --quiet: no progress on stderr.\n";

/* ---- the run ---- */

typedef struct pub_stats {
    size_t written, unchanged;
    unsigned long long bytes;
} pub_stats;

/* A tile that became full in this run: its partial tiles go once the
 * checkpoint that covers it is in place. */
typedef struct pub_full {
    int level;
    uint64_t n;
} pub_full;

typedef struct pub {
    const char *out;
    bool quiet;
    hcp_buf full; /* pub_full records */
    pub_stats st;
    time_t last_progress;
    hcp_buf old; /* an existing file's bytes, for the comparison */
} pub;

/* Report progress on stderr at most once a second (long runs). */
static void progress(pub *p, const char *what, unsigned long long done, unsigned long long total)
{
    time_t now = time(NULL);
    if (p->quiet || now == p->last_progress)
        return;
    p->last_progress = now;
    fprintf(stderr, "publish: %s %llu/%llu (%zu files written, %zu unchanged)\n", what, done, total,
            p->st.written, p->st.unchanged);
}

/* OUTDIR/rel into buf; false when too long. */
static bool out_path(const pub *p, const char *rel, char *buf, size_t cap)
{
    int n = snprintf(buf, cap, "%s/%s", p->out, rel);
    return n > 0 && (size_t)n < cap;
}

/* Make every directory of path's parent (mode 0755: the files are public). */
static int mkdirs_for(const char *path)
{
    char d[PUB_PATH_MAX];
    size_t n = strlen(path);
    if (n >= sizeof(d))
        return HCP_ERANGE;
    memcpy(d, path, n + 1);
    char *slash = strrchr(d, '/');
    if (slash == NULL || slash == d)
        return HCP_OK;
    *slash = '\0';
    for (char *q = d + 1; *q; q++) {
        if (*q != '/')
            continue;
        *q = '\0';
        int rc = mkdir(d, 0755);
        *q = '/';
        if (rc != 0 && errno != EEXIST)
            return HCP_EIO;
    }
    return mkdir(d, 0755) == 0 || errno == EEXIST ? HCP_OK : HCP_EIO;
}

/* Whether the file at path holds exactly data (len bytes). */
static bool same_bytes(pub *p, const char *path, const void *data, size_t len)
{
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode) || (size_t)st.st_size != len)
        return false;
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return false;
    hcp_buf_reset(&p->old);
    char chunk[65536];
    size_t n;
    bool ok = true;
    while (ok && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        ok = hcp_buf_append(&p->old, chunk, n) == HCP_OK;
    ok = ok && !ferror(f);
    (void)fclose(f); /* read-only */
    return ok && p->old.len == len && memcmp(p->old.data, data, len) == 0;
}

/* Write data to path through a temporary file in the same directory and
 * a rename, so a reader sees the old file or the new one, never half of
 * one; durable (fsync) when asked: a tile is never written again. */
static int write_atomic(const char *path, const void *data, size_t len, bool durable)
{
    char tmp[PUB_PATH_MAX];
    int n = snprintf(tmp, sizeof(tmp), "%s.tmp-%ld", path, (long)getpid());
    if (n <= 0 || (size_t)n >= sizeof(tmp))
        return HCP_ERANGE;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return errno == ENOSPC ? HCP_ENOSPC : HCP_EIO;
    const char *b = data;
    size_t off = 0;
    bool ok = true;
    while (ok && off < len) {
        ssize_t w = write(fd, b + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        ok = w > 0;
        off += ok ? (size_t)w : 0;
    }
    int saved = errno;
    if (ok && durable && fsync(fd) != 0)
        ok = false;
    if (close(fd) != 0)
        ok = false;
    if (ok && rename(tmp, path) != 0)
        ok = false;
    if (!ok) {
        saved = errno != 0 ? errno : saved;
        (void)unlink(tmp); /* nothing half-written stays behind */
        return saved == ENOSPC ? HCP_ENOSPC : HCP_EIO;
    }
    return HCP_OK;
}

/* Put data at OUTDIR/rel: skipped when an immutable file is there already
 * (a full tile: never rewritten) or the file holds these bytes. */
static int put_file(pub *p, const char *rel, const void *data, size_t len, bool immutable)
{
    char path[PUB_PATH_MAX];
    if (!out_path(p, rel, path, sizeof(path)))
        return HCP_ERANGE;
    struct stat st;
    if ((immutable && stat(path, &st) == 0 && S_ISREG(st.st_mode)) ||
        (!immutable && same_bytes(p, path, data, len))) {
        p->st.unchanged++;
        return HCP_OK;
    }
    int rc = mkdirs_for(path);
    if (rc == HCP_OK)
        rc = write_atomic(path, data, len, immutable);
    if (rc != HCP_OK) {
        fprintf(stderr, PROG ": cannot write %s: %s\n", path,
                errno != 0 ? strerror(errno) : hcp_strerror(rc));
        return rc;
    }
    p->st.written++;
    p->st.bytes += len;
    return HCP_OK;
}

/* Remove the directory of partial tiles ("<N>.p") of full tile (level,
 * n), which readers of an older checkpoint may still have fetched until
 * the new checkpoint was in place (C2SP tlog-tiles: a client falls back
 * to the full tile). */
static void prune_partials(pub *p, int level, uint64_t n)
{
    char rel[HCP_TILE_PATH_MAX + 8] = "log/", dir[PUB_PATH_MAX];
    if (hcp_tile_path(level, n, HCP_TILE_WIDTH, rel + 4, sizeof(rel) - 6) != HCP_OK)
        return;
    size_t rl = strlen(rel);
    memcpy(rel + rl, ".p", 3); /* room kept above */
    if (!out_path(p, rel, dir, sizeof(dir)))
        return;
    DIR *d = opendir(dir);
    if (d == NULL)
        return; /* none: nothing to prune */
    struct dirent *e;
    char f[PUB_PATH_MAX];
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        int fl = snprintf(f, sizeof(f), "%s/%s", dir, e->d_name);
        if (fl > 0 && (size_t)fl < sizeof(f) && unlink(f) != 0)
            fprintf(stderr, PROG ": cannot remove %s: %s\n", f, strerror(errno));
    }
    (void)closedir(d); /* read-only */
    if (rmdir(dir) != 0)
        fprintf(stderr, PROG ": cannot remove %s: %s\n", dir, strerror(errno));
}

/* ---- the store, read-only ---- */

/* Open the store of dir read-only (beside a running gateway) into s and
 * begin the snapshot *txn. Prints what went wrong. */
static int store_open(const char *dir, gw_store *s, MDB_txn **txn)
{
    memset(s, 0, sizeof(*s));
    char path[PUB_PATH_MAX];
    int n = snprintf(path, sizeof(path), "%s/data.mdb", dir);
    if (n <= 0 || (size_t)n >= sizeof(path) || access(path, R_OK) != 0) {
        fprintf(stderr, PROG ": no gateway store in %s\n", dir);
        return HCP_ENOTFOUND;
    }
    int mrc = hcpd_env_open(&s->db, dir, 1u << 20, true, 126);
    if (mrc == MDB_SUCCESS) {
        mrc = mdb_txn_begin(s->db.env, NULL, MDB_RDONLY, txn);
        if (mrc == MDB_MAP_RESIZED && mdb_env_set_mapsize(s->db.env, 0) == MDB_SUCCESS)
            mrc = mdb_txn_begin(s->db.env, NULL, MDB_RDONLY, txn); /* the gateway grew it */
    }
    if (mrc == MDB_SUCCESS)
        mrc = mdb_dbi_open(*txn, "meta", 0, &s->meta);
    if (mrc == MDB_SUCCESS)
        mrc = mdb_dbi_open(*txn, "cases", 0, &s->cases);
    if (mrc == MDB_SUCCESS)
        mrc = mdb_dbi_open(*txn, "feed", 0, &s->feed);
    if (mrc == MDB_SUCCESS)
        mrc = mdb_dbi_open(*txn, "tlog", 0, &s->tlog);
    if (mrc == MDB_SUCCESS) { /* the figures (stats.h); a store older than them has none */
        const char *const st[] = {"st_cnt", "st_set", "st_due", "st_name"};
        MDB_dbi *dbi[] = {&s->st_cnt, &s->st_set, &s->st_due, &s->st_name};
        for (size_t i = 0; mrc == MDB_SUCCESS && i < 4; i++)
            mrc = mdb_dbi_open(*txn, st[i], 0, dbi[i]);
        s->stats_off = mrc == MDB_NOTFOUND;
        mrc = mrc == MDB_NOTFOUND ? MDB_SUCCESS : mrc;
    }
    char ferr[512] = "";
    if (mrc == MDB_SUCCESS)
        mrc = hcpd_format_check(*txn, s->meta, "hcp-gateway", HCPD_FORMAT_GATEWAY, true, NULL, NULL,
                                NULL, ferr, sizeof(ferr));
    if (mrc != MDB_SUCCESS) {
        fprintf(stderr, PROG ": cannot read the store in %s: %s\n", dir,
                ferr[0]               ? ferr
                : mrc == MDB_NOTFOUND ? "not a gateway store with a transparency log"
                                      : mdb_strerror(mrc));
        return hcpd_mdb_err(mrc);
    }
    return HCP_OK;
}

/* ---- the log ---- */

/* Every tile and entry bundle of the tree of size leaves: full ones once
 * (immutable), the partial ones of this size (the bytes of a width never
 * change either); the tiles that became full in this run are noted in
 * p->full (their partial tiles go after the checkpoint). */
static int put_tiles(pub *p, gw_store *s, MDB_txn *txn, uint64_t size, hcp_buf *tile)
{
    int rc = HCP_OK;
    unsigned long long done = 0, total = 0; /* progress: every tile of every level */
    for (int l = 0; l < 8; l++)
        total += ((size >> (l * HCP_TILE_HEIGHT)) + HCP_TILE_WIDTH - 1) / HCP_TILE_WIDTH;
    total += (size + HCP_TILE_WIDTH - 1) / HCP_TILE_WIDTH; /* the entry bundles */
    for (int level = HCP_TILE_ENTRIES; rc == HCP_OK && level <= 7; level++) {
        int tl = level < 0 ? 0 : level; /* an entry bundle spans level 0's leaves */
        uint64_t count = tl * HCP_TILE_HEIGHT >= 64 ? 0 : size >> (tl * HCP_TILE_HEIGHT);
        if (count == 0)
            break;
        uint64_t ntiles = (count + HCP_TILE_WIDTH - 1) / HCP_TILE_WIDTH;
        for (uint64_t n = 0; rc == HCP_OK && n < ntiles; n++) {
            unsigned w = hcp_tile_width(level, n, size);
            char rel[HCP_TILE_PATH_MAX + 8] = "log/";
            if (w == 0)
                continue;
            rc = hcp_tile_path(level, n, w, rel + 4, sizeof(rel) - 4);
            char path[PUB_PATH_MAX];
            struct stat st;
            if (rc == HCP_OK && w == HCP_TILE_WIDTH && out_path(p, rel, path, sizeof(path)) &&
                stat(path, &st) == 0) {
                p->st.unchanged++; /* immutable: not even read again */
                continue;
            }
            hcp_buf_reset(tile);
            if (rc == HCP_OK)
                rc = gw_tlog_tile(txn, s->tlog, level, n, w, tile);
            if (rc == HCP_OK)
                rc = put_file(p, rel, tile->data, tile->len, true);
            if (rc == HCP_OK && w == HCP_TILE_WIDTH) {
                pub_full f = {level, n};
                rc = hcp_buf_append(&p->full, &f, sizeof(f));
            }
            progress(p, "tiles", ++done, total);
        }
    }
    return rc;
}

/* ---- the feed ---- */

/* One listing being cut into pages: a scope (everything, a county or a
 * prefecture) at one page size. */
typedef struct pager {
    char dir[64]; /* "feed/pages/50", "feed/county/630102/pages/200" */
    uint32_t size;
    uint32_t page; /* the page being filled, from 1 */
    uint32_t count;
    hcp_buf buf;
} pager;

typedef struct feed_run {
    pub *p;
    pager pg[2 * SCOPES_MAX];
    size_t npg;
    hcp_buf one; /* a case's file */
    hcp_time now;
    gw_store *s; /* the snapshot read: a feed value may refer to a log leaf */
    MDB_txn *txn;
    MDB_cursor *tcur; /* the log's leaves, kept from entry to entry (gws_feed_value_read) */
} feed_run;

/* The two pagers of scope (NULL: everything; else a six-digit code),
 * made on first use; NULL when there is no room (never: SCOPES_MAX). */
static pager *pagers_of(feed_run *f, const char *code)
{
    char dir[64];
    if (code == NULL)
        snprintf(dir, sizeof(dir), "feed/pages/%d", PAGE_SMALL);
    else
        snprintf(dir, sizeof(dir), "feed/county/%.6s/pages/%d", code, PAGE_SMALL);
    for (size_t i = 0; i < f->npg; i += 2)
        if (strcmp(f->pg[i].dir, dir) == 0)
            return &f->pg[i];
    if (f->npg + 2 > sizeof(f->pg) / sizeof(f->pg[0]))
        return NULL;
    pager *two = &f->pg[f->npg];
    f->npg += 2;
    for (int k = 0; k < 2; k++) {
        uint32_t size = k == 0 ? PAGE_SMALL : PAGE_LARGE;
        if (code == NULL)
            snprintf(two[k].dir, sizeof(two[k].dir), "feed/pages/%u", size);
        else
            snprintf(two[k].dir, sizeof(two[k].dir), "feed/county/%.6s/pages/%u", code, size);
        two[k].size = size;
        two[k].page = 1;
        two[k].count = 0;
        hcp_buf_init(&two[k].buf, BODY_MAX);
    }
    return two;
}

/* Write the pager's page and start the next one. The first page of
 * everything at the default size is also feed/requests.json. */
static int pager_flush(feed_run *f, pager *g)
{
    int rc = g->count == 0 ? hcp_buf_append(&g->buf, "[]", 2) : hcp_buf_append(&g->buf, "]", 1);
    char rel[128];
    snprintf(rel, sizeof(rel), "%s/%u.json", g->dir, g->page);
    if (rc == HCP_OK)
        rc = put_file(f->p, rel, g->buf.data, g->buf.len, false);
    if (rc == HCP_OK && g->page == 1 && g->size == PAGE_SMALL &&
        strncmp(g->dir, "feed/pages/", 11) == 0)
        rc = put_file(f->p, "feed/requests.json", g->buf.data, g->buf.len, false);
    hcp_buf_reset(&g->buf);
    g->page++;
    g->count = 0;
    return rc;
}

/* Add an entry (its feed text: the JSON with deadline_met) to a pager. */
static int pager_add(feed_run *f, pager *g, const void *text, size_t len)
{
    int rc = hcp_buf_append(&g->buf, g->count == 0 ? "[" : ",", 1);
    if (rc == HCP_OK)
        rc = hcp_buf_append(&g->buf, text, len);
    if (rc == HCP_OK && ++g->count == g->size)
        rc = pager_flush(f, g);
    return rc;
}

/* One stored entry (key k, value v) into every listing it belongs to and
 * its case's file. */
static int feed_entry(feed_run *f, const MDB_val *k, const MDB_val *v, hcp_buf *text)
{
    hcp_time updated;
    char id[HCP_CASE_ID_MAX];
    gw_feed_meta m;
    if (!gws_feed_key_parse(k->mv_data, k->mv_size, &updated, id) ||
        gws_feed_value_read(f->s, f->txn, &f->tcur, v->mv_data, v->mv_size, &m) != HCP_OK)
        return HCP_OK; /* not an entry: the gateway's feed skips it too */
    if (strspn(id, "0123456789-") != strlen(id))
        return HCP_OK; /* never (ids are checked at intake): it names a file */
    hcp_buf_reset(text);
    int rc = gw_feed_entry_json_append(text, m.json, m.json_len, gw_feed_meta_met_at(&m, f->now));
    char county[HCP_COUNTY_LEN + 1];
    memcpy(county, id, HCP_COUNTY_LEN);
    county[HCP_COUNTY_LEN] = '\0';
    const hcp_division *d = hcp_division_find(county);
    pager *scopes[3] = {pagers_of(f, NULL), pagers_of(f, county),
                        d != NULL ? pagers_of(f, d->prefecture) : NULL};
    for (int i = 0; rc == HCP_OK && i < 3; i++)
        for (int j = 0; rc == HCP_OK && scopes[i] != NULL && j < 2; j++)
            rc = pager_add(f, &scopes[i][j], text->data, text->len);
    char rel[96];
    snprintf(rel, sizeof(rel), "feed/case/%s.json", id);
    hcp_buf_reset(&f->one);
    if (rc == HCP_OK)
        rc = hcp_buf_append(&f->one, "[", 1);
    if (rc == HCP_OK)
        rc = hcp_buf_append(&f->one, text->data, text->len);
    if (rc == HCP_OK)
        rc = hcp_buf_append(&f->one, "]", 1);
    if (rc == HCP_OK)
        rc = put_file(f->p, rel, f->one.data, f->one.len, false);
    return rc;
}

/* The feed's listings in one pass over the index, newest update first:
 * each scope's pages up to and with its first short page. */
static int put_feed_pages(pub *p, gw_store *s, MDB_txn *txn, hcp_time now, hcp_time *newest)
{
    static feed_run f; /* large (the pagers) */
    memset(&f, 0, sizeof(f));
    f.p = p;
    f.now = now;
    f.s = s;
    f.txn = txn;
    hcp_buf_init(&f.one, BODY_MAX);
    hcp_buf text;
    hcp_buf_init(&text, BODY_MAX);
    (void)pagers_of(&f, NULL); /* everything has pages even when empty */
    MDB_stat ms;
    unsigned long long total = mdb_stat(txn, s->feed, &ms) == MDB_SUCCESS ? ms.ms_entries : 0,
                       done = 0;
    MDB_cursor *cur = NULL;
    int rc = gws_err(mdb_cursor_open(txn, s->feed, &cur));
    MDB_val k, v;
    int mrc = rc == HCP_OK ? mdb_cursor_get(cur, &k, &v, MDB_LAST) : MDB_NOTFOUND;
    *newest = 0;
    if (mrc == MDB_SUCCESS && k.mv_size >= 8)
        *newest = (hcp_time)hcp_be64_get(k.mv_data);
    for (; rc == HCP_OK && mrc == MDB_SUCCESS; mrc = mdb_cursor_get(cur, &k, &v, MDB_PREV)) {
        rc = feed_entry(&f, &k, &v, &text);
        progress(p, "feed entries", ++done, total);
    }
    if (cur != NULL)
        mdb_cursor_close(cur);
    if (f.tcur != NULL)
        mdb_cursor_close(f.tcur);
    if (rc == HCP_OK && mrc != MDB_NOTFOUND)
        rc = gws_err(mrc);
    for (size_t i = 0; rc == HCP_OK && i < f.npg; i++)
        rc = pager_flush(&f, &f.pg[i]); /* the short (maybe empty) last page */
    for (size_t i = 0; i < f.npg; i++)
        hcp_buf_free(&f.pg[i].buf);
    hcp_buf_free(&f.one);
    hcp_buf_free(&text);
    return rc;
}

/* The Atom feed (the latest 100 updates) and the service list. */
static int put_feed_docs(pub *p, gw_store *s, MDB_txn *txn, hcp_time now, hcp_time newest)
{
    gw_feed_q q;
    memset(&q, 0, sizeof(q));
    q.atom = true;
    q.page = 1;
    q.size = GW_FEED_ATOM_ENTRIES;
    hcp_buf b;
    hcp_buf_init(&b, BODY_MAX);
    int rc = gw_feed_render(s, txn, &q, NULL, now, newest != 0 ? newest : now, &b);
    if (rc == HCP_OK)
        rc = put_file(p, "feed/atom.xml", b.data, b.len, false);
    hcp_buf_reset(&b);
    if (rc == HCP_OK)
        rc = gw_feed_services(s, txn, &b);
    if (rc == HCP_OK)
        rc = put_file(p, "feed/services.json", b.data, b.len, false);
    if (rc == HCP_OK)
        rc = put_file(p, "feed/empty.json", "[]", 2, false);
    hcp_buf_free(&b);
    return rc;
}

/* Whether the JSON file at path says what text (len bytes) says, apart
 * from its generation time: a run with nothing new then writes nothing. */
static bool same_but_time(const char *path, const char *text, size_t len)
{
    json_t *old = json_load_file(path, 0, NULL);
    json_t *now = json_loadb(text, len, 0, NULL);
    bool same = false;
    if (json_is_object(old) && json_is_object(now)) {
        (void)json_object_del(old, "generated_datetime"); /* absent: nothing to drop */
        (void)json_object_del(now, "generated_datetime");
        same = json_equal(old, now) != 0;
    }
    json_decref(old);
    json_decref(now);
    return same;
}

/* The published spot checks (spot.h), for spotchecks.html on a static copy;
 * rewritten only when a draw or finding changed, not for its time alone. */
static int put_spot(pub *p, gw_store *s, MDB_txn *txn)
{
    hcp_buf b;
    hcp_buf_init(&b, BODY_MAX);
    char path[PUB_PATH_MAX];
    int rc = gw_spot_public_render(s, txn, &b);
    if (rc == HCP_OK && out_path(p, "feed/spotchecks.json", path, sizeof(path)) &&
        same_but_time(path, (const char *)b.data, b.len))
        p->st.unchanged++;
    else if (rc == HCP_OK)
        rc = put_file(p, "feed/spotchecks.json", b.data, b.len, false);
    hcp_buf_free(&b);
    return rc;
}

/* Whether the figures in the file at path are those whose digest is etag
 * (gw_stats_public_text): its generation time left out, as in the ETag. */
static bool same_figures(const char *path, const char *etag)
{
    json_t *old = json_load_file(path, 0, NULL);
    if (old == NULL)
        return false;                                 /* none yet, or unreadable: write it */
    (void)json_object_del(old, "generated_datetime"); /* absent: compared as it is */
    char *figures = json_dumps(old, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(old);
    uint8_t h[HCP_HASH_LEN];
    char hex[2 * HCP_HASH_LEN + 1], tag[GW_STATS_ETAG_MAX];
    const void *parts[] = {figures};
    size_t lens[] = {figures != NULL ? strlen(figures) : 0};
    bool ok = figures != NULL && hcp_sha256(parts, lens, 1, h) == HCP_OK;
    free(figures);
    if (!ok)
        return false;
    hcp_hash_hex(h, hex);
    snprintf(tag, sizeof(tag), "\"%.32s\"", hex);
    return strcmp(tag, etag) == 0;
}

/* feed/stats.json: the public figures over all dates, as the gateway
 * serves them without from/to. Rewritten only when the figures changed
 * (not for its generation time alone), so a run with nothing new writes
 * nothing. A store older than the figures publishes none. */
static int put_stats(pub *p, gw_store *s, MDB_txn *txn, hcp_time now)
{
    if (s->stats_off)
        return HCP_OK;
    char *text = NULL, etag[GW_STATS_ETAG_MAX], path[PUB_PATH_MAX];
    int rc = gw_stats_public_text(s, txn, -1, -1, now, &text, etag);
    if (rc == HCP_OK && out_path(p, "feed/stats.json", path, sizeof(path)) &&
        same_figures(path, etag))
        p->st.unchanged++;
    else if (rc == HCP_OK)
        rc = put_file(p, "feed/stats.json", text, strlen(text), false);
    free(text);
    return rc;
}

/* Every file of gateway/www/ at the top of OUTDIR, but the console's
 * (console*: docs/consoles.md): it signs in against the gateway's API, which
 * a static copy does not have, and must not invite a token there. */
static int put_www(pub *p)
{
    int rc = HCP_OK;
    for (size_t i = 0; rc == HCP_OK && i < gw_www_nfiles; i++)
        if (strncmp(gw_www_files[i].name, "console", 7) != 0)
            rc = put_file(p, gw_www_files[i].name, gw_www_files[i].data, *gw_www_files[i].len,
                          false);
    return rc;
}

/* ---- the command ---- */

/* The signed checkpoint of the tree of size leaves into note, and the
 * verifier key text (with its newline) into vkey. */
static int sign_tree(const char *data, MDB_txn *txn, MDB_dbi tlog, uint64_t size, hcp_buf *note,
                     char vkey[HCP_NOTE_KEY_MAX + 1])
{
    hcp_note_signer *signer = NULL;
    int rc = gw_tlog_key_read(data, &signer);
    if (rc != HCP_OK) {
        fprintf(stderr,
                PROG ": cannot read the log key of %s (%s): start the gateway once to make it\n",
                data, hcp_strerror(rc));
        return rc;
    }
    uint8_t root[32];
    char body[256];
    size_t blen = 0;
    rc = gw_tlog_root(txn, tlog, size, root);
    if (rc == HCP_OK)
        rc = hcp_checkpoint_body(HCP_LOG_ORIGIN, size, root, body, sizeof(body), &blen);
    if (rc == HCP_OK)
        rc = hcp_note_sign(signer, body, blen, note);
    if (rc == HCP_OK)
        rc = hcp_note_signer_vkey(signer, vkey, HCP_NOTE_KEY_MAX);
    size_t kl = strlen(vkey); /* below HCP_NOTE_KEY_MAX: room for the newline */
    if (rc == HCP_OK && kl < HCP_NOTE_KEY_MAX) {
        vkey[kl] = '\n';
        vkey[kl + 1] = '\0';
    }
    hcp_note_signer_free(signer);
    return rc;
}

/* Everything from one snapshot, the checkpoint last. */
static int publish_all(pub *p, const char *data)
{
    gw_store s;
    MDB_txn *txn = NULL;
    int rc = store_open(data, &s, &txn);
    uint64_t size = 0;
    hcp_time now = (hcp_time)time(NULL), newest = 0;
    hcp_buf note, tile;
    hcp_buf_init(&note, HCP_NOTE_MAX);
    hcp_buf_init(&tile, (size_t)HCP_TILE_WIDTH * (2 + HCP_TILE_ENTRY_MAX));
    char vkey[HCP_NOTE_KEY_MAX + 1] = "";
    if (rc == HCP_OK)
        rc = gw_tlog_size(txn, s.tlog, &size);
    if (rc == HCP_OK)
        rc = sign_tree(data, txn, s.tlog, size, &note, vkey);
    if (rc == HCP_OK)
        rc = put_tiles(p, &s, txn, size, &tile);
    if (rc == HCP_OK)
        rc = put_feed_pages(p, &s, txn, now, &newest);
    if (rc == HCP_OK)
        rc = put_feed_docs(p, &s, txn, now, newest);
    if (rc == HCP_OK)
        rc = put_stats(p, &s, txn, now);
    if (rc == HCP_OK)
        rc = put_spot(p, &s, txn);
    if (txn != NULL)
        mdb_txn_abort(txn);
    hcpd_env_close(&s.db);
    if (rc == HCP_OK)
        rc = put_www(p);
    if (rc == HCP_OK)
        rc = put_file(p, "log/key", vkey, strlen(vkey), false);
    if (rc == HCP_OK) /* last: every tile it covers is in place */
        rc = put_file(p, "log/checkpoint", note.data, note.len, false);
    for (size_t i = 0; rc == HCP_OK && i + sizeof(pub_full) <= p->full.len; i += sizeof(pub_full)) {
        pub_full f;
        memcpy(&f, p->full.data + i, sizeof(f));
        prune_partials(p, f.level, f.n);
    }
    hcp_buf_free(&note);
    hcp_buf_free(&tile);
    if (rc == HCP_OK)
        printf("published the log of %llu entries to %s: %zu files written (%llu bytes), %zu "
               "unchanged\n",
               (unsigned long long)size, p->out, p->st.written, p->st.bytes, p->st.unchanged);
    else
        fprintf(stderr, PROG ": failed: %s\n", hcp_strerror(rc));
    return rc;
}

int gw_cmd_publish(int argc, char **argv)
{
    static const struct option opts[] = {{"data", required_argument, NULL, 'd'},
                                         {"out", required_argument, NULL, 'o'},
                                         {"divisions", required_argument, NULL, 'v'},
                                         {"quiet", no_argument, NULL, 'q'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *data = NULL, *out = NULL, *divisions = NULL;
    bool quiet = false;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'd':
            data = optarg;
            break;
        case 'o':
            out = optarg;
            break;
        case 'v':
            divisions = optarg;
            break;
        case 'q':
            quiet = true;
            break;
        case 'h':
            fputs(usage, stdout);
            return 0;
        default:
            fputs(usage, stderr);
            return 2;
        }
    }
    if (optind < argc || data == NULL || out == NULL || out[0] == '\0') {
        fputs(usage, stderr);
        return 2;
    }
    char why[512];
    if (divisions != NULL && hcp_divisions_load(divisions, why, sizeof(why)) != HCP_OK) {
        fprintf(stderr, PROG ": --divisions %s\n", why);
        return 2;
    }
    if (mkdir(out, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, PROG ": cannot make %s: %s\n", out, strerror(errno));
        return 1;
    }
    pub p = {.out = out, .quiet = quiet};
    hcp_buf_init(&p.old, BODY_MAX);
    hcp_buf_init(&p.full, 1u << 30);
    int rc = publish_all(&p, data);
    hcp_buf_free(&p.old);
    hcp_buf_free(&p.full);
    return rc == HCP_OK ? 0 : 1;
}
