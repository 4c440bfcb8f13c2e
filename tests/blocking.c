/*
 * blocking.c - the blocking client and echo server of blocking.h, written
 * against libc alone (this file never includes a weft header and its
 * library is built without weft).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "blocking.h"

int blk_listen(int *port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    int one = 1, fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -errno;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0 || listen(fd, 4096) < 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) < 0) {
        int err = errno;
        close(fd);
        return -err;
    }
    *port = ntohs(a.sin_port);
    return fd;
}

int blk_accept(int lfd)
{
    int fd = accept(lfd, NULL, NULL);
    return fd < 0 ? -errno : fd;
}

/* write(2) until all n bytes are out. */
static int write_all(int fd, const unsigned char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int blk_echo(int fd)
{
    unsigned char buf[4096];
    int rc = 0;
    for (;;) {
        ssize_t r = read(fd, buf, sizeof buf);
        if (r == 0)
            break;
        if (r < 0) {
            if (errno == EINTR)
                continue;
            rc = -errno;
            break;
        }
        if ((rc = write_all(fd, buf, (size_t)r)) < 0)
            break;
    }
    close(fd);
    return rc;
}

unsigned char blk_pattern(unsigned id, size_t at)
{
    return (unsigned char)(id * 131u + at * 7u + (at >> 8));
}

int blk_client(int port, unsigned id, size_t nbytes, int think_ms)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    unsigned char out[1024], in[1024];
    size_t sent = 0, got = 0;
    int rc = 0, fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -errno;
    if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
        rc = -errno;
        goto out;
    }
    struct timespec think = {think_ms / 1000, (long)(think_ms % 1000) * 1000000};
    while (nanosleep(&think, &think) < 0) {
        if (errno != EINTR) {
            rc = -errno;
            goto out;
        }
    }
    while (got < nbytes) {
        if (sent == got) {      /* the echo of the last chunk is in: next */
            size_t n = nbytes - sent < sizeof out ? nbytes - sent : sizeof out;
            for (size_t i = 0; i < n; i++)
                out[i] = blk_pattern(id, sent + i);
            if ((rc = write_all(fd, out, n)) < 0)
                goto out;
            sent += n;
        }
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int pr = poll(&p, 1, 5000);
        if (pr <= 0) {
            rc = pr == 0 ? -ETIMEDOUT : -errno;
            goto out;
        }
        ssize_t r = read(fd, in, sizeof in);
        if (r <= 0) {
            rc = r == 0 ? -EPROTO : -errno;
            goto out;
        }
        for (ssize_t i = 0; i < r; i++)
            if (in[i] != blk_pattern(id, got + (size_t)i)) {
                rc = -EPROTO;
                goto out;
            }
        got += (size_t)r;
    }
out:
    close(fd);
    return rc;
}
