/*
 * calver.h — the federation calendar's versions (docs/calendar.md, "The
 * federation calendar"): the province publishes the working-day calendar
 * as a versioned `calendar` directive {version, tsv}; each store (node and
 * gateway) keeps the one in force under the meta key HCP_CALVER_KEY in the
 * same form, and every open case's deadlines are counted with it. Version
 * 0 is the seed a daemon started with (compiled in or --calendar) while the
 * province has sent none. Pure logic: the daemons do the storing.
 */
#ifndef HCP_CALVER_H
#define HCP_CALVER_H

#include "calendar.h"
#include "case.h"

#define HCP_CALVER_KEY    "calendar"    /* the meta key of the calendar in force */
#define HCP_CALVER_MAX    (1024 * 1024) /* the TSV's ceiling, as hcp_cal_parse's */
#define HCP_CALVER_ENCMAX (HCP_CALVER_MAX + 64)

/* A decoded {version, tsv}: tsv borrows from the bytes it was decoded from. */
typedef struct hcp_calver {
    uint32_t version;
    const char *tsv;
    size_t tsv_len;
} hcp_calver;

/* Encode {"version": version, "tsv": tsv} (a msgpack map; tsv a str of len
 * bytes, borrowed) into out (reset first). Why: the directive body and the
 * stored form are one encoding, so a store keeps exactly what the province
 * sent. HCP_ERANGE when len > HCP_CALVER_MAX, HCP_EINVAL for NULLs,
 * HCP_ENOMEM. */
HCP_API HCP_NODISCARD int hcp_calver_encode(uint32_t version, const char *tsv, size_t len,
                                            hcp_buf *out);

/* Decode mp (len bytes, borrowed) into *out, whose tsv points into mp.
 * Unknown keys are ignored (additive, like every record); "version" must
 * be an unsigned integer <= UINT32_MAX and "tsv" a str or bin of at most
 * HCP_CALVER_MAX bytes. HCP_EFORMAT otherwise (or for bytes that are not
 * one msgpack map), HCP_ENOMEM. */
HCP_API HCP_NODISCARD int hcp_calver_decode(const void *mp, size_t len, hcp_calver *out);

/* The seed: the calendar file at path (at most HCP_CALVER_MAX bytes), or
 * the compiled-in one when path is NULL or "", as text (*text a new
 * buffer of *len bytes the caller free()s) and parsed (*cal, the caller's,
 * hcp_cal_free). Why: a store keeps the text of the calendar in force, so
 * a daemon needs its seed's text, not only the parsed days. Errors as
 * hcp_cal_load (HCP_EIO, HCP_ERANGE, HCP_EFORMAT with "line N: reason" in
 * err); nothing is returned on failure. */
HCP_API HCP_NODISCARD int hcp_calver_seed(const char *path, char **text, size_t *len, hcp_cal **cal,
                                          char *err, size_t errlen);

/* What a daemon does with its calendar at start (hcp_calver_start). */
enum hcp_calver_start {
    HCP_CALSTART_KEEP = 1,  /* version 0 stored and the seed counts alike: nothing to do */
    HCP_CALSTART_SEED,      /* none stored, or a version 0 the seed counts differently from
                             * (or unreadable): store the seed as version 0, recount */
    HCP_CALSTART_FEDERATION /* version >= 1 stored: its calendar is in force */
};

/*
 * The start-up decision node and gateway share (docs/calendar.md "The
 * federation calendar"): cur is the calendar stored (NULL when none), seed
 * the daemon's (compiled in, or the --calendar file when seed_given). Why
 * one function: both ends must take the same decision or the federation's
 * calendars drift apart again. *decision says what to do; with
 * HCP_CALSTART_FEDERATION, *fed is the stored version parsed (the
 * caller's, hcp_cal_free). Errors (*fed NULL): HCP_EVERSION when a
 * --calendar file counts any day differently from a stored version >= 1
 * (a daemon never runs beside the province's calendar: the caller says
 * what to do), a stored version >= 1 that does not parse (the parser's
 * error, err holds "line N: reason"), HCP_EINVAL, HCP_ENOMEM.
 */
HCP_API HCP_NODISCARD int hcp_calver_start(const hcp_calver *cur, const hcp_cal *seed,
                                           bool seed_given, enum hcp_calver_start *decision,
                                           hcp_cal **fed, char *err, size_t errlen);

/* Whether c's deadlines still run and so are recounted when the calendar
 * changes: the statuses before feedback (received, verifying, disputed,
 * rectifying, feedback pending), the node's status index's "open" set.
 * Both ends must use this one set to reach the same values. */
HCP_API bool hcp_case_deadlines_open(const hcp_case *c);

/* Whether any deadline c has was counted into a year the calendar did not
 * cover (an extension's day included): what the APIs and the public feed
 * show as provisional. */
HCP_API bool hcp_case_provisional(const hcp_case *c);

/* Recount c's deadlines with cal (hcp_case_recompute_deadlines) and say in
 * *changed whether any date or provisional flag moved. c is unchanged on
 * an error (HCP_EINVAL for a NULL or an empty case, the calendar's
 * HCP_ERANGE). */
HCP_API HCP_NODISCARD int hcp_calver_recount(hcp_case *c, const hcp_cal *cal, bool *changed);

#endif
