/*
 * test_loops.c - several loops (weft/loops.h): weft_loop_opts.loops,
 * weft_loop_at/index/count, weft_spawn_on (result, error, cancel from
 * either side, a cancelled joiner, detached work, loops ending with work
 * in flight on every loop), -EXDEV from every loop-local object touched by
 * another loop, with 2 and 4 loops on whatever CPUs there are.
 *
 * Tasks of loops other than 0 run on other threads: they never touch
 * cmocka or the EXPECT state, only CHECK, which counts failures in an
 * atomic that the test asserts afterwards. Nothing here depends on time:
 * waits that must be cancelled sleep an hour on the real clock.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

#include <cmocka.h>

#include <weft.h>

#include "support.h"
#include "loops_check.h"

/* Returns the index of the loop it runs on as its result. */
static int task_index(void *arg, void **result)
{
    (void)arg;
    *result = P(weft_loop_index());
    CHECK_CODE(weft_loop_count(), N(arg));
    return 0;
}

static int task_fail(void *arg, void **result)
{
    *result = arg;
    return -EIO;
}

static atomic_int started_;

/* Waits (polling) until `n` tasks have started their sleep. */
static void wait_started(int n)
{
    while (atomic_load(&started_) < n)
        CHECK_CODE(weft_sleep(WEFT_MSEC(1)), 0);
}

static int task_sleep_hour(void *arg, void **result)
{
    (void)result;
    atomic_fetch_add(&started_, 1);
    int rc = weft_sleep(WEFT_SEC(3600));
    if (arg)
        atomic_fetch_add((atomic_int *)arg, 1);
    return rc;
}

static int task_cancel_self(void *arg, void **result)
{
    (void)arg;
    (void)result;
    CHECK_CODE(weft_task_cancel(weft_task_current()), 0);
    return weft_sleep(WEFT_SEC(3600));
}

/* ------------------------------------------------------------------------ */

static int main_count(void *arg, void **result)
{
    int n = (int)N(arg);
    (void)result;
    CHECK_CODE(weft_loop_count(), n);
    CHECK_CODE(weft_loop_index(), 0);
    CHECK(weft_loop_at(-1) == NULL);
    CHECK(weft_loop_at(n) == NULL);
    for (int i = 0; i < n; i++) {
        weft_task *t;
        void *r = NULL;
        CHECK(weft_loop_at(i) != NULL);
        CHECK_CODE(weft_spawn_on(weft_loop_at(i), task_index, P(n), NULL, &t), 0);
        CHECK_CODE(weft_task_join(t, &r), 0);
        CHECK_CODE(N(r), i);
        CHECK_CODE(weft_task_status(t), WEFT_TASK_DONE);
        CHECK_CODE(weft_task_release(t), 0);
    }
    return 7;
}

static void test_loops_count_and_index(void **state)
{
    (void)state;
    assert_code(weft_loop_index(), -EPERM);
    assert_code(weft_loop_count(), -EPERM);
    assert_null(weft_loop_at(0));
    assert_code(run_loops(0, main_count, P(1)), 0);
    assert_code(run_loops(1, main_count, P(1)), 0);
    assert_code(run_loops(2, main_count, P(2)), 0);
    assert_code(run_loops(4, main_count, P(4)), 0);
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    assert_code(weft_run_opts(main_count, P(ncpu), NULL,
                              &(weft_loop_opts){.loops = WEFT_LOOPS_ALL, .pin = 1}), 0);
    assert_code(run_loops(-2, main_count, P(1)), -EINVAL);
    assert_checks();
}

static int main_bad_args(void *arg, void **result)
{
    weft_task *t;
    (void)arg;
    (void)result;
    CHECK_CODE(weft_spawn_on(NULL, task_index, NULL, NULL, &t), -EINVAL);
    CHECK_CODE(weft_spawn_on(weft_loop_at(1), NULL, NULL, NULL, &t), -EINVAL);
    return 0;
}

static void test_loops_spawn_on_bad_args(void **state)
{
    (void)state;
    weft_task *t;
    assert_code(run_loops(2, main_bad_args, NULL), 0);
    assert_code(weft_spawn_on((weft_loop *)&t, task_index, NULL, NULL, &t), -EPERM);
    assert_checks();
}

/* The error and result come back; names and stack sizes go over. */
static int task_named(void *arg, void **result)
{
    (void)arg;
    *result = (void *)weft_task_name(weft_task_current());
    return 0;
}

static int main_error(void *arg, void **result)
{
    weft_task *t;
    void *r = NULL;
    (void)arg;
    (void)result;
    CHECK_CODE(weft_spawn_on(weft_loop_at(1), task_fail, P(5), NULL, &t), 0);
    CHECK_CODE(weft_task_status(t), WEFT_TASK_PENDING);
    CHECK_CODE(weft_task_result(t, &r), -EAGAIN);
    CHECK_CODE(weft_task_join(t, &r), -EIO);
    CHECK_CODE(N(r), 5);
    CHECK_CODE(weft_task_status(t), WEFT_TASK_FAILED);
    CHECK_CODE(weft_task_join(t, &r), -EALREADY);
    CHECK_CODE(weft_task_cancel(t), -EALREADY);
    weft_task_release(t);
    CHECK_CODE(weft_spawn_on(weft_loop_at(1), task_named, NULL,
                             &(weft_task_opts){.name = "far", .stack_size = 128 * 1024}, &t),
               0);
    CHECK(weft_task_name(t)[0] == 'f');
    CHECK_CODE(weft_task_join(t, &r), 0);
    CHECK(r && ((const char *)r)[0] == 'f' && ((const char *)r)[1] == 'a');
    weft_task_release(t);
    return 0;
}

static void test_loops_spawn_on_error_and_result(void **state)
{
    (void)state;
    assert_code(run_loops(2, main_error, NULL), 0);
    assert_checks();
}

/* Cancel from the caller's side, from the task's own side, and a joiner
   cancelled while the remote task goes on. */
static int joiner(void *arg, void **result)
{
    (void)result;
    return weft_task_join(arg, NULL);
}

static int main_cancel(void *arg, void **result)
{
    weft_task *t, *j;
    atomic_int woke = 0;
    (void)arg;
    (void)result;
    /* Caller's side, before and after the remote task started. */
    CHECK_CODE(weft_spawn_on(weft_loop_at(1), task_sleep_hour, &woke, NULL, &t), 0);
    CHECK_CODE(weft_task_cancel(t), 0);
    CHECK_CODE(weft_task_cancel(t), 0);
    CHECK_CODE(weft_task_join(t, NULL), -ECANCELED);
    CHECK_CODE(weft_task_status(t), WEFT_TASK_CANCELLED);
    weft_task_release(t);
    int s0 = atomic_load(&started_);
    CHECK_CODE(weft_spawn_on(weft_loop_at(1), task_sleep_hour, &woke, NULL, &t), 0);
    wait_started(s0 + 1);
    CHECK_CODE(weft_task_cancel(t), 0);
    CHECK_CODE(weft_task_join(t, NULL), -ECANCELED);
    weft_task_release(t);
    /* The task's side. */
    CHECK_CODE(weft_spawn_on(weft_loop_at(1), task_cancel_self, NULL, NULL, &t), 0);
    CHECK_CODE(weft_task_join(t, NULL), -ECANCELED);
    weft_task_release(t);
    /* A joiner cancelled: only the join ends, the task runs on. */
    s0 = atomic_load(&started_);
    CHECK_CODE(weft_spawn_on(weft_loop_at(1), task_sleep_hour, &woke, NULL, &t), 0);
    CHECK_CODE(weft_spawn(&j, joiner, t, NULL), 0);
    wait_started(s0 + 1);
    CHECK_CODE(weft_task_cancel(j), 0);
    CHECK_CODE(weft_task_join(j, NULL), -ECANCELED);
    weft_task_release(j);
    CHECK_CODE(weft_task_status(t), WEFT_TASK_PENDING);
    CHECK_CODE(weft_task_cancel(t), 0);
    CHECK_CODE(weft_task_join(t, NULL), -ECANCELED);
    weft_task_release(t);
    /* The two that surely started; the first may have started too. */
    CHECK(atomic_load(&woke) >= 2 && atomic_load(&woke) <= 3);
    return 0;
}

static void test_loops_spawn_on_cancel_either_side(void **state)
{
    (void)state;
    assert_code(run_loops(2, main_cancel, NULL), 0);
    assert_checks();
}

/* Work in flight on every loop when main returns: detached and held tasks
   that sleep, tasks spawned from other loops back on loop 0 and across,
   a handle never joined. Everything is cancelled and drained. */
static atomic_int ended_;
static atomic_int spread_;              /* spreaders done spawning */

static int task_spread(void *arg, void **result)
{
    (void)result;
    int n = weft_loop_count();
    for (int i = 0; i < n; i++) {
        weft_task *t;
        CHECK_CODE(weft_spawn_on(weft_loop_at(i), task_sleep_hour, &ended_, NULL, NULL), 0);
        CHECK_CODE(weft_spawn_on(weft_loop_at(i), task_sleep_hour, &ended_, NULL, &t), 0);
        if (i % 2)
            weft_task_release(t);       /* the rest are left to the loop */
    }
    (void)arg;
    atomic_fetch_add(&spread_, 1);
    return weft_sleep(WEFT_SEC(3600));
}

static int main_in_flight(void *arg, void **result)
{
    int n = weft_loop_count();
    (void)arg;
    (void)result;
    for (int i = 0; i < n; i++)
        CHECK_CODE(weft_spawn_on(weft_loop_at(i), task_spread, NULL, NULL, NULL), 0);
    while (atomic_load(&spread_) < n)
        CHECK_CODE(weft_sleep(WEFT_MSEC(1)), 0);
    return -ENOTCONN;
}

static void test_loops_end_with_work_in_flight(void **state)
{
    (void)state;
    for (int n = 2; n <= 4; n += 2) {
        atomic_store(&ended_, 0);
        atomic_store(&started_, 0);
        atomic_store(&spread_, 0);
        assert_code(run_loops(n, main_in_flight, NULL), -ENOTCONN);
        /* Each of n spreaders spawned 2 sleepers on each of n loops; the
           ones cancelled before they ran never start. Every one that
           started was cancelled and ended before the run returned. */
        assert_int_equal(atomic_load(&spread_), n);
        assert_true(atomic_load(&started_) <= 2 * n * n);
        assert_int_equal(atomic_load(&ended_), atomic_load(&started_));
    }
    assert_checks();
}

/* Many spawns at once across loops, joined in order. */
static int task_square(void *arg, void **result)
{
    *result = P(N(arg) * N(arg));
    return 0;
}

static int main_many(void *arg, void **result)
{
    enum { COUNT = 500 };
    static weft_task *ts[COUNT];
    int n = weft_loop_count();
    (void)arg;
    (void)result;
    for (int i = 0; i < COUNT; i++)
        CHECK_CODE(weft_spawn_on(weft_loop_at(i % n), task_square, P(i), NULL, &ts[i]), 0);
    for (int i = 0; i < COUNT; i++) {
        void *r = NULL;
        CHECK_CODE(weft_task_join(ts[i], &r), 0);
        CHECK_CODE(N(r), i * i);
        weft_task_release(ts[i]);
    }
    return 0;
}

static void test_loops_spawn_on_many(void **state)
{
    (void)state;
    assert_code(run_loops(2, main_many, NULL), 0);
    assert_code(run_loops(4, main_many, NULL), 0);
    assert_checks();
}

/* Loop-local objects used by a task of another loop: -EXDEV, nothing
   changes; once their loop has ended, another loop takes them over. */
static struct local_objects {
    weft_mutex m;
    weft_sem s;
    weft_event e;
    weft_cond c;
    weft_waitgroup wg;
    weft_chan *ch;
    weft_task *t;               /* a task of loop 0 */
    weft_future f;              /* awaited by a task of loop 0 */
    weft_group g;               /* entered by loop 0's main */
} lo_;

static int task_await_future(void *arg, void **result)
{
    return weft_future_await(arg, result);
}

static int task_touch_foreign(void *arg, void **result)
{
    struct local_objects *o = arg;
    int v = 1;
    (void)result;
    CHECK_CODE(weft_mutex_lock(&o->m), -EXDEV);
    CHECK_CODE(weft_mutex_trylock(&o->m), -EXDEV);
    CHECK_CODE(weft_mutex_unlock(&o->m), -EXDEV);
    CHECK_CODE(weft_sem_acquire(&o->s), -EXDEV);
    CHECK_CODE(weft_sem_tryacquire(&o->s), -EXDEV);
    CHECK_CODE(weft_sem_release(&o->s), -EXDEV);
    CHECK_CODE(weft_event_set(&o->e), -EXDEV);
    CHECK_CODE(weft_event_clear(&o->e), -EXDEV);
    CHECK_CODE(weft_event_wait(&o->e), -EXDEV);
    CHECK_CODE(weft_cond_signal(&o->c), -EXDEV);
    CHECK_CODE(weft_cond_broadcast(&o->c), -EXDEV);
    CHECK_CODE(weft_cond_wait(&o->c, &o->m), -EXDEV);
    CHECK_CODE(weft_waitgroup_add(&o->wg, 1), -EXDEV);
    CHECK_CODE(weft_waitgroup_done(&o->wg), -EXDEV);
    CHECK_CODE(weft_waitgroup_wait(&o->wg), -EXDEV);
    CHECK_CODE(weft_chan_send(o->ch, &v), -EXDEV);
    CHECK_CODE(weft_chan_recv(o->ch, &v), -EXDEV);
    CHECK_CODE(weft_chan_try_send(o->ch, &v), -EXDEV);
    CHECK_CODE(weft_chan_try_recv(o->ch, &v), -EXDEV);
    weft_select_case c = {.ch = o->ch, .op = WEFT_SELECT_RECV, .elem = &v};
    CHECK_CODE(weft_select(&c, 1, 0), -EXDEV);
    CHECK_CODE(weft_chan_close(o->ch), -EXDEV);
    CHECK_CODE(weft_chan_destroy(o->ch), -EXDEV);
    CHECK_CODE(weft_task_join(o->t, NULL), -EXDEV);
    CHECK_CODE(weft_task_cancel(o->t), -EXDEV);
    CHECK_CODE(weft_gather(&o->t, 1, NULL, NULL, 0), -EXDEV);
    size_t nd, np;
    CHECK_CODE(weft_wait(&o->t, 1, 0, WEFT_ALL_COMPLETED, NULL, &nd, NULL, &np), -EXDEV);
    CHECK_CODE(weft_wait_for(o->t, 0, NULL), -EXDEV);     /* would cancel it */
    weft_as_completed ac;
    CHECK_CODE(weft_as_completed_init(&ac, &o->t, 1, WEFT_FOREVER), 0);
    weft_task *next;
    CHECK_CODE(weft_as_completed_next(&ac, &next), -EXDEV);
    CHECK_CODE(weft_future_set_result(&o->f, NULL), -EXDEV);
    CHECK_CODE(weft_future_set_error(&o->f, -EIO), -EXDEV);
    CHECK_CODE(weft_future_await(&o->f, NULL), -EXDEV);
    CHECK_CODE(weft_group_spawn(&o->g, NULL, task_sleep_hour, NULL, NULL), -EXDEV);
    return 0;
}

static int main_exdev(void *arg, void **result)
{
    struct local_objects *o = arg;
    int v = 7;
    weft_task *t;
    (void)result;
    /* First use on loop 0: the mutex held, a permit taken, the event set,
       a value buffered, one unit of work outstanding. */
    CHECK_CODE(weft_mutex_lock(&o->m), 0);
    CHECK_CODE(weft_sem_tryacquire(&o->s), 0);
    CHECK_CODE(weft_event_set(&o->e), 0);
    CHECK_CODE(weft_cond_signal(&o->c), 0);
    CHECK_CODE(weft_waitgroup_add(&o->wg, 1), 0);
    CHECK_CODE(weft_chan_try_send(o->ch, &v), 0);
    CHECK_CODE(weft_spawn(&o->t, task_sleep_hour, NULL, NULL), 0);
    weft_task *awaiter;
    void *got = NULL;
    CHECK_CODE(weft_spawn(&awaiter, task_await_future, &o->f, NULL), 0);
    CHECK_CODE(weft_yield(), 0);                /* it awaits the future now */
    CHECK_CODE(weft_group_enter(&o->g), 0);
    CHECK_CODE(weft_spawn_on(weft_loop_at(1), task_touch_foreign, o, NULL, &t), 0);
    CHECK_CODE(weft_task_join(t, NULL), 0);
    weft_task_release(t);
    CHECK_CODE(weft_group_exit(&o->g), 0);      /* nothing was spawned into it */
    CHECK_CODE(weft_future_set_result(&o->f, &o->f), 0);
    CHECK_CODE(weft_task_join(awaiter, &got), 0);
    CHECK(got == &o->f);
    weft_task_release(awaiter);
    /* Nothing changed. */
    CHECK_CODE(weft_mutex_unlock(&o->m), 0);
    CHECK_CODE(weft_sem_value(&o->s), 1);
    CHECK_CODE(weft_event_is_set(&o->e), 1);
    CHECK_CODE(weft_waitgroup_done(&o->wg), 0);
    v = 0;
    CHECK_CODE(weft_chan_try_recv(o->ch, &v), 0);
    CHECK_CODE(v, 7);
    CHECK_CODE(weft_task_status(o->t), WEFT_TASK_PENDING);
    CHECK_CODE(weft_task_cancel(o->t), 0);
    CHECK_CODE(weft_task_join(o->t, NULL), -ECANCELED);
    weft_task_release(o->t);
    return 0;
}

/* After the run above: loop 1 of a new run uses them first, then loop 0
   is the foreign one. */
static int task_take_over(void *arg, void **result)
{
    struct local_objects *o = arg;
    (void)result;
    CHECK_CODE(weft_mutex_lock(&o->m), 0);
    CHECK_CODE(weft_chan_close(o->ch), 0);
    return 0;
}

static int main_take_over(void *arg, void **result)
{
    struct local_objects *o = arg;
    weft_task *t;
    (void)result;
    CHECK_CODE(weft_spawn_on(weft_loop_at(1), task_take_over, o, NULL, &t), 0);
    CHECK_CODE(weft_task_join(t, NULL), 0);
    weft_task_release(t);
    CHECK_CODE(weft_mutex_trylock(&o->m), -EXDEV);
    CHECK_CODE(weft_chan_close(o->ch), -EXDEV);
    CHECK_CODE(weft_sem_release(&o->s), 0);     /* untouched by loop 1 */
    return 0;
}

static void test_loops_exdev_for_loop_local_objects(void **state)
{
    (void)state;
    lo_ = (struct local_objects){.m = WEFT_MUTEX_INIT, .s = WEFT_SEM_INIT(2),
                                 .e = WEFT_EVENT_INIT, .c = WEFT_COND_INIT,
                                 .wg = WEFT_WAITGROUP_INIT};
    assert_code(weft_chan_create(&lo_.ch, sizeof(int), 4), 0);
    assert_code(run_loops(2, main_exdev, &lo_), 0);
    assert_checks();
    assert_code(run_loops(2, main_take_over, &lo_), 0);
    assert_checks();
    assert_code(weft_chan_destroy(lo_.ch), 0);   /* no loop: no owner check */
}

static void *join_thread(void *arg)
{
    pthread_join(*(pthread_t *)arg, NULL);
    return NULL;
}

/* spawn_on to a loop of another weft_run() (a weft_loop_get() handle),
   while it runs and after it has ended. */
static weft_loop *other_;
static weft_xevent other_ready_, other_may_end_;

static int other_main(void *arg, void **result)
{
    (void)arg;
    (void)result;
    other_ = weft_loop_get();
    CHECK_CODE(weft_xevent_set(&other_ready_), 0);
    return weft_xevent_wait(&other_may_end_);
}

static void *other_thread(void *arg)
{
    (void)arg;
    CHECK_CODE(weft_run(other_main, NULL, NULL), 0);
    return NULL;
}

static int main_other_run(void *arg, void **result)
{
    pthread_t *th = arg;
    weft_task *t;
    void *r = NULL;
    (void)result;
    CHECK_CODE(weft_xevent_wait(&other_ready_), 0);
    CHECK_CODE(weft_spawn_on(other_, task_index, P(1), NULL, &t), 0);
    CHECK_CODE(weft_task_join(t, &r), 0);
    CHECK_CODE(N(r), 0);                /* index 0 of a loop of its own */
    weft_task_release(t);
    CHECK_CODE(weft_xevent_set(&other_may_end_), 0);
    CHECK_CODE(weft_to_thread(join_thread, th, NULL), 0);
    CHECK_CODE(weft_spawn_on(other_, task_index, P(1), NULL, &t), -ESHUTDOWN);
    weft_loop_put(other_);
    return 0;
}

static void test_loops_spawn_on_another_run(void **state)
{
    (void)state;
    pthread_t th;
    other_ready_ = (weft_xevent)WEFT_XEVENT_INIT;
    other_may_end_ = (weft_xevent)WEFT_XEVENT_INIT;
    assert_int_equal(pthread_create(&th, NULL, other_thread, NULL), 0);
    assert_code(weft_run(main_other_run, &th, NULL), 0);
    assert_checks();
}

#define TEST(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEST(test_loops_count_and_index),
        TEST(test_loops_spawn_on_bad_args),
        TEST(test_loops_spawn_on_error_and_result),
        TEST(test_loops_spawn_on_cancel_either_side),
        TEST(test_loops_end_with_work_in_flight),
        TEST(test_loops_spawn_on_many),
        TEST(test_loops_exdev_for_loop_local_objects),
        TEST(test_loops_spawn_on_another_run),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
