#!/usr/bin/env bash
# `make test-windows`: the Windows build of credbox, tested under wine on this Linux machine.
#
# Installs what it needs from Debian (mingw-w64, wine), makes a private wine prefix under
# target/wine with the ProcessPrng replacement built from platforms/windows/bcryptprimitives.c,
# cross-builds, and runs tests/windows.rs under wine: Windows helper binaries (the test binary
# itself, see that file), real processes, real files. Ends with its own `N passed, N failed` line.
#
# Wine is not Windows: it has no ACLs to speak of and no real console. docs/PLATFORMS.md says
# which properties these tests verify and which only a Windows machine can.
set -euo pipefail
cd "$(dirname "$0")/../.."
TARGET=x86_64-pc-windows-gnu
. platforms/need.sh
need x86_64-w64-mingw32-gcc gcc-mingw-w64-x86-64
need wine wine
need wine64 wine64
rustup target list --installed | grep -qx $TARGET || rustup target add $TARGET

export WINEPREFIX="$PWD/target/wine/prefix" WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
if [ ! -f "$WINEPREFIX/system.reg" ]; then
  mkdir -p "$WINEPREFIX"
  echo "making the wine prefix $WINEPREFIX"
  wineboot --init >/dev/null 2>&1
  wineserver --wait
fi
dll="$WINEPREFIX/drive_c/windows/system32/bcryptprimitives.dll"
x86_64-w64-mingw32-gcc -O2 -shared -o target/wine/bcryptprimitives.dll \
  platforms/windows/bcryptprimitives.c platforms/windows/bcryptprimitives.def -ladvapi32
cmp -s target/wine/bcryptprimitives.dll "$dll" || cp target/wine/bcryptprimitives.dll "$dll"

export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUNNER=wine
set +e
cargo test -p credbox --target $TARGET --test windows 2>&1 | tee target/wine/test.log
status=${PIPESTATUS[0]}
# The ACL checker's own unit tests (host/src/platform/acl/): descriptors made from SDDL, every kind of entry.
cargo test -p credbox --target $TARGET --lib acl:: 2>&1 | tee -a target/wine/test.log
acl_status=${PIPESTATUS[0]}
set -e
wineserver --kill 2>/dev/null || true
awk '/^test result:/ { passed += $4; failed += $6 } END { printf "windows (wine): %d passed, %d failed\n", passed, failed }' target/wine/test.log
if [ "$status" -eq 0 ] && [ "$acl_status" -eq 0 ] && [ "$(grep -c '^test result: ok' target/wine/test.log)" -eq 2 ]; then
  exit 0
fi
echo "make test-windows: the Windows suite did not pass (exit $status, acl $acl_status)" >&2
exit 1
