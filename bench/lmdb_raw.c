/*
 * lmdb_raw.c — the raw LMDB rate for hcp-node's evaluation records, the
 * ceiling the HTTP intake is compared with (docs/bench.md, figure c).
 *
 *   bench_lmdb_raw DIR [N] [PER_TXN]
 *
 * A plain loop builds an HCP_EV_EVALUATION event like the body bench/post.lua
 * sends, encodes it with hcp_event_encode (core/codec.h) and puts it under
 * increasing 8-byte big-endian keys with MDB_APPEND, PER_TXN (default 1,000)
 * records per durable transaction (default environment flags: every commit
 * fsyncs), N (default 200,000) records in all. DIR is made if missing and
 * must be empty of an older run (its data.mdb is removed first).
 * Prints one JSON object: records, seconds, records_per_s, bytes_per_record.
 */
#include <errno.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <jansson.h>

#include "codec.h"
#include "hcp.h"

#define RAW_MAPSIZE ((size_t)4 << 30) /* address space only; grows on disk as used */

/* What one run measures. */
typedef struct raw_result {
    size_t records;
    double seconds;
    size_t bytes; /* encoded record bytes written */
} raw_result;

/* Seconds on the monotonic clock. */
static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Write v as 8 big-endian bytes into p (the node's log key layout). */
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

/*
 * Fill ev (zeroed by the caller) as record number i: an evaluation with the
 * fields the HTTP body carries. Strings point at static or caller-owned
 * storage (content at buf): ev owns nothing, so it is never cleared.
 */
static void make_event(hcp_event *ev, uint64_t i, char *buf, size_t len)
{
    static char unit_code[] = "U1", unit_name[] = "城东区政务服务中心";
    static char item_code[] = "S1", item_name[] = "营业执照";
    static const char *const texts[] = {"办理很快，工作人员态度很好", "材料一次告知清楚",
                                        "窗口等候时间略长", "自助终端操作方便"};
    snprintf(buf, len, "%s #%llu", texts[i % 4], (unsigned long long)i);
    memcpy(ev->county, "630102", sizeof("630102"));
    ev->seq = i;
    ev->type = HCP_EV_EVALUATION;
    ev->at = 1795766400 + (hcp_time)(i / 100); /* 2026-11-27, a few per second */
    ev->recorded_at = ev->at;
    ev->evaluation_no = i;
    ev->in.kind = HCP_KIND_NONE;
    ev->in.channel = HCP_CH_WINDOW_DEVICE;
    ev->in.rating = (uint8_t)(3 + i % 3);
    ev->in.unit.code = unit_code;
    ev->in.unit.name = unit_name;
    ev->in.service_item.code = item_code;
    ev->in.service_item.name = item_name;
    ev->in.content = buf;
}

/* Encode record i into rec (reset first) and append it under key i. */
static int put_one(MDB_txn *txn, MDB_dbi dbi, uint64_t i, hcp_buf *rec, hcp_buf *pii)
{
    hcp_event ev;
    char content[128];
    memset(&ev, 0, sizeof(ev));
    make_event(&ev, i, content, sizeof(content));
    hcp_buf_reset(rec);
    hcp_buf_reset(pii);
    int rc = hcp_event_encode(&ev, rec, pii, NULL);
    if (rc != HCP_OK) {
        fprintf(stderr, "bench_lmdb_raw: encode: %s\n", hcp_strerror(rc));
        return -1;
    }
    uint8_t kb[8];
    be64_put(kb, i);
    MDB_val k = {sizeof(kb), kb}, v = {rec->len, rec->data};
    int mrc = mdb_put(txn, dbi, &k, &v, MDB_APPEND);
    if (mrc != MDB_SUCCESS) {
        fprintf(stderr, "bench_lmdb_raw: put %llu: %s\n", (unsigned long long)i, mdb_strerror(mrc));
        return -1;
    }
    return 0;
}

/* One durable transaction of records [first, first+count). */
static int write_txn(MDB_env *env, MDB_dbi dbi, uint64_t first, size_t count, hcp_buf *rec,
                     hcp_buf *pii, size_t *bytes)
{
    MDB_txn *txn = NULL;
    int mrc = mdb_txn_begin(env, NULL, 0, &txn);
    if (mrc != MDB_SUCCESS) {
        fprintf(stderr, "bench_lmdb_raw: txn_begin: %s\n", mdb_strerror(mrc));
        return -1;
    }
    for (size_t j = 0; j < count; j++) {
        if (put_one(txn, dbi, first + j, rec, pii) != 0) {
            mdb_txn_abort(txn);
            return -1;
        }
        *bytes += rec->len;
    }
    mrc = mdb_txn_commit(txn); /* fsync: the durability point */
    if (mrc != MDB_SUCCESS) {
        fprintf(stderr, "bench_lmdb_raw: commit: %s\n", mdb_strerror(mrc));
        return -1;
    }
    return 0;
}

/* Open (create) the environment in dir with the node's flags and one dbi. */
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
    fprintf(stderr, "bench_lmdb_raw: open %s: %s\n", dir, mdb_strerror(mrc));
    if (txn != NULL)
        mdb_txn_abort(txn);
    if (env != NULL)
        mdb_env_close(env);
    return -1;
}

/* Write n records, per_txn per transaction, into a fresh store in dir. */
static int run(const char *dir, size_t n, size_t per_txn, raw_result *res)
{
    MDB_env *env = NULL;
    MDB_dbi dbi;
    if (open_env(dir, &env, &dbi) != 0)
        return -1;
    hcp_buf rec, pii;
    hcp_buf_init(&rec, HCP_RECORD_MAX);
    hcp_buf_init(&pii, HCP_RECORD_MAX);
    int rc = 0;
    size_t bytes = 0;
    double t0 = now_s();
    for (size_t done = 0; done < n && rc == 0; done += per_txn) {
        size_t count = n - done < per_txn ? n - done : per_txn;
        rc = write_txn(env, dbi, (uint64_t)done + 1, count, &rec, &pii, &bytes);
    }
    double t1 = now_s();
    hcp_buf_free(&rec);
    hcp_buf_free(&pii);
    mdb_env_close(env);
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

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 4) {
        fprintf(stderr, "usage: bench_lmdb_raw DIR [N=200000] [PER_TXN=1000]\n");
        return 2;
    }
    const char *dir = argv[1];
    size_t n = argc > 2 ? parse_count(argv[2]) : 200000;
    size_t per_txn = argc > 3 ? parse_count(argv[3]) : 1000;
    if (n == 0 || per_txn == 0) {
        fprintf(stderr, "bench_lmdb_raw: N and PER_TXN must be positive integers\n");
        return 2;
    }
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        perror("bench_lmdb_raw: mkdir");
        return 1;
    }
    char path[4096];
    const char *names[] = {"data.mdb", "lock.mdb"};
    for (size_t i = 0; i < 2; i++) {
        if (snprintf(path, sizeof(path), "%s/%s", dir, names[i]) >= (int)sizeof(path)) {
            fprintf(stderr, "bench_lmdb_raw: path too long\n");
            return 2;
        }
        if (remove(path) != 0 && errno != ENOENT) {
            perror("bench_lmdb_raw: remove");
            return 1;
        }
    }
    raw_result res;
    memset(&res, 0, sizeof(res));
    if (run(dir, n, per_txn, &res) != 0)
        return 1;
    return print_result(&res, per_txn) == 0 ? 0 : 1;
}
