#!/bin/sh
# Turns host/hot-functions.txt (bench/layout.sh) into a symbol ordering file for the credbox binary
# at $1, written to stdout: each listed function's exact symbol when this build has it, else every
# symbol with the same name once rustc's hashes are taken out (another profile or compiler version
# hashes differently; a generic function then matches all its instances, which is still close).
# Prints how many matched exactly to stderr, so a stale list shows; fails when nm does, or when no
# Rust function matched at all. host/static-link.sh links with the result.
set -eu
binary=$1
list=$(dirname "$0")/hot-functions.txt
symbols=$(mktemp) ranked=$(mktemp)
trap 'rm -f "$symbols" "$ranked"' EXIT
nm --defined-only "$binary" > "$symbols"
awk -v list="$list" -v binary="$binary" '
  # Without: the legacy hash (17h...E), a local-symbol suffix after it (.llvm.N or .N), and the
  # crate disambiguators of v0 mangling (Cs..._).
  function base(name) {
    sub(/\.llvm\.[0-9]+$/, "", name); sub(/E\.[0-9]+$/, "E", name); sub(/17h[0-9a-f]+E$/, "", name)
    gsub(/Cs[0-9A-Za-z]+_/, "Cs_", name); return name
  }
  BEGIN { while ((getline name < list) > 0) { wanted++; if (!(name in rank)) rank[name] = wanted } }
  NF == 3 {
    if ($3 in rank) { found[$3] = 1; exact++; print rank[$3], $3; if ($3 ~ /^_[ZR]/) rust++ }
    else loose[base($3)] = loose[base($3)] " " $3
  }
  END {
    for (name in rank) if (!(name in found) && (base(name) in loose)) {
      n = split(loose[base(name)], matches, " ")
      for (i = 1; i <= n; i++) { print rank[name], matches[i]; if (name ~ /^_[ZR]/) rust++ }
    }
    printf "link-order: %d of %d hot functions found exactly\n", exact, wanted > "/dev/stderr"
    if (!rust) { print "link-order: no Rust function of the list is in " binary > "/dev/stderr"; exit 1 }
  }' "$symbols" > "$ranked"
sort -n -s -k1,1 "$ranked" | awk '!seen[$2]++ { print $2 }'
