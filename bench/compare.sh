#!/usr/bin/env bash
# credbox side by side with the AWS SDKs' own credential_process support, cold processes.
# Installs the peers from their registries (botocore from PyPI, @aws-sdk/credential-providers from
# npm, aws-config from crates.io) under target/bench-peers, then times every command with
# hyperfine and prints one table of medians and ratios. Run from the repository root:
#   bench/compare.sh            (or `make bench`)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
work=$root/target/bench-peers
mkdir -p "$work"
runs=${RUNS:-100}

command -v hyperfine >/dev/null || { echo "installing hyperfine (Debian)"; apt-get install -y -qq hyperfine >/dev/null; }

echo "== building credbox (release) and the helpers"
cargo build --release -q -p credbox
credbox=$root/target/release/credbox
cc -O2 -o "$work/helper" bench/helper.c
printf '#!/bin/sh\nsleep 0.2\nexec %s\n' "$work/helper" > "$work/slow-helper"
chmod +x "$work/slow-helper"

echo "== installing the peers"
if [ ! -x "$work/venv/bin/python" ]; then python3 -m venv "$work/venv"; fi
"$work/venv/bin/pip" install -q --disable-pip-version-check botocore
if [ ! -d "$work/js/node_modules/@aws-sdk/credential-providers" ]; then
  mkdir -p "$work/js" && cp bench/peers/js/package.json bench/peers/js/from-process.mjs "$work/js/"
  (cd "$work/js" && npm install --silent --no-audit --no-fund >/dev/null)
fi
CARGO_TARGET_DIR=$work/aws-config-peer cargo build --release -q --manifest-path bench/peers/aws-config-peer/Cargo.toml
peer_rs=$work/aws-config-peer/release/aws-config-peer

export AWS_CONFIG_FILE=$work/config AWS_SHARED_CREDENTIALS_FILE=$work/no-credentials CREDBOX_CACHE_DIR=$work/cache
printf '[profile fast]\ncredential_process = %s\n\n[profile slow]\ncredential_process = %s\n' \
  "$work/helper" "$work/slow-helper" > "$AWS_CONFIG_FILE"
"$credbox" export --profile fast >/dev/null && "$credbox" export --profile slow >/dev/null   # warm the cache

echo "== timing ($runs runs each; slow-helper rows 20 runs)"
hyperfine -N -w 10 -r "$runs" --export-json "$work/fast.json" \
  -n "helper run directly" "$work/helper" \
  -n "credbox export (warm cache)" "$credbox export --profile fast" \
  -n "credbox export --no-cache" "$credbox export --profile fast --no-cache" \
  -n "aws-config (Rust SDK)" "$peer_rs fast" \
  -n "fromProcess (JS SDK v3)" "node $work/js/from-process.mjs fast" \
  -n "botocore (Python)" "$work/venv/bin/python bench/peers/botocore_peer.py fast" >/dev/null
hyperfine -N -w 2 -r 20 --export-json "$work/slow.json" \
  -n "slow helper run directly" "$work/slow-helper" \
  -n "credbox export, slow helper (warm cache)" "$credbox export --profile slow" \
  -n "aws-config, slow helper" "$peer_rs slow" \
  -n "botocore, slow helper" "$work/venv/bin/python bench/peers/botocore_peer.py slow" >/dev/null

python3 - "$work/fast.json" "$work/slow.json" <<'PY'
import json, sys
rows = [r for path in sys.argv[1:] for r in json.load(open(path))["results"]]
med = {r["command"]: r["median"] * 1000 for r in rows}
helper, rust = med["helper run directly"], med["aws-config (Rust SDK)"]
print(f"\n| command | median (ms) | × helper | × aws-config |")
print(f"|---|---:|---:|---:|")
for name, ms in med.items():
    print(f"| {name} | {ms:.2f} | {ms / helper:.2f} | {ms / rust:.2f} |")
PY
