/*
 * hcp_time.h — instants and civil days. An instant is seconds since the Unix
 * epoch (UTC). A civil day is a day number in Asia/Shanghai (UTC+8 all year,
 * no daylight saving): days since 1970-01-01 there. All deadlines are counted
 * in civil days and end at 23:59:59+08:00 of their last day.
 */
#ifndef HCP_TIME_H
#define HCP_TIME_H

#include "hcp.h"

typedef int64_t hcp_time;
typedef int32_t hcp_day;

#define HCP_TZ_OFFSET   (8 * 3600)
#define HCP_TIME_STRLEN 26 /* "2026-11-27T10:03:00+08:00" plus NUL */
#define HCP_DATE_STRLEN 11 /* "2026-11-27" plus NUL */

/* The civil day (Asia/Shanghai) that contains instant t. */
HCP_API hcp_day hcp_day_of(hcp_time t);
/* The first and the last second of a civil day. */
HCP_API hcp_time hcp_day_start(hcp_day d);
HCP_API hcp_time hcp_day_end(hcp_day d);
/* ISO weekday of a civil day: 1 = Monday … 7 = Sunday. */
HCP_API int hcp_weekday(hcp_day d);
/* Gregorian date <-> day. from_ymd checks the date (HCP_EINVAL if not real,
 * years 1970..9999). */
HCP_API HCP_NODISCARD int hcp_day_from_ymd(int y, int m, int d, hcp_day *out);
HCP_API void hcp_day_to_ymd(hcp_day day, int *y, int *m, int *d);

/* Parse RFC 3339 with an offset ("Z" or ±hh:mm); fractional seconds are
 * accepted and truncated. s need not be NUL-terminated. HCP_EFORMAT if not. */
HCP_API HCP_NODISCARD int hcp_time_parse(const char *s, size_t n, hcp_time *out);
/* Format t as RFC 3339 in +08:00 into buf (at least HCP_TIME_STRLEN bytes). */
HCP_API HCP_NODISCARD int hcp_time_format(hcp_time t, char *buf, size_t len);
/* "YYYY-MM-DD" <-> civil day. */
HCP_API HCP_NODISCARD int hcp_date_parse(const char *s, size_t n, hcp_day *out);
HCP_API HCP_NODISCARD int hcp_date_format(hcp_day d, char *buf, size_t len);

#endif
