#!/usr/bin/env bash
# Regenerates host/hot-functions.txt, the functions an `export` runs, in the order the linker is
# to place them at the start of .text (lld's --symbol-ordering-file; `make static` passes it
# through host/static-link.sh). Packed together, a start faults in a few dense pages of code
# instead of one scattered page, and the kernel's 64 KB of fault-around, per function
# (docs/PERFORMANCE.md, "Code layout"). Run from the repository root after a change to the paths
# an export takes, or after a toolchain update (`make static` prints how many of the listed
# functions it found exactly; few means the list is stale):
#   bench/layout.sh
# The order: every function a warm export runs (valgrind's callgrind: exact), then what a cold
# `export --no-cache` runs, sampled natively by perf over many runs (the guest's precompiled code
# loads only on the CPU it was compiled for, so under valgrind, which reports fewer CPU features,
# the cold path compiles the guest instead), then the rest of callgrind's cold list without that
# compiler. Names are exact symbols of the release build; host/link-order.sh matches them without
# rustc's hashes when a build's differ (another profile or compiler).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
work=$root/target/bench-layout
rm -rf "$work" && mkdir -p "$work"
for tool in valgrind perf; do
  command -v $tool >/dev/null || { echo "bench/layout.sh needs $tool (Debian: valgrind, linux-perf)" >&2; exit 1; }
done

make -s static >/dev/null
credbox=$root/target/release/credbox
cc -O2 -o "$work/helper" bench/helper.c
export AWS_CONFIG_FILE=$work/config AWS_SHARED_CREDENTIALS_FILE=$work/no-credentials CREDBOX_CACHE_DIR=$work/cache
printf '[profile fast]\ncredential_process = %s\n' "$work/helper" > "$AWS_CONFIG_FILE"
"$credbox" export --profile fast >/dev/null   # warm the cache

callgrind() { # name, then the credbox arguments
  local name=$1; shift
  valgrind -q --tool=callgrind --callgrind-out-file="$work/$name.callgrind" --dump-instr=no \
    --demangle=no --compress-strings=no --compress-pos=no "$credbox" "$@" >/dev/null 2>"$work/$name.valgrind.log"
}
callgrind warm export --profile fast
callgrind cold export --profile fast --no-cache
perf record -q -F 49999 -o "$work/cold.perf" -- sh -c \
  "for i in \$(seq 500); do '$credbox' export --profile fast --no-cache >/dev/null; done" 2>/dev/null
perf report -i "$work/cold.perf" --comm credbox --dso credbox --sort sym --stdio --no-demangle 2>/dev/null \
  | awk '$2 == "[.]" { print $3 }' > "$work/cold.sampled"

python3 - "$work" > host/hot-functions.txt <<'PY'
import re, sys
work = sys.argv[1]
# Cranelift and the wasm reader and translator run on the cold path only under valgrind (above).
compiler = re.compile(r"cranelift|regalloc2|wasmparser|wasmtime_environ..component..translate|wasmtime_environ..compile")

def called(path):
    for line in open(path, errors="replace"):
        if line.startswith(("fn=", "cfn=")):
            # callgrind marks recursion levels with 'N and unnamed code with its address
            name = re.sub(r"'\d+$", "", line.split("=", 1)[1].strip())
            if not name.startswith(("0x", "(")):
                yield name

sampled = [l.strip() for l in open(f"{work}/cold.sampled") if "+0x" not in l]
order = list(called(f"{work}/warm.callgrind")) + sampled
order += [n for n in called(f"{work}/cold.callgrind") if not compiler.search(n)]
print("\n".join(dict.fromkeys(order)))
PY
echo "host/hot-functions.txt: $(wc -l < host/hot-functions.txt) functions"
