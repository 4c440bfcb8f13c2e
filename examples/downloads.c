/*
 * downloads.c - demo 23: three downloads that overlap (seed 001, the
 * aiohttp version of the image downloader).
 *
 * The seed fetches three images from a web server that takes its time. Here
 * the server is part of the program: a minimal HTTP/1.0 server on
 * 127.0.0.1 (a port the kernel picks), run by tasks of the same loop, which
 * answers every GET after 1 s, as a slow server would. Three client tasks
 * then fetch the three URLs at once (weft_tcp_connect, send the request,
 * read until the server closes): each waits 1 s for its answer, but they
 * wait at the same time, so the whole run takes 1 s, not 3.
 *
 * The results are printed in the order of the URLs once all have arrived,
 * so the output does not depend on which answer came first. --virtual runs
 * it on the virtual clock: the server's sleeps take no time and the output
 * is the same.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <netinet/in.h>
#include <sys/socket.h>

#include <weft.h>

#include "demo.h"

/* The seed's three images: the path the server knows and the size it sends. */
static const struct image {
    const char *path;
    size_t size;
} images[] = {
    {"/newsdfs/g26/M02/35/A9/120x90_0_autohomecar__ChsEe12AXQ6AOOH_AAFocMs8nzU621.jpg", 5321},
    {"/newsdfs/g30/M01/3C/E2/120x90_0_autohomecar__ChcCSV2BBICAUntfAADjJFd6800429.jpg", 4217},
    {"/newsdfs/g26/M0B/3C/65/120x90_0_autohomecar__ChcCP12BFCmAIO83AAGq7vK0sGY193.jpg", 6842},
};
enum { NIMAGES = sizeof images / sizeof images[0] };

enum {
    REQUEST_MAX = 4096,  /* longest request head the server reads */
    RESPONSE_MAX = 65536 /* longest response a client reads */
};

/* ------------------------------------------------------------------------ */
/* The server                                                               */
/* ------------------------------------------------------------------------ */

/* Reads from fd into buf until the head ends with an empty line; returns its
   length, or -EPROTO when it does not fit, or a negative errno. */
static ssize_t read_head(int fd, char *buf, size_t cap)
{
    size_t len = 0;
    while (len < cap - 1) {
        ssize_t n = weft_read(fd, buf + len, cap - 1 - len);
        if (n < 0)
            return n;
        if (n == 0)
            return -EPROTO; /* closed before the head ended */
        len += (size_t)n;
        buf[len] = '\0';
        if (strstr(buf, "\r\n\r\n"))
            return (ssize_t)len;
    }
    return -EPROTO;
}

/* Answers one request on its connection (arg: the descriptor), then closes
   it. A detached task per connection. */
static int handle(void *arg, void **result)
{
    int fd = (int)(intptr_t)arg;
    char req[REQUEST_MAX], path[REQUEST_MAX], head[256];
    const struct image *img = NULL;
    (void)result;
    ssize_t n = read_head(fd, req, sizeof req);
    int rc = n < 0 ? (int)n : 0;
    if (rc == 0 && sscanf(req, "GET %4095s HTTP/1.", path) == 1) {
        for (int i = 0; i < NIMAGES; i++)
            if (!strcmp(path, images[i].path))
                img = &images[i];
    }
    /* The slow part of a slow server. */
    if (rc == 0)
        rc = weft_sleep(WEFT_SEC(1));
    if (rc == 0) {
        size_t size = img ? img->size : 0;
        int len = snprintf(head, sizeof head, "HTTP/1.0 %s\r\nContent-Length: %zu\r\n\r\n",
                           img ? "200 OK" : "404 Not Found", size);
        char *body = malloc(size + 1);
        if (!body)
            rc = -ENOMEM;
        else {
            /* Some bytes that stand for the image. */
            for (size_t i = 0; i < size; i++)
                body[i] = (char)(i * 31 + 7);
            if ((n = weft_write_all(fd, head, (size_t)len)) < 0 ||
                (n = weft_write_all(fd, body, size)) < 0)
                rc = (int)n;
            free(body);
        }
    }
    weft_io_close(fd);
    return rc;
}

/* Accepts connections until cancelled, a handler task for each. */
static int serve(void *arg, void **result)
{
    int lfd = *(int *)arg;
    (void)result;
    for (;;) {
        int fd = weft_accept(lfd, NULL, NULL);
        if (fd < 0)
            return fd == -ECANCELED ? 0 : fd;
        int rc = weft_spawn(NULL, handle, (void *)(intptr_t)fd, NULL);
        if (rc < 0) {
            weft_io_close(fd);
            return rc;
        }
    }
}

/* ------------------------------------------------------------------------ */
/* The clients                                                              */
/* ------------------------------------------------------------------------ */

struct fetch {
    int port;                  /* the server's */
    const struct image *img;   /* what to fetch */
    char status[64];           /* "HTTP/1.0 200 OK" */
    size_t size;               /* bytes of the body */
};

/* The file name the seed saves under: url.rsplit('_')[-1]. */
static const char *file_name(const char *path)
{
    const char *p = strrchr(path, '_');
    return p ? p + 1 : path;
}

/* GET one URL: connect, send the request, read the response until EOF. */
static int fetch(void *arg, void **result)
{
    struct fetch *f = arg;
    char req[REQUEST_MAX];
    (void)result;
    printf("发送请求： http://127.0.0.1%s\n", f->img->path);
    int fd = weft_tcp_connect("127.0.0.1", f->port);
    if (fd < 0)
        return fd;
    int len = snprintf(req, sizeof req, "GET %s HTTP/1.0\r\nHost: 127.0.0.1:%d\r\n\r\n",
                       f->img->path, f->port);
    ssize_t n = weft_write_all(fd, req, (size_t)len);
    char *resp = malloc(RESPONSE_MAX + 1);
    size_t got = 0;
    if (!resp)
        n = -ENOMEM;
    while (n >= 0 && (n = weft_read(fd, resp + got, RESPONSE_MAX - got)) > 0)
        if ((got += (size_t)n) == RESPONSE_MAX)
            n = -EMSGSIZE;
    weft_io_close(fd);
    int rc = n < 0 ? (int)n : 0;
    if (rc == 0) {
        resp[got] = '\0';
        char *eol = strstr(resp, "\r\n"), *body = strstr(resp, "\r\n\r\n");
        const char *cl = strstr(resp, "Content-Length: ");
        if (!eol || !body || !cl || (size_t)(eol - resp) >= sizeof f->status)
            rc = -EPROTO;
        else {
            memcpy(f->status, resp, (size_t)(eol - resp));
            f->status[eol - resp] = '\0';
            f->size = got - (size_t)(body + 4 - resp);
            if (strtoul(cl + 16, NULL, 10) != f->size)
                rc = -EPROTO; /* a short body */
        }
    }
    free(resp);
    return rc;
}

static int async_main(void *arg, void **result)
{
    (void)arg, (void)result;
    struct sockaddr_in addr;
    socklen_t alen = sizeof addr;
    struct fetch fetches[NIMAGES];
    weft_task *server, *clients[NIMAGES];
    int codes[NIMAGES];
    int nclients = 0, rc;

    int lfd = weft_tcp_listen("127.0.0.1", 0, 16);
    if (lfd < 0)
        return lfd;
    if (getsockname(lfd, (struct sockaddr *)&addr, &alen) < 0) {
        rc = -errno;
        weft_io_close(lfd);
        return rc;
    }
    if ((rc = weft_spawn(&server, serve, &lfd, NULL)) < 0) {
        weft_io_close(lfd);
        return rc;
    }

    int64_t start = weft_now();
    for (int i = 0; i < NIMAGES && rc == 0; i++) {
        fetches[i] = (struct fetch){.port = ntohs(addr.sin_port), .img = &images[i]};
        if ((rc = weft_spawn(&clients[i], fetch, &fetches[i], NULL)) == 0)
            nclients++;
    }
    /* asyncio.wait(tasks): every outcome, failures included. */
    int grc = weft_gather(clients, (size_t)nclients, NULL, codes, WEFT_GATHER_COLLECT);
    double took = (double)(weft_now() - start) / 1e9;
    if (rc == 0)
        rc = grc;
    for (int i = 0; i < nclients && rc == 0; i++) {
        if (codes[i] < 0) {
            fprintf(stderr, "downloads: %s: %s\n", images[i].path, weft_strerror(codes[i]));
            rc = codes[i];
        } else {
            printf("下载完成： %s: %s, %zu bytes\n", file_name(images[i].path),
                   fetches[i].status, fetches[i].size);
        }
    }
    for (int i = 0; i < nclients; i++)
        weft_task_release(clients[i]);
    weft_task_cancel(server);
    int src = weft_task_join(server, NULL);
    weft_task_release(server);
    weft_io_close(lfd);
    if (rc == 0 && src < 0)
        rc = src;
    if (rc == 0)
        printf("total: %.1f s\n", took);
    return rc;
}

int main(int argc, char **argv)
{
    return demo_run("downloads", async_main, NULL, argc, argv);
}
