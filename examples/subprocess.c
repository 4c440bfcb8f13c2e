/*
 * subprocess.c - child processes in tasks (asyncio.create_subprocess_exec).
 *
 * First `echo` with its stdout on a pipe, read by the task as it would
 * read a socket: `await proc.stdout.read()`, then `await proc.wait()`.
 * Then 100 tasks each run `sh -c 'sleep 1'` and wait for it: the waits
 * suspend the tasks, not the thread, so the hundred seconds of sleeping
 * take one second of wall time (scripts/demo shows it).
 */
#include <errno.h>
#include <stdio.h>
#include <sys/wait.h>

#include <weft.h>

#include "demo.h"

enum { CHILDREN = 100 };

static int sleeper(void *arg, void **result)
{
    (void)arg, (void)result;
    weft_process *p;
    int status, rc = weft_process_spawn(&p, "sh", (char *[]){"sh", "-c", "sleep 1", NULL}, NULL);
    if (rc < 0)
        return rc;
    rc = weft_process_wait(p, &status);         /* await proc.wait() */
    weft_process_free(p);
    return rc < 0 ? rc : WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -ECHILD;
}

static int async_main(void *arg, void **result)
{
    (void)arg, (void)result;
    weft_process *p;
    weft_process_opts o = {.stdio = {WEFT_STDIO_NULL, WEFT_STDIO_PIPE, WEFT_STDIO_INHERIT}};
    int status, rc = weft_process_spawn(&p, "echo", (char *[]){"echo", "hello from a child", NULL},
                                        &o);
    if (rc < 0)
        return rc;
    char buf[128];
    ssize_t n = weft_read(weft_process_fd(p, 1), buf, sizeof buf - 1);
    if (n > 0)
        printf("[echo] stdout: %.*s", (int)n, buf);
    if ((rc = weft_process_wait(p, &status)) == 0)
        printf("[echo] exited with %d\n", WEXITSTATUS(status));
    weft_process_free(p);

    weft_task *ts[CHILDREN];
    int made = 0;
    for (; rc == 0 && made < CHILDREN; made++)
        rc = weft_spawn(&ts[made], sleeper, NULL, NULL);
    int ok = 0;
    for (int i = 0; i < made; i++) {
        ok += weft_task_join(ts[i], NULL) == 0;
        weft_task_release(ts[i]);
    }
    printf("%d children slept 1 s each, all at once\n", ok);
    return rc < 0 ? rc : ok == CHILDREN ? 0 : -ECHILD;
}

int main(int argc, char **argv)
{
    return demo_run("subprocess", async_main, NULL, argc, argv);
}
