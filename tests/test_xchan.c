/*
 * test_xchan.c - channels, events and wait groups between loops
 * (weft/loops.h): a randomized model test with several loops (producers
 * and consumers spread over 2 and 4 loops, buffered and unbuffered, plain
 * waits, select and try calls, waits cut short by timeouts; every value arrives
 * exactly once), close waking every waiter on every loop, the event and
 * the wait group across loops, more wakes at once than a loop queues, and
 * the argument checks.
 *
 * As in test_loops.c, tasks off loop 0 run on other threads and only use
 * CHECK (atomic failure counts); the run's result is what is asserted.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <weft.h>

#include "support.h"
#include "loops_check.h"

/* A small PRNG per task (xorshift), seeded from its role. */
static uint32_t next_rand(uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

/* ------------------------------------------------------------------------ */
/* The model test                                                           */
/* ------------------------------------------------------------------------ */

enum { PRODUCERS = 6, CONSUMERS = 5, PER_PRODUCER = 400,
       VALUES = PRODUCERS * PER_PRODUCER };

struct model {
    weft_xchan *a, *b;          /* producers send on either */
    weft_xwaitgroup producing;  /* producers still sending */
    atomic_int seen[VALUES];    /* times each value was received */
    atomic_int received;        /* values received in all */
    atomic_int cancelled;       /* waits cancelled (and retried) */
    uint32_t seed;
};

struct role {
    struct model *m;
    int id;
};

static int producer(void *arg, void **result)
{
    struct role *r = arg;
    struct model *m = r->m;
    uint32_t s = m->seed * 7919u + (uint32_t)r->id + 1;
    (void)result;
    for (int i = 0; i < PER_PRODUCER; i++) {
        int v = r->id * PER_PRODUCER + i;
        weft_xchan *ch = next_rand(&s) & 1 ? m->a : m->b;
        switch (next_rand(&s) % 4) {
        case 0:                 /* try until it fits */
            while (weft_xchan_try_send(ch, &v) == -EAGAIN)
                CHECK_CODE(weft_yield(), 0);
            break;
        case 1: {               /* select on both */
            weft_xselect_case c[2] = {{.ch = m->a, .op = WEFT_SELECT_SEND, .elem = &v},
                                      {.ch = m->b, .op = WEFT_SELECT_SEND, .elem = &v}};
            int w = weft_xchan_select(c, 2, 0);
            CHECK(w == 0 || w == 1);
            CHECK_CODE(c[w < 0 ? 0 : w].result, 0);
            break;
        }
        default:
            CHECK_CODE(weft_xchan_send(ch, &v), 0);
        }
        if (next_rand(&s) % 8 == 0)
            CHECK_CODE(weft_yield(), 0);
    }
    CHECK_CODE(weft_xwaitgroup_done(&m->producing), 0);
    return 0;
}

static void got(struct model *m, int v)
{
    CHECK(v >= 0 && v < VALUES);
    if (v >= 0 && v < VALUES)
        atomic_fetch_add(&m->seen[v], 1);
    atomic_fetch_add(&m->received, 1);
}

/* A receive that a timeout scope may cut short: then nothing was taken.
   Always bounded: a consumer stuck on one channel while every producer
   waits on the other would be the test's own deadlock. */
static int recv_maybe_timed(struct model *m, weft_xchan *ch, int *v, uint32_t *s)
{
    weft_scope sc;
    weft_scope_enter(&sc, next_rand(s) % 4 ? WEFT_MSEC(1) : WEFT_USEC(20));
    int rc = weft_xchan_recv(ch, v);
    weft_scope_exit(&sc);
    if (rc == -ETIMEDOUT)
        atomic_fetch_add(&m->cancelled, 1);
    return rc;
}

static int consumer(void *arg, void **result)
{
    struct role *r = arg;
    struct model *m = r->m;
    uint32_t s = m->seed * 104729u + (uint32_t)r->id + 1;
    int open_a = 1, open_b = 1;
    (void)result;
    while (open_a || open_b) {
        int v = -1, rc;
        if (open_a && open_b && next_rand(&s) % 2) {
            weft_xselect_case c[2] = {{.ch = m->a, .op = WEFT_SELECT_RECV, .elem = &v},
                                      {.ch = m->b, .op = WEFT_SELECT_RECV, .elem = &v}};
            int w = weft_xchan_select(c, 2, 0);
            CHECK(w == 0 || w == 1);
            if (w != 0 && w != 1)
                continue;
            if (c[w].result == -EPIPE) {
                *(w ? &open_b : &open_a) = 0;
                continue;
            }
            CHECK_CODE(c[w].result, 0);
            got(m, v);
            continue;
        }
        int use_a = open_a && (!open_b || next_rand(&s) % 2);
        rc = recv_maybe_timed(m, use_a ? m->a : m->b, &v, &s);
        if (rc == -EPIPE)
            *(use_a ? &open_a : &open_b) = 0;
        else if (rc == 0)
            got(m, v);
        else
            CHECK_CODE(rc, -ETIMEDOUT);
    }
    return 0;
}

/* Closes both channels once every producer is done. */
static int closer(void *arg, void **result)
{
    struct model *m = arg;
    (void)result;
    CHECK_CODE(weft_xwaitgroup_wait(&m->producing), 0);
    CHECK_CODE(weft_xchan_close(m->a), 0);
    CHECK_CODE(weft_xchan_close(m->b), 0);
    return 0;
}

static int main_model(void *arg, void **result)
{
    struct model *m = arg;
    struct role roles[PRODUCERS + CONSUMERS];
    weft_task *ts[PRODUCERS + CONSUMERS + 1];
    int n = weft_loop_count(), k = 0;
    uint32_t s = m->seed + 99;
    (void)result;
    CHECK_CODE(weft_xwaitgroup_add(&m->producing, PRODUCERS), 0);
    for (int i = 0; i < PRODUCERS + CONSUMERS; i++) {
        roles[i] = (struct role){m, i < PRODUCERS ? i : i - PRODUCERS};
        weft_loop *at = weft_loop_at((int)(next_rand(&s) % (uint32_t)n));
        CHECK_CODE(weft_spawn_on(at, i < PRODUCERS ? producer : consumer, &roles[i], NULL,
                                 &ts[k++]), 0);
    }
    CHECK_CODE(weft_spawn_on(weft_loop_at(n - 1), closer, m, NULL, &ts[k++]), 0);
    for (int i = 0; i < k; i++) {
        CHECK_CODE(weft_task_join(ts[i], NULL), 0);
        weft_task_release(ts[i]);
    }
    return 0;
}

static void model_run(int loops, size_t cap_a, size_t cap_b, uint32_t seed)
{
    static struct model m;
    memset(&m, 0, sizeof m);
    m.seed = seed;
    assert_code(weft_xchan_create(&m.a, sizeof(int), cap_a), 0);
    assert_code(weft_xchan_create(&m.b, sizeof(int), cap_b), 0);
    assert_code(run_loops(loops, main_model, &m), 0);
    assert_checks();
    assert_int_equal(atomic_load(&m.received), VALUES);
    for (int v = 0; v < VALUES; v++)
        if (atomic_load(&m.seen[v]) != 1)
            fail_msg("value %d received %d times (loops %d, caps %zu/%zu, seed %u)", v,
                     atomic_load(&m.seen[v]), loops, cap_a, cap_b, seed);
    assert_code(weft_xchan_destroy(m.a), 0);
    assert_code(weft_xchan_destroy(m.b), 0);
}

static void test_xchan_model_2_loops(void **state)
{
    (void)state;
    model_run(2, 0, 0, 1);
    model_run(2, 1, 8, 2);
    model_run(2, 64, 0, 3);
}

static void test_xchan_model_4_loops(void **state)
{
    (void)state;
    model_run(4, 0, 3, 4);
    model_run(4, 16, 16, 5);
}

/* ------------------------------------------------------------------------ */
/* Close, event, wait group                                                 */
/* ------------------------------------------------------------------------ */

struct closing {
    weft_xchan *empty, *full;   /* receivers wait on one, senders on the other */
    weft_xwaitgroup waiting;    /* tasks not yet about to wait */
    atomic_int epipe;           /* waits that ended with -EPIPE */
    atomic_int turn;            /* even: send, odd: receive */
};

static int wait_on_close(void *arg, void **result)
{
    struct closing *c = arg;
    int v = 1;
    (void)result;
    int send = atomic_fetch_add(&c->turn, 1) % 2 == 0;
    weft_xwaitgroup_done(&c->waiting);
    int rc = send ? weft_xchan_send(c->full, &v) : weft_xchan_recv(c->empty, &v);
    CHECK_CODE(rc, -EPIPE);
    if (rc == -EPIPE)
        atomic_fetch_add(&c->epipe, 1);
    return 0;
}

static int main_close(void *arg, void **result)
{
    struct closing *c = arg;
    enum { PER_LOOP = 6 };
    int n = weft_loop_count(), v = 0;
    (void)result;
    CHECK_CODE(weft_xchan_try_send(c->full, &v), 0);
    CHECK_CODE(weft_xchan_try_send(c->full, &v), -EAGAIN);
    CHECK_CODE(weft_xwaitgroup_add(&c->waiting, n * PER_LOOP), 0);
    for (int i = 0; i < n; i++)
        for (int j = 0; j < PER_LOOP; j++)
            CHECK_CODE(weft_spawn_on(weft_loop_at(i), wait_on_close, c, NULL, NULL), 0);
    CHECK_CODE(weft_xwaitgroup_wait(&c->waiting), 0);
    CHECK_CODE(weft_sleep(WEFT_MSEC(20)), 0);   /* let them reach their waits */
    CHECK_CODE(weft_xchan_close(c->empty), 0);
    CHECK_CODE(weft_xchan_close(c->full), 0);
    CHECK_CODE(weft_xchan_close(c->full), -EALREADY);
    return 0;
}

static void test_xchan_close_wakes_every_loop(void **state)
{
    (void)state;
    for (int n = 2; n <= 4; n += 2) {
        static struct closing c;
        memset(&c, 0, sizeof c);
        assert_code(weft_xchan_create(&c.empty, sizeof(int), 0), 0);
        assert_code(weft_xchan_create(&c.full, sizeof(int), 1), 0);
        assert_code(run_loops(n, main_close, &c), 0);
        assert_checks();
        assert_int_equal(atomic_load(&c.epipe), n * 6);
        int v;
        assert_code(weft_xchan_try_recv(c.full, &v), 0);  /* drains, then EPIPE */
        assert_code(weft_xchan_try_recv(c.full, &v), -EPIPE);
        assert_code(weft_xchan_destroy(c.empty), 0);
        assert_code(weft_xchan_destroy(c.full), 0);
    }
}

struct evt {
    weft_xevent go;
    weft_xwaitgroup started, finished;
    atomic_int woke, cancelled;
};

static int evt_waiter(void *arg, void **result)
{
    struct evt *e = arg;
    (void)result;
    CHECK_CODE(weft_xwaitgroup_done(&e->started), 0);
    int rc = weft_xevent_wait(&e->go);
    if (rc == 0)
        atomic_fetch_add(&e->woke, 1);
    else if (rc == -ECANCELED)
        atomic_fetch_add(&e->cancelled, 1);
    else
        CHECK_CODE(rc, 0);
    CHECK_CODE(weft_xwaitgroup_done(&e->finished), 0);
    return rc;
}

static int main_event(void *arg, void **result)
{
    struct evt *e = arg;
    int n = weft_loop_count();
    weft_task *victim;
    (void)result;
    CHECK_CODE(weft_xevent_is_set(&e->go), 0);
    CHECK_CODE(weft_xwaitgroup_add(&e->started, 3 * n), 0);
    CHECK_CODE(weft_xwaitgroup_add(&e->finished, 3 * n), 0);
    CHECK_CODE(weft_spawn_on(weft_loop_at(n - 1), evt_waiter, e, NULL, &victim), 0);
    for (int i = 0; i < 3 * n - 1; i++)
        CHECK_CODE(weft_spawn_on(weft_loop_at(i % n), evt_waiter, e, NULL, NULL), 0);
    CHECK_CODE(weft_xwaitgroup_wait(&e->started), 0);
    CHECK_CODE(weft_sleep(WEFT_MSEC(10)), 0);
    CHECK_CODE(weft_task_cancel(victim), 0);
    CHECK_CODE(weft_task_join(victim, NULL), -ECANCELED);
    weft_task_release(victim);
    CHECK_CODE(weft_xevent_set(&e->go), 0);
    CHECK_CODE(weft_xwaitgroup_wait(&e->finished), 0);
    CHECK_CODE(weft_xevent_wait(&e->go), 0);
    CHECK_CODE(weft_xevent_clear(&e->go), 0);
    CHECK_CODE(weft_xevent_is_set(&e->go), 0);
    CHECK_CODE(weft_xwaitgroup_add(&e->finished, -1), -EINVAL);
    CHECK_CODE(weft_xwaitgroup_add(&e->finished, INT64_MAX), 0);
    CHECK_CODE(weft_xwaitgroup_add(&e->finished, 1), -EOVERFLOW);
    CHECK_CODE(weft_xwaitgroup_add(&e->finished, -INT64_MAX), 0);
    return 0;
}

static void test_xchan_event_and_waitgroup(void **state)
{
    (void)state;
    for (int n = 2; n <= 4; n += 2) {
        static struct evt e;
        memset(&e, 0, sizeof e);
        assert_code(run_loops(n, main_event, &e), 0);
        assert_checks();
        assert_int_equal(atomic_load(&e.woke), 3 * n - 1);
        assert_int_equal(atomic_load(&e.cancelled), 1);
    }
}

/* More cross-loop wakes than a loop queues between two looks (1,024):
   loop 1 is held busy by one task while loop 0 sets the event its 1,100
   waiters wait on, so every wake queues; none may be lost. */
enum { FLOOD = 1100 };

struct flood {
    weft_xevent go;
    weft_xwaitgroup parked, finished;
    atomic_int holding, released, woke;
};

static int flood_waiter(void *arg, void **result)
{
    struct flood *f = arg;
    (void)result;
    CHECK_CODE(weft_xwaitgroup_done(&f->parked), 0);
    CHECK_CODE(weft_xevent_wait(&f->go), 0);
    atomic_fetch_add(&f->woke, 1);
    CHECK_CODE(weft_xwaitgroup_done(&f->finished), 0);
    return 0;
}

/* On loop 1: starts the waiters, lets them park, then keeps its loop busy
   (no look at its queue) until loop 0 has set the event. */
static int flood_holder(void *arg, void **result)
{
    struct flood *f = arg;
    (void)result;
    for (int i = 0; i < FLOOD; i++)
        CHECK_CODE(weft_spawn(NULL, flood_waiter, f, NULL), 0);
    CHECK_CODE(weft_xwaitgroup_wait(&f->parked), 0);
    atomic_store(&f->holding, 1);
    while (!atomic_load(&f->released))
        ;
    return 0;
}

static int main_flood(void *arg, void **result)
{
    struct flood *f = arg;
    (void)result;
    CHECK_CODE(weft_xwaitgroup_add(&f->parked, FLOOD), 0);
    CHECK_CODE(weft_xwaitgroup_add(&f->finished, FLOOD), 0);
    CHECK_CODE(weft_spawn_on(weft_loop_at(1), flood_holder, f, NULL, NULL), 0);
    while (!atomic_load(&f->holding))
        CHECK_CODE(weft_yield(), 0);
    CHECK_CODE(weft_xevent_set(&f->go), 0);
    atomic_store(&f->released, 1);
    CHECK_CODE(weft_xwaitgroup_wait(&f->finished), 0);
    return 0;
}

static void test_xchan_event_wakes_past_the_queue(void **state)
{
    static struct flood f;
    (void)state;
    assert_code(run_loops(2, main_flood, &f), 0);
    assert_checks();
    assert_int_equal(atomic_load(&f.woke), FLOOD);
}

/* One loop, as a plain channel; the argument checks. */
static int main_single(void *arg, void **result)
{
    weft_xchan *ch = arg;
    int v = 5, w = 0;
    (void)result;
    weft_xselect_case c[2] = {{.ch = ch, .op = WEFT_SELECT_RECV, .elem = &w},
                              {.ch = NULL, .op = WEFT_SELECT_RECV, .elem = &w}};
    CHECK_CODE(weft_xchan_select(c, 2, WEFT_SELECT_NOWAIT), -EAGAIN);
    CHECK_CODE(weft_xchan_select(c, 2, 8), -EINVAL);
    CHECK_CODE(weft_xchan_select(c, WEFT_XSELECT_MAX + 1, 0), -EINVAL);
    CHECK_CODE(weft_xchan_try_recv(ch, &w), -EAGAIN);
    CHECK_CODE(weft_xchan_send(ch, &v), 0);
    CHECK_CODE(weft_xchan_len(ch), 1);
    CHECK_CODE(weft_xchan_select(c, 2, 0), 0);
    CHECK_CODE(c[0].result, 0);
    CHECK_CODE(w, 5);
    weft_scope sc;
    weft_scope_enter(&sc, WEFT_MSEC(5));
    CHECK_CODE(weft_xchan_recv(ch, &w), -ETIMEDOUT);
    CHECK_CODE(weft_xchan_select(c, 2, 0), -ETIMEDOUT);
    weft_scope_exit(&sc);
    return 0;
}

static void test_xchan_single_loop_and_args(void **state)
{
    (void)state;
    weft_xchan *ch;
    int v = 0;
    assert_code(weft_xchan_create(NULL, 4, 1), -EINVAL);
    assert_code(weft_xchan_create(&ch, 0, 1), -EINVAL);
    assert_code(weft_xchan_create(&ch, 4, SIZE_MAX / 2), -EINVAL);
    assert_code(weft_xchan_create(&ch, sizeof(int), 1), 0);
    assert_code(weft_xchan_send(NULL, &v), -EINVAL);
    assert_code(weft_xchan_recv(ch, NULL), -EINVAL);
    assert_code(weft_xchan_recv(ch, &v), -EPERM);
    assert_code(vrun(main_single, ch, NULL), 0);
    assert_checks();
    assert_code(weft_xchan_cap(ch), 1);
    assert_code(weft_xchan_destroy(ch), 0);
    assert_code(weft_xchan_destroy(NULL), -EINVAL);
    assert_code(weft_xevent_set(NULL), -EINVAL);
    assert_code(weft_xevent_wait(&(weft_xevent)WEFT_XEVENT_INIT), -EPERM);
    assert_code(weft_xwaitgroup_wait(&(weft_xwaitgroup)WEFT_XWAITGROUP_INIT), -EPERM);
}

/* A plain thread (no loop) sends with try_send and sets an event: the
   waiting task on the loop wakes. */
struct plain {
    weft_xchan *ch;
    weft_xevent done;
};

static void *plain_sender(void *arg)
{
    struct plain *p = arg;
    for (int i = 0; i < 100; i++)
        while (weft_xchan_try_send(p->ch, &i) == -EAGAIN)
            usleep(100);
    CHECK_CODE(weft_xevent_set(&p->done), 0);
    CHECK_CODE(weft_xchan_close(p->ch), 0);
    return NULL;
}

static int main_plain(void *arg, void **result)
{
    struct plain *p = arg;
    int v, n = 0, rc;
    (void)result;
    while ((rc = weft_xchan_recv(p->ch, &v)) == 0)
        CHECK_CODE(v, n++);
    CHECK_CODE(rc, -EPIPE);
    CHECK_CODE(n, 100);
    CHECK_CODE(weft_xevent_wait(&p->done), 0);
    return 0;
}

static void test_xchan_from_a_plain_thread(void **state)
{
    (void)state;
    static struct plain p;
    pthread_t th;
    p.done = (weft_xevent)WEFT_XEVENT_INIT;
    assert_code(weft_xchan_create(&p.ch, sizeof(int), 0), 0);
    assert_int_equal(pthread_create(&th, NULL, plain_sender, &p), 0);
    assert_code(weft_run(main_plain, &p, NULL), 0);
    pthread_join(th, NULL);
    assert_checks();
    assert_code(weft_xchan_destroy(p.ch), 0);
}

#define TEST(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEST(test_xchan_model_2_loops),
        TEST(test_xchan_model_4_loops),
        TEST(test_xchan_close_wakes_every_loop),
        TEST(test_xchan_event_and_waitgroup),
        TEST(test_xchan_event_wakes_past_the_queue),
        TEST(test_xchan_single_loop_and_args),
        TEST(test_xchan_from_a_plain_thread),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
