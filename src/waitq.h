/*
 * waitq.h - FIFO queues of waiting tasks for the primitives of sync.c and
 * chan.c, kept in caller storage (weft_waitq_, all zero until first used).
 *
 * A waiter's node (struct weft__wait) lives on its own stack. A giver takes
 * the first node whose task still waits, marks it granted and wakes it;
 * nodes of tasks already woken otherwise (cancelled, timed out) are skipped,
 * and their tasks take them off the queue themselves when they run. A
 * waiter that finds itself granted after giving up (woken, then cancelled
 * before it ran) passes what it was given on to the next.
 */
#ifndef WEFT_WAITQ_H
#define WEFT_WAITQ_H

#include <errno.h>

#include "weft/sync.h"
#include "loop.h"

_Static_assert(sizeof(weft_waitq_) == sizeof(struct weft__list), "waitq is a list");

/* The list behind `q`, set up on first use (all zero means empty). */
static inline struct weft__list *weft__waitq(weft_waitq_ *q)
{
    struct weft__list *l = (struct weft__list *)(void *)q;
    if (!l->next)
        weft__list_init(l);
    return l;
}

/* True when `q` has never been used or holds no node. */
static inline int weft__waitq_empty(const weft_waitq_ *q)
{
    const struct weft__list *l = (const struct weft__list *)(const void *)q;
    return !l->next || weft__list_empty(l);
}

/* A task waiting in a queue. */
struct weft__wait {
    struct weft__waiter w;      /* in the queue; w.task is the waiter */
    int granted;                /* the giver handed it what it waited for */
};

/* Takes the first node whose task still waits, or NULL. */
static inline struct weft__wait *weft__waitq_take(weft_waitq_ *q)
{
    struct weft__list *l = weft__waitq(q), *n;
    while ((n = weft__list_pop_front(l))) {
        struct weft__wait *w = weft__container_of(n, struct weft__wait, w.link);
        if (w->w.task->state == WEFT__TASK_PARKED)
            return w;
    }
    return NULL;
}

/* Grants the first waiting task what it waited for; 0 if none waited. */
static inline int weft__waitq_give(weft_waitq_ *q)
{
    struct weft__wait *w = weft__waitq_take(q);
    if (!w)
        return 0;
    w->granted = 1;
    weft__wake(w->w.task, 0);
    return 1;
}

/*
 * Parks `self` at the end of `q` until granted or given up. Returns 0 when
 * granted, else the park's code; *granted tells whether it was granted
 * (possibly while giving up). May suspend.
 */
static inline int weft__waitq_wait(weft_waitq_ *q, struct weft_task *self, int *granted)
{
    struct weft__wait node = {.w = {.task = self}};
    weft__list_push_back(weft__waitq(q), &node.w.link);
    int rc = weft__park(self, WEFT_FOREVER);
    weft__list_remove(&node.w.link);
    *granted = node.granted;
    return node.granted && rc == 0 ? 0 : rc < 0 ? rc : -EINTR;
}

#endif /* WEFT_WAITQ_H */
