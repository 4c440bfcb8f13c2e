/*
 * http_corpus.h - malformed and hostile HTTP requests, each with the status
 * the server answers it with before closing, shared by test_http_parse.c
 * (the parser alone) and test_http_server.c (the running server).
 *
 * http_corpus(i, ...) writes case i into a buffer the caller owns and
 * returns its length, or 0 past the last case. The large cases (overlong
 * lines, header floods) are generated, the rest are literals.
 */
#ifndef WEFT_TESTS_HTTP_CORPUS_H
#define WEFT_TESTS_HTTP_CORPUS_H

#include <stdio.h>
#include <string.h>

#include "http_parse.h"

/* Big enough for the largest generated case. */
#define HTTP_CORPUS_MAX (HTTP_HEAD_MAX + 4096)

static const struct http_corpus_case {
    const char *name;
    const char *text;
    int status;
} http_corpus_literals[] = {
    {"bare LF after the request line", "GET / HTTP/1.1\nHost: a\r\n\r\n", 400},
    {"bare LF after a field", "GET / HTTP/1.1\r\nHost: a\n\r\n", 400},
    {"bare LF ending the head", "GET / HTTP/1.1\r\nHost: a\r\n\n", 400},
    {"CR without LF", "GET / HTTP/1.1\rHost: a\r\n\r\n", 400},
    {"CR and another byte ending the request line", "GET / HTTP/1.1\rXHost: a\r\n\r\n", 400},
    {"CR and another byte ending a field", "GET / HTTP/1.1\r\nHost: a\rX\r\n\r\n", 400},
    {"CR and another byte ending the head", "GET / HTTP/1.1\r\nHost: a\r\n\rX", 400},
    {"lower-case version", "GET / http/1.1\r\nHost: a\r\n\r\n", 400},
    {"version without minor", "GET / HTTP/1\r\nHost: a\r\n\r\n", 400},
    {"version with letters", "GET / HTTP/1.x\r\nHost: a\r\n\r\n", 400},
    {"version too long", "GET / HTTP/1.10\r\nHost: a\r\n\r\n", 400},
    {"HTTP/2.0", "GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505},
    {"HTTP/0.9 request line", "GET /\r\n\r\n", 400},
    {"two spaces after the method", "GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 400},
    {"space in the target", "GET /a b HTTP/1.1\r\nHost: a\r\n\r\n", 400},
    {"control character in the target", "GET /\x01 HTTP/1.1\r\nHost: a\r\n\r\n", 400},
    {"empty method", " / HTTP/1.1\r\nHost: a\r\n\r\n", 400},
    {"bad character in the method", "G{T / HTTP/1.1\r\nHost: a\r\n\r\n", 400},
    {"method too long", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA / HTTP/1.1\r\nHost: a\r\n\r\n", 501},
    {"space before the colon", "GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400},
    {"obsolete line folding", "GET / HTTP/1.1\r\nHost: a\r\nX-A: b\r\n c\r\n\r\n", 400},
    {"field without a colon", "GET / HTTP/1.1\r\nHost: a\r\nnocolon\r\n\r\n", 400},
    {"empty field name", "GET / HTTP/1.1\r\nHost: a\r\n: b\r\n\r\n", 400},
    {"control character in a value", "GET / HTTP/1.1\r\nHost: a\r\nX-A: \x7f\r\n\r\n", 400},
    {"no Host in HTTP/1.1", "GET / HTTP/1.1\r\nX-A: b\r\n\r\n", 400},
    {"two Hosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400},
    {"Content-Length not a number", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1x\r\n\r\n", 400},
    {"Content-Length negative", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", 400},
    {"Content-Length empty", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n\r\n", 400},
    {"Content-Length list", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1, 1\r\n\r\nx", 400},
    {"Content-Lengths that differ",
     "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nxx", 400},
    {"Content-Length too large", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1048577\r\n\r\n", 413},
    {"Content-Length that overflows",
     "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999999\r\n\r\n", 413},
    {"chunked body", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 501},
    {"unknown expectation", "POST / HTTP/1.1\r\nHost: a\r\nExpect: 200-ok\r\nContent-Length: 1\r\n\r\nx", 417},
    {"chunked and Content-Length",
     "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n", 400},
    {"binary garbage", "\x16\x03\x01\x02\x01\x01\x01\xfc\x03\x03", 400},
};

#define HTTP_CORPUS_LITERALS (sizeof http_corpus_literals / sizeof http_corpus_literals[0])
#define HTTP_CORPUS_GENERATED 4

/* Case i: its text in buf (NUL-terminated), its name and status; returns
   the length, 0 past the last case. */
static inline size_t http_corpus(size_t i, char *buf, const char **name, int *status)
{
    size_t n = 0;
    if (i < HTTP_CORPUS_LITERALS) {
        *name = http_corpus_literals[i].name;
        *status = http_corpus_literals[i].status;
        n = strlen(http_corpus_literals[i].text);
        memcpy(buf, http_corpus_literals[i].text, n + 1);
        return n;
    }
    switch (i - HTTP_CORPUS_LITERALS) {
    case 0: /* a target one byte past the limit */
        *name = "overlong target";
        *status = 414;
        n = (size_t)sprintf(buf, "GET /");
        memset(buf + n, 'a', HTTP_TARGET_MAX);
        n += HTTP_TARGET_MAX;
        n += (size_t)sprintf(buf + n, " HTTP/1.1\r\nHost: a\r\n\r\n");
        return n;
    case 1: /* one field line longer than the whole head may be */
        *name = "overlong field line";
        *status = 431;
        n = (size_t)sprintf(buf, "GET / HTTP/1.1\r\nHost: a\r\nX-Long: ");
        memset(buf + n, 'v', HTTP_HEAD_MAX);
        n += HTTP_HEAD_MAX;
        n += (size_t)sprintf(buf + n, "\r\n\r\n");
        return n;
    case 2: /* more fields than allowed, each short */
        *name = "header flood";
        *status = 431;
        n = (size_t)sprintf(buf, "GET / HTTP/1.1\r\nHost: a\r\n");
        for (int k = 0; k < HTTP_FIELDS_MAX; k++)
            n += (size_t)sprintf(buf + n, "X-%d: v\r\n", k);
        n += (size_t)sprintf(buf + n, "\r\n");
        return n;
    case 3: /* endless empty lines before a request line */
        *name = "empty-line flood";
        *status = 431;
        for (int k = 0; k < HTTP_HEAD_MAX / 2 + 1; k++)
            n += (size_t)sprintf(buf + n, "\r\n");
        n += (size_t)sprintf(buf + n, "GET / HTTP/1.1\r\nHost: a\r\n\r\n");
        return n;
    default:
        return 0;
    }
}

#endif
