/*
 * harness.h - the benchmark harness of weft-bench: a registry of
 * benchmarks, each identified by a bench name ("switch") and an
 * implementation ("weft", "ucontext", ...), run five times and reported as
 * median, min and max nanoseconds per operation, as a table or as JSON.
 *
 * A benchmark is one function that performs `iters` operations, times them
 * itself (so its setup stays out of the measurement) and fills in a
 * struct bench_sample. The harness picks `iters`: the benchmark's own fixed
 * count, the --iters override, or a count calibrated to about 200 ms a run.
 * A run may add named values of its own (bench_sample_set()); the harness
 * reports the median of each over the runs as an extra JSON field.
 *
 * Included by the C++ peers too, hence the extern "C".
 */
#ifndef WEFT_BENCH_HARNESS_H
#define WEFT_BENCH_HARNESS_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum { BENCH_MAX_EXTRA = 8 }; /* named values a sample may carry */

/* weft's implementation name in the switch and yield rows: the
   WEFT_FP_CONTROL=thread build reports as its own implementation. */
#ifdef WEFT_FP_CONTROL_THREAD
#define WEFT_BENCH_IMPL "weft_fp_thread"
#else
#define WEFT_BENCH_IMPL "weft"
#endif

/* A named value of one run, reported as it is (not divided by iters). */
struct bench_extra {
    const char *name;  /* JSON key, a string literal; NULL: slot unused */
    double value;
};

/* What one run of a benchmark measured, in totals over its `iters`. */
struct bench_sample {
    double ns;         /* elapsed nanoseconds of the timed part */
    double bytes;      /* memory growth in bytes; < 0 when not measured */
    double pte_bytes;  /* page-table growth in bytes; < 0 when not measured */
    struct bench_extra extra[BENCH_MAX_EXTRA]; /* filled from the front */
};

/*
 * Sets the extra value `name` (a string literal) of *s, adding it after the
 * ones set before. Aborts when BENCH_MAX_EXTRA are set already.
 */
void bench_sample_set(struct bench_sample *s, const char *name, double value);

/*
 * Runs `iters` operations and fills *out. Returns 0, or a negative errno
 * when the run failed (the harness reports it and goes on).
 */
typedef int (*bench_fn)(uint64_t iters, struct bench_sample *out);

/* A registered benchmark. Its strings must outlive the program. */
struct bench {
    const char *name;  /* what is measured: "switch", "create", "memory" */
    const char *impl;  /* who does it: "weft", "ucontext", "boost_fcontext" */
    bench_fn run;      /* one run */
    uint64_t iters;    /* operations per run; 0 calibrates to ~200 ms */
    int runs;          /* runs unless --runs says; 0 for the default 5 */
};

/* Adds a benchmark to the registry (copied). Aborts when it is full. */
void bench_register(const struct bench *b);

/*
 * Parses the command line, runs the selected benchmarks and prints them.
 * Returns the process exit status: 0, 1 when a benchmark failed, 2 for a
 * usage error.
 */
int bench_main(int argc, char **argv);

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t bench_now_ns(void);

/*
 * Runs fn(iters, out) in a child process forked for it and returns what the
 * child returned, with *out filled from the child's sample; -ETIMEDOUT when
 * the child takes more than a minute (it is killed). For measurements of
 * memory that the pools of earlier runs would hide. (process.c)
 */
int bench_forked(bench_fn fn, uint64_t iters, struct bench_sample *out);

/* Resident bytes of this process (/proc/self/statm); < 0 on failure. */
double bench_rss_bytes(void);

/*
 * A "Name:  N kB" line of /proc/self/status in bytes, e.g. "VmHWM" (peak
 * RSS) or "VmPTE" (page tables); < 0 on failure.
 */
double bench_status_bytes(const char *field);

/*
 * Makes this process's peak RSS (VmHWM) restart from its current RSS
 * (writes 5 to /proc/self/clear_refs, Linux 4.0+). Returns 0 or -errno.
 */
int bench_reset_peak_rss(void);

/* Makes the compiler believe `p` is read, so the work behind it stays. */
static inline void bench_use(const void *p)
{
    __asm__ volatile("" : : "r"(p) : "memory");
}

/*
 * Registration functions of the benchmark groups, called by main.c in the
 * order the table lists them. A new group adds one line here and in main.c.
 */
void bench_switch_register(void);
void bench_create_register(void);
void bench_memory_register(void);
void bench_yield_register(void);
void bench_spawn_register(void);
void bench_sleepers_register(void);
void bench_timer_heap_register(void);
void bench_sync_register(void);
void bench_io_register(void);
void bench_loops_register(void);
void peer_ucontext_register(void);
void peer_fcontext_register(void);
void peer_fiber_register(void);

/*
 * The echo benchmark's epoll server (peer_epoll.c): serves connections
 * accepted from the listening socket `lfd` until the process is killed.
 * Returns only on failure, a negative errno.
 */
int peer_epoll_echo_serve(int lfd);

/*
 * The echo benchmark's weft server with two loops (bench_loops.c): loop 0
 * accepts on `lfd` (bound with SO_REUSEPORT), loop 1 on a socket of its own
 * on the same port. Returns only on failure, a negative errno.
 */
int bench_loops_echo_serve(int lfd);

/* The weft echo servers' task for one connection (bench_io.c): echoes the
   descriptor `arg` (an int in a pointer) until EOF or an error, then
   closes it. */
int bench_weft_echo_conn(void *arg, void **result);

/* The weft echo server's accept loop on `lfd`: a detached
   bench_weft_echo_conn task per connection, until an accept fails (its
   error is returned). bench_io.c. */
int bench_weft_accept_loop(int lfd);

#ifdef __cplusplus
}
#endif

#endif /* WEFT_BENCH_HARNESS_H */
