/*
 * test_stack.c - coroutine stacks (src/stack.c) and the overflow report
 * (src/overflow.c): the one-line report of an overflow, pooling and reuse,
 * size classes, custom sizes, many stacks, threads (and what an exiting one
 * hands over: its cached slots, the rest of its slab), guard pages, canaries,
 * and a million coroutines at once.
 *
 * Groups, chosen by argv[1]: none runs the ordinary tests; "million" runs the
 * million-coroutine test (its own ctest entry, label "slow").
 *
 * It reads the internal headers: a coroutine's stack slot (struct weft_coro's
 * `stack`) and the pool (weft__stack_get/put). Coroutine bodies never call
 * cmocka's assertions (they longjmp): they count what went wrong, and the
 * test asserts on the count from the thread's own stack.
 */
#define _GNU_SOURCE
#include <alloca.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <weft.h>
#include "coro_internal.h"

#define P(n) ((void *)(intptr_t)(n))
#define N(p) ((intptr_t)(p))

#define KiB ((size_t)1024)
#define MiB ((size_t)1024 * 1024)

enum { BATCH = 16 }; /* slots a cache takes from the depot at once (stack.c) */

static size_t page;                /* the system page size */
static struct sigaction weft_segv; /* weft's SIGSEGV action, taken in main() */
static long bad;                   /* failures seen inside coroutines */

static int reset(void **state)
{
    (void)state;
    bad = 0;
    return 0;
}

/* assert_int_equal prints negative codes as huge hex numbers; this does not. */
#define assert_code(expr, want)                                             \
    do {                                                                    \
        long got_ = (long)(expr), want_ = (long)(want);                     \
        if (got_ != want_)                                                  \
            fail_msg("%s is %ld, expected %ld", #expr, got_, want_);        \
    } while (0)

static weft_coro *make(weft_coro_fn fn, void *arg, size_t stack_size, const char *name)
{
    weft_coro_opts o = {.stack_size = stack_size, .name = name};
    weft_coro *co = NULL;
    assert_code(weft_coro_create(&co, fn, arg, &o), 0);
    return co;
}

/* True when the kernel really guards a page given MADV_GUARD_INSTALL: it
   then refuses to read it (EFAULT) when asked to write it into a pipe. */
static int madv_guards_work(void)
{
    int ok = 0, fds[2];
    char *p = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return 0;
    if (madvise(p, page, 102 /* MADV_GUARD_INSTALL */) == 0 && pipe(fds) == 0) {
        ok = write(fds[1], p, 1) < 0 && errno == EFAULT;
        close(fds[0]);
        close(fds[1]);
    }
    munmap(p, page);
    return ok;
}

static long max_map_count(void)
{
    long v = 65530;
    FILE *f = fopen("/proc/sys/vm/max_map_count", "r");
    if (f) {
        if (fscanf(f, "%ld", &v) != 1)
            v = 65530;
        fclose(f);
    }
    return v;
}

/* The resident set of this process in bytes (/proc/self/statm). */
static long rss_bytes(void)
{
    long total = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%ld %ld", &total, &resident) != 2)
            resident = 0;
        fclose(f);
    }
    return resident * (long)page;
}

/* Whether [a, a + n) and [b, b + m) overlap. */
static int overlap(const char *a, size_t n, const char *b, size_t m)
{
    return a < b + m && b < a + n;
}

/* Orders stack slots by their lowest byte. */
static int by_lo(const void *x, const void *y)
{
    const struct weft__stack *a = x, *b = y;
    return a->lo < b->lo ? -1 : a->lo > b->lo;
}

/* Asserts that n slots, guard pages included, share no byte. */
static void assert_disjoint(struct weft__stack *s, size_t n)
{
    qsort(s, n, sizeof *s, by_lo);
    for (size_t i = 1; i < n; i++)
        if (s[i].lo - page < s[i - 1].hi)
            fail_msg("slots [%p, %p) and [%p, %p) (with its guard) overlap",
                     (void *)s[i - 1].lo, (void *)s[i - 1].hi,
                     (void *)(s[i].lo - page), (void *)s[i].hi);
}

/* ------------------------------------------------------------------------ */
/* A child process, for what ends a process                                 */
/* ------------------------------------------------------------------------ */

/*
 * Runs fn(arg) in a child whose stderr is captured into buf (NUL-terminated,
 * cut to fit) and returns its wait status. cmocka installs its own SIGSEGV
 * handler around every test, which displaces weft's (installed once per
 * process), so the child puts weft's back first. It dumps no core.
 */
static int run_child(void (*fn)(void *), void *arg, char *buf, size_t cap)
{
    int fds[2], status = 0;
    size_t len = 0;
    ssize_t n;
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct rlimit no_core = {0, 0};
        setrlimit(RLIMIT_CORE, &no_core);
        dup2(fds[1], STDERR_FILENO);
        close(fds[0]);
        close(fds[1]);
        sigaction(SIGSEGV, &weft_segv, NULL);
        fn(arg);
        _exit(100);
    }
    close(fds[1]);
    for (;;) { /* all of it, keeping what fits: the child never blocks */
        char chunk[4096];
        n = read(fds[0], chunk, sizeof chunk);
        if (n == 0 || (n < 0 && errno != EINTR))
            break;
        for (ssize_t i = 0; i < n && len + 1 < cap; i++)
            buf[len++] = chunk[i];
    }
    buf[len] = '\0';
    close(fds[0]);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    return status;
}

/*
 * qemu-user reports a guest killed by a signal with a line of its own
 * ("qemu: uncaught target signal 11 (Segmentation fault) - core dumped"),
 * written after weft's; it is not weft's output, so it is dropped here.
 */
static void drop_emulator_line(char *buf)
{
    char *q = strstr(buf, "qemu: uncaught target signal ");
    if (q && (q == buf || q[-1] == '\n') && strchr(q, '\n') == q + strlen(q) - 1)
        *q = '\0';
}

static const char *signal_name(int status)
{
    static char s[64];
    if (WIFSIGNALED(status))
        snprintf(s, sizeof s, "killed by signal %d", WTERMSIG(status));
    else
        snprintf(s, sizeof s, "exited with %d", WEXITSTATUS(status));
    return s;
}

/* ------------------------------------------------------------------------ */
/* Overflow                                                                 */
/* ------------------------------------------------------------------------ */

static volatile int recursion_limit = -1; /* never reached: no infinite-
                                             recursion warning, no folding */

/* Recurses without bound; the volatile frame and the work after the call
   keep every frame on the stack (no inlining, no tail call). */
__attribute__((noinline)) static int recurse_forever(int depth)
{
    volatile char frame[256];
    frame[0] = (char)depth;
    if (depth == recursion_limit)
        return frame[0];
    int r = recurse_forever(depth + 1);
    frame[1] = (char)r;
    return frame[0] + frame[1];
}

static void *overflow_body(void *arg, void *in)
{
    (void)arg, (void)in;
    return P(recurse_forever(0));
}

static void overflow_child(void *arg)
{
    weft_coro_opts o = {.stack_size = 64 * KiB, .name = "deep"};
    weft_coro *co;
    (void)arg;
    if (weft_coro_create(&co, overflow_body, NULL, &o) != 0)
        _exit(2);
    if (co->stack.guard != WEFT__GUARD_PAGE)
        _exit(3);
    weft_coro_resume(co, NULL, NULL);
    _exit(4); /* not reached: the overflow ends the child */
}

/* The line weft writes for an overflow of a 64 KiB coroutine named "deep". */
static void expected_overflow_line(char *buf, size_t cap, const char *suffix)
{
    weft_coro *co = make(overflow_body, NULL, 64 * KiB, "deep");
    snprintf(buf, cap, "weft: stack overflow in coroutine 'deep' (stack size %zu bytes)%s\n",
             weft_coro_stack_size(co), suffix);
    assert_code(weft_coro_destroy(co), 0);
}

/*
 * Runs fn(arg) in a child that must die by SIGSEGV after exactly the
 * one-line report for a 64 KiB coroutine named "deep". Under
 * AddressSanitizer weft's handler is installed over ASan's and runs first
 * (today stderr is then exactly our line too), but ASan is free to add a
 * report of its own, so there only the death by SIGSEGV and our line
 * somewhere in stderr are required.
 */
static void assert_overflow_reported(void (*fn)(void *), void *arg)
{
    char err[4096], want[160];
    expected_overflow_line(want, sizeof want, "");
    int status = run_child(fn, arg, err, sizeof err);
    drop_emulator_line(err);
    if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGSEGV)
        fail_msg("child %s, stderr: \"%s\"", signal_name(status), err);
#ifdef WEFT_ASAN
    if (!strstr(err, want))
        fail_msg("stderr \"%s\" lacks \"%s\"", err, want);
#else
    assert_string_equal(err, want);
#endif
}

/*
 * Unbounded recursion in a 64 KiB coroutine named "deep" kills the process
 * by SIGSEGV after exactly one line on stderr naming it and its size.
 */
static void test_stack_overflow_reported(void **state)
{
    (void)state;
    assert_overflow_reported(overflow_child, NULL);
}

static weft_coro *echo_sub; /* the sub-coroutine recurse_switching resumes */

static void *echo_sub_body(void *arg, void *in)
{
    (void)arg;
    while (weft_coro_yield(in, &in) == 0)
        ;
    return NULL;
}

/* Recurses without bound, switching at every level: yielding to the
   resumer, or (with echo_sub set) resuming echo_sub. */
__attribute__((noinline)) static int recurse_switching(int depth)
{
    volatile char frame[200];
    frame[0] = (char)depth;
    if (depth == recursion_limit)
        return frame[0];
    if (echo_sub)
        weft_coro_resume(echo_sub, NULL, NULL);
    else
        weft_coro_yield(NULL, NULL);
    int r = recurse_switching(depth + 1);
    frame[1] = (char)r;
    return frame[0] + frame[1];
}

/* Moves its stack down by `arg` bytes, then recurses. */
static void *switching_overflow_body(void *arg, void *in)
{
    volatile char *pad = alloca((size_t)N(arg) + 1);
    (void)in;
    pad[0] = 0;
    return P(recurse_switching(0) + pad[0]);
}

/* arg: the shift in bytes, plus 1 to resume a sub-coroutine at each level. */
static void switching_overflow_child(void *arg)
{
    weft_coro_opts o = {.stack_size = 64 * KiB, .name = "deep"};
    weft_coro *co;
    if (N(arg) & 1 && weft_coro_create(&echo_sub, echo_sub_body, NULL, NULL) != 0)
        _exit(2);
    if (weft_coro_create(&co, switching_overflow_body, P(N(arg) & ~1), &o) != 0)
        _exit(2);
    while (weft_coro_resume(co, NULL, NULL) == WEFT_CORO_YIELDED)
        ;
    _exit(4); /* not reached */
}

/*
 * An overflow must be reported wherever it faults, including inside
 * weft_coro_yield(), weft_coro_resume() and the switch, which push the
 * switching coroutine's saved state on its own stack. A coroutine recursing
 * with a switch at every level runs into its guard page at a different
 * instruction for each starting depth of its stack: 32 depths 16 bytes
 * apart (more than one recursion frame) put the fault once in every
 * instruction of the switch path, for yield and for resume. Each child must
 * die by SIGSEGV with the one-line report. (The fault in weft__switch()
 * comes after weft__tls.current names the other context; the handler must
 * find the faulting one through weft__tls.from.)
 */
static void test_stack_overflow_in_switch_reported(void **state)
{
    (void)state;
    static const char *const how[2] = {"yield", "resume"};
    char err[4096], want[160], first[512] = "";
    int unreported[2] = {0, 0};
    expected_overflow_line(want, sizeof want, "");
    for (int mode = 0; mode < 2; mode++)
        for (int shift = 0; shift < 32 * 16; shift += 16) {
            int status = run_child(switching_overflow_child, P(shift + mode), err, sizeof err);
            drop_emulator_line(err);
            if (WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV && strstr(err, want))
                continue;
            if (unreported[0] + unreported[1] == 0)
                snprintf(first, sizeof first, "first: %s at shift %d, child %s, "
                         "stderr \"%.300s\"", how[mode], shift, signal_name(status), err);
            unreported[mode]++;
        }
    if (unreported[0] || unreported[1])
        fail_msg("overflows that ended without the report: %d of 32 while yielding, "
                 "%d of 32 while resuming; %s", unreported[0], unreported[1], first);
}

static volatile size_t far_end = 0; /* opaque: the whole array is allocated */

/* A frame of 32 KiB whose far (lowest) end is touched first. */
__attribute__((noinline)) static int big_frame(void)
{
    volatile char big[32 * 1024];
    big[far_end] = 1;
    return big[far_end] + big[sizeof big - 1 - far_end];
}

/* Recurses until less than 16 KiB of the stack is left, then calls
   big_frame(), whose far end lies 16 KiB or more below the stack. */
__attribute__((noinline)) static int descend_then_big(const char *lo)
{
    volatile char frame[512];
    frame[0] = 0;
    int r = (const char *)frame - lo > 16 * (long)KiB ? descend_then_big(lo) : big_frame();
    frame[1] = (char)r;          /* work after the call: no tail recursion */
    return frame[0] + frame[1];
}

static void *big_frame_body(void *arg, void *in)
{
    (void)arg, (void)in;
    return P(descend_then_big(weft_coro_current()->stack.lo));
}

static void big_frame_child(void *arg)
{
    weft_coro_opts o = {.stack_size = 64 * KiB, .name = "deep"};
    weft_coro *below, *co;
    (void)arg;
    /* A neighbour first: with a guard of one page, the frame would land in
       the slot of whichever coroutine lies below. */
    if (weft_coro_create(&below, big_frame_body, NULL, &o) != 0 ||
        weft_coro_create(&co, big_frame_body, NULL, &o) != 0)
        _exit(2);
    if (co->stack.guard != WEFT__GUARD_PAGE)
        _exit(3);
    weft_coro_resume(co, NULL, NULL);
    _exit(4); /* not reached */
}

/*
 * A frame bigger than a page jumps a one-page guard. Where guards are free
 * (MADV_GUARD_INSTALL) they are 64 KiB: a coroutine with less than 16 KiB
 * of stack left that touches the far end of a 32 KiB local array faults in
 * its guard and gets the one-line report, not another coroutine's memory.
 * Skipped where guards are one page (older kernels, qemu-user).
 */
static void test_stack_big_frame_overflow_reported(void **state)
{
    (void)state;
    if (weft__stack_guard_size() < 48 * KiB) {
        print_message("guards are %zu bytes here (no MADV_GUARD_INSTALL)\n",
                      weft__stack_guard_size());
        skip();
    }
    assert_overflow_reported(big_frame_child, NULL);
}

/* As cmocka's: a SIGSEGV handler without SA_ONSTACK that ends the process. */
static void later_handler(int sig)
{
    (void)sig;
    _exit(42);
}

/* arg 0: overflows; 1: a fault that is not weft's (a PROT_NONE page). */
static void later_handler_child(void *arg)
{
    struct sigaction sa;
    weft_coro *co;
    weft_coro_opts o = {.stack_size = 64 * KiB, .name = "deep"};
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = later_handler;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, NULL);          /* displaces weft's */
    for (int i = 0; i < WEFT__SEGV_RECHECK; i++) {
        if (weft_coro_create(&co, overflow_body, NULL, &o) != 0)
            _exit(2);
        if (i < WEFT__SEGV_RECHECK - 1)
            weft_coro_destroy(co);
    }
    if (N(arg)) {                           /* a page nobody may touch */
        char *p = mmap(NULL, page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED)
            _exit(5);
        *(volatile char *)p = 1;
    }
    weft_coro_resume(co, NULL, NULL);
    _exit(4); /* not reached */
}

/*
 * A SIGSEGV handler installed after weft's (cmocka installs one around
 * every test) would get the overflow on the overflowed stack and die
 * without the report. Creating coroutines puts weft's back (at least once
 * every WEFT__SEGV_RECHECK creates), chaining to the newcomer: an overflow
 * is reported, and a fault that is not weft's still reaches the later
 * handler.
 */
static void test_stack_overflow_after_later_handler(void **state)
{
    (void)state;
    char err[4096];
    assert_overflow_reported(later_handler_child, P(0));
    int status = run_child(later_handler_child, P(1), err, sizeof err);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 42)
        fail_msg("other fault: child %s, stderr: \"%s\"", signal_name(status), err);
}

static void *canary_body(void *arg, void *in)
{
    (void)arg, (void)in;
    weft_coro *self = weft_coro_current();
    ((volatile char *)self->stack.lo)[-1] = 1; /* what an overflow does */
    return NULL;
}

static void canary_child(void *arg)
{
    enum { SKIP = 77 };
    struct weft__stack st;
    weft_coro *co;
    weft_coro_opts o = {.stack_size = 64 * KiB, .name = "canary"};
    long tries = max_map_count() / 4 + 4 * BATCH + 1000; /* past the mprotect budget */
    (void)arg;
    if (madv_guards_work())
        _exit(SKIP); /* every slot has a guard page: no canary to overwrite */
    do {
        if (weft__stack_get(64 * KiB, &st) != 0)
            _exit(5);
    } while (st.guard != WEFT__GUARD_CANARY && --tries > 0);
    if (st.guard != WEFT__GUARD_CANARY)
        _exit(6);
    weft__stack_put(&st); /* the next slot taken: the pool is LIFO */
    if (weft_coro_create(&co, canary_body, NULL, &o) != 0 || co->stack.lo != st.lo)
        _exit(7);
    weft_coro_resume(co, NULL, NULL);
    _exit(8); /* not reached: the canary check aborts */
}

/*
 * A slot without a guard page (past the mprotect budget, where
 * MADV_GUARD_INSTALL does not work, e.g. under qemu-user) keeps a canary
 * below its stack: a coroutine that writes there ends the process by SIGABRT
 * with one line. Skipped where every slot gets a real guard page.
 */
static void test_stack_canary_overwrite_reported(void **state)
{
    (void)state;
    char err[4096], want[160];
    int status = run_child(canary_child, NULL, err, sizeof err);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 77) {
        print_message("every stack has a guard page here: no canary slot\n");
        skip();
    }
    drop_emulator_line(err);
    weft_coro *co = make(overflow_body, NULL, 64 * KiB, "canary");
    snprintf(want, sizeof want,
             "weft: stack overflow in coroutine 'canary' (stack size %zu bytes): "
             "canary overwritten\n", weft_coro_stack_size(co));
    assert_code(weft_coro_destroy(co), 0);
    if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGABRT)
        fail_msg("child %s, stderr: \"%s\"", signal_name(status), err);
    assert_string_equal(err, want);
}

/* weft__stack_canary_ok() checks the top of the guard area for zeros. */
static void test_stack_canary_check(void **state)
{
    (void)state;
    char *buf = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(buf != MAP_FAILED);
    struct weft__stack st = {.lo = buf + page, .hi = buf + 2 * page,
                             .guard = WEFT__GUARD_CANARY};
    assert_true(weft__stack_canary_ok(&st));
    buf[page - 1] = 1; /* the byte just below the stack */
    assert_false(weft__stack_canary_ok(&st));
    buf[page - 1] = 0;
    assert_true(weft__stack_canary_ok(&st));
    buf[page - 64] = (char)0x80; /* the lowest byte checked */
    assert_false(weft__stack_canary_ok(&st));
    buf[page - 64] = 0;
    buf[page] = 1; /* the stack itself may hold anything */
    buf[2 * page - 1] = 1;
    assert_true(weft__stack_canary_ok(&st));
    munmap(buf, 2 * page);
}

/* ------------------------------------------------------------------------ */
/* Guard pages                                                              */
/* ------------------------------------------------------------------------ */

/* 0, or the errno of writing one byte at p into a pipe (the kernel reads it). */
static int read_errno(int fd, const char *p)
{
    ssize_t n = write(fd, p, 1);
    return n == 1 ? 0 : n < 0 ? errno : -1;
}

/*
 * The first stacks of a process have a real guard page: the kernel refuses
 * to read any of it (EFAULT), and reads the stack's lowest byte. (With
 * MADV_GUARD_INSTALL /proc/self/maps does not show guards, so this asks the
 * kernel instead.)
 */
static void test_stack_guard_page(void **state)
{
    (void)state;
    int fds[2];
    weft_coro *co[4];
    struct weft__stack raw;
    assert_int_equal(pipe(fds), 0);
    for (int i = 0; i < 4; i++)
        co[i] = make(overflow_body, NULL, i < 2 ? 0 : 128 * KiB, NULL);
    assert_code(weft__stack_get(256 * KiB, &raw), 0);
    for (int i = 0; i < 5; i++) {
        const struct weft__stack *st = i < 4 ? &co[i]->stack : &raw;
        assert_int_equal(st->guard, WEFT__GUARD_PAGE);
        assert_int_equal(read_errno(fds[1], st->lo - 1), EFAULT);
        assert_int_equal(read_errno(fds[1], st->lo - page / 2), EFAULT);
        assert_int_equal(read_errno(fds[1], st->lo - page), EFAULT);
        assert_int_equal(read_errno(fds[1], st->lo), 0);
        assert_int_equal(read_errno(fds[1], st->hi - 1), 0);
    }
    weft__stack_put(&raw);
    for (int i = 0; i < 4; i++)
        assert_code(weft_coro_destroy(co[i]), 0);
    close(fds[0]);
    close(fds[1]);
}

/* ------------------------------------------------------------------------ */
/* Pooling                                                                  */
/* ------------------------------------------------------------------------ */

static void *return_in_body(void *arg, void *in)
{
    (void)arg;
    return in;
}

/* A destroyed coroutine's slot is the next one created, with the same size;
   the pool hands back a put slot to the next get of its size. */
static void test_stack_pool_reuses_slot(void **state)
{
    (void)state;
    void *out = NULL;
    weft_coro *a = make(return_in_body, NULL, 0, NULL);
    struct weft__stack sa = a->stack;
    size_t size = weft_coro_stack_size(a);
    assert_code(weft_coro_resume(a, P(1), &out), WEFT_CORO_RETURNED);
    assert_code(weft_coro_destroy(a), 0);
    weft_coro *b = make(return_in_body, NULL, 0, NULL);
    assert_ptr_equal(b, a);
    assert_ptr_equal(b->stack.lo, sa.lo);
    assert_ptr_equal(b->stack.hi, sa.hi);
    assert_int_equal(weft_coro_stack_size(b), size);
    assert_int_equal(size, (size_t)((char *)b - b->stack.lo)); /* below the record */
    assert_code(weft_coro_resume(b, P(2), &out), WEFT_CORO_RETURNED);
    assert_ptr_equal(out, P(2));
    assert_code(weft_coro_destroy(b), 0);

    struct weft__stack s1, s2;
    assert_code(weft__stack_get(96 * KiB, &s1), 0);
    weft__stack_put(&s1);
    assert_code(weft__stack_get(96 * KiB, &s2), 0);
    assert_ptr_equal(s2.lo, s1.lo);
    assert_ptr_equal(s2.hi, s1.hi);
    assert_int_equal(s2.guard, s1.guard);
    weft__stack_put(&s2);
}

/*
 * Free stacks past the pool's high-water mark give their memory back as
 * they are freed, and weft_stack_trim() gives back the rest: 1,024
 * coroutines with 48 KiB of stack each made resident, destroyed: at most
 * half the growth stays (the pool keeps 256 + a cache of 64 resident);
 * after weft_stack_trim() at most 1/16 (not checked under ThreadSanitizer,
 * whose shadow of the memset stays). Released slots are reused with zero
 * pages and their guards intact.
 */
static void test_stack_release_memory(void **state)
{
    (void)state;
    enum { COUNT = 1024, TOUCH = 48 * 1024 };
    int fds[2];
    weft_coro **co = calloc(COUNT, sizeof *co);
    assert_non_null(co);
    assert_int_equal(pipe(fds), 0);
    (void)weft_stack_trim();
    long before = rss_bytes();
    for (int i = 0; i < COUNT; i++) {
        co[i] = make(return_in_body, NULL, 0, NULL);
        memset(co[i]->stack.lo + page, 0xa5, TOUCH);
    }
    long growth = rss_bytes() - before;
    assert_true(growth >= (long)COUNT * TOUCH * 9 / 10);  /* it was measured */
    for (int i = 0; i < COUNT; i++)
        assert_code(weft_coro_destroy(co[i]), 0);
    long after = rss_bytes() - before;
    int trimmed = weft_stack_trim();
    long after_trim = rss_bytes() - before;
    print_message("RSS growth %ld KiB; after destroy %ld KiB; after trim (%d stacks) %ld KiB\n",
                  growth / 1024, after / 1024, trimmed, after_trim / 1024);
#ifndef WEFT_TSAN  /* ThreadSanitizer's shadow of the memset stays resident */
    assert_true(after <= growth / 2);
    assert_true(after_trim <= growth / 16);
#endif
    assert_true(trimmed >= 256);
    assert_code(weft_stack_trim(), 0);                      /* nothing left */
    for (int i = 0; i < COUNT; i++) {
        void *out = NULL;
        co[i] = make(return_in_body, NULL, 0, NULL);
        assert_int_equal(co[i]->stack.lo[page], 0);          /* a fresh page */
        if (co[i]->stack.guard == WEFT__GUARD_PAGE)
            assert_int_equal(read_errno(fds[1], co[i]->stack.lo - 1), EFAULT);
        assert_code(weft_coro_resume(co[i], P(i), &out), WEFT_CORO_RETURNED);
        assert_ptr_equal(out, P(i));
    }
    for (int i = 0; i < COUNT; i++)
        assert_code(weft_coro_destroy(co[i]), 0);
    close(fds[0]);
    close(fds[1]);
    free(co);
}

/*
 * Each size is a class of its own: a slot comes back only for its size, with
 * that many usable bytes, also for more sizes than a thread caches (4).
 */
static void test_stack_size_classes(void **state)
{
    (void)state;
    enum { CLASSES = 7 };
    static const size_t sizes[CLASSES] = {16 * KiB, 20 * KiB, 48 * KiB, 64 * KiB,
                                          128 * KiB, 132 * KiB, 2 * MiB};
    struct weft__stack first[CLASSES], again[CLASSES], all[CLASSES];
    for (int i = 0; i < CLASSES; i++) {
        assert_code(weft__stack_get(sizes[i], &first[i]), 0);
        assert_int_equal((size_t)(first[i].hi - first[i].lo), sizes[i]);
        all[i] = first[i];
    }
    assert_disjoint(all, CLASSES);
    for (int i = 0; i < CLASSES; i++)
        weft__stack_put(&first[i]);
    for (int i = CLASSES - 1; i >= 0; i--) { /* the other order */
        assert_code(weft__stack_get(sizes[i], &again[i]), 0);
        assert_ptr_equal(again[i].lo, first[i].lo);
        assert_int_equal((size_t)(again[i].hi - again[i].lo), sizes[i]);
    }
    for (int i = 0; i < CLASSES; i++)
        weft__stack_put(&again[i]);

    weft_coro *small = make(return_in_body, NULL, 64 * KiB, NULL);
    weft_coro *large = make(return_in_body, NULL, 128 * KiB, NULL);
    assert_true(weft_coro_stack_size(large) >= weft_coro_stack_size(small) + 64 * KiB);
    assert_false(overlap(small->stack.lo, (size_t)(small->stack.hi - small->stack.lo),
                         large->stack.lo, (size_t)(large->stack.hi - large->stack.lo)));
    assert_code(weft_coro_destroy(small), 0);
    assert_code(weft_coro_destroy(large), 0);
}

/* Recurses in frames of more than 1000 bytes until a frame lies at or
   below `floor`; returns the address of the deepest one. */
__attribute__((noinline)) static uintptr_t recurse_to(uintptr_t floor)
{
    volatile char frame[1000];
    frame[0] = (char)floor;
    uintptr_t low = (uintptr_t)frame > floor ? recurse_to(floor) : (uintptr_t)frame;
    frame[1] = (char)low;
    if (frame[0] != (char)floor)
        bad++;
    return low;
}

/* Recurses until `arg` bytes of stack are in use; returns how many were. */
static void *recursion_body(void *arg, void *in)
{
    (void)in;
    uintptr_t top = (uintptr_t)__builtin_frame_address(0);
    return P(top - recurse_to(top - (uintptr_t)N(arg)));
}

/* Custom sizes are honoured: recursion through 78% of 256 KiB, 1 MiB and
   8 MiB stacks (larger than a slab, so a mapping of its own) works. */
static void test_stack_custom_sizes(void **state)
{
    (void)state;
    static const size_t sizes[] = {256 * KiB, 1 * MiB, 8 * MiB};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t deep = sizes[i] / 100 * 78;
        void *used = NULL;
        weft_coro *co = make(recursion_body, P(deep), sizes[i], NULL);
        assert_true(weft_coro_stack_size(co) + 256 >= sizes[i]);
        assert_int_equal((size_t)(co->stack.hi - co->stack.lo), sizes[i]);
        assert_int_equal(co->stack.guard, WEFT__GUARD_PAGE);
        assert_code(weft_coro_resume(co, NULL, &used), WEFT_CORO_RETURNED);
        assert_true((size_t)N(used) >= deep);
        assert_code(weft_coro_destroy(co), 0);
    }
    assert_int_equal(bad, 0);
}

/* ------------------------------------------------------------------------ */
/* Many stacks                                                              */
/* ------------------------------------------------------------------------ */

enum { FILL = 16 * 1024 }; /* bytes of its stack a filler coroutine owns */

/* Fills FILL bytes of its stack with its own byte, yields, then checks that
   no other coroutine wrote there. */
static void *filler_body(void *arg, void *in)
{
    volatile unsigned char mine[FILL];
    unsigned char id = (unsigned char)N(arg);
    (void)in;
    for (size_t i = 0; i < FILL; i++)
        mine[i] = id;
    if (weft_coro_yield(NULL, NULL) != 0)
        return NULL;
    for (size_t i = 0; i < FILL; i++)
        if (mine[i] != id) {
            bad++;
            break;
        }
    return P(1);
}

/*
 * More stacks than a thread caches (so slots move between cache and depot in
 * batches, and across slabs): every slot has its size and a guard, none
 * overlaps another (guards included), all usable at once; after all are
 * returned, taking as many again gives disjoint slots once more.
 */
static void test_stack_many_distinct(void **state)
{
    (void)state;
    enum { SLOTS = 1000, COROS = 300 };
    struct weft__stack *s = calloc(SLOTS, sizeof *s);
    struct weft__stack *copy = calloc(SLOTS, sizeof *copy);
    weft_coro **co = calloc(COROS, sizeof *co);
    assert_non_null(s);
    assert_non_null(copy);
    assert_non_null(co);
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < SLOTS; i++) {
            assert_code(weft__stack_get(64 * KiB, &s[i]), 0);
            assert_int_equal((size_t)(s[i].hi - s[i].lo), 64 * KiB);
            assert_int_equal(s[i].guard, WEFT__GUARD_PAGE);
            s[i].lo[0] = 1; /* usable from bottom */
            s[i].hi[-1] = 1; /* to top */
        }
        memcpy(copy, s, SLOTS * sizeof *s);
        assert_disjoint(copy, SLOTS);
        for (int i = 0; i < SLOTS; i++)
            weft__stack_put(&s[i]);
    }

    for (int i = 0; i < COROS; i++) {
        co[i] = make(filler_body, P(i), 0, NULL);
        assert_code(weft_coro_resume(co[i], NULL, NULL), WEFT_CORO_YIELDED);
        copy[i] = co[i]->stack;
    }
    assert_disjoint(copy, COROS);
    for (int i = 0; i < COROS; i++) {
        void *out = NULL;
        assert_code(weft_coro_resume(co[i], NULL, &out), WEFT_CORO_RETURNED);
        assert_ptr_equal(out, P(1));
        assert_code(weft_coro_destroy(co[i]), 0);
    }
    assert_int_equal(bad, 0);
    free(s);
    free(copy);
    free(co);
}

/* ------------------------------------------------------------------------ */
/* Threads                                                                  */
/* ------------------------------------------------------------------------ */

enum { THREADS = 4, LIVE = 100, CHURN = 2000 };

struct worker {
    pthread_barrier_t *all_live;      /* every thread's coroutines exist */
    struct weft__stack slots[LIVE];   /* this thread's live slots */
    long failures;                    /* counted by the thread */
    int id;
};

static void *add_one_body(void *arg, void *in)
{
    weft_coro *sub;
    void *v = NULL;
    (void)arg;
    if (weft_coro_create(&sub, return_in_body, NULL, NULL) != 0 ||
        weft_coro_resume(sub, P(N(in) + 1), &v) != WEFT_CORO_RETURNED ||
        weft_coro_destroy(sub) != 0)
        return P(-1);
    return v;
}

/* Keeps LIVE filler coroutines across a barrier with the other threads,
   churns through create/resume/destroy with nesting, then checks its own. */
static void *worker_thread(void *arg)
{
    struct worker *w = arg;
    weft_coro *co[LIVE];
    for (int i = 0; i < LIVE; i++) {
        if (weft_coro_create(&co[i], filler_body, P(w->id * LIVE + i), NULL) != 0 ||
            weft_coro_resume(co[i], NULL, NULL) != WEFT_CORO_YIELDED)
            w->failures++;
        w->slots[i] = co[i]->stack;
    }
    pthread_barrier_wait(w->all_live);
    for (int i = 0; i < CHURN; i++) {
        weft_coro *c;
        void *v = NULL;
        if (weft_coro_create(&c, add_one_body, NULL, NULL) != 0 ||
            weft_coro_resume(c, P(i), &v) != WEFT_CORO_RETURNED || v != P(i + 1) ||
            weft_coro_destroy(c) != 0)
            w->failures++;
    }
    for (int i = 0; i < LIVE; i++) {
        void *v = NULL;
        if (weft_coro_resume(co[i], NULL, &v) != WEFT_CORO_RETURNED || v != P(1) ||
            weft_coro_destroy(co[i]) != 0)
            w->failures++;
    }
    return NULL;
}

/*
 * Several threads create, run and destroy coroutines at once, sharing the
 * depot: no failure, no stack overwritten by another's, and the slots live
 * at the same moment in all threads are disjoint.
 */
static void test_stack_threads(void **state)
{
    (void)state;
    static struct worker w[THREADS];
    static struct weft__stack all[THREADS * LIVE];
    pthread_barrier_t barrier;
    pthread_t t[THREADS];
    assert_int_equal(pthread_barrier_init(&barrier, NULL, THREADS), 0);
    for (int i = 0; i < THREADS; i++) {
        w[i] = (struct worker){.all_live = &barrier, .id = i};
        assert_int_equal(pthread_create(&t[i], NULL, worker_thread, &w[i]), 0);
    }
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_join(t[i], NULL), 0);
    pthread_barrier_destroy(&barrier);
    for (int i = 0; i < THREADS; i++) {
        assert_int_equal(w[i].failures, 0);
        memcpy(&all[i * LIVE], w[i].slots, sizeof w[i].slots);
    }
    assert_disjoint(all, THREADS * LIVE);
    assert_int_equal(bad, 0);
}

enum { HANDED = 7 * BATCH }; /* slots of 72 KiB each thread uses */

struct handover {
    weft_coro *seen[HANDED]; /* records (slots) used by the thread */
    long failures;
};

static void *exiting_thread(void *arg)
{
    struct handover *h = arg;
    weft_coro *co[HANDED];
    weft_coro_opts o = {.stack_size = 72 * KiB};
    for (int i = 0; i < HANDED; i++) {
        void *v = NULL;
        if (weft_coro_create(&co[i], filler_body, P(i), &o) != 0 ||
            weft_coro_resume(co[i], NULL, NULL) != WEFT_CORO_YIELDED ||
            weft_coro_resume(co[i], NULL, &v) != WEFT_CORO_RETURNED || v != P(1))
            h->failures++;
        h->seen[i] = co[i];
    }
    for (int i = 0; i < HANDED; i++)
        if (weft_coro_destroy(co[i]) != 0)
            h->failures++;
    return NULL; /* exits with its cache full of 72 KiB slots */
}

static int by_address(const void *x, const void *y)
{
    const weft_coro *const *a = x, *const *b = y;
    return *a < *b ? -1 : *a > *b;
}

/*
 * A thread that exits hands its cached slots to the depot: another thread
 * taking as many of that size (used by nobody else) gets the first thread's
 * slots, and they work. The first thread may also have left up to
 * BATCH - 1 slots it took but never used in its cache (a batch from the
 * depot, possibly cut short at a slab's end), so that many of the second
 * thread's may be those instead.
 */
static void test_stack_thread_exit_hands_over(void **state)
{
    (void)state;
    static struct handover first, second;
    pthread_t t;
    int reused = 0;
    memset(&first, 0, sizeof first);
    memset(&second, 0, sizeof second);
    assert_int_equal(pthread_create(&t, NULL, exiting_thread, &first), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(pthread_create(&t, NULL, exiting_thread, &second), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(first.failures, 0);
    assert_int_equal(second.failures, 0);
    assert_int_equal(bad, 0);
    qsort(first.seen, HANDED, sizeof first.seen[0], by_address);
    for (int i = 0; i < HANDED; i++)
        reused += bsearch(&second.seen[i], first.seen, HANDED, sizeof first.seen[0],
                          by_address) != NULL;
    if (reused < HANDED - (BATCH - 1))
        fail_msg("only %d of the %d slots were the exited thread's", reused, HANDED);
}

enum { CARVED = BATCH + 1 }; /* coroutines the second carving thread keeps */

struct carving {
    int n;                      /* coroutines to keep live at once */
    char *lo[CARVED];           /* their stacks' lowest bytes */
    long failures;
};

static void *carving_thread(void *arg)
{
    struct carving *c = arg;
    weft_coro *co[CARVED];
    weft_coro_opts o = {.stack_size = 108 * KiB};   /* a size nobody else uses */
    for (int i = 0; i < c->n; i++) {
        if (weft_coro_create(&co[i], filler_body, P(i), &o) != 0) {
            c->failures++;
            c->n = i;
            break;
        }
        c->lo[i] = co[i]->stack.lo;
    }
    for (int i = 0; i < c->n; i++)
        if (weft_coro_destroy(co[i]) != 0)
            c->failures++;
    return NULL;
}

/*
 * A thread carves fresh slots from a slab of its own; what it left
 * uncarved when it exits goes to the next thread that needs fresh slots of
 * that size. The first thread takes one batch and exits; the second reuses
 * that batch, and its next slot is carved right above it, in the same slab.
 */
static void test_stack_thread_exit_hands_over_slab(void **state)
{
    (void)state;
    static struct carving first = {.n = 1}, second = {.n = CARVED};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, carving_thread, &first), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(pthread_create(&t, NULL, carving_thread, &second), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(first.failures + second.failures, 0);
    char *top = second.lo[0];
    for (int i = 1; i < BATCH; i++)
        top = second.lo[i] > top ? second.lo[i] : top;
    assert_ptr_equal(second.lo[BATCH], top + 108 * KiB + weft__stack_guard_size());
}

/* ------------------------------------------------------------------------ */
/* A million coroutines                                                     */
/* ------------------------------------------------------------------------ */

static void *million_body(void *arg, void *in)
{
    void *next = NULL;
    (void)in;
    if (weft_coro_yield(arg, &next) != 0)
        return NULL;
    return P(N(next) + 1);
}

static double seconds_since(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

/*
 * 1,000,000 coroutines with the default stack, each resumed once so it is
 * suspended with a live frame, all suspended at once; then each resumed to
 * completion and destroyed. vm.max_map_count (65,530) allows nowhere near a
 * mapping per stack: with working MADV_GUARD_INSTALL every slot still has a
 * guard page; otherwise guard pages stop at the mprotect budget and the rest
 * have intact canaries.
 */
static void test_stack_million_coroutines(void **state)
{
    (void)state;
    enum { COUNT = 1000000 };
    struct timespec t0;
    struct rusage ru;
    long failed_create = 0, failed_resume = 0, not_suspended = 0, failed_finish = 0;
    long page_guards = 0, canaries = 0, broken_canaries = 0, failed_destroy = 0;
    weft_coro **co = calloc(COUNT, sizeof *co);
    assert_non_null(co);
    long rss_before = rss_bytes(), rss_peak;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (long i = 0; i < COUNT; i++) {
        void *out = NULL;
        if (weft_coro_create(&co[i], million_body, P(i), NULL) != 0) {
            failed_create++;
            break;
        }
        failed_resume += weft_coro_resume(co[i], NULL, &out) != WEFT_CORO_YIELDED || out != P(i);
    }
    assert_int_equal(failed_create, 0);
    assert_int_equal(failed_resume, 0);
    for (long i = 0; i < COUNT; i++) {
        not_suspended += weft_coro_status(co[i]) != WEFT_CORO_SUSPENDED;
        if (co[i]->stack.guard == WEFT__GUARD_PAGE)
            page_guards++;
        else if (co[i]->stack.guard == WEFT__GUARD_CANARY)
            canaries++;
    }
    assert_int_equal(not_suspended, 0);
    assert_int_equal(page_guards + canaries, COUNT);
    double t_live = seconds_since(&t0);
    rss_peak = rss_bytes();
    for (long i = 0; i < COUNT; i++) {
        void *out = NULL;
        failed_finish += weft_coro_resume(co[i], P(i), &out) != WEFT_CORO_RETURNED ||
                         out != P(i + 1) || weft_coro_status(co[i]) != WEFT_CORO_DEAD;
        if (co[i]->stack.guard == WEFT__GUARD_CANARY)
            broken_canaries += !weft__stack_canary_ok(&co[i]->stack);
    }
    assert_int_equal(failed_finish, 0);
    assert_int_equal(broken_canaries, 0);
    for (long i = 0; i < COUNT; i++)
        failed_destroy += weft_coro_destroy(co[i]) != 0;
    assert_int_equal(failed_destroy, 0);
    free(co);
    co = NULL;
    long rss_after = rss_bytes();
    int trimmed = weft_stack_trim();
    long rss_trimmed = rss_bytes();
    getrusage(RUSAGE_SELF, &ru);
    print_message("1,000,000 coroutines: all suspended after %.2f s, done after %.2f s; "
                  "%ld guard pages, %ld canaries; peak RSS %ld MiB\n",
                  t_live, seconds_since(&t0), page_guards, canaries, ru.ru_maxrss / 1024);
    print_message("RSS before %ld MiB, all suspended %ld MiB, all destroyed %ld MiB "
                  "(%+ld MiB), after weft_stack_trim() (%d stacks) %ld MiB\n",
                  rss_before >> 20, rss_peak >> 20, rss_after >> 20,
                  (rss_after - rss_before) >> 20, trimmed, rss_trimmed >> 20);
    /* qemu-user keeps a record per guest page mapped (about 400 MiB for
       these slots, never unmapped) in the RSS it reports; ctest says when
       the test runs under an emulator. */
    if (getenv("WEFT_TEST_EMULATED"))
        print_message("under an emulator: RSS bound not checked\n");
    else
        assert_true(rss_after - rss_before <= (long)(64 * MiB));
    if (madv_guards_work())
        assert_int_equal(page_guards, COUNT);
    else
        assert_true(page_guards <= max_map_count() / 4);
}

/* ------------------------------------------------------------------------ */

#define TEST(f) cmocka_unit_test_setup(f, reset)

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        TEST(test_stack_overflow_reported),
        TEST(test_stack_overflow_in_switch_reported),
        TEST(test_stack_big_frame_overflow_reported),
        TEST(test_stack_overflow_after_later_handler),
        TEST(test_stack_canary_overwrite_reported),
        TEST(test_stack_canary_check),
        TEST(test_stack_guard_page),
        TEST(test_stack_pool_reuses_slot),
        TEST(test_stack_release_memory),
        TEST(test_stack_size_classes),
        TEST(test_stack_custom_sizes),
        TEST(test_stack_many_distinct),
        TEST(test_stack_threads),
        TEST(test_stack_thread_exit_hands_over),
        TEST(test_stack_thread_exit_hands_over_slab),
    };
    const struct CMUnitTest million[] = {
        TEST(test_stack_million_coroutines),
    };
    weft_coro *co;

    page = (size_t)sysconf(_SC_PAGESIZE);
    /* The first coroutine installs weft's SIGSEGV handler; keep a copy for
       the children (see run_child). */
    if (weft_coro_create(&co, overflow_body, NULL, NULL) != 0 || weft_coro_destroy(co) != 0 ||
        sigaction(SIGSEGV, NULL, &weft_segv) != 0) {
        fprintf(stderr, "test_stack: cannot create a coroutine\n");
        return 1;
    }
    if (argc > 1 && strcmp(argv[1], "million") == 0)
        return cmocka_run_group_tests_name("stack_million", million, NULL, NULL);
    return cmocka_run_group_tests_name("stack", tests, NULL, NULL);
}
