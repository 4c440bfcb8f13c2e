/*
 * io.c - descriptors that suspend the task: the loop's table of known
 * descriptors, waiting for readiness, and the socket calls built on it.
 *
 * A descriptor becomes known the first time a task uses it: it is made
 * non-blocking and added to the poller once, edge-triggered. A call tries
 * its system call first and waits only on EAGAIN, clearing the
 * descriptor's ready bit; an edge from the poller sets the bit again and
 * wakes every task waiting in that direction, which then retries. Waiting
 * tasks' nodes live on their stacks (waitq.h).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "io_internal.h"
#include "waitq.h"

struct weft__io *weft__io_get(struct weft__loop *L)
{
    if (L->io)
        return L->io;
    struct weft__io *io = calloc(1, sizeof *io);
    if (!io)
        return NULL;
    io->wake_fd = -1;
    if (weft__poll_init(&io->poll) < 0) {
        free(io);
        return NULL;
    }
    L->io = io;
    return io;
}

int weft__io_pending(const struct weft__loop *L)
{
    return L->io && (L->io_waiting || L->jobs || weft__remote_held(L));
}

/* Makes `fd` non-blocking (once: a descriptor that is stays so). */
static int set_nonblock(int fd)
{
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0 || (!(flags & O_NONBLOCK) && fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0))
        return -errno;
    return 0;
}

/* The record of `fd`, made known to the loop on first use; NULL with *rc. */
static struct weft__fd *fd_state(struct weft__loop *L, int fd, int *rc)
{
    struct weft__io *io = weft__io_get(L);
    *rc = -ENOMEM;
    if (!io)
        return NULL;
    if (fd < 0) {
        *rc = -EBADF;
        return NULL;
    }
    if ((size_t)fd >= io->nfds) {
        size_t n = io->nfds ? io->nfds : 64;
        while (n <= (size_t)fd)
            n *= 2;
        struct weft__fd **fds = realloc(io->fds, n * sizeof *fds);
        if (!fds)
            return NULL;
        memset(fds + io->nfds, 0, (n - io->nfds) * sizeof *fds);
        io->fds = fds;
        io->nfds = n;
    }
    if (io->fds[fd])
        return io->fds[fd];
    if ((*rc = set_nonblock(fd)) < 0)
        return NULL;
    *rc = -ENOMEM;
    struct weft__fd *st = calloc(1, sizeof *st);
    if (!st)
        return NULL;
    int add = weft__poll_add(&io->poll, fd);
    if (add < 0 && add != -EPERM) { /* regular files cannot be polled: */
        free(st);                   /* they are always ready */
        *rc = add;
        return NULL;
    }
    st->ready = add == -EPERM ? WEFT_IO_READ | WEFT_IO_WRITE : 0;
    io->fds[fd] = st;
    return st;
}

/* Parks the running task until `fd` may be ready for `events`. */
static int wait_ready(struct weft__loop *L, struct weft_task *self, struct weft__fd *st,
                      int events)
{
    struct weft__wait r = {.w = {.task = self}}, w = {.w = {.task = self}};
    weft__list_init(&r.w.link);     /* removed below even if never queued */
    weft__list_init(&w.w.link);
    if (events & WEFT_IO_READ)
        weft__list_push_back(weft__waitq(&st->readers), &r.w.link);
    if (events & WEFT_IO_WRITE)
        weft__list_push_back(weft__waitq(&st->writers), &w.w.link);
    L->io_waiting++;
    int rc = weft__park(self, WEFT_FOREVER);
    L->io_waiting--;
    weft__list_remove(&r.w.link);
    weft__list_remove(&w.w.link);
    return rc;
}

/* Called by the poller for each ready descriptor. */
static void on_ready(void *ctx, int fd, int events)
{
    struct weft__loop *L = ctx;
    struct weft__io *io = L->io;
    if (fd == io->wake_fd) {
        weft__remote_drain(L);
        return;
    }
    if ((size_t)fd >= io->nfds || !io->fds[fd])
        return;
    struct weft__fd *st = io->fds[fd];
    if (events & WEFT__POLL_IN) {
        st->ready |= WEFT_IO_READ;
        while (weft__waitq_give(&st->readers))
            ;
    }
    if (events & WEFT__POLL_OUT) {
        st->ready |= WEFT_IO_WRITE;
        while (weft__waitq_give(&st->writers))
            ;
    }
}

int weft__io_poll(struct weft__loop *L, int64_t timeout_ns)
{
    return L->io ? weft__poll_wait(&L->io->poll, timeout_ns, on_ready, L) : 0;
}

int weft_io_wait(int fd, int events)
{
    struct weft_task *self = weft__self();
    int rc;
    if (!events || (events & ~(WEFT_IO_READ | WEFT_IO_WRITE)))
        return -EINVAL;
    if (fd < 0)
        return -EBADF;
    if (!self)
        return -EPERM;
    struct weft__fd *st = fd_state(self->loop, fd, &rc);
    if (!st)
        return rc;
    for (;;) {
        /* The caller makes its own system calls, so the edges seen may be
           used up already: ask the kernel, and otherwise wait for a new
           edge. One poll(2) per call, which read/write never need. */
        struct pollfd p = {.fd = fd, .events = (short)((events & WEFT_IO_READ ? POLLIN : 0) |
                                                       (events & WEFT_IO_WRITE ? POLLOUT : 0))};
        if (poll(&p, 1, 0) < 0)
            return -errno;
        if (p.revents & POLLNVAL)
            return -EBADF;
        int now = (p.revents & (POLLIN | POLLHUP | POLLERR | POLLRDHUP) ? WEFT_IO_READ : 0) |
                  (p.revents & (POLLOUT | POLLHUP | POLLERR) ? WEFT_IO_WRITE : 0);
        st->ready = (st->ready & ~events) | (now & events);
        if (now & events)
            return now & events;
        if ((rc = wait_ready(self->loop, self, st, events)) < 0)
            return rc;
        if (!(st = self->loop->io->fds[fd]))
            return -EBADF;
    }
}

int weft_io_close(int fd)
{
    struct weft__loop *L = weft__loop;
    if (L && L->io && fd >= 0 && (size_t)fd < L->io->nfds && L->io->fds[fd]) {
        struct weft__fd *st = L->io->fds[fd];
        struct weft__wait *w;
        while ((w = weft__waitq_take(&st->readers)))
            weft__wake(w->w.task, -EBADF);
        while ((w = weft__waitq_take(&st->writers)))
            weft__wake(w->w.task, -EBADF);
        weft__poll_del(&L->io->poll, fd);
        L->io->fds[fd] = NULL;
        free(st);
    }
    return close(fd) < 0 ? -errno : 0;
}

/*
 * The shape of every call: try the system call; on EAGAIN, inside a task,
 * wait for `dir` and try again. `op` returns the call's result or -errno.
 */
typedef ssize_t (*io_op)(int fd, void *ctx);

static ssize_t io_call(int fd, int dir, io_op op, void *ctx)
{
    struct weft__loop *L = weft__loop;
    struct weft_task *self = weft__self();
    struct weft__fd *st = NULL;
    int rc;
    if (fd < 0)
        return -EBADF;
    if (L && !(st = fd_state(L, fd, &rc)))
        return rc;
    if (!L && (rc = set_nonblock(fd)) < 0)  /* no loop: never block either */
        return rc;
    for (;;) {
        ssize_t r = op(fd, ctx);
        if (r != -EAGAIN && r != -EWOULDBLOCK && r != -EINTR)
            return r;
        if (r == -EINTR)
            continue;
        if (!self)
            return -EAGAIN;
        st->ready &= ~dir;
        if ((rc = wait_ready(L, self, st, dir)) < 0)
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

static ssize_t op_write(int fd, void *ctx)
{
    struct xfer *x = ctx;
    ssize_t r = write(fd, x->buf, x->n);
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
    return io_call(fd, WEFT_IO_READ, op_read, &(struct xfer){buf, n, 0});
}

ssize_t weft_write(int fd, const void *buf, size_t n)
{
    return io_call(fd, WEFT_IO_WRITE, op_write, &(struct xfer){(void *)buf, n, 0});
}

ssize_t weft_recv(int fd, void *buf, size_t n, int flags)
{
    return io_call(fd, WEFT_IO_READ, op_recv, &(struct xfer){buf, n, flags});
}

ssize_t weft_send(int fd, const void *buf, size_t n, int flags)
{
    return io_call(fd, WEFT_IO_WRITE, op_send, &(struct xfer){(void *)buf, n, flags});
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
    return (int)io_call(fd, WEFT_IO_READ, op_accept, &(struct acc){addr, addrlen});
}

int weft_connect(int fd, const struct sockaddr *addr, socklen_t addrlen)
{
    struct weft_task *self = weft__self();
    int err = 0;
    socklen_t len = sizeof err;
    if (fd < 0 || !addr)
        return fd < 0 ? -EBADF : -EINVAL;
    if (self) {                 /* known to the loop, non-blocking */
        int rc;
        if (!fd_state(self->loop, fd, &rc))
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
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
            return -errno;
        if (err)
            return -err;
        struct sockaddr_storage peer;
        socklen_t plen = sizeof peer;
        if (getpeername(fd, (struct sockaddr *)&peer, &plen) == 0)
            return 0;
        if (errno != ENOTCONN)
            return -errno;
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

static int try_listen(int fd, const struct addrinfo *a, void *ctx)
{
    int one = 1, backlog = *(int *)ctx;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
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

int weft_tcp_listen(const char *host, int port, int backlog)
{
    if (port < 0 || port > 65535)
        return -EINVAL;
    return each_address(host, port, 1, try_listen, &backlog);
}

int weft_tcp_connect(const char *host, int port)
{
    if (port <= 0 || port > 65535)
        return -EINVAL;
    return each_address(host, port, 0, try_connect, NULL);
}

void weft__io_free(struct weft__loop *L)
{
    struct weft__io *io = L->io;
    if (!io)
        return;
    weft__pool_free(L);         /* waits for jobs: they post to the loop */
    weft__remote_close(L);
    for (size_t i = 0; i < io->nfds; i++)
        free(io->fds[i]);       /* descriptors stay open: they are the
                                   caller's; only the loop's records go */
    free(io->fds);
    weft__poll_free(&io->poll);
    free(io);
    L->io = NULL;
}
