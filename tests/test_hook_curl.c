/*
 * test_hook_curl.c - a real shared library's blocking calls hooked:
 * libcurl's curl_easy_perform() (blocking: its own poll, connect, send,
 * recv inside libcurl.so) in 20 tasks on one thread, against a loopback
 * HTTP server whose handlers answer only once all 20 requests have
 * arrived. Without the hooks the first transfer would block the thread
 * and the server could never answer: every transfer ends with a 10 s
 * timeout instead. Every byte of every body is checked. Built only where
 * libcurl's development files are found.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>

#include <weft.h>
#include <weft/hook.h>

#include "blocking.h"
#include "support.h"

enum { CLIENTS = 20, BODY = 5000 };

static int arrived;             /* requests the server has read */

static int handler(void *arg, void **result)
{
    int fd = (int)N(arg);
    char req[2048];
    size_t len = 0;
    (void)result;
    while (len < sizeof req - 1) {
        ssize_t r = read(fd, req + len, sizeof req - 1 - len);
        if (r <= 0)
            break;
        len += (size_t)r;
        req[len] = '\0';
        if (strstr(req, "\r\n\r\n"))
            break;
    }
    unsigned id = 0;
    EXPECT(sscanf(req, "GET /%u ", &id) == 1);
    arrived++;
    while (arrived < CLIENTS)
        usleep(1000);           /* hooked: the other handlers run */
    char head[128], body[BODY];
    int n = snprintf(head, sizeof head, "HTTP/1.0 200 OK\r\nContent-Length: %d\r\n\r\n", BODY);
    for (size_t i = 0; i < BODY; i++)
        body[i] = (char)blk_pattern(id, i);
    EXPECT_CODE(write(fd, head, (size_t)n), n);
    EXPECT_CODE(write(fd, body, BODY), BODY);
    close(fd);
    return 0;
}

static int acceptor(void *arg, void **result)
{
    (void)result;
    for (;;) {
        int fd = blk_accept((int)N(arg));
        if (fd < 0)
            return fd == -ECANCELED ? 0 : fd;
        EXPECT_CODE(weft_spawn(NULL, handler, P(fd), NULL), 0);
    }
}

/* What one transfer received. */
struct body {
    unsigned id;
    size_t len;
    int bad;                    /* a byte differed from the pattern */
};

static size_t on_data(char *p, size_t size, size_t n, void *arg)
{
    struct body *b = arg;
    for (size_t i = 0; i < size * n; i++)
        b->bad |= (unsigned char)p[i] != blk_pattern(b->id, b->len + i);
    b->len += size * n;
    return size * n;
}

static int port;

static int client(void *arg, void **result)
{
    struct body b = {.id = (unsigned)N(arg)};
    char url[64];
    (void)result;
    snprintf(url, sizeof url, "http://127.0.0.1:%d/%u", port, b.id);
    CURL *c = curl_easy_init();
    EXPECT(c != NULL);
    if (!c)
        return -1;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    CURLcode rc = curl_easy_perform(c);
    EXPECT_CODE(rc, CURLE_OK);
    EXPECT_CODE(b.len, BODY);
    EXPECT(!b.bad);
    curl_easy_cleanup(c);
    return rc == CURLE_OK ? 0 : -1;
}

static int curl_main(void *arg, void **result)
{
    (void)arg, (void)result;
    weft_task *srv, *t[CLIENTS];
    int lfd = blk_listen(&port);
    EXPECT(lfd >= 0);
    EXPECT_CODE(weft_spawn(&srv, acceptor, P(lfd), NULL), 0);
    for (int i = 0; i < CLIENTS; i++)
        EXPECT_CODE(weft_spawn(&t[i], client, P(i), NULL), 0);
    for (int i = 0; i < CLIENTS; i++) {
        EXPECT_CODE(weft_task_join(t[i], NULL), 0);
        weft_task_release(t[i]);
    }
    EXPECT_CODE(arrived, CLIENTS);
    weft_task_cancel(srv);
    EXPECT_CODE(weft_task_join(srv, NULL), 0);
    weft_task_release(srv);
    close(lfd);
    return 0;
}

static void test_hook_curl_concurrent_transfers(void **state)
{
    (void)state;
    assert_code(weft_hook_enable(), 0);
    assert_code(curl_global_init(CURL_GLOBAL_DEFAULT), CURLE_OK);
    assert_code(weft_run(curl_main, NULL, NULL), 0);
    curl_global_cleanup();
    assert_expectations();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_hook_curl_concurrent_transfers, reset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
