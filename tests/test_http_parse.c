/*
 * test_http_parse.c - the HTTP/1.1 request parser of examples/http_parse.c:
 * every split of requests into two reads, a byte at a time, pipelined
 * requests (the bytes past one request left for the next), keep-alive by
 * version and Connection, bodies, the limits at and one past their edge,
 * and the malformed corpus of http_corpus.h, whole and split everywhere.
 * The parser runs no loop: plain calls, plain cmocka assertions.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "http_corpus.h"
#include "http_parse.h"

static const char get_req[] = "GET /sleep?ms=5 HTTP/1.1\r\n"
                              "Host: 127.0.0.1:8080\r\n"
                              "User-Agent: test\r\n"
                              "Accept: */*\r\n"
                              "\r\n";
static const char post_req[] = "POST /form HTTP/1.1\r\n"
                               "Host: a\r\n"
                               "Content-Length:   5 \r\n"
                               "Connection: keep-alive, Close\r\n"
                               "\r\n"
                               "hello";

/* Feeds [0, split) then [split, n); returns the total consumed, or the
   first error. */
static ssize_t feed_split(struct http_parser *p, const char *s, size_t n, size_t split)
{
    ssize_t a = http_parse(p, s, split);
    if (a < 0)
        return a;
    if ((size_t)a < split) /* ended inside the first piece */
        return a;
    ssize_t b = http_parse(p, s + split, n - split);
    return b < 0 ? b : a + b;
}

static void test_http_parse_every_split(void **state)
{
    (void)state;
    struct http_parser p;
    for (size_t split = 0; split <= sizeof get_req - 1; split++) {
        http_parser_init(&p);
        assert_int_equal(feed_split(&p, get_req, sizeof get_req - 1, split), sizeof get_req - 1);
        assert_true(p.done);
        assert_string_equal(p.req.method, "GET");
        assert_string_equal(p.req.target, "/sleep?ms=5");
        assert_int_equal(p.req.target_len, 11);
        assert_int_equal(p.req.minor, 1);
        assert_int_equal(p.req.keep_alive, 1);
        assert_int_equal(p.req.content_length, 0);
        assert_int_equal(p.req.fields, 3);
    }
    for (size_t split = 0; split <= sizeof post_req - 1; split++) {
        http_parser_init(&p);
        assert_int_equal(feed_split(&p, post_req, sizeof post_req - 1, split), sizeof post_req - 1);
        assert_true(p.done);
        assert_string_equal(p.req.method, "POST");
        assert_string_equal(p.req.target, "/form");
        assert_int_equal(p.req.content_length, 5);
        assert_int_equal(p.req.keep_alive, 0); /* "Close" in a token list */
    }
}

static void test_http_parse_byte_at_a_time(void **state)
{
    (void)state;
    struct http_parser p;
    http_parser_init(&p);
    for (size_t i = 0; i < sizeof post_req - 1; i++) {
        assert_false(p.done);
        assert_int_equal(http_parse(&p, post_req + i, 1), 1);
    }
    assert_true(p.done);
    assert_int_equal(http_parse(&p, "x", 1), 0); /* done: nothing more taken */
}

static void test_http_parse_pipelined(void **state)
{
    (void)state;
    char buf[1024];
    size_t n = 0;
    n += (size_t)sprintf(buf + n, "%s", post_req);
    n += (size_t)sprintf(buf + n, "%s", get_req);
    n += (size_t)sprintf(buf + n, "GET /third HTTP/1.0\r\n\r\nGET /fo");
    const char *targets[] = {"/form", "/sleep?ms=5", "/third"};
    struct http_parser p;
    size_t off = 0;
    for (int k = 0; k < 3; k++) {
        http_parser_init(&p);
        ssize_t c = http_parse(&p, buf + off, n - off);
        assert_true(c > 0);
        assert_true(p.done);
        assert_string_equal(p.req.target, targets[k]);
        off += (size_t)c;
    }
    assert_int_equal(p.req.minor, 0);
    assert_int_equal(p.req.keep_alive, 0);
    /* The start of a fourth request: all taken, not done. */
    http_parser_init(&p);
    assert_int_equal(http_parse(&p, buf + off, n - off), 7);
    assert_false(p.done);
    assert_int_equal(http_parse(&p, "o HTTP/1.1\r\nHost: h\r\n\r\n", 23), 23);
    assert_true(p.done);
    assert_string_equal(p.req.target, "/foo");
}

static void test_http_parse_keep_alive(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        int keep;
    } cases[] = {
        {"GET / HTTP/1.1\r\nHost: a\r\n\r\n", 1},
        {"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", 0},
        {"GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, CLOSE\r\n\r\n", 0},
        {"GET / HTTP/1.1\r\nHost: a\r\nConnection: closed\r\n\r\n", 1},
        {"GET / HTTP/1.0\r\n\r\n", 0},
        {"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", 1},
        {"GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n", 0},
        {"GET / HTTP/1.9\r\nHost: a\r\n\r\n", 1}, /* a later 1.x acts as 1.1 */
        {"\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", 1}, /* empty lines first */
        {"GET / HTTP/1.1\r\nhOsT:a\r\nX-Empty:\r\nX-Tabs:\t v \t\r\n\r\n", 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct http_parser p;
        size_t n = strlen(cases[i].text);
        http_parser_init(&p);
        if (http_parse(&p, cases[i].text, n) != (ssize_t)n || !p.done)
            fail_msg("case %zu not parsed whole: %s", i, cases[i].text);
        if (p.req.keep_alive != cases[i].keep)
            fail_msg("case %zu: keep_alive %d", i, p.req.keep_alive);
    }
}

/* Expect: 100-continue is flagged as the head ends, before the body; not
   for HTTP/1.0 or without a body. */
static void test_http_parse_expect_continue(void **state)
{
    (void)state;
    static const char head[] = "PUT /x HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n"
                               "EXPECT:  100-Continue \r\n\r\n";
    struct http_parser p;
    http_parser_init(&p);
    assert_int_equal(http_parse(&p, head, sizeof head - 1), sizeof head - 1);
    assert_false(p.done);
    assert_int_equal(p.req.expect_continue, 1);
    assert_int_equal(http_parse(&p, "abcGET", 6), 3);
    assert_true(p.done);
    http_parser_init(&p);
    assert_int_equal(p.req.expect_continue, 0);
    static const char old[] = "PUT /x HTTP/1.0\r\nContent-Length: 3\r\n"
                              "Expect: 100-continue\r\n\r\n";
    assert_int_equal(http_parse(&p, old, sizeof old - 1), sizeof old - 1);
    assert_int_equal(p.req.expect_continue, 0);
    static const char empty[] = "GET / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n\r\n";
    http_parser_init(&p);
    assert_int_equal(http_parse(&p, empty, sizeof empty - 1), sizeof empty - 1);
    assert_true(p.done);
    assert_int_equal(p.req.expect_continue, 0);
    static const char other[] = "PUT / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue, x\r\n"
                                "Content-Length: 1\r\n\r\n";
    http_parser_init(&p);
    assert_int_equal(http_parse(&p, other, sizeof other - 1), -417);
    assert_string_equal(http_reason(417), "Expectation Failed");
}

/* Parses `text` whole; returns the result of the call. */
static ssize_t parse_all(const char *text, size_t n)
{
    struct http_parser p;
    http_parser_init(&p);
    return http_parse(&p, text, n);
}

static void test_http_parse_limits(void **state)
{
    (void)state;
    char *buf = malloc(HTTP_BODY_MAX + HTTP_CORPUS_MAX);
    assert_non_null(buf);
    size_t n;

    /* A target of exactly HTTP_TARGET_MAX bytes. */
    n = (size_t)sprintf(buf, "GET /");
    memset(buf + n, 't', HTTP_TARGET_MAX - 1);
    n += HTTP_TARGET_MAX - 1;
    n += (size_t)sprintf(buf + n, " HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_int_equal(parse_all(buf, n), n);

    /* A head of exactly HTTP_HEAD_MAX bytes, then one byte more. */
    n = (size_t)sprintf(buf, "GET / HTTP/1.1\r\nHost: a\r\nX-Pad: ");
    size_t pad = HTTP_HEAD_MAX - n - 4;
    memset(buf + n, 'p', pad);
    n += pad;
    n += (size_t)sprintf(buf + n, "\r\n\r\n");
    assert_int_equal(n, HTTP_HEAD_MAX);
    assert_int_equal(parse_all(buf, n), n);
    memmove(buf + n - 4, "p\r\n\r\n", 6);
    assert_int_equal(parse_all(buf, n + 1), -431);

    /* HTTP_FIELDS_MAX fields, then one more. */
    n = (size_t)sprintf(buf, "GET / HTTP/1.1\r\nHost: a\r\n");
    for (int k = 1; k < HTTP_FIELDS_MAX; k++)
        n += (size_t)sprintf(buf + n, "X-%d: v\r\n", k);
    size_t end = n;
    n += (size_t)sprintf(buf + n, "\r\n");
    assert_int_equal(parse_all(buf, n), n);
    n = end + (size_t)sprintf(buf + end, "X-Last: v\r\n\r\n");
    assert_int_equal(parse_all(buf, n), -431);

    /* A body of exactly HTTP_BODY_MAX bytes, consumed and dropped. */
    n = (size_t)sprintf(buf, "PUT /x HTTP/1.1\r\nHost: a\r\nContent-Length: %d\r\n\r\n",
                        HTTP_BODY_MAX);
    memset(buf + n, 'b', HTTP_BODY_MAX);
    n += HTTP_BODY_MAX;
    assert_int_equal(parse_all(buf, n), n);
    free(buf);
}

static void test_http_parse_malformed(void **state)
{
    (void)state;
    static char buf[HTTP_CORPUS_MAX];
    const char *name;
    int status;
    size_t n, i;
    for (i = 0; (n = http_corpus(i, buf, &name, &status)) != 0; i++) {
        struct http_parser p;
        http_parser_init(&p);
        ssize_t rc = http_parse(&p, buf, n);
        if (rc != -status)
            fail_msg("%s: %zd, expected %d", name, rc, -status);
        if (http_parse(&p, "GET", 3) != -status)
            fail_msg("%s: the error did not stick", name);
        assert_false(p.done);
        /* Every split into two reads gives the same answer (the small
           cases; the large ones are the same bytes at other offsets). */
        for (size_t split = 0; n < 512 && split <= n; split++) {
            http_parser_init(&p);
            if ((rc = feed_split(&p, buf, n, split)) != -status)
                fail_msg("%s split at %zu: %zd, expected %d", name, split, rc, -status);
        }
    }
    assert_int_equal(i, HTTP_CORPUS_LITERALS + HTTP_CORPUS_GENERATED);
}

static void test_http_parse_reason(void **state)
{
    (void)state;
    assert_string_equal(http_reason(200), "OK");
    assert_string_equal(http_reason(431), "Request Header Fields Too Large");
    assert_string_equal(http_reason(505), "HTTP Version Not Supported");
    assert_string_equal(http_reason(299), "Unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_http_parse_every_split),
        cmocka_unit_test(test_http_parse_byte_at_a_time),
        cmocka_unit_test(test_http_parse_pipelined),
        cmocka_unit_test(test_http_parse_keep_alive),
        cmocka_unit_test(test_http_parse_expect_continue),
        cmocka_unit_test(test_http_parse_limits),
        cmocka_unit_test(test_http_parse_malformed),
        cmocka_unit_test(test_http_parse_reason),
    };
    return cmocka_run_group_tests_name("http_parse", tests, NULL, NULL);
}
