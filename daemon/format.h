/*
 * format.h — the data-format version of each store, kept in its "meta"
 * table under the key "format" (4 bytes, big-endian), so that a newer
 * binary can migrate an older store and an older binary refuses a newer
 * one with a clear message instead of misreading it (docs/operations.md,
 * "Upgrading"). A store made before the key existed is format 1: its layout
 * is format 1's, so it is only stamped.
 */
#ifndef HCPD_FORMAT_H
#define HCPD_FORMAT_H

#include <lmdb.h>
#include <stddef.h>

#include "hcp.h"

/* The formats this build writes (and the newest it reads). Raise one when
 * a store's layout changes, with a migration step from the one before. */
#define HCPD_FORMAT_NODE    1u
#define HCPD_FORMAT_GATEWAY 3u

/* One migration step: bring the store in txn from format `from` to
 * from + 1. Returns an LMDB code (0 on success). */
typedef int (*hcpd_format_migrate_fn)(void *arg, MDB_txn *txn, unsigned from);

/*
 * Check (and bring up to date) the format of the store whose meta table is
 * `meta`, inside the caller's transaction txn. `what` names the store in
 * messages ("hcp-node"). A missing key is format 1. Stored > current:
 * refused, MDB_INCOMPATIBLE, err says which versions and what to do.
 * Stored < current: each step migrate(arg, txn, from) runs (NULL: none are
 * needed), then current is stamped; the caller commits. A missing key or
 * an older format in a read-only transaction (readonly true) is read as it
 * is and not stamped, unless migrate is non-NULL and a step is needed: then
 * MDB_INCOMPATIBLE ("start the daemon once to migrate"). *stored (may be
 * NULL) receives the format found. Returns an LMDB code: 0, the refusals
 * above, MDB_CORRUPTED for a malformed value, or mdb_get/mdb_put's code.
 */
HCP_NODISCARD int hcpd_format_check(MDB_txn *txn, MDB_dbi meta, const char *what, unsigned current,
                                    bool readonly, hcpd_format_migrate_fn migrate, void *arg,
                                    unsigned *stored, char *err, size_t errlen);

#endif
