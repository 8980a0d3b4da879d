/*
 * calendar.h — the PRC working-day calendar (docs/calendar.md). A working
 * day is Monday–Friday, minus the public holidays listed
 * "off", plus the weekend days listed "work" (调休). Data, not code: the
 * shipped default is compiled in from data/calendar.tsv and an operator may
 * load a newer file with --calendar without a rebuild. docs/calendar.md
 * gives the file format.
 *
 * A year is "known" when the file holds that year's State Council notice
 * (a notice_year column equal to it). Days in unknown years count
 * Monday–Friday only, and any deadline that touched one is provisional.
 */
#ifndef HCP_CALENDAR_H
#define HCP_CALENDAR_H

#include "hcp_time.h"

typedef struct hcp_cal hcp_cal;

/* Parse a calendar from TSV text (need not be NUL-terminated). On success
 * *out is a new calendar the caller frees with hcp_cal_free. On HCP_EFORMAT,
 * err (if not NULL) receives "line N: reason". */
HCP_API HCP_NODISCARD int hcp_cal_parse(const char *text, size_t len, hcp_cal **out, char *err,
                                        size_t errlen);
/* The same from a file (at most 1 MiB). */
HCP_API HCP_NODISCARD int hcp_cal_load(const char *path, hcp_cal **out, char *err, size_t errlen);
/* The calendar compiled into the binary from data/calendar.tsv. */
HCP_API HCP_NODISCARD int hcp_cal_default(hcp_cal **out);
HCP_API void hcp_cal_free(hcp_cal *cal);

/* First and last known year (0, 0 for an empty calendar). */
HCP_API void hcp_cal_years(const hcp_cal *cal, int *first, int *last);
/* Whether day d's year is known. */
HCP_API bool hcp_cal_known(const hcp_cal *cal, hcp_day d);
/* Whether d is a working day. In an unknown year: Monday–Friday. */
HCP_API bool hcp_cal_is_workday(const hcp_cal *cal, hcp_day d);

/*
 * The deadline n (1..365) working days after instant `from`: the day of
 * `from` is not counted; the result is the last second (23:59:59+08:00) of
 * the n-th working day after it. *provisional is set when any day counted
 * lies in an unknown year. HCP_EINVAL on bad arguments.
 */
HCP_API HCP_NODISCARD int hcp_cal_add_workdays(const hcp_cal *cal, hcp_time from, int n,
                                               hcp_time *deadline, bool *provisional);

/* How many days the calendar lists (off and work rows); 0 for NULL. For
 * operators' displays (`hcp-gateway calendar show`). */
HCP_API size_t hcp_cal_days(const hcp_cal *cal);

/* Whether a and b count every day alike: the same listed days with the same
 * kind and the same known years (names, comments and row order do not
 * matter). Two NULLs are the same; NULL and a calendar are not. Why: a
 * store keeps the federation calendar's text, and a daemon compares its
 * --calendar file with it at start (docs/calendar.md, "The federation
 * calendar"). */
HCP_API bool hcp_cal_same(const hcp_cal *a, const hcp_cal *b);

#endif
