/*
 * loop_parts.c - the optional parts of a loop and how they end with it.
 *
 * A loop starts bare: a run queue, timers, its task records. Everything
 * else a loop may have exists only once something uses it, and each such
 * part registers itself with its loop at that moment (once per loop), with
 * a record (struct weft__part, loop.h) kept in the part's own per-loop
 * state. When the loop ends, weft__loop_run() calls weft__parts_end(),
 * which ends every registered part, earliest phase first and, within a
 * phase, in the order they registered; the loop itself names none of
 * them. The parts today, by phase:
 *
 *   WEFT__PART_THREADS  the worker pool (thread_pool.c): its threads post
 *                       completions to the loop, so it stops first, while
 *                       the loop still takes posts (it polls until every
 *                       job, even an abandoned one, has come back).
 *   WEFT__PART_WAY_IN   the handle other threads and loops reach the loop
 *                       by (remote.c): closed once nothing of the loop's
 *                       own posts to it; what is still queued is dropped.
 *   WEFT__PART_SOURCES  what the poller watches for the loop's own sake:
 *                       descriptor watchers (watch.c), signals (signal.c),
 *                       the dump signal (dump.c); ended before the poller
 *                       and the descriptor table go (weft__io_free()).
 *
 * Processes (process.c), spawn_on and the cross-loop objects keep no
 * per-loop state of their own, so they have nothing to register.
 *
 * Invariants: L->parts is sorted by phase; a part is on it at most once
 * (it registers when it creates its per-loop state, which it does once);
 * a part's end() may use the loop and every part of a later phase, and
 * may register a part of a later phase (the pool's last polls may make
 * the way in). Nothing here runs on a fast path.
 */
#include "loop.h"

void weft__part_add(struct weft__loop *L, struct weft__part *p, int phase,
                    void (*end)(struct weft__loop *L, struct weft__part *p))
{
    struct weft__part **at = &L->parts;
    while (*at && (*at)->phase <= phase)
        at = &(*at)->next;
    p->phase = phase;
    p->end = end;
    p->next = *at;
    *at = p;
}

void weft__parts_end(struct weft__loop *L)
{
    struct weft__part *p;
    while ((p = L->parts)) {
        L->parts = p->next;
        p->end(L, p);           /* may free p */
    }
}
