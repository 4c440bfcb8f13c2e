/*
 * test_task.c - tasks and futures (include/weft/task.h, first two sections)
 * under the virtual clock: spawn, states, join and its error codes, results,
 * cooperative cancellation at every suspension point of this layer (and the
 * clean removal of the cancelled waiter), done callbacks, the current task,
 * the task list, names, references and detached tasks, and futures.
 *
 * Times are exact: the virtual clock starts at 0 in each weft_run().
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
#include <unistd.h>

#include <cmocka.h>

#include <weft.h>

#include "support.h"


/* ------------------------------------------------------------------------ */
/* Task bodies shared by the tests                                          */
/* ------------------------------------------------------------------------ */


static int task_say(void *arg, void **result)
{
    (void)result;
    say("%s", (const char *)arg);
    return 0;
}

static int task_noop(void *arg, void **result)
{
    (void)arg;
    (void)result;
    return 0;
}


/* ------------------------------------------------------------------------ */
/* Spawning                                                                 */
/* ------------------------------------------------------------------------ */

static void test_task_spawn_outside_loop(void **state)
{
    (void)state;
    weft_task *t = NULL;
    assert_code(weft_spawn(&t, task_noop, NULL, NULL), -EPERM);
    assert_null(t);
    assert_code(weft_spawn(NULL, task_noop, NULL, NULL), -EPERM);
    assert_null(weft_task_current());
    assert_int_equal(weft_task_all(NULL, 0), 0);
}

static int task_big_frame(void *arg, void **result)
{
    (void)arg;
    volatile char buf[128 * 1024];
    memset((char *)buf, 1, sizeof buf);
    *result = P(buf[sizeof buf - 1] + buf[0]);
    return 0;
}

static int main_spawn_args(void *arg, void **result)
{
    (void)arg;
    (void)result;
    weft_task *t = NULL;
    void *r = NULL;
    EXPECT_CODE(weft_spawn(&t, NULL, NULL, NULL), -EINVAL);
    EXPECT(t == NULL);
    EXPECT_CODE(weft_spawn(&t, task_noop, NULL, &(weft_task_opts){.stack_size = 1}), -EINVAL);
    EXPECT_CODE(weft_spawn(&t, task_noop, NULL,
                           &(weft_task_opts){.stack_size = WEFT_STACK_MAX + 1}), -EINVAL);
    EXPECT(t == NULL);
    EXPECT_CODE(weft_task_all(NULL, 0), 1); /* nothing was left behind */
    /* A task with a larger stack than the default can use it. */
    EXPECT_CODE(weft_spawn(&t, task_big_frame, NULL,
                           &(weft_task_opts){.stack_size = 256 * 1024}), 0);
    EXPECT_CODE(weft_task_join(t, &r), 0);
    EXPECT(r == P(2));
    EXPECT_CODE(weft_task_release(t), 0);
    return 0;
}

static void test_task_spawn_bad_arguments(void **state)
{
    (void)state;
    assert_code(vrun(main_spawn_args, NULL, NULL), 0);
    assert_expectations();
}

static int task_spawns_c(void *arg, void **result)
{
    (void)arg;
    (void)result;
    EXPECT_CODE(weft_spawn(NULL, task_say, "c", NULL), 0);
    say("a");
    return 0;
}

static int main_spawn_order(void *arg, void **result)
{
    (void)arg;
    (void)result;
    EXPECT_CODE(weft_spawn(NULL, task_spawns_c, NULL, NULL), 0);
    EXPECT_CODE(weft_spawn(NULL, task_say, "b", NULL), 0);
    say("m1"); /* nothing ran yet */
    EXPECT_CODE(weft_yield(), 0);
    say("m2"); /* c was queued behind main */
    EXPECT_CODE(weft_yield(), 0);
    say("m3");
    return 0;
}

static void test_task_spawn_starts_when_spawner_suspends(void **state)
{
    (void)state;
    assert_code(vrun(main_spawn_order, NULL, NULL), 0);
    assert_expectations();
    assert_log("m1 a b m2 c m3");
}

/* ------------------------------------------------------------------------ */
/* States, join, result                                                     */
/* ------------------------------------------------------------------------ */

static int task_checks_running(void *arg, void **result)
{
    (void)arg;
    (void)result;
    EXPECT_CODE(weft_task_status(weft_task_current()), WEFT_TASK_RUNNING);
    EXPECT_CODE(weft_task_result(weft_task_current(), NULL), -EAGAIN);
    EXPECT_CODE(weft_sleep(MS(10)), 0);
    return 0;
}

static int main_states(void *arg, void **result)
{
    (void)arg;
    (void)result;
    struct job fail = {"f", 5, -EIO, 0, 0}, sleeper = {"s", 1000, 0, 0, 0};
    weft_task *ok, *failed, *cancelled, *unstarted;
    EXPECT_CODE(weft_task_status(weft_task_current()), WEFT_TASK_RUNNING);
    EXPECT_CODE(weft_spawn(&ok, task_checks_running, NULL, NULL), 0);
    EXPECT_CODE(weft_spawn(&failed, task_job, &fail, NULL), 0);
    EXPECT_CODE(weft_spawn(&cancelled, task_job, &sleeper, NULL), 0);
    EXPECT_CODE(weft_spawn(&unstarted, task_noop, NULL, NULL), 0);
    EXPECT_CODE(weft_task_status(ok), WEFT_TASK_PENDING);      /* not started */
    EXPECT_CODE(weft_task_cancel(unstarted), 0);
    EXPECT_CODE(weft_task_status(unstarted), WEFT_TASK_PENDING);
    EXPECT_CODE(weft_yield(), 0);
    EXPECT_CODE(weft_task_status(ok), WEFT_TASK_PENDING);      /* waiting */
    EXPECT_CODE(weft_task_status(unstarted), WEFT_TASK_CANCELLED);
    EXPECT_CODE(weft_sleep(MS(7)), 0);
    EXPECT_CODE(weft_task_status(failed), WEFT_TASK_FAILED);
    EXPECT_CODE(weft_task_status(ok), WEFT_TASK_PENDING);
    EXPECT_CODE(weft_task_cancel(cancelled), 0);
    EXPECT_CODE(weft_task_status(cancelled), WEFT_TASK_PENDING); /* not ended yet */
    EXPECT_CODE(weft_sleep(MS(3)), 0);
    EXPECT_CODE(weft_task_status(ok), WEFT_TASK_DONE);
    EXPECT_CODE(weft_task_status(cancelled), WEFT_TASK_CANCELLED);
    EXPECT_CODE(weft_task_status(NULL), WEFT_TASK_CANCELLED);
    weft_task_release(ok);
    weft_task_release(failed);
    weft_task_release(cancelled);
    weft_task_release(unstarted);
    return 0;
}

static void test_task_states(void **state)
{
    (void)state;
    assert_code(vrun(main_states, NULL, NULL), 0);
    assert_expectations();
    assert_log("f:0@5 s:ECANCELED@7");
}

static int main_join(void *arg, void **result)
{
    (void)arg;
    (void)result;
    struct job a = {"a", 10, 0, 11, 0}, b = {"b", 20, -EIO, 22, 0}, c = {"c", 1000, 0, 33, 0},
               d = {"d", 5, 0, 44, 0};
    weft_task *ta, *tb, *tc, *td;
    void *r = NULL;
    EXPECT_CODE(weft_spawn(&ta, task_job, &a, NULL), 0);
    EXPECT_CODE(weft_spawn(&tb, task_job, &b, NULL), 0);
    EXPECT_CODE(weft_spawn(&tc, task_job, &c, NULL), 0);
    EXPECT_CODE(weft_spawn(&td, task_job, &d, NULL), 0);
    EXPECT_CODE(weft_task_join(ta, &r), 0);
    EXPECT(r == P(11));
    say("joined-a@%s", at());
    EXPECT_CODE(weft_task_join(tb, NULL), -EIO); /* its error */
    say("joined-b@%s", at());
    EXPECT_CODE(weft_task_cancel(tc), 0);
    r = NULL;
    EXPECT_CODE(weft_task_join(tc, &r), -ECANCELED);
    EXPECT(r == NULL);
    say("joined-c@%s", at());
    /* Ended long ago: the outcome at once. */
    EXPECT_CODE(weft_task_join(td, &r), 0);
    EXPECT(r == P(44));
    say("joined-d@%s", at());
    weft_task_release(ta);
    weft_task_release(tb);
    weft_task_release(tc);
    weft_task_release(td);
    return 0;
}

static void test_task_join_result_and_codes(void **state)
{
    (void)state;
    assert_code(vrun(main_join, NULL, NULL), 0);
    assert_expectations();
    assert_log("d:0@5 a:0@10 joined-a@10 b:0@20 joined-b@20 c:ECANCELED@20 joined-c@20 "
               "joined-d@20");
}

static weft_task *join_target;

static void cb_join(void *arg)
{
    (void)arg;
    EXPECT_CODE(weft_task_join(join_target, NULL), -EPERM);
    EXPECT_CODE(weft_task_join(NULL, NULL), -EINVAL);
    say("cb");
}

static int task_second_joiner(void *arg, void **result)
{
    (void)arg;
    (void)result;
    EXPECT_CODE(weft_task_join(join_target, NULL), -EALREADY);
    say("second");
    return 0;
}

static int task_joins_self(void *arg, void **result)
{
    (void)arg;
    (void)result;
    EXPECT_CODE(weft_task_join(weft_task_current(), NULL), -EDEADLK);
    say("self");
    return 0;
}

static int main_join_errors(void *arg, void **result)
{
    (void)arg;
    (void)result;
    struct job j = {"t", 10, 0, 1, 0};
    weft_task *other;
    EXPECT_CODE(weft_task_join(NULL, NULL), -EINVAL);
    EXPECT_CODE(weft_task_join(weft_task_current(), NULL), -EDEADLK);
    EXPECT_CODE(weft_spawn(&join_target, task_job, &j, NULL), 0);
    EXPECT_CODE(weft_spawn(NULL, task_second_joiner, NULL, NULL), 0);
    EXPECT_CODE(weft_spawn(&other, task_joins_self, NULL, NULL), 0);
    EXPECT_CODE(weft_call_soon(NULL, cb_join, NULL), 0);
    EXPECT_CODE(weft_task_join(join_target, NULL), 0);
    EXPECT_CODE(weft_task_join(join_target, NULL), -EALREADY);
    EXPECT_CODE(weft_task_join(other, NULL), 0);
    EXPECT_CODE(weft_task_join(other, NULL), -EALREADY);
    weft_task_release(join_target);
    weft_task_release(other);
    return 0;
}

static void test_task_join_errors(void **state)
{
    (void)state;
    assert_code(vrun(main_join_errors, NULL, NULL), 0);
    assert_expectations();
    assert_log("cb second self t:0@10");
}

static int main_result(void *arg, void **result)
{
    (void)arg;
    (void)result;
    struct job a = {"a", 10, 0, 5, 0}, b = {"b", 10, -EPIPE, 6, 0};
    weft_task *ta, *tb;
    void *r = P(99);
    EXPECT_CODE(weft_task_result(NULL, &r), -EINVAL);
    EXPECT_CODE(weft_spawn(&ta, task_job, &a, NULL), 0);
    EXPECT_CODE(weft_spawn(&tb, task_job, &b, NULL), 0);
    EXPECT_CODE(weft_task_result(ta, &r), -EAGAIN);   /* not started */
    EXPECT(r == P(99));
    EXPECT_CODE(weft_yield(), 0);
    EXPECT_CODE(weft_task_result(ta, &r), -EAGAIN);   /* waiting */
    EXPECT_CODE(weft_sleep(MS(10)), 0);
    for (int i = 0; i < 3; i++) {                     /* as often as wanted */
        r = NULL;
        EXPECT_CODE(weft_task_result(ta, &r), 0);
        EXPECT(r == P(5));
        EXPECT_CODE(weft_task_result(ta, NULL), 0);
        EXPECT_CODE(weft_task_result(tb, &r), -EPIPE);
    }
    EXPECT_CODE(weft_task_join(ta, NULL), 0);
    EXPECT_CODE(weft_task_result(ta, &r), 0);         /* still there after join */
    EXPECT(r == P(5));
    weft_task_release(ta);
    weft_task_release(tb);
    return 0;
}

static void test_task_result(void **state)
{
    (void)state;
    assert_code(vrun(main_result, NULL, NULL), 0);
    assert_expectations();
}

/* ------------------------------------------------------------------------ */
/* Cancellation                                                             */
/* ------------------------------------------------------------------------ */

static int task_cancel_then_continue(void *arg, void **result)
{
    weft_future f = WEFT_FUTURE_INIT;
    weft_task *other;
    (void)result;
    int rc = weft_sleep(WEFT_SEC(3600));
    say("sleep:%s@%s", cn(rc), at());
    /* Every later suspending call fails at once, time stands still. */
    EXPECT_CODE(weft_yield(), -ECANCELED);
    EXPECT_CODE(weft_sleep(0), -ECANCELED);
    EXPECT_CODE(weft_sleep(1), -ECANCELED);
    EXPECT_CODE(weft_sleep_until(MS(100)), -ECANCELED);
    EXPECT_CODE(weft_sleep_until(0), -ECANCELED);
    EXPECT_CODE(weft_future_await(&f, NULL), -ECANCELED);
    EXPECT_CODE(weft_spawn(&other, task_noop, NULL, NULL), 0); /* never suspends */
    EXPECT_CODE(weft_task_join(other, NULL), -ECANCELED);
    EXPECT_CODE(weft_task_cancel(weft_task_current()), 0);      /* again: fine */
    weft_task_release(other);
    say("after@%s", at());
    return (int)N(arg); /* the task decides how it ends */
}

static int main_cancel_cooperative(void *arg, void **result)
{
    (void)arg;
    (void)result;
    weft_task *done, *cancelled;
    EXPECT_CODE(weft_spawn(&done, task_cancel_then_continue, P(0), NULL), 0);
    EXPECT_CODE(weft_spawn(&cancelled, task_cancel_then_continue, P(-ECANCELED), NULL), 0);
    EXPECT_CODE(weft_sleep(MS(10)), 0);
    EXPECT_CODE(weft_task_cancel(done), 0);
    EXPECT_CODE(weft_task_cancel(done), 0); /* twice: still fine */
    EXPECT_CODE(weft_task_cancel(cancelled), 0);
    EXPECT_CODE(weft_task_join(done, NULL), 0);
    EXPECT_CODE(weft_task_status(done), WEFT_TASK_DONE);
    EXPECT_CODE(weft_task_join(cancelled, NULL), -ECANCELED);
    EXPECT_CODE(weft_task_status(cancelled), WEFT_TASK_CANCELLED);
    EXPECT_CODE(weft_task_cancel(done), -EALREADY);
    EXPECT_CODE(weft_task_cancel(cancelled), -EALREADY);
    EXPECT_CODE(weft_task_cancel(NULL), -EINVAL);
    weft_task_release(done);
    weft_task_release(cancelled);
    return 0;
}

static void test_task_cancel_cooperative(void **state)
{
    (void)state;
    assert_code(vrun(main_cancel_cooperative, NULL, NULL), 0);
    assert_expectations();
    assert_log("sleep:ECANCELED@10 after@10 sleep:ECANCELED@10 after@10");
}

static weft_task *cancelled_by_cb;

static void cb_cancels_task(void *arg)
{
    (void)arg;
    EXPECT_CODE(weft_task_cancel(cancelled_by_cb), 0);
    say("cb@%s", at());
}

static int main_cancel_from_callback(void *arg, void **result)
{
    (void)arg;
    (void)result;
    static struct job j = {"t", 1000, 0, 0, 0};
    EXPECT_CODE(weft_spawn(&cancelled_by_cb, task_job, &j, NULL), 0);
    EXPECT_CODE(weft_call_later(NULL, MS(10), cb_cancels_task, NULL), 0);
    EXPECT_CODE(weft_task_join(cancelled_by_cb, NULL), -ECANCELED);
    say("joined@%s", at());
    EXPECT_CODE(weft_task_release(cancelled_by_cb), 0);
    return 0;
}

static void test_task_cancel_from_callback(void **state)
{
    (void)state;
    assert_code(vrun(main_cancel_from_callback, NULL, NULL), 0);
    assert_expectations();
    assert_log("cb@10 t:ECANCELED@10 joined@10");
}

static int main_cancel_before_start(void *arg, void **result)
{
    (void)arg;
    (void)result;
    weft_task *t;
    void *r = P(1);
    EXPECT_CODE(weft_spawn(&t, task_say, "body", NULL), 0);
    EXPECT_CODE(weft_task_cancel(t), 0);
    EXPECT_CODE(weft_task_join(t, &r), -ECANCELED);
    EXPECT_CODE(weft_task_status(t), WEFT_TASK_CANCELLED);
    EXPECT_CODE(weft_task_result(t, NULL), -ECANCELED);
    EXPECT_CODE(weft_task_cancel(t), -EALREADY);
    weft_task_release(t);
    /* Detached, cancelled before it starts. */
    EXPECT_CODE(weft_spawn(&t, task_say, "body2", NULL), 0);
    EXPECT_CODE(weft_task_cancel(t), 0);
    EXPECT_CODE(weft_task_release(t), 0);
    EXPECT_CODE(weft_sleep(MS(1)), 0);
    return 0;
}

static void test_task_cancel_before_start_never_runs(void **state)
{
    (void)state;
    assert_code(vrun(main_cancel_before_start, NULL, NULL), 0);
    assert_expectations();
    assert_log("");
}

static int task_cancels_itself(void *arg, void **result)
{
    (void)arg;
    (void)result;
    EXPECT_CODE(weft_task_cancel(weft_task_current()), 0);
    say("still-running");
    int rc = weft_yield();
    say("yield:%s", cn(rc));
    return rc;
}

static int main_cancel_self(void *arg, void **result)
{
    (void)arg;
    (void)result;
    weft_task *t;
    EXPECT_CODE(weft_spawn(&t, task_cancels_itself, NULL, NULL), 0);
    EXPECT_CODE(weft_task_join(t, NULL), -ECANCELED);
    weft_task_release(t);
    return 0;
}

static void test_task_cancel_self(void **state)
{
    (void)state;
    assert_code(vrun(main_cancel_self, NULL, NULL), 0);
    assert_expectations();
    assert_log("still-running yield:ECANCELED");
}

/*
 * Cancellation at each suspension point of this layer: the wait returns
 * -ECANCELED at the moment of the cancel, and the waiter is off what it
 * waited on (shielded_sleep_100 ends on time although that thing happens
 * during it).
 */
static weft_future point_future;
static weft_task *point_joined;

static int task_point_yield(void *arg, void **result)
{
    (void)arg;
    (void)result;
    int rc = weft_yield();
    say("yield:%s@%s", cn(rc), at());
    return rc;
}

static int task_point_sleep0(void *arg, void **result)
{
    (void)arg;
    (void)result;
    int rc = weft_sleep(0);
    say("sleep0:%s@%s", cn(rc), at());
    return rc;
}

static int task_point_sleep(void *arg, void **result)
{
    (void)arg;
    (void)result;
    int rc = weft_sleep(MS(30));
    say("sleep:%s@%s", cn(rc), at());
    shielded_sleep_100();
    return rc;
}

static int task_point_sleep_until(void *arg, void **result)
{
    (void)arg;
    (void)result;
    int rc = weft_sleep_until(MS(30));
    say("sleep_until:%s@%s", cn(rc), at());
    shielded_sleep_100();
    return rc;
}

static int task_point_join(void *arg, void **result)
{
    (void)arg;
    (void)result;
    int rc = weft_task_join(point_joined, NULL);
    say("join:%s@%s", cn(rc), at());
    EXPECT_CODE(weft_task_status(point_joined), WEFT_TASK_PENDING);
    shielded_sleep_100();
    return rc;
}

static int task_point_await(void *arg, void **result)
{
    (void)arg;
    (void)result;
    int rc = weft_future_await(&point_future, NULL);
    say("await:%s@%s", cn(rc), at());
    shielded_sleep_100();
    return rc;
}

static int task_plain_await(void *arg, void **result)
{
    (void)arg;
    void *v = NULL;
    int rc = weft_future_await(&point_future, &v);
    say("other-await:%s:%d@%s", cn(rc), (int)N(v), at());
    *result = v;
    return rc;
}

/* Cancels the waiter while it waits, then does at 50 ms what would have
   ended its wait. */
static int main_cancel_point(void *arg, void **result)
{
    (void)result;
    struct job j = {"joined", 50, 0, 0, 0};
    weft_task *w, *other = NULL;
    memset(&point_future, 0, sizeof point_future);
    EXPECT_CODE(weft_spawn(&point_joined, task_job, &j, NULL), 0);
    EXPECT_CODE(weft_spawn(&w, (weft_task_fn)arg, NULL, NULL), 0);
    if (arg == (void *)task_point_await)
        EXPECT_CODE(weft_spawn(&other, task_plain_await, NULL, NULL), 0);
    if (arg == (void *)task_point_yield || arg == (void *)task_point_sleep0) {
        EXPECT_CODE(weft_yield(), 0);   /* w runs, yields, is queued */
    } else {
        EXPECT_CODE(weft_sleep(MS(10)), 0);
    }
    EXPECT_CODE(weft_task_cancel(w), 0);
    EXPECT_CODE(weft_sleep_until(MS(50)), 0);
    EXPECT_CODE(weft_future_set_result(&point_future, P(8)), 0);
    EXPECT_CODE(weft_task_join(w, NULL), -ECANCELED);
    EXPECT_CODE(weft_task_join(point_joined, NULL), 0); /* the cancelled join did not count */
    if (other) {
        EXPECT_CODE(weft_task_join(other, NULL), 0);
        weft_task_release(other);
    }
    say("end@%s", at());
    weft_task_release(w);
    weft_task_release(point_joined);
    return 0;
}

static void test_task_cancel_in_yield(void **state)
{
    (void)state;
    assert_code(vrun(main_cancel_point, (void *)task_point_yield, NULL), 0);
    assert_log("yield:ECANCELED@0 joined:0@50 end@50");
    assert_expectations();
}

static void test_task_cancel_in_sleep_zero(void **state)
{
    (void)state;
    assert_code(vrun(main_cancel_point, (void *)task_point_sleep0, NULL), 0);
    assert_log("sleep0:ECANCELED@0 joined:0@50 end@50");
    assert_expectations();
}

static void test_task_cancel_in_sleep(void **state)
{
    (void)state;
    assert_code(vrun(main_cancel_point, (void *)task_point_sleep, NULL), 0);
    assert_log("sleep:ECANCELED@10 joined:0@50 shielded:0@110 end@110");
    assert_expectations();
}

static void test_task_cancel_in_sleep_until(void **state)
{
    (void)state;
    assert_code(vrun(main_cancel_point, (void *)task_point_sleep_until, NULL), 0);
    assert_log("sleep_until:ECANCELED@10 joined:0@50 shielded:0@110 end@110");
    assert_expectations();
}

static void test_task_cancel_in_join(void **state)
{
    (void)state;
    assert_code(vrun(main_cancel_point, (void *)task_point_join, NULL), 0);
    assert_log("join:ECANCELED@10 joined:0@50 shielded:0@110 end@110");
    assert_expectations();
}

static void test_task_cancel_in_future_await(void **state)
{
    (void)state;
    assert_code(vrun(main_cancel_point, (void *)task_point_await, NULL), 0);
    assert_log("await:ECANCELED@10 joined:0@50 other-await:0:8@50 shielded:0@110 end@110");
    assert_expectations();
}

/* ------------------------------------------------------------------------ */
/* Done callbacks                                                           */
/* ------------------------------------------------------------------------ */

static void done_cb(weft_task *t, void *arg)
{
    void *r = NULL;
    int rc = weft_task_result(t, &r);
    say("%s:%s:%d:%d@%s", (const char *)arg, cn(rc), (int)N(r),
        (int)weft_task_status(t), at());
    EXPECT(weft_task_current() == NULL); /* on the loop's stack */
}

static int main_done_callbacks(void *arg, void **result)
{
    (void)arg;
    (void)result;
    struct job a = {"a", 10, 0, 7, 0}, b = {"b", 5, -EIO, 0, 0};
    weft_task *ta, *tb, *tc;
    EXPECT_CODE(weft_spawn(&ta, task_job, &a, NULL), 0);
    EXPECT_CODE(weft_spawn(&tb, task_job, &b, NULL), 0);
    EXPECT_CODE(weft_spawn(&tc, task_noop, NULL, NULL), 0);
    EXPECT_CODE(weft_task_add_done_callback(NULL, done_cb, "x"), -EINVAL);
    EXPECT_CODE(weft_task_add_done_callback(ta, NULL, "x"), -EINVAL);
    EXPECT_CODE(weft_task_add_done_callback(ta, done_cb, "a1"), 0);
    EXPECT_CODE(weft_task_add_done_callback(ta, done_cb, "a2"), 0);
    EXPECT_CODE(weft_task_add_done_callback(tb, done_cb, "b1"), 0);
    EXPECT_CODE(weft_task_add_done_callback(ta, done_cb, "a3"), 0);
    EXPECT_CODE(weft_task_cancel(tc), 0);
    EXPECT_CODE(weft_task_add_done_callback(tc, done_cb, "c1"), 0);
    EXPECT_CODE(weft_task_join(ta, NULL), 0);
    EXPECT_CODE(weft_yield(), 0);
    say("main@%s", at());
    /* Added after the end: runs soon all the same. */
    EXPECT_CODE(weft_task_add_done_callback(ta, done_cb, "late"), 0);
    say("added");
    EXPECT_CODE(weft_yield(), 0);
    say("main@%s", at());
    /* Released right after adding one: the callback keeps it alive. */
    EXPECT_CODE(weft_task_add_done_callback(tb, done_cb, "b-late"), 0);
    EXPECT_CODE(weft_task_release(tb), 0);
    EXPECT_CODE(weft_yield(), 0);
    weft_task_release(ta);
    weft_task_release(tc);
    return 0;
}

static void test_task_done_callbacks(void **state)
{
    (void)state;
    assert_code(vrun(main_done_callbacks, NULL, NULL), 0);
    assert_expectations();
    assert_log("c1:ECANCELED:0:4@0 b:0@5 b1:EIO:0:3@5 a:0@10 a1:0:7:2@10 a2:0:7:2@10 "
               "a3:0:7:2@10 main@10 added late:0:7:2@10 main@10 b-late:EIO:0:3@10");
}

static void done_cb_detached(weft_task *t, void *arg)
{
    (void)arg;
    say("%s:%s", weft_task_name(t), cn(weft_task_result(t, NULL)));
}

static int task_detached_with_cb(void *arg, void **result)
{
    (void)result;
    EXPECT_CODE(weft_task_add_done_callback(weft_task_current(), done_cb_detached, NULL), 0);
    EXPECT_CODE(weft_sleep(MS(1)), 0);
    return (int)N(arg);
}

static int main_detached_done_cb(void *arg, void **result)
{
    (void)arg;
    (void)result;
    EXPECT_CODE(weft_spawn(NULL, task_detached_with_cb, P(0), &(weft_task_opts){.name = "d0"}), 0);
    EXPECT_CODE(weft_spawn(NULL, task_detached_with_cb, P(-EIO), &(weft_task_opts){.name = "d1"}), 0);
    EXPECT_CODE(weft_sleep(MS(2)), 0);
    return 0;
}

static void test_task_done_callback_on_detached_task(void **state)
{
    (void)state;
    assert_code(vrun(main_detached_done_cb, NULL, NULL), 0);
    assert_expectations();
    assert_log("d0:0 d1:EIO");
}

/* ------------------------------------------------------------------------ */
/* Current task, the task list, names                                       */
/* ------------------------------------------------------------------------ */

static weft_task *spawned_as;

static int task_checks_current(void *arg, void **result)
{
    (void)arg;
    (void)result;
    EXPECT(weft_task_current() == spawned_as);
    return 0;
}

static void cb_checks_current(void *arg)
{
    (void)arg;
    EXPECT(weft_task_current() == NULL);
    say("cb");
}

static int main_current(void *arg, void **result)
{
    (void)arg;
    (void)result;
    weft_task *self = weft_task_current();
    EXPECT(self != NULL);
    EXPECT(strcmp(weft_task_name(self), "main") == 0);
    EXPECT_CODE(weft_spawn(&spawned_as, task_checks_current, NULL, NULL), 0);
    EXPECT_CODE(weft_call_soon(NULL, cb_checks_current, NULL), 0);
    EXPECT_CODE(weft_task_join(spawned_as, NULL), 0);
    EXPECT(weft_task_current() == self);
    weft_task_release(spawned_as);
    return 0;
}

static void test_task_current(void **state)
{
    (void)state;
    assert_null(weft_task_current());
    assert_code(vrun(main_current, NULL, NULL), 0);
    assert_expectations();
    assert_log("cb");
    assert_null(weft_task_current());
}

static int main_task_all(void *arg, void **result)
{
    (void)arg;
    (void)result;
    struct job a = {"a", 10, 0, 0, 0}, b = {"b", 5, 0, 0, 0}, c = {"c", 20, 0, 0, 0};
    weft_task *ta, *tb, *tc, *out[8] = {0};
    weft_task *self = weft_task_current();
    EXPECT_CODE(weft_task_all(out, 8), 1);
    EXPECT(out[0] == self);
    EXPECT_CODE(weft_spawn(&ta, task_job, &a, NULL), 0);
    EXPECT_CODE(weft_spawn(&tb, task_job, &b, NULL), 0);
    EXPECT_CODE(weft_spawn(NULL, task_job, &c, NULL), 0);
    EXPECT_CODE(weft_task_all(NULL, 0), 4);
    memset(out, 0, sizeof out);
    EXPECT_CODE(weft_task_all(out, 2), 4); /* how many there are */
    EXPECT(out[0] == self && out[1] == ta && out[2] == NULL);
    EXPECT_CODE(weft_task_all(out, 8), 4);
    EXPECT(out[0] == self && out[1] == ta && out[2] == tb && out[3] != NULL);
    tc = out[3];
    EXPECT_CODE(weft_sleep(MS(7)), 0); /* b has ended */
    memset(out, 0, sizeof out);
    EXPECT_CODE(weft_task_all(out, 8), 3);
    EXPECT(out[0] == self && out[1] == ta && out[2] == tc && out[3] == NULL);
    EXPECT_CODE(weft_sleep(MS(20)), 0);
    EXPECT_CODE(weft_task_all(out, 8), 1);
    weft_task_release(ta);
    weft_task_release(tb);
    return 0;
}

static void test_task_all(void **state)
{
    (void)state;
    weft_task *out[1];
    assert_int_equal(weft_task_all(out, 1), 0);
    assert_code(vrun(main_task_all, NULL, NULL), 0);
    assert_expectations();
    assert_log("b:0@5 a:0@10 c:0@20");
}

static int main_names(void *arg, void **result)
{
    (void)arg;
    (void)result;
    weft_task *a, *b, *c;
    char buf[64];
    strcpy(buf, "worker");
    EXPECT(strcmp(weft_task_name(weft_task_current()), "main") == 0);
    EXPECT_CODE(weft_spawn(&a, task_noop, NULL, NULL), 0);
    EXPECT_CODE(weft_spawn(&b, task_noop, NULL, NULL), 0);
    EXPECT_CODE(weft_spawn(&c, task_noop, NULL, &(weft_task_opts){.name = buf}), 0);
    strcpy(buf, "changed");                    /* the name was copied */
    EXPECT(strcmp(weft_task_name(c), "worker") == 0);
    /* Default names: "task-<id>", ids in spawn order. */
    unsigned long ida = 0, idb = 0;
    char rest = 0;
    EXPECT_CODE(sscanf(weft_task_name(a), "task-%lu%c", &ida, &rest), 1);
    EXPECT_CODE(sscanf(weft_task_name(b), "task-%lu%c", &idb, &rest), 1);
    EXPECT(idb == ida + 1);
    /* Renaming, and truncation to 31 bytes. */
    EXPECT_CODE(weft_task_set_name(a, "renamed"), 0);
    EXPECT(strcmp(weft_task_name(a), "renamed") == 0);
    EXPECT_CODE(weft_task_set_name(b, "0123456789abcdefghijklmnopqrstuvwxyz"), 0);
    EXPECT(strcmp(weft_task_name(b), "0123456789abcdefghijklmnopqrstu") == 0);
    EXPECT_CODE(weft_spawn(NULL, task_noop, NULL,
                           &(weft_task_opts){.name = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghij"}), 0);
    weft_task *all[8];
    EXPECT_CODE(weft_task_all(all, 8), 5);
    EXPECT(strcmp(weft_task_name(all[4]), "ABCDEFGHIJKLMNOPQRSTUVWXYZabcde") == 0);
    EXPECT_CODE(weft_task_set_name(NULL, "x"), -EINVAL);
    EXPECT_CODE(weft_task_set_name(a, NULL), -EINVAL);
    EXPECT(strcmp(weft_task_name(a), "renamed") == 0);
    EXPECT(strcmp(weft_task_name(NULL), "?") == 0);
    /* Names outlive the end while a reference is held. */
    EXPECT_CODE(weft_task_join(a, NULL), 0);
    EXPECT(strcmp(weft_task_name(a), "renamed") == 0);
    EXPECT_CODE(weft_task_set_name(a, "after"), 0);
    EXPECT(strcmp(weft_task_name(a), "after") == 0);
    weft_task_release(a);
    weft_task_release(b);
    weft_task_release(c);
    return 0;
}

static void test_task_names(void **state)
{
    (void)state;
    assert_code(vrun(main_names, NULL, NULL), 0);
    assert_expectations();
}

/* ------------------------------------------------------------------------ */
/* References                                                               */
/* ------------------------------------------------------------------------ */

static int main_release(void *arg, void **result)
{
    (void)arg;
    (void)result;
    struct job a = {"a", 10, 0, 0, 0}, b = {"b", 5, 0, 0, 0};
    weft_task *ta, *tb, *fresh;
    EXPECT_CODE(weft_task_release(NULL), -EINVAL);
    EXPECT_CODE(weft_spawn(&ta, task_job, &a, NULL), 0);
    EXPECT_CODE(weft_task_release(ta), 0);      /* before it ends: it still runs */
    EXPECT_CODE(weft_spawn(&tb, task_job, &b, NULL), 0);
    EXPECT_CODE(weft_spawn(NULL, task_say, "detached", NULL), 0);
    EXPECT_CODE(weft_sleep(MS(20)), 0);
    EXPECT_CODE(weft_task_status(tb), WEFT_TASK_DONE);
    EXPECT_CODE(weft_task_release(tb), 0);      /* after it ended */
    /* Records are reused: a fresh task starts from a clean state. */
    EXPECT_CODE(weft_spawn(&fresh, task_noop, NULL, NULL), 0);
    EXPECT_CODE(weft_task_status(fresh), WEFT_TASK_PENDING);
    EXPECT_CODE(weft_task_result(fresh, NULL), -EAGAIN);
    EXPECT(strncmp(weft_task_name(fresh), "task-", 5) == 0);
    EXPECT_CODE(weft_task_join(fresh, NULL), 0);
    weft_task_release(fresh);
    /* Many detached tasks come and go. */
    for (int round = 0; round < 20; round++) {
        for (int i = 0; i < 500; i++)
            EXPECT_CODE(weft_spawn(NULL, task_noop, NULL, NULL), 0);
        EXPECT_CODE(weft_yield(), 0);
        EXPECT_CODE(weft_task_all(NULL, 0), 1);
    }
    /* References never released are dropped by weft_run (leak checkers). */
    EXPECT_CODE(weft_spawn(&ta, task_noop, NULL, NULL), 0);
    EXPECT_CODE(weft_spawn(&tb, task_say, "tb", NULL), 0);
    EXPECT_CODE(weft_yield(), 0);
    return 0;
}

static void test_task_release_and_detached(void **state)
{
    (void)state;
    assert_code(vrun(main_release, NULL, NULL), 0);
    assert_expectations();
    assert_log("detached b:0@5 a:0@10 tb");
}

/* Task records are reused: whatever the last task left in one (a name, a
   join, a cancellation, a result, a scope) is gone in the next. */
static int task_dirty(void *arg, void **result)
{
    weft_scope s;
    (void)arg;
    *result = P(5);
    EXPECT_CODE(weft_scope_enter(&s, WEFT_FOREVER), 0);
    EXPECT_CODE(weft_task_set_name(weft_task_current(), "dirty"), 0);
    EXPECT_CODE(weft_task_add_done_callback(weft_task_current(), done_cb, "dirty-done"), 0);
    int rc = weft_sleep(MS(1000));
    say("dirty:%s@%s", cn(rc), at());
    return rc; /* leaves with its scope still entered */
}

static int task_clean(void *arg, void **result)
{
    (void)arg;
    EXPECT(strncmp(weft_task_name(weft_task_current()), "task-", 5) == 0);
    EXPECT_CODE(weft_sleep(MS(1)), 0);          /* neither cancelled nor scoped */
    say("clean@%s", at());
    *result = P(6);
    return 0;
}

static int main_recycled(void *arg, void **result)
{
    (void)arg;
    (void)result;
    for (int round = 0; round < 3; round++) {
        weft_task *t, *u;
        void *r = NULL;
        EXPECT_CODE(weft_spawn(&t, task_dirty, NULL, NULL), 0);
        EXPECT_CODE(weft_sleep(MS(2)), 0);
        EXPECT_CODE(weft_task_cancel(t), 0);
        EXPECT_CODE(weft_task_join(t, NULL), -ECANCELED);
        EXPECT_CODE(weft_yield(), 0);          /* its done callback runs */
        EXPECT_CODE(weft_task_release(t), 0);
        EXPECT_CODE(weft_spawn(&u, task_clean, NULL, NULL), 0);
        EXPECT_CODE(weft_task_status(u), WEFT_TASK_PENDING);
        EXPECT_CODE(weft_task_result(u, &r), -EAGAIN);
        EXPECT_CODE(weft_task_join(u, &r), 0);
        EXPECT(r == P(6));
        EXPECT_CODE(weft_task_release(u), 0);
    }
    return 0;
}

static void test_task_recycled_record_starts_clean(void **state)
{
    (void)state;
    assert_code(vrun(main_recycled, NULL, NULL), 0);
    assert_expectations();
    assert_log("dirty:ECANCELED@2 dirty-done:ECANCELED:5:4@2 clean@3 "
               "dirty:ECANCELED@5 dirty-done:ECANCELED:5:4@5 clean@6 "
               "dirty:ECANCELED@8 dirty-done:ECANCELED:5:4@8 clean@9");
}

/* ------------------------------------------------------------------------ */
/* Futures                                                                  */
/* ------------------------------------------------------------------------ */

static weft_future fut;

static int task_awaits(void *arg, void **result)
{
    void *v = NULL;
    int rc = weft_future_await(&fut, &v);
    say("%s:%s:%d@%s", (const char *)arg, cn(rc), (int)N(v), at());
    *result = v;
    return rc;
}

static int main_future_result(void *arg, void **result)
{
    (void)arg;
    (void)result;
    memset(&fut, 0, sizeof fut);
    EXPECT_CODE(weft_future_done(&fut), 0);
    EXPECT_CODE(weft_spawn(NULL, task_awaits, "w1", NULL), 0);
    EXPECT_CODE(weft_spawn(NULL, task_awaits, "w2", NULL), 0);
    EXPECT_CODE(weft_spawn(NULL, task_awaits, "w3", NULL), 0);
    EXPECT_CODE(weft_sleep(MS(10)), 0);
    EXPECT_CODE(weft_future_done(&fut), 0);
    EXPECT_CODE(weft_future_set_result(&fut, P(42)), 0);
    EXPECT_CODE(weft_future_done(&fut), 1);
    EXPECT_CODE(weft_future_set_result(&fut, P(43)), -EALREADY);
    EXPECT_CODE(weft_future_set_error(&fut, -EIO), -EALREADY);
    say("set@%s", at());
    EXPECT_CODE(weft_sleep(MS(1)), 0);
    /* Already resolved: the value at once, as often as asked. */
    void *v = NULL;
    EXPECT_CODE(weft_future_await(&fut, &v), 0);
    EXPECT(v == P(42));
    EXPECT_CODE(weft_future_await(&fut, NULL), 0);
    return 0;
}

static void test_task_future_set_result_wakes_all(void **state)
{
    (void)state;
    assert_code(vrun(main_future_result, NULL, NULL), 0);
    assert_expectations();
    assert_log("set@10 w1:0:42@10 w2:0:42@10 w3:0:42@10");
}

static int main_future_error(void *arg, void **result)
{
    (void)arg;
    (void)result;
    weft_future g = WEFT_FUTURE_INIT;
    memset(&fut, 0, sizeof fut);
    EXPECT_CODE(weft_future_set_error(&fut, 0), -EINVAL);
    EXPECT_CODE(weft_future_set_error(&fut, 5), -EINVAL);
    EXPECT_CODE(weft_future_set_error(&fut, -32769), -EINVAL);   /* the record's code is 16 bits */
    EXPECT_CODE(weft_future_done(&fut), 0);        /* still pending */
    EXPECT_CODE(weft_spawn(NULL, task_awaits, "w1", NULL), 0);
    EXPECT_CODE(weft_spawn(NULL, task_awaits, "w2", NULL), 0);
    EXPECT_CODE(weft_sleep(MS(3)), 0);
    EXPECT_CODE(weft_future_set_error(&fut, -EPIPE), 0);
    EXPECT_CODE(weft_future_set_error(&fut, -EIO), -EALREADY);
    EXPECT_CODE(weft_future_set_result(&fut, NULL), -EALREADY);
    EXPECT_CODE(weft_future_done(&fut), 1);
    EXPECT_CODE(weft_future_await(&fut, NULL), -EPIPE);
    /* Cancelling a future. */
    EXPECT_CODE(weft_future_set_error(&g, -ECANCELED), 0);
    EXPECT_CODE(weft_future_await(&g, NULL), -ECANCELED);
    /* NULL everywhere. */
    EXPECT_CODE(weft_future_set_result(NULL, NULL), -EINVAL);
    EXPECT_CODE(weft_future_set_error(NULL, -EIO), -EINVAL);
    EXPECT_CODE(weft_future_await(NULL, NULL), -EINVAL);
    EXPECT_CODE(weft_future_done(NULL), 0);
    EXPECT_CODE(weft_yield(), 0);
    return 0;
}

static void test_task_future_set_error(void **state)
{
    (void)state;
    assert_code(vrun(main_future_error, NULL, NULL), 0);
    assert_expectations();
    assert_log("w1:EPIPE:0@3 w2:EPIPE:0@3");
}

static void cb_resolves(void *arg)
{
    (void)arg;
    EXPECT_CODE(weft_future_await(&fut, NULL), -EPERM);
    EXPECT_CODE(weft_future_set_result(&fut, P(5)), 0);
    say("cb@%s", at());
}

static int main_future_from_callback(void *arg, void **result)
{
    (void)arg;
    (void)result;
    memset(&fut, 0, sizeof fut);
    EXPECT_CODE(weft_call_later(NULL, MS(4), cb_resolves, NULL), 0);
    void *v = NULL;
    EXPECT_CODE(weft_future_await(&fut, &v), 0);
    EXPECT(v == P(5));
    say("main@%s", at());
    return 0;
}

static void test_task_future_resolved_by_callback(void **state)
{
    (void)state;
    assert_code(vrun(main_future_from_callback, NULL, NULL), 0);
    assert_expectations();
    assert_log("cb@4 main@4");
}

/* ------------------------------------------------------------------------ */
/* Failures nobody read (weft_loop_opts.error_handler)                      */
/* ------------------------------------------------------------------------ */

static void on_unread(weft_task *t, int code, void *arg)
{
    say("unread:%s:%s:%s", (const char *)arg, weft_task_name(t), cn(code));
}

static int run_unread(weft_task_fn fn)
{
    return weft_run_opts(fn, NULL, NULL, &(weft_loop_opts){
        .virtual_clock = 1, .error_handler = on_unread, .error_arg = "h"});
}

static int fail_after(void *arg, void **result)
{
    (void)result;
    int rc = weft_sleep(MS(N(arg)));
    return rc ? rc : -EIO;
}

static int main_unread(void *arg, void **result)
{
    (void)arg;
    (void)result;
    weft_task *held, *joined, *read, *cancelled, *kept, *gathered;
    /* Detached: reported when it ends. */
    EXPECT_CODE(weft_spawn(NULL, fail_after, P(1), &(weft_task_opts){.name = "detached"}), 0);
    EXPECT_CODE(weft_spawn(&held, fail_after, P(1), &(weft_task_opts){.name = "held"}), 0);
    EXPECT_CODE(weft_spawn(&joined, fail_after, P(1), &(weft_task_opts){.name = "joined"}), 0);
    EXPECT_CODE(weft_spawn(&read, fail_after, P(1), &(weft_task_opts){.name = "read"}), 0);
    EXPECT_CODE(weft_spawn(&cancelled, fail_after, P(1), &(weft_task_opts){.name = "cancelled"}),
                0);
    EXPECT_CODE(weft_spawn(&kept, fail_after, P(1), &(weft_task_opts){.name = "kept"}), 0);
    EXPECT_CODE(weft_spawn(&gathered, fail_after, P(1), &(weft_task_opts){.name = "gathered"}),
                0);
    EXPECT_CODE(weft_task_cancel(cancelled), 0);
    EXPECT_CODE(weft_task_join(joined, NULL), -EIO);
    EXPECT_CODE(weft_gather(&gathered, 1, NULL, NULL, 0), -EIO);
    say("ended@%s", at());
    EXPECT_CODE(weft_task_result(read, NULL), -EIO);
    EXPECT_CODE(weft_task_release(read), 0);
    EXPECT_CODE(weft_task_release(joined), 0);
    EXPECT_CODE(weft_task_release(cancelled), 0);
    EXPECT_CODE(weft_task_release(gathered), 0);
    say("releasing");
    EXPECT_CODE(weft_task_release(held), 0);    /* reported here */
    /* A group answers for its members. */
    weft_group g;
    EXPECT_CODE(weft_group_enter(&g), 0);
    EXPECT_CODE(weft_group_spawn(&g, NULL, fail_after, P(1), NULL), 0);
    EXPECT_CODE(weft_group_exit(&g), -EIO);
    say("main-ends");
    (void)kept;                 /* still held when weft_run() returns */
    return 0;
}

static void test_task_unread_failures_reported(void **state)
{
    (void)state;
    assert_code(run_unread(main_unread), 0);
    assert_expectations();
    assert_log("unread:h:detached:EIO ended@1 releasing unread:h:held:EIO main-ends "
               "unread:h:kept:EIO");
}

static int main_unread_default(void *arg, void **result)
{
    (void)arg;
    (void)result;
    EXPECT_CODE(weft_spawn(NULL, fail_after, P(0), &(weft_task_opts){.name = "lost"}), 0);
    return weft_sleep(MS(1));   /* it fails meanwhile */
}

/* Without a handler, one line on stderr names the task and the error. */
static void test_task_unread_failure_default_line(void **state)
{
    (void)state;
    char path[] = "/tmp/weft-unread-XXXXXX", line[256] = {0};
    int fd = mkstemp(path), saved = dup(STDERR_FILENO);
    assert_true(fd >= 0 && saved >= 0);
    unlink(path);
    fflush(stderr);
    dup2(fd, STDERR_FILENO);
    int rc = vrun(main_unread_default, NULL, NULL);
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    assert_code(rc, 0);
    assert_true(pread(fd, line, sizeof line - 1, 0) > 0);
    close(fd);
    assert_string_equal(line, "weft: task 'lost' failed with EIO (Input/output error), "
                              "and nobody read it\n");
}

/* ------------------------------------------------------------------------ */

#define TEST(f) cmocka_unit_test_setup(f, reset)

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEST(test_task_spawn_outside_loop),
        TEST(test_task_unread_failures_reported),
        TEST(test_task_unread_failure_default_line),
        TEST(test_task_spawn_bad_arguments),
        TEST(test_task_spawn_starts_when_spawner_suspends),
        TEST(test_task_states),
        TEST(test_task_join_result_and_codes),
        TEST(test_task_join_errors),
        TEST(test_task_result),
        TEST(test_task_cancel_cooperative),
        TEST(test_task_cancel_from_callback),
        TEST(test_task_cancel_before_start_never_runs),
        TEST(test_task_cancel_self),
        TEST(test_task_cancel_in_yield),
        TEST(test_task_cancel_in_sleep_zero),
        TEST(test_task_cancel_in_sleep),
        TEST(test_task_cancel_in_sleep_until),
        TEST(test_task_cancel_in_join),
        TEST(test_task_cancel_in_future_await),
        TEST(test_task_done_callbacks),
        TEST(test_task_done_callback_on_detached_task),
        TEST(test_task_current),
        TEST(test_task_all),
        TEST(test_task_names),
        TEST(test_task_release_and_detached),
        TEST(test_task_recycled_record_starts_clean),
        TEST(test_task_future_set_result_wakes_all),
        TEST(test_task_future_set_error),
        TEST(test_task_future_resolved_by_callback),
    };
    return cmocka_run_group_tests_name("task", tests, NULL, NULL);
}
