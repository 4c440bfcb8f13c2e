/*
 * test_debug.c - introspection (weft/debug.h): every wait reason in a
 * snapshot with its detail, a snapshot that outlives its tasks, the stack
 * high-water mark, backtraces of suspended and running tasks, the dump's
 * text, the dump on a signal, and the deadlock report's detail.
 *
 * Built twice: test_debug (the flags of the build) and test_debug_fp
 * (-fno-omit-frame-pointer, DEBUG_FP): the backtrace cases check what a
 * frame-pointer walk finds in each. Linked with -rdynamic so that dladdr()
 * names the task functions, which are therefore not static.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "support.h"

/* The name dladdr() gives the function containing return address pc. */
static const char *sym(void *pc)
{
    Dl_info di;
    return dladdr((char *)pc - 1, &di) && di.dli_sname ? di.dli_sname : "?";
}

/* True when one of the n frames lies in function `name`. */
static int has_frame(void *const *frames, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (strcmp(sym(frames[i]), name) == 0)
            return 1;
    return 0;
}

/* Fails, showing `hay`, unless it contains `needle`. */
static void assert_has(const char *hay, const char *needle)
{
    if (!strstr(hay, needle))
        fail_msg("no \"%s\" in:\n%s", needle, hay);
}

static const weft_task_info *find(const weft_snapshot *s, const char *name)
{
    for (size_t i = 0; i < s->ntasks; i++)
        if (strcmp(s->tasks[i].name, name) == 0)
            return &s->tasks[i];
    fail_msg("no task '%s' in the snapshot", name);
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* Every wait reason                                                        */
/* ------------------------------------------------------------------------ */

static struct {
    int pipe_fd[2], job_fd[2];
    weft_chan *send_ch, *recv_ch, *sel_a, *sel_b;
    weft_mutex mutex, cond_mutex;
    weft_sem sem;
    weft_event event, group_event;
    weft_cond cond;
    weft_waitgroup wg;
    weft_future future;
    weft_task *sleeper, *jobber;
    weft_group group;
    weft_snapshot *snap;
    char *dump;
    size_t dump_len;
} w;

int debug_sleeper(void *arg, void **result);
int debug_sleeper(void *arg, void **result)
{
    (void)arg;
    (void)result;
    EXPECT_CODE(weft_sleep(MS(5000)), 0);
    return 0;
}

static int t_reader(void *arg, void **result)
{
    (void)arg;
    (void)result;
    char c;
    EXPECT_CODE(weft_read(w.pipe_fd[0], &c, 1), 1);
    return 0;
}

static int t_sender(void *arg, void **result)
{
    (void)arg;
    (void)result;
    int v = 7;
    EXPECT_CODE(weft_chan_send(w.send_ch, &v), 0);
    return 0;
}

static int t_receiver(void *arg, void **result)
{
    (void)arg;
    (void)result;
    int v;
    EXPECT_CODE(weft_chan_recv(w.recv_ch, &v), 0);
    return 0;
}

static int t_selector(void *arg, void **result)
{
    (void)arg;
    (void)result;
    int a, b;
    weft_select_case cases[2] = {{.ch = w.sel_a, .op = WEFT_SELECT_RECV, .elem = &a},
                                 {.ch = w.sel_b, .op = WEFT_SELECT_RECV, .elem = &b}};
    EXPECT_CODE(weft_select(cases, 2, 0), 0);
    return 0;
}

static int t_locker(void *arg, void **result)
{
    (void)arg;
    (void)result;
    EXPECT_CODE(weft_mutex_lock(&w.mutex), 0);
    EXPECT_CODE(weft_mutex_unlock(&w.mutex), 0);
    return 0;
}

static int t_acquirer(void *arg, void **result)
{
    (void)arg;
    (void)result;
    EXPECT_CODE(weft_sem_acquire(&w.sem), 0);
    return 0;
}

static int t_eventer(void *arg, void **result)
{
    (void)arg;
    (void)result;
    weft_scope s;
    EXPECT_CODE(weft_scope_enter_timeout(&s, WEFT_SEC(60)), 0);
    EXPECT_CODE(weft_event_wait(&w.event), 0);
    EXPECT_CODE(weft_scope_exit(&s), 0);
    return 0;
}

static int t_conder(void *arg, void **result)
{
    (void)arg;
    (void)result;
    EXPECT_CODE(weft_mutex_lock(&w.cond_mutex), 0);
    EXPECT_CODE(weft_cond_wait(&w.cond, &w.cond_mutex), 0);
    EXPECT_CODE(weft_mutex_unlock(&w.cond_mutex), 0);
    return 0;
}

static int t_wg(void *arg, void **result)
{
    (void)arg;
    (void)result;
    EXPECT_CODE(weft_waitgroup_wait(&w.wg), 0);
    return 0;
}

static int t_futurer(void *arg, void **result)
{
    (void)arg;
    (void)result;
    EXPECT_CODE(weft_future_await(&w.future, NULL), 0);
    return 0;
}

static int t_joiner(void *arg, void **result)
{
    (void)arg;
    (void)result;
    EXPECT_CODE(weft_task_join(w.sleeper, NULL), 0);
    return 0;
}

static int t_waiter(void *arg, void **result)
{
    (void)arg;
    (void)result;
    size_t nd, np;
    EXPECT_CODE(weft_wait(&w.sleeper, 1, WEFT_SEC(10), WEFT_ALL_COMPLETED, NULL, &nd, NULL,
                          &np), 0);
    return 0;
}

static int t_member(void *arg, void **result)
{
    (void)arg;
    (void)result;
    EXPECT_CODE(weft_event_wait(&w.group_event), 0);
    return 0;
}

static int t_grouper(void *arg, void **result)
{
    (void)arg;
    (void)result;
    EXPECT_CODE(weft_group_enter(&w.group), 0);
    EXPECT_CODE(weft_group_spawn(&w.group, NULL, t_member, NULL,
                                 &(weft_task_opts){.name = "member"}), 0);
    EXPECT_CODE(weft_group_exit(&w.group), 0);
    return 0;
}

/* Runs on a worker thread until the test writes to job_fd. */
static void *blocking_job(void *arg)
{
    char c;
    (void)arg;
    return read(w.job_fd[0], &c, 1) == 1 ? arg : NULL;
}

static int t_jobber(void *arg, void **result)
{
    (void)arg;
    (void)result;
    EXPECT_CODE(weft_to_thread(blocking_job, NULL, NULL), 0);
    return 0;
}

static int main_waits(void *arg, void **result)
{
    (void)arg;
    (void)result;
    static const struct {
        const char *name;
        weft_task_fn fn;
    } tasks[] = {
        {"sleeper", debug_sleeper}, {"reader", t_reader},   {"sender", t_sender},
        {"receiver", t_receiver},   {"selector", t_selector}, {"locker", t_locker},
        {"acquirer", t_acquirer},   {"eventer", t_eventer}, {"conder", t_conder},
        {"wg", t_wg},               {"futurer", t_futurer}, {"joiner", t_joiner},
        {"waiter", t_waiter},       {"grouper", t_grouper}, {"jobber", t_jobber},
    };
    EXPECT_CODE(weft_mutex_lock(&w.mutex), 0);
    EXPECT_CODE(weft_waitgroup_add(&w.wg, 1), 0);
    for (size_t i = 0; i < sizeof tasks / sizeof tasks[0]; i++)
        EXPECT_CODE(weft_spawn(i == 0 ? &w.sleeper : tasks[i].fn == t_jobber ? &w.jobber : NULL,
                               tasks[i].fn, NULL,
                               &(weft_task_opts){.name = tasks[i].name}), 0);
    EXPECT_CODE(weft_sleep(MS(1)), 0);   /* everyone parks; time moves 1 ms */
    EXPECT_CODE(weft_snapshot_take(&w.snap), 0);
    FILE *f = open_memstream(&w.dump, &w.dump_len);
    EXPECT(f != NULL);
    EXPECT_CODE(weft_dump(f), 0);
    fclose(f);

    /* Let everyone go. */
    int v;
    char c = 'x';
    EXPECT_CODE(write(w.pipe_fd[1], &c, 1), 1);
    EXPECT_CODE(write(w.job_fd[1], &c, 1), 1);
    EXPECT_CODE(weft_chan_recv(w.send_ch, &v), 0);
    EXPECT_CODE(weft_chan_send(w.recv_ch, &v), 0);
    EXPECT_CODE(weft_chan_send(w.sel_a, &v), 0);
    EXPECT_CODE(weft_mutex_unlock(&w.mutex), 0);
    EXPECT_CODE(weft_sem_release(&w.sem), 0);
    EXPECT_CODE(weft_event_set(&w.event), 0);
    EXPECT_CODE(weft_event_set(&w.group_event), 0);
    EXPECT_CODE(weft_mutex_lock(&w.cond_mutex), 0);
    EXPECT_CODE(weft_cond_signal(&w.cond), 0);
    EXPECT_CODE(weft_mutex_unlock(&w.cond_mutex), 0);
    EXPECT_CODE(weft_waitgroup_done(&w.wg), 0);
    EXPECT_CODE(weft_future_set_result(&w.future, NULL), 0);
    EXPECT_CODE(weft_task_join(w.sleeper, NULL), -EALREADY); /* joiner has it */
    EXPECT_CODE(weft_task_join(w.jobber, NULL), 0);    /* in real time */
    EXPECT_CODE(weft_task_release(w.jobber), 0);
    EXPECT_CODE(weft_sleep(MS(6000)), 0);
    EXPECT_CODE(weft_task_release(w.sleeper), 0);
    return 0;
}

static void test_debug_every_wait_reason(void **state)
{
    (void)state;
    memset(&w, 0, sizeof w);
    assert_int_equal(pipe(w.pipe_fd), 0);
    assert_int_equal(pipe(w.job_fd), 0);
    assert_code(weft_chan_create(&w.send_ch, sizeof(int), 0), 0);
    assert_code(weft_chan_create(&w.recv_ch, sizeof(int), 0), 0);
    assert_code(weft_chan_create(&w.sel_a, sizeof(int), 0), 0);
    assert_code(weft_chan_create(&w.sel_b, sizeof(int), 0), 0);
    assert_code(vrun(main_waits, NULL, NULL), 0);
    assert_expectations();

    /* The loop and its tasks are gone; the snapshot is still whole. */
    const weft_snapshot *s = w.snap;
    assert_int_equal(s->ntasks, 17);    /* main, 15 spawned, the member */
    assert_int_equal(s->loop.tasks, 17);
    assert_int_equal(s->loop.running, 1);
    assert_int_equal(s->loop.waiting, 16);
    assert_int_equal(s->loop.runnable, 0);
    assert_int_equal(s->loop.fd_waiting, 1);
    assert_true(s->loop.fds >= 1);
    assert_int_equal(s->loop.jobs, 1);
    assert_true(s->loop.timers >= 3);   /* sleeper, the wait timeout, scope */
    assert_true(s->loop.dispatches >= 17);
    assert_int_equal(s->loop.spawned, 17);
    assert_int_equal(s->loop.now, MS(1));

    const weft_task_info *m = find(s, "main");
    assert_int_equal(m->id, 1);
    assert_int_equal(m->parent, 0);
    assert_int_equal(m->state, WEFT_TASK_RUNNING);
    assert_int_equal(m->wait, WEFT_WAIT_NONE);

    const weft_task_info *t = find(s, "sleeper");
    assert_int_equal(t->wait, WEFT_WAIT_SLEEP);
    assert_int_equal(t->wake_at, MS(5000));
    assert_int_equal(t->waited, MS(1));
    assert_int_equal(t->parent, 1);
    assert_int_equal(t->state, WEFT_TASK_PENDING);
    uint64_t sleeper_id = t->id;

    t = find(s, "reader");
    assert_int_equal(t->wait, WEFT_WAIT_FD);
    assert_int_equal(t->fd, w.pipe_fd[0]);
    assert_int_equal(t->events, WEFT_IO_READ);

    assert_int_equal(find(s, "sender")->wait, WEFT_WAIT_CHAN_SEND);
    assert_ptr_equal(find(s, "sender")->wait_obj, w.send_ch);
    assert_int_equal(find(s, "receiver")->wait, WEFT_WAIT_CHAN_RECV);
    assert_ptr_equal(find(s, "receiver")->wait_obj, w.recv_ch);
    assert_int_equal(find(s, "selector")->wait, WEFT_WAIT_SELECT);
    assert_int_equal(find(s, "selector")->count, 2);

    t = find(s, "locker");
    assert_int_equal(t->wait, WEFT_WAIT_MUTEX);
    assert_ptr_equal(t->wait_obj, &w.mutex);
    assert_int_equal(t->other, 1);      /* main holds it */

    assert_int_equal(find(s, "acquirer")->wait, WEFT_WAIT_SEM);
    assert_int_equal(find(s, "acquirer")->count, 0);

    t = find(s, "eventer");
    assert_int_equal(t->wait, WEFT_WAIT_EVENT);
    assert_ptr_equal(t->wait_obj, &w.event);
    assert_int_equal(t->deadline, WEFT_SEC(60));
    assert_int_equal(t->wake_at, WEFT_FOREVER);

    assert_int_equal(find(s, "conder")->wait, WEFT_WAIT_COND);
    assert_ptr_equal(find(s, "conder")->wait_obj, &w.cond);
    assert_int_equal(find(s, "wg")->wait, WEFT_WAIT_WAITGROUP);
    assert_int_equal(find(s, "wg")->count, 1);
    assert_int_equal(find(s, "futurer")->wait, WEFT_WAIT_FUTURE);

    t = find(s, "joiner");
    assert_int_equal(t->wait, WEFT_WAIT_JOIN);
    assert_int_equal(t->other, sleeper_id);

    t = find(s, "waiter");
    assert_int_equal(t->wait, WEFT_WAIT_TASKS);
    assert_int_equal(t->count, 1);
    assert_int_equal(t->wake_at, WEFT_SEC(10));

    assert_int_equal(find(s, "grouper")->wait, WEFT_WAIT_GROUP);
    t = find(s, "member");
    assert_int_equal(t->wait, WEFT_WAIT_EVENT);
    assert_int_equal(t->parent, find(s, "grouper")->id);

    t = find(s, "jobber");
    assert_int_equal(t->wait, WEFT_WAIT_JOB);
    assert_ptr_equal(t->wait_obj, (const void *)blocking_job);

    for (size_t i = 0; i < s->ntasks; i++) {
        assert_true(s->tasks[i].stack_size >= WEFT_STACK_MIN);
        assert_true(s->tasks[i].stack_used > 0);
        assert_true(s->tasks[i].stack_used <= s->tasks[i].stack_size);
        assert_true(s->tasks[i].nframes >= 1);
    }

    /* The dump's text: one block per task, waits spelled out. */
    char line[128];
    assert_has(w.dump, "weft: 17 tasks (1 running, 0 runnable, 16 waiting)");
    snprintf(line, sizeof line, "task %llu 'sleeper' [sleep until 5.000s (in 4.999s), 1.0ms,"
             " spawned by task 1, stack ", (unsigned long long)sleeper_id);
    assert_has(w.dump, line);
    snprintf(line, sizeof line, "'reader' [IO wait fd %d read, 1.0ms", w.pipe_fd[0]);
    assert_has(w.dump, line);
    assert_has(w.dump, "'locker' [mutex 0x");
    assert_has(w.dump, ", held by task 1, 1.0ms");
    assert_has(w.dump, "'eventer' [event 0x");
    assert_has(w.dump, ", scope deadline 60.000s (in 59.999s), 1.0ms");
    assert_has(w.dump, "'waiter' [wait tasks, 1 tasks until 10.000s, 1.0ms");
    snprintf(line, sizeof line, "'joiner' [join task %llu, 1.0ms",
             (unsigned long long)sleeper_id);
    assert_has(w.dump, line);
    assert_has(w.dump, "task 1 'main' [running, stack ");
    assert_has(w.dump, "  debug_sleeper+0x");  /* symbolised */
#if defined(__x86_64__)
    /* A static function, from the symbol table; deeper than the first
       frame (weft__fd_wait), which the unwinder reaches here. */
    assert_has(w.dump, "  t_reader+0x");
#endif

    weft_snapshot_free(w.snap);
    free(w.dump);
    weft_chan_destroy(w.send_ch);
    weft_chan_destroy(w.recv_ch);
    weft_chan_destroy(w.sel_a);
    weft_chan_destroy(w.sel_b);
    close(w.pipe_fd[0]);
    close(w.pipe_fd[1]);
    close(w.job_fd[0]);
    close(w.job_fd[1]);
}

/* ------------------------------------------------------------------------ */
/* Stack high-water mark                                                    */
/* ------------------------------------------------------------------------ */

static size_t used_before, used_after, used_size;

/* Touches about `kib` KiB of stack. Called through a volatile pointer so
   that no compiler turns the recursion into a loop. */
static int recurse(int kib);
static int (*volatile again)(int) = recurse;

__attribute__((noinline)) static int recurse(int kib)
{
    volatile char pad[1024];
    for (size_t i = 0; i < sizeof pad; i += 256)
        pad[i] = (char)kib;
    __asm__ volatile("" : : "r"(pad) : "memory");   /* all of it, in memory */
    return kib > 0 ? again(kib - 1) + pad[0] : pad[0];
}

static size_t my_stack_used(void)
{
    weft_snapshot *s;
    size_t used = 0;
    EXPECT_CODE(weft_snapshot_take_opts(&s, WEFT_SNAPSHOT_STACK_USE), 0);
    for (size_t i = 0; s && i < s->ntasks; i++)
        if (s->tasks[i].id == 1) {
            used = s->tasks[i].stack_used;
            used_size = s->tasks[i].stack_size;
        }
    weft_snapshot_free(s);
    return used;
}

static int main_deep(void *arg, void **result)
{
    (void)arg;
    (void)result;
    used_before = my_stack_used();
    EXPECT(recurse(200) != 12345);
    used_after = my_stack_used();
    return 0;
}

static void test_debug_stack_high_water_grows(void **state)
{
    (void)state;
    /* A stack size no other test uses: a fresh slot, no pages of others. */
    weft_loop_opts opts = {.virtual_clock = 1, .stack_size = 3 << 20};
    assert_code(weft_run_opts(main_deep, NULL, NULL, &opts), 0);
    assert_expectations();
    assert_int_equal(used_size, 3 << 20);
    assert_true(used_before > 0);
    assert_true(used_before < 64 * 1024);
    if (used_after < used_before + 200 * 1024)
        fail_msg("stack used %zu before, %zu after", used_before, used_after);
    assert_true(used_after <= used_size);
}

/* ------------------------------------------------------------------------ */
/* Backtraces                                                               */
/* ------------------------------------------------------------------------ */

static void *bt_frames[WEFT_BACKTRACE_MAX], *bt_self[WEFT_BACKTRACE_MAX];
static int bt_n, bt_self_n;
static weft_task *bt_task;

int debug_inner(void);
int debug_outer(void);
int debug_bt_task(void *arg, void **result);

__attribute__((noinline)) int debug_inner(void)
{
    int rc = weft_sleep(MS(10));
    __asm__ volatile("" ::: "memory");  /* not a tail call */
    return rc;
}

__attribute__((noinline)) int debug_outer(void)
{
    int rc = debug_inner();
    __asm__ volatile("" ::: "memory");
    return rc;
}

int debug_bt_task(void *arg, void **result)
{
    (void)arg;
    (void)result;
    bt_self_n = weft_task_backtrace(weft_task_current(), bt_self, WEFT_BACKTRACE_MAX);
    int rc = debug_outer();
    __asm__ volatile("" ::: "memory");
    return rc;
}

static int main_bt(void *arg, void **result)
{
    (void)arg;
    (void)result;
    EXPECT_CODE(weft_spawn(&bt_task, debug_bt_task, NULL, NULL), 0);
    EXPECT_CODE(weft_sleep(MS(1)), 0);
    bt_n = weft_task_backtrace(bt_task, bt_frames, WEFT_BACKTRACE_MAX);
    EXPECT_CODE(weft_task_join(bt_task, NULL), 0);
    void *f[4];
    EXPECT_CODE(weft_task_backtrace(bt_task, f, 4), -ESRCH);  /* ended */
    EXPECT_CODE(weft_task_backtrace(NULL, f, 4), -EINVAL);
    EXPECT_CODE(weft_task_backtrace(bt_task, NULL, 4), -EINVAL);
    EXPECT_CODE(weft_task_backtrace(bt_task, f, -1), -EINVAL);
    EXPECT_CODE(weft_task_release(bt_task), 0);
    return 0;
}

static void test_debug_backtrace_suspended_and_running(void **state)
{
    (void)state;
    assert_code(vrun(main_bt, NULL, NULL), 0);
    assert_expectations();
    /* The running task sees itself from its caller up. */
    assert_true(bt_self_n >= 1);
    assert_string_equal(sym(bt_self[0]), "debug_bt_task");
    /* The suspended one: the function that called weft_sleep, always. */
    assert_true(bt_n >= 1);
    assert_true(has_frame(bt_frames, bt_n < 8 ? bt_n : 8, "debug_inner"));
#ifdef DEBUG_FP
    /* With frame pointers in the task's code, its callers too. */
    assert_true(has_frame(bt_frames, bt_n, "debug_outer"));
    assert_true(has_frame(bt_frames, bt_n, "debug_bt_task"));
#endif
    for (int i = 0; i < bt_n; i++)
        print_message("frame %d: %s\n", i, sym(bt_frames[i]));
}

static void test_debug_outside_a_loop(void **state)
{
    (void)state;
    weft_snapshot *s = NULL;
    assert_code(weft_snapshot_take(&s), -EPERM);
    assert_code(weft_snapshot_take(NULL), -EINVAL);
    assert_code(weft_snapshot_take_opts(&s, 8), -EINVAL);
    assert_code(weft_dump(stdout), -EPERM);
    assert_code(weft_dump(NULL), -EINVAL);
    assert_code(weft_snapshot_print(NULL, stdout), -EINVAL);
    weft_snapshot_free(NULL);
    assert_string_equal(weft_wait_name(WEFT_WAIT_CHAN_RECV), "chan receive");
    assert_string_equal(weft_wait_name(99), "?");
    assert_string_equal(weft_wait_name(-1), "?");
}

/* ------------------------------------------------------------------------ */
/* The dump on a signal, the deadlock report                                */
/* ------------------------------------------------------------------------ */

static char err[16384];

/* Runs fn with `opts`, stderr captured into err. */
static int run_stderr(weft_task_fn fn, const weft_loop_opts *opts)
{
    FILE *tmp = tmpfile();
    assert_non_null(tmp);
    fflush(stderr);
    int saved = dup(2);
    assert_true(saved >= 0);
    assert_int_equal(dup2(fileno(tmp), 2), 2);
    int rc = weft_run_opts(fn, NULL, NULL, opts);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    rewind(tmp);
    size_t n = fread(err, 1, sizeof err - 1, tmp);
    err[n] = '\0';
    fclose(tmp);
    return rc;
}

static int sig_pipe[2];

static int t_sig_reader(void *arg, void **result)
{
    (void)arg;
    (void)result;
    char c;
    EXPECT_CODE(weft_read(sig_pipe[0], &c, 1), 1);
    return 0;
}

static void *kill_self(void *arg)
{
    kill(getpid(), SIGUSR1);
    return arg;
}

/* The signal from a worker thread while the loop waits in epoll. */
static int main_signalled(void *arg, void **result)
{
    (void)arg;
    (void)result;
    weft_task *r;
    EXPECT_CODE(weft_spawn(&r, t_sig_reader, NULL, &(weft_task_opts){.name = "sig-reader"}), 0);
    EXPECT_CODE(weft_yield(), 0);
    EXPECT_CODE(weft_to_thread(kill_self, NULL, NULL), 0);
    EXPECT_CODE(weft_yield(), 0);       /* a tick: the dump is printed */
    EXPECT_CODE(write(sig_pipe[1], "x", 1), 1);
    EXPECT_CODE(weft_task_join(r, NULL), 0);
    EXPECT_CODE(weft_task_release(r), 0);
    /* The same from the loop's own thread, while it sleeps. */
    raise(SIGUSR1);
    EXPECT_CODE(weft_sleep(MS(5)), 0);
    return 0;
}

static void test_debug_dump_on_signal(void **state)
{
    (void)state;
    struct sigaction old;
    assert_int_equal(sigaction(SIGUSR1, NULL, &old), 0);
    assert_int_equal(pipe(sig_pipe), 0);
    weft_loop_opts opts = {.virtual_clock = 1, .dump_signal = SIGUSR1};
    assert_code(run_stderr(main_signalled, &opts), 0);
    assert_expectations();
    char line[128];
    snprintf(line, sizeof line, "task 2 'sig-reader' [IO wait fd %d read, ", sig_pipe[0]);
    const char *first = strstr(err, line);
    if (!first)
        fail_msg("no \"%s\" in stderr:\n%s", line, err);
    assert_has(err, "weft: 2 tasks");
    /* The second dump, after raise(): main alone, sleeping. */
    const char *second = strstr(first + 1, "weft: 1 tasks (0 running, 0 runnable, 1 waiting)");
    if (!second)
        fail_msg("no second dump in stderr:\n%s", err);
    assert_has(second, "task 1 'main' [sleep until 5.0ms (in 5.0ms), 0ns");
    close(sig_pipe[0]);
    close(sig_pipe[1]);
    assert_int_equal(sigaction(SIGUSR1, &old, NULL), 0);
    /* A signal that cannot be caught is refused. */
    opts.dump_signal = SIGKILL;
    assert_code(weft_run_opts(main_signalled, NULL, NULL, &opts), -EINVAL);
}

int debug_stuck(void *arg, void **result);
int debug_stuck(void *arg, void **result)
{
    (void)result;
    int rc = weft_future_await(arg, NULL);
    __asm__ volatile("" ::: "memory");  /* not a tail call */
    return rc;
}

static int main_stuck(void *arg, void **result)
{
    (void)arg;
    (void)result;
    static weft_future never;
    memset(&never, 0, sizeof never);
    EXPECT_CODE(weft_spawn(NULL, debug_stuck, &never, &(weft_task_opts){.name = "stuck"}), 0);
    EXPECT_CODE(weft_sleep(MS(10)), 0);
    return debug_stuck(&never, NULL);
}

static void test_debug_deadlock_report_detail(void **state)
{
    (void)state;
    weft_loop_opts opts = {.virtual_clock = 1};
    assert_code(run_stderr(main_stuck, &opts), -EDEADLK);
    assert_expectations();
    const char *nl = strchr(err, '\n');
    assert_non_null(nl);
    assert_memory_equal(err, "weft: deadlock: 2 tasks wait forever: 'main' 'stuck'\n",
                        (size_t)(nl - err + 1));
    assert_has(nl, "\ntask 1 'main' [future 0x");
    assert_has(nl, "\ntask 2 'stuck' [future 0x");
    assert_has(nl, ", 10.0ms, spawned by task 1, stack ");
    assert_has(nl, "  debug_stuck+0x");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_debug_every_wait_reason, reset),
        cmocka_unit_test_setup(test_debug_stack_high_water_grows, reset),
        cmocka_unit_test_setup(test_debug_backtrace_suspended_and_running, reset),
        cmocka_unit_test_setup(test_debug_outside_a_loop, reset),
        cmocka_unit_test_setup(test_debug_dump_on_signal, reset),
        cmocka_unit_test_setup(test_debug_deadlock_report_detail, reset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
