/*
 * timeout.c - demo 13: asyncio.timeout and timeout_at (seed 002).
 *
 * A timeout scope puts a deadline over a block of awaits: task AA takes
 * 1 s, task BB 3 s, the scope 2 s. Awaiting BB fails with -ETIMEDOUT at
 * 2 s, weft_scope_exit() reports the expiry, and BB is cancelled, as asyncio
 * cancels the task being awaited. timeout(2) counts from now, timeout_at()
 * takes a time of the loop's clock: each prints "超时了" at 2 s.
 * --virtual runs it on the virtual clock.
 */
#include <errno.h>
#include <stdio.h>

#include <weft.h>

#include "demo.h"

struct enternity {
    int delay;        /* seconds */
    const char *what; /* the result */
};

static int enternity(void *arg, void **result)
{
    struct enternity *e = arg;
    int rc = weft_sleep(WEFT_SEC(e->delay));
    if (rc < 0)
        return rc;
    *result = (void *)e->what;
    return 0;
}

/* The body of the "async with": two tasks, awaited one after the other. */
static int body(void)
{
    static struct enternity aa = {1, "hello"}, bb = {3, "world"}; /* outlive body() */
    weft_task *task1 = NULL, *task2 = NULL;
    int rc;
    if ((rc = weft_spawn(&task1, enternity, &aa, &(weft_task_opts){.name = "AA"})) == 0 &&
        (rc = weft_spawn(&task2, enternity, &bb, &(weft_task_opts){.name = "BB"})) == 0 &&
        (rc = weft_task_join(task1, NULL)) == 0)
        rc = weft_task_join(task2, NULL);
    weft_task_cancel(task2); /* if the deadline stopped the await */
    weft_task_release(task1);
    weft_task_release(task2);
    return rc;
}

static int async_main(void *arg, void **result)
{
    (void)arg, (void)result;
    weft_scope scope;
    weft_scope_enter_timeout(&scope, WEFT_SEC(2)); /* async with asyncio.timeout(2): */
    int rc = body();
    if (weft_scope_exit(&scope) == -ETIMEDOUT)     /* except asyncio.TimeoutError: */
        printf("超时了\n");
    else if (rc < 0)
        return rc;

    int64_t deadline = weft_now() + WEFT_SEC(2); /* loop.time() + 2 */
    weft_scope_enter(&scope, deadline);           /* async with asyncio.timeout_at(deadline): */
    rc = body();
    if (weft_scope_exit(&scope) == -ETIMEDOUT)
        printf("超时了\n");
    else if (rc < 0)
        return rc;
    return 0;
}

int main(int argc, char **argv)
{
    return demo_run("timeout", async_main, NULL, argc, argv);
}
