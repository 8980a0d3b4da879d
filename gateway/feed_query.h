/*
 * feed_query.h — the query of the public feed routes (docs/feed.md):
 * GET /feed/requests.json?county=&status=&start_date=&end_date=
 * &updated_after=&service_request_id=&service_code=&page=&page_size= and
 * GET /feed/atom.xml with the same filters (no paging). A pure module:
 * parameters come through a callback, so the HTTP layer (feed.c) and the
 * unit tests feed it alike; and which stored entries pass the filters.
 */
#ifndef GW_FEED_QUERY_H
#define GW_FEED_QUERY_H

#include "case.h"
#include "feed_entry.h"
#include "hcp.h"

#define GW_FEED_PAGE_DEFAULT 50
#define GW_FEED_PAGE_MAX     200
#define GW_FEED_PAGES_MAX    100000000 /* the highest page number accepted (9 digits) */
#define GW_FEED_ATOM_ENTRIES 100       /* Atom: the latest this many, no paging */
#define GW_FEED_LIST_MAX     20        /* GeoReport comma lists: at most this many items */
#define GW_FEED_CODE_MAX     128       /* a service_code item's ceiling, with its NUL */
#define GW_FEED_QKEY_MAX     4096      /* holds every item of both lists */
#define GW_FEED_PARAM_MAX    1024      /* no valid value is longer than 1023 bytes */

/* GW_FEED_Q_BOTH only while parsing "open,closed" (then GW_FEED_Q_ANY) */
enum gw_feed_status { GW_FEED_Q_ANY = 0, GW_FEED_Q_OPEN, GW_FEED_Q_CLOSED, GW_FEED_Q_BOTH };

typedef struct gw_feed_q {
    bool atom;
    char county[HCP_COUNTY_LEN + 1]; /* "" any */
    bool prefecture;                 /* county names a prefecture (市州) */
    int status;                      /* enum gw_feed_status */
    hcp_time start, end;             /* on requested_datetime, inclusive; 0 none */
    bool has_after;
    hcp_time after; /* updated_datetime > after */
    size_t nids;    /* service_request_id=ID[,ID...]: only these cases */
    char ids[GW_FEED_LIST_MAX][HCP_CASE_ID_MAX];
    size_t ncodes; /* service_code=CODE[,CODE...]: entries of these service items */
    char codes[GW_FEED_LIST_MAX][GW_FEED_CODE_MAX];
    uint32_t page, size;
    bool has_page;                /* page= was given */
    bool has_cursor;              /* cursor=: the entries after (older than) this position */
    hcp_time cur_at;              /* the position: an entry's updated_datetime (seconds) */
    char cur_id[HCP_CASE_ID_MAX]; /* and its case id */
    char key[GW_FEED_QKEY_MAX];   /* canonical form: the page cache's key */
} gw_feed_q;

/* The parameters a feed route reads (NULL-terminated), for the HTTP
 * layer's check of malformed values (hcpd_req_params_ok). */
extern const char *const gw_feed_query_keys[];

/* Copy parameter key (decoded) into buf (len bytes with the NUL); false
 * when it is absent or longer than buf. */
typedef bool (*gw_feed_param_fn)(void *arg, const char *key, char *buf, size_t len);

/* Which parameter was refused and why (static English strings). */
typedef struct gw_feed_q_err {
    const char *param;
    const char *detail;
} gw_feed_q_err;

/* Parse the query (through get(arg, ...)) into q, zeroed first, for the
 * JSON route or (atom) the Atom route. HCP_OK, or HCP_EINVAL with *err
 * naming the parameter (the caller answers 400 invalid_parameter). */
HCP_NODISCARD int gw_feed_query_parse(gw_feed_q *q, bool atom, gw_feed_param_fn get, void *arg,
                                      gw_feed_q_err *err);

/* q's filters in canonical form into out (len bytes with the NUL): the
 * key under which walks of the same entries share their marks
 * (feed_marks.h), whatever the route, page, page_size or cursor. HCP_OK,
 * HCP_EINVAL (NULL, or a service_request_id list: its entries are found
 * by id, not walked), HCP_ERANGE (longer than out). */
HCP_NODISCARD int gw_feed_query_filter_key(const gw_feed_q *q, char *out, size_t len);

/* A cursor's text: hex of a version byte, the position and a check. */
#define GW_FEED_CURSOR_MAX (2 * (1 + 8 + HCP_CASE_ID_MAX + 4) + 1)

/* The opaque cursor (docs/feed.md "Paging with cursor") of the position
 * after the entry of case id updated at `at` into out (NUL-terminated):
 * the version, the position and 4 bytes of a SHA-256 over them, in hex.
 * HCP_EINVAL (NULL, or an id longer than HCP_CASE_ID_MAX - 1), the
 * digest's errors. */
HCP_NODISCARD int gw_feed_cursor_encode(hcp_time at, const char *id, char out[GW_FEED_CURSOR_MAX]);
/* Take cursor text s apart into *at and id; HCP_EINVAL when it is not
 * one gw_feed_cursor_encode made (length, hex, version, check, case id). */
HCP_NODISCARD int gw_feed_cursor_decode(const char *s, hcp_time *at, char id[HCP_CASE_ID_MAX]);

/* Whether the stored entry of case id (its value taken apart in m) passes
 * q's county, status, date and service_code filters (not updated_after,
 * not service_request_id, not paging). */
bool gw_feed_query_match(const gw_feed_q *q, const char *id, const gw_feed_meta *m);

#endif
