/*
 * dump.c - the text of a loop's dump (weft_dump, weft_snapshot_print), the
 * dump on a signal (weft_loop_opts.dump_signal), the detail of the
 * deadlock report, and the gdb extension embedded in the program.
 *
 * The signal handler does only what is async-signal-safe: it marks the
 * slot of each loop that asked for that signal and writes the slot's
 * eventfd, which sits in the loop's poller so that a loop waiting for
 * descriptors wakes up. The loop prints at the start of its next tick
 * (weft__debug_tick), on its own stack, where every task is suspended.
 *
 * Invariants: a slot is claimed and released under `slots_lock`; the
 * handler reads a slot only while `used` is set; a slot's eventfd, once
 * made, stays open, so a late write never reaches another descriptor.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "debug_internal.h"
#include "io_internal.h"
#include "weft/io.h"

/* The gdb extension (tools/gdb/weft.py), found by gdb's auto-load in any
   program linked with weft: a .debug_gdb_scripts entry of type 4 (inline
   Python) holding the whole script. Not loaded into memory. */
#ifdef WEFT_GDB_SCRIPT
__asm__(".pushsection \".debug_gdb_scripts\", \"MS\", %progbits, 1\n"
        ".byte 4\n"
        ".ascii \"weft-gdb.py\\n\"\n"
        ".incbin \"" WEFT_GDB_SCRIPT "\"\n"
        ".byte 0\n"
        ".popsection\n");
#endif

/* ------------------------------------------------------------------------ */
/* Text                                                                     */
/* ------------------------------------------------------------------------ */

/* A duration or a loop time in readable units, in buf. */
static const char *fmt_ns(char *buf, size_t cap, int64_t ns)
{
    int64_t a = ns < 0 ? -ns : ns;
    if (a < 1000)
        snprintf(buf, cap, "%" PRId64 "ns", ns);
    else if (a < 1000000)
        snprintf(buf, cap, "%.1fus", (double)ns / 1e3);
    else if (a < 1000000000)
        snprintf(buf, cap, "%.1fms", (double)ns / 1e6);
    else
        snprintf(buf, cap, "%.3fs", (double)ns / 1e9);
    return buf;
}

/* Bytes in readable units, in buf. */
static const char *fmt_bytes(char *buf, size_t cap, size_t n)
{
    if (n < 10 * 1024)
        snprintf(buf, cap, "%zu B", n);
    else if (n < (size_t)10 << 20)
        snprintf(buf, cap, "%zu KiB", n >> 10);
    else
        snprintf(buf, cap, "%zu MiB", n >> 20);
    return buf;
}

/* "chan receive 0x55..., 2 buffered" and the like: what ti waits for. */
static void wait_text(const weft_task_info *ti, int64_t now, char *buf, size_t cap)
{
    char t1[32], t2[32];
    const char *name = weft_wait_name(ti->wait);
    switch (ti->wait) {
    case WEFT_WAIT_SLEEP:
        snprintf(buf, cap, "sleep until %s (in %s)", fmt_ns(t1, sizeof t1, ti->wake_at),
                 fmt_ns(t2, sizeof t2, ti->wake_at - now));
        break;
    case WEFT_WAIT_FD:
        snprintf(buf, cap, "IO wait fd %d%s%s", ti->fd,
                 ti->events & WEFT_IO_READ ? " read" : "",
                 ti->events & WEFT_IO_WRITE ? " write" : "");
        break;
    case WEFT_WAIT_CHAN_SEND:
    case WEFT_WAIT_CHAN_RECV:
        snprintf(buf, cap, "%s %p, %" PRId64 " buffered", name, ti->wait_obj, ti->count);
        break;
    case WEFT_WAIT_SELECT:
        snprintf(buf, cap, "select, %" PRId64 " cases", ti->count);
        break;
    case WEFT_WAIT_MUTEX:
        snprintf(buf, cap, "mutex %p, held by task %" PRIu64, ti->wait_obj, ti->other);
        break;
    case WEFT_WAIT_SEM:
    case WEFT_WAIT_WAITGROUP:
        snprintf(buf, cap, "%s %p, count %" PRId64, name, ti->wait_obj, ti->count);
        break;
    case WEFT_WAIT_JOIN:
        snprintf(buf, cap, "join task %" PRIu64, ti->other);
        break;
    case WEFT_WAIT_TASKS:
        snprintf(buf, cap, "wait tasks, %" PRId64 " tasks", ti->count);
        break;
    default:
        snprintf(buf, cap, "%s %p", name, ti->wait_obj);
        break;
    }
    size_t len = strlen(buf);
    if (ti->wait != WEFT_WAIT_SLEEP && ti->wake_at != WEFT_FOREVER && len < cap)
        len += (size_t)snprintf(buf + len, cap - len, " until %s",
                                fmt_ns(t1, sizeof t1, ti->wake_at));
    if (ti->deadline != WEFT_FOREVER && len < cap)
        snprintf(buf + len, cap - len, ", scope deadline %s (in %s)",
                 fmt_ns(t1, sizeof t1, ti->deadline),
                 fmt_ns(t2, sizeof t2, ti->deadline - now));
}

int weft__print_frame(FILE *f, void *pc)
{
    Dl_info di;
    uintptr_t off;
    const char *name = weft__symbol(pc, &off);
    if (name && dladdr((char *)pc - 1, &di))
        return fprintf(f, "  %s+0x%" PRIxPTR " (%s)\n", name, off, di.dli_fname);
    /* A return address may be one past its function: look up pc - 1. */
    if (dladdr((char *)pc - 1, &di) && di.dli_sname)
        return fprintf(f, "  %s+0x%tx (%s)\n", di.dli_sname,
                       (char *)pc - (char *)di.dli_saddr, di.dli_fname);
    if (dladdr((char *)pc - 1, &di) && di.dli_fname)
        return fprintf(f, "  %p (%s+0x%tx)\n", pc, di.dli_fname,
                       (char *)pc - (char *)di.dli_fbase);
    return fprintf(f, "  %p\n", pc);
}

/* One task: its header line, its frames, a blank line. */
static void print_task(FILE *f, const weft_task_info *ti, int64_t now)
{
    char what[256], t1[32], b1[32], b2[32];
    if (ti->state == WEFT_TASK_RUNNING)
        snprintf(what, sizeof what, "running");
    else if (ti->runnable)
        snprintf(what, sizeof what, "runnable");
    else
        wait_text(ti, now, what, sizeof what);
    fprintf(f, "task %" PRIu64 " '%s' [%s", ti->id, ti->name, what);
    if (ti->wait != WEFT_WAIT_NONE)
        fprintf(f, ", %s", fmt_ns(t1, sizeof t1, ti->waited));
    if (ti->cancelled)
        fprintf(f, ", cancelled");
    if (ti->parent)
        fprintf(f, ", spawned by task %" PRIu64, ti->parent);
    if (ti->stack_used)
        fprintf(f, ", stack %s of %s", fmt_bytes(b1, sizeof b1, ti->stack_used),
                fmt_bytes(b2, sizeof b2, ti->stack_size));
    fprintf(f, "]:\n");
    for (int i = 0; i < ti->nframes; i++)
        weft__print_frame(f, ti->frames[i]);
    fprintf(f, "\n");
}

int weft_snapshot_print(const weft_snapshot *s, FILE *f)
{
    if (!s || !f)
        return -EINVAL;
    const weft_loop_info *l = &s->loop;
    char t1[32], b1[32];
    fprintf(f, "weft: %zu tasks (%zu running, %zu runnable, %zu waiting), %zu ended held;"
               " timers %zu; descriptors %zu (%zu tasks waiting); worker jobs %zu;\n"
               "weft: dispatches %" PRIu64 ", spawned %" PRIu64 ", ended %" PRIu64
               "; pooled stacks %zu (%s); now %s\n\n",
            l->tasks, l->running, l->runnable, l->waiting, l->ended, l->timers, l->fds,
            l->fd_waiting, l->jobs, l->dispatches, l->spawned, l->ended_total,
            l->stacks_pooled, fmt_bytes(b1, sizeof b1, l->stack_pool_bytes),
            fmt_ns(t1, sizeof t1, l->now));
    for (size_t i = 0; i < s->ntasks; i++)
        print_task(f, &s->tasks[i], l->now);
    return fflush(f) == 0 && !ferror(f) ? 0 : -EIO;
}

__attribute__((noinline)) int weft_dump(FILE *f)
{
    weft_snapshot *s;
    if (!f)
        return -EINVAL;
    int rc = weft__snapshot_take(&s, WEFT_SNAPSHOT_BACKTRACES | WEFT_SNAPSHOT_STACK_USE,
                                 __builtin_return_address(0));
    if (rc < 0)
        return rc;
    rc = weft_snapshot_print(s, f);
    weft_snapshot_free(s);
    return rc;
}

weft_snapshot *weft__deadlock_snapshot(struct weft__loop *L)
{
    weft_snapshot *s;
    int flags = WEFT_SNAPSHOT_BACKTRACES | WEFT_SNAPSHOT_STACK_USE;
    return weft__snapshot(L, &s, flags, 1, NULL) < 0 ? NULL : s;
}

void weft__deadlock_print(weft_snapshot *s)
{
    if (!s)
        return;                 /* the one-line report stands alone */
    for (size_t i = 0; i < s->ntasks; i++)
        print_task(stderr, &s->tasks[i], s->loop.now);
    weft_snapshot_free(s);
}

/* ------------------------------------------------------------------------ */
/* The dump on a signal                                                     */
/* ------------------------------------------------------------------------ */

#define SLOTS 64

static struct {
    struct weft__dump_slot s;   /* what the loop reads */
    atomic_int used;            /* claimed by a running loop */
    int sig;                    /* the signal it waits for */
    int has_fd;                 /* s.fd is open (kept across loops) */
    struct weft__part part;     /* undoes the start when the loop ends */
} slots[SLOTS];
static pthread_mutex_t slots_lock = PTHREAD_MUTEX_INITIALIZER;

static void on_signal(int sig)
{
    int saved = errno;          /* the interrupted code's */
    for (int i = 0; i < SLOTS; i++)
        if (atomic_load(&slots[i].used) && slots[i].sig == sig) {
            uint64_t one = 1;
            slots[i].s.pending = 1;
            if (write(slots[i].s.fd, &one, sizeof one) < 0) {
                /* full (2^64 - 2 writes unread) or closing: pending is set */
            }
        }
    errno = saved;
}

static void dump_signal_end(struct weft__loop *L, struct weft__part *part);

int weft__dump_signal_start(struct weft__loop *L, int sig)
{
    struct sigaction sa = {.sa_handler = on_signal, .sa_flags = SA_RESTART};
    if (sig <= 0 || sig >= NSIG || sig == SIGKILL || sig == SIGSTOP)
        return -EINVAL;
    struct weft__io *io = weft__io_get(L);
    if (!io)
        return -ENOMEM;
    pthread_mutex_lock(&slots_lock);
    int i = 0, rc = -EBUSY;
    while (i < SLOTS && atomic_load(&slots[i].used))
        i++;
    if (i == SLOTS)
        goto out;
    /* A slot keeps its eventfd for good: a handler that saw the slot in
       use just before it was released may still write to it. */
    if (!slots[i].has_fd) {
        int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        rc = -errno;
        if (fd < 0)
            goto out;
        slots[i].s.fd = fd;
        slots[i].has_fd = 1;
    }
    uint64_t n;
    while (read(slots[i].s.fd, &n, sizeof n) > 0)
        ;
    if ((rc = weft__poll_add(&io->poll, slots[i].s.fd)) < 0)
        goto out;
    sigemptyset(&sa.sa_mask);
    if (sigaction(sig, &sa, NULL) < 0) {
        rc = -errno;
        weft__poll_del(&io->poll, slots[i].s.fd);
        goto out;
    }
    slots[i].s.pending = 0;
    slots[i].sig = sig;
    atomic_store(&slots[i].used, 1);
    L->dump = &slots[i].s;
    weft__part_add(L, &slots[i].part, WEFT__PART_SOURCES, dump_signal_end);
    rc = 0;
out:
    pthread_mutex_unlock(&slots_lock);
    return rc;
}

/* The loop ends: undoes weft__dump_signal_start(). */
static void dump_signal_end(struct weft__loop *L, struct weft__part *part)
{
    (void)part;
    weft__poll_del(&L->io->poll, L->dump->fd);
    pthread_mutex_lock(&slots_lock);
    for (int i = 0; i < SLOTS; i++)
        if (&slots[i].s == L->dump)
            atomic_store(&slots[i].used, 0);
    /* The handler stays installed: an unclaimed signal does nothing, and
       what the signal did before is the program's to restore. */
    pthread_mutex_unlock(&slots_lock);
    L->dump = NULL;
}

void weft__dump_signalled(struct weft__loop *L)
{
    uint64_t n;
    L->dump->pending = 0;
    while (read(L->dump->fd, &n, sizeof n) > 0)
        ;
    weft_snapshot *s;
    int flags = WEFT_SNAPSHOT_BACKTRACES | WEFT_SNAPSHOT_STACK_USE;
    if (weft__snapshot(L, &s, flags, 0, NULL) < 0) {
        fprintf(stderr, "weft: dump: out of memory\n");
        return;
    }
    weft_snapshot_print(s, stderr);
    weft_snapshot_free(s);
}
