/*
 * generators.c - demo 2: two generators resumed in turn keep their own state.
 *
 * Each my_generator(5) is a coroutine with its own stack, so `index` lives on
 * between resumes. Resuming one does not disturb the other.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <weft.h>

static void check(int rc, const char *what)
{
    if (rc < 0) {
        fprintf(stderr, "generators: %s: %s\n", what, weft_strerror(rc));
        exit(1);
    }
}

static void *my_generator(void *arg, void *in)
{
    (void)in;
    intptr_t n = (intptr_t)arg;
    for (intptr_t index = 0; index < n; index++)
        if (weft_coro_yield((void *)index, NULL) < 0) /* -ECANCELED: closed */
            break;
    return NULL;
}

/* Python's next(gen): the next value the generator yields. */
static int next(weft_coro *gen)
{
    void *value;
    int rc = weft_coro_resume(gen, NULL, &value);
    check(rc, "next");
    if (rc != WEFT_CORO_YIELDED) {
        fprintf(stderr, "generators: %s is exhausted\n", weft_coro_name(gen));
        exit(1);
    }
    return (int)(intptr_t)value;
}

int main(void)
{
    weft_coro *gen_one, *gen_two;
    check(weft_coro_create(&gen_one, my_generator, (void *)(intptr_t)5,
                           &(weft_coro_opts){.name = "gen_one"}), "create");
    check(weft_coro_create(&gen_two, my_generator, (void *)(intptr_t)5,
                           &(weft_coro_opts){.name = "gen_two"}), "create");

    int value = next(gen_one);
    printf("%d gen_one\n", value);

    value = next(gen_two);
    printf("%d gen_two\n", value);

    value = next(gen_one);
    printf("%d gen_one\n", value);

    value = next(gen_two);
    printf("%d gen_two\n", value);

    check(weft_coro_destroy(gen_one), "destroy"); /* closes it mid-way */
    check(weft_coro_destroy(gen_two), "destroy");
    return 0;
}
