#!/usr/bin/env bash
# Every check wimkit has, on a fresh machine: installs what the tests need
# (Debian packages wimtools, libwim15, 7zip, fuse3, attr; the windows-gnu target;
# cargo-fuzz), then formatting, clippy, all tests, the Windows type-check and a
# bounded run of every fuzz target. FUZZ_SECONDS sets the time per target.
set -euo pipefail
cd "$(dirname "$0")/.."
FUZZ_SECONDS=${FUZZ_SECONDS:-45}

step() { printf '\n=== %s\n' "$*"; }

step "install test dependencies"
missing=()
for pkg in wimtools libwim15 7zip fuse3 attr; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
if ((${#missing[@]})); then
    sudo=; [[ $(id -u) == 0 ]] || sudo=sudo
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
fi
rustup target list --installed | grep -qx x86_64-pc-windows-gnu || rustup target add x86_64-pc-windows-gnu
rustup toolchain list | grep -q '^nightly' || { echo "cargo fuzz needs a nightly toolchain (rustup toolchain install nightly)"; exit 1; }
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked

step "format"
cargo fmt --all -- --check

step "clippy"
cargo clippy --workspace --all-targets -- -D warnings

step "tests"
cargo test --workspace --profile ci

step "corpus: every image of ../shared/corpus applied by dism and by wimlib-imagex"
scripts/corpus-check.sh ../shared/corpus

step "windows type-check"
cargo check --workspace --target x86_64-pc-windows-gnu

step "fuzz (${FUZZ_SECONDS}s per target)"
cargo run -q --profile ci --example fuzz_seeds -- fuzz/corpus
targets=$(cd fuzz && cargo +nightly fuzz list)
(cd fuzz && cargo +nightly fuzz build -O)
for target in $targets; do
    mkdir -p "fuzz/corpus/$target"
    (cd fuzz && cargo +nightly fuzz run -O "$target" "corpus/$target" "regressions/$target" -- \
        -max_total_time="$FUZZ_SECONDS" -rss_limit_mb=2048 -timeout=20 -print_final_stats=1 2>&1 | tail -n 3) \
        || { echo "fuzz target $target found a failure: see fuzz/artifacts/$target"; exit 1; }
done
echo "fuzz: $(wc -w <<<"$targets") targets ran ${FUZZ_SECONDS}s each without a failure"
