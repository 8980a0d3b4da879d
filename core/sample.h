/*
 * sample.h — the province's spot-check draw (the regulation's Art. 14,
 * docs/spotchecks.md), pure: the same checkpoint, beacon and population
 * give the same sample on any machine, and anyone can recompute it from
 * public data (hcp-verify spotcheck).
 *
 * Bytes: seed = SHA-256(root (32 bytes) || beacon (UTF-8)); the rank of a
 * case = SHA-256(seed || case id (UTF-8)) read as a big-endian 256-bit
 * number; per county the n smallest ranks are drawn, n = max(min_per_county,
 * ceil(rate_ppm × population / 1,000,000)), the whole county when smaller.
 * A smaller n draws a prefix of a larger one (consistent sampling).
 *
 * The population is built from the public log's leaves (feed entries, in
 * log order) by hcp_sample_pop_leaf: a case's closing entry is its first
 * leaf whose "status" is "closed"; the case belongs to the period when that
 * leaf's "step_datetime" falls in the period's Asia/Shanghai month. The
 * gateway and the verifier share this code, so they cannot disagree.
 */
#ifndef HCP_SAMPLE_H
#define HCP_SAMPLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "case.h"
#include "hcp.h"

#define HCP_SAMPLE_PPM        1000000u /* rate_ppm of 100 % */
#define HCP_SAMPLE_BEACON_MAX 1024     /* bytes of a beacon */

/* One case of a population: its id, county and (after a draw) its rank. */
typedef struct hcp_sample_item {
    char id[HCP_CASE_ID_MAX + 1];
    char county[HCP_COUNTY_LEN + 1];
    uint8_t rank[32];
    bool drawn;
} hcp_sample_item;

/* seed = SHA-256(root || beacon). beacon: 0..HCP_SAMPLE_BEACON_MAX bytes
 * of valid UTF-8 (HCP_EUTF8, HCP_ERANGE); HCP_EINVAL for NULL arguments;
 * HCP_ECRYPTO from the hash. */
HCP_NODISCARD int hcp_sample_seed(const uint8_t root[32], const char *beacon, size_t len,
                                  uint8_t seed[32]);
/* rank = SHA-256(seed || id), id len bytes. HCP_EINVAL, HCP_ECRYPTO. */
HCP_NODISCARD int hcp_sample_rank(const uint8_t seed[32], const char *id, size_t len,
                                  uint8_t rank[32]);
/* The rate as parts per million: rate in [0, 1] with at most six decimals
 * (it is rounded to the nearest ppm; anything further away than 1e-9 from
 * a whole ppm is HCP_EINVAL, as is a rate outside [0, 1] or not finite). */
HCP_NODISCARD int hcp_sample_rate_ppm(double rate, uint32_t *ppm);
/* The sample size of a county of population cases: max(min,
 * ceil(ppm × population / 1e6)), at most population. Integer arithmetic. */
size_t hcp_sample_size(size_t population, uint32_t ppm, uint32_t min_per_county);
/* Rank every item with seed, sort items by (county, rank, id) and mark
 * the first hcp_sample_size(...) of each county drawn. items[i].id and
 * county must be set (NUL-terminated). HCP_EINVAL, HCP_ECRYPTO. */
HCP_NODISCARD int hcp_sample_draw(const uint8_t seed[32], hcp_sample_item *items, size_t n,
                                  uint32_t ppm, uint32_t min_per_county);

/* The population of one period, built leaf by leaf in log order. */
typedef struct hcp_sample_pop {
    int year, month;        /* the period */
    hcp_sample_item *items; /* the cases closed in the period, in log order */
    size_t n, cap;
    const char **seen; /* an open-addressing set of every id already closed once */
    size_t seen_n, seen_cap;
    char *arena; /* the ids of seen: chained blocks (sample.c) */
    size_t arena_used;
} hcp_sample_pop;

/* Start an empty population of the month "YYYY-MM" (7 bytes at period).
 * HCP_EINVAL when it is not one (years 1970..9999). */
HCP_NODISCARD int hcp_sample_pop_init(hcp_sample_pop *p, const char *period, size_t len);
/* Take the next leaf (a feed entry's JSON, len bytes) in log order: its
 * case joins the population when this is its first "closed" leaf and its
 * step_datetime falls in the period. A leaf whose bytes hold neither the
 * word closed nor a backslash cannot say "status":"closed" and is passed
 * over unparsed (HCP_OK); any other that is not a JSON object of a case
 * (no string service_request_id, county of 6 digits, status) is
 * HCP_EFORMAT — the log holds only feed entries. HCP_ENOMEM. */
HCP_NODISCARD int hcp_sample_pop_leaf(hcp_sample_pop *p, const char *json, size_t len);
/* What one leaf says for a population, read apart from it (so that
 * several threads can parse leaves at once and one thread then takes
 * them in log order): closed (its "status" is "closed"), and then its id,
 * county and whether its step_datetime falls in year-month (Shanghai). */
typedef struct hcp_sample_leaf {
    char id[HCP_CASE_ID_MAX + 1];
    char county[HCP_COUNTY_LEN + 1];
    bool closed, in_period;
} hcp_sample_leaf;
/* Read one leaf (json, len bytes) into *out (zeroed first) for the period
 * year-month: the parse of hcp_sample_pop_leaf, touching nothing else (any
 * thread). HCP_EINVAL, HCP_EFORMAT as hcp_sample_pop_leaf. */
HCP_NODISCARD int hcp_sample_leaf_read(int year, int month, const char *json, size_t len,
                                       hcp_sample_leaf *out);
/* Take a leaf read for p's period, in log order: hcp_sample_pop_leaf is
 * hcp_sample_leaf_read then this. HCP_EINVAL, HCP_ENOMEM. */
HCP_NODISCARD int hcp_sample_pop_take(hcp_sample_pop *p, const hcp_sample_leaf *l);
/* Free what p holds (safe on a zeroed or freed one). */
void hcp_sample_pop_free(hcp_sample_pop *p);

#endif
