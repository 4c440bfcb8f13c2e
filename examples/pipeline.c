/*
 * pipeline.c - a pipeline over channels: producer -> workers -> collector.
 *
 * The producer sends the numbers 1..NUMBERS on `jobs` (unbuffered) and
 * closes it. WORKERS workers each receive from `jobs` until it reports
 * -EPIPE (closed and drained), spend a second on each number (weft_sleep)
 * and send its square on `results`. The close travels on: a closer task
 * waits on a weft_waitgroup for the workers and then closes `results`, which
 * ends the collector's loop. The workers share the jobs, so the run takes
 * NUMBERS / WORKERS seconds, not NUMBERS.
 *
 * The summary is deterministic: totals per stage, and what came out sorted
 * (the order results arrive in is the scheduler's business). --virtual runs
 * it on the virtual clock.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include <weft.h>
#include <weft/chan.h>
#include <weft/sync.h>

#include "demo.h"

enum { NUMBERS = 12, WORKERS = 3 };

struct result {
    int worker; /* who computed it */
    int value;  /* the square */
};

struct pipeline {
    weft_chan *jobs;    /* int: producer -> workers */
    weft_chan *results; /* struct result: workers -> collector */
    weft_waitgroup workers_left;
    int sent, sent_sum;             /* producer */
    int done[WORKERS];              /* numbers each worker squared */
    int received, values[NUMBERS];  /* collector */
};

struct worker_arg {
    struct pipeline *p;
    int id;
};

static int producer(void *arg, void **result)
{
    struct pipeline *p = arg;
    (void)result;
    int rc = 0;
    for (int n = 1; n <= NUMBERS && rc == 0; n++) {
        rc = weft_chan_send(p->jobs, &n);
        if (rc == 0)
            p->sent++, p->sent_sum += n;
    }
    weft_chan_close(p->jobs); /* no more jobs: the workers' loops end */
    return rc;
}

static int worker(void *arg, void **result)
{
    struct worker_arg *w = arg;
    struct pipeline *p = w->p;
    (void)result;
    int n, rc;
    while ((rc = weft_chan_recv(p->jobs, &n)) == 0) {
        if ((rc = weft_sleep(WEFT_SEC(1))) < 0) /* the work */
            break;
        struct result r = {w->id, n * n};
        if ((rc = weft_chan_send(p->results, &r)) < 0)
            break;
        p->done[w->id]++;
    }
    weft_waitgroup_done(&p->workers_left);
    return rc == -EPIPE ? 0 : rc; /* -EPIPE: jobs closed and drained */
}

/* Closes `results` once every worker has finished. */
static int closer(void *arg, void **result)
{
    struct pipeline *p = arg;
    (void)result;
    int rc = weft_waitgroup_wait(&p->workers_left);
    weft_chan_close(p->results);
    return rc;
}

static int collector(void *arg, void **result)
{
    struct pipeline *p = arg;
    (void)result;
    struct result r;
    int rc;
    while ((rc = weft_chan_recv(p->results, &r)) == 0)
        if (p->received < NUMBERS)
            p->values[p->received++] = r.value;
    return rc == -EPIPE ? 0 : rc;
}

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

static int run_pipeline(struct pipeline *p)
{
    enum { NTASKS = WORKERS + 3 };
    struct worker_arg wargs[WORKERS];
    weft_task *tasks[NTASKS];
    size_t n = 0;
    int rc = weft_waitgroup_add(&p->workers_left, WORKERS);
    if (rc == 0)
        rc = weft_spawn(&tasks[n++], producer, p, NULL);
    for (int i = 0; i < WORKERS && rc == 0; i++) {
        wargs[i] = (struct worker_arg){p, i};
        rc = weft_spawn(&tasks[n++], worker, &wargs[i], NULL);
    }
    if (rc == 0)
        rc = weft_spawn(&tasks[n++], closer, p, NULL);
    if (rc == 0)
        rc = weft_spawn(&tasks[n++], collector, p, NULL);
    if (rc < 0)
        n--; /* the failed spawn made no task */
    else
        rc = weft_gather(tasks, n, NULL, NULL, 0);
    if (rc < 0) { /* stop the rest and let them end before the channels go */
        for (size_t i = 0; i < n; i++)
            weft_task_cancel(tasks[i]);
        weft_gather(tasks, n, NULL, NULL, WEFT_GATHER_COLLECT);
    }
    for (size_t i = 0; i < n; i++)
        weft_task_release(tasks[i]);
    return rc;
}

static int async_main(void *arg, void **result)
{
    (void)arg, (void)result;
    struct pipeline p = {.workers_left = WEFT_WAITGROUP_INIT};
    int64_t start = weft_now();
    int rc = weft_chan_create(&p.jobs, sizeof(int), 0);
    if (rc == 0)
        rc = weft_chan_create(&p.results, sizeof(struct result), 0);
    if (rc == 0)
        rc = run_pipeline(&p);
    weft_chan_destroy(p.jobs); /* NULL if not made: -EINVAL, harmless */
    weft_chan_destroy(p.results);
    if (rc < 0)
        return rc;

    int squared = 0, sum = 0;
    for (int i = 0; i < WORKERS; i++)
        squared += p.done[i];
    for (int i = 0; i < p.received; i++)
        sum += p.values[i];
    qsort(p.done, WORKERS, sizeof p.done[0], cmp_int);
    qsort(p.values, (size_t)p.received, sizeof p.values[0], cmp_int);

    printf("producer:  sent %d numbers, sum %d\n", p.sent, p.sent_sum);
    printf("workers:   %d squared %d numbers, per worker (sorted):", WORKERS, squared);
    for (int i = 0; i < WORKERS; i++)
        printf(" %d", p.done[i]);
    printf("\ncollector: received %d squares, sum %d\n", p.received, sum);
    printf("squares (sorted):");
    for (int i = 0; i < p.received; i++)
        printf(" %d", p.values[i]);
    printf("\ntook %.1f s\n", (double)(weft_now() - start) / 1e9);
    return 0;
}

int main(int argc, char **argv)
{
    return demo_run("pipeline", async_main, NULL, argc, argv);
}
