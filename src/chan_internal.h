/*
 * chan_internal.h - a channel's record and its waiting nodes, shared by
 * chan.c (send, receive, close) and select.c.
 *
 * Invariants:
 * - Values wait in the ring buf[(head + i) % cap], i < len. Receivers wait
 *   only while the ring is empty, senders only while it is full (always,
 *   unbuffered), so a live sender and a live receiver never wait on one
 *   channel at once.
 * - A waiting sender or receiver is a node on its task's stack (in a
 *   weft_select_case for select). The peer that completes it copies the
 *   value, sets `result` and wakes the task; a node whose task no longer
 *   waits (woken by a cancellation, or its select already completed) is
 *   skipped and removed by its owner.
 */
#ifndef WEFT_CHAN_INTERNAL_H
#define WEFT_CHAN_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "weft/chan.h"
#include "loop.h"

#define PENDING 1               /* node->result while nobody completed it */

struct weft_chan {
    size_t elem_size;           /* bytes per value */
    size_t cap;                 /* ring slots; 0 for unbuffered */
    size_t len;                 /* values in the ring */
    size_t head;                /* slot of the oldest value */
    int closed;                 /* weft_chan_close() was called */
    uint64_t loop;              /* serial of the loop that uses it (owner.c) */
    struct weft__list senders;  /* struct chan_node waiting to send */
    struct weft__list receivers; /* struct chan_node waiting to receive */
    unsigned char buf[];        /* cap * elem_size bytes */
};

/* A select in progress: the first of its cases to complete wins. */
struct sel {
    int done;                   /* a case has completed */
    size_t index;               /* which one */
};

/* A task waiting to send or receive. */
struct chan_node {
    struct weft__waiter w;      /* in senders or receivers; w.task */
    void *elem;                 /* the value to send, or where to receive */
    int result;                 /* PENDING, then 0 or -EPIPE */
    struct sel *sel;            /* the select it is a case of, or NULL */
    size_t index;               /* its case index in that select */
};

_Static_assert(sizeof(struct chan_node) <= sizeof(((weft_select_case *)0)->node_),
               "a select case holds a chan_node");

/* weft_chan_try_send() / weft_chan_try_recv() of a checked case: 0,
   -EPIPE, or -EAGAIN when it would wait. Never suspend. */
int weft__chan_try_send(weft_chan *ch, const void *elem);
int weft__chan_try_recv(weft_chan *ch, void *elem);

#endif
