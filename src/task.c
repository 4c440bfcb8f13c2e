/*
 * task.c - tasks: spawn, end, join, outcome, cancel, done callbacks, names.
 *
 * A task record outlives its coroutine: the coroutine (and its stack) goes
 * back to the pool as soon as the function returns, while the record keeps
 * the outcome for as long as someone refers to it.
 *
 * Invariants:
 * - refs counts the spawner's reference (if it asked for one), one for the
 *   loop while the task has not ended, and one per done callback not yet
 *   run. At zero the record returns to the loop's free list.
 * - A task that has not ended is on loop->tasks; one that has ended and is
 *   still referenced is on loop->zombies, so weft_run() can free it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coro_internal.h"
#include "loop.h"
#include "weft/error.h"

/* A done callback waiting for its task to end, then for its turn to run. */
struct weft__done_cb {
    struct weft__handle handle;  /* runs it on the loop */
    struct weft__list link;      /* in task->done_cbs until the task ends */
    struct weft_task *task;      /* the task it reports on (holds a ref) */
    void (*fn)(weft_task *t, void *arg);
    void *arg;
};

static void *task_main(void *arg, void *in)
{
    struct weft_task *t = arg;
    void *result = NULL;
    (void)in;
    t->started = 1;
    if (t->cancel_requested) {
        t->code = -ECANCELED;   /* cancelled before it ran: it never runs */
    } else {
        int rc = t->fn(t->arg, &result);
        t->code = rc > 0 ? 0 : rc;
        t->result = result;
    }
    return t;                   /* to the loop, which ends it */
}

/* The errno name of a negative code ("EIO"), or "error N". */
static const char *unread_name(int code)
{
    static __thread char other[24];
    const char *s = strerrorname_np(-code);
    if (s)
        return s;
    snprintf(other, sizeof other, "error %d", code);
    return other;
}

/* Reports `t` to the loop's error handler (or stderr) once: it failed and
   nobody read its outcome before its last reference went. */
__attribute__((noinline, cold)) static void report_unread(struct weft__loop *L,
                                                         struct weft_task *t)
{
    t->retrieved = 1;           /* once */
    if (L->error_handler)
        L->error_handler(t, t->code, L->error_arg);
    else
        fprintf(stderr, "weft: task '%s' failed with %s (%s), and nobody read it\n",
                weft_task_name(t), unread_name(t->code), weft_strerror(t->code));
}

/* Whether `t` failed, has ended, and nobody read its outcome. */
static inline int unread_failure(const struct weft_task *t)
{
    return WEFT_UNLIKELY(t->code < 0 && !t->retrieved) && t->code != -ECANCELED &&
           t->state == WEFT__TASK_ENDED;
}

/* Puts the record of `t`, whose last reference went, on the free list. */
static inline void recycle(struct weft__loop *L, struct weft_task *t)
{
    weft__list_remove(&t->all_link);        /* from the zombies */
    t->link.next = (struct weft__list *)L->free_tasks;
    L->free_tasks = t;
}

/* task_unref() of a task to report first: a tail call, so that the path
   of every other task needs no stack frame. */
__attribute__((noinline, cold)) static void report_and_recycle(struct weft__loop *L,
                                                               struct weft_task *t)
{
    report_unread(L, t);
    recycle(L, t);
}

static void task_unref(struct weft_task *t)
{
    if (--t->refs)
        return;
    struct weft__loop *L = t->loop;
    if (unread_failure(t)) {
        report_and_recycle(L, t);
        return;
    }
    recycle(L, t);
}

static void set_name(struct weft_task *t, const char *name)
{
    size_t n = strnlen(name, sizeof t->name - 1);
    memcpy(t->name, name, n);
    t->name[n] = '\0';
    if (t->coro)
        weft_coro_set_name(t->coro, t->name);
}

int weft__spawn(struct weft__loop *L, struct weft_task **out, weft_task_fn fn,
                void *arg, const weft_task_opts *opts)
{
    size_t size = opts && opts->stack_size ? opts->stack_size : L->stack_size;
    if (!fn)
        return -EINVAL;
    struct weft_task *t = L->free_tasks;
    if (t)
        L->free_tasks = (struct weft_task *)t->link.next;
    else if (!(t = malloc(sizeof *t)))
        return -ENOMEM;
    /* Every field set below; a memset of the record would be a rep stos. */
    int rc = weft_coro_create(&t->coro, task_main, t, &(weft_coro_opts){
        .stack_size = size, .name = opts ? opts->name : NULL});
    if (rc < 0) {
        t->link.next = (struct weft__list *)L->free_tasks;
        L->free_tasks = t;
        return rc;
    }
    weft__coro_adopt(t->coro, L->base, &L->ended);
    t->top = t->coro;
    t->loop = L;
    t->wake_code = 0;
    t->scope = NULL;
    t->cancel_requested = t->started = t->joined = t->retrieved = 0;
    t->alarm.timer.slot = 0;
    t->wake_at = WEFT_FOREVER;
    t->xwait = NULL;
    t->fn = fn;
    t->arg = arg;
    t->result = NULL;
    t->code = 0;
    t->refs = out ? 2 : 1;
    weft__list_init(&t->waiters);
    weft__list_init(&t->done_cbs);
    t->group = NULL;
    t->id = ++L->next_id;
    t->parent = L->current ? L->current->id : 0;
    t->end_seq = 0;
    t->name[0] = '\0';
    if (opts && opts->name)
        set_name(t, opts->name);
    weft__list_push_back(&L->tasks, &t->all_link);
    L->ntasks++;
    weft__enqueue(L, t);
    if (out)
        *out = t;
    return 0;
}

int weft_spawn(weft_task **out, weft_task_fn fn, void *arg, const weft_task_opts *opts)
{
    struct weft__loop *L = weft__loop;
    if (!L)
        return -EPERM;
    return weft__spawn(L, out, fn, arg, opts);
}

static void run_done_cb(void *arg)
{
    struct weft__done_cb *cb = arg;
    cb->fn(cb->task, cb->arg);
    task_unref(cb->task);
    free(cb);
}

void weft__task_finish(struct weft__loop *L, struct weft_task *t)
{
    t->state = WEFT__TASK_ENDED;
    t->end_seq = ++L->ends;
    weft_coro_destroy(t->coro);
    t->coro = NULL;
    weft__list_remove(&t->all_link);
    weft__list_push_back(&L->zombies, &t->all_link);
    L->ntasks--;
    weft__wake_all(&t->waiters);
    struct weft__list *n;
    while ((n = weft__list_pop_front(&t->done_cbs)))
        weft__ready(L, &weft__container_of(n, struct weft__done_cb, link)->handle);
    task_unref(t);
}

void weft__task_free_all(struct weft__loop *L)
{
    struct weft__list *n;
    while ((n = weft__list_pop_front(&L->zombies))) {
        struct weft_task *t = weft__container_of(n, struct weft_task, all_link);
        if (unread_failure(t))      /* references dropped unread */
            report_unread(L, t);
        free(t);
    }
    while (L->free_tasks) {
        struct weft_task *t = L->free_tasks;
        L->free_tasks = (struct weft_task *)t->link.next;
        free(t);
    }
}

int weft_task_result(const weft_task *t, void **result)
{
    if (!t)
        return -EINVAL;
    if (t->state != WEFT__TASK_ENDED)
        return -EAGAIN;
    ((struct weft_task *)t)->retrieved = 1;     /* read: nothing to report */
    if (result)
        *result = t->result;
    return t->code;
}

int weft_task_join(weft_task *t, void **result)
{
    struct weft_task *self = weft__self();
    if (!t)
        return -EINVAL;
    if (!self)
        return -EPERM;
    if (t == self)
        return -EDEADLK;
    if (t->loop != self->loop)
        return -EXDEV;          /* a handle of another loop's */
    if (t->joined)
        return -EALREADY;
    t->joined = 1;
    if (t->state != WEFT__TASK_ENDED) {
        struct weft__waiter w = {.task = self};
        weft__list_push_back(&t->waiters, &w.link);
        weft__waiting(self, WEFT_WAIT_JOIN, t, 0);
        int rc = weft__park(self, WEFT_FOREVER);
        weft__list_remove(&w.link);
        if (t->state != WEFT__TASK_ENDED) {
            t->joined = 0;      /* the join did not happen */
            return rc < 0 ? rc : -EINTR;
        }
    }
    return weft_task_result(t, result);
}

int weft_task_cancel(weft_task *t)
{
    if (!t)
        return -EINVAL;
    if (weft__loop && t->loop != weft__loop)
        return -EXDEV;
    if (t->state == WEFT__TASK_ENDED)
        return -EALREADY;
    if (t->state == WEFT__TASK_REMOTE)
        return weft__xtask_cancel(t);   /* runs on another loop */
    t->cancel_requested = 1;
    weft__recheck(t);
    return 0;
}

weft_task_state weft_task_status(const weft_task *t)
{
    if (!t)
        return WEFT_TASK_CANCELLED;
    switch (t->state) {
    case WEFT__TASK_ENDED:
        return t->code == 0 ? WEFT_TASK_DONE
             : t->code == -ECANCELED ? WEFT_TASK_CANCELLED : WEFT_TASK_FAILED;
    case WEFT__TASK_RUNNING:
        return WEFT_TASK_RUNNING;
    default:
        return WEFT_TASK_PENDING;
    }
}

int weft_task_add_done_callback(weft_task *t, void (*fn)(weft_task *t, void *arg),
                                void *arg)
{
    if (!t || !fn)
        return -EINVAL;
    struct weft__done_cb *cb = calloc(1, sizeof *cb);
    if (!cb)
        return -ENOMEM;
    cb->task = t;
    cb->fn = fn;
    cb->arg = arg;
    cb->handle.fn = run_done_cb;
    cb->handle.arg = cb;
    weft__list_init(&cb->link);
    weft__list_init(&cb->handle.link);
    t->refs++;
    if (t->state == WEFT__TASK_ENDED)
        weft__ready(t->loop, &cb->handle);
    else
        weft__list_push_back(&t->done_cbs, &cb->link);
    return 0;
}

weft_task *weft_task_current(void)
{
    return weft__self();
}

size_t weft_task_all(weft_task **out, size_t cap)
{
    struct weft__loop *L = weft__loop;
    size_t i = 0;
    if (!L)
        return 0;
    for (struct weft__list *n = L->tasks.next; n != &L->tasks; n = n->next, i++)
        if (i < cap && out)
            out[i] = weft__container_of(n, struct weft_task, all_link);
    return i;
}

const char *weft_task_name(const weft_task *t)
{
    if (!t)
        return "?";
    if (!t->name[0]) {          /* named on first use: spawning stays cheap */
        struct weft_task *w = (struct weft_task *)t;
        char digits[24];
        int n = 0;
        uint64_t id = t->id;
        do {
            digits[n++] = (char)('0' + id % 10);
            id /= 10;
        } while (id);
        memcpy(w->name, "task-", 5);
        for (int i = 0; i < n; i++)
            w->name[5 + i] = digits[n - 1 - i];
        w->name[5 + n] = '\0';
    }
    return t->name;
}

int weft_task_set_name(weft_task *t, const char *name)
{
    if (!t || !name)
        return -EINVAL;
    set_name(t, name);
    return 0;
}

int weft_task_release(weft_task *t)
{
    if (!t)
        return -EINVAL;
    task_unref(t);
    return 0;
}
