/*
 * weft/coro.h - stackful coroutines: create, resume, yield, transfer, close.
 *
 * A coroutine runs a function on its own stack. It is driven by hand:
 * weft_coro_resume() runs it until it yields or returns, passing one value in
 * and getting one value out, as Python's generator.send() does; a running
 * coroutine may resume another (nesting, as "yield from" does) or hand its
 * place straight to another with weft_coro_transfer() (greenlet's switch()).
 *
 * A coroutine belongs to the thread that created it: it is resumed, closed
 * and destroyed on that thread only.
 *
 * Floating-point control state (x86-64: the MXCSR and x87 control words -
 * rounding, flush-to-zero, precision; AArch64: FPCR) depends on how weft was
 * built. With WEFT_FP_CONTROL=coroutine (the default) each coroutine has its
 * own, as the psABI treats those bits as callee-saved: a new coroutine
 * starts with its creator's state at creation, and fesetround() in one
 * coroutine never changes another's. With WEFT_FP_CONTROL=thread the state
 * is the thread's, shared by all its coroutines, and a switch is cheaper: a
 * coroutine that changes the rounding mode (or FTZ/DAZ, precision, FPCR)
 * must restore it before it yields, transfers or returns, or every other
 * coroutine of the thread runs with its change.
 */
#ifndef WEFT_CORO_H
#define WEFT_CORO_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/* Types                                                                    */
/* ------------------------------------------------------------------------ */

typedef struct weft_coro weft_coro;

/*
 * The body of a coroutine. `arg` is the argument given to weft_coro_create();
 * `in` is the value passed to the first weft_coro_resume() (or transfer). The
 * value it returns is handed to whoever resumed it last, as the final result.
 */
typedef void *(*weft_coro_fn)(void *arg, void *in);

/* What weft_coro_status() reports. */
typedef enum weft_coro_state {
    WEFT_CORO_SUSPENDED = 0, /* created or yielded: may be resumed */
    WEFT_CORO_RUNNING = 1,   /* the coroutine executing now on this thread */
    WEFT_CORO_NORMAL = 2,    /* active, but it resumed another one */
    WEFT_CORO_DEAD = 3       /* returned or closed: may only be destroyed */
} weft_coro_state;

/* What weft_coro_resume() and weft_coro_transfer() report on success. */
enum {
    WEFT_CORO_YIELDED = 0,  /* the coroutine yielded; *out is the value */
    WEFT_CORO_RETURNED = 1  /* the coroutine returned; *out is its result */
};

/* Default stack size: 64 KiB, room for printf and modest recursion. */
#define WEFT_STACK_DEFAULT ((size_t)64 * 1024)
/* Smallest stack accepted by weft_coro_create(). */
#define WEFT_STACK_MIN ((size_t)16 * 1024)
/* Largest stack accepted by weft_coro_create(): 1 GiB. */
#define WEFT_STACK_MAX ((size_t)1 << 30)

/*
 * Options for weft_coro_create(). Zero-initialise and set what you need:
 * `weft_coro_opts o = {.name = "consumer"};`.
 */
typedef struct weft_coro_opts {
    size_t stack_size; /* bytes, 0 for WEFT_STACK_DEFAULT; rounded up to a
                          page; includes the coroutine's own record (about
                          200 bytes at the top of the stack) */
    const char *name;  /* shown in overflow reports and by weft_coro_name();
                          copied (up to 31 bytes), may be NULL */
} weft_coro_opts;

/* ------------------------------------------------------------------------ */
/* Lifecycle                                                                */
/* ------------------------------------------------------------------------ */

/*
 * Creates a suspended coroutine that will run fn(arg, in) on its own stack.
 * `opts` may be NULL for the defaults. Nothing runs until the first
 * weft_coro_resume().
 *
 * Stacks come from a per-thread pool, so creating after destroying costs no
 * system call. Each stack has a guard below it where the kernel allows (64
 * KiB where MADV_GUARD_INSTALL works, else one page; see README "Stacks");
 * an overflow into it ends the process with one line on stderr naming the
 * coroutine.
 *
 * Returns 0 and sets *out, or -EINVAL (NULL out or fn, stack size outside
 * [WEFT_STACK_MIN, WEFT_STACK_MAX]) or -ENOMEM (no memory for the stack).
 * The caller owns the coroutine and frees it with weft_coro_destroy().
 * Never suspends.
 */
int weft_coro_create(weft_coro **out, weft_coro_fn fn, void *arg,
                     const weft_coro_opts *opts);

/*
 * Frees a coroutine that is suspended or dead. A suspended coroutine that
 * has started is closed first (see weft_coro_close()), so its cleanup runs.
 * Its stack returns to the pool.
 *
 * Returns 0, or -EINVAL (NULL) or -EBUSY (the coroutine is running or
 * normal; nothing is freed). After 0, `co` is gone. Never suspends the
 * caller, but runs the coroutine's cleanup when it closes it.
 */
int weft_coro_destroy(weft_coro *co);

/* ------------------------------------------------------------------------ */
/* Switching                                                                */
/* ------------------------------------------------------------------------ */

/*
 * Runs `co` until it yields, transfers back, or returns. `in` becomes the
 * value of the coroutine's pending weft_coro_yield() (or the `in` argument of
 * its function on the first resume). If `out` is not NULL, it receives the
 * value yielded, or the function's result.
 *
 * Returns WEFT_CORO_YIELDED (0) or WEFT_CORO_RETURNED (1); or -EINVAL (NULL,
 * or `co` is dead) or -EBUSY (`co` is running or normal: it is this
 * coroutine or one of the coroutines that resumed it).
 *
 * When `co` hands control on with weft_coro_transfer(), the coroutine that
 * finally yields or returns is the last of that chain, which may not be
 * `co`: the code and *out describe that one. weft_coro_status(co) tells
 * what became of `co` itself.
 * Suspends the caller until `co` (or the chain it transferred to) yields
 * or returns.
 */
int weft_coro_resume(weft_coro *co, void *in, void **out);

/*
 * Suspends the running coroutine and returns control to the one that resumed
 * it, handing it `value` as the *out of its weft_coro_resume(). When the
 * coroutine is resumed again, *in (if not NULL) receives the resumer's value.
 *
 * Returns 0 when resumed; -ECANCELED when the coroutine is being closed (it
 * should release what it holds and return; every later yield or transfer
 * returns -ECANCELED at once, without suspending); -EPERM outside a
 * coroutine, or in a task's own coroutine (tasks use weft_yield()). A
 * coroutine that a task resumed may use the suspending calls of
 * weft/sched.h: they suspend the whole task, which continues inside that
 * coroutine when woken (an async generator).
 * Suspends.
 */
int weft_coro_yield(void *value, void **in);

/*
 * Symmetric transfer: the running coroutine suspends and `to` runs in its
 * place, with `value` as the result of `to`'s pending yield or transfer (or
 * its function's `in` on first run). `to` inherits the running coroutine's
 * resumer: when `to` yields or returns, control goes to whoever resumed the
 * coroutine that started the chain of transfers - greenlet's switch().
 * When this coroutine runs again, *in (if not NULL) receives the value it
 * was resumed or transferred to with.
 *
 * Returns 0 when control comes back; -EPERM outside a coroutine or in a
 * task's own coroutine; -EINVAL (NULL or `to` dead); -EBUSY (`to` is running or normal); -ECANCELED when
 * the running coroutine is being closed.
 * Suspends.
 */
int weft_coro_transfer(weft_coro *to, void *value, void **in);

/*
 * Closes a suspended coroutine, as Python's generator.close(): a coroutine
 * that has not started becomes dead without running; one that has started is
 * resumed with its pending yield (or transfer) returning -ECANCELED, so it
 * can release what it holds, and runs until it returns. Its return value is
 * discarded.
 *
 * Returns 0; or -EINVAL (NULL), -EALREADY (already dead, e.g. closed twice),
 * -EBUSY (running or normal).
 * Suspends the caller while the coroutine cleans up.
 */
int weft_coro_close(weft_coro *co);

/* ------------------------------------------------------------------------ */
/* Inspection                                                               */
/* ------------------------------------------------------------------------ */

/*
 * Returns the coroutine's status. A NULL `co` reports WEFT_CORO_DEAD.
 * Never suspends.
 */
weft_coro_state weft_coro_status(const weft_coro *co);

/*
 * Returns the coroutine running on this thread, or NULL when the thread's
 * own stack is running. Never suspends.
 */
weft_coro *weft_coro_current(void);

/*
 * Returns the coroutine's name, "" if it has none, "?" for NULL. The string
 * is owned by the coroutine and lives as long as it. Never suspends.
 */
const char *weft_coro_name(const weft_coro *co);

/*
 * Sets the coroutine's name (copied, truncated to 31 bytes; NULL clears it).
 * Returns 0 or -EINVAL (NULL co). Never suspends.
 */
int weft_coro_set_name(weft_coro *co, const char *name);

/* Returns the usable stack size of `co` in bytes, 0 for NULL. Never suspends. */
size_t weft_coro_stack_size(const weft_coro *co);

/*
 * User data: one pointer the library stores and never touches. The caller
 * owns what it points to. set returns 0 or -EINVAL (NULL co); get returns
 * NULL for a NULL co. Never suspends.
 */
int weft_coro_set_userdata(weft_coro *co, void *data);
void *weft_coro_userdata(const weft_coro *co);

/* ------------------------------------------------------------------------ */
/* Stack memory                                                             */
/* ------------------------------------------------------------------------ */

/*
 * Gives the memory of pooled free stacks back to the kernel now: the calling
 * thread's cached stacks and every free stack of the process-wide pool
 * (other threads' caches, up to 64 stacks per size each, stay). Their
 * address space stays reserved, with guards, for later coroutines, which
 * then start on fresh zero pages. Without this call the pool keeps up to 256
 * free stacks per size resident and releases the rest in batches as they
 * are freed.
 *
 * Returns the number of stacks released (0 when none was pooled).
 * Thread-safe. Never suspends.
 */
int weft_stack_trim(void);

#ifdef __cplusplus
}
#endif

#endif /* WEFT_CORO_H */
