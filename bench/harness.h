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
 */
#ifndef WEFT_BENCH_HARNESS_H
#define WEFT_BENCH_HARNESS_H

#include <stdint.h>

/* What one run of a benchmark measured, in totals over its `iters`. */
struct bench_sample {
    double ns;         /* elapsed nanoseconds of the timed part */
    double bytes;      /* memory growth in bytes; < 0 when not measured */
    double pte_bytes;  /* page-table growth in bytes; < 0 when not measured */
};

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
void peer_ucontext_register(void);
void peer_fcontext_register(void);

#endif /* WEFT_BENCH_HARNESS_H */
