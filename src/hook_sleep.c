/*
 * hook_sleep.c - the sleep family of weft/hook.h: sleep, usleep,
 * nanosleep, clock_nanosleep (relative and TIMER_ABSTIME).
 *
 * In a task each becomes a park until a loop time (weft__park), so it
 * honours cancellation and timeout scopes and runs on the virtual clock
 * in tests. An absolute time on a wall or monotonic clock is turned into
 * a length on that clock now, then slept on the loop's clock. What was
 * not slept goes back to the caller as the real calls give it after a
 * signal (rem, sleep's return value).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <time.h>
#include <unistd.h>

#include "hook_internal.h"

/* Referred to by weft_hook_enable(): pulls this file into a static link. */
const char weft__hook_sleep_linked = 1;

/* Sleeps `ns` in task `self`; 0, or -ECANCELED / -ETIMEDOUT with *left
   (if not NULL) set to the time not slept. */
static int nap(struct weft_task *self, int64_t ns, int64_t *left)
{
    struct weft__loop *L = self->loop;
    int64_t until = weft__after(weft__now(L), ns);
    int rc = ns > 0 ? weft__park(self, until) : weft_yield();
    if (left) {
        int64_t now = weft__now(L);
        *left = rc < 0 && until > now ? until - now : 0;
    }
    return rc;
}

static int64_t ts_ns(const struct timespec *ts)
{
    if (ts->tv_sec >= WEFT_FOREVER / 1000000000 - 1)
        return WEFT_FOREVER;
    return (int64_t)ts->tv_sec * 1000000000 + ts->tv_nsec;
}

static void set_ts(struct timespec *ts, int64_t ns)
{
    if (ts)
        *ts = (struct timespec){(time_t)(ns / 1000000000), (long)(ns % 1000000000)};
}

int nanosleep(const struct timespec *req, struct timespec *rem)
{
    struct weft_task *self = weft__hook_task();
    if (!self || !req || req->tv_sec < 0 || req->tv_nsec < 0 || req->tv_nsec >= 1000000000)
        return WEFT__REAL(nanosleep)(req, rem);
    int saved = errno;
    int64_t left;
    int rc = nap(self, ts_ns(req), &left);
    if (rc < 0)
        set_ts(rem, left);
    return (int)weft__hook_ret(rc, saved);
}

/* The clocks a task may sleep on; the CPU-time clocks are the kernel's. */
static int wall_or_monotonic(clockid_t clock)
{
    return clock == CLOCK_REALTIME || clock == CLOCK_MONOTONIC || clock == CLOCK_BOOTTIME ||
           clock == CLOCK_TAI;
}

int clock_nanosleep(clockid_t clock, int flags, const struct timespec *req,
                    struct timespec *rem)
{
    struct weft_task *self = weft__hook_task();
    if (!self || !req || !wall_or_monotonic(clock) || req->tv_sec < 0 || req->tv_nsec < 0 ||
        req->tv_nsec >= 1000000000 || (flags & ~TIMER_ABSTIME))
        return WEFT__REAL(clock_nanosleep)(clock, flags, req, rem);
    int64_t ns = ts_ns(req), left;
    if (flags & TIMER_ABSTIME) {
        struct timespec now;
        if (clock_gettime(clock, &now) < 0)
            return errno;
        int64_t n = ts_ns(&now);
        ns = ns == WEFT_FOREVER ? ns : ns > n ? ns - n : 0;
    }
    int saved = errno;
    int rc = nap(self, ns, &left);
    errno = saved;              /* clock_nanosleep returns its error */
    if (rc < 0 && !(flags & TIMER_ABSTIME))
        set_ts(rem, left);
    return rc < 0 ? -rc : 0;
}

unsigned sleep(unsigned seconds)
{
    struct weft_task *self = weft__hook_task();
    if (!self)
        return WEFT__REAL(sleep)(seconds);
    int saved = errno;
    int64_t left;
    int rc = nap(self, (int64_t)seconds * 1000000000, &left);
    if (rc == 0) {
        errno = saved;
        return 0;
    }
    errno = -rc;                /* sleep has no error: it says what is left */
    return (unsigned)((left + 999999999) / 1000000000);
}

int usleep(useconds_t usec)
{
    struct weft_task *self = weft__hook_task();
    if (!self)
        return WEFT__REAL(usleep)(usec);
    int saved = errno;
    return (int)weft__hook_ret(nap(self, (int64_t)usec * 1000, NULL), saved);
}
