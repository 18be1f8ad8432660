//! Real chunks for the decode benchmarks: files from this machine (libraries,
//! binaries, text) cut into chunks and compressed by wimlib at its default level.
#![allow(dead_code)]

#[path = "../../tests/support/libwim.rs"]
pub mod libwim;

pub mod encode;

use std::path::Path;

use libwim::{CType, Libwim};
use wimkit::compress::Codec;

/// Up to `limit` bytes of real files: shared libraries, executables and text, interleaved.
pub fn machine_corpus(limit: usize) -> Vec<u8> {
    let roots = [
        "/usr/lib/x86_64-linux-gnu",
        "/usr/bin",
        "/usr/share/doc",
        "/usr/share/perl",
        "/usr/include",
    ];
    let mut files = Vec::new();
    for root in roots {
        collect(Path::new(root), &mut files, 4);
    }
    files.sort();
    // Interleave the roots so that a small limit still mixes binaries and text.
    let mut by_root: Vec<Vec<&std::path::PathBuf>> = roots
        .iter()
        .map(|r| files.iter().filter(|f| f.starts_with(r)).collect())
        .collect();
    let mut out = Vec::with_capacity(limit);
    'outer: loop {
        let mut any = false;
        for list in &mut by_root {
            if let Some(path) = list.pop() {
                any = true;
                if let Ok(data) = std::fs::read(path) {
                    out.extend_from_slice(&data[..data.len().min(4 << 20)]);
                    if out.len() >= limit {
                        break 'outer;
                    }
                }
            }
        }
        if !any {
            break;
        }
    }
    out.truncate(limit);
    out
}

fn collect(dir: &Path, files: &mut Vec<std::path::PathBuf>, depth: u32) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() && depth > 0 {
            collect(&entry.path(), files, depth - 1);
        } else if kind.is_file() {
            files.push(entry.path());
        }
    }
}

/// A set of compressed chunks with their uncompressed sizes.
pub struct Chunks {
    pub codec: Codec,
    pub chunk_size: usize,
    /// (compressed chunk, uncompressed size); chunks that did not shrink are left out,
    /// as a WIM stores them raw.
    pub chunks: Vec<(Vec<u8>, usize)>,
    pub uncompressed_bytes: usize,
}

pub fn ctype(codec: Codec) -> CType {
    match codec {
        Codec::Xpress => CType::Xpress,
        Codec::Lzx => CType::Lzx,
        Codec::Lzms => CType::Lzms,
    }
}

pub fn compress_chunks(lib: &Libwim, codec: Codec, chunk_size: usize, data: &[u8]) -> Chunks {
    let mut c = lib.compressor(ctype(codec), chunk_size, 50);
    let chunks: Vec<(Vec<u8>, usize)> = data
        .chunks(chunk_size)
        .filter_map(|piece| c.compress(piece).map(|p| (p, piece.len())))
        .collect();
    let uncompressed_bytes = chunks.iter().map(|c| c.1).sum();
    Chunks {
        codec,
        chunk_size,
        chunks,
        uncompressed_bytes,
    }
}

/// The chunk sizes benchmarked: each codec's WIM default, and LZMS as in solid resources.
pub const PLANS: [(Codec, usize, &str); 4] = [
    (Codec::Xpress, 32 * 1024, "xpress-32k"),
    (Codec::Lzx, 32 * 1024, "lzx-32k"),
    (Codec::Lzms, 128 * 1024, "lzms-128k"),
    (Codec::Lzms, 16 << 20, "lzms-solid-16m"),
];
