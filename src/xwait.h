/*
 * xwait.h - waiting on an object that tasks of several loops share
 * (xchan.c, xsync.c): a spin lock that guards the object and its queues,
 * and wait nodes that a task of any loop parks on.
 *
 * The rule that keeps it safe across threads: a wait node lives on its
 * task's stack and is touched by others only under the object's lock,
 * while it is on one of the object's queues. A waker takes the node off
 * under the lock, records what it gave (node->result), and queues a wake
 * for the task (weft__xwake): directly when the task is of the waker's
 * own loop, else through that loop's remote handle, batched (remote.c).
 * The wake carries the node's key (its address, or its select's) and
 * counts only while the task still parks on it (task->xwait), so a wake that arrives late,
 * after the task gave up or moved on, does nothing. The waiter, whatever
 * woke it (the waker, a cancellation, a deadline), takes the lock, takes
 * its node off (idempotent) and decides from node->result; a wake with
 * nothing given (a late one for an earlier wait at the same address)
 * makes it park again.
 */
#ifndef WEFT_XWAIT_H
#define WEFT_XWAIT_H

#include <errno.h>
#include <sched.h>

#include "io_internal.h"

#define WEFT__XPENDING 1        /* node->result while nobody gave anything */

/* Takes the spin lock `l` (an int of the object: 0 free, 1 held). The
   sections it guards are a few loads and stores, never a call that
   blocks. */
static inline void weft__xlock(int *l)
{
    for (int spins = 0; __atomic_exchange_n(l, 1, __ATOMIC_ACQUIRE); spins++) {
        while (__atomic_load_n(l, __ATOMIC_RELAXED)) {
            if (++spins > 100) {
                sched_yield();  /* its holder may have been preempted */
                spins = 0;
            }
        }
    }
}

static inline void weft__xunlock(int *l)
{
    __atomic_store_n(l, 0, __ATOMIC_RELEASE);
}

/* A task waiting on a shared object; on the task's stack. */
struct weft__xnode {
    struct weft__list link;     /* in the object's queue, under its lock */
    struct weft_task *task;     /* the waiting task */
    struct weft__loop *loop;    /* its loop: wakes from it go direct */
    struct weft_loop *remote;   /* its loop's handle: wakes from others */
    void *key;                  /* what task->xwait is while it waits here:
                                   the node, or the select it belongs to */
    int result;                 /* WEFT__XPENDING, then what it was given */
};

/* Fills `n` for the running task `self`; -ENOMEM when its loop has no
   remote handle and none can be made. */
static inline int weft__xnode_init(struct weft__xnode *n, struct weft_task *self)
{
    n->task = self;
    n->loop = self->loop;
    n->remote = self->loop->io && self->loop->io->remote ? self->loop->io->remote
                                                         : weft__remote_of(self->loop);
    n->key = n;
    n->result = WEFT__XPENDING;
    weft__list_init(&n->link);
    return n->remote ? 0 : -ENOMEM;
}

/* Under the object's lock, `n` just taken off its queue with its result
   set: wakes its task. Callable from any thread. */
void weft__xwake(struct weft__xnode *n);

/* While a task waits on a shared object, its loop's handle is held, as if
   by another thread: the wake may come from anywhere, so the loop keeps
   polling instead of reporting a deadlock. */
void weft__xhold(struct weft__xnode *n);
void weft__xunhold(struct weft__xnode *n);

/*
 * Under the lock `l`, with `n` on one of the object's queues: parks the
 * task until a waker takes `n` off and gives it something, or the park
 * ends otherwise, and returns with `l` held again and `n` off the queue.
 * Returns 0 when given something (n->result), else the park's code (<0).
 * May suspend.
 */
int weft__xpark(int *l, struct weft__xnode *n);

#endif /* WEFT_XWAIT_H */
