/*
 * loop.c - a loop's life: weft_run() sets it up on the calling thread, runs
 * ticks until no task is left, idles (sleeping, or polling descriptors)
 * when nothing can run, reports a deadlock, and frees everything at the end.
 *
 * A tick runs the callbacks that were due when it began, then the tasks that
 * were runnable when it began (sched.c), then fires the alarms whose time
 * has come; what those make runnable waits for the next tick, so a task that
 * yields in a loop cannot starve timers or callbacks.
 *
 * What a loop uses beyond its tasks and timers (the worker pool, the way in
 * from other threads, watchers, signals, ...) registers itself with the
 * loop on first use and is ended by weft__parts_end() (loop_parts.c).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "coro_internal.h"
#include "debug_internal.h"
#include "io_internal.h"
#include "loop.h"

/* Runs the callbacks that are due now, the ones queued after them wait. */
static void run_callbacks(struct weft__loop *L)
{
    struct weft__list batch;
    weft__list_init(&batch);
    if (weft__list_empty(&L->ready))
        return;
    /* Move the ready list aside: callbacks it schedules run next tick. */
    batch.next = L->ready.next;
    batch.prev = L->ready.prev;
    batch.next->prev = batch.prev->next = &batch;
    weft__list_init(&L->ready);
    struct weft__list *n;
    while ((n = weft__list_pop_front(&batch))) {
        struct weft__handle *h = weft__container_of(n, struct weft__handle, link);
        h->state = WEFT__HANDLE_IDLE;
        weft_callback_fn fn = h->fn;
        void *arg = h->arg;
        if (h->owned)
            free(h);
        fn(arg);
    }
}

/* Fires the alarms due by `now`, in deadline order. */
static void fire_alarms(struct weft__loop *L, int64_t now)
{
    struct weft__timer *t;
    while ((t = weft__timer_heap_min(&L->timers)) && t->deadline <= now) {
        struct weft__alarm *a = weft__container_of(t, struct weft__alarm, timer);
        weft__timer_heap_pop(&L->timers);
        a->fire(a);
    }
}

/* Real time the virtual clock waits for descriptors before it jumps. */
#define AUTOJUMP_GRACE WEFT_MSEC(10)

/*
 * Nothing is runnable: waits until the next alarm is due, polling
 * descriptors meanwhile if tasks wait on some. On the virtual clock time
 * jumps to the alarm once no descriptor has become ready within a short
 * real grace period (trio's autojump threshold): I/O already under way in
 * the kernel lands before virtual time moves on. Worker jobs run in real
 * time meanwhile, and may wait for what a task does after the jump.
 */
static void idle(struct weft__loop *L)
{
    struct weft__timer *t = weft__timer_heap_min(&L->timers);
    int io = weft__io_pending(L);
    if (L->virtual_clock) {
        if (io && weft__io_poll(L, L->io_waiting ? AUTOJUMP_GRACE : 0) > 0)
            return;             /* something became runnable: no jump */
        if (t->deadline > L->vnow)
            L->vnow = t->deadline;
        return;
    }
    if (io) {
        int64_t wait = t->deadline - weft__now(L);
        weft__io_poll(L, wait > 0 ? wait : 0);
        return;
    }
    struct timespec ts = {.tv_sec = t->deadline / 1000000000,
                          .tv_nsec = t->deadline % 1000000000};
    L->sleeps++;
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR &&
           !weft__dump_wanted(L))
        ;
}

/*
 * Reports the tasks that wait forever and cancels them. If they wait again
 * (in shielded scopes), the loop is doomed: every wait fails at once, so
 * every task runs to its end.
 */
static void deadlock(struct weft__loop *L, int again)
{
    char line[512];
    int len = snprintf(line, sizeof line, "weft: deadlock: %zu task%s forever:",
                       L->ntasks, L->ntasks == 1 ? " waits" : "s wait");
    struct weft__list *n;
    weft_snapshot *stuck = again ? NULL : weft__deadlock_snapshot(L);
    L->doomed = again;
    for (n = L->tasks.next; n != &L->tasks; n = n->next) {
        struct weft_task *t = weft__container_of(n, struct weft_task, all_link);
        if (!again && len < (int)sizeof line)
            len += snprintf(line + len, sizeof line - (size_t)len, " '%s'",
                            weft_task_name(t));
        t->cancel_requested = 1;
        weft__recheck(t);
    }
    if (!again)
        fprintf(stderr, "%s\n", line);
    weft__deadlock_print(stuck);
}

/*
 * Runs ticks until no task is alive and no callback is ready. Returns 0, or
 * -EDEADLK when tasks were left waiting forever (they have been cancelled
 * and have ended).
 */
static int run_until_empty(struct weft__loop *L, struct weft_task *main_task)
{
    int rc = 0, deadlocks = 0;
    /* Done callbacks of the last tasks still run, and may spawn more. */
    while (L->ntasks || !weft__list_empty(&L->ready)) {
        weft__debug_tick(L);
        run_callbacks(L);
        weft__run_tasks(L);
        weft__debug_ran(L);
        if (main_task->state == WEFT__TASK_ENDED) {
            /* asyncio.run(): main is done, cancel what is left. */
            struct weft__list *n;
            for (n = L->tasks.next; n != &L->tasks; n = n->next) {
                struct weft_task *t = weft__container_of(n, struct weft_task, all_link);
                if (!t->cancel_requested)
                    weft_task_cancel(t);
            }
        }
        if (!L->ntasks)
            continue;           /* only callbacks left: no time passes */
        if (L->runq_len || !weft__list_empty(&L->ready)) {
            if (weft__timer_heap_min(&L->timers))   /* no clock read if not */
                fire_alarms(L, weft__now(L));
            if (weft__io_pending(L))
                weft__io_poll(L, 0);
        } else if (weft__timer_heap_min(&L->timers)) {
            idle(L);
            weft__debug_waited(L);
            fire_alarms(L, weft__now(L));
        } else if (weft__io_pending(L)) {
            weft__io_poll(L, -1);   /* only descriptors or threads can help */
            weft__debug_waited(L);
        } else {
            rc = -EDEADLK;
            deadlock(L, deadlocks++ > 0);
        }
    }
    return rc;
}

int weft__loop_run(weft_task_fn main, void *arg, void **result,
                   const weft_loop_opts *opts, struct weft__loops *group, int index)
{
    if (!main)
        return -EINVAL;
    if (weft__loop || weft_coro_current())
        return -EBUSY;
    struct weft__loop L;
    memset(&L, 0, sizeof L);
    weft__list_init(&L.runq);
    weft__list_init(&L.ready);
    weft__list_init(&L.tasks);
    weft__list_init(&L.zombies);
    L.virtual_clock = opts && opts->virtual_clock;
    L.workers = opts && opts->workers > 0 ? opts->workers : 4;
    L.slow_ns = opts && opts->slow_task_ns > 0 ? opts->slow_task_ns : 0;
    L.error_handler = opts ? opts->error_handler : NULL;
    L.error_arg = opts ? opts->error_arg : NULL;
    L.stack_size = opts && opts->stack_size ? opts->stack_size : WEFT_STACK_DEFAULT;
    L.poll_spin_ns = opts && opts->poll_spin_ns > 0 && !L.virtual_clock ? opts->poll_spin_ns
                                                                         : 0;
    if (L.stack_size < WEFT_STACK_MIN || L.stack_size > WEFT_STACK_MAX)
        return -EINVAL;
    L.base = weft__coro_self();
    L.group = group;
    L.index = index;
    weft__loop = &L;
    weft__serial_begin(&L);

    struct weft_task *m;
    /* Debug mode needs the I/O state from the start: with it, every
       switch leaves through next_tick(), where slow.c times it. */
    int rc = L.slow_ns && !weft__io_get(&L) ? -ENOMEM : 0;
    if (rc == 0 && opts && opts->dump_signal)
        rc = weft__dump_signal_start(&L, opts->dump_signal);
    if (rc == 0)
        rc = weft__spawn(&L, &m, main, arg, &(weft_task_opts){.name = "main"});
    if (rc == 0) {
        int stuck = run_until_empty(&L, m);
        rc = stuck ? stuck : m->code;
        m->retrieved = 1;       /* its outcome is weft_run's: read */
        if (result)
            *result = m->result;
    }
    weft__parts_end(&L);        /* the pool, the way in, ... (loop_parts.c) */
    weft__io_free(&L);
    weft__callbacks_drop(&L);
    weft__task_free_all(&L);
    weft__timer_heap_free(&L.timers);
    weft__serial_end();
    weft__loop = NULL;
    return rc;
}

int weft_run_opts(weft_task_fn main, void *arg, void **result,
                  const weft_loop_opts *opts)
{
    if (opts && opts->loops != 0 && opts->loops != 1)
        return weft__loops_run(main, arg, result, opts);
    return weft__loop_run(main, arg, result, opts, NULL, 0);
}

int weft_run(weft_task_fn main, void *arg, void **result)
{
    return weft_run_opts(main, arg, result, NULL);
}
