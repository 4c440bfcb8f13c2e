/*
 * future.c - futures resolved by hand (asyncio.Future).
 *
 * The record lives in the caller's weft_future. All zero is a pending
 * future with no waiters: the waiter list is set up on the first wait.
 * Waiter nodes live on the waiting tasks' stacks.
 *
 * A future belongs to the loop that first awaits or resolves it (as the
 * sync objects do, owner.c); a task of another loop gets -EXDEV. The
 * record has no room for a whole serial, so it keeps the low 32 bits:
 * only a loop 2^32 loop starts later could pass for the owner.
 */
#include <errno.h>
#include <stdint.h>

#include "loop.h"

struct weft__future {
    struct weft__list waiters;  /* tasks in weft_future_await() */
    void *value;                /* the result, once resolved */
    int16_t code;               /* 0 or the error it was resolved with */
    uint16_t done;              /* resolved */
    uint32_t loop;              /* low bits of its loop's serial, 0: none yet */
};

WEFT__OPAQUE_FITS(struct weft__future, weft_future);

/* 0 if this thread's loop may use `f` (taking it over when it is new or
   its loop has ended), else -EXDEV; see owner.c. */
static int owned(struct weft__future *f)
{
    uint32_t mine = (uint32_t)weft__serial;
    uint64_t was = __atomic_load_n(&f->loop, __ATOMIC_RELAXED);
    if (WEFT_LIKELY(was == mine))
        return 0;
    int rc = weft__owned_slow(&was);    /* by the serial it names */
    if (rc == 0 && mine)        /* a plain thread takes nothing over */
        __atomic_store_n(&f->loop, mine, __ATOMIC_RELAXED);
    return rc;
}

static int resolve(weft_future *pub, void *value, int code)
{
    if (!pub)
        return -EINVAL;
    struct weft__future *f = WEFT__OPAQUE(struct weft__future, pub);
    if (owned(f))
        return -EXDEV;
    if (f->done)
        return -EALREADY;
    f->done = 1;
    f->value = value;
    f->code = (int16_t)code;
    if (f->waiters.next)
        weft__wake_all(&f->waiters);
    return 0;
}

int weft_future_set_result(weft_future *f, void *value)
{
    return resolve(f, value, 0);
}

int weft_future_set_error(weft_future *f, int err)
{
    if (err >= 0 || err < INT16_MIN)
        return -EINVAL;
    return resolve(f, NULL, err);
}

int weft_future_await(weft_future *pub, void **value)
{
    struct weft_task *self = weft__self();
    if (!pub)
        return -EINVAL;
    if (!self)
        return -EPERM;
    struct weft__future *f = WEFT__OPAQUE(struct weft__future, pub);
    if (owned(f))
        return -EXDEV;
    if (!f->done) {
        struct weft__waiter w = {.task = self};
        if (!f->waiters.next)
            weft__list_init(&f->waiters);
        weft__list_push_back(&f->waiters, &w.link);
        weft__waiting(self, WEFT_WAIT_FUTURE, f, 0);
        int rc = weft__park(self, WEFT_FOREVER);
        weft__list_remove(&w.link);
        if (!f->done)
            return rc < 0 ? rc : -EINTR;
    }
    if (value)
        *value = f->value;
    return f->code;
}

int weft_future_done(const weft_future *pub)
{
    return pub && ((const struct weft__future *)(const void *)pub->opaque_)->done;
}
