/*
 * loops_check.h - what the tests of several loops share (test_loops.c,
 * test_xchan.c): CHECK / CHECK_CODE, which tasks on any thread may use
 * (they count failures in an atomic and keep the first line, instead of
 * touching cmocka or the EXPECT state), the cmocka setup and teardown, and
 * run_loops(). Included once per test program.
 */
#ifndef WEFT_TESTS_LOOPS_CHECK_H
#define WEFT_TESTS_LOOPS_CHECK_H

#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <unistd.h>

#include <cmocka.h>

#include <weft.h>

#include "support.h"

static atomic_int failures_;
static atomic_int first_line_;

/* EXPECT_CODE for any thread. */
#define CHECK_CODE(expr, want)                                              \
    do {                                                                    \
        long got_ = (long)(expr);                                           \
        if (got_ != (long)(want)) {                                         \
            int zero_ = 0;                                                  \
            atomic_compare_exchange_strong(&first_line_, &zero_, __LINE__); \
            atomic_fetch_add(&failures_, 1);                                \
        }                                                                   \
    } while (0)
#define CHECK(cond) CHECK_CODE(!!(cond), 1)

static int setup(void **state)
{
    alarm(120);
    atomic_store(&failures_, 0);
    atomic_store(&first_line_, 0);
    return reset(state);
}

static int teardown(void **state)
{
    (void)state;
    alarm(0);
    return 0;
}

static void assert_checks(void)
{
    if (atomic_load(&failures_))
        fail_msg("%d checks failed, the first at line %d", atomic_load(&failures_),
                 atomic_load(&first_line_));
}

static int run_loops(int loops, weft_task_fn fn, void *arg)
{
    return weft_run_opts(fn, arg, NULL, &(weft_loop_opts){.loops = loops});
}

#endif
