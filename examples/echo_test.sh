#!/bin/sh
# echo_test.sh SERVER CLIENT [EMULATOR] - the echo example's test: starts
# SERVER on a port the kernel picks with --once 1, reads the port from its
# "listening on" line, runs CLIENT against it with 1000 messages, and checks
# that both exit 0 and the server served exactly that one connection.
# EMULATOR is a CMake list (words separated by ';'), put in front of both.
# With ECHO_LOOPS set, the server runs that many loops (--loops).
set -eu
server=$1 client=$2 emulator=${3:-}
# shellcheck source=examples/test_lib.sh
. "$(dirname "$0")/test_lib.sh"
out=$(mktemp)
trap 'rm -f "$out"' EXIT

"$@" "$server" 0 --once 1 ${ECHO_LOOPS:+--loops "$ECHO_LOOPS"} >"$out" &
pid=$!
port=$(wait_port "$out" "$pid")
if [ -z "$port" ]; then
    echo "echo_test: the server did not start" >&2
    kill "$pid" 2>/dev/null || true
    exit 1
fi

status=0
"$@" "$client" 127.0.0.1 "$port" 1000 || status=$?
if [ "$status" -ne 0 ]; then
    echo "echo_test: the client failed ($status)" >&2
    kill "$pid" 2>/dev/null || true
    wait "$pid" || true
    exit 1
fi
wait "$pid" || { echo "echo_test: the server failed" >&2; exit 1; }
cat "$out"
grep -q '^echo_server: served 1 connections, 11893 bytes\( on [0-9]* loops\)\?$' "$out" ||
    { echo "echo_test: unexpected server summary" >&2; exit 1; }
