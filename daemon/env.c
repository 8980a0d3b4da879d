/* env.c — the daemons' LMDB environment (env.h). */
#define _GNU_SOURCE /* pthread_rwlockattr_setkind_np */
#include "env.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "hcpd.h"
#include "lock.h"

int hcpd_mdb_err(int rc)
{
    switch (rc) {
    case MDB_SUCCESS:
        return HCP_OK;
    case MDB_NOTFOUND:
        return HCP_ENOTFOUND;
    case MDB_KEYEXIST:
        return HCP_EEXIST;
    case MDB_MAP_FULL: /* the map, not the disk: growing it helps (gc.c) */
        return HCP_EFULL;
    case ENOSPC: /* the disk: growing the map would not help */
    case EDQUOT:
        return HCP_ENOSPC;
    case ENOMEM:
        return HCP_ENOMEM;
    case EACCES:
    case EPERM:
        return HCP_EAUTH;
    case MDB_CORRUPTED:
    case MDB_PAGE_NOTFOUND:
    case MDB_VERSION_MISMATCH:
    case MDB_INVALID:
        return HCP_EFORMAT;
    default:
        return HCP_EIO;
    }
}

/* The resize lock, writer-preferring (env.h); an errno value on failure. */
static int env_lock_init(hcpd_env *e)
{
    pthread_rwlockattr_t attr;
    int rc = pthread_rwlockattr_init(&attr);
    if (rc != 0)
        return rc;
    rc = pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    if (rc == 0)
        rc = pthread_rwlock_init(&e->resize, &attr);
    (void)pthread_rwlockattr_destroy(&attr); /* cannot fail on an initialised attr */
    e->resize_ok = rc == 0;
    return rc;
}

int hcpd_env_open(hcpd_env *e, const char *dir, size_t initial, bool readonly, unsigned maxreaders)
{
    if (e == NULL || dir == NULL)
        return EINVAL;
    memset(e, 0, sizeof(*e));
    int rc = env_lock_init(e);
    if (rc != 0)
        return rc;
    const char *env = getenv("HCP_MAPSIZE"); /* tests: exercise map growth */
    e->mapsize = env != NULL && atol(env) >= (1 << 20) ? (size_t)atol(env) : initial;
    rc = mdb_env_create(&e->env);
    if (rc)
        return rc;
    if ((rc = mdb_env_set_maxdbs(e->env, 32)) ||
        (rc = mdb_env_set_maxreaders(e->env, maxreaders)) ||
        (rc = mdb_env_set_mapsize(e->env, e->mapsize)))
        return rc;
    if ((rc = mdb_env_open(e->env, dir, MDB_NOTLS | (readonly ? MDB_RDONLY : 0), 0600)))
        return rc;
    MDB_envinfo info;
    if (mdb_env_info(e->env, &info) == MDB_SUCCESS && info.me_mapsize > e->mapsize)
        e->mapsize = info.me_mapsize;
    return MDB_SUCCESS;
}

void hcpd_env_close(hcpd_env *e)
{
    if (e == NULL)
        return;
    if (e->env != NULL)
        mdb_env_close(e->env);
    e->env = NULL;
    if (e->resize_ok)
        hcp_rwlock_destroy(&e->resize);
    e->resize_ok = false;
}

int hcpd_env_read_begin(hcpd_env *e, MDB_txn **txn)
{
    hcp_rwlock_rdlock(&e->resize);
    int rc = mdb_txn_begin(e->env, NULL, MDB_RDONLY, txn);
    if (rc != MDB_SUCCESS) {
        hcp_rwlock_unlock(&e->resize);
        return hcpd_mdb_err(rc);
    }
    return HCP_OK;
}

void hcpd_env_read_end(hcpd_env *e, MDB_txn *txn)
{
    if (txn != NULL)
        mdb_txn_abort(txn);
    hcp_rwlock_unlock(&e->resize);
}

/* A failed mdb_env_set_mapsize (the mmap of the new size refused) leaves
 * LMDB without a map: the next access would crash. So the old size is
 * mapped again at once; if even that fails nothing may touch the
 * environment again, and the process ends here (everything committed is
 * on disk). */
int hcpd_env_grow(hcpd_env *e, size_t size)
{
    if (size <= e->mapsize)
        return HCP_EINVAL;
    hcp_rwlock_wrlock(&e->resize);
    int rc = mdb_env_set_mapsize(e->env, size);
    if (rc == MDB_SUCCESS)
        e->mapsize = size;
    else if (mdb_env_set_mapsize(e->env, e->mapsize) != MDB_SUCCESS) {
        hcpd_log("error", "store.map_lost", "mapsize=%zu wanted=%zu err=\"%s\"", e->mapsize, size,
                 mdb_strerror(rc));
        abort();
    }
    hcp_rwlock_unlock(&e->resize);
    return rc == MDB_SUCCESS ? HCP_OK : rc == ENOMEM ? HCP_ENOMEM : HCP_EIO;
}

#define AHEAD_IOV 64 /* HCPD_AHEAD_CHUNK / 64 KiB */

uint64_t hcpd_ahead_plan(uint64_t fsize, uint64_t used, uint64_t grew, uint64_t mapsize,
                         uint64_t *off)
{
    if (off == NULL)
        return 0;
    *off = fsize;
    if (used > fsize || fsize - used >= HCPD_AHEAD_LOW || fsize >= mapsize ||
        grew >= HCPD_AHEAD_BIG)
        return 0; /* room enough (or LMDB past the end, or big commits: it grows the file) */
    return mapsize - fsize < HCPD_AHEAD_CHUNK ? mapsize - fsize : HCPD_AHEAD_CHUNK;
}

int hcpd_env_used(MDB_env *env, uint64_t *used, uint64_t *mapsize)
{
    if (env == NULL)
        return EINVAL;
    MDB_envinfo info;
    MDB_stat st;
    int rc = mdb_env_info(env, &info);
    if (rc == MDB_SUCCESS)
        rc = mdb_env_stat(env, &st);
    if (rc != MDB_SUCCESS)
        return rc;
    if (used != NULL)
        *used = ((uint64_t)info.me_last_pgno + 1) * st.ms_psize;
    if (mapsize != NULL)
        *mapsize = (uint64_t)info.me_mapsize;
    return MDB_SUCCESS;
}

void hcpd_env_ahead(hcpd_env *e, MDB_txn *txn)
{
    if (e == NULL || txn == NULL)
        return;
    MDB_env *env = mdb_txn_env(txn);
    mdb_filehandle_t fd;
    uint64_t used, mapsize, off;
    if (env == NULL || env != e->env || hcpd_env_used(env, &used, &mapsize) != MDB_SUCCESS ||
        mdb_env_get_fd(env, &fd) != MDB_SUCCESS)
        return;
    uint64_t grew = e->ahead_used != 0 && used > e->ahead_used ? used - e->ahead_used : 0;
    e->ahead_used = used;
    /* Room known to be left, or big commits: no fstat (env.h). */
    if ((e->ahead_end != 0 && used < e->ahead_end && e->ahead_end - used >= HCPD_AHEAD_LOW) ||
        grew >= HCPD_AHEAD_BIG)
        return;
    struct stat fs;
    if (fstat(fd, &fs) != 0 || fs.st_size < 0)
        return;
    uint64_t len = hcpd_ahead_plan((uint64_t)fs.st_size, used, grew, mapsize, &off);
    e->ahead_end = (uint64_t)fs.st_size;
    /* one call per chunk: the same 64 KiB of zeros, AHEAD_IOV times */
    static char zeros[64 * 1024]; /* never written (not const: iov_base is not) */
    struct iovec iov[AHEAD_IOV];
    while (len > 0) {
        int k = 0;
        for (uint64_t left = len; k < AHEAD_IOV && left > 0; k++) {
            size_t n = left < sizeof(zeros) ? (size_t)left : sizeof(zeros);
            iov[k] = (struct iovec){.iov_base = zeros, .iov_len = n};
            left -= n;
        }
        ssize_t w = pwritev(fd, iov, k, (off_t)off);
        if (w <= 0)
            return; /* a full disk: LMDB will say so at its own write */
        off += (uint64_t)w;
        len -= (uint64_t)w;
        e->ahead_end = off;
    }
}

void hcpd_events_free(hcp_event *evs, size_t n)
{
    for (size_t i = 0; evs != NULL && i < n; i++)
        hcp_event_clear(&evs[i]);
    free(evs);
}

int hcpd_dup_events(MDB_txn *txn, MDB_dbi dbi, const char *key, hcpd_event_loader load, void *arg,
                    hcp_event **evs, size_t *n)
{
    if (txn == NULL || key == NULL || load == NULL || evs == NULL || n == NULL)
        return HCP_EINVAL;
    *evs = NULL;
    *n = 0;
    MDB_cursor *cur;
    int rc = hcpd_mdb_err(mdb_cursor_open(txn, dbi, &cur));
    if (rc != HCP_OK)
        return rc;
    MDB_val k = {strlen(key), (void *)key}, v;
    size_t cnt = 0, i = 0;
    int mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_KEY);
    if (mrc == MDB_SUCCESS)
        mrc = mdb_cursor_count(cur, &cnt);
    hcp_event *arr = cnt > 0 ? calloc(cnt, sizeof(*arr)) : NULL;
    if (cnt > 0 && arr == NULL)
        rc = HCP_ENOMEM;
    while (rc == HCP_OK && mrc == MDB_SUCCESS && i < cnt) {
        rc = load(arg, txn, &v, &arr[i++]);
        mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT_DUP);
    }
    mdb_cursor_close(cur);
    if (rc == HCP_OK && mrc != MDB_SUCCESS && mrc != MDB_NOTFOUND)
        rc = hcpd_mdb_err(mrc);
    if (rc != HCP_OK) {
        hcpd_events_free(arr, cnt);
        return rc;
    }
    *evs = arr;
    *n = i;
    return HCP_OK;
}
