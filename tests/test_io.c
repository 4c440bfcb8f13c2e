/*
 * test_io.c - descriptors and sockets (include/weft/io.h, first section):
 * reads and writes that suspend and resume, weft_write_all over a full
 * buffer, end of file, peer reset, refused connections, weft_io_wait's
 * events, timeouts and cancellation of every waiting call (and the
 * descriptor working afterwards), weft_io_close with waiters, the calls
 * outside a task, bad arguments, and (argv[1] "many" [count], ctest entries
 * io_10k, labelled slow, and io_5k) ten thousand concurrent loopback
 * connections.
 *
 * Everything but the 10k test runs on the virtual clock: time jumps only
 * when no task can run and no descriptor is ready, so times are exact.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <weft.h>

#include "support.h"

/* ------------------------------------------------------------------------ */
/* Helpers                                                                  */
/* ------------------------------------------------------------------------ */

/* A blocking AF_UNIX stream pair: weft switches it to O_NONBLOCK itself. */
static void pair(int sv[2])
{
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
        expect_fail(__FILE__, __LINE__, "socketpair: %s", strerror(errno));
}

static void set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/* The port a socket is bound to. */
static int port_of(int fd)
{
    struct sockaddr_in a;
    socklen_t len = sizeof a;
    if (getsockname(fd, (struct sockaddr *)&a, &len) != 0)
        return -errno;
    return ntohs(a.sin_port);
}

static struct sockaddr_in loopback(int port)
{
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return a;
}

/* A 127.0.0.1 port nothing listens on (bound, never listened, closed). */
static int closed_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = loopback(0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0)
        return -1;
    int port = port_of(fd);
    close(fd);
    return port;
}

/* Fills the send buffer of `fd` until not even one byte fits (a unix
   socket stays writable while small writes fit); returns the bytes. */
static size_t fill(int fd)
{
    static char junk[65536];
    size_t total = 0, chunk = sizeof junk;
    while (chunk > 0) {
        ssize_t n = send(fd, junk, chunk, MSG_DONTWAIT);
        if (n > 0)
            total += (size_t)n;
        else if (n < 0 && errno == EINTR)
            continue;
        else
            chunk /= 2;
    }
    return total;
}

/* Reads exactly `n` bytes (weft_read, may wait); returns n or the error. */
static ssize_t read_exact(int fd, void *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = weft_read(fd, (char *)buf + got, n - got);
        if (r <= 0)
            return r;
        got += (size_t)r;
    }
    return (ssize_t)got;
}

/* Each test runs under an alarm: a call that blocks the thread instead of
   suspending the task kills the program instead of hanging ctest. */
static int setup(void **state)
{
    alarm(30);
    return reset(state);
}

static int teardown(void **state)
{
    (void)state;
    alarm(0);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Reads and writes that suspend                                            */
/* ------------------------------------------------------------------------ */

static int sv_[2];

static int task_reader(void *arg, void **result)
{
    (void)arg;
    (void)result;
    char buf[32] = {0};
    weft_scope s;
    EXPECT_CODE(weft_scope_enter_timeout(&s, MS(50)), 0);
    say("r-wait@%s", at());
    ssize_t n = weft_read(sv_[0], buf, sizeof buf - 1);
    say("r-got:%zd:%s@%s", n, buf, at());
    EXPECT_CODE(weft_scope_exit(&s), 0);
    return 0;
}

static int task_writer(void *arg, void **result)
{
    (void)arg;
    (void)result;
    EXPECT_CODE(weft_sleep(MS(10)), 0);
    say("w-write@%s", at());
    ssize_t n = weft_write(sv_[1], "hello", 5);
    say("w-done:%zd@%s", n, at());
    return 0;
}

static int main_read_waits(void *arg, void **result)
{
    (void)arg;
    (void)result;
    weft_task *r, *w;
    pair(sv_);
    EXPECT_CODE(weft_spawn(&r, task_reader, NULL, NULL), 0);
    EXPECT_CODE(weft_spawn(&w, task_writer, NULL, NULL), 0);
    EXPECT_CODE(weft_task_join(r, NULL), 0);
    EXPECT_CODE(weft_task_join(w, NULL), 0);
    weft_task_release(r);
    weft_task_release(w);
    EXPECT_CODE(weft_io_close(sv_[0]), 0);
    EXPECT_CODE(weft_io_close(sv_[1]), 0);
    say("end@%s", at());
    return 0;
}

static void test_io_read_waits_for_writer(void **state)
{
    (void)state;
    assert_code(vrun(main_read_waits, NULL, NULL), 0);
    assert_expectations();
    /* The reader waits inside a 50 ms scope; time stops at the write. */
    assert_log("r-wait@0 w-write@10 w-done:5@10 r-got:5:hello@10 end@10");
}

static size_t filled_;

static int task_blocked_writer(void *arg, void **result)
{
    (void)arg;
    (void)result;
    say("w-wait@%s", at());
    ssize_t n = weft_write(sv_[1], "x", 1);
    say("w-done:%zd@%s", n, at());
    return 0;
}

static int task_drainer(void *arg, void **result)
{
    (void)arg;
    (void)result;
    static char buf[65536];
    EXPECT_CODE(weft_sleep(MS(10)), 0);
    size_t got = 0;
    while (got < filled_) {
        size_t want = filled_ - got < sizeof buf ? filled_ - got : sizeof buf;
        ssize_t n = weft_read(sv_[0], buf, want);
        if (n <= 0) {
            EXPECT_CODE(n, 1);
            break;
        }
        got += (size_t)n;
    }
    say("r-drained@%s", at());
    char c = 0;
    EXPECT_CODE(weft_read(sv_[0], &c, 1), 1);
    say("r-last:%c@%s", c, at());
    return 0;
}

static int main_write_waits(void *arg, void **result)
{
    (void)arg;
    (void)result;
    weft_task *r, *w;
    pair(sv_);
    set_nonblock(sv_[1]);
    filled_ = fill(sv_[1]);
    EXPECT(filled_ > 0);
    EXPECT_CODE(weft_spawn(&w, task_blocked_writer, NULL, NULL), 0);
    EXPECT_CODE(weft_spawn(&r, task_drainer, NULL, NULL), 0);
    EXPECT_CODE(weft_task_join(r, NULL), 0);
    EXPECT_CODE(weft_task_join(w, NULL), 0);
    weft_task_release(r);
    weft_task_release(w);
    EXPECT_CODE(weft_io_close(sv_[0]), 0);
    EXPECT_CODE(weft_io_close(sv_[1]), 0);
    return 0;
}

static void test_io_write_waits_for_reader(void **state)
{
    (void)state;
    assert_code(vrun(main_write_waits, NULL, NULL), 0);
    assert_expectations();
    assert_log("w-wait@0 r-drained@10 w-done:1@10 r-last:x@10");
}

/* ------------------------------------------------------------------------ */
/* weft_write_all                                                           */
/* ------------------------------------------------------------------------ */

#define BIG ((size_t)8 << 20)
static unsigned char *big_;
static int64_t writer_done_at_;

static int task_big_writer(void *arg, void **result)
{
    (void)arg;
    (void)result;
    EXPECT_CODE(weft_write_all(sv_[1], big_, BIG), (long)BIG);
    writer_done_at_ = weft_now();
    EXPECT_CODE(weft_io_close(sv_[1]), 0);
    return 0;
}

static int task_slow_reader(void *arg, void **result)
{
    (void)arg;
    (void)result;
    static unsigned char buf[65536];
    size_t got = 0, bad = 0;
    for (;;) {
        EXPECT_CODE(weft_sleep(MS(1)), 0);
        ssize_t n = weft_read(sv_[0], buf, sizeof buf);
        if (n <= 0) {
            EXPECT_CODE(n, 0);
            break;
        }
        for (ssize_t i = 0; i < n; i++)
            if (buf[i] != (unsigned char)((got + (size_t)i) * 7 % 251))
                bad++;
        got += (size_t)n;
    }
    EXPECT_CODE(got, (long)BIG);
    EXPECT_CODE(bad, 0);
    say("reader-end");
    return 0;
}

static int main_write_all(void *arg, void **result)
{
    (void)arg;
    (void)result;
    weft_task *r, *w;
    pair(sv_);
    EXPECT_CODE(weft_spawn(&w, task_big_writer, NULL, NULL), 0);
    EXPECT_CODE(weft_spawn(&r, task_slow_reader, NULL, NULL), 0);
    EXPECT_CODE(weft_task_join(w, NULL), 0);
    EXPECT_CODE(weft_task_join(r, NULL), 0);
    weft_task_release(r);
    weft_task_release(w);
    EXPECT_CODE(weft_io_close(sv_[0]), 0);
    return 0;
}

static void test_io_write_all_large(void **state)
{
    (void)state;
    big_ = malloc(BIG);
    assert_non_null(big_);
    for (size_t i = 0; i < BIG; i++)
        big_[i] = (unsigned char)(i * 7 % 251);
    writer_done_at_ = -1;
    assert_code(vrun(main_write_all, NULL, NULL), 0);
    free(big_);
    assert_expectations();
    assert_log("reader-end");
    /* 8 MB cannot fit in a socket buffer: the writer had to wait for the
       reader, which reads at most 64 KiB a millisecond. */
    assert_true(writer_done_at_ >= MS(8));
}

/* ------------------------------------------------------------------------ */
/* End of file, reset, refused                                              */
/* ------------------------------------------------------------------------ */

static int task_eof_reader(void *arg, void **result)
{
    (void)arg;
    (void)result;
    char buf[16];
    ssize_t n = weft_read(sv_[0], buf, sizeof buf);
    say("r1:%zd@%s", n, at());
    n = weft_read(sv_[0], buf, sizeof buf);
    say("r2:%zd@%s", n, at());
    return 0;
}

static int main_eof(void *arg, void **result)
{
    (void)arg;
    (void)result;
    weft_task *r;
    char buf[16];
    pair(sv_);
    EXPECT_CODE(weft_spawn(&r, task_eof_reader, NULL, NULL), 0);
    EXPECT_CODE(weft_sleep(MS(10)), 0);
    EXPECT_CODE(weft_write(sv_[1], "abc", 3), 3);
    EXPECT_CODE(weft_sleep(MS(10)), 0);
    say("close@%s", at());
    EXPECT_CODE(weft_io_close(sv_[1]), 0);
    EXPECT_CODE(weft_task_join(r, NULL), 0);
    weft_task_release(r);
    /* EOF stays EOF, and weft_recv sees it too. */
    EXPECT_CODE(weft_read(sv_[0], buf, sizeof buf), 0);
    EXPECT_CODE(weft_recv(sv_[0], buf, sizeof buf, 0), 0);
    /* Readiness after a hang-up. */
    int ev = weft_io_wait(sv_[0], WEFT_IO_READ);
    EXPECT(ev > 0 && (ev & WEFT_IO_READ));
    EXPECT_NOW(MS(20));
    EXPECT_CODE(weft_io_close(sv_[0]), 0);
    return 0;
}

static void test_io_eof(void **state)
{
    (void)state;
    assert_code(vrun(main_eof, NULL, NULL), 0);
    assert_expectations();
    assert_log("r1:3@10 close@20 r2:0@20");
}

/* A connected TCP pair over 127.0.0.1: *c the client, *s the accepted end. */
static void tcp_pair(int *c, int *s)
{
    int l = weft_tcp_listen("127.0.0.1", 0, 16);
    EXPECT(l >= 0);
    int port = port_of(l);
    EXPECT(port > 0);
    *c = weft_tcp_connect("127.0.0.1", port);
    EXPECT(*c >= 0);
    *s = weft_accept(l, NULL, NULL);
    EXPECT(*s >= 0);
    EXPECT_CODE(weft_io_close(l), 0);
}

static int main_reset(void *arg, void **result)
{
    (void)arg;
    (void)result;
    int c, s;
    char buf[16];
    tcp_pair(&c, &s);
    struct linger lg = {1, 0};
    EXPECT_CODE(setsockopt(s, SOL_SOCKET, SO_LINGER, &lg, sizeof lg), 0);
    EXPECT_CODE(weft_io_close(s), 0); /* sends RST */
    /* The reset makes the socket ready (errors count as both). */
    int ev = weft_io_wait(c, WEFT_IO_READ);
    EXPECT(ev > 0 && (ev & WEFT_IO_READ));
    ssize_t w = weft_write(c, "data", 4);
    EXPECT(w == -ECONNRESET || w == -EPIPE);
    if (w != -ECONNRESET && w != -EPIPE)
        say("write1:%zd", w);
    w = weft_send(c, "data", 4, MSG_NOSIGNAL);
    EXPECT(w == -ECONNRESET || w == -EPIPE);
    if (w != -ECONNRESET && w != -EPIPE)
        say("write2:%zd", w);
    ssize_t r = weft_read(c, buf, sizeof buf);
    EXPECT(r == 0 || r == -ECONNRESET);
    EXPECT_CODE(weft_io_close(c), 0);
    EXPECT_NOW(0);
    return 0;
}

static void test_io_peer_reset(void **state)
{
    (void)state;
    assert_code(vrun(main_reset, NULL, NULL), 0);
    assert_expectations();
    assert_log("");
}

static int main_reset_read(void *arg, void **result)
{
    (void)arg;
    (void)result;
    int c, s;
    char buf[16];
    tcp_pair(&c, &s);
    struct linger lg = {1, 0};
    EXPECT_CODE(setsockopt(s, SOL_SOCKET, SO_LINGER, &lg, sizeof lg), 0);
    EXPECT_CODE(weft_io_close(s), 0);
    /* A read waiting for data gets the reset. */
    EXPECT_CODE(weft_read(c, buf, sizeof buf), -ECONNRESET);
    EXPECT_CODE(weft_io_close(c), 0);
    return 0;
}

static void test_io_peer_reset_read(void **state)
{
    (void)state;
    assert_code(vrun(main_reset_read, NULL, NULL), 0);
    assert_expectations();
}

static int main_refused(void *arg, void **result)
{
    (void)arg;
    (void)result;
    int port = closed_port();
    EXPECT(port > 0);
    EXPECT_CODE(weft_tcp_connect("127.0.0.1", port), -ECONNREFUSED);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = loopback(port);
    EXPECT_CODE(weft_connect(fd, (struct sockaddr *)&a, sizeof a), -ECONNREFUSED);
    EXPECT_CODE(weft_io_close(fd), 0);
    /* A blocking socket too (weft makes it non-blocking). */
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    EXPECT_CODE(weft_connect(fd, (struct sockaddr *)&a, sizeof a), -ECONNREFUSED);
    EXPECT_CODE(weft_io_close(fd), 0);
    return 0;
}

static void test_io_connect_refused(void **state)
{
    (void)state;
    assert_code(vrun(main_refused, NULL, NULL), 0);
    assert_expectations();
}

/* ------------------------------------------------------------------------ */
/* TCP over loopback                                                        */
/* ------------------------------------------------------------------------ */

static int listen_fd_;

static int task_echo_server(void *arg, void **result)
{
    (void)arg;
    (void)result;
    struct sockaddr_in peer;
    socklen_t len = sizeof peer;
    char buf[64];
    say("s-accept@%s", at());
    int fd = weft_accept(listen_fd_, (struct sockaddr *)&peer, &len);
    EXPECT(fd >= 0);
    EXPECT_CODE(len, sizeof peer);
    EXPECT_CODE(peer.sin_family, AF_INET);
    EXPECT_CODE(ntohl(peer.sin_addr.s_addr), INADDR_LOOPBACK);
    /* Non-blocking and close-on-exec. */
    EXPECT(fcntl(fd, F_GETFL) & O_NONBLOCK);
    EXPECT(fcntl(fd, F_GETFD) & FD_CLOEXEC);
    ssize_t n = weft_recv(fd, buf, sizeof buf, 0);
    say("s-got:%zd@%s", n, at());
    if (n > 0)
        EXPECT_CODE(weft_send(fd, buf, (size_t)n, MSG_NOSIGNAL), n);
    EXPECT_CODE(weft_io_close(fd), 0);
    say("s-closed@%s", at());
    return 0;
}

static int task_echo_client(void *arg, void **result)
{
    (void)result;
    int port = (int)N(arg);
    char buf[64] = {0};
    EXPECT_CODE(weft_sleep(MS(5)), 0);
    int fd = weft_tcp_connect("127.0.0.1", port);
    EXPECT(fd >= 0);
    EXPECT(fcntl(fd, F_GETFL) & O_NONBLOCK);
    say("c-connected@%s", at());
    EXPECT_CODE(weft_sleep(MS(5)), 0);
    EXPECT_CODE(weft_write_all(fd, "ping", 4), 4);
    EXPECT_CODE(read_exact(fd, buf, 4), 4);
    say("c-echo:%s@%s", buf, at());
    EXPECT_CODE(weft_read(fd, buf, sizeof buf), 0);
    say("c-eof@%s", at());
    EXPECT_CODE(weft_io_close(fd), 0);
    return 0;
}

static int main_tcp_echo(void *arg, void **result)
{
    (void)arg;
    (void)result;
    weft_task *s, *c;
    listen_fd_ = weft_tcp_listen("127.0.0.1", 0, 16);
    EXPECT(listen_fd_ >= 0);
    EXPECT(fcntl(listen_fd_, F_GETFL) & O_NONBLOCK);
    EXPECT(fcntl(listen_fd_, F_GETFD) & FD_CLOEXEC);
    int one = 0;
    socklen_t ol = sizeof one;
    EXPECT_CODE(getsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, &ol), 0);
    EXPECT(one != 0);
    int port = port_of(listen_fd_);
    EXPECT(port > 0);
    EXPECT_CODE(weft_spawn(&s, task_echo_server, NULL, NULL), 0);
    EXPECT_CODE(weft_spawn(&c, task_echo_client, P(port), NULL), 0);
    EXPECT_CODE(weft_task_join(s, NULL), 0);
    EXPECT_CODE(weft_task_join(c, NULL), 0);
    weft_task_release(s);
    weft_task_release(c);
    EXPECT_CODE(weft_io_close(listen_fd_), 0);
    return 0;
}

static void test_io_tcp_echo(void **state)
{
    (void)state;
    assert_code(vrun(main_tcp_echo, NULL, NULL), 0);
    assert_expectations();
    assert_log("s-accept@0 c-connected@5 s-got:4@10 s-closed@10 c-echo:ping@10 c-eof@10");
}

static int main_tcp_any_and_names(void *arg, void **result)
{
    (void)arg;
    (void)result;
    /* Any address, and a name: "localhost" may give ::1 first, which is
       refused; weft_tcp_connect tries the next address. */
    int l = weft_tcp_listen(NULL, 0, 16);
    EXPECT(l >= 0);
    int port = port_of(l);
    EXPECT(port > 0);
    int c = weft_tcp_connect("localhost", port);
    EXPECT(c >= 0);
    int s = weft_accept(l, NULL, NULL);
    EXPECT(s >= 0);
    EXPECT_CODE(weft_write(c, "x", 1), 1);
    char ch = 0;
    EXPECT_CODE(weft_read(s, &ch, 1), 1);
    EXPECT(ch == 'x');
    EXPECT_CODE(weft_io_close(c), 0);
    EXPECT_CODE(weft_io_close(s), 0);
    EXPECT_CODE(weft_io_close(l), 0);
    /* An empty host is any address too; a name resolves. */
    l = weft_tcp_listen("", 0, 16);
    EXPECT(l >= 0);
    EXPECT_CODE(weft_io_close(l), 0);
    l = weft_tcp_listen("localhost", 0, 16);
    EXPECT(l >= 0);
    EXPECT_CODE(weft_io_close(l), 0);
    return 0;
}

static void test_io_tcp_any_address_and_names(void **state)
{
    (void)state;
    assert_code(vrun(main_tcp_any_and_names, NULL, NULL), 0);
    assert_expectations();
}

/* Outside a loop, weft_tcp_listen looks names up inline. */
static void test_io_tcp_listen_outside_loop(void **state)
{
    (void)state;
    int l = weft_tcp_listen("127.0.0.1", 0, 4);
    assert_true(l >= 0);
    assert_true(port_of(l) > 0);
    assert_true(fcntl(l, F_GETFL) & O_NONBLOCK);
    /* No connection pending: the non-blocking accept. */
    assert_code(weft_accept(l, NULL, NULL), -EAGAIN);
    assert_code(weft_io_close(l), 0);
}

/* ------------------------------------------------------------------------ */
/* weft_io_wait                                                             */
/* ------------------------------------------------------------------------ */

static int task_write_later(void *arg, void **result)
{
    (void)result;
    EXPECT_CODE(weft_sleep(MS(N(arg))), 0);
    say("write@%s", at());
    EXPECT_CODE(weft_write(sv_[1], "z", 1), 1);
    return 0;
}

static int main_io_wait(void *arg, void **result)
{
    (void)arg;
    (void)result;
    weft_task *w;
    char c;
    pair(sv_);
    /* Writable at once, not readable. */
    int ev = weft_io_wait(sv_[0], WEFT_IO_WRITE);
    EXPECT_CODE(ev & WEFT_IO_WRITE, WEFT_IO_WRITE);
    EXPECT_CODE(ev & WEFT_IO_READ, 0);
    ev = weft_io_wait(sv_[0], WEFT_IO_READ | WEFT_IO_WRITE);
    EXPECT_CODE(ev, WEFT_IO_WRITE);
    EXPECT_NOW(0);
    /* Readable once the writer writes at 10. */
    EXPECT_CODE(weft_spawn(&w, task_write_later, P(10), NULL), 0);
    ev = weft_io_wait(sv_[0], WEFT_IO_READ);
    say("ready:%d@%s", ev & WEFT_IO_READ, at());
    EXPECT(ev > 0 && (ev & WEFT_IO_READ));
    EXPECT_CODE(weft_task_join(w, NULL), 0);
    weft_task_release(w);
    /* Both now. */
    EXPECT_CODE(weft_io_wait(sv_[0], WEFT_IO_READ | WEFT_IO_WRITE),
                WEFT_IO_READ | WEFT_IO_WRITE);
    EXPECT_CODE(weft_read(sv_[0], &c, 1), 1);
    /* Drained: a READ wait waits again (edge-triggered must not miss the
       next edge). */
    EXPECT_CODE(weft_spawn(&w, task_write_later, P(5), NULL), 0);
    ev = weft_io_wait(sv_[0], WEFT_IO_READ);
    say("ready:%d@%s", ev & WEFT_IO_READ, at());
    EXPECT_CODE(weft_task_join(w, NULL), 0);
    weft_task_release(w);
    EXPECT_CODE(weft_read(sv_[0], &c, 1), 1);
    EXPECT_CODE(weft_io_close(sv_[0]), 0);
    /* Hang-up counts as ready for both. */
    ev = weft_io_wait(sv_[1], WEFT_IO_READ);
    EXPECT(ev > 0 && (ev & WEFT_IO_READ));
    EXPECT_CODE(weft_io_close(sv_[1]), 0);
    return 0;
}

static void test_io_wait_events(void **state)
{
    (void)state;
    assert_code(vrun(main_io_wait, NULL, NULL), 0);
    assert_expectations();
    assert_log("write@10 ready:1@10 write@15 ready:1@15");
}

/*
 * weft_io_wait for code that does its own system calls (a TLS or HTTP
 * library): after the caller has drained the descriptor with plain read(2)
 * or filled it with send(2), the wait must wait for the next edge, not
 * report readiness the caller has already used up (that would spin).
 */
static int main_io_wait_own_calls(void *arg, void **result)
{
    (void)arg;
    (void)result;
    weft_task *w;
    char c;
    weft_scope s;
    pair(sv_);
    /* READ: readable, drained by plain read() until EAGAIN. */
    EXPECT_CODE(weft_spawn(&w, task_write_later, P(10), NULL), 0);
    int ev = weft_io_wait(sv_[0], WEFT_IO_READ);
    EXPECT(ev > 0 && (ev & WEFT_IO_READ));
    EXPECT_CODE(weft_task_join(w, NULL), 0);
    weft_task_release(w);
    EXPECT_CODE(recv(sv_[0], &c, 1, MSG_DONTWAIT), 1);
    EXPECT_CODE(recv(sv_[0], &c, 1, MSG_DONTWAIT), -1);
    EXPECT_CODE(weft_scope_enter_timeout(&s, MS(5)), 0);
    ev = weft_io_wait(sv_[0], WEFT_IO_READ);
    say("drained:%s@%s", cn(ev), at());
    EXPECT_CODE(weft_scope_exit(&s), -ETIMEDOUT);
    /* And it wakes on the next write. */
    EXPECT_CODE(weft_spawn(&w, task_write_later, P(5), NULL), 0);
    ev = weft_io_wait(sv_[0], WEFT_IO_READ);
    say("ready:%d@%s", ev & WEFT_IO_READ, at());
    EXPECT_CODE(weft_task_join(w, NULL), 0);
    weft_task_release(w);
    EXPECT_CODE(weft_read(sv_[0], &c, 1), 1);
    /* Not writable when the buffer is full; writable after a drain. */
    set_nonblock(sv_[1]);
    size_t filled = fill(sv_[1]);
    EXPECT_CODE(weft_scope_enter_timeout(&s, MS(5)), 0);
    EXPECT_CODE(weft_io_wait(sv_[1], WEFT_IO_WRITE), -ETIMEDOUT);
    EXPECT_CODE(weft_scope_exit(&s), -ETIMEDOUT);
    say("full@%s", at());
    static char buf[65536];
    size_t got = 0;
    while (got < filled) {
        ssize_t n = read(sv_[0], buf, sizeof buf);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    EXPECT_CODE(got, (long)filled);
    ev = weft_io_wait(sv_[1], WEFT_IO_WRITE);
    EXPECT(ev > 0 && (ev & WEFT_IO_WRITE));
    EXPECT_CODE(weft_io_close(sv_[0]), 0);
    EXPECT_CODE(weft_io_close(sv_[1]), 0);
    return 0;
}

static void test_io_wait_after_own_calls(void **state)
{
    (void)state;
    assert_code(vrun(main_io_wait_own_calls, NULL, NULL), 0);
    assert_log("write@10 drained:ETIMEDOUT@15 write@20 ready:1@20 full@25");
    assert_expectations();
}

/* ------------------------------------------------------------------------ */
/* Timeouts                                                                 */
/* ------------------------------------------------------------------------ */

static int main_timeouts(void *arg, void **result)
{
    (void)arg;
    (void)result;
    weft_scope s;
    char buf[8];
    pair(sv_);
    /* A read with nothing to read ends at exactly the deadline. */
    EXPECT_CODE(weft_scope_enter_timeout(&s, MS(50)), 0);
    EXPECT_CODE(weft_read(sv_[0], buf, sizeof buf), -ETIMEDOUT);
    say("read:%s", at());
    EXPECT_CODE(weft_scope_exit(&s), -ETIMEDOUT);
    /* The descriptor still works. */
    EXPECT_CODE(weft_write(sv_[1], "ok", 2), 2);
    EXPECT_CODE(weft_read(sv_[0], buf, sizeof buf), 2);
    /* Absolute deadline, io_wait. */
    EXPECT_CODE(weft_scope_enter(&s, MS(70)), 0);
    EXPECT_CODE(weft_io_wait(sv_[0], WEFT_IO_READ), -ETIMEDOUT);
    say("wait:%s", at());
    EXPECT_CODE(weft_scope_exit(&s), -ETIMEDOUT);
    /* accept. */
    int l = weft_tcp_listen("127.0.0.1", 0, 4);
    EXPECT(l >= 0);
    EXPECT_CODE(weft_scope_enter_timeout(&s, MS(30)), 0);
    EXPECT_CODE(weft_accept(l, NULL, NULL), -ETIMEDOUT);
    say("accept:%s", at());
    EXPECT_CODE(weft_scope_exit(&s), -ETIMEDOUT);
    EXPECT_CODE(weft_io_close(l), 0);
    /* write_all part way: the buffer fills, nobody reads. */
    static char junk[1 << 20];
    EXPECT_CODE(weft_scope_enter_timeout(&s, MS(20)), 0);
    EXPECT_CODE(weft_write_all(sv_[1], junk, sizeof junk), -ETIMEDOUT);
    say("write_all:%s", at());
    EXPECT_CODE(weft_scope_exit(&s), -ETIMEDOUT);
    /* Data ready means no wait: a read inside a fresh scope succeeds. */
    EXPECT_CODE(weft_scope_enter_timeout(&s, MS(10)), 0);
    EXPECT(weft_read(sv_[0], buf, sizeof buf) > 0);
    EXPECT_CODE(weft_scope_exit(&s), 0);
    EXPECT_CODE(weft_io_close(sv_[0]), 0);
    EXPECT_CODE(weft_io_close(sv_[1]), 0);
    return 0;
}

static void test_io_timeouts(void **state)
{
    (void)state;
    assert_code(vrun(main_timeouts, NULL, NULL), 0);
    assert_expectations();
    assert_log("read:50 wait:70 accept:100 write_all:120");
}

/* ------------------------------------------------------------------------ */
/* Cancellation                                                             */
/* ------------------------------------------------------------------------ */

static int cancel_fd_;

static int task_cancel_read(void *arg, void **result)
{
    (void)arg;
    (void)result;
    char buf[8];
    int rc = (int)weft_read(cancel_fd_, buf, sizeof buf);
    say("read:%s@%s", cn(rc), at());
    shielded_sleep_100();
    return rc;
}

static int task_cancel_wait(void *arg, void **result)
{
    (void)arg;
    (void)result;
    int rc = weft_io_wait(cancel_fd_, WEFT_IO_READ);
    say("wait:%s@%s", cn(rc), at());
    shielded_sleep_100();
    return rc;
}

static int task_cancel_accept(void *arg, void **result)
{
    (void)arg;
    (void)result;
    int rc = weft_accept(cancel_fd_, NULL, NULL);
    say("accept:%s@%s", cn(rc), at());
    shielded_sleep_100();
    return rc;
}

static int main_cancel_rw(void *arg, void **result)
{
    (void)arg;
    (void)result;
    weft_task *t;
    char buf[8];
    pair(sv_);
    cancel_fd_ = sv_[0];
    /* read */
    EXPECT_CODE(weft_spawn(&t, task_cancel_read, NULL, NULL), 0);
    EXPECT_CODE(weft_sleep(MS(10)), 0);
    EXPECT_CODE(weft_task_cancel(t), 0);
    EXPECT_CODE(weft_sleep(MS(10)), 0);
    /* Data now: a stale registration would wake the shielded sleep early. */
    EXPECT_CODE(weft_write(sv_[1], "abc", 3), 3);
    EXPECT_CODE(weft_task_join(t, NULL), -ECANCELED);
    weft_task_release(t);
    EXPECT_CODE(weft_read(sv_[0], buf, sizeof buf), 3);
    say("reread@%s", at());
    /* io_wait */
    EXPECT_CODE(weft_spawn(&t, task_cancel_wait, NULL, NULL), 0);
    EXPECT_CODE(weft_sleep(MS(10)), 0);
    EXPECT_CODE(weft_task_cancel(t), 0);
    EXPECT_CODE(weft_sleep(MS(10)), 0);
    EXPECT_CODE(weft_write(sv_[1], "d", 1), 1);
    EXPECT_CODE(weft_task_join(t, NULL), -ECANCELED);
    weft_task_release(t);
    EXPECT_CODE(weft_io_wait(sv_[0], WEFT_IO_READ) & WEFT_IO_READ, WEFT_IO_READ);
    EXPECT_CODE(weft_read(sv_[0], buf, sizeof buf), 1);
    /* And a fresh waiter still gets woken by new data. */
    EXPECT_CODE(weft_spawn(&t, task_write_later, P(5), NULL), 0);
    EXPECT_CODE(weft_read(sv_[0], buf, sizeof buf), 1);
    say("waited@%s", at());
    EXPECT_CODE(weft_task_join(t, NULL), 0);
    weft_task_release(t);
    EXPECT_CODE(weft_io_close(sv_[0]), 0);
    EXPECT_CODE(weft_io_close(sv_[1]), 0);
    return 0;
}

static void test_io_cancel_read_and_wait(void **state)
{
    (void)state;
    assert_code(vrun(main_cancel_rw, NULL, NULL), 0);
    assert_expectations();
    assert_log("read:ECANCELED@10 shielded:0@110 reread@110 "
               "wait:ECANCELED@120 shielded:0@220 write@225 waited@225");
}

static int main_cancel_accept(void *arg, void **result)
{
    (void)arg;
    (void)result;
    weft_task *t;
    int l = weft_tcp_listen("127.0.0.1", 0, 8);
    EXPECT(l >= 0);
    cancel_fd_ = l;
    EXPECT_CODE(weft_spawn(&t, task_cancel_accept, NULL, NULL), 0);
    EXPECT_CODE(weft_sleep(MS(10)), 0);
    EXPECT_CODE(weft_task_cancel(t), 0);
    EXPECT_CODE(weft_sleep(MS(10)), 0);
    int c = weft_tcp_connect("127.0.0.1", port_of(l)); /* a stale waiter would wake */
    EXPECT(c >= 0);
    EXPECT_CODE(weft_task_join(t, NULL), -ECANCELED);
    weft_task_release(t);
    int s = weft_accept(l, NULL, NULL);
    EXPECT(s >= 0);
    say("accepted@%s", at());
    EXPECT_CODE(weft_io_close(s), 0);
    EXPECT_CODE(weft_io_close(c), 0);
    EXPECT_CODE(weft_io_close(l), 0);
    return 0;
}

static void test_io_cancel_accept(void **state)
{
    (void)state;
    assert_code(vrun(main_cancel_accept, NULL, NULL), 0);
    assert_expectations();
    assert_log("accept:ECANCELED@10 shielded:0@110 accepted@110");
}

/*
 * A connect that cannot complete: the listener's accept queue (backlog 0,
 * never accepted) is full, so the kernel drops the SYN and retransmits it
 * only after a second of real time.
 */
static int full_listener_, pending_port_;
static int fillers_[8];
static int nfillers_;

static int task_cancel_connect(void *arg, void **result)
{
    (void)arg;
    (void)result;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = loopback(pending_port_);
    int rc = weft_connect(fd, (struct sockaddr *)&a, sizeof a);
    say("connect:%s@%s", cn(rc), at());
    EXPECT_CODE(weft_io_close(fd), 0);
    return rc;
}

static int main_cancel_connect(void *arg, void **result)
{
    (void)arg;
    (void)result;
    weft_task *t;
    struct sockaddr_in a = loopback(0);
    full_listener_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    EXPECT_CODE(bind(full_listener_, (struct sockaddr *)&a, sizeof a), 0);
    EXPECT_CODE(listen(full_listener_, 0), 0);
    pending_port_ = port_of(full_listener_);
    a = loopback(pending_port_);
    /* Fill the queue with plain connects until one stays pending. */
    nfillers_ = 0;
    for (int i = 0; i < 8; i++) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        fillers_[nfillers_++] = fd;
        (void)connect(fd, (struct sockaddr *)&a, sizeof a);
    }
    EXPECT_CODE(weft_spawn(&t, task_cancel_connect, NULL, NULL), 0);
    EXPECT_CODE(weft_sleep(MS(10)), 0);
    EXPECT_CODE(weft_task_cancel(t), 0);
    EXPECT_CODE(weft_task_join(t, NULL), -ECANCELED);
    weft_task_release(t);
    say("joined@%s", at());
    for (int i = 0; i < nfillers_; i++)
        close(fillers_[i]);
    close(full_listener_);
    /* Connecting still works afterwards. */
    int l = weft_tcp_listen("127.0.0.1", 0, 8);
    int c = weft_tcp_connect("127.0.0.1", port_of(l));
    EXPECT(c >= 0);
    EXPECT_CODE(weft_io_close(c), 0);
    EXPECT_CODE(weft_io_close(l), 0);
    return 0;
}

static void test_io_cancel_connect(void **state)
{
    (void)state;
    assert_code(vrun(main_cancel_connect, NULL, NULL), 0);
    assert_expectations();
    assert_log("connect:ECANCELED@10 joined@10");
}

static int task_write_all_cancelled(void *arg, void **result)
{
    (void)arg;
    (void)result;
    static char junk[1 << 20];
    int rc = (int)weft_write_all(sv_[1], junk, sizeof junk);
    say("write_all:%s@%s", cn(rc), at());
    return rc;
}

static int main_cancel_write(void *arg, void **result)
{
    (void)arg;
    (void)result;
    weft_task *t;
    pair(sv_);
    EXPECT_CODE(weft_spawn(&t, task_write_all_cancelled, NULL, NULL), 0);
    EXPECT_CODE(weft_sleep(MS(10)), 0);
    EXPECT_CODE(weft_task_cancel(t), 0);
    EXPECT_CODE(weft_task_join(t, NULL), -ECANCELED);
    weft_task_release(t);
    EXPECT_CODE(weft_io_close(sv_[0]), 0);
    EXPECT_CODE(weft_io_close(sv_[1]), 0);
    return 0;
}

static void test_io_cancel_write_all(void **state)
{
    (void)state;
    assert_code(vrun(main_cancel_write, NULL, NULL), 0);
    assert_expectations();
    assert_log("write_all:ECANCELED@10");
}

/* ------------------------------------------------------------------------ */
/* weft_io_close with waiters                                               */
/* ------------------------------------------------------------------------ */

static int task_close_reader(void *arg, void **result)
{
    (void)arg;
    (void)result;
    char buf[8];
    ssize_t rc = weft_read(cancel_fd_, buf, sizeof buf);
    *result = P(rc);
    return 0;
}

static int task_close_waiter(void *arg, void **result)
{
    (void)arg;
    int rc = weft_io_wait(cancel_fd_, WEFT_IO_READ);
    *result = P(rc);
    return 0;
}

static int main_close_waiters(void *arg, void **result)
{
    (void)arg;
    (void)result;
    weft_task *r, *w;
    void *vr = NULL, *vw = NULL;
    pair(sv_);
    cancel_fd_ = sv_[0];
    EXPECT_CODE(weft_spawn(&r, task_close_reader, NULL, NULL), 0);
    EXPECT_CODE(weft_spawn(&w, task_close_waiter, NULL, NULL), 0);
    EXPECT_CODE(weft_sleep(MS(10)), 0);
    EXPECT_CODE(weft_io_close(sv_[0]), 0);
    EXPECT_CODE(weft_task_join(r, &vr), 0);
    EXPECT_CODE(weft_task_join(w, &vw), 0);
    EXPECT_NOW(MS(10));
    EXPECT_CODE(N(vr), -EBADF);
    EXPECT_CODE(N(vw), -EBADF);
    weft_task_release(r);
    weft_task_release(w);
    /* The descriptor is gone. */
    EXPECT_CODE(fcntl(sv_[0], F_GETFD), -1);
    EXPECT_CODE(weft_io_close(sv_[0]), -EBADF);
    /* A new descriptor with the same number is a fresh one to the loop. */
    int sv2[2];
    pair(sv2);
    EXPECT_CODE(weft_write(sv2[1], "q", 1), 1);
    char c = 0;
    EXPECT_CODE(weft_read(sv2[0], &c, 1), 1);
    EXPECT_CODE(weft_spawn(&w, task_write_later, P(5), NULL), 0);
    int fdsave = sv_[1];
    sv_[1] = sv2[1];
    EXPECT_CODE(weft_read(sv2[0], &c, 1), 1);
    say("fresh@%s", at());
    EXPECT_CODE(weft_task_join(w, NULL), 0);
    weft_task_release(w);
    EXPECT_CODE(weft_io_close(sv2[0]), 0);
    EXPECT_CODE(weft_io_close(sv2[1]), 0);
    EXPECT_CODE(weft_io_close(fdsave), 0);
    return 0;
}

static void test_io_close_wakes_waiters(void **state)
{
    (void)state;
    assert_code(vrun(main_close_waiters, NULL, NULL), 0);
    assert_expectations();
    assert_log("write@15 fresh@15");
}

/* ------------------------------------------------------------------------ */
/* Outside a task, bad arguments                                            */
/* ------------------------------------------------------------------------ */

static void *ident(void *arg)
{
    return arg;
}

static void test_io_outside_task(void **state)
{
    (void)state;
    int sv[2];
    char buf[8];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    assert_code(weft_read(sv[0], buf, sizeof buf), -EAGAIN);
    assert_code(weft_recv(sv[0], buf, sizeof buf, 0), -EAGAIN);
    assert_code(weft_io_wait(sv[0], WEFT_IO_READ), -EPERM);
    assert_code(weft_write(sv[1], "ab", 2), 2);
    assert_code(weft_send(sv[1], "c", 1, 0), 1);
    assert_code(weft_write_all(sv[1], "d", 1), 1);
    assert_code(weft_read(sv[0], buf, sizeof buf), 4);
    assert_memory_equal(buf, "abcd", 4);
    assert_code(weft_io_close(sv[0]), 0);
    assert_code(weft_read(sv[1], buf, sizeof buf), 0); /* EOF */
    assert_code(weft_io_close(sv[1]), 0);
    assert_code(weft_io_close(sv[1]), -EBADF);
    /* No loop: weft_to_thread is -EPERM too. */
    assert_code(weft_to_thread(ident, NULL, NULL), -EPERM);
}

/* A blocking descriptor, outside any loop: still -EAGAIN, never blocking.
   Tried in a child process with an alarm, which kills it if it blocks. */
static void test_io_outside_task_blocking_fd(void **state)
{
    (void)state;
    int sv[2], status = 0;
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        char buf[8];
        alarm(2);
        if (weft_read(sv[0], buf, sizeof buf) != -EAGAIN)
            _exit(1);
        if (weft_accept(sv[0], NULL, NULL) >= 0)
            _exit(2);
        /* Writable, but 4 MB do not fit: a blocking write(2) would wait
           for a reader; the non-blocking call writes part. */
        size_t n = (size_t)4 << 20;
        char *big = calloc(1, n);
        ssize_t w = weft_write(sv[1], big, n);
        if (!(w == -EAGAIN || (w > 0 && (size_t)w < n)))
            _exit(3);
        _exit(0);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    close(sv[0]);
    close(sv[1]);
    if (WIFSIGNALED(status))
        fail_msg("weft_read/weft_write outside a loop blocked on a blocking "
                 "descriptor (killed by signal %d) instead of returning at once",
                 WTERMSIG(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

static int main_bad_args(void *arg, void **result)
{
    (void)arg;
    (void)result;
    char buf[8];
    pair(sv_);
    EXPECT_CODE(weft_io_wait(-1, WEFT_IO_READ), -EBADF);
    EXPECT_CODE(weft_io_wait(sv_[0], 0), -EINVAL);
    EXPECT_CODE(weft_io_wait(sv_[0], 4), -EINVAL);
    EXPECT_CODE(weft_io_wait(sv_[0], -1), -EINVAL);
    EXPECT_CODE(weft_read(-1, buf, sizeof buf), -EBADF);
    EXPECT_CODE(weft_write(-1, buf, sizeof buf), -EBADF);
    EXPECT_CODE(weft_recv(-1, buf, sizeof buf, 0), -EBADF);
    EXPECT_CODE(weft_send(-1, buf, sizeof buf, 0), -EBADF);
    EXPECT_CODE(weft_write_all(-1, buf, sizeof buf), -EBADF);
    EXPECT_CODE(weft_accept(-1, NULL, NULL), -EBADF);
    struct sockaddr_in a = loopback(1);
    EXPECT_CODE(weft_connect(-1, (struct sockaddr *)&a, sizeof a), -EBADF);
    /* A number that is no descriptor (the loop's own descriptors exist by
       now, so it stays free). */
    EXPECT_CODE(weft_write(sv_[1], "r", 1), 1);
    int d = dup(sv_[0]);
    close(d);
    EXPECT_CODE(weft_io_wait(d, WEFT_IO_READ), -EBADF);
    EXPECT_CODE(weft_read(d, buf, sizeof buf), -EBADF);
    /* accept on a socket that does not listen. */
    EXPECT_CODE(weft_accept(sv_[0], NULL, NULL), -EINVAL);
    /* Ports outside 0..65535 (0 only for listening). */
    EXPECT_CODE(weft_tcp_listen("127.0.0.1", -1, 16), -EINVAL);
    EXPECT_CODE(weft_tcp_listen("127.0.0.1", 65536, 16), -EINVAL);
    EXPECT_CODE(weft_tcp_connect("127.0.0.1", 0), -EINVAL);
    EXPECT_CODE(weft_tcp_connect("127.0.0.1", 65536), -EINVAL);
    EXPECT_NOW(0);
    EXPECT_CODE(weft_io_close(sv_[0]), 0);
    EXPECT_CODE(weft_io_close(sv_[1]), 0);
    return 0;
}

static void test_io_bad_arguments(void **state)
{
    (void)state;
    assert_code(vrun(main_bad_args, NULL, NULL), 0);
    assert_expectations();
}

/* ------------------------------------------------------------------------ */
/* Ten thousand connections                                                 */
/* ------------------------------------------------------------------------ */

static int nconn_ = 10000;
static int many_listener_, many_port_;
static weft_waitgroup echoed_ = WEFT_WAITGROUP_INIT;
static weft_event all_echoed_ = WEFT_EVENT_INIT;
static weft_sem connecting_ = WEFT_SEM_INIT(256);
static int accepted_, echo_ok_, eof_ok_, open_now_, open_max_;

static int task_many_handler(void *arg, void **result)
{
    (void)result;
    int fd = (int)N(arg);
    char buf[64];
    ssize_t n = weft_read(fd, buf, sizeof buf);
    EXPECT(n > 0);
    if (n > 0)
        EXPECT_CODE(weft_write_all(fd, buf, (size_t)n), n);
    /* Keep the connection open until every client has its echo. */
    EXPECT_CODE(weft_event_wait(&all_echoed_), 0);
    EXPECT_CODE(weft_io_close(fd), 0); /* the server closes first */
    return 0;
}

static int task_many_listener(void *arg, void **result)
{
    (void)arg;
    (void)result;
    weft_task_opts o = {.name = "handler", .stack_size = 32 * 1024};
    for (int i = 0; i < nconn_; i++) {
        int fd = weft_accept(many_listener_, NULL, NULL);
        if (fd < 0) {
            EXPECT_CODE(fd, 0);
            return fd;
        }
        accepted_++;
        EXPECT_CODE(weft_spawn(NULL, task_many_handler, P(fd), &o), 0);
    }
    return 0;
}

static int task_many_client(void *arg, void **result)
{
    (void)result;
    int i = (int)N(arg);
    char msg[32], buf[32];
    int len = snprintf(msg, sizeof msg, "hello %d", i);
    struct sockaddr_in a = loopback(many_port_);
    EXPECT_CODE(weft_sem_acquire(&connecting_), 0);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    EXPECT(fd >= 0);
    EXPECT_CODE(weft_connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    if (++open_now_ > open_max_)
        open_max_ = open_now_;
    EXPECT_CODE(weft_write_all(fd, msg, (size_t)len), len);
    ssize_t n = read_exact(fd, buf, (size_t)len);
    /* Echoed, so accepted: at most 256 connections wait in the accept
       queue, far below its length. */
    EXPECT_CODE(weft_sem_release(&connecting_), 0);
    if (n == len && memcmp(buf, msg, (size_t)len) == 0)
        echo_ok_++;
    else
        expect_fail(__FILE__, __LINE__, "client %d: echo %zd", i, n);
    EXPECT_CODE(weft_waitgroup_done(&echoed_), 0);
    if (weft_read(fd, buf, sizeof buf) == 0)
        eof_ok_++;
    open_now_--;
    EXPECT_CODE(weft_io_close(fd), 0);
    return 0;
}

static int main_many(void *arg, void **result)
{
    (void)arg;
    (void)result;
    weft_task *l;
    weft_task_opts o = {.name = "client", .stack_size = 32 * 1024};
    many_listener_ = weft_tcp_listen("127.0.0.1", 0, 4096);
    EXPECT(many_listener_ >= 0);
    many_port_ = port_of(many_listener_);
    EXPECT_CODE(weft_spawn(&l, task_many_listener, NULL, NULL), 0);
    EXPECT_CODE(weft_waitgroup_add(&echoed_, nconn_), 0);
    for (int i = 0; i < nconn_; i++)
        if (weft_spawn(NULL, task_many_client, P(i), &o) != 0) {
            expect_fail(__FILE__, __LINE__, "spawn %d failed", i);
            return -ENOMEM;
        }
    EXPECT_CODE(weft_waitgroup_wait(&echoed_), 0);
    say("echoed:%d open:%d", echo_ok_, open_max_);
    EXPECT_CODE(weft_task_join(l, NULL), 0);
    weft_task_release(l);
    EXPECT_CODE(weft_event_set(&all_echoed_), 0);
    /* Wait for the clients to see EOF and close. */
    while (open_now_ > 0)
        EXPECT_CODE(weft_sleep(MS(1)), 0);
    say("eof:%d accepted:%d", eof_ok_, accepted_);
    EXPECT_CODE(weft_io_close(many_listener_), 0);
    return 0;
}

static void test_io_10k_connections(void **state)
{
    (void)state;
    struct rlimit rl;
    rlim_t need = (rlim_t)nconn_ * 2 + 100;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
    if (rl.rlim_cur < need) {
        struct rlimit want = {need, rl.rlim_max > need ? rl.rlim_max : need};
        if (setrlimit(RLIMIT_NOFILE, &want) != 0) { /* no privilege to raise the hard limit */
            want.rlim_cur = want.rlim_max = rl.rlim_max;
            (void)setrlimit(RLIMIT_NOFILE, &want);
        }
        assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
    }
    if (rl.rlim_cur < need) {
        print_message("RLIMIT_NOFILE hard limit is %llu, %d connections need %llu "
                      "descriptors: skipped\n",
                      (unsigned long long)rl.rlim_max, nconn_, (unsigned long long)need);
        skip();
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_code(weft_run(main_many, NULL, NULL), 0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    print_message("%d connections: %.2f s\n", nconn_,
                  (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
    assert_expectations();
    char want[128];
    snprintf(want, sizeof want, "echoed:%d open:%d eof:%d accepted:%d", nconn_, nconn_,
             nconn_, nconn_);
    assert_log(want);
}

/* ------------------------------------------------------------------------ */

#define TEST(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        TEST(test_io_read_waits_for_writer),
        TEST(test_io_write_waits_for_reader),
        TEST(test_io_write_all_large),
        TEST(test_io_eof),
        TEST(test_io_peer_reset),
        TEST(test_io_peer_reset_read),
        TEST(test_io_connect_refused),
        TEST(test_io_tcp_echo),
        TEST(test_io_tcp_any_address_and_names),
        TEST(test_io_tcp_listen_outside_loop),
        TEST(test_io_wait_events),
        TEST(test_io_wait_after_own_calls),
        TEST(test_io_timeouts),
        TEST(test_io_cancel_read_and_wait),
        TEST(test_io_cancel_accept),
        TEST(test_io_cancel_connect),
        TEST(test_io_cancel_write_all),
        TEST(test_io_close_wakes_waiters),
        TEST(test_io_outside_task),
        TEST(test_io_outside_task_blocking_fd),
        TEST(test_io_bad_arguments),
    };
    const struct CMUnitTest many[] = {
        cmocka_unit_test_setup_teardown(test_io_10k_connections, reset, teardown),
    };
    if (argc > 1 && strcmp(argv[1], "many") == 0) {
        if (argc > 2)
            nconn_ = atoi(argv[2]);
        alarm(600);
        return cmocka_run_group_tests_name("io_many", many, NULL, NULL);
    }
    return cmocka_run_group_tests_name("io", tests, NULL, NULL);
}
