//! The one error type of the crate.

use std::fmt;

use wim_compress::DecodeError;

use crate::header::Compression;

/// Features of the format that this crate recognises but cannot read yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Unsupported {
    /// A pipable WIM (magic `WLPWM\0\0\0`).
    Pipable,
    /// One part of a split (spanned) set of more than one part.
    SplitSet { part_number: u16, total_parts: u16 },
    /// A resource flagged as spanning two parts of a split set.
    SpannedResource,
    /// A blob stored in another part of a split set.
    BlobInOtherPart { part_number: u16 },
    /// Applying (extracting) an image on this platform.
    ApplyOnThisPlatform,
    /// Capturing a directory tree on this platform.
    CaptureOnThisPlatform,
}

impl fmt::Display for Unsupported {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Pipable => f.write_str("pipable WIMs"),
            Self::SplitSet {
                part_number,
                total_parts,
            } => {
                write!(
                    f,
                    "split WIMs (this is part {part_number} of {total_parts})"
                )
            }
            Self::SpannedResource => f.write_str("resources spanning parts of a split WIM"),
            Self::BlobInOtherPart { part_number } => {
                write!(
                    f,
                    "blobs stored in another part (part {part_number}) of a split WIM"
                )
            }
            Self::ApplyOnThisPlatform => f.write_str("applying images on this platform"),
            Self::CaptureOnThisPlatform => f.write_str("capturing directories on this platform"),
        }
    }
}

/// Why a WIM file (or a part of one) could not be read.
///
/// Every variant except [`Error::Unsupported`] describes damaged or hostile input.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The data ends before a structure of `needed` bytes is complete.
    Truncated {
        what: &'static str,
        needed: u64,
        available: u64,
    },
    /// The file does not start with `MSWIM\0\0\0` or `WLPWM\0\0\0`.
    BadMagic([u8; 8]),
    /// The header gives a header size other than 208.
    BadHeaderSize(u32),
    /// A version other than 0x10d00 and 0xe00.
    UnknownVersion(u32),
    /// The COMPRESSION flag is set but no compression format flag is.
    MissingCompressionFormat { flags: u32 },
    /// More than one compression format flag is set.
    ConflictingCompression { flags: u32 },
    /// A chunk size that is not a power of two within the format's range.
    BadChunkSize {
        compression: Compression,
        chunk_size: u64,
    },
    /// Part number zero, or greater than the total number of parts.
    BadPartNumber { part_number: u16, total_parts: u16 },
    /// A resource (or structure) lies partly or wholly beyond the end of the file.
    OutOfFile {
        what: &'static str,
        offset: u64,
        size: u64,
        file_len: u64,
    },
    /// An uncompressed resource whose stored size is not its uncompressed size.
    UncompressedSizeMismatch {
        stored_size: u64,
        uncompressed_size: u64,
    },
    /// A resource flagged compressed in a WIM whose header names no compression.
    CompressedResourceInUncompressedWim,
    /// A size that cannot be right: the blob table is not a whole number of entries,
    /// a resource claims more data than it could hold, and the like.
    ImplausibleSize { what: &'static str, size: u64 },
    /// A chunk offset is smaller than or equal to the previous one.
    ChunkTableNotIncreasing { chunk: u64 },
    /// A chunk's stored size is zero or larger than its uncompressed size, or the chunks
    /// run past the end of the resource.
    BadChunk {
        chunk: u64,
        stored_size: u64,
        uncompressed_size: u64,
    },
    /// A solid resource header names a compression format other than 0..=3.
    UnknownSolidCompression(u32),
    /// A blob of a solid run does not fit inside one of the run's resources.
    SolidBlobOutOfRange { offset: u64, size: u64 },
    /// A metadata resource marked solid.
    SolidMetadata,
    /// A blob lies outside its resource.
    BlobOutOfRange {
        offset: u64,
        size: u64,
        resource_size: u64,
    },
    /// A chunk failed to decompress.
    Decompression { chunk: u64, source: DecodeError },
    /// The data of a blob does not hash to the SHA-1 the blob table gives.
    HashMismatch {
        expected: [u8; 20],
        actual: [u8; 20],
    },
    /// A size or offset does not fit in this machine's address space.
    TooLarge(u64),
    /// A valid feature this crate does not read yet.
    Unsupported(Unsupported),
    /// A metadata resource (security data or directory tree) that cannot be right.
    InvalidMetadata { what: &'static str, offset: u64 },
    /// The XML data is not well-formed (or not in an encoding WIMs use).
    InvalidXml { what: &'static str, offset: u64 },
    /// An image index outside 1..=count.
    NoSuchImage { index: u32, count: u32 },
    /// A file system operation failed while applying an image (`path` is relative to
    /// the target directory; `os_error` is the errno, when there is one).
    Io {
        op: &'static str,
        path: String,
        kind: std::io::ErrorKind,
        os_error: Option<i32>,
        message: String,
    },
    /// A file of an image needs a blob that the blob table does not list.
    MissingBlob { path: String, hash: [u8; 20] },
    /// The data of the file `path` could not be read (bad chunk, SHA-1 mismatch, ...).
    FileData { path: String, source: Box<Error> },
    /// Opening, sizing, listing or mapping a file failed (wrapped in [`Error::File`],
    /// which names it).
    Access {
        op: &'static str,
        kind: std::io::ErrorKind,
        message: String,
    },
    /// An error about the file at `path` (every error of [`crate::file::WimFile`] and
    /// [`crate::split::SplitSet`] is wrapped in one, so that messages name the file).
    File {
        path: std::path::PathBuf,
        source: Box<Error>,
    },
    /// A file given as part of a split set has another GUID than part 1.
    SplitGuidMismatch { part_number: u16 },
    /// A part of a split set gives another total part count than part 1.
    SplitPartCountMismatch {
        part_number: u16,
        total_parts: u16,
        expected: u16,
    },
    /// Part `part_number` of a split set of `total_parts` was not found.
    MissingPart { part_number: u16, total_parts: u16 },
    /// Two files are both part `part_number` of the set.
    DuplicatePart { part_number: u16 },
    /// A split set opened from a file that is not part 1.
    NotFirstPart { part_number: u16 },
    /// The integrity table is malformed (its size, count or chunk size cannot be right).
    InvalidIntegrityTable { what: &'static str },
}

impl Error {
    /// This error, said to be about the file at `path` (not wrapped twice).
    pub fn with_path(self, path: impl Into<std::path::PathBuf>) -> Self {
        match self {
            e @ Self::File { .. } => e,
            e => Self::File {
                path: path.into(),
                source: Box::new(e),
            },
        }
    }

    /// The error under any [`Error::File`] wrappers.
    pub fn root(&self) -> &Error {
        match self {
            Self::File { source, .. } => source.root(),
            e => e,
        }
    }

    /// An [`Error::Access`] from a `std::io::Error` of the operation `op`.
    pub fn access(op: &'static str, e: &std::io::Error) -> Self {
        Self::Access {
            op,
            kind: e.kind(),
            message: e.to_string(),
        }
    }
}

fn hex(h: &[u8; 20]) -> String {
    h.iter().map(|b| format!("{b:02x}")).collect()
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Truncated { what, needed, available } => {
                write!(f, "{what} truncated: needs {needed} bytes, {available} available")
            }
            Self::BadMagic(m) => write!(f, "not a WIM file (magic {m:02x?})"),
            Self::BadHeaderSize(n) => write!(f, "invalid WIM header size {n} (expected 208)"),
            Self::UnknownVersion(v) => write!(f, "unknown WIM version {v:#x}"),
            Self::MissingCompressionFormat { flags } => {
                write!(f, "header flags {flags:#x} say compressed but name no format")
            }
            Self::ConflictingCompression { flags } => {
                write!(f, "header flags {flags:#x} name more than one compression format")
            }
            Self::BadChunkSize { compression, chunk_size } => {
                write!(f, "invalid chunk size {chunk_size} for {compression:?}")
            }
            Self::BadPartNumber { part_number, total_parts } => {
                write!(f, "invalid part number {part_number} of {total_parts}")
            }
            Self::OutOfFile { what, offset, size, file_len } => write!(
                f,
                "{what} ({size} bytes at offset {offset}) lies beyond the end of the file ({file_len} bytes)"
            ),
            Self::UncompressedSizeMismatch { stored_size, uncompressed_size } => write!(
                f,
                "uncompressed resource has stored size {stored_size} but uncompressed size {uncompressed_size}"
            ),
            Self::CompressedResourceInUncompressedWim => {
                f.write_str("compressed resource in a WIM whose header names no compression")
            }
            Self::ImplausibleSize { what, size } => write!(f, "implausible {what}: {size}"),
            Self::ChunkTableNotIncreasing { chunk } => {
                write!(f, "chunk table offsets do not increase at chunk {chunk}")
            }
            Self::BadChunk { chunk, stored_size, uncompressed_size } => write!(
                f,
                "chunk {chunk} has invalid stored size {stored_size} (uncompressed {uncompressed_size})"
            ),
            Self::UnknownSolidCompression(c) => write!(f, "unknown solid compression format {c}"),
            Self::SolidBlobOutOfRange { offset, size } => write!(
                f,
                "solid blob of {size} bytes at offset {offset} fits in none of its run's resources"
            ),
            Self::SolidMetadata => f.write_str("metadata resource marked solid"),
            Self::BlobOutOfRange { offset, size, resource_size } => write!(
                f,
                "blob of {size} bytes at offset {offset} exceeds its resource of {resource_size} bytes"
            ),
            Self::Decompression { chunk, source } => {
                write!(f, "chunk {chunk} failed to decompress: {source}")
            }
            Self::HashMismatch { expected, actual } => write!(
                f,
                "SHA-1 mismatch: blob table says {}, data hashes to {}",
                hex(expected),
                hex(actual)
            ),
            Self::TooLarge(n) => write!(f, "size {n} does not fit in memory on this machine"),
            Self::Unsupported(u) => write!(f, "not supported yet: {u}"),
            Self::InvalidMetadata { what, offset } => {
                write!(f, "invalid metadata resource: {what} (at offset {offset})")
            }
            Self::InvalidXml { what, offset } => {
                write!(f, "invalid WIM XML data: {what} (at offset {offset})")
            }
            Self::NoSuchImage { index, count } => {
                write!(f, "no image {index} (the WIM has {count} images)")
            }
            Self::Access { op, message, .. } => write!(f, "cannot {op}: {message}"),
            Self::File { path, source } => write!(f, "{}: {source}", path.display()),
            Self::SplitGuidMismatch { part_number } => write!(
                f,
                "part {part_number} belongs to another split WIM (its GUID differs from part 1's)"
            ),
            Self::SplitPartCountMismatch { part_number, total_parts, expected } => write!(
                f,
                "part {part_number} says the set has {total_parts} parts, part 1 says {expected}"
            ),
            Self::MissingPart { part_number, total_parts } => {
                write!(f, "part {part_number} of the {total_parts}-part split WIM is missing")
            }
            Self::DuplicatePart { part_number } => {
                write!(f, "two files are part {part_number} of the split WIM")
            }
            Self::NotFirstPart { part_number } => write!(
                f,
                "this is part {part_number} of a split WIM; open the set from part 1"
            ),
            Self::InvalidIntegrityTable { what } => write!(f, "invalid integrity table: {what}"),
            Self::Io { op, path, message, .. } => write!(f, "cannot {op} \"{path}\": {message}"),
            Self::MissingBlob { path, hash } => write!(
                f,
                "the data of \"{path}\" (SHA-1 {}) is not in the WIM",
                hex(hash)
            ),
            Self::FileData { path, source } => write!(f, "data of \"{path}\": {source}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Decompression { source, .. } => Some(source),
            Self::File { source, .. } => Some(source.as_ref()),
            Self::FileData { source, .. } => Some(source.as_ref()),
            _ => None,
        }
    }
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
