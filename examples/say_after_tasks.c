/*
 * say_after_tasks.c - demo 6: two tasks run concurrently (seed 000).
 *
 * Both tasks are created first (asyncio.create_task) and only then joined
 * (await task1; await task2): they sleep at the same time, so "world" comes
 * at 2 s and the whole run takes 2 s, not 3. Joining each task right after
 * creating it would take 3 s again. --virtual runs it on the virtual clock.
 */
#include <stdint.h>
#include <stdio.h>

#include <weft.h>

#include "demo.h"

struct say {
    int64_t delay;
    const char *what;
};

static int say_after(void *arg, void **result)
{
    struct say *s = arg;
    (void)result;
    int rc = weft_sleep(s->delay);
    if (rc < 0)
        return rc;
    printf("%s\n", s->what);
    return 0;
}

static int async_main(void *arg, void **result)
{
    (void)arg, (void)result;
    struct say hello = {WEFT_SEC(1), "hello"}, world = {WEFT_SEC(2), "world"};
    weft_task *task1, *task2;
    int rc;
    printf("started\n");
    if ((rc = weft_spawn(&task1, say_after, &hello, NULL)) < 0 ||
        (rc = weft_spawn(&task2, say_after, &world, NULL)) < 0)
        return rc;
    int64_t s_time = weft_now();
    if ((rc = weft_task_join(task1, NULL)) < 0 || (rc = weft_task_join(task2, NULL)) < 0)
        return rc;
    printf("runtime :  %.1f\n", (double)(weft_now() - s_time) / 1e9);
    printf("finished\n");
    weft_task_release(task1);
    weft_task_release(task2);
    return 0;
}

int main(int argc, char **argv)
{
    return demo_run("say_after_tasks", async_main, NULL, argc, argv);
}
