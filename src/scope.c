/*
 * scope.c - timeout scopes: deadlines and cancellation over a region of a
 * task (asyncio.timeout, trio's CancelScope).
 *
 * A task's scopes form a stack through `outer`, innermost first, in records
 * on the task's own stack. What applies to a suspending call is found by
 * walking outward: a cancelled scope or a passed deadline stops the call; a
 * shielded scope ends the walk, so neither the scopes around it nor the
 * task's own cancellation reach inside.
 */
#include <errno.h>

#include "loop.h"

WEFT__OPAQUE_FITS(struct weft__scope, weft_scope);

int weft__scope_status(const struct weft_task *t, int64_t now, int64_t *deadline)
{
    int64_t d = WEFT_FOREVER;
    const struct weft__scope *s;
    if (WEFT_UNLIKELY(t->loop->doomed))
        return -ECANCELED;          /* after a deadlock nothing waits */
    for (s = t->scope; s; s = s->outer) {
        if (s->cancelled)
            return -ECANCELED;
        if (s->deadline <= now)
            return -ETIMEDOUT;
        if (s->deadline < d)
            d = s->deadline;
        if (s->shield)
            break;
    }
    if (!s && t->cancel_requested)
        return -ECANCELED;
    if (deadline)
        *deadline = d;
    return 0;
}

int weft_scope_enter(weft_scope *pub, int64_t deadline)
{
    struct weft_task *self = weft__self();
    if (!pub)
        return -EINVAL;
    if (!self)
        return -EPERM;
    struct weft__scope *s = WEFT__OPAQUE(struct weft__scope, pub);
    *s = (struct weft__scope){.outer = self->scope, .task = self,
                              .deadline = deadline, .active = 1};
    self->scope = s;
    return 0;
}

int weft_scope_enter_timeout(weft_scope *pub, int64_t timeout)
{
    struct weft_task *self = weft__self();
    if (!pub || timeout < 0)
        return -EINVAL;
    if (!self)
        return -EPERM;
    return weft_scope_enter(pub, weft__after(weft__now(self->loop), timeout));
}

int weft_scope_shield(weft_scope *pub, int on)
{
    if (!pub)
        return -EINVAL;
    struct weft__scope *s = WEFT__OPAQUE(struct weft__scope, pub);
    s->shield = !!on;
    if (!on && s->active)
        weft__recheck(s->task);     /* what was kept out may apply now */
    return 0;
}

int weft_scope_cancel(weft_scope *pub)
{
    if (!pub)
        return -EINVAL;
    struct weft__scope *s = WEFT__OPAQUE(struct weft__scope, pub);
    if (!s->active || s->cancelled)
        return -EALREADY;
    s->cancelled = 1;
    weft__recheck(s->task);
    return 0;
}

int weft_scope_exit(weft_scope *pub)
{
    struct weft_task *self = weft__self();
    if (!pub || !self)
        return -EINVAL;
    struct weft__scope *s = WEFT__OPAQUE(struct weft__scope, pub);
    if (self->scope != s)
        return -EINVAL;
    self->scope = s->outer;
    s->active = 0;
    if (s->cancelled)
        return -ECANCELED;
    return s->deadline <= weft__now(self->loop) ? -ETIMEDOUT : 0;
}
