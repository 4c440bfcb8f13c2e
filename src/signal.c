/*
 * signal.c - signals as events: a loop's signalfd, the process-wide table
 * of which loop owns which signal, and the thread mask kept and restored.
 *
 * Invariants:
 * - owner[sig] is the loop watching sig, or NULL; it changes only under
 *   `lock`, and only the owner's thread sets it back to NULL (its last
 *   unwatch, or the end of its weft_run()).
 * - While a loop watches sig, sig is blocked on the loop's thread and is
 *   in the loop's signalfd mask; `was_blocked` says whether the thread
 *   blocked it before the first watch, so that the last unwatch restores
 *   exactly that.
 * - The signalfd is read only by weft_signal_wait(), one siginfo a call:
 *   what no task reads stays pending in the kernel.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "weft/signal.h"
#include "io_internal.h"

/* The signals a loop watches. */
struct weft__signals {
    int fd;                     /* the signalfd, -1 until the first watch */
    sigset_t mask;              /* the watched signals */
    sigset_t was_blocked;       /* of those, the ones the thread had blocked */
    int count[_NSIG];           /* watches per signal */
    int watched;                /* signals with count > 0 */
    struct weft__part part;     /* gives them up when the loop ends */
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct weft__loop *owner[_NSIG];

static int can_watch(int sig)
{
    switch (sig) {
    case SIGKILL: case SIGSTOP: case SIGSEGV: case SIGBUS: case SIGFPE:
    case SIGILL: case SIGTRAP: case SIGSYS:
        return 0;
    default:
        return sig > 0 && sig < _NSIG;
    }
}

static void signals_end(struct weft__loop *L, struct weft__part *part);

/* The loop's record, created on first use; NULL when memory is short. */
static struct weft__signals *signals_of(struct weft__loop *L)
{
    struct weft__io *io = weft__io_get(L);
    if (!io)
        return NULL;
    if (!io->signals && (io->signals = calloc(1, sizeof *io->signals))) {
        io->signals->fd = -1;
        sigemptyset(&io->signals->mask);
        sigemptyset(&io->signals->was_blocked);
        weft__part_add(L, &io->signals->part, WEFT__PART_SOURCES, signals_end);
    }
    return io->signals;
}

/* Points the signalfd at the current mask (creating it the first time). */
static int update_fd(struct weft__signals *s)
{
    int fd = signalfd(s->fd, &s->mask, SFD_NONBLOCK | SFD_CLOEXEC);
    if (fd < 0)
        return -errno;
    s->fd = fd;
    return 0;
}

int weft_signal_watch(int sig)
{
    struct weft__loop *L = weft__loop;
    if (!can_watch(sig))
        return -EINVAL;
    if (!L)
        return -EPERM;
    struct weft__signals *s = signals_of(L);
    if (!s)
        return -ENOMEM;
    int rc = 0;
    pthread_mutex_lock(&lock);
    if (owner[sig] && owner[sig] != L)
        rc = -EBUSY;
    else if (s->count[sig]++ == 0) {
        sigset_t one, old;
        sigemptyset(&one);
        sigaddset(&one, sig);
        pthread_sigmask(SIG_BLOCK, &one, &old);
        if (sigismember(&old, sig))
            sigaddset(&s->was_blocked, sig);
        sigaddset(&s->mask, sig);
        if ((rc = update_fd(s)) < 0) {
            sigdelset(&s->mask, sig);
            if (!sigismember(&s->was_blocked, sig))
                pthread_sigmask(SIG_UNBLOCK, &one, NULL);
            sigdelset(&s->was_blocked, sig);
            s->count[sig] = 0;
        } else {
            owner[sig] = L;
            s->watched++;
        }
    }
    pthread_mutex_unlock(&lock);
    return rc;
}

/* Ends the loop's last watch of `sig` (under `lock`). */
static void release(struct weft__signals *s, int sig)
{
    sigset_t one;
    sigemptyset(&one);
    sigaddset(&one, sig);
    sigdelset(&s->mask, sig);
    if (--s->watched == 0) {    /* waiters wake (-EBADF) and see none left */
        weft_io_close(s->fd);
        s->fd = -1;
    } else {
        update_fd(s);           /* narrowing the mask needs no memory; an
                                   error would leave it wider, not lose */
    }
    if (!sigismember(&s->was_blocked, sig))
        pthread_sigmask(SIG_UNBLOCK, &one, NULL);
    sigdelset(&s->was_blocked, sig);
    s->count[sig] = 0;
    owner[sig] = NULL;
}

int weft_signal_unwatch(int sig)
{
    struct weft__loop *L = weft__loop;
    if (sig <= 0 || sig >= _NSIG)
        return -EINVAL;
    if (!L)
        return -EPERM;
    struct weft__signals *s = L->io ? L->io->signals : NULL;
    if (!s || !s->count[sig])
        return -ENOENT;
    pthread_mutex_lock(&lock);
    if (s->count[sig] == 1)
        release(s, sig);
    else
        s->count[sig]--;
    pthread_mutex_unlock(&lock);
    return 0;
}

int weft_signal_wait(void)
{
    struct weft_task *self = weft__self();
    if (!self)
        return -EPERM;
    struct weft__signals *s = self->loop->io ? self->loop->io->signals : NULL;
    for (;;) {
        if (!s || !s->watched)
            return -ENOENT;
        struct signalfd_siginfo si;
        ssize_t n = read(s->fd, &si, sizeof si);
        if (n == (ssize_t)sizeof si)
            return (int)si.ssi_signo;
        if (n < 0 && errno != EAGAIN && errno != EINTR)
            return -errno;
        int rc = weft_io_wait(s->fd, WEFT_IO_READ);
        if (rc < 0)
            return s->watched ? rc : -ENOENT;   /* unwatched meanwhile */
    }
}

/* The loop ends: gives its signals up, restoring the mask. */
static void signals_end(struct weft__loop *L, struct weft__part *part)
{
    struct weft__signals *s = weft__container_of(part, struct weft__signals, part);
    pthread_mutex_lock(&lock);
    for (int sig = 1; sig < _NSIG; sig++)
        if (s->count[sig])
            release(s, sig);
    pthread_mutex_unlock(&lock);
    free(s);
    L->io->signals = NULL;
}

int weft__thread_quiet(pthread_t *t, void *(*fn)(void *arg), void *arg)
{
    sigset_t all, old;
    static const int faults[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGSYS, SIGABRT};
    sigfillset(&all);
    for (size_t i = 0; i < sizeof faults / sizeof faults[0]; i++)
        sigdelset(&all, faults[i]);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int rc = pthread_create(t, NULL, fn, arg);   /* it inherits the mask */
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc;
}
