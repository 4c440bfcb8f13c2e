/*
 * remote.c - the way into a loop from other threads: a reference-counted
 * handle, a queue of posted functions under a mutex, and an eventfd that
 * wakes the loop out of epoll_wait. The worker pool posts its completions
 * the same way, and so do wakes of tasks from other loops (xwait.c); a
 * task spawned from another thread is remote_spawn.c.
 *
 * Invariants:
 * - The handle outlives the loop while other threads hold references;
 *   `closed` (under mu) tells them the loop has ended, and no post is
 *   queued after that.
 * - The eventfd is written under mu, so it is never written after the loop
 *   closed it. `woken` keeps one write per batch of posts.
 *
 * Batched wakes: a loop that is busy never needs its eventfd. It takes what
 * came in between ticks (weft__remote_check: one atomic load when nothing
 * did), and only a loop about to block in epoll_wait() raises `sleeping`;
 * a poster writes the eventfd only then. Both sides use sequentially
 * consistent atomics in opposite order (the loop: raise `sleeping`, then
 * look at `queued`; a poster: raise `queued`, then look at `sleeping`), so
 * either the loop sees the post and does not block, or the poster sees the
 * loop asleep and wakes it. A loop of a group (loops.c) first polls its
 * queue for a little while (SPIN_NS) before it raises `sleeping`.
 *
 * Wakes from other loops never fail and are never lost: they queue as
 * (task, node) pairs up to MAX_WAKES between two takes; past that, or when
 * the array cannot grow, the loop is told to wake every task parked in a
 * cross-loop wait instead (`wake_all`). That is safe because such a task
 * parks in a loop that looks at its node again (weft__xpark): a wake it
 * did not need costs one pass of that loop.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "io_internal.h"

struct weft_loop {
    pthread_mutex_t mu;         /* guards all below but refs */
    atomic_int refs;            /* the loop's own + one per weft_loop_get() */
    atomic_int queued;          /* posts not yet taken: the loop must poll
                                   even when nobody holds the loop any more */
    atomic_int weak;            /* references that keep the record but not
                                   the loop alive (its group's, once stopping) */
    atomic_int sleeping;        /* the loop is (about to be) in epoll_wait() */
    int closed;                 /* the loop has ended */
    int woken;                  /* the eventfd was written since the drain */
    int wake_fd;                /* eventfd the loop polls */
    struct weft__list posts;    /* struct post, oldest first */
    struct xwake *wakes;        /* task wakes from other loops, oldest first */
    size_t nwakes, capwakes;    /* used and allocated entries of wakes */
    int wake_all;               /* wakes did not fit: wake every task in a
                                   cross-loop wait at the next take */
    struct weft__part part;     /* closes the way in when the loop ends
                                   (on the loop's thread only) */
};

/* Wakes queued between two takes before the loop wakes all instead. */
#define MAX_WAKES 1024

/* A wake of a task of this loop from another loop (weft__remote_xwake). */
struct xwake {
    struct weft_task *task;     /* records outlive the loop's tasks */
    void *node;                 /* counts only while task->xwait is this */
};

/* A function posted to the loop. */
#define post weft__post         /* io_internal.h */

static void remote_end(struct weft__loop *L, struct weft__part *part);

struct weft_loop *weft__remote_of(struct weft__loop *L)
{
    struct weft__io *io = weft__io_get(L);
    if (!io)
        return NULL;
    if (io->remote)
        return io->remote;
    struct weft_loop *loop = calloc(1, sizeof *loop);
    if (!loop)
        return NULL;
    loop->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (loop->wake_fd < 0 || weft__poll_add(&io->poll, loop->wake_fd) < 0) {
        if (loop->wake_fd >= 0)
            close(loop->wake_fd);
        free(loop);
        return NULL;
    }
    pthread_mutex_init(&loop->mu, NULL);
    atomic_init(&loop->refs, 1);
    atomic_init(&loop->queued, 0);
    atomic_init(&loop->weak, 0);
    atomic_init(&loop->sleeping, 0);
    weft__list_init(&loop->posts);
    io->remote = loop;
    io->wake_fd = loop->wake_fd;
    weft__part_add(L, &loop->part, WEFT__PART_WAY_IN, remote_end);
    return loop;
}

int weft__remote_held(const struct weft__loop *L)
{
    const struct weft_loop *loop = L->io ? L->io->remote : NULL;
    return loop && (atomic_load(&loop->refs) - atomic_load(&loop->weak) > 1 ||
                    atomic_load(&loop->queued) > 0);
}

void weft__remote_unhold(struct weft_loop *loop)
{
    atomic_fetch_add(&loop->weak, 1);
}

/* Under mu: a post or wake was queued; writes the eventfd if the loop
   sleeps and nobody wrote it since it last looked. */
static void queued_one(struct weft_loop *loop)
{
    atomic_fetch_add(&loop->queued, 1);
    if (!loop->woken && atomic_load(&loop->sleeping)) {
        uint64_t one = 1;
        ssize_t unused = write(loop->wake_fd, &one, sizeof one);
        (void)unused;           /* a full counter still wakes the loop */
        loop->woken = 1;
    }
}

/* Queues `p` on `loop` and wakes it; -ESHUTDOWN once it has ended. */
static int post(struct weft_loop *loop, struct post *p)
{
    int rc = 0;
    pthread_mutex_lock(&loop->mu);
    if (loop->closed) {
        rc = -ESHUTDOWN;
    } else {
        weft__list_push_back(&loop->posts, &p->link);
        queued_one(loop);
    }
    pthread_mutex_unlock(&loop->mu);
    return rc;
}

int weft__remote_post_node(struct weft_loop *loop, struct weft__post *p)
{
    p->owned = 0;
    return post(loop, p);
}

int weft__remote_post(struct weft_loop *loop, void (*fn)(void *arg), void *arg)
{
    return weft__remote_post_drop(loop, fn, NULL, arg);
}

int weft__remote_post_drop(struct weft_loop *loop, void (*fn)(void *arg),
                           void (*drop)(void *arg), void *arg)
{
    struct post *p = malloc(sizeof *p);
    if (!p)
        return -ENOMEM;
    *p = (struct post){.fn = fn, .drop = drop, .arg = arg, .owned = 1};
    int rc = post(loop, p);
    if (rc < 0)
        free(p);
    return rc;
}

int weft__remote_xwake(struct weft_loop *loop, struct weft_task *t, void *node)
{
    int rc = 0;
    pthread_mutex_lock(&loop->mu);
    if (loop->closed) {
        rc = -ESHUTDOWN;
    } else {
        if (loop->nwakes == loop->capwakes && loop->capwakes < MAX_WAKES) {
            size_t cap = loop->capwakes ? 2 * loop->capwakes : 64;
            struct xwake *w = realloc(loop->wakes, cap * sizeof *w);
            if (w)
                loop->wakes = w, loop->capwakes = cap;
        }
        if (loop->nwakes < loop->capwakes)
            loop->wakes[loop->nwakes++] = (struct xwake){t, node};
        else
            loop->wake_all = 1;
        queued_one(loop);
    }
    pthread_mutex_unlock(&loop->mu);
    return rc;
}

/* Wakes every task of this thread's loop that is parked in a cross-loop
   wait: the queued wakes did not fit (see the file comment). */
__attribute__((cold)) static void wake_all_xwaiting(void)
{
    struct weft__loop *L = weft__loop;
    for (struct weft__list *n = L->tasks.next; n != &L->tasks; n = n->next) {
        struct weft_task *t = weft__container_of(n, struct weft_task, all_link);
        if (t->xwait && t->state == WEFT__TASK_PARKED)
            weft__wake(t, 0);
    }
}

/*
 * Takes every queued post off `loop` into `out`, and the wakes into *wakes
 * (swapped with the loop's array, so neither side allocates once both have
 * grown), and whether all cross-loop waiters must wake into *all.
 * Returns whether the eventfd was written since the last take.
 */
static int take_posts(struct weft_loop *loop, struct weft__list *out,
                      struct xwake **wakes, size_t *nwakes, size_t *capwakes, int *all)
{
    weft__list_init(out);
    pthread_mutex_lock(&loop->mu);
    struct weft__list *n;
    while ((n = weft__list_pop_front(&loop->posts)))
        weft__list_push_back(out, n);
    if (wakes) {
        struct xwake *w = *wakes;
        size_t cap = *capwakes;
        *wakes = loop->wakes;
        *nwakes = loop->nwakes;
        *capwakes = loop->capwakes;
        loop->wakes = w;
        loop->capwakes = cap;
    }
    loop->nwakes = 0;
    *all = loop->wake_all;
    loop->wake_all = 0;
    atomic_store(&loop->queued, 0);
    int woken = loop->woken;
    loop->woken = 0;
    pthread_mutex_unlock(&loop->mu);
    return woken;
}

/* The loop's spare wake array, swapped with the queued one at each take. */
static __thread struct xwake *spare_wakes;
static __thread size_t spare_cap;

/* Runs what was taken: the wakes first (they only queue tasks), then the
   posts in order. Returns how many there were. */
static int run_taken(struct weft_loop *loop, int read_fd)
{
    struct weft__list posts, *n;
    size_t nw = 0;
    int count = 0, all;
    if (take_posts(loop, &posts, &spare_wakes, &nw, &spare_cap, &all) || read_fd) {
        uint64_t c;
        ssize_t unused = read(loop->wake_fd, &c, sizeof c);   /* re-arm */
        (void)unused;
    }
    for (size_t i = 0; i < nw; i++) {
        struct weft_task *t = spare_wakes[i].task;
        if (t->xwait == spare_wakes[i].node && t->state == WEFT__TASK_PARKED)
            weft__wake(t, 0);
    }
    if (all)
        wake_all_xwaiting();
    count = (int)nw + all;
    while ((n = weft__list_pop_front(&posts))) {
        struct post *p = weft__container_of(n, struct post, link);
        int owned = p->owned;   /* fn may free a node of its caller's */
        p->fn(p->arg);
        if (owned)
            free(p);
        count++;
    }
    return count;
}

void weft__remote_drain(struct weft__loop *L)
{
    run_taken(L->io->remote, 1);
}

int weft__remote_check(struct weft__loop *L)
{
    struct weft_loop *loop = L->io->remote;
    if (!loop || !atomic_load_explicit(&loop->queued, memory_order_relaxed))
        return 0;
    return run_taken(loop, 0);
}

/* How long a loop of a group polls its queue before it sleeps: a hand-over
   from a busy neighbour then costs no system call on either side. */
#define SPIN_NS 50000

int weft__remote_sleep(struct weft__loop *L, int64_t timeout_ns)
{
    struct weft_loop *loop = L->io->remote;
    if (!loop)
        return 0;
    int64_t spin = timeout_ns >= 0 && timeout_ns < SPIN_NS ? timeout_ns : SPIN_NS;
    if (L->group) {
        struct timespec t0, t;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        for (int i = 1;; i++) {
            if (atomic_load_explicit(&loop->queued, memory_order_relaxed))
                return -EAGAIN;
            if (i % 64 == 0) {
                clock_gettime(CLOCK_MONOTONIC, &t);
                if ((t.tv_sec - t0.tv_sec) * 1000000000 + (t.tv_nsec - t0.tv_nsec) > spin)
                    break;
            }
        }
    }
    atomic_store(&loop->sleeping, 1);
    if (atomic_load(&loop->queued)) {
        atomic_store(&loop->sleeping, 0);
        return -EAGAIN;
    }
    return 0;
}

void weft__remote_awake(struct weft__loop *L)
{
    struct weft_loop *loop = L->io->remote;
    if (loop)
        atomic_store(&loop->sleeping, 0);
}

/* The loop has ended (its part, after the worker pool's): later posts
   fail with -ESHUTDOWN, and those still queued are dropped. */
static void remote_end(struct weft__loop *L, struct weft__part *part)
{
    struct weft_loop *loop = weft__container_of(part, struct weft_loop, part);
    pthread_mutex_lock(&loop->mu);
    loop->closed = 1;
    pthread_mutex_unlock(&loop->mu);
    struct weft__list posts, *n;
    int all;
    take_posts(loop, &posts, NULL, NULL, NULL, &all);  /* wakes are dropped */
    free(loop->wakes);
    loop->wakes = NULL;
    loop->capwakes = 0;
    free(spare_wakes);
    spare_wakes = NULL;
    spare_cap = 0;
    while ((n = weft__list_pop_front(&posts))) {
        struct post *p = weft__container_of(n, struct post, link);
        int owned = p->owned;
        if (p->drop)
            p->drop(p->arg);
        if (owned)
            free(p);
    }
    weft__poll_del(&L->io->poll, loop->wake_fd);
    close(loop->wake_fd);
    L->io->remote = NULL;
    L->io->wake_fd = -1;
    weft_loop_put(loop);
}

weft_loop *weft_loop_get(void)
{
    struct weft__loop *L = weft__loop;
    struct weft_loop *loop = L ? weft__remote_of(L) : NULL;
    if (loop)
        atomic_fetch_add(&loop->refs, 1);
    return loop;
}

void weft__remote_ref(struct weft_loop *loop)
{
    atomic_fetch_add(&loop->refs, 1);
}

void weft_loop_put(weft_loop *loop)
{
    if (loop && atomic_fetch_sub(&loop->refs, 1) == 1) {
        pthread_mutex_destroy(&loop->mu);
        free(loop);
    }
}

int weft_call_soon_threadsafe(weft_loop *loop, void (*fn)(void *arg), void *arg)
{
    if (!loop || !fn)
        return -EINVAL;
    return weft__remote_post(loop, fn, arg);
}
