/*
 * compute_sum.c - demo 8: a task awaiting a sub-coroutine (seed 000).
 *
 * print_sum runs as the loop's task (loop.run_until_complete); it awaits
 * compute(), which sleeps 1 s before returning x + y. With a stack of its
 * own, the task simply calls compute(): the sleep inside suspends the whole
 * task, and the call returns the sum when the loop wakes it.
 * --virtual runs it on the virtual clock.
 */
#include <stdio.h>

#include <weft.h>

#include "demo.h"

static int compute(int x, int y, int *sum)
{
    printf("Compute %d + %d ...\n", x, y);
    int rc = weft_sleep(WEFT_MSEC(1000)); /* await asyncio.sleep(1.0) */
    if (rc < 0)
        return rc;
    *sum = x + y;
    return 0;
}

static int print_sum(void *arg, void **result)
{
    const int *xy = arg;
    int sum;
    (void)result;
    int rc = compute(xy[0], xy[1], &sum); /* result = await compute(x, y) */
    if (rc < 0)
        return rc;
    printf("%d + %d = %d\n", xy[0], xy[1], sum);
    return 0;
}

int main(int argc, char **argv)
{
    int xy[2] = {1, 2};
    return demo_run("compute_sum", print_sum, xy, argc, argv); /* print_sum(1, 2) */
}
