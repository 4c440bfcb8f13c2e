#!/bin/sh
# instructions.sh - instructions per operation of the switch and yield rows,
# counted with callgrind beside weft-bench's times.
#
#   bench/instructions.sh [WEFT_BENCH] [BENCH IMPL]...
#
# Default: build/bench/weft-bench; switch for weft (or weft_fp_thread),
# boost_fcontext and ucontext, and yield for weft. Each row runs twice under
# valgrind --tool=callgrind, with 200,000 and 400,000 iterations and one
# run, and prints (Ir(400k) - Ir(200k)) / 200,000: the set-up cancels out.
# Callgrind counts user-space instructions only (ucontext's sigprocmask
# system call is not in its count).
set -eu
bin=${1:-build/bench/weft-bench}
[ $# -gt 0 ] && shift
command -v valgrind >/dev/null || { echo "instructions.sh: valgrind not found" >&2; exit 1; }
weft=$("$bin" --list | awk '$1 == "switch" && $2 ~ /^weft/ {print $2; exit}')
[ $# -gt 0 ] || set -- switch "$weft" switch boost_fcontext switch ucontext yield "$weft"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf '%-10s %-15s %14s\n' bench impl instructions
while [ $# -ge 2 ]; do
    b=$1 i=$2
    shift 2
    "$bin" --list | grep -qx "$b $i" || continue   # a peer not built here
    for n in 200000 400000; do
        valgrind --tool=callgrind --callgrind-out-file="$tmp/cg.$n" \
            "$bin" --filter "$b" --impl "$i" --iters $n --runs 1 >/dev/null 2>"$tmp/err"
    done
    lo=$(awk '/^(summary|totals):/ {print $2; exit}' "$tmp/cg.200000")
    hi=$(awk '/^(summary|totals):/ {print $2; exit}' "$tmp/cg.400000")
    awk -v b="$b" -v i="$i" -v lo="$lo" -v hi="$hi" \
        'BEGIN { printf "%-10s %-15s %14.1f\n", b, i, (hi - lo) / 200000 }'
done
