/*
 * hook_internal.h - what the hook files (hook_*.c, weft/hook.h) share: the
 * real functions the hooks stand in front of, whether a call is hooked,
 * the errno rule, and the wait loop of the transfer calls.
 */
#ifndef WEFT_HOOK_INTERNAL_H
#define WEFT_HOOK_INTERNAL_H

#define _GNU_SOURCE
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>

#include "weft/hook.h"
#include "io_internal.h"

/*
 * The next definition of each hooked function (libc's, or a sanitizer's
 * interceptor): resolved all at once before main (a constructor) or, for a
 * call that comes earlier, on first use.
 */
struct weft__hook_real {
    ssize_t (*read)(int, void *, size_t);
    ssize_t (*write)(int, const void *, size_t);
    ssize_t (*readv)(int, const struct iovec *, int);
    ssize_t (*writev)(int, const struct iovec *, int);
    ssize_t (*recv)(int, void *, size_t, int);
    ssize_t (*recvfrom)(int, void *, size_t, int, struct sockaddr *, socklen_t *);
    ssize_t (*recvmsg)(int, struct msghdr *, int);
    ssize_t (*send)(int, const void *, size_t, int);
    ssize_t (*sendto)(int, const void *, size_t, int, const struct sockaddr *, socklen_t);
    ssize_t (*sendmsg)(int, const struct msghdr *, int);
    int (*accept)(int, struct sockaddr *, socklen_t *);
    int (*accept4)(int, struct sockaddr *, socklen_t *, int);
    int (*connect)(int, const struct sockaddr *, socklen_t);
    int (*poll)(struct pollfd *, nfds_t, int);
    int (*ppoll)(struct pollfd *, nfds_t, const struct timespec *, const sigset_t *);
    int (*select)(int, fd_set *, fd_set *, fd_set *, struct timeval *);
    unsigned (*sleep)(unsigned);
    int (*usleep)(useconds_t);
    int (*nanosleep)(const struct timespec *, struct timespec *);
    int (*clock_nanosleep)(clockid_t, int, const struct timespec *, struct timespec *);
    int (*close)(int);
    int (*dup)(int);
    int (*dup2)(int, int);
    int (*dup3)(int, int, int);
    int (*fcntl)(int, int, ...);
    int (*fcntl64)(int, int, ...);
    int (*ioctl)(int, unsigned long, ...);
    int (*setsockopt)(int, int, int, const void *, socklen_t);
    int (*socket)(int, int, int);
    int (*socketpair)(int, int, int, int *);
    int (*pipe)(int *);
    int (*pipe2)(int *, int);
    int (*eventfd)(unsigned, int);
    int (*getaddrinfo)(const char *, const char *, const struct addrinfo *,
                       struct addrinfo **);
};
extern struct weft__hook_real weft__real;

/* Resolves every entry of weft__real that is still NULL. */
void weft__hook_resolve(void);

/* The real `name`, resolved now if no constructor has run yet. */
#define WEFT__REAL(name) \
    (__builtin_expect(weft__real.name != NULL, 1) ? weft__real.name \
                                                   : (weft__hook_resolve(), weft__real.name))

/* 1 once weft_hook_enable() ran (until weft_hook_disable()). */
extern int weft__hook_on;
/* Per thread: 1 when the thread turned the hooks off. */
extern __thread int weft__hook_off __attribute__((tls_model("initial-exec")));

/* The task a hooked call may suspend, or NULL: the call is the real one. */
static inline struct weft_task *weft__hook_task(void)
{
    if (!__atomic_load_n(&weft__hook_on, __ATOMIC_RELAXED) || weft__hook_off)
        return NULL;
    return weft__self();
}

/* The errno rule: a result >= 0 returns with errno as it was (`saved`);
   a negative errno becomes -1 with errno set. */
static inline ssize_t weft__hook_ret(ssize_t r, int saved)
{
    if (r < 0) {
        errno = (int)-r;
        return -1;
    }
    errno = saved;
    return r;
}

/*
 * One transfer on `fd` in direction `dir` (WEFT_IO_READ / WEFT_IO_WRITE):
 * `op` makes the real call, returning its result, or -errno with errno
 * put back as it was. Blocking as the caller's view of the descriptor
 * says, cooperatively in a task. Returns the result or -errno, with errno
 * as the caller had it (restored after a wait, when other tasks ran): the
 * caller sets errno for a failure. May suspend.
 */
typedef ssize_t (*weft__hook_op)(int fd, void *ctx);
ssize_t weft__hook_xfer(int fd, int dir, weft__hook_op op, void *ctx);

/* In a task: makes `fd` known to the loop if it is a socket, pipe or other
   pollable non-terminal; returns its record or NULL. May allocate. */
struct weft__fd *weft__hook_adopt(struct weft__loop *L, int fd);

/* A new descriptor from a hooked call: forget any stale mode, and in a task
   make it known - unless it was made non-blocking (`nonblock`): the hooks
   never wait on it in a transfer, and poll makes it known when it must
   (weft's own descriptors are made so, and stay the loop's business). */
void weft__hook_new_fd(int fd, int nonblock);

/* The loop time `ts` (relative) from now, or WEFT_FOREVER for NULL. */
int64_t weft__hook_deadline(struct weft__loop *L, const struct timespec *ts);

/* hook_poll.c: poll(2) with a timeout in ns (< 0: none) in task `self`.
   Returns the count or -errno. May suspend. */
int weft__hook_poll(struct weft_task *self, struct pollfd *fds, nfds_t n, int64_t timeout_ns);

/* One per hook file: weft_hook_enable() refers to them all, so that a
   static link pulls every file in even when something linked before it
   (a sanitizer's runtime) already defines read, write, ... */
extern const char weft__hook_io_linked, weft__hook_sock_linked, weft__hook_fd_linked,
    weft__hook_poll_linked, weft__hook_sleep_linked, weft__hook_dns_linked;

#endif /* WEFT_HOOK_INTERNAL_H */
