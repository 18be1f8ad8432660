//! LZX as WIM resources use it.
//!
//! Every chunk is an independent LZX stream whose window is the resource's
//! chunk size rounded up to a power of two (at least 32 KiB). The window size
//! fixes the number of offset slots and so the size of the main code, which
//! is why a decoder is created for the resource's chunk size and not for the
//! size of the chunk at hand. After decoding, x86 CALL targets are translated
//! back from absolute to relative form (the "E8" filter), which WIM applies to
//! every chunk with a fixed translation size.

mod bits;
mod constants;
mod decode;
mod e8;
mod encode;

pub use decode::LzxDecoder;
pub use encode::LzxEncoder;

/// Largest chunk LZX allows in a WIM.
pub const MAX_CHUNK_SIZE: usize = 2 * 1024 * 1024;

/// Smallest window (and so smallest chunk size a decoder is created for).
pub(crate) const MIN_CHUNK_SIZE: usize = 32 * 1024;
