/*
 * test_sigpipe.c - no call of weft's own raises SIGPIPE: weft_write() and
 * weft_write_all() to a socket whose peer has gone, to a TCP connection
 * reset by its peer and to a pipe whose reader has closed return -EPIPE
 * (or -ECONNRESET), inside a task and outside any loop; the thread's signal
 * mask is the same afterwards and no SIGPIPE is left pending, while a
 * caller that blocked SIGPIPE itself keeps the kernel's behaviour.
 *
 * SIGPIPE keeps its default action in this program (cmocka leaves it), so
 * a SIGPIPE raised by weft kills the test.
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
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <weft.h>

#include "support.h"

/* True when SIGPIPE is blocked on this thread. */
static int sigpipe_blocked(void)
{
    sigset_t now;
    pthread_sigmask(SIG_BLOCK, NULL, &now);
    return sigismember(&now, SIGPIPE);
}

/* True when a SIGPIPE waits to be delivered. */
static int sigpipe_pending(void)
{
    sigset_t p;
    sigpending(&p);
    return sigismember(&p, SIGPIPE);
}

/* A stream socket pair whose second end is closed. */
static int orphan_socket(void)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        return -1;
    close(sv[1]);
    return sv[0];
}

/* A pipe's write end whose reader is closed. */
static int orphan_pipe(void)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0)
        return -1;
    close(p[0]);
    return p[1];
}

/*
 * A TCP connection on loopback whose peer reset it (SO_LINGER 0 close):
 * returns the client's end. Plain blocking calls: only the writes after it
 * are under test.
 */
static int reset_connection(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (l < 0 || c < 0 || bind(l, (struct sockaddr *)&a, sizeof a) < 0 || listen(l, 1) < 0 ||
        getsockname(l, (struct sockaddr *)&a, &len) < 0 ||
        connect(c, (struct sockaddr *)&a, sizeof a) < 0)
        return -1;
    int s = accept4(l, NULL, NULL, SOCK_CLOEXEC);
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    setsockopt(s, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    close(s);                   /* sends RST */
    close(l);
    return c;
}

/* Writes to `fd` until it fails (a reset may let the first write through);
   returns the error. */
static ssize_t write_until_error(int fd)
{
    char buf[512] = {0};
    ssize_t r = 0;
    for (int i = 0; i < 100 && r >= 0; i++)
        r = weft_write(fd, buf, sizeof buf);
    return r;
}

/* The checks, the same inside a task and outside a loop. */
static void check_writes(void)
{
    char byte = 'x';
    int fd = orphan_socket();
    EXPECT(fd >= 0);
    EXPECT_CODE(weft_write(fd, &byte, 1), -EPIPE);
    EXPECT_CODE(weft_write_all(fd, &byte, 1), -EPIPE);
    EXPECT_CODE(weft_io_close(fd), 0);

    fd = orphan_pipe();
    EXPECT(fd >= 0);
    EXPECT_CODE(weft_write(fd, &byte, 1), -EPIPE);
    EXPECT_CODE(weft_write_all(fd, &byte, 1), -EPIPE);
    EXPECT(!sigpipe_pending());
    EXPECT(!sigpipe_blocked());
    EXPECT_CODE(weft_io_close(fd), 0);

    fd = reset_connection();
    EXPECT(fd >= 0);
    ssize_t r = write_until_error(fd);
    EXPECT(r == -EPIPE || r == -ECONNRESET);
    r = write_until_error(fd);  /* after the reset has been reported */
    EXPECT_CODE(r, -EPIPE);
    EXPECT(!sigpipe_pending());
    EXPECT_CODE(weft_io_close(fd), 0);
}

static int main_writes(void *arg, void **result)
{
    (void)arg;
    (void)result;
    check_writes();
    say("done");
    return 0;
}

static void test_sigpipe_in_task(void **state)
{
    (void)state;
    assert_code(vrun(main_writes, NULL, NULL), 0);
    assert_expectations();
    assert_log("done");
}

static void test_sigpipe_outside_loop(void **state)
{
    (void)state;
    check_writes();
    assert_expectations();
}

/* The same pipe, written again and again from a task: the descriptor's
   kind is remembered, and every write still keeps SIGPIPE away. */
static int main_pipe_again(void *arg, void **result)
{
    (void)arg;
    (void)result;
    int p[2];
    char buf[64] = {0};
    EXPECT_CODE(pipe2(p, O_CLOEXEC), 0);
    EXPECT_CODE(weft_write(p[1], buf, sizeof buf), sizeof buf);
    EXPECT_CODE(weft_read(p[0], buf, sizeof buf), sizeof buf);
    EXPECT_CODE(weft_io_close(p[0]), 0);
    for (int i = 0; i < 3; i++)
        EXPECT_CODE(weft_write(p[1], buf, sizeof buf), -EPIPE);
    EXPECT(!sigpipe_pending());
    EXPECT_CODE(weft_io_close(p[1]), 0);
    return 0;
}

static void test_sigpipe_pipe_kind_remembered(void **state)
{
    (void)state;
    assert_code(vrun(main_pipe_again, NULL, NULL), 0);
    assert_expectations();
}

/* A regular file is neither socket nor pipe: written as usual. */
static int main_file(void *arg, void **result)
{
    (void)arg;
    (void)result;
    char path[] = "/tmp/weft-sigpipe-XXXXXX", back[6] = {0};
    int fd = mkstemp(path);
    EXPECT(fd >= 0);
    unlink(path);
    EXPECT_CODE(weft_write(fd, "hello", 5), 5);
    EXPECT_CODE(weft_write(fd, "!", 1), 1);
    EXPECT_CODE(pread(fd, back, 6, 0), 6);
    EXPECT(memcmp(back, "hello!", 6) == 0);
    EXPECT_CODE(weft_io_close(fd), 0);
    return 0;
}

static void test_sigpipe_regular_file(void **state)
{
    (void)state;
    assert_code(vrun(main_file, NULL, NULL), 0);
    assert_expectations();
}

/* A caller that blocked SIGPIPE sees what the kernel does: -EPIPE, and the
   signal stays pending for it; its mask is left as it was. */
static void test_sigpipe_caller_blocked(void **state)
{
    (void)state;
    sigset_t pipe_only, old;
    sigemptyset(&pipe_only);
    sigaddset(&pipe_only, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_only, &old);
    char byte = 'x';
    int fd = orphan_pipe();
    assert_true(fd >= 0);
    assert_code(weft_write(fd, &byte, 1), -EPIPE);
    assert_true(sigpipe_blocked());
    assert_true(sigpipe_pending());
    assert_code(sigtimedwait(&pipe_only, NULL, &(struct timespec){0}), SIGPIPE);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    close(fd);
}

int main(void)
{
    signal(SIGPIPE, SIG_DFL);   /* a SIGPIPE from weft ends the test */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_sigpipe_in_task, reset),
        cmocka_unit_test_setup(test_sigpipe_outside_loop, reset),
        cmocka_unit_test_setup(test_sigpipe_pipe_kind_remembered, reset),
        cmocka_unit_test_setup(test_sigpipe_regular_file, reset),
        cmocka_unit_test_setup(test_sigpipe_caller_blocked, reset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
