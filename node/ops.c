/*
 * ops.c — the operator's subcommands: `hcp-node backup` (a hot, consistent
 * copy while the node runs) and `hcp-node verify` (re-check the whole chain).
 * Both open the store in another process beside a running node, which LMDB
 * allows: the copy and the check read one snapshot in a read transaction.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "accounts.h"
#include "chain.h"
#include "codec.h"
#include "ops.h"
#include "store.h"

typedef struct ops_args {
    const char *data;
    const char *out;
    bool quiet;
} ops_args;

static int parse_ops(int argc, char **argv, ops_args *a, bool want_out, const char *usage)
{
    static const struct option opts[] = {{"data", required_argument, NULL, 'd'},
                                         {"out", required_argument, NULL, 'o'},
                                         {"quiet", no_argument, NULL, 'q'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    memset(a, 0, sizeof(*a));
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'd':
            a->data = optarg;
            break;
        case 'o':
            a->out = optarg;
            break;
        case 'q':
            a->quiet = true;
            break;
        case 'h':
            fputs(usage, stdout);
            exit(0);
        default:
            fputs(usage, stderr);
            return 2;
        }
    }
    if (optind < argc || a->data == NULL || (want_out && a->out == NULL) ||
        (!want_out && a->out != NULL)) {
        fputs(usage, stderr);
        return 2;
    }
    return 0;
}

/* ---- backup ---- */

typedef struct copy_job {
    MDB_env *env;
    int fd;
    int rc;
    atomic_int done; /* set by the copy thread, polled by the progress loop */
} copy_job;

static void *copy_thread(void *arg)
{
    copy_job *j = arg;
    j->rc = mdb_env_copyfd2(j->env, j->fd, MDB_CP_COMPACT);
    atomic_store(&j->done, 1);
    return NULL;
}

/* Show progress on stderr while the copy thread writes: bytes written
 * against the store's used size (the compacted copy is at most that). */
static void copy_progress(copy_job *j, size_t total, bool quiet)
{
    while (!atomic_load(&j->done)) {
        usleep(200 * 1000);
        struct stat st;
        if (!quiet && fstat(j->fd, &st) == 0 && total > 0) {
            double pct = 100.0 * (double)st.st_size / (double)total;
            fprintf(stderr, "\rbackup: %lld / %zu bytes (%.0f%%)", (long long)st.st_size, total,
                    pct > 100 ? 100 : pct);
        }
    }
    if (!quiet)
        fprintf(stderr, "\n");
}

/* The copy in progress: DIR.partial/data.mdb, an LMDB directory of its
 * own so that the shared open (daemon/env.h) can mark it; renamed to FILE
 * when complete. */
typedef struct copy_paths {
    char dir[4096];
    char data[4096];
    char lock[4096];
} copy_paths;

/* Name the copy's directory and files for out; false when too long. */
static bool copy_paths_of(const char *out, copy_paths *p)
{
    int a = snprintf(p->dir, sizeof(p->dir), "%s.partial", out);
    int b = snprintf(p->data, sizeof(p->data), "%s/data.mdb", p->dir);
    int c = snprintf(p->lock, sizeof(p->lock), "%s/lock.mdb", p->dir);
    return a > 0 && (size_t)a < sizeof(p->dir) && b > 0 && (size_t)b < sizeof(p->data) && c > 0 &&
           (size_t)c < sizeof(p->lock);
}

/* Remove what is left of a copy (best effort: what is absent is fine; a
 * file in the directory's place, from an older hcp-node, goes too). */
static void copy_cleanup(const copy_paths *p)
{
    if (unlink(p->data) != 0 && errno != ENOENT && errno != ENOTDIR)
        perror("hcp-node backup: unlink");
    if (unlink(p->lock) != 0 && errno != ENOENT && errno != ENOTDIR)
        perror("hcp-node backup: unlink");
    if (rmdir(p->dir) != 0 && errno == ENOTDIR && unlink(p->dir) != 0)
        perror("hcp-node backup: unlink");
}

/* Copy the store in `data` (a read-only open beside the running node) to
 * fd, compacted, showing progress. Returns an LMDB code or errno. */
static int copy_store(const char *data, int fd, bool quiet)
{
    hcpd_env env;
    int rc = hcpd_env_open(&env, data, STORE_MAP_INITIAL, true, 126);
    uint64_t used = 0;
    if (rc == 0 && hcpd_env_used(env.env, &used, NULL) != 0)
        used = 0; /* 0: no progress shown */
    size_t total = (size_t)used;
    copy_job j = {.env = env.env, .fd = fd};
    pthread_t t;
    if (rc == 0 && (rc = pthread_create(&t, NULL, copy_thread, &j)) == 0) {
        copy_progress(&j, total, quiet);
        rc = pthread_join(t, NULL);
        if (rc == 0)
            rc = j.rc;
    }
    hcpd_env_close(&env);
    return rc;
}

static const char backup_usage[] =
    "usage: hcp-node backup --data DIR --out FILE [--quiet]\n"
    "  Writes a consistent, compacted copy of the node's store to FILE while the\n"
    "  node runs. FILE is an LMDB data file: to restore, create an empty data\n"
    "  directory, copy FILE to DIR/data.mdb, copy api.token from the old directory\n"
    "  and seal.key from your separate key backup into DIR.keys/ (the key is not in\n"
    "  the backup, on purpose: docs/storage.md).\n"
    "  hcp-node --version prints the version and the data formats it reads.\n";

int node_cmd_backup(int argc, char **argv)
{
    ops_args a;
    int rc = parse_ops(argc, argv, &a, true, backup_usage);
    if (rc != 0)
        return rc;
    char county[HCP_COUNTY_LEN + 1], err[256];
    if (store_county_of(a.data, county, err, sizeof(err)) != HCP_OK) {
        fprintf(stderr, "hcp-node backup: cannot open the store in %s: %s\n", a.data, err);
        return 1;
    }
    copy_paths p;
    if (!copy_paths_of(a.out, &p)) {
        fprintf(stderr, "hcp-node backup: %s: name too long\n", a.out);
        return 1;
    }
    copy_cleanup(&p); /* what an interrupted backup left */
    if (mkdir(p.dir, 0700) != 0) {
        perror("hcp-node backup: mkdir");
        return 1;
    }
    int fd = open(p.data, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) {
        perror("hcp-node backup: open");
        copy_cleanup(&p);
        return 1;
    }
    rc = copy_store(a.data, fd, a.quiet);
    if (rc == 0 && fsync(fd) != 0)
        rc = errno;
    if (close(fd) != 0 && rc == 0)
        rc = errno;
    const char *why = rc != 0 ? mdb_strerror(rc) : NULL;
    int hrc = rc == 0 ? store_mark_needs_sync(p.dir) : HCP_OK;
    if (hrc != HCP_OK)
        why = hcp_strerror(hrc);
    if (why == NULL && rename(p.data, a.out) != 0)
        why = strerror(errno);
    copy_cleanup(&p);
    if (why != NULL) {
        fprintf(stderr, "hcp-node backup: %s\n", why);
        return 1;
    }
    printf("backup of county %s written to %s\n", county, a.out);
    return 0;
}

/* ---- verify ---- */

static const char verify_usage[] =
    "usage: hcp-node verify --data DIR [--quiet]\n"
    "  Re-checks the whole log: every event decodes, sequence numbers run from 1\n"
    "  without gaps, each stored hash matches the chain, the head matches the\n"
    "  last event. Prints the head; exits 0 if all holds, 1 otherwise.\n"
    "  hcp-node --version prints the version and the data formats it reads.\n";

/* Walk the log from 1 and check it all against the chain. */
static int verify_log(node_store *s, MDB_txn *txn, bool quiet, uint64_t *bad)
{
    hcp_chain ch;
    int rc = hcp_chain_init(&ch, s->county);
    MDB_cursor *cur;
    if (rc == HCP_OK)
        rc = store_err(mdb_cursor_open(txn, s->log, &cur));
    if (rc != HCP_OK)
        return rc;
    MDB_val k, v;
    int mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    hcp_buf rec;
    hcp_buf_init(&rec, HCP_RECORD_MAX);
    while (rc == HCP_OK && mrc == MDB_SUCCESS) {
        uint64_t seq = ch.seq + 1;
        uint8_t hash[HCP_HASH_LEN];
        hcp_event ev;
        hcp_buf_reset(&rec);
        rc = k.mv_size == 8 ? store_log_get(s, txn, seq, false, &ev, hash, &rec) : HCP_EFORMAT;
        if (rc == HCP_OK && ev.seq != seq)
            rc = HCP_ECHAIN;
        if (rc == HCP_OK)
            rc = hcp_chain_verify_next(&ch, seq, rec.data, rec.len, hash);
        hcp_event_clear(&ev);
        if (rc != HCP_OK)
            *bad = seq;
        if (!quiet && seq % 100000 == 0)
            fprintf(stderr, "verify: %llu events\n", (unsigned long long)seq);
        mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    hcp_buf_free(&rec);
    mdb_cursor_close(cur);
    if (rc == HCP_OK && (ch.seq != s->chain.seq || memcmp(ch.head, s->chain.head, 32) != 0)) {
        *bad = ch.seq;
        rc = HCP_ECHAIN;
    }
    return rc;
}

int node_cmd_verify(int argc, char **argv)
{
    ops_args a;
    int rc = parse_ops(argc, argv, &a, false, verify_usage);
    if (rc != 0)
        return rc;
    char county[HCP_COUNTY_LEN + 1], err[256];
    if (store_county_of(a.data, county, err, sizeof(err)) != HCP_OK) {
        fprintf(stderr, "hcp-node verify: cannot open the store in %s: %s\n", a.data, err);
        return 1;
    }
    node_store s;
    rc = store_open(&s, a.data, county, true, NULL, err, sizeof(err));
    if (rc != HCP_OK) {
        fprintf(stderr, "hcp-node verify: FAILED: %s\n", err);
        return 1;
    }
    MDB_txn *txn;
    uint64_t bad = 0;
    rc = store_read_begin(&s, &txn);
    if (rc == HCP_OK) {
        rc = verify_log(&s, txn, a.quiet, &bad);
        store_read_end(&s, txn);
    }
    char hex[2 * HCP_HASH_LEN + 1];
    hcp_hash_hex(s.chain.head, hex);
    if (rc == HCP_OK)
        printf("ok county=%s head=%llu hash=%s\n", county, (unsigned long long)s.chain.seq, hex);
    else
        fprintf(stderr, "hcp-node verify: FAILED at event %llu: %s\n", (unsigned long long)bad,
                hcp_strerror(rc));
    store_close(&s);
    return rc == HCP_OK ? 0 : 1;
}

/* ---- user ---- */

/* The node's accounts: clerks, supervisors and auditors (docs/access.md). */
int node_cmd_user(int argc, char **argv)
{
    return hcpd_acct_cmd("hcp-node", HCPD_ROLE_CLERK | HCPD_ROLE_SUPERVISOR | HCPD_ROLE_AUDITOR,
                         argc, argv);
}
