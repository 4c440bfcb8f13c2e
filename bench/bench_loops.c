/*
 * bench_loops.c - several loops (weft/loops.h), each loop on its own
 * thread, pinned to CPU i (weft_loop_opts.pin); the set-up of the loops
 * stays outside the timing:
 *
 *   cores       a CPU-bound job split into 10,000 tasks (each about 20,000
 *               steps of an integer hash) that main spreads round-robin
 *               over the loops with weft_spawn_on() and then joins, one row
 *               with "loops":1 (every task on main's loop) and one with
 *               "loops":2. One op is one task; compare the rows' times.
 *   chan_cross  one int through a 1,024-slot weft_xchan from a task on loop
 *               1 to main on loop 0 (two loops, two CPUs): the producer
 *               sends `iters` values and closes, main receives until
 *               -EPIPE. One op is one value; compare with chan_buffered
 *               (the same on one loop, with a weft_chan).
 *   spawn_on    weft_spawn_on() of a task that returns at once on loop 1,
 *               from main on loop 0, in batches of 1,000 spawned and then
 *               joined and released; one op is one task.
 *
 * The echo rows with "loops":2 are in bench_io.c; their server is
 * bench_loops_echo_serve() below.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>

#include <weft.h>

#include "harness.h"

enum { CORES_TASKS = 10000, CORES_STEPS = 20000, BATCH = 1000, XCAP = 1024 };

struct loops_run {
    uint64_t iters;             /* operations */
    weft_xchan *ch;             /* chan_cross */
    weft_xevent go;             /* chan_cross: the producer may start */
    double ns;                  /* elapsed, set by main */
    uint64_t sum;               /* keeps the work */
};

static int run_with(int loops, weft_task_fn main, struct loops_run *r)
{
    return weft_run_opts(main, r, NULL, &(weft_loop_opts){.loops = loops, .pin = 1});
}

/* --- cores -------------------------------------------------------------- */

static int crunch(void *arg, void **result)
{
    uint64_t x = (uint64_t)(uintptr_t)arg | 1;
    for (int i = 0; i < CORES_STEPS; i++)
        x = x * 6364136223846793005ull + 1442695040888963407ull, x ^= x >> 29;
    *result = (void *)(uintptr_t)x;
    return 0;
}

static int cores_main(void *arg, void **result)
{
    struct loops_run *r = arg;
    weft_task **ts = malloc(r->iters * sizeof *ts);
    int n = weft_loop_count(), rc = 0;
    (void)result;
    if (!ts)
        return -ENOMEM;
    uint64_t t0 = bench_now_ns();
    for (uint64_t i = 0; i < r->iters && rc == 0; i++)
        rc = weft_spawn_on(weft_loop_at((int)(i % (uint64_t)n)), crunch, (void *)(uintptr_t)i,
                           NULL, &ts[i]);
    for (uint64_t i = 0; i < r->iters && rc == 0; i++) {
        void *v;
        rc = weft_task_join(ts[i], &v);
        r->sum += (uint64_t)(uintptr_t)v;
        weft_task_release(ts[i]);
    }
    r->ns = (double)(bench_now_ns() - t0);
    free(ts);
    return rc;
}

static int run_cores(int loops, uint64_t iters, struct bench_sample *out)
{
    struct loops_run r = {.iters = iters};
    int rc = run_with(loops, cores_main, &r);
    bench_use(&r.sum);
    out->ns = r.ns;
    bench_sample_set(out, "loops", loops);
    return rc;
}

static int run_cores_1(uint64_t iters, struct bench_sample *out)
{
    return run_cores(1, iters, out);
}

static int run_cores_2(uint64_t iters, struct bench_sample *out)
{
    return run_cores(2, iters, out);
}

/* --- chan_cross --------------------------------------------------------- */

static int producer(void *arg, void **result)
{
    struct loops_run *r = arg;
    int rc = weft_xevent_wait(&r->go);
    (void)result;
    for (uint64_t i = 0; i < r->iters && rc == 0; i++) {
        int v = (int)i;
        rc = weft_xchan_send(r->ch, &v);
    }
    weft_xchan_close(r->ch);
    return rc;
}

static int chan_cross_main(void *arg, void **result)
{
    struct loops_run *r = arg;
    weft_task *t;
    int v, rc;
    uint64_t got = 0;
    (void)result;
    if ((rc = weft_spawn_on(weft_loop_at(1), producer, r, NULL, &t)) < 0)
        return rc;
    uint64_t t0 = bench_now_ns();
    weft_xevent_set(&r->go);
    while ((rc = weft_xchan_recv(r->ch, &v)) == 0)
        got++;
    r->ns = (double)(bench_now_ns() - t0);
    int prc = weft_task_join(t, NULL);
    weft_task_release(t);
    return rc != -EPIPE ? rc : prc < 0 ? prc : got == r->iters ? 0 : -EPROTO;
}

static int run_chan_cross(uint64_t iters, struct bench_sample *out)
{
    struct loops_run r = {.iters = iters};
    int rc = weft_xchan_create(&r.ch, sizeof(int), XCAP);
    if (rc == 0)
        rc = run_with(2, chan_cross_main, &r);
    weft_xchan_destroy(r.ch);
    out->ns = r.ns;
    bench_sample_set(out, "loops", 2);
    return rc;
}

/* --- spawn_on ----------------------------------------------------------- */

static int empty(void *arg, void **result)
{
    (void)arg;
    (void)result;
    return 0;
}

static int spawn_on_main(void *arg, void **result)
{
    struct loops_run *r = arg;
    weft_task *ts[BATCH];
    weft_loop *far = weft_loop_at(1);
    int rc = 0;
    (void)result;
    uint64_t t0 = bench_now_ns();
    for (uint64_t done = 0; done < r->iters && rc == 0; done += BATCH) {
        for (int i = 0; i < BATCH && rc == 0; i++)
            rc = weft_spawn_on(far, empty, NULL, NULL, &ts[i]);
        for (int i = 0; i < BATCH; i++) {
            int jrc = weft_task_join(ts[i], NULL);
            rc = rc ? rc : jrc;
            weft_task_release(ts[i]);
        }
    }
    r->ns = (double)(bench_now_ns() - t0);
    return rc;
}

static int run_spawn_on(uint64_t iters, struct bench_sample *out)
{
    struct loops_run r = {.iters = (iters + BATCH - 1) / BATCH * BATCH};
    int rc = run_with(2, spawn_on_main, &r);
    out->ns = r.ns * (double)iters / (double)r.iters;
    bench_sample_set(out, "loops", 2);
    bench_sample_set(out, "batch", BATCH);
    return rc;
}

/* --- the echo server with two loops ------------------------------------- */

/* Accepts on *arg (loop 0: the given socket; the others: their own
   SO_REUSEPORT socket on its port) forever. */
static int echo_accept(void *arg, void **result)
{
    int lfd = *(int *)arg;
    (void)result;
    if (weft_loop_index() != 0) {
        struct sockaddr_in a;
        socklen_t alen = sizeof a;
        if (getsockname(lfd, (struct sockaddr *)&a, &alen) < 0)
            return -errno;
        lfd = weft_tcp_listen_flags("127.0.0.1", ntohs(a.sin_port), 4096, WEFT_TCP_REUSEPORT);
        if (lfd < 0)
            return lfd;
    }
    return bench_weft_accept_loop(lfd);
}

static int echo_loops_main(void *arg, void **result)
{
    (void)result;
    for (int i = 1; i < weft_loop_count(); i++)
        if (weft_spawn_on(weft_loop_at(i), echo_accept, arg, NULL, NULL) < 0)
            return -ENOMEM;
    return echo_accept(arg, NULL);
}

int bench_loops_echo_serve(int lfd)
{
    return weft_run_opts(echo_loops_main, &lfd, NULL, &(weft_loop_opts){.loops = 2});
}

void bench_loops_register(void)
{
    bench_register(&(struct bench){"cores", "weft", run_cores_1, CORES_TASKS, 0});
    bench_register(&(struct bench){"cores", "weft", run_cores_2, CORES_TASKS, 0});
    bench_register(&(struct bench){"chan_cross", "weft", run_chan_cross, 0, 0});
    bench_register(&(struct bench){"spawn_on", "weft", run_spawn_on, 0, 0});
}
