/*
 * cancel.c - demo 15: cancelling a sleeping task (seed 002).
 *
 * something() sleeps 20 s; after 1 s main cancels it with
 * weft_task_cancel(). Its sleep returns -ECANCELED at once, it returns that
 * code, and main's join sees the task was cancelled: Python's
 * CancelledError. The run takes 1 s. --virtual runs it on the virtual
 * clock.
 */
#include <errno.h>
#include <stdio.h>

#include <weft.h>

#include "demo.h"

static int something(void *arg, void **result)
{
    (void)arg, (void)result;
    printf("something start\n");
    return weft_sleep(WEFT_SEC(20)); /* -ECANCELED when cancelled */
}

static int async_main(void *arg, void **result)
{
    (void)arg, (void)result;
    weft_task *task;
    printf("main开始\n");
    int rc = weft_spawn(&task, something, NULL, NULL);
    if (rc < 0)
        return rc;
    if ((rc = weft_sleep(WEFT_SEC(1))) == 0) {
        weft_task_cancel(task);
        rc = weft_task_join(task, NULL); /* try: await task */
        if (rc == -ECANCELED) {          /* except asyncio.CancelledError: */
            printf("main 取消错误！\n");
            rc = 0;
        }
    }
    printf("main结束\n");
    weft_task_release(task);
    return rc;
}

int main(int argc, char **argv)
{
    return demo_run("cancel", async_main, NULL, argc, argv);
}
