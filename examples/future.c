/*
 * future.c - demo 16: a bare future resolved by another task (seed 000).
 *
 * A weft_future is a result set by hand. main creates one, starts
 * set_after() in a task of its own and waits on the future; set_after
 * sleeps 1 s, then sets the result, which wakes main: "hello ..." at once,
 * "... world" at 1 s. Without the set_result the future would never be
 * done, and weft_run() would report the deadlock. --virtual runs it on the
 * virtual clock.
 */
#include <stdio.h>

#include <weft.h>

#include "demo.h"

struct set_after {
    weft_future *fut;
    int64_t delay;
    const char *value;
};

static int set_after(void *arg, void **result)
{
    struct set_after *s = arg;
    (void)result;
    int rc = weft_sleep(s->delay); /* sleep for *delay* seconds */
    if (rc < 0)
        return rc;
    return weft_future_set_result(s->fut, (void *)s->value); /* fut.set_result(value) */
}

static int async_main(void *arg, void **result)
{
    (void)arg, (void)result;
    weft_future fut = WEFT_FUTURE_INIT; /* fut = loop.create_future() */
    struct set_after job = {&fut, WEFT_SEC(1), "... world"};
    void *value;
    int rc = weft_spawn(NULL, set_after, &job, NULL); /* loop.create_task(set_after(...)) */
    if (rc < 0)
        return rc;
    printf("hello ...\n");
    if ((rc = weft_future_await(&fut, &value)) < 0) /* print(await fut) */
        return rc;
    printf("%s\n", (const char *)value);
    return 0;
}

int main(int argc, char **argv)
{
    return demo_run("future", async_main, NULL, argc, argv);
}
