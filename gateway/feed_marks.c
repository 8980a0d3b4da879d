/*
 * feed_marks.c — a filtered feed walk's marks (feed_marks.h): a few
 * filters' mark lists under one lock, the least recently used replaced.
 */
#include "lock.h"
#include "feed_marks.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef struct mark {
    uint8_t len;
    uint8_t key[GW_FEED_MARK_KEY_MAX];
} mark;

/* One filter's marks: marks[i] is the entry of rank i * stride. */
typedef struct mset {
    char *filter; /* malloc'd */
    uint64_t snap;
    uint64_t stride;
    size_t n;
    uint64_t used; /* the tick of its last use (least recently used out) */
    mark marks[GW_FEED_MARKS_PER];
} mset;

struct gw_feed_marks {
    pthread_mutex_t mu;
    uint64_t tick;
    mset *sets[GW_FEED_MARK_SETS]; /* NULL: free */
};

_Static_assert(GW_FEED_MARKS_PER >= 2 && GW_FEED_MARKS_PER % 2 == 0, "marks halve");
_Static_assert(GW_FEED_MARK_KEY_MAX <= UINT8_MAX, "a mark's length is a byte");

int gw_feed_marks_new(gw_feed_marks **out)
{
    if (out == NULL)
        return HCP_EINVAL;
    *out = NULL;
    gw_feed_marks *m = calloc(1, sizeof(*m));
    if (m == NULL)
        return HCP_ENOMEM;
    if (pthread_mutex_init(&m->mu, NULL) != 0) {
        free(m);
        return HCP_EIO;
    }
    *out = m;
    return HCP_OK;
}

void gw_feed_marks_free(gw_feed_marks *m)
{
    if (m == NULL)
        return;
    for (size_t i = 0; i < GW_FEED_MARK_SETS; i++) {
        if (m->sets[i] != NULL)
            free(m->sets[i]->filter);
        free(m->sets[i]);
    }
    hcp_mutex_destroy(&m->mu);
    free(m);
}

/* The marks of filter, or NULL (m->mu held). */
static mset *set_of(gw_feed_marks *m, const char *filter)
{
    for (size_t i = 0; i < GW_FEED_MARK_SETS; i++)
        if (m->sets[i] != NULL && strcmp(m->sets[i]->filter, filter) == 0)
            return m->sets[i];
    return NULL;
}

/* A set for filter at snap, empty: a free slot's or the least recently
 * used one's; NULL when memory ran out (m->mu held). */
static mset *set_take(gw_feed_marks *m, const char *filter, uint64_t snap)
{
    size_t at = 0;
    for (size_t i = 0; i < GW_FEED_MARK_SETS; i++) {
        if (m->sets[i] == NULL) {
            at = i;
            break;
        }
        if (m->sets[i]->used < m->sets[at]->used)
            at = i;
    }
    char *f = strdup(filter);
    if (f == NULL)
        return NULL;
    mset *s = m->sets[at];
    if (s == NULL && (s = malloc(sizeof(*s))) == NULL) {
        free(f);
        return NULL;
    }
    if (m->sets[at] != NULL)
        free(s->filter);
    m->sets[at] = s;
    s->filter = f;
    s->snap = snap;
    s->stride = GW_FEED_MARK_EVERY;
    s->n = 0;
    s->used = ++m->tick;
    return s;
}

bool gw_feed_marks_find(gw_feed_marks *m, const char *filter, uint64_t snap, uint64_t rank,
                        uint64_t *mrank, uint8_t key[GW_FEED_MARK_KEY_MAX], size_t *klen)
{
    if (m == NULL || filter == NULL || mrank == NULL || key == NULL || klen == NULL)
        return false;
    bool found = false;
    hcp_mutex_lock(&m->mu);
    mset *s = set_of(m, filter);
    if (s != NULL && s->snap == snap && s->n > 0) {
        uint64_t i = rank / s->stride;
        if (i >= s->n)
            i = s->n - 1;
        *mrank = i * s->stride;
        *klen = s->marks[i].len;
        memcpy(key, s->marks[i].key, s->marks[i].len);
        s->used = ++m->tick;
        found = true;
    }
    hcp_mutex_unlock(&m->mu);
    return found;
}

void gw_feed_marks_note(gw_feed_marks *m, const char *filter, uint64_t snap, uint64_t rank,
                        const void *key, size_t klen)
{
    if (m == NULL || filter == NULL || key == NULL || klen == 0 || klen > GW_FEED_MARK_KEY_MAX ||
        rank % GW_FEED_MARK_EVERY != 0)
        return;
    hcp_mutex_lock(&m->mu);
    mset *s = set_of(m, filter);
    if (s != NULL && s->snap < snap) { /* a newer snapshot: start over */
        s->snap = snap;
        s->stride = GW_FEED_MARK_EVERY;
        s->n = 0;
    }
    if (s == NULL && rank == 0) /* a walk from the newest entry: worth a set */
        s = set_take(m, filter, snap);
    if (s != NULL && s->snap == snap && rank == s->n * s->stride) {
        if (s->n == GW_FEED_MARKS_PER) { /* full: every other one out, twice the stride */
            for (size_t i = 0; i < GW_FEED_MARKS_PER / 2; i++)
                s->marks[i] = s->marks[2 * i];
            s->n = GW_FEED_MARKS_PER / 2;
            s->stride *= 2; /* rank is still n * stride */
        }
        s->marks[s->n].len = (uint8_t)klen;
        memcpy(s->marks[s->n].key, key, klen);
        s->n++;
        s->used = ++m->tick;
    }
    hcp_mutex_unlock(&m->mu);
}

size_t gw_feed_marks_count(gw_feed_marks *m, const char *filter, uint64_t snap, uint64_t *stride)
{
    if (m == NULL || filter == NULL)
        return 0;
    size_t n = 0;
    hcp_mutex_lock(&m->mu);
    mset *s = set_of(m, filter);
    if (s != NULL && s->snap == snap) {
        n = s->n;
        if (stride != NULL)
            *stride = s->stride;
    }
    hcp_mutex_unlock(&m->mu);
    return n;
}
