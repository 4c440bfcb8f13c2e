/*
 * weft/task.h - tasks, futures, the asyncio combinators, timeout scopes and
 * task groups.
 *
 * A task is a coroutine run by the loop of its thread (weft/sched.h). Its
 * function returns 0 and stores a result, or returns a negative errno to
 * fail - the C counterpart of raising. Cancellation is cooperative: a
 * cancelled task's current and later suspending calls return -ECANCELED
 * until it returns.
 *
 * Every suspending call in weft honours the innermost timeout scope of the
 * running task: once the scope's deadline has passed it returns -ETIMEDOUT,
 * once the scope is cancelled by hand -ECANCELED. Scopes nest; a shielded
 * scope keeps the cancellations of the task and of the scopes around it
 * out (trio's cancel scopes).
 *
 * All functions here must be called on the loop's thread: from a task, or
 * (those that never suspend) from a callback.
 */
#ifndef WEFT_TASK_H
#define WEFT_TASK_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/* Tasks                                                                    */
/* ------------------------------------------------------------------------ */

typedef struct weft_task weft_task;

/*
 * The body of a task. Returns 0 after storing its result in *result (NULL
 * if it stores nothing), or a negative errno: the task then failed with that
 * error, or was cancelled if it is -ECANCELED.
 */
typedef int (*weft_task_fn)(void *arg, void **result);

/* What weft_task_status() reports. */
typedef enum weft_task_state {
    WEFT_TASK_PENDING = 0,  /* not started, or waiting */
    WEFT_TASK_RUNNING = 1,  /* the task executing now */
    WEFT_TASK_DONE = 2,     /* returned 0 */
    WEFT_TASK_FAILED = 3,   /* returned a negative errno other than -ECANCELED */
    WEFT_TASK_CANCELLED = 4 /* returned -ECANCELED, or cancelled before it ran */
} weft_task_state;

/* Options for weft_spawn(); zero-initialise and set what you need. */
typedef struct weft_task_opts {
    const char *name;  /* copied (up to 31 bytes); NULL for "task-<id>" */
    size_t stack_size; /* 0 for the loop's default */
} weft_task_opts;

/*
 * Creates a task running fn(arg, &result) and queues it behind the tasks
 * already runnable; it starts when the spawner next suspends.
 * With `out` NULL the task is detached: weft frees it when it ends. With
 * `out` the caller holds a reference and gives it up with
 * weft_task_release(); references still held when weft_run() returns are
 * dropped by it.
 * Returns 0; -EINVAL (NULL fn, bad stack size); -EPERM (no loop on this
 * thread); -ENOMEM. Never suspends.
 */
int weft_spawn(weft_task **out, weft_task_fn fn, void *arg,
               const weft_task_opts *opts);

/*
 * Waits for `t` to end, then returns its outcome: 0 with *result (if not
 * NULL) set to the value it stored, its negative errno if it failed, or
 * -ECANCELED if it was cancelled. A task can be joined once.
 * Errors of the join itself: -EINVAL (NULL); -EDEADLK (joining oneself);
 * -EALREADY (joined before); -EPERM (outside a task); -ECANCELED or
 * -ETIMEDOUT when the joiner is cancelled or its scope expires while it
 * waits (t keeps running; weft_task_status(t) tells the cases apart).
 * May suspend.
 */
int weft_task_join(weft_task *t, void **result);

/*
 * The outcome of a task that has ended, as weft_task_join() returns it,
 * without waiting and as often as wanted; -EAGAIN while it has not ended;
 * -EINVAL for NULL. Never suspends.
 */
int weft_task_result(const weft_task *t, void **result);

/*
 * Asks `t` to stop: its current and later suspending calls return
 * -ECANCELED (outside shielded scopes) until it returns; a task that has not
 * started yet ends cancelled without running. Cancelling oneself is
 * allowed. Returns 0; -EALREADY (it has ended); -EINVAL (NULL).
 * Never suspends.
 */
int weft_task_cancel(weft_task *t);

/* The task's state; WEFT_TASK_CANCELLED for NULL. Never suspends. */
weft_task_state weft_task_status(const weft_task *t);

/*
 * Arranges for fn(t, arg) to run as a loop callback once `t` has ended (at
 * once, soon, if it already has). Callbacks run in the order added.
 * Returns 0; -EINVAL (NULL t or fn); -ENOMEM. Never suspends.
 */
int weft_task_add_done_callback(weft_task *t,
                                void (*fn)(weft_task *t, void *arg), void *arg);

/* The running task, or NULL outside one. Never suspends. */
weft_task *weft_task_current(void);

/*
 * Writes up to `cap` tasks of this thread's loop that have not ended into
 * out[], in the order they were spawned; returns how many there are (may
 * exceed cap). 0 outside a loop. Never suspends.
 */
size_t weft_task_all(weft_task **out, size_t cap);

/* The task's name (owned by the task); "?" for NULL. Never suspends. */
const char *weft_task_name(const weft_task *t);

/* Renames a task (copied, 31 bytes kept). 0 or -EINVAL. Never suspends. */
int weft_task_set_name(weft_task *t, const char *name);

/*
 * Gives up the caller's reference from weft_spawn(); the task keeps running
 * and is freed when it has ended and nothing refers to it. 0 or -EINVAL.
 * Never suspends.
 */
int weft_task_release(weft_task *t);

/* ------------------------------------------------------------------------ */
/* Futures                                                                  */
/* ------------------------------------------------------------------------ */

/*
 * A result set by hand that tasks await (asyncio.Future). Caller storage:
 * zero it or use WEFT_FUTURE_INIT; it must outlive every wait on it. The
 * contents are private. A future belongs to the loop that first uses it:
 * a task of another loop running at the same time gets -EXDEV from every
 * call but weft_future_done() (use a weft_xevent or weft_xchan between
 * loops).
 */
typedef struct weft_future {
    _Alignas(8) unsigned char opaque_[32];
} weft_future;

#define WEFT_FUTURE_INIT {{0}}

/*
 * Resolves the future with a value and wakes every task awaiting it.
 * Returns 0, -EINVAL (NULL), -EALREADY (already resolved), -EXDEV (another
 * loop's). Never suspends.
 */
int weft_future_set_result(weft_future *f, void *value);

/*
 * Resolves the future with an error (a negative errno; -ECANCELED to cancel
 * it; at least -32768). Returns 0, -EINVAL (NULL, err >= 0 or below
 * -32768), -EALREADY, -EXDEV. Never suspends.
 */
int weft_future_set_error(weft_future *f, int err);

/*
 * Waits until the future is resolved; returns 0 with *value (if not NULL)
 * set, or the error it was resolved with; or -ECANCELED / -ETIMEDOUT for the
 * waiter; -EINVAL (NULL); -EPERM outside a task; -EXDEV (another loop's).
 * May suspend.
 */
int weft_future_await(weft_future *f, void **value);

/* 1 if resolved, 0 if not (or NULL). Never suspends. */
int weft_future_done(const weft_future *f);

/* ------------------------------------------------------------------------ */
/* Combinators                                                              */
/* ------------------------------------------------------------------------ */

/* weft_gather() flag: gather every outcome instead of failing at the first
   (return_exceptions=True). */
#define WEFT_GATHER_COLLECT 1

/*
 * Waits for tasks[0..n) and gathers their results in the order given.
 * results[i] (if results is not NULL) receives task i's value; codes[i]
 * (if codes is not NULL) its outcome as weft_task_result() gives it.
 * Without WEFT_GATHER_COLLECT it returns the first failure as soon as it
 * happens (the other tasks keep running); with it, it waits for all and
 * returns 0. If the gathering task is cancelled, the tasks not yet ended are
 * cancelled too and it returns -ECANCELED.
 * Returns 0 or that error; -EINVAL (NULL tasks with n > 0, a NULL task, bad
 * flags); -EPERM outside a task; -EXDEV (a task of another loop: join a
 * weft_spawn_on() handle instead). May suspend.
 */
int weft_gather(weft_task *const *tasks, size_t n, void **results, int *codes,
                int flags);

/* When weft_wait() returns. */
enum {
    WEFT_ALL_COMPLETED = 0,   /* every task has ended */
    WEFT_FIRST_COMPLETED = 1, /* any task has ended */
    WEFT_FIRST_EXCEPTION = 2  /* any task failed or was cancelled, or all ended */
};

/*
 * Waits until `return_when` holds or `timeout` nanoseconds pass
 * (WEFT_FOREVER for no limit), then splits tasks[0..n) into done[] and
 * pending[] (each of room n, either may be NULL) keeping their order, with
 * the counts in *ndone and *npending. A timeout is no error and cancels
 * nothing. Returns 0; -EINVAL (bad arguments, negative timeout);
 * -ECANCELED / -ETIMEDOUT for the waiter; -EPERM outside a task; -EXDEV (a
 * task of another loop). May suspend.
 */
int weft_wait(weft_task *const *tasks, size_t n, int64_t timeout, int return_when,
              weft_task **done, size_t *ndone, weft_task **pending, size_t *npending);

/*
 * Waits for `t` at most `timeout` nanoseconds. In time, returns its outcome
 * as weft_task_result() does. Otherwise cancels it, waits until it has
 * ended, and returns -ETIMEDOUT. A timeout of 0 does not wait at all
 * (asyncio's wait_for(t, 0)): the outcome of a task that has ended, else it
 * is cancelled at once - one that has not started never runs - and waited
 * for. If the waiter is cancelled, `t` is cancelled too and -ECANCELED
 * returned. -EINVAL (NULL, negative timeout); -EPERM outside a task;
 * -EXDEV (a task of another loop). May suspend.
 */
int weft_wait_for(weft_task *t, int64_t timeout, void **result);

/*
 * Iterates tasks in the order they end (as_completed). Caller storage;
 * contents private.
 */
typedef struct weft_as_completed {
    _Alignas(8) unsigned char opaque_[48];
} weft_as_completed;

/*
 * Starts an iteration over tasks[0..n), which it reorders as it goes (ended
 * tasks move to the front) and which must stay valid until the iteration
 * ends. `timeout` bounds the whole iteration (WEFT_FOREVER for none).
 * Returns 0 or -EINVAL. Never suspends.
 */
int weft_as_completed_init(weft_as_completed *ac, weft_task **tasks, size_t n,
                           int64_t timeout);

/*
 * Waits for the next task to end and sets *t to it. Returns 0; 1 when every
 * task has been returned; -ETIMEDOUT when the iteration's timeout passed
 * (the rest keep running); -ECANCELED for the waiter; -EINVAL; -EPERM
 * outside a task; -EXDEV (a task of another loop). May suspend.
 */
int weft_as_completed_next(weft_as_completed *ac, weft_task **t);

/* ------------------------------------------------------------------------ */
/* Timeout scopes                                                           */
/* ------------------------------------------------------------------------ */

/*
 * A region of the running task with a deadline and a cancel switch
 * (asyncio.timeout / timeout_at, trio's CancelScope). Caller storage, on the
 * task's stack as a rule: enter and exit it in the same task, innermost
 * first. Contents private.
 */
typedef struct weft_scope {
    _Alignas(8) unsigned char opaque_[80];
} weft_scope;

/*
 * Enters a scope whose deadline is the loop time `deadline` (WEFT_FOREVER
 * for none: a scope that only cancels by hand). From the deadline on, every
 * suspending call inside returns -ETIMEDOUT (and wakes at once if waiting).
 * Returns 0; -EINVAL (NULL); -EPERM outside a task. Never suspends.
 */
int weft_scope_enter(weft_scope *s, int64_t deadline);

/* weft_scope_enter() with the deadline `timeout` ns from now. */
int weft_scope_enter_timeout(weft_scope *s, int64_t timeout);

/*
 * Shields the scope (on nonzero) or unshields it: inside a shielded scope,
 * the cancellation of the task and the deadlines and cancellations of the
 * scopes around it have no effect; its own deadline still does.
 * Returns 0 or -EINVAL. Never suspends.
 */
int weft_scope_shield(weft_scope *s, int on);

/*
 * Cancels the scope by hand: every suspending call inside returns
 * -ECANCELED from now on. Callable from any task or callback of the loop.
 * Returns 0; -EINVAL (NULL); -EALREADY (exited, or cancelled before).
 * Never suspends.
 */
int weft_scope_cancel(weft_scope *s);

/*
 * Leaves the scope. Returns -ETIMEDOUT if its deadline passed while the
 * task was inside, -ECANCELED if it was cancelled by hand, else 0;
 * -EINVAL if `s` is not the innermost scope of the running task.
 * Never suspends.
 */
int weft_scope_exit(weft_scope *s);

/* ------------------------------------------------------------------------ */
/* Task groups                                                              */
/* ------------------------------------------------------------------------ */

/*
 * Structured concurrency (asyncio.TaskGroup, trio's nursery): the group
 * waits for all its tasks; the first failure cancels the others and the
 * body of the group; the first error reaches the caller; no task outlives
 * the group. Caller storage; contents private.
 */
typedef struct weft_group {
    _Alignas(8) unsigned char opaque_[128];
} weft_group;

/*
 * Opens a group in the running task; its body is the code until
 * weft_group_exit(), which must follow in the same task. The group holds a
 * scope: when one of its tasks fails, suspending calls of the body return
 * -ECANCELED. Returns 0; -EINVAL; -EPERM outside a task. Never suspends.
 */
int weft_group_enter(weft_group *g);

/*
 * Spawns a task into the group (weft_spawn() arguments). `out`, if not NULL,
 * receives a reference of the caller's own, to give up with
 * weft_task_release() (the task's result stays readable after the group
 * has closed); the group holds another until weft_group_exit() returns.
 * Returns 0; -EINVAL; -ENOMEM; -ECANCELED (the group is already failing:
 * nothing spawned); -EXDEV (the group was entered by a task of another
 * loop). Never suspends.
 */
int weft_group_spawn(weft_group *g, weft_task **out, weft_task_fn fn, void *arg,
                     const weft_task_opts *opts);

/*
 * Waits for every task of the group, then closes it. Returns 0 when all
 * succeeded; otherwise the first failure's error (the tasks still running
 * then were cancelled and waited for). If the waiting task is cancelled,
 * the group's tasks are cancelled and waited for, and -ECANCELED returned.
 * Returns -EINVAL when `g` is not the innermost scope of the running task.
 * May suspend.
 */
int weft_group_exit(weft_group *g);

#ifdef __cplusplus
}
#endif

#endif /* WEFT_TASK_H */
