/*
 * support.h - the recording and checking helpers the weft tests share
 * (support.c holds the functions and the state).
 *
 * cmocka's assertions longjmp to the runner, which must never happen from a
 * coroutine's or task's stack. Bodies only record: say() appends an event to
 * `logbuf` (compared whole afterwards with assert_log), EXPECT* keep the
 * first failed check, which assert_expectations() reports on the thread's
 * own stack. reset() is the cmocka setup that clears both.
 *
 * Everything time-dependent runs under vrun(), on the virtual clock, which
 * starts at 0 in each run; at() and EXPECT_NOW read that clock.
 */
#ifndef WEFT_TESTS_SUPPORT_H
#define WEFT_TESTS_SUPPORT_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <weft.h>

#define MS(n) WEFT_MSEC(n)
#define P(n) ((void *)(intptr_t)(n)) /* an integer passed as a value */
#define N(p) ((intptr_t)(p))         /* and back */

/* ------------------------------------------------------------------------ */
/* Recording from inside tasks                                              */
/* ------------------------------------------------------------------------ */

extern char logbuf[16384];        /* events separated by single spaces */
extern size_t loglen;             /* strlen(logbuf) */
extern char expect_first[512];    /* the first failed EXPECT */
extern int expect_failed;         /* how many EXPECTs failed */

/* Appends one event to logbuf, after a space unless it is the first. */
void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The loop's clock as text: whole milliseconds as "12", else "12000001ns". */
const char *at(void);

/* A return code as text: "0", "ECANCELED", "ETIMEDOUT", ... */
const char *cn(int rc);

/* Keeps the first failed check (as "file:line: message") and counts all. */
void expect_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define EXPECT(cond)                                                        \
    do {                                                                    \
        if (!(cond))                                                        \
            expect_fail(__FILE__, __LINE__, "%s", #cond);                   \
    } while (0)
#define EXPECT_CODE(expr, want)                                             \
    do {                                                                    \
        long got_ = (long)(expr), want_ = (long)(want);                     \
        if (got_ != want_)                                                  \
            expect_fail(__FILE__, __LINE__, "%s is %ld (%s), expected %ld (%s)", \
                        #expr, got_, cn((int)got_), want_, cn((int)want_)); \
    } while (0)
#define EXPECT_NOW(ns) EXPECT_CODE(weft_now(), (ns))

/* Fails the test if a check inside a task or coroutine failed. */
void assert_expectations(void);

/* assert_int_equal prints negative codes as huge hex numbers; this does not. */
#define assert_code(expr, want)                                             \
    do {                                                                    \
        long got_ = (long)(expr), want_ = (long)(want);                     \
        if (got_ != want_)                                                  \
            fail_msg("%s is %ld (%s), expected %ld (%s)", #expr, got_,      \
                     cn((int)got_), want_, cn((int)want_));                 \
    } while (0)

#define assert_log(want) assert_string_equal(logbuf, (want))

/* cmocka setup: empties the log and forgets failed EXPECTs. */
int reset(void **state);

/* Runs `fn` as main under the virtual clock. */
int vrun(weft_task_fn fn, void *arg, void **result);

/* ------------------------------------------------------------------------ */
/* Task bodies shared by the tests                                          */
/* ------------------------------------------------------------------------ */

/* What a job does: sleep `ms`, store `value`, return `code`; if cancelled,
   spend `cleanup_ms` shielded before returning -ECANCELED. */
struct job {
    const char *name;
    int64_t ms;
    int code;
    intptr_t value;
    int64_t cleanup_ms;
};

/* A task running the struct job its argument points to. */
int task_job(void *arg, void **result);

/*
 * After a cancelled wait: proves the waiter is off whatever it waited on.
 * Shielded from the task's cancellation, it sleeps 100 ms; anything that
 * still held the old wait and woke the task would end the sleep early.
 */
void shielded_sleep_100(void);

#endif
