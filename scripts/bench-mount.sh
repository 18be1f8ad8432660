#!/usr/bin/env bash
# Speed of mounted images (one run each; needs root, /dev/fuse and wimtools):
#
# 1. Reading the whole tree of a mounted LZMS-solid WIM (tar of every file, piped
#    into wc so that tar really reads the data) with wimkit's `dism /Mount-Image
#    /ReadOnly` against `wimlib-imagex mount` of the same file. Target: <= 0.2x.
# 2. Sequential read of one large file of a mounted LZX WIM against the throughput
#    of `dism /Apply-Image` of the same image. Target: within 1.5x.
#
#   scripts/bench-mount.sh [MB] [BIG_MB]     (default: 200 MB tree, 256 MB large file)
#
# The WIM files are read once before each measurement, so that both sides start
# from the page cache and neither has decompressed anything yet.
set -euo pipefail
cd "$(dirname "$0")/.."
mb=${1:-200}
big_mb=${2:-256}
cargo build -q --release -p dism-cli
dism=${CARGO_TARGET_DIR:-$PWD/target}/release/dism
work=$(mktemp -d)
export WIMKIT_MOUNT_REGISTRY=$work/registry
cleanup() {
    for m in "$work"/mnt-*; do
        mountpoint -q "$m" 2>/dev/null && { fusermount3 -u "$m" 2>/dev/null || umount -l "$m"; }
    done
    for f in "$WIMKIT_MOUNT_REGISTRY"/*.mount; do
        [[ -e $f ]] || continue
        pid=$(sed -n 's/^pid=//p' "$f")
        [[ -n $pid && $pid != 0 ]] && kill "$pid" 2>/dev/null || true
    done
    rm -rf "$work"
}
trap cleanup EXIT

seconds() { # command... -> wall seconds of one run
    local TIMEFORMAT=%R
    { time "$@" >/dev/null 2>&1; } 2>&1
}
tar_tree() { tar -C "$1" -cf - . | wc -c >/dev/null; }
warm() { cat "$1" >/dev/null; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }
mbps() { awk -v s="$1" -v t="$2" 'BEGIN { printf "%.0f", s / 1048576 / t }'; }

src=$work/tree
scripts/make-bench-tree.sh "$src" "$mb"
echo "tree: $(du -sm "$src" | cut -f1) MB, $(find "$src" -type f | wc -l) files; $(nproc) cores"

# 2. One large file of an LZX WIM.
big=$work/big
mkdir "$big"
while (($(stat -c %s "$big/large.bin" 2>/dev/null || echo 0) < big_mb * 1048576)); do
    find "$src" -type f -print0 | xargs -0 cat >>"$big/large.bin"
done
truncate -s $((big_mb * 1048576)) "$big/large.bin"
lzx=$work/lzx.wim
wimlib-imagex capture "$big" "$lzx" big --compress=lzx >/dev/null
size=$(stat -c %s "$big/large.bin")
warm "$lzx"
apply=$(seconds "$dism" /Apply-Image "/ImageFile:$lzx" /Index:1 "/ApplyDir:$work/applied" /Quiet /LogPath:"$work/dism.log")
rm -rf "$work/applied"
mkdir "$work/mnt-big"
warm "$lzx"
"$dism" /Mount-Image "/ImageFile:$lzx" /Index:1 "/MountDir:$work/mnt-big" /ReadOnly /Quiet /LogPath:"$work/dism.log"
read=$(seconds dd if="$work/mnt-big/large.bin" of=/dev/null bs=1M)
"$dism" /Unmount-Image "/MountDir:$work/mnt-big" /Discard /Quiet /LogPath:"$work/dism.log"
echo "LZX, one ${big_mb} MB file: /Apply-Image $(mbps "$size" "$apply") MB/s (${apply}s), mounted sequential read $(mbps "$size" "$read") MB/s (${read}s), time ratio $(ratio "$read" "$apply") (target <= 1.5)"

# 1. Whole tree of a solid WIM.
solid=$work/solid.wim
wimlib-imagex capture "$src" "$solid" solid --solid >/dev/null
mkdir "$work/mnt-ours" "$work/mnt-wimlib"
warm "$solid"
"$dism" /Mount-Image "/ImageFile:$solid" /Index:1 "/MountDir:$work/mnt-ours" /ReadOnly /Quiet /LogPath:"$work/dism.log"
ours=$(seconds tar_tree "$work/mnt-ours")
"$dism" /Unmount-Image "/MountDir:$work/mnt-ours" /Discard /Quiet /LogPath:"$work/dism.log"
echo "solid LZMS, tar of the mounted tree: wimkit ${ours}s"
warm "$solid"
wimlib-imagex mount "$solid" 1 "$work/mnt-wimlib" 2>/dev/null
# wimlib decompresses a solid resource from its start for every read: it can take
# very long, so it is stopped after WIMLIB_LIMIT seconds (the ratio is then an upper bound).
limit=${WIMLIB_LIMIT:-600}
export -f tar_tree
theirs=$(seconds timeout "$limit" bash -c 'tar_tree "$1"' _ "$work/mnt-wimlib") || true
wimlib-imagex unmount "$work/mnt-wimlib" 2>/dev/null || umount -l "$work/mnt-wimlib"
if awk -v t="$theirs" -v l="$limit" 'BEGIN { exit !(t >= l - 1) }'; then
    echo "solid LZMS, tar of the mounted tree: wimkit ${ours}s, wimlib > ${limit}s (stopped), ratio < $(ratio "$ours" "$limit") (target <= 0.2)"
else
    echo "solid LZMS, tar of the mounted tree: wimkit ${ours}s, wimlib ${theirs}s, ratio $(ratio "$ours" "$theirs") (target <= 0.2)"
fi

