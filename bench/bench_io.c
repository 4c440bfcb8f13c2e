/*
 * bench_io.c - weft/io.h: an echo server under load, and weft_to_thread().
 *
 *   echo       requests per second and latency of an echo server with 1,
 *              100 and 10,000 connections: weft (one task per connection,
 *              weft_read() + weft_write_all()) against the hand-written
 *              single-threaded epoll loop of peer_epoll.c. The server runs
 *              in a forked child pinned to one CPU; the load generator runs
 *              here, pinned to another, with its own epoll loop (not weft).
 *              It opens every connection first (outside the timing), then
 *              keeps each one busy with one 64-byte request at a time:
 *              send, wait for the 64-byte echo, check it, send the next.
 *              After a 200 ms warm-up it counts the round trips completed
 *              in the measured window and records each one's latency.
 *              `iters` is that window in milliseconds (1000); ns_per_op is
 *              the window per round trip (1e9 / rps); extra fields `conns`,
 *              `rps`, `p50_us`, `p99_us`, and `srv_cpu` / `cli_cpu`, the
 *              CPU time the server process / the load generator used over
 *              the window divided by its length (1.0: a core kept busy,
 *              which tells which side limits the rate); medians over the
 *              runs, 3 by default. The 10,000-connection rows need RLIMIT_NOFILE
 *              above 10,000 (the soft limit is raised to the hard one);
 *              with a lower hard limit they are left out, with a message.
 *   hook_echo  the same load against the echo server written with libc's
 *              blocking accept/read/write under the hooks (weft/hook.h;
 *              hook_echo_server.c, exec'd in the server child) and the weft
 *              server above, 100 connections, rows "weft_hook" and "weft".
 *   to_thread  one weft_to_thread() round trip of an empty function: the
 *              job handed to the worker pool, run, and the task woken; in
 *              one weft_run(), whose first call (starting the worker
 *              thread) stays outside the timing.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>

#include <weft.h>

#include "harness.h"

enum {
    MSG = 64,              /* bytes of a request and of its echo */
    WARMUP_MS = 200,       /* load before the measured window */
    ECHO_WINDOW_MS = 1000, /* the measured window: the rows' `iters` */
    ECHO_RUNS = 3,
    BIG_CONNS = 10000,
    FD_SLACK = 64          /* descriptors beyond the connections */
};

/* ------------------------------------------------------------------------ */
/* The servers, each run in the forked child                                */
/* ------------------------------------------------------------------------ */

int bench_weft_echo_conn(void *arg, void **result)
{
    int fd = (int)(intptr_t)arg;
    char buf[4096];
    ssize_t n;
    (void)result;
    while ((n = weft_read(fd, buf, sizeof buf)) > 0)
        if (weft_write_all(fd, buf, (size_t)n) < 0)
            break;
    weft_io_close(fd);
    return 0;
}

/* Accepts forever, a detached task per connection. */
int bench_weft_accept_loop(int lfd)
{
    for (;;) {
        int fd = weft_accept(lfd, NULL, NULL);
        if (fd < 0) {
            if (fd == -ECONNABORTED || fd == -EINTR)
                continue;
            return fd;
        }
        if (weft_spawn(NULL, bench_weft_echo_conn, (void *)(intptr_t)fd, NULL) < 0)
            weft_io_close(fd);
    }
}

static int weft_echo_main(void *arg, void **result)
{
    (void)result;
    return bench_weft_accept_loop(*(int *)arg);
}

static int weft_echo_serve(int lfd)
{
    return weft_run(weft_echo_main, &lfd, NULL);
}

/* The blocking server under the hooks: a program of its own (weft-bench
   links no hook), given the listening socket. */
static int hook_echo_serve(int lfd)
{
    char arg[16];
    snprintf(arg, sizeof arg, "%d", lfd);
    fcntl(lfd, F_SETFD, 0);     /* keep it across exec */
    execl(WEFT_BENCH_HOOK_SERVER, WEFT_BENCH_HOOK_SERVER, arg, (char *)NULL);
    return -errno;
}

/* ------------------------------------------------------------------------ */
/* CPUs                                                                     */
/* ------------------------------------------------------------------------ */

/* The first two CPUs this process may run on; -1 when there are fewer. */
static void two_cpus(const cpu_set_t *set, int *a, int *b)
{
    *a = *b = -1;
    for (int c = 0; c < CPU_SETSIZE && *b < 0; c++)
        if (CPU_ISSET(c, set)) {
            if (*a < 0)
                *a = c;
            else
                *b = c;
        }
}

static void pin(int cpu)
{
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(cpu, &one);
    sched_setaffinity(0, sizeof one, &one);
}

/* ------------------------------------------------------------------------ */
/* The load generator                                                       */
/* ------------------------------------------------------------------------ */

struct conn {
    int fd;
    unsigned got;    /* bytes of the echo read so far */
    uint64_t sent;   /* when the request went out */
};

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* Sends conns[i]'s next request. */
static int send_request(struct conn *c, const char *req, uint64_t now)
{
    c->sent = now;
    c->got = 0;
    ssize_t w = write(c->fd, req, MSG);
    return w == MSG ? 0 : w < 0 ? -errno : -EIO;
}

/*
 * Opens n connections to 127.0.0.1:port and drives them for the warm-up and
 * a window of window_ms; fills *out.
 */
/* CPU time of a clock (a process's or this thread's) in ns; 0 on failure. */
static uint64_t cpu_ns(clockid_t clk)
{
    struct timespec ts;
    if (clock_gettime(clk, &ts) < 0)
        return 0;
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int load(pid_t server, int port, int n, uint64_t window_ms, struct bench_sample *out)
{
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                               .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    struct conn *conns = calloc((size_t)n, sizeof *conns);
    size_t cap = 1 << 20, nlat = 0;
    uint64_t *lat = malloc(cap * sizeof *lat);
    struct epoll_event evs[1024];
    char req[MSG], buf[MSG];
    int ep = -1, opened = 0, rc = 0;
    for (int i = 0; i < MSG; i++)
        req[i] = (char)('a' + i % 26);
    if (!conns || !lat) {
        rc = -ENOMEM;
        goto out;
    }
    if ((ep = epoll_create1(EPOLL_CLOEXEC)) < 0) {
        rc = -errno;
        goto out;
    }
    /* Connections first, one at a time, blocking: outside the timing. */
    for (; opened < n; opened++) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
        if (fd < 0) {
            rc = -errno;
            goto out;
        }
        conns[opened].fd = fd;
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)opened};
        /* A server that never accepts (a child that never ran) fails the
           connect after 5 s (EINPROGRESS) instead of the kernel's minutes. */
        struct timeval tv = {.tv_sec = 5};
        if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) < 0 ||
            connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0 ||
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) < 0 ||
            epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
            rc = -errno;
            close(fd);
            goto out;
        }
    }

    uint64_t start = bench_now_ns();
    uint64_t from = start + (uint64_t)WARMUP_MS * 1000000u;
    uint64_t until = from + window_ms * 1000000u;
    uint64_t done = 0;
    /* CPU time of the server and of this thread over the window. */
    clockid_t srv_clk;
    int have_srv = clock_getcpuclockid(server, &srv_clk) == 0;
    uint64_t srv0 = 0, cli0 = 0, wall0 = 0, srv1 = 0, cli1 = 0, wall1 = 0;
    for (int i = 0; i < n && rc == 0; i++)
        rc = send_request(&conns[i], req, bench_now_ns());
    uint64_t now = bench_now_ns();
    while (rc == 0 && now < until) {
        int timeout = (int)((until - now) / 1000000u) + 1;
        int k = epoll_wait(ep, evs, 1024, timeout);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            rc = -errno;
            break;
        }
        for (int e = 0; e < k && rc == 0; e++) {
            struct conn *c = &conns[evs[e].data.u32];
            ssize_t r = read(c->fd, buf + c->got, MSG - c->got);
            if (r <= 0) {
                if (r < 0 && errno == EAGAIN)
                    continue;
                rc = r == 0 ? -ECONNRESET : -errno;
                break;
            }
            c->got += (unsigned)r;
            if (c->got < MSG)
                continue;
            if (memcmp(buf, req, MSG)) {
                rc = -EPROTO;
                break;
            }
            now = bench_now_ns();
            if (now >= from && now < until) {
                done++;
                if (nlat == cap) {
                    uint64_t *more = realloc(lat, 2 * cap * sizeof *lat);
                    if (!more) {
                        rc = -ENOMEM;
                        break;
                    }
                    lat = more, cap *= 2;
                }
                lat[nlat++] = now - c->sent;
            }
            rc = send_request(c, req, now);
        }
        now = bench_now_ns();
        if (!wall0 && now >= from) {
            srv0 = have_srv ? cpu_ns(srv_clk) : 0;
            cli0 = cpu_ns(CLOCK_THREAD_CPUTIME_ID);
            wall0 = bench_now_ns();
        }
    }
    srv1 = have_srv ? cpu_ns(srv_clk) : 0;
    cli1 = cpu_ns(CLOCK_THREAD_CPUTIME_ID);
    wall1 = bench_now_ns();
    if (rc == 0 && !done)
        rc = -ETIMEDOUT;
    if (rc == 0) {
        double window_ns = (double)window_ms * 1e6;
        qsort(lat, nlat, sizeof *lat, cmp_u64);
        /* ns_per_op = ns / iters = the window per round trip. */
        out->ns = window_ns * (double)window_ms / (double)done;
        bench_sample_set(out, "conns", n);
        bench_sample_set(out, "rps", (double)done * 1e9 / window_ns);
        bench_sample_set(out, "p50_us", (double)lat[nlat / 2] / 1e3);
        bench_sample_set(out, "p99_us", (double)lat[nlat * 99 / 100] / 1e3);
        if (wall1 > wall0 && wall0) {
            /* Which side is the bottleneck: 1.0 is a core kept busy. */
            if (have_srv && srv0)
                bench_sample_set(out, "srv_cpu", (double)(srv1 - srv0) / (double)(wall1 - wall0));
            bench_sample_set(out, "cli_cpu", (double)(cli1 - cli0) / (double)(wall1 - wall0));
        }
    }
out:
    /* Reset, not close: no TIME_WAIT left behind for the next runs. */
    for (int i = 0; i < opened; i++) {
        struct linger lg = {.l_onoff = 1, .l_linger = 0};
        setsockopt(conns[i].fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
        close(conns[i].fd);
    }
    if (ep >= 0)
        close(ep);
    free(conns);
    free(lat);
    return rc;
}

/*
 * One run: a listening socket, the server `serve` on it in a child pinned
 * to one CPU, the load from here pinned to another.
 */
static int echo_run(int (*serve)(int lfd), int conns, int loops, uint64_t window_ms,
                    struct bench_sample *out)
{
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof addr;
    struct rlimit rl;
    cpu_set_t mine;
    int cpu_load, cpu_server, rc, status;

    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return -errno;
    if (rl.rlim_cur < (rlim_t)conns + FD_SLACK) {
        if (rl.rlim_max < (rlim_t)conns + FD_SLACK)
            return -EMFILE;
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
            return -errno;
    }

    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), one = 1;
    if (lfd < 0)
        return -errno;
    if (loops > 1)              /* each loop listens on the port too */
        setsockopt(lfd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    if (bind(lfd, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(lfd, 4096) < 0 ||
        getsockname(lfd, (struct sockaddr *)&addr, &alen) < 0) {
        rc = -errno;
        close(lfd);
        return rc;
    }

    sched_getaffinity(0, sizeof mine, &mine);
    two_cpus(&mine, &cpu_load, &cpu_server);
    if (loops > 1)
        cpu_load = cpu_server = -1; /* the server's loops use every CPU */
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        rc = -errno;
        close(lfd);
        return rc;
    }
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() == 1)
            _exit(1);
        if (cpu_server >= 0)
            pin(cpu_server);
        signal(SIGPIPE, SIG_IGN);
        _exit(serve(lfd) < 0 ? 1 : 0);
    }
    close(lfd);
    if (cpu_server >= 0)
        pin(cpu_load);
    void (*old)(int) = signal(SIGPIPE, SIG_IGN);
    rc = load(pid, ntohs(addr.sin_port), conns, window_ms, out);
    if (serve != peer_epoll_echo_serve)
        bench_sample_set(out, "loops", loops);
    signal(SIGPIPE, old);
    if (cpu_server >= 0)
        sched_setaffinity(0, sizeof mine, &mine);
    kill(pid, SIGKILL);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    /* A server that died by itself (not by our SIGKILL) failed. */
    if (rc == 0 && !(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL))
        rc = -EPROTO;
    return rc;
}

#define ECHO_ROW(impl, serve, n)                                              \
    static int echo_##impl##_##n(uint64_t iters, struct bench_sample *out)    \
    {                                                                         \
        return echo_run(serve, n, 1, iters, out);                             \
    }
#define ECHO_LOOPS_ROW(n)                                                     \
    static int echo_loops_##n(uint64_t iters, struct bench_sample *out)       \
    {                                                                         \
        return echo_run(bench_loops_echo_serve, n, 2, iters, out);            \
    }
ECHO_LOOPS_ROW(1)
ECHO_LOOPS_ROW(100)
ECHO_LOOPS_ROW(10000)
ECHO_ROW(weft, weft_echo_serve, 1)
ECHO_ROW(weft, weft_echo_serve, 100)
ECHO_ROW(weft, weft_echo_serve, 10000)
ECHO_ROW(epoll, peer_epoll_echo_serve, 1)
ECHO_ROW(epoll, peer_epoll_echo_serve, 100)
ECHO_ROW(epoll, peer_epoll_echo_serve, 10000)
ECHO_ROW(hook, hook_echo_serve, 100)

/* ------------------------------------------------------------------------ */
/* to_thread                                                                */
/* ------------------------------------------------------------------------ */

struct to_thread_run {
    uint64_t iters;
    double ns;
};

static void *empty(void *arg)
{
    return arg;
}

static int to_thread_main(void *arg, void **result)
{
    struct to_thread_run *r = arg;
    void *v;
    (void)result;
    int rc = weft_to_thread(empty, r, &v); /* starts the worker */
    if (rc < 0)
        return rc;
    uint64_t t0 = bench_now_ns();
    for (uint64_t i = 0; i < r->iters; i++)
        if ((rc = weft_to_thread(empty, r, &v)) < 0)
            return rc;
    r->ns = (double)(bench_now_ns() - t0);
    return v == r ? 0 : -EPROTO;
}

static int to_thread_run(uint64_t iters, struct bench_sample *out)
{
    struct to_thread_run r = {.iters = iters};
    int rc = weft_run(to_thread_main, &r, NULL);
    out->ns = r.ns;
    return rc;
}

void bench_io_register(void)
{
    /* The rows in the order of the table: weft then epoll, per count. */
    static const struct {
        int conns;
        bench_fn weft, epoll, loops;
    } rows[] = {
        {1, echo_weft_1, echo_epoll_1, echo_loops_1},
        {100, echo_weft_100, echo_epoll_100, echo_loops_100},
        {BIG_CONNS, echo_weft_10000, echo_epoll_10000, echo_loops_10000},
    };
    struct rlimit rl;
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_max != RLIM_INFINITY &&
            rl.rlim_max < (rlim_t)rows[i].conns + FD_SLACK) {
            fprintf(stderr,
                    "weft-bench: echo with %d connections left out: RLIMIT_NOFILE hard "
                    "limit %llu is below %d\n",
                    rows[i].conns, (unsigned long long)rl.rlim_max, rows[i].conns + FD_SLACK);
            continue;
        }
        bench_register(&(struct bench){"echo", "weft", rows[i].weft, ECHO_WINDOW_MS, ECHO_RUNS});
        bench_register(&(struct bench){"echo", "epoll", rows[i].epoll, ECHO_WINDOW_MS, ECHO_RUNS});
        bench_register(&(struct bench){"echo", "weft", rows[i].loops, ECHO_WINDOW_MS, ECHO_RUNS});
    }
    bench_register(&(struct bench){"hook_echo", "weft_hook", echo_hook_100, ECHO_WINDOW_MS,
                                   ECHO_RUNS});
    bench_register(&(struct bench){"hook_echo", "weft", echo_weft_100, ECHO_WINDOW_MS, ECHO_RUNS});
    bench_register(&(struct bench){"to_thread", "weft", to_thread_run, 0, 0});
}
