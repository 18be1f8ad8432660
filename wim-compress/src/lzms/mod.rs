//! Lzms decoder (placeholder until it lands).
use crate::DecodeError;

/// Largest chunk Lzms allows in a WIM.
pub const MAX_CHUNK_SIZE: usize = 1 << 30;

/// A reusable Lzms chunk decoder.
pub struct LzmsDecoder {
    max_chunk_size: usize,
}

impl LzmsDecoder {
    /// A decoder for chunks of at most `max_chunk_size` bytes.
    pub fn new(max_chunk_size: usize) -> Result<Self, DecodeError> {
        Ok(Self { max_chunk_size })
    }

    /// Decodes one chunk into `output`, whose length is the uncompressed size.
    pub fn decompress(&mut self, _input: &[u8], output: &mut [u8]) -> Result<(), DecodeError> {
        Err(DecodeError::UnsupportedChunkSize(output.len().max(self.max_chunk_size)))
    }
}
