/*
 * io.c - the socket calls that suspend the task: read, write, recv, send,
 * accept, connect, and TCP listen / connect by name.
 *
 * Each tries its system call first and, on EAGAIN inside a task, waits for
 * the descriptor through the loop's table (io_fd.c), then tries again.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "io_internal.h"

/*
 * The shape of every call: try the system call; on EAGAIN, inside a task,
 * wait for `dir` and try again. `op` returns the call's result or -errno.
 * `want` is the size of a plain read (0 for anything else): a read that
 * returns less from a stream drains it (io_fd.c), and a read of a drained
 * descriptor waits for the next edge before its system call.
 */
typedef ssize_t (*io_op)(int fd, void *ctx);

static ssize_t io_call(int fd, int dir, io_op op, void *ctx, size_t want)
{
    struct weft__loop *L = weft__loop;
    struct weft_task *self = weft__self();
    struct weft__fd *st = NULL;
    int rc;
    if (fd < 0)
        return -EBADF;
    if (L && !(st = weft__fd_state(L, fd, &rc)))
        return rc;
    if (!L && (rc = weft__set_nonblock(fd)) < 0)  /* no loop: never block either */
        return rc;
    int drained = want && self && st->drained;   /* read would say EAGAIN */
    for (;;) {
        if (!drained) {
            ssize_t r = op(fd, ctx);
            if (r > 0 && (size_t)r < want && st && st->stream && !st->hup)
                st->drained = 1;
            if (r != -EAGAIN && r != -EWOULDBLOCK && r != -EINTR)
                return r;
            if (r == -EINTR)
                continue;
            if (!self)
                return -EAGAIN;
        }
        drained = 0;
        st->ready &= ~dir;
        if ((rc = weft__fd_wait(L, self, st, dir)) < 0)
            return rc;
        if (!(st = L->io->fds[fd]))
            return -EBADF;      /* closed with weft_io_close() meanwhile */
    }
}

/* The arguments of one transfer. */
struct xfer {
    void *buf;
    size_t n;
    int flags;
};

static ssize_t op_read(int fd, void *ctx)
{
    struct xfer *x = ctx;
    ssize_t r = read(fd, x->buf, x->n);
    return r < 0 ? -errno : r;
}

/*
 * write(2) to what is not a socket, with SIGPIPE blocked on this thread for
 * the call: a pipe whose reader has gone gives EPIPE and queues SIGPIPE for
 * the thread, which is taken back before the mask is restored. A caller
 * that blocked SIGPIPE itself keeps the kernel's behaviour (it stays
 * pending). Two rt_sigprocmask calls per write: sockets never come here.
 */
static ssize_t write_nosigpipe(int fd, const void *buf, size_t n)
{
    sigset_t pipe_only, old;
    sigemptyset(&pipe_only);
    sigaddset(&pipe_only, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_only, &old);
    ssize_t r = write(fd, buf, n);
    int err = errno;
    if (r < 0 && err == EPIPE && !sigismember(&old, SIGPIPE))
        while (sigtimedwait(&pipe_only, NULL, &(struct timespec){0}) < 0 && errno == EINTR)
            ;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return r < 0 ? -err : r;
}

/* Where the loop keeps whether `fd` is a socket, or NULL when it has no
   record of it (outside a loop, or before first use). */
static int *sock_kind(int fd)
{
    struct weft__loop *L = weft__loop;
    struct weft__io *io = L ? L->io : NULL;
    return io && (size_t)fd < io->nfds && io->fds[fd] ? &io->fds[fd]->sock : NULL;
}

/*
 * write(2) that never raises SIGPIPE: send(MSG_NOSIGNAL) on a socket (no
 * cost over write), write_nosigpipe() on a pipe or FIFO, plain write(2) on
 * the rest (files, terminals: no SIGPIPE there). What `fd` is, the loop
 * learnt when it became known (io_fd.c), or the first send's ENOTSOCK (and
 * one fstat) tells; a stale guess after the number was reused corrects
 * itself or errs on the safe side. Without a record every non-socket
 * counts as a pipe.
 */
static ssize_t op_write(int fd, void *ctx)
{
    struct xfer *x = ctx;
    int *kind = sock_kind(fd);
    ssize_t r;
    if (!kind || *kind >= 0) {
        r = send(fd, x->buf, x->n, MSG_NOSIGNAL);
        if (r >= 0 || errno != ENOTSOCK) {
            if (kind)
                *kind = 1;
            return r < 0 ? -errno : r;
        }
        struct stat sb;
        if (kind)
            *kind = fstat(fd, &sb) == 0 && !S_ISFIFO(sb.st_mode) ? -2 : -1;
    }
    if (!kind || *kind == -1)
        return write_nosigpipe(fd, x->buf, x->n);
    r = write(fd, x->buf, x->n);
    return r < 0 ? -errno : r;
}

static ssize_t op_recv(int fd, void *ctx)
{
    struct xfer *x = ctx;
    ssize_t r = recv(fd, x->buf, x->n, x->flags);
    return r < 0 ? -errno : r;
}

static ssize_t op_send(int fd, void *ctx)
{
    struct xfer *x = ctx;
    ssize_t r = send(fd, x->buf, x->n, x->flags | MSG_NOSIGNAL);
    return r < 0 ? -errno : r;
}

ssize_t weft_read(int fd, void *buf, size_t n)
{
    return io_call(fd, WEFT_IO_READ, op_read, &(struct xfer){buf, n, 0}, n);
}

ssize_t weft_write(int fd, const void *buf, size_t n)
{
    return io_call(fd, WEFT_IO_WRITE, op_write, &(struct xfer){(void *)buf, n, 0}, 0);
}

ssize_t weft_recv(int fd, void *buf, size_t n, int flags)
{
    return io_call(fd, WEFT_IO_READ, op_recv, &(struct xfer){buf, n, flags},
                   flags & (MSG_PEEK | MSG_OOB) ? 0 : n);   /* a peek leaves it */
}

ssize_t weft_send(int fd, const void *buf, size_t n, int flags)
{
    return io_call(fd, WEFT_IO_WRITE, op_send, &(struct xfer){(void *)buf, n, flags}, 0);
}

ssize_t weft_write_all(int fd, const void *buf, size_t n)
{
    size_t done = 0;
    while (done < n) {
        ssize_t r = weft_write(fd, (const char *)buf + done, n - done);
        if (r < 0)
            return r;
        done += (size_t)r;
    }
    return (ssize_t)n;
}

/* The arguments of accept. */
struct acc {
    struct sockaddr *addr;
    socklen_t *len;
};

static ssize_t op_accept(int fd, void *ctx)
{
    struct acc *a = ctx;
    int c = accept4(fd, a->addr, a->len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    return c < 0 ? -errno : c;
}

int weft_accept(int fd, struct sockaddr *addr, socklen_t *addrlen)
{
    return (int)io_call(fd, WEFT_IO_READ, op_accept, &(struct acc){addr, addrlen}, 0);
}

int weft__connect_result(int fd)
{
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
        return -errno;
    if (err)
        return -err;
    struct sockaddr_storage peer;
    socklen_t plen = sizeof peer;
    if (getpeername(fd, (struct sockaddr *)&peer, &plen) == 0)
        return 0;
    return errno == ENOTCONN ? -EINPROGRESS : -errno;
}

int weft_connect(int fd, const struct sockaddr *addr, socklen_t addrlen)
{
    struct weft_task *self = weft__self();
    if (fd < 0 || !addr)
        return fd < 0 ? -EBADF : -EINVAL;
    if (self) {                 /* known to the loop, non-blocking */
        int rc;
        if (!weft__fd_state(self->loop, fd, &rc))
            return rc;
    }
    if (connect(fd, addr, addrlen) == 0)
        return 0;
    if (errno != EINPROGRESS)
        return -errno;
    if (!self)
        return -EINPROGRESS;
    struct weft__fd *st = self->loop->io->fds[fd];
    for (;;) {
        /* A writable edge seen before connect() says nothing: wait for a
           new one, and believe it only once the socket has a peer. */
        st->ready &= ~WEFT_IO_WRITE;
        int rc = weft_io_wait(fd, WEFT_IO_WRITE);
        if (rc < 0)
            return rc;
        if ((rc = weft__connect_result(fd)) != -EINPROGRESS)
            return rc;
        if (!(st = self->loop->io->fds[fd]))
            return -EBADF;
    }
}

/* getaddrinfo() for a worker thread. */
struct lookup {
    const char *host;
    char port[16];
    int passive;
    struct addrinfo *res;
    int rc;
};

static void *run_lookup(void *arg)
{
    struct lookup *q = arg;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = q->passive ? AI_PASSIVE : 0};
    q->rc = getaddrinfo(q->host, q->port, &hints, &q->res);
    return NULL;
}

/* Resolves host:port on the worker pool (inline outside a task). */
static int lookup(struct lookup *q, const char *host, int port, int passive)
{
    *q = (struct lookup){.host = host && *host ? host : NULL, .passive = passive};
    snprintf(q->port, sizeof q->port, "%d", port);
    if (weft__self()) {
        int rc = weft_to_thread(run_lookup, q, NULL);
        if (rc < 0)
            return rc;
    } else {
        run_lookup(q);
    }
    if (q->rc == EAI_SYSTEM)
        return -EIO;
    return q->rc == 0 ? 0 : q->rc == EAI_MEMORY ? -ENOMEM : -ENOENT;
}

/*
 * Resolves host:port and tries `attempt` on a fresh non-blocking socket for
 * each address in turn, until one succeeds (returns its socket) or the
 * caller gave up waiting (-ECANCELED, -ETIMEDOUT: no more tries). Returns
 * the socket, or the last error.
 */
static int each_address(const char *host, int port, int passive,
                        int (*attempt)(int fd, const struct addrinfo *a, void *ctx),
                        void *ctx)
{
    struct lookup q;
    int rc = lookup(&q, host, port, passive), fd = -1;
    if (rc < 0)
        return rc;
    rc = -EADDRNOTAVAIL;
    for (struct addrinfo *a = q.res; a; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            rc = -errno;
            continue;
        }
        if ((rc = attempt(fd, a, ctx)) == 0)
            break;
        weft_io_close(fd);
        fd = -1;
        if (rc == -ECANCELED || rc == -ETIMEDOUT)
            break;
    }
    freeaddrinfo(q.res);
    return fd >= 0 ? fd : rc;
}

/* The arguments of a listen. */
struct listen_args {
    int backlog;
    int flags;                  /* WEFT_TCP_* */
};

static int try_listen(int fd, const struct addrinfo *a, void *ctx)
{
    struct listen_args *l = ctx;
    int one = 1, backlog = l->backlog;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if ((l->flags & WEFT_TCP_REUSEPORT) &&
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0)
        return -errno;
    if (bind(fd, a->ai_addr, a->ai_addrlen) < 0 ||
        listen(fd, backlog > 0 ? backlog : SOMAXCONN) < 0)
        return -errno;
    return 0;
}

static int try_connect(int fd, const struct addrinfo *a, void *ctx)
{
    (void)ctx;
    return weft_connect(fd, a->ai_addr, a->ai_addrlen);
}

int weft_tcp_listen_flags(const char *host, int port, int backlog, int flags)
{
    if (port < 0 || port > 65535 || (flags & ~WEFT_TCP_REUSEPORT))
        return -EINVAL;
    return each_address(host, port, 1, try_listen, &(struct listen_args){backlog, flags});
}

int weft_tcp_listen(const char *host, int port, int backlog)
{
    return weft_tcp_listen_flags(host, port, backlog, 0);
}

int weft_tcp_connect(const char *host, int port)
{
    if (port <= 0 || port > 65535)
        return -EINVAL;
    return each_address(host, port, 0, try_connect, NULL);
}
