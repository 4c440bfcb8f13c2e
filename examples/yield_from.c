/*
 * yield_from.c - demo 3: nested generators, Python's "yield from".
 *
 * yield_from(fn) runs the sub-generator fn as a coroutine of its own,
 * resuming it until it returns and yielding each of its values to our own
 * resumer: the values pass straight through. Every yield fails with
 * -ECANCELED once the generator is being closed, and the bodies stop there.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <weft.h>

static void check(int rc, const char *what)
{
    if (rc < 0) {
        fprintf(stderr, "yield_from: %s: %s\n", what, weft_strerror(rc));
        exit(1);
    }
}

static int yield(intptr_t n) { return weft_coro_yield((void *)n, NULL); }

static int yield_from(weft_coro_fn fn)
{
    weft_coro *sub;
    void *value;
    int rc;
    check(weft_coro_create(&sub, fn, NULL, NULL), "create");
    while ((rc = weft_coro_resume(sub, NULL, &value)) == WEFT_CORO_YIELDED)
        if ((rc = weft_coro_yield(value, NULL)) < 0)
            break; /* we are being closed; destroying sub closes it too */
    check(weft_coro_destroy(sub), "destroy");
    return rc < 0 ? rc : 0;
}

/* Seed 000: main yields 1, 2, 3, 4, 5 through two levels of delegation. */
static void *gen_3(void *arg, void *in)
{
    (void)arg, (void)in;
    yield(3);
    return NULL;
}

static void *gen_234(void *arg, void *in)
{
    (void)arg, (void)in;
    if (yield(2) == 0 && yield_from(gen_3) == 0)
        yield(4);
    return NULL;
}

static void *main_gen(void *arg, void *in)
{
    (void)arg, (void)in;
    if (yield(1) == 0 && yield_from(gen_234) == 0)
        yield(5);
    return NULL;
}

/* Seed 001: func1 yields 1, then func2's 3 and 4, then 2. */
static void *func2(void *arg, void *in)
{
    (void)arg, (void)in;
    if (yield(3) == 0)
        yield(4);
    return NULL;
}

static void *func1(void *arg, void *in)
{
    (void)arg, (void)in;
    if (yield(1) == 0 && yield_from(func2) == 0)
        yield(2);
    return NULL;
}

/* for element in fn(): print(element) */
static void print_all(weft_coro_fn fn)
{
    weft_coro *gen;
    void *element;
    int rc;
    check(weft_coro_create(&gen, fn, NULL, NULL), "create");
    while ((rc = weft_coro_resume(gen, NULL, &element)) == WEFT_CORO_YIELDED)
        printf("%d\n", (int)(intptr_t)element);
    check(rc, "resume");
    check(weft_coro_destroy(gen), "destroy");
}

int main(void)
{
    print_all(main_gen);
    printf("\n");
    print_all(func1);
    return 0;
}
