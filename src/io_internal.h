/*
 * io_internal.h - the loop's I/O state, shared by io_fd.c (descriptors),
 * io.c (socket calls), thread_pool.c (the worker pool), remote.c (other
 * threads) and the loop (which polls when it would otherwise idle, and
 * between ticks).
 *
 * Created on first use, so a loop that does no I/O costs no descriptor.
 */
#ifndef WEFT_IO_INTERNAL_H
#define WEFT_IO_INTERNAL_H

#include "weft/io.h"
#include "weft/sync.h"
#include "loop.h"
#include "poller.h"

/* What the loop knows of one descriptor. */
struct weft__fd {
    weft_waitq_ readers;        /* tasks waiting to read */
    weft_waitq_ writers;        /* tasks waiting to write */
    int ready;                  /* WEFT_IO_* seen since the last EAGAIN */
    struct weft_watch *watches; /* callbacks watching it (watch.c), a chain */
    int sock;                   /* 1 a socket, -1 a pipe or FIFO, -2 neither,
                                   0 not known (a file): how weft_write()
                                   keeps SIGPIPE away (io.c) */
    int stream;                 /* a stream socket or a pipe: a short read
                                   takes all there is */
    int drained;                /* a short read emptied it and no edge came
                                   since: the next read waits first */
    int hup;                    /* the poller saw a hang-up or error; sticky,
                                   so a short read never waits for an edge
                                   that already came (EOF must be seen) */
};

struct weft__pool;
struct weft__signals;

struct weft__io {
    struct weft__poll poll;     /* the epoll instance */
    struct weft__fd **fds;      /* by descriptor; NULL when unknown */
    size_t nfds;                /* length of fds */
    struct weft_loop *remote;   /* the handle other threads use, or NULL */
    int wake_fd;                /* eventfd other threads write to, or -1 */
    struct weft__pool *pool;    /* the worker pool, or NULL */
    struct weft__signals *signals; /* signals the loop watches (signal.c) */
    struct weft__list watches;  /* every struct weft_watch not cancelled */
    size_t nwatches;            /* its length: watched descriptors keep the
                                   loop polling */
};

/* The loop's I/O state, created on first use; NULL when it cannot be. */
struct weft__io *weft__io_get(struct weft__loop *L);

/* Makes `fd` non-blocking (once: a descriptor that is stays so). 0 or a
   negative errno. */
int weft__set_nonblock(int fd);

/* The record of `fd`, made known to the loop (non-blocking, in the poller)
   on first use; NULL with *rc set (-EBADF, -ENOMEM, ...). */
struct weft__fd *weft__fd_state(struct weft__loop *L, int fd, int *rc);

/* Parks the running task `self` until the descriptor of `st` may be ready
   for `events` (an edge came in), or the park ends otherwise. Returns the
   park's code. May suspend. */
int weft__fd_wait(struct weft__loop *L, struct weft_task *self, struct weft__fd *st,
                  int events);

/* True when something outside the tasks may still make one runnable:
   tasks waiting on descriptors, pool jobs, other threads holding the loop. */
int weft__io_pending(const struct weft__loop *L);

/* Polls for `timeout_ns` (0: look; < 0: without limit) and wakes the tasks
   whose descriptors are ready. Returns how many events came in. */
int weft__io_poll(struct weft__loop *L, int64_t timeout_ns);

/* At the end of weft_run(): waits for pool jobs, shuts the way in from
   other threads, frees the descriptors' records and the poller. */
void weft__io_free(struct weft__loop *L);

/* remote.c: runs what other threads posted (on the loop's thread). */
void weft__remote_drain(struct weft__loop *L);
/* remote.c: the loop has ended; later posts fail with -ESHUTDOWN. */
void weft__remote_close(struct weft__loop *L);
/* remote.c: posts fn(arg) to the loop from any thread. 0 or -ESHUTDOWN /
   -ENOMEM. */
int weft__remote_post(struct weft_loop *loop, void (*fn)(void *arg), void *arg);
/* remote.c: the handle of L, created on first use (NULL on failure). */
struct weft_loop *weft__remote_of(struct weft__loop *L);
/* remote.c: 1 while threads other than the loop hold references, or posts
   wait to be taken. */
int weft__remote_held(const struct weft__loop *L);

/* watch.c: the descriptor of `st` had an edge for `events` (WEFT__POLL_*):
   its watchers' callbacks are due. */
void weft__watch_ready(struct weft__loop *L, struct weft__fd *st, int events);
/* watch.c: the descriptor of `st` is being closed: its watchers go quiet
   (their owners still cancel them). */
void weft__watch_detach(struct weft__fd *st);
/* watch.c: the loop ends: frees the watchers never cancelled. */
void weft__watch_free_all(struct weft__loop *L);

/* signal.c: the loop ends: gives its signals up, restoring the mask. */
void weft__signal_free(struct weft__loop *L);

/* thread_pool.c: stops and joins the workers after their jobs. */
void weft__pool_free(struct weft__loop *L);

#endif /* WEFT_IO_INTERNAL_H */
