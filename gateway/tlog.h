/*
 * tlog.h — the gateway's public transparency log (docs/transparency.md):
 * every public feed entry, as disclosed, is a leaf of an RFC 6962 Merkle
 * tree kept in the store's LMDB (dbi "tlog"), appended in the transaction
 * that writes the entry (gws_feed_update), so the log and the feed never
 * disagree after a commit. A checkpoint (core/note.h), signed with the
 * gateway's Ed25519 key (DIR.keys/log.key, made 0600 at first start), is
 * renewed on the loop at least every second while entries arrive; the
 * checkpoint, the key and the tiles (C2SP tlog-tiles, core/merkle.h) are
 * served at the public routes GET /log/checkpoint, /log/key, /log/tile/...
 *
 * The dbi "tlog" (keys built here only): "n" -> be64 tree size; 'e' | be64
 * i -> entry i; 'h' | u8 level | be64 i -> stored hash (level, i), every
 * complete subtree's (core/merkle.h).
 */
#ifndef GW_TLOG_H
#define GW_TLOG_H

#include <lmdb.h>

#include "gw.h"
#include "note.h"

/* Append entry (len bytes, borrowed) as the next leaf in txn (the
 * caller's write transaction) of the dbi tlog. HCP_ERANGE when the entry
 * is longer than a tile's entry can be (HCP_TILE_ENTRY_MAX); LMDB's
 * errors as hcpd_mdb_err maps them (HCP_EFULL: the caller grows the map
 * and redoes the transaction, this leaf with it); HCP_ECRYPTO. */
HCP_NODISCARD int gw_tlog_append(MDB_txn *txn, MDB_dbi tlog, const void *entry, size_t len);
/* The hook of gws_feed_update: the JSON entry (json, len bytes, borrowed;
 * what the feed serves, without the read-time "deadline_met") of a case
 * as just built in txn becomes the next leaf; *leaf receives its index,
 * or GW_TLOG_NO_LEAF when none was appended: an entry over
 * HCP_TILE_ENTRY_MAX is logged (tlog.entry_too_large) and left out rather
 * than stop replication, and with HCP_BENCH_TLOG_OFF=1 in the gateway's
 * environment at start (benchmarks only) nothing is appended. The feed
 * then keeps the JSON itself. Errors: HCP_EINVAL, gw_tlog_append's. */
#define GW_TLOG_NO_LEAF UINT64_MAX
HCP_NODISCARD int gw_tlog_disclose(MDB_dbi tlog, MDB_txn *txn, const void *json, size_t len,
                                   uint64_t *leaf);
/* Leaf i's entry through cur, a cursor on the tlog dbi that the caller
 * keeps for a run of look-ups (LMDB finds a key on the leaf page the
 * cursor is on without descending the tree again, and a feed's entries
 * are mostly neighbouring leaves): *p (borrowed from the cursor's
 * transaction, valid while it lives) and *len. HCP_ENOTFOUND when the tree
 * has no leaf i; LMDB's errors. */
HCP_NODISCARD int gw_tlog_entry(MDB_cursor *cur, uint64_t i, const void **p, size_t *len);
/* Leaf i's hash (RFC 6962: SHA-256 of 0x00 and the entry), as the tree
 * keeps it, through cur (a cursor on the tlog dbi, kept for a run of
 * look-ups as for gw_tlog_entry) into h. HCP_ENOTFOUND when the tree has
 * no leaf i, HCP_EFORMAT, LMDB's errors. */
HCP_NODISCARD int gw_tlog_leaf_hash(MDB_cursor *cur, uint64_t i, uint8_t h[32]);
/* The tree size in txn (0 for a new log). LMDB's errors. */
HCP_NODISCARD int gw_tlog_size(MDB_txn *txn, MDB_dbi tlog, uint64_t *size);

/* The bytes of tile (level, n) of width w (1..256) of the tree in txn
 * (C2SP tlog-tiles, core/merkle.h; level HCP_TILE_ENTRIES: the entry
 * bundle) appended to out; the caller checked that the tree holds them
 * (hcp_tile_width). HCP_EINVAL; HCP_ENOTFOUND (a hash or entry the tree
 * lacks), HCP_EFORMAT, LMDB's errors; HCP_ERANGE/HCP_ENOMEM from out. */
HCP_NODISCARD int gw_tlog_tile(MDB_txn *txn, MDB_dbi tlog, int level, uint64_t n, unsigned w,
                               hcp_buf *out);
/* The root hash of the tree's first n leaves in txn into root. HCP_EINVAL,
 * LMDB's errors, HCP_ECRYPTO. */
HCP_NODISCARD int gw_tlog_root(MDB_txn *txn, MDB_dbi tlog, uint64_t n, uint8_t root[32]);
/* Read the log's signing key of data directory dir (DIR.keys/log.key),
 * never creating one: for `hcp-gateway publish`, which signs the tree it
 * publishes with the gateway's key. *out new (hcp_note_signer_free).
 * HCP_EINVAL, HCP_ERANGE (path too long), HCP_EIO (missing, unreadable or
 * readable by others: logged), HCP_EFORMAT. */
HCP_NODISCARD int gw_tlog_key_read(const char *dir, hcp_note_signer **out);

/* Load (or at first start create) the log's signing key, sign the
 * current tree and start the checkpoint timer on g->loop: g->tlog.
 * HCP_EIO (key file: logged), HCP_EFORMAT (a key file that is not one),
 * HCP_ENOMEM, LMDB's errors. Call after gw_store_open, before HTTP. */
HCP_NODISCARD int gw_tlog_start(gw *g);
/* Stop the timer and close its handle (the loop runs the close). */
void gw_tlog_stop(gw *g);
/* Free g->tlog after the loop closed its handles (NULL-safe). */
void gw_tlog_free(gw *g);

/* A copy of the latest signed checkpoint note into out (reset first; empty
 * when none is signed yet): the spot-check draw (spot.h) fixes its
 * population with it. HCP_ENOMEM/HCP_ERANGE from out; HCP_ECLOSED when
 * the log is not started. Any thread. */
HCP_NODISCARD int gw_tlog_checkpoint(gw *g, hcp_buf *out);

/* True for the log's public routes (/log/...). */
bool gw_tlog_is_route(const char *path);
/* Answer a GET or HEAD of a /log/ route (any thread of the server). */
void gw_tlog_handle(gw *g, hcpd_req *r);

#endif
