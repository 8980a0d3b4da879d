/*
 * zstd_levels.c — what compressing replication batches costs, per zstd
 * level, on a real county log (bench/link_bench.py; docs/bench.md "Slow
 * links (issue #18)"). Reads a stopped node's store, cuts its log into the
 * batches the node would send (up to REPL_BATCH_BYTES of records, at most
 * REPL_BATCH_EVENTS events), and for each level encodes every batch with
 * repl_encode (zlevel) and decodes it with repl_decode, PASSES times; the
 * fastest pass counts. Prints one JSON object: events, batches, the
 * events' bytes, and per level the compressed bytes, the ratio, and the
 * CPU microseconds per event of encoding and of decoding beyond the plain
 * (level 0) frame's.
 *
 * Usage: bench_zstd_levels DATA_DIR COUNTY SEAL_KEY_FILE LEVEL...
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "codec.h"
#include "repl.h"
#include "seal.h"
#include "store.h"

#define PASSES 3

typedef struct batch {
    hcp_buf bytes; /* records and personal records back to back */
    repl_event *evs;
    size_t n;
} batch;

/* CPU seconds of this process (all threads: there is one). */
static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Read the whole log into batches cut as node/sync.c cuts them. */
static int read_batches(node_store *s, batch **out, size_t *nb, uint64_t *events, uint64_t *raw)
{
    MDB_txn *txn;
    int rc = store_read_begin(s, &txn);
    if (rc != HCP_OK)
        return rc;
    uint64_t head = s->chain.seq;
    size_t cap = head + 1;
    batch *bs = calloc(cap, sizeof(*bs));
    size_t k = 0;
    uint64_t seq = 1;
    static size_t offs[REPL_BATCH_EVENTS][3];
    while (rc == HCP_OK && bs != NULL && seq <= head && k < cap) {
        batch *b = &bs[k++];
        hcp_buf_init(&b->bytes, REPL_BATCH_BYTES + 2 * HCP_RECORD_MAX);
        b->evs = calloc(REPL_BATCH_EVENTS, sizeof(*b->evs));
        if (b->evs == NULL)
            rc = HCP_ENOMEM;
        while (rc == HCP_OK && seq <= head && b->n < REPL_BATCH_EVENTS &&
               b->bytes.len < REPL_BATCH_BYTES) {
            hcp_buf pii;
            hcp_buf_init(&pii, HCP_RECORD_MAX);
            offs[b->n][0] = b->bytes.len;
            rc = store_log_wire(s, txn, seq, b->evs[b->n].hash, &b->bytes, &pii);
            offs[b->n][1] = b->bytes.len;
            if (rc == HCP_OK)
                rc = hcp_buf_append(&b->bytes, pii.data, pii.len);
            offs[b->n][2] = b->bytes.len;
            hcp_buf_free(&pii);
            b->n += rc == HCP_OK;
            seq++;
        }
        for (size_t i = 0; i < b->n; i++) {
            repl_event *e = &b->evs[i];
            e->rec = b->bytes.data + offs[i][0];
            e->rec_len = offs[i][1] - offs[i][0];
            e->pii_len = offs[i][2] - offs[i][1];
            e->pii = e->pii_len ? b->bytes.data + offs[i][1] : NULL;
        }
        *events += b->n;
        *raw += b->bytes.len;
    }
    store_read_end(s, txn);
    *out = bs;
    *nb = k;
    return bs == NULL ? HCP_ENOMEM : rc;
}

/* One pass at level: encode and decode every batch; wire bytes, CPU seconds. */
static int pass(batch *bs, size_t nb, int level, uint64_t *wire, double *enc_s, double *dec_s)
{
    static const uint8_t sig[1] = {0};
    *wire = 0;
    *enc_s = *dec_s = 0;
    int rc = HCP_OK;
    for (size_t i = 0; rc == HCP_OK && i < nb; i++) {
        repl_frame f = {.type = REPL_BATCH, .seq = 1, .events = bs[i].evs, .nevents = bs[i].n};
        strcpy(f.county, "630102");
        f.sig = sig;
        f.sig_len = 1;
        f.zlevel = level;
        hcp_buf b;
        hcp_buf_init(&b, REPL_FRAME_MAX);
        double t0 = cpu_now();
        rc = repl_encode(&f, &b);
        double t1 = cpu_now();
        repl_frame g;
        if (rc == HCP_OK)
            rc = repl_decode(b.data, b.len, &g);
        double t2 = cpu_now();
        repl_frame_clear(&g);
        *enc_s += t1 - t0;
        *dec_s += t2 - t1;
        *wire += b.len;
        hcp_buf_free(&b);
    }
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: bench_zstd_levels DATA_DIR COUNTY SEAL_KEY_FILE LEVEL...\n");
        return 2;
    }
    uint8_t key[HCP_SEAL_KEY_LEN];
    hcp_sealer *sealer = NULL;
    node_store s;
    char err[256] = "";
    int rc = hcp_seal_key_load(argv[3], false, key);
    if (rc == HCP_OK)
        rc = hcp_sealer_new(key, &sealer);
    if (rc == HCP_OK)
        rc = store_open(&s, argv[1], argv[2], true, sealer, err, sizeof(err));
    if (rc != HCP_OK) {
        fprintf(stderr, "bench_zstd_levels: %s %s\n", hcp_strerror(rc), err);
        hcp_sealer_free(sealer);
        return 1;
    }
    batch *bs = NULL;
    size_t nb = 0;
    uint64_t events = 0, raw = 0;
    rc = read_batches(&s, &bs, &nb, &events, &raw);
    uint64_t wire0 = 0;
    double enc0 = 1e9, dec0 = 1e9;
    for (int p = 0; rc == HCP_OK && p < PASSES; p++) {
        double e, d;
        rc = pass(bs, nb, 0, &wire0, &e, &d);
        enc0 = e < enc0 ? e : enc0;
        dec0 = d < dec0 ? d : dec0;
    }
    printf("{\"events\": %llu, \"batches\": %zu, \"event_bytes\": %llu, \"plain_frame_bytes\": "
           "%llu, \"levels\": [",
           (unsigned long long)events, nb, (unsigned long long)raw, (unsigned long long)wire0);
    for (int a = 4; rc == HCP_OK && a < argc; a++) {
        int level = atoi(argv[a]);
        uint64_t wire = 0;
        double enc = 1e9, dec = 1e9;
        for (int p = 0; rc == HCP_OK && p < PASSES; p++) {
            double e, d;
            rc = pass(bs, nb, level, &wire, &e, &d);
            enc = e < enc ? e : enc;
            dec = d < dec ? d : dec;
        }
        printf("%s{\"level\": %d, \"frame_bytes\": %llu, \"ratio\": %.2f, "
               "\"encode_us_per_event\": %.3f, \"decode_us_per_event\": %.3f, "
               "\"compress_mb_s\": %.1f}",
               a > 4 ? ", " : "", level, (unsigned long long)wire,
               wire ? (double)wire0 / (double)wire : 0.0, (enc - enc0) * 1e6 / (double)events,
               (dec - dec0) * 1e6 / (double)events,
               enc > enc0 ? (double)raw / (enc - enc0) / 1e6 : 0.0);
    }
    printf("]}\n");
    for (size_t i = 0; i < nb; i++) {
        hcp_buf_free(&bs[i].bytes);
        free(bs[i].evs);
    }
    free(bs);
    store_close(&s);
    hcp_sealer_free(sealer);
    if (rc != HCP_OK)
        fprintf(stderr, "bench_zstd_levels: %s\n", hcp_strerror(rc));
    return rc == HCP_OK ? 0 : 1;
}
