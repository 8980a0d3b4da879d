/*
 * node_fill.c — a county node's store grown to millions of evaluations
 * without sending millions of requests (docs/bench.md "Session 8: the
 * node's heap as the store grows"). Each evaluation is what POST
 * /v1/evaluations writes: the same JSON body as bench/post.lua, read with
 * hcp_json_read_intake, then the writer's own steps for a rating of 3..5
 * (node/writer.c do_eval): the "eval" counter, store_log_append (encode,
 * hash chain, seal) and store_tally_add, through the writer's counter
 * cache, PER_TXN evaluations per durable transaction, the head put last.
 * The map is grown as the writer's group commit grows it. A node started
 * on the store afterwards sees the events as if they had been posted.
 *
 * Usage: bench_node_fill DATA_DIR COUNTY SEAL_KEY_FILE COUNT
 * (DATA_DIR: a store a stopped hcp-node made; its key from SEAL_KEY_FILE,
 * normally DATA_DIR.keys/seal.key). Prints one JSON object: the events
 * added, the head, seconds, and data.mdb's bytes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "codec.h"
#include "json.h"
#include "seal.h"
#include "store.h"

#define PER_TXN 1000

/* Seconds of a monotonic clock. */
static double mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The body post.lua sends as its n-th request (the same units, items,
 * channels and texts), parsed as the API parses it. */
static int intake_of(uint64_t n, hcp_intake *in)
{
    static const char *const units[] = {"{\"code\":\"U1\",\"name\":\"城东区政务服务中心\"}",
                                        "{\"code\":\"U2\",\"name\":\"城中区政务服务中心\"}",
                                        "{\"code\":\"U3\",\"name\":\"城西区政务服务中心\"}"};
    static const char *const items[] = {"{\"code\":\"S1\",\"name\":\"营业执照\"}",
                                        "{\"code\":\"S2\",\"name\":\"不动产登记\"}",
                                        "{\"code\":\"S3\",\"name\":\"社保卡补办\"}"};
    static const char *const channels[] = {"window_device", "web",    "app",
                                           "kiosk",         "qrcode", "wechat"};
    static const char *const texts[] = {"办理很快，工作人员态度很好", "材料一次告知清楚",
                                        "窗口等候时间略长", "自助终端操作方便"};
    char body[1024];
    snprintf(body, sizeof(body),
             "{\"unit\":%s,\"service_item\":%s,\"channel\":\"%s\",\"rating\":%d,\"content\":\"%s "
             "第%d组%llu批%llu号\"}",
             units[n % 3], items[(n / 7) % 3], channels[n % 6], 3 + (int)(n % 3), texts[n % 4], 0,
             (unsigned long long)(n / 1000), (unsigned long long)(n % 1000));
    json_t *j = NULL;
    hcp_json_err e = {0};
    hcp_time at = 0;
    int rc = hcp_json_load(body, strlen(body), &j, &e);
    if (rc == HCP_OK)
        rc = hcp_json_read_intake(j, false, in, &at, &e);
    json_decref(j);
    return rc;
}

/* One evaluation as the writer's do_eval writes it (rating 3..5). */
static int put_one(node_store *s, MDB_txn *txn, hcp_chain *ch, uint64_t n, hcp_time now)
{
    hcp_event ev;
    memset(&ev, 0, sizeof(ev));
    int rc = intake_of(n, &ev.in);
    uint64_t no = 0;
    if (rc == HCP_OK)
        rc = store_counter_get(s, txn, "eval", &no);
    if (rc == HCP_OK) {
        ev.type = HCP_EV_EVALUATION;
        ev.at = now;
        ev.recorded_at = now;
        ev.evaluation_no = no + 1;
        ev.account = NULL;
        rc = store_log_append(s, txn, ch, &ev);
    }
    if (rc == HCP_OK)
        rc = store_tally_add(s, txn, &ev.in, hcp_day_of(ev.at));
    if (rc == HCP_OK)
        rc = store_counter_add(s, txn, "eval", 1, NULL);
    hcp_event_clear(&ev);
    return rc;
}

/* PER_TXN evaluations (fewer at the end) in one transaction, committed;
 * the map grown and the batch redone when it is full. */
static int put_batch(node_store *s, uint64_t first, uint64_t k, hcp_time now)
{
    for (;;) {
        MDB_txn *txn;
        int rc = store_write_begin(s, &txn);
        if (rc != HCP_OK)
            return rc;
        hcp_chain ch = s->chain;
        for (uint64_t i = 0; i < k && rc == HCP_OK; i++)
            rc = put_one(s, txn, &ch, first + i, now);
        if (rc == HCP_OK)
            rc = store_cache_flush(s, txn);
        if (rc == HCP_OK)
            rc = store_head_put(s, txn, &ch);
        store_cache_drop(s);
        if (rc == HCP_OK) {
            rc = store_err(mdb_txn_commit(txn));
            if (rc == HCP_OK)
                s->chain = ch;
        } else {
            mdb_txn_abort(txn);
        }
        if (rc != HCP_EFULL)
            return rc;
        size_t to = s->db.mapsize * 2;
        if ((rc = hcpd_env_grow(&s->db, to)) != HCP_OK)
            return rc;
    }
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: bench_node_fill DATA_DIR COUNTY SEAL_KEY_FILE COUNT\n");
        return 2;
    }
    uint64_t count = strtoull(argv[4], NULL, 10);
    uint8_t key[HCP_SEAL_KEY_LEN];
    hcp_sealer *sealer = NULL;
    node_store s;
    memset(&s, 0, sizeof(s));
    char err[256] = "";
    int rc = hcp_seal_key_load(argv[3], false, key);
    if (rc == HCP_OK)
        rc = hcp_sealer_new(key, &sealer);
    if (rc == HCP_OK)
        rc = store_open(&s, argv[1], argv[2], false, sealer, err, sizeof(err));
    if (rc != HCP_OK) {
        fprintf(stderr, "bench_node_fill: %s %s\n", hcp_strerror(rc), err);
        hcp_sealer_free(sealer);
        return 1;
    }
    uint64_t start = s.chain.seq;
    hcp_time now = (hcp_time)time(NULL);
    double t0 = mono_now();
    for (uint64_t done = 0; done < count && rc == HCP_OK;) {
        uint64_t k = count - done < PER_TXN ? count - done : PER_TXN;
        rc = put_batch(&s, start + done, k, now);
        done += k;
        if (rc == HCP_OK && done % 1000000 == 0)
            fprintf(stderr, "bench_node_fill: %llu events\n", (unsigned long long)done);
    }
    double secs = mono_now() - t0;
    uint64_t head = s.chain.seq;
    store_close(&s);
    hcp_sealer_free(sealer);
    if (rc != HCP_OK) {
        fprintf(stderr, "bench_node_fill: %s\n", hcp_strerror(rc));
        return 1;
    }
    char path[4096];
    struct stat st;
    snprintf(path, sizeof(path), "%s/data.mdb", argv[1]);
    long long bytes = stat(path, &st) == 0 ? (long long)st.st_size : -1;
    printf("{\"added\":%llu,\"head\":%llu,\"seconds\":%.1f,\"data_mdb_bytes\":%lld}\n",
           (unsigned long long)(head - start), (unsigned long long)head, secs, bytes);
    return 0;
}
