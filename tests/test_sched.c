/*
 * test_sched.c - the scheduler layer (include/weft/sched.h): weft_run and
 * its returns (main's code and result, -EINVAL, -EBUSY, -EDEADLK with the
 * stuck tasks named on stderr), the FIFO run queue, yield, sleep and
 * sleep_until under the virtual clock (exact wake times and orders), the
 * real clock with generous bounds, and the callbacks: call_soon, call_later,
 * call_at, their order, cancellation, and that they cannot suspend;
 * 100,000 tasks sleeping random times and waking in deadline order; and
 * the loop's optional parts ending with it, in phase order.
 *
 * Everything time-dependent runs on the virtual clock, which starts at 0,
 * and compares exact times and orders.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#endif
#endif
#ifndef RUNNING_ON_VALGRIND
#define RUNNING_ON_VALGRIND 0
#endif

#include <weft.h>

#include "loop.h"       /* weft__part_add(): the loop's optional parts */
#include "support.h"


/* Monotonic nanoseconds read directly, to bound real time. */
static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* A callback that records its argument (a string) and the time. */
static void cb_say(void *arg)
{
    say("%s@%s", (const char *)arg, at());
}

/* A task that records its argument (a string) and the time, and ends. */
static int task_say(void *arg, void **result)
{
    (void)result;
    say("%s@%s", (const char *)arg, at());
    return 0;
}

/*
 * Runs `fn`, whose failure on a buggy library can be a crash: the
 * sanitizer build aborts on signed overflow. There it runs in a child
 * process, so that the other tests of the program still run; elsewhere
 * (fork() hangs under qemu-aarch64 in some setups) it runs here.
 */
#if defined(__SANITIZE_ADDRESS__)
#define WEFT_TEST_FORK 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define WEFT_TEST_FORK 1
#endif
#endif

static void run_isolated(void (*fn)(void))
{
#ifdef WEFT_TEST_FORK
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        fn();
        if (expect_failed) {
            fprintf(stderr, "child: %d check(s) failed; first: %s\n", expect_failed,
                    expect_first);
            _exit(1);
        }
        _exit(0);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (WIFSIGNALED(status))
        fail_msg("the test's child process died of signal %d", WTERMSIG(status));
    if (WEXITSTATUS(status) != 0)
        fail_msg("the test's child process failed (exit %d), see stderr",
                 WEXITSTATUS(status));
#else
    fn();
    assert_expectations();
#endif
}

/* ------------------------------------------------------------------------ */
/* weft_run                                                                 */
/* ------------------------------------------------------------------------ */

static int main_returns(void *arg, void **result)
{
    *result = P(42);
    return (int)N(arg);
}

static void test_sched_run_returns_main_code_and_result(void **state)
{
    (void)state;
    void *r = NULL;
    assert_code(vrun(main_returns, P(0), &r), 0);
    assert_ptr_equal(r, P(42));
    r = NULL;
    assert_code(vrun(main_returns, P(-EIO), &r), -EIO);
    assert_ptr_equal(r, P(42));
    /* The real clock, NULL result, NULL opts. */
    assert_code(weft_run(main_returns, P(0), NULL), 0);
    assert_code(weft_run(main_returns, P(-ENOENT), NULL), -ENOENT);
    assert_code(weft_run_opts(main_returns, P(0), &r, NULL), 0);
}

static void test_sched_run_null_main(void **state)
{
    (void)state;
    void *r = P(7);
    assert_code(weft_run(NULL, NULL, &r), -EINVAL);
    assert_code(weft_run_opts(NULL, NULL, &r, &(weft_loop_opts){.virtual_clock = 1}), -EINVAL);
    assert_ptr_equal(r, P(7)); /* untouched */
    /* Nothing was left behind: a loop runs normally afterwards. */
    assert_code(vrun(main_returns, P(0), NULL), 0);
}

static void cb_nested_run(void *arg)
{
    (void)arg;
    EXPECT_CODE(weft_run(main_returns, P(0), NULL), -EBUSY);
    say("cb");
}

static int main_nested_run(void *arg, void **result)
{
    (void)arg;
    (void)result;
    EXPECT_CODE(weft_run(main_returns, P(0), NULL), -EBUSY);
    EXPECT_CODE(weft_run_opts(main_returns, P(0), NULL,
                              &(weft_loop_opts){.virtual_clock = 1}), -EBUSY);
    EXPECT_CODE(weft_call_soon(NULL, cb_nested_run, NULL), 0);
    /* The outer loop is unharmed. */
    EXPECT_CODE(weft_sleep(MS(1)), 0);
    say("main@%s", at());
    return -ENOENT;
}

static void *coro_runs_loop(void *arg, void *in)
{
    (void)arg;
    (void)in;
    return P(weft_run(main_returns, P(0), NULL));
}

static void test_sched_run_nested_ebusy(void **state)
{
    (void)state;
    assert_code(vrun(main_nested_run, NULL, NULL), -ENOENT);
    assert_expectations();
    assert_log("cb main@1");
    /* From inside a bare coroutine, with no loop at all. */
    weft_coro *co = NULL;
    void *out = NULL;
    assert_code(weft_coro_create(&co, coro_runs_loop, NULL, NULL), 0);
    assert_code(weft_coro_resume(co, NULL, &out), WEFT_CORO_RETURNED);
    assert_code(N(out), -EBUSY);
    assert_code(weft_coro_destroy(co), 0);
}

static int main_cancels_itself(void *arg, void **result)
{
    (void)arg;
    (void)result;
    EXPECT_CODE(weft_task_cancel(weft_task_current()), 0);
    int rc = weft_yield();
    say("yield:%s", cn(rc));
    return rc;
}

static void test_sched_run_main_cancelled(void **state)
{
    (void)state;
    assert_code(vrun(main_cancels_itself, NULL, NULL), -ECANCELED);
    assert_expectations();
    assert_log("yield:ECANCELED");
}

static int task_sleep_hour(void *arg, void **result)
{
    (void)result;
    int rc = weft_sleep(WEFT_SEC(3600));
    say("%s:%s@%s", (const char *)arg, cn(rc), at());
    return rc;
}

/* A task that needs 5 ms, shielded, to clean up after its cancellation. */
static int task_slow_cleanup(void *arg, void **result)
{
    (void)result;
    int rc = weft_sleep(WEFT_SEC(3600));
    say("%s:%s@%s", (const char *)arg, cn(rc), at());
    weft_scope s;
    EXPECT_CODE(weft_scope_enter(&s, WEFT_FOREVER), 0);
    EXPECT_CODE(weft_scope_shield(&s, 1), 0);
    EXPECT_CODE(weft_sleep(MS(5)), 0);
    EXPECT_CODE(weft_scope_exit(&s), 0);
    say("%s-cleaned@%s", (const char *)arg, at());
    return rc;
}

static int main_leaves_tasks(void *arg, void **result)
{
    (void)arg;
    weft_task *kept = NULL;
    EXPECT_CODE(weft_spawn(NULL, task_sleep_hour, "a", NULL), 0);
    EXPECT_CODE(weft_spawn(&kept, task_slow_cleanup, "b", NULL), 0);
    EXPECT_CODE(weft_sleep(MS(10)), 0);
    say("main-ends@%s", at());
    *result = P(9);
    return 0; /* `kept` is never released: weft_run drops it */
}

static void test_sched_run_cancels_leftover_tasks(void **state)
{
    (void)state;
    void *r = NULL;
    assert_code(vrun(main_leaves_tasks, NULL, &r), 0);
    assert_expectations();
    assert_ptr_equal(r, P(9));
    assert_log("main-ends@10 a:ECANCELED@10 b:ECANCELED@10 b-cleaned@15");
}

/* A done callback of main, the last task, spawns a task after main ended:
   that task is alive, so it is cancelled and ends (its own done callback
   runs) before weft_run() returns; nothing leaks. */
static void cb_follow_up_done(weft_task *t, void *arg)
{
    (void)arg;
    say("follow-up-done:%s", cn(weft_task_result(t, NULL)));
}

static void cb_main_done_spawns(weft_task *t, void *arg)
{
    (void)t;
    weft_task *u = NULL;
    EXPECT_CODE(weft_spawn(&u, task_say, arg, NULL), 0);
    EXPECT_CODE(weft_task_add_done_callback(u, cb_follow_up_done, NULL), 0);
    EXPECT_CODE(weft_task_release(u), 0);
    say("main-done");
}

static int main_done_spawns(void *arg, void **result)
{
    (void)arg;
    (void)result;
    EXPECT_CODE(weft_task_add_done_callback(weft_task_current(), cb_main_done_spawns,
                                            "follow-up"), 0);
    return -EIO;
}

static void test_sched_run_task_spawned_after_main_ended(void **state)
{
    (void)state;
    assert_code(vrun(main_done_spawns, NULL, NULL), -EIO);
    assert_expectations();
    /* Cancelled before it starts, or run once: either way it has ended. */
    if (strcmp(logbuf, "main-done follow-up@0 follow-up-done:0") != 0)
        assert_log("main-done follow-up-done:ECANCELED");
}

static int main_sleep5(void *arg, void **result)
{
    (void)arg;
    (void)result;
    EXPECT_NOW(0);
    EXPECT_CODE(weft_sleep(MS(5)), 0);
    EXPECT_NOW(MS(5));
    return 0;
}

static void test_sched_run_twice_clock_restarts(void **state)
{
    (void)state;
    assert_code(vrun(main_sleep5, NULL, NULL), 0);
    assert_code(vrun(main_sleep5, NULL, NULL), 0);
    assert_expectations();
}

/* ------------------------------------------------------------------------ */
/* Deadlock                                                                 */
/* ------------------------------------------------------------------------ */

/* Runs fn under the virtual clock with stderr captured into buf. */
static int run_capturing_stderr(weft_task_fn fn, void *arg, char *buf, size_t cap)
{
    int fds[2];
    fflush(stderr);
    assert_int_equal(pipe(fds), 0);
    int saved = dup(2);
    assert_true(saved >= 0);
    assert_int_equal(dup2(fds[1], 2), 2);
    close(fds[1]);
    int rc = vrun(fn, arg, NULL);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    size_t len = 0;
    ssize_t n;
    while (len + 1 < cap && (n = read(fds[0], buf + len, cap - 1 - len)) > 0)
        len += (size_t)n;
    buf[len] = '\0';
    close(fds[0]);
    return rc;
}

/* A first line on stderr naming each of the given tasks (the detail of
   each task follows it: test_debug.c checks that). */
static void assert_deadlock_report(const char *err, const char *const *names, size_t n)
{
    const char *nl = strchr(err, '\n');
    if (!nl || strncmp(err, "weft: deadlock: ", 16) != 0)
        fail_msg("expected the deadlock line on stderr, got \"%s\"", err);
    for (size_t i = 0; i < n; i++) {
        const char *p = strstr(err, names[i]);
        if (!p || p > nl)
            fail_msg("stderr \"%s\" does not name '%s' on its first line", err, names[i]);
    }
}

static int task_await(void *arg, void **result)
{
    (void)result;
    int rc = weft_future_await(arg, NULL);
    say("%s:%s@%s", weft_task_name(weft_task_current()), cn(rc), at());
    return rc;
}

static int main_deadlocks(void *arg, void **result)
{
    (void)arg;
    (void)result;
    static weft_future never; /* outlives main: the others wait on it after */
    memset(&never, 0, sizeof never);
    EXPECT_CODE(weft_spawn(NULL, task_await, &never, &(weft_task_opts){.name = "stuck-a"}), 0);
    EXPECT_CODE(weft_spawn(NULL, task_await, &never, &(weft_task_opts){.name = "stuck-b"}), 0);
    EXPECT_CODE(weft_sleep(MS(10)), 0);
    return task_await(&never, NULL);
}

static void test_sched_run_deadlock_edeadlk(void **state)
{
    (void)state;
    char err[8192];
    assert_code(run_capturing_stderr(main_deadlocks, NULL, err, sizeof err), -EDEADLK);
    assert_expectations();
    assert_deadlock_report(err, (const char *const[]){"'main'", "'stuck-a'", "'stuck-b'"}, 3);
    /* Every stuck task was cancelled and ran to its end. */
    assert_log("main:ECANCELED@10 stuck-a:ECANCELED@10 stuck-b:ECANCELED@10");
}

/* Two tasks joining each other while main waits: default names. */
static weft_task *cycle[2];

static int task_join_other(void *arg, void **result)
{
    (void)result;
    int rc = weft_task_join(cycle[N(arg)], NULL);
    say("j%d:%s", 1 - (int)N(arg), cn(rc));
    return 0;
}

static int main_join_cycle(void *arg, void **result)
{
    (void)arg;
    (void)result;
    weft_future never = WEFT_FUTURE_INIT;
    EXPECT_CODE(weft_spawn(&cycle[0], task_join_other, P(1), NULL), 0);
    EXPECT_CODE(weft_spawn(&cycle[1], task_join_other, P(0), NULL), 0);
    int rc = weft_future_await(&never, NULL);
    say("main:%s", cn(rc));
    EXPECT_CODE(weft_task_release(cycle[0]), 0);
    EXPECT_CODE(weft_task_release(cycle[1]), 0);
    return 0;
}

static void test_sched_run_deadlock_join_cycle(void **state)
{
    (void)state;
    char err[8192], n0[32], n1[32];
    assert_code(run_capturing_stderr(main_join_cycle, NULL, err, sizeof err), -EDEADLK);
    assert_expectations();
    /* j0 ends first, so j1's join, woken by the cancellation, finds it
       ended and reports its outcome. */
    assert_log("main:ECANCELED j0:ECANCELED j1:0");
    /* Spawned after main, they have the next two default names. */
    const char *p = strstr(err, "'task-");
    assert_non_null(p);
    unsigned long id = strtoul(p + 6, NULL, 10);
    snprintf(n0, sizeof n0, "'task-%lu'", id);
    snprintf(n1, sizeof n1, "'task-%lu'", id + 1);
    assert_deadlock_report(err, (const char *const[]){"'main'", n0, n1}, 3);
}

/* A stuck task that shields itself from cancellation is closed instead. */
static int task_shielded_await(void *arg, void **result)
{
    (void)result;
    weft_scope s;
    EXPECT_CODE(weft_scope_enter(&s, WEFT_FOREVER), 0);
    EXPECT_CODE(weft_scope_shield(&s, 1), 0);
    int rc = weft_future_await(arg, NULL);
    say("shielded:%s", cn(rc));
    EXPECT_CODE(weft_scope_exit(&s), 0);
    return rc;
}

static int main_deadlock_shielded(void *arg, void **result)
{
    (void)arg;
    (void)result;
    static weft_future never; /* outlives main: the task waits on it after */
    memset(&never, 0, sizeof never);
    weft_task *t = NULL;
    EXPECT_CODE(weft_spawn(&t, task_shielded_await, &never,
                           &(weft_task_opts){.name = "hermit"}), 0);
    int rc = weft_task_join(t, NULL);
    say("main:%s", cn(rc));
    return rc;
}

static void test_sched_run_deadlock_shielded_task_closed(void **state)
{
    (void)state;
    char err[8192];
    assert_code(run_capturing_stderr(main_deadlock_shielded, NULL, err, sizeof err),
                -EDEADLK);
    assert_expectations();
    assert_deadlock_report(err, (const char *const[]){"'main'", "'hermit'"}, 2);
    assert_log("main:ECANCELED shielded:ECANCELED");
}

/* ------------------------------------------------------------------------ */
/* Run queue and yield                                                      */
/* ------------------------------------------------------------------------ */

static int main_fifo(void *arg, void **result)
{
    (void)arg;
    (void)result;
    static const char *const names[] = {"a", "b", "c", "d", "e"};
    for (int i = 0; i < 5; i++)
        EXPECT_CODE(weft_spawn(NULL, task_say, (void *)names[i], NULL), 0);
    say("spawned");
    EXPECT_CODE(weft_yield(), 0);
    say("back");
    return 0;
}

static void test_sched_runq_fifo(void **state)
{
    (void)state;
    assert_code(vrun(main_fifo, NULL, NULL), 0);
    assert_expectations();
    assert_log("spawned a@0 b@0 c@0 d@0 e@0 back");
}

static int task_yield3(void *arg, void **result)
{
    (void)result;
    for (int i = 0; i < 3; i++) {
        say("%s%d", (const char *)arg, i);
        EXPECT_CODE(weft_yield(), 0);
    }
    return 0;
}

static int main_interleave(void *arg, void **result)
{
    (void)arg;
    (void)result;
    weft_task *a, *b, *c;
    EXPECT_CODE(weft_spawn(&a, task_yield3, "a", NULL), 0);
    EXPECT_CODE(weft_spawn(&b, task_yield3, "b", NULL), 0);
    EXPECT_CODE(weft_spawn(&c, task_yield3, "c", NULL), 0);
    for (int i = 0; i < 2; i++) {
        say("m%d", i);
        EXPECT_CODE(weft_yield(), 0);
    }
    EXPECT_CODE(weft_task_join(a, NULL), 0);
    EXPECT_CODE(weft_task_join(b, NULL), 0);
    EXPECT_CODE(weft_task_join(c, NULL), 0);
    EXPECT_NOW(0); /* the virtual clock stood still */
    weft_task_release(a);
    weft_task_release(b);
    weft_task_release(c);
    return 0;
}

static void test_sched_yield_interleaves(void **state)
{
    (void)state;
    assert_code(vrun(main_interleave, NULL, NULL), 0);
    assert_expectations();
    assert_log("m0 a0 b0 c0 m1 a1 b1 c1 a2 b2 c2");
}

static int main_yield_alone(void *arg, void **result)
{
    (void)arg;
    (void)result;
    for (int i = 0; i < 1000; i++)
        EXPECT_CODE(weft_yield(), 0);
    EXPECT_NOW(0);
    EXPECT_CODE(weft_sleep(1), 0);
    EXPECT_NOW(1); /* the clock jumps only when nothing can run */
    return 0;
}

static void test_sched_yield_alone_and_clock_stands_still(void **state)
{
    (void)state;
    assert_code(vrun(main_yield_alone, NULL, NULL), 0);
    assert_expectations();
}

static void test_sched_outside_loop(void **state)
{
    (void)state;
    assert_code(weft_yield(), -EPERM);
    assert_code(weft_sleep(1), -EPERM);
    assert_code(weft_sleep(0), -EPERM);
    assert_code(weft_sleep_until(0), -EPERM);
    /* Outside a loop weft_now() is CLOCK_MONOTONIC. */
    int64_t a = mono_ns(), b = weft_now(), c = mono_ns();
    assert_true(a <= b && b <= c);
}

/* ------------------------------------------------------------------------ */
/* Sleeping                                                                 */
/* ------------------------------------------------------------------------ */

static int task_sleep_ms(void *arg, void **result)
{
    (void)result;
    const char *name = arg;
    int rc = weft_sleep(MS(atoi(name + 1)));
    say("%s:%s@%s", name, cn(rc), at());
    return rc;
}

static int main_sleep_order(void *arg, void **result)
{
    (void)arg;
    (void)result;
    static const char *const names[] = {"a30", "b10", "c20", "d10", "e1"};
    for (int i = 0; i < 5; i++)
        EXPECT_CODE(weft_spawn(NULL, task_sleep_ms, (void *)names[i], NULL), 0);
    EXPECT_CODE(weft_sleep(MS(25)), 0);
    say("main@%s", at());
    EXPECT_CODE(weft_sleep(MS(15)), 0);
    say("main@%s", at());
    return 0;
}

static void test_sched_sleep_wake_times_and_order(void **state)
{
    (void)state;
    assert_code(vrun(main_sleep_order, NULL, NULL), 0);
    assert_expectations();
    assert_log("e1:0@1 b10:0@10 d10:0@10 c20:0@20 main@25 a30:0@30 main@40");
}

static int task_sleep_until(void *arg, void **result)
{
    (void)result;
    int64_t when = N(arg);
    int rc = weft_sleep_until(when);
    say("u%lld:%s@%s", (long long)(when / MS(1)), cn(rc), at());
    return rc;
}

static int main_sleep_until(void *arg, void **result)
{
    (void)arg;
    (void)result;
    EXPECT_CODE(weft_spawn(NULL, task_sleep_until, P(MS(15)), NULL), 0);
    EXPECT_CODE(weft_spawn(NULL, task_sleep_until, P(MS(5)), NULL), 0);
    EXPECT_CODE(weft_spawn(NULL, task_sleep_until, P(MS(15)), NULL), 0);
    EXPECT_CODE(weft_sleep_until(MS(10)), 0);
    say("main@%s", at());
    /* In the past, or now: a yield, after which it returns 0 at once. */
    EXPECT_CODE(weft_spawn(NULL, task_say, "x", NULL), 0);
    EXPECT_CODE(weft_sleep_until(MS(3)), 0);
    say("past@%s", at());
    EXPECT_CODE(weft_spawn(NULL, task_say, "y", NULL), 0);
    EXPECT_CODE(weft_sleep_until(MS(10)), 0);
    say("now@%s", at());
    EXPECT_CODE(weft_sleep_until(MS(20)), 0);
    say("main@%s", at());
    return 0;
}

static void test_sched_sleep_until_exact(void **state)
{
    (void)state;
    assert_code(vrun(main_sleep_until, NULL, NULL), 0);
    assert_expectations();
    assert_log("u5:0@5 main@10 x@10 past@10 y@10 now@10 u15:0@15 u15:0@15 main@20");
}

static int main_sleep_zero_negative(void *arg, void **result)
{
    (void)arg;
    (void)result;
    EXPECT_CODE(weft_spawn(NULL, task_say, "x", NULL), 0);
    EXPECT_CODE(weft_sleep(-1), -EINVAL); /* fails without suspending */
    say("neg");
    EXPECT_CODE(weft_sleep(INT64_MIN), -EINVAL);
    EXPECT_CODE(weft_sleep(0), 0);        /* a yield: x runs */
    say("zero@%s", at());
    return 0;
}

static void test_sched_sleep_zero_and_negative(void **state)
{
    (void)state;
    assert_code(vrun(main_sleep_zero_negative, NULL, NULL), 0);
    assert_expectations();
    assert_log("neg x@0 zero@0");
}

static int main_sleep_hours(void *arg, void **result)
{
    (void)arg;
    (void)result;
    EXPECT_CODE(weft_sleep(WEFT_SEC(3600)), 0);
    EXPECT_NOW(WEFT_SEC(3600));
    EXPECT_CODE(weft_sleep(WEFT_SEC(86400) * 365), 0);
    EXPECT_NOW(WEFT_SEC(3600) + WEFT_SEC(86400) * 365);
    return 0;
}

static void test_sched_sleep_hour_is_instant(void **state)
{
    (void)state;
    int64_t t0 = mono_ns();
    assert_code(vrun(main_sleep_hours, NULL, NULL), 0);
    int64_t elapsed = mono_ns() - t0;
    assert_expectations();
    assert_true(elapsed < WEFT_SEC(1));
}

/* A task sleeping "forever" sleeps until it is cancelled, whatever the
   clock reads when it starts (now + WEFT_FOREVER must not wrap). */
static int task_sleep_forever(void *arg, void **result)
{
    (void)arg;
    (void)result;
    int rc = weft_sleep(WEFT_FOREVER);
    say("forever:%s@%s", cn(rc), at());
    return rc;
}

static int main_sleep_forever(void *arg, void **result)
{
    (void)arg;
    (void)result;
    weft_task *t;
    EXPECT_CODE(weft_sleep(MS(10)), 0);
    EXPECT_CODE(weft_spawn(&t, task_sleep_forever, NULL, NULL), 0);
    EXPECT_CODE(weft_sleep(MS(5)), 0);
    EXPECT_CODE(weft_task_cancel(t), 0);
    EXPECT_CODE(weft_task_join(t, NULL), -ECANCELED);
    weft_task_release(t);
    return 0;
}

static void sleep_forever_child(void)
{
    reset(NULL);
    EXPECT_CODE(vrun(main_sleep_forever, NULL, NULL), 0);
    EXPECT(strcmp(logbuf, "forever:ECANCELED@15") == 0);
    if (strcmp(logbuf, "forever:ECANCELED@15") != 0)
        fprintf(stderr, "log is \"%s\"\n", logbuf);
}

static void test_sched_sleep_forever_after_time_zero(void **state)
{
    (void)state;
    run_isolated(sleep_forever_child);
}

/* ------------------------------------------------------------------------ */
/* Suspending inside a coroutine a task resumed (an async generator)        */
/* ------------------------------------------------------------------------ */

static void *gen_sleepy(void *arg, void *in)
{
    (void)arg;
    (void)in;
    for (intptr_t i = 1; i <= 3; i++) {
        int rc = weft_sleep(MS(10));
        if (rc)
            return P(rc);
        if (weft_coro_yield(P(i), NULL) != 0)
            break;
    }
    return P(0);
}

static int task_ticker(void *arg, void **result)
{
    (void)arg;
    (void)result;
    for (int i = 0; i < 4; i++) {
        EXPECT_CODE(weft_sleep(MS(i ? 10 : 5)), 0);
        say("tick@%s", at());
    }
    return 0;
}

static int main_async_generator(void *arg, void **result)
{
    (void)arg;
    (void)result;
    weft_coro *gen = NULL;
    weft_task *ticker;
    void *v = NULL;
    /* A task's own coroutine does not yield: tasks use weft_yield(). */
    EXPECT_CODE(weft_coro_yield(NULL, NULL), -EPERM);
    EXPECT_CODE(weft_spawn(&ticker, task_ticker, NULL, NULL), 0);
    EXPECT_CODE(weft_coro_create(&gen, gen_sleepy, NULL, NULL), 0);
    int rc;
    while ((rc = weft_coro_resume(gen, NULL, &v)) == WEFT_CORO_YIELDED)
        say("got%d@%s", (int)N(v), at());
    EXPECT_CODE(rc, WEFT_CORO_RETURNED);
    EXPECT(v == P(0));
    EXPECT_CODE(weft_coro_destroy(gen), 0);
    EXPECT_CODE(weft_task_join(ticker, NULL), 0);
    weft_task_release(ticker);
    return 0;
}

/* The generator's sleeps suspend the whole task; other tasks run meanwhile
   and the task continues inside the generator when woken. */
static void test_sched_sleep_inside_resumed_coroutine(void **state)
{
    (void)state;
    assert_code(vrun(main_async_generator, NULL, NULL), 0);
    assert_expectations();
    assert_log("tick@5 got1@10 tick@15 got2@20 tick@25 got3@30 tick@35");
}

static int main_big_frames(void *arg, void **result)
{
    (void)arg;
    (void)result;
    volatile char buf[128 * 1024]; /* twice the default stack */
    memset((char *)buf, 1, sizeof buf);
    EXPECT_CODE(weft_sleep(MS(1)), 0);
    EXPECT(buf[0] == 1 && buf[sizeof buf - 1] == 1);
    return 0;
}

/* weft_loop_opts.stack_size is the default stack of the loop's tasks. */
static void test_sched_run_opts_stack_size(void **state)
{
    (void)state;
    assert_code(weft_run_opts(main_big_frames, NULL, NULL,
                              &(weft_loop_opts){.virtual_clock = 1,
                                                .stack_size = 512 * 1024}), 0);
    assert_expectations();
}

/* ------------------------------------------------------------------------ */
/* The real clock                                                           */
/* ------------------------------------------------------------------------ */

static int main_real_sleep(void *arg, void **result)
{
    (void)arg;
    (void)result;
    int64_t a = mono_ns(), b = weft_now(), c = mono_ns();
    EXPECT(a <= b && b <= c); /* weft_now() is CLOCK_MONOTONIC */
    EXPECT_CODE(weft_sleep(MS(50)), 0);
    int64_t slept = weft_now() - b;
    EXPECT(slept >= MS(45) && slept < WEFT_SEC(1));
    b = weft_now();
    EXPECT_CODE(weft_sleep_until(b + MS(20)), 0);
    EXPECT(weft_now() >= b + MS(20) - MS(5) && weft_now() < b + WEFT_SEC(1));
    return 0;
}

static void test_sched_real_clock_sleep(void **state)
{
    (void)state;
    int64_t t0 = mono_ns();
    assert_code(weft_run(main_real_sleep, NULL, NULL), 0);
    int64_t elapsed = mono_ns() - t0;
    assert_expectations();
    assert_true(elapsed >= MS(65) && elapsed < WEFT_SEC(2));
}

static int64_t real_cb_at;

static void cb_real_time(void *arg)
{
    (void)arg;
    real_cb_at = weft_now();
}

static int main_real_call_later(void *arg, void **result)
{
    (void)arg;
    (void)result;
    int64_t t0 = weft_now();
    real_cb_at = 0;
    EXPECT_CODE(weft_call_later(NULL, MS(20), cb_real_time, NULL), 0);
    EXPECT_CODE(weft_sleep(MS(40)), 0);
    EXPECT(real_cb_at - t0 >= MS(15) && real_cb_at - t0 < WEFT_SEC(1));
    EXPECT(real_cb_at <= weft_now());
    return 0;
}

static void test_sched_real_clock_call_later(void **state)
{
    (void)state;
    assert_code(weft_run(main_real_call_later, NULL, NULL), 0);
    assert_expectations();
}

/* ------------------------------------------------------------------------ */
/* Callbacks                                                                */
/* ------------------------------------------------------------------------ */

static void cb_chain(void *arg)
{
    say("%s@%s", (const char *)arg, at());
    EXPECT_CODE(weft_call_soon(NULL, cb_say, "x"), 0);
}

static int main_call_soon(void *arg, void **result)
{
    (void)arg;
    (void)result;
    static weft_handle h; /* caller storage */
    memset(&h, 0, sizeof h);
    EXPECT_CODE(weft_call_soon(NULL, cb_chain, "a"), 0);
    EXPECT_CODE(weft_call_soon(&h, cb_say, "b"), 0);
    EXPECT_CODE(weft_call_soon(NULL, cb_say, "c"), 0);
    say("main");
    EXPECT_CODE(weft_yield(), 0); /* the callbacks run first */
    say("main2");
    EXPECT_CODE(weft_yield(), 0); /* x, scheduled by a, ran after b and c */
    say("main3");
    return 0;
}

static void test_sched_call_soon_order(void **state)
{
    (void)state;
    assert_code(vrun(main_call_soon, NULL, NULL), 0);
    assert_expectations();
    assert_log("main a@0 b@0 c@0 main2 x@0 main3");
}

static int main_call_later_at(void *arg, void **result)
{
    (void)arg;
    (void)result;
    static weft_handle h[4];
    memset(h, 0, sizeof h);
    EXPECT_CODE(weft_call_later(&h[0], MS(20), cb_say, "l20a"), 0);
    EXPECT_CODE(weft_call_at(&h[1], MS(10), cb_say, "at10a"), 0);
    EXPECT_CODE(weft_call_later(NULL, MS(10), cb_say, "l10b"), 0);
    EXPECT_CODE(weft_call_at(NULL, MS(20), cb_say, "at20b"), 0);
    EXPECT_CODE(weft_call_later(&h[2], 0, cb_say, "l0"), 0);
    EXPECT_CODE(weft_call_soon(&h[3], cb_say, "soon"), 0);
    EXPECT_CODE(weft_call_at(NULL, MS(10), cb_say, "at10c"), 0);
    EXPECT_CODE(weft_sleep(MS(15)), 0);
    say("main@%s", at());
    /* call_later counts from now; call_at in the past runs at once. */
    EXPECT_CODE(weft_call_later(NULL, MS(10), cb_say, "l25"), 0);
    EXPECT_CODE(weft_call_at(NULL, MS(1), cb_say, "at1"), 0);
    EXPECT_CODE(weft_sleep(MS(15)), 0);
    say("main@%s", at());
    return 0;
}

static void test_sched_call_later_at_order(void **state)
{
    (void)state;
    assert_code(vrun(main_call_later_at, NULL, NULL), 0);
    assert_expectations();
    assert_log("soon@0 l0@0 at10a@10 l10b@10 at10c@10 main@15 at1@15 "
               "l20a@20 at20b@20 l25@25 main@30");
}

static int main_equal_deadlines(void *arg, void **result)
{
    (void)arg;
    (void)result;
    static const char *const names[] = {"0", "1", "2", "3", "4", "5", "6", "7",
                                        "8", "9", "10", "11", "12", "13", "14", "15"};
    /* Deadlines 5, 3, 5, 3, ...: equal ones in the order scheduled. */
    for (int i = 0; i < 16; i++)
        EXPECT_CODE(weft_call_at(NULL, i % 2 ? MS(3) : MS(5), cb_say, (void *)names[i]), 0);
    EXPECT_CODE(weft_sleep(MS(6)), 0);
    return 0;
}

static void test_sched_call_at_equal_deadlines_fifo(void **state)
{
    (void)state;
    assert_code(vrun(main_equal_deadlines, NULL, NULL), 0);
    assert_expectations();
    assert_log("1@3 3@3 5@3 7@3 9@3 11@3 13@3 15@3 "
               "0@5 2@5 4@5 6@5 8@5 10@5 12@5 14@5");
}

static void cb_noop(void *arg)
{
    (void)arg;
}

static int main_callback_args(void *arg, void **result)
{
    (void)arg;
    (void)result;
    static weft_handle h;
    memset(&h, 0, sizeof h);
    EXPECT_CODE(weft_call_soon(NULL, NULL, NULL), -EINVAL);
    EXPECT_CODE(weft_call_later(NULL, MS(1), NULL, NULL), -EINVAL);
    EXPECT_CODE(weft_call_at(NULL, MS(1), NULL, NULL), -EINVAL);
    EXPECT_CODE(weft_call_later(NULL, -1, cb_noop, NULL), -EINVAL);
    EXPECT_CODE(weft_call_later(&h, -MS(1), cb_noop, NULL), -EINVAL);
    /* A handle already scheduled cannot be scheduled again. */
    EXPECT_CODE(weft_call_later(&h, MS(1), cb_say, "h"), 0);
    EXPECT_CODE(weft_call_soon(&h, cb_noop, NULL), -EINVAL);
    EXPECT_CODE(weft_call_later(&h, MS(2), cb_noop, NULL), -EINVAL);
    EXPECT_CODE(weft_call_at(&h, MS(2), cb_noop, NULL), -EINVAL);
    EXPECT_CODE(weft_sleep(MS(5)), 0);
    /* After it ran it may be reused. */
    EXPECT_CODE(weft_call_soon(&h, cb_say, "h2"), 0);
    EXPECT_CODE(weft_call_soon(&h, cb_noop, NULL), -EINVAL);
    EXPECT_CODE(weft_yield(), 0);
    return 0;
}

static void test_sched_callback_bad_arguments(void **state)
{
    (void)state;
    weft_handle h = WEFT_HANDLE_INIT;
    /* No loop on this thread. */
    assert_code(weft_call_soon(NULL, cb_noop, NULL), -EPERM);
    assert_code(weft_call_later(&h, MS(1), cb_noop, NULL), -EPERM);
    assert_code(weft_call_at(NULL, MS(1), cb_noop, NULL), -EPERM);
    assert_code(vrun(main_callback_args, NULL, NULL), 0);
    assert_expectations();
    assert_log("h@1 h2@5");
}

static weft_handle cancel_h[6];

static void cb_cancels_next(void *arg)
{
    (void)arg;
    say("first");
    EXPECT_CODE(weft_handle_cancel(&cancel_h[5]), 0); /* queued behind us */
}

static int main_handle_cancel(void *arg, void **result)
{
    (void)arg;
    (void)result;
    memset(cancel_h, 0, sizeof cancel_h);
    EXPECT_CODE(weft_handle_cancel(NULL), -EINVAL);
    EXPECT_CODE(weft_handle_cancel(&cancel_h[0]), -EALREADY); /* never scheduled */
    /* A timed one. */
    EXPECT_CODE(weft_call_later(&cancel_h[0], MS(10), cb_say, "timed"), 0);
    EXPECT_CODE(weft_handle_cancel(&cancel_h[0]), 0);
    EXPECT_CODE(weft_handle_cancel(&cancel_h[0]), -EALREADY);
    /* A ready one. */
    EXPECT_CODE(weft_call_soon(&cancel_h[1], cb_say, "ready"), 0);
    EXPECT_CODE(weft_handle_cancel(&cancel_h[1]), 0);
    EXPECT_CODE(weft_handle_cancel(&cancel_h[1]), -EALREADY);
    /* One that has run. */
    EXPECT_CODE(weft_call_later(&cancel_h[2], MS(5), cb_say, "ran"), 0);
    /* Cancelled from a callback that runs just before it. */
    EXPECT_CODE(weft_call_soon(&cancel_h[4], cb_cancels_next, NULL), 0);
    EXPECT_CODE(weft_call_soon(&cancel_h[5], cb_say, "never"), 0);
    EXPECT_CODE(weft_sleep(MS(20)), 0);
    EXPECT_CODE(weft_handle_cancel(&cancel_h[2]), -EALREADY);
    EXPECT_CODE(weft_handle_cancel(&cancel_h[4]), -EALREADY);
    /* Cancelled handles can be scheduled again. */
    EXPECT_CODE(weft_call_later(&cancel_h[0], MS(1), cb_say, "again"), 0);
    EXPECT_CODE(weft_sleep(MS(1)), 0);
    say("end@%s", at());
    return 0;
}

static void test_sched_handle_cancel(void **state)
{
    (void)state;
    assert_code(vrun(main_handle_cancel, NULL, NULL), 0);
    assert_expectations();
    assert_log("first ran@5 again@21 end@21");
}

static int cb_task_ran;

static int task_from_callback(void *arg, void **result)
{
    (void)arg;
    (void)result;
    cb_task_ran = 1;
    return 0;
}

static void cb_tries_to_suspend(void *arg)
{
    (void)arg;
    EXPECT_CODE(weft_sleep(MS(1)), -EPERM);
    EXPECT_CODE(weft_sleep(0), -EPERM);
    EXPECT_CODE(weft_sleep_until(MS(100)), -EPERM);
    EXPECT_CODE(weft_yield(), -EPERM);
    EXPECT(weft_task_current() == NULL);
    EXPECT_NOW(MS(3));
    /* What never suspends works from a callback. */
    EXPECT_CODE(weft_spawn(NULL, task_from_callback, NULL, NULL), 0);
    EXPECT_CODE(weft_call_soon(NULL, cb_say, "later"), 0);
    say("cb@%s", at());
}

static int main_callback_cannot_suspend(void *arg, void **result)
{
    (void)arg;
    (void)result;
    cb_task_ran = 0;
    EXPECT_CODE(weft_call_later(NULL, MS(3), cb_tries_to_suspend, NULL), 0);
    EXPECT_CODE(weft_sleep(MS(4)), 0);
    EXPECT(cb_task_ran);
    return 0;
}

static void test_sched_callback_cannot_suspend(void **state)
{
    (void)state;
    assert_code(vrun(main_callback_cannot_suspend, NULL, NULL), 0);
    assert_expectations();
    assert_log("cb@3 later@3");
}

static int spin_flag;

static void cb_set_flag(void *arg)
{
    (void)arg;
    spin_flag = 1;
}

static int main_spin_until_callback(void *arg, void **result)
{
    (void)arg;
    (void)result;
    int spins = 0;
    spin_flag = 0;
    EXPECT_CODE(weft_call_soon(NULL, cb_set_flag, NULL), 0);
    while (!spin_flag && spins < 100) {
        EXPECT_CODE(weft_yield(), 0);
        spins++;
    }
    EXPECT_CODE(spins, 1);
    /* A due timer is not starved either. */
    spins = 0;
    spin_flag = 0;
    EXPECT_CODE(weft_call_at(NULL, weft_now(), cb_set_flag, NULL), 0);
    while (!spin_flag && spins < 100) {
        EXPECT_CODE(weft_yield(), 0);
        spins++;
    }
    EXPECT_CODE(spins, 1);
    return 0;
}

static void test_sched_yield_does_not_starve_callbacks(void **state)
{
    (void)state;
    assert_code(vrun(main_spin_until_callback, NULL, NULL), 0);
    assert_expectations();
}

static weft_handle dropped_h;

static int main_leaves_callbacks(void *arg, void **result)
{
    (void)arg;
    (void)result;
    memset(&dropped_h, 0, sizeof dropped_h);
    EXPECT_CODE(weft_call_later(&dropped_h, WEFT_SEC(3600), cb_say, "never1"), 0);
    EXPECT_CODE(weft_call_later(NULL, WEFT_SEC(7200), cb_say, "never2"), 0);
    EXPECT_CODE(weft_call_at(NULL, MS(1), cb_say, "never3"), 0);
    return 0;
}

static int main_reuses_dropped(void *arg, void **result)
{
    (void)arg;
    (void)result;
    EXPECT_CODE(weft_call_soon(&dropped_h, cb_say, "reused"), 0);
    EXPECT_CODE(weft_yield(), 0);
    return 0;
}

/* Callbacks still scheduled when main ends are dropped (and freed). */
static void test_sched_callbacks_dropped_at_exit(void **state)
{
    (void)state;
    int64_t t0 = mono_ns();
    assert_code(vrun(main_leaves_callbacks, NULL, NULL), 0);
    assert_true(mono_ns() - t0 < WEFT_SEC(1));
    assert_expectations();
    assert_log("");
    assert_code(weft_handle_cancel(&dropped_h), -EALREADY);
    assert_code(vrun(main_reuses_dropped, NULL, NULL), 0);
    assert_expectations();
    assert_log("reused@0");
}

static int main_leaves_far_callback(void *arg, void **result)
{
    (void)arg;
    (void)result;
    EXPECT_CODE(weft_call_later(NULL, MS(1500), cb_say, "far"), 0);
    return 0;
}

/* On the real clock, a pending callback does not keep weft_run() waiting
   once main has ended. */
static void test_sched_real_clock_exit_does_not_wait_for_callbacks(void **state)
{
    (void)state;
    int64_t t0 = mono_ns();
    assert_code(weft_run(main_leaves_far_callback, NULL, NULL), 0);
    int64_t elapsed = mono_ns() - t0;
    assert_expectations();
    assert_log("");
    assert_true(elapsed < WEFT_SEC(1));
}

static int main_many_owned_callbacks(void *arg, void **result)
{
    (void)arg;
    (void)result;
    for (int round = 0; round < 10; round++) {
        for (int i = 0; i < 1000; i++) {
            EXPECT_CODE(weft_call_soon(NULL, cb_noop, NULL), 0);
            EXPECT_CODE(weft_call_later(NULL, i, cb_noop, NULL), 0);
        }
        EXPECT_CODE(weft_sleep(MS(1)), 0);
    }
    return 0;
}

/* weft-allocated records are freed after their run (ASan/valgrind). */
static void test_sched_owned_callbacks_freed(void **state)
{
    (void)state;
    assert_code(vrun(main_many_owned_callbacks, NULL, NULL), 0);
    assert_expectations();
}

/* call_later(WEFT_FOREVER) never runs, whatever the clock reads. */
static int main_call_later_forever(void *arg, void **result)
{
    (void)arg;
    (void)result;
    static weft_handle h;
    memset(&h, 0, sizeof h);
    EXPECT_CODE(weft_sleep(MS(10)), 0);
    EXPECT_CODE(weft_call_later(&h, WEFT_FOREVER, cb_say, "forever"), 0);
    EXPECT_CODE(weft_sleep(WEFT_SEC(3600)), 0);
    EXPECT_CODE(weft_handle_cancel(&h), 0);
    return 0;
}

static void call_later_forever_child(void)
{
    reset(NULL);
    EXPECT_CODE(vrun(main_call_later_forever, NULL, NULL), 0);
    EXPECT(logbuf[0] == '\0');
    if (logbuf[0])
        fprintf(stderr, "log is \"%s\"\n", logbuf);
}

static void test_sched_call_later_forever_after_time_zero(void **state)
{
    (void)state;
    run_isolated(call_later_forever_child);
}

/* ------------------------------------------------------------------------ */
/* 100,000 sleepers                                                         */
/* ------------------------------------------------------------------------ */

enum { SLEEPERS = 100000, SLOTS = 20000 };
static int64_t sleeper_deadline[SLEEPERS];
static uint32_t sleeper_order[SLEEPERS];
static size_t sleepers;           /* how many run: SLEEPERS, fewer in valgrind */
static size_t sleepers_woken, sleepers_late, sleepers_failed;

static int task_sleeper(void *arg, void **result)
{
    (void)result;
    size_t i = (size_t)N(arg);
    if (weft_sleep(sleeper_deadline[i]) != 0)
        sleepers_failed++;
    if (weft_now() != sleeper_deadline[i])
        sleepers_late++;
    if (sleepers_woken < sleepers)
        sleeper_order[sleepers_woken] = (uint32_t)i;
    sleepers_woken++;
    return 0;
}

static int main_sleepers(void *arg, void **result)
{
    (void)arg;
    (void)result;
    for (size_t i = 0; i < sleepers; i++) {
        int rc = weft_spawn(NULL, task_sleeper, P(i), NULL);
        if (rc) {
            EXPECT_CODE(rc, 0);
            return rc;
        }
    }
    EXPECT_CODE(weft_sleep((int64_t)SLOTS * 1000 + 1), 0);
    return 0;
}

static void test_sched_100k_sleepers_wake_in_deadline_order(void **state)
{
    (void)state;
    /* xorshift64, fixed seed: deadlines 1..SLOTS µs, about 5 tasks each.
       valgrind looks stacks up linearly: a run under it uses fewer tasks. */
    uint64_t x = 0x2545f4914f6cdd1dull;
    static uint32_t count[SLOTS + 2];
    memset(count, 0, sizeof count);
    sleepers = RUNNING_ON_VALGRIND ? SLEEPERS / 20 : SLEEPERS;
    for (size_t i = 0; i < sleepers; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        uint32_t slot = (uint32_t)(x % SLOTS) + 1;
        sleeper_deadline[i] = (int64_t)slot * 1000;
        count[slot + 1]++;
    }
    sleepers_woken = sleepers_late = sleepers_failed = 0;
    assert_code(weft_run_opts(main_sleepers, NULL, NULL,
                              &(weft_loop_opts){.virtual_clock = 1,
                                                .stack_size = WEFT_STACK_MIN}), 0);
    assert_expectations();
    assert_int_equal(sleepers_woken, sleepers);
    assert_int_equal(sleepers_failed, 0);
    assert_int_equal(sleepers_late, 0);
    /* Expected: a stable counting sort by deadline (ties in spawn order). */
    for (size_t s = 1; s < SLOTS + 2; s++)
        count[s] += count[s - 1];
    uint32_t *want = malloc(sleepers * sizeof *want);
    assert_non_null(want);
    for (size_t i = 0; i < sleepers; i++)
        want[count[sleeper_deadline[i] / 1000]++] = (uint32_t)i;
    for (size_t k = 0; k < sleepers; k++)
        if (sleeper_order[k] != want[k]) {
            uint32_t got = sleeper_order[k], exp = want[k];
            free(want);
            fail_msg("wake %zu was task %u (deadline %lld), expected task %u (deadline %lld)",
                     k, got, (long long)sleeper_deadline[got], exp,
                     (long long)sleeper_deadline[exp]);
        }
    free(want);
}

/* ------------------------------------------------------------------------ */

/* ------------------------------------------------------------------------ */
/* Debug mode: slow tasks (weft_loop_opts.slow_task_ns)                     */
/* ------------------------------------------------------------------------ */

/* Spins for `ms` of real time without suspending. */
static void busy(int64_t ms)
{
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    do
        clock_gettime(CLOCK_MONOTONIC, &b);
    while ((b.tv_sec - a.tv_sec) * 1000000000L + (b.tv_nsec - a.tv_nsec) < ms * 1000000L);
}

/* A task that yields `arg` times, busy 30 ms once if its name says so. */
static int slow_body(void *arg, void **result)
{
    (void)result;
    const char *name = weft_task_name(weft_task_current());
    for (int i = 0; i < (int)N(arg); i++) {
        say("%s%d", name, i);
        if (i == 1 && name[0] == 's')
            busy(30);
        EXPECT_CODE(weft_yield(), 0);
    }
    if (name[0] == 'e')
        busy(30);               /* ends without suspending again */
    return 0;
}

static int main_slow(void *arg, void **result)
{
    (void)arg;
    (void)result;
    weft_task *t[3];
    EXPECT_CODE(weft_spawn(&t[0], slow_body, P(3), &(weft_task_opts){.name = "fast"}), 0);
    EXPECT_CODE(weft_spawn(&t[1], slow_body, P(3), &(weft_task_opts){.name = "slow"}), 0);
    EXPECT_CODE(weft_spawn(&t[2], slow_body, P(1), &(weft_task_opts){.name = "ender"}), 0);
    EXPECT_CODE(weft_sleep(MS(1)), 0);
    say("main");
    for (int i = 0; i < 3; i++)
        EXPECT_CODE(weft_task_release(t[i]), 0);
    return 0;
}

/* Runs main_slow with stderr caught in `err`. */
static int run_caught(int64_t slow_ns, char *err, size_t cap)
{
    char path[] = "/tmp/weft-slow-XXXXXX";
    int fd = mkstemp(path), saved = dup(STDERR_FILENO);
    unlink(path);
    fflush(stderr);
    dup2(fd, STDERR_FILENO);
    int rc = weft_run_opts(main_slow, NULL, NULL, &(weft_loop_opts){
        .virtual_clock = 1, .slow_task_ns = slow_ns});
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    ssize_t n = pread(fd, err, cap - 1, 0);
    err[n > 0 ? n : 0] = '\0';
    close(fd);
    return rc;
}

static void test_sched_slow_task_reported(void **state)
{
    (void)state;
    char err[2048], plain[sizeof logbuf];
    /* Off: nothing reported; the order of events is what debug mode must
       keep. */
    assert_code(run_caught(0, err, sizeof err), 0);
    assert_expectations();
    assert_string_equal(err, "");
    strcpy(plain, logbuf);
    reset(NULL);
    assert_code(run_caught(MS(10), err, sizeof err), 0);
    assert_expectations();
    assert_string_equal(logbuf, plain);
    assert_string_equal(logbuf, "fast0 slow0 ender0 fast1 slow1 fast2 slow2 main");
    /* The two slow runs, each on a line of its own; the fast task never. */
    const char *a = strstr(err, "weft: task 'slow' ran ");
    const char *b = strstr(err, "weft: task 'ender' ran ");
    assert_non_null(a);
    assert_non_null(b);
    assert_non_null(strstr(a, " ms without suspending (slow_task_ns is 10.0 ms); it had "
                              "resumed at:\n"));
    assert_non_null(strstr(a, "and ran until it suspended at:\n"));
    /* Back from its yield, not at its start: the frame is slow_body's
       where the switch was a tail call (gcc), else weft's own. */
    assert_non_null(strstr(b, "resumed at:\n  "));
    assert_null(strstr(b, "its start"));
    assert_null(strstr(err, "'fast'"));
    assert_null(strstr(a + 1, "weft: task 'slow'"));  /* reported once */
    assert_null(strstr(b + 1, "weft: task 'ender'"));
}

/* --- the loop's optional parts ------------------------------------------ */

/* A part as thread_pool.c, remote.c, watch.c, ... register them. */
struct test_part {
    struct weft__part part;
    char name;                  /* recorded in parts_seen when it ends */
    int adds;                   /* its end registers `late` */
};

static char parts_seen[8];
static int parts_ended;
static struct test_part late_part = {.name = 'L'};
static struct test_part parts[] = {
    {.name = 's'}, {.name = 'w', .adds = 1}, {.name = 't'}, {.name = 'S'}, {.name = 'T'},
};

static void test_part_end(struct weft__loop *L, struct weft__part *p)
{
    struct test_part *t = weft__container_of(p, struct test_part, part);
    assert_ptr_equal(L, weft__loop);        /* still the running loop */
    assert_int_equal(L->ntasks, 0);         /* after every task */
    parts_seen[parts_ended++] = t->name;
    if (t->adds)
        weft__part_add(L, &late_part.part, WEFT__PART_SOURCES, test_part_end);
}

static int main_parts(void *arg, void **result)
{
    static const int phase[] = {WEFT__PART_SOURCES, WEFT__PART_WAY_IN, WEFT__PART_THREADS,
                                WEFT__PART_SOURCES, WEFT__PART_THREADS};
    (void)arg;
    (void)result;
    for (int i = 0; i < 5; i++)
        weft__part_add(weft__loop, &parts[i].part, phase[i], test_part_end);
    return 0;
}

/* Registered parts end when the loop does, by phase and, within one, in
   the order they registered; an end may register a later part. */
static void test_sched_parts_end_by_phase(void **state)
{
    (void)state;
    parts_ended = 0;
    assert_code(weft_run(main_parts, NULL, NULL), 0);
    assert_int_equal(parts_ended, 6);
    assert_memory_equal(parts_seen, "tTwsSL", 6);
}

#define TEST(f) cmocka_unit_test_setup(f, reset)

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEST(test_sched_slow_task_reported),
        TEST(test_sched_run_returns_main_code_and_result),
        TEST(test_sched_run_null_main),
        TEST(test_sched_run_nested_ebusy),
        TEST(test_sched_run_main_cancelled),
        TEST(test_sched_run_cancels_leftover_tasks),
        TEST(test_sched_run_task_spawned_after_main_ended),
        TEST(test_sched_run_twice_clock_restarts),
        TEST(test_sched_run_deadlock_edeadlk),
        TEST(test_sched_run_deadlock_join_cycle),
        TEST(test_sched_run_deadlock_shielded_task_closed),
        TEST(test_sched_runq_fifo),
        TEST(test_sched_yield_interleaves),
        TEST(test_sched_yield_alone_and_clock_stands_still),
        TEST(test_sched_outside_loop),
        TEST(test_sched_sleep_wake_times_and_order),
        TEST(test_sched_sleep_until_exact),
        TEST(test_sched_sleep_zero_and_negative),
        TEST(test_sched_sleep_hour_is_instant),
        TEST(test_sched_sleep_forever_after_time_zero),
        TEST(test_sched_sleep_inside_resumed_coroutine),
        TEST(test_sched_run_opts_stack_size),
        TEST(test_sched_real_clock_sleep),
        TEST(test_sched_real_clock_call_later),
        TEST(test_sched_call_soon_order),
        TEST(test_sched_call_later_at_order),
        TEST(test_sched_call_at_equal_deadlines_fifo),
        TEST(test_sched_callback_bad_arguments),
        TEST(test_sched_handle_cancel),
        TEST(test_sched_callback_cannot_suspend),
        TEST(test_sched_yield_does_not_starve_callbacks),
        TEST(test_sched_callbacks_dropped_at_exit),
        TEST(test_sched_real_clock_exit_does_not_wait_for_callbacks),
        TEST(test_sched_owned_callbacks_freed),
        TEST(test_sched_call_later_forever_after_time_zero),
        TEST(test_sched_100k_sleepers_wake_in_deadline_order),
        TEST(test_sched_parts_end_by_phase),
    };
    return cmocka_run_group_tests_name("sched", tests, NULL, NULL);
}
