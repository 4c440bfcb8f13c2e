/*
 * remote.c - the way into a loop from other threads: a reference-counted
 * handle, a queue of posted functions under a mutex, and an eventfd that
 * wakes the loop out of epoll_wait. The worker pool posts its completions
 * the same way.
 *
 * Invariants:
 * - The handle outlives the loop while other threads hold references;
 *   `closed` (under mu) tells them the loop has ended, and no post is
 *   queued after that.
 * - The eventfd is written under mu, so it is never written after the loop
 *   closed it. `woken` keeps one write per batch of posts.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "io_internal.h"

struct weft_loop {
    pthread_mutex_t mu;         /* guards all below but refs */
    atomic_int refs;            /* the loop's own + one per weft_loop_get() */
    atomic_int queued;          /* posts not yet taken: the loop must poll
                                   even when nobody holds the loop any more */
    int closed;                 /* the loop has ended */
    int woken;                  /* the eventfd was written since the drain */
    int wake_fd;                /* eventfd the loop polls */
    struct weft__list posts;    /* struct post, oldest first */
};

/* A function posted to the loop. */
struct post {
    struct weft__list link;     /* in loop->posts */
    void (*fn)(void *arg);      /* runs on the loop's thread */
    void (*drop)(void *arg);    /* runs instead if the loop ends first */
    void *arg;
};

/* The outcome of a task spawned from another thread. */
struct weft_remote {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done, code;
    void *result;
    atomic_int refs;            /* the caller's + the task's */
};

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
    weft__list_init(&loop->posts);
    io->remote = loop;
    io->wake_fd = loop->wake_fd;
    return loop;
}

int weft__remote_held(const struct weft__loop *L)
{
    const struct weft_loop *loop = L->io ? L->io->remote : NULL;
    return loop && (atomic_load(&loop->refs) > 1 || atomic_load(&loop->queued) > 0);
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
        atomic_fetch_add(&loop->queued, 1);
        if (!loop->woken) {
            uint64_t one = 1;
            ssize_t unused = write(loop->wake_fd, &one, sizeof one);
            (void)unused;       /* a full counter still wakes the loop */
            loop->woken = 1;
        }
    }
    pthread_mutex_unlock(&loop->mu);
    return rc;
}

int weft__remote_post(struct weft_loop *loop, void (*fn)(void *arg), void *arg)
{
    struct post *p = malloc(sizeof *p);
    if (!p)
        return -ENOMEM;
    *p = (struct post){.fn = fn, .arg = arg};
    int rc = post(loop, p);
    if (rc < 0)
        free(p);
    return rc;
}

/* Takes every queued post off `loop`. */
static void take_posts(struct weft_loop *loop, struct weft__list *out)
{
    weft__list_init(out);
    pthread_mutex_lock(&loop->mu);
    struct weft__list *n;
    while ((n = weft__list_pop_front(&loop->posts)))
        weft__list_push_back(out, n);
    atomic_store(&loop->queued, 0);
    loop->woken = 0;
    pthread_mutex_unlock(&loop->mu);
}

void weft__remote_drain(struct weft__loop *L)
{
    struct weft_loop *loop = L->io->remote;
    uint64_t count;
    ssize_t unused = read(loop->wake_fd, &count, sizeof count);   /* re-arm */
    (void)unused;
    struct weft__list posts, *n;
    take_posts(loop, &posts);
    while ((n = weft__list_pop_front(&posts))) {
        struct post *p = weft__container_of(n, struct post, link);
        p->fn(p->arg);
        free(p);
    }
}

void weft__remote_close(struct weft__loop *L)
{
    struct weft_loop *loop = L->io->remote;
    if (!loop)
        return;
    pthread_mutex_lock(&loop->mu);
    loop->closed = 1;
    pthread_mutex_unlock(&loop->mu);
    struct weft__list posts, *n;
    take_posts(loop, &posts);
    while ((n = weft__list_pop_front(&posts))) {
        struct post *p = weft__container_of(n, struct post, link);
        if (p->drop)
            p->drop(p->arg);
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

static void remote_unref(struct weft_remote *r)
{
    if (atomic_fetch_sub(&r->refs, 1) == 1) {
        pthread_cond_destroy(&r->cv);
        pthread_mutex_destroy(&r->mu);
        free(r);
    }
}

static void remote_complete(struct weft_remote *r, int code, void *result)
{
    pthread_mutex_lock(&r->mu);
    r->done = 1;
    r->code = code;
    r->result = result;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
    remote_unref(r);
}

/* A spawn requested by another thread, in flight to the loop. */
struct spawn_req {
    weft_task_fn fn;
    void *arg;
    struct weft_remote *r;
};

static int remote_task(void *arg, void **result)
{
    struct spawn_req req = *(struct spawn_req *)arg;
    free(arg);
    void *res = NULL;
    int rc = req.fn(req.arg, &res);
    *result = res;
    remote_complete(req.r, rc > 0 ? 0 : rc, res);
    return rc;
}

static void spawn_drop(void *arg)
{
    struct spawn_req *req = arg;
    remote_complete(req->r, -ESHUTDOWN, NULL);
    free(req);
}

static void spawn_now(void *arg)
{
    struct spawn_req *req = arg;
    int rc = weft_spawn(NULL, remote_task, req, NULL);
    if (rc < 0)
        spawn_drop(req);
}

int weft_spawn_threadsafe(weft_loop *loop, weft_task_fn fn, void *arg, weft_remote **out)
{
    if (!loop || !fn || !out)
        return -EINVAL;
    struct weft_remote *r = calloc(1, sizeof *r);
    struct spawn_req *req = malloc(sizeof *req);
    struct post *p = malloc(sizeof *p);
    if (!r || !req || !p) {
        free(r);
        free(req);
        free(p);
        return -ENOMEM;
    }
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
    atomic_init(&r->refs, 2);
    *req = (struct spawn_req){.fn = fn, .arg = arg, .r = r};
    *p = (struct post){.fn = spawn_now, .drop = spawn_drop, .arg = req};
    int rc = post(loop, p);
    if (rc < 0) {
        free(p);
        free(req);
        remote_unref(r);
        remote_unref(r);
        return rc;
    }
    *out = r;
    return 0;
}

int weft_remote_wait(weft_remote *r, void **result)
{
    if (!r)
        return -EINVAL;
    pthread_mutex_lock(&r->mu);
    while (!r->done)
        pthread_cond_wait(&r->cv, &r->mu);
    if (result)
        *result = r->result;
    int code = r->code;
    pthread_mutex_unlock(&r->mu);
    return code;
}

void weft_remote_free(weft_remote *r)
{
    if (!r)
        return;
    weft_remote_wait(r, NULL);
    remote_unref(r);
}
