/*
 * thread_pool.c - the loop's worker threads for blocking calls
 * (weft_to_thread, asyncio.to_thread).
 *
 * Jobs wait in a queue under a mutex; a worker runs one, then posts its
 * completion to the loop (remote.c), whose thread wakes the waiting task.
 * A task that stops waiting (cancelled, timed out) abandons its job: the
 * loop frees it when it completes. Threads start on demand, up to the
 * loop's `workers`, and are joined when the loop ends, after every job:
 * the pool is the loop's part of the earliest phase (loop_parts.c).
 *
 * Invariants: a job belongs to its task while job->task is set and to the
 * loop afterwards; L->jobs counts jobs posted but not completed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "io_internal.h"

struct weft__pool {
    pthread_mutex_t mu;         /* guards all below */
    pthread_cond_t cv;          /* signals queued jobs and stopping */
    struct weft__list queue;    /* struct job not started, oldest first */
    pthread_t *threads;         /* the workers started so far */
    int nthreads;               /* how many */
    int idle;                   /* workers waiting for a job */
    int stopping;               /* the loop has ended: workers exit */
    struct weft_loop *remote;   /* where completions are posted */
    struct weft__part part;     /* ends the pool with its loop, first */
};

struct job {
    struct weft__list link;     /* in the queue */
    void *(*fn)(void *arg);
    void *arg;
    void *result;               /* fn's return value */
    int done;                   /* completed (set on the loop's thread) */
    struct weft_task *task;     /* the waiting task; NULL once abandoned */
    struct weft__loop *loop;    /* for the job count */
};

/* On the loop's thread: a job has finished. */
static void job_done(void *arg)
{
    struct job *j = arg;
    j->loop->jobs--;
    j->done = 1;
    if (j->task)
        weft__wake(j->task, 0); /* the task frees it */
    else
        free(j);
}

static void *worker(void *arg)
{
    struct weft__pool *p = arg;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        struct weft__list *n;
        while (!(n = weft__list_pop_front(&p->queue)) && !p->stopping) {
            p->idle++;
            pthread_cond_wait(&p->cv, &p->mu);
            p->idle--;
        }
        if (!n)
            break;
        pthread_mutex_unlock(&p->mu);
        struct job *j = weft__container_of(n, struct job, link);
        j->result = j->fn(j->arg);
        if (weft__remote_post(p->remote, job_done, j) < 0)
            abort();            /* the loop waits for jobs: cannot happen */
        pthread_mutex_lock(&p->mu);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

static void pool_end(struct weft__loop *L, struct weft__part *part);

static struct weft__pool *pool_of(struct weft__loop *L)
{
    struct weft__io *io = weft__io_get(L);
    if (!io)
        return NULL;
    if (io->pool)
        return io->pool;
    struct weft__pool *p = calloc(1, sizeof *p);
    if (p)
        p->threads = calloc((size_t)L->workers, sizeof *p->threads);
    if (!p || !p->threads || !(p->remote = weft__remote_of(L))) {
        if (p)
            free(p->threads);
        free(p);
        return NULL;
    }
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    weft__list_init(&p->queue);
    io->pool = p;
    weft__part_add(L, &p->part, WEFT__PART_THREADS, pool_end);
    return p;
}

/* Queues `j`, starting a worker if none is idle; -EAGAIN with no worker. */
static int submit(struct weft__loop *L, struct weft__pool *p, struct job *j)
{
    int rc = 0;
    pthread_mutex_lock(&p->mu);
    if (!p->idle && p->nthreads < L->workers && weft__thread_quiet(&p->threads[p->nthreads], worker, p) == 0)
        p->nthreads++;
    if (!p->nthreads) {
        rc = -EAGAIN;
    } else {
        weft__list_push_back(&p->queue, &j->link);
        pthread_cond_signal(&p->cv);
    }
    pthread_mutex_unlock(&p->mu);
    return rc;
}

int weft_to_thread(void *(*fn)(void *arg), void *arg, void **result)
{
    struct weft_task *self = weft__self();
    if (!fn)
        return -EINVAL;
    if (!self)
        return -EPERM;
    struct weft__loop *L = self->loop;
    struct weft__pool *p = pool_of(L);
    struct job *j = malloc(sizeof *j);
    if (!p || !j) {
        free(j);
        return -ENOMEM;
    }
    *j = (struct job){.fn = fn, .arg = arg, .task = self, .loop = L};
    int rc = submit(L, p, j);
    if (rc < 0) {
        free(j);
        return rc;
    }
    L->jobs++;
    weft__waiting(self, WEFT_WAIT_JOB, (const void *)fn, 0);
    while (!j->done && (rc = weft__park(self, WEFT_FOREVER)) == 0)
        ;                       /* only job_done wakes it with 0 */
    if (!j->done) {
        j->task = NULL;         /* abandoned: the loop frees it */
        return rc;
    }
    if (result && rc == 0)
        *result = j->result;
    free(j);
    return rc;
}

/* The loop ends: stops and joins the workers after their jobs, which
   post to the loop (so this comes before its way in closes). */
static void pool_end(struct weft__loop *L, struct weft__part *part)
{
    struct weft__pool *p = weft__container_of(part, struct weft__pool, part);
    while (L->jobs)             /* abandoned jobs still running */
        weft__io_poll(L, -1);
    pthread_mutex_lock(&p->mu);
    p->stopping = 1;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->nthreads; i++)
        pthread_join(p->threads[i], NULL);
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    free(p->threads);
    free(p);
    L->io->pool = NULL;
}
