/*
 * http_parse.h - an incremental HTTP/1.1 request parser (RFC 9112), the
 * one examples/http_server.c uses and tests/test_http_parse.c tests.
 *
 * The parser is pushed bytes as they arrive, in pieces of any size; it
 * keeps its place between calls and copies what the server needs (method,
 * target, version, keep-alive, Content-Length) into its own record, so
 * the caller may reuse its read buffer as soon as a call returns. A call
 * stops consuming at the end of one request (its head and its
 * Content-Length body): the bytes after it are left to the caller, the
 * start of the next request on the connection (pipelining). Body bytes are
 * consumed and dropped: the example's routes take none. A client that
 * sends `Expect: 100-continue` is told to go on (http_serve.c).
 *
 * It is strict where RFC 9112 lets a server be: lines end in CRLF (a bare
 * LF or CR is 400), no whitespace before a field's colon and no obsolete
 * line folding (400), one space between the parts of the request line,
 * HTTP/1.x only (505 for another major version), Host required in
 * HTTP/1.1 and not repeated, a Content-Length of digits only (repeats must
 * agree), no Transfer-Encoding (501; with a Content-Length too, 400).
 * Empty lines before a request line are skipped (RFC 9112 2.2).
 */
#ifndef WEFT_EXAMPLES_HTTP_PARSE_H
#define WEFT_EXAMPLES_HTTP_PARSE_H

#include <stddef.h>
#include <sys/types.h>

enum {
    HTTP_HEAD_MAX = 8192,      /* request line and fields, in bytes: 431 past it */
    HTTP_FIELDS_MAX = 100,     /* header fields: 431 past it */
    HTTP_TARGET_MAX = 2048,    /* request target, in bytes: 414 past it */
    HTTP_METHOD_MAX = 16,      /* longer than any method known here: 501 */
    HTTP_BODY_MAX = 1 << 20,   /* Content-Length: 413 past it */
    HTTP_VALUE_KEEP = 128      /* bytes of a field value the parser looks at */
};

/* One parsed request: valid once http_parse() has returned with p->done. */
struct http_request {
    char method[HTTP_METHOD_MAX + 1];       /* NUL-terminated token, case kept */
    char target[HTTP_TARGET_MAX + 1];       /* NUL-terminated, as sent */
    size_t target_len;                      /* strlen(target), for routes */
    int minor;                              /* HTTP/1.minor: 0 or 1 (2-9 act as 1) */
    int keep_alive;                         /* the connection stays open after it */
    long long content_length;               /* body bytes (consumed, dropped) */
    int expect_continue;                    /* set once the head has ended: the
                                               client waits for "100 Continue"
                                               before it sends the body */
    int fields;                             /* header fields seen */
};

/* Parser state; zero it with http_parser_init() before each request. */
struct http_parser {
    int state;                  /* where the next byte goes (http_parse.c) */
    int done;                   /* a whole request has been consumed */
    size_t head;                /* bytes of the head so far, for HTTP_HEAD_MAX */
    size_t len;                 /* bytes in the part being collected now */
    char name[24];              /* the current field name, lower case */
    size_t name_len;            /* its length; past sizeof name, no field we use */
    char value[HTTP_VALUE_KEEP];/* the current field value, leading OWS skipped */
    size_t value_len;           /* bytes kept of it (up to sizeof value) */
    size_t value_end;           /* kept length without trailing OWS */
    int value_long;             /* the value was longer than sizeof value */
    char version[8];            /* "HTTP/1.1" as it arrives */
    int hosts;                  /* Host fields seen (exactly one in HTTP/1.1) */
    int lengths;                /* Content-Length fields seen */
    int chunked;                /* a Transfer-Encoding field was seen */
    int conn_close;             /* Connection: close */
    int conn_keep;              /* Connection: keep-alive (HTTP/1.0) */
    int expect_continue;        /* Expect: 100-continue */
    int expect_other;           /* an Expect field with anything else: 417 */
    long long body_left;        /* body bytes still to consume */
    struct http_request req;    /* what the server needs of the request */
};

/* Makes `p` ready for a request. */
void http_parser_init(struct http_parser *p);

/*
 * Consumes up to `len` bytes of `buf`. Returns the count consumed: all of
 * them while the request is incomplete; fewer when it ends inside `buf`,
 * with p->done set and the request in p->req (the rest belongs to the next
 * request: http_parser_init(), then feed it). Once done, returns 0 until
 * re-initialised. A malformed request returns minus the status to answer
 * before closing the connection: -400 (syntax), -413 (body too large),
 * -414 (target too long), -417 (an Expect other than 100-continue), -431
 * (head too large, too many fields), -501 (method too long,
 * Transfer-Encoding), -505 (HTTP major version not 1). A request whose
 * head asked for 100-continue sets p->req.expect_continue as the head
 * ends, while the call still waits for the body: the caller answers
 * "HTTP/1.1 100 Continue" then (RFC 9110 10.1.1).
 * After an error it returns the same error again.
 */
ssize_t http_parse(struct http_parser *p, const char *buf, size_t len);

/* The reason phrase of a status code this server sends ("Bad Request"). */
const char *http_reason(int status);

#endif
