/*
 * callback.c - plain callbacks on the loop: call_soon, call_later, call_at.
 *
 * A callback runs on the loop's own stack, never in a task, so it cannot
 * suspend. A handle is either idle, in the timer heap (TIMED) or in the
 * ready list (READY); cancelling takes it out of whichever it is in. Handles
 * weft allocates (h == NULL) are freed right before their callback runs, and
 * cannot be cancelled because nobody holds them.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "loop.h"

WEFT__OPAQUE_FITS(struct weft__handle, weft_handle);

void weft__ready(struct weft__loop *L, struct weft__handle *h)
{
    h->state = WEFT__HANDLE_READY;
    weft__list_push_back(&L->ready, &h->link);
}

static void handle_due(struct weft__alarm *a)
{
    struct weft__handle *h = weft__container_of(a, struct weft__handle, alarm);
    weft__ready(weft__loop, h);
}

/* Validates and prepares the record for a new schedule. */
static int prepare(weft_handle *pub, weft_callback_fn fn, void *arg,
                   struct weft__handle **out)
{
    struct weft__handle *h;
    if (!fn)
        return -EINVAL;
    if (!weft__loop)
        return -EPERM;
    if (pub) {
        h = WEFT__OPAQUE(struct weft__handle, pub);
        if (h->state != WEFT__HANDLE_IDLE)
            return -EINVAL;
        memset(h, 0, sizeof *h);
    } else if (!(h = calloc(1, sizeof *h))) {
        return -ENOMEM;
    } else {
        h->owned = 1;
    }
    weft__list_init(&h->link);
    h->fn = fn;
    h->arg = arg;
    h->alarm.fire = handle_due;
    *out = h;
    return 0;
}

int weft_call_soon(weft_handle *pub, weft_callback_fn fn, void *arg)
{
    struct weft__handle *h;
    int rc = prepare(pub, fn, arg, &h);
    if (rc < 0)
        return rc;
    weft__ready(weft__loop, h);
    return 0;
}

int weft_call_at(weft_handle *pub, int64_t when, weft_callback_fn fn, void *arg)
{
    struct weft__handle *h;
    int rc = prepare(pub, fn, arg, &h);
    if (rc < 0)
        return rc;
    rc = weft__alarm_set(weft__loop, &h->alarm, when);
    if (rc < 0) {
        if (h->owned)
            free(h);
        return rc;
    }
    h->state = WEFT__HANDLE_TIMED;
    return 0;
}

int weft_call_later(weft_handle *pub, int64_t delay, weft_callback_fn fn, void *arg)
{
    if (delay < 0)
        return -EINVAL;
    if (!weft__loop)
        return -EPERM;
    return weft_call_at(pub, weft__after(weft__now(weft__loop), delay), fn, arg);
}

void weft__callbacks_drop(struct weft__loop *L)
{
    struct weft__timer *t;
    while ((t = weft__timer_heap_pop(&L->timers))) {
        struct weft__alarm *a = weft__container_of(t, struct weft__alarm, timer);
        if (a->fire != handle_due)
            continue;           /* cannot happen: every task has ended */
        struct weft__handle *h = weft__container_of(a, struct weft__handle, alarm);
        h->state = WEFT__HANDLE_IDLE;
        if (h->owned)
            free(h);
    }
}

int weft_handle_cancel(weft_handle *pub)
{
    if (!pub)
        return -EINVAL;
    struct weft__handle *h = WEFT__OPAQUE(struct weft__handle, pub);
    if (!weft__loop)
        return -EALREADY;       /* its loop has ended and dropped it */
    switch (h->state) {
    case WEFT__HANDLE_TIMED:
        weft__alarm_clear(weft__loop, &h->alarm);
        break;
    case WEFT__HANDLE_READY:
        weft__list_remove(&h->link);
        break;
    default:
        return -EALREADY;
    }
    h->state = WEFT__HANDLE_IDLE;
    return 0;
}
