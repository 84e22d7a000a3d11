#!/usr/bin/env bash
# `make static`: the credbox binary for a cargo profile ($1), linked static-pie (position-
# independent, so ASLR stays, but no shared libraries to load, relocate and bind at every start)
# and, where lld links it (Rust's default on x86_64 Linux), with the functions an export runs
# placed together at the start of its code (host/hot-functions.txt, host/link-order.sh; see
# docs/PERFORMANCE.md, "Code layout"). `cargo rustc` gives the flags to the binary alone, so every
# dependency, wasmtime included, is the build `cargo build` made.
#
# The ordering file is named after its contents and cargo fingerprints `cargo rustc`'s arguments,
# so a link happens again exactly when the order given to the linker changes: twice on a fresh
# clone (the first link gives the symbol names to match), never on a second `make static`.
set -euo pipefail
cd "$(dirname "$0")/.."
profile=$1
binary=target/$([ "$profile" = dev ] && echo debug || echo "$profile")/credbox
current=target/hot-symbols-$profile.current   # names the ordering file the last link used

link() { # extra rustc arguments
  cargo rustc --locked --profile "$profile" -p credbox --bin credbox -- -C target-feature=+crt-static "$@"
}
order_args() { # the ordering file's path
  echo "-C link-arg=-Wl,--symbol-ordering-file=$PWD/$1 -C link-arg=-Wl,--no-warn-symbol-ordering"
}

order=$(cat "$current" 2>/dev/null || true)
[ -f "$order" ] || order=
# shellcheck disable=SC2046 # the arguments are split on purpose
if [ -n "$order" ] && link $(order_args "$order"); then
  :
elif link; then
  order=
else
  echo "make static: the static link failed (Debian: libc6-dev has the static C library); building a dynamic credbox instead" >&2
  exec cargo build --locked --profile "$profile" -p credbox
fi

if ! readelf -p .comment "$binary" | grep -q "Linker: LLD"; then
  echo "make static: the linker is not lld; the code keeps the linker's own order"
  exit 0
fi
resolved=$(mktemp)
trap 'rm -f "$resolved"' EXIT
host/link-order.sh "$binary" > "$resolved"
wanted=target/hot-symbols-$profile-$(sha256sum < "$resolved" | cut -c1-16).txt
if [ "$wanted" != "$order" ]; then
  mv "$resolved" "$wanted"
  # shellcheck disable=SC2046
  link $(order_args "$wanted")
  echo "$wanted" > "$current"
  [ -z "$order" ] || rm -f "$order"
fi
