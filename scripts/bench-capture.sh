#!/usr/bin/env bash
# Whole-process comparison of capture: dism /Capture-Image against
# wimlib-imagex capture (both storing UNIX data) on the same tree, alternating
# runs, best of ROUNDS wall-clock times; output size, time, CPU time (user +
# system, of the run with the best wall time) and peak memory as ratios
# (ours/wimlib), for fast (XPRESS), max (LZX), lzms and recovery (solid).
#
#   scripts/bench-capture.sh [MB] [ROUNDS]     (default: 300 MB tree, 2 rounds)
#   KINDS="max lzms" scripts/bench-capture.sh  (only those /Compress values)
#
# Work files go under $TMPDIR (put it on tmpfs to take the disk out of it).
set -euo pipefail
cd "$(dirname "$0")/.."
mb=${1:-300}
rounds=${2:-2}
cargo build -q --release -p dism-cli
dism=$PWD/target/release/dism
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
src=$work/tree
scripts/make-bench-tree.sh "$src" "$mb"
echo "tree: $(du -sm "$src" | cut -f1) MB, $(find "$src" -type f | wc -l) files; best of $rounds alternating rounds; $(nproc) cores"

# run OUT command... -> "seconds maxrss_kb cpu_seconds" of one run (OUT is
# removed first)
measure() {
    local out=$1
    shift
    rm -f "$out"
    /usr/bin/time -f '%e %M %U %S' -o "$work/time" "$@" >/dev/null 2>&1
    awk '{ printf "%s %s %.2f\n", $1, $2, $3 + $4 }' "$work/time"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b / a }'; }

printf '%-9s | %12s %12s %6s | %7s %7s %6s | %6s %6s %6s | %8s %8s %6s\n' \
    compress "wimlib bytes" "wimkit bytes" size "wimlib s" "wimkit s" time "cpu s" "cpu s" cpu "wimlib MB" "wimkit MB" memory
for kind in ${KINDS:-fast max lzms recovery}; do
    case $kind in
    fast) theirs=(--compress=XPRESS) ;;
    max) theirs=(--compress=LZX) ;;
    lzms) theirs=(--compress=LZMS) ;;
    recovery) theirs=(--solid) ;;
    esac
    t_best=999999 o_best=999999 t_mem=0 o_mem=0 t_cpu=0 o_cpu=0
    for ((r = 0; r < rounds; r++)); do
        read -r t m c < <(measure "$work/theirs.wim" wimlib-imagex capture "$src" "$work/theirs.wim" bench --unix-data "${theirs[@]}")
        if awk -v a="$t_best" -v b="$t" 'BEGIN { exit !(b < a) }'; then t_best=$t t_cpu=$c; fi
        t_mem=$m
        read -r t m c < <(measure "$work/ours.wim" "$dism" /Capture-Image "/ImageFile:$work/ours.wim" "/CaptureDir:$src" /Name:bench "/Compress:$kind" /Quiet "/LogPath:$work/log")
        if awk -v a="$o_best" -v b="$t" 'BEGIN { exit !(b < a) }'; then o_best=$t o_cpu=$c; fi
        o_mem=$m
    done
    t_size=$(stat -c %s "$work/theirs.wim")
    o_size=$(stat -c %s "$work/ours.wim")
    printf '%-9s | %12s %12s %6s | %7s %7s %6s | %6s %6s %6s | %8s %8s %6s\n' "$kind" \
        "$t_size" "$o_size" "$(ratio "$t_size" "$o_size")" \
        "$t_best" "$o_best" "$(ratio "$t_best" "$o_best")" \
        "$t_cpu" "$o_cpu" "$(ratio "$t_cpu" "$o_cpu")" \
        "$((t_mem / 1024))" "$((o_mem / 1024))" "$(ratio "$t_mem" "$o_mem")"
    wimlib-imagex verify "$work/ours.wim" >/dev/null 2>&1 || { echo "wimlib-imagex verify rejects our $kind capture"; exit 1; }
done
