/*
 * chan.c - channels, buffered and unbuffered: create, send, receive,
 * close (the record and its invariants: chan_internal.h; select: select.c).
 *
 * The common cases run as leaves without a stack frame (send_fast,
 * recv_fast); everything else goes out of line, where the checks are not
 * repeated.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "chan_internal.h"

int weft_chan_create(weft_chan **out, size_t elem_size, size_t capacity)
{
    if (!out || elem_size == 0 || elem_size > 65536 ||
        (capacity && capacity > (SIZE_MAX - sizeof(weft_chan)) / elem_size))
        return -EINVAL;
    weft_chan *ch = malloc(sizeof *ch + capacity * elem_size);
    if (!ch)
        return -ENOMEM;
    *ch = (weft_chan){.elem_size = elem_size, .cap = capacity};
    weft__list_init(&ch->senders);
    weft__list_init(&ch->receivers);
    *out = ch;
    return 0;
}

int weft_chan_destroy(weft_chan *ch)
{
    if (!ch)
        return -EINVAL;
    if (weft__owned(&ch->loop))
        return -EXDEV;
    if (!weft__list_empty(&ch->senders) || !weft__list_empty(&ch->receivers))
        return -EBUSY;
    free(ch);
    return 0;
}

/* Takes the first node of `q` whose task still waits for it, or NULL. */
static struct chan_node *take(struct weft__list *q)
{
    struct weft__list *n;
    while ((n = weft__list_pop_front(q))) {
        struct chan_node *c = weft__container_of(n, struct chan_node, w.link);
        if (c->w.task->state != WEFT__TASK_PARKED || (c->sel && c->sel->done))
            continue;
        if (c->sel) {
            c->sel->done = 1;
            c->sel->index = c->index;
        }
        return c;
    }
    return NULL;
}

/* Completes a taken node with `result` and wakes its task. */
static void complete(struct chan_node *c, int result)
{
    c->result = result;
    weft__wake(c->w.task, 0);
}

/* The ring's i-th value, i < cap: head < cap, so one wrap at most (no
   division on the path of every buffered value). */
static void *slot(weft_chan *ch, size_t i)
{
    size_t j = ch->head + i;
    if (j >= ch->cap)
        j -= ch->cap;
    return ch->buf + j * ch->elem_size;
}

/* Copies one value; the common sizes become single moves, not a call. */
static inline void copy(void *dst, const void *src, size_t size)
{
    switch (size) {
    case 4: memcpy(dst, src, 4); break;
    case 8: memcpy(dst, src, 8); break;
    case 16: memcpy(dst, src, 16); break;
    default: memcpy(dst, src, size); break;
    }
}

/* weft_chan_try_send() after its argument checks; shared with send. */
static inline int try_send(weft_chan *ch, const void *elem)
{
    if (ch->closed)
        return -EPIPE;
    struct chan_node *r = take(&ch->receivers);
    if (r) {                    /* the ring is empty: hand it over */
        copy(r->elem, elem, ch->elem_size);
        complete(r, 0);
        return 0;
    }
    if (ch->len == ch->cap)
        return -EAGAIN;
    copy(slot(ch, ch->len++), elem, ch->elem_size);
    return 0;
}

/* weft_chan_try_recv() after its argument checks; shared with recv. */
static inline int try_recv(weft_chan *ch, void *elem)
{
    struct chan_node *s;
    if (ch->len) {
        copy(elem, slot(ch, 0), ch->elem_size);
        if (++ch->head == ch->cap)
            ch->head = 0;
        ch->len--;
        if ((s = take(&ch->senders))) {   /* room now: its value moves in */
            copy(slot(ch, ch->len++), s->elem, ch->elem_size);
            complete(s, 0);
        }
        return 0;
    }
    if ((s = take(&ch->senders))) {       /* unbuffered: straight across */
        copy(elem, s->elem, ch->elem_size);
        complete(s, 0);
        return 0;
    }
    return ch->closed ? -EPIPE : -EAGAIN;
}

int weft__chan_try_send(weft_chan *ch, const void *elem)
{
    return try_send(ch, elem);
}

int weft__chan_try_recv(weft_chan *ch, void *elem)
{
    return try_recv(ch, elem);
}

/* The common cases, as leaves: a buffered send with room and nobody
   waiting to receive, a receive of a buffered value with no sender
   waiting. A stale node (its task gave up) in the other queue only sends
   the call down the general path. Return 1 when done. */
static inline int send_fast(weft_chan *ch, const void *elem)
{
    if (ch->len >= ch->cap || ch->closed || !weft__list_empty(&ch->receivers))
        return 0;
    copy(slot(ch, ch->len++), elem, ch->elem_size);
    return 1;
}

static inline int recv_fast(weft_chan *ch, void *elem)
{
    if (!ch->len || !weft__list_empty(&ch->senders))
        return 0;
    const void *src = ch->buf + ch->head * ch->elem_size;
    if (++ch->head == ch->cap)
        ch->head = 0;
    ch->len--;
    copy(elem, src, ch->elem_size);     /* last: nothing to keep across it */
    return 1;
}

int weft_chan_try_send(weft_chan *ch, const void *elem)
{
    if (!ch || !elem)
        return -EINVAL;
    if (weft__owned(&ch->loop))
        return -EXDEV;
    return try_send(ch, elem);
}

int weft_chan_try_recv(weft_chan *ch, void *elem)
{
    if (!ch || !elem)
        return -EINVAL;
    if (weft__owned(&ch->loop))
        return -EXDEV;
    return try_recv(ch, elem);
}

/* Waits on `q` as a single (non-select) node; returns the send/receive
   result, or the park's code when it gave up first. */
static int wait_on(struct weft__list *q, struct weft_task *self, void *elem)
{
    struct chan_node node = {.w = {.task = self}, .elem = elem, .result = PENDING};
    weft__list_push_back(q, &node.w.link);
    int rc = weft__park(self, WEFT_FOREVER);
    weft__list_remove(&node.w.link);
    if (node.result != PENDING)
        return node.result;     /* done, even if it gave up right after */
    return rc < 0 ? rc : -EINTR;
}

/* weft_chan_send() when the value cannot go straight into the ring: hands
   it to a receiver, or fails, or waits. Out of line, as are the others
   below, so that the fast paths stay leaves. */
__attribute__((noinline)) static int send_wait(weft_chan *ch, const void *elem)
{
    int rc = try_send(ch, elem);
    if (rc != -EAGAIN)
        return rc;
    struct weft_task *self = weft__self();
    if (!self)
        return -EPERM;
    weft__waiting(self, WEFT_WAIT_CHAN_SEND, ch, 0);
    return wait_on(&ch->senders, self, (void *)elem);
}

/* weft_chan_send() with a bad argument, or a channel this loop has not
   used before (taken over, or another loop's). */
__attribute__((noinline)) static int send_checked(weft_chan *ch, const void *elem)
{
    if (!ch || !elem)
        return -EINVAL;
    if (weft__owned(&ch->loop))
        return -EXDEV;
    return send_fast(ch, elem) ? 0 : send_wait(ch, elem);
}

int weft_chan_send(weft_chan *ch, const void *elem)
{
    if (WEFT_UNLIKELY(!ch || !elem || !weft__mine_here(&ch->loop)))
        return send_checked(ch, elem);
    return send_fast(ch, elem) ? 0 : send_wait(ch, elem);
}

/* weft_chan_recv() when no buffered value can be taken straight away. */
__attribute__((noinline)) static int recv_wait(weft_chan *ch, void *elem)
{
    int rc = try_recv(ch, elem);
    if (rc != -EAGAIN)
        return rc;
    struct weft_task *self = weft__self();
    if (!self)
        return -EPERM;
    weft__waiting(self, WEFT_WAIT_CHAN_RECV, ch, 0);
    return wait_on(&ch->receivers, self, elem);
}

/* weft_chan_recv() with a bad argument or a channel new to this loop. */
__attribute__((noinline)) static int recv_checked(weft_chan *ch, void *elem)
{
    if (!ch || !elem)
        return -EINVAL;
    if (weft__owned(&ch->loop))
        return -EXDEV;
    return recv_fast(ch, elem) ? 0 : recv_wait(ch, elem);
}

int weft_chan_recv(weft_chan *ch, void *elem)
{
    if (WEFT_UNLIKELY(!ch || !elem || !weft__mine_here(&ch->loop)))
        return recv_checked(ch, elem);
    return recv_fast(ch, elem) ? 0 : recv_wait(ch, elem);
}

int weft_chan_close(weft_chan *ch)
{
    if (!ch)
        return -EINVAL;
    if (weft__owned(&ch->loop))
        return -EXDEV;
    if (ch->closed)
        return -EALREADY;
    ch->closed = 1;
    struct chan_node *c;
    while ((c = take(&ch->senders)))
        complete(c, -EPIPE);
    while ((c = take(&ch->receivers)))
        complete(c, -EPIPE);
    return 0;
}

size_t weft_chan_len(const weft_chan *ch)
{
    return ch ? ch->len : 0;
}

size_t weft_chan_cap(const weft_chan *ch)
{
    return ch ? ch->cap : 0;
}

