/*
 * xsync.c - an event and a wait group that tasks of any loop (and plain
 * threads, for the calls that never suspend) share: weft_xevent and
 * weft_xwaitgroup, with the semantics of weft_event and weft_waitgroup.
 *
 * Both are caller storage, all zero until first used: a spin lock, the
 * state, and a FIFO queue of wait nodes on the waiters' stacks (xwait.h).
 * Setting the event, or the count reaching zero, gives every queued node
 * its result (0) and wakes its task under the lock; a waiter woken for
 * nothing given parks again, one given up (cancelled, timed out) takes its
 * node off under the lock, so nothing it was given is lost or half done.
 */
#include <errno.h>
#include <stdint.h>

#include "weft/loops.h"
#include "xwait.h"

_Static_assert(sizeof(((weft_xevent *)0)->waiters_) == sizeof(struct weft__list),
               "an xevent queue is a list");
_Static_assert(sizeof(((weft_xwaitgroup *)0)->waiters_) == sizeof(struct weft__list),
               "an xwaitgroup queue is a list");

/* The list behind a queue, set up on first use (all zero means empty).
   Under the object's lock. */
static struct weft__list *queue(void *q)
{
    struct weft__list *l = q;
    if (!l->next)
        weft__list_init(l);
    return l;
}

/* Under the lock: gives every waiter of `q` its result and wakes it. */
static void give_all(void *q)
{
    struct weft__list *n;
    while ((n = weft__list_pop_front(queue(q)))) {
        struct weft__xnode *x = weft__container_of(n, struct weft__xnode, link);
        x->result = 0;
        weft__xwake(x);
    }
}

/* Waits until `ready` (read under the lock) holds: 0, -EPERM, -ENOMEM, or
   the park's code. */
static int wait_for(int *lock, void *q, const void *state, int is_event)
{
    struct weft_task *self = weft__self();
    if (!self)
        return -EPERM;
    struct weft__xnode node;
    int rc = weft__xnode_init(&node, self);
    if (rc < 0)
        return rc;
    weft__xlock(lock);
    int ready = is_event ? __atomic_load_n((const int *)state, __ATOMIC_RELAXED) != 0
                         : *(const int64_t *)state == 0;
    if (!ready) {
        weft__list_push_back(queue(q), &node.link);
        rc = weft__xpark(lock, &node);
    }
    weft__xunlock(lock);
    return rc;
}

int weft_xevent_set(weft_xevent *e)
{
    if (!e)
        return -EINVAL;
    weft__xlock(&e->lock_);
    __atomic_store_n(&e->set_, 1, __ATOMIC_RELEASE);
    give_all(e->waiters_);
    weft__xunlock(&e->lock_);
    return 0;
}

int weft_xevent_clear(weft_xevent *e)
{
    if (!e)
        return -EINVAL;
    weft__xlock(&e->lock_);
    __atomic_store_n(&e->set_, 0, __ATOMIC_RELEASE);
    weft__xunlock(&e->lock_);
    return 0;
}

int weft_xevent_is_set(weft_xevent *e)
{
    if (!e)
        return 0;
    return __atomic_load_n(&e->set_, __ATOMIC_ACQUIRE);
}

int weft_xevent_wait(weft_xevent *e)
{
    if (!e)
        return -EINVAL;
    if (__atomic_load_n(&e->set_, __ATOMIC_ACQUIRE))
        return 0;
    return wait_for(&e->lock_, e->waiters_, &e->set_, 1);
}

int weft_xwaitgroup_add(weft_xwaitgroup *wg, int64_t n)
{
    if (!wg)
        return -EINVAL;
    int rc = 0;
    weft__xlock(&wg->lock_);
    if (n < 0 && wg->count_ + n < 0)    /* count_ >= 0: no overflow */
        rc = -EINVAL;
    else if (n > 0 && wg->count_ > INT64_MAX - n)
        rc = -EOVERFLOW;
    else if ((wg->count_ += n) == 0)
        give_all(wg->waiters_);
    weft__xunlock(&wg->lock_);
    return rc;
}

int weft_xwaitgroup_done(weft_xwaitgroup *wg)
{
    return weft_xwaitgroup_add(wg, -1);
}

int weft_xwaitgroup_wait(weft_xwaitgroup *wg)
{
    if (!wg)
        return -EINVAL;
    return wait_for(&wg->lock_, wg->waiters_, &wg->count_, 0);
}
