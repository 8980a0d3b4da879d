/*
 * query.c — the read routes' query strings (query.h). Pure: the values come
 * through the caller's reader, the errors go back in a node_query_err.
 */
#include "query.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hcpd.h"

/* Fill *e and return HCP_EINVAL (for `return refuse(...)`). */
static int refuse(node_query_err *e, int status, const char *error, const char *detail)
{
    e->status = status;
    e->error = error;
    snprintf(e->detail, sizeof(e->detail), "%s", detail);
    return HCP_EINVAL;
}

/* The status filter: a status name, or empty/absent for any. */
static int parse_status(node_query_get_fn get, void *arg, node_list_query *q, node_query_err *e)
{
    char buf[64];
    int st = get(arg, "status", buf, sizeof(buf));
    if (st == HCPD_Q_BAD)
        return refuse(e, 400, "invalid_parameter", "status: malformed");
    if (st == HCPD_Q_OK && buf[0] != '\0') {
        q->status = HCP_LOOKUP(hcp_status_names, buf, strlen(buf));
        if (q->status == 0)
            return refuse(e, 422, "invalid_field", "status: unknown status");
    }
    return HCP_OK;
}

/* overdue=true|false. */
static int parse_overdue(node_query_get_fn get, void *arg, node_list_query *q, node_query_err *e)
{
    char buf[64];
    int st = get(arg, "overdue", buf, sizeof(buf));
    if (st == HCPD_Q_BAD)
        return refuse(e, 400, "invalid_parameter", "overdue: malformed");
    if (st == HCPD_Q_OK) {
        if (strcmp(buf, "true") != 0 && strcmp(buf, "false") != 0)
            return refuse(e, 422, "invalid_field", "overdue: expected true or false");
        q->overdue = strcmp(buf, "true") == 0;
    }
    return HCP_OK;
}

/* limit=1..NODE_LIST_MAX, decimal, nothing after it. */
static int parse_limit(node_query_get_fn get, void *arg, node_list_query *q, node_query_err *e)
{
    char buf[64];
    int st = get(arg, "limit", buf, sizeof(buf));
    if (st == HCPD_Q_BAD)
        return refuse(e, 400, "invalid_parameter", "limit: malformed");
    if (st == HCPD_Q_OK) {
        char *end;
        long v = strtol(buf, &end, 10);
        if (*end != '\0' || v < 1 || v > NODE_LIST_MAX)
            return refuse(e, 422, "invalid_field", "limit: expected 1..500");
        q->limit = (size_t)v;
    }
    return HCP_OK;
}

/* after=ID: the cursor, taken as given (an unknown id lists what sorts after it). */
static int parse_after(node_query_get_fn get, void *arg, node_list_query *q, node_query_err *e)
{
    char buf[64];
    int st = get(arg, "after", buf, sizeof(buf));
    if (st == HCPD_Q_BAD)
        return refuse(e, 400, "invalid_parameter", "after: malformed");
    if (st == HCPD_Q_OK) {
        size_t n = strlen(buf);
        if (n >= sizeof(q->after))
            return refuse(e, 422, "invalid_field", "after: not a case id");
        memcpy(q->after, buf, n + 1);
    }
    return HCP_OK;
}

int node_list_query_parse(node_query_get_fn get, void *arg, node_list_query *q, node_query_err *e)
{
    if (get == NULL || q == NULL || e == NULL)
        return HCP_EINVAL;
    memset(q, 0, sizeof(*q));
    memset(e, 0, sizeof(*e));
    q->limit = NODE_LIST_DEFAULT;
    int rc = parse_status(get, arg, q, e);
    if (rc == HCP_OK)
        rc = parse_overdue(get, arg, q, e);
    if (rc == HCP_OK)
        rc = parse_limit(get, arg, q, e);
    if (rc == HCP_OK)
        rc = parse_after(get, arg, q, e);
    return rc;
}

int node_ledger_query_parse(node_query_get_fn get, void *arg, int *year, int *month,
                            node_query_err *e)
{
    if (get == NULL || year == NULL || month == NULL || e == NULL)
        return HCP_EINVAL;
    memset(e, 0, sizeof(*e));
    char buf[16], tail;
    int y, m;
    int st = get(arg, "month", buf, sizeof(buf));
    if (st == HCPD_Q_BAD)
        return refuse(e, 400, "invalid_parameter", "month: malformed");
    if (st != HCPD_Q_OK || sscanf(buf, "%4d-%2d%c", &y, &m, &tail) != 2 || strlen(buf) != 7 ||
        y < 2000 || y > 9999 || m < 1 || m > 12)
        return refuse(e, 422, "invalid_field", "month: expected YYYY-MM");
    *year = y;
    *month = m;
    return HCP_OK;
}
