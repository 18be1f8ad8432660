//! Lzx decoder (placeholder until it lands).
use crate::DecodeError;

/// Largest chunk Lzx allows in a WIM.
pub const MAX_CHUNK_SIZE: usize = 2 * 1024 * 1024;

/// A reusable Lzx chunk decoder.
pub struct LzxDecoder {
    max_chunk_size: usize,
}

impl LzxDecoder {
    /// A decoder for chunks of at most `max_chunk_size` bytes.
    pub fn new(max_chunk_size: usize) -> Result<Self, DecodeError> {
        Ok(Self { max_chunk_size })
    }

    /// Decodes one chunk into `output`, whose length is the uncompressed size.
    pub fn decompress(&mut self, _input: &[u8], output: &mut [u8]) -> Result<(), DecodeError> {
        Err(DecodeError::UnsupportedChunkSize(output.len().max(self.max_chunk_size)))
    }
}
