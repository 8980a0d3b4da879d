/*
 * publish.h — `hcp-gateway publish --data DIR --out OUTDIR`: the public
 * side of the gateway as static files (docs/transparency.md "Publishing"),
 * so that nginx or any CDN serves them unchanged and public reads scale
 * with the web server, not with the gateway.
 *
 * It opens the store read-only beside a running gateway (LMDB allows a
 * reader in another process, as `hcp-node backup` does), reads one
 * snapshot, and writes under OUTDIR: the log's tiles and entry bundles
 * (C2SP tlog-tiles), the checkpoint signed with the gateway's own log key
 * (DIR.keys/log.key) for exactly the tree of that snapshot, the verifier
 * key, the feed (first page, numbered pages, per county and prefecture,
 * per case), the Atom feed, the service list and the page. Incremental:
 * a tile that exists is never written again; any other file only when its
 * bytes changed. Each file is written to a temporary name and renamed, so
 * a reader never sees half a file; the checkpoint comes last, so every
 * tile it covers is already there.
 */
#ifndef GW_PUBLISH_H
#define GW_PUBLISH_H

#include "www.h" /* gw_www_files: every file of gateway/www, embedded */

/* hcp-gateway publish ...: argv[0] is "publish". Returns the exit status:
 * 0 published, 1 failed (said on stderr), 2 usage. */
int gw_cmd_publish(int argc, char **argv);

#endif
