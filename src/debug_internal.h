/*
 * debug_internal.h - what the loop and the dump share for introspection
 * (debug.c, backtrace.c, dump.c; weft/debug.h is the public side).
 */
#ifndef WEFT_DEBUG_INTERNAL_H
#define WEFT_DEBUG_INTERNAL_H

#include <signal.h>
#include <stddef.h>
#include <stdio.h>

#include "weft/debug.h"
#include "loop.h"

/* Takes a snapshot of L (see weft_snapshot_take_opts); with `stuck_only`,
   of the parked tasks only. The running task's backtrace starts at the
   return address `caller` (where it called into weft), if found. 0 or
   -ENOMEM. */
int weft__snapshot(struct weft__loop *L, weft_snapshot **out, int flags, int stuck_only,
                   void *caller);

/* weft_snapshot_take_opts() for the running loop, with `caller` as above. */
int weft__snapshot_take(weft_snapshot **out, int flags, void *caller);

/* The name of the function holding return address `pc`, from its object's
   symbol table (symbols.c), with *offset = pc - its start; NULL when
   unknown. The name stays valid until the process ends. */
const char *weft__symbol(void *pc, uintptr_t *offset);

/* Prints one frame, "  function+0x1c (object)", from the object's symbol
   table or dladdr(), else as offsets (dump.c). Returns fprintf's count. */
int weft__print_frame(FILE *f, void *pc);

/* A loop that prints its dump on a signal: the handler sets `pending` and
   writes the eventfd, which the loop polls; the loop prints. */
struct weft__dump_slot {
    volatile sig_atomic_t pending; /* the signal came: print at next tick */
    volatile sig_atomic_t fd;      /* eventfd in the loop's poller, or -1 */
};

/* Sets up the dump on `sig` for L (weft_loop_opts.dump_signal): 0,
   -EINVAL (a signal that cannot be caught), -EBUSY (too many loops at
   once), -ENOMEM. A part of the loop (loop_parts.c), undone as it ends. */
int weft__dump_signal_start(struct weft__loop *L, int sig);

/* Prints the dump the signal asked for (from the loop's stack). */
void weft__dump_signalled(struct weft__loop *L);

/*
 * At the start of every tick of the loop: the time that tasks parking in
 * it record as the start of their wait. A clock read costs as much as a
 * quarter of a tick that spawns and ends a task, so the time is read on
 * the first tick after the loop waited (slept or polled: time moved on)
 * and otherwise once every TICKS_PER_CLOCK ticks; on the virtual clock it
 * is exact, since that clock moves only while the loop waits.
 */
enum { TICKS_PER_CLOCK = 64 };

static inline void weft__debug_tick(struct weft__loop *L)
{
    if (WEFT_UNLIKELY(!L->tick_skip--)) {
        L->tick_now = weft__now(L);
        L->tick_skip = TICKS_PER_CLOCK - 1;
    }
}

/* The loop waited for time or descriptors: the next tick reads the clock. */
static inline void weft__debug_waited(struct weft__loop *L)
{
    L->tick_skip = 0;
}

/* After the tick's tasks ran, before time moves on: a dump the signal
   asked for, with every task where it stopped. */
static inline void weft__debug_ran(struct weft__loop *L)
{
    if (WEFT_UNLIKELY(L->dump && L->dump->pending))
        weft__dump_signalled(L);
}

/* True once a dump is asked for: the loop stops sleeping to print it. */
static inline int weft__dump_wanted(const struct weft__loop *L)
{
    return L->dump && L->dump->pending;
}

/* The deadlock report's detail: a snapshot of the stuck tasks, taken
   before they are cancelled (NULL without memory), then printed on stderr
   and freed (NULL is ignored). */
weft_snapshot *weft__deadlock_snapshot(struct weft__loop *L);
void weft__deadlock_print(weft_snapshot *s);

#endif /* WEFT_DEBUG_INTERNAL_H */
