/*
 * plog.h — the province log (docs/directives.md): the gateway's own
 * hash-chained log of directives to the counties, its delivery index, and
 * the state of each (entry, county).
 *
 * LMDB, in the gateway's store: db `plog` (be64 seq → hash(32) | record),
 * db `plog_ix` (target(6) | be64 seq → "": what waits for one county, or
 * for all under PLOG_ALL_KEY), db `dstate` (county(6) | be64 seq → result
 * byte | why: what the county's `directive` event said). The record is a
 * msgpack map {v: 1, s: seq, at, tg: target, ty: type, b: bin (the body,
 * a msgpack map)}; the hash chains it like a county's log under the
 * province's code "630000" (core/chain.h). Entries are signed when they
 * are delivered, with the gateway's TLS key (replication/repl.h
 * repl_sign_directive): a process appending from the command line needs
 * no key.
 *
 * Threads: appends on whichever thread holds the write transaction (the
 * loop's writer, an HTTP worker, a CLI process); reads on any thread in
 * read transactions. The delivered-positions table (memory) has its own
 * lock.
 */
#ifndef GW_PLOG_H
#define GW_PLOG_H

#include <jansson.h>
#include <lmdb.h>

#include "gwstore.h"
#include "repl.h"

#define GW_PLOG_PROVINCE "630000" /* the chain's genesis code */
#define GW_PLOG_BODY_MAX REPL_DIR_BODY_MAX

/*
 * Append an entry in txn (a write transaction of the caller): seq = the
 * last + 1, at = now, target "all" or a county code of the divisions in
 * use, type [a-z_]{1,32}, body a msgpack map of at most GW_PLOG_BODY_MAX
 * bytes (borrowed). The hook of the type (gw_plog_hook), if any, runs in
 * the same txn before anything is written; its error is returned (and
 * nothing appended). *seq_out (may be NULL) receives the new seq. Errors:
 * HCP_EINVAL (an argument out of its domain), the hook's, LMDB's as gws_err
 * maps them (HCP_EFULL: grow the map and redo), HCP_ENOMEM.
 */
HCP_NODISCARD int gw_plog_append(gw_store *s, MDB_txn *txn, const char *target, const char *type,
                                 const void *body_mp, size_t body_len, uint64_t *seq_out);

/*
 * The apply-hook table: fn runs in the append's transaction when an entry
 * of `type` is appended at the gateway (the federation calendar applies itself at
 * the gateway this way). It returns HCP_OK to let the append go on, or an
 * error that refuses it (HCP_EINVAL/HCP_ERULE for a body it does not
 * accept: the HTTP route answers 422; a store error as it came). It must
 * not append to the province log itself. Register before the store is
 * used from more than one thread (at start). HCP_EINVAL (bad type),
 * HCP_ERANGE (table full: 16 types). A second registration of a type
 * replaces the first.
 */
typedef int (*gw_plog_apply_fn)(void *arg, gw_store *s, MDB_txn *txn, uint64_t seq,
                                const char *type, const void *body_mp, size_t body_len);
HCP_NODISCARD int gw_plog_hook(const char *type, gw_plog_apply_fn fn, void *arg);
/* Whether a hook is registered for type. */
bool gw_plog_has_hook(const char *type);

/* Open the dbs in txn (gw_store_open calls it) and make the memory table;
 * s->plog on success. HCP_ENOMEM, LMDB's errors. */
HCP_NODISCARD int gw_plog_open(gw_store *s, MDB_txn *txn);
/* Free the memory table (gw_store_close calls it). NULL-safe. */
void gw_plog_close(gw_store *s);

/*
 * The entries waiting for county after position `after` (seq > after,
 * target county or "all"), at most REPL_DIRS_MAX and about 1 MiB, in seq
 * order, read in txn: their records are appended to buf (the caller's;
 * dirs[i].rec points into it once this returns), hashes copied; sig is
 * left NULL (the caller signs). *n entries; *more when more wait. HCP_OK,
 * LMDB's errors, HCP_ENOMEM.
 */
HCP_NODISCARD int gw_plog_pending(gw_store *s, MDB_txn *txn, const char *county, uint64_t after,
                                  hcp_buf *buf, repl_dir dirs[REPL_DIRS_MAX], size_t *n,
                                  bool *more);
/* Note, in memory, that county's node stated position dseq and was sent
 * entries up to `sent` (0: none). Any thread. */
void gw_plog_delivered(gw_store *s, const char *county, uint64_t dseq, uint64_t sent);

/* The gateway applies a county's `directive` event (its writer, in the
 * apply transaction): record (county, ev->directive) as applied or
 * refused with its why. Events for a seq the log does not have are kept
 * all the same (the county's word) and logged. LMDB's errors. */
HCP_NODISCARD int gw_plog_ack(gw_store *s, MDB_txn *txn, const char *county, const hcp_event *ev);

/*
 * GET /v1/directives as JSON (new reference, caller json_decref()s; NULL
 * and *rc on failure): entries newest first, filtered by type ("" any)
 * and county ("" any: an entry for one county, or "all"), at most limit,
 * starting below seq `before` (0: from the newest). Each entry has
 * {seq, at, target, type, hash, body, counts{pending, sent, applied,
 * refused}, counties[{county, state, why?}]} — counties listed for every
 * target county when a county filter is given or at most 64 divisions are
 * in use, else only those applied or refused.
 */
json_t *gw_plog_list_json(gw_store *s, MDB_txn *txn, const char *type, const char *county,
                          size_t limit, uint64_t before, int *rc);

/* plog_api.c: /v1/directives, POST (append) and GET (list), on the HTTP
 * server's worker pool (arg the gw). */
struct hcpd_req;
void gw_plog_route(void *arg, struct hcpd_req *r);

/* A JSON object (borrowed) as a msgpack map into out (the caller's):
 * strings, integers, booleans, null, arrays and objects up to 4 deep;
 * the keys in skip (NULL-terminated) left out. HCP_EINVAL (a real number,
 * too deep), HCP_ERANGE (past GW_PLOG_BODY_MAX), HCP_ENOMEM. */
HCP_NODISCARD int gw_plog_body_from_json(const json_t *obj, const char *const *skip, hcp_buf *out);
/* A msgpack body (borrowed) as JSON (new reference), NULL when it is not
 * one the converter above could have made. */
json_t *gw_plog_body_json(const void *body, size_t len);

#endif
