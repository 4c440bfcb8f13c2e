/*
 * sync.c - mutex, semaphores, event, condition and wait group for tasks.
 *
 * Each object is caller storage with a FIFO queue of waiting tasks
 * (waitq.h). What a waiter waits for is handed to it directly by the giver
 * (the lock, a permit, a signal) before it runs again, so nobody can barge
 * in between; a waiter that gives up after being handed something passes
 * it on, so a cancellation never loses a lock, a permit or a signal.
 */
#include <errno.h>
#include <stdint.h>

#include "waitq.h"

/* How a condition waiter was woken: by a signal it must pass on if it
   gives up anyway, or by a broadcast, which reached everyone already. */
enum { GRANT_ONE = 1, GRANT_ALL = 2 };

/* ------------------------------------------------------------------------ */
/* Mutex                                                                    */
/* ------------------------------------------------------------------------ */

/* Hands `m` to its first waiter, or frees it. */
static void mutex_pass(weft_mutex *m)
{
    struct weft__wait *w = weft__waitq_take(&m->waiters_);
    m->owner_ = w ? w->w.task : NULL;
    if (w) {
        w->granted = 1;
        weft__wake(w->w.task, 0);
    }
}

/* weft_mutex_lock() of a mutex of this loop that is taken: out of line,
   so that the free-mutex path stays a leaf without spills. */
__attribute__((noinline)) static int lock_wait(weft_mutex *m, struct weft_task *self)
{
    if (m->owner_ == self)
        return -EDEADLK;
    int granted;
    weft__waiting(self, WEFT_WAIT_MUTEX, m, 0);
    int rc = weft__waitq_wait(&m->waiters_, self, &granted);
    if (granted && rc < 0)
        mutex_pass(m);          /* handed the lock while giving up */
    return rc;
}

/* weft_mutex_lock() with a bad argument, outside a task, or of a mutex new
   to this loop (taken over, or another loop's). */
__attribute__((noinline)) static int lock_checked(weft_mutex *m, struct weft_task *self)
{
    if (!m)
        return -EINVAL;
    if (!self)
        return -EPERM;
    if (weft__owned_by(&m->loop_, self->loop))
        return -EXDEV;
    if (!m->owner_) {
        m->owner_ = self;
        return 0;
    }
    return lock_wait(m, self);
}

int weft_mutex_lock(weft_mutex *m)
{
    struct weft__loop *L = weft__loop;
    struct weft_task *self = L ? L->current : NULL;
    /* The running task's loop is L: its serial is at hand. */
    if (WEFT_UNLIKELY(!m || !self || !weft__mine(&m->loop_, L)))
        return lock_checked(m, self);
    if (WEFT_LIKELY(!m->owner_)) {
        m->owner_ = self;
        return 0;
    }
    return lock_wait(m, self);
}

int weft_mutex_trylock(weft_mutex *m)
{
    struct weft_task *self = weft__self();
    if (!m)
        return -EINVAL;
    if (!self)
        return -EPERM;
    if (weft__owned_by(&m->loop_, self->loop))
        return -EXDEV;
    if (m->owner_)
        return -EBUSY;
    m->owner_ = self;
    return 0;
}

/* Why an unlock by a task that does not own `m` fails; off the fast path. */
__attribute__((noinline, cold)) static int unlock_refused(weft_mutex *m)
{
    return weft__owned(&m->loop_) ? -EXDEV : -EPERM;
}

int weft_mutex_unlock(weft_mutex *m)
{
    if (!m)
        return -EINVAL;
    if (!m->owner_ || m->owner_ != weft__self())
        return unlock_refused(m);
    mutex_pass(m);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Semaphores                                                               */
/* ------------------------------------------------------------------------ */

int weft_sem_tryacquire(weft_sem *s)
{
    if (!s)
        return -EINVAL;
    if (weft__owned(&s->loop_))
        return -EXDEV;
    if (s->value_ <= 0)
        return -EAGAIN;     /* permits go straight to waiters: none queue */
    s->value_--;
    return 0;
}

int weft_sem_acquire(weft_sem *s)
{
    struct weft_task *self = weft__self();
    if (!s)
        return -EINVAL;
    if (!self)
        return -EPERM;
    if (weft__owned_by(&s->loop_, self->loop))
        return -EXDEV;
    if (s->value_ > 0) {
        s->value_--;
        return 0;
    }
    int granted;
    weft__waiting(self, WEFT_WAIT_SEM, s, 0);
    int rc = weft__waitq_wait(&s->waiters_, self, &granted);
    if (granted && rc < 0)
        weft_sem_release(s);    /* handed a permit while giving up */
    return rc;
}

int weft_sem_release(weft_sem *s)
{
    if (!s)
        return -EINVAL;
    if (weft__owned(&s->loop_))
        return -EXDEV;
    if (weft__waitq_give(&s->waiters_))
        return 0;
    if ((s->bound_ && s->value_ >= s->bound_ - 1) || s->value_ == INT64_MAX)
        return -EOVERFLOW;
    s->value_++;
    return 0;
}

int64_t weft_sem_value(const weft_sem *s)
{
    return s ? s->value_ : 0;
}

/* ------------------------------------------------------------------------ */
/* Event                                                                    */
/* ------------------------------------------------------------------------ */

/* Grants every waiting task of `q`. */
static void give_all(weft_waitq_ *q)
{
    while (weft__waitq_give(q))
        ;
}

int weft_event_set(weft_event *e)
{
    if (!e)
        return -EINVAL;
    if (weft__owned(&e->loop_))
        return -EXDEV;
    e->set_ = 1;
    give_all(&e->waiters_);
    return 0;
}

int weft_event_clear(weft_event *e)
{
    if (!e)
        return -EINVAL;
    if (weft__owned(&e->loop_))
        return -EXDEV;
    e->set_ = 0;
    return 0;
}

int weft_event_is_set(const weft_event *e)
{
    return e && e->set_;
}

int weft_event_wait(weft_event *e)
{
    struct weft_task *self = weft__self();
    if (!e)
        return -EINVAL;
    if (!self)
        return -EPERM;
    if (weft__owned_by(&e->loop_, self->loop))
        return -EXDEV;
    if (e->set_)
        return 0;
    int granted;
    weft__waiting(self, WEFT_WAIT_EVENT, e, 0);
    return weft__waitq_wait(&e->waiters_, self, &granted);
}

/* ------------------------------------------------------------------------ */
/* Condition                                                                */
/* ------------------------------------------------------------------------ */

int weft_cond_wait(weft_cond *c, weft_mutex *m)
{
    struct weft_task *self = weft__self();
    if (!c || !m)
        return -EINVAL;
    if (!self)
        return -EPERM;
    if (weft__owned_by(&c->loop_, self->loop) || weft__owned_by(&m->loop_, self->loop))
        return -EXDEV;
    if (m->owner_ != self)
        return -EPERM;
    struct weft__wait node = {.w = {.task = self}};
    weft__list_push_back(weft__waitq(&c->waiters_), &node.w.link);
    mutex_pass(m);
    weft__waiting(self, WEFT_WAIT_COND, c, 0);
    int rc = weft__park(self, WEFT_FOREVER);
    weft__list_remove(&node.w.link);
    if (node.granted == GRANT_ONE && rc < 0)
        weft_cond_signal(c);    /* signalled while giving up: pass it on */

    /* The mutex is taken back whatever happened, out of reach of the
       cancellation and deadlines that may have ended the wait. */
    weft_scope shield;
    weft_scope_enter(&shield, WEFT_FOREVER);
    weft_scope_shield(&shield, 1);
    weft_mutex_lock(m);
    weft_scope_exit(&shield);
    return node.granted && rc == 0 ? 0 : rc < 0 ? rc : -EINTR;
}

int weft_cond_signal(weft_cond *c)
{
    if (!c)
        return -EINVAL;
    if (weft__owned(&c->loop_))
        return -EXDEV;
    weft__waitq_give(&c->waiters_);
    return 0;
}

int weft_cond_broadcast(weft_cond *c)
{
    if (!c)
        return -EINVAL;
    if (weft__owned(&c->loop_))
        return -EXDEV;
    struct weft__wait *w;
    while ((w = weft__waitq_take(&c->waiters_))) {
        w->granted = GRANT_ALL;     /* nothing to pass on if cancelled */
        weft__wake(w->w.task, 0);
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Wait group                                                               */
/* ------------------------------------------------------------------------ */

int weft_waitgroup_add(weft_waitgroup *wg, int64_t n)
{
    if (!wg || (n < 0 && wg->count_ + n < 0))   /* count_ >= 0: no overflow */
        return -EINVAL;
    if (weft__owned(&wg->loop_))
        return -EXDEV;
    if (n > 0 && wg->count_ > INT64_MAX - n)
        return -EOVERFLOW;
    wg->count_ += n;
    if (!wg->count_)
        give_all(&wg->waiters_);
    return 0;
}

int weft_waitgroup_done(weft_waitgroup *wg)
{
    return weft_waitgroup_add(wg, -1);
}

int weft_waitgroup_wait(weft_waitgroup *wg)
{
    struct weft_task *self = weft__self();
    if (!wg)
        return -EINVAL;
    if (!self)
        return -EPERM;
    if (weft__owned_by(&wg->loop_, self->loop))
        return -EXDEV;
    if (!wg->count_)
        return 0;
    int granted;
    weft__waiting(self, WEFT_WAIT_WAITGROUP, wg, 0);
    return weft__waitq_wait(&wg->waiters_, self, &granted);
}
