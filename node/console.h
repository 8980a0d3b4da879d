/*
 * console.h — the node console (docs/consoles.md): its embedded files
 * (node/www, served at GET / and GET /NAME without a token: they hold no
 * data) and the one route the console needs beyond the API,
 * GET /v1/cases/ID/steps: the handling steps the rules allow on a case
 * now, the refusal of each other one, and its deadlines in working days.
 * Prefix node_console_.
 */
#ifndef NODE_CONSOLE_H
#define NODE_CONSOLE_H

#include <stdbool.h>
#include <stddef.h>

#include "hcpd_www.h"
#include "node.h"
#include "writer.h"

/* The embedded files of node/www in name order (generated at build time by
 * hcp_www_table, node/CMakeLists.txt). */
extern const hcpd_www_file node_www_files[];
extern const size_t node_www_nfiles;

/* Whether method and path ask for a console file (GET or HEAD): a public
 * route (the http layer's is_public). */
bool node_console_is_public(const char *method, const char *path);
/* Whether path is one of the console's: a console file, or
 * /v1/cases/ID/steps. */
bool node_console_is_route(const char *path);
/* Answer r on a path node_console_is_route accepts: a file (GET, HEAD;
 * others 405), or the steps route (GET; clerk or supervisor), which is
 * queued to the writer (W_CONSOLE) where the calendar in force is read. */
void node_console_route(node *n, node_req *r);
/* The writer's part of the steps route (W_CONSOLE, writer.c), in the
 * writer's transaction txn (read only): the case of w->id, each candidate
 * step tried on a copy at w->now with the rules (core/rules.h), the reply
 * set in w. Store errors are returned (the batch retries); a missing case
 * is answered 404. */
HCP_NODISCARD int node_console_apply(node *n, MDB_txn *txn, node_write *w);

#endif
