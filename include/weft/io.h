/*
 * weft/io.h - I/O that suspends the task, not the thread: waiting for file
 * descriptors, socket calls, a worker pool for blocking calls, and the way
 * in from other threads.
 *
 * The loop polls descriptors with epoll when it has nothing to run (until
 * the next timer) and between ticks while tasks wait on descriptors. A
 * descriptor is registered with the loop the first time a task waits on it,
 * once, edge-triggered, and switched to O_NONBLOCK then; after that a call
 * tries the system call first and waits only on EAGAIN, so data already
 * there costs no extra system call. Every waiting call honours the task's
 * cancellation and the innermost timeout scope (-ECANCELED, -ETIMEDOUT).
 *
 * Close descriptors that tasks may wait on with weft_io_close(): it wakes
 * their waiters with -EBADF. A plain close(2) of a descriptor the loop
 * still knows does the same when the hooks (weft/hook.h) are linked, and
 * is undefined otherwise.
 */
#ifndef WEFT_IO_H
#define WEFT_IO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "weft/task.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/* Descriptors                                                              */
/* ------------------------------------------------------------------------ */

enum {
    WEFT_IO_READ = 1,   /* readable, or its peer closed */
    WEFT_IO_WRITE = 2   /* writable */
};

/*
 * Waits until `fd` is ready for `events` (WEFT_IO_READ, WEFT_IO_WRITE or
 * both; ready for any of them ends the wait). Returns the events ready (> 0);
 * -EBADF (not a descriptor, or closed with weft_io_close() meanwhile);
 * -EINVAL (bad events); -EPERM (outside a task); -ECANCELED / -ETIMEDOUT.
 * Errors and hang-ups count as ready for both. May suspend.
 */
int weft_io_wait(int fd, int events);

/*
 * Closes `fd`: tasks waiting on it wake with -EBADF, the loop forgets it,
 * then close(2). Returns 0 or the negative errno of close(2). Never
 * suspends; usable outside a loop (then it is close(2)).
 */
int weft_io_close(int fd);

/*
 * read(2), write(2), recv(2), send(2) that wait while the descriptor is not
 * ready. Return the byte count (0 from read/recv: end of file) or a
 * negative errno (-ECONNRESET, -EPIPE, ...; -EBADF when closed by
 * weft_io_close() while waiting; -ECANCELED / -ETIMEDOUT with nothing
 * transferred). Outside a task they never wait: they return -EAGAIN when
 * the call cannot proceed now (outside a loop too: the descriptor is made
 * non-blocking, as inside one). None of them raises SIGPIPE: a write to a
 * socket whose peer has gone, or to a pipe whose reader has closed, returns
 * -EPIPE (sockets are written with send(MSG_NOSIGNAL); a pipe's write runs
 * with SIGPIPE blocked on the thread, and the SIGPIPE it queued is taken
 * back, unless the caller had blocked SIGPIPE itself). May suspend.
 */
ssize_t weft_read(int fd, void *buf, size_t n);
ssize_t weft_write(int fd, const void *buf, size_t n);
ssize_t weft_recv(int fd, void *buf, size_t n, int flags);
ssize_t weft_send(int fd, const void *buf, size_t n, int flags);

/*
 * Writes all `n` bytes, waiting as often as needed. Returns n, or a
 * negative errno; when cancelled or timed out part way, the count written
 * so far is lost to the caller (the error is returned). May suspend.
 */
ssize_t weft_write_all(int fd, const void *buf, size_t n);

/*
 * accept4(2) that waits for a connection. The new descriptor is
 * non-blocking and close-on-exec; the caller owns it (close it with
 * weft_io_close()). Returns it, or a negative errno. May suspend.
 */
int weft_accept(int fd, struct sockaddr *addr, socklen_t *addrlen);

/*
 * connect(2) on a socket, waiting for the connection to complete; the error
 * of a failed connection (-ECONNREFUSED, ...) is returned. 0 or a negative
 * errno. May suspend.
 */
int weft_connect(int fd, const struct sockaddr *addr, socklen_t addrlen);

/*
 * A listening TCP socket bound to `host` (NULL or "" for any address; a
 * numeric address or a name) and `port` (0 for any: see getsockname(2)),
 * with SO_REUSEADDR, non-blocking and close-on-exec. Returns the
 * descriptor (the caller owns it) or a negative errno. Name lookup runs on
 * the worker pool inside a task and inline outside one. May suspend.
 */
int weft_tcp_listen(const char *host, int port, int backlog);

/* weft_tcp_listen_flags() flag: SO_REUSEPORT, so that several sockets
   (one per loop, weft/loops.h) listen on one port and the kernel spreads
   the connections over them. */
#define WEFT_TCP_REUSEPORT 1

/*
 * weft_tcp_listen() with `flags` (0 or WEFT_TCP_REUSEPORT). Same returns,
 * and -EINVAL for an unknown flag. With WEFT_TCP_REUSEPORT every socket
 * on the port must have it; port 0 picks a port for the first, whose
 * number (getsockname(2)) the others then pass. May suspend.
 */
int weft_tcp_listen_flags(const char *host, int port, int backlog, int flags);

/*
 * A TCP connection to `host`:`port`, trying each address getaddrinfo(3)
 * gives (the lookup runs on the worker pool). Returns the connected,
 * non-blocking descriptor (the caller owns it) or a negative errno
 * (-ECONNREFUSED, -EHOSTUNREACH, ...; name lookup failures are -ENOENT).
 * May suspend.
 */
int weft_tcp_connect(const char *host, int port);

/* ------------------------------------------------------------------------ */
/* Descriptor watchers                                                      */
/* ------------------------------------------------------------------------ */

/*
 * A callback run on the loop while a descriptor is ready (asyncio's
 * add_reader / add_writer), for event-driven libraries that do their own
 * reads and writes (c-ares, libcurl's multi interface). Heap record from
 * weft_watch_start(), freed by weft_watch_cancel().
 */
typedef struct weft_watch weft_watch;

/* The callback: `events` are the watched ones ready now (WEFT_IO_*). Runs
   on the loop's own stack, like weft_call_soon() callbacks: it must not
   suspend. */
typedef void (*weft_watch_fn)(int fd, int events, void *arg);

/*
 * Calls fn(fd, events, arg) on this thread's loop while `fd` is ready for
 * `events` (WEFT_IO_READ, WEFT_IO_WRITE or both): level-triggered, once a
 * tick while it stays ready, starting with the next tick if it is ready
 * already. The descriptor becomes known to the loop (and non-blocking), as
 * with weft_io_wait(). Several watchers may watch one descriptor. After
 * weft_io_close(fd) the watcher is never called again, but must still be
 * cancelled. Returns 0 with *out set; -EINVAL (NULL out or fn, bad
 * events); -EBADF; -EPERM (no loop on this thread); -ENOMEM.
 * Never suspends.
 */
int weft_watch_start(weft_watch **out, int fd, int events, weft_watch_fn fn, void *arg);

/*
 * Stops a watcher and frees it: fn is not called again. Call it exactly
 * once per watcher, from a task or callback of its loop, including from
 * fn itself (the record is freed when fn returns). Watchers still active
 * when weft_run() returns are freed by it: the pointer is dead then.
 * Returns 0; -EINVAL (NULL); -EPERM (not on its loop's thread); -EALREADY
 * (cancelled twice from inside its own callback). Never suspends.
 */
int weft_watch_cancel(weft_watch *w);

/* ------------------------------------------------------------------------ */
/* Worker pool                                                              */
/* ------------------------------------------------------------------------ */

/*
 * Runs fn(arg) on a thread of the loop's worker pool while the calling task
 * waits (asyncio.to_thread). *result (if not NULL) receives its return
 * value. The pool starts its threads on first use, at most
 * weft_loop_opts.workers of them (4 by default); jobs beyond that wait
 * their turn. If the task is cancelled or its scope expires, it stops
 * waiting at once and returns -ECANCELED / -ETIMEDOUT; fn still runs to
 * its end and its result is discarded. weft_run() waits for jobs still
 * running before it returns. Worker threads run with every asynchronous
 * signal blocked: signals are for the loop (weft/signal.h), and fn never
 * receives one. Returns 0; -EINVAL (NULL fn); -EPERM outside a
 * task; -ENOMEM; -EAGAIN (no thread could be started). May suspend.
 */
int weft_to_thread(void *(*fn)(void *arg), void *arg, void **result);

/* ------------------------------------------------------------------------ */
/* From other threads                                                       */
/* ------------------------------------------------------------------------ */

/*
 * A reference to a running loop that other threads may hold. weft_run()
 * creates it; weft_loop_get() (in a task or callback of that loop) returns
 * a new reference, which the holder - on any thread - gives back with
 * weft_loop_put(). After the loop has ended, the calls below return
 * -ESHUTDOWN; the reference itself stays valid until put.
 */
typedef struct weft_loop weft_loop;

/* A new reference to this thread's running loop, or NULL outside one.
   Never suspends. */
weft_loop *weft_loop_get(void);

/* Gives a reference back. Thread-safe. */
void weft_loop_put(weft_loop *loop);

/*
 * Runs fn(arg) as a callback on `loop` soon (call_soon_threadsafe). Thread-
 * safe; wakes the loop if it is waiting. Returns 0; -EINVAL; -ENOMEM;
 * -ESHUTDOWN (the loop has ended: fn will not run).
 */
int weft_call_soon_threadsafe(weft_loop *loop, void (*fn)(void *arg), void *arg);

/*
 * The outcome of a task spawned from another thread: a future that thread
 * can block on (run_coroutine_threadsafe). Freed with
 * weft_remote_free().
 */
typedef struct weft_remote weft_remote;

/*
 * Spawns fn(arg) as a task on `loop` from any thread. *out receives the
 * future of its outcome. Thread-safe. Returns 0; -EINVAL; -ENOMEM;
 * -ESHUTDOWN (the loop has ended: nothing spawned).
 */
int weft_spawn_threadsafe(weft_loop *loop, weft_task_fn fn, void *arg, weft_remote **out);

/*
 * Blocks the calling thread (not a task of that loop!) until the task has
 * ended; returns its outcome as weft_task_result() does, with *result set.
 * -ESHUTDOWN if the loop ended before the task could run. Thread-safe.
 */
int weft_remote_wait(weft_remote *r, void **result);

/* Frees the future (waiting first if the task has not ended). */
void weft_remote_free(weft_remote *r);

#ifdef __cplusplus
}
#endif

#endif /* WEFT_IO_H */
