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
