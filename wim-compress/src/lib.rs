//! Codecs of the Windows Imaging Format: XPRESS (Huffman), LZX (WIM variant) and LZMS.
//!
//! Every WIM chunk is an independent stream, so each codec is a reusable
//! decoder that decodes one chunk from a byte slice into a caller's buffer of
//! the known uncompressed size. A decoder allocates its tables once and reuses
//! them for every chunk it decodes on one thread.
//!
//! ```
//! use wim_compress::{Codec, Decompressor};
//! // An XPRESS chunk whose 256-byte header gives 'a' (0x61) and one match
//! // symbol the code length 1 is all that a run of 'a's needs.
//! let mut d = Decompressor::new(Codec::Xpress, 32 * 1024).unwrap();
//! # let _ = &mut d;
//! ```
// One audited exception: the prefetch hint in `prefetch` (see its SAFETY note).
#![deny(unsafe_code)]

mod error;
#[doc(hidden)]
pub mod fuzzing;
pub mod huffman;
mod huffman_build;
mod incompressible;
mod lz;
pub mod lzms;
pub mod lzx;
#[doc(hidden)]
pub mod matchfinder;
mod prefetch;
#[cfg(test)]
mod test_data;
pub mod xpress;

pub use error::{DecodeError, EncodeError, DEFAULT_LEVEL};
pub use lzms::{LzmsDecoder, LzmsEncoder};
pub use lzx::{LzxDecoder, LzxEncoder};
pub use xpress::{XpressDecoder, XpressEncoder};

/// The compression formats a WIM resource can use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Codec {
    Xpress,
    Lzx,
    Lzms,
}

impl Codec {
    /// Largest chunk the codec allows in a WIM.
    pub fn max_chunk_size(self) -> usize {
        match self {
            Codec::Xpress => xpress::MAX_CHUNK_SIZE,
            Codec::Lzx => lzx::MAX_CHUNK_SIZE,
            Codec::Lzms => lzms::MAX_CHUNK_SIZE,
        }
    }
}

/// A decoder for any of the three codecs, created for a maximum chunk size.
///
/// The decoders are boxed: their tables are large and the enum moves around.
pub enum Decompressor {
    Xpress(Box<XpressDecoder>),
    Lzx(Box<LzxDecoder>),
    Lzms(Box<LzmsDecoder>),
}

impl Decompressor {
    /// A decoder for chunks of at most `max_chunk_size` bytes. For LZX the
    /// window (and so the number of offset slots) follows from this size, so it
    /// must be the resource's chunk size, not the size of a short final chunk.
    pub fn new(codec: Codec, max_chunk_size: usize) -> Result<Self, DecodeError> {
        Ok(match codec {
            Codec::Xpress => Self::Xpress(Box::new(XpressDecoder::new(max_chunk_size)?)),
            Codec::Lzx => Self::Lzx(Box::new(LzxDecoder::new(max_chunk_size)?)),
            Codec::Lzms => Self::Lzms(Box::new(LzmsDecoder::new(max_chunk_size)?)),
        })
    }

    /// Decodes one chunk; `output.len()` is its uncompressed size.
    pub fn decompress(&mut self, input: &[u8], output: &mut [u8]) -> Result<(), DecodeError> {
        match self {
            Self::Xpress(d) => d.decompress(input, output),
            Self::Lzx(d) => d.decompress(input, output),
            Self::Lzms(d) => d.decompress(input, output),
        }
    }
}

/// A compressor for any of the three codecs, created for a maximum chunk size
/// and a level (1..=100 on wimlib's scale, 0 = default 50).
///
/// Each compressor is single-threaded and allocates nothing per chunk; a
/// writer keeps one per thread.
pub enum Compressor {
    Xpress(Box<XpressEncoder>),
    Lzx(Box<LzxEncoder>),
    Lzms(Box<LzmsEncoder>),
}

impl Compressor {
    /// A compressor for chunks of at most `max_chunk_size` bytes.
    pub fn new(codec: Codec, max_chunk_size: usize, level: u32) -> Result<Self, EncodeError> {
        Ok(match codec {
            Codec::Xpress => Self::Xpress(Box::new(XpressEncoder::new(max_chunk_size, level)?)),
            Codec::Lzx => Self::Lzx(Box::new(LzxEncoder::new(max_chunk_size, level)?)),
            Codec::Lzms => Self::Lzms(Box::new(LzmsEncoder::new(max_chunk_size, level)?)),
        })
    }

    /// Upper bound of the memory a compressor for these settings holds.
    pub fn memory_usage(codec: Codec, max_chunk_size: usize, level: u32) -> usize {
        match codec {
            Codec::Xpress => XpressEncoder::memory_usage(max_chunk_size, level),
            Codec::Lzx => LzxEncoder::memory_usage(max_chunk_size, level),
            Codec::Lzms => LzmsEncoder::memory_usage(max_chunk_size, level),
        }
    }

    /// Compresses one chunk into `output`, returning the compressed length, or
    /// `None` when it would not fit (pass `input.len() - 1` bytes of output and
    /// store the chunk raw on `None`); LZX also says `None` early for a chunk
    /// that looks incompressible when given less room than the chunk.
    pub fn compress(&mut self, input: &[u8], output: &mut [u8]) -> Option<usize> {
        match self {
            Self::Xpress(c) => c.compress(input, output),
            Self::Lzx(c) => c.compress(input, output),
            Self::Lzms(c) => c.compress(input, output),
        }
    }

    /// [`compress`](Self::compress) of a chunk the caller lets the compressor
    /// modify while it works: the output is the same, `data` holds its original
    /// bytes again on return, and LZMS needs no copy of the chunk (one byte per
    /// byte less memory).
    pub fn compress_in_place(&mut self, data: &mut [u8], output: &mut [u8]) -> Option<usize> {
        match self {
            Self::Lzms(c) => c.compress_in_place(data, output),
            other => other.compress(data, output),
        }
    }
}
