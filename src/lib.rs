//! wimkit: the Windows Imaging Format (.wim, .esd, .swm) in pure Rust.
//!
//! This facade re-exports the crates a program embeds:
//! - [`compress`]: the XPRESS, LZX and LZMS codecs.
//! - [`format`]: the WIM container.
#![forbid(unsafe_code)]

pub use wim_compress as compress;
pub use wim_format as format;
