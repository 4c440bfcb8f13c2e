/*
 * watch.c - descriptor watchers: a callback run on the loop while a
 * descriptor is readable or writable (asyncio's add_reader / add_writer),
 * so that event-driven libraries (c-ares, libcurl's multi interface) can
 * live on a weft loop.
 *
 * The poller is edge-triggered; watchers are level-triggered, as such
 * libraries expect. An edge makes a watcher's callback due (its handle goes
 * to the loop's ready list); when the handle runs it asks the kernel with
 * poll(2) whether the descriptor is still ready, calls back if so, and
 * then stays due, so the next tick asks again. A watcher therefore goes
 * quiet one tick after its descriptor stops being ready, and is called
 * once a tick while it stays ready, like asyncio's readers.
 *
 * Invariants:
 * - A watcher not cancelled is on io->watches, and on its descriptor's
 *   chain (st->watches) until that descriptor is closed (then st is NULL).
 * - Its handle is READY at most once; a cancelled watcher's handle is
 *   never in the ready list. The record is freed by the cancel, or after
 *   its callback returns when it cancelled itself, or when the loop ends.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdlib.h>

#include "io_internal.h"

struct weft_watch {
    struct weft__handle handle; /* runs check() on the loop's stack */
    struct weft__list all;      /* in io->watches */
    struct weft_watch *next;    /* next on its descriptor's chain */
    struct weft__fd *st;        /* its descriptor's record; NULL once closed */
    struct weft__loop *loop;    /* the loop it belongs to */
    int fd;                     /* the descriptor */
    int events;                 /* WEFT_IO_READ and/or WEFT_IO_WRITE */
    weft_watch_fn fn;           /* the callback */
    void *arg;                  /* its argument */
    int running;                /* inside fn: a cancel there frees after */
    int cancelled;              /* weft_watch_cancel() was called */
};

/* Makes the callback due next tick, unless it is already. */
static void make_due(struct weft_watch *w)
{
    if (w->handle.state == WEFT__HANDLE_IDLE)
        weft__ready(w->loop, &w->handle);
}

/* The watched events the kernel reports ready now, or 0 (also when the
   descriptor is no longer open). */
static int ready_now(const struct weft_watch *w)
{
    struct pollfd p = {.fd = w->fd, .events = (short)((w->events & WEFT_IO_READ ? POLLIN : 0) |
                                                      (w->events & WEFT_IO_WRITE ? POLLOUT : 0))};
    if (poll(&p, 1, 0) <= 0 || (p.revents & POLLNVAL))
        return 0;
    int now = (p.revents & (POLLIN | POLLHUP | POLLERR | POLLRDHUP) ? WEFT_IO_READ : 0) |
              (p.revents & (POLLOUT | POLLHUP | POLLERR) ? WEFT_IO_WRITE : 0);
    return now & w->events;
}

/* The handle: calls back while the descriptor is ready. */
static void check(void *arg)
{
    struct weft_watch *w = arg;
    int events = w->st ? ready_now(w) : 0;
    if (!events)
        return;                 /* quiet until the next edge */
    w->running = 1;
    w->fn(w->fd, events, w->arg);
    w->running = 0;
    if (w->cancelled)
        free(w);                /* it cancelled itself */
    else if (w->st)
        make_due(w);            /* level-triggered: look again next tick */
}

void weft__watch_ready(struct weft__loop *L, struct weft__fd *st, int events)
{
    (void)L;
    for (struct weft_watch *w = st->watches; w; w = w->next)
        if (((events & WEFT__POLL_IN) && (w->events & WEFT_IO_READ)) ||
            ((events & WEFT__POLL_OUT) && (w->events & WEFT_IO_WRITE)))
            make_due(w);
}

void weft__watch_detach(struct weft__fd *st)
{
    while (st->watches) {
        struct weft_watch *w = st->watches;
        st->watches = w->next;
        w->st = NULL;
        w->next = NULL;
    }
}

/* Takes `w` off its descriptor's chain and out of the ready list. */
static void unlink_watch(struct weft_watch *w)
{
    if (w->st) {
        struct weft_watch **p = &w->st->watches;
        while (*p != w)
            p = &(*p)->next;
        *p = w->next;
        w->st = NULL;
    }
    if (w->handle.state == WEFT__HANDLE_READY) {
        weft__list_remove(&w->handle.link);
        w->handle.state = WEFT__HANDLE_IDLE;
    }
    weft__list_remove(&w->all);
    w->loop->io->nwatches--;
}

static void watches_end(struct weft__loop *L, struct weft__part *part);

int weft_watch_start(weft_watch **out, int fd, int events, weft_watch_fn fn, void *arg)
{
    struct weft__loop *L = weft__loop;
    int rc;
    if (!out || !fn || !events || (events & ~(WEFT_IO_READ | WEFT_IO_WRITE)))
        return -EINVAL;
    if (fd < 0)
        return -EBADF;
    if (!L)
        return -EPERM;
    struct weft__fd *st = weft__fd_state(L, fd, &rc);
    if (!st)
        return rc;
    struct weft_watch *w = calloc(1, sizeof *w);
    if (!w)
        return -ENOMEM;
    w->handle.fn = check;
    w->handle.arg = w;
    weft__list_init(&w->handle.link);
    w->st = st;
    w->loop = L;
    w->fd = fd;
    w->events = events;
    w->fn = fn;
    w->arg = arg;
    w->next = st->watches;
    st->watches = w;
    weft__list_push_back(&L->io->watches, &w->all);
    L->io->nwatches++;
    if (!L->io->watching.end)   /* the loop's first watcher */
        weft__part_add(L, &L->io->watching, WEFT__PART_SOURCES, watches_end);
    make_due(w);                /* it may be ready already: no edge then */
    *out = w;
    return 0;
}

int weft_watch_cancel(weft_watch *w)
{
    if (!w)
        return -EINVAL;
    if (w->cancelled || weft__loop != w->loop)
        return w->cancelled ? -EALREADY : -EPERM;
    unlink_watch(w);
    w->cancelled = 1;
    if (!w->running)
        free(w);
    return 0;
}

/* The loop ends: frees the watchers never cancelled. */
static void watches_end(struct weft__loop *L, struct weft__part *part)
{
    struct weft__list *n;
    (void)part;
    while ((n = L->io->watches.next) != &L->io->watches) {
        struct weft_watch *w = weft__container_of(n, struct weft_watch, all);
        unlink_watch(w);
        free(w);
    }
}
