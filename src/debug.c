/*
 * debug.c - snapshots of a loop (weft/debug.h): its totals and a copy of
 * every task not ended, with what it waits for, its stack use and its
 * call stack.
 *
 * Nothing here runs on a fast path: the waits only record what they wait
 * for (weft__waiting(), loop.h), and everything else is derived here, when
 * a snapshot is taken, from records that are alive at that moment: a
 * parked task's wait object is valid while the task is parked, since the
 * task's wait node is on its queue. The snapshot keeps copies only.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "coro_internal.h"
#include "debug_internal.h"
#include "io_internal.h"
#include "weft/chan.h"
#include "weft/sync.h"

const char *weft_wait_name(int kind)
{
    static const char *const names[] = {
        [WEFT_WAIT_NONE] = "none",           [WEFT_WAIT_SLEEP] = "sleep",
        [WEFT_WAIT_FD] = "IO wait",          [WEFT_WAIT_CHAN_SEND] = "chan send",
        [WEFT_WAIT_CHAN_RECV] = "chan receive", [WEFT_WAIT_SELECT] = "select",
        [WEFT_WAIT_MUTEX] = "mutex",         [WEFT_WAIT_SEM] = "semaphore",
        [WEFT_WAIT_EVENT] = "event",         [WEFT_WAIT_COND] = "condition",
        [WEFT_WAIT_WAITGROUP] = "wait group", [WEFT_WAIT_FUTURE] = "future",
        [WEFT_WAIT_JOIN] = "join",           [WEFT_WAIT_TASKS] = "wait tasks",
        [WEFT_WAIT_GROUP] = "task group",    [WEFT_WAIT_JOB] = "worker job",
    };
    if (kind < 0 || (size_t)kind >= sizeof names / sizeof names[0] || !names[kind])
        return "?";
    return names[kind];
}

/* A descriptor's record and its number, to find the fd of a wait. */
struct fd_of {
    const void *st;
    int fd;
};

static int cmp_fd_of(const void *a, const void *b)
{
    uintptr_t x = (uintptr_t)((const struct fd_of *)a)->st;
    uintptr_t y = (uintptr_t)((const struct fd_of *)b)->st;
    return x < y ? -1 : x > y;
}

/* The loop's descriptor records sorted by address, in *out (caller frees);
   returns how many, or -ENOMEM. */
static long fd_table(const struct weft__loop *L, struct fd_of **out)
{
    size_t n = 0;
    *out = NULL;
    if (!L->io)
        return 0;
    for (size_t i = 0; i < L->io->nfds; i++)
        n += L->io->fds[i] != NULL;
    if (!n)
        return 0;
    struct fd_of *t = malloc(n * sizeof *t);
    if (!t)
        return -ENOMEM;
    n = 0;
    for (size_t i = 0; i < L->io->nfds; i++)
        if (L->io->fds[i])
            t[n++] = (struct fd_of){L->io->fds[i], (int)i};
    qsort(t, n, sizeof *t, cmp_fd_of);
    *out = t;
    return (long)n;
}

/*
 * Bytes of `st` made resident, from its top down to the lowest resident
 * page: the deepest the stack has been. `vec` holds one byte per page.
 */
static size_t stack_resident(const struct weft__stack *st, unsigned char *vec)
{
    size_t page = weft__page_size();
    size_t pages = (size_t)(st->hi - st->lo) / page;
    if (mincore(st->lo, pages * page, vec) < 0)
        return 0;
    for (size_t i = 0; i < pages; i++)
        if (vec[i] & 1)
            return (size_t)(st->hi - st->lo) - i * page;
    return 0;
}

/* Fills in what `t` waits for. */
static void wait_detail(const struct weft__loop *L, const struct weft_task *t,
                        weft_task_info *ti, const struct fd_of *fds, long nfds)
{
    ti->wait = (weft_wait_kind)t->wait_kind;
    ti->wait_obj = t->wait_obj;
    ti->wake_at = t->wake_at;
    ti->waited = weft__now(L) - t->wait_since;
    switch (t->wait_kind) {
    case WEFT_WAIT_FD: {
        struct fd_of key = {t->wait_obj, -1}, *hit = NULL;
        if (nfds > 0)
            hit = bsearch(&key, fds, (size_t)nfds, sizeof *fds, cmp_fd_of);
        ti->fd = hit ? hit->fd : -1;
        ti->events = t->wait_arg;
        ti->wait_obj = NULL;
        break;
    }
    case WEFT_WAIT_SLEEP:
        ti->wait_obj = NULL;
        break;
    case WEFT_WAIT_CHAN_SEND:
    case WEFT_WAIT_CHAN_RECV:
        ti->count = (int64_t)weft_chan_len(t->wait_obj);
        break;
    case WEFT_WAIT_MUTEX: {
        const struct weft_task *owner = ((const weft_mutex *)t->wait_obj)->owner_;
        ti->other = owner ? owner->id : 0;
        break;
    }
    case WEFT_WAIT_SEM:
        ti->count = weft_sem_value(t->wait_obj);
        break;
    case WEFT_WAIT_WAITGROUP:
        ti->count = ((const weft_waitgroup *)t->wait_obj)->count_;
        break;
    case WEFT_WAIT_JOIN:
        ti->other = ((const struct weft_task *)t->wait_obj)->id;
        break;
    case WEFT_WAIT_SELECT:
    case WEFT_WAIT_TASKS:
        ti->count = t->wait_arg;
        break;
    default:
        break;
    }
}

/* Copies task `t` into `ti`. */
static void task_info(const struct weft__loop *L, const struct weft_task *t,
                      weft_task_info *ti, int flags, unsigned char *vec,
                      const struct fd_of *fds, long nfds, void *caller)
{
    memset(ti, 0, sizeof *ti);
    ti->id = t->id;
    ti->parent = t->parent;
    snprintf(ti->name, sizeof ti->name, "%s", weft_task_name(t));
    ti->state = weft_task_status(t);
    ti->runnable = t->state == WEFT__TASK_QUEUED;
    ti->cancelled = t->cancel_requested;
    ti->fd = -1;
    ti->wake_at = ti->deadline = WEFT_FOREVER;
    if (t->state == WEFT__TASK_PARKED) {
        wait_detail(L, t, ti, fds, nfds);
        int64_t deadline = WEFT_FOREVER;
        if (t->scope && weft__scope_status(t, weft__now(L), &deadline) == 0)
            ti->deadline = deadline;
    }
    if (t->coro) {
        ti->stack_size = (size_t)(t->coro->stack.hi - t->coro->stack.lo);
        if (flags & WEFT_SNAPSHOT_STACK_USE)
            ti->stack_used = stack_resident(&t->coro->stack, vec);
    }
    if (flags & WEFT_SNAPSHOT_BACKTRACES) {
        int n = weft_task_backtrace(t, ti->frames, WEFT_BACKTRACE_MAX);
        ti->nframes = n > 0 ? n : 0;
        /* The running task took the snapshot: start at its call to weft. */
        for (int i = 0; caller && t->state == WEFT__TASK_RUNNING && i < ti->nframes; i++)
            if (ti->frames[i] == caller) {
                ti->nframes -= i;
                memmove(ti->frames, ti->frames + i, (size_t)ti->nframes * sizeof(void *));
                break;
            }
    }
}

/* The loop totals. */
static void loop_info(const struct weft__loop *L, weft_loop_info *li)
{
    memset(li, 0, sizeof *li);
    for (const struct weft__list *n = L->tasks.next; n != &L->tasks; n = n->next) {
        const struct weft_task *t = weft__container_of(n, struct weft_task, all_link);
        li->tasks++;
        li->running += t->state == WEFT__TASK_RUNNING;
        li->runnable += t->state == WEFT__TASK_QUEUED;
        li->waiting += t->state == WEFT__TASK_PARKED;
    }
    for (const struct weft__list *n = L->zombies.next; n != &L->zombies; n = n->next)
        li->ended++;
    li->runq_len = L->runq_len;
    li->timers = L->timers.len;
    if (L->io)
        for (size_t i = 0; i < L->io->nfds; i++)
            li->fds += L->io->fds[i] != NULL;
    li->fd_waiting = L->io_waiting;
    li->dispatches = L->dispatched - L->batch;
    li->sleeps = L->sleeps;
    li->spawned = L->next_id;
    li->ended_total = L->ends;
    li->jobs = L->jobs;
    weft__stack_pool_stats(&li->stacks_pooled, &li->stack_pool_bytes);
    li->now = weft__now(L);
}

int weft__snapshot(struct weft__loop *L, weft_snapshot **out, int flags, int stuck_only,
                   void *caller)
{
    size_t page = weft__page_size(), most = 0;
    struct fd_of *fds;
    long nfds = fd_table(L, &fds);
    if (nfds < 0)
        return (int)nfds;
    weft_snapshot *s = calloc(1, sizeof *s);
    if (!s)
        goto error1;
    loop_info(L, &s->loop);
    if (L->ntasks && !(s->tasks = calloc(L->ntasks, sizeof *s->tasks)))
        goto error2;
    for (const struct weft__list *n = L->tasks.next; n != &L->tasks; n = n->next) {
        const struct weft_task *t = weft__container_of(n, struct weft_task, all_link);
        if (t->coro && (size_t)(t->coro->stack.hi - t->coro->stack.lo) > most)
            most = (size_t)(t->coro->stack.hi - t->coro->stack.lo);
    }
    unsigned char *vec = NULL;
    if ((flags & WEFT_SNAPSHOT_STACK_USE) && most && !(vec = malloc(most / page + 1)))
        goto error3;
    for (const struct weft__list *n = L->tasks.next; n != &L->tasks; n = n->next) {
        const struct weft_task *t = weft__container_of(n, struct weft_task, all_link);
        if (!stuck_only || t->state == WEFT__TASK_PARKED)
            task_info(L, t, &s->tasks[s->ntasks++], flags, vec, fds, nfds, caller);
    }
    free(vec);
    free(fds);
    *out = s;
    return 0;

error3:
    free(s->tasks);
error2:
    free(s);
error1:
    free(fds);
    return -ENOMEM;
}

int weft__snapshot_take(weft_snapshot **out, int flags, void *caller)
{
    if (!out || (flags & ~(WEFT_SNAPSHOT_BACKTRACES | WEFT_SNAPSHOT_STACK_USE)))
        return -EINVAL;
    if (!weft__loop)
        return -EPERM;
    return weft__snapshot(weft__loop, out, flags, 0, caller);
}

__attribute__((noinline)) int weft_snapshot_take_opts(weft_snapshot **out, int flags)
{
    return weft__snapshot_take(out, flags, __builtin_return_address(0));
}

__attribute__((noinline)) int weft_snapshot_take(weft_snapshot **out)
{
    return weft__snapshot_take(out, WEFT_SNAPSHOT_BACKTRACES | WEFT_SNAPSHOT_STACK_USE,
                               __builtin_return_address(0));
}

void weft_snapshot_free(weft_snapshot *s)
{
    if (!s)
        return;
    free(s->tasks);
    free(s);
}
