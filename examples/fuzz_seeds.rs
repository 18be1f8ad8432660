//! Writes seed inputs for the fuzz targets (decoders, compression, containers): real chunks that wimlib
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
    compress_seeds(&root, &inputs);
    container_seeds(&root);
}

/// Pieces of the same inputs for the compression round-trip target, each codec
/// at a few levels (see `fuzzing::split_compress_input` for the layout).
fn compress_seeds(root: &std::path::Path, inputs: &[Vec<u8>]) {
    let dir = root.join("compress_roundtrip");
    std::fs::create_dir_all(&dir).expect("create corpus directory");
    let mut written = 0;
    for (n, input) in inputs.iter().enumerate() {
        for codec in 0..3u8 {
            for level in [19u8, 49, 99] {
                let mut seed = vec![codec, level, 0];
                seed.extend_from_slice(&input[..input.len().min(32 * 1024)]);
                std::fs::write(dir.join(format!("{codec}-{level}-{n}")), seed).expect("write seed");
                written += 1;
            }
        }
    }
    println!("compress_roundtrip: {written} seeds in {}", dir.display());
}

/// Small WIMs that wimlib-imagex captures in every compression, for the whole-file
/// target, and their metadata resources for the metadata target.
fn container_seeds(root: &std::path::Path) {
    let work = std::env::temp_dir().join(format!("wimkit-fuzz-seeds-{}", std::process::id()));
    let src = work.join("src");
    std::fs::create_dir_all(src.join("dir/sub")).expect("create seed tree");
    std::fs::write(src.join("a.txt"), "some text\n".repeat(50)).expect("write");
    std::fs::write(src.join("dir/b.bin"), make(Kind::X86, 5000, 3)).expect("write");
    std::fs::write(src.join("dir/sub/c"), b"").expect("write");
    let _ = std::os::unix::fs::symlink("../a.txt", src.join("dir/link"));
    let _ = std::fs::hard_link(src.join("a.txt"), src.join("dir/hard"));
    let (wims, metas) = (root.join("open_wim"), root.join("parse_metadata"));
    std::fs::create_dir_all(&wims).expect("create corpus directory");
    std::fs::create_dir_all(&metas).expect("create corpus directory");
    let variants: [&[&str]; 6] = [
        &["--compress=none"],
        &["--compress=XPRESS"],
        &["--compress=LZX"],
        &["--compress=LZMS"],
        &["--solid"],
        &["--compress=XPRESS", "--unix-data", "--check"],
    ];
    for (n, extra) in variants.iter().enumerate() {
        let wim = work.join(format!("seed{n}.wim"));
        let status = std::process::Command::new("wimlib-imagex")
            .arg("capture")
            .arg(&src)
            .arg(&wim)
            .args(*extra)
            .stdout(std::process::Stdio::null())
            .status()
            .expect("wimlib-imagex is required (apt-get install wimtools)");
        assert!(status.success(), "wimlib-imagex capture {extra:?} failed");
        let bytes = std::fs::read(&wim).expect("read seed WIM");
        std::fs::write(wims.join(format!("wimlib-{n}")), &bytes).expect("write seed");
        if let Ok(parsed) = wimkit::format::Wim::parse(&bytes) {
            let mut reader = parsed.reader();
            for (i, blob) in parsed.blob_table.metadata_blobs().enumerate() {
                if let Ok(data) = reader.read_blob(blob) {
                    std::fs::write(metas.join(format!("wimlib-{n}-{i}")), data)
                        .expect("write seed");
                }
            }
        }
    }
    println!("open_wim, parse_metadata: {} WIMs", variants.len());
    let _ = std::fs::remove_dir_all(work);
}
