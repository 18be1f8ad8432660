//! Our compressors, checked by decoding: every chunk they write must decode to
//! its input in our decoders and in libwim's `wimlib_decompress`, for
//! generated data of every kind at chunk-size edges, several levels and chunk
//! sizes; running out of output room is `None`, never a panic or overrun; and
//! on real files the output stays near wimlib's size (a regression guard on
//! the compression ratio, not a speed test).

mod support;

use proptest::prelude::*;
use support::data::{any_kind, chunk_len, make, real_files, Kind};
use support::libwim::{CType, Libwim};
use wim_compress::{Codec, Compressor, Decompressor, EncodeError};

const LEVELS: [u32; 5] = [1, 20, 50, 80, 100];

fn ctype(codec: Codec) -> CType {
    match codec {
        Codec::Xpress => CType::Xpress,
        Codec::Lzx => CType::Lzx,
        Codec::Lzms => CType::Lzms,
    }
}

/// Chunk sizes a writer uses for each codec (LZMS kept to what a debug-free
/// `ci` profile decodes quickly; the solid size is covered by `large_lzms_chunk`).
fn chunk_sizes(codec: Codec) -> Vec<usize> {
    match codec {
        Codec::Xpress => vec![4096, 8192, 16384, 32768, 65536],
        Codec::Lzx => vec![32768, 65536, 1 << 17, 1 << 20, 1 << 21],
        Codec::Lzms => vec![32768, 65536, 1 << 17, 1 << 20],
    }
}

fn cases(default: u32) -> u32 {
    std::env::var("ENCODE_PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Compresses `data` into `input.len() - 1` bytes of room; when it fits,
/// checks both decoders give `data` back. Returns the compressed size.
fn round_trip(lib: &Libwim, codec: Codec, chunk: usize, level: u32, data: &[u8]) -> Option<usize> {
    let mut enc = Compressor::new(codec, chunk, level).expect("compressor");
    let room = data.len().saturating_sub(1);
    // Poison the output so stale bytes cannot pass for a valid stream.
    let mut out = vec![0xA5u8; room];
    let n = enc.compress(data, &mut out)?;
    assert!(
        n <= room,
        "{codec:?} level {level}: {n} bytes reported, room {room}"
    );
    let what = format!("{codec:?} chunk {chunk} level {level} len {}", data.len());
    let mut back = vec![0x5Au8; data.len()];
    Decompressor::new(codec, chunk)
        .expect("decoder")
        .decompress(&out[..n], &mut back)
        .unwrap_or_else(|e| panic!("{what}: our decoder rejects our output: {e}"));
    assert!(back == data, "{what}: our decoder gives other bytes");
    back.fill(0x5A);
    assert!(
        lib.decompressor(ctype(codec), chunk)
            .decompress(&out[..n], &mut back),
        "{what}: wimlib rejects our output"
    );
    assert!(back == data, "{what}: wimlib decodes other bytes");
    Some(n)
}

fn any_codec() -> impl Strategy<Value = Codec> {
    prop_oneof![Just(Codec::Xpress), Just(Codec::Lzx), Just(Codec::Lzms)]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(96), ..ProptestConfig::default() })]

    #[test]
    fn generated_data_round_trips(
        (codec, chunk, len) in any_codec()
            .prop_flat_map(|c| (Just(c), proptest::sample::select(chunk_sizes(c))))
            .prop_flat_map(|(c, s)| (Just(c), Just(s), chunk_len(s))),
        kind in any_kind(),
        level in proptest::sample::select(LEVELS.to_vec()),
        seed in any::<u64>(),
    ) {
        let lib = Libwim::load();
        let data = make(kind, len, seed);
        let packed = round_trip(&lib, codec, chunk, level, &data);
        // Highly redundant data must actually shrink: a compressor that gives
        // up on everything would otherwise pass.
        // (Ramps shrink that much only with LZMS's delta matches, which the
        // encoder, like wimlib's, searches from level 35.)
        let redundant = match kind {
            Kind::Zeros | Kind::Repetitive => true,
            Kind::Ramp => codec == Codec::Lzms && level >= 35,
            _ => false,
        };
        if redundant && len >= 4096 {
            let n = packed.unwrap_or(usize::MAX);
            prop_assert!(n < len / 2, "{codec:?} {kind:?} {len} bytes -> {n}");
        }
    }

    #[test]
    fn too_little_room_is_none_or_valid(
        codec in any_codec(),
        kind in any_kind(),
        len in 0usize..20_000,
        level in proptest::sample::select(LEVELS.to_vec()),
        seed in any::<u64>(),
        shrink in any::<prop::sample::Index>(),
    ) {
        let chunk = 32768;
        let data = make(kind, len, seed);
        let mut enc = Compressor::new(codec, chunk, level).expect("compressor");
        let mut full = vec![0u8; len + 64];
        let fits = enc.compress(&data, &mut full);
        // Any smaller room: either None, or a stream that decodes.
        let room = fits.map_or(len, |n| shrink.index(n + 1));
        let mut out = vec![0u8; room];
        if let Some(n) = enc.compress(&data, &mut out) {
            prop_assert!(n <= room);
            let mut back = vec![0u8; len];
            Decompressor::new(codec, chunk).unwrap().decompress(&out[..n], &mut back)
                .map_err(|e| TestCaseError::fail(format!("{codec:?}: {e}")))?;
            prop_assert!(back == data);
        }
    }
}

#[test]
fn every_codec_level_and_edge_length() {
    let lib = Libwim::load();
    for codec in [Codec::Xpress, Codec::Lzx, Codec::Lzms] {
        for chunk in chunk_sizes(codec) {
            // Every level on the usual chunk sizes; the big ones (slow to
            // compress at the high levels) at the lowest and the default.
            let levels: &[u32] = if chunk <= 1 << 17 { &LEVELS } else { &[1, 50] };
            for &level in levels {
                for (i, kind) in [Kind::X86, Kind::Text, Kind::Zeros, Kind::Random]
                    .into_iter()
                    .enumerate()
                {
                    for len in [0, 1, 2, 3, chunk - 1, chunk] {
                        let data = make(kind, len, (i * 7 + len) as u64 + 1);
                        round_trip(&lib, codec, chunk, level, &data);
                    }
                }
            }
        }
    }
}

#[test]
fn single_byte_runs_and_longest_matches() {
    let lib = Libwim::load();
    for codec in [Codec::Xpress, Codec::Lzx, Codec::Lzms] {
        let chunk = *chunk_sizes(codec).last().unwrap();
        for byte in [0u8, 0xE8, 0xFF] {
            let data = vec![byte; chunk];
            let n = round_trip(&lib, codec, chunk, 50, &data).expect("a run compresses");
            assert!(n < chunk / 100, "{codec:?}: {chunk} equal bytes -> {n}");
        }
    }
}

#[test]
fn large_lzms_chunk() {
    // A solid resource's chunk: several MiB at once, mixed content.
    let lib = Libwim::load();
    let mut data = Vec::new();
    for (_, file) in real_files(1 << 20) {
        data.extend_from_slice(&file);
    }
    data.extend(make(Kind::Ramp, 1 << 20, 9));
    let chunk = data.len().next_power_of_two();
    let n = round_trip(&lib, Codec::Lzms, chunk, 50, &data).expect("real files compress");
    assert!(n < data.len() / 2, "{} -> {n}", data.len());
}

#[test]
fn real_files_stay_near_wimlib_size() {
    // Ratio guard at the default level: within 3% of wimlib on real files
    // (the benchmark `encode_vs_wimlib` reports the exact figures).
    let lib = Libwim::load();
    for codec in [Codec::Xpress, Codec::Lzx, Codec::Lzms] {
        let chunk = if codec == Codec::Lzms {
            1 << 17
        } else {
            1 << 15
        };
        let (mut ours, mut theirs) = (0usize, 0usize);
        let mut wimlib = lib.compressor(ctype(codec), chunk, 50);
        for (_, file) in real_files(1 << 20) {
            for piece in file.chunks(chunk) {
                ours += round_trip(&lib, codec, chunk, 50, piece).unwrap_or(piece.len());
                theirs += wimlib.compress(piece).map_or(piece.len(), |p| p.len());
            }
        }
        let ratio = ours as f64 / theirs as f64;
        assert!(
            ratio <= 1.03,
            "{codec:?}: {ours} bytes vs wimlib's {theirs} ({ratio:.3}x)"
        );
    }
}

#[test]
fn settings_are_checked() {
    assert_eq!(
        Compressor::new(Codec::Xpress, 128 * 1024, 50).err(),
        Some(EncodeError::UnsupportedChunkSize(128 * 1024))
    );
    assert_eq!(
        Compressor::new(Codec::Lzx, 0, 50).err(),
        Some(EncodeError::UnsupportedChunkSize(0))
    );
    assert_eq!(
        Compressor::new(Codec::Lzms, 1 << 20, 101).err(),
        Some(EncodeError::InvalidLevel(101))
    );
    assert!(Compressor::new(Codec::Lzx, 1 << 21, 0).is_ok());
}
