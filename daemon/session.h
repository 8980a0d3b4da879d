/*
 * session.h — console sessions both daemons share (docs/consoles.md): a
 * bounded in-memory table of signed-in accounts, each known by a random
 * session id (the cookie hcp_session) and carrying a random CSRF token the
 * console sends back in X-CSRF-Token. The HTTP layer (http.c) uses it for
 * the cookie and the routes POST/GET/DELETE /v1/session; nothing here does
 * I/O or logging, so the table is unit-tested with a made-up clock.
 * Prefix hcpd_session_ / hcpd_sessions_.
 *
 * Times are seconds on a clock that never goes back (the caller's: http.c
 * uses the monotonic clock). A session ends HCPD_SESSION_IDLE_S after its
 * last use or HCPD_SESSION_ABSOLUTE_S after sign-in, whichever comes first.
 * The table lives in memory only: a restart signs everybody out. Thread-
 * safe: every call takes the table's lock.
 */
#ifndef HCPD_SESSION_H
#define HCPD_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hcp.h"
#include "hcpd.h"

#define HCPD_SESSION_BYTES      32    /* random bytes of a session id and of a CSRF token */
#define HCPD_SESSION_HEX        65    /* their hex form, NUL included */
#define HCPD_SESSION_MAX        1024  /* default table size */
#define HCPD_SESSION_IDLE_S     1800  /* 30 minutes without a request */
#define HCPD_SESSION_ABSOLUTE_S 43200 /* 12 hours after sign-in */
#define HCPD_SESSION_COOKIE     "hcp_session"

/* What a session stands for (a copy: the table keeps its own). */
typedef struct hcpd_session {
    char account[HCPD_ACCOUNT_MAX];
    unsigned roles;
    char csrf[HCPD_SESSION_HEX]; /* hex of HCPD_SESSION_BYTES random bytes */
    int64_t expires;             /* on the caller's clock: the earlier of the two limits */
} hcpd_session;

typedef struct hcpd_sessions hcpd_sessions;

/* A table of at most max sessions (1..65536) with the idle and absolute
 * limits in seconds (each >= 1, idle <= absolute) into *out, the caller's
 * to free with hcpd_sessions_free. HCP_EINVAL for bad limits, HCP_ENOMEM. */
HCP_NODISCARD int hcpd_sessions_new(size_t max, int64_t idle_s, int64_t absolute_s,
                                    hcpd_sessions **out);
/* Forget every session (ids are wiped) and free the table. NULL-safe. */
void hcpd_sessions_free(hcpd_sessions *s);

/* Sign account (with roles) in at time now: a new random id (hex, NUL-
 * terminated, into id) and a new CSRF token (in *out). When the table is
 * full, expired sessions are dropped, then the one used least recently.
 * HCP_EINVAL (NULL, empty or overlong account), HCP_ECRYPTO (no random
 * bytes). */
HCP_NODISCARD int hcpd_session_open(hcpd_sessions *s, int64_t now, const char *account,
                                    unsigned roles, char id[HCPD_SESSION_HEX], hcpd_session *out);
/* The session of id (idlen characters, as presented) at time now: a copy
 * into *out (may be NULL) and its idle limit restarted. Ids are compared in
 * constant time. HCP_ENOTFOUND when unknown or expired (an expired one is
 * dropped), HCP_EINVAL when id is not 64 hex digits. */
HCP_NODISCARD int hcpd_session_find(hcpd_sessions *s, int64_t now, const char *id, size_t idlen,
                                    hcpd_session *out);
/* Sign the session of id out: forgotten, its account copied into account
 * (HCPD_ACCOUNT_MAX bytes; may be NULL). HCP_ENOTFOUND, HCP_EINVAL as for
 * find. */
HCP_NODISCARD int hcpd_session_close(hcpd_sessions *s, const char *id, size_t idlen, char *account);
/* Sessions in the table (expired ones not yet dropped included). */
size_t hcpd_sessions_count(hcpd_sessions *s);

/* Whether got (gotlen bytes) equals want (a NUL-terminated secret) in time
 * that depends only on want's length; an empty want never matches. */
bool hcpd_session_secret_equal(const char *want, const char *got, size_t gotlen);

/* The value of cookie hcp_session in a Cookie request header ("a=1;
 * hcp_session=HEX; b=2") into id (len bytes, NUL included). HCPD_Q_ABSENT
 * when not there, HCPD_Q_OK when copied, HCPD_Q_BAD when given twice or
 * too long for id. */
HCP_NODISCARD int hcpd_session_cookie(const char *header, char *id, size_t len);

#endif
