/*
 * backtrace.c - the call stack of a task, from the frame its switch saved
 * (arch/context.h), two ways.
 *
 * The unwinder (x86-64, not under ASan or TSan): the suspended context is
 * entered, for a moment, at a function of ours that calls glibc's
 * backtrace() (libgcc's DWARF unwinder) and switches straight back. To
 * make it look called from where the task stopped, a copy of the saved
 * frame is written 8 bytes lower with the return address replaced by that
 * function: the saved registers are restored as they are and the stack
 * pointer ends where the original return address sits, as after a call.
 * The bytes it overwrote are put back afterwards, so the task resumes as if
 * nothing happened; nothing of it runs and its state never changes. It
 * needs no frame pointers, stops at weft__entry (its CFI ends the stack),
 * and runs only for snapshots.
 *
 * The frame-pointer walk (elsewhere, and as the fallback): the saved
 * return address is the first entry, then each frame record {previous
 * frame pointer, return address} that the saved frame pointer leads to.
 *
 * Invariants: the walk reads only the task's own stack slot, so it cannot
 * fault whatever garbage a frame-pointer register holds in code built
 * without frame pointers; it follows a record only if it lies inside the
 * slot, is aligned and is above the last one (stacks grow down), so it
 * ends. The start of every coroutine (weft__entry) has a zero frame
 * pointer, so a full chain ends there. See weft/debug.h for what the walk
 * finds with and without -fno-omit-frame-pointer.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "coro_internal.h"
#include "debug_internal.h"

/* Appends the return addresses of the frame records from `fp` up, within
   [lo, hi), to frames[n..max); returns the new count. */
__attribute__((no_sanitize_address))
static int walk(uintptr_t fp, uintptr_t lo, uintptr_t hi, void **frames, int n, int max)
{
    while (n < max && fp >= lo && fp <= hi - 2 * sizeof(uintptr_t) &&
           fp % sizeof(uintptr_t) == 0) {
        const uintptr_t *rec = (const uintptr_t *)fp;
        if (!rec[1])
            break;
        frames[n++] = (void *)rec[1];
        if (rec[0] <= fp)
            break;
        fp = rec[0];
    }
    return n;
}

/* The walk from the frame a suspended coroutine saved at co->sp. */
__attribute__((no_sanitize_address))
static int saved_walk(const struct weft_coro *co, void **frames, int max)
{
    const unsigned char *f = co->sp;
    uintptr_t pc = *(const uintptr_t *)(f + WEFT__CTX_PC);
#if defined(__x86_64__)
    uintptr_t fp = *(const uintptr_t *)(f + WEFT__CTX_RBP);
#else
    uintptr_t fp = *(const uintptr_t *)(f + WEFT__CTX_X29);
#endif
    int n = 0;
    if (max > 0 && pc)
        frames[n++] = (void *)pc;
    return walk(fp, (uintptr_t)co->stack.lo, (uintptr_t)co->stack.hi, frames, n, max);
}

#if defined(__x86_64__) && !defined(WEFT_ASAN) && !defined(WEFT_TSAN)
#include <execinfo.h>

#define UNWIND 1
_Static_assert(WEFT__CTX_PC == WEFT__CTX_SIZE - 8, "the return address tops the frame");

/* The unwind under way on this thread. */
static __thread struct {
    void **frames;              /* where the return addresses go */
    int max, n;                 /* room and count in frames */
    void *back_sp;              /* the requester, switched back to */
} req;
static __thread int warmed;     /* backtrace() loaded libgcc here already */

/* Entered on the suspended task's stack as if called where it stopped. */
__attribute__((noreturn, noinline)) static void unwind_here(void)
{
    void *buf[WEFT_BACKTRACE_MAX + 1];
    int n = backtrace(buf, req.max < WEFT_BACKTRACE_MAX ? req.max + 1 : WEFT_BACKTRACE_MAX + 1);
    for (int i = 1; i < n; i++)     /* buf[0] is this function */
        req.frames[req.n++] = buf[i];
    void *unused;
    weft__switch(&unused, req.back_sp, 0);
    __builtin_unreachable();
}

static int unwind_saved(const struct weft_coro *co, void **frames, int max)
{
    unsigned char *sp0 = co->sp, *sp1 = sp0 - 8;
    unsigned char saved[WEFT__CTX_SIZE];
    uintptr_t entry = (uintptr_t)unwind_here;
    if (!warmed) {              /* its first call dlopen()s libgcc_s: not on */
        void *one[1];           /* a task's small stack */
        backtrace(one, 1);
        warmed = 1;
    }
    memcpy(saved, sp1, sizeof saved);
    memmove(sp1, sp0, WEFT__CTX_PC);     /* the registers, 8 bytes lower */
    memcpy(sp1 + WEFT__CTX_PC, &entry, sizeof entry);
    req.frames = frames;
    req.max = max;
    req.n = 0;
    weft__switch(&req.back_sp, sp1, 0);
    memcpy(sp1, saved, sizeof saved);
    return req.n;
}
#endif

__attribute__((noinline)) int weft_task_backtrace(const weft_task *t, void **frames, int max)
{
    if (!t || !frames || max < 0)
        return -EINVAL;
    if (t->loop != weft__loop)
        return -EPERM;
    if (t->state == WEFT__TASK_ENDED || !t->top)
        return -ESRCH;
    if (t != weft__loop->current) {     /* suspended (the running task may be
                                           queued already, as it leaves) */
#ifdef UNWIND
        if (t->started && max > 0)
            return unwind_saved(t->top, frames, max);
#endif
        return saved_walk(t->top, frames, max);
    }
#ifdef UNWIND
    void *buf[WEFT_BACKTRACE_MAX + 1];
    int n = backtrace(buf, max + 1 < WEFT_BACKTRACE_MAX + 1 ? max + 1 : WEFT_BACKTRACE_MAX + 1);
    for (int i = 1; i < n; i++)         /* buf[0] is this function */
        frames[i - 1] = buf[i];
    return n > 0 ? n - 1 : 0;
#endif
    /* The running task: from this function's own frame record (this file
       keeps frame pointers), whose return address is in the caller. */
    const struct weft_coro *co = weft__tls.current;
    return walk((uintptr_t)__builtin_frame_address(0), (uintptr_t)co->stack.lo,
                (uintptr_t)co->stack.hi, frames, 0, max);
}
