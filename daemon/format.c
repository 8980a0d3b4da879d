/*
 * format.c — the stores' data-format version (format.h): one key in the
 * meta table, checked at every open, before anything else is read.
 */
#include <errno.h>
#include <stdio.h>

#include "be.h"
#include "format.h"
#include "version.h"

/* Read the stored format into *out (1 when the key is absent). */
static int format_get(MDB_txn *txn, MDB_dbi meta, unsigned *out)
{
    MDB_val k = {6, "format"}, v;
    int rc = mdb_get(txn, meta, &k, &v);
    if (rc == MDB_NOTFOUND) {
        *out = 1; /* made before the key existed: format 1's layout */
        return MDB_NOTFOUND;
    }
    if (rc != MDB_SUCCESS)
        return rc;
    if (v.mv_size != 4)
        return MDB_CORRUPTED;
    *out = hcp_be32_get(v.mv_data);
    return *out == 0 ? MDB_CORRUPTED : MDB_SUCCESS;
}

/* Stamp format f. */
static int format_put(MDB_txn *txn, MDB_dbi meta, unsigned f)
{
    uint8_t buf[4];
    hcp_be32_put(buf, f);
    MDB_val k = {6, "format"}, v = {sizeof(buf), buf};
    return mdb_put(txn, meta, &k, &v, 0);
}

/* See format.h: refuse a newer store, migrate an older one, stamp. */
int hcpd_format_check(MDB_txn *txn, MDB_dbi meta, const char *what, unsigned current, bool readonly,
                      hcpd_format_migrate_fn migrate, void *arg, unsigned *stored, char *err,
                      size_t errlen)
{
    if (txn == NULL || what == NULL || current == 0 || err == NULL || errlen == 0)
        return EINVAL;
    unsigned f = 0;
    int rc = format_get(txn, meta, &f);
    bool absent = rc == MDB_NOTFOUND;
    if (rc != MDB_SUCCESS && !absent) {
        if (rc == MDB_CORRUPTED)
            snprintf(err, errlen, "the store's data-format key is malformed");
        return rc;
    }
    if (stored != NULL)
        *stored = f;
    if (f > current) {
        snprintf(err, errlen,
                 "the store has data format %u, written by a newer %s; this %s (version %s) "
                 "reads formats up to %u: install the newer version again, or restore a "
                 "backup made by this one (docs/operations.md, Upgrading)",
                 f, what, what, hcpd_version(), current);
        return MDB_INCOMPATIBLE;
    }
    if (f == current && !absent)
        return MDB_SUCCESS;
    if (readonly) {
        if (f < current && migrate != NULL) {
            snprintf(err, errlen,
                     "the store has data format %u and this %s uses %u: start the daemon "
                     "once to migrate it",
                     f, what, current);
            return MDB_INCOMPATIBLE;
        }
        return MDB_SUCCESS;
    }
    for (unsigned from = f; from < current && migrate != NULL; from++) {
        if ((rc = migrate(arg, txn, from)) != MDB_SUCCESS) {
            snprintf(err, errlen, "migrating the store from data format %u to %u: %s", from,
                     from + 1, mdb_strerror(rc));
            return rc;
        }
    }
    return format_put(txn, meta, current);
}
