/*
 * gw_apply_raw.c — the raw LMDB apply rate at the gateway, the storage
 * ceiling the replication catch-up figure is compared with (docs/bench.md,
 * "Replication", baseline R2).
 *
 *   bench_gw_apply_raw DIR [N] [PER_TXN] [REPEAT]
 *
 * A plain loop builds HCP_EV_EVALUATION events like the bodies
 * bench/repl.lua posts (content: a 42-byte phrase REPEAT times, default 11,
 * so a record is about 600 bytes), encodes each with hcp_event_encode,
 * chains it with hcp_chain_hash (the check the gateway makes per event) and
 * puts hash + record with MDB_APPEND under county (6 bytes) + be64 seq keys,
 * the gateway's `log` layout, PER_TXN (default 1,000) per durable
 * transaction, N (default 200,000) in all. No signature check, no decode,
 * no rules, no county bookkeeping: the ceiling, not a model of the writer.
 * DIR is made if missing; an older data.mdb/lock.mdb in it is removed.
 * Prints one JSON object: records, per_txn, seconds, records_per_s,
 * bytes_per_record (the encoded record alone).
 */
#include <errno.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <jansson.h>

#include "chain.h"
#include "codec.h"
#include "hcp.h"

#define RAW_MAPSIZE  ((size_t)8 << 30) /* address space only; grows on disk as used */
#define RAW_COUNTY   "630102"
#define RAW_PHRASE   "办理很快，工作人员态度很好。" /* 14 characters, 42 bytes */
#define RAW_TEXT_MAX 4096

/* What one run measures. */
typedef struct raw_result {
    size_t records;
    double seconds;
    size_t bytes; /* encoded record bytes written */
} raw_result;

/* The running state of one run: buffers and the chain head (run owns all). */
typedef struct raw_ctx {
    MDB_env *env;
    MDB_dbi dbi;
    hcp_buf rec, pii;
    uint8_t head[HCP_HASH_LEN];
    char content[RAW_TEXT_MAX];
    size_t prefix; /* bytes of content before the per-record suffix */
} raw_ctx;

/* Seconds on the monotonic clock. */
static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Write v as 8 big-endian bytes into p (the gateway's log key layout). */
static void be64_put(uint8_t p[8], uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t)(v & 0xff);
        v >>= 8;
    }
}

/* Parse a positive size argument; 0 when s is not one. */
static size_t parse_count(const char *s)
{
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v == 0 || s[0] == '-')
        return 0;
    return (size_t)v;
}

/* Fill ctx->content with the phrase repeat times; 0 when it does not fit. */
static int make_prefix(raw_ctx *c, size_t repeat)
{
    size_t plen = strlen(RAW_PHRASE);
    if (repeat * plen + 32 > sizeof(c->content))
        return -1;
    for (size_t i = 0; i < repeat; i++)
        memcpy(c->content + i * plen, RAW_PHRASE, plen);
    c->prefix = repeat * plen;
    c->content[c->prefix] = '\0';
    return 0;
}

/*
 * Fill ev (zeroed by the caller) as record number i. Strings point at
 * static storage or at c->content: ev owns nothing, so it is never cleared.
 */
static void make_event(raw_ctx *c, hcp_event *ev, uint64_t i)
{
    static char unit_code[] = "U1", unit_name[] = "城东区政务服务中心";
    static char item_code[] = "S1", item_name[] = "营业执照";
    snprintf(c->content + c->prefix, sizeof(c->content) - c->prefix, " #%llu",
             (unsigned long long)i);
    memcpy(ev->county, RAW_COUNTY, sizeof(RAW_COUNTY));
    ev->seq = i;
    ev->type = HCP_EV_EVALUATION;
    ev->at = 1795766400 + (hcp_time)(i / 100); /* 2026-11-27, a few per second */
    ev->recorded_at = ev->at;
    ev->evaluation_no = i;
    ev->in.kind = HCP_KIND_NONE;
    ev->in.channel = HCP_CH_WEB;
    ev->in.rating = (uint8_t)(3 + i % 3);
    ev->in.unit.code = unit_code;
    ev->in.unit.name = unit_name;
    ev->in.service_item.code = item_code;
    ev->in.service_item.name = item_name;
    ev->in.content = c->content;
}

/* Encode record i, chain it and append hash + record under county + be64 i. */
static int put_one(raw_ctx *c, MDB_txn *txn, uint64_t i, uint8_t *val, size_t vcap)
{
    hcp_event ev;
    memset(&ev, 0, sizeof(ev));
    make_event(c, &ev, i);
    hcp_buf_reset(&c->rec);
    hcp_buf_reset(&c->pii);
    int rc = hcp_event_encode(&ev, &c->rec, &c->pii, NULL);
    if (rc == HCP_OK && HCP_HASH_LEN + c->rec.len > vcap)
        rc = HCP_ERANGE;
    uint8_t h[HCP_HASH_LEN];
    if (rc == HCP_OK)
        rc = hcp_chain_hash(c->head, i, c->rec.data, c->rec.len, h);
    if (rc == HCP_OK)
        memcpy(c->head, h, HCP_HASH_LEN);
    if (rc != HCP_OK) {
        fprintf(stderr, "bench_gw_apply_raw: encode/hash: %s\n", hcp_strerror(rc));
        return -1;
    }
    uint8_t kb[6 + 8];
    memcpy(kb, RAW_COUNTY, 6);
    be64_put(kb + 6, i);
    memcpy(val, c->head, HCP_HASH_LEN);
    memcpy(val + HCP_HASH_LEN, c->rec.data, c->rec.len);
    MDB_val k = {sizeof(kb), kb}, v = {HCP_HASH_LEN + c->rec.len, val};
    int mrc = mdb_put(txn, c->dbi, &k, &v, MDB_APPEND);
    if (mrc != MDB_SUCCESS) {
        fprintf(stderr, "bench_gw_apply_raw: put %llu: %s\n", (unsigned long long)i,
                mdb_strerror(mrc));
        return -1;
    }
    return 0;
}

/* One durable transaction of records [first, first+count). */
static int write_txn(raw_ctx *c, uint64_t first, size_t count, size_t *bytes)
{
    static uint8_t val[HCP_HASH_LEN + HCP_RECORD_MAX];
    MDB_txn *txn = NULL;
    int mrc = mdb_txn_begin(c->env, NULL, 0, &txn);
    if (mrc != MDB_SUCCESS) {
        fprintf(stderr, "bench_gw_apply_raw: txn_begin: %s\n", mdb_strerror(mrc));
        return -1;
    }
    for (size_t j = 0; j < count; j++) {
        if (put_one(c, txn, first + j, val, sizeof(val)) != 0) {
            mdb_txn_abort(txn);
            return -1;
        }
        *bytes += c->rec.len;
    }
    mrc = mdb_txn_commit(txn); /* fsync: the durability point */
    if (mrc != MDB_SUCCESS) {
        fprintf(stderr, "bench_gw_apply_raw: commit: %s\n", mdb_strerror(mrc));
        return -1;
    }
    return 0;
}

/* Open (create) the environment in dir with default flags and one dbi. */
static int open_env(const char *dir, MDB_env **envp, MDB_dbi *dbi)
{
    MDB_env *env = NULL;
    MDB_txn *txn = NULL;
    int mrc = mdb_env_create(&env);
    if (mrc == MDB_SUCCESS)
        mrc = mdb_env_set_mapsize(env, RAW_MAPSIZE);
    if (mrc == MDB_SUCCESS)
        mrc = mdb_env_set_maxdbs(env, 4);
    if (mrc == MDB_SUCCESS)
        mrc = mdb_env_open(env, dir, MDB_NOTLS, 0600);
    if (mrc == MDB_SUCCESS)
        mrc = mdb_txn_begin(env, NULL, 0, &txn);
    if (mrc == MDB_SUCCESS)
        mrc = mdb_dbi_open(txn, "log", MDB_CREATE, dbi);
    if (mrc == MDB_SUCCESS) {
        mrc = mdb_txn_commit(txn);
        txn = NULL;
    }
    if (mrc != MDB_SUCCESS)
        goto fail;
    *envp = env;
    return 0;
fail:
    fprintf(stderr, "bench_gw_apply_raw: open %s: %s\n", dir, mdb_strerror(mrc));
    if (txn != NULL)
        mdb_txn_abort(txn);
    if (env != NULL)
        mdb_env_close(env);
    return -1;
}

/* Write n records, per_txn per transaction, into a fresh store in dir. */
static int run(const char *dir, size_t n, size_t per_txn, size_t repeat, raw_result *res)
{
    static raw_ctx c; /* large (content buffer): not on the stack */
    memset(&c, 0, sizeof(c));
    if (make_prefix(&c, repeat) != 0) {
        fprintf(stderr, "bench_gw_apply_raw: REPEAT too large\n");
        return -1;
    }
    if (open_env(dir, &c.env, &c.dbi) != 0)
        return -1;
    hcp_chain ch;
    if (hcp_chain_init(&ch, RAW_COUNTY) != HCP_OK) {
        mdb_env_close(c.env);
        return -1;
    }
    memcpy(c.head, ch.head, HCP_HASH_LEN);
    hcp_buf_init(&c.rec, HCP_RECORD_MAX);
    hcp_buf_init(&c.pii, HCP_RECORD_MAX);
    int rc = 0;
    size_t bytes = 0;
    double t0 = now_s();
    for (size_t done = 0; done < n && rc == 0; done += per_txn) {
        size_t count = n - done < per_txn ? n - done : per_txn;
        rc = write_txn(&c, (uint64_t)done + 1, count, &bytes);
    }
    double t1 = now_s();
    hcp_buf_free(&c.rec);
    hcp_buf_free(&c.pii);
    mdb_env_close(c.env);
    res->records = n;
    res->seconds = t1 - t0;
    res->bytes = bytes;
    return rc;
}

/* Print the result as one JSON object on stdout (jansson). */
static int print_result(const raw_result *r, size_t per_txn)
{
    double rate = r->seconds > 0 ? (double)r->records / r->seconds : 0;
    json_t *j =
        json_pack("{sI,sI,sf,sf,sf}", "records", (json_int_t)r->records, "per_txn",
                  (json_int_t)per_txn, "seconds", r->seconds, "records_per_s", rate,
                  "bytes_per_record", r->records ? (double)r->bytes / (double)r->records : 0.0);
    if (j == NULL)
        return -1;
    int rc = json_dumpf(j, stdout, JSON_COMPACT);
    json_decref(j);
    if (rc != 0 || fputc('\n', stdout) == EOF)
        return -1;
    return 0;
}

/* Remove DIR/data.mdb and DIR/lock.mdb of an older run; 0 on success. */
static int clean_dir(const char *dir)
{
    char path[4096];
    const char *names[] = {"data.mdb", "lock.mdb"};
    for (size_t i = 0; i < 2; i++) {
        if (snprintf(path, sizeof(path), "%s/%s", dir, names[i]) >= (int)sizeof(path)) {
            fprintf(stderr, "bench_gw_apply_raw: path too long\n");
            return -1;
        }
        if (remove(path) != 0 && errno != ENOENT) {
            perror("bench_gw_apply_raw: remove");
            return -1;
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 5) {
        fprintf(stderr, "usage: bench_gw_apply_raw DIR [N=200000] [PER_TXN=1000] [REPEAT=11]\n");
        return 2;
    }
    const char *dir = argv[1];
    size_t n = argc > 2 ? parse_count(argv[2]) : 200000;
    size_t per_txn = argc > 3 ? parse_count(argv[3]) : 1000;
    size_t repeat = argc > 4 ? parse_count(argv[4]) : 11;
    if (n == 0 || per_txn == 0 || repeat == 0) {
        fprintf(stderr, "bench_gw_apply_raw: N, PER_TXN and REPEAT must be positive integers\n");
        return 2;
    }
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        perror("bench_gw_apply_raw: mkdir");
        return 1;
    }
    if (clean_dir(dir) != 0)
        return 1;
    raw_result res;
    memset(&res, 0, sizeof(res));
    if (run(dir, n, per_txn, repeat, &res) != 0)
        return 1;
    return print_result(&res, per_txn) == 0 ? 0 : 1;
}
