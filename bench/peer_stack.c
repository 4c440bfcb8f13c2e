/*
 * peer_stack.c - the free list behind peer_stack.h. A free stack holds its
 * list link in its lowest bytes; stacks are never freed (the process ends).
 */
#include <stdlib.h>

#include "peer_stack.h"

/* A free stack's link, at its lowest address. */
struct free_stack {
    struct free_stack *next; /* next free stack */
};

static struct free_stack *free_list;

void *peer_stack_get(void)
{
    struct free_stack *s = free_list;
    if (!s)
        return malloc(PEER_STACK_SIZE);
    free_list = s->next;
    return s;
}

void peer_stack_put(void *lo)
{
    struct free_stack *s = lo;
    s->next = free_list;
    free_list = s;
}
