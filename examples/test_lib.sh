# test_lib.sh - sourced by the examples' test scripts (echo_test.sh,
# echo_stop_test.sh, http_test.sh, dump_test.sh) once they have set
# $emulator: the emulator, a CMake list (words separated by ';', maybe
# empty), becomes the positional parameters, so that "$@" PROGRAM ... runs
# PROGRAM under it. Also defines wait_port.
set -f
IFS=';'
# shellcheck disable=SC2086 # split on purpose
set -- $emulator
unset IFS
set +f

# wait_port OUT PID: prints the port of the "listening on ADDR:PORT" line a
# server writes to OUT, once it has (10 s at most); nothing if process PID
# ends first.
wait_port() {
    for _ in $(seq 100); do
        p=$(sed -n 's/^listening on .*:\([0-9][0-9]*\)$/\1/p' "$1")
        if [ -n "$p" ]; then
            echo "$p"
            return 0
        fi
        kill -0 "$2" 2>/dev/null || return 0
        sleep 0.1
    done
}
