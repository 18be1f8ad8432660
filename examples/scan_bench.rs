//! Times `scan_health` on a WIM: `cargo run --release --example scan_bench -- FILE [THREADS]`
//! (compare with `wimlib-imagex verify FILE`).

use std::time::Instant;

use wimkit::format::{verify::scan_health, WimFile};

fn main() {
    let mut args = std::env::args().skip(1);
    let path = args.next().expect("usage: scan_bench FILE [THREADS]");
    let threads = args.next().map(|t| t.parse::<usize>().expect("THREADS"));
    let start = Instant::now();
    let file = WimFile::open(&path).unwrap_or_else(|e| panic!("{e}"));
    let wim = file.wim().unwrap_or_else(|e| panic!("{e}"));
    let report = scan_health(&wim, threads, &|_| {}).unwrap_or_else(|e| panic!("{e}"));
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{path}: {} blobs, {} bytes, {} damaged, {secs:.3} s ({:.0} MB/s), threads {threads:?}",
        report.blobs_checked,
        report.bytes,
        report.damaged.len(),
        report.bytes as f64 / secs / 1e6
    );
}
