#!/bin/sh
# echo_stop_test.sh SERVER [EMULATOR] - the echo server's graceful stop:
# three connections are open and answered, SIGTERM comes, the server
# refuses new connections but answers the three as long as they stay open
# (within its grace period), and exits 0 once they have closed. The client
# is Python's socket module; without python3 the test is skipped (77).
# With ECHO_LOOPS set the server runs that many loops.
set -eu
server=$1 emulator=${2:-}
command -v python3 >/dev/null || { echo "echo_stop_test: no python3, skipped"; exit 77; }
# shellcheck source=examples/test_lib.sh
. "$(dirname "$0")/test_lib.sh"
out=$(mktemp)
trap 'rm -f "$out"' EXIT

"$@" "$server" 0 --grace 20000 ${ECHO_LOOPS:+--loops "$ECHO_LOOPS"} >"$out" &
pid=$!
port=$(wait_port "$out" "$pid")
[ -n "$port" ] || { echo "echo_stop_test: the server did not start" >&2; kill "$pid"; exit 1; }

python3 - "$port" "$pid" <<'PY'
import errno, os, signal, socket, sys, time
port, pid = int(sys.argv[1]), int(sys.argv[2])
conns = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(3)]
def roundtrip(c, msg):
    c.sendall(msg)
    got = b""
    while len(got) < len(msg):
        part = c.recv(len(msg) - len(got))
        assert part, "connection closed early"
        got += part
    assert got == msg, (got, msg)
for i, c in enumerate(conns):
    roundtrip(c, b"before-%d" % i)
os.kill(pid, signal.SIGTERM)
# New connections are refused once the server has stopped accepting.
for _ in range(200):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=10).close()
    except ConnectionRefusedError:
        break
    except ConnectionResetError:
        pass                # queued as the listener closed: look again
    time.sleep(0.05)
else:
    sys.exit("echo_stop_test: still accepting after SIGTERM")
for i, c in enumerate(conns):   # the open ones still get their answers
    roundtrip(c, b"after-%d" % i)
    c.close()
PY
wait "$pid" || { echo "echo_stop_test: the server failed" >&2; cat "$out"; exit 1; }
cat "$out"
grep -q '^echo_server: Terminated: no new connections$' "$out" &&
grep -q '^echo_server: every open connection finished$' "$out" ||
    { echo "echo_stop_test: unexpected output" >&2; exit 1; }
