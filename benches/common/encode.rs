//! Compression against libwim's `wimlib_compress` on the same chunks: size and
//! one-core throughput of both, alternating rounds, and a round-trip check of
//! every chunk we produce through our decoder and wimlib's before any timing.

use std::time::{Duration, Instant};

use super::libwim::Libwim;
use super::{ctype, machine_corpus};
use wimkit::compress::{Codec, Compressor, Decompressor};

/// One comparison: a codec, a chunk size and a level.
#[derive(Debug, Clone, Copy)]
pub struct EncodePlan {
    pub codec: Codec,
    pub chunk_size: usize,
    pub level: u32,
}

pub fn codec_name(codec: Codec) -> &'static str {
    match codec {
        Codec::Xpress => "xpress",
        Codec::Lzx => "lzx",
        Codec::Lzms => "lzms",
    }
}

pub fn parse_codec(s: &str) -> Option<Codec> {
    match s.to_ascii_lowercase().as_str() {
        "xpress" => Some(Codec::Xpress),
        "lzx" => Some(Codec::Lzx),
        "lzms" => Some(Codec::Lzms),
        _ => None,
    }
}

/// Loads `mb` MiB of this machine's files (binaries, libraries, text).
pub fn corpus(mb: usize) -> Vec<u8> {
    let data = machine_corpus(mb << 20);
    println!(
        "corpus: {:.1} MiB of files from this machine; one thread; best of the rounds, alternating",
        data.len() as f64 / 1048576.0
    );
    println!(
        "{:<8} {:>6} {:>5} | {:>12} {:>12} {:>6} | {:>11} {:>11} {:>6}",
        "codec",
        "chunk",
        "level",
        "wimkit bytes",
        "wimlib bytes",
        "size",
        "wimkit MB/s",
        "wimlib MB/s",
        "speed"
    );
    data
}

/// The figures of one plan.
pub struct EncodeResult {
    pub ours_bytes: usize,
    pub theirs_bytes: usize,
    pub ours_time: Duration,
    pub theirs_time: Duration,
}

/// Runs one plan over `data`, prints a line and returns the figures. Panics
/// (failing the benchmark) if any chunk we write does not decode to its input
/// in our decoder and in wimlib's.
pub fn compare(lib: &Libwim, data: &[u8], plan: EncodePlan, rounds: usize) -> EncodeResult {
    let EncodePlan {
        codec,
        chunk_size,
        level,
    } = plan;
    let chunks: Vec<&[u8]> = data.chunks(chunk_size).collect();
    let mut ours = Compressor::new(codec, chunk_size, level).expect("compressor");
    let mut theirs = lib.compressor(ctype(codec), chunk_size, level);
    let mut out = vec![0u8; chunk_size];

    // Sizes as a WIM stores them: a chunk that does not shrink is stored raw.
    let mut ours_bytes = 0;
    let mut decoder = Decompressor::new(codec, chunk_size).expect("decoder");
    let mut their_decoder = lib.decompressor(ctype(codec), chunk_size);
    let mut back = vec![0u8; chunk_size];
    for (i, chunk) in chunks.iter().enumerate() {
        let room = chunk.len().saturating_sub(1);
        match ours.compress(chunk, &mut out[..room]) {
            Some(n) => {
                assert!(n <= room, "chunk {i}: reported {n} bytes, room {room}");
                let packed = &out[..n];
                decoder
                    .decompress(packed, &mut back[..chunk.len()])
                    .unwrap_or_else(|e| panic!("chunk {i}: our decoder rejects our output: {e}"));
                assert!(
                    back[..chunk.len()] == **chunk,
                    "chunk {i}: our decoder gives other bytes"
                );
                back[..chunk.len()].fill(0);
                assert!(
                    their_decoder.decompress(packed, &mut back[..chunk.len()]),
                    "chunk {i}: wimlib rejects our output"
                );
                assert!(
                    back[..chunk.len()] == **chunk,
                    "chunk {i}: wimlib decodes other bytes"
                );
                ours_bytes += n;
            }
            None => ours_bytes += chunk.len(),
        }
    }
    let theirs_bytes: usize = chunks
        .iter()
        .map(|c| theirs.compress(c).map_or(c.len(), |p| p.len()))
        .sum();

    let (mut ours_time, mut theirs_time) = (Duration::MAX, Duration::MAX);
    for _ in 0..rounds {
        let t = Instant::now();
        for chunk in &chunks {
            let room = chunk.len().saturating_sub(1);
            std::hint::black_box(ours.compress(chunk, &mut out[..room]));
        }
        ours_time = ours_time.min(t.elapsed());
        let t = Instant::now();
        for chunk in &chunks {
            let room = chunk.len().saturating_sub(1);
            std::hint::black_box(theirs.compress_into(chunk, &mut out[..room]));
        }
        theirs_time = theirs_time.min(t.elapsed());
    }
    let mbps = |d: Duration| data.len() as f64 / 1e6 / d.as_secs_f64();
    let chunk = if chunk_size >= 1 << 20 {
        format!("{}M", chunk_size >> 20)
    } else {
        format!("{}K", chunk_size >> 10)
    };
    println!(
        "{:<8} {:>6} {:>5} | {:>12} {:>12} {:>5.3}x | {:>11.1} {:>11.1} {:>5.2}x",
        codec_name(codec),
        chunk,
        level,
        ours_bytes,
        theirs_bytes,
        ours_bytes as f64 / theirs_bytes as f64,
        mbps(ours_time),
        mbps(theirs_time),
        theirs_time.as_secs_f64() / ours_time.as_secs_f64(),
    );
    EncodeResult {
        ours_bytes,
        theirs_bytes,
        ours_time,
        theirs_time,
    }
}

/// Runs `compare` for every level of every (codec, chunk size) plan.
pub fn compare_all(
    lib: &Libwim,
    data: &[u8],
    plans: &[(Codec, usize)],
    levels: &[u32],
    rounds: usize,
) {
    for &(codec, chunk_size) in plans {
        for &level in levels {
            let plan = EncodePlan {
                codec,
                chunk_size,
                level,
            };
            compare(lib, data, plan, rounds);
        }
    }
}
