/*
 * io_epoll.c - the epoll backend of the poller (poller.h).
 *
 * Edge-triggered registration for both directions, made once per
 * descriptor: after that no epoll_ctl is needed per operation, and the
 * loop's own readiness bookkeeping (io.c) decides who to wake.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "poller.h"

enum { BATCH = 256 };           /* events taken per epoll_wait */

int weft__poll_init(struct weft__poll *p)
{
    p->fd = epoll_create1(EPOLL_CLOEXEC);
    return p->fd < 0 ? -errno : 0;
}

int weft__poll_add(struct weft__poll *p, int fd)
{
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
                             .data.fd = fd};
    return epoll_ctl(p->fd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

void weft__poll_del(struct weft__poll *p, int fd)
{
    epoll_ctl(p->fd, EPOLL_CTL_DEL, fd, NULL);
}

int weft__poll_wait(struct weft__poll *p, int64_t timeout_ns,
                    void (*ready)(void *ctx, int fd, int events), void *ctx)
{
    struct epoll_event evs[BATCH];
    int ms = timeout_ns < 0 ? -1
           : timeout_ns == 0 ? 0
           : (int)((timeout_ns + 999999) / 1000000 > 1 << 30 ? 1 << 30
                                                               : (timeout_ns + 999999) / 1000000);
    int n = epoll_wait(p->fd, evs, BATCH, ms);
    if (n < 0)
        return errno == EINTR ? 0 : -errno;
    for (int i = 0; i < n; i++) {
        uint32_t e = evs[i].events;
        int events = 0;
        if (e & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
            events |= WEFT__POLL_IN;
        if (e & (EPOLLOUT | EPOLLHUP | EPOLLERR))
            events |= WEFT__POLL_OUT;
        if (e & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))
            events |= WEFT__POLL_HUP;
        ready(ctx, evs[i].data.fd, events);
    }
    return n;
}

void weft__poll_free(struct weft__poll *p)
{
    if (p->fd >= 0)
        close(p->fd);
    p->fd = -1;
}
