#!/usr/bin/env bash
# Whole-process comparison of wimkit's dism with wimlib-imagex on the same WIMs,
# alternating runs, best of ROUNDS wall-clock times, printed as ratios (ours/wimlib).
#
#   scripts/bench-vs-wimlib.sh [MB] [ROUNDS]     (default: 300 MB tree, 3 rounds)
#
# The tree is copied from /usr (libraries, binaries, documentation); it is captured
# by wimlib with XPRESS, LZX, LZMS and LZMS solid. Work files go under $TMPDIR.
set -euo pipefail
cd "$(dirname "$0")/.."
mb=${1:-300}
rounds=${2:-3}
cargo build -q --release -p dism-cli
dism=$PWD/target/release/dism
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# A mixed tree of about $mb MB.
src=$work/tree
scripts/make-bench-tree.sh "$src" "$mb"
echo "tree: $(du -sm "$src" | cut -f1) MB, $(find "$src" -type f | wc -l) files; best of $rounds alternating rounds; $(nproc) cores"

seconds() { # command... -> wall seconds of one run
    local TIMEFORMAT=%R
    { time "$@" >/dev/null 2>&1; } 2>&1
}
min() { awk -v a="$1" -v b="$2" 'BEGIN { print (b < a ? b : a) }'; }

printf '%-8s %-32s %8s %8s %7s\n' codec operation wimlib wimkit ratio
for codec in XPRESS LZX LZMS solid; do
    wim=$work/$codec.wim
    if [[ $codec == solid ]]; then opts=(--solid); else opts=(--compress="$codec"); fi
    wimlib-imagex capture "$src" "$wim" bench "${opts[@]}" >/dev/null
    row() { printf '%-8s %-32s %8s %8s %7.2f\n' "$codec" "$1" "$2" "$3" "$(awk -v a="$2" -v b="$3" 'BEGIN { print b / a }')"; }
    # Alternate the tools round by round so that load affects both alike.
    verify=999999 scan=999999 scan_one=999999 apply_theirs=999999 apply_ours=999999
    for ((r = 0; r < rounds; r++)); do
        verify=$(min "$verify" "$(seconds wimlib-imagex verify "$wim")")
        scan=$(min "$scan" "$(seconds "$dism" /Cleanup-Image "/ImageFile:$wim" /ScanHealth /Quiet "/LogPath:$work/log")")
        scan_one=$(min "$scan_one" "$(seconds "$dism" /Cleanup-Image "/ImageFile:$wim" /ScanHealth /Threads:1 /Quiet "/LogPath:$work/log")")
        rm -rf "$work/a"
        apply_theirs=$(min "$apply_theirs" "$(seconds wimlib-imagex apply "$wim" 1 "$work/a")")
        rm -rf "$work/a"
        apply_ours=$(min "$apply_ours" "$(seconds "$dism" /Apply-Image "/ImageFile:$wim" /Index:1 "/ApplyDir:$work/a" /Quiet "/LogPath:$work/log")")
        rm -rf "$work/a"
    done
    row "verify / ScanHealth" "$verify" "$scan"
    row "verify / ScanHealth /Threads:1" "$verify" "$scan_one"
    row "apply / Apply-Image" "$apply_theirs" "$apply_ours"
    rm -f "$wim"
done
