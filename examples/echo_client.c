/*
 * echo_client.c - a client for echo_server.
 *
 *   echo_client [HOST] [PORT] [COUNT]
 *
 * Connects to HOST (default 127.0.0.1) port PORT (default 7777) and sends
 * COUNT lines (default 10), "message 1" ... "message COUNT". A writer task
 * sends them all while a reader task reads the echoes back at the same time
 * and checks each against what was sent; then it prints a summary. Exits 1
 * if the connection fails or an echo differs.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <weft.h>

struct client {
    const char *host;
    int port;
    long count;
    int fd;
    unsigned long long sent, received;
    long matched;
};

/* The i-th line (1-based) into buf; returns its length. */
static int line(char *buf, size_t cap, long i)
{
    return snprintf(buf, cap, "message %ld\n", i);
}

/* Sends every line, then shuts the sending side down. */
static int writer(void *arg, void **result)
{
    struct client *c = arg;
    char buf[64];
    (void)result;
    for (long i = 1; i <= c->count; i++) {
        int len = line(buf, sizeof buf, i);
        ssize_t n = weft_write_all(c->fd, buf, (size_t)len);
        if (n < 0)
            return (int)n;
        c->sent += (unsigned long long)n;
    }
    /* EOF for the server, which then closes its side once all is echoed. */
    return shutdown(c->fd, SHUT_WR) < 0 ? -errno : 0;
}

/* Reads the echoes until EOF, checking them line by line. */
static int reader(void *arg, void **result)
{
    struct client *c = arg;
    char buf[8192], want[64], cur[64];
    size_t curlen = 0;
    long next = 1;
    ssize_t n;
    (void)result;
    while ((n = weft_read(c->fd, buf, sizeof buf)) > 0) {
        c->received += (unsigned long long)n;
        for (ssize_t i = 0; i < n; i++) {
            if (curlen == sizeof cur - 1)
                return -EPROTO; /* longer than any line sent */
            cur[curlen++] = buf[i];
            if (buf[i] != '\n')
                continue;
            int len = line(want, sizeof want, next);
            if ((size_t)len != curlen || memcmp(want, cur, curlen)) {
                cur[curlen - 1] = '\0';
                fprintf(stderr, "echo_client: echo %ld is \"%s\"\n", next, cur);
                return -EPROTO;
            }
            c->matched++;
            next++;
            curlen = 0;
        }
    }
    return n < 0 ? (int)n : 0;
}

static int async_main(void *arg, void **result)
{
    struct client *c = arg;
    weft_task *tasks[2];
    int codes[2] = {0, 0};
    int rc;
    (void)result;

    c->fd = weft_tcp_connect(c->host, c->port);
    if (c->fd < 0)
        return c->fd;
    int64_t start = weft_now();
    if ((rc = weft_spawn(&tasks[0], writer, c, NULL)) < 0)
        goto out;
    if ((rc = weft_spawn(&tasks[1], reader, c, NULL)) < 0) {
        weft_task_cancel(tasks[0]);
        weft_task_join(tasks[0], NULL);
        weft_task_release(tasks[0]);
        goto out;
    }
    rc = weft_gather(tasks, 2, NULL, codes, WEFT_GATHER_COLLECT);
    weft_task_release(tasks[0]);
    weft_task_release(tasks[1]);
    if (rc == 0)
        rc = codes[0] < 0 ? codes[0] : codes[1];
    double ms = (double)(weft_now() - start) / 1e6;
    printf("echo_client: %ld of %ld messages echoed back intact (%llu bytes sent, %llu "
           "received) in %.1f ms\n",
           c->matched, c->count, c->sent, c->received, ms);
    if (rc == 0 && c->matched != c->count)
        rc = -EPROTO; /* the server closed early */
out:
    weft_io_close(c->fd);
    return rc;
}

int main(int argc, char **argv)
{
    struct client c = {.host = "127.0.0.1", .port = 7777, .count = 10, .fd = -1};
    char *end;
    if (argc > 4) {
        fprintf(stderr, "usage: echo_client [HOST] [PORT] [COUNT]\n");
        return 2;
    }
    if (argc > 1)
        c.host = argv[1];
    if (argc > 2 && ((c.port = (int)strtol(argv[2], &end, 10)) <= 0 || *end || c.port > 65535)) {
        fprintf(stderr, "echo_client: bad port %s\n", argv[2]);
        return 2;
    }
    if (argc > 3 && ((c.count = strtol(argv[3], &end, 10)) < 0 || *end)) {
        fprintf(stderr, "echo_client: bad count %s\n", argv[3]);
        return 2;
    }
    int rc = weft_run(async_main, &c, NULL);
    if (rc < 0)
        fprintf(stderr, "echo_client: %s\n", weft_strerror(rc));
    return rc < 0;
}
