/*
 * test_coro.c - the coroutine layer (include/weft/coro.h) against its
 * documented contract: values both ways, states, every misuse code, nesting,
 * symmetric transfer, close, names, stacks, alignment, and the switch's
 * preservation of callee-saved registers and floating-point control state.
 * Built twice: against weft as configured and against the other
 * WEFT_FP_CONTROL build (WEFT_FP_CONTROL_THREAD says which this one is),
 * with the floating-point rule of each.
 *
 * cmocka's assertions longjmp back to the test runner, which must never
 * happen from a coroutine's stack. So coroutine bodies only record: note()
 * appends to a trace the test compares afterwards, and EXPECT* keep the
 * first failed check, which assert_expectations() turns into a failure on
 * the thread's own stack.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fenv.h>
#include <float.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include <weft.h>

#include "support.h"

/* ------------------------------------------------------------------------ */
/* Recording from inside coroutines                                         */
/* ------------------------------------------------------------------------ */

enum { TRACE_MAX = 64 };
static intptr_t trace[TRACE_MAX]; /* what bodies and tests noted, in order */
static int traced;                /* entries in trace (TRACE_MAX + 1: full) */

static void note(intptr_t v)
{
    if (traced < TRACE_MAX)
        trace[traced++] = v;
    else
        traced = TRACE_MAX + 1;
}

static void format_trace(char *buf, size_t cap, const intptr_t *v, int n)
{
    size_t len = 0;
    buf[0] = '\0';
    for (int i = 0; i < n && len < cap; i++)
        len += (size_t)snprintf(buf + len, cap - len, "%s%ld", i ? " " : "", (long)v[i]);
}

static void assert_trace_is(const intptr_t *want, int n)
{
    if (traced != n || (n && memcmp(trace, want, (size_t)n * sizeof *want) != 0)) {
        char got[512], exp[512];
        format_trace(got, sizeof got, trace, traced > TRACE_MAX ? TRACE_MAX : traced);
        format_trace(exp, sizeof exp, want, n);
        fail_msg("trace is [%s]%s, expected [%s]", got,
                 traced > TRACE_MAX ? "..." : "", exp);
    }
}
#define ASSERT_TRACE(...)                                                   \
    assert_trace_is((const intptr_t[]){__VA_ARGS__},                        \
                    (int)(sizeof((const intptr_t[]){__VA_ARGS__}) / sizeof(intptr_t)))
#define ASSERT_TRACE_EMPTY() assert_trace_is(NULL, 0)

/* cmocka setup: reset() and an empty trace. */
static int reset_trace(void **state)
{
    traced = 0;
    return reset(state);
}

static weft_coro *make(weft_coro_fn fn, void *arg)
{
    weft_coro *co = NULL;
    assert_code(weft_coro_create(&co, fn, arg, NULL), 0);
    assert_non_null(co);
    return co;
}

/* ------------------------------------------------------------------------ */
/* Values                                                                   */
/* ------------------------------------------------------------------------ */

/*
 * Notes its argument and every value it receives; each yield hands out the
 * value that came in plus one. A 0 ends it, returning the sum of the values.
 */
static void *echo_body(void *arg, void *in)
{
    intptr_t sum = 0;
    void *next;
    note(N(arg));
    for (void *v = in; N(v) != 0; v = next) {
        note(N(v));
        sum += N(v);
        if (weft_coro_yield(P(N(v) + 1), &next) != 0)
            return P(-1);
    }
    note(0);
    return P(sum);
}

/* The first resume's value is the body's `in`, later ones come out of
   yield's *in, yielded values land in *out, the return value is final. */
static void test_coro_values_both_ways(void **state)
{
    (void)state;
    void *out = NULL;
    weft_coro *co = make(echo_body, P(7));
    assert_code(weft_coro_resume(co, P(42), &out), WEFT_CORO_YIELDED);
    assert_ptr_equal(out, P(43));
    assert_code(weft_coro_resume(co, P(5), &out), WEFT_CORO_YIELDED);
    assert_ptr_equal(out, P(6));
    assert_code(weft_coro_resume(co, P(100), &out), WEFT_CORO_YIELDED);
    assert_ptr_equal(out, P(101));
    assert_code(weft_coro_resume(co, P(0), &out), WEFT_CORO_RETURNED);
    assert_ptr_equal(out, P(147));
    assert_int_equal(WEFT_CORO_RETURNED, 1);
    assert_int_equal(WEFT_CORO_YIELDED, 0);
    ASSERT_TRACE(7, 42, 5, 100, 0);
    assert_int_equal(weft_coro_status(co), WEFT_CORO_DEAD);
    assert_code(weft_coro_destroy(co), 0);
}

static void *return_at_once_body(void *arg, void *in)
{
    note(N(in));
    return arg;
}

/* A body that never yields: the first resume reports RETURNED and its result. */
static void test_coro_return_without_yield(void **state)
{
    (void)state;
    void *out = NULL;
    weft_coro *co = make(return_at_once_body, P(0x5eed));
    assert_code(weft_coro_resume(co, P(3), &out), WEFT_CORO_RETURNED);
    assert_ptr_equal(out, P(0x5eed));
    assert_int_equal(weft_coro_status(co), WEFT_CORO_DEAD);
    ASSERT_TRACE(3);
    assert_code(weft_coro_destroy(co), 0);
}

static void *null_pointers_body(void *arg, void *in)
{
    void *v = P(-1);
    (void)arg;
    note(N(in));
    EXPECT_CODE(weft_coro_yield(P(1), NULL), 0); /* the value sent back is dropped */
    EXPECT_CODE(weft_coro_yield(P(2), &v), 0);
    note(N(v));
    return P(3);
}

/* NULL `out` to resume and NULL `in` to yield are accepted; a later resume
   with a real `out` still gets the right value. */
static void test_coro_null_in_out_pointers(void **state)
{
    (void)state;
    void *out = NULL;
    weft_coro *co = make(null_pointers_body, NULL);
    assert_code(weft_coro_resume(co, P(10), NULL), WEFT_CORO_YIELDED);
    assert_code(weft_coro_resume(co, P(20), &out), WEFT_CORO_YIELDED);
    assert_ptr_equal(out, P(2));
    assert_code(weft_coro_resume(co, P(30), &out), WEFT_CORO_RETURNED);
    assert_ptr_equal(out, P(3));
    ASSERT_TRACE(10, 30);
    assert_expectations();
    assert_code(weft_coro_destroy(co), 0);
}

/* ------------------------------------------------------------------------ */
/* States                                                                   */
/* ------------------------------------------------------------------------ */

struct pair {
    weft_coro *outer; /* resumed by the test */
    weft_coro *inner; /* created and resumed by outer */
    weft_coro *other; /* a third coroutine, when a test needs one */
};

static void *status_inner(void *arg, void *in)
{
    struct pair *p = arg;
    (void)in;
    note(weft_coro_status(p->inner));
    note(weft_coro_status(p->outer));
    EXPECT_CODE(weft_coro_yield(NULL, NULL), 0);
    return NULL;
}

static void *status_outer(void *arg, void *in)
{
    struct pair *p = arg;
    (void)in;
    note(weft_coro_status(p->outer));
    EXPECT_CODE(weft_coro_create(&p->inner, status_inner, p, NULL), 0);
    note(weft_coro_status(p->inner));
    EXPECT_CODE(weft_coro_resume(p->inner, NULL, NULL), WEFT_CORO_YIELDED);
    note(weft_coro_status(p->inner));
    note(weft_coro_status(p->outer));
    EXPECT_CODE(weft_coro_resume(p->inner, NULL, NULL), WEFT_CORO_RETURNED);
    note(weft_coro_status(p->inner));
    EXPECT_CODE(weft_coro_destroy(p->inner), 0);
    EXPECT_CODE(weft_coro_yield(NULL, NULL), 0);
    return NULL;
}

static void *yield_once_body(void *arg, void *in)
{
    (void)in;
    int rc = weft_coro_yield(arg, NULL);
    note(rc);
    return P(rc);
}

/* suspended before start, running inside, normal while it resumed another,
   suspended after a yield, dead after return and after close. */
static void test_coro_status_transitions(void **state)
{
    (void)state;
    struct pair p = {0};
    p.outer = make(status_outer, &p);
    note(weft_coro_status(p.outer));
    assert_code(weft_coro_resume(p.outer, NULL, NULL), WEFT_CORO_YIELDED);
    note(weft_coro_status(p.outer));
    assert_code(weft_coro_resume(p.outer, NULL, NULL), WEFT_CORO_RETURNED);
    note(weft_coro_status(p.outer));
    ASSERT_TRACE(WEFT_CORO_SUSPENDED, WEFT_CORO_RUNNING, WEFT_CORO_SUSPENDED,
                 WEFT_CORO_RUNNING, WEFT_CORO_NORMAL, WEFT_CORO_SUSPENDED,
                 WEFT_CORO_RUNNING, WEFT_CORO_DEAD, WEFT_CORO_SUSPENDED,
                 WEFT_CORO_DEAD);
    assert_expectations();
    assert_code(weft_coro_destroy(p.outer), 0);

    weft_coro *fresh = make(yield_once_body, NULL);
    weft_coro *started = make(yield_once_body, NULL);
    assert_code(weft_coro_resume(started, NULL, NULL), WEFT_CORO_YIELDED);
    assert_int_equal(weft_coro_status(started), WEFT_CORO_SUSPENDED);
    assert_code(weft_coro_close(fresh), 0);
    assert_code(weft_coro_close(started), 0);
    assert_int_equal(weft_coro_status(fresh), WEFT_CORO_DEAD);
    assert_int_equal(weft_coro_status(started), WEFT_CORO_DEAD);
    assert_code(weft_coro_destroy(fresh), 0);
    assert_code(weft_coro_destroy(started), 0);
}

/* ------------------------------------------------------------------------ */
/* Misuse                                                                   */
/* ------------------------------------------------------------------------ */

static void *transfer_null_body(void *arg, void *in)
{
    (void)arg, (void)in;
    note(weft_coro_transfer(NULL, NULL, NULL));
    return NULL;
}

/* NULL to every function: -EINVAL, or the documented value of a getter. */
static void test_coro_null_arguments(void **state)
{
    (void)state;
    weft_coro *co = NULL;
    assert_code(weft_coro_create(NULL, echo_body, NULL, NULL), -EINVAL);
    assert_code(weft_coro_create(&co, NULL, NULL, NULL), -EINVAL);
    assert_code(weft_coro_destroy(NULL), -EINVAL);
    assert_code(weft_coro_resume(NULL, NULL, NULL), -EINVAL);
    assert_code(weft_coro_close(NULL), -EINVAL);
    assert_code(weft_coro_set_name(NULL, "x"), -EINVAL);
    assert_code(weft_coro_set_userdata(NULL, P(1)), -EINVAL);
    assert_int_equal(weft_coro_status(NULL), WEFT_CORO_DEAD);
    assert_string_equal(weft_coro_name(NULL), "?");
    assert_int_equal(weft_coro_stack_size(NULL), 0);
    assert_null(weft_coro_userdata(NULL));
    /* Outside a coroutine, -EPERM comes first; inside, NULL is -EINVAL. */
    assert_code(weft_coro_transfer(NULL, NULL, NULL), -EPERM);
    co = make(transfer_null_body, NULL);
    assert_code(weft_coro_resume(co, NULL, NULL), WEFT_CORO_RETURNED);
    ASSERT_TRACE(-EINVAL);
    assert_code(weft_coro_destroy(co), 0);
}

/* Resuming a coroutine that returned or was closed is -EINVAL. */
static void test_coro_resume_dead(void **state)
{
    (void)state;
    weft_coro *returned = make(return_at_once_body, NULL);
    weft_coro *closed = make(yield_once_body, NULL);
    weft_coro *never = make(yield_once_body, NULL);
    assert_code(weft_coro_resume(returned, NULL, NULL), WEFT_CORO_RETURNED);
    assert_code(weft_coro_resume(closed, NULL, NULL), WEFT_CORO_YIELDED);
    assert_code(weft_coro_close(closed), 0);
    assert_code(weft_coro_close(never), 0);
    assert_code(weft_coro_resume(returned, NULL, NULL), -EINVAL);
    assert_code(weft_coro_resume(closed, NULL, NULL), -EINVAL);
    assert_code(weft_coro_resume(never, NULL, NULL), -EINVAL);
    assert_code(weft_coro_destroy(returned), 0);
    assert_code(weft_coro_destroy(closed), 0);
    assert_code(weft_coro_destroy(never), 0);
}

static void *busy_inner(void *arg, void *in)
{
    struct pair *p = arg;
    (void)in;
    EXPECT_CODE(weft_coro_resume(p->inner, NULL, NULL), -EBUSY); /* itself */
    EXPECT_CODE(weft_coro_resume(p->outer, NULL, NULL), -EBUSY); /* its resumer */
    return P(5);
}

static void *busy_outer(void *arg, void *in)
{
    struct pair *p = arg;
    void *v = NULL;
    (void)in;
    EXPECT_CODE(weft_coro_resume(p->outer, NULL, NULL), -EBUSY);
    EXPECT_CODE(weft_coro_create(&p->inner, busy_inner, p, NULL), 0);
    EXPECT_CODE(weft_coro_resume(p->inner, NULL, &v), WEFT_CORO_RETURNED);
    EXPECT(v == P(5));
    EXPECT_CODE(weft_coro_destroy(p->inner), 0);
    return P(6);
}

/* A running coroutine (itself) or a normal one (its resumer) is -EBUSY, and
   both carry on undisturbed. */
static void test_coro_resume_running_or_normal(void **state)
{
    (void)state;
    struct pair p = {0};
    void *out = NULL;
    p.outer = make(busy_outer, &p);
    assert_code(weft_coro_resume(p.outer, NULL, &out), WEFT_CORO_RETURNED);
    assert_ptr_equal(out, P(6));
    assert_expectations();
    assert_code(weft_coro_destroy(p.outer), 0);
}

struct outside {
    int yield_rc, transfer_rc, transfer_null_rc, status; /* seen by the thread */
};

static void *outside_thread(void *arg)
{
    struct outside *o = arg;
    weft_coro *co;
    /* No coroutine has ever run on this thread. */
    o->yield_rc = weft_coro_yield(NULL, NULL);
    o->transfer_null_rc = weft_coro_transfer(NULL, NULL, NULL);
    if (weft_coro_create(&co, yield_once_body, NULL, NULL) != 0)
        return NULL;
    o->transfer_rc = weft_coro_transfer(co, NULL, NULL);
    o->status = weft_coro_status(co);
    weft_coro_destroy(co);
    return NULL;
}

/* yield and transfer on a thread's own stack are -EPERM, both on a thread
   that never switched and on one that has run coroutines; nothing runs. */
static void test_coro_yield_transfer_outside(void **state)
{
    (void)state;
    struct outside o = {1, 1, 1, -1};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, outside_thread, &o), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_code(o.yield_rc, -EPERM);
    assert_code(o.transfer_null_rc, -EPERM);
    assert_code(o.transfer_rc, -EPERM);
    assert_int_equal(o.status, WEFT_CORO_SUSPENDED);

    weft_coro *co = make(return_at_once_body, NULL);
    assert_code(weft_coro_resume(co, P(1), NULL), WEFT_CORO_RETURNED);
    weft_coro *idle = make(return_at_once_body, NULL);
    assert_code(weft_coro_yield(P(1), NULL), -EPERM);
    assert_code(weft_coro_transfer(idle, NULL, NULL), -EPERM);
    assert_int_equal(weft_coro_status(idle), WEFT_CORO_SUSPENDED);
    ASSERT_TRACE(1); /* only the first coroutine ran */
    assert_code(weft_coro_destroy(co), 0);
    assert_code(weft_coro_destroy(idle), 0);
}

static void *transfer_misuse_inner(void *arg, void *in)
{
    struct pair *p = arg;
    (void)in;
    EXPECT_CODE(weft_coro_transfer(p->outer, NULL, NULL), -EBUSY); /* normal */
    EXPECT_CODE(weft_coro_transfer(p->inner, NULL, NULL), -EBUSY); /* running */
    return P(8);
}

static void *transfer_misuse_outer(void *arg, void *in)
{
    struct pair *p = arg;
    void *v = NULL;
    (void)in;
    EXPECT_CODE(weft_coro_transfer(p->other, NULL, NULL), -EINVAL); /* dead */
    EXPECT_CODE(weft_coro_transfer(p->outer, NULL, NULL), -EBUSY);  /* itself */
    EXPECT_CODE(weft_coro_resume(p->inner, NULL, &v), WEFT_CORO_RETURNED);
    EXPECT(v == P(8));
    return P(9);
}

/* Transfer to a dead coroutine is -EINVAL, to a running or normal one -EBUSY. */
static void test_coro_transfer_misuse(void **state)
{
    (void)state;
    struct pair p = {0};
    void *out = NULL;
    p.other = make(yield_once_body, NULL);
    assert_code(weft_coro_close(p.other), 0);
    p.outer = make(transfer_misuse_outer, &p);
    p.inner = make(transfer_misuse_inner, &p);
    assert_code(weft_coro_resume(p.outer, NULL, &out), WEFT_CORO_RETURNED);
    assert_ptr_equal(out, P(9));
    assert_expectations();
    assert_code(weft_coro_destroy(p.outer), 0);
    assert_code(weft_coro_destroy(p.inner), 0);
    assert_code(weft_coro_destroy(p.other), 0);
}

/* A second close, or a close after return, is -EALREADY. */
static void test_coro_close_twice(void **state)
{
    (void)state;
    weft_coro *started = make(yield_once_body, NULL);
    weft_coro *never = make(yield_once_body, NULL);
    weft_coro *returned = make(return_at_once_body, NULL);
    assert_code(weft_coro_resume(started, NULL, NULL), WEFT_CORO_YIELDED);
    assert_code(weft_coro_resume(returned, NULL, NULL), WEFT_CORO_RETURNED);
    assert_code(weft_coro_close(started), 0);
    assert_code(weft_coro_close(started), -EALREADY);
    assert_code(weft_coro_close(never), 0);
    assert_code(weft_coro_close(never), -EALREADY);
    assert_code(weft_coro_close(returned), -EALREADY);
    assert_code(weft_coro_destroy(started), 0);
    assert_code(weft_coro_destroy(never), 0);
    assert_code(weft_coro_destroy(returned), 0);
}

static void *close_busy_inner(void *arg, void *in)
{
    struct pair *p = arg;
    (void)in;
    EXPECT_CODE(weft_coro_close(p->outer), -EBUSY);   /* normal */
    EXPECT_CODE(weft_coro_destroy(p->outer), -EBUSY);
    EXPECT_CODE(weft_coro_close(p->inner), -EBUSY);   /* running */
    EXPECT_CODE(weft_coro_destroy(p->inner), -EBUSY);
    return P(2);
}

static void *close_busy_outer(void *arg, void *in)
{
    struct pair *p = arg;
    void *v = NULL;
    (void)in;
    EXPECT_CODE(weft_coro_close(p->outer), -EBUSY);
    EXPECT_CODE(weft_coro_destroy(p->outer), -EBUSY);
    EXPECT_CODE(weft_coro_create(&p->inner, close_busy_inner, p, NULL), 0);
    EXPECT_CODE(weft_coro_resume(p->inner, NULL, &v), WEFT_CORO_RETURNED);
    EXPECT(v == P(2));
    EXPECT_CODE(weft_coro_destroy(p->inner), 0);
    EXPECT(weft_coro_status(p->outer) == WEFT_CORO_RUNNING);
    EXPECT_CODE(weft_coro_yield(P(3), NULL), 0);
    return P(4);
}

/* close and destroy of a running or normal coroutine are -EBUSY and free
   nothing: the coroutine yields and returns normally afterwards. */
static void test_coro_close_destroy_busy(void **state)
{
    (void)state;
    struct pair p = {0};
    void *out = NULL;
    p.outer = make(close_busy_outer, &p);
    assert_code(weft_coro_resume(p.outer, NULL, &out), WEFT_CORO_YIELDED);
    assert_ptr_equal(out, P(3));
    assert_code(weft_coro_resume(p.outer, NULL, &out), WEFT_CORO_RETURNED);
    assert_ptr_equal(out, P(4));
    assert_expectations();
    assert_code(weft_coro_destroy(p.outer), 0);
}

/* Stack sizes outside [WEFT_STACK_MIN, WEFT_STACK_MAX] are -EINVAL; both
   bounds themselves are accepted. */
static void test_coro_create_bad_stack_sizes(void **state)
{
    (void)state;
    static const size_t bad[] = {WEFT_STACK_MIN - 1, 1, WEFT_STACK_MAX + 1, SIZE_MAX};
    weft_coro *co = NULL;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        weft_coro_opts o = {.stack_size = bad[i]};
        assert_code(weft_coro_create(&co, echo_body, NULL, &o), -EINVAL);
    }
    weft_coro_opts lo = {.stack_size = WEFT_STACK_MIN};
    void *out = NULL;
    assert_code(weft_coro_create(&co, return_at_once_body, P(11), &lo), 0);
    assert_true(weft_coro_stack_size(co) >= WEFT_STACK_MIN - 256);
    assert_code(weft_coro_resume(co, NULL, &out), WEFT_CORO_RETURNED);
    assert_ptr_equal(out, P(11));
    assert_code(weft_coro_destroy(co), 0);

    weft_coro_opts hi = {.stack_size = WEFT_STACK_MAX};
    assert_code(weft_coro_create(&co, return_at_once_body, P(12), &hi), 0);
    assert_true(weft_coro_stack_size(co) >= WEFT_STACK_MAX - 256);
    assert_true(weft_coro_stack_size(co) <= WEFT_STACK_MAX);
    assert_code(weft_coro_destroy(co), 0);
}

/* Parses VmSize from /proc/self/status; 0 when unknown. */
static unsigned long long vm_size_bytes(void)
{
    char line[256];
    unsigned long long kib = 0;
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmSize: %llu kB", &kib) == 1)
            break;
    fclose(f);
    return kib * 1024;
}

/*
 * With the address space capped (in a child), a stack that cannot be mapped
 * is -ENOMEM. qemu-user accepts RLIMIT_AS but ignores it; the child tells by
 * mapping the same size itself, and the test is then skipped.
 */
static void test_coro_create_enomem(void **state)
{
    (void)state;
    enum { SKIP = 77 };
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        size_t big = (size_t)768 << 20; /* a size class nothing else uses */
        unsigned long long vm = vm_size_bytes();
        struct rlimit lim = {vm + (64 << 20), vm + (64 << 20)};
        weft_coro *co;
        weft_coro_opts o = {.stack_size = big};
        if (!vm || setrlimit(RLIMIT_AS, &lim) != 0)
            _exit(SKIP);
        void *m = mmap(NULL, big, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (m != MAP_FAILED)
            _exit(SKIP);
        _exit(-weft_coro_create(&co, echo_body, NULL, &o));
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    if (WEXITSTATUS(status) == SKIP) {
        print_message("RLIMIT_AS is not enforced here (qemu-user?): skipped\n");
        skip();
    }
    assert_code(-WEXITSTATUS(status), -ENOMEM);
}

/* ------------------------------------------------------------------------ */
/* Nesting: "yield from"                                                    */
/* ------------------------------------------------------------------------ */

/*
 * Python's "yield from fn()": runs fn as a sub-coroutine until it returns,
 * passing its values out to our resumer and our resumer's values in to it.
 * Returns the sub-coroutine's result in *result; 0, or a yield's error.
 */
static int yield_from(weft_coro_fn fn, void *first, void **result)
{
    weft_coro *sub;
    void *v, *in = first;
    int rc;
    if ((rc = weft_coro_create(&sub, fn, NULL, NULL)) != 0)
        return rc;
    while ((rc = weft_coro_resume(sub, in, &v)) == WEFT_CORO_YIELDED)
        if ((rc = weft_coro_yield(v, &in)) < 0)
            break;
    if (rc == WEFT_CORO_RETURNED && result)
        *result = v;
    EXPECT_CODE(weft_coro_destroy(sub), 0);
    return rc < 0 ? rc : 0;
}

/* Yields n and notes (negated) the value it is resumed with. */
static int yield_noting(intptr_t n, void **in)
{
    int rc = weft_coro_yield(P(n), in);
    note(-N(*in));
    return rc;
}

static void *gen_3(void *arg, void *in)
{
    void *got = NULL;
    (void)arg, (void)in;
    EXPECT_CODE(yield_noting(3, &got), 0);
    return P(3000);
}

static void *gen_234(void *arg, void *in)
{
    void *got = NULL, *res = NULL;
    (void)arg, (void)in;
    if (yield_noting(2, &got) == 0 && yield_from(gen_3, got, &res) == 0) {
        note(N(res));
        EXPECT_CODE(yield_noting(4, &got), 0);
    }
    return P(234);
}

static void *main_gen(void *arg, void *in)
{
    void *got = NULL;
    (void)arg, (void)in;
    if (yield_noting(1, &got) == 0 && yield_from(gen_234, got, NULL) == 0)
        EXPECT_CODE(yield_noting(5, &got), 0);
    return P(12345);
}

/*
 * Seed 000's `for v in main(): print(v)` gives 1 2 3 4 5 through two levels
 * of delegation; each value the test sends back (ten times the one it got)
 * reaches the innermost generator, and gen_3's result reaches gen_234.
 */
static void test_coro_yield_from_passes_values(void **state)
{
    (void)state;
    weft_coro *gen = make(main_gen, NULL);
    void *v = NULL, *send = NULL;
    int rc;
    while ((rc = weft_coro_resume(gen, send, &v)) == WEFT_CORO_YIELDED) {
        note(N(v));
        send = P(N(v) * 10);
    }
    assert_code(rc, WEFT_CORO_RETURNED);
    assert_ptr_equal(v, P(12345));
    ASSERT_TRACE(1, -10, 2, -20, 3, -30, 3000, 4, -40, 5, -50);
    assert_expectations();
    assert_code(weft_coro_destroy(gen), 0);
}

static void *func2(void *arg, void *in)
{
    (void)arg, (void)in;
    if (weft_coro_yield(P(3), NULL) == 0)
        weft_coro_yield(P(4), NULL);
    return NULL;
}

static void *func1(void *arg, void *in)
{
    (void)arg, (void)in;
    if (weft_coro_yield(P(1), NULL) == 0 && yield_from(func2, NULL, NULL) == 0)
        weft_coro_yield(P(2), NULL);
    return NULL;
}

/* Seed 001: func1 yields 1, then func2's 3 and 4, then 2. */
static void test_coro_yield_from_seed_order(void **state)
{
    (void)state;
    weft_coro *gen = make(func1, NULL);
    void *v;
    while (weft_coro_resume(gen, NULL, &v) == WEFT_CORO_YIELDED)
        note(N(v));
    ASSERT_TRACE(1, 3, 4, 2);
    assert_expectations();
    assert_code(weft_coro_destroy(gen), 0);
}

/* ------------------------------------------------------------------------ */
/* Symmetric transfer                                                       */
/* ------------------------------------------------------------------------ */

static weft_coro *gr1, *gr2; /* the two greenlets of the transfer tests */

static void *greenlet1(void *arg, void *in)
{
    void *got = NULL;
    (void)arg;
    note(1);
    note(N(in));
    int rc = weft_coro_transfer(gr2, P(200), &got); /* gr2 starts with 200 */
    EXPECT_CODE(rc, 0);
    note(2);
    note(N(got));
    rc = weft_coro_transfer(gr2, P(400), &got);
    note(rc); /* back here only when the test destroys gr1 */
    return P(-1);
}

static void *greenlet2(void *arg, void *in)
{
    void *got = NULL;
    (void)arg;
    note(3);
    note(N(in));
    EXPECT_CODE(weft_coro_transfer(gr1, P(300), &got), 0);
    note(4);
    note(N(got));
    return P(500);
}

/*
 * greenlet's switch(): main resumes gr1, which hands control to gr2 and back
 * and to gr2 again: 1 3 2 4, each transfer carrying its value. When gr2
 * returns, main - the resumer of the chain - gets its result; gr1 is still
 * suspended in its last transfer, which destroying it cancels.
 */
static void test_coro_transfer_greenlet(void **state)
{
    (void)state;
    void *out = NULL;
    gr1 = make(greenlet1, NULL);
    gr2 = make(greenlet2, NULL);
    assert_code(weft_coro_resume(gr1, P(100), &out), WEFT_CORO_RETURNED);
    assert_ptr_equal(out, P(500));
    assert_int_equal(weft_coro_status(gr1), WEFT_CORO_SUSPENDED);
    assert_int_equal(weft_coro_status(gr2), WEFT_CORO_DEAD);
    assert_null(weft_coro_current());
    assert_code(weft_coro_destroy(gr1), 0);
    assert_code(weft_coro_destroy(gr2), 0);
    ASSERT_TRACE(1, 100, 3, 200, 2, 300, 4, 400, -ECANCELED);
    assert_expectations();
}

static void *chain_a(void *arg, void *in)
{
    struct pair *p = arg;
    void *got = NULL;
    note(N(in));
    EXPECT_CODE(weft_coro_transfer(p->inner, P(2), &got), 0);
    note(N(got));
    return P(11);
}

static void *chain_b(void *arg, void *in)
{
    void *got = NULL;
    (void)arg;
    note(N(in));
    EXPECT_CODE(weft_coro_yield(P(7), &got), 0);
    note(N(got));
    return P(9);
}

/* Resumes outer (which transfers to inner), notes what comes out. */
static void *chain_resumer(void *arg, void *in)
{
    struct pair *p = arg;
    void *out = NULL;
    (void)in;
    EXPECT_CODE(weft_coro_resume(p->outer, P(1), &out), WEFT_CORO_YIELDED);
    note(N(out));
    EXPECT(weft_coro_status(p->outer) == WEFT_CORO_SUSPENDED);
    EXPECT(weft_coro_status(p->inner) == WEFT_CORO_SUSPENDED);
    return NULL;
}

/*
 * The coroutine transferred to inherits the resumer: when it yields, its
 * value comes out of the resume that started the chain (here made by another
 * coroutine, not the thread); each of the two can then be resumed alone.
 */
static void test_coro_transfer_yield_goes_to_resumer(void **state)
{
    (void)state;
    struct pair p = {0};
    void *out = NULL;
    p.outer = make(chain_a, &p);
    p.inner = make(chain_b, &p);
    p.other = make(chain_resumer, &p);
    assert_code(weft_coro_resume(p.other, NULL, NULL), WEFT_CORO_RETURNED);
    assert_code(weft_coro_resume(p.inner, P(8), &out), WEFT_CORO_RETURNED);
    assert_ptr_equal(out, P(9));
    assert_code(weft_coro_resume(p.outer, P(10), &out), WEFT_CORO_RETURNED);
    assert_ptr_equal(out, P(11));
    ASSERT_TRACE(1, 2, 7, 8, 10);
    assert_expectations();
    assert_code(weft_coro_destroy(p.outer), 0);
    assert_code(weft_coro_destroy(p.inner), 0);
    assert_code(weft_coro_destroy(p.other), 0);
}

static void *transfer_null_in_body(void *arg, void *in)
{
    (void)in;
    EXPECT_CODE(weft_coro_transfer(arg, P(5), NULL), 0);
    note(50);
    return P(51);
}

/* transfer accepts a NULL `in`: the value it is resumed with is dropped. */
static void test_coro_transfer_null_in(void **state)
{
    (void)state;
    void *out = NULL;
    weft_coro *target = make(yield_once_body, P(6));
    weft_coro *co = make(transfer_null_in_body, target);
    assert_code(weft_coro_resume(co, NULL, &out), WEFT_CORO_YIELDED);
    assert_ptr_equal(out, P(6)); /* target's yield, through co's resume */
    assert_code(weft_coro_resume(co, P(99), &out), WEFT_CORO_RETURNED);
    assert_ptr_equal(out, P(51));
    ASSERT_TRACE(50);
    assert_expectations();
    assert_code(weft_coro_destroy(co), 0);
    assert_code(weft_coro_destroy(target), 0); /* closes it: its yield fails */
    ASSERT_TRACE(50, -ECANCELED);
}

/* ------------------------------------------------------------------------ */
/* Close                                                                    */
/* ------------------------------------------------------------------------ */

struct resource {
    int held;          /* 1 while the body holds it */
    weft_coro *other;  /* a suspended coroutine the body tries to reach */
};

/* Takes the resource, yields until cancelled, then releases it. */
static void *cleanup_body(void *arg, void *in)
{
    struct resource *r = arg;
    int rc;
    (void)in;
    r->held = 1;
    note(1);
    while ((rc = weft_coro_yield(P(1), NULL)) == 0)
        note(2);
    note(rc);
    note(weft_coro_yield(P(2), NULL));             /* at once, no suspension */
    note(r->other ? weft_coro_transfer(r->other, NULL, NULL) : -ECANCELED);
    note(weft_coro_status(weft_coro_current()));
    r->held = 0;
    note(3);
    return P(99);
}

/*
 * close: the pending yield returns -ECANCELED; later yields and transfers
 * return -ECANCELED at once (else close would come back before the release);
 * the resource is released by the time close returns; the coroutine is dead.
 */
static void test_coro_close_runs_cleanup(void **state)
{
    (void)state;
    struct resource r = {0};
    r.other = make(return_at_once_body, P(77));
    weft_coro *co = make(cleanup_body, &r);
    assert_code(weft_coro_resume(co, NULL, NULL), WEFT_CORO_YIELDED);
    assert_code(weft_coro_resume(co, NULL, NULL), WEFT_CORO_YIELDED);
    assert_int_equal(r.held, 1);
    assert_code(weft_coro_close(co), 0);
    assert_int_equal(r.held, 0);
    ASSERT_TRACE(1, 2, -ECANCELED, -ECANCELED, -ECANCELED, WEFT_CORO_RUNNING, 3);
    assert_int_equal(weft_coro_status(co), WEFT_CORO_DEAD);
    assert_int_equal(weft_coro_status(r.other), WEFT_CORO_SUSPENDED);
    assert_code(weft_coro_resume(co, NULL, NULL), -EINVAL);
    assert_code(weft_coro_destroy(co), 0);
    assert_code(weft_coro_destroy(r.other), 0);
}

/* Closing a coroutine that never started does not run its body. */
static void test_coro_close_unstarted(void **state)
{
    (void)state;
    struct resource r = {0};
    weft_coro *co = make(cleanup_body, &r);
    assert_code(weft_coro_close(co), 0);
    ASSERT_TRACE_EMPTY();
    assert_int_equal(weft_coro_status(co), WEFT_CORO_DEAD);
    assert_code(weft_coro_destroy(co), 0);
    ASSERT_TRACE_EMPTY();

    co = make(cleanup_body, &r); /* destroyed unstarted: still never runs */
    assert_code(weft_coro_destroy(co), 0);
    ASSERT_TRACE_EMPTY();
}

/* Destroying a suspended coroutine that started closes it: cleanup runs. */
static void test_coro_destroy_runs_cleanup(void **state)
{
    (void)state;
    struct resource r = {0};
    weft_coro *co = make(cleanup_body, &r);
    assert_code(weft_coro_resume(co, NULL, NULL), WEFT_CORO_YIELDED);
    assert_int_equal(r.held, 1);
    assert_code(weft_coro_destroy(co), 0);
    assert_int_equal(r.held, 0);
    ASSERT_TRACE(1, -ECANCELED, -ECANCELED, -ECANCELED, WEFT_CORO_RUNNING, 3);
}

/* ------------------------------------------------------------------------ */
/* Inspection                                                               */
/* ------------------------------------------------------------------------ */

static void *current_inner(void *arg, void *in)
{
    struct pair *p = arg;
    (void)in;
    EXPECT(weft_coro_current() == p->inner);
    EXPECT_CODE(weft_coro_yield(NULL, NULL), 0);
    EXPECT(weft_coro_current() == p->inner);
    return NULL;
}

static void *current_outer(void *arg, void *in)
{
    struct pair *p = arg;
    (void)in;
    EXPECT(weft_coro_current() == p->outer);
    EXPECT_CODE(weft_coro_create(&p->inner, current_inner, p, NULL), 0);
    EXPECT(weft_coro_current() == p->outer);
    EXPECT_CODE(weft_coro_resume(p->inner, NULL, NULL), WEFT_CORO_YIELDED);
    EXPECT(weft_coro_current() == p->outer);
    EXPECT_CODE(weft_coro_yield(NULL, NULL), 0);
    EXPECT(weft_coro_current() == p->outer);
    EXPECT_CODE(weft_coro_resume(p->inner, NULL, NULL), WEFT_CORO_RETURNED);
    EXPECT(weft_coro_current() == p->outer);
    EXPECT_CODE(weft_coro_destroy(p->inner), 0);
    return NULL;
}

/* current is NULL on the thread's stack, the coroutine inside it, and the
   innermost one when nested, before and after every switch. */
static void test_coro_current(void **state)
{
    (void)state;
    struct pair p = {0};
    assert_null(weft_coro_current());
    p.outer = make(current_outer, &p);
    assert_null(weft_coro_current());
    assert_code(weft_coro_resume(p.outer, NULL, NULL), WEFT_CORO_YIELDED);
    assert_null(weft_coro_current());
    assert_code(weft_coro_resume(p.outer, NULL, NULL), WEFT_CORO_RETURNED);
    assert_null(weft_coro_current());
    assert_expectations();
    assert_code(weft_coro_destroy(p.outer), 0);
}

static void *name_body(void *arg, void *in)
{
    (void)arg, (void)in;
    EXPECT(strcmp(weft_coro_name(weft_coro_current()), "worker") == 0);
    return NULL;
}

/* Names are copied, truncated to 31 bytes, cleared by NULL; "" by default. */
static void test_coro_names(void **state)
{
    (void)state;
    char buf[64];
    const char *long_name = "0123456789abcdefghijklmnopqrstuvwxyzABCDEF"; /* 42 */
    weft_coro *co = make(name_body, NULL), *named;
    assert_string_equal(weft_coro_name(co), "");
    strcpy(buf, "worker");
    assert_code(weft_coro_set_name(co, buf), 0);
    strcpy(buf, "changed"); /* the name was copied */
    assert_string_equal(weft_coro_name(co), "worker");
    assert_code(weft_coro_resume(co, NULL, NULL), WEFT_CORO_RETURNED);
    assert_expectations();

    assert_code(weft_coro_set_name(co, long_name), 0);
    assert_int_equal(strlen(weft_coro_name(co)), 31);
    assert_memory_equal(weft_coro_name(co), long_name, 31);
    assert_code(weft_coro_set_name(co, "0123456789012345678901234567890"), 0); /* 31 */
    assert_string_equal(weft_coro_name(co), "0123456789012345678901234567890");
    assert_code(weft_coro_set_name(co, NULL), 0);
    assert_string_equal(weft_coro_name(co), "");
    assert_code(weft_coro_destroy(co), 0);

    weft_coro_opts o = {.name = long_name};
    assert_code(weft_coro_create(&named, name_body, NULL, &o), 0);
    assert_int_equal(strlen(weft_coro_name(named)), 31);
    assert_memory_equal(weft_coro_name(named), long_name, 31);
    assert_code(weft_coro_destroy(named), 0);
}

static void *userdata_body(void *arg, void *in)
{
    (void)in;
    EXPECT(weft_coro_userdata(weft_coro_current()) == arg);
    return NULL;
}

/* User data is NULL until set, then exactly what was stored. */
static void test_coro_userdata(void **state)
{
    (void)state;
    int mine;
    weft_coro *co = make(userdata_body, &mine);
    assert_null(weft_coro_userdata(co));
    assert_code(weft_coro_set_userdata(co, &mine), 0);
    assert_ptr_equal(weft_coro_userdata(co), &mine);
    assert_code(weft_coro_resume(co, NULL, NULL), WEFT_CORO_RETURNED);
    assert_ptr_equal(weft_coro_userdata(co), &mine); /* kept after death */
    assert_code(weft_coro_set_userdata(co, NULL), 0);
    assert_null(weft_coro_userdata(co));
    assert_expectations();
    assert_code(weft_coro_destroy(co), 0);
}

/*
 * The usable size is the requested one rounded up to a page, less the
 * coroutine's record (documented as about 200 bytes; here more than 0 and at
 * most 256): the same overhead for every size.
 */
static void test_coro_stack_size(void **state)
{
    (void)state;
    static const size_t asked[] = {0, 20000, WEFT_STACK_MIN, 100 * 1024 + 1, 1 << 20};
    size_t page = (size_t)sysconf(_SC_PAGESIZE), overhead = 0;
    for (size_t i = 0; i < sizeof asked / sizeof asked[0]; i++) {
        weft_coro_opts o = {.stack_size = asked[i]};
        size_t want = asked[i] ? asked[i] : WEFT_STACK_DEFAULT;
        size_t rounded = (want + page - 1) / page * page;
        weft_coro *co = NULL;
        assert_code(weft_coro_create(&co, echo_body, NULL, &o), 0);
        size_t got = weft_coro_stack_size(co);
        assert_true(got < rounded); /* the record takes its share */
        assert_true(got + 256 >= rounded);
        assert_true(got + 256 >= want);
        if (i == 0)
            overhead = rounded - got;
        assert_int_equal(rounded - got, overhead);
        assert_code(weft_coro_destroy(co), 0);
    }
    assert_int_equal(WEFT_STACK_DEFAULT, 64 * 1024);
}

/* ------------------------------------------------------------------------ */
/* Many coroutines, coroutines created inside coroutines                    */
/* ------------------------------------------------------------------------ */

static long live_resources; /* held by suspended hold_body coroutines */

static void *hold_body(void *arg, void *in)
{
    (void)in;
    live_resources++;
    int rc = weft_coro_yield(arg, NULL);
    live_resources--;
    return P(rc);
}

/* 100,000 coroutines suspended at once, each with a live frame; destroying
   them all runs every one's cleanup. */
static void test_coro_100k_live(void **state)
{
    (void)state;
    enum { COUNT = 100000 };
    weft_coro **cos = calloc(COUNT, sizeof *cos);
    long bad_create = 0, bad_resume = 0, not_suspended = 0, bad_destroy = 0;
    assert_non_null(cos);
    live_resources = 0;
    for (int i = 0; i < COUNT; i++)
        bad_create += weft_coro_create(&cos[i], hold_body, P(i), NULL) != 0;
    assert_int_equal(bad_create, 0);
    for (int i = 0; i < COUNT; i++) {
        void *out = NULL;
        bad_resume += weft_coro_resume(cos[i], NULL, &out) != WEFT_CORO_YIELDED || out != P(i);
    }
    assert_int_equal(bad_resume, 0);
    assert_int_equal(live_resources, COUNT);
    for (int i = 0; i < COUNT; i++)
        not_suspended += weft_coro_status(cos[i]) != WEFT_CORO_SUSPENDED;
    assert_int_equal(not_suspended, 0);
    for (int i = 0; i < COUNT; i++)
        bad_destroy += weft_coro_destroy(cos[i]) != 0;
    assert_int_equal(bad_destroy, 0);
    assert_int_equal(live_resources, 0);
    free(cos);
}

static void *child_body(void *arg, void *in)
{
    (void)arg;
    EXPECT_CODE(weft_coro_yield(P(N(in) * 2), &in), 0);
    return P(N(in) + 1);
}

/* Creates a child, runs it to the end, then creates another and yields it
   out, so it outlives the activation (and the coroutine) that made it. */
static void *parent_body(void *arg, void *in)
{
    weft_coro *child = NULL;
    void *v = NULL;
    (void)arg, (void)in;
    EXPECT_CODE(weft_coro_create(&child, child_body, NULL, NULL), 0);
    EXPECT_CODE(weft_coro_resume(child, P(21), &v), WEFT_CORO_YIELDED);
    EXPECT(v == P(42));
    EXPECT_CODE(weft_coro_resume(child, P(1), &v), WEFT_CORO_RETURNED);
    EXPECT(v == P(2));
    EXPECT_CODE(weft_coro_destroy(child), 0);
    EXPECT_CODE(weft_coro_create(&child, child_body, NULL, NULL), 0);
    EXPECT_CODE(weft_coro_resume(child, P(5), &v), WEFT_CORO_YIELDED);
    EXPECT(v == P(10));
    return child;
}

/* Coroutines created inside coroutines are independent of their creator. */
static void test_coro_create_inside_coroutine(void **state)
{
    (void)state;
    void *out = NULL;
    weft_coro *parent = make(parent_body, NULL);
    assert_code(weft_coro_resume(parent, NULL, &out), WEFT_CORO_RETURNED);
    assert_code(weft_coro_destroy(parent), 0);
    weft_coro *child = out;
    assert_non_null(child);
    assert_int_equal(weft_coro_status(child), WEFT_CORO_SUSPENDED);
    assert_code(weft_coro_resume(child, P(7), &out), WEFT_CORO_RETURNED);
    assert_ptr_equal(out, P(8));
    assert_expectations();
    assert_code(weft_coro_destroy(child), 0);
}

/* ------------------------------------------------------------------------ */
/* Stack: alignment and depth                                               */
/* ------------------------------------------------------------------------ */

typedef float v4 __attribute__((vector_size(16)));

/*
 * Checks, in a frame of its own, what a misaligned stack breaks: a 16-byte
 * aligned local and the frame address, aligned vector loads and stores of
 * stack slots (movaps faults on x86-64), and printf of doubles.
 */
__attribute__((noinline)) static void check_alignment(int where)
{
    _Alignas(16) volatile char local[16];
    volatile v4 a = {1.5f, 2.5f, 3.5f, 4.5f};
    volatile v4 b = {2.0f, 4.0f, 8.0f, 16.0f};
    char buf[64];
    local[0] = 1;
    if (((uintptr_t)local & 15) != 0)
        expect_fail(__FILE__, __LINE__, "site %d: local at %p", where, (void *)local);
    if (((uintptr_t)__builtin_frame_address(0) & 15) != 0)
        expect_fail(__FILE__, __LINE__, "site %d: frame at %p", where,
                    __builtin_frame_address(0));
    v4 c = a * b;
    EXPECT(c[0] == 3.0f && c[1] == 10.0f && c[2] == 28.0f && c[3] == 72.0f);
    snprintf(buf, sizeof buf, "%.3f %.3f %.1f", 3.14159265, 2.0 / 3.0, 1e10);
    EXPECT(strcmp(buf, "3.142 0.667 10000000000.0") == 0);
}

static void *aligned_inner(void *arg, void *in)
{
    (void)arg, (void)in;
    check_alignment(3);
    EXPECT_CODE(weft_coro_yield(NULL, NULL), 0);
    check_alignment(4);
    return NULL;
}

static void *aligned_outer(void *arg, void *in)
{
    weft_coro *inner = NULL;
    (void)in;
    check_alignment(1);
    EXPECT_CODE(weft_coro_yield(NULL, NULL), 0);
    check_alignment(2);
    EXPECT_CODE(weft_coro_create(&inner, aligned_inner, NULL, NULL), 0);
    EXPECT_CODE(weft_coro_resume(inner, NULL, NULL), WEFT_CORO_YIELDED);
    check_alignment(5);
    EXPECT_CODE(weft_coro_resume(inner, NULL, NULL), WEFT_CORO_RETURNED);
    EXPECT_CODE(weft_coro_destroy(inner), 0);
    EXPECT_CODE(weft_coro_transfer(arg, NULL, NULL), 0); /* started by transfer */
    check_alignment(7);
    return NULL;
}

static void *aligned_target(void *arg, void *in)
{
    (void)arg, (void)in;
    check_alignment(6);
    return NULL;
}

/* The stack is 16-byte aligned at every call inside a coroutine: first run,
   after a yield, nested, started by a transfer, and after it. */
static void test_coro_stack_alignment(void **state)
{
    (void)state;
    weft_coro *target = make(aligned_target, NULL);
    weft_coro *co = make(aligned_outer, target);
    check_alignment(0);
    assert_code(weft_coro_resume(co, NULL, NULL), WEFT_CORO_YIELDED);
    assert_code(weft_coro_resume(co, NULL, NULL), WEFT_CORO_RETURNED); /* target's return */
    assert_code(weft_coro_resume(co, NULL, NULL), WEFT_CORO_RETURNED);
    check_alignment(8);
    assert_expectations();
    assert_code(weft_coro_destroy(co), 0);
    assert_code(weft_coro_destroy(target), 0);
}

/* Recurses in frames of more than 1000 bytes until a frame lies at or
   below `floor`; returns the address of the deepest frame's array. */
__attribute__((noinline)) static uintptr_t recurse_to(uintptr_t floor)
{
    volatile char frame[1000];
    frame[0] = (char)floor;
    frame[sizeof frame - 1] = (char)floor;
    uintptr_t low = (uintptr_t)frame > floor ? recurse_to(floor) : (uintptr_t)frame;
    frame[1] = (char)low; /* the frame stays live after the call */
    EXPECT(frame[0] == (char)floor && frame[sizeof frame - 1] == (char)floor);
    return low;
}

/* Recurses until `arg` bytes of stack are in use; returns how many were. */
static void *recursion_body(void *arg, void *in)
{
    (void)in;
    uintptr_t top = (uintptr_t)__builtin_frame_address(0);
    return P(top - recurse_to(top - (uintptr_t)N(arg)));
}

/* Recursion that fits: 40 KiB deep on the default 64 KiB stack, 800 KiB
   deep on a 1 MiB one (sanitizer builds have larger frames, hence bytes
   rather than a count of frames). */
static void test_coro_deep_recursion(void **state)
{
    (void)state;
    static const struct { size_t stack, deep; } cases[] = {
        {0, 40 * 1024},
        {1 << 20, 800 * 1024},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        weft_coro_opts o = {.stack_size = cases[i].stack};
        weft_coro *co = NULL;
        void *used = NULL;
        assert_code(weft_coro_create(&co, recursion_body, P(cases[i].deep), &o), 0);
        assert_code(weft_coro_resume(co, NULL, &used), WEFT_CORO_RETURNED);
        assert_true((size_t)N(used) >= cases[i].deep);
        assert_true((size_t)N(used) < weft_coro_stack_size(co));
        assert_code(weft_coro_destroy(co), 0);
    }
    assert_expectations();
}

/* ------------------------------------------------------------------------ */
/* Callee-saved registers                                                   */
/* ------------------------------------------------------------------------ */

/*
 * test_regs_call(fn, a0, a1, a2, seed, &rc) loads seed+1, seed+2, ... into
 * every callee-saved register, calls fn(a0, a1, a2) with them live (fn is
 * where the switch happens), stores fn's result in *rc and returns a mask of
 * the registers that no longer hold their value:
 *   x86-64:  bit 0 rbx, 1 rbp, 2 r12, 3 r13, 4 r14, 5 r15
 *   AArch64: bits 0-9 x19-x28, 10 x29, 11-18 d8-d15
 * The caller's own values are saved and restored around it, so the compiler
 * sees an ordinary call. The other side of each switch runs it too, with
 * another seed, so every register holds a different value there.
 */
typedef int (*regs_fn)(void *, void *, void *);
uint64_t test_regs_call(regs_fn fn, void *a0, void *a1, void *a2, uint64_t seed, int *rc);

#if defined(__x86_64__)
#define REG_CHECK(reg, n, bit)                                              \
    "  leaq " #n "(%r8), %rcx\n"                                            \
    "  cmpq %rcx, %" #reg "\n"                                              \
    "  setne %dl\n"                                                         \
    "  movzbl %dl, %edx\n"                                                  \
    "  shll $" #bit ", %edx\n"                                              \
    "  orl %edx, %eax\n"
__asm__(
    "  .pushsection .text\n"
    "  .globl test_regs_call\n"
    "  .hidden test_regs_call\n"
    "  .type test_regs_call, @function\n"
    "  .p2align 4\n"
    "test_regs_call:\n"
    "  .cfi_startproc\n"
    "  pushq %rbp\n  .cfi_adjust_cfa_offset 8\n  .cfi_rel_offset %rbp, 0\n"
    "  pushq %rbx\n  .cfi_adjust_cfa_offset 8\n  .cfi_rel_offset %rbx, 0\n"
    "  pushq %r12\n  .cfi_adjust_cfa_offset 8\n  .cfi_rel_offset %r12, 0\n"
    "  pushq %r13\n  .cfi_adjust_cfa_offset 8\n  .cfi_rel_offset %r13, 0\n"
    "  pushq %r14\n  .cfi_adjust_cfa_offset 8\n  .cfi_rel_offset %r14, 0\n"
    "  pushq %r15\n  .cfi_adjust_cfa_offset 8\n  .cfi_rel_offset %r15, 0\n"
    "  subq $24, %rsp\n  .cfi_adjust_cfa_offset 24\n" /* 16-byte aligned now */
    "  movq %r8, 0(%rsp)\n"  /* seed */
    "  movq %r9, 8(%rsp)\n"  /* rc */
    "  movq %rdi, %rax\n"
    "  movq %rsi, %rdi\n"
    "  movq %rdx, %rsi\n"
    "  movq %rcx, %rdx\n"
    "  leaq 1(%r8), %rbx\n"
    "  leaq 2(%r8), %rbp\n"
    "  leaq 3(%r8), %r12\n"
    "  leaq 4(%r8), %r13\n"
    "  leaq 5(%r8), %r14\n"
    "  leaq 6(%r8), %r15\n"
    "  call *%rax\n"
    "  movq 8(%rsp), %rcx\n"
    "  movl %eax, (%rcx)\n"
    "  movq 0(%rsp), %r8\n"
    "  xorl %eax, %eax\n"
    REG_CHECK(rbx, 1, 0)
    REG_CHECK(rbp, 2, 1)
    REG_CHECK(r12, 3, 2)
    REG_CHECK(r13, 4, 3)
    REG_CHECK(r14, 5, 4)
    REG_CHECK(r15, 6, 5)
    "  addq $24, %rsp\n  .cfi_adjust_cfa_offset -24\n"
    "  popq %r15\n  .cfi_adjust_cfa_offset -8\n  .cfi_restore %r15\n"
    "  popq %r14\n  .cfi_adjust_cfa_offset -8\n  .cfi_restore %r14\n"
    "  popq %r13\n  .cfi_adjust_cfa_offset -8\n  .cfi_restore %r13\n"
    "  popq %r12\n  .cfi_adjust_cfa_offset -8\n  .cfi_restore %r12\n"
    "  popq %rbx\n  .cfi_adjust_cfa_offset -8\n  .cfi_restore %rbx\n"
    "  popq %rbp\n  .cfi_adjust_cfa_offset -8\n  .cfi_restore %rbp\n"
    "  ret\n"
    "  .cfi_endproc\n"
    "  .size test_regs_call, .-test_regs_call\n"
    "  .popsection\n");
#elif defined(__aarch64__)
#define REG_SET(reg, n) "  add " #reg ", x4, #" #n "\n"
#define DREG_SET(reg, n) "  add x10, x4, #" #n "\n  fmov " #reg ", x10\n"
#define REG_CHECK(reg, n, bit)                                              \
    "  add x10, x4, #" #n "\n"                                              \
    "  cmp " #reg ", x10\n"                                                 \
    "  cset x11, ne\n"                                                      \
    "  orr x0, x0, x11, lsl #" #bit "\n"
#define DREG_CHECK(reg, n, bit) "  fmov x12, " #reg "\n" REG_CHECK(x12, n, bit)
__asm__(
    "  .pushsection .text\n"
    "  .globl test_regs_call\n"
    "  .hidden test_regs_call\n"
    "  .type test_regs_call, %function\n"
    "  .p2align 4\n"
    "test_regs_call:\n"
    "  .cfi_startproc\n"
    "  stp x29, x30, [sp, #-176]!\n"
    "  .cfi_def_cfa_offset 176\n"
    "  .cfi_offset x29, -176\n"
    "  .cfi_offset x30, -168\n"
    "  stp x19, x20, [sp, #16]\n"
    "  stp x21, x22, [sp, #32]\n"
    "  stp x23, x24, [sp, #48]\n"
    "  stp x25, x26, [sp, #64]\n"
    "  stp x27, x28, [sp, #80]\n"
    "  stp d8, d9, [sp, #96]\n"
    "  stp d10, d11, [sp, #112]\n"
    "  stp d12, d13, [sp, #128]\n"
    "  stp d14, d15, [sp, #144]\n"
    "  stp x4, x5, [sp, #160]\n" /* seed, rc */
    "  mov x9, x0\n"
    "  mov x0, x1\n"
    "  mov x1, x2\n"
    "  mov x2, x3\n"
    REG_SET(x19, 1) REG_SET(x20, 2) REG_SET(x21, 3) REG_SET(x22, 4)
    REG_SET(x23, 5) REG_SET(x24, 6) REG_SET(x25, 7) REG_SET(x26, 8)
    REG_SET(x27, 9) REG_SET(x28, 10) REG_SET(x29, 11)
    DREG_SET(d8, 12) DREG_SET(d9, 13) DREG_SET(d10, 14) DREG_SET(d11, 15)
    DREG_SET(d12, 16) DREG_SET(d13, 17) DREG_SET(d14, 18) DREG_SET(d15, 19)
    "  blr x9\n"
    "  ldp x4, x5, [sp, #160]\n"
    "  str w0, [x5]\n"
    "  mov x0, #0\n"
    REG_CHECK(x19, 1, 0) REG_CHECK(x20, 2, 1) REG_CHECK(x21, 3, 2)
    REG_CHECK(x22, 4, 3) REG_CHECK(x23, 5, 4) REG_CHECK(x24, 6, 5)
    REG_CHECK(x25, 7, 6) REG_CHECK(x26, 8, 7) REG_CHECK(x27, 9, 8)
    REG_CHECK(x28, 10, 9) REG_CHECK(x29, 11, 10)
    DREG_CHECK(d8, 12, 11) DREG_CHECK(d9, 13, 12) DREG_CHECK(d10, 14, 13)
    DREG_CHECK(d11, 15, 14) DREG_CHECK(d12, 16, 15) DREG_CHECK(d13, 17, 16)
    DREG_CHECK(d14, 18, 17) DREG_CHECK(d15, 19, 18)
    "  ldp x19, x20, [sp, #16]\n"
    "  ldp x21, x22, [sp, #32]\n"
    "  ldp x23, x24, [sp, #48]\n"
    "  ldp x25, x26, [sp, #64]\n"
    "  ldp x27, x28, [sp, #80]\n"
    "  ldp d8, d9, [sp, #96]\n"
    "  ldp d10, d11, [sp, #112]\n"
    "  ldp d12, d13, [sp, #128]\n"
    "  ldp d14, d15, [sp, #144]\n"
    "  ldp x29, x30, [sp], #176\n"
    "  .cfi_def_cfa_offset 0\n"
    "  .cfi_restore x29\n"
    "  .cfi_restore x30\n"
    "  ret\n"
    "  .cfi_endproc\n"
    "  .size test_regs_call, .-test_regs_call\n"
    "  .popsection\n");
#else
#error "the register test knows x86-64 and AArch64 only"
#endif

static int call_yield(void *value, void *in, void *unused)
{
    (void)unused;
    return weft_coro_yield(value, in);
}

static int call_resume(void *co, void *in, void *out)
{
    return weft_coro_resume(co, in, out);
}

static int call_transfer(void *to, void *value, void *in)
{
    return weft_coro_transfer(to, value, in);
}

static int call_close(void *co, void *unused1, void *unused2)
{
    (void)unused1, (void)unused2;
    return weft_coro_close(co);
}

#define SEED_THREAD UINT64_C(0x1111111111111100)
#define SEED_CORO UINT64_C(0x7777777777777700)
#define SEED_OTHER UINT64_C(0x3333333333333300)

/* Records a register mask that is not 0, with where it came from. */
#define EXPECT_REGS(mask, where)                                            \
    do {                                                                    \
        uint64_t m_ = (mask);                                               \
        if (m_)                                                             \
            expect_fail(__FILE__, __LINE__, "%s: registers changed, mask %#llx", \
                        (where), (unsigned long long)m_);                   \
    } while (0)

enum { REG_ROUNDS = 16 };

static void *regs_body(void *arg, void *in)
{
    (void)arg;
    EXPECT(in == P(1000));
    for (int i = 0; i < REG_ROUNDS; i++) {
        int rc = -1;
        void *next = NULL;
        EXPECT_REGS(test_regs_call(call_yield, P(i), &next, NULL,
                                   SEED_CORO + 32 * (uint64_t)i, &rc),
                    "coroutine across yield");
        EXPECT_CODE(rc, 0);
        EXPECT(next == P(1001 + i));
    }
    return P(7);
}

/*
 * Across resume and yield, each side finds its callee-saved registers as it
 * left them, though the other side loaded different values into all of them
 * in between; this includes the first switch into a new coroutine and the
 * switch back when it returns.
 */
static void test_coro_callee_saved_registers(void **state)
{
    (void)state;
    weft_coro *co = make(regs_body, NULL);
    for (int i = 0; i <= REG_ROUNDS; i++) {
        int rc = -1;
        void *out = NULL;
        uint64_t bad = test_regs_call(call_resume, co, P(1000 + i), &out,
                                      SEED_THREAD + 32 * (uint64_t)i, &rc);
        if (bad)
            fail_msg("round %d: thread registers changed across resume, mask %#llx",
                     i, (unsigned long long)bad);
        assert_code(rc, i < REG_ROUNDS ? WEFT_CORO_YIELDED : WEFT_CORO_RETURNED);
        assert_ptr_equal(out, i < REG_ROUNDS ? P(i) : P(7));
    }
    assert_expectations();
    assert_code(weft_coro_destroy(co), 0);
}

static void *regs_ping(void *arg, void *in)
{
    struct pair *p = arg;
    int rc = -1;
    (void)in;
    for (int i = 0; i < 4; i++) {
        EXPECT_REGS(test_regs_call(call_transfer, p->inner, NULL, NULL,
                                   SEED_CORO + 32 * (uint64_t)i, &rc),
                    "ping across transfer");
        EXPECT_CODE(rc, 0);
    }
    /* The test closes ping while it waits here: the cancel path restores too. */
    EXPECT_REGS(test_regs_call(call_transfer, p->inner, NULL, NULL, SEED_CORO + 1024, &rc),
                "ping across a cancelled transfer");
    EXPECT_CODE(rc, -ECANCELED);
    return NULL;
}

static void *regs_pong(void *arg, void *in)
{
    struct pair *p = arg;
    int rc = -1;
    (void)in;
    for (int i = 0; i < 4; i++) {
        EXPECT_REGS(test_regs_call(call_transfer, p->outer, NULL, NULL,
                                   SEED_OTHER + 32 * (uint64_t)i, &rc),
                    "pong across transfer");
        EXPECT_CODE(rc, 0);
    }
    return P(4); /* to the thread, which resumed ping */
}

/*
 * The same through transfers between two coroutines (the second one started
 * by a transfer), the transferred-to coroutine's return to the thread, and
 * close cancelling a pending transfer.
 */
static void test_coro_callee_saved_registers_transfer(void **state)
{
    (void)state;
    struct pair p = {0};
    int rc = -1;
    void *out = NULL;
    p.outer = make(regs_ping, &p);
    p.inner = make(regs_pong, &p);
    uint64_t bad = test_regs_call(call_resume, p.outer, NULL, &out, SEED_THREAD, &rc);
    if (bad)
        fail_msg("thread registers changed across resume, mask %#llx",
                 (unsigned long long)bad);
    assert_code(rc, WEFT_CORO_RETURNED);
    assert_ptr_equal(out, P(4));
    assert_int_equal(weft_coro_status(p.outer), WEFT_CORO_SUSPENDED);
    bad = test_regs_call(call_close, p.outer, NULL, NULL, SEED_THREAD + 64, &rc);
    if (bad)
        fail_msg("thread registers changed across close, mask %#llx",
                 (unsigned long long)bad);
    assert_code(rc, 0);
    assert_expectations();
    assert_code(weft_coro_destroy(p.outer), 0);
    assert_code(weft_coro_destroy(p.inner), 0);
}

/* ------------------------------------------------------------------------ */
/* Floating-point control state                                             */
/* ------------------------------------------------------------------------ */

#if defined(__x86_64__)
/* MXCSR without its sticky exception flags (bits 0-5) | x87 control word << 32. */
static uint64_t fpu_get(void)
{
    uint32_t mxcsr;
    uint16_t cw;
    __asm__ volatile("stmxcsr %0\n\tfnstcw %1" : "=m"(mxcsr), "=m"(cw));
    return (uint64_t)cw << 32 | (mxcsr & ~UINT32_C(0x3f));
}

static void fpu_set(uint64_t v)
{
    uint32_t mxcsr = (uint32_t)v;
    uint16_t cw = (uint16_t)(v >> 32);
    __asm__ volatile("ldmxcsr %0\n\tfldcw %1" : : "m"(mxcsr), "m"(cw));
}

/* Rounding in MXCSR bits 13-14 and x87 CW bits 10-11; FTZ 15, DAZ 6 and
   x87 precision control (bits 8-9) vary too. */
#define FPU_A (UINT64_C(0x077f) << 32 | 0x3f80) /* down */
#define FPU_B (UINT64_C(0x0b7f) << 32 | 0x5f80) /* up */
#define FPU_C (UINT64_C(0x0c7f) << 32 | 0xffc0) /* toward zero, FTZ, DAZ, single */
#define FPU_D (UINT64_C(0x027f) << 32 | 0x9f80) /* nearest, FTZ, double */
#elif defined(__aarch64__)
static uint64_t fpu_get(void)
{
    uint64_t v;
    __asm__ volatile("mrs %0, fpcr" : "=r"(v));
    return v;
}

static void fpu_set(uint64_t v)
{
    __asm__ volatile("msr fpcr, %0" : : "r"(v));
}

/* FPCR: RMode bits 22-23 (1 up, 2 down, 3 toward zero), FZ 24, DN 25. */
#define FPU_A (UINT64_C(2) << 22)
#define FPU_B (UINT64_C(1) << 22)
#define FPU_C (UINT64_C(3) << 22 | UINT64_C(1) << 24)
#define FPU_D (UINT64_C(1) << 24 | UINT64_C(1) << 25)
#endif

static uint64_t fpu_saved; /* the thread's state before an FPU test */

static int save_fpu(void **state)
{
    fpu_saved = fpu_get();
    return reset_trace(state);
}

static int restore_fpu(void **state)
{
    (void)state;
    fpu_set(fpu_saved);
    fesetround(FE_TONEAREST);
    return 0;
}

/* 1/3 computed now, as bits: it depends on the live rounding mode. */
static uint64_t third_bits(void)
{
    volatile double one = 1.0, three = 3.0;
    double q = one / three;
    uint64_t bits;
    memcpy(&bits, &q, sizeof bits);
    return bits;
}

/* Whether a result below DBL_MIN is flushed to zero now (FTZ / FZ). */
static int flushes_to_zero(void)
{
    volatile double tiny = DBL_MIN, four = 4.0;
    return tiny / four == 0.0;
}

static uint64_t third_down, third_up; /* 1/3 rounded down and up */

#ifndef WEFT_FP_CONTROL_THREAD
static void *fpu_body(void *arg, void *in)
{
    (void)arg, (void)in;
    EXPECT(fpu_get() == FPU_A); /* the creator's state at creation */
    EXPECT(third_bits() == third_down);
    fpu_set(FPU_C);
    EXPECT_CODE(weft_coro_yield(NULL, NULL), 0);
    EXPECT(fpu_get() == FPU_C);
    EXPECT(flushes_to_zero());
    EXPECT_CODE(weft_coro_yield(NULL, NULL), 0);
    EXPECT(fpu_get() == FPU_C);
    return NULL;
}

static void *fpu_second_body(void *arg, void *in)
{
    (void)arg, (void)in;
    EXPECT(fpu_get() == FPU_D);
    fpu_set(FPU_B);
    int rc = weft_coro_yield(NULL, NULL);
    EXPECT_CODE(rc, -ECANCELED);
    EXPECT(fpu_get() == FPU_B);
    return NULL;
}

/*
 * Each context keeps its own floating-point control state (x86-64: MXCSR
 * and the x87 control word; AArch64: FPCR) across every switch, and it is
 * the live state (rounding and flush-to-zero act on results); a new
 * coroutine starts with its creator's state at creation, not at first run.
 */
static void test_coro_fpu_control_per_context(void **state)
{
    (void)state;
    fpu_set(FPU_A);
    third_down = third_bits();
    fpu_set(FPU_B);
    third_up = third_bits();
    assert_true(third_up != third_down);

    fpu_set(FPU_A);
    weft_coro *co = make(fpu_body, NULL);
    fpu_set(FPU_B);
    assert_code(weft_coro_resume(co, NULL, NULL), WEFT_CORO_YIELDED);
    assert_true(fpu_get() == FPU_B);
    assert_true(third_bits() == third_up);
    assert_false(flushes_to_zero());
    fpu_set(FPU_D);
    assert_code(weft_coro_resume(co, NULL, NULL), WEFT_CORO_YIELDED);
    assert_true(fpu_get() == FPU_D);
    assert_true(flushes_to_zero());

    weft_coro *second = make(fpu_second_body, NULL); /* created under D */
    fpu_set(FPU_A);
    assert_code(weft_coro_resume(second, NULL, NULL), WEFT_CORO_YIELDED);
    assert_true(fpu_get() == FPU_A);
    assert_code(weft_coro_resume(co, NULL, NULL), WEFT_CORO_RETURNED);
    assert_true(fpu_get() == FPU_A);
    assert_code(weft_coro_destroy(second), 0); /* its cleanup runs under B */
    assert_true(fpu_get() == FPU_A);
    assert_expectations();
    assert_code(weft_coro_destroy(co), 0);
}

static void *fenv_body(void *arg, void *in)
{
    (void)arg, (void)in;
    EXPECT(fegetround() == FE_DOWNWARD);
    EXPECT(third_bits() == third_down);
    EXPECT_CODE(fesetround(FE_UPWARD), 0);
    EXPECT_CODE(weft_coro_yield(NULL, NULL), 0);
    EXPECT(fegetround() == FE_UPWARD);
    EXPECT(third_bits() == third_up);
    return NULL;
}

/* fesetround() in one context does not leak into another: fegetround()
   and real results differ per context. */
static void test_coro_fenv_rounding_per_context(void **state)
{
    (void)state;
    assert_code(fesetround(FE_DOWNWARD), 0);
    third_down = third_bits();
    assert_code(fesetround(FE_UPWARD), 0);
    third_up = third_bits();
    assert_true(third_up != third_down);

    assert_code(fesetround(FE_DOWNWARD), 0);
    weft_coro *co = make(fenv_body, NULL);
    assert_code(fesetround(FE_TOWARDZERO), 0);
    assert_code(weft_coro_resume(co, NULL, NULL), WEFT_CORO_YIELDED);
    assert_int_equal(fegetround(), FE_TOWARDZERO);
    assert_true(third_bits() == third_down); /* toward zero: same as down */
    assert_code(weft_coro_resume(co, NULL, NULL), WEFT_CORO_RETURNED);
    assert_int_equal(fegetround(), FE_TOWARDZERO);
    assert_expectations();
    assert_code(weft_coro_destroy(co), 0);
}

#else /* WEFT_FP_CONTROL_THREAD */
/*
 * WEFT_FP_CONTROL=thread: one floating-point control state per thread,
 * shared by its coroutines (x86-64: MXCSR and the x87 control word;
 * AArch64: FPCR). What a coroutine sets is what its resumer finds, and the
 * other way round; a new coroutine runs with the state live at its first
 * resume, not the one at its creation.
 */
static void *fpu_body(void *arg, void *in)
{
    (void)arg, (void)in;
    EXPECT(fpu_get() == FPU_B);   /* live at the resume, not A of creation */
    EXPECT(third_bits() == third_up);
    fpu_set(FPU_C);
    EXPECT_CODE(weft_coro_yield(NULL, NULL), 0);
    EXPECT(fpu_get() == FPU_D);   /* what the resumer set meanwhile */
    EXPECT(flushes_to_zero());
    fpu_set(FPU_A);
    return NULL;
}

static void test_coro_fpu_control_per_thread(void **state)
{
    (void)state;
    fpu_set(FPU_A);
    third_down = third_bits();
    fpu_set(FPU_B);
    third_up = third_bits();
    assert_true(third_up != third_down);

    fpu_set(FPU_A);
    weft_coro *co = make(fpu_body, NULL);
    fpu_set(FPU_B);
    assert_code(weft_coro_resume(co, NULL, NULL), WEFT_CORO_YIELDED);
    assert_true(fpu_get() == FPU_C);  /* the coroutine's change is the thread's */
    assert_true(flushes_to_zero());
    fpu_set(FPU_D);
    assert_code(weft_coro_resume(co, NULL, NULL), WEFT_CORO_RETURNED);
    assert_true(fpu_get() == FPU_A);
    assert_true(third_bits() == third_down);
    assert_expectations();
    assert_code(weft_coro_destroy(co), 0);
}

static void *fenv_body(void *arg, void *in)
{
    (void)arg, (void)in;
    EXPECT(fegetround() == FE_TOWARDZERO);
    EXPECT_CODE(fesetround(FE_UPWARD), 0);
    EXPECT_CODE(weft_coro_yield(NULL, NULL), 0);
    EXPECT(fegetround() == FE_DOWNWARD);
    EXPECT(third_bits() == third_down);
    return NULL;
}

/* fesetround() in one context is seen by the others of the thread. */
static void test_coro_fenv_rounding_per_thread(void **state)
{
    (void)state;
    assert_code(fesetround(FE_DOWNWARD), 0);
    third_down = third_bits();
    assert_code(fesetround(FE_UPWARD), 0);
    third_up = third_bits();
    assert_true(third_up != third_down);

    assert_code(fesetround(FE_DOWNWARD), 0);
    weft_coro *co = make(fenv_body, NULL);
    assert_code(fesetround(FE_TOWARDZERO), 0);
    assert_code(weft_coro_resume(co, NULL, NULL), WEFT_CORO_YIELDED);
    assert_int_equal(fegetround(), FE_UPWARD);
    assert_true(third_bits() == third_up);
    assert_code(fesetround(FE_DOWNWARD), 0);
    assert_code(weft_coro_resume(co, NULL, NULL), WEFT_CORO_RETURNED);
    assert_int_equal(fegetround(), FE_DOWNWARD);
    assert_expectations();
    assert_code(weft_coro_destroy(co), 0);
}

#endif /* WEFT_FP_CONTROL_THREAD */

/* ------------------------------------------------------------------------ */

#define TEST(f) cmocka_unit_test_setup(f, reset_trace)
#define FPU_TEST(f) cmocka_unit_test_setup_teardown(f, save_fpu, restore_fpu)

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEST(test_coro_values_both_ways),
        TEST(test_coro_return_without_yield),
        TEST(test_coro_null_in_out_pointers),
        TEST(test_coro_status_transitions),
        TEST(test_coro_null_arguments),
        TEST(test_coro_resume_dead),
        TEST(test_coro_resume_running_or_normal),
        TEST(test_coro_yield_transfer_outside),
        TEST(test_coro_transfer_misuse),
        TEST(test_coro_close_twice),
        TEST(test_coro_close_destroy_busy),
        TEST(test_coro_create_bad_stack_sizes),
        TEST(test_coro_create_enomem),
        TEST(test_coro_yield_from_passes_values),
        TEST(test_coro_yield_from_seed_order),
        TEST(test_coro_transfer_greenlet),
        TEST(test_coro_transfer_yield_goes_to_resumer),
        TEST(test_coro_transfer_null_in),
        TEST(test_coro_close_runs_cleanup),
        TEST(test_coro_close_unstarted),
        TEST(test_coro_destroy_runs_cleanup),
        TEST(test_coro_current),
        TEST(test_coro_names),
        TEST(test_coro_userdata),
        TEST(test_coro_stack_size),
        TEST(test_coro_100k_live),
        TEST(test_coro_create_inside_coroutine),
        TEST(test_coro_stack_alignment),
        TEST(test_coro_deep_recursion),
        TEST(test_coro_callee_saved_registers),
        TEST(test_coro_callee_saved_registers_transfer),
#ifndef WEFT_FP_CONTROL_THREAD
        FPU_TEST(test_coro_fpu_control_per_context),
        FPU_TEST(test_coro_fenv_rounding_per_context),
#else
        FPU_TEST(test_coro_fpu_control_per_thread),
        FPU_TEST(test_coro_fenv_rounding_per_thread),
#endif
    };
#ifdef WEFT_FP_CONTROL_THREAD
    return cmocka_run_group_tests_name("coro (WEFT_FP_CONTROL=thread)", tests, NULL, NULL);
#else
    return cmocka_run_group_tests_name("coro", tests, NULL, NULL);
#endif
}
