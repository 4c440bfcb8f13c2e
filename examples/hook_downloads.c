/*
 * hook_downloads.c - demo 23 again (seed 001's three downloads), but the
 * HTTP client and server are ordinary blocking code - getaddrinfo,
 * socket, connect, write, read, sleep - as a third-party library would
 * write them, with no weft call inside. weft_hook_enable() makes those
 * calls suspend the task instead of the thread, so the three downloads
 * still overlap: 1 s in all, not 3.
 *
 * The server answers every GET after sleep(1), as a slow server would.
 * --virtual runs it on the virtual clock: the same output, at once.
 */
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <weft.h>
#include <weft/hook.h>

#include "demo.h"

static const char *const paths[] = {
    "/newsdfs/g26/M02/35/A9/120x90_0_autohomecar__ChsEe12AXQ6AOOH_AAFocMs8nzU621.jpg",
    "/newsdfs/g30/M01/3C/E2/120x90_0_autohomecar__ChcCSV2BBICAUntfAADjJFd6800429.jpg",
    "/newsdfs/g26/M0B/3C/65/120x90_0_autohomecar__ChcCP12BFCmAIO83AAGq7vK0sGY193.jpg",
};
static const size_t sizes[] = {5321, 4217, 6842};

/* ---- blocking code, as a library without weft would have it ---------- */

/* GET http://host:port/path into buf (NUL-terminated); bytes read or -1. */
static ssize_t http_get(const char *host, const char *port, const char *path, char *buf,
                        size_t cap)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai;
    if (getaddrinfo(host, port, &hints, &ai) != 0)
        return -1;
    int fd = socket(ai->ai_family, ai->ai_socktype, 0);
    int ok = fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) == 0;
    freeaddrinfo(ai);
    char req[512];
    int len = snprintf(req, sizeof req, "GET %s HTTP/1.0\r\nHost: %s\r\n\r\n", path, host);
    ssize_t n = 0, got = 0;
    if (ok && write(fd, req, (size_t)len) == len)
        while ((size_t)got < cap - 1 && (n = read(fd, buf + got, cap - 1 - (size_t)got)) > 0)
            got += n;
    if (fd >= 0)
        close(fd);
    buf[got] = '\0';
    return ok && n == 0 ? got : -1;
}

/* Serves one connection: reads the request, sleeps 1 s, answers. */
static void http_serve(int fd)
{
    char req[1024] = "", head[128];
    ssize_t n = read(fd, req, sizeof req - 1);
    size_t size = 0;
    for (int i = 0; i < 3 && n > 0; i++)
        if (strstr(req, paths[i]))
            size = sizes[i];
    sleep(1);
    int len = snprintf(head, sizeof head, "HTTP/1.0 200 OK\r\nContent-Length: %zu\r\n\r\n", size);
    char *body = calloc(1, size + 1);
    if (body && write(fd, head, (size_t)len) == len)
        (void)!write(fd, body, size);
    free(body);
    close(fd);
}

/* ---- the weft side: tasks around that code ------------------------------ */

static int serve_one(void *arg, void **result)
{
    (void)result;
    http_serve((int)(intptr_t)arg);
    return 0;
}

static int server(void *arg, void **result)
{
    (void)result;
    for (int fd; (fd = accept(*(int *)arg, NULL, NULL)) >= 0;)
        weft_spawn(NULL, serve_one, (void *)(intptr_t)fd, NULL);
    return 0;   /* accept failed with ECANCELED: the demo is over */
}

static char port[8];

/* One download: the path to get, then what came back. */
struct fetch {
    const char *path;
    char buf[16384];            /* the response, then its status line */
    size_t size;                /* bytes of the body */
};

static int fetch(void *arg, void **result)
{
    struct fetch *f = arg;
    (void)result;
    printf("发送请求： http://127.0.0.1%s\n", f->path);
    ssize_t n = http_get("127.0.0.1", port, f->path, f->buf, sizeof f->buf);
    char *body = n > 0 ? strstr(f->buf, "\r\n\r\n") : NULL;
    if (!body)
        return -1;
    f->size = (size_t)(n - (body + 4 - f->buf));
    *strstr(f->buf, "\r\n") = '\0';
    return 0;
}

static int async_main(void *arg, void **result)
{
    (void)arg, (void)result;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof a;
    int lfd = socket(AF_INET, SOCK_STREAM, 0), codes[3];
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof a) < 0 || listen(lfd, 16) < 0 ||
        getsockname(lfd, (struct sockaddr *)&a, &alen) < 0)
        return -1;
    snprintf(port, sizeof port, "%d", ntohs(a.sin_port));
    weft_task *srv, *t[3];
    static struct fetch f[3];
    weft_spawn(&srv, server, &lfd, NULL);
    int64_t start = weft_now();
    for (int i = 0; i < 3; i++) {
        f[i].path = paths[i];
        weft_spawn(&t[i], fetch, &f[i], NULL);
    }
    int rc = weft_gather(t, 3, NULL, codes, WEFT_GATHER_COLLECT);
    double took = (double)(weft_now() - start) / 1e9;
    for (int i = 0; i < 3; i++) {
        weft_task_release(t[i]);
        if (codes[i] < 0)
            rc = -1;
        else
            printf("下载完成： %s: %s, %zu bytes\n", strrchr(paths[i], '_') + 1, f[i].buf,
                   f[i].size);
    }
    weft_task_cancel(srv);
    weft_task_join(srv, NULL);
    weft_task_release(srv);
    close(lfd);
    if (rc == 0)
        printf("total: %.1f s\n", took);
    return rc;
}

int main(int argc, char **argv)
{
    if (weft_hook_enable() < 0)
        return 1;
    return demo_run("hook_downloads", async_main, NULL, argc, argv);
}
