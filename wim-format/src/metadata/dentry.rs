//! One on-disk directory entry ("dentry") and the extra stream entries after it.
//!
//! Layout (little-endian, 102 fixed bytes):
//! ```text
//!   0 u64 length (of the dentry without its extra stream entries; <= 8 ends a list)
//!   8 u32 attributes          12 i32 security id (-1: none)
//!  16 u64 subdirectory offset 24 u64 reserved      32 u64 reserved
//!  40 u64 creation time       48 u64 last access   56 u64 last write (FILETIMEs)
//!  64 [20] SHA-1 of the default stream             84 u32 unknown
//!  88 u32 reparse tag, u16 reparse reserved, u16 reparse flags   (reparse points)
//!     or u64 hard-link group id                                  (everything else)
//!  96 u16 extra stream count  98 u16 short name bytes  100 u16 name bytes
//! 102 name (UTF-16LE) + NUL if any, short name + NUL if any, then tagged items from
//!     the next multiple of 8 up to `length`.
//! ```
//! Extra stream entries follow from `offset + align8(length)`, each
//! `{u64 length, u64 reserved, [20] SHA-1, u16 name bytes, name + NUL if named}`
//! padded to 8.

use crate::blob_table::Sha1Hash;
use crate::bytes::{u16_at, u32_at, u64_at};
use crate::error::{Error, Result};

/// Fixed part of a dentry.
pub const DENTRY_FIXED_SIZE: u64 = 102;
/// Fixed part of an extra stream entry.
pub const STREAM_ENTRY_FIXED_SIZE: u64 = 38;

pub const FILE_ATTRIBUTE_READONLY: u32 = 0x1;
pub const FILE_ATTRIBUTE_HIDDEN: u32 = 0x2;
pub const FILE_ATTRIBUTE_SYSTEM: u32 = 0x4;
pub const FILE_ATTRIBUTE_DIRECTORY: u32 = 0x10;
pub const FILE_ATTRIBUTE_ARCHIVE: u32 = 0x20;
pub const FILE_ATTRIBUTE_NORMAL: u32 = 0x80;
pub const FILE_ATTRIBUTE_SPARSE_FILE: u32 = 0x200;
pub const FILE_ATTRIBUTE_REPARSE_POINT: u32 = 0x400;
pub const FILE_ATTRIBUTE_COMPRESSED: u32 = 0x800;
pub const FILE_ATTRIBUTE_ENCRYPTED: u32 = 0x4000;

/// An extra stream entry as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawStream {
    /// UTF-16 name; empty for an unnamed stream.
    pub name: Vec<u16>,
    pub hash: Sha1Hash,
}

/// A dentry as stored, fields undecoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawDentry {
    /// Offset of the dentry in the metadata resource.
    pub offset: u64,
    pub attributes: u32,
    pub security_id: i32,
    pub subdir_offset: u64,
    pub creation_time: u64,
    pub last_access_time: u64,
    pub last_write_time: u64,
    pub default_hash: Sha1Hash,
    pub unknown_0x54: u32,
    /// The 8-byte union: for reparse points `tag | reserved << 32 | flags << 48`.
    pub union_field: u64,
    pub name: Vec<u16>,
    pub short_name: Vec<u16>,
    /// Bytes from the first 8-aligned offset after the names up to `length`.
    pub tagged_area: Vec<u8>,
    pub extra_streams: Vec<RawStream>,
}

impl RawDentry {
    pub fn is_reparse_point(&self) -> bool {
        self.attributes & FILE_ATTRIBUTE_REPARSE_POINT != 0
    }

    pub fn is_directory(&self) -> bool {
        self.attributes & FILE_ATTRIBUTE_DIRECTORY != 0
    }
}

fn invalid(what: &'static str, offset: u64) -> Error {
    Error::InvalidMetadata { what, offset }
}

fn utf16(b: &[u8]) -> Vec<u16> {
    b.chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect()
}

/// Reads the dentry at `offset` of the metadata resource `buf` with its extra stream
/// entries. `Ok(None)` for an end-of-list entry; otherwise the dentry and the offset
/// of the next entry in its list.
pub fn read_dentry(buf: &[u8], offset: u64) -> Result<Option<(RawDentry, u64)>> {
    let len = buf.len() as u64;
    if offset.checked_add(8).is_none_or(|e| e > len) {
        return Err(invalid(
            "dentry starts beyond the metadata resource",
            offset,
        ));
    }
    let at = offset as usize;
    let length = u64_at(buf, at);
    if length <= 8 {
        return Ok(None);
    }
    let length = length
        .checked_next_multiple_of(8)
        .ok_or_else(|| invalid("dentry length overflows", offset))?;
    if length < DENTRY_FIXED_SIZE {
        return Err(invalid("dentry length below the fixed size", offset));
    }
    if offset.checked_add(length).is_none_or(|e| e > len) {
        return Err(invalid("dentry runs past the metadata resource", offset));
    }
    let d = &buf[at..at + length as usize];
    let num_streams = u16_at(d, 96);
    let short_nbytes = u64::from(u16_at(d, 98));
    let name_nbytes = u64::from(u16_at(d, 100));
    if (short_nbytes | name_nbytes) & 1 != 0 {
        return Err(invalid("odd UTF-16 name length", offset));
    }
    let mut pos = DENTRY_FIXED_SIZE;
    let mut take_name = |n: u64| -> Result<Vec<u16>> {
        if n == 0 {
            return Ok(Vec::new());
        }
        if pos + n + 2 > length {
            return Err(invalid("dentry names run past its length", offset));
        }
        let s = utf16(&d[pos as usize..(pos + n) as usize]);
        pos += n + 2;
        Ok(s)
    };
    let name = take_name(name_nbytes)?;
    let short_name = take_name(short_nbytes)?;
    let tagged_start = pos.next_multiple_of(8).min(length);
    let mut default_hash = [0u8; 20];
    default_hash.copy_from_slice(&d[64..84]);
    let mut dentry = RawDentry {
        offset,
        attributes: u32_at(d, 8),
        security_id: u32_at(d, 12) as i32,
        subdir_offset: u64_at(d, 16),
        creation_time: u64_at(d, 40),
        last_access_time: u64_at(d, 48),
        last_write_time: u64_at(d, 56),
        default_hash,
        unknown_0x54: u32_at(d, 84),
        union_field: u64_at(d, 88),
        name,
        short_name,
        tagged_area: d[tagged_start as usize..].to_vec(),
        extra_streams: Vec::new(),
    };
    let mut next = offset + length;
    // Each entry takes at least 40 bytes that must be in the buffer, so the count
    // cannot make us allocate more than the resource size allows.
    for _ in 0..num_streams {
        if next + STREAM_ENTRY_FIXED_SIZE > len {
            return Err(invalid(
                "extra stream entry runs past the metadata resource",
                next,
            ));
        }
        let e = next as usize;
        let slen = u64_at(buf, e)
            .checked_next_multiple_of(8)
            .ok_or_else(|| invalid("stream entry length overflows", next))?;
        if slen < STREAM_ENTRY_FIXED_SIZE || slen > len - next {
            return Err(invalid("bad extra stream entry length", next));
        }
        let mut hash = [0u8; 20];
        hash.copy_from_slice(&buf[e + 16..e + 36]);
        let nbytes = u64::from(u16_at(buf, e + 36));
        if nbytes & 1 != 0 || STREAM_ENTRY_FIXED_SIZE + nbytes > slen {
            return Err(invalid("bad extra stream name length", next));
        }
        let name_at = e + STREAM_ENTRY_FIXED_SIZE as usize;
        dentry.extra_streams.push(RawStream {
            name: utf16(&buf[name_at..name_at + nbytes as usize]),
            hash,
        });
        next += slen;
    }
    Ok(Some((dentry, next)))
}
