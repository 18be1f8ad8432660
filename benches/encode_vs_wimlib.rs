//! One-run comparison of compression, ours against libwim's `wimlib_compress`,
//! on the same chunks of this machine's files: output size and one-core
//! throughput, at wimlib's levels 20, 50 (default) and 100, each codec at its
//! WIM default chunk size and LZMS also as a solid resource.
//!
//! `cargo bench --bench encode_vs_wimlib` (WIMKIT_BENCH_MB sets the corpus
//! size, default 64; WIMKIT_BENCH_ONLY=lzx runs only that codec;
//! WIMKIT_BENCH_LEVELS=50 only those levels; WIMKIT_BENCH_ROUNDS, default 3).
//! `cargo run --release --example encode_compare -- --help` runs single plans.
mod common;

use common::encode::{codec_name, compare_all, corpus};
use common::libwim::Libwim;
use wimkit::compress::Codec;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let data = corpus(env_or("WIMKIT_BENCH_MB", 64));
    let rounds = env_or("WIMKIT_BENCH_ROUNDS", 3);
    let only = std::env::var("WIMKIT_BENCH_ONLY").unwrap_or_default();
    let levels: Vec<u32> = std::env::var("WIMKIT_BENCH_LEVELS")
        .unwrap_or_else(|_| "20,50,100".into())
        .split(',')
        .filter_map(|l| l.trim().parse().ok())
        .collect();
    let lib = Libwim::load();
    let plans = [
        (Codec::Xpress, 32 << 10),
        (Codec::Lzx, 32 << 10),
        (Codec::Lzms, 128 << 10),
        (Codec::Lzms, 64 << 20),
    ];
    let plans: Vec<(Codec, usize)> = plans
        .into_iter()
        .filter(|(codec, _)| codec_name(*codec).contains(only.as_str()))
        .collect();
    compare_all(&lib, &data, &plans, &levels, rounds);
}
