/*
 * peer_stack.h - stacks for the peer implementations (ucontext, Boost's
 * fcontext): malloc'd blocks of PEER_STACK_SIZE bytes kept on a free list,
 * so their "create" benchmarks pool stacks as weft does and measure the
 * context set-up, not malloc. Single-threaded, like weft-bench.
 */
#ifndef WEFT_BENCH_PEER_STACK_H
#define WEFT_BENCH_PEER_STACK_H

#include <stddef.h>

/* Same usable size as WEFT_STACK_DEFAULT. */
#define PEER_STACK_SIZE ((size_t)64 * 1024)

/* Returns the lowest byte of a free stack, malloc'ing one if none; NULL
   when out of memory. The top, lo + PEER_STACK_SIZE, is 16-byte aligned. */
void *peer_stack_get(void);

/* Puts a stack from peer_stack_get() back on the free list. */
void peer_stack_put(void *lo);

#endif /* WEFT_BENCH_PEER_STACK_H */
