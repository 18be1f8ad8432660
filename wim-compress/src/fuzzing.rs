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
