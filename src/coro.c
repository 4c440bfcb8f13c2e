/*
 * coro.c - coroutines: create, resume, yield, transfer, close, destroy.
 *
 * Invariants:
 * - Exactly one context per thread is running: weft__tls.current (or the
 *   thread's own stack while current is NULL, before the first switch).
 * - An ACTIVE coroutine other than the running one is "normal": it is on the
 *   chain of resumers of the running one, linked through `resumer`.
 * - A SUSPENDED coroutine has a valid `sp`; the value it will be resumed
 *   with is written through `in_slot` before the switch, unless in_slot is
 *   NULL (its yield passed no `in`). Likewise a yielded or returned value
 *   goes through the resumer's `out`, unless that was NULL.
 * - weft__tls.current is set on a thread before its first coroutine
 *   exists, so resuming one (on its own thread) needs no check for it.
 *
 * The fast path. resume, yield and transfer do all their bookkeeping before
 * the switch - the resumed side's value goes straight into its in_slot, the
 * yielded value straight into the resumer's out_slot - and end with a tail
 * call to weft__switch(), whose return value is the only thing the resumed
 * side needs. So nothing runs after a switch, and the caller's return
 * address is the one the switch saves. (Under AddressSanitizer each switch
 * is bracketed by the fiber annotations instead, and is no tail call.)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "arch/context.h"
#include "coro_internal.h"
#ifdef WEFT_HAVE_VALGRIND_H
#include <valgrind/valgrind.h>
#endif

__thread struct weft__tls weft__tls __attribute__((tls_model("initial-exec")));

/* The record sits at the top of its slot, 64-byte aligned. */
#define RECORD_BYTES ((sizeof(struct weft_coro) + 63) & ~(size_t)63)

/* Makes the thread's own stack a context: the running one. */
static struct weft_coro *thread_start(void)
{
    weft__tls.current = &weft__tls.main;
    weft__tls.main.blocked = 1;     /* it cannot yield: nobody resumed it */
#ifdef WEFT_TSAN
    weft__tls.main.tsan_fiber = __tsan_get_current_fiber();
#endif
    return &weft__tls.main;
}

static inline struct weft_coro *self_context(void)
{
    struct weft_coro *self = weft__tls.current;
    return WEFT_LIKELY(self != NULL) ? self : thread_start();
}

static void set_name(struct weft_coro *co, const char *name)
{
    size_t n = name ? strnlen(name, WEFT__NAME_MAX - 1) : 0;
    memcpy(co->name, name ? name : "", n);
    co->name[n] = '\0';
}

int weft_coro_create(weft_coro **out, weft_coro_fn fn, void *arg,
                     const weft_coro_opts *opts)
{
    size_t size = opts && opts->stack_size ? opts->stack_size : WEFT_STACK_DEFAULT;
    struct weft__stack st;
    if (!out || !fn || size < WEFT_STACK_MIN || size > WEFT_STACK_MAX)
        return -EINVAL;
    if (WEFT_UNLIKELY(--weft__tls.until_recheck < 0)) {
        weft__tls.until_recheck = WEFT__SEGV_RECHECK - 1;
        if (!weft__tls.ready) {
            weft__overflow_thread_init();
            self_context();         /* resume relies on current being set */
            weft__tls.ready = 1;
        } else {
            weft__overflow_recheck();
        }
    }
    if (size != WEFT_STACK_DEFAULT) {   /* the default is a page multiple */
        size_t page = weft__page_size();
        size = (size + page - 1) & ~(page - 1);
    }
    if (weft__stack_get(size, &st) < 0)
        return -ENOMEM;

    struct weft_coro *co = (struct weft_coro *)(st.hi - RECORD_BYTES);
    /* Field by field: clearing the whole record (name included) compiles
       to a rep stos that costs a quarter of a create. */
    co->resumer = NULL;
    co->out_slot = NULL;
    co->in_slot = &co->sink;
    co->state = WEFT__SUSPENDED;
    co->closing = co->blocked = co->pinned = co->started = 0;
    co->sink = NULL;
    co->fn = fn;
    co->arg = arg;
    co->userdata = NULL;
    co->valgrind_id = 0;
    co->stack = st;
#ifdef WEFT_ASAN
    co->asan_fake = NULL;
#endif
#ifdef WEFT_TSAN
    co->tsan_fiber = __tsan_create_fiber(0);
#endif
    co->name[0] = '\0';
    if (opts && opts->name)
        set_name(co, opts->name);
    co->sp = weft__frame_init(co, co);
#ifdef WEFT_ASAN
    co->asan_bottom = st.lo;
    co->asan_size = (size_t)((char *)co - st.lo);
#endif
#ifdef WEFT_HAVE_VALGRIND_H
    co->valgrind_id = VALGRIND_STACK_REGISTER(st.lo, (char *)co);
#endif
    *out = co;
    return 0;
}

/* Aborts with a message when an unguarded stack ran past its end. */
static void check_canary(const struct weft_coro *co)
{
    if (co->stack.guard == WEFT__GUARD_CANARY && !weft__stack_canary_ok(&co->stack))
        weft__overflow_abort(co);
}

__attribute__((noreturn)) void weft__coro_main(struct weft_coro *co)
{
#ifdef WEFT_ASAN
    const void *bottom;
    size_t size;
    __sanitizer_finish_switch_fiber(NULL, &bottom, &size);
    if (!weft__tls.from->asan_size) {
        weft__tls.from->asan_bottom = bottom;
        weft__tls.from->asan_size = size;
    }
#endif
    co->started = 1;
    void *result = co->fn(co->arg, co->sink);

    struct weft_coro *r = co->resumer;
    if (co->out_slot)
        *co->out_slot = result;
    co->state = WEFT__DEAD;
    check_canary(co);
    weft__tls.from = co;
    weft__tls.current = r;
#ifdef WEFT_ASAN
    __sanitizer_start_switch_fiber(NULL, r->asan_bottom, r->asan_size);
#endif
#ifdef WEFT_TSAN
    __tsan_switch_to_fiber(r->tsan_fiber, 0);
#endif
    weft__switch(&co->sp, r->sp, WEFT_CORO_RETURNED);
    abort(); /* a dead coroutine is never switched to */
}

/* Error for switching to `co`, which is not SUSPENDED. */
static int not_resumable(const struct weft_coro *co)
{
    return co->state == WEFT__DEAD ? -EINVAL : -EBUSY;
}

/* resume with the code the coroutine's pending switch returns. */
static inline int resume_with(struct weft_coro *self, struct weft_coro *co, void *in,
                              void **out, int code)
{
    co->resumer = self;
    if (co->in_slot)
        *co->in_slot = in;
    co->out_slot = out;         /* apart from resumer: gcc would pair the
                                   two stores through an SSE register */
    co->state = WEFT__ACTIVE;
    return weft__switch_to(self, co, code);
}

/* The cases weft_coro_resume() keeps off its fast path (the whole of it
   for the assembly version, which jumps here for them). */
int weft__coro_resume_slow(weft_coro *co, void *in, void **out)
{
    if (!co)
        return -EINVAL;
    if (co->state != WEFT__SUSPENDED)
        return not_resumable(co);
    return resume_with(self_context(), co, in, out, 0);  /* first on this thread */
}

/* Why a blocked (or absent) context may not yield or transfer. */
__attribute__((noinline)) static int blocked_error(const struct weft_coro *self)
{
    return !self || !self->resumer || self->pinned ? -EPERM : -ECANCELED;
}

static inline int yield_c(void *value, void **in)
{
    struct weft_coro *self = weft__tls.current;
    if (WEFT_UNLIKELY(!self || self->blocked))
        return blocked_error(self);
    struct weft_coro *r = self->resumer;
    if (self->out_slot)
        *self->out_slot = value;
    self->in_slot = in;
    self->state = WEFT__SUSPENDED;
    return weft__switch_to(self, r, WEFT_CORO_YIELDED);
}

int weft__coro_yield_slow(void *value, void **in)
{
    return yield_c(value, in);
}

#ifndef WEFT__ASM_CORO  /* else in arch/x86_64_sysv.S */
int weft_coro_resume(weft_coro *co, void *in, void **out)
{
    if (WEFT_UNLIKELY(!co || co->state != WEFT__SUSPENDED))
        return weft__coro_resume_slow(co, in, out);
    return resume_with(weft__tls.current, co, in, out, 0);  /* set by create */
}

int weft_coro_yield(void *value, void **in)
{
    return yield_c(value, in);
}
#endif

int weft_coro_transfer(weft_coro *to, void *value, void **in)
{
    struct weft_coro *self = weft__tls.current;
    if (WEFT_UNLIKELY(!self || self->blocked))
        return blocked_error(self);
    if (WEFT_UNLIKELY(!to))
        return -EINVAL;
    if (WEFT_UNLIKELY(to->state != WEFT__SUSPENDED))
        return not_resumable(to);
    to->resumer = self->resumer;
    to->out_slot = self->out_slot;
    if (to->in_slot)
        *to->in_slot = value;
    to->state = WEFT__ACTIVE;
    self->in_slot = in;
    self->state = WEFT__SUSPENDED;
    return weft__switch_to(self, to, 0);
}

void weft__coro_adopt(struct weft_coro *co, struct weft_coro *resumer, void **out_slot)
{
    co->resumer = resumer;
    co->out_slot = out_slot;
    co->state = WEFT__ACTIVE;
    co->pinned = co->blocked = 1;
}

struct weft_coro *weft__coro_self(void)
{
    return self_context();
}

int weft_coro_close(weft_coro *co)
{
    if (!co)
        return -EINVAL;
    if (co->state == WEFT__DEAD)
        return -EALREADY;
    if (co->state == WEFT__ACTIVE)
        return -EBUSY;
    if (co->started) {
        co->closing = co->blocked = 1;
        /* Its yields fail from now on, so this returns when it has ended. */
        resume_with(self_context(), co, NULL, NULL, -ECANCELED);
    }
    co->state = WEFT__DEAD;
    return 0;
}

int weft_coro_destroy(weft_coro *co)
{
    if (!co)
        return -EINVAL;
    if (co->state == WEFT__ACTIVE)
        return -EBUSY;
    if (co->state == WEFT__SUSPENDED)
        weft_coro_close(co);
    check_canary(co);
#ifdef WEFT_HAVE_VALGRIND_H
    VALGRIND_STACK_DEREGISTER(co->valgrind_id);
#endif
#ifdef WEFT_TSAN
    __tsan_destroy_fiber(co->tsan_fiber);
#endif
    struct weft__stack st = co->stack;
    weft__stack_put(&st);
    return 0;
}

weft_coro_state weft_coro_status(const weft_coro *co)
{
    if (!co || co->state == WEFT__DEAD)
        return WEFT_CORO_DEAD;
    if (co->state == WEFT__SUSPENDED)
        return WEFT_CORO_SUSPENDED;
    return co == weft__tls.current ? WEFT_CORO_RUNNING : WEFT_CORO_NORMAL;
}

weft_coro *weft_coro_current(void)
{
    struct weft_coro *cur = weft__tls.current;
    return cur == &weft__tls.main ? NULL : cur;   /* NULL before any, too */
}

const char *weft_coro_name(const weft_coro *co)
{
    return co ? co->name : "?";
}

int weft_coro_set_name(weft_coro *co, const char *name)
{
    if (!co)
        return -EINVAL;
    set_name(co, name);
    return 0;
}

size_t weft_coro_stack_size(const weft_coro *co)
{
    return co ? (size_t)((const char *)co - co->stack.lo) : 0;
}

int weft_coro_set_userdata(weft_coro *co, void *data)
{
    if (!co)
        return -EINVAL;
    co->userdata = data;
    return 0;
}

void *weft_coro_userdata(const weft_coro *co)
{
    return co ? co->userdata : NULL;
}
