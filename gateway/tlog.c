/*
 * tlog.c — the gateway's transparency log: leaves and hashes in LMDB,
 * the signed checkpoint, and the /log/ routes (tlog.h).
 */
#include "tlog.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "be.h"
#include "gwstore.h"
#include "lock.h"
#include "merkle.h"
#include "note.h"

#define SIGN_MS        500 /* the checkpoint timer: a new head within a second */
#define KEY_FILE       "log.key"
#define TILE_IMMUTABLE "public, max-age=31536000, immutable"
#define TILE_PARTIAL   "public, max-age=1"
#define NOT_CACHED     "no-cache"
#define OFF_ENV        "HCP_BENCH_TLOG_OFF" /* "1": append nothing (benchmarks only) */

/* Set once at start from OFF_ENV, read by the writer: make bench's
 * comparison of catch-up with and without the log (docs/bench.md). Never a
 * configuration: a gateway with it discloses nothing to the log. */
static atomic_bool log_off;

struct gw_tlog {
    gw *g;
    hcp_note_signer *signer;
    char vkey[HCP_NOTE_KEY_MAX + 1]; /* the verifier key text and "\n" */
    uv_timer_t timer;
    bool timer_on;
    pthread_mutex_t mu; /* guards note */
    hcp_buf note;       /* the latest signed checkpoint */
    uint64_t signed_size;
    bool have_note;
};

/* ---- the tree in LMDB ---- */

static const uint8_t size_key[1] = {'n'};

static void entry_key(uint8_t k[9], uint64_t i)
{
    k[0] = 'e';
    hcp_be64_put(k + 1, i);
}

static void hash_key(uint8_t k[10], unsigned level, uint64_t i)
{
    k[0] = 'h';
    k[1] = (uint8_t)level;
    hcp_be64_put(k + 2, i);
}

int gw_tlog_size(MDB_txn *txn, MDB_dbi tlog, uint64_t *size)
{
    MDB_val k = {sizeof(size_key), (void *)size_key}, v;
    int mrc = mdb_get(txn, tlog, &k, &v);
    if (mrc == MDB_NOTFOUND) {
        *size = 0;
        return HCP_OK;
    }
    if (mrc != MDB_SUCCESS)
        return hcpd_mdb_err(mrc);
    if (v.mv_size != 8)
        return HCP_EFORMAT;
    *size = hcp_be64_get(v.mv_data);
    return HCP_OK;
}

/*
 * Position cur on key k (an entry's or a hash's: a prefix, then the be64
 * index last) and set *v, as MDB_SET does. MDB_SET descends from the root
 * every time (0.24 us a look-up warm, 1.3 us cold, at 1M leaves), while a
 * feed page reads leaves that are mostly neighbours: each case's newest
 * leaf, newest first. So when the cursor already sits on a key of the
 * same prefix at most NEAR_STEPS indexes away, it steps there with
 * MDB_PREV or MDB_NEXT, and takes MDB_SET only if the key it reaches is
 * not the one wanted (a gap in the keys) or the cursor is elsewhere.
 */
#define NEAR_STEPS 4

static int cursor_seek(MDB_cursor *cur, MDB_val *k, MDB_val *v)
{
    MDB_val ck, cv;
    if (k->mv_size > 8 && mdb_cursor_get(cur, &ck, &cv, MDB_GET_CURRENT) == MDB_SUCCESS &&
        ck.mv_size == k->mv_size && memcmp(ck.mv_data, k->mv_data, k->mv_size - 8) == 0) {
        size_t pre = k->mv_size - 8;
        uint64_t at = hcp_be64_get((const uint8_t *)ck.mv_data + pre);
        uint64_t want = hcp_be64_get((const uint8_t *)k->mv_data + pre);
        uint64_t d = at > want ? at - want : want - at;
        if (d <= NEAR_STEPS) {
            MDB_cursor_op op = at > want ? MDB_PREV : MDB_NEXT;
            int mrc = MDB_SUCCESS;
            for (uint64_t j = 0; j < d && mrc == MDB_SUCCESS; j++)
                mrc = mdb_cursor_get(cur, &ck, &cv, op);
            if (mrc == MDB_SUCCESS && ck.mv_size == k->mv_size &&
                memcmp(ck.mv_data, k->mv_data, k->mv_size) == 0) {
                *v = cv;
                return MDB_SUCCESS;
            }
        }
    }
    return mdb_cursor_get(cur, k, v, MDB_SET);
}

/* A stored hash reader over a transaction (hcp_merkle_get_fn). */
typedef struct tx_reader {
    MDB_txn *txn;
    MDB_dbi dbi;
} tx_reader;

/* Stored hash (level, index) into out, through cur when not NULL (a run
 * of look-ups), else by a get in txn. */
static int hash_get(MDB_txn *txn, MDB_dbi dbi, MDB_cursor *cur, unsigned level, uint64_t index,
                    uint8_t out[32])
{
    uint8_t kb[10];
    hash_key(kb, level, index);
    MDB_val k = {sizeof(kb), kb}, v;
    int mrc = cur != NULL ? cursor_seek(cur, &k, &v) : mdb_get(txn, dbi, &k, &v);
    if (mrc != MDB_SUCCESS)
        return hcpd_mdb_err(mrc);
    if (v.mv_size != 32)
        return HCP_EFORMAT;
    memcpy(out, v.mv_data, 32);
    return HCP_OK;
}

static int tx_get(void *arg, unsigned level, uint64_t index, uint8_t out[32])
{
    tx_reader *t = arg;
    return hash_get(t->txn, t->dbi, NULL, level, index, out);
}

static int put_hash(MDB_txn *txn, MDB_dbi dbi, unsigned level, uint64_t i, const uint8_t h[32])
{
    uint8_t kb[10];
    hash_key(kb, level, i);
    MDB_val k = {sizeof(kb), kb}, v = {32, (void *)h};
    return hcpd_mdb_err(mdb_put(txn, dbi, &k, &v, 0));
}

int gw_tlog_append(MDB_txn *txn, MDB_dbi tlog, const void *entry, size_t len)
{
    if (txn == NULL || (entry == NULL && len > 0))
        return HCP_EINVAL;
    if (len > HCP_TILE_ENTRY_MAX)
        return HCP_ERANGE;
    uint64_t n = 0;
    int rc = gw_tlog_size(txn, tlog, &n);
    if (rc != HCP_OK)
        return rc;
    uint8_t kb[9], h[32];
    entry_key(kb, n);
    MDB_val k = {sizeof(kb), kb}, v = {len, (void *)entry};
    rc = hcpd_mdb_err(mdb_put(txn, tlog, &k, &v, 0));
    if (rc == HCP_OK)
        rc = hcp_merkle_leaf_hash(entry, len, h);
    if (rc == HCP_OK)
        rc = put_hash(txn, tlog, 0, n, h);
    /* every subtree this leaf completes: (l + 1, i / 2) from (l, i - 1), (l, i) */
    tx_reader rd = {txn, tlog};
    uint64_t i = n;
    for (unsigned l = 0; rc == HCP_OK && (i & 1); l++, i >>= 1) {
        uint8_t left[32];
        rc = tx_get(&rd, l, i - 1, left);
        if (rc == HCP_OK)
            rc = hcp_merkle_node_hash(left, h, h);
        if (rc == HCP_OK)
            rc = put_hash(txn, tlog, l + 1, i >> 1, h);
    }
    if (rc == HCP_OK) {
        uint8_t sb[8];
        hcp_be64_put(sb, n + 1);
        MDB_val sk = {sizeof(size_key), (void *)size_key}, sv = {sizeof(sb), sb};
        rc = hcpd_mdb_err(mdb_put(txn, tlog, &sk, &sv, 0));
    }
    return rc;
}

int gw_tlog_disclose(MDB_dbi tlog, MDB_txn *txn, const void *json, size_t len, uint64_t *leaf)
{
    if (txn == NULL || json == NULL || leaf == NULL)
        return HCP_EINVAL;
    *leaf = GW_TLOG_NO_LEAF;
    if (atomic_load_explicit(&log_off, memory_order_relaxed))
        return HCP_OK; /* the benchmark's "without the log" (OFF_ENV) */
    if (len > HCP_TILE_ENTRY_MAX) {
        /* never in practice (an entry is a few KB); refusing would stop the
         * county's replication for good, so the leaf is missing, loudly:
         * hcp-verify feed names the entry the log does not hold */
        gw_log("error", "tlog.entry_too_large", "bytes=%zu limit=%d", len, HCP_TILE_ENTRY_MAX);
        return HCP_OK;
    }
    uint64_t n = 0;
    int rc = gw_tlog_size(txn, tlog, &n);
    if (rc == HCP_OK)
        rc = gw_tlog_append(txn, tlog, json, len);
    if (rc == HCP_OK)
        *leaf = n;
    return rc;
}

/* The feed reads its entries here (feed_entry.h, form GW_FEED_FORMAT_LEAF):
 * one look-up of the leaf's key through the caller's cursor. */
int gw_tlog_entry(MDB_cursor *cur, uint64_t i, const void **p, size_t *len)
{
    if (cur == NULL || p == NULL || len == NULL)
        return HCP_EINVAL;
    uint8_t kb[9];
    entry_key(kb, i);
    MDB_val k = {sizeof(kb), kb}, v;
    int rc = hcpd_mdb_err(cursor_seek(cur, &k, &v));
    if (rc == HCP_OK) {
        *p = v.mv_data;
        *len = v.mv_size;
    }
    return rc;
}

int gw_tlog_leaf_hash(MDB_cursor *cur, uint64_t i, uint8_t h[32])
{
    if (cur == NULL || h == NULL)
        return HCP_EINVAL;
    return hash_get(NULL, 0, cur, 0, i, h);
}

int gw_tlog_tile(MDB_txn *txn, MDB_dbi tlog, int level, uint64_t n, unsigned w, hcp_buf *out)
{
    if (txn == NULL || out == NULL || w == 0 || w > HCP_TILE_WIDTH || level < HCP_TILE_ENTRIES ||
        level > 7)
        return HCP_EINVAL;
    int rc = HCP_OK;
    tx_reader rd = {txn, tlog};
    for (unsigned k = 0; rc == HCP_OK && k < w; k++) {
        uint64_t i = n * HCP_TILE_WIDTH + k;
        if (level == HCP_TILE_ENTRIES) {
            uint8_t kb[9], lb[2];
            entry_key(kb, i);
            MDB_val key = {sizeof(kb), kb}, v = {0, NULL};
            rc = hcpd_mdb_err(mdb_get(txn, tlog, &key, &v));
            if (rc == HCP_OK && v.mv_size > HCP_TILE_ENTRY_MAX)
                rc = HCP_EFORMAT;
            lb[0] = (uint8_t)(v.mv_size >> 8);
            lb[1] = (uint8_t)v.mv_size;
            if (rc == HCP_OK)
                rc = hcp_buf_append(out, lb, 2);
            if (rc == HCP_OK)
                rc = hcp_buf_append(out, v.mv_data, v.mv_size);
        } else {
            uint8_t h[32];
            rc = tx_get(&rd, (unsigned)level * HCP_TILE_HEIGHT, i, h);
            if (rc == HCP_OK)
                rc = hcp_buf_append(out, h, 32);
        }
    }
    return rc;
}

int gw_tlog_root(MDB_txn *txn, MDB_dbi tlog, uint64_t n, uint8_t root[32])
{
    if (txn == NULL || root == NULL)
        return HCP_EINVAL;
    tx_reader rd = {txn, tlog};
    return hcp_merkle_root(tx_get, &rd, n, root);
}

/* ---- the checkpoint ---- */

/* Sign the tree as it is committed now, when it grew since the last
 * checkpoint (or there is none). Loop thread (and start-up). */
static int sign_now(gw_tlog *t)
{
    gw_store *s = t->g->store;
    MDB_txn *txn = NULL;
    int rc = gws_read_begin(s, &txn);
    if (rc != HCP_OK)
        return rc;
    uint64_t n = 0;
    uint8_t root[32];
    rc = gw_tlog_size(txn, s->tlog, &n);
    bool same = rc == HCP_OK && t->have_note && n == t->signed_size;
    if (rc == HCP_OK && !same) {
        tx_reader rd = {txn, s->tlog};
        rc = hcp_merkle_root(tx_get, &rd, n, root);
    }
    gws_read_end(s, txn);
    if (rc != HCP_OK || same)
        return rc;
    char body[256];
    size_t blen = 0;
    hcp_buf note;
    hcp_buf_init(&note, HCP_NOTE_MAX);
    rc = hcp_checkpoint_body(HCP_LOG_ORIGIN, n, root, body, sizeof(body), &blen);
    if (rc == HCP_OK)
        rc = hcp_note_sign(t->signer, body, blen, &note);
    if (rc != HCP_OK) {
        hcp_buf_free(&note);
        return rc;
    }
    hcp_mutex_lock(&t->mu);
    hcp_buf old = t->note;
    t->note = note;
    t->signed_size = n;
    t->have_note = true;
    hcp_mutex_unlock(&t->mu);
    hcp_buf_free(&old);
    return HCP_OK;
}

static void on_sign_tick(uv_timer_t *timer)
{
    gw_tlog *t = timer->data;
    int rc = sign_now(t);
    if (rc != HCP_OK)
        gw_log("error", "tlog.sign_failed", "reason=\"%s\"", hcp_strerror(rc));
}

/* ---- the signing key ---- */

/* "DIR.keys/log.key" of data directory dir into path; the key directory
 * into keydir. False when too long. */
static bool key_paths(const char *dir, char *keydir, char *path, size_t cap)
{
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/')
        n--;
    int a = snprintf(keydir, cap, "%.*s.keys", (int)n, dir);
    int b = snprintf(path, cap, "%.*s.keys/%s", (int)n, dir, KEY_FILE);
    return a > 0 && (size_t)a < cap && b > 0 && (size_t)b < cap;
}

/* Write a new signer key to path (created 0600, never over a file). */
static int key_create(const char *path, hcp_note_signer **out)
{
    uint8_t seed[32];
    char text[HCP_NOTE_KEY_MAX + 1];
    int rc = hcp_note_keygen(seed);
    if (rc == HCP_OK)
        rc = hcp_note_signer_text(HCP_LOG_ORIGIN, seed, text, sizeof(text) - 1);
    explicit_bzero(seed, sizeof(seed));
    if (rc != HCP_OK)
        return rc;
    size_t len = strlen(text);
    text[len++] = '\n';
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    bool ok = fd >= 0 && write(fd, text, len) == (ssize_t)len && fsync(fd) == 0;
    if (fd >= 0 && close(fd) != 0)
        ok = false;
    if (ok)
        rc = hcp_note_signer_parse(text, len, out);
    else {
        gw_log("error", "tlog.key_failed", "path=%s reason=\"%s\"", path, strerror(errno));
        if (fd >= 0)
            (void)unlink(path); /* a half-written key is never left behind */
        rc = HCP_EIO;
    }
    explicit_bzero(text, sizeof(text));
    return rc;
}

/* Read the signer key at path: a file others cannot read, one key text. */
static int key_load(const char *path, hcp_note_signer **out)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    struct stat st;
    char text[HCP_NOTE_KEY_MAX + 2];
    ssize_t n = -1;
    if (fd >= 0 && fstat(fd, &st) == 0 && (st.st_mode & 077) == 0)
        n = read(fd, text, sizeof(text));
    else if (fd >= 0)
        errno = EACCES;
    int saved = errno;
    if (fd >= 0)
        (void)close(fd); /* read-only: nothing to lose */
    if (n < 0 || (size_t)n >= sizeof(text)) {
        gw_log("error", "tlog.key_unreadable", "path=%s reason=\"%s\"", path,
               n < 0 ? strerror(saved) : "too long");
        explicit_bzero(text, sizeof(text));
        return HCP_EIO;
    }
    int rc = hcp_note_signer_parse(text, (size_t)n, out);
    explicit_bzero(text, sizeof(text));
    if (rc != HCP_OK)
        gw_log("error", "tlog.key_invalid", "path=%s reason=\"%s\"", path, hcp_strerror(rc));
    return rc;
}

int gw_tlog_key_read(const char *dir, hcp_note_signer **out)
{
    char keydir[GW_PATH_MAX], path[GW_PATH_MAX];
    if (dir == NULL || out == NULL)
        return HCP_EINVAL;
    if (!key_paths(dir, keydir, path, sizeof(path)))
        return HCP_ERANGE;
    return key_load(path, out);
}

static int key_open(gw *g, hcp_note_signer **out)
{
    char keydir[GW_PATH_MAX], path[GW_PATH_MAX];
    if (!key_paths(g->cfg.data, keydir, path, sizeof(path)))
        return HCP_ERANGE;
    int rc = hcpd_mkdir("hcp-gateway", keydir);
    if (rc != HCP_OK)
        return rc;
    if (access(path, F_OK) != 0) {
        rc = key_create(path, out);
        if (rc == HCP_OK)
            gw_log("info", "tlog.key_created", "path=%s", path);
        return rc;
    }
    return key_load(path, out);
}

int gw_tlog_start(gw *g)
{
    gw_tlog *t = calloc(1, sizeof(*t));
    if (t == NULL)
        return HCP_ENOMEM;
    t->g = g;
    hcp_buf_init(&t->note, HCP_NOTE_MAX);
    if (pthread_mutex_init(&t->mu, NULL) != 0) {
        free(t);
        return HCP_ENOMEM;
    }
    g->tlog = t;
    const char *off = getenv(OFF_ENV);
    if (off != NULL && strcmp(off, "1") == 0) {
        atomic_store(&log_off, true);
        gw_log("warn", "tlog.off", "reason=\"%s=1: benchmarks only, no entry is logged\"", OFF_ENV);
    }
    int rc = key_open(g, &t->signer);
    if (rc == HCP_OK)
        rc = hcp_note_signer_vkey(t->signer, t->vkey, sizeof(t->vkey) - 1);
    if (rc == HCP_OK) {
        size_t kl = strlen(t->vkey); /* < sizeof - 1: room kept above */
        t->vkey[kl] = '\n';
        t->vkey[kl + 1] = '\0';
        rc = sign_now(t);
    }
    if (rc == HCP_OK && uv_timer_init(g->loop, &t->timer) != 0)
        rc = HCP_EIO;
    if (rc == HCP_OK) {
        t->timer_on = true;
        t->timer.data = t;
        if (uv_timer_start(&t->timer, on_sign_tick, SIGN_MS, SIGN_MS) != 0)
            rc = HCP_EIO;
    }
    if (rc != HCP_OK) {
        gw_tlog_stop(g);
        return rc;
    }
    gw_log("info", "tlog.start", "size=%llu key=\"%.*s\"", (unsigned long long)t->signed_size,
           (int)strlen(t->vkey) - 1, t->vkey);
    return HCP_OK;
}

void gw_tlog_stop(gw *g)
{
    gw_tlog *t = g->tlog;
    if (t == NULL || !t->timer_on)
        return;
    (void)uv_timer_stop(&t->timer); /* always 0 (libuv) */
    uv_close((uv_handle_t *)&t->timer, NULL);
    t->timer_on = false;
}

void gw_tlog_free(gw *g)
{
    gw_tlog *t = g->tlog;
    if (t == NULL)
        return;
    hcp_note_signer_free(t->signer);
    hcp_buf_free(&t->note);
    (void)pthread_mutex_destroy(&t->mu); /* no request in flight any more */
    free(t);
    g->tlog = NULL;
}

/* ---- the routes ---- */

int gw_tlog_checkpoint(gw *g, hcp_buf *out)
{
    gw_tlog *t = g->tlog;
    hcp_buf_reset(out);
    if (t == NULL)
        return HCP_ECLOSED;
    hcp_mutex_lock(&t->mu);
    int rc = t->note.len > 0 ? hcp_buf_append(out, t->note.data, t->note.len) : HCP_OK;
    hcp_mutex_unlock(&t->mu);
    return rc;
}

bool gw_tlog_is_route(const char *path)
{
    return strcmp(path, "/log/checkpoint") == 0 || strcmp(path, "/log/key") == 0 ||
           strncmp(path, "/log/tile/", 10) == 0;
}

static void reply_cached(hcpd_req *r, const char *type, const void *data, size_t len,
                         const char *cache)
{
    hcpd_hdr h[2] = {{"Cache-Control", cache}, {"Access-Control-Allow-Origin", "*"}};
    hcpd_req_reply_hdrs(r, 200, type, data, len, h, 2);
}

/* A tile or an entry bundle of the tree in a read transaction. */
static void serve_tile(gw *g, hcpd_req *r, const char *path)
{
    int level;
    uint64_t n;
    unsigned w;
    if (!hcp_tile_path_parse(path, &level, &n, &w)) {
        hcpd_req_reply_error(r, 404, "not_found", "not a tile path");
        return;
    }
    gw_store *s = g->store;
    MDB_txn *txn = NULL;
    uint64_t size = 0;
    int rc = gws_read_begin(s, &txn);
    if (rc != HCP_OK) {
        hcpd_req_reply_error(r, 503, "unavailable", "try again");
        return;
    }
    rc = gw_tlog_size(txn, s->tlog, &size);
    unsigned have = rc == HCP_OK ? hcp_tile_width(level, n, size) : 0;
    /* a partial tile is served as long as the tree holds its width */
    bool exists = have == HCP_TILE_WIDTH ? true : w != HCP_TILE_WIDTH && w <= have;
    if (rc != HCP_OK || !exists) {
        gws_read_end(s, txn);
        if (rc != HCP_OK)
            hcpd_req_reply_error(r, 503, "unavailable", "try again");
        else
            hcpd_req_reply_error(r, 404, "not_found", "the log has no such tile yet");
        return;
    }
    hcp_buf out;
    hcp_buf_init(&out, (size_t)HCP_TILE_WIDTH * (2 + HCP_TILE_ENTRY_MAX));
    rc = gw_tlog_tile(txn, s->tlog, level, n, w, &out);
    gws_read_end(s, txn);
    if (rc == HCP_OK)
        reply_cached(r, "application/octet-stream", out.data, out.len,
                     w == HCP_TILE_WIDTH ? TILE_IMMUTABLE : TILE_PARTIAL);
    else {
        gw_log("error", "tlog.tile_failed", "path=%s reason=\"%s\"", path, hcp_strerror(rc));
        hcpd_req_reply_error(r, 500, "internal", "the tile could not be read");
    }
    hcp_buf_free(&out);
}

static void serve_tile_work(void *arg, hcpd_req *r)
{
    serve_tile(arg, r, hcpd_req_path(r) + 5);
}

void gw_tlog_handle(gw *g, hcpd_req *r)
{
    gw_tlog *t = g->tlog;
    const char *p = hcpd_req_path(r);
    if (t == NULL) {
        hcpd_req_reply_error(r, 503, "unavailable", "the log is not started");
        return;
    }
    if (strcmp(p, "/log/key") == 0) {
        reply_cached(r, "text/plain; charset=utf-8", t->vkey, strlen(t->vkey), NOT_CACHED);
    } else if (strcmp(p, "/log/checkpoint") == 0) {
        hcp_buf copy;
        hcp_buf_init(&copy, HCP_NOTE_MAX);
        hcp_mutex_lock(&t->mu);
        int rc = hcp_buf_append(&copy, t->note.data, t->note.len);
        hcp_mutex_unlock(&t->mu);
        if (rc == HCP_OK)
            reply_cached(r, "text/plain; charset=utf-8", copy.data, copy.len, NOT_CACHED);
        else
            hcpd_req_reply_error(r, 503, "out_of_memory", "try again");
        hcp_buf_free(&copy);
    } else if (hcpd_req_offload(r, serve_tile_work, g) != HCP_OK) {
        serve_tile_work(g, r);
    }
}
