/*
 * test_signal.c - signals as events (include/weft/signal.h): a signal sent
 * from another thread wakes the waiting task, signals that arrive before a
 * wait are kept, counted watches, the thread's mask restored (also for a
 * signal the thread had blocked itself), a wait woken when the last watch
 * goes, timeouts and cancellation, one owner per signal across loops
 * (-EBUSY), the end of weft_run() giving signals up, and bad arguments.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <weft.h>

#include "support.h"

static int blocked(int sig)
{
    sigset_t now;
    pthread_sigmask(SIG_BLOCK, NULL, &now);
    return sigismember(&now, sig);
}

/* Sends `sig` to the process from a plain thread after a short while. */
struct sender {
    pthread_t thread;
    int sig;
};

static void *send_later(void *arg)
{
    struct sender *s = arg;
    struct timespec ts = {0, 20 * 1000 * 1000};
    nanosleep(&ts, NULL);
    kill(getpid(), s->sig);
    return NULL;
}

static int main_from_thread(void *arg, void **result)
{
    (void)arg;
    (void)result;
    struct sender s = {.sig = SIGUSR1};
    EXPECT_CODE(weft_signal_watch(SIGUSR1), 0);
    EXPECT(blocked(SIGUSR1));
    EXPECT_CODE(pthread_create(&s.thread, NULL, send_later, &s), 0);
    EXPECT_CODE(weft_signal_wait(), SIGUSR1);
    pthread_join(s.thread, NULL);
    EXPECT_CODE(weft_signal_unwatch(SIGUSR1), 0);
    EXPECT(!blocked(SIGUSR1));
    return 0;
}

static void test_signal_from_another_thread(void **state)
{
    (void)state;
    /* The sender is created after the watch, so it blocks SIGUSR1 from
       birth and the process-directed signal can only go to the loop. */
    assert_code(weft_run(main_from_thread, NULL, NULL), 0);
    assert_expectations();
}

static int main_kept(void *arg, void **result)
{
    (void)arg;
    (void)result;
    EXPECT_CODE(weft_signal_watch(SIGUSR1), 0);
    EXPECT_CODE(weft_signal_watch(SIGUSR2), 0);
    EXPECT_CODE(weft_signal_watch(SIGUSR2), 0);     /* counted */
    EXPECT_CODE(raise(SIGUSR2), 0);                 /* nobody waits yet */
    EXPECT_CODE(raise(SIGUSR1), 0);
    EXPECT_CODE(weft_sleep(MS(5)), 0);
    int a = weft_signal_wait(), b = weft_signal_wait();
    EXPECT((a == SIGUSR1 && b == SIGUSR2) || (a == SIGUSR2 && b == SIGUSR1));
    EXPECT_CODE(weft_signal_unwatch(SIGUSR2), 0);
    EXPECT(blocked(SIGUSR2));                       /* one watch is left */
    EXPECT_CODE(weft_signal_unwatch(SIGUSR2), 0);
    EXPECT(!blocked(SIGUSR2));
    EXPECT_CODE(weft_signal_unwatch(SIGUSR2), -ENOENT);
    EXPECT_CODE(weft_signal_unwatch(SIGUSR1), 0);
    EXPECT_CODE(weft_signal_wait(), -ENOENT);       /* nothing watched */
    return 0;
}

static void test_signal_kept_until_waited(void **state)
{
    (void)state;
    assert_code(vrun(main_kept, NULL, NULL), 0);
    assert_expectations();
}

/* A signal the thread blocked itself stays blocked after the unwatch. */
static int main_mask(void *arg, void **result)
{
    (void)arg;
    (void)result;
    EXPECT(blocked(SIGHUP));
    EXPECT_CODE(weft_signal_watch(SIGHUP), 0);
    EXPECT_CODE(weft_signal_unwatch(SIGHUP), 0);
    EXPECT(blocked(SIGHUP));
    EXPECT(!blocked(SIGUSR1));
    EXPECT_CODE(weft_signal_watch(SIGUSR1), 0);
    return 0;                   /* weft_run() gives SIGUSR1 up */
}

static void test_signal_mask_restored(void **state)
{
    (void)state;
    sigset_t hup;
    sigemptyset(&hup);
    sigaddset(&hup, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &hup, NULL);
    assert_code(vrun(main_mask, NULL, NULL), 0);
    assert_expectations();
    assert_true(blocked(SIGHUP));
    assert_false(blocked(SIGUSR1));
    pthread_sigmask(SIG_UNBLOCK, &hup, NULL);
}

static int waiter(void *arg, void **result)
{
    (void)arg;
    (void)result;
    int rc = weft_signal_wait();
    say("wait:%s@%s", cn(rc), at());
    return 0;
}

static int main_timeouts(void *arg, void **result)
{
    (void)arg;
    (void)result;
    EXPECT_CODE(weft_signal_watch(SIGUSR1), 0);
    weft_scope s;
    EXPECT_CODE(weft_scope_enter_timeout(&s, MS(10)), 0);
    EXPECT_CODE(weft_signal_wait(), -ETIMEDOUT);
    EXPECT_CODE(weft_scope_exit(&s), -ETIMEDOUT);   /* it expired */
    weft_task *a, *b;
    EXPECT_CODE(weft_spawn(&a, waiter, NULL, &(weft_task_opts){.name = "a"}), 0);
    EXPECT_CODE(weft_spawn(&b, waiter, NULL, &(weft_task_opts){.name = "b"}), 0);
    EXPECT_CODE(weft_sleep(MS(5)), 0);
    EXPECT_CODE(weft_task_cancel(a), 0);
    EXPECT_CODE(weft_task_join(a, NULL), 0);
    EXPECT_CODE(weft_sleep(MS(5)), 0);
    EXPECT_CODE(weft_signal_unwatch(SIGUSR1), 0);   /* wakes b */
    EXPECT_CODE(weft_task_join(b, NULL), 0);
    EXPECT_CODE(weft_task_release(a), 0);
    EXPECT_CODE(weft_task_release(b), 0);
    return 0;
}

static void test_signal_timeout_cancel_and_unwatch_wakes(void **state)
{
    (void)state;
    assert_code(vrun(main_timeouts, NULL, NULL), 0);
    assert_expectations();
    assert_log("wait:ECANCELED@15 wait:ENOENT@20");
}

/* A second loop on another thread cannot take a watched signal. */
static int main_other_loop(void *arg, void **result)
{
    (void)result;
    int *rc = arg;
    *rc = weft_signal_watch(SIGUSR1);
    EXPECT_CODE(weft_signal_watch(SIGUSR2), 0);     /* a free one is fine */
    return 0;
}

static void *other_loop(void *arg)
{
    return (void *)(intptr_t)weft_run(main_other_loop, arg, NULL);
}

static int main_owner(void *arg, void **result)
{
    (void)arg;
    (void)result;
    pthread_t t;
    int theirs = 1;
    EXPECT_CODE(weft_signal_watch(SIGUSR1), 0);
    EXPECT_CODE(pthread_create(&t, NULL, other_loop, &theirs), 0);
    void *rc;
    pthread_join(t, &rc);       /* blocks the loop briefly: fine here */
    EXPECT_CODE((intptr_t)rc, 0);
    EXPECT_CODE(theirs, -EBUSY);
    EXPECT_CODE(weft_signal_watch(SIGUSR2), 0);     /* given up by their end */
    EXPECT_CODE(weft_signal_unwatch(SIGUSR2), 0);
    EXPECT_CODE(weft_signal_unwatch(SIGUSR1), 0);
    return 0;
}

static void test_signal_one_owner_across_loops(void **state)
{
    (void)state;
    assert_code(weft_run(main_owner, NULL, NULL), 0);
    assert_expectations();
}

static int main_bad(void *arg, void **result)
{
    (void)arg;
    (void)result;
    static const int bad[] = {0, -1, SIGKILL, SIGSTOP, SIGSEGV, SIGBUS, SIGFPE, SIGILL, 65};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        EXPECT_CODE(weft_signal_watch(bad[i]), -EINVAL);
    EXPECT_CODE(weft_signal_unwatch(0), -EINVAL);
    EXPECT_CODE(weft_signal_unwatch(SIGUSR1), -ENOENT);
    return 0;
}

static void test_signal_bad_arguments(void **state)
{
    (void)state;
    assert_code(weft_signal_watch(SIGUSR1), -EPERM);
    assert_code(weft_signal_unwatch(SIGUSR1), -EPERM);
    assert_code(weft_signal_wait(), -EPERM);
    assert_code(vrun(main_bad, NULL, NULL), 0);
    assert_expectations();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_signal_from_another_thread, reset),
        cmocka_unit_test_setup(test_signal_kept_until_waited, reset),
        cmocka_unit_test_setup(test_signal_mask_restored, reset),
        cmocka_unit_test_setup(test_signal_timeout_cancel_and_unwatch_wakes, reset),
        cmocka_unit_test_setup(test_signal_one_owner_across_loops, reset),
        cmocka_unit_test_setup(test_signal_bad_arguments, reset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
