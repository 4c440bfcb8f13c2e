/*
 * test_poll_spin.c - weft_loop_opts.poll_spin_ns (src/io_fd.c): a loop with
 * nothing to run polls its descriptors, and the posts of other threads,
 * before it sleeps in the kernel; never past its next alarm.
 *
 * The spin works on the real clock (the virtual clock turns it off), so
 * these tests run in weft_run_opts() and observe what the spin changes
 * rather than times: whether the loop blocked in the kernel for want of
 * work (weft_loop_info.sleeps; not the thread's context switches, which a
 * sanitizer's or an emulator's own locks and a loaded machine add to), and
 * which of two outcomes a wait had when an alarm and an event race. Spins
 * are long (seconds) and the events come within milliseconds, so a loaded
 * machine changes nothing.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <weft.h>

#include "support.h"

/* Times the running loop blocked for want of work so far. */
static long sleeps(void)
{
    weft_snapshot *snap;
    if (weft_snapshot_take_opts(&snap, 0) != 0)
        return -1000;           /* fails the test's count */
    long n = (long)snap->loop.sleeps;
    weft_snapshot_free(snap);
    return n;
}

static void pause_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = ms % 1000 * 1000000};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

/* Another thread: writes a byte into the pipe 2 ms after it starts. */
static void *write_later(void *arg)
{
    pause_ms(2);
    ssize_t n = write((int)N(arg), "x", 1);
    return P(n);
}

/* A read that another thread's write ends; result: the thread's sleeps. */
static int main_read(void *arg, void **result)
{
    (void)arg;
    int p[2];
    char c;
    pthread_t th;
    weft_scope s;
    EXPECT_CODE(pipe(p), 0);
    EXPECT_CODE(pthread_create(&th, NULL, write_later, P(p[1])), 0);
    long before = sleeps();     /* after the thread's start, which TSan waits for */
    EXPECT_CODE(weft_scope_enter_timeout(&s, WEFT_SEC(5)), 0);
    EXPECT_CODE(weft_read(p[0], &c, 1), 1);
    (void)weft_scope_exit(&s);
    *result = P(sleeps() - before);
    void *wrote;
    EXPECT_CODE(pthread_join(th, &wrote), 0);
    EXPECT_CODE(N(wrote), 1);
    EXPECT_CODE(weft_io_close(p[0]), 0);
    EXPECT_CODE(close(p[1]), 0);
    return 0;
}

/* Spinning, the loop takes the byte without sleeping; without, it sleeps
   in epoll_wait until the byte comes. */
static void test_poll_spin_takes_an_event_without_sleeping(void **state)
{
    (void)state;
    void *slept;
    assert_code(weft_run_opts(main_read, NULL, &slept,
                              &(weft_loop_opts){.poll_spin_ns = WEFT_SEC(5)}), 0);
    assert_expectations();
    assert_code(N(slept), 0);
    assert_code(weft_run_opts(main_read, NULL, &slept, &(weft_loop_opts){0}), 0);
    assert_expectations();
    assert_true(N(slept) >= 1);
}

/* Waits on a pipe nobody writes to before main's sleep ends. */
static int task_reader(void *arg, void **result)
{
    (void)result;
    char c;
    weft_scope s;
    EXPECT_CODE(weft_scope_enter_timeout(&s, WEFT_SEC(2)), 0);
    ssize_t n = weft_read((int)N(arg), &c, 1);
    (void)weft_scope_exit(&s);
    say("read %s", n < 0 ? cn((int)n) : n == 1 ? "1" : "?");
    return 0;
}

/* Gives task_reader `r` its byte, ends it and closes its pipe `p`. */
static void feed_reader(weft_task *r, const int p[2])
{
    EXPECT_CODE(weft_write(p[1], "x", 1), 1);
    EXPECT_CODE(weft_task_join(r, NULL), 0);
    weft_task_release(r);
    EXPECT_CODE(weft_io_close(p[0]), 0);
    EXPECT_CODE(weft_io_close(p[1]), 0);
}

/* The spin (10 s) ends at main's 10 ms alarm: main wakes and writes, and
   the reader gets its byte, well before its own 2 s timeout. */
static int main_alarm(void *arg, void **result)
{
    (void)arg, (void)result;
    int p[2];
    weft_task *r;
    EXPECT_CODE(pipe(p), 0);
    EXPECT_CODE(weft_spawn(&r, task_reader, P(p[0]), NULL), 0);
    EXPECT_CODE(weft_sleep(WEFT_MSEC(10)), 0);
    say("woke");
    feed_reader(r, p);
    return 0;
}

static void test_poll_spin_ends_at_the_next_alarm(void **state)
{
    (void)state;
    assert_code(weft_run_opts(main_alarm, NULL, NULL,
                              &(weft_loop_opts){.poll_spin_ns = WEFT_SEC(10)}), 0);
    assert_expectations();
    assert_log("woke read 1");
}

static void *job(void *arg)
{
    pause_ms(2);
    return arg;
}

/* A worker job's completion, posted by another thread while the loop
   spins (10 s), is taken within the spin: the wait for it ends with the
   job's result, not at its 2 s timeout; meanwhile a task waits on a pipe,
   so the loop has descriptors to poll. */
static int main_job(void *arg, void **result)
{
    (void)arg, (void)result;
    int p[2];
    weft_task *r;
    void *got = NULL;
    weft_scope s;
    EXPECT_CODE(pipe(p), 0);
    EXPECT_CODE(weft_spawn(&r, task_reader, P(p[0]), NULL), 0);
    EXPECT_CODE(weft_scope_enter_timeout(&s, WEFT_SEC(2)), 0);
    EXPECT_CODE(weft_to_thread(job, P(42), &got), 0);
    (void)weft_scope_exit(&s);
    EXPECT_CODE(N(got), 42);
    say("job");
    feed_reader(r, p);
    return 0;
}

static void test_poll_spin_takes_posts_of_other_threads(void **state)
{
    (void)state;
    assert_code(weft_run_opts(main_job, NULL, NULL,
                              &(weft_loop_opts){.poll_spin_ns = WEFT_SEC(10)}), 0);
    assert_expectations();
    assert_log("job read 1");
}

#define TEST(f) cmocka_unit_test_setup(f, reset)

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        TEST(test_poll_spin_takes_an_event_without_sleeping),
        TEST(test_poll_spin_ends_at_the_next_alarm),
        TEST(test_poll_spin_takes_posts_of_other_threads),
    };
    return cmocka_run_group_tests_name("poll_spin", tests, NULL, NULL);
}
