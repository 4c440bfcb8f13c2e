"""weft.py - gdb commands for programs linked with weft (live or core file).

  info weft-tasks     every task of every loop: id, parent, state, what it
                      waits for, name, and where it stopped
  weft bt ID|all      the call stack of a suspended task, unwound by gdb
                      from the registers its switch saved

Every program linked with weft carries this script in its
.debug_gdb_scripts section (src/dump.c), so gdb loads it by itself once
the program's directory is trusted:
    gdb -iex 'add-auto-load-safe-path /path/to/program' ./program
or load it by hand: (gdb) source tools/gdb/weft.py

How it works. A loop is the thread-local weft__loop of each thread; its
tasks are the list loop->tasks (struct weft_task.all_link). A suspended
task's context is its coroutine's saved stack pointer (top->sp), which
points at a struct weft__frame (src/arch/context.h): the callee-saved
registers and the return address of its last switch. The field offsets and
the frame's size come from the debug information, never from constants
here. `weft bt` hands those registers to gdb through an unwinder as the
caller of the innermost frame, so gdb's own DWARF unwinding goes on from
there: no frame pointers are needed, and it works on core files, whose
registers cannot be written.
"""

import gdb
import gdb.unwinder

_TASK_STATES = {0: "runnable", 1: "running", 2: "waiting", 3: "ended"}

# What weft_wait_name() says, by enumerator of enum weft_wait_kind.
_WAIT_NAMES = {
    "WEFT_WAIT_NONE": "", "WEFT_WAIT_SLEEP": "sleep", "WEFT_WAIT_FD": "IO wait",
    "WEFT_WAIT_CHAN_SEND": "chan send", "WEFT_WAIT_CHAN_RECV": "chan receive",
    "WEFT_WAIT_SELECT": "select", "WEFT_WAIT_MUTEX": "mutex",
    "WEFT_WAIT_SEM": "semaphore", "WEFT_WAIT_EVENT": "event",
    "WEFT_WAIT_COND": "condition", "WEFT_WAIT_WAITGROUP": "wait group",
    "WEFT_WAIT_FUTURE": "future", "WEFT_WAIT_JOIN": "join",
    "WEFT_WAIT_TASKS": "wait tasks", "WEFT_WAIT_GROUP": "task group",
    "WEFT_WAIT_JOB": "worker job",
}

FOREVER = (1 << 63) - 1


def _offset(type_name, field):
    for f in gdb.lookup_type(type_name).fields():
        if f.name == field:
            return f.bitpos // 8
    raise gdb.GdbError("weft: %s has no field %s" % (type_name, field))


def _wait_names():
    try:
        t = gdb.lookup_type("enum weft_wait_kind")
    except gdb.error:
        return {}
    return {f.enumval: _WAIT_NAMES.get(f.name, f.name) for f in t.fields()}


def _loops():
    """(thread, loop value) for every thread running a weft loop."""
    out = []
    selected = gdb.selected_thread()
    for th in sorted(gdb.selected_inferior().threads(), key=lambda t: t.num):
        th.switch()
        try:
            loop = gdb.parse_and_eval("weft__loop")
        except gdb.error:
            continue
        if int(loop) != 0:
            out.append((th, loop.dereference()))
    if selected is not None:
        selected.switch()
    if not out and not gdb.selected_inferior().threads():
        raise gdb.GdbError("weft: no process or core file")
    return out


def _tasks(loop):
    task_ptr = gdb.lookup_type("struct weft_task").pointer()
    off = _offset("struct weft_task", "all_link")
    head = int(loop["tasks"].address)
    n = loop["tasks"]["next"]
    while int(n) != head and int(n) != 0:
        yield gdb.Value(int(n) - off).cast(task_ptr).dereference()
        n = n["next"]


def _frame_regs(task):
    """The registers a suspended task's switch saved: {name: value}."""
    co = task["top"]
    sp = int(co["sp"])
    frame_t = gdb.lookup_type("struct weft__frame")
    f = gdb.Value(sp).cast(frame_t.pointer()).dereference()
    names = [fl.name for fl in frame_t.fields()]
    regs = {}
    if "rbp" in names:                          # x86-64
        for r in ("rbx", "rbp", "r12", "r13", "r14", "r15"):
            regs[r] = int(f[r])
        regs["rip"] = int(f["pc"])
        regs["rsp"] = sp + frame_t.sizeof
    else:                                       # AArch64: x[0] is x19
        for i in range(frame_t["x"].type.range()[1] + 1):
            regs["x%d" % (19 + i)] = int(f["x"][i])
        regs["x30"] = int(f["pc"])
        regs["pc"] = int(f["pc"])
        regs["sp"] = sp + frame_t.sizeof
    return regs


def _where(pc):
    block = None
    try:
        block = gdb.block_for_pc(pc)
    except RuntimeError:
        pass
    while block is not None and block.function is None:
        block = block.superblock
    name = block.function.print_name if block is not None else "0x%x" % pc
    sal = gdb.find_pc_line(pc - 1)
    if sal.symtab is not None:
        return "%s at %s:%d" % (name, sal.symtab.filename, sal.line)
    return name


def _wait_text(task, names, now):
    kind = int(task["wait_kind"])
    text = names.get(kind, str(kind))
    obj = int(task["wait_obj"])
    if text == "sleep":
        text += " until %.3fs" % (int(task["wake_at"]) / 1e9)
    elif text == "join":
        joined = gdb.Value(obj).cast(gdb.lookup_type("struct weft_task").pointer())
        text += " task %d" % int(joined["id"])
    elif text == "IO wait":
        text += " %s" % ("read" if int(task["wait_arg"]) & 1 else "write")
    elif obj:
        text += " 0x%x" % obj
    since = int(task["wait_since"])
    if now >= since:
        text += ", %.3fs" % ((now - since) / 1e9)
    return text


class _TaskUnwinder(gdb.unwinder.Unwinder):
    """Gives gdb a task's saved registers as the caller of frame 0."""

    def __init__(self):
        super().__init__("weft-task")
        self.regs = None        # the caller's registers while active
        self.sp = 0             # the task's saved stack pointer

    def __call__(self, pending_frame):
        if self.regs is None or pending_frame.level() != 0:
            return None
        arch_sp = "rsp" if "rsp" in self.regs else "sp"
        arch_pc = "rip" if "rip" in self.regs else "pc"

        class FrameId:
            def __init__(self, sp, pc):
                self.sp = sp
                self.pc = pc

        # Frame 0 keeps its pc but is given the task's saved stack pointer
        # as its identity: below the task's frames, so gdb sees the stack
        # grow the usual way from frame 0 into the task.
        pc = pending_frame.read_register(arch_pc)
        sp = gdb.Value(self.sp).cast(pending_frame.read_register(arch_sp).type)
        info = pending_frame.create_unwind_info(FrameId(sp, pc))
        for name, value in self.regs.items():
            info.add_saved_register(name, gdb.Value(value).cast(
                pending_frame.read_register(name).type))
        return info


_unwinder = _TaskUnwinder()
gdb.unwinder.register_unwinder(None, _unwinder, replace=True)


def _find(task_id):
    for th, loop in _loops():
        for t in _tasks(loop):
            if int(t["id"]) == task_id:
                return th, t
    raise gdb.GdbError("weft: no task %d" % task_id)


def _frame_text(f):
    name = f.name() or "0x%x" % f.pc()
    sal = f.find_sal()
    if sal.symtab is not None:
        return "%s at %s:%d" % (name, sal.symtab.filename, sal.line)
    return name


def _task_frames(task, limit):
    """gdb frames of a suspended task, innermost first (inlined ones too)."""
    _unwinder.regs = _frame_regs(task)
    _unwinder.sp = int(task["top"]["sp"])
    gdb.invalidate_cached_frames()
    out = []
    try:
        f = gdb.newest_frame().older()
        while f is not None and len(out) < limit:
            out.append((f.pc(), _frame_text(f), f))
            try:
                older = f.older()
            except gdb.error as e:
                out.append((0, "(%s)" % e, None))
                break
            if older is None and f.unwind_stop_reason() not in (
                    gdb.FRAME_UNWIND_NO_REASON, gdb.FRAME_UNWIND_OUTERMOST):
                out.append((0, "(%s)" % gdb.frame_stop_reason_string(
                    f.unwind_stop_reason()), None))
            f = older
        return [(pc, text) for pc, text, _ in out]
    finally:
        _unwinder.regs = None
        gdb.invalidate_cached_frames()


def _weft_dir():
    """The directory of weft's sources, to tell its frames from the caller's."""
    sym = gdb.lookup_global_symbol("weft_run_opts")
    if sym is None or sym.symtab is None:
        return None
    return sym.symtab.filename.rsplit("/", 1)[0] + "/"


def _print_bt(th, task, limit=64):
    state = int(task["state"])
    th.switch()
    if state == 1:
        gdb.execute("bt %d" % limit)
        return
    if state == 3 or int(task["top"]) == 0 or not int(task["started"]):
        print("  (%s)" % ("ended" if state == 3 else "not started"))
        return
    for n, (pc, text) in enumerate(_task_frames(task, limit)):
        print("#%-2d 0x%016x in %s" % (n, pc, text))


class InfoWeftTasks(gdb.Command):
    """info weft-tasks: every weft task, with what it waits for and where."""

    def __init__(self):
        super().__init__("info weft-tasks", gdb.COMMAND_STATUS)

    def invoke(self, arg, from_tty):
        names = _wait_names()
        loops = _loops()
        if not loops:
            print("weft: no loop runs in any thread")
            return
        for th, loop in loops:
            now = int(loop["vnow"]) if int(loop["virtual_clock"]) else int(loop["tick_now"])
            print("loop of thread %d: %d tasks, run queue %d, timers %d" % (
                th.num, int(loop["ntasks"]), int(loop["runq_len"]),
                int(loop["timers"]["len"])))
            print("  %5s %6s %-9s %-40s %-16s %s" % ("ID", "PARENT", "STATE", "WAIT",
                                                      "NAME", "WHERE"))
            weft_dir = _weft_dir()
            for t in _tasks(loop):
                try:
                    print(self.row(th, t, names, now, weft_dir))
                except gdb.error as e:       # a core file without that memory
                    print("  %5s  (%s)" % (int(t["id"]), e))

    @staticmethod
    def row(th, t, names, now, weft_dir):
        state = int(t["state"])
        wait = _wait_text(t, names, now) if state == 2 else ""
        where = ""
        if state in (0, 2) and int(t["top"]) != 0 and int(t["started"]):
            # The first frame outside weft: where the task called into it.
            frames = _task_frames(t, 16)
            where = frames[0][1] if frames else ""
            for _, text in frames:
                if weft_dir is None or (" at %s" % weft_dir) not in text:
                    where = text
                    break
        elif state == 1:
            where = "(running in thread %d)" % th.num
        return "  %5d %6d %-9s %-40s %-16s %s" % (
            int(t["id"]), int(t["parent"]), _TASK_STATES.get(state, state),
            wait, t["name"].string(), where)


class Weft(gdb.Command):
    """weft: commands for weft programs (weft bt)."""

    def __init__(self):
        super().__init__("weft", gdb.COMMAND_STACK, prefix=True)


class WeftBt(gdb.Command):
    """weft bt ID|all: the call stack of weft task ID, or of every task."""

    def __init__(self):
        super().__init__("weft bt", gdb.COMMAND_STACK)

    def invoke(self, arg, from_tty):
        arg = arg.strip()
        if not arg:
            raise gdb.GdbError("usage: weft bt ID|all")
        selected = gdb.selected_thread()
        try:
            if arg == "all":
                for th, loop in _loops():
                    for t in list(_tasks(loop)):
                        print("task %d '%s':" % (int(t["id"]), t["name"].string()))
                        try:
                            _print_bt(th, t)
                        except gdb.error as e:
                            print("  (%s)" % e)
                        print()
            else:
                th, t = _find(int(arg, 0))
                print("task %d '%s':" % (int(t["id"]), t["name"].string()))
                _print_bt(th, t)
        finally:
            if selected is not None:
                selected.switch()


InfoWeftTasks()
Weft()
WeftBt()
