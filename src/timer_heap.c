/*
 * timer_heap.c - the binary min-heap of timers (see timer_heap.h for its
 * invariants). Sift operations move a hole instead of swapping, so each
 * level costs one pointer move and one index update.
 */
#include <errno.h>
#include <stdlib.h>

#include "timer_heap.h"

static inline int earlier(const struct weft__timer_entry *a,
                          const struct weft__timer_entry *b)
{
    return a->deadline < b->deadline || (a->deadline == b->deadline && a->seq < b->seq);
}

static inline void place(struct weft__timer_heap *h, size_t i, struct weft__timer_entry e)
{
    h->nodes[i] = e;
    e.t->slot = i + 1;
}

/* Moves entry `e` up from slot i until its parent is earlier; places it. */
static void sift_up(struct weft__timer_heap *h, size_t i, struct weft__timer_entry e)
{
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!earlier(&e, &h->nodes[parent]))
            break;
        place(h, i, h->nodes[parent]);
        i = parent;
    }
    place(h, i, e);
}

/* Moves entry `e` down from slot i until no child is earlier; places it. */
static void sift_down(struct weft__timer_heap *h, size_t i, struct weft__timer_entry e)
{
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= h->len)
            break;
        if (child + 1 < h->len && earlier(&h->nodes[child + 1], &h->nodes[child]))
            child++;
        if (!earlier(&h->nodes[child], &e))
            break;
        place(h, i, h->nodes[child]);
        i = child;
    }
    place(h, i, e);
}

int weft__timer_heap_reserve(struct weft__timer_heap *h, size_t n)
{
    if (n <= h->cap)
        return 0;
    size_t cap = h->cap ? h->cap : 64;
    while (cap < n)
        cap *= 2;
    struct weft__timer_entry *nodes = realloc(h->nodes, cap * sizeof *nodes);
    if (!nodes)
        return -ENOMEM;
    h->nodes = nodes;
    h->cap = cap;
    return 0;
}

int weft__timer_heap_insert(struct weft__timer_heap *h, struct weft__timer *t,
                            int64_t deadline)
{
    if (h->len == h->cap && weft__timer_heap_reserve(h, h->len + 1) < 0)
        return -ENOMEM;
    t->deadline = deadline;
    t->seq = h->next_seq++;
    sift_up(h, h->len++, (struct weft__timer_entry){deadline, t->seq, t});
    return 0;
}

void weft__timer_heap_remove(struct weft__timer_heap *h, struct weft__timer *t)
{
    if (!t->slot)
        return;
    size_t i = t->slot - 1;
    t->slot = 0;
    struct weft__timer_entry last = h->nodes[--h->len];
    if (last.t == t)
        return;
    /* The last timer fills the hole, then moves whichever way it must. */
    if (i > 0 && earlier(&last, &h->nodes[(i - 1) / 2]))
        sift_up(h, i, last);
    else
        sift_down(h, i, last);
}

struct weft__timer *weft__timer_heap_pop(struct weft__timer_heap *h)
{
    struct weft__timer *t = weft__timer_heap_min(h);
    if (t)
        weft__timer_heap_remove(h, t);
    return t;
}

void weft__timer_heap_free(struct weft__timer_heap *h)
{
    free(h->nodes);
    *h = (struct weft__timer_heap)WEFT__TIMER_HEAP_INIT;
}
