/*
 * http_server.c - an HTTP/1.1 server on weft: a task per connection,
 * keep-alive and pipelining (http_serve.c), a request parser of its own
 * (http_parse.c).
 *
 *   http_server [--port N] [--host ADDR] [--loops N] [--spin-us N] [--grace MS]
 *
 * Listens on ADDR (default 127.0.0.1) port N (default 8080; 0 lets the
 * kernel choose) and prints "listening on ADDR:PORT" once it does.
 * GET / answers "Hello, World!\n"; GET /sleep?ms=N sleeps N ms first.
 * --loops N runs N loops, one per thread (weft/loops.h), pinned to CPUs
 * 0..N-1: each listens on the port with SO_REUSEPORT and accepts for
 * itself, so the kernel spreads connections over the loops.
 * --spin-us N (50 by default, 0 for none): a loop with nothing to run polls
 * its connections for up to N microseconds before it sleeps
 * (weft_loop_opts.poll_spin_ns), so that a client on another CPU seldom
 * has to wake this one (costly on a VM), for that much CPU time after each
 * wait that finds nothing. SIGINT or SIGTERM stops it gracefully: a task of
 * the first loop waits for them (weft_signal_wait), every accept loop is
 * cancelled, connections waiting for a request are closed, requests in
 * progress are answered (with Connection: close) for up to --grace MS
 * (default 5000; http_serve_drain on each loop), what is still open then is
 * cancelled and closed by weft_run(), and it prints what it served and
 * exits 0.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <weft.h>

#include "http_serve.h"

struct args {
    const char *host;
    int port;
    int loops;                      /* --loops */
    int64_t grace;                  /* --grace */
    struct http_server srv[64];     /* each loop's server, by loop index */
};

/* Another loop's listener and accept loop, until cancelled. */
static int loop_serve(void *arg, void **result)
{
    struct args *a = arg;
    struct http_server *srv = &a->srv[weft_loop_index()];
    srv->lfd = weft_tcp_listen_flags(a->host, a->port, 4096, WEFT_TCP_REUSEPORT);
    if (srv->lfd < 0)
        return srv->lfd;
    int rc = http_serve(srv, result);
    weft_io_close(srv->lfd);
    return rc;
}

/* On each loop: its connections finish, for up to --grace. */
static int loop_drain(void *arg, void **result)
{
    struct args *a = arg;
    (void)result;
    return http_serve_drain(&a->srv[weft_loop_index()], a->grace);
}

/* Waits for SIGINT or SIGTERM, which the loop watches. */
static int signals(void *arg, void **result)
{
    (void)arg, (void)result;
    int sig = weft_signal_wait();
    if (sig > 0)
        printf("http_server: %s\n", strsignal(sig));
    return sig < 0 ? sig : 0;
}

static int async_main(void *arg, void **result)
{
    struct args *a = arg;
    struct sockaddr_in addr;
    socklen_t alen = sizeof addr;
    size_t ndone = 0;
    int rc;
    (void)result;

    /* Watched before the listen's name lookup starts the worker pool. */
    if ((rc = weft_signal_watch(SIGINT)) < 0 || (rc = weft_signal_watch(SIGTERM)) < 0)
        return rc;
    struct http_server *srv = &a->srv[0];
    srv->lfd = weft_tcp_listen_flags(a->host, a->port, 4096,
                                     a->loops > 1 ? WEFT_TCP_REUSEPORT : 0);
    if (srv->lfd < 0)
        return srv->lfd;
    if (getsockname(srv->lfd, (struct sockaddr *)&addr, &alen) == 0 &&
        addr.sin_family == AF_INET)
        a->port = ntohs(addr.sin_port);

    /* tasks[0]: the signals; then an accept loop per loop, here first. */
    weft_task *tasks[65];
    int n = 0;
    if ((rc = weft_spawn(&tasks[n], signals, a, NULL)) == 0)
        n++;
    if (rc == 0 && (rc = weft_spawn(&tasks[n], http_serve, srv, NULL)) == 0)
        n++;
    for (int i = 1; rc == 0 && i < a->loops; i++)
        if ((rc = weft_spawn_on(weft_loop_at(i), loop_serve, a, NULL, &tasks[n])) == 0)
            n++;
    if (rc == 0) {
        weft_yield();           /* the other loops' listeners are up soon */
        printf("listening on %s:%d\n", a->host, a->port);
        fflush(stdout);
        /* A signal (or a failed accept loop) stops the server. */
        rc = weft_wait(tasks, (size_t)n, WEFT_FOREVER, WEFT_FIRST_COMPLETED, NULL, &ndone,
                       NULL, NULL);
    }
    for (int i = n - 1; i >= 0; i--) {     /* the accept loops first */
        weft_task_cancel(tasks[i]);
        int trc = weft_task_join(tasks[i], NULL);
        if (rc == 0 && trc < 0 && trc != -ECANCELED)
            rc = trc;
        weft_task_release(tasks[i]);
    }
    /* Nothing new is accepted now (the listeners close): let what is open
       finish, on every loop. */
    weft_io_close(srv->lfd);
    srv->lfd = -1;
    int drained = 0;
    for (int i = 1; i < a->loops; i++)
        if (weft_spawn_on(weft_loop_at(i), loop_drain, a, NULL, &tasks[i]) < 0)
            tasks[i] = NULL;
    drained += http_serve_drain(srv, a->grace) == 0;
    for (int i = 1; i < a->loops; i++)
        if (tasks[i]) {
            drained += weft_task_join(tasks[i], NULL) == 0;
            weft_task_release(tasks[i]);
        }
    if (drained < a->loops)
        printf("http_server: connections still open after %lld ms, closed\n",
               (long long)(a->grace / 1000000));
    long accepted = 0, requests = 0;
    for (int i = 0; i < a->loops; i++) {
        accepted += a->srv[i].accepted;
        requests += a->srv[i].requests;
    }
    printf("http_server: served %ld connections, %ld requests\n", accepted, requests);
    return rc;
}

static int usage(void)
{
    fprintf(stderr, "usage: http_server [--port N] [--host ADDR] [--loops N] [--spin-us N] "
                    "[--grace MS]\n");
    return 2;
}

int main(int argc, char **argv)
{
    static struct args a = {.host = "127.0.0.1", .port = 8080, .loops = 1,
                            .grace = WEFT_SEC(5)};
    long loops = 1, spin_us = 50;
    char *end;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--port") && i + 1 < argc) {
            long port = strtol(argv[++i], &end, 10);
            if (*end || port < 0 || port > 65535)
                return usage();
            a.port = (int)port;
        } else if (!strcmp(argv[i], "--host") && i + 1 < argc) {
            a.host = argv[++i];
        } else if (!strcmp(argv[i], "--spin-us") && i + 1 < argc) {
            spin_us = strtol(argv[++i], &end, 10);
            if (*end || spin_us < 0 || spin_us > 1000000)
                return usage();
        } else if (!strcmp(argv[i], "--grace") && i + 1 < argc) {
            long ms = strtol(argv[++i], &end, 10);
            if (*end || ms < 0 || ms > 3600000)
                return usage();
            a.grace = WEFT_MSEC(ms);
        } else if (!strcmp(argv[i], "--loops") && i + 1 < argc) {
            loops = strtol(argv[++i], &end, 10);
            if (*end || loops < 1)
                return usage();
        } else {
            return usage();
        }
    }
    if (loops > 64)
        return usage();
    a.loops = (int)loops;
    for (int i = 0; i < a.loops; i++)
        a.srv[i].lfd = -1;

    int rc = weft_run_opts(async_main, &a, NULL,
                           &(weft_loop_opts){.loops = a.loops, .pin = a.loops > 1,
                                             .poll_spin_ns = spin_us * 1000});
    if (rc < 0)
        fprintf(stderr, "http_server: %s\n", weft_strerror(rc));
    return rc < 0;
}
