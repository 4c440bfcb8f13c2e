/*
 * dump.c - a small server whose few hundred tasks wait in different ways,
 * and that prints its goroutine-style dump (weft/debug.h) on SIGQUIT.
 *
 *   dump [--once | --abort]
 *
 * It listens on 127.0.0.1 (a port the kernel chooses), connects a few
 * clients to itself and keeps every connection open; 100 tasks sleep, 100
 * wait on a channel, 50 on a mutex a "holder" task keeps, 50 on an event.
 * Then `kill -QUIT <pid>` prints the dump on stderr, and the server runs
 * on (SIGINT or SIGTERM ends it). With --once it prints the dump on
 * stdout itself once everything waits, and ends; with --abort it aborts
 * there instead, leaving a core file. examples/gdb_test.sh stops it in gdb
 * at dump_ready(), just before, and reads the core.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <weft.h>

static weft_chan *jobs;
static weft_mutex lock = WEFT_MUTEX_INIT;
static weft_event go = WEFT_EVENT_INIT;
static int lfd, port;

/* Called once every task waits: a place for a debugger's breakpoint. */
void dump_ready(void);
__attribute__((noinline)) void dump_ready(void) { __asm__ volatile(""); }

static int sleeper(void *arg, void **res)
{
    (void)arg, (void)res;
    return weft_sleep(WEFT_SEC(3600));
}
static int consumer(void *arg, void **res)
{
    int v;
    (void)arg, (void)res;
    return weft_chan_recv(jobs, &v);
}
static int waiter(void *arg, void **res)
{
    (void)arg, (void)res;
    return weft_event_wait(&go);
}
static int locker(void *arg, void **res)
{
    (void)arg, (void)res;
    int rc = weft_mutex_lock(&lock);
    return rc < 0 ? rc : weft_mutex_unlock(&lock);
}
static int holder(void *arg, void **res)
{
    (void)arg, (void)res;
    weft_mutex_lock(&lock);
    int rc = weft_sleep(WEFT_SEC(3600));
    weft_mutex_unlock(&lock);
    return rc;
}

/* One connection: echoes what it reads until the peer closes. */
static int serve(void *arg, void **res)
{
    int fd = (int)(intptr_t)arg;
    char buf[512];
    ssize_t n;
    (void)res;
    while ((n = weft_read(fd, buf, sizeof buf)) > 0)
        weft_write_all(fd, buf, (size_t)n);
    weft_io_close(fd);
    return n < 0 ? (int)n : 0;
}

static int acceptor(void *arg, void **res)
{
    int fd;
    (void)arg, (void)res;
    while ((fd = weft_accept(lfd, NULL, NULL)) >= 0)
        weft_spawn(NULL, serve, (void *)(intptr_t)fd, &(weft_task_opts){.name = "conn"});
    return fd;
}

/* A client that says hello and waits for the server to say more. */
static int client(void *arg, void **res)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    char buf[8];
    (void)arg, (void)res;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int rc = weft_connect(fd, (struct sockaddr *)&a, sizeof a);
    if (rc == 0 && (rc = (int)weft_write_all(fd, "hello", 5)) >= 0)
        while ((rc = (int)weft_read(fd, buf, sizeof buf)) > 0)
            ;
    weft_io_close(fd);
    return rc;
}

static int spawn_many(int n, weft_task_fn fn, const char *name)
{
    char buf[32];
    for (int i = 0; i < n; i++) {
        snprintf(buf, sizeof buf, "%s-%d", name, i);
        int rc = weft_spawn(NULL, fn, NULL, &(weft_task_opts){.name = buf});
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int run(void *arg, void **res)
{
    int once = *(int *)arg, rc;     /* 1: --once, 2: --abort */
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    (void)res;
    lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof a) < 0 || listen(lfd, 64) < 0 ||
        getsockname(lfd, (struct sockaddr *)&a, &len) < 0)
        return -1;
    port = ntohs(a.sin_port);
    if ((rc = weft_chan_create(&jobs, sizeof(int), 0)) < 0 ||
        (rc = weft_spawn(NULL, acceptor, NULL, &(weft_task_opts){.name = "acceptor"})) < 0 ||
        (rc = weft_spawn(NULL, holder, NULL, &(weft_task_opts){.name = "holder"})) < 0 ||
        (rc = spawn_many(100, sleeper, "sleeper")) < 0 ||
        (rc = spawn_many(100, consumer, "consumer")) < 0 ||
        (rc = spawn_many(50, locker, "locker")) < 0 ||
        (rc = spawn_many(50, waiter, "waiter")) < 0 ||
        (rc = spawn_many(3, client, "client")) < 0)
        return rc;
    weft_sleep(WEFT_MSEC(50));          /* everyone connects and waits */
    if (!once) {
        fprintf(stderr, "dump: pid %d, port %d: kill -QUIT %d prints the dump\n",
                (int)getpid(), port, (int)getpid());
        return weft_sleep(WEFT_FOREVER);    /* until SIGINT or SIGTERM */
    }
    dump_ready();
    if (once == 2)
        abort();
    rc = weft_dump(stdout);
    weft_io_close(lfd);                 /* main returns: the rest is cancelled */
    return rc;
}

int main(int argc, char **argv)
{
    int once = argc < 2                     ? 0
               : !strcmp(argv[1], "--once")  ? 1
               : !strcmp(argv[1], "--abort") ? 2 : 0;
    weft_loop_opts opts = {.dump_signal = SIGQUIT};
    int rc = weft_run_opts(run, &once, NULL, &opts);
    if (rc < 0 && rc != -ECANCELED)
        fprintf(stderr, "dump: %s\n", weft_strerror(rc));
    weft_chan_destroy(jobs);
    return rc < 0 && rc != -ECANCELED;
}
