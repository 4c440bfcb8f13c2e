/*
 * wait.c - demo 11: asyncio.wait, done and pending sets (seed 002).
 *
 * Three tasks of 1, 3 and 4 s under a 2 s timeout: at 2 s one is done
 * ("hello") and two are pending; a timeout cancels nothing, so gathering
 * the pending ones gives their results at 4 s. Then return_when on tasks of
 * 1 s, 2 s (failing) and 3 s: FIRST_COMPLETED returns at 1 s,
 * FIRST_EXCEPTION at 2 s, ALL_COMPLETED at 3 s. --virtual runs it on the
 * virtual clock.
 */
#include <errno.h>
#include <stdio.h>

#include <weft.h>

#include "demo.h"

struct enternity {
    int delay;        /* seconds */
    const char *what; /* the result; NULL: fail instead */
};

static int enternity(void *arg, void **result)
{
    struct enternity *e = arg;
    int rc = weft_sleep(WEFT_SEC(e->delay));
    if (rc < 0)
        return rc;
    *result = (void *)e->what;
    return e->what ? 0 : -EINVAL;
}

static int async_main(void *arg, void **result)
{
    (void)arg, (void)result;
    struct enternity e[3] = {{1, "hello"}, {3, "python"}, {4, "asyncio"}};
    struct enternity f[3] = {{1, "hello"}, {2, NULL}, {3, "world"}};
    static const struct { int when; const char *name; } modes[3] = {
        {WEFT_FIRST_COMPLETED, "FIRST_COMPLETED"}, {WEFT_FIRST_EXCEPTION, "FIRST_EXCEPTION"},
        {WEFT_ALL_COMPLETED, "ALL_COMPLETED"}};
    weft_task *tasks[3] = {NULL}, *more[3] = {NULL}, *done[3], *pending[3];
    void *value, *results[3];
    size_t nd, np;
    int rc = 0;
    for (int i = 0; i < 3 && rc == 0; i++)
        rc = weft_spawn(&tasks[i], enternity, &e[i], NULL);
    if (rc == 0)
        rc = weft_wait(tasks, 3, WEFT_SEC(2), WEFT_ALL_COMPLETED, done, &nd, pending, &np);
    for (size_t i = 0; rc == 0 && i < nd; i++)
        if (weft_task_result(done[i], &value) == 0) /* for task in done_tasks: */
            printf("%s\n", (char *)value);
    if (rc == 0 && (rc = weft_gather(pending, np, results, NULL, 0)) == 0) {
        for (size_t i = 0; i < np; i++) /* print(await gather(*pending_tasks)) */
            printf("%s'%s'", i ? ", " : "[", (char *)results[i]);
        printf("]\n");
    }

    int64_t start = weft_now();
    for (int i = 0; i < 3 && rc == 0; i++)
        rc = weft_spawn(&more[i], enternity, &f[i], NULL);
    for (int i = 0; i < 3 && rc == 0; i++) /* wait(tasks, return_when=...) */
        if ((rc = weft_wait(more, 3, WEFT_FOREVER, modes[i].when, NULL, &nd, NULL, &np)) == 0)
            printf("%s: %zu done, %zu pending, at %.1f s\n", modes[i].name, nd, np,
                   (double)(weft_now() - start) / 1e9);
    for (int i = 0; i < 3; i++) {
        if (more[i])            /* the failure FIRST_EXCEPTION saw, read: */
            weft_task_result(more[i], NULL);   /* task.exception() */
        weft_task_release(tasks[i]);
        weft_task_release(more[i]);
    }
    return rc;
}

int main(int argc, char **argv)
{
    return demo_run("wait", async_main, NULL, argc, argv);
}
