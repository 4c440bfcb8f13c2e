/*
 * peer_epoll.c - the echo benchmark's peer: a hand-written single-threaded
 * epoll echo server, the limit of what one core does with this load.
 *
 * Level-triggered: one epoll_wait() per batch of ready connections, then
 * per request exactly one read() and one write() - no read that ends in
 * EAGAIN, no task switch. A write that cannot be finished (never seen with
 * the benchmark's small messages) keeps its rest and waits for EPOLLOUT
 * before that connection is read again.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"

enum { MAX_EVENTS = 1024, BUF_SIZE = 4096 };

/* The unwritten rest of an echo, per descriptor. */
struct pending {
    char *buf;
    size_t off, len;
};

static struct pending *pending;
static size_t npending;

static struct pending *pending_of(int fd)
{
    if ((size_t)fd >= npending) {
        size_t n = npending ? npending : 1024;
        while (n <= (size_t)fd)
            n *= 2;
        struct pending *p = realloc(pending, n * sizeof *p);
        if (!p)
            return NULL;
        memset(p + npending, 0, (n - npending) * sizeof *p);
        pending = p, npending = n;
    }
    return &pending[fd];
}

static void drop(int fd)
{
    if ((size_t)fd < npending) {
        free(pending[fd].buf);
        pending[fd] = (struct pending){0};
    }
    close(fd); /* also leaves the epoll set */
}

/* Writes what is pending on fd; 1 when all is written, 0 to wait, -1 on error. */
static int flush(int ep, int fd, struct pending *p)
{
    while (p->off < p->len) {
        ssize_t w = write(fd, p->buf + p->off, p->len - p->off);
        if (w < 0)
            return errno == EAGAIN ? 0 : -1;
        p->off += (size_t)w;
    }
    free(p->buf);
    *p = (struct pending){0};
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
    return epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev) < 0 ? -1 : 1;
}

int peer_epoll_echo_serve(int lfd)
{
    struct epoll_event evs[MAX_EVENTS];
    char buf[BUF_SIZE];
    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0)
        return -errno;
    struct epoll_event lev = {.events = EPOLLIN, .data.fd = lfd};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &lev) < 0)
        return -errno;
    for (;;) {
        int n = epoll_wait(ep, evs, MAX_EVENTS, -1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            if (fd == lfd) {
                int c;
                while ((c = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
                    struct epoll_event ev = {.events = EPOLLIN, .data.fd = c};
                    if (epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev) < 0)
                        close(c);
                }
                continue;
            }
            if (evs[i].events & EPOLLOUT) {
                if (flush(ep, fd, pending_of(fd)) < 0)
                    drop(fd);
                continue;
            }
            ssize_t r = read(fd, buf, sizeof buf);
            if (r <= 0) {
                if (r == 0 || errno != EAGAIN)
                    drop(fd);
                continue;
            }
            ssize_t w = write(fd, buf, (size_t)r);
            if (w == r)
                continue;
            if (w < 0 && errno != EAGAIN) {
                drop(fd);
                continue;
            }
            /* Keep the rest, stop reading until it is written. */
            struct pending *p = pending_of(fd);
            size_t done = w < 0 ? 0 : (size_t)w;
            struct epoll_event ev = {.events = EPOLLOUT, .data.fd = fd};
            if (!p || !(p->buf = malloc((size_t)r - done)) ||
                epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev) < 0) {
                drop(fd);
                continue;
            }
            memcpy(p->buf, buf + done, (size_t)r - done);
            p->off = 0, p->len = (size_t)r - done;
        }
    }
}
