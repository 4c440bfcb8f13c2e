/*
 * hook_core.c - the machinery under every hook (weft/hook.h): the real
 * functions behind the hooks, turning the hooks on and off, and the wait
 * loop of the transfer calls (read, write, recv, send, accept, ...).
 *
 * Invariants:
 * - A hook suspends only inside a task with the hooks on (process and
 *   thread), and only on a descriptor its loop knows whose caller's view is
 *   blocking (weft__fd_blocking); everywhere else it is the real call, and
 *   a descriptor that weft made non-blocking behind its owner's back is
 *   waited for with the real poll(2), so its owner still sees it block.
 * - The path of a call that does not wait allocates nothing and takes no
 *   lock (signal handlers call write): thread-locals are initial-exec and
 *   the real functions are resolved before main.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <unistd.h>

#include "hook_internal.h"

struct weft__hook_real weft__real;
int weft__hook_on;
__thread int weft__hook_off __attribute__((tls_model("initial-exec")));

#define RESOLVE(name)                                                       \
    do {                                                                    \
        if (!weft__real.name)                                               \
            *(void **)&weft__real.name = dlsym(RTLD_NEXT, #name);          \
    } while (0)

void weft__hook_resolve(void)
{
    RESOLVE(read); RESOLVE(write); RESOLVE(readv); RESOLVE(writev);
    RESOLVE(recv); RESOLVE(recvfrom); RESOLVE(recvmsg);
    RESOLVE(send); RESOLVE(sendto); RESOLVE(sendmsg);
    RESOLVE(accept); RESOLVE(accept4); RESOLVE(connect);
    RESOLVE(poll); RESOLVE(ppoll); RESOLVE(select);
    RESOLVE(sleep); RESOLVE(usleep); RESOLVE(nanosleep); RESOLVE(clock_nanosleep);
    RESOLVE(close); RESOLVE(dup); RESOLVE(dup2); RESOLVE(dup3);
    RESOLVE(fcntl); RESOLVE(fcntl64); RESOLVE(ioctl); RESOLVE(setsockopt);
    RESOLVE(socket); RESOLVE(socketpair); RESOLVE(pipe); RESOLVE(pipe2);
    RESOLVE(eventfd); RESOLVE(getaddrinfo);
    if (!weft__real.fcntl64)    /* a libc older than fcntl64 */
        weft__real.fcntl64 = weft__real.fcntl;
}

/* Before main, so that no hooked call resolves anything later. */
__attribute__((constructor)) static void resolve_early(void)
{
    weft__hook_resolve();
}

/* Every hook file, and every interposer, which must be what the process's
   lookups find. */
static const char *const linked[] = {
    &weft__hook_io_linked, &weft__hook_sock_linked, &weft__hook_fd_linked,
    &weft__hook_poll_linked, &weft__hook_sleep_linked, &weft__hook_dns_linked,
};
static void *const interposers[] = {
    (void *)read, (void *)write, (void *)readv, (void *)writev,
    (void *)recv, (void *)recvfrom, (void *)recvmsg,
    (void *)send, (void *)sendto, (void *)sendmsg,
    (void *)accept, (void *)accept4, (void *)connect,
    (void *)poll, (void *)ppoll, (void *)select,
    (void *)sleep, (void *)usleep, (void *)nanosleep, (void *)clock_nanosleep,
    (void *)close, (void *)dup, (void *)dup2, (void *)dup3,
    (void *)fcntl, (void *)ioctl, (void *)setsockopt,
    (void *)socket, (void *)socketpair, (void *)pipe, (void *)pipe2,
    (void *)eventfd, (void *)getaddrinfo,
};

int weft_hook_enable(void)
{
    weft__hook_resolve();
    for (size_t i = 0; i < sizeof linked / sizeof linked[0]; i++)
        if (!*(volatile const char *)linked[i])
            return -ENOSYS;
    /* Each interposer must be what the process's own lookups find: else
       the executable does not export it and shared libraries miss it. */
    for (size_t i = 0; i < sizeof interposers / sizeof interposers[0]; i++) {
        Dl_info info;
        if (!dladdr(interposers[i], &info) || !info.dli_sname ||
            dlsym(RTLD_DEFAULT, info.dli_sname) != interposers[i])
            return -ENOSYS;
    }
    __atomic_store_n(&weft__hook_on, 1, __ATOMIC_RELEASE);
    return 0;
}

void weft_hook_disable(void)
{
    __atomic_store_n(&weft__hook_on, 0, __ATOMIC_RELEASE);
}

int weft_hook_thread(int on)
{
    int was = !weft__hook_off;
    weft__hook_off = !on;
    return was;
}

int64_t weft__hook_deadline(struct weft__loop *L, const struct timespec *ts)
{
    if (!ts)
        return WEFT_FOREVER;
    if (ts->tv_sec < 0 || ts->tv_sec > (WEFT_FOREVER / 1000000000) - 1)
        return ts->tv_sec < 0 ? weft__now(L) : WEFT_FOREVER;
    return weft__after(weft__now(L), (int64_t)ts->tv_sec * 1000000000 + ts->tv_nsec);
}

struct weft__fd *weft__hook_adopt(struct weft__loop *L, int fd)
{
    struct stat sb;
    int rc;
    if (fstat(fd, &sb) < 0 || S_ISREG(sb.st_mode) || S_ISCHR(sb.st_mode) ||
        S_ISBLK(sb.st_mode) || S_ISDIR(sb.st_mode))
        return NULL;            /* left to the kernel */
    return weft__fd_state(L, fd, &rc);
}

void weft__hook_new_fd(int fd, int nonblock)
{
    struct weft__loop *L = weft__loop;
    if (fd < 0)
        return;
    if (L)
        weft__fd_forget(L, fd); /* a record left by a close the hooks missed */
    weft__fd_set_blocking(fd, 0);
    if (!nonblock && weft__hook_task())
        weft__hook_adopt(L, fd);
}

/* The caller's SO_RCVTIMEO (reads) or SO_SNDTIMEO (writes) as a loop
   deadline for this call, WEFT_FOREVER for none. */
static int64_t call_deadline(struct weft__loop *L, struct weft__fd *st, int fd, int dir)
{
    int i = dir == WEFT_IO_READ ? 0 : 1;
    if (!(st->timeo_known & (1 << i))) {
        struct timeval tv = {0, 0};
        socklen_t len = sizeof tv;
        if (getsockopt(fd, SOL_SOCKET, i ? SO_SNDTIMEO : SO_RCVTIMEO, &tv, &len) < 0)
            tv = (struct timeval){0, 0};        /* not a socket */
        st->timeo[i] = (int64_t)tv.tv_sec * 1000000000 + (int64_t)tv.tv_usec * 1000;
        st->timeo_known |= 1 << i;
    }
    int64_t ns = st->timeo[i];
    return ns > 0 ? weft__after(weft__now(L), ns) : WEFT_FOREVER;
}

/* Outside a task: the real call, and for a descriptor that weft made
   non-blocking behind its owner's back, the real poll(2) in its place. */
static ssize_t xfer_thread(int fd, int dir, weft__hook_op op, void *ctx)
{
    ssize_t r = op(fd, ctx);
    if ((r != -EAGAIN && r != -EWOULDBLOCK) || !__atomic_load_n(&weft__hook_on, __ATOMIC_RELAXED) ||
        !weft__fd_blocking(fd))
        return r;
    struct timeval tv = {0, 0};
    socklen_t len = sizeof tv;
    int e = errno;
    if (getsockopt(fd, SOL_SOCKET, dir == WEFT_IO_READ ? SO_RCVTIMEO : SO_SNDTIMEO, &tv,
                   &len) < 0)
        tv = (struct timeval){0, 0};
    errno = e;
    int ms = tv.tv_sec || tv.tv_usec ? (int)(tv.tv_sec * 1000 + (tv.tv_usec + 999) / 1000) : -1;
    for (;;) {
        struct pollfd p = {.fd = fd, .events = dir == WEFT_IO_READ ? POLLIN : POLLOUT};
        int n = WEFT__REAL(poll)(&p, 1, ms);
        if (n < 0) {
            n = -errno;
            errno = e;
            return n;
        }
        if (n == 0)
            return -EAGAIN;     /* SO_RCVTIMEO / SO_SNDTIMEO expired */
        r = op(fd, ctx);
        if (r != -EAGAIN && r != -EWOULDBLOCK)
            return r;
    }
}

/* The waits of a transfer whose first try gave EAGAIN, on a known
   descriptor whose caller's view is blocking. Apart from the fast path so
   that it stays lean. */
__attribute__((noinline)) static ssize_t xfer_wait(struct weft_task *self,
                                                   struct weft__fd *st, int fd, int dir,
                                                   weft__hook_op op, void *ctx)
{
    struct weft__loop *L = self->loop;
    int saved = errno;          /* other tasks run while this one waits */
    int64_t deadline = call_deadline(L, st, fd, dir);
    ssize_t r;
    for (;;) {
        st->ready &= ~dir;
        int rc = weft__fd_wait_until(L, self, st, dir, deadline);
        if (rc < 0) {
            r = rc;
            break;
        }
        if (!(st = weft__fd_known(L, fd))) {
            r = -EBADF;         /* closed while waiting */
            break;
        }
        r = op(fd, ctx);
        if (r != -EAGAIN && r != -EWOULDBLOCK)
            break;
        if (deadline != WEFT_FOREVER && weft__now(L) >= deadline)
            break;              /* EAGAIN, as the kernel says at the timeout */
    }
    errno = saved;
    return r;
}

/* A descriptor this task's loop does not know: a copy (dup) or another
   loop's that weft made non-blocking becomes known; else the thread's
   call. */
__attribute__((noinline)) static ssize_t xfer_unknown(struct weft_task *self, int fd, int dir,
                                                      weft__hook_op op, void *ctx)
{
    struct weft__fd *st;
    if (!self || !weft__fd_blocking(fd) || !(st = weft__hook_adopt(self->loop, fd)))
        return xfer_thread(fd, dir, op, ctx);
    ssize_t r = op(fd, ctx);
    if (r != -EAGAIN && r != -EWOULDBLOCK)
        return r;
    return xfer_wait(self, st, fd, dir, op, ctx);
}

ssize_t weft__hook_xfer(int fd, int dir, weft__hook_op op, void *ctx)
{
    struct weft_task *self = weft__hook_task();
    struct weft__fd *st;
    if (!self || !(st = weft__fd_known(self->loop, fd)))
        return xfer_unknown(self, fd, dir, op, ctx);
    ssize_t r = op(fd, ctx);
    if ((r != -EAGAIN && r != -EWOULDBLOCK) || !weft__fd_blocking(fd))
        return r;               /* done, or the caller made it non-blocking:
                                   errno untouched */
    return xfer_wait(self, st, fd, dir, op, ctx);
}
