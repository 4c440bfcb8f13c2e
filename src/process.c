/*
 * process.c - child processes: spawn with posix_spawn, wait on a pidfd in
 * the poller, reap that one child, kill through the pidfd.
 *
 * The pidfd is opened right after the spawn. The child cannot be reaped in
 * between (only this record ever waits for it, by pid), so its pid still
 * names it even if it has already exited: pidfd_open then still succeeds.
 *
 * Invariants: `reaped` is set once waitpid() has returned the child, with
 * its status kept; after that the pid may belong to another process, and
 * only the pidfd (never the pid) is used to signal.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "weft/io.h"
#include "weft/process.h"
#include "loop.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif

extern char **environ;

struct weft_process {
    pid_t pid;                  /* the child */
    int pidfd;                  /* readable once it has ended */
    int fds[3];                 /* parent's ends of the stdio pipes, or -1 */
    int reaped;                 /* waitpid() returned it: status is valid */
    int status;                 /* its wait status */
};

/* Sets up child descriptor `which` as `mode` says; pipes[] gets the pipe. */
static int plan_stdio(posix_spawn_file_actions_t *fa, int which, int mode, int pipes[2])
{
    pipes[0] = pipes[1] = -1;
    switch (mode) {
    case WEFT_STDIO_INHERIT:
        return 0;
    case WEFT_STDIO_NULL:
        return -posix_spawn_file_actions_addopen(fa, which, "/dev/null",
                                                 which ? O_WRONLY : O_RDONLY, 0);
    case WEFT_STDIO_PIPE:
        if (pipe2(pipes, O_CLOEXEC) < 0)
            return -errno;
        /* pipes[0] reads, pipes[1] writes: the child gets the read end of
           stdin and the write ends of stdout/stderr. dup2 clears CLOEXEC. */
        return -posix_spawn_file_actions_adddup2(fa, pipes[which ? 1 : 0], which);
    default:
        return -EINVAL;
    }
}

/*
 * Finds the program as execvp would: `file` itself when it holds a '/',
 * else the first executable file of that name in PATH. Done before the
 * spawn so that a missing program is an error of the spawn call everywhere:
 * glibc reports a failed exec from posix_spawn, but an emulator that turns
 * vfork into fork (qemu-user) cannot. Writes the path into buf; 0 or
 * -ENOENT / -EACCES / -ENAMETOOLONG.
 */
static int find_program(const char *file, char *buf, size_t cap)
{
    if (strchr(file, '/')) {
        if (strlen(file) >= cap)
            return -ENAMETOOLONG;
        strcpy(buf, file);
        return access(file, X_OK) == 0 ? 0 : -errno;
    }
    const char *path = getenv("PATH");
    int rc = -ENOENT;
    for (path = path && *path ? path : "/usr/local/bin:/usr/bin:/bin"; ; path++) {
        const char *end = strchrnul(path, ':');
        size_t dir = (size_t)(end - path);
        struct stat sb;
        if (dir + 1 + strlen(file) < cap) {
            memcpy(buf, dir ? path : ".", dir ? dir : 1);
            snprintf(buf + (dir ? dir : 1), cap - (dir ? dir : 1), "/%s", file);
            if (stat(buf, &sb) == 0 && S_ISREG(sb.st_mode)) {
                if (access(buf, X_OK) == 0)
                    return 0;
                rc = -EACCES;
            }
        }
        if (!*end)
            return rc;
        path = end;
    }
}

int weft_process_spawn(weft_process **out, const char *file, char *const argv[],
                       const weft_process_opts *opts)
{
    int pipes[3][2] = {{-1, -1}, {-1, -1}, {-1, -1}}, rc;
    if (!out || !file || !argv || !argv[0])
        return -EINVAL;
    if (!weft__loop)
        return -EPERM;
    for (int i = 0; opts && i < 3; i++)
        if (opts->stdio[i] < WEFT_STDIO_INHERIT || opts->stdio[i] > WEFT_STDIO_PIPE)
            return -EINVAL;
    char path[PATH_MAX];
    if ((rc = find_program(file, path, sizeof path)) < 0)
        return rc;
    weft_process *p = calloc(1, sizeof *p);
    if (!p)
        return -ENOMEM;
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    sigset_t none, pipe_only;
    sigemptyset(&none);
    sigemptyset(&pipe_only);
    sigaddset(&pipe_only, SIGPIPE);
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&attr);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &pipe_only);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    for (int i = 0; i < 3; i++)
        if ((rc = plan_stdio(&fa, i, opts ? opts->stdio[i] : 0, pipes[i])) < 0)
            goto error1;
    if (opts && opts->cwd && (rc = -posix_spawn_file_actions_addchdir_np(&fa, opts->cwd)) < 0)
        goto error1;
    rc = -posix_spawn(&p->pid, path, &fa, &attr, argv,
                       opts && opts->envp ? opts->envp : environ);
    if (rc < 0)
        goto error1;            /* glibc reaped the child that failed */
    p->pidfd = (int)syscall(SYS_pidfd_open, p->pid, 0);
    if (p->pidfd < 0) {
        rc = -errno;
        kill(p->pid, SIGKILL);
        waitpid(p->pid, NULL, 0);
        goto error1;
    }
    fcntl(p->pidfd, F_SETFD, FD_CLOEXEC);
    for (int i = 0; i < 3; i++) {
        p->fds[i] = pipes[i][i ? 0 : 1];    /* the parent keeps the far end */
        if (pipes[i][i ? 1 : 0] >= 0)
            close(pipes[i][i ? 1 : 0]);
    }
    posix_spawnattr_destroy(&attr);
    posix_spawn_file_actions_destroy(&fa);
    *out = p;
    return 0;

error1:
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 2; j++)
            if (pipes[i][j] >= 0)
                close(pipes[i][j]);
    posix_spawnattr_destroy(&attr);
    posix_spawn_file_actions_destroy(&fa);
    free(p);
    return rc;
}

pid_t weft_process_pid(const weft_process *p)
{
    return p ? p->pid : -EINVAL;
}

int weft_process_fd(const weft_process *p, int which)
{
    if (!p || which < 0 || which > 2)
        return -EINVAL;
    return p->fds[which] >= 0 ? p->fds[which] : -ENOENT;
}

int weft_process_close_fd(weft_process *p, int which)
{
    int fd = weft_process_fd(p, which);
    if (fd < 0)
        return fd;
    p->fds[which] = -1;
    weft_io_close(fd);
    return 0;
}

/* Reaps the child if it has ended; 1 when it is reaped, 0 if it runs. */
static int try_reap(weft_process *p, int flags)
{
    if (p->reaped)
        return 1;
    int status;
    pid_t r;
    while ((r = waitpid(p->pid, &status, flags)) < 0 && errno == EINTR)
        ;
    if (r != p->pid)
        return 0;
    p->reaped = 1;
    p->status = status;
    return 1;
}

int weft_process_wait(weft_process *p, int *status)
{
    if (!p)
        return -EINVAL;
    if (!p->reaped && !weft_task_current())
        return -EPERM;
    while (!try_reap(p, WNOHANG)) {
        int rc = weft_io_wait(p->pidfd, WEFT_IO_READ);
        if (rc < 0)
            return rc;          /* the child keeps running */
    }
    if (status)
        *status = p->status;
    return 0;
}

int weft_process_kill(weft_process *p, int sig)
{
    if (!p)
        return -EINVAL;
    if (p->reaped)
        return -ESRCH;
    return syscall(SYS_pidfd_send_signal, p->pidfd, sig, NULL, 0) < 0 ? -errno : 0;
}

int weft_process_free(weft_process *p)
{
    if (!p)
        return -EINVAL;
    for (int i = 0; i < 3; i++)
        weft_process_close_fd(p, i);
    if (!p->reaped) {
        weft_process_kill(p, SIGKILL);
        try_reap(p, 0);
    }
    weft_io_close(p->pidfd);
    free(p);
    return 0;
}
