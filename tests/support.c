/*
 * support.c - the recording and checking helpers the weft tests share; see
 * support.h.
 */
#include <errno.h>
#include <stdio.h>

#include "support.h"

char logbuf[16384];
size_t loglen;
char expect_first[512];
int expect_failed;

void say(const char *fmt, ...)
{
    va_list ap;
    if (loglen + 2 >= sizeof logbuf)
        return;
    if (loglen)
        logbuf[loglen++] = ' ';
    va_start(ap, fmt);
    int n = vsnprintf(logbuf + loglen, sizeof logbuf - loglen, fmt, ap);
    va_end(ap);
    if (n > 0)
        loglen += (size_t)n < sizeof logbuf - loglen ? (size_t)n : sizeof logbuf - loglen - 1;
}

const char *at(void)
{
    static char buf[4][32];
    static int next;
    char *b = buf[next++ & 3];
    int64_t t = weft_now();
    if (t % WEFT_MSEC(1) == 0)
        snprintf(b, sizeof buf[0], "%lld", (long long)(t / WEFT_MSEC(1)));
    else
        snprintf(b, sizeof buf[0], "%lldns", (long long)t);
    return b;
}

const char *cn(int rc)
{
    static char buf[4][16];
    static int next;
    switch (rc) {
    case 0: return "0";
    case 1: return "1";
    case -EINVAL: return "EINVAL";
    case -EPERM: return "EPERM";
    case -EALREADY: return "EALREADY";
    case -EAGAIN: return "EAGAIN";
    case -EDEADLK: return "EDEADLK";
    case -EBUSY: return "EBUSY";
    case -ECANCELED: return "ECANCELED";
    case -ETIMEDOUT: return "ETIMEDOUT";
    case -EIO: return "EIO";
    case -ENOENT: return "ENOENT";
    case -EPIPE: return "EPIPE";
    case -EINTR: return "EINTR";
    case -ENOMEM: return "ENOMEM";
    default: break;
    }
    char *b = buf[next++ & 3];
    snprintf(b, sizeof buf[0], "%d", rc);
    return b;
}

void expect_fail(const char *file, int line, const char *fmt, ...)
{
    if (expect_failed++ == 0) {
        va_list ap;
        int n = snprintf(expect_first, sizeof expect_first, "%s:%d: ", file, line);
        va_start(ap, fmt);
        vsnprintf(expect_first + n, sizeof expect_first - (size_t)n, fmt, ap);
        va_end(ap);
    }
}

void assert_expectations(void)
{
    if (expect_failed) {
        int n = expect_failed;
        expect_failed = 0;
        fail_msg("%d check(s) failed inside tasks or coroutines; first: %s", n,
                 expect_first);
    }
}

int reset(void **state)
{
    (void)state;
    logbuf[0] = '\0';
    loglen = 0;
    expect_failed = 0;
    return 0;
}

int vrun(weft_task_fn fn, void *arg, void **result)
{
    return weft_run_opts(fn, arg, result, &(weft_loop_opts){.virtual_clock = 1});
}

int task_job(void *arg, void **result)
{
    const struct job *j = arg;
    int rc = weft_sleep(MS(j->ms));
    say("%s:%s@%s", j->name, cn(rc), at());
    if (rc) {
        if (j->cleanup_ms) {
            weft_scope s;
            EXPECT_CODE(weft_scope_enter(&s, WEFT_FOREVER), 0);
            EXPECT_CODE(weft_scope_shield(&s, 1), 0);
            EXPECT_CODE(weft_sleep(MS(j->cleanup_ms)), 0);
            EXPECT_CODE(weft_scope_exit(&s), 0);
            say("%s-cleaned@%s", j->name, at());
        }
        return rc;
    }
    *result = P(j->value);
    return j->code;
}

void shielded_sleep_100(void)
{
    weft_scope s;
    EXPECT_CODE(weft_scope_enter(&s, WEFT_FOREVER), 0);
    EXPECT_CODE(weft_scope_shield(&s, 1), 0);
    int rc = weft_sleep(MS(100));
    say("shielded:%s@%s", cn(rc), at());
    EXPECT_CODE(weft_scope_exit(&s), 0);
}
