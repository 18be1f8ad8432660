//! The 208-byte WIM header.

use wim_compress::Codec;

use crate::bytes::{need, u16_at, u32_at};
use crate::error::{Error, Result};
use crate::resource::{ResourceHeader, RESOURCE_HEADER_SIZE};

/// Size of the WIM header on disk.
pub const HEADER_SIZE: usize = 208;
/// Magic of an ordinary WIM.
pub const MAGIC: [u8; 8] = *b"MSWIM\0\0\0";
/// Magic of a pipable WIM.
pub const PIPABLE_MAGIC: [u8; 8] = *b"WLPWM\0\0\0";
/// The usual version.
pub const VERSION_DEFAULT: u32 = 0x10d00;
/// The version that allows solid resources (and that LZMS WIMs carry).
pub const VERSION_SOLID: u32 = 0xe00;

/// Header flag bits.
pub mod flags {
    pub const RESERVED: u32 = 0x1;
    pub const COMPRESSION: u32 = 0x2;
    pub const READONLY: u32 = 0x4;
    pub const SPANNED: u32 = 0x8;
    pub const RESOURCE_ONLY: u32 = 0x10;
    pub const METADATA_ONLY: u32 = 0x20;
    pub const WRITE_IN_PROGRESS: u32 = 0x40;
    pub const RP_FIX: u32 = 0x80;
    pub const COMPRESS_RESERVED: u32 = 0x10000;
    pub const COMPRESS_XPRESS: u32 = 0x20000;
    pub const COMPRESS_LZX: u32 = 0x40000;
    pub const COMPRESS_LZMS: u32 = 0x80000;
    /// Every bit that names or announces a compression format.
    pub const ALL_COMPRESSION: u32 = COMPRESSION | COMPRESS_XPRESS | COMPRESS_LZX | COMPRESS_LZMS;
}

/// The compression format of a WIM or of a solid resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Compression {
    None,
    Xpress,
    Lzx,
    Lzms,
}

impl Compression {
    /// The codec, or `None` for uncompressed data.
    pub fn codec(self) -> Option<Codec> {
        match self {
            Self::None => None,
            Self::Xpress => Some(Codec::Xpress),
            Self::Lzx => Some(Codec::Lzx),
            Self::Lzms => Some(Codec::Lzms),
        }
    }

    /// The number a solid resource header uses for this format.
    pub fn solid_format(self) -> u32 {
        match self {
            Self::None => 0,
            Self::Xpress => 1,
            Self::Lzx => 2,
            Self::Lzms => 3,
        }
    }

    /// The format a solid resource header's number names.
    pub fn from_solid_format(n: u32) -> Result<Self> {
        Ok(match n {
            0 => Self::None,
            1 => Self::Xpress,
            2 => Self::Lzx,
            3 => Self::Lzms,
            _ => return Err(Error::UnknownSolidCompression(n)),
        })
    }

    /// The header flag bits that announce this format.
    pub fn header_flags(self) -> u32 {
        match self {
            Self::None => 0,
            Self::Xpress => flags::COMPRESSION | flags::COMPRESS_XPRESS,
            Self::Lzx => flags::COMPRESSION | flags::COMPRESS_LZX,
            Self::Lzms => flags::COMPRESSION | flags::COMPRESS_LZMS,
        }
    }

    /// Smallest and largest chunk sizes the format allows (both powers of two).
    /// Uncompressed data has no chunks; for it the range is that of any codec.
    pub fn chunk_size_range(self) -> (u32, u32) {
        match self {
            Self::Xpress => (1 << 12, 1 << 16),
            Self::Lzx => (1 << 15, 1 << 21),
            Self::Lzms => (1 << 15, 1 << 30),
            Self::None => (1 << 12, 1 << 30),
        }
    }

    /// Whether `chunk_size` is a power of two within [`Self::chunk_size_range`].
    pub fn is_valid_chunk_size(self, chunk_size: u64) -> bool {
        let (lo, hi) = self.chunk_size_range();
        chunk_size.is_power_of_two() && chunk_size >= u64::from(lo) && chunk_size <= u64::from(hi)
    }

    /// Checks a chunk size, as [`Error::BadChunkSize`].
    pub fn check_chunk_size(self, chunk_size: u64) -> Result<()> {
        if self.is_valid_chunk_size(chunk_size) {
            Ok(())
        } else {
            Err(Error::BadChunkSize {
                compression: self,
                chunk_size,
            })
        }
    }

    /// The compression named by header flags.
    pub fn from_header_flags(f: u32) -> Result<Self> {
        if f & flags::COMPRESSION == 0 {
            // Format bits without the COMPRESSION bit carry no meaning.
            return Ok(Self::None);
        }
        let named = [
            (flags::COMPRESS_XPRESS, Self::Xpress),
            (flags::COMPRESS_LZX, Self::Lzx),
            (flags::COMPRESS_LZMS, Self::Lzms),
        ];
        let mut found = None;
        for (bit, c) in named {
            if f & bit != 0 {
                if found.is_some() {
                    return Err(Error::ConflictingCompression { flags: f });
                }
                found = Some(c);
            }
        }
        found.ok_or(Error::MissingCompressionFormat { flags: f })
    }
}

/// Which of the two magics a file starts with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Magic {
    /// `MSWIM\0\0\0`
    Standard,
    /// `WLPWM\0\0\0`: a pipable WIM, whose layout differs.
    Pipable,
}

impl Magic {
    pub fn bytes(self) -> [u8; 8] {
        match self {
            Self::Standard => MAGIC,
            Self::Pipable => PIPABLE_MAGIC,
        }
    }
}

/// A parsed WIM header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub magic: Magic,
    /// [`VERSION_DEFAULT`] or [`VERSION_SOLID`].
    pub version: u32,
    /// All flag bits as stored (see [`flags`]). When serialising, the compression
    /// bits are taken from [`Header::compression`] instead.
    pub flags: u32,
    /// The compression named by the flags.
    pub compression: Compression,
    /// Uncompressed size of the chunks of non-solid compressed resources. Zero (or
    /// anything) when the WIM is uncompressed: it is validated only for compressed WIMs.
    pub chunk_size: u32,
    pub guid: [u8; 16],
    /// 1-based number of this part of a split set; 1 when not split.
    pub part_number: u16,
    pub total_parts: u16,
    pub image_count: u32,
    pub blob_table: ResourceHeader,
    pub xml: ResourceHeader,
    /// Metadata resource of the bootable image, or all zeroes.
    pub boot_metadata: ResourceHeader,
    /// 1-based index of the bootable image, or 0.
    pub boot_index: u32,
    /// The integrity table, or all zeroes.
    pub integrity: ResourceHeader,
}

const OFF_BLOB_TABLE: usize = 48;
const OFF_XML: usize = OFF_BLOB_TABLE + RESOURCE_HEADER_SIZE;
const OFF_BOOT_METADATA: usize = OFF_XML + RESOURCE_HEADER_SIZE;
const OFF_BOOT_INDEX: usize = OFF_BOOT_METADATA + RESOURCE_HEADER_SIZE;
const OFF_INTEGRITY: usize = OFF_BOOT_INDEX + 4;

impl Header {
    /// A header for a new single-part WIM with no images or resources yet.
    pub fn new(compression: Compression, chunk_size: u32, guid: [u8; 16]) -> Self {
        let version = if compression == Compression::Lzms {
            VERSION_SOLID
        } else {
            VERSION_DEFAULT
        };
        Self {
            magic: Magic::Standard,
            version,
            flags: compression.header_flags(),
            compression,
            chunk_size: if compression == Compression::None {
                0
            } else {
                chunk_size
            },
            guid,
            part_number: 1,
            total_parts: 1,
            image_count: 0,
            blob_table: ResourceHeader::default(),
            xml: ResourceHeader::default(),
            boot_metadata: ResourceHeader::default(),
            boot_index: 0,
            integrity: ResourceHeader::default(),
        }
    }

    /// Parses and validates the header at the start of `data` (the file or its first
    /// 208 bytes).
    pub fn parse(data: &[u8]) -> Result<Self> {
        need(data, 8, "WIM header")?;
        let mut m = [0u8; 8];
        m.copy_from_slice(&data[..8]);
        let magic = match m {
            MAGIC => Magic::Standard,
            PIPABLE_MAGIC => Magic::Pipable,
            _ => return Err(Error::BadMagic(m)),
        };
        need(data, HEADER_SIZE, "WIM header")?;
        let d = &data[..HEADER_SIZE];
        let header_size = u32_at(d, 8);
        if header_size as usize != HEADER_SIZE {
            return Err(Error::BadHeaderSize(header_size));
        }
        let version = u32_at(d, 12);
        if version != VERSION_DEFAULT && version != VERSION_SOLID {
            return Err(Error::UnknownVersion(version));
        }
        let flags = u32_at(d, 16);
        let compression = Compression::from_header_flags(flags)?;
        let chunk_size = u32_at(d, 20);
        if compression != Compression::None {
            compression.check_chunk_size(u64::from(chunk_size))?;
        }
        let mut guid = [0u8; 16];
        guid.copy_from_slice(&d[24..40]);
        let part_number = u16_at(d, 40);
        let total_parts = u16_at(d, 42);
        if part_number == 0 || total_parts == 0 || part_number > total_parts {
            return Err(Error::BadPartNumber {
                part_number,
                total_parts,
            });
        }
        let image_count = u32_at(d, 44);
        if image_count >= i32::MAX as u32 {
            return Err(Error::ImplausibleSize {
                what: "image count",
                size: u64::from(image_count),
            });
        }
        Ok(Self {
            magic,
            version,
            flags,
            compression,
            chunk_size,
            guid,
            part_number,
            total_parts,
            image_count,
            blob_table: ResourceHeader::parse(&d[OFF_BLOB_TABLE..])?,
            xml: ResourceHeader::parse(&d[OFF_XML..])?,
            boot_metadata: ResourceHeader::parse(&d[OFF_BOOT_METADATA..])?,
            boot_index: u32_at(d, OFF_BOOT_INDEX),
            integrity: ResourceHeader::parse(&d[OFF_INTEGRITY..])?,
        })
    }

    /// The header as 208 bytes (the 60 unused bytes zero).
    pub fn to_bytes(&self) -> [u8; HEADER_SIZE] {
        let mut d = [0u8; HEADER_SIZE];
        d[..8].copy_from_slice(&self.magic.bytes());
        d[8..12].copy_from_slice(&(HEADER_SIZE as u32).to_le_bytes());
        d[12..16].copy_from_slice(&self.version.to_le_bytes());
        let f = (self.flags & !flags::ALL_COMPRESSION) | self.compression.header_flags();
        d[16..20].copy_from_slice(&f.to_le_bytes());
        d[20..24].copy_from_slice(&self.chunk_size.to_le_bytes());
        d[24..40].copy_from_slice(&self.guid);
        d[40..42].copy_from_slice(&self.part_number.to_le_bytes());
        d[42..44].copy_from_slice(&self.total_parts.to_le_bytes());
        d[44..48].copy_from_slice(&self.image_count.to_le_bytes());
        let rh = |d: &mut [u8; HEADER_SIZE], at: usize, r: &ResourceHeader| {
            d[at..at + RESOURCE_HEADER_SIZE].copy_from_slice(&r.to_bytes());
        };
        rh(&mut d, OFF_BLOB_TABLE, &self.blob_table);
        rh(&mut d, OFF_XML, &self.xml);
        rh(&mut d, OFF_BOOT_METADATA, &self.boot_metadata);
        d[OFF_BOOT_INDEX..OFF_BOOT_INDEX + 4].copy_from_slice(&self.boot_index.to_le_bytes());
        rh(&mut d, OFF_INTEGRITY, &self.integrity);
        d
    }

    /// Whether the header allows solid resources.
    pub fn allows_solid(&self) -> bool {
        self.version == VERSION_SOLID
    }

    /// Whether this file is one part of a split set of several.
    pub fn is_split(&self) -> bool {
        self.total_parts > 1
    }

    pub fn has_flag(&self, flag: u32) -> bool {
        self.flags & flag != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resource::ResourceFlags;

    fn sample() -> Header {
        let mut h = Header::new(Compression::Lzx, 32768, [7; 16]);
        h.image_count = 2;
        h.flags |= flags::RP_FIX;
        h.blob_table = ResourceHeader {
            stored_size: 500,
            flags: ResourceFlags::METADATA,
            offset: 1000,
            uncompressed_size: 500,
        };
        h.xml = ResourceHeader {
            stored_size: 300,
            flags: ResourceFlags::empty(),
            offset: 1500,
            uncompressed_size: 300,
        };
        h.boot_index = 1;
        h.integrity = ResourceHeader {
            stored_size: (1 << 56) - 1,
            flags: ResourceFlags::COMPRESSED,
            offset: u64::MAX,
            uncompressed_size: 1 << 40,
        };
        h
    }

    #[test]
    fn round_trip() {
        let h = sample();
        let b = h.to_bytes();
        assert_eq!(&b[..8], b"MSWIM\0\0\0");
        let p = Header::parse(&b).unwrap();
        assert_eq!(p, h);
        assert_eq!(p.to_bytes(), b);
    }

    #[test]
    fn rejects_bad_input() {
        let b = sample().to_bytes();
        assert!(matches!(
            Header::parse(&b[..100]),
            Err(Error::Truncated { .. })
        ));
        assert!(matches!(
            Header::parse(&b[..3]),
            Err(Error::Truncated { .. })
        ));
        let mut x = b;
        x[0] = b'X';
        assert!(matches!(Header::parse(&x), Err(Error::BadMagic(_))));
        let mut x = b;
        x[8] = 200;
        assert_eq!(Header::parse(&x), Err(Error::BadHeaderSize(200)));
        let mut x = b;
        x[12..16].copy_from_slice(&0x10b00u32.to_le_bytes());
        assert_eq!(Header::parse(&x), Err(Error::UnknownVersion(0x10b00)));
        let mut x = b;
        x[16..20].copy_from_slice(
            &(flags::COMPRESSION | flags::COMPRESS_LZX | flags::COMPRESS_XPRESS).to_le_bytes(),
        );
        assert!(matches!(
            Header::parse(&x),
            Err(Error::ConflictingCompression { .. })
        ));
        let mut x = b;
        x[16..20].copy_from_slice(&flags::COMPRESSION.to_le_bytes());
        assert!(matches!(
            Header::parse(&x),
            Err(Error::MissingCompressionFormat { .. })
        ));
        for bad in [0u32, 4096, 32769, 1 << 22] {
            let mut x = b;
            x[20..24].copy_from_slice(&bad.to_le_bytes());
            assert!(
                matches!(Header::parse(&x), Err(Error::BadChunkSize { .. })),
                "{bad}"
            );
        }
        let mut x = b;
        x[40..42].copy_from_slice(&3u16.to_le_bytes());
        assert!(matches!(
            Header::parse(&x),
            Err(Error::BadPartNumber { .. })
        ));
    }

    #[test]
    fn uncompressed_ignores_chunk_size_and_pipable_parses() {
        let mut h = Header::new(Compression::None, 0, [1; 16]);
        h.magic = Magic::Pipable;
        let mut b = h.to_bytes();
        b[20..24].copy_from_slice(&12345u32.to_le_bytes());
        let p = Header::parse(&b).unwrap();
        assert_eq!(p.magic, Magic::Pipable);
        assert_eq!(p.compression, Compression::None);
    }

    #[test]
    fn chunk_size_ranges() {
        assert!(Compression::Xpress.is_valid_chunk_size(4096));
        assert!(!Compression::Xpress.is_valid_chunk_size(131072));
        assert!(Compression::Lzx.is_valid_chunk_size(1 << 21));
        assert!(!Compression::Lzx.is_valid_chunk_size(1 << 14));
        assert!(Compression::Lzms.is_valid_chunk_size(1 << 30));
        assert!(!Compression::Lzms.is_valid_chunk_size(3 << 20));
    }
}
