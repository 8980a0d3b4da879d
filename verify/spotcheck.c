/*
 * spotcheck.c — `hcp-verify spotcheck`: anyone recomputes a published spot
 * check (docs/spotchecks.md) from public data only:
 *
 *   hcp-verify spotcheck --key KEY --draw URL|FILE --log URL|DIR [--id N]
 *
 * For each draw (GET /feed/spotchecks.json, or a file holding it or one
 * draw): the checkpoint's signature by the pinned key; the log's entries up
 * to the checkpoint's size, which must make the root it signs; the
 * population of the period from those entries (core/sample.h, the rule the
 * gateway runs); the seed; and the sample of every county. One difference
 * fails, naming it. Exit 0 verified, 1 verification failed, 2 usage error
 * or unreachable.
 */
#include "spotcheck.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "chain.h"
#include "merkle.h"
#include "note.h"
#include "sample.h"
#include "vsource.h"

#define EXIT_OK    0
#define EXIT_FAIL  1
#define EXIT_USAGE 2
#define FETCH_MAX  (256u << 20)

/* Say why verification failed (or could not run) and return code. */
static int sfail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int sfail(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs(code == EXIT_FAIL ? "hcp-verify spotcheck: FAILED: " : "hcp-verify spotcheck: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return code;
}

/* Read loc (a URL or a file path) into out (reset). */
static int read_loc(const char *loc, hcp_buf *out, char *why, size_t wlen)
{
    return vsrc_read(loc, 120, out, why, wlen);
}

/* The verifier key from its text or a file holding it. */
static int key_get(const char *arg, hcp_note_verifier *v)
{
    if (vsrc_key(arg, v) != HCP_OK)
        return sfail(EXIT_USAGE, "--key %s: not a verifier key (name+hex id+base64 key)", arg);
    return EXIT_OK;
}

/* ---- the log, up to a checkpoint ---- */

typedef struct recount {
    const char *log;     /* URL or directory */
    uint64_t size;       /* the checkpoint's */
    uint8_t root[32];    /* the checkpoint's */
    hcp_merkle_hash *lv; /* level-0 hashes, size of them */
    hcp_sample_pop pop;
} recount;

/* The location of entry tile tn of width w under the log source. */
static int tile_loc(const char *log, uint64_t tn, unsigned w, char *rel, char *loc, size_t cap)
{
    memcpy(rel, "log/", 4);
    if (hcp_tile_path(HCP_TILE_ENTRIES, tn, w, rel + 4, HCP_TILE_PATH_MAX) != HCP_OK)
        return HCP_ERANGE;
    size_t bl = strlen(log);
    bool slash = bl > 0 && log[bl - 1] == '/';
    return snprintf(loc, cap, "%s%s%s", log, slash ? "" : "/", rel) < (int)cap ? HCP_OK
                                                                               : HCP_ERANGE;
}

/* Fetch entry tile tn holding at least w entries into b; *fw its width.
 * The tile of exactly w first; a log that grew since the checkpoint may
 * serve (or a mirror may keep) only a wider one: then the full tile, then
 * (a directory) the narrowest wider partial tile it holds. */
static int fetch_tile(const char *log, uint64_t tn, unsigned w, hcp_buf *b, unsigned *fw, char *rel,
                      char *why, size_t wlen)
{
    char loc[8192];
    int e = tile_loc(log, tn, w, rel, loc, sizeof(loc));
    if (e == HCP_OK)
        e = read_loc(loc, b, why, wlen);
    *fw = w;
    if (e != HCP_ENOTFOUND || w == HCP_TILE_WIDTH)
        return e;
    char rel2[HCP_TILE_PATH_MAX + 8], why2[512];
    if (tile_loc(log, tn, HCP_TILE_WIDTH, rel2, loc, sizeof(loc)) == HCP_OK &&
        read_loc(loc, b, why2, sizeof(why2)) == HCP_OK) {
        *fw = HCP_TILE_WIDTH;
        return HCP_OK;
    }
    for (unsigned x = w + 1; !vsrc_is_url(log) && x < HCP_TILE_WIDTH; x++)
        if (tile_loc(log, tn, x, rel2, loc, sizeof(loc)) == HCP_OK && access(loc, R_OK) == 0 &&
            read_loc(loc, b, why2, sizeof(why2)) == HCP_OK) {
            *fw = x;
            return HCP_OK;
        }
    return HCP_ENOTFOUND;
}

/* Read the first w entries of tile tn and take each: its leaf hash and
 * the population rule. Exit code. */
static int take_tile(recount *rc, uint64_t tn, unsigned w, hcp_buf *b)
{
    char rel[HCP_TILE_PATH_MAX + 8], why[512] = "";
    unsigned fw = w;
    int e = fetch_tile(rc->log, tn, w, b, &fw, rel, why, sizeof(why));
    if (e == HCP_ENOTFOUND)
        return sfail(EXIT_FAIL, "the log does not serve %s, which the draw's checkpoint covers",
                     rel);
    if (e != HCP_OK)
        return sfail(EXIT_USAGE, "cannot read %s: %s", rel, why);
    size_t off = 0;
    for (unsigned k = 0; k < w; k++) {
        uint64_t i = tn * HCP_TILE_WIDTH + k;
        if (off + 2 > b->len)
            return sfail(EXIT_FAIL, "%s is cut short at entry %" PRIu64, rel, i);
        size_t len = (size_t)b->data[off] << 8 | b->data[off + 1];
        off += 2;
        if (off + len > b->len)
            return sfail(EXIT_FAIL, "%s is cut short at entry %" PRIu64, rel, i);
        if (hcp_merkle_leaf_hash(b->data + off, len, rc->lv[i]) != HCP_OK)
            return sfail(EXIT_USAGE, "hashing failed");
        e = hcp_sample_pop_leaf(&rc->pop, (const char *)b->data + off, len);
        if (e == HCP_EFORMAT)
            return sfail(EXIT_FAIL, "log entry %" PRIu64 " is not a case's feed entry", i);
        if (e != HCP_OK)
            return sfail(EXIT_USAGE, "out of memory");
        off += len;
    }
    if (fw == w && off != b->len)
        return sfail(EXIT_FAIL, "%s holds bytes after its %u entries", rel, w);
    return EXIT_OK;
}

/* The stored hashes of the complete subtrees, for hcp_merkle_root. */
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

/* Whether the leaf hashes make the checkpoint's root. Exit code. */
static int check_root(recount *rc)
{
    levels t = {.n = rc->size};
    t.lv[0] = rc->lv;
    int code = EXIT_OK;
    for (unsigned l = 1; code == EXIT_OK && l < 64 && (rc->size >> l) > 0; l++) {
        uint64_t cnt = rc->size >> l;
        t.lv[l] = calloc(cnt, 32);
        if (t.lv[l] == NULL)
            code = sfail(EXIT_USAGE, "out of memory");
        for (uint64_t i = 0; code == EXIT_OK && i < cnt; i++)
            if (hcp_merkle_node_hash(t.lv[l - 1][2 * i], t.lv[l - 1][2 * i + 1], t.lv[l][i]) !=
                HCP_OK)
                code = sfail(EXIT_USAGE, "hashing failed");
    }
    uint8_t root[32];
    if (code == EXIT_OK && (hcp_merkle_root(levels_get, &t, rc->size, root) != HCP_OK ||
                            memcmp(root, rc->root, 32) != 0))
        code = sfail(EXIT_FAIL,
                     "the log's first %" PRIu64 " entries do not make the root the "
                     "draw's checkpoint signs (an entry was changed, removed or "
                     "reordered)",
                     rc->size);
    for (unsigned l = 1; l < 64; l++)
        free(t.lv[l]);
    return code;
}

/* ---- one draw ---- */

/* The checkpoint of draw d, checked with v: size and root into rc. */
static int draw_checkpoint(const hcp_note_verifier *v, const json_t *d, recount *rc)
{
    const char *cp = json_string_value(json_object_get(d, "checkpoint"));
    if (cp == NULL)
        return sfail(EXIT_FAIL, "the draw carries no checkpoint");
    size_t blen = 0;
    int e = hcp_note_verify(v, cp, strlen(cp), &blen);
    if (e == HCP_ENOTFOUND)
        return sfail(EXIT_FAIL, "the draw's checkpoint carries no signature by the key %s",
                     v->name);
    if (e == HCP_ECRYPTO)
        return sfail(EXIT_FAIL,
                     "the draw's checkpoint: the signature by %s does not verify "
                     "(changed or forged)",
                     v->name);
    if (e != HCP_OK)
        return sfail(EXIT_FAIL, "the draw's checkpoint is not a signed note");
    char origin[HCP_NOTE_NAME_MAX + 1];
    if (hcp_checkpoint_parse(cp, blen, origin, sizeof(origin), &rc->size, rc->root) != HCP_OK ||
        strcmp(origin, v->name) != 0)
        return sfail(EXIT_FAIL, "the draw's checkpoint is not one of the log %s", v->name);
    json_t *ts = json_object_get(d, "tree_size");
    if (ts != NULL && (!json_is_integer(ts) || (uint64_t)json_integer_value(ts) != rc->size))
        return sfail(EXIT_FAIL,
                     "the draw says tree_size %" JSON_INTEGER_FORMAT
                     " but its checkpoint covers %" PRIu64 " entries",
                     json_integer_value(ts), rc->size);
    return EXIT_OK;
}

/* Compare the recomputed population and sample (items sorted by county
 * and rank) with the draw's. Exit code. */
static int compare(const json_t *d, const hcp_sample_item *it, size_t n, size_t *drawn)
{
    json_t *pop = json_object_get(d, "population"), *sample = json_object_get(d, "sample");
    size_t counties = 0;
    *drawn = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i, k = 0;
        const char *c = it[i].county;
        json_t *ids = json_object_get(sample, c);
        json_t *np = json_object_get(pop, c);
        while (j < n && strcmp(it[j].county, c) == 0)
            j++;
        counties++;
        if (!json_is_integer(np) || (size_t)json_integer_value(np) != j - i)
            return sfail(EXIT_FAIL,
                         "county %s: the log makes a population of %zu cases closed in the "
                         "period, the draw says %" JSON_INTEGER_FORMAT,
                         c, j - i, json_integer_value(np));
        for (size_t m = i; m < j && it[m].drawn; m++, k++) {
            const char *pub = json_string_value(json_array_get(ids, k));
            if (pub == NULL || strcmp(pub, it[m].id) != 0)
                return sfail(EXIT_FAIL,
                             "county %s: place %zu of the sample is %s by the recomputation, "
                             "the draw shows %s",
                             c, k + 1, it[m].id, pub != NULL ? pub : "nothing");
        }
        if (json_array_size(ids) != k)
            return sfail(EXIT_FAIL,
                         "county %s: the draw shows %zu cases drawn, the recomputation %zu "
                         "(first extra: %s)",
                         c, json_array_size(ids), k,
                         json_string_value(json_array_get(ids, k)) != NULL
                             ? json_string_value(json_array_get(ids, k))
                             : "?");
        *drawn += k;
        i = j;
    }
    if (json_object_size(pop) != counties || json_object_size(sample) > counties)
        return sfail(EXIT_FAIL, "the draw names a county in which the log shows no case closed "
                                "in the period");
    return EXIT_OK;
}

/* Recompute draw d from the log. Exit code. */
static int verify_draw(const hcp_note_verifier *v, const json_t *d, const char *log)
{
    recount rc = {.log = log};
    const char *period = json_string_value(json_object_get(d, "period"));
    const char *beacon = json_string_value(json_object_get(d, "beacon"));
    const char *seedhex = json_string_value(json_object_get(d, "seed"));
    json_t *jid = json_object_get(d, "id"), *jppm = json_object_get(d, "rate_ppm");
    json_t *jmin = json_object_get(d, "min_per_county"), *jrate = json_object_get(d, "rate");
    uint32_t ppm = 0;
    if (period == NULL || beacon == NULL || seedhex == NULL || !json_is_integer(jppm) ||
        !json_is_integer(jmin) || json_integer_value(jmin) < 0 ||
        json_integer_value(jmin) > UINT32_MAX || !json_is_number(jrate) ||
        hcp_sample_rate_ppm(json_number_value(jrate), &ppm) != HCP_OK ||
        (json_int_t)ppm != json_integer_value(jppm))
        return sfail(EXIT_FAIL, "a draw lacks one of period, beacon, seed, rate, rate_ppm, "
                                "min_per_county, or its rate and rate_ppm disagree");
    int code = draw_checkpoint(v, d, &rc);
    if (code != EXIT_OK)
        return code;
    if (hcp_sample_pop_init(&rc.pop, period, strlen(period)) != HCP_OK)
        return sfail(EXIT_FAIL, "the draw's period \"%s\" is not a month", period);
    rc.lv = calloc(rc.size + 1, sizeof(*rc.lv));
    hcp_buf b;
    hcp_buf_init(&b, FETCH_MAX);
    if (rc.lv == NULL)
        code = sfail(EXIT_USAGE, "out of memory");
    for (uint64_t tn = 0; code == EXIT_OK && tn * HCP_TILE_WIDTH < rc.size; tn++)
        code = take_tile(&rc, tn, hcp_tile_width(HCP_TILE_ENTRIES, tn, rc.size), &b);
    hcp_buf_free(&b);
    if (code == EXIT_OK)
        code = check_root(&rc);
    uint8_t seed[32];
    char hex[65];
    if (code == EXIT_OK && hcp_sample_seed(rc.root, beacon, strlen(beacon), seed) != HCP_OK)
        code = sfail(EXIT_FAIL, "the beacon is not text of at most 1024 bytes");
    if (code == EXIT_OK) {
        hcp_hash_hex(seed, hex);
        if (strcmp(hex, seedhex) != 0)
            code = sfail(EXIT_FAIL, "the seed is %s by the recomputation, the draw shows %s", hex,
                         seedhex);
    }
    if (code == EXIT_OK && hcp_sample_draw(seed, rc.pop.items, rc.pop.n, ppm,
                                           (uint32_t)json_integer_value(jmin)) != HCP_OK)
        code = sfail(EXIT_USAGE, "the draw could not be recomputed");
    size_t drawn = 0;
    if (code == EXIT_OK)
        code = compare(d, rc.pop.items, rc.pop.n, &drawn);
    if (code == EXIT_OK)
        printf("OK: spot check %" JSON_INTEGER_FORMAT " (%s): checkpoint of %" PRIu64
               " entries signed by %s+%08" PRIx32 "; population %zu; sample %zu — recomputed "
               "identically\n",
               json_integer_value(jid), period, rc.size, v->name, v->key_id, rc.pop.n, drawn);
    free(rc.lv);
    hcp_sample_pop_free(&rc.pop);
    return code;
}

static int spot_usage(void)
{
    fprintf(stderr, "usage: hcp-verify spotcheck --key KEY --draw URL|FILE --log URL|DIR [--id N]\n"
                    "--draw: GET /feed/spotchecks.json (or a file holding it, or one draw);\n"
                    "--log: the gateway's public URL or a directory of its published files.\n");
    return EXIT_USAGE;
}

int hcp_verify_spotcheck(int argc, char **argv)
{
    const char *key = NULL, *draw = NULL, *log = NULL;
    long long only = 0;
    for (int i = 0; i < argc; i++) {
        if (i + 1 >= argc)
            return spot_usage();
        if (strcmp(argv[i], "--key") == 0)
            key = argv[++i];
        else if (strcmp(argv[i], "--draw") == 0)
            draw = argv[++i];
        else if (strcmp(argv[i], "--log") == 0)
            log = argv[++i];
        else if (strcmp(argv[i], "--id") == 0) {
            char *end;
            only = strtoll(argv[++i], &end, 10);
            if (*end != '\0' || only < 1)
                return spot_usage();
        } else
            return spot_usage();
    }
    if (key == NULL || draw == NULL || log == NULL)
        return spot_usage();
    hcp_note_verifier v;
    int code = key_get(key, &v);
    if (code != EXIT_OK)
        return code;
    hcp_buf b;
    char why[512] = "";
    hcp_buf_init(&b, FETCH_MAX);
    int e = read_loc(draw, &b, why, sizeof(why));
    json_t *j = e == HCP_OK ? json_loadb((const char *)b.data, b.len, 0, NULL) : NULL;
    hcp_buf_free(&b);
    if (e != HCP_OK)
        return sfail(EXIT_USAGE, "cannot read the draw: %s", e == HCP_ENOTFOUND ? draw : why);
    json_t *list = json_is_array(j)                           ? j
                   : json_object_get(j, "spotchecks") != NULL ? json_object_get(j, "spotchecks")
                                                              : NULL;
    json_t *one = list == NULL && json_object_get(j, "checkpoint") != NULL ? j : NULL;
    if (!json_is_array(list) && one == NULL) {
        json_decref(j);
        return sfail(EXIT_FAIL, "--draw %s: neither a list of draws nor a draw", draw);
    }
    size_t n = one != NULL ? 1 : json_array_size(list), done = 0;
    for (size_t i = 0; code == EXIT_OK && i < n; i++) {
        json_t *d = one != NULL ? one : json_array_get(list, i);
        if (only != 0 && json_integer_value(json_object_get(d, "id")) != only)
            continue;
        code = verify_draw(&v, d, log);
        done++;
    }
    json_decref(j);
    if (code == EXIT_OK && done == 0)
        return sfail(EXIT_FAIL, "no draw to verify%s", only != 0 ? " of that id" : "");
    return code;
}
