use std::fmt;

/// Why a compressed chunk could not be decoded.
///
/// Every variant describes damaged or hostile input; none is a bug in the
/// caller except [`DecodeError::UnsupportedChunkSize`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DecodeError {
    /// The input ended before the output was complete.
    Truncated,
    /// A Huffman code description is over-subscribed or has lengths out of range.
    InvalidCodeLengths,
    /// The bitstream holds a codeword that the current Huffman code does not define.
    InvalidSymbol,
    /// A match refers to data before the start of the chunk.
    MatchBeforeStart,
    /// A match, block or literal run would write past the end of the output.
    Overrun,
    /// An LZX block header names a block type other than verbatim, aligned or uncompressed.
    InvalidBlockType(u8),
    /// An LZX block header gives a block size of zero.
    EmptyBlock,
    /// A delta match (LZMS) has an offset or span that cannot be represented.
    InvalidDeltaMatch,
    /// The decompressor was asked for a chunk larger than it was created for, or of a
    /// size the codec does not allow.
    UnsupportedChunkSize(usize),
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Truncated => f.write_str("compressed data ends early"),
            Self::InvalidCodeLengths => f.write_str("invalid Huffman code lengths"),
            Self::InvalidSymbol => f.write_str("invalid Huffman codeword"),
            Self::MatchBeforeStart => {
                f.write_str("match refers to data before the start of the chunk")
            }
            Self::Overrun => f.write_str("decoded data runs past the end of the chunk"),
            Self::InvalidBlockType(t) => write!(f, "invalid LZX block type {t}"),
            Self::EmptyBlock => f.write_str("LZX block of size zero"),
            Self::InvalidDeltaMatch => f.write_str("invalid LZMS delta match"),
            Self::UnsupportedChunkSize(n) => write!(f, "unsupported chunk size {n}"),
        }
    }
}

impl std::error::Error for DecodeError {}

/// Why a compressor could not be created. Compressing itself cannot fail: a
/// chunk that does not shrink is reported as `None` and stored raw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum EncodeError {
    /// The chunk size is zero or larger than the codec allows.
    UnsupportedChunkSize(usize),
    /// The level is outside 1..=100 (0 selects the default, 50).
    InvalidLevel(u32),
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnsupportedChunkSize(n) => write!(f, "unsupported chunk size {n}"),
            Self::InvalidLevel(l) => write!(f, "compression level {l} is not in 1..=100"),
        }
    }
}

impl std::error::Error for EncodeError {}

/// The level wimlib and we use when none is given.
pub const DEFAULT_LEVEL: u32 = 50;

/// Maps 0 to the default level and rejects levels above 100.
pub(crate) fn check_level(level: u32) -> Result<u32, EncodeError> {
    match level {
        0 => Ok(DEFAULT_LEVEL),
        1..=100 => Ok(level),
        _ => Err(EncodeError::InvalidLevel(level)),
    }
}
