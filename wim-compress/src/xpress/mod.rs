//! XPRESS with Huffman coding ([MS-XCA] LZ77+Huffman), as used for WIM chunks.
//!
//! A chunk is one block: 256 bytes holding 512 four-bit codeword lengths, then a
//! bitstream of 16-bit little-endian words read most-significant bit first, with
//! the bytes that extend long match lengths interleaved in the same byte stream.

mod decode;
mod encode;

pub use decode::XpressDecoder;
pub use encode::XpressEncoder;

/// Largest chunk XPRESS allows in a WIM.
pub const MAX_CHUNK_SIZE: usize = 64 * 1024;

/// Number of symbols: 256 literals and 256 match headers.
pub(crate) const NUM_SYMBOLS: usize = 512;
/// Longest codeword.
pub(crate) const MAX_CODEWORD_LEN: u32 = 15;
/// Shortest match.
pub(crate) const MIN_MATCH_LEN: usize = 3;
