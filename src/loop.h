/*
 * loop.h - the loop, task and scope records, and the park/wake primitive
 * every suspending call of weft is built on. Shared by sched.c, loop.c, task.c,
 * callback.c, future.c, scope.c, combine.c and group.c.
 *
 * Parking. A task that must wait puts a wait node (struct weft__waiter, on
 * its own stack) on the queue of what it waits for, then calls
 * weft__park(). Whoever satisfies the wait takes the node off and calls
 * weft__wake(task, 0). A deadline, a cancellation or an expired scope wake
 * the task with -ETIMEDOUT / -ECANCELED instead, leaving the node where it
 * is; so after weft__park() returns, the task always removes its node
 * itself (removal is idempotent, see list.h) and decides from the code.
 * A task that is not parked ignores weft__wake(), so a task waiting on
 * several things at once (gather, wait) is woken once and looks again.
 */
#ifndef WEFT_LOOP_H
#define WEFT_LOOP_H

#include <stdint.h>

#include "weft/sched.h"
#include "weft/task.h"
#include "weft/coro.h"
#include "weft/debug.h"
#include "compiler.h"
#include "list.h"
#include "timer_heap.h"

/*
 * A timer of the loop: a task's wake-up or a callback's due time. `fire`
 * runs on the loop's stack when the clock reaches the deadline.
 */
struct weft__alarm {
    struct weft__timer timer; /* position in the loop's heap */
    void (*fire)(struct weft__alarm *a); /* what the deadline does */
};

/* The record behind a weft_handle (a scheduled callback). */
struct weft__handle {
    struct weft__alarm alarm;   /* for call_later / call_at */
    struct weft__list link;     /* in the loop's ready callbacks */
    weft_callback_fn fn;        /* the callback */
    void *arg;                  /* its argument */
    int state;                  /* enum weft__handle_state */
    int owned;                  /* weft allocated it and frees it after */
};

enum weft__handle_state {
    WEFT__HANDLE_IDLE = 0,      /* never scheduled, ran, or cancelled */
    WEFT__HANDLE_TIMED = 1,     /* waiting in the timer heap */
    WEFT__HANDLE_READY = 2      /* in the ready list, runs next tick */
};

/* The record behind a weft_scope. */
struct weft__scope {
    struct weft__scope *outer;  /* the scope around it in the same task */
    struct weft_task *task;     /* the task that entered it */
    int64_t deadline;           /* loop time, WEFT_FOREVER for none */
    int cancelled;              /* weft_scope_cancel() was called */
    int shield;                 /* outer cancellation does not reach in */
    int active;                 /* entered and not yet exited */
};

/* A task waiting on a queue; lives on the waiting task's stack. */
struct weft__waiter {
    struct weft__list link;     /* in the queue of what it waits for */
    struct weft_task *task;     /* the waiting task */
    void (*notify)(struct weft__waiter *w); /* NULL: wake `task`; else
                                   called instead, after the node is off
                                   the queue (gather counts ends with it) */
};

struct weft__group;
struct weft__loops;
struct weft__loop;

/*
 * An optional part of a loop (the worker pool, the way in from other
 * threads, watchers, signals, the dump signal), registered with its loop
 * when first used and ended with it (loop_parts.c). Lives in the part's
 * own per-loop state.
 */
struct weft__part {
    struct weft__part *next;    /* in loop->parts, by phase */
    int phase;                  /* enum weft__part_phase: when it ends */
    void (*end)(struct weft__loop *L, struct weft__part *p); /* ends it */
};

/* When a part ends, earliest first (loop_parts.c says why this order). */
enum weft__part_phase {
    WEFT__PART_THREADS = 0,     /* threads that post to the loop */
    WEFT__PART_WAY_IN = 1,      /* the handle other threads post to */
    WEFT__PART_SOURCES = 2      /* what the poller watches for the loop */
};

/* Internal task states, finer than weft_task_state. */
enum weft__task_state {
    WEFT__TASK_QUEUED = 0,      /* in the run queue */
    WEFT__TASK_RUNNING = 1,     /* the current task */
    WEFT__TASK_PARKED = 2,      /* waiting for weft__wake() */
    WEFT__TASK_ENDED = 3,       /* its function returned */
    WEFT__TASK_REMOTE = 4       /* a handle of a task running on another
                                   loop (weft_spawn_on): no coroutine here,
                                   ends when that task's outcome arrives */
};

struct weft_task {
    /* Hot: the run queue and the switch. */
    struct weft__list link;     /* in the run queue while QUEUED */
    weft_coro *coro;            /* its coroutine; NULL once ended */
    weft_coro *top;             /* the coroutine to switch to when it runs
                                   again: coro, or one coro resumed and
                                   that parked (an async generator) */
    struct weft__loop *loop;    /* the loop it belongs to */
    int state;                  /* enum weft__task_state */
    int wake_code;              /* what weft__park() returns */
    struct weft__scope *scope;  /* innermost scope entered, or NULL */
    int cancel_requested;       /* weft_task_cancel() was called */
    int started;                /* its function has begun */
    /* Waiting. */
    struct weft__alarm alarm;   /* wakes it from a timed park */
    int64_t wake_at;            /* the park's own end (sleep), else FOREVER */
    /* Outcome and bookkeeping. */
    weft_task_fn fn;            /* the body */
    void *arg;                  /* its argument */
    void *result;               /* what it stored in *result */
    int code;                   /* what it returned */
    int joined;                 /* weft_task_join() has been called */
    int retrieved;              /* its outcome was read (join, result,
                                   gather, its group): no unhandled-error
                                   report when it goes */
    int refs;                   /* caller's reference + the loop's while alive */
    struct weft__list waiters;  /* struct weft__waiter: woken when it ends */
    struct weft__list done_cbs; /* struct weft__done_cb, run when it ends */
    struct weft__list all_link; /* in loop->tasks while not ended */
    struct weft__group *group;  /* the task group it belongs to, or NULL */
    struct weft__list group_link; /* in the group's member list */
    struct weft__waiter group_node; /* tells the group when it ends */
    uint64_t id;                /* spawn order, for default names */
    uint64_t end_seq;           /* order of its end among the loop's tasks */
    char name[32];              /* NUL-terminated */
    void *resume_pc;            /* debug mode: where it last resumed */
    void *xwait;                /* the cross-loop wait node it parks on, or
                                   NULL: a wake from another loop counts only
                                   while this still names its node (xwait.c) */
    /* Introspection (weft/debug.h): what it waits for while PARKED, set by
       weft__waiting() just before each park; read only by snapshots. */
    int wait_kind;              /* enum weft_wait_kind */
    int wait_arg;               /* detail: the descriptor; a count */
    const void *wait_obj;       /* the object waited on, or NULL */
    int64_t wait_since;         /* loop->tick_now when it parked */
    uint64_t parent;            /* id of the task that spawned it, or 0 */
};

/* Records what `t` is about to wait for (see weft_task_info). */
static inline void weft__waiting(struct weft_task *t, int kind, const void *obj, int arg)
{
    t->wait_kind = kind;
    t->wait_obj = obj;
    t->wait_arg = arg;
}

struct weft__loop {
    struct weft__list runq;     /* runnable tasks, FIFO */
    size_t runq_len;            /* length of runq */
    size_t batch;               /* tasks the current tick may still start */
    struct weft_task *current;  /* the running task, NULL on the loop stack */
    weft_coro *base;            /* the context weft_run() runs the loop on */
    void *ended;                /* where an ending task's coroutine puts it */
    int doomed;                 /* after a second deadlock every wait fails */
    struct weft__io *io;        /* descriptors, pool, other threads; or NULL */
    size_t io_waiting;          /* tasks parked on descriptors */
    size_t jobs;                /* worker-pool jobs not yet completed */
    int workers;                /* most pool threads (weft_loop_opts) */
    struct weft__list ready;    /* callbacks due, FIFO (struct weft__handle) */
    struct weft__timer_heap timers; /* alarms by deadline */
    struct weft__list tasks;    /* tasks not ended, in spawn order */
    size_t ntasks;              /* length of tasks */
    struct weft__list zombies;  /* ended tasks still referenced (freed at exit) */
    int virtual_clock;          /* time moves only when nothing can run */
    int64_t vnow;               /* the virtual clock */
    size_t stack_size;          /* default task stack */
    int64_t poll_spin_ns;       /* polling before a blocking wait on
                                   descriptors (weft_loop_opts), 0 none */
    uint64_t next_id;           /* for task ids */
    uint64_t ends;              /* tasks ended so far, for end_seq */
    struct weft_task *free_tasks; /* recycled task records (via link.next) */
    int64_t slow_ns;            /* debug mode (slow.c): report a task that
                                   runs longer without suspending; 0 off */
    int64_t slow_since;         /* CLOCK_MONOTONIC when the running task
                                   was dispatched, in debug mode */
    size_t slow_batch;          /* debug mode's own batch: `batch` stays 0
                                   there, so every switch takes next_tick */
    weft_error_handler_fn error_handler; /* unread failures; NULL prints */
    void *error_arg;            /* its argument */
    /* Introspection (weft/debug.h, debug.c). */
    int64_t tick_now;           /* the clock at the start of a recent tick:
                                   when tasks parking now began to wait */
    unsigned tick_skip;         /* ticks before tick_now is read again */
    uint64_t dispatched;        /* tasks handed to batches; minus `batch`,
                                   the dispatches so far */
    uint64_t sleeps;            /* times it blocked in the kernel for want
                                   of work (weft_loop_info.sleeps) */
    struct weft__dump_slot *dump; /* dump_signal's slot, or NULL */
    struct weft__loops *group;  /* the loops started together with it
                                   (weft_loop_opts.loops > 1), or NULL */
    int index;                  /* its index among them, 0 alone */
    uint64_t serial;            /* weft__serial on its thread (owner.c) */
    struct weft__part *parts;   /* optional parts to end with it, by phase */
};

/* The loop running on this thread, or NULL. */
extern __thread struct weft__loop *weft__loop
    __attribute__((tls_model("initial-exec")));

/*
 * Loop-local objects (mutex, semaphores, event, condition, wait group,
 * channel) record the serial of the loop that first used them; a task of
 * another loop that touches one gets -EXDEV. Serials are unique for the
 * life of the process; weft__serial is this thread's running loop's, 0
 * outside a loop (loops.c).
 */
extern __thread uint64_t weft__serial __attribute__((tls_model("initial-exec")));

/* weft__owned() when the serials differ: records this loop when the object
   is new or its loop has ended; -EXDEV while another live loop owns it. */
__attribute__((cold)) int weft__owned_slow(uint64_t *owner);

/* 0 if this thread's loop may use the object whose owner serial is at
   `owner` (none: a plain thread may), else -EXDEV. Never suspends. */
static inline int weft__owned(uint64_t *owner)
{
    if (WEFT_LIKELY(__atomic_load_n(owner, __ATOMIC_RELAXED) == weft__serial))
        return 0;
    return weft__owned_slow(owner);
}

/* Whether the object whose owner serial is at `owner` is known to be loop
   `L`'s: the test of a fast path that leaves every other case (a new
   object, another loop's) to a slow path calling weft__owned_by(). */
static inline int weft__mine(uint64_t *owner, const struct weft__loop *L)
{
    return __atomic_load_n(owner, __ATOMIC_RELAXED) == L->serial;
}

/* weft__mine() for this thread's loop (or none), from the thread-local
   serial, where the loop itself is not at hand. */
static inline int weft__mine_here(uint64_t *owner)
{
    return __atomic_load_n(owner, __ATOMIC_RELAXED) == weft__serial;
}

/* weft__owned() for a running task's loop `L`, already at hand: compares
   with L->serial, sparing the thread-local load. */
static inline int weft__owned_by(uint64_t *owner, const struct weft__loop *L)
{
    if (WEFT_LIKELY(__atomic_load_n(owner, __ATOMIC_RELAXED) == L->serial))
        return 0;
    return weft__owned_slow(owner);
}

/* owner.c: gives this thread's new loop its serial, and takes it back. */
void weft__serial_begin(struct weft__loop *L);
void weft__serial_end(void);

/* The loop's clock: virtual time, or CLOCK_MONOTONIC. */
int64_t weft__now(const struct weft__loop *L);

/* The loop time `ns` after `now`, WEFT_FOREVER when that is past it. */
static inline int64_t weft__after(int64_t now, int64_t ns)
{
    return ns >= WEFT_FOREVER - now ? WEFT_FOREVER : now + ns;
}

/* Arms `a` for loop time `when`. Returns 0 or -ENOMEM. */
int weft__alarm_set(struct weft__loop *L, struct weft__alarm *a, int64_t when);
void weft__alarm_clear(struct weft__loop *L, struct weft__alarm *a);

/*
 * The running task, or NULL (then the caller returns -EPERM): outside a
 * loop, or on the loop's own stack (a callback).
 */
static inline struct weft_task *weft__self(void)
{
    struct weft__loop *L = weft__loop;
    return L ? L->current : NULL;
}

/*
 * Suspends the running task until weft__wake(), until the loop time
 * `wake_at` (then returns 0), or until a cancellation or scope deadline
 * applies (-ECANCELED / -ETIMEDOUT). Checks those first and returns at once
 * when one already applies. May suspend.
 */
int weft__park(struct weft_task *self, int64_t wake_at);

/* Makes a parked task runnable; weft__park() returns `code`. A no-op for a
   task that is not parked. Never suspends. */
void weft__wake(struct weft_task *t, int code);

/* Queues a runnable task at the end of the run queue. */
void weft__enqueue(struct weft__loop *L, struct weft_task *t);

/* Takes the head of the non-empty run queue and makes it the running task
   (its switch is the caller's). */
static inline struct weft_task *weft__runq_take(struct weft__loop *L)
{
    struct weft_task *t = weft__container_of(L->runq.next, struct weft_task, link);
    weft__list_remove(&t->link);
    L->runq_len--;
    t->state = WEFT__TASK_RUNNING;
    L->current = t;
    return t;
}

/* True when the loop has work of its own: callbacks, descriptors or other
   threads to poll, or alarms now due (sched.c). */
int weft__loop_work_due(struct weft__loop *L);

/* Debug mode (slow.c): next_tick() and weft__run_tasks() hand over to these
   while L->slow_ns is set; they time each task's run between switches. */
int weft__slow_next(struct weft__loop *L, struct weft_task *self, struct weft_coro *me);
void weft__slow_run_tasks(struct weft__loop *L);

/* Takes every waiter off `q` and wakes (or notifies) it with code 0. */
void weft__wake_all(struct weft__list *q);

/*
 * -ECANCELED or -ETIMEDOUT if a cancellation or expired deadline applies to
 * `t` now, else 0 with *deadline (if not NULL) set to the earliest deadline
 * that applies (WEFT_FOREVER for none). Implemented in scope.c.
 */
int weft__scope_status(const struct weft_task *t, int64_t now, int64_t *deadline);

/* Wakes `t` if it is parked and a cancellation now applies to it. */
void weft__recheck(struct weft_task *t);

/* Runs the tick's batch of tasks from the loop's stack (sched.c). */
void weft__run_tasks(struct weft__loop *L);

/* Schedules h's callback for the next tick (call_soon). */
void weft__ready(struct weft__loop *L, struct weft__handle *h);

/* Task life (task.c): ends `t` after its function returned, on the loop's
   stack; and frees every record when the loop ends. */
void weft__task_finish(struct weft__loop *L, struct weft_task *t);
void weft__task_free_all(struct weft__loop *L);

/* Drops the callbacks still scheduled when the loop ends (callback.c). */
void weft__callbacks_drop(struct weft__loop *L);

/* loop_parts.c: registers `p` with L, to be ended by end(L, p) in `phase`
   (after the parts of earlier phases and those registered before it). */
void weft__part_add(struct weft__loop *L, struct weft__part *p, int phase,
                    void (*end)(struct weft__loop *L, struct weft__part *p));
/* loop_parts.c: the loop ends: ends every registered part, in order. */
void weft__parts_end(struct weft__loop *L);

/* The body of weft_run_opts() for one loop: runs `main` as the loop's first
   task on the calling thread; `group` and `index` place the loop among the
   loops started together (NULL, 0 alone). Same returns. (loop.c) */
int weft__loop_run(weft_task_fn main, void *arg, void **result,
                   const weft_loop_opts *opts, struct weft__loops *group, int index);

/* weft_run_opts() with more than one loop (loops.c). */
int weft__loops_run(weft_task_fn main, void *arg, void **result,
                    const weft_loop_opts *opts);

/* weft_task_cancel() of a weft_spawn_on() handle (spawn_on.c). */
int weft__xtask_cancel(struct weft_task *t);

/* Spawns into loop L (weft_spawn without the current-loop lookup). */
int weft__spawn(struct weft__loop *L, struct weft_task **out, weft_task_fn fn,
                void *arg, const weft_task_opts *opts);

/* Puts a private record into its public opaque storage, checked for size. */
#define WEFT__OPAQUE(type, pub) \
    ((type *)(void *)(pub)->opaque_)
#define WEFT__OPAQUE_FITS(type, pubtype) \
    _Static_assert(sizeof(type) <= sizeof(((pubtype *)0)->opaque_) && \
                   _Alignof(type) <= 8, #type " fits in " #pubtype)

#endif /* WEFT_LOOP_H */
