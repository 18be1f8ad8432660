//! The Lzms encoder. PLACEHOLDER: reports every chunk as incompressible.

use crate::error::{check_level, EncodeError};

/// A reusable Lzms compressor for chunks up to a maximum size at one level.
pub struct LzmsEncoder {
    max_chunk_size: usize,
    #[allow(dead_code)]
    level: u32,
}

impl LzmsEncoder {
    /// A compressor for chunks of at most `max_chunk_size` bytes at `level`
    /// (1..=100, wimlib's scale; 0 = default 50).
    pub fn new(max_chunk_size: usize, level: u32) -> Result<Self, EncodeError> {
        let level = check_level(level)?;
        if max_chunk_size == 0 || max_chunk_size > super::MAX_CHUNK_SIZE {
            return Err(EncodeError::UnsupportedChunkSize(max_chunk_size));
        }
        Ok(Self {
            max_chunk_size,
            level,
        })
    }

    /// Upper bound of the bytes a compressor for these settings holds.
    pub fn memory_usage(max_chunk_size: usize, _level: u32) -> usize {
        max_chunk_size
    }

    /// Compresses `input` (at most the chunk size) into `output`, returning
    /// the compressed length, or `None` when the result would not fit in
    /// `output` (callers pass `input.len() - 1` bytes and store the chunk raw).
    pub fn compress(&mut self, input: &[u8], output: &mut [u8]) -> Option<usize> {
        let _ = (input.len() <= self.max_chunk_size, output);
        None
    }
}
