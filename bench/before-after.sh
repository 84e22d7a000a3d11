#!/usr/bin/env bash
# Warm and cold `credbox export` of this tree next to an earlier commit's, in paired rounds, so that
# a change that should cost nothing can be shown to cost nothing (within the VM's drift).
#   bench/before-after.sh BASE_COMMIT            (RUNS per command per round, ROUNDS rounds)
# Both binaries are release builds (`cargo build --release`, fat LTO) from one target directory:
# the base is checked out in a worktree under target/, so wasmtime and every other dependency is
# built once. Prints each round's medians and the median of the per-round ratios.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
base=${1:?usage: bench/before-after.sh BASE_COMMIT}
runs=${RUNS:-40}
rounds=${ROUNDS:-5}
work=$root/target/before-after
mkdir -p "$work"
command -v hyperfine >/dev/null || { echo "installing hyperfine (Debian)"; apt-get install -y -qq hyperfine >/dev/null; }

echo "== building this tree and $base (release)"
make -s setup
cargo build --release -q -p credbox
cp target/release/credbox "$work/credbox-after"
tree=$root/target/before-after/base-tree
rm -rf "$tree"
git worktree prune
git worktree add -q --detach "$tree" "$base"
(cd "$tree" && CARGO_TARGET_DIR=$root/target cargo build --release -q -p credbox)
cp target/release/credbox "$work/credbox-before"
git worktree remove --force "$tree"
cc -O2 -o "$work/helper" bench/helper.c

export AWS_CONFIG_FILE=$work/config AWS_SHARED_CREDENTIALS_FILE=$work/no-credentials
printf '[profile fast]\ncredential_process = %s\n' "$work/helper" > "$AWS_CONFIG_FILE"
for side in before after; do
  CREDBOX_CACHE_DIR=$work/cache-$side "$work/credbox-$side" export --profile fast >/dev/null
done

echo "== $rounds paired rounds of $runs runs"
for round in $(seq "$rounds"); do
  hyperfine -N -w 5 -r "$runs" --export-json "$work/round-$round.json" \
    -n "warm before" "env CREDBOX_CACHE_DIR=$work/cache-before $work/credbox-before export --profile fast" \
    -n "warm after" "env CREDBOX_CACHE_DIR=$work/cache-after $work/credbox-after export --profile fast" \
    -n "cold before" "env CREDBOX_CACHE_DIR=$work/cache-before $work/credbox-before export --profile fast --no-cache" \
    -n "cold after" "env CREDBOX_CACHE_DIR=$work/cache-after $work/credbox-after export --profile fast --no-cache" \
    >/dev/null
done
python3 - "$work" "$rounds" <<'EOF'
import json, statistics, sys
work, rounds = sys.argv[1], int(sys.argv[2])
medians = {}
for r in range(1, rounds + 1):
    for result in json.load(open(f"{work}/round-{r}.json"))["results"]:
        medians.setdefault(result["command"], []).append(result["median"] * 1000)
for kind in ("warm", "cold"):
    before, after = medians[f"{kind} before"], medians[f"{kind} after"]
    ratios = [a / b for a, b in zip(after, before)]
    print(f"{kind}: before {statistics.median(before):.2f} ms, after {statistics.median(after):.2f} ms, "
          f"after/before {statistics.median(ratios):.3f} (rounds: {', '.join(f'{x:.3f}' for x in ratios)})")
EOF
