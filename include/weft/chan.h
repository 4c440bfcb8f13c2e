/*
 * weft/chan.h - channels between the tasks of one loop, and select.
 *
 * A channel belongs to the loop that first uses it: every call below but
 * create, len and cap returns -EXDEV, changing nothing, when made from
 * another loop running at the same time (weft_xchan in weft/loops.h is the
 * channel between loops). Once that loop has ended, another may take it
 * over.
 *
 * A channel carries values of a fixed size, copied in and out. With
 * capacity 0 it is unbuffered: a send waits for a receiver and hands the
 * value over directly (a rendezvous). With capacity n it buffers up to n
 * values in a ring. Waiting senders and receivers are served in FIFO order;
 * a waiting call honours the task's cancellation and the innermost timeout
 * scope (-ECANCELED / -ETIMEDOUT) and then has moved no value. Waiting
 * never allocates: a waiter's queue node lives on its own stack.
 *
 * Closing: a send on a closed channel returns -EPIPE; a receive drains what
 * is buffered and then returns -EPIPE; tasks waiting when it closes wake
 * with -EPIPE.
 *
 * asyncio.Queue is a buffered channel plus a weft_waitgroup (weft/sync.h):
 * put = weft_waitgroup_add(&wg, 1) then weft_chan_send(); get =
 * weft_chan_recv(); task_done = weft_waitgroup_done(&wg); join =
 * weft_waitgroup_wait(&wg).
 */
#ifndef WEFT_CHAN_H
#define WEFT_CHAN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct weft_chan weft_chan;

/*
 * Creates a channel of values of `elem_size` bytes (1 to 65536) with room
 * for `capacity` buffered values (0: unbuffered). Returns 0 and sets *out;
 * -EINVAL; -ENOMEM. The caller owns it and frees it with
 * weft_chan_destroy(). Never suspends; callable outside a loop.
 */
int weft_chan_create(weft_chan **out, size_t elem_size, size_t capacity);

/*
 * Frees a channel. Returns 0; -EINVAL (NULL); -EBUSY (tasks still wait on
 * it: close it and let them go first; nothing is freed). Values still
 * buffered are dropped. Never suspends.
 */
int weft_chan_destroy(weft_chan *ch);

/*
 * Sends the value at `elem` (elem_size bytes, copied), waiting while the
 * channel is full (unbuffered: until a receiver takes it). Returns 0;
 * -EPIPE (closed, before or while waiting: not sent); -EINVAL;
 * -EPERM (would wait outside a task); -ECANCELED / -ETIMEDOUT (not sent).
 * May suspend.
 */
int weft_chan_send(weft_chan *ch, const void *elem);

/*
 * Receives a value into `elem` (elem_size bytes), waiting while none is
 * there. Returns 0; -EPIPE (closed and drained); -EINVAL; -EPERM (would
 * wait outside a task); -ECANCELED / -ETIMEDOUT (nothing received).
 * May suspend.
 */
int weft_chan_recv(weft_chan *ch, void *elem);

/* Sends only if that needs no wait: 0, -EAGAIN, -EPIPE, -EINVAL. Never
   suspends; callable from callbacks. */
int weft_chan_try_send(weft_chan *ch, const void *elem);

/* Receives only if a value is there now: 0, -EAGAIN, -EPIPE (closed and
   drained), -EINVAL. Never suspends; callable from callbacks. */
int weft_chan_try_recv(weft_chan *ch, void *elem);

/*
 * Closes the channel: waiting senders and receivers wake with -EPIPE, later
 * sends fail, receives drain the buffer. Returns 0; -EINVAL; -EALREADY
 * (closed before). Never suspends; callable from callbacks.
 */
int weft_chan_close(weft_chan *ch);

/* Values buffered now, and the capacity; 0 for NULL. Never suspend. */
size_t weft_chan_len(const weft_chan *ch);
size_t weft_chan_cap(const weft_chan *ch);

/* ------------------------------------------------------------------------ */
/* Select                                                                   */
/* ------------------------------------------------------------------------ */

enum {
    WEFT_SELECT_SEND = 1, /* send *elem on ch */
    WEFT_SELECT_RECV = 2  /* receive into *elem from ch */
};

/*
 * One case of weft_select(): set ch, op and elem. Caller storage, valid
 * during the call; `result_` and the node are private.
 */
typedef struct weft_select_case {
    weft_chan *ch;       /* the channel; a NULL ch makes the case never ready */
    int op;              /* WEFT_SELECT_SEND or WEFT_SELECT_RECV */
    void *elem;          /* the value to send, or where to receive */
    int result;          /* out: 0, or -EPIPE when the channel was closed */
    void *node_[8];      /* private: the wait node on ch */
} weft_select_case;

/* weft_select() flag: return -EAGAIN at once if no case is ready (Go's
   default case). */
#define WEFT_SELECT_NOWAIT 1
/* weft_select() flag: when several cases are ready, take the first in array
   order (a priority order) instead of one chosen uniformly at random. */
#define WEFT_SELECT_ORDERED 2

/*
 * Waits until one of cases[0..n) can proceed and performs exactly that one:
 * returns its index, with cases[i].result set (0, or -EPIPE for a closed
 * channel: a send that failed or a receive from a drained closed channel).
 * When several are ready at once, one of them is chosen uniformly at random
 * (as in Go), so a busy case cannot starve the others; with
 * WEFT_SELECT_ORDERED the first ready one in the array wins.
 * With WEFT_SELECT_NOWAIT, returns -EAGAIN when none is ready. Returns
 * -EINVAL (bad arguments); -EPERM (would wait outside a task); -ECANCELED /
 * -ETIMEDOUT (nothing done). May suspend.
 */
int weft_select(weft_select_case *cases, size_t n, int flags);

#ifdef __cplusplus
}
#endif

#endif /* WEFT_CHAN_H */
