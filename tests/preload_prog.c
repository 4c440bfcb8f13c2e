/*
 * preload_prog.c - a program built without weft, for the LD_PRELOAD test
 * (preload_test.sh): it says "start", sleeps 100 ms, passes a byte through
 * a socket pair, and says "end hooked" when its blocking socket is
 * non-blocking in the kernel while fcntl(F_GETFL) says blocking - which
 * only the hooks do - else "end plain". Run as three copies in one weft
 * loop by weft-run -n 3, the copies overlap: three starts, then three ends.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static void say(const char *s)
{
    if (write(1, s, strlen(s)) < 0)
        _exit(3);
}

int main(void)
{
    int sv[2];
    char c;
    say("start\n");
    struct timespec ts = {0, 100000000};
    if (nanosleep(&ts, NULL) < 0 || socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
        return 1;
    if (write(sv[0], "x", 1) != 1 || read(sv[1], &c, 1) != 1 || c != 'x')
        return 2;
    int kernel = (int)syscall(SYS_fcntl, sv[1], F_GETFL) & O_NONBLOCK;
    int view = fcntl(sv[1], F_GETFL) & O_NONBLOCK;
    say(kernel && !view ? "end hooked\n" : "end plain\n");
    close(sv[0]);
    close(sv[1]);
    return 0;
}
