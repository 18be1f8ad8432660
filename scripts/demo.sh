#!/usr/bin/env bash
# The main job on a small sample: wimlib-imagex captures a small tree (with UNIX
# data) in each compression, and wimkit's dism shows, checks and applies it; the
# applied tree is compared with the source. Needs wimtools (apt-get install wimtools).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v wimlib-imagex >/dev/null || { echo "demo: wimlib-imagex is needed to make the sample (apt-get install wimtools)"; exit 1; }
cargo build -q --release -p dism-cli
dism=$PWD/target/release/dism
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

src=$work/sample
mkdir -p "$src/docs/nested" "$src/bin"
cp /etc/services "$src/docs/services.txt" 2>/dev/null || seq 1 20000 >"$src/docs/services.txt"
seq 1 50000 >"$src/docs/nested/numbers.txt"
cp "$(command -v bash)" "$src/bin/"
ln -s ../docs/services.txt "$src/bin/services-link"
ln "$src/docs/nested/numbers.txt" "$src/docs/numbers-hardlink.txt"
chmod 0750 "$src/bin"

for compress in XPRESS LZX LZMS solid; do
    wim=$work/sample-$compress.wim
    if [[ $compress == solid ]]; then opts=(--solid); else opts=(--compress="$compress"); fi
    wimlib-imagex capture "$src" "$wim" "Sample $compress" --unix-data "${opts[@]}" >/dev/null
    echo "=== $compress: $(stat -c %s "$wim") bytes"
    "$dism" /Get-ImageInfo "/ImageFile:$wim" /Index:1 /LogPath:"$work/dism.log" | sed -n '/^Index/,/^Files/p'
    "$dism" /Cleanup-Image "/ImageFile:$wim" /ScanHealth /Quiet /LogPath:"$work/dism.log"
    "$dism" /Apply-Image "/ImageFile:$wim" /Index:1 "/ApplyDir:$work/applied-$compress" /Quiet /LogPath:"$work/dism.log"
    diff -r --no-dereference "$src" "$work/applied-$compress"
    # WIM times have 100 ns resolution: compare mtimes to 7 decimals.
    listing() { (cd "$1" && find . -printf '%p %y %m %U:%G %T@\n' | sed -E 's/([0-9]+\.[0-9]{7})[0-9]*$/\1/' | sort); }
    diff <(listing "$src") <(listing "$work/applied-$compress")
    echo "applied: identical to the source tree (contents, names, links, modes, owners, mtimes)"
done
echo "demo: all four compressions captured by wimlib were read, checked and applied by wimkit"
