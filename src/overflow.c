/*
 * overflow.c - a stack overflow ends the process with one line naming the
 * coroutine, never a silent crash.
 *
 * A coroutine that runs into the guard page below its stack faults with no
 * stack left to run a handler on, so every thread that creates coroutines
 * gets an alternate signal stack, and the process a SIGSEGV handler that
 * runs on it. The handler checks whether the faulting address lies in the
 * guard page of the running coroutine; if so it writes the report and lets
 * the fault happen again under the default action, so the process dies of
 * SIGSEGV as it would have (with a core dump where enabled). Any other fault
 * goes to the handler installed before weft's, or to the default action.
 *
 * A program (or a test framework: cmocka does) may install its own SIGSEGV
 * handler after weft's; it would then get the overflow, on the overflowed
 * stack unless it asked for SA_ONSTACK, and die without the report. So
 * weft_coro_create() re-checks the action every WEFT__SEGV_RECHECK creates
 * on each thread (a sigaction call costs as much as fifty creates) and,
 * when it finds another, puts weft's back with the newcomer as the handler
 * chained to. What remains: a handler installed after the last check and
 * before an overflow still displaces the report; a handler that chains back
 * to the one it displaced is called once and then the default action ends
 * the process (no endless ping-pong between the two).
 *
 * Everything the handler calls is async-signal-safe: it formats with its
 * own code and writes with write(2).
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "coro_internal.h"

enum { ALTSTACK_BYTES = 64 * 1024 };

static pthread_once_t once = PTHREAD_ONCE_INIT;
static pthread_key_t altstack_key;  /* frees a thread's altstack at exit */
static pthread_mutex_t install_lock = PTHREAD_MUTEX_INITIALIZER; /* previous */
static struct sigaction previous;   /* SIGSEGV action weft's displaced */
static __thread int chaining;       /* this thread's handler is in previous's */

/* Appends `s` to buf at *len, within cap. */
static void put_str(char *buf, size_t *len, size_t cap, const char *s)
{
    while (*s && *len < cap)
        buf[(*len)++] = *s++;
}

static void put_uint(char *buf, size_t *len, size_t cap, size_t v)
{
    char digits[24];
    int n = 0;
    do {
        digits[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n && *len < cap)
        buf[(*len)++] = digits[--n];
}

/* Writes "weft: stack overflow in coroutine 'NAME' (stack size N bytes)". */
static void report(const struct weft_coro *co, const char *how)
{
    char buf[160];
    size_t len = 0, cap = sizeof buf - 1;
    put_str(buf, &len, cap, "weft: stack overflow in coroutine '");
    put_str(buf, &len, cap, co->name);
    put_str(buf, &len, cap, "' (stack size ");
    put_uint(buf, &len, cap, weft_coro_stack_size(co));
    put_str(buf, &len, cap, " bytes)");
    put_str(buf, &len, cap, how);
    buf[len++] = '\n';
    ssize_t unused = write(STDERR_FILENO, buf, len);
    (void)unused;
}

static int in_guard(const struct weft_coro *co, const char *addr)
{
    const char *lo = co->stack.lo;
    return co->stack.guard == WEFT__GUARD_PAGE && addr < lo &&
           addr >= lo - weft__stack_guard_size();
}

static void on_segv(int sig, siginfo_t *info, void *uctx)
{
    /* The faulting stack is the running coroutine's, or, inside
       weft__switch(), the one being left. */
    const struct weft_coro *co = weft__tls.current, *from = weft__tls.from;
    if (!(co && co->resumer && in_guard(co, info->si_addr)))
        co = from;
    if (co && co->resumer && in_guard(co, info->si_addr)) {
        report(co, "");
        signal(SIGSEGV, SIG_DFL);   /* the fault repeats and ends the process */
        return;
    }
    if (chaining) {                 /* previous chained back here */
        signal(SIGSEGV, SIG_DFL);
        return;
    }
    chaining = 1;
    if (previous.sa_flags & SA_SIGINFO) {
        previous.sa_sigaction(sig, info, uctx);
    } else if (previous.sa_handler != SIG_DFL && previous.sa_handler != SIG_IGN) {
        previous.sa_handler(sig);
    } else {
        signal(SIGSEGV, SIG_DFL);
    }
    chaining = 0;
}

/* Installs weft's action unless it is the current one, keeping the current
   one in `previous`. */
static void install(void)
{
    struct sigaction sa, cur;
    pthread_mutex_lock(&install_lock);
    if (sigaction(SIGSEGV, NULL, &cur) == 0 &&
        !((cur.sa_flags & SA_SIGINFO) && cur.sa_sigaction == on_segv)) {
        memset(&sa, 0, sizeof sa);
        sa.sa_sigaction = on_segv;
        sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
        sigemptyset(&sa.sa_mask);
        if (sigaction(SIGSEGV, &sa, &cur) == 0)
            previous = cur;
    }
    pthread_mutex_unlock(&install_lock);
}

void weft__overflow_recheck(void)
{
    install();
}

static void free_altstack(void *mem)
{
    stack_t ss = {.ss_flags = SS_DISABLE};
    sigaltstack(&ss, NULL);
    munmap(mem, ALTSTACK_BYTES);
}

static void init_once(void)
{
    install();
    pthread_key_create(&altstack_key, free_altstack);
}

void weft__overflow_thread_init(void)
{
    stack_t old;
    pthread_once(&once, init_once);
    if (sigaltstack(NULL, &old) == 0 && !(old.ss_flags & SS_DISABLE))
        return;     /* the thread has one already (its own, or a sanitizer's) */
    void *mem = mmap(NULL, ALTSTACK_BYTES, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (mem == MAP_FAILED)
        return;     /* overflows then crash unreported, as without weft */
    stack_t ss = {.ss_sp = mem, .ss_size = ALTSTACK_BYTES};
    if (sigaltstack(&ss, NULL) != 0) {
        munmap(mem, ALTSTACK_BYTES);
        return;
    }
    pthread_setspecific(altstack_key, mem);
}

void weft__overflow_abort(const struct weft_coro *co)
{
    report(co, ": canary overwritten");
    abort();
}
