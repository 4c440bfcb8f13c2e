#!/bin/sh
# run.sh - builds and runs consumer.c against weft the ways a user can:
#
#   run.sh MODE SOURCE BUILD WORK CC GENERATOR
#
#   find_package      cmake --install BUILD into a prefix, move the prefix
#                     elsewhere, find_package(weft) from there
#   pkgconfig         the same, but compiled with cc and pkg-config only
#   add_subdirectory  weft's SOURCE tree inside the consumer's project
#   shared            weft built with BUILD_SHARED_LIBS=ON and installed the
#                     same way: SONAME libweft.so.0, only weft_* exported,
#                     consumer compiled with pkg-config and run from there
#
# Moving the prefix after installing is what catches a hard-coded prefix.
# WORK is emptied first. Exit 77 (skipped) when pkg-config is missing.
set -eu
mode=$1 src=$2 build=$3 work=$4 cc=$5 gen=$6
rm -rf "$work"
mkdir -p "$work"
fail() { echo "run.sh $mode: $*" >&2; exit 1; }

install_moved() { # build dir -> $work/moved, a prefix that was never configured
    cmake --install "$1" --prefix "$work/stage" >/dev/null
    mv "$work/stage" "$work/moved"
}

check_output() {
    out=$("$@") || fail "consumer failed: $out"
    case $out in
        "consumer ok "*) echo "$out" ;;
        *) fail "unexpected output: $out" ;;
    esac
}

pc_build() { # static|shared: compile consumer.c with the moved weft.pc
    command -v pkg-config >/dev/null || { echo "pkg-config not found: skipped"; exit 77; }
    pcdir=$(dirname "$(find "$work/moved" -name weft.pc)")
    export PKG_CONFIG_PATH="$pcdir"
    cflags=$(pkg-config --cflags weft)
    if [ "$1" = static ]; then libs=$(pkg-config --libs --static weft)
    else libs="$(pkg-config --libs weft) -Wl,-rpath,$(pkg-config --variable=libdir weft)"; fi
    case "$cflags $libs" in *"$work/stage"*) fail "weft.pc names the old prefix: $cflags $libs" ;; esac
    # shellcheck disable=SC2086
    "$cc" $cflags "$src/tests/consumer/consumer.c" -o "$work/consumer" $libs
}

case $mode in
find_package)
    install_moved "$build"
    cmake -S "$src/tests/consumer" -B "$work/c" -G "$gen" -DCMAKE_C_COMPILER="$cc" \
          -DWEFT_CONSUMER=find_package -DCMAKE_PREFIX_PATH="$work/moved" >/dev/null
    cmake --build "$work/c" >/dev/null
    check_output "$work/c/consumer" ;;
pkgconfig)
    install_moved "$build"
    pc_build static
    check_output "$work/consumer" ;;
add_subdirectory)
    cmake -S "$src/tests/consumer" -B "$work/c" -G "$gen" -DCMAKE_C_COMPILER="$cc" \
          -DWEFT_CONSUMER=add_subdirectory -DWEFT_SOURCE_DIR="$src" >/dev/null
    cmake --build "$work/c" >/dev/null
    check_output "$work/c/consumer" ;;
shared)
    cmake -S "$src" -B "$work/weft" -G "$gen" -DCMAKE_C_COMPILER="$cc" -DBUILD_SHARED_LIBS=ON \
          -DCMAKE_BUILD_TYPE=Release -DWEFT_BUILD_TESTS=OFF -DWEFT_BUILD_EXAMPLES=OFF \
          -DWEFT_BUILD_BENCH=OFF >/dev/null
    cmake --build "$work/weft" >/dev/null
    install_moved "$work/weft"
    so=$(find "$work/moved" -name 'libweft.so.0.*' -type f)
    [ -n "$so" ] || fail "no libweft.so.0.* installed"
    soname=$(readelf -d "$so" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
    [ "$soname" = libweft.so.0 ] || fail "SONAME is '$soname'"
    bad=$(nm -D --defined-only "$so" | awk '{print $3}' | grep -v '^weft_[^_]' || true)
    [ -z "$bad" ] || fail "exports more than weft_*: $bad"
    nm -D --defined-only "$so" | grep -q ' weft_version$' || fail "weft_version not exported"
    pc_build shared
    ldd "$work/consumer" | grep -q "$work/moved/.*libweft.so.0" || fail "not linked to the moved libweft.so.0"
    check_output "$work/consumer"
    echo "SONAME $soname, $(nm -D --defined-only "$so" | wc -l) symbols, all weft_*" ;;
*) fail "unknown mode" ;;
esac
