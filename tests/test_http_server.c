/*
 * test_http_server.c - the HTTP/1.1 server of examples/http_serve.c, run in
 * the test's own loop on 127.0.0.1 with clients as tasks over real
 * sockets: the routes, keep-alive, pipelining (responses in order, the
 * bytes past a request kept for the next), handlers sleeping concurrently,
 * HTTP/1.0, the malformed corpus of http_corpus.h (each answered with its
 * status and a close, the server answering the next client), half-closed
 * connections, slow senders and idle connections cut at their timeouts,
 * and 1,000 keep-alive connections open at once.
 *
 * Everything runs on the virtual clock: the timeouts (10 s per request,
 * 30 s idle) pass at once and the times asserted are exact.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "support.h"

#include "http_corpus.h"
#include "http_serve.h"

/* ------------------------------------------------------------------------ */
/* The server, and clients                                                  */
/* ------------------------------------------------------------------------ */

static struct http_server srv_;
static weft_task *acceptor_;
static int port_;

static void server_start(void)
{
    srv_ = (struct http_server){.lfd = weft_tcp_listen("127.0.0.1", 0, 4096)};
    EXPECT(srv_.lfd >= 0);
    struct sockaddr_in a;
    socklen_t len = sizeof a;
    EXPECT_CODE(getsockname(srv_.lfd, (struct sockaddr *)&a, &len), 0);
    port_ = ntohs(a.sin_port);
    EXPECT_CODE(weft_spawn(&acceptor_, http_serve, &srv_, NULL), 0);
}

/* Waits (1 ms steps of the virtual clock) for the connection tasks to end
   after the clients closed, then stops the accept loop. */
static void server_stop(void)
{
    for (int i = 0; srv_.active > 0 && i < 1000; i++)
        EXPECT_CODE(weft_sleep(MS(1)), 0);
    EXPECT_CODE(srv_.active, 0);
    EXPECT_CODE(weft_task_cancel(acceptor_), 0);
    EXPECT_CODE(weft_task_join(acceptor_, NULL), -ECANCELED);
    weft_task_release(acceptor_);
    EXPECT_CODE(weft_io_close(srv_.lfd), 0);
}

struct client {
    int fd;
    char buf[16384]; /* bytes received and not yet taken as a response */
    size_t len;
};

static void client_open(struct client *c)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port_),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    c->len = 0;
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    EXPECT(c->fd >= 0);
    EXPECT_CODE(weft_connect(c->fd, (struct sockaddr *)&a, sizeof a), 0);
}

static void client_send(struct client *c, const char *s, size_t n)
{
    EXPECT_CODE(weft_write_all(c->fd, s, n), n);
}

#define SEND(c, lit) client_send((c), (lit), sizeof(lit) - 1)

static void client_close(struct client *c)
{
    EXPECT_CODE(weft_io_close(c->fd), 0);
}

/*
 * Reads one response (no body after HEAD). Returns its status with the body
 * in `body` and "close" set when it says Connection: close; 0 when the
 * server closed first; -1 for a malformed response or a read error.
 */
static int client_response(struct client *c, int head, char *body, size_t cap, int *close)
{
    char *end;
    while ((end = memmem(c->buf, c->len, "\r\n\r\n", 4)) == NULL) {
        ssize_t n = weft_read(c->fd, c->buf + c->len, sizeof c->buf - c->len - 1);
        if (n <= 0)
            return n == 0 && c->len == 0 ? 0 : -1;
        c->len += (size_t)n;
    }
    size_t hlen = (size_t)(end - c->buf) + 4;
    c->buf[hlen - 1] = '\0'; /* the head as a string; its last byte is a LF */
    int status = 0;
    const char *cl = strstr(c->buf, "\r\nContent-Length: ");
    if (sscanf(c->buf, "HTTP/1.1 %d ", &status) != 1 || !cl)
        return -1;
    size_t blen = head ? 0 : strtoul(cl + 18, NULL, 10);
    if (close)
        *close = strstr(c->buf, "\r\nConnection: close\r") != NULL;
    if (!strstr(c->buf, "\r\nContent-Type: text/plain\r"))
        return -1;
    while (c->len < hlen + blen) {
        ssize_t n = weft_read(c->fd, c->buf + c->len, sizeof c->buf - c->len - 1);
        if (n <= 0)
            return -1;
        c->len += (size_t)n;
    }
    if (body && cap) {
        size_t k = blen < cap - 1 ? blen : cap - 1;
        memcpy(body, c->buf + hlen, k);
        body[k] = '\0';
    }
    memmove(c->buf, c->buf + hlen + blen, c->len - hlen - blen);
    c->len -= hlen + blen;
    return status;
}

/* The next read sees the server's close (nothing more arrives). */
static int client_eof(struct client *c)
{
    char b[64];
    return c->len == 0 && weft_read(c->fd, b, sizeof b) == 0;
}

/* ------------------------------------------------------------------------ */
/* Routes, keep-alive, pipelining                                           */
/* ------------------------------------------------------------------------ */

static int main_routes(void *arg, void **result)
{
    (void)arg, (void)result;
    struct client c;
    char body[64];
    int close = -1;
    server_start();
    client_open(&c);
    SEND(&c, "GET / HTTP/1.1\r\nHost: t\r\n\r\n");
    EXPECT_CODE(client_response(&c, 0, body, sizeof body, &close), 200);
    EXPECT(!strcmp(body, "Hello, World!\n") && close == 0);
    SEND(&c, "HEAD / HTTP/1.1\r\nHost: t\r\n\r\n");
    EXPECT_CODE(client_response(&c, 1, body, sizeof body, NULL), 200);
    SEND(&c, "GET /nowhere HTTP/1.1\r\nHost: t\r\n\r\n");
    EXPECT_CODE(client_response(&c, 0, body, sizeof body, &close), 404);
    EXPECT(!strcmp(body, "Not Found\n") && close == 0);
    SEND(&c, "GET /sleep?ms=250 HTTP/1.1\r\nHost: t\r\n\r\n");
    EXPECT_CODE(client_response(&c, 0, body, sizeof body, NULL), 200);
    say("slept@%s", at());
    SEND(&c, "GET /sleep?x=1&ms=5x HTTP/1.1\r\nHost: t\r\n\r\n");
    EXPECT_CODE(client_response(&c, 0, NULL, 0, &close), 400);
    EXPECT_CODE(close, 0); /* a bad query, not a bad request: still open */
    SEND(&c, "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello");
    EXPECT_CODE(client_response(&c, 0, NULL, 0, &close), 501);
    EXPECT_CODE(close, 0);
    /* A client that waits for "100 Continue" before its body gets it. */
    static const char go_on[] = "HTTP/1.1 100 Continue\r\n\r\n";
    SEND(&c, "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n"
             "Expect: 100-continue\r\n\r\n");
    while (c.len < sizeof go_on - 1) {
        ssize_t got = weft_read(c.fd, c.buf + c.len, sizeof go_on - 1 - c.len);
        EXPECT(got > 0);
        if (got <= 0)
            break;
        c.len += (size_t)got;
    }
    EXPECT(c.len == sizeof go_on - 1 && !memcmp(c.buf, go_on, c.len));
    c.len = 0;
    SEND(&c, "hello");
    EXPECT_CODE(client_response(&c, 0, NULL, 0, &close), 501);
    EXPECT_CODE(close, 0);
    SEND(&c, "GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    EXPECT_CODE(client_response(&c, 0, NULL, 0, &close), 200);
    EXPECT_CODE(close, 1);
    EXPECT(client_eof(&c));
    client_close(&c);
    /* HTTP/1.0: closed after the response unless asked to keep it. */
    client_open(&c);
    SEND(&c, "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    EXPECT_CODE(client_response(&c, 0, NULL, 0, &close), 200);
    EXPECT_CODE(close, 0);
    SEND(&c, "GET / HTTP/1.0\r\n\r\n");
    EXPECT_CODE(client_response(&c, 0, NULL, 0, &close), 200);
    EXPECT_CODE(close, 1);
    EXPECT(client_eof(&c));
    client_close(&c);
    server_stop();
    say("accepted:%ld requests:%ld", srv_.accepted, srv_.requests);
    return 0;
}

static void test_http_server_routes(void **state)
{
    (void)state;
    assert_code(vrun(main_routes, NULL, NULL), 0);
    assert_expectations();
    assert_log("slept@250 accepted:2 requests:10");
}

static int main_pipelined(void *arg, void **result)
{
    (void)arg, (void)result;
    struct client c;
    char body[64];
    server_start();
    client_open(&c);
    /* Four requests in one write, the fourth cut short, a sleep second. */
    SEND(&c, "GET / HTTP/1.1\r\nHost: t\r\n\r\n"
             "GET /sleep?ms=100 HTTP/1.1\r\nHost: t\r\n\r\n"
             "GET /third HTTP/1.1\r\nHost: t\r\n\r\n"
             "GET /four");
    EXPECT_CODE(client_response(&c, 0, body, sizeof body, NULL), 200);
    say("first@%s", at()); /* sent before the sleep, not held behind it */
    EXPECT_CODE(client_response(&c, 0, body, sizeof body, NULL), 200);
    say("second@%s", at());
    EXPECT_CODE(client_response(&c, 0, body, sizeof body, NULL), 404);
    EXPECT_CODE(weft_sleep(MS(1000)), 0);
    SEND(&c, "th HTTP/1.1\r\nHost: t\r\n\r\nGET / HTTP/1.1\r\nHost: t\r\n\r\n");
    EXPECT_CODE(client_response(&c, 0, body, sizeof body, NULL), 404);
    EXPECT_CODE(client_response(&c, 0, body, sizeof body, NULL), 200);
    say("last@%s", at());
    client_close(&c);
    server_stop();
    say("accepted:%ld requests:%ld", srv_.accepted, srv_.requests);
    return 0;
}

static void test_http_server_pipelined(void **state)
{
    (void)state;
    assert_code(vrun(main_pipelined, NULL, NULL), 0);
    assert_expectations();
    assert_log("first@0 second@100 last@1100 accepted:1 requests:5");
}

/* Ten handlers sleeping a second each, on ten connections: a second in all. */
static int task_sleeper(void *arg, void **result)
{
    (void)result;
    struct client *c = arg;
    client_open(c);
    SEND(c, "GET /sleep?ms=1000 HTTP/1.1\r\nHost: t\r\n\r\n");
    EXPECT_CODE(client_response(c, 0, NULL, 0, NULL), 200);
    client_close(c);
    return 0;
}

static int main_concurrent(void *arg, void **result)
{
    (void)arg, (void)result;
    static struct client c[10];
    weft_task *t[10];
    server_start();
    for (int i = 0; i < 10; i++)
        EXPECT_CODE(weft_spawn(&t[i], task_sleeper, &c[i], NULL), 0);
    EXPECT_CODE(weft_gather(t, 10, NULL, NULL, 0), 0);
    for (int i = 0; i < 10; i++)
        weft_task_release(t[i]);
    say("all@%s", at());
    server_stop();
    return 0;
}

static void test_http_server_concurrent_handlers(void **state)
{
    (void)state;
    assert_code(vrun(main_concurrent, NULL, NULL), 0);
    assert_expectations();
    assert_log("all@1000");
}

/* ------------------------------------------------------------------------ */
/* Malformed, half-closed, slow and idle clients                           */
/* ------------------------------------------------------------------------ */

static int main_corpus(void *arg, void **result)
{
    (void)arg, (void)result;
    static char req[HTTP_CORPUS_MAX];
    static struct client c;
    const char *name;
    int status, close;
    size_t n, i;
    server_start();
    for (i = 0; (n = http_corpus(i, req, &name, &status)) != 0; i++) {
        client_open(&c);
        client_send(&c, req, n);
        close = 0;
        int got = client_response(&c, 0, NULL, 0, &close);
        if (got != status || !close || !client_eof(&c))
            expect_fail(__FILE__, __LINE__, "%s: status %d, close %d", name, got, close);
        client_close(&c);
        /* The server answers the next client. */
        client_open(&c);
        SEND(&c, "GET / HTTP/1.1\r\nHost: t\r\n\r\n");
        EXPECT_CODE(client_response(&c, 0, NULL, 0, NULL), 200);
        client_close(&c);
    }
    server_stop();
    say("cases:%zu accepted:%ld", i, srv_.accepted);
    return 0;
}

static void test_http_server_corpus(void **state)
{
    (void)state;
    char want[64];
    assert_code(vrun(main_corpus, NULL, NULL), 0);
    assert_expectations();
    size_t n = HTTP_CORPUS_LITERALS + HTTP_CORPUS_GENERATED;
    snprintf(want, sizeof want, "cases:%zu accepted:%zu", n, 2 * n);
    assert_log(want);
}

static int main_half_closed(void *arg, void **result)
{
    (void)arg, (void)result;
    struct client c;
    int close;
    server_start();
    /* Part of a request, then the client's side shut: closed, no answer. */
    client_open(&c);
    SEND(&c, "GET / HTTP/1.1\r\nHo");
    EXPECT_CODE(shutdown(c.fd, SHUT_WR), 0);
    EXPECT(client_eof(&c));
    client_close(&c);
    say("partial@%s", at());
    /* Whole requests, then shut: both answered, then the server closes. */
    client_open(&c);
    SEND(&c, "GET / HTTP/1.1\r\nHost: t\r\n\r\nGET /sleep?ms=5 HTTP/1.1\r\nHost: t\r\n\r\n");
    EXPECT_CODE(shutdown(c.fd, SHUT_WR), 0);
    EXPECT_CODE(client_response(&c, 0, NULL, 0, &close), 200);
    EXPECT_CODE(client_response(&c, 0, NULL, 0, &close), 200);
    EXPECT(client_eof(&c));
    client_close(&c);
    say("whole@%s", at());
    server_stop();
    return 0;
}

static void test_http_server_half_closed(void **state)
{
    (void)state;
    assert_code(vrun(main_half_closed, NULL, NULL), 0);
    assert_expectations();
    assert_log("partial@0 whole@5");
}

/* Sends one more byte of a request every second, whatever happens. */
static int task_trickle(void *arg, void **result)
{
    (void)result;
    struct client *c = arg;
    for (int i = 0; i < 30; i++) {
        if (weft_sleep(MS(1000)) < 0 || weft_write(c->fd, "x", 1) < 0)
            break;
    }
    return 0;
}

static int main_slow(void *arg, void **result)
{
    (void)arg, (void)result;
    struct client c;
    weft_task *t;
    int close;
    server_start();
    /* A request that stops half way: 408 at its 10 s deadline. */
    client_open(&c);
    SEND(&c, "GET / HTTP/1.1\r\nHost: t\r\n");
    EXPECT_CODE(client_response(&c, 0, NULL, 0, &close), 408);
    EXPECT(close && client_eof(&c));
    say("stalled@%s", at());
    client_close(&c);
    /* A byte a second (slowloris): the same 10 s from the first byte. */
    int64_t t0 = weft_now();
    client_open(&c);
    SEND(&c, "GET / HTTP/1.1\r\nX-Slow: ");
    EXPECT_CODE(weft_spawn(&t, task_trickle, &c, NULL), 0);
    EXPECT_CODE(client_response(&c, 0, NULL, 0, &close), 408);
    say("trickled:%lld", (long long)((weft_now() - t0) / MS(1)));
    EXPECT_CODE(weft_task_cancel(t), 0);
    EXPECT_CODE(weft_task_join(t, NULL), 0); /* it stops on its own error or the cancel */
    weft_task_release(t);
    client_close(&c);
    /* Keep-alive with nothing sent: closed, without an answer, at 30 s. */
    t0 = weft_now();
    client_open(&c);
    SEND(&c, "GET / HTTP/1.1\r\nHost: t\r\n\r\n");
    EXPECT_CODE(client_response(&c, 0, NULL, 0, NULL), 200);
    EXPECT(client_eof(&c));
    say("idle:%lld", (long long)((weft_now() - t0) / MS(1)));
    client_close(&c);
    server_stop();
    return 0;
}

static void test_http_server_slow_and_idle(void **state)
{
    (void)state;
    assert_code(vrun(main_slow, NULL, NULL), 0);
    assert_expectations();
    assert_log("stalled@10000 trickled:10000 idle:30000");
}

/* ------------------------------------------------------------------------ */
/* A thousand keep-alive connections                                       */
/* ------------------------------------------------------------------------ */

enum { MANY = 1000 };
static weft_waitgroup answered_ = WEFT_WAITGROUP_INIT;
static weft_event all_answered_ = WEFT_EVENT_INIT;
static int open_now_, open_max_, ok_;

static int task_keeper(void *arg, void **result)
{
    (void)result;
    struct client *c = arg;
    char body[32];
    client_open(c);
    if (++open_now_ > open_max_)
        open_max_ = open_now_;
    SEND(c, "GET / HTTP/1.1\r\nHost: t\r\n\r\n");
    EXPECT_CODE(client_response(c, 0, body, sizeof body, NULL), 200);
    EXPECT_CODE(weft_waitgroup_done(&answered_), 0);
    EXPECT_CODE(weft_event_wait(&all_answered_), 0); /* every connection open */
    SEND(c, "GET / HTTP/1.1\r\nHost: t\r\n\r\n");
    if (client_response(c, 0, body, sizeof body, NULL) == 200 && !strcmp(body, "Hello, World!\n"))
        ok_++;
    open_now_--;
    client_close(c);
    return 0;
}

static int main_many(void *arg, void **result)
{
    (void)arg, (void)result;
    struct client *c = calloc(MANY, sizeof *c);
    weft_task_opts o = {.name = "keeper", .stack_size = 32 * 1024};
    EXPECT(c != NULL);
    server_start();
    EXPECT_CODE(weft_waitgroup_add(&answered_, MANY), 0);
    for (int i = 0; c && i < MANY; i++)
        EXPECT_CODE(weft_spawn(NULL, task_keeper, &c[i], &o), 0);
    EXPECT_CODE(weft_waitgroup_wait(&answered_), 0);
    say("open:%d", open_max_);
    EXPECT_CODE(weft_event_set(&all_answered_), 0);
    for (int i = 0; open_now_ > 0 && i < 10000; i++)
        EXPECT_CODE(weft_sleep(MS(1)), 0);
    server_stop();
    say("ok:%d accepted:%ld requests:%ld", ok_, srv_.accepted, srv_.requests);
    free(c);
    return 0;
}

/* A graceful stop: the idle connection closes at once, the request in
   progress is answered with a close, drain returns when both are gone; a
   request longer than the grace outlives it and is still answered. */
static int main_drain(void *arg, void **result)
{
    (void)arg, (void)result;
    struct client busy, idle, slow;
    int close = -1;
    server_start();
    client_open(&busy);
    client_open(&idle);
    SEND(&idle, "GET / HTTP/1.1\r\nHost: t\r\n\r\n");
    EXPECT_CODE(client_response(&idle, 0, NULL, 0, &close), 200);
    EXPECT_CODE(close, 0);
    SEND(&busy, "GET /sleep?ms=300 HTTP/1.1\r\nHost: t\r\n\r\n");
    EXPECT_CODE(weft_sleep(MS(10)), 0);
    EXPECT_CODE(weft_task_cancel(acceptor_), 0);
    EXPECT_CODE(weft_task_join(acceptor_, NULL), -ECANCELED);
    weft_task_release(acceptor_);
    EXPECT_CODE(http_serve_drain(&srv_, WEFT_SEC(5)), 0);
    say("drained@%s", at());
    EXPECT(client_eof(&idle));
    EXPECT_CODE(client_response(&busy, 0, NULL, 0, &close), 200);
    EXPECT_CODE(close, 1);
    EXPECT(client_eof(&busy));
    client_close(&busy);
    client_close(&idle);
    EXPECT_CODE(weft_io_close(srv_.lfd), 0);
    /* Past the grace: drain gives up, the request still gets its answer. */
    server_start();
    client_open(&slow);
    SEND(&slow, "GET /sleep?ms=2000 HTTP/1.1\r\nHost: t\r\n\r\n");
    EXPECT_CODE(weft_sleep(MS(10)), 0);
    EXPECT_CODE(weft_task_cancel(acceptor_), 0);
    EXPECT_CODE(weft_task_join(acceptor_, NULL), -ECANCELED);
    weft_task_release(acceptor_);
    EXPECT_CODE(http_serve_drain(&srv_, MS(100)), -ETIMEDOUT);
    say("gave-up@%s", at());
    EXPECT_CODE(client_response(&slow, 0, NULL, 0, &close), 200);
    EXPECT_CODE(close, 1);
    say("slow@%s", at());
    client_close(&slow);
    EXPECT_CODE(weft_io_close(srv_.lfd), 0);
    return 0;
}

static void test_http_server_drain(void **state)
{
    (void)state;
    assert_code(vrun(main_drain, NULL, NULL), 0);
    assert_expectations();
    assert_log("drained@300 gave-up@410 slow@2300");
}

static void test_http_server_keep_alive_1000(void **state)
{
    (void)state;
    struct rlimit rl;
    rlim_t need = 2 * MANY + 64;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
    if (rl.rlim_cur < need) {
        rl.rlim_cur = rl.rlim_max < need ? rl.rlim_max : need;
        (void)setrlimit(RLIMIT_NOFILE, &rl);
        assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
    }
    if (rl.rlim_cur < need) {
        print_message("RLIMIT_NOFILE is %llu, %d connections need %llu descriptors: skipped\n",
                      (unsigned long long)rl.rlim_cur, MANY, (unsigned long long)need);
        skip();
    }
    assert_code(vrun(main_many, NULL, NULL), 0);
    assert_expectations();
    assert_log("open:1000 ok:1000 accepted:1000 requests:2000");
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_http_server_routes, reset),
        cmocka_unit_test_setup(test_http_server_pipelined, reset),
        cmocka_unit_test_setup(test_http_server_concurrent_handlers, reset),
        cmocka_unit_test_setup(test_http_server_corpus, reset),
        cmocka_unit_test_setup(test_http_server_half_closed, reset),
        cmocka_unit_test_setup(test_http_server_slow_and_idle, reset),
        cmocka_unit_test_setup(test_http_server_drain, reset),
        cmocka_unit_test_setup(test_http_server_keep_alive_1000, reset),
    };
    return cmocka_run_group_tests_name("http_server", tests, NULL, NULL);
}
