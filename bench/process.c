/*
 * process.c - what the memory benchmarks need of the process: a run in a
 * freshly forked child, and readings of /proc/self.
 *
 * A run in a child process cannot be helped or hidden by what earlier runs
 * left in weft's pools (stacks are pooled and stay resident): the child
 * starts with the parent's memory and at most the few free slots the
 * parent's own benchmarks left in its cache, which is noise against
 * thousands of tasks. The child sends its return code and sample back
 * through a pipe and leaves with _exit(), so no stdio buffer is flushed
 * twice.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

enum {
    CHILD_TIMEOUT_MS = 60000  /* a child taking longer is killed (qemu-user
                                 7.2 here never returns from fork()) */
};

/* What the child sends back through the pipe. */
struct report {
    int rc;                   /* 0 or a negative errno */
    struct bench_sample s;    /* its names are literals: same addresses in
                                 the parent, which the child is a copy of */
};

/* Reads a whole /proc file into buf without allocating; returns its length. */
static ssize_t read_proc(const char *path, char *buf, size_t size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n = 0, r;
    if (fd < 0)
        return -1;
    while ((size_t)n < size - 1 && (r = read(fd, buf + n, size - 1 - (size_t)n)) > 0)
        n += r;
    close(fd);
    buf[n] = '\0';
    return n;
}

double bench_rss_bytes(void)
{
    char buf[256];
    unsigned long size, resident;
    if (read_proc("/proc/self/statm", buf, sizeof buf) <= 0 ||
        sscanf(buf, "%lu %lu", &size, &resident) != 2)
        return -1;
    return (double)resident * (double)sysconf(_SC_PAGESIZE);
}

double bench_status_bytes(const char *field)
{
    char buf[4096];
    unsigned long kb;
    size_t len = strlen(field);
    const char *p = buf;
    if (read_proc("/proc/self/status", buf, sizeof buf) <= 0)
        return -1;
    /* The field at the start of a line, followed by its colon. */
    while ((p = strstr(p, field)) && ((p != buf && p[-1] != '\n') || p[len] != ':'))
        p += len;
    if (!p || sscanf(p + len + 1, "%lu", &kb) != 1)
        return -1;
    return (double)kb * 1024;
}

int bench_reset_peak_rss(void)
{
    int fd = open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int rc = write(fd, "5", 1) == 1 ? 0 : -errno;
    close(fd);
    return rc;
}

int bench_forked(bench_fn fn, uint64_t iters, struct bench_sample *out)
{
    struct report r;
    int fds[2], status;
    memset(&r, 0, sizeof r);
    r.rc = -EPROTO;
    if (pipe2(fds, O_CLOEXEC) < 0)
        return -errno;
    pid_t pid = fork();
    if (pid < 0) {
        int err = errno;
        close(fds[0]);
        close(fds[1]);
        return -err;
    }
    if (pid == 0) {
        close(fds[0]);
        r.s = *out;           /* the harness's defaults (bytes = -1, ...) */
        r.rc = fn(iters, &r.s);
        ssize_t w = write(fds[1], &r, sizeof r);
        _exit(w == (ssize_t)sizeof r ? 0 : 1); /* no atexit, no stdio flush */
    }
    close(fds[1]);
    struct pollfd p = {.fd = fds[0], .events = POLLIN};
    ssize_t got = -1;
    int ready;
    while ((ready = poll(&p, 1, CHILD_TIMEOUT_MS)) < 0 && errno == EINTR)
        ;
    if (ready == 1)
        got = read(fds[0], &r, sizeof r);
    else
        kill(pid, SIGKILL); /* a hung child must not hang the bench */
    close(fds[0]);
    if (waitpid(pid, &status, 0) < 0 || got < 0)
        return -ETIMEDOUT;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || got != (ssize_t)sizeof r)
        return r.rc < 0 ? r.rc : -EPROTO;
    if (r.rc < 0)
        return r.rc;
    *out = r.s;
    return 0;
}
