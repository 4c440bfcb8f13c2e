/*
 * hook_main.c - what libweft_hook.so adds when preloaded into a program
 * built without weft: the hooks turn on as the library loads, and with
 * WEFT_HOOK_MAIN=N in the environment (scripts of weft-run set it) the
 * program's main() runs as N tasks of one weft loop at once, each with
 * the same arguments, so that N copies of a blocking program share one
 * thread. main's exit status is the first non-zero one of the copies.
 *
 * main is reached through __libc_start_main, which the library interposes:
 * it swaps the program's main for one that starts the loop. The tasks get
 * stacks of WEFT_HOOK_STACK bytes (1 MiB by default): programs written for
 * a thread's stack expect more than a task's default.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "weft.h"
#include "weft/hook.h"

typedef int (*main_fn)(int, char **, char **);

/* The program's main and its arguments, kept for the tasks. */
static struct {
    main_fn main;
    int argc;
    char **argv;
    char **envp;
    long copies;                /* WEFT_HOOK_MAIN */
    size_t stack;               /* WEFT_HOOK_STACK */
    int status;                 /* first non-zero exit status */
} prog;

__attribute__((constructor)) static void enable_on_load(void)
{
    weft_hook_enable();
}

static int copy_main(void *arg, void **result)
{
    (void)arg, (void)result;
    int st = prog.main(prog.argc, prog.argv, prog.envp);
    if (st && !prog.status)
        prog.status = st;
    return 0;
}

static int loop_main(void *arg, void **result)
{
    (void)arg, (void)result;
    weft_task_opts o = {.stack_size = prog.stack};
    weft_task **t = calloc((size_t)prog.copies, sizeof *t);
    long n = 0;
    int rc = t ? 0 : -ENOMEM;
    while (rc == 0 && n < prog.copies)
        if ((rc = weft_spawn(&t[n], copy_main, NULL, &o)) == 0)
            n++;
    for (long i = 0; i < n; i++) {
        weft_task_join(t[i], NULL);
        weft_task_release(t[i]);
    }
    free(t);
    return rc;
}

static int start_loop(int argc, char **argv, char **envp)
{
    prog.argc = argc, prog.argv = argv, prog.envp = envp;
    int rc = weft_run(loop_main, NULL, NULL);
    if (rc < 0) {
        fprintf(stderr, "weft-run: %s\n", weft_strerror(rc));
        return 127;
    }
    return prog.status;
}

/* getenv() before libc has set environ: from the start arguments. */
static const char *env_of(char **argv, int argc, const char *name)
{
    size_t len = strlen(name);
    for (char **e = argv + argc + 1; *e; e++)
        if (!strncmp(*e, name, len) && (*e)[len] == '=')
            return *e + len + 1;
    return NULL;
}

int __libc_start_main(main_fn main, int argc, char **argv, void (*init)(void),
                      void (*fini)(void), void (*rtld_fini)(void), void *stack_end);
int __libc_start_main(main_fn main, int argc, char **argv, void (*init)(void),
                      void (*fini)(void), void (*rtld_fini)(void), void *stack_end)
{
    int (*real)(main_fn, int, char **, void (*)(void), void (*)(void), void (*)(void),
                void *);
    *(void **)&real = dlsym(RTLD_NEXT, "__libc_start_main");
    const char *copies = env_of(argv, argc, "WEFT_HOOK_MAIN");
    const char *stack = env_of(argv, argc, "WEFT_HOOK_STACK");
    if (copies && atol(copies) > 0) {
        prog.main = main;
        prog.copies = atol(copies);
        prog.stack = stack && atol(stack) > 0 ? (size_t)atol(stack) : (size_t)1 << 20;
        main = start_loop;
    }
    return real(main, argc, argv, init, fini, rtld_fini, stack_end);
}
