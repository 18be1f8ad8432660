//! One-run comparison of decode throughput, ours against libwim's `wimlib_decompress`,
//! on the same real chunks, one core, alternating rounds. Prints MB/s and the ratio.
//!
//! `cargo bench --bench decode_vs_wimlib` (WIMKIT_BENCH_MB sets the corpus size, default 64;
//! WIMKIT_BENCH_ONLY=xpress runs only the plans whose name contains it).
mod common;

use std::time::{Duration, Instant};

use common::libwim::Libwim;
use common::{compress_chunks, ctype, machine_corpus, PLANS};
use wimkit::compress::Decompressor;

const ROUNDS: usize = 5;

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let mb: usize = std::env::var("WIMKIT_BENCH_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(64);
    let lib = Libwim::load();
    let corpus = machine_corpus(mb << 20);
    println!("corpus: {:.1} MiB of files from this machine, best of {ROUNDS} alternating rounds, one thread", corpus.len() as f64 / 1048576.0);
    println!(
        "{:<16} {:>10} {:>12} {:>12} {:>8}",
        "codec", "ratio", "wimkit MB/s", "wimlib MB/s", "speed"
    );
    let only = std::env::var("WIMKIT_BENCH_ONLY").unwrap_or_default();
    for (codec, chunk_size, name) in PLANS.into_iter().filter(|p| p.2.contains(&only)) {
        let set = compress_chunks(&lib, codec, chunk_size, &corpus);
        let packed: usize = set.chunks.iter().map(|c| c.0.len()).sum();
        let mut out = vec![0u8; chunk_size];
        let mut ours = Decompressor::new(codec, chunk_size).expect("decoder");
        let mut theirs = lib.decompressor(ctype(codec), chunk_size);
        // Check once that both give the same bytes before timing anything.
        let mut check = vec![0u8; chunk_size];
        for (chunk, len) in &set.chunks {
            ours.decompress(chunk, &mut out[..*len])
                .expect("wimkit decodes");
            assert!(
                theirs.decompress(chunk, &mut check[..*len]),
                "wimlib decodes"
            );
            assert!(out[..*len] == check[..*len], "{name}: outputs differ");
        }
        let (mut best_ours, mut best_theirs) = (Duration::MAX, Duration::MAX);
        for _ in 0..ROUNDS {
            let t = Instant::now();
            for (chunk, len) in &set.chunks {
                ours.decompress(chunk, &mut out[..*len])
                    .expect("wimkit decodes");
            }
            best_ours = best_ours.min(t.elapsed());
            let t = Instant::now();
            for (chunk, len) in &set.chunks {
                assert!(theirs.decompress(chunk, &mut out[..*len]));
            }
            best_theirs = best_theirs.min(t.elapsed());
        }
        let mbps = |d: Duration| set.uncompressed_bytes as f64 / 1e6 / d.as_secs_f64();
        println!(
            "{:<16} {:>9.1}% {:>12.1} {:>12.1} {:>7.2}x",
            name,
            100.0 * packed as f64 / set.uncompressed_bytes as f64,
            mbps(best_ours),
            mbps(best_theirs),
            mbps(best_ours) / mbps(best_theirs)
        );
    }
}
