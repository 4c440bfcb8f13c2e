#!/bin/sh
# gdb_test.sh DUMP SCRIPT [EMULATOR] - the gdb extension on the dump example:
# stopped at the breakpoint dump_ready() (every task waits by then), with
# the extension auto-loaded from the program's .debug_gdb_scripts section,
# then on a core file of the same state with the extension sourced by hand
# (SCRIPT). Checks that `info weft-tasks` lists the tasks and what they wait
# for, and that `weft bt 104` (consumer-0, waiting in chan.c: weft_chan_recv
# tail-calls its wait path, so its own frame may not show) unwinds into the
# task's function. Natively only: exits 77 (skipped) under an emulator,
# without gdb, or where ptrace is not allowed.
set -eu
dump=$1 script=$2 emulator=${3:-}
if [ -n "$emulator" ]; then
    echo "gdb_test: skipped: runs natively only (not under $emulator)"; exit 77
fi
if ! command -v gdb >/dev/null; then
    echo "gdb_test: skipped: gdb is not installed"; exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "gdb_test: $*" >&2; cat "$tmp/out"; exit 1; }
expect() { grep -q -- "$1" "$tmp/out" || fail "no '$1' in the output of $2"; }
check() { # what
    expect "^loop of thread 1: 309 tasks" "$1"
    expect "^ *104 *1 waiting *chan receive 0x[0-9a-f]*, [0-9.]*s *consumer-0 *consumer at .*dump.c:" "$1"
    expect "^ *204 *1 waiting *mutex 0x.* locker-0 *locker at .*dump.c:" "$1"
    expect "^ *2 *1 waiting *IO wait read.* acceptor *acceptor at .*dump.c:" "$1"
    expect "^ *1 *0 running .* main " "$1"
    expect "^task 104 'consumer-0':" "$1"
    expect "^#[0-9]* .* in [a-z_]* at .*chan.c:" "$1"
    expect "^#[0-9]* .* in consumer at .*dump.c:" "$1"
    expect " in weft.*entry at .*\.S:" "$1"   # clang calls it weft.entry
}

# Live, auto-loaded: the program's own directory is trusted, nothing sourced.
gdb -batch -nx -iex "add-auto-load-safe-path $(dirname "$dump")" \
    -ex 'break dump_ready' -ex 'run --once' -ex 'info weft-tasks' -ex 'weft bt 104' \
    -ex 'kill' "$dump" >"$tmp/out" 2>&1 || true
if grep -q "ptrace: Operation not permitted\|Could not trace the inferior" "$tmp/out"; then
    echo "gdb_test: skipped: ptrace is not allowed here"; exit 77
fi
check "the live process"
echo "gdb_test: live process ok"

# A core file: the kernel's from dump --abort where it writes one into the
# current directory (AddressSanitizer must be told to leave core dumps on),
# else one taken by gcore at the breakpoint.
core=
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}disable_coredump=0"
if (cd "$tmp" && ulimit -c unlimited 2>/dev/null && "$dump" --abort >/dev/null 2>&1); then
    fail "dump --abort did not abort"
fi
for c in "$tmp"/core "$tmp"/core.*; do
    [ -f "$c" ] && core=$c && break
done
if [ -z "$core" ]; then
    core=$tmp/gcore
    gdb -batch -nx -ex 'break dump_ready' -ex 'run --once' -ex "gcore $core" -ex 'kill' \
        "$dump" >"$tmp/out" 2>&1 || true
    [ -f "$core" ] || fail "no core file: neither the kernel's nor gcore's"
fi
gdb -batch -nx -ex "source $script" -ex 'info weft-tasks' -ex 'weft bt 104' \
    "$dump" "$core" >"$tmp/out" 2>&1 || true
check "the core file $(basename "$core")"
echo "gdb_test: core file ($(basename "$core")) ok"
