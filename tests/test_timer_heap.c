/*
 * test_timer_heap.c - the timer min-heap (src/timer_heap.h) against its
 * stated invariants: pops in deadline order, FIFO among equal deadlines,
 * removal of any timer from any position, the slot bookkeeping, reserve,
 * and a million timers.
 *
 * check_heap() verifies the whole invariant (heap order on (deadline, seq),
 * slot == index + 1, distinct sequence numbers) and is run after every
 * operation of the randomised tests.
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

#include "timer_heap.h"

/* A fixed-seed xorshift64: the same "random" sequence on every run. */
static uint64_t rng_state;

static void rng_seed(uint64_t seed)
{
    rng_state = seed ? seed : 0x9e3779b97f4a7c15ull;
}

static uint64_t rng_next(void)
{
    uint64_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return rng_state = x;
}

/* Uniform enough in [0, n) for tests. */
static size_t rng_below(size_t n)
{
    return (size_t)(rng_next() % n);
}

/* (deadline, seq) order, the heap's own "earlier". */
static int before(const struct weft__timer *a, const struct weft__timer *b)
{
    return a->deadline < b->deadline || (a->deadline == b->deadline && a->seq < b->seq);
}

/* Fails unless `h` satisfies every invariant of timer_heap.h. */
static void check_heap(const struct weft__timer_heap *h)
{
    assert_true(h->len <= h->cap);
    if (h->len)
        assert_non_null(h->nodes);
    for (size_t i = 0; i < h->len; i++) {
        const struct weft__timer *t = h->nodes[i].t;
        if (h->nodes[i].deadline != t->deadline || h->nodes[i].seq != t->seq)
            fail_msg("nodes[%zu] key differs from its timer's", i);
        assert_non_null(t);
        if (t->slot != i + 1)
            fail_msg("nodes[%zu] has slot %zu", i, t->slot);
        if (i > 0 && before(t, h->nodes[(i - 1) / 2].t))
            fail_msg("nodes[%zu] (%lld/%llu) is earlier than its parent (%lld/%llu)", i,
                     (long long)t->deadline, (unsigned long long)t->seq,
                     (long long)h->nodes[(i - 1) / 2].t->deadline,
                     (unsigned long long)h->nodes[(i - 1) / 2].t->seq);
    }
    if (h->len)
        assert_ptr_equal(weft__timer_heap_min(h), h->nodes[0].t);
    else
        assert_null(weft__timer_heap_min(h));
}

/* ------------------------------------------------------------------------ */

static void test_timer_heap_empty(void **state)
{
    (void)state;
    struct weft__timer_heap h = WEFT__TIMER_HEAP_INIT;
    assert_null(weft__timer_heap_min(&h));
    assert_null(weft__timer_heap_pop(&h));
    assert_int_equal(h.len, 0);
    check_heap(&h);
    weft__timer_heap_free(&h);
    weft__timer_heap_free(&h); /* freeing an empty heap twice is fine */
    assert_null(h.nodes);
    assert_int_equal(h.cap, 0);
}

static void test_timer_heap_insert_pop_order(void **state)
{
    (void)state;
    static const int64_t deadlines[] = {50, 10, 40, 30, 20, 70, 60, 0, -5, 100};
    enum { N = sizeof deadlines / sizeof deadlines[0] };
    struct weft__timer t[N];
    struct weft__timer_heap h = WEFT__TIMER_HEAP_INIT;
    memset(t, 0, sizeof t);
    for (size_t i = 0; i < N; i++) {
        assert_false(weft__timer_pending(&t[i]));
        assert_int_equal(weft__timer_heap_insert(&h, &t[i], deadlines[i]), 0);
        assert_true(weft__timer_pending(&t[i]));
        assert_int_equal(t[i].deadline, deadlines[i]);
        assert_int_equal(h.len, i + 1);
        check_heap(&h);
    }
    static const int64_t sorted[N] = {-5, 0, 10, 20, 30, 40, 50, 60, 70, 100};
    for (size_t i = 0; i < N; i++) {
        struct weft__timer *m = weft__timer_heap_min(&h);
        struct weft__timer *p = weft__timer_heap_pop(&h);
        assert_ptr_equal(m, p);
        assert_int_equal(p->deadline, sorted[i]);
        assert_false(weft__timer_pending(p));
        assert_int_equal(p->slot, 0);
        check_heap(&h);
    }
    assert_null(weft__timer_heap_pop(&h));
    weft__timer_heap_free(&h);
}

static void test_timer_heap_fifo_equal_deadlines(void **state)
{
    (void)state;
    enum { N = 200 };
    struct weft__timer t[N];
    struct weft__timer_heap h = WEFT__TIMER_HEAP_INIT;
    memset(t, 0, sizeof t);
    /* Deadlines 3, 1, 2, 3, 1, 2, ...: each deadline's timers must come out
       in the order they went in. */
    for (size_t i = 0; i < N; i++) {
        assert_int_equal(weft__timer_heap_insert(&h, &t[i], (int64_t)((i + 2) % 3) + 1), 0);
        check_heap(&h);
    }
    int64_t last_deadline = INT64_MIN;
    struct weft__timer *last = NULL;
    for (size_t i = 0; i < N; i++) {
        struct weft__timer *p = weft__timer_heap_pop(&h);
        assert_non_null(p);
        if (last && p->deadline == last_deadline)
            assert_true(p > last); /* t[] order is insertion order */
        else
            assert_true(p->deadline > last_deadline);
        last = p;
        last_deadline = p->deadline;
        check_heap(&h);
    }
    /* All equal: pure insertion order. */
    for (size_t i = 0; i < N; i++)
        assert_int_equal(weft__timer_heap_insert(&h, &t[i], 7), 0);
    for (size_t i = 0; i < N; i++)
        assert_ptr_equal(weft__timer_heap_pop(&h), &t[i]);
    weft__timer_heap_free(&h);
}

/* A timer removed and inserted again goes behind the timers already due at
   the same time: FIFO is by insertion, not by first insertion. */
static void test_timer_heap_reinsert_goes_last(void **state)
{
    (void)state;
    struct weft__timer a = {0}, b = {0}, c = {0};
    struct weft__timer_heap h = WEFT__TIMER_HEAP_INIT;
    assert_int_equal(weft__timer_heap_insert(&h, &a, 5), 0);
    assert_int_equal(weft__timer_heap_insert(&h, &b, 5), 0);
    assert_int_equal(weft__timer_heap_insert(&h, &c, 5), 0);
    weft__timer_heap_remove(&h, &a);
    assert_false(weft__timer_pending(&a));
    check_heap(&h);
    assert_int_equal(weft__timer_heap_insert(&h, &a, 5), 0);
    check_heap(&h);
    assert_ptr_equal(weft__timer_heap_pop(&h), &b);
    assert_ptr_equal(weft__timer_heap_pop(&h), &c);
    assert_ptr_equal(weft__timer_heap_pop(&h), &a);
    assert_null(weft__timer_heap_pop(&h));
    weft__timer_heap_free(&h);
}

static void test_timer_heap_remove_nonmember_is_noop(void **state)
{
    (void)state;
    struct weft__timer in[3] = {{0}}, out = {0};
    struct weft__timer_heap h = WEFT__TIMER_HEAP_INIT;
    /* On an empty heap, with no array at all. */
    weft__timer_heap_remove(&h, &out);
    assert_int_equal(h.len, 0);
    assert_false(weft__timer_pending(&out));
    for (int i = 0; i < 3; i++)
        assert_int_equal(weft__timer_heap_insert(&h, &in[i], 10 - i), 0);
    weft__timer_heap_remove(&h, &out);
    assert_int_equal(h.len, 3);
    check_heap(&h);
    /* Removing twice: the second is a no-op. */
    weft__timer_heap_remove(&h, &in[1]);
    assert_int_equal(h.len, 2);
    weft__timer_heap_remove(&h, &in[1]);
    assert_int_equal(h.len, 2);
    check_heap(&h);
    /* A popped timer is no member either. */
    struct weft__timer *p = weft__timer_heap_pop(&h);
    assert_ptr_equal(p, &in[2]);
    weft__timer_heap_remove(&h, p);
    assert_int_equal(h.len, 1);
    assert_ptr_equal(weft__timer_heap_min(&h), &in[0]);
    check_heap(&h);
    weft__timer_heap_free(&h);
}

/* Removing the root, the last slot, and the only timer. */
static void test_timer_heap_remove_root_last_only(void **state)
{
    (void)state;
    struct weft__timer t[7] = {{0}};
    struct weft__timer_heap h = WEFT__TIMER_HEAP_INIT;
    for (int i = 0; i < 7; i++)
        assert_int_equal(weft__timer_heap_insert(&h, &t[i], i * 10), 0);
    weft__timer_heap_remove(&h, h.nodes[0].t);         /* the root */
    check_heap(&h);
    assert_int_equal(weft__timer_heap_min(&h)->deadline, 10);
    weft__timer_heap_remove(&h, h.nodes[h.len - 1].t); /* the last slot */
    check_heap(&h);
    assert_int_equal(h.len, 5);
    while (h.len > 1)
        weft__timer_heap_remove(&h, h.nodes[h.len / 2].t);
    check_heap(&h);
    weft__timer_heap_remove(&h, h.nodes[0].t);         /* the only one */
    check_heap(&h);
    assert_int_equal(h.len, 0);
    for (int i = 0; i < 7; i++)
        assert_false(weft__timer_pending(&t[i]));
    weft__timer_heap_free(&h);
}

/*
 * Random inserts, removals at random positions, and pops, with the heap
 * checked after each; the timers popped at the end come out in order and
 * exactly the ones still in are popped.
 */
static void test_timer_heap_remove_random_positions(void **state)
{
    (void)state;
    enum { N = 2000, OPS = 20000 };
    struct weft__timer *t = calloc(N, sizeof *t);
    assert_non_null(t);
    struct weft__timer_heap h = WEFT__TIMER_HEAP_INIT;
    rng_seed(42);
    size_t members = 0;
    for (int op = 0; op < OPS; op++) {
        size_t k = rng_below(N);
        unsigned what = (unsigned)rng_below(10);
        if (what < 5) {                         /* insert (or re-insert) */
            if (!weft__timer_pending(&t[k])) {
                assert_int_equal(weft__timer_heap_insert(&h, &t[k],
                                                         (int64_t)rng_below(100)), 0);
                members++;
            }
        } else if (what < 8) {                  /* remove an arbitrary one */
            if (h.len) {
                struct weft__timer *victim = h.nodes[rng_below(h.len)].t;
                weft__timer_heap_remove(&h, victim);
                assert_false(weft__timer_pending(victim));
                members--;
            } else {
                weft__timer_heap_remove(&h, &t[k]); /* not in: no-op */
            }
        } else if (what < 9) {                  /* remove by timer, maybe absent */
            if (weft__timer_pending(&t[k]))
                members--;
            weft__timer_heap_remove(&h, &t[k]);
        } else {                                /* pop: must be the minimum */
            struct weft__timer *min = weft__timer_heap_min(&h);
            for (size_t i = 0; i < h.len; i++)
                assert_false(before(h.nodes[i].t, min));
            struct weft__timer *p = weft__timer_heap_pop(&h);
            assert_ptr_equal(p, min);
            if (p)
                members--;
        }
        assert_int_equal(h.len, members);
        check_heap(&h);
    }
    /* What is left pops in (deadline, seq) order. */
    struct weft__timer *prev = NULL;
    size_t popped = 0;
    while (h.len) {
        struct weft__timer *p = weft__timer_heap_pop(&h);
        if (prev)
            assert_true(before(prev, p));
        prev = p;
        popped++;
    }
    assert_int_equal(popped, members);
    for (size_t i = 0; i < N; i++)
        assert_false(weft__timer_pending(&t[i]));
    weft__timer_heap_free(&h);
    free(t);
}

static void test_timer_heap_reserve(void **state)
{
    (void)state;
    struct weft__timer_heap h = WEFT__TIMER_HEAP_INIT;
    assert_int_equal(weft__timer_heap_reserve(&h, 0), 0);
    assert_int_equal(h.len, 0);
    assert_int_equal(weft__timer_heap_reserve(&h, 1000), 0);
    assert_true(h.cap >= 1000);
    size_t cap = h.cap;
    struct weft__timer_entry *nodes = h.nodes;
    /* A smaller reservation changes nothing. */
    assert_int_equal(weft__timer_heap_reserve(&h, 10), 0);
    assert_int_equal(h.cap, cap);
    assert_ptr_equal(h.nodes, nodes);
    /* Inserting up to the reservation never moves the array. */
    struct weft__timer *t = calloc(cap, sizeof *t);
    assert_non_null(t);
    for (size_t i = 0; i < cap; i++) {
        assert_int_equal(weft__timer_heap_insert(&h, &t[i], (int64_t)(cap - i)), 0);
        assert_ptr_equal(h.nodes, nodes);
    }
    check_heap(&h);
    /* One more grows it and keeps the contents. */
    struct weft__timer extra = {0};
    assert_int_equal(weft__timer_heap_insert(&h, &extra, -1), 0);
    assert_true(h.cap > cap);
    check_heap(&h);
    assert_ptr_equal(weft__timer_heap_pop(&h), &extra);
    for (size_t i = 0; i < cap; i++)
        assert_ptr_equal(weft__timer_heap_pop(&h), &t[cap - 1 - i]);
    /* Free leaves a usable empty heap. */
    weft__timer_heap_free(&h);
    assert_int_equal(h.len, 0);
    assert_int_equal(h.cap, 0);
    assert_int_equal(weft__timer_heap_insert(&h, &extra, 3), 0);
    assert_ptr_equal(weft__timer_heap_pop(&h), &extra);
    weft__timer_heap_free(&h);
    free(t);
}

/* A million timers with many ties, inserted then popped in exact order. */
static void test_timer_heap_million(void **state)
{
    (void)state;
    enum { N = 1000000 };
    struct weft__timer *t = calloc(N, sizeof *t);
    assert_non_null(t);
    struct weft__timer_heap h = WEFT__TIMER_HEAP_INIT;
    rng_seed(1234567);
    for (size_t i = 0; i < N; i++)
        if (weft__timer_heap_insert(&h, &t[i], (int64_t)rng_below(50000)) != 0)
            fail_msg("insert %zu failed", i);
    assert_int_equal(h.len, N);
    /* Spot-check the invariant on the full heap (whole check: O(n)). */
    check_heap(&h);
    struct weft__timer *prev = NULL;
    for (size_t i = 0; i < N; i++) {
        struct weft__timer *p = weft__timer_heap_pop(&h);
        if (!p)
            fail_msg("pop %zu returned NULL", i);
        /* Same deadline: insertion order, i.e. address order in t[]. */
        if (prev && !(prev->deadline < p->deadline ||
                      (prev->deadline == p->deadline && prev < p)))
            fail_msg("pop %zu: %lld after %lld out of order", i,
                     (long long)p->deadline, (long long)prev->deadline);
        prev = p;
    }
    assert_null(weft__timer_heap_pop(&h));
    weft__timer_heap_free(&h);
    free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_timer_heap_empty),
        cmocka_unit_test(test_timer_heap_insert_pop_order),
        cmocka_unit_test(test_timer_heap_fifo_equal_deadlines),
        cmocka_unit_test(test_timer_heap_reinsert_goes_last),
        cmocka_unit_test(test_timer_heap_remove_nonmember_is_noop),
        cmocka_unit_test(test_timer_heap_remove_root_last_only),
        cmocka_unit_test(test_timer_heap_remove_random_positions),
        cmocka_unit_test(test_timer_heap_reserve),
        cmocka_unit_test(test_timer_heap_million),
    };
    return cmocka_run_group_tests_name("timer_heap", tests, NULL, NULL);
}
