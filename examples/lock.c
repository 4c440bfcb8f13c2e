/*
 * lock.c - demo 19: asyncio.Lock, a task mutex held across a yield
 * (seed 001, async_lock.py).
 *
 * Tasks one and two both run work(): each prints a marker line, then takes
 * the lock. one gets it, prints "one start" and yields (asyncio.sleep(0))
 * while holding it; two runs meanwhile, prints its marker and waits for the
 * lock. one resumes, marks the shared list, prints "one end" and unlocks,
 * which hands the lock to two (FIFO hand-off); two then finds the mark and
 * returns at once. Without the lock, "two start" would come before
 * "----------". async with lock: is weft_mutex_lock() ... weft_mutex_unlock()
 * on every way out of the block. --virtual runs it on the virtual clock.
 */
#include <stdio.h>

#include <weft.h>
#include <weft/sync.h>

#include "demo.h"

static weft_mutex lock = WEFT_MUTEX_INIT; /* lock = asyncio.Lock() */
static int marked;                        /* 'x' in l */

/* async def work(name): returns name, or the error that stopped it */
static int work(const char *name)
{
    printf("lalalalalalalala\n");
    int rc = weft_mutex_lock(&lock); /* async with lock: */
    if (rc < 0)
        return rc;
    printf("%s start\n", name);
    if (!marked) { /* if 'x' in l: return name */
        rc = weft_yield(); /* await asyncio.sleep(0) */
        if (rc == 0) {
            printf("----------\n");
            marked = 1; /* l.append('x') */
            printf("%s end\n", name);
        }
    }
    weft_mutex_unlock(&lock); /* the end of the async with block */
    return rc;
}

/* async def one() / two(): name = await work(name); print(name + ' ok') */
static int caller(void *arg, void **result)
{
    const char *name = arg;
    (void)result;
    int rc = work(name);
    if (rc < 0)
        return rc;
    printf("%s ok\n", name);
    return 0;
}

static int async_main(void *arg, void **result)
{
    (void)arg, (void)result;
    weft_task *tasks[2] = {NULL, NULL};
    int rc;
    /* asyncio.wait([one(), two()]) */
    if ((rc = weft_spawn(&tasks[0], caller, "one", NULL)) == 0 &&
        (rc = weft_spawn(&tasks[1], caller, "two", NULL)) == 0)
        rc = weft_gather(tasks, 2, NULL, NULL, 0);
    weft_task_release(tasks[0]);
    weft_task_release(tasks[1]);
    return rc;
}

int main(int argc, char **argv)
{
    return demo_run("lock", async_main, NULL, argc, argv);
}
