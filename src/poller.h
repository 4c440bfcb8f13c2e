/*
 * poller.h - the poller behind the loop: a small interface with one backend
 * per system (io_epoll.c on Linux), in the manner of redis's ae.
 *
 * Descriptors are added once, edge-triggered for reading and writing; the
 * loop learns of readiness through the callback of weft__poll_wait().
 */
#ifndef WEFT_POLLER_H
#define WEFT_POLLER_H

#include <stdint.h>

enum {
    WEFT__POLL_IN = 1,          /* readable, hung up or in error */
    WEFT__POLL_OUT = 2,         /* writable, hung up or in error */
    WEFT__POLL_HUP = 4          /* the peer hung up, or an error: for good */
};

struct weft__poll {
    int fd;                     /* the epoll instance */
};

/* Creates the poller. 0 or a negative errno. */
int weft__poll_init(struct weft__poll *p);

/* Watches `fd` for both directions from now on. 0 or a negative errno. */
int weft__poll_add(struct weft__poll *p, int fd);

/* Stops watching `fd` (before it is closed). */
void weft__poll_del(struct weft__poll *p, int fd);

/*
 * Waits up to `timeout_ns` (0: just look; < 0: without limit) and calls
 * ready(ctx, fd, events) for each ready descriptor. Returns how many, or a
 * negative errno (-EINTR is reported as 0).
 */
int weft__poll_wait(struct weft__poll *p, int64_t timeout_ns,
                    void (*ready)(void *ctx, int fd, int events), void *ctx);

/* Closes the poller. */
void weft__poll_free(struct weft__poll *p);

#endif /* WEFT_POLLER_H */
