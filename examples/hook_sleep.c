/*
 * hook_sleep.c - sleep(1), the plain libc call, in 1,000 tasks: with the
 * hooks (weft_hook_enable) each sleep suspends its task, not the thread,
 * so the thousand sleeps overlap and the run takes about 1 s, not 1,000.
 * --virtual runs it on the virtual clock: the same output, at once.
 */
#include <stdio.h>
#include <unistd.h>

#include <weft.h>
#include <weft/hook.h>

#include "demo.h"

enum { TASKS = 1000 };

static int sleeper(void *arg, void **result)
{
    (void)arg, (void)result;
    return sleep(1) == 0 ? 0 : -1;      /* unistd.h's sleep, hooked */
}

static int async_main(void *arg, void **result)
{
    static weft_task *t[TASKS];
    static int codes[TASKS];
    (void)arg, (void)result;
    int64_t start = weft_now();
    for (int i = 0; i < TASKS; i++)
        if (weft_spawn(&t[i], sleeper, NULL, NULL) < 0)
            return -1;
    int rc = weft_gather(t, TASKS, NULL, codes, 0);
    for (int i = 0; i < TASKS; i++)
        weft_task_release(t[i]);
    if (rc == 0)
        printf("%d tasks slept 1 s each: total %.1f s\n", TASKS,
               (double)(weft_now() - start) / 1e9);
    return rc;
}

int main(int argc, char **argv)
{
    if (weft_hook_enable() < 0)
        return 1;
    return demo_run("hook_sleep", async_main, NULL, argc, argv);
}
