/*
 * bench_sync.c - channels and the mutex (weft/chan.h, weft/sync.h), each in
 * one weft_run() whose set-up (loop, channels, spawning the peer task and
 * its first switch) and end stay outside the timing:
 *
 *   chan          ping-pong over two unbuffered int channels: the main task
 *                 sends on `ping` and receives on `pong`, the peer receives
 *                 on `ping` and sends on `pong`. One op is one message, i.e.
 *                 one send + recv leg (a rendezvous and one task switch);
 *                 `iters` counts the messages of both directions.
 *   chan_buffered a channel of 1,024 ints: the peer task sends `iters`
 *                 values, the main task receives them; the channel fills,
 *                 the producer waits, the consumer drains it, and so on, so
 *                 the switches are amortised over the buffer. One op is one
 *                 value (its send and its receive).
 *   mutex         uncontended weft_mutex_lock() + weft_mutex_unlock() by one
 *                 task; one op is one lock/unlock pair.
 *   mutex_handoff two tasks taking turns on one mutex: each unlocks while
 *                 the other waits (FIFO hand-off: the waiter owns it when it
 *                 wakes) and locks again, waiting in turn. One op is one
 *                 hand-off, i.e. one unlock + one lock + one task switch;
 *                 `iters` counts the hand-offs of both tasks.
 */
#include <errno.h>

#include <weft/chan.h>
#include <weft/sched.h>
#include <weft/sync.h>
#include <weft/task.h>

#include "harness.h"

enum { BUFFERED_CAP = 1024 };

struct sync_run {
    uint64_t count;     /* operations the main task times */
    weft_chan *a, *b;   /* chan: ping, pong; chan_buffered: a only */
    weft_mutex mu;      /* mutex_handoff */
    volatile int stop;  /* mutex_handoff: set by main when the timing is over */
    double ns;          /* elapsed, set by main */
};

/* Spawns `fn` and yields once so that it runs up to its first wait. */
static int start_peer(weft_task **t, weft_task_fn fn, struct sync_run *r)
{
    int rc = weft_spawn(t, fn, r, NULL);
    if (rc < 0)
        return rc;
    return weft_yield();
}

/* Joins and releases the peer; returns main's rc, else the peer's. */
static int finish_peer(weft_task *t, int rc)
{
    int prc = weft_task_join(t, NULL);
    weft_task_release(t);
    return rc < 0 ? rc : prc;
}

/* Runs `main` in a loop of its own. */
static int run_loop(weft_task_fn main, struct sync_run *r)
{
    return weft_run(main, r, NULL);
}

/* --- chan: ping-pong over two unbuffered channels ----------------------- */

/* Echoes every value from `a` back on `b` until `a` is closed. */
static int echo(void *arg, void **result)
{
    struct sync_run *r = arg;
    (void)result;
    int v, rc;
    while ((rc = weft_chan_recv(r->a, &v)) == 0)
        if ((rc = weft_chan_send(r->b, &v)) < 0)
            return rc;
    return rc == -EPIPE ? 0 : rc;
}

static int chan_main(void *arg, void **result)
{
    struct sync_run *r = arg;
    weft_task *t;
    (void)result;
    int rc = start_peer(&t, echo, r); /* the peer waits in its recv */
    if (rc < 0)
        return rc;

    uint64_t t0 = bench_now_ns();
    for (uint64_t i = 0; i < r->count; i++) {
        int v = (int)i, back;
        rc |= weft_chan_send(r->a, &v);
        rc |= weft_chan_recv(r->b, &back);
    }
    uint64_t t1 = bench_now_ns();

    weft_chan_close(r->a);
    r->ns = (double)(t1 - t0);
    return finish_peer(t, rc);
}

static int run_chan(uint64_t iters, struct bench_sample *out)
{
    /* Each round is two messages: the first even count >= iters, scaled
       back to iters. */
    struct sync_run r = {.count = (iters + 1) / 2};
    int rc = weft_chan_create(&r.a, sizeof(int), 0);
    if (rc == 0)
        rc = weft_chan_create(&r.b, sizeof(int), 0);
    if (rc == 0)
        rc = run_loop(chan_main, &r);
    weft_chan_destroy(r.a);
    weft_chan_destroy(r.b);
    if (rc < 0)
        return rc;
    out->ns = r.ns * (double)iters / (double)(2 * r.count);
    return 0;
}

/* --- chan_buffered: one producer, one consumer, 1,024 slots ------------- */

static int produce(void *arg, void **result)
{
    struct sync_run *r = arg;
    (void)result;
    int rc = 0;
    for (uint64_t i = 0; i < r->count && rc == 0; i++) {
        int v = (int)i;
        rc = weft_chan_send(r->a, &v);
    }
    weft_chan_close(r->a);
    return rc;
}

static int consume_main(void *arg, void **result)
{
    struct sync_run *r = arg;
    weft_task *t;
    (void)result;
    /* The producer fills the buffer and waits before the timing starts, so
       the first 1,024 values are half moved already (their sends are not
       timed): a part of 1,024 / count, small once calibrated. */
    int rc = start_peer(&t, produce, r);
    if (rc < 0)
        return rc;

    uint64_t got = 0;
    int v;
    unsigned sum = 0;
    uint64_t t0 = bench_now_ns();
    while ((rc = weft_chan_recv(r->a, &v)) == 0)
        sum += (unsigned)v, got++;
    uint64_t t1 = bench_now_ns();

    bench_use(&sum);
    r->ns = (double)(t1 - t0);
    rc = rc == -EPIPE && got == r->count ? 0 : rc < 0 && rc != -EPIPE ? rc : -EPROTO;
    return finish_peer(t, rc);
}

static int run_chan_buffered(uint64_t iters, struct bench_sample *out)
{
    struct sync_run r = {.count = iters};
    int rc = weft_chan_create(&r.a, sizeof(int), BUFFERED_CAP);
    if (rc == 0)
        rc = run_loop(consume_main, &r);
    weft_chan_destroy(r.a);
    if (rc < 0)
        return rc;
    out->ns = r.ns;
    return 0;
}

/* --- mutex: uncontended lock + unlock ------------------------------------ */

static int mutex_main(void *arg, void **result)
{
    struct sync_run *r = arg;
    (void)result;
    weft_mutex mu = WEFT_MUTEX_INIT;
    weft_mutex *m = &mu;
    int rc = 0;

    uint64_t t0 = bench_now_ns();
    for (uint64_t i = 0; i < r->count; i++) {
        rc |= weft_mutex_lock(m);
        rc |= weft_mutex_unlock(m);
    }
    uint64_t t1 = bench_now_ns();

    r->ns = (double)(t1 - t0);
    return rc;
}

static int run_mutex(uint64_t iters, struct bench_sample *out)
{
    struct sync_run r = {.count = iters};
    int rc = run_loop(mutex_main, &r);
    if (rc < 0)
        return rc;
    out->ns = r.ns;
    return 0;
}

/* --- mutex_handoff: two tasks taking turns ------------------------------- */

/* Locks and unlocks until main says stop; every lock waits for main's
   unlock, every unlock hands the mutex to main. */
static int taker(void *arg, void **result)
{
    struct sync_run *r = arg;
    (void)result;
    for (;;) {
        int rc = weft_mutex_lock(&r->mu);
        if (rc < 0)
            return rc;
        int stop = r->stop;
        if ((rc = weft_mutex_unlock(&r->mu)) < 0)
            return rc;
        if (stop)
            return 0;
    }
}

static int handoff_main(void *arg, void **result)
{
    struct sync_run *r = arg;
    weft_task *t;
    (void)result;
    int rc = weft_mutex_lock(&r->mu);
    if (rc < 0)
        return rc;
    if ((rc = start_peer(&t, taker, r)) < 0) /* the peer waits for the lock */
        return rc;

    uint64_t t0 = bench_now_ns();
    for (uint64_t i = 0; i < r->count; i++) {
        rc |= weft_mutex_unlock(&r->mu); /* to the peer */
        rc |= weft_mutex_lock(&r->mu);   /* back when the peer unlocks */
    }
    uint64_t t1 = bench_now_ns();

    r->stop = 1;
    rc |= weft_mutex_unlock(&r->mu);
    r->ns = (double)(t1 - t0);
    return finish_peer(t, rc);
}

static int run_mutex_handoff(uint64_t iters, struct bench_sample *out)
{
    /* Each round of main is two hand-offs (to the peer and back). */
    struct sync_run r = {.count = (iters + 1) / 2, .mu = WEFT_MUTEX_INIT};
    int rc = run_loop(handoff_main, &r);
    if (rc < 0)
        return rc;
    out->ns = r.ns * (double)iters / (double)(2 * r.count);
    return 0;
}

void bench_sync_register(void)
{
    bench_register(&(struct bench){"chan", "weft", run_chan, 0, 0});
    bench_register(&(struct bench){"chan_buffered", "weft", run_chan_buffered, 0, 0});
    bench_register(&(struct bench){"mutex", "weft", run_mutex, 0, 0});
    bench_register(&(struct bench){"mutex_handoff", "weft", run_mutex_handoff, 0, 0});
}
