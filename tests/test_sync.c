/*
 * test_sync.c - the task synchronisation primitives (include/weft/sync.h)
 * under the virtual clock: mutex, semaphores, event, condition and wait
 * group; every documented return code, FIFO fairness, cancellation and
 * timeout while waiting (and the clean removal of the waiter that gave up),
 * the mutex hand-off to a waiter cancelled before it ran, and 10,000 tasks
 * contending one mutex.
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

#include <cmocka.h>

#include <weft.h>
#include <weft/sync.h>

#include "support.h"

/* ------------------------------------------------------------------------ */
/* Shared waiters                                                           */
/* ------------------------------------------------------------------------ */

enum { K_MUTEX, K_SEM, K_EVENT, K_COND, K_WG };

/* One waiting task: waits on `obj` (of kind `kind`), optionally inside a
   timeout scope of `timeout_ms`, logs "name:rc@time", then holds what it
   got for `hold_ms` and gives it back. */
struct waiter {
    const char *name;
    int kind;
    void *obj;
    weft_mutex *m;        /* K_COND: the mutex */
    int64_t timeout_ms;   /* 0: no scope; -1: a scope without deadline */
    int64_t hold_ms;
    weft_scope scope;     /* the scope, when there is one */
    int rc;
};

static int task_waiter(void *arg, void **result)
{
    (void)result;
    struct waiter *w = arg;
    int rc = 0;
    if (w->timeout_ms > 0)
        EXPECT_CODE(weft_scope_enter_timeout(&w->scope, MS(w->timeout_ms)), 0);
    else if (w->timeout_ms < 0)
        EXPECT_CODE(weft_scope_enter(&w->scope, WEFT_FOREVER), 0);
    switch (w->kind) {
    case K_MUTEX: rc = weft_mutex_lock(w->obj); break;
    case K_SEM: rc = weft_sem_acquire(w->obj); break;
    case K_EVENT: rc = weft_event_wait(w->obj); break;
    case K_COND:
        EXPECT_CODE(weft_mutex_lock(w->m), 0);
        rc = weft_cond_wait(w->obj, w->m);
        break;
    case K_WG: rc = weft_waitgroup_wait(w->obj); break;
    default: break;
    }
    w->rc = rc;
    say("%s:%s@%s", w->name, cn(rc), at());
    if (w->timeout_ms)
        (void)weft_scope_exit(&w->scope);
    switch (w->kind) {
    case K_MUTEX:
        if (rc == 0) {
            if (w->hold_ms)
                EXPECT_CODE(weft_sleep(MS(w->hold_ms)), 0);
            EXPECT_CODE(weft_mutex_unlock(w->obj), 0);
        } else {
            EXPECT_CODE(weft_mutex_unlock(w->obj), -EPERM); /* not the owner */
        }
        break;
    case K_SEM:
        if (rc == 0) {
            if (w->hold_ms)
                EXPECT_CODE(weft_sleep(MS(w->hold_ms)), 0);
            EXPECT_CODE(weft_sem_release(w->obj), 0);
        }
        break;
    case K_COND:
        /* Whatever happened, the mutex is held again. */
        if (w->hold_ms) {
            weft_scope s;
            EXPECT_CODE(weft_scope_enter(&s, WEFT_FOREVER), 0);
            EXPECT_CODE(weft_scope_shield(&s, 1), 0);
            EXPECT_CODE(weft_sleep(MS(w->hold_ms)), 0);
            EXPECT_CODE(weft_scope_exit(&s), 0);
        }
        EXPECT_CODE(weft_mutex_unlock(w->m), 0);
        break;
    default: break;
    }
    return 0;
}

static weft_task *spawn_waiter(struct waiter *w)
{
    weft_task *t = NULL;
    EXPECT_CODE(weft_spawn(&t, task_waiter, w, &(weft_task_opts){.name = w->name}), 0);
    return t;
}

/* ------------------------------------------------------------------------ */
/* Arguments and calls outside a task                                       */
/* ------------------------------------------------------------------------ */

static weft_mutex g_m = WEFT_MUTEX_INIT;
static weft_sem g_s0 = WEFT_SEM_INIT(0);
static weft_event g_e = WEFT_EVENT_INIT;
static weft_cond g_c = WEFT_COND_INIT;
static weft_waitgroup g_wg = WEFT_WAITGROUP_INIT;

static void check_outside_task(void)
{
    /* Calls that would wait (or need an owner) fail with -EPERM. */
    EXPECT_CODE(weft_mutex_lock(&g_m), -EPERM);
    EXPECT_CODE(weft_mutex_trylock(&g_m), -EPERM);
    EXPECT_CODE(weft_mutex_unlock(&g_m), -EPERM);
    EXPECT_CODE(weft_sem_acquire(&g_s0), -EPERM);
    EXPECT_CODE(weft_event_wait(&g_e), -EPERM);
    EXPECT_CODE(weft_cond_wait(&g_c, &g_m), -EPERM);
    EXPECT_CODE(weft_waitgroup_add(&g_wg, 1), 0);
    EXPECT_CODE(weft_waitgroup_wait(&g_wg), -EPERM);
    EXPECT_CODE(weft_waitgroup_done(&g_wg), 0);
    /* The calls that never suspend work. */
    EXPECT_CODE(weft_sem_tryacquire(&g_s0), -EAGAIN);
    EXPECT_CODE(weft_sem_release(&g_s0), 0);
    EXPECT_CODE(weft_sem_value(&g_s0), 1);
    EXPECT_CODE(weft_sem_tryacquire(&g_s0), 0);
    EXPECT_CODE(weft_sem_value(&g_s0), 0);
    EXPECT_CODE(weft_event_set(&g_e), 0);
    EXPECT_CODE(weft_event_is_set(&g_e), 1);
    EXPECT_CODE(weft_event_clear(&g_e), 0);
    EXPECT_CODE(weft_event_is_set(&g_e), 0);
    EXPECT_CODE(weft_cond_signal(&g_c), 0);
    EXPECT_CODE(weft_cond_broadcast(&g_c), 0);
}

static void test_sync_outside_loop(void **state)
{
    (void)state;
    check_outside_task();
    assert_expectations();
}

static void cb_outside_task(void *arg)
{
    (void)arg;
    check_outside_task();
    say("cb@%s", at());
}

static int main_from_callback(void *arg, void **result)
{
    (void)arg;
    (void)result;
    EXPECT_CODE(weft_call_later(NULL, MS(3), cb_outside_task, NULL), 0);
    EXPECT_CODE(weft_sleep(MS(5)), 0);
    return 0;
}

static void test_sync_from_callback(void **state)
{
    (void)state;
    assert_code(vrun(main_from_callback, NULL, NULL), 0);
    assert_expectations();
    assert_log("cb@3");
}

static int main_null_args(void *arg, void **result)
{
    (void)arg;
    (void)result;
    weft_mutex m = WEFT_MUTEX_INIT;
    weft_cond c = WEFT_COND_INIT;
    EXPECT_CODE(weft_mutex_lock(NULL), -EINVAL);
    EXPECT_CODE(weft_mutex_trylock(NULL), -EINVAL);
    EXPECT_CODE(weft_mutex_unlock(NULL), -EINVAL);
    EXPECT_CODE(weft_sem_acquire(NULL), -EINVAL);
    EXPECT_CODE(weft_sem_tryacquire(NULL), -EINVAL);
    EXPECT_CODE(weft_sem_release(NULL), -EINVAL);
    EXPECT_CODE(weft_event_set(NULL), -EINVAL);
    EXPECT_CODE(weft_event_clear(NULL), -EINVAL);
    EXPECT_CODE(weft_event_is_set(NULL), 0);
    EXPECT_CODE(weft_event_wait(NULL), -EINVAL);
    EXPECT_CODE(weft_mutex_lock(&m), 0);
    EXPECT_CODE(weft_cond_wait(NULL, &m), -EINVAL);
    EXPECT_CODE(weft_cond_wait(&c, NULL), -EINVAL);
    EXPECT_CODE(weft_mutex_unlock(&m), 0);
    EXPECT_CODE(weft_cond_signal(NULL), -EINVAL);
    EXPECT_CODE(weft_cond_broadcast(NULL), -EINVAL);
    EXPECT_CODE(weft_waitgroup_add(NULL, 1), -EINVAL);
    EXPECT_CODE(weft_waitgroup_done(NULL), -EINVAL);
    EXPECT_CODE(weft_waitgroup_wait(NULL), -EINVAL);
    EXPECT_CODE(weft_now(), 0); /* nothing waited */
    return 0;
}

static void test_sync_null_arguments(void **state)
{
    (void)state;
    assert_code(vrun(main_null_args, NULL, NULL), 0);
    assert_expectations();
}

/* ------------------------------------------------------------------------ */
/* Mutex                                                                    */
/* ------------------------------------------------------------------------ */

static int task_foreign_unlock(void *arg, void **result)
{
    (void)result;
    weft_mutex *m = arg;
    EXPECT_CODE(weft_mutex_trylock(m), -EBUSY);
    EXPECT_CODE(weft_mutex_unlock(m), -EPERM); /* not the owner */
    say("foreign@%s", at());
    return 0;
}

static int main_mutex_codes(void *arg, void **result)
{
    (void)arg;
    (void)result;
    weft_mutex m = WEFT_MUTEX_INIT, z;
    weft_task *t;
    memset(&z, 0, sizeof z); /* zeroing initialises too */
    EXPECT_CODE(weft_mutex_unlock(&m), -EPERM); /* free: nobody owns it */
    EXPECT_CODE(weft_mutex_lock(&m), 0);
    EXPECT_CODE(weft_mutex_lock(&m), -EDEADLK);
    EXPECT_CODE(weft_now(), 0);
    EXPECT_CODE(weft_spawn(&t, task_foreign_unlock, &m, NULL), 0);
    EXPECT_CODE(weft_task_join(t, NULL), 0);
    weft_task_release(t);
    EXPECT_CODE(weft_mutex_unlock(&m), 0); /* still ours after the foreign unlock */
    EXPECT_CODE(weft_mutex_unlock(&m), -EPERM);
    EXPECT_CODE(weft_mutex_trylock(&m), 0);
    EXPECT_CODE(weft_mutex_lock(&m), -EDEADLK);
    EXPECT_CODE(weft_mutex_unlock(&m), 0);
    EXPECT_CODE(weft_mutex_trylock(&z), 0);
    EXPECT_CODE(weft_mutex_unlock(&z), 0);
    say("main@%s", at());
    return 0;
}

static void test_sync_mutex_codes(void **state)
{
    (void)state;
    assert_code(vrun(main_mutex_codes, NULL, NULL), 0);
    assert_expectations();
    assert_log("foreign@0 main@0");
}

static int task_barger(void *arg, void **result)
{
    (void)result;
    EXPECT_CODE(weft_mutex_trylock(arg), -EBUSY);
    say("barger@%s", at());
    return 0;
}

static int main_mutex_fifo(void *arg, void **result)
{
    (void)arg;
    (void)result;
    weft_mutex m = WEFT_MUTEX_INIT;
    struct waiter w[5] = {
        {"a", K_MUTEX, &m, 0, 0, 1, {{0}}, 0}, {"b", K_MUTEX, &m, 0, 0, 1, {{0}}, 0},
        {"c", K_MUTEX, &m, 0, 0, 1, {{0}}, 0}, {"d", K_MUTEX, &m, 0, 0, 1, {{0}}, 0},
        {"e", K_MUTEX, &m, 0, 0, 1, {{0}}, 0},
    };
    weft_task *t[5];
    EXPECT_CODE(weft_mutex_lock(&m), 0);
    for (int i = 0; i < 5; i++)
        t[i] = spawn_waiter(&w[i]);
    EXPECT_CODE(weft_sleep(MS(10)), 0);
    EXPECT_CODE(weft_mutex_unlock(&m), 0);
    /* No barging: the lock went to a, neither main nor a newcomer gets it. */
    EXPECT_CODE(weft_mutex_trylock(&m), -EBUSY);
    EXPECT_CODE(weft_spawn(NULL, task_barger, &m, NULL), 0);
    EXPECT_CODE(weft_mutex_lock(&m), 0); /* queued behind b..e */
    say("main@%s", at());
    EXPECT_CODE(weft_mutex_unlock(&m), 0);
    for (int i = 0; i < 5; i++) {
        EXPECT_CODE(weft_task_join(t[i], NULL), 0);
        weft_task_release(t[i]);
    }
    return 0;
}

static void test_sync_mutex_fifo_no_barging(void **state)
{
    (void)state;
    assert_code(vrun(main_mutex_fifo, NULL, NULL), 0);
    assert_expectations();
    assert_log("a:0@10 barger@10 b:0@11 c:0@12 d:0@13 e:0@14 main@15");
}

static int main_mutex_cancel(void *arg, void **result)
{
    (void)arg;
    (void)result;
    weft_mutex m = WEFT_MUTEX_INIT;
    struct waiter a = {"a", K_MUTEX, &m, 0, 0, 1, {{0}}, 0};
    struct waiter b = {"b", K_MUTEX, &m, 0, 0, 1, {{0}}, 0};
    struct waiter c = {"c", K_MUTEX, &m, 0, 3, 1, {{0}}, 0};   /* times out at 3 */
    struct waiter d = {"d", K_MUTEX, &m, 0, -1, 1, {{0}}, 0};  /* scope cancelled at 6 */
    struct waiter e = {"e", K_MUTEX, &m, 0, 0, 1, {{0}}, 0};
    weft_task *t[5];
    EXPECT_CODE(weft_mutex_lock(&m), 0);
    t[0] = spawn_waiter(&a);
    t[1] = spawn_waiter(&b);
    t[2] = spawn_waiter(&c);
    t[3] = spawn_waiter(&d);
    t[4] = spawn_waiter(&e);
    EXPECT_CODE(weft_sleep(MS(5)), 0);
    EXPECT_CODE(weft_task_cancel(t[1]), 0);
    EXPECT_CODE(weft_sleep(MS(1)), 0);
    EXPECT_CODE(weft_scope_cancel(&d.scope), 0);
    EXPECT_CODE(weft_sleep(MS(4)), 0);
    EXPECT_CODE(weft_mutex_unlock(&m), 0);
    for (int i = 0; i < 5; i++) {
        EXPECT_CODE(weft_task_join(t[i], NULL), 0);
        weft_task_release(t[i]);
    }
    /* Nobody holds it and nobody waits. */
    EXPECT_CODE(weft_mutex_trylock(&m), 0);
    EXPECT_CODE(weft_mutex_unlock(&m), 0);
    say("end@%s", at());
    return 0;
}

static void test_sync_mutex_cancel_and_timeout_while_waiting(void **state)
{
    (void)state;
    assert_code(vrun(main_mutex_cancel, NULL, NULL), 0);
    assert_expectations();
    assert_log("c:ETIMEDOUT@3 b:ECANCELED@5 d:ECANCELED@6 a:0@10 e:0@11 end@12");
}

/* The lock is handed to a waiter (by unlock), which is cancelled before it
   runs: it must pass the lock on. `how`: 0 task cancel, 1 scope cancel. */
static int main_mutex_handoff_cancel(void *arg, void **result)
{
    (void)result;
    int how = (int)N(arg);
    weft_mutex m = WEFT_MUTEX_INIT;
    struct waiter a = {"a", K_MUTEX, &m, 0, how ? -1 : 0, 1, {{0}}, 0};
    struct waiter b = {"b", K_MUTEX, &m, 0, 0, 1, {{0}}, 0};
    struct waiter c = {"c", K_MUTEX, &m, 0, 0, 1, {{0}}, 0};
    weft_task *t[3];
    EXPECT_CODE(weft_mutex_lock(&m), 0);
    t[0] = spawn_waiter(&a);
    t[1] = spawn_waiter(&b);
    t[2] = spawn_waiter(&c);
    EXPECT_CODE(weft_sleep(MS(2)), 0);
    EXPECT_CODE(weft_mutex_unlock(&m), 0); /* handed to a */
    if (how)
        EXPECT_CODE(weft_scope_cancel(&a.scope), 0);
    else
        EXPECT_CODE(weft_task_cancel(t[0]), 0);
    EXPECT_CODE(weft_mutex_trylock(&m), -EBUSY);
    for (int i = 0; i < 3; i++) {
        EXPECT_CODE(weft_task_join(t[i], NULL), 0);
        weft_task_release(t[i]);
    }
    EXPECT_CODE(weft_mutex_trylock(&m), 0);
    EXPECT_CODE(weft_mutex_unlock(&m), 0);
    say("end@%s", at());
    return 0;
}

static void test_sync_mutex_handoff_to_cancelled_waiter(void **state)
{
    (void)state;
    assert_code(vrun(main_mutex_handoff_cancel, P(0), NULL), 0);
    assert_expectations();
    assert_log("a:ECANCELED@2 b:0@2 c:0@3 end@4");
    reset(NULL);
    assert_code(vrun(main_mutex_handoff_cancel, P(1), NULL), 0);
    assert_expectations();
    assert_log("a:ECANCELED@2 b:0@2 c:0@3 end@4");
}

/* The same with nobody behind: the lock becomes free. */
static int main_mutex_handoff_cancel_last(void *arg, void **result)
{
    (void)arg;
    (void)result;
    weft_mutex m = WEFT_MUTEX_INIT;
    struct waiter a = {"a", K_MUTEX, &m, 0, 0, 1, {{0}}, 0};
    weft_task *t;
    EXPECT_CODE(weft_mutex_lock(&m), 0);
    t = spawn_waiter(&a);
    EXPECT_CODE(weft_yield(), 0);
    EXPECT_CODE(weft_mutex_unlock(&m), 0);
    EXPECT_CODE(weft_task_cancel(t), 0);
    EXPECT_CODE(weft_task_join(t, NULL), 0);
    weft_task_release(t);
    EXPECT_CODE(weft_mutex_trylock(&m), 0);
    EXPECT_CODE(weft_mutex_unlock(&m), 0);
    say("end@%s", at());
    return 0;
}

static void test_sync_mutex_handoff_to_cancelled_last_waiter(void **state)
{
    (void)state;
    assert_code(vrun(main_mutex_handoff_cancel_last, NULL, NULL), 0);
    assert_expectations();
    assert_log("a:ECANCELED@0 end@0");
}

/* 10,000 tasks contend one mutex, each incrementing a counter across a
   yield while it holds the lock. */
#define CONTENDERS 10000
static struct {
    weft_mutex m;
    weft_waitgroup wg;
    long counter;
    int order[CONTENDERS];
    int n;
} big;

static int task_contender(void *arg, void **result)
{
    (void)result;
    int id = (int)N(arg);
    EXPECT_CODE(weft_mutex_lock(&big.m), 0);
    long v = big.counter;
    EXPECT_CODE(weft_yield(), 0);
    big.counter = v + 1;
    big.order[big.n++] = id;
    EXPECT_CODE(weft_mutex_unlock(&big.m), 0);
    EXPECT_CODE(weft_waitgroup_done(&big.wg), 0);
    return 0;
}

static int main_contention(void *arg, void **result)
{
    (void)arg;
    (void)result;
    memset(&big, 0, sizeof big);
    EXPECT_CODE(weft_waitgroup_add(&big.wg, CONTENDERS), 0);
    for (int i = 0; i < CONTENDERS; i++)
        EXPECT_CODE(weft_spawn(NULL, task_contender, P(i), NULL), 0);
    EXPECT_CODE(weft_waitgroup_wait(&big.wg), 0);
    EXPECT_CODE(big.counter, CONTENDERS);
    EXPECT_CODE(big.n, CONTENDERS);
    int bad = -1;
    for (int i = 0; i < CONTENDERS && bad < 0; i++)
        if (big.order[i] != i)
            bad = i;
    EXPECT_CODE(bad, -1);
    EXPECT_CODE(weft_mutex_trylock(&big.m), 0);
    EXPECT_CODE(weft_mutex_unlock(&big.m), 0);
    EXPECT_CODE(weft_now(), 0);
    return 0;
}

static void test_sync_mutex_10000_contenders(void **state)
{
    (void)state;
    assert_code(weft_run_opts(main_contention, NULL, NULL,
                              &(weft_loop_opts){.virtual_clock = 1,
                                                .stack_size = 32 * 1024}),
                0);
    assert_expectations();
}

/* ------------------------------------------------------------------------ */
/* Semaphores                                                               */
/* ------------------------------------------------------------------------ */

static int main_sem_codes(void *arg, void **result)
{
    (void)arg;
    (void)result;
    weft_sem s = WEFT_SEM_INIT(2), b = WEFT_BOUNDED_SEM_INIT(2), z;
    memset(&z, 0, sizeof z);
    EXPECT_CODE(weft_sem_value(&s), 2);
    EXPECT_CODE(weft_sem_acquire(&s), 0);
    EXPECT_CODE(weft_sem_tryacquire(&s), 0);
    EXPECT_CODE(weft_sem_tryacquire(&s), -EAGAIN);
    EXPECT_CODE(weft_sem_value(&s), 0);
    for (int i = 0; i < 5; i++) /* unbounded: any number */
        EXPECT_CODE(weft_sem_release(&s), 0);
    EXPECT_CODE(weft_sem_value(&s), 5);
    /* Bounded. */
    EXPECT_CODE(weft_sem_release(&b), -EOVERFLOW);
    EXPECT_CODE(weft_sem_value(&b), 2);
    EXPECT_CODE(weft_sem_acquire(&b), 0);
    EXPECT_CODE(weft_sem_acquire(&b), 0);
    EXPECT_CODE(weft_sem_tryacquire(&b), -EAGAIN);
    EXPECT_CODE(weft_sem_release(&b), 0);
    EXPECT_CODE(weft_sem_release(&b), 0);
    EXPECT_CODE(weft_sem_release(&b), -EOVERFLOW);
    EXPECT_CODE(weft_sem_value(&b), 2);
    /* Zeroed: value 0. */
    EXPECT_CODE(weft_sem_value(&z), 0);
    EXPECT_CODE(weft_sem_tryacquire(&z), -EAGAIN);
    EXPECT_CODE(weft_now(), 0);
    return 0;
}

/* WEFT_BOUNDED_SEM_INIT(0): a release beyond 0 is an error like any other
   bound (asyncio.BoundedSemaphore(0).release() raises). */
static void test_sync_sem_bounded_zero(void **state)
{
    (void)state;
    weft_sem b = WEFT_BOUNDED_SEM_INIT(0);
    assert_code(weft_sem_tryacquire(&b), -EAGAIN);
    assert_code(weft_sem_release(&b), -EOVERFLOW);
    assert_code(weft_sem_value(&b), 0);
}

static void test_sync_sem_codes(void **state)
{
    (void)state;
    assert_code(vrun(main_sem_codes, NULL, NULL), 0);
    assert_expectations();
}

static void cb_release(void *arg)
{
    EXPECT_CODE(weft_sem_release(arg), 0);
    say("rel@%s", at());
}

static int main_sem_fifo(void *arg, void **result)
{
    (void)arg;
    (void)result;
    weft_sem s = WEFT_BOUNDED_SEM_INIT(1);
    struct waiter w[4] = {
        {"a", K_SEM, &s, 0, 0, 0, {{0}}, 0}, {"b", K_SEM, &s, 0, 0, 0, {{0}}, 0},
        {"c", K_SEM, &s, 0, 0, 0, {{0}}, 0}, {"d", K_SEM, &s, 0, 0, 0, {{0}}, 0},
    };
    weft_task *t[4];
    weft_handle h[3] = {WEFT_HANDLE_INIT, WEFT_HANDLE_INIT, WEFT_HANDLE_INIT};
    EXPECT_CODE(weft_sem_acquire(&s), 0);
    for (int i = 0; i < 4; i++) {
        w[i].hold_ms = 0;
        t[i] = spawn_waiter(&w[i]);
    }
    EXPECT_CODE(weft_yield(), 0); /* all four wait now */
    EXPECT_CODE(weft_sem_value(&s), 0);
    /* Each release goes straight to the first waiter (which releases it
       again at once, to the next). */
    EXPECT_CODE(weft_sleep(MS(1)), 0);
    EXPECT_CODE(weft_sem_release(&s), 0); /* to a */
    EXPECT_CODE(weft_sem_value(&s), 0);  /* given away, not pooled */
    EXPECT_CODE(weft_sem_tryacquire(&s), -EAGAIN);
    for (int i = 0; i < 4; i++) {
        EXPECT_CODE(weft_task_join(t[i], NULL), 0);
        weft_task_release(t[i]);
    }
    EXPECT_CODE(weft_sem_value(&s), 1);
    EXPECT_CODE(weft_sem_release(&s), -EOVERFLOW);
    /* Releases from callbacks wake waiters at the callbacks' times. */
    EXPECT_CODE(weft_sem_acquire(&s), 0);
    struct waiter x = {"x", K_SEM, &s, 0, 0, 0, {{0}}, 0};
    struct waiter y = {"y", K_SEM, &s, 0, 0, 5, {{0}}, 0};
    weft_task *tx = spawn_waiter(&x), *ty = spawn_waiter(&y);
    EXPECT_CODE(weft_call_later(&h[0], MS(2), cb_release, &s), 0);
    EXPECT_CODE(weft_task_join(tx, NULL), 0);
    EXPECT_CODE(weft_task_join(ty, NULL), 0);
    weft_task_release(tx);
    weft_task_release(ty);
    EXPECT_CODE(weft_sem_value(&s), 1);
    say("end@%s", at());
    return 0;
}

static void test_sync_sem_fifo_and_direct_handoff(void **state)
{
    (void)state;
    assert_code(vrun(main_sem_fifo, NULL, NULL), 0);
    assert_expectations();
    assert_log("a:0@1 b:0@1 c:0@1 d:0@1 rel@3 x:0@3 y:0@3 end@8");
}

static int main_sem_cancel(void *arg, void **result)
{
    (void)arg;
    (void)result;
    weft_sem s = WEFT_SEM_INIT(0);
    struct waiter a = {"a", K_SEM, &s, 0, 0, 100, {{0}}, 0};
    struct waiter b = {"b", K_SEM, &s, 0, 0, 100, {{0}}, 0};
    struct waiter c = {"c", K_SEM, &s, 0, 4, 100, {{0}}, 0};
    struct waiter d = {"d", K_SEM, &s, 0, -1, 100, {{0}}, 0};
    struct waiter e = {"e", K_SEM, &s, 0, 0, 100, {{0}}, 0};
    weft_task *t[5];
    t[0] = spawn_waiter(&a);
    t[1] = spawn_waiter(&b);
    t[2] = spawn_waiter(&c);
    t[3] = spawn_waiter(&d);
    t[4] = spawn_waiter(&e);
    EXPECT_CODE(weft_sleep(MS(5)), 0);
    EXPECT_CODE(weft_task_cancel(t[1]), 0);
    EXPECT_CODE(weft_scope_cancel(&d.scope), 0);
    EXPECT_CODE(weft_sleep(MS(5)), 0);
    EXPECT_CODE(weft_sem_value(&s), 0);
    EXPECT_CODE(weft_sem_release(&s), 0); /* a */
    EXPECT_CODE(weft_sem_release(&s), 0); /* e: b, c and d left the queue */
    EXPECT_CODE(weft_sem_value(&s), 0);
    EXPECT_CODE(weft_sem_release(&s), 0); /* nobody waits: pooled */
    EXPECT_CODE(weft_sem_value(&s), 1);
    for (int i = 0; i < 5; i++) {
        EXPECT_CODE(weft_task_join(t[i], NULL), 0);
        weft_task_release(t[i]);
    }
    EXPECT_CODE(weft_sem_value(&s), 3);
    say("end@%s", at());
    return 0;
}

static void test_sync_sem_cancel_and_timeout_while_waiting(void **state)
{
    (void)state;
    assert_code(vrun(main_sem_cancel, NULL, NULL), 0);
    assert_expectations();
    assert_log("c:ETIMEDOUT@4 b:ECANCELED@5 d:ECANCELED@5 a:0@10 e:0@10 end@110");
}

/* A permit handed to a waiter cancelled before it ran is not lost: either
   the waiter keeps it (returns 0) or the next waiter gets it. */
static int main_sem_handoff_cancel(void *arg, void **result)
{
    (void)arg;
    (void)result;
    weft_sem s = WEFT_SEM_INIT(0);
    struct waiter a = {"a", K_SEM, &s, 0, 0, 0, {{0}}, 0};
    struct waiter b = {"b", K_SEM, &s, 0, 0, 0, {{0}}, 0};
    weft_task *ta = spawn_waiter(&a), *tb = spawn_waiter(&b);
    EXPECT_CODE(weft_sleep(MS(1)), 0);
    EXPECT_CODE(weft_sem_release(&s), 0);
    EXPECT_CODE(weft_task_cancel(ta), 0);
    EXPECT_CODE(weft_sleep(MS(1)), 0);
    /* b got the permit (from a, or because a gave up) and released it. */
    EXPECT_CODE(weft_task_status(tb), WEFT_TASK_DONE);
    EXPECT_CODE(b.rc, 0);
    EXPECT(a.rc == 0 || a.rc == -ECANCELED);
    EXPECT_CODE(weft_sem_value(&s), 1);
    weft_task_release(ta);
    weft_task_release(tb);
    return 0;
}

static void test_sync_sem_handoff_to_cancelled_waiter(void **state)
{
    (void)state;
    assert_code(vrun(main_sem_handoff_cancel, NULL, NULL), 0);
    assert_expectations();
}

/* ------------------------------------------------------------------------ */
/* Event                                                                    */
/* ------------------------------------------------------------------------ */

static void cb_set(void *arg)
{
    EXPECT_CODE(weft_event_set(arg), 0);
    say("set@%s", at());
}

static int main_event(void *arg, void **result)
{
    (void)arg;
    (void)result;
    weft_event e = WEFT_EVENT_INIT;
    struct waiter a = {"a", K_EVENT, &e, 0, 0, 0, {{0}}, 0};
    struct waiter b = {"b", K_EVENT, &e, 0, 0, 0, {{0}}, 0};
    struct waiter c = {"c", K_EVENT, &e, 0, 3, 0, {{0}}, 0};
    struct waiter d = {"d", K_EVENT, &e, 0, 0, 0, {{0}}, 0};
    struct waiter f = {"f", K_EVENT, &e, 0, 0, 0, {{0}}, 0};
    weft_task *t[5];
    EXPECT_CODE(weft_event_is_set(&e), 0);
    t[0] = spawn_waiter(&a);
    t[1] = spawn_waiter(&b);
    t[2] = spawn_waiter(&c);
    t[3] = spawn_waiter(&d);
    EXPECT_CODE(weft_sleep(MS(4)), 0);
    EXPECT_CODE(weft_task_cancel(t[3]), 0);
    EXPECT_CODE(weft_call_later(NULL, MS(6), cb_set, &e), 0);
    EXPECT_CODE(weft_event_wait(&e), 0);
    say("main@%s", at());
    EXPECT_CODE(weft_event_is_set(&e), 1);
    EXPECT_CODE(weft_event_wait(&e), 0); /* set: at once */
    EXPECT_CODE(weft_event_set(&e), 0);  /* again: fine */
    for (int i = 0; i < 4; i++) {
        EXPECT_CODE(weft_task_join(t[i], NULL), 0);
        weft_task_release(t[i]);
    }
    EXPECT_CODE(weft_event_clear(&e), 0);
    EXPECT_CODE(weft_event_is_set(&e), 0);
    EXPECT_CODE(weft_event_clear(&e), 0);
    t[4] = spawn_waiter(&f);
    EXPECT_CODE(weft_sleep(MS(5)), 0);
    EXPECT_CODE(weft_event_set(&e), 0);
    EXPECT_CODE(weft_event_clear(&e), 0); /* cleared before f ran: f still wakes */
    EXPECT_CODE(weft_task_join(t[4], NULL), 0);
    weft_task_release(t[4]);
    say("end@%s", at());
    return 0;
}

static void test_sync_event_wakes_all(void **state)
{
    (void)state;
    assert_code(vrun(main_event, NULL, NULL), 0);
    assert_expectations();
    assert_log("c:ETIMEDOUT@3 d:ECANCELED@4 set@10 a:0@10 b:0@10 main@10 f:0@15 end@15");
}

/* ------------------------------------------------------------------------ */
/* Condition                                                                */
/* ------------------------------------------------------------------------ */

static int task_cond_perm(void *arg, void **result)
{
    (void)result;
    void **mc = arg;
    /* Held by main, not by us. */
    EXPECT_CODE(weft_cond_wait(mc[1], mc[0]), -EPERM);
    say("perm@%s", at());
    return 0;
}

static int main_cond(void *arg, void **result)
{
    (void)arg;
    (void)result;
    weft_mutex m = WEFT_MUTEX_INIT;
    weft_cond c = WEFT_COND_INIT;
    struct waiter w[4] = {
        {"a", K_COND, &c, &m, 0, 1, {{0}}, 0}, {"b", K_COND, &c, &m, 0, 1, {{0}}, 0},
        {"c", K_COND, &c, &m, 0, 1, {{0}}, 0}, {"d", K_COND, &c, &m, 0, 1, {{0}}, 0},
    };
    weft_task *t[4], *tp;
    void *mc[2] = {&m, &c};
    EXPECT_CODE(weft_cond_wait(&c, &m), -EPERM); /* not held */
    EXPECT_CODE(weft_cond_signal(&c), 0);        /* nobody waits: lost */
    EXPECT_CODE(weft_cond_broadcast(&c), 0);
    for (int i = 0; i < 4; i++)
        t[i] = spawn_waiter(&w[i]);
    EXPECT_CODE(weft_sleep(MS(1)), 0);
    EXPECT_CODE(weft_mutex_lock(&m), 0); /* free: every waiter released it */
    EXPECT_CODE(weft_spawn(&tp, task_cond_perm, mc, NULL), 0);
    EXPECT_CODE(weft_task_join(tp, NULL), 0);
    weft_task_release(tp);
    EXPECT_CODE(weft_cond_signal(&c), 0); /* a, which then needs the mutex */
    EXPECT_CODE(weft_sleep(MS(2)), 0);    /* a waits for it meanwhile */
    say("unlock@%s", at());
    EXPECT_CODE(weft_mutex_unlock(&m), 0);
    EXPECT_CODE(weft_sleep(MS(2)), 0);
    EXPECT_CODE(weft_cond_broadcast(&c), 0); /* b, c, d in order */
    EXPECT_CODE(weft_cond_signal(&c), 0);    /* nobody left */
    for (int i = 0; i < 4; i++) {
        EXPECT_CODE(weft_task_join(t[i], NULL), 0);
        weft_task_release(t[i]);
    }
    say("end@%s", at());
    return 0;
}

static void test_sync_cond_signal_broadcast(void **state)
{
    (void)state;
    assert_code(vrun(main_cond, NULL, NULL), 0);
    assert_expectations();
    assert_log("perm@1 unlock@3 a:0@3 b:0@5 c:0@6 d:0@7 end@8");
}

/* Cancelled or timed out in cond_wait: returns with the mutex held again,
   waiting for it if another task holds it; the queue stays clean. */
static int main_cond_cancel(void *arg, void **result)
{
    (void)arg;
    (void)result;
    weft_mutex m = WEFT_MUTEX_INIT;
    weft_cond c = WEFT_COND_INIT;
    struct waiter a = {"a", K_COND, &c, &m, 0, 1, {{0}}, 0};  /* cancelled at 2 */
    struct waiter b = {"b", K_COND, &c, &m, 4, 1, {{0}}, 0};  /* times out at 4 */
    struct waiter d = {"d", K_COND, &c, &m, -1, 1, {{0}}, 0}; /* scope cancelled at 9 */
    struct waiter e = {"e", K_COND, &c, &m, 0, 1, {{0}}, 0};  /* signalled */
    weft_task *t[4];
    t[0] = spawn_waiter(&a);
    t[1] = spawn_waiter(&b);
    t[2] = spawn_waiter(&d);
    t[3] = spawn_waiter(&e);
    EXPECT_CODE(weft_sleep(MS(1)), 0);
    EXPECT_CODE(weft_mutex_lock(&m), 0);
    EXPECT_CODE(weft_sleep(MS(1)), 0);
    EXPECT_CODE(weft_task_cancel(t[0]), 0); /* at 2, while main holds m */
    EXPECT_CODE(weft_sleep(MS(4)), 0);      /* b times out at 4 too */
    say("unlock@%s", at());
    EXPECT_CODE(weft_mutex_unlock(&m), 0);  /* at 6: a, then b */
    EXPECT_CODE(weft_sleep(MS(3)), 0);
    EXPECT_CODE(weft_scope_cancel(&d.scope), 0); /* at 9, m free: d at once */
    EXPECT_CODE(weft_sleep(MS(3)), 0);
    EXPECT_CODE(weft_cond_signal(&c), 0); /* at 12: e, the only one left */
    for (int i = 0; i < 4; i++) {
        EXPECT_CODE(weft_task_join(t[i], NULL), 0);
        weft_task_release(t[i]);
    }
    EXPECT_CODE(weft_mutex_trylock(&m), 0);
    EXPECT_CODE(weft_mutex_unlock(&m), 0);
    say("end@%s", at());
    return 0;
}

static void test_sync_cond_cancel_reacquires(void **state)
{
    (void)state;
    assert_code(vrun(main_cond_cancel, NULL, NULL), 0);
    assert_expectations();
    assert_log("unlock@6 a:ECANCELED@6 b:ETIMEDOUT@7 d:ECANCELED@9 e:0@12 end@13");
}

/* A waiter signalled, then cancelled before it ran: the signal is not lost
   (it returns 0, or passes the signal on to the next waiter). */
static int main_cond_signal_cancel(void *arg, void **result)
{
    (void)arg;
    (void)result;
    weft_mutex m = WEFT_MUTEX_INIT;
    weft_cond c = WEFT_COND_INIT;
    struct waiter a = {"a", K_COND, &c, &m, 0, 0, {{0}}, 0};
    struct waiter b = {"b", K_COND, &c, &m, 0, 0, {{0}}, 0};
    weft_task *t[2];
    t[0] = spawn_waiter(&a);
    t[1] = spawn_waiter(&b);
    EXPECT_CODE(weft_sleep(MS(1)), 0);
    EXPECT_CODE(weft_cond_signal(&c), 0);
    EXPECT_CODE(weft_task_cancel(t[0]), 0);
    EXPECT_CODE(weft_sleep(MS(1)), 0);
    if (a.rc == 0) {
        EXPECT_CODE(weft_task_status(t[1]), WEFT_TASK_PENDING);
        EXPECT_CODE(weft_cond_signal(&c), 0);
    } else {
        EXPECT_CODE(a.rc, -ECANCELED);
        EXPECT_CODE(weft_task_status(t[1]), WEFT_TASK_DONE);
        EXPECT_CODE(b.rc, 0);
    }
    for (int i = 0; i < 2; i++) {
        EXPECT_CODE(weft_task_join(t[i], NULL), 0);
        weft_task_release(t[i]);
    }
    EXPECT_CODE(b.rc, 0);
    EXPECT_CODE(weft_mutex_trylock(&m), 0);
    EXPECT_CODE(weft_mutex_unlock(&m), 0);
    return 0;
}

static void test_sync_cond_signal_to_cancelled_waiter(void **state)
{
    (void)state;
    assert_code(vrun(main_cond_signal_cancel, NULL, NULL), 0);
    assert_expectations();
}

/* ------------------------------------------------------------------------ */
/* Wait group                                                               */
/* ------------------------------------------------------------------------ */

static void cb_done(void *arg)
{
    EXPECT_CODE(weft_waitgroup_done(arg), 0);
    say("done@%s", at());
}

static int main_waitgroup(void *arg, void **result)
{
    (void)arg;
    (void)result;
    weft_waitgroup wg = WEFT_WAITGROUP_INIT, z;
    memset(&z, 0, sizeof z);
    struct waiter a = {"a", K_WG, &wg, 0, 0, 0, {{0}}, 0};
    struct waiter b = {"b", K_WG, &wg, 0, 0, 0, {{0}}, 0};
    struct waiter c = {"c", K_WG, &wg, 0, 2, 0, {{0}}, 0};
    struct waiter d = {"d", K_WG, &wg, 0, 0, 0, {{0}}, 0};
    weft_task *t[4];
    EXPECT_CODE(weft_waitgroup_wait(&z), 0); /* zero: at once */
    EXPECT_CODE(weft_waitgroup_wait(&wg), 0);
    EXPECT_CODE(weft_waitgroup_done(&wg), -EINVAL); /* below zero */
    EXPECT_CODE(weft_waitgroup_add(&wg, -1), -EINVAL);
    EXPECT_CODE(weft_waitgroup_add(&wg, 0), 0);
    EXPECT_CODE(weft_waitgroup_add(&wg, 3), 0);
    EXPECT_CODE(weft_waitgroup_add(&wg, -4), -EINVAL); /* nothing changes */
    t[0] = spawn_waiter(&a);
    t[1] = spawn_waiter(&b);
    t[2] = spawn_waiter(&c);
    t[3] = spawn_waiter(&d);
    EXPECT_CODE(weft_sleep(MS(3)), 0);
    EXPECT_CODE(weft_task_cancel(t[3]), 0);
    EXPECT_CODE(weft_waitgroup_done(&wg), 0);
    EXPECT_CODE(weft_call_later(NULL, MS(2), cb_done, &wg), 0);
    EXPECT_CODE(weft_call_later(NULL, MS(4), cb_done, &wg), 0);
    EXPECT_CODE(weft_waitgroup_wait(&wg), 0);
    say("main@%s", at());
    EXPECT_CODE(weft_waitgroup_done(&wg), -EINVAL);
    for (int i = 0; i < 4; i++) {
        EXPECT_CODE(weft_task_join(t[i], NULL), 0);
        weft_task_release(t[i]);
    }
    /* Reusable: up and down by more than one. */
    EXPECT_CODE(weft_waitgroup_add(&wg, 5), 0);
    t[0] = spawn_waiter(&a);
    EXPECT_CODE(weft_sleep(MS(1)), 0);
    EXPECT_CODE(weft_waitgroup_add(&wg, -3), 0);
    EXPECT_CODE(weft_sleep(MS(1)), 0);
    EXPECT_CODE(weft_task_status(t[0]), WEFT_TASK_PENDING);
    EXPECT_CODE(weft_waitgroup_add(&wg, -2), 0);
    EXPECT_CODE(weft_task_join(t[0], NULL), 0);
    weft_task_release(t[0]);
    say("end@%s", at());
    return 0;
}

static void test_sync_waitgroup(void **state)
{
    (void)state;
    assert_code(vrun(main_waitgroup, NULL, NULL), 0);
    assert_expectations();
    assert_log("c:ETIMEDOUT@2 d:ECANCELED@3 done@5 done@7 a:0@7 b:0@7 main@7 a:0@9 end@9");
}

/* The most negative n would take any counter below zero. (Last in the list:
   under UBSan the bug it shows aborts the program.) */
static int main_waitgroup_int64_min(void *arg, void **result)
{
    (void)arg;
    (void)result;
    weft_waitgroup wg = WEFT_WAITGROUP_INIT;
    EXPECT_CODE(weft_waitgroup_add(&wg, INT64_MIN), -EINVAL);
    EXPECT_CODE(weft_waitgroup_wait(&wg), 0); /* still zero */
    EXPECT_CODE(weft_waitgroup_add(&wg, 2), 0);
    EXPECT_CODE(weft_waitgroup_add(&wg, INT64_MIN), -EINVAL);
    EXPECT_CODE(weft_waitgroup_add(&wg, -2), 0);
    EXPECT_CODE(weft_waitgroup_wait(&wg), 0);
    return 0;
}

static void test_sync_waitgroup_int64_min(void **state)
{
    (void)state;
    assert_code(vrun(main_waitgroup_int64_min, NULL, NULL), 0);
    assert_expectations();
}

/* ------------------------------------------------------------------------ */

#define TEST(f) cmocka_unit_test_setup(f, reset)

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEST(test_sync_outside_loop),
        TEST(test_sync_from_callback),
        TEST(test_sync_null_arguments),
        TEST(test_sync_mutex_codes),
        TEST(test_sync_mutex_fifo_no_barging),
        TEST(test_sync_mutex_cancel_and_timeout_while_waiting),
        TEST(test_sync_mutex_handoff_to_cancelled_waiter),
        TEST(test_sync_mutex_handoff_to_cancelled_last_waiter),
        TEST(test_sync_mutex_10000_contenders),
        TEST(test_sync_sem_codes),
        TEST(test_sync_sem_bounded_zero),
        TEST(test_sync_sem_fifo_and_direct_handoff),
        TEST(test_sync_sem_cancel_and_timeout_while_waiting),
        TEST(test_sync_sem_handoff_to_cancelled_waiter),
        TEST(test_sync_event_wakes_all),
        TEST(test_sync_cond_signal_broadcast),
        TEST(test_sync_cond_cancel_reacquires),
        TEST(test_sync_cond_signal_to_cancelled_waiter),
        TEST(test_sync_waitgroup),
        TEST(test_sync_waitgroup_int64_min),
    };
    return cmocka_run_group_tests_name("sync", tests, NULL, NULL);
}
