/*
 * hook_sock.c - the socket calls of weft/hook.h: socket, socketpair,
 * accept, accept4, connect, setsockopt.
 *
 * New descriptors become known to the loop when a task makes them
 * (weft__hook_new_fd). A blocking connect waits for the handshake on the
 * loop and reports the connection's own error; setsockopt's SO_RCVTIMEO /
 * SO_SNDTIMEO also become the per-call timeouts of the descriptor's record.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "hook_internal.h"

/* Referred to by weft_hook_enable(): pulls this file into a static link. */
const char weft__hook_sock_linked = 1;

int socket(int domain, int type, int protocol)
{
    int fd = WEFT__REAL(socket)(domain, type, protocol);
    if (fd >= 0) {
        int saved = errno;
        weft__hook_new_fd(fd, type & SOCK_NONBLOCK);
        errno = saved;
    }
    return fd;
}

int socketpair(int domain, int type, int protocol, int sv[2])
{
    int rc = WEFT__REAL(socketpair)(domain, type, protocol, sv);
    if (rc == 0) {
        int saved = errno;
        weft__hook_new_fd(sv[0], type & SOCK_NONBLOCK);
        weft__hook_new_fd(sv[1], type & SOCK_NONBLOCK);
        errno = saved;
    }
    return rc;
}

/* The arguments of accept4. */
struct acc {
    struct sockaddr *addr;
    socklen_t *len;
    int flags;
};

static ssize_t op_accept(int fd, void *c)
{
    struct acc *a = c;
    int e = errno, r = WEFT__REAL(accept4)(fd, a->addr, a->len, a->flags);
    if (r < 0) {
        r = -errno;
        errno = e;              /* as weft__hook_xfer expects of an op */
    }
    return r;
}

int accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags)
{
    int saved = errno;
    struct weft_task *self = weft__hook_task();
    if (self && !weft__fd_known(self->loop, fd))
        weft__hook_adopt(self->loop, fd);       /* a listener made elsewhere */
    ssize_t r = weft__hook_xfer(fd, WEFT_IO_READ, op_accept,
                                &(struct acc){addr, len, flags});
    if (r >= 0)
        weft__hook_new_fd((int)r, flags & SOCK_NONBLOCK);
    return (int)weft__hook_ret(r, saved);
}

int accept(int fd, struct sockaddr *addr, socklen_t *len)
{
    return accept4(fd, addr, len, 0);
}

/* A blocking connect in a task: waits for the handshake on the loop (up to
   SO_SNDTIMEO), then reports its outcome. 0 or -errno. May suspend. */
static int connect_wait(struct weft_task *self, struct weft__fd *st, int fd)
{
    struct weft__loop *L = self->loop;
    struct timeval tv = {0, 0};
    socklen_t len = sizeof tv;
    int64_t deadline = WEFT_FOREVER;
    if (getsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, &len) == 0 && (tv.tv_sec || tv.tv_usec))
        deadline = weft__after(weft__now(L), (int64_t)tv.tv_sec * 1000000000 +
                                                 (int64_t)tv.tv_usec * 1000);
    for (;;) {
        /* Believe only the kernel: an edge seen before connect() says
           nothing, and an unconnected socket may look writable. */
        struct pollfd p = {.fd = fd, .events = POLLOUT};
        if (WEFT__REAL(poll)(&p, 1, 0) < 0)
            return -errno;
        int rc;
        if (p.revents && (rc = weft__connect_result(fd)) != -EINPROGRESS)
            return rc;
        if (deadline != WEFT_FOREVER && weft__now(L) >= deadline)
            return -EINPROGRESS;    /* Linux's answer when SO_SNDTIMEO ends */
        st->ready &= ~WEFT_IO_WRITE;
        rc = weft__fd_wait_until(L, self, st, WEFT_IO_WRITE, deadline);
        if (rc < 0)
            return rc;
        if (!(st = weft__fd_known(L, fd)))
            return -EBADF;
    }
}

int connect(int fd, const struct sockaddr *addr, socklen_t len)
{
    int saved = errno;
    struct weft_task *self = weft__hook_task();
    struct weft__fd *st = NULL;
    if (self && !(st = weft__fd_known(self->loop, fd)))
        st = weft__hook_adopt(self->loop, fd);
    int blocking = weft__fd_blocking(fd);
    if (WEFT__REAL(connect)(fd, addr, len) == 0)
        return (int)weft__hook_ret(0, saved);
    int err = errno;
    if (err != EINPROGRESS || !blocking || !__atomic_load_n(&weft__hook_on, __ATOMIC_RELAXED))
        return -1;              /* the kernel's answer, errno as it set it */
    if (st && self)
        return (int)weft__hook_ret(connect_wait(self, st, fd), saved);
    /* Outside a task, on a descriptor weft made non-blocking: block. */
    struct pollfd p = {.fd = fd, .events = POLLOUT};
    if (WEFT__REAL(poll)(&p, 1, -1) < 0)
        return -1;
    socklen_t elen = sizeof err;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) < 0)
        return -1;
    return (int)weft__hook_ret(err ? -err : 0, saved);
}

int setsockopt(int fd, int level, int name, const void *val, socklen_t len)
{
    int rc = WEFT__REAL(setsockopt)(fd, level, name, val, len);
    struct weft__loop *L = weft__loop;
    struct weft__fd *st;
    if (rc == 0 && level == SOL_SOCKET && (name == SO_RCVTIMEO || name == SO_SNDTIMEO) &&
        len >= sizeof(struct timeval) && L && (st = weft__fd_known(L, fd))) {
        /* The caller's value, not the kernel's (rounded to its ticks). */
        const struct timeval *tv = val;
        int i = name == SO_SNDTIMEO;
        st->timeo[i] = (int64_t)tv->tv_sec * 1000000000 + (int64_t)tv->tv_usec * 1000;
        st->timeo_known |= 1 << i;
    }
    return rc;
}
