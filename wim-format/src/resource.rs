//! The 24-byte resource header that locates every resource of a WIM.

use crate::bytes::{need, u64_at};
use crate::error::{Error, Result};

/// Size of a resource header on disk.
pub const RESOURCE_HEADER_SIZE: usize = 24;
/// Largest stored size the 7-byte field can hold.
pub const MAX_STORED_SIZE: u64 = (1 << 56) - 1;

/// The flags byte of a resource header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ResourceFlags(pub u8);

impl ResourceFlags {
    pub const FREE: Self = Self(0x01);
    pub const METADATA: Self = Self(0x02);
    pub const COMPRESSED: Self = Self(0x04);
    pub const SPANNED: Self = Self(0x08);
    pub const SOLID: Self = Self(0x10);

    pub const fn empty() -> Self {
        Self(0)
    }

    pub const fn bits(self) -> u8 {
        self.0
    }

    pub const fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }

    pub const fn union(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }

    pub const fn without(self, other: Self) -> Self {
        Self(self.0 & !other.0)
    }
}

impl std::ops::BitOr for ResourceFlags {
    type Output = Self;
    fn bitor(self, rhs: Self) -> Self {
        self.union(rhs)
    }
}

/// Where a resource is and how it is stored.
///
/// For a solid resource entry of the blob table, `uncompressed_size` is
/// [`crate::solid::SOLID_RESOURCE_MAGIC`] and the real size is in the resource's own
/// header; for a blob inside a solid run, `offset` is into the run's uncompressed data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ResourceHeader {
    /// Bytes the resource occupies in the file (at most [`MAX_STORED_SIZE`]).
    pub stored_size: u64,
    pub flags: ResourceFlags,
    /// Offset of the resource from the start of the file.
    pub offset: u64,
    /// Size of the resource's data once decompressed.
    pub uncompressed_size: u64,
}

impl ResourceHeader {
    /// Parses the first 24 bytes of `data`.
    pub fn parse(data: &[u8]) -> Result<Self> {
        need(data, RESOURCE_HEADER_SIZE, "resource header")?;
        let word = u64_at(data, 0);
        Ok(Self {
            stored_size: word & MAX_STORED_SIZE,
            flags: ResourceFlags((word >> 56) as u8),
            offset: u64_at(data, 8),
            uncompressed_size: u64_at(data, 16),
        })
    }

    /// The 24 bytes on disk. A stored size above [`MAX_STORED_SIZE`] is truncated to 56 bits.
    pub fn to_bytes(&self) -> [u8; RESOURCE_HEADER_SIZE] {
        let mut d = [0u8; RESOURCE_HEADER_SIZE];
        let word = (self.stored_size & MAX_STORED_SIZE) | (u64::from(self.flags.0) << 56);
        d[..8].copy_from_slice(&word.to_le_bytes());
        d[8..16].copy_from_slice(&self.offset.to_le_bytes());
        d[16..24].copy_from_slice(&self.uncompressed_size.to_le_bytes());
        d
    }

    pub fn is_compressed(&self) -> bool {
        self.flags.contains(ResourceFlags::COMPRESSED)
    }

    pub fn is_metadata(&self) -> bool {
        self.flags.contains(ResourceFlags::METADATA)
    }

    pub fn is_solid(&self) -> bool {
        self.flags.contains(ResourceFlags::SOLID)
    }

    pub fn is_spanned(&self) -> bool {
        self.flags.contains(ResourceFlags::SPANNED)
    }

    pub fn is_free(&self) -> bool {
        self.flags.contains(ResourceFlags::FREE)
    }

    /// All fields zero: how the header says "absent" (no integrity table, no boot image).
    pub fn is_absent(&self) -> bool {
        *self == Self::default()
    }

    /// The resource's stored bytes within `file`, bounds-checked.
    pub fn stored_bytes<'a>(&self, file: &'a [u8], what: &'static str) -> Result<&'a [u8]> {
        crate::bytes::range(file, self.offset, self.stored_size, what)
    }

    /// Offset just past the resource in the file.
    pub fn end(&self) -> Result<u64> {
        self.offset
            .checked_add(self.stored_size)
            .ok_or(Error::ImplausibleSize {
                what: "resource end offset",
                size: self.offset,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_layout() {
        let r = ResourceHeader {
            stored_size: 0x0012_3456_789a_bcde,
            flags: ResourceFlags::COMPRESSED | ResourceFlags::METADATA,
            offset: 0x1122_3344_5566_7788,
            uncompressed_size: 0x99,
        };
        let b = r.to_bytes();
        assert_eq!(&b[..8], &[0xde, 0xbc, 0x9a, 0x78, 0x56, 0x34, 0x12, 0x06]);
        assert_eq!(ResourceHeader::parse(&b).unwrap(), r);
        assert!(r.is_compressed() && r.is_metadata() && !r.is_solid());
        assert!(matches!(
            ResourceHeader::parse(&b[..23]),
            Err(Error::Truncated { .. })
        ));
    }

    #[test]
    fn stored_bytes_bounds() {
        let file = [0u8; 100];
        let r = ResourceHeader {
            stored_size: 10,
            offset: 95,
            ..Default::default()
        };
        assert!(matches!(
            r.stored_bytes(&file, "x"),
            Err(Error::OutOfFile { .. })
        ));
        let r = ResourceHeader {
            stored_size: 10,
            offset: u64::MAX - 2,
            ..Default::default()
        };
        assert!(matches!(
            r.stored_bytes(&file, "x"),
            Err(Error::OutOfFile { .. })
        ));
        let r = ResourceHeader {
            stored_size: 10,
            offset: 90,
            ..Default::default()
        };
        assert_eq!(r.stored_bytes(&file, "x").unwrap().len(), 10);
    }
}
