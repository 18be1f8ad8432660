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
//! Pipable WIMs and split sets are recognised and refused with
//! [`Error::Unsupported`] for now.
#![forbid(unsafe_code)]

pub use wim_compress as compress;

pub mod blob_table;
mod bytes;
pub mod chunks;
pub mod digest;
pub mod error;
pub mod header;
pub mod images;
pub mod metadata;
pub mod read;
pub mod resource;
pub mod solid;
pub mod xml;

pub use blob_table::{Blob, BlobEntry, BlobLocation, BlobTable, Sha1Hash};
pub use chunks::{ChunkDecoder, ChunkTable};
pub use error::{Error, Result, Unsupported};
pub use header::{Compression, Header, Magic};
pub use metadata::{Image, LinkReparse, Node, NodeId, Stream, StreamKind, UnixData, Xattr};
pub use read::{BlobReader, ResourceData, Wim};
pub use resource::{ResourceFlags, ResourceHeader};
pub use solid::{SolidHeader, SolidResource};
pub use xml::{ImageInfo, WimXml};
