/*
 * test_hook.c - the hooks of weft/hook.h: code compiled without weft (the
 * blocking client and server of blocking.h, in a shared library of their
 * own) run by 1,000 tasks on one thread against a loopback server, every
 * byte checked; each hooked call's error paths (end of file, reset, closed
 * while waiting, SO_RCVTIMEO, a descriptor the caller made non-blocking,
 * refused and non-blocking connects, dup2 over a waited descriptor,
 * SO_SNDTIMEO); poll, ppoll, select; the sleep
 * family on the virtual clock; cancellation and timeout scopes around
 * hooked calls; errno kept per task; a plain thread, a callback and a
 * thread with hooks off get the real calls; a signal handler that writes.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <weft.h>
#include <weft/hook.h>

#include "blocking.h"
#include "support.h"

/* errno of a failed call, as a code for EXPECT_CODE: "-1 and errno". */
#define ERR(call) ((call) < 0 ? -errno : 0)

/* The kernel's own O_NONBLOCK, past the hooks' view. */
static int kernel_nonblock(int fd)
{
    return (int)(syscall(SYS_fcntl, fd, F_GETFL) & O_NONBLOCK) != 0;
}

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int setup(void **state)
{
    assert_code(weft_hook_enable(), 0);
    return reset(state);
}

/* ------------------------------------------------------------------------ */
/* 1,000 blocking clients from a library built without weft                 */
/* ------------------------------------------------------------------------ */

enum { CLIENTS = 1000, CLIENT_BYTES = 2048, THINK_MS = 1000 };

static int echo_task(void *arg, void **result)
{
    (void)result;
    return blk_echo((int)N(arg));
}

static int acceptor(void *arg, void **result)
{
    int lfd = (int)N(arg);
    (void)result;
    for (;;) {
        int fd = blk_accept(lfd);
        if (fd < 0)
            return fd == -ECANCELED ? 0 : fd;
        int rc = weft_spawn(NULL, echo_task, P(fd), NULL);
        EXPECT_CODE(rc, 0);
    }
}

static int client_port;

static int client_task(void *arg, void **result)
{
    (void)result;
    return blk_client(client_port, (unsigned)N(arg), CLIENT_BYTES, THINK_MS);
}

static int64_t clients_ns[2];   /* one client alone, then all at once */

static int many_clients(void *arg, void **result)
{
    (void)arg, (void)result;
    weft_task *srv, **t = calloc(CLIENTS, sizeof *t);
    int lfd = blk_listen(&client_port);
    EXPECT(lfd >= 0 && t);
    if (lfd < 0 || !t)
        return -1;
    EXPECT(kernel_nonblock(lfd));       /* known to the loop */
    EXPECT_CODE(fcntl(lfd, F_GETFL) & O_NONBLOCK, 0); /* the caller's view */
    EXPECT_CODE(weft_spawn(&srv, acceptor, P(lfd), NULL), 0);
    for (int round = 0; round < 2; round++) {
        int n = round ? CLIENTS : 1;
        int64_t t0 = mono_ns();
        for (int i = 0; i < n; i++)
            EXPECT_CODE(weft_spawn(&t[i], client_task, P(i), NULL), 0);
        for (int i = 0; i < n; i++) {
            EXPECT_CODE(weft_task_join(t[i], NULL), 0);
            weft_task_release(t[i]);
        }
        clients_ns[round] = mono_ns() - t0;
    }
    weft_task_cancel(srv);
    EXPECT_CODE(weft_task_join(srv, NULL), 0);
    weft_task_release(srv);
    EXPECT_CODE(close(lfd), 0);
    free(t);
    return 0;
}

static void test_hook_thousand_clients(void **state)
{
    (void)state;
    struct rlimit rl;
    rlim_t need = 2 * CLIENTS + 64;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
    if (rl.rlim_cur < need) {
        rl.rlim_cur = rl.rlim_max < need ? rl.rlim_max : need;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    if (rl.rlim_cur < need) {
        print_message("RLIMIT_NOFILE allows %llu descriptors, %llu needed: skipped\n",
                      (unsigned long long)rl.rlim_cur, (unsigned long long)need);
        skip();
    }
    assert_code(weft_run(many_clients, NULL, NULL), 0);
    assert_expectations();
    print_message("one blocking client: %.3f s; %d at once on one thread: %.3f s (%.2fx)\n",
                  (double)clients_ns[0] / 1e9, CLIENTS, (double)clients_ns[1] / 1e9,
                  (double)clients_ns[1] / (double)clients_ns[0]);
}

/* ------------------------------------------------------------------------ */
/* Reads and writes: the error paths                                        */
/* ------------------------------------------------------------------------ */

static int sv[2];               /* the socket pair of the running test */

/* Writes "x" to sv[1] after arg milliseconds. */
static int write_later(void *arg, void **result)
{
    (void)result;
    weft_sleep(MS(N(arg)));
    EXPECT_CODE(write(sv[1], "x", 1), 1);
    return 0;
}

static int closes_later(void *arg, void **result)
{
    (void)result;
    weft_sleep(MS(N(arg)));
    EXPECT_CODE(close(sv[0]), 0);
    return 0;
}

static int reads_body(void *arg, void **result)
{
    (void)arg, (void)result;
    char c;
    EXPECT_CODE(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    EXPECT(kernel_nonblock(sv[0]) && kernel_nonblock(sv[1]));
    /* A read that waits: another task writes at 100 ms. */
    EXPECT_CODE(weft_spawn(NULL, write_later, P(100), NULL), 0);
    EXPECT_CODE(read(sv[0], &c, 1), 1);
    EXPECT_NOW(MS(100));
    /* SO_RCVTIMEO: EAGAIN when it expires, as the kernel does. */
    struct timeval tv = {0, 250000};
    EXPECT_CODE(setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), 0);
    EXPECT_CODE(ERR(read(sv[0], &c, 1)), -EAGAIN);
    EXPECT_NOW(MS(350));
    tv = (struct timeval){0, 0};
    EXPECT_CODE(setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), 0);
    /* The caller's O_NONBLOCK: EAGAIN at once; F_GETFL shows it. */
    int fl = fcntl(sv[0], F_GETFL);
    EXPECT_CODE(fl & O_NONBLOCK, 0);
    EXPECT_CODE(fcntl(sv[0], F_SETFL, fl | O_NONBLOCK), 0);
    EXPECT_CODE(fcntl(sv[0], F_GETFL) & O_NONBLOCK, O_NONBLOCK);
    EXPECT_CODE(ERR(read(sv[0], &c, 1)), -EAGAIN);
    EXPECT_NOW(MS(350));
    EXPECT_CODE(fcntl(sv[0], F_SETFL, fl), 0);
    EXPECT_CODE(fcntl(sv[0], F_GETFL) & O_NONBLOCK, 0);
    EXPECT(kernel_nonblock(sv[0]));
    /* ioctl(FIONBIO) is the same switch. */
    int on = 1, off = 0;
    EXPECT_CODE(ioctl(sv[0], FIONBIO, &on), 0);
    EXPECT_CODE(fcntl(sv[0], F_GETFL) & O_NONBLOCK, O_NONBLOCK);
    EXPECT_CODE(ERR(recv(sv[0], &c, 1, 0)), -EAGAIN);
    EXPECT_CODE(ioctl(sv[0], FIONBIO, &off), 0);
    EXPECT(kernel_nonblock(sv[0]));
    /* MSG_DONTWAIT: this call only. */
    EXPECT_CODE(ERR(recv(sv[0], &c, 1, MSG_DONTWAIT)), -EAGAIN);
    /* Closed while waiting: the waiter wakes with EBADF. */
    EXPECT_CODE(weft_spawn(NULL, closes_later, P(50), NULL), 0);
    EXPECT_CODE(ERR(read(sv[0], &c, 1)), -EBADF);
    EXPECT_NOW(MS(400));
    /* End of file, and EPIPE (SIGPIPE ignored) the other way. */
    EXPECT_CODE(ERR(write(sv[1], "y", 1)), -EPIPE);
    EXPECT_CODE(read(sv[1], &c, 1), 0);
    EXPECT_CODE(close(sv[1]), 0);
    EXPECT_CODE(ERR(read(sv[1], &c, 1)), -EBADF);
    return 0;
}

static void test_hook_read_paths(void **state)
{
    (void)state;
    signal(SIGPIPE, SIG_IGN);
    assert_code(vrun(reads_body, NULL, NULL), 0);
    assert_expectations();
}

/* The other transfer calls, and a write bigger than the socket buffer. */
static int drain(void *arg, void **result)
{
    size_t want = (size_t)N(arg), got = 0;
    char buf[8192];
    (void)result;
    while (got < want) {
        ssize_t r = read(sv[1], buf, sizeof buf);
        EXPECT(r > 0);
        if (r <= 0)
            return -1;
        for (ssize_t i = 0; i < r; i++)
            EXPECT((unsigned char)buf[i] == (unsigned char)(got + (size_t)i));
        got += (size_t)r;
    }
    return 0;
}

static int xfer_body(void *arg, void **result)
{
    (void)arg, (void)result;
    EXPECT_CODE(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    size_t big = 1 << 20;
    unsigned char *p = malloc(big);
    for (size_t i = 0; i < big; i++)
        p[i] = (unsigned char)i;
    weft_task *t;
    EXPECT_CODE(weft_spawn(&t, drain, P(big), NULL), 0);
    EXPECT_CODE(write(sv[0], p, big), (long)big);  /* blocking: all of it */
    EXPECT_CODE(weft_task_join(t, NULL), 0);
    weft_task_release(t);
    free(p);
    char a[3] = "ab", b[3] = "cd", in[8] = {0};
    struct iovec iov[2] = {{a, 2}, {b, 2}};
    EXPECT_CODE(writev(sv[0], iov, 2), 4);
    struct iovec rv[2] = {{in, 1}, {in + 1, 3}};
    EXPECT_CODE(readv(sv[1], rv, 2), 4);
    EXPECT(!memcmp(in, "abcd", 4));
    EXPECT_CODE(send(sv[0], "ef", 2, 0), 2);
    EXPECT_CODE(recvfrom(sv[1], in, sizeof in, 0, NULL, NULL), 2);
    struct msghdr m = {.msg_iov = iov, .msg_iovlen = 1};
    EXPECT_CODE(sendmsg(sv[1], &m, 0), 2);
    struct iovec r1 = {in, sizeof in};
    struct msghdr mr = {.msg_iov = &r1, .msg_iovlen = 1};
    EXPECT_CODE(recvmsg(sv[0], &mr, 0), 2);
    EXPECT(!memcmp(in, "ab", 2));
    EXPECT_CODE(sendto(sv[0], "g", 1, 0, NULL, 0), 1);
    EXPECT_CODE(recv(sv[1], in, 1, 0), 1);
    close(sv[0]);
    close(sv[1]);
    /* A pipe and an eventfd: known, blocking for the caller. */
    int pfd[2];
    EXPECT_CODE(pipe(pfd), 0);
    EXPECT(kernel_nonblock(pfd[0]));
    EXPECT_CODE(fcntl(pfd[0], F_GETFL) & O_NONBLOCK, 0);
    EXPECT_CODE(write(pfd[1], "z", 1), 1);
    EXPECT_CODE(read(pfd[0], in, 8), 1);
    int efd = eventfd(0, 0);
    uint64_t v = 3;
    EXPECT(kernel_nonblock(efd));
    EXPECT_CODE(write(efd, &v, sizeof v), 8);
    EXPECT_CODE(read(efd, &v, sizeof v), 8);
    EXPECT_CODE(v, 3);
    /* dup of a known descriptor shares its mode; dup2 over a waited one
       wakes the waiter (here: nobody waits, the mode moves). */
    int d = dup(pfd[0]);
    EXPECT_CODE(fcntl(d, F_GETFL) & O_NONBLOCK, 0);
    EXPECT_CODE(dup2(pfd[1], d), d);
    EXPECT_CODE(write(d, "w", 1), 1);
    EXPECT_CODE(read(pfd[0], in, 8), 1);
    EXPECT_CODE(dup3(pfd[1], d, O_CLOEXEC), d);
    close(d);
    close(efd);
    close(pfd[0]);
    close(pfd[1]);
    return 0;
}

static void test_hook_transfer_calls(void **state)
{
    (void)state;
    assert_code(vrun(xfer_body, NULL, NULL), 0);
    assert_expectations();
}

/* dup2 over a descriptor a task waits on: the waiter wakes with EBADF. */
static int dups_later(void *arg, void **result)
{
    (void)result;
    weft_sleep(MS(N(arg)));
    int p[2];
    EXPECT_CODE(pipe(p), 0);
    EXPECT_CODE(dup2(p[0], sv[0]), sv[0]);
    close(p[0]);
    close(p[1]);
    return 0;
}

static int dup_sndtimeo_body(void *arg, void **result)
{
    (void)arg, (void)result;
    char c;
    EXPECT_CODE(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    EXPECT_CODE(weft_spawn(NULL, dups_later, P(30), NULL), 0);
    EXPECT_CODE(ERR(read(sv[0], &c, 1)), -EBADF);
    EXPECT_NOW(MS(30));
    /* The copy is now a pipe's read end, blocking for the caller. */
    EXPECT_CODE(fcntl(sv[0], F_GETFL) & O_NONBLOCK, 0);
    close(sv[0]);
    /* SO_SNDTIMEO on a full socket: the bytes that fit, then at the
       timeout EAGAIN for a write that moves none. */
    EXPECT_CODE(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    struct timeval tv = {0, 100000};
    EXPECT_CODE(setsockopt(sv[0], SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv), 0);
    size_t big = 4 << 20;
    char *p = calloc(1, big);
    ssize_t w = write(sv[0], p, big);
    EXPECT(w > 0 && (size_t)w < big);
    EXPECT_NOW(MS(130));
    EXPECT_CODE(ERR(write(sv[0], p, big)), -EAGAIN);
    EXPECT_NOW(MS(230));
    free(p);
    close(sv[0]);
    close(sv[1]);
    return 0;
}

static void test_hook_dup2_and_sndtimeo(void **state)
{
    (void)state;
    assert_code(vrun(dup_sndtimeo_body, NULL, NULL), 0);
    assert_expectations();
}

/* ------------------------------------------------------------------------ */
/* connect and accept                                                       */
/* ------------------------------------------------------------------------ */

static struct sockaddr_in loopback(int port)
{
    return (struct sockaddr_in){.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                                .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
}

static int sock_body(void *arg, void **result)
{
    (void)arg, (void)result;
    int port, lfd = blk_listen(&port);
    EXPECT(lfd >= 0);
    /* accept with SO_RCVTIMEO: EAGAIN at the timeout. */
    struct timeval tv = {0, 200000};
    EXPECT_CODE(setsockopt(lfd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), 0);
    EXPECT_CODE(ERR(accept(lfd, NULL, NULL)), -EAGAIN);
    EXPECT_NOW(MS(200));
    /* A blocking connect, then the accepted side is known and blocking. */
    struct sockaddr_in a = loopback(port);
    int c = socket(AF_INET, SOCK_STREAM, 0);
    EXPECT_CODE(connect(c, (struct sockaddr *)&a, sizeof a), 0);
    int s = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    EXPECT(s >= 0 && kernel_nonblock(s));
    EXPECT_CODE(fcntl(s, F_GETFL) & O_NONBLOCK, 0);
    /* Reset by the peer: SO_LINGER 0 sends an RST. */
    struct linger lg = {1, 0};
    EXPECT_CODE(setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof lg), 0);
    EXPECT_CODE(close(c), 0);
    char ch;
    EXPECT_CODE(ERR(read(s, &ch, 1)), -ECONNRESET);
    close(s);
    /* accept4(SOCK_NONBLOCK): the caller's non-blocking descriptor. */
    c = socket(AF_INET, SOCK_STREAM, 0);
    EXPECT_CODE(connect(c, (struct sockaddr *)&a, sizeof a), 0);
    s = accept4(lfd, NULL, NULL, SOCK_NONBLOCK);
    EXPECT_CODE(fcntl(s, F_GETFL) & O_NONBLOCK, O_NONBLOCK);
    EXPECT_CODE(ERR(read(s, &ch, 1)), -EAGAIN);
    close(s);
    close(c);
    close(lfd);
    /* Refused: the port is closed now. */
    c = socket(AF_INET, SOCK_STREAM, 0);
    EXPECT_CODE(ERR(connect(c, (struct sockaddr *)&a, sizeof a)), -ECONNREFUSED);
    close(c);
    /* Non-blocking connect: EINPROGRESS, then SO_ERROR tells. */
    c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    int rc = ERR(connect(c, (struct sockaddr *)&a, sizeof a));
    EXPECT(rc == -EINPROGRESS || rc == -ECONNREFUSED);
    if (rc == -EINPROGRESS) {
        struct pollfd p = {.fd = c, .events = POLLOUT};
        EXPECT_CODE(poll(&p, 1, -1), 1);
        int err = 0;
        socklen_t len = sizeof err;
        EXPECT_CODE(getsockopt(c, SOL_SOCKET, SO_ERROR, &err, &len), 0);
        EXPECT_CODE(-err, -ECONNREFUSED);
    }
    close(c);
    return 0;
}

static void test_hook_connect_accept(void **state)
{
    (void)state;
    assert_code(vrun(sock_body, NULL, NULL), 0);
    assert_expectations();
}

/* ------------------------------------------------------------------------ */
/* poll, ppoll, select                                                      */
/* ------------------------------------------------------------------------ */

static int poll_body(void *arg, void **result)
{
    (void)arg, (void)result;
    EXPECT_CODE(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    struct pollfd p[2] = {{.fd = sv[0], .events = POLLIN}, {.fd = -1}};
    EXPECT_CODE(poll(p, 2, 100), 0);            /* the timeout */
    EXPECT_NOW(MS(100));
    EXPECT_CODE(weft_spawn(NULL, write_later, P(50), NULL), 0);
    EXPECT_CODE(poll(p, 2, -1), 1);             /* woken by the write */
    EXPECT_CODE(p[0].revents, POLLIN);
    EXPECT_NOW(MS(150));
    char c;
    EXPECT_CODE(read(sv[0], &c, 1), 1);
    struct timespec ts = {0, 70000000};
    EXPECT_CODE(ppoll(p, 1, &ts, NULL), 0);
    EXPECT_NOW(MS(220));
    sigset_t mask;
    sigemptyset(&mask);
    EXPECT_CODE(weft_spawn(NULL, write_later, P(30), NULL), 0);
    EXPECT_CODE(ppoll(p, 1, NULL, &mask), 1);
    EXPECT_NOW(MS(250));
    EXPECT_CODE(read(sv[0], &c, 1), 1);
    fd_set rd, wr;
    FD_ZERO(&rd);
    FD_SET(sv[0], &rd);
    struct timeval tv = {0, 40000};
    EXPECT_CODE(select(sv[0] + 1, &rd, NULL, NULL, &tv), 0);
    EXPECT_NOW(MS(290));
    EXPECT_CODE(tv.tv_sec * 1000000 + tv.tv_usec, 0);
    FD_SET(sv[0], &rd);
    FD_ZERO(&wr);
    FD_SET(sv[0], &wr);
    EXPECT_CODE(select(sv[0] + 1, &rd, &wr, NULL, NULL), 1);   /* writable */
    EXPECT(!FD_ISSET(sv[0], &rd) && FD_ISSET(sv[0], &wr));
    close(sv[0]);
    close(sv[1]);
    FD_ZERO(&rd);
    FD_SET(sv[0], &rd);
    tv = (struct timeval){1, 0};
    EXPECT_CODE(ERR(select(sv[0] + 1, &rd, NULL, NULL, &tv)), -EBADF);
    return 0;
}

static void test_hook_poll_select(void **state)
{
    (void)state;
    assert_code(vrun(poll_body, NULL, NULL), 0);
    assert_expectations();
}

/* ------------------------------------------------------------------------ */
/* Sleeping, cancellation, timeout scopes, errno                            */
/* ------------------------------------------------------------------------ */

static int sleep_body(void *arg, void **result)
{
    (void)arg, (void)result;
    EXPECT_CODE(sleep(1), 0);
    EXPECT_NOW(MS(1000));
    EXPECT_CODE(usleep(250000), 0);
    EXPECT_NOW(MS(1250));
    struct timespec ts = {0, 250000000}, rem;
    EXPECT_CODE(nanosleep(&ts, &rem), 0);
    EXPECT_NOW(MS(1500));
    EXPECT_CODE(clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, NULL), 0);
    EXPECT_NOW(MS(1750));
    /* TIMER_ABSTIME: one second from now on the wall clock. */
    struct timespec when;
    clock_gettime(CLOCK_REALTIME, &when);
    when.tv_sec += 1;
    EXPECT_CODE(clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &when, NULL), 0);
    EXPECT(weft_now() > MS(2700) && weft_now() <= MS(2750));
    /* Bad arguments are the real call's. */
    ts.tv_nsec = 1000000000;
    EXPECT_CODE(ERR(nanosleep(&ts, NULL)), -EINVAL);
    EXPECT_CODE(clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, NULL), EINVAL);
    return 0;
}

static void test_hook_sleep_family(void **state)
{
    (void)state;
    assert_code(vrun(sleep_body, NULL, NULL), 0);
    assert_expectations();
}

static int sleeps_long(void *arg, void **result)
{
    (void)arg, (void)result;
    errno = 0;
    unsigned left = sleep(10);
    EXPECT_CODE(left, 9);               /* cancelled at 1 s: 9 s not slept */
    EXPECT_CODE(errno, ECANCELED);
    return 0;
}

static int reads_forever(void *arg, void **result)
{
    (void)arg, (void)result;
    char c;
    EXPECT_CODE(ERR(read(sv[0], &c, 1)), -ECANCELED);
    return 0;
}

static int cancel_body(void *arg, void **result)
{
    (void)arg, (void)result;
    EXPECT_CODE(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    weft_task *a, *b;
    EXPECT_CODE(weft_spawn(&a, sleeps_long, NULL, NULL), 0);
    EXPECT_CODE(weft_spawn(&b, reads_forever, NULL, NULL), 0);
    weft_sleep(MS(1000));
    weft_task_cancel(a);
    weft_task_cancel(b);
    EXPECT_CODE(weft_task_join(a, NULL), 0);
    EXPECT_CODE(weft_task_join(b, NULL), 0);
    weft_task_release(a);
    weft_task_release(b);
    /* A timeout scope: ETIMEDOUT, not EINTR; nanosleep's rem is filled. */
    weft_scope s;
    struct timespec ts = {5, 0}, rem = {0, 0};
    EXPECT_CODE(weft_scope_enter_timeout(&s, MS(300)), 0);
    EXPECT_CODE(ERR(nanosleep(&ts, &rem)), -ETIMEDOUT);
    weft_scope_exit(&s);
    EXPECT_CODE(rem.tv_sec * 1000 + rem.tv_nsec / 1000000, 4700);
    EXPECT_CODE(weft_scope_enter_timeout(&s, MS(200)), 0);
    struct pollfd p = {.fd = sv[0], .events = POLLIN};
    EXPECT_CODE(ERR(poll(&p, 1, -1)), -ETIMEDOUT);
    weft_scope_exit(&s);
    EXPECT_CODE(weft_scope_enter_timeout(&s, MS(100)), 0);
    EXPECT_CODE(clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, NULL), ETIMEDOUT);
    weft_scope_exit(&s);
    EXPECT_NOW(MS(1600));
    close(sv[0]);
    close(sv[1]);
    return 0;
}

static void test_hook_cancel_and_scopes(void **state)
{
    (void)state;
    assert_code(vrun(cancel_body, NULL, NULL), 0);
    assert_expectations();
}

/* Each task sets errno, sleeps through a hook while the other runs, and
   finds its own errno after. */
static int errno_keeper(void *arg, void **result)
{
    (void)result;
    for (int i = 0; i < 5; i++) {
        errno = (int)N(arg) + i;
        EXPECT_CODE(usleep(1000), 0);
        EXPECT_CODE(errno, (int)N(arg) + i);
        char c;
        errno = (int)N(arg);
        EXPECT_CODE(read(sv[N(arg) == 100 ? 0 : 1], &c, 1), 1);
        EXPECT_CODE(errno, (int)N(arg));
        EXPECT_CODE(write(sv[N(arg) == 100 ? 0 : 1], "p", 1), 1);
    }
    return 0;
}

static int errno_body(void *arg, void **result)
{
    (void)arg, (void)result;
    EXPECT_CODE(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    weft_task *a, *b;
    EXPECT_CODE(write(sv[1], "p", 1), 1);  /* a ping-pong: each read waits */
    EXPECT_CODE(weft_spawn(&a, errno_keeper, P(100), NULL), 0);
    EXPECT_CODE(weft_spawn(&b, errno_keeper, P(200), NULL), 0);
    EXPECT_CODE(weft_task_join(a, NULL), 0);
    EXPECT_CODE(weft_task_join(b, NULL), 0);
    weft_task_release(a);
    weft_task_release(b);
    close(sv[0]);
    close(sv[1]);
    return 0;
}

static void test_hook_errno_per_task(void **state)
{
    (void)state;
    assert_code(vrun(errno_body, NULL, NULL), 0);
    assert_expectations();
}

/* ------------------------------------------------------------------------ */
/* Where the hooks do not act                                               */
/* ------------------------------------------------------------------------ */

/* A plain thread: its read really blocks the thread until data comes, even
   on a descriptor the loop made non-blocking behind the caller's back. */
static void *thread_reader(void *arg)
{
    char c;
    (void)arg;
    ssize_t r = read(sv[1], &c, 1);
    return (void *)(intptr_t)(r == 1 && c == 'T' ? 0 : -1);
}

static void *thread_sleeper(void *arg)
{
    (void)arg;
    struct timespec ts = {0, 20000000};
    int64_t t0 = mono_ns();
    int rc = nanosleep(&ts, NULL);
    return (void *)(intptr_t)(rc == 0 && mono_ns() - t0 >= 20000000 ? 0 : -1);
}

static int64_t callback_now;

static void callback_sleeps(void *arg)
{
    (void)arg;
    usleep(1000);               /* the real one: the loop's clock stays */
    callback_now = weft_now();
}

static int plain_body(void *arg, void **result)
{
    (void)arg, (void)result;
    EXPECT_CODE(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    EXPECT(kernel_nonblock(sv[1]));
    pthread_t th;
    EXPECT_CODE(pthread_create(&th, NULL, thread_reader, NULL), 0);
    struct timespec ts = {0, 20000000};
    clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, NULL);    /* let it block */
    EXPECT_CODE(write(sv[0], "T", 1), 1);
    void *out;
    EXPECT_CODE(pthread_join(th, &out), 0);
    EXPECT_CODE(N(out), 0);
    EXPECT_CODE(pthread_create(&th, NULL, thread_sleeper, NULL), 0);
    EXPECT_CODE(pthread_join(th, &out), 0);
    EXPECT_CODE(N(out), 0);
    int64_t t0 = weft_now();
    EXPECT_CODE(weft_call_soon(NULL, callback_sleeps, NULL), 0);
    weft_yield();
    weft_yield();
    EXPECT_CODE(callback_now, t0);
    /* Hooks off on this thread: the real call, the virtual clock stays. */
    EXPECT_CODE(weft_hook_thread(0), 1);
    int64_t mt0 = mono_ns();
    EXPECT_CODE(usleep(2000), 0);
    EXPECT(mono_ns() - mt0 >= 2000000);
    EXPECT_CODE(weft_now(), t0);
    EXPECT_CODE(weft_hook_thread(1), 0);
    close(sv[0]);
    close(sv[1]);
    return 0;
}

static void test_hook_plain_thread_and_callback(void **state)
{
    (void)state;
    assert_code(vrun(plain_body, NULL, NULL), 0);
    assert_expectations();
    /* Outside any loop: the real calls. */
    struct timespec ts = {0, 1000000};
    assert_code(nanosleep(&ts, NULL), 0);
    int p[2];
    assert_code(pipe(p), 0);
    assert_code(kernel_nonblock(p[0]), 0);
    assert_code(close(p[0]), 0);
    assert_code(close(p[1]), 0);
}

/* A signal handler that writes, on a task's stack, to a known pipe. */
static int sig_pipe[2];

static void on_signal(int sig)
{
    (void)sig;
    int saved = errno;
    static const char msg[] = "sig";
    if (write(sig_pipe[1], msg, 3) != 3)
        abort();
    write(2, "", 0);
    errno = saved;
}

static int signal_body(void *arg, void **result)
{
    (void)arg, (void)result;
    char buf[8];
    EXPECT_CODE(pipe(sig_pipe), 0);
    struct sigaction sa = {.sa_handler = on_signal};
    EXPECT_CODE(sigaction(SIGUSR1, &sa, NULL), 0);
    for (int i = 0; i < 100; i++) {
        EXPECT_CODE(raise(SIGUSR1), 0);
        EXPECT_CODE(read(sig_pipe[0], buf, sizeof buf), 3);
    }
    signal(SIGUSR1, SIG_DFL);
    close(sig_pipe[0]);
    close(sig_pipe[1]);
    return 0;
}

static void test_hook_signal_handler_writes(void **state)
{
    (void)state;
    assert_code(vrun(signal_body, NULL, NULL), 0);
    assert_expectations();
}

/* getaddrinfo on the worker pool. */
static int dns_body(void *arg, void **result)
{
    (void)arg, (void)result;
    struct addrinfo *res = NULL, hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM,
                                          .ai_flags = AI_NUMERICHOST};
    EXPECT_CODE(getaddrinfo("127.0.0.1", "80", &hints, &res), 0);
    EXPECT(res && res->ai_family == AF_INET);
    if (res)
        freeaddrinfo(res);
    EXPECT_CODE(getaddrinfo("not an address", NULL, &hints, &res), EAI_NONAME);
    weft_task_cancel(weft_task_current());
    errno = 0;
    EXPECT_CODE(getaddrinfo("127.0.0.1", "80", &hints, &res), EAI_SYSTEM);
    EXPECT_CODE(errno, ECANCELED);
    return 0;
}

static void test_hook_getaddrinfo(void **state)
{
    (void)state;
    assert_code(weft_run(dns_body, NULL, NULL), 0);
    assert_expectations();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_hook_thousand_clients, setup),
        cmocka_unit_test_setup(test_hook_read_paths, setup),
        cmocka_unit_test_setup(test_hook_transfer_calls, setup),
        cmocka_unit_test_setup(test_hook_dup2_and_sndtimeo, setup),
        cmocka_unit_test_setup(test_hook_connect_accept, setup),
        cmocka_unit_test_setup(test_hook_poll_select, setup),
        cmocka_unit_test_setup(test_hook_sleep_family, setup),
        cmocka_unit_test_setup(test_hook_cancel_and_scopes, setup),
        cmocka_unit_test_setup(test_hook_errno_per_task, setup),
        cmocka_unit_test_setup(test_hook_plain_thread_and_callback, setup),
        cmocka_unit_test_setup(test_hook_signal_handler_writes, setup),
        cmocka_unit_test_setup(test_hook_getaddrinfo, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
