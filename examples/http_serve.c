/*
 * http_serve.c - the HTTP/1.1 server of http_serve.h: a task per
 * connection reading into a buffer on its stack, the parser of
 * http_parse.c pushed each read, responses appended to an output buffer.
 *
 * Invariants: the parser consumes every byte it is given until a request
 * ends, so the read buffer holds nothing of an unfinished request between
 * reads; what follows the end of a request in a read is fed to a fresh
 * parser before the next read (pipelining), and the responses to all the
 * requests of one read leave in one write (so does a "100 Continue" for a
 * request whose head asked for it and whose body has not come yet, at most
 * RESPONSE_MAX bytes like a response). A connection has one deadline at
 * a time: idle_timeout while it waits for a request to start, and
 * request_timeout from the request's first byte to its end.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <weft.h>

#include "http_parse.h"
#include "http_serve.h"

enum { IN_SIZE = 8192, OUT_SIZE = 8192, RESPONSE_MAX = 384 };

/* One connection's task argument: freed by the task when it starts. */
struct conn_arg {
    struct http_server *srv;
    int fd;
};

/* The response being assembled and the connection it goes to. */
struct conn {
    struct http_server *srv;
    int fd;
    struct conn *next, *prev; /* in srv->conns_, for http_serve_drain() */
    weft_task *task;          /* the connection's task */
    int idle;                 /* waiting for a request to begin */
    char out[OUT_SIZE];  /* responses not yet written */
    size_t outlen;       /* bytes in out */
};

static const char hello[] = "Hello, World!\n";

/* The Date field's value (RFC 9110 6.6.1), formatted once a second. */
static const char *http_date(void)
{
    static _Thread_local time_t last;
    static _Thread_local char buf[2][40]; /* alternate: a new date, a new pointer */
    static _Thread_local int cur;
    time_t now = time(NULL);
    if (now != last) {
        struct tm tm;
        cur ^= 1;
        gmtime_r(&now, &tm);
        strftime(buf[cur], sizeof buf[cur], "%a, %d %b %Y %H:%M:%S GMT", &tm);
        last = now;
    }
    return buf[cur];
}

/* Appends one response; a body of NULL is the status's reason and a LF. */
static void respond(struct conn *c, int status, const char *body, int head_only, int keep,
                    int minor)
{
    /* The common answer (200 hello, kept alive, HTTP/1.1) is formatted
       once per Date and copied. */
    static _Thread_local char hello_buf[RESPONSE_MAX];
    static _Thread_local size_t hello_len;
    static _Thread_local const char *hello_date;
    char reason[64];
    if (status == 200 && body == hello && !head_only && keep && minor) {
        const char *date = http_date();
        if (date != hello_date || !hello_len) {
            hello_len = (size_t)snprintf(hello_buf, sizeof hello_buf,
                                         "HTTP/1.1 200 OK\r\nServer: weft\r\nDate: %s\r\n"
                                         "Content-Type: text/plain\r\nContent-Length: %zu\r\n"
                                         "\r\n%s", date, sizeof hello - 1, hello);
            hello_date = date;
        }
        memcpy(c->out + c->outlen, hello_buf, hello_len);
        c->outlen += hello_len;
        c->srv->requests++;
        return;
    }
    if (!body) {
        snprintf(reason, sizeof reason, "%s\n", http_reason(status));
        body = reason;
    }
    size_t blen = strlen(body);
    int n = snprintf(c->out + c->outlen, sizeof c->out - c->outlen,
                     "HTTP/1.1 %d %s\r\nServer: weft\r\nDate: %s\r\n"
                     "Content-Type: text/plain\r\nContent-Length: %zu\r\n%s\r\n%s",
                     status, http_reason(status), http_date(), blen,
                     !keep ? "Connection: close\r\n" : minor == 0 ? "Connection: keep-alive\r\n" : "",
                     head_only ? "" : body);
    if (n > 0 && (size_t)n < sizeof c->out - c->outlen) /* RESPONSE_MAX bytes are kept free */
        c->outlen += (size_t)n;
    c->srv->requests++;
}

/* Writes what is in c->out, within request_timeout. A send that takes it
   all (the usual case) needs no timer; the rest waits under a scope. */
static int flush(struct conn *c)
{
    weft_scope s;
    ssize_t n = 0;
    size_t done;
    if (c->outlen == 0)
        return 0;
    n = send(c->fd, c->out, c->outlen, MSG_DONTWAIT | MSG_NOSIGNAL);
    done = n > 0 ? (size_t)n : 0;
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        n = -errno;
    } else if (done < c->outlen) {
        weft_scope_enter_timeout(&s, c->srv->request_timeout);
        n = weft_write_all(c->fd, c->out + done, c->outlen - done);
        weft_scope_exit(&s);
    }
    c->outlen = 0;
    return n < 0 ? (int)n : 0;
}

/* The ms of "/sleep?ms=N" (other query parameters may come around it), or
   -1 if absent or out of range. */
static long sleep_ms(const char *query)
{
    for (const char *q = query; q && *q; q = strchr(q, '&'), q = q ? q + 1 : NULL) {
        if (strncmp(q, "ms=", 3) != 0)
            continue;
        char *end;
        long ms = strtol(q + 3, &end, 10);
        if (end == q + 3 || (*end && *end != '&') || ms < 0 || ms > 60000 || q[3] == '-')
            return -1;
        return ms;
    }
    return -1;
}

/* Answers one parsed request; may sleep (/sleep). Returns 0 or an I/O error. */
static int route(struct conn *c, const struct http_request *r)
{
    int head = !strcmp(r->method, "HEAD");
    int keep = r->keep_alive;
    if (!head && strcmp(r->method, "GET") != 0) {
        respond(c, 501, NULL, 0, keep, r->minor);
    } else if (!strcmp(r->target, "/")) {
        respond(c, 200, hello, head, keep, r->minor);
    } else if (!strncmp(r->target, "/sleep", 6) && (r->target[6] == '?' || !r->target[6])) {
        long ms = r->target[6] ? sleep_ms(r->target + 7) : -1;
        if (ms < 0) {
            respond(c, 400, NULL, head, keep, r->minor);
            return 0;
        }
        int rc = flush(c); /* what came before does not wait for the sleep */
        if (rc == 0)
            rc = weft_sleep(WEFT_MSEC(ms));
        if (rc < 0)
            return rc;
        keep = keep && !c->srv->draining; /* a drain began meanwhile */
        respond(c, 200, hello, head, keep, r->minor);
    } else {
        respond(c, 404, NULL, head, keep, r->minor);
    }
    return 0;
}

/* After an error response: our side shut, what the client still sends read
   and dropped for up to `linger` (so that a close does not reset the
   connection before the response is read), then close. */
static void close_lingering(struct conn *c)
{
    char sink[1024];
    weft_scope s;
    shutdown(c->fd, SHUT_WR);
    weft_scope_enter_timeout(&s, c->srv->linger);
    for (int i = 0; i < 64 && weft_read(c->fd, sink, sizeof sink) > 0; i++)
        ;
    weft_scope_exit(&s);
}

/* Reads once within the connection's deadline. */
static ssize_t read_until(int fd, char *buf, size_t n, int64_t deadline)
{
    weft_scope s;
    weft_scope_enter(&s, deadline);
    ssize_t rc = weft_read(fd, buf, n);
    weft_scope_exit(&s);
    return rc;
}

static int serve_conn(void *arg, void **result)
{
    struct conn c = {.srv = ((struct conn_arg *)arg)->srv, .fd = ((struct conn_arg *)arg)->fd};
    struct http_parser p;
    char in[IN_SIZE];
    int64_t request_deadline = 0; /* 0 while no request has begun */
    int linger = 0, rc = 0;
    int continued = 0;            /* this request was told "100 Continue" */
    (void)result;
    free(arg);
    http_parser_init(&p);
    c.task = weft_task_current();
    c.next = c.srv->conns_;
    if (c.next)
        c.next->prev = &c;
    c.srv->conns_ = &c;

    while (rc == 0 && !(c.srv->draining && !request_deadline)) {
        int64_t deadline =
            request_deadline ? request_deadline : weft_now() + c.srv->idle_timeout;
        c.idle = !request_deadline;
        ssize_t n = read_until(c.fd, in, sizeof in, deadline);
        c.idle = 0;
        if (n == -ETIMEDOUT && request_deadline) {
            respond(&c, 408, NULL, 0, 0, 1); /* a slow sender */
            linger = 1;
            break;
        }
        if (n <= 0)
            break; /* end of file (half-closed or done), idle, reset, cancelled */
        for (size_t off = 0; off < (size_t)n && rc == 0;) {
            ssize_t used = http_parse(&p, in + off, (size_t)n - off);
            if (used < 0) {
                respond(&c, (int)-used, NULL, 0, 0, 1);
                linger = 1;
                rc = -1;
                break;
            }
            off += (size_t)used;
            if (!p.done) {
                if (p.req.expect_continue && !continued) {
                    /* its body waits for this (RFC 9110 10.1.1); the
                       flush below sends it before the next read */
                    static const char go_on[] = "HTTP/1.1 100 Continue\r\n\r\n";
                    memcpy(c.out + c.outlen, go_on, sizeof go_on - 1);
                    c.outlen += sizeof go_on - 1;
                    continued = 1;
                }
                break;
            }
            if (c.srv->draining)
                p.req.keep_alive = 0; /* the last answer on it */
            if ((rc = route(&c, &p.req)) == 0 && !p.req.keep_alive) {
                linger = 1; /* answered; the client asked for the close */
                rc = -1;
            }
            http_parser_init(&p);
            continued = 0;
            request_deadline = 0;
            if (rc == 0 && c.outlen > sizeof c.out - RESPONSE_MAX)
                rc = flush(&c);
        }
        if (rc == 0 && p.head && !request_deadline)
            request_deadline = weft_now() + c.srv->request_timeout;
        if (rc == 0)
            rc = flush(&c);
    }
    if (flush(&c) == 0 && linger)
        close_lingering(&c);
    weft_io_close(c.fd);
    if (c.prev)
        c.prev->next = c.next;
    else
        c.srv->conns_ = c.next;
    if (c.next)
        c.next->prev = c.prev;
    if (--c.srv->active == 0 && c.srv->draining)
        weft_event_set(&c.srv->drained_);
    return 0;
}

int http_serve_drain(struct http_server *s, int64_t grace)
{
    s->draining = 1;
    for (struct conn *c = s->conns_; c; c = c->next)
        if (c->idle)
            weft_task_cancel(c->task);  /* its wait for a request ends */
    if (!s->active)
        return 0;
    weft_scope sc;
    weft_scope_enter_timeout(&sc, grace);
    int rc = weft_event_wait(&s->drained_);
    weft_scope_exit(&sc);
    return rc;
}

int http_serve(void *server, void **result)
{
    struct http_server *s = server;
    (void)result;
    if (!s->request_timeout)
        s->request_timeout = WEFT_SEC(10);
    if (!s->idle_timeout)
        s->idle_timeout = WEFT_SEC(30);
    if (!s->linger)
        s->linger = WEFT_SEC(1);
    for (;;) {
        int fd = weft_accept(s->lfd, NULL, NULL);
        if (fd < 0) {
            if (fd == -ECONNABORTED)
                continue; /* lost before it was accepted */
            if (fd != -EMFILE && fd != -ENFILE && fd != -ENOBUFS && fd != -ENOMEM)
                return fd;
            /* Out of descriptors or memory: serve the open connections a
               while (an accept would fail again at once), then retry. */
            int rc = weft_sleep(WEFT_MSEC(10));
            if (rc < 0)
                return rc;
            continue;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        struct conn_arg *a = malloc(sizeof *a);
        int rc = a ? weft_spawn(NULL, serve_conn, a, &(weft_task_opts){.name = "http-conn"})
                   : -ENOMEM;
        if (rc < 0) {
            free(a);
            weft_io_close(fd);
            continue;
        }
        *a = (struct conn_arg){s, fd};
        s->accepted++;
        s->active++;
    }
}
