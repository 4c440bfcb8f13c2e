/*
 * weft/signal.h - signals as events a task waits for (asyncio's
 * add_signal_handler, neco's signal_watch / signal_wait).
 *
 * A loop watches a signal with weft_signal_watch(); from then on the signal
 * is blocked on the loop's thread and read from a signalfd in its poller,
 * and weft_signal_wait() suspends a task until one of the watched signals
 * arrives. A signal that arrives while no task waits stays pending in the
 * kernel and is returned by the next wait: it is kept, not lost (several
 * of one standard signal that arrive before a wait are one, as the kernel
 * keeps them). When the loop stops watching a signal (its last unwatch, or
 * the end of weft_run()), the thread's signal mask is restored for it.
 *
 * One loop owns a signal at a time: a second loop (another thread's
 * weft_run) that asks for a signal one loop watches gets -EBUSY. The threads
 * weft starts - the worker pool's, and those of the loops after the first
 * (weft/loops.h) - never take asynchronous signals: they start with them
 * blocked, so a watched signal reaches the loop that watches it. Other threads of the
 * program must block the watched signals themselves, or be created after
 * the watch (threads inherit the mask): a process-directed signal goes to
 * any thread that does not block it, and its default action may end the
 * process there.
 *
 * Synchronous signals (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGSYS)
 * and those that cannot be caught (SIGKILL, SIGSTOP) cannot be watched.
 * All functions are for the loop's thread (a task, or a callback for
 * watch / unwatch).
 */
#ifndef WEFT_SIGNAL_H
#define WEFT_SIGNAL_H

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Makes this thread's loop watch `sig`: blocks it on the thread and adds it
 * to the loop's signalfd. Watches are counted: each needs its own unwatch.
 * Returns 0; -EINVAL (not a signal that can be watched); -EBUSY (another
 * loop watches it); -EPERM (no loop on this thread); -ENOMEM, -EMFILE.
 * Never suspends.
 */
int weft_signal_watch(int sig);

/*
 * Gives up one watch of `sig`; after the last one the loop stops reading
 * it and the thread's mask for it is what it was before the first watch
 * (a pending `sig` is then delivered as usual). Returns 0; -EINVAL;
 * -ENOENT (this loop does not watch it); -EPERM (no loop). Never suspends.
 */
int weft_signal_unwatch(int sig);

/*
 * Waits until one of the signals the loop watches arrives, and returns its
 * number (> 0); a signal already pending returns at once. Several waiting
 * tasks each get a different arrival, oldest waiter first is not promised.
 * Returns the signal; -ENOENT (the loop watches no signal); -ECANCELED /
 * -ETIMEDOUT; -EPERM (outside a task). May suspend.
 */
int weft_signal_wait(void);

#ifdef __cplusplus
}
#endif

#endif /* WEFT_SIGNAL_H */
