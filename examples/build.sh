#!/bin/sh
# Rebuilds the example legacy modules from their C sources (needs clang with wasm32-wasi and a
# WASI sysroot; Debian: apt-get install clang lld wasi-libc). The built .wasm files are committed,
# so serving the examples needs no C toolchain. The hostcalls come from test/fixtures/c/witx.h
# (`witshim abi --c-header`).
set -eu
cd "$(dirname "$0")"
CC=${CC:-clang}
SYSROOT=${WASI_SYSROOT:-/usr}
for name in inspector; do
  "$CC" --target=wasm32-wasi --sysroot="$SYSROOT" -O2 -Wall -Wextra -Wno-unused-parameter -Wno-pointer-sign -I../test/fixtures/c -Wl,--strip-debug -o "$name.wasm" "$name.c"
  echo "built examples/$name.wasm"
done
