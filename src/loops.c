/*
 * loops.c - a loop and its threads: weft_run_opts() with
 * weft_loop_opts.loops > 1 starts one loop per thread (a loop per core),
 * runs main on the calling thread's loop (index 0), and when main returns
 * stops every other loop, lets each drain, and joins its thread.
 *
 * Design: tasks never move between threads. A loop runs on one thread
 * from its start to its end, and so does every task it runs. Moving a
 * stackful coroutine to another thread behind the program's back (work
 * stealing) is unsafe in C: code caches thread-local addresses across
 * calls. glibc declares __errno_location() `const`, so the compiler may
 * compute &errno once and keep it across a switch; after a migration that
 * address names another thread's errno. The same holds for every
 * __thread variable whose address the compiler has kept in a register or
 * on the stack (weft's own per-thread state, stack pools, malloc's arenas,
 * locale). So work crosses loops only by explicit hand-over: a task is
 * spawned on the loop that runs it (weft_spawn_on, spawn_on.c), values
 * cross in cross-loop channels (xchan.c), waits across loops go through
 * xwait.c, and everything a loop receives from other threads arrives
 * through its remote handle (remote.c), which wakes the loop only when it
 * sleeps.
 *
 * Each loop keeps its own run queue, timers, poller, stack pool (per
 * thread, stack.c) and worker pool; nothing on the path of a task that
 * stays on its loop knows other loops exist.
 *
 * Life of a group of loops:
 * - weft__loops_run() starts threads 1..n-1, each running a loop whose
 *   first task (serve) publishes the loop's handle and waits for a stop.
 *   Loop 0's first task (main0) publishes its handle, waits until every
 *   loop has published one, then runs the program's main.
 * - When main returns, main0 posts a stop to every other loop: its serve
 *   task returns, so the loop cancels what is left and drains, as loop 0
 *   does after main (asyncio.run). Each thread, its loop ended, posts
 *   "ended" to loop 0; main0 waits (shielded) for all of them, so work
 *   those loops hand back to loop 0 still lands while it runs.
 *
 * Invariants: the group holds a reference to every loop's handle until
 * the threads are joined; it keeps a loop alive (weft__remote_held) until
 * that loop is told to stop. handles[] is written before `attached` counts
 * it, under mu, and read only after every loop attached.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "weft/loops.h"
#include "weft/sync.h"
#include "io_internal.h"

/* What the group knows of one loop. */
struct slot {
    struct weft__loops *group;  /* back to the group, for posted calls */
    int index;                  /* the loop's index */
    int attached;               /* counted in group->attached (under mu) */
    weft_event stop;            /* loop-local to this loop: serve waits on it */
};

struct weft__loops {
    int n;                      /* loops in the group */
    int pin;                    /* pin loop i to CPU i */
    weft_loop_opts opts;        /* every loop's options (loops = 0) */
    weft_task_fn main;          /* the program's main, run on loop 0 */
    void *arg;                  /* its argument */
    struct weft_loop **handles; /* by index; each referenced by the group */
    struct slot *slots;         /* by index */
    pthread_t *threads;         /* [i] runs loop i, for i >= 1 */
    pthread_mutex_t mu;         /* guards attached, failed */
    pthread_cond_t cv;          /* signals attached */
    int attached;               /* loops that published their handle or failed */
    int failed;                 /* a loop could not start */
    atomic_int ended;           /* loops 1..n-1 whose run has returned */
    weft_event all_ended;       /* loop-local to loop 0: ended == n - 1 */
};

/* Pins the calling thread to CPU `index` modulo the online CPUs. */
static void pin_to(int index)
{
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET((int)(index % (ncpu > 0 ? ncpu : 1)), &set);
    pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}

/* Publishes this loop's handle (referenced by the group), or its failure;
   returns the handle or NULL. */
static struct weft_loop *attach(struct weft__loops *g, int index)
{
    struct weft_loop *h = weft_loop_get();     /* created, and one reference */
    pthread_mutex_lock(&g->mu);
    g->handles[index] = h;
    g->failed |= !h;
    g->slots[index].attached = 1;
    g->attached++;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
    return h;
}

/* Under mu: loop `s` will never attach. */
static void mark_failed(struct weft__loops *g, struct slot *s)
{
    g->failed = 1;
    s->attached = 1;
    g->attached++;
    pthread_cond_broadcast(&g->cv);
}

/* Posted to loop i: main has returned, serve may end. */
static void stop_loop(void *arg)
{
    struct slot *s = arg;
    weft__remote_unhold(s->group->handles[s->index]);
    weft_event_set(&s->stop);
}

/* Posted to loop 0 by each other loop's thread once its run returned. */
static void loop_ended(void *arg)
{
    struct weft__loops *g = arg;
    if (atomic_fetch_add(&g->ended, 1) + 1 == g->n - 1)
        weft_event_set(&g->all_ended);
}

/* The first task of loops 1..n-1: publishes the loop, then waits to stop. */
static int serve(void *arg, void **result)
{
    struct slot *s = arg;
    (void)result;
    if (!attach(s->group, s->index))
        return -ENOMEM;
    while (!weft_event_is_set(&s->stop))
        if (weft_event_wait(&s->stop) < 0)
            break;              /* cancelled: the loop ends anyway */
    return 0;
}

static void *loop_thread(void *arg)
{
    struct slot *s = arg;
    struct weft__loops *g = s->group;
    if (g->pin)
        pin_to(s->index);
    weft__loop_run(serve, s, NULL, &g->opts, g, s->index);
    pthread_mutex_lock(&g->mu);
    if (!s->attached)                   /* the loop never started: say so */
        mark_failed(g, s);
    /* Loop 0 waits for this post before it ends, so its handle is open. */
    while (g->attached < g->n)
        pthread_cond_wait(&g->cv, &g->mu);
    pthread_mutex_unlock(&g->mu);
    if (!g->handles[0] || weft__remote_post(g->handles[0], loop_ended, g) < 0)
        atomic_fetch_add(&g->ended, 1);
    return NULL;
}

/* Posts a stop to every other loop and waits, shielded, until they ended. */
static void stop_others(struct weft__loops *g)
{
    for (int i = 1; i < g->n; i++)
        if (g->handles[i])
            weft__remote_post(g->handles[i], stop_loop, &g->slots[i]);
    weft_scope shield;
    weft_scope_enter(&shield, WEFT_FOREVER);
    weft_scope_shield(&shield, 1);
    while (atomic_load(&g->ended) < g->n - 1)
        if (weft_event_wait(&g->all_ended) < 0)
            break;
    weft_scope_exit(&shield);
}

/* The first task of loop 0: publishes it, waits for the others, runs main. */
static int main0(void *arg, void **result)
{
    struct weft__loops *g = arg;
    struct weft_loop *h = attach(g, 0);
    pthread_mutex_lock(&g->mu);         /* the others start at once */
    while (g->attached < g->n)
        pthread_cond_wait(&g->cv, &g->mu);
    pthread_mutex_unlock(&g->mu);
    int rc = g->failed ? -EAGAIN : g->main(g->arg, result);
    if (h) {
        stop_others(g);
        weft__remote_unhold(h);         /* only its own work keeps it now */
    }
    return rc;
}

int weft__loops_run(weft_task_fn main, void *arg, void **result,
                    const weft_loop_opts *opts)
{
    int n = opts->loops;
    if (n == WEFT_LOOPS_ALL) {
        long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
        n = ncpu > 0 ? (int)ncpu : 1;
    }
    if (!main || n < 1 || n > 4096)
        return -EINVAL;
    if (weft__loop || weft_coro_current())
        return -EBUSY;
    if (n == 1 && !opts->pin)
        return weft__loop_run(main, arg, result, opts, NULL, 0);

    int rc = -ENOMEM, started = 0;
    struct weft__loops *g = calloc(1, sizeof *g);
    if (!g)
        return -ENOMEM;
    g->n = n;
    g->pin = opts->pin;
    g->opts = *opts;
    g->opts.loops = 0;
    g->main = main;
    g->arg = arg;
    atomic_init(&g->ended, 0);
    g->handles = calloc((size_t)n, sizeof *g->handles);
    g->slots = calloc((size_t)n, sizeof *g->slots);
    g->threads = calloc((size_t)n, sizeof *g->threads);
    if (!g->handles || !g->slots || !g->threads)
        goto error1;
    pthread_mutex_init(&g->mu, NULL);
    pthread_cond_init(&g->cv, NULL);
    for (int i = 0; i < n; i++)
        g->slots[i] = (struct slot){.group = g, .index = i};

    cpu_set_t old;
    int pinned = g->pin && pthread_getaffinity_np(pthread_self(), sizeof old, &old) == 0;
    for (started = 1; started < n; started++)
        if (weft__thread_quiet(&g->threads[started], loop_thread, &g->slots[started]) != 0)
            break;
    pthread_mutex_lock(&g->mu);
    for (int i = started; i < n; i++)   /* threads that never started */
        mark_failed(g, &g->slots[i]);
    pthread_mutex_unlock(&g->mu);
    atomic_fetch_add(&g->ended, n - started);
    if (pinned)
        pin_to(0);
    rc = weft__loop_run(main0, g, result, &g->opts, g, 0);
    pthread_mutex_lock(&g->mu);
    int lost = !g->slots[0].attached;   /* loop 0 never ran main0 */
    if (lost)
        mark_failed(g, &g->slots[0]);
    pthread_mutex_unlock(&g->mu);
    for (int i = 1; lost && i < n; i++)
        if (g->handles[i])
            weft__remote_post(g->handles[i], stop_loop, &g->slots[i]);
    for (int i = 1; i < started; i++)
        pthread_join(g->threads[i], NULL);
    if (pinned)
        pthread_setaffinity_np(pthread_self(), sizeof old, &old);
    for (int i = 0; i < n; i++)
        weft_loop_put(g->handles[i]);
    pthread_cond_destroy(&g->cv);
    pthread_mutex_destroy(&g->mu);
error1:
    free(g->threads);
    free(g->slots);
    free(g->handles);
    free(g);
    return rc;
}

weft_loop *weft_loop_at(int index)
{
    struct weft__loop *L = weft__loop;
    if (!L)
        return NULL;
    if (!L->group)
        return index == 0 ? weft__remote_of(L) : NULL;
    if (index < 0 || index >= L->group->n)
        return NULL;
    return L->group->handles[index];
}

int weft_loop_index(void)
{
    struct weft__loop *L = weft__loop;
    return L ? L->index : -EPERM;
}

int weft_loop_count(void)
{
    struct weft__loop *L = weft__loop;
    return L ? (L->group ? L->group->n : 1) : -EPERM;
}
