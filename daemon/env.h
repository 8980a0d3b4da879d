/*
 * env.h — an LMDB environment as both daemons keep one: a single writer
 * thread, readers on other threads (MDB_NOTLS), and a map that grows when
 * it fills (gc.h decides by how much). Growing needs every transaction of the process closed, so
 * readers hold `resize` shared for the life of their transaction and the
 * writer takes it exclusively to grow (writer-preferring, so a stream of
 * readers cannot starve it).
 */
#ifndef HCPD_ENV_H
#define HCPD_ENV_H

#include <lmdb.h>
#include <pthread.h>

#include "be.h"
#include "case.h"

typedef struct hcpd_env {
    MDB_env *env;
    pthread_rwlock_t resize;
    bool resize_ok; /* resize was initialised (hcpd_env_close destroys it) */
    size_t mapsize;
    /* where the zeros of hcpd_env_ahead end (0: not known yet); read and
     * written only inside write transactions (LMDB's writer lock orders
     * them) */
    uint64_t ahead_end;
    uint64_t ahead_used; /* the bytes LMDB used at the last hcpd_env_ahead (same rule) */
} hcpd_env;

/* LMDB's return codes (and errno values it passes up) as ours:
 * MDB_NOTFOUND HCP_ENOTFOUND, MDB_KEYEXIST HCP_EEXIST, MDB_MAP_FULL
 * HCP_EFULL (grow the map), ENOSPC/EDQUOT HCP_ENOSPC (the disk: growing
 * would not help), ENOMEM, EACCES/EPERM HCP_EAUTH, corruption HCP_EFORMAT,
 * anything else HCP_EIO. */
HCP_NODISCARD int hcpd_mdb_err(int mdb_rc);

/*
 * Open the environment in dir (files data.mdb, lock.mdb, mode 0600) with a
 * map of `initial` bytes, or HCP_MAPSIZE from the environment (tests), or
 * the size the file already has, whichever is largest. Returns LMDB's code
 * (0 on success; an errno value such as EINVAL, or MDB_* otherwise) so the
 * caller can report mdb_strerror. On failure hcpd_env_close is still to be
 * called. e is the caller's; hcpd_env_close releases what it holds.
 */
HCP_NODISCARD int hcpd_env_open(hcpd_env *e, const char *dir, size_t initial, bool readonly,
                                unsigned maxreaders);
void hcpd_env_close(hcpd_env *e);

/* A read-only transaction under the shared lock into *txn; end it with
 * hcpd_env_read_end (on success only). Errors: hcpd_mdb_err's (HCP_EIO
 * for MDB_READERS_FULL, HCP_ENOMEM). */
HCP_NODISCARD int hcpd_env_read_begin(hcpd_env *e, MDB_txn **txn);
void hcpd_env_read_end(hcpd_env *e, MDB_txn *txn);
/* Map `size` bytes (> the current size) instead: the caller, the writer,
 * has no transaction open; readers wait on `resize`. HCP_ENOMEM or
 * HCP_EIO when the system refused the larger map (the old one is kept);
 * HCP_EINVAL when size is not larger. The policy (when, how much, up to
 * what) is the group commit's (gc.h). */
HCP_NODISCARD int hcpd_env_grow(hcpd_env *e, size_t size);

/*
 * Room written ahead of LMDB's pages (docs/storage.md, "Room ahead"): LMDB
 * appends its new pages at the end of data.mdb, and a file that grows at
 * every commit makes every commit's flush allocate blocks and write the
 * inode as well (a second synchronous write, ext4 without a journal). So
 * both daemons' writers (the group commit, gc.c) keep HCPD_AHEAD_LOW..
 * HCPD_AHEAD_LOW+HCPD_AHEAD_CHUNK bytes of zeros, already written, past the
 * pages LMDB uses: the blocks are allocated and the inode written once per
 * chunk instead of once per commit.
 */
#define HCPD_AHEAD_LOW   ((uint64_t)2 << 20)
#define HCPD_AHEAD_CHUNK ((uint64_t)4 << 20)
/* Commits that each add this much or more (a catch-up) get no zeros: the
 * allocation is then a small cost per byte, and zeros would have every new
 * byte written twice (once as a zero, flushed, once by LMDB). */
#define HCPD_AHEAD_BIG ((uint64_t)1 << 20)
/* What to write ahead for a file of fsize bytes of which LMDB uses used,
 * in a map of mapsize, after a commit that added grew bytes: the length
 * (0: nothing) of zeros to write at *off = fsize, never past mapsize.
 * Pure (unit-tested). */
uint64_t hcpd_ahead_plan(uint64_t fsize, uint64_t used, uint64_t grew, uint64_t mapsize,
                         uint64_t *off);
/* Write that room inside txn, a write transaction on e (LMDB's writer lock
 * keeps every other writer out; the commit's own pages, written later,
 * overwrite any zeros they land on; its flush makes the zeros and the new
 * size durable). The file is not stat'ed while the room known to be left
 * lasts (on Linux 6.13+ a stat makes the next write take a fine-grained
 * mtime, which dirties the inode at every commit). Failing to write (a full
 * disk) is not an error: LMDB grows the file itself then, and reports
 * ENOSPC at its own write. NULL-safe. */
void hcpd_env_ahead(hcpd_env *e, MDB_txn *txn);

/* The bytes LMDB uses of env's map (up to the end of its last page) into
 * *used, and the map's size into *mapsize (either may be NULL). It reads
 * the meta pages through the map: the caller is the writer, holds
 * `resize` shared, or has the environment to itself. LMDB's code. */
HCP_NODISCARD int hcpd_env_used(MDB_env *env, uint64_t *used, uint64_t *mapsize);

/* Load one event from a duplicate value of an index (a log position). */
typedef int (*hcpd_event_loader)(void *arg, MDB_txn *txn, const MDB_val *v, hcp_event *ev);
/* Every duplicate value of key in an MDB_DUPSORT index, each loaded into an
 * event: *evs is a new array of *n events, the caller's (free with
 * hcpd_events_free; NULL with 0 when the key is absent). Errors:
 * HCP_EINVAL, HCP_ENOMEM, hcpd_mdb_err's, and the loader's (then *evs is
 * NULL). */
HCP_NODISCARD int hcpd_dup_events(MDB_txn *txn, MDB_dbi dbi, const char *key,
                                  hcpd_event_loader load, void *arg, hcp_event **evs, size_t *n);
/* Clear and free n events of an array from hcpd_dup_events; NULL-safe. */
void hcpd_events_free(hcp_event *evs, size_t n);

#endif
