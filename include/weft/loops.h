/*
 * weft/loops.h - a loop per core: several loops started together
 * (weft_loop_opts.loops), tasks that await work on another loop, and the
 * channels, event and wait group that work between loops.
 *
 * Each loop runs on its own thread with its own run queue, timers, poller,
 * stack pool and worker pool. Tasks never move between loops (C code keeps
 * thread-local addresses such as &errno across calls, so a task moved to
 * another thread would read another thread's errno): work crosses loops
 * only by explicit hand-over, through the calls below.
 *
 * The objects of weft/sync.h and weft/chan.h stay loop-local: the first
 * loop whose task uses one owns it, and a task of another loop that
 * touches it gets -EXDEV (nothing changes). The weft_xchan, weft_xevent and
 * weft_xwaitgroup below may be used by any task of any loop.
 */
#ifndef WEFT_LOOPS_H
#define WEFT_LOOPS_H

#include <stddef.h>
#include <stdint.h>

#include "weft/io.h"
#include "weft/task.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/* The loops of a run                                                       */
/* ------------------------------------------------------------------------ */

/*
 * The loop of index `index` (0 .. weft_loop_count() - 1) of the calling
 * thread's group of loops; loop 0 runs main. A borrowed reference, valid
 * until weft_run_opts() returns (do not weft_loop_put() it; take one with
 * weft_loop_get() on that loop to keep it longer). NULL for a bad index or
 * outside a loop. Never suspends.
 */
weft_loop *weft_loop_at(int index);

/* The index of the calling thread's loop (0 alone), or -EPERM outside a
   loop. Never suspends. */
int weft_loop_index(void);

/* How many loops the calling thread's group has (1 alone), or -EPERM
   outside a loop. Never suspends. */
int weft_loop_count(void);

/*
 * Spawns fn(arg) as a task on `loop` (weft_loop_at(), or any weft_loop_get()
 * reference) from a task or callback of this loop; `opts` as for
 * weft_spawn() (the name and stack size are copied). With `out`, *out is a
 * handle on this loop: weft_task_join() suspends only the calling task until
 * the task has ended there and returns its code and result;
 * weft_task_cancel() cancels the task on its loop; weft_task_release()
 * gives the handle back; weft_task_status(), weft_task_result() and done
 * callbacks work as for a local task. Without `out` the task is detached,
 * but this loop still waits for it to end before it can end. The handle
 * belongs to this loop: use it from this loop's tasks only.
 * Returns 0; -EINVAL (NULL loop or fn); -EPERM (no loop on this thread);
 * -ENOMEM; -ESHUTDOWN (that loop has ended). A task that reaches its loop
 * only as it ends never runs and ends with -ESHUTDOWN. When `loop` is this
 * loop, this is weft_spawn(). Never suspends.
 */
int weft_spawn_on(weft_loop *loop, weft_task **out, weft_task_fn fn, void *arg,
                  const weft_task_opts *opts);

#ifdef __cplusplus
}
#endif

#endif /* WEFT_LOOPS_H */
