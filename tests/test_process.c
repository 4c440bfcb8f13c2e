/*
 * test_process.c - child processes (include/weft/process.h): exit codes
 * and death by a signal, kill, a program that does not exist (an error and
 * no zombie), environment and working directory, /dev/null, 8 MiB through
 * cat while its output is read (no deadlock), many children waited for at
 * once on one thread, a cancelled wait leaving the child running, and bad
 * arguments. Real processes on the real clock; nothing here times them.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include <weft.h>

#include "support.h"

/* Runs `argv` to its end; returns its wait status, or a negative errno. */
static int run_status(char *const argv[], const weft_process_opts *opts)
{
    weft_process *p;
    int status = -1;
    int rc = weft_process_spawn(&p, argv[0], argv, opts);
    if (rc < 0)
        return rc;
    rc = weft_process_wait(p, &status);
    EXPECT_CODE(weft_process_free(p), 0);
    return rc < 0 ? rc : status;
}

static int main_exit_codes(void *arg, void **result)
{
    (void)arg;
    (void)result;
    int st = run_status((char *[]){"true", NULL}, NULL);
    EXPECT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    st = run_status((char *[]){"sh", "-c", "exit 3", NULL}, NULL);
    EXPECT(WIFEXITED(st) && WEXITSTATUS(st) == 3);
    st = run_status((char *[]){"sh", "-c", "kill -TERM $$", NULL}, NULL);
    EXPECT(WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM);

    weft_process *p;
    int status;
    EXPECT_CODE(weft_process_spawn(&p, "sleep", (char *[]){"sleep", "10", NULL}, NULL), 0);
    EXPECT(weft_process_pid(p) > 0);
    EXPECT_CODE(weft_process_kill(p, SIGKILL), 0);
    EXPECT_CODE(weft_process_wait(p, &status), 0);
    EXPECT(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    EXPECT_CODE(weft_process_wait(p, &status), 0);  /* again: the same */
    EXPECT(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    EXPECT_CODE(weft_process_kill(p, SIGTERM), -ESRCH);
    EXPECT_CODE(weft_process_free(p), 0);
    return 0;
}

static void test_process_exit_codes_and_signals(void **state)
{
    (void)state;
    assert_code(weft_run(main_exit_codes, NULL, NULL), 0);
    assert_expectations();
}

static int main_missing(void *arg, void **result)
{
    (void)arg;
    (void)result;
    weft_process *p = NULL;
    EXPECT_CODE(weft_process_spawn(&p, "/nonexistent/weft-no-such-program",
                                   (char *[]){"x", NULL}, NULL), -ENOENT);
    EXPECT_CODE(weft_process_spawn(&p, "weft-no-such-program-in-path",
                                   (char *[]){"x", NULL}, NULL), -ENOENT);
    EXPECT(p == NULL);
    /* No child is left, zombie or not. */
    EXPECT_CODE(waitpid(-1, NULL, WNOHANG), -1);
    EXPECT_CODE(errno, ECHILD);
    return 0;
}

static void test_process_missing_program(void **state)
{
    (void)state;
    assert_code(weft_run(main_missing, NULL, NULL), 0);
    assert_expectations();
}

/* Reads all of `fd` into buf (NUL-terminated); returns the byte count. */
static size_t read_all(int fd, char *buf, size_t cap)
{
    size_t len = 0;
    ssize_t r;
    while (len < cap - 1 && (r = weft_read(fd, buf + len, cap - 1 - len)) > 0)
        len += (size_t)r;
    buf[len] = '\0';
    return len;
}

static int main_env_cwd(void *arg, void **result)
{
    (void)arg;
    (void)result;
    weft_process *p;
    char out[256];
    int status;
    weft_process_opts o = {.envp = (char *[]){"WEFT_TEST=bar", "PATH=/usr/bin:/bin", NULL},
                           .cwd = "/tmp",
                           .stdio = {WEFT_STDIO_NULL, WEFT_STDIO_PIPE, WEFT_STDIO_NULL}};
    EXPECT_CODE(weft_process_spawn(&p, "sh", (char *[]){"sh", "-c",
                                   "pwd; echo $WEFT_TEST; cat; echo err >&2", NULL}, &o), 0);
    EXPECT_CODE(weft_process_fd(p, 0), -ENOENT);
    EXPECT_CODE(weft_process_fd(p, 2), -ENOENT);
    read_all(weft_process_fd(p, 1), out, sizeof out);
    EXPECT(strcmp(out, "/tmp\nbar\n") == 0);
    EXPECT_CODE(weft_process_wait(p, &status), 0);
    EXPECT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    EXPECT_CODE(weft_process_close_fd(p, 1), 0);
    EXPECT_CODE(weft_process_close_fd(p, 1), -ENOENT);
    EXPECT_CODE(weft_process_free(p), 0);
    return 0;
}

static void test_process_env_cwd_and_null(void **state)
{
    (void)state;
    assert_code(weft_run(main_env_cwd, NULL, NULL), 0);
    assert_expectations();
}

enum { CAT_BYTES = 8 << 20 };

/* Feeds CAT_BYTES of a pattern into the child's stdin, then closes it. */
static int feed(void *arg, void **result)
{
    (void)result;
    weft_process *p = arg;
    static char chunk[65536];
    for (size_t i = 0; i < sizeof chunk; i++)
        chunk[i] = (char)(i * 7 + 1);
    for (size_t sent = 0; sent < CAT_BYTES; sent += sizeof chunk)
        EXPECT_CODE(weft_write_all(weft_process_fd(p, 0), chunk, sizeof chunk),
                    (ssize_t)sizeof chunk);
    return weft_process_close_fd(p, 0);
}

static int main_cat(void *arg, void **result)
{
    (void)arg;
    (void)result;
    weft_process *p;
    weft_task *feeder;
    weft_process_opts o = {.stdio = {WEFT_STDIO_PIPE, WEFT_STDIO_PIPE, WEFT_STDIO_INHERIT}};
    EXPECT_CODE(weft_process_spawn(&p, "cat", (char *[]){"cat", NULL}, &o), 0);
    EXPECT_CODE(weft_spawn(&feeder, feed, p, NULL), 0);
    static char buf[65536];
    size_t got = 0, bad = 0;
    ssize_t r;
    while ((r = weft_read(weft_process_fd(p, 1), buf, sizeof buf)) > 0) {
        for (ssize_t i = 0; i < r; i++)
            bad += buf[i] != (char)(((got + (size_t)i) % 65536) * 7 + 1);
        got += (size_t)r;
    }
    EXPECT_CODE(r, 0);
    EXPECT_CODE(got, CAT_BYTES);
    EXPECT_CODE(bad, 0);
    EXPECT_CODE(weft_task_join(feeder, NULL), 0);
    EXPECT_CODE(weft_task_release(feeder), 0);
    int status;
    EXPECT_CODE(weft_process_wait(p, &status), 0);
    EXPECT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    EXPECT_CODE(weft_process_free(p), 0);
    return 0;
}

static void test_process_cat_8mib(void **state)
{
    (void)state;
    assert_code(weft_run(main_cat, NULL, NULL), 0);
    assert_expectations();
}

enum { MANY = 50 };

static int one_child(void *arg, void **result)
{
    char code[8];
    snprintf(code, sizeof code, "exit %d", (int)N(arg));
    int st = run_status((char *[]){"sh", "-c", code, NULL}, NULL);
    EXPECT(WIFEXITED(st));
    *result = P(WEXITSTATUS(st));
    return WIFEXITED(st) ? 0 : -EIO;
}

static int main_many(void *arg, void **result)
{
    (void)arg;
    (void)result;
    weft_task *ts[MANY];
    for (int i = 0; i < MANY; i++)
        EXPECT_CODE(weft_spawn(&ts[i], one_child, P(i), NULL), 0);
    for (int i = 0; i < MANY; i++) {
        void *code = NULL;
        EXPECT_CODE(weft_task_join(ts[i], &code), 0);
        EXPECT_CODE(N(code), i);
        EXPECT_CODE(weft_task_release(ts[i]), 0);
    }
    return 0;
}

static void test_process_many_at_once(void **state)
{
    (void)state;
    assert_code(weft_run(main_many, NULL, NULL), 0);
    assert_expectations();
}

static int wait_for_it(void *arg, void **result)
{
    (void)result;
    return weft_process_wait(arg, NULL);
}

static int main_cancelled_wait(void *arg, void **result)
{
    (void)arg;
    (void)result;
    weft_process *p;
    weft_task *waiter;
    EXPECT_CODE(weft_process_spawn(&p, "sleep", (char *[]){"sleep", "10", NULL}, NULL), 0);
    EXPECT_CODE(weft_spawn(&waiter, wait_for_it, p, NULL), 0);
    EXPECT_CODE(weft_yield(), 0);
    EXPECT_CODE(weft_task_cancel(waiter), 0);
    EXPECT_CODE(weft_task_join(waiter, NULL), -ECANCELED);
    EXPECT_CODE(weft_task_release(waiter), 0);
    EXPECT_CODE(kill(weft_process_pid(p), 0), 0);   /* still running */
    EXPECT_CODE(weft_process_free(p), 0);           /* killed and reaped */
    EXPECT_CODE(waitpid(-1, NULL, WNOHANG), -1);
    return 0;
}

static void test_process_cancelled_wait_leaves_child(void **state)
{
    (void)state;
    assert_code(weft_run(main_cancelled_wait, NULL, NULL), 0);
    assert_expectations();
}

static int main_bad(void *arg, void **result)
{
    (void)arg;
    (void)result;
    weft_process *p;
    char *const argv[] = {"true", NULL};
    EXPECT_CODE(weft_process_spawn(NULL, "true", argv, NULL), -EINVAL);
    EXPECT_CODE(weft_process_spawn(&p, NULL, argv, NULL), -EINVAL);
    EXPECT_CODE(weft_process_spawn(&p, "true", NULL, NULL), -EINVAL);
    EXPECT_CODE(weft_process_spawn(&p, "true", argv, &(weft_process_opts){.stdio = {0, 7, 0}}),
                -EINVAL);
    EXPECT_CODE(weft_process_wait(NULL, NULL), -EINVAL);
    EXPECT_CODE(weft_process_kill(NULL, SIGTERM), -EINVAL);
    EXPECT_CODE(weft_process_fd(NULL, 0), -EINVAL);
    EXPECT_CODE(weft_process_free(NULL), -EINVAL);
    EXPECT_CODE(weft_process_spawn(&p, "true", argv, NULL), 0);
    EXPECT_CODE(weft_process_fd(p, 3), -EINVAL);
    EXPECT_CODE(weft_process_free(p), 0);
    return 0;
}

static void test_process_bad_arguments(void **state)
{
    (void)state;
    weft_process *p;
    assert_code(weft_process_spawn(&p, "true", (char *[]){"true", NULL}, NULL), -EPERM);
    assert_code(weft_run(main_bad, NULL, NULL), 0);
    assert_expectations();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_process_exit_codes_and_signals, reset),
        cmocka_unit_test_setup(test_process_missing_program, reset),
        cmocka_unit_test_setup(test_process_env_cwd_and_null, reset),
        cmocka_unit_test_setup(test_process_cat_8mib, reset),
        cmocka_unit_test_setup(test_process_many_at_once, reset),
        cmocka_unit_test_setup(test_process_cancelled_wait_leaves_child, reset),
        cmocka_unit_test_setup(test_process_bad_arguments, reset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
