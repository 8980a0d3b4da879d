/*
 * hcp-verify — a citizen's check of the gateway's public transparency log
 * (docs/transparency.md), from its public URL (http://, with libcurl) or a
 * directory holding the same files (DIR/log/checkpoint, DIR/log/tile/...,
 * DIR/feed/requests.json):
 *
 *   hcp-verify checkpoint  --key KEY SRC          the signature of the checkpoint
 *   hcp-verify inclusion   --key KEY --case ID SRC   every entry of case ID is in the log
 *   hcp-verify consistency --key KEY OLD SRC      the log still holds the tree of OLD
 *   hcp-verify feed        --key KEY SRC          every feed entry is in the log
 *   hcp-verify spotcheck   --key KEY --draw D --log SRC   a spot check recomputed (spotcheck.c)
 *
 * KEY is the verifier key text (name+id+key, as GET /log/key serves it) or
 * a file holding it. Each command first checks the signature, then reads
 * every entry bundle and tile the checkpoint covers and recomputes the tree
 * (a changed entry or tile is named), then proves what it was asked.
 * Exit: 0 verified, 1 verification failed, 2 usage error or unreachable.
 */
#include <errno.h>
#include <stdarg.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#ifdef HCP_HAVE_CURL
#include <curl/curl.h>
#endif

#include "merkle.h"
#include "note.h"
#include "spotcheck.h"
#include "vsource.h"

#define EXIT_OK     0
#define EXIT_FAIL   1
#define EXIT_USAGE  2
#define FETCH_MAX   (64u << 20)
#define FEED_PAGE   200
#define FEED_PAGES  100000
#define RETRY_TIMES 5

static const char *src_base; /* the URL or directory */

/* Say why verification failed (or could not run) and return code. */
static int fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs(code == EXIT_FAIL ? "hcp-verify: FAILED: " : "hcp-verify: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return code;
}

/* Read rel (e.g. "log/checkpoint") from the source into out (reset).
 * HCP_OK; HCP_ENOTFOUND (404, no such file); HCP_EIO (unreachable or
 * another status: *why says which). */
static int fetch(const char *rel, hcp_buf *out, char *why, size_t wlen)
{
    char loc[8192];
    size_t bl = strlen(src_base);
    bool slash = bl > 0 && src_base[bl - 1] == '/';
    if (snprintf(loc, sizeof(loc), "%s%s%s", src_base, slash ? "" : "/", rel) >= (int)sizeof(loc))
        return HCP_ERANGE;
    return vsrc_read(loc, 60, out, why, wlen);
}

/* ---- the checkpoint ---- */

typedef struct head {
    uint64_t size;
    uint8_t root[32];
} head;

/* Check a signed checkpoint note by v: into *h. Exit code. */
static int check_note(const hcp_note_verifier *v, const hcp_buf *b, const char *what, head *h)
{
    size_t blen = 0;
    int rc = hcp_note_verify(v, (const char *)b->data, b->len, &blen);
    if (rc == HCP_ENOTFOUND)
        return fail(EXIT_FAIL, "%s carries no signature by the key %s", what, v->name);
    if (rc == HCP_ECRYPTO)
        return fail(EXIT_FAIL, "%s: the signature by %s does not verify (changed or forged)", what,
                    v->name);
    if (rc != HCP_OK)
        return fail(EXIT_FAIL, "%s is not a signed note (%s)", what, hcp_strerror(rc));
    char origin[HCP_NOTE_NAME_MAX + 1];
    rc = hcp_checkpoint_parse((const char *)b->data, blen, origin, sizeof(origin), &h->size,
                              h->root);
    if (rc != HCP_OK)
        return fail(EXIT_FAIL, "%s: not a checkpoint (%s)", what, hcp_strerror(rc));
    if (strcmp(origin, v->name) != 0)
        return fail(EXIT_FAIL, "%s is of the log \"%s\", not \"%s\"", what, origin, v->name);
    return EXIT_OK;
}

/* Fetch and check the log's current checkpoint. */
static int get_head(const hcp_note_verifier *v, head *h)
{
    hcp_buf b;
    char why[512] = "";
    hcp_buf_init(&b, HCP_NOTE_MAX);
    int rc = fetch("log/checkpoint", &b, why, sizeof(why));
    int code = rc == HCP_OK ? check_note(v, &b, "the checkpoint", h)
                            : fail(EXIT_USAGE, "cannot read the checkpoint: %s", why);
    hcp_buf_free(&b);
    return code;
}

/* ---- the whole tree, recomputed from the entry bundles ---- */

typedef struct tree {
    uint64_t n;
    hcp_buf *entries;        /* n entries */
    hcp_merkle_hash *lv[64]; /* stored hashes per level */
} tree;

static int mem_get(void *arg, unsigned level, uint64_t i, uint8_t out[32])
{
    const tree *t = arg;
    if (level >= 64 || t->lv[level] == NULL || ((i + 1) << level) > t->n)
        return HCP_ENOTFOUND;
    memcpy(out, t->lv[level][i], 32);
    return HCP_OK;
}

static void tree_free(tree *t)
{
    for (uint64_t i = 0; t->entries != NULL && i < t->n; i++)
        hcp_buf_free(&t->entries[i]);
    free(t->entries);
    for (int l = 0; l < 64; l++)
        free(t->lv[l]);
    memset(t, 0, sizeof(*t));
}

/* Every hash tile the source serves for the tree of h must hold the
 * hashes t's entries make. Exit code. */
static int check_tiles(const head *h, const tree *t)
{
    hcp_buf b;
    hcp_buf_init(&b, FETCH_MAX);
    char path[HCP_TILE_PATH_MAX + 8], why[512] = "";
    int code = EXIT_OK;
    for (int L = 0; code == EXIT_OK && L < 8 && (h->size >> (HCP_TILE_HEIGHT * L)) > 0; L++) {
        for (uint64_t tn = 0; code == EXIT_OK; tn++) {
            unsigned w = hcp_tile_width(L, tn, h->size);
            if (w == 0)
                break;
            memcpy(path, "log/", 4);
            if (hcp_tile_path(L, tn, w, path + 4, sizeof(path) - 4) != HCP_OK) {
                code = fail(EXIT_USAGE, "tile path");
                break;
            }
            int rc = fetch(path, &b, why, sizeof(why));
            if (rc != HCP_OK) {
                code = rc == HCP_ENOTFOUND ? fail(EXIT_FAIL, "the log does not serve %s", path)
                                           : fail(EXIT_USAGE, "cannot read %s: %s", path, why);
                break;
            }
            if (b.len != (size_t)w * 32) {
                code = fail(EXIT_FAIL, "%s has %zu bytes, not %u hashes", path, b.len, w);
                break;
            }
            unsigned lvl = (unsigned)L * HCP_TILE_HEIGHT;
            for (unsigned k = 0; k < w; k++)
                if (memcmp(b.data + 32 * k, t->lv[lvl][tn * HCP_TILE_WIDTH + k], 32) != 0) {
                    code = fail(EXIT_FAIL,
                                "%s: hash %u is not the one the entries make (the "
                                "tile was changed)",
                                path, k);
                    break;
                }
        }
    }
    hcp_buf_free(&b);
    return code;
}

/* Read every entry of the tree of h, recompute all its hashes, compare the
 * root, then every tile (check_tiles). Exit code. */
static int load_tree(const head *h, tree *t)
{
    memset(t, 0, sizeof(*t));
    t->n = h->size;
    t->entries = calloc(h->size + 1, sizeof(hcp_buf));
    t->lv[0] = calloc(h->size + 1, 32);
    if (t->entries == NULL || t->lv[0] == NULL)
        return fail(EXIT_USAGE, "out of memory for %" PRIu64 " entries", h->size);
    hcp_buf b;
    hcp_buf_init(&b, FETCH_MAX);
    char path[HCP_TILE_PATH_MAX + 8], why[512] = "";
    int code = EXIT_OK;
    for (uint64_t tn = 0; code == EXIT_OK && tn * HCP_TILE_WIDTH < h->size; tn++) {
        unsigned w = hcp_tile_width(HCP_TILE_ENTRIES, tn, h->size);
        memcpy(path, "log/", 4);
        if (hcp_tile_path(HCP_TILE_ENTRIES, tn, w, path + 4, sizeof(path) - 4) != HCP_OK)
            return fail(EXIT_USAGE, "tile path");
        int rc = fetch(path, &b, why, sizeof(why));
        if (rc != HCP_OK) {
            code = rc == HCP_ENOTFOUND
                       ? fail(EXIT_FAIL, "the log does not serve %s, which its checkpoint covers",
                              path)
                       : fail(EXIT_USAGE, "cannot read %s: %s", path, why);
            break;
        }
        size_t off = 0;
        for (unsigned k = 0; code == EXIT_OK && k < w; k++) {
            uint64_t i = tn * HCP_TILE_WIDTH + k;
            if (off + 2 > b.len) {
                code = fail(EXIT_FAIL, "%s is cut short at entry %" PRIu64, path, i);
                break;
            }
            size_t len = (size_t)b.data[off] << 8 | b.data[off + 1];
            off += 2;
            if (off + len > b.len) {
                code = fail(EXIT_FAIL, "%s is cut short at entry %" PRIu64, path, i);
                break;
            }
            hcp_buf_init(&t->entries[i], HCP_TILE_ENTRY_MAX + 1);
            if (hcp_buf_append(&t->entries[i], b.data + off, len) != HCP_OK ||
                hcp_buf_append(&t->entries[i], "", 1) != HCP_OK || /* NUL for jansson */
                hcp_merkle_leaf_hash(b.data + off, len, t->lv[0][i]) != HCP_OK)
                code = fail(EXIT_USAGE, "out of memory");
            t->entries[i].len = len;
            off += len;
        }
        if (code == EXIT_OK && off != b.len)
            code = fail(EXIT_FAIL, "%s holds bytes after its %u entries", path, w);
    }
    for (unsigned l = 1; code == EXIT_OK && l < 64 && (h->size >> l) > 0; l++) {
        uint64_t cnt = h->size >> l;
        t->lv[l] = calloc(cnt, 32);
        if (t->lv[l] == NULL)
            code = fail(EXIT_USAGE, "out of memory");
        for (uint64_t i = 0; code == EXIT_OK && i < cnt; i++)
            if (hcp_merkle_node_hash(t->lv[l - 1][2 * i], t->lv[l - 1][2 * i + 1], t->lv[l][i]) !=
                HCP_OK)
                code = fail(EXIT_USAGE, "hashing failed");
    }
    uint8_t root[32];
    if (code == EXIT_OK &&
        (hcp_merkle_root(mem_get, t, h->size, root) != HCP_OK || memcmp(root, h->root, 32) != 0))
        code =
            fail(EXIT_FAIL, "the entries the log serves do not make the tree its checkpoint signs "
                            "(an entry was changed, removed or reordered)");
    hcp_buf_free(&b);
    return code == EXIT_OK ? check_tiles(h, t) : code;
}

/* ---- hash reads from the served tiles, for proofs ---- */

typedef struct tiles {
    uint64_t size;
    int err; /* the first fetch failure */
} tiles;

static int tile_get(void *arg, unsigned level, uint64_t i, uint8_t out[32])
{
    tiles *ts = arg;
    if (level % HCP_TILE_HEIGHT != 0) { /* inside a tile: from the tile's bottom hashes */
        uint8_t l[32], r[32];
        int rc = tile_get(arg, level - 1, 2 * i, l);
        if (rc == HCP_OK)
            rc = tile_get(arg, level - 1, 2 * i + 1, r);
        return rc == HCP_OK ? hcp_merkle_node_hash(l, r, out) : rc;
    }
    int L = (int)(level / HCP_TILE_HEIGHT);
    uint64_t tn = i / HCP_TILE_WIDTH;
    unsigned w = hcp_tile_width(L, tn, ts->size), k = (unsigned)(i % HCP_TILE_WIDTH);
    if (k >= w)
        return HCP_ENOTFOUND;
    char path[HCP_TILE_PATH_MAX + 8], why[512];
    memcpy(path, "log/", 4);
    int rc = hcp_tile_path(L, tn, w, path + 4, sizeof(path) - 4);
    hcp_buf b;
    hcp_buf_init(&b, 32 * HCP_TILE_WIDTH);
    if (rc == HCP_OK)
        rc = fetch(path, &b, why, sizeof(why));
    if (rc == HCP_OK && b.len != (size_t)w * 32)
        rc = HCP_EFORMAT;
    if (rc == HCP_OK)
        memcpy(out, b.data + 32 * k, 32);
    hcp_buf_free(&b);
    if (rc != HCP_OK && ts->err == HCP_OK)
        ts->err = rc;
    return rc;
}

/* ---- the commands ---- */

/* The --key argument (its text or a file holding it) into v. */
static int read_key(const char *arg, hcp_note_verifier *v)
{
    if (vsrc_key(arg, v) != HCP_OK)
        return fail(EXIT_USAGE, "--key %s: not a verifier key (name+hex id+base64 key)", arg);
    return EXIT_OK;
}

static bool entry_is_case(const hcp_buf *e, const char *id)
{
    if (e->data == NULL || id == NULL)
        return false;
    json_t *j = json_loadb((const char *)e->data, e->len, 0, NULL);
    const char *got = json_string_value(json_object_get(j, "service_request_id"));
    bool yes = got != NULL && strcmp(got, id) == 0;
    json_decref(j);
    return yes;
}

static int cmd_inclusion(const hcp_note_verifier *v, const char *id)
{
    head h = {0};
    tree t = {0};
    int code = get_head(v, &h);
    if (code != EXIT_OK)
        return code;
    code = load_tree(&h, &t);
    size_t found = 0;
    tiles ts = {h.size, HCP_OK};
    for (uint64_t i = 0; code == EXIT_OK && i < t.n; i++) {
        if (!entry_is_case(&t.entries[i], id))
            continue;
        hcp_merkle_hash proof[HCP_MERKLE_PROOF_MAX];
        size_t plen = 0;
        int rc = hcp_merkle_inclusion_proof(tile_get, &ts, i, h.size, proof, &plen);
        if (rc == HCP_OK)
            rc = hcp_merkle_verify_inclusion(t.lv[0][i], i, h.size, proof, plen, h.root);
        if (rc != HCP_OK)
            code = fail(EXIT_FAIL, "entry %" PRIu64 " of case %s: no inclusion proof (%s)", i, id,
                        hcp_strerror(rc));
        else
            printf("entry %" PRIu64 " of case %s: included (proof of %zu hashes)\n", i, id, plen);
        found++;
    }
    if (code == EXIT_OK && found == 0)
        code =
            fail(EXIT_FAIL, "case %s has no entry in the log of %" PRIu64 " entries", id, h.size);
    if (code == EXIT_OK)
        printf("OK: %zu entries of case %s are in the log of %" PRIu64 " entries\n", found, id,
               h.size);
    tree_free(&t);
    return code;
}

static int cmd_consistency(const hcp_note_verifier *v, const char *old_file)
{
    hcp_buf b;
    hcp_buf_init(&b, HCP_NOTE_MAX);
    const char *saved = src_base;
    src_base = ""; /* a plain path */
    char why[512] = "";
    int rc = fetch(old_file, &b, why, sizeof(why));
    src_base = saved;
    head old = {0}, now = {0};
    int code = rc == HCP_OK ? check_note(v, &b, old_file, &old)
                            : fail(EXIT_USAGE, "cannot read %s: %s", old_file, why);
    hcp_buf_free(&b);
    if (code == EXIT_OK)
        code = get_head(v, &now);
    if (code != EXIT_OK)
        return code;
    if (now.size < old.size)
        return fail(EXIT_FAIL,
                    "the log serves a tree of %" PRIu64 " entries, older than the %" PRIu64
                    " of %s: it was rolled back or an old checkpoint is being served",
                    now.size, old.size, old_file);
    hcp_merkle_hash proof[HCP_MERKLE_PROOF_MAX];
    size_t plen = 0;
    tiles ts = {now.size, HCP_OK};
    rc = hcp_merkle_consistency_proof(tile_get, &ts, old.size, now.size, proof, &plen);
    if (rc == HCP_OK)
        rc = hcp_merkle_verify_consistency(old.size, now.size, old.root, now.root, proof, plen);
    if (rc != HCP_OK)
        return fail(EXIT_FAIL,
                    "the tree of %" PRIu64 " entries is not a prefix of the log's tree of %" PRIu64
                    " (%s): entries were changed or removed",
                    old.size, now.size, hcp_strerror(rc));
    printf("OK: the log's %" PRIu64 " entries extend the %" PRIu64 " of %s\n", now.size, old.size,
           old_file);
    return EXIT_OK;
}

static int cmp_str(const void *a, const void *b)
{
    const char *x = *(char *const *)a, *y = *(char *const *)b;
    return strcmp(x != NULL ? x : "", y != NULL ? y : ""); /* NULL: out of memory */
}

/* The canonical text of a JSON entry without the read-time field. */
static char *canon(json_t *j)
{
    (void)json_object_del(j, "deadline_met"); /* absent from a leaf: nothing to do */
    return json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
}

/* How many feed items (items, a JSON array) are no leaf of t; *first the
 * case of the first (borrowed from items). Leaves and items are compared
 * as canonical JSON without "deadline_met". */
static size_t count_missing(json_t *items, const tree *t, const char **first)
{
    size_t nitems = json_array_size(items), missing = 0;
    char **leaves = calloc(t->n + 1, sizeof(char *));
    for (uint64_t i = 0; leaves != NULL && i < t->n; i++) {
        json_t *j = json_loadb((const char *)t->entries[i].data, t->entries[i].len, 0, NULL);
        leaves[i] = j != NULL ? canon(j) : NULL;
        if (leaves[i] == NULL)
            leaves[i] = strdup("");
        json_decref(j);
    }
    if (leaves != NULL)
        qsort(leaves, t->n, sizeof(char *), cmp_str);
    for (size_t k = 0; leaves != NULL && k < nitems; k++) {
        json_t *it = json_deep_copy(json_array_get(items, k));
        char *c = it != NULL ? canon(it) : NULL;
        if (c == NULL || bsearch(&c, leaves, t->n, sizeof(char *), cmp_str) == NULL) {
            missing++;
            if (*first == NULL)
                *first = json_string_value(
                    json_object_get(json_array_get(items, k), "service_request_id"));
        }
        free(c);
        json_decref(it);
    }
    bool ok = leaves != NULL;
    for (uint64_t i = 0; ok && i < t->n; i++)
        free(leaves[i]);
    free(leaves);
    return ok ? missing : nitems;
}

static int cmd_feed(const hcp_note_verifier *v)
{
    /* the feed first: what it shows must be in a checkpoint signed after */
    json_t *items = json_array();
    hcp_buf b;
    hcp_buf_init(&b, FETCH_MAX);
    char why[512] = "", rel[128];
    int code = EXIT_OK;
    bool paged = true; /* a directory from `hcp-gateway publish` holds every page */
    for (int page = 1; code == EXIT_OK && page <= FEED_PAGES; page++) {
        if (vsrc_is_url(src_base))
            snprintf(rel, sizeof(rel), "feed/requests.json?page_size=%d&page=%d", FEED_PAGE, page);
        else if (paged)
            snprintf(rel, sizeof(rel), "feed/pages/%d/%d.json", FEED_PAGE, page);
        else
            snprintf(rel, sizeof(rel), "feed/requests.json");
        int rc = fetch(rel, &b, why, sizeof(why));
        if (rc == HCP_ENOTFOUND && !vsrc_is_url(src_base) && paged) {
            if (page > 1) /* the last page was full: there is no short one after it */
                break;
            paged = false; /* a copy without pages: its first page is all it has */
            page--;
            continue;
        }
        json_t *arr = rc == HCP_OK ? json_loadb((const char *)b.data, b.len, 0, NULL) : NULL;
        if (rc != HCP_OK || !json_is_array(arr)) {
            json_decref(arr);
            code = fail(rc == HCP_OK ? EXIT_FAIL : EXIT_USAGE, "cannot read the feed: %s",
                        rc == HCP_OK ? "not a JSON array" : why);
            break;
        }
        size_t n = json_array_size(arr);
        (void)json_array_extend(items, arr); /* out of memory shows as entries missing */
        json_decref(arr);
        if ((!vsrc_is_url(src_base) && !paged) || n < FEED_PAGE)
            break;
    }
    hcp_buf_free(&b);
    size_t nitems = json_array_size(items), missing = 0;
    for (int attempt = 0; code == EXIT_OK; attempt++) {
        head h = {0};
        tree t;
        memset(&t, 0, sizeof(t));
        code = get_head(v, &h);
        if (code == EXIT_OK)
            code = load_tree(&h, &t);
        if (code != EXIT_OK) {
            tree_free(&t);
            break;
        }
        const char *first = NULL;
        missing = count_missing(items, &t, &first);
        uint64_t size = t.n;
        tree_free(&t);
        if (missing == 0) {
            printf("OK: all %zu feed entries are in the log of %" PRIu64 " entries\n", nitems,
                   size);
            break;
        }
        if (!vsrc_is_url(src_base) || attempt >= RETRY_TIMES) {
            code =
                fail(EXIT_FAIL, "%zu of %zu feed entries are not in the log (the first of case %s)",
                     missing, nitems, first != NULL ? first : "?");
            break;
        }
        sleep(1); /* a checkpoint is signed at least every second: take a newer one */
    }
    json_decref(items);
    return code;
}

/* The usage text on out; EXIT_USAGE (the exit of a wrong command line). */
static int usage_to(FILE *out)
{
    fprintf(out,
            "usage: hcp-verify checkpoint  --key KEY SOURCE\n"
            "       hcp-verify inclusion   --key KEY --case ID SOURCE\n"
            "       hcp-verify consistency --key KEY OLD_CHECKPOINT_FILE SOURCE\n"
            "       hcp-verify feed        --key KEY SOURCE\n"
            "       hcp-verify spotcheck   --key KEY --draw URL|FILE --log SOURCE [--id N]\n"
            "KEY: the log's verifier key text or a file holding it (GET /log/key);\n"
            "SOURCE: the gateway's public URL (http://HOST:PORT) or a directory of its\n"
            "published files. Exit 0 verified, 1 verification failed, 2 usage or unreachable.\n");
    return EXIT_USAGE;
}

static int usage(void)
{
    return usage_to(stderr);
}

/* gen/hcp_version.c (cmake/version.cmake): the build's version. */
const char *hcpd_version(void);

int main(int argc, char **argv)
{
    if (argc < 2)
        return usage();
    if (argc == 2 && strcmp(argv[1], "--help") == 0) /* the man page is made from it */
        return usage_to(stdout) == EXIT_USAGE ? EXIT_OK : EXIT_USAGE;
    if (argc == 2 && strcmp(argv[1], "--version") == 0) {
        printf("hcp-verify %s\n", hcpd_version());
        return EXIT_OK;
    }
    if (strcmp(argv[1], "spotcheck") == 0) { /* its own arguments: spotcheck.c */
#ifdef HCP_HAVE_CURL
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
            return fail(EXIT_USAGE, "libcurl did not start");
#endif
        int code = hcp_verify_spotcheck(argc - 2, argv + 2);
#ifdef HCP_HAVE_CURL
        curl_global_cleanup();
#endif
        return code;
    }
    const char *cmd = argv[1], *key = NULL, *id = NULL, *pos[2] = {NULL, NULL};
    int npos = 0;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--key") == 0 && i + 1 < argc)
            key = argv[++i];
        else if (strcmp(argv[i], "--case") == 0 && i + 1 < argc)
            id = argv[++i];
        else if (argv[i][0] == '-' || npos >= 2)
            return usage();
        else
            pos[npos++] = argv[i];
    }
    bool cons = strcmp(cmd, "consistency") == 0;
    if (key == NULL || npos != (cons ? 2 : 1) || (strcmp(cmd, "inclusion") == 0) != (id != NULL))
        return usage();
    hcp_note_verifier v;
    int code = read_key(key, &v);
    if (code != EXIT_OK)
        return code;
    src_base = pos[npos - 1];
#ifdef HCP_HAVE_CURL
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return fail(EXIT_USAGE, "libcurl did not start");
#endif
    if (strcmp(cmd, "checkpoint") == 0) {
        head h = {0};
        code = get_head(&v, &h);
        if (code == EXIT_OK) {
            char r[48];
            if (hcp_base64_encode(h.root, 32, r, sizeof(r)) != HCP_OK)
                r[0] = '\0';
            printf("OK: checkpoint of %s signed by %s+%08" PRIx32 ": %" PRIu64
                   " entries, root %s\n",
                   v.name, v.name, v.key_id, h.size, r);
        }
    } else if (strcmp(cmd, "inclusion") == 0) {
        code = cmd_inclusion(&v, id);
    } else if (cons) {
        code = cmd_consistency(&v, pos[0]);
    } else if (strcmp(cmd, "feed") == 0) {
        code = cmd_feed(&v);
    } else {
        code = usage();
    }
#ifdef HCP_HAVE_CURL
    curl_global_cleanup();
#endif
    return code;
}
