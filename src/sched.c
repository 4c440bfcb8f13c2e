/*
 * sched.c - running tasks: the run queue, the tick's batch of tasks,
 * parking and waking, yield and sleep, alarms and the clock. The loop
 * around it (ticks, idling, the end) is loop.c.
 *
 * A tick runs the tasks that were runnable when it began (`batch`); what
 * they make runnable waits for the next tick, so a task that yields in a
 * loop cannot starve timers or callbacks.
 *
 * Tasks switch straight to one another: a task that parks or yields pops
 * the next runnable task and jumps to it (weft__coro_jump), one switch
 * instead of two through the loop's stack. Only when the tick's batch is
 * spent and there is loop work to do (callbacks, due alarms), or nothing is
 * runnable, does it jump to the loop. Every task's coroutine is adopted
 * with the loop's context as its resumer, so a task that returns lands
 * there, where weft__task_finish() ends it. A task is entered at its `top`:
 * a coroutine the task resumed (an async generator) may park, and the task
 * continues there when woken, with its chain of resumers intact.
 *
 * Invariants:
 * - current is the running task, NULL while the loop's own stack runs.
 * - A task is in exactly one of: the run queue (QUEUED), running, parked
 *   (maybe in some wait queue and the timer heap), or ended.
 * - The virtual clock moves only in the loop, when nothing is runnable.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <time.h>

#include "coro_internal.h"
#include "io_internal.h"
#include "loop.h"

__thread struct weft__loop *weft__loop __attribute__((tls_model("initial-exec")));

static int64_t monotonic_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t weft__now(const struct weft__loop *L)
{
    return L->virtual_clock ? L->vnow : monotonic_ns();
}

int64_t weft_now(void)
{
    struct weft__loop *L = weft__loop;
    return L ? weft__now(L) : monotonic_ns();
}

int weft__alarm_set(struct weft__loop *L, struct weft__alarm *a, int64_t when)
{
    weft__timer_heap_remove(&L->timers, &a->timer);
    return weft__timer_heap_insert(&L->timers, &a->timer, when);
}

void weft__alarm_clear(struct weft__loop *L, struct weft__alarm *a)
{
    weft__timer_heap_remove(&L->timers, &a->timer);
}

void weft__enqueue(struct weft__loop *L, struct weft_task *t)
{
    t->state = WEFT__TASK_QUEUED;
    weft__list_push_back(&L->runq, &t->link);
    L->runq_len++;
}

/* Takes the head of the run queue, which the tick's batch still covers:
   batch <= runq_len, so the queue is not empty. */
static inline struct weft_task *take_batched(struct weft__loop *L)
{
    L->batch--;
    return weft__runq_take(L);
}

int weft__loop_work_due(struct weft__loop *L)
{
    if (!weft__list_empty(&L->ready) || weft__io_pending(L))
        return 1;
    struct weft__timer *t = weft__timer_heap_min(&L->timers);
    return t && t->deadline <= weft__now(L);
}

/* Switches from `self` (running on coroutine `me`) to the head of the run
   queue, which the tick's batch still covers. */
static inline int dispatch(struct weft__loop *L, struct weft_task *self,
                           struct weft_coro *me)
{
    struct weft_task *next = take_batched(L);
    if (next == self)               /* alone in the queue: keep running */
        return self->wake_code;
    return weft__coro_jump(me, next->top, next->wake_code);
}

/* The tick's batch is spent: start the next one here, unless the loop has
   work of its own (callbacks, due alarms) or nothing can run. Reached by a
   tail call, so the fast path of switch_away() calls nothing. */
__attribute__((noinline)) static int next_tick(struct weft__loop *L, struct weft_task *self,
                                               struct weft_coro *me)
{
    if (WEFT_UNLIKELY(L->slow_ns))     /* debug mode: every switch comes here */
        return weft__slow_next(L, self, me);
    if (!weft__loop_work_due(L))
        L->dispatched += L->batch = L->runq_len;
    if (L->batch)
        return dispatch(L, self, me);
    L->current = NULL;
    return weft__coro_jump(me, L->base, 0);
}

/*
 * Leaves the running task `self` (already queued or parked) for the next
 * runnable task, or for the loop, and returns what its own switch brings
 * back when it runs again: its wake_code, handed over by whoever switches
 * to it. Nothing is left to do after the switch, so callers end with
 * "return switch_away(...)" and the switch is a tail call: no return then
 * goes to a call made on another task's stack, which the return-stack
 * predictor would miss.
 */
static inline int switch_away(struct weft__loop *L, struct weft_task *self)
{
    struct weft_coro *me = weft__tls.current;
    self->top = me;                 /* maybe a coroutine the task resumed */
    if (WEFT_UNLIKELY(!L->batch)) {
        /* Without callbacks and timers a new tick needs no clock read. */
        if (!L->runq_len || !weft__list_empty(&L->ready) || L->timers.len || L->io)
            return next_tick(L, self, me);
        L->dispatched += L->batch = L->runq_len;
    }
    return dispatch(L, self, me);
}

static void task_alarm(struct weft__alarm *a);

/* Both paths of weft__park(): marks `self` parked until `wake_at` (its
   alarm, if any, already armed) and switches away. Always inlined, even
   in a debug build: it must not add a frame between a task's wait and the
   switch (backtraces of suspended tasks show a bounded number of frames). */
static inline __attribute__((always_inline)) int park_now(struct weft__loop *L, struct weft_task *self, int64_t wake_at)
{
    self->alarm.fire = task_alarm;  /* armed later if a scope gets a deadline */
    self->wait_since = L->tick_now;
    self->wake_at = wake_at;
    self->wake_code = 0;
    self->state = WEFT__TASK_PARKED;
    return switch_away(L, self);
}

/* weft__park() with a wake time, a scope or a cancellation to look at:
   out of line, so that an untimed park saves no registers. */
__attribute__((noinline)) static int park_checked(struct weft_task *self, int64_t wake_at)
{
    struct weft__loop *L = self->loop;
    int64_t deadline = wake_at;
    if (self->scope || self->cancel_requested) {
        int64_t scoped;
        int rc = weft__scope_status(self, weft__now(L), &scoped);
        if (rc)
            return rc;
        if (scoped < deadline)
            deadline = scoped;
    }
    if (deadline != WEFT_FOREVER && weft__alarm_set(L, &self->alarm, deadline) < 0)
        return -ENOMEM;             /* it fires only from the loop, later */
    return park_now(L, self, wake_at);
}

int weft__park(struct weft_task *self, int64_t wake_at)
{
    if (WEFT_UNLIKELY(self->scope || self->cancel_requested || wake_at != WEFT_FOREVER))
        return park_checked(self, wake_at);
    return park_now(self->loop, self, WEFT_FOREVER);
}

/* weft__wake() of a task whose alarm is armed: out of line, as above. */
__attribute__((noinline)) static void wake_timed(struct weft_task *t, int code)
{
    weft__alarm_clear(t->loop, &t->alarm);
    t->wake_code = code;
    weft__enqueue(t->loop, t);
}

void weft__wake(struct weft_task *t, int code)
{
    if (t->state != WEFT__TASK_PARKED)
        return;
    if (weft__timer_pending(&t->alarm.timer)) {  /* most waits have none */
        wake_timed(t, code);
        return;
    }
    t->wake_code = code;
    weft__enqueue(t->loop, t);
}

void weft__wake_all(struct weft__list *q)
{
    struct weft__list *n;
    while ((n = weft__list_pop_front(q))) {
        struct weft__waiter *w = weft__container_of(n, struct weft__waiter, link);
        if (w->notify)
            w->notify(w);
        else
            weft__wake(w->task, 0);
    }
}

/* A parked task's alarm: its own wake time, or a deadline that applies. */
static void task_alarm(struct weft__alarm *a)
{
    struct weft_task *t = weft__container_of(a, struct weft_task, alarm);
    int64_t now = weft__now(t->loop);
    if (now >= t->wake_at) {
        weft__wake(t, 0);
        return;
    }
    int64_t deadline;
    int rc = weft__scope_status(t, now, &deadline);
    if (rc)
        weft__wake(t, rc);
    else if ((deadline = deadline < t->wake_at ? deadline : t->wake_at) != WEFT_FOREVER)
        weft__alarm_set(t->loop, a, deadline);  /* a deadline moved: re-arm */
}

void weft__recheck(struct weft_task *t)
{
    int64_t deadline;
    if (t->state == WEFT__TASK_QUEUED && t->started) {
        /* Queued in a yield or just woken: its call returns the news. */
        int rc = weft__scope_status(t, weft__now(t->loop), NULL);
        if (rc)
            t->wake_code = rc;
        return;
    }
    if (t->state != WEFT__TASK_PARKED)
        return;
    int rc = weft__scope_status(t, weft__now(t->loop), &deadline);
    if (rc) {
        weft__wake(t, rc);
        return;
    }
    /* What applies may have changed (a shield lifted): re-arm the alarm. */
    if (t->wake_at < deadline)
        deadline = t->wake_at;
    if (deadline == WEFT_FOREVER)
        weft__alarm_clear(t->loop, &t->alarm);
    else
        weft__alarm_set(t->loop, &t->alarm, deadline);
}

static inline int yield_now(struct weft_task *self)
{
    self->wake_code = 0;        /* weft__recheck() sets it if cancelled */
    weft__enqueue(self->loop, self);
    return switch_away(self->loop, self);
}

/* weft_yield() when a scope or a cancellation may apply. */
__attribute__((noinline)) static int yield_checked(struct weft_task *self)
{
    int rc = weft__scope_status(self, weft__now(self->loop), NULL);
    return rc ? rc : yield_now(self);
}

int weft_yield(void)
{
    struct weft_task *self = weft__self();
    if (WEFT_UNLIKELY(!self))
        return -EPERM;
    if (WEFT_UNLIKELY(self->scope || self->cancel_requested))
        return yield_checked(self);
    return yield_now(self);
}

int weft_sleep_until(int64_t when)
{
    struct weft_task *self = weft__self();
    if (!self)
        return -EPERM;
    if (when <= weft__now(self->loop))
        return weft_yield();
    weft__waiting(self, WEFT_WAIT_SLEEP, NULL, 0);
    return weft__park(self, when);
}

int weft_sleep(int64_t ns)
{
    struct weft_task *self = weft__self();
    if (!self)
        return -EPERM;
    if (ns < 0)
        return -EINVAL;
    if (ns == 0)
        return weft_yield();
    weft__waiting(self, WEFT_WAIT_SLEEP, NULL, 0);
    return weft__park(self, weft__after(weft__now(self->loop), ns));
}

void weft__run_tasks(struct weft__loop *L)
{
    if (WEFT_UNLIKELY(L->slow_ns)) {
        weft__slow_run_tasks(L);
        return;
    }
    L->dispatched += L->batch = L->runq_len;
    while (L->batch) {
        struct weft_task *t = take_batched(L);
        /* Returns when a task jumps back to the loop (0), or when one ends
           and its coroutine returns here with its record in L->ended,
           maybe after many jumps from task to task. */
        if (weft__coro_jump(L->base, t->top, t->wake_code) == WEFT_CORO_RETURNED)
            weft__task_finish(L, L->ended);
        L->current = NULL;
    }
}
