/*
 * weft/process.h - child processes that a task waits for without blocking
 * its thread (asyncio's create_subprocess_exec).
 *
 * A child is started with posix_spawn(3): its argv, environment, working
 * directory, and each of stdin, stdout and stderr inherited, /dev/null or a
 * pipe whose other end the parent gets as a descriptor for weft_read() /
 * weft_write(). Waiting for its exit watches a pidfd in the loop's poller,
 * then reaps that one child with waitpid(2): no SIGCHLD handler is
 * installed and no other child of the program is ever reaped. The child
 * starts with an empty signal mask and SIGPIPE at its default action, even
 * where the parent blocks or ignores signals.
 *
 * All functions are for the loop's thread; only weft_process_wait()
 * suspends. Linux 5.3 or later (pidfd_open).
 */
#ifndef WEFT_PROCESS_H
#define WEFT_PROCESS_H

#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct weft_process weft_process;

/* What a child's stdin, stdout or stderr is. */
enum {
    WEFT_STDIO_INHERIT = 0, /* the parent's own descriptor */
    WEFT_STDIO_NULL = 1,    /* /dev/null */
    WEFT_STDIO_PIPE = 2     /* a pipe; the parent's end from weft_process_fd() */
};

/* Options for weft_process_spawn(); zero-initialise and set what you need. */
typedef struct weft_process_opts {
    char *const *envp;  /* NULL-terminated "NAME=value" list; NULL: the
                           parent's environ */
    const char *cwd;    /* working directory of the child; NULL: the parent's */
    int stdio[3];       /* WEFT_STDIO_* for stdin, stdout, stderr */
} weft_process_opts;

/*
 * Starts `file` (looked up in PATH when it has no '/', as execvp does) with
 * argv (NULL-terminated; argv[0] is the child's name for itself). *out
 * receives the process, which the caller frees with weft_process_free().
 * The program is looked up before anything is started, so a missing one
 * is an error of this call: -ENOENT (not found), -EACCES (not executable);
 * no child, no zombie. (Should the exec fail all the same, say the file
 * vanished in between, the child exits with status 127, as a shell's
 * does.) Other returns: 0; -EINVAL (NULL out, file or argv, bad stdio
 * mode); -EPERM (no loop on this thread); -ENOMEM, -EMFILE.
 * Never suspends.
 */
int weft_process_spawn(weft_process **out, const char *file, char *const argv[],
                       const weft_process_opts *opts);

/* The child's process id. -EINVAL for NULL. Never suspends. */
pid_t weft_process_pid(const weft_process *p);

/*
 * The parent's end of the child's stdin (0), stdout (1) or stderr (2) when
 * that one is WEFT_STDIO_PIPE: a close-on-exec descriptor owned by the
 * process record. Close it early with weft_process_close_fd() (a child
 * reading stdin sees end of file then). Returns it, -ENOENT (not a pipe or
 * closed already) or -EINVAL. Never suspends.
 */
int weft_process_fd(const weft_process *p, int which);

/* Closes the parent's end of stdin (0), stdout (1) or stderr (2) with
   weft_io_close(). 0, -ENOENT (not a pipe, or closed) or -EINVAL. Never
   suspends. */
int weft_process_close_fd(weft_process *p, int which);

/*
 * Waits until the child has ended and reaps it; *status (if not NULL)
 * receives its status as waitpid(2) gives it (WIFEXITED / WEXITSTATUS,
 * WIFSIGNALED / WTERMSIG). Once reaped, later calls return the same status
 * at once. If the waiting task is cancelled or its scope expires, the call
 * returns -ECANCELED / -ETIMEDOUT and the child keeps running, as in
 * asyncio: wait again, kill it, or let weft_process_free() end it.
 * Returns 0; -EINVAL; -EPERM (outside a task). May suspend.
 */
int weft_process_wait(weft_process *p, int *status);

/*
 * Sends signal `sig` to the child through its pidfd, so a child already
 * reaped is never confused with another process of the same pid. Returns
 * 0; -ESRCH (it has ended); -EINVAL. Never suspends.
 */
int weft_process_kill(weft_process *p, int sig);

/*
 * Closes the pipes and frees the record. A child not reaped yet is killed
 * with SIGKILL and reaped first (that wait blocks the thread for as long as
 * the kernel takes to end it), so no zombie is left. Returns 0 or -EINVAL.
 * Never suspends.
 */
int weft_process_free(weft_process *p);

#ifdef __cplusplus
}
#endif

#endif /* WEFT_PROCESS_H */
