/*
 * exceptions.c - demo 24: a task's failure reaches whoever awaits it
 * (seeds 002, 003).
 *
 * C has no exceptions: a task fails by returning a negative errno, which
 * weft keeps as its outcome. task_will_fail() fails after 1 s; at 2 s main
 * joins it and gets that error back (Python's task.exception()). Then a
 * gather over two greetings and that failure: a plain gather fails with
 * the first error, at 1 s, and leaves the others running; then
 * WEFT_GATHER_COLLECT (return_exceptions=True) waits for all and returns
 * each outcome in its place, at 3 s.
 * Errors print with weft_strerror(); --virtual runs it on the virtual clock.
 */
#include <errno.h>
#include <stdio.h>

#include <weft.h>

#include "demo.h"

static int task_will_fail(void *arg, void **result)
{
    (void)arg, (void)result;
    int rc = weft_sleep(WEFT_SEC(1));
    return rc < 0 ? rc : -EINVAL; /* raise ValueError('发生异常啦！') */
}

struct greet {
    const char *text; /* the result */
    int delay;        /* seconds */
};

static int greet(void *arg, void **result)
{
    struct greet *g = arg;
    int rc = weft_sleep(WEFT_SEC(g->delay));
    *result = (void *)g->text;
    return rc;
}

static int async_main(void *arg, void **result)
{
    (void)arg, (void)result;
    struct greet zhang = {"Hello, 张三!", 2}, wang = {"Hello, 王五!", 3};
    weft_task *task, *tasks[3] = {NULL, NULL, NULL};
    void *results[3];
    int codes[3], rc;
    if ((rc = weft_spawn(&task, task_will_fail, NULL, NULL)) < 0)
        return rc;
    if ((rc = weft_sleep(WEFT_SEC(2))) < 0)
        return rc;
    printf("%s\n", weft_strerror(weft_task_join(task, NULL))); /* print(task.exception()) */
    weft_task_release(task);

    if ((rc = weft_spawn(&tasks[0], greet, &zhang, NULL)) == 0 &&
        (rc = weft_spawn(&tasks[1], task_will_fail, NULL, NULL)) == 0 &&
        (rc = weft_spawn(&tasks[2], greet, &wang, NULL)) == 0) {
        rc = weft_gather(tasks, 3, results, codes, 0); /* try: await gather(...) */
        printf("%s\n", weft_strerror(rc));             /* except Exception as e: print(e) */
        rc = weft_gather(tasks, 3, results, codes, WEFT_GATHER_COLLECT);
    }
    if (rc == 0) { /* print(await gather(..., return_exceptions=True)) */
        for (int i = 0; i < 3; i++) {
            printf("%s", i ? ", " : "[");
            if (codes[i] < 0)
                printf("%s", weft_strerror(codes[i])); /* the error in its place */
            else
                printf("'%s'", (char *)results[i]);
        }
        printf("]\n");
    }
    for (int i = 0; i < 3; i++)
        weft_task_release(tasks[i]);
    return rc;
}

int main(int argc, char **argv)
{
    return demo_run("exceptions", async_main, NULL, argc, argv);
}
