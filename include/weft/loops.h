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
 * A task waiting on a weft_xchan, weft_xevent or weft_xwaitgroup keeps its
 * loop polling, as a thread holding the loop does (weft_loop_get): the
 * wake may come from any thread, so such a wait is never reported as a
 * deadlock. With several loops no loop reports one either while the others
 * run (each holds the others' handles until main returns).
 *
 * The objects of weft/sync.h and weft/chan.h, and futures, stay
 * loop-local: the first loop whose task uses one owns it, and a task of
 * another loop that touches it gets -EXDEV (nothing changes). So do task
 * handles of another loop's tasks (join, cancel, gather, wait, wait_for,
 * as_completed) and a task group another loop's task entered. The
 * weft_xchan, weft_xevent and weft_xwaitgroup below may be used by any task
 * of any loop; a weft_spawn_on() handle is the caller's loop's.
 */
#ifndef WEFT_LOOPS_H
#define WEFT_LOOPS_H

#include <stddef.h>
#include <stdint.h>

#include "weft/chan.h"
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
int weft_spawn_on(weft_loop *loop, weft_task_fn fn, void *arg, const weft_task_opts *opts,
                  weft_task **out);

/* ------------------------------------------------------------------------ */
/* Channels between loops                                                   */
/* ------------------------------------------------------------------------ */

/*
 * A channel that any task of any loop may send on, receive from, select on
 * and close: weft_chan's semantics (weft/chan.h: buffered or unbuffered,
 * FIFO, values copied, -EPIPE once closed, a waiting call honours
 * cancellation and the innermost timeout scope and then has moved no
 * value). A task that waits parks only itself; the peer that completes the
 * wait hands the value over and wakes it on its own loop. The try_ calls
 * and close never suspend and work from plain threads and callbacks too.
 * Waiting never allocates (a loop's first cross-loop wake may).
 */
typedef struct weft_xchan weft_xchan;

/* Creates one: as weft_chan_create(). The caller owns it; free it with
   weft_xchan_destroy(). Never suspends; callable from any thread. */
int weft_xchan_create(weft_xchan **out, size_t elem_size, size_t capacity);

/* Frees it: 0; -EINVAL; -EBUSY (tasks still wait on it). Never suspends. */
int weft_xchan_destroy(weft_xchan *ch);

/* As weft_chan_send() / weft_chan_recv(), from a task of any loop. 0;
   -EPIPE; -EINVAL; -EPERM (would wait outside a task); -ENOMEM (the loop's
   first cross-loop wait found no memory); -ECANCELED / -ETIMEDOUT.
   May suspend. */
int weft_xchan_send(weft_xchan *ch, const void *elem);
int weft_xchan_recv(weft_xchan *ch, void *elem);

/* As weft_chan_try_send() / weft_chan_try_recv(). Never suspend. */
int weft_xchan_try_send(weft_xchan *ch, const void *elem);
int weft_xchan_try_recv(weft_xchan *ch, void *elem);

/* As weft_chan_close(): every waiter, on every loop, wakes with -EPIPE.
   0; -EINVAL; -EALREADY. Never suspends. */
int weft_xchan_close(weft_xchan *ch);

/* Values buffered now, and the capacity; 0 for NULL. Never suspend. */
size_t weft_xchan_len(weft_xchan *ch);
size_t weft_xchan_cap(const weft_xchan *ch);

/* The most cases of one weft_xchan_select(). */
#define WEFT_XSELECT_MAX 64

/* A case of weft_xchan_select(): as weft_select_case (weft/chan.h). */
typedef struct weft_xselect_case {
    weft_xchan *ch;      /* the channel; a NULL ch makes the case never ready */
    int op;              /* WEFT_SELECT_SEND or WEFT_SELECT_RECV */
    void *elem;          /* the value to send, or where to receive */
    int result;          /* out: 0, or -EPIPE when the channel was closed */
    void *node_[10];     /* private: the wait node */
} weft_xselect_case;

/*
 * weft_select() over cross-loop channels: waits until one of cases[0..n)
 * can proceed and performs exactly that one; returns its index with
 * cases[i].result set; the first ready case in the array wins. Flags:
 * WEFT_SELECT_NOWAIT. Returns -EINVAL (bad arguments, n >
 * WEFT_XSELECT_MAX); -EAGAIN; -EPERM; -ENOMEM; -ECANCELED / -ETIMEDOUT
 * (nothing done). May suspend.
 */
int weft_xchan_select(weft_xselect_case *cases, size_t n, int flags);

/* ------------------------------------------------------------------------ */
/* Event and wait group between loops                                       */
/* ------------------------------------------------------------------------ */

/*
 * weft_event and weft_waitgroup (weft/sync.h) for tasks of any loop: caller
 * storage, zero (WEFT_XEVENT_INIT, WEFT_XWAITGROUP_INIT) to start, never
 * allocating, the same returns. set, clear, add and done never suspend and
 * work from plain threads and callbacks; the waits may suspend (-EPERM
 * outside a task, -ENOMEM as for weft_xchan_send()). Fields ending in '_'
 * are private.
 */
typedef struct weft_xevent {
    int lock_;
    int set_;
    void *waiters_[2];
} weft_xevent;

#define WEFT_XEVENT_INIT {0, 0, {0, 0}}

int weft_xevent_set(weft_xevent *e);
int weft_xevent_clear(weft_xevent *e);
int weft_xevent_is_set(weft_xevent *e);
int weft_xevent_wait(weft_xevent *e);

typedef struct weft_xwaitgroup {
    int lock_;
    int64_t count_;
    void *waiters_[2];
} weft_xwaitgroup;

#define WEFT_XWAITGROUP_INIT {0, 0, {0, 0}}

int weft_xwaitgroup_add(weft_xwaitgroup *wg, int64_t n);
int weft_xwaitgroup_done(weft_xwaitgroup *wg);
int weft_xwaitgroup_wait(weft_xwaitgroup *wg);

#ifdef __cplusplus
}
#endif

#endif /* WEFT_LOOPS_H */
