/*
 * sleep_dispatcher.c - demo 7: the hand-made sleep dispatcher (seed 004).
 *
 * The seed builds its own dispatcher: generators yield CoroutinueSleep
 * events, and CoroutinueManager.polling() resumes each generator when its
 * event is ready. weft's loop is that dispatcher: func_a and func_b are two
 * tasks, each weft_sleep() hands control back to the loop, and the loop
 * wakes the task when its time has come. func_a sleeps 1 + 1 + 1 s and
 * func_b 3 s, both from t = 0: the whole run takes 3 s, not 6.
 * Times are printed from the start of the run; --virtual uses the virtual
 * clock.
 */
#include <stdint.h>
#include <stdio.h>

#include <weft.h>

#include "demo.h"

static int64_t t1; /* the start of the run */

static double elapsed(void) { return (double)(weft_now() - t1) / 1e9; }

static int func_a(void *arg, void **result)
{
    (void)arg, (void)result;
    printf("a函数开始执行:  %.1f\n", elapsed());
    for (int i = 0; i < 3; i++) {
        int rc = weft_sleep(WEFT_SEC(1)); /* yield CoroutinueSleep(1) */
        if (rc < 0)
            return rc;
    }
    printf("a函数执行结束:  %.1f\n", elapsed());
    return 0;
}

static int func_b(void *arg, void **result)
{
    (void)arg, (void)result;
    printf("b函数开始执行:  %.1f\n", elapsed());
    int rc = weft_sleep(WEFT_SEC(3)); /* yield CoroutinueSleep(3) */
    if (rc < 0)
        return rc;
    printf("b函数执行结束:  %.1f\n", elapsed());
    return 0;
}

static int async_main(void *arg, void **result)
{
    (void)arg, (void)result;
    weft_task *tasks[2] = {NULL, NULL};
    t1 = weft_now();
    /* cm = CoroutinueManager([func_a(), func_b()]); cm.polling() */
    int rc = weft_spawn(&tasks[0], func_a, NULL, NULL);
    if (rc == 0 && (rc = weft_spawn(&tasks[1], func_b, NULL, NULL)) == 0)
        rc = weft_gather(tasks, 2, NULL, NULL, 0);
    if (rc == 0)
        printf("总耗时:  %.1f\n", elapsed());
    weft_task_release(tasks[0]);
    weft_task_release(tasks[1]);
    return rc;
}

int main(int argc, char **argv)
{
    return demo_run("sleep_dispatcher", async_main, NULL, argc, argv);
}
