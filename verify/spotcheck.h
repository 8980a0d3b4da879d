/*
 * spotcheck.h — `hcp-verify spotcheck` (spotcheck.c, docs/spotchecks.md):
 * recompute a published spot check from the public log.
 */
#ifndef HCP_VERIFY_SPOTCHECK_H
#define HCP_VERIFY_SPOTCHECK_H

/* Run the subcommand with its arguments (argv after "spotcheck", argc of
 * them). Returns the exit status: 0 verified, 1 failed, 2 usage error or
 * unreachable. The caller has initialised libcurl (when built with it). */
int hcp_verify_spotcheck(int argc, char **argv);

#endif
