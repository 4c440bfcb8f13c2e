/*
 * combine.c - waiting on several tasks: gather, wait, wait_for,
 * as_completed.
 *
 * A waiter puts one node on each task it watches. A node's notify counts
 * the ends and wakes the waiter only when its condition may hold (gather:
 * all ended or one failed; wait: as return_when says), so watching n tasks
 * costs O(n) in all, not O(n) per end. Up to SMALL nodes live on the
 * waiter's stack; more are allocated for the duration of the call.
 */
#include <errno.h>
#include <stdlib.h>

#include "loop.h"

enum { SMALL = 8 };

/* What a multi-task wait is waiting for. */
struct watch {
    struct weft_task *self;     /* the waiting task */
    size_t left;                /* watched tasks not ended yet */
    int first_error;            /* first failure seen, in time order */
    int mode;                   /* WEFT_ALL_COMPLETED ... FIRST_EXCEPTION */
};

/* A node on one watched task. */
struct watch_node {
    struct weft__waiter w;      /* in the task's waiters */
    struct weft_task *task;     /* the watched task */
    struct watch *watch;        /* the wait it belongs to */
};

static void watch_notify(struct weft__waiter *w)
{
    struct watch_node *n = weft__container_of(w, struct watch_node, w);
    struct watch *wt = n->watch;
    int failed = n->task->code != 0;
    wt->left--;
    if (failed && !wt->first_error)
        wt->first_error = n->task->code;
    if (!wt->left || wt->mode == WEFT_FIRST_COMPLETED ||
        (failed && wt->mode == WEFT_FIRST_EXCEPTION))
        weft__wake(wt->self, 0);
}

/* True when the wait is over without parking again. */
static int watch_done(const struct watch *wt, size_t n)
{
    return !wt->left || (wt->mode == WEFT_FIRST_COMPLETED && wt->left < n) ||
           (wt->mode == WEFT_FIRST_EXCEPTION && wt->first_error);
}

/*
 * Parks until the watch is over or the loop time `wake_at`; returns 0 or
 * the waiter's own -ECANCELED / -ETIMEDOUT / -ENOMEM.
 */
static int watch_wait(struct watch *wt, weft_task *const *tasks, size_t n, int64_t wake_at)
{
    struct watch_node small[SMALL], *nodes = small;
    int rc = 0;
    wt->left = 0;
    wt->first_error = 0;
    for (size_t i = 0; i < n; i++) {
        if (tasks[i]->state != WEFT__TASK_ENDED)
            wt->left++;
        else if (tasks[i]->code && !wt->first_error)
            wt->first_error = tasks[i]->code;
    }
    if (watch_done(wt, n))
        return 0;
    if (n > SMALL && !(nodes = malloc(n * sizeof *nodes)))
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        nodes[i] = (struct watch_node){.w = {.task = wt->self, .notify = watch_notify},
                                       .task = tasks[i], .watch = wt};
        weft__list_init(&nodes[i].w.link);
        if (tasks[i]->state != WEFT__TASK_ENDED)
            weft__list_push_back(&tasks[i]->waiters, &nodes[i].w.link);
    }
    weft__waiting(wt->self, WEFT_WAIT_TASKS, tasks, (int)n);
    while (!watch_done(wt, n) && rc == 0) {
        rc = weft__park(wt->self, wake_at);
        if (rc == 0 && wake_at != WEFT_FOREVER && weft__now(wt->self->loop) >= wake_at)
            break;              /* the timeout of weft_wait */
    }
    for (size_t i = 0; i < n; i++)
        weft__list_remove(&nodes[i].w.link);
    if (nodes != small)
        free(nodes);
    return rc;
}

/* Checks a task array; returns the running task or NULL with *rc set. */
static struct weft_task *check_tasks(weft_task *const *tasks, size_t n, int *rc)
{
    struct weft_task *self = weft__self();
    *rc = 0;
    if (n && !tasks)
        *rc = -EINVAL;
    for (size_t i = 0; i < n && !*rc; i++)
        if (!tasks[i])
            *rc = -EINVAL;
    if (!*rc && !self)
        *rc = -EPERM;
    for (size_t i = 0; i < n && !*rc; i++)
        if (tasks[i]->loop != self->loop)
            *rc = -EXDEV;       /* a handle of another loop's */
    return *rc ? NULL : self;
}

static void cancel_pending(weft_task *const *tasks, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (tasks[i]->state != WEFT__TASK_ENDED)
            weft_task_cancel(tasks[i]);
}

int weft_gather(weft_task *const *tasks, size_t n, void **results, int *codes, int flags)
{
    int rc;
    struct weft_task *self = check_tasks(tasks, n, &rc);
    if (!self)
        return rc;
    if (flags & ~WEFT_GATHER_COLLECT)
        return -EINVAL;
    int collect = flags & WEFT_GATHER_COLLECT;
    struct watch wt = {.self = self,
                       .mode = collect ? WEFT_ALL_COMPLETED : WEFT_FIRST_EXCEPTION};
    rc = watch_wait(&wt, tasks, n, WEFT_FOREVER);
    if (rc < 0) {
        if (rc != -ENOMEM)
            cancel_pending(tasks, n);   /* gather cancelled: so are its tasks */
        return rc;
    }
    for (size_t i = 0; i < n; i++) {
        int code = weft_task_result(tasks[i], results ? &results[i] : NULL);
        if (codes)
            codes[i] = code;
    }
    return collect ? 0 : wt.first_error;
}

int weft_wait(weft_task *const *tasks, size_t n, int64_t timeout, int return_when,
              weft_task **done, size_t *ndone, weft_task **pending, size_t *npending)
{
    int rc;
    if (timeout < 0 || return_when < WEFT_ALL_COMPLETED || return_when > WEFT_FIRST_EXCEPTION)
        return -EINVAL;
    struct weft_task *self = check_tasks(tasks, n, &rc);
    if (!self)
        return rc;
    int64_t wake_at = weft__after(weft__now(self->loop), timeout);
    struct watch wt = {.self = self, .mode = return_when};
    rc = watch_wait(&wt, tasks, n, wake_at);
    if (rc < 0)
        return rc;
    size_t d = 0, p = 0;
    for (size_t i = 0; i < n; i++) {
        if (tasks[i]->state == WEFT__TASK_ENDED) {
            if (done)
                done[d] = tasks[i];
            d++;
        } else {
            if (pending)
                pending[p] = tasks[i];
            p++;
        }
    }
    if (ndone)
        *ndone = d;
    if (npending)
        *npending = p;
    return 0;
}

/* Waits for `t` to end whatever happens to the waiter: a shielded scope. */
static void wait_out(struct weft_task *self, struct weft_task *t)
{
    weft_scope shield;
    weft_scope_enter(&shield, WEFT_FOREVER);
    weft_scope_shield(&shield, 1);
    struct watch wt = {.self = self, .mode = WEFT_ALL_COMPLETED};
    while (t->state != WEFT__TASK_ENDED && watch_wait(&wt, &t, 1, WEFT_FOREVER) == 0)
        ;
    weft_scope_exit(&shield);
}

int weft_wait_for(weft_task *t, int64_t timeout, void **result)
{
    int rc;
    if (timeout < 0)
        return -EINVAL;
    struct weft_task *self = check_tasks(&t, 1, &rc);
    if (!self)
        return rc;
    if (t == self)
        return -EDEADLK;
    if (t->state == WEFT__TASK_ENDED)
        return weft_task_result(t, result);
    if (timeout == 0) {         /* asyncio: no wait at all, so a task that */
        weft_task_cancel(t);    /* has not started never runs */
        wait_out(self, t);
        rc = weft__scope_status(self, weft__now(self->loop), NULL);
        return rc ? rc : -ETIMEDOUT;
    }
    int64_t wake_at = weft__after(weft__now(self->loop), timeout);
    struct watch wt = {.self = self, .mode = WEFT_ALL_COMPLETED};
    rc = watch_wait(&wt, &t, 1, wake_at);
    if (t->state == WEFT__TASK_ENDED)
        return weft_task_result(t, result);
    if (rc == -ENOMEM)
        return rc;
    weft_task_cancel(t);        /* timed out, or the waiter was cancelled */
    wait_out(self, t);
    return rc < 0 ? rc : -ETIMEDOUT;
}

/* The record behind a weft_as_completed. */
struct weft__as_completed {
    weft_task **tasks;          /* the caller's array, reordered */
    size_t n;                   /* its length */
    size_t given;               /* tasks[0..given) have been returned */
    int64_t deadline;           /* loop time the iteration ends */
};

WEFT__OPAQUE_FITS(struct weft__as_completed, weft_as_completed);

int weft_as_completed_init(weft_as_completed *pub, weft_task **tasks, size_t n,
                           int64_t timeout)
{
    if (!pub || (n && !tasks) || timeout < 0)
        return -EINVAL;
    for (size_t i = 0; i < n; i++)
        if (!tasks[i])
            return -EINVAL;
    struct weft__as_completed *ac = WEFT__OPAQUE(struct weft__as_completed, pub);
    *ac = (struct weft__as_completed){.tasks = tasks, .n = n,
                                      .deadline = weft__after(weft_now(), timeout)};
    return 0;
}

int weft_as_completed_next(weft_as_completed *pub, weft_task **t)
{
    if (!pub || !t)
        return -EINVAL;
    struct weft__as_completed *ac = WEFT__OPAQUE(struct weft__as_completed, pub);
    struct weft_task *self = weft__self();
    if (!self)
        return -EPERM;
    for (size_t i = ac->given; i < ac->n; i++)
        if (ac->tasks[i]->loop != self->loop)
            return -EXDEV;
    if (ac->given == ac->n)
        return 1;
    weft_task **rest = ac->tasks + ac->given;
    size_t left = ac->n - ac->given;
    for (;;) {
        size_t first = left;    /* the ended task that ended first */
        for (size_t i = 0; i < left; i++)
            if (rest[i]->state == WEFT__TASK_ENDED &&
                (first == left || rest[i]->end_seq < rest[first]->end_seq))
                first = i;
        if (first < left) {
            weft_task *done = rest[first];
            rest[first] = rest[0];
            rest[0] = done;
            ac->given++;
            *t = done;
            return 0;
        }
        if (weft__now(self->loop) >= ac->deadline)
            return -ETIMEDOUT;
        struct watch wt = {.self = self, .mode = WEFT_FIRST_COMPLETED};
        int rc = watch_wait(&wt, rest, left, ac->deadline);
        if (rc < 0)
            return rc;
    }
}
