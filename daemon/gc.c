/* gc.c — the group-commit engine of both daemons (gc.h). */
#include "gc.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include "hcpd.h"
#include "lock.h"

#define GC_ATTEMPTS  8          /* a batch is redone after at most 7 growths */
#define GC_NEARLY    (1u << 20) /* "nearly full": less free than this (bytes) */
#define GC_MAP_ROUND (1u << 20) /* map sizes in whole MiB */

struct hcpd_gc {
    uv_async_t wake;
    uv_loop_t *loop;
    hcpd_env *env;
    char dir[PATH_MAX];
    size_t max_items, map_max;
    hcpd_gc_ops ops;
    void *arg;
    pthread_mutex_t mu;
    hcpd_gc_item *head, *tail; /* the queue, under mu */
    atomic_bool stopping;
    /* loop thread only */
    uint64_t last_full_ms; /* when store.disk_full / store.map_ceiling was last logged */
    bool logged_once;      /* ... and whether ever */
    bool announced;        /* such a line is not yet followed by store.room_again */
    /* counters (read from any thread) */
    _Atomic uint64_t commits, items, grows, disk_full, failed, busy_ns;
};

/* Milliseconds of a monotonic clock: the log rate limit must hold also
 * while the loop's cached time stands still (the stop drain). */
static uint64_t mono_ms(void)
{
    return uv_hrtime() / 1000000u;
}

bool hcpd_gc_disk_full(const char *dir, int mrc)
{
    if (mrc == ENOSPC || mrc == EDQUOT)
        return true;
    if (mrc != EIO || dir == NULL)
        return false;
    /* LMDB reports a short page write as EIO: that is how a disk filling
     * up in the middle of a commit shows. */
    struct statvfs fs;
    return statvfs(dir, &fs) == 0 && (unsigned long long)fs.f_bavail * fs.f_frsize < GC_NEARLY;
}

size_t hcpd_gc_grow_target(const char *dir, size_t cur, size_t ceiling, int *rc)
{
    size_t want = cur > SIZE_MAX / 2 ? SIZE_MAX : cur * 2;
    bool by_ceiling = false;
    if (want > ceiling) {
        want = ceiling;
        by_ceiling = true;
    }
    /* A map larger than the file can ever become only hides a full disk
     * (and a map past what the system can map crashed LMDB). */
    struct statvfs fs;
    if (dir != NULL && statvfs(dir, &fs) == 0) {
        char path[PATH_MAX + 16];
        struct stat st;
        snprintf(path, sizeof(path), "%s/data.mdb", dir);
        unsigned long long file = stat(path, &st) == 0 ? (unsigned long long)st.st_size : 0;
        unsigned long long room = file + (unsigned long long)fs.f_bavail * fs.f_frsize;
        if (room < want) {
            want = (size_t)room;
            by_ceiling = false;
        }
    }
    want -= want % GC_MAP_ROUND;
    if (want <= cur) {
        *rc = by_ceiling ? HCP_EFULL : HCP_ENOSPC;
        return 0;
    }
    *rc = HCP_OK;
    return want;
}

/* What a failed LMDB call means for the batch. */
static int classify(hcpd_gc *gc, int mrc)
{
    if (mrc == MDB_PANIC) { /* the environment refuses every write from now on */
        hcpd_log("error", "store.panic", "detail=\"the LMDB environment failed; restarting\"");
        hcpd_restart_request("the LMDB environment failed (MDB_PANIC)");
    }
    if (mrc == MDB_MAP_FULL)
        return HCP_EFULL;
    if (hcpd_gc_disk_full(gc->dir, mrc))
        return HCP_ENOSPC;
    return hcpd_mdb_err(mrc);
}

/* One attempt at the whole batch in one write transaction. */
static int attempt(hcpd_gc *gc, hcpd_gc_item *batch)
{
    MDB_txn *txn;
    int mrc = mdb_txn_begin(gc->env->env, NULL, 0, &txn);
    if (mrc != MDB_SUCCESS)
        return classify(gc, mrc);
    int rc = gc->ops.begin != NULL ? gc->ops.begin(gc->arg, txn) : HCP_OK;
    size_t i = 0;
    for (hcpd_gc_item *it = batch; it != NULL && rc == HCP_OK; it = it->next, i++)
        rc = gc->ops.item(gc->arg, txn, it, i);
    if (rc == HCP_OK && gc->ops.finish != NULL)
        rc = gc->ops.finish(gc->arg, txn);
    if (rc == HCP_OK)
        hcpd_env_ahead(gc->env, txn); /* room past the end: blocks allocated once per chunk */
    if (rc != HCP_OK) {
        mdb_txn_abort(txn);
        if (gc->ops.abort != NULL)
            gc->ops.abort(gc->arg);
        return rc;
    }
    /* Durability point: no item is answered as done before this commit. */
    mrc = mdb_txn_commit(txn);
    if (mrc == MDB_SUCCESS)
        return HCP_OK;
    if (gc->ops.abort != NULL)
        gc->ops.abort(gc->arg);
    return classify(gc, mrc);
}

/* Log a full store or disk, at most once per HCPD_GC_LOG_EVERY_MS (a full
 * disk fails every batch: one line per batch would fill the log too). */
static void note_full(hcpd_gc *gc, int rc)
{
    uint64_t now = mono_ms();
    atomic_fetch_add(&gc->disk_full, 1);
    if (gc->logged_once && now - gc->last_full_ms < HCPD_GC_LOG_EVERY_MS)
        return; /* a nearly full disk also lets small commits through between */
    gc->last_full_ms = now;
    gc->logged_once = true;
    gc->announced = true;
    struct statvfs fs;
    unsigned long long avail =
        statvfs(gc->dir, &fs) == 0 ? (unsigned long long)fs.f_bavail * fs.f_frsize : 0;
    if (rc == HCP_ENOSPC)
        hcpd_log("error", "store.disk_full",
                 "dir=%s free=%llu mapsize=%zu refused=%llu detail=\"no room on the disk: writes "
                 "are refused and retried; they resume by themselves when there is room\"",
                 gc->dir, avail, gc->env->mapsize, (unsigned long long)atomic_load(&gc->disk_full));
    else
        hcpd_log("error", "store.map_ceiling",
                 "dir=%s mapsize=%zu ceiling=%zu refused=%llu detail=\"the store reached its "
                 "size ceiling (--map-max-mib): writes are refused\"",
                 gc->dir, gc->env->mapsize, gc->map_max,
                 (unsigned long long)atomic_load(&gc->disk_full));
}

/* Attempt the (merged) batch, growing the map while the map, not the
 * disk, is full; count and log the outcome, and hand it to the daemon. */
/* The map was full: grow it (HCP_OK), or say why not (HCP_EFULL at the
 * ceiling or when growing failed, HCP_ENOSPC: the disk). */
static int grow_map(hcpd_gc *gc)
{
    int grc;
    size_t to = hcpd_gc_grow_target(gc->dir, gc->env->mapsize, gc->map_max, &grc);
    if (grc != HCP_OK)
        return grc;
    if ((grc = hcpd_env_grow(gc->env, to)) != HCP_OK) {
        hcpd_log("error", "store.grow_failed", "mapsize=%zu wanted=%zu err=\"%s\"",
                 gc->env->mapsize, to, hcp_strerror(grc));
        return HCP_EFULL; /* the map stays as it was */
    }
    atomic_fetch_add(&gc->grows, 1);
    hcpd_log("info", "store.grow", "mapsize=%zu", gc->env->mapsize);
    return HCP_OK;
}

static void run_merged(hcpd_gc *gc, hcpd_gc_item *batch)
{
    int rc = HCP_OK;
    for (int i = 0; i < GC_ATTEMPTS; i++) {
        rc = attempt(gc, batch);
        if (rc != HCP_EFULL || i + 1 == GC_ATTEMPTS)
            break;
        int grc = grow_map(gc);
        if (grc != HCP_OK) {
            rc = grc;
            break;
        }
    }
    if (rc == HCP_OK) {
        atomic_fetch_add(&gc->commits, 1);
        if (gc->announced)
            hcpd_log("info", "store.room_again", "dir=%s detail=\"writes commit again\"", gc->dir);
        gc->announced = false;
    } else if (rc == HCP_ENOSPC || rc == HCP_EFULL)
        note_full(gc, rc);
    else {
        atomic_fetch_add(&gc->failed, 1);
        hcpd_log("error", "store.commit_failed", "err=\"%s\"", hcp_strerror(rc));
    }
    gc->ops.answer(gc->arg, batch, rc);
}

/* A batch taken off the queue (maybe NULL), with what the daemon adds. */
static void run_batch(hcpd_gc *gc, hcpd_gc_item *batch)
{
    if (gc->ops.merge != NULL)
        batch = gc->ops.merge(gc->arg, batch);
    if (batch == NULL)
        return;
    uint64_t t0 = uv_hrtime();
    run_merged(gc, batch);
    atomic_fetch_add(&gc->busy_ns, uv_hrtime() - t0);
}

/* Take up to max_items off the queue; wake again if more remain (bounded
 * work per loop turn, so timers and signals are served between batches). */
static hcpd_gc_item *take(hcpd_gc *gc)
{
    hcp_mutex_lock(&gc->mu);
    hcpd_gc_item *head = gc->head, *w = head;
    size_t k = head != NULL ? 1 : 0;
    while (w != NULL && w->next != NULL && k < gc->max_items) {
        w = w->next;
        k++;
    }
    if (w != NULL) {
        gc->head = w->next;
        if (gc->head == NULL)
            gc->tail = NULL;
        w->next = NULL;
    }
    if (gc->head != NULL && !atomic_load(&gc->stopping))
        (void)uv_async_send(&gc->wake); /* fails only on a handle not an async one */
    hcp_mutex_unlock(&gc->mu);
    atomic_fetch_add(&gc->items, k);
    return head;
}

static void on_wake(uv_async_t *a)
{
    hcpd_gc *gc = a->data;
    hcpd_gc_item *batch = take(gc);
    if (batch != NULL)
        run_batch(gc, batch);
}

int hcpd_gc_exec(hcpd_gc *gc, int (*fn)(void *arg, MDB_txn *txn), void *arg)
{
    if (gc == NULL || fn == NULL)
        return HCP_EINVAL;
    int rc = HCP_OK;
    for (int i = 0; i < GC_ATTEMPTS; i++) {
        MDB_txn *txn;
        int mrc = mdb_txn_begin(gc->env->env, NULL, 0, &txn);
        if (mrc != MDB_SUCCESS)
            return classify(gc, mrc);
        rc = fn(arg, txn);
        if (rc == HCP_OK) {
            hcpd_env_ahead(gc->env, txn);
            mrc = mdb_txn_commit(txn);
            rc = mrc == MDB_SUCCESS ? HCP_OK : classify(gc, mrc);
        } else {
            mdb_txn_abort(txn);
        }
        if (rc != HCP_EFULL || i + 1 == GC_ATTEMPTS)
            break;
        int grc = grow_map(gc);
        if (grc != HCP_OK)
            return grc;
    }
    return rc;
}

void hcpd_gc_run(hcpd_gc *gc)
{
    if (gc != NULL)
        run_batch(gc, take(gc));
}

int hcpd_gc_start(const hcpd_gc_cfg *cfg, hcpd_gc **out)
{
    if (cfg == NULL || out == NULL || cfg->loop == NULL || cfg->env == NULL || cfg->dir == NULL ||
        cfg->max_items == 0 || cfg->ops.item == NULL || cfg->ops.answer == NULL ||
        cfg->ops.refuse == NULL || strlen(cfg->dir) >= PATH_MAX)
        return HCP_EINVAL;
    hcpd_gc *gc = calloc(1, sizeof(*gc));
    if (gc == NULL)
        return HCP_ENOMEM;
    gc->loop = cfg->loop;
    gc->env = cfg->env;
    snprintf(gc->dir, sizeof(gc->dir), "%s", cfg->dir);
    gc->max_items = cfg->max_items;
    gc->map_max = cfg->map_max != 0 ? cfg->map_max : HCPD_GC_MAP_MAX_DEFAULT;
    gc->ops = cfg->ops;
    gc->arg = cfg->arg;
    atomic_init(&gc->stopping, false);
    if (pthread_mutex_init(&gc->mu, NULL) != 0) {
        free(gc);
        return HCP_ENOMEM;
    }
    gc->wake.data = gc;
    if (uv_async_init(gc->loop, &gc->wake, on_wake) != 0) {
        hcp_mutex_destroy(&gc->mu);
        free(gc);
        return HCP_EIO;
    }
    *out = gc;
    return HCP_OK;
}

void hcpd_gc_submit(hcpd_gc *gc, hcpd_gc_item *it)
{
    it->next = NULL;
    hcp_mutex_lock(&gc->mu);
    bool stopping = atomic_load(&gc->stopping);
    if (!stopping) {
        if (gc->tail != NULL)
            gc->tail->next = it;
        else
            gc->head = it;
        gc->tail = it;
        /* under the lock: never after the close; fails only on a handle
         * that is not an async one */
        (void)uv_async_send(&gc->wake);
    }
    hcp_mutex_unlock(&gc->mu);
    if (stopping)
        gc->ops.refuse(gc->arg, it);
}

bool hcpd_gc_pending(hcpd_gc *gc)
{
    if (gc == NULL)
        return false;
    hcp_mutex_lock(&gc->mu);
    bool queued = gc->head != NULL && !atomic_load(&gc->stopping);
    hcp_mutex_unlock(&gc->mu);
    return queued;
}

bool hcpd_gc_stopping(hcpd_gc *gc)
{
    return gc != NULL && atomic_load(&gc->stopping);
}

void hcpd_gc_get_stats(const hcpd_gc *gc, hcpd_gc_stats *out)
{
    hcpd_gc *g = (hcpd_gc *)gc; /* atomic_load wants a non-const object */
    out->commits = atomic_load(&g->commits);
    out->items = atomic_load(&g->items);
    out->grows = atomic_load(&g->grows);
    out->disk_full = atomic_load(&g->disk_full);
    out->failed = atomic_load(&g->failed);
    out->busy_ns = atomic_load(&g->busy_ns);
}

static void on_closed(uv_handle_t *h)
{
    (void)h;
}

void hcpd_gc_stop(hcpd_gc *gc)
{
    if (gc == NULL)
        return;
    hcp_mutex_lock(&gc->mu);
    bool again = atomic_load(&gc->stopping);
    atomic_store(&gc->stopping, true);
    hcp_mutex_unlock(&gc->mu);
    if (again)
        return; /* stopped (and its handle closed) already */
    for (;;) {  /* the queue, then whatever the daemon still holds (merge) */
        hcpd_gc_item *batch = take(gc);
        if (gc->ops.merge != NULL)
            batch = gc->ops.merge(gc->arg, batch);
        if (batch == NULL)
            break;
        run_merged(gc, batch);
    }
    uv_close((uv_handle_t *)&gc->wake, on_closed);
}

void hcpd_gc_free(hcpd_gc *gc)
{
    if (gc == NULL)
        return;
    hcp_mutex_destroy(&gc->mu);
    free(gc);
}
