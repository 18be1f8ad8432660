//! LZMS: our decoder against chunks produced by wimlib's compressor.
//!
//! LZMS rebuilds its Huffman codes from running symbol counts on both sides,
//! so any divergence in code construction, probability adaptation, repeat
//! offset bookkeeping or the x86 filter shows up as a mismatch here.
mod support;

use proptest::prelude::*;
use support::data::{any_kind, chunk_len, make, real_files, Kind};
use support::libwim::{CType, Libwim};
use wimkit::compress::{DecodeError, LzmsDecoder};

const LEVELS: [u32; 4] = [1, 20, 50, 100];
const CHUNK_SIZES: [usize; 5] = [32 << 10, 64 << 10, 256 << 10, 1 << 20, 3 << 20];

/// Compresses `data` as one chunk with wimlib and checks that `dec` decodes
/// it back. Returns false when wimlib declined (the data did not shrink).
fn round_trip_with(
    lib: &Libwim,
    dec: &mut LzmsDecoder,
    chunk: usize,
    level: u32,
    data: &[u8],
) -> Result<bool, DecodeError> {
    let Some(packed) = lib.compressor(CType::Lzms, chunk, level).compress(data) else {
        return Ok(false);
    };
    let mut ours = vec![0u8; data.len()];
    dec.decompress(&packed, &mut ours)?;
    if ours != data {
        let at = ours.iter().zip(data).position(|(a, b)| a != b).unwrap_or(0);
        panic!(
            "LZMS chunk {chunk} level {level} len {}: output differs from input at byte {at}",
            data.len()
        );
    }
    // wimlib itself must agree, or the test data says nothing.
    let mut theirs = vec![0u8; data.len()];
    assert!(lib
        .decompressor(CType::Lzms, chunk)
        .decompress(&packed, &mut theirs));
    Ok(true)
}

fn round_trip(lib: &Libwim, chunk: usize, level: u32, data: &[u8]) -> Result<bool, DecodeError> {
    round_trip_with(lib, &mut LzmsDecoder::new(chunk)?, chunk, level, data)
}

/// Data shapes beyond the shared generators that steer the compressor towards
/// delta matches and skewed Huffman statistics.
#[derive(Debug, Clone, Copy)]
enum Extra {
    /// 32-bit little-endian samples of a ramp.
    Ramp32,
    /// Interleaved 8-bit channels, each a ramp with its own slope (bitmap-like).
    Pixels,
    /// Bytes from a steep geometric distribution: a few symbols dominate.
    Skewed,
    /// Mostly random bytes with long repeats at far, varied offsets.
    FarRepeats,
}

fn xorshift(seed: u64) -> impl FnMut() -> u64 {
    let mut s = seed | 1;
    move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        s
    }
}

fn make_extra(kind: Extra, len: usize, seed: u64) -> Vec<u8> {
    let mut next = xorshift(seed);
    let mut out = Vec::with_capacity(len + 16);
    match kind {
        Extra::Ramp32 => {
            let step = 1 + (next() % 1000) as u32;
            let mut v = (next() % 100_000) as u32;
            while out.len() < len {
                out.extend_from_slice(&v.to_le_bytes());
                v = v.wrapping_add(step);
                if next() % 5000 == 0 {
                    v = next() as u32;
                }
            }
        }
        Extra::Pixels => {
            let channels = [1usize, 2, 3, 4, 8, 16, 32, 64, 128][(next() % 9) as usize];
            let slopes: Vec<u8> = (0..channels).map(|_| (next() % 5) as u8).collect();
            let mut vals: Vec<u8> = (0..channels).map(|_| next() as u8).collect();
            while out.len() < len {
                for c in 0..channels {
                    out.push(vals[c]);
                    vals[c] = vals[c].wrapping_add(slopes[c]);
                }
                if next() % 3000 == 0 {
                    let c = (next() as usize) % channels;
                    vals[c] = next() as u8;
                }
            }
        }
        Extra::Skewed => {
            while out.len() < len {
                let r = next();
                // Count trailing zeros of a random word: P(k) = 2^-(k+1).
                let k = (r.trailing_zeros() as u8).min(40);
                out.push(if r >> 60 == 0 { (r >> 20) as u8 } else { k });
            }
        }
        Extra::FarRepeats => {
            while out.len() < len {
                if out.len() > 1000 && next() % 3 != 0 {
                    let back = 1 + (next() as usize) % out.len();
                    let start = out.len() - back;
                    let n = (3 + (next() % 200) as usize).min(back);
                    let piece: Vec<u8> = out[start..start + n].to_vec();
                    out.extend_from_slice(&piece);
                } else {
                    for _ in 0..(1 + next() % 40) {
                        out.push(next() as u8);
                    }
                }
            }
        }
    }
    out.truncate(len);
    out
}

fn any_extra() -> impl Strategy<Value = Extra> {
    prop_oneof![
        Just(Extra::Ramp32),
        Just(Extra::Pixels),
        Just(Extra::Skewed),
        Just(Extra::FarRepeats)
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn wimlib_chunks_decode_exactly(
        kind in any_kind(),
        chunk_idx in 0..3usize,
        level_idx in 0..LEVELS.len(),
        seed in any::<u64>(),
        len_frac in 0.0f64..=1.0,
        edge in chunk_len(4096),
    ) {
        let lib = Libwim::load();
        let chunk = CHUNK_SIZES[chunk_idx];
        // Half the cases use an edge length scaled to the chunk, half any length.
        let len = if seed % 2 == 0 { ((chunk as f64) * len_frac) as usize } else { edge * chunk / 4096 };
        let data = make(kind, len.min(chunk), seed);
        round_trip(&lib, chunk, LEVELS[level_idx], &data).unwrap();
    }

    #[test]
    fn delta_and_skewed_data_decode_exactly(
        kind in any_extra(),
        chunk_idx in 0..3usize,
        level_idx in 0..LEVELS.len(),
        seed in any::<u64>(),
        len_frac in 0.0f64..=1.0,
    ) {
        let lib = Libwim::load();
        let chunk = CHUNK_SIZES[chunk_idx];
        let data = make_extra(kind, ((chunk as f64) * len_frac) as usize, seed);
        round_trip(&lib, chunk, LEVELS[level_idx], &data).unwrap();
    }

    #[test]
    fn tiny_chunks_decode_exactly(kind in any_kind(), len in 0usize..64, seed in any::<u64>(), level_idx in 0..LEVELS.len()) {
        let lib = Libwim::load();
        let data = make(kind, len, seed);
        round_trip(&lib, 32 << 10, LEVELS[level_idx], &data).unwrap();
    }

    #[test]
    fn garbage_never_panics(data in proptest::collection::vec(any::<u8>(), 0..3000), out_len in 0usize..70_000) {
        let mut out = vec![0u8; out_len];
        let mut d = LzmsDecoder::new(65536).unwrap();
        let _ = d.decompress(&data, &mut out);
    }

    #[test]
    fn damaged_chunks_never_panic(
        kind in any_kind(),
        seed in any::<u64>(),
        flips in proptest::collection::vec((any::<usize>(), 0u8..8), 1..8),
        cut in any::<usize>(),
        grow in 0usize..3,
    ) {
        let lib = Libwim::load();
        let data = make(kind, 40_000, seed);
        let Some(mut packed) = lib.compressor(CType::Lzms, 65536, 50).compress(&data) else {
            return Ok(());
        };
        for (at, bit) in flips {
            let i = at % packed.len();
            packed[i] ^= 1 << bit;
        }
        if cut % 2 == 0 {
            packed.truncate(cut % (packed.len() + 1));
        }
        // Also ask for more or less output than was compressed.
        let out_len = match grow { 0 => data.len(), 1 => data.len() / 2, _ => 65536 };
        let mut out = vec![0u8; out_len];
        let _ = LzmsDecoder::new(65536).unwrap().decompress(&packed, &mut out);
    }
}

#[test]
fn real_files_in_chunks_and_whole() {
    let lib = Libwim::load();
    let files = real_files(6 << 20);
    assert!(files.len() >= 3, "expected real files to test with");
    let mut chunks = 0;
    for (name, data) in &files {
        // A few chunks from each file, each chunk size and level.
        for &chunk in &CHUNK_SIZES[..4] {
            let mut dec = LzmsDecoder::new(chunk).unwrap();
            for (i, &level) in LEVELS.iter().enumerate() {
                for piece in data.chunks(chunk).skip(i).step_by(5).take(2) {
                    if round_trip_with(&lib, &mut dec, chunk, level, piece)
                        .unwrap_or_else(|e| panic!("{name}: {e}"))
                    {
                        chunks += 1;
                    }
                }
            }
        }
        // The whole file (up to the limit) as one solid-resource-sized chunk.
        let whole = data.len().next_power_of_two().max(1 << 16);
        if round_trip(&lib, whole, 20, data).unwrap_or_else(|e| panic!("{name} whole: {e}")) {
            chunks += 1;
        }
    }
    assert!(chunks > 40, "only {chunks} chunks were compressible");
}

#[test]
fn long_skewed_inputs_rebuild_codes_many_times() {
    // Several MB in one chunk: thousands of rebuilds of every code, with
    // skewed statistics that push codewords towards the length limit.
    let lib = Libwim::load();
    let len = 4 << 20;
    let mut data = make_extra(Extra::Skewed, len, 99);
    // Splice in stretches of other content so offsets and lengths vary too.
    let far = make_extra(Extra::FarRepeats, len / 4, 5);
    data[len / 2..len / 2 + far.len()].copy_from_slice(&far);
    let ramp = make_extra(Extra::Ramp32, len / 8, 6);
    data[len / 8..len / 8 + ramp.len()].copy_from_slice(&ramp);
    assert!(round_trip(&lib, len, 50, &data).unwrap());
    assert!(round_trip(&lib, len, 1, &data).unwrap());
}

#[test]
fn one_decoder_many_chunk_sizes() {
    // Reusing one decoder across chunks of different sizes must not leak state.
    let lib = Libwim::load();
    let mut dec = LzmsDecoder::new(1 << 20).unwrap();
    for (i, len) in [1 << 20, 100, 70_000, 2, 17, 18, 1 << 19]
        .into_iter()
        .enumerate()
    {
        let data = make(Kind::X86, len, i as u64 + 1);
        round_trip_with(&lib, &mut dec, 1 << 20, 50, &data).unwrap();
    }
}

#[test]
fn edge_cases() {
    let mut d = LzmsDecoder::new(65536).unwrap();
    // The range decoder needs two words; the input is made of whole words.
    assert_eq!(
        d.decompress(&[0; 2], &mut [0; 10]),
        Err(DecodeError::Truncated)
    );
    assert_eq!(
        d.decompress(&[0; 7], &mut [0; 10]),
        Err(DecodeError::Truncated)
    );
    // Empty output with a well-formed input is fine.
    assert_eq!(d.decompress(&[0; 4], &mut []), Ok(()));
    // Larger than the decoder was made for.
    assert!(matches!(
        d.decompress(&[0; 8], &mut [0; 65537]),
        Err(DecodeError::UnsupportedChunkSize(65537))
    ));
    assert!(matches!(
        LzmsDecoder::new(0),
        Err(DecodeError::UnsupportedChunkSize(0))
    ));
    assert!(LzmsDecoder::new((1 << 30) + 1).is_err());
    assert!(LzmsDecoder::new(1 << 30).is_ok());
}

/// Up to `limit` bytes of real files under a few system directories, in a
/// deterministic order.
fn corpus(limit: usize) -> Vec<u8> {
    fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>, depth: usize) {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        let mut entries: Vec<_> = rd.filter_map(|e| e.ok()).collect();
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let Ok(ft) = e.file_type() else { continue };
            if ft.is_dir() && depth < 6 {
                walk(&e.path(), out, depth + 1);
            } else if ft.is_file() {
                out.push(e.path());
            }
        }
    }
    let mut data = Vec::new();
    // Interleave the sources so the corpus mixes code, libraries and text.
    let lists: Vec<Vec<std::path::PathBuf>> = ["/usr/bin", "/usr/lib", "/usr/share"]
        .iter()
        .map(|d| {
            let mut v = Vec::new();
            walk(std::path::Path::new(d), &mut v, 0);
            v
        })
        .collect();
    let per_source = limit / lists.len();
    for list in &lists {
        let start = data.len();
        for p in list {
            if data.len() - start >= per_source {
                break;
            }
            if let Ok(bytes) = std::fs::read(p) {
                data.extend_from_slice(&bytes[..bytes.len().min(4 << 20)]);
            }
        }
    }
    data.truncate(limit);
    data
}

/// Throughput of our decoder against wimlib's on ~100 MB of real files.
/// Run with `cargo test --release -p wimkit --test lzms_differential -- --ignored --nocapture`.
#[test]
#[ignore]
fn throughput_vs_wimlib() {
    let lib = Libwim::load();
    let total: usize = std::env::var("LZMS_BENCH_BYTES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100 << 20);
    let data = corpus(total);
    let sizes: Vec<usize> = match std::env::var("LZMS_BENCH_CHUNKS") {
        Ok(s) => s
            .split(',')
            .filter_map(|x| x.parse::<usize>().ok())
            .map(|k| k << 10)
            .collect(),
        Err(_) => vec![64 << 10, 1 << 20, 64 << 20],
    };
    for chunk in sizes {
        let mut comp = lib.compressor(CType::Lzms, chunk, 50);
        let t = std::time::Instant::now();
        let packed: Vec<(usize, Option<Vec<u8>>)> = data
            .chunks(chunk)
            .map(|c| (c.len(), comp.compress(c)))
            .collect();
        let ctime = t.elapsed();
        let mut out = vec![0u8; chunk];
        let mut ours = LzmsDecoder::new(chunk).unwrap();
        let mut theirs = lib.decompressor(CType::Lzms, chunk);
        let bytes: usize = packed
            .iter()
            .filter(|(_, p)| p.is_some())
            .map(|(n, _)| n)
            .sum();
        let (mut best_ours, mut best_theirs) = (f64::MAX, f64::MAX);
        for _ in 0..3 {
            let t = std::time::Instant::now();
            for (n, p) in &packed {
                if let Some(p) = p {
                    theirs.decompress(p, &mut out[..*n]);
                }
            }
            best_theirs = best_theirs.min(t.elapsed().as_secs_f64());
            let t = std::time::Instant::now();
            for (n, p) in &packed {
                if let Some(p) = p {
                    ours.decompress(p, &mut out[..*n]).unwrap();
                }
            }
            best_ours = best_ours.min(t.elapsed().as_secs_f64());
        }
        let mb = bytes as f64 / 1e6;
        eprintln!(
            "chunk {:>6} KiB: {:.1} MB compressible (compress {:.1}s); ours {:.1} MB/s, wimlib {:.1} MB/s",
            chunk >> 10,
            mb,
            ctime.as_secs_f64(),
            mb / best_ours,
            mb / best_theirs
        );
    }
}
