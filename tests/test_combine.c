/*
 * test_combine.c - the combinators of include/weft/task.h under the virtual
 * clock: gather (order of results, first failure, COLLECT, cancellation),
 * wait (ALL_COMPLETED, FIRST_COMPLETED, FIRST_EXCEPTION, timeout), wait_for
 * (in time, expiry, cancellation) and as_completed (completion order, end,
 * timeout), with their argument errors, and each one's cancellation as a
 * suspension point that leaves no waiter behind.
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

#include <cmocka.h>

#include <weft.h>

#include "support.h"


/* ------------------------------------------------------------------------ */
/* Task bodies shared by the tests                                          */
/* ------------------------------------------------------------------------ */


/* Spawns one task per job into ts[]. */
static void spawn_jobs(weft_task **ts, struct job *jobs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        EXPECT_CODE(weft_spawn(&ts[i], task_job, &jobs[i],
                               &(weft_task_opts){.name = jobs[i].name}), 0);
}

static void release_all(weft_task **ts, size_t n)
{
    for (size_t i = 0; i < n; i++)
        EXPECT_CODE(weft_task_release(ts[i]), 0);
}

/* Names of tasks[0..n) as "a,b,c" into a static buffer. */
static const char *names(weft_task *const *ts, size_t n)
{
    static char buf[2][256];
    static int next;
    char *b = buf[next++ & 1];
    size_t len = 0;
    b[0] = '\0';
    for (size_t i = 0; i < n; i++)
        len += (size_t)snprintf(b + len, sizeof buf[0] - len, "%s%s", i ? "," : "",
                                weft_task_name(ts[i]));
    return b;
}


/* ------------------------------------------------------------------------ */
/* gather                                                                   */
/* ------------------------------------------------------------------------ */

static int main_gather_order(void *arg, void **result)
{
    (void)arg;
    (void)result;
    struct job jobs[] = {{"a", 30, 0, 1, 0}, {"b", 10, 0, 2, 0}, {"c", 20, 0, 3, 0}};
    weft_task *ts[3];
    void *res[3] = {0};
    int codes[3] = {9, 9, 9};
    spawn_jobs(ts, jobs, 3);
    EXPECT_CODE(weft_gather(ts, 3, res, codes, 0), 0);
    say("gathered@%s", at());
    EXPECT(res[0] == P(1) && res[1] == P(2) && res[2] == P(3));
    EXPECT(codes[0] == 0 && codes[1] == 0 && codes[2] == 0);
    /* Again, on ended tasks, without results or codes. */
    EXPECT_CODE(weft_gather(ts, 3, NULL, NULL, 0), 0);
    EXPECT_NOW(MS(30));
    release_all(ts, 3);
    return 0;
}

static void test_combine_gather_results_in_given_order(void **state)
{
    (void)state;
    assert_code(vrun(main_gather_order, NULL, NULL), 0);
    assert_expectations();
    assert_log("b:0@10 c:0@20 a:0@30 gathered@30");
}

static int main_gather_first_failure(void *arg, void **result)
{
    (void)arg;
    (void)result;
    struct job jobs[] = {{"a", 30, 0, 1, 0}, {"b", 20, -EIO, 2, 0},
                         {"c", 10, 0, 3, 0}, {"d", 25, -EPIPE, 4, 0}};
    weft_task *ts[4];
    void *res[4] = {0};
    int codes[4] = {9, 9, 9, 9};
    spawn_jobs(ts, jobs, 4);
    EXPECT_CODE(weft_gather(ts, 4, res, codes, 0), -EIO);
    say("gather@%s", at());
    EXPECT_CODE(codes[0], -EAGAIN);
    EXPECT_CODE(codes[1], -EIO);
    EXPECT_CODE(codes[2], 0);
    EXPECT_CODE(codes[3], -EAGAIN);
    EXPECT(res[2] == P(3));
    /* The others keep running. */
    EXPECT_CODE(weft_task_status(ts[0]), WEFT_TASK_PENDING);
    EXPECT_CODE(weft_sleep(MS(15)), 0);
    EXPECT_CODE(weft_task_status(ts[0]), WEFT_TASK_DONE);
    EXPECT_CODE(weft_task_status(ts[3]), WEFT_TASK_FAILED);
    /* All ended: the first failure in the order given. */
    EXPECT_CODE(weft_gather(ts, 4, NULL, codes, 0), -EIO);
    EXPECT_CODE(codes[3], -EPIPE);
    release_all(ts, 4);
    return 0;
}

static void test_combine_gather_first_failure_at_once(void **state)
{
    (void)state;
    assert_code(vrun(main_gather_first_failure, NULL, NULL), 0);
    assert_expectations();
    assert_log("c:0@10 b:0@20 gather@20 d:0@25 a:0@30");
}

static int main_gather_cancelled_child(void *arg, void **result)
{
    (void)arg;
    (void)result;
    struct job jobs[] = {{"a", 30, 0, 1, 0}, {"b", 40, 0, 2, 0}};
    weft_task *ts[2];
    spawn_jobs(ts, jobs, 2);
    EXPECT_CODE(weft_sleep(MS(5)), 0);
    EXPECT_CODE(weft_task_cancel(ts[1]), 0);
    /* A cancelled task is a failure for gather. */
    EXPECT_CODE(weft_gather(ts, 2, NULL, NULL, 0), -ECANCELED);
    say("gather@%s", at());
    EXPECT_CODE(weft_task_join(ts[0], NULL), 0);
    release_all(ts, 2);
    return 0;
}

static void test_combine_gather_cancelled_task_fails_it(void **state)
{
    (void)state;
    assert_code(vrun(main_gather_cancelled_child, NULL, NULL), 0);
    assert_expectations();
    assert_log("b:ECANCELED@5 gather@5 a:0@30");
}

static int main_gather_collect(void *arg, void **result)
{
    (void)arg;
    (void)result;
    struct job jobs[] = {{"a", 30, 0, 1, 0}, {"b", 10, -EIO, 2, 0},
                         {"c", 20, -EPIPE, 3, 0}, {"d", 100, 0, 4, 0}};
    weft_task *ts[4];
    void *res[4] = {0};
    int codes[4] = {9, 9, 9, 9};
    spawn_jobs(ts, jobs, 4);
    EXPECT_CODE(weft_sleep(MS(5)), 0);
    EXPECT_CODE(weft_task_cancel(ts[3]), 0);
    EXPECT_CODE(weft_gather(ts, 4, res, codes, WEFT_GATHER_COLLECT), 0);
    say("gathered@%s", at());
    EXPECT_CODE(codes[0], 0);
    EXPECT_CODE(codes[1], -EIO);
    EXPECT_CODE(codes[2], -EPIPE);
    EXPECT_CODE(codes[3], -ECANCELED);
    EXPECT(res[0] == P(1) && res[1] == P(2) && res[2] == P(3));
    release_all(ts, 4);
    return 0;
}

static void test_combine_gather_collect(void **state)
{
    (void)state;
    assert_code(vrun(main_gather_collect, NULL, NULL), 0);
    assert_expectations();
    assert_log("d:ECANCELED@5 b:0@10 c:0@20 a:0@30 gathered@30");
}

static int main_gather_many(void *arg, void **result)
{
    (void)arg;
    (void)result;
    enum { N = 40 };
    static const char *const nm[N] = {
        "t0", "t1", "t2", "t3", "t4", "t5", "t6", "t7", "t8", "t9",
        "t10", "t11", "t12", "t13", "t14", "t15", "t16", "t17", "t18", "t19",
        "t20", "t21", "t22", "t23", "t24", "t25", "t26", "t27", "t28", "t29",
        "t30", "t31", "t32", "t33", "t34", "t35", "t36", "t37", "t38", "t39"};
    struct job jobs[N];
    weft_task *ts[N];
    void *res[N];
    for (int i = 0; i < N; i++)
        jobs[i] = (struct job){nm[i], N - i, 0, i * 10, 0};
    spawn_jobs(ts, jobs, N);
    EXPECT_CODE(weft_gather(ts, N, res, NULL, 0), 0);
    EXPECT_NOW(MS(N));
    for (int i = 0; i < N; i++)
        EXPECT(res[i] == P(i * 10));
    release_all(ts, N);
    return 0;
}

/* More tasks than the waiter keeps on its own stack. */
static void test_combine_gather_many_tasks(void **state)
{
    (void)state;
    assert_code(vrun(main_gather_many, NULL, NULL), 0);
    assert_expectations();
}

static weft_task *cb_tasks[1];

static void cb_gather(void *arg)
{
    (void)arg;
    size_t nd = 9, np = 9;
    weft_as_completed ac;
    weft_task *t;
    EXPECT_CODE(weft_gather(cb_tasks, 1, NULL, NULL, 0), -EPERM);
    EXPECT_CODE(weft_wait(cb_tasks, 1, WEFT_FOREVER, WEFT_ALL_COMPLETED, NULL, &nd, NULL, &np),
                -EPERM);
    EXPECT_CODE(weft_wait_for(cb_tasks[0], MS(1), NULL), -EPERM);
    EXPECT_CODE(weft_as_completed_init(&ac, cb_tasks, 1, WEFT_FOREVER), 0);
    EXPECT_CODE(weft_as_completed_next(&ac, &t), -EPERM);
    say("cb");
}

static int main_gather_args(void *arg, void **result)
{
    static struct job job_a = {"a", 1, 0, 0, 0};
    (void)arg;
    (void)result;
    weft_task *ts[2] = {NULL, NULL};
    EXPECT_CODE(weft_gather(NULL, 0, NULL, NULL, 0), 0);
    EXPECT_CODE(weft_gather(NULL, 0, NULL, NULL, WEFT_GATHER_COLLECT), 0);
    EXPECT_CODE(weft_gather(NULL, 1, NULL, NULL, 0), -EINVAL);
    EXPECT_CODE(weft_spawn(&ts[0], task_job, &job_a, NULL), 0);
    EXPECT_CODE(weft_gather(ts, 2, NULL, NULL, 0), -EINVAL); /* ts[1] is NULL */
    EXPECT_CODE(weft_gather(ts, 1, NULL, NULL, 2), -EINVAL);
    EXPECT_CODE(weft_gather(ts, 1, NULL, NULL, -1), -EINVAL);
    cb_tasks[0] = ts[0];
    EXPECT_CODE(weft_call_soon(NULL, cb_gather, NULL), 0);
    EXPECT_CODE(weft_gather(ts, 1, NULL, NULL, 0), 0);
    EXPECT_CODE(weft_task_release(ts[0]), 0);
    return 0;
}

static void test_combine_gather_bad_arguments(void **state)
{
    (void)state;
    assert_code(vrun(main_gather_args, NULL, NULL), 0);
    assert_expectations();
    assert_log("cb a:0@1");
}

static weft_task *gathered[2];

static int task_gathers(void *arg, void **result)
{
    (void)arg;
    (void)result;
    int codes[2] = {9, 9};
    int rc = weft_gather(gathered, 2, NULL, codes, (int)N(arg));
    say("gather:%s@%s", cn(rc), at());
    shielded_sleep_100();
    return rc;
}

/* The gathering task is cancelled at 10: so are its tasks; the slow one
   ends at 15, which must not wake the gatherer again. */
static int main_gather_cancelled(void *arg, void **result)
{
    (void)result;
    struct job jobs[] = {{"a", 50, 0, 1, 0}, {"b", 60, 0, 2, 5}};
    weft_task *g;
    spawn_jobs(gathered, jobs, 2);
    EXPECT_CODE(weft_spawn(&g, task_gathers, arg, NULL), 0);
    EXPECT_CODE(weft_sleep(MS(10)), 0);
    EXPECT_CODE(weft_task_cancel(g), 0);
    EXPECT_CODE(weft_task_join(g, NULL), -ECANCELED);
    EXPECT_CODE(weft_task_status(gathered[0]), WEFT_TASK_CANCELLED);
    EXPECT_CODE(weft_task_status(gathered[1]), WEFT_TASK_CANCELLED);
    say("end@%s", at());
    release_all(gathered, 2);
    EXPECT_CODE(weft_task_release(g), 0);
    return 0;
}

static void test_combine_gather_cancelled_cancels_tasks(void **state)
{
    (void)state;
    assert_code(vrun(main_gather_cancelled, P(0), NULL), 0);
    assert_log("gather:ECANCELED@10 a:ECANCELED@10 b:ECANCELED@10 b-cleaned@15 "
               "shielded:0@110 end@110");
    assert_expectations();
    reset(NULL);
    assert_code(vrun(main_gather_cancelled, P(WEFT_GATHER_COLLECT), NULL), 0);
    assert_log("gather:ECANCELED@10 a:ECANCELED@10 b:ECANCELED@10 b-cleaned@15 "
               "shielded:0@110 end@110");
    assert_expectations();
}

static int main_gather_in_scope(void *arg, void **result)
{
    (void)arg;
    (void)result;
    struct job jobs[] = {{"a", 10, 0, 1, 0}, {"b", 60, 0, 2, 0}};
    weft_task *ts[2];
    weft_scope s;
    spawn_jobs(ts, jobs, 2);
    EXPECT_CODE(weft_scope_enter_timeout(&s, MS(25)), 0);
    EXPECT_CODE(weft_gather(ts, 2, NULL, NULL, 0), -ETIMEDOUT);
    say("gather@%s", at());
    EXPECT_CODE(weft_scope_exit(&s), -ETIMEDOUT);
    EXPECT_CODE(weft_task_join(ts[1], NULL), -ECANCELED);
    release_all(ts, 2);
    return 0;
}

/* A timeout scope around gather: -ETIMEDOUT, the tasks left are cancelled. */
static void test_combine_gather_timeout_scope(void **state)
{
    (void)state;
    assert_code(vrun(main_gather_in_scope, NULL, NULL), 0);
    assert_expectations();
    assert_log("a:0@10 gather@25 b:ECANCELED@25");
}

/* ------------------------------------------------------------------------ */
/* wait                                                                     */
/* ------------------------------------------------------------------------ */

struct wait_case {
    int64_t timeout;
    int return_when;
    struct job jobs[3];
};

static int main_wait(void *arg, void **result)
{
    (void)result;
    struct wait_case *c = arg;
    weft_task *ts[3], *done[3] = {0}, *pending[3] = {0};
    size_t nd = 99, np = 99;
    spawn_jobs(ts, c->jobs, 3);
    EXPECT_CODE(weft_wait(ts, 3, c->timeout, c->return_when, done, &nd, pending, &np), 0);
    say("wait@%s done=%s pending=%s", at(), names(done, nd), names(pending, np));
    EXPECT_CODE(nd + np, 3);
    /* A timeout cancels nothing: what was pending still ends normally. */
    EXPECT_CODE(weft_gather(ts, 3, NULL, NULL, WEFT_GATHER_COLLECT), 0);
    say("all@%s", at());
    release_all(ts, 3);
    return 0;
}

static void check_wait(struct wait_case c, const char *want)
{
    reset(NULL);
    assert_code(vrun(main_wait, &c, NULL), 0);
    assert_expectations();
    assert_log(want);
}

static void test_combine_wait_all_completed(void **state)
{
    (void)state;
    check_wait((struct wait_case){WEFT_FOREVER, WEFT_ALL_COMPLETED,
                                  {{"a", 30, 0, 0, 0}, {"b", 10, -EIO, 0, 0}, {"c", 20, 0, 0, 0}}},
               "b:0@10 c:0@20 a:0@30 wait@30 done=a,b,c pending= all@30");
}

static void test_combine_wait_first_completed(void **state)
{
    (void)state;
    check_wait((struct wait_case){WEFT_FOREVER, WEFT_FIRST_COMPLETED,
                                  {{"a", 30, 0, 0, 0}, {"b", 10, 0, 0, 0}, {"c", 20, 0, 0, 0}}},
               "b:0@10 wait@10 done=b pending=a,c c:0@20 a:0@30 all@30");
    /* Equal ends: both are done when the waiter looks. */
    check_wait((struct wait_case){WEFT_FOREVER, WEFT_FIRST_COMPLETED,
                                  {{"a", 30, 0, 0, 0}, {"b", 10, 0, 0, 0}, {"c", 10, 0, 0, 0}}},
               "b:0@10 c:0@10 wait@10 done=b,c pending=a a:0@30 all@30");
}

static void test_combine_wait_first_exception(void **state)
{
    (void)state;
    check_wait((struct wait_case){WEFT_FOREVER, WEFT_FIRST_EXCEPTION,
                                  {{"a", 30, 0, 0, 0}, {"b", 10, 0, 0, 0}, {"c", 20, -EIO, 0, 0}}},
               "b:0@10 c:0@20 wait@20 done=b,c pending=a a:0@30 all@30");
    /* A cancelled task counts as an exception. */
    check_wait((struct wait_case){WEFT_FOREVER, WEFT_FIRST_EXCEPTION,
                                  {{"a", 30, 0, 0, 0}, {"b", 15, -ECANCELED, 0, 0},
                                   {"c", 20, 0, 0, 0}}},
               "b:0@15 wait@15 done=b pending=a,c c:0@20 a:0@30 all@30");
    /* Without a failure it waits for all. */
    check_wait((struct wait_case){WEFT_FOREVER, WEFT_FIRST_EXCEPTION,
                                  {{"a", 30, 0, 0, 0}, {"b", 10, 0, 0, 0}, {"c", 20, 0, 0, 0}}},
               "b:0@10 c:0@20 a:0@30 wait@30 done=a,b,c pending= all@30");
}

static void test_combine_wait_timeout(void **state)
{
    (void)state;
    check_wait((struct wait_case){MS(15), WEFT_ALL_COMPLETED,
                                  {{"a", 30, 0, 0, 0}, {"b", 10, 0, 0, 0}, {"c", 20, 0, 0, 0}}},
               "b:0@10 wait@15 done=b pending=a,c c:0@20 a:0@30 all@30");
    check_wait((struct wait_case){MS(5), WEFT_FIRST_COMPLETED,
                                  {{"a", 30, 0, 0, 0}, {"b", 10, 0, 0, 0}, {"c", 20, 0, 0, 0}}},
               "wait@5 done= pending=a,b,c b:0@10 c:0@20 a:0@30 all@30");
    check_wait((struct wait_case){MS(25), WEFT_FIRST_EXCEPTION,
                                  {{"a", 30, 0, 0, 0}, {"b", 10, 0, 0, 0}, {"c", 20, 0, 0, 0}}},
               "b:0@10 c:0@20 wait@25 done=b,c pending=a a:0@30 all@30");
    /* A zero timeout only looks. */
    check_wait((struct wait_case){0, WEFT_ALL_COMPLETED,
                                  {{"a", 30, 0, 0, 0}, {"b", 10, 0, 0, 0}, {"c", 20, 0, 0, 0}}},
               "wait@0 done= pending=a,b,c b:0@10 c:0@20 a:0@30 all@30");
}

static int main_wait_args(void *arg, void **result)
{
    static struct job job_a = {"a", 1, 0, 0, 0};
    (void)arg;
    (void)result;
    weft_task *ts[2] = {NULL, NULL}, *done[2], *pending[2];
    size_t nd = 9, np = 9;
    EXPECT_CODE(weft_wait(NULL, 0, WEFT_FOREVER, WEFT_ALL_COMPLETED, NULL, &nd, NULL, &np), 0);
    EXPECT(nd == 0 && np == 0);
    EXPECT_CODE(weft_wait(NULL, 1, WEFT_FOREVER, WEFT_ALL_COMPLETED, done, &nd, pending, &np),
                -EINVAL);
    EXPECT_CODE(weft_spawn(&ts[0], task_job, &job_a, NULL), 0);
    EXPECT_CODE(weft_wait(ts, 2, WEFT_FOREVER, WEFT_ALL_COMPLETED, done, &nd, pending, &np),
                -EINVAL);
    EXPECT_CODE(weft_wait(ts, 1, -1, WEFT_ALL_COMPLETED, done, &nd, pending, &np), -EINVAL);
    EXPECT_CODE(weft_wait(ts, 1, WEFT_FOREVER, 3, done, &nd, pending, &np), -EINVAL);
    EXPECT_CODE(weft_wait(ts, 1, WEFT_FOREVER, -1, done, &nd, pending, &np), -EINVAL);
    /* done/pending may be NULL: only the counts. */
    EXPECT_CODE(weft_wait(ts, 1, WEFT_FOREVER, WEFT_ALL_COMPLETED, NULL, &nd, NULL, &np), 0);
    EXPECT(nd == 1 && np == 0);
    EXPECT_CODE(weft_wait(ts, 1, WEFT_FOREVER, WEFT_ALL_COMPLETED, NULL, NULL, NULL, NULL), 0);
    EXPECT_CODE(weft_task_release(ts[0]), 0);
    return 0;
}

static void test_combine_wait_bad_arguments(void **state)
{
    (void)state;
    assert_code(vrun(main_wait_args, NULL, NULL), 0);
    assert_expectations();
    assert_log("a:0@1");
}

static weft_task *waited[2];

static int task_waits(void *arg, void **result)
{
    (void)arg;
    (void)result;
    size_t nd = 9, np = 9;
    int rc = weft_wait(waited, 2, WEFT_FOREVER, WEFT_ALL_COMPLETED, NULL, &nd, NULL, &np);
    say("wait:%s@%s", cn(rc), at());
    shielded_sleep_100();
    return rc;
}

/* The waiter is cancelled: the tasks are not, and their ends later do not
   disturb the waiter. */
static int main_wait_cancelled(void *arg, void **result)
{
    (void)arg;
    (void)result;
    struct job jobs[] = {{"a", 30, 0, 1, 0}, {"b", 50, 0, 2, 0}};
    weft_task *w;
    spawn_jobs(waited, jobs, 2);
    EXPECT_CODE(weft_spawn(&w, task_waits, NULL, NULL), 0);
    EXPECT_CODE(weft_sleep(MS(10)), 0);
    EXPECT_CODE(weft_task_cancel(w), 0);
    EXPECT_CODE(weft_task_join(w, NULL), -ECANCELED);
    EXPECT_CODE(weft_task_status(waited[0]), WEFT_TASK_DONE);
    EXPECT_CODE(weft_task_status(waited[1]), WEFT_TASK_DONE);
    say("end@%s", at());
    release_all(waited, 2);
    EXPECT_CODE(weft_task_release(w), 0);
    return 0;
}

static void test_combine_wait_cancelled(void **state)
{
    (void)state;
    assert_code(vrun(main_wait_cancelled, NULL, NULL), 0);
    assert_log("wait:ECANCELED@10 a:0@30 b:0@50 shielded:0@110 end@110");
    assert_expectations();
}

/* ------------------------------------------------------------------------ */
/* wait_for                                                                 */
/* ------------------------------------------------------------------------ */

static int main_wait_for_in_time(void *arg, void **result)
{
    (void)arg;
    (void)result;
    struct job jobs[] = {{"a", 10, 0, 5, 0}, {"b", 10, -EIO, 6, 0}, {"c", 1, 0, 7, 0}};
    weft_task *ts[3];
    void *r = NULL;
    spawn_jobs(ts, jobs, 3);
    EXPECT_CODE(weft_wait_for(ts[0], MS(20), &r), 0);
    EXPECT(r == P(5));
    say("a-in-time@%s", at());
    EXPECT_CODE(weft_wait_for(ts[1], MS(20), NULL), -EIO);
    /* Already ended: the outcome, even with a zero timeout. */
    r = NULL;
    EXPECT_CODE(weft_wait_for(ts[2], 0, &r), 0);
    EXPECT(r == P(7));
    say("end@%s", at());
    release_all(ts, 3);
    return 0;
}

static void test_combine_wait_for_in_time(void **state)
{
    (void)state;
    assert_code(vrun(main_wait_for_in_time, NULL, NULL), 0);
    assert_expectations();
    assert_log("c:0@1 a:0@10 b:0@10 a-in-time@10 end@10");
}

static int main_wait_for_expires(void *arg, void **result)
{
    (void)arg;
    (void)result;
    struct job jobs[] = {{"a", 100, 0, 5, 0}, {"b", 100, 0, 6, 5}};
    weft_task *ts[2];
    void *r = P(1);
    spawn_jobs(ts, jobs, 2);
    EXPECT_CODE(weft_wait_for(ts[0], MS(30), &r), -ETIMEDOUT);
    say("a-timeout@%s", at());
    EXPECT_CODE(weft_task_status(ts[0]), WEFT_TASK_CANCELLED); /* cancelled and waited for */
    /* The task needs 5 ms to end after its cancellation: waited for. */
    EXPECT_CODE(weft_wait_for(ts[1], MS(10), &r), -ETIMEDOUT);
    say("b-timeout@%s", at());
    EXPECT_CODE(weft_task_status(ts[1]), WEFT_TASK_CANCELLED);
    release_all(ts, 2);
    return 0;
}

static void test_combine_wait_for_expires(void **state)
{
    (void)state;
    assert_code(vrun(main_wait_for_expires, NULL, NULL), 0);
    assert_expectations();
    assert_log("a:ECANCELED@30 a-timeout@30 b:ECANCELED@40 b-cleaned@45 b-timeout@45");
}

/* A body that records that it ran at all. */
static int task_ran(void *arg, void **result)
{
    (void)result;
    say("%s-ran@%s", (const char *)arg, at());
    return weft_sleep(MS(10));
}

static int main_wait_for_zero(void *arg, void **result)
{
    (void)arg;
    (void)result;
    weft_task *fresh, *started;
    EXPECT_CODE(weft_spawn(&fresh, task_ran, "fresh", NULL), 0);
    /* Not started: cancelled without running, at once (asyncio's
       wait_for(coro, 0) never starts the coroutine). */
    EXPECT_CODE(weft_wait_for(fresh, 0, NULL), -ETIMEDOUT);
    EXPECT_CODE(weft_task_status(fresh), WEFT_TASK_CANCELLED);
    EXPECT_NOW(0);
    /* Started and waiting: cancelled at once too, and waited for. */
    EXPECT_CODE(weft_spawn(&started, task_ran, "started", NULL), 0);
    EXPECT_CODE(weft_yield(), 0);
    EXPECT_CODE(weft_wait_for(started, 0, NULL), -ETIMEDOUT);
    EXPECT_CODE(weft_task_status(started), WEFT_TASK_CANCELLED);
    EXPECT_NOW(0);
    /* A cancelled waiter: -ECANCELED, and the task is cancelled all the same. */
    weft_task *third;
    EXPECT_CODE(weft_spawn(&third, task_ran, "third", NULL), 0);
    EXPECT_CODE(weft_task_cancel(weft_task_current()), 0);
    EXPECT_CODE(weft_wait_for(third, 0, NULL), -ECANCELED);
    EXPECT_CODE(weft_task_status(third), WEFT_TASK_CANCELLED);
    say("end@%s", at());
    EXPECT_CODE(weft_task_release(fresh), 0);
    EXPECT_CODE(weft_task_release(started), 0);
    EXPECT_CODE(weft_task_release(third), 0);
    return 0;
}

static void test_combine_wait_for_zero(void **state)
{
    (void)state;
    assert_code(vrun(main_wait_for_zero, NULL, NULL), 0);
    assert_expectations();
    assert_log("started-ran@0 end@0");
}

static int main_wait_for_args(void *arg, void **result)
{
    static struct job job_a = {"a", 1, 0, 0, 0};
    (void)arg;
    (void)result;
    weft_task *t;
    EXPECT_CODE(weft_wait_for(NULL, MS(1), NULL), -EINVAL);
    EXPECT_CODE(weft_spawn(&t, task_job, &job_a, NULL), 0);
    EXPECT_CODE(weft_wait_for(t, -1, NULL), -EINVAL);
    cb_tasks[0] = t;
    EXPECT_CODE(weft_call_soon(NULL, cb_gather, NULL), 0);
    EXPECT_CODE(weft_wait_for(t, WEFT_FOREVER, NULL), 0);
    EXPECT_CODE(weft_task_release(t), 0);
    return 0;
}

static void test_combine_wait_for_bad_arguments(void **state)
{
    (void)state;
    assert_code(vrun(main_wait_for_args, NULL, NULL), 0);
    assert_expectations();
    assert_log("cb a:0@1");
}

static weft_task *waited_for;

static int task_waits_for(void *arg, void **result)
{
    (void)arg;
    (void)result;
    int rc = weft_wait_for(waited_for, MS(1000), NULL);
    say("wait_for:%s@%s", cn(rc), at());
    shielded_sleep_100();
    return rc;
}

static int main_wait_for_cancelled(void *arg, void **result)
{
    (void)arg;
    (void)result;
    struct job j = {"a", 50, 0, 1, 0};
    weft_task *w;
    EXPECT_CODE(weft_spawn(&waited_for, task_job, &j, NULL), 0);
    EXPECT_CODE(weft_spawn(&w, task_waits_for, NULL, NULL), 0);
    EXPECT_CODE(weft_sleep(MS(10)), 0);
    EXPECT_CODE(weft_task_cancel(w), 0);
    EXPECT_CODE(weft_task_join(w, NULL), -ECANCELED);
    EXPECT_CODE(weft_task_status(waited_for), WEFT_TASK_CANCELLED);
    say("end@%s", at());
    EXPECT_CODE(weft_task_release(waited_for), 0);
    EXPECT_CODE(weft_task_release(w), 0);
    return 0;
}

/* The waiter is cancelled: the task is cancelled too, -ECANCELED. */
static void test_combine_wait_for_cancelled(void **state)
{
    (void)state;
    assert_code(vrun(main_wait_for_cancelled, NULL, NULL), 0);
    assert_log("a:ECANCELED@10 wait_for:ECANCELED@10 shielded:0@110 end@110");
    assert_expectations();
}

/* ------------------------------------------------------------------------ */
/* as_completed                                                             */
/* ------------------------------------------------------------------------ */

struct ac_case {
    int64_t timeout;
    int64_t first_sleep_ms;   /* the iterating task sleeps this long first */
    struct job jobs[4];
};

static int main_as_completed(void *arg, void **result)
{
    (void)result;
    struct ac_case *c = arg;
    weft_task *ts[4], *order[4];
    weft_as_completed ac;
    spawn_jobs(ts, c->jobs, 4);
    memcpy(order, ts, sizeof ts);
    EXPECT_CODE(weft_as_completed_init(&ac, order, 4, c->timeout), 0);
    if (c->first_sleep_ms)
        EXPECT_CODE(weft_sleep(MS(c->first_sleep_ms)), 0);
    for (;;) {
        weft_task *t = NULL;
        int rc = weft_as_completed_next(&ac, &t);
        if (rc) {
            say("next:%s@%s", cn(rc), at());
            if (rc == 1)
                EXPECT_CODE(weft_as_completed_next(&ac, &t), 1); /* stays at the end */
            break;
        }
        say("next:%s@%s", weft_task_name(t), at());
    }
    EXPECT_CODE(weft_gather(ts, 4, NULL, NULL, WEFT_GATHER_COLLECT), 0);
    say("all@%s", at());
    release_all(ts, 4);
    return 0;
}

static void check_as_completed(struct ac_case c, const char *want)
{
    reset(NULL);
    assert_code(vrun(main_as_completed, &c, NULL), 0);
    assert_expectations();
    assert_log(want);
}

static void test_combine_as_completed_order(void **state)
{
    (void)state;
    check_as_completed((struct ac_case){WEFT_FOREVER, 0,
                                        {{"a", 30, 0, 0, 0}, {"b", 10, -EIO, 0, 0},
                                         {"c", 20, 0, 0, 0}, {"d", 5, 0, 0, 0}}},
                       "d:0@5 next:d@5 b:0@10 next:b@10 c:0@20 next:c@20 a:0@30 next:a@30 "
                       "next:1@30 all@30");
}

static void test_combine_as_completed_timeout(void **state)
{
    (void)state;
    check_as_completed((struct ac_case){MS(25), 0,
                                        {{"a", 30, 0, 0, 0}, {"b", 10, 0, 0, 0},
                                         {"c", 20, 0, 0, 0}, {"d", 40, 0, 0, 0}}},
                       "b:0@10 next:b@10 c:0@20 next:c@20 next:ETIMEDOUT@25 a:0@30 d:0@40 "
                       "all@40");
}

/* Several tasks ended while the iterating task was busy: they still come
   out in the order they ended. */
static void test_combine_as_completed_order_after_delay(void **state)
{
    (void)state;
    check_as_completed((struct ac_case){WEFT_FOREVER, 35,
                                        {{"a", 30, 0, 0, 0}, {"b", 20, 0, 0, 0},
                                         {"c", 10, 0, 0, 0}, {"d", 40, 0, 0, 0}}},
                       "c:0@10 b:0@20 a:0@30 next:c@35 next:b@35 next:a@35 d:0@40 next:d@40 "
                       "next:1@40 all@40");
}

static int main_as_completed_args(void *arg, void **result)
{
    static struct job job_a = {"a", 1, 0, 0, 0};
    (void)arg;
    (void)result;
    weft_as_completed ac;
    weft_task *ts[2] = {NULL, NULL}, *t = NULL;
    EXPECT_CODE(weft_as_completed_init(NULL, ts, 0, WEFT_FOREVER), -EINVAL);
    EXPECT_CODE(weft_as_completed_init(&ac, NULL, 1, WEFT_FOREVER), -EINVAL);
    EXPECT_CODE(weft_as_completed_init(&ac, ts, 1, WEFT_FOREVER), -EINVAL); /* NULL task */
    EXPECT_CODE(weft_spawn(&ts[0], task_job, &job_a, NULL), 0);
    EXPECT_CODE(weft_as_completed_init(&ac, ts, 1, -1), -EINVAL);
    EXPECT_CODE(weft_as_completed_next(NULL, &t), -EINVAL);
    /* No tasks: over at once. */
    EXPECT_CODE(weft_as_completed_init(&ac, NULL, 0, WEFT_FOREVER), 0);
    EXPECT_CODE(weft_as_completed_next(&ac, &t), 1);
    EXPECT_CODE(weft_as_completed_init(&ac, ts, 1, WEFT_FOREVER), 0);
    EXPECT_CODE(weft_as_completed_next(&ac, NULL), -EINVAL);
    cb_tasks[0] = ts[0];
    EXPECT_CODE(weft_call_soon(NULL, cb_gather, NULL), 0);
    EXPECT_CODE(weft_as_completed_next(&ac, &t), 0);
    EXPECT(t == ts[0]);
    EXPECT_CODE(weft_as_completed_next(&ac, &t), 1);
    EXPECT_CODE(weft_task_release(ts[0]), 0);
    return 0;
}

static void test_combine_as_completed_bad_arguments(void **state)
{
    (void)state;
    assert_code(vrun(main_as_completed_args, NULL, NULL), 0);
    assert_expectations();
    assert_log("cb a:0@1");
}

static weft_task *iterated[2];

static int task_iterates(void *arg, void **result)
{
    (void)arg;
    (void)result;
    weft_as_completed ac;
    weft_task *t = NULL;
    weft_task *local[2] = {iterated[0], iterated[1]};
    EXPECT_CODE(weft_as_completed_init(&ac, local, 2, WEFT_FOREVER), 0);
    int rc = weft_as_completed_next(&ac, &t);
    say("next:%s@%s", cn(rc), at());
    shielded_sleep_100();
    return rc;
}

static int main_as_completed_cancelled(void *arg, void **result)
{
    (void)arg;
    (void)result;
    struct job jobs[] = {{"a", 30, 0, 1, 0}, {"b", 50, 0, 2, 0}};
    weft_task *w;
    spawn_jobs(iterated, jobs, 2);
    EXPECT_CODE(weft_spawn(&w, task_iterates, NULL, NULL), 0);
    EXPECT_CODE(weft_sleep(MS(10)), 0);
    EXPECT_CODE(weft_task_cancel(w), 0);
    EXPECT_CODE(weft_task_join(w, NULL), -ECANCELED);
    EXPECT_CODE(weft_task_status(iterated[0]), WEFT_TASK_DONE);
    say("end@%s", at());
    release_all(iterated, 2);
    EXPECT_CODE(weft_task_release(w), 0);
    return 0;
}

static void test_combine_as_completed_cancelled(void **state)
{
    (void)state;
    assert_code(vrun(main_as_completed_cancelled, NULL, NULL), 0);
    assert_log("next:ECANCELED@10 a:0@30 b:0@50 shielded:0@110 end@110");
    assert_expectations();
}

/* ------------------------------------------------------------------------ */

#define TEST(f) cmocka_unit_test_setup(f, reset)

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEST(test_combine_gather_results_in_given_order),
        TEST(test_combine_gather_first_failure_at_once),
        TEST(test_combine_gather_cancelled_task_fails_it),
        TEST(test_combine_gather_collect),
        TEST(test_combine_gather_many_tasks),
        TEST(test_combine_gather_bad_arguments),
        TEST(test_combine_gather_cancelled_cancels_tasks),
        TEST(test_combine_gather_timeout_scope),
        TEST(test_combine_wait_all_completed),
        TEST(test_combine_wait_first_completed),
        TEST(test_combine_wait_first_exception),
        TEST(test_combine_wait_timeout),
        TEST(test_combine_wait_bad_arguments),
        TEST(test_combine_wait_cancelled),
        TEST(test_combine_wait_for_in_time),
        TEST(test_combine_wait_for_expires),
        TEST(test_combine_wait_for_zero),
        TEST(test_combine_wait_for_bad_arguments),
        TEST(test_combine_wait_for_cancelled),
        TEST(test_combine_as_completed_order),
        TEST(test_combine_as_completed_timeout),
        TEST(test_combine_as_completed_order_after_delay),
        TEST(test_combine_as_completed_bad_arguments),
        TEST(test_combine_as_completed_cancelled),
    };
    return cmocka_run_group_tests_name("combine", tests, NULL, NULL);
}
