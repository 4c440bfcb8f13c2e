/*
 * say_after.c - demo 5: coroutines awaited one by one (seed 000).
 *
 * say_after() is the "async def": a plain function that may suspend, since
 * the task that calls it owns a whole stack. Calling it is Python's
 * `await say_after(...)`: main waits 1 s, then 2 s more, 3 s in all.
 * Run with --virtual to take the same steps on the virtual clock, at once.
 */
#include <stdint.h>
#include <stdio.h>

#include <weft.h>

#include "demo.h"

static int say_after(int64_t delay, const char *what)
{
    int rc = weft_sleep(delay);
    if (rc < 0)
        return rc;
    printf("%s\n", what);
    return 0;
}

static int async_main(void *arg, void **result)
{
    (void)arg, (void)result;
    int rc;
    printf("started\n");
    int64_t s_time = weft_now();
    if ((rc = say_after(WEFT_SEC(1), "hello")) < 0 ||
        (rc = say_after(WEFT_SEC(2), "world")) < 0)
        return rc;
    printf("runtime :  %.1f\n", (double)(weft_now() - s_time) / 1e9);
    printf("finished\n");
    return 0;
}

int main(int argc, char **argv)
{
    return demo_run("say_after", async_main, NULL, argc, argv); /* asyncio.run(main()) */
}
