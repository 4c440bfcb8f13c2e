/*
 * async_with.c - demo 22: an asynchronous context manager, "async with"
 * (seed 003).
 *
 * Entering and leaving the context each sleep 0.5 s: they are plain
 * functions that suspend the calling task, called around the block as
 * "async with" calls __aenter__ and __aexit__. before, >entering, within,
 * >exiting, after, in 1 s. --virtual runs it on the virtual clock.
 */
#include <stdio.h>

#include <weft.h>

#include "demo.h"

/* __aenter__ */
static int custom_context_manager_enter(void)
{
    printf(">entering the context manager\n");
    return weft_sleep(WEFT_MSEC(500)); /* block for a moment */
}

/* __aexit__ */
static int custom_context_manager_exit(void)
{
    printf(">exiting the context manager\n");
    return weft_sleep(WEFT_MSEC(500)); /* block for a moment */
}

static int custom_coroutine(void *arg, void **result)
{
    (void)arg, (void)result;
    printf("before the context manager\n");
    int rc = custom_context_manager_enter(); /* async with CustomContextManager(): */
    if (rc < 0)
        return rc;
    printf("within the manager\n");
    rc = custom_context_manager_exit();
    if (rc < 0)
        return rc;
    printf("after the context manager\n");
    return 0;
}

int main(int argc, char **argv)
{
    return demo_run("async_with", custom_coroutine, NULL, argc, argv);
}
