/*
 * demo.h - the main() every loop demo shares: demo_run() runs `fn` as the
 * loop's main task, on the virtual clock when the first argument is
 * --virtual (as the demos' tests run them), and reports a failed run on
 * stderr as "<name>: <error>".
 */
#ifndef WEFT_EXAMPLES_DEMO_H
#define WEFT_EXAMPLES_DEMO_H

#include <stdio.h>
#include <string.h>

#include <weft.h>

/* Returns the process's exit status: 0, or 1 if the run failed. */
static inline int demo_run(const char *name, weft_task_fn fn, void *arg, int argc, char **argv)
{
    weft_loop_opts opts = {.virtual_clock = argc > 1 && !strcmp(argv[1], "--virtual")};
    int rc = weft_run_opts(fn, arg, NULL, &opts);
    if (rc < 0)
        fprintf(stderr, "%s: %s\n", name, weft_strerror(rc));
    return rc < 0;
}

#endif
