/*
 * greenlet_switch.c - demo 4: greenlet's switch(), with no scheduler.
 *
 * weft_coro_transfer() suspends the running coroutine and runs another in
 * its place. main resumes gr1 once; gr1 and gr2 then hand control back and
 * forth, and when gr2 returns, control comes back to main - the resumer of
 * the chain - while gr1 is still suspended in its last switch.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include <weft.h>

static weft_coro *gr1, *gr2;

static void check(int rc, const char *what)
{
    if (rc < 0) {
        fprintf(stderr, "greenlet_switch: %s: %s\n", what, weft_strerror(rc));
        exit(1);
    }
}

/* gr.switch(): returns 0 when switched back to, -ECANCELED when closed. */
static int greenlet_switch(weft_coro *gr)
{
    int rc = weft_coro_transfer(gr, NULL, NULL);
    if (rc != -ECANCELED)
        check(rc, "switch");
    return rc;
}

static void *func1(void *arg, void *in)
{
    (void)arg, (void)in;
    printf("1\n");                /* step 2: print 1 */
    if (greenlet_switch(gr2) < 0) /* step 3: switch to func2 */
        return NULL;
    printf("2\n");                /* step 6: print 2 */
    greenlet_switch(gr2);         /* step 7: switch to func2; back here
                                     only when main destroys gr1 */
    return NULL;
}

static void *func2(void *arg, void *in)
{
    (void)arg, (void)in;
    printf("3\n");                /* step 4: print 3 */
    if (greenlet_switch(gr1) < 0) /* step 5: switch to func1, where it was */
        return NULL;
    printf("4\n");                /* step 8: print 4, then back to main */
    return NULL;
}

int main(void)
{
    check(weft_coro_create(&gr1, func1, NULL, NULL), "create"); /* greenlet(func1) */
    check(weft_coro_create(&gr2, func2, NULL, NULL), "create"); /* greenlet(func2) */
    check(weft_coro_resume(gr1, NULL, NULL), "gr1.switch()"); /* step 1 */
    check(weft_coro_destroy(gr1), "destroy"); /* closes it: its switch fails */
    check(weft_coro_destroy(gr2), "destroy");
    return 0;
}
