/*
 * coro_internal.h - the coroutine record and the per-thread coroutine state,
 * shared by coro.c and overflow.c (and by the layers above, which switch
 * coroutines without going through the public checks).
 */
#ifndef WEFT_CORO_INTERNAL_H
#define WEFT_CORO_INTERNAL_H

#include <stddef.h>

#include "weft/coro.h"
#include "arch/context.h"
#include "arch/coro_record.h"
#include "stack.h"

#include "compiler.h"

#ifdef WEFT_ASAN
#include <sanitizer/common_interface_defs.h>
#endif
#ifdef WEFT_TSAN
#include <sanitizer/tsan_interface.h>
#endif

/* Internal states; weft_coro_status() derives running/normal from ACTIVE. */
enum weft__coro_state {
    WEFT__ACTIVE = 0,    /* running, or normal (it resumed another) */
    WEFT__SUSPENDED = 1, /* created or yielded: may be resumed */
    WEFT__DEAD = 2       /* returned or closed */
};

#define WEFT__NAME_MAX 32

/*
 * The coroutine record. It lives at the top of the coroutine's own stack
 * slot, so a coroutine costs one pooled slot and no other allocation. The
 * thread's own stack has one too (struct weft__tls.main), with no slot.
 */
struct weft_coro {
    /* Hot: touched by every resume, yield and transfer. */
    void *sp;                 /* saved stack pointer while not running */
    struct weft_coro *resumer; /* gets control when this yields or returns;
                                  NULL only for the thread's own stack */
    void **out_slot;          /* where this coroutine's next yielded or
                                 returned value goes (the resumer's *out);
                                 NULL: nowhere */
    void **in_slot;           /* where the value it is resumed with goes;
                                 NULL: nowhere */
    int state;                /* enum weft__coro_state */
    int closing;              /* weft_coro_close() is finishing it */
    int blocked;              /* yield and transfer go the slow way: the
                                 thread's own stack, pinned, or closing */
    int pinned;               /* a task's own coroutine: the scheduler
                                 switches it, weft_coro_yield/transfer
                                 refuse to */
    void *sink;               /* holds the first resume's value for the
                                 body (in_slot points here until then) */
    /* Cold. */
    weft_coro_fn fn;          /* the body */
    void *arg;                /* its argument */
    void *userdata;           /* the caller's, never touched */
    int started;              /* the body has begun (close must run it) */
    unsigned valgrind_id;     /* stack id when registered with valgrind */
    struct weft__stack stack; /* the slot this record sits in */
#ifdef WEFT_ASAN
    void *asan_fake;          /* ASan's fake stack while switched away */
    const void *asan_bottom;  /* stack bounds for ASan: the slot for a */
    size_t asan_size;         /* coroutine, learnt on first switch for main */
#endif
#ifdef WEFT_TSAN
    void *tsan_fiber;         /* ThreadSanitizer's record of this context */
#endif
    char name[WEFT__NAME_MAX]; /* NUL-terminated copy of the given name */
};

/* Per-thread coroutine state. */
struct weft__tls {
    struct weft_coro *current; /* running coroutine, &main on the thread's
                                  own stack; NULL until the thread first
                                  creates or resumes a coroutine */
    struct weft_coro main;     /* the thread's own stack as a context */
    struct weft_coro *from;    /* the context last switched away from: a
                                  fault on its stack inside weft__switch()
                                  happens after current has changed */
    int ready;                 /* overflow reporting set up on this thread */
    int until_recheck;         /* creates before the next SIGSEGV re-check */
};

extern __thread struct weft__tls weft__tls
    __attribute__((tls_model("initial-exec")));

/* The offsets the assembly resume and yield use (arch/coro_record.h). */
_Static_assert(offsetof(struct weft_coro, sp) == WEFT__CORO_SP, "sp");
_Static_assert(offsetof(struct weft_coro, resumer) == WEFT__CORO_RESUMER, "resumer");
_Static_assert(offsetof(struct weft_coro, out_slot) == WEFT__CORO_OUT_SLOT, "out_slot");
_Static_assert(offsetof(struct weft_coro, in_slot) == WEFT__CORO_IN_SLOT, "in_slot");
_Static_assert(offsetof(struct weft_coro, state) == WEFT__CORO_STATE, "state");
_Static_assert(offsetof(struct weft_coro, blocked) == WEFT__CORO_BLOCKED, "blocked");
_Static_assert(offsetof(struct weft__tls, current) == WEFT__TLS_CURRENT, "current");
_Static_assert(WEFT__ACTIVE == WEFT__CORO_ACTIVE_ && WEFT__SUSPENDED == WEFT__CORO_SUSPENDED_,
               "states");

/*
 * Suspends `from` (the running context) and runs `to`, which sees `code` as
 * the result of its own switch. Only here does `current` change, after
 * `from` is recorded: whatever faults on from's stack before the switch
 * (a call's push, without inlining) still finds from as current or as
 * from, so the overflow reporter names the right coroutine.
 */
static inline int weft__switch_to(struct weft_coro *from, struct weft_coro *to, int code)
{
    weft__tls.from = from;
    weft__tls.current = to;
#ifdef WEFT_TSAN
    __tsan_switch_to_fiber(to->tsan_fiber, 0);
#endif
#ifdef WEFT_ASAN
    __sanitizer_start_switch_fiber(&from->asan_fake, to->asan_bottom, to->asan_size);
    code = weft__switch(&from->sp, to->sp, code);
    const void *bottom;
    size_t size;
    __sanitizer_finish_switch_fiber(from->asan_fake, &bottom, &size);
    if (!weft__tls.from->asan_size) {   /* the thread's stack, seen at last */
        weft__tls.from->asan_bottom = bottom;
        weft__tls.from->asan_size = size;
    }
    return code;
#else
    return weft__switch(&from->sp, to->sp, code);
#endif
}

/*
 * For the scheduler, which moves between coroutines without the resume /
 * yield pairing: a task's coroutine is adopted once, as if resumed by
 * `resumer` with its results going to *out_slot, and from then on entered
 * and left with weft__coro_jump(), which changes no coroutine's state.
 * Inline, so that a caller can end in a tail call to the switch.
 */
void weft__coro_adopt(struct weft_coro *co, struct weft_coro *resumer, void **out_slot);

static inline int weft__coro_jump(struct weft_coro *from, struct weft_coro *to, int code)
{
    return weft__switch_to(from, to, code);
}

/* The running context: the running coroutine, or the thread's own stack. */
struct weft_coro *weft__coro_self(void);

/* Sets up the SIGSEGV reporter and this thread's alternate signal stack. */
void weft__overflow_thread_init(void);

/* Creates on a thread between two checks that weft's SIGSEGV action is
   still installed (see overflow.c). A check is a sigaction system call,
   1-2 us on this kind of machine: every 256 creates it cost spawn and
   create 5-8 ns each; every 4,096 it costs under 0.5 ns. */
#define WEFT__SEGV_RECHECK 4096

/* Puts weft's SIGSEGV action back if another displaced it. */
void weft__overflow_recheck(void);

/* Ends the process with one line naming `co`, for a corrupted canary. */
__attribute__((noreturn)) void weft__overflow_abort(const struct weft_coro *co);

/* The C halves of the assembly resume and yield (WEFT__ASM_CORO): every
   case but the common one, with weft_coro_resume/yield's arguments. */
int weft__coro_resume_slow(weft_coro *co, void *in, void **out)
    __attribute__((visibility("hidden")));
int weft__coro_yield_slow(void *value, void **in) __attribute__((visibility("hidden")));

/* Body of every coroutine; called by weft__entry() in src/arch. */
__attribute__((noreturn)) void weft__coro_main(struct weft_coro *co);

#endif /* WEFT_CORO_INTERNAL_H */
