/*
 * timer_heap.h - a binary min-heap of timers ordered by deadline.
 *
 * Invariants:
 * - heap->nodes[0 .. len) is a binary min-heap: no entry is earlier than
 *   its parent, where "earlier" orders by deadline, then by insertion
 *   sequence, so timers with equal deadlines pop in the order they were
 *   inserted. Each entry carries its timer's deadline and sequence, so
 *   comparisons never leave the array (at a million timers, following a
 *   pointer per comparison costs a cache miss each).
 * - node->slot is the node's position in the array plus one while it is in
 *   the heap and 0 otherwise, which gives O(log n) removal of any timer
 *   (cancellation) without a search, and makes a zeroed timer a valid one
 *   that is in no heap.
 * - The heap owns its array, never the nodes: they live in the structures
 *   that wait (tasks, timeout scopes, callback handles).
 */
#ifndef WEFT_TIMER_HEAP_H
#define WEFT_TIMER_HEAP_H

#include <stddef.h>
#include <stdint.h>

struct weft__timer {
    int64_t deadline; /* nanoseconds on the loop's clock */
    uint64_t seq;     /* insertion order, breaks ties between deadlines */
    size_t slot;      /* index in the heap + 1; 0 when not in a heap */
};

/* A heap slot: the timer and a copy of its key. */
struct weft__timer_entry {
    int64_t deadline;           /* = t->deadline */
    uint64_t seq;               /* = t->seq */
    struct weft__timer *t;      /* the timer */
};

struct weft__timer_heap {
    struct weft__timer_entry *nodes; /* the heap array */
    size_t len;                 /* timers in the heap */
    size_t cap;                 /* slots allocated */
    uint64_t next_seq;          /* sequence for the next insertion */
};

/* An empty heap; free its array with weft__timer_heap_free(). */
#define WEFT__TIMER_HEAP_INIT {NULL, 0, 0, 0}

/* True while `t` is in a heap. A zeroed timer is in none. */
static inline int weft__timer_pending(const struct weft__timer *t)
{
    return t->slot != 0;
}

/* Reserves room for `n` timers in all. Returns 0 or -ENOMEM. */
int weft__timer_heap_reserve(struct weft__timer_heap *h, size_t n);

/*
 * Inserts `t`, not in any heap, due at `deadline`. Returns 0 or -ENOMEM
 * (only when the array must grow and cannot).
 */
int weft__timer_heap_insert(struct weft__timer_heap *h, struct weft__timer *t,
                            int64_t deadline);

/* Removes `t` if it is in the heap; a no-op otherwise. */
void weft__timer_heap_remove(struct weft__timer_heap *h, struct weft__timer *t);

/* The earliest timer, or NULL when the heap is empty. */
static inline struct weft__timer *weft__timer_heap_min(const struct weft__timer_heap *h)
{
    return h->len ? h->nodes[0].t : NULL;
}

/* Removes and returns the earliest timer, or NULL when the heap is empty. */
struct weft__timer *weft__timer_heap_pop(struct weft__timer_heap *h);

/* Frees the array (not the timers); the heap is empty and reusable after. */
void weft__timer_heap_free(struct weft__timer_heap *h);

#endif /* WEFT_TIMER_HEAP_H */
