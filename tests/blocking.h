/*
 * blocking.h - a small blocking TCP client and echo server, as a
 * third-party library would write them: plain socket, connect, accept,
 * read, write, poll and nanosleep, no weft header. Built as a shared
 * library of its own (libweft_blocking.so) without weft, it is what
 * tests/test_hook.c makes cooperative with the hooks.
 *
 * Every function returns 0 (or a descriptor) or a negative errno value.
 */
#ifndef WEFT_TESTS_BLOCKING_H
#define WEFT_TESTS_BLOCKING_H

#include <stddef.h>

/* A listening socket on 127.0.0.1 and a port the kernel picks (*port). */
int blk_listen(int *port);

/* Waits for and accepts one connection on lfd; returns its descriptor. */
int blk_accept(int lfd);

/* Echoes what arrives on fd until the peer closes it, then closes fd. */
int blk_echo(int fd);

/* The byte a client with `id` sends at offset `at`. */
unsigned char blk_pattern(unsigned id, size_t at);

/*
 * A client: connects to 127.0.0.1:port, sleeps `think_ms` (nanosleep),
 * then sends `nbytes` of its pattern in 1 KiB writes, waiting with poll
 * (5 s at most) and reading the echo after each, and checks every byte.
 * Returns 0, -EPROTO on a wrong byte or an early end, -ETIMEDOUT when
 * poll gave up, or the negative errno of a failed call.
 */
int blk_client(int port, unsigned id, size_t nbytes, int think_ms);

#endif
