/*
 * consumer.c - a program built against an installed (or embedded) weft, the
 * way a user builds one: checks the version it linked against the headers
 * it saw, runs a generator coroutine and a loop with a sleeping task, and
 * prints "consumer ok <version>".
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <weft.h>

static void *counter(void *arg, void *in)
{
    (void)arg;
    (void)in;
    for (intptr_t i = 1; i <= 3; i++)
        if (weft_coro_yield((void *)i, NULL) < 0)
            return NULL;
    return (void *)(intptr_t)10;
}

static int sleeper(void *arg, void **result)
{
    (void)arg;
    *result = (void *)(intptr_t)weft_sleep(WEFT_MSEC(1));
    return 0;
}

int main(void)
{
    char want[32];
    snprintf(want, sizeof want, "%d.%d.%d", WEFT_VERSION_MAJOR, WEFT_VERSION_MINOR,
             WEFT_VERSION_PATCH);
    if (weft_version() != WEFT_VERSION_HEX || strcmp(weft_version_string(), want)) {
        fprintf(stderr, "consumer: library %s, headers %s\n", weft_version_string(), want);
        return 1;
    }
    weft_coro *co;
    if (weft_coro_create(&co, counter, NULL, NULL))
        return 1;
    intptr_t sum = 0;
    void *v;
    int rc;
    while ((rc = weft_coro_resume(co, NULL, &v)) >= 0) {
        sum += (intptr_t)v;
        if (rc == WEFT_CORO_RETURNED)
            break;
    }
    if (weft_coro_destroy(co) || sum != 16) {
        fprintf(stderr, "consumer: coroutine sum %ld, rc %d\n", (long)sum, rc);
        return 1;
    }
    void *slept = (void *)1;
    rc = weft_run(sleeper, NULL, &slept);
    if (rc || slept) {
        fprintf(stderr, "consumer: weft_run %d (%s), sleep %ld\n", rc, weft_strerror(rc),
                (long)(intptr_t)slept);
        return 1;
    }
    printf("consumer ok %s\n", weft_version_string());
    return 0;
}
