/*
 * bench_spawn.c - "spawn" for weft: weft_spawn() of a task whose function
 * returns at once, weft_task_join() (which runs it: the spawner parks and
 * the loop switches to the new task, which ends and wakes the spawner) and
 * weft_task_release(), from the main task of one weft_run(). The loop's
 * set-up and end stay outside the timing; stacks come from weft's pool and
 * task records from the loop's free list, so after the first spawn no
 * operation allocates.
 */
#include <weft/sched.h>
#include <weft/task.h>

#include "harness.h"

struct spawn_run {
    uint64_t iters;      /* spawns to make */
    double ns;           /* elapsed, set by main */
};

static int empty(void *arg, void **result)
{
    (void)arg;
    (void)result;
    return 0;
}

static int spawn_main(void *arg, void **result)
{
    struct spawn_run *s = arg;
    int rc = 0;
    (void)result;
    uint64_t t0 = bench_now_ns();
    for (uint64_t i = 0; i < s->iters; i++) {
        weft_task *t;
        if ((rc = weft_spawn(&t, empty, NULL, NULL)) < 0)
            return rc;
        rc = weft_task_join(t, NULL);
        weft_task_release(t);
        if (rc < 0)
            return rc;
    }
    uint64_t t1 = bench_now_ns();
    s->ns = (double)(t1 - t0);
    return 0;
}

static int run_spawn(uint64_t iters, struct bench_sample *out)
{
    struct spawn_run s = {iters, 0};
    int rc = weft_run(spawn_main, &s, NULL);
    if (rc < 0)
        return rc;
    out->ns = s.ns;
    return 0;
}

void bench_spawn_register(void)
{
    bench_register(&(struct bench){"spawn", "weft", run_spawn, 0, 0});
}
