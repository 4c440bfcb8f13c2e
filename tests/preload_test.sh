#!/bin/sh
# preload_test.sh LAUNCHER LIB PROG [EMULATOR] - libweft_hook.so preloaded
# into a program built without weft. Natively through the launcher
# (weft-run -n 3); under an emulator, which cannot exec the launcher's
# target, with the launcher's environment passed to the emulator (-E).
# EMULATOR is a CMake list (words separated by ';').
set -eu
launcher=$1 lib=$2 prog=$3 emulator=${4:-}
set -f
IFS=';'
# shellcheck disable=SC2086 # a CMake list: split on purpose
set -- $emulator
unset IFS
set +f
export ASAN_OPTIONS=${ASAN_OPTIONS:-verify_asan_link_order=0}
plain=$("$@" "$prog")
if [ -n "$*" ]; then
  out=$("$@" -E LD_PRELOAD="$lib" -E WEFT_HOOK_MAIN=3 -E ASAN_OPTIONS="$ASAN_OPTIONS" "$prog")
else
  out=$(WEFT_HOOK_LIB="$lib" "$launcher" -n 3 "$prog")
fi
want_plain='start
end plain'
want='start
start
start
end hooked
end hooked
end hooked'
if [ "$plain" != "$want_plain" ]; then
  printf 'without the hooks:\n%s\nexpected:\n%s\n' "$plain" "$want_plain" >&2
  exit 1
fi
if [ "$out" != "$want" ]; then
  printf 'preloaded:\n%s\nexpected:\n%s\n' "$out" "$want" >&2
  exit 1
fi
echo "preload: 3 copies overlapped, hooked"
