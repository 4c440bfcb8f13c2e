/*
 * spawn_on.c - awaiting work on another loop: weft_spawn_on() runs a task
 * on another loop of the group and gives the caller a handle on its own
 * loop that it joins, cancels and releases like a local task's.
 *
 * The handle is a proxy: a task record of the caller's loop in state
 * WEFT__TASK_REMOTE, with no coroutine, that ends when the real task's
 * outcome arrives. Everything about it (join, done callbacks, release)
 * is the local code of task.c; only cancel is forwarded (task.c calls
 * weft__xtask_cancel). The two loops share one struct xtask and talk only
 * by posts (remote.c), each of which runs on the receiving loop's thread:
 *
 *   caller loop                      target loop
 *   spawn_on: proxy, post spawn ---> run_spawn: weft__spawn(task), watch it
 *   cancel:   post cancel ---------> run_cancel: weft_task_cancel(task)
 *   run_done: proxy ends <---------- task ends: post done (code, result)
 *
 * Posts to one loop run in order, so a cancel always finds the task
 * spawned. The proxy counts among the caller loop's tasks until it ends,
 * so that loop cannot end while the work is in flight; the target loop,
 * when it stops, cancels the task like any other, and the outcome
 * (-ECANCELED) still travels back. A spawn that reaches a loop already
 * ending is dropped and comes back as -ESHUTDOWN.
 *
 * Invariants: xt->refs counts the done post still to come (1) and each
 * cancel post in flight. xt->task is touched only on the target's
 * thread, xt->proxy only on the caller's. Both loops' handles are
 * referenced until the done post has run (so the caller's loop keeps
 * polling for the outcome, and a cancel can still be posted).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "weft/loops.h"
#include "io_internal.h"

struct xtask {
    atomic_int refs;            /* see the invariants */
    struct weft_loop *from;     /* the caller's loop (referenced) */
    struct weft_loop *to;       /* the target loop (referenced until spawned
                                   work ends there) */
    struct weft_task *proxy;    /* the handle, on `from` */
    struct weft_task *task;     /* the task, on `to`; NULL before and after */
    struct weft__waiter watch;  /* in task->waiters: tells us it ended */
    struct weft__post spawn;    /* the spawn's post, to `to` */
    struct weft__post done;     /* the outcome's post, to `from` */
    weft_task_fn fn;            /* the body and its argument */
    void *arg;
    size_t stack_size;          /* from the caller's options */
    int code;                   /* the outcome, set on `to` */
    void *result;
    char name[32];              /* the task's name, "" for the default */
};

static void xtask_unref(struct xtask *xt)
{
    if (atomic_fetch_sub(&xt->refs, 1) == 1)
        free(xt);
}

/* On the caller's loop: the outcome has arrived; the proxy ends. */
static void run_done(void *arg)
{
    struct xtask *xt = arg;
    struct weft_task *p = xt->proxy;
    p->code = xt->code;
    p->result = xt->result;
    p->arg = NULL;
    weft__task_finish(weft__loop, p);
    weft_loop_put(xt->to);      /* no cancel can be posted any more */
    weft_loop_put(xt->from);
    xtask_unref(xt);
}

/* On the target loop: sends the outcome back and forgets the task. */
static void send_done(struct xtask *xt, int code, void *result)
{
    xt->code = code;
    xt->result = result;
    /* The caller's loop waits for this post before it can end. */
    xt->done = (struct weft__post){.fn = run_done, .arg = xt};
    if (weft__remote_post_node(xt->from, &xt->done) < 0)
        abort();
}

/* On the target loop, from weft__task_finish(): the task has ended. */
static void task_ended(struct weft__waiter *w)
{
    struct xtask *xt = weft__container_of(w, struct xtask, watch);
    struct weft_task *t = xt->task;
    xt->task = NULL;
    send_done(xt, t->code, t->result);
    weft_task_release(t);
}

static void run_spawn(void *arg)
{
    struct xtask *xt = arg;
    struct weft_task *t;
    int rc = weft__spawn(weft__loop, &t, xt->fn, xt->arg, &(weft_task_opts){
        .name = xt->name[0] ? xt->name : NULL, .stack_size = xt->stack_size});
    if (rc < 0) {
        send_done(xt, rc, NULL);
        return;
    }
    xt->task = t;
    xt->watch = (struct weft__waiter){.task = t, .notify = task_ended};
    weft__list_push_back(&t->waiters, &xt->watch.link);
}

/* The target loop ended before the spawn could run. */
static void drop_spawn(void *arg)
{
    send_done(arg, -ESHUTDOWN, NULL);
}

static void run_cancel(void *arg)
{
    struct xtask *xt = arg;
    if (xt->task)
        weft_task_cancel(xt->task);
    xtask_unref(xt);
}

static void drop_cancel(void *arg)
{
    xtask_unref(arg);
}

int weft__xtask_cancel(struct weft_task *t)
{
    struct xtask *xt = t->arg;
    if (t->cancel_requested)
        return 0;               /* forwarded once */
    t->cancel_requested = 1;
    atomic_fetch_add(&xt->refs, 1);
    /* Ordered after the spawn. A loop that has ended already has sent
       the outcome, which is on its way: nothing to cancel. */
    int rc = weft__remote_post_drop(xt->to, run_cancel, drop_cancel, xt);
    if (rc < 0)
        xtask_unref(xt);
    if (rc == -ENOMEM)
        t->cancel_requested = 0;
    return rc == -ENOMEM ? rc : 0;
}

/* A task record of L standing for a task of another loop. */
static struct weft_task *proxy_new(struct weft__loop *L, struct xtask *xt, int handle)
{
    struct weft_task *t = L->free_tasks;
    if (t)
        L->free_tasks = (struct weft_task *)t->link.next;
    else if (!(t = malloc(sizeof *t)))
        return NULL;
    memset(t, 0, sizeof *t);
    weft__list_init(&t->link);
    t->state = WEFT__TASK_REMOTE;
    t->loop = L;
    t->wake_at = WEFT_FOREVER;
    t->arg = xt;                /* fn stays NULL: a proxy */
    t->refs = handle ? 2 : 1;
    weft__list_init(&t->waiters);
    weft__list_init(&t->done_cbs);
    t->id = ++L->next_id;
    memcpy(t->name, xt->name, sizeof t->name);
    weft__list_push_back(&L->tasks, &t->all_link);
    L->ntasks++;
    return t;
}

int weft_spawn_on(weft_loop *loop, weft_task_fn fn, void *arg, const weft_task_opts *opts,
                  weft_task **out)
{
    struct weft__loop *L = weft__loop;
    if (!loop || !fn)
        return -EINVAL;
    if (!L)
        return -EPERM;
    struct weft_loop *self = weft__remote_of(L);
    if (!self)
        return -ENOMEM;
    if (loop == self)           /* this loop: a plain spawn */
        return weft__spawn(L, out, fn, arg, opts);

    struct xtask *xt = calloc(1, sizeof *xt);
    if (!xt)
        return -ENOMEM;
    atomic_init(&xt->refs, 1);
    xt->from = self;
    xt->to = loop;
    xt->fn = fn;
    xt->arg = arg;
    xt->stack_size = opts ? opts->stack_size : 0;
    if (opts && opts->name) {
        size_t n = strnlen(opts->name, sizeof xt->name - 1);
        memcpy(xt->name, opts->name, n);
    }
    struct weft_task *p = proxy_new(L, xt, out != NULL);
    if (!p) {
        free(xt);
        return -ENOMEM;
    }
    xt->proxy = p;
    weft__remote_ref(self);
    weft__remote_ref(loop);
    xt->spawn = (struct weft__post){.fn = run_spawn, .drop = drop_spawn, .arg = xt};
    int rc = weft__remote_post_node(loop, &xt->spawn);
    if (rc < 0) {
        weft_loop_put(loop);
        weft_loop_put(self);
        p->code = rc;
        weft__task_finish(L, p);
        if (out)
            weft_task_release(p);
        free(xt);
        return rc;
    }
    if (out)
        *out = p;
    return 0;
}
