/*
 * xwait.c - parking on and waking from objects shared between loops; the
 * rules are in xwait.h.
 */
#include "xwait.h"

void weft__xwake(struct weft__xnode *n)
{
    struct weft_task *t = n->task;
    if (n->loop != weft__loop) {
        /* The task's loop cannot have ended: the task is still waiting. */
        weft__remote_xwake(n->remote, t, n->key);
        return;
    }
    if (t->xwait == n->key)
        weft__wake(t, 0);       /* a no-op unless it is parked */
}

void weft__xhold(struct weft__xnode *n)
{
    weft__remote_ref(n->remote);
}

void weft__xunhold(struct weft__xnode *n)
{
    weft_loop_put(n->remote);   /* never the last: the loop holds its own */
}

int weft__xpark(int *l, struct weft__xnode *n)
{
    struct weft_task *self = n->task;
    int rc = 0;
    weft__xhold(n);
    while (n->result == WEFT__XPENDING && rc == 0) {
        self->xwait = n->key;
        weft__xunlock(l);
        rc = weft__park(self, WEFT_FOREVER);
        self->xwait = NULL;     /* wakes still on their way count no more */
        weft__xlock(l);
    }
    weft__xunhold(n);
    weft__list_remove(&n->link);
    return n->result != WEFT__XPENDING ? 0 : rc;
}
