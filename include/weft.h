/*
 * weft.h - stackful coroutines for C on Linux (x86-64 and AArch64).
 *
 * Include this header for everything; include/weft/<layer>.h for one layer.
 *
 * Lifetimes
 * ---------
 * - A weft_coro is created by weft_coro_create() and freed by exactly one
 *   call to weft_coro_destroy(); the caller owns it in between. Its name is
 *   copied; its argument and user data are the caller's and weft never
 *   frees them.
 * - A coroutine lives on the thread that created it. Resuming, closing or
 *   destroying it from another thread is undefined.
 * - Values passed through resume, yield and transfer are pointers handed
 *   over as they are: weft copies the pointer, never what it points to. A
 *   pointer to a coroutine's local variable stays valid while that
 *   coroutine is suspended and until it returns.
 * - Stacks are pooled per thread and reused. The pool keeps up to 256 free
 *   stacks per size resident (plus 64 per thread) and gives the memory of
 *   the others back to the kernel as they are freed; weft_stack_trim()
 *   gives back all of it. Address space stays reserved until exit.
 * - A loop lives for one weft_run() call on its thread. Tasks belong to it:
 *   a task spawned with a handle stays readable until weft_task_release()
 *   or until weft_run() returns, whichever comes first; a detached task
 *   (no handle) is freed when it ends. A task's stack returns to the pool
 *   as soon as its function returns.
 * - Futures, handles, scopes, groups and as_completed iterators live in the
 *   caller's storage, zero-initialised; weft keeps pointers into them only
 *   while they are in use (a future being awaited, a handle scheduled, a
 *   scope or group entered and not yet exited), so they must not move or
 *   die before then. Wait nodes live on the waiting task's stack.
 * - weft never frees what a caller passes as an argument or a result.
 *
 * Errors
 * ------
 * Fallible functions return 0 (or a count) or a negative errno value; see
 * weft/error.h.
 */
#ifndef WEFT_H
#define WEFT_H

#include "weft/version.h"
#include "weft/error.h"
#include "weft/coro.h"
#include "weft/sched.h"
#include "weft/task.h"
#include "weft/sync.h"
#include "weft/chan.h"
#include "weft/io.h"
#include "weft/process.h"
#include "weft/signal.h"
#include "weft/debug.h"
#include "weft/loops.h"

#endif /* WEFT_H */
