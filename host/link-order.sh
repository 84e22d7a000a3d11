#!/bin/sh
# Turns host/hot-functions.txt (bench/layout.sh) into a symbol ordering file for the credbox binary
# at $1, written to stdout: each listed function's exact symbol when this build has it, else every
# symbol of the same name without rustc's hash (another profile or compiler version hashes
# differently; generic functions then match all their instances, which is still close). Prints
# how many matched exactly to stderr, so a stale list shows. `make static` links with the result.
set -eu
binary=$1
list=$(dirname "$0")/hot-functions.txt
nm --defined-only "$binary" | awk -v list="$list" '
  function base(name) { sub(/\.llvm\.[0-9]+$/, "", name); sub(/17h[0-9a-f]+E$/, "", name); return name }
  BEGIN { while ((getline name < list) > 0) { wanted++; if (!(name in rank)) rank[name] = wanted } }
  NF == 3 { if ($3 in rank) { exact[$3] = 1; print rank[$3], $3 } else { loose[base($3)] = loose[base($3)] " " $3 } }
  END {
    for (name in rank) if (!(name in exact) && (base(name) in loose)) {
      n = split(loose[base(name)], symbols, " "); for (i = 1; i <= n; i++) print rank[name], symbols[i]
    }
    printf "link-order: %d of %d hot functions found exactly\n", length(exact), wanted > "/dev/stderr"
  }' | sort -n -s -k1,1 | cut -d" " -f2
