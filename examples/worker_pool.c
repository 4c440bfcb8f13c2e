/*
 * worker_pool.c - a bounded worker pool: a weft_sem lets at most LIMIT of
 * JOBS tasks work at once (async with asyncio.Semaphore(LIMIT)).
 *
 * All JOBS tasks start at once; each takes a permit (weft_sem_acquire,
 * waiting in FIFO order while LIMIT jobs run), works for a second
 * (weft_sleep) and gives the permit back, which hands it straight to the
 * next waiting job. Every line carries the loop time and the number of jobs
 * running, so the output shows that never more than LIMIT run together and
 * that the run takes JOBS / LIMIT seconds. --virtual runs it on the virtual
 * clock.
 */
#include <stdint.h>
#include <stdio.h>

#include <weft.h>
#include <weft/sync.h>

#include "demo.h"

enum { JOBS = 6, LIMIT = 2 };

struct pool {
    weft_sem slots;   /* permits: free places in the pool */
    int64_t start;    /* loop time when the jobs were spawned */
    int running;      /* jobs between acquire and release */
    int peak;         /* the most that ever ran together */
};

struct job {
    struct pool *pool;
    int id;
};

static double elapsed(const struct pool *p)
{
    return (double)(weft_now() - p->start) / 1e9;
}

static int job(void *arg, void **result)
{
    struct job *j = arg;
    struct pool *p = j->pool;
    (void)result;
    int rc = weft_sem_acquire(&p->slots);
    if (rc < 0)
        return rc;
    if (++p->running > p->peak)
        p->peak = p->running;
    printf("%.1f s: job %d starts  (%d running)\n", elapsed(p), j->id, p->running);
    rc = weft_sleep(WEFT_SEC(1)); /* the work */
    p->running--;
    if (rc == 0)
        printf("%.1f s: job %d done    (%d running)\n", elapsed(p), j->id, p->running);
    weft_sem_release(&p->slots);
    return rc;
}

static int async_main(void *arg, void **result)
{
    (void)arg, (void)result;
    struct pool pool = {.slots = WEFT_SEM_INIT(LIMIT), .start = weft_now()};
    struct job jobs[JOBS];
    weft_task *tasks[JOBS];
    size_t n = 0;
    int rc = 0;
    for (; n < JOBS; n++) {
        jobs[n] = (struct job){&pool, (int)n + 1};
        if ((rc = weft_spawn(&tasks[n], job, &jobs[n], NULL)) < 0)
            break;
    }
    if (rc == 0)
        rc = weft_gather(tasks, n, NULL, NULL, 0);
    if (rc < 0) { /* stop the rest before `pool` and `jobs` go */
        for (size_t i = 0; i < n; i++)
            weft_task_cancel(tasks[i]);
        weft_gather(tasks, n, NULL, NULL, WEFT_GATHER_COLLECT);
    }
    for (size_t i = 0; i < n; i++)
        weft_task_release(tasks[i]);
    if (rc < 0)
        return rc;
    printf("%d jobs, at most %d at once (limit %d), took %.1f s\n", JOBS, pool.peak,
           LIMIT, elapsed(&pool));
    return 0;
}

int main(int argc, char **argv)
{
    return demo_run("worker_pool", async_main, NULL, argc, argv);
}
