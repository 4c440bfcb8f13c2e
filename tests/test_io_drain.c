/*
 * test_io_drain.c - short reads (src/io.c, src/io_fd.c): a short read of a
 * stream socket or a pipe marks the descriptor drained, so the next read
 * waits for an edge instead of making a read that fails with EAGAIN; a
 * hang-up (sticky) or a datagram socket never leaves a read waiting for an
 * edge that will not come, and a peek drains nothing.
 *
 * It reads the loop's descriptor records (io_internal.h) to see the
 * drained and hang-up marks. Every read that could wrongly wait runs in a
 * 1 s timeout scope on the virtual clock, so a bug ends as -ETIMEDOUT, not
 * a hang. Times are exact.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include <weft.h>

#include "io_internal.h"
#include "support.h"

/* The loop's record of fd (the test runs inside the loop). */
static struct weft__fd *rec(int fd)
{
    return weft__loop->io->fds[fd];
}

/* weft_read inside a 1 s timeout scope: a read that waits for an edge that
   never comes gives -ETIMEDOUT. */
static ssize_t read_1s(int fd, void *buf, size_t n)
{
    weft_scope s;
    EXPECT_CODE(weft_scope_enter_timeout(&s, MS(1000)), 0);
    ssize_t r = weft_read(fd, buf, n);
    (void)weft_scope_exit(&s);
    return r;
}

static int task_write_later(void *arg, void **result)
{
    (void)result;
    int fd = (int)N(arg);
    EXPECT_CODE(weft_sleep(MS(10)), 0);
    EXPECT_CODE(weft_write(fd, "de", 2), 2);
    return 0;
}

/* Stream socket: a short read drains, a full one does not; data written
   while drained (before the loop saw its edge) and data written later both
   arrive; the peer's close after a drained read still gives EOF. */
static int main_stream(void *arg, void **result)
{
    (void)arg, (void)result;
    int sv[2];
    char buf[16];
    weft_task *w;
    EXPECT_CODE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    EXPECT_CODE(weft_write(sv[1], "abcd", 4), 4);
    EXPECT_CODE(weft_read(sv[0], buf, 2), 2);              /* full: more may wait */
    EXPECT(rec(sv[0])->stream);
    EXPECT_CODE(rec(sv[0])->drained, 0);
    EXPECT_CODE(read_1s(sv[0], buf, sizeof buf), 2);       /* short: all there was */
    EXPECT_CODE(rec(sv[0])->drained, 1);
    EXPECT_CODE(write(sv[1], "xy", 2), 2);                 /* its edge not yet seen */
    EXPECT_CODE(read_1s(sv[0], buf, sizeof buf), 2);
    EXPECT(memcmp(buf, "xy", 2) == 0);
    EXPECT_NOW(0);
    EXPECT_CODE(weft_spawn(&w, task_write_later, P(sv[1]), NULL), 0);
    EXPECT_CODE(read_1s(sv[0], buf, sizeof buf), 2);
    EXPECT(memcmp(buf, "de", 2) == 0);
    EXPECT_NOW(MS(10));
    EXPECT_CODE(weft_task_join(w, NULL), 0);
    weft_task_release(w);
    EXPECT_CODE(rec(sv[0])->drained, 1);
    EXPECT_CODE(weft_io_close(sv[1]), 0);
    EXPECT_CODE(read_1s(sv[0], buf, sizeof buf), 0);       /* EOF */
    EXPECT_CODE(read_1s(sv[0], buf, sizeof buf), 0);
    EXPECT_NOW(MS(10));
    EXPECT_CODE(weft_io_close(sv[0]), 0);
    return 0;
}

static void test_io_drain_stream_socket(void **state)
{
    (void)state;
    assert_code(vrun(main_stream, NULL, NULL), 0);
    assert_expectations();
}

struct hup { int fd; ssize_t first, second; };

static int task_read_twice(void *arg, void **result)
{
    (void)result;
    struct hup *h = arg;
    char buf[16];
    h->first = read_1s(h->fd, buf, sizeof buf);
    h->second = read_1s(h->fd, buf, sizeof buf);
    return 0;
}

/* Data and the hang-up arrive in one edge, which the loop sees before the
   reader's short read: no edge follows, so the reader must not wait for
   one (the sticky hang-up mark) and gets EOF. */
static int main_hup_with_data(void *arg, void **result)
{
    (void)arg, (void)result;
    int sv[2];
    weft_task *r;
    EXPECT_CODE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    struct hup h = {.fd = sv[0]};
    EXPECT_CODE(weft_spawn(&r, task_read_twice, &h, NULL), 0);
    EXPECT_CODE(weft_sleep(MS(5)), 0);                     /* it waits */
    EXPECT_CODE(write(sv[1], "abc", 3), 3);
    EXPECT_CODE(close(sv[1]), 0);
    EXPECT_CODE(weft_task_join(r, NULL), 0);
    weft_task_release(r);
    EXPECT_CODE(h.first, 3);
    EXPECT_CODE(h.second, 0);
    EXPECT_CODE(rec(sv[0])->hup, 1);
    EXPECT_CODE(rec(sv[0])->drained, 0);
    EXPECT_NOW(MS(5));
    EXPECT_CODE(weft_io_close(sv[0]), 0);
    return 0;
}

static void test_io_drain_hangup_is_sticky(void **state)
{
    (void)state;
    assert_code(vrun(main_hup_with_data, NULL, NULL), 0);
    assert_expectations();
}

/* A pipe drains like a stream and sees its writer's close; a datagram
   socket's short read is one datagram of several; a peek takes nothing. */
static int main_pipe_dgram_peek(void *arg, void **result)
{
    (void)arg, (void)result;
    int p[2], d[2], s[2];
    char buf[16];
    EXPECT_CODE(pipe(p), 0);
    EXPECT_CODE(weft_write(p[1], "abc", 3), 3);
    EXPECT_CODE(read_1s(p[0], buf, sizeof buf), 3);
    EXPECT(rec(p[0])->stream);
    EXPECT_CODE(rec(p[0])->drained, 1);
    EXPECT_CODE(weft_io_close(p[1]), 0);
    EXPECT_CODE(read_1s(p[0], buf, sizeof buf), 0);
    EXPECT_CODE(weft_io_close(p[0]), 0);

    EXPECT_CODE(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, d), 0);
    EXPECT_CODE(weft_write(d[1], "a", 1), 1);
    EXPECT_CODE(weft_write(d[1], "bb", 2), 2);
    EXPECT_CODE(read_1s(d[0], buf, sizeof buf), 1);
    EXPECT_CODE(rec(d[0])->stream, 0);
    EXPECT_CODE(rec(d[0])->drained, 0);
    EXPECT_CODE(read_1s(d[0], buf, sizeof buf), 2);
    EXPECT_CODE(weft_io_close(d[0]), 0);
    EXPECT_CODE(weft_io_close(d[1]), 0);

    EXPECT_CODE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s), 0);
    EXPECT_CODE(weft_write(s[1], "abc", 3), 3);
    EXPECT_CODE(weft_recv(s[0], buf, sizeof buf, MSG_PEEK), 3);
    EXPECT_CODE(rec(s[0])->drained, 0);
    EXPECT_CODE(weft_recv(s[0], buf, sizeof buf, 0), 3);
    EXPECT_CODE(rec(s[0])->drained, 1);
    EXPECT_CODE(weft_io_close(s[0]), 0);
    EXPECT_CODE(weft_io_close(s[1]), 0);
    EXPECT_NOW(0);
    return 0;
}

static void test_io_drain_pipe_datagram_peek(void **state)
{
    (void)state;
    assert_code(vrun(main_pipe_dgram_peek, NULL, NULL), 0);
    assert_expectations();
}

#define TEST(f) cmocka_unit_test_setup(f, reset)

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        TEST(test_io_drain_stream_socket),
        TEST(test_io_drain_hangup_is_sticky),
        TEST(test_io_drain_pipe_datagram_peek),
    };
    return cmocka_run_group_tests_name("io_drain", tests, NULL, NULL);
}
