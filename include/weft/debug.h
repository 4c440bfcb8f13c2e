/*
 * weft/debug.h - seeing inside a running loop: every task, what it waits
 * for and since when, its stack and its call stack; loop totals; a dump in
 * the shape of Go's goroutine dump, on demand or on a signal.
 *
 * A snapshot is a copy: weft_snapshot_take() copies what it reports into
 * memory the caller owns, so it stays valid while the loop runs on and the
 * tasks it describes end. Object addresses in it (wait_obj) identify the
 * object; they are never dereferenced again.
 *
 * Backtraces. A suspended task's call stack starts from the frame its
 * switch saved (src/arch/context.h). On x86-64 weft runs the DWARF unwinder
 * (glibc's backtrace(), libgcc) over it, by entering the task's stack for
 * a moment at a function that unwinds and switches straight back (the task
 * itself does not run): whole stacks, from the waiting function to the
 * task's entry, with or without -fno-omit-frame-pointer. On AArch64, and
 * in ASan and TSan builds (which compile with frame pointers), it walks the
 * frame-pointer chain instead (x29 / rbp from the saved frame): the first
 * entry, the return address of the switch, is always right; the entries
 * above it only where the code on the task's stack keeps frame pointers.
 * Measured (tests/test_debug.c, test_debug_backtrace_*, gcc 13 -O2): on
 * x86-64 the unwinder gives debug_inner, debug_outer, debug_bt_task and
 * the task's entry both with and without frame pointers; the walk alone
 * gives all of them with -fno-omit-frame-pointer, and without it only the
 * function where the task entered weft (debug_inner here, for a sleep; for
 * a wait weft does work after, a weft function such as weft_future_await).
 * gdb (tools/gdb/weft.py) unwinds with the debug information and needs no
 * frame pointers either. Names come from the symbol table of the object
 * (the program or a shared library, read from its file once: static
 * functions too, unless it is stripped), else from dladdr() (the exported
 * ones); an address without a name prints as "address (object+offset)",
 * which addr2line -e object offset names.
 */
#ifndef WEFT_DEBUG_H
#define WEFT_DEBUG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "weft/task.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/* What a task waits for                                                    */
/* ------------------------------------------------------------------------ */

typedef enum weft_wait_kind {
    WEFT_WAIT_NONE = 0,      /* not waiting: running, runnable, or ended */
    WEFT_WAIT_SLEEP = 1,     /* weft_sleep / weft_sleep_until: until wake_at */
    WEFT_WAIT_FD = 2,        /* a descriptor: fd, events (WEFT_IO_*) */
    WEFT_WAIT_CHAN_SEND = 3, /* weft_chan_send on wait_obj (a weft_chan) */
    WEFT_WAIT_CHAN_RECV = 4, /* weft_chan_recv on wait_obj */
    WEFT_WAIT_SELECT = 5,    /* weft_select: count cases at wait_obj */
    WEFT_WAIT_MUTEX = 6,     /* weft_mutex_lock; other = its owner's id */
    WEFT_WAIT_SEM = 7,       /* weft_sem_acquire */
    WEFT_WAIT_EVENT = 8,     /* weft_event_wait */
    WEFT_WAIT_COND = 9,      /* weft_cond_wait */
    WEFT_WAIT_WAITGROUP = 10, /* weft_waitgroup_wait; count = its counter */
    WEFT_WAIT_FUTURE = 11,   /* weft_future_await */
    WEFT_WAIT_JOIN = 12,     /* weft_task_join; other = the joined task's id */
    WEFT_WAIT_TASKS = 13,    /* gather / wait / wait_for / as_completed:
                                count tasks, until wake_at for a timeout */
    WEFT_WAIT_GROUP = 14,    /* weft_group_exit: its members to end */
    WEFT_WAIT_JOB = 15       /* weft_to_thread: a worker-pool job */
} weft_wait_kind;

/* "sleep", "chan receive", ...: a short name of `kind`; "?" if unknown.
   Never suspends. */
const char *weft_wait_name(int kind);

/* ------------------------------------------------------------------------ */
/* Snapshots                                                                */
/* ------------------------------------------------------------------------ */

/* Frames kept per task. */
#define WEFT_BACKTRACE_MAX 32

/* One task, as it was when the snapshot was taken. */
typedef struct weft_task_info {
    uint64_t id;            /* spawn order in its loop, from 1 (main) */
    uint64_t parent;        /* id of the task that spawned it; 0 for main
                               and for tasks spawned from callbacks */
    char name[32];          /* its name, NUL-terminated */
    weft_task_state state;  /* as weft_task_status() */
    int runnable;           /* in the run queue (state PENDING, not waiting) */
    int cancelled;          /* weft_task_cancel() was called */
    weft_wait_kind wait;    /* what it waits for; NONE unless waiting */
    const void *wait_obj;   /* the object waited on (channel, mutex, ...),
                               for identity; NULL for sleep and FD */
    int fd;                 /* WEFT_WAIT_FD: the descriptor, else -1 */
    int events;             /* WEFT_WAIT_FD: WEFT_IO_READ | WEFT_IO_WRITE */
    uint64_t other;         /* JOIN: the joined task's id; MUTEX: the
                               owner's id (0: none); else 0 */
    int64_t count;          /* SELECT: cases; TASKS: tasks watched; GROUP:
                               members running; WAITGROUP: its counter; SEM:
                               its value; CHAN_*: values buffered */
    int64_t wake_at;        /* the wait's own end in loop time (a sleep,
                               a timeout of weft_wait), else WEFT_FOREVER */
    int64_t deadline;       /* the earliest deadline of the timeout scopes
                               that apply, else WEFT_FOREVER */
    int64_t waited;         /* nanoseconds since it began to wait: since
                               the loop last read its clock before the park
                               (on the first tick after the loop waited, and
                               every 64 ticks; exact on the virtual clock);
                               0 unless waiting */
    size_t stack_size;      /* bytes of its stack */
    size_t stack_used;      /* bytes of stack made resident (touched), from
                               the top down: its high-water mark. A pooled
                               stack keeps the pages of earlier tasks, so
                               this is the most any task on it has used */
    int nframes;            /* entries in frames */
    void *frames[WEFT_BACKTRACE_MAX]; /* return addresses, innermost first */
} weft_task_info;

/* The loop, as it was when the snapshot was taken. */
typedef struct weft_loop_info {
    size_t tasks;           /* tasks not ended */
    size_t running;         /* 1 when taken from a task, else 0 */
    size_t runnable;        /* in the run queue */
    size_t waiting;         /* parked */
    size_t ended;           /* ended tasks still held by a handle */
    size_t runq_len;        /* run-queue length (= runnable) */
    size_t timers;          /* alarms in the timer heap: sleeps, deadlines,
                               call_later callbacks */
    size_t fds;             /* descriptors the loop watches */
    size_t fd_waiting;      /* tasks waiting on descriptors */
    uint64_t dispatches;    /* times a task was given the CPU: each is one
                               switch, except when the only runnable task
                               yields and goes on */
    uint64_t spawned;       /* tasks spawned so far */
    uint64_t ended_total;   /* tasks ended so far */
    size_t jobs;            /* worker-pool jobs not yet completed */
    size_t stacks_pooled;   /* free stacks in the pool (this thread's cache
                               and the process-wide depot) */
    size_t stack_pool_bytes; /* their bytes */
    int64_t now;            /* the loop's clock (weft_now()) */
    uint64_t sleeps;        /* times the loop blocked in the kernel with
                               nothing to run (epoll_wait or a sleep until
                               its next alarm); a spin that found work
                               (weft_loop_opts.poll_spin_ns) is none */
} weft_loop_info;

typedef struct weft_snapshot {
    weft_loop_info loop;    /* the totals */
    size_t ntasks;          /* entries in tasks */
    weft_task_info *tasks;  /* the tasks not ended, in spawn order (the
                               one taking the snapshot among them) */
} weft_snapshot;

/* What weft_snapshot_take_opts() collects besides the list. */
enum {
    WEFT_SNAPSHOT_BACKTRACES = 1, /* frames of every task */
    WEFT_SNAPSHOT_STACK_USE = 2   /* stack_used (one mincore() per task) */
};

/*
 * Copies the state of the calling thread's loop and every task not ended
 * into a new snapshot, *out, which the caller owns and frees with
 * weft_snapshot_free(). Call it from a task or a callback of the loop.
 * weft_snapshot_take() collects everything; weft_snapshot_take_opts()
 * what `flags` (WEFT_SNAPSHOT_*) asks for (0: the list and totals only).
 * Returns 0, -EINVAL (NULL out, unknown flag), -EPERM (no loop runs on
 * this thread) or -ENOMEM. Never suspends.
 */
int weft_snapshot_take(weft_snapshot **out);
int weft_snapshot_take_opts(weft_snapshot **out, int flags);

/* Frees a snapshot; NULL is ignored. Never suspends. */
void weft_snapshot_free(weft_snapshot *s);

/*
 * Writes the return addresses of task `t`'s call stack, innermost first,
 * into frames[0..max) and returns how many: a suspended or runnable task
 * from its saved frame, the running task (t == weft_task_current()) from
 * the caller of this function. See "Backtraces" above for how far it
 * reaches. Returns -EINVAL (NULL t or frames, max < 0), -EPERM (t belongs
 * to no loop running on this thread), -ESRCH (t has ended). Never suspends.
 */
int weft_task_backtrace(const weft_task *t, void **frames, int max);

/* ------------------------------------------------------------------------ */
/* Dumps                                                                    */
/* ------------------------------------------------------------------------ */

/*
 * Writes the loop totals, then every task in the shape of Go's goroutine
 * dump: "task 7 'worker' [chan receive 0x..., 12.5s, spawned by task 1]:"
 * followed by its symbolised backtrace, one "  function+0xoff (object)"
 * line per frame, and a blank line. Call it from a task or a callback.
 * Returns 0, -EINVAL (NULL f), -EPERM (no loop runs on this thread),
 * -ENOMEM, or -EIO (writing failed). Never suspends.
 */
int weft_dump(FILE *f);

/* Writes snapshot `s` as weft_dump() does. Returns 0, -EINVAL or -EIO.
   Never suspends. */
int weft_snapshot_print(const weft_snapshot *s, FILE *f);

#ifdef __cplusplus
}
#endif

#endif /* WEFT_DEBUG_H */
