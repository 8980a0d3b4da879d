/*
 * gwcalendar.h — the federation calendar at the province gateway (issue
 * #13, docs/calendar.md "The federation calendar"). The calendar in force
 * is kept IN the store (meta HCP_CALVER_KEY: {version, tsv}, core/calver.h,
 * and its version alone under GW_CALVER_VKEY, so the writer can check it
 * cheaply): version 0 is the seed (compiled in or --calendar), V >= 1 one
 * published with `hcp-gateway calendar publish`. Applying a newer version
 * recounts every open case's deadlines (and their public feed entries) in
 * the same transaction as the province log's `calendar` entry (the hook of
 * gateway/plog.h); g->cal follows after the commit — or, when another
 * process (the CLI) committed it, at the writer's next transaction and
 * within a second (a watch timer), whichever comes first.
 *
 * Threads: everything but the CLI runs on the loop thread, the only user
 * of g->cal.
 */
#ifndef GW_CALENDAR_H
#define GW_CALENDAR_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "calver.h"
#include "gwstore.h"

#define GW_CALVER_VKEY "calendar.v" /* be32: the version in force, beside the record */

/* The gateway's calendar state, the `arg` of the province log's hook. */
typedef struct gw_calendar {
    gw *g;            /* whose g->cal follows the store; NULL: nobody's (the CLI) */
    uint32_t version; /* the version g->cal is */
    hcp_cal *pending; /* parsed by the last apply, waiting for its commit (owned) */
    uint32_t pending_version;
    uint64_t pending_seq;
    char why[256]; /* why the last apply refused ("stale_version: ...") */
    uv_timer_t watch;
    bool watching;
} gw_calendar;

/* What a recount did: open cases seen, whose deadlines changed, still
 * provisional after it, and feed entries rewritten. */
typedef struct gw_calendar_recount {
    size_t open, changed, provisional, feed;
} gw_calendar_recount;

/*
 * At start, after gw_store_open: reconcile the store's calendar with the
 * seed (g->cfg.calendar, "" = compiled in), as the node does
 * (node/calendar_fed.h): no calendar stored, or version 0 with a seed that
 * counts differently → the seed is stored as version 0 and every open
 * case recounted (a store that had none also gets every feed entry
 * rewritten, so each carries the fields of docs/feed.md); version V >= 1 →
 * a --calendar that counts differently is refused (HCP_EVERSION, err says
 * what to do), else g->cal becomes version V's calendar. *out is a new
 * state freed with gw_calendar_free. Errors: HCP_EVERSION, the seed's
 * (HCP_EIO, HCP_ERANGE, HCP_EFORMAT), the store's; a one-line message in
 * err.
 */
HCP_NODISCARD int gw_calendar_start(gw *g, gw_calendar **out, char *err, size_t errlen);
/* Free the state (NULL-safe; the watch must be stopped and closed). */
void gw_calendar_free(gw_calendar *gc);

/* The calendar stored in txn (tsv borrowed from it). HCP_ENOTFOUND when
 * none is stored; HCP_EFORMAT when it does not decode. */
HCP_NODISCARD int gw_calendar_stored(gw_store *s, MDB_txn *txn, hcp_calver *out);

/* Recount every open case (hcp_case_deadlines_open) in txn with cal,
 * writing back those that changed and their feed entries as of now; with
 * all_feed, rewrite every case's feed entry. *r may be NULL. Errors: the
 * store's (HCP_EFULL: the group commit grows the map), HCP_ECRYPTO (a
 * personal record the seal key does not open). */
HCP_NODISCARD int gw_calendar_recount_all(gw_store *s, MDB_txn *txn, const hcp_cal *cal,
                                          hcp_time now, bool all_feed, gw_calendar_recount *r);

/*
 * The province log's hook for type "calendar" (gw_plog_apply_fn,
 * gateway/plog.h): body_mp is {version, tsv}. In txn: version must be
 * newer than the stored one, the TSV must parse; it is stored and every
 * open case recounted; the parsed calendar waits for gw_calendar_after.
 * Returns HCP_OK, HCP_ERULE (refused: arg->why says why, and the append
 * must fail), or the store's error. arg is a gw_calendar *.
 */
HCP_NODISCARD int gw_calendar_apply(void *arg, gw_store *s, MDB_txn *txn, uint64_t seq,
                                    const char *type, const void *body_mp, size_t body_len);
/* After the transaction of entry seq committed: the pending calendar
 * becomes g->cal (old freed). Nothing when none of seq is pending. */
void gw_calendar_after(void *arg, uint64_t seq);

/* In the writer's transaction (its begin hook): when the stored version
 * is not the one g->cal is (another process published), load it into
 * g->cal and mark the feed changed, so no event applies with the old
 * calendar. NULL gc: nothing. Errors: the store's; a stored calendar that
 * does not parse is logged and g->cal kept (HCP_OK). */
HCP_NODISCARD int gw_calendar_sync(gw_calendar *gc, MDB_txn *txn);

/* Watch the stored version once a second on the loop (g->loop), for a
 * publish by another process while no batch arrives: the page then shows
 * the new deadlines at once. HCP_EIO when the timer cannot start (logged;
 * the writer's check still holds). Stop: gw_calendar_watch_stop (closes
 * the timer; the loop runs its close callback). */
int gw_calendar_watch_start(gw_calendar *gc);
void gw_calendar_watch_stop(gw_calendar *gc);

/* `hcp-gateway calendar show --data DIR` (the version in force, its years
 * and days) and `hcp-gateway calendar publish --data DIR [--seal-key-file
 * F] FILE` (validate FILE, append it to the province log as the next
 * version, which the "calendar" hook applies in the same transaction, and
 * print the new version). 0 done; 1 refused or failed; 2 bad flags. main passes
 * argc - 1, argv + 1. */
int gw_cmd_calendar(int argc, char **argv);

#endif
