/*
 * test_chan.c - channels and select (include/weft/chan.h) under the virtual
 * clock: every documented return code, the unbuffered rendezvous and the
 * buffered ring, FIFO service of senders and receivers, close with drain,
 * cancellation and timeout while waiting (nothing moved, the waiter gone
 * from the queue), select (fair choice among ready cases, array order with
 * WEFT_SELECT_ORDERED, exactly one case, -EPIPE results,
 * NOWAIT, timeout, cancellation), and a seeded randomized run of many tasks
 * checked against a reference model.
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
#include <weft/chan.h>
#include <weft/sync.h>

#include "support.h"

/* ------------------------------------------------------------------------ */
/* Shared task bodies                                                       */
/* ------------------------------------------------------------------------ */

/* One sender or receiver of ints: optionally inside a timeout scope of
   `timeout_ms` (-1: a scope without deadline, cancellable by hand); logs
   "name:rc@time" (and "=value" for a receive that got one). */
struct op {
    const char *name;
    weft_chan *ch;
    int send;            /* 1 send, 0 receive */
    int value;           /* sent, or received */
    int64_t delay_ms;    /* sleep before the operation */
    int64_t timeout_ms;
    weft_scope scope;
    int rc;
};

static int task_op(void *arg, void **result)
{
    (void)result;
    struct op *o = arg;
    if (o->delay_ms)
        EXPECT_CODE(weft_sleep(MS(o->delay_ms)), 0);
    if (o->timeout_ms > 0)
        EXPECT_CODE(weft_scope_enter_timeout(&o->scope, MS(o->timeout_ms)), 0);
    else if (o->timeout_ms < 0)
        EXPECT_CODE(weft_scope_enter(&o->scope, WEFT_FOREVER), 0);
    if (o->send) {
        o->rc = weft_chan_send(o->ch, &o->value);
        say("%s:%s@%s", o->name, cn(o->rc), at());
    } else {
        o->value = -1;
        o->rc = weft_chan_recv(o->ch, &o->value);
        if (o->rc == 0)
            say("%s:%s=%d@%s", o->name, cn(o->rc), o->value, at());
        else
            say("%s:%s@%s", o->name, cn(o->rc), at());
    }
    if (o->timeout_ms)
        (void)weft_scope_exit(&o->scope);
    return 0;
}

static weft_task *spawn_op(struct op *o)
{
    weft_task *t = NULL;
    EXPECT_CODE(weft_spawn(&t, task_op, o, &(weft_task_opts){.name = o->name}), 0);
    return t;
}

static void join_all(weft_task **t, int n)
{
    for (int i = 0; i < n; i++) {
        EXPECT_CODE(weft_task_join(t[i], NULL), 0);
        weft_task_release(t[i]);
    }
}

#define SEND(n, ch, v) {(n), (ch), 1, (v), 0, 0, {{0}}, 0}
#define RECV(n, ch) {(n), (ch), 0, 0, 0, 0, {{0}}, 0}

/* ------------------------------------------------------------------------ */
/* Creation, arguments, calls outside a task                                */
/* ------------------------------------------------------------------------ */

static void test_chan_create_and_arguments(void **state)
{
    (void)state;
    weft_chan *ch = (weft_chan *)&ch, *big = NULL;
    int v = 1;
    assert_code(weft_chan_create(&ch, 0, 1), -EINVAL);
    assert_code(weft_chan_create(&ch, 65537, 1), -EINVAL);
    assert_code(weft_chan_create(&ch, SIZE_MAX, 0), -EINVAL);
    /* A ring whose byte size would overflow is refused, not truncated. */
    assert_code(weft_chan_create(&ch, 65536, SIZE_MAX / 65536 + 1), -EINVAL);
    assert_code(weft_chan_create(NULL, 4, 1), -EINVAL);
    assert_code(weft_chan_create(&big, 65536, 2), 0);
    assert_non_null(big);
    assert_int_equal(weft_chan_cap(big), 2);
    assert_int_equal(weft_chan_len(big), 0);
    assert_code(weft_chan_destroy(big), 0);
    assert_code(weft_chan_create(&ch, 1, 0), 0);
    assert_int_equal(weft_chan_cap(ch), 0);
    assert_code(weft_chan_destroy(ch), 0);
    assert_code(weft_chan_destroy(NULL), -EINVAL);
    assert_int_equal(weft_chan_len(NULL), 0);
    assert_int_equal(weft_chan_cap(NULL), 0);
    assert_code(weft_chan_send(NULL, &v), -EINVAL);
    assert_code(weft_chan_recv(NULL, &v), -EINVAL);
    assert_code(weft_chan_try_send(NULL, &v), -EINVAL);
    assert_code(weft_chan_try_recv(NULL, &v), -EINVAL);
    assert_code(weft_chan_close(NULL), -EINVAL);
    assert_code(weft_chan_create(&ch, sizeof(int), 2), 0);
    assert_code(weft_chan_send(ch, NULL), -EINVAL);
    assert_code(weft_chan_recv(ch, NULL), -EINVAL);
    assert_code(weft_chan_try_send(ch, NULL), -EINVAL);
    assert_code(weft_chan_try_recv(ch, NULL), -EINVAL);
    assert_code(weft_select(NULL, 1, 0), -EINVAL);
    assert_code(weft_chan_destroy(ch), 0);
}

static void test_chan_outside_loop(void **state)
{
    (void)state;
    weft_chan *b, *u;
    int v = 7, r = 0;
    assert_code(weft_chan_create(&b, sizeof(int), 1), 0);
    assert_code(weft_chan_create(&u, sizeof(int), 0), 0);
    /* What needs no wait works outside a task. */
    assert_code(weft_chan_recv(b, &r), -EPERM);   /* would wait */
    assert_code(weft_chan_send(b, &v), 0);        /* room */
    assert_code(weft_chan_send(b, &v), -EPERM);   /* full: would wait */
    assert_code(weft_chan_try_send(b, &v), -EAGAIN);
    assert_int_equal(weft_chan_len(b), 1);
    assert_code(weft_chan_recv(b, &r), 0);
    assert_int_equal(r, 7);
    assert_code(weft_chan_send(u, &v), -EPERM);   /* no receiver */
    assert_code(weft_chan_try_send(u, &v), -EAGAIN);
    assert_code(weft_chan_try_recv(u, &r), -EAGAIN);
    weft_select_case c[2] = {{.ch = b, .op = WEFT_SELECT_RECV, .elem = &r},
                             {.ch = u, .op = WEFT_SELECT_RECV, .elem = &r}};
    assert_code(weft_select(c, 2, 0), -EPERM);
    assert_code(weft_select(c, 2, WEFT_SELECT_NOWAIT), -EAGAIN);
    assert_code(weft_chan_try_send(b, &v), 0);
    assert_code(weft_select(c, 2, WEFT_SELECT_NOWAIT), 0);
    assert_code(c[0].result, 0);
    assert_code(weft_chan_close(u), 0);
    assert_code(weft_chan_close(u), -EALREADY);
    assert_code(weft_chan_send(u, &v), -EPIPE);
    assert_code(weft_chan_recv(u, &r), -EPIPE);
    assert_code(weft_select(c, 2, 0), 1); /* closed: ready, even outside a task */
    assert_code(c[1].result, -EPIPE);
    assert_code(weft_chan_destroy(b), 0);
    assert_code(weft_chan_destroy(u), 0);
}

static weft_chan *cb_ch;

static void cb_calls(void *arg)
{
    (void)arg;
    int v = 5, r = 0;
    EXPECT_CODE(weft_chan_recv(cb_ch, &r), -EPERM);  /* empty: would wait */
    EXPECT_CODE(weft_chan_try_send(cb_ch, &v), 0);   /* to main, waiting */
    v = 6;
    EXPECT_CODE(weft_chan_send(cb_ch, &v), 0);       /* room: no wait */
    EXPECT_CODE(weft_chan_send(cb_ch, &v), -EPERM);  /* full: would wait */
    EXPECT_CODE(weft_chan_try_send(cb_ch, &v), -EAGAIN);
    say("cb@%s", at());
}

static int main_callback_calls(void *arg, void **result)
{
    (void)arg;
    (void)result;
    int r = 0;
    EXPECT_CODE(weft_chan_create(&cb_ch, sizeof(int), 1), 0);
    EXPECT_CODE(weft_call_later(NULL, MS(2), cb_calls, NULL), 0);
    EXPECT_CODE(weft_chan_recv(cb_ch, &r), 0);
    say("main=%d@%s", r, at());
    EXPECT_CODE(weft_chan_try_recv(cb_ch, &r), 0);
    EXPECT_CODE(r, 6);
    EXPECT_CODE(weft_chan_try_recv(cb_ch, &r), -EAGAIN);
    EXPECT_CODE(weft_chan_destroy(cb_ch), 0);
    return 0;
}

static void test_chan_from_callback(void **state)
{
    (void)state;
    assert_code(vrun(main_callback_calls, NULL, NULL), 0);
    assert_expectations();
    assert_log("cb@2 main=5@2");
}

/* ------------------------------------------------------------------------ */
/* Buffered ring                                                            */
/* ------------------------------------------------------------------------ */

struct rec {
    uint32_t a;
    uint8_t b[7];
};

static int main_ring(void *arg, void **result)
{
    (void)arg;
    (void)result;
    weft_chan *ch;
    EXPECT_CODE(weft_chan_create(&ch, 11, 3), 0); /* 11 bytes: a and b */
    EXPECT_CODE(weft_chan_cap(ch), 3);
    int next_in = 0, next_out = 0;
    for (int round = 0; round < 50; round++) {
        int k = 1 + round % 3; /* 1..3 values in, then out: wraps around */
        for (int i = 0; i < k; i++) {
            struct rec r;
            memset(&r, 0, sizeof r);
            r.a = (uint32_t)next_in * 2654435761u;
            memset(r.b, next_in & 0xff, sizeof r.b);
            EXPECT_CODE((i & 1) ? weft_chan_send(ch, &r) : weft_chan_try_send(ch, &r), 0);
            next_in++;
            EXPECT_CODE(weft_chan_len(ch), (size_t)(next_in - next_out));
        }
        if (k == 3) {
            struct rec r = {0, {0}};
            EXPECT_CODE(weft_chan_try_send(ch, &r), -EAGAIN);
        }
        for (int i = 0; i < k; i++) {
            unsigned char buf[16];
            memset(buf, 0xee, sizeof buf);
            EXPECT_CODE((i & 1) ? weft_chan_try_recv(ch, buf) : weft_chan_recv(ch, buf), 0);
            struct rec r;
            memcpy(&r, buf, 11);
            EXPECT_CODE(r.a, (uint32_t)next_out * 2654435761u);
            for (int j = 0; j < 7; j++)
                EXPECT_CODE(r.b[j], next_out & 0xff);
            EXPECT_CODE(buf[11], 0xee); /* exactly elem_size bytes written */
            next_out++;
        }
        EXPECT_CODE(weft_chan_len(ch), 0);
        unsigned char buf[16];
        EXPECT_CODE(weft_chan_try_recv(ch, buf), -EAGAIN);
    }
    EXPECT_CODE(weft_now(), 0); /* nothing waited */
    EXPECT_CODE(weft_chan_destroy(ch), 0);
    return 0;
}

static void test_chan_buffered_ring(void **state)
{
    (void)state;
    assert_code(vrun(main_ring, NULL, NULL), 0);
    assert_expectations();
}

/* Waiting senders on a full buffer move in, in FIFO order, as room
   appears; waiting receivers take values in FIFO order. */
static int main_buffered_fifo(void *arg, void **result)
{
    (void)arg;
    (void)result;
    weft_chan *ch;
    int v, r;
    EXPECT_CODE(weft_chan_create(&ch, sizeof(int), 2), 0);
    v = 1;
    EXPECT_CODE(weft_chan_send(ch, &v), 0);
    v = 2;
    EXPECT_CODE(weft_chan_send(ch, &v), 0);
    struct op s[3] = {SEND("s3", ch, 3), SEND("s4", ch, 4), SEND("s5", ch, 5)};
    weft_task *t[4];
    for (int i = 0; i < 3; i++)
        t[i] = spawn_op(&s[i]);
    EXPECT_CODE(weft_sleep(MS(1)), 0);
    EXPECT_CODE(weft_chan_len(ch), 2);
    for (int want = 1; want <= 5; want++) {
        EXPECT_CODE(weft_chan_recv(ch, &r), 0);
        EXPECT_CODE(r, want);
        EXPECT_CODE(weft_chan_len(ch), want <= 3 ? 2 : 5 - want);
        say("r%d@%s", r, at());
        EXPECT_CODE(weft_sleep(MS(1)), 0);
    }
    join_all(t, 3);
    /* Receivers in FIFO order. */
    struct op q[3] = {RECV("a", ch), RECV("b", ch), RECV("c", ch)};
    for (int i = 0; i < 3; i++)
        t[i] = spawn_op(&q[i]);
    EXPECT_CODE(weft_sleep(MS(1)), 0);
    for (v = 10; v < 13; v++)
        EXPECT_CODE(weft_chan_try_send(ch, &v), 0);
    EXPECT_CODE(weft_chan_len(ch), 0); /* handed straight to the receivers */
    join_all(t, 3);
    EXPECT_CODE(weft_chan_destroy(ch), 0);
    return 0;
}

static void test_chan_buffered_fifo(void **state)
{
    (void)state;
    assert_code(vrun(main_buffered_fifo, NULL, NULL), 0);
    assert_expectations();
    assert_log("r1@1 s3:0@1 r2@2 s4:0@2 r3@3 s5:0@3 r4@4 r5@5 a:0=10@7 b:0=11@7 c:0=12@7");
}

/* ------------------------------------------------------------------------ */
/* Unbuffered rendezvous                                                    */
/* ------------------------------------------------------------------------ */

static int main_rendezvous(void *arg, void **result)
{
    (void)arg;
    (void)result;
    weft_chan *ch;
    int v = 0;
    EXPECT_CODE(weft_chan_create(&ch, sizeof(int), 0), 0);
    EXPECT_CODE(weft_chan_cap(ch), 0);
    EXPECT_CODE(weft_chan_try_send(ch, &v), -EAGAIN); /* nobody receives */
    EXPECT_CODE(weft_chan_try_recv(ch, &v), -EAGAIN);
    /* The sender waits until the receiver takes the value. */
    struct op s = SEND("s", ch, 42);
    weft_task *t[4];
    t[0] = spawn_op(&s);
    EXPECT_CODE(weft_sleep(MS(10)), 0);
    EXPECT_CODE(weft_chan_len(ch), 0);
    EXPECT_CODE(weft_chan_recv(ch, &v), 0);
    say("got=%d@%s", v, at());
    join_all(t, 1);
    /* The receiver waits until a sender comes. */
    struct op r = RECV("r", ch);
    t[0] = spawn_op(&r);
    EXPECT_CODE(weft_sleep(MS(5)), 0);
    v = 43;
    EXPECT_CODE(weft_chan_send(ch, &v), 0); /* a receiver waits: no wait */
    say("sent@%s", at());
    join_all(t, 1);
    /* FIFO senders, FIFO receivers. */
    struct op ss[3] = {SEND("s1", ch, 1), SEND("s2", ch, 2), SEND("s3", ch, 3)};
    for (int i = 0; i < 3; i++)
        t[i] = spawn_op(&ss[i]);
    EXPECT_CODE(weft_sleep(MS(1)), 0);
    for (int i = 1; i <= 3; i++) {
        EXPECT_CODE(i == 2 ? weft_chan_try_recv(ch, &v) : weft_chan_recv(ch, &v), 0);
        EXPECT_CODE(v, i);
    }
    join_all(t, 3);
    struct op rr[3] = {RECV("r1", ch), RECV("r2", ch), RECV("r3", ch)};
    for (int i = 0; i < 3; i++)
        t[i] = spawn_op(&rr[i]);
    EXPECT_CODE(weft_sleep(MS(1)), 0);
    for (v = 7; v <= 9; v++)
        EXPECT_CODE(v == 8 ? weft_chan_try_send(ch, &v) : weft_chan_send(ch, &v), 0);
    join_all(t, 3);
    say("end@%s", at());
    EXPECT_CODE(weft_chan_destroy(ch), 0);
    return 0;
}

static void test_chan_unbuffered_rendezvous(void **state)
{
    (void)state;
    assert_code(vrun(main_rendezvous, NULL, NULL), 0);
    assert_expectations();
    assert_log("got=42@10 s:0@10 sent@15 r:0=43@15 s1:0@16 s2:0@16 s3:0@16 "
               "r1:0=7@17 r2:0=8@17 r3:0=9@17 end@17");
}

/* ------------------------------------------------------------------------ */
/* Close                                                                    */
/* ------------------------------------------------------------------------ */

static void cb_close(void *arg)
{
    EXPECT_CODE(weft_chan_close(arg), 0);
    say("close@%s", at());
}

static int main_close(void *arg, void **result)
{
    (void)arg;
    (void)result;
    weft_chan *b, *u, *e;
    int v = 1, r;
    weft_task *t[4];
    EXPECT_CODE(weft_chan_create(&b, sizeof(int), 3), 0);
    EXPECT_CODE(weft_chan_create(&u, sizeof(int), 0), 0);
    EXPECT_CODE(weft_chan_create(&e, sizeof(int), 2), 0);
    /* Drain: buffered values outlive the close. */
    for (v = 1; v <= 3; v++)
        EXPECT_CODE(weft_chan_send(b, &v), 0);
    EXPECT_CODE(weft_chan_close(b), 0);
    EXPECT_CODE(weft_chan_close(b), -EALREADY);
    EXPECT_CODE(weft_chan_send(b, &v), -EPIPE);
    EXPECT_CODE(weft_chan_try_send(b, &v), -EPIPE);
    EXPECT_CODE(weft_chan_len(b), 3);
    EXPECT_CODE(weft_chan_cap(b), 3);
    EXPECT_CODE(weft_chan_recv(b, &r), 0);
    EXPECT_CODE(r, 1);
    EXPECT_CODE(weft_chan_try_recv(b, &r), 0);
    EXPECT_CODE(r, 2);
    EXPECT_CODE(weft_chan_recv(b, &r), 0);
    EXPECT_CODE(r, 3);
    r = -5;
    EXPECT_CODE(weft_chan_recv(b, &r), -EPIPE);
    EXPECT_CODE(weft_chan_try_recv(b, &r), -EPIPE);
    EXPECT_CODE(r, -5); /* untouched */
    EXPECT_CODE(weft_now(), 0);
    /* Waiting receivers wake with -EPIPE at the close. */
    struct op r1 = RECV("r1", u), r2 = RECV("r2", u);
    t[0] = spawn_op(&r1);
    t[1] = spawn_op(&r2);
    EXPECT_CODE(weft_call_later(NULL, MS(3), cb_close, u), 0);
    EXPECT_CODE(weft_sleep(MS(5)), 0);
    join_all(t, 2);
    /* Waiting senders on a full buffer wake with -EPIPE; the buffered
       values are drained. */
    v = 1;
    EXPECT_CODE(weft_chan_send(e, &v), 0);
    v = 2;
    EXPECT_CODE(weft_chan_send(e, &v), 0);
    struct op s1 = SEND("s1", e, 3), s2 = SEND("s2", e, 4);
    t[0] = spawn_op(&s1);
    t[1] = spawn_op(&s2);
    EXPECT_CODE(weft_sleep(MS(2)), 0);
    EXPECT_CODE(weft_chan_close(e), 0);
    say("closed@%s", at());
    join_all(t, 2);
    EXPECT_CODE(weft_chan_len(e), 2);
    EXPECT_CODE(weft_chan_recv(e, &r), 0);
    EXPECT_CODE(r, 1);
    EXPECT_CODE(weft_chan_recv(e, &r), 0);
    EXPECT_CODE(r, 2);
    EXPECT_CODE(weft_chan_recv(e, &r), -EPIPE);
    /* Unbuffered sender woken by the close. */
    weft_chan *u2;
    EXPECT_CODE(weft_chan_create(&u2, sizeof(int), 0), 0);
    struct op s3 = SEND("s3", u2, 9);
    t[0] = spawn_op(&s3);
    EXPECT_CODE(weft_sleep(MS(1)), 0);
    EXPECT_CODE(weft_chan_close(u2), 0);
    join_all(t, 1);
    EXPECT_CODE(weft_chan_try_recv(u2, &r), -EPIPE);
    say("end@%s", at());
    EXPECT_CODE(weft_chan_destroy(b), 0);
    EXPECT_CODE(weft_chan_destroy(u), 0);
    EXPECT_CODE(weft_chan_destroy(e), 0);
    EXPECT_CODE(weft_chan_destroy(u2), 0);
    return 0;
}

static void test_chan_close_drain_and_wake(void **state)
{
    (void)state;
    assert_code(vrun(main_close, NULL, NULL), 0);
    assert_expectations();
    assert_log("close@3 r1:EPIPE@3 r2:EPIPE@3 closed@7 s1:EPIPE@7 s2:EPIPE@7 "
               "s3:EPIPE@8 end@8");
}

static int main_destroy_busy(void *arg, void **result)
{
    (void)arg;
    (void)result;
    weft_chan *ch;
    int v = 0;
    EXPECT_CODE(weft_chan_create(&ch, sizeof(int), 1), 0);
    struct op r = RECV("r", ch);
    weft_task *t = spawn_op(&r);
    EXPECT_CODE(weft_yield(), 0);
    EXPECT_CODE(weft_chan_destroy(ch), -EBUSY);
    EXPECT_CODE(weft_chan_close(ch), 0);
    join_all(&t, 1);
    EXPECT_CODE(weft_chan_destroy(ch), 0);
    /* Full of senders. */
    EXPECT_CODE(weft_chan_create(&ch, sizeof(int), 1), 0);
    EXPECT_CODE(weft_chan_send(ch, &v), 0);
    struct op s = SEND("s", ch, 1);
    t = spawn_op(&s);
    EXPECT_CODE(weft_yield(), 0);
    EXPECT_CODE(weft_chan_destroy(ch), -EBUSY);
    EXPECT_CODE(weft_chan_close(ch), 0);
    join_all(&t, 1);
    EXPECT_CODE(weft_chan_destroy(ch), 0); /* a buffered value is dropped */
    /* A receiver that timed out has left. */
    EXPECT_CODE(weft_chan_create(&ch, sizeof(int), 0), 0);
    r = (struct op)RECV("r2", ch);
    r.timeout_ms = 2;
    t = spawn_op(&r);
    EXPECT_CODE(weft_yield(), 0);
    EXPECT_CODE(weft_chan_destroy(ch), -EBUSY);
    join_all(&t, 1); /* times out and leaves */
    EXPECT_CODE(weft_chan_destroy(ch), 0);
    return 0;
}

static void test_chan_destroy_with_waiters(void **state)
{
    (void)state;
    assert_code(vrun(main_destroy_busy, NULL, NULL), 0);
    assert_expectations();
    assert_log("r:EPIPE@0 s:EPIPE@0 r2:ETIMEDOUT@2");
}

/* ------------------------------------------------------------------------ */
/* Cancellation and timeout while waiting                                   */
/* ------------------------------------------------------------------------ */

static int main_cancel_send_recv(void *arg, void **result)
{
    (void)result;
    size_t cap = (size_t)N(arg);
    weft_chan *ch;
    int v = 0, r = 0;
    weft_task *t[5];
    EXPECT_CODE(weft_chan_create(&ch, sizeof(int), cap), 0);
    for (size_t i = 0; i < cap; i++) {
        v = 100 + (int)i;
        EXPECT_CODE(weft_chan_send(ch, &v), 0);
    }
    /* Senders a..e wait; b cancelled, c times out, d scope-cancelled. */
    struct op s[5] = {SEND("a", ch, 1), SEND("b", ch, 2), SEND("c", ch, 3),
                      SEND("d", ch, 4), SEND("e", ch, 5)};
    s[2].timeout_ms = 3;
    s[3].timeout_ms = -1;
    for (int i = 0; i < 5; i++)
        t[i] = spawn_op(&s[i]);
    EXPECT_CODE(weft_sleep(MS(4)), 0);
    EXPECT_CODE(weft_task_cancel(t[1]), 0);
    EXPECT_CODE(weft_scope_cancel(&s[3].scope), 0);
    EXPECT_CODE(weft_sleep(MS(1)), 0);
    for (size_t i = 0; i < cap; i++) {
        EXPECT_CODE(weft_chan_recv(ch, &r), 0);
        EXPECT_CODE(r, 100 + (int)i);
    }
    EXPECT_CODE(weft_chan_recv(ch, &r), 0);
    EXPECT_CODE(r, 1);
    EXPECT_CODE(weft_chan_recv(ch, &r), 0);
    EXPECT_CODE(r, 5); /* 2, 3, 4 were never sent */
    EXPECT_CODE(weft_chan_try_recv(ch, &r), -EAGAIN);
    join_all(t, 5);
    EXPECT_CODE(weft_chan_len(ch), 0);
    say("|");
    /* Receivers a..e wait; b cancelled, c times out, d scope-cancelled. */
    struct op q[5] = {RECV("a", ch), RECV("b", ch), RECV("c", ch), RECV("d", ch),
                      RECV("e", ch)};
    q[2].timeout_ms = 3;
    q[3].timeout_ms = -1;
    for (int i = 0; i < 5; i++)
        t[i] = spawn_op(&q[i]);
    EXPECT_CODE(weft_sleep(MS(4)), 0);
    EXPECT_CODE(weft_task_cancel(t[1]), 0);
    EXPECT_CODE(weft_scope_cancel(&q[3].scope), 0);
    EXPECT_CODE(weft_sleep(MS(1)), 0);
    v = 11;
    EXPECT_CODE(weft_chan_send(ch, &v), 0);
    v = 12;
    EXPECT_CODE(weft_chan_try_send(ch, &v), 0);
    v = 13;
    EXPECT_CODE(weft_chan_try_send(ch, &v), cap ? 0 : -EAGAIN); /* nobody left */
    join_all(t, 5);
    EXPECT_CODE(weft_chan_len(ch), cap ? 1 : 0);
    say("end@%s", at());
    EXPECT_CODE(weft_chan_destroy(ch), 0);
    return 0;
}

static void test_chan_cancel_and_timeout_while_waiting(void **state)
{
    (void)state;
    const char *want = "c:ETIMEDOUT@3 b:ECANCELED@4 d:ECANCELED@4 a:0@5 e:0@5 | "
                       "c:ETIMEDOUT@8 b:ECANCELED@9 d:ECANCELED@9 a:0=11@10 e:0=12@10 end@10";
    assert_code(vrun(main_cancel_send_recv, P(0), NULL), 0);
    assert_expectations();
    assert_log(want);
    reset(NULL);
    assert_code(vrun(main_cancel_send_recv, P(2), NULL), 0);
    assert_expectations();
    assert_log(want);
}

/* A value handed over to a waiting receiver that is cancelled before it
   runs is not lost: the receiver returns it, or it goes to the next. */
static int main_handoff_cancel_recv(void *arg, void **result)
{
    (void)result;
    size_t cap = (size_t)N(arg);
    weft_chan *ch;
    int v = 77, r;
    EXPECT_CODE(weft_chan_create(&ch, sizeof(int), cap), 0);
    struct op a = RECV("a", ch), b = RECV("b", ch);
    weft_task *t[2];
    t[0] = spawn_op(&a);
    t[1] = spawn_op(&b);
    EXPECT_CODE(weft_yield(), 0);
    EXPECT_CODE(weft_chan_try_send(ch, &v), 0);
    EXPECT_CODE(weft_task_cancel(t[0]), 0);
    EXPECT_CODE(weft_sleep(MS(1)), 0);
    /* Exactly one of a and b has 77. */
    if (a.rc == 0) {
        EXPECT_CODE(a.value, 77);
        EXPECT_CODE(weft_task_status(t[1]), WEFT_TASK_PENDING);
        EXPECT_CODE(weft_task_cancel(t[1]), 0);
    } else {
        EXPECT_CODE(a.rc, -ECANCELED);
        EXPECT_CODE(b.rc, 0);
        EXPECT_CODE(b.value, 77);
    }
    EXPECT_CODE(weft_chan_try_recv(ch, &r), -EAGAIN);
    join_all(t, 2);
    EXPECT_CODE(weft_chan_destroy(ch), 0);
    return 0;
}

/* A sender whose value was taken by try_recv and which is cancelled before
   it runs has sent it: -ECANCELED would claim nothing moved. */
static int main_handoff_cancel_send(void *arg, void **result)
{
    (void)result;
    size_t cap = (size_t)N(arg);
    weft_chan *ch;
    int v = 0, r = 0;
    EXPECT_CODE(weft_chan_create(&ch, sizeof(int), cap), 0);
    for (size_t i = 0; i < cap; i++)
        EXPECT_CODE(weft_chan_send(ch, &v), 0);
    struct op a = SEND("a", ch, 5), b = SEND("b", ch, 6);
    weft_task *t[2];
    t[0] = spawn_op(&a);
    t[1] = spawn_op(&b);
    EXPECT_CODE(weft_yield(), 0);
    EXPECT_CODE(weft_chan_try_recv(ch, &r), 0);
    EXPECT_CODE(r, cap ? 0 : 5);
    EXPECT_CODE(weft_task_cancel(t[0]), 0);
    EXPECT_CODE(weft_sleep(MS(1)), 0);
    /* Unbuffered: 5 was received, so a sent it. Buffered: 5 either moved
       into the buffer (a returns 0, b still waits) or not (a -ECANCELED,
       b moved in). */
    if (cap == 0)
        EXPECT_CODE(a.rc, 0);
    else
        EXPECT(a.rc == 0 || a.rc == -ECANCELED);
    int want = a.rc == 0 ? 5 : 6;
    if (a.rc == 0) {
        EXPECT_CODE(weft_task_status(t[1]), WEFT_TASK_PENDING);
        EXPECT_CODE(weft_task_cancel(t[1]), 0);
    } else {
        EXPECT_CODE(b.rc, 0);
    }
    join_all(t, 2);
    if (cap) {
        EXPECT_CODE(weft_chan_try_recv(ch, &r), 0);
        EXPECT_CODE(r, want);
    }
    EXPECT_CODE(weft_chan_try_recv(ch, &r), -EAGAIN);
    EXPECT_CODE(weft_chan_destroy(ch), 0);
    return 0;
}

static void test_chan_handoff_to_cancelled_waiter(void **state)
{
    (void)state;
    for (long cap = 0; cap <= 1; cap++) {
        assert_code(vrun(main_handoff_cancel_recv, P(cap), NULL), 0);
        assert_expectations();
        assert_code(vrun(main_handoff_cancel_send, P(cap), NULL), 0);
        assert_expectations();
    }
}

/* ------------------------------------------------------------------------ */
/* Select                                                                   */
/* ------------------------------------------------------------------------ */

static int main_select_ready(void *arg, void **result)
{
    (void)arg;
    (void)result;
    weft_chan *a, *b, *full, *cl;
    int v, ra = -1, rb = -1, sv = 99;
    EXPECT_CODE(weft_chan_create(&a, sizeof(int), 2), 0);
    EXPECT_CODE(weft_chan_create(&b, sizeof(int), 2), 0);
    EXPECT_CODE(weft_chan_create(&full, sizeof(int), 1), 0);
    EXPECT_CODE(weft_chan_create(&cl, sizeof(int), 1), 0);
    v = 1;
    EXPECT_CODE(weft_chan_send(a, &v), 0);
    v = 2;
    EXPECT_CODE(weft_chan_send(b, &v), 0);
    EXPECT_CODE(weft_chan_send(full, &v), 0);
    /* Both ready, ORDERED: the first in the array wins, the other is
       untouched. */
    weft_select_case c[3] = {{.ch = b, .op = WEFT_SELECT_RECV, .elem = &rb},
                             {.ch = a, .op = WEFT_SELECT_RECV, .elem = &ra}};
    c[0].result = c[1].result = 12345;
    EXPECT_CODE(weft_select(c, 2, WEFT_SELECT_ORDERED), 0);
    EXPECT_CODE(c[0].result, 0);
    EXPECT_CODE(rb, 2);
    EXPECT_CODE(ra, -1);
    EXPECT_CODE(weft_chan_len(a), 1);
    EXPECT_CODE(weft_chan_len(b), 0);
    /* b empty now: a. */
    EXPECT_CODE(weft_select(c, 2, WEFT_SELECT_NOWAIT), 1);
    EXPECT_CODE(c[1].result, 0);
    EXPECT_CODE(ra, 1);
    EXPECT_CODE(weft_select(c, 2, WEFT_SELECT_NOWAIT), -EAGAIN);
    /* A send on a full channel is not ready; one with room is. */
    c[0] = (weft_select_case){.ch = full, .op = WEFT_SELECT_SEND, .elem = &sv};
    c[1] = (weft_select_case){.ch = a, .op = WEFT_SELECT_SEND, .elem = &sv};
    EXPECT_CODE(weft_select(c, 2, 0), 1);
    EXPECT_CODE(c[1].result, 0);
    EXPECT_CODE(weft_chan_len(a), 1);
    EXPECT_CODE(weft_chan_len(full), 1);
    EXPECT_CODE(weft_chan_recv(a, &v), 0);
    EXPECT_CODE(v, 99);
    /* NULL channels are never ready. */
    c[0] = (weft_select_case){.ch = NULL, .op = WEFT_SELECT_RECV, .elem = &v};
    EXPECT_CODE(weft_select(c, 1, WEFT_SELECT_NOWAIT), -EAGAIN);
    /* Closed: ready, with -EPIPE; a send on a closed channel too. */
    v = 5;
    EXPECT_CODE(weft_chan_send(cl, &v), 0);
    EXPECT_CODE(weft_chan_close(cl), 0);
    c[0] = (weft_select_case){.ch = b, .op = WEFT_SELECT_RECV, .elem = &rb};
    c[1] = (weft_select_case){.ch = cl, .op = WEFT_SELECT_RECV, .elem = &ra};
    c[2] = (weft_select_case){.ch = a, .op = WEFT_SELECT_RECV, .elem = &ra};
    EXPECT_CODE(weft_select(c, 3, 0), 1);
    EXPECT_CODE(c[1].result, 0); /* drains first */
    EXPECT_CODE(ra, 5);
    ra = -7;
    EXPECT_CODE(weft_select(c, 3, 0), 1);
    EXPECT_CODE(c[1].result, -EPIPE);
    EXPECT_CODE(ra, -7);
    c[0] = (weft_select_case){.ch = full, .op = WEFT_SELECT_SEND, .elem = &sv};
    c[1] = (weft_select_case){.ch = cl, .op = WEFT_SELECT_SEND, .elem = &sv};
    EXPECT_CODE(weft_select(c, 2, 0), 1);
    EXPECT_CODE(c[1].result, -EPIPE);
    /* Bad arguments. */
    c[0] = (weft_select_case){.ch = a, .op = 3, .elem = &v};
    EXPECT_CODE(weft_select(c, 1, WEFT_SELECT_NOWAIT), -EINVAL);
    c[0] = (weft_select_case){.ch = a, .op = 0, .elem = &v};
    EXPECT_CODE(weft_select(c, 1, WEFT_SELECT_NOWAIT), -EINVAL);
    c[0] = (weft_select_case){.ch = a, .op = WEFT_SELECT_RECV, .elem = NULL};
    EXPECT_CODE(weft_select(c, 1, WEFT_SELECT_NOWAIT), -EINVAL);
    EXPECT_CODE(weft_select(NULL, 2, 0), -EINVAL);
    c[0] = (weft_select_case){.ch = a, .op = WEFT_SELECT_RECV, .elem = &v};
    EXPECT_CODE(weft_select(c, 1, WEFT_SELECT_ORDERED << 1), -EINVAL); /* unknown flag */
    EXPECT_CODE(weft_now(), 0);
    EXPECT_CODE(weft_chan_destroy(a), 0);
    EXPECT_CODE(weft_chan_destroy(b), 0);
    EXPECT_CODE(weft_chan_destroy(full), 0);
    EXPECT_CODE(weft_chan_destroy(cl), 0);
    return 0;
}

static void test_chan_select_ready_cases(void **state)
{
    (void)state;
    assert_code(vrun(main_select_ready, NULL, NULL), 0);
    assert_expectations();
}

/* Two buffered channels always ready: 10,000 selects take each case 40-60 %
   of the time (a fair coin strays past 45-55 % with odds below 1e-20), and
   exactly as often as its channel lost a value; ORDERED takes case 0 always.
   Three always-ready cases and one never-ready: each ready one about a third. */
static int main_select_fair(void *arg, void **result)
{
    (void)arg;
    (void)result;
    enum { N = 10000 };
    weft_chan *ch[3], *never;
    int v = 1, got[3] = {0, 0, 0}, r;
    for (int i = 0; i < 3; i++)
        EXPECT_CODE(weft_chan_create(&ch[i], sizeof(int), 1), 0);
    EXPECT_CODE(weft_chan_create(&never, sizeof(int), 0), 0);
    weft_select_case c[4];
    for (int i = 0; i < 3; i++)
        c[i] = (weft_select_case){.ch = ch[i], .op = WEFT_SELECT_RECV, .elem = &r};
    c[3] = (weft_select_case){.ch = never, .op = WEFT_SELECT_RECV, .elem = &r};
    for (int i = 0; i < 3; i++)
        EXPECT_CODE(weft_chan_send(ch[i], &v), 0);
    for (int k = 0; k < N; k++) {
        int rc = weft_select(c, 2, 0);
        EXPECT(rc == 0 || rc == 1);
        if (rc < 0 || rc > 1)
            break;
        EXPECT_CODE(c[rc].result, 0);
        got[rc]++;
        EXPECT_CODE(weft_chan_len(ch[rc]), 0);
        EXPECT_CODE(weft_chan_len(ch[1 - rc]), 1);
        EXPECT_CODE(weft_chan_send(ch[rc], &v), 0);   /* ready again */
    }
    EXPECT(got[0] >= N * 40 / 100 && got[0] <= N * 60 / 100);
    EXPECT(got[1] >= N * 40 / 100 && got[1] <= N * 60 / 100);
    EXPECT_CODE(got[0] + got[1], N);
    for (int k = 0; k < 100; k++) {
        EXPECT_CODE(weft_select(c, 2, WEFT_SELECT_ORDERED | WEFT_SELECT_NOWAIT), 0);
        EXPECT_CODE(weft_chan_send(ch[0], &v), 0);
    }
    got[0] = got[1] = 0;
    for (int k = 0; k < 3 * N; k++) {
        int rc = weft_select(c, 4, WEFT_SELECT_NOWAIT);
        EXPECT(rc >= 0 && rc < 3);
        if (rc < 0 || rc >= 3)
            break;
        got[rc]++;
        EXPECT_CODE(weft_chan_send(ch[rc], &v), 0);
    }
    for (int i = 0; i < 3; i++)
        EXPECT(got[i] >= N * 90 / 100 && got[i] <= N * 110 / 100);
    for (int i = 0; i < 3; i++) {
        EXPECT_CODE(weft_chan_recv(ch[i], &r), 0);
        EXPECT_CODE(weft_chan_destroy(ch[i]), 0);
    }
    EXPECT_CODE(weft_chan_destroy(never), 0);
    return 0;
}

static void test_chan_select_fair(void **state)
{
    (void)state;
    assert_code(vrun(main_select_fair, NULL, NULL), 0);
    assert_expectations();
}

/* A task selecting over unbuffered a, b, c with ops from `ops`. */
struct sel {
    const char *name;
    weft_chan *ch[3];
    int op[3];
    int n;
    int64_t timeout_ms;
    weft_scope scope;
    int vals[3];
    int rc;
};

static int task_select(void *arg, void **result)
{
    (void)result;
    struct sel *s = arg;
    weft_select_case c[3];
    memset(c, 0, sizeof c);
    for (int i = 0; i < s->n; i++) {
        c[i].ch = s->ch[i];
        c[i].op = s->op[i];
        c[i].elem = &s->vals[i];
    }
    if (s->timeout_ms > 0)
        EXPECT_CODE(weft_scope_enter_timeout(&s->scope, MS(s->timeout_ms)), 0);
    else if (s->timeout_ms < 0)
        EXPECT_CODE(weft_scope_enter(&s->scope, WEFT_FOREVER), 0);
    s->rc = weft_select(c, (size_t)s->n, 0);
    if (s->rc >= 0)
        say("%s:%d/%s=%d@%s", s->name, s->rc, cn(c[s->rc].result), s->vals[s->rc], at());
    else
        say("%s:%s@%s", s->name, cn(s->rc), at());
    if (s->timeout_ms)
        (void)weft_scope_exit(&s->scope);
    return 0;
}

static weft_task *spawn_sel(struct sel *s)
{
    weft_task *t = NULL;
    EXPECT_CODE(weft_spawn(&t, task_select, s, &(weft_task_opts){.name = s->name}), 0);
    return t;
}

static int main_select_wait(void *arg, void **result)
{
    (void)arg;
    (void)result;
    weft_chan *a, *b, *c;
    int v, r;
    weft_task *t[3];
    EXPECT_CODE(weft_chan_create(&a, sizeof(int), 0), 0);
    EXPECT_CODE(weft_chan_create(&b, sizeof(int), 0), 0);
    EXPECT_CODE(weft_chan_create(&c, sizeof(int), 1), 0);
    /* Receive from a or b: b's sender comes at 5. */
    struct sel s1 = {"s1", {a, b}, {WEFT_SELECT_RECV, WEFT_SELECT_RECV}, 2, 0, {{0}}, {-1, -1}, 0};
    t[0] = spawn_sel(&s1);
    EXPECT_CODE(weft_sleep(MS(5)), 0);
    v = 50;
    EXPECT_CODE(weft_chan_try_send(b, &v), 0);
    EXPECT_CODE(weft_chan_try_send(a, &v), -EAGAIN); /* s1 left a's queue */
    join_all(t, 1);
    /* Send on a or b: a receiver on a at 7. */
    struct sel s2 = {"s2", {a, b}, {WEFT_SELECT_SEND, WEFT_SELECT_SEND}, 2, 0, {{0}}, {1, 2}, 0};
    t[0] = spawn_sel(&s2);
    EXPECT_CODE(weft_sleep(MS(2)), 0);
    EXPECT_CODE(weft_chan_recv(a, &r), 0);
    EXPECT_CODE(r, 1);
    EXPECT_CODE(weft_chan_try_recv(b, &r), -EAGAIN); /* s2 left b's queue */
    join_all(t, 1);
    /* Mixed: send on full c, recv on a: c gets room at 9. */
    v = 0;
    EXPECT_CODE(weft_chan_send(c, &v), 0);
    struct sel s3 = {"s3", {c, a}, {WEFT_SELECT_SEND, WEFT_SELECT_RECV}, 2, 0, {{0}}, {33, -1}, 0};
    t[0] = spawn_sel(&s3);
    EXPECT_CODE(weft_sleep(MS(2)), 0);
    EXPECT_CODE(weft_chan_recv(c, &r), 0);
    EXPECT_CODE(r, 0);
    EXPECT_CODE(weft_yield(), 0);
    EXPECT_CODE(weft_chan_len(c), 1); /* 33 moved in */
    EXPECT_CODE(weft_chan_try_send(a, &v), -EAGAIN);
    join_all(t, 1);
    EXPECT_CODE(weft_chan_recv(c, &r), 0);
    EXPECT_CODE(r, 33);
    /* Close wakes a waiting select with -EPIPE for that case. */
    struct sel s4 = {"s4", {a, b}, {WEFT_SELECT_RECV, WEFT_SELECT_SEND}, 2, 0, {{0}}, {-1, 4}, 0};
    t[0] = spawn_sel(&s4);
    EXPECT_CODE(weft_sleep(MS(1)), 0);
    EXPECT_CODE(weft_chan_close(b), 0);
    join_all(t, 1);
    EXPECT_CODE(weft_chan_try_send(a, &v), -EAGAIN); /* s4 left a's queue */
    /* Timeout, cancellation, scope cancellation: nothing done, queues clean. */
    struct sel s5 = {"s5", {a, c}, {WEFT_SELECT_RECV, WEFT_SELECT_RECV}, 2, 3, {{0}}, {-1, -1}, 0};
    struct sel s6 = {"s6", {c, a}, {WEFT_SELECT_RECV, WEFT_SELECT_RECV}, 2, 0, {{0}}, {-1, -1}, 0};
    struct sel s7 = {"s7", {c, a}, {WEFT_SELECT_RECV, WEFT_SELECT_RECV}, 2, -1, {{0}}, {-1, -1}, 0};
    t[0] = spawn_sel(&s5);
    t[1] = spawn_sel(&s6);
    t[2] = spawn_sel(&s7);
    EXPECT_CODE(weft_sleep(MS(4)), 0);
    EXPECT_CODE(weft_task_cancel(t[1]), 0);
    EXPECT_CODE(weft_scope_cancel(&s7.scope), 0);
    join_all(t, 3);
    EXPECT_CODE(weft_chan_try_send(a, &v), -EAGAIN);
    EXPECT_CODE(weft_chan_try_recv(a, &r), -EAGAIN);
    v = 8;
    EXPECT_CODE(weft_chan_try_send(c, &v), 0);
    EXPECT_CODE(weft_chan_len(c), 1); /* nobody took it */
    EXPECT_CODE(weft_chan_try_recv(c, &r), 0);
    EXPECT_CODE(r, 8);
    /* Two selects meet on an unbuffered channel. */
    struct sel s8 = {"s8", {b, a}, {WEFT_SELECT_SEND, WEFT_SELECT_SEND}, 2, 0, {{0}}, {0, 88}, 0};
    struct sel s9 = {"s9", {c, a}, {WEFT_SELECT_RECV, WEFT_SELECT_RECV}, 2, 0, {{0}}, {-1, -1}, 0};
    s8.ch[0] = NULL;
    t[0] = spawn_sel(&s8);
    t[1] = spawn_sel(&s9);
    join_all(t, 2);
    say("end@%s", at());
    EXPECT_CODE(weft_chan_destroy(a), 0);
    EXPECT_CODE(weft_chan_destroy(b), 0);
    EXPECT_CODE(weft_chan_destroy(c), 0);
    return 0;
}

static void test_chan_select_waiting(void **state)
{
    (void)state;
    assert_code(vrun(main_select_wait, NULL, NULL), 0);
    assert_expectations();
    assert_log("s1:1/0=50@5 s2:0/0=1@7 s3:0/0=33@9 s4:1/EPIPE=4@10 "
               "s5:ETIMEDOUT@13 s6:ECANCELED@14 s7:ECANCELED@14 s9:1/0=88@14 s8:1/0=88@14 end@14");
}

/* ------------------------------------------------------------------------ */
/* Randomized: many tasks, mixed operations, a reference model              */
/* ------------------------------------------------------------------------ */

#define RS 8          /* senders */
#define RR 8          /* receivers */
#define RC 3          /* channels */
#define RN 400        /* values per sender */

static struct {
    uint32_t x;
    weft_chan *ch[RC];
    int closed_by_sender[RC];
    /* The model: where each value was sent (channel + 1, 0 not yet) and
       where it was received. */
    int sent_on[RS][RN];
    int got_on[RS][RN];
    int got_by[RS][RN];
    int last[RR][RC][RS];   /* last sequence a receiver got from a sender on a channel */
    long sends, ops, timeouts, pipes;
    weft_waitgroup senders, receivers;
} rz;

static uint32_t rnd(void)
{
    uint32_t x = rz.x;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return rz.x = x;
}

static void model_got(int recv_id, int ch, uint32_t val)
{
    int s = (int)(val >> 16), q = (int)(val & 0xffff);
    if (s < 0 || s >= RS || q >= RN) {
        EXPECT(!"value out of range");
        return;
    }
    EXPECT_CODE(rz.got_on[s][q], 0); /* exactly once */
    rz.got_on[s][q] = ch + 1;
    rz.got_by[s][q] = recv_id;
    EXPECT(q > rz.last[recv_id][ch][s]); /* FIFO per channel */
    rz.last[recv_id][ch][s] = q;
}

/* A blocking operation inside a short random timeout scope, so that no
   mix of waits can deadlock. */
static int scoped(int (*fn)(weft_chan *, void *), weft_chan *ch, void *v)
{
    weft_scope s;
    EXPECT_CODE(weft_scope_enter_timeout(&s, WEFT_USEC(rnd() % 1500)), 0);
    int rc = fn(ch, v);
    int xrc = weft_scope_exit(&s);
    if (rc == -ETIMEDOUT) {
        EXPECT_CODE(xrc, -ETIMEDOUT);
        rz.timeouts++;
    }
    return rc;
}

static int send_fn(weft_chan *ch, void *v) { return weft_chan_send(ch, v); }
static int recv_fn(weft_chan *ch, void *v) { return weft_chan_recv(ch, v); }
static int select_fn(weft_chan *ch, void *v)
{
    (void)ch;
    return weft_select(v, 3, 0);
}

static int task_rsender(void *arg, void **result)
{
    (void)result;
    int id = (int)N(arg);
    int closed[RC] = {0};
    for (int q = 0; q < RN;) {
        uint32_t val = ((uint32_t)id << 16) | (uint32_t)q;
        int open[RC], nopen = 0;
        for (int c = 0; c < RC; c++)
            if (!closed[c])
                open[nopen++] = c;
        EXPECT(nopen > 0);
        if (nopen == 0)
            break;
        int c = open[rnd() % (uint32_t)nopen], rc, where = c;
        rz.ops++;
        switch (rnd() % 4) {
        case 0:
        case 1:
            rc = scoped(send_fn, rz.ch[c], &val);
            break;
        case 2:
            rc = weft_chan_try_send(rz.ch[c], &val);
            if (rc == -EAGAIN)
                EXPECT_CODE(weft_yield(), 0);
            break;
        default: {
            /* select over 2-3 distinct open channels (NULL pads) */
            weft_select_case cs[3];
            memset(cs, 0, sizeof cs);
            int k = nopen >= 3 ? 2 + (int)(rnd() % 2) : nopen;
            int start = (int)(rnd() % (uint32_t)nopen);
            for (int i = 0; i < 3; i++) { /* k cases, then never-ready pads */
                cs[i].ch = i < k ? rz.ch[open[(start + i) % nopen]] : NULL;
                cs[i].op = WEFT_SELECT_SEND;
                cs[i].elem = &val;
            }
            rc = scoped(select_fn, NULL, cs);
            if (rc >= 0) {
                where = open[(start + rc) % nopen];
                rc = cs[rc].result;
                c = where;
            }
            break;
        }
        }
        if (rc == 0) {
            EXPECT_CODE(rz.sent_on[id][q], 0);
            rz.sent_on[id][q] = where + 1;
            rz.sends++;
            q++;
            /* Near the end, the first sender past 90% closes channel 1. */
            if (rz.sends == RS * RN * 9 / 10 && !rz.closed_by_sender[1]) {
                rz.closed_by_sender[1] = 1;
                EXPECT_CODE(weft_chan_close(rz.ch[1]), 0);
            }
        } else if (rc == -EPIPE) {
            EXPECT_CODE(c, 1);
            closed[c] = 1;
            rz.pipes++;
        } else if (rc != -EAGAIN && rc != -ETIMEDOUT) {
            EXPECT_CODE(rc, 0);
            break;
        }
        if (rnd() % 8 == 0)
            EXPECT_CODE(weft_sleep(rnd() % 2 ? 0 : WEFT_USEC(500)), 0);
    }
    EXPECT_CODE(weft_waitgroup_done(&rz.senders), 0);
    return 0;
}

static int task_rreceiver(void *arg, void **result)
{
    (void)result;
    int id = (int)N(arg);
    int done[RC] = {0};
    for (;;) {
        int open[RC], nopen = 0;
        for (int c = 0; c < RC; c++)
            if (!done[c])
                open[nopen++] = c;
        if (nopen == 0)
            break;
        int c = open[rnd() % (uint32_t)nopen], rc;
        uint32_t val = 0xffffffffu;
        rz.ops++;
        switch (rnd() % 4) {
        case 0:
        case 1:
            rc = scoped(recv_fn, rz.ch[c], &val);
            break;
        case 2:
            rc = weft_chan_try_recv(rz.ch[c], &val);
            if (rc == -EAGAIN)
                EXPECT_CODE(weft_yield(), 0);
            break;
        default: {
            weft_select_case cs[3];
            uint32_t vals[3] = {0xffffffffu, 0xffffffffu, 0xffffffffu};
            memset(cs, 0, sizeof cs);
            int k = nopen >= 3 ? 2 + (int)(rnd() % 2) : nopen;
            int start = (int)(rnd() % (uint32_t)nopen);
            for (int i = 0; i < 3; i++) { /* k cases, then never-ready pads */
                cs[i].ch = i < k ? rz.ch[open[(start + i) % nopen]] : NULL;
                cs[i].op = WEFT_SELECT_RECV;
                cs[i].elem = &vals[i];
            }
            rc = scoped(select_fn, NULL, cs);
            if (rc >= 0) {
                for (int i = 0; i < 3; i++) /* exactly one case performed */
                    if (i != rc)
                        EXPECT(vals[i] == 0xffffffffu);
                c = open[(start + rc) % nopen];
                val = vals[rc];
                rc = cs[rc].result;
            }
            break;
        }
        }
        if (rc == 0)
            model_got(id, c, val);
        else if (rc == -EPIPE)
            done[c] = 1;
        else if (rc != -EAGAIN && rc != -ETIMEDOUT) {
            EXPECT_CODE(rc, 0);
            break;
        }
        if (rnd() % 8 == 0)
            EXPECT_CODE(weft_sleep(rnd() % 2 ? 0 : WEFT_USEC(700)), 0);
    }
    EXPECT_CODE(weft_waitgroup_done(&rz.receivers), 0);
    return 0;
}

static int main_random(void *arg, void **result)
{
    (void)arg;
    (void)result;
    static const size_t caps[RC] = {0, 1, 4};
    memset(&rz, 0, sizeof rz);
    rz.x = 0x9e3779b9u;
    for (int s = 0; s < RS; s++)
        for (int c = 0; c < RC; c++)
            for (int r = 0; r < RR; r++)
                rz.last[r][c][s] = -1;
    for (int c = 0; c < RC; c++)
        EXPECT_CODE(weft_chan_create(&rz.ch[c], sizeof(uint32_t), caps[c]), 0);
    EXPECT_CODE(weft_waitgroup_add(&rz.senders, RS), 0);
    EXPECT_CODE(weft_waitgroup_add(&rz.receivers, RR), 0);
    for (int i = 0; i < RS || i < RR; i++) {
        if (i < RR)
            EXPECT_CODE(weft_spawn(NULL, task_rreceiver, P(i), NULL), 0);
        if (i < RS)
            EXPECT_CODE(weft_spawn(NULL, task_rsender, P(i), NULL), 0);
    }
    EXPECT_CODE(weft_waitgroup_wait(&rz.senders), 0);
    EXPECT_CODE(rz.closed_by_sender[1], 1);
    EXPECT_CODE(weft_chan_close(rz.ch[1]), -EALREADY);
    EXPECT_CODE(weft_chan_close(rz.ch[0]), 0);
    EXPECT_CODE(weft_chan_close(rz.ch[2]), 0);
    EXPECT_CODE(weft_waitgroup_wait(&rz.receivers), 0);
    /* Every value sent once was received once, from the channel it went to. */
    long missing = 0, wrong = 0;
    for (int s = 0; s < RS; s++)
        for (int q = 0; q < RN; q++) {
            missing += rz.sent_on[s][q] == 0 || rz.got_on[s][q] == 0;
            wrong += rz.sent_on[s][q] != rz.got_on[s][q];
        }
    EXPECT_CODE(missing, 0);
    EXPECT_CODE(wrong, 0);
    if (getenv("WEFT_TEST_STATS"))
        fprintf(stderr, "random: %ld ops, %ld sends, %ld timeouts, %ld EPIPE, end at %s\n",
                rz.ops, rz.sends, rz.timeouts, rz.pipes, at());
    EXPECT_CODE(rz.sends, RS * RN);
    EXPECT(rz.ops > 3 * RS * RN / 2);
    EXPECT(rz.timeouts > 0);
    EXPECT(rz.pipes > 0);
    for (int c = 0; c < RC; c++) {
        EXPECT_CODE(weft_chan_len(rz.ch[c]), 0);
        EXPECT_CODE(weft_chan_destroy(rz.ch[c]), 0);
    }
    return 0;
}

static void test_chan_randomized_model(void **state)
{
    (void)state;
    assert_code(vrun(main_random, NULL, NULL), 0);
    assert_expectations();
}

/* ------------------------------------------------------------------------ */

#define TEST(f) cmocka_unit_test_setup(f, reset)

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEST(test_chan_create_and_arguments),
        TEST(test_chan_outside_loop),
        TEST(test_chan_from_callback),
        TEST(test_chan_buffered_ring),
        TEST(test_chan_buffered_fifo),
        TEST(test_chan_unbuffered_rendezvous),
        TEST(test_chan_close_drain_and_wake),
        TEST(test_chan_destroy_with_waiters),
        TEST(test_chan_cancel_and_timeout_while_waiting),
        TEST(test_chan_handoff_to_cancelled_waiter),
        TEST(test_chan_select_ready_cases),
        TEST(test_chan_select_fair),
        TEST(test_chan_select_waiting),
        TEST(test_chan_randomized_model),
    };
    return cmocka_run_group_tests_name("chan", tests, NULL, NULL);
}
