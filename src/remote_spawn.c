/*
 * remote_spawn.c - a task spawned from another thread
 * (weft_spawn_threadsafe, asyncio.run_coroutine_threadsafe) and the future
 * that thread blocks on for its outcome (weft_remote_wait). The spawn
 * travels as a post (remote.c); a loop that ends before running it drops
 * it, and the future completes with -ESHUTDOWN.
 *
 * Invariant: the future is referenced by the caller (until
 * weft_remote_free) and by the spawn or its task (until it completes it).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "io_internal.h"

/* The outcome of a task spawned from another thread. */
struct weft_remote {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done, code;
    void *result;
    atomic_int refs;            /* the caller's + the task's */
};

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
    if (!r || !req) {
        free(r);
        free(req);
        return -ENOMEM;
    }
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
    atomic_init(&r->refs, 2);
    *req = (struct spawn_req){.fn = fn, .arg = arg, .r = r};
    int rc = weft__remote_post_drop(loop, spawn_now, spawn_drop, req);
    if (rc < 0) {
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
