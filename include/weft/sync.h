/*
 * weft/sync.h - mutex, semaphores, event, condition and wait group for the
 * tasks of one loop (asyncio.Lock, Semaphore, BoundedSemaphore, Event,
 * Condition; Go's sync.WaitGroup).
 *
 * Every object lives in caller storage, is initialised by its WEFT_*_INIT
 * (or by zeroing, where the initial value is zero) and never allocates: a
 * waiting task's queue node lives on its own stack. Waiters are served in
 * FIFO order. Every waiting call honours the task's cancellation and the
 * innermost timeout scope (-ECANCELED, -ETIMEDOUT); a waiter that gives up
 * leaves the queue at once. The objects belong to one loop: use them from
 * the tasks (and, for calls that never suspend, the callbacks) of the loop
 * that first used them; every call below (but weft_sem_value and
 * weft_event_is_set) returns -EXDEV, changing nothing, when made from
 * another loop that runs at the same time (with weft_loop_opts.loops, or
 * threads of their own). Once that loop has ended, another may take the
 * object over. Between loops use weft/loops.h. Fields ending in '_' are
 * private.
 */
#ifndef WEFT_SYNC_H
#define WEFT_SYNC_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A FIFO queue of waiting tasks (private). */
typedef struct weft_waitq_ {
    void *next_, *prev_;
} weft_waitq_;

/* ------------------------------------------------------------------------ */
/* Mutex                                                                    */
/* ------------------------------------------------------------------------ */

/*
 * A task mutex with FIFO hand-off: unlock gives the lock to the first
 * waiter, which owns it when it wakes (no barging). Not recursive.
 */
typedef struct weft_mutex {
    void *owner_;        /* the owning task, NULL when free */
    weft_waitq_ waiters_;
    uint64_t loop_;      /* the loop that uses it (-EXDEV for others) */
} weft_mutex;

#define WEFT_MUTEX_INIT {0, {0, 0}, 0}

/*
 * Locks `m`, waiting in FIFO order while another task holds it.
 * Returns 0 (the caller owns it); -EINVAL (NULL); -EPERM (outside a task);
 * -EDEADLK (the caller holds it already); -ECANCELED / -ETIMEDOUT (gave up
 * waiting; it does not own it - a waiter given the lock at the moment it
 * is cancelled passes it on to the next). May suspend.
 */
int weft_mutex_lock(weft_mutex *m);

/* Locks `m` if it is free. 0; -EBUSY (held); -EINVAL; -EPERM outside a
   task. Never suspends. */
int weft_mutex_trylock(weft_mutex *m);

/*
 * Unlocks `m`, handing it to the first waiter if there is one.
 * Returns 0; -EINVAL (NULL); -EPERM (the caller does not own it).
 * Never suspends.
 */
int weft_mutex_unlock(weft_mutex *m);

/* ------------------------------------------------------------------------ */
/* Semaphores                                                               */
/* ------------------------------------------------------------------------ */

/*
 * A counting semaphore. WEFT_SEM_INIT(n) starts it at n (n >= 0);
 * WEFT_BOUNDED_SEM_INIT(n) also makes releasing beyond n an error
 * (asyncio.BoundedSemaphore).
 */
typedef struct weft_sem {
    int64_t value_;      /* permits available */
    int64_t bound_;      /* 0 (unbounded), or 1 + the most value_ may reach */
    weft_waitq_ waiters_;
    uint64_t loop_;
} weft_sem;

#define WEFT_SEM_INIT(n) {(n), 0, {0, 0}, 0}
#define WEFT_BOUNDED_SEM_INIT(n) {(n), (int64_t)(n) + 1, {0, 0}, 0}

/*
 * Takes a permit, waiting in FIFO order while there is none. Returns 0;
 * -EINVAL; -EPERM outside a task; -ECANCELED / -ETIMEDOUT (no permit
 * taken). May suspend.
 */
int weft_sem_acquire(weft_sem *s);

/* Takes a permit if one is free: 0 or -EAGAIN (or -EINVAL). Never
   suspends; callable from callbacks. */
int weft_sem_tryacquire(weft_sem *s);

/*
 * Gives a permit back, straight to the first waiter if there is one.
 * Returns 0; -EINVAL; -EOVERFLOW (a bounded semaphore released past its
 * bound, or the count at INT64_MAX: nothing changes). Never suspends;
 * callable from callbacks.
 */
int weft_sem_release(weft_sem *s);

/* Permits available now (0 while tasks wait). Never suspends. */
int64_t weft_sem_value(const weft_sem *s);

/* ------------------------------------------------------------------------ */
/* Event                                                                    */
/* ------------------------------------------------------------------------ */

/* A flag tasks wait for (asyncio.Event). WEFT_EVENT_INIT starts it clear. */
typedef struct weft_event {
    int set_;
    weft_waitq_ waiters_;
    uint64_t loop_;
} weft_event;

#define WEFT_EVENT_INIT {0, {0, 0}, 0}

/* Sets the flag and wakes every waiter. 0 or -EINVAL. Never suspends;
   callable from callbacks. */
int weft_event_set(weft_event *e);

/* Clears the flag. 0 or -EINVAL. Never suspends. */
int weft_event_clear(weft_event *e);

/* 1 if set, 0 if not (or NULL). Never suspends. */
int weft_event_is_set(const weft_event *e);

/*
 * Waits until the flag is set (returns at once if it is). Returns 0;
 * -EINVAL; -EPERM outside a task; -ECANCELED / -ETIMEDOUT. May suspend.
 */
int weft_event_wait(weft_event *e);

/* ------------------------------------------------------------------------ */
/* Condition                                                                */
/* ------------------------------------------------------------------------ */

/* A condition variable used with a weft_mutex (asyncio.Condition). */
typedef struct weft_cond {
    weft_waitq_ waiters_;
    uint64_t loop_;
} weft_cond;

#define WEFT_COND_INIT {{0, 0}, 0}

/*
 * Atomically unlocks `m` (which the caller must hold) and waits for a
 * signal; then locks `m` again before returning, whatever happened -
 * also when the wait is cancelled or times out. Returns 0 (signalled);
 * -EINVAL (NULL); -EPERM (outside a task, or `m` not held);
 * -ECANCELED / -ETIMEDOUT (not signalled; `m` is held again).
 * May suspend.
 */
int weft_cond_wait(weft_cond *c, weft_mutex *m);

/* Wakes the first waiter, if any. 0 or -EINVAL. Never suspends. */
int weft_cond_signal(weft_cond *c);

/* Wakes every waiter. 0 or -EINVAL. Never suspends. */
int weft_cond_broadcast(weft_cond *c);

/* ------------------------------------------------------------------------ */
/* Wait group                                                               */
/* ------------------------------------------------------------------------ */

/* A counter of outstanding work that tasks wait to reach zero. */
typedef struct weft_waitgroup {
    int64_t count_;
    weft_waitq_ waiters_;
    uint64_t loop_;
} weft_waitgroup;

#define WEFT_WAITGROUP_INIT {0, {0, 0}, 0}

/*
 * Adds `n` (may be negative) to the counter; at zero every waiter wakes.
 * Returns 0; -EINVAL (NULL, or the counter would go below zero: nothing
 * changes); -EOVERFLOW (it would pass INT64_MAX: nothing changes). Never
 * suspends; callable from callbacks.
 */
int weft_waitgroup_add(weft_waitgroup *wg, int64_t n);

/* weft_waitgroup_add(wg, -1). */
int weft_waitgroup_done(weft_waitgroup *wg);

/*
 * Waits until the counter is zero (returns at once if it is). Returns 0;
 * -EINVAL; -EPERM outside a task; -ECANCELED / -ETIMEDOUT. May suspend.
 */
int weft_waitgroup_wait(weft_waitgroup *wg);

#ifdef __cplusplus
}
#endif

#endif /* WEFT_SYNC_H */
