/*
 * done_callback.c - demo 17: callbacks run when a task ends (seeds 000,
 * 002).
 *
 * weft_task_add_done_callback() arranges for a function to run on the loop
 * once the task has ended; it gets the task, and reads its result with
 * weft_task_result(). First the callback of a 2 s task prints its result;
 * then one that takes an extra argument (functools.partial in Python) runs
 * after a 1 s task, before main, which joined that task, goes on.
 * --virtual runs it on the virtual clock.
 */
#include <stdint.h>
#include <stdio.h>

#include <weft.h>

#include "demo.h"

struct say {
    int64_t delay;
    const char *what; /* the result */
};

/* say_after() of seed 000; enternity() of seed 002 is the same. */
static int say_after(void *arg, void **result)
{
    struct say *s = arg;
    int rc = weft_sleep(s->delay);
    if (rc < 0)
        return rc;
    *result = (void *)s->what;
    return 0;
}

static void callback(weft_task *future, void *arg)
{
    void *value;
    (void)arg;
    if (weft_task_result(future, &value) == 0)
        printf("Callback:  %s\n", (char *)value);
}

static void callback_delay(weft_task *future, void *arg) /* callback(delay, future) */
{
    void *value;
    printf("回调\n");
    printf("delay: %d\n", *(const int *)arg);
    if (weft_task_result(future, &value) == 0)
        printf("执行结果： %s\n", (char *)value);
}

static int async_main(void *arg, void **result)
{
    (void)arg, (void)result;
    struct say hello2 = {WEFT_SEC(2), "hello"}, hello1 = {WEFT_SEC(1), "hello"};
    static const int delay = 2;
    weft_task *task = NULL, *task2 = NULL;
    int rc;
    if ((rc = weft_spawn(&task, say_after, &hello2, NULL)) == 0 &&
        (rc = weft_task_add_done_callback(task, callback, NULL)) == 0 &&
        (rc = weft_task_join(task, NULL)) == 0) { /* loop.run_until_complete(task) */
        printf("main开始\n");
        if ((rc = weft_spawn(&task2, say_after, &hello1, NULL)) == 0 &&
            (rc = weft_task_add_done_callback(task2, callback_delay, (void *)&delay)) == 0 &&
            (rc = weft_task_join(task2, NULL)) == 0)
            printf("main结束\n");
    }
    weft_task_release(task);
    weft_task_release(task2);
    return rc;
}

int main(int argc, char **argv)
{
    return demo_run("done_callback", async_main, NULL, argc, argv);
}
