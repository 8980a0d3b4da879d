/*
 * ops.h — the operator's subcommands (ops.c): each opens the store beside
 * a running node and returns the process's exit status. main passes
 * argc - 1, argv + 1: argv[0] is the subcommand's name ("backup").
 */
#ifndef NODE_OPS_H
#define NODE_OPS_H

/* `hcp-node backup --data DIR --out FILE`: 0 done, 1 failed, 2 bad flags. */
int node_cmd_backup(int argc, char **argv);
/* `hcp-node verify --data DIR`: 0 the chain holds, 1 it does not (or the
 * store cannot be read), 2 bad flags. */
int node_cmd_verify(int argc, char **argv);
/* `hcp-node user add|list|disable` (daemon/accounts.c, roles clerk,
 * supervisor, auditor). */
int node_cmd_user(int argc, char **argv);

#endif
