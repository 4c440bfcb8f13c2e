/*
 * hook_io.c - the transfer calls (weft/hook.h): read, write, readv,
 * writev, recv, recvfrom, recvmsg, send, sendto, sendmsg.
 *
 * Each packs its arguments, and weft__hook_xfer (hook_core.c) makes the
 * real call, waiting in between as the caller's view of the descriptor
 * says. write, send and sendto on a descriptor whose caller's view is
 * blocking go on until everything is written, as a blocking stream socket
 * does; a cancellation after some bytes returns their count.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <unistd.h>

#include "hook_internal.h"

/* Referred to by weft_hook_enable(): pulls this file into a static link. */
const char weft__hook_io_linked = 1;

/* The arguments of one call. */
struct args {
    void *buf;                  /* read/write/recv/send buffer */
    size_t n;                   /* its length */
    int flags;                  /* recv/send flags */
    struct sockaddr *addr;      /* recvfrom source, sendto destination */
    socklen_t *alen;            /* recvfrom's in/out address length */
    socklen_t tolen;            /* sendto's address length */
    const struct iovec *iov;    /* readv/writev */
    int iovcnt;                 /* entries of iov */
    struct msghdr *msg;         /* recvmsg/sendmsg */
};

/* The real call's result, or -errno with errno put back as it was: the
   success path never touches errno (see weft__hook_xfer). */
#define RET(call)                                                           \
    ({                                                                      \
        int e_ = errno;                                                     \
        ssize_t r_ = (call);                                                \
        if (r_ < 0) {                                                       \
            r_ = -errno;                                                    \
            errno = e_;                                                     \
        }                                                                   \
        r_;                                                                 \
    })

static ssize_t op_read(int fd, void *c)
{
    struct args *a = c;
    return RET(WEFT__REAL(read)(fd, a->buf, a->n));
}

static ssize_t op_write(int fd, void *c)
{
    struct args *a = c;
    return RET(WEFT__REAL(write)(fd, a->buf, a->n));
}

static ssize_t op_readv(int fd, void *c)
{
    struct args *a = c;
    return RET(WEFT__REAL(readv)(fd, a->iov, a->iovcnt));
}

static ssize_t op_writev(int fd, void *c)
{
    struct args *a = c;
    return RET(WEFT__REAL(writev)(fd, a->iov, a->iovcnt));
}

static ssize_t op_recvfrom(int fd, void *c)
{
    struct args *a = c;
    return RET(WEFT__REAL(recvfrom)(fd, a->buf, a->n, a->flags, a->addr, a->alen));
}

static ssize_t op_recvmsg(int fd, void *c)
{
    struct args *a = c;
    return RET(WEFT__REAL(recvmsg)(fd, a->msg, a->flags));
}

static ssize_t op_sendto(int fd, void *c)
{
    struct args *a = c;
    return RET(WEFT__REAL(sendto)(fd, a->buf, a->n, a->flags, a->addr, a->tolen));
}

static ssize_t op_sendmsg(int fd, void *c)
{
    struct args *a = c;
    return RET(WEFT__REAL(sendmsg)(fd, a->msg, a->flags));
}

/* -errno into errno and -1 (weft__hook_xfer left errno as it found it). */
static inline ssize_t fail(ssize_t r)
{
    if (r < 0) {
        errno = (int)-r;
        return -1;
    }
    return r;
}

/* One transfer under the errno rule. */
static ssize_t xfer(int fd, int dir, weft__hook_op op, struct args *a)
{
    if (a->flags & MSG_DONTWAIT)        /* this call must not wait */
        return fail(op(fd, a));
    return fail(weft__hook_xfer(fd, dir, op, a));
}

/* write/send/sendto: until all of a->n is written where the caller's view
   is blocking; a failure after some bytes returns their count. */
static ssize_t xfer_all(int fd, weft__hook_op op, struct args *a)
{
    size_t done = 0;
    if (a->flags & MSG_DONTWAIT)
        return fail(op(fd, a));
    for (;;) {
        ssize_t r = weft__hook_xfer(fd, WEFT_IO_WRITE, op, a);
        if (r < 0)
            return done ? (ssize_t)done : fail(r);
        done += (size_t)r;
        if ((size_t)r == a->n || r == 0 || !weft__hook_task() || !weft__fd_blocking(fd))
            return (ssize_t)done;
        a->buf = (char *)a->buf + r;
        a->n -= (size_t)r;
    }
}

ssize_t read(int fd, void *buf, size_t n)
{
    return xfer(fd, WEFT_IO_READ, op_read, &(struct args){.buf = buf, .n = n});
}

ssize_t write(int fd, const void *buf, size_t n)
{
    return xfer_all(fd, op_write, &(struct args){.buf = (void *)buf, .n = n});
}

ssize_t readv(int fd, const struct iovec *iov, int iovcnt)
{
    return xfer(fd, WEFT_IO_READ, op_readv, &(struct args){.iov = iov, .iovcnt = iovcnt});
}

ssize_t writev(int fd, const struct iovec *iov, int iovcnt)
{
    return xfer(fd, WEFT_IO_WRITE, op_writev, &(struct args){.iov = iov, .iovcnt = iovcnt});
}

ssize_t recv(int fd, void *buf, size_t n, int flags)
{
    return xfer(fd, WEFT_IO_READ, op_recvfrom,
                &(struct args){.buf = buf, .n = n, .flags = flags});
}

ssize_t recvfrom(int fd, void *buf, size_t n, int flags, struct sockaddr *addr,
                 socklen_t *alen)
{
    return xfer(fd, WEFT_IO_READ, op_recvfrom,
                &(struct args){.buf = buf, .n = n, .flags = flags, .addr = addr, .alen = alen});
}

ssize_t recvmsg(int fd, struct msghdr *msg, int flags)
{
    return xfer(fd, WEFT_IO_READ, op_recvmsg, &(struct args){.msg = msg, .flags = flags});
}

ssize_t send(int fd, const void *buf, size_t n, int flags)
{
    return xfer_all(fd, op_sendto, &(struct args){.buf = (void *)buf, .n = n, .flags = flags});
}

ssize_t sendto(int fd, const void *buf, size_t n, int flags, const struct sockaddr *addr,
               socklen_t alen)
{
    return xfer_all(fd, op_sendto,
                    &(struct args){.buf = (void *)buf, .n = n, .flags = flags,
                                   .addr = (struct sockaddr *)addr, .tolen = alen});
}

ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
    return xfer(fd, WEFT_IO_WRITE, op_sendmsg,
                &(struct args){.msg = (struct msghdr *)msg, .flags = flags});
}
