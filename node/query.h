/*
 * query.h — the query strings of the node's read routes, parsed and
 * checked without HTTP (query.c): GET /v1/cases?status=&overdue=&limit=
 * &after= and GET /v1/ledger?month=. The caller supplies how a parameter
 * is read (api.c: hcpd_req_query_get on the request; the unit tests: a
 * table), and answers the error the parse describes.
 */
#ifndef NODE_QUERY_H
#define NODE_QUERY_H

#include <stdbool.h>
#include <stddef.h>

#include "case.h"
#include "hcp.h"

#define NODE_LIST_DEFAULT 50  /* cases per page when limit is not given */
#define NODE_LIST_MAX     500 /* the largest limit */

/* Read query parameter key into buf (len bytes, NUL-terminated, decoded).
 * Returns HCPD_Q_ABSENT (0, not given), HCPD_Q_OK (1) or HCPD_Q_BAD (-1:
 * malformed, too long, or given twice), as hcpd_req_query_get does. */
typedef int (*node_query_get_fn)(void *arg, const char *key, char *buf, size_t len);

/* Why a query was refused: the HTTP status (400 malformed, 422 a value
 * out of its domain), the error code and a detail for the reply body. */
typedef struct node_query_err {
    int status;
    const char *error; /* "invalid_parameter" or "invalid_field" (static) */
    char detail[96];
} node_query_err;

/* GET /v1/cases: the case list's parameters. */
typedef struct node_list_query {
    int status;                  /* enum hcp_status to filter on; 0: any */
    bool overdue;                /* only cases with a deadline passed unmet */
    size_t limit;                /* 1..NODE_LIST_MAX, default NODE_LIST_DEFAULT */
    char after[HCP_CASE_ID_MAX]; /* the cursor: list ids after this one ("" from the first) */
} node_list_query;

/* Parse status (a status name), overdue (true|false), limit (1..500) and
 * after (a cursor shorter than a case id's buffer) into *q (defaults for
 * what is absent). HCP_OK, or HCP_EINVAL with *e filled: 400
 * invalid_parameter for a malformed parameter, 422 invalid_field for a
 * value out of its domain. */
HCP_NODISCARD int node_list_query_parse(node_query_get_fn get, void *arg, node_list_query *q,
                                        node_query_err *e);

/* GET /v1/ledger: month=YYYY-MM (2000-01..9999-12) into *year, *month.
 * HCP_OK, or HCP_EINVAL with *e filled (400 malformed, 422 absent or not
 * a month). */
HCP_NODISCARD int node_ledger_query_parse(node_query_get_fn get, void *arg, int *year, int *month,
                                          node_query_err *e);

#endif
