/*
 * accounts.h — named accounts and the access log both daemons share
 * (docs/access.md). Prefix hcpd_acct_ / hcpd_access_.
 *
 * Accounts live in the daemon's own LMDB environment, in the database
 * "accounts":
 *   "n:" NAME          -> u8 format (1) | u8 roles | u8 disabled | be64 created | 32-byte hash
 *   "h:" 32-byte hash  -> NAME            (present while the account is enabled)
 * where hash = SHA-256 of the token's 64 hex characters. Only the hash is
 * stored; the token is printed once, by `user add`. The `user` subcommand
 * writes them from another process while the daemon runs (LMDB is
 * multi-process); the daemon looks each presented token up in a read
 * transaction per request, so a new or disabled account counts from the
 * next request on, without a restart.
 *
 * The access log (database "access"): key be64 number (from 1, in order),
 * value "TIME\tACCOUNT\tWHAT" or "TIME\tACCOUNT\tWHAT\tWHY" (TIME RFC 3339
 * +08:00; WHAT a case id or "ledger:YYYY-MM"; WHY the reason the reader gave,
 * already masked by the caller, when one was asked for): one entry per read
 * of personal data, committed before the reply that carries it.
 */
#ifndef HCPD_ACCOUNTS_H
#define HCPD_ACCOUNTS_H

#include "env.h"
#include "hcp_time.h"
#include "hcpd.h"

/* A daemon's view of its accounts. */
typedef struct hcpd_acct {
    hcpd_env *db;   /* borrowed: the daemon's environment */
    MDB_dbi dbi;    /* "accounts" */
    MDB_dbi access; /* "access" */
} hcpd_acct;

/* Open (creating them if missing) the databases "accounts" and "access" of
 * db in one write transaction; call once at start-up, before any other
 * transaction of the process is open. Returns HCP_OK or hcpd_mdb_err's
 * code (env.h); a is the caller's, db stays borrowed. */
HCP_NODISCARD int hcpd_acct_open(hcpd_acct *a, hcpd_env *db);

/* The authenticate hook's work (hcpd_http_cfg.authenticate): whether token
 * belongs to an enabled account; if so its name (HCPD_ACCOUNT_MAX bytes)
 * and roles. Thread-safe (a read transaction of its own); false for an
 * unknown, disabled or unreadable account. */
HCP_NODISCARD bool hcpd_acct_check(hcpd_acct *a, const char *token, char *name, unsigned *roles);

/* Whether r's account has any role of need; if not, r is answered 403
 * {error:"forbidden", detail:"... needs the ROLE role"} naming need_name,
 * and false is returned (the caller must not answer r again). */
HCP_NODISCARD bool hcpd_acct_require(hcpd_req *r, unsigned need, const char *need_name);

/* Append an access-log entry in txn (a write transaction): number = the
 * last one + 1. who and what are plain text without tabs or newlines
 * (checked: HCP_EINVAL). Returns HCP_OK, HCP_EINVAL, HCP_ERANGE (too
 * long), HCP_EFORMAT (the log's last key is malformed), or hcpd_mdb_err's code (HCP_EFULL: the
 * caller's group commit grows the map and redoes the batch). */
HCP_NODISCARD int hcpd_access_put(MDB_txn *txn, MDB_dbi access, hcp_time at, const char *who,
                                  const char *what);

/* The longest reason (bytes, with its NUL) an access-log entry keeps. */
#define HCPD_ACCESS_WHY_MAX 304

/* As hcpd_access_put, with the reader's reason why (NULL or "": none; at
 * most HCPD_ACCESS_WHY_MAX - 1 bytes, else HCP_ERANGE); a tab or line break
 * in it is stored as a space. The caller masks personal data in it first
 * (redact.h): the log is read by auditors. */
HCP_NODISCARD int hcpd_access_put_why(MDB_txn *txn, MDB_dbi access, hcp_time at, const char *who,
                                      const char *what, const char *why);

/* GET /v1/access-log?from=&to=&account=&after=&limit=: answer r from the
 * access log (read transaction on db). from/to: a date YYYY-MM-DD (to is
 * inclusive) or an RFC 3339 instant; account: an exact name; after: the
 * number of the last entry of the previous page; limit 1..5000 (default
 * 1000). Malformed parameters: 400. Replies {entries:[{n, at, account,
 * what}], next} (next: null at the end). */
void hcpd_access_route(hcpd_req *r, hcpd_env *db, MDB_dbi access);

/* The `user` subcommand of a daemon (prog "hcp-node"): argv[0] is "user",
 * argv[1] add | list | disable, then --data DIR, --name NAME, --role ROLE.
 * allowed: the roles this daemon knows (HCPD_ROLE_*). `add` prints the new
 * token as its last line. Returns the exit status (0, 1 failure, 2 usage). */
HCP_NODISCARD int hcpd_acct_cmd(const char *prog, unsigned allowed, int argc, char **argv);

#endif
