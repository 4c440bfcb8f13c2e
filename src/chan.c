/*
 * chan.c - channels (buffered and unbuffered) and select.
 *
 * Invariants:
 * - Values wait in the ring buf[(head + i) % cap], i < len. Receivers wait
 *   only while the ring is empty, senders only while it is full (always,
 *   unbuffered), so a live sender and a live receiver never wait on one
 *   channel at once.
 * - A waiting sender or receiver is a node on its task's stack (in a
 *   weft_select_case for select). The peer that completes it copies the
 *   value, sets `result` and wakes the task; a node whose task no longer
 *   waits (woken by a cancellation, or its select already completed) is
 *   skipped and removed by its owner.
 * - select picks uniformly among its ready cases (Go's rule), from a
 *   per-thread xorshift generator: one loop runs per thread, so it is a
 *   per-loop generator that needs no field in the loop and no syscall.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "weft/chan.h"
#include "loop.h"

#define PENDING 1               /* node->result while nobody completed it */

struct weft_chan {
    size_t elem_size;           /* bytes per value */
    size_t cap;                 /* ring slots; 0 for unbuffered */
    size_t len;                 /* values in the ring */
    size_t head;                /* slot of the oldest value */
    int closed;                 /* weft_chan_close() was called */
    uint64_t loop;              /* serial of the loop that uses it (owner.c) */
    struct weft__list senders;  /* struct chan_node waiting to send */
    struct weft__list receivers; /* struct chan_node waiting to receive */
    unsigned char buf[];        /* cap * elem_size bytes */
};

/* A select in progress: the first of its cases to complete wins. */
struct sel {
    int done;                   /* a case has completed */
    size_t index;               /* which one */
};

/* A task waiting to send or receive. */
struct chan_node {
    struct weft__waiter w;      /* in senders or receivers; w.task */
    void *elem;                 /* the value to send, or where to receive */
    int result;                 /* PENDING, then 0 or -EPIPE */
    struct sel *sel;            /* the select it is a case of, or NULL */
    size_t index;               /* its case index in that select */
};

_Static_assert(sizeof(struct chan_node) <= sizeof(((weft_select_case *)0)->node_),
               "a select case holds a chan_node");

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

/* Performs case `c` if it needs no wait: 0 or -EPIPE (done), -EAGAIN. */
static int try_case(weft_select_case *c)
{
    if (!c->ch)
        return -EAGAIN;
    return c->op == WEFT_SELECT_SEND ? try_send(c->ch, c->elem) : try_recv(c->ch, c->elem);
}

/* True when `q` holds a node take() would return. */
static int has_live(struct weft__list *q)
{
    for (struct weft__list *n = q->next; n != q; n = n->next) {
        struct chan_node *c = weft__container_of(n, struct chan_node, w.link);
        if (c->w.task->state == WEFT__TASK_PARKED && !(c->sel && c->sel->done))
            return 1;
    }
    return 0;
}

/* True when try_case(c) would not return -EAGAIN; changes nothing. */
static int case_ready(const weft_select_case *c)
{
    weft_chan *ch = c->ch;
    if (!ch)
        return 0;
    if (c->op == WEFT_SELECT_SEND)
        return ch->closed || ch->len < ch->cap || has_live(&ch->receivers);
    return ch->len || ch->closed || has_live(&ch->senders);
}

/* A number in [0, k), k > 0, from this thread's xorshift64* generator. */
static uint32_t select_random(uint32_t k)
{
    static _Thread_local uint64_t state;   /* 0 until this thread's first use */
    uint64_t x = state;
    if (__builtin_expect(x == 0, 0))       /* seed: the variable's address differs per thread */
        x = ((uint64_t)(uintptr_t)&state * 0x9e3779b97f4a7c15u) | 1;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    state = x;
    return (uint32_t)((x * 0x2545f4914f6cdd1du) >> 32) % k;
}

/* Performs one ready case, or returns -EAGAIN when none is: the first in
   array order with WEFT_SELECT_ORDERED, else one chosen uniformly among the
   ready ones (reservoir sampling: the k-th ready case replaces the choice
   with probability 1/k). Returns the case's index. */
static int select_ready(weft_select_case *cases, size_t n, int flags)
{
    if (flags & WEFT_SELECT_ORDERED) {
        for (size_t i = 0; i < n; i++) {
            int rc = try_case(&cases[i]);
            if (rc != -EAGAIN) {
                cases[i].result = rc;
                return (int)i;
            }
        }
        return -EAGAIN;
    }
    size_t pick = n;
    uint32_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (case_ready(&cases[i]) && (++k == 1 || select_random(k) == 0))
            pick = i;
    if (pick == n)
        return -EAGAIN;
    cases[pick].result = try_case(&cases[pick]);
    return (int)pick;
}

int weft_select(weft_select_case *cases, size_t n, int flags)
{
    if ((n && !cases) || (flags & ~(WEFT_SELECT_NOWAIT | WEFT_SELECT_ORDERED)))
        return -EINVAL;
    for (size_t i = 0; i < n; i++)
        if ((cases[i].op != WEFT_SELECT_SEND && cases[i].op != WEFT_SELECT_RECV) ||
            (cases[i].ch && !cases[i].elem))
            return -EINVAL;
    for (size_t i = 0; i < n; i++)
        if (cases[i].ch && weft__owned(&cases[i].ch->loop))
            return -EXDEV;
    int ready = select_ready(cases, n, flags);
    if (ready != -EAGAIN)
        return ready;
    if (flags & WEFT_SELECT_NOWAIT)
        return -EAGAIN;
    struct weft_task *self = weft__self();
    if (!self)
        return -EPERM;

    struct sel sel = {0};
    for (size_t i = 0; i < n; i++) {
        struct chan_node *c = (struct chan_node *)(void *)cases[i].node_;
        *c = (struct chan_node){.w = {.task = self}, .elem = cases[i].elem,
                                .result = PENDING, .sel = &sel, .index = i};
        weft__list_init(&c->w.link);
        if (cases[i].ch)
            weft__list_push_back(cases[i].op == WEFT_SELECT_SEND ? &cases[i].ch->senders
                                                                 : &cases[i].ch->receivers,
                                 &c->w.link);
    }
    weft__waiting(self, WEFT_WAIT_SELECT, cases, (int)n);
    int rc = weft__park(self, WEFT_FOREVER);
    for (size_t i = 0; i < n; i++)
        weft__list_remove(&((struct chan_node *)(void *)cases[i].node_)->w.link);
    if (sel.done) {
        struct chan_node *c = (struct chan_node *)(void *)cases[sel.index].node_;
        cases[sel.index].result = c->result;
        return (int)sel.index;
    }
    return rc < 0 ? rc : -EINTR;
}
