/*
 * hook_poll.c - poll, ppoll and select of weft/hook.h: waiting for any of
 * several descriptors, or a timeout, on the loop.
 *
 * The kernel decides what is ready: each round asks the real poll(2) with
 * no timeout, and only when nothing is ready does the task park, with a
 * node in the reader and writer queues of every descriptor (made known to
 * the loop on the way) until an edge, the timeout or a cancellation ends
 * the park; then it asks again. A descriptor the loop cannot watch (a
 * terminal) makes the park end every 10 ms to ask again. Nodes live on the
 * task's stack for up to 8 descriptors, else on the heap.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hook_internal.h"

/* Referred to by weft_hook_enable(): pulls this file into a static link. */
const char weft__hook_poll_linked = 1;
#include "waitq.h"

enum {
    LOCAL_FDS = 8,                  /* descriptors whose nodes fit the stack */
    TICK_NS = 10 * 1000 * 1000      /* re-check of what the loop cannot watch */
};

/* Parks `self` on every descriptor of fds (nodes: 2 per descriptor) until
   one has an edge or loop time `wake_at`. Returns the park's code. */
static int park_on(struct weft_task *self, struct pollfd *fds, nfds_t n,
                   struct weft__wait *nodes, int64_t wake_at)
{
    struct weft__loop *L = self->loop;
    int blind = 0;
    for (nfds_t i = 0; i < n; i++) {
        struct weft__wait *r = &nodes[2 * i], *w = &nodes[2 * i + 1];
        *r = *w = (struct weft__wait){.w = {.task = self}};
        weft__list_init(&r->w.link);
        weft__list_init(&w->w.link);
        if (fds[i].fd < 0)
            continue;
        struct weft__fd *st = weft__fd_known(L, fds[i].fd);
        if (!st && !(st = weft__hook_adopt(L, fds[i].fd))) {
            blind = 1;
            continue;
        }
        if ((fds[i].events & ~POLLOUT) || !(fds[i].events & POLLOUT))
            weft__list_push_back(weft__waitq(&st->readers), &r->w.link);
        if (fds[i].events & (POLLOUT | POLLWRNORM | POLLWRBAND))
            weft__list_push_back(weft__waitq(&st->writers), &w->w.link);
    }
    if (blind) {
        int64_t tick = weft__after(weft__now(L), TICK_NS);
        if (tick < wake_at)
            wake_at = tick;
    }
    L->io_waiting++;
    int rc = weft__park(self, wake_at);
    L->io_waiting--;
    for (nfds_t i = 0; i < 2 * n; i++)
        weft__list_remove(&nodes[i].w.link);
    return rc;
}

int weft__hook_poll(struct weft_task *self, struct pollfd *fds, nfds_t n, int64_t timeout_ns)
{
    struct weft__loop *L = self->loop;
    struct weft__wait local[2 * LOCAL_FDS], *nodes = local;
    int64_t deadline = timeout_ns < 0 ? WEFT_FOREVER : weft__after(weft__now(L), timeout_ns);
    int rc;
    for (;;) {
        rc = WEFT__REAL(poll)(fds, n, 0);
        if (rc < 0) {
            rc = -errno;
            break;
        }
        if (rc > 0 || timeout_ns == 0 ||
            (deadline != WEFT_FOREVER && weft__now(L) >= deadline))
            break;
        if (n > LOCAL_FDS && nodes == local && !(nodes = calloc(2 * n, sizeof *nodes))) {
            nodes = local;
            rc = -ENOMEM;
            break;
        }
        if ((rc = park_on(self, fds, n, nodes, deadline)) < 0)
            break;
    }
    if (nodes != local)
        free(nodes);
    return rc;
}

int poll(struct pollfd *fds, nfds_t n, int timeout)
{
    struct weft_task *self = weft__hook_task();
    if (!self || timeout == 0)
        return WEFT__REAL(poll)(fds, n, timeout);
    int saved = errno;
    return (int)weft__hook_ret(
        weft__hook_poll(self, fds, n, timeout < 0 ? -1 : (int64_t)timeout * 1000000), saved);
}

static int bad_timespec(const struct timespec *ts)
{
    return ts && (ts->tv_sec < 0 || ts->tv_nsec < 0 || ts->tv_nsec >= 1000000000);
}

int ppoll(struct pollfd *fds, nfds_t n, const struct timespec *ts, const sigset_t *mask)
{
    struct weft_task *self = weft__hook_task();
    if (!self || bad_timespec(ts) || (ts && !ts->tv_sec && !ts->tv_nsec))
        return WEFT__REAL(ppoll)(fds, n, ts, mask);
    int saved = errno;
    if (mask) {
        /* The mask applies to this look only: pending signals it lets
           through are delivered here (EINTR). */
        int rc = WEFT__REAL(ppoll)(fds, n, &(struct timespec){0, 0}, mask);
        if (rc != 0)
            return rc;
    }
    int64_t ns = ts ? (ts->tv_sec > WEFT_FOREVER / 1000000000 - 1
                           ? -1
                           : (int64_t)ts->tv_sec * 1000000000 + ts->tv_nsec)
                    : -1;
    return (int)weft__hook_ret(weft__hook_poll(self, fds, n, ns), saved);
}

int select(int nfds, fd_set *rd, fd_set *wr, fd_set *ex, struct timeval *tv)
{
    struct weft_task *self = weft__hook_task();
    if (!self || nfds < 0 || nfds > FD_SETSIZE ||
        (tv && (tv->tv_sec < 0 || tv->tv_usec < 0 || tv->tv_usec >= 1000000)) ||
        (tv && !tv->tv_sec && !tv->tv_usec))
        return WEFT__REAL(select)(nfds, rd, wr, ex, tv);
    int saved = errno;
    struct pollfd local[LOCAL_FDS], *fds = local;
    nfds_t n = 0;
    for (int fd = 0; fd < nfds; fd++)
        n += (rd && FD_ISSET(fd, rd)) || (wr && FD_ISSET(fd, wr)) || (ex && FD_ISSET(fd, ex));
    if (n > LOCAL_FDS && !(fds = malloc(n * sizeof *fds)))
        return (int)weft__hook_ret(-ENOMEM, saved);
    n = 0;
    for (int fd = 0; fd < nfds; fd++) {
        short ev = (short)((rd && FD_ISSET(fd, rd) ? POLLIN : 0) |
                           (wr && FD_ISSET(fd, wr) ? POLLOUT : 0) |
                           (ex && FD_ISSET(fd, ex) ? POLLPRI : 0));
        if (ev)
            fds[n++] = (struct pollfd){.fd = fd, .events = ev};
    }
    struct weft__loop *L = self->loop;
    int64_t ns = tv ? (int64_t)tv->tv_sec * 1000000000 + (int64_t)tv->tv_usec * 1000 : -1;
    int64_t start = weft__now(L);
    int rc = weft__hook_poll(self, fds, n, ns);
    for (nfds_t i = 0; rc >= 0 && i < n; i++)
        if (fds[i].revents & POLLNVAL)
            rc = -EBADF;
    if (rc >= 0) {
        /* Linux's select: the sets say what is ready, the count is of
           bits, the timeout is what was left. */
        if (rd) FD_ZERO(rd);
        if (wr) FD_ZERO(wr);
        if (ex) FD_ZERO(ex);
        rc = 0;
        for (nfds_t i = 0; i < n; i++) {
            short re = fds[i].revents, ev = fds[i].events;
            if ((ev & POLLIN) && (re & (POLLIN | POLLHUP | POLLERR)))
                FD_SET(fds[i].fd, rd), rc++;
            if ((ev & POLLOUT) && (re & (POLLOUT | POLLERR)))
                FD_SET(fds[i].fd, wr), rc++;
            if ((ev & POLLPRI) && (re & POLLPRI))
                FD_SET(fds[i].fd, ex), rc++;
        }
        if (tv) {
            int64_t left = ns - (weft__now(L) - start);
            left = left < 0 ? 0 : left;
            *tv = (struct timeval){(time_t)(left / 1000000000), (suseconds_t)(left % 1000000000 / 1000)};
        }
    }
    if (fds != local)
        free(fds);
    return (int)weft__hook_ret(rc, saved);
}
