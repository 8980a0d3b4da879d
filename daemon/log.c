/*
 * log.c — one structured line per event on stderr:
 *   2026-11-27T10:03:00.123+08:00 level=info id=http.listen addr=127.0.0.1:8701
 * Each line is written with a single write(2), so lines of many threads never
 * interleave. Callers never pass personal data (names, phones, bodies).
 * Under systemd (stderr is the journal's stream: JOURNAL_STREAM names it) each
 * line starts with its syslog priority, "<3>" for error, "<4>" warn, "<6>"
 * info, "<7>" debug (sd-daemon(3)), so `journalctl -p warning` filters them.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "hcp_time.h"
#include "hcpd.h"

#define LOG_LINE_MAX 2048 /* longer lines are cut, still ending in '\n' */

/* Format the current time as RFC 3339 in +08:00 with milliseconds into buf. */
static size_t log_stamp(char *buf, size_t len)
{
    struct timespec ts;
    struct tm tm;
    if (clock_gettime(CLOCK_REALTIME, &ts) != 0) {
        ts.tv_sec = time(NULL);
        ts.tv_nsec = 0;
    }
    time_t local = ts.tv_sec + HCP_TZ_OFFSET;
    if (gmtime_r(&local, &tm) == NULL) {
        memset(&tm, 0, sizeof(tm));
    }
    int n = snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03ld+08:00", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     ts.tv_nsec / 1000000L);
    return (n < 0 || (size_t)n >= len) ? 0 : (size_t)n;
}

/* Replace control characters (a newline would forge a log line) by '?'. */
static void log_sanitize(char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) {
            s[i] = '?';
        }
    }
}

static int level_rank(const char *level)
{
    static const char *const names[] = {"debug", "info", "warn", "error"};
    for (int i = 0; i < 4; i++)
        if (level != NULL && strcmp(level, names[i]) == 0)
            return i;
    return 1;
}

/* The threshold: HCP_LOG_LEVEL=debug|info|warn|error, default info. Read
 * once; a benign race at first use gives the same answer on every thread. */
static int log_threshold(void)
{
    static _Atomic int threshold = -1;
    if (threshold < 0) {
        const char *e = getenv("HCP_LOG_LEVEL");
        threshold = e != NULL ? level_rank(e) : 1;
    }
    return threshold;
}

/* Whether stderr is connected to the journal: JOURNAL_STREAM is
 * "DEVICE:INODE" of the stream systemd gave the service, and only when
 * stderr is still that very stream (not redirected by a wrapper) are the
 * priority prefixes wanted. Read once, like the threshold. */
static bool log_to_journal(void)
{
    static _Atomic int journal = -1;
    if (journal < 0) {
        const char *e = getenv("JOURNAL_STREAM");
        unsigned long long dev = 0, ino = 0;
        struct stat st;
        journal = e != NULL && sscanf(e, "%llu:%llu", &dev, &ino) == 2 &&
                  fstat(STDERR_FILENO, &st) == 0 && (unsigned long long)st.st_dev == dev &&
                  (unsigned long long)st.st_ino == ino;
    }
    return journal == 1;
}

/* The sd-daemon(3) prefix of a level: the syslog priority in angle brackets. */
static const char *log_prefix(const char *level)
{
    static const char *const prio[] = {"<7>", "<6>", "<4>", "<3>"};
    return prio[level_rank(level)];
}

/* Write one log line: timestamp, level=, id=, then the formatted text;
 * lines below the threshold are dropped. */
void hcpd_log(const char *level, const char *id, const char *fmt, ...)
{
    if (level_rank(level) < log_threshold())
        return;
    char line[LOG_LINE_MAX];
    size_t n = 0;
    if (log_to_journal()) {
        memcpy(line, log_prefix(level), 3);
        n = 3;
    }
    n += log_stamp(line + n, sizeof(line) - n);
    int k = snprintf(line + n, sizeof(line) - n, " level=%s id=%s", level ? level : "info",
                     id ? id : "-");
    n += (k < 0) ? 0 : (size_t)k;
    if (n > sizeof(line) - 2) {
        n = sizeof(line) - 2;
    }
    if (fmt != NULL && fmt[0] != '\0' && n < sizeof(line) - 3) {
        line[n++] = ' ';
        va_list ap;
        va_start(ap, fmt);
        k = vsnprintf(line + n, sizeof(line) - 1 - n, fmt, ap);
        va_end(ap);
        if (k > 0) {
            size_t add = (size_t)k < sizeof(line) - 1 - n ? (size_t)k : sizeof(line) - 2 - n;
            log_sanitize(line + n, add);
            n += add;
        }
    }
    line[n++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, n);
    (void)w; /* nowhere left to report a failed log write */
}
