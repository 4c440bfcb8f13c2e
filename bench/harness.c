/*
 * harness.c - registry, run loop, statistics and output of weft-bench.
 *
 * Each selected benchmark runs RUNS times (five, or the benchmark's own
 * count, unless --runs says otherwise) with the same iteration count; the
 * table and the JSON lines report the median, min and max of the
 * per-operation times, and the median of each named extra value.
 * Benchmarks are reported grouped by bench name, in the order their first
 * implementation was registered, so "switch" rows stay together whatever
 * the file order.
 *
 * Calibration: without a fixed count, the harness grows the count until one
 * run takes at least CALIB_MIN_NS, then scales it to TARGET_NS. The
 * calibration runs double as a warm-up (stacks pooled, caches and branch
 * predictors trained) and are not reported.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "harness.h"

enum {
    MAX_BENCHES = 64, /* room for every group planned (yield, chan, ...) */
    MAX_RUNS = 99,    /* upper bound of --runs */
    DEFAULT_RUNS = 5  /* runs of a benchmark that names no count */
};

#define TARGET_NS 200e6   /* aim of a calibrated run: 200 ms */
#define CALIB_MIN_NS 20e6 /* a calibration run this long predicts well */

static struct bench registry[MAX_BENCHES];
static int registered;

/* The command line. */
struct options {
    int json;            /* --json: one JSON object per line */
    const char *filter;  /* --filter NAME: only this bench name */
    const char *impl;    /* --impl NAME: only this implementation */
    uint64_t iters;      /* --iters N: operations per run, 0 = default */
    int runs;            /* --runs N: runs per benchmark, 0 = default */
    int list;            /* --list: print the registry and exit */
};

/* Summary of one benchmark's runs. */
struct result {
    uint64_t iters;      /* operations per run */
    int runs;            /* runs made */
    double med, min, max;         /* ns per operation */
    double bytes, pte_bytes;      /* median per operation; < 0 if none */
    struct bench_extra extra[BENCH_MAX_EXTRA]; /* medians, by name */
};

void bench_sample_set(struct bench_sample *s, const char *name, double value)
{
    int i = 0;
    while (i < BENCH_MAX_EXTRA && s->extra[i].name && strcmp(s->extra[i].name, name))
        i++;
    if (i == BENCH_MAX_EXTRA) {
        fprintf(stderr, "weft-bench: too many extra values (BENCH_MAX_EXTRA)\n");
        abort();
    }
    s->extra[i].name = name;
    s->extra[i].value = value;
}

void bench_register(const struct bench *b)
{
    if (registered == MAX_BENCHES) {
        fprintf(stderr, "weft-bench: registry full (MAX_BENCHES)\n");
        abort();
    }
    registry[registered++] = *b;
}

uint64_t bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median of v[0..n), n >= 1; sorts v. */
static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* An empty sample: nothing measured yet, no extra values. */
static void sample_init(struct bench_sample *s)
{
    memset(s, 0, sizeof *s);
    s->bytes = s->pte_bytes = -1;
}

/* Finds an iteration count for a run of about TARGET_NS. */
static int calibrate(const struct bench *b, uint64_t *iters)
{
    uint64_t n = 100;
    struct bench_sample s;
    for (;;) {
        sample_init(&s);
        int rc = b->run(n, &s);
        if (rc < 0)
            return rc;
        if (s.ns >= CALIB_MIN_NS)
            break;
        /* Grow towards CALIB_MIN_NS, by 2x to 100x per step. */
        double k = s.ns > 0 ? CALIB_MIN_NS * 1.5 / s.ns : 100;
        n = (uint64_t)((double)n * (k < 2 ? 2 : k > 100 ? 100 : k));
    }
    double scaled = (double)n * TARGET_NS / s.ns;
    *iters = scaled < 1 ? 1 : (uint64_t)scaled;
    return 0;
}

/*
 * Files the extra values of one run's sample under r->extra's names (adding
 * names not seen before): value of name j goes to vals[j][nvals[j]++].
 */
static void collect_extra(struct result *r, const struct bench_sample *s,
                          double vals[][MAX_RUNS], int *nvals)
{
    for (int k = 0; k < BENCH_MAX_EXTRA && s->extra[k].name; k++) {
        int j = 0;
        while (j < BENCH_MAX_EXTRA && r->extra[j].name &&
               strcmp(r->extra[j].name, s->extra[k].name))
            j++;
        if (j == BENCH_MAX_EXTRA)
            continue; /* cannot happen: a sample holds as many names */
        r->extra[j].name = s->extra[k].name;
        vals[j][nvals[j]++] = s->extra[k].value;
    }
}

static int run_bench(const struct bench *b, const struct options *o,
                     struct result *r)
{
    double ns[MAX_RUNS], bytes[MAX_RUNS], pte[MAX_RUNS];
    double extra[BENCH_MAX_EXTRA][MAX_RUNS];
    int nextra[BENCH_MAX_EXTRA] = {0};
    int rc = 0;
    memset(r->extra, 0, sizeof r->extra);
    r->iters = o->iters ? o->iters : b->iters;
    if (!r->iters && (rc = calibrate(b, &r->iters)) < 0)
        return rc;
    r->runs = o->runs ? o->runs : b->runs > 0 ? b->runs : DEFAULT_RUNS;
    if (r->runs > MAX_RUNS)
        r->runs = MAX_RUNS;
    for (int i = 0; i < r->runs; i++) {
        struct bench_sample s;
        sample_init(&s);
        if ((rc = b->run(r->iters, &s)) < 0)
            return rc;
        ns[i] = s.ns / (double)r->iters;
        bytes[i] = s.bytes < 0 ? -1 : s.bytes / (double)r->iters;
        pte[i] = s.pte_bytes < 0 ? -1 : s.pte_bytes / (double)r->iters;
        collect_extra(r, &s, extra, nextra);
    }
    for (int j = 0; j < BENCH_MAX_EXTRA && r->extra[j].name; j++)
        r->extra[j].value = median(extra[j], nextra[j]);
    r->bytes = median(bytes, r->runs);
    r->pte_bytes = median(pte, r->runs);
    r->med = median(ns, r->runs);   /* sorts ns: min and max follow */
    r->min = ns[0];
    r->max = ns[r->runs - 1];
    return 0;
}

/* Prints an extra value: whole numbers without decimals (counts). */
static void print_value(double v)
{
    if (v > -1e15 && v < 1e15 && (double)(long long)v == v)
        printf("%lld", (long long)v);
    else
        printf("%.3f", v);
}

static void print_row(const struct bench *b, const struct result *r, int json)
{
    if (json) {
        printf("{\"bench\":\"%s\",\"impl\":\"%s\",\"ns_per_op\":%.3f,"
               "\"min\":%.3f,\"max\":%.3f,\"runs\":%d,\"iters\":%llu",
               b->name, b->impl, r->med, r->min, r->max, r->runs,
               (unsigned long long)r->iters);
        if (r->bytes >= 0)
            printf(",\"bytes_per_op\":%.1f", r->bytes);
        if (r->pte_bytes >= 0)
            printf(",\"pte_bytes_per_op\":%.1f", r->pte_bytes);
        for (int j = 0; j < BENCH_MAX_EXTRA && r->extra[j].name; j++) {
            printf(",\"%s\":", r->extra[j].name);
            print_value(r->extra[j].value);
        }
        printf("}\n");
    } else {
        printf("%-10s %-15s %12.2f %10.2f %10.2f %11llu", b->name, b->impl,
               r->med, r->min, r->max, (unsigned long long)r->iters);
        if (r->bytes >= 0)
            printf(" %10.1f", r->bytes);
        else if (r->extra[0].name)
            printf(" %10s", "");
        for (int j = 0; j < BENCH_MAX_EXTRA && r->extra[j].name; j++) {
            printf(" %s=", r->extra[j].name);
            print_value(r->extra[j].value);
        }
        printf("\n");
    }
    fflush(stdout);
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: weft-bench [--json] [--filter NAME] [--impl NAME]\n"
            "                  [--iters N] [--runs N] [--list]\n"
            "  --json         one JSON object per line instead of a table\n"
            "  --filter NAME  only benchmarks whose bench name is NAME\n"
            "  --impl NAME    only implementations named NAME\n"
            "  --iters N      N operations per run instead of the default\n"
            "                 (calibrated to ~200 ms, or fixed per bench)\n"
            "  --runs N       runs per benchmark (default 5 or the\n"
            "                 benchmark's own, at most %d)\n"
            "  --list         list the benchmarks and exit\n",
            MAX_RUNS);
}

/* Parses a positive integer argument; returns 0 on failure. */
static unsigned long long parse_count(const char *s)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    return errno || end == s || *end || s[0] == '-' ? 0 : v;
}

static int parse_args(int argc, char **argv, struct options *o)
{
    *o = (struct options){0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i]; /* the option, for the error message */
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--json")) {
            o->json = 1;
        } else if (!strcmp(a, "--list")) {
            o->list = 1;
        } else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            exit(0);
        } else if (v && !strcmp(a, "--filter")) {
            o->filter = argv[++i];
        } else if (v && !strcmp(a, "--impl")) {
            o->impl = argv[++i];
        } else if (v && !strcmp(a, "--iters")) {
            if (!(o->iters = parse_count(argv[++i])))
                goto bad;
        } else if (v && !strcmp(a, "--runs")) {
            unsigned long long n = parse_count(argv[++i]);
            if (!n || n > MAX_RUNS)
                goto bad;
            o->runs = (int)n;
        } else {
            goto bad;
        }
        continue;
    bad:
        fprintf(stderr, "weft-bench: bad or incomplete option '%s'\n", a);
        usage(stderr);
        return -EINVAL;
    }
    return 0;
}

static int selected(const struct bench *b, const struct options *o)
{
    return (!o->filter || !strcmp(b->name, o->filter)) &&
           (!o->impl || !strcmp(b->impl, o->impl));
}

/*
 * True when an earlier selected benchmark has the name, impl and function
 * of registry[k]: with --iters they differ in nothing (the two "sleepers"
 * rows differ only in their fixed count), so the later one is skipped.
 * Rows with functions of their own (the "echo" connection counts) stay.
 */
static int repeats_earlier(int k, const struct options *o)
{
    if (!o->iters)
        return 0;
    for (int j = 0; j < k; j++)
        if (selected(&registry[j], o) &&
            !strcmp(registry[j].name, registry[k].name) &&
            !strcmp(registry[j].impl, registry[k].impl) &&
            registry[j].run == registry[k].run)
            return 1;
    return 0;
}

/* True when registry[i] is the first benchmark with its bench name. */
static int first_of_name(int i)
{
    for (int j = 0; j < i; j++)
        if (!strcmp(registry[j].name, registry[i].name))
            return 0;
    return 1;
}

int bench_main(int argc, char **argv)
{
    struct options o;
    int status = 0, header = 0, ran = 0;
    if (parse_args(argc, argv, &o) < 0)
        return 2;
    for (int i = 0; i < registered; i++) {
        if (!first_of_name(i))
            continue;
        for (int k = i; k < registered; k++) {
            const struct bench *b = &registry[k];
            if (strcmp(b->name, registry[i].name) || !selected(b, &o) ||
                repeats_earlier(k, &o))
                continue;
            if (o.list) {
                printf("%s %s\n", b->name, b->impl);
                continue;
            }
            if (!o.json && !header++)
                printf("%-10s %-15s %12s %10s %10s %11s %10s\n", "bench",
                       "impl", "median ns/op", "min", "max", "iters",
                       "bytes/op");
            struct result r;
            int rc = run_bench(b, &o, &r);
            ran++;
            if (rc < 0) {
                fprintf(stderr, "weft-bench: %s/%s failed: %s\n", b->name,
                        b->impl, strerror(-rc));
                status = 1;
                continue;
            }
            print_row(b, &r, o.json);
        }
    }
    if (!ran && !o.list) {
        fprintf(stderr, "weft-bench: no benchmark matches\n");
        return 2;
    }
    return status;
}
