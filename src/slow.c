/*
 * slow.c - debug mode: a task that runs longer than
 * weft_loop_opts.slow_task_ns without suspending is reported on stderr with
 * its name, how long it ran, where it had been resumed and the backtrace
 * of where it suspended (asyncio's slow_callback_duration).
 *
 * The fast path knows nothing of it. In debug mode the loop keeps its
 * tick's batch in slow_batch and leaves `batch` at 0, and its I/O state
 * exists from the start, so every switch_away() falls through to
 * next_tick(), which hands over to weft__slow_next(): that reads the clock,
 * reports the task that is leaving if it ran too long, and dispatches the
 * next one exactly as next_tick() and dispatch() would. A task that ends
 * returns to the loop's stack, where weft__slow_run_tasks() times it.
 * With the mode off, the only cost is one test of slow_ns per tick.
 *
 * Run time is measured on CLOCK_MONOTONIC even under the virtual clock,
 * which stands still while a task runs.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "arch/context.h"
#include "coro_internal.h"
#include "debug_internal.h"
#include "loop.h"

__attribute__((noinline))     /* as check(): no local of it may escape in */
static int64_t real_ns(void)     /* weft__slow_next(), or no tail call */
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/*
 * Where `t` will resume: the return address in its saved frame. The switch
 * is reached by tail calls, so that is mostly the code that called the
 * weft function it waited in; a task that has not run starts at its body.
 */
static void *resume_pc(const struct weft_task *t)
{
    const struct weft__frame *f = t->top->sp;
    return (void *)(uintptr_t)f->pc;
}

/*
 * Reports `t` if it ran longer than allowed; `now` is the clock. `stopped`:
 * it is suspending now (still on its own stack), so its backtrace shows
 * where it stopped; else it has ended.
 */
__attribute__((noinline))     /* its frames[] must not keep the switch in
                                 weft__slow_next() from being a tail call */
static void check(struct weft__loop *L, struct weft_task *t, int64_t now, int stopped)
{
    int64_t ran = now - L->slow_since;
    if (ran <= L->slow_ns)
        return;
    fprintf(stderr, "weft: task '%s' ran %.1f ms without suspending (slow_task_ns is "
            "%.1f ms); it had resumed at:\n", weft_task_name(t), (double)ran / 1e6,
            (double)L->slow_ns / 1e6);
    if (t->resume_pc == (void *)weft__entry)
        fprintf(stderr, "  its start\n");
    else
        weft__print_frame(stderr, t->resume_pc);
    void *frames[WEFT_BACKTRACE_MAX];
    int n = stopped ? weft_task_backtrace(t, frames, WEFT_BACKTRACE_MAX) : 0;
    if (n > 0)
        fprintf(stderr, "and ran until it suspended at:\n");
    for (int i = 0; i < n; i++)
        weft__print_frame(stderr, frames[i]);
}

/* Makes `t` the running task and notes where and when it resumes. */
static struct weft_task *take(struct weft__loop *L, int64_t now)
{
    L->slow_batch--;
    L->dispatched++;            /* `batch` stays 0: dispatched counts alone */
    struct weft_task *t = weft__runq_take(L);
    t->resume_pc = resume_pc(t);
    L->slow_since = now;
    return t;
}

int weft__slow_next(struct weft__loop *L, struct weft_task *self, struct weft_coro *me)
{
    int64_t now = real_ns();
    check(L, self, now, 1);
    if (!L->slow_batch && !weft__loop_work_due(L))
        L->slow_batch = L->runq_len;
    if (!L->slow_batch) {
        L->current = NULL;
        return weft__coro_jump(me, L->base, 0);
    }
    struct weft_task *next = take(L, now);
    if (next == self)
        return self->wake_code;
    return weft__coro_jump(me, next->top, next->wake_code);
}

void weft__slow_run_tasks(struct weft__loop *L)
{
    L->slow_batch = L->runq_len;
    while (L->slow_batch) {
        struct weft_task *t = take(L, real_ns());
        if (weft__coro_jump(L->base, t->top, t->wake_code) == WEFT_CORO_RETURNED) {
            check(L, L->ended, real_ns(), 0);
            weft__task_finish(L, L->ended);
        }
        L->current = NULL;
    }
}
