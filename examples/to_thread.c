/*
 * to_thread.c - demo 20: a blocking call on the worker pool (seed 002,
 * asyncio.to_thread; seed 001's run_in_executor is the same call).
 *
 * blocking_function() sleeps 2 s in the kernel (nanosleep), as time.sleep(2)
 * does. main gathers it, run by weft_to_thread() on a worker thread, with a
 * 1 s weft_sleep(): the loop keeps running while the worker blocks, so the
 * whole gather takes 2 s. With --inline the task calls blocking_function()
 * itself, which blocks the loop's thread: the sleep cannot even start until
 * it returns, and the gather takes 3 s.
 *
 * The blocking call takes real time whatever the loop's clock, so this demo
 * has no --virtual mode worth testing; --virtual is accepted (then the
 * loop's own sleep is virtual and only the blocking call counts).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <weft.h>

/* The synchronous, blocking function of the seed. */
static void *blocking_function(void *arg)
{
    (void)arg;
    printf("blocking开始\n");
    struct timespec ts = {.tv_sec = 2, .tv_nsec = 0};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
    printf("blocking结束\n");
    return "success";
}

static int inline_mode;

/* asyncio.to_thread(blocking_function), or the blocking call itself. */
static int to_thread_task(void *arg, void **result)
{
    (void)arg;
    if (inline_mode) {
        *result = blocking_function(NULL);
        return 0;
    }
    return weft_to_thread(blocking_function, NULL, result);
}

/* asyncio.sleep(1): its result is None. */
static int sleep_task(void *arg, void **result)
{
    (void)arg;
    *result = NULL;
    return weft_sleep(WEFT_SEC(1));
}

static int async_main(void *arg, void **result)
{
    (void)arg, (void)result;
    weft_task *tasks[2];
    void *results[2];
    int rc;
    int64_t start = weft_now();
    printf("main开始\n");
    if ((rc = weft_spawn(&tasks[0], to_thread_task, NULL, NULL)) < 0)
        return rc;
    if ((rc = weft_spawn(&tasks[1], sleep_task, NULL, NULL)) < 0) {
        weft_task_cancel(tasks[0]);
        weft_task_release(tasks[0]);
        return rc;
    }
    rc = weft_gather(tasks, 2, results, NULL, 0);
    weft_task_release(tasks[0]);
    weft_task_release(tasks[1]);
    if (rc < 0)
        return rc;
    /* print(results): ['success', None] */
    printf("['%s', %s]\n", (const char *)results[0], results[1] ? "?" : "None");
    printf("main结束\n");
    printf("total: %.1f s\n", (double)(weft_now() - start) / 1e9);
    return 0;
}

int main(int argc, char **argv)
{
    weft_loop_opts opts = {0};
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--inline"))
            inline_mode = 1;
        else if (!strcmp(argv[i], "--virtual"))
            opts.virtual_clock = 1;
        else {
            fprintf(stderr, "usage: to_thread [--inline] [--virtual]\n");
            return 2;
        }
    }
    int rc = weft_run_opts(async_main, NULL, NULL, &opts);
    if (rc < 0)
        fprintf(stderr, "to_thread: %s\n", weft_strerror(rc));
    return rc < 0;
}
