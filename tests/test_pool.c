/*
 * test_pool.c - the worker pool and the way in from other threads
 * (include/weft/io.h, last two sections): weft_to_thread running blocking
 * calls while the loop keeps running, results, the pool under load and its
 * size (weft_loop_opts.workers), cancellation and timeouts while waiting,
 * weft_run waiting for jobs still running; weft_loop_get/put,
 * weft_call_soon_threadsafe and weft_spawn_threadsafe/weft_remote_wait from
 * several threads, and -ESHUTDOWN after the loop has ended.
 *
 * Other threads never touch cmocka or the EXPECT state: they count failures
 * in atomics the test checks afterwards. Real-clock checks use generous
 * bounds (valgrind and qemu are slow); the rest runs on the virtual clock.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <weft.h>

#include "support.h"

static int setup(void **state)
{
    alarm(60);
    return reset(state);
}

static int teardown(void **state)
{
    (void)state;
    alarm(0);
    return 0;
}

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Runs `fn` as main on the real clock with `workers` pool threads. */
static int rrun(weft_task_fn fn, void *arg, int workers)
{
    return weft_run_opts(fn, arg, NULL, &(weft_loop_opts){.workers = workers});
}

static pthread_t loop_thread_;

/* ------------------------------------------------------------------------ */
/* weft_to_thread                                                           */
/* ------------------------------------------------------------------------ */

static atomic_int job_thread_is_loop_;

static void *job_sleep_200ms(void *arg)
{
    if (pthread_equal(pthread_self(), loop_thread_))
        atomic_fetch_add(&job_thread_is_loop_, 1);
    usleep(200 * 1000);
    return (void *)((intptr_t)arg * 2);
}

static volatile int ticker_stop_;
static int ticks_;

static int task_ticker(void *arg, void **result)
{
    (void)arg;
    (void)result;
    while (!ticker_stop_) {
        EXPECT_CODE(weft_sleep(MS(1)), 0);
        ticks_++;
    }
    return 0;
}

static int64_t blocked_ns_;

static int main_to_thread_blocking(void *arg, void **result)
{
    (void)arg;
    (void)result;
    weft_task *t;
    void *r = NULL;
    loop_thread_ = pthread_self();
    EXPECT_CODE(weft_spawn(&t, task_ticker, NULL, NULL), 0);
    EXPECT_CODE(weft_yield(), 0);
    int64_t t0 = mono_ns();
    EXPECT_CODE(weft_to_thread(job_sleep_200ms, P(21), &r), 0);
    blocked_ns_ = mono_ns() - t0;
    int during = ticks_;
    ticker_stop_ = 1;
    EXPECT(r == P(42));
    EXPECT_CODE(weft_task_join(t, NULL), 0);
    weft_task_release(t);
    /* The loop kept running: a 1 ms ticker ticked during the 200 ms call
       (a generous bound: about 200 natively). */
    EXPECT(during >= 10);
    if (during < 10)
        say("ticks:%d", during);
    /* A NULL result pointer is allowed. */
    EXPECT_CODE(weft_to_thread(job_sleep_200ms, P(1), NULL), 0);
    return 0;
}

static void test_pool_to_thread_keeps_loop_running(void **state)
{
    (void)state;
    ticker_stop_ = 0;
    ticks_ = 0;
    atomic_store(&job_thread_is_loop_, 0);
    assert_code(rrun(main_to_thread_blocking, NULL, 0), 0);
    assert_expectations();
    assert_log("");
    assert_int_equal(atomic_load(&job_thread_is_loop_), 0);
    assert_true(blocked_ns_ >= MS(200));
}

/* A job blocked in read(2) on a pipe that a task of the loop writes to:
   only possible if the loop runs during the job. Virtual clock. */
static int pipe_[2];

static void *job_pipe_read(void *arg)
{
    (void)arg;
    char buf[16] = {0};
    ssize_t n = read(pipe_[0], buf, sizeof buf);
    return (void *)(intptr_t)(n == 5 && memcmp(buf, "hello", 5) == 0 ? 1 : -1);
}

static int task_pipe_writer(void *arg, void **result)
{
    (void)arg;
    (void)result;
    EXPECT_CODE(weft_sleep(MS(20)), 0);
    say("write@%s", at());
    EXPECT_CODE(write(pipe_[1], "hello", 5), 5);
    return 0;
}

static int main_to_thread_pipe(void *arg, void **result)
{
    (void)arg;
    (void)result;
    weft_task *w;
    void *r = NULL;
    EXPECT_CODE(pipe(pipe_), 0);
    EXPECT_CODE(weft_spawn(&w, task_pipe_writer, NULL, NULL), 0);
    EXPECT_CODE(weft_to_thread(job_pipe_read, NULL, &r), 0);
    say("job:%d@%s", (int)N(r), at());
    EXPECT_CODE(weft_task_join(w, NULL), 0);
    weft_task_release(w);
    close(pipe_[0]);
    close(pipe_[1]);
    return 0;
}

static void test_pool_to_thread_pipe_read(void **state)
{
    (void)state;
    assert_code(vrun(main_to_thread_pipe, NULL, NULL), 0);
    assert_expectations();
    assert_log("write@20 job:1@20");
}

static void *ident(void *arg)
{
    return arg;
}

static int main_to_thread_args(void *arg, void **result)
{
    (void)arg;
    (void)result;
    void *r = P(5);
    EXPECT_CODE(weft_to_thread(NULL, NULL, &r), -EINVAL);
    EXPECT(r == P(5));
    EXPECT_CODE(weft_to_thread(ident, NULL, &r), 0);
    EXPECT(r == NULL);
    EXPECT_CODE(weft_to_thread(ident, P(9), &r), 0);
    EXPECT(r == P(9));
    EXPECT_NOW(0);
    return 0;
}

static void test_pool_to_thread_arguments(void **state)
{
    (void)state;
    void *r = P(3);
    assert_code(weft_to_thread(ident, NULL, &r), -EPERM);
    assert_true(r == P(3));
    assert_code(vrun(main_to_thread_args, NULL, NULL), 0);
    assert_expectations();
}

/* ------------------------------------------------------------------------ */
/* Load and pool size                                                       */
/* ------------------------------------------------------------------------ */

static atomic_int running_, running_max_, jobs_done_;
static pthread_mutex_t tid_lock_ = PTHREAD_MUTEX_INITIALIZER;
static pthread_t tids_[64];
static int ntids_;

static void *job_counted(void *arg)
{
    int now = atomic_fetch_add(&running_, 1) + 1;
    int max = atomic_load(&running_max_);
    while (now > max && !atomic_compare_exchange_weak(&running_max_, &max, now))
        ;
    pthread_mutex_lock(&tid_lock_);
    int seen = 0;
    for (int i = 0; i < ntids_; i++)
        if (pthread_equal(tids_[i], pthread_self()))
            seen = 1;
    if (!seen && ntids_ < 64)
        tids_[ntids_++] = pthread_self();
    pthread_mutex_unlock(&tid_lock_);
    usleep(2000);
    atomic_fetch_sub(&running_, 1);
    atomic_fetch_add(&jobs_done_, 1);
    return (void *)((intptr_t)arg * 3 + 1);
}

static int jobs_per_task_;

static int task_submitter(void *arg, void **result)
{
    (void)result;
    intptr_t base = N(arg) * 1000;
    int bad = 0;
    for (int i = 0; i < jobs_per_task_; i++) {
        void *r = NULL;
        EXPECT_CODE(weft_to_thread(job_counted, P(base + i), &r), 0);
        if (r != P((base + i) * 3 + 1))
            bad++;
    }
    EXPECT_CODE(bad, 0);
    return 0;
}

static int ntasks_;

static int main_load(void *arg, void **result)
{
    (void)arg;
    (void)result;
    weft_task *t[64];
    for (int i = 0; i < ntasks_; i++)
        EXPECT_CODE(weft_spawn(&t[i], task_submitter, P(i), NULL), 0);
    EXPECT_CODE(weft_gather(t, (size_t)ntasks_, NULL, NULL, 0), 0);
    for (int i = 0; i < ntasks_; i++)
        weft_task_release(t[i]);
    return 0;
}

static void run_load(int ntasks, int per_task, int workers)
{
    ntasks_ = ntasks;
    jobs_per_task_ = per_task;
    atomic_store(&running_, 0);
    atomic_store(&running_max_, 0);
    atomic_store(&jobs_done_, 0);
    ntids_ = 0;
    assert_code(weft_run_opts(main_load, NULL, NULL,
                              &(weft_loop_opts){.virtual_clock = 1, .workers = workers}), 0);
    assert_expectations();
    assert_int_equal(atomic_load(&jobs_done_), ntasks * per_task);
    assert_int_equal(atomic_load(&running_), 0);
}

static void test_pool_load_200_jobs_4_workers(void **state)
{
    (void)state;
    run_load(50, 4, 4);
    int max = atomic_load(&running_max_);
    print_message("max concurrent %d, threads %d\n", max, ntids_);
    assert_true(max <= 4);
    assert_true(max >= 2); /* 50 tasks keep every worker busy */
    assert_true(ntids_ <= 4);
}

static void test_pool_workers_option(void **state)
{
    (void)state;
    run_load(8, 3, 1);
    assert_int_equal(atomic_load(&running_max_), 1);
    assert_int_equal(ntids_, 1);
    run_load(8, 3, 2);
    assert_true(atomic_load(&running_max_) <= 2);
    assert_true(ntids_ <= 2);
    run_load(16, 3, 7);
    assert_true(atomic_load(&running_max_) <= 7);
    assert_true(ntids_ <= 7);
    /* 0 means 4. */
    run_load(16, 3, 0);
    assert_true(atomic_load(&running_max_) <= 4);
    assert_true(ntids_ <= 4);
}

/* ------------------------------------------------------------------------ */
/* Cancellation and timeouts while waiting                                  */
/* ------------------------------------------------------------------------ */

static atomic_int job_finished_;
static int cpipe_[2];

static void *job_wait_pipe(void *arg)
{
    (void)arg;
    char c;
    ssize_t n = read(cpipe_[0], &c, 1);
    atomic_store(&job_finished_, n == 1 ? 1 : -1);
    return P(77);
}

static void *result_slot_ = P(-5);

static int task_to_thread_cancelled(void *arg, void **result)
{
    (void)arg;
    (void)result;
    int rc = weft_to_thread(job_wait_pipe, NULL, &result_slot_);
    say("to_thread:%s@%s finished:%d", cn(rc), at(), atomic_load(&job_finished_));
    return rc;
}

static int main_cancel_to_thread(void *arg, void **result)
{
    (void)arg;
    (void)result;
    weft_task *t;
    EXPECT_CODE(weft_spawn(&t, task_to_thread_cancelled, NULL, NULL), 0);
    EXPECT_CODE(weft_sleep(MS(10)), 0);
    EXPECT_CODE(weft_task_cancel(t), 0);
    EXPECT_CODE(weft_task_join(t, NULL), -ECANCELED);
    weft_task_release(t);
    say("joined@%s", at());
    /* The job is still blocked; let it finish now. The loop must still wait
       for it and drop its result. */
    EXPECT_CODE(write(cpipe_[1], "x", 1), 1);
    EXPECT_CODE(weft_sleep(MS(5)), 0);
    EXPECT(result_slot_ == P(-5));
    return 0;
}

static void test_pool_cancel_while_waiting(void **state)
{
    (void)state;
    assert_int_equal(pipe(cpipe_), 0);
    atomic_store(&job_finished_, 0);
    result_slot_ = P(-5);
    assert_code(vrun(main_cancel_to_thread, NULL, NULL), 0);
    /* weft_run waited for the job. */
    assert_int_equal(atomic_load(&job_finished_), 1);
    assert_true(result_slot_ == P(-5));
    close(cpipe_[0]);
    close(cpipe_[1]);
    assert_expectations();
    assert_log("to_thread:ECANCELED@10 finished:0 joined@10");
}

/* The job outlives main: weft_run() returns only once it has ended. */
static void *job_slow(void *arg)
{
    (void)arg;
    usleep(300 * 1000);
    atomic_store(&job_finished_, 1);
    return P(1);
}

static int main_timeout_to_thread(void *arg, void **result)
{
    (void)arg;
    (void)result;
    weft_scope s;
    void *r = P(-5);
    EXPECT_CODE(weft_scope_enter_timeout(&s, MS(50)), 0);
    EXPECT_CODE(weft_to_thread(job_slow, NULL, &r), -ETIMEDOUT);
    EXPECT_CODE(weft_scope_exit(&s), -ETIMEDOUT);
    EXPECT(r == P(-5));
    EXPECT_CODE(atomic_load(&job_finished_), 0);
    say("timedout@%s", at());
    return 0;
}

static void test_pool_timeout_while_waiting(void **state)
{
    (void)state;
    atomic_store(&job_finished_, 0);
    assert_code(vrun(main_timeout_to_thread, NULL, NULL), 0);
    assert_int_equal(atomic_load(&job_finished_), 1);
    assert_expectations();
    assert_log("timedout@50");
}

/* ------------------------------------------------------------------------ */
/* call_soon_threadsafe                                                     */
/* ------------------------------------------------------------------------ */

#define NTHREADS 4
#define PER_THREAD 500

static atomic_int off_loop_, bad_rc_;
static int slot_runs_[NTHREADS][PER_THREAD];
static int callbacks_run_;
static weft_event all_called_ = WEFT_EVENT_INIT;
static weft_loop *refs_[NTHREADS];

static void cb_count(void *arg)
{
    int *slot = arg;
    if (!pthread_equal(pthread_self(), loop_thread_))
        atomic_fetch_add(&off_loop_, 1);
    (*slot)++;
    if (++callbacks_run_ == NTHREADS * PER_THREAD)
        weft_event_set(&all_called_);
}

static void *thread_call_soon(void *arg)
{
    int k = (int)N(arg);
    weft_loop *loop = refs_[k];
    for (int i = 0; i < PER_THREAD; i++) {
        int rc = weft_call_soon_threadsafe(loop, cb_count, &slot_runs_[k][i]);
        if (rc != 0)
            atomic_fetch_add(&bad_rc_, 1);
        if (i % 64 == 0)
            sched_yield();
    }
    weft_loop_put(loop);
    return NULL;
}

static void *join_thread(void *arg)
{
    pthread_join(*(pthread_t *)arg, NULL);
    return NULL;
}

static int main_call_soon_ts(void *arg, void **result)
{
    (void)arg;
    (void)result;
    pthread_t th[NTHREADS];
    weft_scope s;
    loop_thread_ = pthread_self();
    for (int k = 0; k < NTHREADS; k++) {
        refs_[k] = weft_loop_get();
        EXPECT(refs_[k] != NULL);
    }
    for (int k = 0; k < NTHREADS; k++)
        EXPECT_CODE(pthread_create(&th[k], NULL, thread_call_soon, P(k)), 0);
    /* Wait on the loop; a generous real-time limit. */
    EXPECT_CODE(weft_scope_enter_timeout(&s, WEFT_SEC(60)), 0);
    EXPECT_CODE(weft_event_wait(&all_called_), 0);
    EXPECT_CODE(weft_scope_exit(&s), 0);
    for (int k = 0; k < NTHREADS; k++)
        EXPECT_CODE(weft_to_thread(join_thread, &th[k], NULL), 0);
    /* Nothing more arrives: every callback ran exactly once. */
    EXPECT_CODE(weft_sleep(MS(20)), 0);
    return 0;
}

static void test_pool_call_soon_threadsafe(void **state)
{
    (void)state;
    memset(slot_runs_, 0, sizeof slot_runs_);
    callbacks_run_ = 0;
    atomic_store(&off_loop_, 0);
    atomic_store(&bad_rc_, 0);
    assert_code(rrun(main_call_soon_ts, NULL, 0), 0);
    assert_expectations();
    assert_int_equal(atomic_load(&bad_rc_), 0);
    assert_int_equal(atomic_load(&off_loop_), 0);
    assert_int_equal(callbacks_run_, NTHREADS * PER_THREAD);
    for (int k = 0; k < NTHREADS; k++)
        for (int i = 0; i < PER_THREAD; i++)
            if (slot_runs_[k][i] != 1)
                fail_msg("callback %d of thread %d ran %d times", i, k, slot_runs_[k][i]);
}

/* ------------------------------------------------------------------------ */
/* spawn_threadsafe and remote_wait                                         */
/* ------------------------------------------------------------------------ */

#define REMOTES 40
static atomic_int remote_bad_, remote_ok_;

static int task_remote(void *arg, void **result)
{
    intptr_t v = N(arg);
    if (!pthread_equal(pthread_self(), loop_thread_))
        atomic_fetch_add(&off_loop_, 1);
    if (weft_sleep(MS(1)) != 0)
        return -EIO;
    if (v % 10 == 7)
        return -ENOENT; /* some fail */
    *result = P(v * 5);
    return 0;
}

static void *thread_spawner(void *arg)
{
    int k = (int)N(arg);
    weft_loop *loop = refs_[k];
    weft_remote *r[REMOTES];
    for (int i = 0; i < REMOTES; i++)
        if (weft_spawn_threadsafe(loop, task_remote, P(k * 100 + i), &r[i]) != 0) {
            atomic_fetch_add(&remote_bad_, 1);
            r[i] = NULL;
        }
    for (int i = 0; i < REMOTES; i++) {
        if (!r[i])
            continue;
        intptr_t v = k * 100 + i;
        if (i % 4 == 3) { /* free without waiting: it waits itself */
            weft_remote_free(r[i]);
            continue;
        }
        void *res = NULL;
        int rc = weft_remote_wait(r[i], &res);
        if (v % 10 == 7 ? rc == -ENOENT : rc == 0 && res == P(v * 5))
            atomic_fetch_add(&remote_ok_, 1);
        else
            atomic_fetch_add(&remote_bad_, 1);
        /* Waiting again returns the same outcome. */
        res = NULL;
        int rc2 = weft_remote_wait(r[i], &res);
        if (rc2 != rc || (rc == 0 && res != P(v * 5)))
            atomic_fetch_add(&remote_bad_, 1);
        weft_remote_free(r[i]);
    }
    weft_loop_put(loop);
    return NULL;
}

static int main_spawn_ts(void *arg, void **result)
{
    (void)arg;
    (void)result;
    pthread_t th[NTHREADS];
    loop_thread_ = pthread_self();
    for (int k = 0; k < NTHREADS; k++)
        refs_[k] = weft_loop_get();
    for (int k = 0; k < NTHREADS; k++)
        EXPECT_CODE(pthread_create(&th[k], NULL, thread_spawner, P(k)), 0);
    /* Block a worker, not the loop, on each thread. */
    for (int k = 0; k < NTHREADS; k++)
        EXPECT_CODE(weft_to_thread(join_thread, &th[k], NULL), 0);
    return 0;
}

static void test_pool_spawn_threadsafe(void **state)
{
    (void)state;
    atomic_store(&off_loop_, 0);
    atomic_store(&remote_bad_, 0);
    atomic_store(&remote_ok_, 0);
    assert_code(rrun(main_spawn_ts, NULL, NTHREADS + 1), 0);
    assert_expectations();
    assert_int_equal(atomic_load(&remote_bad_), 0);
    assert_int_equal(atomic_load(&off_loop_), 0);
    assert_int_equal(atomic_load(&remote_ok_), NTHREADS * (REMOTES - REMOTES / 4));
}

/* A remote task still running when main returns is cancelled. */
static weft_loop *ref_;
static atomic_int remote_started_;
static int remote_rc_;

static int task_remote_forever(void *arg, void **result)
{
    (void)arg;
    (void)result;
    atomic_store(&remote_started_, 1);
    return weft_sleep(WEFT_SEC(3600));
}

static void *thread_spawn_forever(void *arg)
{
    (void)arg;
    weft_remote *r = NULL;
    int rc = weft_spawn_threadsafe(ref_, task_remote_forever, NULL, &r);
    if (rc != 0) {
        remote_rc_ = 1000 + rc;
        return NULL;
    }
    remote_rc_ = weft_remote_wait(r, NULL);
    weft_remote_free(r);
    return NULL;
}

static int main_remote_cancelled(void *arg, void **result)
{
    (void)arg;
    (void)result;
    ref_ = weft_loop_get();
    EXPECT(ref_ != NULL);
    pthread_t *th = arg;
    EXPECT_CODE(pthread_create(th, NULL, thread_spawn_forever, NULL), 0);
    weft_scope s;
    EXPECT_CODE(weft_scope_enter_timeout(&s, WEFT_SEC(60)), 0);
    while (!atomic_load(&remote_started_))
        if (weft_sleep(MS(1)) != 0)
            break;
    EXPECT_CODE(weft_scope_exit(&s), 0);
    return 0; /* the remote task is cancelled as the loop ends */
}

static void test_pool_remote_cancelled_at_loop_end_and_shutdown(void **state)
{
    (void)state;
    pthread_t th;
    atomic_store(&remote_started_, 0);
    remote_rc_ = 1;
    assert_code(weft_run(main_remote_cancelled, &th, NULL), 0);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_code(remote_rc_, -ECANCELED);
    assert_expectations();
    /* The loop has ended: the reference stays valid and says so. */
    weft_remote *r = (weft_remote *)P(1);
    assert_code(weft_call_soon_threadsafe(ref_, cb_count, &slot_runs_[0][0]), -ESHUTDOWN);
    assert_code(weft_spawn_threadsafe(ref_, task_remote, NULL, &r), -ESHUTDOWN);
    weft_loop_put(ref_);
}

/*
 * A spawn posted while the loop's main task is ending: the loop thread is
 * blocked (not suspended) in main until the other thread has posted, then
 * main returns. The remote task never runs: weft_remote_wait returns
 * -ESHUTDOWN (or -ECANCELED, cancelled before it ran), and never hangs.
 */
static pthread_barrier_t barrier_;
static atomic_int late_ran_;

static int task_late(void *arg, void **result)
{
    (void)arg;
    (void)result;
    atomic_store(&late_ran_, 1);
    return 0;
}

static void *thread_late_spawn(void *arg)
{
    weft_remote *r = NULL;
    int rc = weft_spawn_threadsafe(ref_, task_late, NULL, &r);
    pthread_barrier_wait(&barrier_);
    if (rc == 0) {
        rc = weft_remote_wait(r, NULL);
        weft_remote_free(r);
    } else {
        rc += 1000;
    }
    *(int *)arg = rc;
    return NULL;
}

static int main_ends_with_spawn_posted(void *arg, void **result)
{
    (void)result;
    ref_ = weft_loop_get();
    EXPECT_CODE(pthread_create(arg, NULL, thread_late_spawn, &remote_rc_), 0);
    pthread_barrier_wait(&barrier_);
    return 0;
}

static void test_pool_remote_posted_as_loop_ends(void **state)
{
    (void)state;
    pthread_t th;
    remote_rc_ = 1;
    atomic_store(&late_ran_, 0);
    assert_int_equal(pthread_barrier_init(&barrier_, NULL, 2), 0);
    assert_code(weft_run(main_ends_with_spawn_posted, &th, NULL), 0);
    assert_int_equal(pthread_join(th, NULL), 0);
    pthread_barrier_destroy(&barrier_);
    weft_loop_put(ref_);
    assert_expectations();
    if (remote_rc_ != -ESHUTDOWN && remote_rc_ != -ECANCELED)
        fail_msg("weft_remote_wait returned %d (%s), expected -ESHUTDOWN or -ECANCELED",
                 remote_rc_, cn(remote_rc_));
    assert_int_equal(atomic_load(&late_ran_), 0);
}

/* Other arguments and the calls outside a loop. */
static int main_ts_args(void *arg, void **result)
{
    (void)arg;
    (void)result;
    weft_loop *l = weft_loop_get();
    weft_remote *r = NULL;
    EXPECT(l != NULL);
    EXPECT_CODE(weft_call_soon_threadsafe(NULL, cb_count, NULL), -EINVAL);
    EXPECT_CODE(weft_call_soon_threadsafe(l, NULL, NULL), -EINVAL);
    EXPECT_CODE(weft_spawn_threadsafe(NULL, task_remote, NULL, &r), -EINVAL);
    EXPECT_CODE(weft_spawn_threadsafe(l, NULL, NULL, &r), -EINVAL);
    EXPECT_CODE(weft_spawn_threadsafe(l, task_remote, NULL, NULL), -EINVAL);
    EXPECT(r == NULL);
    weft_loop_put(l);
    return 0;
}

static void test_pool_threadsafe_arguments(void **state)
{
    (void)state;
    assert_null(weft_loop_get());
    assert_code(vrun(main_ts_args, NULL, NULL), 0);
    assert_expectations();
    assert_null(weft_loop_get());
}

/* A loop run on another thread, driven entirely from this one. */
static atomic_int stop_requested_;
static weft_event stop_ev_ = WEFT_EVENT_INIT;
static weft_loop *other_loop_;
static pthread_mutex_t ol_lock_ = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t ol_cond_ = PTHREAD_COND_INITIALIZER;

static int main_other(void *arg, void **result)
{
    (void)arg;
    (void)result;
    loop_thread_ = pthread_self();
    pthread_mutex_lock(&ol_lock_);
    other_loop_ = weft_loop_get();
    pthread_cond_signal(&ol_cond_);
    pthread_mutex_unlock(&ol_lock_);
    return weft_event_wait(&stop_ev_);
}

static void *run_other(void *arg)
{
    (void)arg;
    int rc = weft_run(main_other, NULL, NULL); /* real clock: waits for us */
    return P(rc);
}

static void cb_stop(void *arg)
{
    (void)arg;
    atomic_store(&stop_requested_, 1);
    weft_event_set(&stop_ev_);
}

static void test_pool_loop_on_other_thread(void **state)
{
    (void)state;
    pthread_t th;
    void *rc = P(-1), *res = NULL;
    weft_remote *r = NULL;
    other_loop_ = NULL;
    weft_event stop0 = WEFT_EVENT_INIT;
    stop_ev_ = stop0;
    atomic_store(&off_loop_, 0);
    assert_int_equal(pthread_create(&th, NULL, run_other, NULL), 0);
    pthread_mutex_lock(&ol_lock_);
    while (!other_loop_)
        pthread_cond_wait(&ol_cond_, &ol_lock_);
    pthread_mutex_unlock(&ol_lock_);
    /* The loop is idle in epoll_wait: spawning must wake it. */
    usleep(20 * 1000);
    assert_code(weft_spawn_threadsafe(other_loop_, task_remote, P(12), &r), 0);
    assert_code(weft_remote_wait(r, &res), 0);
    assert_true(res == P(60));
    weft_remote_free(r);
    usleep(20 * 1000);
    assert_code(weft_call_soon_threadsafe(other_loop_, cb_stop, NULL), 0);
    assert_int_equal(pthread_join(th, &rc), 0);
    assert_code(N(rc), 0);
    assert_int_equal(atomic_load(&stop_requested_), 1);
    assert_int_equal(atomic_load(&off_loop_), 0);
    assert_code(weft_call_soon_threadsafe(other_loop_, cb_stop, NULL), -ESHUTDOWN);
    weft_loop_put(other_loop_);
}

/* ------------------------------------------------------------------------ */

#define TEST(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        TEST(test_pool_to_thread_keeps_loop_running),
        TEST(test_pool_to_thread_pipe_read),
        TEST(test_pool_to_thread_arguments),
        TEST(test_pool_load_200_jobs_4_workers),
        TEST(test_pool_workers_option),
        TEST(test_pool_cancel_while_waiting),
        TEST(test_pool_timeout_while_waiting),
        TEST(test_pool_call_soon_threadsafe),
        TEST(test_pool_spawn_threadsafe),
        TEST(test_pool_remote_cancelled_at_loop_end_and_shutdown),
        TEST(test_pool_remote_posted_as_loop_ends),
        TEST(test_pool_threadsafe_arguments),
        TEST(test_pool_loop_on_other_thread),
    };
    return cmocka_run_group_tests_name("pool", tests, NULL, NULL);
}
