/*
 * group.c - task groups: structured concurrency (asyncio.TaskGroup, trio's
 * nursery).
 *
 * A group is a scope of the task that opened it (its body) plus the tasks
 * spawned into it. Each member carries a node (task->group_node) on its own
 * waiter list that tells the group when it ends. The first member to fail
 * records its error, cancels the other members and cancels the group's
 * scope, so the body's suspending calls return -ECANCELED; weft_group_exit()
 * then waits for every member and returns that error.
 *
 * Invariants: `members` lists every task spawned into the group that the
 * group has not released; `running` counts those not ended. The group holds
 * one reference on each member until weft_group_exit() returns.
 */
#include <errno.h>

#include "loop.h"

struct weft__group {
    struct weft__scope scope;   /* the body's scope; cancelled on failure */
    struct weft__list members;  /* tasks via group_link */
    size_t running;             /* members not ended */
    int first_error;            /* error of the first member that failed */
    struct weft_task *owner;    /* the task that opened the group */
    int owner_waiting;          /* the owner is parked in weft_group_exit */
};

WEFT__OPAQUE_FITS(struct weft__group, weft_group);

static void cancel_members(struct weft__group *g)
{
    for (struct weft__list *n = g->members.next; n != &g->members; n = n->next) {
        struct weft_task *t = weft__container_of(n, struct weft_task, group_link);
        if (t->state != WEFT__TASK_ENDED)
            weft_task_cancel(t);
    }
}

/* A member ended (runs on the loop's stack). */
static void member_ended(struct weft__waiter *w)
{
    struct weft_task *t = weft__container_of(w, struct weft_task, group_node);
    struct weft__group *g = t->group;
    g->running--;
    t->retrieved = 1;           /* the group answers for its members' errors */
    if (t->code && t->code != -ECANCELED && !g->first_error) {
        g->first_error = t->code;
        cancel_members(g);
        if (g->scope.active && !g->scope.cancelled) {
            g->scope.cancelled = 1;
            weft__recheck(g->owner);
        }
    }
    if (g->owner_waiting && (!g->running || g->first_error))
        weft__wake(g->owner, 0);
}

int weft_group_enter(weft_group *pub)
{
    struct weft_task *self = weft__self();
    if (!pub)
        return -EINVAL;
    if (!self)
        return -EPERM;
    struct weft__group *g = WEFT__OPAQUE(struct weft__group, pub);
    *g = (struct weft__group){.owner = self};
    weft__list_init(&g->members);
    return weft_scope_enter((weft_scope *)(void *)&g->scope, WEFT_FOREVER);
}

int weft_group_spawn(weft_group *pub, weft_task **out, weft_task_fn fn, void *arg,
                     const weft_task_opts *opts)
{
    if (!pub || !fn)
        return -EINVAL;
    struct weft__group *g = WEFT__OPAQUE(struct weft__group, pub);
    if (!g->owner)
        return -EINVAL;         /* never entered, or closed */
    if (g->owner->loop != weft__loop)
        return -EXDEV;          /* a group of another loop's task */
    if (g->first_error)
        return -ECANCELED;
    struct weft_task *t;
    int rc = weft__spawn(g->owner->loop, &t, fn, arg, opts);
    if (rc < 0)
        return rc;
    t->group = g;
    t->group_node = (struct weft__waiter){.task = g->owner, .notify = member_ended};
    weft__list_push_back(&t->waiters, &t->group_node.link);
    weft__list_push_back(&g->members, &t->group_link);
    g->running++;
    if (out) {
        t->refs++;              /* the caller's own, beside the group's */
        *out = t;
    }
    return 0;
}

int weft_group_exit(weft_group *pub)
{
    struct weft_task *self = weft__self();
    if (!pub || !self)
        return -EINVAL;
    struct weft__group *g = WEFT__OPAQUE(struct weft__group, pub);
    if (self != g->owner || self->scope != &g->scope)
        return -EINVAL;
    self->scope = g->scope.outer;   /* the body is over */
    g->scope.active = 0;

    int interrupted = 0;
    weft_scope shield;
    while (g->running) {
        g->owner_waiting = 1;
        weft__waiting(self, WEFT_WAIT_GROUP, g, 0);
        int rc = weft__park(self, WEFT_FOREVER);
        g->owner_waiting = 0;
        if (rc < 0 && !interrupted) {
            /* The owner is cancelled: so is the group, which still waits
               for its members, now shielded from that cancellation. */
            interrupted = rc;
            cancel_members(g);
            weft_scope_enter(&shield, WEFT_FOREVER);
            weft_scope_shield(&shield, 1);
        }
    }
    if (interrupted)
        weft_scope_exit(&shield);

    struct weft__list *n;
    while ((n = weft__list_pop_front(&g->members))) {
        struct weft_task *t = weft__container_of(n, struct weft_task, group_link);
        t->group = NULL;
        weft_task_release(t);
    }
    g->owner = NULL;
    return g->first_error ? g->first_error : interrupted;
}
