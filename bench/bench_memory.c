/*
 * bench_memory.c - "memory" for weft: resident bytes per idle coroutine
 * with the default stack. A run creates `iters` coroutines (10,000 unless
 * --iters says otherwise), resumes each once so that it sits suspended in
 * weft_coro_yield(), and divides the growth of the resident set size by the
 * count. The page tables the stacks need are reported apart (VmPTE), as the
 * kernel does not count them in RSS. ns_per_op is the time to create and
 * first resume one coroutine with a cold pool (fresh slabs, page faults and
 * guard pages included).
 *
 * Each run happens in a child process forked for it, so the stacks created
 * by one run (pooled, resident) cannot hide the cost in the next. The child
 * inherits at most the few free slots the parent's own benchmarks left in
 * its pool, which is noise against 10,000.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <weft/coro.h>

#include "harness.h"

enum {
    IDLE_COROS = 10000,       /* coroutines per run, unless --iters */
    CHILD_TIMEOUT_MS = 60000  /* a child taking longer is killed (qemu-user
                                 7.2 here never returns from fork()) */
};

/* What the child sends back through the pipe. */
struct report {
    int rc;                   /* 0 or a negative errno */
    double ns, bytes, pte;    /* totals over the run */
};

/* Reads a whole /proc file into buf without allocating; returns its length. */
static ssize_t read_proc(const char *path, char *buf, size_t size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n = 0, r;
    if (fd < 0)
        return -1;
    while ((size_t)n < size - 1 && (r = read(fd, buf + n, size - 1 - (size_t)n)) > 0)
        n += r;
    close(fd);
    buf[n] = '\0';
    return n;
}

/* Resident bytes of this process (statm, second field). */
static double rss_bytes(void)
{
    char buf[256];
    unsigned long size, resident;
    if (read_proc("/proc/self/statm", buf, sizeof buf) <= 0 ||
        sscanf(buf, "%lu %lu", &size, &resident) != 2)
        return -1;
    return (double)resident * (double)sysconf(_SC_PAGESIZE);
}

/* Page-table bytes of this process (VmPTE in status). */
static double pte_bytes(void)
{
    char buf[4096];
    unsigned long kb;
    const char *p;
    if (read_proc("/proc/self/status", buf, sizeof buf) <= 0 ||
        !(p = strstr(buf, "VmPTE:")) || sscanf(p + 6, "%lu", &kb) != 1)
        return -1;
    return (double)kb * 1024;
}

static void *idler(void *arg, void *in)
{
    (void)arg;
    (void)in;
    weft_coro_yield(NULL, NULL); /* idle here until destroyed */
    return NULL;
}

/* Makes one coroutine and runs it to its first yield. */
static int spawn_idle(weft_coro **co)
{
    int rc = weft_coro_create(co, idler, NULL, NULL);
    if (rc < 0)
        return rc;
    rc = weft_coro_resume(*co, NULL, NULL);
    return rc == WEFT_CORO_YIELDED ? 0 : rc < 0 ? rc : -EPROTO;
}

/* The measurement, in the child. */
static struct report measure(uint64_t n)
{
    struct report r = {0, 0, 0, 0};
    weft_coro *warm, **cos = malloc(n * sizeof *cos);
    if (!cos)
        return (struct report){-ENOMEM, 0, 0, 0};
    memset(cos, 0, n * sizeof *cos); /* resident before the first reading */
    /* One-time costs (signal stack, pool set-up) stay out of the count. */
    if ((r.rc = spawn_idle(&warm)) < 0)
        return r;
    weft_coro_destroy(warm);

    double rss0 = rss_bytes(), pte0 = pte_bytes();
    uint64_t t0 = bench_now_ns();
    for (uint64_t i = 0; i < n; i++)
        if ((r.rc = spawn_idle(&cos[i])) < 0)
            return r;
    uint64_t t1 = bench_now_ns();
    double rss1 = rss_bytes(), pte1 = pte_bytes();

    bench_use(cos);
    r.ns = (double)(t1 - t0);
    r.bytes = rss0 < 0 || rss1 < 0 ? -1 : rss1 - rss0;
    r.pte = pte0 < 0 || pte1 < 0 ? -1 : pte1 - pte0;
    return r;
}

static int run_memory(uint64_t iters, struct bench_sample *out)
{
    struct report r = {-EPROTO, 0, 0, 0};
    int fds[2], status;
    if (pipe2(fds, O_CLOEXEC) < 0)
        return -errno;
    pid_t pid = fork();
    if (pid < 0) {
        int err = errno;
        close(fds[0]);
        close(fds[1]);
        return -err;
    }
    if (pid == 0) {
        close(fds[0]);
        r = measure(iters);
        ssize_t w = write(fds[1], &r, sizeof r);
        _exit(w == (ssize_t)sizeof r ? 0 : 1); /* no atexit, no stdio flush */
    }
    close(fds[1]);
    struct pollfd p = {.fd = fds[0], .events = POLLIN};
    ssize_t got = -1;
    if (poll(&p, 1, CHILD_TIMEOUT_MS) == 1)
        got = read(fds[0], &r, sizeof r);
    else
        kill(pid, SIGKILL); /* a hung child must not hang the bench */
    close(fds[0]);
    if (waitpid(pid, &status, 0) < 0 || got < 0)
        return -ETIMEDOUT;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || got != (ssize_t)sizeof r)
        return r.rc < 0 ? r.rc : -EPROTO;
    if (r.rc < 0)
        return r.rc;
    out->ns = r.ns;
    out->bytes = r.bytes;
    out->pte_bytes = r.pte;
    return 0;
}

void bench_memory_register(void)
{
    bench_register(&(struct bench){"memory", "weft", run_memory, IDLE_COROS});
}
