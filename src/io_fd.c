/*
 * io_fd.c - the loop's table of known descriptors and waiting for their
 * readiness; the socket calls of io.c are built on it.
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
#include <poll.h>
#include <stdlib.h>
#include <string.h>
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

int weft__set_nonblock(int fd)
{
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0 || (!(flags & O_NONBLOCK) && fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0))
        return -errno;
    return 0;
}

struct weft__fd *weft__fd_state(struct weft__loop *L, int fd, int *rc)
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
    if ((*rc = weft__set_nonblock(fd)) < 0)
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

int weft__fd_wait(struct weft__loop *L, struct weft_task *self, struct weft__fd *st,
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
    if (!L->io)
        return 0;
    int n = weft__remote_check(L);  /* from other threads: no system call */
    if (n)
        timeout_ns = 0;             /* something may run now */
    if (!timeout_ns && !L->io_waiting)
        return n;                   /* no descriptor to look at */
    int sleeps = timeout_ns != 0 && weft__remote_sleep(L, timeout_ns) == 0;
    n += weft__poll_wait(&L->io->poll, sleeps ? timeout_ns : 0, on_ready, L);
    if (sleeps)
        weft__remote_awake(L);
    return n;
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
    struct weft__fd *st = weft__fd_state(self->loop, fd, &rc);
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
        if ((rc = weft__fd_wait(self->loop, self, st, events)) < 0)
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
