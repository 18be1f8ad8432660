#!/usr/bin/env bash
# Copies about MB megabytes of this machine's files into DIR for the benchmarks:
# a quarter each from libraries, executables, shared data and headers.
#
#   scripts/make-bench-tree.sh DIR MB
set -euo pipefail
src=$1
mb=$2
mkdir -p "$src"
for dir in /usr/lib/x86_64-linux-gnu /usr/bin /usr/share /usr/include; do
    [[ -d $dir ]] || continue
    budget=$((mb * 1024 * 1024 / 4))
    while IFS= read -r -d '' f; do
        ((budget > 0)) || break
        rel=${f#/}
        mkdir -p "$src/$(dirname "$rel")"
        cp -P "$f" "$src/$rel" 2>/dev/null || continue
        budget=$((budget - $(stat -c %s "$f")))
    done < <(find "$dir" -type f -size -8M -print0 2>/dev/null)
done
