#!/usr/bin/env bash
# Applies every image of every WIM in a folder with wimkit's dism and with
# wimlib-imagex, and compares the two trees (names, types, contents, symlink
# targets). Where wimlib refuses a file, dism must refuse it too. Then dism
# exports each image (recompressed: LZX, XPRESS, LZMS or solid in turn) and
# the copy must pass wimlib-imagex verify and 7zz t and apply to the same tree.
#
#   scripts/corpus-check.sh [DIR]     (default: ../shared/corpus)
#
# Exit status 0 only if every image agrees. DISM is the release build of this checkout.
set -uo pipefail
cd "$(dirname "$0")/.."
dir=${1:-../shared/corpus}
[[ -d $dir ]] || { echo "corpus-check: no folder $dir"; exit 1; }
cargo build -q --release -p dism-cli || exit 1
dism=$PWD/target/release/dism
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
matched=0 refused=0 mismatched=0 exported=0
compressions=(max fast lzms recovery)

# Image count, from wimlib (or nothing when wimlib cannot read the file).
count_images() { wimlib-imagex info "$1" 2>/dev/null | awk -F: '/^Image Count/ {gsub(/ /, "", $2); print $2}'; }

check() { # file, [split pattern]
    local file=$1 pattern=${2:-} ref=() swm=() n
    if [[ -n $pattern ]]; then ref=(--ref="$pattern"); swm=("/SWMFile:$pattern"); fi
    n=$(count_images "$file")
    if [[ -z $n ]]; then
        # wimlib cannot read it at all: dism must refuse it too.
        rm -rf "$work/t"
        if "$dism" /Get-ImageInfo "/ImageFile:$file" /Quiet >/dev/null 2>&1 &&
           "$dism" /Apply-Image "/ImageFile:$file" "${swm[@]}" /Index:1 "/ApplyDir:$work/t" /Quiet >/dev/null 2>&1; then
            echo "MISMATCH $file: wimlib refuses it, dism accepted it"; ((mismatched++))
        else
            echo "refused  $file (as wimlib)"; ((refused++))
        fi
        return
    fi
    for ((i = 1; i <= n; i++)); do
        # Both tools apply to the same path: absolute link targets are fixed up to it.
        rm -rf "$work/theirs" "$work/ours" "$work/t"
        if ! wimlib-imagex apply "$file" "$i" "$work/t" "${ref[@]}" >/dev/null 2>"$work/err"; then
            if "$dism" /Apply-Image "/ImageFile:$file" "${swm[@]}" "/Index:$i" "/ApplyDir:$work/t" /Quiet >/dev/null 2>&1; then
                echo "MISMATCH $file image $i: wimlib's apply fails ($(head -c 120 "$work/err")), dism's succeeded"; ((mismatched++))
            else
                echo "refused  $file image $i (as wimlib)"; ((refused++))
            fi
            continue
        fi
        mv "$work/t" "$work/theirs"
        if ! "$dism" /Apply-Image "/ImageFile:$file" "${swm[@]}" "/Index:$i" "/ApplyDir:$work/t" /Quiet >"$work/out" 2>&1; then
            echo "MISMATCH $file image $i: dism failed: $(tr '\n' ' ' <"$work/out" | head -c 300)"; ((mismatched++))
            continue
        fi
        mv "$work/t" "$work/ours"
        if diff -r --no-dereference "$work/theirs" "$work/ours" >"$work/diff" 2>&1; then
            echo "match    $file image $i"; ((matched++))
        else
            echo "MISMATCH $file image $i:"; head -5 "$work/diff"; ((mismatched++))
            continue
        fi
        export_check "$file" "$i" "${compressions[$((exported % 4))]}" "${swm[@]}"
    done
}

export_check() { # file, index, compression, [/SWMFile:pattern]: dism's export must verify and apply alike
    local file=$1 i=$2 compress=$3 out=$work/export.wim
    shift 3
    [[ $compress == recovery ]] && out=$work/export.esd
    rm -rf "$work/export.wim" "$work/export.esd" "$work/t"
    if ! "$dism" /Export-Image "/SourceImageFile:$file" "$@" "/SourceIndex:$i" "/DestinationImageFile:$out" \
        "/Compress:$compress" /Quiet >"$work/out" 2>&1; then
        echo "MISMATCH $file image $i: export ($compress) failed: $(tr '\n' ' ' <"$work/out" | head -c 300)"; ((mismatched++))
        return
    fi
    if ! wimlib-imagex verify "$out" >"$work/out" 2>&1 || ! 7zz t "$out" >>"$work/out" 2>&1; then
        echo "MISMATCH $file image $i: export ($compress) rejected: $(grep -i -m3 'error\|fail' "$work/out" | tr '\n' ' ')"; ((mismatched++))
        return
    fi
    # Every stored property wimlib shows (names, short names, attributes, security
    # descriptors, times, streams and their hashes, reparse data) is the source's;
    # only where and how the data is stored may differ.
    local where='^(Compressed size|Offset in WIM|Part Number|Reference Count|Flags|Link Group ID|Solid resource|Solid offset) '
    wimlib-imagex dir "$file" "$i" --detailed "${ref[@]}" 2>/dev/null | grep -Ev "$where" >"$work/dir-source"
    wimlib-imagex dir "$out" 1 --detailed 2>/dev/null | grep -Ev "$where" >"$work/dir-export"
    if ! diff "$work/dir-source" "$work/dir-export" >"$work/diff"; then
        echo "MISMATCH $file image $i: export ($compress) changed metadata:"; head -6 "$work/diff"; ((mismatched++))
        return
    fi
    wimlib-imagex apply "$out" 1 "$work/t" >/dev/null 2>&1 || { echo "MISMATCH $file image $i: export ($compress) does not apply"; ((mismatched++)); return; }
    if diff -r --no-dereference "$work/theirs" "$work/t" >"$work/diff" 2>&1; then
        echo "exported $file image $i ($compress)"; ((exported++))
    else
        echo "MISMATCH $file image $i: export ($compress) applies differently:"; head -5 "$work/diff"; ((mismatched++))
    fi
}

while IFS= read -r -d '' file; do
    case $file in
        *.swm)
            # A split set is checked once, from its first part, with every part as the pattern.
            base=${file%.swm}
            [[ $base =~ [0-9]$ ]] && continue
            check "$file" "${base}*.swm"
            ;;
        *) check "$file" ;;
    esac
done < <(find "$dir" -type f \( -iname '*.wim' -o -iname '*.esd' -o -iname '*.swm' -o -iname '*.ppkg' \) -print0 | sort -z)

echo "corpus-check: $matched images matched wimlib, $refused refused as wimlib refuses them, $exported exported and checked, $mismatched mismatched"
((mismatched == 0))
