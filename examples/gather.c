/*
 * gather.c - demo 9: asyncio.gather, results in the order given (seed 001).
 *
 * hello1..3 start in the order 01 02 03 and end 02 01 03 (after 2, 3 and
 * 4 s), yet weft_gather() hands back their results in the order of the
 * array: 15 5 50. The whole run takes 4 s, the longest of the three.
 * --virtual runs it on the virtual clock.
 */
#include <stdint.h>
#include <stdio.h>

#include <weft.h>

#include "demo.h"

/* The body the three share: hello<n> sleeps `delay`, then returns `value`. */
static int hello(int n, int64_t delay, intptr_t value, void **result)
{
    printf("Hello world 0%d begin\n", n);
    int rc = weft_sleep(delay);
    if (rc < 0)
        return rc;
    printf("Hello again 0%d end\n", n);
    *result = (void *)value;
    return 0;
}

static const int a = 10, b = 5; /* hello1(10, 5) and so on */

static int hello1(void *arg, void **r) { (void)arg; return hello(1, WEFT_SEC(3), a + b, r); }
static int hello2(void *arg, void **r) { (void)arg; return hello(2, WEFT_SEC(2), a - b, r); }
static int hello3(void *arg, void **r) { (void)arg; return hello(3, WEFT_SEC(4), a * b, r); }

static int async_main(void *arg, void **result)
{
    (void)arg, (void)result;
    weft_task *tasks[3] = {NULL, NULL, NULL};
    void *results[3];
    int rc;
    if ((rc = weft_spawn(&tasks[0], hello1, NULL, NULL)) == 0 &&
        (rc = weft_spawn(&tasks[1], hello2, NULL, NULL)) == 0 &&
        (rc = weft_spawn(&tasks[2], hello3, NULL, NULL)) == 0 &&
        (rc = weft_gather(tasks, 3, results, NULL, 0)) == 0)
        for (int i = 0; i < 3; i++) /* for result in results: print(result) */
            printf("%d\n", (int)(intptr_t)results[i]);
    for (int i = 0; i < 3; i++)
        weft_task_release(tasks[i]);
    return rc;
}

int main(int argc, char **argv)
{
    return demo_run("gather", async_main, NULL, argc, argv);
}
