/*
 * weft/sched.h - the per-thread event loop: run, yield, sleep, the clock,
 * and plain callbacks.
 *
 * weft_run() is Python's asyncio.run(): it starts a loop on the calling
 * thread, runs `main` as the first task and returns when it ends. The loop
 * owns a FIFO run queue and a timer min-heap on the monotonic clock; with
 * the virtual clock (weft_loop_opts.virtual_clock) time stands still while
 * any task can run and jumps straight to the next deadline when none can,
 * so a test that sleeps an hour finishes at once, deterministically.
 *
 * Times are int64_t nanoseconds. On the real clock weft_now() is
 * CLOCK_MONOTONIC; on the virtual clock it starts at 0.
 */
#ifndef WEFT_SCHED_H
#define WEFT_SCHED_H

#include <stddef.h>
#include <stdint.h>

#include "weft/task.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Durations in nanoseconds. */
#define WEFT_NSEC(n) ((int64_t)(n))
#define WEFT_USEC(n) ((int64_t)(n) * 1000)
#define WEFT_MSEC(n) ((int64_t)(n) * 1000000)
#define WEFT_SEC(n) ((int64_t)(n) * 1000000000)
/* A deadline that never comes. */
#define WEFT_FOREVER INT64_MAX

/* ------------------------------------------------------------------------ */
/* Running a loop                                                           */
/* ------------------------------------------------------------------------ */

/*
 * Told of a task that ended with an error (other than -ECANCELED) which
 * nobody read - not joined, not weft_task_result(), not gathered, not a
 * task group's member - when its last reference goes: weft_task_release()
 * of a task that has ended, the end of a detached task, or weft_run()
 * dropping the references still held (asyncio's "Task exception was never
 * retrieved"). Runs on the loop's thread where that happened, and must not
 * suspend. `t` is valid only during the call.
 */
typedef void (*weft_error_handler_fn)(weft_task *t, int code, void *arg);

/* Options for weft_run_opts(); zero-initialise and set what you need. */
typedef struct weft_loop_opts {
    int virtual_clock;  /* nonzero: the clock starts at 0, stands still
                           while tasks can run, and jumps to the next
                           deadline when none can (when tasks wait on
                           descriptors, once none has become ready within
                           10 ms of real time) */
    size_t stack_size;  /* default stack of the loop's tasks, 0 for
                           WEFT_STACK_DEFAULT */
    int workers;        /* threads of the worker pool (weft/io.h), 0 for 4 */
    weft_error_handler_fn error_handler; /* unread failures; NULL prints one
                           line on stderr: "weft: task 'NAME' failed with
                           ERROR, and nobody read it" */
    void *error_arg;    /* passed to error_handler */
    int64_t slow_task_ns; /* debug mode, 0 (off) by default: a task that
                           runs longer than this without suspending
                           (CLOCK_MONOTONIC, also under the virtual clock)
                           is reported on stderr: "weft: task 'NAME' ran
                           12.3 ms without suspending (slow_task_ns is
                           10.0 ms); it had resumed at:", the frame it
                           resumed in ("its start", or the code that
                           called the weft function it last waited in -
                           where the compiler made the switch a tail
                           call, as gcc -O2 does; else that function),
                           and the backtrace where it suspended (see
                           weft/debug.h for how far backtraces reach);
                           asyncio's slow_callback_duration. Off, it costs
                           the switch nothing; on, a clock read per
                           switch. */
    int dump_signal;    /* nonzero: on this signal (e.g. SIGQUIT) the loop
                           prints weft_dump() on stderr at its next tick and
                           runs on; the handler stays installed after the
                           loop (weft/debug.h) */
    int loops;          /* loops to run, each on its own thread (weft/loops.h):
                           0 or 1 for one (on the calling thread, as
                           weft_run()); WEFT_LOOPS_ALL for one per online
                           CPU; every loop gets the options above */
    int pin;            /* nonzero: pin loop i's thread to CPU i (modulo the
                           online CPUs) while the loops run */
    int64_t poll_spin_ns; /* 0 (off) by default: when nothing can run and
                           tasks wait on descriptors, the loop polls them
                           without blocking for up to this long
                           (CLOCK_MONOTONIC, never past the next alarm)
                           before it sleeps in the kernel. An event that
                           comes meanwhile is taken with no sleep and no
                           wake-up: a server whose client is on another
                           CPU then spares that client waking this
                           thread's CPU, which on a VM can cost the
                           client tens of microseconds each time. The
                           price is CPU time: up to this long busy after
                           every wait that finds nothing. Not under the
                           virtual clock. */
} weft_loop_opts;

/* weft_loop_opts.loops: one loop per online CPU. */
#define WEFT_LOOPS_ALL (-1)

/*
 * Runs a loop on the calling thread with `main` as its first task (named
 * "main"), until main returns. Tasks still alive then are cancelled and the
 * loop runs until they have ended. If `result` is not NULL it receives the
 * value main stored in its *result.
 *
 * Returns main's return code (0, or the negative errno it failed with;
 * -ECANCELED if it was cancelled); or -EINVAL (NULL main), -EBUSY (a loop
 * already runs on this thread), -ENOMEM, or -EDEADLK: no task could ever
 * run again while tasks still waited. Then one line on stderr names the
 * stuck tasks, and they are cancelled and run to their end before
 * weft_run() returns, so nothing leaks.
 * Blocks the calling thread; must not be called from inside a coroutine.
 */
int weft_run(weft_task_fn main, void *arg, void **result);

/*
 * weft_run() with options; `opts` may be NULL. Same returns, and -EINVAL
 * for a negative `loops` other than WEFT_LOOPS_ALL, -EAGAIN when a loop's
 * thread cannot be started. With several loops (weft/loops.h) main runs on
 * the calling thread's loop, index 0; when it returns, every other loop is
 * stopped (its tasks cancelled, as main's loop cancels its own) and
 * drained, and its thread joined, before this returns.
 */
int weft_run_opts(weft_task_fn main, void *arg, void **result,
                  const weft_loop_opts *opts);

/* ------------------------------------------------------------------------ */
/* Suspending the running task                                              */
/* ------------------------------------------------------------------------ */

/*
 * Lets every other runnable task run once, then continues: asyncio.sleep(0).
 * Returns 0; -ECANCELED (the task, or a scope around this call, is
 * cancelled); -ETIMEDOUT (a timeout scope around it expired); -EPERM
 * outside a task. May suspend.
 */
int weft_yield(void);

/*
 * Suspends the running task for `ns` nanoseconds of the loop's clock.
 * Returns 0 when the time has passed; -EINVAL (negative ns); -ECANCELED;
 * -ETIMEDOUT (a timeout scope expired first); -EPERM outside a task.
 * May suspend.
 */
int weft_sleep(int64_t ns);

/*
 * Suspends the running task until the loop's clock reaches `when`
 * (returns at once, after a yield, when it already has). Same returns as
 * weft_sleep(), without -EINVAL. May suspend.
 */
int weft_sleep_until(int64_t when);

/*
 * The loop's clock in nanoseconds (loop.time()): the virtual time under the
 * virtual clock, else CLOCK_MONOTONIC. Outside a loop, CLOCK_MONOTONIC.
 * Never suspends.
 */
int64_t weft_now(void);

/* ------------------------------------------------------------------------ */
/* Callbacks                                                                */
/* ------------------------------------------------------------------------ */

typedef void (*weft_callback_fn)(void *arg);

/*
 * A scheduled callback. Caller storage: zero it (or WEFT_HANDLE_INIT), then
 * keep it alive and unmoved until the callback has run or been cancelled;
 * after that it may be reused. The contents are private.
 */
typedef struct weft_handle {
    _Alignas(8) unsigned char opaque_[96];
} weft_handle;

#define WEFT_HANDLE_INIT {{0}}

/*
 * Runs fn(arg) on the loop's own stack as soon as possible, after the
 * callbacks already scheduled (call_soon). Callbacks must not suspend:
 * suspending calls made from one return -EPERM.
 * With `h` NULL weft allocates the record and frees it after the run; with
 * `h` the caller's record is used and may be cancelled.
 * Returns 0; -EINVAL (NULL fn, or `h` already scheduled); -EPERM (no loop
 * on this thread); -ENOMEM. Never suspends.
 */
int weft_call_soon(weft_handle *h, weft_callback_fn fn, void *arg);

/*
 * Runs fn(arg) once `delay` nanoseconds of the loop's clock have passed
 * (call_later); callbacks due at the same time run in the order they were
 * scheduled. Same arguments and returns as weft_call_soon(), and -EINVAL
 * for a negative delay. Never suspends.
 */
int weft_call_later(weft_handle *h, int64_t delay, weft_callback_fn fn, void *arg);

/* Runs fn(arg) when the loop's clock reaches `when` (call_at). Same returns. */
int weft_call_at(weft_handle *h, int64_t when, weft_callback_fn fn, void *arg);

/*
 * Cancels a scheduled callback so it never runs. Returns 0, or -EINVAL
 * (NULL) or -EALREADY (it has run, was cancelled, or was never scheduled).
 * The record may be reused after. Never suspends.
 */
int weft_handle_cancel(weft_handle *h);

#ifdef __cplusplus
}
#endif

#endif /* WEFT_SCHED_H */
