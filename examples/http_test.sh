#!/bin/sh
# http_test.sh SERVER [EMULATOR] - the HTTP example against real clients:
# starts SERVER on a port the kernel picks, then runs curl (routes, HEAD,
# HTTP/1.0, a kept-alive connection reused for a second URL) and Python's
# http.client (several requests on one connection, a pipelined batch and a
# malformed request on raw sockets) against it, stops it with SIGTERM while
# curl waits for a slow request, and checks that the request is answered
# and the server exits 0 with its summary. A client that is not installed
# is skipped with a message; with neither, the test is skipped (exit 77).
# EMULATOR is a CMake list (words separated by ';') put in front of SERVER.
# With HTTP_LOOPS set, the server runs that many loops (--loops).
set -eu
server=$1 emulator=${2:-}
# shellcheck source=examples/test_lib.sh
. "$(dirname "$0")/test_lib.sh"

have_curl=0 have_py=0
command -v curl >/dev/null 2>&1 && have_curl=1
command -v python3 >/dev/null 2>&1 && python3 -c 'import http.client' 2>/dev/null && have_py=1
[ $have_curl = 1 ] || echo "http_test: curl not found, its checks skipped"
[ $have_py = 1 ] || echo "http_test: python3 not found, its checks skipped"
if [ $have_curl = 0 ] && [ $have_py = 0 ]; then
    echo "http_test: neither curl nor python3: skipped"
    exit 77
fi

out=$(mktemp)
pid=
trap 'rm -f "$out"; [ -n "$pid" ] && kill "$pid" 2>/dev/null || true' EXIT
"$@" "$server" --port 0 ${HTTP_LOOPS:+--loops "$HTTP_LOOPS"} >"$out" &
pid=$!
port=$(wait_port "$out" "$pid")
[ -n "$port" ] || { echo "http_test: the server did not start" >&2; exit 1; }
url=http://127.0.0.1:$port

fail() { echo "http_test: $*" >&2; exit 1; }

if [ $have_curl = 1 ]; then
    body=$(curl -sS "$url/")
    [ "$body" = "Hello, World!" ] || fail "curl GET /: '$body'"
    code=$(curl -sS -o /dev/null -w '%{http_code} %{content_type}' "$url/nowhere")
    [ "$code" = "404 text/plain" ] || fail "curl GET /nowhere: $code"
    code=$(curl -sS -o /dev/null -w '%{http_code}' "$url/sleep?ms=20")
    [ "$code" = 200 ] || fail "curl GET /sleep: $code"
    head=$(curl -sS -I "$url/" | tr -d '\r')
    echo "$head" | grep -qx 'Content-Length: 14' || fail "curl HEAD /: $head"
    body=$(curl -sS -0 "$url/")
    [ "$body" = "Hello, World!" ] || fail "curl -0 (HTTP/1.0): '$body'"
    reused=$(curl -sS -v "$url/" "$url/sleep?ms=1" 2>&1 >/dev/null | grep -c 'Re-using existing connection' || true)
    [ "$reused" -ge 1 ] || fail "curl did not reuse the kept-alive connection"
    echo "http_test: curl passed"
fi

if [ $have_py = 1 ]; then
    python3 - "$port" <<'EOF' || fail "python http.client failed"
import http.client, socket, sys
port = int(sys.argv[1])
c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
for path, status, body in [("/", 200, b"Hello, World!\n"), ("/nowhere", 404, b"Not Found\n"),
                           ("/sleep?ms=10", 200, b"Hello, World!\n"), ("/", 200, b"Hello, World!\n")]:
    c.request("GET", path)
    r = c.getresponse()
    got = r.read()
    assert (r.status, got) == (status, body), (path, r.status, got)
    assert r.getheader("Content-Type") == "text/plain", r.getheaders()
c.request("POST", "/", body=b"x" * 1000)
r = c.getresponse()
assert r.status == 501, r.status
r.read()
c.request("HEAD", "/")
r = c.getresponse()
assert r.status == 200 and r.read() == b"", r.status
c.close()

def exchange(data):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(data)
    s.shutdown(socket.SHUT_WR)
    got = b""
    while True:
        b = s.recv(65536)
        if not b:
            break
        got += b
    s.close()
    return got

# A pipelined batch in one write: three answers, in order.
got = exchange(b"GET / HTTP/1.1\r\nHost: p\r\n\r\n" * 2 + b"GET /x HTTP/1.1\r\nHost: p\r\n\r\n")
assert got.count(b"HTTP/1.1 200 OK\r\n") == 2 and got.rindex(b"404 Not Found") > got.rindex(b"200 OK"), got
# A malformed request: 400 and a close.
got = exchange(b"GET / HTTP/1.1\nHost: p\n\n")
assert got.startswith(b"HTTP/1.1 400 Bad Request\r\n") and b"Connection: close\r\n" in got, got
print("http_test: python http.client passed")
EOF
fi

# SIGTERM while a request is in progress: it is still answered (the graceful
# stop), and the server exits 0 once it is.
slow=
if [ $have_curl = 1 ]; then
    slow=$(mktemp)
    curl -sS -o /dev/null -w '%{http_code}' "$url/sleep?ms=1000" >"$slow" 2>&1 &
    cpid=$!
    sleep 0.5   # its request is accepted and read by then, even under qemu
fi
kill -TERM "$pid"
status=0
wait "$pid" || status=$?
pid=
cat "$out"
if [ -n "$slow" ]; then
    wait "$cpid" || true
    code=$(cat "$slow"); rm -f "$slow"
    [ "$code" = 200 ] || fail "a request in progress at SIGTERM got '$code'"
    echo "http_test: a request in progress at SIGTERM was answered"
fi
[ "$status" -eq 0 ] || fail "the server exited $status after SIGTERM"
grep -q '^http_server: Terminated$' "$out" || fail "no 'Terminated' line"
grep -q '^http_server: served [0-9]* connections, [0-9]* requests$' "$out" || fail "no summary"
