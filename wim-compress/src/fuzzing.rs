//! The input layout shared by the fuzz targets, their seed writer and the
//! regression test that replays every crash: one byte choosing the chunk size,
//! a little-endian u32 giving the uncompressed size, then the compressed chunk.

use crate::Codec;

/// Largest output the LZMS target asks for, so that each run stays fast.
const LZMS_FUZZ_MAX_OUTPUT: usize = 1 << 20;

fn chunk_size(codec: Codec, selector: u8) -> usize {
    match codec {
        Codec::Xpress => 1 << (12 + selector % 5),
        Codec::Lzx => 1 << (15 + selector % 7),
        Codec::Lzms => 1 << (15 + selector % 6),
    }
}

/// Splits a fuzz input into (chunk size, uncompressed size, compressed chunk).
pub fn split_input(codec: Codec, data: &[u8]) -> Option<(usize, usize, &[u8])> {
    let (&selector, rest) = data.split_first()?;
    let size = rest.get(..4)?;
    let mut chunk = chunk_size(codec, selector);
    if codec == Codec::Lzms {
        chunk = chunk.min(LZMS_FUZZ_MAX_OUTPUT);
    }
    let want = u32::from_le_bytes([size[0], size[1], size[2], size[3]]) as usize;
    Some((chunk, want % (chunk + 1), &rest[4..]))
}

/// Builds a fuzz input for a real chunk: the inverse of [`split_input`].
pub fn join_input(
    codec: Codec,
    chunk_size: usize,
    uncompressed_len: usize,
    chunk: &[u8],
) -> Option<Vec<u8>> {
    let selector = (0..=255u8).find(|&s| self::chunk_size(codec, s) == chunk_size)?;
    if (codec == Codec::Lzms && chunk_size > LZMS_FUZZ_MAX_OUTPUT) || uncompressed_len > chunk_size
    {
        return None;
    }
    let mut out = vec![selector];
    out.extend_from_slice(&(uncompressed_len as u32).to_le_bytes());
    out.extend_from_slice(chunk);
    Some(out)
}

/// One compression case decoded from fuzz input: the codec, chunk size and
/// level from the first two bytes, the output room from the third, then the
/// data (cut to the chunk size).
#[derive(Debug)]
pub struct CompressCase<'a> {
    pub codec: Codec,
    pub chunk_size: usize,
    pub level: u32,
    pub room: usize,
    pub data: &'a [u8],
}

/// Largest chunk the compression target uses, so that each run stays fast.
const COMPRESS_FUZZ_MAX_CHUNK: usize = 1 << 18;

/// Splits a compression fuzz input (see [`CompressCase`]).
pub fn split_compress_input(input: &[u8]) -> Option<CompressCase<'_>> {
    let (&[select, level, room], data) = input.split_first_chunk::<3>()?;
    let codec = [Codec::Xpress, Codec::Lzx, Codec::Lzms][usize::from(select % 3)];
    let chunk_size = chunk_size(codec, select / 3).min(COMPRESS_FUZZ_MAX_CHUNK);
    let data = &data[..data.len().min(chunk_size)];
    // Mostly the writer's room (one byte less than the input), sometimes less,
    // so that running out of output is exercised at every position.
    let full = data.len().saturating_sub(1);
    let room = if room < 128 {
        full
    } else {
        full * usize::from(room - 128) / 128
    };
    Some(CompressCase {
        codec,
        chunk_size,
        level: 1 + u32::from(level) % 100,
        room,
        data,
    })
}

/// Compresses the case and, when it fits, checks that our decoder gives the
/// data back. A test oracle for the fuzz target and its regression replay:
/// it panics on any disagreement, which is what the fuzzer looks for.
pub fn compress_round_trip(input: &[u8]) {
    let Some(case) = split_compress_input(input) else {
        return;
    };
    let mut encoder = crate::Compressor::new(case.codec, case.chunk_size, case.level)
        .expect("fuzz settings are valid");
    let mut out = vec![0u8; case.room];
    let copied = encoder.compress(case.data, &mut out);
    // The in-place form (the writer's, for solid chunks) must give the same
    // stream and leave the chunk as it found it.
    let mut work = case.data.to_vec();
    let mut out2 = vec![0u8; case.room];
    let in_place = encoder.compress_in_place(&mut work, &mut out2);
    assert!(
        work == case.data,
        "{case:?}: compress_in_place changed the chunk"
    );
    assert_eq!(copied, in_place, "{case:?}: in place gives another length");
    let Some(n) = copied else {
        return;
    };
    assert!(
        out[..n] == out2[..n],
        "{case:?}: in place gives other bytes"
    );
    assert!(
        n <= case.room,
        "{case:?}: compressed length {n} exceeds the room"
    );
    let mut back = vec![0u8; case.data.len()];
    let mut decoder =
        crate::Decompressor::new(case.codec, case.chunk_size).expect("fuzz settings are valid");
    if let Err(e) = decoder.decompress(&out[..n], &mut back) {
        panic!("{case:?}: our decoder rejects our output: {e}");
    }
    assert!(back == case.data, "{case:?}: round trip gives other bytes");
}
