/*
 * hook_echo_server.c - the server of weft-bench's hook_echo rows: the echo
 * server written as blocking code (accept, read, write: libc's calls, no
 * weft I/O) with the hooks on (weft_hook_enable), a task per connection.
 * weft-bench execs it in its forked server child with the listening
 * socket's descriptor as argv[1]; a separate program, so that weft-bench
 * itself - whose weft rows are the comparison - links no hook.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <weft.h>
#include <weft/hook.h>

/* Echoes one connection until EOF or an error, as blocking code does. */
static int conn(void *arg, void **result)
{
    int fd = (int)(intptr_t)arg;
    char buf[4096];
    ssize_t n;
    (void)result;
    while ((n = read(fd, buf, sizeof buf)) > 0)
        if (write(fd, buf, (size_t)n) != n)
            break;
    close(fd);
    return 0;
}

static int serve(void *arg, void **result)
{
    int lfd = *(int *)arg;
    (void)result;
    fcntl(lfd, F_SETFL, fcntl(lfd, F_GETFL) & ~O_NONBLOCK);    /* a blocking listener */
    for (;;) {
        int fd = accept(lfd, NULL, NULL);
        if (fd < 0) {
            if (errno == ECONNABORTED || errno == EINTR)
                continue;
            return -errno;
        }
        if (weft_spawn(NULL, conn, (void *)(intptr_t)fd, NULL) < 0)
            close(fd);
    }
}

int main(int argc, char **argv)
{
    if (argc != 2 || weft_hook_enable() < 0)
        return 2;
    int lfd = atoi(argv[1]);
    return weft_run(serve, &lfd, NULL) < 0;
}
