/*
 * producer_consumer.c - demo 1: a generator-style consumer driven by send().
 *
 * The consumer is a coroutine. The first resume primes it, as Python's
 * c.send(None): it runs to its first yield. Each later resume hands it a
 * number and gets "200 OK" back. weft_coro_close() ends it, as c.close():
 * its pending yield returns -ECANCELED and it returns.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <weft.h>

/* Ends the program when a weft call failed; returns what it was given. */
static int check(int rc, const char *what)
{
    if (rc < 0) {
        fprintf(stderr, "producer_consumer: %s: %s\n", what, weft_strerror(rc));
        exit(1);
    }
    return rc;
}

static void *consumer(void *arg, void *in)
{
    (void)arg;
    (void)in; /* the priming send(None) */
    const char *r = "";
    for (;;) {
        void *n;
        if (weft_coro_yield((void *)r, &n) < 0 || !n) /* n = yield r */
            return NULL; /* closed (-ECANCELED), or sent nothing */
        printf("[CONSUMER] Consuming %d...\n", (int)(intptr_t)n);
        r = "200 OK";
    }
}

static void produce(weft_coro *c)
{
    check(weft_coro_resume(c, NULL, NULL), "send(None)");
    for (int n = 1; n <= 5; n++) {
        printf("[PRODUCER] Producing %d...\n", n);
        void *r;
        int rc = check(weft_coro_resume(c, (void *)(intptr_t)n, &r), "send");
        if (rc != WEFT_CORO_YIELDED) {
            fprintf(stderr, "producer_consumer: the consumer stopped early\n");
            exit(1);
        }
        printf("[PRODUCER] Consumer return: %s\n", (const char *)r);
    }
    check(weft_coro_close(c), "close");
}

int main(void)
{
    weft_coro *c;
    weft_coro_opts opts = {.name = "consumer"};
    check(weft_coro_create(&c, consumer, NULL, &opts), "create");
    produce(c);
    check(weft_coro_destroy(c), "destroy");
    return 0;
}
