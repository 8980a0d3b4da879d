/*
 * test_gw_park.c — the gateway's park/merge of batches that overtook each
 * other (gateway/park.h), driven the way the writer drives it: each round
 * merges the new batches with the parked ones, decides each in order
 * against the county's applied position, applies or answers it, and keeps
 * the waiting ones after the "commit". In order, overtaken, duplicates, a
 * gap that never fills, too many parked, several counties.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "park.h"

#define NCOUNTY 2

/* A county's position and what the rounds answered. */
typedef struct sim {
    gw_park p;
    const char *codes[NCOUNTY];
    uint64_t applied[NCOUNTY];
    uint64_t now; /* loop ms */
    bool stopping;
    size_t napplied, ngap, nwait;
    uint64_t gap_expected; /* the last gap's expected position */
    uint64_t order[64];    /* first positions applied, in order */
    size_t norder;
} sim;

/* A done callback: only its presence matters (someone waits). */
static void done_cb(void *arg, gw_item *it, const hcp_buf *reply)
{
    (void)arg;
    (void)it;
    (void)reply;
}

/* A batch of county code holding positions first..first+n-1. */
static gw_item *batch(const char *code, uint64_t first, size_t n)
{
    gw_item *it = calloc(1, sizeof(*it));
    assert_non_null(it);
    snprintf(it->county, sizeof(it->county), "%s", code);
    it->f.seq = first;
    it->f.nevents = n;
    it->done = done_cb;
    return it;
}

/* Link items (NULL-terminated arguments) into a list; its head. */
static hcpd_gc_item *list(gw_item *first, ...)
{
    if (first == NULL)
        return NULL;
    va_list ap;
    va_start(ap, first);
    gw_item *tail = first;
    for (gw_item *it = va_arg(ap, gw_item *); it != NULL; it = va_arg(ap, gw_item *)) {
        tail->link.next = &it->link;
        tail = it;
    }
    tail->link.next = NULL;
    va_end(ap);
    return &first->link;
}

/* The index of a county in the simulation. */
static size_t county_ix(const sim *s, const char *code)
{
    for (size_t i = 0; i < NCOUNTY; i++)
        if (strcmp(s->codes[i], code) == 0)
            return i;
    fail_msg("unknown county %s", code);
    return 0;
}

/* One transaction: merge, decide in order, apply or answer, then keep the
 * waiting ones (as gc_answer does, after the commit). */
static void round_of(sim *s, hcpd_gc_item *batch_list)
{
    gw_item *wait[GW_BATCH_ITEMS];
    size_t nw = 0;
    gw_park_round(&s->p);
    hcpd_gc_item *h = gw_park_merge(&s->p, batch_list);
    for (hcpd_gc_item *li = h, *next; li != NULL; li = next) {
        next = li->next;
        gw_item *it = (gw_item *)li;
        size_t c = county_ix(s, it->county);
        switch (gw_park_decide(&s->p, it, s->applied[c], s->now, s->stopping)) {
        case GW_PARK_APPLY: {
            uint64_t last = it->f.seq + it->f.nevents - 1;
            if (last > s->applied[c])
                s->applied[c] = last;
            s->napplied++;
            if (s->norder < 64)
                s->order[s->norder++] = it->f.seq;
            free(it);
            break;
        }
        case GW_PARK_WAIT:
            s->nwait++;
            wait[nw++] = it;
            break;
        case GW_PARK_GAP:
            s->ngap++;
            s->gap_expected = s->applied[c] + 1;
            free(it);
            break;
        }
    }
    for (size_t i = 0; i < nw; i++)
        gw_park_keep(&s->p, wait[i], s->now);
}

/* A fresh simulation of counties 630102 and 630103 at position 0. */
static sim *sim_new(void)
{
    sim *s = calloc(1, sizeof(*s));
    assert_non_null(s);
    s->codes[0] = "630102";
    s->codes[1] = "630103";
    s->now = 1000;
    return s;
}

/* Free whatever is still parked. */
static void sim_free(sim *s)
{
    gw_item *it = s->p.parked;
    while (it != NULL) {
        gw_item *next = (gw_item *)it->link.next;
        free(it);
        it = next;
    }
    free(s);
}

/* Batches in order, in one transaction: all applied, nothing parked. */
static void t_in_order(void **state)
{
    (void)state;
    sim *s = sim_new();
    round_of(s, list(batch("630102", 1, 2), batch("630102", 3, 2), NULL));
    assert_int_equal(s->napplied, 2);
    assert_int_equal(s->applied[0], 4);
    assert_false(gw_park_pending(&s->p));
    round_of(s, list(batch("630102", 5, 1), NULL));
    assert_int_equal(s->applied[0], 5);
    assert_int_equal(s->nwait + s->ngap, 0);
    sim_free(s);
}

/* A batch that overtook the one before it waits, then both apply in
 * order of position. */
static void t_overtaken(void **state)
{
    (void)state;
    sim *s = sim_new();
    round_of(s, list(batch("630102", 3, 2), NULL));
    assert_int_equal(s->nwait, 1);
    assert_int_equal(s->applied[0], 0);
    assert_true(gw_park_pending(&s->p));
    s->now += 10;
    round_of(s, list(batch("630102", 1, 2), NULL));
    assert_int_equal(s->napplied, 2);
    assert_int_equal(s->order[0], 1);
    assert_int_equal(s->order[1], 3);
    assert_int_equal(s->applied[0], 4);
    assert_false(gw_park_pending(&s->p));
    /* in one transaction, the later one first: the merge sorts them only
     * when something is parked, so here it waits one round */
    round_of(s, list(batch("630102", 7, 1), batch("630102", 5, 2), NULL));
    assert_int_equal(s->applied[0], 6);
    assert_true(gw_park_pending(&s->p));
    round_of(s, NULL);
    assert_int_equal(s->applied[0], 7);
    assert_int_equal(s->ngap, 0);
    sim_free(s);
}

/* A batch sent twice: both are applied (the second meets known positions,
 * which the writer checks against its log); parked twins keep their
 * arrival order. */
static void t_duplicates(void **state)
{
    (void)state;
    sim *s = sim_new();
    round_of(s, list(batch("630102", 1, 2), batch("630102", 1, 2), NULL));
    assert_int_equal(s->napplied, 2);
    assert_int_equal(s->applied[0], 2);
    gw_item *a = batch("630102", 5, 1), *b = batch("630102", 5, 1);
    round_of(s, list(a, b, NULL));
    assert_int_equal(s->nwait, 2);
    /* the merge hands both back, side by side, and empties the lot */
    hcpd_gc_item *h = gw_park_merge(&s->p, NULL);
    assert_non_null(h);
    assert_non_null(h->next);
    assert_null(h->next->next);
    assert_true((h == &a->link && h->next == &b->link) || (h == &b->link && h->next == &a->link));
    assert_false(gw_park_pending(&s->p));
    gw_park_keep(&s->p, b, s->now);
    gw_park_keep(&s->p, a, s->now);
    round_of(s, list(batch("630102", 3, 2), NULL));
    assert_int_equal(s->applied[0], 5);
    assert_int_equal(s->napplied, 5);
    assert_int_equal(s->ngap, 0);
    sim_free(s);
}

/* A gap that never fills: the batch waits GW_PARK_MS, then `gap` with the
 * expected position; no one waiting, or a stopping writer: `gap` at once. */
static void t_gap(void **state)
{
    (void)state;
    sim *s = sim_new();
    round_of(s, list(batch("630102", 5, 1), NULL));
    assert_int_equal(s->nwait, 1);
    s->now += GW_PARK_MS - 1;
    round_of(s, NULL);
    assert_int_equal(s->nwait, 2);
    assert_int_equal(s->ngap, 0);
    s->now += 1;
    round_of(s, NULL);
    assert_int_equal(s->ngap, 1);
    assert_int_equal(s->gap_expected, 1);
    assert_false(gw_park_pending(&s->p));
    gw_item *orphan = batch("630102", 5, 1);
    orphan->done = NULL;
    round_of(s, list(orphan, NULL));
    assert_int_equal(s->ngap, 2);
    s->stopping = true;
    round_of(s, list(batch("630102", 5, 1), NULL));
    assert_int_equal(s->ngap, 3);
    /* a fork mark (position 0) is never parked */
    gw_item *mark = batch("630102", 0, 0);
    mark->fork_mark = true;
    assert_int_equal(gw_park_decide(&s->p, mark, 9, s->now, false), GW_PARK_APPLY);
    free(mark);
    sim_free(s);
}

/* More than GW_PARK_MAX waiting in one transaction: the rest get `gap`. */
static void t_too_many(void **state)
{
    (void)state;
    sim *s = sim_new();
    gw_item *first = NULL, *prev = NULL;
    for (size_t i = 0; i < GW_PARK_MAX + 1; i++) {
        gw_item *it = batch("630102", 10 + i, 1);
        if (prev != NULL)
            prev->link.next = &it->link;
        else
            first = it;
        prev = it;
    }
    round_of(s, &first->link);
    assert_int_equal(s->nwait, GW_PARK_MAX);
    assert_int_equal(s->ngap, 1);
    assert_int_equal(s->gap_expected, 1);
    /* the next transaction counts afresh: they all wait again */
    s->now += 10;
    round_of(s, NULL);
    assert_int_equal(s->nwait, 2 * GW_PARK_MAX);
    /* and the missing positions let them all through, in order */
    round_of(s, list(batch("630102", 1, 9), NULL));
    assert_int_equal(s->applied[0], 9 + GW_PARK_MAX);
    assert_int_equal(s->napplied, 1 + GW_PARK_MAX);
    assert_false(gw_park_pending(&s->p));
    sim_free(s);
}

/* Counties do not wait for each other; the merge groups them. */
static void t_counties(void **state)
{
    (void)state;
    sim *s = sim_new();
    round_of(s, list(batch("630103", 2, 1), batch("630102", 2, 1), NULL));
    assert_int_equal(s->nwait, 2);
    round_of(s, list(batch("630102", 1, 1), NULL));
    assert_int_equal(s->applied[0], 2);
    assert_int_equal(s->applied[1], 0);
    assert_true(gw_park_pending(&s->p));
    round_of(s, list(batch("630103", 1, 1), NULL));
    assert_int_equal(s->applied[1], 2);
    assert_false(gw_park_pending(&s->p));
    gw_park_clear(&s->p);
    sim_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_in_order), cmocka_unit_test(t_overtaken), cmocka_unit_test(t_duplicates),
        cmocka_unit_test(t_gap),      cmocka_unit_test(t_too_many),  cmocka_unit_test(t_counties),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
