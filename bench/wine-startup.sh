#!/usr/bin/env bash
# Start-up of the cross-built Windows binary under wine (after `make test-windows`, which builds
# it and makes the wine prefix): `--version` (no guest) against an export from static keys (the
# embedded guest loaded and run). Their difference is what loading the guest costs; a binary whose
# artifact was precompiled for the wrong target compiles the guest there instead (~1 s).
set -euo pipefail
cd "$(dirname "$0")/.."
exe=target/x86_64-pc-windows-gnu/debug/credbox.exe
[ -x "$exe" ] || { echo "no $exe: run make test-windows first" >&2; exit 1; }
export WINEPREFIX="$PWD/target/wine/prefix" WINEDEBUG=-all
dir=$(mktemp -d)
trap 'rm -rf "$dir"; wineserver --kill 2>/dev/null || true' EXIT
printf '[profile p]\naws_access_key_id = AKIAEXAMPLE\naws_secret_access_key = secret\n' > "$dir/config"
export AWS_CONFIG_FILE="$dir/config" AWS_SHARED_CREDENTIALS_FILE="$dir/none" CREDBOX_CACHE_DIR="$dir/cache"
wineserver --persistent=60 # one wineserver for every run, as on a desktop where wine is running
hyperfine -N --warmup 5 --runs "${RUNS:-30}" \
  "wine $exe --version" \
  "wine $exe export --profile p --format process"
