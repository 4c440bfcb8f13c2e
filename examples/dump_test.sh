#!/bin/sh
# dump_test.sh DUMP [EMULATOR] - the dump example's test: its --once dump
# lists every kind of wait it sets up, and a SIGQUIT makes the running
# server print the same dump on stderr and run on. EMULATOR is a CMake list
# (words separated by ';'), put in front of the program.
set -eu
dump=$1 emulator=${2:-}
# shellcheck source=examples/test_lib.sh
. "$(dirname "$0")/test_lib.sh"
out=$(mktemp) err=$(mktemp)
pid=
trap 'rm -f "$out" "$err"; [ -z "$pid" ] || kill "$pid" 2>/dev/null || true' EXIT

fail() { echo "dump_test: $*" >&2; echo "--- stdout"; cat "$out"; echo "--- stderr"; cat "$err"; exit 1; }
expect() { grep -q -- "$2" "$1" || fail "no '$2' in $1"; }

"$@" "$dump" --once >"$out" 2>"$err" || fail "dump --once failed"
expect "$out" "^weft: 309 tasks (1 running, 0 runnable, 308 waiting)"
expect "$out" "^task 104 'consumer-0' \[chan receive 0x"
expect "$out" "^task 204 'locker-0' \[mutex 0x[0-9a-f]*, held by task 3, "
expect "$out" "^task 254 'waiter-0' \[event 0x"
expect "$out" "^task 4 'sleeper-0' \[sleep until "
expect "$out" "^task 2 'acceptor' \[IO wait fd [0-9]* read, "
expect "$out" "^  weft__coro_main+0x"

"$@" "$dump" >"$out" 2>"$err" &
pid=$!
for _ in $(seq 100); do
    grep -q "prints the dump" "$err" && break
    kill -0 "$pid" 2>/dev/null || fail "the server ended"
    sleep 0.1
done
kill -QUIT "$pid"
for _ in $(seq 100); do
    grep -q "^task 309 " "$err" && break
    sleep 0.1
done
expect "$err" "^weft: 309 tasks (0 running, 0 runnable, 309 waiting)"
expect "$err" "^task 1 'main' \[sleep until "
expect "$err" "^task 104 'consumer-0' \[chan receive 0x"
kill -0 "$pid" 2>/dev/null || fail "the server did not run on after the dump"
kill -TERM "$pid"
wait "$pid" 2>/dev/null || true
pid=
echo "dump_test: ok"
