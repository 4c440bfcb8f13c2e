/*
 * select.c - weft_select(): the first of several channel operations that
 * can go, or a wait on all of them at once.
 *
 * Each case waits as a node on its channel's queue (chan_internal.h), all
 * pointing at one `struct sel`; the peer that completes a case first marks
 * the select done, so the other nodes are skipped until their owner
 * removes them. select picks uniformly among its ready cases (Go's rule),
 * from a per-thread xorshift generator: one loop runs per thread, so it is
 * a per-loop generator that needs no field in the loop and no syscall.
 */
#include <errno.h>
#include <stdint.h>

#include "chan_internal.h"

/* Performs case `c` if it needs no wait: 0 or -EPIPE (done), -EAGAIN. */
static int try_case(weft_select_case *c)
{
    if (!c->ch)
        return -EAGAIN;
    return c->op == WEFT_SELECT_SEND ? weft__chan_try_send(c->ch, c->elem)
                                     : weft__chan_try_recv(c->ch, c->elem);
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
