#!/usr/bin/env bash
# Consumer test: install the built tree, then build and run the README
# example against the installed package in every supported way. The
# expected output is the tutorial's printed numbers (tests/consumer/expected.txt).
# Usage: run.sh BUILD_DIR SOURCE_DIR WORK_DIR C_COMPILER PKG_CONFIG
set -euo pipefail
build=$1 src=$2 work=$3 cc=$4 pkgconfig=$5
example="$src/examples/quickstart.c"
expected="$src/tests/consumer/expected.txt"
rm -rf "$work"
mkdir -p "$work"
prefix="$work/prefix"

fail() { echo "FAIL: $*" >&2; exit 1; }

# Runs a program and compares its output with the tutorial's numbers.
check_output() {
    local name=$1; shift
    "$@" > "$work/$name.out" || fail "$name exited with $?"
    diff -u "$expected" "$work/$name.out" || fail "$name printed other numbers"
    echo "ok: $name"
}

# Shared consumers must load libattention.so; static ones must not.
check_linkage() {
    local name=$1 exe=$2 want=$3
    # Not grep -q: it stops reading at the first match, ldd then dies of
    # SIGPIPE and pipefail turns a match into a failure now and then.
    if ldd "$exe" | grep 'libattention\.so' > /dev/null; then got=shared; else got=static; fi
    [ "$got" = "$want" ] || fail "$name links libattention $got, wanted $want"
}

cmake --install "$build" --prefix "$prefix" > "$work/install.log"

cmake_consumer() {
    local name=$1 want=$2; shift 2
    cmake -S "$src/tests/consumer/project" -B "$work/$name" \
        -DCMAKE_C_COMPILER="$cc" -DCMAKE_PREFIX_PATH="$prefix" \
        -DEXAMPLE_SOURCE="$example" "$@" > "$work/$name.configure.log" ||
        { cat "$work/$name.configure.log"; fail "$name: configure"; }
    cmake --build "$work/$name" > "$work/$name.build.log" 2>&1 ||
        { cat "$work/$name.build.log"; fail "$name: build"; }
    check_linkage "$name" "$work/$name/consumer" "$want"
    check_output "$name" "$work/$name/consumer"
}
cmake_consumer cmake-shared-c shared
cmake_consumer cmake-shared-cxx shared -DCONSUMER_CXX=ON
cmake_consumer cmake-static-c static -DCONSUMER_STATIC_VIA=component
cmake_consumer cmake-static-cxx static -DCONSUMER_STATIC_VIA=variable -DCONSUMER_CXX=ON

# pkg-config: dynamic link, then a static one that needs Libs.private.
pkg_consumers() {
    local tag=$1 pcdir=$2 libdir
    export PKG_CONFIG_PATH="$pcdir"
    libdir=$("$pkgconfig" --variable=libdir attention)
    [ -f "$libdir/libattention.so" ] || fail "$tag: pkg-config libdir $libdir has no libattention.so"
    # shellcheck disable=SC2046
    "$cc" -Wall -Wextra -Werror "$example" -o "$work/pc-$tag-shared" \
        $("$pkgconfig" --cflags --libs attention)
    check_linkage "pc-$tag-shared" "$work/pc-$tag-shared" shared
    check_output "pc-$tag-shared" env LD_LIBRARY_PATH="$libdir" "$work/pc-$tag-shared"
    local static_libs
    static_libs=$("$pkgconfig" --static --libs attention)
    # shellcheck disable=SC2046
    "$cc" -Wall -Wextra -Werror -DATTENTION_STATIC_DEFINE "$example" \
        -o "$work/pc-$tag-static" $("$pkgconfig" --cflags attention) \
        ${static_libs/-lattention/-l:libattention.a}
    check_linkage "pc-$tag-static" "$work/pc-$tag-static" static
    check_output "pc-$tag-static" "$work/pc-$tag-static"
}
pkg_consumers relative-libdir "$prefix/lib/pkgconfig"

# An absolute CMAKE_INSTALL_LIBDIR must appear verbatim in attention.pc.
abs="$work/abs"
cmake -S "$src" -B "$work/abs-build" -DCMAKE_C_COMPILER="$cc" \
    -DCMAKE_INSTALL_PREFIX="$abs/prefix" -DCMAKE_INSTALL_LIBDIR="$abs/libdir" \
    -DATTENTION_BUILD_TESTS=OFF -DATTENTION_BUILD_BENCH=OFF \
    -DATTENTION_BUILD_EXAMPLES=OFF -DATTENTION_INSTALL=ON > "$work/abs.log"
cmake --build "$work/abs-build" -j2 >> "$work/abs.log"
cmake --install "$work/abs-build" >> "$work/abs.log"
grep -qx "libdir=$abs/libdir" "$abs/libdir/pkgconfig/attention.pc" ||
    fail "absolute libdir not written verbatim: $(grep '^libdir' "$abs/libdir/pkgconfig/attention.pc")"
pkg_consumers absolute-libdir "$abs/libdir/pkgconfig"
echo "all consumer builds passed"
