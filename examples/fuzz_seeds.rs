//! Writes seed inputs for the decoder fuzz targets: real chunks that wimlib
//! (libwim.so.15) compresses from files on this machine and from generated data.
//!
//! `cargo run --example fuzz_seeds -- fuzz/corpus`
#[path = "../tests/support/mod.rs"]
mod support;

use std::path::PathBuf;

use support::data::{make, real_files, Kind};
use support::libwim::{CType, Libwim};
use wimkit::compress::{fuzzing, Codec};

fn main() {
    let root = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "fuzz/corpus".into()),
    );
    let lib = Libwim::load();
    let mut inputs: Vec<Vec<u8>> = real_files(256 * 1024).into_iter().map(|(_, d)| d).collect();
    for (i, kind) in [
        Kind::Text,
        Kind::X86,
        Kind::Repetitive,
        Kind::Ramp,
        Kind::Random,
    ]
    .into_iter()
    .enumerate()
    {
        inputs.push(make(kind, 200_000, i as u64 + 1));
    }
    let plans = [
        (
            "decode_xpress",
            Codec::Xpress,
            CType::Xpress,
            vec![4096usize, 32768, 65536],
        ),
        (
            "decode_lzx",
            Codec::Lzx,
            CType::Lzx,
            vec![32768, 65536, 1 << 20],
        ),
        (
            "decode_lzms",
            Codec::Lzms,
            CType::Lzms,
            vec![32768, 1 << 17, 1 << 20],
        ),
    ];
    for (target, codec, ctype, sizes) in plans {
        let dir = root.join(target);
        std::fs::create_dir_all(&dir).expect("create corpus directory");
        let mut written = 0;
        for &chunk in &sizes {
            for level in [1, 50, 100] {
                let mut c = lib.compressor(ctype, chunk, level);
                for (n, input) in inputs.iter().enumerate() {
                    let piece = &input[..input.len().min(chunk)];
                    let Some(packed) = c.compress(piece) else {
                        continue;
                    };
                    let Some(seed) = fuzzing::join_input(codec, chunk, piece.len(), &packed) else {
                        continue;
                    };
                    std::fs::write(dir.join(format!("{chunk}-{level}-{n}")), seed)
                        .expect("write seed");
                    written += 1;
                }
            }
        }
        println!("{target}: {written} seeds in {}", dir.display());
    }
}
