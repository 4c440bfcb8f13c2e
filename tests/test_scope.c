/*
 * test_scope.c - timeout scopes and task groups (include/weft/task.h, last
 * two sections) under the virtual clock: relative and absolute deadlines,
 * nesting (each deadline honoured, -ETIMEDOUT only for the region that owns
 * it), the codes of weft_scope_exit(), cancellation by hand from another
 * task or a callback, shields against task cancellation and outer scopes,
 * unshielding; task groups with a failure at every position, the first
 * error, the body cancelled, no task outliving the group, spawning after a
 * failure, and the owner cancelled while it waits in weft_group_exit().
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



/* Records a suspending call's outcome and the time it returned:
   "what:CODE@time". */
#define CALL(what, expr)                                                    \
    do {                                                                    \
        int rc_ = (expr);                                                   \
        say("%s:%s@%s", (what), cn(rc_), at());                             \
    } while (0)

/* ------------------------------------------------------------------------ */
/* Deadlines                                                                */
/* ------------------------------------------------------------------------ */

static int main_relative(void *arg, void **result)
{
    (void)arg;
    (void)result;
    weft_scope s;
    weft_future f = WEFT_FUTURE_INIT;
    EXPECT_CODE(weft_sleep(MS(5)), 0);
    EXPECT_CODE(weft_scope_enter_timeout(&s, MS(10)), 0);
    CALL("sleep", weft_sleep(MS(50)));
    /* Expired: every suspending call inside fails at once. */
    CALL("yield", weft_yield());
    CALL("sleep0", weft_sleep(0));
    CALL("await", weft_future_await(&f, NULL));
    CALL("exit", weft_scope_exit(&s));
    CALL("after", weft_sleep(MS(5)));
    return 0;
}

static void test_scope_relative_timeout(void **state)
{
    (void)state;
    assert_code(vrun(main_relative, NULL, NULL), 0);
    assert_expectations();
    assert_log("sleep:ETIMEDOUT@15 yield:ETIMEDOUT@15 sleep0:ETIMEDOUT@15 "
               "await:ETIMEDOUT@15 exit:ETIMEDOUT@15 after:0@20");
}

static int main_absolute(void *arg, void **result)
{
    (void)arg;
    (void)result;
    weft_scope s;
    EXPECT_CODE(weft_sleep(MS(5)), 0);
    EXPECT_CODE(weft_scope_enter(&s, MS(20)), 0);
    CALL("sleep", weft_sleep(MS(10)));
    CALL("until", weft_sleep_until(MS(100)));
    CALL("exit", weft_scope_exit(&s));
    /* In time: exit returns 0. */
    EXPECT_CODE(weft_scope_enter(&s, MS(50)), 0);
    CALL("sleep", weft_sleep(MS(10)));
    CALL("exit", weft_scope_exit(&s));
    /* A deadline already passed: the first suspending call fails. */
    EXPECT_CODE(weft_scope_enter(&s, MS(1)), 0);
    CALL("yield", weft_yield());
    CALL("exit", weft_scope_exit(&s));
    return 0;
}

static void test_scope_absolute_deadline(void **state)
{
    (void)state;
    assert_code(vrun(main_absolute, NULL, NULL), 0);
    assert_expectations();
    assert_log("sleep:0@15 until:ETIMEDOUT@20 exit:ETIMEDOUT@20 sleep:0@30 exit:0@30 "
               "yield:ETIMEDOUT@30 exit:ETIMEDOUT@30");
}

static int main_forever_scope(void *arg, void **result)
{
    (void)arg;
    (void)result;
    weft_scope s, t;
    EXPECT_CODE(weft_sleep(MS(10)), 0);
    EXPECT_CODE(weft_scope_enter(&s, WEFT_FOREVER), 0);
    EXPECT_CODE(weft_scope_enter_timeout(&t, WEFT_FOREVER), 0); /* no wrap-around */
    CALL("sleep", weft_sleep(WEFT_SEC(3600)));
    CALL("exit", weft_scope_exit(&t));
    CALL("exit", weft_scope_exit(&s));
    return 0;
}

static void test_scope_forever(void **state)
{
    (void)state;
    assert_code(vrun(main_forever_scope, NULL, NULL), 0);
    assert_expectations();
    assert_log("sleep:0@3600010 exit:0@3600010 exit:0@3600010");
}

static int main_nested_inner_first(void *arg, void **result)
{
    (void)arg;
    (void)result;
    weft_scope outer, inner;
    EXPECT_CODE(weft_scope_enter_timeout(&outer, MS(20)), 0);
    EXPECT_CODE(weft_scope_enter_timeout(&inner, MS(10)), 0);
    CALL("inner-sleep", weft_sleep(MS(100)));
    CALL("inner-exit", weft_scope_exit(&inner));
    CALL("outer-sleep", weft_sleep(MS(5)));
    CALL("outer-sleep", weft_sleep(MS(100)));
    CALL("outer-exit", weft_scope_exit(&outer));
    return 0;
}

static void test_scope_nested_inner_expires_first(void **state)
{
    (void)state;
    assert_code(vrun(main_nested_inner_first, NULL, NULL), 0);
    assert_expectations();
    assert_log("inner-sleep:ETIMEDOUT@10 inner-exit:ETIMEDOUT@10 outer-sleep:0@15 "
               "outer-sleep:ETIMEDOUT@20 outer-exit:ETIMEDOUT@20");
}

static int main_nested_outer_first(void *arg, void **result)
{
    (void)arg;
    (void)result;
    weft_scope outer, middle, inner;
    EXPECT_CODE(weft_scope_enter_timeout(&outer, MS(10)), 0);
    EXPECT_CODE(weft_scope_enter_timeout(&middle, MS(30)), 0);
    EXPECT_CODE(weft_scope_enter_timeout(&inner, MS(20)), 0);
    CALL("inner-sleep", weft_sleep(MS(100)));
    /* The timeout is the outer scope's: the inner ones exit with 0. */
    CALL("inner-exit", weft_scope_exit(&inner));
    CALL("middle-yield", weft_yield());
    CALL("middle-exit", weft_scope_exit(&middle));
    CALL("outer-exit", weft_scope_exit(&outer));
    return 0;
}

static void test_scope_nested_outer_expires_first(void **state)
{
    (void)state;
    assert_code(vrun(main_nested_outer_first, NULL, NULL), 0);
    assert_expectations();
    assert_log("inner-sleep:ETIMEDOUT@10 inner-exit:0@10 middle-yield:ETIMEDOUT@10 "
               "middle-exit:0@10 outer-exit:ETIMEDOUT@10");
}

static weft_task *long_task;

static int main_scope_on_join(void *arg, void **result)
{
    (void)arg;
    (void)result;
    struct job j = {"long", 50, 0, 3, 0};
    weft_scope s;
    void *r = NULL;
    EXPECT_CODE(weft_spawn(&long_task, task_job, &j, NULL), 0);
    EXPECT_CODE(weft_scope_enter_timeout(&s, MS(10)), 0);
    CALL("join", weft_task_join(long_task, &r));
    EXPECT_CODE(weft_task_status(long_task), WEFT_TASK_PENDING); /* keeps running */
    CALL("exit", weft_scope_exit(&s));
    CALL("join", weft_task_join(long_task, &r));                 /* joinable again */
    EXPECT(r == P(3));
    EXPECT_CODE(weft_task_release(long_task), 0);
    return 0;
}

static void test_scope_deadline_on_join(void **state)
{
    (void)state;
    assert_code(vrun(main_scope_on_join, NULL, NULL), 0);
    assert_expectations();
    assert_log("join:ETIMEDOUT@10 exit:ETIMEDOUT@10 long:0@50 join:0@50");
}

static void cb_scope_calls(void *arg)
{
    weft_scope s;
    (void)arg;
    EXPECT_CODE(weft_scope_enter(&s, WEFT_FOREVER), -EPERM);
    EXPECT_CODE(weft_scope_enter_timeout(&s, MS(1)), -EPERM);
    say("cb");
}

static int main_scope_args(void *arg, void **result)
{
    (void)arg;
    (void)result;
    weft_scope a, b, never;
    memset(&never, 0, sizeof never);
    EXPECT_CODE(weft_scope_enter(NULL, WEFT_FOREVER), -EINVAL);
    EXPECT_CODE(weft_scope_enter_timeout(NULL, MS(1)), -EINVAL);
    EXPECT_CODE(weft_scope_shield(NULL, 1), -EINVAL);
    EXPECT_CODE(weft_scope_cancel(NULL), -EINVAL);
    EXPECT_CODE(weft_scope_exit(NULL), -EINVAL);
    EXPECT_CODE(weft_scope_exit(&never), -EINVAL);
    EXPECT_CODE(weft_scope_enter(&a, WEFT_FOREVER), 0);
    EXPECT_CODE(weft_scope_enter(&b, MS(5)), 0);
    /* Not the innermost: refused, and nothing changes. */
    EXPECT_CODE(weft_scope_exit(&a), -EINVAL);
    CALL("sleep", weft_sleep(MS(10)));        /* b still applies */
    EXPECT_CODE(weft_scope_exit(&b), -ETIMEDOUT);
    EXPECT_CODE(weft_scope_exit(&b), -EINVAL); /* twice */
    EXPECT_CODE(weft_scope_exit(&a), 0);
    EXPECT_CODE(weft_scope_exit(&a), -EINVAL);
    EXPECT_CODE(weft_call_soon(NULL, cb_scope_calls, NULL), 0);
    EXPECT_CODE(weft_yield(), 0);
    return 0;
}

static void test_scope_bad_arguments_and_exit_order(void **state)
{
    (void)state;
    weft_scope s;
    assert_code(weft_scope_enter(&s, WEFT_FOREVER), -EPERM); /* outside a loop */
    assert_code(weft_scope_enter_timeout(&s, MS(1)), -EPERM);
    assert_code(vrun(main_scope_args, NULL, NULL), 0);
    assert_expectations();
    assert_log("sleep:ETIMEDOUT@5 cb");
}

/* ------------------------------------------------------------------------ */
/* Cancelling a scope by hand                                               */
/* ------------------------------------------------------------------------ */

static weft_scope *victim_scope;      /* the scope other tasks cancel */
static weft_scope *victim_outer;      /* and the one around it */

static int task_in_scope(void *arg, void **result)
{
    (void)arg;
    (void)result;
    weft_scope s;
    EXPECT_CODE(weft_scope_enter(&s, WEFT_FOREVER), 0);
    victim_scope = &s;
    CALL("sleep", weft_sleep(WEFT_SEC(3600)));
    CALL("yield", weft_yield());
    CALL("exit", weft_scope_exit(&s));
    victim_scope = NULL;
    /* Only the scope was cancelled, not the task. */
    CALL("after", weft_sleep(MS(5)));
    EXPECT_CODE(weft_scope_cancel(&s), -EALREADY); /* exited */
    return 0;
}

static void cb_cancel_scope(void *arg)
{
    (void)arg;
    EXPECT_CODE(weft_scope_cancel(victim_scope), 0);
    say("cb@%s", at());
}

static int main_cancel_by_hand(void *arg, void **result)
{
    (void)result;
    weft_task *t;
    EXPECT_CODE(weft_spawn(&t, task_in_scope, NULL, NULL), 0);
    if (arg) {
        EXPECT_CODE(weft_call_later(NULL, MS(10), cb_cancel_scope, NULL), 0);
        EXPECT_CODE(weft_sleep(MS(10)), 0);
    } else {
        EXPECT_CODE(weft_sleep(MS(10)), 0);
        EXPECT_CODE(weft_scope_cancel(victim_scope), 0);
    }
    EXPECT_CODE(weft_scope_cancel(victim_scope), -EALREADY); /* twice */
    EXPECT_CODE(weft_task_join(t, NULL), 0);
    EXPECT_CODE(weft_task_release(t), 0);
    return 0;
}

static void test_scope_cancel_from_other_task(void **state)
{
    (void)state;
    assert_code(vrun(main_cancel_by_hand, NULL, NULL), 0);
    assert_expectations();
    assert_log("sleep:ECANCELED@10 yield:ECANCELED@10 exit:ECANCELED@10 after:0@15");
}

static void test_scope_cancel_from_callback(void **state)
{
    (void)state;
    assert_code(vrun(main_cancel_by_hand, P(1), NULL), 0);
    assert_expectations();
    assert_log("cb@10 sleep:ECANCELED@10 yield:ECANCELED@10 exit:ECANCELED@10 after:0@15");
}

static int main_cancel_own_and_outer(void *arg, void **result)
{
    (void)arg;
    (void)result;
    weft_scope outer, inner;
    EXPECT_CODE(weft_scope_enter(&outer, WEFT_FOREVER), 0);
    EXPECT_CODE(weft_scope_enter(&inner, WEFT_FOREVER), 0);
    /* Cancelling the outer scope reaches the region of the inner one. */
    EXPECT_CODE(weft_scope_cancel(&outer), 0);
    CALL("inner-yield", weft_yield());
    CALL("inner-exit", weft_scope_exit(&inner));
    CALL("outer-exit", weft_scope_exit(&outer));
    /* Cancelling one's own innermost scope. */
    EXPECT_CODE(weft_scope_enter_timeout(&inner, MS(10)), 0);
    EXPECT_CODE(weft_scope_cancel(&inner), 0);
    CALL("sleep", weft_sleep(MS(1)));
    CALL("exit", weft_scope_exit(&inner));
    CALL("after", weft_yield());
    return 0;
}

static void test_scope_cancel_own_and_outer(void **state)
{
    (void)state;
    assert_code(vrun(main_cancel_own_and_outer, NULL, NULL), 0);
    assert_expectations();
    assert_log("inner-yield:ECANCELED@0 inner-exit:0@0 outer-exit:ECANCELED@0 "
               "sleep:ECANCELED@0 exit:ECANCELED@0 after:0@0");
}

/* ------------------------------------------------------------------------ */
/* Shields                                                                  */
/* ------------------------------------------------------------------------ */

static int task_shielded_from_cancel(void *arg, void **result)
{
    (void)arg;
    (void)result;
    weft_scope s;
    EXPECT_CODE(weft_scope_enter(&s, WEFT_FOREVER), 0);
    EXPECT_CODE(weft_scope_shield(&s, 1), 0);
    CALL("shielded-sleep", weft_sleep(MS(50)));
    CALL("shielded-yield", weft_yield());
    EXPECT_CODE(weft_scope_shield(&s, 0), 0); /* unshield: it applies again */
    CALL("unshielded-yield", weft_yield());
    EXPECT_CODE(weft_scope_shield(&s, 1), 0);
    CALL("reshielded-sleep", weft_sleep(MS(5)));
    CALL("exit", weft_scope_exit(&s));
    CALL("after", weft_sleep(MS(5)));
    return -ECANCELED;
}

static int main_shield_task_cancel(void *arg, void **result)
{
    (void)arg;
    (void)result;
    weft_task *t;
    EXPECT_CODE(weft_spawn(&t, task_shielded_from_cancel, NULL, NULL), 0);
    EXPECT_CODE(weft_sleep(MS(10)), 0);
    EXPECT_CODE(weft_task_cancel(t), 0);
    EXPECT_CODE(weft_task_join(t, NULL), -ECANCELED);
    EXPECT_CODE(weft_task_release(t), 0);
    return 0;
}

static void test_scope_shield_from_task_cancel(void **state)
{
    (void)state;
    assert_code(vrun(main_shield_task_cancel, NULL, NULL), 0);
    assert_expectations();
    assert_log("shielded-sleep:0@50 shielded-yield:0@50 unshielded-yield:ECANCELED@50 "
               "reshielded-sleep:0@55 exit:0@55 after:ECANCELED@55");
}

static int main_shield_outer_deadline(void *arg, void **result)
{
    (void)arg;
    (void)result;
    weft_scope outer, inner, own;
    EXPECT_CODE(weft_scope_enter_timeout(&outer, MS(10)), 0);
    EXPECT_CODE(weft_scope_enter(&inner, WEFT_FOREVER), 0);
    EXPECT_CODE(weft_scope_shield(&inner, 1), 0);
    CALL("shielded-sleep", weft_sleep(MS(30)));
    /* A shielded scope's own deadline still applies. */
    EXPECT_CODE(weft_scope_enter_timeout(&own, MS(5)), 0);
    EXPECT_CODE(weft_scope_shield(&own, 1), 0);
    CALL("own-sleep", weft_sleep(MS(30)));
    CALL("own-exit", weft_scope_exit(&own));
    EXPECT_CODE(weft_scope_shield(&inner, 0), 0);
    CALL("unshielded-sleep", weft_sleep(MS(30)));
    CALL("inner-exit", weft_scope_exit(&inner));
    CALL("outer-exit", weft_scope_exit(&outer));
    return 0;
}

static void test_scope_shield_from_outer_deadline(void **state)
{
    (void)state;
    assert_code(vrun(main_shield_outer_deadline, NULL, NULL), 0);
    assert_expectations();
    assert_log("shielded-sleep:0@30 own-sleep:ETIMEDOUT@35 own-exit:ETIMEDOUT@35 "
               "unshielded-sleep:ETIMEDOUT@35 inner-exit:0@35 outer-exit:ETIMEDOUT@35");
}

/* Shielded inside a scope that another task cancels. */
static int task_shield_in_outer(void *arg, void **result)
{
    (void)arg;
    (void)result;
    weft_scope outer, inner;
    EXPECT_CODE(weft_scope_enter(&outer, WEFT_FOREVER), 0);
    victim_outer = &outer;
    EXPECT_CODE(weft_scope_enter(&inner, WEFT_FOREVER), 0);
    EXPECT_CODE(weft_scope_shield(&inner, 1), 0);
    CALL("shielded-sleep", weft_sleep(MS(40)));
    CALL("inner-exit", weft_scope_exit(&inner));
    CALL("outer-sleep", weft_sleep(MS(40)));
    CALL("outer-exit", weft_scope_exit(&outer));
    victim_outer = NULL;
    return 0;
}

static int main_shield_outer_cancel(void *arg, void **result)
{
    (void)arg;
    (void)result;
    weft_task *t;
    EXPECT_CODE(weft_spawn(&t, task_shield_in_outer, NULL, NULL), 0);
    EXPECT_CODE(weft_sleep(MS(10)), 0);
    EXPECT_CODE(weft_scope_cancel(victim_outer), 0);
    EXPECT_CODE(weft_task_join(t, NULL), 0);
    EXPECT_CODE(weft_task_release(t), 0);
    return 0;
}

static void test_scope_shield_from_outer_cancel(void **state)
{
    (void)state;
    assert_code(vrun(main_shield_outer_cancel, NULL, NULL), 0);
    assert_expectations();
    assert_log("shielded-sleep:0@40 inner-exit:0@40 outer-sleep:ECANCELED@40 "
               "outer-exit:ECANCELED@40");
}

/*
 * Unshielding by another task while the shielded one sleeps: what the
 * shield kept out applies from then on - a cancellation at once, an outer
 * deadline when it comes.
 */
static weft_scope *shield_of;

static int task_sleeps_shielded(void *arg, void **result)
{
    (void)result;
    weft_scope outer, inner;
    EXPECT_CODE(weft_scope_enter(&outer, N(arg) ? MS(30) : WEFT_FOREVER), 0);
    EXPECT_CODE(weft_scope_enter(&inner, WEFT_FOREVER), 0);
    EXPECT_CODE(weft_scope_shield(&inner, 1), 0);
    shield_of = &inner;
    CALL("sleep", weft_sleep(MS(100)));
    shield_of = NULL;
    EXPECT_CODE(weft_scope_exit(&inner), 0);
    weft_scope_exit(&outer);
    return 0;
}

static int main_unshield_other(void *arg, void **result)
{
    (void)result;
    weft_task *t;
    int64_t deadline = N(arg);
    EXPECT_CODE(weft_spawn(&t, task_sleeps_shielded, P(deadline), NULL), 0);
    EXPECT_CODE(weft_sleep(MS(5)), 0);
    if (!deadline)
        EXPECT_CODE(weft_task_cancel(t), 0);
    EXPECT_CODE(weft_sleep(MS(5)), 0);
    EXPECT_CODE(weft_scope_shield(shield_of, 0), 0);
    say("unshielded@%s", at());
    EXPECT_CODE(weft_task_join(t, NULL), 0);
    EXPECT_CODE(weft_task_release(t), 0);
    return 0;
}

static void test_scope_unshield_from_other_task_cancel(void **state)
{
    (void)state;
    assert_code(vrun(main_unshield_other, P(0), NULL), 0);
    assert_expectations();
    assert_log("unshielded@10 sleep:ECANCELED@10");
}

static void test_scope_unshield_from_other_task_outer_deadline(void **state)
{
    (void)state;
    assert_code(vrun(main_unshield_other, P(1), NULL), 0);
    assert_log("unshielded@10 sleep:ETIMEDOUT@30");
    assert_expectations();
}

/* ------------------------------------------------------------------------ */
/* Task groups                                                              */
/* ------------------------------------------------------------------------ */

static int main_group_ok(void *arg, void **result)
{
    static struct job job_d = {"d", 5, 0, 4, 0};
    (void)arg;
    (void)result;
    struct job jobs[] = {{"a", 10, 0, 1, 0}, {"b", 30, 0, 2, 0}, {"c", 20, 0, 3, 0}};
    weft_group g;
    weft_task *ts[3];
    void *r = NULL;
    EXPECT_CODE(weft_group_enter(&g), 0);
    for (int i = 0; i < 3; i++)
        EXPECT_CODE(weft_group_spawn(&g, &ts[i], task_job, &jobs[i],
                                     &(weft_task_opts){.name = jobs[i].name}), 0);
    EXPECT_CODE(weft_group_spawn(&g, NULL, task_job, &job_d, NULL), 0);
    CALL("body-sleep", weft_sleep(MS(15)));
    EXPECT_CODE(weft_task_result(ts[0], &r), 0);
    EXPECT(r == P(1));
    EXPECT_CODE(weft_task_all(NULL, 0), 3);
    CALL("exit", weft_group_exit(&g));
    EXPECT_CODE(weft_task_all(NULL, 0), 1);      /* only main */
    /* `out` is a reference of our own: results outlive the group. */
    for (int i = 0; i < 3; i++) {
        r = NULL;
        EXPECT_CODE(weft_task_result(ts[i], &r), 0);
        EXPECT(r == P(i + 1));
        EXPECT_CODE(weft_task_release(ts[i]), 0);
    }
    return 0;
}

static void test_scope_group_all_succeed(void **state)
{
    (void)state;
    assert_code(vrun(main_group_ok, NULL, NULL), 0);
    assert_expectations();
    assert_log("d:0@5 a:0@10 body-sleep:0@15 c:0@20 b:0@30 exit:0@30");
}

static int main_group_empty(void *arg, void **result)
{
    static struct job job_a = {"a", 1, 0, 0, 0};
    (void)arg;
    (void)result;
    weft_group g;
    EXPECT_CODE(weft_group_enter(&g), 0);
    CALL("exit", weft_group_exit(&g));
    /* A group can be entered again after its exit. */
    EXPECT_CODE(weft_group_enter(&g), 0);
    EXPECT_CODE(weft_group_spawn(&g, NULL, task_job, &job_a, NULL), 0);
    CALL("exit", weft_group_exit(&g));
    return 0;
}

static void test_scope_group_empty_and_reused(void **state)
{
    (void)state;
    assert_code(vrun(main_group_empty, NULL, NULL), 0);
    assert_expectations();
    assert_log("exit:0@0 a:0@1 exit:0@1");
}

/*
 * A group of three members of which the one at `fail_at` fails at 10 ms
 * with -EIO, the others sleeping 100 ms (one of them needs 5 ms to clean
 * up). When `in_exit`, the body is already waiting in weft_group_exit();
 * otherwise it sleeps and is cancelled.
 */
struct failure_case {
    int fail_at;
    int in_exit;
};

static int main_group_failure(void *arg, void **result)
{
    (void)result;
    const struct failure_case *c = arg;
    static const char *const nm[] = {"m0", "m1", "m2"};
    struct job jobs[3];
    weft_group g;
    weft_task *ts[3], *extra = NULL;
    for (int i = 0; i < 3; i++)
        jobs[i] = i == c->fail_at ? (struct job){nm[i], 10, -EIO, 0, 0}
                                  : (struct job){nm[i], 100, 0, 0, i == 2 || c->fail_at == 2 ? 5 : 0};
    EXPECT_CODE(weft_group_enter(&g), 0);
    for (int i = 0; i < 3; i++)
        EXPECT_CODE(weft_group_spawn(&g, &ts[i], task_job, &jobs[i], NULL), 0);
    if (!c->in_exit) {
        CALL("body-sleep", weft_sleep(MS(1000)));
        CALL("body-yield", weft_yield());
        size_t alive = weft_task_all(NULL, 0);
        EXPECT_CODE(weft_group_spawn(&g, &extra, task_job, &jobs[0], NULL), -ECANCELED);
        EXPECT(extra == NULL);
        EXPECT_CODE(weft_task_all(NULL, 0), alive); /* nothing was spawned */
    }
    CALL("exit", weft_group_exit(&g));
    EXPECT_CODE(weft_task_all(NULL, 0), 1);     /* no task outlives the group */
    for (int i = 0; i < 3; i++) {
        EXPECT_CODE(weft_task_result(ts[i], NULL), i == c->fail_at ? -EIO : -ECANCELED);
        EXPECT_CODE(weft_task_release(ts[i]), 0);
    }
    return 0;
}

static void check_group_failure(int fail_at, int in_exit, const char *want)
{
    struct failure_case c = {fail_at, in_exit};
    reset(NULL);
    assert_code(vrun(main_group_failure, &c, NULL), 0);
    assert_expectations();
    assert_log(want);
}

static void test_scope_group_first_fails(void **state)
{
    (void)state;
    check_group_failure(0, 0, "m0:0@10 m1:ECANCELED@10 m2:ECANCELED@10 body-sleep:ECANCELED@10 "
                              "body-yield:ECANCELED@10 m2-cleaned@15 exit:EIO@15");
    check_group_failure(0, 1, "m0:0@10 m1:ECANCELED@10 m2:ECANCELED@10 m2-cleaned@15 "
                              "exit:EIO@15");
}

static void test_scope_group_middle_fails(void **state)
{
    (void)state;
    check_group_failure(1, 0, "m1:0@10 m0:ECANCELED@10 m2:ECANCELED@10 body-sleep:ECANCELED@10 "
                              "body-yield:ECANCELED@10 m2-cleaned@15 exit:EIO@15");
    check_group_failure(1, 1, "m1:0@10 m0:ECANCELED@10 m2:ECANCELED@10 m2-cleaned@15 "
                              "exit:EIO@15");
}

static void test_scope_group_last_fails(void **state)
{
    (void)state;
    check_group_failure(2, 0, "m2:0@10 m0:ECANCELED@10 m1:ECANCELED@10 body-sleep:ECANCELED@10 "
                              "body-yield:ECANCELED@10 m0-cleaned@15 m1-cleaned@15 exit:EIO@15");
    check_group_failure(2, 1, "m2:0@10 m0:ECANCELED@10 m1:ECANCELED@10 m0-cleaned@15 "
                              "m1-cleaned@15 exit:EIO@15");
}

/* A member that fails before the others have even started: they never run. */
static int task_fails_at_once(void *arg, void **result)
{
    (void)result;
    say("%s", (const char *)arg);
    return -EPIPE;
}

static int main_group_fails_at_once(void *arg, void **result)
{
    static struct job job_never2 = {"never2", 1, 0, 0, 0};
    (void)arg;
    (void)result;
    weft_group g;
    weft_task *ts[3];
    EXPECT_CODE(weft_group_enter(&g), 0);
    EXPECT_CODE(weft_group_spawn(&g, &ts[0], task_fails_at_once, "f", NULL), 0);
    EXPECT_CODE(weft_group_spawn(&g, &ts[1], task_fails_at_once, "never1", NULL), 0);
    EXPECT_CODE(weft_group_spawn(&g, &ts[2], task_job, &job_never2, NULL), 0);
    CALL("exit", weft_group_exit(&g));
    EXPECT_CODE(weft_task_status(ts[0]), WEFT_TASK_FAILED);
    EXPECT_CODE(weft_task_status(ts[1]), WEFT_TASK_CANCELLED);
    EXPECT_CODE(weft_task_status(ts[2]), WEFT_TASK_CANCELLED);
    for (int i = 0; i < 3; i++)
        EXPECT_CODE(weft_task_release(ts[i]), 0);
    return 0;
}

static void test_scope_group_fails_before_others_start(void **state)
{
    (void)state;
    assert_code(vrun(main_group_fails_at_once, NULL, NULL), 0);
    assert_expectations();
    assert_log("f exit:EPIPE@0");
}

/* The first error wins over later ones. */
static int task_fails_after_cancel(void *arg, void **result)
{
    (void)arg;
    (void)result;
    weft_scope s;
    int rc = weft_sleep(MS(100));
    say("late:%s@%s", cn(rc), at());
    EXPECT_CODE(weft_scope_enter(&s, WEFT_FOREVER), 0);
    EXPECT_CODE(weft_scope_shield(&s, 1), 0);
    EXPECT_CODE(weft_sleep(MS(3)), 0);
    EXPECT_CODE(weft_scope_exit(&s), 0);
    return -ENOENT; /* a different error, later */
}

static int main_group_first_error(void *arg, void **result)
{
    static struct job job_a = {"a", 10, -EIO, 0, 0};
    static struct job job_b = {"b", 12, -EPIPE, 0, 0};
    (void)arg;
    (void)result;
    weft_group g;
    EXPECT_CODE(weft_group_enter(&g), 0);
    EXPECT_CODE(weft_group_spawn(&g, NULL, task_fails_after_cancel, NULL, NULL), 0);
    EXPECT_CODE(weft_group_spawn(&g, NULL, task_job, &job_a, NULL), 0);
    EXPECT_CODE(weft_group_spawn(&g, NULL, task_job, &job_b, NULL), 0);
    CALL("exit", weft_group_exit(&g));
    return 0;
}

static void test_scope_group_first_error_wins(void **state)
{
    (void)state;
    assert_code(vrun(main_group_first_error, NULL, NULL), 0);
    assert_expectations();
    assert_log("a:0@10 late:ECANCELED@10 b:ECANCELED@10 exit:EIO@13");
}

/* A member cancelled by hand is no failure of the group. */
static int main_group_member_cancelled(void *arg, void **result)
{
    static struct job job_a = {"a", 100, 0, 0, 0};
    static struct job job_b = {"b", 20, 0, 0, 0};
    (void)arg;
    (void)result;
    weft_group g;
    weft_task *a;
    EXPECT_CODE(weft_group_enter(&g), 0);
    EXPECT_CODE(weft_group_spawn(&g, &a, task_job, &job_a, NULL), 0);
    EXPECT_CODE(weft_group_spawn(&g, NULL, task_job, &job_b, NULL), 0);
    CALL("body-sleep", weft_sleep(MS(5)));
    EXPECT_CODE(weft_task_cancel(a), 0);
    CALL("exit", weft_group_exit(&g));
    EXPECT_CODE(weft_task_status(a), WEFT_TASK_CANCELLED);
    EXPECT_CODE(weft_task_release(a), 0);
    return 0;
}

static void test_scope_group_member_cancelled_is_no_failure(void **state)
{
    (void)state;
    assert_code(vrun(main_group_member_cancelled, NULL, NULL), 0);
    assert_expectations();
    assert_log("body-sleep:0@5 a:ECANCELED@5 b:0@20 exit:0@20");
}

/*
 * A member spawning into its own group, while the body still runs and
 * while the owner already waits in weft_group_exit() (the group is not
 * closed until the exit returns): the exit waits for the new member too.
 */
static weft_group *shared_group;

static int task_spawns_sibling(void *arg, void **result)
{
    (void)result;
    static struct job job_sibling = {"sibling", 20, 0, 0, 0};
    EXPECT_CODE(weft_sleep(MS(5)), 0);
    EXPECT_CODE(weft_group_spawn(shared_group, NULL, task_job, &job_sibling,
                                 &(weft_task_opts){.name = "sibling"}), 0);
    say("spawner@%s", at());
    EXPECT_CODE(weft_task_all(NULL, 0), (size_t)N(arg));
    return 0;
}

static int main_group_member_spawns(void *arg, void **result)
{
    (void)result;
    weft_group g;
    shared_group = &g;
    EXPECT_CODE(weft_group_enter(&g), 0);
    EXPECT_CODE(weft_group_spawn(&g, NULL, task_spawns_sibling, P(3), NULL), 0);
    if (arg)
        CALL("body-sleep", weft_sleep(MS(10)));
    CALL("exit", weft_group_exit(&g));
    EXPECT_CODE(weft_task_all(NULL, 0), 1);
    return 0;
}

static void test_scope_group_member_spawns_member(void **state)
{
    (void)state;
    assert_code(vrun(main_group_member_spawns, P(1), NULL), 0);
    assert_expectations();
    assert_log("spawner@5 body-sleep:0@10 sibling:0@25 exit:0@25");
}

static void test_scope_group_member_spawns_while_owner_in_exit(void **state)
{
    (void)state;
    assert_code(vrun(main_group_member_spawns, NULL, NULL), 0);
    assert_log("spawner@5 sibling:0@25 exit:0@25");
    assert_expectations();
}

/* The owner is cancelled while it waits in weft_group_exit(). */
static int task_group_owner(void *arg, void **result)
{
    static struct job job_a = {"a", 100, 0, 0, 0};
    static struct job job_b = {"b", 100, 0, 0, 5};
    (void)result;
    weft_group g;
    EXPECT_CODE(weft_group_enter(&g), 0);
    EXPECT_CODE(weft_group_spawn(&g, NULL, task_job, &job_a, NULL), 0);
    EXPECT_CODE(weft_group_spawn(&g, NULL, task_job, &job_b, NULL), 0);
    if (N(arg))
        CALL("body-sleep", weft_sleep(MS(50)));
    int rc = weft_group_exit(&g);
    say("exit:%s@%s", cn(rc), at());
    EXPECT_CODE(weft_task_all(NULL, 0), 2);    /* main and this task */
    /* Nothing is left to wake the owner: a shielded sleep ends on time. */
    weft_scope s;
    EXPECT_CODE(weft_scope_enter(&s, WEFT_FOREVER), 0);
    EXPECT_CODE(weft_scope_shield(&s, 1), 0);
    CALL("shielded", weft_sleep(MS(100)));
    EXPECT_CODE(weft_scope_exit(&s), 0);
    return rc;
}

static int main_group_owner_cancelled(void *arg, void **result)
{
    (void)result;
    weft_task *t;
    EXPECT_CODE(weft_spawn(&t, task_group_owner, arg, NULL), 0);
    EXPECT_CODE(weft_sleep(MS(10)), 0);
    EXPECT_CODE(weft_task_cancel(t), 0);
    EXPECT_CODE(weft_task_join(t, NULL), -ECANCELED);
    EXPECT_CODE(weft_task_release(t), 0);
    return 0;
}

static void test_scope_group_owner_cancelled_in_exit(void **state)
{
    (void)state;
    assert_code(vrun(main_group_owner_cancelled, P(0), NULL), 0);
    assert_expectations();
    assert_log("a:ECANCELED@10 b:ECANCELED@10 b-cleaned@15 exit:ECANCELED@15 shielded:0@115");
}

static void test_scope_group_owner_cancelled_in_body(void **state)
{
    (void)state;
    assert_code(vrun(main_group_owner_cancelled, P(1), NULL), 0);
    assert_expectations();
    assert_log("body-sleep:ECANCELED@10 a:ECANCELED@10 b:ECANCELED@10 b-cleaned@15 "
               "exit:ECANCELED@15 shielded:0@115");
}

/* Nested groups: a member of the outer group fails while the owner waits
   in the inner group's exit; the inner group is cancelled as a whole. */
static int main_group_nested(void *arg, void **result)
{
    (void)arg;
    (void)result;
    static struct job job_f = {"f", 10, -EIO, 0, 0};
    static struct job job_o = {"o", 100, 0, 0, 0};
    static struct job job_i = {"i", 100, 0, 0, 5};
    weft_group outer, inner;
    EXPECT_CODE(weft_group_enter(&outer), 0);
    EXPECT_CODE(weft_group_spawn(&outer, NULL, task_job, &job_f, NULL), 0);
    EXPECT_CODE(weft_group_spawn(&outer, NULL, task_job, &job_o, NULL), 0);
    EXPECT_CODE(weft_group_enter(&inner), 0);
    EXPECT_CODE(weft_group_spawn(&inner, NULL, task_job, &job_i, NULL), 0);
    CALL("inner-exit", weft_group_exit(&inner));
    CALL("outer-exit", weft_group_exit(&outer));
    EXPECT_CODE(weft_task_all(NULL, 0), 1);
    return 0;
}

static void test_scope_group_nested(void **state)
{
    (void)state;
    assert_code(vrun(main_group_nested, NULL, NULL), 0);
    assert_expectations();
    assert_log("f:0@10 o:ECANCELED@10 i:ECANCELED@10 i-cleaned@15 inner-exit:ECANCELED@15 "
               "outer-exit:EIO@15");
}

/* A timeout scope around the group expires while the owner waits in exit. */
static int main_group_in_timeout(void *arg, void **result)
{
    static struct job job_a = {"a", 10, 0, 0, 0};
    static struct job job_b = {"b", 100, 0, 0, 0};
    (void)arg;
    (void)result;
    weft_scope s;
    weft_group g;
    EXPECT_CODE(weft_scope_enter_timeout(&s, MS(20)), 0);
    EXPECT_CODE(weft_group_enter(&g), 0);
    EXPECT_CODE(weft_group_spawn(&g, NULL, task_job, &job_a, NULL), 0);
    EXPECT_CODE(weft_group_spawn(&g, NULL, task_job, &job_b, NULL), 0);
    CALL("exit", weft_group_exit(&g));
    CALL("scope-exit", weft_scope_exit(&s));
    EXPECT_CODE(weft_task_all(NULL, 0), 1);
    return 0;
}

static void test_scope_group_in_timeout_scope(void **state)
{
    (void)state;
    assert_code(vrun(main_group_in_timeout, NULL, NULL), 0);
    assert_expectations();
    assert_log("a:0@10 b:ECANCELED@20 exit:ETIMEDOUT@20 scope-exit:ETIMEDOUT@20");
}

static weft_group *other_group;

static int task_exits_others_group(void *arg, void **result)
{
    (void)arg;
    (void)result;
    EXPECT_CODE(weft_group_exit(other_group), -EINVAL);
    say("other");
    return 0;
}

static void cb_group_calls(void *arg)
{
    weft_group g;
    (void)arg;
    EXPECT_CODE(weft_group_enter(&g), -EPERM);
    say("cb");
}

static int main_group_args(void *arg, void **result)
{
    (void)arg;
    (void)result;
    weft_group g;
    weft_scope s;
    weft_task *t = NULL;
    EXPECT_CODE(weft_group_enter(NULL), -EINVAL);
    EXPECT_CODE(weft_group_exit(NULL), -EINVAL);
    EXPECT_CODE(weft_group_enter(&g), 0);
    other_group = &g;
    EXPECT_CODE(weft_group_spawn(NULL, &t, task_job, NULL, NULL), -EINVAL);
    EXPECT_CODE(weft_group_spawn(&g, &t, NULL, NULL, NULL), -EINVAL);
    EXPECT(t == NULL);
    EXPECT_CODE(weft_spawn(NULL, task_exits_others_group, NULL, NULL), 0);
    EXPECT_CODE(weft_call_soon(NULL, cb_group_calls, NULL), 0);
    EXPECT_CODE(weft_yield(), 0);
    /* A scope entered in the body and not exited: not the innermost. */
    EXPECT_CODE(weft_scope_enter(&s, WEFT_FOREVER), 0);
    EXPECT_CODE(weft_group_exit(&g), -EINVAL);
    EXPECT_CODE(weft_scope_exit(&s), 0);
    EXPECT_CODE(weft_group_exit(&g), 0);
    /* After the exit the group takes no more tasks. */
    EXPECT_CODE(weft_group_spawn(&g, &t, task_job, NULL, NULL), -EINVAL);
    EXPECT_CODE(weft_group_exit(&g), -EINVAL);
    return 0;
}

static void test_scope_group_bad_arguments(void **state)
{
    (void)state;
    weft_group g;
    assert_code(weft_group_enter(&g), -EPERM); /* outside a loop */
    assert_code(vrun(main_group_args, NULL, NULL), 0);
    assert_expectations();
    assert_log("cb other");
}

/* ------------------------------------------------------------------------ */

#define TEST(f) cmocka_unit_test_setup(f, reset)

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEST(test_scope_relative_timeout),
        TEST(test_scope_absolute_deadline),
        TEST(test_scope_forever),
        TEST(test_scope_nested_inner_expires_first),
        TEST(test_scope_nested_outer_expires_first),
        TEST(test_scope_deadline_on_join),
        TEST(test_scope_bad_arguments_and_exit_order),
        TEST(test_scope_cancel_from_other_task),
        TEST(test_scope_cancel_from_callback),
        TEST(test_scope_cancel_own_and_outer),
        TEST(test_scope_shield_from_task_cancel),
        TEST(test_scope_shield_from_outer_deadline),
        TEST(test_scope_shield_from_outer_cancel),
        TEST(test_scope_unshield_from_other_task_cancel),
        TEST(test_scope_unshield_from_other_task_outer_deadline),
        TEST(test_scope_group_all_succeed),
        TEST(test_scope_group_empty_and_reused),
        TEST(test_scope_group_first_fails),
        TEST(test_scope_group_middle_fails),
        TEST(test_scope_group_last_fails),
        TEST(test_scope_group_fails_before_others_start),
        TEST(test_scope_group_first_error_wins),
        TEST(test_scope_group_member_cancelled_is_no_failure),
        TEST(test_scope_group_member_spawns_member),
        TEST(test_scope_group_member_spawns_while_owner_in_exit),
        TEST(test_scope_group_owner_cancelled_in_exit),
        TEST(test_scope_group_owner_cancelled_in_body),
        TEST(test_scope_group_nested),
        TEST(test_scope_group_in_timeout_scope),
        TEST(test_scope_group_bad_arguments),
    };
    return cmocka_run_group_tests_name("scope", tests, NULL, NULL);
}
