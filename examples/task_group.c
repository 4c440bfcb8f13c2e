/*
 * task_group.c - demo 14: asyncio.TaskGroup, structured concurrency
 * (seed 002).
 *
 * weft_group_exit() waits for every task of the group: xx (2 s) and yy
 * (4 s) both greet, at 4 s. When xx fails at 2 s instead, the group
 * cancels yy and the error reaches the caller from weft_group_exit(), at
 * 2 s. The group holds its tasks only until weft_group_exit() returns, so
 * each task leaves its outcome in its argument: main reads there what
 * Python asks of task.result() and task.cancelled(). Each part is timed as
 * the seed's @async_timed does; --virtual runs it on the virtual clock.
 */
#include <errno.h>
#include <stdio.h>

#include <weft.h>

#include "demo.h"

struct greet {
    const char *name;
    int delay;       /* seconds */
    int raises;      /* fail after the sleep, with -EINVAL (ValueError) */
    int code;        /* the task's outcome, kept past the group */
    char result[32]; /* "Hello, <name>!" */
};

static int greet(void *arg, void **result)
{
    struct greet *g = arg;
    g->code = weft_sleep(WEFT_SEC(g->delay)); /* -ECANCELED: cancelled */
    if (g->code == 0 && g->raises)
        g->code = -EINVAL; /* raise ValueError("操作错误！") */
    if (g->code == 0)
        snprintf(g->result, sizeof g->result, "Hello, %s!", g->name);
    *result = g->result;
    return g->code;
}

/* async with asyncio.TaskGroup() as group: group.create_task(greet(...)) x 2 */
static int task_group(struct greet g[2])
{
    weft_group group;
    int64_t start = weft_now();
    printf("开始执行main，参数为：(), {}\n");
    weft_group_enter(&group);
    int rc = weft_group_spawn(&group, NULL, greet, &g[0], NULL);
    if (rc == 0)
        rc = weft_group_spawn(&group, NULL, greet, &g[1], NULL);
    int err = weft_group_exit(&group); /* waits for both */
    if (rc == 0)
        rc = err;
    if (rc == 0) {
        printf("%s\n", g[0].result); /* print(task1.result()) */
        printf("%s\n", g[1].result);
    } else {                         /* except Exception as e: */
        printf("%s\n", g[1].code == -ECANCELED ? "True" : "False"); /* task2.cancelled() */
    }
    printf("结束执行main，耗时：%.1f秒\n", (double)(weft_now() - start) / 1e9);
    return rc;
}

static int async_main(void *arg, void **result)
{
    (void)arg, (void)result;
    struct greet ok[2] = {{"xx", 2, 0, 0, ""}, {"yy", 4, 0, 0, ""}};
    struct greet failing[2] = {{"xx", 2, 1, 0, ""}, {"yy", 4, 0, 0, ""}};
    int rc = task_group(ok);
    if (rc < 0)
        return rc;
    task_group(failing); /* fails with -EINVAL, caught */
    return 0;
}

int main(int argc, char **argv)
{
    return demo_run("task_group", async_main, NULL, argc, argv);
}
