/*
 * http_serve.h - the HTTP/1.1 server of examples/http_server.c as a module
 * the tests run in their own loop: an accept loop and a task per
 * connection, with keep-alive, pipelining and timeouts, on the parser of
 * http_parse.h.
 *
 * Routes: GET (or HEAD) / answers "Hello, World!\n" as text/plain;
 * GET /sleep?ms=N sleeps N ms (0 to 60000) in the handler before the same
 * answer; other targets 404; methods other than GET and HEAD 501 (the
 * connection stays open after these). A malformed request gets its status
 * (http_parse.h) and "Connection: close"; the server then shuts down its
 * side, drains what the client still sends for up to `linger`, and closes.
 */
#ifndef WEFT_EXAMPLES_HTTP_SERVE_H
#define WEFT_EXAMPLES_HTTP_SERVE_H

#include <stdint.h>

#include <weft/sync.h>

struct http_server {
    int lfd;                  /* the listening socket, the caller's */
    int64_t request_timeout;  /* first byte of a request to its end (and each
                                 response write), else 408 and close; 0: 10 s */
    int64_t idle_timeout;     /* keep-alive wait for the next request; 0: 30 s */
    int64_t linger;           /* draining before a close after an error; 0: 1 s */
    long accepted;            /* connections accepted so far */
    long active;              /* connection tasks still running */
    long requests;            /* requests answered (any status) */
    int draining;             /* http_serve_drain() began: no keep-alive */
    void *conns_;             /* the open connections (http_serve.c) */
    weft_event drained_;      /* set when the last one ends while draining */
};

/*
 * Accepts connections on s->lfd until cancelled or a fatal accept error,
 * spawning a detached task for each; a task body for weft_spawn() with a
 * struct http_server * argument (kept alive by the caller while any
 * connection runs: s->active says how many). Returns the accept error, or
 * -ECANCELED. Connections still open when it ends go on being served.
 * May suspend.
 */
int http_serve(void *server, void **result);

/*
 * A graceful stop, once the accept loop is cancelled: connections waiting
 * for a request are closed at once; a request in progress is finished and
 * answered with "Connection: close", and its connection closed. Waits up
 * to `grace` ns for them on the loop that runs `s` (connections still open
 * then go on, to be cancelled by the caller). Returns 0 when all ended,
 * -ETIMEDOUT, or -ECANCELED. May suspend.
 */
int http_serve_drain(struct http_server *s, int64_t grace);

#endif
