/*
 * hook_fd.c - descriptor bookkeeping of weft/hook.h: close, dup, dup2,
 * dup3, fcntl (F_GETFL, F_SETFL, F_DUPFD*), ioctl (FIONBIO), pipe, pipe2,
 * eventfd.
 *
 * The kernel's O_NONBLOCK is the loop's (every known descriptor has it);
 * the caller's is the process-wide bit of weft__fd_blocking, which these
 * calls report and change. A copy (dup) shares its original's open file,
 * so it shares the bit too. Closing wakes the descriptor's waiting tasks
 * with EBADF (weft__fd_forget) and frees nothing: close is
 * async-signal-safe.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "hook_internal.h"

/* Referred to by weft_hook_enable(): pulls this file into a static link. */
const char weft__hook_fd_linked = 1;

static int hooks_on(void)
{
    return __atomic_load_n(&weft__hook_on, __ATOMIC_RELAXED);
}

/* True when the caller's blocking mode of fd is kept apart from the
   kernel's: weft made it non-blocking, or the loop knows it. */
static int managed(int fd)
{
    return weft__fd_blocking(fd) || (weft__loop && weft__fd_known(weft__loop, fd));
}

/* The descriptor number `fd` is about to name something else. */
static void retire(int fd)
{
    if (weft__loop)
        weft__fd_forget(weft__loop, fd);
    weft__fd_set_blocking(fd, 0);
}

/* `copy` now names the open file of `fd`. */
static void copied(int fd, int copy)
{
    int blocking = weft__fd_blocking(fd);
    struct weft_task *self = weft__hook_task();
    weft__hook_new_fd(copy, 1);
    weft__fd_set_blocking(copy, blocking);
    if (self && weft__fd_known(self->loop, fd))
        weft__hook_adopt(self->loop, copy);
}

int close(int fd)
{
    int saved = errno;
    retire(fd);
    errno = saved;
    return WEFT__REAL(close)(fd);
}

int dup(int fd)
{
    int copy = WEFT__REAL(dup)(fd);
    if (copy >= 0) {
        int saved = errno;
        copied(fd, copy);
        errno = saved;
    }
    return copy;
}

static int dup_to(int fd, int to, int flags, int three)
{
    int saved = errno;
    if (fd != to && WEFT__REAL(fcntl)(fd, F_GETFD) >= 0)
        retire(to);             /* the call will close it */
    errno = saved;
    int rc = three ? WEFT__REAL(dup3)(fd, to, flags) : WEFT__REAL(dup2)(fd, to);
    if (rc >= 0 && fd != to) {
        saved = errno;
        copied(fd, to);
        errno = saved;
    }
    return rc;
}

int dup2(int fd, int to)
{
    return dup_to(fd, to, 0, 0);
}

int dup3(int fd, int to, int flags)
{
    return dup_to(fd, to, flags, 1);
}

/* fcntl and fcntl64: the mode commands here, the rest to `real`. */
static int do_fcntl(int (*real)(int, int, ...), int fd, int cmd, void *arg)
{
    int saved = errno, rc;
    switch (cmd) {
    case F_GETFL:
        rc = real(fd, F_GETFL);
        if (rc >= 0 && hooks_on() && weft__fd_blocking(fd))
            rc &= ~O_NONBLOCK;  /* the caller's view */
        return rc;
    case F_SETFL:
        if (!hooks_on() || !managed(fd))
            return real(fd, F_SETFL, (int)(intptr_t)arg);
        rc = real(fd, F_SETFL, (int)(intptr_t)arg | O_NONBLOCK);
        if (rc == 0)
            weft__fd_set_blocking(fd, !((int)(intptr_t)arg & O_NONBLOCK));
        return rc;
    case F_DUPFD:
    case F_DUPFD_CLOEXEC:
        rc = real(fd, cmd, (int)(intptr_t)arg);
        if (rc >= 0) {
            saved = errno;
            copied(fd, rc);
            errno = saved;
        }
        return rc;
    default:
        return real(fd, cmd, arg);
    }
}

int fcntl(int fd, int cmd, ...)
{
    va_list ap;
    va_start(ap, cmd);
    void *arg = va_arg(ap, void *);     /* int, pointer or nothing: one word */
    va_end(ap);
    return do_fcntl(WEFT__REAL(fcntl), fd, cmd, arg);
}

int fcntl64(int fd, int cmd, ...);
int fcntl64(int fd, int cmd, ...)
{
    va_list ap;
    va_start(ap, cmd);
    void *arg = va_arg(ap, void *);
    va_end(ap);
    return do_fcntl(WEFT__REAL(fcntl64), fd, cmd, arg);
}

int ioctl(int fd, unsigned long request, ...)
{
    va_list ap;
    va_start(ap, request);
    void *arg = va_arg(ap, void *);
    va_end(ap);
    if (request != FIONBIO || !arg || !hooks_on() || !managed(fd))
        return WEFT__REAL(ioctl)(fd, request, arg);
    int one = 1, want = *(int *)arg;
    int rc = WEFT__REAL(ioctl)(fd, FIONBIO, &one);
    if (rc == 0)
        weft__fd_set_blocking(fd, !want);
    return rc;
}

int pipe2(int fds[2], int flags)
{
    int rc = WEFT__REAL(pipe2)(fds, flags);
    if (rc == 0) {
        int saved = errno;
        weft__hook_new_fd(fds[0], flags & O_NONBLOCK);
        weft__hook_new_fd(fds[1], flags & O_NONBLOCK);
        errno = saved;
    }
    return rc;
}

int pipe(int fds[2])
{
    return pipe2(fds, 0);
}

int eventfd(unsigned count, int flags)
{
    int fd = WEFT__REAL(eventfd)(count, flags);
    if (fd >= 0) {
        int saved = errno;
        weft__hook_new_fd(fd, flags & EFD_NONBLOCK);
        errno = saved;
    }
    return fd;
}
