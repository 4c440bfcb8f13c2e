/*
 * weft/hook.h - blocking libc calls that suspend the task, not the thread
 * (gevent's monkey patching, in C): code written without weft - a database
 * driver, an HTTP client such as libcurl - becomes cooperative unchanged.
 *
 * Link weft::weft_hook (the static weft_hook) and call weft_hook_enable(),
 * or preload libweft_hook.so (LD_PRELOAD; see "Preloading" below). The
 * library defines the libc functions listed below under their own names,
 * so that every caller in the process, shared libraries included, reaches
 * them; each hook calls the next definition (libc's, or a sanitizer's
 * interceptor), found with dlsym(RTLD_NEXT).
 *
 * Where the hooks act. A hooked call suspends only when all of these hold:
 * hooks are enabled (weft_hook_enable()), the calling thread has not
 * turned them off (weft_hook_thread()), the caller is a weft task (not a
 * callback on the loop's stack, not a plain thread, not outside a loop),
 * and the call would block. Anywhere else a hooked call is the real call.
 *
 * Descriptors. The hooks act on the descriptors the loop knows: those a
 * task created through a hooked call (socket, socketpair, accept, accept4,
 * pipe, pipe2, eventfd, dup, dup2, dup3, fcntl F_DUPFD), those a task
 * passed to connect, accept, poll, ppoll or select, and those weft/io.h
 * uses. The loop makes each non-blocking in the kernel, keeping the mode
 * the caller set: fcntl(F_GETFL) and ioctl(FIONBIO) report and change that
 * mode, a descriptor the caller made non-blocking still gets EAGAIN at
 * once, and one it left blocking blocks - the task inside a task, the
 * thread elsewhere (a plain thread or callback that reads such a
 * descriptor waits for it with the real poll(2), as the kernel would).
 * Regular files, terminals and other character devices are left to the
 * kernel: they never return EAGAIN, and poll sees them always ready (a
 * terminal in poll/select is re-checked every 10 ms while the task waits).
 * read, write and the other transfer calls never make an unknown
 * descriptor known: a socket opened outside any task and first read in
 * one blocks the thread, unless a task passed it to poll/connect/accept
 * or weft/io.h first.
 *
 * The calls, each with the man page's semantics as the caller sees them:
 *
 *  - read, write, readv, writev, recv, recvfrom, recvmsg, send, sendto,
 *    sendmsg: wait while the descriptor is not ready; partial reads as the
 *    kernel gives them; write, send and sendto on a blocking descriptor
 *    write everything (as a blocking stream socket does), readv/writev/
 *    recvmsg/sendmsg return what one call moved. SO_RCVTIMEO / SO_SNDTIMEO
 *    bound each call's wait: EAGAIN when it expires, as the kernel does.
 *    send* never add MSG_NOSIGNAL: SIGPIPE is the caller's, as with libc.
 *  - accept, accept4 (the new descriptor is known to the loop), connect (a
 *    blocking connect waits and reports the connection's own error,
 *    ECONNREFUSED, ...; a non-blocking one returns EINPROGRESS and reports
 *    through SO_ERROR, as the kernel does; SO_SNDTIMEO expiry gives
 *    EINPROGRESS, as Linux does).
 *  - poll, ppoll, select: wait for any of the descriptors, or the timeout,
 *    on the loop's clock. ppoll's signal mask applies to the first,
 *    non-blocking look only: other tasks run on the thread while it waits,
 *    so the thread's mask is left alone. select updates its timeout to the
 *    time not slept, as Linux does.
 *  - sleep, usleep, nanosleep, clock_nanosleep (CLOCK_REALTIME,
 *    CLOCK_MONOTONIC, CLOCK_BOOTTIME, CLOCK_TAI; relative and
 *    TIMER_ABSTIME): sleep on the loop's clock (the virtual clock in tests).
 *    CPU-time clocks are the real call.
 *  - close, dup2, dup3 (of a known descriptor): tasks waiting on it wake
 *    with EBADF, and the loop forgets it, then the real call.
 *  - fcntl, ioctl(FIONBIO): the caller's blocking mode, as above; every
 *    other command is the real call. setsockopt: the real call, and
 *    SO_RCVTIMEO / SO_SNDTIMEO also become the per-call timeouts.
 *  - socket, socketpair, pipe, pipe2, eventfd: the real call; in a task the
 *    new descriptors become known.
 *  - getaddrinfo: runs on the loop's worker pool (weft_to_thread) while
 *    the task waits; cancelled, it returns EAI_SYSTEM with errno ECANCELED
 *    at once and the lookup's result is freed when it ends.
 *
 * Cancellation and timeout scopes. A call waiting in a task that is
 * cancelled, or whose innermost timeout scope expires, fails with errno
 * ECANCELED / ETIMEDOUT (clock_nanosleep returns the number) - not EINTR:
 * libraries retry on EINTR, which would make a cancelled task block again.
 * sleep returns the seconds not slept, with errno set. A call that moved
 * some bytes before returns that count instead, as after a signal. EINTR
 * comes only where the real call gives it (a signal during the real call).
 *
 * errno. weft's own API never sets errno; a hook sets it exactly as the
 * real call would. A hooked call that suspends saves errno before and
 * restores it when it succeeds, so one task never sees errno set by
 * another task that ran meanwhile.
 *
 * Signals. read, write, close and the other transfer calls never take a
 * lock, and allocate only to make known a copy (dup) of a known
 * descriptor, or one that another thread's loop knows, on its first use
 * in a task: a signal handler may call them on any other descriptor. A
 * handler must not call a hooked call that would wait (one that the real
 * call would make block): a task cannot be switched out of a signal
 * handler.
 *
 * Threads. Hooks look only at the calling thread's loop. A descriptor is
 * known to the loop of the thread that made it known; closing it from
 * another thread closes it, but its waiters on the first loop are not
 * woken.
 *
 * Preloading. libweft_hook.so holds the hooks and weft. Preloaded into a
 * program built without weft (LD_PRELOAD=libweft_hook.so) it enables the
 * hooks; with WEFT_HOOK_MAIN=1 in the environment as well it runs the
 * program's main() as a task of a weft loop (weft_run), so the program's
 * calls cooperate with whatever else runs on that loop; scripts/weft-run
 * sets both. It must be preloaded, not dlopen()ed: it uses initial-exec
 * thread-local storage.
 */
#ifndef WEFT_HOOK_H
#define WEFT_HOOK_H

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Turns the hooks on for the process (every thread that has not turned
 * them off) and makes sure a static link carries all of them. Idempotent,
 * thread-safe. Returns 0; -ENOSYS when the process's calls do not reach
 * the hooks (the executable does not export them: link through
 * weft::weft_hook, which passes the linker the options, or preload the
 * shared library). Never suspends.
 */
int weft_hook_enable(void);

/*
 * Turns the hooks off for the whole process: every hooked call is the real
 * call again (descriptors the loop made non-blocking stay so). Never
 * suspends.
 */
void weft_hook_disable(void);

/*
 * Turns the hooks on (`on` != 0, the default) or off for the calling
 * thread only; returns the previous setting (1 or 0). Never suspends.
 */
int weft_hook_thread(int on);

#ifdef __cplusplus
}
#endif

#endif /* WEFT_HOOK_H */
