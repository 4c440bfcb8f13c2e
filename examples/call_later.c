/*
 * call_later.c - demo 18: plain callbacks on the loop's clock (seed 001).
 *
 * weft_now() is loop.time(). main notes it as t1, schedules three callbacks
 * - call_later(2), call_at(t1 + 1) and call_soon, in that order - then runs
 * hello1(3, 4), which sleeps 3 s. The callbacks fire in time order while it
 * sleeps, at t1 + 0, 1 and 2 s, and the clock has moved on by the sleep:
 * t2 - t1 = 3 s. Times are printed from t1, so the lines are the same from
 * run to run; --virtual runs it on the virtual clock.
 */
#include <stdint.h>
#include <stdio.h>

#include <weft.h>

#include "demo.h"

static int64_t t1; /* loop.time() when main began */

/* Callbacks run on the loop's own stack and must not suspend. */
static void callback(void *arg)
{
    printf("%-16s t1 + %.1f\n", (const char *)arg, (double)(weft_now() - t1) / 1e9);
}

static int hello1(int a, int b, int *sum)
{
    printf("准备做加法运算\n");
    int rc = weft_sleep(WEFT_SEC(3));
    if (rc < 0)
        return rc;
    *sum = a + b;
    return 0;
}

static int async_main(void *arg, void **result)
{
    (void)arg, (void)result;
    int sum, rc;
    t1 = weft_now(); /* t1 = loop.time() */
    if ((rc = weft_call_later(NULL, WEFT_SEC(2), callback, "call_later(2)")) < 0 ||
        (rc = weft_call_at(NULL, t1 + WEFT_SEC(1), callback, "call_at(t1 + 1)")) < 0 ||
        (rc = weft_call_soon(NULL, callback, "call_soon")) < 0 ||
        (rc = hello1(3, 4, &sum)) < 0)
        return rc;
    int64_t t2 = weft_now(); /* t2 = loop.time() */
    printf("t2 - t1 = %.1f\n", (double)(t2 - t1) / 1e9);
    return 0;
}

int main(int argc, char **argv)
{
    return demo_run("call_later", async_main, NULL, argc, argv);
}
