/*
 * spot_gen.c — the spot-check benchmark's data and draw (bench/spot_bench.py,
 * docs/bench.md "Spot checks"):
 *
 *   bench_spot_gen OUT_DIR N COUNTIES RATE MIN [GATEWAY_DIR]
 *
 * Writes a published log of N synthetic closed cases (feed entries shaped
 * like the gateway's, spread over the first COUNTIES county divisions,
 * closed in November 2026) under OUT_DIR: log/tile/entries/..., a
 * checkpoint signed with a fresh key (log/checkpoint) and its verifier key
 * (log.key). Then draws over it the way the gateway does (core/sample.h:
 * every leaf through the population rule, then seed, rank, sort, cut) and
 * writes the draw as OUT_DIR/spotchecks.json, the public feed's shape, for
 * hcp-verify spotcheck. Prints one JSON line of timings (monotonic clock):
 * gen_s (building and writing the log), scan_s (the population: every
 * leaf parsed), draw_s (ranks, sort, sizes), population, sample; scan_cpu_s
 * and draw_cpu_s, the same on the process's CPU clock (on a shared
 * machine the wall clock also counts the others' work).
 *
 * With GATEWAY_DIR, the same leaves are also appended, in log order, to
 * the transparency log of a gateway store created there with the
 * gateway's own code (gw_store_open, gw_tlog_append: the leaf, its hash
 * and every complete subtree's, 100,000 per transaction), so that
 * hcp-gateway started on it draws over the same tree through its route
 * (bench/spot_bench.py): fill_s is that fill's time. The cases
 * themselves are not written: the draw reads the log only.
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "chain.h"
#include "division.h"
#include "gw.h"
#include "gwstore.h"
#include "tlog.h"
#include "merkle.h"
#include "note.h"
#include "sample.h"

static double now_s(void)
{
    struct timespec ts;
    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The process's CPU seconds (user and system). */
static double cpu_s(void)
{
    struct timespec ts;
    (void)clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static char *entry(const char *county, const char *name, uint64_t i, size_t nc);

#define FILL_PER_TXN 100000

/* The leaves [from, to) appended to the gateway store's log in one txn. */
static int fill_chunk(gw *g, uint64_t from, uint64_t to, size_t nc, const hcp_division **cs)
{
    MDB_txn *txn;
    int rc = gws_err(mdb_txn_begin(g->store->db.env, NULL, 0, &txn));
    if (rc != HCP_OK)
        return rc;
    for (uint64_t i = from; rc == HCP_OK && i < to; i++) {
        const hcp_division *d = cs[i % nc];
        char *e = entry(d->code, d->name, i, nc);
        rc = e != NULL ? gw_tlog_append(txn, g->store->tlog, e, strlen(e)) : HCP_ENOMEM;
        free(e);
    }
    if (rc == HCP_OK)
        return gws_err(mdb_txn_commit(txn));
    mdb_txn_abort(txn);
    return rc;
}

/* A gateway store in dir whose log holds the same n leaves as the tiles. */
static int fill_gateway(const char *dir, uint64_t n, size_t nc, const hcp_division **cs)
{
    static gw g;
    snprintf(g.cfg.data, sizeof(g.cfg.data), "%s", dir);
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return HCP_EIO;
    if (hcp_cal_default(&g.cal) != HCP_OK || gw_store_open(&g) != HCP_OK)
        return HCP_EIO;
    /* a fill for measuring: no fsync per commit, one at the end; a map
     * large enough for the whole log (address space, not disk) */
    int rc = hcpd_env_grow(&g.store->db, (size_t)16 << 30);
    if (rc == HCP_OK)
        rc = gws_err(mdb_env_set_flags(g.store->db.env, MDB_NOSYNC, 1));
    for (uint64_t i = 0; rc == HCP_OK && i < n; i += FILL_PER_TXN)
        rc = fill_chunk(&g, i, i + FILL_PER_TXN < n ? i + FILL_PER_TXN : n, nc, cs);
    if (rc == HCP_OK)
        rc = gws_err(mdb_env_sync(g.store->db.env, 1));
    gw_store_close(&g);
    hcp_cal_free(g.cal);
    return rc;
}

/* mkdir -p of the directory part of path. */
static int mkdirs(char *path)
{
    for (char *p = path + 1; *p != '\0'; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        int rc = mkdir(path, 0755);
        *p = '/';
        if (rc != 0 && errno != EEXIST)
            return -1;
    }
    return 0;
}

static int write_file(const char *dir, const char *rel, const void *data, size_t len)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, rel);
    if (mkdirs(path) != 0)
        return -1;
    FILE *f = fopen(path, "wb");
    if (f == NULL)
        return -1;
    size_t w = fwrite(data, 1, len, f);
    return fclose(f) == 0 && w == len ? 0 : -1;
}

/* One synthetic feed entry: a case of county closed in November. */
static char *entry(const char *county, const char *name, uint64_t i, size_t nc)
{
    char id[64], at[32];
    snprintf(id, sizeof(id), "%s-202611%02u-%04llu", county, (unsigned)(1 + i % 28),
             (unsigned long long)(i / nc + 1));
    snprintf(at, sizeof(at), "2026-11-%02uT%02u:%02u:00+08:00", (unsigned)(1 + (i * 7) % 30),
             (unsigned)(8 + i % 10), (unsigned)(i % 60));
    json_t *j = json_pack(
        "{ss,ss,ss,ss,ss,ss,ss,ss,ss,ss,ss,ss,ss,ss,ss,s[s],ss,sn,sb,sb,sn}", "service_request_id",
        id, "status", "closed", "status_notes", "经核实不属实，已反馈核实结果", "service_code",
        "QH-001", "service_name", "营业执照办理", "agency_responsible", "政务服务中心",
        "requested_datetime", "2026-11-01T09:00:00+08:00", "updated_datetime", at, "step_datetime",
        at, "recorded_datetime", at, "expected_datetime", "2026-11-08T23:59:59+08:00", "county",
        county, "county_name", name, "kind", "complaint", "channel", "phone", "dimensions",
        "attitude", "outcome", "unsubstantiated", "rectification_result", "revisited", 0,
        "deadline_provisional", 0, "deadline_note");
    char *s = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    return s;
}

typedef struct levels {
    uint64_t n;
    hcp_merkle_hash *lv[64];
} levels;

static int levels_get(void *arg, unsigned level, uint64_t i, uint8_t out[32])
{
    const levels *t = arg;
    if (level >= 64 || t->lv[level] == NULL || ((i + 1) << level) > t->n)
        return HCP_ENOTFOUND;
    memcpy(out, t->lv[level][i], 32);
    return HCP_OK;
}

/* Build and write the log; its root and a signed checkpoint. */
static int make_log(const char *out, uint64_t n, size_t nc, const hcp_division **cs, hcp_buf *note)
{
    levels t = {.n = n};
    t.lv[0] = calloc(n + 1, 32);
    hcp_buf tile;
    hcp_buf_init(&tile, (size_t)HCP_TILE_WIDTH * (2 + HCP_TILE_ENTRY_MAX));
    int rc = t.lv[0] != NULL ? HCP_OK : HCP_ENOMEM;
    for (uint64_t i = 0; rc == HCP_OK && i < n; i++) {
        const hcp_division *d = cs[i % nc];
        char *e = entry(d->code, d->name, i, nc);
        size_t len = e != NULL ? strlen(e) : 0;
        uint8_t lb[2] = {(uint8_t)(len >> 8), (uint8_t)len};
        rc = e != NULL ? hcp_buf_append(&tile, lb, 2) : HCP_ENOMEM;
        if (rc == HCP_OK)
            rc = hcp_buf_append(&tile, e, len);
        if (rc == HCP_OK)
            rc = hcp_merkle_leaf_hash(e, len, t.lv[0][i]);
        free(e);
        if (rc == HCP_OK && ((i + 1) % HCP_TILE_WIDTH == 0 || i + 1 == n)) {
            uint64_t tn = i / HCP_TILE_WIDTH;
            char rel[HCP_TILE_PATH_MAX + 8] = "log/";
            rc = hcp_tile_path(HCP_TILE_ENTRIES, tn, hcp_tile_width(HCP_TILE_ENTRIES, tn, n),
                               rel + 4, HCP_TILE_PATH_MAX);
            if (rc == HCP_OK && write_file(out, rel, tile.data, tile.len) != 0)
                rc = HCP_EIO;
            hcp_buf_reset(&tile);
        }
    }
    hcp_buf_free(&tile);
    for (unsigned l = 1; rc == HCP_OK && l < 64 && (n >> l) > 0; l++) {
        t.lv[l] = calloc(n >> l, 32);
        rc = t.lv[l] != NULL ? HCP_OK : HCP_ENOMEM;
        for (uint64_t i = 0; rc == HCP_OK && i < (n >> l); i++)
            rc = hcp_merkle_node_hash(t.lv[l - 1][2 * i], t.lv[l - 1][2 * i + 1], t.lv[l][i]);
    }
    uint8_t root[32], seed[32];
    char body[256], vkey[HCP_NOTE_KEY_MAX];
    size_t blen = 0;
    hcp_note_signer *s = NULL;
    if (rc == HCP_OK)
        rc = hcp_merkle_root(levels_get, &t, n, root);
    if (rc == HCP_OK)
        rc = hcp_note_keygen(seed);
    if (rc == HCP_OK)
        rc = hcp_note_signer_new(HCP_LOG_ORIGIN, seed, &s);
    if (rc == HCP_OK)
        rc = hcp_checkpoint_body(HCP_LOG_ORIGIN, n, root, body, sizeof(body), &blen);
    if (rc == HCP_OK)
        rc = hcp_note_sign(s, body, blen, note);
    if (rc == HCP_OK)
        rc = hcp_note_signer_vkey(s, vkey, sizeof(vkey));
    if (rc == HCP_OK && (write_file(out, "log/checkpoint", note->data, note->len) != 0 ||
                         write_file(out, "log.key", vkey, strlen(vkey)) != 0))
        rc = HCP_EIO;
    hcp_note_signer_free(s);
    for (unsigned l = 0; l < 64; l++)
        free(t.lv[l]);
    return rc;
}

/* Read the leaves back from the tiles, as the gateway reads its LMDB. */
static int scan(const char *out, uint64_t n, hcp_sample_pop *pop)
{
    hcp_buf b;
    hcp_buf_init(&b, (size_t)HCP_TILE_WIDTH * (2 + HCP_TILE_ENTRY_MAX));
    int rc = HCP_OK;
    for (uint64_t tn = 0; rc == HCP_OK && tn * HCP_TILE_WIDTH < n; tn++) {
        char rel[HCP_TILE_PATH_MAX + 8] = "log/", path[4096];
        unsigned w = hcp_tile_width(HCP_TILE_ENTRIES, tn, n);
        rc = hcp_tile_path(HCP_TILE_ENTRIES, tn, w, rel + 4, HCP_TILE_PATH_MAX);
        snprintf(path, sizeof(path), "%s/%s", out, rel);
        FILE *f = rc == HCP_OK ? fopen(path, "rb") : NULL;
        char chunk[65536];
        size_t k;
        hcp_buf_reset(&b);
        while (f != NULL && rc == HCP_OK && (k = fread(chunk, 1, sizeof(chunk), f)) > 0)
            rc = hcp_buf_append(&b, chunk, k);
        if (f == NULL)
            rc = HCP_EIO;
        else
            fclose(f);
        for (size_t off = 0; rc == HCP_OK && off + 2 <= b.len;) {
            size_t len = (size_t)b.data[off] << 8 | b.data[off + 1];
            rc = off + 2 + len <= b.len
                     ? hcp_sample_pop_leaf(pop, (const char *)b.data + off + 2, len)
                     : HCP_EFORMAT;
            off += 2 + len;
        }
    }
    hcp_buf_free(&b);
    return rc;
}

/* The draw as the public feed shows it, written to OUT/spotchecks.json. */
static int write_draw(const char *out, const hcp_buf *note, uint64_t n, const char *beacon,
                      const uint8_t seed[32], double rate, uint32_t ppm, uint32_t minpc,
                      const hcp_sample_pop *pop, size_t *drawn)
{
    char hex[65];
    hcp_hash_hex(seed, hex);
    json_t *popj = json_object(), *sample = json_object();
    *drawn = 0;
    for (size_t i = 0; i < pop->n;) {
        size_t j = i;
        json_t *ids = json_array();
        while (j < pop->n && strcmp(pop->items[j].county, pop->items[i].county) == 0) {
            if (pop->items[j].drawn) {
                (void)json_array_append_new(ids, json_string(pop->items[j].id));
                (*drawn)++;
            }
            j++;
        }
        (void)json_object_set_new(popj, pop->items[i].county, json_integer((json_int_t)(j - i)));
        (void)json_object_set_new(sample, pop->items[i].county, ids);
        i = j;
    }
    char *cp = hcp_strndup((const char *)note->data, note->len);
    json_t *d = json_pack("{sI,ss,ss,sf,sI,sI,ss,sI,ss,so,so}", "id", (json_int_t)1, "period",
                          "2026-11", "checkpoint", cp, "rate", rate, "rate_ppm", (json_int_t)ppm,
                          "min_per_county", (json_int_t)minpc, "beacon", beacon, "tree_size",
                          (json_int_t)n, "seed", hex, "population", popj, "sample", sample);
    free(cp);
    json_t *all = json_pack("{s[o]}", "spotchecks", d);
    char *text = all != NULL ? json_dumps(all, JSON_COMPACT) : NULL;
    json_decref(all);
    int rc = text != NULL && write_file(out, "spotchecks.json", text, strlen(text)) == 0 ? HCP_OK
                                                                                         : HCP_EIO;
    free(text);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc != 6 && argc != 7) {
        fprintf(stderr, "usage: bench_spot_gen OUT_DIR N COUNTIES RATE MIN [GATEWAY_DIR]\n");
        return 2;
    }
    const char *out = argv[1];
    uint64_t n = strtoull(argv[2], NULL, 10);
    size_t want = strtoul(argv[3], NULL, 10), nd = 0, nc = 0;
    double rate = strtod(argv[4], NULL);
    uint32_t minpc = (uint32_t)strtoul(argv[5], NULL, 10), ppm = 0;
    const hcp_division *divs = hcp_divisions(&nd);
    const hcp_division **cs = calloc(want + 1, sizeof(*cs));
    for (size_t i = 0; cs != NULL && i < nd && nc < want; i++)
        cs[nc++] = &divs[i];
    if (n == 0 || nc == 0 || hcp_sample_rate_ppm(rate, &ppm) != HCP_OK) {
        fprintf(stderr, "bench_spot_gen: bad arguments\n");
        free(cs);
        return 2;
    }
    hcp_buf note;
    hcp_buf_init(&note, HCP_NOTE_MAX);
    double t0 = now_s();
    int rc = make_log(out, n, nc, cs, &note);
    double t1 = now_s(), c1 = cpu_s();
    hcp_sample_pop pop;
    memset(&pop, 0, sizeof(pop));
    if (rc == HCP_OK)
        rc = hcp_sample_pop_init(&pop, "2026-11", 7);
    if (rc == HCP_OK)
        rc = scan(out, n, &pop);
    double t2 = now_s(), c2 = cpu_s();
    uint8_t root[32], seed[32];
    char origin[HCP_NOTE_NAME_MAX + 1];
    uint64_t size = 0;
    const char *beacon = "bench: 2026-12-01 双色球 03 07 12 19 25 31 + 09";
    size_t blen = 0;
    while (blen + 1 < note.len && !(note.data[blen] == '\n' && note.data[blen + 1] == '\n'))
        blen++;
    if (rc == HCP_OK)
        rc = hcp_checkpoint_parse((const char *)note.data, blen + 1, origin, sizeof(origin), &size,
                                  root);
    if (rc == HCP_OK)
        rc = hcp_sample_seed(root, beacon, strlen(beacon), seed);
    if (rc == HCP_OK)
        rc = hcp_sample_draw(seed, pop.items, pop.n, ppm, minpc);
    double t3 = now_s(), c3 = cpu_s();
    size_t drawn = 0;
    if (rc == HCP_OK)
        rc = write_draw(out, &note, n, beacon, seed, rate, ppm, minpc, &pop, &drawn);
    double t4 = now_s();
    if (rc == HCP_OK && argc == 7)
        rc = fill_gateway(argv[6], n, nc, cs);
    double t5 = now_s();
    if (rc == HCP_OK)
        printf("{\"leaves\":%llu,\"counties\":%zu,\"population\":%zu,\"sample\":%zu,"
               "\"gen_s\":%.3f,\"scan_s\":%.3f,\"draw_s\":%.3f,\"scan_cpu_s\":%.3f,"
               "\"draw_cpu_s\":%.3f,\"fill_s\":%.3f}\n",
               (unsigned long long)n, nc, pop.n, drawn, t1 - t0, t2 - t1, t3 - t2, c2 - c1, c3 - c2,
               t5 - t4);
    else
        fprintf(stderr, "bench_spot_gen: %s\n", hcp_strerror(rc));
    hcp_sample_pop_free(&pop);
    hcp_buf_free(&note);
    free(cs);
    return rc == HCP_OK ? 0 : 1;
}
