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

#include <pthread.h>

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
    int closed;                 /* closed (weft__fd_forget): the record is
                                   kept for the next descriptor of that
                                   number, since close(2) may not free */
    int timeo_known;            /* hooks: bit i set when timeo[i] is known */
    int64_t timeo[2];           /* hooks: SO_RCVTIMEO, SO_SNDTIMEO in ns
                                   (0: none), applied per call */
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
    struct weft__part watching; /* watch.c's part, from the first watcher */
};

/* The loop's I/O state, created on first use; NULL when it cannot be. */
struct weft__io *weft__io_get(struct weft__loop *L);

/* Makes `fd` non-blocking (once: a descriptor that is stays so). 0 or a
   negative errno. When it changes the flag it notes that the caller's
   view is blocking (weft__fd_blocking). */
int weft__set_nonblock(int fd);

/* Process-wide: 1 when weft made `fd` non-blocking behind its owner's
   back, so that the hooks (weft/hook.h) make a call on it wait as the
   owner expects; weft__fd_set_blocking() changes it (descriptors up to
   WEFT__FD_MODE_MAX; beyond, always 0). Atomic, allocation-free: usable
   from any thread and from signal handlers. */
#define WEFT__FD_MODE_MAX (1 << 20)
extern uint64_t weft__fd_mode[WEFT__FD_MODE_MAX / 64];
static inline int weft__fd_blocking(int fd)
{
    if (fd < 0 || fd >= WEFT__FD_MODE_MAX)
        return 0;
    return (int)(__atomic_load_n(&weft__fd_mode[fd / 64], __ATOMIC_RELAXED) >> (fd % 64) & 1);
}
void weft__fd_set_blocking(int fd, int blocking);

/* The record of `fd` if the loop knows it (not closed), else NULL. Never
   allocates. */
static inline struct weft__fd *weft__fd_known(const struct weft__loop *L, int fd)
{
    struct weft__io *io = L->io;
    struct weft__fd *st;
    if (!io || fd < 0 || (size_t)fd >= io->nfds || !(st = io->fds[fd]) || st->closed)
        return NULL;
    return st;
}

/* The descriptor is being closed: its waiting tasks wake with -EBADF and
   the poller forgets it; the record stays, marked closed, for reuse. Never
   allocates or frees. */
void weft__fd_forget(struct weft__loop *L, int fd);

/* The record of `fd`, made known to the loop (non-blocking, in the poller)
   on first use; NULL with *rc set (-EBADF, -ENOMEM, ...). */
struct weft__fd *weft__fd_state(struct weft__loop *L, int fd, int *rc);

/* Parks the running task `self` until the descriptor of `st` may be ready
   for `events` (an edge came in), or the park ends otherwise. Returns the
   park's code. May suspend. */
int weft__fd_wait(struct weft__loop *L, struct weft_task *self, struct weft__fd *st,
                  int events);
/* The same, ending with 0 at loop time `wake_at` too (WEFT_FOREVER: no
   end of its own). */
int weft__fd_wait_until(struct weft__loop *L, struct weft_task *self, struct weft__fd *st,
                        int events, int64_t wake_at);

/* io.c: after a writable edge on a socket whose connect() was in
   progress: 0 once it has a peer, its error (-ECONNREFUSED, ...), or
   -EINPROGRESS while it is still connecting. */
int weft__connect_result(int fd);

/* True when something outside the tasks may still make one runnable:
   tasks waiting on descriptors, pool jobs, other threads holding the loop. */
int weft__io_pending(const struct weft__loop *L);

/* Polls for `timeout_ns` (0: look; < 0: without limit) and wakes the tasks
   whose descriptors are ready. Returns how many events came in. */
int weft__io_poll(struct weft__loop *L, int64_t timeout_ns);

/* At the end of weft_run(), after the loop's parts have ended
   (loop_parts.c): frees the descriptors' records and the poller. */
void weft__io_free(struct weft__loop *L);

/* A function posted to a loop (remote.c). */
struct weft__post {
    struct weft__list link;     /* in the loop's posts */
    void (*fn)(void *arg);      /* runs on the loop's thread */
    void (*drop)(void *arg);    /* runs instead if the loop ends first */
    void *arg;
    int owned;                  /* weft allocated it: freed after it ran */
};

/* remote.c: posts the caller's node `p` (fn, drop, arg set; it must stay
   alive until fn or drop has begun, and is not freed). 0 or -ESHUTDOWN. */
int weft__remote_post_node(struct weft_loop *loop, struct weft__post *p);

/* remote.c: runs what other threads posted (on the loop's thread). */
void weft__remote_drain(struct weft__loop *L);
/* remote.c: posts fn(arg) to the loop from any thread. 0 or -ESHUTDOWN /
   -ENOMEM. */
int weft__remote_post(struct weft_loop *loop, void (*fn)(void *arg), void *arg);
/* remote.c: weft__remote_post() with `drop`, which runs instead of fn (on
   the loop's thread, or the poster's if it has ended) when the loop ends
   before it could run fn. */
int weft__remote_post_drop(struct weft_loop *loop, void (*fn)(void *arg),
                           void (*drop)(void *arg), void *arg);
/* remote.c: queues a wake of `t` (a task of loop's) from another thread;
   the loop wakes it if t->xwait is still `node` then (or wakes every
   cross-loop waiter when too many wakes queue). 0, or -ESHUTDOWN when the
   loop has ended. Thread-safe; never suspends. */
int weft__remote_xwake(struct weft_loop *loop, struct weft_task *t, void *node);
/* remote.c: runs the posts and wakes queued now, without a system call;
   returns how many. On the loop's thread. */
int weft__remote_check(struct weft__loop *L);
/* remote.c: the loop is about to block in the poller for `timeout_ns` (< 0:
   no limit): 0, or -EAGAIN when something was queued meanwhile (then it
   must not block). A loop of a group polls the queue for a while first. */
int weft__remote_sleep(struct weft__loop *L, int64_t timeout_ns);
/* remote.c: the loop is back from the poller. */
void weft__remote_awake(struct weft__loop *L);
/* remote.c: one reference to `loop` stops keeping the loop alive (it still
   keeps the record). */
void weft__remote_unhold(struct weft_loop *loop);
/* remote.c: one more reference to `loop` (weft_loop_put() gives it back). */
void weft__remote_ref(struct weft_loop *loop);
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

/* signal.c: pthread_create() of a thread of weft's own (a worker, a loop
   after the first) with every asynchronous signal blocked: signals are
   for the loop that watches them (weft/signal.h), so no such thread may
   take one. The faults its code may raise (SIGSEGV, ...) stay deliverable.
   Returns pthread_create's result. */
int weft__thread_quiet(pthread_t *t, void *(*fn)(void *arg), void *arg);

#endif /* WEFT_IO_INTERNAL_H */
