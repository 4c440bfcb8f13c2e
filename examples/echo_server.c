/*
 * echo_server.c - a TCP echo server: one task per connection.
 *
 *   echo_server [PORT] [--host ADDR] [--once N] [--loops N] [--grace MS]
 *
 * Listens on ADDR (default 127.0.0.1) port PORT (default 7777; 0 lets the
 * kernel choose) and prints "listening on ADDR:PORT" once it does. Every
 * connection gets a task that writes back what it reads until the peer
 * closes. The server runs until SIGINT or SIGTERM (weft_signal_wait), or
 * with --once N until N connections have been accepted and served. A
 * signal stops it gracefully: it stops accepting, lets the connections
 * that are open finish for up to --grace MS (default 5000), cancels those
 * still open then, and exits 0. On the way out it prints how many
 * connections and bytes it served.
 *
 * With --loops N it runs N loops, one per thread (weft/loops.h): each
 * listens on the port with SO_REUSEPORT and accepts for itself, so the
 * kernel spreads the connections over the loops and each connection stays
 * on the loop that accepted it. The counts are per loop, added up at the
 * end; --once N then counts the connections served by all loops.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <netinet/in.h>
#include <sys/socket.h>

#include <weft.h>

struct server {
    const char *host;
    int port;
    long once;             /* connections to serve, 0 for no limit */
    int lfd;
    int64_t grace;         /* --grace: how long open connections may finish */
    long accepted, active; /* connections accepted, still being served */
    unsigned long long bytes;
    weft_future idle;      /* --once: the last connection has ended */
    int loops;             /* --loops: loops, each with its own listener */
    struct server *per;    /* --loops > 1: each loop's own counts, by index */
    weft_xwaitgroup served; /* --loops > 1 and --once: connections to serve */
    struct server *top;    /* the server all loops share (itself with one) */
    weft_xwaitgroup open;  /* in top: connections open on every loop */
};

struct conn {
    struct server *srv;
    int fd;
};

/* Echoes until EOF (or an error, or cancellation), then closes. */
static int echo(void *arg, void **result)
{
    struct conn c = *(struct conn *)arg;
    char buf[16384];
    ssize_t n;
    (void)result;
    free(arg);
    while ((n = weft_read(c.fd, buf, sizeof buf)) > 0) {
        if ((n = weft_write_all(c.fd, buf, (size_t)n)) < 0)
            break;
        c.srv->bytes += (unsigned long long)n;
    }
    weft_io_close(c.fd);
    weft_xwaitgroup_done(&c.srv->top->open);
    if (c.srv->loops > 1)
        weft_xwaitgroup_done(&c.srv->top->served);   /* counts with --once only */
    else if (--c.srv->active == 0 && c.srv->once && c.srv->accepted == c.srv->once)
        weft_future_set_result(&c.srv->idle, NULL);
    /* A peer that resets the connection is its own business. */
    return n < 0 && n != -ECONNRESET && n != -EPIPE ? (int)n : 0;
}

/* Accepts connections, a detached echo task each, until --once is reached. */
static int acceptor(void *arg, void **result)
{
    struct server *s = arg;
    (void)result;
    while (!s->once || s->loops > 1 || s->accepted < s->once) {
        int fd = weft_accept(s->lfd, NULL, NULL);
        if (fd < 0) {
            if (fd == -ECONNABORTED || fd == -EMFILE || fd == -ENFILE)
                continue; /* a connection lost, or too many: keep serving */
            return fd;
        }
        struct conn *c = malloc(sizeof *c);
        int rc = c ? weft_spawn(NULL, echo, c, NULL) : -ENOMEM;
        if (rc < 0) {
            free(c);
            weft_io_close(fd);
            continue;
        }
        *c = (struct conn){s, fd};
        weft_xwaitgroup_add(&s->top->open, 1);
        s->accepted++;
        s->active++;
    }
    /* --once: wait for the connections still being served. */
    return s->active ? weft_future_await(&s->idle, NULL) : 0;
}

/* --loops: one loop's listener and acceptor, until cancelled. */
static int loop_server(void *arg, void **result)
{
    struct server *s = arg;     /* this loop's entry of per[] */
    (void)result;
    if (weft_loop_index() != 0) {
        s->lfd = weft_tcp_listen_flags(s->host, s->port, 1024, WEFT_TCP_REUSEPORT);
        if (s->lfd < 0)
            return s->lfd;
    }
    int rc = acceptor(s, NULL);
    if (weft_loop_index() != 0)
        weft_io_close(s->lfd);
    return rc;
}

/* --loops and --once: ends when the last connection has been served. */
static int all_served(void *arg, void **result)
{
    struct server *s = arg;
    (void)result;
    return weft_xwaitgroup_wait(&s->served);
}

/* Waits for SIGINT or SIGTERM; sets *result (non-NULL) when one came. */
static int signals(void *arg, void **result)
{
    (void)arg;
    int rc = weft_signal_watch(SIGINT);
    if (rc == 0 && (rc = weft_signal_watch(SIGTERM)) < 0)
        weft_signal_unwatch(SIGINT);
    if (rc < 0)
        return rc;
    int sig = weft_signal_wait();
    if (sig > 0) {
        printf("echo_server: %s: no new connections\n", strsignal(sig));
        fflush(stdout);
        *result = arg;
    }
    weft_signal_unwatch(SIGINT);
    weft_signal_unwatch(SIGTERM);
    return sig < 0 ? sig : 0;
}

/* After a signal: lets the open connections finish, for up to --grace. */
static void drain(struct server *s)
{
    weft_scope grace;
    weft_scope_enter_timeout(&grace, s->grace);
    int rc = weft_xwaitgroup_wait(&s->open);
    weft_scope_exit(&grace);
    if (rc < 0)
        printf("echo_server: connections still open after %lld ms are closed\n",
               (long long)(s->grace / 1000000));
    else
        printf("echo_server: every open connection finished\n");
}

/* Stops tasks[0..n): cancels and joins each. Returns the first failure
   other than a cancellation; *signalled tells whether `stop` (a signals
   task) saw a signal. */
static int stop_all(weft_task **tasks, int n, weft_task *stop, int *signalled)
{
    int rc = 0;
    *signalled = 0;
    for (int i = 0; i < n; i++) {
        void *got = NULL;
        weft_task_cancel(tasks[i]);
        int trc = weft_task_join(tasks[i], &got);
        if (tasks[i] == stop && trc == 0 && got)
            *signalled = 1;
        if (rc == 0 && trc < 0 && trc != -ECANCELED)
            rc = trc;
        weft_task_release(tasks[i]);
    }
    return rc;
}

/* --loops > 1: an acceptor per loop, until a signal or --once is done. */
static int serve_loops(struct server *s)
{
    weft_task *servers[64], *stop[2], *done[2];
    size_t ndone = 0;
    int n = s->loops, nstop = s->once ? 2 : 1, rc;
    for (int i = 0; i < n; i++) {
        s->per[i] = *s;
        s->per[i].per = NULL;
        s->per[i].served = (weft_xwaitgroup)WEFT_XWAITGROUP_INIT;
    }
    if (s->once)
        weft_xwaitgroup_add(&s->served, s->once);
    for (int i = 0; i < n; i++) {
        s->per[i].top = s;
        if ((rc = weft_spawn_on(weft_loop_at(i), loop_server, &s->per[i], NULL, &servers[i])) < 0)
            return rc;
    }
    if ((rc = weft_spawn(&stop[0], signals, s, NULL)) < 0 ||
        (nstop == 2 && (rc = weft_spawn(&stop[1], all_served, s, NULL)) < 0))
        return rc;              /* weft_run() cancels what was spawned */
    rc = weft_wait(stop, (size_t)nstop, WEFT_FOREVER, WEFT_FIRST_COMPLETED, done, &ndone,
                   NULL, NULL);
    weft_task *all[66];
    int signalled;
    for (int i = 0; i < n + nstop; i++)
        all[i] = i < n ? servers[i] : stop[i - n];
    int src = stop_all(all, n + nstop, stop[0], &signalled);
    rc = rc ? rc : src;
    weft_io_close(s->lfd);      /* no new connections: refused from now */
    s->lfd = -1;
    if (signalled)
        drain(s);
    for (int i = 0; i < n; i++) {
        s->accepted += s->per[i].accepted;
        s->bytes += s->per[i].bytes;
    }
    printf("echo_server: served %ld connections, %llu bytes on %d loops\n", s->accepted,
           s->bytes, n);
    if (s->lfd >= 0)
        weft_io_close(s->lfd);
    return rc;
}

static int async_main(void *arg, void **result)
{
    struct server *s = arg;
    struct sockaddr_in addr;
    socklen_t alen = sizeof addr;
    weft_task *tasks[2];
    weft_task *done[2];
    size_t ndone = 0;
    int rc;
    (void)result;

    s->lfd = weft_tcp_listen_flags(s->host, s->port, 1024,
                                   s->loops > 1 ? WEFT_TCP_REUSEPORT : 0);
    if (s->lfd < 0)
        return s->lfd;
    if (getsockname(s->lfd, (struct sockaddr *)&addr, &alen) == 0 && addr.sin_family == AF_INET)
        s->port = ntohs(addr.sin_port);
    printf("listening on %s:%d\n", s->host, s->port);
    fflush(stdout);

    if (s->loops > 1)
        return serve_loops(s);
    if ((rc = weft_spawn(&tasks[0], acceptor, s, NULL)) < 0)
        goto out;
    if ((rc = weft_spawn(&tasks[1], signals, s, NULL)) < 0) {
        weft_task_cancel(tasks[0]);
        weft_task_join(tasks[0], NULL);
        weft_task_release(tasks[0]);
        goto out;
    }
    /* Whichever ends first stops the server; the other is cancelled. */
    rc = weft_wait(tasks, 2, WEFT_FOREVER, WEFT_FIRST_COMPLETED, done, &ndone, NULL, NULL);
    int signalled, src = stop_all(tasks, 2, tasks[1], &signalled);
    rc = rc ? rc : src;
    weft_io_close(s->lfd);      /* no new connections: refused from now */
    s->lfd = -1;
    if (signalled)
        drain(s);
    printf("echo_server: served %ld connections, %llu bytes\n", s->accepted, s->bytes);
out:
    if (s->lfd >= 0)
        weft_io_close(s->lfd);
    return rc;
}

static int usage(void)
{
    fprintf(stderr, "usage: echo_server [PORT] [--host ADDR] [--once N] [--loops N] [--grace MS]\n");
    return 2;
}

int main(int argc, char **argv)
{
    struct server s = {.host = "127.0.0.1", .port = 7777, .lfd = -1,
                       .grace = WEFT_SEC(5), .open = WEFT_XWAITGROUP_INIT};
    s.top = &s;
    char *end;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--once") && i + 1 < argc) {
            s.once = strtol(argv[++i], &end, 10);
            if (*end || s.once <= 0)
                return usage();
        } else if (!strcmp(argv[i], "--loops") && i + 1 < argc) {
            long n = strtol(argv[++i], &end, 10);
            if (*end || n <= 0 || n > 64)
                return usage();
            s.loops = (int)n;
        } else if (!strcmp(argv[i], "--grace") && i + 1 < argc) {
            long ms = strtol(argv[++i], &end, 10);
            if (*end || ms < 0)
                return usage();
            s.grace = WEFT_MSEC(ms);
        } else if (!strcmp(argv[i], "--host") && i + 1 < argc) {
            s.host = argv[++i];
        } else {
            long port = strtol(argv[i], &end, 10);
            if (*end || port < 0 || port > 65535)
                return usage();
            s.port = (int)port;
        }
    }

    struct server per[64];
    s.per = per;
    int rc = weft_run_opts(async_main, &s, NULL, &(weft_loop_opts){.loops = s.loops});
    if (rc < 0)
        fprintf(stderr, "echo_server: %s\n", weft_strerror(rc));
    return rc < 0;
}
