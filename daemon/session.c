/*
 * session.c — the console sessions' table (session.h, docs/consoles.md).
 * A fixed array of slots: at most max sessions whatever the clients do, so
 * sign-ins cannot grow the daemon's memory. Ids and CSRF tokens are
 * HCPD_SESSION_BYTES from hcp_random (getrandom(2), core/seal.h); an id is
 * kept raw and compared in constant time against every slot, so how long a
 * lookup takes tells nothing about which bytes of a guess were right.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hex.h"
#include "lock.h"
#include "seal.h"
#include "session.h"

typedef struct slot {
    bool used;
    uint8_t id[HCPD_SESSION_BYTES];
    int64_t created, last;
    hcpd_session s;
} slot;

struct hcpd_sessions {
    pthread_mutex_t mtx;
    size_t max;
    int64_t idle, absolute;
    slot *slots;
};

/* Create the table; the slots are allocated once, here. */
int hcpd_sessions_new(size_t max, int64_t idle_s, int64_t absolute_s, hcpd_sessions **out)
{
    if (out == NULL || max == 0 || max > 65536 || idle_s < 1 || absolute_s < idle_s)
        return HCP_EINVAL;
    hcpd_sessions *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return HCP_ENOMEM;
    s->slots = calloc(max, sizeof(slot));
    if (s->slots == NULL || pthread_mutex_init(&s->mtx, NULL) != 0) {
        free(s->slots);
        free(s);
        return HCP_ENOMEM;
    }
    s->max = max;
    s->idle = idle_s;
    s->absolute = absolute_s;
    *out = s;
    return HCP_OK;
}

/* Wipe the secrets before the memory goes back to the allocator. */
void hcpd_sessions_free(hcpd_sessions *s)
{
    if (s == NULL)
        return;
    explicit_bzero(s->slots, s->max * sizeof(slot));
    free(s->slots);
    hcp_mutex_destroy(&s->mtx);
    free(s);
}

/* The end of a slot's session: idle or absolute, the earlier. */
static int64_t slot_end(const hcpd_sessions *s, const slot *sl)
{
    int64_t idle = sl->last + s->idle, abs = sl->created + s->absolute;
    return idle < abs ? idle : abs;
}

/* An id as presented (64 hex digits) into raw bytes; false if malformed. */
static bool id_parse(const char *id, size_t idlen, uint8_t raw[HCPD_SESSION_BYTES])
{
    return id != NULL && idlen == 2 * HCPD_SESSION_BYTES &&
           hcp_hex_decode(id, idlen, raw, HCPD_SESSION_BYTES) == HCPD_SESSION_BYTES;
}

/* Whether two raw ids are equal, without an early exit. */
static bool raw_equal(const uint8_t *a, const uint8_t *b)
{
    volatile uint8_t diff = 0;
    for (size_t i = 0; i < HCPD_SESSION_BYTES; i++)
        diff |= (uint8_t)(a[i] ^ b[i]);
    return diff == 0;
}

/* The slot holding raw, or NULL: every used slot is compared (lock held). */
static slot *slot_of(hcpd_sessions *s, const uint8_t *raw)
{
    slot *hit = NULL;
    for (size_t i = 0; i < s->max; i++) {
        bool eq = raw_equal(s->slots[i].id, raw);
        if (s->slots[i].used && eq && hit == NULL)
            hit = &s->slots[i];
    }
    return hit;
}

/* A slot for a new session (lock held): a free one, else an expired one,
 * else the one used least recently (its holder is signed out). */
static slot *slot_free(hcpd_sessions *s, int64_t now)
{
    slot *lru = NULL;
    for (size_t i = 0; i < s->max; i++) {
        slot *sl = &s->slots[i];
        if (!sl->used || slot_end(s, sl) <= now)
            return sl;
        if (lru == NULL || sl->last < lru->last)
            lru = sl;
    }
    return lru;
}

/* Sign in: fresh id and CSRF token from the system's random source. */
int hcpd_session_open(hcpd_sessions *s, int64_t now, const char *account, unsigned roles,
                      char id[HCPD_SESSION_HEX], hcpd_session *out)
{
    if (s == NULL || account == NULL || id == NULL || account[0] == '\0' ||
        strlen(account) >= HCPD_ACCOUNT_MAX)
        return HCP_EINVAL;
    uint8_t raw[HCPD_SESSION_BYTES], csrf[HCPD_SESSION_BYTES];
    int rc = hcp_random(raw, sizeof(raw));
    if (rc == HCP_OK)
        rc = hcp_random(csrf, sizeof(csrf));
    if (rc != HCP_OK) {
        explicit_bzero(raw, sizeof(raw));
        return HCP_ECRYPTO;
    }
    hcp_mutex_lock(&s->mtx);
    slot *sl = slot_free(s, now);
    if (sl == NULL) { /* max >= 1: cannot happen */
        hcp_mutex_unlock(&s->mtx);
        explicit_bzero(raw, sizeof(raw));
        explicit_bzero(csrf, sizeof(csrf));
        return HCP_EINVAL;
    }
    memset(sl, 0, sizeof(*sl));
    sl->used = true;
    memcpy(sl->id, raw, sizeof(raw));
    sl->created = sl->last = now;
    snprintf(sl->s.account, sizeof(sl->s.account), "%s", account);
    sl->s.roles = roles;
    hcp_hex_encode(csrf, sizeof(csrf), sl->s.csrf);
    sl->s.expires = slot_end(s, sl);
    if (out != NULL)
        *out = sl->s;
    hcp_mutex_unlock(&s->mtx);
    hcp_hex_encode(raw, sizeof(raw), id);
    explicit_bzero(raw, sizeof(raw));
    explicit_bzero(csrf, sizeof(csrf));
    return HCP_OK;
}

/* Look a presented id up; a hit restarts its idle limit. */
int hcpd_session_find(hcpd_sessions *s, int64_t now, const char *id, size_t idlen,
                      hcpd_session *out)
{
    uint8_t raw[HCPD_SESSION_BYTES];
    if (s == NULL || !id_parse(id, idlen, raw))
        return HCP_EINVAL;
    int rc = HCP_ENOTFOUND;
    hcp_mutex_lock(&s->mtx);
    slot *sl = slot_of(s, raw);
    if (sl != NULL && slot_end(s, sl) <= now) {
        explicit_bzero(sl, sizeof(*sl)); /* expired: gone for good */
    } else if (sl != NULL) {
        if (now > sl->last)
            sl->last = now;
        sl->s.expires = slot_end(s, sl);
        if (out != NULL)
            *out = sl->s;
        rc = HCP_OK;
    }
    hcp_mutex_unlock(&s->mtx);
    explicit_bzero(raw, sizeof(raw));
    return rc;
}

/* Sign out: the slot is wiped. */
int hcpd_session_close(hcpd_sessions *s, const char *id, size_t idlen, char *account)
{
    uint8_t raw[HCPD_SESSION_BYTES];
    if (s == NULL || !id_parse(id, idlen, raw))
        return HCP_EINVAL;
    int rc = HCP_ENOTFOUND;
    hcp_mutex_lock(&s->mtx);
    slot *sl = slot_of(s, raw);
    if (sl != NULL) {
        if (account != NULL)
            snprintf(account, HCPD_ACCOUNT_MAX, "%s", sl->s.account);
        explicit_bzero(sl, sizeof(*sl));
        rc = HCP_OK;
    }
    hcp_mutex_unlock(&s->mtx);
    explicit_bzero(raw, sizeof(raw));
    return rc;
}

/* For tests and figures: the slots in use. */
size_t hcpd_sessions_count(hcpd_sessions *s)
{
    if (s == NULL)
        return 0;
    size_t n = 0;
    hcp_mutex_lock(&s->mtx);
    for (size_t i = 0; i < s->max; i++)
        n += s->slots[i].used;
    hcp_mutex_unlock(&s->mtx);
    return n;
}

/* Constant-time compare of a presented secret (the CSRF header) with ours. */
bool hcpd_session_secret_equal(const char *want, const char *got, size_t gotlen)
{
    if (want == NULL || got == NULL)
        return false;
    size_t wlen = strlen(want);
    volatile unsigned char diff = (unsigned char)(wlen != gotlen || wlen == 0);
    for (size_t i = 0; i < wlen; i++) {
        unsigned char g = i < gotlen ? (unsigned char)got[i] : 0;
        diff |= (unsigned char)want[i] ^ g;
    }
    return diff == 0;
}

/* Parse a Cookie header (RFC 6265 section 5.4: "name=value" pairs split by
 * "; ") for ours. A cookie of ours sent twice is ambiguous: refused. */
int hcpd_session_cookie(const char *header, char *id, size_t len)
{
    if (header == NULL || id == NULL || len == 0)
        return HCPD_Q_BAD;
    static const char name[] = HCPD_SESSION_COOKIE;
    const size_t nlen = sizeof(name) - 1;
    int found = HCPD_Q_ABSENT;
    const char *p = header;
    while (*p != '\0') {
        while (*p == ' ' || *p == '\t' || *p == ';')
            p++;
        const char *end = strchr(p, ';');
        size_t n = end != NULL ? (size_t)(end - p) : strlen(p);
        while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
            n--;
        if (n > nlen && strncmp(p, name, nlen) == 0 && p[nlen] == '=') {
            const char *v = p + nlen + 1;
            size_t vlen = n - nlen - 1;
            if (vlen >= 2 && v[0] == '"' && v[vlen - 1] == '"') {
                v++;
                vlen -= 2;
            }
            if (vlen == 0) { /* the cleared cookie of a sign-out: none */
                if (end == NULL)
                    break;
                p = end + 1;
                continue;
            }
            if (found != HCPD_Q_ABSENT || vlen >= len) {
                id[0] = '\0';
                return HCPD_Q_BAD;
            }
            memcpy(id, v, vlen);
            id[vlen] = '\0';
            found = HCPD_Q_OK;
        }
        if (end == NULL)
            break;
        p = end + 1;
    }
    if (found == HCPD_Q_ABSENT)
        id[0] = '\0';
    return found;
}
