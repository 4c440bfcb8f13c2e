/*
 * test_watch.c - descriptor watchers (weft_watch_start / weft_watch_cancel
 * in include/weft/io.h): a reader called when data arrives, level-triggered
 * calls while it stays unread, a writer, a watcher cancelling itself from
 * its callback, cancelling before it fires, a descriptor closed under a
 * watcher, watchers left for weft_run() to free, a watcher waking a task,
 * and bad arguments. On the virtual clock, with pipes.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <weft.h>

#include "support.h"

/* A watcher's state in a test. */
struct reader {
    weft_watch *w;
    int fd;
    int calls;          /* callbacks so far */
    int drain;          /* read what is there */
    int cancel_after;   /* cancel itself after this many calls (0: never) */
    weft_event *wake;   /* set on each call, if not NULL */
};

static void on_readable(int fd, int events, void *arg)
{
    struct reader *r = arg;
    char buf[64];
    r->calls++;
    EXPECT_CODE(fd, r->fd);
    EXPECT_CODE(events, WEFT_IO_READ);
    ssize_t n = r->drain ? read(fd, buf, sizeof buf) : 0;
    say("cb%d:%zd@%s", r->calls, n, at());
    if (r->wake)
        EXPECT_CODE(weft_event_set(r->wake), 0);
    if (r->cancel_after && r->calls == r->cancel_after) {
        EXPECT_CODE(weft_watch_cancel(r->w), 0);
        EXPECT_CODE(weft_watch_cancel(r->w), -EALREADY);
    }
}

/* Writes `s` into fd after `ms` of the virtual clock. */
struct later {
    int fd;
    int64_t ms;
    const char *s;
};

static int write_later(void *arg, void **result)
{
    (void)result;
    struct later *l = arg;
    int rc = weft_sleep(MS(l->ms));
    if (rc == 0)
        EXPECT_CODE(write(l->fd, l->s, strlen(l->s)), (ssize_t)strlen(l->s));
    return rc;
}

static int main_reader(void *arg, void **result)
{
    (void)arg;
    (void)result;
    int p[2];
    EXPECT_CODE(pipe2(p, O_CLOEXEC), 0);
    weft_event ev = WEFT_EVENT_INIT;
    struct reader r = {.fd = p[0], .drain = 1, .wake = &ev};
    EXPECT_CODE(weft_watch_start(&r.w, p[0], WEFT_IO_READ, on_readable, &r), 0);
    struct later l = {p[1], 5, "hi"};
    EXPECT_CODE(weft_spawn(NULL, write_later, &l, NULL), 0);
    EXPECT_CODE(weft_event_wait(&ev), 0);   /* a watcher wakes a task */
    say("woken@%s", at());
    EXPECT_CODE(weft_sleep(MS(10)), 0);     /* no calls while nothing comes */
    EXPECT_CODE(r.calls, 1);
    EXPECT_CODE(weft_watch_cancel(r.w), 0);
    EXPECT_CODE(write(p[1], "x", 1), 1);
    EXPECT_CODE(weft_sleep(MS(1)), 0);      /* cancelled: never called */
    EXPECT_CODE(r.calls, 1);
    close(p[0]);
    close(p[1]);
    return 0;
}

static void test_watch_reader(void **state)
{
    (void)state;
    assert_code(vrun(main_reader, NULL, NULL), 0);
    assert_expectations();
    assert_log("cb1:2@5 woken@5");
}

/* Data left unread: called again each tick until the watcher stops. */
static int main_level(void *arg, void **result)
{
    (void)arg;
    (void)result;
    int p[2];
    EXPECT_CODE(pipe2(p, O_CLOEXEC), 0);
    EXPECT_CODE(write(p[1], "abc", 3), 3);  /* ready before the start */
    struct reader r = {.fd = p[0], .cancel_after = 3};
    EXPECT_CODE(weft_watch_start(&r.w, p[0], WEFT_IO_READ, on_readable, &r), 0);
    for (int i = 0; i < 6; i++)
        EXPECT_CODE(weft_yield(), 0);
    EXPECT_CODE(r.calls, 3);                /* it cancelled itself at 3 */
    close(p[0]);
    close(p[1]);
    return 0;
}

static void test_watch_level_triggered_and_self_cancel(void **state)
{
    (void)state;
    assert_code(vrun(main_level, NULL, NULL), 0);
    assert_expectations();
    assert_log("cb1:0@0 cb2:0@0 cb3:0@0");
}

static void on_writable(int fd, int events, void *arg)
{
    int *calls = arg;
    (void)fd;
    EXPECT_CODE(events, WEFT_IO_WRITE);
    ++*calls;
}

static int main_writer(void *arg, void **result)
{
    (void)arg;
    (void)result;
    int p[2], calls = 0;
    weft_watch *w;
    EXPECT_CODE(pipe2(p, O_CLOEXEC), 0);
    EXPECT_CODE(weft_watch_start(&w, p[1], WEFT_IO_WRITE, on_writable, &calls), 0);
    EXPECT_CODE(calls, 0);                  /* not before the next tick */
    EXPECT_CODE(weft_yield(), 0);
    EXPECT_CODE(weft_yield(), 0);
    EXPECT(calls >= 1);
    EXPECT_CODE(weft_watch_cancel(w), 0);
    int seen = calls;
    EXPECT_CODE(weft_yield(), 0);
    EXPECT_CODE(calls, seen);
    close(p[0]);
    close(p[1]);
    return 0;
}

static void test_watch_writer(void **state)
{
    (void)state;
    assert_code(vrun(main_writer, NULL, NULL), 0);
    assert_expectations();
}

/* weft_io_close() under a watcher: quiet from then on, cancel still frees.
   A second watcher is left active for weft_run() to free (ASan checks). */
static int main_closed(void *arg, void **result)
{
    (void)result;
    int p[2], *q = arg;
    EXPECT_CODE(pipe2(p, O_CLOEXEC), 0);
    EXPECT_CODE(pipe2(q, O_CLOEXEC), 0);
    struct reader r = {.fd = p[0]}, left = {.fd = q[0], .drain = 1};
    weft_watch *left_w;
    EXPECT_CODE(weft_watch_start(&r.w, p[0], WEFT_IO_READ, on_readable, &r), 0);
    EXPECT_CODE(weft_watch_start(&left_w, q[0], WEFT_IO_READ, on_readable, &left), 0);
    EXPECT_CODE(weft_io_close(p[0]), 0);
    EXPECT_CODE(write(p[1], "x", 1), -1);   /* no reader any more */
    EXPECT_CODE(weft_sleep(MS(1)), 0);
    EXPECT_CODE(r.calls, 0);
    EXPECT_CODE(weft_watch_cancel(r.w), 0);
    close(p[1]);
    EXPECT_CODE(write(q[1], "y", 1), 1);
    EXPECT_CODE(weft_sleep(MS(1)), 0);
    EXPECT_CODE(left.calls, 1);
    return 0;                   /* q stays watched: weft_run() frees it */
}

static int watched[2];

static void test_watch_closed_descriptor_and_left_at_end(void **state)
{
    (void)state;
    signal(SIGPIPE, SIG_IGN);
    assert_code(vrun(main_closed, watched, NULL), 0);
    signal(SIGPIPE, SIG_DFL);
    assert_expectations();
    assert_log("cb1:1@1");
    close(watched[0]);
    close(watched[1]);
}

/* A watcher alone keeps the loop polling instead of a deadlock report. */
static int main_only_watcher(void *arg, void **result)
{
    (void)arg;
    (void)result;
    int p[2];
    EXPECT_CODE(pipe2(p, O_CLOEXEC), 0);
    weft_event ev = WEFT_EVENT_INIT;
    struct reader r = {.fd = p[0], .drain = 1, .wake = &ev};
    EXPECT_CODE(weft_watch_start(&r.w, p[0], WEFT_IO_READ, on_readable, &r), 0);
    EXPECT_CODE(write(p[1], "go", 2), 2);
    EXPECT_CODE(weft_event_wait(&ev), 0);
    EXPECT_CODE(weft_watch_cancel(r.w), 0);
    close(p[0]);
    close(p[1]);
    return 0;
}

static void test_watch_wakes_waiting_loop(void **state)
{
    (void)state;
    assert_code(vrun(main_only_watcher, NULL, NULL), 0);
    assert_expectations();
    assert_log("cb1:2@0");
}

static void ignore(int fd, int events, void *arg)
{
    (void)fd, (void)events, (void)arg;
}

static int main_bad(void *arg, void **result)
{
    (void)arg;
    (void)result;
    weft_watch *w;
    EXPECT_CODE(weft_watch_start(NULL, 0, WEFT_IO_READ, ignore, NULL), -EINVAL);
    EXPECT_CODE(weft_watch_start(&w, 0, WEFT_IO_READ, NULL, NULL), -EINVAL);
    EXPECT_CODE(weft_watch_start(&w, 0, 0, ignore, NULL), -EINVAL);
    EXPECT_CODE(weft_watch_start(&w, 0, 4, ignore, NULL), -EINVAL);
    EXPECT_CODE(weft_watch_start(&w, -1, WEFT_IO_READ, ignore, NULL), -EBADF);
    EXPECT_CODE(weft_watch_cancel(NULL), -EINVAL);
    return 0;
}

static void test_watch_bad_arguments(void **state)
{
    (void)state;
    weft_watch *w;
    assert_code(weft_watch_start(&w, 0, WEFT_IO_READ, ignore, NULL), -EPERM);
    assert_code(vrun(main_bad, NULL, NULL), 0);
    assert_expectations();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_watch_reader, reset),
        cmocka_unit_test_setup(test_watch_level_triggered_and_self_cancel, reset),
        cmocka_unit_test_setup(test_watch_writer, reset),
        cmocka_unit_test_setup(test_watch_closed_descriptor_and_left_at_end, reset),
        cmocka_unit_test_setup(test_watch_wakes_waiting_loop, reset),
        cmocka_unit_test_setup(test_watch_bad_arguments, reset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
