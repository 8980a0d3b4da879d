/*
 * park.c — parking and merging batches that overtook each other (park.h).
 */
#include "park.h"

#include <stdlib.h>
#include <string.h>

void gw_park_round(gw_park *p)
{
    p->nround = 0;
}

enum gw_park_verdict gw_park_decide(gw_park *p, const gw_item *it, uint64_t applied,
                                    uint64_t now_ms, bool stopping)
{
    if (it->f.seq <= applied + 1)
        return GW_PARK_APPLY;
    if (stopping || it->done == NULL || p->nround >= GW_PARK_MAX ||
        (it->parked_at != 0 && now_ms - it->parked_at >= GW_PARK_MS))
        return GW_PARK_GAP;
    p->nround++;
    return GW_PARK_WAIT;
}

void gw_park_keep(gw_park *p, gw_item *it, uint64_t now_ms)
{
    if (it->parked_at == 0)
        it->parked_at = now_ms;
    it->link.next = p->parked != NULL ? &p->parked->link : NULL;
    p->parked = it;
}

bool gw_park_pending(const gw_park *p)
{
    return p->parked != NULL;
}

/* Order two items by county, then first position, then arrival (n). */
static int ent_cmp(const void *a, const void *b)
{
    const gw_park_ent *x = a, *y = b;
    int c = strcmp(x->it->county, y->it->county);
    if (c == 0 && x->it->f.seq != y->it->f.seq)
        c = x->it->f.seq < y->it->f.seq ? -1 : 1;
    if (c == 0)
        c = x->n < y->n ? -1 : x->n > y->n;
    return c;
}

hcpd_gc_item *gw_park_merge(gw_park *p, hcpd_gc_item *batch)
{
    if (p->parked == NULL)
        return batch;
    size_t n = 0;
    for (hcpd_gc_item *it = batch; it != NULL && n < GW_BATCH_ITEMS; it = it->next, n++)
        p->ents[n] = (gw_park_ent){(gw_item *)it, n};
    for (hcpd_gc_item *it = &p->parked->link; it != NULL && n < GW_BATCH_ITEMS; it = it->next, n++)
        p->ents[n] = (gw_park_ent){(gw_item *)it, n};
    p->parked = NULL;
    qsort(p->ents, n, sizeof(p->ents[0]), ent_cmp);
    for (size_t i = 0; i < n; i++)
        p->ents[i].it->link.next = i + 1 < n ? &p->ents[i + 1].it->link : NULL;
    return n > 0 ? &p->ents[0].it->link : NULL;
}

void gw_park_clear(gw_park *p)
{
    gw_item *it = p->parked;
    while (it != NULL) {
        gw_item *next = (gw_item *)it->link.next;
        gw_item_free(it);
        it = next;
    }
    p->parked = NULL;
}
