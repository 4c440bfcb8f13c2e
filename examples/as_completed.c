/*
 * as_completed.c - demo 10: results in the order the tasks end (seed 002).
 *
 * First 张三 (2 s) and 李四 (1 s): 李四's greeting comes first. Then a task
 * that fails after 1 s next to one that takes 3 s: the failure ends the
 * loop over as_completed, but cancels nothing; main finds the task still
 * running among weft_task_all() and waits for it. --virtual runs it on the
 * virtual clock.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <weft.h>

#include "demo.h"

struct greet {
    const char *name;
    int delay;     /* seconds */
    char text[32]; /* the result, "Hello, <name>!" */
};

static int greet(void *arg, void **result)
{
    struct greet *g = arg;
    int rc = weft_sleep(WEFT_SEC(g->delay));
    if (rc < 0)
        return rc;
    if (!strcmp(g->name, "xx"))
        return -EINVAL; /* greet_group('xx'): raise ValueError("执行错误！") */
    snprintf(g->text, sizeof g->text, "Hello, %s!", g->name);
    *result = g->text;
    return 0;
}

/* for task in as_completed([greet(g[0]), greet(g[1])], timeout): print(await task) */
static int print_as_completed(weft_task *tasks[2], struct greet g[2], int64_t timeout)
{
    weft_as_completed ac;
    weft_task *t;
    void *text;
    int rc;
    if ((rc = weft_spawn(&tasks[0], greet, &g[0], NULL)) < 0 ||
        (rc = weft_spawn(&tasks[1], greet, &g[1], NULL)) < 0 ||
        (rc = weft_as_completed_init(&ac, tasks, 2, timeout)) < 0)
        return rc;
    while ((rc = weft_as_completed_next(&ac, &t)) == 0 &&
           (rc = weft_task_result(t, &text)) == 0) /* fails as the task did */
        printf("%s\n", (char *)text);
    return rc == 1 ? 0 : rc; /* 1: every task was returned */
}

static int async_main(void *arg, void **result)
{
    (void)arg, (void)result;
    struct greet aws[2] = {{"张三", 2, ""}, {"李四", 1, ""}};
    struct greet g[2] = {{"xx", 1, ""}, {"李四", 3, ""}};
    weft_task *first[2] = {NULL, NULL}, *second[2] = {NULL, NULL}, *all[4];
    int rc = print_as_completed(first, aws, WEFT_FOREVER);
    print_as_completed(second, g, WEFT_SEC(4)); /* try: ... except Exception: pass */
    size_t n = weft_task_all(all, 4);           /* the tasks not ended: main, 李四 */
    for (size_t i = 0; i < n && i < 4 && rc == 0; i++) {
        void *text;
        if (strcmp(weft_task_name(all[i]), "main") == 0)
            continue; /* main cannot await itself */
        if ((rc = weft_task_join(all[i], &text)) == 0)
            printf("%s\n", (char *)text);
    }
    for (int i = 0; i < 2; i++) {
        weft_task_release(first[i]);
        weft_task_release(second[i]);
    }
    return rc;
}

int main(int argc, char **argv)
{
    return demo_run("as_completed", async_main, NULL, argc, argv);
}
