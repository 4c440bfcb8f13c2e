/*
 * async_generator.c - demo 21: an asynchronous generator, "async for"
 * (seed 003).
 *
 * The generator is a coroutine that sleeps 1 s before each value. The task
 * that iterates resumes it; its weft_sleep() suspends that whole task (the
 * loop goes on meanwhile) and the generator continues where it slept. It
 * yields 0 to 9, one a second, then returns. --virtual runs it on the
 * virtual clock.
 */
#include <stdint.h>
#include <stdio.h>

#include <weft.h>

#include "demo.h"

/* async def async_generator(): for i in range(10): await sleep(1); yield i */
static void *async_generator(void *arg, void *in)
{
    (void)arg, (void)in;
    for (intptr_t i = 0; i < 10; i++) {
        if (weft_sleep(WEFT_SEC(1)) < 0)           /* await asyncio.sleep(1) */
            break;
        if (weft_coro_yield((void *)i, NULL) < 0)  /* yield i */
            break;
    }
    return NULL;
}

static int custom_coroutine(void *arg, void **result)
{
    (void)arg, (void)result;
    weft_coro *gen;
    void *item;
    int rc = weft_coro_create(&gen, async_generator, NULL, NULL);
    if (rc < 0)
        return rc;
    /* async for item in async_generator(): print(item) */
    while ((rc = weft_coro_resume(gen, NULL, &item)) == WEFT_CORO_YIELDED)
        printf("%ld\n", (long)(intptr_t)item);
    weft_coro_destroy(gen);
    return rc < 0 ? rc : 0;
}

int main(int argc, char **argv)
{
    return demo_run("async_generator", custom_coroutine, NULL, argc, argv);
}
