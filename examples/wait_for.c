/*
 * wait_for.c - demo 12: one task awaited with a timeout (seed 002).
 *
 * enternity() would take 5 s; weft_wait_for() gives it 1 s, then cancels
 * it, waits until it has ended, and returns -ETIMEDOUT: "timeout!" at 1 s.
 * The task cannot be made to go on after that. --virtual runs it on the
 * virtual clock.
 */
#include <errno.h>
#include <stdio.h>

#include <weft.h>

#include "demo.h"

static int enternity(void *arg, void **result)
{
    int rc = weft_sleep(WEFT_SEC(5));
    if (rc < 0)
        return rc; /* -ECANCELED: wait_for gave up on it */
    *result = arg;
    return 0;
}

static int async_main(void *arg, void **result)
{
    (void)arg, (void)result;
    weft_task *task;
    int rc = weft_spawn(&task, enternity, "hello", NULL);
    if (rc < 0)
        return rc;
    rc = weft_wait_for(task, WEFT_SEC(1), NULL); /* await wait_for(enternity('hello'), 1) */
    if (rc == -ETIMEDOUT) {                      /* except asyncio.TimeoutError: */
        printf("timeout!\n");
        rc = 0;
    }
    weft_task_release(task);
    return rc;
}

int main(int argc, char **argv)
{
    return demo_run("wait_for", async_main, NULL, argc, argv);
}
