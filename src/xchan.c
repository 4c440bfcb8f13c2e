/*
 * xchan.c - channels between loops: weft_xchan, with the semantics of
 * weft_chan (chan.c) for tasks of any loop, and weft_xchan_select().
 *
 * Invariants:
 * - Everything below is guarded by the channel's spin lock, and the wait
 *   nodes of other tasks are touched only under it (xwait.h).
 * - Values wait in the ring buf[(head + i) % cap], i < len. Receivers wait
 *   only while the ring is empty, senders only while it is full (always,
 *   unbuffered). A waker hands the value over directly: it copies into or
 *   out of the waiter's `elem`, which stays valid while the node is queued.
 * - A select's nodes sit on several channels, each under its own lock, so
 *   a waker claims the select with a compare-and-swap on sel->won before
 *   it completes a case; a node whose select another case won stays
 *   queued, skipped, until its task takes it off. A select locks all its
 *   channels (in address order) while it tries and registers its cases,
 *   and again while it takes its nodes off.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "weft/loops.h"
#include "xwait.h"

struct weft_xchan {
    int lock;                   /* the spin lock (xwait.h) */
    int closed;                 /* weft_xchan_close() was called */
    size_t elem_size;           /* bytes per value */
    size_t cap;                 /* ring slots; 0 for unbuffered */
    size_t len;                 /* values in the ring */
    size_t head;                /* slot of the oldest value */
    struct weft__list senders;  /* struct xnode waiting to send */
    struct weft__list receivers; /* struct xnode waiting to receive */
    unsigned char buf[];        /* cap * elem_size bytes */
};

/* A select in progress. */
struct xsel {
    int won;                    /* -1, then the index of the case that won */
};

/* A task waiting to send or receive. */
struct xnode {
    struct weft__xnode x;       /* queue link, task, result */
    void *elem;                 /* the value to send, or where to receive */
    struct xsel *sel;           /* the select it is a case of, or NULL */
    int index;                  /* its case index in that select */
};

_Static_assert(sizeof(struct xnode) <= sizeof(((weft_xselect_case *)0)->node_),
               "an xselect case holds an xnode");

int weft_xchan_create(weft_xchan **out, size_t elem_size, size_t capacity)
{
    if (!out || elem_size == 0 || elem_size > 65536 ||
        (capacity && capacity > (SIZE_MAX - sizeof(weft_xchan)) / elem_size))
        return -EINVAL;
    weft_xchan *ch = malloc(sizeof *ch + capacity * elem_size);
    if (!ch)
        return -ENOMEM;
    *ch = (weft_xchan){.elem_size = elem_size, .cap = capacity};
    weft__list_init(&ch->senders);
    weft__list_init(&ch->receivers);
    *out = ch;
    return 0;
}

int weft_xchan_destroy(weft_xchan *ch)
{
    if (!ch)
        return -EINVAL;
    weft__xlock(&ch->lock);
    int busy = !weft__list_empty(&ch->senders) || !weft__list_empty(&ch->receivers);
    weft__xunlock(&ch->lock);
    if (busy)
        return -EBUSY;
    free(ch);
    return 0;
}

/* Takes the first node of `q` that may still complete (a plain wait, or a
   select this claims for it), or NULL. Claimed-away nodes stay queued. */
static struct xnode *take(struct weft__list *q)
{
    for (struct weft__list *n = q->next; n != q; n = n->next) {
        struct xnode *c = weft__container_of(n, struct xnode, x.link);
        int idle = -1;
        if (c->sel && !__atomic_compare_exchange_n(&c->sel->won, &idle, c->index, 0,
                                                   __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
            continue;
        weft__list_remove(n);
        return c;
    }
    return NULL;
}

static void complete(struct xnode *c, int result)
{
    c->x.result = result;
    weft__xwake(&c->x);
}

static void *slot(weft_xchan *ch, size_t i)
{
    return ch->buf + (ch->head + i) % ch->cap * ch->elem_size;
}

/* Under the lock: sends if that needs no wait (0, -EPIPE) or -EAGAIN. */
static int try_send(weft_xchan *ch, const void *elem)
{
    if (ch->closed)
        return -EPIPE;
    struct xnode *r = take(&ch->receivers);
    if (r) {                    /* the ring is empty: hand it over */
        memcpy(r->elem, elem, ch->elem_size);
        complete(r, 0);
        return 0;
    }
    if (ch->len == ch->cap)
        return -EAGAIN;
    memcpy(slot(ch, ch->len++), elem, ch->elem_size);
    return 0;
}

/* Under the lock: receives if a value is there (0), -EPIPE or -EAGAIN. */
static int try_recv(weft_xchan *ch, void *elem)
{
    struct xnode *s;
    if (ch->len) {
        memcpy(elem, slot(ch, 0), ch->elem_size);
        if (++ch->head == ch->cap)
            ch->head = 0;
        ch->len--;
        if ((s = take(&ch->senders))) {   /* room now: its value moves in */
            memcpy(slot(ch, ch->len++), s->elem, ch->elem_size);
            complete(s, 0);
        }
        return 0;
    }
    if ((s = take(&ch->senders))) {       /* unbuffered: straight across */
        memcpy(elem, s->elem, ch->elem_size);
        complete(s, 0);
        return 0;
    }
    return ch->closed ? -EPIPE : -EAGAIN;
}

int weft_xchan_try_send(weft_xchan *ch, const void *elem)
{
    if (!ch || !elem)
        return -EINVAL;
    weft__xlock(&ch->lock);
    int rc = try_send(ch, elem);
    weft__xunlock(&ch->lock);
    return rc;
}

int weft_xchan_try_recv(weft_xchan *ch, void *elem)
{
    if (!ch || !elem)
        return -EINVAL;
    weft__xlock(&ch->lock);
    int rc = try_recv(ch, elem);
    weft__xunlock(&ch->lock);
    return rc;
}

/* send (op WEFT_SELECT_SEND) or recv: try, else wait in a node. */
static int op_wait(weft_xchan *ch, int op, void *elem)
{
    if (!ch || !elem)
        return -EINVAL;
    weft__xlock(&ch->lock);
    int rc = op == WEFT_SELECT_SEND ? try_send(ch, elem) : try_recv(ch, elem);
    if (rc == -EAGAIN) {
        struct weft_task *self = weft__self();
        struct xnode node = {.elem = elem};
        if (!self)
            rc = -EPERM;
        else if ((rc = weft__xnode_init(&node.x, self)) == 0) {
            weft__list_push_back(op == WEFT_SELECT_SEND ? &ch->senders : &ch->receivers,
                                 &node.x.link);
            rc = weft__xpark(&ch->lock, &node.x);
            if (rc == 0)
                rc = node.x.result;
        }
    }
    weft__xunlock(&ch->lock);
    return rc;
}

int weft_xchan_send(weft_xchan *ch, const void *elem)
{
    return op_wait(ch, WEFT_SELECT_SEND, (void *)elem);
}

int weft_xchan_recv(weft_xchan *ch, void *elem)
{
    return op_wait(ch, WEFT_SELECT_RECV, elem);
}

int weft_xchan_close(weft_xchan *ch)
{
    if (!ch)
        return -EINVAL;
    weft__xlock(&ch->lock);
    int rc = ch->closed ? -EALREADY : 0;
    ch->closed = 1;
    struct xnode *c;
    while ((c = take(&ch->senders)))
        complete(c, -EPIPE);
    while ((c = take(&ch->receivers)))
        complete(c, -EPIPE);
    weft__xunlock(&ch->lock);
    return rc;
}

size_t weft_xchan_len(weft_xchan *ch)
{
    if (!ch)
        return 0;
    weft__xlock(&ch->lock);
    size_t n = ch->len;
    weft__xunlock(&ch->lock);
    return n;
}

size_t weft_xchan_cap(const weft_xchan *ch)
{
    return ch ? ch->cap : 0;
}

/* ------------------------------------------------------------------------ */
/* Select                                                                   */
/* ------------------------------------------------------------------------ */

/* The distinct channels of `cases`, in address order, into `order`. */
static size_t lock_order(const weft_xselect_case *cases, size_t n, weft_xchan **order)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        weft_xchan *ch = cases[i].ch;
        size_t j = k;
        if (!ch)
            continue;
        while (j > 0 && order[j - 1] > ch)
            j--;
        if (j > 0 && order[j - 1] == ch)
            continue;           /* twice in the select: locked once */
        memmove(order + j + 1, order + j, (k - j) * sizeof *order);
        order[j] = ch;
        k++;
    }
    return k;
}

static void lock_all(weft_xchan **order, size_t k)
{
    for (size_t i = 0; i < k; i++)
        weft__xlock(&order[i]->lock);
}

static void unlock_all(weft_xchan **order, size_t k)
{
    for (size_t i = k; i-- > 0;)
        weft__xunlock(&order[i]->lock);
}

int weft_xchan_select(weft_xselect_case *cases, size_t n, int flags)
{
    weft_xchan *order[WEFT_XSELECT_MAX];
    if ((n && !cases) || n > WEFT_XSELECT_MAX || (flags & ~WEFT_SELECT_NOWAIT))
        return -EINVAL;
    for (size_t i = 0; i < n; i++)
        if ((cases[i].op != WEFT_SELECT_SEND && cases[i].op != WEFT_SELECT_RECV) ||
            (cases[i].ch && !cases[i].elem))
            return -EINVAL;
    size_t k = lock_order(cases, n, order);
    lock_all(order, k);
    for (size_t i = 0; i < n; i++) {
        if (!cases[i].ch)
            continue;
        int rc = cases[i].op == WEFT_SELECT_SEND ? try_send(cases[i].ch, cases[i].elem)
                                                 : try_recv(cases[i].ch, cases[i].elem);
        if (rc != -EAGAIN) {
            unlock_all(order, k);
            cases[i].result = rc;
            return (int)i;
        }
    }
    struct weft_task *self = weft__self();
    int rc = flags & WEFT_SELECT_NOWAIT ? -EAGAIN : !self ? -EPERM : 0;
    struct xnode probe;
    if (rc == 0)
        rc = weft__xnode_init(&probe.x, self);
    struct xsel sel = {.won = -1};
    probe.x.key = &sel;         /* a wake of any case wakes the select */
    if (rc < 0) {
        unlock_all(order, k);
        return rc;
    }

    for (size_t i = 0; i < n; i++) {
        struct xnode *c = (struct xnode *)(void *)cases[i].node_;
        *c = (struct xnode){.x = probe.x, .elem = cases[i].elem, .sel = &sel,
                            .index = (int)i};
        weft__list_init(&c->x.link);
        if (cases[i].ch)
            weft__list_push_back(cases[i].op == WEFT_SELECT_SEND ? &cases[i].ch->senders
                                                                 : &cases[i].ch->receivers,
                                 &c->x.link);
    }
    /* Park until a case is won: the node of the winner is the one woken. */
    rc = 0;
    weft__xhold(&probe.x);
    while (__atomic_load_n(&sel.won, __ATOMIC_ACQUIRE) < 0 && rc == 0) {
        self->xwait = &sel;     /* the key of every node (probe.x.key) */
        unlock_all(order, k);
        rc = weft__park(self, WEFT_FOREVER);
        self->xwait = NULL;
        lock_all(order, k);
    }
    for (size_t i = 0; i < n; i++)
        weft__list_remove(&((struct xnode *)(void *)cases[i].node_)->x.link);
    int won = __atomic_load_n(&sel.won, __ATOMIC_ACQUIRE);
    unlock_all(order, k);
    weft__xunhold(&probe.x);
    if (won >= 0) {
        cases[won].result = ((struct xnode *)(void *)cases[won].node_)->x.result;
        return won;
    }
    return rc < 0 ? rc : -EINTR;
}
