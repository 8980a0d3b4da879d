/*
 * accounts.c — named accounts, role checks, the access log and the `user`
 * subcommand both daemons share (accounts.h, docs/access.md).
 */
#include "accounts.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "be.h"
#include "chain.h"
#include "seal.h"

#define ACCT_FORMAT    1
#define ACCT_VAL_LEN   (3 + 8 + 32)
#define ACCT_KEY_MAX   (2 + HCPD_ACCOUNT_MAX)
#define ACCESS_DEFAULT 1000
#define ACCESS_MAX     5000
#define ACCESS_LINE    1024

static const struct {
    unsigned bit;
    const char *name;
} role_names[] = {
    {HCPD_ROLE_CLERK, "clerk"},
    {HCPD_ROLE_SUPERVISOR, "supervisor"},
    {HCPD_ROLE_AUDITOR, "auditor"},
};

/* The name of one role bit ("admin" for all of them, "?" otherwise). */
static const char *role_name(unsigned roles)
{
    if (roles == HCPD_ROLE_ALL)
        return "admin";
    for (size_t i = 0; i < sizeof(role_names) / sizeof(role_names[0]); i++)
        if (role_names[i].bit == roles)
            return role_names[i].name;
    return "?";
}

/* SHA-256 of the token's characters: what is stored instead of it. */
static int token_hash(const char *token, uint8_t out[32])
{
    const void *parts[1] = {token};
    size_t lens[1] = {strlen(token)};
    return hcp_sha256(parts, lens, 1, out);
}

/* Key "n:" NAME into k (buf of ACCT_KEY_MAX bytes); false if name too long. */
static bool name_key(MDB_val *k, uint8_t *buf, const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n >= HCPD_ACCOUNT_MAX)
        return false;
    buf[0] = 'n';
    buf[1] = ':';
    memcpy(buf + 2, name, n);
    k->mv_size = 2 + n;
    k->mv_data = buf;
    return true;
}

/* Key "h:" HASH into k (buf of 34 bytes). */
static void hash_key(MDB_val *k, uint8_t *buf, const uint8_t hash[32])
{
    buf[0] = 'h';
    buf[1] = ':';
    memcpy(buf + 2, hash, 32);
    k->mv_size = 34;
    k->mv_data = buf;
}

/* An account's stored value, decoded. */
typedef struct acct_rec {
    unsigned roles;
    bool disabled;
    hcp_time created;
    uint8_t hash[32];
} acct_rec;

/* Decode a stored account value; false when it is not one we wrote. */
static bool rec_decode(const MDB_val *v, acct_rec *out)
{
    const uint8_t *p = v->mv_data;
    if (v->mv_size != ACCT_VAL_LEN || p[0] != ACCT_FORMAT || (p[1] & ~HCPD_ROLE_ALL) != 0 ||
        p[1] == 0 || p[2] > 1)
        return false;
    out->roles = p[1];
    out->disabled = p[2] == 1;
    out->created = (hcp_time)hcp_be64_get(p + 3);
    memcpy(out->hash, p + 11, 32);
    return true;
}

static void rec_encode(const acct_rec *r, uint8_t out[ACCT_VAL_LEN])
{
    out[0] = ACCT_FORMAT;
    out[1] = (uint8_t)r->roles;
    out[2] = r->disabled ? 1 : 0;
    hcp_be64_put(out + 3, (uint64_t)r->created);
    memcpy(out + 11, r->hash, 32);
}

/* Both databases must exist before the HTTP server starts looking tokens up. */
int hcpd_acct_open(hcpd_acct *a, hcpd_env *db)
{
    if (a == NULL || db == NULL || db->env == NULL)
        return HCP_EINVAL;
    memset(a, 0, sizeof(*a));
    a->db = db;
    MDB_txn *txn;
    int rc = mdb_txn_begin(db->env, NULL, 0, &txn);
    if (rc != MDB_SUCCESS)
        return hcpd_mdb_err(rc);
    rc = mdb_dbi_open(txn, "accounts", MDB_CREATE, &a->dbi);
    if (rc == MDB_SUCCESS)
        rc = mdb_dbi_open(txn, "access", MDB_CREATE, &a->access);
    if (rc == MDB_SUCCESS)
        return hcpd_mdb_err(mdb_txn_commit(txn)); /* the handles outlive it */
    mdb_txn_abort(txn);
    return hcpd_mdb_err(rc);
}

/* Look the token's hash up: per request, so the `user` subcommand's
 * changes count at once. */
bool hcpd_acct_check(hcpd_acct *a, const char *token, char *name, unsigned *roles)
{
    uint8_t hash[32], kb[ACCT_KEY_MAX];
    if (a == NULL || a->db == NULL || token == NULL || name == NULL || roles == NULL ||
        token_hash(token, hash) != HCP_OK)
        return false;
    MDB_txn *txn;
    if (hcpd_env_read_begin(a->db, &txn) != HCP_OK)
        return false;
    MDB_val k, v;
    hash_key(&k, kb, hash);
    bool ok = false;
    char who[HCPD_ACCOUNT_MAX];
    if (mdb_get(txn, a->dbi, &k, &v) == MDB_SUCCESS && v.mv_size > 0 && v.mv_size < sizeof(who)) {
        memcpy(who, v.mv_data, v.mv_size);
        who[v.mv_size] = '\0';
        acct_rec rec;
        ok = name_key(&k, kb, who) && mdb_get(txn, a->dbi, &k, &v) == MDB_SUCCESS &&
             rec_decode(&v, &rec) && !rec.disabled && memcmp(rec.hash, hash, 32) == 0;
        if (ok) {
            memcpy(name, who, strlen(who) + 1);
            *roles = rec.roles;
        }
    }
    hcpd_env_read_end(a->db, txn);
    return ok;
}

/* A wrong role is 403 naming what the route needs. */
bool hcpd_acct_require(hcpd_req *r, unsigned need, const char *need_name)
{
    if ((hcpd_req_roles(r) & need) != 0)
        return true;
    char detail[160];
    snprintf(detail, sizeof(detail), "this needs the %s role; account %s is not allowed",
             need_name != NULL ? need_name : "?", hcpd_req_account(r));
    hcpd_req_reply_error(r, 403, "forbidden", detail);
    return false;
}

/* ---- the access log ---- */

int hcpd_access_put(MDB_txn *txn, MDB_dbi access, hcp_time at, const char *who, const char *what)
{
    return hcpd_access_put_why(txn, access, at, who, what, NULL);
}

int hcpd_access_put_why(MDB_txn *txn, MDB_dbi access, hcp_time at, const char *who,
                        const char *what, const char *why)
{
    if (txn == NULL || who == NULL || what == NULL || who[strcspn(who, "\t\r\n")] != '\0' ||
        what[strcspn(what, "\t\r\n")] != '\0')
        return HCP_EINVAL;
    char reason[HCPD_ACCESS_WHY_MAX] = "";
    if (why != NULL) {
        size_t wl = strlen(why);
        if (wl >= sizeof(reason))
            return HCP_ERANGE;
        for (size_t i = 0; i < wl; i++) /* one entry is one line of four fields */
            reason[i] = (why[i] == '\t' || why[i] == '\r' || why[i] == '\n') ? ' ' : why[i];
        reason[wl] = '\0';
    }
    char line[ACCESS_LINE], ts[HCP_TIME_STRLEN];
    int rc = hcp_time_format(at, ts, sizeof(ts));
    if (rc != HCP_OK)
        return rc;
    int len = reason[0] != '\0'
                  ? snprintf(line, sizeof(line), "%s\t%s\t%s\t%s", ts, who, what, reason)
                  : snprintf(line, sizeof(line), "%s\t%s\t%s", ts, who, what);
    if (len < 0 || (size_t)len >= sizeof(line))
        return HCP_ERANGE;
    MDB_cursor *cur;
    if ((rc = hcpd_mdb_err(mdb_cursor_open(txn, access, &cur))) != HCP_OK)
        return rc;
    MDB_val k, v;
    uint64_t last = 0;
    int mrc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
    if (mrc == MDB_SUCCESS && k.mv_size == 8)
        last = hcp_be64_get(k.mv_data);
    mdb_cursor_close(cur);
    if (mrc != MDB_SUCCESS && mrc != MDB_NOTFOUND)
        return hcpd_mdb_err(mrc);
    if (mrc == MDB_SUCCESS && k.mv_size != 8)
        return HCP_EFORMAT;
    uint8_t kb[8];
    hcp_be64_put(kb, last + 1);
    k.mv_size = 8;
    k.mv_data = kb;
    v.mv_size = (size_t)len;
    v.mv_data = line;
    return hcpd_mdb_err(mdb_put(txn, access, &k, &v, MDB_APPEND));
}

/* The filter of GET /v1/access-log. */
typedef struct access_q {
    hcp_time from, to; /* inclusive bounds; 0 / INT64_MAX when not given */
    char account[HCPD_ACCOUNT_MAX];
    uint64_t after;
    size_t limit;
} access_q;

/* A bound: a date (the day's first or last second) or an RFC 3339 instant. */
static bool parse_bound(const char *s, bool end, hcp_time *out)
{
    hcp_day d;
    if (strlen(s) == 10 && hcp_date_parse(s, 10, &d) == HCP_OK) {
        *out = end ? hcp_day_end(d) : hcp_day_start(d);
        return true;
    }
    return hcp_time_parse(s, strlen(s), out) == HCP_OK;
}

/* Parse the query of r into q; false after answering 400. */
static bool access_parse(hcpd_req *r, access_q *q)
{
    char buf[HCP_TIME_STRLEN + 16];
    memset(q, 0, sizeof(*q));
    q->to = INT64_MAX;
    q->limit = ACCESS_DEFAULT;
    int st;
    if ((st = hcpd_req_query_get(r, "from", buf, sizeof(buf))) == HCPD_Q_BAD ||
        (st == HCPD_Q_OK && !parse_bound(buf, false, &q->from))) {
        hcpd_req_reply_error(r, 400, "invalid_query", "from: expected YYYY-MM-DD or RFC 3339");
        return false;
    }
    if ((st = hcpd_req_query_get(r, "to", buf, sizeof(buf))) == HCPD_Q_BAD ||
        (st == HCPD_Q_OK && !parse_bound(buf, true, &q->to))) {
        hcpd_req_reply_error(r, 400, "invalid_query", "to: expected YYYY-MM-DD or RFC 3339");
        return false;
    }
    if (hcpd_req_query_get(r, "account", q->account, sizeof(q->account)) == HCPD_Q_BAD) {
        hcpd_req_reply_error(r, 400, "invalid_query", "account: not an account name");
        return false;
    }
    char *end = buf;
    if ((st = hcpd_req_query_get(r, "after", buf, sizeof(buf))) != HCPD_Q_ABSENT) {
        errno = 0;
        unsigned long long v = strtoull(buf, &end, 10);
        if (st == HCPD_Q_BAD || buf[0] < '0' || buf[0] > '9' || *end != '\0' || errno != 0) {
            hcpd_req_reply_error(r, 400, "invalid_query", "after: an entry number");
            return false;
        }
        q->after = v;
    }
    if ((st = hcpd_req_query_get(r, "limit", buf, sizeof(buf))) != HCPD_Q_ABSENT) {
        long v = st == HCPD_Q_OK ? strtol(buf, &end, 10) : 0;
        if (st == HCPD_Q_BAD || buf[0] < '0' || buf[0] > '9' || *end != '\0' || v < 1 ||
            v > ACCESS_MAX) {
            hcpd_req_reply_error(r, 400, "invalid_query", "limit: expected 1..5000");
            return false;
        }
        q->limit = (size_t)v;
    }
    return true;
}

/* One stored entry as JSON if it passes q; *match false when it does not.
 * NULL with *match true only on allocation failure. */
static json_t *access_entry(uint64_t n, const MDB_val *v, const access_q *q, bool *match)
{
    char line[ACCESS_LINE];
    *match = false;
    if (v->mv_size >= sizeof(line))
        return NULL;
    memcpy(line, v->mv_data, v->mv_size);
    line[v->mv_size] = '\0';
    char *who = strchr(line, '\t');
    char *what = who != NULL ? strchr(who + 1, '\t') : NULL;
    if (what == NULL)
        return NULL; /* not an entry we wrote: skipped */
    *who++ = '\0';
    *what++ = '\0';
    char *why = strchr(what, '\t'); /* the reader's reason, when one was given */
    if (why != NULL)
        *why++ = '\0';
    hcp_time at;
    if (hcp_time_parse(line, strlen(line), &at) != HCP_OK || at < q->from || at > q->to ||
        (q->account[0] != '\0' && strcmp(who, q->account) != 0))
        return NULL;
    *match = true;
    json_t *e =
        json_pack("{sI,ss,ss,ss}", "n", (json_int_t)n, "at", line, "account", who, "what", what);
    json_t *w = e != NULL && why != NULL ? json_string(why) : NULL; /* NULL: not UTF-8, left out */
    if (w != NULL && json_object_set_new(e, "reason", w) != 0) {
        json_decref(e);
        return NULL;
    }
    return e;
}

void hcpd_access_route(hcpd_req *r, hcpd_env *db, MDB_dbi access)
{
    access_q q;
    if (!access_parse(r, &q))
        return;
    json_t *arr = json_array();
    MDB_txn *txn = NULL;
    MDB_cursor *cur = NULL;
    int rc = arr != NULL ? hcpd_env_read_begin(db, &txn) : HCP_ENOMEM;
    if (rc == HCP_OK)
        rc = hcpd_mdb_err(mdb_cursor_open(txn, access, &cur));
    uint64_t last = 0;
    bool more = false;
    if (rc == HCP_OK) {
        uint8_t kb[8];
        hcp_be64_put(kb, q.after + 1);
        MDB_val k = {8, kb}, v;
        int mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
        while (mrc == MDB_SUCCESS && rc == HCP_OK) {
            if (k.mv_size != 8) {
                mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
                continue;
            }
            if (json_array_size(arr) == q.limit) {
                more = true; /* another match may follow: offer the next page */
                break;
            }
            bool match;
            uint64_t n = hcp_be64_get(k.mv_data);
            json_t *e = access_entry(n, &v, &q, &match);
            if (match && (e == NULL || json_array_append_new(arr, e) != 0))
                rc = HCP_ENOMEM;
            if (match)
                last = n;
            mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
        }
        if (rc == HCP_OK && mrc != MDB_SUCCESS && mrc != MDB_NOTFOUND)
            rc = hcpd_mdb_err(mrc);
        mdb_cursor_close(cur);
    }
    if (txn != NULL)
        hcpd_env_read_end(db, txn);
    if (rc != HCP_OK) {
        json_decref(arr);
        hcpd_req_reply_error(r, 500, "storage_error", hcp_strerror(rc));
        return;
    }
    hcpd_req_reply_json(r, 200,
                        json_pack("{so,so}", "entries", arr, "next",
                                  more ? json_integer((json_int_t)last) : json_null()));
}

/* ---- the `user` subcommand ---- */

enum cmd_verb { CMD_ADD, CMD_LIST, CMD_DISABLE };

typedef struct cmd_args {
    const char *verb, *data, *name, *role;
    enum cmd_verb op; /* verb, once checked */
} cmd_args;

/* Usage of the subcommand for prog, listing the roles it allows. */
static void cmd_usage(FILE *f, const char *prog, unsigned allowed)
{
    char roles[64] = "";
    for (size_t i = 0; i < sizeof(role_names) / sizeof(role_names[0]); i++)
        if (allowed & role_names[i].bit) {
            if (roles[0] != '\0')
                strncat(roles, "|", sizeof(roles) - strlen(roles) - 1);
            strncat(roles, role_names[i].name, sizeof(roles) - strlen(roles) - 1);
        }
    fprintf(f,
            "usage: %s user add --data DIR --name NAME --role %s\n"
            "       %s user list --data DIR\n"
            "       %s user disable --data DIR --name NAME\n"
            "  Named accounts of the HTTP API (docs/access.md); they work while the daemon\n"
            "  runs. `add` prints the new account's bearer token once, as its last line;\n"
            "  only a hash of it is stored. `disable` ends an account for good (its name\n"
            "  stays taken, so the access log keeps meaning one person). NAME: 1..63 of\n"
            "  A-Z a-z 0-9 . _ - @; \"admin\" is the token file's account.\n"
            "  %s --version prints the version and the data formats it reads.\n",
            prog, roles, prog, prog, prog);
}

/* Parse argv (argv[0] "user", argv[1] the verb); 0, or the exit status. */
static int cmd_parse(const char *prog, unsigned allowed, int argc, char **argv, cmd_args *a)
{
    static const struct option opts[] = {{"data", required_argument, NULL, 'd'},
                                         {"name", required_argument, NULL, 'n'},
                                         {"role", required_argument, NULL, 'r'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    memset(a, 0, sizeof(*a));
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        cmd_usage(stdout, prog, allowed);
        return -1;
    }
    if (argc < 2 || argv[1][0] == '-') {
        cmd_usage(stderr, prog, allowed);
        return 2;
    }
    a->verb = argv[1];
    optind = 1;
    int c;
    while ((c = getopt_long(argc - 1, argv + 1, "", opts, NULL)) != -1) {
        switch (c) {
        case 'd':
            a->data = optarg;
            break;
        case 'n':
            a->name = optarg;
            break;
        case 'r':
            a->role = optarg;
            break;
        case 'h':
            cmd_usage(stdout, prog, allowed);
            return -1;
        default:
            cmd_usage(stderr, prog, allowed);
            return 2;
        }
    }
    bool add = strcmp(a->verb, "add") == 0, list = strcmp(a->verb, "list") == 0,
         dis = strcmp(a->verb, "disable") == 0;
    if (optind < argc - 1 || a->data == NULL || !(add || list || dis) ||
        (add && (a->name == NULL || a->role == NULL)) || (dis && a->name == NULL) ||
        (!add && a->role != NULL) || (list && a->name != NULL)) {
        cmd_usage(stderr, prog, allowed);
        return 2;
    }
    a->op = add ? CMD_ADD : list ? CMD_LIST : CMD_DISABLE;
    return 0;
}

/* Whether name is a usable account name (ASCII: it goes into logs and the
 * access log's tab-separated lines). */
static bool name_ok(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n >= HCPD_ACCOUNT_MAX || strcmp(name, "admin") == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = name[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '.' || ch == '_' || ch == '-' || ch == '@'))
            return false;
    }
    return true;
}

/* Open DIR's environment beside a running daemon and a write (or read)
 * transaction with the accounts database. The map size is adopted from
 * the store, so the daemon's map never shrinks. LMDB's code. */
static int cmd_open(const char *dir, bool write, MDB_env **env, MDB_txn **txn, MDB_dbi *dbi,
                    MDB_dbi *access)
{
    *env = NULL;
    *txn = NULL;
    int rc = mdb_env_create(env);
    if (rc == MDB_SUCCESS)
        rc = mdb_env_set_maxdbs(*env, 32);
    if (rc == MDB_SUCCESS)
        rc = mdb_env_open(*env, dir, MDB_NOTLS | (write ? 0 : MDB_RDONLY), 0600);
    if (rc == MDB_SUCCESS)
        rc = mdb_env_set_mapsize(*env, 0); /* adopt the size the daemon uses */
    for (int i = 0; rc == MDB_SUCCESS && i < 2; i++) {
        rc = mdb_txn_begin(*env, NULL, write ? 0 : MDB_RDONLY, txn);
        if (rc != MDB_MAP_RESIZED)
            break;
        rc = mdb_env_set_mapsize(*env, 0); /* the daemon grew it meanwhile */
    }
    if (rc == MDB_SUCCESS)
        rc = mdb_dbi_open(*txn, "accounts", write ? MDB_CREATE : 0, dbi);
    if (rc == MDB_SUCCESS && access != NULL)
        rc = mdb_dbi_open(*txn, "access", write ? MDB_CREATE : 0, access);
    if (rc != MDB_SUCCESS && *txn != NULL) {
        mdb_txn_abort(*txn);
        *txn = NULL;
    }
    return rc;
}

/* A new token: HCPD_TOKEN_BYTES random bytes as hex into tok. */
static int new_token(char tok[2 * HCPD_TOKEN_BYTES + 1])
{
    uint8_t raw[HCPD_TOKEN_BYTES];
    int rc = hcp_random(raw, sizeof(raw));
    for (size_t i = 0; rc == HCP_OK && i < sizeof(raw); i++)
        snprintf(tok + 2 * i, 3, "%02x", raw[i]);
    explicit_bzero(raw, sizeof(raw));
    return rc;
}

/* user add: a new enabled account; its token printed last. */
static int cmd_add(const char *prog, unsigned allowed, const cmd_args *a)
{
    unsigned role = 0;
    for (size_t i = 0; i < sizeof(role_names) / sizeof(role_names[0]); i++)
        if (strcmp(a->role, role_names[i].name) == 0)
            role = role_names[i].bit;
    if ((role & allowed) == 0) {
        fprintf(stderr, "%s user add: --role %s: not a role of %s (try --help)\n", prog, a->role,
                prog);
        return 2;
    }
    if (!name_ok(a->name)) {
        fprintf(stderr, "%s user add: --name %s: 1..63 of A-Z a-z 0-9 . _ - @, and not \"admin\"\n",
                prog, a->name);
        return 2;
    }
    char tok[2 * HCPD_TOKEN_BYTES + 1];
    acct_rec rec = {.roles = role, .created = (hcp_time)time(NULL)};
    if (new_token(tok) != HCP_OK || token_hash(tok, rec.hash) != HCP_OK) {
        fprintf(stderr, "%s user add: cannot make a token\n", prog);
        return 1;
    }
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi, access;
    uint8_t kn[ACCT_KEY_MAX], kh[34], val[ACCT_VAL_LEN];
    rec_encode(&rec, val);
    MDB_val k, v = {sizeof(val), val};
    int rc = cmd_open(a->data, true, &env, &txn, &dbi, &access);
    if (rc == MDB_SUCCESS && name_key(&k, kn, a->name))
        rc = mdb_put(txn, dbi, &k, &v, MDB_NOOVERWRITE);
    if (rc == MDB_SUCCESS) {
        hash_key(&k, kh, rec.hash);
        MDB_val nv = {strlen(a->name), (void *)a->name};
        rc = mdb_put(txn, dbi, &k, &nv, MDB_NOOVERWRITE);
    }
    if (rc == MDB_SUCCESS)
        rc = mdb_txn_commit(txn);
    else if (txn != NULL)
        mdb_txn_abort(txn);
    if (env != NULL)
        mdb_env_close(env);
    if (rc == MDB_KEYEXIST) {
        fprintf(stderr, "%s user add: an account %s exists (names are never reused)\n", prog,
                a->name);
        explicit_bzero(tok, sizeof(tok));
        return 1;
    }
    if (rc != MDB_SUCCESS) {
        fprintf(stderr, "%s user add: cannot write the accounts in %s: %s\n", prog, a->data,
                mdb_strerror(rc));
        explicit_bzero(tok, sizeof(tok));
        return 1;
    }
    printf("account %s (%s) added to %s; its bearer token, shown only now:\n%s\n", a->name, a->role,
           a->data, tok);
    explicit_bzero(tok, sizeof(tok));
    return 0;
}

/* user list: one line per account. */
static int cmd_list(const char *prog, const cmd_args *a)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    MDB_cursor *cur = NULL;
    int rc = cmd_open(a->data, false, &env, &txn, &dbi, NULL);
    if (rc == MDB_NOTFOUND) { /* no account was ever added */
        if (txn != NULL)
            mdb_txn_abort(txn);
        mdb_env_close(env);
        printf("admin\tadmin\tactive\t(the token file)\n");
        return 0;
    }
    if (rc == MDB_SUCCESS)
        rc = mdb_cursor_open(txn, dbi, &cur);
    if (rc == MDB_SUCCESS)
        printf("admin\tadmin\tactive\t(the token file)\n");
    MDB_val k, v;
    int mrc = rc == MDB_SUCCESS ? mdb_cursor_get(cur, &k, &v, MDB_FIRST) : rc;
    while (rc == MDB_SUCCESS && mrc == MDB_SUCCESS) {
        acct_rec rec;
        const char *kp = k.mv_data;
        char ts[HCP_TIME_STRLEN] = "?";
        if (k.mv_size > 2 && kp[0] == 'n' && kp[1] == ':' && rec_decode(&v, &rec)) {
            if (hcp_time_format(rec.created, ts, sizeof(ts)) != HCP_OK)
                snprintf(ts, sizeof(ts), "?");
            printf("%.*s\t%s\t%s\t%s\n", (int)k.mv_size - 2, kp + 2, role_name(rec.roles),
                   rec.disabled ? "disabled" : "active", ts);
        }
        mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    if (rc == MDB_SUCCESS && mrc != MDB_NOTFOUND)
        rc = mrc;
    if (cur != NULL)
        mdb_cursor_close(cur);
    if (txn != NULL)
        mdb_txn_abort(txn);
    if (env != NULL)
        mdb_env_close(env);
    if (rc != MDB_SUCCESS) {
        fprintf(stderr, "%s user list: cannot read the accounts in %s: %s\n", prog, a->data,
                mdb_strerror(rc));
        return 1;
    }
    return 0;
}

/* user disable: the account's token stops working at the next request. */
static int cmd_disable(const char *prog, const cmd_args *a)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi, access;
    uint8_t kn[ACCT_KEY_MAX], kh[34], val[ACCT_VAL_LEN];
    MDB_val k, v;
    acct_rec rec;
    int rc = cmd_open(a->data, true, &env, &txn, &dbi, &access);
    bool known = false;
    if (rc == MDB_SUCCESS && name_key(&k, kn, a->name)) {
        rc = mdb_get(txn, dbi, &k, &v);
        known = rc == MDB_SUCCESS && rec_decode(&v, &rec);
        if (rc == MDB_SUCCESS && !known)
            rc = MDB_CORRUPTED;
    } else if (rc == MDB_SUCCESS)
        rc = MDB_NOTFOUND;
    if (known) {
        rec.disabled = true;
        rec_encode(&rec, val);
        v.mv_size = sizeof(val);
        v.mv_data = val;
        rc = mdb_put(txn, dbi, &k, &v, 0);
        MDB_val hk;
        hash_key(&hk, kh, rec.hash);
        int drc = rc == MDB_SUCCESS ? mdb_del(txn, dbi, &hk, NULL) : rc;
        rc = drc == MDB_NOTFOUND ? MDB_SUCCESS : drc;
    }
    if (rc == MDB_SUCCESS)
        rc = mdb_txn_commit(txn);
    else if (txn != NULL)
        mdb_txn_abort(txn);
    if (env != NULL)
        mdb_env_close(env);
    if (rc == MDB_NOTFOUND) {
        fprintf(stderr, "%s user disable: no account %s in %s\n", prog, a->name, a->data);
        return 1;
    }
    if (rc != MDB_SUCCESS) {
        fprintf(stderr, "%s user disable: cannot write the accounts in %s: %s\n", prog, a->data,
                mdb_strerror(rc));
        return 1;
    }
    printf("account %s disabled\n", a->name);
    return 0;
}

int hcpd_acct_cmd(const char *prog, unsigned allowed, int argc, char **argv)
{
    cmd_args a;
    int rc = cmd_parse(prog, allowed, argc, argv, &a);
    if (rc != 0)
        return rc < 0 ? 0 : rc;
    char store[4200];
    struct stat st;
    if (snprintf(store, sizeof(store), "%s/data.mdb", a.data) >= (int)sizeof(store) ||
        stat(store, &st) != 0) {
        fprintf(stderr, "%s user: no store in %s: start %s on it once first\n", prog, a.data, prog);
        return 1;
    }
    switch (a.op) {
    case CMD_ADD:
        return cmd_add(prog, allowed, &a);
    case CMD_LIST:
        return cmd_list(prog, &a);
    default:
        return cmd_disable(prog, &a);
    }
}
