//! The WIM container: header, blob table, resources and their chunks.
//!
//! Layers, each usable alone:
//! - [`header`]: the 208-byte [`Header`].
//! - [`resource`]: the 24-byte [`ResourceHeader`] that locates every resource.
//! - [`blob_table`]: the 50-byte [`BlobEntry`] and the interpreted [`BlobTable`].
//! - [`solid`]: [`SolidResource`]s, in which several blobs are compressed together.
//! - [`chunks`]: the [`ChunkTable`] of a compressed resource and the [`ChunkDecoder`].
//! - [`read`]: [`Wim`] (a whole file in a slice) and [`BlobReader`], which reads blobs
//!   chunk by chunk and checks their SHA-1.
//! - [`metadata`]: an image's security data and directory tree ([`Image`]); [`images`]
//!   adds `Wim::image_count`, `Wim::xml`, `Wim::image`, `Wim::blob_data`, `Wim::link_target`.
//! - [`xml`]: the XML data ([`WimXml`]).
//!
//! Everything reads from a `&[u8]` of the whole file and checks every offset and size
//! against it; damaged input gives an [`Error`], never a panic.
//!
//! Also: [`file`] opens a WIM from disk (memory-mapped, errors naming the file);
//! [`split`] opens split sets (`.swm`) as one [`Wim`]; pipable WIMs (wimlib's
//! `--pipable`) are read from seekable files; [`integrity`] checks the integrity table
//! and [`verify`] checks every blob in parallel (`scan_health`).
//!
//! The only `unsafe` is the read-only memory map in [`file`] (see its SAFETY note).
#![deny(unsafe_code)]

pub use wim_compress as compress;

pub mod apply;
pub mod blob_table;
mod bytes;
pub mod chunks;
pub mod digest;
pub mod error;
pub mod file;
#[doc(hidden)]
pub mod fuzzing;
pub mod header;
pub mod images;
pub mod integrity;
pub mod metadata;
pub mod read;
pub mod resource;
pub mod solid;
pub mod split;
pub mod verify;
pub mod xml;

pub use apply::{apply_image, ApplyOptions, ApplyReport};
pub use blob_table::{Blob, BlobEntry, BlobLocation, BlobTable, Sha1Hash};
pub use chunks::{ChunkDecoder, ChunkTable};
pub use error::{Error, Result, Unsupported};
pub use file::WimFile;
pub use header::{Compression, Header, Magic};
pub use integrity::{IntegrityStatus, IntegrityTable};
pub use metadata::{Image, LinkReparse, Node, NodeId, Stream, StreamKind, UnixData, Xattr};
pub use read::{BlobReader, ResourceData, Wim, WimPart};
pub use resource::{ResourceFlags, ResourceHeader};
pub use solid::{SolidHeader, SolidResource};
pub use split::SplitSet;
pub use verify::{for_each_blob_parallel, scan_health, DamagedBlob, ScanProgress, ScanReport};
pub use xml::{ImageInfo, WimXml};
pub mod capture;
pub mod write;
