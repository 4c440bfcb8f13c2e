/*
 * http_server.c - an HTTP/1.1 server on weft: a task per connection,
 * keep-alive and pipelining (http_serve.c), a request parser of its own
 * (http_parse.c).
 *
 *   http_server [--port N] [--host ADDR] [--loops N]
 *
 * Listens on ADDR (default 127.0.0.1) port N (default 8080; 0 lets the
 * kernel choose) and prints "listening on ADDR:PORT" once it does.
 * GET / answers "Hello, World!\n"; GET /sleep?ms=N sleeps N ms first.
 * --loops takes 1 today: a loop per core with SO_REUSEPORT comes with
 * weft's multi-loop support. SIGINT or SIGTERM stops it: a task waits for
 * them (weft_signal_wait), the accept loop is cancelled, connections still
 * open are cancelled and closed by weft_run(), and it prints what it served
 * and exits 0.
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
    struct http_server srv;
};

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
    weft_task *tasks[2], *done[2];
    size_t ndone = 0;
    int rc;
    (void)result;

    /* Watched before the listen's name lookup starts the worker pool. */
    if ((rc = weft_signal_watch(SIGINT)) < 0 || (rc = weft_signal_watch(SIGTERM)) < 0)
        return rc;
    if ((a->srv.lfd = weft_tcp_listen(a->host, a->port, 4096)) < 0)
        return a->srv.lfd;
    if (getsockname(a->srv.lfd, (struct sockaddr *)&addr, &alen) == 0 &&
        addr.sin_family == AF_INET)
        a->port = ntohs(addr.sin_port);
    printf("listening on %s:%d\n", a->host, a->port);
    fflush(stdout);

    if ((rc = weft_spawn(&tasks[0], http_serve, &a->srv, NULL)) < 0)
        goto out;
    if ((rc = weft_spawn(&tasks[1], signals, a, NULL)) < 0) {
        weft_task_cancel(tasks[0]);
        weft_task_join(tasks[0], NULL);
        weft_task_release(tasks[0]);
        goto out;
    }
    /* A signal (or a failed accept loop) stops the server. */
    rc = weft_wait(tasks, 2, WEFT_FOREVER, WEFT_FIRST_COMPLETED, done, &ndone, NULL, NULL);
    for (int i = 0; i < 2; i++) {
        weft_task_cancel(tasks[i]);
        int trc = weft_task_join(tasks[i], NULL);
        if (rc == 0 && trc < 0 && trc != -ECANCELED)
            rc = trc;
        weft_task_release(tasks[i]);
    }
    printf("http_server: served %ld connections, %ld requests\n", a->srv.accepted,
           a->srv.requests);
out:
    weft_io_close(a->srv.lfd);
    return rc;
}

static int usage(void)
{
    fprintf(stderr, "usage: http_server [--port N] [--host ADDR] [--loops N]\n");
    return 2;
}

int main(int argc, char **argv)
{
    struct args a = {.host = "127.0.0.1", .port = 8080, .srv = {.lfd = -1}};
    long loops = 1;
    char *end;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--port") && i + 1 < argc) {
            long port = strtol(argv[++i], &end, 10);
            if (*end || port < 0 || port > 65535)
                return usage();
            a.port = (int)port;
        } else if (!strcmp(argv[i], "--host") && i + 1 < argc) {
            a.host = argv[++i];
        } else if (!strcmp(argv[i], "--loops") && i + 1 < argc) {
            loops = strtol(argv[++i], &end, 10);
            if (*end || loops < 1)
                return usage();
        } else {
            return usage();
        }
    }
    if (loops != 1) {
        fprintf(stderr, "http_server: --loops %ld: this weft runs one loop per process; "
                        "several loops (one per core, SO_REUSEPORT) need weft's multi-loop "
                        "support\n", loops);
        return 2;
    }

    int rc = weft_run(async_main, &a, NULL);
    if (rc < 0)
        fprintf(stderr, "http_server: %s\n", weft_strerror(rc));
    return rc < 0;
}
