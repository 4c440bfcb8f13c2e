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
 *
 * A short read of a stream socket or a pipe took everything there was, so
 * io.c marks the descriptor drained and its next read waits for an edge
 * instead of making a read that would fail with EAGAIN. Not after a
 * hang-up or error (sticky: its edge came already and will not come again),
 * and never for datagram sockets, where a short read is one datagram of
 * several.
 *
 * Closing keeps the record (marked closed) for the next descriptor of that
 * number, so that close - async-signal-safe in POSIX, and hooked by
 * weft/hook.h - never frees. Process-wide, one bit per descriptor says
 * whether weft made it non-blocking behind its owner's back: the hooks
 * then make calls on it wait as the owner expects, on any thread.
 *
 * With weft_loop_opts.poll_spin_ns a wait that would block first polls
 * without blocking for that long (never past the next alarm), so that an
 * event that comes soon is taken without the thread sleeping.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
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
    weft__list_init(&io->watches);
    if (weft__poll_init(&io->poll) < 0) {
        free(io);
        return NULL;
    }
    L->io = io;
    return io;
}

int weft__io_pending(const struct weft__loop *L)
{
    return L->io && (L->io_waiting || L->jobs || L->io->nwatches || weft__remote_held(L));
}

/*
 * Learns what `fd` is, once, when it becomes known: st->stream (a stream
 * socket or a pipe: a short read drains them) and st->sock (how
 * weft_write() keeps SIGPIPE away: 1 a socket, -1 a pipe or FIFO, -2
 * neither).
 */
static void classify(int fd, struct weft__fd *st)
{
    int type = 0;
    socklen_t len = sizeof type;
    struct stat sb;
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0) {
        st->sock = 1;
        st->stream = type == SOCK_STREAM;
    } else {
        int fifo = fstat(fd, &sb) == 0 && S_ISFIFO(sb.st_mode);
        st->sock = fifo ? -1 : -2;
        st->stream = fifo;
    }
}

/* Bit fd: weft made fd non-blocking, its owner's view is blocking. */
uint64_t weft__fd_mode[WEFT__FD_MODE_MAX / 64];

void weft__fd_set_blocking(int fd, int blocking)
{
    if (fd < 0 || fd >= WEFT__FD_MODE_MAX)
        return;
    uint64_t bit = (uint64_t)1 << (fd % 64);
    if (blocking)
        __atomic_fetch_or(&weft__fd_mode[fd / 64], bit, __ATOMIC_RELAXED);
    else
        __atomic_fetch_and(&weft__fd_mode[fd / 64], ~bit, __ATOMIC_RELAXED);
}

int weft__set_nonblock(int fd)
{
    /* Asked of the kernel every time: the bit may be stale when the number
       was closed with close(2) where no hook saw it, and reused. */
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0 || (!(flags & O_NONBLOCK) && fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0))
        return -errno;
    if (!(flags & O_NONBLOCK))
        weft__fd_set_blocking(fd, 1);
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
    struct weft__fd *st = io->fds[fd];
    if (st && !st->closed)
        return st;
    if ((*rc = weft__set_nonblock(fd)) < 0)
        return NULL;
    *rc = -ENOMEM;
    if (!st && !(st = calloc(1, sizeof *st)))
        return NULL;
    int add = weft__poll_add(&io->poll, fd);
    if (add < 0 && add != -EPERM) { /* regular files cannot be polled: */
        if (!io->fds[fd])           /* they are always ready */
            free(st);
        *rc = add;
        return NULL;
    }
    *st = (struct weft__fd){.ready = add == -EPERM ? WEFT_IO_READ | WEFT_IO_WRITE : 0};
    if (add == 0)
        classify(fd, st);       /* files (not pollable) stay kind 0 */
    io->fds[fd] = st;
    return st;
}

int weft__fd_wait(struct weft__loop *L, struct weft_task *self, struct weft__fd *st,
                   int events)
{
    return weft__fd_wait_until(L, self, st, events, WEFT_FOREVER);
}

int weft__fd_wait_until(struct weft__loop *L, struct weft_task *self, struct weft__fd *st,
                        int events, int64_t wake_at)
{
    struct weft__wait r = {.w = {.task = self}}, w = {.w = {.task = self}};
    weft__list_init(&r.w.link);     /* removed below even if never queued */
    weft__list_init(&w.w.link);
    if (events & WEFT_IO_READ)
        weft__list_push_back(weft__waitq(&st->readers), &r.w.link);
    if (events & WEFT_IO_WRITE)
        weft__list_push_back(weft__waitq(&st->writers), &w.w.link);
    L->io_waiting++;
    weft__waiting(self, WEFT_WAIT_FD, st, events);
    int rc = weft__park(self, wake_at);
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
    if (events & WEFT__POLL_HUP)
        st->hup = 1;
    if (events & WEFT__POLL_IN) {
        st->ready |= WEFT_IO_READ;
        st->drained = 0;
        while (weft__waitq_give(&st->readers))
            ;
    }
    if (events & WEFT__POLL_OUT) {
        st->ready |= WEFT_IO_WRITE;
        while (weft__waitq_give(&st->writers))
            ;
    }
    if (st->watches)
        weft__watch_ready(L, st, events);
}

/*
 * weft_loop_opts.poll_spin_ns: before a wait that would block, polls the
 * descriptors (and the posts of other threads) without blocking for up to
 * L->poll_spin_ns, never past *timeout_ns, which loses the time spent (a
 * wait for ever stays one). Returns what became ready, 0 if nothing did in
 * time, or the poller's error.
 */
static int spin(struct weft__loop *L, int64_t *timeout_ns)
{
    int64_t budget = *timeout_ns > 0 && *timeout_ns < L->poll_spin_ns ? *timeout_ns
                                                                       : L->poll_spin_ns;
    int64_t t0 = weft__now(L), spent;  /* the real clock: no spin on the virtual */
    do {
        int n = weft__remote_check(L);
        int k = weft__poll_wait(&L->io->poll, 0, on_ready, L);
        if (k < 0 || n + k)
            return k < 0 ? k : n + k;
        spent = weft__now(L) - t0;
    } while (spent < budget);
    if (*timeout_ns > 0)
        *timeout_ns = *timeout_ns > spent ? *timeout_ns - spent : 0;
    return 0;
}

int weft__io_poll(struct weft__loop *L, int64_t timeout_ns)
{
    if (!L->io)
        return 0;
    int n = weft__remote_check(L);  /* from other threads: no system call */
    if (n)
        timeout_ns = 0;             /* something may run now */
    if (!timeout_ns && !L->io_waiting && !L->io->nwatches)
        return n;                   /* no descriptor to look at */
    if (timeout_ns != 0 && L->poll_spin_ns && (n = spin(L, &timeout_ns)) != 0)
        return n;
    int sleeps = timeout_ns != 0 && weft__remote_sleep(L, timeout_ns) == 0;
    n += weft__poll_wait(&L->io->poll, sleeps ? timeout_ns : 0, on_ready, L);
    if (sleeps)
        weft__remote_awake(L);
    L->sleeps += (uint64_t)sleeps;
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
        if (now & WEFT_IO_READ & events)
            st->drained = 0;
        if (now & events)
            return now & events;
        if ((rc = weft__fd_wait(self->loop, self, st, events)) < 0)
            return rc;
        if (!(st = weft__fd_known(self->loop, fd)))
            return -EBADF;
    }
}

void weft__fd_forget(struct weft__loop *L, int fd)
{
    struct weft__fd *st = weft__fd_known(L, fd);
    struct weft__wait *w;
    if (!st)
        return;
    while ((w = weft__waitq_take(&st->readers)))
        weft__wake(w->w.task, -EBADF);
    while ((w = weft__waitq_take(&st->writers)))
        weft__wake(w->w.task, -EBADF);
    weft__watch_detach(st);
    weft__poll_del(&L->io->poll, fd);
    st->closed = 1;
}

int weft_io_close(int fd)
{
    struct weft__loop *L = weft__loop;
    if (L)
        weft__fd_forget(L, fd);
    weft__fd_set_blocking(fd, 0);
    return close(fd) < 0 ? -errno : 0;
}

void weft__io_free(struct weft__loop *L)
{
    struct weft__io *io = L->io;
    if (!io)
        return;
    for (size_t i = 0; i < io->nfds; i++)
        free(io->fds[i]);       /* descriptors stay open: they are the
                                   caller's; only the loop's records go */
    free(io->fds);
    io->fds = NULL;             /* closing the poller below is a close(2), */
    io->nfds = 0;               /* which the hooks look up */
    weft__poll_free(&io->poll);
    free(io);
    L->io = NULL;
}
