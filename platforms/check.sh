#!/usr/bin/env bash
# `make check-platforms`: type-check and lint (clippy -D warnings) credbox for macOS (both
# architectures) and Windows from this Linux machine, with the build scripts really run, so that the guest is precompiled for each target
# (host/build.rs) and the C code of wasmtime and ring compiles for it.
#
# macOS: Debian's clang compiles that C code; Apple's SDK is not available here, so the few C
# library headers it includes come from platforms/darwin-include (stand-ins, declarations only).
# Nothing is linked, so nothing of the SDK is missed. Windows: mingw-w64 from Debian. What ships
# is checked (library, binary, example); the Linux test suite uses Linux APIs, and the Windows one
# is built and run by `make test-windows`.
set -euo pipefail
cd "$(dirname "$0")/.."
DARWIN_CFLAGS="-ffreestanding -nostdlibinc -isystem $PWD/platforms/darwin-include"
export CC_aarch64_apple_darwin=clang CFLAGS_aarch64_apple_darwin="$DARWIN_CFLAGS"
export CC_x86_64_apple_darwin=clang CFLAGS_x86_64_apple_darwin="$DARWIN_CFLAGS"

targets=${PLATFORMS:-"x86_64-pc-windows-gnu x86_64-apple-darwin aarch64-apple-darwin"}
missing=$(comm -23 <(tr ' ' '\n' <<<"$targets" | sort) <(rustup target list --installed | sort))
[ -z "$missing" ] || rustup target add $missing
. platforms/need.sh
need clang clang
need x86_64-w64-mingw32-gcc gcc-mingw-w64-x86-64

for target in $targets; do
  features="--features credbox/aws-sdk"
  # Only a build for another CPU architecture needs Cranelift's backend for it (host/Cargo.toml).
  [ "${target%%-*}" = "$(uname -m)" ] || features="$features,credbox/cross-arch"
  # Windows has its own test suite (tests/windows.rs); lint it with the rest.
  tests=""
  [ "$target" != x86_64-pc-windows-gnu ] || tests="--test windows"
  echo "== cargo clippy --target $target"
  cargo clippy -p credbox --lib --bins --examples $tests --target "$target" $features -- -D warnings
done
echo "check-platforms: passed for $targets"
