/*
 * gather_greet.c - demo 9, second seed: gathering greet() (seed 002).
 *
 * Three greetings that take 2, 1 and 3 s run at once: the gather takes
 * 3 s, not 6, and its results keep the order the tasks were given in, not
 * the order they finished. main is timed as the seed's @async_timed does.
 * --virtual runs it on the virtual clock.
 */
#include <stdio.h>

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
    snprintf(g->text, sizeof g->text, "Hello, %s!", g->name);
    *result = g->text;
    return 0;
}

static int async_main(void *arg, void **result)
{
    (void)arg, (void)result;
    struct greet g[3] = {{"张三", 2, ""}, {"李四", 1, ""}, {"王五", 3, ""}};
    weft_task *tasks[3] = {NULL, NULL, NULL};
    void *results[3];
    int rc = 0;
    printf("开始执行main，参数为：(), {}\n");
    int64_t start = weft_now();
    for (int i = 0; i < 3 && rc == 0; i++)
        rc = weft_spawn(&tasks[i], greet, &g[i], NULL);
    if (rc == 0 && (rc = weft_gather(tasks, 3, results, NULL, 0)) == 0)
        printf("['%s', '%s', '%s']\n", (char *)results[0], (char *)results[1],
               (char *)results[2]);
    printf("结束执行main，耗时：%.1f秒\n", (double)(weft_now() - start) / 1e9);
    for (int i = 0; i < 3; i++)
        weft_task_release(tasks[i]);
    return rc;
}

int main(int argc, char **argv)
{
    return demo_run("gather_greet", async_main, NULL, argc, argv);
}
