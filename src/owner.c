/*
 * owner.c - which loop a loop-local object belongs to: loop serials and
 * the -EXDEV check (weft__owned() in loop.h).
 *
 * A loop-local object (weft_mutex, weft_sem, weft_event, weft_cond,
 * weft_waitgroup, weft_chan) records the serial of the first loop that
 * uses it. The check on each call compares that with this thread's
 * serial: one thread-local load and one compare on the fast path. Only
 * when they differ does it come here: a new object (0) or one whose loop
 * has ended (a static object reused by a later weft_run(), on any thread)
 * is taken over by this loop; one whose loop still runs is another
 * loop's, and the call returns -EXDEV without touching it.
 *
 * Serials count up from 1 and are never reused; the serials of the loops
 * running now sit in `live`, under a mutex (taken at a loop's start and
 * end, and on the slow path only).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "loop.h"

__thread uint64_t weft__serial __attribute__((tls_model("initial-exec")));

static pthread_mutex_t live_mu = PTHREAD_MUTEX_INITIALIZER;
static uint64_t *live;          /* serials of the running loops, unordered */
static size_t nlive, caplive;   /* used and allocated entries */
static uint64_t last_serial;    /* the last serial given out */

void weft__serial_begin(struct weft__loop *L)
{
    pthread_mutex_lock(&live_mu);
    uint64_t s = ++last_serial;
    if (nlive == caplive) {
        size_t cap = caplive ? 2 * caplive : 16;
        uint64_t *l = realloc(live, cap * sizeof *l);
        if (l) {
            live = l;
            caplive = cap;
        }
    }
    if (nlive < caplive)
        live[nlive++] = s;      /* without room it stays unknown: objects
                                   it owns may be taken over (no -EXDEV) */
    pthread_mutex_unlock(&live_mu);
    weft__serial = L->serial = s;
}

void weft__serial_end(void)
{
    pthread_mutex_lock(&live_mu);
    for (size_t i = 0; i < nlive; i++) {
        if (live[i] == weft__serial) {
            live[i] = live[--nlive];
            break;
        }
    }
    if (!nlive) {               /* nothing runs: give the memory back */
        free(live);
        live = NULL;
        caplive = 0;
    }
    pthread_mutex_unlock(&live_mu);
    weft__serial = 0;
}

static int alive(uint64_t s)
{
    int found = 0;
    pthread_mutex_lock(&live_mu);
    for (size_t i = 0; i < nlive && !found; i++)
        found = live[i] == s;
    pthread_mutex_unlock(&live_mu);
    return found;
}

int weft__owned_slow(uint64_t *owner)
{
    uint64_t me = weft__serial, was = __atomic_load_n(owner, __ATOMIC_RELAXED);
    if (!me)
        return 0;               /* no loop here: not a task of another loop */
    if (was && alive(was))
        return -EXDEV;
    __atomic_store_n(owner, me, __ATOMIC_RELAXED);
    return 0;
}
