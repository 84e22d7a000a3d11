#!/usr/bin/env bash
# Time a credential plugin's first run (compiled) against later runs (compiled artifact reused),
# with the release binary and the example plugin. Run after `make plugins`:
#   make static && bench/plugins.sh
set -euo pipefail
cd "$(dirname "$0")/.."
credbox=target/release/credbox
plugin=$PWD/examples/plugin/example-plugin.wasm
export CREDBOX_CACHE_DIR=$PWD/target/bench-plugins/cache
rm -rf "$CREDBOX_CACHE_DIR"
"$credbox" export --plugin "$plugin" >/dev/null
hyperfine -N --warmup 3 --runs 30 --prepare "rm -rf $CREDBOX_CACHE_DIR/plugins" \
  -n "first run (compiles the plugin)" "$credbox export --no-cache --plugin $plugin"
hyperfine -N --warmup 5 --runs 100 \
  -n "later run (compiled artifact reused)" "$credbox export --no-cache --plugin $plugin" \
  -n "later run, cached credentials" "$credbox export --plugin $plugin"
