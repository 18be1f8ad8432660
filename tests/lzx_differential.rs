//! LZX decoder against wimlib: wimlib compresses, we decode; damaged streams
//! must fail cleanly; hand-built streams cover block types wimlib's compressor
//! does not emit (uncompressed) and the alignment rules around them.

mod support;

use proptest::prelude::*;
use support::data::{any_kind, chunk_len, make, real_files, Kind};
use support::libwim::{CType, Libwim};
use wim_compress::{DecodeError, LzxDecoder};

const CHUNK_SIZES: [usize; 7] = [
    1 << 15,
    1 << 16,
    1 << 17,
    1 << 18,
    1 << 19,
    1 << 20,
    1 << 21,
];
const LEVELS: [u32; 4] = [1, 20, 50, 100];

/// Block type of the first block of a compressed chunk (the top 3 bits of its
/// first 16-bit unit).
fn first_block_type(c: &[u8]) -> u8 {
    let unit = u16::from_le_bytes([c[0], *c.get(1).unwrap_or(&0)]);
    (unit >> 13) as u8
}

/// Compresses `data` with wimlib and checks that we decode it back. Returns the
/// first block type, or `None` when wimlib found the data incompressible.
fn round_trip(lib: &Libwim, data: &[u8], chunk: usize, level: u32) -> Option<u8> {
    let c = lib.compressor(CType::Lzx, chunk, level).compress(data)?;
    let mut ours = vec![0xA5; data.len()];
    let mut dec = LzxDecoder::new(chunk).unwrap();
    dec.decompress(&c, &mut ours).unwrap_or_else(|e| {
        panic!(
            "decode failed: {e:?} (len {}, chunk {chunk}, level {level})",
            data.len()
        )
    });
    assert!(
        ours == data,
        "mismatch (len {}, chunk {chunk}, level {level})",
        data.len()
    );
    Some(first_block_type(&c))
}

/// Case count: `default`, or `LZX_PROPTEST_CASES` for a longer soak.
fn cases(default: u32) -> u32 {
    std::env::var("LZX_PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn small_chunk() -> impl Strategy<Value = usize> {
    // Mostly small windows (fast in debug builds), sometimes every larger one.
    prop_oneof![4 => Just(1usize << 15), 2 => Just(1usize << 16), 1 => proptest::sample::select(CHUNK_SIZES.to_vec())]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(64), ..ProptestConfig::default() })]

    #[test]
    fn wimlib_output_round_trips(
        kind in any_kind(),
        (chunk, len) in small_chunk().prop_flat_map(|c| (Just(c), chunk_len(c))),
        level in proptest::sample::select(LEVELS.to_vec()),
        seed in any::<u64>(),
    ) {
        let lib = Libwim::load();
        let data = make(kind, len, seed);
        round_trip(&lib, &data, chunk, level);
    }

    #[test]
    fn garbage_never_panics(
        input in proptest::collection::vec(any::<u8>(), 0..600),
        out_len in 0usize..70_000,
        chunk in proptest::sample::select(vec![1usize << 15, 1 << 16, 1 << 21]),
    ) {
        let mut dec = LzxDecoder::new(chunk).unwrap();
        let mut out = vec![0; out_len];
        let r = dec.decompress(&input, &mut out);
        prop_assert!(r.is_ok() || r.is_err());
    }

    #[test]
    fn damaged_streams_fail_cleanly_or_match_wimlib(
        kind in any_kind(),
        len in 1usize..40_000,
        seed in any::<u64>(),
        level in proptest::sample::select(LEVELS.to_vec()),
        flips in proptest::collection::vec((any::<prop::sample::Index>(), 0u8..8), 1..4),
        cut in any::<prop::sample::Index>(),
        truncate in any::<bool>(),
    ) {
        let lib = Libwim::load();
        let data = make(kind, len, seed);
        let chunk = 1 << 15;
        let Some(mut c) = lib.compressor(CType::Lzx, chunk, level).compress(&data) else {
            return Ok(());
        };
        for (at, bit) in &flips {
            let i = at.index(c.len());
            c[i] ^= 1 << bit;
        }
        if truncate {
            c.truncate(cut.index(c.len()));
        }
        let mut ours = vec![0; len];
        let mut theirs = vec![0; len];
        let r = LzxDecoder::new(chunk).unwrap().decompress(&c, &mut ours);
        let ok = lib.decompressor(CType::Lzx, chunk).decompress(&c, &mut theirs);
        // Both decoders read missing input as zero bits and check the same
        // things, except that wimlib rejects incomplete Huffman codes outright
        // where we fail only when an undefined codeword is read; so whenever
        // both accept, they must agree.
        if r.is_ok() && ok {
            prop_assert!(ours == theirs);
        }
    }
}

#[test]
fn every_window_size_and_level() {
    let lib = Libwim::load();
    for &chunk in &CHUNK_SIZES {
        for &level in &LEVELS {
            for (i, kind) in [Kind::X86, Kind::Text, Kind::Repetitive]
                .into_iter()
                .enumerate()
            {
                // Big windows: a chunk a bit over half the window still selects it.
                let len = if chunk > 1 << 16 {
                    chunk / 2 + 1 + i * 1000
                } else {
                    chunk - i
                };
                let data = make(kind, len.min(300_000), chunk as u64 + u64::from(level));
                round_trip(&lib, &data, chunk, level);
            }
        }
    }
}

#[test]
fn short_final_chunk_uses_the_resource_window() {
    let lib = Libwim::load();
    let data = make(Kind::X86, 5000, 7);
    // Compressed for a 1 MiB resource: must be decoded with a 1 MiB decoder.
    assert!(round_trip(&lib, &data, 1 << 20, 50).is_some());
    let c = lib
        .compressor(CType::Lzx, 1 << 20, 50)
        .compress(&data)
        .unwrap();
    let mut out = vec![0; data.len()];
    LzxDecoder::new(1 << 20)
        .unwrap()
        .decompress(&c, &mut out)
        .unwrap();
    assert_eq!(out, data);
}

#[test]
fn aligned_blocks_are_exercised() {
    let lib = Libwim::load();
    let mut aligned = 0;
    let mut verbatim = 0;
    for seed in 0..12 {
        for kind in [Kind::X86, Kind::Text, Kind::Random, Kind::Repetitive] {
            let mut data = make(kind, 32768, seed);
            if matches!(kind, Kind::Random) {
                // Random data with 8-aligned repeats: aligned offsets pay off.
                for i in (4096..32768).step_by(64) {
                    let src = (i - 8 * (1 + (i / 64) % 200)) & !7;
                    data.copy_within(src..src + 32, i);
                }
            }
            for level in [50, 100] {
                match round_trip(&lib, &data, 32768, level) {
                    Some(2) => aligned += 1,
                    Some(1) => verbatim += 1,
                    _ => {}
                }
            }
        }
    }
    assert!(aligned > 0, "no aligned block seen ({verbatim} verbatim)");
    assert!(verbatim > 0, "no verbatim block seen ({aligned} aligned)");
}

#[test]
fn real_files_per_chunk() {
    let lib = Libwim::load();
    let files = real_files(768 * 1024);
    assert!(!files.is_empty());
    for (chunk, level) in [
        (32768usize, 50u32),
        (32768, 100),
        (65536, 20),
        (1 << 20, 50),
    ] {
        let mut dec = LzxDecoder::new(chunk).unwrap();
        let mut comp = lib.compressor(CType::Lzx, chunk, level);
        for (name, data) in &files {
            for piece in data.chunks(chunk) {
                let Some(c) = comp.compress(piece) else {
                    continue;
                };
                let mut out = vec![0; piece.len()];
                dec.decompress(&c, &mut out)
                    .unwrap_or_else(|e| panic!("{name}: {e:?}"));
                assert!(
                    out == piece,
                    "{name}: mismatch (chunk {chunk}, level {level})"
                );
            }
        }
    }
}

#[test]
fn bad_parameters() {
    assert_eq!(
        LzxDecoder::new(32767).err(),
        Some(DecodeError::UnsupportedChunkSize(32767))
    );
    assert_eq!(
        LzxDecoder::new((1 << 21) + 1).err(),
        Some(DecodeError::UnsupportedChunkSize((1 << 21) + 1))
    );
    let mut d = LzxDecoder::new(32768).unwrap();
    let mut out = vec![0; 32769];
    assert_eq!(
        d.decompress(&[0; 16], &mut out),
        Err(DecodeError::UnsupportedChunkSize(32769))
    );
    assert_eq!(d.decompress(&[], &mut []), Ok(()));
}

// ---------------------------------------------------------------------------
// Hand-built streams.

/// Writes LZX bits: 16-bit little-endian units filled from the top bit.
#[derive(Default)]
struct BitWriter {
    out: Vec<u8>,
    acc: u32,
    n: u32,
}

impl BitWriter {
    fn put(&mut self, value: u32, bits: u32) {
        for k in (0..bits).rev() {
            self.acc = (self.acc << 1) | ((value >> k) & 1);
            self.n += 1;
            if self.n == 16 {
                self.out.extend_from_slice(&(self.acc as u16).to_le_bytes());
                self.acc = 0;
                self.n = 0;
            }
        }
    }

    /// Pads to the next unit boundary, a whole unit if already aligned (the
    /// uncompressed block header rule).
    fn align_for_uncompressed(&mut self) {
        let pad = 16 - self.n;
        self.put(0, pad);
    }

    fn flush(mut self) -> Vec<u8> {
        if self.n > 0 {
            self.put(0, 16 - self.n);
        }
        self.out
    }
}

/// Canonical codewords for the given lengths.
fn canonical(lens: &[u8]) -> Vec<u32> {
    let mut codes = vec![0; lens.len()];
    let mut code = 0u32;
    for len in 1..=16u8 {
        for (sym, &l) in lens.iter().enumerate() {
            if l == len {
                codes[sym] = code;
                code += 1;
            }
        }
        code <<= 1;
    }
    codes
}

/// Writes code lengths as pretree deltas against `prev`, with a fixed
/// complete pretree (12 symbols of 4 bits, 8 of 5).
fn put_lens(w: &mut BitWriter, prev: &[u8], lens: &[u8]) {
    let pre_lens: Vec<u8> = (0..20).map(|s| if s < 12 { 4 } else { 5 }).collect();
    let pre_codes = canonical(&pre_lens);
    for &l in &pre_lens {
        w.put(u32::from(l), 4);
    }
    for (&p, &l) in prev.iter().zip(lens) {
        let sym = ((17 + u32::from(p) - u32::from(l)) % 17) as usize;
        w.put(pre_codes[sym], u32::from(pre_lens[sym]));
    }
}

const NUM_MAIN_32K: usize = 256 + 30 * 8;
const NUM_MAIN_64K: usize = 256 + 32 * 8;

/// A complete main code over literals only: `skewed` gives 'A'..='Q' lengths
/// 1..=15, 16, 16; otherwise every byte gets 8 bits.
fn literal_code(skewed: bool, num_main: usize) -> Vec<u8> {
    let mut lens = vec![0u8; num_main];
    if skewed {
        for i in 0..17 {
            lens[65 + i] = (i as u8 + 1).min(16);
        }
    } else {
        lens[..256].fill(8);
    }
    lens
}

/// Starts a verbatim block of `size` bytes coded with `main_lens`; the length
/// code is empty. Returns the main codewords.
fn put_verbatim_header(
    w: &mut BitWriter,
    size: usize,
    main_lens: &[u8],
    prev_main: &[u8],
) -> Vec<u32> {
    w.put(1, 3);
    put_block_size(w, size, main_lens.len() > NUM_MAIN_32K);
    put_lens(w, &prev_main[..256], &main_lens[..256]);
    put_lens(w, &prev_main[256..], &main_lens[256..]);
    put_lens(w, &[0; 249], &[0; 249]);
    canonical(main_lens)
}

/// Block sizes other than 32768 take 16 bits, or 24 for windows over 32 KiB.
fn put_block_size(w: &mut BitWriter, size: usize, big_window: bool) {
    if size == 32768 {
        w.put(1, 1);
    } else {
        w.put(0, 1);
        if big_window {
            w.put((size >> 8) as u32, 16);
            w.put(size as u32 & 0xFF, 8);
        } else {
            w.put(size as u32, 16);
        }
    }
}

/// An uncompressed block: header, alignment (plus `extra_pad` zero units),
/// recent offsets, data and the odd-size pad byte.
fn put_uncompressed(
    mut w: BitWriter,
    data: &[u8],
    extra_pad: usize,
    recent: [u32; 3],
    big_window: bool,
) -> BitWriter {
    w.put(3, 3);
    put_block_size(&mut w, data.len(), big_window);
    w.align_for_uncompressed();
    let mut out = w.flush();
    out.extend(std::iter::repeat_n(0, 2 * extra_pad));
    for r in recent {
        out.extend_from_slice(&r.to_le_bytes());
    }
    out.extend_from_slice(data);
    if data.len() % 2 == 1 {
        out.push(0);
    }
    BitWriter { out, acc: 0, n: 0 }
}

fn decode_both(
    lib: &Libwim,
    stream: &[u8],
    len: usize,
) -> (Result<Vec<u8>, DecodeError>, Option<Vec<u8>>) {
    decode_both_with(lib, stream, len, 32768)
}

fn decode_both_with(
    lib: &Libwim,
    stream: &[u8],
    len: usize,
    chunk: usize,
) -> (Result<Vec<u8>, DecodeError>, Option<Vec<u8>>) {
    let mut ours = vec![0; len];
    let r = LzxDecoder::new(chunk)
        .unwrap()
        .decompress(stream, &mut ours)
        .map(|()| ours);
    let mut theirs = vec![0; len];
    let ok = lib
        .decompressor(CType::Lzx, chunk)
        .decompress(stream, &mut theirs);
    (r, ok.then_some(theirs))
}

#[test]
fn uncompressed_only_chunks() {
    let lib = Libwim::load();
    for len in [1usize, 2, 3, 100, 101, 32768] {
        let data = make(Kind::X86, len, len as u64);
        let stream = put_uncompressed(BitWriter::default(), &data, 0, [1, 1, 1], false).flush();
        let (ours, theirs) = decode_both(&lib, &stream, len);
        let theirs = theirs.expect("wimlib accepts the hand-made stream");
        assert_eq!(ours.expect("we accept it"), theirs, "len {len}");
        // E8 translation applies to uncompressed blocks too, so compare with wimlib
        // rather than with `data`; without E8 bytes both are the input.
        let plain = make(Kind::Text, len, 3);
        let stream = put_uncompressed(BitWriter::default(), &plain, 0, [1, 1, 1], false).flush();
        assert_eq!(decode_both(&lib, &stream, len).0.unwrap(), plain);
    }
}

#[test]
fn uncompressed_block_restores_recent_offsets_and_truncation_fails() {
    let lib = Libwim::load();
    // Uncompressed block with R0 = 3, then a verbatim block whose only match
    // uses R0 (main symbol 256 + 0*8 + 1 = length 3, slot 0).
    let raw = b"abcdefg";
    let w = put_uncompressed(BitWriter::default(), raw, 0, [3, 1, 1], false);
    let mut w = w;
    let mut lens = literal_code(false, NUM_MAIN_32K);
    // Make room for one match symbol: literal 0 goes to 9 bits, and so does
    // the match symbol 257 (header 1, slot 0).
    lens[0] = 9;
    lens[257] = 9;
    let codes = put_verbatim_header(&mut w, 4, &lens, &[0; NUM_MAIN_32K]);
    w.put(codes[257], 9);
    w.put(codes[b'z' as usize], 8);
    let stream = w.flush();
    let (ours, theirs) = decode_both(&lib, &stream, 11);
    assert_eq!(theirs.as_deref(), Some(&b"abcdefgefgz"[..]));
    assert_eq!(ours.as_deref(), Ok(&b"abcdefgefgz"[..]));

    // A zero recent offset is rejected by both.
    let stream = put_uncompressed(BitWriter::default(), raw, 0, [0, 1, 1], false).flush();
    let (ours, theirs) = decode_both(&lib, &stream, 7);
    assert!(ours.is_err() && theirs.is_none());
    // Missing data is rejected by both.
    let stream = put_uncompressed(BitWriter::default(), raw, 0, [1, 1, 1], false).flush();
    let (ours, theirs) = decode_both(&lib, &stream[..stream.len() - 2], 7);
    assert_eq!(ours, Err(DecodeError::Truncated));
    assert!(theirs.is_none());
}

/// A verbatim block of literals followed by an uncompressed block. Where the
/// uncompressed header starts depends on how far wimlib's reader had looked
/// ahead, so try both candidate alignments over many bit positions and
/// codeword lengths and require the same outcome as wimlib.
#[test]
fn uncompressed_after_verbatim_alignment_matches_wimlib() {
    let lib = Libwim::load();
    let raw: Vec<u8> = (0..33u8).map(|i| b'a' + i % 26).collect();
    let mut agreed_ok = 0;
    let mut seed = 99u64;
    for skewed in [false, true] {
        for n_lits in 1..=40usize {
            for extra_pad in 0..2 {
                for default_size in [false, true] {
                    // The default-size flag needs room for 32768 more bytes: a 64 KiB window.
                    let (chunk, num_main) = if default_size {
                        (65536, NUM_MAIN_64K)
                    } else {
                        (32768, NUM_MAIN_32K)
                    };
                    let lens = literal_code(skewed, num_main);
                    let mut w = BitWriter::default();
                    let codes = put_verbatim_header(&mut w, n_lits, &lens, &vec![0; num_main]);
                    let mut expect = Vec::new();
                    for _ in 0..n_lits {
                        seed = seed
                            .wrapping_mul(6364136223846793005)
                            .wrapping_add(1442695040888963407);
                        let sym = if skewed {
                            65 + (seed >> 60) as usize % 17
                        } else {
                            (seed >> 56) as usize
                        };
                        let sym = if sym == 0xE8 { 0x41 } else { sym };
                        w.put(codes[sym], u32::from(lens[sym]));
                        expect.push(sym as u8);
                    }
                    let data: Vec<u8> = if default_size {
                        vec![b'x'; 32768]
                    } else {
                        raw.clone()
                    };
                    let w = put_uncompressed(w, &data, extra_pad, [1, 2, 3], chunk > 32768);
                    let stream = w.flush();
                    expect.extend_from_slice(&data);
                    let (ours, theirs) = decode_both_with(&lib, &stream, expect.len(), chunk);
                    match (&ours, &theirs) {
                        (Ok(a), Some(b)) => {
                            assert_eq!(a, b, "lits {n_lits} pad {extra_pad} skewed {skewed}");
                            if *a == expect {
                                agreed_ok += 1;
                            }
                        }
                        (Err(_), None) => {}
                        _ => panic!(
                            "disagree: ours {:?} wimlib ok {} (lits {n_lits} pad {extra_pad} skewed {skewed} default {default_size})",
                            ours.as_ref().map(|_| ()),
                            theirs.is_some()
                        ),
                    }
                }
            }
        }
    }
    assert!(
        agreed_ok >= 80,
        "only {agreed_ok} streams decoded to the expected data"
    );
}

/// An aligned block ending in a match whose offset ends with an aligned
/// codeword, followed by an uncompressed block: the aligned codeword's
/// lookahead decides the alignment in some of these.
#[test]
fn uncompressed_after_aligned_alignment_matches_wimlib() {
    let lib = Libwim::load();
    let aligned_lens: [u8; 8] = [1, 2, 3, 4, 5, 6, 7, 7];
    let aligned_codes = canonical(&aligned_lens);
    // Slot 10 (base 32, 4 extra bits: 1 verbatim + 3 aligned), length header 0.
    let match_sym = 256 + 10 * 8;
    let mut agreed_ok = 0;
    // A default-size uncompressed block (a 4-bit header, so the aligned
    // codeword's lookahead can reach furthest) needs a 64 KiB window.
    for default_size in [false, true] {
        let (chunk, num_main) = if default_size {
            (65536, NUM_MAIN_64K)
        } else {
            (32768, NUM_MAIN_32K)
        };
        let raw: Vec<u8> = if default_size {
            vec![b'x'; 32768]
        } else {
            b"0123456789abcdefghijklmnopqrstu".to_vec()
        };
        let mut lens = literal_code(false, num_main);
        lens[0] = 9;
        lens[match_sym] = 9;
        let codes = canonical(&lens);
        // Literal 0 costs 9 bits, the letters 8: `nines` of them walk the final
        // match through every bit position.
        for (n_lits, nines) in (48..50usize).flat_map(|n| (0..16usize).map(move |k| (n, k))) {
            for aligned in 0..8usize {
                for high in 0..2u32 {
                    for extra_pad in 0..2 {
                        let mut w = BitWriter::default();
                        w.put(2, 3);
                        put_block_size(&mut w, n_lits + 2, default_size);
                        for &l in &aligned_lens {
                            w.put(u32::from(l), 3);
                        }
                        put_lens(&mut w, &[0; 256], &lens[..256]);
                        put_lens(&mut w, &vec![0; num_main - 256], &lens[256..]);
                        put_lens(&mut w, &[0; 249], &[0; 249]);
                        let mut expect: Vec<u8> = (0..n_lits)
                            .map(|i| if i < nines { 0 } else { b'A' + (i % 26) as u8 })
                            .collect();
                        for &c in &expect {
                            w.put(codes[c as usize], u32::from(lens[c as usize]));
                        }
                        w.put(codes[match_sym], 9);
                        w.put(high, 1);
                        w.put(aligned_codes[aligned], u32::from(aligned_lens[aligned]));
                        let offset = 32 + (high as usize) * 8 + aligned - 2;
                        for _ in 0..2 {
                            expect.push(expect[expect.len() - offset]);
                        }
                        let w = put_uncompressed(w, &raw, extra_pad, [1, 2, 3], default_size);
                        expect.extend_from_slice(&raw);
                        let stream = w.flush();
                        let (ours, theirs) = decode_both_with(&lib, &stream, expect.len(), chunk);
                        let case = format!("lits {n_lits}/{nines} aligned {aligned} high {high} pad {extra_pad} default {default_size}");
                        match (&ours, &theirs) {
                            (Ok(a), Some(b)) => {
                                assert!(a == b, "{case}");
                                if *a == expect {
                                    agreed_ok += 1;
                                }
                            }
                            (Err(_), None) => {}
                            _ => panic!(
                                "disagree: ours {:?} wimlib ok {} ({case})",
                                ours.as_ref().map(|_| ()),
                                theirs.is_some()
                            ),
                        }
                    }
                }
            }
        }
    }
    assert!(
        agreed_ok >= 1000,
        "only {agreed_ok} streams decoded to the expected data"
    );
}

/// Decode throughput against wimlib on real files, 32 KiB chunks (or
/// `LZX_BENCH_CHUNK`) at level 50.
/// Run with `cargo test --release --test lzx_differential -- --ignored --nocapture`.
#[test]
#[ignore]
fn throughput_vs_wimlib() {
    use std::time::Instant;
    let lib = Libwim::load();
    let mut corpus = Vec::new();
    let budget = 96 << 20;
    for dir in [
        "/usr/lib/x86_64-linux-gnu",
        "/usr/bin",
        "/usr/share/doc",
        "/usr/lib",
        "/usr/share",
    ] {
        let mut stack = vec![std::path::PathBuf::from(dir)];
        while let Some(d) = stack.pop() {
            let Ok(rd) = std::fs::read_dir(&d) else {
                continue;
            };
            let mut entries: Vec<_> = rd.flatten().collect();
            entries.sort_by_key(|e| e.file_name());
            for e in entries {
                if corpus.len() >= budget {
                    break;
                }
                let Ok(ft) = e.file_type() else { continue };
                if ft.is_dir() {
                    stack.push(e.path());
                } else if ft.is_file() {
                    if let Ok(d) = std::fs::read(e.path()) {
                        corpus.extend_from_slice(&d[..d.len().min(4 << 20)]);
                    }
                }
            }
        }
    }
    corpus.truncate(budget);
    let chunk: usize = std::env::var("LZX_BENCH_CHUNK")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(32768);
    let mut comp = lib.compressor(CType::Lzx, chunk, 50);
    let chunks: Vec<(Vec<u8>, usize)> = corpus
        .chunks(chunk)
        .filter_map(|p| comp.compress(p).map(|c| (c, p.len())))
        .collect();
    let total: usize = chunks.iter().map(|c| c.1).sum();
    let comp_total: usize = chunks.iter().map(|c| c.0.len()).sum();
    println!(
        "{} MB in {} compressible chunks, ratio {:.3}",
        total >> 20,
        chunks.len(),
        comp_total as f64 / total as f64
    );
    let mut out = vec![0u8; chunk];
    let mut dec = LzxDecoder::new(chunk).unwrap();
    let mut wd = lib.decompressor(CType::Lzx, chunk);
    // On-CPU time of this thread (ns), so that other load on the machine
    // does not count against either decoder.
    let cpu_ns = || -> f64 {
        std::fs::read_to_string("/proc/thread-self/schedstat")
            .ok()
            .and_then(|s| {
                s.split_whitespace()
                    .next()
                    .and_then(|v| v.parse::<f64>().ok())
            })
            .unwrap_or(f64::NAN)
    };
    let (mut best_ours, mut best_theirs) = (0f64, 0f64);
    for round in 0..7 {
        let (t, c) = (Instant::now(), cpu_ns());
        for (c, n) in &chunks {
            dec.decompress(c, &mut out[..*n]).unwrap();
        }
        let ours_wall = total as f64 / t.elapsed().as_secs_f64() / 1e6;
        let ours = total as f64 / (cpu_ns() - c) * 1e3;
        let (t, c) = (Instant::now(), cpu_ns());
        for (c, n) in &chunks {
            assert!(wd.decompress(c, &mut out[..*n]));
        }
        let theirs_wall = total as f64 / t.elapsed().as_secs_f64() / 1e6;
        let theirs = total as f64 / (cpu_ns() - c) * 1e3;
        best_ours = best_ours.max(ours);
        best_theirs = best_theirs.max(theirs);
        println!(
            "round {round}: ours {ours:.0} MB/s (wall {ours_wall:.0}), wimlib {theirs:.0} MB/s (wall {theirs_wall:.0})"
        );
    }
    println!("best: ours {best_ours:.0} MB/s, wimlib {best_theirs:.0} MB/s");
}
